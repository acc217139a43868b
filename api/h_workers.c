/*
 * h_workers.c - the routes of pull workers (docs/workers.md): the claim
 * (a long poll run on the claims' pool, api/workpool.h, so that it never
 * holds an HTTP thread), the snapshot, the log, the heartbeat, the image,
 * the finish, and GET /workers. What they mean is the service's
 * (service/workers.c) and the queue's; these read the request, call it and
 * render the answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/internal.h"
#include "api/workpool.h"

/* Seconds a claim refused for lack of threads should wait. */
#define CLAIM_RETRY_S 2

/* A query parameter that must be an integer from `min` up to 2^53; false
 * after answering 400. */
static bool query_int(mg_req *r, const char *name, int64_t min, int64_t *out)
{
    const char *v = mg_query_get(&r->query, name);
    uint64_t n;
    if (!v || !mg_parse_u64n(v, strlen(v), &n) || n > (1ull << 53) || (int64_t)n < min) {
        mg_reply_error(r, 400, "the query needs %s=N, an integer >= %lld", name, (long long)min);
        return false;
    }
    *out = (int64_t)n;
    return true;
}

/* :id and ?lease=G of the lease-bound routes. */
static bool id_lease(mg_req *r, int64_t *id, int64_t *lease)
{
    return mg_req_build_id(r, id) && query_int(r, "lease", 1, lease);
}

/* ---- POST /workers/claim ------------------------------------------------ */

static void reply_job(mg_req *r, const mg_worker_job *j)
{
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_object(&w);
    mg_jw_kint(&w, "build", j->build);
    mg_jw_kint(&w, "lease", j->lease);
    mg_jw_kint(&w, "heartbeat_ms", (int64_t)j->heartbeat_ms);
    mg_jw_kint(&w, "lease_timeout_ms", (int64_t)j->lease_timeout_ms);
    mg_jw_kstring(&w, "project", j->project);
    mg_jw_kstring(&w, "target", j->target);
    mg_jw_kstring(&w, "arch", j->arch);
    mg_jw_key(&w, "keys");
    mg_jw_raw(&w, j->keys, "{}");
    mg_jw_key(&w, "config");
    mg_jw_raw(&w, j->config, "{}");
    mg_jw_kbool(&w, "force", j->force);
    mg_jw_key(&w, "sources");
    mg_jw_object(&w);
    mg_jw_kstring(&w, "sha256", j->sources_sha256);
    mg_jw_kint(&w, "size", (int64_t)j->sources_size);
    mg_jw_object_end(&w);
    mg_jw_kstring(&w, "input_hash", j->input_hash);
    mg_jw_kint(&w, "log_offset", j->log_offset);
    mg_jw_kint(&w, "elapsed_ms", j->elapsed_ms);
    mg_jw_object_end(&w);
    mg_reply_json(r, 200);
}

/* On a claims' thread: the long poll. */
static void claim_work(mg_work *wk, mg_req *r, void *arg)
{
    cJSON *body = arg;
    const volatile int *abort = mg_work_abort_flag(wk);
    mg_worker_job job = {0};
    mg_service_err e = {0};
    int got = mg_service_worker_claim(r->api->o.service, r->token_id, body, abort, &job, &e);
    if (got > 0)
        reply_job(r, &job);
    else if (got < 0)
        mg_reply_service_err(r, &e);
    else if (*abort)
        mg_reply_error(r, 503, "the daemon is stopping");
    else
        mg_reply_text(r, 204, NULL, "", 0);
    mg_worker_job_free(&job);
    mg_service_err_free(&e);
}

static void free_json(void *p)
{
    cJSON_Delete(p);
}

void mg_h_worker_claim(mg_req *r)
{
    mg_err e;
    cJSON *body = NULL;
    if (mg_json_parse_body(r->body ? r->body : "", r->body_len, &body, &e) != 0) {
        mg_reply_err(r, &e);
        return;
    }
    if (!body) {
        mg_reply_error(r, 400, "this request needs a JSON object as its body");
        return;
    }
    /* the body's checks answer at once, before a thread is taken */
    mg_service_err se = {0};
    if (mg_service_worker_claim_check(body, &se) != 0) {
        mg_reply_service_err(r, &se);
        mg_service_err_free(&se);
        cJSON_Delete(body);
        return;
    }
    if (!mg_req_defer_to(r->api->claims, r, claim_work, free_json, body)) {
        cJSON_Delete(body);
        mg_reply_header(r, "Retry-After", "%d", CLAIM_RETRY_S);
        mg_reply_error(r, 503, "%d claims are waiting already; try again", MG_CLAIMPOOL_THREADS);
    }
}

/* ---- GET /workers/builds/:id/sources ------------------------------------ */

void mg_h_worker_sources(mg_req *r)
{
    int64_t id, lease;
    if (!id_lease(r, &id, &lease)) return;
    mg_service_err e = {0};
    char *path = mg_service_worker_sources(r->api->o.service, r->token_id, id, lease, &e);
    if (!path) {
        mg_reply_service_err(r, &e);
        mg_service_err_free(&e);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        mg_reply_error(r, 500, "cannot read the snapshot of build %lld: %s", (long long)id,
                       strerror(errno));
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        mg_reply_error(r, 500, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-tar");
    mg_reply_custom(r, 200, resp);
}

/* ---- POST /workers/builds/:id/log --------------------------------------- */

void mg_h_worker_log(mg_req *r)
{
    int64_t id, lease, offset, size = 0;
    if (!id_lease(r, &id, &lease) || !query_int(r, "offset", 0, &offset)) return;
    mg_service_err e = {0};
    if (mg_service_worker_log(r->api->o.service, r->token_id, id, lease, offset, r->body,
                              r->body_len, &size, &e) == 0) {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        mg_jw_object(&w);
        mg_jw_kint(&w, "size", size);
        mg_jw_object_end(&w);
        mg_reply_json(r, 200);
    } else if (e.err.code == MG_E_LIMIT) {
        /* past the log's end: the worker sends again from `size` */
        mg_jw w;
        mg_jw_init(&w, &r->out);
        mg_jw_object(&w);
        mg_jw_key(&w, "error");
        mg_jw_object(&w);
        mg_jw_kstring(&w, "code", mg_error_code_for(416));
        mg_jw_kstring(&w, "message", e.err.msg);
        mg_jw_key(&w, "details");
        mg_jw_array(&w);
        mg_jw_array_end(&w);
        mg_jw_object_end(&w);
        mg_jw_kint(&w, "size", size);
        mg_jw_object_end(&w);
        mg_reply_json(r, 416);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
}

/* ---- POST /workers/builds/:id/heartbeat --------------------------------- */

void mg_h_worker_heartbeat(mg_req *r)
{
    int64_t id, lease;
    if (!id_lease(r, &id, &lease)) return;
    bool cancel = false;
    mg_service_err e = {0};
    if (mg_service_worker_heartbeat(r->api->o.service, r->token_id, id, lease, &cancel, &e) == 0) {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        mg_jw_object(&w);
        mg_jw_kbool(&w, "cancel", cancel);
        mg_jw_object_end(&w);
        mg_reply_json(r, 200);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
}

/* ---- PUT /workers/builds/:id/image -------------------------------------- */

void mg_h_worker_image(mg_req *r)
{
    int64_t id, lease;
    if (!id_lease(r, &id, &lease)) return;
    const char *sha = mg_query_get(&r->query, "sha256");
    if (!sha || !mg_sha256_is_hex(sha)) {
        mg_reply_error(r, 400, "the query needs sha256=H, 64 lowercase hex digits");
        return;
    }
    mg_service_err e = {0};
    if (mg_service_worker_image(r->api->o.service, r->token_id, id, lease, sha, r->body,
                                r->body_len, &e) == 0) {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        mg_jw_object(&w);
        mg_jw_kstring(&w, "sha256", sha);
        mg_jw_kint(&w, "size", (int64_t)r->body_len);
        mg_jw_object_end(&w);
        mg_reply_json(r, 200);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_service_err_free(&e);
}

/* ---- POST /workers/builds/:id/finish ------------------------------------ */

void mg_h_worker_finish(mg_req *r)
{
    int64_t id;
    if (!mg_req_build_id(r, &id)) return;
    mg_err pe;
    cJSON *body = NULL;
    if (mg_json_parse_body(r->body ? r->body : "", r->body_len, &body, &pe) != 0) {
        mg_reply_err(r, &pe);
        return;
    }
    mg_stored_build b = {0};
    bool need_image = false;
    mg_service_err e = {0};
    if (mg_service_worker_finish(r->api->o.service, r->token_id, id, body, &b, &need_image, &e) ==
        0) {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        if (mg_write_build(r, &w, &b)) mg_reply_json(r, 200);
    } else if (need_image) {
        mg_reply_error(r, 412, "%s", e.err.msg);
    } else {
        mg_reply_service_err(r, &e);
    }
    mg_stored_build_free(&b);
    mg_service_err_free(&e);
    cJSON_Delete(body);
}

/* ---- GET /workers ------------------------------------------------------- */

void mg_h_workers_list(mg_req *r)
{
    mg_worker_info *v = NULL;
    size_t n = 0;
    mg_queue_workers(r->api->o.queue, &v, &n);
    mg_jw w;
    mg_jw_init(&w, &r->out);
    mg_jw_array(&w);
    for (size_t i = 0; i < n; i++) mg_view_worker(&w, &v[i]);
    mg_jw_array_end(&w);
    mg_worker_infos_free(v, n);
    mg_reply_json(r, 200);
}
