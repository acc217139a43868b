/*
 * buf.h - mgd's one growable byte buffer, and a JSON writer on top.
 *
 * Everything mgd builds as text goes through mg_buf: response bodies (a
 * handler's body is handed to libmicrohttpd without a copy, so a response
 * costs a few reallocations, not one allocation per JSON node as a cJSON
 * tree would), the describe output and the generated C files, mgctl's HTTP
 * bodies and SSE lines, logs.
 *
 * Out of memory, under alloc.h's policy: allocation failures are sticky
 * instead of fatal. Once a growth fails the buffer stops growing, `failed`
 * is set, later appends do nothing, and mg_buf_take() returns NULL, so the
 * code that builds a text checks once, where it hands the result on, and
 * answers (a 500, a failed build) instead of crashing. Only text whose
 * size mgd bounds itself (generated code, a resolution's description: the
 * resolver's limits bound the graph) may be taken with mg_buf_xtake(),
 * which aborts on a failure like mg_xmalloc.
 *
 * The JSON writer always produces valid JSON: strings are escaped, and
 * bytes that are not valid UTF-8 become U+FFFD (messages may quote what a
 * client sent). Nesting is tracked up to MG_JW_MAX_DEPTH; deeper writes
 * mark the buffer failed.
 */
#ifndef MG_BASE_BUF_H
#define MG_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mg_buf {
    char *data; /* NUL-terminated when not NULL */
    size_t len, cap;
    bool failed;
} mg_buf;

/* Makes room for `extra` more bytes (and a NUL); false after a failure. */
bool mg_buf_reserve(mg_buf *b, size_t extra);
void mg_buf_add(mg_buf *b, const void *data, size_t len);
void mg_buf_adds(mg_buf *b, const char *s);
void mg_buf_addc(mg_buf *b, char c);
void mg_buf_printf(mg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` with %XX escapes for everything but unreserved characters
 * (RFC 3986: letters, digits, - . _ ~): a path segment or query part. */
void mg_buf_add_urlenc(mg_buf *b, const char *s);
/* Appends `s` as the body of a C string literal (generated code): quotes,
 * backslashes, controls, bytes past ASCII and '?' (no trigraphs) escaped. */
void mg_buf_add_c_escaped(mg_buf *b, const char *s);
/* Appends `len` bytes of text with each byte that is no UTF-8 (and each
 * NUL) replaced by U+FFFD, so that it can become a C string and JSON. */
void mg_buf_add_utf8(mg_buf *b, const char *s, size_t len);
/* The content as a string: "" when empty, never NULL. */
const char *mg_buf_str(const mg_buf *b);
/* Empties the buffer, keeping its memory (and clearing `failed`). */
void mg_buf_clear(mg_buf *b);
/* The text (the caller frees it) and its length; NULL when anything failed.
 * The buffer is left empty either way. */
char *mg_buf_take(mg_buf *b, size_t *len);
/* mg_buf_take() for text whose size mgd bounds (see above): a failure
 * aborts. Never NULL; "" when nothing was added. */
char *mg_buf_xtake(mg_buf *b);
void mg_buf_free(mg_buf *b);

/* Appends `s` (n bytes) as a JSON string literal with its quotes: the one
 * JSON string escaper (" \\ and controls escaped, bytes that are no UTF-8
 * replaced by U+FFFD, the rest as it is). */
void mg_buf_json_string(mg_buf *b, const char *s, size_t n);

#define MG_JW_MAX_DEPTH 32

typedef struct mg_jw {
    mg_buf *b;
    int depth;
    bool after_key;                 /* a key was written: the value needs no comma */
    bool has_item[MG_JW_MAX_DEPTH]; /* per level: whether a comma comes first */
} mg_jw;

void mg_jw_init(mg_jw *w, mg_buf *b);
void mg_jw_object(mg_jw *w);
void mg_jw_object_end(mg_jw *w);
void mg_jw_array(mg_jw *w);
void mg_jw_array_end(mg_jw *w);
/* A member name inside an object; the next call writes its value. */
void mg_jw_key(mg_jw *w, const char *key);
void mg_jw_string(mg_jw *w, const char *s); /* NULL writes null */
void mg_jw_stringn(mg_jw *w, const char *s, size_t n);
void mg_jw_int(mg_jw *w, int64_t v);
void mg_jw_uint(mg_jw *w, uint64_t v);
void mg_jw_bool(mg_jw *w, bool v);
void mg_jw_null(mg_jw *w);
/* A value that is already JSON text (trusted: written by mgd itself);
 * NULL or "" writes `fallback` ("null", "{}") instead. */
void mg_jw_raw(mg_jw *w, const char *json, const char *fallback);
/* Shorthands for "key": value. */
void mg_jw_kstring(mg_jw *w, const char *key, const char *s);
void mg_jw_kint(mg_jw *w, const char *key, int64_t v);
void mg_jw_kuint(mg_jw *w, const char *key, uint64_t v);
void mg_jw_kbool(mg_jw *w, const char *key, bool v);

#endif
