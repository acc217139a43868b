/*
 * Retention through the service: the "retention" member clients send
 * (hostile values refused), a project's own number, pins (of a missing
 * build too), and a gc run on the service's queue that keeps a queued
 * build's inline tree although the build that stored it first is deleted
 * and the project moved on; a store failure surfaces as such.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite(service_gc, .init = fixture_setup, .fini = fixture_teardown);

static int parse(const char *json, int64_t *keep, mg_service_err *e)
{
    cJSON *v = cJSON_Parse(json);
    cr_assert_not_null(v, "%s", json);
    int r = mg_service_retention_parse(v, keep, e);
    cJSON_Delete(v);
    return r;
}

Test(service_gc, retention_values_and_hostile_ones)
{
    mg_service_err e = {0};
    int64_t keep = 99;
    cr_assert_eq(parse("{\"keep_builds\": 5}", &keep, &e), 0, "%s", e.err.msg);
    cr_assert_eq(keep, 5);
    cr_assert_eq(parse("{\"keep_builds\": 0}", &keep, &e), 0);
    cr_assert_eq(keep, 0, "0 keeps all");
    cr_assert_eq(parse("{\"keep_builds\": null}", &keep, &e), 0);
    cr_assert_eq(keep, -1, "the daemon's");
    cr_assert_eq(parse("null", &keep, &e), 0);
    cr_assert_eq(keep, -1);
    cr_assert_eq(parse("{\"keep_builds\": 1000000}", &keep, &e), 0);
    const char *bad[] = {
        "{\"keep_builds\": -1}",
        "{\"keep_builds\": 1000001}",
        "{\"keep_builds\": 1e300}",
        "{\"keep_builds\": 1.5}",
        "{\"keep_builds\": \"3\"}",
        "{\"keep_builds\": true}",
        "{}",
        "{\"keep_builds\": 1, \"x\": 2}",
        "[]",
        "3",
        "{\"keep_builds\": -1e300}",
        "{\"keep_builds\": [1]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_service_err_free(&e);
        keep = 99;
        cr_assert_eq(parse(bad[i], &keep, &e), -1, "%s was taken", bad[i]);
        cr_assert_eq(e.err.code, MG_E_INVALID, "%s", bad[i]);
        bool named = strstr(e.err.msg, "keep_builds") || strstr(e.err.msg, "retention");
        cr_assert(named, "%s: %s", bad[i], e.err.msg);
    }
    mg_service_err_free(&e);
}

Test(service_gc, a_project_sets_and_resets_its_own)
{
    mg_project p = make_project("web", NULL), out;
    mg_service_err e = {0};
    cr_assert_eq(mg_service_project_retention(&fx.svc, &p, 3, &out, &e), 0, "%s", e.err.msg);
    cr_assert_eq(out.keep_builds, 3);
    mg_project_free(&out);
    cr_assert_eq(mg_service_project_retention(&fx.svc, &p, -1, &out, &e), 0, "%s", e.err.msg);
    cr_assert_eq(out.keep_builds, -1);
    mg_project_free(&out);
    cr_assert_eq(mg_service_project_retention(&fx.svc, &p, -5, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    mg_project gone = {.id = 424242, .name = "gone"};
    cr_assert_eq(mg_service_project_retention(&fx.svc, &gone, 2, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    cr_assert_str_eq(e.err.msg, "no project \"gone\"");
    mg_service_err_free(&e);
    mg_project_free(&p);
}

Test(service_gc, pins_and_a_missing_build)
{
    mg_project p = make_project("web", NULL);
    mg_service_err e = {0};
    mg_stored_build b, got;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(b.pinned_at, 0);
    cr_assert_eq(mg_service_build_pin(&fx.svc, b.id, true, &got, &e), 0, "%s", e.err.msg);
    cr_assert_gt(got.pinned_at, 0);
    cr_assert_eq(got.status, MG_STORED_QUEUED, "a queued build may be pinned");
    mg_stored_build_free(&got);
    cr_assert_eq(mg_service_build_pin(&fx.svc, b.id, false, &got, &e), 0, "%s", e.err.msg);
    cr_assert_eq(got.pinned_at, 0);
    mg_stored_build_free(&got);
    cr_assert_eq(mg_service_build_pin(&fx.svc, 987654, true, &got, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    cr_assert_str_eq(e.err.msg, "no build 987654");
    mg_service_err_free(&e);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}

/* Takes queued build `id` through a claim to `status`. */
static void finish(int64_t id, mg_stored_status status)
{
    mg_err err;
    cr_assert_eq(mg_store_build_claim_id(fx.store, id, NULL, &err), 1, "%s", err.msg);
    mg_stored_build f = {.id = id, .status = status, .error = "failed"};
    cr_assert_eq(mg_store_build_finish(fx.store, &f, &err), 0, "%s", err.msg);
}

static void set_sources(mg_project *p, const char *text)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "unikernel.c", text);
    mg_service_err e = {0};
    mg_project out;
    cr_assert_eq(mg_service_project_patch(&fx.svc, p, NULL, s, &out, &e), 0, "%s", e.err.msg);
    cJSON_Delete(s);
    mg_project_free(p);
    *p = out;
}

static bool blob_stored(const char *sha)
{
    return mg_cache_blob_stat(fx.cache, sha, NULL, NULL) == 0;
}

Test(service_gc, a_queued_build_keeps_its_inline_tree)
{
    fx.svc.o.keep_builds = 1;
    mg_project p = make_project("web", NULL);
    set_sources(&p, "int app_start(void *c) { return 1; }\n");
    char *old_tree = strdup(p.sources_sha256);
    mg_service_err e = {0};
    mg_stored_build first, waiting, b;
    /* the first build of the old tree ends; a second one waits */
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &first, &e), 0, "%s",
                 e.err.msg);
    finish(first.id, MG_STORED_FAILED);
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.target = NULL}, &waiting, &e),
                 0, "%s", e.err.msg);
    /* the project moves on; two builds of the new tree end */
    set_sources(&p, "int app_start(void *c) { return 2; }\n");
    char *new_tree = strdup(p.sources_sha256);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0, "%s",
                     e.err.msg);
        finish(b.id, MG_STORED_FAILED);
        mg_stored_build_free(&b);
    }
    /* and that tree is no longer the project's either */
    set_sources(&p, "int app_start(void *c) { return 3; }\n");

    mg_gc_report r;
    cr_assert_eq(mg_service_gc(&fx.svc, "test", &r, &e), 0, "%s", e.err.msg);
    /* the first build and the first of the new tree go; the waiting one
     * and the last finished one stay */
    cr_assert_eq(r.builds_deleted, 2);
    cr_assert_eq(r.builds_kept, 2);
    cr_assert_eq(mg_store_build_get(fx.store, first.id, false, &b, &e.err), -1);
    cr_assert_eq(mg_store_build_get(fx.store, waiting.id, false, &b, &e.err), 0);
    cr_assert_eq(b.status, MG_STORED_QUEUED);
    cr_assert_str_eq(b.sources_sha256, old_tree);
    mg_stored_build_free(&b);
    cr_assert(blob_stored(old_tree), "the queued build's tree was collected");
    cr_assert(blob_stored(new_tree), "the kept build's tree was collected");
    cr_assert_eq(r.blobs_deleted, 0);

    /* once the waiting build is gone too, its tree goes with it */
    finish(waiting.id, MG_STORED_FAILED);
    for (int i = 0; i < 2; i++) {
        mg_stored_build nb;
        cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &nb, &e), 0);
        finish(nb.id, MG_STORED_FAILED);
        mg_stored_build_free(&nb);
    }
    cr_assert_eq(mg_service_gc(&fx.svc, "test", &r, &e), 0, "%s", e.err.msg);
    cr_assert(!blob_stored(old_tree));
    cr_assert(!blob_stored(new_tree));
    cr_assert_eq(r.blobs_deleted, 2);
    free(old_tree);
    free(new_tree);
    mg_stored_build_free(&first);
    mg_stored_build_free(&waiting);
    mg_project_free(&p);
}

Test(service_gc, a_store_failure_surfaces)
{
    mg_project p = make_project("web", NULL);
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0);
    finish(b.id, MG_STORED_FAILED);
    mg_stored_build_free(&b);
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0);
    finish(b.id, MG_STORED_FAILED);
    mg_stored_build_free(&b);
    fx.svc.o.keep_builds = 1;
    inject_store_failure("CREATE TRIGGER no_delete BEFORE DELETE ON builds BEGIN"
                         " SELECT RAISE(FAIL, 'disk on fire'); END;");
    mg_gc_report r;
    cr_assert_eq(mg_service_gc(&fx.svc, "test", &r, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert_not_null(strstr(e.err.msg, "disk on fire"), "%s", e.err.msg);
    cr_assert_eq(r.builds_deleted, 0, "nothing was deleted: the transaction rolled back");
    mg_service_err_free(&e);
    mg_project_free(&p);
}

typedef struct gc_thread {
    mg_gc_report r;
    int rc;
    volatile int done;
} gc_thread;

static void *run_gc(void *arg)
{
    gc_thread *t = arg;
    mg_service_err e = {0};
    t->rc = mg_service_gc(&fx.svc, "test", &t->r, &e);
    mg_service_err_free(&e);
    mg_store_thread_done(fx.store);
    t->done = 1;
    return NULL;
}

Test(service_gc, a_run_waits_for_a_flow_that_holds_blobs)
{
    /* what pins a blob before the database names it holds gc off: the
     * run starts only once the flow let go */
    mg_queue_blobs_hold(fx.queue);
    gc_thread t = {0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, run_gc, &t), 0);
    usleep(300 * 1000);
    cr_assert_eq(t.done, 0, "gc ran while a flow held the blobs");
    mg_queue_blobs_release(fx.queue);
    pthread_join(th, NULL);
    cr_assert_eq(t.done, 1);
    cr_assert_eq(t.rc, 0);
}
