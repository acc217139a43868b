/*
 * printf.c - vsnprintf and snprintf of the freestanding C library.
 *
 * C99 semantics for what stdio.h lists: the return value is the length the
 * whole text would have, the output is cut to size - 1 bytes and always
 * terminated when size > 0. Numbers are converted on a small stack buffer
 * (64 bits in octal is 22 digits), never allocated.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct out {
    char *buf;
    size_t size;
    size_t len; /* of the whole text, also beyond size */
} out;

static void put(out *o, char c)
{
    if (o->len + 1 < o->size) o->buf[o->len] = c;
    o->len++;
}

static void put_n(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) put(o, s[i]);
}

static void pad(out *o, char c, int n)
{
    while (n-- > 0) put(o, c);
}

enum { LEFT = 1, ZERO = 2, PLUS = 4, SPACE = 8, ALT = 16 };

/* An integer: its digits, sign or prefix, precision, width. */
static void put_int(out *o, uintmax_t v, bool negative, unsigned base, bool upper, int flags,
                    int width, int prec)
{
    char digits[24];
    int n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    while (v) {
        digits[n++] = set[v % base];
        v /= base;
    }
    /* precision: the least number of digits; 0 with precision 0 is empty */
    int zeros = prec > n ? prec - n : 0;
    if (prec < 0 && n == 0) zeros = 1;
    char prefix[3];
    int np = 0;
    if (negative)
        prefix[np++] = '-';
    else if (flags & PLUS)
        prefix[np++] = '+';
    else if (flags & SPACE)
        prefix[np++] = ' ';
    if ((flags & ALT) && base == 16 && n) {
        prefix[np++] = '0';
        prefix[np++] = upper ? 'X' : 'x';
    } else if ((flags & ALT) && base == 8 && zeros == 0) {
        zeros = 1; /* the octal 0 */
    }
    int body = np + zeros + n;
    if ((flags & ZERO) && !(flags & LEFT) && prec < 0 && width > body) {
        zeros += width - body;
        body = width;
    }
    if (!(flags & LEFT)) pad(o, ' ', width - body);
    put_n(o, prefix, (size_t)np);
    pad(o, '0', zeros);
    while (n) put(o, digits[--n]);
    if (flags & LEFT) pad(o, ' ', width - body);
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    out o = {buf, size, 0};
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        const char *start = f++;
        int flags = 0;
        for (;; f++) {
            if (*f == '-')
                flags |= LEFT;
            else if (*f == '0')
                flags |= ZERO;
            else if (*f == '+')
                flags |= PLUS;
            else if (*f == ' ')
                flags |= SPACE;
            else if (*f == '#')
                flags |= ALT;
            else
                break;
        }
        int width = 0;
        if (*f == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                flags |= LEFT;
                width = -width;
            }
            f++;
        } else {
            while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        }
        int prec = -1;
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                if (prec < 0) prec = -1;
                f++;
            } else {
                while (*f >= '0' && *f <= '9') prec = prec * 10 + (*f++ - '0');
            }
        }
        enum { INT, CHAR, SHORT, LONG, LLONG, SIZE, MAX, PTRDIFF } len = INT;
        if (f[0] == 'h' && f[1] == 'h')
            len = CHAR, f += 2;
        else if (*f == 'h')
            len = SHORT, f++;
        else if (f[0] == 'l' && f[1] == 'l')
            len = LLONG, f += 2;
        else if (*f == 'l')
            len = LONG, f++;
        else if (*f == 'z')
            len = SIZE, f++;
        else if (*f == 'j')
            len = MAX, f++;
        else if (*f == 't')
            len = PTRDIFF, f++;
        switch (*f) {
        case 'd':
        case 'i': {
            intmax_t v;
            switch (len) {
            case LONG:
                v = va_arg(ap, long);
                break;
            case LLONG:
                v = va_arg(ap, long long);
                break;
            case SIZE:
                v = (intmax_t)va_arg(ap, size_t);
                break;
            case MAX:
                v = va_arg(ap, intmax_t);
                break;
            case PTRDIFF:
                v = va_arg(ap, ptrdiff_t);
                break;
            case CHAR:
                v = (signed char)va_arg(ap, int);
                break;
            case SHORT:
                v = (short)va_arg(ap, int);
                break;
            default:
                v = va_arg(ap, int);
                break;
            }
            uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
            put_int(&o, mag, v < 0, 10, false, flags, width, prec);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uintmax_t v;
            switch (len) {
            case LONG:
                v = va_arg(ap, unsigned long);
                break;
            case LLONG:
                v = va_arg(ap, unsigned long long);
                break;
            case SIZE:
                v = va_arg(ap, size_t);
                break;
            case MAX:
                v = va_arg(ap, uintmax_t);
                break;
            case PTRDIFF:
                v = (uintmax_t)va_arg(ap, ptrdiff_t);
                break;
            case CHAR:
                v = (unsigned char)va_arg(ap, unsigned);
                break;
            case SHORT:
                v = (unsigned short)va_arg(ap, unsigned);
                break;
            default:
                v = va_arg(ap, unsigned);
                break;
            }
            unsigned base = *f == 'o' ? 8 : *f == 'u' ? 10 : 16;
            put_int(&o, v, false, base, *f == 'X', flags & ~(PLUS | SPACE), width, prec);
            break;
        }
        case 'p': {
            void *p = va_arg(ap, void *);
            if (p) {
                put_int(&o, (uintptr_t)p, false, 16, false, (flags & LEFT) | ALT, width, -1);
            } else {
                /* as glibc prints it */
                if (!(flags & LEFT)) pad(&o, ' ', width - 5);
                put_n(&o, "(nil)", 5);
                if (flags & LEFT) pad(&o, ' ', width - 5);
            }
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!(flags & LEFT)) pad(&o, ' ', width - 1);
            put(&o, c);
            if (flags & LEFT) pad(&o, ' ', width - 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
            if (!(flags & LEFT)) pad(&o, ' ', width - (int)n);
            put_n(&o, s, n);
            if (flags & LEFT) pad(&o, ' ', width - (int)n);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            /* no floating point here: say so instead of misreading va_args */
            (void)va_arg(ap, double);
            put(&o, '?');
            break;
        default:
            /* an unknown conversion is printed as written */
            put_n(&o, start, (size_t)(f - start) + (*f ? 1 : 0));
            if (!*f) f--;
            break;
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len > 0x7fffffff ? -1 : (int)o.len;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
