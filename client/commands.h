/*
 * commands.h - mgctl's commands: one function per command of
 * docs/mgctl.md, and the table that names them, declares their
 * options and documents them for --help and for shell completion.
 */
#ifndef MG_CLIENT_COMMANDS_H
#define MG_CLIENT_COMMANDS_H

#include "base/opt.h"
#include "client/ctl.h"

typedef struct mg_command {
    const char *name;       /* "build", "project create" */
    const char *positional; /* "P", "NAME", "P FILE", "" */
    int min_positional, max_positional;
    const char *summary;
    const mg_option *options;
    int (*run)(mg_ctl *c);
    bool offline; /* needs no server (completion, help) */
} mg_command;

extern const mg_command mg_commands[];
extern const mg_option mg_global_options[];

int mg_cmd_targets(mg_ctl *c);
int mg_cmd_devices(mg_ctl *c);
int mg_cmd_version(mg_ctl *c);
int mg_cmd_whoami(mg_ctl *c);
int mg_cmd_project_create(mg_ctl *c);
int mg_cmd_project_list(mg_ctl *c);
int mg_cmd_project_show(mg_ctl *c);
int mg_cmd_project_delete(mg_ctl *c);
int mg_cmd_config_push(mg_ctl *c);
int mg_cmd_config_show(mg_ctl *c);
int mg_cmd_check(mg_ctl *c);
int mg_cmd_graph(mg_ctl *c);
int mg_cmd_build(mg_ctl *c);
int mg_cmd_rebuild(mg_ctl *c);
int mg_cmd_builds(mg_ctl *c);
int mg_cmd_status(mg_ctl *c);
int mg_cmd_log(mg_ctl *c);
int mg_cmd_image(mg_ctl *c);
int mg_cmd_cancel(mg_ctl *c);
int mg_cmd_pin(mg_ctl *c);
int mg_cmd_unpin(mg_ctl *c);
int mg_cmd_completion(mg_ctl *c);

/* Candidates for completing `words` (the command line after "mgctl" up to
 * the cursor, the last one being completed), one per line on stdout;
 * "@file" or "@dir" asks the shell for paths. With `describe`, a command's
 * or option's line adds a tab and what it is (for zsh and fish). */
void mg_complete(int nwords, char *const *words, bool describe);

#endif
