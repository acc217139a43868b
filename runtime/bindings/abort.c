/*
 * abort.c - mg_platform_abort, the one abort path of every target (as
 * Solo5's bindings/abort.c): the message on the console, then the image
 * ends through the target's own mg_platform_exit with MG_EXIT_ABORT, so
 * that an abort looks the same and ends with the same status on unix, spt
 * and virtio.
 *
 * Shared by the bindings (the files at the top of runtime/bindings/ are
 * compiled for every target): it may use only the platform interface and strlen, which both
 * the host's C library and runtime/libc have.
 */
#include <string.h>

#include "abi/platform.h"

_Noreturn void mg_platform_abort(const char *msg)
{
    static const char head[] = "abort: ";
    mg_platform_console_write(head, sizeof head - 1);
    mg_platform_console_write(msg, strlen(msg));
    mg_platform_console_write("\n", 1);
    mg_platform_exit(MG_EXIT_ABORT);
}
