/*
 * check.h - loading a catalog: parsing it, then checking it as a whole.
 *
 * A catalog that loads can never make a resolution fail for reasons of its
 * own, so every entry is checked at load: names are unique across files,
 * the targets an entry or a library names are the registry's, expansions,
 * fallbacks and lets are well-typed (by the rules documents follow, which
 * resolve.c owns: mg_check_catalog_types) and no entries expand into each
 * other in a cycle.
 *
 * The files depend on each other in one direction: catalog.c (the data
 * and its parser) <- resolve.c (the type checker and the resolver) <-
 * check.c (this), so that the catalog's parser needs nothing of the
 * resolver.
 */
#ifndef MG_GRAPH_CHECK_H
#define MG_GRAPH_CHECK_H

#include "graph/catalog.h"

/* Parses (mg_catalog_parse) and checks (mg_check_catalog) a catalog from its
 * files; NULL with `errs` filled (paths are "FILE#/pointer") on any problem.
 * The caller owns the result. */
mg_catalog *mg_catalog_load(const mg_catalog_file *files, size_t n_files,
                            const mg_catalog_targets *targets, mg_errors *errs);

/* The checks of a parsed catalog, listed above; false after adding errors. */
bool mg_check_catalog(mg_catalog *cat, mg_errors *errs);

#endif
