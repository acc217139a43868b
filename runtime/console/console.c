/*
 * console.c - the platform console (mg/console.h) and the dispatch of the
 * console functions through an implementation's operations table.
 */
#include <stdlib.h>

#include "mg/console.h"
#include "abi/platform.h"

static int mg_platform_console_op_write(mg_console *c, const void *buf, size_t len)
{
    (void)c;
    mg_platform_console_write(buf, len);
    return MG_OK;
}

static const struct mg_console_ops mg_platform_console_ops = {
    .write = mg_platform_console_op_write,
};

int mg_console_connect(mg_console **out, const char *name)
{
    mg_console *c = malloc(sizeof *c);
    if (!c) return MG_ENOMEM;
    c->ops = &mg_platform_console_ops;
    c->name = name ? name : "console";
    *out = c;
    return MG_OK;
}

int mg_console_write(mg_console *c, const void *buf, size_t len)
{
    return c->ops->write(c, buf, len);
}

int mg_console_vprintf(mg_console *c, const char *fmt, va_list ap)
{
    char stack[256];
    size_t len = 0; /* stays 0 when the format itself is bad */
    char *text = mg_vformat(stack, sizeof stack, &len, fmt, ap);
    if (!text) return len == 0 ? MG_EINVAL : MG_ENOMEM;
    int status = mg_console_write(c, text, len);
    if (text != stack) free(text);
    return status;
}

int mg_console_printf(mg_console *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = mg_console_vprintf(c, fmt, ap);
    va_end(ap);
    return status;
}

const char *mg_console_name(const mg_console *c)
{
    return c->name;
}
