/*
 * internal.h - what the files of service/ share (not for other modules:
 * their interface is service.h).
 */
#ifndef MG_SERVICE_INTERNAL_H
#define MG_SERVICE_INTERNAL_H

#include "service/service.h"

/* A store result that is not success, as the service reports it:
 * MG_E_NOT_FOUND "no <what>", MG_E_CONFLICT with the store's message, or
 * MG_E_IO "database: ...". Returns -1. */
int mg_service_store_failed(mg_service_err *e, int rc, const char *what, const char *store_msg);

/* The config document's diagnostics: MG_E_INVALID with them in e->config
 * (taken over; `errs` is left empty). Returns -1. */
int mg_service_config_failed(mg_service_err *e, mg_errors *errs);

#endif
