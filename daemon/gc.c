/*
 * gc.c - retention and garbage collection (see gc.h for the steps and
 * why they come in this order).
 */
#include "daemon/gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/deadline.h"
#include "base/fsutil.h"
#include "base/sha256.h"

/* ---- pins ------------------------------------------------------------------ */

/* The key of the record that pins blob `sha` as a `kind`. */
static void pin_key(const char *kind, const char *sha, char key[MG_SHA256_HEX_SIZE])
{
    char *text = mg_xasprintf("mgd %s\n%s", kind, sha);
    mg_sha256_bytes_hex(text, strlen(text), key);
    free(text);
}

int mg_gc_pin(mg_cache *c, const char *kind, const char *sha, mg_err *e)
{
    char key[MG_SHA256_HEX_SIZE];
    pin_key(kind, sha, key);
    char *text = mg_xasprintf("mgd %s\n%s", kind, sha);
    const char *blobs[] = {sha};
    int r = mg_cache_record_put(c, key, text, strlen(text), blobs, 1, e);
    free(text);
    return r;
}

int mg_gc_unpin(mg_cache *c, char *const *shas, size_t n, mg_err *e)
{
    static const char *const kinds[] = {"artifact", "sources"};
    int r = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 2; k++) {
            char key[MG_SHA256_HEX_SIZE];
            pin_key(kinds[k], shas[i], key);
            if (mg_cache_record_remove(c, key) != 0 && r == 0) {
                mg_err_set(e, MG_E_IO, "cannot remove the cache record of %s %.12s: %s", kinds[k],
                           shas[i], strerror(errno));
                r = -1;
            }
        }
    return r;
}

/* ---- helpers --------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool has_id(const int64_t *ids, size_t n, int64_t id)
{
    return n && bsearch(&id, ids, n, sizeof *ids, cmp_id);
}

/* A name of only decimal digits (at most 18, so it fits): its value. */
static bool parse_digits(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18) return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Bytes of the regular files under `dfd` (not following links). */
static uint64_t tree_bytes(int dfd)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    uint64_t total = 0;
    for (struct dirent *ent; (ent = readdir(d));) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISREG(st.st_mode)) {
            total += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            int sub =
                openat(dirfd(d), ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) total += tree_bytes(sub);
        }
    }
    closedir(d);
    return total;
}

/* ---- the steps ------------------------------------------------------------- */

/* Steps 1 and 2: the rows, then the pins and blobs nothing names. */
static int collect(const mg_gc_options *o, mg_gc_report *r, int64_t **deleted, size_t *n_deleted,
                   mg_err *e)
{
    if (mg_store_gc_collect(o->store, o->keep_builds, o->held, o->n_held, deleted, n_deleted,
                            &r->builds_kept, e))
        return -1;
    r->builds_deleted = (int64_t)*n_deleted;
    char **orphans = NULL;
    size_t n_orphans = 0;
    if (mg_store_gc_orphans(o->store, &orphans, &n_orphans, e)) return -1;
    /* those in flight are left pending, pins and all: the row that will
     * name them is not stored yet */
    size_t kept = 0;
    for (size_t i = 0; i < n_orphans; i++) {
        if (o->in_flight && o->in_flight(o->ctx, orphans[i]))
            free(orphans[i]);
        else
            orphans[kept++] = orphans[i];
    }
    n_orphans = kept;
    mg_cache_release_result rel = {0};
    /* the pins first: a blob another record keeps is only unpinned, and
     * the list keeps every blob until both are done */
    int rc = mg_gc_unpin(o->cache, orphans, n_orphans, e);
    if (rc == 0) rc = mg_cache_blobs_release(o->cache, orphans, n_orphans, &rel, e);
    if (rc == 0) rc = mg_store_gc_forget(o->store, orphans, n_orphans, e);
    r->blobs_deleted = (int64_t)rel.blobs_removed;
    r->blob_bytes = rel.bytes_removed;
    r->blobs_shared = (int64_t)rel.kept;
    for (size_t i = 0; i < n_orphans; i++) free(orphans[i]);
    free(orphans);
    return rc;
}

/* Removes log `name` in `dfd`, counting it. 0, or -1 with a message. */
static int remove_log(int dfd, const char *dir, const char *name, mg_gc_report *r, mg_err *e)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return 0;
        return mg_err_set(e, MG_E_IO, "cannot read %s/%s: %s", dir, name, strerror(errno));
    }
    if (unlinkat(dfd, name, 0) != 0) {
        if (errno == ENOENT) return 0;
        return mg_err_set(e, MG_E_IO, "cannot remove %s/%s: %s", dir, name, strerror(errno));
    }
    r->logs_deleted++;
    r->log_bytes += (uint64_t)st.st_size;
    return 0;
}

/* Step 3: the deleted builds' logs, then those of builds that do not
 * exist (up to the highest id the store has: a build queued after the
 * listing has a higher id, and its log is not looked at). */
static int remove_logs(const mg_gc_options *o, const int64_t *deleted, size_t n_deleted,
                       mg_gc_report *r, mg_err *e)
{
    char *dir = mg_path_join(o->data_dir, "logs");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        int rc = errno == ENOENT ? 0 : mg_err_set(e, MG_E_IO, "%s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    int rc = 0;
    for (size_t i = 0; i < n_deleted && rc == 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "%lld.log", (long long)deleted[i]);
        rc = remove_log(dfd, dir, name, r, e);
    }
    int64_t *ids = NULL;
    size_t n = 0;
    if (rc == 0) rc = mg_store_build_ids(o->store, &ids, &n, e);
    /* a store without builds has no highest id: nothing newer can be told
     * from an orphan, so the sweep waits for a run with builds */
    DIR *d = rc == 0 && n ? fdopendir(dup(dfd)) : NULL;
    for (struct dirent *ent; d && rc == 0 && (ent = readdir(d));) {
        size_t len = strlen(ent->d_name);
        int64_t id;
        if (len < 5 || strcmp(ent->d_name + len - 4, ".log") ||
            !parse_digits(ent->d_name, len - 4, &id))
            continue;
        if (id <= ids[n - 1] && !has_id(ids, n, id)) rc = remove_log(dfd, dir, ent->d_name, r, e);
    }
    if (d) closedir(d);
    free(ids);
    close(dfd);
    free(dir);
    return rc;
}

/* Step 4: mirrors of projects that are gone or no longer fetch. */
static int remove_mirrors(const mg_gc_options *o, mg_gc_report *r, mg_err *e)
{
    int64_t *needed = NULL, max_id = 0;
    size_t n = 0;
    if (mg_store_mirror_projects(o->store, &needed, &n, &max_id, e)) return -1;
    char *git = mg_path_join(o->data_dir, "git");
    DIR *d = opendir(git);
    int rc = 0;
    for (struct dirent *ent; d && rc == 0 && (ent = readdir(d));) {
        int64_t id;
        if (!parse_digits(ent->d_name, strlen(ent->d_name), &id) || id > max_id ||
            has_id(needed, n, id))
            continue;
        char *dir = mg_path_join(git, ent->d_name);
        char *lock = mg_path_join(dir, "mirror.git.lock");
        /* a fetch holds this through its checkout (sources.h): one that
         * runs now is left alone, the next run removes the mirror */
        int fd = open(lock, O_RDWR | O_CLOEXEC);
        bool busy = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0;
        if (!busy) {
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            uint64_t bytes = dfd >= 0 ? tree_bytes(dfd) : 0;
            if (mg_rm_rf(dir) != 0 && errno != ENOENT) {
                rc = mg_err_set(e, MG_E_IO, "cannot remove %s: %s", dir, strerror(errno));
            } else {
                r->mirrors_deleted++;
                r->mirror_bytes += bytes;
            }
        }
        if (fd >= 0) close(fd);
        free(lock);
        free(dir);
    }
    if (d) closedir(d);
    free(git);
    free(needed);
    return rc;
}

int mg_gc_run(const mg_gc_options *o, mg_gc_report *r, mg_err *e)
{
    memset(r, 0, sizeof *r);
    uint64_t start = mg_now_ms();
    int64_t *deleted = NULL;
    size_t n_deleted = 0;
    if (o->exclusive) o->exclusive(o->ctx, true);
    int rc = collect(o, r, &deleted, &n_deleted, e);
    if (o->exclusive) o->exclusive(o->ctx, false);
    /* the files go even when the blobs failed: their rows are gone */
    if (deleted || rc == 0) {
        mg_err le;
        int lr = remove_logs(o, deleted, n_deleted, r, &le);
        if (lr != 0 && rc == 0) {
            *e = le;
            rc = -1;
        }
    }
    if (rc == 0) rc = remove_mirrors(o, r, e);
    free(deleted);
    r->bytes_freed = r->log_bytes + r->blob_bytes + r->mirror_bytes;
    r->duration_ms = (int64_t)mg_ms_since(start);
    return rc;
}

/* ---- reports --------------------------------------------------------------- */

void mg_gc_report_json(mg_jw *w, const mg_gc_report *r)
{
    mg_jw_object(w);
    mg_jw_key(w, "builds");
    mg_jw_object(w);
    mg_jw_kint(w, "deleted", r->builds_deleted);
    mg_jw_kint(w, "kept", r->builds_kept);
    mg_jw_object_end(w);
    mg_jw_key(w, "logs");
    mg_jw_object(w);
    mg_jw_kint(w, "deleted", r->logs_deleted);
    mg_jw_kint(w, "bytes", (int64_t)r->log_bytes);
    mg_jw_object_end(w);
    mg_jw_key(w, "blobs");
    mg_jw_object(w);
    mg_jw_kint(w, "deleted", r->blobs_deleted);
    mg_jw_kint(w, "bytes", (int64_t)r->blob_bytes);
    mg_jw_kint(w, "shared", r->blobs_shared);
    mg_jw_object_end(w);
    mg_jw_key(w, "mirrors");
    mg_jw_object(w);
    mg_jw_kint(w, "deleted", r->mirrors_deleted);
    mg_jw_kint(w, "bytes", (int64_t)r->mirror_bytes);
    mg_jw_object_end(w);
    mg_jw_kint(w, "bytes_freed", (int64_t)r->bytes_freed);
    mg_jw_kint(w, "duration_ms", r->duration_ms);
    mg_jw_object_end(w);
}

void mg_gc_report_line(const mg_gc_report *r, char *buf, size_t size)
{
    char freed[32];
    mg_size_format(r->bytes_freed, freed, sizeof freed);
    snprintf(buf, size,
             "deleted %lld build%s (%lld kept), %lld log%s, %lld blob%s, %lld mirror%s: %s freed "
             "in %lld ms",
             (long long)r->builds_deleted, r->builds_deleted == 1 ? "" : "s",
             (long long)r->builds_kept, (long long)r->logs_deleted, r->logs_deleted == 1 ? "" : "s",
             (long long)r->blobs_deleted, r->blobs_deleted == 1 ? "" : "s",
             (long long)r->mirrors_deleted, r->mirrors_deleted == 1 ? "" : "s", freed,
             (long long)r->duration_ms);
}
