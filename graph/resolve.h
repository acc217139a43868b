/*
 * resolve.h - config document + target + keys -> resolved device graph.
 *
 * This is the functoria of mgd (docs/resolver.md). It is handed the
 * document's bytes and a catalog and does no I/O of its own (paths can be
 * checked through an optional callback). Resolution runs in two stages:
 *
 *  1. check: the whole document is parsed strictly and type-checked, both
 *     branches of every `if`/`match` included, so every mistake is found
 *     whatever the key values;
 *  2. evaluate: for one target, arch and set of key values, choices are
 *     made, generic entries expanded, instances created (named devices and
 *     catalog constants once, each inline call afresh) in initialisation
 *     order, target support and library versions checked.
 *
 * Every recoverable error is reported with its code and JSON pointer.
 *
 * A graph points into the catalog it was resolved with (node->entry), so it
 * must not outlive it. The catalog is only read, so one catalog can serve
 * resolutions on several threads at once. Checking and evaluation recurse
 * along chains of named devices, at most MG_MAX_DEVICE_CHAIN deep: 1 MiB
 * of stack is plenty for an optimised build, 4 MiB for a sanitizer build.
 */
#ifndef MG_GRAPH_RESOLVE_H
#define MG_GRAPH_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "graph/catalog.h"
#include "graph/errors.h"
#include "graph/keys.h"

typedef struct mg_limits {
    size_t max_bytes;   /* document size; default 1 MiB */
    int max_depth;      /* JSON nesting; default 64 */
    size_t max_devices; /* named devices + inline calls + user code; default 1000 */
} mg_limits;

#define MG_LIMITS_DEFAULT_BYTES (1u << 20)
#define MG_LIMITS_DEFAULT_DEPTH 64
#define MG_LIMITS_DEFAULT_DEVICES 1000
/* How deep named devices may refer to one another (a -> b -> c ...). */
#define MG_MAX_DEVICE_CHAIN 128

/* A configure key value given with the build (`--key k=v`). */
typedef struct mg_key_setting {
    const char *name;
    const char *value;
} mg_key_setting;

/*
 * Checks a source path of the document (already known to be relative and
 * free of ".."). Returns NULL when fine, else a message written into `buf`
 * (e.g. "no such file", "symlink leaves the source root").
 */
typedef const char *(*mg_path_check_fn)(void *ctx, const char *path, char *buf, size_t size);

typedef struct mg_resolve_options {
    const char *target; /* default: the catalog's default target */
    const char *arch;   /* default "x86_64" */
    const mg_key_setting *keys;
    size_t n_keys;
    mg_limits limits; /* zero fields take the defaults */
    mg_path_check_fn check_path;
    void *check_path_ctx;
} mg_resolve_options;

/* A scalar argument of a node: a value fixed at configure time, or a
 * runtime key read at boot. */
typedef struct mg_graph_arg {
    const char *name;
    mg_key_type type;
    bool runtime_key;
    mg_key_value value; /* !runtime_key */
    const char *key;    /* runtime_key */
} mg_graph_arg;

typedef struct mg_graph_node {
    const char *id;   /* impl name + position: "console0" */
    const char *impl; /* concrete catalog entry, or "main" for user code */
    const char *type; /* module type of the instance ("job" for user code) */
    const char *from; /* JSON pointer of the expression, or the catalog constant's name */
    const mg_catalog_entry *entry; /* NULL for user code */
    const mg_user_code *code;      /* user code only */
    size_t *deps;                  /* indexes into nodes, in parameter order */
    size_t n_deps;
    mg_graph_arg *args; /* scalar args in parameter order */
    size_t n_args;
} mg_graph_node;

typedef struct mg_graph_key {
    const char *name;
    mg_key_stage stage;
    mg_key_type type;
    const char *doc;
    const char **values; /* enum */
    size_t n_values;
    bool has_value;     /* configure: always; runtime: has a default */
    mg_key_value value; /* configure: the value used; runtime: the default */
} mg_graph_key;

typedef struct mg_graph_library {
    const char *name;
    const char *version;
} mg_graph_library;

typedef struct mg_graph {
    mg_arena arena;
    const char *name, *target, *arch;
    mg_graph_key *keys; /* configure keys: target, arch, then by name */
    size_t n_keys;
    mg_graph_key *runtime_keys; /* by name */
    size_t n_runtime_keys;
    mg_graph_node *nodes; /* initialisation order: deps come first */
    size_t n_nodes;
    size_t *jobs; /* node indexes, in the order of the document's jobs */
    size_t n_jobs;
    mg_graph_library *libraries; /* by name */
    size_t n_libraries;
    const char **sources; /* user sources, first-seen order, no repeats */
    size_t n_sources;
    /* licence notices the image carries: the `notices` of its catalog
     * entries, as paths of the runtime tree ("runtime/tcpip/lwip/COPYING"),
     * first-seen order, no repeats */
    const char **notices;
    size_t n_notices;
    struct cJSON *root; /* the parsed document, which names and strings point into */
} mg_graph;

/* Resolves a document. Returns NULL when `errs` gained any error. */
mg_graph *mg_resolve(const mg_catalog *cat, const char *bytes, size_t len,
                     const mg_resolve_options *opts, mg_errors *errs);

/* Stage 1 only: whether the document is valid for some target and keys
 * (what the daemon checks before storing a config version). */
bool mg_config_check(const mg_catalog *cat, const char *bytes, size_t len, const mg_limits *limits,
                     mg_errors *errs);

void mg_graph_free(mg_graph *g);

/* Index of a node by id, or (size_t)-1. */
size_t mg_graph_find(const mg_graph *g, const char *id);

/* For graph/check.c: type-checks the expansions, fallbacks and lets of
 * every entry of a parsed catalog with the rules of documents, and the
 * keys its entries declare and their params' defaults name. */
bool mg_check_catalog_types(mg_catalog *cat, mg_errors *errs);

#endif
