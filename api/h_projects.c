/*
 * h_projects.c - projects, their config versions, check and graph.
 *
 * Config documents are stored canonically (mg_json_canonical: the parsed
 * document printed compactly, numbers exact), named by the sha256 of those
 * bytes. A document is
 * checked (mg_config_check: every branch, whatever the target and keys)
 * before it is stored; for a project with inline sources the paths it
 * names are checked against the tree too. Git projects have their paths
 * checked when a build fetches them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/workpool.h"
#include "daemon/sources.h"
#include "graph/describe.h"
#include "graph/svg.h"
#include "base/sha256.h"

/* ---- inline trees and configs -------------------------------------------- */

/* Path check against an inline tree: a file of the tree, or a directory
 * some file lies under. */
static const char *inline_path_check(void *ctx, const char *path, char *buf, size_t size)
{
    const cJSON *tree = ctx;
    size_t n = strlen(path);
    for (const cJSON *m = tree->child; m; m = m->next) {
        if (!m->string) continue;
        if (!strcmp(m->string, path)) return NULL;
        if (!strncmp(m->string, path, n) && m->string[n] == '/') return NULL;
    }
    snprintf(buf, size, "no such file or directory in the project's inline sources");
    return buf;
}

/* Checks a canonical config document; answers 422 when it has errors. */
static bool check_config(mg_req *r, const char *doc, const cJSON *inline_tree)
{
    mg_api *a = r->api;
    mg_errors errs = {0};
    size_t len = strlen(doc);
    if (!mg_config_check(a->o.catalog, doc, len, &a->o.config_limits, &errs)) {
        mg_reply_config_errors(r, &errs);
        mg_errors_free(&errs);
        return false;
    }
    mg_errors_free(&errs);
    if (!inline_tree) return true;
    /* Paths are checked in the resolver's first stage, the one
     * mg_config_check runs, which has just passed: any bad_path error of a
     * resolution is the tree's, whatever the target. Other errors (of the
     * second stage, for this one target) do not concern storing. */
    mg_resolve_options ro = {
        .target = "unix",
        .arch = mg_host_arch(),
        .limits = a->o.config_limits,
        .check_path = inline_path_check,
        .check_path_ctx = (void *)inline_tree,
    };
    mg_graph *g = mg_resolve(a->o.catalog, doc, len, &ro, &errs);
    mg_graph_free(g);
    mg_errors paths = {0};
    for (size_t i = 0; i < errs.len; i++)
        if (errs.items[i].code == MG_ERR_BAD_PATH)
            mg_errors_add(&paths, MG_ERR_BAD_PATH, errs.items[i].path, "%s", errs.items[i].message);
    mg_errors_free(&errs);
    bool ok = paths.len == 0;
    if (!ok) mg_reply_config_errors(r, &paths);
    mg_errors_free(&paths);
    return ok;
}

/* An inline tree from a request: checked, then canonical. Answers 413 or
 * 400 on failure. The project's sources fields point into `tree` and
 * `*json` (freed by the caller). */
static bool take_sources(mg_req *r, cJSON *tree, mg_project *p, char **json, char sha[65])
{
    int64_t bytes = 0;
    for (const cJSON *m = tree->child; m; m = m->next)
        if (cJSON_IsString(m)) bytes += (int64_t)strlen(m->valuestring);
    if ((uint64_t)bytes > r->api->o.max_sources) {
        mg_reply_error(r, 413, "the inline sources are %lld bytes; the limit is %zu",
                       (long long)bytes, r->api->o.max_sources);
        return false;
    }
    mg_err err = {0};
    if (mg_sources_inline_check(tree, r->api->o.max_sources, &err) != 0) {
        mg_reply_error(r, 400, "%s", err.msg[0] ? err.msg : "sources: invalid tree");
        return false;
    }
    if (mg_sources_canonical(tree, json, sha, &p->sources_files, &p->sources_bytes) != 0) {
        mg_reply_error(r, 500, "out of memory");
        return false;
    }
    p->sources = *json;
    p->sources_sha256 = sha;
    p->repo_url = p->repo_ref = NULL;
    return true;
}

/* Repository fields: a URL of some kind (the fetch judges it), a ref. */
static bool repo_text_ok(mg_req *r, const char *field, const char *s, bool empty_ok)
{
    size_t n = strlen(s);
    if (!n && !empty_ok) {
        mg_reply_error(r, 400, "field \"%s\" is empty", field);
        return false;
    }
    if (n > 4096) {
        mg_reply_error(r, 400, "field \"%s\" is longer than 4096 bytes", field);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            mg_reply_error(r, 400, "field \"%s\" contains a control character", field);
            return false;
        }
    return true;
}

static const mg_field repo_fields[] = {
    {"url", MG_JT_STRING, true},
    {"ref", MG_JT_STRING, false},
};
static const mg_field repo_patch_fields[] = {
    {"url", MG_JT_STRING, false},
    {"ref", MG_JT_STRING, false},
};

/* Reads {"url", "ref"} into p (pointing into the JSON); `patch` allows a
 * partial object that keeps p's current values. */
static bool take_repo(mg_req *r, const cJSON *repo, mg_project *p, bool patch)
{
    char err[256];
    if (mg_json_check_fields(repo, patch ? repo_patch_fields : repo_fields, 2, "repo.", err,
                             sizeof err) != 0) {
        mg_reply_error(r, 400, "%s", err);
        return false;
    }
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(repo, "url");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(repo, "ref");
    if (url && !repo_text_ok(r, "repo.url", url->valuestring, false)) return false;
    if (ref && !repo_text_ok(r, "repo.ref", ref->valuestring, false)) return false;
    bool was_git = p->repo_url != NULL;
    if (!url && !was_git) {
        mg_reply_error(r, 400,
                       "field \"repo.url\" is required (the project has no repository "
                       "yet)");
        return false;
    }
    if (url) p->repo_url = url->valuestring;
    if (ref)
        p->repo_ref = ref->valuestring;
    else if (!was_git)
        p->repo_ref = NULL;
    p->sources = p->sources_sha256 = NULL;
    p->sources_files = p->sources_bytes = 0;
    return true;
}

static void reply_project(mg_req *r, int64_t id, unsigned status)
{
    mg_project p = {0};
    char err[256] = "";
    int rc = mg_store_project_get_id(r->api->o.store, id, &p, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "project", err);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_view_project(&w, &p);
    mg_project_free(&p);
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
    char *sources_json = NULL, *config = NULL;
    char sources_sha[65], config_sha[65], err[512] = "";
    const char *name = cJSON_GetObjectItemCaseSensitive(body, "name")->valuestring;
    cJSON *repo = cJSON_GetObjectItemCaseSensitive(body, "repo");
    cJSON *sources = cJSON_GetObjectItemCaseSensitive(body, "sources");
    mg_project p = {0};
    if (!mg_project_name_valid(name)) {
        mg_reply_error(r, 400,
                       "field \"name\" must match ^[a-z0-9][a-z0-9_.-]{0,62}$ and not be all "
                       "digits");
        goto out;
    }
    if (!repo == !sources) {
        mg_reply_error(r, 400,
                       repo ? "give either \"repo\" or \"sources\", not both"
                            : "give \"repo\" (a git repository) or \"sources\" (an "
                              "inline tree)");
        goto out;
    }
    p.name = (char *)name;
    if (repo && !take_repo(r, repo, &p, false)) goto out;
    if (sources && !take_sources(r, sources, &p, &sources_json, sources_sha)) goto out;
    config = mg_json_canonical(cJSON_GetObjectItemCaseSensitive(body, "config"), err, sizeof err);
    if (!config) {
        mg_reply_error(r, 400, "config: %s", err);
        goto out;
    }
    if (!check_config(r, config, sources)) goto out;
    mg_sha256_bytes_hex(config, strlen(config), config_sha);
    int64_t id = mg_store_project_create(r->api->o.store, &p, config, config_sha, err, sizeof err);
    if (id <= 0) {
        if (id == MG_STORE_CONFLICT)
            mg_reply_error(r, 409, "a project named \"%s\" exists", name);
        else
            mg_reply_store(r, (int)id, "project", err);
        goto out;
    }
    mg_reply_header(r, "Location", "/projects/%lld", (long long)id);
    reply_project(r, id, 201);
out:
    free(sources_json);
    cJSON_free(config);
    cJSON_Delete(body);
}

void mg_h_projects_list(mg_req *r)
{
    mg_page pg;
    if (!mg_req_page(r, &pg)) return;
    mg_project *ps = NULL;
    size_t n = 0;
    int64_t total = 0;
    char err[256] = "";
    int rc = mg_store_project_list(r->api->o.store, mg_page_offset(&pg), pg.per_page, &ps, &n,
                                   &total, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "projects", err);
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
        mg_build_filter f = {.project_id = p->id, .status_mask = status_mask, .target = t->name};
        mg_build_row *rows = NULL;
        size_t n = 0;
        int64_t total = 0;
        char err[256] = "";
        int rc = mg_store_build_list(r->api->o.store, &f, 0, 1, &rows, &n, &total, err, sizeof err);
        if (rc != 0) {
            mg_reply_store(r, rc, "builds", err);
            return false;
        }
        bool ok = true;
        if (n) {
            mg_jw_key(w, t->name);
            ok = mg_write_build(r, w, &rows[0]);
        }
        mg_build_rows_free(rows, n);
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
        ok = latest_by_target(r, &w, &p, 1u << MG_BUILD_SUCCEEDED);
    }
    mg_jw_object_end(&w);
    mg_project_free(&p);
    if (ok) mg_reply_json(r, 200);
}

static const mg_field patch_fields[] = {
    {"name", ~0u, false},
    {"repo", MG_JT_OBJECT, false},
    {"sources", MG_JT_OBJECT, false},
};

void mg_h_project_patch(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    cJSON *body = NULL;
    char *sources_json = NULL;
    char sha[65], err[256] = "";
    mg_project np = p;
    if (!mg_req_json(r, patch_fields, 3, true, &body)) goto out;
    cJSON *repo = cJSON_GetObjectItemCaseSensitive(body, "repo");
    cJSON *sources = cJSON_GetObjectItemCaseSensitive(body, "sources");
    if (cJSON_GetObjectItemCaseSensitive(body, "name")) {
        mg_reply_error(r, 400, "field \"name\" cannot be changed");
        goto out;
    }
    if (!repo == !sources) {
        mg_reply_error(r, 400,
                       repo ? "give either \"repo\" or \"sources\", not both"
                            : "give \"repo\" or \"sources\" to change");
        goto out;
    }
    if (repo && !take_repo(r, repo, &np, true)) goto out;
    if (sources && !take_sources(r, sources, &np, &sources_json, sha)) goto out;
    if (sources) {
        /* the new tree must hold what the current config names, as a new
         * config must name what the tree holds */
        mg_config_version cv;
        int crc = mg_store_config_get(r->api->o.store, p.id, 0, &cv, err, sizeof err);
        if (crc != 0) {
            mg_reply_store(r, crc, "project", err);
            goto out;
        }
        bool fits = check_config(r, cv.document, sources);
        mg_config_version_free(&cv);
        if (!fits) goto out;
    }
    int rc = mg_store_project_update_sources(r->api->o.store, &np, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "project", err);
        goto out;
    }
    reply_project(r, p.id, 200);
out:
    free(sources_json);
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
    char err[512] = "";
    int rc = mg_queue_delete_project(r->api->o.queue, d->id, err, sizeof err);
    if (rc == 0)
        mg_reply(r, 204, NULL);
    else if (rc == MG_STORE_NOTFOUND)
        mg_reply_error(r, 404, "no project \"%.100s\"", d->name);
    else
        mg_reply_error(r, 500, "cannot delete project %s: %s", d->name,
                       err[0] ? err : "unknown error");
}

/* The whole delete (builds stopped, rows, logs, blobs and mirror removed)
 * is the queue's: mg_queue_delete_project. It waits for the project's
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
    mg_api *a = r->api;
    mg_errors errs = {0};
    cJSON *doc = NULL, *tree = NULL;
    char *canon = NULL;
    char err[512] = "";
    /* The document as sent first, so parse errors point into what the
     * client wrote. */
    const char *body = r->body ? r->body : "";
    if (!mg_config_check(a->o.catalog, body, r->body_len, &a->o.config_limits, &errs)) {
        mg_reply_config_errors(r, &errs);
        goto out;
    }
    if (mg_json_parse_body(body, r->body_len, &doc, err, sizeof err) != 0 || !doc) {
        mg_reply_error(r, 400, "%s", err[0] ? err : "the body must be the config document");
        goto out;
    }
    if (!(canon = mg_json_canonical(doc, err, sizeof err))) {
        mg_reply_error(r, 400, "%s", err);
        goto out;
    }
    if (p.sources && !(tree = cJSON_Parse(p.sources))) {
        mg_reply_error(r, 500, "the project's stored sources do not parse");
        goto out;
    }
    if (!check_config(r, canon, tree)) goto out;
    char sha[65];
    mg_sha256_bytes_hex(canon, strlen(canon), sha);
    int64_t version = 0;
    bool created = false;
    int rc = mg_store_config_put(a->o.store, p.id, canon, sha, &version, &created, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "project", err);
        goto out;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_object(&w);
    mg_jw_kint(&w, "version", version);
    mg_jw_object_end(&w);
    mg_reply_header(r, "Location", "/projects/%lld/config?version=%lld", (long long)p.id,
                    (long long)version);
    mg_reply_json(r, created ? 201 : 200);
out:
    mg_errors_free(&errs);
    cJSON_Delete(doc);
    cJSON_Delete(tree);
    cJSON_free(canon);
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
    char err[256] = "";
    int rc = mg_store_config_get(r->api->o.store, p.id, version, &c, err, sizeof err);
    if (rc == MG_STORE_NOTFOUND) {
        if (version)
            mg_reply_error(r, 404, "project %s has no config version %lld", p.name,
                           (long long)version);
        else
            mg_reply_error(r, 404, "project %s has no config", p.name);
    } else if (rc != 0) {
        mg_reply_store(r, rc, "config", err);
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
    char err[256] = "";
    int rc = mg_store_config_list(r->api->o.store, p.id, mg_page_offset(&pg), pg.per_page, &vs, &n,
                                  &total, err, sizeof err);
    mg_project_free(&p);
    if (rc != 0) {
        mg_reply_store(r, rc, "config versions", err);
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

void mg_resolved_free(mg_resolved *x)
{
    mg_graph_free(x->graph);
    mg_config_version_free(&x->config);
    memset(x, 0, sizeof *x);
}

bool mg_req_resolve(mg_req *r, const mg_project *p, const char *target, const char *arch,
                    const mg_keys *keys, mg_resolved *out)
{
    mg_api *a = r->api;
    memset(out, 0, sizeof *out);
    out->target = target ? target : "unix";
    out->arch = arch ? arch : mg_host_arch();
    const mg_targets *ts = a->o.targets;
    if (!mg_targets_find(ts, out->target)) {
        mg_buf names = {0};
        for (size_t i = 0; i < mg_targets_count(ts); i++)
            mg_buf_printf(&names, "%s%s", i ? ", " : "", mg_targets_get(ts, i)->name);
        mg_reply_error(r, 400, "unknown target \"%.100s\" (targets: %s)", out->target,
                       names.data ? names.data : "none");
        mg_buf_free(&names);
        return false;
    }
    if (p->config_version <= 0) {
        mg_reply_error(r, 409, "project %s has no config", p->name);
        return false;
    }
    char err[256] = "";
    int rc = mg_store_config_get(a->o.store, p->id, 0, &out->config, err, sizeof err);
    if (rc != 0) {
        if (rc == MG_STORE_NOTFOUND)
            mg_reply_error(r, 409, "project %s has no config", p->name);
        else
            mg_reply_store(r, rc, "config", err);
        return false;
    }
    cJSON *tree = NULL;
    if (p->sources && !(tree = cJSON_Parse(p->sources))) {
        mg_reply_error(r, 500, "the project's stored sources do not parse");
        mg_resolved_free(out);
        return false;
    }
    mg_resolve_options ro = {
        .target = out->target,
        .arch = out->arch,
        .keys = keys ? keys->items : NULL,
        .n_keys = keys ? keys->n : 0,
        .limits = a->o.config_limits,
        .check_path = tree ? inline_path_check : NULL,
        .check_path_ctx = tree,
    };
    mg_errors errs = {0};
    const char *doc = out->config.document;
    out->graph = mg_resolve(a->o.catalog, doc, strlen(doc), &ro, &errs);
    cJSON_Delete(tree);
    if (!out->graph) {
        mg_reply_config_errors(r, &errs);
        mg_errors_free(&errs);
        mg_resolved_free(out);
        return false;
    }
    mg_errors_free(&errs);
    return true;
}

static const mg_field check_fields[] = {
    {"target", MG_JT_STRING, false},
    {"arch", MG_JT_STRING, false},
    {"keys", MG_JT_OBJECT, false},
    {"ref", MG_JT_STRING, false},
};

void mg_h_check(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    cJSON *body = NULL;
    mg_keys keys = {0};
    mg_resolved res = {0};
    char err[256];
    if (!mg_req_json(r, check_fields, 4, false, &body)) goto out;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "target");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(body, "arch");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "keys");
    if (k && mg_keys_from_json(k, &keys, err, sizeof err) != 0) {
        mg_reply_error(r, 400, "%s", err);
        goto out;
    }
    if (!mg_req_resolve(r, &p, t ? t->valuestring : NULL, ar ? ar->valuestring : NULL, &keys, &res))
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
    char err[256];
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
    if (mg_keys_from_pairs(pairs, n, &keys, err, sizeof err) != 0) {
        mg_reply_error(r, 400, "%s", err);
        goto out;
    }
    const char *t = mg_query_get(&r->query, "target"), *ar = mg_query_get(&r->query, "arch");
    if (!mg_req_resolve(r, &p, t && *t ? t : NULL, ar && *ar ? ar : NULL, &keys, &res)) goto out;
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
