/*
 * exit.c - the end of a unix image: exit(3), with the status as it is.
 */
#include <stdlib.h>

#include "abi/platform.h"

_Noreturn void mg_platform_exit(int status)
{
    /* The console buffers nothing (console.c); exit() still runs the C
     * library's handlers, for user code that used stdio after all. */
    exit(status);
}
