/*
 * test_random.c - ChaCha20 against the test vectors of RFC 8439 (section
 * 2.3.2 and appendix A.1), and the chacha_random device: requests of every
 * awkward size are filled exactly, never repeat, and long ones (across the
 * 1 MiB reseeds) still look uniform.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg/random.h"

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    cr_assert_eq(strlen(hex), 2 * len, "bad test vector length");
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

struct chacha_vector {
    const char *name, *key;
    uint32_t counter;
    const char *nonce, *block;
};

static const struct chacha_vector vectors[] = {
    {"RFC 8439 2.3.2", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1,
     "000000090000004a00000000",
     "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
     "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"},
    {"RFC 8439 A.1 #1", "0000000000000000000000000000000000000000000000000000000000000000", 0,
     "000000000000000000000000",
     "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
     "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"},
    {"RFC 8439 A.1 #2", "0000000000000000000000000000000000000000000000000000000000000000", 1,
     "000000000000000000000000",
     "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
     "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"},
    {"RFC 8439 A.1 #3", "0000000000000000000000000000000000000000000000000000000000000001", 1,
     "000000000000000000000000",
     "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
     "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0"},
    {"RFC 8439 A.1 #4", "00ff000000000000000000000000000000000000000000000000000000000000", 2,
     "000000000000000000000000",
     "72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca"
     "13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096"},
    {"RFC 8439 A.1 #5", "0000000000000000000000000000000000000000000000000000000000000000", 0,
     "000000000000000000000002",
     "c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7"
     "8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d"},
};

Test(chacha20, rfc8439_block_vectors)
{
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        uint8_t key[32], nonce[12], expected[64], out[64];
        unhex(vectors[v].key, key, sizeof key);
        unhex(vectors[v].nonce, nonce, sizeof nonce);
        unhex(vectors[v].block, expected, sizeof expected);
        mg_random_chacha20_block(key, vectors[v].counter, nonce, out);
        cr_assert_eq(memcmp(out, expected, 64), 0, "%s: wrong keystream", vectors[v].name);
    }
}

static mg_random *rng;

static void connect_rng(void)
{
    cr_assert_eq(mg_random_connect(&rng), MG_OK);
}

TestSuite(random, .init = connect_rng);

Test(random, fills_exactly_the_requested_bytes)
{
    static const size_t sizes[] = {0, 1, 7, 31, 32, 33, 63, 64, 65, 127, 128, 1000, 4096, 100003};
    enum { GUARD = 64 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint8_t *buf = malloc(len + GUARD);
        memset(buf, 0xa5, len + GUARD);
        cr_assert_eq(mg_random_fill(rng, buf, len), MG_OK);
        for (size_t i = len; i < len + GUARD; i++)
            cr_assert_eq(buf[i], 0xa5, "a %zu-byte fill wrote byte %zu", len, i);
        free(buf);
    }
    cr_assert_eq(mg_random_fill(rng, NULL, 0), MG_OK);
}

Test(random, successive_fills_differ)
{
    static const size_t sizes[] = {8, 32, 63, 64, 65, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint8_t a[1000], b[1000], c[1000];
        cr_assert_eq(mg_random_fill(rng, a, len), MG_OK);
        cr_assert_eq(mg_random_fill(rng, b, len), MG_OK);
        cr_assert_eq(mg_random_fill(rng, c, len), MG_OK);
        cr_assert_neq(memcmp(a, b, len), 0, "two %zu-byte fills are equal", len);
        cr_assert_neq(memcmp(b, c, len), 0, "two %zu-byte fills are equal", len);
        /* Rekeying after each request: the next request does not continue
         * (or repeat) the previous keystream. */
        if (len >= 16) cr_assert_neq(memcmp(a + len - 8, b, 8), 0);
    }
}

Test(random, two_generators_differ)
{
    mg_random *other;
    uint8_t a[32], b[32];
    cr_assert_eq(mg_random_connect(&other), MG_OK);
    cr_assert_eq(mg_random_fill(rng, a, sizeof a), MG_OK);
    cr_assert_eq(mg_random_fill(other, b, sizeof b), MG_OK);
    cr_assert_neq(memcmp(a, b, sizeof a), 0);
    free(other); /* the device is one allocation; images never free it */
}

/* 3 MiB crosses two reseeds. No 64-byte block may repeat at the chunk
 * boundaries, and byte frequencies must pass a loose chi-square test (255
 * degrees of freedom: mean 255, sd 22.6; 450 is over 8 sd away). */
Test(random, long_fills_cross_reseeds_and_look_uniform)
{
    size_t len = 3 * (1u << 20) + 17;
    uint8_t *buf = malloc(len);
    cr_assert_eq(mg_random_fill(rng, buf, 100), MG_OK); /* not aligned on the reseed period */
    cr_assert_eq(mg_random_fill(rng, buf, len), MG_OK);
    static const size_t at[] = {0,
                                64,
                                (1u << 20) - 100,
                                (1u << 20) - 64,
                                1u << 20,
                                (2u << 20) - 100,
                                2u << 20,
                                (3u << 20) - 64};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (size_t j = i + 1; j < sizeof at / sizeof at[0]; j++)
            cr_assert_neq(memcmp(buf + at[i], buf + at[j], 64), 0, "blocks at %zu and %zu repeat",
                          at[i], at[j]);
    uint64_t count[256] = {0};
    for (size_t i = 0; i < len; i++) count[buf[i]]++;
    double expected = (double)len / 256, chi2 = 0;
    for (int v = 0; v < 256; v++)
        chi2 += ((double)count[v] - expected) * ((double)count[v] - expected) / expected;
    cr_assert_lt(chi2, 450.0, "chi-square %.1f", chi2);
    free(buf);
}
