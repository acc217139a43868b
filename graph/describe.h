/*
 * describe.h - printing a resolved graph and resolver errors.
 *
 * The JSON form is docs/config.md's "Resolution output" with fields in
 * that order and two-space indentation; the same graph always prints the
 * same bytes. The DOT form draws one node per device (id and impl) and one
 * edge per dependency, from the device to what it depends on.
 */
#ifndef MG_GRAPH_DESCRIBE_H
#define MG_GRAPH_DESCRIBE_H

#include "graph/errors.h"
#include "graph/resolve.h"

/* Each returns malloc'd text ending in a newline; the caller frees it. */
char *mg_describe_json(const mg_graph *g);
char *mg_describe_dot(const mg_graph *g);
/* {"errors": [{"code", "path", "message"}, ...]} */
char *mg_errors_json(const mg_errors *errs);
/* One line per error: "path: code: message" (for people, on stderr). */
char *mg_errors_text(const mg_errors *errs);

#endif
