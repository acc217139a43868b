/*
 * router.c - method names, path decoding and matching, query strings.
 */
#include "api/router.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[MG_HTTP_N_METHODS] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OTHER",
};

mg_http_method mg_http_method_parse(const char *name)
{
    /* Methods are case-sensitive (RFC 9110 9.1). */
    for (int m = 0; m < MG_HTTP_OTHER; m++)
        if (!strcmp(name, method_names[m])) return (mg_http_method)m;
    return MG_HTTP_OTHER;
}

const char *mg_http_method_name(mg_http_method m)
{
    return (unsigned)m < MG_HTTP_N_METHODS ? method_names[m] : "OTHER";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long mg_url_decode(const char *in, size_t n, bool plus_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n) return -1; /* fewer than two characters follow */
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0) return -1;
            c = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == 0) return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return (long)o;
}

/* Splits and decodes the path into m->buf / m->segments. */
static mg_route_result split(const char *raw, mg_route_match *m)
{
    m->n_segments = 0;
    if (raw[0] != '/') return MG_ROUTE_NOT_FOUND;
    size_t len = strlen(raw);
    if (len >= sizeof m->buf) return MG_ROUTE_NOT_FOUND;
    size_t used = 0;
    const char *p = raw + 1;
    /* "/" alone is the root: no segments. */
    if (!*p) return MG_ROUTE_FOUND;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (m->n_segments == MG_ROUTE_MAX_SEGMENTS) return MG_ROUTE_NOT_FOUND;
        /* decoding never lengthens, and the whole path fits the buffer */
        long d = mg_url_decode(p, n, false, m->buf + used);
        if (d < 0) return MG_ROUTE_BAD_PATH;
        m->segments[m->n_segments++] = m->buf + used;
        used += (size_t)d + 1;
        if (!end) break;
        p = end + 1;
    }
    return MG_ROUTE_FOUND;
}

/* Whether the pattern matches the segments; fills params. */
static bool pattern_match(const char *pattern, mg_route_match *m, const char **params,
                          size_t *n_params)
{
    const char *p = pattern + 1;
    size_t seg = 0;
    *n_params = 0;
    if (!*p) return m->n_segments == 0;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 1 && p[0] == '*' && !end) return true;
        if (seg >= m->n_segments) return false;
        const char *s = m->segments[seg];
        if (p[0] == ':') {
            if (!*s || *n_params == MG_ROUTE_MAX_PARAMS) return false;
            params[(*n_params)++] = s;
        } else if (strlen(s) != n || memcmp(s, p, n) != 0) {
            return false;
        }
        seg++;
        if (!end) break;
        p = end + 1;
    }
    return seg == m->n_segments;
}

mg_route_result mg_router_match(const mg_route *routes, size_t n_routes, mg_http_method method,
                                const char *raw_path, mg_route_match *out)
{
    out->route = NULL;
    out->n_params = 0;
    out->allow = 0;
    mg_route_result r = split(raw_path, out);
    if (r != MG_ROUTE_FOUND) return r;
    mg_http_method want = method == MG_HTTP_HEAD ? MG_HTTP_GET : method;
    const char *params[MG_ROUTE_MAX_PARAMS];
    size_t n_params;
    for (size_t i = 0; i < n_routes; i++) {
        if (!pattern_match(routes[i].pattern, out, params, &n_params)) continue;
        if (routes[i].method == want && !out->route) {
            out->route = &routes[i];
            memcpy(out->params, params, n_params * sizeof *params);
            out->n_params = n_params;
            return MG_ROUTE_FOUND;
        }
        out->allow |= 1u << routes[i].method;
    }
    return out->allow ? MG_ROUTE_METHOD_NOT_ALLOWED : MG_ROUTE_NOT_FOUND;
}

void mg_router_allow_text(unsigned allow, char *buf, size_t size)
{
    size_t used = 0;
    if (size) buf[0] = 0;
    for (int m = 0; m < MG_HTTP_OTHER; m++) {
        bool on = allow & (1u << m);
        if (m == MG_HTTP_HEAD) on = allow & (1u << MG_HTTP_GET);
        if (!on) continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", method_names[m]);
        if (n < 0 || (size_t)n >= size - used) return;
        used += (size_t)n;
    }
}

void mg_query_init(mg_query *q)
{
    q->n = 0;
    q->used = 0;
}

static const char *store_decoded(mg_query *q, const char *s, size_t n, bool plus_space,
                                 mg_query_result *res)
{
    if (n + 1 > sizeof q->store - q->used) {
        *res = MG_QUERY_TOO_MANY;
        return NULL;
    }
    char *out = q->store + q->used;
    long d = mg_url_decode(s, n, plus_space, out);
    if (d < 0) {
        *res = MG_QUERY_BAD;
        return NULL;
    }
    q->used += (size_t)d + 1;
    return out;
}

static mg_query_result add_n(mg_query *q, const char *key, size_t klen, const char *value,
                             size_t vlen, bool plus_space)
{
    if (q->n == MG_QUERY_MAX) return MG_QUERY_TOO_MANY;
    mg_query_result res = MG_QUERY_OK;
    size_t mark = q->used;
    const char *k = store_decoded(q, key, klen, plus_space, &res);
    const char *v = k ? store_decoded(q, value, vlen, plus_space, &res) : NULL;
    if (!v) {
        q->used = mark;
        return res;
    }
    q->items[q->n++] = (mg_query_param){k, v};
    return MG_QUERY_OK;
}

mg_query_result mg_query_add_raw(mg_query *q, const char *key, const char *value, bool plus_space)
{
    if (!value) value = "";
    return add_n(q, key, strlen(key), value, strlen(value), plus_space);
}

mg_query_result mg_query_parse(mg_query *q, const char *qs)
{
    const char *p = qs;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n) {
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            const char *v = eq ? eq + 1 : p + n;
            size_t vlen = eq ? n - klen - 1 : 0;
            mg_query_result r = add_n(q, p, klen, v, vlen, true);
            if (r != MG_QUERY_OK) return r;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return MG_QUERY_OK;
}

const char *mg_query_get(const mg_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->items[i].key, key)) return q->items[i].value;
    return NULL;
}
