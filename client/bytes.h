/*
 * bytes.h - a growable byte buffer, always NUL-terminated.
 *
 * mgctl collects HTTP bodies, SSE lines and JSON documents in it. A failed
 * allocation sets `failed` and later appends do nothing, so callers check
 * once at the end instead of after every append.
 */
#ifndef MG_CLIENT_BYTES_H
#define MG_CLIENT_BYTES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mg_bytes {
    char *data; /* NULL until the first append; then NUL-terminated */
    size_t len;
    size_t cap;
    bool failed;
} mg_bytes;

void mg_bytes_add(mg_bytes *b, const void *data, size_t len);
void mg_bytes_adds(mg_bytes *b, const char *s);
void mg_bytes_addc(mg_bytes *b, char c);
/* Empties the buffer and keeps its memory. */
void mg_bytes_clear(mg_bytes *b);
void mg_bytes_free(mg_bytes *b);
/* The content as a string ("" when empty; never NULL). */
const char *mg_bytes_str(const mg_bytes *b);

/* The length (1 to 4) of the UTF-8 character at `s`, of which `avail`
 * bytes are there; 0 when they are no valid character (a stray byte, an
 * overlong form, a surrogate, past U+10FFFF, cut short) or a NUL. */
size_t mg_utf8_char_len(const char *s, size_t avail);
/* Appends `len` bytes of text with what is no valid UTF-8 character (and
 * NULs) replaced by U+FFFD, so that it can go into a JSON string. */
void mg_bytes_add_utf8(mg_bytes *b, const char *s, size_t len);

#endif
