/*
 * daemon/snapshot.h: the source archive a coordinator hands its pull
 * workers. Round trips (the same tree gives the same bytes whatever the
 * order it was made in; modes, links, nested directories, long paths
 * through the ustar prefix field) and hostile archives written header by
 * header: absolute paths, "..", ".git", links leaving the tree, paths
 * through a link, entries twice, other entry types, bad checksums,
 * truncation, sizes past the end, numbers that are huge or no octal, and
 * the limits; none may write outside the destination.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsutil.h"
#include "daemon/snapshot.h"

static char base[64];
static int n_dirs;
/* the directories fresh_dir made, freed by the teardown (a test may fail
 * half-way, so the tests do not free them themselves) */
static char *dirs[64];

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/mgd-snap-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
}

static void teardown(void)
{
    mg_rm_rf(base);
    for (int i = 0; i < n_dirs; i++) free(dirs[i]);
    n_dirs = 0;
}

TestSuite(snapshot, .init = setup, .fini = teardown);

/* A fresh empty directory under base. */
static char *fresh_dir(void)
{
    cr_assert_lt(n_dirs, (int)(sizeof dirs / sizeof *dirs));
    char *d = mg_xasprintf("%s/d%d", base, n_dirs);
    dirs[n_dirs++] = d;
    cr_assert_eq(mkdir(d, 0755), 0);
    return d;
}

static void put(const char *root, const char *rel, const char *content, unsigned mode)
{
    char *p = mg_path_join(root, rel);
    char *dir = mg_path_dirname(p);
    cr_assert_eq(mg_mkdir_p(dir), 0);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(content, f);
    fclose(f);
    chmod(p, mode);
    free(dir);
    free(p);
}

static char *slurp(const char *root, const char *rel)
{
    char *p = mg_path_join(root, rel);
    size_t len;
    char *s = mg_file_read(p, 1 << 20, &len);
    free(p);
    return s;
}

static const char long_dir[] =
    "a-rather-long-directory-name-that-goes-on/and-another-one-that-is-also-quite-long/"
    "and-a-third-to-pass-one-hundred";

/* A tree with one of everything, made in `order` 0 or 1. */
static void make_tree(const char *root, int order)
{
    char *lp = mg_xasprintf("%s/file-with-a-long-name.c", long_dir);
    if (order == 0) {
        put(root, "config.json", "{}\n", 0644);
        put(root, "src/main.c", "int main(void) { return 0; }\n", 0644);
        put(root, "tools/gen.sh", "#!/bin/sh\necho hi\n", 0755);
        put(root, "src/deep/er/x.h", "#define X 1\n", 0600);
        put(root, lp, "long\n", 0644);
        put(root, "empty", "", 0644);
    } else {
        put(root, "empty", "", 0644);
        put(root, lp, "long\n", 0644);
        put(root, "src/deep/er/x.h", "#define X 1\n", 0644);
        put(root, "tools/gen.sh", "#!/bin/sh\necho hi\n", 0700);
        put(root, "src/main.c", "int main(void) { return 0; }\n", 0644);
        put(root, "config.json", "{}\n", 0644);
    }
    char *d = mg_path_join(root, "emptydir");
    mkdir(d, 0700);
    free(d);
    char *l = mg_path_join(root, "src/deep/link.h");
    cr_assert_eq(symlink("er/x.h", l), 0);
    free(l);
    l = mg_path_join(root, "src/deep/er/up.c");
    cr_assert_eq(symlink("../../main.c", l), 0);
    free(l);
    free(lp);
}

static mg_buf pack_ok(const char *dir)
{
    mg_buf b = {0};
    mg_err e;
    cr_assert_eq(mg_snapshot_pack(dir, 0, &b, &e), 0, "%s", e.msg);
    return b;
}

Test(snapshot, round_trip_is_deterministic)
{
    char *t1 = fresh_dir(), *t2 = fresh_dir();
    make_tree(t1, 0);
    make_tree(t2, 1);
    mg_buf a = pack_ok(t1), b = pack_ok(t2), a2 = pack_ok(t1);
    cr_assert_eq(a.len % 512, 0);
    cr_assert_eq(a.len, b.len);
    cr_assert(!memcmp(a.data, b.data, a.len), "the same tree gave other bytes");
    cr_assert(!memcmp(a.data, a2.data, a.len));
    /* the headers: mtime 0, uid 0, ustar magic, sorted names */
    cr_assert_str_eq(a.data, "a-rather-long-directory-name-that-goes-on/");
    cr_assert(!memcmp(a.data + 136, "00000000000", 11));
    cr_assert(!memcmp(a.data + 108, "0000000", 7));
    cr_assert(!memcmp(a.data + 257,
                      "ustar\0"
                      "00",
                      8));

    char *out = fresh_dir();
    mg_err e;
    cr_assert_eq(mg_snapshot_unpack(a.data, a.len, out, 0, 0, &e), 0, "%s", e.msg);
    char *s = slurp(out, "src/main.c");
    cr_assert_str_eq(s, "int main(void) { return 0; }\n");
    free(s);
    char *lp = mg_xasprintf("%s/file-with-a-long-name.c", long_dir);
    s = slurp(out, lp);
    cr_assert_str_eq(s, "long\n");
    free(s);
    struct stat st;
    char *p = mg_path_join(out, "tools/gen.sh");
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0755);
    free(p);
    p = mg_path_join(out, "src/deep/er/x.h");
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);
    free(p);
    p = mg_path_join(out, "src/deep/link.h");
    char target[64] = {0};
    cr_assert_eq(readlink(p, target, sizeof target - 1), 6);
    cr_assert_str_eq(target, "er/x.h");
    free(p);
    p = mg_path_join(out, "emptydir");
    cr_assert_eq(lstat(p, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    free(p);
    /* and packed again: the same bytes */
    mg_buf c = pack_ok(out);
    cr_assert_eq(c.len, a.len);
    cr_assert(!memcmp(c.data, a.data, a.len));
    mg_buf_free(&a);
    mg_buf_free(&b);
    mg_buf_free(&a2);
    mg_buf_free(&c);
    free(lp);
}

Test(snapshot, pack_limits_and_refusals)
{
    char *t = fresh_dir();
    make_tree(t, 0);
    mg_buf b = {0};
    mg_err e;
    cr_assert_eq(mg_snapshot_pack(t, 4096, &b, &e), -1);
    cr_assert_eq(e.code, MG_E_LIMIT, "%s", e.msg);
    cr_assert_eq(b.len, 0);

    char *u = fresh_dir();
    put(u, "a.c", "x", 0644);
    char *l = mg_path_join(u, "out");
    cr_assert_eq(symlink("../../etc/passwd", l), 0);
    cr_assert_eq(mg_snapshot_pack(u, 0, &b, &e), -1);
    cr_assert(strstr(e.msg, "leaves the tree"), "%s", e.msg);
    unlink(l);
    cr_assert_eq(mkfifo(l, 0644), 0);
    cr_assert_eq(mg_snapshot_pack(u, 0, &b, &e), -1);
    cr_assert(strstr(e.msg, "neither a file"), "%s", e.msg);
    unlink(l);
    put(u, ".git/config", "x", 0644);
    cr_assert_eq(mg_snapshot_pack(u, 0, &b, &e), -1);
    cr_assert(strstr(e.msg, ".git"), "%s", e.msg);
    free(l);

    /* a name of 101 bytes with no '/' cannot be held by ustar */
    char *v = fresh_dir();
    char name[102];
    memset(name, 'n', 101);
    name[101] = 0;
    put(v, name, "x", 0644);
    cr_assert_eq(mg_snapshot_pack(v, 0, &b, &e), -1);
    cr_assert(strstr(e.msg, "too long"), "%s", e.msg);
    mg_buf_free(&b);
}

/* ---- archives written header by header ---------------------------------- */

typedef struct hdr {
    const char *name, *prefix, *link;
    char type;
    const char *mode, *size; /* field text; NULL: "0000644" and the content's length */
    const char *content;
    bool bad_sum;
} hdr;

static void add_entry(mg_buf *b, const hdr *h)
{
    unsigned char blk[512] = {0};
    memcpy(blk, h->name, strlen(h->name) > 100 ? 100 : strlen(h->name));
    const char *mode = h->mode ? h->mode : (h->type == '5' ? "0000755" : "0000644");
    memcpy(blk + 100, mode, strlen(mode));
    memcpy(blk + 108, "0000000", 7);
    memcpy(blk + 116, "0000000", 7);
    size_t clen = h->content ? strlen(h->content) : 0;
    char size[32];
    snprintf(size, sizeof size, "%011zo", clen);
    const char *sz = h->size ? h->size : size;
    memcpy(blk + 124, sz, strlen(sz) > 12 ? 12 : strlen(sz));
    memcpy(blk + 136, "00000000000", 11);
    blk[156] = (unsigned char)h->type;
    if (h->link) memcpy(blk + 157, h->link, strlen(h->link));
    memcpy(blk + 257,
           "ustar\0"
           "00",
           8);
    if (h->prefix) memcpy(blk + 345, h->prefix, strlen(h->prefix));
    memset(blk + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += blk[i];
    if (h->bad_sum) sum++;
    snprintf((char *)blk + 148, 8, "%06o", sum);
    mg_buf_add(b, blk, 512);
    if (clen) {
        static const char zeros[512];
        mg_buf_add(b, h->content, clen);
        if (clen % 512) mg_buf_add(b, zeros, 512 - clen % 512);
    }
}

static void add_end(mg_buf *b)
{
    static const char zeros[1024];
    mg_buf_add(b, zeros, sizeof zeros);
}

/* Unpacks entries (and the end); -1 expected with `want` in the message;
 * nothing may appear beside the destination. */
static void refused(const hdr *v, size_t n, const char *want)
{
    mg_buf b = {0};
    for (size_t i = 0; i < n; i++) add_entry(&b, &v[i]);
    add_end(&b);
    char *out = fresh_dir();
    mg_err e = {0};
    int r = mg_snapshot_unpack(b.data, b.len, out, 0, 0, &e);
    cr_assert_eq(r, -1, "accepted an archive that should fail with '%s'", want);
    cr_assert(strstr(e.msg, want), "'%s' lacks '%s'", e.msg, want);
    /* base holds only the d<N> directories */
    DIR *d = opendir(base);
    for (struct dirent *de; (de = readdir(d));)
        cr_assert(de->d_name[0] == '.' || de->d_name[0] == 'd', "wrote %s outside", de->d_name);
    closedir(d);
    mg_buf_free(&b);
}

Test(snapshot, hand_made_archive_unpacks)
{
    hdr v[] = {{.name = "d/", .type = '5'},
               {.name = "d/f.c", .type = '0', .content = "hello"},
               {.name = "d/l", .type = '2', .link = "f.c"}};
    mg_buf b = {0};
    for (size_t i = 0; i < 3; i++) add_entry(&b, &v[i]);
    add_end(&b);
    char *out = fresh_dir();
    mg_err e;
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len, out, 0, 0, &e), 0, "%s", e.msg);
    char *s = slurp(out, "d/l");
    cr_assert_str_eq(s, "hello");
    free(s);
    mg_buf_free(&b);
}

Test(snapshot, hostile_paths)
{
    refused((hdr[]){{.name = "/etc/x", .type = '0', .content = "x"}}, 1, "absolute");
    refused((hdr[]){{.name = "../x", .type = '0', .content = "x"}}, 1, "leaves the tree");
    refused((hdr[]){{.name = "a/", .type = '5'}, {.name = "a/../../x", .type = '0'}}, 2,
            "leaves the tree");
    refused((hdr[]){{.name = "x", .prefix = "..", .type = '0'}}, 1, "leaves the tree");
    refused((hdr[]){{.name = ".git/", .type = '5'}}, 1, ".git");
    refused((hdr[]){{.name = "a/", .type = '5'}, {.name = "a/.GIT", .type = '0'}}, 2, ".git");
    refused((hdr[]){{.name = "a//b", .type = '0'}}, 1, "empty");
    refused((hdr[]){{.name = "a\\b", .type = '0'}}, 1, "backslash");
    refused((hdr[]){{.name = "x/y", .type = '0'}}, 1, "before its directory");
}

Test(snapshot, hostile_links)
{
    refused((hdr[]){{.name = "l", .type = '2', .link = "../outside"}}, 1, "leaves the tree");
    refused((hdr[]){{.name = "l", .type = '2', .link = "/etc"}}, 1, "leaves the tree");
    refused(
        (hdr[]){{.name = "a/", .type = '5'}, {.name = "a/l", .type = '2', .link = "x/../../.."}}, 2,
        "leaves the tree");
    /* a link to a directory inside, then a path through it */
    refused((hdr[]){{.name = "d/", .type = '5'},
                    {.name = "l", .type = '2', .link = "d"},
                    {.name = "l/x", .type = '0', .content = "x"}},
            3, "through a link");
    refused((hdr[]){{.name = "f", .type = '0', .content = "x"}, {.name = "f/x", .type = '0'}}, 2,
            "through a link or a file");
}

Test(snapshot, entries_twice)
{
    refused((hdr[]){{.name = "f", .type = '0', .content = "a"},
                    {.name = "f", .type = '0', .content = "b"}},
            2, "twice");
    refused((hdr[]){{.name = "d/", .type = '5'}, {.name = "d", .type = '5'}}, 2, "twice");
    refused((hdr[]){{.name = "f", .type = '0'}, {.name = "f", .type = '2', .link = "g"}}, 2,
            "twice");
}

Test(snapshot, other_entry_types)
{
    refused((hdr[]){{.name = "f", .type = '0'}, {.name = "h", .type = '1', .link = "f"}}, 2,
            "hard link");
    refused((hdr[]){{.name = "c", .type = '3'}}, 1, "character device");
    refused((hdr[]){{.name = "b", .type = '4'}}, 1, "block device");
    refused((hdr[]){{.name = "p", .type = '6'}}, 1, "fifo");
    refused((hdr[]){{.name = "pax", .type = 'x', .content = "30 path=../../../etc/passwd\n"}}, 1,
            "pax header");
    refused((hdr[]){{.name = "g", .type = 'g'}}, 1, "pax header");
    refused((hdr[]){{.name = "././@LongLink", .type = 'L', .content = "x"}}, 1,
            "GNU long-name header");
    refused((hdr[]){{.name = "f", .type = '0', .mode = "0004755"}}, 1, "mode");
    refused((hdr[]){{.name = "d/", .type = '5', .mode = "0000777"}}, 1, "mode");
    refused((hdr[]){{.name = "l", .type = '2', .link = "x", .size = "00000000001", .content = "x"}},
            1, "no file but has content");
}

Test(snapshot, broken_headers)
{
    refused((hdr[]){{.name = "f", .type = '0', .content = "x", .bad_sum = true}}, 1,
            "bad header checksum");
    refused((hdr[]){{.name = "f", .type = '0', .size = "0000000012a"}}, 1, "no octal");
    refused((hdr[]){{.name = "f", .type = '0', .size = "\x80\0\0\0\0\0\0\0\0\0\0\x01"}}, 1,
            "no octal");
    refused((hdr[]){{.name = "f", .type = '0', .size = "77777777777"}}, 1, "bytes of content");
    refused((hdr[]){{.name = "f", .type = '0', .size = "00000100000"}}, 1, "archive ends before");

    /* cut archives: inside a header, inside content, without the end */
    mg_buf b = {0};
    add_entry(&b, &(hdr){.name = "f", .type = '0', .content = "hello"});
    add_entry(&b, &(hdr){.name = "g", .type = '0', .content = "world"});
    add_end(&b);
    size_t cuts[] = {0, 100, 512, 1024 + 300, 2048, 2048 + 512};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char *out = fresh_dir();
        mg_err e;
        cr_assert_eq(mg_snapshot_unpack(b.data, cuts[i], out, 0, 0, &e), -1, "cut at %zu", cuts[i]);
        cr_assert(strstr(e.msg, "truncated") || strstr(e.msg, "ends before"), "%s", e.msg);
    }
    char *out = fresh_dir();
    mg_err e;
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len, out, 0, 0, &e), 0, "%s", e.msg);
    /* garbage after the end */
    mg_buf_add(&b, "x", 1);
    char *out2 = fresh_dir();
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len, out2, 0, 0, &e), -1);
    cr_assert(strstr(e.msg, "after the archive's end"), "%s", e.msg);
    /* not ustar */
    b.data[257] = 'x';
    char *out3 = fresh_dir();
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len - 1, out3, 0, 0, &e), -1);
    mg_buf_free(&b);
}

Test(snapshot, limits)
{
    mg_buf b = {0};
    for (int i = 0; i < 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%d", i);
        add_entry(&b, &(hdr){.name = name, .type = '0', .content = "0123456789"});
    }
    add_end(&b);
    mg_err e;
    char *out = fresh_dir();
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len, out, 4, 0, &e), -1);
    cr_assert_eq(e.code, MG_E_LIMIT);
    out = fresh_dir();
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len, out, 0, 49, &e), -1);
    cr_assert_eq(e.code, MG_E_LIMIT);
    out = fresh_dir();
    cr_assert_eq(mg_snapshot_unpack(b.data, b.len, out, 5, 50, &e), 0, "%s", e.msg);
    mg_buf_free(&b);
}
