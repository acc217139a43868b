/*
 * Keys: if/match over every key type, by_target defaults, the built-in
 * target/arch keys, runtime keys bound to params, and the keys of the output.
 */
#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "graph/describe.h"

FX_SUITE(keys);

/* A console whose name tells which branch was taken. */
#define C(x) "{'device': 'console', 'args': {'name': '" x "'}}"

/*
 * Resolves a document with one key `k` declared as `decl` and one device
 * `d` = `expr` passed to user code, and returns the name of the console
 * that `d` became.
 */
static const char *chosen_at(const char *decl, const char *expr, const char *target,
                             const char *const *keys, const char *file, int line)
{
    const char *doc = fx_jsonf(
        "{'mgd': 1, 'name': 'k', 'keys': {'k': %s},\n"
        " 'devices': {'d': %s,\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        decl, expr);
    mg_resolve_options o = fx_options(target, keys);
    fx_run *r = fx_resolve_raw(doc, strlen(doc), &o);
    mg_graph *g = fx_ok_at(r, file, line);
    fx_check_graph_at(g, file, line);
    size_t m = fx_only_at(g, "main", file, line);
    cr_assert_eq(g->nodes[m].n_deps, 1, "%s:%d: main should have one dep", file, line);
    cr_assert_eq(fx_count_impl(g, "console"), 1, "%s:%d: the untaken branch made a node", file,
                 line);
    size_t c = g->nodes[m].deps[0];
    cr_assert_str_eq(g->nodes[c].impl, "console", "%s:%d", file, line);
    return fx_arg_text_at(g, c, "name", file, line);
}
#define CHOSEN(decl, expr, target, keys)                                                           \
    chosen_at((decl), (expr), (target), (keys), __FILE__, __LINE__)

#define BOOL_KEY "{'stage': 'configure', 'type': 'bool', 'default': false}"
#define INT_KEY "{'stage': 'configure', 'type': 'int', 'default': 3}"
#define STRING_KEY "{'stage': 'configure', 'type': 'string', 'default': 'a'}"
#define ENUM_KEY "{'stage': 'configure', 'type': 'enum', 'values': ['x', 'y', 'z'], 'default': 'x'}"
#define IPV4_KEY "{'stage': 'configure', 'type': 'ipv4', 'default': '10.0.0.1'}"
#define PREFIX_KEY "{'stage': 'configure', 'type': 'ipv4_prefix', 'default': '10.0.0.0/8'}"

Test(keys, if_bool_key)
{
    const char *e = "{'if': 'k', 'then': " C("on") ", 'else': " C("off") "}";
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, NO_KEYS), "off");
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, KEYS("k=true")), "on");
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, KEYS("k=false")), "off");
}

Test(keys, match_bool_exhaustive_without_default)
{
    const char *e = "{'match': 'k', 'cases': {'true': " C("t") ", 'false': " C("f") "}}";
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, NO_KEYS), "f");
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, KEYS("k=true")), "t");
}

Test(keys, if_equals_bool)
{
    const char *e =
        "{'if': {'key': 'k', 'equals': true}, 'then': " C("yes") ", 'else': " C("no") "}";
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, NO_KEYS), "no");
    cr_assert_str_eq(CHOSEN(BOOL_KEY, e, NULL, KEYS("k=true")), "yes");
}

Test(keys, int_key)
{
    const char *e =
        "{'if': {'key': 'k', 'equals': 3}, 'then': " C("three") ", 'else': " C("other") "}";
    cr_assert_str_eq(CHOSEN(INT_KEY, e, NULL, NO_KEYS), "three");
    cr_assert_str_eq(CHOSEN(INT_KEY, e, NULL, KEYS("k=4")), "other");
    const char *m = "{'match': 'k', 'cases': {'1': " C("one") ", '2': " C("two") ", '-5': " C(
        "minus") "}, 'default': " C("many") "}";
    cr_assert_str_eq(CHOSEN(INT_KEY, m, NULL, NO_KEYS), "many");
    cr_assert_str_eq(CHOSEN(INT_KEY, m, NULL, KEYS("k=2")), "two");
    cr_assert_str_eq(CHOSEN(INT_KEY, m, NULL, KEYS("k=-5")), "minus");
    cr_assert_str_eq(CHOSEN(INT_KEY, m, NULL, KEYS("k=9007199254740993")), "many",
                     "ints given with the build are full 64-bit");
}

Test(keys, int_beyond_json_numbers_as_a_string)
{
    /* a document writes an int past 2^53 - 1 as a string of digits: as a
     * default, an equals value, a match case and a param's argument */
    const char *decl = "{'stage': 'configure', 'type': 'int', 'default': '9007199254740993'}";
    const char *e = "{'if': {'key': 'k', 'equals': '9007199254740993'}, 'then': " C(
        "exact") ", 'else': " C("rounded") "}";
    cr_assert_str_eq(CHOSEN(decl, e, NULL, NO_KEYS), "exact");
    cr_assert_str_eq(CHOSEN(decl, e, NULL, KEYS("k=9007199254740992")), "rounded");
    const char *m =
        "{'match': 'k', 'cases': {'9007199254740993': " C("big") "}, 'default': " C("other") "}";
    cr_assert_str_eq(CHOSEN(decl, m, NULL, NO_KEYS), "big");
    /* small ints may be strings too, and equal their number */
    const char *small = "{'stage': 'configure', 'type': 'int', 'default': '-3'}";
    const char *s3 =
        "{'if': {'key': 'k', 'equals': -3}, 'then': " C("same") ", 'else': " C("differs") "}";
    cr_assert_str_eq(CHOSEN(small, s3, NULL, NO_KEYS), "same");

    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 't',\n"
        " 'keys': {'big': {'stage': 'configure', 'type': 'int', 'default': "
        "'-9223372036854775808'},\n"
        "          'max': {'stage': 'runtime', 'type': 'int', 'default': '9223372036854775807'},\n"
        "          'safe': {'stage': 'configure', 'type': 'int', 'default': '9007199254740991'}},\n"
        " 'devices': {'web': {'device': 'http_server', 'args': {\n"
        "     'stack': {'device': 'generic_stack', 'args': {'network': 'default_network'}},\n"
        "     'port': '9007199254740993'}},\n"
        "   'app': {'main': 'start', 'type': 'http -> job', 'runtime_keys': ['max']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['web']}]}",
        NULL, NO_KEYS);
    cr_assert_eq(fx_key(g, "big")->value.i, INT64_MIN);
    cr_assert_eq(fx_runtime_key(g, "max")->value.i, INT64_MAX);
    cr_assert_str_eq(ARG_TEXT(g, ONLY(g, "http_server"), "port"), "9007199254740993");
    cr_assert_eq(fx_arg(&g->nodes[ONLY(g, "http_server")], "port")->value.i, 9007199254740993);
    /* describe writes them back as strings, numbers where JSON is exact */
    char *d = fx_keep(mg_describe_json(g));
    cr_assert_not_null(strstr(d, "\"big\": \"-9223372036854775808\""), "%s", d);
    cr_assert_not_null(strstr(d, "\"default\": \"9223372036854775807\""), "%s", d);
    cr_assert_not_null(strstr(d, "\"port\": \"9007199254740993\""), "%s", d);
    cr_assert_not_null(strstr(d, "\"safe\": 9007199254740991"), "%s", d);
}

Test(keys, string_key)
{
    const char *e =
        "{'if': {'key': 'k', 'equals': 'a'}, 'then': " C("is-a") ", 'else': " C("not-a") "}";
    cr_assert_str_eq(CHOSEN(STRING_KEY, e, NULL, NO_KEYS), "is-a");
    cr_assert_str_eq(CHOSEN(STRING_KEY, e, NULL, KEYS("k=b")), "not-a");
    const char *m =
        "{'match': 'k', 'cases': {'a': " C("ma") ", 'b': " C("mb") "}, 'default': " C("md") "}";
    cr_assert_str_eq(CHOSEN(STRING_KEY, m, NULL, KEYS("k=b")), "mb");
    cr_assert_str_eq(CHOSEN(STRING_KEY, m, NULL, KEYS("k=zzz")), "md");
    cr_assert_str_eq(CHOSEN(STRING_KEY, m, NULL, KEYS("k=")), "md");
}

Test(keys, enum_key_exhaustive_match_without_default)
{
    const char *m =
        "{'match': 'k', 'cases': {'x': " C("ex") ", 'y': " C("why") ", 'z': " C("zed") "}}";
    cr_assert_str_eq(CHOSEN(ENUM_KEY, m, NULL, NO_KEYS), "ex");
    cr_assert_str_eq(CHOSEN(ENUM_KEY, m, NULL, KEYS("k=y")), "why");
    cr_assert_str_eq(CHOSEN(ENUM_KEY, m, NULL, KEYS("k=z")), "zed");
    const char *e =
        "{'if': {'key': 'k', 'equals': 'z'}, 'then': " C("z") ", 'else': " C("not-z") "}";
    cr_assert_str_eq(CHOSEN(ENUM_KEY, e, NULL, KEYS("k=z")), "z");
    cr_assert_str_eq(CHOSEN(ENUM_KEY, e, NULL, NO_KEYS), "not-z");
    const char *d = "{'match': 'k', 'cases': {'y': " C("why") "}, 'default': " C("dflt") "}";
    cr_assert_str_eq(CHOSEN(ENUM_KEY, d, NULL, NO_KEYS), "dflt");
}

Test(keys, ipv4_key)
{
    const char *e =
        "{'if': {'key': 'k', 'equals': '10.0.0.1'}, 'then': " C("gw") ", 'else': " C("other") "}";
    cr_assert_str_eq(CHOSEN(IPV4_KEY, e, NULL, NO_KEYS), "gw");
    cr_assert_str_eq(CHOSEN(IPV4_KEY, e, NULL, KEYS("k=10.0.0.2")), "other");
    const char *m = "{'match': 'k', 'cases': {'192.168.1.1': " C("lan") ", '10.0.0.1': " C(
        "ten") "}, 'default': " C("wan") "}";
    cr_assert_str_eq(CHOSEN(IPV4_KEY, m, NULL, NO_KEYS), "ten");
    cr_assert_str_eq(CHOSEN(IPV4_KEY, m, NULL, KEYS("k=192.168.1.1")), "lan");
    cr_assert_str_eq(CHOSEN(IPV4_KEY, m, NULL, KEYS("k=8.8.8.8")), "wan");
}

Test(keys, ipv4_prefix_key)
{
    const char *m = "{'match': 'k', 'cases': {'10.0.0.0/8': " C("ten") ", '192.168.1.0/24': " C(
        "lan") "}, 'default': " C("other") "}";
    cr_assert_str_eq(CHOSEN(PREFIX_KEY, m, NULL, NO_KEYS), "ten");
    cr_assert_str_eq(CHOSEN(PREFIX_KEY, m, NULL, KEYS("k=192.168.1.0/24")), "lan");
    cr_assert_str_eq(CHOSEN(PREFIX_KEY, m, NULL, KEYS("k=192.168.1.0/25")), "other");
    const char *e =
        "{'if': {'key': 'k', 'equals': '10.0.0.0/8'}, 'then': " C("yes") ", 'else': " C("no") "}";
    cr_assert_str_eq(CHOSEN(PREFIX_KEY, e, NULL, NO_KEYS), "yes");
    cr_assert_str_eq(CHOSEN(PREFIX_KEY, e, NULL, KEYS("k=10.0.0.0/16")), "no");
}

Test(keys, by_target_default)
{
    const char *decl = "{'stage': 'configure', 'type': 'enum', 'values': ['crunch', 'direct'],\n"
                       " 'default': {'by_target': {'unix': 'direct', '*': 'crunch'}}}";
    const char *m = "{'match': 'k', 'cases': {'crunch': " C("c") ", 'direct': " C("d") "}}";
    cr_assert_str_eq(CHOSEN(decl, m, "unix", NO_KEYS), "d");
    cr_assert_str_eq(CHOSEN(decl, m, "spt", NO_KEYS), "c");
    cr_assert_str_eq(CHOSEN(decl, m, "virtio", NO_KEYS), "c");
    cr_assert_str_eq(CHOSEN(decl, m, "unix", KEYS("k=crunch")), "c", "a build value wins");
    cr_assert_str_eq(CHOSEN(decl, m, NULL, NO_KEYS), "d", "the default target is unix");
}

Test(keys, by_target_value_shows_in_output_keys)
{
    const char *doc = "{'mgd': 1, 'name': 'k',\n"
                      " 'keys': {'store': {'stage': 'configure', 'type': 'enum',\n"
                      "     'values': ['crunch', 'direct'],\n"
                      "     'default': {'by_target': {'unix': 'direct', '*': 'crunch'}}}},\n"
                      " 'jobs': ['noop']}";
    mg_graph *g = RESOLVE_OK(doc, "unix", NO_KEYS);
    const mg_graph_key *k = fx_key(g, "store");
    cr_assert_not_null(k);
    cr_assert(k->has_value);
    cr_assert_str_eq(k->value.text, "direct");
    g = RESOLVE_OK(doc, "spt", NO_KEYS);
    cr_assert_str_eq(fx_key(g, "store")->value.text, "crunch");
}

Test(keys, match_on_builtin_target_and_arch)
{
    const char *t = "{'match': 'target', 'cases': {'unix': " C("u") ", 'spt': " C(
        "s") ", 'virtio': " C("v") "}}";
    const char *decl = BOOL_KEY; /* unused key: the helper always declares k */
    cr_assert_str_eq(CHOSEN(decl, t, "unix", NO_KEYS), "u");
    cr_assert_str_eq(CHOSEN(decl, t, "spt", NO_KEYS), "s");
    cr_assert_str_eq(CHOSEN(decl, t, "virtio", NO_KEYS), "v");

    const char *doc = fx_jsonf(
        "{'mgd': 1, 'name': 'k',\n"
        " 'devices': {'d': {'match': 'arch', 'cases': {'x86_64': %s, 'aarch64': %s}},\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['d']}]}",
        C("x86"), C("arm"));
    mg_resolve_options o = fx_options("spt", NO_KEYS);
    o.arch = "aarch64";
    mg_graph *g = OK(fx_resolve_raw(doc, strlen(doc), &o));
    cr_assert_str_eq(ARG_TEXT(g, ONLY(g, "console"), "name"), "arm");
    cr_assert_str_eq(g->arch, "aarch64");
    cr_assert_str_eq(g->target, "spt");
    cr_assert_str_eq(fx_key(g, "arch")->value.text, "aarch64");
    cr_assert_str_eq(fx_key(g, "target")->value.text, "spt");
}

Test(keys, output_configure_keys_are_target_arch_then_by_name)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'k',\n"
        " 'keys': {'zz': {'stage': 'configure', 'type': 'int', 'default': 1},\n"
        "          'aa': {'stage': 'configure', 'type': 'string', 'default': 'x'},\n"
        "          'hello': {'stage': 'runtime', 'type': 'string', 'default': 'hi'}},\n"
        " 'devices': {'data': {'device': 'generic_kv_ro', 'args': {'dir': 'htdocs'}},\n"
        "             'app': {'main': 'start', 'type': 'kv_ro -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
        "virtio", KEYS("zz=7"));
    static const char *const want[] = {"target", "arch", "aa", "kv_ro", "zz"};
    cr_assert_eq(g->n_keys, 5, "expected 5 configure keys, got %zu", g->n_keys);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(g->keys[i].name, want[i], "key %zu", i);
        cr_assert_eq(g->keys[i].stage, MG_STAGE_CONFIGURE);
        cr_assert(g->keys[i].has_value, "configure key %s has no value", want[i]);
    }
    cr_assert_str_eq(g->keys[0].value.text, "virtio");
    cr_assert_str_eq(g->keys[1].value.text, "x86_64");
    cr_assert_str_eq(g->keys[3].value.text, "crunch", "kv_ro takes its catalog default");
    cr_assert_eq(g->keys[3].type, MG_KEY_ENUM);
    cr_assert_eq(g->keys[3].n_values, 2);
    cr_assert_eq(g->keys[4].value.i, 7);
    cr_assert_null(fx_key(g, "hello"), "runtime keys are not configure keys");
}

Test(keys, runtime_key_bound_to_catalog_param_default)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'web',\n"
        " 'devices': {'web': {'device': 'http_server',\n"
        "                     'args': {'stack': {'device': 'generic_stack',\n"
        "                                        'args': {'network': 'default_network'}}}},\n"
        "             'app': {'main': 'serve', 'type': 'http -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['web']}]}",
        "unix", NO_KEYS);
    CHECK_GRAPH(g);
    size_t h = ONLY(g, "http_server");
    const mg_graph_arg *port = fx_arg(&g->nodes[h], "port");
    cr_assert_not_null(port, "http_server has no port arg");
    cr_assert(port->runtime_key, "port should be read at boot");
    cr_assert_str_eq(port->key, "port");
    cr_assert_eq(port->type, MG_KEY_INT);
    const mg_graph_key *k = fx_runtime_key(g, "port");
    cr_assert_not_null(k, "the catalog runtime key port is not in runtime_keys");
    cr_assert_eq(k->stage, MG_STAGE_RUNTIME);
    cr_assert_eq(k->type, MG_KEY_INT);
    cr_assert(k->has_value);
    cr_assert_eq(k->value.i, 80);
    cr_assert_null(fx_key(g, "port"), "a runtime key is not a configure key");
}

Test(keys, configure_value_bound_to_param)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'k',\n"
        " 'keys': {'e': {'stage': 'configure', 'type': 'enum', 'values': ['x', 'y'],\n"
        "                'default': 'x'}},\n"
        " 'devices': {'c': {'device': 'console', 'args': {'name': {'key': 'e'}}},\n"
        "             'app': {'main': 'start', 'type': 'console -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c']}]}",
        NULL, KEYS("e=y"));
    /* An enum key may feed a string param; the value is fixed at configure time. */
    cr_assert_str_eq(ARG_TEXT(g, ONLY(g, "console"), "name"), "y");
}

Test(keys, runtime_keys_sorted_and_bound)
{
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'web',\n"
        " 'keys': {'zeta': {'stage': 'runtime', 'type': 'int', 'doc': 'Required at boot.'},\n"
        "          'hello': {'stage': 'runtime', 'type': 'string', 'default': 'Hello',\n"
        "                    'doc': 'How to say hello.'},\n"
        "          'alpha': {'stage': 'runtime', 'type': 'ipv4_prefix',\n"
        "                    'default': '10.0.0.2/24'}},\n"
        " 'devices': {'c': {'device': 'console', 'args': {'name': {'key': 'hello'}}},\n"
        "             'web': {'device': 'http_server',\n"
        "                     'args': {'stack': {'device': 'generic_stack',\n"
        "                                        'args': {'network': 'default_network'}}}},\n"
        "             'app': {'main': 'serve', 'type': 'console -> http -> job',\n"
        "                     'sources': ['app.c'], 'runtime_keys': ['zeta', 'hello', 'alpha']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['c', 'web']}]}",
        "spt", NO_KEYS);
    static const char *const want[] = {"alpha", "hello", "port", "zeta"};
    cr_assert_eq(g->n_runtime_keys, 4, "expected 4 runtime keys, got %zu", g->n_runtime_keys);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(g->runtime_keys[i].name, want[i], "runtime key %zu", i);
        cr_assert_eq(g->runtime_keys[i].stage, MG_STAGE_RUNTIME);
    }
    cr_assert_str_eq(g->runtime_keys[1].value.text, "Hello");
    cr_assert_str_eq(g->runtime_keys[1].doc, "How to say hello.");
    cr_assert(!g->runtime_keys[3].has_value, "zeta has no default: it is required at boot");
    cr_assert_str_eq(g->runtime_keys[0].value.text, "10.0.0.2/24");
    cr_assert_eq(g->runtime_keys[0].value.prefix_len, 24);

    const mg_graph_arg *name = fx_arg(&g->nodes[ONLY(g, "console")], "name");
    cr_assert_not_null(name);
    cr_assert(name->runtime_key, "console name bound to runtime key hello should be read at boot");
    cr_assert_str_eq(name->key, "hello");
}

Test(keys, document_redeclares_catalog_key_default)
{
    /* Same name, stage and type: the document changes the default. */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'web',\n"
        " 'keys': {'port': {'stage': 'runtime', 'type': 'int', 'default': 8080,\n"
        "                   'doc': 'Our port.'}},\n"
        " 'devices': {'web': {'device': 'http_server',\n"
        "                     'args': {'stack': {'device': 'generic_stack',\n"
        "                                        'args': {'network': 'default_network'}}}},\n"
        "             'app': {'main': 'serve', 'type': 'http -> job', 'sources': ['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['web']}]}",
        NULL, NO_KEYS);
    const mg_graph_key *k = fx_runtime_key(g, "port");
    cr_assert_not_null(k);
    cr_assert_eq(k->value.i, 8080);
    cr_assert_eq(g->n_runtime_keys, 1, "port must appear once");

    g = RESOLVE_OK("{'mgd': 1, 'name': 'kv',\n"
                   " 'keys': {'kv_ro': {'stage': 'configure', 'type': 'enum',\n"
                   "                    'values': ['crunch', 'direct'], 'default': 'direct'}},\n"
                   " 'devices': {'data': {'device': 'generic_kv_ro', 'args': {'dir': 'd'}},\n"
                   "             'app': {'main': 'start', 'type': 'kv_ro -> job',\n"
                   "                     'sources': ['app.c']}},\n"
                   " 'jobs': [{'apply': 'app', 'to': ['data']}]}",
                   "unix", NO_KEYS);
    cr_assert_str_eq(fx_key(g, "kv_ro")->value.text, "direct");
    ONLY(g, "direct_kv_ro");
}

Test(keys, unused_catalog_runtime_key_is_not_in_output)
{
    mg_graph *g = RESOLVE_OK("{'mgd': 1, 'name': 't', 'jobs': ['noop']}", NULL, NO_KEYS);
    cr_assert_null(fx_runtime_key(g, "port"), "port belongs to http_server, not used here");
    cr_assert_null(fx_key(g, "kv_ro"));
    cr_assert_eq(g->n_keys, 2, "only target and arch");
}

Test(keys, scalar_params_literal_and_configure_key)
{
    const char *doc =
        "{'mgd': 1, 'name': 'web',\n"
        " 'keys': {'p': {'stage': 'configure', 'type': 'int', 'default': 8443}},\n"
        " 'devices': {'stack': {'device': 'generic_stack', 'args': {'network': "
        "'default_network'}},\n"
        "             'a': {'device': 'http_server', 'args': {'stack': 'stack', 'port': 443}},\n"
        "             'b': {'device': 'http_server', 'args': {'stack': 'stack', 'port': {'key': "
        "'p'}}},\n"
        "             'app': {'main': 'serve', 'type': 'http -> http -> job', 'sources': "
        "['app.c']}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['a', 'b']}]}";
    mg_graph *g = RESOLVE_OK(doc, NULL, KEYS("p=9000"));
    CHECK_GRAPH(g);
    cr_assert_eq(fx_count_impl(g, "http_server"), 2);
    ONLY(g, "direct_stack");
    const mg_graph_node *m = &g->nodes[ONLY(g, "main")];
    const mg_graph_arg *pa = fx_arg(&g->nodes[m->deps[0]], "port");
    const mg_graph_arg *pb = fx_arg(&g->nodes[m->deps[1]], "port");
    cr_assert(pa && pb);
    cr_assert(!pa->runtime_key && !pb->runtime_key, "fixed at configure time");
    cr_assert_eq(pa->value.i, 443);
    cr_assert_eq(pb->value.i, 9000);
    cr_assert_str_eq(pb->value.text, "9000");
    /* The port runtime key of http_server is not read by any node here, but
     * the entry is in the graph: its runtime key is the image's. */
    cr_assert_not_null(fx_runtime_key(g, "port"));
}

/* A configure key given twice with the build is refused: settling it by
 * the last one given would build something other than one of the two
 * asked for (a mutant that dropped the check survived every test). */
Test(keys, a_key_given_twice_is_refused)
{
    const char *doc =
        fx_jsonf("{'mgd': 1, 'name': 'k', 'keys': {'k': %s}, 'jobs': ['noop']}", INT_KEY);
    RESOLVE_OK(doc, NULL, KEYS("k=1"));
    mg_errors *errs = RESOLVE_FAIL(doc, NULL, KEYS("k=1", "k=2"));
    const mg_error *e = EXPECT_ERROR(errs, MG_ERR_BAD_KEY_VALUE, "k");
    EXPECT_MESSAGE(errs, e, "given twice");
}
