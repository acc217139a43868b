/*
 * views.c - the JSON objects of the API, one function per object, written
 * straight into the response buffer in docs/api.md's field order.
 */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "graph/errors.h"

const char *mg_error_code_for(unsigned status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 409:
        return "conflict";
    case 412:
        return "precondition_failed";
    case 413:
        return "payload_too_large";
    case 415:
        return "unsupported_media_type";
    case 416:
        return "range_not_satisfiable";
    case 422:
        return "config_invalid";
    case 429:
        return "too_many_requests";
    case 501:
        return "not_implemented";
    case 503:
        return "unavailable";
    case 507:
        return "insufficient_storage";
    default:
        return status >= 500 ? "internal" : "bad_request";
    }
}

void mg_view_error(mg_buf *b, unsigned status, const char *message, const mg_errors *details)
{
    mg_view_error_code(b, mg_error_code_for(status), message, details);
}

void mg_view_error_code(mg_buf *b, const char *code, const char *message, const mg_errors *details)
{
    mg_jw w;
    mg_jw_init(&w, b);
    mg_jw_object(&w);
    mg_jw_key(&w, "error");
    mg_jw_object(&w);
    mg_jw_kstring(&w, "code", code);
    mg_jw_kstring(&w, "message", message);
    mg_jw_key(&w, "details");
    mg_jw_array(&w);
    for (size_t i = 0; details && i < details->len; i++) {
        const mg_error *e = &details->items[i];
        mg_jw_object(&w);
        mg_jw_kstring(&w, "code", mg_error_code_name(e->code));
        mg_jw_kstring(&w, "path", e->path);
        mg_jw_kstring(&w, "message", e->message);
        mg_jw_object_end(&w);
    }
    mg_jw_array_end(&w);
    mg_jw_object_end(&w);
    mg_jw_object_end(&w);
}

/* A time, or null for "not yet" (0). */
static void ktime(mg_jw *w, const char *key, int64_t unix_ms)
{
    mg_jw_key(w, key);
    if (unix_ms <= 0) {
        mg_jw_null(w);
        return;
    }
    char t[32];
    mg_format_time(unix_ms, t);
    mg_jw_string(w, t);
}

/* An id, or null for "none" (0). */
static void kid(mg_jw *w, const char *key, int64_t id)
{
    mg_jw_key(w, key);
    if (id > 0)
        mg_jw_int(w, id);
    else
        mg_jw_null(w);
}

void mg_view_project_fields(mg_jw *w, const mg_project *p)
{
    mg_jw_kint(w, "id", p->id);
    mg_jw_kstring(w, "name", p->name);
    mg_jw_key(w, "repo");
    if (p->repo_url) {
        mg_jw_object(w);
        mg_jw_kstring(w, "url", p->repo_url);
        mg_jw_kstring(w, "ref", p->repo_ref);
        mg_jw_object_end(w);
    } else {
        mg_jw_null(w);
    }
    mg_jw_key(w, "sources");
    if (p->sources_sha256) {
        mg_jw_object(w);
        mg_jw_kint(w, "files", p->sources_files);
        mg_jw_kint(w, "bytes", p->sources_bytes);
        mg_jw_kstring(w, "sha256", p->sources_sha256);
        mg_jw_object_end(w);
    } else {
        mg_jw_null(w);
    }
    mg_jw_kint(w, "config_version", p->config_version);
    /* its own retention, or null: the daemon's (--keep-builds) */
    mg_jw_key(w, "retention");
    if (p->keep_builds >= 0) {
        mg_jw_object(w);
        mg_jw_kint(w, "keep_builds", p->keep_builds);
        mg_jw_object_end(w);
    } else {
        mg_jw_null(w);
    }
    ktime(w, "created_at", p->created_at);
    ktime(w, "updated_at", p->updated_at);
}

void mg_view_project(mg_jw *w, const mg_project *p)
{
    mg_jw_object(w);
    mg_view_project_fields(w, p);
    mg_jw_object_end(w);
}

static void id_list(mg_jw *w, const char *key, const int64_t *ids, size_t n)
{
    mg_jw_key(w, key);
    mg_jw_array(w);
    for (size_t i = 0; i < n; i++) mg_jw_int(w, ids[i]);
    mg_jw_array_end(w);
}

void mg_view_build(mg_jw *w, const mg_stored_build *b, const mg_build_extra *x)
{
    mg_jw_object(w);
    mg_jw_kint(w, "id", b->id);
    mg_jw_key(w, "project");
    mg_jw_object(w);
    mg_jw_kint(w, "id", b->project_id);
    mg_jw_kstring(w, "name", b->project_name);
    mg_jw_object_end(w);
    mg_jw_kstring(w, "status", mg_stored_status_name(b->status));
    mg_jw_kstring(w, "target", b->target);
    mg_jw_kstring(w, "arch", b->arch);
    mg_jw_key(w, "keys");
    mg_jw_raw(w, b->keys, "{}");
    mg_jw_kint(w, "config_version", b->config_version);
    mg_jw_kstring(w, "ref", b->ref);
    mg_jw_kstring(w, "commit", b->commit);
    mg_jw_kstring(w, "sources_sha256", b->sources_sha256);
    mg_jw_kstring(w, "input_hash", b->input_hash);
    mg_jw_kstring(w, "toolchain", b->toolchain);
    mg_jw_kbool(w, "force", b->force);
    mg_jw_kbool(w, "pinned", b->pinned_at > 0);
    kid(w, "rebuild_of", b->rebuild_of);
    kid(w, "reused_from", b->reused_from);
    ktime(w, "created_at", b->created_at);
    ktime(w, "started_at", b->started_at);
    ktime(w, "finished_at", b->finished_at);
    mg_jw_key(w, "duration_ms");
    if (b->duration_ms >= 0 && mg_stored_status_terminal(b->status))
        mg_jw_int(w, b->duration_ms);
    else
        mg_jw_null(w);
    mg_jw_key(w, "cache");
    mg_jw_object(w);
    mg_jw_kint(w, "actions", b->actions);
    mg_jw_kint(w, "hits", b->hits);
    mg_jw_kint(w, "misses", b->misses);
    mg_jw_key(w, "remote");
    mg_jw_object(w);
    mg_jw_kint(w, "hits", b->remote_hits);
    mg_jw_kint(w, "misses", b->remote_misses);
    mg_jw_kint(w, "errors", b->remote_errors);
    mg_jw_kint(w, "bytes_down", b->remote_bytes_down);
    mg_jw_kint(w, "bytes_up", b->remote_bytes_up);
    mg_jw_object_end(w);
    mg_jw_object_end(w);
    mg_jw_key(w, "image");
    if (b->image_sha256) {
        mg_jw_object(w);
        mg_jw_kstring(w, "name", b->image_name);
        mg_jw_kint(w, "size", b->image_size);
        mg_jw_kstring(w, "sha256", b->image_sha256);
        mg_jw_object_end(w);
    } else {
        mg_jw_null(w);
    }
    mg_jw_kstring(w, "error", b->error);
    mg_jw_kstring(w, "worker", b->worker);
    const mg_build_siblings none = {0}, *sib = x->siblings ? x->siblings : &none;
    id_list(w, "reproduced_by", sib->reproduced_by, sib->n_reproduced_by);
    id_list(w, "differs_from", sib->differs_from, sib->n_differs_from);
    id_list(w, "reproduces", sib->reproduces, sib->n_reproduces);
    kid(w, "queue_position", x->queue_position);
    mg_jw_key(w, "progress");
    if (x->progress) {
        mg_jw_object(w);
        mg_jw_kstring(w, "phase", x->progress->phase);
        mg_jw_key(w, "steps");
        mg_jw_array(w);
        for (size_t i = 0; i < x->progress->n_steps; i++) mg_jw_string(w, x->progress->steps[i]);
        mg_jw_array_end(w);
        mg_jw_object_end(w);
    } else {
        mg_jw_null(w);
    }
    mg_jw_kint(w, "log_size", b->log_size);
    mg_jw_object_end(w);
}

void mg_view_token(mg_jw *w, const mg_token_row *t)
{
    mg_jw_object(w);
    mg_jw_kint(w, "id", t->id);
    mg_jw_kstring(w, "name", t->name);
    mg_jw_kstring(w, "scope", mg_scope_name(t->scope));
    ktime(w, "created_at", t->created_at);
    ktime(w, "last_used_at", t->last_used_at);
    mg_jw_object_end(w);
}

void mg_view_config_version(mg_jw *w, const mg_config_version *c)
{
    mg_jw_object(w);
    mg_jw_kint(w, "version", c->version);
    mg_jw_kstring(w, "sha256", c->sha256);
    ktime(w, "created_at", c->created_at);
    mg_jw_object_end(w);
}

void mg_view_targets(mg_jw *w, const mg_targets *ts)
{
    mg_jw_array(w);
    for (size_t i = 0; i < mg_targets_count(ts); i++) {
        const mg_target *t = mg_targets_get(ts, i);
        mg_jw_object(w);
        mg_jw_kstring(w, "name", t->name);
        mg_jw_kstring(w, "doc", t->doc);
        if (t->is_default) mg_jw_kbool(w, "default", true);
        mg_jw_key(w, "arches");
        mg_jw_array(w);
        for (size_t a = 0; a < t->n_arches; a++) {
            mg_err why;
            bool can_run = false;
            bool ok = mg_target_available(t, &t->arches[a], &can_run, &why);
            mg_jw_object(w);
            mg_jw_kstring(w, "name", t->arches[a].name);
            mg_jw_kbool(w, "available", ok);
            if (!ok) mg_jw_kstring(w, "reason", why.msg[0] ? why.msg : "tools not found");
            mg_jw_kbool(w, "runnable", ok && can_run);
            if (ok && !can_run) mg_jw_kstring(w, "run_reason", why.msg);
            mg_jw_object_end(w);
        }
        /* the arches it does not build for, with why: a client offers
         * none of them and can say why not */
        for (size_t a = 0; a < t->n_unsupported; a++) {
            mg_jw_object(w);
            mg_jw_kstring(w, "name", t->unsupported[a].name);
            mg_jw_kbool(w, "available", false);
            mg_jw_kstring(w, "reason", t->unsupported[a].reason);
            mg_jw_kbool(w, "runnable", false);
            mg_jw_kbool(w, "supported", false);
            mg_jw_object_end(w);
        }
        mg_jw_array_end(w);
        mg_jw_object_end(w);
    }
    mg_jw_array_end(w);
}

unsigned mg_http_status_of(const mg_service_err *e)
{
    if (e->err.code == MG_E_INVALID && e->config_invalid) return 422;
    /* a quota that frees up by itself is "too many requests"; a size is
     * "too large" */
    if (e->err.code == MG_E_LIMIT && e->retry_after_s) return 429;
    return mg_http_status_of_err(&e->err);
}

unsigned mg_http_status_of_err(const mg_err *e)
{
    switch (e->code) {
    case MG_E_INVALID:
        return 400;
    case MG_E_NOT_FOUND:
        return 404;
    case MG_E_CONFLICT:
        return 409;
    case MG_E_LIMIT:
        return 413;
    case MG_E_BUSY:
        return 503;
    case MG_E_CANCELLED: /* a flow cancelled under a request: the daemon is stopping */
        return 503;
    case MG_E_NOSPACE: /* the disk is full: a write may work again once space is freed */
        return 507;
    case MG_OK:
    case MG_E_IO:
    case MG_E_CORRUPT:
    case MG_E_NOMEM:
    case MG_E_INTERNAL:
        break;
    }
    return 500;
}

void mg_reply_service_err(mg_req *r, const mg_service_err *e)
{
    if (e->config_invalid) {
        mg_reply_config_errors(r, &e->config);
        return;
    }
    if (e->retry_after_s) mg_reply_header(r, "Retry-After", "%u", e->retry_after_s);
    mg_reply_error(r, mg_http_status_of(e), "%s", e->err.msg);
}

void mg_view_worker(mg_jw *w, const mg_worker_info *k)
{
    mg_jw_object(w);
    mg_jw_kstring(w, "name", k->name);
    mg_jw_kint(w, "slots", k->slots);
    ktime(w, "last_seen", k->last_seen_unix_ms);
    mg_jw_key(w, "platforms");
    mg_jw_array(w);
    for (size_t p = 0; p < k->n_platforms; p++) {
        mg_jw_object(w);
        mg_jw_kstring(w, "target", k->platforms[p].target);
        mg_jw_kstring(w, "arch", k->platforms[p].arch);
        mg_jw_kstring(w, "toolchain", k->platforms[p].toolchain);
        /* no such target here, or another toolchain: never handed a build */
        mg_jw_kbool(w, "ignored", k->platforms[p].ignored);
        /* what the worker would need to send to be handed these builds */
        mg_jw_kstring(w, "coordinator_toolchain",
                      k->platforms[p].own[0] ? k->platforms[p].own : NULL);
        mg_jw_object_end(w);
    }
    mg_jw_array_end(w);
    id_list(w, "builds", k->builds, k->n_builds);
    mg_jw_object_end(w);
}
