#include "toolchain/crunch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"

typedef struct {
    char *rel; /* relative to the crunched directory */
    int dirfd; /* not owned */
} file_ref;

typedef struct {
    char **paths; /* relative to the crunched directory */
    size_t n, cap;
    uint64_t bytes;
    mg_err *err;
    const char *dir;     /* for messages */
    size_t files_before; /* in the directories already walked */
    int depth;
} walk;

static bool walk_dir(walk *w, int fd, const char *prefix)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        mg_err_set(w->err, MG_E_IO, "cannot read %s/%s: %s", w->dir, prefix, strerror(errno));
        close(fd);
        return false;
    }
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *rel = *prefix ? mg_xasprintf("%s/%s", prefix, e->d_name) : mg_xstrdup(e->d_name);
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            mg_err_set(w->err, MG_E_IO, "cannot stat %s/%s: %s", w->dir, rel, strerror(errno));
            ok = false;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = -1;
            if (w->depth >= MG_CRUNCH_MAX_DEPTH)
                mg_err_set(w->err, MG_E_LIMIT, "%s is nested deeper than %d directories", w->dir,
                           MG_CRUNCH_MAX_DEPTH);
            else
                sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 && w->depth >= MG_CRUNCH_MAX_DEPTH)
                ok = false;
            else if (sub < 0) {
                mg_err_set(w->err, MG_E_IO, "cannot open %s/%s: %s", w->dir, rel, strerror(errno));
                ok = false;
            } else {
                w->depth++;
                ok = walk_dir(w, sub, rel);
                w->depth--;
            }
        } else if (S_ISREG(st.st_mode)) {
            if (w->files_before + w->n >= MG_CRUNCH_MAX_FILES ||
                (w->bytes += (uint64_t)st.st_size) > MG_CRUNCH_MAX_BYTES) {
                mg_err_set(w->err, MG_E_LIMIT,
                           "%s is too large to embed (limits: %u files, %u MiB in all)", w->dir,
                           MG_CRUNCH_MAX_FILES, MG_CRUNCH_MAX_BYTES >> 20);
                ok = false;
            } else {
                if (w->n == w->cap)
                    w->paths = mg_xrealloc(w->paths, (w->cap = w->cap * 2 + 16) * sizeof *w->paths);
                w->paths[w->n++] = rel;
                rel = NULL;
            }
        } else {
            mg_err_set(w->err, MG_E_INVALID, "%s/%s is %s: crunch embeds regular files only",
                       w->dir, rel, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
            ok = false;
        }
        free(rel);
    }
    closedir(d);
    return ok;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Bytes as the body of a C string literal: printable ASCII as is, the rest
 * as three-digit octal escapes (never ambiguous with a following digit). */
static void append_literal(mg_buf *b, const unsigned char *p, size_t n)
{
    char esc[5];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?')
            mg_buf_add(b, (const char *)&c, 1);
        else {
            snprintf(esc, sizeof esc, "\\%03o", c);
            mg_buf_add(b, esc, 4);
        }
        if (i % 64 == 63 && i + 1 < n) mg_buf_adds(b, "\"\n    \"");
    }
}

static bool valid_dir(const char *dir, mg_err *err)
{
    const char *why = NULL;
    if (!*dir)
        why = "is empty";
    else if (dir[0] == '/')
        why = "is absolute";
    for (const char *seg = dir; !why && seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 && end)
            why = "has an empty component";
        else if ((len == 2 && !strncmp(seg, "..", 2)))
            why = "leaves the project (..)";
        seg = end ? end + 1 : NULL;
    }
    if (why) mg_err_set(err, MG_E_INVALID, "the directory \"%s\" to embed %s", dir, why);
    return !why;
}

/* Opens root/dir component by component without following links. */
static int open_beneath(const char *root, const char *dir, mg_err *err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        mg_err_set(err, MG_E_IO, "cannot open %s: %s", root, strerror(errno));
        return -1;
    }
    char *copy = mg_xstrdup(dir);
    for (char *save = NULL, *seg = strtok_r(copy, "/", &save); seg;
         seg = strtok_r(NULL, "/", &save)) {
        if (!strcmp(seg, ".")) continue;
        int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(fd);
        if (next < 0) {
            mg_err_set(err, MG_E_IO, "cannot open the directory %s to embed: %s", dir,
                       saved == ELOOP || saved == ENOTDIR ? "not a directory (or a symbolic link)"
                                                          : strerror(saved));
            free(copy);
            return -1;
        }
        fd = next;
    }
    free(copy);
    return fd;
}

static bool read_all(int dirfd, const char *rel, mg_buf *out, uint64_t *size, mg_err *err,
                     const char *dir)
{
    /* beneath the tree, no link on the way (a directory swapped for a link
     * since the walk), and O_NONBLOCK: a file swapped for a fifo must not
     * hang. openat2 when the kernel has it (5.6+). */
    struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
    int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS) fd = openat(dirfd, rel, (int)how.flags);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        mg_err_set(err, MG_E_IO, "cannot read %s/%s: %s", dir, rel,
                   fd < 0 ? strerror(errno) : "no longer a regular file");
        if (fd >= 0) close(fd);
        return false;
    }
    unsigned char buf[65536];
    *size = 0;
    bool ok = true;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            mg_err_set(err, MG_E_IO, "cannot read %s/%s: %s", dir, rel, strerror(errno));
            ok = false;
        }
        if (r <= 0) break;
        /* the file may grow while we read: the limit holds on what we read */
        if ((*size += (uint64_t)r) > MG_CRUNCH_MAX_BYTES) {
            mg_err_set(err, MG_E_LIMIT, "%s/%s grew past the embedding limit while read", dir, rel);
            ok = false;
            break;
        }
        append_literal(out, buf, (size_t)r);
        if ((size_t)r == sizeof buf) mg_buf_adds(out, "\"\n    \"");
    }
    close(fd);
    return ok;
}

char *mg_crunch_generate(const char *root, const char *const *dirs, size_t n_dirs,
                         mg_crunch_summary *summary, mg_err *err)
{
    mg_buf b = {0};
    summary->files = 0;
    summary->bytes = 0;
    mg_buf_adds(&b, "/* Generated by mgd (crunch): files embedded into the image. */\n"
                    "#include <stddef.h>\n#include <stdint.h>\n\n#include \"mg/crunch.h\"\n");
    mg_buf tables = {0};
    bool ok = true;
    for (size_t t = 0; ok && t < n_dirs; t++) {
        ok = valid_dir(dirs[t], err);
        int fd = ok ? open_beneath(root, dirs[t], err) : -1;
        if (fd < 0) {
            ok = false;
            break;
        }
        int keep = dup(fd); /* walk_dir's fdopendir takes fd */
        walk w = {.err = err, .dir = dirs[t], .files_before = summary->files};
        ok = keep >= 0 && walk_dir(&w, fd, "");
        if (keep < 0) mg_err_set(err, MG_E_IO, "dup: %s", strerror(errno));
        /* an empty tree has no array at all: qsort may not be given NULL */
        if (w.n) qsort(w.paths, w.n, sizeof *w.paths, cmp_path);
        for (size_t i = 0; ok && i < w.n; i++) {
            mg_buf_printf(&b, "\nstatic const unsigned char mg__crunch_%zu_%zu[] =\n    \"", t, i);
            uint64_t size;
            ok = read_all(keep, w.paths[i], &b, &size, err, dirs[t]);
            mg_buf_printf(&b, "\";\n#define MG__CRUNCH_%zu_%zu_SIZE UINT64_C(%llu)\n", t, i,
                          (unsigned long long)size);
            summary->bytes += size;
            if (summary->bytes > MG_CRUNCH_MAX_BYTES) {
                mg_err_set(err, MG_E_LIMIT, "the embedded directories exceed %u MiB",
                           MG_CRUNCH_MAX_BYTES >> 20);
                ok = false;
            }
        }
        if (ok) {
            summary->files += w.n;
            mg_buf_printf(&b, "\nstatic const struct mg_crunch_file mg__crunch_%zu[%zu] = {\n", t,
                          w.n ? w.n : 1);
            for (size_t i = 0; i < w.n; i++) {
                mg_buf_adds(&b, "    {\"");
                append_literal(&b, (const unsigned char *)w.paths[i], strlen(w.paths[i]));
                mg_buf_printf(&b, "\", MG__CRUNCH_%zu_%zu_SIZE, mg__crunch_%zu_%zu},\n", t, i, t,
                              i);
            }
            mg_buf_adds(&b, "};\n");
            mg_buf_adds(&tables, "    {\"");
            append_literal(&tables, (const unsigned char *)dirs[t], strlen(dirs[t]));
            mg_buf_printf(&tables, "\", mg__crunch_%zu, %zu},\n", t, w.n);
        }
        if (keep >= 0) close(keep);
        for (size_t i = 0; i < w.n; i++) free(w.paths[i]);
        free(w.paths);
    }
    if (ok && tables.failed) b.failed = true; /* the text is incomplete */
    if (!ok) {
        mg_buf_free(&b);
        mg_buf_free(&tables);
        return NULL;
    }
    mg_buf_printf(&b, "\nconst struct mg_crunch_tree mg_crunch_trees[%zu] = {\n%s};\n",
                  n_dirs ? n_dirs : 1, tables.data ? tables.data : "");
    mg_buf_printf(&b, "const size_t mg_crunch_n_trees = %zu;\n", n_dirs);
    mg_buf_free(&tables);
    /* the files' size is the project's: running out of memory is a failed
     * build, not a crash */
    char *text = mg_buf_take(&b, NULL);
    if (!text)
        mg_err_set(err, MG_E_NOMEM, "out of memory for the embedded files (%llu bytes)",
                   (unsigned long long)summary->bytes);
    return text;
}
