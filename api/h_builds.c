/*
 * h_builds.c - starting builds, listing them, showing, cancelling and
 * rebuilding one.
 *
 * A build request is resolved at once (the latest config version, the
 * target, arch and keys), so mistakes come back as 400/422 in the answer
 * instead of as a failed build later; the worker resolves again with the
 * sources it fetched. What the build row keeps of the keys is their
 * canonical text (the resolver's spelling: "010" becomes "10"), sorted by
 * name, so equal requests give equal input hashes.
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

void mg_reply_build_list(mg_req *r, const mg_stored_build_filter *f)
{
    mg_page pg;
    if (!mg_req_page(r, &pg)) return;
    mg_stored_build *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    char err[256] = "";
    int rc = mg_store_build_list(r->api->o.store, f, mg_page_offset(&pg), pg.per_page, &rows, &n,
                                 &total, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "builds", err);
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

/* Answers with build `id` as it is now. */
static void reply_build_id(mg_req *r, int64_t id, unsigned status)
{
    mg_stored_build b;
    char err[256] = "";
    int rc = mg_store_build_get(r->api->o.store, id, false, &b, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "build", err);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    if (mg_write_build(r, &w, &b)) {
        if (status == 202) mg_reply_header(r, "Location", "/builds/%lld", (long long)id);
        mg_reply_json(r, status);
    }
    mg_stored_build_free(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The build row's keys: {name: canonical text}, sorted by name. */
static char *canonical_keys(const mg_keys *keys, const mg_graph *g)
{
    const char **names = malloc((keys->n ? keys->n : 1) * sizeof *names);
    if (!names) return NULL;
    for (size_t i = 0; i < keys->n; i++) names[i] = keys->items[i].name;
    qsort(names, keys->n, sizeof *names, cmp_str);
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    mg_jw_object(&w);
    for (size_t i = 0; i < keys->n; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        const char *text = NULL;
        for (size_t k = 0; k < g->n_keys && !text; k++)
            if (!strcmp(g->keys[k].name, names[i]) && g->keys[k].has_value)
                text = g->keys[k].value.text;
        for (size_t k = 0; k < keys->n && !text; k++)
            if (!strcmp(keys->items[k].name, names[i])) text = keys->items[k].value;
        mg_jw_kstring(&w, names[i], text);
    }
    mg_jw_object_end(&w);
    free(names);
    return mg_buf_take(&b, NULL);
}

/* Queues a build row; answers 202 with it, 429 when the queue is full. */
static void queue_build(mg_req *r, const mg_stored_build *row)
{
    char err[256] = "";
    int64_t id = mg_store_build_create(r->api->o.store, row, r->api->o.max_queued, err, sizeof err);
    if (id == MG_STORE_CONFLICT) {
        mg_reply_header(r, "Retry-After", "10");
        mg_reply_error(r, 429, "%lld builds are queued, the limit; try again later",
                       (long long)r->api->o.max_queued);
        return;
    }
    if (id <= 0) {
        mg_reply_store(r, (int)id, "project", err);
        return;
    }
    /* read before the workers are woken, so the answer usually shows the
     * build queued (a worker polling on its own may already have it) */
    reply_build_id(r, id, 202);
    mg_queue_notify(r->api->o.queue);
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
    mg_resolved res = {0};
    char *keys_json = NULL;
    char err[512] = "";
    if (!mg_req_json(r, build_fields, 5, false, &body)) goto out;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "target");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(body, "arch");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "keys");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(body, "ref");
    const cJSON *force = cJSON_GetObjectItemCaseSensitive(body, "force");
    if (k && mg_keys_from_json(k, &keys, err, sizeof err) != 0) {
        mg_reply_error(r, 400, "%s", err);
        goto out;
    }
    if (ref && (!ref->valuestring[0] || strlen(ref->valuestring) > 1024)) {
        mg_reply_error(r, 400, "field \"ref\" must be a branch, tag or commit (1 to 1024 bytes)");
        goto out;
    }
    if (!mg_req_resolve(r, &p, t ? t->valuestring : NULL, ar ? ar->valuestring : NULL, &keys, &res))
        goto out;
    const mg_target *target = mg_targets_find(r->api->o.targets, res.target);
    const mg_target_arch *arch = mg_target_find_arch(target, res.arch);
    if (!arch) {
        mg_reply_error(r, 400, "target %s has no arch \"%.40s\"", res.target, res.arch);
        goto out;
    }
    /* a build that can only fail is refused now, with the reason */
    bool can_run;
    char why[512];
    if (!mg_target_available(target, arch, &can_run, why, sizeof why)) {
        mg_reply_error(r, 400, "target %s/%s is not available on this server: %s", res.target,
                       res.arch, why);
        goto out;
    }
    if (!(keys_json = canonical_keys(&keys, res.graph))) {
        mg_reply_error(r, 500, "out of memory");
        goto out;
    }
    if (p.sources && mg_queue_snapshot_sources(r->api->o.queue, &p, err, sizeof err) != 0) {
        mg_reply_error(r, 500, "cannot keep the project's sources for the build: %s", err);
        goto out;
    }
    mg_stored_build row = {
        .project_id = p.id,
        .target = (char *)res.target,
        .arch = (char *)res.arch,
        .keys = keys_json,
        .config_version = res.config.version,
        /* inline projects have no ref: their snapshot is the source */
        .ref = p.repo_url ? (ref ? ref->valuestring : p.repo_ref) : NULL,
        .sources_sha256 = p.sources ? p.sources_sha256 : NULL,
        .force = cJSON_IsTrue(force),
    };
    queue_build(r, &row);
out:
    free(keys_json);
    mg_resolved_free(&res);
    mg_keys_free(&keys);
    cJSON_Delete(body);
    mg_project_free(&p);
}

void mg_h_project_builds(mg_req *r)
{
    mg_project p;
    if (!mg_req_project(r, mg_req_param(r, 0), &p)) return;
    mg_stored_build_filter f = {.project_id = p.id};
    const char *target = mg_query_get(&r->query, "target");
    if (target && *target) f.target = target;
    if (status_mask(r, mg_query_get(&r->query, "status"), &f.status_mask))
        mg_reply_build_list(r, &f);
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
    char err[256] = "";
    int rc = mg_store_build_list(r->api->o.store, &f, 0, 1, &rows, &n, &total, err, sizeof err);
    if (rc != 0) {
        mg_reply_store(r, rc, "builds", err);
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
    const char *target = mg_query_get(&r->query, "target");
    const char *project = mg_query_get(&r->query, "project");
    if (target && *target) f.target = target;
    if (!status_mask(r, mg_query_get(&r->query, "status"), &f.status_mask)) return;
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

void mg_h_build_cancel(mg_req *r)
{
    int64_t id;
    char err[256] = "";
    if (!mg_parse_id(mg_req_param(r, 0), &id)) {
        mg_reply_error(r, 404, "no build %.40s", mg_req_param(r, 0));
        return;
    }
    cJSON *body = NULL;
    if (!mg_req_json(r, NULL, 0, false, &body)) return;
    cJSON_Delete(body);
    int rc = mg_queue_cancel(r->api->o.queue, id, err, sizeof err);
    if (rc == MG_STORE_NOTFOUND) {
        mg_reply_error(r, 404, "no build %lld", (long long)id);
    } else if (rc == MG_STORE_CONFLICT) {
        mg_stored_build b;
        const char *st = "finished";
        if (mg_store_build_get(r->api->o.store, id, false, &b, err, sizeof err) == 0) {
            st = mg_stored_status_name(b.status);
            mg_reply_error(r, 409, "build %lld has finished (%s): nothing to cancel", (long long)id,
                           st);
            mg_stored_build_free(&b);
        } else {
            mg_reply_error(r, 409, "build %lld has finished: nothing to cancel", (long long)id);
        }
    } else if (rc != 0) {
        mg_reply_store(r, rc, "build", err);
    } else {
        reply_build_id(r, id, 200);
    }
}

void mg_h_build_rebuild(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), false, &b)) return;
    cJSON *body = NULL;
    if (!mg_req_json(r, NULL, 0, false, &body)) goto out;
    if (!mg_stored_status_terminal(b.status)) {
        mg_reply_error(r, 409, "build %lld is %s: rebuild it once it has finished", (long long)b.id,
                       mg_stored_status_name(b.status));
        goto out;
    }
    if (!b.commit && !b.sources_sha256) {
        mg_reply_error(r, 409,
                       "build %lld never fetched its sources, so there is nothing to rebuild "
                       "the same; start a new build",
                       (long long)b.id);
        goto out;
    }
    mg_stored_build row = {
        .project_id = b.project_id,
        .target = b.target,
        .arch = b.arch,
        .keys = b.keys,
        .config_version = b.config_version,
        .ref = b.ref,
        .commit = b.commit,
        .sources_sha256 = b.sources_sha256,
        .force = true,
        .rebuild_of = b.id,
    };
    queue_build(r, &row);
out:
    cJSON_Delete(body);
    mg_stored_build_free(&b);
}
