/*
 * params.c - pages, ranges, tags, media types, bearer credentials, times.
 */
#include "api/params.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/num.h"

int mg_page_parse(const mg_query *q, mg_page *out, mg_err *e)
{
    out->page = 1;
    out->per_page = MG_PER_PAGE_DEFAULT;
    const char *page = mg_query_get(q, "page"), *per = mg_query_get(q, "per_page");
    if (page && mg_parse_i64(page, 1, MG_PAGE_MAX, &out->page) != 0) {
        return mg_err_set(e, MG_E_INVALID, "page must be an integer from 1 to %" PRId64,
                          MG_PAGE_MAX);
    }
    if (per && mg_parse_i64(per, 1, MG_PER_PAGE_MAX, &out->per_page) != 0) {
        return mg_err_set(e, MG_E_INVALID, "per_page must be an integer from 1 to %d",
                          MG_PER_PAGE_MAX);
    }
    return 0;
}

int64_t mg_page_offset(const mg_page *p)
{
    return (p->page - 1) * p->per_page;
}

int64_t mg_page_last(int64_t total, int64_t per_page)
{
    if (total <= 0 || per_page <= 0) return 1;
    return (total - 1) / per_page + 1;
}

static void link_one(mg_buf *b, const char *path, const mg_query *q, int64_t page, int64_t per,
                     const char *rel)
{
    if (b->len) mg_buf_adds(b, ", ");
    mg_buf_addc(b, '<');
    mg_buf_adds(b, path);
    char sep = '?';
    for (size_t i = 0; i < q->n; i++) {
        const mg_query_param *p = &q->items[i];
        if (!strcmp(p->key, "page") || !strcmp(p->key, "per_page")) continue;
        mg_buf_addc(b, sep);
        sep = '&';
        mg_buf_add_urlenc(b, p->key);
        mg_buf_addc(b, '=');
        mg_buf_add_urlenc(b, p->value);
    }
    mg_buf_printf(b, "%cpage=%" PRId64 "&per_page=%" PRId64 ">; rel=\"%s\"", sep, page, per, rel);
}

void mg_page_link(mg_buf *b, const char *path, const mg_query *q, const mg_page *p, int64_t total)
{
    int64_t last = mg_page_last(total, p->per_page);
    link_one(b, path, q, 1, p->per_page, "first");
    if (p->page > 1) {
        int64_t prev = p->page - 1 < last ? p->page - 1 : last;
        link_one(b, path, q, prev, p->per_page, "prev");
    }
    if (p->page < last) link_one(b, path, q, p->page + 1, p->per_page, "next");
    link_one(b, path, q, last, p->per_page, "last");
}

/* Reads digits at *s, saturating at UINT64_MAX; false when there are none. */
static bool read_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *s = p;
    *out = v;
    return true;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

mg_range_result mg_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (!header) return MG_RANGE_NONE;
    const char *p = skip_ws(header);
    if (strncasecmp(p, "bytes", 5) != 0) return MG_RANGE_NONE;
    p = skip_ws(p + 5);
    if (*p != '=') return MG_RANGE_NONE;
    p = skip_ws(p + 1);
    /* One range only: a list is ignored (RFC 9110 14.2 lets a server
     * ignore Range), as is anything malformed. */
    if (strchr(p, ',')) return MG_RANGE_NONE;
    uint64_t first, last;
    if (*p == '-') {
        p++;
        if (!read_u64(&p, &last) || *skip_ws(p)) return MG_RANGE_NONE;
        /* suffix: the last `last` bytes */
        if (last == 0 || size == 0) return MG_RANGE_UNSATISFIABLE;
        uint64_t n = last < size ? last : size;
        *start = size - n;
        *len = n;
        return MG_RANGE_OK;
    }
    if (!read_u64(&p, &first)) return MG_RANGE_NONE;
    p = skip_ws(p);
    if (*p != '-') return MG_RANGE_NONE;
    p = skip_ws(p + 1);
    bool has_last = false;
    if (*p) {
        if (!read_u64(&p, &last) || *skip_ws(p)) return MG_RANGE_NONE;
        if (last < first) return MG_RANGE_NONE;
        has_last = true;
    }
    if (first >= size) return MG_RANGE_UNSATISFIABLE;
    uint64_t end = has_last && last < size - 1 ? last : size - 1;
    *start = first;
    *len = end - first + 1;
    return MG_RANGE_OK;
}

bool mg_etag_match(const char *inm, const char *tag)
{
    if (!inm) return false;
    size_t tlen = strlen(tag);
    const char *p = inm;
    for (;;) {
        p = skip_ws(p);
        while (*p == ',') p = skip_ws(p + 1);
        if (!*p) return false;
        if (*p == '*') return true;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        if (*p != '"') {
            /* not an entity tag: skip to the next list member */
            const char *c = strchr(p, ',');
            if (!c) return false;
            p = c;
            continue;
        }
        const char *q = strchr(p + 1, '"');
        if (!q) return false;
        if ((size_t)(q - p - 1) == tlen && !memcmp(p + 1, tag, tlen)) return true;
        p = q + 1;
    }
}

bool mg_content_type_is_json(const char *ct)
{
    if (!ct) return false;
    ct = skip_ws(ct);
    static const char want[] = "application/json";
    size_t n = sizeof want - 1;
    if (strncasecmp(ct, want, n) != 0) return false;
    const char *rest = skip_ws(ct + n);
    return *rest == 0 || *rest == ';';
}

const char *mg_bearer_token(const char *header, size_t *len)
{
    if (!header) return NULL;
    const char *p = skip_ws(header);
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) return NULL;
    p = skip_ws(p + 6);
    size_t n = 0;
    /* token68: ALPHA DIGIT - . _ ~ + / then '='s */
    while (isalnum((unsigned char)p[n]) || strchr("-._~+/", p[n]) != NULL) {
        if (!p[n]) break;
        n++;
    }
    while (p[n] == '=') n++;
    if (n == 0 || *skip_ws(p + n)) return NULL;
    *len = n;
    return p;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), from the
 * well-known era arithmetic: gmtime_r takes glibc's time-zone lock on
 * every call, which a server formatting dozens of times per response feels
 * across threads. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void mg_format_time(int64_t unix_ms, char buf[32])
{
    if (unix_ms < 0) unix_ms = 0; /* nothing mgd keeps predates 1970 */
    int64_t secs = unix_ms / 1000;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(buf, 32, "1970-01-01T00:00:00Z");
        return;
    }
    unsigned v[6] = {(unsigned)y,         m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
                     (unsigned)(rem % 60)};
    char *p = buf;
    *p++ = (char)('0' + v[0] / 1000);
    *p++ = (char)('0' + v[0] / 100 % 10);
    *p++ = (char)('0' + v[0] / 10 % 10);
    *p++ = (char)('0' + v[0] % 10);
    static const char seps[] = "--T::";
    for (int i = 1; i < 6; i++) {
        *p++ = seps[i - 1];
        *p++ = (char)('0' + v[i] / 10);
        *p++ = (char)('0' + v[i] % 10);
    }
    *p++ = 'Z';
    *p = 0;
}

/* Whether the parameters of a media range, from its first ';' up to
 * `end`, leave it acceptable: all but "q=0" (RFC 9110 12.4.2: "0",
 * "0.", "0.0" up to three zeros) do. A malformed q is taken as given. */
static bool q_not_zero(const char *p, const char *end)
{
    while (p < end) {
        p = skip_ws(p + 1); /* past the ';' */
        const char *next = memchr(p, ';', (size_t)(end - p));
        if (!next) next = end;
        if ((*p == 'q' || *p == 'Q') && skip_ws(p + 1) < next && *skip_ws(p + 1) == '=') {
            const char *v = skip_ws(skip_ws(p + 1) + 1);
            const char *ve = next;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (ve > v && v[0] == '0') {
                const char *d = v + 1;
                if (d < ve && *d == '.') {
                    const char *digits = ++d;
                    while (d < ve && *d == '0' && d - digits < 3) d++;
                }
                if (d == ve) return false;
            }
        }
        p = next;
    }
    return true;
}

bool mg_accepts_event_stream(const char *accept)
{
    if (!accept) return false;
    const char *p = accept;
    while (*p) {
        p = skip_ws(p);
        static const char want[] = "text/event-stream";
        size_t n = sizeof want - 1;
        const char *end = p + strcspn(p, ",");
        if ((size_t)(end - p) >= n && !strncasecmp(p, want, n)) {
            const char *r = skip_ws(p + n);
            if (r == end) return true;
            if (*r == ';') return q_not_zero(r, end);
        }
        if (!*end) break;
        p = end + 1;
    }
    return false;
}
