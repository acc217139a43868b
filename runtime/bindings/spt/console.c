/*
 * console.c - the spt binding's console: write(2) on descriptor 1, which
 * the tender keeps the console's.
 */

#include "spt.h"

void mg_platform_console_write(const char *buf, size_t size)
{
    while (size) {
        long n = mg_spt_sys3(SYS_WRITE, 1, (long)buf, (long)size);
        if (n == -EINTR) continue;
        if (n <= 0) return; /* the console is gone: nothing to tell */
        buf += n;
        size -= (size_t)n;
    }
}
