/*
 * store.h - the daemon's durable state in SQLite: projects, config
 * versions, builds (the queue is the builds table), logs index, artifacts,
 * tokens, and retention (a project's own, pins, the blobs gc has still to
 * unpin: daemon/gc.h).
 *
 * One database file (DATA/mgd.sqlite3) opened in WAL mode with
 * foreign_keys on and a busy timeout. An mg_store is shared by every
 * thread; each thread gets its own connection on first use (SQLite
 * connections must not be used by two threads at once), and each
 * connection keeps its prepared statements, so a request costs no parse.
 * Writes are short `BEGIN IMMEDIATE` transactions: readers never block
 * writers for long, and a writer never upgrades a read lock (the deadlock
 * that a deferred transaction risks under WAL).
 *
 * The schema carries `PRAGMA application_id` (so mgd never migrates some
 * other program's database) and `user_version`, the number of the last
 * migration applied; migrations are numbered SQL scripts applied in order
 * in one transaction each. A newer database than this mgd knows is refused.
 *
 * Failures follow base/err.h: a function returns 0 (an id, or a pointer)
 * on success and -1 (or NULL) on failure, filling the mg_err it was given:
 * MG_E_NOT_FOUND (no such row), MG_E_CONFLICT (a name taken, a build in
 * the wrong state), MG_E_LIMIT (the queue is full), MG_E_NOSPACE with a
 * message "database: database or disk is full" (SQLITE_FULL, or an I/O
 * error whose system error was ENOSPC) or MG_E_IO with a message
 * "database: ..." (SQLite failed otherwise). A failed write transaction
 * leaves nothing of itself. Strings in returned records are owned by the
 * record and freed by its _free function.
 */
#ifndef MG_DAEMON_STORE_H
#define MG_DAEMON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct mg_store mg_store;

/* Opens (creating and migrating) the database; runs PRAGMA quick_check
 * when `check` is set. NULL with `e` filled (MG_E_IO; MG_E_CORRUPT when
 * quick_check finds damage). */
mg_store *mg_store_open(const char *path, bool check, mg_err *e);
void mg_store_close(mg_store *s);
/* Closes the calling thread's connection (a thread that ends calls it). */
void mg_store_thread_done(mg_store *s);

/* ---- projects ---------------------------------------------------------- */

typedef struct mg_project {
    int64_t id;
    char *name;
    char *repo_url, *repo_ref; /* NULL for inline sources */
    char *sources;             /* inline tree as canonical JSON, NULL for git */
    char *sources_sha256;      /* sha256 of the bytes of `sources` (its snapshot blob's name) */
    int64_t sources_files, sources_bytes;
    int64_t config_version;         /* latest; 0 when none */
    int64_t created_at, updated_at; /* unix ms */
    /* its own retention: finished builds kept per (target, arch), 0 all;
     * -1: the daemon's (--keep-builds) */
    int64_t keep_builds;
} mg_project;

void mg_project_free(mg_project *p);
void mg_projects_free(mg_project *ps, size_t n);

/* Creates a project with its first config version (canonical JSON).
 * Returns the new id; -1 with MG_E_CONFLICT when the name is taken. */
int64_t mg_store_project_create(mg_store *s, const mg_project *p, const char *config,
                                const char *config_sha256, mg_err *e);
/* By numeric id when `ref` is all digits, else by name. */
int mg_store_project_get(mg_store *s, const char *ref, mg_project *out, mg_err *e);
int mg_store_project_get_id(mg_store *s, int64_t id, mg_project *out, mg_err *e);
/* Replaces repo_url/repo_ref/sources* with those of `p` (by p->id). */
int mg_store_project_update_sources(mg_store *s, const mg_project *p, mg_err *e);
/* The first step of deleting a project, in one transaction: marks it as
 * being deleted, so that mg_store_build_create answers MG_E_NOT_FOUND
 * for it from now on, and cancels every queued and running build of it in
 * one statement (no worker can claim them any more). *builds gets the ids
 * of all its builds, ascending (malloc'd; whatever their status: a worker
 * may still hold one, and each has a log); *cancelled (may be NULL) how
 * many were cancelled now. A project already being deleted may begin
 * again (a retry after a failed delete). MG_E_NOT_FOUND when there is
 * no such project. */
int mg_store_project_delete_begin(mg_store *s, int64_t id, int64_t **builds, size_t *n_builds,
                                  int64_t *cancelled, mg_err *e);
/* The ids of projects whose delete began but did not end (the daemon
 * stopped, or the delete failed): ascending, malloc'd. */
int mg_store_project_list_deleting(mg_store *s, int64_t **ids, size_t *n, mg_err *e);
/* Deletes the project and everything that hangs off it; returns the
 * sha256s of blobs nothing remaining references: images of its builds and
 * the snapshots of their inline sources (the caller drops their pins). */
int mg_store_project_delete(mg_store *s, int64_t id, char ***orphans, size_t *n_orphans, mg_err *e);
/* Page `offset, limit` by id; *total gets the count. The projects come
 * without `sources` (the tree itself; its sha256 and counts are there). */
int mg_store_project_list(mg_store *s, int64_t offset, int64_t limit, mg_project **out, size_t *n,
                          int64_t *total, mg_err *e);

/* ---- config versions --------------------------------------------------- */

typedef struct mg_config_version {
    int64_t project_id, version;
    char *document; /* canonical JSON */
    char *sha256;
    int64_t created_at; /* unix ms */
} mg_config_version;

void mg_config_version_free(mg_config_version *c);
/* Stores a new version unless identical (same sha256) to the latest;
 * *version gets the version and *created whether it is new. */
int mg_store_config_put(mg_store *s, int64_t project_id, const char *document, const char *sha256,
                        int64_t *version, bool *created, mg_err *e);
/* version 0: the latest. */
int mg_store_config_get(mg_store *s, int64_t project_id, int64_t version, mg_config_version *out,
                        mg_err *e);
/* Newest first, without documents. */
int mg_store_config_list(mg_store *s, int64_t project_id, int64_t offset, int64_t limit,
                         mg_config_version **out, size_t *n, int64_t *total, mg_err *e);

/* ---- builds (and the queue) -------------------------------------------- */

typedef enum {
    MG_STORED_QUEUED,
    MG_STORED_RUNNING,
    MG_STORED_SUCCEEDED,
    MG_STORED_FAILED,
    MG_STORED_CANCELLED,
    MG_STORED_INTERRUPTED,
    MG_STORED_N_STATUS
} mg_stored_status;

const char *mg_stored_status_name(mg_stored_status st);
/* -1 when `name` is not a status. */
int mg_stored_status_parse(const char *name);
bool mg_stored_status_terminal(mg_stored_status st);

typedef struct mg_stored_build {
    int64_t id, project_id;
    char *project_name;
    mg_stored_status status;
    char *target, *arch;
    char *keys; /* JSON object {name: text}, canonical (sorted by name) */
    int64_t config_version;
    char *ref;            /* as requested (git), may be NULL */
    char *commit;         /* resolved, NULL until fetched or for inline */
    char *sources_sha256; /* inline snapshot (a blob in the cache), or NULL */
    char *input_hash;     /* NULL until computed */
    bool force;
    int64_t rebuild_of, reused_from;             /* 0: none */
    int64_t created_at, started_at, finished_at; /* unix ms; 0: not yet */
    int64_t duration_ms;                         /* -1: not finished */
    int64_t actions, hits, misses;
    /* the remote cache's part (all 0 without one): actions it served, records
     * it lacked, failed or bad requests, bytes each way */
    int64_t remote_hits, remote_misses, remote_errors, remote_bytes_down, remote_bytes_up;
    char *image_name, *image_sha256; /* NULL unless succeeded */
    int64_t image_size;
    char *error;    /* why it failed, was cancelled or interrupted; NULL otherwise */
    char *describe; /* the resolved graph's describe JSON, NULL until resolved */
    int64_t log_size;
    char *worker;      /* the pull worker running it (docs/workers.md), NULL: the daemon's own */
    int64_t lease;     /* lease generation: +1 at every claim and every re-queue */
    int64_t pinned_at; /* unix ms when a user pinned it (gc keeps it); 0: not pinned */
    /* the toolchain identity (mg_toolchain_identity) its input hash
     * covers, a reused build's the one of the build it reused; NULL until
     * known, or never (builds of an older mgd) */
    char *toolchain;
} mg_stored_build;

void mg_stored_build_free(mg_stored_build *b);
void mg_stored_builds_free(mg_stored_build *bs, size_t n);

/* Queues a build (fields used: project_id, target, arch, keys,
 * config_version, ref, commit, sources_sha256, force, rebuild_of).
 * Returns the id; -1 with MG_E_LIMIT when `max_queued` builds are queued,
 * MG_E_NOT_FOUND when the project does not exist or is being deleted. */
int64_t mg_store_build_create(mg_store *s, const mg_stored_build *b, int64_t max_queued, mg_err *e);
/* `describe` is only filled when with_describe. */
int mg_store_build_get(mg_store *s, int64_t id, bool with_describe, mg_stored_build *out,
                       mg_err *e);

typedef struct mg_stored_build_filter {
    int64_t project_id;       /* 0: any */
    unsigned status_mask;     /* bit per mg_stored_status; 0: any */
    const char *target;       /* NULL: any */
    const char *image_sha256; /* NULL: any */
    const char *arch;         /* NULL: any */
    enum { MG_REUSED_ANY, MG_REUSED_ONLY, MG_REUSED_NOT } reused; /* reused_from set or not */
    int64_t config_version;                                       /* 0: any */
    /* NULL or "": any; else a search, each match enough: the build's id
     * ("12" or "#12"), a prefix of its commit, a part of its ref, of its
     * project's name or of one of its keys written "name=value"; ASCII
     * letters match either case, %, _ and \ only themselves */
    const char *q;
} mg_stored_build_filter;

/* Newest first. */
int mg_store_build_list(mg_store *s, const mg_stored_build_filter *f, int64_t offset, int64_t limit,
                        mg_stored_build **out, size_t *n, int64_t *total, mg_err *e);
/* Counts by status (for /metrics). */
int mg_store_build_counts(mg_store *s, int64_t counts[MG_STORED_N_STATUS], mg_err *e);

/* The queue: atomically takes the oldest queued build and marks it
 * running (started_at = now). Returns its id, 0 when none is queued, -1
 * on failure. */
int64_t mg_store_build_claim(mg_store *s, mg_err *e);
/* Up to `limit` queued builds, oldest first (what a claim chooses from). */
typedef struct mg_queued_build {
    int64_t id;
    char target[64], arch[64];
} mg_queued_build;
int mg_store_build_queued(mg_store *s, size_t limit, mg_queued_build **out, size_t *n, mg_err *e);
/* Claims queued build `id` for `worker` (NULL: the daemon's own threads):
 * running, started now, lease + 1. Returns the new lease, 0 when it is no
 * longer queued (another claim took it, or it was cancelled), -1 on
 * failure. */
int64_t mg_store_build_claim_id(mg_store *s, int64_t id, const char *worker, mg_err *e);
/* Puts running build `id` back in the queue when its lease is still
 * `lease` (a worker's lease lapsed): queued, no worker, lease + 1.
 * Returns the new lease; -1 with MG_E_CONFLICT when the build is no
 * longer running under that lease. */
int64_t mg_store_build_requeue(mg_store *s, int64_t id, int64_t lease, mg_err *e);
/* Records what the worker learned (any NULL field is left as is); the
 * input hash comes with the toolchain identity it covers (NULL: unknown). */
int mg_store_build_set_inputs(mg_store *s, int64_t id, const char *commit, const char *input_hash,
                              const char *toolchain, const char *describe, mg_err *e);
/* Finishes a running build: status (succeeded, failed, cancelled), the
 * cache counts, image (when succeeded), error, reused_from. When b->lease
 * is not 0, only under that lease (a pull worker's finish).
 * MG_E_CONFLICT when it is no longer running (cancelled meanwhile) or
 * runs under another lease. */
int mg_store_build_finish(mg_store *s, const mg_stored_build *b, mg_err *e);
/* Cancels a queued or running build (finished_at = now). MG_E_CONFLICT
 * when it has already finished. *was receives the status it had. */
int mg_store_build_cancel(mg_store *s, int64_t id, mg_stored_status *was, mg_err *e);
/* An earlier succeeded build with this input hash (the oldest), 0 if none. */
int64_t mg_store_build_find_reusable(mg_store *s, const char *input_hash, int64_t not_id,
                                     mg_err *e);
/* Whether build `b` made its image by running every action of it: not a
 * reuse of an earlier build's image, and no action served by the local or
 * the remote cache (`hits` counts both; `remote_hits` is checked too, as a
 * pull worker reports both): a forced build, a rebuild, a build on a cold
 * cache. Only such a build tells whether an image is reproducible: one that
 * reused an image or cached outputs copied bytes another build made. */
bool mg_stored_build_ran_actions(const mg_stored_build *b);
/* Reproducibility of build X, as builder-web shows it (docs/daemon.md):
 * the other succeeded builds Y with X's input hash, neither X nor Y a
 * reuse (reused_from), ascending ids, split by who gives the evidence:
 * - reproduced_by: Y ran every action (mg_stored_build_ran_actions) and
 *   made X's sha256; differs_from: likewise, another sha256;
 * - reproduces: X ran every action and made Y's sha256 (the builds X's own
 *   run confirmed; Y may have taken cached outputs).
 * So Y is in X's reproduced_by exactly when X is in Y's reproduces. Two
 * builds that both took cached outputs are in none of each other's lists.
 * The lists are malloc'd (NULL when empty): mg_build_siblings_free. */
typedef struct mg_build_siblings {
    int64_t *reproduced_by, *differs_from, *reproduces;
    size_t n_reproduced_by, n_differs_from, n_reproduces;
} mg_build_siblings;
int mg_store_build_siblings(mg_store *s, const mg_stored_build *b, mg_build_siblings *out,
                            mg_err *e);
void mg_build_siblings_free(mg_build_siblings *sib);
/* The builds whose sibling lists (mg_store_build_siblings) may name
 * build `id`: the other succeeded builds with its input hash that are not
 * a reuse, the newest MG_STORE_SAME_INPUTS_MAX of them, newest first, in
 * *ids (malloc'd, NULL when none). What GET /events sends when the build
 * ends (api/sse.c, docs/api.md). */
#define MG_STORE_SAME_INPUTS_MAX 100
int mg_store_build_same_inputs(mg_store *s, int64_t id, int64_t **ids, size_t *n, mg_err *e);
/* Records the size of a finished build's log (what GET .../log serves). */
int mg_store_set_log_size(mg_store *s, int64_t id, int64_t size, mg_err *e);
/* Whether a row still names blob `sha256`: an artifact (`artifact`), or
 * else a project's or a build's inline sources. *used false when none does
 * (the caller may drop the blob's pin). */
int mg_store_blob_used(mg_store *s, const char *sha256, bool artifact, bool *used, mg_err *e);
/* Where queued build `id` stands in the queue: 1 + the queued builds
 * older than it (claims take the oldest first; a pull worker may take a
 * younger one it can build before). Meaningless for a build not queued. */
int mg_store_build_queue_position(mg_store *s, int64_t id, int64_t *position, mg_err *e);
/* At start: running builds become interrupted; returns how many. */
int mg_store_recover(mg_store *s, int64_t *interrupted, int64_t *requeued, mg_err *e);

/* ---- retention and gc (daemon/gc.h, docs/daemon.md) --------------------- */

/* Sets project `id`'s own retention (finished builds kept per (target,
 * arch), 0: all); -1 goes back to the daemon's. MG_E_NOT_FOUND. */
int mg_store_project_set_retention(mg_store *s, int64_t id, int64_t keep_builds, mg_err *e);
/* Pins (or unpins) build `id`: gc keeps a pinned build whatever the
 * retention says. Pinning twice keeps the first time. MG_E_NOT_FOUND. */
int mg_store_build_pin(mg_store *s, int64_t id, bool pinned, mg_err *e);
/* Every build id, ascending (malloc'd). */
int mg_store_build_ids(mg_store *s, int64_t **ids, size_t *n, mg_err *e);
/* The projects whose git mirror is still needed: those with a repository,
 * and those with a queued or running build that fetches (ascending);
 * *max_id the highest project id ever given (a project made later has a
 * higher one). */
int mg_store_mirror_projects(mg_store *s, int64_t **ids, size_t *n, int64_t *max_id, mg_err *e);
/* Applies retention, in one transaction: selects every build that is not
 * kept and deletes it (with its artifact and log size rows), after adding
 * the blobs it kept alive (image, inline tree) to the pending list that
 * mg_store_gc_orphans reads. Kept are: queued and running builds, pinned
 * builds, the builds of a project being deleted, per (project, target,
 * arch) the last `keep_builds` finished builds (the project's own number
 * when it has one; 0: all) and the newest succeeded one, and every build
 * that a kept build names in rebuild_of or reused_from (recursively),
 * and the `held` ones (builds a worker still holds after they ended).
 * *deleted gets the ids deleted (ascending, malloc'd), *kept (may be NULL)
 * how many builds remain. MG_E_INVALID for a negative keep_builds. */
int mg_store_gc_collect(mg_store *s, int64_t keep_builds, const int64_t *held, size_t n_held,
                        int64_t **deleted, size_t *n_deleted, int64_t *kept, mg_err *e);
/* The pending blobs nothing in the database names any more (no artifact,
 * no build's or project's inline tree): malloc'd sha256s, ascending. Those
 * named again meanwhile (the same image built anew) leave the list. */
int mg_store_gc_orphans(mg_store *s, char ***shas, size_t *n, mg_err *e);
/* Takes blobs off the pending list (their pins are dropped). */
int mg_store_gc_forget(mg_store *s, char *const *shas, size_t n, mg_err *e);

/* ---- tokens ------------------------------------------------------------ */

typedef enum {
    MG_SCOPE_NONE = 0,
    MG_SCOPE_READ = 1,
    MG_SCOPE_WRITE = 2,
    MG_SCOPE_ADMIN = 3,
    /* pull workers (docs/workers.md): the /workers routes and nothing else;
     * outside the order of the others */
    MG_SCOPE_WORKER = 4,
    /* what a route may need, never a token's: any valid token, worker
     * tokens included (GET /whoami) */
    MG_SCOPE_ANY = 5
} mg_scope;

const char *mg_scope_name(mg_scope s);
/* Whether a token of scope `have` may call a route that needs `need`:
 * read < write < admin; `worker` routes take worker or admin tokens, and
 * a worker token takes nothing else but `any` routes, which take every
 * token. */
bool mg_scope_allows(mg_scope have, mg_scope need);
mg_scope mg_scope_parse(const char *name); /* MG_SCOPE_NONE when unknown */

typedef struct mg_token_row {
    int64_t id;
    char *name;
    mg_scope scope;
    int64_t created_at, last_used_at; /* unix ms; 0: never */
} mg_token_row;

void mg_token_row_free(mg_token_row *t);
void mg_token_rows_free(mg_token_row *ts, size_t n);
/* Stores a token by the sha256 of its text. Returns its id. */
int64_t mg_store_token_create(mg_store *s, const char *name, mg_scope scope, const char *hash_hex,
                              mg_err *e);
/* The scope of the token with this hash, MG_SCOPE_NONE when unknown or
 * revoked; updates last_used_at at most once a minute. */
mg_scope mg_store_token_check(mg_store *s, const char *hash_hex, int64_t *id);
int mg_store_token_list(mg_store *s, mg_token_row **out, size_t *n, mg_err *e);
/* Token `id` as listed; MG_E_NOT_FOUND when unknown or revoked. */
int mg_store_token_get(mg_store *s, int64_t id, mg_token_row *out, mg_err *e);
int mg_store_token_revoke(mg_store *s, int64_t id, mg_err *e);
/* How many tokens exist (revoked included): 0 on a fresh database. */
int64_t mg_store_token_count(mg_store *s);

/* Times are unix milliseconds throughout; the API shows them as RFC 3339
 * UTC with seconds ("2026-11-23T15:04:05Z"). */
int64_t mg_store_now_ms(void);
void mg_store_format_time(int64_t unix_ms, char buf[32]);

#endif
