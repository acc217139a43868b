/*
 * keys.h - key types and values.
 *
 * Keys are the knobs of a unikernel (docs/config.md, "Keys"): configure keys pick
 * the graph and are fixed in the image, runtime keys are parsed from the
 * image's command line. This module knows the key types and how to read,
 * check and print their values; it knows nothing about documents.
 */
#ifndef MG_GRAPH_KEYS_H
#define MG_GRAPH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum mg_key_type {
    MG_KEY_BOOL,
    MG_KEY_INT,
    MG_KEY_STRING,
    MG_KEY_ENUM,
    MG_KEY_IPV4,
    MG_KEY_IPV4_PREFIX,
} mg_key_type;

typedef enum mg_key_stage { MG_STAGE_CONFIGURE, MG_STAGE_RUNTIME } mg_key_stage;

/* A checked value. `text` is the canonical spelling ("true", "42",
 * "10.0.0.2/24"); the typed fields are set for their type. */
typedef struct mg_key_value {
    mg_key_type type;
    bool b;
    int64_t i;
    uint32_t ipv4;      /* host order: a.b.c.d is a<<24 | b<<16 | c<<8 | d */
    uint8_t prefix_len; /* ipv4_prefix only */
    const char *text;   /* canonical text; owned by whoever made the value */
} mg_key_value;

/* "bool", "int", ...; NULL for an unknown name in mg_key_type_parse. */
const char *mg_key_type_name(mg_key_type type);
bool mg_key_type_parse(const char *name, mg_key_type *out);
const char *mg_key_stage_name(mg_key_stage stage);

/*
 * Reads a value of `type` from text (the `--key k=v` form): bools are
 * "true"/"false", ints decimal int64, enums must be one of `values`.
 * On failure returns false and writes a reason into `why` (for the
 * bad_key_value message). The canonical text is written into `canon`
 * (at least 64 bytes, or the input length + 1 for strings and enums;
 * callers pass a buffer of strlen(text) + 64).
 */
bool mg_key_value_from_text(mg_key_type type, const char *const *values, size_t n_values,
                            const char *text, mg_key_value *out, char *canon, size_t canon_size,
                            mg_err *why);

/* Whether two values of the same type are equal. */
bool mg_key_value_equal(const mg_key_value *a, const mg_key_value *b);

#endif
