/*
 * test_faults.c - every flow that changes state, through a SQLite I/O
 * error at every step (issue 19, item 2).
 *
 * SQLite's own way of proving that it survives I/O errors, applied to
 * mgd: the store runs over a VFS that fails the Nth read, write, sync or
 * truncation (faultvfs.h), and each flow of the service (projects,
 * configs, builds, tokens and their use, pull workers' claims and
 * finishes, the start's recovery, the stop's checkpoint) is run with
 * N = 1, 2, ... until a run
 * sees no fault, in four
 * modes: an I/O error once, a full disk once, and both for good (every
 * call from the Nth on fails). After each fault:
 *   - the call failed with a clear error whose status is a 5xx (500 for
 *     an I/O error, 507 for a full disk), or went through whole (SQLite
 *     sometimes absorbs a fault, e.g. a failed read of a page it can read
 *     again);
 *   - the database and the files agree (check_store): quick_check ok, no
 *     running build that no worker holds (once the ends the store refused
 *     are recorded), no finished build without its log row and log file,
 *     no succeeded build without its artifact, no artifact or inline
 *     snapshot without its blob and its pin, and no pin of an image or a
 *     snapshot that no row names;
 *   - with the fault gone, the flow works when asked again, and the queue
 *     goes on: a new build is queued, claimed and finished.
 * Each test prints how many fault points it went through.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/internal.h"
#include "base/alloc.h"
#include "base/fsutil.h"
#include "base/sha256.h"
#include "faultvfs.h"
#include "fixture.h"

/* ---- a flow and what it needs --------------------------------------------- */

typedef struct ctx {
    mg_project p;
    int64_t build, lease, other;
    char image[MG_SHA256_HEX_SIZE]; /* an image of unix/x86_64 (put_worker_image) */
    size_t image_size;
    int64_t token;
    char text[MG_TOKEN_TEXT_SIZE]; /* the token's text */
    int claimed;                   /* what the last claim returned: 1 a job, 0 none */
    bool faulted;                  /* the run saw a fault (and went through) */
    mg_worker_job job;
} ctx;

typedef struct flow {
    const char *name;
    void (*setup)(ctx *c);                    /* before, with no fault */
    int (*run)(ctx *c, mg_service_err *e);    /* the flow: 0, or -1 with e */
    void (*done)(ctx *c);                     /* after a run that went through */
    bool (*again)(ctx *c, mg_service_err *e); /* after a failed run: whether to run it again */
} flow;

static char toolchain[MG_SHA256_HEX_SIZE];

static void ctx_free(ctx *c)
{
    mg_project_free(&c->p);
    mg_worker_job_free(&c->job);
}

static int64_t start_build(const mg_project *p, bool force)
{
    mg_service_err e = {0};
    mg_stored_build b;
    cr_assert_eq(mg_service_build_start(&fx.svc, p, &(mg_new_build){.force = force}, &b, &e), 0,
                 "%s", e.err.msg);
    int64_t id = b.id;
    mg_stored_build_free(&b);
    return id;
}

static mg_stored_build get_build(int64_t id)
{
    mg_stored_build b;
    mg_err e;
    cr_assert_eq(mg_store_build_get(fx.store, id, false, &b, &e), 0, "%s", e.msg);
    return b;
}

static mg_stored_status status_of(int64_t id)
{
    mg_stored_build b = get_build(id);
    mg_stored_status s = b.status;
    mg_stored_build_free(&b);
    return s;
}

/* The id of the token the flows' pull worker uses (the queue binds its
 * lease to it). */
#define WORKER_TOKEN 0

/* A claim by worker "w" that waits for nothing; c->claimed says what it
 * returned, c->job holds the job. */
static int claim(ctx *c, mg_service_err *e)
{
    mg_worker_job_free(&c->job);
    cJSON *body = claim_body("w", 0, toolchain);
    int r = mg_service_worker_claim(&fx.svc, WORKER_TOKEN, body, NULL, &c->job, e);
    cJSON_Delete(body);
    c->claimed = r;
    if (r == 1) c->lease = c->job.lease;
    return r < 0 ? -1 : 0;
}

/* A finish of c->build under c->lease: succeeded with c->image, or failed. */
static int finish(ctx *c, bool ok, mg_service_err *e)
{
    char text[512];
    if (ok)
        snprintf(text, sizeof text,
                 "{\"lease\":%lld,\"status\":\"succeeded\",\"image\":{\"name\":\"web.unix\","
                 "\"sha256\":\"%s\",\"size\":%zu}}",
                 (long long)c->lease, c->image, c->image_size);
    else
        snprintf(text, sizeof text, "{\"lease\":%lld,\"status\":\"failed\",\"error\":\"it broke\"}",
                 (long long)c->lease);
    cJSON *body = cJSON_Parse(text);
    mg_stored_build out;
    bool need_image;
    int r = mg_service_worker_finish(&fx.svc, WORKER_TOKEN, c->build, body, &out, &need_image, e);
    cJSON_Delete(body);
    if (r == 0) mg_stored_build_free(&out);
    return r;
}

static void put_image(ctx *c)
{
    put_worker_image("web", c->image, &c->image_size);
}

/* A queued build of c->p, claimed by worker "w". */
static void claimed_build(ctx *c)
{
    c->build = start_build(&c->p, true);
    mg_service_err e = {0};
    cr_assert_eq(claim(c, &e), 0, "%s", e.err.msg);
    cr_assert_eq(c->claimed, 1);
    cr_assert_eq(c->job.build, c->build);
}

/* ---- the state after a fault ----------------------------------------------- */

static bool blob_intact(const char *sha)
{
    char *path = mg_cache_blob_path(fx.cache, sha);
    size_t len;
    char *data = path ? mg_file_read(path, 64u << 20, &len) : NULL;
    free(path);
    if (!data) return false;
    char got[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(data, len, got);
    free(data);
    return !strcmp(got, sha);
}

static bool pinned(const char *kind, const char *sha)
{
    char *text = mg_xasprintf("mgd %s\n%s", kind, sha);
    char key[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(text, strlen(text), key);
    free(text);
    char *data = NULL;
    size_t len;
    int r = mg_cache_record_get(fx.cache, key, &data, &len, NULL);
    free(data);
    return r == 0;
}

static sqlite3 *open_db(void)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(fx.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* Whether `sql` (one ?1 text parameter) returns a row. */
static bool has_row(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s", sqlite3_errmsg(db));
    return rc == SQLITE_ROW;
}

/* Every pin of an image or a snapshot names a blob some row still uses. */
static void check_pins(sqlite3 *db, const char *where)
{
    char *top = mg_path_join(mg_cache_path(fx.cache), "records");
    DIR *d = opendir(top);
    cr_assert_not_null(d);
    for (struct dirent *s; (s = readdir(d));) {
        if (s->d_name[0] == '.') continue;
        char *shard = mg_path_join(top, s->d_name);
        DIR *sd = opendir(shard);
        for (struct dirent *k; sd && (k = readdir(sd));) {
            if (!mg_sha256_is_hex(k->d_name)) continue;
            char *data = NULL;
            size_t len;
            if (mg_cache_record_get(fx.cache, k->d_name, &data, &len, NULL) != 0) continue;
            if (!strncmp(data, "mgd artifact\n", 13))
                cr_assert(has_row(db, "SELECT 1 FROM artifacts WHERE sha256 = ?1", data + 13),
                          "%s: image %.12s is pinned, but no build has it", where, data + 13);
            else if (!strncmp(data, "mgd sources\n", 12))
                cr_assert(has_row(db,
                                  "SELECT 1 FROM builds WHERE sources_sha256 = ?1 UNION ALL"
                                  " SELECT 1 FROM projects WHERE sources_sha256 = ?1",
                                  data + 12),
                          "%s: snapshot %.12s is pinned, but no project or build has it", where,
                          data + 12);
            free(data);
        }
        if (sd) closedir(sd);
        free(shard);
    }
    closedir(d);
    free(top);
}

/* Waits until the queue has recorded the build ends the store refused
 * while the fault lasted (its timer retries them). */
static void wait_ends_recorded(void)
{
    if (!fx.queue) return; /* the flow stopped it */
    for (int i = 0; i < 500; i++) {
        mg_queue_metrics m;
        mg_queue_metrics_get(fx.queue, &m);
        if (m.ends_pending == 0) return;
        usleep(10000);
    }
    cr_assert_fail("the queue did not record the ends of its builds within 5 s");
}

/* The database and the files agree. */
static void check_store(const char *where, bool pins)
{
    wait_ends_recorded();
    sqlite3 *db = open_db();
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok", "%s: quick_check", where);
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT b.id, b.status, b.started_at IS NOT NULL, l.size,"
                                    " p.deleting, b.sources_sha256, a.sha256"
                                    " FROM builds b JOIN projects p ON p.id = b.project_id"
                                    " LEFT JOIN logs l ON l.build_id = b.id"
                                    " LEFT JOIN artifacts a ON a.build_id = b.id",
                                    -1, &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        mg_stored_status status = (mg_stored_status)sqlite3_column_int(st, 1);
        bool started = sqlite3_column_int(st, 2) != 0;
        bool has_log_row = sqlite3_column_type(st, 3) != SQLITE_NULL;
        int64_t log_size = sqlite3_column_int64(st, 3);
        bool deleting = sqlite3_column_int(st, 4) != 0;
        const char *sources = (const char *)sqlite3_column_text(st, 5);
        const char *image = (const char *)sqlite3_column_text(st, 6);
        bool held = mg_queue_running(fx.queue, id);
        const char *name = mg_stored_status_name(status);
        if (status == MG_STORED_RUNNING)
            cr_assert(held, "%s: build %lld is running, but no worker holds it", where,
                      (long long)id);
        if (status == MG_STORED_SUCCEEDED || status == MG_STORED_FAILED)
            cr_assert(has_log_row, "%s: build %lld (%s) has no log row", where, (long long)id,
                      name);
        if (mg_stored_status_terminal(status) && started && !held && !deleting) {
            char *path = mg_queue_log_path(fx.queue, id);
            struct stat sb;
            cr_assert_eq(stat(path, &sb), 0, "%s: build %lld (%s) has no log file", where,
                         (long long)id, name);
            cr_assert(has_log_row, "%s: build %lld (%s) has no log row", where, (long long)id,
                      name);
            cr_assert_eq(log_size, (int64_t)sb.st_size,
                         "%s: build %lld (%s): its log row says %lld bytes, the file has %lld",
                         where, (long long)id, name, (long long)log_size, (long long)sb.st_size);
            free(path);
        }
        if (status == MG_STORED_SUCCEEDED) {
            cr_assert_not_null(image, "%s: succeeded build %lld has no artifact", where,
                               (long long)id);
            cr_assert(blob_intact(image), "%s: the image of build %lld is not stored", where,
                      (long long)id);
            cr_assert(pinned("artifact", image), "%s: the image of build %lld is not pinned", where,
                      (long long)id);
        }
        if (sources && !deleting) {
            cr_assert(blob_intact(sources), "%s: the sources of build %lld are not stored", where,
                      (long long)id);
            cr_assert(pinned("sources", sources), "%s: the sources of build %lld are not pinned",
                      where, (long long)id);
        }
    }
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT build_id, sha256 FROM artifacts", -1, &st, NULL),
                 SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        cr_assert(blob_intact((const char *)sqlite3_column_text(st, 1)),
                  "%s: the artifact of build %lld has no blob", where,
                  (long long)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    if (pins) check_pins(db, where);
    sqlite3_close(db);
}

/* The queue goes on: a new build is queued, claimed and finished (builds
 * the flow left queued are claimed and failed on the way). */
static void queue_goes_on(const char *where)
{
    mg_project p = make_project("next", NULL);
    ctx c = {0};
    int64_t id = start_build(&p, true);
    bool took = false;
    for (int i = 0; i < 10 && !took; i++) {
        mg_service_err e = {0};
        cr_assert_eq(claim(&c, &e), 0, "%s: claim: %s", where, e.err.msg);
        cr_assert_eq(c.claimed, 1, "%s: build %lld stays queued", where, (long long)id);
        c.build = c.job.build;
        took = c.build == id;
        cr_assert_eq(finish(&c, false, &e), 0, "%s: finish: %s", where, e.err.msg);
    }
    cr_assert(took, "%s: build %lld was never claimed", where, (long long)id);
    cr_assert_eq(status_of(id), MG_STORED_FAILED);
    ctx_free(&c);
    mg_project_free(&p);
}

/* ---- driving a flow through every fault point ------------------------------ */

static const struct {
    const char *name;
    bool persistent;
    fault_kind kind;
} modes[] = {
    {"an I/O error", false, FAULT_IOERR},
    {"a full disk", false, FAULT_FULL},
    {"I/O errors from then on", true, FAULT_IOERR},
    {"a full disk from then on", true, FAULT_FULL},
};

/* The cache's records as the first fixture left them: the toolchain
 * identity's memo, so that each fixture need not hash the compilers. */
static char seed[64];

/* Copies the files of records/<shard>/ from one cache directory to another. */
static void copy_records(const char *from, const char *to)
{
    char *top = mg_path_join(from, "records");
    DIR *d = opendir(top);
    cr_assert_not_null(d, "%s", top);
    for (struct dirent *s; (s = readdir(d));) {
        if (s->d_name[0] == '.') continue;
        char *shard = mg_path_join(top, s->d_name);
        char *dest = mg_xasprintf("%s/records/%s", to, s->d_name);
        cr_assert_eq(mg_mkdir_p(dest), 0);
        DIR *sd = opendir(shard);
        for (struct dirent *k; sd && (k = readdir(sd));) {
            if (k->d_name[0] == '.') continue;
            char *src = mg_path_join(shard, k->d_name), *dst = mg_path_join(dest, k->d_name);
            size_t len;
            char *data = mg_file_read(src, 1 << 20, &len);
            cr_assert_not_null(data, "%s", src);
            cr_assert_eq(mg_file_write_atomic(dst, data, len, 0644), 0);
            free(data);
            free(src);
            free(dst);
        }
        if (sd) closedir(sd);
        free(shard);
        free(dest);
    }
    closedir(d);
    free(top);
}

static void setup(void)
{
    fixture_setup();
    copy_records(seed, mg_cache_path(fx.cache));
}

static void setup_once(void)
{
    cr_assert_eq(faultvfs_install(), SQLITE_OK);
    /* some thousand fixtures: in memory when the system has room for
     * them, so that the disk's journal does not set the pace */
    if (access("/dev/shm", W_OK) == 0) fixture_base = "/dev/shm";
    snprintf(seed, sizeof seed, "%s/mgd-faults-seed-XXXXXX", fixture_base);
    fixture_setup();
    own_identity(toolchain);
    cr_assert_not_null(mkdtemp(seed));
    copy_records(mg_cache_path(fx.cache), seed);
    fixture_teardown();
    fx.queue = NULL;
}

static void drive(const flow *f)
{
    setup_once();
    unsigned points = 0, failed = 0, absorbed = 0;
    char counts[256] = "";
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        unsigned n;
        for (n = 1;; n++) {
            cr_assert_lt(n, 5000, "%s: no end to the fault points", f->name);
            char where[200];
            snprintf(where, sizeof where, "%s, %s at call %u", f->name, modes[m].name, n);
            setup();
            ctx c = {0};
            if (f->setup) f->setup(&c);
            mg_service_err e = {0};
            faultvfs_arm(n, modes[m].persistent, modes[m].kind);
            int rc = f->run(&c, &e);
            unsigned fired = faultvfs_disarm();
            if (!fired) {
                cr_assert_eq(rc, 0, "%s: %s", where, e.err.msg);
                wait_ends_recorded();
                if (f->done) f->done(&c);
                check_store(where, true);
                mg_service_err_free(&e);
                ctx_free(&c);
                fixture_teardown();
                fx.queue = NULL;
                break;
            }
            points++;
            if (rc != 0) {
                failed++;
                mg_err_code want = modes[m].kind == FAULT_FULL ? MG_E_NOSPACE : MG_E_IO;
                cr_assert_eq(e.err.code, want, "%s: code %d, not %d: %s", where, e.err.code, want,
                             e.err.msg);
                cr_assert(strstr(e.err.msg, "database"), "%s: an unclear error: %s", where,
                          e.err.msg);
                unsigned status = mg_http_status_of(&e);
                cr_assert(status == 500 || status == 507, "%s: answered %u", where, status);
            } else {
                absorbed++;
                c.faulted = true;
                wait_ends_recorded();
                if (f->done) f->done(&c);
            }
            /* right after the fault, but for the pins: a flow whose store
             * failed for good may keep a pin it could not check (never a
             * blob lost), and the retry below names it */
            check_store(where, !modes[m].persistent);
            bool retry = rc != 0 && (!f->again || f->again(&c, &e));
            mg_service_err_free(&e);
            if (retry) {
                cr_assert_eq(f->run(&c, &e), 0, "%s: the flow fails again without a fault: %s",
                             where, e.err.msg);
                wait_ends_recorded();
                if (f->done) f->done(&c);
            }
            mg_service_err_free(&e);
            check_store(where, true);
            queue_goes_on(where);
            check_store(where, true);
            ctx_free(&c);
            fixture_teardown();
            fx.queue = NULL;
        }
        char part[64];
        snprintf(part, sizeof part, "%s%u", m ? "/" : "", n - 1);
        strcat(counts, part);
    }
    mg_rm_rf(seed);
    seed[0] = 0;
    fault_stats s;
    faultvfs_stats(&s);
    printf("faults: %-34s %4u points (%s), %u failed cleanly, %u went through; calls counted: "
           "%lu reads, %lu writes, %lu syncs, %lu truncations\n",
           f->name, points, counts, failed, absorbed, s.reads, s.writes, s.syncs, s.truncates);
    fflush(stdout);
}

/* After a test, even one that failed half-way through a fault point: its
 * fixture and the seed go. */
static void faults_fini(void)
{
    faultvfs_disarm();
    if (fx.queue) fixture_teardown();
    memset(&fx, 0, sizeof fx);
    if (seed[0]) mg_rm_rf(seed);
    seed[0] = 0;
}

TestSuite(faults, .fini = faults_fini);

/* ---- projects --------------------------------------------------------------- */

static int create_inline(ctx *c, mg_service_err *e)
{
    cJSON *config = printer_config("web"), *sources = printer_sources();
    mg_project_spec spec = {.name = "web", .config = config, .sources = sources};
    mg_project_free(&c->p);
    int r = mg_service_project_create(&fx.svc, &spec, &c->p, e);
    cJSON_Delete(config);
    cJSON_Delete(sources);
    return r;
}

static int create_git(ctx *c, mg_service_err *e)
{
    cJSON *config = printer_config("web");
    cJSON *repo = cJSON_Parse("{\"url\": \"https://example.org/web.git\", \"ref\": \"main\"}");
    mg_project_spec spec = {.name = "web", .config = config, .repo = repo};
    mg_project_free(&c->p);
    int r = mg_service_project_create(&fx.svc, &spec, &c->p, e);
    cJSON_Delete(config);
    cJSON_Delete(repo);
    return r;
}

static void created(ctx *c)
{
    (void)c;
    mg_project p;
    mg_service_err e = {0};
    cr_assert_eq(mg_service_project_find(&fx.svc, "web", &p, &e), 0, "%s", e.err.msg);
    cr_assert_eq(p.config_version, 1);
    mg_project_free(&p);
}

static void inline_project(ctx *c)
{
    c->p = make_project("web", NULL);
}

static void git_project(ctx *c)
{
    c->p = make_project("web", "https://example.org/web.git");
}

static int patch_sources(ctx *c, mg_service_err *e)
{
    cJSON *tree = cJSON_Parse("{\"unikernel.c\": \"int app_start(void *c) { return 1; }\\n\"}");
    mg_project out;
    int r = mg_service_project_patch(&fx.svc, &c->p, NULL, tree, &out, e);
    cJSON_Delete(tree);
    if (r == 0) mg_project_free(&out);
    return r;
}

static void patched_sources(ctx *c)
{
    mg_project p;
    mg_err e;
    cr_assert_eq(mg_store_project_get_id(fx.store, c->p.id, &p, &e), 0, "%s", e.msg);
    cr_assert_str_neq(p.sources_sha256, c->p.sources_sha256);
    mg_project_free(&p);
}

static int patch_repo(ctx *c, mg_service_err *e)
{
    cJSON *repo = cJSON_Parse("{\"ref\": \"v2\"}");
    mg_project out;
    int r = mg_service_project_patch(&fx.svc, &c->p, repo, NULL, &out, e);
    cJSON_Delete(repo);
    if (r == 0) mg_project_free(&out);
    return r;
}

static void patched_repo(ctx *c)
{
    mg_project p;
    mg_err e;
    cr_assert_eq(mg_store_project_get_id(fx.store, c->p.id, &p, &e), 0, "%s", e.msg);
    cr_assert_str_eq(p.repo_ref, "v2");
    mg_project_free(&p);
}

/* A project with a build of each kind: succeeded (its image pinned),
 * failed, cancelled while queued, and queued. */
static void project_with_builds(ctx *c)
{
    c->p = make_project("web", NULL);
    put_image(c);
    mg_service_err e = {0};
    claimed_build(c);
    cr_assert_eq(finish(c, true, &e), 0, "%s", e.err.msg);
    claimed_build(c);
    cr_assert_eq(finish(c, false, &e), 0, "%s", e.err.msg);
    int64_t cancelled = start_build(&c->p, true);
    mg_stored_build b;
    cr_assert_eq(mg_service_build_cancel(&fx.svc, cancelled, &b, &e), 0, "%s", e.err.msg);
    mg_stored_build_free(&b);
    c->other = start_build(&c->p, true);
}

static int delete_project(ctx *c, mg_service_err *e)
{
    return mg_service_project_delete(&fx.svc, &c->p, e);
}

static void deleted(ctx *c)
{
    mg_project p;
    mg_err e;
    cr_assert_eq(mg_store_project_get_id(fx.store, c->p.id, &p, &e), -1);
    cr_assert_eq(e.code, MG_E_NOT_FOUND, "%s", e.msg);
    cr_assert(!pinned("artifact", c->image), "the deleted project's image is still pinned");
}

Test(faults, project_create_inline, .timeout = 1800)
{
    drive(&(flow){"project create (inline)", NULL, create_inline, created, NULL});
}

Test(faults, project_create_git, .timeout = 1800)
{
    drive(&(flow){"project create (git)", NULL, create_git, created, NULL});
}

Test(faults, project_patch_sources, .timeout = 1800)
{
    drive(&(flow){"project patch (sources)", inline_project, patch_sources, patched_sources, NULL});
}

Test(faults, project_patch_repo, .timeout = 1800)
{
    drive(&(flow){"project patch (repo)", git_project, patch_repo, patched_repo, NULL});
}

Test(faults, project_delete, .timeout = 1800)
{
    drive(&(flow){"project delete", project_with_builds, delete_project, deleted, NULL});
}

/* ---- config versions ------------------------------------------------------- */

static int put_config(ctx *c, mg_service_err *e)
{
    cJSON *config = printer_config("web2");
    char *text = cJSON_PrintUnformatted(config);
    mg_config_put_result out;
    int r = mg_service_config_put(&fx.svc, &c->p, text, strlen(text), &out, e);
    cJSON_free(text);
    cJSON_Delete(config);
    return r;
}

static void config_put(ctx *c)
{
    mg_config_version v;
    mg_err e;
    cr_assert_eq(mg_store_config_get(fx.store, c->p.id, 0, &v, &e), 0, "%s", e.msg);
    cr_assert_eq(v.version, 2);
    mg_config_version_free(&v);
}

Test(faults, config_put, .timeout = 1800)
{
    drive(&(flow){"config version", inline_project, put_config, config_put, NULL});
}

/* ---- builds ------------------------------------------------------------------ */

static int build_start(ctx *c, mg_service_err *e)
{
    mg_stored_build b;
    int r = mg_service_build_start(&fx.svc, &c->p, &(mg_new_build){.force = true}, &b, e);
    if (r == 0) {
        c->build = b.id;
        mg_stored_build_free(&b);
    }
    return r;
}

static void build_started(ctx *c)
{
    cr_assert_eq(status_of(c->build), MG_STORED_QUEUED);
}

static void queued_build(ctx *c)
{
    c->p = make_project("web", NULL);
    c->build = start_build(&c->p, true);
}

static int build_cancel(ctx *c, mg_service_err *e)
{
    mg_stored_build b;
    int r = mg_service_build_cancel(&fx.svc, c->build, &b, e);
    if (r == 0) mg_stored_build_free(&b);
    return r;
}

static void build_cancelled(ctx *c)
{
    cr_assert_eq(status_of(c->build), MG_STORED_CANCELLED);
}

/* A cancel that failed after the store took it (reading the build back
 * failed) has nothing left to do: asked again, it would be a conflict. */
static bool cancel_again(ctx *c, mg_service_err *e)
{
    (void)e;
    return !mg_stored_status_terminal(status_of(c->build));
}

/* A build that ran on a worker and failed, so it can be rebuilt. */
static void failed_build(ctx *c)
{
    c->p = make_project("web", NULL);
    claimed_build(c);
    mg_service_err e = {0};
    cr_assert_eq(finish(c, false, &e), 0, "%s", e.err.msg);
}

static int build_rebuild(ctx *c, mg_service_err *e)
{
    mg_stored_build b = get_build(c->build), out;
    int r = mg_service_build_rebuild(&fx.svc, &b, &out, e);
    mg_stored_build_free(&b);
    if (r == 0) {
        c->other = out.id;
        mg_stored_build_free(&out);
    }
    return r;
}

static void rebuilt(ctx *c)
{
    mg_stored_build b = get_build(c->other);
    cr_assert_eq(b.status, MG_STORED_QUEUED);
    cr_assert_eq(b.rebuild_of, c->build);
    mg_stored_build_free(&b);
}

/* A build that runs on a worker now. */
static void running_build(ctx *c)
{
    c->p = make_project("web", NULL);
    claimed_build(c);
}

Test(faults, build_start, .timeout = 1800)
{
    drive(&(flow){"build start", inline_project, build_start, build_started, NULL});
}

Test(faults, build_cancel_queued, .timeout = 1800)
{
    drive(&(flow){"build cancel (queued)", queued_build, build_cancel, build_cancelled,
                  cancel_again});
}

Test(faults, build_cancel_running, .timeout = 1800)
{
    drive(&(flow){"build cancel (running)", running_build, build_cancel, build_cancelled,
                  cancel_again});
}

Test(faults, build_rebuild, .timeout = 1800)
{
    drive(&(flow){"build rebuild", failed_build, build_rebuild, rebuilt, NULL});
}

/* ---- tokens ------------------------------------------------------------------ */

static int token_create(ctx *c, mg_service_err *e)
{
    mg_token_row row;
    char text[MG_TOKEN_TEXT_SIZE];
    int r = mg_service_token_create(&fx.svc, "ci", "write", &row, text, e);
    if (r == 0) {
        memcpy(c->text, text, sizeof text);
        c->token = row.id;
        mg_token_row_free(&row);
    }
    return r;
}

static void token_created(ctx *c)
{
    mg_token_row *rows;
    size_t n;
    mg_err e;
    cr_assert_eq(mg_store_token_list(fx.store, &rows, &n, &e), 0, "%s", e.msg);
    bool found = false;
    for (size_t i = 0; i < n; i++) found |= rows[i].id == c->token;
    mg_token_rows_free(rows, n);
    cr_assert(found, "token %lld is not stored", (long long)c->token);
}

static void a_token(ctx *c)
{
    mg_service_err e = {0};
    cr_assert_eq(token_create(c, &e), 0, "%s", e.err.msg);
}

static int token_revoke(ctx *c, mg_service_err *e)
{
    return mg_service_token_revoke(&fx.svc, c->token, e);
}

static void token_revoked(ctx *c)
{
    mg_token_row *rows;
    size_t n;
    mg_err e;
    cr_assert_eq(mg_store_token_list(fx.store, &rows, &n, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        cr_assert_neq(rows[i].id, c->token, "token %lld is still valid", (long long)c->token);
    mg_token_rows_free(rows, n);
}

/* A request with the token: its scope is read, and its last use written
 * (at most once a minute), which may fail without refusing the token. */
static int token_use(ctx *c, mg_service_err *e)
{
    char hash[MG_SHA256_HEX_SIZE];
    mg_token_hash(c->text, hash);
    int64_t id = 0;
    mg_scope scope = mg_store_token_check(fx.store, hash, &id);
    if (scope != MG_SCOPE_WRITE || id != c->token)
        return mg_err_set(&e->err, MG_E_INTERNAL, "token %lld has scope %s", (long long)c->token,
                          mg_scope_name(scope));
    return 0;
}

Test(faults, token_use, .timeout = 1800)
{
    drive(&(flow){"token use", a_token, token_use, NULL, NULL});
}

Test(faults, token_create, .timeout = 1800)
{
    drive(&(flow){"token create", NULL, token_create, token_created, NULL});
}

Test(faults, token_revoke, .timeout = 1800)
{
    drive(&(flow){"token revoke", a_token, token_revoke, token_revoked, NULL});
}

/* ---- pull workers' claims and finishes --------------------------------------- */

static void claimed(ctx *c)
{
    /* the claim took the build, or ended it (its row says why) */
    mg_stored_build b = get_build(c->build);
    if (c->claimed == 1) {
        cr_assert_eq(c->job.build, c->build);
        cr_assert_eq(b.status, MG_STORED_RUNNING);
    } else {
        cr_assert_eq(b.status, MG_STORED_FAILED, "the claim neither took build %lld nor ended it",
                     (long long)c->build);
        cr_assert_not_null(b.error);
    }
    mg_stored_build_free(&b);
}

/* After a failed claim: the build is still queued (the claim failed before
 * taking it: claim again) or has ended (nothing left to claim). */
static bool claim_again(ctx *c, mg_service_err *e)
{
    (void)e;
    return status_of(c->build) == MG_STORED_QUEUED;
}

/* A queued build whose inline snapshot is stored and pinned but is no
 * tree: the claim cannot prepare it and fails it. */
static void build_with_bad_sources(ctx *c)
{
    c->p = make_project("web", NULL);
    static const char junk[] = "not a tree";
    char sha[MG_SHA256_HEX_SIZE], key[MG_SHA256_HEX_SIZE];
    mg_err e;
    cr_assert_eq(mg_cache_blob_put_bytes(fx.cache, junk, sizeof junk - 1, sha, &e), 0, "%s", e.msg);
    char *text = mg_xasprintf("mgd sources\n%s", sha);
    mg_sha256_bytes_hex(text, strlen(text), key);
    const char *blobs[] = {sha};
    cr_assert_eq(mg_cache_record_put(fx.cache, key, text, strlen(text), blobs, 1, &e), 0, "%s",
                 e.msg);
    free(text);
    mg_stored_build row = {.project_id = c->p.id,
                           .target = "unix",
                           .arch = "x86_64",
                           .keys = "{}",
                           .config_version = 1,
                           .sources_sha256 = sha,
                           .force = true};
    c->build = mg_store_build_create(fx.store, &row, 0, &e);
    cr_assert_gt(c->build, 0, "%s", e.msg);
}

static void ended_in_claim(ctx *c)
{
    cr_assert_eq(c->claimed, 0, "the claim handed out a build it could not prepare");
    mg_stored_build b = get_build(c->build);
    cr_assert_eq(b.status, MG_STORED_FAILED);
    cr_assert_not_null(b.error);
    mg_stored_build_free(&b);
}

/* A build that succeeded on a worker, and a second one with the same
 * inputs, queued (not forced): a claim finishes it as a reuse. */
static void reusable_build(ctx *c)
{
    c->p = make_project("web", NULL);
    put_image(c);
    claimed_build(c);
    mg_service_err e = {0};
    cr_assert_eq(finish(c, true, &e), 0, "%s", e.err.msg);
    c->other = c->build;
    c->build = start_build(&c->p, false);
}

static void reused(ctx *c)
{
    /* a store that fails while the claim looks for an earlier build costs
     * a build, not the build: it is handed out */
    if (c->claimed == 1 && c->faulted) {
        claimed(c);
        return;
    }
    cr_assert_eq(c->claimed, 0, "a reused build was handed out");
    mg_stored_build b = get_build(c->build);
    cr_assert_eq(b.status, MG_STORED_SUCCEEDED, "%s", b.error ? b.error : "");
    cr_assert_eq(b.reused_from, c->other);
    mg_stored_build_free(&b);
}

static int finish_ok(ctx *c, mg_service_err *e)
{
    return finish(c, true, e);
}

static int finish_failed(ctx *c, mg_service_err *e)
{
    return finish(c, false, e);
}

static void running_build_with_image(ctx *c)
{
    running_build(c);
    put_image(c);
}

static void finished_ok(ctx *c)
{
    mg_stored_build b = get_build(c->build);
    cr_assert_eq(b.status, MG_STORED_SUCCEEDED);
    cr_assert_str_eq(b.image_sha256, c->image);
    mg_stored_build_free(&b);
}

static void finished_failed(ctx *c)
{
    cr_assert_eq(status_of(c->build), MG_STORED_FAILED);
}

static int recover(ctx *c, mg_service_err *e)
{
    (void)c;
    int64_t interrupted, requeued;
    return mg_store_recover(fx.store, &interrupted, &requeued, &e->err);
}

/* A daemon that stopped with a build running and one queued: the next
 * start marks the first interrupted. (The queue of this test still holds
 * the build, as the dead daemon's would have.) */
static void recovered(ctx *c)
{
    cr_assert_eq(status_of(c->build), MG_STORED_INTERRUPTED);
    cr_assert_eq(status_of(c->other), MG_STORED_QUEUED);
}

static void before_recovery(ctx *c)
{
    running_build(c);
    c->other = start_build(&c->p, true);
}

/* A daemon that stops: the queue, then the store, whose last connection
 * checkpoints the WAL into the database file on the way out (its syncs
 * and its truncation are the only ones of these flows). A checkpoint that
 * fails leaves the WAL for the next start, which must find everything. */
static int stop_daemon(ctx *c, mg_service_err *e)
{
    (void)c;
    (void)e;
    mg_queue_stop(fx.queue);
    fx.queue = NULL;
    mg_store_close(fx.store);
    fx.store = NULL;
    return 0;
}

static void started_again(ctx *c)
{
    fixture_reopen();
    mg_stored_build b = get_build(c->build);
    cr_assert_eq(b.status, MG_STORED_SUCCEEDED, "the next start lost the build's end");
    cr_assert_str_eq(b.image_sha256, c->image);
    mg_stored_build_free(&b);
    cr_assert_eq(status_of(c->other), MG_STORED_QUEUED);
}

/* A build that succeeded, one queued. */
static void before_stop(ctx *c)
{
    running_build_with_image(c);
    mg_service_err e = {0};
    cr_assert_eq(finish(c, true, &e), 0, "%s", e.err.msg);
    c->other = start_build(&c->p, true);
}

Test(faults, daemon_stop, .timeout = 1800)
{
    drive(&(flow){"daemon stop (checkpoint)", before_stop, stop_daemon, started_again, NULL});
}

Test(faults, worker_claim, .timeout = 1800)
{
    drive(&(flow){"worker claim", queued_build, claim, claimed, claim_again});
}

Test(faults, worker_claim_bad_sources, .timeout = 1800)
{
    drive(&(flow){"worker claim (bad sources)", build_with_bad_sources, claim, ended_in_claim,
                  claim_again});
}

Test(faults, worker_claim_reuses, .timeout = 1800)
{
    drive(&(flow){"worker claim (reuse)", reusable_build, claim, reused, claim_again});
}

Test(faults, worker_finish_succeeded, .timeout = 1800)
{
    drive(&(flow){"worker finish (succeeded)", running_build_with_image, finish_ok, finished_ok,
                  NULL});
}

Test(faults, worker_finish_failed, .timeout = 1800)
{
    drive(&(flow){"worker finish (failed)", running_build, finish_failed, finished_failed, NULL});
}

Test(faults, recovery_at_start, .timeout = 1800)
{
    drive(&(flow){"recovery at start", before_recovery, recover, recovered, NULL});
}
