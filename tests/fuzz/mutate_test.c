/*
 * mutate_test - a deterministic fuzz pass for every test run.
 *
 * Takes seed documents (the files named on the command line), makes a
 * fixed number of mutants of each with a seeded generator (byte flips,
 * deletions, insertions of JSON punctuation and of interesting tokens,
 * splices between seeds) and runs each through mg_fuzz_resolve_one, which
 * aborts on a broken promise. Under the sanitizer build a memory error or
 * leak fails the test too. Coverage-guided fuzzing (fuzz_resolve.c) finds
 * more; this keeps what it found from coming back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/builtin_catalog.h"
#include "resolve_one.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    /* xorshift64*: reproducible everywhere */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n == cap) buf = realloc(buf, cap = cap ? cap * 2 : 4096);
        if (!buf) abort();
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r);
    fclose(f);
    *len = n;
    return buf;
}

static const char *const tokens[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\u0000",
    "\\",
    "null",
    "true",
    "1e999",
    "-0",
    "9007199254740993",
    "\"apply\"",
    "\"match\"",
    "\"if\"",
    "\"device\"",
    "\"main\"",
    "\"default_console\"",
    "\"noop\"",
    "\"by_target\"",
    "\"key\"",
    "\"->\"",
    " -> ",
    "\xff",
    "\xc3\xa9",
    "\"..\"",
    "\"/\"",
    "\"~1\"",
    "{\"key\": \"kv_ro\"}",
    "\"job\"",
    "\"*\"",
};

static size_t mutate(char *out, size_t cap, const char *in, size_t len, const char *other,
                     size_t other_len)
{
    size_t n = len < cap ? len : cap;
    memcpy(out, in, n);
    int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits; e++) {
        size_t at = n ? rng() % n : 0;
        switch (rng() % 5) {
        case 0: /* flip a byte */
            if (n) out[at] ^= (char)(1 << (rng() % 8));
            break;
        case 1: { /* delete a run */
            size_t k = 1 + rng() % 8;
            if (at + k > n) k = n - at;
            memmove(out + at, out + at + k, n - at - k);
            n -= k;
            break;
        }
        case 2:
        case 3: { /* insert a token */
            const char *t = tokens[rng() % (sizeof tokens / sizeof *tokens)];
            size_t k = strlen(t);
            if (n + k > cap) break;
            memmove(out + at + k, out + at, n - at);
            memcpy(out + at, t, k);
            n += k;
            break;
        }
        case 4: { /* splice in a slice of another seed */
            if (!other_len) break;
            size_t from = rng() % other_len, k = 1 + rng() % 64;
            if (from + k > other_len) k = other_len - from;
            if (n + k > cap) break;
            memmove(out + at + k, out + at, n - at);
            memcpy(out + at, other + from, k);
            n += k;
            break;
        }
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    int per_seed = 3000;
    if (argc > 2 && !strcmp(argv[1], "--mutants")) {
        per_seed = atoi(argv[2]);
        argv += 2;
        argc -= 2;
    }
    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    if (!cat) {
        fprintf(stderr, "built-in catalog does not load\n");
        return 1;
    }
    size_t n_seeds = (size_t)(argc - 1), total = 0;
    char **seeds = calloc(n_seeds + 1, sizeof *seeds);
    size_t *lens = calloc(n_seeds + 1, sizeof *lens);
    for (size_t i = 0; i < n_seeds; i++) {
        seeds[i] = slurp(argv[i + 1], &lens[i]);
        if (!seeds[i]) {
            fprintf(stderr, "cannot read seed %s\n", argv[i + 1]);
            return 1;
        }
        mg_fuzz_resolve_one(cat, seeds[i], lens[i], 1);
    }
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    for (size_t i = 0; i < n_seeds; i++)
        for (int m = 0; m < per_seed; m++) {
            size_t o = rng() % n_seeds;
            size_t n = mutate(buf, cap, seeds[i], lens[i], seeds[o], lens[o]);
            mg_fuzz_resolve_one(cat, buf, n, m % 16 == 0);
            total++;
        }
    printf("%zu seeds, %zu mutants resolved without a broken promise\n", n_seeds, total);
    for (size_t i = 0; i < n_seeds; i++) free(seeds[i]);
    free(seeds);
    free(lens);
    free(buf);
    mg_catalog_free(cat);
    return 0;
}
