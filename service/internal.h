/*
 * internal.h - what the files of service/ share (not for other modules:
 * their interface is service.h).
 */
#ifndef MG_SERVICE_INTERNAL_H
#define MG_SERVICE_INTERNAL_H

#include "service/service.h"

/* The config document's diagnostics: MG_E_INVALID with them in e->config
 * (taken over; `errs` is left empty). Returns -1. */
int mg_service_config_failed(mg_service_err *e, mg_errors *errs);

#endif
