#include "graph/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

static void reserve(mg_strbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = mg_xrealloc(b->data, cap);
    b->cap = cap;
}

void mg_strbuf_appendn(mg_strbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void mg_strbuf_append(mg_strbuf *b, const char *s)
{
    mg_strbuf_appendn(b, s, strlen(s));
}

void mg_strbuf_printf(mg_strbuf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) abort();
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    va_end(ap);
}

void mg_strbuf_append_c_escaped(mg_strbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            mg_strbuf_append(b, "\\\"");
            break;
        case '\\':
            mg_strbuf_append(b, "\\\\");
            break;
        case '\n':
            mg_strbuf_append(b, "\\n");
            break;
        case '\t':
            mg_strbuf_append(b, "\\t");
            break;
        case '?':
            mg_strbuf_append(b, "\\?");
            break; /* no trigraphs */
        default:
            if (*p < 0x20 || *p >= 0x7f) /* octal escapes stop after three digits, unlike \x */
                mg_strbuf_printf(b, "\\%03o", *p);
            else
                mg_strbuf_appendn(b, (const char *)p, 1);
        }
    }
}

char *mg_strbuf_take(mg_strbuf *b)
{
    if (!b->data) mg_strbuf_appendn(b, "", 0);
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void mg_strbuf_free(mg_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
