/*
 * sha256.c - SHA-256 as specified by FIPS 180-4, section 6.2.
 *
 * Written for clarity first: one block function over 32-bit words, the
 * message schedule computed in place. It hashes a few hundred MB/s, far
 * more than the compilers whose outputs it names can produce.
 */
#include "base/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes (FIPS 180-4, 4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One 64-byte block into the state (FIPS 180-4, 6.2.2). */
static void sha256_block(uint32_t h[8], const unsigned char *block)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++) w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[t] + w[t];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void mg_sha256_init(mg_sha256 *s)
{
    /* The first 32 bits of the fractional parts of the square roots of the
     * first 8 primes (FIPS 180-4, 5.3.3). */
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->total = 0;
    s->buf_len = 0;
}

void mg_sha256_update(mg_sha256 *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->total += len;
    /* Complete a pending partial block first, then hash whole blocks
     * straight from the input without copying them. */
    if (s->buf_len > 0) {
        size_t take = sizeof s->buf - s->buf_len;
        if (take > len) take = len;
        memcpy(s->buf + s->buf_len, p, take);
        s->buf_len += take;
        p += take;
        len -= take;
        if (s->buf_len < sizeof s->buf) return;
        sha256_block(s->h, s->buf);
        s->buf_len = 0;
    }
    while (len >= 64) {
        sha256_block(s->h, p);
        p += 64;
        len -= 64;
    }
    if (len > 0) {
        memcpy(s->buf, p, len);
        s->buf_len = len;
    }
}

void mg_sha256_final(mg_sha256 *s, unsigned char out[MG_SHA256_SIZE])
{
    /* Padding (FIPS 180-4, 5.1.1): a 1 bit, zeros up to 56 mod 64 bytes,
     * then the message length in bits as a 64-bit big-endian number. */
    uint64_t bits = s->total * 8;
    s->buf[s->buf_len++] = 0x80;
    if (s->buf_len > 56) {
        memset(s->buf + s->buf_len, 0, sizeof s->buf - s->buf_len);
        sha256_block(s->h, s->buf);
        s->buf_len = 0;
    }
    memset(s->buf + s->buf_len, 0, 56 - s->buf_len);
    store_be32(s->buf + 56, (uint32_t)(bits >> 32));
    store_be32(s->buf + 60, (uint32_t)bits);
    sha256_block(s->h, s->buf);
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, s->h[i]);
    /* Nothing of the message stays behind in the context. */
    memset(s, 0, sizeof *s);
}

void mg_sha256_hex(const unsigned char digest[MG_SHA256_SIZE], char out[MG_SHA256_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < MG_SHA256_SIZE; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[2 * MG_SHA256_SIZE] = '\0';
}

void mg_sha256_bytes_hex(const void *data, size_t len, char out[MG_SHA256_HEX_SIZE])
{
    mg_sha256 s;
    unsigned char digest[MG_SHA256_SIZE];
    mg_sha256_init(&s);
    mg_sha256_update(&s, data, len);
    mg_sha256_final(&s, digest);
    mg_sha256_hex(digest, out);
}

int mg_sha256_file_hex(const char *path, char out[MG_SHA256_HEX_SIZE], uint64_t *size)
{
    /* only regular files: a device (/dev/zero) or a fifo named in a
     * compile's dependency file would never end or never open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    int e = fstat(fd, &st) != 0    ? errno
            : S_ISDIR(st.st_mode)  ? EISDIR
            : !S_ISREG(st.st_mode) ? EINVAL
                                   : 0;
    if (e) {
        close(fd);
        return e;
    }
    mg_sha256 s;
    mg_sha256_init(&s);
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            e = errno;
            close(fd);
            return e;
        }
        if (n == 0) break;
        mg_sha256_update(&s, buf, (size_t)n);
    }
    close(fd);
    if (size) *size = s.total;
    unsigned char digest[MG_SHA256_SIZE];
    mg_sha256_final(&s, digest);
    mg_sha256_hex(digest, out);
    return 0;
}

bool mg_sha256_is_hex(const char *s)
{
    if (!s) return false;
    for (int i = 0; i < 2 * MG_SHA256_SIZE; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return s[2 * MG_SHA256_SIZE] == '\0';
}
