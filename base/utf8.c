/* utf8.c - see utf8.h. */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

size_t mg_utf8_len(const void *s, size_t avail)
{
    const unsigned char *p = s;
    if (avail == 0) return 0;
    unsigned lead = p[0];
    if (lead < 0x80) return 1;
    size_t len;
    uint32_t cp, min;
    /* 0xC0, 0xC1 and 0xF5 to 0xFF can only start an overlong form or a
     * code point past U+10FFFF */
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
        cp = lead & 0x1F;
        min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        cp = lead & 0x0F;
        min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        cp = lead & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool mg_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = mg_utf8_len(s + i, len - i))) return false;
    return true;
}

size_t mg_utf8_count(const char *s)
{
    size_t count = 0, left = strlen(s);
    while (left) {
        size_t n = mg_utf8_len(s, left);
        if (!n) n = 1;
        s += n;
        left -= n;
        count++;
    }
    return count;
}
