/*
 * printf.c - formatted output to the platform console (mg_printf) and the
 * formatting helper the device libraries share (mg_vformat).
 *
 * Each call formats the whole text first and hands it to the platform in
 * one write, so a line is never split between two console writes.
 */
#include <stdlib.h>
#include <stdio.h>

#include "mg/mg.h"
#include "abi/platform.h"

/* Most messages are one short line: format them on the stack. */
#define MG_PRINTF_STACK 256

char *mg_vformat(char *buf, size_t size, size_t *len, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(buf, size, fmt, ap);
    if (n < 0) {
        va_end(again);
        return NULL;
    }
    *len = (size_t)n;
    if ((size_t)n < size) {
        va_end(again);
        return buf;
    }
    char *big = malloc((size_t)n + 1);
    if (big) vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    return big;
}

int mg_vprintf(const char *fmt, va_list ap)
{
    char stack[MG_PRINTF_STACK];
    size_t len;
    char *text = mg_vformat(stack, sizeof stack, &len, fmt, ap);
    if (!text) return -1;
    mg_platform_console_write(text, len);
    if (text != stack) free(text);
    return len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
}

int mg_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = mg_vprintf(fmt, ap);
    va_end(ap);
    return n;
}
