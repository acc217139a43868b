#include "graph/version.h"

#include <ctype.h>

bool mg_version_parse(const char *text, mg_version *out)
{
    *out = (mg_version){0};
    const char *p = text;
    if (!p || !*p) return false;
    for (;;) {
        if (out->n == MG_VERSION_PARTS || !isdigit((unsigned char)*p)) return false;
        uint64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (uint64_t)(*p++ - '0');
            if (v > UINT32_MAX) return false;
        }
        out->part[out->n++] = (uint32_t)v;
        if (!*p) return true;
        if (*p++ != '.') return false;
    }
}

int mg_version_compare(const mg_version *a, const mg_version *b)
{
    for (int i = 0; i < MG_VERSION_PARTS; i++) {
        uint32_t x = i < a->n ? a->part[i] : 0, y = i < b->n ? b->part[i] : 0;
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}
