/*
 * tree.h - a project directory read into inline sources, the
 * {"path": "content"} object of POST /projects and PATCH /projects/:id.
 *
 * Every regular file under the directory becomes a member, its path
 * relative and '/'-separated, in sorted order, except: `.git` and other
 * directories or files whose name starts with '.', `dist/` at the top (what
 * `mgd build` writes), and the file named by `skip` (the config document,
 * sent on its own). Symbolic links are refused rather than followed, so
 * what is sent is what is in the directory. The API carries sources as
 * JSON strings: a file that is not UTF-8 text is an error that names it.
 */
#ifndef MG_CLIENT_TREE_H
#define MG_CLIENT_TREE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/err.h"

/* More than this is no "small inline tree": the daemon refuses trees over
 * 1 MiB unless started with a larger --max-sources. */
#define MG_TREE_MAX_BYTES (64u << 20)
#define MG_TREE_MAX_FILES 10000

/* Reads `dir` into a new JSON object; `skip` is a path (as given on the
 * command line) to leave out, or NULL. Returns NULL with a message in
 * `err`. `*bytes` and `*files` receive the totals. */
cJSON *mg_tree_read(const char *dir, const char *skip, size_t *files, size_t *bytes, mg_err *err);

/* Whether `s[0..len)` is valid UTF-8 without NUL bytes. */
int mg_tree_is_text(const char *s, size_t len);

#endif
