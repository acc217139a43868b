/*
 * API tokens through the service: made with a scope and a name, shown
 * once, stored by hash, revoked; bad scopes and names refused; store
 * failures surface.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

TestSuite(service_tokens, .init = fixture_setup, .fini = fixture_teardown);

Test(service_tokens, create_check_and_revoke)
{
    mg_service_err e = {0};
    mg_token_row t;
    char token[MG_TOKEN_TEXT_SIZE];
    cr_assert_eq(mg_service_token_create(&fx.svc, "ci", "write", &t, token, &e), 0, "%s",
                 e.err.msg);
    cr_assert_str_eq(t.name, "ci");
    cr_assert_eq(t.scope, MG_SCOPE_WRITE);
    cr_assert_gt(t.created_at, 0);
    cr_assert_eq(strncmp(token, "mgd_", 4), 0);
    char hash[MG_SHA256_HEX_SIZE];
    mg_token_hash(token, hash);
    int64_t id = 0;
    cr_assert_eq(mg_store_token_check(fx.store, hash, &id), MG_SCOPE_WRITE);
    cr_assert_eq(id, t.id);
    cr_assert_eq(mg_service_token_revoke(&fx.svc, t.id, &e), 0, "%s", e.err.msg);
    cr_assert_eq(mg_store_token_check(fx.store, hash, &id), MG_SCOPE_NONE);
    cr_assert_eq(mg_service_token_revoke(&fx.svc, 999999, &e), -1);
    cr_assert_eq(e.err.code, MG_E_NOT_FOUND);
    mg_service_err_free(&e);
    mg_token_row_free(&t);
}

Test(service_tokens, create_refuses_bad_scopes_and_names)
{
    mg_service_err e = {0};
    mg_token_row t;
    char token[MG_TOKEN_TEXT_SIZE];
    cr_assert_eq(mg_service_token_create(&fx.svc, "x", "root", &t, token, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    cr_assert(strstr(e.err.msg, "scope"), "%s", e.err.msg);
    mg_service_err_free(&e);
    cr_assert_eq(mg_service_token_create(&fx.svc, "a\nb", "read", &t, token, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    cr_assert_eq(mg_service_token_create(&fx.svc, long_name, "read", &t, token, &e), -1);
    cr_assert_eq(e.err.code, MG_E_INVALID);
    mg_service_err_free(&e);
}

Test(service_tokens, create_surfaces_a_store_failure)
{
    inject_store_failure("CREATE TRIGGER fail BEFORE INSERT ON tokens"
                         " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    mg_service_err e = {0};
    mg_token_row t;
    char token[MG_TOKEN_TEXT_SIZE];
    cr_assert_eq(mg_service_token_create(&fx.svc, "ci", "admin", &t, token, &e), -1);
    cr_assert_eq(e.err.code, MG_E_IO);
    cr_assert(strstr(e.err.msg, "injected failure"), "%s", e.err.msg);
    mg_service_err_free(&e);
}
