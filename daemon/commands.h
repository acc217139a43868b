/*
 * commands.h - the subcommands of the mgd binary.
 *
 * Each takes the arguments after its name and returns the process exit
 * status: 0 success, 1 the work failed, 2 usage error (docs/cli.md).
 */
#ifndef MG_DAEMON_COMMANDS_H
#define MG_DAEMON_COMMANDS_H

int mg_cmd_describe(int argc, char **argv);
int mg_cmd_build(int argc, char **argv);
int mg_cmd_run(int argc, char **argv);
int mg_cmd_cache(int argc, char **argv);
/* In mgd-serve.so, which main.c loads when they run: */
int mg_cmd_serve(int argc, char **argv);
int mg_cmd_token(int argc, char **argv);
/* `mgd worker`: a pull worker of a coordinator (cmd_worker.c). */
int mg_cmd_worker(int argc, char **argv);
/* `mgd gc`: retention offline (cmd_gc.c). */
int mg_cmd_gc(int argc, char **argv);
/* `mgd __fetch`: the daemon's fetch process (cmd_fetch.c). */
int mg_cmd_fetch(int argc, char **argv);

#endif
