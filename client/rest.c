/* rest.c - see rest.h. */
#include "client/rest.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef MGD_VERSION
#define MGD_VERSION "0"
#endif

int mg_rest_init(mg_rest *r, const char *url, const char *token, mg_err *err)
{
    memset(r, 0, sizeof *r);
    r->connect_timeout_ms = 10000;
    r->timeout_ms = 60000;
    r->stall_ms = 45000;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        mg_err_set(err, MG_E_IO, "cannot initialise libcurl");
        return -1;
    }
    CURLU *u = curl_url();
    if (!u) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return -1;
    }
    int rc = -1;
    char *scheme = NULL, *host = NULL, *query = NULL, *fragment = NULL, *user = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        mg_err_set(err, MG_E_INVALID, "bad server URL '%s': %s (give http://HOST:PORT)", url,
                   curl_url_strerror(uc));
        goto out;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        mg_err_set(err, MG_E_INVALID, "bad server URL '%s': the scheme must be http or https", url);
        goto out;
    }
    if (!host || !*host) {
        mg_err_set(err, MG_E_INVALID, "bad server URL '%s': no host", url);
        goto out;
    }
    if (query || fragment || user) {
        mg_err_set(err, MG_E_INVALID,
                   "bad server URL '%s': give scheme, host, port and path only "
                   "(the token goes in --token or MGD_TOKEN)",
                   url);
        goto out;
    }
    char *full = NULL;
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK || !full) {
        mg_err_set(err, MG_E_INVALID, "bad server URL '%s'", url);
        goto out;
    }
    size_t n = strlen(full);
    while (n && full[n - 1] == '/') n--;
    r->base = strndup(full, n);
    curl_free(full);
    if (token && *token) {
        r->token = strdup(token);
        size_t hl = strlen(token) + 32;
        r->auth_header = malloc(hl);
        if (r->auth_header) snprintf(r->auth_header, hl, "Authorization: Bearer %s", token);
    }
    if (!r->base || (token && *token && (!r->token || !r->auth_header))) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_free(fragment);
    curl_free(user);
    curl_url_cleanup(u);
    if (rc != 0) mg_rest_free(r);
    return rc;
}

void mg_rest_free(mg_rest *r)
{
    if (r->curl) curl_easy_cleanup(r->curl);
    free(r->base);
    if (r->token) memset(r->token, 0, strlen(r->token));
    free(r->token);
    if (r->auth_header) memset(r->auth_header, 0, strlen(r->auth_header));
    free(r->auth_header);
    memset(r, 0, sizeof *r);
}

void mg_rest_response_free(mg_rest_response *resp)
{
    mg_buf_free(&resp->body);
}

char *mg_rest_url(const mg_rest *r, const char *path)
{
    size_t n = strlen(r->base) + strlen(path) + 1;
    char *u = malloc(n);
    if (u) snprintf(u, n, "%s%s", r->base, path);
    return u;
}

void mg_rest_escape(mg_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            mg_buf_addc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mg_buf_add(b, e, 3);
        }
    }
}

/* ---- one transfer ---------------------------------------------------- */

typedef struct transfer {
    CURL *curl;
    mg_rest_response *out;
    mg_rest_sink sink;
    void *ctx;
    bool sink_stopped;
} transfer;

static void copy_value(char *dst, size_t size, const char *v, size_t n)
{
    if (n >= size) n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* The target of rel="next" in a Link header. */
static void parse_link(char *dst, size_t size, const char *v, size_t n)
{
    const char *end = v + n;
    while (v < end) {
        const char *lt = memchr(v, '<', (size_t)(end - v));
        if (!lt) return;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt) return;
        const char *comma = memchr(gt, ',', (size_t)(end - gt));
        const char *stop = comma ? comma : end;
        /* rel="next" within this link's parameters */
        for (const char *p = gt; p + 10 <= stop; p++)
            if (memcmp(p, "rel=\"next\"", 10) == 0) {
                /* a cut link would name another page */
                if ((size_t)(gt - lt - 1) < size)
                    copy_value(dst, size, lt + 1, (size_t)(gt - lt - 1));
                return;
            }
        v = stop + (comma ? 1 : 0);
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    transfer *t = arg;
    size_t n = size * nmemb;
    mg_rest_response *o = t->out;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new answer (after a 100 Continue, say): forget the last one's */
        o->content_type[0] = o->location[0] = o->etag[0] = o->next_link[0] = '\0';
        o->log_size = o->total = -1;
        o->more_data = -1;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon) return n;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ')) vlen--;
    char num[32];
#define IS(h) (nlen == sizeof h - 1 && strncasecmp(data, h, nlen) == 0)
    if (IS("Content-Type")) {
        copy_value(o->content_type, sizeof o->content_type, v, vlen);
    } else if (IS("Location")) {
        copy_value(o->location, sizeof o->location, v, vlen);
    } else if (IS("ETag")) {
        copy_value(o->etag, sizeof o->etag, v, vlen);
    } else if (IS("X-Log-Size")) {
        copy_value(num, sizeof num, v, vlen);
        o->log_size = strtoll(num, NULL, 10);
    } else if (IS("X-Total-Count")) {
        copy_value(num, sizeof num, v, vlen);
        o->total = strtoll(num, NULL, 10);
    } else if (IS("X-More-Data")) {
        o->more_data = vlen == 4 && strncasecmp(v, "true", 4) == 0;
    } else if (IS("Link")) {
        parse_link(o->next_link, sizeof o->next_link, v, vlen);
    }
#undef IS
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    transfer *t = arg;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    bool ok = status >= 200 && status < 300;
    if (t->sink && ok) {
        if (t->sink(t->ctx, data, n) != 0) {
            t->sink_stopped = true;
            return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        }
        return n;
    }
    /* error bodies are small, a huge one is cut; a 2xx answer is kept
     * whole (cut, `mgctl log` printed a long log short, with exit 0) */
    if (ok || t->out->body.len < (4u << 20)) mg_buf_add(&t->out->body, data, n);
    return t->out->body.failed ? 0 : n;
}

static void transport_error(const mg_rest *r, CURLcode c, const char *detail, const char *path,
                            long timeout_ms, mg_err *err)
{
    char *url = mg_rest_url(r, path);
    const char *u = url ? url : r->base;
    long os_errno = 0;
    curl_easy_getinfo(r->curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (c) {
    case CURLE_COULDNT_CONNECT:
        mg_err_set(err, MG_E_IO,
                   "cannot connect to %s: %s (is mgd serve running there? see --url or MGD_URL)",
                   r->base, os_errno ? strerror((int)os_errno) : "no connection");
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        mg_err_set(err, MG_E_IO, "cannot resolve the host of %s (see --url)", r->base);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (timeout_ms > 0)
            mg_err_set(err, MG_E_IO, "%s: no complete answer within %ld s (see --timeout)", u,
                       timeout_ms / 1000);
        else
            mg_err_set(err, MG_E_IO, "%s: %s", u, *detail ? detail : curl_easy_strerror(c));
        break;
    default:
        mg_err_set(err, MG_E_IO, "%s: %s", u, *detail ? detail : curl_easy_strerror(c));
        break;
    }
    free(url);
}

static int perform(mg_rest *r, const char *method, const char *path, const char *body,
                   const char *accept, const char *extra_header, mg_rest_sink sink, void *ctx,
                   mg_rest_response *out, mg_err *err)
{
    memset(out, 0, sizeof *out);
    out->log_size = out->total = -1;
    out->more_data = -1;
    if (!r->curl && !(r->curl = curl_easy_init())) {
        mg_err_set(err, MG_E_IO, "cannot initialise libcurl");
        return -1;
    }
    CURL *c = r->curl;
    curl_easy_reset(c); /* keeps the connection cache */
    char *url = mg_rest_url(r, path);
    if (!url) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return -1;
    }
    transfer t = {.curl = c, .out = out, .sink = sink, .ctx = ctx};
    char detail[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    char accept_line[160];
    if (r->auth_header) headers = curl_slist_append(headers, r->auth_header);
    if (accept) {
        snprintf(accept_line, sizeof accept_line, "Accept: %s", accept);
        headers = curl_slist_append(headers, accept_line);
    }
    if (extra_header) headers = curl_slist_append(headers, extra_header);
    headers = curl_slist_append(headers, "Expect:");
    if (body) headers = curl_slist_append(headers, "Content-Type: application/json");

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mgctl/" MGD_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    long timeout = 0;
    if (sink) {
        /* a stream: bounded by silence, not by its length */
        long stall_s = (r->stall_ms + 999) / 1000;
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s);
    } else {
        timeout = r->timeout_ms;
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    }
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            const char *b = body ? body : "";
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, b);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
        }
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    int rc = 0;
    if (t.sink_stopped) {
        rc = 1;
    } else if (cc != CURLE_OK) {
        if (cc == CURLE_WRITE_ERROR && out->body.failed)
            mg_err_set(err, MG_E_NOMEM, "out of memory");
        else
            transport_error(r, cc, detail, path, timeout, err);
        rc = -1;
    } else if (out->status == 0) {
        mg_err_set(err, MG_E_IO, "%s: no HTTP answer", url);
        rc = -1;
    }
    free(url);
    return rc;
}

int mg_rest_call(mg_rest *r, const char *method, const char *path, const char *body,
                 mg_rest_response *out, mg_err *err)
{
    return perform(r, method, path, body, NULL, NULL, NULL, NULL, out, err);
}

int mg_rest_stream(mg_rest *r, const char *path, const char *accept, const char *extra_header,
                   mg_rest_sink sink, void *ctx, mg_rest_response *out, mg_err *err)
{
    return perform(r, "GET", path, NULL, accept, extra_header, sink, ctx, out, err);
}
