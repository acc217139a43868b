/*
 * client/tree: a directory read into inline sources (which files, their
 * paths and contents, the counts), what is refused, and the UTF-8 check.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/tree.h"

static char root[64];

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/mgctl-tree-XXXXXX");
    cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_root(void)
{
    if (root[0]) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    root[0] = '\0';
}

/* Creates root/rel (and its directories) holding `len` bytes of `data`. */
static void put(const char *rel, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (mkdir(path, 0755) != 0) cr_assert_eq(errno, EEXIST, "mkdir %s", path);
        *s = '/';
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void puts_file(const char *rel, const char *text)
{
    put(rel, text, strlen(text));
}

static void path_of(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", root, rel);
}

TestSuite(tree, .init = make_root, .fini = remove_root);

Test(tree, reads_the_tree)
{
    puts_file("config.json", "{\"name\": \"hello\"}");
    puts_file("main.c", "int main(void) { return 0; }\n");
    puts_file("src/lib/util.c", "/* caf\xc3\xa9 */\n");
    puts_file("src/a.h", "");
    puts_file("src/dist/kept.txt", "nested dist is a source\n");
    puts_file("dist/unix/image", "built\n");
    puts_file(".git/HEAD", "ref: refs/heads/main\n");
    puts_file(".hidden", "secret\n");
    puts_file("src/.cache/x", "hidden dir\n");
    puts_file("B.txt", "capital\n");
    /* '-' and '.' sort before '/': these come before everything in src/ */
    puts_file("src-a.c", "dash\n");
    puts_file("src.c", "dot\n");

    char skip[512];
    path_of(skip, sizeof skip, "config.json");
    size_t files = 99, bytes = 99;
    mg_err err = {0};
    cJSON *obj = mg_tree_read(root, skip, &files, &bytes, &err);
    cr_assert_not_null(obj, "%s", err.msg);
    cr_assert(cJSON_IsObject(obj));

    struct {
        const char *path, *content;
    } want[] = {
        {"B.txt", "capital\n"},
        {"main.c", "int main(void) { return 0; }\n"},
        {"src-a.c", "dash\n"},
        {"src.c", "dot\n"},
        {"src/a.h", ""},
        {"src/dist/kept.txt", "nested dist is a source\n"},
        {"src/lib/util.c", "/* caf\xc3\xa9 */\n"},
    };
    size_t n = sizeof want / sizeof want[0];
    size_t i = 0, total = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        cr_assert_lt(i, n, "unexpected member %s", item->string);
        cr_assert_str_eq(item->string, want[i].path, "member %zu is %s, want %s", i, item->string,
                         want[i].path);
        cr_assert(cJSON_IsString(item));
        cr_assert_str_eq(item->valuestring, want[i].content, "%s", want[i].path);
        total += strlen(want[i].content);
        i++;
    }
    cr_assert_eq(i, n, "%zu members, want %zu", i, n);
    cr_assert_eq(files, n);
    cr_assert_eq(bytes, total);
    cJSON_Delete(obj);
}

Test(tree, skip_given_relative_and_trailing_slash)
{
    puts_file("a.txt", "a\n");
    puts_file("conf/mirage.json", "{}");
    char dir[512], skip[512];
    snprintf(dir, sizeof dir, "%s//", root);
    path_of(skip, sizeof skip, "conf/../conf/mirage.json");
    size_t files, bytes;
    mg_err err = {0};
    cJSON *obj = mg_tree_read(dir, skip, &files, &bytes, &err);
    cr_assert_not_null(obj, "%s", err.msg);
    cr_assert_eq(cJSON_GetArraySize(obj), 1);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(obj, "a.txt")->valuestring, "a\n");
    cr_assert_eq(files, 1);
    cr_assert_eq(bytes, 2);
    cJSON_Delete(obj);

    /* without skip the config is a member */
    obj = mg_tree_read(root, NULL, &files, &bytes, &err);
    cr_assert_not_null(obj, "%s", err.msg);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(obj, "conf/mirage.json"));
    cr_assert_eq(files, 2);
    cr_assert_eq(bytes, 4);
    cJSON_Delete(obj);
}

Test(tree, empty_directory)
{
    size_t files = 9, bytes = 9;
    mg_err err = {0};
    cJSON *obj = mg_tree_read(root, NULL, &files, &bytes, &err);
    cr_assert_not_null(obj, "%s", err.msg);
    cr_assert_eq(cJSON_GetArraySize(obj), 0);
    cr_assert_eq(files, 0);
    cr_assert_eq(bytes, 0);
    cJSON_Delete(obj);
}

Test(tree, symlink_refused)
{
    puts_file("real.c", "x\n");
    char link[512];
    path_of(link, sizeof link, "sub/link.c");
    puts_file("sub/ok.c", "y\n");
    cr_assert_eq(symlink("../real.c", link), 0, "%s", strerror(errno));
    size_t files, bytes;
    mg_err err = {0};
    cJSON *obj = mg_tree_read(root, NULL, &files, &bytes, &err);
    cr_assert_null(obj);
    cr_assert(strstr(err.msg, "link.c"), "%s", err.msg);
    cr_assert(strstr(err.msg, "symbolic link"), "%s", err.msg);
}

Test(tree, symlinked_directory_refused)
{
    puts_file("d/f.c", "x\n");
    char link[512];
    path_of(link, sizeof link, "e");
    cr_assert_eq(symlink("d", link), 0, "%s", strerror(errno));
    size_t files, bytes;
    mg_err err = {0};
    cr_assert_null(mg_tree_read(root, NULL, &files, &bytes, &err));
    cr_assert(strstr(err.msg, "/e is a symbolic link"), "%s", err.msg);
}

Test(tree, non_utf8_refused)
{
    puts_file("good.c", "ok\n");
    put("data/logo.bin", "\x89PNG\r\n\x1a\n", 8);
    size_t files, bytes;
    mg_err err = {0};
    cJSON *obj = mg_tree_read(root, NULL, &files, &bytes, &err);
    cr_assert_null(obj);
    cr_assert(strstr(err.msg, "data/logo.bin"), "%s", err.msg);
    cr_assert(strstr(err.msg, "not UTF-8"), "%s", err.msg);
}

Test(tree, nul_refused)
{
    put("nul.txt", "ab\0cd", 5);
    size_t files, bytes;
    mg_err err = {0};
    cJSON *obj = mg_tree_read(root, NULL, &files, &bytes, &err);
    cr_assert_null(obj);
    cr_assert(strstr(err.msg, "nul.txt"), "%s", err.msg);
}

Test(tree, not_a_directory)
{
    puts_file("file.txt", "x");
    char path[512];
    path_of(path, sizeof path, "file.txt");
    size_t files, bytes;
    mg_err err = {0};
    cr_assert_null(mg_tree_read(path, NULL, &files, &bytes, &err));
    cr_assert(strstr(err.msg, "file.txt is not a directory"), "%s", err.msg);

    path_of(path, sizeof path, "missing");
    mg_err_clear(&err);
    cr_assert_null(mg_tree_read(path, NULL, &files, &bytes, &err));
    cr_assert(strstr(err.msg, "missing is not a directory"), "%s", err.msg);
}

#define TEXT(lit) mg_tree_is_text(lit, sizeof(lit) - 1)

Test(tree_text, valid)
{
    cr_assert(mg_tree_is_text("", 0));
    cr_assert(TEXT("plain ascii\n\t\r"));
    cr_assert(TEXT("\xc2\x80"));          /* U+0080, the first 2-byte */
    cr_assert(TEXT("\xc3\xa9t\xc3\xa9")); /* été */
    cr_assert(TEXT("\xdf\xbf"));          /* U+07FF */
    cr_assert(TEXT("\xe0\xa0\x80"));      /* U+0800, the first 3-byte */
    cr_assert(TEXT("\xe2\x82\xac"));      /* € */
    cr_assert(TEXT("\xed\x9f\xbf"));      /* U+D7FF, just below the surrogates */
    cr_assert(TEXT("\xee\x80\x80"));      /* U+E000, just above */
    cr_assert(TEXT("\xef\xbf\xbf"));      /* U+FFFF */
    cr_assert(TEXT("\xf0\x90\x80\x80"));  /* U+10000, the first 4-byte */
    cr_assert(TEXT("\xf0\x9f\x90\xab"));  /* 🐫 */
    cr_assert(TEXT("\xf4\x8f\xbf\xbf"));  /* U+10FFFF, the last */
    cr_assert(TEXT("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xab z"));
}

Test(tree_text, nul)
{
    cr_assert_not(mg_tree_is_text("\0", 1));
    cr_assert_not(mg_tree_is_text("ab\0", 3));
    /* the length counts, not the terminator */
    cr_assert(mg_tree_is_text("ab\0", 2));
}

Test(tree_text, overlong)
{
    cr_assert_not(TEXT("\xc0\x80"));         /* NUL in two bytes */
    cr_assert_not(TEXT("\xc1\xbf"));         /* U+007F in two bytes */
    cr_assert_not(TEXT("\xe0\x80\x80"));     /* NUL in three bytes */
    cr_assert_not(TEXT("\xe0\x9f\xbf"));     /* U+07FF in three bytes */
    cr_assert_not(TEXT("\xf0\x80\x80\x80")); /* NUL in four bytes */
    cr_assert_not(TEXT("\xf0\x8f\xbf\xbf")); /* U+FFFF in four bytes */
}

Test(tree_text, surrogates)
{
    cr_assert_not(TEXT("\xed\xa0\x80"));             /* U+D800 */
    cr_assert_not(TEXT("\xed\xaf\xbf"));             /* U+DBFF */
    cr_assert_not(TEXT("\xed\xb0\x80"));             /* U+DC00 */
    cr_assert_not(TEXT("\xed\xbf\xbf"));             /* U+DFFF */
    cr_assert_not(TEXT("\xed\xa0\xbd\xed\xb0\xab")); /* a CESU-8 pair */
}

Test(tree_text, beyond_unicode)
{
    cr_assert_not(TEXT("\xf4\x90\x80\x80")); /* U+110000 */
    cr_assert_not(TEXT("\xf5\x80\x80\x80"));
    cr_assert_not(TEXT("\xf7\xbf\xbf\xbf"));
    cr_assert_not(TEXT("\xf8\x88\x80\x80\x80")); /* five bytes */
    cr_assert_not(TEXT("\xfc\x84\x80\x80\x80\x80"));
    cr_assert_not(TEXT("\xfe"));
    cr_assert_not(TEXT("\xff"));
}

Test(tree_text, truncated_and_stray)
{
    cr_assert_not(TEXT("\xc3"));         /* lead byte at the end */
    cr_assert_not(TEXT("abc\xe2\x82"));  /* a 3-byte cut short */
    cr_assert_not(TEXT("\xf0\x9f\x90")); /* a 4-byte cut short */
    cr_assert_not(TEXT("\xe2\x82z"));    /* not a continuation */
    cr_assert_not(TEXT("\xc3\xc3\xa9")); /* a lead byte instead */
    cr_assert_not(TEXT("\x80"));         /* a lone continuation */
    cr_assert_not(TEXT("a\xbf"));
    cr_assert_not(TEXT("\xc3\xa9\xa9")); /* one continuation too many */
    /* the length counts: a valid character cut by it */
    cr_assert_not(mg_tree_is_text("\xe2\x82\xac", 2));
    cr_assert(mg_tree_is_text("a\xe2\x82\xac", 1));
}
