/*
 * check.h - the type checker, shared by catalog loading and resolution.
 *
 * Internal to graph/: catalog.c checks every entry's expansion with the
 * same rules resolve.c applies to documents, so a catalog that loads can
 * never make resolution fail for reasons of its own.
 */
#ifndef MG_GRAPH_CHECK_H
#define MG_GRAPH_CHECK_H

#include "graph/catalog.h"

/* Type-checks expansions, fallbacks and lets of every entry; also rejects
 * entries whose expansions refer to each other in a cycle. */
bool mg_check_catalog(mg_catalog *cat, mg_errors *errs);

#endif
