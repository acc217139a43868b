/*
 * input.h - the rules of what clients send: JSON request bodies and their
 * fields, build keys, project names and ids, and the canonical forms the
 * store keeps (config documents, inline source trees).
 *
 * These are domain rules, not HTTP: the API (api/) applies them to
 * requests, the service (service.h) to what it stores, and any other
 * front end would apply the same. A pure library (mgd_service_input: base/
 * and cJSON only, no store, no resolver), unit-tested alone in
 * tests/service/test_input.c. Failures are mg_err (base/err.h), always
 * MG_E_INVALID but for memory (MG_E_NOMEM), with a message that names the
 * field at fault.
 *
 * Request objects are checked against a list of fields before anything
 * reads them: an unknown member, a member given twice, a missing required
 * member or one of the wrong JSON type is refused with a message that
 * names the field (and the type it must have), so a client can fix its request from
 * the message alone. After the check, handlers read members without
 * further type tests.
 *
 * Build keys ("keys": {"name": value}) accept strings, numbers and bools
 * and become the text form of `--key name=value`.
 *
 * Inline sources are kept canonically: the object with its members sorted
 * by path (strcmp order), printed by cJSON_PrintUnformatted; the tree's
 * sha256 is that of exactly these bytes, which is also the name of the
 * snapshot blob the queue stores.
 */
#ifndef MG_SERVICE_INPUT_H
#define MG_SERVICE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "base/sha256.h"

/* Ids are decimal integers 1..2^53 (what a JSON number holds exactly). */
#define MG_ID_MAX ((int64_t)1 << 53)

/* An id as docs/api.md has them; false for anything else. */
bool mg_parse_id(const char *s, int64_t *out);
/* Project names match ^[a-z0-9][a-z0-9_.-]{0,62}$ and are not all digits
 * (so "42" is always an id). */
bool mg_project_name_valid(const char *s);

/* JSON types a field may have (bits). */
enum {
    MG_JT_STRING = 1 << 0,
    MG_JT_INTEGER = 1 << 1, /* a number with an integral value */
    MG_JT_NUMBER = 1 << 2,
    MG_JT_BOOL = 1 << 3,
    MG_JT_OBJECT = 1 << 4,
    MG_JT_ARRAY = 1 << 5,
    MG_JT_NULL = 1 << 6,
};

typedef struct mg_field {
    const char *name;
    unsigned types;
    bool required;
} mg_field;

/* Parses a request body that must be a JSON object. An empty body (only
 * whitespace) gives *out = NULL and 0. -1 (MG_E_INVALID) for bad JSON,
 * invalid UTF-8, a NUL byte or an escaped one (\u0000), or a value that
 * is not an object. The body must have a NUL byte after its `len` bytes. */
int mg_json_parse_body(const char *body, size_t len, cJSON **out, mg_err *e);

/* Checks `obj` (an object) against the fields. `where` prefixes field
 * names in messages ("repo." for a nested object; "" at the top). */
int mg_json_check_fields(const cJSON *obj, const mg_field *fields, size_t n, const char *where,
                         mg_err *e);

/* "string", "integer", "string or null", ... */
void mg_json_types_text(unsigned types, char *buf, size_t size);

/* One build key as given: name and value as text (the resolver's
 * mg_key_setting, which the service makes of it: this library knows no
 * resolver). */
typedef struct mg_key_pair {
    const char *name;
    const char *value;
} mg_key_pair;

/* Build keys from a JSON object of strings, numbers and bools. */
typedef struct mg_keys {
    mg_key_pair *items;
    size_t n;
    char *text; /* the values' text, NUL-separated */
} mg_keys;

/* The canonical text of a config document, which names and stores it:
 * members in document order, no spaces, strings escaped as JSON requires,
 * integers up to 2^53 in full, other numbers with 17 significant digits
 * (so the text reads back to the same values). NULL on a number that is
 * not finite (MG_E_INVALID), or without memory (MG_E_NOMEM). */
char *mg_json_canonical(const cJSON *v, mg_err *e);

/* The most keys a request may set (each is checked against the others). */
#define MG_KEYS_MAX 256

int mg_keys_from_json(const cJSON *obj, mg_keys *out, mg_err *e);
/* From "NAME=VALUE" texts (the graph endpoint's repeated key= parameters). */
int mg_keys_from_pairs(const char *const *pairs, size_t n, mg_keys *out, mg_err *e);
void mg_keys_free(mg_keys *k);

/* The canonical form of an inline tree (members are reordered in place).
 * *json is malloc'd; -1 when out of memory. */
int mg_sources_canonical(cJSON *sources, char **json, char sha256[MG_SHA256_HEX_SIZE],
                         int64_t *files, int64_t *bytes);

#endif
