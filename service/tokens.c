/*
 * tokens.c - making and revoking API tokens. A token's text is made
 * here, returned once and stored only as its hash (daemon/tokens.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "service/internal.h"

int mg_service_token_create(mg_service *svc, const char *name, const char *scope_name,
                            mg_token_row *out, char token[MG_TOKEN_TEXT_SIZE], mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    mg_scope scope = mg_scope_parse(scope_name);
    if (scope == MG_SCOPE_NONE)
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"scope\" must be \"read\", \"write\", \"admin\" or \"worker\"");
    if (strlen(name) > 200)
        return mg_err_set(&e->err, MG_E_INVALID, "field \"name\" is longer than 200 bytes");
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20)
            return mg_err_set(&e->err, MG_E_INVALID, "field \"name\" contains a control character");
    char hash[MG_SHA256_HEX_SIZE];
    if (mg_token_new(token) != 0)
        return mg_err_set(&e->err, MG_E_BUSY, "the system has no randomness to make a token now");
    mg_token_hash(token, hash);
    int64_t id = mg_store_token_create(svc->o.store, name, scope, hash, &e->err);
    if (id < 0) {
        memset(token, 0, MG_TOKEN_TEXT_SIZE);
        return -1;
    }
    /* created_at as stored: read the row back; the token exists by now,
     * so a failed read shows the time of the insert, a few ms off, rather
     * than losing the token's text (shown only now) to an error */
    int64_t created = mg_store_now_ms();
    mg_token_row *rows = NULL;
    size_t n = 0;
    if (mg_store_token_list(svc->o.store, &rows, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            if (rows[i].id == id) created = rows[i].created_at;
    mg_token_rows_free(rows, n);
    *out =
        (mg_token_row){.id = id, .name = mg_xstrdup(name), .scope = scope, .created_at = created};
    return 0;
}

int mg_service_token_revoke(mg_service *svc, int64_t id, mg_service_err *e)
{
    if (mg_store_token_revoke(svc->o.store, id, &e->err) == 0) return 0;
    if (e->err.code == MG_E_NOT_FOUND)
        return mg_err_set(&e->err, MG_E_NOT_FOUND, "no token %lld", (long long)id);
    return -1;
}
