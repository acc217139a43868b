/*
 * tokens.c - API token text, hashing and constant-time comparison.
 */
#include "daemon/tokens.h"

#include <string.h>
#include <sys/random.h>

#include "base/sha256.h"

int mg_token_new(char out[MG_TOKEN_TEXT_SIZE])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    /* 43 characters of 6 bits: 258 bits drawn, 256 used at least */
    memcpy(out, "mgd_", 4);
    unsigned bits = 0, acc = 0, o = 4;
    for (size_t i = 0; i < sizeof raw && o < 4 + 43; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6 && o < 4 + 43) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 63];
        }
    }
    out[o] = 0;
    memset(raw, 0, sizeof raw);
    return 0;
}

void mg_token_hash(const char *text, char hex[MG_SHA256_HEX_SIZE])
{
    mg_sha256_bytes_hex(text, strlen(text), hex);
}

bool mg_token_equal_hex(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
