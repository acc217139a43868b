/*
 * entropy.c - the spt binding's entropy: getrandom.
 */

#include "spt.h"

int mg_platform_entropy(void *buf, size_t size)
{
    unsigned char *p = buf;
    while (size) {
        long n = mg_spt_sys3(SYS_GETRANDOM, (long)p, (long)(size > 256 ? 256 : size), 0);
        if (n == -EINTR) continue;
        if (n <= 0) return MG_EIO;
        p += n;
        size -= (size_t)n;
    }
    return MG_OK;
}
