/*
 * direct_kv_ro.c - direct_kv_ro(dir): a read-only store over a host
 * directory, read when asked. Unix only: it uses POSIX, and never builds
 * for freestanding targets (the catalog falls back to crunch there).
 *
 * The directory is opened once at connect and every access is relative to
 * that descriptor (openat, fstatat), so a later chdir changes nothing.
 * Normalised keys have no ".." segment, so no key names a file outside the
 * directory; symbolic links inside it are followed, as the host's owner
 * put them there. Only regular files and directories exist for the store:
 * a FIFO or a device could block or never end.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg/kv_ro.h"

typedef struct direct_kv_ro {
    mg_kv_ro kv; /* first: a mg_kv_ro * is a direct_kv_ro * */
    int dirfd;
} direct_kv_ro;

static int status_of_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: /* a value on the way: the key does not exist */
        return MG_ENOENT;
    case EACCES:
    case EPERM:
        return MG_EACCES;
    case EISDIR:
        return MG_EISDIR;
    case ENAMETOOLONG:
        return MG_EINVAL;
    case ENOMEM:
        return MG_ENOMEM;
    case ENOSPC:
        return MG_ENOSPC;
    default:
        return MG_EIO;
    }
}

/* The path relative to the directory: the root is the directory itself. */
static const char *rel(const char *key)
{
    return *key ? key : ".";
}

static int direct_stat(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    const direct_kv_ro *d = (const direct_kv_ro *)kv;
    struct stat st;
    if (fstatat(d->dirfd, rel(key), &st, 0) != 0) return status_of_errno(errno);
    if (S_ISDIR(st.st_mode)) {
        *kind = MG_KV_DICTIONARY;
        return MG_OK;
    }
    if (!S_ISREG(st.st_mode)) return MG_ENOENT;
    *kind = MG_KV_VALUE;
    *size = (uint64_t)st.st_size;
    return MG_OK;
}

static int direct_read(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                       size_t *n_read)
{
    const direct_kv_ro *d = (const direct_kv_ro *)kv;
    /* O_NONBLOCK: should the file have become a FIFO since the stat, the
     * open must not wait for a writer; fstat then refuses it. */
    int fd = openat(d->dirfd, key, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return status_of_errno(errno);
    struct stat st;
    int rc = MG_OK;
    if (fstat(fd, &st) != 0)
        rc = status_of_errno(errno);
    else if (S_ISDIR(st.st_mode))
        rc = MG_EISDIR;
    else if (!S_ISREG(st.st_mode))
        rc = MG_ENOENT;
    else if (offset > (uint64_t)st.st_size)
        rc = MG_ERANGE;
    size_t done = 0;
    while (rc == MG_OK && done < length) {
        ssize_t n = pread(fd, (char *)buf + done, length - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = status_of_errno(errno);
        if (n <= 0) break; /* the end of the file (it may have shrunk) */
        done += (size_t)n;
    }
    close(fd);
    if (rc == MG_OK) *n_read = done;
    return rc;
}

typedef struct dir_entry {
    char *name;
    mg_kv_kind kind;
} dir_entry;

/* The order of mg_kv_ro_list: names by strcmp, a dictionary's name as if
 * it ended with '/' (so "a.txt" comes before the dictionary "a"). */
static int entry_cmp(const void *pa, const void *pb)
{
    const dir_entry *a = pa, *b = pb;
    const unsigned char *x = (const unsigned char *)a->name, *y = (const unsigned char *)b->name;
    while (*x && *x == *y) x++, y++;
    unsigned cx = *x ? *x : (a->kind == MG_KV_DICTIONARY ? '/' : 0);
    unsigned cy = *y ? *y : (b->kind == MG_KV_DICTIONARY ? '/' : 0);
    if (cx != cy) return cx < cy ? -1 : 1;
    return 0;
}

static void free_entries(dir_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) free(entries[i].name);
    free(entries);
}

/* Reads the directory open on `fd` (which it takes) into a sorted array. */
static int read_entries(int fd, dir_entry **out, size_t *n_out)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int rc = status_of_errno(errno);
        close(fd);
        return rc;
    }
    dir_entry *entries = NULL;
    size_t n = 0, cap = 0;
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
        if (fstatat(dirfd(dir), name, &st, 0) != 0) continue; /* gone, or a broken link */
        mg_kv_kind kind;
        if (S_ISDIR(st.st_mode))
            kind = MG_KV_DICTIONARY;
        else if (S_ISREG(st.st_mode))
            kind = MG_KV_VALUE;
        else
            continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 16;
            dir_entry *grown = realloc(entries, c * sizeof *grown);
            if (!grown) {
                rc = MG_ENOMEM;
                break;
            }
            entries = grown;
            cap = c;
        }
        size_t len = strlen(name);
        char *copy = malloc(len + 1);
        if (!copy) {
            rc = MG_ENOMEM;
            break;
        }
        memcpy(copy, name, len + 1);
        entries[n++] = (dir_entry){copy, kind};
    }
    closedir(dir);
    if (rc != MG_OK) {
        free_entries(entries, n);
        return rc;
    }
    if (n) qsort(entries, n, sizeof *entries, entry_cmp);
    *out = entries;
    *n_out = n;
    return MG_OK;
}

static int direct_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx)
{
    const direct_kv_ro *d = (const direct_kv_ro *)kv;
    int fd = openat(d->dirfd, rel(key), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return status_of_errno(errno);
    dir_entry *entries;
    size_t n;
    int rc = read_entries(fd, &entries, &n);
    if (rc != MG_OK) return rc;
    size_t plen = strlen(key);
    char *child = NULL;
    size_t child_cap = 0;
    for (size_t i = 0; i < n && rc == MG_OK; i++) {
        size_t len = strlen(entries[i].name);
        size_t need = plen + 1 + len + 1;
        if (need > child_cap) {
            char *grown = realloc(child, need);
            if (!grown) {
                rc = MG_ENOMEM;
                break;
            }
            child = grown;
            child_cap = need;
        }
        size_t at = 0;
        if (plen) {
            memcpy(child, key, plen);
            child[plen] = '/';
            at = plen + 1;
        }
        memcpy(child + at, entries[i].name, len + 1);
        rc = fn(ctx, child, entries[i].kind);
    }
    free(child);
    free_entries(entries, n);
    return rc;
}

static void direct_disconnect(mg_kv_ro *kv)
{
    direct_kv_ro *d = (direct_kv_ro *)kv;
    close(d->dirfd);
    free(d);
}

static const struct mg_kv_ro_ops direct_ops = {
    .stat = direct_stat,
    .read = direct_read,
    .list = direct_list,
    .disconnect = direct_disconnect,
};

int mg_direct_kv_ro_connect(mg_kv_ro **out, const char *dir)
{
    if (!dir || !*dir) {
        mg_printf("direct_kv_ro: the store needs a directory\n");
        return MG_EINVAL;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        mg_printf("direct_kv_ro: cannot open the directory \"%s\": %s\n", dir, strerror(e));
        return e == ENOTDIR ? MG_ENOTDIR : status_of_errno(e);
    }
    direct_kv_ro *d = malloc(sizeof *d);
    if (!d) {
        close(fd);
        mg_printf("direct_kv_ro %s: out of memory\n", dir);
        return MG_ENOMEM;
    }
    d->kv.ops = &direct_ops;
    d->dirfd = fd;
    *out = &d->kv;
    return MG_OK;
}
