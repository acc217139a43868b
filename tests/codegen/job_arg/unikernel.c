/*
 * functoria's test unikernel, `main "App.Make" (job @-> job) $ noop`:
 * user code that takes a job. The generated main.c starts the noop job
 * first and passes its start status (0: it started) to app_start.
 */
#include "mg/mg.h"

int app_start(int noop);

int app_start(int noop)
{
    mg_printf("app_start: the noop job started with status %d\n", noop);
    return noop;
}
