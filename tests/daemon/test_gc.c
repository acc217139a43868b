/*
 * daemon/gc.h and the store's part of it: which builds retention keeps
 * (the last N finished per project, target and arch, the newest succeeded,
 * pinned, queued and running, held, referenced by a kept build, a
 * project's own number, 0 for all) and which it deletes (the rest); the
 * blobs that become orphans and those something still names; and whole
 * runs on a real data directory and cache: logs, pins, blobs, mirrors,
 * the bytes freed, a run that stopped half-way finished by the next.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "base/sha256.h"
#include "daemon/gc.h"
#include "daemon/store.h"
#include "toolchain/cache.h"

static char base[64];
static mg_store *st;
static mg_cache *cache;
static mg_err err;

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/mgd-gc-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    char *db = mg_path_join(base, "mgd.sqlite3");
    st = mg_store_open(db, true, &err);
    free(db);
    cr_assert_not_null(st, "open: %s", err.msg);
    char *c = mg_path_join(base, "cache");
    cache = mg_cache_open(c, &err);
    free(c);
    cr_assert_not_null(cache, "%s", err.msg);
}

static void teardown(void)
{
    mg_store_close(st);
    mg_cache_close(cache);
    mg_rm_rf(base);
}

TestSuite(selection, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(orphans, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(run, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

static const char *hexof(const char *text)
{
    static char bufs[16][65];
    static int next;
    char *b = bufs[next++ % 16];
    mg_sha256_bytes_hex(text, strlen(text), b);
    return b;
}

/* A project with inline sources named by `sources` (a hex name), or a git
 * one when `repo`. */
static int64_t project(const char *name, const char *sources, const char *repo)
{
    char doc[128];
    snprintf(doc, sizeof doc, "{\"name\":\"%s\"}", name);
    mg_project p = {.name = (char *)name};
    if (repo) {
        p.repo_url = (char *)repo;
    } else {
        p.sources = "{}";
        p.sources_sha256 = (char *)sources;
    }
    int64_t id = mg_store_project_create(st, &p, doc, hexof(doc), &err);
    cr_assert_gt(id, 0, "%s", err.msg);
    return id;
}

typedef struct spec {
    const char *target, *arch;
    const char *sources; /* the build's inline tree (hex), or NULL */
    int64_t rebuild_of, reused_from;
    const char *image; /* hex, when it succeeds */
} spec;

static int64_t queued(int64_t pid, const spec *s)
{
    mg_stored_build b = {.project_id = pid,
                         .target = (char *)(s && s->target ? s->target : "unix"),
                         .arch = (char *)(s && s->arch ? s->arch : "x86_64"),
                         .keys = "{}",
                         .config_version = 1,
                         .sources_sha256 = s ? (char *)s->sources : NULL,
                         .rebuild_of = s ? s->rebuild_of : 0};
    int64_t id = mg_store_build_create(st, &b, 0, &err);
    cr_assert_gt(id, 0, "%s", err.msg);
    return id;
}

static int64_t running(int64_t pid, const spec *s)
{
    int64_t id = queued(pid, s);
    cr_assert_eq(mg_store_build_claim_id(st, id, NULL, &err), 1, "%s", err.msg);
    return id;
}

static int64_t finished(int64_t pid, mg_stored_status status, const spec *s)
{
    int64_t id = running(pid, s);
    mg_stored_build f = {.id = id, .status = status, .reused_from = s ? s->reused_from : 0};
    if (status == MG_STORED_SUCCEEDED) {
        f.image_name = "app.img";
        f.image_sha256 = (char *)(s && s->image ? s->image : hexof("default image"));
        f.image_size = 1;
    } else {
        f.error = "it failed";
    }
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "%s", err.msg);
    return id;
}

static int64_t failed(int64_t pid, const spec *s)
{
    return finished(pid, MG_STORED_FAILED, s);
}

static bool exists(int64_t id)
{
    mg_stored_build b;
    int r = mg_store_build_get(st, id, false, &b, NULL);
    if (r == 0) mg_stored_build_free(&b);
    return r == 0;
}

static bool has(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

/* One collection with the daemon's `keep`: the ids deleted (checked to
 * be gone, every other listed one to remain). */
static size_t collect(int64_t keep, const int64_t *held, size_t n_held, int64_t **out)
{
    int64_t *all = NULL, kept = -1;
    size_t n_all = 0, n = 0;
    cr_assert_eq(mg_store_build_ids(st, &all, &n_all, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_store_gc_collect(st, keep, held, n_held, out, &n, &kept, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(kept, (int64_t)(n_all - n));
    for (size_t i = 0; i < n_all; i++)
        cr_assert_eq(exists(all[i]), !has(*out, n, all[i]), "build %lld", (long long)all[i]);
    free(all);
    return n;
}

#define ASSERT_DELETED(got, n, ...)                                                                \
    do {                                                                                           \
        const int64_t want_[] = {__VA_ARGS__};                                                     \
        size_t nw_ = sizeof want_ / sizeof want_[0];                                               \
        cr_assert_eq((n), nw_, "deleted %zu builds, want %zu", (size_t)(n), nw_);                  \
        for (size_t i_ = 0; i_ < nw_; i_++)                                                        \
            cr_assert_eq((got)[i_], want_[i_], "deleted[%zu] = %lld, want %lld", i_,               \
                         (long long)(got)[i_], (long long)want_[i_]);                              \
    } while (0)

/* ---- what retention keeps -------------------------------------------------- */

Test(selection, keeps_the_last_n_finished_per_target_and_arch)
{
    int64_t p = project("p", hexof("s"), NULL);
    int64_t f[5];
    for (int i = 0; i < 5; i++) f[i] = failed(p, NULL);
    spec arm = {.arch = "aarch64"}, spt = {.target = "spt"};
    int64_t a1 = failed(p, &arm), a2 = failed(p, &arm);
    int64_t s1 = failed(p, &spt);
    /* another project counts apart */
    int64_t q = project("q", hexof("s"), NULL);
    int64_t q1 = failed(q, NULL), q2 = failed(q, NULL), q3 = failed(q, NULL);
    int64_t *del = NULL;
    size_t n = collect(2, NULL, 0, &del);
    ASSERT_DELETED(del, n, f[0], f[1], f[2], q1);
    free(del);
    const int64_t stay[] = {f[3], f[4], a1, a2, s1, q2, q3};
    for (size_t i = 0; i < sizeof stay / sizeof stay[0]; i++) cr_assert(exists(stay[i]));
    /* again: nothing more */
    n = collect(2, NULL, 0, &del);
    cr_assert_eq(n, 0);
    free(del);
}

Test(selection, keeps_the_newest_succeeded_even_past_n)
{
    int64_t p = project("p", hexof("s"), NULL);
    int64_t old_ok = finished(p, MG_STORED_SUCCEEDED, NULL);
    int64_t ok = finished(p, MG_STORED_SUCCEEDED, NULL);
    int64_t f1 = failed(p, NULL), f2 = failed(p, NULL), f3 = failed(p, NULL);
    int64_t c = finished(p, MG_STORED_CANCELLED, NULL);
    int64_t *del = NULL;
    size_t n = collect(2, NULL, 0, &del);
    /* the last two (f3, c), the newest succeeded (ok) stay */
    ASSERT_DELETED(del, n, old_ok, f1, f2);
    free(del);
    cr_assert(exists(ok) && exists(f3) && exists(c));
}

Test(selection, never_queued_running_pinned_or_held_builds)
{
    int64_t p = project("p", hexof("s"), NULL);
    int64_t q = queued(p, NULL);
    int64_t r = running(p, NULL);
    int64_t f[5];
    for (int i = 0; i < 5; i++) f[i] = failed(p, NULL);
    cr_assert_eq(mg_store_build_pin(st, f[1], true, &err), 0, "%s", err.msg);
    int64_t held[] = {f[0]};
    int64_t *del = NULL;
    /* queued and running ones do not count among the last N either */
    size_t n = collect(1, held, 1, &del);
    ASSERT_DELETED(del, n, f[2], f[3]);
    free(del);
    cr_assert(exists(q) && exists(r) && exists(f[0]) && exists(f[1]) && exists(f[4]));
    /* unpinned and no longer held: the next run takes them */
    cr_assert_eq(mg_store_build_pin(st, f[1], false, &err), 0, "%s", err.msg);
    n = collect(1, NULL, 0, &del);
    ASSERT_DELETED(del, n, f[0], f[1]);
    free(del);
    cr_assert(exists(q) && exists(r) && exists(f[4]));
}

Test(selection, keeps_what_a_kept_build_refers_to)
{
    int64_t p = project("p", hexof("s"), NULL);
    /* a <- b (reused a) <- c (rebuild of b): c is the newest succeeded */
    int64_t a = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("X")});
    int64_t b = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("X"), .reused_from = a});
    int64_t c = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("Y"), .rebuild_of = b});
    int64_t f1 = failed(p, NULL), f2 = failed(p, NULL);
    /* on another target: a deleted build's reference keeps nothing */
    int64_t a2 = finished(p, MG_STORED_SUCCEEDED, &(spec){.target = "spt"});
    int64_t b2 = failed(p, &(spec){.target = "spt", .rebuild_of = a2});
    int64_t c2 = finished(p, MG_STORED_SUCCEEDED, &(spec){.target = "spt"});
    int64_t d2 = failed(p, &(spec){.target = "spt"});
    int64_t *del = NULL;
    size_t n = collect(1, NULL, 0, &del);
    ASSERT_DELETED(del, n, f1, a2, b2);
    free(del);
    cr_assert(exists(a) && exists(b) && exists(c) && exists(f2) && exists(c2) && exists(d2));
    /* the chain stays whole: c still names b, b names a */
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, c, false, &g, &err), 0);
    cr_assert_eq(g.rebuild_of, b);
    mg_stored_build_free(&g);
}

Test(selection, a_project_of_its_own_and_keep_all)
{
    int64_t p = project("p", hexof("s"), NULL), q = project("q", hexof("s"), NULL),
            r = project("r", hexof("s"), NULL);
    cr_assert_eq(mg_store_project_set_retention(st, q, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_store_project_set_retention(st, r, 0, &err), 0, "%s", err.msg);
    int64_t pb[4], qb[4], rb[4];
    for (int i = 0; i < 4; i++) {
        pb[i] = failed(p, NULL);
        qb[i] = failed(q, NULL);
        rb[i] = failed(r, NULL);
    }
    mg_project got;
    cr_assert_eq(mg_store_project_get_id(st, q, &got, &err), 0);
    cr_assert_eq(got.keep_builds, 1);
    mg_project_free(&got);
    cr_assert_eq(mg_store_project_get_id(st, p, &got, &err), 0);
    cr_assert_eq(got.keep_builds, -1, "the daemon's");
    mg_project_free(&got);
    int64_t *del = NULL;
    /* the daemon keeping all keeps p's, and the projects' own numbers hold */
    size_t n = collect(0, NULL, 0, &del);
    ASSERT_DELETED(del, n, qb[0], qb[1], qb[2]);
    free(del);
    n = collect(2, NULL, 0, &del);
    ASSERT_DELETED(del, n, pb[0], pb[1]);
    free(del);
    for (int i = 0; i < 4; i++) cr_assert(exists(rb[i]));
    /* back to the daemon's */
    cr_assert_eq(mg_store_project_set_retention(st, r, -1, &err), 0, "%s", err.msg);
    n = collect(3, NULL, 0, &del);
    ASSERT_DELETED(del, n, rb[0]);
    free(del);
}

Test(selection, a_project_being_deleted_is_left_to_its_delete)
{
    int64_t p = project("p", hexof("s"), NULL);
    int64_t f[3];
    for (int i = 0; i < 3; i++) f[i] = failed(p, NULL);
    int64_t *ids = NULL;
    size_t n_ids = 0;
    cr_assert_eq(mg_store_project_delete_begin(st, p, &ids, &n_ids, NULL, &err), 0, "%s", err.msg);
    free(ids);
    int64_t *del = NULL;
    cr_assert_eq(collect(1, NULL, 0, &del), 0);
    free(del);
    for (int i = 0; i < 3; i++) cr_assert(exists(f[i]));
}

Test(selection, hostile_numbers_and_missing_rows)
{
    int64_t *del = NULL;
    size_t n = 0;
    mg_err_clear(&err);
    cr_assert_eq(mg_store_gc_collect(st, -1, NULL, 0, &del, &n, NULL, &err), -1);
    cr_assert_eq(err.code, MG_E_INVALID);
    cr_assert_null(del);
    cr_assert_eq(mg_store_build_pin(st, 12345, true, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND);
    cr_assert_eq(mg_store_project_set_retention(st, 12345, 3, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND);
    int64_t p = project("p", hexof("s"), NULL);
    cr_assert_eq(mg_store_project_set_retention(st, p, -2, &err), -1);
    cr_assert_eq(err.code, MG_E_INVALID);
    /* pinning twice keeps the first time; unpinning clears it */
    int64_t b = failed(p, NULL);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_pin(st, b, true, &err), 0);
    cr_assert_eq(mg_store_build_get(st, b, false, &g, &err), 0);
    int64_t first = g.pinned_at;
    mg_stored_build_free(&g);
    cr_assert_gt(first, 0);
    usleep(5000);
    cr_assert_eq(mg_store_build_pin(st, b, true, &err), 0);
    cr_assert_eq(mg_store_build_get(st, b, false, &g, &err), 0);
    cr_assert_eq(g.pinned_at, first);
    mg_stored_build_free(&g);
    cr_assert_eq(mg_store_build_pin(st, b, false, &err), 0);
    cr_assert_eq(mg_store_build_get(st, b, false, &g, &err), 0);
    cr_assert_eq(g.pinned_at, 0);
    mg_stored_build_free(&g);
}

/* ---- the blobs that become orphans --------------------------------------- */

static size_t orphans(char ***out)
{
    size_t n = 0;
    cr_assert_eq(mg_store_gc_orphans(st, out, &n, &err), 0, "%s", err.msg);
    return n;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

Test(orphans, only_what_nothing_names_any_more)
{
    const char *now = hexof("tree now"), *old = hexof("tree old"), *kept_tree = hexof("tree kept");
    int64_t p = project("p", now, NULL);
    /* images: X shared with a kept build, Y only the deleted one's; trees:
     * `old` only the deleted one's, `now` the project's own, `kept_tree`
     * also a queued build's */
    failed(p, &(spec){.sources = old});
    finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("X"), .sources = now});
    finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("Y"), .sources = kept_tree});
    queued(p, &(spec){.sources = kept_tree, .target = "spt"});
    finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("X"), .sources = now});
    int64_t *del = NULL;
    /* keep 1: the newest succeeded, the queued one; three deleted */
    cr_assert_eq(collect(1, NULL, 0, &del), 3);
    free(del);
    char **o = NULL;
    size_t n = orphans(&o);
    cr_assert_eq(n, 2, "got %zu", n);
    const char *want[] = {hexof("Y"), old};
    if (strcmp(want[0], want[1]) > 0) {
        const char *t = want[0];
        want[0] = want[1];
        want[1] = t;
    }
    cr_assert_str_eq(o[0], want[0]);
    cr_assert_str_eq(o[1], want[1]);
    /* until taken off the list they come back */
    char **again = NULL;
    cr_assert_eq(orphans(&again), 2);
    free_strs(again, 2);
    cr_assert_eq(mg_store_gc_forget(st, o, n, &err), 0, "%s", err.msg);
    cr_assert_eq(orphans(&again), 0);
    free(again);
    free_strs(o, n);
}

Test(orphans, the_project_s_own_tree_stays)
{
    /* the deleted build's tree is still the project's: the next build
     * takes it (its snapshot keeps that name) */
    const char *tree = hexof("the project's tree");
    int64_t p = project("p", tree, NULL);
    failed(p, &(spec){.sources = tree});
    failed(p, &(spec){.sources = hexof("another tree")});
    failed(p, &(spec){.sources = hexof("another tree")});
    int64_t *del = NULL;
    cr_assert_eq(collect(1, NULL, 0, &del), 2);
    free(del);
    char **o = NULL;
    size_t n = orphans(&o);
    cr_assert_eq(n, 0, "%s", n ? o[0] : "");
    free(o);
}

Test(orphans, a_blob_named_again_leaves_the_list)
{
    int64_t p = project("p", hexof("t"), NULL);
    finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("Z")});
    finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("W")});
    int64_t *del = NULL;
    cr_assert_eq(collect(1, NULL, 0, &del), 1);
    free(del);
    /* the same image built again before its pins were dropped */
    finished(p, MG_STORED_SUCCEEDED, &(spec){.image = hexof("Z"), .target = "spt"});
    char **o = NULL;
    cr_assert_eq(orphans(&o), 0);
    free(o);
    /* and it is no longer pending */
    int64_t *none = NULL;
    size_t n = 0;
    cr_assert_eq(mg_store_gc_collect(st, 1, NULL, 0, &none, &n, NULL, &err), 0);
    free(none);
    cr_assert_eq(orphans(&o), 0);
    free(o);
}

/* ---- whole runs ------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    cr_assert_eq(mg_file_write_atomic(path, text, strlen(text), 0644), 0, "%s", path);
}

static void write_log(int64_t id, const char *text)
{
    char *dir = mg_path_join(base, "logs");
    cr_assert_eq(mg_mkdir_p(dir), 0);
    char *path = mg_xasprintf("%s/%lld.log", dir, (long long)id);
    write_file(path, text);
    free(path);
    free(dir);
}

static bool log_exists(int64_t id)
{
    char *path = mg_xasprintf("%s/logs/%lld.log", base, (long long)id);
    bool r = access(path, F_OK) == 0;
    free(path);
    return r;
}

/* git/<id>/mirror.git with a file of `bytes` bytes, and its lock file. */
static char *make_mirror(int64_t id, size_t bytes)
{
    char *dir = mg_xasprintf("%s/git/%lld", base, (long long)id);
    char *objects = mg_path_join(dir, "mirror.git/objects");
    cr_assert_eq(mg_mkdir_p(objects), 0);
    char *pack = mg_path_join(objects, "pack");
    char *text = malloc(bytes + 1);
    memset(text, 'x', bytes);
    text[bytes] = 0;
    write_file(pack, text);
    char *lock = mg_path_join(dir, "mirror.git.lock");
    write_file(lock, "");
    free(lock);
    free(text);
    free(pack);
    free(objects);
    return dir;
}

static char *blob(const char *text)
{
    char sha[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, text, strlen(text), sha, &err), 0, "%s", err.msg);
    return mg_xstrdup(sha);
}

static bool blob_stored(const char *sha)
{
    return mg_cache_blob_stat(cache, sha, NULL, NULL) == 0;
}

static int exclusive_calls;
static void exclusive(void *ctx, bool on)
{
    (void)ctx;
    exclusive_calls += on ? 1 : 100;
}

Test(run, deletes_builds_logs_pins_blobs_and_mirrors_and_counts_the_bytes)
{
    /* images: "only" is pinned by the build alone, "shared" is also an
     * action's output (a cache record names it) */
    char *only = blob("an image only a deleted build had");
    char *shared = blob("an image an action's record also names");
    char *tree = blob("{\"unikernel.c\":\"old\"}");
    const char *blobs[] = {shared};
    cr_assert_eq(mg_cache_record_put(cache, hexof("action"), "a", 1, blobs, 1, &err), 0);
    cr_assert_eq(mg_gc_pin(cache, "artifact", only, &err), 0);
    cr_assert_eq(mg_gc_pin(cache, "artifact", shared, &err), 0);
    cr_assert_eq(mg_gc_pin(cache, "sources", tree, &err), 0);

    int64_t p = project("p", hexof("tree now"), NULL);
    int64_t old1 = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = only, .sources = tree});
    int64_t old2 = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = shared});
    int64_t keep = finished(p, MG_STORED_SUCCEEDED, NULL);
    write_log(old1, "12345678");
    write_log(old2, "1234");
    write_log(keep, "kept");
    /* a project deleted behind gc's back: its log and mirror are orphans */
    int64_t gone = project("gone", hexof("t"), NULL);
    int64_t gone_build = failed(gone, NULL);
    write_log(gone_build, "123");
    char **o = NULL;
    size_t no = 0;
    cr_assert_eq(mg_store_project_delete(st, gone, &o, &no, &err), 0, "%s", err.msg);
    free_strs(o, no);
    int64_t last = failed(p, &(spec){.target = "spt"}); /* above the orphan's id */
    write_log(last, "x");
    char *gone_git = make_mirror(gone, 1000);
    /* an inline project's mirror (it was a git project once): not needed */
    char *p_git = make_mirror(p, 500);
    /* a git project's mirror stays; a project above the highest id (made
     * after the listing) too; a deleted project's mirror whose fetch
     * holds the lock stays for the next run */
    int64_t g = project("g", NULL, "https://example.invalid/g.git");
    char *g_git = make_mirror(g, 10);
    char *new_git = make_mirror(99999, 10);
    int64_t busy = project("busy", hexof("t"), NULL);
    char *busy_git = make_mirror(busy, 10);
    cr_assert_eq(mg_store_project_delete(st, busy, &o, &no, &err), 0, "%s", err.msg);
    free_strs(o, no);
    char *busy_lock = mg_path_join(busy_git, "mirror.git.lock");
    int lock_fd = open(busy_lock, O_RDWR);
    cr_assert_geq(lock_fd, 0);
    cr_assert_eq(flock(lock_fd, LOCK_EX), 0);

    exclusive_calls = 0;
    mg_gc_options opts = {
        .store = st, .cache = cache, .data_dir = base, .keep_builds = 1, .exclusive = exclusive};
    mg_gc_report r;
    cr_assert_eq(mg_gc_run(&opts, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(exclusive_calls, 101, "on once, off once");
    cr_assert_eq(r.builds_deleted, 2);
    cr_assert_eq(r.builds_kept, 2);
    cr_assert(!exists(old1) && !exists(old2) && exists(keep) && exists(last));
    cr_assert_eq(r.logs_deleted, 3, "two deleted builds' and the orphan");
    cr_assert_eq(r.log_bytes, 8 + 4 + 3);
    cr_assert(!log_exists(old1) && !log_exists(old2) && !log_exists(gone_build));
    cr_assert(log_exists(keep) && log_exists(last));
    /* the only-pinned image and the tree go; the shared image is unpinned
     * but the action's record keeps it */
    cr_assert_eq(r.blobs_deleted, 2);
    cr_assert_eq(r.blob_bytes,
                 strlen("an image only a deleted build had") + strlen("{\"unikernel.c\":\"old\"}"));
    cr_assert_eq(r.blobs_shared, 1);
    cr_assert(!blob_stored(only) && !blob_stored(tree) && blob_stored(shared));
    cr_assert_eq(r.mirrors_deleted, 2);
    cr_assert_eq(r.mirror_bytes, 1000 + 500);
    cr_assert_neq(access(gone_git, F_OK), 0);
    cr_assert_neq(access(p_git, F_OK), 0);
    cr_assert_eq(access(g_git, F_OK), 0);
    cr_assert_eq(access(new_git, F_OK), 0);
    cr_assert_eq(access(busy_git, F_OK), 0);
    cr_assert_eq(r.bytes_freed, r.log_bytes + r.blob_bytes + r.mirror_bytes);
    cr_assert_gt(r.bytes_freed, 0);
    /* nothing is left pending */
    char **left = NULL;
    cr_assert_eq(orphans(&left), 0);
    free(left);

    /* the shared image loses its action record to the cache's own gc: with
     * no pin left, it goes then */
    mg_cache_gc_result cr;
    cr_assert_eq(mg_cache_gc(cache, 0, &cr, &err), 0);
    cr_assert(!blob_stored(shared));

    /* the lock let go: the next run takes the busy mirror, and nothing else */
    close(lock_fd);
    cr_assert_eq(mg_gc_run(&opts, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.builds_deleted, 0);
    cr_assert_eq(r.logs_deleted, 0);
    cr_assert_eq(r.blobs_deleted, 0);
    cr_assert_eq(r.mirrors_deleted, 1);
    cr_assert_neq(access(busy_git, F_OK), 0);

    char line[256];
    mg_gc_report_line(&r, line, sizeof line);
    cr_assert_not_null(strstr(line, "deleted 0 builds (2 kept), 0 logs, 0 blobs, 1 mirror:"), "%s",
                       line);
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    mg_gc_report_json(&w, &r);
    cr_assert_not_null(strstr(b.data, "\"mirrors\":{\"deleted\":1,\"bytes\":10}"), "%s", b.data);
    mg_buf_free(&b);
    char *owned[] = {only, shared, tree, gone_git, p_git, g_git, new_git, busy_git, busy_lock};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free(owned[i]);
}

Test(run, a_run_stopped_after_the_rows_is_finished_by_the_next)
{
    char *img = blob("image of a build whose row went");
    cr_assert_eq(mg_gc_pin(cache, "artifact", img, &err), 0);
    int64_t p = project("p", hexof("t"), NULL);
    int64_t old = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = img});
    int64_t now = finished(p, MG_STORED_SUCCEEDED, NULL);
    write_log(old, "old log");
    /* step 1 alone, as if the process died right after its transaction */
    int64_t *del = NULL;
    cr_assert_eq(collect(1, NULL, 0, &del), 1);
    free(del);
    cr_assert(blob_stored(img) && log_exists(old));
    mg_gc_options opts = {.store = st, .cache = cache, .data_dir = base, .keep_builds = 1};
    mg_gc_report r;
    cr_assert_eq(mg_gc_run(&opts, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.builds_deleted, 0);
    cr_assert_eq(r.blobs_deleted, 1);
    cr_assert_eq(r.logs_deleted, 1);
    cr_assert(!blob_stored(img) && !log_exists(old) && exists(now));
    free(img);
}

Test(run, a_pin_kept_by_a_build_keeps_its_blob)
{
    /* the same image in a deleted build and a kept one: nothing is released */
    char *img = blob("one image, two builds");
    cr_assert_eq(mg_gc_pin(cache, "artifact", img, &err), 0);
    int64_t p = project("p", hexof("t"), NULL);
    int64_t b1 = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = img});
    int64_t b2 = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = img});
    int64_t b3 = failed(p, NULL);
    mg_gc_options opts = {.store = st, .cache = cache, .data_dir = base, .keep_builds = 1};
    mg_gc_report r;
    cr_assert_eq(mg_gc_run(&opts, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.builds_deleted, 1);
    cr_assert(!exists(b1) && exists(b2) && exists(b3));
    cr_assert_eq(r.blobs_deleted, 0);
    /* its pin stays: the cache's gc of unreferenced blobs keeps it */
    cr_assert_eq(mg_cache_gc(cache, UINT64_MAX, NULL, &err), 0);
    cr_assert(blob_stored(img));
    free(img);
}

/* A blob the queue pinned for a row the store has not taken yet (a
 * build's end it retries, mg_gc_options.in_flight): a deleted build named
 * the same bytes, but the run leaves the blob, its pin and its place on
 * the pending list alone; the next run, with nothing in flight, frees it. */
static const char *in_flight_sha;
static bool in_flight(void *ctx, const char *sha)
{
    (void)ctx;
    return in_flight_sha && !strcmp(sha, in_flight_sha);
}

Test(run, a_blob_in_flight_stays_pinned_and_pending)
{
    char *img = blob("an image a retried end will name");
    cr_assert_eq(mg_gc_pin(cache, "artifact", img, &err), 0);
    int64_t p = project("p", hexof("t"), NULL);
    int64_t old = finished(p, MG_STORED_SUCCEEDED, &(spec){.image = img});
    finished(p, MG_STORED_SUCCEEDED, NULL);
    in_flight_sha = img;
    mg_gc_options opts = {
        .store = st, .cache = cache, .data_dir = base, .keep_builds = 1, .in_flight = in_flight};
    mg_gc_report r;
    cr_assert_eq(mg_gc_run(&opts, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.builds_deleted, 1);
    cr_assert(!exists(old));
    cr_assert_eq(r.blobs_deleted, 0);
    cr_assert(blob_stored(img));
    /* still pinned: the cache's own gc keeps it */
    cr_assert_eq(mg_cache_gc(cache, UINT64_MAX, NULL, &err), 0);
    cr_assert(blob_stored(img));
    char **left = NULL;
    cr_assert_eq(orphans(&left), 1, "it stays pending");
    free_strs(left, 1);
    in_flight_sha = NULL;
    cr_assert_eq(mg_gc_run(&opts, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.blobs_deleted, 1);
    cr_assert(!blob_stored(img));
    free(img);
}
