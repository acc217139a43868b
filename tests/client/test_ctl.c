/*
 * client/ctl and client/rest, the parts without a server: paths with
 * percent-encoded pieces, sizes and durations for people, and the checks
 * of the server URL.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/ctl.h"
#include "client/rest.h"

Test(ctl, path_encodes_segments)
{
    mg_buf b = {0};
    mg_ctl_path(&b, "/projects/%s/builds", "a b/\xc3\xa7");
    cr_assert_str_eq(mg_buf_str(&b), "/projects/a%20b%2F%C3%A7/builds");
    mg_buf_free(&b);
}

Test(ctl, path_encodes_query_values)
{
    mg_buf b = {0};
    mg_ctl_path(&b, "/builds?project=%q&status=%q", "x&y=z", "a+b?#");
    cr_assert_str_eq(mg_buf_str(&b), "/builds?project=x%26y%3Dz&status=a%2Bb%3F%23");
    mg_buf_free(&b);
}

Test(ctl, path_numbers_are_long_long)
{
    mg_buf b = {0};
    mg_ctl_path(&b, "/builds/%d/log?offset=%d", 9007199254740992LL, (long long)-1);
    cr_assert_str_eq(mg_buf_str(&b), "/builds/9007199254740992/log?offset=-1");
    mg_buf_clear(&b);
    /* after a number, string arguments still line up */
    mg_ctl_path(&b, "/p/%d/%s/%d", 1LL, "a/b", 2LL);
    cr_assert_str_eq(mg_buf_str(&b), "/p/1/a%2Fb/2");
    mg_buf_free(&b);
}

Test(ctl, path_keeps_unreserved_and_literal_text)
{
    mg_buf b = {0};
    mg_ctl_path(&b, "/a%%b/%s", "AZaz09-._~");
    cr_assert_str_eq(mg_buf_str(&b), "/a%b/AZaz09-._~");
    mg_buf_clear(&b);
    mg_ctl_path(&b, "/x/%s", "");
    cr_assert_str_eq(mg_buf_str(&b), "/x/");
    mg_buf_free(&b);
}

Test(ctl, rest_escape)
{
    mg_buf b = {0};
    mg_rest_escape(&b, "hello world/\xc3\xa7%:@!*'()");
    cr_assert_str_eq(mg_buf_str(&b), "hello%20world%2F%C3%A7%25%3A%40%21%2A%27%28%29");
    mg_buf_clear(&b);
    mg_rest_escape(&b, "\x01\x7f\xff");
    cr_assert_str_eq(mg_buf_str(&b), "%01%7F%FF");
    mg_buf_clear(&b);
    mg_buf_adds(&b, "pre-");
    mg_rest_escape(&b, "Safe-1.2_~");
    cr_assert_str_eq(mg_buf_str(&b), "pre-Safe-1.2_~", "escape appends");
    mg_buf_free(&b);
}

Test(ctl, fmt_size)
{
    char buf[32];
    mg_fmt_size(0, buf, sizeof buf);
    cr_assert_str_eq(buf, "0 B");
    mg_fmt_size(1023, buf, sizeof buf);
    cr_assert_str_eq(buf, "1023 B");
    mg_fmt_size(1024, buf, sizeof buf);
    cr_assert_str_eq(buf, "1.0 KiB");
    mg_fmt_size(1536, buf, sizeof buf);
    cr_assert_str_eq(buf, "1.5 KiB");
    mg_fmt_size(18739, buf, sizeof buf);
    cr_assert_str_eq(buf, "18.3 KiB");
    mg_fmt_size(5LL << 20, buf, sizeof buf);
    cr_assert_str_eq(buf, "5.0 MiB");
    mg_fmt_size(3LL << 30, buf, sizeof buf);
    cr_assert_str_eq(buf, "3.0 GiB");
    mg_fmt_size(2048LL << 40, buf, sizeof buf);
    cr_assert_str_eq(buf, "2048.0 TiB");
    /* a small buffer is cut, not overrun */
    char tiny[4];
    mg_fmt_size(1536, tiny, sizeof tiny);
    cr_assert_str_eq(tiny, "1.5");
}

Test(ctl, fmt_duration)
{
    char buf[32];
    mg_fmt_duration(0, buf, sizeof buf);
    cr_assert_str_eq(buf, "0 ms");
    mg_fmt_duration(999, buf, sizeof buf);
    cr_assert_str_eq(buf, "999 ms");
    mg_fmt_duration(1000, buf, sizeof buf);
    cr_assert_str_eq(buf, "1.0 s");
    mg_fmt_duration(4210, buf, sizeof buf);
    cr_assert_str_eq(buf, "4.2 s");
    mg_fmt_duration(119000, buf, sizeof buf);
    cr_assert_str_eq(buf, "119.0 s");
    mg_fmt_duration(125000, buf, sizeof buf);
    cr_assert_str_eq(buf, "2 min 5 s");
    mg_fmt_duration(-1, buf, sizeof buf);
    cr_assert_str_eq(buf, "-");
}

/* mg_rest_init with `url`: 0 and the base, or -1 and a message. */
static int init(const char *url, char *base, size_t size, mg_err *err)
{
    mg_rest r;
    mg_err_clear(err);
    int rc = mg_rest_init(&r, url, NULL, err);
    if (rc == 0) {
        cr_assert_not_null(r.base);
        snprintf(base, size, "%s", r.base);
        cr_assert_null(r.token);
        cr_assert_null(r.auth_header);
        cr_assert_gt(r.connect_timeout_ms, 0);
        cr_assert_gt(r.timeout_ms, 0);
        cr_assert_gt(r.stall_ms, 0);
    } else {
        cr_assert_null(r.base, "a failed init leaves nothing to free");
    }
    mg_rest_free(&r);
    cr_assert_null(r.base);
    return rc;
}

Test(rest, accepts_http_and_https)
{
    char base[256];
    mg_err err = {0};
    cr_assert_eq(init("http://localhost:8080", base, sizeof base, &err), 0, "%s", err.msg);
    cr_assert_str_eq(base, "http://localhost:8080");
    cr_assert_eq(init("https://mgd.example.org", base, sizeof base, &err), 0, "%s", err.msg);
    cr_assert_str_eq(base, "https://mgd.example.org");
    cr_assert_eq(init("http://127.0.0.1:9/", base, sizeof base, &err), 0, "%s", err.msg);
    cr_assert_str_eq(base, "http://127.0.0.1:9");
    cr_assert_eq(init("http://h/mgd/api//", base, sizeof base, &err), 0, "%s", err.msg);
    cr_assert_str_eq(base, "http://h/mgd/api");
    cr_assert_eq(init("http://[::1]:8080", base, sizeof base, &err), 0, "%s", err.msg);
    cr_assert_str_eq(base, "http://[::1]:8080");
    /* base never ends with '/' */
    cr_assert_neq(base[strlen(base) - 1], '/');
}

Test(rest, token_sets_the_header)
{
    mg_rest r;
    mg_err err = {0};
    cr_assert_eq(mg_rest_init(&r, "http://h:1", "s3cret", &err), 0, "%s", err.msg);
    cr_assert_str_eq(r.token, "s3cret");
    cr_assert_str_eq(r.auth_header, "Authorization: Bearer s3cret");
    char *url = mg_rest_url(&r, "/builds/1");
    cr_assert_str_eq(url, "http://h:1/builds/1");
    free(url);
    mg_rest_free(&r);
    cr_assert_null(r.token);
    cr_assert_null(r.auth_header);

    /* an empty token is no token */
    cr_assert_eq(mg_rest_init(&r, "http://h:1", "", &err), 0, "%s", err.msg);
    cr_assert_null(r.token);
    cr_assert_null(r.auth_header);
    mg_rest_free(&r);
}

static void refused(const char *url, const char *why)
{
    char base[256];
    mg_err err = {0};
    cr_assert_eq(init(url, base, sizeof base, &err), -1, "%s accepted", url);
    cr_assert_neq(err.msg[0], '\0', "%s: no message", url);
    if (why) cr_assert(strstr(err.msg, why), "%s: %s", url, err.msg);
}

Test(rest, refuses_bad_urls)
{
    refused("ftp://x", "http or https");
    refused("file:///tmp/sock", NULL);
    refused("http://", NULL);
    refused("http://h/?q=1", "scheme, host, port and path only");
    refused("http://h/#frag", "scheme, host, port and path only");
    refused("http://user:pw@h", "scheme, host, port and path only");
    refused("http://user@h:8080", NULL);
    refused("garbage", NULL);
    refused("", NULL);
    refused("http://h:notaport", NULL);
    refused("://h", NULL);
}

Test(rest, messages_name_the_url)
{
    char base[256];
    mg_err err = {0};
    cr_assert_eq(init("ftp://x", base, sizeof base, &err), -1);
    cr_assert(strstr(err.msg, "'ftp://x'"), "%s", err.msg);
    cr_assert_eq(init("http://user:pw@h", base, sizeof base, &err), -1);
    cr_assert(strstr(err.msg, "--token"), "%s", err.msg);
}

/* ---- what the server's JSON may hold ------------------------------------ */

Test(ctl, json_int_out_of_range_is_the_default)
{
    /* a number no long long holds: converting it is undefined (it came
     * out as LLONG_MIN); it is treated as absent */
    cJSON *o = cJSON_Parse("{\"big\": 1e300, \"small\": -1e300, \"edge\": 9.3e18, \"ok\": 42,"
                           " \"max\": 9007199254740992, \"neg\": -5}");
    cr_assert_not_null(o);
    cr_assert_eq(mg_json_int(o, "big", -7), -7);
    cr_assert_eq(mg_json_int(o, "small", -7), -7);
    cr_assert_eq(mg_json_int(o, "edge", -7), -7);
    cr_assert_eq(mg_json_int(o, "ok", -7), 42);
    cr_assert_eq(mg_json_int(o, "max", -7), 9007199254740992LL);
    cr_assert_eq(mg_json_int(o, "neg", -7), -5);
    cJSON_Delete(o);
}

/* ---- --key NAME=VALUE ---------------------------------------------------- */

static const mg_option key_options[] = {
    {"--key", 0, "NAME=VALUE", true, NULL, "a key"},
    MG_OPTION_END,
};

Test(ctl, long_key_names_are_not_cut)
{
    /* two names of 200 bytes that share their first 150: both are sent,
     * whole (they were cut to 127 bytes, and the second replaced the
     * first) */
    char a[256], b[256], name_a[201], name_b[201];
    memset(name_a, 'k', 200);
    name_a[200] = '\0';
    memcpy(name_b, name_a, sizeof name_b);
    name_b[150] = 'z';
    snprintf(a, sizeof a, "%s=1", name_a);
    snprintf(b, sizeof b, "%s=2", name_b);
    char *argv[] = {"--key", a, "--key", b, "--key", "x=3", "--key", "x=4"};
    const mg_option *const tables[1] = {key_options};
    mg_args args MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(mg_args_parse(&args, tables, 1, 8, argv, &err), 0, "%s", err.msg);
    mg_ctl c = {.args = &args, .command = "build"};
    cJSON *keys = mg_ctl_keys(&c);
    cr_assert_not_null(keys);
    cr_assert_eq(cJSON_GetArraySize(keys), 3);
    cr_assert_str_eq(mg_json_str(keys, name_a), "1");
    cr_assert_str_eq(mg_json_str(keys, name_b), "2");
    cr_assert_str_eq(mg_json_str(keys, "x"), "4"); /* the last one wins */
    cJSON_Delete(keys);
}
