/*
 * h_builds.c - starting builds, listing them, showing, cancelling and
 * rebuilding one. What starting, rebuilding and cancelling do is the
 * service's (service/builds.c); these parse, call it and render.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

/* "queued,running" -> a bit per status; false after answering 400. */
static bool status_mask(mg_req *r, const char *list, unsigned *mask)
{
    *mask = 0;
    if (!list || !*list) return true;
    char name[32];
    const char *p = list;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        int st = -1;
        if (n < sizeof name) {
            memcpy(name, p, n);
            name[n] = 0;
            st = mg_stored_status_parse(name);
        }
        if (st < 0) {
            mg_reply_error(r, 400,
                           "status must be a comma-separated list of queued, running, "
                           "succeeded, failed, cancelled, interrupted; not \"%.*s\"",
                           (int)(n < 64 ? n : 64), p);
            return false;
        }
        *mask |= 1u << st;
        if (!c) break;
        p = c + 1;
    }
    return true;
}

/* Longer searches are refused: no build has a longer id, commit, ref,
 * project name or key=value worth finding by a part of it. */
#define MG_BUILD_Q_MAX 200

/* The filters GET /builds and GET /projects/:id/builds share (docs/api.md):
 * status, target, arch, reused, config_version, q; false after answering
 * 400. */
static bool list_filters(mg_req *r, mg_stored_build_filter *f)
{
    const mg_query *q = &r->query;
    const char *target = mg_query_get(q, "target"), *arch = mg_query_get(q, "arch");
    const char *reused = mg_query_get(q, "reused"), *cv = mg_query_get(q, "config_version");
    const char *text = mg_query_get(q, "q");
    if (target && *target) f->target = target;
    if (arch && *arch) f->arch = arch;
    if (!status_mask(r, mg_query_get(q, "status"), &f->status_mask)) return false;
    if (reused && *reused) {
        if (!strcmp(reused, "true"))
            f->reused = MG_REUSED_ONLY;
        else if (!strcmp(reused, "false"))
            f->reused = MG_REUSED_NOT;
        else {
            mg_reply_error(r, 400, "reused must be true or false, not \"%.40s\"", reused);
            return false;
        }
    }
    if (cv && *cv && mg_parse_i64(cv, 1, INT64_MAX, &f->config_version) != 0) {
        mg_reply_error(r, 400, "config_version must be a positive integer, not \"%.40s\"", cv);
        return false;
    }
    if (text && strlen(text) > MG_BUILD_Q_MAX) {
        mg_reply_error(r, 400, "q is %zu bytes; a search is at most %d", strlen(text),
                       MG_BUILD_Q_MAX);
        return false;
    }
    if (text && *text) f->q = text;
    return true;
}

void mg_reply_build_list(mg_req *r, const mg_stored_build_filter *f)
{
    mg_page pg;
    if (!mg_req_page(r, &pg)) return;
    mg_stored_build *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    mg_err e;
    if (mg_store_build_list(r->api->o.store, f, mg_page_offset(&pg), pg.per_page, &rows, &n, &total,
                            &e) != 0) {
        mg_reply_err(r, &e);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_array(&w);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) ok = mg_write_build(r, &w, &rows[i]);
    mg_jw_array_end(&w);
    mg_stored_builds_free(rows, n);
    if (!ok) return;
    mg_reply_list_headers(r, &pg, total);
    mg_reply_json(r, 200);
}

/* Answers with a build the service returned. */
static void reply_build(mg_req *r, const mg_stored_build *b, unsigned status)
{
    mg_jw w;
    mg_jw_init(&w, &r->out);
    if (mg_write_build(r, &w, b)) {
        if (status == 202) mg_reply_header(r, "Location", "/builds/%lld", (long long)b->id);
        mg_reply_json(r, status);
    }
}

static const mg_field build_fields[] = {
    {"target", MG_JT_STRING, false}, {"arch", MG_JT_STRING, false}, {"keys", MG_JT_OBJECT, false},
    {"ref", MG_JT_STRING, false},    {"force", MG_JT_BOOL, false},
};

void mg_h_build_start(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    cJSON *body = NULL;
    mg_keys keys = {0};
    mg_service_err e = {0};
    if (!mg_req_json(r, build_fields, 5, false, &body)) goto out;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "target");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(body, "arch");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "keys");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(body, "ref");
    if (k && mg_keys_from_json(k, &keys, &e.err) != 0) {
        mg_reply_err(r, &e.err);
        goto out;
    }
    mg_new_build spec = {
        .target = t ? t->valuestring : NULL,
        .arch = ar ? ar->valuestring : NULL,
        .keys = &keys,
        .ref = ref ? ref->valuestring : NULL,
        .force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "force")),
    };
    mg_stored_build b;
    if (mg_service_build_start(r->api->o.service, &p, &spec, &b, &e) == 0) {
        reply_build(r, &b, 202);
        mg_stored_build_free(&b);
    } else {
        mg_reply_service_err(r, &e);
    }
out:
    mg_service_err_free(&e);
    mg_keys_free(&keys);
    cJSON_Delete(body);
    mg_project_free(&p);
}

void mg_h_project_builds(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_stored_build_filter f = {.project_id = p.id};
    if (list_filters(r, &f)) mg_reply_build_list(r, &f);
    mg_project_free(&p);
}

void mg_h_project_builds_latest(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_stored_build_filter f = {.project_id = p.id, .status_mask = 1u << MG_STORED_SUCCEEDED};
    const char *target = mg_query_get(&r->query, "target");
    const char *status = mg_query_get(&r->query, "status");
    if (target && *target) f.target = target;
    if (status && *status && !status_mask(r, status, &f.status_mask)) goto out;
    mg_stored_build *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    mg_err e;
    if (mg_store_build_list(r->api->o.store, &f, 0, 1, &rows, &n, &total, &e) != 0) {
        mg_reply_err(r, &e);
    } else if (n == 0) {
        mg_reply_error(r, 404, "project %s has no build that matches", p.name);
    } else {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        if (mg_write_build(r, &w, &rows[0])) {
            mg_reply_header(r, "Content-Location", "/builds/%lld", (long long)rows[0].id);
            mg_reply_json(r, 200);
        }
    }
    mg_stored_builds_free(rows, n);
out:
    mg_project_free(&p);
}

void mg_h_builds_list(mg_req *r)
{
    mg_stored_build_filter f = {0};
    const char *project = mg_query_get(&r->query, "project");
    if (!list_filters(r, &f)) return;
    if (project && *project) {
        mg_project p;
        if (!mg_req_project(r, project, &p)) return;
        f.project_id = p.id;
        mg_project_free(&p);
    }
    mg_reply_build_list(r, &f);
}

void mg_h_build_show(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), false, &b)) return;
    mg_jw w;
    mg_jw_init(&w, &r->out);
    if (mg_write_build(r, &w, &b)) mg_reply_json(r, 200);
    mg_stored_build_free(&b);
}

/* Cancel and pin: an id in the path, an empty JSON body (or none), one
 * call of the service, the build as it is then. */
static void
build_action(mg_req *r,
             int (*act)(mg_service *, int64_t, bool, mg_stored_build *, mg_service_err *), bool on)
{
    int64_t id;
    if (!mg_req_build_id(r, &id)) return;
    cJSON *body = NULL;
    if (!mg_req_json(r, NULL, 0, false, &body)) return;
    cJSON_Delete(body);
    mg_service_err e = {0};
    mg_stored_build b;
    if (act(r->api->o.service, id, on, &b, &e) == 0) {
        reply_build(r, &b, 200);
        mg_stored_build_free(&b);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
}

/* mg_service_build_cancel in build_action's shape (`on` is unused). */
static int cancel(mg_service *s, int64_t id, bool on, mg_stored_build *b, mg_service_err *e)
{
    (void)on;
    return mg_service_build_cancel(s, id, b, e);
}

void mg_h_build_cancel(mg_req *r)
{
    build_action(r, cancel, true);
}

/* POST and DELETE /builds/:id/pin: gc keeps a pinned build. */
void mg_h_build_pin(mg_req *r)
{
    build_action(r, mg_service_build_pin, r->method == MG_HTTP_POST);
}

void mg_h_build_rebuild(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), false, &b)) return;
    cJSON *body = NULL;
    mg_service_err e = {0};
    if (!mg_req_json(r, NULL, 0, false, &body)) goto out;
    mg_stored_build queued;
    if (mg_service_build_rebuild(r->api->o.service, &b, &queued, &e) == 0) {
        reply_build(r, &queued, 202);
        mg_stored_build_free(&queued);
    } else {
        mg_reply_service_err(r, &e);
    }
out:
    mg_service_err_free(&e);
    cJSON_Delete(body);
    mg_stored_build_free(&b);
}
