/*
 * Routing: patterns with parameters and wildcards, 404 vs 405 and Allow,
 * percent-decoding of path segments, query strings.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "api/router.h"

static const mg_route routes[] = {
    {MG_HTTP_GET, "/", 0, NULL, 0},
    {MG_HTTP_GET, "/projects", 1, NULL, 0},
    {MG_HTTP_POST, "/projects", 2, NULL, 0},
    {MG_HTTP_GET, "/projects/:id", 1, NULL, 0},
    {MG_HTTP_PATCH, "/projects/:id", 2, NULL, 0},
    {MG_HTTP_DELETE, "/projects/:id", 3, NULL, 0},
    {MG_HTTP_GET, "/projects/:id/builds", 1, NULL, 0},
    {MG_HTTP_GET, "/projects/:id/builds/latest", 1, NULL, 0},
    {MG_HTTP_GET, "/builds/:id/log", 1, NULL, 0},
    {MG_HTTP_DELETE, "/tokens/:id", 3, NULL, 0},
    {MG_HTTP_GET, "/ui/*", 0, NULL, 0},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static mg_route_match m;

static mg_route_result match(mg_http_method meth, const char *path)
{
    return mg_router_match(routes, N_ROUTES, meth, path, &m);
}

Test(router, literal_and_root)
{
    cr_assert_eq(match(MG_HTTP_GET, "/projects"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[1]);
    cr_assert_eq(m.n_params, 0);
    cr_assert_eq(match(MG_HTTP_GET, "/"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[0]);
    cr_assert_eq(match(MG_HTTP_POST, "/projects"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[2]);
}

Test(router, parameters)
{
    cr_assert_eq(match(MG_HTTP_GET, "/projects/hello/builds/latest"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[7]);
    cr_assert_eq(m.n_params, 1);
    cr_assert_str_eq(m.params[0], "hello");
    cr_assert_eq(match(MG_HTTP_GET, "/projects/42/builds"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[6]);
    cr_assert_str_eq(m.params[0], "42");
    cr_assert_eq(match(MG_HTTP_DELETE, "/projects/x"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[5]);
}

Test(router, head_is_get)
{
    cr_assert_eq(match(MG_HTTP_HEAD, "/builds/7/log"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[8]);
    cr_assert_str_eq(m.params[0], "7");
}

Test(router, not_found)
{
    const char *paths[] = {"/nothing",      "/projects/",
                           "/projects/x/y", "//projects",
                           "projects",      "/projects/x/builds/latest/more",
                           "/builds//log",  ""};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        cr_assert_eq(match(MG_HTTP_GET, paths[i]), MG_ROUTE_NOT_FOUND, "%s", paths[i]);
}

Test(router, method_not_allowed_and_allow)
{
    cr_assert_eq(match(MG_HTTP_PUT, "/projects"), MG_ROUTE_METHOD_NOT_ALLOWED);
    char allow[64];
    mg_router_allow_text(m.allow, allow, sizeof allow);
    cr_assert_str_eq(allow, "GET, HEAD, POST");
    cr_assert_eq(match(MG_HTTP_POST, "/projects/p"), MG_ROUTE_METHOD_NOT_ALLOWED);
    mg_router_allow_text(m.allow, allow, sizeof allow);
    cr_assert_str_eq(allow, "GET, HEAD, PATCH, DELETE");
    cr_assert_eq(match(MG_HTTP_GET, "/tokens/3"), MG_ROUTE_METHOD_NOT_ALLOWED);
    mg_router_allow_text(m.allow, allow, sizeof allow);
    cr_assert_str_eq(allow, "DELETE");
    cr_assert_eq(match(MG_HTTP_OTHER, "/projects"), MG_ROUTE_METHOD_NOT_ALLOWED);
}

Test(router, wildcard)
{
    cr_assert_eq(match(MG_HTTP_GET, "/ui/"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[10]);
    cr_assert_eq(match(MG_HTTP_GET, "/ui/a/b/c.js"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[10]);
    cr_assert_eq(match(MG_HTTP_GET, "/ui"), MG_ROUTE_FOUND);
}

Test(router, percent_decoding)
{
    cr_assert_eq(match(MG_HTTP_GET, "/projects/h%65llo"), MG_ROUTE_FOUND);
    cr_assert_str_eq(m.params[0], "hello");
    /* an escaped slash stays inside its segment */
    cr_assert_eq(match(MG_HTTP_GET, "/projects/a%2Fb"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[3]);
    cr_assert_str_eq(m.params[0], "a/b");
    /* literals may be escaped too */
    cr_assert_eq(match(MG_HTTP_GET, "/%70rojects"), MG_ROUTE_FOUND);
    cr_assert_eq(m.route, &routes[1]);
    /* '+' is not a space in paths */
    cr_assert_eq(match(MG_HTTP_GET, "/projects/a+b"), MG_ROUTE_FOUND);
    cr_assert_str_eq(m.params[0], "a+b");
}

Test(router, bad_paths)
{
    const char *paths[] = {"/projects/%00", "/projects/%",    "/projects/%4",
                           "/projects/%zz", "/projects/a%g1", "/%00/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        cr_assert_eq(match(MG_HTTP_GET, paths[i]), MG_ROUTE_BAD_PATH, "%s", paths[i]);
}

Test(router, long_paths)
{
    char path[MG_PATH_MAX + 16];
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    cr_assert_eq(match(MG_HTTP_GET, path), MG_ROUTE_NOT_FOUND);
    /* too many segments */
    char many[256] = "";
    for (int i = 0; i < 40; i++) strcat(many, "/x");
    cr_assert_eq(match(MG_HTTP_GET, many), MG_ROUTE_NOT_FOUND);
}

Test(router, methods)
{
    cr_assert_eq(mg_http_method_parse("GET"), MG_HTTP_GET);
    cr_assert_eq(mg_http_method_parse("PATCH"), MG_HTTP_PATCH);
    cr_assert_eq(mg_http_method_parse("get"), MG_HTTP_OTHER);
    cr_assert_eq(mg_http_method_parse("BREW"), MG_HTTP_OTHER);
    cr_assert_str_eq(mg_http_method_name(MG_HTTP_DELETE), "DELETE");
}

Test(url_decode, cases)
{
    char out[64];
    cr_assert_eq(mg_url_decode("a%20b+c", 7, true, out), 5);
    cr_assert_str_eq(out, "a b c");
    cr_assert_eq(mg_url_decode("a%20b+c", 7, false, out), 5);
    cr_assert_str_eq(out, "a b+c");
    cr_assert_eq(mg_url_decode("%C3%A9", 6, false, out), 2);
    cr_assert_str_eq(out, "\xC3\xA9");
    cr_assert_eq(mg_url_decode("%2", 2, false, out), -1);
    cr_assert_eq(mg_url_decode("%", 1, false, out), -1);
    cr_assert_eq(mg_url_decode("x%00", 4, false, out), -1);
    /* only the first n bytes count */
    cr_assert_eq(mg_url_decode("ab%41", 3, false, out), -1);
    cr_assert_eq(mg_url_decode("ab%41", 2, false, out), 2);
}

Test(query, parse_and_get)
{
    mg_query q;
    mg_query_init(&q);
    cr_assert_eq(mg_query_parse(&q, "status=queued%2Crunning&target=unix&flag&key=a%3D1&key=b=2"),
                 MG_QUERY_OK);
    cr_assert_eq(q.n, 5);
    cr_assert_str_eq(mg_query_get(&q, "status"), "queued,running");
    cr_assert_str_eq(mg_query_get(&q, "target"), "unix");
    cr_assert_str_eq(mg_query_get(&q, "flag"), "");
    cr_assert_str_eq(mg_query_get(&q, "key"), "a=1");
    cr_assert_str_eq(q.items[4].key, "key");
    cr_assert_str_eq(q.items[4].value, "b=2");
    cr_assert_null(mg_query_get(&q, "nope"));
}

Test(query, plus_and_empty_parts)
{
    mg_query q;
    mg_query_init(&q);
    cr_assert_eq(mg_query_parse(&q, "&&a=x+y&&b=&"), MG_QUERY_OK);
    cr_assert_eq(q.n, 2);
    cr_assert_str_eq(mg_query_get(&q, "a"), "x y");
    cr_assert_str_eq(mg_query_get(&q, "b"), "");
}

Test(query, bad_and_too_many)
{
    mg_query q;
    mg_query_init(&q);
    cr_assert_eq(mg_query_parse(&q, "a=%zz"), MG_QUERY_BAD);
    mg_query_init(&q);
    cr_assert_eq(mg_query_parse(&q, "a=%00"), MG_QUERY_BAD);
    mg_query_init(&q);
    cr_assert_eq(mg_query_add_raw(&q, "a%2", "1", false), MG_QUERY_BAD);
    cr_assert_eq(q.n, 0);
    cr_assert_eq(q.used, 0, "a failed add leaves nothing behind");

    mg_query_init(&q);
    for (int i = 0; i < MG_QUERY_MAX; i++)
        cr_assert_eq(mg_query_add_raw(&q, "k", "v", false), MG_QUERY_OK);
    cr_assert_eq(mg_query_add_raw(&q, "k", "v", false), MG_QUERY_TOO_MANY);

    mg_query_init(&q);
    static char big[MG_QUERY_BYTES + 10];
    memset(big, 'x', sizeof big - 1);
    cr_assert_eq(mg_query_add_raw(&q, "k", big, false), MG_QUERY_TOO_MANY);
}

Test(query, raw_values_from_the_server)
{
    /* libmicrohttpd hands raw pairs, '+' already turned into a space */
    mg_query q;
    mg_query_init(&q);
    cr_assert_eq(mg_query_add_raw(&q, "name", "a b%2Bc", false), MG_QUERY_OK);
    cr_assert_eq(mg_query_add_raw(&q, "flag", NULL, false), MG_QUERY_OK);
    cr_assert_str_eq(mg_query_get(&q, "name"), "a b+c");
    cr_assert_str_eq(mg_query_get(&q, "flag"), "");
}
