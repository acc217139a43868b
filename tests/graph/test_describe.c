/* describe: the JSON and DOT forms of a resolved graph, and errors as JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "graph/codegen.h"
#include "graph/describe.h"

FX_SUITE(describe);

#define HELLO                                                                                      \
    "{'mgd': 1, 'name': 'hello',\n"                                                                \
    " 'keys': {'hello': {'stage': 'runtime', 'type': 'string', 'default': 'Hello World!',\n"       \
    "                    'doc': 'How to say hello.'}},\n"                                          \
    " 'devices': {'main': {'main': 'hello_start', 'type': 'console -> time -> job',\n"             \
    "                      'sources': ['unikernel.c'], 'runtime_keys': ['hello']}},\n"             \
    " 'jobs': [{'apply': 'main', 'to': ['default_console', 'default_time']}]}"

#define BIG                                                                                        \
    "{'mgd': 1, 'name': 'big',\n"                                                                  \
    " 'keys': {'store': {'stage': 'configure', 'type': 'enum', 'values': ['crunch', 'direct'],\n"  \
    "                    'default': {'by_target': {'unix': 'direct', '*': 'crunch'}}}},\n"         \
    " 'devices': {\n"                                                                              \
    "   'stack': {'device': 'generic_stack', 'args': {'network': 'default_network'}},\n"           \
    "   'web': {'device': 'http_server', 'args': {'stack': 'stack'}},\n"                           \
    "   'data': {'match': 'store', 'cases': {\n"                                                   \
    "       'crunch': {'device': 'crunch', 'args': {'dir': 'htdocs'}},\n"                          \
    "       'direct': {'device': 'direct_kv_ro', 'args': {'dir': 'htdocs'}}}},\n"                  \
    "   'app': {'main': 'serve', 'type': 'console -> http -> kv_ro -> job',\n"                     \
    "           'sources': ['app.c', 'util.c']}},\n"                                               \
    " 'jobs': [{'apply': 'app', 'to': ['default_console', 'web', 'data']}, 'noop']}"

/* Parses describe output (owned by the fixtures). */
static cJSON *parse_at(char *text, const char *file, int line)
{
    cr_assert(text != NULL, "%s:%d: describe returned NULL", file, line);
    fx_keep(text);
    size_t n = strlen(text);
    cr_assert(n > 0 && text[n - 1] == '\n', "%s:%d: describe output must end in a newline", file,
              line);
    cJSON *j = cJSON_Parse(text);
    cr_assert(j != NULL, "%s:%d: describe output is not JSON:\n%s", file, line, text);
    return j;
}
#define PARSE(text) parse_at((text), __FILE__, __LINE__)

static void check_members(const cJSON *obj, const char *const *names, size_t n, const char *what)
{
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        cr_assert(i < n, "%s: unexpected extra member %s", what, m->string);
        cr_assert_str_eq(m->string, names[i], "%s: member %zu is %s, expected %s", what, i,
                         m->string, names[i]);
        i++;
    }
    cr_assert_eq(i, n, "%s: %zu members, expected %zu", what, i, n);
}

static const char *str_member(const cJSON *obj, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
    cr_assert(cJSON_IsString(m), "member %s is not a string", name);
    return m->valuestring;
}

Test(describe, json_fields_in_spec_order)
{
    mg_graph *g = RESOLVE_OK(HELLO, NULL, NO_KEYS);
    cJSON *j = PARSE(mg_describe_json(g));
    static const char *const top[] = {"name",         "target",  "arch", "keys",
                                      "runtime_keys", "devices", "jobs", "libraries",
                                      "sources",      "notices", "files"};
    check_members(j, top, 11, "top level");
    cr_assert_str_eq(str_member(j, "name"), "hello");
    cr_assert_str_eq(str_member(j, "target"), "unix");
    cr_assert_str_eq(str_member(j, "arch"), "x86_64");

    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "keys");
    static const char *const key_names[] = {"target", "arch"};
    check_members(keys, key_names, 2, "keys");
    cr_assert_str_eq(str_member(keys, "target"), "unix");
    cr_assert_str_eq(str_member(keys, "arch"), "x86_64");

    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(j, "runtime_keys");
    cr_assert(cJSON_IsArray(rk));
    cr_assert_eq(cJSON_GetArraySize(rk), 1);
    const cJSON *hello = cJSON_GetArrayItem(rk, 0);
    static const char *const rk_fields[] = {"name", "type", "default", "doc"};
    check_members(hello, rk_fields, 4, "runtime key");
    cr_assert_str_eq(str_member(hello, "name"), "hello");
    cr_assert_str_eq(str_member(hello, "type"), "string");
    cr_assert_str_eq(str_member(hello, "default"), "Hello World!");
    cr_assert_str_eq(str_member(hello, "doc"), "How to say hello.");

    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    cr_assert(cJSON_IsArray(devs));
    cr_assert_eq(cJSON_GetArraySize(devs), 4);
    static const char *const dev_fields[] = {"id", "impl", "type", "deps", "args", "from"};
    static const char *const main_fields[] = {"id",   "impl", "type", "symbol",
                                              "deps", "args", "from"};
    static const char *const ids[] = {"log_reporter0", "console1", "time2", "main3"};
    static const char *const impls[] = {"log_reporter", "console", "time", "main"};
    static const char *const types[] = {"reporter", "console", "time", "job"};
    static const char *const froms[] = {"default_reporter", "default_console", "default_time",
                                        "/jobs/0"};
    for (int i = 0; i < 4; i++) {
        const cJSON *d = cJSON_GetArrayItem(devs, i);
        check_members(d, i == 3 ? main_fields : dev_fields, i == 3 ? 7 : 6, ids[i]);
        cr_assert_str_eq(str_member(d, "id"), ids[i]);
        cr_assert_str_eq(str_member(d, "impl"), impls[i]);
        cr_assert_str_eq(str_member(d, "type"), types[i]);
        cr_assert_str_eq(str_member(d, "from"), froms[i]);
        cr_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "deps")));
        cr_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "args")));
    }
    const cJSON *console = cJSON_GetArrayItem(devs, 1);
    cr_assert_str_eq(str_member(cJSON_GetObjectItemCaseSensitive(console, "args"), "name"),
                     "console");
    const cJSON *main = cJSON_GetArrayItem(devs, 3);
    cr_assert_str_eq(str_member(main, "symbol"), "hello_start");
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(main, "deps");
    cr_assert_eq(cJSON_GetArraySize(deps), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(deps, 0)->valuestring, "console1");
    cr_assert_str_eq(cJSON_GetArrayItem(deps, 1)->valuestring, "time2");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(main, "args")), 0);

    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(j, "jobs");
    cr_assert_eq(cJSON_GetArraySize(jobs), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(jobs, 0)->valuestring, "main3");

    const cJSON *libs = cJSON_GetObjectItemCaseSensitive(j, "libraries");
    cr_assert_eq(cJSON_GetArraySize(libs), 1);
    static const char *const lib_fields[] = {"name", "version"};
    check_members(cJSON_GetArrayItem(libs, 0), lib_fields, 2, "library");
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(libs, 0), "name"), "mg-console");
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(libs, 0), "version"), "1.2.0");

    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "sources");
    cr_assert_eq(cJSON_GetArraySize(src), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(src, 0)->valuestring, "unikernel.c");

    const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    cr_assert_eq(cJSON_GetArraySize(files), MG_CODEGEN_N_FILES);
    for (int i = 0; i < MG_CODEGEN_N_FILES; i++)
        cr_assert_str_eq(cJSON_GetArrayItem(files, i)->valuestring, mg_codegen_files[i]);
    cr_assert_str_eq(cJSON_GetArrayItem(files, 0)->valuestring, "main.c");
    cr_assert_str_eq(cJSON_GetArrayItem(files, 1)->valuestring, "mg_keys.h");
    cJSON_Delete(j);
}

Test(describe, json_keys_values_and_args)
{
    mg_graph *g = RESOLVE_OK(BIG, "spt", NO_KEYS);
    cJSON *j = PARSE(mg_describe_json(g));
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "keys");
    static const char *const key_names[] = {"target", "arch", "store"};
    check_members(keys, key_names, 3, "keys");
    cr_assert_str_eq(str_member(keys, "target"), "spt");
    cr_assert_str_eq(str_member(keys, "store"), "crunch");

    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(j, "runtime_keys");
    cr_assert_eq(cJSON_GetArraySize(rk), 1);
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(rk, 0), "name"), "port");
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(rk, 0), "type"), "int");
    const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rk, 0), "default");
    cr_assert(cJSON_IsNumber(dflt) && dflt->valuedouble == 80, "int default printed as number 80");

    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    cr_assert_eq((size_t)cJSON_GetArraySize(devs), g->n_nodes);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const cJSON *d = cJSON_GetArrayItem(devs, (int)i);
        const mg_graph_node *n = &g->nodes[i];
        cr_assert_str_eq(str_member(d, "id"), n->id);
        cr_assert_str_eq(str_member(d, "impl"), n->impl);
        cr_assert_str_eq(str_member(d, "type"), n->type);
        cr_assert_str_eq(str_member(d, "from"), n->from);
        const cJSON *deps = cJSON_GetObjectItemCaseSensitive(d, "deps");
        cr_assert_eq((size_t)cJSON_GetArraySize(deps), n->n_deps, "deps of %s", n->id);
        for (size_t k = 0; k < n->n_deps; k++)
            cr_assert_str_eq(cJSON_GetArrayItem(deps, (int)k)->valuestring,
                             g->nodes[n->deps[k]].id);
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(d, "args");
        cr_assert_eq((size_t)cJSON_GetArraySize(args), n->n_args, "args of %s", n->id);
        for (size_t k = 0; k < n->n_args; k++)
            cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(args, n->args[k].name),
                               "arg %s of %s", n->args[k].name, n->id);
    }
    size_t c = ONLY(g, "crunch");
    const cJSON *cargs = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(devs, (int)c), "args");
    cr_assert_str_eq(str_member(cargs, "dir"), "htdocs");
    size_t h = ONLY(g, "http_server");
    const cJSON *hargs = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(devs, (int)h), "args");
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(hargs, "port"));

    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(j, "jobs");
    cr_assert_eq(cJSON_GetArraySize(jobs), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(jobs, 1)->valuestring, g->nodes[ONLY(g, "noop")].id);

    const cJSON *libs = cJSON_GetObjectItemCaseSensitive(j, "libraries");
    cr_assert_eq(cJSON_GetArraySize(libs), 3);
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(libs, 0), "name"), "mg-console");
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(libs, 1), "name"), "mg-kv");
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(libs, 1), "version"), "2.1.0");
    cr_assert_str_eq(str_member(cJSON_GetArrayItem(libs, 2), "name"), "mg-net");

    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "sources");
    cr_assert_eq(cJSON_GetArraySize(src), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(src, 0)->valuestring, "app.c");
    cr_assert_str_eq(cJSON_GetArrayItem(src, 1)->valuestring, "util.c");
    cJSON_Delete(j);
}

Test(describe, two_space_indentation)
{
    mg_graph *g = RESOLVE_OK(HELLO, NULL, NO_KEYS);
    char *text = fx_keep(mg_describe_json(g));
    cr_assert_not_null(text);
    cr_assert(strncmp(text, "{\n  \"name\": ", 12) == 0,
              "expected two-space indentation and name first, got:\n%.200s", text);
    cr_assert_null(strchr(text, '\t'), "no tabs in describe output");
}

Test(describe, output_is_stable)
{
    for (int t = 0; t < 3; t++) {
        const char *target = t == 0 ? "unix" : t == 1 ? "spt" : "virtio";
        mg_graph *a = RESOLVE_OK(BIG, target, NO_KEYS);
        mg_graph *b = RESOLVE_OK(BIG, target, NO_KEYS);
        char *ja = fx_keep(mg_describe_json(a)), *jb = fx_keep(mg_describe_json(b));
        cr_assert_str_eq(ja, jb, "JSON differs between two resolutions for %s", target);
        char *da = fx_keep(mg_describe_dot(a)), *db = fx_keep(mg_describe_dot(b));
        cr_assert_str_eq(da, db, "DOT differs between two resolutions for %s", target);
        char *ma = fx_keep(mg_codegen_main_c(a)), *mb = fx_keep(mg_codegen_main_c(b));
        cr_assert_str_eq(ma, mb, "main.c differs between two resolutions for %s", target);
        char *ka = fx_keep(mg_codegen_keys_h(a)), *kb = fx_keep(mg_codegen_keys_h(b));
        cr_assert_str_eq(ka, kb, "mg_keys.h differs between two resolutions for %s", target);
    }
}

/* Strips blanks and one pair of quotes. */
static char *dot_token(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == ';')) *--end = '\0';
    if (*s == '"' && end > s + 1 && end[-1] == '"') {
        end[-1] = '\0';
        s++;
    }
    return s;
}

Test(describe, dot_has_one_edge_per_dep)
{
    mg_graph *g = RESOLVE_OK(BIG, "unix", NO_KEYS);
    char *dot = fx_keep(mg_describe_dot(g));
    cr_assert_not_null(dot);
    size_t n_deps = 0;
    for (size_t i = 0; i < g->n_nodes; i++) n_deps += g->nodes[i].n_deps;
    cr_assert_gt(n_deps, 5);
    cr_assert_eq(fx_count_substr(dot, "->"), n_deps, "expected %zu edges in:\n%s", n_deps, dot);

    /* Every edge goes from the device to what it depends on, each dep once. */
    size_t *seen = fx_keep(calloc(g->n_nodes * g->n_nodes + 1, sizeof *seen));
    char *copy = fx_keep(strdup(dot));
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        char *arrow = strstr(line, "->");
        if (!arrow) continue;
        *arrow = '\0';
        char *rhs = arrow + 2;
        char *attr = strchr(rhs, '[');
        if (attr) *attr = '\0';
        const char *src = dot_token(line), *dst = dot_token(rhs);
        size_t s = mg_graph_find(g, src), d = mg_graph_find(g, dst);
        cr_assert(s != FX_NONE && d != FX_NONE, "edge %s -> %s names unknown nodes:\n%s", src, dst,
                  dot);
        seen[s * g->n_nodes + d]++;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_deps; k++) {
            size_t d = g->nodes[i].deps[k];
            cr_assert_eq(seen[i * g->n_nodes + d], 1, "edge %s -> %s appears %zu times:\n%s",
                         g->nodes[i].id, g->nodes[d].id, seen[i * g->n_nodes + d], dot);
        }
    /* One node per device, labelled with its id and impl. */
    for (size_t i = 0; i < g->n_nodes; i++) {
        cr_assert_not_null(strstr(dot, g->nodes[i].id), "node %s missing:\n%s", g->nodes[i].id,
                           dot);
        cr_assert_not_null(strstr(dot, g->nodes[i].impl));
    }
    cr_assert(strncmp(dot, "digraph", 7) == 0, "DOT output should start with digraph:\n%s", dot);
    cr_assert_eq(dot[strlen(dot) - 1], '\n');
}

Test(describe, errors_json)
{
    mg_errors *e = RESOLVE_FAIL("{'mgd': 1, 'name': 't', 'jobs': ['nosuch', 'default_console']}",
                                NULL, NO_KEYS);
    cJSON *j = PARSE(mg_errors_json(e));
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "errors");
    cr_assert(cJSON_IsArray(arr));
    cr_assert_eq((size_t)cJSON_GetArraySize(arr), e->len);
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        static const char *const fields[] = {"code", "path", "message"};
        check_members(it, fields, 3, "error");
        if (strcmp(str_member(it, "code"), "unknown_name") == 0 &&
            strcmp(str_member(it, "path"), "/jobs/0") == 0)
            found = true;
    }
    cr_assert(found, "unknown_name at /jobs/0 not in errors JSON");
    cJSON_Delete(j);

    char *text = fx_keep(mg_errors_text(e));
    cr_assert_not_null(strstr(text, "/jobs/0: unknown_name: "),
                       "text form is path: code: message:\n%s", text);
}

Test(describe, generated_code_mentions_every_device)
{
    mg_graph *g = RESOLVE_OK(HELLO, NULL, NO_KEYS);
    char *main_c = fx_keep(mg_codegen_main_c(g));
    cr_assert_not_null(main_c);
    cr_assert_not_null(strstr(main_c, "hello_start"), "main.c must call the job's symbol");
    cr_assert_not_null(strstr(main_c, "mg_console_connect"));
    cr_assert_not_null(strstr(main_c, "mg_time_connect"));
    cr_assert_not_null(strstr(main_c, "mg_log_connect"));
    char *keys_h = fx_keep(mg_codegen_keys_h(g));
    cr_assert_not_null(keys_h);
    cr_assert_not_null(strstr(keys_h, "hello"), "mg_keys.h gives an accessor for hello");
}

Test(describe, notices_of_the_entries_used)
{
    /* direct_stack names a notice relative to its catalog file's folder:
     * listed once however many nodes use it, and only when one does */
    cJSON *j = PARSE(mg_describe_json(RESOLVE_OK(BIG, "unix", NO_KEYS)));
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "notices");
    cr_assert_eq(cJSON_GetArraySize(n), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(n, 0)->valuestring, "test/net/third/COPYING");
    cJSON_Delete(j);
    j = PARSE(mg_describe_json(RESOLVE_OK(HELLO, NULL, NO_KEYS)));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "notices")), 0);
    cJSON_Delete(j);
}
