/* tree.c - see tree.h. */
#include "client/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/utf8.h"

int mg_tree_is_text(const char *s, size_t len)
{
    return mg_utf8_valid(s, len) && !memchr(s, '\0', len);
}

typedef struct walk {
    cJSON *obj;
    dev_t skip_dev;
    ino_t skip_ino;
    int has_skip;
    size_t files, bytes;
    mg_err *err;
} walk;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(walk *w, const char *full, const char *rel, const struct stat *st)
{
    if (w->bytes + (size_t)st->st_size > MG_TREE_MAX_BYTES) {
        mg_err_set(w->err, MG_E_LIMIT,
                   "the sources are over %u MiB; inline sources are for small trees "
                   "(use --repo for a git repository)",
                   MG_TREE_MAX_BYTES >> 20);
        return -1;
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        mg_err_set(w->err, MG_E_IO, "cannot read %s: %s", full, strerror(errno));
        return -1;
    }
    mg_buf b = {0};
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0 && b.len <= MG_TREE_MAX_BYTES)
        mg_buf_add(&b, chunk, (size_t)n);
    int e = errno;
    close(fd);
    int rc = -1;
    if (n < 0)
        mg_err_set(w->err, MG_E_IO, "cannot read %s: %s", full, strerror(e));
    else if (b.failed)
        mg_err_set(w->err, MG_E_NOMEM, "out of memory reading %s", full);
    else if (!mg_tree_is_text(mg_buf_str(&b), b.len))
        mg_err_set(w->err, MG_E_INVALID,
                   "%s is not UTF-8 text; inline sources carry text files only "
                   "(use --repo for a git repository)",
                   full);
    else if (!cJSON_AddStringToObject(w->obj, rel, mg_buf_str(&b)))
        mg_err_set(w->err, MG_E_NOMEM, "out of memory");
    else {
        w->files++;
        w->bytes += b.len;
        rc = 0;
    }
    mg_buf_free(&b);
    return rc;
}

static int walk_dir(walk *w, const char *dir, const char *rel, int top)
{
    DIR *d = opendir(dir);
    if (!d) {
        mg_err_set(w->err, MG_E_IO, "cannot read the directory %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* ., .., .git and hidden files */
        if (top && strcmp(de->d_name, "dist") == 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = -1;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != 0) mg_err_set(w->err, MG_E_NOMEM, "out of memory");
    if (n) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char full[PATH_MAX], sub[PATH_MAX];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, names[i]) >= sizeof full ||
            (size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) >=
                sizeof sub) {
            mg_err_set(w->err, MG_E_INVALID, "a path under %s is too long", dir);
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(full, &st) != 0) {
            mg_err_set(w->err, MG_E_IO, "cannot read %s: %s", full, strerror(errno));
            rc = -1;
        } else if (S_ISLNK(st.st_mode)) {
            mg_err_set(w->err, MG_E_IO,
                       "%s is a symbolic link; inline sources are plain files (copy what it "
                       "points to, or use --repo)",
                       full);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(w, full, sub, 0);
        } else if (S_ISREG(st.st_mode)) {
            if (w->has_skip && st.st_dev == w->skip_dev && st.st_ino == w->skip_ino) continue;
            if (w->files == MG_TREE_MAX_FILES) {
                mg_err_set(w->err, MG_E_LIMIT, "more than %d files under the sources directory",
                           MG_TREE_MAX_FILES);
                rc = -1;
            } else {
                rc = read_file(w, full, sub, &st);
            }
        }
        /* sockets, fifos and devices are not sources */
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Each directory is read in name order, which puts "src/a.c" before
 * "src-b.c" and "src.c" ('/' sorts after '-' and '.'); the whole paths are
 * sorted here, in strcmp order. */
static int sort_members(cJSON *obj)
{
    int n = cJSON_GetArraySize(obj);
    if (n < 2) return 0;
    cJSON **v = malloc((size_t)n * sizeof *v);
    if (!v) return -1;
    int i = 0;
    for (cJSON *c = obj->child; c; c = c->next) v[i++] = c;
    qsort(v, (size_t)n, sizeof *v, by_key);
    for (i = 0; i < n; i++) cJSON_DetachItemViaPointer(obj, v[i]);
    for (i = 0; i < n; i++) cJSON_AddItemToArray(obj, v[i]);
    free(v);
    return 0;
}

cJSON *mg_tree_read(const char *dir, const char *skip, size_t *files, size_t *bytes, mg_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        mg_err_set(err, MG_E_INVALID, "%s is not a directory", dir);
        return NULL;
    }
    walk w = {.obj = cJSON_CreateObject(), .err = err};
    if (!w.obj) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return NULL;
    }
    struct stat sk;
    if (skip && stat(skip, &sk) == 0) {
        w.has_skip = 1;
        w.skip_dev = sk.st_dev;
        w.skip_ino = sk.st_ino;
    }
    size_t len = strlen(dir);
    char root[PATH_MAX];
    while (len > 1 && dir[len - 1] == '/') len--;
    if (len >= sizeof root) {
        mg_err_set(err, MG_E_INVALID, "the path %s is too long", dir);
        cJSON_Delete(w.obj);
        return NULL;
    }
    memcpy(root, dir, len);
    root[len] = '\0';
    if (walk_dir(&w, root, "", 1) != 0) {
        cJSON_Delete(w.obj);
        return NULL;
    }
    if (sort_members(w.obj) != 0) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        cJSON_Delete(w.obj);
        return NULL;
    }
    *files = w.files;
    *bytes = w.bytes;
    return w.obj;
}
