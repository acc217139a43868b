/*
 * builtin_catalog.h - the catalog compiled into mgd.
 *
 * The build embeds every runtime/<component>/catalog.json; this loads them
 * for the targets and arches of the target registry (targets/), the
 * default target first.
 * A catalog that does not load is a bug of the build, caught by the tests,
 * so the error is returned for the caller to print.
 */
#ifndef MG_TARGETS_BUILTIN_CATALOG_H
#define MG_TARGETS_BUILTIN_CATALOG_H

#include "graph/catalog.h"

/* Loads the embedded catalog; NULL with `errs` filled if it is broken.
 * The caller owns the result. */
mg_catalog *mg_builtin_catalog_load(mg_errors *errs);

/* The embedded files, for `GET /devices`-style listings and tests. */
size_t mg_builtin_catalog_file_count(void);
mg_catalog_file mg_builtin_catalog_file(size_t i);

#endif
