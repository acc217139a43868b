/*
 * buf.c - growable buffer with sticky failure, and the JSON writer.
 */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

bool mg_buf_reserve(mg_buf *b, size_t extra)
{
    if (b->failed) return false;
    if (extra > SIZE_MAX / 2 - b->len - 1) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void mg_buf_add(mg_buf *b, const void *data, size_t len)
{
    if (!mg_buf_reserve(b, len)) return;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void mg_buf_adds(mg_buf *b, const char *s)
{
    mg_buf_add(b, s, strlen(s));
}

void mg_buf_addc(mg_buf *b, char c)
{
    if (!mg_buf_reserve(b, 1)) return;
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

void mg_buf_printf(mg_buf *b, const char *fmt, ...)
{
    if (b->failed) return;
    va_list ap;
    /* Try in the room there is; grow once when it was too small. */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_start(ap, fmt);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n >= room) {
        if (!mg_buf_reserve(b, (size_t)n)) return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void mg_buf_add_urlenc(mg_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            mg_buf_addc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            mg_buf_add(b, e, 3);
        }
    }
}

void mg_buf_add_c_escaped(mg_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            mg_buf_adds(b, "\\\"");
            break;
        case '\\':
            mg_buf_adds(b, "\\\\");
            break;
        case '\n':
            mg_buf_adds(b, "\\n");
            break;
        case '\t':
            mg_buf_adds(b, "\\t");
            break;
        case '?':
            mg_buf_adds(b, "\\?");
            break; /* no trigraphs */
        default:
            if (*p < 0x20 || *p >= 0x7f) /* octal escapes stop after three digits, unlike \x */
                mg_buf_printf(b, "\\%03o", *p);
            else
                mg_buf_addc(b, (char)*p);
        }
    }
}

void mg_buf_add_utf8(mg_buf *b, const char *s, size_t len)
{
    size_t start = 0, i = 0;
    while (i < len) {
        size_t n = s[i] ? mg_utf8_len(s + i, len - i) : 0;
        if (n) {
            i += n;
            continue;
        }
        mg_buf_add(b, s + start, i - start);
        mg_buf_adds(b, MG_UTF8_REPLACEMENT);
        start = ++i;
    }
    mg_buf_add(b, s + start, len - start);
}

const char *mg_buf_str(const mg_buf *b)
{
    return b->data ? b->data : "";
}

void mg_buf_clear(mg_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data) b->data[0] = 0;
}

char *mg_buf_take(mg_buf *b, size_t *len)
{
    char *out = NULL;
    if (!b->failed) {
        if (!b->data) mg_buf_reserve(b, 0);
        if (b->data) b->data[b->len] = 0;
        out = b->data;
        if (len) *len = b->len;
        b->data = NULL;
    }
    mg_buf_free(b);
    return out;
}

char *mg_buf_xtake(mg_buf *b)
{
    char *out = mg_buf_take(b, NULL);
    if (!out) abort();
    return out;
}

void mg_buf_free(mg_buf *b)
{
    free(b->data);
    *b = (mg_buf){0};
}

void mg_buf_json_string(mg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    if (!mg_buf_reserve(b, n + 2)) return;
    /* the common case: printable ASCII without quotes or backslashes */
    size_t plain = 0;
    while (plain < n && p[plain] >= 0x20 && p[plain] < 0x80 && p[plain] != '"' && p[plain] != '\\')
        plain++;
    if (plain == n) {
        char *o = b->data + b->len;
        o[0] = '"';
        memcpy(o + 1, s, n);
        o[n + 1] = '"';
        b->len += n + 2;
        b->data[b->len] = 0;
        return;
    }
    mg_buf_addc(b, '"');
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char u[6];
        size_t l = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        } else if (c >= 0x80) {
            l = mg_utf8_len(p + i, n - i);
            if (l == 0) esc = MG_UTF8_REPLACEMENT; /* for a byte that is not UTF-8 */
        }
        if (!esc && c >= 0x20) {
            run += l;
            i += l;
            continue;
        }
        mg_buf_add(b, p + i - run, run);
        run = 0;
        if (esc)
            mg_buf_adds(b, esc);
        else
            mg_buf_add(b, u, 6);
        i += 1;
    }
    mg_buf_add(b, p + n - run, run);
    mg_buf_addc(b, '"');
}

void mg_jw_init(mg_jw *w, mg_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

/* Writes the comma that separates this value from the previous one. */
static void before_value(mg_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_item[w->depth - 1]) mg_buf_addc(w->b, ',');
        w->has_item[w->depth - 1] = true;
    }
}

static void jw_open(mg_jw *w, char c)
{
    before_value(w);
    if (w->depth >= MG_JW_MAX_DEPTH) {
        w->b->failed = true;
        return;
    }
    mg_buf_addc(w->b, c);
    w->has_item[w->depth++] = false;
}

static void jw_close(mg_jw *w, char c)
{
    if (w->depth == 0) {
        w->b->failed = true;
        return;
    }
    w->depth--;
    mg_buf_addc(w->b, c);
}

void mg_jw_object(mg_jw *w)
{
    jw_open(w, '{');
}

void mg_jw_object_end(mg_jw *w)
{
    jw_close(w, '}');
}

void mg_jw_array(mg_jw *w)
{
    jw_open(w, '[');
}

void mg_jw_array_end(mg_jw *w)
{
    jw_close(w, ']');
}

void mg_jw_key(mg_jw *w, const char *key)
{
    before_value(w);
    mg_buf_json_string(w->b, key, strlen(key));
    mg_buf_addc(w->b, ':');
    w->after_key = true;
}

void mg_jw_stringn(mg_jw *w, const char *s, size_t n)
{
    before_value(w);
    if (s)
        mg_buf_json_string(w->b, s, n);
    else
        mg_buf_adds(w->b, "null");
}

void mg_jw_string(mg_jw *w, const char *s)
{
    mg_jw_stringn(w, s, s ? strlen(s) : 0);
}

/* Decimal digits of v, written backwards from `end`; returns the start. */
static char *digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void mg_jw_int(mg_jw *w, int64_t v)
{
    char t[24], *end = t + sizeof t;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = digits(u, end);
    if (v < 0) *--p = '-';
    before_value(w);
    mg_buf_add(w->b, p, (size_t)(end - p));
}

void mg_jw_uint(mg_jw *w, uint64_t v)
{
    char t[24], *end = t + sizeof t;
    char *p = digits(v, end);
    before_value(w);
    mg_buf_add(w->b, p, (size_t)(end - p));
}

void mg_jw_bool(mg_jw *w, bool v)
{
    before_value(w);
    mg_buf_adds(w->b, v ? "true" : "false");
}

void mg_jw_null(mg_jw *w)
{
    before_value(w);
    mg_buf_adds(w->b, "null");
}

void mg_jw_raw(mg_jw *w, const char *json, const char *fallback)
{
    before_value(w);
    if (!json || !*json) json = fallback;
    /* Trailing newlines (describe output ends in one) are not part of a value. */
    size_t n = strlen(json);
    while (n && (json[n - 1] == '\n' || json[n - 1] == ' ')) n--;
    mg_buf_add(w->b, json, n);
}

void mg_jw_kstring(mg_jw *w, const char *key, const char *s)
{
    mg_jw_key(w, key);
    mg_jw_string(w, s);
}

void mg_jw_kint(mg_jw *w, const char *key, int64_t v)
{
    mg_jw_key(w, key);
    mg_jw_int(w, v);
}

void mg_jw_kuint(mg_jw *w, const char *key, uint64_t v)
{
    mg_jw_key(w, key);
    mg_jw_uint(w, v);
}

void mg_jw_kbool(mg_jw *w, const char *key, bool v)
{
    mg_jw_key(w, key);
    mg_jw_bool(w, v);
}
