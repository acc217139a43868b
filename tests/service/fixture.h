/*
 * fixture.h - what the service tests share: a service on a fresh store
 * and cache under /tmp, a queue without workers (so what is queued stays
 * queued), the built-in catalog and this host's targets; and a way to
 * make the store fail.
 */
#ifndef MG_TESTS_SERVICE_FIXTURE_H
#define MG_TESTS_SERVICE_FIXTURE_H

#include <cjson/cJSON.h>

#include "service/service.h"

typedef struct fixture {
    char dir[64];
    char *db_path;
    mg_store *store;
    mg_cache *cache;
    mg_catalog *catalog;
    mg_targets *targets;
    mg_queue *queue;
    mg_service svc;
} fixture;

extern fixture fx;
/* Where fixtures make their directory: /tmp unless a test says otherwise
 * (one that makes thousands of them prefers a memory file system). */
extern const char *fixture_base;

/* Criterion .init and .fini of every test. */
void fixture_setup(void);
void fixture_teardown(void);
/* Opens the store again (with quick_check) and starts a queue on it, as a
 * daemon's next start does, after a test closed them. */
void fixture_reopen(void);

/* A config document naming unikernel.c (parsed; cJSON_Delete it). */
cJSON *printer_config(const char *name);
/* An inline tree holding unikernel.c. */
cJSON *printer_sources(void);

/* Makes a project with inline sources (or, when `repo_url`, a git one)
 * and its first config; fails the test when it cannot. */
mg_project make_project(const char *name, const char *repo_url);

/* This host's toolchain identity for unix/x86_64, as the queue has it. */
void own_identity(char out[MG_SHA256_HEX_SIZE]);
/* The body of a pull worker's claim of unix/x86_64 with `toolchain`. */
cJSON *claim_body(const char *name, int wait_ms, const char *toolchain);
/* Puts an mgd image of unix/x86_64 named `name` into the cache, as a pull
 * worker's finish must name one (a small ELF file whose note says so,
 * built by hand: no toolchain runs); *sha gets its sha256, *size its
 * length. */
void put_worker_image(const char *name, char sha[MG_SHA256_HEX_SIZE], size_t *size);

/* Makes the store fail from now on: `sql` (CREATE TRIGGER ... RAISE) is
 * run on a connection of its own, as another program would. */
void inject_store_failure(const char *sql);

#endif
