/*
 * service.c - the service's options and its error type.
 */
#include <string.h>

#include "service/internal.h"

void mg_service_init(mg_service *svc, const mg_service_options *o)
{
    svc->o = *o;
    if (!svc->o.max_sources) svc->o.max_sources = 1u << 20;
    if (svc->o.max_queued <= 0) svc->o.max_queued = 1000;
}

void mg_service_err_free(mg_service_err *e)
{
    mg_errors_free(&e->config);
    memset(e, 0, sizeof *e);
}

int mg_service_config_failed(mg_service_err *e, mg_errors *errs)
{
    mg_errors_free(&e->config);
    e->config = *errs;
    memset(errs, 0, sizeof *errs);
    e->config_invalid = true;
    return mg_err_set(&e->err, MG_E_INVALID, "the config has %zu error%s", e->config.len,
                      e->config.len == 1 ? "" : "s");
}
