/*
 * Pull workers through the service (service/workers.c, docs/workers.md),
 * without HTTP: what a claim's and a finish's bodies may hold, a claim
 * that takes a build (only with the coordinator's toolchain), and the
 * lease-bound calls after it (sources, log by offset, heartbeat, image,
 * finish) with their refusals.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/sha256.h"
#include "fixture.h"
#include "toolchain/build.h"

TestSuite(service_workers, .init = fixture_setup, .fini = fixture_teardown, .timeout = 120);

/* -1 and MG_E_INVALID naming `mentions`, for the claim's body `text`. */
static void claim_refused(const char *text, const char *mentions)
{
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s", text);
    mg_service_err e = {0};
    mg_worker_job job = {0};
    cr_assert_eq(mg_service_worker_claim_check(j, &e), -1, "%s", text);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    cr_assert(strstr(e.err.msg, mentions), "%s: %s", text, e.err.msg);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_claim(&fx.svc, 0, j, NULL, &job, &e), -1, "%s", text);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    cJSON_Delete(j);
}

#define TC "\"toolchain\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""
#define PLAT "{\"target\":\"unix\",\"arch\":\"x86_64\"," TC "}"

Test(service_workers, claim_refuses_bad_bodies)
{
    claim_refused("{\"platforms\":[" PLAT "]}", "name");
    claim_refused("{\"name\":\"\",\"platforms\":[" PLAT "]}", "name");
    claim_refused("{\"name\":\"a b\",\"platforms\":[" PLAT "]}", "name");
    claim_refused("{\"name\":\"w\",\"platforms\":[" PLAT "],\"x\":1}", "x");
    claim_refused("{\"name\":\"w\",\"wait_ms\":30001,\"platforms\":[" PLAT "]}", "wait_ms");
    claim_refused("{\"name\":\"w\",\"wait_ms\":-5,\"platforms\":[" PLAT "]}", "wait_ms");
    claim_refused("{\"name\":\"w\",\"slots\":0,\"platforms\":[" PLAT "]}", "slots");
    claim_refused("{\"name\":\"w\",\"platforms\":[]}", "platforms");
    claim_refused("{\"name\":\"w\",\"platforms\":{}}", "platforms");
    claim_refused("{\"name\":\"w\",\"platforms\":[1]}", "platforms[0]");
    claim_refused("{\"name\":\"w\",\"platforms\":[{\"target\":\"unix\",\"arch\":\"x86_64\"}]}",
                  "toolchain");
    claim_refused("{\"name\":\"w\",\"platforms\":[{\"target\":\"UNIX\",\"arch\":\"x86_64\"," TC
                  "}]}",
                  "target");
    claim_refused("{\"name\":\"w\",\"platforms\":[{\"target\":\"unix\",\"arch\":\"x86_64\","
                  "\"toolchain\":\"abc\"}]}",
                  "toolchain");
    /* 65 platforms, and a 65-character name */
    char many[8192] = "{\"name\":\"w\",\"platforms\":[";
    for (int i = 0; i < 65; i++) {
        strcat(many, PLAT);
        strcat(many, i < 64 ? "," : "]}");
    }
    claim_refused(many, "platforms");
    char name[512];
    snprintf(name, sizeof name, "{\"name\":\"%065d\",\"platforms\":[" PLAT "]}", 0);
    claim_refused(name, "name");
    mg_service_err e = {0};
    mg_worker_job job = {0};
    cr_assert_eq(mg_service_worker_claim(&fx.svc, 0, NULL, NULL, &job, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
}

Test(service_workers, a_claim_takes_only_with_the_same_toolchain)
{
    char own[MG_SHA256_HEX_SIZE];
    own_identity(own);
    mg_project p = make_project("wp", NULL);
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.force = true}, &b, &e), 0,
                 "%s", e.err.msg);
    mg_worker_job job = {0};
    cJSON *other =
        claim_body("w1", 200, "0000000000000000000000000000000000000000000000000000000000000000");
    cr_assert_eq(mg_service_worker_claim(&fx.svc, 0, other, NULL, &job, &e), 0, "%s", e.err.msg);
    cJSON_Delete(other);
    mg_stored_build now;
    cr_assert_eq(mg_store_build_get(fx.store, b.id, false, &now, &e.err), 0);
    cr_assert_eq(now.status, MG_STORED_QUEUED, "a mismatched toolchain took it");
    mg_stored_build_free(&now);
    mg_worker_info *v = NULL;
    size_t n = 0;
    mg_queue_workers(fx.queue, &v, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0].name, "w1");
    cr_assert(v[0].platforms[0].ignored);
    cr_assert_str_eq(v[0].platforms[0].own, own);
    mg_worker_infos_free(v, n);

    cJSON *mine = claim_body("w1", 0, own);
    cr_assert_eq(mg_service_worker_claim(&fx.svc, 0, mine, NULL, &job, &e), 1, "%s", e.err.msg);
    cJSON_Delete(mine);
    cr_assert_eq(job.build, b.id);
    cr_assert_eq(job.lease, 1);
    cr_assert_str_eq(job.project, "wp");
    cr_assert(job.force);
    cr_assert(mg_sha256_is_hex(job.sources_sha256));
    cr_assert(mg_sha256_is_hex(job.input_hash));
    cr_assert_gt(job.log_offset, 0);
    cr_assert_eq(mg_store_build_get(fx.store, b.id, false, &now, &e.err), 0);
    cr_assert_eq(now.status, MG_STORED_RUNNING);
    cr_assert_str_eq(now.worker, "w1");
    cr_assert_eq(now.lease, 1);
    mg_stored_build_free(&now);

    /* the snapshot: a file whose bytes have the job's sha256 */
    char *path = mg_service_worker_sources(&fx.svc, 0, b.id, 1, &e);
    cr_assert_not_null(path, "%s", e.err.msg);
    size_t len;
    char *tar = mg_file_read(path, 1 << 20, &len);
    cr_assert_not_null(tar);
    cr_assert_eq(len, job.sources_size);
    char sha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(tar, len, sha);
    cr_assert_str_eq(sha, job.sources_sha256);
    free(tar);
    free(path);
    cr_assert_null(mg_service_worker_sources(&fx.svc, 0, b.id, 2, &e));
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    cr_assert_null(mg_service_worker_sources(&fx.svc, 0, 99999, 1, &e));
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);

    /* the log, by offset */
    int64_t size = 0, off = job.log_offset;
    cr_assert_eq(mg_service_worker_log(&fx.svc, 0, b.id, 1, off + 1, "x\n", 2, &size, &e), -1);
    cr_assert_eq(e.err.code, MG_E_LIMIT);
    cr_assert_eq(size, off);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_log(&fx.svc, 0, b.id, 1, off, "ab\n", 3, &size, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(size, off + 3);
    cr_assert_eq(mg_service_worker_log(&fx.svc, 0, b.id, 1, off, "ab\ncd\n", 6, &size, &e), 0);
    cr_assert_eq(size, off + 6);
    char *big = calloc(1, MG_WORKER_MAX_LOG_POST + 1);
    cr_assert_eq(
        mg_service_worker_log(&fx.svc, 0, b.id, 1, off, big, MG_WORKER_MAX_LOG_POST + 1, &size, &e),
        -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    free(big);
    cr_assert_eq(mg_service_worker_log(&fx.svc, 0, b.id, 2, off, "x\n", 2, &size, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);

    /* heartbeat */
    bool cancel = true;
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, 0, b.id, 1, &cancel, &e), 0, "%s", e.err.msg);
    cr_assert(!cancel);
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, 0, b.id, 7, &cancel, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);

    /* image: the name, the bytes, the note */
    const char junk[] = "not an image";
    char jsha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(junk, sizeof junk, jsha);
    cr_assert_eq(mg_service_worker_image(&fx.svc, 0, b.id, 1, "xyz", junk, sizeof junk, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_image(&fx.svc, 0, b.id, 1, jsha, junk, 0, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    cr_assert_eq(
        mg_service_worker_image(&fx.svc, 0, b.id, 1, job.input_hash, junk, sizeof junk, &e), -1);
    cr_assert(strstr(e.err.msg, "sha256"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_image(&fx.svc, 0, b.id, 1, jsha, junk, sizeof junk, &e), -1);
    cr_assert(strstr(e.err.msg, "not an mgd image"), "%s", e.err.msg);
    mg_service_err_free(&e);

    /* finish: the body's checks, a succeeded build without its image, then failed */
    static const char *const bad[] = {
        "{\"status\":\"failed\",\"error\":\"x\"}",
        "{\"lease\":1,\"status\":\"done\"}",
        "{\"lease\":1,\"status\":\"failed\"}",
        "{\"lease\":1,\"status\":\"succeeded\"}",
        "{\"lease\":1,\"status\":\"failed\",\"error\":\"x\",\"image\":{}}",
        "{\"lease\":1,\"status\":\"failed\",\"error\":\"x\",\"misses\":-1}",
        "{\"lease\":1,\"status\":\"failed\",\"error\":\"x\",\"remote\":{\"up\":1}}",
        "{\"lease\":1,\"status\":\"succeeded\",\"image\":{\"name\":\"a/b\",\"sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1}}",
        "{\"lease\":1,\"status\":\"succeeded\",\"image\":{\"name\":\"a\",\"sha256\":\"00\","
        "\"size\":1}}",
        "{\"lease\":0,\"status\":\"failed\",\"error\":\"x\"}",
    };
    mg_stored_build out;
    bool need_image;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        cr_assert_not_null(j, "%s", bad[i]);
        cr_assert_eq(mg_service_worker_finish(&fx.svc, 0, b.id, j, &out, &need_image, &e), -1, "%s",
                     bad[i]);
        cr_assert_eq(e.err.code, MG_E_INVALID, "%s: %s", bad[i], e.err.msg);
        cr_assert(!need_image);
        mg_service_err_free(&e);
        cJSON_Delete(j);
    }
    char text[512];
    snprintf(text, sizeof text,
             "{\"lease\":1,\"status\":\"succeeded\",\"image\":{\"name\":\"wp.unix\",\"sha256\":"
             "\"%s\",\"size\":10}}",
             jsha);
    cJSON *j = cJSON_Parse(text);
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 0, b.id, j, &out, &need_image, &e), -1);
    cr_assert(need_image, "%s", e.err.msg);
    cr_assert(strstr(e.err.msg, "/workers/builds/"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"lease\":2,\"status\":\"failed\",\"error\":\"late\"}");
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 0, b.id, j, &out, &need_image, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"lease\":1,\"status\":\"failed\",\"error\":\"it broke\",\"actions\":3}");
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 0, b.id, j, &out, &need_image, &e), 0, "%s",
                 e.err.msg);
    cJSON_Delete(j);
    cr_assert_eq(out.status, MG_STORED_FAILED);
    cr_assert_str_eq(out.error, "it broke");
    cr_assert_eq(out.actions, 3);
    cr_assert_str_eq(out.worker, "w1");
    mg_stored_build_free(&out);
    /* everything under the lease is over */
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, 0, b.id, 1, &cancel, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);

    mg_worker_job_free(&job);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}

/* ---- two claims at once ------------------------------------------------ */

typedef struct claimer {
    const char *name;
    const char *toolchain;
    int wait_ms; /* 0: 10 s */
    mg_worker_job job;
    int r;
    char err[2048];
} claimer;

static void *claim_thread(void *arg)
{
    claimer *c = arg;
    cJSON *body = claim_body(c->name, c->wait_ms ? c->wait_ms : 10000, c->toolchain);
    mg_service_err e = {0};
    c->r = mg_service_worker_claim(&fx.svc, 0, body, NULL, &c->job, &e);
    snprintf(c->err, sizeof c->err, "%s", c->r < 0 ? e.err.msg : "");
    mg_service_err_free(&e);
    cJSON_Delete(body);
    return NULL;
}

/* The reported flake (build 1 running for w1 while its log said "worker
 * w2 took the build"): two claims that run at once must not share the
 * queue's slot for a pull worker's build. The database is held by another
 * connection so that the first claim waits inside the store (holding the
 * queue's claim lock) while the second arrives: the second must then pick
 * its slot only once the first has taken its own. */
Test(service_workers, two_claims_at_once_each_keep_their_build)
{
    char own[MG_SHA256_HEX_SIZE];
    own_identity(own);
    mg_project p = make_project("wr", NULL);
    mg_service_err e = {0};
    mg_stored_build b[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.force = true}, &b[i], &e),
                     0, "%s", e.err.msg);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(fx.db_path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    claimer c[2] = {{.name = "w1", .toolchain = own}, {.name = "w2", .toolchain = own}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, claim_thread, &c[i]), 0);
        usleep(150 * 1000); /* the first is in the store before the second starts */
    }
    usleep(150 * 1000);
    cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) cr_assert_eq(c[i].r, 1, "%s: %s", c[i].name, c[i].err);
    cr_assert_neq(c[0].job.build, c[1].job.build);
    for (int i = 0; i < 2; i++) {
        int64_t id = c[i].job.build;
        mg_stored_build now;
        cr_assert_eq(mg_store_build_get(fx.store, id, false, &now, &e.err), 0);
        cr_assert_str_eq(now.worker, c[i].name);
        mg_stored_build_free(&now);
        /* the log names the worker that holds the build */
        char *path = mg_queue_log_path(fx.queue, id);
        size_t len;
        char *log = mg_file_read(path, 1 << 20, &len);
        cr_assert_not_null(log);
        char want[64];
        snprintf(want, sizeof want, "worker %s took the build (lease 1)", c[i].name);
        cr_assert(strstr(log, want), "build %lld's log lacks \"%s\":\n%s", (long long)id, want,
                  log);
        free(log);
        free(path);
        /* the queue knows the lease: heartbeats keep it (else nothing ever
         * expires it and the build stays running for ever) */
        bool cancel = true;
        cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, 0, id, 1, &cancel, &e), 0,
                     "build %lld of %s: %s", (long long)id, c[i].name, e.err.msg);
        cr_assert(!cancel);
        mg_worker_job_free(&c[i].job);
    }
    for (int i = 0; i < 2; i++) mg_stored_build_free(&b[i]);
    mg_project_free(&p);
}

/* A claimed build for worker `name` (the test's project `pname`). */
static mg_worker_job claim_one(const char *pname, const char *name, mg_project *p)
{
    char own[MG_SHA256_HEX_SIZE];
    own_identity(own);
    *p = make_project(pname, NULL);
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, p, &(mg_new_build){.force = true}, &b, &e), 0,
                 "%s", e.err.msg);
    mg_stored_build_free(&b);
    mg_worker_job job = {0};
    cJSON *body = claim_body(name, 0, own);
    cr_assert_eq(mg_service_worker_claim(&fx.svc, 0, body, NULL, &job, &e), 1, "%s", e.err.msg);
    cJSON_Delete(body);
    return job;
}

/* A worker may not finish its build with a blob that is no image of the
 * build's target and arch, even one the coordinator has already (or finds
 * in the shared cache, where a worker may put anything): the upload's
 * check must hold for the finish too. */
Test(service_workers, a_finish_names_only_an_image_of_the_build)
{
    mg_project p;
    mg_worker_job job = claim_one("wi", "w1", &p);
    const char junk[] = "not an image, but a blob the coordinator has";
    char sha[MG_SHA256_HEX_SIZE];
    mg_err ce;
    cr_assert_eq(mg_cache_blob_put_bytes(fx.cache, junk, sizeof junk, sha, &ce), 0, "%s", ce.msg);
    char text[512];
    snprintf(text, sizeof text,
             "{\"lease\":%lld,\"status\":\"succeeded\",\"image\":{\"name\":\"wi.unix\","
             "\"sha256\":\"%s\",\"size\":%zu}}",
             (long long)job.lease, sha, sizeof junk);
    cJSON *j = cJSON_Parse(text);
    mg_stored_build out = {0};
    bool need_image = false;
    mg_service_err e = {0};
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 0, job.build, j, &out, &need_image, &e), -1,
                 "a blob that is no image finished the build");
    cr_assert(!need_image);
    cr_assert_eq(e.err.code, MG_E_INVALID, "%s", e.err.msg);
    cr_assert(strstr(e.err.msg, "not an mgd image"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(j);
    mg_stored_build now;
    cr_assert_eq(mg_store_build_get(fx.store, job.build, false, &now, &e.err), 0);
    cr_assert_eq(now.status, MG_STORED_RUNNING);
    mg_stored_build_free(&now);
    /* the lease still holds: the worker can still say how it ended */
    snprintf(text, sizeof text, "{\"lease\":%lld,\"status\":\"failed\",\"error\":\"x\"}",
             (long long)job.lease);
    j = cJSON_Parse(text);
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 0, job.build, j, &out, &need_image, &e), 0, "%s",
                 e.err.msg);
    cJSON_Delete(j);
    mg_stored_build_free(&out);
    mg_worker_job_free(&job);
    mg_project_free(&p);
}

/* A cancel that comes while a claim prepares the build (here: once the
 * config resolved, while the input hash is computed and the snapshot
 * packed) must reach the worker: the claim hands the build out only if it
 * was not cancelled meanwhile, and otherwise the worker's heartbeat says
 * cancel (or 409). Before, the worker was told nothing: it built the
 * cancelled build to its end, and a delete of the project waited for it. */
Test(service_workers, a_cancel_while_the_claim_prepares_reaches_the_worker)
{
    char own[MG_SHA256_HEX_SIZE];
    own_identity(own);
    mg_project p = make_project("wc", NULL);
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.force = true}, &b, &e), 0,
                 "%s", e.err.msg);
    claimer c = {.name = "w1", .toolchain = own, .wait_ms = 1000};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, claim_thread, &c), 0);
    char *path = mg_queue_log_path(fx.queue, b.id);
    bool seen = false;
    for (int i = 0; i < 5000 && !seen; i++) {
        size_t len;
        char *log = mg_file_read(path, 1 << 20, &len);
        seen = log && strstr(log, "] resolved ");
        free(log);
        if (!seen) usleep(200);
    }
    cr_assert(seen, "the claim did not resolve the build");
    mg_stored_build out;
    cr_assert_eq(mg_service_build_cancel(&fx.svc, b.id, &out, &e), 0, "%s", e.err.msg);
    mg_stored_build_free(&out);
    pthread_join(t, NULL);
    cr_assert_geq(c.r, 0, "%s", c.err);
    if (c.r == 1) {
        /* handed out before the cancel: the heartbeat tells the worker */
        bool cancel = false;
        int hb = mg_service_worker_heartbeat(&fx.svc, 0, c.job.build, c.job.lease, &cancel, &e);
        cr_assert(hb != 0 || cancel, "build %lld was cancelled but its worker hears nothing",
                  (long long)c.job.build);
        mg_service_err_free(&e);
        mg_worker_job_free(&c.job);
    }
    /* no slot holds it any more */
    cr_assert(!mg_queue_running(fx.queue, b.id), "a cancelled build keeps its slot");
    free(path);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}

/* A lease is a small integer: any worker token could guess it. Only the
 * token that claimed the build may act under it; another gets
 * MG_E_CONFLICT for the snapshot, the log, the heartbeat, an upload and
 * the finish, and the build stays the claimer's. */
Test(service_workers, only_the_claiming_token_acts_under_the_lease)
{
    char own[MG_SHA256_HEX_SIZE];
    own_identity(own);
    mg_project p = make_project("wt", NULL);
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.force = true}, &b, &e), 0,
                 "%s", e.err.msg);
    mg_worker_job job = {0};
    cJSON *body = claim_body("w1", 0, own);
    cr_assert_eq(mg_service_worker_claim(&fx.svc, 7, body, NULL, &job, &e), 1, "%s", e.err.msg);
    cJSON_Delete(body);
    int64_t id = job.build, lease = job.lease, size = 0;
    char *path = mg_service_worker_sources(&fx.svc, 8, id, lease, &e);
    cr_assert_null(path, "another token read the snapshot");
    cr_assert_eq(e.err.code, MG_E_CONFLICT, "%s", e.err.msg);
    cr_assert(strstr(e.err.msg, "another worker token"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cr_assert_eq(
        mg_service_worker_log(&fx.svc, 8, id, lease, job.log_offset, "forged\n", 7, &size, &e), -1,
        "another token wrote to the log");
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    bool cancel = false;
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, 8, id, lease, &cancel, &e), -1,
                 "another token kept the lease");
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    const char junk[] = "x";
    char jsha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(junk, sizeof junk, jsha);
    cr_assert_eq(mg_service_worker_image(&fx.svc, 8, id, lease, jsha, junk, sizeof junk, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT, "%s", e.err.msg);
    mg_service_err_free(&e);
    char text[256];
    snprintf(text, sizeof text, "{\"lease\":%lld,\"status\":\"failed\",\"error\":\"forged\"}",
             (long long)lease);
    cJSON *fin = cJSON_Parse(text);
    mg_stored_build out = {0};
    bool need_image = false;
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 8, id, fin, &out, &need_image, &e), -1,
                 "another token finished the build");
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    mg_stored_build now;
    cr_assert_eq(mg_store_build_get(fx.store, id, false, &now, &e.err), 0);
    cr_assert_eq(now.status, MG_STORED_RUNNING);
    mg_stored_build_free(&now);
    /* the claimer still holds it */
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, 7, id, lease, &cancel, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(mg_service_worker_finish(&fx.svc, 7, id, fin, &out, &need_image, &e), 0, "%s",
                 e.err.msg);
    cJSON_Delete(fin);
    mg_stored_build_free(&out);
    mg_worker_job_free(&job);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}
