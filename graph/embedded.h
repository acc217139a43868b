/*
 * embedded.h - files compiled into mgd by cmake/embed.cmake (the catalog,
 * the runtime's sources, the target descriptions, the config schema, the
 * dashboard): each set is an array of these and its count, named by the
 * set's symbol. The generated source defines the same layout on its own,
 * so that it needs no include path.
 */
#ifndef MG_GRAPH_EMBEDDED_H
#define MG_GRAPH_EMBEDDED_H

#include <stddef.h>

typedef struct {
    const char *path; /* relative to the project's root, e.g. "web/app.js" */
    const char *data; /* the bytes, followed by a NUL */
    size_t len;
} mg_embedded_file;

/* Declares the set `sym` (`sym[]` and `sym_count`). */
#define MG_EMBEDDED_FILES(sym)                                                                     \
    extern const mg_embedded_file sym[];                                                           \
    extern const size_t sym##_count

#endif
