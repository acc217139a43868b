/*
 * ctl.h - what mgctl's commands share: the connection, the options of the
 * command line, and the few ways a command talks to the server and to the
 * user.
 *
 * Exit statuses (docs/mgctl.md): 0 done; 1 the work failed (a build
 * failed, a config does not resolve: the server's 422); 2 a usage error,
 * an error answer of the server, or a server that cannot be reached; 3 a
 * build was cancelled or interrupted. Server errors are printed as
 * `mgctl: CODE: message` with one more line per detail (path, message,
 * code), never as raw HTTP.
 */
#ifndef MG_CLIENT_CTL_H
#define MG_CLIENT_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/opt.h"
#include "base/buf.h"
#include "client/rest.h"

enum {
    MG_EXIT_OK = 0,
    MG_EXIT_FAILED = 1,
    MG_EXIT_USAGE = 2, /* also API and connection errors */
    MG_EXIT_CANCELLED = 3,
};

typedef struct mg_ctl {
    mg_rest rest;
    const mg_args *args;
    const char *command; /* "project create", for messages */
    bool json;           /* --json: machine output on stdout */
    bool has_token;
} mg_ctl;

/* Prints "mgctl: <message>" on stderr; returns MG_EXIT_USAGE. */
int mg_ctl_fail(const mg_ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the server's error answer; returns MG_EXIT_FAILED for a config
 * that does not resolve (422), else MG_EXIT_USAGE. */
int mg_ctl_api_error(const mg_ctl *c, const mg_rest_response *resp);

/* Sends a request and wants a 2xx answer. Returns 0 with the answer in
 * `resp` (and, when `json` is not NULL and the answer has a body, that
 * body parsed), or an exit status after printing what went wrong. */
int mg_ctl_call(mg_ctl *c, const char *method, const char *path, const char *body,
                mg_rest_response *resp, cJSON **json);

/* GETs `path` and prints the answer: as it came with --json, else
 * through `human` (given the parsed document). Returns 0 or an exit
 * status. */
int mg_ctl_show(mg_ctl *c, const char *path, void (*human)(const cJSON *doc));

/* Every item of a paginated list (following rel="next"), at most `limit`
 * (0: all). Returns 0 with a new array in `*items`, or an exit status. */
int mg_ctl_list(mg_ctl *c, const char *path, int limit, cJSON **items);

/* A path from pieces: `fmt` with %s for segments (percent-encoded) and %q
 * for query values (the same), %d for long long; malloc'd string in
 * `out->data`. */
void mg_ctl_path(mg_buf *out, const char *fmt, ...);

/* Prints JSON text on stdout as the server sent it, with a final newline. */
void mg_ctl_print_raw(const char *text, size_t len);
/* Prints a JSON value on stdout, indented. */
void mg_ctl_print_json(const cJSON *v);

/* Members of a JSON object, NULL or `dflt` when absent or of another type
 * (a number beyond what a long long holds counts as another type). */
const char *mg_json_str(const cJSON *obj, const char *name);
long long mg_json_int(const cJSON *obj, const char *name, long long dflt);
bool mg_json_has(const cJSON *obj, const char *name); /* present and not null */

/* For people: "18.3 KiB", "4.2 s", "sha256 f3d013f2a1b0" (12 digits). */
void mg_fmt_size(long long bytes, char *buf, size_t size);
void mg_fmt_duration(long long ms, char *buf, size_t size);

/* Parses "--key k=v" values into a JSON object of strings; NULL with a
 * message printed when one is malformed. */
cJSON *mg_ctl_keys(mg_ctl *c);

/* The body of a check or build request from --target, --arch, --ref,
 * --key (and --force when `with_force`): {"target", "arch", "keys", "ref",
 * "force"} with only what was given. NULL after printing an error. */
char *mg_ctl_resolve_request(mg_ctl *c, bool with_force);

/* Reads a whole file (up to `max` bytes). NULL with `err` set. */
char *mg_read_file(const char *path, size_t max, size_t *len, mg_err *err);

/* A file written whole or not at all: bytes go to a temporary file beside
 * `path`, which replaces `path` on commit. "-" is stdout. */
typedef struct mg_outfile {
    FILE *f;
    char *path;
    char *tmp; /* NULL for stdout */
} mg_outfile;

int mg_outfile_open(mg_outfile *o, const char *path, mg_err *err);
/* Flushes, sets `mode`, renames. Returns 0 or -1 with `err` set (the
 * temporary file is removed). */
int mg_outfile_commit(mg_outfile *o, int mode, mg_err *err);
void mg_outfile_abort(mg_outfile *o);

#endif
