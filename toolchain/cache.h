/*
 * cache.h - the content-addressed store of the action cache, under one
 * directory.
 *
 * It holds two kinds of things:
 *   - blobs: file contents, named by the SHA-256 of their bytes;
 *   - records: small byte strings (action entries, header manifests) under a
 *     64-hex-digit key chosen by the caller, each naming the blobs it keeps
 *     alive.
 *
 * Layout of the directory:
 *   blobs/ab/<sha256>    a blob (ab: the first two hex digits of its name)
 *   records/ab/<key>     a record, in the format below
 *   tmp/                 files being written, and mg_cache_mkdtemp() dirs
 *   stats                the persistent counters, text "name value" lines
 *   stats.lock           flock()ed while the counters are updated
 *   gc.lock              flock()ed: shared by writers, exclusive by gc
 *
 * A record file is a header line, the blobs it references, then the payload:
 *   "mgd-record 1 <sha256 of everything after this line> <n_blobs> <len>\n"
 *   n_blobs lines "<sha256>\n"
 *   len bytes of payload
 * so gc finds the references without the caller's help, and any change,
 * truncation or extension of a record is detected.
 *
 * Guarantees:
 *   - Everything is written to a temporary file in tmp/ and renamed into
 *     place, so a crash of the writing process never leaves a half entry
 *     under its name. (Files are not fsync()ed: after a power loss an entry
 *     may be torn, which verification catches.)
 *   - Everything read is verified: a blob's content must hash to its name,
 *     a record must match its checksum and length. What fails verification
 *     is removed and reported MG_E_CORRUPT, never used; putting it again
 *     later works. (The counters are the caller's: report corrupt entries
 *     with mg_cache_count.)
 *   - Safe for several threads sharing one mg_cache and several processes
 *     sharing one directory. Concurrent puts of the same name are harmless:
 *     the content is the same (blobs) or either whole record wins.
 *   - Reads update the entry's mtime, so gc evicts the least recently used
 *     records first.
 *   - mg_cache_record_put() fails when a blob it references is not in the
 *     store, and gc is excluded while it runs, so a stored record never
 *     names a blob that gc has already decided to remove. A caller that
 *     races gc between putting blobs and the record gets an error, not a
 *     dangling record.
 *
 * Names passed in (sha, key) must be 64 lowercase hex digits; anything else
 * is an error (they become paths).
 *
 * Errors follow base/err.h: a failing function returns -1 (or NULL) and
 * fills its mg_err, when not NULL, with a message a user can act on and a
 * code a caller may branch on: MG_E_NOT_FOUND (not in the store),
 * MG_E_CORRUPT (was in the store but failed verification: now removed),
 * MG_E_INVALID (a bad name), MG_E_IO (could not be read or written),
 * MG_E_NOSPACE (could not be written: the disk or the quota is full; what
 * was being written is removed, never left under its name), MG_E_NOMEM.
 */
#ifndef MG_TOOLCHAIN_CACHE_H
#define MG_TOOLCHAIN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/sha256.h"

typedef struct mg_cache mg_cache;

/* Opens (creating it and its parents as needed) the cache at `dir`.
 * NULL when it cannot be created or written. */
mg_cache *mg_cache_open(const char *dir, mg_err *e);
void mg_cache_close(mg_cache *c);
/* The absolute path of the cache directory. */
const char *mg_cache_path(const mg_cache *c);

/* A fresh private (0700) directory under tmp/, so on the cache's file
 * system and renames from it into the store are atomic: a malloc'd
 * absolute path, or NULL with a message. The caller removes it when done;
 * gc removes those left behind for more than an hour. */
char *mg_cache_mkdtemp(mg_cache *c, const char *prefix, mg_err *e);

/* Stores a copy of a file's content; writes its sha256 (and size when
 * size_out is not NULL). 0, or -1 with a message. */
int mg_cache_blob_put(mg_cache *c, const char *path, char sha_out[MG_SHA256_HEX_SIZE],
                      uint64_t *size_out, mg_err *e);
int mg_cache_blob_put_bytes(mg_cache *c, const void *data, size_t len,
                            char sha_out[MG_SHA256_HEX_SIZE], mg_err *e);
/* Copies blob `sha` to `dest` with permissions `mode` (exactly, not masked
 * by umask), verifying the hash while copying. `dest` appears atomically
 * (a temporary file next to it is renamed) and only when the content is
 * right; an existing file there is replaced. 0, or -1 (MG_E_NOT_FOUND,
 * MG_E_CORRUPT...). */
int mg_cache_blob_get(mg_cache *c, const char *sha, const char *dest, unsigned mode, mg_err *e);
/* Whether blob `sha` is stored (not verified; updates its mtime): 0, or -1
 * (MG_E_NOT_FOUND when it is not). */
int mg_cache_blob_stat(mg_cache *c, const char *sha, uint64_t *size, mg_err *e);

/* Single flight within a process: builds sharing this mg_cache (the
 * daemon's workers) ask before running a missed action. true: the caller
 * now runs action `key` and calls mg_cache_flight_end when its outputs are
 * stored (or it failed); false: another build is running it right now, so
 * the caller should wait (mg_cache_flight_wait) and look the cache up
 * again instead of doing the same work twice. */
bool mg_cache_flight_begin(mg_cache *c, const char *key);
void mg_cache_flight_end(mg_cache *c, const char *key);
/* Waits until some flight ends, at most timeout_ms. */
void mg_cache_flight_wait(mg_cache *c, unsigned timeout_ms);

/* The path where blob `sha` lives (malloc'd), for serving it without a
 * copy; NULL for a bad name. The file may be missing. Readers must not
 * write to it. */
char *mg_cache_blob_path(const mg_cache *c, const char *sha);

/* Removes record `key` (missing is fine); the blobs only it referenced go
 * at the next gc. 0, or -1. */
int mg_cache_record_remove(mg_cache *c, const char *key);

/* Reads record `key`: 0 with *data malloc'd with an extra NUL after *len
 * bytes (the caller frees it), or -1 with *data NULL (MG_E_NOT_FOUND,
 * MG_E_CORRUPT...). */
int mg_cache_record_get(mg_cache *c, const char *key, char **data, size_t *len, mg_err *e);
/* Stores (or replaces) record `key`. `blobs` are the sha256s the record keeps
 * alive through gc; each must already be stored. 0, or -1 with a message. */
int mg_cache_record_put(mg_cache *c, const char *key, const void *data, size_t len,
                        const char *const *blobs, size_t n_blobs, mg_err *e);

/* A record's file as the store keeps it (the format above), so that another
 * store (a remote cache, toolchain/remote_cache.h) can keep the same bytes
 * and any reader check them the same way: malloc'd, its length in
 * *file_len; NULL when too large (MG_E_LIMIT) or bad names (MG_E_INVALID). */
char *mg_cache_record_encode(const void *data, size_t len, const char *const *blobs, size_t n_blobs,
                             size_t *file_len, mg_err *e);
/* Checks the bytes of a record file (as mg_cache_record_get does: the
 * header, the checksum, the blob names, the length). `file` must have a
 * NUL after its file_len bytes. true with the payload (pointing into
 * `file`) and the blob list: n_blobs lines of 64 hex digits and a newline;
 * false for anything else. */
bool mg_cache_record_decode(const char *file, size_t file_len, const char **payload, size_t *len,
                            const char **blobs, size_t *n_blobs);

typedef struct mg_cache_stats {
    uint64_t hits, misses, corrupt; /* persistent counters (since the cache was created) */
    uint64_t saved_ms, executed_ms; /* time saved by hits; time spent running actions */
    /* the remote cache's (toolchain/remote_cache.h), persistent too: records
     * it served and did not have, failed or bad requests, bytes each way */
    uint64_t remote_hits, remote_misses, remote_errors, remote_bytes_down, remote_bytes_up;
    uint64_t records, blobs, bytes; /* what is stored now (bytes: blobs + records on disk) */
} mg_cache_stats;

/* Adds to the persistent counters (read-modify-write of `stats` under an
 * flock and a mutex, so increments from threads and processes all count).
 * Best effort: a failure to update counters is not worth failing a build. */
void mg_cache_count(mg_cache *c, uint64_t hits, uint64_t misses, uint64_t corrupt,
                    uint64_t saved_ms, uint64_t executed_ms);
/* Adds to the remote cache's persistent counters, as mg_cache_count. */
void mg_cache_count_remote(mg_cache *c, uint64_t hits, uint64_t misses, uint64_t errors,
                           uint64_t bytes_down, uint64_t bytes_up);
/* The counters, and what is stored now (a scan of the directory). */
int mg_cache_stats_get(mg_cache *c, mg_cache_stats *out, mg_err *e);

typedef struct mg_cache_gc_result {
    uint64_t records_removed, blobs_removed, bytes_before, bytes_after;
} mg_cache_gc_result;

/* Keeps the most recently used records, with the blobs they reference,
 * while their total size fits `max_bytes` (strictly in order of use: the
 * first record that does not fit and every older one are removed); removes
 * every other record, every blob no kept record references, corrupt
 * records, and files and dirs under tmp/ older than one hour. Sizes are
 * file sizes (st_size). Excludes writers of this cache while it runs.
 * `res` may be NULL. 0, or -1 with a message. */
int mg_cache_gc(mg_cache *c, uint64_t max_bytes, mg_cache_gc_result *res, mg_err *e);

typedef struct mg_cache_release_result {
    uint64_t blobs_removed, bytes_removed; /* bytes: file sizes */
    uint64_t kept;                         /* still referenced by a record: left alone */
} mg_cache_release_result;

/* Removes the blobs among `shas` that no record references (an image
 * whose action record is still cached stays until gc evicts that record).
 * For the daemon's retention (daemon/gc.h), which has just dropped the
 * records that pinned them: nothing else is touched and no least recently
 * used order applies. Excludes writers while it scans the records; a
 * record that cannot be read (not a corrupt one) releases nothing, to be
 * safe. Blobs not stored are skipped. `res` may be NULL. 0, or -1 with a
 * message (MG_E_INVALID for a bad name). */
int mg_cache_blobs_release(mg_cache *c, char *const *shas, size_t n, mg_cache_release_result *res,
                           mg_err *e);

/* Parses a size: digits with an optional binary unit K, M, G or T (any
 * case), optionally followed by "B" or "iB": "500M", "2G", "1024", "10k",
 * "10KiB", "64b". 0 and the size, or -1 on anything else or on overflow. */
int mg_size_parse(const char *text, uint64_t *out);
/* The other way: "2 GiB" for an exact multiple of a unit, else "12.3 MiB";
 * "512 B" below 1 KiB. */
void mg_size_format(uint64_t bytes, char *buf, size_t size);

#endif
