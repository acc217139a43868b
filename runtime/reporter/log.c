/*
 * log.c - what every reporter shares (mg/reporter.h): mg_log and friends,
 * which dispatch to a reporter's operations table, the image's default
 * reporter behind a NULL handle, and the line format.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/reporter.h"

/* The last reporter connected; NULL until one is. */
static mg_reporter *mg_log_default;

void mg_reporter_set_default(mg_reporter *r)
{
    mg_log_default = r;
}

const char *mg_log_level_name(mg_log_level level)
{
    switch (level) {
    case MG_LOG_ERROR:
        return "error";
    case MG_LOG_WARNING:
        return "warning";
    case MG_LOG_INFO:
        return "info";
    case MG_LOG_DEBUG:
        return "debug";
    }
    return "?";
}

static const char *mg_log_tag(mg_log_level level)
{
    switch (level) {
    case MG_LOG_ERROR:
        return "ERROR";
    case MG_LOG_WARNING:
        return "WARNING";
    case MG_LOG_INFO:
        return "INFO";
    case MG_LOG_DEBUG:
        return "DEBUG";
    }
    return "?";
}

void mg_reporter_print(mg_log_level level, const char *source, const char *fmt, va_list ap)
{
    char stack[256];
    size_t len = 0;
    char *msg = mg_vformat(stack, sizeof stack, &len, fmt, ap);
    /* Without the message, still say that something was logged, and where. */
    const char *text = msg ? msg : len ? "(message too long for memory)" : "(bad log format)";
    if (!msg) len = strlen(text);
    const char *nl = len && text[len - 1] == '\n' ? "" : "\n";
    mg_printf("[%s] [%s] %s%s", mg_log_tag(level), source, text, nl);
    if (msg && msg != stack) free(msg);
}

static bool mg_log_valid(mg_log_level level)
{
    return level >= MG_LOG_ERROR && level <= MG_LOG_DEBUG;
}

bool mg_log_enabled(mg_reporter *r, mg_log_level level, const char *source)
{
    if (!r) r = mg_log_default;
    if (!source) source = "application";
    if (!mg_log_valid(level)) return false;
    if (!r) return level <= MG_LOG_WARNING;
    return r->ops->enabled(r, level, source);
}

void mg_logv(mg_reporter *r, mg_log_level level, const char *source, const char *fmt, va_list ap)
{
    if (!r) r = mg_log_default;
    if (!source) source = "application";
    if (!mg_log_valid(level)) return;
    if (!r) {
        if (level <= MG_LOG_WARNING) mg_reporter_print(level, source, fmt, ap);
        return;
    }
    if (r->ops->enabled(r, level, source)) r->ops->emit(r, level, source, fmt, ap);
}

void mg_log(mg_reporter *r, mg_log_level level, const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_logv(r, level, source, fmt, ap);
    va_end(ap);
}
