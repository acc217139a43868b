/*
 * fixtures.h - shared helpers for the resolver's unit tests.
 *
 * The tests never depend on the built-in catalog (its contents change with
 * the runtime): they load a small TEST CATALOG, written here as string
 * literals (fixtures.c), with
 *
 *   targets  unix, spt, virtio          arches  x86_64, aarch64
 *   libraries  mg-console 1.0.0, 1.2.0 (all targets)
 *              mg-kv 1.0.0 (unix only), 2.1.0 (all targets)
 *              mg-net 1.0.0 (all targets)
 *   console(name: string = "console")    console   mg-console >= 1.0
 *   default_console = console()          (expansion)
 *   time, default_time = time()          time
 *   log_reporter, no_reporter            reporter
 *   default_reporter = log_reporter()    (expansion)
 *   noop                                 job
 *   crunch(dir: string)                  kv_ro     mg-kv >= 1.0
 *   direct_kv_ro(dir: string)            kv_ro     unix only, mg-kv [1.0, 2.0),
 *                                                  fallback crunch(dir)
 *   generic_kv_ro(dir: string)           kv_ro     key kv_ro (configure enum
 *                                                  crunch|direct, default crunch),
 *                                                  expands to a match on it
 *   fast_kv(dir: string)                 kv_ro     mg-kv >= 2.0
 *   block_of_file(name: string)          block
 *   cache_block(block: block)            block
 *   tar_kv_ro(block: block)              kv_ro
 *   kv_rw_mem()                          kv_rw
 *   direct_kv_rw(dir: string)            kv_rw     unix only, no fallback
 *   netif(name: string = "tap0")         network   mg-net >= 1.0
 *   default_network = netif()            (expansion)
 *   ethif(network), arp(ethernet)        ethernet, arpv4
 *   direct_stack(network, ethernet, arpv4)  stackv4v6
 *   generic_stack(network)               stackv4v6 let eth = ethif(network),
 *                                                  arp4 = arp(eth) (eth shared)
 *                                                  in direct_stack(network, eth, arp4)
 *   socket_stack()                       stackv4v6 runtime key socket_backlog (int, 8)
 *   any_stack(network)                   stackv4v6 key stack (configure enum
 *                                                  socket|direct, default socket):
 *                                                  socket_stack() (network unused)
 *                                                  or generic_stack(network)
 *   http_server(stack: stackv4v6, port: int = {"key": "port"})
 *                                        http      runtime key port (int, 80)
 *
 * Documents in the tests are written with single quotes for readability;
 * fx_json() turns every ' into " (so strings in test documents never
 * contain an apostrophe).
 *
 * Everything the helpers allocate is freed by fx_fini(), which every suite
 * runs (FX_SUITE), so a failing assertion does not leak.
 */
#ifndef MGD_TESTS_GRAPH_FIXTURES_H
#define MGD_TESTS_GRAPH_FIXTURES_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>

#include "graph/catalog.h"
#include "graph/check.h"
#include "graph/errors.h"
#include "graph/resolve.h"

#define FX_NONE ((size_t)-1)

/* The test catalog, loaded by fx_init() for fx_targets (unix, the default,
 * spt and virtio; arches x86_64 and aarch64). */
extern mg_catalog *fx_cat;
extern const mg_catalog_targets fx_targets;

void fx_init(void);
void fx_fini(void);

/* Every suite loads the test catalog before each test and frees after. */
#define FX_SUITE(name) TestSuite(name, .init = fx_init, .fini = fx_fini)

/* The test catalog's files (paths "test/....json"), with ' already turned into ". */
size_t fx_catalog_file_count(void);
mg_catalog_file fx_catalog_file(size_t i);

/* ' -> " (the result is owned by the fixtures). */
char *fx_json(const char *text);
/* printf into a buffer owned by the fixtures, then ' -> ". */
char *fx_jsonf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Keeps `p` until fx_fini() (free()d then). */
void *fx_keep(void *p);

/* One resolution: the graph (NULL on errors) and the errors. */
typedef struct fx_run {
    mg_graph *g;
    mg_errors errs;
} fx_run;

/* NULL-terminated list of "name=value" build keys. */
#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_KEYS ((const char *const *)NULL)

/* An empty run owned by the fixtures (for errors of other entry points). */
fx_run *fx_new_run(void);

/* Fills options for `target` (NULL: the resolver's default) and keys. */
mg_resolve_options fx_options(const char *target, const char *const *keys);

/* Resolves a document written with single quotes (see fx_json). */
fx_run *fx_resolve_opts(const char *doc, const mg_resolve_options *opts);
fx_run *fx_resolve(const char *doc, const char *target, const char *const *keys);
/* Resolves raw bytes (no quote conversion). */
fx_run *fx_resolve_raw(const char *bytes, size_t len, const mg_resolve_options *opts);

/* Asserts success (printing the errors otherwise) and returns the graph. */
mg_graph *fx_ok_at(fx_run *r, const char *file, int line);
/* Asserts failure: NULL graph and at least one error. */
mg_errors *fx_fail_at(fx_run *r, const char *file, int line);
#define RESOLVE_OK(doc, target, keys)                                                              \
    fx_ok_at(fx_resolve((doc), (target), (keys)), __FILE__, __LINE__)
#define RESOLVE_FAIL(doc, target, keys)                                                            \
    fx_fail_at(fx_resolve((doc), (target), (keys)), __FILE__, __LINE__)
#define OK(run) fx_ok_at((run), __FILE__, __LINE__)
#define FAIL(run) fx_fail_at((run), __FILE__, __LINE__)

/* mg_errors_text(), owned by the fixtures ("(no errors)" when empty). */
const char *fx_errs_text(const mg_errors *errs);

/* First error with `code` and exactly `path` (NULL: any path). */
const mg_error *fx_find_error(const mg_errors *errs, mg_error_code code, const char *path);
/* Asserts an error with `code` whose path is one of the NULL-terminated `paths`. */
const mg_error *fx_expect_error_at(const mg_errors *errs, mg_error_code code,
                                   const char *const *paths, const char *file, int line);
/* Asserts an error with `code` whose path starts with `prefix`. */
const mg_error *fx_expect_error_prefix_at(const mg_errors *errs, mg_error_code code,
                                          const char *prefix, const char *file, int line);
/* Asserts that the message of `e` contains `needle` (printing all errors otherwise). */
void fx_expect_message_at(const mg_errors *errs, const mg_error *e, const char *needle,
                          const char *file, int line);

#define EXPECT_ERROR(errs, code, path)                                                             \
    fx_expect_error_at((errs), (code), (const char *const[]){(path), NULL}, __FILE__, __LINE__)
/* The docs leave the exact pointer open between a few equally sensible ones. */
#define EXPECT_ERROR_IN(errs, code, ...)                                                           \
    fx_expect_error_at((errs), (code), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)
#define EXPECT_ERROR_PREFIX(errs, code, prefix)                                                    \
    fx_expect_error_prefix_at((errs), (code), (prefix), __FILE__, __LINE__)
#define EXPECT_MESSAGE(errs, e, needle)                                                            \
    fx_expect_message_at((errs), (e), (needle), __FILE__, __LINE__)

/* Graph helpers. */
size_t fx_count_impl(const mg_graph *g, const char *impl);
/* Index of the first node with `impl`, or FX_NONE. */
size_t fx_find_impl(const mg_graph *g, const char *impl);
/* Asserts exactly one node with `impl` and returns its index. */
size_t fx_only_at(const mg_graph *g, const char *impl, const char *file, int line);
#define ONLY(g, impl) fx_only_at((g), (impl), __FILE__, __LINE__)
/* Index of the node with `id` (asserts it exists). */
size_t fx_id_at(const mg_graph *g, const char *id, const char *file, int line);
#define ID(g, id) fx_id_at((g), (id), __FILE__, __LINE__)
const mg_graph_arg *fx_arg(const mg_graph_node *n, const char *name);
const mg_graph_key *fx_key(const mg_graph *g, const char *name);
const mg_graph_key *fx_runtime_key(const mg_graph *g, const char *name);
const mg_graph_library *fx_library(const mg_graph *g, const char *name);
/* The text of scalar arg `name` of node `i` (asserts it exists and is not a runtime key). */
const char *fx_arg_text_at(const mg_graph *g, size_t i, const char *name, const char *file,
                           int line);
#define ARG_TEXT(g, i, name) fx_arg_text_at((g), (i), (name), __FILE__, __LINE__)

/* Asserts what docs/config.md promises of every graph: each dep comes before its node, ids
 * are impl + position, no expansion (generic_*, default_*) is left, and
 * jobs index existing nodes. */
void fx_check_graph_at(const mg_graph *g, const char *file, int line);
#define CHECK_GRAPH(g) fx_check_graph_at((g), __FILE__, __LINE__)

/* Counts non-overlapping occurrences of `needle` in `s`. */
size_t fx_count_substr(const char *s, const char *needle);

#endif
