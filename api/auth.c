/*
 * auth.c - bearer tokens to scopes.
 *
 * The token text is hashed (sha256) and looked up by hash in the store,
 * which compares the stored hash in constant time and updates last_used_at
 * at most once a minute, so a request costs one indexed SELECT and no
 * write. Texts longer than any token mgd issues are refused unhashed.
 */
#include <string.h>

#include "api/internal.h"
#include "daemon/tokens.h"

/* Tokens are 47 characters; anything much longer is not one of ours. */
#define MG_TOKEN_MAX_TEXT 256

mg_scope mg_auth_check(mg_api *a, const char *authorization, int64_t *token_id)
{
    size_t n;
    const char *tok = mg_bearer_token(authorization, &n);
    *token_id = 0;
    if (!tok || n > MG_TOKEN_MAX_TEXT) return MG_SCOPE_NONE;
    char text[MG_TOKEN_MAX_TEXT + 1], hash[MG_SHA256_HEX_SIZE];
    memcpy(text, tok, n);
    text[n] = 0;
    mg_token_hash(text, hash);
    memset(text, 0, sizeof text);
    return mg_store_token_check(a->o.store, hash, token_id);
}
