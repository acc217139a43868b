/*
 * remote_cache.h - the second level of the action cache: a cache shared
 * over HTTP, in the layout of Bazel's HTTP remote cache (which ccache's
 * layout=bazel storage, sccache's WebDAV backend, bazel-remote and a
 * plain nginx with WebDAV PUT serve):
 *   GET/HEAD/PUT <base>/ac/<64 hex>   records (action entries, manifests)
 *   GET/HEAD/PUT <base>/cas/<sha256>  blobs, named by the sha256 of their bytes
 * A record travels as the local store keeps it (toolchain/cache.h: header
 * line with its checksum, blob list, payload), so what is read back is
 * checked exactly as a local record is.
 *
 * One mg_remote is one build's session with the remote; the local cache
 * (mg_cache) stays the first level and the build asks the remote only
 * what the local one does not have:
 *   - records: mg_remote_prefetch asks for a set of keys at once (curl
 *     multi, several keep-alive connections), so the lookups of a build
 *     cost one request wave per level of its action graph, not one round
 *     trip per action; mg_remote_record_get then answers from what came
 *     back (asking alone for a key never prefetched). A record with no
 *     blobs (a manifest) goes into the local cache at once; the others
 *     when the session closes, if the blobs they name have come by then
 *     (mg_cache_record_put refuses a record whose blobs are not stored).
 *   - blobs: mg_remote_blob_get fetches one into the local cache only when
 *     the build needs the file (the objects of a fully cached build are
 *     never downloaded: only its image).
 *   - uploads: mg_remote_upload queues an action's blobs and then its
 *     record for a background thread (in that order, so a reader that
 *     finds the record finds its blobs); the queue is bounded (a full
 *     queue makes the build wait: memory stays bounded) and
 *     mg_remote_close flushes it.
 * Every byte read is verified: a blob must hash to its name, a record must
 * pass mg_cache_record_decode. A bad entry is ignored (counted as an error,
 * never used), so the action runs again locally. What the record says (its
 * payload) is trusted once it is intact: whoever can write /ac/ decides
 * what every reader builds, which is why writes belong to trusted builders
 * only (docs/remote-cache.md).
 *
 * A dead cache degrades a build, never fails it: a request that fails in
 * transport (refused, connect timeout of 100 ms, a record slower than 5 s,
 * a transfer below 16 KB/s for 5 s, a PUT longer than 5 s plus its size at
 * 16 KB/s, an answer over its size cap) or gets a server error switches the
 * remote off for the rest of the session, which then answers "not found"
 * at once and drops its uploads. A refused write (401, 403, 405) switches
 * off the writes only. No transfer outlives the build's deadline or cancel
 * (mg_remote_bound), and the build waits for its uploads a bounded time.
 *
 * Thread-safety: one thread uses a session (the build's); the upload thread
 * is internal. Sessions are independent: the daemon's workers each open
 * their own from one shared mg_remote_config.
 */
#ifndef MG_TOOLCHAIN_REMOTE_CACHE_H
#define MG_TOOLCHAIN_REMOTE_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "toolchain/cache.h"

typedef struct mg_remote_config {
    char *url;                   /* the base, without a trailing '/' */
    bool read_only;              /* never PUT */
    char *authorization;         /* the Authorization header's value, or NULL */
    unsigned connect_timeout_ms; /* 100 unless changed */
    unsigned request_timeout_ms; /* a record request; a transfer below 16 KB/s so long
                                    stalls; a PUT may take it plus its size at 16 KB/s */
} mg_remote_config;

/* Fills `cfg` from the options: `url` must be an http:// or https:// URL
 * with a host and no query or fragment; `credentials_file`, when not NULL,
 * holds the Authorization header's value on its first line (say
 * "Basic dXNlcjpwYXNz" or "Bearer T") and must not be readable by other
 * users (a secret a build user could read and then poison the cache with).
 * 0, or -1 with a message naming the problem (MG_E_INVALID, MG_E_IO). */
int mg_remote_config_init(mg_remote_config *cfg, const char *url, bool read_only,
                          const char *credentials_file, mg_err *e);
void mg_remote_config_free(mg_remote_config *cfg);

/* Whether `url` is one mg_remote_config_init takes (the message says why not). */
bool mg_remote_url_valid(const char *url, mg_err *e);

typedef struct mg_remote_stats {
    uint64_t hits;       /* records served (intact) */
    uint64_t misses;     /* records the remote does not have (404) */
    uint64_t errors;     /* failed requests, refused writes and bad entries */
    uint64_t bad;        /* of the errors: entries that failed verification */
    uint64_t bytes_down; /* response bodies read */
    uint64_t bytes_up;   /* request bodies sent */
    uint64_t requests;   /* HTTP requests made (reads and writes) */
    uint64_t waves;      /* sequential rounds of reads (a prefetch, a single fetch) */
    uint64_t uploads;    /* entries written (blobs and records) */
} mg_remote_stats;

typedef struct mg_remote mg_remote;

/* A session for one build, on the local cache `local` (which outlives it).
 * NULL only when out of memory. */
mg_remote *mg_remote_open(const mg_remote_config *cfg, mg_cache *local);
/* Flushes the uploads (each bounded by the timeouts), stores locally the
 * fetched records whose blobs are now local, and frees the session. */
void mg_remote_close(mg_remote *r);

/* Bounds every transfer of the session by its build's: none goes on once
 * mg_now_ms() reaches `deadline_ms` (0: no deadline) or `*cancelled` (NULL:
 * none) is set, whatever the server does; a blob larger than `blob_max`
 * bytes (0: 1 GiB) is refused. Without it the transfers are still bounded
 * by the stall check and (a PUT) its total time. */
void mg_remote_bound(mg_remote *r, uint64_t deadline_ms, const atomic_bool *cancelled,
                     uint64_t blob_max);

/* Asks for records `keys` the session has not asked for yet, all at once;
 * returns when every answer is in (or the remote is off). */
void mg_remote_prefetch(mg_remote *r, const char *const *keys, size_t n);
/* A record, as mg_cache_record_get: 0 with *data malloc'd (NUL after *len
 * bytes), or -1: MG_E_NOT_FOUND (not there, or the remote is off),
 * MG_E_CORRUPT (failed verification: ignored). */
int mg_remote_record_get(mg_remote *r, const char *key, char **data, size_t *len, mg_err *e);
/* Fetches blob `sha` into the local cache. 0, or -1 (MG_E_NOT_FOUND,
 * MG_E_CORRUPT when the bytes did not hash to the name, MG_E_IO). */
int mg_remote_blob_get(mg_remote *r, const char *sha, mg_err *e);
/* Queues the upload of blobs `blobs` (already in the local cache) and then
 * of record `key` (payload `data`). Does nothing when read-only or off. */
void mg_remote_upload(mg_remote *r, const char *key, const void *data, size_t len,
                      const char *const *blobs, size_t n_blobs);
/* Uploads blob `sha` (in the local cache) to <base>/cas/<sha> now, not
 * through the queue: for a file its owner must know is there before going
 * on (mgd worker's image, which the coordinator then fetches). 0, or -1
 * with a message (MG_E_INVALID for a bad name, MG_E_NOT_FOUND when the
 * session takes no writes, MG_E_IO when the upload failed, which switches
 * the writes, or all of the remote, off as a queued upload would). */
int mg_remote_blob_put(mg_remote *r, const char *sha, mg_err *e);
/* Waits until the queued uploads are done, for at most `within_ms`
 * (UINT64_MAX: as long as they take, each bounded as below); what is left
 * then is dropped, each entry counted as an error. */
void mg_remote_flush(mg_remote *r, uint64_t within_ms);

/* The counters so far (uploads included once flushed). */
void mg_remote_stats_get(mg_remote *r, mg_remote_stats *out);
/* Why the remote (or its writes) was switched off, or NULL: a line for the
 * build log. */
const char *mg_remote_off_reason(mg_remote *r);

#endif
