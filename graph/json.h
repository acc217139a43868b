/*
 * json.h - strict JSON reading for documents and catalog files.
 *
 * cJSON parses; this module first checks what cJSON does not: the size
 * and nesting limits (so a hostile document cannot recurse deep inside the
 * parser), valid UTF-8 and no NUL escapes, and turns cJSON's error position
 * into a line and column a user can find.
 */
#ifndef MG_GRAPH_JSON_H
#define MG_GRAPH_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "graph/errors.h"

/* Returns the parsed tree or NULL after adding a parse_error or limit error
 * with path `path`. */
cJSON *mg_json_parse(const char *bytes, size_t len, size_t max_bytes, int max_depth,
                     const char *path, mg_errors *errs);

#endif
