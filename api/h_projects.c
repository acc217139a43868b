/*
 * h_projects.c - projects, their config versions, check and graph: the
 * requests parsed, the service (service/service.h) called, its answer
 * rendered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/workpool.h"
#include "graph/describe.h"
#include "graph/svg.h"

static void reply_project(mg_req *r, const mg_project *p, unsigned status)
{
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_view_project(&w, p);
    mg_reply_json(r, status);
}

/* ---- endpoints ----------------------------------------------------------- */

static const mg_field create_fields[] = {
    {"name", MG_JT_STRING, true},
    {"config", MG_JT_OBJECT, true},
    {"repo", MG_JT_OBJECT, false},
    {"sources", MG_JT_OBJECT, false},
};

void mg_h_projects_create(mg_req *r)
{
    cJSON *body;
    if (!mg_req_json(r, create_fields, 4, true, &body)) return;
    mg_project_spec spec = {
        .name = cJSON_GetObjectItemCaseSensitive(body, "name")->valuestring,
        .config = cJSON_GetObjectItemCaseSensitive(body, "config"),
        .repo = cJSON_GetObjectItemCaseSensitive(body, "repo"),
        .sources = cJSON_GetObjectItemCaseSensitive(body, "sources"),
    };
    mg_service_err e = {0};
    mg_project p;
    if (mg_service_project_create(r->api->o.service, &spec, &p, &e) == 0) {
        mg_reply_header(r, "Location", "/projects/%lld", (long long)p.id);
        reply_project(r, &p, 201);
        mg_project_free(&p);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
    cJSON_Delete(body);
}

void mg_h_projects_list(mg_req *r)
{
    mg_page pg;
    if (!mg_req_page(r, &pg)) return;
    mg_project *ps = NULL;
    size_t n = 0;
    int64_t total = 0;
    mg_err e;
    if (mg_store_project_list(r->api->o.store, mg_page_offset(&pg), pg.per_page, &ps, &n, &total,
                              &e) != 0) {
        mg_reply_err(r, &e);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_array(&w);
    for (size_t i = 0; i < n; i++) mg_view_project(&w, &ps[i]);
    mg_jw_array_end(&w);
    mg_projects_free(ps, n);
    mg_reply_list_headers(r, &pg, total);
    mg_reply_json(r, 200);
}

/* "latest_builds" or "latest_succeeded": the newest build per target. */
static bool latest_by_target(mg_req *r, mg_jw *w, const mg_project *p, unsigned status_mask)
{
    const mg_targets *ts = r->api->o.targets;
    mg_jw_object(w);
    for (size_t i = 0; i < mg_targets_count(ts); i++) {
        const mg_target *t = mg_targets_get(ts, i);
        mg_stored_build_filter f = {
            .project_id = p->id, .status_mask = status_mask, .target = t->name};
        mg_stored_build *rows = NULL;
        size_t n = 0;
        int64_t total = 0;
        mg_err e;
        if (mg_store_build_list(r->api->o.store, &f, 0, 1, &rows, &n, &total, &e) != 0) {
            mg_reply_err(r, &e);
            return false;
        }
        bool ok = true;
        if (n) {
            mg_jw_key(w, t->name);
            ok = mg_write_build(r, w, &rows[0]);
        }
        mg_stored_builds_free(rows, n);
        if (!ok) return false;
    }
    mg_jw_object_end(w);
    return true;
}

void mg_h_project_show(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_object(&w);
    mg_view_project_fields(&w, &p);
    mg_jw_key(&w, "latest_builds");
    bool ok = latest_by_target(r, &w, &p, 0);
    if (ok) {
        mg_jw_key(&w, "latest_succeeded");
        ok = latest_by_target(r, &w, &p, 1u << MG_STORED_SUCCEEDED);
    }
    mg_jw_object_end(&w);
    mg_project_free(&p);
    if (ok) mg_reply_json(r, 200);
}

static const mg_field patch_fields[] = {
    {"name", ~0u, false},
    {"repo", MG_JT_OBJECT, false},
    {"sources", MG_JT_OBJECT, false},
    {"retention", MG_JT_OBJECT | MG_JT_NULL, false},
};

void mg_h_project_patch(mg_req *r)
{
    mg_project p, changed = {0};
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    cJSON *body = NULL;
    mg_service_err e = {0};
    if (!mg_req_json(r, patch_fields, 4, true, &body)) goto out;
    if (cJSON_GetObjectItemCaseSensitive(body, "name")) {
        mg_reply_error(r, 400, "field \"name\" cannot be changed");
        goto out;
    }
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(body, "repo");
    cJSON *sources = cJSON_GetObjectItemCaseSensitive(body, "sources");
    const cJSON *retention = cJSON_GetObjectItemCaseSensitive(body, "retention");
    int64_t keep = -1;
    /* all of the request is checked before any of it is stored */
    if (retention && mg_service_retention_parse(retention, &keep, &e) != 0) {
        mg_reply_service_err(r, &e);
        goto out;
    }
    int rc = 0;
    if (repo || sources || !retention)
        rc = mg_service_project_patch(r->api->o.service, &p, repo, sources, &changed, &e);
    if (rc == 0 && retention) {
        mg_project_free(&changed);
        rc = mg_service_project_retention(r->api->o.service, &p, keep, &changed, &e);
    }
    if (rc == 0)
        reply_project(r, &changed, 200);
    else
        mg_reply_service_err(r, &e);
out:
    mg_project_free(&changed);
    mg_service_err_free(&e);
    cJSON_Delete(body);
    mg_project_free(&p);
}

typedef struct {
    int64_t id;
    char *name;
} delete_job;

static void delete_job_free(void *arg)
{
    delete_job *d = arg;
    free(d->name);
    free(d);
}

static void delete_work(mg_work *w, mg_req *r, void *arg)
{
    (void)w;
    delete_job *d = arg;
    mg_project p = {.id = d->id, .name = d->name};
    mg_service_err e = {0};
    if (mg_service_project_delete(r->api->o.service, &p, &e) == 0)
        mg_reply(r, 204, NULL);
    else
        mg_reply_service_err(r, &e);
    mg_service_err_free(&e);
}

/* The whole delete (builds stopped, rows, logs, blobs and mirror removed)
 * is the service's: mg_service_project_delete. It waits for the project's
 * running builds to let go and removes files: on the work pool, not on an
 * HTTP thread. */
void mg_h_project_delete(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    delete_job *d = mg_xmalloc(sizeof *d);
    *d = (delete_job){.id = p.id, .name = mg_xstrdup(p.name)};
    mg_project_free(&p);
    if (mg_req_defer(r, delete_work, delete_job_free, d)) return;
    delete_job_free(d);
    mg_reply_header(r, "Retry-After", "1");
    mg_reply_error(r, 503, "the daemon's work pool is full; try again in a moment");
}

void mg_h_config_put(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_service_err e = {0};
    mg_config_put_result put;
    if (mg_service_config_put(r->api->o.service, &p, r->body, r->body_len, &put, &e) == 0) {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        mg_jw_object(&w);
        mg_jw_kint(&w, "version", put.version);
        mg_jw_object_end(&w);
        mg_reply_header(r, "Location", "/projects/%lld/config?version=%lld", (long long)p.id,
                        (long long)put.version);
        mg_reply_json(r, put.created ? 201 : 200);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
    mg_project_free(&p);
}

void mg_h_config_get(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    int64_t version = 0;
    const char *v = mg_query_get(&r->query, "version");
    if (v && mg_parse_i64(v, 1, INT64_MAX, &version) != 0) {
        mg_reply_error(r, 400, "version must be a positive integer");
        mg_project_free(&p);
        return;
    }
    mg_config_version c = {0};
    mg_err e;
    int rc = mg_store_config_get(r->api->o.store, p.id, version, &c, &e);
    if (rc != 0 && e.code == MG_E_NOT_FOUND) {
        if (version)
            mg_reply_error(r, 404, "project %s has no config version %lld", p.name,
                           (long long)version);
        else
            mg_reply_error(r, 404, "project %s has no config", p.name);
    } else if (rc != 0) {
        mg_reply_err(r, &e);
    } else {
        mg_reply_header(r, "X-Config-Version", "%lld", (long long)c.version);
        mg_reply_text(r, 200, "application/json", c.document, strlen(c.document));
    }
    mg_config_version_free(&c);
    mg_project_free(&p);
}

void mg_h_config_versions(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_page pg;
    if (!mg_req_page(r, &pg)) {
        mg_project_free(&p);
        return;
    }
    mg_config_version *vs = NULL;
    size_t n = 0;
    int64_t total = 0;
    mg_err e;
    int rc = mg_store_config_list(r->api->o.store, p.id, mg_page_offset(&pg), pg.per_page, &vs, &n,
                                  &total, &e);
    mg_project_free(&p);
    if (rc != 0) {
        mg_reply_err(r, &e);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_array(&w);
    for (size_t i = 0; i < n; i++) mg_view_config_version(&w, &vs[i]);
    mg_jw_array_end(&w);
    for (size_t i = 0; i < n; i++) mg_config_version_free(&vs[i]);
    free(vs);
    mg_reply_list_headers(r, &pg, total);
    mg_reply_json(r, 200);
}

/* ---- resolution ---------------------------------------------------------- */

/* Resolves config version `version` (0: the latest) through the service;
 * false after answering its error. */
static bool resolve(mg_req *r, const mg_project *p, int64_t version, const char *target,
                    const char *arch, const mg_keys *keys, mg_resolved *out)
{
    mg_service_err e = {0};
    bool ok = mg_service_resolve(r->api->o.service, p, version, target, arch, keys, out, &e) == 0;
    if (!ok) mg_reply_service_err(r, &e);
    mg_service_err_free(&e);
    return ok;
}

static const mg_field check_fields[] = {
    {"target", MG_JT_STRING, false},   {"arch", MG_JT_STRING, false},
    {"keys", MG_JT_OBJECT, false},     {"ref", MG_JT_STRING, false},
    {"version", MG_JT_INTEGER, false},
};

void mg_h_check(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    cJSON *body = NULL;
    mg_keys keys = {0};
    mg_resolved res = {0};
    mg_err e;
    if (!mg_req_json(r, check_fields, 5, false, &body)) goto out;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "target");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(body, "arch");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "keys");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "version");
    if (v && v->valuedouble < 1) {
        mg_reply_error(r, 400, "version must be a positive integer");
        goto out;
    }
    if (k && mg_keys_from_json(k, &keys, &e) != 0) {
        mg_reply_err(r, &e);
        goto out;
    }
    if (!resolve(r, &p, v ? (int64_t)v->valuedouble : 0, t ? t->valuestring : NULL,
                 ar ? ar->valuestring : NULL, &keys, &res))
        goto out;
    char *json = mg_describe_json(res.graph);
    if (json)
        mg_reply_text(r, 200, "application/json", json, strlen(json));
    else
        mg_reply_error(r, 500, "out of memory");
    free(json);
out:
    mg_resolved_free(&res);
    mg_keys_free(&keys);
    cJSON_Delete(body);
    mg_project_free(&p);
}

void mg_h_graph(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_keys keys = {0};
    mg_resolved res = {0};
    mg_err e;
    const char *format = mg_query_get(&r->query, "format");
    if (!format || !*format) format = "json";
    if (strcmp(format, "json") && strcmp(format, "dot") && strcmp(format, "svg")) {
        mg_reply_error(r, 400, "format is json, dot or svg, not \"%.40s\"", format);
        goto out;
    }
    const char *pairs[MG_QUERY_MAX];
    size_t n = 0;
    for (size_t i = 0; i < r->query.n; i++)
        if (!strcmp(r->query.items[i].key, "key")) pairs[n++] = r->query.items[i].value;
    if (mg_keys_from_pairs(pairs, n, &keys, &e) != 0) {
        mg_reply_err(r, &e);
        goto out;
    }
    const char *t = mg_query_get(&r->query, "target"), *ar = mg_query_get(&r->query, "arch");
    const char *v = mg_query_get(&r->query, "version");
    int64_t version = 0;
    if (v && *v && mg_parse_i64(v, 1, INT64_MAX, &version) != 0) {
        mg_reply_error(r, 400, "version must be a positive integer");
        goto out;
    }
    if (!resolve(r, &p, version, t && *t ? t : NULL, ar && *ar ? ar : NULL, &keys, &res)) goto out;
    char *text;
    const char *ctype;
    if (!strcmp(format, "dot")) {
        text = mg_describe_dot(res.graph);
        ctype = "text/vnd.graphviz; charset=utf-8";
    } else if (!strcmp(format, "svg")) {
        ctype = "image/svg+xml";
        if (mg_graphviz_available()) {
            /* drawn on the work pool, or from the cache: it answers */
            char *dot = mg_describe_dot(res.graph);
            if (dot)
                mg_graphviz_reply(r, dot, strlen(dot));
            else
                mg_reply_error(r, 500, "out of memory");
            goto out;
        }
        /* no Graphviz here: mgd's own layered drawing */
        text = mg_describe_svg(res.graph);
        mg_reply_header(r, "X-Graph-Renderer", "mgd");
    } else {
        text = mg_describe_json(res.graph);
        ctype = "application/json";
    }
    if (text)
        mg_reply_text(r, 200, ctype, text, strlen(text));
    else
        mg_reply_error(r, 500, "out of memory");
    free(text);
out:
    mg_resolved_free(&res);
    mg_keys_free(&keys);
    mg_project_free(&p);
}
