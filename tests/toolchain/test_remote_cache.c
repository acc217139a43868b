/*
 * The remote cache's parts that need no server (tests/build/remote_cache.sh
 * runs it against nginx): URL and credentials checks, the record format
 * shared with the local store (encode, and decode rejecting any change),
 * and a session whose server refuses connections: switched off at the
 * first request, quickly, answering "not found" and dropping uploads.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/deadline.h"
#include "base/fsutil.h"
#include "toolchain/cache.h"
#include "toolchain/remote_cache.h"

static char root[64];
static mg_err err;

static void setup(void)
{
    strcpy(root, "/tmp/mgd-test-remote-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
    mg_rm_rf(root);
}

TestSuite(remote, .init = setup, .fini = teardown);

Test(remote, urls)
{
    static const char *const good[] = {"http://cache:8080/mgd", "https://cache.example/",
                                       "HTTP://10.0.0.2", "http://[::1]:8080/a/b"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(mg_remote_url_valid(good[i], &err), "%s: %s", good[i], err.msg);
    static const char *const bad[] = {"",
                                      "ftp://cache/",
                                      "cache:8080",
                                      "http://",
                                      "http:///path",
                                      "http://c/a?x=1",
                                      "http://c/#a",
                                      "http://c/a b",
                                      "file:///tmp/x",
                                      "http://user:pass@cache/mgd",
                                      "https://token@cache:8443"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect(!mg_remote_url_valid(bad[i], &err), "%s accepted", bad[i]);
    cr_expect(!mg_remote_url_valid("ftp://x/", &err));
    cr_expect(strstr(err.msg, "not an http:// or https:// URL"), "%s", err.msg);
    /* credentials in the URL would be printed with it: pointed to the file */
    cr_expect(!mg_remote_url_valid("http://u:p@c/", &err));
    cr_expect(strstr(err.msg, "--remote-cache-credentials"), "%s", err.msg);
    /* an '@' after the host is a path, not credentials */
    cr_expect(mg_remote_url_valid("http://c/a@b", &err), "%s", err.msg);
    /* the keys are appended after one '/' */
    mg_remote_config cfg;
    cr_assert_eq(mg_remote_config_init(&cfg, "http://c:1/base///", false, NULL, &err), 0, "%s",
                 err.msg);
    cr_expect_str_eq(cfg.url, "http://c:1/base");
    cr_expect_eq(cfg.connect_timeout_ms, 100);
    cr_expect_null(cfg.authorization);
    mg_remote_config_free(&cfg);
}

static char *write_file(const char *name, const char *text, mode_t mode)
{
    char *path = mg_path_join(root, name);
    cr_assert_eq(mg_file_write_atomic(path, text, strlen(text), 0600), 0);
    cr_assert_eq(chmod(path, mode), 0);
    return path;
}

Test(remote, credentials)
{
    mg_remote_config cfg;
    char *open_to_all = write_file("all", "Bearer secret\n", 0644);
    cr_expect_eq(mg_remote_config_init(&cfg, "http://c/", false, open_to_all, &err), -1);
    cr_expect(strstr(err.msg, "read by other users"), "%s", err.msg);
    /* the group is other users too */
    char *group = write_file("group", "Bearer secret\n", 0640);
    cr_expect_eq(mg_remote_config_init(&cfg, "http://c/", false, group, &err), -1);
    cr_expect(strstr(err.msg, "read by other users"), "%s", err.msg);
    free(group);

    char *mine = write_file("mine", "Basic dXNlcjpwYXNz\r\nignored\n", 0600);
    cr_assert_eq(mg_remote_config_init(&cfg, "http://c/", true, mine, &err), 0, "%s", err.msg);
    cr_expect_str_eq(cfg.authorization, "Basic dXNlcjpwYXNz");
    cr_expect(cfg.read_only);
    mg_remote_config_free(&cfg);

    char *empty = write_file("empty", "\nBearer x\n", 0600);
    cr_expect_eq(mg_remote_config_init(&cfg, "http://c/", false, empty, &err), -1);
    cr_expect(strstr(err.msg, "empty"), "%s", err.msg);

    char *missing = mg_path_join(root, "missing");
    cr_expect_eq(mg_remote_config_init(&cfg, "http://c/", false, missing, &err), -1);
    cr_expect_eq(err.code, MG_E_IO);
    free(open_to_all);
    free(mine);
    free(empty);
    free(missing);
}

static const char *const two_blobs[] = {
    "0000000000000000000000000000000000000000000000000000000000000001",
    "00000000000000000000000000000000000000000000000000000000000000ff"};

/* What travels to /ac/ is byte for byte the local store's file, so either
 * side checks the other's the same way. */
Test(remote, record_format_is_the_stores)
{
    mg_cache *c = mg_cache_open(root, &err);
    cr_assert_not_null(c, "%s", err.msg);
    const char *payload = "{\"outputs\":[]}";
    char sha[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(c, "x", 1, sha, &err), 0);
    const char *blobs[] = {sha};
    const char *key = two_blobs[0];
    cr_assert_eq(mg_cache_record_put(c, key, payload, strlen(payload), blobs, 1, &err), 0);
    size_t len;
    char *file = mg_cache_record_encode(payload, strlen(payload), blobs, 1, &len, &err);
    cr_assert_not_null(file);
    char path[4200];
    snprintf(path, sizeof path, "%s/records/%.2s/%s", mg_cache_path(c), key, key);
    size_t stored_len;
    char *stored = mg_file_read(path, 1 << 20, &stored_len);
    cr_assert_not_null(stored);
    cr_expect_eq(stored_len, len);
    cr_expect_eq(memcmp(stored, file, len), 0);
    free(stored);
    free(file);
    mg_cache_close(c);
}

Test(remote, decode_rejects_any_change)
{
    const char *payload = "{\"outputs\":[{\"sha256\":\"ab\"}]}";
    size_t len;
    char *file = mg_cache_record_encode(payload, strlen(payload), two_blobs, 2, &len, &err);
    cr_assert_not_null(file, "%s", err.msg);
    const char *p, *blobs;
    size_t plen, n;
    cr_assert(mg_cache_record_decode(file, len, &p, &plen, &blobs, &n));
    cr_expect_eq(plen, strlen(payload));
    cr_expect_eq(memcmp(p, payload, plen), 0);
    cr_expect_eq(n, 2);
    cr_expect_eq(memcmp(blobs + 65, two_blobs[1], 64), 0);
    /* every single byte flipped, anywhere: refused */
    for (size_t i = 0; i < len; i++) {
        char *copy = malloc(len + 1);
        memcpy(copy, file, len + 1);
        copy[i] ^= 0x01;
        cr_expect(!mg_cache_record_decode(copy, len, &p, &plen, &blobs, &n), "byte %zu", i);
        free(copy);
    }
    /* truncated, or with more after it */
    char *longer = malloc(len + 2);
    memcpy(longer, file, len);
    longer[len] = '\n';
    longer[len + 1] = '\0';
    cr_expect(!mg_cache_record_decode(longer, len + 1, &p, &plen, &blobs, &n));
    char saved = file[len - 1];
    file[len - 1] = '\0';
    cr_expect(!mg_cache_record_decode(file, len - 1, &p, &plen, &blobs, &n));
    file[len - 1] = saved;
    /* not a record at all */
    cr_expect(!mg_cache_record_decode("<html>404</html>", 16, &p, &plen, &blobs, &n));
    free(longer);
    free(file);
    cr_expect_null(mg_cache_record_encode("x", 1, (const char *[]){"nothex"}, 1, &len, &err));
    cr_expect_eq(err.code, MG_E_INVALID);
}

/* A port on 127.0.0.1 where nothing listens: connections are refused. */
static unsigned refused_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

Test(remote, a_dead_server_switches_it_off)
{
    mg_cache *c = mg_cache_open(root, &err);
    cr_assert_not_null(c);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/mgd", refused_port());
    mg_remote_config cfg;
    cr_assert_eq(mg_remote_config_init(&cfg, url, false, NULL, &err), 0);
    mg_remote *r = mg_remote_open(&cfg, c);
    cr_assert_not_null(r);
    uint64_t t0 = mg_now_ms();
    mg_remote_prefetch(r, two_blobs, 2);
    char *data;
    size_t len;
    cr_expect_eq(mg_remote_record_get(r, two_blobs[0], &data, &len, &err), -1);
    cr_expect_eq(err.code, MG_E_NOT_FOUND);
    cr_expect_null(data);
    /* off now: no more requests, even for a key never asked */
    const char *other = "1111111111111111111111111111111111111111111111111111111111111111";
    cr_expect_eq(mg_remote_record_get(r, other, &data, &len, &err), -1);
    cr_expect_eq(mg_remote_blob_get(r, other, &err), -1);
    cr_expect_eq(err.code, MG_E_NOT_FOUND);
    mg_remote_upload(r, other, "x", 1, NULL, 0);
    mg_remote_flush(r, UINT64_MAX);
    cr_expect_lt(mg_ms_since(t0), 1000, "a refused connection took %llu ms",
                 (unsigned long long)mg_ms_since(t0));
    mg_remote_stats s;
    mg_remote_stats_get(r, &s);
    cr_expect_eq(s.requests, 2, "requests %llu", (unsigned long long)s.requests);
    cr_expect_eq(s.waves, 1);
    cr_expect_eq(s.errors, 1);
    cr_expect_eq(s.hits + s.misses, 0);
    cr_expect_not_null(mg_remote_off_reason(r));
    mg_remote_close(r);
    mg_remote_config_free(&cfg);
    mg_cache_close(c);
}

Test(remote, read_only_never_writes)
{
    mg_cache *c = mg_cache_open(root, &err);
    cr_assert_not_null(c);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/mgd", refused_port());
    mg_remote_config cfg;
    cr_assert_eq(mg_remote_config_init(&cfg, url, true, NULL, &err), 0);
    mg_remote *r = mg_remote_open(&cfg, c);
    mg_remote_upload(r, two_blobs[0], "x", 1, NULL, 0);
    mg_remote_flush(r, UINT64_MAX);
    mg_remote_stats s;
    mg_remote_stats_get(r, &s);
    /* not even tried (a try would have failed and counted an error) */
    cr_expect_eq(s.requests, 0);
    cr_expect_eq(s.errors, 0);
    cr_expect_null(mg_remote_off_reason(r));
    mg_remote_close(r);
    mg_remote_config_free(&cfg);
    mg_cache_close(c);
}
