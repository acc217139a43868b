/* Unit tests of the key/value stores (mg/kv_ro.h, mg/kv_rw.h): key
 * normalisation; one conformance check run against every store holding
 * the same tree (crunch, direct_kv_ro, tar_kv_ro, kv_rw_mem, direct_kv_rw);
 * then what is particular to each: crunch's table, direct's host files and
 * atomic writes, tar's parser on good and malformed archives, versions
 * that follow the bytes (tar) or never repeat across stores (kv_rw_mem). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg/block.h"
#include "mg/crunch.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"

/* ---- the tree every store holds in the conformance check */

#define A_TXT "Hello from a.txt\n"
#define B_TXT "First line of b.txt\nSecond line of b.txt\n"

static const struct {
    const char *path, *data;
} tree[] = {
    {"a.txt", A_TXT}, {"a/x", "x"}, {"empty", ""}, {"sub/b.txt", B_TXT}, {"sub/c/d.txt", "deep"},
};
#define N_TREE (sizeof tree / sizeof tree[0])

/* ---- the crunch table that the build would generate */

static const unsigned char a_txt[] = A_TXT, a_x[] = "x", b_txt[] = B_TXT, d_txt[] = "deep";
static const struct mg_crunch_file data_files[] = {
    {"a.txt", sizeof a_txt - 1, a_txt},     {"a/x", 1, a_x},           {"empty", 0, NULL},
    {"sub/b.txt", sizeof b_txt - 1, b_txt}, {"sub/c/d.txt", 4, d_txt},
};
static const struct mg_crunch_file unsorted_files[] = {{"b", 1, a_x}, {"a", 1, a_x}};
static const struct mg_crunch_file conflict_files[] = {
    {"a", 1, a_x}, {"a.txt", 1, a_x}, {"a/b", 1, a_x}};
static const struct mg_crunch_file unnormalised_files[] = {{"/a", 1, a_x}};
static const struct mg_crunch_file dotdot_files[] = {{"a/../b", 1, a_x}};

const struct mg_crunch_tree mg_crunch_trees[] = {
    {"data", data_files, sizeof data_files / sizeof data_files[0]},
    {"nothing", NULL, 0},
    {"unsorted", unsorted_files, 2},
    {"conflict", conflict_files, 3},
    {"unnormalised", unnormalised_files, 1},
    {"dotdot", dotdot_files, 1},
};
const size_t mg_crunch_n_trees = sizeof mg_crunch_trees / sizeof mg_crunch_trees[0];

/* ---- key normalisation */

static void assert_normal(const char *key, const char *want)
{
    char out[64];
    cr_assert_eq(mg_kv_key_normalise(key, out, sizeof out), MG_OK, "%s", key);
    cr_assert_str_eq(out, want, "%s", key);
}

Test(kv_key, normalisation)
{
    assert_normal("a.txt", "a.txt");
    assert_normal("/a.txt", "a.txt");
    assert_normal("sub//b.txt", "sub/b.txt");
    assert_normal("//sub/b.txt/", "sub/b.txt");
    assert_normal("", "");
    assert_normal("/", "");
    assert_normal("///", "");
    assert_normal("..a/b..", "..a/b..");
    assert_normal(".hidden", ".hidden");
    char out[64];
    cr_assert_eq(mg_kv_key_normalise(".", out, sizeof out), MG_EINVAL);
    cr_assert_eq(mg_kv_key_normalise("..", out, sizeof out), MG_EINVAL);
    cr_assert_eq(mg_kv_key_normalise("a/./b", out, sizeof out), MG_EINVAL);
    cr_assert_eq(mg_kv_key_normalise("a/../../etc/passwd", out, sizeof out), MG_EINVAL);
    cr_assert_eq(mg_kv_key_normalise("a/..", out, sizeof out), MG_EINVAL);
    /* strlen + 1 is always enough; less can be too little */
    cr_assert_eq(mg_kv_key_normalise("abc", out, 4), MG_OK);
    cr_assert_eq(mg_kv_key_normalise("abc", out, 3), MG_ERANGE);
    cr_assert_eq(mg_kv_key_normalise("", out, 0), MG_ERANGE);
    cr_assert_eq(mg_kv_key_normalise("/abc/", out, 4), MG_OK);
    cr_assert_str_eq(out, "abc");
}

/* ---- the conformance check */

typedef struct listing {
    char text[512]; /* "key:v key:d ..." */
} listing;

static int collect(void *ctx, const char *key, mg_kv_kind kind)
{
    listing *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s%s:%c", n ? " " : "", key,
             kind == MG_KV_VALUE ? 'v' : 'd');
    return 0;
}

static int stop_at_first(void *ctx, const char *key, mg_kv_kind kind)
{
    (void)kind;
    *(int *)ctx += 1;
    return strcmp(key, "a.txt") ? 0 : 99;
}

static const char *list_of(mg_kv_ro *kv, const char *key, listing *l)
{
    l->text[0] = '\0';
    cr_assert_eq(mg_kv_ro_list(kv, key, collect, l), MG_OK, "list %s", key);
    return l->text;
}

/* Everything a store holding `tree` must answer, whatever it is. */
static void check_tree(mg_kv_ro *kv)
{
    mg_kv_kind kind;
    uint64_t size;
    size_t len;
    char buf[128];
    listing l;

    for (size_t i = 0; i < N_TREE; i++) {
        size_t want = strlen(tree[i].data);
        cr_assert_eq(mg_kv_ro_exists(kv, tree[i].path, &kind), MG_OK, "%s", tree[i].path);
        cr_assert_eq(kind, MG_KV_VALUE, "%s", tree[i].path);
        cr_assert_eq(mg_kv_ro_size(kv, tree[i].path, &size), MG_OK);
        cr_assert_eq(size, want, "size of %s", tree[i].path);
        cr_assert_eq(mg_kv_ro_get(kv, tree[i].path, buf, sizeof buf, &len), MG_OK);
        cr_assert_eq(len, want);
        cr_assert_arr_eq(buf, tree[i].data, want, "%s", tree[i].path);
        void *data;
        cr_assert_eq(mg_kv_ro_get_alloc(kv, tree[i].path, &data, &len), MG_OK);
        cr_assert_eq(len, want);
        cr_assert_str_eq(data, tree[i].data, "get_alloc adds a NUL");
        free(data);
    }
    /* equivalent spellings of keys */
    cr_assert_eq(mg_kv_ro_get(kv, "//sub///b.txt", buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(len, strlen(B_TXT));
    cr_assert_eq(mg_kv_ro_exists(kv, "/a.txt/", &kind), MG_OK);
    /* dictionaries */
    const char *dicts[] = {"", "/", "a", "sub", "sub/c", "/sub/c/"};
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
        cr_assert_eq(mg_kv_ro_exists(kv, dicts[i], &kind), MG_OK, "%s", dicts[i]);
        cr_assert_eq(kind, MG_KV_DICTIONARY, "%s", dicts[i]);
        cr_assert_eq(mg_kv_ro_size(kv, dicts[i], &size), MG_EISDIR);
        cr_assert_eq(mg_kv_ro_get(kv, dicts[i], buf, sizeof buf, &len), MG_EISDIR);
    }
    /* missing and invalid keys */
    const char *missing[] = {"missing.txt", "sub/missing", "a.txt/x", "sub/b", "su", "a.tx"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        cr_assert_eq(mg_kv_ro_exists(kv, missing[i], &kind), MG_ENOENT, "%s", missing[i]);
        cr_assert_eq(mg_kv_ro_get(kv, missing[i], buf, sizeof buf, &len), MG_ENOENT);
        cr_assert_eq(mg_kv_ro_list(kv, missing[i], collect, &l), MG_ENOENT);
    }
    cr_assert_eq(mg_kv_ro_exists(kv, "../a.txt", &kind), MG_EINVAL);
    cr_assert_eq(mg_kv_ro_get(kv, "sub/./b.txt", buf, sizeof buf, &len), MG_EINVAL);
    cr_assert_eq(mg_kv_ro_exists(kv, NULL, &kind), MG_EINVAL);
    /* a buffer too small: the needed length, and nothing written */
    memset(buf, '#', sizeof buf);
    cr_assert_eq(mg_kv_ro_get(kv, "sub/b.txt", buf, 10, &len), MG_ERANGE);
    cr_assert_eq(len, strlen(B_TXT));
    cr_assert_eq(buf[0], '#');
    /* the exact fit is read whole, with nothing written past it; one byte
     * less is refused like any buffer too small, and left alone */
    size_t b_len = strlen(B_TXT);
    memset(buf, '#', sizeof buf);
    cr_assert_eq(mg_kv_ro_get(kv, "sub/b.txt", buf, b_len, &len), MG_OK, "an exact fit");
    cr_assert_eq(len, b_len);
    cr_assert_arr_eq(buf, B_TXT, b_len);
    cr_assert_eq(buf[b_len], '#', "nothing is written past the buffer");
    memset(buf, '#', sizeof buf);
    len = 0;
    cr_assert_eq(mg_kv_ro_get(kv, "sub/b.txt", buf, b_len - 1, &len), MG_ERANGE,
                 "a buffer one byte too small");
    cr_assert_eq(len, b_len);
    cr_assert_eq(buf[0], '#');
    cr_assert_eq(buf[b_len - 1], '#', "the byte past the buffer is untouched");
    /* partial reads */
    cr_assert_eq(mg_kv_ro_get_partial(kv, "sub/b.txt", 6, buf, 4, &len), MG_OK);
    cr_assert_eq(len, 4);
    cr_assert_arr_eq(buf, "line", 4);
    cr_assert_eq(mg_kv_ro_get_partial(kv, "sub/b.txt", 36, buf, 100, &len), MG_OK);
    cr_assert_eq(len, 5, "cut at the end of the value");
    cr_assert_arr_eq(buf, ".txt\n", 5);
    cr_assert_eq(mg_kv_ro_get_partial(kv, "sub/b.txt", strlen(B_TXT), buf, 10, &len), MG_OK);
    cr_assert_eq(len, 0);
    cr_assert_eq(mg_kv_ro_get_partial(kv, "sub/b.txt", strlen(B_TXT) + 1, buf, 10, &len),
                 MG_ERANGE);
    cr_assert_eq(mg_kv_ro_get_partial(kv, "sub", 0, buf, 10, &len), MG_EISDIR);
    cr_assert_eq(mg_kv_ro_get_partial(kv, "empty", 0, buf, 10, &len), MG_OK);
    cr_assert_eq(len, 0);
    /* listings: one order for every store ("a.txt" before the dictionary
     * "a", as "a.txt" < "a/") */
    cr_assert_str_eq(list_of(kv, "", &l), "a.txt:v a:d empty:v sub:d");
    cr_assert_str_eq(list_of(kv, "/", &l), "a.txt:v a:d empty:v sub:d");
    cr_assert_str_eq(list_of(kv, "sub", &l), "sub/b.txt:v sub/c:d");
    cr_assert_str_eq(list_of(kv, "sub//c/", &l), "sub/c/d.txt:v");
    cr_assert_str_eq(list_of(kv, "a", &l), "a/x:v");
    cr_assert_eq(mg_kv_ro_list(kv, "a.txt", collect, &l), MG_ENOTDIR);
    int calls = 0;
    cr_assert_eq(mg_kv_ro_list(kv, "", stop_at_first, &calls), 99, "the callback stops it");
    cr_assert_eq(calls, 1);
    /* versions: every value has one, with its size; asking again gives the
     * same; two values of different bytes have different ones */
    uint64_t v[N_TREE], v2;
    for (size_t i = 0; i < N_TREE; i++) {
        cr_assert_eq(mg_kv_ro_version(kv, tree[i].path, &size, &v[i]), MG_OK, "%s", tree[i].path);
        cr_assert_eq(size, strlen(tree[i].data), "%s", tree[i].path);
        cr_assert_eq(mg_kv_ro_version(kv, tree[i].path, &size, &v2), MG_OK);
        cr_assert_eq(v2, v[i], "%s: stable", tree[i].path);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(v[i], v[j], "%s and %s", tree[i].path, tree[j].path);
    }
    cr_assert_eq(mg_kv_ro_version(kv, "//sub/b.txt/", &size, &v2), MG_OK);
    cr_assert_eq(v2, v[3], "the key is normalised");
    cr_assert_eq(mg_kv_ro_version(kv, "sub", &size, &v2), MG_EISDIR);
    cr_assert_eq(mg_kv_ro_version(kv, "", &size, &v2), MG_EISDIR);
    cr_assert_eq(mg_kv_ro_version(kv, "sub/missing", &size, &v2), MG_ENOENT);
    cr_assert_eq(mg_kv_ro_version(kv, "a.txt/x", &size, &v2), MG_ENOENT);
    cr_assert_eq(mg_kv_ro_version(kv, "../a.txt", &size, &v2), MG_EINVAL);
    cr_assert_eq(mg_kv_ro_version(kv, "a.txt", NULL, &v2), MG_EINVAL);
    cr_assert_eq(mg_kv_ro_version(kv, "a.txt", &size, NULL), MG_EINVAL);
    cr_assert_eq(mg_kv_ro_version(NULL, "a.txt", &size, &v2), MG_EINVAL);
}

/* ---- crunch */

Test(crunch, conformance)
{
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_crunch_connect(&kv, "data"), MG_OK);
    check_tree(kv);
    mg_kv_ro_disconnect(kv);
}

Test(crunch, unknown_and_empty_trees)
{
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_crunch_connect(&kv, "data/"), MG_ENOENT, "dir is compared as written");
    cr_assert_eq(mg_crunch_connect(&kv, "htdocs"), MG_ENOENT);
    cr_assert_null(kv);
    cr_assert_eq(mg_crunch_connect(&kv, "nothing"), MG_OK);
    mg_kv_kind kind;
    cr_assert_eq(mg_kv_ro_exists(kv, "", &kind), MG_OK);
    cr_assert_eq(kind, MG_KV_DICTIONARY);
    cr_assert_eq(mg_kv_ro_exists(kv, "a", &kind), MG_ENOENT);
    listing l;
    cr_assert_str_eq(list_of(kv, "", &l), "");
    mg_kv_ro_disconnect(kv);
}

Test(crunch, malformed_tables_fail_to_connect)
{
    const char *bad[] = {"unsorted", "conflict", "unnormalised", "dotdot"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_kv_ro *kv = NULL;
        cr_assert_eq(mg_crunch_connect(&kv, bad[i]), MG_EINVAL, "%s", bad[i]);
        cr_assert_null(kv);
    }
}

/* ---- host directories */

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/mg-test-kv-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void write_file(const char *path, const char *data)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = strchr(dir, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(dir, 0755);
        *s = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "%s", path);
    cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static char *read_host_file(const char *path)
{
    static char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static void rm_tree_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) rm_tree_at(fd, de->d_name);
        closedir(d);
        unlinkat(dirfd, name, AT_REMOVEDIR);
    } else {
        unlinkat(dirfd, name, 0);
    }
}

static void remove_tmpdir(void)
{
    cr_assert_eq(chdir("/"), 0);
    rm_tree_at(AT_FDCWD, tmpdir);
}

/* Names in a host directory that start with ".mg-tmp" (temporary files). */
static int count_temporaries(const char *path)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, ".mg-tmp", 7)) n++;
    closedir(d);
    return n;
}

Test(direct_kv_ro, conformance)
{
    make_tmpdir();
    for (size_t i = 0; i < N_TREE; i++) {
        char path[128];
        snprintf(path, sizeof path, "store/%s", tree[i].path);
        write_file(path, tree[i].data);
    }
    /* a FIFO is neither a value nor a dictionary: invisible, and never
     * opened (it would block) */
    cr_assert_eq(mkfifo("store/fifo", 0644), 0);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "store"), MG_OK);
    /* a chdir after connect changes nothing */
    cr_assert_eq(chdir("/"), 0);
    check_tree(kv);
    cr_assert_eq(mg_kv_ro_exists(kv, "fifo", NULL), MG_ENOENT);
    /* the host files are read when asked: a change shows */
    cr_assert_eq(chdir(tmpdir), 0);
    write_file("store/a.txt", "changed");
    char buf[32];
    size_t len;
    cr_assert_eq(mg_kv_ro_get(kv, "a.txt", buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(len, 7);
    cr_assert_arr_eq(buf, "changed", 7);
    mg_kv_ro_disconnect(kv);
    remove_tmpdir();
}

static uint64_t version_of(mg_kv_ro *kv, const char *key)
{
    uint64_t size, v;
    cr_assert_eq(mg_kv_ro_version(kv, key, &size, &v), MG_OK, "%s", key);
    return v;
}

Test(direct_kv_ro, versions_follow_the_files)
{
    make_tmpdir();
    write_file("store/a", "aaaa");
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "store"), MG_OK);
    uint64_t v1 = version_of(kv, "a");
    cr_assert_eq(version_of(kv, "a"), v1, "unchanged, the same");
    /* rewritten in place with the same size: the mtime tells (set apart
     * explicitly, as two writes can fall in one tick of the file clock) */
    write_file("store/a", "bbbb");
    struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 123456789}};
    cr_assert_eq(utimensat(AT_FDCWD, "store/a", times, 0), 0);
    uint64_t v2 = version_of(kv, "a");
    cr_assert_neq(v2, v1);
    /* replaced by a rename, as direct_kv_rw and most deploy tools do, even
     * with the same size and mtime: another inode */
    write_file("store/b", "cccc");
    cr_assert_eq(utimensat(AT_FDCWD, "store/b", times, 0), 0);
    cr_assert_eq(rename("store/b", "store/a"), 0);
    cr_assert_neq(version_of(kv, "a"), v2);
    mg_kv_ro_disconnect(kv);
    remove_tmpdir();
}

/* Every way of reaching `key` fails as if it did not exist. */
static void assert_absent(mg_kv_ro *kv, const char *key)
{
    char buf[64];
    size_t len;
    uint64_t size, v;
    listing l;
    cr_assert_eq(mg_kv_ro_exists(kv, key, NULL), MG_ENOENT, "exists %s", key);
    cr_assert_eq(mg_kv_ro_size(kv, key, &size), MG_ENOENT, "size %s", key);
    cr_assert_eq(mg_kv_ro_get(kv, key, buf, sizeof buf, &len), MG_ENOENT, "get %s", key);
    cr_assert_eq(mg_kv_ro_get_partial(kv, key, 0, buf, sizeof buf, &len), MG_ENOENT, "%s", key);
    cr_assert_eq(mg_kv_ro_version(kv, key, &size, &v), MG_ENOENT, "version %s", key);
    cr_assert_eq(mg_kv_ro_list(kv, key, collect, &l), MG_ENOENT, "list %s", key);
}

/* Symbolic links are not part of a direct store, wherever they point:
 * outside (a file, a folder; relative and absolute) or inside. */
static void check_links_refused(mg_kv_ro *kv)
{
    const char *absent[] = {"pw",      "abs",    "out",      "out/passwd", "in",       "indir",
                            "indir/x", "sub/up", "sub/up/a", "dangling",   "sub/../pw"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (strcmp(absent[i], "sub/../pw"))
            assert_absent(kv, absent[i]);
        else
            cr_assert_eq(mg_kv_ro_exists(kv, absent[i], NULL), MG_EINVAL);
    listing l;
    cr_assert_str_eq(list_of(kv, "", &l), "a:v sub:d", "links are not listed");
    cr_assert_str_eq(list_of(kv, "sub", &l), "sub/x:d");
    cr_assert_str_eq(list_of(kv, "sub/x", &l), "sub/x/y:v");
    /* what is really inside still reads */
    char buf[8];
    size_t len;
    cr_assert_eq(mg_kv_ro_get(kv, "sub/x/y", buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(len, 1);
}

static void make_linked_store(const char *store)
{
    char path[256], target[256];
    write_file("outside/passwd", "root:x:0:0");
    snprintf(path, sizeof path, "%s/a", store);
    write_file(path, "a");
    snprintf(path, sizeof path, "%s/sub/x/y", store);
    write_file(path, "y");
    const char *links[][2] = {
        {"pw", "../outside/passwd"}, {"out", "../outside"}, {"in", "a"},
        {"indir", "sub/x"},          {"sub/up", ".."},      {"dangling", "nowhere"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", store, links[i][0]);
        cr_assert_eq(symlink(links[i][1], path), 0, "%s", path);
    }
    snprintf(path, sizeof path, "%s/abs", store);
    snprintf(target, sizeof target, "%s/outside/passwd", tmpdir);
    cr_assert_eq(symlink(target, path), 0);
}

Test(direct_kv_ro, symbolic_links_are_not_followed)
{
    make_tmpdir();
    make_linked_store("store");
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "store"), MG_OK);
    check_links_refused(kv);
    mg_kv_ro_disconnect(kv);
    /* the directory named at connect may itself be a link (the host's
     * owner chose it): its content is the store */
    cr_assert_eq(symlink("store", "via"), 0);
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "via"), MG_OK);
    check_links_refused(kv);
    mg_kv_ro_disconnect(kv);
    remove_tmpdir();
}

Test(direct_kv_ro, missing_directory_fails_to_connect)
{
    make_tmpdir();
    write_file("file", "x");
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "no-such-dir"), MG_ENOENT);
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "file"), MG_ENOTDIR);
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, ""), MG_EINVAL);
    cr_assert_null(kv);
    remove_tmpdir();
}

Test(direct_kv_ro, keys_stay_inside)
{
    make_tmpdir();
    write_file("secret", "s");
    write_file("store/a", "a");
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_direct_kv_ro_connect(&kv, "store"), MG_OK);
    char buf[8];
    size_t len;
    cr_assert_eq(mg_kv_ro_get(kv, "../secret", buf, sizeof buf, &len), MG_EINVAL);
    cr_assert_eq(mg_kv_ro_get(kv, "a/../../secret", buf, sizeof buf, &len), MG_EINVAL);
    /* a leading '/' is the store's root, not the host's */
    cr_assert_eq(mg_kv_ro_get(kv, "/a", buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(mg_kv_ro_exists(kv, "/etc/passwd", NULL), MG_ENOENT);
    mg_kv_ro_disconnect(kv);
    remove_tmpdir();
}

/* ---- read-write stores */

static void fill_rw(mg_kv_rw *rw)
{
    /* in an order that is not the sorted one */
    for (size_t i = N_TREE; i-- > 0;)
        cr_assert_eq(mg_kv_rw_set(rw, tree[i].path, tree[i].data, strlen(tree[i].data)), MG_OK,
                     "%s", tree[i].path);
}

/* What every read-write store must do, starting from `tree`. */
static void check_rw(mg_kv_rw *rw)
{
    char buf[64];
    size_t len;
    mg_kv_kind kind;
    listing l;
    /* replace a value: a new version, even with the same bytes */
    uint64_t size, v1, v2;
    cr_assert_eq(mg_kv_ro_version(mg_kv_rw_ro(rw), "a.txt", &size, &v1), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "/a.txt", A_TXT, strlen(A_TXT)), MG_OK);
    cr_assert_eq(mg_kv_ro_version(mg_kv_rw_ro(rw), "a.txt", &size, &v2), MG_OK);
    cr_assert_neq(v1, v2, "a set is a new version");
    cr_assert_eq(mg_kv_rw_set(rw, "/a.txt", "new", 3), MG_OK);
    cr_assert_eq(mg_kv_ro_version(mg_kv_rw_ro(rw), "a.txt", &size, &v1), MG_OK);
    cr_assert_neq(v1, v2);
    cr_assert_eq(size, 3);
    cr_assert_eq(mg_kv_rw_get(rw, "a.txt", buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(len, 3);
    cr_assert_arr_eq(buf, "new", 3);
    /* intermediate dictionaries are created */
    cr_assert_eq(mg_kv_rw_set(rw, "n1/n2/leaf", "L", 1), MG_OK);
    cr_assert_eq(mg_kv_rw_exists(rw, "n1/n2", &kind), MG_OK);
    cr_assert_eq(kind, MG_KV_DICTIONARY);
    /* conflicts and invalid keys */
    cr_assert_eq(mg_kv_rw_set(rw, "a.txt/y", "y", 1), MG_ENOTDIR);
    cr_assert_eq(mg_kv_rw_set(rw, "sub/b.txt/deeper/y", "y", 1), MG_ENOTDIR);
    cr_assert_eq(mg_kv_rw_set(rw, "sub", "y", 1), MG_EISDIR);
    cr_assert_eq(mg_kv_rw_set(rw, "/", "y", 1), MG_EINVAL);
    cr_assert_eq(mg_kv_rw_set(rw, "../y", "y", 1), MG_EINVAL);
    cr_assert_eq(mg_kv_rw_set(rw, "y", NULL, 1), MG_EINVAL);
    cr_assert_eq(mg_kv_rw_remove(rw, ""), MG_EINVAL);
    cr_assert_eq(mg_kv_rw_remove(rw, "missing"), MG_ENOENT);
    cr_assert_eq(mg_kv_rw_remove(rw, "a.txt/missing"), MG_ENOENT);
    /* an empty value */
    cr_assert_eq(mg_kv_rw_set(rw, "zero", NULL, 0), MG_OK);
    cr_assert_eq(mg_kv_rw_get(rw, "zero", buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(list_of(mg_kv_rw_ro(rw), "", &l), "a.txt:v a:d empty:v n1:d sub:d zero:v");
    /* remove a value, then a dictionary with everything under it */
    cr_assert_eq(mg_kv_rw_remove(rw, "sub/b.txt"), MG_OK);
    cr_assert_eq(mg_kv_rw_exists(rw, "sub/b.txt", NULL), MG_ENOENT);
    cr_assert_str_eq(list_of(mg_kv_rw_ro(rw), "sub", &l), "sub/c:d");
    cr_assert_eq(mg_kv_rw_remove(rw, "sub"), MG_OK);
    cr_assert_eq(mg_kv_rw_exists(rw, "sub", NULL), MG_ENOENT);
    cr_assert_eq(mg_kv_rw_exists(rw, "sub/c/d.txt", NULL), MG_ENOENT);
    /* a dictionary emptied by a removal disappears */
    cr_assert_eq(mg_kv_rw_remove(rw, "n1/n2/leaf"), MG_OK);
    cr_assert_eq(mg_kv_rw_exists(rw, "n1", NULL), MG_ENOENT);
    cr_assert_str_eq(list_of(mg_kv_rw_ro(rw), "", &l), "a.txt:v a:d empty:v zero:v");
    /* a removed value's name can become a dictionary */
    cr_assert_eq(mg_kv_rw_remove(rw, "empty"), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "empty/now", "d", 1), MG_OK);
    cr_assert_eq(mg_kv_rw_exists(rw, "empty", &kind), MG_OK);
    cr_assert_eq(kind, MG_KV_DICTIONARY);
}

Test(kv_rw_mem, conformance)
{
    mg_kv_rw *rw = NULL;
    cr_assert_eq(mg_kv_rw_mem_connect(&rw), MG_OK);
    listing l;
    cr_assert_str_eq(list_of(mg_kv_rw_ro(rw), "", &l), "", "empty at first");
    fill_rw(rw);
    check_tree(mg_kv_rw_ro(rw));
    check_rw(rw);
    mg_kv_rw_disconnect(rw);
}

Test(kv_rw_mem, many_values)
{
    mg_kv_rw *rw = NULL;
    cr_assert_eq(mg_kv_rw_mem_connect(&rw), MG_OK);
    char key[32], buf[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "d%d/k%d", i % 7, (i * 37) % 500);
        cr_assert_eq(mg_kv_rw_set(rw, key, key, strlen(key)), MG_OK);
    }
    for (int i = 0; i < 500; i++) {
        size_t len;
        snprintf(key, sizeof key, "d%d/k%d", i % 7, (i * 37) % 500);
        cr_assert_eq(mg_kv_rw_get(rw, key, buf, sizeof buf, &len), MG_OK, "%s", key);
        cr_assert_arr_eq(buf, key, len);
    }
    mg_kv_rw_disconnect(rw);
}

/* A reviewer's case: versions counted sets from 0 in every store, so the
 * first value set at boot 2 had the version of boot 1's, whatever its
 * bytes. Each store now counts from its own random start. */
Test(kv_rw_mem, versions_differ_between_stores)
{
    uint64_t first[8];
    for (size_t i = 0; i < 8; i++) {
        mg_kv_rw *rw = NULL;
        uint64_t size, v;
        cr_assert_eq(mg_kv_rw_mem_connect(&rw), MG_OK);
        cr_assert_eq(mg_kv_rw_set(rw, "a.txt", "v1!!", 4), MG_OK);
        cr_assert_eq(mg_kv_ro_version(mg_kv_rw_ro(rw), "a.txt", &size, &first[i]), MG_OK);
        /* and within a store, every set a new version */
        cr_assert_eq(mg_kv_rw_set(rw, "b.txt", "v1!!", 4), MG_OK);
        cr_assert_eq(mg_kv_ro_version(mg_kv_rw_ro(rw), "b.txt", &size, &v), MG_OK);
        cr_assert_neq(v, first[i]);
        mg_kv_rw_disconnect(rw);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(first[i], first[j], "stores %zu and %zu: version %llu", j, i,
                          (unsigned long long)first[i]);
    }
}

Test(direct_kv_rw, conformance)
{
    make_tmpdir();
    mg_kv_rw *rw = NULL;
    /* the directory and its parents are created */
    cr_assert_eq(mg_direct_kv_rw_connect(&rw, "state/store"), MG_OK);
    fill_rw(rw);
    check_tree(mg_kv_rw_ro(rw));
    check_rw(rw);
    /* the host tree is the store's */
    cr_assert_str_eq(read_host_file("state/store/a.txt"), "new");
    cr_assert_str_eq(read_host_file("state/store/empty/now"), "d");
    struct stat st;
    cr_assert_neq(stat("state/store/sub", &st), 0);
    cr_assert_neq(stat("state/store/n1", &st), 0, "emptied directories are removed");
    /* no temporary file is left behind */
    cr_assert_eq(count_temporaries("state/store"), 0);
    cr_assert_eq(count_temporaries("state/store/a"), 0);
    mg_kv_rw_disconnect(rw);
    cr_assert_str_eq(read_host_file("state/store/a.txt"), "new", "files outlive the handle");
    remove_tmpdir();
}

Test(direct_kv_rw, writes_are_atomic_renames)
{
    make_tmpdir();
    mg_kv_rw *rw = NULL;
    cr_assert_eq(mg_direct_kv_rw_connect(&rw, "s"), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "k", "old", 3), MG_OK);
    /* A reader holding the old file still sees the old content after a set:
     * the new value is a new file renamed over the name, never an in-place
     * rewrite. */
    int fd = open("s/k", O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat before, after;
    cr_assert_eq(fstat(fd, &before), 0);
    cr_assert_eq(mg_kv_rw_set(rw, "k", "new value", 9), MG_OK);
    char buf[16] = {0};
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 3);
    cr_assert_arr_eq(buf, "old", 3);
    close(fd);
    cr_assert_eq(stat("s/k", &after), 0);
    cr_assert_neq(before.st_ino, after.st_ino);
    cr_assert_str_eq(read_host_file("s/k"), "new value");
    cr_assert_eq(count_temporaries("s"), 0);
    /* a failed set (the key is a directory) leaves no temporary either */
    cr_assert_eq(mg_kv_rw_set(rw, "d/x", "x", 1), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "d", "x", 1), MG_EISDIR);
    cr_assert_eq(count_temporaries("s"), 0);
    mg_kv_rw_disconnect(rw);
    remove_tmpdir();
}

Test(direct_kv_rw, reads_do_not_follow_symbolic_links)
{
    make_tmpdir();
    make_linked_store("s");
    mg_kv_rw *rw = NULL;
    cr_assert_eq(mg_direct_kv_rw_connect(&rw, "s"), MG_OK);
    check_links_refused(mg_kv_rw_ro(rw));
    mg_kv_rw_disconnect(rw);
    remove_tmpdir();
}

/* Writes refuse symbolic links as reads do: a set or remove through a
 * link, or onto one, is MG_EACCES and changes nothing on the host, inside
 * the store or out. Each check compares a listing of the whole test
 * directory (names, kinds, contents, link targets) before and after. */

static void snapshot_at(const char *path, char *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    cr_assert_geq(n, 0, "%s", path);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char child[512], what[256] = "";
        if (strcmp(name, ".") && strcmp(name, "..")) {
            snprintf(child, sizeof child, "%s/%s", path, name);
            struct stat st;
            cr_assert_eq(lstat(child, &st), 0, "%s", child);
            if (S_ISLNK(st.st_mode)) {
                ssize_t len = readlink(child, what, sizeof what - 1);
                what[len < 0 ? 0 : len] = '\0';
            } else if (S_ISREG(st.st_mode)) {
                snprintf(what, sizeof what, "%s", read_host_file(child));
            }
            size_t at = strlen(out);
            snprintf(out + at, cap - at, "%s %c %s\n", child,
                     S_ISLNK(st.st_mode)   ? 'l'
                     : S_ISDIR(st.st_mode) ? 'd'
                                           : 'f',
                     what);
            if (S_ISDIR(st.st_mode)) snapshot_at(child, out, cap);
        }
        free(names[i]);
    }
    free(names);
}

/* The whole test directory as text, in a new buffer to free. */
static char *snapshot(void)
{
    size_t cap = 16384;
    char *out = calloc(1, cap);
    cr_assert_not_null(out);
    snapshot_at(".", out, cap);
    cr_assert_lt(strlen(out), cap - 1, "the snapshot was cut");
    return out;
}

/* A store "s" with links everywhere, and a sentinel tree "outside" next
 * to it that no write may touch. */
static void make_write_links(void)
{
    char target[256];
    write_file("outside/passwd", "root:x:0:0");
    write_file("outside/dir/f", "f");
    write_file("s/a", "a");
    write_file("s/sub/x/y", "y");
    const char *links[][2] = {
        {"s/out", "../outside"},
        {"s/top", ".."},
        {"s/indir", "sub/x"},
        {"s/in", "a"},
        {"s/sub/up", ".."},
        {"s/dangling", "nowhere"},
        {"s/pw", "../outside/passwd"},
        {"s/dangle_out", "../outside/newdir"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        cr_assert_eq(symlink(links[i][1], links[i][0]), 0, "%s", links[i][0]);
    snprintf(target, sizeof target, "%s/outside", tmpdir);
    cr_assert_eq(symlink(target, "s/abs"), 0);
}

static void assert_set_refused(mg_kv_rw *rw, const char *key)
{
    char *before = snapshot();
    int rc = mg_kv_rw_set(rw, key, "evil", 4);
    char *after = snapshot();
    /* the host first: that is what matters most */
    cr_assert_str_eq(after, before, "set %s changed the host", key);
    cr_assert_eq(rc, MG_EACCES, "set %s", key);
    free(before);
    free(after);
}

static void assert_remove_refused(mg_kv_rw *rw, const char *key)
{
    char *before = snapshot();
    int rc = mg_kv_rw_remove(rw, key);
    char *after = snapshot();
    /* the host first: that is what matters most */
    cr_assert_str_eq(after, before, "remove %s changed the host", key);
    cr_assert_eq(rc, MG_EACCES, "remove %s", key);
    free(before);
    free(after);
}

static mg_kv_rw *connect_linked(void)
{
    make_tmpdir();
    make_write_links();
    mg_kv_rw *rw = NULL;
    cr_assert_eq(mg_direct_kv_rw_connect(&rw, "s"), MG_OK);
    return rw;
}

/* What is really in the store still takes writes, and the snapshot sees
 * them (so that an unchanged snapshot means something). */
static void check_plain_writes(mg_kv_rw *rw)
{
    char *before = snapshot();
    cr_assert_eq(mg_kv_rw_set(rw, "sub/x/y", "new", 3), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "sub/new/z", "z", 1), MG_OK);
    cr_assert_str_eq(read_host_file("s/sub/x/y"), "new");
    cr_assert_str_eq(read_host_file("s/sub/new/z"), "z");
    cr_assert_eq(mg_kv_rw_remove(rw, "sub/new"), MG_OK);
    char *after = snapshot();
    cr_assert_str_neq(after, before);
    free(before);
    free(after);
    cr_assert_str_eq(read_host_file("outside/passwd"), "root:x:0:0");
    mg_kv_rw_disconnect(rw);
    remove_tmpdir();
}

Test(direct_kv_rw, writes_refuse_links_to_folders_outside)
{
    mg_kv_rw *rw = connect_linked();
    const char *sets[] = {"out/new",   "out/passwd", "out/dir/deep/n",     "abs/new",
                          "abs/dir/f", "top/new",    "top/outside/passwd", "top/s/a"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) assert_set_refused(rw, sets[i]);
    const char *removes[] = {"out/passwd", "out/dir", "abs/dir/f", "top/outside", "top/s/a"};
    for (size_t i = 0; i < sizeof removes / sizeof removes[0]; i++)
        assert_remove_refused(rw, removes[i]);
    check_plain_writes(rw);
}

Test(direct_kv_rw, writes_refuse_links_to_folders_inside)
{
    mg_kv_rw *rw = connect_linked();
    assert_set_refused(rw, "indir/y");
    assert_set_refused(rw, "indir/new");
    assert_set_refused(rw, "indir/deeper/new");
    assert_remove_refused(rw, "indir/y");
    check_plain_writes(rw);
}

Test(direct_kv_rw, writes_refuse_a_link_to_the_parent)
{
    mg_kv_rw *rw = connect_linked(); /* sub/up -> .. */
    assert_set_refused(rw, "sub/up/a");
    assert_set_refused(rw, "sub/up/new");
    assert_set_refused(rw, "sub/up/sub/x/y");
    assert_set_refused(rw, "sub/up/up/a");
    assert_remove_refused(rw, "sub/up/a");
    assert_remove_refused(rw, "sub/up/sub");
    check_plain_writes(rw);
}

Test(direct_kv_rw, writes_refuse_dangling_links)
{
    mg_kv_rw *rw = connect_linked();
    assert_set_refused(rw, "dangling/x");
    assert_set_refused(rw, "dangling/x/y");
    assert_set_refused(rw, "dangle_out/x");
    assert_set_refused(rw, "dangling");
    assert_set_refused(rw, "dangle_out");
    assert_remove_refused(rw, "dangling/x");
    assert_remove_refused(rw, "dangling");
    assert_remove_refused(rw, "dangle_out");
    check_plain_writes(rw);
}

/* The key itself a link: a set neither writes through it nor replaces
 * it, a remove leaves it, wherever it points. */
Test(direct_kv_rw, writes_refuse_a_key_that_is_a_link)
{
    mg_kv_rw *rw = connect_linked();
    const char *keys[] = {"pw", "in", "out", "abs", "indir", "top", "sub/up"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_set_refused(rw, keys[i]);
        assert_remove_refused(rw, keys[i]);
    }
    check_plain_writes(rw);
}

Test(direct_kv_rw, keys_stay_inside)
{
    make_tmpdir();
    mg_kv_rw *rw = NULL;
    cr_assert_eq(mg_direct_kv_rw_connect(&rw, "s"), MG_OK);
    cr_assert_eq(mg_kv_rw_set(rw, "../outside", "x", 1), MG_EINVAL);
    cr_assert_eq(mg_kv_rw_remove(rw, "a/../.."), MG_EINVAL);
    struct stat st;
    cr_assert_neq(stat("outside", &st), 0);
    mg_kv_rw_disconnect(rw);
    write_file("file", "x");
    cr_assert_eq(mg_direct_kv_rw_connect(&rw, "file/s"), MG_ENOTDIR);
    remove_tmpdir();
}

/* ---- tar archives, built here in memory */

typedef struct tar_writer {
    unsigned char buf[64 * 512];
    size_t pos;
} tar_writer;

/* Writes `v` as `width - 1` octal digits and a NUL; the value must fit
 * (snprintf's "%011llo" could not say so: gcc at -O2 rightly warns that a
 * 64-bit value may need 22 digits). */
static void tar_octal(unsigned char *field, size_t width, uint64_t v)
{
    field[width - 1] = 0;
    for (size_t i = width - 1; i-- > 0; v >>= 3) field[i] = (unsigned char)('0' + (v & 7));
    cr_assert_eq(v, 0, "%zu octal digits cannot hold the value", width - 1);
}

/* Appends a header; `prefix` may be NULL; returns it for tampering. */
static unsigned char *tar_header(tar_writer *w, const char *name, const char *prefix, char type,
                                 uint64_t size)
{
    cr_assert_leq(w->pos + 512, sizeof w->buf);
    unsigned char *h = w->buf + w->pos;
    memset(h, 0, 512);
    memcpy(h, name, strnlen(name, 100));
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    tar_octal(h + 124, 12, size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6); /* with its NUL */
    memcpy(h + 263, "00", 2);
    if (prefix) memcpy(h + 345, prefix, strlen(prefix));
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum); /* then NUL, and the space stays */
    w->pos += 512;
    return h;
}

static void tar_data(tar_writer *w, const void *data, size_t len)
{
    size_t padded = (len + 511) / 512 * 512;
    cr_assert_leq(w->pos + padded, sizeof w->buf);
    memset(w->buf + w->pos, 0, padded);
    memcpy(w->buf + w->pos, data, len);
    w->pos += padded;
}

static void tar_file(tar_writer *w, const char *name, const char *data)
{
    tar_header(w, name, NULL, '0', strlen(data));
    tar_data(w, data, strlen(data));
}

static void tar_end(tar_writer *w)
{
    static const unsigned char zero[1024];
    tar_data(w, zero, sizeof zero);
}

/* A ramdisk of `size` bytes (at least the archive) holding the archive. */
static mg_block *ramdisk_with(const tar_writer *w, size_t size)
{
    mg_block *b = NULL;
    cr_assert_eq(mg_ramdisk_connect(&b, "tar", (int64_t)(size ? size : w->pos)), MG_OK);
    cr_assert_eq(mg_block_write(b, 0, w->buf, w->pos / 512), MG_OK);
    return b;
}

/* The conformance tree in the formats a tar can take: ustar prefix, "./"
 * names, a directory entry, a duplicate (the last wins), a pax path. */
static void tar_tree(tar_writer *w)
{
    w->pos = 0;
    tar_header(w, "./", NULL, '5', 0);
    tar_file(w, "./a.txt", "an older a.txt, replaced below");
    tar_file(w, "./a.txt", A_TXT);
    tar_header(w, "a/", NULL, '5', 0);
    tar_file(w, "a/x", "x");
    tar_file(w, "empty", "");
    tar_header(w, "b.txt", "sub", '0', strlen(B_TXT));
    tar_data(w, B_TXT, strlen(B_TXT));
    static const char pax[] = "20 path=sub/c/d.txt\n15 mtime=12345\n";
    tar_header(w, "PaxHeaders/d.txt", NULL, 'x', strlen(pax));
    tar_data(w, pax, strlen(pax));
    tar_file(w, "name-ignored-for-pax", "deep");
    tar_header(w, "link", NULL, '2', 0); /* a symlink: left out */
    tar_end(w);
}

/* A tar value's version is the 64-bit FNV-1a hash of its bytes, as
 * crunch's: the same bytes give the same version wherever they are. */
static void check_versions_hash_the_bytes(mg_kv_ro *kv)
{
    for (size_t i = 0; i < N_TREE; i++) {
        uint64_t size, v;
        cr_assert_eq(mg_kv_ro_version(kv, tree[i].path, &size, &v), MG_OK, "%s", tree[i].path);
        cr_assert_eq(v, mg_kv_version_bytes(MG_KV_VERSION_SEED, tree[i].data, strlen(tree[i].data)),
                     "%s", tree[i].path);
    }
}

Test(tar_kv_ro, conformance)
{
    static tar_writer w;
    tar_tree(&w);
    mg_block *b = ramdisk_with(&w, 0);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_OK);
    check_tree(kv);
    check_versions_hash_the_bytes(kv);
    cr_assert_eq(mg_kv_ro_exists(kv, "link", NULL), MG_ENOENT);
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(b);
}

Test(tar_kv_ro, long_names_and_no_end_marker)
{
    static tar_writer w;
    char name[301];
    memset(name, 'n', 300);
    name[300] = '\0';
    name[150] = '/';
    w.pos = 0;
    tar_header(&w, "././@LongLink", NULL, 'L', strlen(name) + 1);
    tar_data(&w, name, strlen(name) + 1);
    tar_file(&w, "truncated-name", "long");
    tar_file(&w, "short", "s");
    /* no zero blocks: the device ends right after the last entry */
    mg_block *b = ramdisk_with(&w, 0);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_OK);
    char buf[16];
    size_t len;
    cr_assert_eq(mg_kv_ro_get(kv, name, buf, sizeof buf, &len), MG_OK);
    cr_assert_eq(len, 4);
    cr_assert_arr_eq(buf, "long", 4);
    cr_assert_eq(mg_kv_ro_exists(kv, "truncated-name", NULL), MG_ENOENT);
    cr_assert_eq(mg_kv_ro_get(kv, "short", buf, sizeof buf, &len), MG_OK);
    listing l;
    char want[400];
    snprintf(want, sizeof want, "%.150s:d short:v", name);
    cr_assert_str_eq(list_of(kv, "", &l), want);
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(b);
}

Test(tar_kv_ro, base256_size_and_an_empty_device)
{
    static tar_writer w;
    w.pos = 0;
    unsigned char *h = tar_header(&w, "big", NULL, '0', 0);
    /* GNU's base-256 size: 0x80, then the value big-endian */
    memset(h + 124, 0, 12);
    h[124] = 0x80;
    h[135] = 3;
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    tar_data(&w, "abc", 3);
    tar_end(&w);
    mg_block *b = ramdisk_with(&w, 0);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_OK);
    uint64_t size;
    cr_assert_eq(mg_kv_ro_size(kv, "big", &size), MG_OK);
    cr_assert_eq(size, 3);
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(b);

    /* a zero-filled device is an empty archive */
    cr_assert_eq(mg_ramdisk_connect(&b, "zero", 4096), MG_OK);
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_OK);
    listing l;
    cr_assert_str_eq(list_of(kv, "", &l), "");
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(b);
}

/* Connecting over the archive in `w` on a device of `size` bytes fails. */
static void assert_malformed(const tar_writer *w, size_t size, const char *what)
{
    mg_block *b = ramdisk_with(w, size);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_EINVAL, "%s", what);
    cr_assert_null(kv, "%s", what);
    mg_block_disconnect(b);
}

Test(tar_kv_ro, bad_checksum)
{
    static tar_writer w;
    tar_tree(&w);
    w.buf[512 + 5] ^= 1; /* a name byte of the second header */
    assert_malformed(&w, 0, "bad checksum");
}

Test(tar_kv_ro, size_past_the_end_of_the_device)
{
    static tar_writer w;
    w.pos = 0;
    tar_file(&w, "a", "a");
    tar_header(&w, "huge", NULL, '0', 1u << 20);
    tar_data(&w, "only a little", 13);
    assert_malformed(&w, 0, "size past the end");
    /* the largest octal size there is */
    w.pos = 0;
    tar_header(&w, "huge", NULL, '0', 077777777777ull);
    assert_malformed(&w, 0, "size past the end, large");
    /* the exact bound: data that ends with the device is read, one byte
     * more is refused (a mutant that allowed a block more survived) */
    static char block[512];
    memset(block, 'x', sizeof block);
    w.pos = 0;
    tar_header(&w, "edge", NULL, '0', 512);
    tar_data(&w, block, sizeof block);
    mg_block *b = ramdisk_with(&w, 0);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_OK, "data that ends with the device");
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(b);
    w.pos = 0;
    tar_header(&w, "edge", NULL, '0', 513);
    tar_data(&w, block, sizeof block);
    assert_malformed(&w, 0, "size one byte past the end");
}

Test(tar_kv_ro, truncated_archives)
{
    static tar_writer w;
    /* a file cut in the middle of its data by the end of the device */
    w.pos = 0;
    tar_file(&w, "a", "a");
    tar_header(&w, "cut", NULL, '0', 3 * 512);
    tar_data(&w, "first sector only", 17);
    assert_malformed(&w, 0, "data cut by the end of the device");
    /* a long name with no entry after it */
    w.pos = 0;
    tar_file(&w, "a", "a");
    tar_header(&w, "././@LongLink", NULL, 'L', 5);
    tar_data(&w, "name", 5);
    assert_malformed(&w, 0, "long name at the end of the device");
    tar_end(&w);
    assert_malformed(&w, 0, "long name before the end marker");
    /* a pax header whose record runs past its data */
    w.pos = 0;
    tar_header(&w, "PaxHeaders/x", NULL, 'x', 12);
    tar_data(&w, "99 path=abc\n", 12);
    tar_file(&w, "x", "x");
    tar_end(&w);
    assert_malformed(&w, 0, "truncated pax record");
}

Test(tar_kv_ro, unsafe_or_conflicting_names)
{
    static tar_writer w;
    w.pos = 0;
    tar_file(&w, "../escape", "x");
    tar_end(&w);
    assert_malformed(&w, 0, "..");
    w.pos = 0;
    tar_file(&w, "a", "x");
    tar_file(&w, "a.txt", "x");
    tar_file(&w, "a/b", "x");
    tar_end(&w);
    assert_malformed(&w, 0, "a file that is also a directory");
    w.pos = 0;
    tar_file(&w, "./", "x");
    tar_end(&w);
    assert_malformed(&w, 0, "a file named like the root");
}

static int read_everything(void *ctx, const char *key, mg_kv_kind kind)
{
    mg_kv_ro *kv = ctx;
    if (kind == MG_KV_DICTIONARY) return mg_kv_ro_list(kv, key, read_everything, kv);
    void *data;
    size_t len;
    uint64_t size;
    cr_assert_eq(mg_kv_ro_size(kv, key, &size), MG_OK, "%s", key);
    cr_assert_eq(mg_kv_ro_get_alloc(kv, key, &data, &len), MG_OK, "%s", key);
    cr_assert_eq(len, size);
    free(data);
    return 0;
}

/* Damaged archives (random bytes changed, the checksum sometimes fixed up
 * so that the parser goes further) either fail to connect or give a store
 * whose every value reads back; never a read outside the device, which
 * the sanitizers would catch. */
Test(tar_kv_ro, damaged_archives_never_read_out_of_bounds)
{
    static tar_writer good, w;
    tar_tree(&good);
    uint32_t seed = 12345;
    int connected = 0;
    /* thousands of "malformed archive" lines: this test runs in its own
     * process, so its console can go */
    int devnull = open("/dev/null", O_WRONLY);
    cr_assert_geq(devnull, 0);
    cr_assert_eq(dup2(devnull, STDOUT_FILENO), STDOUT_FILENO);
    close(devnull);
    for (int round = 0; round < 3000; round++) {
        w = good;
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % w.pos;
            seed = seed * 1103515245u + 12345u;
            w.buf[at] = (unsigned char)(seed >> 16);
            if (round % 2) { /* recompute that header's checksum */
                unsigned char *h = w.buf + at / 512 * 512;
                memset(h + 148, ' ', 8);
                unsigned sum = 0;
                for (int i = 0; i < 512; i++) sum += h[i];
                snprintf((char *)h + 148, 8, "%06o", sum);
            }
        }
        mg_block *b = ramdisk_with(&w, 0);
        mg_kv_ro *kv = NULL;
        if (mg_tar_kv_ro_connect(&kv, b) == MG_OK) {
            connected++;
            cr_assert_eq(mg_kv_ro_list(kv, "", read_everything, kv), MG_OK);
            mg_kv_ro_disconnect(kv);
        }
        mg_block_disconnect(b);
    }
    cr_assert_gt(connected, 0, "some damage is harmless (a changed mtime)");
    cr_assert_lt(connected, 3000, "some damage is detected");
}

/* A block device with 4096-byte sectors (an implementation of mg/block.h
 * here): tar headers then start inside sectors, not on them. */
typedef struct big_block {
    mg_block block;
    unsigned char *data;
} big_block;

static int big_read(mg_block *b, uint64_t sector, void *buf, size_t n)
{
    memcpy(buf, ((big_block *)b)->data + sector * 4096, n * 4096);
    return MG_OK;
}

static int big_write(mg_block *b, uint64_t sector, const void *buf, size_t n)
{
    memcpy(((big_block *)b)->data + sector * 4096, buf, n * 4096);
    return MG_OK;
}

static void big_disconnect(mg_block *b)
{
    free(((big_block *)b)->data);
    free(b);
}

static const struct mg_block_ops big_ops = {big_read, big_write, big_disconnect};

Test(tar_kv_ro, sectors_larger_than_tar_blocks)
{
    static tar_writer w;
    tar_tree(&w);
    big_block *bb = calloc(1, sizeof *bb);
    size_t n_sectors = (w.pos + 4095) / 4096;
    bb->data = calloc(n_sectors, 4096);
    memcpy(bb->data, w.buf, w.pos);
    bb->block = (mg_block){&big_ops, "big", {4096, n_sectors, true}};
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, &bb->block), MG_OK);
    check_tree(kv);
    check_versions_hash_the_bytes(kv);
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(&bb->block);
}

/* The version of a one-file archive's a.txt holding `data`, with `before`
 * (NULL: nothing) as an earlier file, so that a.txt's data moves. */
static uint64_t tar_version_of(const char *before, const char *data)
{
    static tar_writer w;
    w.pos = 0;
    if (before) tar_file(&w, "before", before);
    tar_file(&w, "a.txt", data); /* mtime 0, as reproducible builds write */
    tar_end(&w);
    mg_block *b = ramdisk_with(&w, 0);
    mg_kv_ro *kv = NULL;
    cr_assert_eq(mg_tar_kv_ro_connect(&kv, b), MG_OK);
    uint64_t size, v, again;
    cr_assert_eq(mg_kv_ro_version(kv, "a.txt", &size, &v), MG_OK);
    cr_assert_eq(size, strlen(data));
    cr_assert_eq(mg_kv_ro_version(kv, "a.txt", &size, &again), MG_OK);
    cr_assert_eq(again, v, "kept");
    mg_kv_ro_disconnect(kv);
    mg_block_disconnect(b);
    return v;
}

/* A reviewer's case: versions were the entry's offset, size and mtime, so
 * an archive rebuilt with other bytes in the same layout (mtime 0) kept
 * them, and an HTTP client holding the old bytes got a 304. */
Test(tar_kv_ro, versions_follow_the_bytes_not_the_layout)
{
    uint64_t v1 = tar_version_of(NULL, "v1!!");
    cr_assert_neq(tar_version_of(NULL, "v2!!"), v1, "other bytes, same layout and mtime");
    cr_assert_eq(tar_version_of("moves a.txt", "v1!!"), v1, "the same bytes elsewhere");
}

/* A value larger than the hash's chunk of the device is hashed whole:
 * two archives that differ in the last byte of a 300 KiB value only, on
 * 512-byte sectors (data read straight into the chunk) and 4096-byte ones
 * (the value starts inside a sector). */
Test(tar_kv_ro, versions_hash_every_byte_of_large_values)
{
    enum { SIZE = 300 * 1024 };
    static unsigned char data[SIZE];
    for (size_t i = 0; i < SIZE; i++) data[i] = (unsigned char)(i * 7 + (i >> 9));
    uint64_t want[2];
    for (int last = 0; last < 2; last++) {
        data[SIZE - 1] = (unsigned char)last;
        want[last] = mg_kv_version_bytes(MG_KV_VERSION_SEED, data, SIZE);
        static tar_writer w;
        w.pos = 0;
        tar_header(&w, "big", NULL, '0', SIZE);
        size_t n_sectors = (512 + SIZE + 1024 + 4095) / 4096;
        /* 512-byte sectors: a ramdisk */
        mg_block *b = NULL;
        cr_assert_eq(mg_ramdisk_connect(&b, "tar", (int64_t)n_sectors * 4096), MG_OK);
        cr_assert_eq(mg_block_write(b, 0, w.buf, 1), MG_OK);
        cr_assert_eq(mg_block_write(b, 1, data, SIZE / 512), MG_OK);
        /* 4096-byte sectors */
        big_block *bb = calloc(1, sizeof *bb);
        bb->data = calloc(n_sectors, 4096);
        memcpy(bb->data, w.buf, 512);
        memcpy(bb->data + 512, data, SIZE);
        bb->block = (mg_block){&big_ops, "big", {4096, n_sectors, true}};
        mg_block *blocks[2] = {b, &bb->block};
        for (int k = 0; k < 2; k++) {
            mg_kv_ro *kv = NULL;
            uint64_t size, v;
            cr_assert_eq(mg_tar_kv_ro_connect(&kv, blocks[k]), MG_OK);
            cr_assert_eq(mg_kv_ro_version(kv, "big", &size, &v), MG_OK);
            cr_assert_eq(size, SIZE);
            cr_assert_eq(v, want[last], "sectors of %d bytes", k ? 4096 : 512);
            mg_kv_ro_disconnect(kv);
            mg_block_disconnect(blocks[k]);
        }
    }
    cr_assert_neq(want[0], want[1]);
}
