/*
 * random.c - the `chacha_random` device (mg/random.h): a ChaCha20 generator
 * with fast key erasure, reseeded every 1 MiB.
 *
 * A request is served in chunks of at most what is left before the next
 * reseed. A chunk is the keystream of the current key from block 0 (nonce
 * MG_RANDOM_NONCE_OUTPUT); the block after it, never handed out, becomes
 * the next key. Every key thus encrypts from counter 0 and is used for
 * one chunk only, so no keystream block is ever produced twice. A reseed
 * hashes the key XOR 32 bytes of fresh entropy through one block under a
 * separate nonce: the new key is unpredictable if either input is.
 */
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"
#include "mg/random.h"

#define MG_RANDOM_RESEED_BYTES ((uint64_t)1 << 20)

struct mg_chacha_random {
    mg_random base;
    uint8_t key[32];
    uint64_t since_reseed; /* bytes handed out under keys descended from the last seed */
};

static const uint8_t mg_random_nonce_output[12] = {0};
static const uint8_t mg_random_nonce_reseed[12] = {'m', 'g', ' ', 'r', 'e', 's', 'e', 'e', 'd'};

static void mg_random_wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--) *v++ = 0;
}

/* Replaces the key with the first half of `block` and wipes the block. */
static void mg_random_rekey(struct mg_chacha_random *r, uint8_t block[64])
{
    memcpy(r->key, block, sizeof r->key);
    mg_random_wipe(block, 64);
}

static int mg_random_reseed(struct mg_chacha_random *r)
{
    uint8_t fresh[32], block[64];
    int status = mg_platform_entropy(fresh, sizeof fresh);
    if (status != MG_OK) return status;
    for (size_t i = 0; i < sizeof fresh; i++) r->key[i] ^= fresh[i];
    mg_random_wipe(fresh, sizeof fresh);
    mg_random_chacha20_block(r->key, 0, mg_random_nonce_reseed, block);
    mg_random_rekey(r, block);
    r->since_reseed = 0;
    return MG_OK;
}

/* One chunk: `len` bytes of keystream (len < 2^38, the counter's reach),
 * then the next block becomes the key. */
static void mg_random_chunk(struct mg_chacha_random *r, uint8_t *out, size_t len)
{
    uint8_t block[64];
    uint32_t counter = 0;
    for (; len >= 64; len -= 64, out += 64)
        mg_random_chacha20_block(r->key, counter++, mg_random_nonce_output, out);
    if (len) {
        mg_random_chacha20_block(r->key, counter++, mg_random_nonce_output, block);
        memcpy(out, block, len);
    }
    mg_random_chacha20_block(r->key, counter, mg_random_nonce_output, block);
    mg_random_rekey(r, block);
}

static int mg_chacha_random_fill(mg_random *base, void *buf, size_t len)
{
    struct mg_chacha_random *r = (struct mg_chacha_random *)base;
    uint8_t *out = buf;
    do {
        /* Without fresh entropy the key is still secret: go on with it. */
        if (r->since_reseed >= MG_RANDOM_RESEED_BYTES) (void)mg_random_reseed(r);
        uint64_t room = r->since_reseed < MG_RANDOM_RESEED_BYTES
                            ? MG_RANDOM_RESEED_BYTES - r->since_reseed
                            : MG_RANDOM_RESEED_BYTES;
        size_t n = len < room ? len : (size_t)room;
        /* Also for len 0: a request always leaves a new key behind. */
        mg_random_chunk(r, out, n);
        r->since_reseed += n;
        out += n;
        len -= n;
    } while (len > 0);
    return MG_OK;
}

static const struct mg_random_ops mg_chacha_random_ops = {.fill = mg_chacha_random_fill};

int mg_random_connect(mg_random **out)
{
    struct mg_chacha_random *r = calloc(1, sizeof *r);
    if (!r) return MG_ENOMEM;
    r->base.ops = &mg_chacha_random_ops;
    int status = mg_platform_entropy(r->key, sizeof r->key);
    if (status != MG_OK) {
        mg_random_wipe(r, sizeof *r);
        free(r);
        mg_printf("chacha_random: the platform has no entropy to seed the generator\n");
        return MG_EIO;
    }
    *out = &r->base;
    return MG_OK;
}

int mg_random_fill(mg_random *r, void *buf, size_t len)
{
    return r->ops->fill(r, buf, len);
}
