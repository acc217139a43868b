/*
 * daemon/tokens.h and the token part of daemon/store.h: the token text
 * ("mgd_" + 43 base64url characters, fresh each time), its hash (sha256
 * hex), the constant-time comparison, and the store's token records
 * (create, check by hash with its scope, revoke, list, count).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/store.h"
#include "daemon/tokens.h"
#include "base/fsutil.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- token text, hash, comparison --------------------------------------- */

/* one timeout for every suite: Criterion 2.4's runner leaks a timer record
 * when suites of one binary have different timeouts (LeakSanitizer fails
 * the run) */
TestSuite(token_text, .timeout = 60);
TestSuite(token_hash, .timeout = 60);
TestSuite(scopes, .timeout = 60);

Test(token_text, has_the_documented_shape)
{
    char t[MG_TOKEN_TEXT_SIZE];
    memset(t, 'Z', sizeof t);
    cr_assert_eq(mg_token_new(t), 0);
    cr_assert_eq(strlen(t), 4 + 43, "token %s", t);
    cr_assert_eq(strncmp(t, "mgd_", 4), 0, "token %s", t);
    for (size_t i = 4; i < strlen(t); i++)
        cr_assert_not_null(strchr(b64url, t[i]), "character %zu of %s is not base64url", i, t);
}

Test(token_text, distinct_and_every_position_varies)
{
    enum { N = 200 };
    static char ts[N][MG_TOKEN_TEXT_SIZE];
    for (int i = 0; i < N; i++) {
        cr_assert_eq(mg_token_new(ts[i]), 0);
        cr_assert_eq(strlen(ts[i]), 47);
        int dup = -1;
        for (int j = 0; j < i && dup < 0; j++)
            if (!strcmp(ts[i], ts[j])) dup = j;
        cr_assert_eq(dup, -1, "tokens %d and %d are equal", dup, i);
    }
    /* all 43 characters carry randomness (the last one included): over 200
     * tokens each position takes many values, and all 64 letters occur */
    bool letters[64] = {0};
    for (int pos = 4; pos < 47; pos++) {
        bool seen[64] = {0};
        int distinct = 0;
        for (int i = 0; i < N; i++) {
            int v = (int)(strchr(b64url, ts[i][pos]) - b64url);
            if (!seen[v]) distinct++;
            seen[v] = letters[v] = true;
        }
        cr_assert_gt(distinct, 16, "position %d takes only %d values", pos, distinct);
    }
    for (int v = 0; v < 64; v++) cr_assert(letters[v], "'%c' never occurs", b64url[v]);
}

Test(token_hash, is_sha256_hex_of_the_text)
{
    char hex[65];
    mg_token_hash("abc", hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mg_token_hash("", hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    char t[MG_TOKEN_TEXT_SIZE], h1[65], h2[65];
    cr_assert_eq(mg_token_new(t), 0);
    mg_token_hash(t, h1);
    mg_token_hash(t, h2);
    cr_assert_str_eq(h1, h2, "the hash is a function of the text");
    cr_assert_eq(strlen(h1), 64);
    cr_assert_eq(strspn(h1, "0123456789abcdef"), 64, "lowercase hex: %s", h1);
    t[10] ^= 1;
    mg_token_hash(t, h2);
    cr_assert_str_neq(h1, h2);
}

Test(token_hash, equal_hex)
{
    const char *a = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char b[65];
    strcpy(b, a);
    cr_assert(mg_token_equal_hex(a, b));
    b[0] = 'c';
    cr_assert_not(mg_token_equal_hex(a, b), "differs in the first digit");
    strcpy(b, a);
    b[63] = 'e';
    cr_assert_not(mg_token_equal_hex(a, b), "differs in the last digit");
    strcpy(b, a);
    b[40] = 0;
    cr_assert_not(mg_token_equal_hex(a, b), "a prefix is not equal");
    cr_assert_not(mg_token_equal_hex(b, a), "nor the other way round");
    cr_assert_not(mg_token_equal_hex(a, ""));
    cr_assert(mg_token_equal_hex("", ""));
}

Test(scopes, names_round_trip)
{
    for (int s = MG_SCOPE_READ; s <= MG_SCOPE_ADMIN; s++)
        cr_assert_eq(mg_scope_parse(mg_scope_name((mg_scope)s)), s);
    cr_assert_str_eq(mg_scope_name(MG_SCOPE_READ), "read");
    cr_assert_str_eq(mg_scope_name(MG_SCOPE_WRITE), "write");
    cr_assert_str_eq(mg_scope_name(MG_SCOPE_ADMIN), "admin");
    cr_assert_str_eq(mg_scope_name(MG_SCOPE_NONE), "none");
    cr_assert_str_eq(mg_scope_name((mg_scope)42), "none");
    cr_assert_eq(mg_scope_parse("none"), MG_SCOPE_NONE);
    cr_assert_eq(mg_scope_parse("Admin"), MG_SCOPE_NONE);
    cr_assert_eq(mg_scope_parse(""), MG_SCOPE_NONE);
    cr_assert_eq(mg_scope_parse(NULL), MG_SCOPE_NONE);
}

/* Which scope passes which check, for every pair: a worker token has the
 * highest value of the enum yet passes only the worker routes (and the
 * routes any token may call), and admin passes them all (mutants that
 * compared a worker token by its value, or let a write token claim builds,
 * survived every test before this one). `any` is a route's need only. */
Test(scopes, allows_exactly_what_each_scope_grants)
{
    enum { N_HAVE = MG_SCOPE_WORKER + 1, N_NEED = MG_SCOPE_ANY + 1 };
    /* [have][need] */
    static const bool want[N_HAVE][N_NEED] = {
        [MG_SCOPE_NONE] = {[MG_SCOPE_NONE] = true},
        [MG_SCOPE_READ] = {[MG_SCOPE_NONE] = true, [MG_SCOPE_READ] = true, [MG_SCOPE_ANY] = true},
        [MG_SCOPE_WRITE] = {[MG_SCOPE_NONE] = true,
                            [MG_SCOPE_READ] = true,
                            [MG_SCOPE_WRITE] = true,
                            [MG_SCOPE_ANY] = true},
        [MG_SCOPE_ADMIN] = {true, true, true, true, true, true},
        [MG_SCOPE_WORKER] =
            {[MG_SCOPE_NONE] = true, [MG_SCOPE_WORKER] = true, [MG_SCOPE_ANY] = true},
    };
    for (int have = 0; have < N_HAVE; have++)
        for (int need = 0; need < N_NEED; need++)
            cr_assert_eq(mg_scope_allows((mg_scope)have, (mg_scope)need), want[have][need],
                         "a %s token %s a check for %s", mg_scope_name((mg_scope)have),
                         want[have][need] ? "must pass" : "must not pass",
                         mg_scope_name((mg_scope)need));
    /* no token is made with it */
    cr_assert_eq(mg_scope_parse("any"), MG_SCOPE_NONE);
}

/* ---- tokens in the store ------------------------------------------------ */

static char base[64];
static mg_store *st;
static mg_err err;

/* What a store call that returned `r` reported: MG_OK for success (0 or
 * an id), the code it left in `err` for -1 (base/err.h), and -100 for
 * any other value, which the store never returns. */
static int code_of(int64_t r)
{
    if (r == -1) return (int)err.code;
    return r >= 0 ? MG_OK : -100;
}

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/mgd-tokens-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    char path[128];
    snprintf(path, sizeof path, "%s/mgd.sqlite3", base);
    st = mg_store_open(path, false, &err);
    cr_assert_not_null(st, "open: %s", err.msg);
}

static void teardown(void)
{
    mg_store_close(st);
    st = NULL;
    mg_rm_rf(base);
}

TestSuite(token_store, .init = setup, .fini = teardown, .timeout = 60);

/* A fresh token stored under `name`; its hash in `hash`. */
static int64_t new_token(const char *name, mg_scope scope, char hash[65])
{
    char t[MG_TOKEN_TEXT_SIZE];
    cr_assert_eq(mg_token_new(t), 0);
    mg_token_hash(t, hash);
    int64_t id = mg_store_token_create(st, name, scope, hash, &err);
    cr_assert_gt(id, 0, "token_create: %s", err.msg);
    return id;
}

Test(token_store, fresh_database_has_none)
{
    cr_assert_eq(mg_store_token_count(st), 0);
    mg_token_row *ts;
    size_t n = 5;
    cr_assert_eq(mg_store_token_list(st, &ts, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 0);
    mg_token_rows_free(ts, n);
}

Test(token_store, create_and_check_give_the_scope)
{
    char hr[65], hw[65], ha[65];
    int64_t r = new_token("reader", MG_SCOPE_READ, hr);
    int64_t w = new_token("writer", MG_SCOPE_WRITE, hw);
    int64_t a = new_token("admin", MG_SCOPE_ADMIN, ha);
    cr_assert(r != w && w != a && r != a);

    int64_t id = -1;
    cr_assert_eq(mg_store_token_check(st, hr, &id), MG_SCOPE_READ);
    cr_assert_eq(id, r);
    cr_assert_eq(mg_store_token_check(st, hw, &id), MG_SCOPE_WRITE);
    cr_assert_eq(id, w);
    cr_assert_eq(mg_store_token_check(st, ha, &id), MG_SCOPE_ADMIN);
    cr_assert_eq(id, a);
    cr_assert_eq(mg_store_token_check(st, ha, NULL), MG_SCOPE_ADMIN, "id may be NULL");
    cr_assert_eq(mg_store_token_count(st), 3);
}

Test(token_store, wrong_hash_is_none)
{
    char h[65], other[65];
    new_token("t", MG_SCOPE_ADMIN, h);
    mg_token_hash("mgd_not-a-token", other);
    int64_t id = -1;
    cr_assert_eq(mg_store_token_check(st, other, &id), MG_SCOPE_NONE);
    cr_assert_eq(id, 0);
    /* one digit off */
    char near[65];
    strcpy(near, h);
    near[63] = near[63] == '0' ? '1' : '0';
    cr_assert_eq(mg_store_token_check(st, near, &id), MG_SCOPE_NONE);
    /* upper case is another text */
    char upper[65];
    for (int i = 0; i < 65; i++) upper[i] = (char)(h[i] >= 'a' && h[i] <= 'f' ? h[i] - 32 : h[i]);
    if (strcmp(upper, h)) cr_assert_eq(mg_store_token_check(st, upper, &id), MG_SCOPE_NONE);
    cr_assert_eq(mg_store_token_check(st, "", &id), MG_SCOPE_NONE);
    cr_assert_eq(mg_store_token_check(st, h, &id), MG_SCOPE_ADMIN, "the real one still works");
}

Test(token_store, same_hash_twice_is_refused)
{
    char h[65];
    new_token("t", MG_SCOPE_READ, h);
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_token_create(st, "again", MG_SCOPE_ADMIN, h, &err)),
                 MG_E_CONFLICT);
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_eq(mg_store_token_check(st, h, NULL), MG_SCOPE_READ, "the first keeps its scope");
    cr_assert_eq(mg_store_token_count(st), 1);
}

Test(token_store, scope_none_is_not_stored)
{
    char t[MG_TOKEN_TEXT_SIZE], h[65];
    cr_assert_eq(mg_token_new(t), 0);
    mg_token_hash(t, h);
    cr_assert_lt(mg_store_token_create(st, "none", MG_SCOPE_NONE, h, &err), 0);
    cr_assert_eq(mg_store_token_count(st), 0);
}

Test(token_store, revoke_makes_it_none)
{
    char h1[65], h2[65];
    int64_t t1 = new_token("one", MG_SCOPE_WRITE, h1);
    int64_t t2 = new_token("two", MG_SCOPE_READ, h2);
    cr_assert_eq(mg_store_token_revoke(st, t1, &err), 0, "%s", err.msg);
    int64_t id = -1;
    cr_assert_eq(mg_store_token_check(st, h1, &id), MG_SCOPE_NONE);
    cr_assert_eq(id, 0);
    cr_assert_eq(mg_store_token_check(st, h2, &id), MG_SCOPE_READ, "others unaffected");
    cr_assert_eq(id, t2);

    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_token_revoke(st, t1, &err)), MG_E_NOT_FOUND, "revoked twice");
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_eq(code_of(mg_store_token_revoke(st, 12345, &err)), MG_E_NOT_FOUND);
    /* revoked tokens still count (the first-start check must not mint a
     * new admin token because all were revoked) */
    cr_assert_eq(mg_store_token_count(st), 2);
}

Test(token_store, list_excludes_revoked_in_id_order)
{
    char h[65];
    int64_t before = mg_store_now_ms();
    int64_t a = new_token("a", MG_SCOPE_ADMIN, h);
    int64_t b = new_token("b", MG_SCOPE_READ, h);
    int64_t c = new_token("c", MG_SCOPE_WRITE, h);
    cr_assert_eq(mg_store_token_revoke(st, b, &err), 0);

    mg_token_row *ts;
    size_t n;
    cr_assert_eq(mg_store_token_list(st, &ts, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(ts[0].id, a);
    cr_assert_str_eq(ts[0].name, "a");
    cr_assert_eq(ts[0].scope, MG_SCOPE_ADMIN);
    cr_assert_geq(ts[0].created_at, before);
    cr_assert_leq(ts[0].created_at, mg_store_now_ms());
    cr_assert_eq(ts[0].last_used_at, 0, "never used");
    cr_assert_eq(ts[1].id, c);
    cr_assert_str_eq(ts[1].name, "c");
    cr_assert_eq(ts[1].scope, MG_SCOPE_WRITE);
    mg_token_rows_free(ts, n);
}

Test(token_store, check_records_last_use_at_most_once_a_minute)
{
    char h[65];
    int64_t id = new_token("used", MG_SCOPE_READ, h);
    int64_t before = mg_store_now_ms();
    cr_assert_eq(mg_store_token_check(st, h, NULL), MG_SCOPE_READ);

    mg_token_row *ts;
    size_t n;
    cr_assert_eq(mg_store_token_list(st, &ts, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(ts[0].id, id);
    int64_t used = ts[0].last_used_at;
    cr_assert_geq(used, before);
    mg_token_rows_free(ts, n);

    usleep(20000);
    cr_assert_eq(mg_store_token_check(st, h, NULL), MG_SCOPE_READ);
    cr_assert_eq(mg_store_token_list(st, &ts, &n, &err), 0);
    cr_assert_eq(ts[0].last_used_at, used, "a second use within the minute writes nothing");
    mg_token_rows_free(ts, n);
}

Test(token_store, a_null_name_is_stored_as_empty)
{
    char t[MG_TOKEN_TEXT_SIZE], h[65];
    cr_assert_eq(mg_token_new(t), 0);
    mg_token_hash(t, h);
    cr_assert_gt(mg_store_token_create(st, NULL, MG_SCOPE_READ, h, &err), 0, "%s", err.msg);
    mg_token_row *ts;
    size_t n;
    cr_assert_eq(mg_store_token_list(st, &ts, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(ts[0].name, "");
    mg_token_rows_free(ts, n);
}
