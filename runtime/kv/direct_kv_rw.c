/*
 * direct_kv_rw.c - direct_kv_rw(dir): a read-write store over a host
 * directory. Unix only (POSIX).
 *
 * Reads are a direct_kv_ro over the same directory. Writes never leave a
 * value half-written: set writes a temporary file next to the key, flushes
 * it to the disk and renames it over the key, which POSIX makes atomic.
 * Like the reads, writes are relative to a descriptor of the directory
 * opened at connect, and keys cannot leave it (no ".." after
 * normalisation). Removing a key also removes the directories it leaves
 * empty, so the host tree matches the store: dictionaries exist while
 * something is under them (as in kv_rw_mem).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg/kv_rw.h"

typedef struct direct_kv_rw {
    mg_kv_rw rw; /* first: a mg_kv_rw * (and its mg_kv_ro *) is a direct_kv_rw * */
    mg_kv_ro *reader;
    int dirfd;
} direct_kv_rw;

/* Temporary files are named ".mg-tmp-PID-N": dotted so that ls hides
 * them, with the pid and a counter so that two images sharing a directory
 * do not collide, and short so that a long key's name cannot make them
 * exceed the host's name length limit. */
static unsigned long tmp_counter;

static int status_of_errno(int e)
{
    switch (e) {
    case ENOENT:
        return MG_ENOENT;
    case ENOTDIR:
        return MG_ENOTDIR;
    case EISDIR:
        return MG_EISDIR;
    case EEXIST:
        return MG_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return MG_EACCES;
    case ENOSPC:
    case EDQUOT:
        return MG_ENOSPC;
    case ENOMEM:
        return MG_ENOMEM;
    case ENAMETOOLONG:
        return MG_EINVAL;
    default:
        return MG_EIO;
    }
}

/* ---- reads: the direct_kv_ro's */

static int rw_stat(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    const direct_kv_rw *d = (const direct_kv_rw *)kv;
    return d->reader->ops->stat(d->reader, key, kind, size);
}

static int rw_version(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size,
                      uint64_t *version)
{
    const direct_kv_rw *d = (const direct_kv_rw *)kv;
    return d->reader->ops->version(d->reader, key, kind, size, version);
}

static int rw_read(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                   size_t *n_read)
{
    const direct_kv_rw *d = (const direct_kv_rw *)kv;
    return d->reader->ops->read(d->reader, key, offset, buf, length, n_read);
}

static int rw_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx)
{
    const direct_kv_rw *d = (const direct_kv_rw *)kv;
    return d->reader->ops->list(d->reader, key, fn, ctx);
}

static void rw_disconnect(mg_kv_ro *kv)
{
    direct_kv_rw *d = (direct_kv_rw *)kv;
    mg_kv_ro_disconnect(d->reader);
    close(d->dirfd);
    free(d);
}

/* ---- writes */

/* Creates the directories above `key` (a writable copy), relative to
 * dirfd. A value on the way is MG_ENOTDIR. */
static int make_parents(int dirfd, char *key)
{
    for (char *slash = strchr(key, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        int rc = MG_OK;
        if (mkdirat(dirfd, key, 0777) != 0) {
            struct stat st;
            if (errno != EEXIST)
                rc = status_of_errno(errno);
            else if (fstatat(dirfd, key, &st, 0) != 0)
                rc = status_of_errno(errno);
            else if (!S_ISDIR(st.st_mode))
                rc = MG_ENOTDIR;
        }
        *slash = '/';
        if (rc != MG_OK) return rc;
    }
    return MG_OK;
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return status_of_errno(errno);
        data += n;
        len -= (size_t)n;
    }
    return MG_OK;
}

static int rw_set(mg_kv_rw *rw, const char *key, const void *data, size_t len)
{
    direct_kv_rw *d = (direct_kv_rw *)rw;
    size_t key_len = strlen(key);
    /* key's directory part, then room for the temporary name. */
    size_t cap = key_len + 64;
    char *path = malloc(cap);
    if (!path) return MG_ENOMEM;
    memcpy(path, key, key_len + 1);
    int rc = make_parents(d->dirfd, path);
    struct stat st;
    if (rc == MG_OK && fstatat(d->dirfd, key, &st, 0) == 0 && S_ISDIR(st.st_mode)) rc = MG_EISDIR;
    if (rc != MG_OK) {
        free(path);
        return rc;
    }
    const char *slash = strrchr(key, '/');
    size_t dir_len = slash ? (size_t)(slash - key) + 1 : 0;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        snprintf(path + dir_len, cap - dir_len, ".mg-tmp-%ld-%lu", (long)getpid(), ++tmp_counter);
        fd = openat(d->dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        rc = status_of_errno(errno);
        free(path);
        return rc;
    }
    rc = write_all(fd, data, len);
    /* Flushed before the rename, or a crash could leave the new name
     * pointing at a file whose data never reached the disk. */
    if (rc == MG_OK && fsync(fd) != 0) rc = status_of_errno(errno);
    if (close(fd) != 0 && rc == MG_OK) rc = status_of_errno(errno);
    if (rc == MG_OK && renameat(d->dirfd, path, d->dirfd, key) != 0) rc = status_of_errno(errno);
    if (rc != MG_OK) unlinkat(d->dirfd, path, 0);
    free(path);
    return rc;
}

/* Removes everything in the directory open on `fd` (which it takes). */
static int remove_tree(int fd)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int rc = status_of_errno(errno);
        close(fd);
        return rc;
    }
    int rc = MG_OK;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno) rc = status_of_errno(errno);
            break;
        }
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        struct stat st;
        /* Links are removed, never followed: a link to a directory
         * elsewhere must not empty that directory. */
        if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = status_of_errno(errno);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = sub < 0 ? status_of_errno(errno) : remove_tree(sub);
            if (rc == MG_OK && unlinkat(dirfd(dir), name, AT_REMOVEDIR) != 0)
                rc = status_of_errno(errno);
        } else if (unlinkat(dirfd(dir), name, 0) != 0) {
            rc = status_of_errno(errno);
        }
        if (rc != MG_OK) break;
    }
    closedir(dir);
    return rc;
}

/* Removes the now empty directories above `key` (a writable copy),
 * deepest first, stopping at the first that still holds something. */
static void prune_parents(int dirfd, char *key)
{
    for (char *slash = strrchr(key, '/'); slash; slash = strrchr(key, '/')) {
        *slash = '\0';
        if (unlinkat(dirfd, key, AT_REMOVEDIR) != 0) return;
    }
}

static int rw_remove(mg_kv_rw *rw, const char *key)
{
    direct_kv_rw *d = (direct_kv_rw *)rw;
    struct stat st;
    if (fstatat(d->dirfd, key, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int e = errno;
        return e == ENOTDIR ? MG_ENOENT : status_of_errno(e);
    }
    int rc = MG_OK;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(d->dirfd, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = fd < 0 ? status_of_errno(errno) : remove_tree(fd);
        if (rc == MG_OK && unlinkat(d->dirfd, key, AT_REMOVEDIR) != 0) rc = status_of_errno(errno);
    } else if (unlinkat(d->dirfd, key, 0) != 0) {
        rc = status_of_errno(errno);
    }
    if (rc != MG_OK) return rc;
    size_t len = strlen(key);
    char *copy = malloc(len + 1);
    if (copy) { /* pruning is tidiness: without memory, skip it */
        memcpy(copy, key, len + 1);
        prune_parents(d->dirfd, copy);
        free(copy);
    }
    return MG_OK;
}

static const struct mg_kv_ro_ops rw_ro_ops = {
    .stat = rw_stat,
    .read = rw_read,
    .list = rw_list,
    .disconnect = rw_disconnect,
    .version = rw_version,
};

static const struct mg_kv_rw_ops rw_rw_ops = {
    .set = rw_set,
    .remove = rw_remove,
};

/* mkdir -p: the store's directory may not exist yet at first boot. */
static int make_dir(const char *dir)
{
    size_t len = strlen(dir);
    char *path = malloc(len + 2);
    if (!path) return ENOMEM;
    memcpy(path, dir, len);
    path[len] = '/';
    path[len + 1] = '\0';
    int e = 0;
    for (char *slash = strchr(path + 1, '/'); slash && !e; slash = strchr(slash + 1, '/')) {
        if (slash[-1] == '/') continue; /* "a//b" */
        *slash = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) e = errno;
        *slash = '/';
    }
    free(path);
    return e;
}

int mg_direct_kv_rw_connect(mg_kv_rw **out, const char *dir)
{
    if (!dir || !*dir) {
        mg_printf("direct_kv_rw: the store needs a directory\n");
        return MG_EINVAL;
    }
    int e = make_dir(dir);
    int fd = e ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (!e) e = errno;
        mg_printf("direct_kv_rw: cannot open the directory \"%s\": %s\n", dir, strerror(e));
        return status_of_errno(e);
    }
    direct_kv_rw *d = malloc(sizeof *d);
    if (!d) {
        close(fd);
        mg_printf("direct_kv_rw %s: out of memory\n", dir);
        return MG_ENOMEM;
    }
    /* The reader prints its own message if it fails. */
    int rc = mg_direct_kv_ro_connect(&d->reader, dir);
    if (rc != MG_OK) {
        close(fd);
        free(d);
        return rc;
    }
    d->rw.ro.ops = &rw_ro_ops;
    d->rw.ops = &rw_rw_ops;
    d->dirfd = fd;
    *out = &d->rw;
    return MG_OK;
}
