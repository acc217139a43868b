/*
 * reporter.h - the reporter module type (MirageOS's Logs reporter): log
 * messages with a level and a source, filtered by level per source.
 *
 * `log_reporter(levels)` prints the messages its levels let through on the
 * platform console, one line each: "[LEVEL] [source] message". `levels` is
 * the `logs` runtime key: a comma-separated list of SRC:LEVEL items, SRC a
 * source name (letters, digits, '_', '-', '.', '/') or `*` for every
 * source, LEVEL one of debug, info, warning, error, quiet; a bare LEVEL
 * means *:LEVEL. A message of source S passes when its level is at least as
 * severe as the last item naming S or `*` (later items win), or as info
 * when none does. "" keeps that default. A malformed spec makes connect
 * print why and return MG_EINVAL.
 *
 * `no_reporter` discards everything.
 *
 * A NULL reporter means the image's reporter: the last one connected (the
 * generated main.c connects the default one first), so device libraries
 * that are not handed a reporter can still log. Before any is connected,
 * NULL prints errors and warnings only.
 */
#ifndef MG_REPORTER_H
#define MG_REPORTER_H

#include <stdarg.h>
#include <stdbool.h>

#include "mg/mg.h"

typedef struct mg_reporter mg_reporter;

/* Severity, most severe first. */
typedef enum mg_log_level {
    MG_LOG_ERROR = 1,
    MG_LOG_WARNING = 2,
    MG_LOG_INFO = 3,
    MG_LOG_DEBUG = 4
} mg_log_level;

int mg_reporter_connect(mg_reporter **out, const char *levels);
int mg_no_reporter_connect(mg_reporter **out);

/* Logs a message (printf format; a final newline is added when missing)
 * from `source` (NULL: "application"). */
void mg_log(mg_reporter *r, mg_log_level level, const char *source, const char *fmt, ...)
    MG_PRINTF_LIKE(4, 5);
void mg_logv(mg_reporter *r, mg_log_level level, const char *source, const char *fmt, va_list ap)
    MG_PRINTF_LIKE(4, 0);

/* Whether a message would be printed: skip building costly ones. */
bool mg_log_enabled(mg_reporter *r, mg_log_level level, const char *source);

/* "error", "warning", "info", "debug" ("?" for anything else). */
const char *mg_log_level_name(mg_log_level level);

/* For implementations: a reporter starts with its operations table, and
 * its connect makes it the image's reporter with mg_reporter_set_default. */
struct mg_reporter_ops {
    bool (*enabled)(mg_reporter *r, mg_log_level level, const char *source);
    void (*emit)(mg_reporter *r, mg_log_level level, const char *source, const char *fmt,
                 va_list ap);
};
struct mg_reporter {
    const struct mg_reporter_ops *ops;
};
void mg_reporter_set_default(mg_reporter *r);

/* Prints one message as "[LEVEL] [source] message" on the platform
 * console, in one write: the format of log_reporter, for others to share. */
void mg_reporter_print(mg_log_level level, const char *source, const char *fmt, va_list ap)
    MG_PRINTF_LIKE(3, 0);

#endif
