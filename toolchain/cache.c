/*
 * cache.c - the content-addressed store (layout and guarantees in cache.h).
 *
 * Every operation opens its own file descriptors, so threads sharing an
 * mg_cache need no lock but the one that serialises the counters; processes
 * coordinate through rename() (atomic replacement) and flock() (gc against
 * writers, counter updates against each other).
 */
#include "toolchain/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/deadline.h"
#include "base/fsutil.h"

#define RECORD_MAGIC "mgd-record 1 "
/* A record's header line: magic, checksum, two decimal numbers, newline. */
#define RECORD_HEADER_MAX 128
/* Records are small (action entries, manifests); anything larger than this
 * on disk is not one of ours. */
#define RECORD_MAX_SIZE (256u << 20)
/* Temporary entries younger than this may belong to a running build. */
#define TMP_MAX_AGE_S 3600

struct mg_cache {
    char *dir;
    /* Serialises counter updates between threads: flock() alone would do
     * across file descriptions, but the mutex keeps threads of one process
     * from queueing on the kernel lock and documents the intent. */
    pthread_mutex_t stats_mu;
    /* Actions being run by builds of this process (single flight): keys,
     * and a condition signalled when one ends. */
    pthread_mutex_t flight_mu;
    pthread_cond_t flight_cv;
    char (*flights)[MG_SHA256_HEX_SIZE];
    size_t n_flights, cap_flights;
};

/* "<cache>/<a>/<b>..." into a PATH_MAX buffer; the cache path is checked at
 * open to leave room for every name the store builds. */
static void cache_file(const mg_cache *c, char out[PATH_MAX], const char *rel)
{
    snprintf(out, PATH_MAX, "%s/%s", c->dir, rel);
}

static void entry_path(const mg_cache *c, char out[PATH_MAX], const char *kind, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s/%.2s/%s", c->dir, kind, name, name);
}

/* The shard directory of a name; created on first use. */
static int ensure_shard(const mg_cache *c, const char *kind, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, PATH_MAX, "%s/%s/%.2s", c->dir, kind, name);
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    return -1;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A new temporary file under tmp/ (same file system as the store, so the
 * final rename is atomic); its path is written to `path`. */
static int tmp_file(const mg_cache *c, char path[PATH_MAX])
{
    snprintf(path, PATH_MAX, "%s/tmp/put-XXXXXX", c->dir);
    return mkostemp(path, O_CLOEXEC);
}

/* flock() on one of the cache's lock files; a new file description each
 * time so that threads of one process exclude each other too. Returns the
 * fd to close (which releases the lock), or -1. */
static int lock_file(const mg_cache *c, const char *name, int how)
{
    char path[PATH_MAX];
    cache_file(c, path, name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    while (flock(fd, how) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Removes a file that failed verification, unless another writer has
 * replaced it since we opened it (then the new one is left alone). */
static void remove_if_same_at(int dfd, const char *name, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0 || fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) unlinkat(dfd, name, 0);
}

static void remove_if_same(const char *path, int fd)
{
    remove_if_same_at(AT_FDCWD, path, fd);
}

/* ------------------------------------------------------------ open/close */

mg_cache *mg_cache_open(const char *dir, mg_err *e)
{
    if (!dir || !*dir) {
        mg_err_set(e, MG_E_INVALID, "cache directory: empty path");
        return NULL;
    }
    if (mg_mkdir_p(dir) != 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot create cache directory %s: %s", dir,
                   strerror(errno));
        return NULL;
    }
    char *abs = realpath(dir, NULL);
    if (!abs) {
        mg_err_set(e, MG_E_IO, "cache directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    /* Room for "/records/ab/<64 hex>" and the like after the path. */
    if (strlen(abs) > PATH_MAX - 128) {
        mg_err_set(e, MG_E_INVALID, "cache directory %s: path too long", abs);
        free(abs);
        return NULL;
    }
    static const char *const subdirs[] = {"blobs", "records", "tmp"};
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
        char path[PATH_MAX];
        snprintf(path, PATH_MAX, "%s/%s", abs, subdirs[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            mg_err_set(e, mg_err_code_of_errno(errno), "cannot create %s: %s", path,
                       strerror(errno));
            free(abs);
            return NULL;
        }
    }
    char probe[PATH_MAX];
    snprintf(probe, PATH_MAX, "%s/tmp", abs);
    if (access(probe, W_OK) != 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cache directory %s is not writable: %s", abs,
                   strerror(errno));
        free(abs);
        return NULL;
    }
    mg_cache *c = calloc(1, sizeof *c);
    if (!c) {
        mg_err_set(e, MG_E_NOMEM, "out of memory");
        free(abs);
        return NULL;
    }
    c->dir = abs;
    pthread_mutex_init(&c->stats_mu, NULL);
    pthread_mutex_init(&c->flight_mu, NULL);
    pthread_cond_init(&c->flight_cv, NULL);
    return c;
}

void mg_cache_close(mg_cache *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->stats_mu);
    pthread_mutex_destroy(&c->flight_mu);
    pthread_cond_destroy(&c->flight_cv);
    free(c->flights);
    free(c->dir);
    free(c);
}

const char *mg_cache_path(const mg_cache *c)
{
    return c->dir;
}

char *mg_cache_mkdtemp(mg_cache *c, const char *prefix, mg_err *e)
{
    if (!prefix) prefix = "d-";
    if (strchr(prefix, '/') || strlen(prefix) > 64) {
        mg_err_set(e, MG_E_INVALID, "bad temporary directory prefix '%s'", prefix);
        return NULL;
    }
    char path[PATH_MAX];
    snprintf(path, PATH_MAX, "%s/tmp/%sXXXXXX", c->dir, prefix);
    if (!mkdtemp(path)) {
        mg_err_set(e, mg_err_code_of_errno(errno),
                   "cannot create a temporary directory in %s/tmp: %s", c->dir, strerror(errno));
        return NULL;
    }
    char *out = strdup(path);
    if (!out) {
        rmdir(path);
        mg_err_set(e, MG_E_NOMEM, "out of memory");
    }
    return out;
}

/* ----------------------------------------------------------------- blobs */

/* Copies `in` to `out` while hashing; returns 0, or -1 with errno and
 * *read_failed telling which side failed. */
static int copy_hash(int in, int out, mg_sha256 *s, uint64_t *size, bool *read_failed)
{
    static const size_t bufsize = 1u << 17;
    unsigned char *buf = malloc(bufsize);
    if (!buf) {
        *read_failed = false;
        errno = ENOMEM;
        return -1;
    }
    uint64_t total = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, bufsize);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            *read_failed = true;
            rc = -1;
            break;
        }
        if (n == 0) break;
        mg_sha256_update(s, buf, (size_t)n);
        if (write_all(out, buf, (size_t)n) != 0) {
            *read_failed = false;
            rc = -1;
            break;
        }
        total += (uint64_t)n;
    }
    int e = errno;
    free(buf);
    errno = e;
    *size = total;
    return rc;
}

/* Moves a finished temporary file to blob `sha` unless an intact-looking
 * copy (same size) is there already. Called under the shared gc lock. */
static int install_blob(mg_cache *c, const char *tmp, const char *sha, uint64_t size, mg_err *e)
{
    char dest[PATH_MAX];
    entry_path(c, dest, "blobs", sha);
    struct stat st;
    if (stat(dest, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size) {
        /* Same name, same content: just mark it used. */
        unlink(tmp);
        utimensat(AT_FDCWD, dest, NULL, 0);
        return 0;
    }
    if (ensure_shard(c, "blobs", sha) != 0 || rename(tmp, dest) != 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot store blob %s: %s", dest,
                   strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* install_blob under a shared gc.lock, so gc cannot remove the blob
 * between its install and the record that will name it. */
static int install_blob_locked(mg_cache *c, const char *tmp, const char *sha, uint64_t size,
                               mg_err *e)
{
    int lock = lock_file(c, "gc.lock", LOCK_SH);
    if (lock < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot lock %s/gc.lock: %s", c->dir,
                   strerror(errno));
        unlink(tmp);
        return -1;
    }
    int rc = install_blob(c, tmp, sha, size, e);
    close(lock);
    return rc;
}

int mg_cache_blob_put(mg_cache *c, const char *path, char sha_out[MG_SHA256_HEX_SIZE],
                      uint64_t *size_out, mg_err *e)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        mg_err_set(e, MG_E_IO, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char tmp[PATH_MAX];
    int out = tmp_file(c, tmp);
    if (out < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot create a temporary file in %s/tmp: %s",
                   c->dir, strerror(errno));
        close(in);
        return -1;
    }
    /* One pass: the copy is hashed as it is made, so what is stored is
     * exactly what was hashed even if the source changes meanwhile. */
    mg_sha256 s;
    mg_sha256_init(&s);
    uint64_t size = 0;
    bool read_failed = false;
    int rc = copy_hash(in, out, &s, &size, &read_failed);
    int saved_errno = errno;
    close(in);
    if (rc == 0 && fchmod(out, 0644) != 0) rc = -1, saved_errno = errno;
    if (close(out) != 0 && rc == 0) rc = -1, saved_errno = errno;
    if (rc != 0) {
        mg_err_set(e, mg_err_code_of_errno(saved_errno), "cannot store %s in the cache: %s: %s",
                   path, read_failed ? "reading it" : "writing the copy", strerror(saved_errno));
        unlink(tmp);
        return -1;
    }
    unsigned char digest[MG_SHA256_SIZE];
    mg_sha256_final(&s, digest);
    char sha[MG_SHA256_HEX_SIZE];
    mg_sha256_hex(digest, sha);

    if (install_blob_locked(c, tmp, sha, size, e) != 0) return -1;
    memcpy(sha_out, sha, MG_SHA256_HEX_SIZE);
    if (size_out) *size_out = size;
    return 0;
}

int mg_cache_blob_put_bytes(mg_cache *c, const void *data, size_t len,
                            char sha_out[MG_SHA256_HEX_SIZE], mg_err *e)
{
    char sha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(data, len, sha);
    char tmp[PATH_MAX];
    int out = tmp_file(c, tmp);
    if (out < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot create a temporary file in %s/tmp: %s",
                   c->dir, strerror(errno));
        return -1;
    }
    int rc = write_all(out, data, len);
    if (rc == 0) rc = fchmod(out, 0644);
    int saved_errno = errno;
    if (close(out) != 0 && rc == 0) rc = -1, saved_errno = errno;
    if (rc != 0) {
        mg_err_set(e, mg_err_code_of_errno(saved_errno), "cannot write %s: %s", tmp,
                   strerror(saved_errno));
        unlink(tmp);
        return -1;
    }
    if (install_blob_locked(c, tmp, sha, len, e) != 0) return -1;
    memcpy(sha_out, sha, MG_SHA256_HEX_SIZE);
    return 0;
}

int mg_cache_blob_get(mg_cache *c, const char *sha, const char *dest, unsigned mode, mg_err *e)
{
    if (!mg_sha256_is_hex(sha)) {
        mg_err_set(e, MG_E_INVALID, "bad blob name '%s' (64 lowercase hex digits expected)",
                   sha ? sha : "(null)");
        return -1;
    }
    char src[PATH_MAX];
    entry_path(c, src, "blobs", sha);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT) {
            return mg_err_set(e, MG_E_NOT_FOUND, "blob %s is not in the cache", sha);
        }
        mg_err_set(e, MG_E_IO, "cannot read %s: %s", src, strerror(errno));
        return -1;
    }

    /* The temporary file sits next to dest so that the rename is atomic. */
    char tmp[PATH_MAX];
    const char *slash = strrchr(dest, '/');
    int dirlen = slash ? (int)(slash - dest) : 0;
    if (snprintf(tmp, PATH_MAX, "%.*s%s.mgd-get-XXXXXX", dirlen, dest, slash ? "/" : "") >=
        PATH_MAX) {
        mg_err_set(e, MG_E_INVALID, "%s: path too long", dest);
        close(in);
        return -1;
    }
    int out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot create a file next to %s: %s", dest,
                   strerror(errno));
        close(in);
        return -1;
    }
    mg_sha256 s;
    mg_sha256_init(&s);
    uint64_t size = 0;
    bool read_failed = false;
    int rc = copy_hash(in, out, &s, &size, &read_failed);
    int saved_errno = errno;
    if (rc == 0 && fchmod(out, (mode_t)mode) != 0) rc = -1, saved_errno = errno;
    if (close(out) != 0 && rc == 0) rc = -1, saved_errno = errno;
    if (rc != 0) {
        mg_err_set(e, mg_err_code_of_errno(saved_errno), "cannot copy blob %s to %s: %s", sha, dest,
                   strerror(saved_errno));
        unlink(tmp);
        close(in);
        return -1;
    }
    unsigned char digest[MG_SHA256_SIZE];
    char got[MG_SHA256_HEX_SIZE];
    mg_sha256_final(&s, digest);
    mg_sha256_hex(digest, got);
    if (strcmp(got, sha) != 0) {
        mg_err_set(e, MG_E_CORRUPT, "blob %s is corrupt (its content hashes to %s): removed", sha,
                   got);
        unlink(tmp);
        remove_if_same(src, in);
        close(in);
        return -1;
    }
    if (rename(tmp, dest) != 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot create %s: %s", dest, strerror(errno));
        unlink(tmp);
        close(in);
        return -1;
    }
    /* Used now: gc's least-recently-used order sees it. */
    futimens(in, NULL);
    close(in);
    return 0;
}

int mg_cache_blob_stat(mg_cache *c, const char *sha, uint64_t *size, mg_err *e)
{
    if (!mg_sha256_is_hex(sha))
        return mg_err_set(e, MG_E_INVALID, "bad blob name '%s' (64 lowercase hex digits expected)",
                          sha ? sha : "(null)");
    char path[PATH_MAX];
    entry_path(c, path, "blobs", sha);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return mg_err_set(e, MG_E_NOT_FOUND, "blob %s is not in the cache", sha);
        return mg_err_set(e, MG_E_IO, "cannot read %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return mg_err_set(e, MG_E_IO, "%s is not a regular file", path);
    utimensat(AT_FDCWD, path, NULL, 0);
    if (size) *size = (uint64_t)st.st_size;
    return 0;
}

bool mg_cache_flight_begin(mg_cache *c, const char *key)
{
    bool mine = true;
    pthread_mutex_lock(&c->flight_mu);
    for (size_t i = 0; i < c->n_flights && mine; i++)
        if (!strcmp(c->flights[i], key)) mine = false;
    if (mine) {
        if (c->n_flights == c->cap_flights) {
            size_t cap = c->cap_flights ? c->cap_flights * 2 : 16;
            void *p = realloc(c->flights, cap * sizeof *c->flights);
            if (!p) {
                /* no memory to track it: run it, at worst twice */
                pthread_mutex_unlock(&c->flight_mu);
                return true;
            }
            c->flights = p;
            c->cap_flights = cap;
        }
        snprintf(c->flights[c->n_flights++], MG_SHA256_HEX_SIZE, "%s", key);
    }
    pthread_mutex_unlock(&c->flight_mu);
    return mine;
}

void mg_cache_flight_end(mg_cache *c, const char *key)
{
    pthread_mutex_lock(&c->flight_mu);
    for (size_t i = 0; i < c->n_flights; i++)
        if (!strcmp(c->flights[i], key)) {
            memcpy(c->flights[i], c->flights[--c->n_flights], MG_SHA256_HEX_SIZE);
            break;
        }
    pthread_cond_broadcast(&c->flight_cv);
    pthread_mutex_unlock(&c->flight_mu);
}

void mg_cache_flight_wait(mg_cache *c, unsigned timeout_ms)
{
    struct timespec until = mg_abstime_in(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&c->flight_mu);
    pthread_cond_timedwait(&c->flight_cv, &c->flight_mu, &until);
    pthread_mutex_unlock(&c->flight_mu);
}

char *mg_cache_blob_path(const mg_cache *c, const char *sha)
{
    if (!mg_sha256_is_hex(sha)) return NULL;
    char path[PATH_MAX];
    entry_path(c, path, "blobs", sha);
    return strdup(path);
}

/* --------------------------------------------------------------- records */

/* A record read into memory and checked against its header. */
typedef struct record {
    char *file; /* the whole file, NUL-terminated */
    size_t file_len;
    size_t n_blobs;
    const char *blobs; /* n_blobs lines of 64 hex digits and '\n' */
    const char *payload;
    size_t len;
} record;

/* Parses a decimal number (no sign, no overflow); advances *p past it. */
static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9') return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

/* Whether the bytes in `r->file` form a valid record; fills the rest of r. */
static bool record_parse(record *r)
{
    const char *f = r->file, *end = f + r->file_len;
    size_t magic = strlen(RECORD_MAGIC);
    if (r->file_len < magic + 64 || memcmp(f, RECORD_MAGIC, magic) != 0) return false;
    const char *p = f + magic;
    char sum[MG_SHA256_HEX_SIZE];
    memcpy(sum, p, 64);
    sum[64] = '\0';
    if (!mg_sha256_is_hex(sum)) return false;
    p += 64;
    uint64_t n, len;
    /* The file is NUL-terminated, so these scans stop at its end. */
    if (*p++ != ' ' || !parse_u64(&p, &n) || *p++ != ' ' || !parse_u64(&p, &len) || *p++ != '\n')
        return false;
    if (p > end) return false;
    size_t rest = (size_t)(end - p);
    if (n > rest / 65 || len != rest - n * 65) return false;
    char got[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(p, rest, got);
    if (strcmp(got, sum) != 0) return false;
    for (size_t i = 0; i < n; i++) {
        const char *line = p + 65 * i;
        if (line[64] != '\n') return false;
        for (int j = 0; j < 64; j++)
            if (!((line[j] >= '0' && line[j] <= '9') || (line[j] >= 'a' && line[j] <= 'f')))
                return false;
    }
    r->n_blobs = (size_t)n;
    r->blobs = p;
    r->payload = p + 65 * n;
    r->len = (size_t)len;
    return true;
}

/* Reads and verifies record `key`, open at `fd`: 0 with r filled (the
 * caller frees r->file), or -1 with MG_E_CORRUPT or MG_E_IO. */
static int record_read(int fd, const char *key, record *r, mg_err *e)
{
    memset(r, 0, sizeof *r);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return mg_err_set(e, MG_E_IO, "cannot read record %s: %s", key, strerror(errno));
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > RECORD_MAX_SIZE)
        return mg_err_set(e, MG_E_CORRUPT, "record %s is corrupt: removed", key);
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) return mg_err_set(e, MG_E_NOMEM, "out of memory reading record %s", key);
    size_t got = 0;
    /* Read to the real end, not just st_size: a file that grew is corrupt
     * too, and the length check below sees it. */
    for (;;) {
        if (got == size) {
            char extra;
            ssize_t n = read(fd, &extra, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                free(buf);
                return mg_err_set(e, MG_E_IO, "cannot read record %s: %s", key, strerror(errno));
            }
            if (n > 0) {
                free(buf);
                return mg_err_set(e, MG_E_CORRUPT, "record %s is corrupt: removed", key);
            }
            break;
        }
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            free(buf);
            return mg_err_set(e, MG_E_IO, "cannot read record %s: %s", key, strerror(errno));
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    r->file = buf;
    r->file_len = got;
    if (!record_parse(r)) {
        free(buf);
        r->file = NULL;
        return mg_err_set(e, MG_E_CORRUPT, "record %s is corrupt: removed", key);
    }
    return 0;
}

int mg_cache_record_remove(mg_cache *c, const char *key)
{
    if (!mg_sha256_is_hex(key)) return -1;
    char path[PATH_MAX];
    entry_path(c, path, "records", key);
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int mg_cache_record_get(mg_cache *c, const char *key, char **data, size_t *len, mg_err *e)
{
    *data = NULL;
    *len = 0;
    if (!mg_sha256_is_hex(key))
        return mg_err_set(e, MG_E_INVALID, "bad record key '%s' (64 lowercase hex digits expected)",
                          key ? key : "(null)");
    char path[PATH_MAX];
    entry_path(c, path, "records", key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return mg_err_set(e, MG_E_NOT_FOUND, "record %s is not in the cache", key);
        return mg_err_set(e, MG_E_IO, "cannot read %s: %s", path, strerror(errno));
    }
    record r;
    mg_err read_err;
    if (record_read(fd, key, &r, &read_err) != 0) {
        if (read_err.code == MG_E_CORRUPT) remove_if_same(path, fd);
        close(fd);
        if (e) *e = read_err;
        return -1;
    }
    char *out = malloc(r.len + 1);
    if (!out) {
        free(r.file);
        close(fd);
        return mg_err_set(e, MG_E_NOMEM, "out of memory reading record %s", key);
    }
    memcpy(out, r.payload, r.len);
    out[r.len] = '\0';
    free(r.file);
    futimens(fd, NULL);
    close(fd);
    *data = out;
    *len = r.len;
    return 0;
}

/* The header line of a record; the checksum covers the blob list and the
 * payload. Returns its length. */
static int record_header(char header[RECORD_HEADER_MAX], const void *data, size_t len,
                         const char *const *blobs, size_t n_blobs)
{
    mg_sha256 s;
    mg_sha256_init(&s);
    for (size_t i = 0; i < n_blobs; i++) {
        mg_sha256_update(&s, blobs[i], 64);
        mg_sha256_update(&s, "\n", 1);
    }
    mg_sha256_update(&s, data, len);
    unsigned char digest[MG_SHA256_SIZE];
    char sum[MG_SHA256_HEX_SIZE];
    mg_sha256_final(&s, digest);
    mg_sha256_hex(digest, sum);
    return snprintf(header, RECORD_HEADER_MAX, RECORD_MAGIC "%s %zu %zu\n", sum, n_blobs, len);
}

char *mg_cache_record_encode(const void *data, size_t len, const char *const *blobs, size_t n_blobs,
                             size_t *file_len, mg_err *e)
{
    for (size_t i = 0; i < n_blobs; i++)
        if (!mg_sha256_is_hex(blobs[i])) {
            mg_err_set(e, MG_E_INVALID, "record: bad blob name '%s'",
                       blobs[i] ? blobs[i] : "(null)");
            return NULL;
        }
    if (len > RECORD_MAX_SIZE - RECORD_HEADER_MAX || n_blobs > (RECORD_MAX_SIZE - len) / 65) {
        mg_err_set(e, MG_E_LIMIT, "record is too large");
        return NULL;
    }
    char header[RECORD_HEADER_MAX];
    size_t hlen = (size_t)record_header(header, data, len, blobs, n_blobs);
    size_t total = hlen + 65 * n_blobs + len;
    char *out = malloc(total + 1);
    if (!out) {
        mg_err_set(e, MG_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(out, header, hlen);
    for (size_t i = 0; i < n_blobs; i++) {
        memcpy(out + hlen + 65 * i, blobs[i], 64);
        out[hlen + 65 * i + 64] = '\n';
    }
    if (len) memcpy(out + hlen + 65 * n_blobs, data, len);
    out[total] = '\0';
    *file_len = total;
    return out;
}

bool mg_cache_record_decode(const char *file, size_t file_len, const char **payload, size_t *len,
                            const char **blobs, size_t *n_blobs)
{
    if (file_len > RECORD_MAX_SIZE || file[file_len] != '\0') return false;
    record r = {.file = (char *)file, .file_len = file_len};
    if (!record_parse(&r)) return false;
    *payload = r.payload;
    *len = r.len;
    *blobs = r.blobs;
    *n_blobs = r.n_blobs;
    return true;
}

int mg_cache_record_put(mg_cache *c, const char *key, const void *data, size_t len,
                        const char *const *blobs, size_t n_blobs, mg_err *e)
{
    if (!mg_sha256_is_hex(key)) {
        mg_err_set(e, MG_E_INVALID, "bad record key '%s' (64 lowercase hex digits expected)",
                   key ? key : "(null)");
        return -1;
    }
    for (size_t i = 0; i < n_blobs; i++) {
        if (!mg_sha256_is_hex(blobs[i])) {
            mg_err_set(e, MG_E_INVALID, "record %s: bad blob name '%s'", key,
                       blobs[i] ? blobs[i] : "(null)");
            return -1;
        }
    }
    if (len > RECORD_MAX_SIZE - RECORD_HEADER_MAX || n_blobs > (RECORD_MAX_SIZE - len) / 65) {
        mg_err_set(e, MG_E_LIMIT, "record %s is too large", key);
        return -1;
    }
    char header[RECORD_HEADER_MAX];
    int hlen = record_header(header, data, len, blobs, n_blobs);

    int lock = lock_file(c, "gc.lock", LOCK_SH);
    if (lock < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot lock %s/gc.lock: %s", c->dir,
                   strerror(errno));
        return -1;
    }
    /* Under the lock gc cannot run, so blobs present now stay until the
     * record is in place, and from then on it keeps them. */
    for (size_t i = 0; i < n_blobs; i++) {
        mg_err blob_err;
        if (mg_cache_blob_stat(c, blobs[i], NULL, &blob_err) != 0) {
            mg_err_set(e, blob_err.code, "record %s references blob %s, which is %s", key, blobs[i],
                       blob_err.code == MG_E_NOT_FOUND ? "not in the cache" : "unreadable");
            close(lock);
            return -1;
        }
    }
    char tmp[PATH_MAX];
    int out = tmp_file(c, tmp);
    if (out < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot create a temporary file in %s/tmp: %s",
                   c->dir, strerror(errno));
        close(lock);
        return -1;
    }
    int rc = write_all(out, header, (size_t)hlen);
    for (size_t i = 0; rc == 0 && i < n_blobs; i++) {
        char line[65];
        memcpy(line, blobs[i], 64);
        line[64] = '\n';
        rc = write_all(out, line, sizeof line);
    }
    if (rc == 0) rc = write_all(out, data, len);
    if (rc == 0) rc = fchmod(out, 0644);
    int saved_errno = errno;
    if (close(out) != 0 && rc == 0) rc = -1, saved_errno = errno;
    char dest[PATH_MAX];
    entry_path(c, dest, "records", key);
    if (rc == 0 && (ensure_shard(c, "records", key) != 0 || rename(tmp, dest) != 0))
        rc = -1, saved_errno = errno;
    close(lock);
    if (rc != 0) {
        mg_err_set(e, mg_err_code_of_errno(saved_errno), "cannot store record %s: %s", dest,
                   strerror(saved_errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- counters */

enum { N_COUNTERS = 10 };
static const char *const counter_names[N_COUNTERS] = {
    "hits",        "misses",        "corrupt",       "saved_ms",          "executed_ms",
    "remote_hits", "remote_misses", "remote_errors", "remote_bytes_down", "remote_bytes_up"};

/* Reads the counters file; missing or unparsable lines count as 0 (a torn
 * counters file must not stop builds). */
static void counters_read(const mg_cache *c, uint64_t v[N_COUNTERS])
{
    memset(v, 0, sizeof(uint64_t) * N_COUNTERS);
    char path[PATH_MAX];
    cache_file(c, path, "stats");
    FILE *f = fopen(path, "re");
    if (!f) return;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        for (int i = 0; i < N_COUNTERS; i++) {
            size_t n = strlen(counter_names[i]);
            if (strncmp(line, counter_names[i], n) != 0 || line[n] != ' ') continue;
            const char *p = line + n + 1;
            uint64_t x;
            if (parse_u64(&p, &x)) v[i] = x;
        }
    }
    fclose(f);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void count_add(mg_cache *c, const uint64_t add[N_COUNTERS]);

void mg_cache_count(mg_cache *c, uint64_t hits, uint64_t misses, uint64_t corrupt,
                    uint64_t saved_ms, uint64_t executed_ms)
{
    uint64_t add[N_COUNTERS] = {hits, misses, corrupt, saved_ms, executed_ms};
    count_add(c, add);
}

void mg_cache_count_remote(mg_cache *c, uint64_t hits, uint64_t misses, uint64_t errors,
                           uint64_t bytes_down, uint64_t bytes_up)
{
    uint64_t add[N_COUNTERS] = {0, 0, 0, 0, 0, hits, misses, errors, bytes_down, bytes_up};
    count_add(c, add);
}

static void count_add(mg_cache *c, const uint64_t add[N_COUNTERS])
{
    pthread_mutex_lock(&c->stats_mu);
    int lock = lock_file(c, "stats.lock", LOCK_EX);
    if (lock < 0) {
        pthread_mutex_unlock(&c->stats_mu);
        return;
    }
    uint64_t v[N_COUNTERS];
    counters_read(c, v);
    char text[N_COUNTERS * 48];
    size_t n = 0;
    for (int i = 0; i < N_COUNTERS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s %llu\n", counter_names[i],
                              (unsigned long long)sat_add(v[i], add[i]));
    /* Replaced whole by rename: a crash leaves the old or the new counters. */
    char tmp[PATH_MAX];
    int fd = tmp_file(c, tmp);
    if (fd >= 0) {
        int rc = write_all(fd, text, n);
        if (rc == 0) rc = fchmod(fd, 0644);
        if (close(fd) != 0) rc = -1;
        char path[PATH_MAX];
        cache_file(c, path, "stats");
        if (rc != 0 || rename(tmp, path) != 0) unlink(tmp);
    }
    close(lock);
    pthread_mutex_unlock(&c->stats_mu);
}

/* ------------------------------------------------------------- scanning */

/* Calls fn for each regular file in <cache>/<kind>/<shard>/, with the
 * shard directory's fd; `valid` says whether its name is one the store
 * gives (64 hex digits starting with the shard's two). */
typedef int (*entry_fn)(void *ctx, int dfd, const char *name, bool valid, const struct stat *st);

static int scan_entries(mg_cache *c, const char *kind, entry_fn fn, void *ctx, mg_err *e)
{
    char top[PATH_MAX];
    snprintf(top, PATH_MAX, "%s/%s", c->dir, kind);
    DIR *d = opendir(top);
    if (!d) {
        mg_err_set(e, MG_E_IO, "cannot read %s: %s", top, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (struct dirent *shard; rc == 0 && (shard = readdir(d));) {
        const char *sh = shard->d_name;
        if (strlen(sh) != 2 || !strchr("0123456789abcdef", sh[0]) ||
            !strchr("0123456789abcdef", sh[1]))
            continue;
        int sfd = openat(dirfd(d), sh, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0) continue; /* not a directory, or gone */
        DIR *sd = fdopendir(sfd);
        if (!sd) {
            close(sfd);
            continue;
        }
        for (struct dirent *f; rc == 0 && (f = readdir(sd));) {
            if (f->d_name[0] == '.') continue;
            struct stat st;
            if (fstatat(sfd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
                continue;
            bool valid = mg_sha256_is_hex(f->d_name) && strncmp(f->d_name, sh, 2) == 0;
            rc = fn(ctx, sfd, f->d_name, valid, &st);
        }
        closedir(sd);
    }
    closedir(d);
    if (rc != 0) mg_err_set(e, MG_E_NOMEM, "out of memory while scanning %s", top);
    return rc;
}

typedef struct tally {
    uint64_t count, bytes;
} tally;

static int tally_entry(void *ctx, int dfd, const char *name, bool valid, const struct stat *st)
{
    tally *t = ctx;
    if (!valid) return 0;
    t->count++;
    t->bytes += (uint64_t)st->st_size;
    return 0;
}

int mg_cache_stats_get(mg_cache *c, mg_cache_stats *out, mg_err *e)
{
    memset(out, 0, sizeof *out);
    uint64_t v[N_COUNTERS];
    pthread_mutex_lock(&c->stats_mu);
    int lock = lock_file(c, "stats.lock", LOCK_SH);
    counters_read(c, v);
    if (lock >= 0) close(lock);
    pthread_mutex_unlock(&c->stats_mu);
    out->hits = v[0];
    out->misses = v[1];
    out->corrupt = v[2];
    out->saved_ms = v[3];
    out->executed_ms = v[4];
    out->remote_hits = v[5];
    out->remote_misses = v[6];
    out->remote_errors = v[7];
    out->remote_bytes_down = v[8];
    out->remote_bytes_up = v[9];
    tally rec = {0, 0}, blob = {0, 0};
    if (scan_entries(c, "records", tally_entry, &rec, e) != 0 ||
        scan_entries(c, "blobs", tally_entry, &blob, e) != 0)
        return -1;
    out->records = rec.count;
    out->blobs = blob.count;
    out->bytes = rec.bytes + blob.bytes;
    return 0;
}

/* -------------------------------------------------------------------- gc */

typedef struct gc_blob {
    char name[MG_SHA256_HEX_SIZE];
    uint64_t size;
    size_t mark; /* 1 + index of the record that last counted it, 0: none */
    bool keep;
} gc_blob;

typedef struct gc_record {
    char name[MG_SHA256_HEX_SIZE];
    struct timespec mtime;
    uint64_t size;
    size_t *blobs; /* indexes into the blob table */
    size_t n_blobs;
    bool dangling; /* references a blob that is not stored */
    bool keep;
} gc_record;

typedef struct gc_state {
    mg_cache *c;
    gc_blob *blobs;
    size_t n_blobs, cap_blobs;
    gc_record *records;
    size_t n_records, cap_records;
    uint64_t removed_bytes, records_removed;
} gc_state;

static int gc_add_blob(void *ctx, int dfd, const char *name, bool valid, const struct stat *st)
{
    gc_state *g = ctx;
    if (!valid) {
        /* Not a name the store gives: debris, removed. */
        if (unlinkat(dfd, name, 0) == 0) g->removed_bytes += (uint64_t)st->st_size;
        return 0;
    }
    if (g->n_blobs == g->cap_blobs) {
        size_t cap = g->cap_blobs ? 2 * g->cap_blobs : 256;
        gc_blob *nb = realloc(g->blobs, cap * sizeof *nb);
        if (!nb) return -1;
        g->blobs = nb;
        g->cap_blobs = cap;
    }
    gc_blob *b = &g->blobs[g->n_blobs++];
    memcpy(b->name, name, MG_SHA256_HEX_SIZE);
    b->size = (uint64_t)st->st_size;
    b->mark = 0;
    b->keep = false;
    return 0;
}

static int blob_cmp(const void *a, const void *b)
{
    return strcmp(((const gc_blob *)a)->name, ((const gc_blob *)b)->name);
}

static int gc_add_record(void *ctx, int dfd, const char *name, bool valid, const struct stat *st)
{
    gc_state *g = ctx;
    if (!valid) {
        if (unlinkat(dfd, name, 0) == 0) g->removed_bytes += (uint64_t)st->st_size;
        return 0;
    }
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    record r;
    mg_err read_err;
    int rs = record_read(fd, name, &r, &read_err);
    if (rs != 0 && read_err.code == MG_E_CORRUPT) {
        remove_if_same_at(dfd, name, fd);
        g->removed_bytes += (uint64_t)st->st_size;
        g->records_removed++;
    }
    close(fd);
    if (rs != 0) return 0;

    if (g->n_records == g->cap_records) {
        size_t cap = g->cap_records ? 2 * g->cap_records : 256;
        gc_record *nr = realloc(g->records, cap * sizeof *nr);
        if (!nr) {
            free(r.file);
            return -1;
        }
        g->records = nr;
        g->cap_records = cap;
    }
    gc_record *rec = &g->records[g->n_records];
    memset(rec, 0, sizeof *rec);
    memcpy(rec->name, name, MG_SHA256_HEX_SIZE);
    rec->mtime = st->st_mtim;
    rec->size = (uint64_t)st->st_size;
    if (r.n_blobs > 0) {
        rec->blobs = malloc(r.n_blobs * sizeof *rec->blobs);
        if (!rec->blobs) {
            free(r.file);
            return -1;
        }
    }
    /* The blob table is complete and sorted before records are scanned. */
    for (size_t i = 0; i < r.n_blobs; i++) {
        gc_blob key;
        memcpy(key.name, r.blobs + 65 * i, 64);
        key.name[64] = '\0';
        gc_blob *b =
            g->n_blobs ? bsearch(&key, g->blobs, g->n_blobs, sizeof *g->blobs, blob_cmp) : NULL;
        if (!b) {
            rec->dangling = true;
            continue;
        }
        rec->blobs[rec->n_blobs++] = (size_t)(b - g->blobs);
    }
    free(r.file);
    g->n_records++;
    return 0;
}

/* Most recently used first; names break ties so the result is stable. */
static int record_recent_first(const void *pa, const void *pb)
{
    const gc_record *a = pa, *b = pb;
    if (a->mtime.tv_sec != b->mtime.tv_sec) return a->mtime.tv_sec > b->mtime.tv_sec ? -1 : 1;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec) return a->mtime.tv_nsec > b->mtime.tv_nsec ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Removes what is left in tmp/ for more than TMP_MAX_AGE_S. */
static void gc_tmp(mg_cache *c)
{
    char top[PATH_MAX];
    snprintf(top, PATH_MAX, "%s/tmp", c->dir);
    DIR *d = opendir(top);
    if (!d) return;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            now - st.st_mtime < TMP_MAX_AGE_S)
            continue;
        char *path = mg_path_join(top, e->d_name);
        mg_rm_rf(path);
        free(path);
    }
    closedir(d);
}

int mg_cache_gc(mg_cache *c, uint64_t max_bytes, mg_cache_gc_result *res, mg_err *e)
{
    mg_cache_gc_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    int lock = lock_file(c, "gc.lock", LOCK_EX);
    if (lock < 0) {
        mg_err_set(e, mg_err_code_of_errno(errno), "cannot lock %s/gc.lock: %s", c->dir,
                   strerror(errno));
        return -1;
    }
    gc_state g = {.c = c};
    int rc = scan_entries(c, "blobs", gc_add_blob, &g, e);
    if (rc == 0) {
        /* (qsort and bsearch must not be given NULL, even for 0 items) */
        if (g.n_blobs) qsort(g.blobs, g.n_blobs, sizeof *g.blobs, blob_cmp);
        rc = scan_entries(c, "records", gc_add_record, &g, e);
    }
    if (rc != 0) goto done;

    /* Debris and corrupt records found while scanning are already gone;
     * they count in "before" but not in "after". */
    uint64_t total = g.removed_bytes;
    for (size_t i = 0; i < g.n_blobs; i++) total += g.blobs[i].size;
    for (size_t i = 0; i < g.n_records; i++) total += g.records[i].size;
    res->bytes_before = total;
    res->records_removed = g.records_removed;

    if (g.n_records) qsort(g.records, g.n_records, sizeof *g.records, record_recent_first);
    uint64_t kept = 0;
    for (size_t i = 0; i < g.n_records; i++) {
        gc_record *r = &g.records[i];
        /* A record whose blobs are gone can never be used: drop it. */
        if (r->dangling) continue;
        uint64_t cost = r->size;
        for (size_t j = 0; j < r->n_blobs; j++) {
            gc_blob *b = &g.blobs[r->blobs[j]];
            if (b->keep || b->mark == i + 1) continue;
            b->mark = i + 1;
            cost += b->size;
        }
        /* Strictly least recently used: no older record is kept in the
         * room a newer one did not fit in. */
        if (cost > max_bytes - kept) break;
        kept += cost;
        r->keep = true;
        for (size_t j = 0; j < r->n_blobs; j++) g.blobs[r->blobs[j]].keep = true;
    }

    uint64_t removed = 0;
    for (size_t i = 0; i < g.n_records; i++) {
        if (g.records[i].keep) continue;
        char path[PATH_MAX];
        entry_path(c, path, "records", g.records[i].name);
        if (unlink(path) == 0 || errno == ENOENT) {
            res->records_removed++;
            removed += g.records[i].size;
        }
    }
    for (size_t i = 0; i < g.n_blobs; i++) {
        if (g.blobs[i].keep) continue;
        char path[PATH_MAX];
        entry_path(c, path, "blobs", g.blobs[i].name);
        if (unlink(path) == 0 || errno == ENOENT) {
            res->blobs_removed++;
            removed += g.blobs[i].size;
        }
    }
    res->bytes_after = total - g.removed_bytes - removed;
    gc_tmp(c);

done:
    for (size_t i = 0; i < g.n_records; i++) free(g.records[i].blobs);
    free(g.records);
    free(g.blobs);
    close(lock);
    return rc;
}

/* ------------------------------------------------------- releasing blobs */

typedef struct release_state {
    gc_blob *cands; /* sorted by name; `keep`: some record references it */
    size_t n;
    bool failed;
    mg_err err;
} release_state;

static int release_mark(void *ctx, int dfd, const char *name, bool valid, const struct stat *st)
{
    (void)st;
    release_state *rs = ctx;
    if (!valid) return 0;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0; /* removed meanwhile (a record_remove) */
        rs->failed = true;
        mg_err_set(&rs->err, MG_E_IO, "cannot read record %s: %s", name, strerror(errno));
        return 0;
    }
    record r;
    mg_err read_err;
    int rc = record_read(fd, name, &r, &read_err);
    close(fd);
    if (rc != 0) {
        /* a corrupt record keeps nothing alive (gc removes it); a record
         * that cannot be read might: then nothing is released */
        if (read_err.code != MG_E_CORRUPT) {
            rs->failed = true;
            rs->err = read_err;
        }
        return 0;
    }
    for (size_t i = 0; i < r.n_blobs; i++) {
        gc_blob key;
        memcpy(key.name, r.blobs + 65 * i, 64);
        key.name[64] = '\0';
        gc_blob *b = bsearch(&key, rs->cands, rs->n, sizeof *rs->cands, blob_cmp);
        if (b) b->keep = true;
    }
    free(r.file);
    return 0;
}

int mg_cache_blobs_release(mg_cache *c, char *const *shas, size_t n, mg_cache_release_result *res,
                           mg_err *e)
{
    mg_cache_release_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    release_state rs = {0};
    for (size_t i = 0; i < n; i++) {
        if (!mg_sha256_is_hex(shas[i]))
            return mg_err_set(e, MG_E_INVALID, "bad blob name '%s' (64 lowercase hex digits)",
                              shas[i] ? shas[i] : "(null)");
    }
    if (n == 0) return 0;
    rs.cands = malloc(n * sizeof *rs.cands);
    if (!rs.cands) return mg_err_set(e, MG_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        memcpy(rs.cands[i].name, shas[i], MG_SHA256_HEX_SIZE);
        rs.cands[i].keep = false;
    }
    qsort(rs.cands, n, sizeof *rs.cands, blob_cmp);
    /* duplicates would be counted twice */
    for (size_t i = 0; i < n; i++)
        if (rs.n == 0 || strcmp(rs.cands[rs.n - 1].name, rs.cands[i].name))
            rs.cands[rs.n++] = rs.cands[i];
    /* exclusive: no record can be written meanwhile, so one written after
     * the scan names a blob that is still there or fails (record_put) */
    int lock = lock_file(c, "gc.lock", LOCK_EX);
    if (lock < 0) {
        free(rs.cands);
        return mg_err_set(e, MG_E_IO, "cannot lock %s/gc.lock: %s", c->dir, strerror(errno));
    }
    int rc = scan_entries(c, "records", release_mark, &rs, e);
    if (rc == 0 && rs.failed) {
        if (e) *e = rs.err;
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < rs.n; i++) {
        if (rs.cands[i].keep) {
            res->kept++;
            continue;
        }
        char path[PATH_MAX];
        entry_path(c, path, "blobs", rs.cands[i].name);
        struct stat st;
        if (lstat(path, &st) != 0) continue; /* not stored: nothing to free */
        if (unlink(path) != 0) {
            rc = mg_err_set(e, MG_E_IO, "cannot remove %s: %s", path, strerror(errno));
            break;
        }
        res->blobs_removed++;
        res->bytes_removed += (uint64_t)st.st_size;
    }
    close(lock);
    free(rs.cands);
    return rc;
}

/* ------------------------------------------------------------------ sizes */

int mg_size_parse(const char *text, uint64_t *out)
{
    if (!text) return -1;
    const char *p = text;
    uint64_t v;
    if (!parse_u64(&p, &v)) return -1;
    unsigned shift = 0;
    switch (*p) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift) p++;
    if (shift && (*p == 'i' || *p == 'I')) {
        p++;
        if (*p != 'b' && *p != 'B') return -1;
    }
    if (*p == 'b' || *p == 'B') p++;
    if (*p != '\0') return -1;
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = v << shift;
    return 0;
}

void mg_size_format(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u < 4 && bytes >= (1ull << (10 * (u + 1)))) u++;
    uint64_t unit = 1ull << (10 * u);
    if (bytes % unit == 0)
        snprintf(buf, size, "%llu %s", (unsigned long long)(bytes / unit), units[u]);
    else
        snprintf(buf, size, "%.1f %s", (double)bytes / (double)unit, units[u]);
}
