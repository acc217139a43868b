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
