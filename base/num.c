/*
 * num.c - strict decimal numbers.
 */
#include "base/num.h"

#include <string.h>

bool mg_parse_u64n(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (!n) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int mg_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s) return -1;
    bool neg = *s == '-';
    if (neg) s++;
    uint64_t v;
    if (!mg_parse_u64n(s, strlen(s), &v)) return -1;
    int64_t r;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return -1;
        r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return -1;
        r = (int64_t)v;
    }
    if (r < min || r > max) return -1;
    *out = r;
    return 0;
}
