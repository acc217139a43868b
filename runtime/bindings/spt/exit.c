/*
 * exit.c - the end of an spt image: exit_group, with the status as it is.
 */
#include "spt.h"

_Noreturn void mg_platform_exit(int status)
{
    for (;;) mg_spt_sys3(SYS_EXIT_GROUP, status, 0, 0);
}
