/*
 * runtime_src.h - the runtime's C sources as mgd carries them.
 *
 * The build embeds every file under runtime/ into mgd, so a mgd binary can
 * compile its runtime for any target without a source checkout, and what
 * it compiles is exactly what it was built with. The runtime version is
 * the sha256 of those files (names and contents): it is part of every
 * cache key and of the daemon's input hash.
 *
 * To compile them, the files are written once into the cache under
 * runtime/<version>/ (in a temporary directory renamed into place, so a
 * crash never leaves a partial tree), and shared by every build.
 */
#ifndef MG_TOOLCHAIN_RUNTIME_SRC_H
#define MG_TOOLCHAIN_RUNTIME_SRC_H

#include <stddef.h>

#include "graph/catalog.h"
#include "graph/resolve.h"
#include "toolchain/cache.h"
#include "toolchain/target.h"

/* The runtime version: 64 hex digits, computed once. */
const char *mg_runtime_version(void);

/* Makes sure the runtime's sources are in the cache; returns the malloc'd
 * path of the tree (containing runtime/...), or NULL with a message. */
char *mg_runtime_materialize(mg_cache *c, mg_err *err);

/* The embedded runtime file at `path` ("runtime/tcpip/lwip/COPYING"):
 * its bytes (NUL-terminated) with the length in *len, or NULL. */
const char *mg_runtime_file(const char *path, size_t *len);

/* Whether this mgd carries every source and notice of the concrete entry
 * `e` (an entry of the direct network stack needs lwIP's, which a build
 * of mgd may lack). False with the reason in *why. */
bool mg_runtime_entry_available(const mg_catalog_entry *e, mg_err *why);

/* The runtime sources to compile for a target and arch, relative to the
 * tree (e.g. "runtime/console/console.c"), sorted and without repeats:
 * the core, the bindings (the shared ones and the target's own,
 * runtime/bindings/<platform>/, its top level and the subfolders the
 * arch's "bindings" names), and the sources of the concrete catalog
 * entries the graph uses (the resolver checked that they claim the
 * target). Returns a malloc'd NULL-terminated array
 * whose strings live in the embedded data (free only the array), or NULL
 * with a message when an entry lists a file mgd does not carry. */
const char **mg_runtime_sources(const mg_graph *g, const mg_target *t, const mg_target_arch *arch,
                                size_t *n, mg_err *err);

/* The runtime source `k` of entry `e` as a path of the tree
 * ("runtime/random/random.c" for tcpip's "../random/random.c"); malloc'd. */
char *mg_runtime_entry_source(const mg_catalog_entry *e, size_t k);

/* The name of a runtime source's object inside libmgrt.a: its path below
 * runtime/ with '/' as '-' and .o for .c or .S ("console-console.o" for
 * runtime/console/console.c); ar keeps members by base name, so these must
 * differ for every source. malloc'd. */
char *mg_runtime_member_name(const char *source);

#endif
