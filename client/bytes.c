/* bytes.c - see bytes.h. */
#include "client/bytes.h"

#include <stdlib.h>
#include <string.h>

void mg_bytes_add(mg_bytes *b, const void *data, size_t len)
{
    if (b->failed) return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) {
            if (cap > (size_t)-1 / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void mg_bytes_adds(mg_bytes *b, const char *s)
{
    mg_bytes_add(b, s, strlen(s));
}

void mg_bytes_addc(mg_bytes *b, char c)
{
    mg_bytes_add(b, &c, 1);
}

void mg_bytes_clear(mg_bytes *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void mg_bytes_free(mg_bytes *b)
{
    free(b->data);
    *b = (mg_bytes){0};
}

const char *mg_bytes_str(const mg_bytes *b)
{
    return b->data ? b->data : "";
}

size_t mg_utf8_char_len(const char *s, size_t avail)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    size_t n;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 1, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 2, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 3, min = 0x10000;
    else
        return 0;
    if (avail <= n) return 0;
    unsigned cp = c & (0x3Fu >> n);
    for (size_t i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n + 1;
}

void mg_bytes_add_utf8(mg_bytes *b, const char *s, size_t len)
{
    size_t start = 0, i = 0;
    while (i < len) {
        size_t n = mg_utf8_char_len(s + i, len - i);
        if (n) {
            i += n;
            continue;
        }
        mg_bytes_add(b, s + start, i - start);
        mg_bytes_adds(b, "\xEF\xBF\xBD"); /* U+FFFD */
        start = ++i;
    }
    mg_bytes_add(b, s + start, len - start);
}
