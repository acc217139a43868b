#include "fixtures.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/describe.h"

/* ------------------------------------------------------------------ */
/* The test catalog (single quotes; see fixtures.h for an overview).   */

/* What the target registry would hand the loader; without "targets", an
 * entry or a library is there on all of these. */
static const char *const fx_target_names[] = {"unix", "spt", "virtio"};
static const char *const fx_arch_names[] = {"x86_64", "aarch64"};
const mg_catalog_targets fx_targets = {fx_target_names, 3, "unix", fx_arch_names, 2};

static const char cat_top[] = "{ 'devices': [] }\n";

static const char cat_console[] =
    "{ 'libraries': [\n"
    "    { 'name': 'mg-console', 'version': '1.0.0' },\n"
    "    { 'name': 'mg-console', 'version': '1.2.0' } ],\n"
    "  'devices': [\n"
    "    { 'name': 'console', 'type': 'console', 'doc': 'A console on the platform output.',\n"
    "      'params': [ { 'name': 'name', 'type': 'string', 'default': 'console',\n"
    "                    'doc': 'Name of the console.' } ],\n"
    "      'libraries': [ { 'name': 'mg-console', 'min': '1.0' } ],\n"
    "      'connect': 'mg_console_connect', 'header': 'mg/console.h',\n"
    "      'sources': ['console.c'] },\n"
    "    { 'name': 'default_console', 'type': 'console', 'doc': 'The default console.',\n"
    "      'params': [],\n"
    "      'expand': { 'device': 'console', 'args': {} } },\n"
    "    { 'name': 'time', 'type': 'time', 'doc': 'Timers and sleeps.', 'params': [],\n"
    "      'connect': 'mg_time_connect', 'header': 'mg/time.h', 'sources': ['time.c'] },\n"
    "    { 'name': 'default_time', 'type': 'time', 'doc': 'The default time source.',\n"
    "      'params': [],\n"
    "      'expand': { 'device': 'time', 'args': {} } },\n"
    "    { 'name': 'log_reporter', 'type': 'reporter', 'doc': 'Logs with levels.', 'params': [],\n"
    "      'connect': 'mg_log_connect', 'header': 'mg/log.h', 'sources': ['log.c'] },\n"
    "    { 'name': 'no_reporter', 'type': 'reporter', 'doc': 'Drops logs.', 'params': [],\n"
    "      'connect': 'mg_nolog_connect', 'header': 'mg/log.h', 'sources': ['nolog.c'] },\n"
    "    { 'name': 'default_reporter', 'type': 'reporter', 'doc': 'The default reporter.',\n"
    "      'params': [],\n"
    "      'expand': { 'device': 'log_reporter', 'args': {} } },\n"
    "    { 'name': 'noop', 'type': 'job', 'doc': 'Does nothing.', 'params': [],\n"
    "      'connect': 'mg_noop_connect', 'header': 'mg/noop.h', 'sources': ['noop.c'] } ] }\n";

static const char cat_kv[] =
    "{ 'libraries': [\n"
    "    { 'name': 'mg-kv', 'version': '1.0.0', 'targets': ['unix'] },\n"
    "    { 'name': 'mg-kv', 'version': '2.1.0' } ],\n"
    "  'devices': [\n"
    "    { 'name': 'crunch', 'type': 'kv_ro', 'doc': 'Files embedded in the image.',\n"
    "      'params': [ { 'name': 'dir', 'type': 'string', 'doc': 'Directory to embed.' } ],\n"
    "      'libraries': [ { 'name': 'mg-kv', 'min': '1.0' } ],\n"
    "      'connect': 'mg_crunch_connect', 'header': 'mg/kv.h', 'sources': ['crunch.c'] },\n"
    "    { 'name': 'direct_kv_ro', 'type': 'kv_ro', 'doc': 'A host directory.',\n"
    "      'params': [ { 'name': 'dir', 'type': 'string', 'doc': 'Host directory.' } ],\n"
    "      'libraries': [ { 'name': 'mg-kv', 'min': '1.0', 'max': '2.0' } ],\n"
    "      'targets': ['unix'],\n"
    "      'fallback': { 'device': 'crunch', 'args': { 'dir': { 'param': 'dir' } } },\n"
    "      'connect': 'mg_direct_kv_ro_connect', 'header': 'mg/kv.h', 'sources': ['direct.c'] },\n"
    "    { 'name': 'generic_kv_ro', 'type': 'kv_ro', 'doc': 'crunch or direct_kv_ro.',\n"
    "      'params': [ { 'name': 'dir', 'type': 'string', 'doc': 'Directory.' } ],\n"
    "      'keys': { 'kv_ro': { 'stage': 'configure', 'type': 'enum',\n"
    "                           'values': ['crunch', 'direct'], 'default': 'crunch',\n"
    "                           'doc': 'How to read the directory.' } },\n"
    "      'expand': { 'match': 'kv_ro', 'cases': {\n"
    "          'crunch': { 'device': 'crunch', 'args': { 'dir': { 'param': 'dir' } } },\n"
    "          'direct': { 'device': 'direct_kv_ro', 'args': { 'dir': { 'param': 'dir' } } } } } "
    "},\n"
    "    { 'name': 'fast_kv', 'type': 'kv_ro', 'doc': 'Needs mg-kv 2.',\n"
    "      'params': [ { 'name': 'dir', 'type': 'string', 'doc': 'Directory.' } ],\n"
    "      'libraries': [ { 'name': 'mg-kv', 'min': '2.0' } ],\n"
    "      'connect': 'mg_fast_kv_connect', 'header': 'mg/kv.h', 'sources': ['fast.c'] },\n"
    "    { 'name': 'block_of_file', 'type': 'block', 'doc': 'A block device.',\n"
    "      'params': [ { 'name': 'name', 'type': 'string', 'doc': 'File or device name.' } ],\n"
    "      'connect': 'mg_block_connect', 'header': 'mg/block.h', 'sources': ['block.c'] },\n"
    "    { 'name': 'cache_block', 'type': 'block', 'doc': 'A cache in front of a block device.',\n"
    "      'params': [ { 'name': 'block', 'type': 'block', 'doc': 'The cached device.' } ],\n"
    "      'connect': 'mg_cache_connect', 'header': 'mg/block.h', 'sources': ['cache.c'] },\n"
    "    { 'name': 'tar_kv_ro', 'type': 'kv_ro', 'doc': 'A tar archive on a block device.',\n"
    "      'params': [ { 'name': 'block', 'type': 'block', 'doc': 'The device.' } ],\n"
    "      'connect': 'mg_tar_connect', 'header': 'mg/kv.h', 'sources': ['tar.c'] },\n"
    "    { 'name': 'kv_rw_mem', 'type': 'kv_rw', 'doc': 'An in-memory store.', 'params': [],\n"
    "      'connect': 'mg_kv_mem_connect', 'header': 'mg/kv.h', 'sources': ['mem.c'] },\n"
    "    { 'name': 'direct_kv_rw', 'type': 'kv_rw', 'doc': 'A writable host directory.',\n"
    "      'params': [ { 'name': 'dir', 'type': 'string', 'doc': 'Host directory.' } ],\n"
    "      'targets': ['unix'],\n"
    "      'connect': 'mg_direct_kv_rw_connect', 'header': 'mg/kv.h',\n"
    "      'sources': ['direct_rw.c'] } ] }\n";

static const char cat_net[] =
    "{ 'libraries': [ { 'name': 'mg-net', 'version': '1.0.0' } ],\n"
    "  'devices': [\n"
    "    { 'name': 'netif', 'type': 'network', 'doc': 'A network interface.',\n"
    "      'params': [ { 'name': 'name', 'type': 'string', 'default': 'tap0',\n"
    "                    'doc': 'Interface name.' } ],\n"
    "      'libraries': [ { 'name': 'mg-net', 'min': '1.0' } ],\n"
    "      'connect': 'mg_netif_connect', 'header': 'mg/net.h', 'sources': ['netif.c'] },\n"
    "    { 'name': 'default_network', 'type': 'network', 'doc': 'The default interface.',\n"
    "      'params': [],\n"
    "      'expand': { 'device': 'netif', 'args': {} } },\n"
    "    { 'name': 'ethif', 'type': 'ethernet', 'doc': 'Ethernet.',\n"
    "      'params': [ { 'name': 'network', 'type': 'network', 'doc': 'Interface.' } ],\n"
    "      'libraries': [ { 'name': 'mg-net', 'min': '1.0' } ],\n"
    "      'connect': 'mg_eth_connect', 'header': 'mg/net.h', 'sources': ['eth.c'] },\n"
    "    { 'name': 'arp', 'type': 'arpv4', 'doc': 'ARP.',\n"
    "      'params': [ { 'name': 'ethernet', 'type': 'ethernet', 'doc': 'Ethernet.' } ],\n"
    "      'libraries': [ { 'name': 'mg-net', 'min': '1.0' } ],\n"
    "      'connect': 'mg_arp_connect', 'header': 'mg/net.h', 'sources': ['arp.c'] },\n"
    "    { 'name': 'direct_stack', 'type': 'stackv4v6', 'doc': 'The mg-net stack.',\n"
    "      'params': [ { 'name': 'network', 'type': 'network', 'doc': 'Interface.' },\n"
    "                  { 'name': 'ethernet', 'type': 'ethernet', 'doc': 'Ethernet.' },\n"
    "                  { 'name': 'arpv4', 'type': 'arpv4', 'doc': 'ARP.' } ],\n"
    "      'libraries': [ { 'name': 'mg-net', 'min': '1.0' } ],\n"
    "      'connect': 'mg_stack_connect', 'header': 'mg/net.h', 'sources': ['stack.c'],\n"
    "      'notices': ['third/COPYING'] },\n"
    "    { 'name': 'generic_stack', 'type': 'stackv4v6', 'doc': 'A stack on a network.',\n"
    "      'params': [ { 'name': 'network', 'type': 'network', 'doc': 'Interface.' } ],\n"
    "      'let': {\n"
    "        'eth': { 'device': 'ethif', 'args': { 'network': { 'param': 'network' } } },\n"
    "        'arp4': { 'device': 'arp', 'args': { 'ethernet': { 'param': 'eth' } } } },\n"
    "      'expand': { 'device': 'direct_stack', 'args': {\n"
    "          'network': { 'param': 'network' }, 'ethernet': { 'param': 'eth' },\n"
    "          'arpv4': { 'param': 'arp4' } } } },\n"
    "    { 'name': 'socket_stack', 'type': 'stackv4v6', 'doc': 'Host sockets.',\n"
    "      'libraries': [ { 'name': 'mg-console', 'min': '1.0' } ],\n"
    "      'keys': { 'socket_backlog': { 'stage': 'runtime', 'type': 'int', 'default': 8,\n"
    "                                    'doc': 'Backlog.' } },\n"
    "      'connect': 'socket_stack_connect', 'header': 'socket.h', 'sources': ['socket.c'] },\n"
    "    { 'name': 'any_stack', 'type': 'stackv4v6', 'doc': 'Sockets or a direct stack.',\n"
    "      'params': [ { 'name': 'network', 'type': 'network', 'doc': 'Interface.' } ],\n"
    "      'keys': { 'stack': { 'stage': 'configure', 'type': 'enum',\n"
    "                           'values': ['socket', 'direct'], 'default': 'socket',\n"
    "                           'doc': 'Which stack.' } },\n"
    "      'expand': { 'match': 'stack', 'cases': {\n"
    "          'socket': 'socket_stack',\n"
    "          'direct': { 'device': 'generic_stack',\n"
    "                      'args': { 'network': { 'param': 'network' } } } } } },\n"
    "    { 'name': 'http_server', 'type': 'http', 'doc': 'An HTTP server.',\n"
    "      'params': [ { 'name': 'stack', 'type': 'stackv4v6', 'doc': 'The stack.' },\n"
    "                  { 'name': 'port', 'type': 'int', 'default': { 'key': 'port' },\n"
    "                    'doc': 'Port to listen on.' } ],\n"
    "      'keys': { 'port': { 'stage': 'runtime', 'type': 'int', 'default': 80,\n"
    "                          'doc': 'HTTP port.' } },\n"
    "      'libraries': [ { 'name': 'mg-net', 'min': '1.0' } ],\n"
    "      'connect': 'mg_http_connect', 'header': 'mg/http.h', 'sources': ['http.c'] } ] }\n";

static const struct {
    const char *path;
    const char *text;
} cat_files[] = {
    {"test/catalog.json", cat_top},
    {"test/console/catalog.json", cat_console},
    {"test/kv/catalog.json", cat_kv},
    {"test/net/catalog.json", cat_net},
};
#define N_CAT_FILES (sizeof cat_files / sizeof cat_files[0])

/* ------------------------------------------------------------------ */
/* Ownership: everything is released by fx_fini().                     */

mg_catalog *fx_cat;

static void **kept;
static size_t n_kept, cap_kept;
static fx_run **runs;
static size_t n_runs, cap_runs;
static char *converted_files[N_CAT_FILES];

void *fx_keep(void *p)
{
    if (n_kept == cap_kept) {
        cap_kept = cap_kept ? 2 * cap_kept : 64;
        kept = realloc(kept, cap_kept * sizeof *kept);
        if (!kept) abort();
    }
    kept[n_kept++] = p;
    return p;
}

static char *convert(const char *text)
{
    char *s = strdup(text);
    if (!s) abort();
    for (char *p = s; *p; p++)
        if (*p == '\'') *p = '"';
    return s;
}

char *fx_json(const char *text)
{
    return fx_keep(convert(text));
}

char *fx_jsonf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    char *s = malloc((size_t)n + 1);
    if (!s) abort();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    for (char *p = s; *p; p++)
        if (*p == '\'') *p = '"';
    return fx_keep(s);
}

size_t fx_catalog_file_count(void)
{
    return N_CAT_FILES;
}

mg_catalog_file fx_catalog_file(size_t i)
{
    if (!converted_files[i]) converted_files[i] = convert(cat_files[i].text);
    return (mg_catalog_file){cat_files[i].path, converted_files[i], strlen(converted_files[i])};
}

void fx_init(void)
{
    mg_catalog_file files[N_CAT_FILES];
    for (size_t i = 0; i < N_CAT_FILES; i++) files[i] = fx_catalog_file(i);
    mg_errors errs = {0};
    fx_cat = mg_catalog_load(files, N_CAT_FILES, &fx_targets, &errs);
    char *text = errs.len ? mg_errors_text(&errs) : NULL;
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", text ? text : "(no errors)");
    free(text);
    size_t n = errs.len;
    mg_errors_free(&errs);
    cr_assert(fx_cat != NULL && n == 0, "the test catalog does not load:\n%s", msg);
}

void fx_fini(void)
{
    for (size_t i = 0; i < n_runs; i++) {
        mg_graph_free(runs[i]->g);
        mg_errors_free(&runs[i]->errs);
        free(runs[i]);
    }
    free(runs);
    runs = NULL;
    n_runs = cap_runs = 0;
    for (size_t i = 0; i < n_kept; i++) free(kept[i]);
    free(kept);
    kept = NULL;
    n_kept = cap_kept = 0;
    for (size_t i = 0; i < N_CAT_FILES; i++) {
        free(converted_files[i]);
        converted_files[i] = NULL;
    }
    if (fx_cat) mg_catalog_free(fx_cat);
    fx_cat = NULL;
}

/* ------------------------------------------------------------------ */
/* Resolving.                                                          */

mg_resolve_options fx_options(const char *target, const char *const *keys)
{
    mg_resolve_options o = {0};
    o.target = target;
    size_t n = 0;
    while (keys && keys[n]) n++;
    if (n) {
        mg_key_setting *ks = fx_keep(calloc(n, sizeof *ks));
        if (!ks) abort();
        for (size_t i = 0; i < n; i++) {
            char *kv = fx_keep(strdup(keys[i]));
            char *eq = strchr(kv, '=');
            cr_assert(eq != NULL, "bad test key setting \"%s\" (want name=value)", keys[i]);
            *eq = '\0';
            ks[i].name = kv;
            ks[i].value = eq + 1;
        }
        o.keys = ks;
        o.n_keys = n;
    }
    return o;
}

fx_run *fx_new_run(void)
{
    fx_run *r = calloc(1, sizeof *r);
    if (!r) abort();
    if (n_runs == cap_runs) {
        cap_runs = cap_runs ? 2 * cap_runs : 16;
        runs = realloc(runs, cap_runs * sizeof *runs);
        if (!runs) abort();
    }
    runs[n_runs++] = r;
    return r;
}

fx_run *fx_resolve_raw(const char *bytes, size_t len, const mg_resolve_options *opts)
{
    cr_assert(fx_cat != NULL, "no test catalog (suite without FX_SUITE?)");
    fx_run *r = fx_new_run();
    r->g = mg_resolve(fx_cat, bytes, len, opts, &r->errs);
    return r;
}

fx_run *fx_resolve_opts(const char *doc, const mg_resolve_options *opts)
{
    char *json = fx_json(doc);
    return fx_resolve_raw(json, strlen(json), opts);
}

fx_run *fx_resolve(const char *doc, const char *target, const char *const *keys)
{
    mg_resolve_options o = fx_options(target, keys);
    return fx_resolve_opts(doc, &o);
}

const char *fx_errs_text(const mg_errors *errs)
{
    if (!errs->len) return "(no errors)";
    char *t = mg_errors_text(errs);
    return t ? fx_keep(t) : "(mg_errors_text returned NULL)";
}

mg_graph *fx_ok_at(fx_run *r, const char *file, int line)
{
    cr_assert(r->g != NULL && r->errs.len == 0,
              "%s:%d: expected the document to resolve (graph %s), got errors:\n%s", file, line,
              r->g ? "returned" : "NULL", fx_errs_text(&r->errs));
    return r->g;
}

mg_errors *fx_fail_at(fx_run *r, const char *file, int line)
{
    cr_assert(r->errs.len > 0, "%s:%d: expected errors, the document resolved", file, line);
    cr_assert(r->g == NULL, "%s:%d: mg_resolve returned a graph although it reported:\n%s", file,
              line, fx_errs_text(&r->errs));
    return &r->errs;
}

/* ------------------------------------------------------------------ */
/* Errors.                                                             */

const mg_error *fx_find_error(const mg_errors *errs, mg_error_code code, const char *path)
{
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        if (e->code != code) continue;
        if (path && strcmp(e->path ? e->path : "", path) != 0) continue;
        return e;
    }
    return NULL;
}

const mg_error *fx_expect_error_at(const mg_errors *errs, mg_error_code code,
                                   const char *const *paths, const char *file, int line)
{
    for (size_t k = 0; paths[k]; k++) {
        const mg_error *e = fx_find_error(errs, code, paths[k]);
        if (e) return e;
    }
    char want[512] = "";
    for (size_t k = 0; paths[k]; k++) {
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, "%s\"%s\"", k ? " or " : "", paths[k]);
    }
    cr_assert_fail("%s:%d: expected error %s at %s; got:\n%s", file, line, mg_error_code_name(code),
                   want, fx_errs_text(errs));
    return NULL;
}

const mg_error *fx_expect_error_prefix_at(const mg_errors *errs, mg_error_code code,
                                          const char *prefix, const char *file, int line)
{
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        const char *p = e->path ? e->path : "";
        if (e->code == code && strncmp(p, prefix, strlen(prefix)) == 0) return e;
    }
    cr_assert_fail("%s:%d: expected error %s at a path starting with \"%s\"; got:\n%s", file, line,
                   mg_error_code_name(code), prefix, fx_errs_text(errs));
    return NULL;
}

void fx_expect_message_at(const mg_errors *errs, const mg_error *e, const char *needle,
                          const char *file, int line)
{
    cr_assert(e != NULL, "%s:%d: no error to check", file, line);
    cr_assert(e->message && strstr(e->message, needle),
              "%s:%d: expected the %s message at \"%s\" to contain \"%s\"; got:\n%s", file, line,
              mg_error_code_name(e->code), e->path, needle, fx_errs_text(errs));
}

/* ------------------------------------------------------------------ */
/* Graphs.                                                             */

size_t fx_count_impl(const mg_graph *g, const char *impl)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].impl, impl) == 0) n++;
    return n;
}

size_t fx_find_impl(const mg_graph *g, const char *impl)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].impl, impl) == 0) return i;
    return FX_NONE;
}

static const char *node_list(const mg_graph *g)
{
    size_t cap = 64 + g->n_nodes * 64;
    char *s = fx_keep(malloc(cap));
    if (!s) abort();
    s[0] = '\0';
    for (size_t i = 0; i < g->n_nodes; i++) {
        size_t l = strlen(s);
        snprintf(s + l, cap - l, "%s%s(%s)", i ? ", " : "", g->nodes[i].id, g->nodes[i].impl);
    }
    return s;
}

size_t fx_only_at(const mg_graph *g, const char *impl, const char *file, int line)
{
    size_t n = fx_count_impl(g, impl);
    cr_assert(n == 1, "%s:%d: expected exactly one %s node, found %zu among: %s", file, line, impl,
              n, node_list(g));
    return fx_find_impl(g, impl);
}

size_t fx_id_at(const mg_graph *g, const char *id, const char *file, int line)
{
    size_t i = mg_graph_find(g, id);
    cr_assert(i != FX_NONE && i < g->n_nodes, "%s:%d: no node %s among: %s", file, line, id,
              node_list(g));
    return i;
}

const mg_graph_arg *fx_arg(const mg_graph_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_args; i++)
        if (strcmp(n->args[i].name, name) == 0) return &n->args[i];
    return NULL;
}

const char *fx_arg_text_at(const mg_graph *g, size_t i, const char *name, const char *file,
                           int line)
{
    cr_assert(i < g->n_nodes, "%s:%d: bad node index", file, line);
    const mg_graph_arg *a = fx_arg(&g->nodes[i], name);
    cr_assert(a != NULL, "%s:%d: node %s has no arg %s", file, line, g->nodes[i].id, name);
    cr_assert(!a->runtime_key, "%s:%d: arg %s of %s is a runtime key (%s), not a value", file, line,
              name, g->nodes[i].id, a->key);
    cr_assert(a->value.text != NULL, "%s:%d: arg %s of %s has no text", file, line, name,
              g->nodes[i].id);
    return a->value.text;
}

const mg_graph_key *fx_key(const mg_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_keys; i++)
        if (strcmp(g->keys[i].name, name) == 0) return &g->keys[i];
    return NULL;
}

const mg_graph_key *fx_runtime_key(const mg_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_runtime_keys; i++)
        if (strcmp(g->runtime_keys[i].name, name) == 0) return &g->runtime_keys[i];
    return NULL;
}

const mg_graph_library *fx_library(const mg_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_libraries; i++)
        if (strcmp(g->libraries[i].name, name) == 0) return &g->libraries[i];
    return NULL;
}

void fx_check_graph_at(const mg_graph *g, const char *file, int line)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_graph_node *n = &g->nodes[i];
        cr_assert(n->id && n->impl && n->type && n->from, "%s:%d: node %zu has a NULL field", file,
                  line, i);
        char want[256];
        snprintf(want, sizeof want, "%s%zu", n->impl, i);
        cr_assert_str_eq(n->id, want,
                         "%s:%d: node %zu: id %s is not impl + position (%s); nodes: %s", file,
                         line, i, n->id, want, node_list(g));
        cr_assert(strncmp(n->impl, "generic_", 8) != 0 && strncmp(n->impl, "default_", 8) != 0,
                  "%s:%d: expansion %s left in the graph: %s", file, line, n->impl, node_list(g));
        if (strcmp(n->impl, "main") == 0)
            cr_assert(n->code != NULL && n->entry == NULL, "%s:%d: %s: user code node without code",
                      file, line, n->id);
        else
            cr_assert(n->entry != NULL && n->entry->concrete,
                      "%s:%d: %s: not a concrete catalog entry", file, line, n->id);
        for (size_t d = 0; d < n->n_deps; d++)
            cr_assert(n->deps[d] < i,
                      "%s:%d: %s depends on node %zu, which is not earlier; nodes: %s", file, line,
                      n->id, n->deps[d], node_list(g));
        cr_assert_eq(mg_graph_find(g, n->id), i, "%s:%d: mg_graph_find(%s) != %zu", file, line,
                     n->id, i);
    }
    for (size_t j = 0; j < g->n_jobs; j++) {
        cr_assert(g->jobs[j] < g->n_nodes, "%s:%d: job %zu is not a node", file, line, j);
        cr_assert_str_eq(g->nodes[g->jobs[j]].type, "job", "%s:%d: job %zu (%s) has type %s", file,
                         line, j, g->nodes[g->jobs[j]].id, g->nodes[g->jobs[j]].type);
    }
}

size_t fx_count_substr(const char *s, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + l, needle)) n++;
    return n;
}
