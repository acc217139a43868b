/*
 * strbuf.h - a growable byte string for building output text.
 *
 * Used by the describe (JSON, DOT) and code generators. Always
 * NUL-terminated; allocation failure aborts like the arena.
 */
#ifndef MG_GRAPH_STRBUF_H
#define MG_GRAPH_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct mg_strbuf {
    char *data;
    size_t len;
    size_t cap;
} mg_strbuf;

void mg_strbuf_append(mg_strbuf *b, const char *s);
void mg_strbuf_appendn(mg_strbuf *b, const char *s, size_t n);
void mg_strbuf_printf(mg_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a C string literal body (escapes quotes, backslashes, controls). */
void mg_strbuf_append_c_escaped(mg_strbuf *b, const char *s);
/* Takes ownership of the text; the buffer is left empty. */
char *mg_strbuf_take(mg_strbuf *b);
void mg_strbuf_free(mg_strbuf *b);

#endif
