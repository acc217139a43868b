/*
 * codegen.h - the C code generated for a resolved graph.
 *
 * `main.c` connects every device once, in the graph's order, stopping with
 * a message that names the device and its config path if a connect fails;
 * parses the runtime keys from the command line with typed validation and
 * `--help`; calls each job's start function; then runs the event loop.
 * `mg_keys.h` gives the user code typed accessors for the runtime keys its
 * `runtime_keys` lists. The runtime interface the code relies on is in
 * docs/generated-code.md.
 */
#ifndef MG_GRAPH_CODEGEN_H
#define MG_GRAPH_CODEGEN_H

#include <stddef.h>

#include "graph/resolve.h"

#define MG_CODEGEN_N_FILES 2
/* Names of the generated files, in the order of describe's "files". */
extern const char *const mg_codegen_files[MG_CODEGEN_N_FILES];

/* malloc'd text of each file; the caller frees it. */
char *mg_codegen_main_c(const mg_graph *g);
char *mg_codegen_keys_h(const mg_graph *g);

#endif
