/*
 * fuzz_http.c - libFuzzer target for the HTTP API's request handling:
 * routing, query parameters, headers and JSON bodies through the real
 * server and handlers (api/), the service's rules (service/) and the
 * store (daemon/store.h), as `mgd serve` wires them, on a throwaway data
 * directory.
 *
 * The API is started once, in this process, on 127.0.0.1 with a queue
 * that has no workers (builds are queued, never run: no compiler is
 * started per input); each input becomes one request on a new loopback
 * connection. The handlers take the request from libmicrohttpd's
 * connection, so a socket is the seam: it costs a connection per input
 * and buys the whole path a client's bytes take. The store keeps what
 * earlier inputs made (projects, configs, queued builds, tokens), so later
 * inputs reach handlers that need existing things; every RESET_EVERY
 * inputs it starts again empty, so a long run's store stays small.
 *
 * Input: the first byte picks the token sent (none, read, write, admin);
 * then text: a first line "METHOD TARGET", header lines up to a blank
 * line, and the body. The harness frames the request itself (HTTP/1.1,
 * Host, Content-Length of the body, Content-Type application/json unless
 * given, Connection: close), so inputs explore what the handlers see, not
 * the framing (tests/api/test_hostile_http.py covers that). Every fresh
 * store starts with the tokens 1 (read), 2 (write), 3 (admin) and 4
 * (read, to be revoked), and project "hello" with build 1 queued, which
 * the seeds name.
 *
 * Broken promises abort: no answer, a status outside 100-599, a 500 (the
 * store here never fails, so a 500 is a bug), an error without the JSON
 * body of docs/api.md, no answer within 60 s (but for a head that fills
 * the connection's memory: fills_connection_memory). An answer that is an event
 * stream (a queued build's log) is closed after its head, as a client
 * that goes away. With MGD_FUZZ_HTTP_SHOW set, each request line and its
 * answer's status line are printed on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api/server.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "daemon/tokens.h"
#include "targets/builtin_catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 20000

#define HELLO_CONFIG                                                                               \
    "{\"mgd\": 1, \"name\": \"hello\", \"devices\": {\"main\": {\"main\": \"app_start\", "         \
    "\"type\": \"console -> job\", \"sources\": [\"unikernel.c\"]}}, \"jobs\": [{\"apply\": "      \
    "\"main\", \"to\": [\"default_console\"]}]}"
#define HELLO_SOURCES "{\"unikernel.c\": \"int app_start(void *c) { return 0; }\\n\"}"

static struct {
    char dir[128];
    mg_store *store;
    mg_cache *cache;
    mg_catalog *catalog;
    mg_targets *targets;
    mg_queue *queue;
    mg_service svc;
    mg_api *api;
    uint16_t port;
    char tokens[4][MG_TOKEN_TEXT_SIZE]; /* "", read, write, admin */
    unsigned long inputs;
} fx;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_http: %s: %s\n", what, msg);
    abort();
}

static void start(void)
{
    const char *base = getenv("MGD_FUZZ_TMP");
    snprintf(fx.dir, sizeof fx.dir, "%s/mgd-fuzz-http-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(fx.dir)) die("mkdtemp", fx.dir);
    mg_err e = {0};
    char *db = mg_path_join(fx.dir, "mgd.sqlite3"), *cache = mg_path_join(fx.dir, "cache");
    if (!(fx.store = mg_store_open(db, false, &e))) die("store", e.msg);
    if (!(fx.cache = mg_cache_open(cache, &e))) die("cache", e.msg);
    free(db);
    free(cache);
    if (!fx.catalog) {
        mg_errors errs = {0};
        if (!(fx.catalog = mg_builtin_catalog_load(&errs))) die("catalog", "cannot load");
        mg_errors_free(&errs);
        if (!(fx.targets = mg_targets_load(&e))) die("targets", e.msg);
    }
    mg_queue_options qo = {.store = fx.store,
                           .cache = fx.cache,
                           .catalog = fx.catalog,
                           .targets = fx.targets,
                           .data_dir = fx.dir,
                           .no_workers = true};
    if (!(fx.queue = mg_queue_start(&qo, &e))) die("queue", e.msg);
    mg_service_init(&fx.svc, &(mg_service_options){.store = fx.store,
                                                   .queue = fx.queue,
                                                   .catalog = fx.catalog,
                                                   .targets = fx.targets,
                                                   .max_queued = 50});
    static const mg_scope scopes[] = {MG_SCOPE_READ, MG_SCOPE_WRITE, MG_SCOPE_ADMIN};
    for (int i = 0; i < 3; i++) {
        char hash[MG_SHA256_HEX_SIZE];
        if (mg_token_new(fx.tokens[i + 1])) die("token", "no randomness");
        mg_token_hash(fx.tokens[i + 1], hash);
        if (mg_store_token_create(fx.store, "fuzz", scopes[i], hash, &e) < 0) die("token", e.msg);
    }
    /* what the seeds name: project "hello" with a queued build 1, and a
     * fourth token (id 4) for DELETE /tokens/4 */
    char hash[MG_SHA256_HEX_SIZE], spare[MG_TOKEN_TEXT_SIZE];
    if (mg_token_new(spare)) die("token", "no randomness");
    mg_token_hash(spare, hash);
    if (mg_store_token_create(fx.store, "spare", MG_SCOPE_READ, hash, &e) < 0) die("token", e.msg);
    cJSON *config = cJSON_Parse(HELLO_CONFIG), *sources = cJSON_Parse(HELLO_SOURCES);
    mg_project_spec spec = {.name = "hello", .config = config, .sources = sources};
    mg_service_err se = {0};
    mg_project hello;
    mg_stored_build b;
    if (mg_service_project_create(&fx.svc, &spec, &hello, &se)) die("project", se.err.msg);
    if (mg_service_build_start(&fx.svc, &hello, &(mg_new_build){0}, &b, &se))
        die("build", se.err.msg);
    mg_stored_build_free(&b);
    mg_project_free(&hello);
    cJSON_Delete(config);
    cJSON_Delete(sources);
    mg_api_options ao = {.host = "127.0.0.1",
                         .service = &fx.svc,
                         .store = fx.store,
                         .queue = fx.queue,
                         .cache = fx.cache,
                         .catalog = fx.catalog,
                         .targets = fx.targets,
                         .max_body = 64 * 1024,
                         .threads = 2,
                         .graph_timeout_s = 2};
    if (!(fx.api = mg_api_start(&ao, &e))) die("api", e.msg);
    fx.port = mg_api_port(fx.api);
}

static void stop(void)
{
    mg_api_stop(fx.api);
    mg_queue_stop(fx.queue);
    mg_store_close(fx.store);
    mg_cache_close(fx.cache);
    mg_rm_rf(fx.dir);
}

static void at_exit(void)
{
    if (fx.api) stop();
    mg_catalog_free(fx.catalog);
    mg_targets_free(fx.targets);
}

/* A header line the harness writes itself (framing, the token). */
static bool harness_header(const char *line, size_t len)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "connection", "host",
                                        "expect"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (len > n && line[n] == ':' && !strncasecmp(line, names[i], n)) return true;
    }
    return false;
}

/* Whether the text is fit for a request line or header: libmicrohttpd
 * or check_head refuses the rest before any handler, which is not what
 * this target explores. */
static bool clean(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

/* Whether a request head fills the connection's memory in libmicrohttpd
 * 0.9.75 (32 KiB: the head's bytes in the read buffer, plus a 64-byte
 * record per header field) so nearly that the answer's own head cannot be
 * built there: the library then closes the connection without answering
 * (connection.c, "failed to create response header"), and no handler can
 * prevent it, since the whole head is read before any handler runs. Found
 * by a 10M run: 416 fields in 5.8 KB. Beyond the limit the library answers
 * 431 itself (below). docs/api.md, "A head too large". */
static bool fills_connection_memory(const char *req, size_t len)
{
    const char *end = memmem(req, len, "\r\n\r\n", 4);
    size_t head = end ? (size_t)(end - req) + 4 : len, fields = 0;
    for (const char *p = req; p < req + head; p++)
        if (*p == '\n') fields++;
    return head + 64 * fields >= 32768 - 512;
}

static void check_answer(const char *method, const char *req, size_t req_len, const char *resp,
                         size_t len)
{
    if (len == 0 && fills_connection_memory(req, req_len)) return;
    if (len < 12 || strncmp(resp, "HTTP/1.1 ", 9)) die("no answer", method);
    int status = atoi(resp + 9);
    if (status < 100 || status > 599) die("status", resp);
    if (status == 500) die("500", resp);
    const char *end = memmem(resp, len, "\r\n\r\n", 4);
    if (!end) die("no end of head", resp);
    const char *body = end + 4;
    size_t blen = len - (size_t)(body - resp);
    /* A head larger than the connection's memory is refused by
     * libmicrohttpd itself, before any handler, with its own short HTML
     * page (it has no hook for that answer); found by a 10M run. */
    bool library_refusal = status == 431 && memmem(body, blen, "Request too big", 15);
    if (status >= 400 && strcmp(method, "HEAD") && blen && !library_refusal) {
        cJSON *j = cJSON_ParseWithLength(body, blen);
        cJSON *err = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        if (!cJSON_IsObject(err) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "code")))
            die("error body", resp);
        cJSON_Delete(j);
    }
}

static void exchange(const char *req, size_t len, const char *method)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket", "");
    /* 60 s: the work pool's jobs (POST /gc, graphs) run at nice 19, which
     * a machine busy with other fuzzers starves for seconds (a 10 s limit
     * stopped a run at 3.0M on a POST /gc whose 16 ms of work waited) */
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(fx.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect", "");
    for (size_t done = 0; done < len;) {
        ssize_t w = send(fd, req + done, len - done, MSG_NOSIGNAL);
        if (w <= 0) break; /* answered and closed before the body: read it */
        done += (size_t)w;
    }
    size_t cap = 1 << 16, n = 0;
    char *resp = malloc(cap + 1);
    if (!resp) abort();
    for (;;) {
        if (n == cap && !(resp = realloc(resp, (cap *= 2) + 1))) abort();
        ssize_t r = recv(fd, resp + n, cap - n, 0);
        if (r < 0) die("no answer within 60 s", req);
        if (r == 0) break;
        n += (size_t)r;
        resp[n] = 0;
        const char *end = strstr(resp, "\r\n\r\n");
        if (end && strcasestr(resp, "content-type: text/event-stream") &&
            strcasestr(resp, "content-type: text/event-stream") < end)
            break; /* a stream of a build that never ends here: go away */
    }
    resp[n] = 0;
    close(fd);
    if (getenv("MGD_FUZZ_HTTP_SHOW")) {
        /* what each request got, to see how far inputs reach */
        const char *eol = strstr(resp, "\r\n");
        fprintf(stderr, "%.*s -> %.*s\n", (int)(strchr(req, '\r') - req), req,
                eol ? (int)(eol - resp) : 0, resp);
    }
    check_answer(method, req, len, resp, n);
    free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.api) {
        start();
        atexit(at_exit);
    }
    if (++fx.inputs % RESET_EVERY == 0) {
        stop();
        start();
    }
    if (size < 2 || size > 65536) return 0;
    unsigned who = data[0] & 3;
    const char *text = (const char *)data + 1, *end = text + size - 1;
    const char *nl = memchr(text, '\n', (size_t)(end - text));
    const char *line_end = nl ? nl : end;
    const char *sp = memchr(text, ' ', (size_t)(line_end - text));
    if (!sp || sp == text || !clean(text, (size_t)(line_end - text))) return 0;
    char method[16];
    size_t mlen = (size_t)(sp - text);
    if (mlen >= sizeof method) return 0;
    memcpy(method, text, mlen);
    method[mlen] = 0;
    for (size_t i = 0; i < mlen; i++)
        if (method[i] < 'A' || method[i] > 'Z') return 0;
    const char *target = sp + 1;
    size_t tlen = (size_t)(line_end - target);
    if (!tlen || target[0] != '/' || memchr(target, ' ', tlen) || tlen > 4000) return 0;

    mg_buf req = {0};
    mg_buf_printf(&req, "%s %.*s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method,
                  (int)tlen, target);
    bool has_ctype = false, has_auth = false;
    const char *p = nl ? nl + 1 : end;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((e ? e : end) - p);
        if (len == 0) {
            p++;
            break;
        }
        const char *colon = memchr(p, ':', len);
        if (!colon || colon == p || !clean(p, len) || memchr(p, ' ', (size_t)(colon - p))) {
            mg_buf_free(&req);
            return 0;
        }
        if (!harness_header(p, len)) {
            has_ctype |= len > 13 && !strncasecmp(p, "content-type:", 13);
            has_auth |= len > 14 && !strncasecmp(p, "authorization:", 14);
            mg_buf_add(&req, p, len);
            mg_buf_adds(&req, "\r\n");
        }
        p = e ? e + 1 : end;
    }
    size_t blen = p < end ? (size_t)(end - p) : 0;
    if (who && !has_auth) mg_buf_printf(&req, "Authorization: Bearer %s\r\n", fx.tokens[who]);
    if (!has_ctype && blen) mg_buf_adds(&req, "Content-Type: application/json\r\n");
    if (blen || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH"))
        mg_buf_printf(&req, "Content-Length: %zu\r\n", blen);
    mg_buf_adds(&req, "\r\n");
    if (blen) mg_buf_add(&req, p, blen);
    if (req.failed) abort();
    exchange(req.data, req.len, method);
    mg_buf_free(&req);
    return 0;
}
