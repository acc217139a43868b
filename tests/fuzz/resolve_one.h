/*
 * resolve_one.h - one fuzz iteration over the resolver, shared by the
 * libFuzzer target and the deterministic mutation test.
 *
 * Resolves the bytes with the built-in catalog and checks the resolver's
 * promises on whatever it was given: a NULL graph always comes with at
 * least one error, each error has a known code; a graph prints JSON that
 * cJSON reads back, DOT, and generated code, and resolving the same bytes
 * again prints the same JSON. Returns 0, or aborts with a message.
 */
#ifndef MG_TESTS_FUZZ_RESOLVE_ONE_H
#define MG_TESTS_FUZZ_RESOLVE_ONE_H

#include <stddef.h>

#include "graph/catalog.h"

/* Also tries a few key settings and targets when `variants` is set. */
void mg_fuzz_resolve_one(const mg_catalog *cat, const char *bytes, size_t len, int variants);

#endif
