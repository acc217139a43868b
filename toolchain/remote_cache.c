/*
 * remote_cache.c - the HTTP second level of the action cache (protocol and
 * guarantees in remote_cache.h).
 *
 * Reads go through one curl multi handle per session: its connection cache
 * keeps the keep-alive connections between waves, and a wave's requests
 * share up to MAX_CONNECTIONS of them. Writes go through one easy handle
 * owned by the upload thread, so they never hold up the build's reads.
 */
#include "toolchain/remote_cache.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/deadline.h"
#include "base/fsutil.h"
#include "base/sha256.h"

/* Parallel reads of a wave: enough to hide round trips, few enough that a
 * shared server is not flooded by one build. */
#define MAX_CONNECTIONS 8
/* Records are small: the largest real one, the manifest of a compile that
 * reads a few hundred headers, is about 40 KB; 1 MiB leaves room for far
 * larger sources and still bounds what a wave holds in memory. */
#define RECORD_BODY_MAX (1u << 20)
/* A blob larger than this is refused unless mg_remote_bound says
 * otherwise (the build's largest file an action may write). */
#define BLOB_MAX_DEFAULT (1ull << 30)
/* Below this a transfer counts as stalled (over request_timeout_ms) and a
 * PUT gets request_timeout_ms plus its size at this speed in all: a cache
 * slower than this costs a build more than it saves. */
#define MIN_SPEED (16 * 1024)
/* Queued uploads (an entry is a few blobs and a record): bounds memory. */
#define QUEUE_MAX 256

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* curl_global_init is not safe to race; the daemon's workers may open
 * sessions at once. */
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------------------------------------------------------------- config */

bool mg_remote_url_valid(const char *url, mg_err *e)
{
    if (!url || !*url) {
        mg_err_set(e, MG_E_INVALID, "remote cache: empty URL");
        return false;
    }
    const char *rest = NULL;
    if (!strncasecmp(url, "http://", 7))
        rest = url + 7;
    else if (!strncasecmp(url, "https://", 8))
        rest = url + 8;
    if (!rest) {
        mg_err_set(e, MG_E_INVALID,
                   "remote cache: '%s' is not an http:// or https:// URL (say "
                   "http://cache.example:8080/mgd)",
                   url);
        return false;
    }
    if (!*rest || *rest == '/') {
        mg_err_set(e, MG_E_INVALID, "remote cache: '%s' has no host", url);
        return false;
    }
    /* user:pass@ would be shown wherever the URL is (the daemon's startup
     * line, logs, ps): the secret belongs in a file of its own */
    size_t host_len = strcspn(rest, "/");
    if (memchr(rest, '@', host_len)) {
        mg_err_set(e, MG_E_INVALID,
                   "remote cache: '%s' holds credentials: put the Authorization header's value "
                   "in a file and pass it with --remote-cache-credentials",
                   url);
        return false;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            mg_err_set(e, MG_E_INVALID,
                       "remote cache: '%s' contains a space or a control character", url);
            return false;
        }
        /* keys are appended to the base: a query or fragment would swallow them */
        if (*p == '?' || *p == '#') {
            mg_err_set(e, MG_E_INVALID, "remote cache: '%s' has a query or a fragment", url);
            return false;
        }
    }
    return true;
}

int mg_remote_config_init(mg_remote_config *cfg, const char *url, bool read_only,
                          const char *credentials_file, mg_err *e)
{
    memset(cfg, 0, sizeof *cfg);
    if (!mg_remote_url_valid(url, e)) return -1;
    char *auth = NULL;
    if (credentials_file) {
        struct stat st;
        if (stat(credentials_file, &st) != 0)
            return mg_err_set(e, MG_E_IO, "remote cache credentials %s: %s", credentials_file,
                              strerror(errno));
        /* the group too: a build user in it could read it */
        if (st.st_mode & (S_IRGRP | S_IROTH))
            return mg_err_set(e, MG_E_INVALID,
                              "remote cache credentials %s can be read by other users: chmod "
                              "go-r it (it lets its holder write the cache every build trusts)",
                              credentials_file);
        size_t len;
        auth = mg_file_read(credentials_file, 64 * 1024, &len);
        if (!auth)
            return mg_err_set(e, MG_E_IO, "remote cache credentials %s: %s", credentials_file,
                              strerror(errno));
        auth[strcspn(auth, "\r\n")] = '\0';
        if (!auth[0]) {
            free(auth);
            return mg_err_set(e, MG_E_INVALID,
                              "remote cache credentials %s: the first line (the Authorization "
                              "header's value) is empty",
                              credentials_file);
        }
    }
    cfg->url = strdup(url);
    if (!cfg->url) {
        free(auth);
        return mg_err_set(e, MG_E_NOMEM, "out of memory");
    }
    size_t n = strlen(cfg->url);
    while (n > 0 && cfg->url[n - 1] == '/') cfg->url[--n] = '\0';
    cfg->read_only = read_only;
    cfg->authorization = auth;
    cfg->connect_timeout_ms = 100;
    cfg->request_timeout_ms = 5000;
    pthread_once(&curl_once, curl_init_once);
    return 0;
}

void mg_remote_config_free(mg_remote_config *cfg)
{
    if (!cfg) return;
    free(cfg->url);
    if (cfg->authorization) {
        /* a secret: not left behind in freed memory */
        memset(cfg->authorization, 0, strlen(cfg->authorization));
        free(cfg->authorization);
    }
    memset(cfg, 0, sizeof *cfg);
}

/* --------------------------------------------------------------- session */

typedef enum { REC_PRESENT, REC_ABSENT, REC_BAD } rec_state;

typedef struct {
    char key[MG_SHA256_HEX_SIZE];
    rec_state state;
    char *file; /* the verified record file (REC_PRESENT), NUL-terminated */
    size_t len;
} rec;

typedef struct upload {
    bool is_record;
    char name[MG_SHA256_HEX_SIZE];
    char *data; /* a record's file */
    size_t len;
    struct upload *next;
} upload;

struct mg_remote {
    const mg_remote_config *cfg;
    mg_cache *local;
    CURLM *multi;
    struct curl_slist *headers;
    char *tmpdir; /* for blobs being downloaded; made on first use */
    /* Looked-up records: few hundred per build, searched linearly (a build
     * asks each key once or twice). */
    rec *recs;
    size_t n_recs, cap_recs;

    atomic_bool off, writes_off;
    /* mg_remote_bound: when every transfer stops (0: never), the build's
     * cancel flag, the largest blob taken */
    uint64_t deadline_ms;
    const atomic_bool *cancelled;
    uint64_t blob_max;
    atomic_bool drop;   /* a flush ran out of time: the uploads left go */
    pthread_mutex_t mu; /* the counters, the reason and the queue */
    pthread_cond_t queue_cv, idle_cv;
    mg_remote_stats stats;
    char reason[MG_ERR_SIZE]; /* the first reason for going off, for the log */
    upload *head, *tail;
    size_t queued;
    bool busy, stop, thread_started;
    pthread_t thread;
};

static void add_stat(mg_remote *r, size_t offset, uint64_t n)
{
    pthread_mutex_lock(&r->mu);
    *(uint64_t *)((char *)&r->stats + offset) += n;
    pthread_mutex_unlock(&r->mu);
}
#define ADD(r, field, n) add_stat((r), offsetof(mg_remote_stats, field), (n))

/* Switches the remote (or only its writes) off for the rest of the
 * session; the first reason is kept for the log. */
static void go_off(mg_remote *r, bool writes_only, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void go_off(mg_remote *r, bool writes_only, const char *fmt, ...)
{
    pthread_mutex_lock(&r->mu);
    r->stats.errors++;
    if (!r->reason[0] && !atomic_load(&r->off)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->reason, sizeof r->reason, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->writes_off, true);
    if (!writes_only) atomic_store(&r->off, true);
}

static void *upload_main(void *arg);

mg_remote *mg_remote_open(const mg_remote_config *cfg, mg_cache *local)
{
    pthread_once(&curl_once, curl_init_once);
    mg_remote *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cfg = cfg;
    r->local = local;
    atomic_init(&r->off, false);
    atomic_init(&r->drop, false);
    r->blob_max = BLOB_MAX_DEFAULT;
    atomic_init(&r->writes_off, cfg->read_only);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->queue_cv, NULL);
    pthread_cond_init(&r->idle_cv, NULL);
    r->multi = curl_multi_init();
    if (!r->multi) {
        free(r);
        return NULL;
    }
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_CONNECTIONS);
    curl_multi_setopt(r->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_CONNECTIONS);
    /* "Expect: 100-continue" would cost a round trip per large PUT */
    r->headers = curl_slist_append(NULL, "Expect:");
    if (cfg->authorization) {
        char *h = NULL;
        if (asprintf(&h, "Authorization: %s", cfg->authorization) > 0) {
            r->headers = curl_slist_append(r->headers, h);
            memset(h, 0, strlen(h));
            free(h);
        }
    }
    return r;
}

void mg_remote_bound(mg_remote *r, uint64_t deadline_ms, const atomic_bool *cancelled,
                     uint64_t blob_max)
{
    r->deadline_ms = deadline_ms;
    r->cancelled = cancelled;
    r->blob_max = blob_max ? blob_max : BLOB_MAX_DEFAULT;
}

/* Whether every transfer must stop now: the build is out of time or
 * cancelled (it must not wait on the cache past that), or a flush gave up. */
static bool must_stop(mg_remote *r)
{
    return atomic_load(&r->drop) || (r->cancelled && atomic_load(r->cancelled)) ||
           (r->deadline_ms && mg_now_ms() >= r->deadline_ms);
}

/* curl calls this at least once a second during a transfer, whatever the
 * server does: the one check a trickling server cannot outlast. */
static int xfer_check(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return must_stop(ctx) ? 1 : 0;
}

/* The stall check: below MIN_SPEED for request_timeout_ms. */
static void stall_limit(mg_remote *r, CURL *h)
{
    long stall_s = r->cfg->request_timeout_ms >= 2000 ? (long)r->cfg->request_timeout_ms / 1000 : 1;
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)MIN_SPEED);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s);
}

/* The options every request shares. */
static void easy_common(mg_remote *r, CURL *h, const char *kind, const char *name)
{
    char url[4096];
    snprintf(url, sizeof url, "%s/%s/%s", r->cfg->url, kind, name);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)r->cfg->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mgd");
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xfer_check);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)r);
}

/* A GET's body, in memory (records) or in a file while hashed (blobs). */
typedef struct {
    mg_remote *r;
    char *buf;
    size_t len, cap;
    FILE *file;
    uint64_t max; /* bytes taken (decoded) */
    mg_sha256 sha;
    bool too_big;
} body;

static size_t body_write(char *ptr, size_t size, size_t n, void *ctx)
{
    body *b = ctx;
    size_t len = size * n;
    /* counted here, after decoding: a small compressed answer cannot
     * unpack past the cap */
    if (b->len + len > b->max) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (b->file) {
        b->len += len;
        mg_sha256_update(&b->sha, ptr, len);
        return fwrite(ptr, 1, len, b->file) == len ? len : 0;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, ptr, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return len;
}

/* The outcome of one transfer: true when it is a usable answer (200 or
 * 404); otherwise the remote is switched off. Counts the body's bytes as
 * they came over the wire (compressed, when the server compresses). */
static bool answered(mg_remote *r, CURL *h, CURLcode rc, long *status, const char *what)
{
    curl_off_t got = 0;
    if (curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &got) == CURLE_OK && got > 0)
        ADD(r, bytes_down, (uint64_t)got);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        go_off(r, false, "%s: stopped, the build ran out of time or was cancelled", what);
        return false;
    }
    if (rc != CURLE_OK) {
        go_off(r, false, "%s: %s", what, curl_easy_strerror(rc));
        return false;
    }
    if (*status == 200 || *status == 404) return true;
    go_off(r, false, "%s: HTTP status %ld", what, *status);
    return false;
}

static rec *rec_find(mg_remote *r, const char *key)
{
    for (size_t i = 0; i < r->n_recs; i++)
        if (!strcmp(r->recs[i].key, key)) return &r->recs[i];
    return NULL;
}

static rec *rec_add(mg_remote *r, const char *key, rec_state state)
{
    if (r->n_recs == r->cap_recs) {
        size_t cap = r->cap_recs ? 2 * r->cap_recs : 64;
        rec *n = realloc(r->recs, cap * sizeof *n);
        if (!n) return NULL;
        r->recs = n;
        r->cap_recs = cap;
    }
    rec *x = &r->recs[r->n_recs++];
    memset(x, 0, sizeof *x);
    memcpy(x->key, key, MG_SHA256_HEX_SIZE);
    x->state = state;
    return x;
}

/* Keeps a record that came back: verified, or remembered as bad. */
static void rec_answer(mg_remote *r, const char *key, long status, body *b)
{
    rec *x = rec_add(r, key, REC_ABSENT);
    if (!x) return;
    if (status == 404) {
        ADD(r, misses, 1);
        return;
    }
    const char *payload, *blobs;
    size_t len, n_blobs;
    if (b->too_big || !b->buf ||
        !mg_cache_record_decode(b->buf, b->len, &payload, &len, &blobs, &n_blobs)) {
        x->state = REC_BAD;
        ADD(r, errors, 1);
        ADD(r, bad, 1);
        return;
    }
    x->state = REC_PRESENT;
    x->file = b->buf;
    x->len = b->len;
    b->buf = NULL;
    ADD(r, hits, 1);
    /* kept in memory only: a record that names no blob may still be an
     * entry whose payload names outputs (a hostile one), so only the build,
     * which knows a manifest key when it reads one, stores it locally */
}

void mg_remote_prefetch(mg_remote *r, const char *const *keys, size_t n)
{
    if (atomic_load(&r->off) || n == 0) return;
    CURL **hs = calloc(n, sizeof *hs);
    body *bodies = calloc(n, sizeof *bodies);
    if (!hs || !bodies) {
        free(hs);
        free(bodies);
        return;
    }
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        if (!mg_sha256_is_hex(keys[i]) || rec_find(r, keys[i])) continue;
        /* the same key twice in one wave: asked once */
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) dup = hs[j] && !strcmp(keys[j], keys[i]);
        if (dup) continue;
        CURL *h = curl_easy_init();
        if (!h) continue;
        bodies[i].r = r;
        bodies[i].max = RECORD_BODY_MAX;
        easy_common(r, h, "ac", keys[i]);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->cfg->request_timeout_ms);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)RECORD_BODY_MAX);
        /* manifests are long lists of paths and hashes: a server that
         * compresses (nginx's gzip) halves a cached build's bytes */
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &bodies[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)&bodies[i]);
        curl_multi_add_handle(r->multi, h);
        hs[i] = h;
        started++;
    }
    if (started) {
        ADD(r, waves, 1);
        ADD(r, requests, started);
    }
    /* each answer is checked and its body freed as soon as it is in: a
     * wave holds at most MAX_CONNECTIONS bodies being read plus the
     * records kept, never every answer at its cap */
    int running = (int)started;
    while (running > 0 && !atomic_load(&r->off)) {
        if (curl_multi_perform(r->multi, &running) != CURLM_OK) break;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(r->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            for (size_t i = 0; i < n; i++) {
                if (hs[i] != m->easy_handle) continue;
                CURLcode code = m->data.result;
                long status = 0;
                /* a failure switches the remote off: the rest are absent */
                if (!atomic_load(&r->off) &&
                    answered(r, hs[i], code, &status, "reading the remote cache"))
                    rec_answer(r, keys[i], status, &bodies[i]);
                else
                    rec_add(r, keys[i], REC_ABSENT);
                curl_multi_remove_handle(r->multi, hs[i]);
                curl_easy_cleanup(hs[i]);
                free(bodies[i].buf);
                bodies[i].buf = NULL;
                hs[i] = NULL;
                break;
            }
        }
        if (running > 0 && curl_multi_poll(r->multi, NULL, 0, 1000, NULL) != CURLM_OK) break;
    }
    /* those cut short (the remote went off meanwhile) count as absent */
    for (size_t i = 0; i < n; i++) {
        if (!hs[i]) continue;
        rec_add(r, keys[i], REC_ABSENT);
        curl_multi_remove_handle(r->multi, hs[i]);
        curl_easy_cleanup(hs[i]);
        free(bodies[i].buf);
    }
    free(hs);
    free(bodies);
}

int mg_remote_record_get(mg_remote *r, const char *key, char **data, size_t *len, mg_err *e)
{
    *data = NULL;
    *len = 0;
    rec *x = rec_find(r, key);
    if (!x && !atomic_load(&r->off)) {
        mg_remote_prefetch(r, &key, 1);
        x = rec_find(r, key);
    }
    if (!x || x->state == REC_ABSENT)
        return mg_err_set(e, MG_E_NOT_FOUND, "record %s is not in the remote cache", key);
    if (x->state == REC_BAD)
        return mg_err_set(e, MG_E_CORRUPT, "record %s in the remote cache is corrupt: ignored",
                          key);
    const char *payload, *blobs;
    size_t n_blobs;
    if (!mg_cache_record_decode(x->file, x->len, &payload, len, &blobs, &n_blobs))
        return mg_err_set(e, MG_E_CORRUPT, "record %s: corrupt", key);
    *data = malloc(*len + 1);
    if (!*data) return mg_err_set(e, MG_E_NOMEM, "out of memory");
    memcpy(*data, payload, *len);
    (*data)[*len] = '\0';
    return 0;
}

int mg_remote_blob_get(mg_remote *r, const char *sha, mg_err *e)
{
    if (!mg_sha256_is_hex(sha)) return mg_err_set(e, MG_E_INVALID, "bad blob name");
    if (atomic_load(&r->off))
        return mg_err_set(e, MG_E_NOT_FOUND, "the remote cache is off for this build");
    if (!r->tmpdir && !(r->tmpdir = mg_cache_mkdtemp(r->local, "remote-", e))) return -1;
    char *path = mg_path_join(r->tmpdir, sha);
    body b = {.r = r, .file = fopen(path, "we"), .max = r->blob_max};
    if (!b.file) {
        int err = errno;
        free(path);
        return mg_err_set(e, MG_E_IO, "cannot write in %s: %s", r->tmpdir, strerror(err));
    }
    mg_sha256_init(&b.sha);
    CURL *h = curl_easy_init();
    if (!h) {
        fclose(b.file);
        unlink(path);
        free(path);
        return mg_err_set(e, MG_E_NOMEM, "out of memory");
    }
    easy_common(r, h, "cas", sha);
    /* the bytes as sent, never unpacked: they must hash to the name anyway,
     * and a small gzip answer could unpack to any size */
    curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->blob_max);
    /* a blob may be large: no total time, but a trickle is a stall, and
     * the build's deadline and cancel stop it (xfer_check) */
    stall_limit(r, h);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_multi_add_handle(r->multi, h);
    ADD(r, waves, 1);
    ADD(r, requests, 1);
    int running = 1;
    while (running > 0) {
        if (curl_multi_perform(r->multi, &running) != CURLM_OK) break;
        if (running > 0 && curl_multi_poll(r->multi, NULL, 0, 1000, NULL) != CURLM_OK) break;
    }
    CURLcode code = CURLE_FAILED_INIT;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left)))
        if (m->msg == CURLMSG_DONE && m->easy_handle == h) code = m->data.result;
    bool write_ok = fclose(b.file) == 0;
    long status = 0;
    int rc = -1;
    if (b.too_big || code == CURLE_FILESIZE_EXCEEDED) {
        go_off(r, false, "blob %s in the remote cache is larger than %llu bytes", sha,
               (unsigned long long)r->blob_max);
        mg_err_set(e, MG_E_NOT_FOUND, "the remote cache failed: off for this build");
    } else if (!answered(r, h, code, &status, "fetching a blob from the remote cache"))
        mg_err_set(e, MG_E_NOT_FOUND, "the remote cache failed: off for this build");
    else if (status == 404)
        mg_err_set(e, MG_E_NOT_FOUND, "blob %s is not in the remote cache", sha);
    else if (!write_ok)
        mg_err_set(e, MG_E_IO, "cannot write %s", path);
    else {
        unsigned char d[MG_SHA256_SIZE];
        char got[MG_SHA256_HEX_SIZE], stored[MG_SHA256_HEX_SIZE];
        mg_sha256_final(&b.sha, d);
        mg_sha256_hex(d, got);
        if (strcmp(got, sha) != 0) {
            ADD(r, errors, 1);
            ADD(r, bad, 1);
            mg_err_set(e, MG_E_CORRUPT,
                       "blob %s in the remote cache is corrupt (it hashes to %s): ignored", sha,
                       got);
        } else if (mg_cache_blob_put(r->local, path, stored, NULL, e) == 0) {
            /* hashed again while copied: a file changed in between is caught */
            rc = strcmp(stored, sha) == 0
                     ? 0
                     : mg_err_set(e, MG_E_CORRUPT, "blob %s changed while stored", sha);
        }
    }
    curl_multi_remove_handle(r->multi, h);
    curl_easy_cleanup(h);
    unlink(path);
    free(path);
    return rc;
}

/* --------------------------------------------------------------- uploads */

typedef struct {
    const char *data;
    size_t len, off;
} membuf;

static size_t mem_read(char *out, size_t size, size_t n, void *ctx)
{
    membuf *m = ctx;
    size_t want = size * n, left = m->len - m->off;
    if (want > left) want = left;
    memcpy(out, m->data + m->off, want);
    m->off += want;
    return want;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
    (void)ptr;
    (void)ctx;
    return size * n;
}

/* One PUT with the thread's handle (kept for keep-alive). */
static void put_one(mg_remote *r, CURL *h, const upload *u)
{
    FILE *f = NULL;
    membuf m = {u->data, u->len, 0};
    curl_off_t size = (curl_off_t)u->len;
    curl_easy_reset(h);
    easy_common(r, h, u->is_record ? "ac" : "cas", u->name);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    stall_limit(r, h);
    if (u->is_record) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, mem_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &m);
    } else {
        char *path = mg_cache_blob_path(r->local, u->name);
        f = path ? fopen(path, "re") : NULL;
        free(path);
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0) {
            /* evicted meanwhile: the record after it would name a missing blob */
            if (f) fclose(f);
            go_off(r, true, "cannot read blob %s to upload it", u->name);
            return;
        }
        size = (curl_off_t)st.st_size;
        curl_easy_setopt(h, CURLOPT_READDATA, f);
    }
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
    /* all of it, answer included, in the time the body takes at MIN_SPEED:
     * an answer that never ends (or ends slowly enough to pass the stall
     * check) cannot hold the upload thread, and so the build, forever */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     (long)(r->cfg->request_timeout_ms + (uint64_t)size * 1000 / MIN_SPEED));
    CURLcode rc = curl_easy_perform(h);
    if (f) fclose(f);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t up = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
    ADD(r, requests, 1);
    ADD(r, bytes_up, (uint64_t)up);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        /* a flush that gave up has counted this one already */
        if (!atomic_load(&r->drop))
            go_off(r, false,
                   "writing to the remote cache: stopped, the build ran out of time, was "
                   "cancelled or its uploads took too long");
    } else if (rc != CURLE_OK)
        go_off(r, false, "writing to the remote cache: %s", curl_easy_strerror(rc));
    else if (status == 401 || status == 403 || status == 405)
        go_off(r, true, "the remote cache refuses writes (HTTP status %ld): reads only", status);
    else if (status < 200 || status > 299)
        go_off(r, false, "writing to the remote cache: HTTP status %ld", status);
    else
        ADD(r, uploads, 1);
}

static void *upload_main(void *arg)
{
    mg_remote *r = arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->head && !r->stop) pthread_cond_wait(&r->queue_cv, &r->mu);
        if (!r->head) break;
        upload *u = r->head;
        r->head = u->next;
        if (!r->head) r->tail = NULL;
        r->queued--;
        r->busy = true;
        pthread_cond_broadcast(&r->queue_cv);
        pthread_mutex_unlock(&r->mu);
        /* off: what is left is dropped (a build never waits on a dead cache) */
        if (h && !atomic_load(&r->writes_off)) put_one(r, h, u);
        free(u->data);
        free(u);
        pthread_mutex_lock(&r->mu);
        r->busy = false;
        if (!r->head) pthread_cond_broadcast(&r->idle_cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (h) curl_easy_cleanup(h);
    return NULL;
}

int mg_remote_blob_put(mg_remote *r, const char *sha, mg_err *e)
{
    if (!mg_sha256_is_hex(sha)) return mg_err_set(e, MG_E_INVALID, "bad blob name");
    if (atomic_load(&r->writes_off)) {
        const char *why = mg_remote_off_reason(r);
        return mg_err_set(e, MG_E_NOT_FOUND, "the remote cache takes no writes%s%s",
                          why ? ": " : "", why ? why : "");
    }
    CURL *h = curl_easy_init();
    if (!h) return mg_err_set(e, MG_E_NOMEM, "out of memory");
    upload u = {.is_record = false};
    memcpy(u.name, sha, MG_SHA256_HEX_SIZE);
    pthread_mutex_lock(&r->mu);
    uint64_t before = r->stats.uploads;
    pthread_mutex_unlock(&r->mu);
    put_one(r, h, &u);
    curl_easy_cleanup(h);
    pthread_mutex_lock(&r->mu);
    bool done = r->stats.uploads > before;
    pthread_mutex_unlock(&r->mu);
    if (done) return 0;
    const char *why = mg_remote_off_reason(r);
    return mg_err_set(e, MG_E_IO, "cannot upload blob %.12s: %s", sha,
                      why ? why : "the remote cache failed");
}

/* Appends to the queue, waiting while it is full. */
static void enqueue(mg_remote *r, upload *u)
{
    pthread_mutex_lock(&r->mu);
    if (!r->thread_started) {
        if (pthread_create(&r->thread, NULL, upload_main, r) != 0) {
            pthread_mutex_unlock(&r->mu);
            free(u->data);
            free(u);
            return;
        }
        r->thread_started = true;
    }
    /* a full queue holds the build until the cache takes more, but never
     * past its deadline or cancel (checked at each tick) */
    while (r->queued >= QUEUE_MAX && !atomic_load(&r->writes_off) && !must_stop(r)) {
        struct timespec ts = mg_abstime_in(CLOCK_REALTIME, 200);
        pthread_cond_timedwait(&r->queue_cv, &r->mu, &ts);
    }
    if (r->queued >= QUEUE_MAX) {
        r->stats.errors++;
        pthread_mutex_unlock(&r->mu);
        free(u->data);
        free(u);
        return;
    }
    u->next = NULL;
    if (r->tail)
        r->tail->next = u;
    else
        r->head = u;
    r->tail = u;
    r->queued++;
    pthread_cond_broadcast(&r->queue_cv);
    pthread_mutex_unlock(&r->mu);
}

void mg_remote_upload(mg_remote *r, const char *key, const void *data, size_t len,
                      const char *const *blobs, size_t n_blobs)
{
    if (atomic_load(&r->writes_off) || !mg_sha256_is_hex(key)) return;
    size_t file_len;
    char *file = mg_cache_record_encode(data, len, blobs, n_blobs, &file_len, NULL);
    if (!file) return;
    /* blobs first, the record last: a reader that finds the record finds
     * what it names (one thread, in order) */
    for (size_t i = 0; i < n_blobs; i++) {
        upload *u = calloc(1, sizeof *u);
        if (!u) {
            free(file);
            return;
        }
        memcpy(u->name, blobs[i], MG_SHA256_HEX_SIZE);
        enqueue(r, u);
    }
    upload *u = calloc(1, sizeof *u);
    if (!u) {
        free(file);
        return;
    }
    u->is_record = true;
    memcpy(u->name, key, MG_SHA256_HEX_SIZE);
    u->data = file;
    u->len = file_len;
    enqueue(r, u);
}

void mg_remote_flush(mg_remote *r, uint64_t within_ms)
{
    uint64_t until = mg_deadline_in(within_ms);
    pthread_mutex_lock(&r->mu);
    while (r->thread_started && (r->head || r->busy)) {
        uint64_t now = mg_now_ms();
        if (now >= until || must_stop(r)) break;
        uint64_t wait = until - now < 200 ? until - now : 200;
        struct timespec ts = mg_abstime_in(CLOCK_REALTIME, wait);
        pthread_cond_timedwait(&r->idle_cv, &r->mu, &ts);
    }
    if (r->thread_started && (r->head || r->busy)) {
        /* out of time: the transfer under way stops (xfer_check) and the
         * queue is dropped, each entry left counted as an error */
        size_t left = r->queued + (r->busy ? 1 : 0);
        r->stats.errors += left;
        if (!r->reason[0] && !atomic_load(&r->off))
            snprintf(r->reason, sizeof r->reason,
                     "%zu uploads unfinished when the build had to end: dropped", left);
        atomic_store(&r->writes_off, true);
        atomic_store(&r->drop, true);
        while (r->head || r->busy) pthread_cond_wait(&r->idle_cv, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
}

void mg_remote_stats_get(mg_remote *r, mg_remote_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}

const char *mg_remote_off_reason(mg_remote *r)
{
    pthread_mutex_lock(&r->mu);
    const char *why = r->reason[0] ? r->reason : NULL;
    pthread_mutex_unlock(&r->mu);
    return why;
}

void mg_remote_close(mg_remote *r)
{
    if (!r) return;
    mg_remote_flush(r, UINT64_MAX);
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->queue_cv);
    pthread_mutex_unlock(&r->mu);
    if (r->thread_started) pthread_join(r->thread, NULL);
    /* entries whose blobs came (the image's): the next build here finds
     * them locally; the others stay remote */
    for (size_t i = 0; i < r->n_recs; i++) {
        rec *x = &r->recs[i];
        const char *payload, *blobs;
        size_t len, n_blobs;
        if (x->state == REC_PRESENT &&
            mg_cache_record_decode(x->file, x->len, &payload, &len, &blobs, &n_blobs) &&
            n_blobs > 0) {
            char(*names)[MG_SHA256_HEX_SIZE] = malloc(n_blobs * sizeof *names);
            const char **ptrs = malloc(n_blobs * sizeof *ptrs);
            bool all = names && ptrs;
            for (size_t k = 0; all && k < n_blobs; k++) {
                memcpy(names[k], blobs + 65 * k, 64);
                names[k][64] = '\0';
                ptrs[k] = names[k];
                all = mg_cache_blob_stat(r->local, names[k], NULL, NULL) == 0;
            }
            if (all) mg_cache_record_put(r->local, x->key, payload, len, ptrs, n_blobs, NULL);
            free(names);
            free(ptrs);
        }
        free(x->file);
    }
    free(r->recs);
    if (r->tmpdir) {
        mg_rm_rf(r->tmpdir);
        free(r->tmpdir);
    }
    curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->queue_cv);
    pthread_cond_destroy(&r->idle_cv);
    free(r);
}
