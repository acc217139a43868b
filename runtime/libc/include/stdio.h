/*
 * stdio.h - formatting into memory only (runtime/libc/printf.c): the
 * runtime writes to the console through mg_printf, never through FILEs.
 *
 * Conversions: d i u x X o c s p %, with the flags - 0 + space #, a width
 * and a precision (numbers or *), and the lengths hh h l ll z j t. Floating
 * point is not supported: %f, %e, %g and %a print "?" (the runtime has no
 * floating point; neither do the freestanding targets' kernels).
 */
#ifndef MG_LIBC_STDIO_H
#define MG_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
