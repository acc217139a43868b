/*
 * mgd worker --coordinator URL (--token T | --token-file F | $MGD_TOKEN)
 *            [--jobs N] [--name NAME] [--data DIR] [--cache DIR]
 *            [--no-sandbox] [REMOTE CACHE] [DISTCC] [LIMITS]
 *
 * A pull worker: it asks a coordinator (`mgd serve`) for builds it can do
 * and runs them here, through the same toolchain, sandbox and action cache
 * as the daemon's own workers. It keeps no state of its own besides its
 * cache: the coordinator keeps the queue, the database and the git
 * mirrors, and hands out each build with its source snapshot
 * (daemon/snapshot.h). The protocol is docs/api.md's "Workers" routes:
 *   claim      a long poll with what this worker can build: every (target,
 *              arch) of the registry whose tools are here, with their
 *              toolchain identity (a different compiler would break the
 *              coordinator's input hash, so it hands out only matching ones);
 *   sources    the snapshot, from the shared cache's /cas/ when there is
 *              one, else from the coordinator; its sha256 is checked;
 *   log        the build log, buffered and sent by offset (a retry is
 *              harmless), at most one request per 250 ms or 64 KiB;
 *   heartbeat  on a thread of its own; its answer carries cancel, and a
 *              lost lease (409) or a deleted build (404) stops the build;
 *   image      the image goes to the shared cache when it may be written,
 *              else up to the coordinator; then
 *   finish     the result (412: the coordinator lacks the image: upload it
 *              and finish again; 409: the lease was lost meanwhile).
 * Everything the coordinator sends is checked like any input: a reply that
 * is not what the protocol says fails that build with a line saying why,
 * never the worker. A coordinator that is down or answers 5xx is retried
 * with a backoff of at most a few seconds, forever; a token it refuses
 * (401, 403) ends the worker at once (status 1), since no retry can help.
 * SIGINT and SIGTERM stop claiming, kill the running builds' processes
 * and exit 0: the coordinator queues those builds again when their lease
 * expires.
 *
 * --jobs N is the number of builds at once, each with its own claim loop
 * (a thread); each build runs as many processes as there are cores.
 * --distcc HOSTS sends the builds' C compiles to distcc hosts
 * (docs/distcc.md), probed at start for every platform this worker offers,
 * as mgd serve probes them: a host whose compiler differs from this one's
 * would put its objects in the shared cache under this compiler's keys.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/deadline.h"
#include "base/fsutil.h"
#include "base/opt.h"
#include "base/sha256.h"
#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "daemon/snapshot.h"
#include "daemon/sources.h"
#include "graph/describe.h"
#include "targets/builtin_catalog.h"
#include "toolchain/build.h"
#include "toolchain/cache.h"
#include "toolchain/remote_cache.h"
#include "toolchain/target.h"

#ifndef MGD_VERSION
#define MGD_VERSION "0"
#endif

/* How long a claim waits at the coordinator for a build; and how much
 * longer its answer may take: the coordinator prepares the build it hands
 * out first (a git fetch, the snapshot). An answer that comes later is
 * lost, which costs the build a lease timeout, not more. */
#define CLAIM_WAIT_MS 20000u
#define CLAIM_PREPARE_MS 120000u
/* The backoff after a failed request: doubled each time up to the cap. */
#define BACKOFF_MIN_MS 250u
#define BACKOFF_MAX_MS 4000u
/* The log: one POST at most every LOG_PERIOD_MS, or at once past
 * LOG_BATCH bytes; at most LOG_POST_MAX bytes per POST (the protocol's
 * limit); at most LOG_PENDING_MAX bytes waiting while the coordinator
 * does not take them (then lines are dropped, with a note). */
#define LOG_PERIOD_MS 250u
#define LOG_BATCH (64u * 1024)
#define LOG_POST_MAX (1u << 20)
#define LOG_PENDING_MAX (8u << 20)
/* The largest answers taken: a claim (it carries the config document), and
 * any other (an error, a build record). */
#define CLAIM_REPLY_MAX (16u << 20)
#define REPLY_MAX (1u << 20)
/* The largest snapshot: the checkout's limits (sources.h) in ustar, each
 * entry a 512-byte header and at most 511 bytes of padding. */
#define SNAPSHOT_MAX                                                                               \
    ((uint64_t)MG_SOURCES_DEFAULT_MAX_BYTES + (uint64_t)MG_SOURCES_DEFAULT_MAX_FILES * 1024u +     \
     1024u)
/* How long the end of a build (the last log lines, the finish) keeps
 * trying a coordinator that does not answer before it gives the build up
 * (the lease has long expired by then and the build is queued again). */
#define END_RETRY_MS (10u * 60u * 1000u)

typedef struct platform {
    const mg_target *target;
    const mg_target_arch *arch;
} platform;

typedef struct job job;

typedef struct slot {
    struct worker *w;
    pthread_t thread;
    unsigned index;
    job *current; /* under w->mu */
} slot;

typedef struct worker {
    char *base;        /* the coordinator's URL, without a trailing '/' */
    char *auth_header; /* "Authorization: Bearer T" */
    char name[65];
    unsigned jobs;
    char *data_dir, *scratch_dir;
    int lock_fd;
    mg_cache *cache;
    mg_targets *targets;
    mg_catalog *catalog;
    mg_remote_config remote;
    bool has_remote;
    /* the distcc hosts given, and those the probe kept (used when given) */
    mg_distcc_hosts distcc_given, distcc;
    bool has_distcc;
    mg_build_limits limits;
    bool no_sandbox;
    platform *platforms;
    size_t n_platforms;
    char *platforms_json; /* the claim's "platforms" array */
    atomic_bool stop;     /* a signal, or a refused token */
    atomic_int status;    /* the exit status: 1 once the token was refused */
    pthread_mutex_t mu;   /* the slots' current jobs, stderr */
    slot *slots;
} worker;

/* ---- messages ------------------------------------------------------------ */

static void say(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mg_xvasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&w->mu);
    fprintf(stderr, "mgd worker: %s\n", s);
    fflush(stderr);
    pthread_mutex_unlock(&w->mu);
    free(s);
}

/* What a coordinator wrote, cut to one short printable line for a
 * message: it may send anything. */
static void printable(char *out, size_t size, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    out[o] = 0;
}

/* ---- HTTP with the coordinator -------------------------------------------- */

typedef struct reply {
    long status;
    mg_buf body;
    size_t max;
    bool too_big;
} reply;

typedef struct abort_flags {
    atomic_bool *stop;         /* the worker's */
    const atomic_bool *cancel; /* the build's, or NULL */
} abort_flags;

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    reply *r = ctx;
    size_t len = size * n;
    if (r->body.len + len > r->max) {
        r->too_big = true;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    mg_buf_add(&r->body, data, len);
    return r->body.failed ? 0 : len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    abort_flags *f = ctx;
    return atomic_load(f->stop) || (f->cancel && atomic_load(f->cancel));
}

/* One request to the coordinator on the caller's handle (*h, made on first
 * use and kept for keep-alive). `body` (len bytes, may be NULL) is sent
 * with `ctype`. The answer, whatever its status, goes to *out (at most
 * `max` bytes of body). 0 when an answer came; -1 when none did (refused,
 * timed out, cut, too big, or stopped by `cancel` or the worker's stop),
 * with the reason in `e`. */
static int call(worker *w, CURL **h, const char *method, const char *path, const char *ctype,
                const void *body, size_t len, size_t max, long timeout_ms,
                const atomic_bool *cancel, reply *out, mg_err *e)
{
    memset(out, 0, sizeof *out);
    out->max = max;
    if (!*h && !(*h = curl_easy_init())) return mg_err_set(e, MG_E_NOMEM, "out of memory");
    CURL *c = *h;
    curl_easy_reset(c);
    char *url = mg_xasprintf("%s%s", w->base, path);
    struct curl_slist *hdr = curl_slist_append(NULL, w->auth_header);
    hdr = curl_slist_append(hdr, "Expect:");
    char *ct = NULL;
    if (ctype) {
        ct = mg_xasprintf("Content-Type: %s", ctype);
        hdr = curl_slist_append(hdr, ct);
    }
    abort_flags flags = {&w->stop, cancel};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mgd-worker/" MGD_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    /* the bytes as sent: the cap counts them, and nothing unpacks a bomb */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &flags);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdr);
    free(ct);
    int r = 0;
    if (out->too_big)
        r = mg_err_set(e, MG_E_LIMIT, "%s %s: the answer is larger than %zu bytes", method, url,
                       max);
    else if (rc == CURLE_ABORTED_BY_CALLBACK)
        r = mg_err_set(e, MG_E_CANCELLED, "%s %s: stopped", method, url);
    else if (rc != CURLE_OK)
        r = mg_err_set(e, MG_E_IO, "%s %s: %s", method, url, curl_easy_strerror(rc));
    else if (out->body.failed)
        r = mg_err_set(e, MG_E_NOMEM, "%s %s: out of memory", method, url);
    free(url);
    if (r != 0) mg_buf_free(&out->body);
    return r;
}

/* The "error" of a JSON error answer, or its start, as one line. */
static void reply_error(const reply *r, char *out, size_t size)
{
    cJSON *j = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(m))
        printable(out, size, m->valuestring, strlen(m->valuestring));
    else if (r->body.len)
        printable(out, size, r->body.data, r->body.len < 200 ? r->body.len : 200);
    else
        snprintf(out, size, "no message");
    cJSON_Delete(j);
}

/* A refused token: no retry can help. Stops every loop; the worker exits 1. */
static bool token_refused(worker *w, const reply *r)
{
    if (r->status != 401 && r->status != 403) return false;
    char msg[MG_ERR_SIZE];
    reply_error(r, msg, sizeof msg);
    if (atomic_exchange(&w->status, 1) == 0)
        say(w, "the coordinator refuses the token (HTTP %ld: %s): stopping", r->status, msg);
    atomic_store(&w->stop, true);
    return true;
}

/* Sleeps `ms`, waking early when the worker stops (or `cancel` is set). */
static void nap(worker *w, uint64_t ms, const atomic_bool *cancel)
{
    uint64_t until = mg_deadline_in(ms);
    while (!atomic_load(&w->stop) && !(cancel && atomic_load(cancel))) {
        uint64_t now = mg_now_ms();
        if (now >= until) break;
        uint64_t step = until - now < 100 ? until - now : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static uint64_t backoff_next(uint64_t ms)
{
    return ms == 0 ? BACKOFF_MIN_MS : ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

/* ---- one build ------------------------------------------------------------ */

struct job {
    worker *w;
    int64_t id, lease;
    uint64_t heartbeat_ms, elapsed_ms, start_ms;
    const char *project, *target, *arch; /* into `claim` */
    const cJSON *keys, *config;
    bool force;
    char sources_sha[MG_SHA256_HEX_SIZE], input_hash[MG_SHA256_HEX_SIZE];
    uint64_t sources_size;
    cJSON *claim;
    char *scratch, *src;
    const platform *platform;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool cancel;    /* the build must stop: cancelled, lease lost, worker stopping */
    char why[MG_ERR_SIZE]; /* why it stopped (the first reason), under mu */
    mg_build *build;       /* while the toolchain runs it, under mu */
    bool ending;           /* the log thread sends what is left and stops */
    bool done;             /* the heartbeat stops (after the finish: the lease lives till then) */
    pthread_t heartbeat, logger;
    bool heartbeat_started, logger_started;

    /* the log, under mu: bytes not yet taken by the coordinator, which
     * start at its offset `posted` */
    mg_buf pending;
    uint64_t posted;
    bool at_line_start;
    uint64_t dropped;
};

/* Stops the build: its processes are killed, and it is dropped (the
 * coordinator knows already, or learns it from the lease). */
static void job_stop(job *j, const char *why)
{
    pthread_mutex_lock(&j->mu);
    if (!atomic_load(&j->cancel)) snprintf(j->why, sizeof j->why, "%s", why);
    atomic_store(&j->cancel, true);
    if (j->build) mg_build_cancel(j->build);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* The build log's callback: stamps the lines with the build's clock (which
 * goes on from the coordinator's elapsed_ms) and queues them. */
static void job_log(void *ctx, const char *text, size_t len)
{
    job *j = ctx;
    mg_buf out = {0};
    pthread_mutex_lock(&j->mu);
    mg_cli_log_stamp(&out, text, len, j->elapsed_ms + mg_ms_since(j->start_ms), &j->at_line_start);
    if (!out.failed) {
        if (j->pending.len + out.len > LOG_PENDING_MAX)
            j->dropped += out.len;
        else
            mg_buf_add(&j->pending, out.data, out.len);
    }
    if (j->pending.len >= LOG_BATCH) pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    mg_buf_free(&out);
}

static void job_line(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_line(job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mg_xvasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&j->mu);
    bool mid_line = !j->at_line_start;
    pthread_mutex_unlock(&j->mu);
    if (mid_line) job_log(j, "\n", 1);
    job_log(j, s, strlen(s));
    job_log(j, "\n", 1);
    free(s);
}

#define LEASE_LOST "the lease was lost (the coordinator queued the build again or ended it)"

/* Stops the build after a 409 or 404 to a log post or an upload, saying
 * why: the heartbeat's answer tells a cancel (a cancelled build takes no
 * more log, but its heartbeat says cancel) from a lost lease. */
static void stop_for(job *j, CURL **h, long status)
{
    char path[128];
    snprintf(path, sizeof path, "/workers/builds/%lld/heartbeat?lease=%lld", (long long)j->id,
             (long long)j->lease);
    reply r;
    mg_err e;
    const char *why = status == 404 ? "the build no longer exists" : LEASE_LOST;
    if (call(j->w, h, "POST", path, "application/json", "{}", 2, REPLY_MAX, 5000, NULL, &r, &e) ==
        0) {
        cJSON *json = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
        if (r.status == 200 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "cancel")))
            why = "cancelled";
        cJSON_Delete(json);
        mg_buf_free(&r.body);
    }
    job_stop(j, why);
}

/* One POST of what is pending. 0 when the coordinator took it (or said
 * where it stands), 1 to try again later, -1 when the build must stop. */
static int log_post(job *j, CURL **h)
{
    worker *w = j->w;
    pthread_mutex_lock(&j->mu);
    if (j->dropped && j->pending.len + 128 <= LOG_PENDING_MAX) {
        char note[128];
        snprintf(note, sizeof note,
                 "[mgd worker] %llu bytes of log dropped: the coordinator did not take them\n",
                 (unsigned long long)j->dropped);
        mg_buf_adds(&j->pending, note);
        j->dropped = 0;
    }
    size_t n = j->pending.len < LOG_POST_MAX ? j->pending.len : LOG_POST_MAX;
    uint64_t offset = j->posted;
    char *chunk = n ? mg_xmalloc(n) : NULL;
    if (n) memcpy(chunk, j->pending.data, n);
    pthread_mutex_unlock(&j->mu);
    if (!n) return 0;
    char path[128];
    snprintf(path, sizeof path, "/workers/builds/%lld/log?lease=%lld&offset=%llu", (long long)j->id,
             (long long)j->lease, (unsigned long long)offset);
    reply r;
    mg_err e;
    int rc = 1;
    if (call(w, h, "POST", path, "text/plain", chunk, n, REPLY_MAX, 30000, NULL, &r, &e) != 0) {
        free(chunk);
        return 1;
    }
    free(chunk);
    cJSON *json = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(json, "size");
    bool has_size = cJSON_IsNumber(size) && size->valuedouble >= 0 && size->valuedouble <= 1e15;
    if (token_refused(w, &r)) {
        job_stop(j, "the coordinator refuses the token");
        rc = -1;
    } else if (r.status == 200 && has_size) {
        pthread_mutex_lock(&j->mu);
        /* what was sent is taken (appended, or dropped by the log cap);
         * the next bytes go where the coordinator's log now ends */
        size_t left = j->pending.len - n;
        memmove(j->pending.data, j->pending.data + n, left);
        j->pending.len = left;
        j->posted = (uint64_t)size->valuedouble;
        pthread_mutex_unlock(&j->mu);
        rc = 0;
    } else if (r.status == 416 && has_size) {
        /* the coordinator has less than thought: send again from there
         * (what it has is still pending here, or was taken) */
        pthread_mutex_lock(&j->mu);
        j->posted = (uint64_t)size->valuedouble;
        pthread_mutex_unlock(&j->mu);
        rc = 1;
    } else if (r.status == 409 || r.status == 404) {
        stop_for(j, h, r.status);
        rc = -1;
    } else if (r.status >= 400 && r.status < 500) {
        char msg[MG_ERR_SIZE];
        reply_error(&r, msg, sizeof msg);
        say(w, "build %lld: the coordinator refuses its log (HTTP %ld: %s): dropped",
            (long long)j->id, r.status, msg);
        pthread_mutex_lock(&j->mu);
        j->pending.len = 0;
        pthread_mutex_unlock(&j->mu);
        rc = 0;
    }
    cJSON_Delete(json);
    mg_buf_free(&r.body);
    return rc;
}

/* The log thread: posts what is pending once per LOG_PERIOD_MS, or sooner
 * past LOG_BATCH bytes; at the end, what is left (for a bounded time). */
static void *logger_main(void *arg)
{
    job *j = arg;
    CURL *h = NULL;
    uint64_t last = 0, end_by = 0, backoff = 0;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        for (;;) {
            bool due = j->pending.len && mg_ms_since(last) >= LOG_PERIOD_MS + backoff;
            if (j->ending || due || (j->pending.len >= LOG_BATCH && !backoff)) break;
            struct timespec ts = mg_abstime_in(CLOCK_REALTIME, LOG_PERIOD_MS / 2);
            pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        }
        bool ending = j->ending, empty = !j->pending.len && !j->dropped;
        pthread_mutex_unlock(&j->mu);
        if (ending && !end_by) end_by = mg_deadline_in(END_RETRY_MS);
        if (ending &&
            (empty || atomic_load(&j->cancel) || atomic_load(&j->w->stop) || mg_now_ms() >= end_by))
            break;
        last = mg_now_ms();
        int r = log_post(j, &h);
        if (r < 0) break;
        backoff = r > 0 ? backoff_next(backoff) : 0;
        if (r > 0 && ending) nap(j->w, backoff, &j->cancel);
    }
    if (h) curl_easy_cleanup(h);
    return NULL;
}

/* The heartbeat thread: one POST per heartbeat_ms until the build is
 * finished (its image handed over and its result taken) or stopped; its
 * answer may stop the build. */
static void *heartbeat_main(void *arg)
{
    job *j = arg;
    worker *w = j->w;
    CURL *h = NULL;
    char path[128];
    snprintf(path, sizeof path, "/workers/builds/%lld/heartbeat?lease=%lld", (long long)j->id,
             (long long)j->lease);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        struct timespec ts = mg_abstime_in(CLOCK_REALTIME, j->heartbeat_ms);
        while (!j->done && !atomic_load(&j->cancel))
            if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT) break;
        bool end = j->done || atomic_load(&j->cancel);
        pthread_mutex_unlock(&j->mu);
        if (end) break;
        reply r;
        mg_err e;
        if (call(w, &h, "POST", path, "application/json", "{}", 2, REPLY_MAX,
                 (long)(j->heartbeat_ms > 5000 ? j->heartbeat_ms : 5000), NULL, &r, &e) != 0)
            continue; /* down: the next one may pass; the lease decides */
        cJSON *json = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
        const cJSON *cancel = cJSON_GetObjectItemCaseSensitive(json, "cancel");
        if (token_refused(w, &r))
            job_stop(j, "the coordinator refuses the token");
        else if (r.status == 200 && cJSON_IsTrue(cancel))
            job_stop(j, "cancelled");
        else if (r.status == 409)
            job_stop(j, LEASE_LOST);
        else if (r.status == 404)
            job_stop(j, "the build no longer exists");
        else if (r.status != 200 && r.status < 500) {
            char msg[MG_ERR_SIZE];
            reply_error(&r, msg, sizeof msg);
            say(w, "build %lld: heartbeat: HTTP %ld: %s", (long long)j->id, r.status, msg);
        }
        cJSON_Delete(json);
        mg_buf_free(&r.body);
    }
    if (h) curl_easy_cleanup(h);
    return NULL;
}

/* ---- the claim's answer ---------------------------------------------------- */

static bool get_uint(const cJSON *o, const char *name, uint64_t max, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

static const char *get_name(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v)) return NULL;
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > 128) return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->valuestring[i] < 0x21 || (unsigned char)v->valuestring[i] > 0x7e)
            return NULL;
    return v->valuestring;
}

static bool get_sha(const cJSON *o, const char *name, char out[MG_SHA256_HEX_SIZE])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v) || !mg_sha256_is_hex(v->valuestring)) return false;
    memcpy(out, v->valuestring, MG_SHA256_HEX_SIZE);
    return true;
}

/* Reads the claim's answer into `j`: build and lease first (so a bad rest
 * can still be reported against them). 0, or -1 with what is wrong. */
static int parse_claim(job *j, mg_err *e)
{
    const cJSON *c = j->claim;
    uint64_t id = 0, lease = 0, v;
    if (!cJSON_IsObject(c)) return mg_err_set(e, MG_E_INVALID, "the answer is not a JSON object");
    if (!get_uint(c, "build", 1ull << 53, &id) || id == 0)
        return mg_err_set(e, MG_E_INVALID, "no valid \"build\"");
    j->id = (int64_t)id;
    if (!get_uint(c, "lease", 1ull << 53, &lease))
        return mg_err_set(e, MG_E_INVALID, "no valid \"lease\"");
    j->lease = (int64_t)lease;
    if (!get_uint(c, "heartbeat_ms", 3600000, &v) || v == 0)
        return mg_err_set(e, MG_E_INVALID, "no valid \"heartbeat_ms\"");
    j->heartbeat_ms = v < 100 ? 100 : v;
    if (!(j->project = get_name(c, "project")))
        return mg_err_set(e, MG_E_INVALID, "no valid \"project\"");
    if (!(j->target = get_name(c, "target")) || !(j->arch = get_name(c, "arch")))
        return mg_err_set(e, MG_E_INVALID, "no valid \"target\" and \"arch\"");
    j->keys = cJSON_GetObjectItemCaseSensitive(c, "keys");
    if (j->keys && !cJSON_IsNull(j->keys)) {
        if (!cJSON_IsObject(j->keys)) return mg_err_set(e, MG_E_INVALID, "\"keys\" is no object");
        const cJSON *k;
        cJSON_ArrayForEach(k, j->keys) if (!cJSON_IsString(k)) return mg_err_set(
            e, MG_E_INVALID, "the value of key '%.64s' is not a string",
            k->string ? k->string : "");
    }
    j->config = cJSON_GetObjectItemCaseSensitive(c, "config");
    if (!cJSON_IsObject(j->config)) return mg_err_set(e, MG_E_INVALID, "no \"config\" object");
    const cJSON *force = cJSON_GetObjectItemCaseSensitive(c, "force");
    if (force && !cJSON_IsBool(force)) return mg_err_set(e, MG_E_INVALID, "\"force\" is no bool");
    j->force = cJSON_IsTrue(force);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(c, "sources");
    if (!cJSON_IsObject(src) || !get_sha(src, "sha256", j->sources_sha) ||
        !get_uint(src, "size", UINT64_MAX >> 12, &j->sources_size))
        return mg_err_set(e, MG_E_INVALID, "no valid \"sources\" {sha256, size}");
    if (j->sources_size > SNAPSHOT_MAX)
        return mg_err_set(e, MG_E_LIMIT,
                          "the source snapshot is %llu bytes, more than this worker takes "
                          "(%llu)",
                          (unsigned long long)j->sources_size, (unsigned long long)SNAPSHOT_MAX);
    if (!get_sha(c, "input_hash", j->input_hash))
        return mg_err_set(e, MG_E_INVALID, "no valid \"input_hash\"");
    uint64_t offset = 0;
    if (!get_uint(c, "log_offset", 1ull << 50, &offset) ||
        !get_uint(c, "elapsed_ms", 1ull << 50, &j->elapsed_ms))
        return mg_err_set(e, MG_E_INVALID, "no valid \"log_offset\" and \"elapsed_ms\"");
    j->posted = offset;
    for (size_t i = 0; i < j->w->n_platforms; i++) {
        const platform *p = &j->w->platforms[i];
        if (!strcmp(p->target->name, j->target) && !strcmp(p->arch->name, j->arch)) j->platform = p;
    }
    if (!j->platform)
        return mg_err_set(e, MG_E_INVALID, "%s/%s is not a platform this worker offered", j->target,
                          j->arch);
    return 0;
}

/* ---- the steps --------------------------------------------------------------- */

/* The snapshot's bytes, checked against its sha256: from the local cache
 * (an earlier build here had them), the shared cache's /cas/, or the
 * coordinator. 0 with *data malloc'd, or -1. */
static int get_sources(job *j, char **data, size_t *len, mg_err *e)
{
    worker *w = j->w;
    *data = NULL;
    bool local = mg_cache_blob_stat(w->cache, j->sources_sha, NULL, NULL) == 0;
    if (!local && w->has_remote) {
        mg_remote *r = mg_remote_open(&w->remote, w->cache);
        if (r) {
            mg_err re;
            mg_remote_bound(r, 0, &j->cancel, SNAPSHOT_MAX);
            if (mg_remote_blob_get(r, j->sources_sha, &re) == 0)
                job_line(j, "sources: snapshot %.12s from the shared cache", j->sources_sha);
            else if (re.code != MG_E_NOT_FOUND || !strstr(re.msg, "is not in"))
                job_line(j, "sources: the shared cache failed (%s): asking the coordinator",
                         re.msg);
            mg_remote_close(r);
        }
    }
    char *path = mg_cache_blob_path(w->cache, j->sources_sha);
    size_t n = 0;
    char *bytes = path && mg_cache_blob_stat(w->cache, j->sources_sha, NULL, NULL) == 0
                      ? mg_file_read(path, (size_t)SNAPSHOT_MAX, &n)
                      : NULL;
    free(path);
    if (bytes && local)
        job_line(j, "sources: snapshot %.12s from the local cache", j->sources_sha);
    else if (!bytes) {
        char p[160];
        snprintf(p, sizeof p, "/workers/builds/%lld/sources?lease=%lld", (long long)j->id,
                 (long long)j->lease);
        CURL *h = NULL;
        reply r;
        int rc = call(w, &h, "GET", p, NULL, NULL, 0, (size_t)j->sources_size, 600000, &j->cancel,
                      &r, e);
        if (h) curl_easy_cleanup(h);
        if (rc != 0) {
            if (e->code == MG_E_LIMIT)
                mg_err_set(e, MG_E_INVALID,
                           "the coordinator sent a snapshot larger than the %llu bytes it "
                           "announced",
                           (unsigned long long)j->sources_size);
            return -1;
        }
        if (r.status != 200) {
            char msg[MG_ERR_SIZE];
            reply_error(&r, msg, sizeof msg);
            mg_buf_free(&r.body);
            mg_err_set(e, r.status == 409 || r.status == 404 ? MG_E_CANCELLED : MG_E_IO,
                       "the coordinator did not send the snapshot (HTTP %ld: %s)", r.status, msg);
            return -1;
        }
        n = r.body.len;
        bytes = mg_buf_take(&r.body, &n);
        if (!bytes) bytes = mg_xstrdup("");
        job_line(j, "sources: snapshot %.12s from the coordinator (%zu bytes)", j->sources_sha, n);
    }
    char got[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(bytes, n, got);
    if (strcmp(got, j->sources_sha) != 0) {
        free(bytes);
        return mg_err_set(e, MG_E_CORRUPT,
                          "the source snapshot hashes to %s, not to the %s announced: refused", got,
                          j->sources_sha);
    }
    *data = bytes;
    *len = n;
    return 0;
}

/* Puts the image where the coordinator will find it: the shared cache
 * when it may be written (true: done), else nothing (false: upload). */
static bool image_to_shared_cache(job *j, const char *sha)
{
    worker *w = j->w;
    if (!w->has_remote || w->remote.read_only) return false;
    mg_remote *r = mg_remote_open(&w->remote, w->cache);
    if (!r) return false;
    mg_remote_bound(r, 0, &j->cancel, 0);
    mg_err e;
    bool ok = mg_remote_blob_put(r, sha, &e) == 0;
    mg_remote_close(r);
    if (ok)
        job_line(j, "image %.12s put in the shared cache", sha);
    else
        job_line(j, "warning: cannot put the image in the shared cache (%s): uploading it", e.msg);
    return ok;
}

/* PUT /workers/builds/:id/image. 0, or -1 (1 when the build must stop). */
static int upload_image(job *j, const char *sha, mg_err *e)
{
    worker *w = j->w;
    char *path = mg_cache_blob_path(w->cache, sha);
    size_t n = 0;
    char *bytes = path ? mg_file_read(path, (size_t)1 << 32, &n) : NULL;
    free(path);
    if (!bytes) return mg_err_set(e, MG_E_IO, "cannot read the image: %s", strerror(errno));
    char p[200];
    snprintf(p, sizeof p, "/workers/builds/%lld/image?lease=%lld&sha256=%s", (long long)j->id,
             (long long)j->lease, sha);
    CURL *h = NULL;
    int rc = -1;
    uint64_t backoff = 0, until = mg_deadline_in(END_RETRY_MS);
    for (;;) {
        reply r;
        long timeout = 60000 + (long)(n / 16384) * 1000;
        if (call(w, &h, "PUT", p, "application/octet-stream", bytes, n, REPLY_MAX, timeout,
                 &j->cancel, &r, e) == 0) {
            char msg[MG_ERR_SIZE];
            reply_error(&r, msg, sizeof msg);
            if (token_refused(w, &r)) {
                rc = 1;
            } else if (r.status == 200) {
                job_line(j, "image %.12s uploaded to the coordinator (%zu bytes)", sha, n);
                rc = 0;
            } else if (r.status == 409 || r.status == 404) {
                stop_for(j, &h, r.status);
                rc = 1;
            } else if (r.status < 500) {
                mg_err_set(e, MG_E_IO, "the coordinator refuses the image (HTTP %ld: %s)", r.status,
                           msg);
            } else {
                mg_err_set(e, MG_E_IO, "HTTP %ld: %s", r.status, msg);
                rc = 2;
            }
            mg_buf_free(&r.body);
        } else {
            rc = 2;
        }
        if (rc != 2) break;
        rc = -1;
        if (atomic_load(&j->cancel) || atomic_load(&w->stop) || mg_now_ms() >= until) break;
        backoff = backoff_next(backoff);
        nap(w, backoff, &j->cancel);
    }
    if (h) curl_easy_cleanup(h);
    free(bytes);
    return rc;
}

/* The end of the companions: the log thread sends what is left. */
static void end_companions(job *j)
{
    pthread_mutex_lock(&j->mu);
    j->ending = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->logger_started) pthread_join(j->logger, NULL);
    j->logger_started = false;
}

typedef struct outcome {
    bool ok;
    char error[MG_ERR_SIZE + 256]; /* one line: finish() turns control characters to spaces */
    char image_name[256], sha[MG_SHA256_HEX_SIZE];
    uint64_t size;
    mg_build_result res;
    bool has_res;
} outcome;

/* POST /workers/builds/:id/finish, retried while the coordinator is down;
 * on 412 the image is uploaded and the finish sent again. */
static void finish(job *j, const outcome *o)
{
    worker *w = j->w;
    mg_buf body = {0};
    mg_jw jw;
    mg_jw_init(&jw, &body);
    mg_jw_object(&jw);
    mg_jw_kint(&jw, "lease", j->lease);
    mg_jw_kstring(&jw, "status", o->ok ? "succeeded" : "failed");
    if (o->ok) {
        mg_jw_key(&jw, "image");
        mg_jw_object(&jw);
        mg_jw_kstring(&jw, "name", o->image_name);
        mg_jw_kstring(&jw, "sha256", o->sha);
        mg_jw_kint(&jw, "size", (int64_t)o->size);
        mg_jw_object_end(&jw);
    } else {
        char line[sizeof o->error];
        printable(line, sizeof line, o->error, strlen(o->error));
        mg_jw_kstring(&jw, "error", line);
    }
    const mg_build_result *res = &o->res;
    mg_jw_kint(&jw, "actions", o->has_res ? res->actions : 0);
    mg_jw_kint(&jw, "hits", o->has_res ? res->hits : 0);
    mg_jw_kint(&jw, "misses", o->has_res ? res->misses : 0);
    mg_jw_key(&jw, "remote");
    mg_jw_object(&jw);
    mg_jw_kint(&jw, "hits", o->has_res ? res->remote_hits : 0);
    mg_jw_kint(&jw, "misses", o->has_res ? (int64_t)res->remote.misses : 0);
    mg_jw_kint(&jw, "errors", o->has_res ? (int64_t)res->remote.errors : 0);
    mg_jw_kint(&jw, "bytes_down", o->has_res ? (int64_t)res->remote.bytes_down : 0);
    mg_jw_kint(&jw, "bytes_up", o->has_res ? (int64_t)res->remote.bytes_up : 0);
    mg_jw_object_end(&jw);
    mg_jw_object_end(&jw);
    char path[128];
    snprintf(path, sizeof path, "/workers/builds/%lld/finish", (long long)j->id);
    CURL *h = NULL;
    uint64_t backoff = 0, until = mg_deadline_in(END_RETRY_MS);
    bool uploaded = false;
    while (!atomic_load(&w->stop)) {
        reply r;
        mg_err e;
        if (call(w, &h, "POST", path, "application/json", body.data, body.len, REPLY_MAX, 60000,
                 NULL, &r, &e) != 0) {
            if (mg_now_ms() >= until) {
                say(w, "build %lld: the coordinator did not take its end: %s; given up",
                    (long long)j->id, e.msg);
                break;
            }
            backoff = backoff_next(backoff);
            nap(w, backoff, NULL);
            continue;
        }
        char msg[MG_ERR_SIZE];
        reply_error(&r, msg, sizeof msg);
        long status = r.status;
        mg_buf_free(&r.body);
        if (token_refused(w, &r)) break;
        if (status == 200) {
            say(w, "build %lld (%s %s/%s): %s", (long long)j->id, j->project, j->target, j->arch,
                o->ok ? "succeeded" : o->error);
            break;
        }
        if (status == 412 && o->ok && !uploaded) {
            uploaded = true;
            mg_err ue;
            int u = upload_image(j, o->sha, &ue);
            if (u < 0) say(w, "build %lld: cannot upload the image: %s", (long long)j->id, ue.msg);
            if (u != 0) break;
            continue;
        }
        if (status == 409) {
            say(w,
                "build %lld: the lease was lost (the coordinator queued the build again or "
                "ended it): its result is dropped",
                (long long)j->id);
            break;
        }
        if (status >= 500 && mg_now_ms() < until) {
            backoff = backoff_next(backoff);
            nap(w, backoff, NULL);
            continue;
        }
        say(w, "build %lld: the coordinator refuses its end (HTTP %ld: %s)", (long long)j->id,
            status, msg);
        break;
    }
    if (h) curl_easy_cleanup(h);
    mg_buf_free(&body);
}

/* Sources, resolution, build, image: fills *o. Returns false when the
 * build was stopped (dropped: nothing to finish). */
static bool run_steps(job *j, outcome *o)
{
    worker *w = j->w;
    mg_err e;
    char *data = NULL;
    size_t len = 0;
    /* 1. the sources */
    j->scratch = mg_xasprintf("%s/build-%lld-XXXXXX", w->scratch_dir, (long long)j->id);
    if (!mkdtemp(j->scratch)) {
        snprintf(o->error, sizeof o->error, "worker %s: cannot make a scratch directory: %s",
                 w->name, strerror(errno));
        free(j->scratch);
        j->scratch = NULL;
        return true;
    }
    j->src = mg_path_join(j->scratch, "src");
    if (mkdir(j->src, 0755) != 0) {
        snprintf(o->error, sizeof o->error, "worker %s: cannot make %s: %s", w->name, j->src,
                 strerror(errno));
        return true;
    }
    if (get_sources(j, &data, &len, &e) != 0) {
        if (atomic_load(&j->cancel) || e.code == MG_E_CANCELLED) return false;
        snprintf(o->error, sizeof o->error, "sources: %s", e.msg);
        return true;
    }
    int unpacked = mg_snapshot_unpack(data, len, j->src, 0, 0, &e);
    free(data);
    if (unpacked != 0) {
        snprintf(o->error, sizeof o->error, "sources: %s", e.msg);
        return true;
    }
    if (atomic_load(&j->cancel)) return false;

    /* 2. resolve, as the coordinator did */
    char *doc = cJSON_PrintUnformatted(j->config);
    size_t n_keys = 0;
    mg_key_setting *keys = mg_cli_keys_from_json(j->keys, &n_keys);
    mg_resolve_options ro = {.target = j->target, .arch = j->arch, .keys = keys, .n_keys = n_keys};
    mg_errors errs = {0};
    mg_graph *g =
        doc ? mg_cli_resolve_tree(w->catalog, doc, strlen(doc), j->src, &ro, &errs) : NULL;
    free(doc);
    bool run = true;
    if (!g) {
        char *text = mg_errors_text(&errs);
        job_log(j, text, strlen(text));
        free(text);
        snprintf(o->error, sizeof o->error,
                 "the config does not resolve (%zu error%s, listed above)", errs.len,
                 errs.len == 1 ? "" : "s");
        goto out;
    }
    job_line(j, "resolved %s for %s/%s: %zu devices", g->name, g->target, g->arch, g->n_nodes);

    /* 3. build */
    char *image = mg_path_join(j->scratch, "image");
    mg_build_options bo = {
        .project_dir = j->src,
        .graph = g,
        .catalog = w->catalog,
        .targets = w->targets,
        .cache = w->cache,
        .remote = w->has_remote ? &w->remote : NULL,
        .distcc = w->has_distcc ? &w->distcc : NULL,
        .output = image,
        .force = j->force,
        .limits = &w->limits,
        .no_sandbox = w->no_sandbox,
        .log = job_log,
        .log_ctx = j,
        .log_untimed = true,
        .log_no_error = true, /* the coordinator ends the log with it (worker NAME: error: ...) */
    };
    mg_build *b = mg_build_new(&bo);
    pthread_mutex_lock(&j->mu);
    j->build = b;
    if (atomic_load(&j->cancel)) mg_build_cancel(b);
    pthread_mutex_unlock(&j->mu);
    int r = mg_build_run(b, &o->res);
    pthread_mutex_lock(&j->mu);
    j->build = NULL;
    pthread_mutex_unlock(&j->mu);
    mg_build_free(b);
    o->has_res = true;
    if (atomic_load(&j->cancel)) {
        run = false;
    } else if (r != 0) {
        snprintf(o->error, sizeof o->error, "%s", o->res.error.msg);
    } else {
        /* 4. the image, into the local cache (the shared cache's upload
         * and the coordinator's take it from there) */
        uint64_t size = 0;
        if (mg_cache_blob_put(w->cache, image, o->sha, &size, &e) != 0)
            snprintf(o->error, sizeof o->error, "worker %s: cannot store the image: %s", w->name,
                     e.msg);
        else if (strcmp(o->sha, o->res.sha256) != 0)
            snprintf(o->error, sizeof o->error, "worker %s: the image changed while stored",
                     w->name);
        else {
            o->ok = true;
            o->size = size;
            snprintf(o->image_name, sizeof o->image_name, "%s", o->res.image_name);
            job_line(j, "image %s: sha256 %s, %llu bytes (%u actions, %u cached, %u run)",
                     o->image_name, o->sha, (unsigned long long)size, o->res.actions, o->res.hits,
                     o->res.misses);
        }
    }
    free(image);
out:
    mg_errors_free(&errs);
    mg_graph_free(g);
    free(keys);
    return run;
}

/* One claimed build, from the claim's answer to its end. */
static void run_job(slot *s, cJSON *claim)
{
    worker *w = s->w;
    job *j = mg_xmalloc(sizeof *j);
    memset(j, 0, sizeof *j);
    j->w = w;
    j->claim = claim;
    j->start_ms = mg_now_ms();
    j->at_line_start = true;
    atomic_init(&j->cancel, false);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    mg_err e;
    if (parse_claim(j, &e) != 0) {
        say(w, "the coordinator sent a bad build%s: %s", j->id ? "" : " (dropped)", e.msg);
        if (j->id) {
            /* known: it fails with the reason, rather than wait for its lease */
            outcome o = {0};
            snprintf(o.error, sizeof o.error, "worker %s: the coordinator sent a bad build: %s",
                     w->name, e.msg);
            j->project = j->target = j->arch = "?";
            finish(j, &o);
        }
        goto out;
    }
    pthread_mutex_lock(&w->mu);
    s->current = j;
    pthread_mutex_unlock(&w->mu);
    if (atomic_load(&w->stop)) job_stop(j, "the worker is stopping");
    say(w, "build %lld (%s %s/%s): started, lease %lld", (long long)j->id, j->project, j->target,
        j->arch, (long long)j->lease);
    job_line(j, "worker %s: build %lld of %s for %s/%s%s", w->name, (long long)j->id, j->project,
             j->target, j->arch, j->force ? ", forced" : "");
    j->heartbeat_started = pthread_create(&j->heartbeat, NULL, heartbeat_main, j) == 0;
    j->logger_started = pthread_create(&j->logger, NULL, logger_main, j) == 0;

    outcome o = {0};
    bool go_on = run_steps(j, &o);
    if (go_on && o.ok && !image_to_shared_cache(j, o.sha)) {
        int u = upload_image(j, o.sha, &e);
        if (u > 0) go_on = false;
        if (u < 0) {
            o.ok = false;
            snprintf(o.error, sizeof o.error, "worker %s: cannot hand the image over: %s", w->name,
                     e.msg);
        }
    }
    if (go_on && !atomic_load(&j->cancel)) {
        /* the last lines go before the finish, which closes the log (the
         * coordinator's "worker NAME: error: ..." says the error, once) */
        end_companions(j);
        if (!atomic_load(&j->cancel)) finish(j, &o);
    }
    if (atomic_load(&j->cancel)) {
        pthread_mutex_lock(&j->mu);
        char why[MG_ERR_SIZE];
        snprintf(why, sizeof why, "%s", j->why);
        pthread_mutex_unlock(&j->mu);
        say(w, "build %lld: stopped: %s; dropped", (long long)j->id, why);
    }
    end_companions(j);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->heartbeat_started) pthread_join(j->heartbeat, NULL);
    pthread_mutex_lock(&w->mu);
    s->current = NULL;
    pthread_mutex_unlock(&w->mu);
out:
    if (j->scratch) mg_rm_rf(j->scratch);
    free(j->scratch);
    free(j->src);
    mg_buf_free(&j->pending);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* ---- the claim loop ------------------------------------------------------------ */

static void *slot_main(void *arg)
{
    slot *s = arg;
    worker *w = s->w;
    CURL *h = NULL;
    char *body = mg_xasprintf("{\"name\":\"%s\",\"slots\":%u,\"wait_ms\":%u,\"platforms\":%s}",
                              w->name, w->jobs, CLAIM_WAIT_MS, w->platforms_json);
    uint64_t backoff = 0;
    char last_problem[MG_ERR_SIZE + 64] = "";
    while (!atomic_load(&w->stop)) {
        reply r;
        mg_err e;
        char problem[MG_ERR_SIZE + 64] = "";
        if (call(w, &h, "POST", "/workers/claim", "application/json", body, strlen(body),
                 CLAIM_REPLY_MAX, (long)CLAIM_WAIT_MS + CLAIM_PREPARE_MS, NULL, &r, &e) != 0) {
            if (atomic_load(&w->stop)) break;
            snprintf(problem, sizeof problem, "%s", e.msg);
        } else if (token_refused(w, &r)) {
            mg_buf_free(&r.body);
            break;
        } else if (r.status == 204) {
            backoff = 0;
        } else if (r.status == 200) {
            backoff = 0;
            cJSON *claim = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
            if (!claim)
                say(w, "the coordinator's claim answer is not JSON: ignored (a lease it "
                       "gave runs out)");
            else
                run_job(s, claim);
            cJSON_Delete(claim);
        } else {
            char msg[MG_ERR_SIZE];
            reply_error(&r, msg, sizeof msg);
            snprintf(problem, sizeof problem, "claim: HTTP %ld: %s", r.status, msg);
        }
        mg_buf_free(&r.body);
        if (problem[0]) {
            /* said once, not at every retry */
            if (strcmp(problem, last_problem))
                say(w, "coordinator %s: %s; retrying", w->base, problem);
            snprintf(last_problem, sizeof last_problem, "%s", problem);
            backoff = backoff_next(backoff);
            nap(w, backoff, NULL);
        } else if (last_problem[0]) {
            say(w, "coordinator %s answers again", w->base);
            last_problem[0] = 0;
        }
    }
    if (h) curl_easy_cleanup(h);
    free(body);
    return NULL;
}

/* ---- start ------------------------------------------------------------------------ */

/* Every (target, arch) of the registry whose tools are here, with the
 * identity of those tools. 0, or -1 when there is none. */
static int find_platforms(worker *w)
{
    mg_buf b = {0};
    mg_jw jw;
    mg_jw_init(&jw, &b);
    mg_jw_array(&jw);
    size_t cap = 0;
    for (size_t i = 0; i < mg_targets_count(w->targets); i++) {
        const mg_target *t = mg_targets_get(w->targets, i);
        for (size_t k = 0; k < t->n_arches; k++) {
            const mg_target_arch *a = &t->arches[k];
            bool can_run;
            mg_err why;
            if (!mg_target_available(t, a, &can_run, &why)) continue;
            char *id = mg_toolchain_identity(w->cache, a, &why);
            if (!id) {
                fprintf(stderr, "mgd worker: %s/%s left out: %s\n", t->name, a->name, why.msg);
                continue;
            }
            if (w->n_platforms == cap) {
                cap = cap ? 2 * cap : 8;
                w->platforms = mg_xrealloc(w->platforms, cap * sizeof *w->platforms);
            }
            w->platforms[w->n_platforms++] = (platform){t, a};
            mg_jw_object(&jw);
            mg_jw_kstring(&jw, "target", t->name);
            mg_jw_kstring(&jw, "arch", a->name);
            mg_jw_kstring(&jw, "toolchain", id);
            mg_jw_object_end(&jw);
            free(id);
        }
    }
    mg_jw_array_end(&jw);
    w->platforms_json = mg_buf_xtake(&b);
    return w->n_platforms ? 0 : -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mgd worker --coordinator URL (--token T | --token-file F | $MGD_TOKEN)\n"
               "                  [--jobs N] [--name NAME] [--data DIR] [--cache DIR]\n"
               "                  [--no-sandbox] [REMOTE CACHE] [DISTCC] [LIMITS]\n"
               "\n"
               "Builds what a coordinator (mgd serve) hands out, here, until SIGINT or SIGTERM.\n"
               "  --coordinator URL  the coordinator, http:// or https://\n"
               "  --token T          a token of scope worker (default $MGD_TOKEN)\n"
               "  --token-file F     the token, on the first line of F (not readable by others)\n"
               "  --jobs N           builds at once (default 1)\n"
               "  --name NAME        this worker's name: 1 to 64 of A-Z a-z 0-9 . _ -\n"
               "                     (default the host name)\n"
               "  --data DIR         scratch space of the builds and the lock (default ./worker)\n"
               "  --cache DIR        the action cache (default DATA/cache)\n"
               "  --no-sandbox       run the actions without the bubblewrap sandbox (limits only)\n"
               "" MG_CLI_REMOTE_USAGE MG_CLI_DISTCC_USAGE MG_CLI_LIMITS_USAGE
               "Exit status: 0 stopped by a signal, 1 cannot start or the coordinator refuses the\n"
               "token, 2 usage.\n");
}

static const mg_option worker_options[] = {
    {"--coordinator", 0, "URL", true, NULL, "the coordinator"},
    {"--token", 0, "T", true, NULL, "a worker token"},
    {"--token-file", 0, "F", true, "@file", "the token's file"},
    {"--jobs", 0, "N", true, NULL, "builds at once"},
    {"--name", 0, "NAME", true, NULL, "this worker's name"},
    {"--data", 0, "DIR", true, "@dir", "scratch space and the lock"},
    {"--cache", 0, "DIR", true, "@dir", "the action cache"},
    {"--no-sandbox", 0, NULL, true, NULL, "runs the actions without bubblewrap"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* The token of --token-file: its first line, from a file others cannot
 * read (the token builds anything anyone queued). malloc'd, or NULL. */
static char *read_token_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "mgd worker: cannot read %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    close(fd);
    if (st.st_mode & 077) {
        fprintf(stderr, "mgd worker: %s may be read by other users: chmod 600 it\n", path);
        return NULL;
    }
    size_t len;
    char *text = mg_file_read(path, 4096, &len);
    if (!text) {
        fprintf(stderr, "mgd worker: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    text[strcspn(text, "\r\n")] = 0;
    return text;
}

/* The coordinator's URL: http(s)://host[:port][/prefix], nothing else. */
static char *coordinator_base(const char *url)
{
    mg_err e;
    if (!mg_remote_url_valid(url, &e)) {
        fprintf(stderr, "mgd worker: --coordinator: %s\n", e.msg);
        return NULL;
    }
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    return strndup(url, n);
}

/* Parses the line into *w. 0, -1 (usage: 2), or 1 (--help). */
static int take_options(worker *w, const mg_args *a, char **token)
{
    const char *v;
    if (a->npositional) {
        fprintf(stderr, "mgd worker: unexpected argument '%s'\n", a->positional[0]);
        return -1;
    }
    if (!(v = mg_args_get(a, "--coordinator"))) {
        fprintf(stderr, "mgd worker: --coordinator URL is needed\n");
        return -1;
    }
    if (!(w->base = coordinator_base(v))) return -1;
    const char *tok = mg_args_get(a, "--token"), *file = mg_args_get(a, "--token-file");
    if (tok && file) {
        fprintf(stderr, "mgd worker: --token and --token-file: one of them\n");
        return -1;
    }
    if (file && !(*token = read_token_file(file))) return -1;
    if (!*token && !tok) tok = getenv("MGD_TOKEN");
    if (!*token && tok) *token = mg_xstrdup(tok);
    if (!*token || !**token) {
        fprintf(stderr, "mgd worker: a token is needed: --token T, --token-file F or "
                        "$MGD_TOKEN (a token of scope worker: mgd token create NAME --scope "
                        "worker)\n");
        return -1;
    }
    for (const char *p = *token; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            fprintf(stderr, "mgd worker: the token has a space or a control character\n");
            return -1;
        }
    w->jobs = 1;
    for (int k = 0; (v = mg_args_nth(a, "--jobs", k)); k++) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || !*v || n < 1 || n > 64) {
            fprintf(stderr, "mgd worker: --jobs takes a number from 1 to 64\n");
            return -1;
        }
        w->jobs = (unsigned)n;
    }
    if ((v = mg_args_get(a, "--name"))) {
        if (!valid_name(v)) {
            fprintf(stderr, "mgd worker: --name takes 1 to 64 of A-Z a-z 0-9 . _ -, got '%s'\n", v);
            return -1;
        }
        snprintf(w->name, sizeof w->name, "%s", v);
    } else {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        size_t o = 0;
        for (size_t i = 0; host[i] && o < 64; i++)
            w->name[o++] = valid_name((char[]){host[i], 0}) ? host[i] : '-';
        w->name[o] = 0;
        if (!o) snprintf(w->name, sizeof w->name, "worker");
    }
    w->data_dir = mg_xstrdup((v = mg_args_get(a, "--data")) ? v : "worker");
    w->no_sandbox = mg_args_has(a, "--no-sandbox");
    w->limits = mg_build_limits_default();
    if (mg_cli_apply_limits("mgd worker", a, &w->limits)) return -1;
    int has_remote = mg_cli_remote_config("mgd worker", a, &w->remote);
    if (has_remote < 0) return -1;
    w->has_remote = has_remote > 0;
    int has_distcc = mg_cli_distcc_hosts("mgd worker", a, &w->distcc_given);
    if (has_distcc < 0) return -1;
    w->has_distcc = has_distcc > 0;
    return 0;
}

/* The distcc probe, for every platform this worker offers: the hosts kept
 * are those whose compiler gives this machine's objects for all of them. */
static void probe_distcc(worker *w)
{
    if (!w->has_distcc) return;
    mg_distcc_probe_target *pt = mg_xmalloc(w->n_platforms * sizeof *pt);
    for (size_t i = 0; i < w->n_platforms; i++)
        pt[i] = (mg_distcc_probe_target){w->platforms[i].target, w->platforms[i].arch};
    mg_cli_distcc_probe("mgd worker", &w->distcc_given, pt, w->n_platforms, w->no_sandbox,
                        &w->distcc);
    free(pt);
}

/* The data directory, its lock (one worker per directory: each removes
 * the scratch it finds at start), the cache, the registry and catalog. */
static int open_state(worker *w, const char *cache_dir)
{
    if (mg_mkdir_p(w->data_dir) != 0) {
        fprintf(stderr, "mgd worker: cannot create %s: %s\n", w->data_dir, strerror(errno));
        return -1;
    }
    char *lock = mg_path_join(w->data_dir, "worker.lock");
    w->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock);
    if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "mgd worker: %s is in use by another mgd worker (or cannot be locked: "
                "%s)\n",
                w->data_dir, strerror(errno));
        return -1;
    }
    w->scratch_dir = mg_path_join(w->data_dir, "scratch");
    mg_rm_rf(w->scratch_dir);
    if (mg_mkdir_p(w->scratch_dir) != 0) {
        fprintf(stderr, "mgd worker: cannot create %s: %s\n", w->scratch_dir, strerror(errno));
        return -1;
    }
    char *cache = cache_dir ? mg_xstrdup(cache_dir) : mg_path_join(w->data_dir, "cache");
    mg_err e;
    w->cache = mg_cache_open(cache, &e);
    if (!w->cache) fprintf(stderr, "mgd worker: cache %s: %s\n", cache, e.msg);
    free(cache);
    if (!w->cache) return -1;
    if (!(w->targets = mg_targets_load(&e))) {
        fprintf(stderr, "mgd worker: %s\n", e.msg);
        return -1;
    }
    mg_errors errs = {0};
    w->catalog = mg_builtin_catalog_load(&errs);
    if (!w->catalog) {
        char *text = mg_errors_text(&errs);
        fprintf(stderr, "mgd worker: the built-in catalog is broken (a bug):\n%s", text);
        free(text);
    }
    mg_errors_free(&errs);
    return w->catalog ? 0 : -1;
}

static void worker_free(worker *w, char *token)
{
    mg_remote_config_free(&w->remote);
    mg_distcc_hosts_free(&w->distcc_given);
    mg_distcc_hosts_free(&w->distcc);
    mg_cache_close(w->cache);
    mg_targets_free(w->targets);
    mg_catalog_free(w->catalog);
    if (w->lock_fd >= 0) close(w->lock_fd);
    if (token) memset(token, 0, strlen(token));
    free(token);
    if (w->auth_header) memset(w->auth_header, 0, strlen(w->auth_header));
    free(w->auth_header);
    free(w->base);
    free(w->data_dir);
    free(w->scratch_dir);
    free(w->platforms);
    free(w->platforms_json);
    free(w->slots);
    pthread_mutex_destroy(&w->mu);
}

int mg_cmd_worker(int argc, char **argv)
{
    worker w;
    memset(&w, 0, sizeof w);
    w.lock_fd = -1;
    atomic_init(&w.stop, false);
    atomic_init(&w.status, 0);
    pthread_mutex_init(&w.mu, NULL);
    char *token = NULL;
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {worker_options, mg_cli_limit_options, mg_cli_remote_options,
                                       mg_cli_distcc_options};
    if (mg_cli_parse_options("mgd worker", &args, tables, 4, argc, argv) != 0) {
        usage(stderr);
        worker_free(&w, token);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        worker_free(&w, token);
        return 0;
    }
    if (take_options(&w, &args, &token) != 0) {
        worker_free(&w, token);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mgd worker: cannot initialise libcurl\n");
        worker_free(&w, token);
        return 1;
    }
    w.auth_header = mg_xasprintf("Authorization: Bearer %s", token);
    if (open_state(&w, mg_args_get(&args, "--cache")) != 0) {
        worker_free(&w, token);
        return 1;
    }
    if (find_platforms(&w) != 0) {
        fprintf(stderr, "mgd worker: no target can be built here: install a target's tools "
                        "(mgd describe and docs/toolchain.md say which)\n");
        worker_free(&w, token);
        return 1;
    }
    probe_distcc(&w);

    /* SIGINT and SIGTERM are taken by sigtimedwait() below; the threads
     * inherit the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_buf names = {0};
    for (size_t i = 0; i < w.n_platforms; i++)
        mg_buf_printf(&names, "%s%s/%s", i ? ", " : "", w.platforms[i].target->name,
                      w.platforms[i].arch->name);
    say(&w, "%s: %u build%s at once for %s, from %s%s%s", w.name, w.jobs, w.jobs == 1 ? "" : "s",
        mg_buf_str(&names), w.base, w.has_remote ? ", shared cache " : "",
        w.has_remote ? w.remote.url : "");
    mg_buf_free(&names);

    w.slots = mg_xmalloc(w.jobs * sizeof *w.slots);
    memset(w.slots, 0, w.jobs * sizeof *w.slots);
    unsigned started = 0;
    for (unsigned i = 0; i < w.jobs; i++) {
        w.slots[i] = (slot){.w = &w, .index = i};
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20); /* resolution may recurse */
        int r = pthread_create(&w.slots[i].thread, &attr, slot_main, &w.slots[i]);
        pthread_attr_destroy(&attr);
        if (r != 0) {
            fprintf(stderr, "mgd worker: cannot start a thread: %s\n", strerror(r));
            atomic_store(&w.status, 1);
            atomic_store(&w.stop, true);
            break;
        }
        started++;
    }
    while (!atomic_load(&w.stop)) {
        struct timespec ts = {0, 200 * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            say(&w, "%s: stopping; running builds are abandoned (their leases run out)",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
            atomic_store(&w.stop, true);
        }
    }
    /* abandon what runs: kill its processes */
    pthread_mutex_lock(&w.mu); /* a job is freed only after it left its slot */
    for (unsigned i = 0; i < started; i++)
        if (w.slots[i].current) job_stop(w.slots[i].current, "the worker is stopping");
    pthread_mutex_unlock(&w.mu);
    for (unsigned i = 0; i < started; i++) pthread_join(w.slots[i].thread, NULL);
    int status = atomic_load(&w.status);
    worker_free(&w, token);
    return status;
}
