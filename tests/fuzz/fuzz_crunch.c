/*
 * fuzz_crunch.c - libFuzzer target for crunch, both halves: the
 * toolchain's generator of the embedded table (toolchain/crunch.h, which
 * turns any file names and bytes into C string literals) and the
 * runtime's reader of the table (runtime/kv/crunch.c, which checks the
 * table at connect and answers lookups by binary search).
 *
 * The input is a list of files: [path length][path][data length, 2 bytes
 * little-endian][data], repeated. Its first byte chooses how they are used:
 *   - even: as a table handed straight to the runtime, unsorted, duplicate
 *     or malformed paths included. Connect must accept exactly the tables
 *     a plain reference check accepts (normalised paths, strictly sorted,
 *     no file that is also a directory), and a connected store must
 *     answer as kv_walk.h checks and give each file's bytes;
 *   - odd: written as a directory tree (paths the host cannot hold are
 *     left out) that mg_crunch_generate turns into C; the C's literals are
 *     decoded back and must be the files written, sorted, byte for byte;
 *     the decoded table then goes to the runtime as above.
 * The trees are written under $MGD_FUZZ_TMP (default /dev/shm, else
 * /tmp). The runtime finds its trees by name in mg_crunch_trees: "t<N>" is the
 * fuzzer's table with its first N files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crunch_host.h"
#include "kv_walk.h"
#include "mg/crunch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES 32

static struct mg_crunch_file files[MAX_FILES];

#define T(n)                                                                                       \
    {                                                                                              \
        "t" #n, files, n                                                                           \
    }
const struct mg_crunch_tree mg_crunch_trees[] = {
    T(0),  T(1),  T(2),  T(3),  T(4),  T(5),  T(6),  T(7),  T(8),  T(9),  T(10),
    T(11), T(12), T(13), T(14), T(15), T(16), T(17), T(18), T(19), T(20), T(21),
    T(22), T(23), T(24), T(25), T(26), T(27), T(28), T(29), T(30), T(31), T(32),
};
const size_t mg_crunch_n_trees = sizeof mg_crunch_trees / sizeof mg_crunch_trees[0];

typedef struct file {
    char *path;
    unsigned char *data;
    size_t size;
} file;

static void files_free(file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
        free(f[i].data);
    }
}

/* What the runtime promises to accept (mg/crunch.h). */
static bool path_normalised(const char *p)
{
    if (!*p) return false;
    for (const char *seg = p;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
            return false;
        if (!end) return true;
        seg = end + 1;
    }
}

static bool reference_ok(const file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!path_normalised(f[i].path)) return false;
        if (i && strcmp(f[i - 1].path, f[i].path) >= 0) return false;
        size_t len = strlen(f[i].path);
        for (size_t j = 0; j < n; j++)
            if (!strncmp(f[j].path, f[i].path, len) && f[j].path[len] == '/') return false;
    }
    return true;
}

/* Hands `f` to the runtime as tree "t<n>" and checks what it answers. */
static void check_runtime(const file *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        files[i] = (struct mg_crunch_file){f[i].path, f[i].size, f[i].data};
    char name[32];
    snprintf(name, sizeof name, "t%zu", n);
    mg_kv_ro *kv = NULL;
    int rc = mg_crunch_connect(&kv, name);
    bool ok = reference_ok(f, n);
    if (rc != (ok ? MG_OK : MG_EINVAL)) abort();
    if (!ok) return;
    if (mg_fuzz_kv_walk(kv) != n) abort();
    for (size_t i = 0; i < n; i++) {
        size_t len;
        unsigned char *got = mg_fuzz_kv_value(kv, f[i].path, &len);
        if (!got || len != f[i].size || (len && memcmp(got, f[i].data, len))) abort();
        free(got);
    }
    mg_kv_ro_disconnect(kv);
}

/* ---- the toolchain's half */

/* Decodes the C string literal(s) starting at *p (just past the opening
 * quote) as crunch writes them: printable bytes, three-digit octal
 * escapes, pieces joined by "\"\n    \"". */
static unsigned char *decode_literal(const char **p, size_t *len)
{
    const char *s = *p;
    size_t cap = 64, n = 0;
    unsigned char *out = malloc(cap);
    if (!out) abort();
    for (;;) {
        if (n + 1 >= cap && !(out = realloc(out, cap *= 2))) abort();
        if (*s == '"') {
            if (!strncmp(s, "\"\n    \"", 7)) {
                s += 7;
                continue;
            }
            break;
        }
        if (!*s || *s == '\n') abort(); /* an unterminated literal */
        if (*s == '\\') {
            if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' || s[3] < '0' || s[3] > '7')
                abort(); /* crunch writes octal escapes only */
            out[n++] = (unsigned char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '?') abort();
            out[n++] = (unsigned char)*s++;
        }
    }
    *p = s + 1;
    out[n] = 0;
    *len = n;
    return out;
}

/* The files of tree 0 in the generated C. Declarations are found at the
 * start of a line: inside a literal a newline is always escaped, so a file
 * whose bytes spell a declaration cannot be taken for one. */
static size_t decode_table(const char *c, file *out)
{
    size_t n = 0;
    for (;; n++) {
        char head[96];
        snprintf(head, sizeof head, "\nstatic const unsigned char mg__crunch_0_%zu[] =\n    \"", n);
        const char *p = strstr(c, head);
        if (!p) break;
        if (n == MAX_FILES) abort();
        p += strlen(head);
        out[n].data = decode_literal(&p, &out[n].size);
        char size_line[96];
        snprintf(size_line, sizeof size_line, ";\n#define MG__CRUNCH_0_%zu_SIZE UINT64_C(%zu)\n", n,
                 out[n].size);
        if (strncmp(p, size_line, strlen(size_line))) abort(); /* the size is the bytes' */
        out[n].path = NULL;
    }
    const char *t = strstr(c, "\nstatic const struct mg_crunch_file mg__crunch_0[");
    if (!t) abort();
    t = strchr(t + 1, '\n') + 1; /* past the declaration's line */
    for (size_t i = 0; i < n; i++) {
        if (strncmp(t, "    {\"", 6)) abort();
        t += 6;
        size_t len;
        out[i].path = (char *)decode_literal(&t, &len);
        if (strlen(out[i].path) != len) abort();
        char rest[96];
        snprintf(rest, sizeof rest, ", MG__CRUNCH_0_%zu_SIZE, mg__crunch_0_%zu},\n", i, i);
        if (strncmp(t, rest, strlen(rest))) abort();
        t += strlen(rest);
    }
    return n;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const file *)a)->path, ((const file *)b)->path);
}

/* Writes `f` under dir (mkdir -p of parents); false when the host cannot
 * hold it there (a name too long, a parent that is a file, ...). */
static bool write_file(const char *dir, const file *f)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->path) >= sizeof path) return false;
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        int rc = mkdir(path, 0700);
        *s = '/';
        if (rc && errno != EEXIST) return false;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) return false;
    bool ok = f->size == 0 || write(fd, f->data, f->size) == (ssize_t)f->size;
    close(fd);
    if (!ok) unlink(path);
    return ok;
}

static char root[256];

static void remove_root(void)
{
    mg_fuzz_rm_rf(root);
}

static void check_toolchain(file *f, size_t n)
{
    if (!root[0]) {
        atexit(remove_root);
        const char *base = getenv("MGD_FUZZ_TMP");
        snprintf(root, sizeof root, "%s/mgd-fuzz-crunch-XXXXXX",
                 base                            ? base
                 : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                 : "/tmp");
        if (!mkdtemp(root)) abort();
    }
    char dir[sizeof root + 8];
    snprintf(dir, sizeof dir, "%s/d", root);
    mg_fuzz_rm_rf(dir);
    if (mkdir(dir, 0700)) abort();
    /* what the host holds: the files it could write, under their written
     * paths (a path like "a//b" or "./a" names "a/b" and "a") */
    file kept[MAX_FILES];
    size_t n_kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!path_normalised(f[i].path) || strlen(f[i].path) > 200) continue;
        if (!write_file(dir, &f[i])) continue;
        kept[n_kept++] = f[i];
    }
    qsort(kept, n_kept, sizeof *kept, by_path);
    size_t n_files = 0;
    char why[256];
    char *c = mg_fuzz_crunch_generate(root, "d", &n_files, why, sizeof why);
    if (!c) {
        /* regular files within the limits: nothing to refuse */
        fprintf(stderr, "fuzz_crunch: %s\n", why);
        abort();
    }
    file got[MAX_FILES];
    size_t n_got = decode_table(c, got);
    free(c);
    if (n_got != n_kept || n_files != n_kept) abort();
    for (size_t i = 0; i < n_got; i++)
        if (strcmp(got[i].path, kept[i].path) || got[i].size != kept[i].size ||
            (got[i].size && memcmp(got[i].data, kept[i].data, got[i].size)))
            abort();
    check_runtime(got, n_got);
    files_free(got, n_got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool toolchain = data[0] & 1;
    file f[MAX_FILES];
    size_t n = 0, at = 1;
    while (n < MAX_FILES && at < size) {
        size_t plen = data[at++];
        if (plen > size - at) break;
        const uint8_t *path = data + at;
        at += plen;
        if (size - at < 2) break;
        size_t dlen = data[at] | (size_t)data[at + 1] << 8;
        at += 2;
        if (dlen > size - at) dlen = size - at;
        if (memchr(path, 0, plen)) continue; /* a C string has none */
        f[n].path = strndup((const char *)path, plen);
        f[n].data = malloc(dlen ? dlen : 1);
        if (!f[n].path || !f[n].data) abort();
        memcpy(f[n].data, data + at, dlen);
        f[n++].size = dlen;
        at += dlen;
    }
    if (toolchain)
        check_toolchain(f, n);
    else
        check_runtime(f, n);
    files_free(f, n);
    return 0;
}
