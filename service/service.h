/*
 * service.h - what the daemon does when asked to change something:
 * projects (create, patch, delete), config documents (put, check),
 * builds (start, rebuild, cancel, pin), API tokens (create, revoke), and
 * retention (a project's own, gc runs).
 *
 * This layer sits between the engine (daemon/store.h, daemon/queue.h, the
 * resolver) and the front ends: the HTTP API (api/) parses a request,
 * calls one function here and renders what it returns. Every rule of a
 * flow lives here once, so a second front end (remote workers, a CLI on
 * the store) calls the same functions, and the tests (tests/service)
 * drive the flows without HTTP.
 *
 * Each flow returns 0 and a typed result, or -1 with an mg_service_err:
 * an mg_err (base/err.h; the code says what kind of failure, the message
 * is the one people see) plus the config document's diagnostics when
 * the document is at fault, and how long to wait when a quota is full.
 * Store failures always surface as such (MG_E_IO "database: ...", or
 * MG_E_NOSPACE when the disk is full); none is dropped on the way. A flow
 * that fails leaves the store as it was, or as far as its last
 * transaction took it (a delete stays marked, a cancel may have been
 * recorded before reading the build back failed).
 *
 * Inputs are plain C values and parsed JSON documents (cJSON) whose
 * member types the caller has checked already (service/input.h); the
 * service checks what they mean.
 *
 * Flows that change a build or a project tell the queue's observer
 * (mg_queue_changed, daemon/queue.h: what GET /events streams); a new
 * build goes with its row, read before any worker is woken.
 */
#ifndef MG_SERVICE_SERVICE_H
#define MG_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "daemon/gc.h"
#include "daemon/queue.h"
#include "daemon/store.h"
#include "daemon/tokens.h"
#include "graph/catalog.h"
#include "graph/errors.h"
#include "graph/resolve.h"
#include "service/input.h"
#include "toolchain/target.h"

typedef struct mg_service_options {
    mg_store *store;
    mg_queue *queue; /* builds and deletes need it; may be NULL for the rest */
    const mg_catalog *catalog;
    const mg_targets *targets;
    mg_limits config_limits; /* of config documents; zero fields: the defaults */
    size_t max_sources;      /* largest inline source tree (content bytes); 0: 1 MiB */
    int64_t max_queued;      /* queued builds before a start is refused; 0: 1000 */
    int64_t keep_builds;     /* the daemon's retention (daemon/gc.h): finished builds kept
                                per (project, target, arch); 0: all */
} mg_service_options;

typedef struct mg_service {
    mg_service_options o;
} mg_service;

/* Fills in the defaults of the options. */
void mg_service_init(mg_service *svc, const mg_service_options *o);

/* How a flow failed. */
typedef struct mg_service_err {
    mg_err err;
    /* MG_E_INVALID because of the config document: set, with the
     * resolver's diagnostics, each with its JSON path */
    bool config_invalid;
    mg_errors config;
    /* MG_E_LIMIT of a quota that frees up by itself (the queue): seconds
     * to wait before trying again; 0 for a limit of size */
    unsigned retry_after_s;
} mg_service_err;

void mg_service_err_free(mg_service_err *e);

/* ---- projects (service/projects.c) -------------------------------------- */

/* A project by numeric id or by name; MG_E_NOT_FOUND "no project \"ref\"". */
int mg_service_project_find(mg_service *svc, const char *ref, mg_project *out, mg_service_err *e);

/* What creating a project takes: `repo` ({"url", "ref"}) or `sources`
 * (an inline tree {path: content}, reordered in place), not both. */
typedef struct mg_project_spec {
    const char *name;
    const cJSON *config; /* the first config document */
    const cJSON *repo;
    cJSON *sources;
} mg_project_spec;

/* Checks the name, the repository or the tree, the config document (and
 * that the tree holds the paths it names), then stores the project with
 * its first config version. *out gets the project as stored.
 * MG_E_CONFLICT when the name is taken. */
int mg_service_project_create(mg_service *svc, const mg_project_spec *spec, mg_project *out,
                              mg_service_err *e);

/* Replaces project `p`'s sources by a repository (`repo`, a partial
 * object keeps the current url or ref) or an inline tree (`sources`,
 * which must hold the paths the current config names), not both.
 * *out gets the project as stored. */
int mg_service_project_patch(mg_service *svc, const mg_project *p, const cJSON *repo,
                             cJSON *sources, mg_project *out, mg_service_err *e);

/* Deletes the project and everything of it (mg_queue_delete_project):
 * stops its builds and waits for them, so it may take seconds. */
int mg_service_project_delete(mg_service *svc, const mg_project *p, mg_service_err *e);

/* ---- config documents (service/projects.c) ------------------------------ */

typedef struct mg_config_put_result {
    int64_t version;
    bool created; /* false: identical to the latest version, which stays */
} mg_config_put_result;

/* Stores `len` bytes of `doc` (a request body, NUL after it) as the
 * project's next config version: checked as sent (so diagnostics point
 * into what the client wrote), then kept canonical. */
int mg_service_config_put(mg_service *svc, const mg_project *p, const char *doc, size_t len,
                          mg_config_put_result *out, mg_service_err *e);

/* A project's config resolved for a target, arch and keys. */
typedef struct mg_resolved {
    mg_graph *graph;
    mg_config_version config;
    const char *target, *arch; /* as resolved (defaults filled in) */
} mg_resolved;

/* Resolves (the check of a config for one build) config version
 * `version` of the project (0: the latest): MG_E_INVALID for an unknown
 * target or the resolver's errors (in e->config), MG_E_CONFLICT when the
 * project has no config, MG_E_NOT_FOUND when it has no such version.
 * The latest version's paths are checked against the project's inline
 * sources (an older version's are not: the sources changed since, and a
 * graph does not depend on them). `target` and
 * `arch` NULL: the registry's default target and this host's arch. */
int mg_service_resolve(mg_service *svc, const mg_project *p, int64_t version, const char *target,
                       const char *arch, const mg_keys *keys, mg_resolved *out, mg_service_err *e);
void mg_resolved_free(mg_resolved *x);

/* ---- builds (service/builds.c) ------------------------------------------ */

typedef struct mg_new_build {
    const char *target, *arch; /* NULL: the defaults */
    const mg_keys *keys;       /* NULL: none */
    const char *ref;           /* NULL: the project's */
    bool force;
} mg_new_build;

/* Resolves the project's latest config for the build (so mistakes are
 * answered now, not as a failed build later), checks that the target can
 * build here, keeps a snapshot of inline sources and queues the build.
 * *out gets it as queued. MG_E_LIMIT (with retry_after_s) when the queue
 * is full. */
int mg_service_build_start(mg_service *svc, const mg_project *p, const mg_new_build *spec,
                           mg_stored_build *out, mg_service_err *e);

/* Queues build `b` (finished, with its sources fetched) again, forced,
 * with the same inputs. */
int mg_service_build_rebuild(mg_service *svc, const mg_stored_build *b, mg_stored_build *out,
                             mg_service_err *e);

/* Cancels a queued or running build; *out gets it afterwards.
 * MG_E_CONFLICT when it has finished. */
int mg_service_build_cancel(mg_service *svc, int64_t id, mg_stored_build *out, mg_service_err *e);

/* ---- retention and gc (service/gc.c, docs/daemon.md) --------------------- */

/* A "retention" member as clients send it: {"keep_builds": N} with N from
 * 0 (keep all) to MG_GC_MAX_KEEP_BUILDS, or {"keep_builds": null} or null
 * (the daemon's): *keep gets N, or -1. MG_E_INVALID for anything else. */
int mg_service_retention_parse(const cJSON *retention, int64_t *keep, mg_service_err *e);
/* Sets project `p`'s own retention (`keep` as parsed above); *out gets the
 * project as stored. */
int mg_service_project_retention(mg_service *svc, const mg_project *p, int64_t keep,
                                 mg_project *out, mg_service_err *e);
/* Pins (or unpins) build `id`: gc keeps a pinned build whatever the
 * retention. *out gets the build. MG_E_NOT_FOUND "no build N". */
int mg_service_build_pin(mg_service *svc, int64_t id, bool pin, mg_stored_build *out,
                         mg_service_err *e);
/* Runs gc now (mg_queue_gc with the daemon's retention; a run in progress
 * is waited for): *out says what it did. `why` names the run in the
 * daemon's log ("requested", "periodic"). MG_E_IO when it failed part-way
 * (*out says what was done until then). */
int mg_service_gc(mg_service *svc, const char *why, mg_gc_report *out, mg_service_err *e);

/* ---- tokens (service/tokens.c) ------------------------------------------ */

/* Makes a token named `name` ("" for none) with the scope named
 * `scope_name`. *out gets it as stored (mg_token_row_free), `token` its
 * text, shown once. */
int mg_service_token_create(mg_service *svc, const char *name, const char *scope_name,
                            mg_token_row *out, char token[MG_TOKEN_TEXT_SIZE], mg_service_err *e);
int mg_service_token_revoke(mg_service *svc, int64_t id, mg_service_err *e);

/* ---- pull workers (service/workers.c, docs/workers.md) ------------------- */
/* `token` is the id of the caller's token (0 without auth): the token
 * that claims a build is the only one that may act under its lease (a
 * lease is a small integer another worker could guess): another gets
 * MG_E_CONFLICT. */

/* The most log bytes one post may carry. */
#define MG_WORKER_MAX_LOG_POST (1u << 20)
/* Whether `s` is a worker name: 1..64 of [A-Za-z0-9._-]. */
bool mg_worker_name_valid(const char *s);
/* POST /workers/claim: checks the body (name, slots 1..1024, wait_ms
 * 0..30000, platforms 1..64 of {target, arch, toolchain}; nothing else)
 * and waits for a build. 1 with *out filled (mg_worker_job_free), 0 when
 * none came, -1. */
int mg_service_worker_claim(mg_service *svc, int64_t token, const cJSON *body,
                            const volatile int *abort, mg_worker_job *out, mg_service_err *e);
/* The claim's body checks alone (the API answers a bad body at once,
 * before the long poll takes a thread). */
int mg_service_worker_claim_check(const cJSON *body, mg_service_err *e);
/* The snapshot file of build `id` under `lease` (malloc'd), or NULL. */
char *mg_service_worker_sources(mg_service *svc, int64_t token, int64_t id, int64_t lease,
                                mg_service_err *e);
/* Appends log bytes (at most MG_WORKER_MAX_LOG_POST) from `offset`. */
int mg_service_worker_log(mg_service *svc, int64_t token, int64_t id, int64_t lease, int64_t offset,
                          const void *data, size_t len, int64_t *size, mg_service_err *e);
int mg_service_worker_heartbeat(mg_service *svc, int64_t token, int64_t id, int64_t lease,
                                bool *cancel, mg_service_err *e);
/* Stores an uploaded image: sha256 and note checked, at most
 * MG_WORKER_MAX_IMAGE bytes. */
int mg_service_worker_image(mg_service *svc, int64_t token, int64_t id, int64_t lease,
                            const char *sha256, const void *data, size_t len, mg_service_err *e);
/* POST /workers/builds/:id/finish: the body checked, the build finished
 * under its lease; *out gets the build. *need_image when the coordinator
 * lacks a succeeded build's image (412). */
int mg_service_worker_finish(mg_service *svc, int64_t token, int64_t id, const cJSON *body,
                             mg_stored_build *out, bool *need_image, mg_service_err *e);

#endif
