/*
 * random.h - the random module type (MirageOS's Mirage_crypto_rng):
 * cryptographically secure random bytes.
 *
 * `chacha_random` is a ChaCha20 generator (RFC 8439 block function) with
 * fast key erasure: each request is served from the keystream of the
 * current key, and before returning the generator replaces its key with
 * fresh keystream it never hands out, so a later compromise of the state
 * reveals nothing about bytes already returned. It is seeded from the
 * platform's entropy source at connect (connect fails with MG_EIO without
 * it) and reseeded every 1 MiB of output by mixing fresh entropy into the
 * key; if the platform has none to give at a reseed, the generator goes on
 * with its current key (still secure) and retries at the next request.
 */
#ifndef MG_RANDOM_H
#define MG_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_random mg_random;

int mg_random_connect(mg_random **out);

/* Fills `buf` with `len` random bytes. Returns MG_OK or a status. */
int mg_random_fill(mg_random *r, void *buf, size_t len);

/* The ChaCha20 block function of RFC 8439 section 2.3: 64 bytes of
 * keystream for (key, counter, nonce). Exposed for its test vectors and for
 * other libraries that need the cipher. */
void mg_random_chacha20_block(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12],
                              uint8_t out[64]);

/* For implementations: a random starts with its operations table. */
struct mg_random_ops {
    int (*fill)(mg_random *r, void *buf, size_t len);
};
struct mg_random {
    const struct mg_random_ops *ops;
};

#endif
