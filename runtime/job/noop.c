/*
 * noop.c - the `noop` job (mg/job.h): starts nothing and succeeds, so the
 * image exits 0 once its devices are connected and the loop is idle.
 */
#include "mg/job.h"

int mg_noop_connect(void)
{
    return MG_OK;
}
