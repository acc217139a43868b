/*
 * tokens.h - API tokens: random text shown once, stored only as a hash.
 *
 * A token is "mgd_" followed by 43 base64url characters: 256 bits from
 * getrandom(2). The store keeps the sha256 of the whole text; an incoming
 * token is hashed and looked up by that hash, and the stored hash is
 * compared with the computed one in constant time, so timing says nothing
 * about how much of a guess was right.
 */
#ifndef MG_DAEMON_TOKENS_H
#define MG_DAEMON_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/sha256.h"

#define MG_TOKEN_TEXT_SIZE 48 /* "mgd_" + 43 characters + NUL */

/* A fresh token. 0, or -1 when the system has no randomness to give. */
int mg_token_new(char out[MG_TOKEN_TEXT_SIZE]);
/* The sha256 (hex) under which a token is stored. */
void mg_token_hash(const char *text, char hex[MG_SHA256_HEX_SIZE]);
/* Whether two hex hashes are equal, in time independent of where they differ. */
bool mg_token_equal_hex(const char *a, const char *b);

#endif
