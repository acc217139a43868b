/*
 * direct_kv_ro.c - direct_kv_ro(dir): a read-only store over a host
 * directory, read when asked. Unix only: it uses POSIX, and never builds
 * for freestanding targets (the catalog falls back to crunch there).
 *
 * The directory is opened once at connect and every access is relative to
 * that descriptor (openat, fstatat), so a later chdir changes nothing.
 * Normalised keys have no ".." segment, and symbolic links are not part
 * of the store: a key is resolved one segment at a time from the
 * directory's descriptor with O_NOFOLLOW (and AT_SYMLINK_NOFOLLOW for
 * the last), so a link anywhere on the way, pointing outside the
 * directory or inside it, makes the key not exist (MG_ENOENT), and
 * listings leave links out. A link swapped in during a lookup is refused
 * the same way: every step is relative to a descriptor already open, so
 * there is no window between a check and a use. (openat2's
 * RESOLVE_BENEATH would do it in one call, but the walk needs no newer
 * kernel and costs one openat per dictionary on the way.) The directory
 * named at connect may itself be a link: that is the host owner's choice.
 * direct_kv_rw's writes walk the same way (mg_direct_kv_walk, in
 * direct_kv_walk.h), so they cannot leave the directory through a link
 * either.
 *
 * Only regular files and directories exist for the store: a FIFO or a
 * device could block or never end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "direct_kv_walk.h"
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
    case ELOOP:   /* a symbolic link, which the store does not follow */
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

/* Descriptors of the dictionaries on a key's way only serve to look
 * names up in: O_PATH where the host has it (search permission is
 * enough, as for a path), else an ordinary read-only open. */
#ifdef O_PATH
#define WALK_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#else
#define WALK_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#endif

/* The walk of direct_kv_walk.h, which direct_kv_rw's writes share. */
int mg_direct_kv_walk(int dirfd, const char *key, const char **last, int create)
{
    const char *slash = strrchr(key, '/');
    *last = slash ? slash + 1 : key;
    int fd = dirfd;
    for (const char *p = key; slash && p < slash;) {
        const char *end = strchr(p, '/'); /* at most slash */
        size_t len = (size_t)(end - p);
        char name[256];
        int next = -1, e = ENAMETOOLONG;
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            next = openat(fd, name, WALK_FLAGS);
            e = errno;
            /* EEXIST: made meanwhile by someone else, which is as good;
             * the open after it refuses a link as the first would. */
            if (next < 0 && e == ENOENT && create &&
                (mkdirat(fd, name, 0777) == 0 || errno == EEXIST)) {
                next = openat(fd, name, WALK_FLAGS);
                e = errno;
            }
            /* A link is ELOOP without O_PATH but ENOTDIR with it (O_PATH
             * opens the link itself, which is no directory): say which. */
            struct stat st;
            if (next < 0 && (e == ENOTDIR || e == ELOOP) &&
                fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                e = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
        }
        if (fd != dirfd) close(fd);
        if (next < 0) {
            errno = e;
            return -1;
        }
        fd = next;
        p = end + 1;
    }
    return fd;
}

/* The walk from the store's directory, for reads: a missing dictionary
 * stays missing. */
static int get_parent(const direct_kv_ro *d, const char *key, const char **last)
{
    return mg_direct_kv_walk(d->dirfd, key, last, 0);
}

static void put_parent(const direct_kv_ro *d, int fd)
{
    if (fd != d->dirfd) close(fd);
}

/* lstat of `key` (the directory itself for the root): a link is a link. */
static int stat_key(const direct_kv_ro *d, const char *key, struct stat *st)
{
    if (!*key) return fstat(d->dirfd, st) == 0 ? MG_OK : status_of_errno(errno);
    const char *last;
    int fd = get_parent(d, key, &last);
    if (fd < 0) return status_of_errno(errno);
    int rc = fstatat(fd, last, st, AT_SYMLINK_NOFOLLOW) == 0 ? MG_OK : status_of_errno(errno);
    put_parent(d, fd);
    return rc;
}

/* Opens `key` with `flags` (to which O_NOFOLLOW is added), following no
 * link on the way either. Returns a descriptor or -1 with errno set. */
static int open_key(const direct_kv_ro *d, const char *key, int flags)
{
    if (!*key) return openat(d->dirfd, ".", flags);
    const char *last;
    int fd = get_parent(d, key, &last);
    if (fd < 0) return -1;
    int out = openat(fd, last, flags | O_NOFOLLOW);
    int e = errno;
    put_parent(d, fd);
    errno = e;
    return out;
}

/* The version is what a stat says changes with the file: which file it
 * is (a rename over it is another inode), its size, and its times to the
 * nanosecond the host keeps. */
static int direct_version(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size,
                          uint64_t *version)
{
    const direct_kv_ro *d = (const direct_kv_ro *)kv;
    struct stat st;
    int rc = stat_key(d, key, &st);
    if (rc != MG_OK) return rc;
    if (S_ISDIR(st.st_mode)) {
        *kind = MG_KV_DICTIONARY;
        return MG_OK;
    }
    if (!S_ISREG(st.st_mode)) return MG_ENOENT; /* links, FIFOs, devices */
    *kind = MG_KV_VALUE;
    *size = (uint64_t)st.st_size;
    uint64_t v = MG_KV_VERSION_SEED;
    v = mg_kv_version_mix(v, (uint64_t)st.st_dev);
    v = mg_kv_version_mix(v, (uint64_t)st.st_ino);
    v = mg_kv_version_mix(v, (uint64_t)st.st_size);
    v = mg_kv_version_mix(v, (uint64_t)st.st_mtim.tv_sec);
    v = mg_kv_version_mix(v, (uint64_t)st.st_mtim.tv_nsec);
    v = mg_kv_version_mix(v, (uint64_t)st.st_ctim.tv_sec);
    v = mg_kv_version_mix(v, (uint64_t)st.st_ctim.tv_nsec);
    *version = v;
    return MG_OK;
}

static int direct_stat(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    uint64_t version; /* a few multiplications: not worth a second walk */
    return direct_version(kv, key, kind, size, &version);
}

static int direct_read(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                       size_t *n_read)
{
    const direct_kv_ro *d = (const direct_kv_ro *)kv;
    /* O_NONBLOCK: should the file have become a FIFO since the stat, the
     * open must not wait for a writer; fstat then refuses it. */
    int fd = open_key(d, key, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
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
        /* not following links: they are not part of the store */
        if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue; /* gone */
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
    int fd = open_key(d, key, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    .version = direct_version,
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
