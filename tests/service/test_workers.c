/*
 * Pull workers through the service (service/workers.c, docs/workers.md),
 * without HTTP: what a claim's and a finish's bodies may hold, a claim
 * that takes a build (only with the coordinator's toolchain), and the
 * lease-bound calls after it (sources, log by offset, heartbeat, image,
 * finish) with their refusals.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    cr_assert_eq(mg_service_worker_claim(&fx.svc, j, NULL, &job, &e), -1, "%s", text);
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
    cr_assert_eq(mg_service_worker_claim(&fx.svc, NULL, NULL, &job, &e), -1);
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
    cr_assert_eq(mg_service_worker_claim(&fx.svc, other, NULL, &job, &e), 0, "%s", e.err.msg);
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
    cr_assert_eq(mg_service_worker_claim(&fx.svc, mine, NULL, &job, &e), 1, "%s", e.err.msg);
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
    char *path = mg_service_worker_sources(&fx.svc, b.id, 1, &e);
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
    cr_assert_null(mg_service_worker_sources(&fx.svc, b.id, 2, &e));
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    cr_assert_null(mg_service_worker_sources(&fx.svc, 99999, 1, &e));
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);

    /* the log, by offset */
    int64_t size = 0, off = job.log_offset;
    cr_assert_eq(mg_service_worker_log(&fx.svc, b.id, 1, off + 1, "x\n", 2, &size, &e), -1);
    cr_assert_eq(e.err.code, MG_E_LIMIT);
    cr_assert_eq(size, off);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_log(&fx.svc, b.id, 1, off, "ab\n", 3, &size, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(size, off + 3);
    cr_assert_eq(mg_service_worker_log(&fx.svc, b.id, 1, off, "ab\ncd\n", 6, &size, &e), 0);
    cr_assert_eq(size, off + 6);
    char *big = calloc(1, MG_WORKER_MAX_LOG_POST + 1);
    cr_assert_eq(
        mg_service_worker_log(&fx.svc, b.id, 1, off, big, MG_WORKER_MAX_LOG_POST + 1, &size, &e),
        -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    free(big);
    cr_assert_eq(mg_service_worker_log(&fx.svc, b.id, 2, off, "x\n", 2, &size, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);

    /* heartbeat */
    bool cancel = true;
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, b.id, 1, &cancel, &e), 0, "%s", e.err.msg);
    cr_assert(!cancel);
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, b.id, 7, &cancel, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);

    /* image: the name, the bytes, the note */
    const char junk[] = "not an image";
    char jsha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(junk, sizeof junk, jsha);
    cr_assert_eq(mg_service_worker_image(&fx.svc, b.id, 1, "xyz", junk, sizeof junk, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_image(&fx.svc, b.id, 1, jsha, junk, 0, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_image(&fx.svc, b.id, 1, job.input_hash, junk, sizeof junk, &e),
                 -1);
    cr_assert(strstr(e.err.msg, "sha256"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_worker_image(&fx.svc, b.id, 1, jsha, junk, sizeof junk, &e), -1);
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
        cr_assert_eq(mg_service_worker_finish(&fx.svc, b.id, j, &out, &need_image, &e), -1, "%s",
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
    cr_assert_eq(mg_service_worker_finish(&fx.svc, b.id, j, &out, &need_image, &e), -1);
    cr_assert(need_image, "%s", e.err.msg);
    cr_assert(strstr(e.err.msg, "/workers/builds/"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"lease\":2,\"status\":\"failed\",\"error\":\"late\"}");
    cr_assert_eq(mg_service_worker_finish(&fx.svc, b.id, j, &out, &need_image, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"lease\":1,\"status\":\"failed\",\"error\":\"it broke\",\"actions\":3}");
    cr_assert_eq(mg_service_worker_finish(&fx.svc, b.id, j, &out, &need_image, &e), 0, "%s",
                 e.err.msg);
    cJSON_Delete(j);
    cr_assert_eq(out.status, MG_STORED_FAILED);
    cr_assert_str_eq(out.error, "it broke");
    cr_assert_eq(out.actions, 3);
    cr_assert_str_eq(out.worker, "w1");
    mg_stored_build_free(&out);
    /* everything under the lease is over */
    cr_assert_eq(mg_service_worker_heartbeat(&fx.svc, b.id, 1, &cancel, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);

    mg_worker_job_free(&job);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}
