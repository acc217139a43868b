/*
 * chacha20.c - the ChaCha20 block function of RFC 8439 (section 2.3),
 * written from the RFC: 20 rounds over a 4x4 matrix of 32-bit words
 * (constants, 256-bit key, 32-bit block counter, 96-bit nonce), then the
 * input added back and the result serialised little-endian.
 *
 * Plain C with no table lookups and no data-dependent branches, so its
 * timing does not depend on the key.
 */
#include <string.h>

#include "mg/random.h"

static uint32_t mg_chacha20_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void mg_chacha20_store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t mg_chacha20_rotl(uint32_t v, int n)
{
    return v << n | v >> (32 - n);
}

static void mg_chacha20_quarter(uint32_t *x, int a, int b, int c, int d)
{
    x[a] += x[b];
    x[d] = mg_chacha20_rotl(x[d] ^ x[a], 16);
    x[c] += x[d];
    x[b] = mg_chacha20_rotl(x[b] ^ x[c], 12);
    x[a] += x[b];
    x[d] = mg_chacha20_rotl(x[d] ^ x[a], 8);
    x[c] += x[d];
    x[b] = mg_chacha20_rotl(x[b] ^ x[c], 7);
}

void mg_random_chacha20_block(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12],
                              uint8_t out[64])
{
    uint32_t in[16], x[16];
    /* "expand 32-byte k" as four little-endian words */
    in[0] = 0x61707865;
    in[1] = 0x3320646e;
    in[2] = 0x79622d32;
    in[3] = 0x6b206574;
    for (int i = 0; i < 8; i++) in[4 + i] = mg_chacha20_load32(key + 4 * i);
    in[12] = counter;
    for (int i = 0; i < 3; i++) in[13 + i] = mg_chacha20_load32(nonce + 4 * i);
    memcpy(x, in, sizeof x);
    for (int round = 0; round < 20; round += 2) {
        /* a column round, then a diagonal round */
        mg_chacha20_quarter(x, 0, 4, 8, 12);
        mg_chacha20_quarter(x, 1, 5, 9, 13);
        mg_chacha20_quarter(x, 2, 6, 10, 14);
        mg_chacha20_quarter(x, 3, 7, 11, 15);
        mg_chacha20_quarter(x, 0, 5, 10, 15);
        mg_chacha20_quarter(x, 1, 6, 11, 12);
        mg_chacha20_quarter(x, 2, 7, 8, 13);
        mg_chacha20_quarter(x, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; i++) mg_chacha20_store32(out + 4 * i, x[i] + in[i]);
    /* The stack copies hold the key: a generator with fast key erasure
     * forgets its old keys, so they must not outlive this call. Through a
     * volatile pointer, because a plain memset of dead locals is dropped by
     * the optimiser. */
    volatile uint32_t *wipe_in = in, *wipe_x = x;
    for (int i = 0; i < 16; i++) wipe_in[i] = wipe_x[i] = 0;
}
