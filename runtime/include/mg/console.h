/*
 * console.h - the console module type (MirageOS's Mirage_console): lines of
 * text to the platform's output, standard output on unix.
 *
 * A console is an opaque handle; its functions dispatch through the
 * implementation's operations table, so other consoles (a log buffer, a
 * test double) can live beside the platform one. `console(name)` is the
 * platform console: every one of them writes to the same output, the name
 * only labels it (messages, the image's device manifest).
 *
 * Writes complete before returning (the platform console never blocks for
 * long), so they need no callback. Statuses are MG_* from mg/mg.h.
 */
#ifndef MG_CONSOLE_H
#define MG_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

#include "mg/mg.h"

typedef struct mg_console mg_console;

/* Connects the platform console, labelled `name` (static storage). */
int mg_console_connect(mg_console **out, const char *name);

/* Writes `len` bytes as they are. Returns MG_OK or a status. */
int mg_console_write(mg_console *c, const void *buf, size_t len);

/* Formats like printf and writes the result in one write. Returns MG_OK,
 * MG_EINVAL (bad format) or MG_ENOMEM (a very long result). */
int mg_console_printf(mg_console *c, const char *fmt, ...) MG_PRINTF_LIKE(2, 3);
int mg_console_vprintf(mg_console *c, const char *fmt, va_list ap) MG_PRINTF_LIKE(2, 0);

/* The console's name, as given to connect. */
const char *mg_console_name(const mg_console *c);

/* For implementations: a console starts with its operations table. */
struct mg_console_ops {
    int (*write)(mg_console *c, const void *buf, size_t len);
};
struct mg_console {
    const struct mg_console_ops *ops;
    const char *name;
};

#endif
