/*
 * catalog.h - the device catalog: what a config document can name.
 *
 * The catalog is data. Each runtime component declares its entries in a
 * `catalog.json` next to its code under runtime/, and the build embeds all
 * of them into mgd (see builtin_catalog.h). The targets and arches are not
 * the catalog's: they come from the target registry (targets/), which the
 * loader is given (mg_catalog_targets). A catalog file is
 *
 *   { "libraries": [ { "name": "mg-console", "version": "1.0.0",
 *                      "targets": ["unix"] } ],   (libraries this component
 *                                                  provides; "targets" optional)
 *     "devices": [ ENTRY, ... ] }
 *
 * and an ENTRY is either concrete (it has runtime code):
 *
 *   { "name": "console", "type": "console", "doc": "...",
 *     "params": [ { "name": "name", "type": "string", "default": "console",
 *                   "doc": "..." } ],
 *     "keys": { "logs": KEY_DECLARATION },    (keys this entry adds)
 *     "libraries": [ { "name": "mg-console", "min": "1.0" } ],
 *     "targets": ["unix"],                    (optional: the targets whose runtime
 *                                              implements it; without it, every one)
 *     "fallback": EXPR,                       (optional: what it becomes elsewhere)
 *     "connect": "mg_console_connect", "header": "mg/console.h",
 *     "sources": ["console.c"],               (relative to the catalog file's folder)
 *     "notices": ["lwip/COPYING"],            (optional: licence texts of third-party
 *                                              sources, carried by every image using it)
 *     "embed": "dir",                         (optional: a string param naming a
 *                                              project directory the build embeds)
 *     "attach": { "kind": "block", "param": "name" } }
 *                                             (optional: the platform device it
 *                                              acquires, listed in the image's note)
 *
 * or an expansion (the generic_* and default_* entries), which becomes
 * another expression once its parameters are bound:
 *
 *   { "name": "generic_kv_ro", "type": "kv_ro", "params": [...], "keys": {...},
 *     "let": { "eth": EXPR, ... },            (optional shared sub-instances)
 *     "expand": EXPR }
 *
 * EXPR is the impl expression language of config documents, where
 * {"param": "p"} stands for a parameter or a `let` binding of the entry.
 * A param's "type" is a module type other than job (an impl argument:
 * devices connect before jobs start, so only user code takes a job) or a key type
 * (bool, int, string, ipv4, ipv4_prefix: a scalar); a scalar default may
 * be {"key": "k"} to bind it to a key. A type that names both (ipv4: an
 * address, or the IPv4 layer) is the scalar unless the param also says
 * "device": true. Connect functions follow
 * docs/generated-code.md.
 */
#ifndef MG_GRAPH_CATALOG_H
#define MG_GRAPH_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "graph/errors.h"
#include "graph/expr.h"
#include "graph/types.h"
#include "graph/version.h"

/* Connect functions take their params as C arguments: keep them few. */
#define MG_CATALOG_MAX_PARAMS 32

typedef struct mg_catalog_param {
    const char *name;
    const char *doc;
    bool is_impl;
    mg_base_type impl_type;    /* is_impl */
    mg_key_type scalar_type;   /* !is_impl */
    const cJSON *default_json; /* NULL: required */
    mg_call_arg dflt;          /* parsed default (MG_ARG_SCALAR or MG_ARG_KEY) */
} mg_catalog_param;

typedef struct mg_catalog_entry {
    const char *name;
    const char *doc;
    const char *file; /* the catalog file that declared it */
    const char *path; /* "FILE#/devices/N": where, for messages */
    size_t order;     /* position across all files, for stable sorting */
    mg_base_type type;
    mg_catalog_param *params;
    size_t n_params;
    mg_key_decl *keys;
    size_t n_keys;
    mg_library_req *libraries;
    size_t n_libraries;
    /* concrete entries */
    bool concrete;
    const char **targets;
    size_t n_targets;
    mg_expr *fallback;
    const char *connect, *header;
    const char **sources;
    size_t n_sources;
    /* Licence notices of third-party code among the sources (lwIP's
     * COPYING), relative to the catalog file's folder like the sources:
     * every image that uses the entry carries their text. */
    const char **notices;
    size_t n_notices;
    /* The string param whose value names a directory of the project that the
     * build embeds into the image (crunch), or NULL. */
    const char *embed;
    /* The platform device the entry acquires at connect ("block" or "net")
     * and the string param that names it, or NULL: images list these in
     * their manifest. */
    const char *attach_kind, *attach_param;
    /* expansions */
    const char **let_names;
    mg_expr **let_exprs;
    size_t n_lets;
    mg_expr *expand;
} mg_catalog_entry;

typedef struct mg_catalog_library {
    const char *name;
    const char *version_text;
    mg_version version;
    const char **targets;
    size_t n_targets;
} mg_catalog_library;

/* The targets a catalog is for, from the target registry (targets/): graph/
 * does not read the registry itself, its loader hands the names over
 * (targets/builtin_catalog.c; the tests their own). */
typedef struct mg_catalog_targets {
    const char *const *names;
    size_t n_names;
    const char *default_name;  /* one of names: a resolution without a target gets it */
    const char *const *arches; /* every arch of any target */
    size_t n_arches;
} mg_catalog_targets;

typedef struct mg_catalog {
    mg_arena arena;
    mg_type_table types;
    mg_catalog_entry *entries; /* sorted by name */
    size_t n_entries;
    mg_catalog_library *libraries;
    size_t n_libraries;
    const char **targets; /* the registry's, default first */
    size_t n_targets;
    const char *default_target;
    const char **arches;
    size_t n_arches;
    cJSON **docs; /* parsed files, kept alive for the expressions that point into them */
    size_t n_docs;
} mg_catalog;

typedef struct mg_catalog_file {
    const char *path; /* for messages */
    const char *text;
    size_t len;
} mg_catalog_file;

/*
 * Parses a catalog from its files for `targets`: the schema of files,
 * entries, params and expressions, and the types entries use. Returns NULL
 * and fills `errs` (paths are "FILE#/pointer") on any problem. The result
 * is not checked yet: mg_catalog_load (graph/check.h) parses and checks.
 */
mg_catalog *mg_catalog_parse(const mg_catalog_file *files, size_t n_files,
                             const mg_catalog_targets *targets, mg_errors *errs);
void mg_catalog_free(mg_catalog *cat);

const mg_catalog_entry *mg_catalog_find(const mg_catalog *cat, const char *name);
const mg_catalog_param *mg_catalog_entry_param(const mg_catalog_entry *e, const char *name);
bool mg_catalog_entry_supports(const mg_catalog_entry *e, const char *target);
bool mg_catalog_has_target(const mg_catalog *cat, const char *target);
bool mg_catalog_has_arch(const mg_catalog *cat, const char *arch);

#endif
