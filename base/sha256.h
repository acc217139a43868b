/*
 * sha256.h - SHA-256 (FIPS 180-4), our own implementation.
 *
 * The action cache names blobs and action entries by their SHA-256, so this
 * is the one hash of the toolchain. Streaming: init, any number of updates
 * in pieces of any size, final. A context is plain data (no allocation, no
 * global state): one per thread, copy it to hash a common prefix twice.
 * Hex digests are lowercase, 64 digits and a NUL.
 */
#ifndef MG_BASE_SHA256_H
#define MG_BASE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_SHA256_SIZE 32
#define MG_SHA256_HEX_SIZE 65

typedef struct mg_sha256 {
    uint32_t h[8];         /* the chaining state */
    uint64_t total;        /* bytes hashed so far */
    unsigned char buf[64]; /* a partial block */
    size_t buf_len;
} mg_sha256;

void mg_sha256_init(mg_sha256 *s);
void mg_sha256_update(mg_sha256 *s, const void *data, size_t len);
/* Writes the digest; the context must be initialised again before reuse. */
void mg_sha256_final(mg_sha256 *s, unsigned char out[MG_SHA256_SIZE]);

/* Lowercase hex of a digest. */
void mg_sha256_hex(const unsigned char digest[MG_SHA256_SIZE], char out[MG_SHA256_HEX_SIZE]);
/* The hex digest of a byte string. */
void mg_sha256_bytes_hex(const void *data, size_t len, char out[MG_SHA256_HEX_SIZE]);
/* The hex digest of a regular file's content (and its size when `size` is
 * not NULL). Returns 0, or an errno value when it cannot be opened or
 * read; EISDIR for a directory, EINVAL for anything else that is not a
 * regular file (a device, a fifo). */
int mg_sha256_file_hex(const char *path, char out[MG_SHA256_HEX_SIZE], uint64_t *size);

/* Whether `s` is exactly 64 lowercase hex digits: the shape of every name
 * the cache accepts, checked before it becomes part of a path. */
bool mg_sha256_is_hex(const char *s);

#endif
