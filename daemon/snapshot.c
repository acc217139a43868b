/*
 * snapshot.c - deterministic ustar packing and checked unpacking of a
 * source tree (see snapshot.h for the format and the rules).
 */
#include "daemon/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "daemon/sources.h"

#define BLOCK 512

bool mg_snapshot_link_target_ok(const char *t, size_t len, int depth)
{
    /* ".." may only lead: every link then sits in a real directory and
     * climbs real directories, so however links chain, each lands inside
     * the tree (a ".." after a link name would climb from wherever that
     * link points, even from the root) */
    if (len == 0 || memchr(t, 0, len) || t[0] == '/') return false;
    bool leading = true;
    const char *p = t, *end = t + len;
    while (p < end) {
        const char *s = memchr(p, '/', (size_t)(end - p));
        size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (!leading || --depth < 0) return false;
        } else if (n != 0 && !(n == 1 && p[0] == '.')) {
            leading = false;
        }
        p += n + (s ? 1 : 0);
    }
    return true;
}

/* ---- packing ------------------------------------------------------------ */

typedef struct entry {
    char *path; /* relative, no trailing '/' */
    char type;  /* '0', '2' or '5' */
    unsigned mode;
    uint64_t size;
    char *link;
} entry;

typedef struct packer {
    entry *v;
    size_t n, cap;
    mg_err *e;
} packer;

static void entries_free(packer *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
        free(p->v[i].link);
    }
    free(p->v);
}

static void push(packer *p, entry en)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = mg_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = en;
}

/* Collects the entries under directory `fd` (whose path is `rel`, "" for
 * the root), `depth` directories below the root. */
static int collect(packer *p, int fd, const char *rel, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return mg_err_set(p->e, MG_E_IO, "snapshot: cannot read '%s': %s", *rel ? rel : ".",
                          strerror(errno));
    }
    int r = 0;
    for (struct dirent *de; r == 0 && (errno = 0, de = readdir(d));) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        char *path = *rel ? mg_xasprintf("%s/%s", rel, name) : mg_xstrdup(name);
        struct stat st;
        entry en = {.path = path};
        if (strcasecmp(name, ".git") == 0) {
            r = mg_err_set(p->e, MG_E_INVALID, "snapshot: '%s' is a .git entry", path);
        } else if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = mg_err_set(p->e, MG_E_IO, "snapshot: cannot stat '%s': %s", path, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            en.type = '0';
            en.mode = (st.st_mode & S_IXUSR) ? 0755 : 0644;
            en.size = (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            en.type = '5';
            en.mode = 0755;
            if (depth + 1 > MG_SOURCES_MAX_DEPTH)
                r = mg_err_set(p->e, MG_E_INVALID,
                               "snapshot: '%s' is nested more than %d directories deep", path,
                               MG_SOURCES_MAX_DEPTH);
        } else if (S_ISLNK(st.st_mode)) {
            en.type = '2';
            en.mode = 0777;
            char target[BLOCK];
            ssize_t n = readlinkat(dirfd(d), name, target, sizeof target);
            if (n < 0)
                r = mg_err_set(p->e, MG_E_IO, "snapshot: cannot read the link '%s': %s", path,
                               strerror(errno));
            else if (n > 100)
                r = mg_err_set(p->e, MG_E_INVALID,
                               "snapshot: the link '%s' has a target longer than 100 bytes", path);
            else if (!mg_snapshot_link_target_ok(target, (size_t)n, depth))
                r = mg_err_set(p->e, MG_E_INVALID, "snapshot: the link '%s' leaves the tree", path);
            else
                en.link = mg_xasprintf("%.*s", (int)n, target);
        } else {
            r = mg_err_set(p->e, MG_E_INVALID,
                           "snapshot: '%s' is neither a file, a directory nor a link", path);
        }
        if (r) {
            free(path);
            free(en.link);
            break;
        }
        push(p, en);
        if (en.type == '5') {
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                r = mg_err_set(p->e, MG_E_IO, "snapshot: cannot open '%s': %s", path,
                               strerror(errno));
            else
                r = collect(p, sub, path, depth + 1);
        }
    }
    if (r == 0 && errno != 0)
        r = mg_err_set(p->e, MG_E_IO, "snapshot: cannot read '%s': %s", *rel ? rel : ".",
                       strerror(errno));
    closedir(d);
    return r;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width - 1 digits and a NUL (the callers' values fit) */
    char text[32];
    snprintf(text, sizeof text, "%0*llo", (int)width - 1, (unsigned long long)v);
    memcpy(field, text, width - 1);
    field[width - 1] = 0;
}

/* Writes en's header into h (BLOCK bytes, zeroed); -1 when the path does
 * not fit ustar. */
static int header(const entry *en, unsigned char *h, mg_err *e)
{
    char name[4096];
    snprintf(name, sizeof name, "%s%s", en->path, en->type == '5' ? "/" : "");
    size_t len = strlen(name);
    const char *prefix = "";
    size_t plen = 0;
    const char *tail = name;
    if (len > 100) {
        /* the last '/' that leaves at most 100 bytes after it and 155 before */
        const char *cut = NULL;
        for (const char *s = name + len - 1; s > name; s--) {
            if (*s != '/' || s == name + len - 1) continue;
            if ((size_t)(name + len - (s + 1)) > 100) break;
            if ((size_t)(s - name) <= 155) {
                cut = s;
                break;
            }
        }
        if (!cut)
            return mg_err_set(e, MG_E_INVALID,
                              "snapshot: the path '%s' is too long for the archive (ustar: 155 "
                              "bytes of directories and 100 of name)",
                              en->path);
        prefix = name;
        plen = (size_t)(cut - name);
        tail = cut + 1;
    }
    memcpy(h, tail, strlen(tail));
    octal((char *)h + 100, 8, en->mode);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, en->type == '0' ? en->size : 0);
    octal((char *)h + 136, 12, 0);
    h[156] = (unsigned char)en->type;
    if (en->link) memcpy(h + 157, en->link, strlen(en->link));
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    octal((char *)h + 329, 8, 0);
    octal((char *)h + 337, 8, 0);
    memcpy(h + 345, prefix, plen);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum); /* six digits, NUL, and the space left */
    return 0;
}

/* Appends the content of regular file `en` (opened under root). */
static int add_content(int root, const entry *en, mg_buf *out, mg_err *e)
{
    int fd = openat(root, en->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return mg_err_set(e, MG_E_IO, "snapshot: cannot open '%s': %s", en->path, strerror(errno));
    uint64_t got = 0;
    int r = 0;
    if (!mg_buf_reserve(out, (size_t)en->size + BLOCK)) {
        close(fd);
        return mg_err_set(e, MG_E_NOMEM, "snapshot: out of memory");
    }
    while (got < en->size) {
        ssize_t n = read(fd, out->data + out->len, (size_t)(en->size - got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out->len += (size_t)n;
        got += (uint64_t)n;
    }
    char extra;
    if (got != en->size || read(fd, &extra, 1) != 0)
        r = mg_err_set(e, MG_E_IO, "snapshot: '%s' changed while it was packed", en->path);
    close(fd);
    static const char zeros[BLOCK];
    if (got % BLOCK) mg_buf_add(out, zeros, BLOCK - got % BLOCK);
    return r;
}

int mg_snapshot_pack(const char *dir, uint64_t max_bytes, mg_buf *out, mg_err *e)
{
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return mg_err_set(e, MG_E_IO, "snapshot: cannot open '%s': %s", dir, strerror(errno));
    packer p = {.e = e};
    int dup_fd = dup(root);
    int r = dup_fd < 0 ? mg_err_set(e, MG_E_IO, "snapshot: %s", strerror(errno))
                       : collect(&p, dup_fd, "", 0);
    if (r == 0) qsort(p.v, p.n, sizeof *p.v, cmp_entry);
    size_t start = out->len;
    uint64_t total = 2 * BLOCK;
    for (size_t i = 0; r == 0 && i < p.n; i++) {
        total += BLOCK + (p.v[i].type == '0' ? (p.v[i].size + BLOCK - 1) / BLOCK * BLOCK : 0);
        if (max_bytes && total > max_bytes) {
            r = mg_err_set(e, MG_E_LIMIT, "snapshot: the tree's archive exceeds %llu bytes",
                           (unsigned long long)max_bytes);
            break;
        }
        unsigned char h[BLOCK] = {0};
        r = header(&p.v[i], h, e);
        if (r == 0) mg_buf_add(out, h, BLOCK);
        if (r == 0 && p.v[i].type == '0') r = add_content(root, &p.v[i], out, e);
    }
    if (r == 0) {
        static const char zeros[2 * BLOCK];
        mg_buf_add(out, zeros, sizeof zeros);
        if (out->failed) r = mg_err_set(e, MG_E_NOMEM, "snapshot: out of memory");
    }
    if (r != 0 && !out->failed) {
        out->len = start;
        if (out->data) out->data[start] = 0;
    }
    entries_free(&p);
    close(root);
    return r;
}

/* ---- unpacking ---------------------------------------------------------- */

/* A number field: optional leading spaces, octal digits, then NULs or
 * spaces to the end. Base-256 numbers (high bit set) and anything else
 * are refused. */
static bool parse_octal(const unsigned char *f, size_t width, uint64_t *out)
{
    size_t i = 0;
    while (i < width && f[i] == ' ') i++;
    uint64_t v = 0;
    size_t digits = 0;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60) return false;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (!digits) return false;
    for (; i < width; i++)
        if (f[i] != 0 && f[i] != ' ') return false;
    *out = v;
    return true;
}

static bool zero_block(const unsigned char *b)
{
    for (int i = 0; i < BLOCK; i++)
        if (b[i]) return false;
    return true;
}

/* A path's characters and segments: relative, no empty, "." or ".."
 * segment, no ".git", no control characters or backslashes. Returns the
 * number of segments, or -1 with e. */
static int check_path(const char *path, mg_err *e)
{
    if (!*path) return mg_err_set(e, MG_E_INVALID, "snapshot: an entry has an empty name");
    if (path[0] == '/')
        return mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' is an absolute path", path);
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
            return mg_err_set(e, MG_E_INVALID,
                              "snapshot: entry '%s' has a control character or a backslash", path);
    int segs = 0;
    for (const char *p = path;;) {
        const char *s = strchr(p, '/');
        size_t n = s ? (size_t)(s - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.'))
            return mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' has an empty or '.' segment",
                              path);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' leaves the tree", path);
        if (n == 4 && strncasecmp(p, ".git", 4) == 0)
            return mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' is inside .git", path);
        segs++;
        if (!s) break;
        p = s + 1;
    }
    if (segs > MG_SOURCES_MAX_DEPTH + 1)
        return mg_err_set(e, MG_E_INVALID,
                          "snapshot: entry '%s' is nested more than %d directories deep", path,
                          MG_SOURCES_MAX_DEPTH);
    return segs;
}

/* Opens the directory that holds `path` (under root), walking real
 * directories only; *leaf points at the last segment. -1 with e. */
static int open_parent(int root, char *path, const char **leaf, mg_err *e)
{
    int fd = dup(root);
    if (fd < 0) return mg_err_set(e, MG_E_IO, "snapshot: %s", strerror(errno));
    char *p = path;
    for (char *s; (s = strchr(p, '/'));) {
        *s = 0;
        int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        *s = '/';
        close(fd);
        if (next < 0) {
            if (err == ENOENT)
                return mg_err_set(e, MG_E_INVALID,
                                  "snapshot: entry '%s' comes before its directory", path);
            if (err == ELOOP || err == ENOTDIR)
                return mg_err_set(e, MG_E_INVALID,
                                  "snapshot: entry '%s' goes through a link or a file", path);
            return mg_err_set(e, MG_E_IO, "snapshot: cannot open the directory of '%s': %s", path,
                              strerror(err));
        }
        fd = next;
        p = s + 1;
    }
    *leaf = p;
    return fd;
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static const char *type_name(unsigned char t)
{
    switch (t) {
    case '1':
        return "a hard link";
    case '3':
        return "a character device";
    case '4':
        return "a block device";
    case '6':
        return "a fifo";
    case '7':
        return "a contiguous file";
    case 'x':
    case 'g':
        return "a pax header";
    case 'L':
    case 'K':
        return "a GNU long-name header";
    default:
        return "an unknown entry type";
    }
}

/* Writes one entry; -1 with e. */
static int put_entry(int root, char *path, int segs, unsigned char type, unsigned mode,
                     const unsigned char *content, uint64_t size, const char *link, mg_err *e)
{
    const char *leaf = NULL;
    int dirfd = open_parent(root, path, &leaf, e);
    if (dirfd < 0) return -1;
    int r = 0;
    if (type == '5') {
        if (mkdirat(dirfd, leaf, 0755) != 0)
            r = mg_err_set(e, errno == EEXIST ? MG_E_INVALID : MG_E_IO,
                           "snapshot: cannot create the directory '%s': %s", path,
                           errno == EEXIST ? "the archive names it twice" : strerror(errno));
        else if (fchmodat(dirfd, leaf, 0755, 0) != 0)
            r = mg_err_set(e, MG_E_IO, "snapshot: cannot set the mode of '%s': %s", path,
                           strerror(errno));
    } else if (type == '2') {
        if (!mg_snapshot_link_target_ok(link, strlen(link), segs - 1))
            r = mg_err_set(e, MG_E_INVALID, "snapshot: the link '%s' leaves the tree (to '%s')",
                           path, link);
        else if (symlinkat(link, dirfd, leaf) != 0)
            r = mg_err_set(e, errno == EEXIST ? MG_E_INVALID : MG_E_IO,
                           "snapshot: cannot create the link '%s': %s", path,
                           errno == EEXIST ? "the archive names it twice" : strerror(errno));
    } else {
        int fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = fd >= 0 && write_all(fd, content, (size_t)size) == 0 && fchmod(fd, mode) == 0;
        int saved = errno;
        if (fd >= 0 && close(fd) != 0 && ok) {
            ok = false;
            saved = errno;
        }
        if (!ok)
            r = mg_err_set(e, saved == EEXIST ? MG_E_INVALID : MG_E_IO,
                           "snapshot: cannot write '%s': %s", path,
                           saved == EEXIST ? "the archive names it twice" : strerror(saved));
    }
    close(dirfd);
    return r;
}

int mg_snapshot_unpack(const void *data, size_t len, const char *dest_dir, uint64_t max_files,
                       uint64_t max_bytes, mg_err *e)
{
    if (!max_files) max_files = MG_SOURCES_DEFAULT_MAX_FILES;
    if (!max_bytes) max_bytes = MG_SOURCES_DEFAULT_MAX_BYTES;
    const unsigned char *a = data;
    int root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return mg_err_set(e, MG_E_IO, "snapshot: cannot open '%s': %s", dest_dir, strerror(errno));
    size_t off = 0;
    uint64_t files = 0, bytes = 0;
    int r = 0;
    for (size_t index = 1;; index++) {
        if (len - off < BLOCK) {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: the archive is truncated (at byte %zu)",
                           off);
            break;
        }
        const unsigned char *h = a + off;
        if (zero_block(h)) {
            /* the end: a second zero block, then only zeros */
            if (len - off < 2 * BLOCK || !zero_block(h + BLOCK)) {
                r = mg_err_set(e, MG_E_INVALID,
                               "snapshot: the archive is truncated (its end lacks the second "
                               "zero block)");
                break;
            }
            for (size_t i = off + 2 * BLOCK; i < len; i++)
                if (a[i]) {
                    r = mg_err_set(e, MG_E_INVALID, "snapshot: data after the archive's end");
                    break;
                }
            break;
        }
        uint64_t sum_field, mode, size;
        if (!parse_octal(h + 148, 8, &sum_field)) {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: entry %zu: the header checksum is no number",
                           index);
            break;
        }
        uint64_t sum = 0;
        for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
        if (sum != sum_field) {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: entry %zu: bad header checksum", index);
            break;
        }
        if (memcmp(h + 257, "ustar", 6) || memcmp(h + 263, "00", 2)) {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: entry %zu is not a POSIX ustar header",
                           index);
            break;
        }
        /* the path: prefix '/' name, each field NUL-terminated or full */
        char path[256 + 2];
        size_t plen = strnlen((const char *)h + 345, 155);
        size_t nlen = strnlen((const char *)h, 100);
        if (plen)
            snprintf(path, sizeof path, "%.*s/%.*s", (int)plen, h + 345, (int)nlen, h);
        else
            snprintf(path, sizeof path, "%.*s", (int)nlen, h);
        unsigned char type = h[156];
        if (type == 0) type = '0';
        if (type != '0' && type != '2' && type != '5') {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' is %s: refused", path,
                           type_name(type));
            break;
        }
        if (!parse_octal(h + 100, 8, &mode) || !parse_octal(h + 124, 12, &size)) {
            r = mg_err_set(e, MG_E_INVALID,
                           "snapshot: entry '%s' has a mode or size that is no octal number", path);
            break;
        }
        size_t plain = strlen(path);
        if (type == '5' && plain > 1 && path[plain - 1] == '/') path[--plain] = 0;
        int segs = check_path(path, e);
        if (segs < 0) {
            r = -1;
            break;
        }
        if ((type == '0' && mode != 0644 && mode != 0755) || (type == '5' && mode != 0755)) {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' has mode %llo (refused)", path,
                           (unsigned long long)mode);
            break;
        }
        if (type != '0' && size != 0) {
            r = mg_err_set(e, MG_E_INVALID, "snapshot: entry '%s' is no file but has content",
                           path);
            break;
        }
        if (++files > max_files) {
            r = mg_err_set(e, MG_E_LIMIT, "snapshot: more than %llu entries",
                           (unsigned long long)max_files);
            break;
        }
        if (size > max_bytes - bytes) {
            r = mg_err_set(e, MG_E_LIMIT, "snapshot: more than %llu bytes of content (at '%s')",
                           (unsigned long long)max_bytes, path);
            break;
        }
        bytes += size;
        off += BLOCK;
        uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
        if (padded > len - off) {
            r = mg_err_set(e, MG_E_INVALID,
                           "snapshot: entry '%s' says %llu bytes but the archive ends before", path,
                           (unsigned long long)size);
            break;
        }
        char link[101];
        snprintf(link, sizeof link, "%.*s", (int)strnlen((const char *)h + 157, 100), h + 157);
        r = put_entry(root, path, segs, type, (unsigned)mode, a + off, size, link, e);
        if (r) break;
        off += (size_t)padded;
    }
    close(root);
    return r;
}
