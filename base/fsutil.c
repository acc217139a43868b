/*
 * fsutil.c - the file-system helpers of base/fsutil.h: whole-file reads,
 * atomic writes, mkdir -p, rm -rf, standard descriptors, paths, and where
 * mgd's own files are.
 */
#include "base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"

char *mg_file_read(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 16384, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, (cap *= 2) + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int saved = errno;
            free(buf);
            buf = NULL;
            errno = saved;
            break;
        }
        if (r == 0 || (n += (size_t)r) > max) break;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

int mg_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    /* a fresh name (O_EXCL: never through a planted link, never shared by
     * two threads writing the same path) */
    char *tmp = mg_xasprintf("%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    int saved = errno;
    /* fchmod: the umask must not decide whether an image is executable */
    bool ok = left == 0 && fchmod(fd, (mode_t)mode) == 0;
    if (!ok) saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) unlink(tmp);
    free(tmp);
    errno = saved;
    return ok ? 0 : -1;
}

int mg_mkdir_p(const char *path)
{
    char *p = mg_xasprintf("%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int r = mkdir(p, 0755);
    int saved = errno;
    struct stat st;
    if (r != 0 && saved == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) r = 0;
    free(p);
    errno = saved;
    return r == 0 ? 0 : -1;
}

static int rm_at(int parent, const char *name)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int status = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (rm_at(dirfd(d), e->d_name) != 0) status = -1;
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) status = -1;
    return status;
}

int mg_rm_rf(const char *path)
{
    return rm_at(AT_FDCWD, path);
}

char *mg_path_join(const char *a, const char *b)
{
    size_t n = strlen(a);
    return mg_xasprintf("%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

char *mg_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return mg_xasprintf(".");
    if (slash == path) return mg_xasprintf("/");
    return mg_xasprintf("%.*s", (int)(slash - path), path);
}

int mg_std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        /* the lowest free descriptor: fd itself */
        int opened = open("/dev/null", O_RDWR);
        if (opened < 0) return -1;
        if (opened != fd) {
            close(opened);
            errno = EBADF;
            return -1;
        }
    }
    return 0;
}

char *mg_own_file_beside(const char *exe, const char *name)
{
    char *dir = mg_path_dirname(exe);
    char *parent = mg_path_dirname(dir);
    /* the build tree first: a build run from its tree must not pick up
     * the module of an older mgd installed in ../lib/mgd */
    char *candidates[] = {mg_path_join(dir, name), mg_xasprintf("%s/lib/mgd/%s", parent, name)};
    char *found = NULL;
    int err = ENOENT;
    for (size_t i = 0; i < 2 && !found; i++) {
        found = realpath(candidates[i], NULL);
        if (!found && errno != ENOENT && errno != ENOTDIR) err = errno;
    }
    for (size_t i = 0; i < 2; i++) free(candidates[i]);
    free(parent);
    free(dir);
    if (!found) errno = err;
    return found;
}

char *mg_own_file(const char *name)
{
    char *exe = realpath("/proc/self/exe", NULL);
    if (!exe) return NULL;
    char *found = mg_own_file_beside(exe, name);
    int err = errno;
    free(exe);
    errno = err;
    return found;
}
