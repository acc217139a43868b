/*
 * daemon/sources.h: fetches from local repositories that the tests make
 * with libgit2 (two commits on main, a branch, a lightweight and an
 * annotated tag), checkouts (contents, modes, links, refused trees,
 * limits), recovery of damaged mirrors, concurrent fetches of one mirror,
 * and the rules and hash of inline trees.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/sources.h"
#include "base/fsutil.h"
#include "base/sha256.h"

static char base[64];
static char src[128];    /* the "remote" repository (bare) */
static char mirror[128]; /* the mirror under test */
static git_oid c1, c2;   /* main~1 and main */
static char c1hex[41], c2hex[41];
static int dest_n;

/* ---- building repositories ---------------------------------------------- */

typedef struct file {
    const char *path;
    const char *content;
    unsigned mode; /* 0100644, 0100755 or 0120000 */
} file;

static git_signature *sig(void)
{
    git_signature *s;
    cr_assert_eq(git_signature_new(&s, "Test", "test@example.org", 1700000000, 0), 0);
    return s;
}

/* A tree of files (nested paths allowed), through the repository's index. */
static git_oid make_tree(git_repository *r, const file *files, size_t n)
{
    git_index *idx;
    cr_assert_eq(git_repository_index(&idx, r), 0, "%s", git_error_last()->message);
    cr_assert_eq(git_index_clear(idx), 0);
    for (size_t i = 0; i < n; i++) {
        git_index_entry e;
        memset(&e, 0, sizeof e);
        e.path = files[i].path;
        e.mode = files[i].mode;
        cr_assert_eq(git_index_add_from_buffer(idx, &e, files[i].content, strlen(files[i].content)),
                     0, "%s", git_error_last()->message);
    }
    git_oid tree;
    cr_assert_eq(git_index_write_tree(&tree, idx), 0);
    git_index_free(idx);
    return tree;
}

static git_oid commit_tree(git_repository *r, const char *ref, const git_oid *tree_id,
                           const git_oid *parent, const char *msg)
{
    git_tree *tree;
    cr_assert_eq(git_tree_lookup(&tree, r, tree_id), 0, "%s", git_error_last()->message);
    git_commit *p = NULL;
    if (parent) cr_assert_eq(git_commit_lookup(&p, r, parent), 0);
    const git_commit *parents[1] = {p};
    git_signature *s = sig();
    git_oid id;
    cr_assert_eq(git_commit_create(&id, r, ref, s, s, NULL, msg, tree, p ? 1 : 0, parents), 0, "%s",
                 git_error_last()->message);
    git_signature_free(s);
    git_commit_free(p);
    git_tree_free(tree);
    return id;
}

static git_oid commit_files(git_repository *r, const char *ref, const file *files, size_t n,
                            const git_oid *parent, const char *msg)
{
    git_oid tree = make_tree(r, files, n);
    return commit_tree(r, ref, &tree, parent, msg);
}

/* A raw tree object, for names and modes git itself would never write. */
typedef struct raw_entry {
    const char *mode;
    const char *name;
    git_oid id;
} raw_entry;

static git_oid raw_tree(git_repository *r, const raw_entry *e, size_t n)
{
    char buf[4096];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s %s", e[i].mode, e[i].name) + 1;
        memcpy(buf + len, e[i].id.id, GIT_OID_RAWSZ);
        len += GIT_OID_RAWSZ;
    }
    git_odb *odb;
    cr_assert_eq(git_repository_odb(&odb, r), 0);
    git_oid id;
    cr_assert_eq(git_odb_write(&id, odb, buf, len, GIT_OBJECT_TREE), 0);
    git_odb_free(odb);
    return id;
}

static git_oid blob(git_repository *r, const char *content)
{
    git_oid id;
    cr_assert_eq(git_blob_create_from_buffer(&id, r, content, strlen(content)), 0);
    return id;
}

static git_repository *open_src(void)
{
    git_repository *r;
    cr_assert_eq(git_repository_open(&r, src), 0);
    return r;
}

static const file v1_files[] = {
    {"README", "hello v1\n", 0100644},
    {"bin/run.sh", "#!/bin/sh\necho run\n", 0100755},
    {"lib/link", "../README", 0120000},
};
static const file v2_files[] = {
    {"README", "hello v2\n", 0100644},
    {"bin/run.sh", "#!/bin/sh\necho run\n", 0100755},
    {"lib/link", "../README", 0120000},
    {"new.txt", "new in v2\n", 0100644},
};

/* src: main = c2 (parent c1), dev = c1, tag v1 (lightweight) = c1,
 * tag v2 (annotated) = c2, HEAD -> main. */
static void make_src(const char *path)
{
    git_repository *r;
    cr_assert_eq(git_repository_init(&r, path, 1), 0);
    cr_assert_eq(git_repository_set_head(r, "refs/heads/main"), 0);
    c1 = commit_files(r, "refs/heads/main", v1_files, 3, NULL, "one");
    c2 = commit_files(r, "refs/heads/main", v2_files, 4, &c1, "two");
    git_reference *ref;
    cr_assert_eq(git_reference_create(&ref, r, "refs/heads/dev", &c1, 0, NULL), 0);
    git_reference_free(ref);
    git_object *o1, *o2;
    cr_assert_eq(git_object_lookup(&o1, r, &c1, GIT_OBJECT_COMMIT), 0);
    cr_assert_eq(git_object_lookup(&o2, r, &c2, GIT_OBJECT_COMMIT), 0);
    git_oid tag;
    cr_assert_eq(git_tag_create_lightweight(&tag, r, "v1", o1, 0), 0);
    git_signature *s = sig();
    cr_assert_eq(git_tag_create(&tag, r, "v2", o2, s, "release two", 0), 0);
    git_signature_free(s);
    git_object_free(o1);
    git_object_free(o2);
    git_repository_free(r);
}

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/mgd-sources-XXXXXX");
    cr_assert(mkdtemp(base));
    mg_err err = {0};
    cr_assert_eq(mg_sources_global_init(&err), 0, "%s", err.msg);
    snprintf(src, sizeof src, "%s/src.git", base);
    snprintf(mirror, sizeof mirror, "%s/git/p1.git", base);
    make_src(src);
    git_oid_tostr(c1hex, sizeof c1hex, &c1);
    git_oid_tostr(c2hex, sizeof c2hex, &c2);
}

static void teardown(void)
{
    mg_sources_global_shutdown();
    mg_rm_rf(base);
}

TestSuite(sources, .init = setup, .fini = teardown, .timeout = 60);

/* ---- fetching ------------------------------------------------------------ */

/* A fresh, empty checkout directory (malloc'd). */
static char *new_dest(void)
{
    char *d = malloc(160);
    snprintf(d, 160, "%s/scratch/%d", base, dest_n++);
    cr_assert_eq(mg_mkdir_p(d), 0);
    return d;
}

typedef struct logbuf {
    char text[8192];
    size_t len;
} logbuf;

static void collect(void *ctx, const char *line)
{
    logbuf *l = ctx;
    l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "%s\n", line);
    if (l->len >= sizeof l->text) l->len = sizeof l->text - 1;
}

static mg_sources_fetch_options opts(const char *url, const char *ref, const char *dest)
{
    mg_sources_fetch_options o;
    memset(&o, 0, sizeof o);
    o.mirror_dir = mirror;
    o.url = url;
    o.ref = ref;
    o.dest_dir = dest;
    o.allow_local = true;
    return o;
}

static char *read_rel(const char *dir, const char *rel)
{
    char *p = mg_path_join(dir, rel);
    size_t len;
    char *data = mg_file_read(p, 1 << 20, &len);
    free(p);
    return data;
}

static void expect_file(const char *dir, const char *rel, const char *content)
{
    char *data = read_rel(dir, rel);
    cr_assert(data, "%s/%s is missing", dir, rel);
    cr_expect_str_eq(data, content, "%s", rel);
    free(data);
}

static unsigned mode_of(const char *dir, const char *rel)
{
    char *p = mg_path_join(dir, rel);
    struct stat sb;
    cr_assert_eq(lstat(p, &sb), 0, "%s", p);
    free(p);
    return (unsigned)sb.st_mode;
}

/* Fetches url at ref into a new directory; asserts success. */
static char *fetch_ok(const char *url, const char *ref, mg_sources_result *res)
{
    char *dest = new_dest();
    mg_sources_fetch_options o = opts(url, ref, dest);
    mg_err err = {0};
    int rc = mg_sources_fetch(&o, res, &err);
    cr_assert_eq(rc, 0, "ref %s: %s", ref ? ref : "(none)", err.msg);
    return dest;
}

/* Fetches and expects an error; returns its code, the message in err. */
static mg_err_code fetch_err(mg_sources_fetch_options *o, mg_err *err)
{
    mg_sources_result res;
    mg_err_clear(err);
    int rc = mg_sources_fetch(o, &res, err);
    cr_assert_neq(rc, 0, "fetch of %s at %s succeeded", o->url, o->ref ? o->ref : "(none)");
    cr_assert(err->msg[0], "no message");
    cr_assert_null(strchr(err->msg, '\n'), "the message is one line: %s", err->msg);
    return err->code;
}

/* The mirror records remote "origin": its url and both refspecs. (Read
 * by key: git_remote_lookup leaks in libgit2 1.5.) */
static void expect_origin(git_repository *m, const char *url)
{
    git_config *cfg;
    cr_assert_eq(git_repository_config_snapshot(&cfg, m), 0);
    const char *v;
    cr_assert_eq(git_config_get_string(&v, cfg, "remote.origin.url"), 0);
    cr_expect_str_eq(v, url);
    git_config_free(cfg);
    char *path = mg_path_join(git_repository_path(m), "config");
    size_t len;
    char *text = mg_file_read(path, 1 << 16, &len);
    cr_assert(text);
    cr_expect(strstr(text, "fetch = +refs/heads/*:refs/heads/*\n"), "%s", text);
    cr_expect(strstr(text, "fetch = +refs/tags/*:refs/tags/*\n"), "%s", text);
    free(text);
    free(path);
}

Test(sources, default_ref_is_remote_head_with_contents_modes_and_links)
{
    mg_sources_result res;
    logbuf log = {.len = 0};
    char *dest = new_dest();
    mg_sources_fetch_options o = opts(src, NULL, dest);
    o.log = collect;
    o.log_ctx = &log;
    mg_err err = {0};
    cr_assert_eq(mg_sources_fetch(&o, &res, &err), 0, "%s", err.msg);
    cr_expect_str_eq(res.commit, c2hex);
    cr_expect_str_eq(res.ref_name, "refs/heads/main");
    git_repository *r = open_src();
    git_commit *c;
    cr_assert_eq(git_commit_lookup(&c, r, &c2), 0);
    char tree[41];
    git_oid_tostr(tree, sizeof tree, git_commit_tree_id(c));
    cr_expect_str_eq(res.tree, tree);
    git_commit_free(c);
    git_repository_free(r);

    expect_file(dest, "README", "hello v2\n");
    expect_file(dest, "new.txt", "new in v2\n");
    expect_file(dest, "bin/run.sh", "#!/bin/sh\necho run\n");
    cr_expect_eq(mode_of(dest, "README") & 07777, 0644);
    cr_expect_eq(mode_of(dest, "bin/run.sh") & 07777, 0755);
    cr_expect(S_ISLNK(mode_of(dest, "lib/link")));
    char *p = mg_path_join(dest, "lib/link"), target[64];
    ssize_t n = readlink(p, target, sizeof target - 1);
    free(p);
    cr_assert_gt(n, 0);
    target[n] = 0;
    cr_expect_str_eq(target, "../README");
    expect_file(dest, "lib/link", "hello v2\n"); /* it resolves inside */
    p = mg_path_join(dest, ".git");
    cr_expect_neq(access(p, F_OK), 0, "a .git in the checkout");
    free(p);
    cr_expect_eq(res.files, 4);
    cr_expect_eq(res.bytes, strlen("hello v2\n") + strlen("#!/bin/sh\necho run\n") +
                                strlen("../README") + strlen("new in v2\n"));

    cr_expect(strstr(log.text, "fetching "), "%s", log.text);
    cr_expect(strstr(log.text, "is commit "), "%s", log.text);
    cr_expect(strstr(log.text, "checked out 4 files"), "%s", log.text);

    /* the mirror is bare, keeps origin, and recorded the remote HEAD */
    git_repository *m;
    cr_assert_eq(git_repository_open_bare(&m, mirror), 0);
    git_reference *head;
    cr_assert_eq(git_reference_lookup(&head, m, "HEAD"), 0);
    cr_expect_str_eq(git_reference_symbolic_target(head), "refs/heads/main");
    git_reference_free(head);
    expect_origin(m, src);
    git_repository_free(m);
    free(dest);
}

Test(sources, every_kind_of_ref)
{
    struct {
        const char *ref;
        const char *commit;
        const char *readme;
        const char *name;
    } cases[] = {
        {"main", c2hex, "hello v2\n", "refs/heads/main"},
        {"dev", c1hex, "hello v1\n", "refs/heads/dev"},
        {"v1", c1hex, "hello v1\n", "refs/tags/v1"},
        {"v2", c2hex, "hello v2\n", "refs/tags/v2"}, /* annotated: peeled */
        {"refs/heads/dev", c1hex, "hello v1\n", "refs/heads/dev"},
        {"refs/tags/v2", c2hex, "hello v2\n", "refs/tags/v2"},
        {"HEAD", c2hex, "hello v2\n", "refs/heads/main"},
        {"", c2hex, "hello v2\n", "refs/heads/main"},
        {c1hex, c1hex, "hello v1\n", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mg_sources_result res;
        char *dest = fetch_ok(src, cases[i].ref, &res);
        cr_expect_str_eq(res.commit, cases[i].commit, "ref %s", cases[i].ref);
        cr_expect_str_eq(res.ref_name, cases[i].name, "ref %s", cases[i].ref);
        expect_file(dest, "README", cases[i].readme);
        free(dest);
    }
    /* a short commit id, and the annotated tag's own id (peeled) */
    char shortid[9];
    memcpy(shortid, c1hex, 8);
    shortid[8] = 0;
    mg_sources_result res;
    free(fetch_ok(src, shortid, &res));
    cr_expect_str_eq(res.commit, c1hex);
    git_repository *r = open_src();
    git_reference *tag;
    cr_assert_eq(git_reference_lookup(&tag, r, "refs/tags/v2"), 0);
    char tagid[41];
    git_oid_tostr(tagid, sizeof tagid, git_reference_target(tag));
    git_reference_free(tag);
    git_repository_free(r);
    cr_assert_str_neq(tagid, c2hex);
    free(fetch_ok(src, tagid, &res));
    cr_expect_str_eq(res.commit, c2hex);
}

Test(sources, missing_ref_lists_branches_and_tags)
{
    char *dest = new_dest();
    mg_sources_fetch_options o = opts(src, "nope", dest);
    mg_err err = {0};
    cr_assert_eq(fetch_err(&o, &err), MG_E_NOT_FOUND);
    cr_expect(strstr(err.msg, "ref 'nope' not found in "), "%s", err.msg);
    cr_expect(strstr(err.msg, "(branches: dev, main; tags: v1, v2)"), "%s", err.msg);

    /* a full id that is not in the repository */
    o.ref = "0123456789abcdef0123456789abcdef01234567";
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "commit 0123456789abcdef0123456789abcdef01234567 is not in"), "%s",
              err.msg);
    o.ref = "ma\nin";
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "control character"), "%s", err.msg);
    free(dest);
}

Test(sources, an_empty_repository_has_no_default_branch)
{
    char empty[160];
    mg_err err = {0};
    snprintf(empty, sizeof empty, "%s/empty.git", base);
    git_repository *r;
    cr_assert_eq(git_repository_init(&r, empty, 1), 0);
    git_repository_free(r);
    char *dest = new_dest();
    mg_sources_fetch_options o = opts(empty, NULL, dest);
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "has no default branch"), "%s", err.msg);
    o.ref = "main";
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "ref 'main' not found in "), "%s", err.msg);
    cr_expect(strstr(err.msg, "(branches: none; tags: none)"), "%s", err.msg);
    free(dest);
}

Test(sources, a_changed_url_is_followed)
{
    mg_sources_result res;
    free(fetch_ok(src, "main", &res));
    cr_expect_str_eq(res.commit, c2hex);

    char other[160];
    snprintf(other, sizeof other, "%s/other.git", base);
    git_repository *r;
    cr_assert_eq(git_repository_init(&r, other, 1), 0);
    static const file f[] = {{"OTHER", "other repo\n", 0100644}};
    git_oid o1 = commit_files(r, "refs/heads/main", f, 1, NULL, "other");
    cr_assert_eq(git_repository_set_head(r, "refs/heads/main"), 0);
    git_repository_free(r);
    char o1hex[41];
    git_oid_tostr(o1hex, sizeof o1hex, &o1);

    logbuf log = {.len = 0};
    char *dest = new_dest();
    mg_sources_fetch_options o = opts(other, NULL, dest);
    o.log = collect;
    o.log_ctx = &log;
    mg_err err = {0};
    cr_assert_eq(mg_sources_fetch(&o, &res, &err), 0, "%s", err.msg);
    cr_expect_str_eq(res.commit, o1hex);
    expect_file(dest, "OTHER", "other repo\n");
    cr_expect(strstr(log.text, "url changed"), "%s", log.text);
    free(dest);

    /* the old repository's branches are pruned from the mirror */
    git_repository *m;
    cr_assert_eq(git_repository_open_bare(&m, mirror), 0);
    git_reference *ref;
    cr_expect_eq(git_reference_lookup(&ref, m, "refs/heads/dev"), GIT_ENOTFOUND);
    cr_expect_eq(git_reference_lookup(&ref, m, "refs/tags/v2"), GIT_ENOTFOUND);
    expect_origin(m, other);
    /* and its objects: a commit only the old url had no longer resolves */
    git_odb *odb;
    cr_assert_eq(git_repository_odb(&odb, m), 0);
    cr_expect(!git_odb_exists(odb, &c2), "the old repository's commit is still in the mirror");
    git_odb_free(odb);
    git_repository_free(m);
    dest = new_dest();
    o = opts(other, c2hex, dest);
    mg_err_clear(&err);
    cr_expect_neq(mg_sources_fetch(&o, &res, &err), 0,
                  "commit %s of the old url was checked out from the new one", c2hex);
    free(dest);
}

Test(sources, a_refetch_sees_new_commits)
{
    mg_sources_result res;
    free(fetch_ok(src, "main", &res));
    cr_expect_str_eq(res.commit, c2hex);
    git_repository *r = open_src();
    static const file f[] = {{"README", "hello v3\n", 0100644}};
    git_oid c3 = commit_files(r, "refs/heads/main", f, 1, &c2, "three");
    git_repository_free(r);
    char c3hex[41];
    git_oid_tostr(c3hex, sizeof c3hex, &c3);
    char *dest = fetch_ok(src, "main", &res);
    cr_expect_str_eq(res.commit, c3hex);
    expect_file(dest, "README", "hello v3\n");
    cr_expect_eq(res.files, 1);
    free(dest);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(sources, bad_urls_fail_fast_with_a_plain_message)
{
    char notrepo[160];
    mg_err err = {0};
    snprintf(notrepo, sizeof notrepo, "%s/plain", base);
    cr_assert_eq(mg_mkdir_p(notrepo), 0);
    char *dest = new_dest();
    struct {
        const char *url;
        bool allow_local;
        const char *msg;
    } cases[] = {
        {"/nonexistent/repo.git", true, "cannot fetch '/nonexistent/repo.git': No such file"},
        {"file:///nonexistent/repo.git", true, "No such file"},
        {notrepo, true, "not a git repository"},
        {"foo://example.org/x.git", true, "unsupported URL scheme 'foo'"},
        {src, false, "local repositories are not allowed"},
        {"file:///srv/x.git", false, "local repositories are not allowed"},
        {"", true, "the url is empty"},
        {"https://user:s3cret@example.org\n/x", true, "control character"},
        {"foo://user:s3cret@example.org/x", true, "'foo://user:***@example.org/x'"},
        /* a network remote that refuses at once (port 1 on loopback) */
        {"http://user:s3cret@127.0.0.1:1/x.git", false,
         "cannot fetch 'http://user:***@127.0.0.1:1/x.git': "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mg_sources_fetch_options o = opts(cases[i].url, NULL, dest);
        o.allow_local = cases[i].allow_local;
        double t0 = now();
        cr_expect_neq(fetch_err(&o, &err), MG_E_CANCELLED);
        cr_expect_lt(now() - t0, 2.0, "%s took too long", cases[i].url);
        cr_expect(strstr(err.msg, cases[i].msg), "%s: %s", cases[i].url, err.msg);
        cr_expect_null(strstr(err.msg, "s3cret"), "the password shows: %s", err.msg);
    }
    /* nothing is left behind for a url that failed */
    cr_expect_neq(access(mirror, F_OK), 0);
    free(dest);
}

Test(sources, a_non_empty_checkout_directory_is_refused)
{
    char *dest = new_dest();
    mg_err err = {0};
    char *p = mg_path_join(dest, "junk");
    cr_assert_eq(mg_file_write_atomic(p, "x", 1, 0644), 0);
    free(p);
    mg_sources_fetch_options o = opts(src, NULL, dest);
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "is not empty"), "%s", err.msg);
    free(dest);
}

Test(sources, cancel_before_and_during_the_fetch)
{
    char *dest = new_dest();
    mg_err err = {0};
    volatile int cancel = 1;
    mg_sources_fetch_options o = opts(src, NULL, dest);
    o.cancel = &cancel;
    cr_expect_eq(fetch_err(&o, &err), MG_E_CANCELLED);
    cr_expect(strstr(err.msg, "cancelled"), "%s", err.msg);
    free(dest);
}

static void cancel_on_fetching(void *ctx, const char *line)
{
    if (strncmp(line, "fetching", 8) == 0) *(volatile int *)ctx = 1;
}

Test(sources, cancel_while_fetching)
{
    char *dest = new_dest();
    mg_err err = {0};
    volatile int cancel = 0;
    mg_sources_fetch_options o = opts(src, NULL, dest);
    o.cancel = &cancel;
    o.log = cancel_on_fetching;
    o.log_ctx = (void *)&cancel;
    cr_expect_eq(fetch_err(&o, &err), MG_E_CANCELLED, "%s", err.msg);
    cr_expect_str_eq(err.msg, "cancelled");
    char *readme = mg_path_join(dest, "README");
    cr_expect_eq(access(readme, F_OK), -1, "checked out anyway");
    free(readme);
    free(dest);
}

/* A commit on branch `name` of src whose root tree has the raw entries
 * (plus README), for trees git would never write. */
static void commit_raw(const char *branch, raw_entry *extra, size_t n)
{
    git_repository *r = open_src();
    raw_entry e[8];
    e[0] = (raw_entry){"100644", "README", blob(r, "x\n")};
    for (size_t i = 0; i < n; i++) e[i + 1] = extra[i];
    git_oid tree = raw_tree(r, e, n + 1);
    char ref[128];
    snprintf(ref, sizeof ref, "refs/heads/%s", branch);
    commit_tree(r, ref, &tree, NULL, "crafted");
    git_repository_free(r);
}

static void expect_refused(const char *branch, const char *msg)
{
    char *dest = new_dest();
    mg_err err = {0};
    mg_sources_fetch_options o = opts(src, branch, dest);
    cr_expect_eq(fetch_err(&o, &err), MG_E_INVALID);
    cr_expect(strstr(err.msg, msg), "branch %s: %s", branch, err.msg);
    free(dest);
}

Test(sources, links_leaving_the_tree_are_refused)
{
    git_repository *r = open_src();
    git_oid sub = raw_tree(r, (raw_entry[]){{"120000", "up", blob(r, "../../etc/passwd")}}, 1);
    raw_entry abs[] = {{"120000", "passwd", blob(r, "/etc/passwd")}};
    raw_entry up[] = {{"40000", "sub", sub}};
    /* each target alone stays inside, but "self/.." is the root's parent */
    raw_entry chain[] = {{"120000", "self", blob(r, ".")},
                         {"120000", "x", blob(r, "self/../secret")}};
    raw_entry fine[] = {{"120000", "here", blob(r, "./README")}, {"40000", "sub", sub}};
    git_repository_free(r);
    commit_raw("abs", abs, 1);
    commit_raw("up", up, 1);
    commit_raw("chain", chain, 2);
    expect_refused("abs", "symbolic link 'passwd' points outside the source tree");
    expect_refused("up", "symbolic link 'sub/up' points outside");
    expect_refused("chain", "symbolic link 'x' points outside");
    (void)fine;
}

Test(sources, submodules_and_bad_names_are_refused)
{
    raw_entry sub[] = {{"160000", "mod", c1}};
    commit_raw("submodule", sub, 1);
    expect_refused("submodule", "submodule 'mod' is not supported");

    git_repository *r = open_src();
    git_oid inner = raw_tree(r, (raw_entry[]){{"100644", "config", blob(r, "[core]\n")}}, 1);
    raw_entry dotdot[] = {{"100644", "..", blob(r, "evil\n")}};
    raw_entry dotgit[] = {{"40000", ".git", inner}};
    raw_entry dotgit_upper[] = {{"40000", ".GIT", inner}};
    raw_entry slash[] = {{"100644", "a/b", blob(r, "evil\n")}};
    raw_entry twice[] = {{"100644", "README", blob(r, "again\n")}};
    git_repository_free(r);
    commit_raw("dotdot", dotdot, 1);
    commit_raw("dotgit", dotgit, 1);
    commit_raw("dotgitupper", dotgit_upper, 1);
    commit_raw("slash", slash, 1);
    commit_raw("twice", twice, 1);
    expect_refused("dotdot", "entry named '..'");
    expect_refused("dotgit", "'.git' entry");
    expect_refused("dotgitupper", "'.git' entry");
    expect_refused("slash", "entry named 'a/b'");
    expect_refused("twice", "names it twice");
    /* nothing was written above the checkout */
    char *p = mg_path_join(base, "scratch/evil");
    cr_expect_neq(access(p, F_OK), 0);
    free(p);
}

Test(sources, limits_are_enforced)
{
    char *dest = new_dest();
    mg_err err = {0};
    mg_sources_fetch_options o = opts(src, "main", dest);
    o.max_files = 3;
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "more than 3 files"), "%s", err.msg);
    free(dest);

    dest = new_dest();
    o = opts(src, "main", dest);
    o.max_bytes = 20;
    fetch_err(&o, &err);
    cr_expect(strstr(err.msg, "more than 20 bytes"), "%s", err.msg);
    free(dest);

    /* exactly at the limits passes: 4 files, 2 directories */
    mg_sources_result res;
    dest = new_dest();
    o = opts(src, "main", dest);
    o.max_files = 6;
    o.max_bytes = strlen("hello v2\n") + strlen("#!/bin/sh\necho run\n") + strlen("../README") +
                  strlen("new in v2\n");
    cr_assert_eq(mg_sources_fetch(&o, &res, &err), 0, "%s", err.msg);
    free(dest);
}

static void damage_and_refetch(const char *what)
{
    mg_sources_result res;
    logbuf log = {.len = 0};
    char *dest = new_dest();
    mg_err err = {0};
    mg_sources_fetch_options o = opts(src, "dev", dest);
    o.log = collect;
    o.log_ctx = &log;
    cr_assert_eq(mg_sources_fetch(&o, &res, &err), 0, "%s: %s", what, err.msg);
    cr_expect_str_eq(res.commit, c1hex, "%s", what);
    expect_file(dest, "README", "hello v1\n");
    cr_expect(strstr(log.text, "damaged"), "%s: %s", what, log.text);
    free(dest);
}

Test(sources, a_damaged_mirror_is_cloned_afresh)
{
    mg_sources_result res;
    free(fetch_ok(src, "main", &res));
    char path[256];

    /* objects gone */
    snprintf(path, sizeof path, "%s/objects", mirror);
    cr_assert_eq(mg_rm_rf(path), 0);
    damage_and_refetch("no objects");

    /* HEAD truncated and refs pointing at objects we lack */
    snprintf(path, sizeof path, "%s/HEAD", mirror);
    cr_assert_eq(truncate(path, 0), 0);
    snprintf(path, sizeof path, "%s/objects/pack", mirror);
    cr_assert_eq(mg_rm_rf(path), 0);
    damage_and_refetch("truncated HEAD, no packs");

    /* objects gone under intact refs */
    snprintf(path, sizeof path, "%s/objects/pack", mirror);
    cr_assert_eq(mg_rm_rf(path), 0);
    damage_and_refetch("no packs");

    /* a ref that is not a ref */
    snprintf(path, sizeof path, "%s/refs/heads/dev", mirror);
    cr_assert_eq(mg_file_write_atomic(path, "garbage\n", 8, 0644), 0);
    damage_and_refetch("a garbage ref");

    /* something that is not a repository at all */
    cr_assert_eq(mg_rm_rf(mirror), 0);
    cr_assert_eq(mg_file_write_atomic(mirror, "garbage", 7, 0644), 0);
    damage_and_refetch("a file");
}

typedef struct waiter {
    mg_sources_fetch_options o;
    mg_sources_result res;
    logbuf log;
    mg_err err;
    volatile int done;
    int rc;
} waiter;

static void *run_waiter(void *arg)
{
    waiter *w = arg;
    w->rc = mg_sources_fetch(&w->o, &w->res, &w->err);
    w->done = 1;
    return NULL;
}

static int hold_lock(void)
{
    char lock[160];
    snprintf(lock, sizeof lock, "%s.lock", mirror);
    cr_assert_eq(mg_mkdir_p(base), 0);
    char *parent = mg_path_dirname(lock);
    cr_assert_eq(mg_mkdir_p(parent), 0);
    free(parent);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    return fd;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

Test(sources, a_held_lock_makes_a_fetch_wait_and_a_cancel_ends_the_wait)
{
    /* another process (here: another open file) fetching the mirror */
    int fd = hold_lock();
    waiter *w = calloc(1, sizeof *w);
    char *dest = new_dest();
    w->o = opts(src, "main", dest);
    w->o.log = collect;
    w->o.log_ctx = &w->log;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, run_waiter, w), 0);
    pause_ms(300);
    cr_expect_eq(w->done, 0, "the fetch did not wait for the lock");
    close(fd); /* releases it */
    pthread_join(t, NULL);
    cr_expect_eq(w->rc, 0, "%s", w->err.msg);
    cr_expect_str_eq(w->res.commit, c2hex);
    cr_expect(strstr(w->log.text, "waiting for another fetch"), "%s", w->log.text);
    free(dest);

    /* a cancel while waiting */
    fd = hold_lock();
    memset(w, 0, sizeof *w);
    volatile int cancel = 0;
    dest = new_dest();
    w->o = opts(src, "main", dest);
    w->o.cancel = &cancel;
    cr_assert_eq(pthread_create(&t, NULL, run_waiter, w), 0);
    pause_ms(100);
    cancel = 1;
    pthread_join(t, NULL);
    close(fd);
    cr_expect_eq(w->rc, -1);
    cr_expect_eq(w->err.code, MG_E_CANCELLED, "%s", w->err.msg);
    free(dest);
    free(w);
}

typedef struct worker {
    char dest[160];
    int rc;
    mg_sources_result res;
    mg_err err;
} worker;

static void *run_fetch(void *arg)
{
    worker *w = arg;
    mg_sources_fetch_options o = opts(src, "main", w->dest);
    w->rc = mg_sources_fetch(&o, &w->res, &w->err);
    return NULL;
}

Test(sources, concurrent_fetches_of_one_mirror)
{
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof w[i]);
        char *d = new_dest();
        snprintf(w[i].dest, sizeof w[i].dest, "%s", d);
        free(d);
        cr_assert_eq(pthread_create(&t[i], NULL, run_fetch, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(w[i].rc, 0, "thread %d: %s", i, w[i].err.msg);
        cr_expect_str_eq(w[i].res.commit, c2hex, "thread %d", i);
        expect_file(w[i].dest, "README", "hello v2\n");
    }
}

/* ---- inline sources ------------------------------------------------------ */

static cJSON *parse(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    cr_assert(j, "bad test json %s", json);
    return j;
}

/* The check refuses the tree with the message, and so does the write
 * (which checks everything but the size). */
static void refused(const char *json, size_t max, const char *msg)
{
    cJSON *j = parse(json);
    mg_err err = {0};
    char hash[65];
    cr_expect_eq(mg_sources_inline_check(j, max, &err), -1, "%s was accepted", json);
    cr_expect(strstr(err.msg, msg), "%s: %s", json, err.msg);
    cr_expect_null(strchr(err.msg, '\n'));
    char *dest = new_dest();
    cr_expect_eq(mg_sources_inline_write(j, dest, hash, &err), -1, "%s written", json);
    cr_expect(strstr(err.msg, msg), "%s: %s", json, err.msg);
    cr_expect_eq(mg_sources_inline_hash(j, hash, &err), -1);
    free(dest);
    cJSON_Delete(j);
}

TestSuite(inline_sources, .init = setup, .fini = teardown);

Test(inline_sources, bad_trees_are_refused_naming_the_path)
{
    refused("{\"../x\": \"a\"}", 1000, "sources: path '../x' leaves the project");
    refused("{\"a/../../x\": \"a\"}", 1000, "path 'a/../../x' leaves the project");
    refused("{\"ok\": \"\", \"a/..\": \"a\"}", 1000, "path 'a/..' leaves the project");
    refused("{\"/etc/passwd\": \"a\"}", 1000, "path '/etc/passwd' is absolute");
    refused("{\"./a\": \"a\"}", 1000, "'.' segment");
    refused("{\"a//b\": \"a\"}", 1000, "empty segment");
    refused("{\"a/\": \"a\"}", 1000, "empty segment");
    refused("{\"\": \"a\"}", 1000, "a path is empty");
    refused("{\"a\\\\b\": \"a\"}", 1000, "backslash");
    refused("{\"a\\u0001b\": \"a\"}", 1000, "path 'a?b' has a control character");
    refused("{\"a\\u007f\": \"a\"}", 1000, "control character");
    refused("{\"a\xff\": \"a\"}", 1000, "not valid UTF-8");
    refused("{\"a\xc0\xaf\": \"a\"}", 1000, "not valid UTF-8"); /* overlong '/' */
    refused("{\".git/config\": \"a\"}", 1000, "path '.git/config' is inside .git");
    refused("{\"x/.GIT/hooks/pre-commit\": \"a\"}", 1000, "is inside .git");
    refused("{\".git\": \"gitdir: /etc\"}", 1000, "is inside .git");
    refused("{\"a\": 1}", 1000, "path 'a' must have a string value");
    refused("{\"a\": {\"b\": \"c\"}}", 1000, "must have a string value");
    refused("{\"a\": null}", 1000, "must have a string value");
    refused("[\"a\"]", 1000, "sources: must be an object");
    refused("\"a\"", 1000, "sources: must be an object");
    refused("{\"a\": \"x\", \"a/b\": \"y\"}", 1000, "path 'a' is a file and a directory");
    refused("{\"a/b/c\": \"x\", \"a-b\": \"\", \"a/b\": \"y\"}", 1000,
            "path 'a/b' is a file and a directory");
    refused("{\"a\": \"x\", \"a\": \"y\"}", 1000, "path 'a' appears twice");

    char longpath[1100];
    memset(longpath, 'a', sizeof longpath);
    for (int i = 100; i < 1090; i += 100) longpath[i] = '/';
    longpath[1090] = 0;
    char json[1200];
    snprintf(json, sizeof json, "{\"%s\": \"\"}", longpath);
    refused(json, 1000, "longer than 1024 bytes");
    char longname[300];
    memset(longname, 'b', 256);
    longname[256] = 0;
    snprintf(json, sizeof json, "{\"%s\": \"\"}", longname);
    refused(json, 1000, "longer than 255 bytes");
}

Test(inline_sources, size_and_count_limits)
{
    cJSON *j = parse("{\"a\": \"12345\", \"b\": \"678\"}");
    mg_err err = {0};
    cr_expect_eq(mg_sources_inline_check(j, 8, &err), 0, "%s", err.msg);
    cr_expect_eq(mg_sources_inline_check(j, 7, &err), -1);
    cr_expect(strstr(err.msg, "more than 7 bytes"), "%s", err.msg);
    cJSON_Delete(j);

    j = cJSON_CreateObject();
    char name[32];
    for (unsigned i = 0; i < MG_SOURCES_INLINE_MAX_FILES; i++) {
        snprintf(name, sizeof name, "f%u", i);
        cJSON_AddStringToObject(j, name, "");
    }
    cr_expect_eq(mg_sources_inline_check(j, 1000, &err), 0, "%s", err.msg);
    cJSON_AddStringToObject(j, "one-more", "");
    cr_expect_eq(mg_sources_inline_check(j, 1000, &err), -1);
    cr_expect(strstr(err.msg, "more than 10000 files"), "%s", err.msg);
    cJSON_Delete(j);
}

static void hash_of(const char *json, char out[65])
{
    cJSON *j = parse(json);
    mg_err err = {0};
    cr_assert_eq(mg_sources_inline_hash(j, out, &err), 0, "%s", err.msg);
    cJSON_Delete(j);
}

Test(inline_sources, hash_is_stable_and_unambiguous)
{
    char h1[65], h2[65], h3[65], h4[65], h5[65], h6[65];
    hash_of("{\"a\": \"1\", \"b/c\": \"2\", \"b/d\": \"3\"}", h1);
    hash_of("{\"b/d\": \"3\", \"a\": \"1\", \"b/c\": \"2\"}", h2);
    cr_expect_str_eq(h1, h2, "member order changed the hash");
    hash_of("{\"a\": \"1\", \"b/c\": \"2\", \"b/d\": \"4\"}", h3);
    cr_expect_str_neq(h1, h3, "content change not seen");
    hash_of("{\"a\": \"bc\"}", h4);
    hash_of("{\"ab\": \"c\"}", h5);
    cr_expect_str_neq(h4, h5, "path/content boundary is ambiguous");
    hash_of("{}", h6);
    cr_expect_str_eq(h6, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* the documented form: 8-byte big-endian lengths, then the bytes */
    unsigned char doc[] = {0, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 2, 'b', 'c'};
    char expect[65];
    mg_sha256_bytes_hex(doc, sizeof doc, expect);
    cr_expect_str_eq(h4, expect);
}

Test(inline_sources, written_byte_exact_with_directories)
{
    cJSON *j = parse("{\"src/main.c\": \"int main(void) { return 0; }\\n\","
                     " \"README\": \"caf\\u00e9 \\u2603 \\ud83d\\ude00\\n\","
                     " \"src/lib/deep/x.h\": \"\", \"a-b\": \"tab\\tquote\\\"\"}");
    char *dest = new_dest(), hash[65], hash2[65];
    mg_err err = {0};
    cr_assert_eq(mg_sources_inline_write(j, dest, hash, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sources_inline_hash(j, hash2, &err), 0);
    cr_expect_str_eq(hash, hash2);
    expect_file(dest, "src/main.c", "int main(void) { return 0; }\n");
    expect_file(dest, "README", "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80\n");
    expect_file(dest, "src/lib/deep/x.h", "");
    expect_file(dest, "a-b", "tab\tquote\"");
    cr_expect_eq(mode_of(dest, "README") & 07777, 0644);
    cr_expect(S_ISDIR(mode_of(dest, "src/lib")));

    /* a second write into the same (now full) directory is refused */
    cr_expect_eq(mg_sources_inline_write(j, dest, NULL, &err), -1);
    cr_expect(strstr(err.msg, "is not empty"), "%s", err.msg);
    cJSON_Delete(j);
    free(dest);
}
