/*
 * direct_kv_rw.c - direct_kv_rw(dir): a read-write store over a host
 * directory. Unix only (POSIX).
 *
 * Reads are a direct_kv_ro over the same directory. Writes never leave a
 * value half-written: set writes a temporary file next to the key, flushes
 * it to the disk and renames it over the key, which POSIX makes atomic.
 * Like the reads, writes are relative to a descriptor of the directory
 * opened at connect, and keys cannot leave it (no ".." after
 * normalisation), nor through a symbolic link: every write walks the
 * key's dictionaries with the reads' walk (mg_direct_kv_walk: one segment
 * at a time, O_NOFOLLOW), makes missing ones with mkdirat in the
 * descriptor of the one above, and creates, renames and removes only by
 * a single name in the last one's descriptor. A link on the way, or the
 * key itself being a link, is MG_EACCES and changes nothing: a link is
 * the host owner's, which the store neither follows nor replaces. (Reads
 * say MG_ENOENT there, as the key is not in the store; for a write,
 * which would create it, "not there" would not say why it failed.)
 * Removing a key also removes the directories it leaves empty, so the
 * host tree matches the store: dictionaries exist while something is
 * under them (as in kv_rw_mem).
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

#include "direct_kv_walk.h"
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
    case ELOOP: /* a symbolic link, which writes never follow */
        return MG_EACCES;
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

static void put_parent(const direct_kv_rw *d, int fd)
{
    if (fd != d->dirfd) close(fd);
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
    const char *last;
    int pfd = mg_direct_kv_walk(d->dirfd, key, &last, 1);
    if (pfd < 0) return status_of_errno(errno);
    int rc = MG_OK;
    struct stat st;
    if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            rc = MG_EISDIR;
        else if (S_ISLNK(st.st_mode))
            rc = MG_EACCES; /* the host owner's link: not replaced */
    } else if (errno != ENOENT) {
        rc = status_of_errno(errno);
    }
    char tmp[64];
    int fd = -1;
    /* O_EXCL never follows a link, so a name taken by anything is EEXIST. */
    for (int attempt = 0; rc == MG_OK && fd < 0 && attempt < 100; attempt++) {
        snprintf(tmp, sizeof tmp, ".mg-tmp-%ld-%lu", (long)getpid(), ++tmp_counter);
        fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (rc == MG_OK && fd < 0) rc = status_of_errno(errno);
    if (rc != MG_OK) {
        put_parent(d, pfd);
        return rc;
    }
    rc = write_all(fd, data, len);
    /* Flushed before the rename, or a crash could leave the new name
     * pointing at a file whose data never reached the disk. */
    if (rc == MG_OK && fsync(fd) != 0) rc = status_of_errno(errno);
    if (close(fd) != 0 && rc == MG_OK) rc = status_of_errno(errno);
    /* A rename replaces the name itself: should a link have been put
     * there since the check above, the link goes, not what it points to. */
    if (rc == MG_OK && renameat(pfd, tmp, pfd, last) != 0) rc = status_of_errno(errno);
    if (rc != MG_OK) unlinkat(pfd, tmp, 0);
    put_parent(d, pfd);
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
 * deepest first, stopping at the first that still holds something. Each
 * is removed by name in its parent, walked to again as any write. */
static void prune_parents(const direct_kv_rw *d, char *key)
{
    for (char *slash = strrchr(key, '/'); slash; slash = strrchr(key, '/')) {
        *slash = '\0';
        const char *last;
        int pfd = mg_direct_kv_walk(d->dirfd, key, &last, 0);
        if (pfd < 0) return;
        int gone = unlinkat(pfd, last, AT_REMOVEDIR) == 0;
        put_parent(d, pfd);
        if (!gone) return;
    }
}

static int rw_remove(mg_kv_rw *rw, const char *key)
{
    direct_kv_rw *d = (direct_kv_rw *)rw;
    const char *last;
    int pfd = mg_direct_kv_walk(d->dirfd, key, &last, 0);
    if (pfd < 0) {
        int e = errno;
        return e == ENOTDIR ? MG_ENOENT : status_of_errno(e);
    }
    struct stat st;
    int rc = MG_OK;
    if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = status_of_errno(errno);
    } else if (S_ISLNK(st.st_mode)) {
        rc = MG_EACCES; /* the host owner's link: not removed */
    } else if (S_ISDIR(st.st_mode)) {
        /* O_NOFOLLOW: a link swapped in since the stat is refused */
        int fd = openat(pfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = fd < 0 ? status_of_errno(errno) : remove_tree(fd);
        if (rc == MG_OK && unlinkat(pfd, last, AT_REMOVEDIR) != 0) rc = status_of_errno(errno);
    } else if (unlinkat(pfd, last, 0) != 0) {
        rc = status_of_errno(errno);
    }
    put_parent(d, pfd);
    if (rc != MG_OK) return rc;
    size_t len = strlen(key);
    char *copy = malloc(len + 1);
    if (copy) { /* pruning is tidiness: without memory, skip it */
        memcpy(copy, key, len + 1);
        prune_parents(d, copy);
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
