/*
 * Builds through the service: start (resolved at once, keys canonical,
 * inline sources kept), the queue's limit, rebuild and cancel, and store
 * failures surfacing.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

TestSuite(service_builds, .init = fixture_setup, .fini = fixture_teardown);

Test(service_builds, start_queues_a_resolved_build)
{
    mg_project p = make_project("web", NULL);
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.force = true}, &b, &e), 0,
                 "%s", e.err.msg);
    cr_assert_gt(b.id, 0);
    cr_assert_eq(b.status, MG_STORED_QUEUED);
    cr_assert_str_eq(b.target, "unix");
    cr_assert_str_eq(b.keys, "{}");
    cr_assert(b.force);
    cr_assert_str_eq(b.sources_sha256, p.sources_sha256);
    cr_assert_null(b.ref);
    /* the inline sources are kept for the build as a blob */
    char *path = mg_queue_image_path(fx.queue, p.sources_sha256);
    cr_assert_not_null(path);
    free(path);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}

Test(service_builds, start_refuses_a_bad_ref_an_unknown_target_and_a_full_queue)
{
    mg_project p = make_project("web", "https://example.org/web.git");
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.ref = ""}, &b, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.target = "nope"}, &b, &e),
                 -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    fx.svc.o.max_queued = 1;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.ref = "v1"}, &b, &e), 0, "%s",
                 e.err.msg);
    cr_assert_str_eq(b.ref, "v1");
    mg_stored_build_free(&b);
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), -1);
    cr_assert_eq(e.err.code, MG_E_LIMIT);
    cr_assert_eq(e.retry_after_s, 10);
    mg_service_err_free(&e);
    mg_project_free(&p);
}

Test(service_builds, start_refuses_keys_the_config_does_not_know)
{
    mg_project p = make_project("web", "https://example.org/web.git");
    mg_keys keys = {0};
    mg_service_err e = {0};
    cJSON *k = cJSON_Parse("{\"zeta\": 1, \"alpha\": \"x\"}");
    cr_assert_eq(mg_keys_from_json(k, &keys, &e.err), 0, "%s", e.err.msg);
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){.keys = &keys}, &b, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    cr_assert(e.config_invalid);
    cr_assert_eq(e.config.len, 2);
    mg_service_err_free(&e);
    mg_keys_free(&keys);
    cJSON_Delete(k);
    mg_project_free(&p);
}

Test(service_builds, start_surfaces_a_store_failure)
{
    mg_project p = make_project("web", "https://example.org/web.git");
    inject_store_failure("CREATE TRIGGER fail BEFORE INSERT ON builds"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
    mg_project_free(&p);
}

Test(service_builds, cancel_then_rebuild)
{
    mg_project p = make_project("web", "https://example.org/web.git");
    mg_service_err e = {0};
    mg_stored_build b, again, cancelled, rebuilt;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0, "%s",
                 e.err.msg);
    /* not finished: nothing to rebuild yet */
    cr_assert_eq(mg_service_build_rebuild(&fx.svc, &b, &again, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    mg_service_err_free(&e);
    /* a worker took it and fetched a commit */
    mg_err err = {0};
    cr_assert_eq(mg_store_build_claim(fx.store, &err), b.id, "%s", err.msg);
    cr_assert_eq(mg_store_build_set_inputs(fx.store, b.id,
                                           "0123456789abcdef0123456789abcdef01234567", NULL, NULL,
                                           NULL, &err),
                 0, "%s", err.msg);
    cr_assert_eq(mg_service_build_cancel(&fx.svc, b.id, &cancelled, &e), 0, "%s", e.err.msg);
    cr_assert_eq(cancelled.status, MG_STORED_CANCELLED);
    /* a second cancel says how it finished */
    cr_assert_eq(mg_service_build_cancel(&fx.svc, b.id, &again, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    cr_assert(strstr(e.err.msg, "(cancelled)"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_build_rebuild(&fx.svc, &cancelled, &rebuilt, &e), 0, "%s", e.err.msg);
    cr_assert_eq(rebuilt.rebuild_of, b.id);
    cr_assert(rebuilt.force);
    cr_assert_str_eq(rebuilt.commit, cancelled.commit);
    cr_assert_eq(mg_service_build_cancel(&fx.svc, 999999, &again, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);
    mg_stored_build_free(&rebuilt);
    mg_stored_build_free(&cancelled);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}

Test(service_builds, cancel_surfaces_a_store_failure)
{
    mg_project p = make_project("web", "https://example.org/web.git");
    mg_service_err e = {0};
    mg_stored_build b, out;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0, "%s",
                 e.err.msg);
    inject_store_failure("CREATE TRIGGER fail BEFORE UPDATE ON builds"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    cr_assert_eq(mg_service_build_cancel(&fx.svc, b.id, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}
