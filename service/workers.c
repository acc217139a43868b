/*
 * workers.c - the flows of pull workers (docs/workers.md): a claim's body
 * checked and handed to the queue, a finish's body turned into the
 * build's end under its lease, and the lease-bound calls in between. The
 * queue (daemon/queue.h) keeps the leases; this file owns what a worker
 * may send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "service/internal.h"

bool mg_worker_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > MG_WORKER_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static const mg_field claim_fields[] = {
    {"name", MG_JT_STRING, true},
    {"slots", MG_JT_INTEGER, false},
    {"wait_ms", MG_JT_INTEGER, false},
    {"platforms", MG_JT_ARRAY, true},
};

static const mg_field platform_fields[] = {
    {"target", MG_JT_STRING, true},
    {"arch", MG_JT_STRING, true},
    {"toolchain", MG_JT_STRING, true},
};

/* A small text field into a fixed buffer: 1..size-1 bytes of [a-z0-9_]. */
static int short_word(const char *v, char *out, size_t size, const char *what, size_t i, mg_err *e)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n < size;
    for (size_t k = 0; ok && k < n; k++)
        ok = (v[k] >= 'a' && v[k] <= 'z') || (v[k] >= '0' && v[k] <= '9') || v[k] == '_' ||
             v[k] == '-';
    if (!ok)
        return mg_err_set(e, MG_E_INVALID, "platforms[%zu].%s must be 1 to %zu of [a-z0-9_-]", i,
                          what, size - 1);
    memcpy(out, v, n + 1);
    return 0;
}

/* The claim's body into a request (platforms into p, MG_WORKER_MAX_PLATFORMS). */
static int parse_claim(const cJSON *body, mg_worker_claim_req *req, mg_worker_platform *p,
                       mg_service_err *e)
{
    if (!body) return mg_err_set(&e->err, MG_E_INVALID, "the body must be a JSON object");
    if (mg_json_check_fields(body, claim_fields, 4, "", &e->err)) return -1;
    const char *name = cJSON_GetObjectItemCaseSensitive(body, "name")->valuestring;
    if (!mg_worker_name_valid(name))
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"name\" must be 1 to %d characters of [A-Za-z0-9._-]",
                          MG_WORKER_NAME_MAX);
    const cJSON *slots_j = cJSON_GetObjectItemCaseSensitive(body, "slots");
    const cJSON *wait_j = cJSON_GetObjectItemCaseSensitive(body, "wait_ms");
    double slots = slots_j ? slots_j->valuedouble : 1, wait = wait_j ? wait_j->valuedouble : 20000;
    if (slots < 1 || slots > 1024)
        return mg_err_set(&e->err, MG_E_INVALID, "field \"slots\" must be 1 to 1024");
    if (wait < 0 || wait > 30000)
        return mg_err_set(&e->err, MG_E_INVALID, "field \"wait_ms\" must be 0 to 30000");
    const cJSON *plats = cJSON_GetObjectItemCaseSensitive(body, "platforms");
    int n = cJSON_GetArraySize(plats);
    if (n < 1 || n > MG_WORKER_MAX_PLATFORMS)
        return mg_err_set(&e->err, MG_E_INVALID, "field \"platforms\" must have 1 to %d entries",
                          MG_WORKER_MAX_PLATFORMS);
    memset(p, 0, MG_WORKER_MAX_PLATFORMS * sizeof *p);
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, plats)
    {
        char where[32];
        snprintf(where, sizeof where, "platforms[%zu].", i);
        if (!cJSON_IsObject(it))
            return mg_err_set(&e->err, MG_E_INVALID, "platforms[%zu] must be an object", i);
        if (mg_json_check_fields(it, platform_fields, 3, where, &e->err)) return -1;
        const char *tc = cJSON_GetObjectItemCaseSensitive(it, "toolchain")->valuestring;
        if (short_word(cJSON_GetObjectItemCaseSensitive(it, "target")->valuestring, p[i].target,
                       sizeof p[i].target, "target", i, &e->err) ||
            short_word(cJSON_GetObjectItemCaseSensitive(it, "arch")->valuestring, p[i].arch,
                       sizeof p[i].arch, "arch", i, &e->err))
            return -1;
        if (!mg_sha256_is_hex(tc))
            return mg_err_set(&e->err, MG_E_INVALID,
                              "platforms[%zu].toolchain must be 64 lowercase hex digits", i);
        memcpy(p[i].toolchain, tc, 65);
        i++;
    }
    *req = (mg_worker_claim_req){.name = name,
                                 .slots = (unsigned)slots,
                                 .wait_ms = (unsigned)wait,
                                 .platforms = p,
                                 .n_platforms = i};
    return 0;
}

int mg_service_worker_claim_check(const cJSON *body, mg_service_err *e)
{
    mg_worker_claim_req req;
    mg_worker_platform p[MG_WORKER_MAX_PLATFORMS];
    return parse_claim(body, &req, p, e);
}

int mg_service_worker_claim(mg_service *svc, int64_t token, const cJSON *body,
                            const volatile int *abort, mg_worker_job *out, mg_service_err *e)
{
    mg_worker_claim_req req;
    mg_worker_platform p[MG_WORKER_MAX_PLATFORMS];
    if (parse_claim(body, &req, p, e)) return -1;
    req.abort = abort;
    req.token = token;
    return mg_queue_worker_claim(svc->o.queue, &req, out, &e->err);
}

char *mg_service_worker_sources(mg_service *svc, int64_t token, int64_t id, int64_t lease,
                                mg_service_err *e)
{
    return mg_queue_worker_sources(svc->o.queue, id, lease, token, &e->err);
}

int mg_service_worker_log(mg_service *svc, int64_t token, int64_t id, int64_t lease, int64_t offset,
                          const void *data, size_t len, int64_t *size, mg_service_err *e)
{
    if (len > MG_WORKER_MAX_LOG_POST)
        return mg_err_set(&e->err, MG_E_INVALID, "a log post holds at most %u bytes",
                          MG_WORKER_MAX_LOG_POST);
    return mg_queue_worker_log(svc->o.queue, id, lease, token, offset, data, len, size, &e->err);
}

int mg_service_worker_heartbeat(mg_service *svc, int64_t token, int64_t id, int64_t lease,
                                bool *cancel, mg_service_err *e)
{
    return mg_queue_worker_heartbeat(svc->o.queue, id, lease, token, cancel, &e->err);
}

int mg_service_worker_image(mg_service *svc, int64_t token, int64_t id, int64_t lease,
                            const char *sha256, const void *data, size_t len, mg_service_err *e)
{
    if (!sha256 || !mg_sha256_is_hex(sha256))
        return mg_err_set(&e->err, MG_E_INVALID, "sha256 must be 64 lowercase hex digits");
    if (len == 0) return mg_err_set(&e->err, MG_E_INVALID, "the image is empty");
    if (len > MG_WORKER_MAX_IMAGE)
        return mg_err_set(&e->err, MG_E_LIMIT, "the image is larger than %u bytes",
                          MG_WORKER_MAX_IMAGE);
    return mg_queue_worker_image(svc->o.queue, id, lease, token, sha256, data, len, &e->err);
}

static const mg_field finish_fields[] = {
    {"lease", MG_JT_INTEGER, true},    {"status", MG_JT_STRING, true},
    {"error", MG_JT_STRING, false},    {"image", MG_JT_OBJECT, false},
    {"actions", MG_JT_INTEGER, false}, {"hits", MG_JT_INTEGER, false},
    {"misses", MG_JT_INTEGER, false},  {"remote", MG_JT_OBJECT, false},
};
static const mg_field image_fields[] = {
    {"name", MG_JT_STRING, true},
    {"sha256", MG_JT_STRING, true},
    {"size", MG_JT_INTEGER, true},
};
static const mg_field remote_fields[] = {
    {"hits", MG_JT_INTEGER, false},     {"misses", MG_JT_INTEGER, false},
    {"errors", MG_JT_INTEGER, false},   {"bytes_down", MG_JT_INTEGER, false},
    {"bytes_up", MG_JT_INTEGER, false},
};

/* A count field: 0 when absent; -1 when negative or too large. */
static int64_t count(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) return 0;
    if (v->valuedouble < 0 || v->valuedouble > 9007199254740992.0) return -1;
    return (int64_t)v->valuedouble;
}

int mg_service_worker_finish(mg_service *svc, int64_t token, int64_t id, const cJSON *body,
                             mg_stored_build *out, bool *need_image, mg_service_err *e)
{
    *need_image = false;
    if (!body) return mg_err_set(&e->err, MG_E_INVALID, "the body must be a JSON object");
    if (mg_json_check_fields(body, finish_fields, 8, "", &e->err)) return -1;
    mg_stored_build done = {.id = id};
    done.lease = count(body, "lease");
    if (done.lease < 1) return mg_err_set(&e->err, MG_E_INVALID, "field \"lease\" must be >= 1");
    const char *status = cJSON_GetObjectItemCaseSensitive(body, "status")->valuestring;
    const cJSON *err_j = cJSON_GetObjectItemCaseSensitive(body, "error");
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(body, "image");
    const cJSON *remote = cJSON_GetObjectItemCaseSensitive(body, "remote");
    if (!strcmp(status, "succeeded")) {
        if (!img || err_j)
            return mg_err_set(&e->err, MG_E_INVALID,
                              "a succeeded build has an \"image\" and no \"error\"");
        if (mg_json_check_fields(img, image_fields, 3, "image.", &e->err)) return -1;
        const char *iname = cJSON_GetObjectItemCaseSensitive(img, "name")->valuestring;
        const char *isha = cJSON_GetObjectItemCaseSensitive(img, "sha256")->valuestring;
        int64_t isize = count(img, "size");
        if (!*iname || strlen(iname) > 255 || strchr(iname, '/'))
            return mg_err_set(&e->err, MG_E_INVALID, "image.name must be a file name");
        if (!mg_sha256_is_hex(isha))
            return mg_err_set(&e->err, MG_E_INVALID,
                              "image.sha256 must be 64 lowercase hex digits");
        if (isize < 1) return mg_err_set(&e->err, MG_E_INVALID, "image.size must be >= 1");
        done.status = MG_STORED_SUCCEEDED;
        done.image_name = (char *)iname;
        done.image_sha256 = (char *)isha;
        done.image_size = isize;
    } else if (!strcmp(status, "failed")) {
        if (img || !err_j)
            return mg_err_set(&e->err, MG_E_INVALID,
                              "a failed build has an \"error\" and no \"image\"");
        done.status = MG_STORED_FAILED;
        done.error = err_j->valuestring;
        if (strlen(done.error) > 4096)
            return mg_err_set(&e->err, MG_E_INVALID, "field \"error\" is longer than 4096 bytes");
    } else {
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"status\" must be \"succeeded\" or \"failed\"");
    }
    done.actions = count(body, "actions");
    done.hits = count(body, "hits");
    done.misses = count(body, "misses");
    if (remote) {
        if (mg_json_check_fields(remote, remote_fields, 5, "remote.", &e->err)) return -1;
        done.remote_hits = count(remote, "hits");
        done.remote_misses = count(remote, "misses");
        done.remote_errors = count(remote, "errors");
        done.remote_bytes_down = count(remote, "bytes_down");
        done.remote_bytes_up = count(remote, "bytes_up");
    }
    if (done.actions < 0 || done.hits < 0 || done.misses < 0 || done.remote_hits < 0 ||
        done.remote_misses < 0 || done.remote_errors < 0 || done.remote_bytes_down < 0 ||
        done.remote_bytes_up < 0)
        return mg_err_set(&e->err, MG_E_INVALID, "counts must be integers >= 0");
    if (mg_queue_worker_finish(svc->o.queue, &done, token, need_image, &e->err)) return -1;
    return mg_store_build_get(svc->o.store, id, false, out, &e->err);
}
