/*
 * h_misc.c - the small endpoints: /health, /metrics,
 * /targets, /devices, /schema/config.json, /hash, the tokens (made
 * and revoked by the service, service/tokens.c), /whoami, POST /gc and the stream
 * of changes GET /events (sse.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/embedded.h"
#include "api/internal.h"
#include "api/workpool.h"
#include "daemon/tokens.h"
#include "base/sha256.h"

/* The embedded JSON Schema (graph/config.schema.json, cmake/embed.cmake). */
MG_EMBEDDED_FILES(mg_config_schema_files);

void mg_h_health(mg_req *r)
{
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_object(&w);
    mg_jw_kstring(&w, "status", "ok");
    mg_jw_kstring(&w, "version", r->api->o.version);
    mg_jw_object_end(&w);
    mg_reply_json(r, 200);
}

void mg_h_metrics(mg_req *r)
{
    mg_metrics_render(r->api, &r->out);
    mg_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8");
}

void mg_h_targets(mg_req *r)
{
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_view_targets(&w, r->api->o.targets);
    mg_reply_json(r, 200);
}

void mg_h_devices(mg_req *r)
{
    mg_reply_text(r, 200, "application/json", r->api->devices_json, r->api->devices_len);
}

void mg_reply_embedded(mg_req *r, const mg_embedded_file *files, size_t count, const char *ctype,
                       const char *what)
{
    if (count < 1) {
        mg_reply_error(r, 500, "this mgd was built without %s", what);
        return;
    }
    mg_reply_text(r, 200, ctype, files[0].data, files[0].len);
}

void mg_h_schema(mg_req *r)
{
    mg_reply_embedded(r, mg_config_schema_files, mg_config_schema_files_count,
                      "application/schema+json", "the config schema");
}

void mg_h_hash(mg_req *r)
{
    const char *sha = mg_query_get(&r->query, "sha256");
    if (!sha || !mg_sha256_is_hex(sha)) {
        mg_reply_error(r, 400, "sha256 must be 64 lowercase hex digits");
        return;
    }
    mg_stored_build_filter f = {.image_sha256 = sha};
    mg_reply_build_list(r, &f);
}

/* ---- tokens ------------------------------------------------------------- */

static const mg_field token_fields[] = {
    {"scope", MG_JT_STRING, true},
    {"name", MG_JT_STRING | MG_JT_NULL, false},
};

void mg_h_tokens_create(mg_req *r)
{
    cJSON *body;
    if (!mg_req_json(r, token_fields, 2, true, &body)) return;
    const char *scope_name = cJSON_GetObjectItemCaseSensitive(body, "scope")->valuestring;
    const cJSON *name_j = cJSON_GetObjectItemCaseSensitive(body, "name");
    /* no name (omitted or null) is the empty name, as stored and listed */
    const char *name = cJSON_IsString(name_j) ? name_j->valuestring : "";
    char token[MG_TOKEN_TEXT_SIZE];
    mg_token_row t;
    mg_service_err e = {0};
    if (mg_service_token_create(r->api->o.service, name, scope_name, &t, token, &e) == 0) {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        mg_jw_object(&w);
        mg_jw_kint(&w, "id", t.id);
        mg_jw_kstring(&w, "name", t.name);
        mg_jw_kstring(&w, "scope", mg_scope_name(t.scope));
        char when[32];
        mg_format_time(t.created_at, when);
        mg_jw_kstring(&w, "created_at", when);
        mg_jw_kstring(&w, "token", token);
        mg_jw_object_end(&w);
        memset(token, 0, sizeof token);
        mg_token_row_free(&t);
        mg_reply_json(r, 201);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
    cJSON_Delete(body);
}

void mg_h_tokens_list(mg_req *r)
{
    mg_page p;
    if (!mg_req_page(r, &p)) return;
    mg_token_row *rows = NULL;
    size_t n = 0;
    mg_err e;
    if (mg_store_token_list(r->api->o.store, &rows, &n, &e) != 0) {
        mg_reply_err(r, &e);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_array(&w);
    int64_t off = mg_page_offset(&p);
    for (int64_t i = off; i < (int64_t)n && i < off + p.per_page; i++) mg_view_token(&w, &rows[i]);
    mg_jw_array_end(&w);
    mg_token_rows_free(rows, n);
    mg_reply_list_headers(r, &p, (int64_t)n);
    mg_reply_json(r, 200);
}

/* The token that asks, whatever its scope: a client shows who it is and
 * which actions its scope allows. */
void mg_h_whoami(mg_req *r)
{
    mg_token_row t;
    mg_err e;
    if (mg_store_token_get(r->api->o.store, r->token_id, &t, &e) != 0) {
        /* revoked between the check of the request and now */
        if (e.code == MG_E_NOT_FOUND)
            mg_reply_error(r, 401, "the token is not valid (revoked)");
        else
            mg_reply_err(r, &e);
        return;
    }
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_view_token(&w, &t);
    mg_token_row_free(&t);
    mg_reply_json(r, 200);
}

void mg_h_tokens_delete(mg_req *r)
{
    int64_t id;
    if (!mg_parse_id(mg_req_param(r, 0), &id)) {
        mg_reply_error(r, 404, "no token %.40s", mg_req_param(r, 0));
        return;
    }
    mg_service_err e = {0};
    if (mg_service_token_revoke(r->api->o.service, id, &e) == 0)
        mg_reply(r, 204, NULL);
    else
        mg_reply_service_err(r, &e);
    mg_service_err_free(&e);
}

static void gc_work(mg_work *w, mg_req *r, void *arg)
{
    (void)w;
    (void)arg;
    mg_service_err e = {0};
    mg_gc_report rep;
    if (mg_service_gc(r->api->o.service, "requested", &rep, &e) == 0) {
        mg_jw jw;
        mg_jw_init(&jw, &r->out);
        mg_gc_report_json(&jw, &rep);
        mg_reply_json(r, 200);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
}

/* POST /gc: the whole run (daemon/gc.h) deletes files and may wait for
 * another run to end: on the work pool, not on an HTTP thread. */
void mg_h_gc(mg_req *r)
{
    cJSON *body = NULL;
    if (!mg_req_json(r, NULL, 0, false, &body)) return;
    cJSON_Delete(body);
    if (mg_req_defer(r, gc_work, NULL, NULL)) return;
    mg_reply_header(r, "Retry-After", "1");
    mg_reply_error(r, 503, "the daemon's work pool is full; try again in a moment");
}

/* GET /events[?project=ID|NAME]: always a stream (whatever Accept says:
 * the endpoint has no other form); Last-Event-ID is ignored, there is no
 * replay (docs/api.md). */
void mg_h_events(mg_req *r)
{
    int64_t project = 0;
    const char *ref = mg_query_get(&r->query, "project");
    if (ref && *ref) {
        mg_project p;
        if (!mg_req_project(r, ref, &p)) return;
        project = p.id;
        mg_project_free(&p);
    }
    struct MHD_Response *resp = mg_sse_events_response(r->api, r->conn, project);
    if (!resp) {
        mg_reply_error(r, 500, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    mg_reply_custom(r, 200, resp);
}
