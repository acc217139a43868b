/*
 * sources.h - a build's source tree: a git repository fetched into a local
 * mirror and checked out, or a small inline tree carried by the project.
 *
 * Git (libgit2):
 * - Each project has one bare mirror (DIR/git/<project-id>/mirror.git) with the
 *   remote "origin" at the project's url. A fetch updates the url when it
 *   changed, force-fetches every branch and tag with prune, and points
 *   the mirror's HEAD at the remote's default branch.
 * - Fetches of one mirror are serialised by an flock on "<mirror>.lock"
 *   (threads and processes alike); different mirrors run in parallel. The
 *   lock is held through the checkout, so no recovery of the mirror can
 *   pull objects away from a checkout in progress.
 * - A mirror that cannot be opened or is found damaged is removed and
 *   cloned afresh, once per fetch. A mirror created by a fetch that then
 *   could not reach the url is removed again.
 * - The remote is fetched as it is named: url rewrites (insteadOf) and
 *   credentials helpers play no part; there are no credentials callbacks,
 *   so a remote that asks for them fails at once.
 * - The checkout walks the commit's tree itself and writes only regular
 *   files (0644, or 0755 when executable), directories and symbolic links
 *   whose targets stay inside the tree, never outside dest_dir and never a
 *   .git entry. Submodules are refused. Limits bound its files and bytes.
 * - mg_sources_global_init() must run once per process before any fetch.
 *   It also makes libgit2 ignore the user's and the system's git
 *   configuration, so the daemon fetches the same way whoever runs it.
 *   Each fetch opens its own repository objects, so fetches may run on
 *   several threads at once.
 *
 * Inline sources: a JSON object {"path": "content", ...} checked against
 * path rules and size limits, written byte-exact under a directory, and
 * named by a SHA-256 over the sorted (path, content) pairs.
 *
 * Errors follow base/err.h: 0 or -1 and an mg_err with one line a user can
 * act on; URLs in messages and log lines have their credentials masked.
 */
#ifndef MG_DAEMON_SOURCES_H
#define MG_DAEMON_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

/* The path of a local repository url (a path, or file:// percent-decoded),
 * malloc'd; NULL for a remote or invalid url. */
char *mg_sources_local_path(const char *url);

#define MG_SOURCES_DEFAULT_MAX_FILES 100000u
#define MG_SOURCES_DEFAULT_MAX_BYTES (256u * 1024 * 1024)
/* Deepest directory nesting a checkout accepts. */
#define MG_SOURCES_MAX_DEPTH 64
/* Limits of inline trees (besides the caller's byte limit). Content is
 * what cJSON holds: a string with "\u0000" in it ends there. */
#define MG_SOURCES_INLINE_MAX_FILES 10000u
#define MG_SOURCES_INLINE_MAX_PATH 1024u

/* Options of one fetch. Zero-initialise, then set what you need: fields
 * may be added at the end, and zero always means the default. */
typedef struct mg_sources_fetch_options {
    const char *mirror_dir; /* the bare mirror; created on first use */
    const char *url;        /* the project's repository */
    const char *ref;        /* NULL or "": the remote's default branch */
    const char *dest_dir;   /* an existing, empty directory */
    /* Receives human-readable lines (no newline) of progress; may be NULL. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    /* When it becomes nonzero, the fetch stops soon and fails with
     * MG_E_CANCELLED. May be NULL. */
    const volatile int *cancel;
    /* Whether local paths and file:// URLs are accepted. */
    bool allow_local;
    uint64_t max_files; /* files, links and directories of the checkout; 0: the default */
    uint64_t max_bytes; /* bytes of the checkout; 0: the default */
} mg_sources_fetch_options;

typedef struct mg_sources_result {
    char commit[41];    /* the commit checked out, 40 lowercase hex digits */
    char tree[41];      /* its tree */
    char ref_name[256]; /* the full name the ref resolved through ("refs/heads/main"),
                           "" when it was given as a commit id */
    uint64_t files;     /* regular files and links written */
    uint64_t bytes;     /* their content */
} mg_sources_result;

/* Initialises libgit2 (counted: each call needs one shutdown). Returns 0,
 * or -1 with a message. */
int mg_sources_global_init(mg_err *err);
void mg_sources_global_shutdown(void);

/* Fetches o->url into o->mirror_dir, resolves o->ref and checks the commit
 * out into o->dest_dir. Returns 0 with *out filled, or -1 with a message
 * and a code: MG_E_CANCELLED when o->cancel stopped it, MG_E_INVALID or
 * MG_E_NOT_FOUND for a url, a ref or a tree that cannot be used,
 * MG_E_LIMIT, MG_E_IO; dest_dir may then hold part of a checkout.
 *
 * Refs: NULL or "" (the remote's HEAD), a full commit id (which must be in
 * the mirror after the fetch), "refs/..." full names, a branch name, a tag
 * name (a branch wins over a tag of the same name; annotated tags are
 * peeled to their commit), or a unique commit id prefix of at least 7 hex
 * digits. */
int mg_sources_fetch(const mg_sources_fetch_options *o, mg_sources_result *out, mg_err *err);

/* Validates an inline tree: an object of string values, at most max_bytes
 * of content and MG_SOURCES_INLINE_MAX_FILES files; paths relative,
 * '/'-separated, valid UTF-8 without control characters or backslashes, no
 * empty, "." or ".." segment, no segment longer than 255 bytes, at most
 * MG_SOURCES_INLINE_MAX_PATH bytes, nothing inside ".git", no path twice
 * and no path that is both a file and a directory of another. Returns 0,
 * or -1 with a message naming the path ("sources: path '../x' leaves the
 * project"). */
int mg_sources_inline_check(const cJSON *sources, size_t max_bytes, mg_err *err);

/* The content hash of an inline tree (which must pass the check): the
 * SHA-256 hex of the pairs sorted by path, each as 8-byte big-endian
 * length and bytes of the path, then of the content. The same tree gives
 * the same hash whatever the member order. Returns 0, or -1 with a message
 * when the tree does not pass the check. */
int mg_sources_inline_hash(const cJSON *sources, char hash_out[65], mg_err *err);

/* Checks the tree (every rule but the byte limit), writes it under
 * dest_dir (an existing, empty directory; files 0644, missing directories
 * 0755) and, when hash_out is not NULL, stores its hash there. Returns 0,
 * or -1 with a message. */
int mg_sources_inline_write(const cJSON *sources, const char *dest_dir, char hash_out[65],
                            mg_err *err);

#endif
