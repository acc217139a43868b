/*
 * Projects and their config documents through the service: create,
 * patch, delete (with builds queued and running), config put and
 * resolve; what is refused and why; store failures surface.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

TestSuite(service_projects, .init = fixture_setup, .fini = fixture_teardown);

Test(service_projects, create_stores_the_project_with_its_first_config)
{
    mg_project p = make_project("web", NULL);
    cr_assert_gt(p.id, 0);
    cr_assert_str_eq(p.name, "web");
    cr_assert_eq(p.config_version, 1);
    cr_assert_not_null(p.sources);
    cr_assert_eq(p.sources_files, 1);
    mg_project found;
    mg_service_err e = {0};
    cr_assert_eq(mg_service_project_find(&fx.svc, "web", &found, &e), 0, "%s", e.err.msg);
    cr_assert_eq(found.id, p.id);
    mg_project_free(&found);
    mg_project_free(&p);
}

Test(service_projects, create_refuses_a_taken_name_a_bad_name_and_both_sources)
{
    mg_project p = make_project("web", NULL);
    mg_project_free(&p);
    cJSON *config = printer_config("web"), *sources = printer_sources();
    cJSON *repo = cJSON_Parse("{\"url\": \"https://example.org/x.git\"}");
    mg_service_err e = {0};
    mg_project out;
    mg_project_spec taken = {.name = "web", .config = config, .sources = sources};
    cr_assert_eq(mg_service_project_create(&fx.svc, &taken, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_CONFLICT);
    cr_assert_str_eq(e.err.msg, "a project named \"web\" exists");
    mg_service_err_free(&e);
    mg_project_spec bad_name = {.name = "Web!", .config = config, .sources = sources};
    cr_assert_eq(mg_service_project_create(&fx.svc, &bad_name, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    mg_project_spec both = {.name = "two", .config = config, .repo = repo, .sources = sources};
    cr_assert_eq(mg_service_project_create(&fx.svc, &both, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    cr_assert(strstr(e.err.msg, "not both"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(config);
    cJSON_Delete(sources);
    cJSON_Delete(repo);
}

Test(service_projects, create_checks_the_config_against_the_inline_tree)
{
    cJSON *config = printer_config("web");
    cJSON *sources = cJSON_Parse("{\"other.c\": \"\"}");
    mg_project_spec spec = {.name = "web", .config = config, .sources = sources};
    mg_service_err e = {0};
    mg_project out;
    cr_assert_eq(mg_service_project_create(&fx.svc, &spec, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    cr_assert(e.config_invalid);
    cr_assert_geq(e.config.len, 1);
    cr_assert_eq(e.config.items[0].code, MG_ERR_BAD_PATH);
    mg_service_err_free(&e);
    cJSON_Delete(config);
    cJSON_Delete(sources);
}

Test(service_projects, create_surfaces_a_store_failure)
{
    inject_store_failure("CREATE TRIGGER fail BEFORE INSERT ON projects"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    cJSON *config = printer_config("web"), *sources = printer_sources();
    mg_project_spec spec = {.name = "web", .config = config, .sources = sources};
    mg_service_err e = {0};
    mg_project out;
    cr_assert_eq(mg_service_project_create(&fx.svc, &spec, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(config);
    cJSON_Delete(sources);
}

Test(service_projects, patch_replaces_the_sources_by_a_repository_and_back)
{
    mg_project p = make_project("web", NULL);
    cJSON *repo = cJSON_Parse("{\"url\": \"https://example.org/web.git\", \"ref\": \"main\"}");
    mg_service_err e = {0};
    mg_project git;
    cr_assert_eq(mg_service_project_patch(&fx.svc, &p, repo, NULL, &git, &e), 0, "%s", e.err.msg);
    cr_assert_str_eq(git.repo_url, "https://example.org/web.git");
    cr_assert_str_eq(git.repo_ref, "main");
    cr_assert_null(git.sources);
    cJSON *sources = printer_sources();
    mg_project inl;
    cr_assert_eq(mg_service_project_patch(&fx.svc, &git, NULL, sources, &inl, &e), 0, "%s",
                 e.err.msg);
    cr_assert_null(inl.repo_url);
    cr_assert_not_null(inl.sources);
    /* a tree without what the config names is refused */
    cJSON *empty = cJSON_Parse("{\"other.c\": \"\"}");
    mg_project no;
    cr_assert_eq(mg_service_project_patch(&fx.svc, &inl, NULL, empty, &no, &e), -1);
    cr_assert(e.config_invalid);
    mg_service_err_free(&e);
    mg_project_free(&inl);
    mg_project_free(&git);
    mg_project_free(&p);
    cJSON_Delete(repo);
    cJSON_Delete(sources);
    cJSON_Delete(empty);
}

/* A repository's URL and ref go to git and into logs: a control character
 * (a newline, an escape, DEL) in either is refused when it arrives, at
 * create and at patch time, naming the field, and nothing is stored. */
Test(service_projects, control_characters_in_repo_url_or_ref_are_refused)
{
    static const char *const bad[] = {"\n", "\r", "\t", "\x1b[2J", "\x7f", "\x01"};
    mg_project p = make_project("web", NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int field = 0; field < 2; field++) {
            char url[128], ref[64];
            snprintf(url, sizeof url, "https://example.org/web.git%s", field == 0 ? bad[i] : "");
            snprintf(ref, sizeof ref, "main%s", field == 1 ? bad[i] : "");
            cJSON *repo = cJSON_CreateObject();
            cJSON_AddStringToObject(repo, "url", url);
            cJSON_AddStringToObject(repo, "ref", ref);
            const char *name = field == 0 ? "\"repo.url\"" : "\"repo.ref\"";
            /* create */
            cJSON *config = printer_config("git");
            mg_project_spec spec = {.name = "git", .config = config, .repo = repo};
            mg_service_err e = {0};
            mg_project out;
            cr_assert_eq(mg_service_project_create(&fx.svc, &spec, &out, &e), -1,
                         "create with a control character (%zu) in %s", i, name);
            cr_assert_eq(e.err.code, MG_E_INVALID);
            cr_assert(strstr(e.err.msg, name) && strstr(e.err.msg, "control character"), "%s",
                      e.err.msg);
            mg_service_err_free(&e);
            mg_project none;
            mg_err ge = {0};
            cr_assert_neq(mg_store_project_get(fx.store, "git", &none, &ge), 0, "nothing stored");
            /* patch */
            memset(&e, 0, sizeof e);
            cr_assert_eq(mg_service_project_patch(&fx.svc, &p, repo, NULL, &out, &e), -1,
                         "patch with a control character (%zu) in %s", i, name);
            cr_assert_eq(e.err.code, MG_E_INVALID);
            cr_assert(strstr(e.err.msg, name), "%s", e.err.msg);
            mg_service_err_free(&e);
            cJSON_Delete(config);
            cJSON_Delete(repo);
        }
    }
    /* the project is as it was: inline sources, no repository */
    mg_project now;
    mg_err ge = {0};
    cr_assert_eq(mg_store_project_get(fx.store, "web", &now, &ge), 0, "%s", ge.msg);
    cr_assert_null(now.repo_url);
    cr_assert_not_null(now.sources);
    mg_project_free(&now);
    mg_project_free(&p);
}

Test(service_projects, patch_surfaces_a_store_failure)
{
    mg_project p = make_project("web", NULL);
    inject_store_failure("CREATE TRIGGER fail BEFORE UPDATE ON projects"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    cJSON *repo = cJSON_Parse("{\"url\": \"https://example.org/web.git\"}");
    mg_service_err e = {0};
    mg_project out;
    cr_assert_eq(mg_service_project_patch(&fx.svc, &p, repo, NULL, &out, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cJSON_Delete(repo);
    mg_project_free(&p);
}

Test(service_projects, delete_removes_a_project_with_builds_queued_and_running)
{
    mg_project p = make_project("web", "https://example.org/web.git");
    mg_service_err e = {0};
    mg_stored_build a, b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &a, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), 0, "%s",
                 e.err.msg);
    mg_err err = {0};
    cr_assert_eq(mg_store_build_claim(fx.store, &err), a.id, "%s", err.msg);
    cr_assert_eq(mg_service_project_delete(&fx.svc, &p, &e), 0, "%s", e.err.msg);
    mg_project gone;
    cr_assert_eq(mg_service_project_find(&fx.svc, "web", &gone, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);
    mg_stored_build row;
    cr_assert_eq(mg_store_build_get(fx.store, a.id, false, &row, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND, "%s", err.msg);
    cr_assert_eq(mg_store_build_get(fx.store, b.id, false, &row, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND, "%s", err.msg);
    /* and a second delete finds nothing */
    cr_assert_eq(mg_service_project_delete(&fx.svc, &p, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);
    mg_stored_build_free(&a);
    mg_stored_build_free(&b);
    mg_project_free(&p);
}

Test(service_projects, delete_surfaces_a_store_failure_and_can_be_finished_later)
{
    mg_project p = make_project("web", NULL);
    inject_store_failure("CREATE TRIGGER fail BEFORE DELETE ON projects"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    mg_service_err e = {0};
    cr_assert_eq(mg_service_project_delete(&fx.svc, &p, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
    /* the project stays marked: no build can be queued for it */
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, &p, &(mg_new_build){0}, &b, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);
    inject_store_failure("DROP TRIGGER fail;");
    cr_assert_eq(mg_service_project_delete(&fx.svc, &p, &e), 0, "%s", e.err.msg);
    mg_project_free(&p);
}

Test(service_projects, config_put_stores_new_versions_only)
{
    mg_project p = make_project("web", NULL);
    const char *doc = "{\"mgd\": 1, \"name\": \"web2\", \"devices\": {\"main\": {\"main\":"
                      " \"app_start\", \"type\": \"console -> job\", \"sources\":"
                      " [\"unikernel.c\"]}}, \"jobs\": [{\"apply\": \"main\", \"to\":"
                      " [\"default_console\"]}]}";
    mg_service_err e = {0};
    mg_config_put_result put;
    cr_assert_eq(mg_service_config_put(&fx.svc, &p, doc, strlen(doc), &put, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(put.version, 2);
    cr_assert(put.created);
    cr_assert_eq(mg_service_config_put(&fx.svc, &p, doc, strlen(doc), &put, &e), 0, "%s",
                 e.err.msg);
    cr_assert_eq(put.version, 2);
    cr_assert_not(put.created);
    const char *bad = "{\"mgd\": 1, \"name\": \"x\", \"devices\": {}, \"jobs\":"
                      " [{\"apply\": \"nothing\", \"to\": [\"default_console\"]}]}";
    cr_assert_eq(mg_service_config_put(&fx.svc, &p, bad, strlen(bad), &put, &e), -1);
    cr_assert(e.config_invalid);
    cr_assert_geq(e.config.len, 1);
    mg_service_err_free(&e);
    inject_store_failure("CREATE TRIGGER fail BEFORE INSERT ON config_versions"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    const char *doc3 = "{\"mgd\": 1, \"name\": \"web3\", \"devices\": {\"main\": {\"main\":"
                       " \"app_start\", \"type\": \"console -> job\", \"sources\":"
                       " [\"unikernel.c\"]}}, \"jobs\": [{\"apply\": \"main\", \"to\":"
                       " [\"default_console\"]}]}";
    cr_assert_eq(mg_service_config_put(&fx.svc, &p, doc3, strlen(doc3), &put, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
    mg_project_free(&p);
}

Test(service_projects, resolve_checks_the_target_and_finds_the_graph)
{
    mg_project p = make_project("web", NULL);
    mg_service_err e = {0};
    mg_resolved res;
    cr_assert_eq(mg_service_resolve(&fx.svc, &p, 0, NULL, NULL, NULL, &res, &e), 0, "%s",
                 e.err.msg);
    cr_assert_not_null(res.graph);
    cr_assert_str_eq(res.target, "unix");
    cr_assert_eq(res.config.version, 1);
    mg_resolved_free(&res);
    cr_assert_eq(mg_service_resolve(&fx.svc, &p, 0, "no-such-target", NULL, NULL, &res, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    cr_assert_not(e.config_invalid);
    cr_assert(strstr(e.err.msg, "unknown target"), "%s", e.err.msg);
    mg_service_err_free(&e);
    mg_project_free(&p);
}
