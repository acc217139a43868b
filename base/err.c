#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One line, whatever went into it. */
static void flatten(char *msg)
{
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
}

int mg_err_vset(mg_err *e, mg_err_code code, const char *fmt, va_list ap)
{
    if (!e) return -1;
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    flatten(e->msg);
    return -1;
}

int mg_err_set(mg_err *e, mg_err_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_err_vset(e, code, fmt, ap);
    va_end(ap);
    return -1;
}

int mg_err_prefix(mg_err *e, const char *fmt, ...)
{
    if (!e) return -1;
    char head[MG_ERR_SIZE], old[MG_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* cut, never overflowed: the two parts are copied by hand, as gcc
     * rightly warns that "%s: %s" of two full buffers may not fit */
    size_t n = strnlen(head, sizeof e->msg - 1);
    memcpy(e->msg, head, n);
    if (n + 2 < sizeof e->msg) memcpy(e->msg + n, ": ", 2), n += 2;
    size_t k = strnlen(old, sizeof old);
    if (k > sizeof e->msg - 1 - n) k = sizeof e->msg - 1 - n;
    memcpy(e->msg + n, old, k);
    e->msg[n + k] = 0;
    flatten(e->msg);
    return -1;
}

void mg_err_clear(mg_err *e)
{
    if (!e) return;
    e->code = MG_OK;
    e->msg[0] = 0;
}

mg_err_code mg_err_code_of_errno(int errnum)
{
    return errnum == ENOSPC || errnum == EDQUOT ? MG_E_NOSPACE : MG_E_IO;
}
