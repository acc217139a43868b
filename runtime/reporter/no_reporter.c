/*
 * no_reporter.c - the `no_reporter` device (mg/reporter.h): every message
 * is discarded, and mg_log_enabled says so, so callers skip formatting.
 */
#include "mg/reporter.h"

static bool mg_no_reporter_enabled(mg_reporter *r, mg_log_level level, const char *source)
{
    (void)r;
    (void)level;
    (void)source;
    return false;
}

static void mg_no_reporter_emit(mg_reporter *r, mg_log_level level, const char *source,
                                const char *fmt, va_list ap)
{
    (void)r;
    (void)level;
    (void)source;
    (void)fmt;
    (void)ap;
}

static const struct mg_reporter_ops mg_no_reporter_ops = {
    .enabled = mg_no_reporter_enabled,
    .emit = mg_no_reporter_emit,
};
static mg_reporter mg_no_reporter = {.ops = &mg_no_reporter_ops};

int mg_no_reporter_connect(mg_reporter **out)
{
    mg_reporter_set_default(&mg_no_reporter);
    *out = &mg_no_reporter;
    return MG_OK;
}
