/*
 * aborts: an image that aborts at once, for the build tests to check that
 * an abort prints "abort: MSG" and ends with MG_EXIT_ABORT (70) on every
 * target (runtime/bindings/abort.c).
 */
#include "abi/platform.h"
#include "mg/console.h"

int aborts_start(mg_console *console);

int aborts_start(mg_console *console)
{
    mg_console_printf(console, "about to abort\n");
    mg_platform_abort("on purpose");
}
