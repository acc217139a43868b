/*
 * daemon/store.h: the SQLite store against its contract. Opening (schema,
 * application_id and user_version, idempotent reopen, refusal of other
 * programs' databases, of newer schemas and of damaged files), projects,
 * config versions, builds and the queue (claim, finish, cancel, filters,
 * reuse, siblings, recovery), and concurrent claims from several threads,
 * each with its own connection. Every test gets a fresh data directory.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/store.h"
#include "base/fsutil.h"
#include "base/sha256.h"

#define MGD_APP_ID 0x6d676431 /* 'mgd1': what store.h promises to set */

static char base[64];
static char dbpath[128];
static mg_store *st;
static mg_err err;

/* What a store call that returned `r` reported: MG_OK for success (0 or
 * an id), the code it left in `err` for -1 (base/err.h), and -100 for
 * any other value, which the store never returns. */
static int code_of(int64_t r)
{
    if (r == -1) return (int)err.code;
    return r >= 0 ? MG_OK : -100;
}

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/mgd-store-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(dbpath, sizeof dbpath, "%s/mgd.sqlite3", base);
    mg_err_clear(&err);
    st = mg_store_open(dbpath, true, &err);
    cr_assert_not_null(st, "open: %s", err.msg);
}

static void teardown(void)
{
    mg_store_close(st);
    st = NULL;
    mg_rm_rf(base);
}

/* ---- helpers ------------------------------------------------------------- */

/* A 64-digit hex name derived from `text`: stands for an image or a hash. */
static const char *hexof(const char *text)
{
    static char bufs[8][65];
    static int next;
    char *b = bufs[next++ % 8];
    mg_sha256_bytes_hex(text, strlen(text), b);
    return b;
}

static int64_t pragma(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "?");
    sqlite3_close(db);
}

/* An inline project with a first config version {"name": NAME}. */
static int64_t new_project(const char *name)
{
    char doc[128];
    snprintf(doc, sizeof doc, "{\"name\":\"%s\"}", name);
    mg_project p = {
        .name = (char *)name,
        .sources = "{\"files\":{}}",
        .sources_sha256 = (char *)hexof("{\"files\":{}}"),
        .sources_files = 1,
        .sources_bytes = 2,
    };
    int64_t id = mg_store_project_create(st, &p, doc, hexof(doc), &err);
    cr_assert_gt(id, 0, "project_create %s: %s", name, err.msg);
    return id;
}

static int64_t new_build(int64_t project_id, const char *target)
{
    mg_stored_build b = {.project_id = project_id,
                         .target = (char *)target,
                         .arch = "x86_64",
                         .keys = "{\"a\":\"1\"}",
                         .config_version = 1};
    int64_t id = mg_store_build_create(st, &b, 0, &err);
    cr_assert_gt(id, 0, "build_create: %s", err.msg);
    return id;
}

static int64_t claim(void)
{
    int64_t id = mg_store_build_claim(st, &err);
    cr_assert_geq(id, 0, "claim: %s", err.msg);
    return id;
}

static mg_stored_status status_of(int64_t id)
{
    mg_stored_build b;
    cr_assert_eq(mg_store_build_get(st, id, false, &b, &err), 0, "get %lld: %s", (long long)id,
                 err.msg);
    mg_stored_status s = b.status;
    mg_stored_build_free(&b);
    return s;
}

/* A build taken through the queue to `status` (no other build may be
 * queued): input hash `hash`, image `image` (a name hashed into a sha256)
 * when succeeded, reused_from `reused`. */
static int64_t finished_build(int64_t project_id, const char *target, mg_stored_status status,
                              const char *hash, const char *image, int64_t reused)
{
    int64_t id = new_build(project_id, target);
    cr_assert_eq(claim(), id, "another build was queued");
    if (hash)
        cr_assert_eq(mg_store_build_set_inputs(st, id, NULL, hash, NULL, NULL, &err), 0, "%s",
                     err.msg);
    mg_stored_build f = {.id = id, .status = status, .reused_from = reused};
    if (status == MG_STORED_SUCCEEDED && image) {
        f.image_name = "app.img";
        f.image_sha256 = (char *)hexof(image);
        f.image_size = 4096;
    }
    if (status == MG_STORED_FAILED) f.error = "compile error";
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "finish: %s", err.msg);
    return id;
}

/* ---- open, schema, migrations ------------------------------------------- */

TestSuite(open, .init = setup, .fini = teardown, .timeout = 60);

Test(open, creates_the_schema_with_application_id_and_user_version)
{
    struct stat sb;
    cr_assert_eq(stat(dbpath, &sb), 0, "the database file was not created");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(pragma(db, "PRAGMA application_id"), MGD_APP_ID);
    cr_assert_geq(pragma(db, "PRAGMA user_version"), 1);
    static const char *const tables[] = {"projects", "config_versions", "builds", "artifacts",
                                         "logs",     "tokens"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char q[160];
        snprintf(q, sizeof q,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        cr_assert_eq(pragma(db, q), 1, "table %s missing", tables[i]);
    }
    sqlite3_close(db);
}

Test(open, uses_write_ahead_logging)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

Test(open, reopen_keeps_data_and_version)
{
    int64_t pid = new_project("keep");
    int64_t bid = new_build(pid, "hello");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    int64_t version = pragma(db, "PRAGMA user_version");
    sqlite3_close(db);

    for (int i = 0; i < 3; i++) {
        mg_store_close(st);
        st = mg_store_open(dbpath, i % 2 == 0, &err);
        cr_assert_not_null(st, "reopen %d: %s", i, err.msg);
    }
    mg_project p;
    cr_assert_eq(mg_store_project_get(st, "keep", &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.id, pid);
    mg_project_free(&p);
    cr_assert_eq(status_of(bid), MG_STORED_QUEUED);

    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(pragma(db, "PRAGMA user_version"), version);
    cr_assert_eq(pragma(db, "PRAGMA application_id"), MGD_APP_ID);
    sqlite3_close(db);
}

Test(open, empty_file_becomes_a_store)
{
    char path[160];
    snprintf(path, sizeof path, "%s/empty.sqlite3", base);
    cr_assert_eq(mg_file_write_atomic(path, "", 0, 0600), 0);
    mg_store *s = mg_store_open(path, true, &err);
    cr_assert_not_null(s, "%s", err.msg);
    mg_store_close(s);
}

Test(open, refuses_a_database_of_another_program)
{
    char path[160];
    snprintf(path, sizeof path, "%s/other.sqlite3", base);
    sql_exec(path, "PRAGMA application_id = 1234;"
                   " CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);"
                   " INSERT INTO notes (text) VALUES ('mine');");
    mg_err_clear(&err);
    mg_store *s = mg_store_open(path, true, &err);
    cr_assert_null(s);
    cr_assert_not_null(strstr(err.msg, "does not belong to mgd"), "message: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, "1234"), "message: %s", err.msg);

    /* and left it as it was: no migration ran on it */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(pragma(db, "PRAGMA application_id"), 1234);
    cr_assert_eq(pragma(db, "PRAGMA user_version"), 0);
    cr_assert_eq(pragma(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'projects'"), 0);
    cr_assert_eq(pragma(db, "SELECT count(*) FROM notes"), 1);
    sqlite3_close(db);
}

Test(open, refuses_tables_without_an_application_id)
{
    char path[160];
    snprintf(path, sizeof path, "%s/plain.sqlite3", base);
    sql_exec(path, "CREATE TABLE t (x);");
    mg_err_clear(&err);
    cr_assert_null(mg_store_open(path, false, &err));
    cr_assert_not_null(strstr(err.msg, "does not belong to mgd"), "message: %s", err.msg);
}

/* The schema as version 3 left it (migrations 1 to 3 of store.c, frozen
 * here: a database written by an mgd of then looks like this), with
 * tokens (one revoked, the highest id deleted so that AUTOINCREMENT's
 * counter is past every row) and builds. */
static const char schema_v3[] =
    "PRAGMA application_id = 1835492401;"
    "CREATE TABLE projects (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    " repo_url TEXT, repo_ref TEXT, sources TEXT, sources_sha256 TEXT,"
    " sources_files INTEGER NOT NULL DEFAULT 0, sources_bytes INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " CHECK ((repo_url IS NULL) != (sources IS NULL)));"
    "CREATE TABLE config_versions (project_id INTEGER NOT NULL REFERENCES projects(id)"
    " ON DELETE CASCADE, version INTEGER NOT NULL, document TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (project_id, version)) WITHOUT ROWID;"
    "CREATE TABLE builds (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    " status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 5),"
    " target TEXT NOT NULL, arch TEXT NOT NULL, keys TEXT NOT NULL,"
    " config_version INTEGER NOT NULL, ref TEXT, commit_sha TEXT, sources_sha256 TEXT,"
    " input_hash TEXT, force INTEGER NOT NULL DEFAULT 0,"
    " rebuild_of INTEGER REFERENCES builds(id) ON DELETE SET NULL,"
    " reused_from INTEGER REFERENCES builds(id) ON DELETE SET NULL,"
    " created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,"
    " duration_ms INTEGER, actions INTEGER NOT NULL DEFAULT 0,"
    " hits INTEGER NOT NULL DEFAULT 0, misses INTEGER NOT NULL DEFAULT 0,"
    " error TEXT, describe TEXT, FOREIGN KEY (project_id, config_version)"
    " REFERENCES config_versions(project_id, version) ON DELETE CASCADE);"
    "CREATE INDEX builds_by_status ON builds(status, id);"
    "CREATE TABLE artifacts (build_id INTEGER PRIMARY KEY REFERENCES builds(id)"
    " ON DELETE CASCADE, name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL);"
    "CREATE TABLE logs (build_id INTEGER PRIMARY KEY REFERENCES builds(id) ON DELETE CASCADE,"
    " size INTEGER NOT NULL);"
    "CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    " scope INTEGER NOT NULL CHECK (scope BETWEEN 1 AND 3), hash TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER);"
    "ALTER TABLE projects ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_hits INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_misses INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_errors INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_bytes_down INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_bytes_up INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 3;";

Test(open, migrates_a_version_3_database)
{
    char path[160];
    snprintf(path, sizeof path, "%s/v3.sqlite3", base);
    sql_exec(path, schema_v3);
    char fill[2048];
    snprintf(fill, sizeof fill,
             "INSERT INTO projects (id, name, sources, sources_sha256, created_at, updated_at)"
             " VALUES (7, 'old', '{}', '%s', 1, 1);"
             "INSERT INTO config_versions VALUES (7, 1, '{\"name\":\"old\"}', '%s', 1);"
             "INSERT INTO builds (id, project_id, status, target, arch, keys, config_version,"
             " created_at, finished_at, input_hash, remote_hits)"
             " VALUES (11, 7, 2, 'unix', 'x86_64', '{}', 1, 1, 2, '%s', 5);"
             "INSERT INTO builds (id, project_id, status, target, arch, keys, config_version,"
             " created_at) VALUES (12, 7, 0, 'unix', 'x86_64', '{}', 1, 3);"
             "INSERT INTO tokens (id, name, scope, hash, created_at) VALUES"
             " (1, 'admin', 3, '%s', 1), (2, 'reader', 1, '%s', 1), (3, 'gone', 2, '%s', 1);"
             "UPDATE tokens SET revoked_at = 5 WHERE id = 2;"
             "DELETE FROM tokens WHERE id = 3;",
             hexof("src"), hexof("doc"), hexof("input"), hexof("t1"), hexof("t2"), hexof("t3"));
    sql_exec(path, fill);

    mg_store *s = mg_store_open(path, true, &err);
    cr_assert_not_null(s, "open: %s", err.msg);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(pragma(db, "PRAGMA user_version"), 6);
    sqlite3_close(db);

    /* the tokens kept their ids, scopes and revocation */
    int64_t id = 0;
    cr_assert_eq(mg_store_token_check(s, hexof("t1"), &id), MG_SCOPE_ADMIN);
    cr_assert_eq(id, 1);
    cr_assert_eq(mg_store_token_check(s, hexof("t2"), &id), MG_SCOPE_NONE, "revoked stays so");
    mg_token_row *rows = NULL;
    size_t n = 0;
    cr_assert_eq(mg_store_token_list(s, &rows, &n, &err), 0, "%s", err.msg);
    /* the list leaves revoked tokens out */
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].id, 1);
    cr_assert_str_eq(rows[0].name, "admin");
    cr_assert_eq(mg_store_token_count(s), 2, "the revoked one is still there");
    mg_token_rows_free(rows, n);
    /* a worker token: the new scope passes the rebuilt CHECK, and takes
     * an id past the deleted one (the counter was carried over) */
    int64_t wid = mg_store_token_create(s, "w", MG_SCOPE_WORKER, hexof("t4"), &err);
    cr_assert_eq(wid, 4, "id %lld: %s", (long long)wid, err.msg);
    cr_assert_eq(mg_store_token_check(s, hexof("t4"), &id), MG_SCOPE_WORKER);
    cr_assert_eq(id, 4);
    /* a scope past worker is still refused by the table */
    cr_assert_eq(mg_store_token_create(s, "x", (mg_scope)5, hexof("t5"), &err), -1);

    /* the builds, with no worker and lease 0; the queued one can be
     * claimed by a worker under lease 1 */
    mg_stored_build b;
    cr_assert_eq(mg_store_build_get(s, 11, false, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(b.status, MG_STORED_SUCCEEDED);
    cr_assert_str_eq(b.input_hash, hexof("input"));
    cr_assert_eq(b.remote_hits, 5);
    cr_assert_null(b.worker);
    cr_assert_eq(b.lease, 0);
    mg_stored_build_free(&b);
    cr_assert_eq(mg_store_build_claim_id(s, 12, "w1", &err), 1, "%s", err.msg);
    cr_assert_eq(mg_store_build_get(s, 12, false, &b, &err), 0, "%s", err.msg);
    cr_assert_str_eq(b.worker, "w1");
    cr_assert_eq(b.lease, 1);
    mg_stored_build_free(&b);

    /* migration 5 (retention): nothing pinned, the daemon's retention,
     * and gc works on what was there */
    cr_assert_eq(mg_store_build_get(s, 11, false, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(b.pinned_at, 0);
    mg_stored_build_free(&b);
    mg_project p;
    cr_assert_eq(mg_store_project_get_id(s, 7, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.keep_builds, -1);
    mg_project_free(&p);
    int64_t *del = NULL, kept = 0;
    size_t n_del = 0;
    cr_assert_eq(mg_store_gc_collect(s, 1, NULL, 0, &del, &n_del, &kept, &err), 0, "%s", err.msg);
    cr_assert_eq(n_del, 0, "the succeeded one is the last, the other runs");
    cr_assert_eq(kept, 2);
    free(del);

    /* migration 6: the toolchain of the builds before is unknown, a new
     * input hash records it, and a reuse of a build that has none keeps
     * the reusing build's own */
    cr_assert_eq(mg_store_build_get(s, 11, false, &b, &err), 0, "%s", err.msg);
    cr_assert_null(b.toolchain);
    mg_stored_build_free(&b);
    cr_assert_eq(mg_store_build_set_inputs(s, 12, NULL, hexof("input"), hexof("tools"), NULL, &err),
                 0, "%s", err.msg);
    mg_stored_build fin = {.id = 12, .status = MG_STORED_SUCCEEDED, .reused_from = 11, .lease = 1};
    cr_assert_eq(mg_store_build_finish(s, &fin, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_store_build_get(s, 12, false, &b, &err), 0, "%s", err.msg);
    cr_assert_str_eq(b.toolchain, hexof("tools"));
    mg_stored_build_free(&b);
    mg_store_close(s);
}

/* Claims by id, re-queues and finishes under a lease (pull workers). */
Test(open, leases_of_pull_workers)
{
    int64_t pid = new_project("leases");
    int64_t bid = new_build(pid, "hello");
    cr_assert_eq(mg_store_build_claim_id(st, bid, "w1", &err), 1, "%s", err.msg);
    /* already running: no second claim */
    cr_assert_eq(mg_store_build_claim_id(st, bid, "w2", &err), 0);
    /* the lease lapses: queued again under lease 2, then claimed under 3 */
    cr_assert_eq(mg_store_build_requeue(st, bid, 1, &err), 2, "%s", err.msg);
    cr_assert_eq(status_of(bid), MG_STORED_QUEUED);
    cr_assert_eq(mg_store_build_requeue(st, bid, 2, &err), -1, "not running: nothing to requeue");
    cr_assert_eq(err.code, MG_E_CONFLICT);
    cr_assert_eq(mg_store_build_claim_id(st, bid, "w2", &err), 3, "%s", err.msg);
    /* a late requeue under the old lease leaves the new holder's build
     * running (a mutant that ignored the lease here survived) */
    cr_assert_eq(mg_store_build_requeue(st, bid, 1, &err), -1, "lease 1 has lapsed");
    cr_assert_eq(err.code, MG_E_CONFLICT);
    cr_assert_eq(status_of(bid), MG_STORED_RUNNING);
    /* a late finish under the old lease is refused; the right one ends it */
    mg_stored_build done = {.id = bid, .lease = 1, .status = MG_STORED_FAILED, .error = "late"};
    cr_assert_eq(mg_store_build_finish(st, &done, &err), -1);
    cr_assert_eq(err.code, MG_E_CONFLICT);
    cr_assert_not_null(strstr(err.msg, "lease 1"), "%s", err.msg);
    cr_assert_eq(status_of(bid), MG_STORED_RUNNING);
    done.lease = 3;
    cr_assert_eq(mg_store_build_finish(st, &done, &err), 0, "%s", err.msg);
    cr_assert_eq(status_of(bid), MG_STORED_FAILED);
    cr_assert_eq(mg_store_build_requeue(st, bid, 3, &err), -1, "ended: nothing to requeue");
}

Test(open, refuses_a_newer_schema)
{
    mg_store_close(st);
    st = NULL;
    sql_exec(dbpath, "PRAGMA user_version = 99;");
    mg_err_clear(&err);
    cr_assert_null(mg_store_open(dbpath, false, &err));
    cr_assert_not_null(strstr(err.msg, "99"), "message: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, "newer"), "message: %s", err.msg);
    /* refused, not downgraded */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(pragma(db, "PRAGMA user_version"), 99);
    sqlite3_close(db);
}

Test(open, random_bytes_fail_with_a_message)
{
    char path[160];
    snprintf(path, sizeof path, "%s/random.sqlite3", base);
    static unsigned char junk[16384];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    cr_assert_eq(mg_file_write_atomic(path, junk, sizeof junk, 0600), 0);
    for (int check = 0; check < 2; check++) {
        mg_err_clear(&err);
        cr_assert_null(mg_store_open(path, check, &err));
        cr_assert_not_null(strstr(err.msg, "not a database"), "message: %s", err.msg);
    }
}

Test(open, damaged_pages_fail_the_quick_check)
{
    /* enough rows that the projects table spans many pages */
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "project-with-a-longish-name-%04d", i);
        new_project(name);
    }
    mg_store_close(st);
    st = NULL;
    /* overwrite everything after the first two pages (the schema page
     * stays readable, so only a check of the content finds the damage) */
    size_t size;
    char *data = mg_file_read(dbpath, 64 << 20, &size);
    cr_assert_not_null(data);
    cr_assert_gt(size, 4 * 4096);
    for (size_t i = 2 * 4096; i < size; i++) data[i] = (char)(i * 7 + 3);
    cr_assert_eq(mg_file_write_atomic(dbpath, data, size, 0600), 0);
    free(data);

    mg_err_clear(&err);
    cr_assert_null(mg_store_open(dbpath, true, &err));
    cr_assert_not_null(strstr(err.msg, "damaged"), "message: %.200s", err.msg);
    /* opened without the check, reads fail with a message, not a crash */
    st = mg_store_open(dbpath, false, &err);
    cr_assert_not_null(st, "%s", err.msg);
    mg_project *ps;
    size_t n;
    int64_t total;
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_project_list(st, 0, 1000, &ps, &n, &total, &err)), MG_E_IO);
    cr_assert_not_null(strstr(err.msg, "malformed"), "message: %s", err.msg);
    cr_assert_null(ps);
    cr_assert_eq(n, 0);
}

Test(open, a_directory_is_not_a_database)
{
    mg_err_clear(&err);
    cr_assert_null(mg_store_open(base, false, &err));
    cr_assert_gt(strlen(err.msg), 0);
}

Test(open, missing_parent_directory_fails)
{
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/mgd.sqlite3", base);
    mg_err_clear(&err);
    cr_assert_null(mg_store_open(path, false, &err));
    cr_assert_not_null(strstr(err.msg, path), "message should name the file: %s", err.msg);
}

/* ---- projects ----------------------------------------------------------- */

TestSuite(projects, .init = setup, .fini = teardown, .timeout = 60);

Test(projects, create_and_get)
{
    int64_t before = mg_store_now_ms();
    mg_project p = {.name = "web", .repo_url = "https://example.org/web.git", .repo_ref = "main"};
    int64_t id = mg_store_project_create(st, &p, "{\"v\":1}", hexof("{\"v\":1}"), &err);
    cr_assert_gt(id, 0, "%s", err.msg);

    mg_project g;
    cr_assert_eq(mg_store_project_get_id(st, id, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(g.id, id);
    cr_assert_str_eq(g.name, "web");
    cr_assert_str_eq(g.repo_url, "https://example.org/web.git");
    cr_assert_str_eq(g.repo_ref, "main");
    cr_assert_null(g.sources);
    cr_assert_null(g.sources_sha256);
    cr_assert_eq(g.config_version, 1);
    cr_assert_geq(g.created_at, before);
    cr_assert_leq(g.created_at, mg_store_now_ms());
    cr_assert_eq(g.updated_at, g.created_at);
    mg_project_free(&g);

    mg_config_version c;
    cr_assert_eq(mg_store_config_get(st, id, 1, &c, &err), 0, "%s", err.msg);
    cr_assert_str_eq(c.document, "{\"v\":1}");
    cr_assert_str_eq(c.sha256, hexof("{\"v\":1}"));
    mg_config_version_free(&c);
}

Test(projects, inline_sources_come_back)
{
    int64_t id = new_project("inl");
    mg_project g;
    cr_assert_eq(mg_store_project_get_id(st, id, &g, &err), 0, "%s", err.msg);
    cr_assert_null(g.repo_url);
    cr_assert_null(g.repo_ref);
    cr_assert_str_eq(g.sources, "{\"files\":{}}");
    cr_assert_str_eq(g.sources_sha256, hexof("{\"files\":{}}"));
    cr_assert_eq(g.sources_files, 1);
    cr_assert_eq(g.sources_bytes, 2);
    mg_project_free(&g);
}

Test(projects, same_name_conflicts)
{
    new_project("dup");
    mg_project p = {.name = "dup", .repo_url = "https://example.org/x.git"};
    mg_err_clear(&err);
    int64_t r = mg_store_project_create(st, &p, "{}", hexof("{}"), &err);
    cr_assert_eq(code_of(r), MG_E_CONFLICT);
    cr_assert_not_null(strstr(err.msg, "dup"), "message: %s", err.msg);
    mg_project *ps;
    size_t n;
    int64_t total;
    cr_assert_eq(mg_store_project_list(st, 0, 10, &ps, &n, &total, &err), 0);
    cr_assert_eq(total, 1);
    mg_projects_free(ps, n);
}

Test(projects, without_any_sources_is_refused_and_leaves_nothing)
{
    mg_project p = {.name = "nothing"};
    mg_err_clear(&err);
    int64_t r = mg_store_project_create(st, &p, "{}", hexof("{}"), &err);
    cr_assert_lt(r, 0);
    cr_assert_gt(strlen(err.msg), 0);
    /* the name is free: a message saying it is taken would send the user
     * the wrong way */
    cr_assert_null(strstr(err.msg, "exists"), "misleading message: %s", err.msg);
    mg_project g;
    cr_assert_eq(code_of(mg_store_project_get(st, "nothing", &g, &err)), MG_E_NOT_FOUND);
    /* the transaction was rolled back: the store still works */
    new_project("after");
}

Test(projects, get_by_name_by_digits_and_missing)
{
    int64_t a = new_project("alpha");
    int64_t b = new_project("beta");
    mg_project g;
    cr_assert_eq(mg_store_project_get(st, "beta", &g, &err), 0, "%s", err.msg);
    cr_assert_eq(g.id, b);
    mg_project_free(&g);

    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)a);
    cr_assert_eq(mg_store_project_get(st, ref, &g, &err), 0, "%s", err.msg);
    cr_assert_str_eq(g.name, "alpha");
    mg_project_free(&g);

    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_project_get(st, "gamma", &g, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_null(g.name);
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_project_get(st, "999", &g, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_eq(code_of(mg_store_project_get_id(st, 999, &g, &err)), MG_E_NOT_FOUND);
    cr_assert_eq(code_of(mg_store_project_get(st, "", &g, &err)), MG_E_NOT_FOUND);
    /* too long to be an id: looked up as a name */
    cr_assert_eq(code_of(mg_store_project_get(st, "1234567890123456789012", &g, &err)),
                 MG_E_NOT_FOUND);
}

Test(projects, update_sources_switches_between_repo_and_inline)
{
    int64_t id = new_project("sw");
    mg_project u = {.id = id,
                    .repo_url = "https://example.org/sw.git",
                    .repo_ref = "v1",
                    .sources = "ignored",
                    .sources_sha256 = "ignored",
                    .sources_files = 9,
                    .sources_bytes = 9};
    cr_assert_eq(mg_store_project_update_sources(st, &u, &err), 0, "%s", err.msg);
    mg_project g;
    cr_assert_eq(mg_store_project_get_id(st, id, &g, &err), 0, "%s", err.msg);
    cr_assert_str_eq(g.repo_url, "https://example.org/sw.git");
    cr_assert_str_eq(g.repo_ref, "v1");
    cr_assert_null(g.sources);
    cr_assert_null(g.sources_sha256);
    cr_assert_eq(g.sources_files, 0);
    cr_assert_eq(g.sources_bytes, 0);
    cr_assert_geq(g.updated_at, g.created_at);
    cr_assert_str_eq(g.name, "sw");
    mg_project_free(&g);

    mg_project back = {.id = id,
                       .sources = "{\"files\":{\"a\":1}}",
                       .sources_sha256 = (char *)hexof("inline2"),
                       .sources_files = 3,
                       .sources_bytes = 300};
    cr_assert_eq(mg_store_project_update_sources(st, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_store_project_get_id(st, id, &g, &err), 0, "%s", err.msg);
    cr_assert_null(g.repo_url);
    cr_assert_null(g.repo_ref);
    cr_assert_str_eq(g.sources, "{\"files\":{\"a\":1}}");
    cr_assert_str_eq(g.sources_sha256, hexof("inline2"));
    cr_assert_eq(g.sources_files, 3);
    cr_assert_eq(g.sources_bytes, 300);
    mg_project_free(&g);

    /* a list carries the tree's sha256 and counts, not the tree */
    mg_project *ps;
    size_t n;
    int64_t total;
    cr_assert_eq(mg_store_project_list(st, 0, 10, &ps, &n, &total, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_null(ps[0].sources);
    cr_assert_str_eq(ps[0].sources_sha256, hexof("inline2"));
    cr_assert_eq(ps[0].sources_files, 3);
    mg_projects_free(ps, n);

    mg_project missing = {.id = id + 100, .repo_url = "https://example.org/m.git"};
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_project_update_sources(st, &missing, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
}

Test(projects, list_pages_by_id_with_total)
{
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        ids[i] = new_project(name);
    }
    bool created;
    int64_t v;
    cr_assert_eq(mg_store_config_put(st, ids[2], "{\"x\":2}", hexof("x2"), &v, &created, &err), 0,
                 "%s", err.msg);

    mg_project *ps;
    size_t n;
    int64_t total = -1;
    cr_assert_eq(mg_store_project_list(st, 1, 2, &ps, &n, &total, &err), 0, "%s", err.msg);
    cr_assert_eq(total, 5);
    cr_assert_eq(n, 2);
    cr_assert_eq(ps[0].id, ids[1]);
    cr_assert_str_eq(ps[0].name, "p1");
    cr_assert_eq(ps[0].config_version, 1);
    cr_assert_eq(ps[1].id, ids[2]);
    cr_assert_eq(ps[1].config_version, 2);
    mg_projects_free(ps, n);

    cr_assert_eq(mg_store_project_list(st, 0, 100, &ps, &n, &total, &err), 0);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++) cr_assert_eq(ps[i].id, ids[i]);
    mg_projects_free(ps, n);

    cr_assert_eq(mg_store_project_list(st, 5, 10, &ps, &n, &total, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(total, 5);
    mg_projects_free(ps, n);
}

Test(projects, list_of_none)
{
    mg_project *ps;
    size_t n = 99;
    int64_t total = -1;
    cr_assert_eq(mg_store_project_list(st, 0, 10, &ps, &n, &total, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(total, 0);
    mg_projects_free(ps, n);
}

Test(projects, delete_cascades_and_returns_orphan_images)
{
    int64_t a = new_project("a");
    int64_t b = new_project("b");
    bool created;
    int64_t v;
    cr_assert_eq(mg_store_config_put(st, a, "{\"a\":2}", hexof("a2"), &v, &created, &err), 0);
    /* a: two builds of image X, one of Y, a failed one; b: one of Y */
    int64_t a1 = finished_build(a, "t", MG_STORED_SUCCEEDED, hexof("h1"), "X", 0);
    int64_t a2 = finished_build(a, "t", MG_STORED_SUCCEEDED, hexof("h1"), "X", 0);
    int64_t a3 = finished_build(a, "u", MG_STORED_SUCCEEDED, hexof("h2"), "Y", 0);
    int64_t a4 = finished_build(a, "u", MG_STORED_FAILED, hexof("h3"), NULL, 0);
    int64_t a5 = new_build(a, "t"); /* still queued */
    cr_assert_eq(mg_store_set_log_size(st, a1, 100, NULL), 0);
    /* b's build rebuilds and reuses a's: links that must not block the delete */
    mg_stored_build rb = {
        .project_id = b, .target = "u", .arch = "x86_64", .config_version = 1, .rebuild_of = a3};
    int64_t b1 = mg_store_build_create(st, &rb, 0, &err);
    cr_assert_gt(b1, 0, "%s", err.msg);
    cr_assert_eq(claim(), a5);
    cr_assert_eq(claim(), b1);
    mg_stored_build fb = {.id = b1,
                          .status = MG_STORED_SUCCEEDED,
                          .reused_from = a3,
                          .image_name = "app.img",
                          .image_sha256 = (char *)hexof("Y"),
                          .image_size = 1};
    cr_assert_eq(mg_store_build_finish(st, &fb, &err), 0, "%s", err.msg);

    char **orphans;
    size_t n_orphans;
    cr_assert_eq(mg_store_project_delete(st, a, &orphans, &n_orphans, &err), 0, "%s", err.msg);
    cr_assert_eq(n_orphans, 1, "X only once; Y is still used by b");
    cr_assert_str_eq(orphans[0], hexof("X"));
    for (size_t i = 0; i < n_orphans; i++) free(orphans[i]);
    free(orphans);

    mg_project g;
    cr_assert_eq(code_of(mg_store_project_get_id(st, a, &g, &err)), MG_E_NOT_FOUND);
    int64_t gone[] = {a1, a2, a3, a4, a5};
    for (size_t i = 0; i < 5; i++) {
        mg_stored_build r;
        cr_assert_eq(code_of(mg_store_build_get(st, gone[i], false, &r, &err)), MG_E_NOT_FOUND,
                     "build %lld survived", (long long)gone[i]);
    }
    mg_config_version c;
    cr_assert_eq(code_of(mg_store_config_get(st, a, 0, &c, &err)), MG_E_NOT_FOUND);
    mg_config_version *cs;
    size_t n;
    int64_t total;
    cr_assert_eq(mg_store_config_list(st, a, 0, 10, &cs, &n, &total, &err), 0);
    cr_assert_eq(total, 0);
    cr_assert_eq(n, 0);
    free(cs);
    mg_stored_build_filter f = {.project_id = a};
    mg_stored_build *bs;
    cr_assert_eq(mg_store_build_list(st, &f, 0, 10, &bs, &n, &total, &err), 0);
    cr_assert_eq(total, 0);
    mg_stored_builds_free(bs, n);
    /* orphaned log and artifact rows went too: a whole-table count sees b's only */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(pragma(db, "SELECT count(*) FROM artifacts"), 1);
    cr_assert_eq(pragma(db, "SELECT count(*) FROM logs"), 1);
    cr_assert_eq(pragma(db, "SELECT count(*) FROM config_versions"), 1);
    sqlite3_close(db);

    /* b survives, its links to a's builds cleared */
    mg_stored_build r;
    cr_assert_eq(mg_store_build_get(st, b1, false, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, MG_STORED_SUCCEEDED);
    cr_assert_eq(r.rebuild_of, 0);
    cr_assert_eq(r.reused_from, 0);
    cr_assert_str_eq(r.image_sha256, hexof("Y"));
    mg_stored_build_free(&r);
    cr_assert_eq(mg_store_project_get_id(st, b, &g, &err), 0);
    mg_project_free(&g);

    /* the name is free again */
    new_project("a");
}

Test(projects, delete_missing_is_notfound)
{
    char **orphans = (char **)1;
    size_t n = 7;
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_project_delete(st, 42, &orphans, &n, &err)), MG_E_NOT_FOUND);
    cr_assert_null(orphans);
    cr_assert_eq(n, 0);
    cr_assert_gt(strlen(err.msg), 0);
}

Test(projects, delete_without_images_has_no_orphans)
{
    int64_t a = new_project("bare");
    new_build(a, "t");
    char **orphans;
    size_t n = 7;
    cr_assert_eq(mg_store_project_delete(st, a, &orphans, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 0);
    free(orphans);
}

/* The first step of a project's delete: every queued and running build of
 * it is cancelled at once, however many (more than any page of a list),
 * none can be claimed or queued any more, and the ids of all its builds
 * come back; another project is untouched. */
Test(projects, delete_begin_cancels_every_build_and_blocks_new_ones)
{
    enum { N = 700 };
    int64_t a = new_project("a");
    int64_t ok = finished_build(a, "t", MG_STORED_SUCCEEDED, hexof("h"), "X", 0);
    int64_t bad = finished_build(a, "t", MG_STORED_FAILED, NULL, NULL, 0);
    static int64_t made[N];
    for (int i = 0; i < N; i++) made[i] = new_build(a, "t");
    int64_t run1 = claim(), run2 = claim();
    cr_assert_eq(run1, made[0]);
    cr_assert_eq(run2, made[1]);
    int64_t b = new_project("b");
    int64_t other[3];
    for (int i = 0; i < 3; i++) other[i] = new_build(b, "t");

    int64_t *ids = NULL;
    size_t n = 0;
    int64_t cancelled = -1;
    cr_assert_eq(mg_store_project_delete_begin(st, a, &ids, &n, &cancelled, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cancelled, N, "every queued and running build at once");
    cr_assert_eq(n, N + 2, "all its builds, finished ones too");
    cr_assert_eq(ids[0], ok);
    cr_assert_eq(ids[1], bad);
    for (size_t i = 0; i < N; i++) cr_assert_eq(ids[i + 2], made[i], "ascending");
    free(ids);

    cr_assert_eq(status_of(ok), MG_STORED_SUCCEEDED, "finished builds keep their status");
    cr_assert_eq(status_of(bad), MG_STORED_FAILED);
    for (size_t i = 0; i < N; i++) {
        mg_stored_build g;
        cr_assert_eq(mg_store_build_get(st, made[i], false, &g, &err), 0, "%s", err.msg);
        cr_assert_eq(g.status, MG_STORED_CANCELLED, "build %lld", (long long)made[i]);
        cr_assert_gt(g.finished_at, 0);
        cr_assert_not_null(g.error);
        cr_assert_not_null(strstr(g.error, "cancelled"), "%s", g.error);
        mg_stored_build_free(&g);
    }
    /* a worker still running one cannot make it succeed */
    mg_stored_build f = {.id = run1, .status = MG_STORED_SUCCEEDED};
    cr_assert_eq(code_of(mg_store_build_finish(st, &f, &err)), MG_E_CONFLICT);
    cr_assert_eq(status_of(run1), MG_STORED_CANCELLED);

    /* the queue skips to the other project's builds */
    for (int i = 0; i < 3; i++) cr_assert_eq(claim(), other[i]);
    cr_assert_eq(claim(), 0);

    /* no build can be queued for it any more (a rebuild neither) */
    mg_stored_build nb = {.project_id = a, .target = "t", .arch = "x86_64", .config_version = 1};
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_build_create(st, &nb, 0, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
    nb.rebuild_of = ok;
    cr_assert_eq(code_of(mg_store_build_create(st, &nb, 0, &err)), MG_E_NOT_FOUND);
    nb.project_id = b;
    nb.rebuild_of = 0;
    cr_assert_gt(mg_store_build_create(st, &nb, 0, &err), 0, "%s", err.msg);

    /* it is listed as being deleted, and a retry begins again */
    int64_t *del = NULL;
    size_t n_del = 0;
    cr_assert_eq(mg_store_project_list_deleting(st, &del, &n_del, &err), 0, "%s", err.msg);
    cr_assert_eq(n_del, 1);
    cr_assert_eq(del[0], a);
    free(del);
    cr_assert_eq(mg_store_project_delete_begin(st, a, &ids, &n, &cancelled, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cancelled, 0);
    cr_assert_eq(n, N + 2);
    free(ids);

    /* the rows go last; then nothing is left to begin */
    char **orphans;
    size_t n_orphans;
    cr_assert_eq(mg_store_project_delete(st, a, &orphans, &n_orphans, &err), 0, "%s", err.msg);
    cr_assert_eq(n_orphans, 1);
    cr_assert_str_eq(orphans[0], hexof("X"));
    free(orphans[0]);
    free(orphans);
    cr_assert_eq(mg_store_project_list_deleting(st, &del, &n_del, &err), 0, "%s", err.msg);
    cr_assert_eq(n_del, 0);
    free(del);
    ids = (int64_t *)1;
    cr_assert_eq(code_of(mg_store_project_delete_begin(st, a, &ids, &n, NULL, &err)),
                 MG_E_NOT_FOUND);
    cr_assert_null(ids);
    cr_assert_eq(n, 0);
}

Test(projects, delete_begin_of_a_missing_project_is_notfound)
{
    int64_t *ids = (int64_t *)1;
    size_t n = 7;
    int64_t cancelled = 7;
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_project_delete_begin(st, 42, &ids, &n, &cancelled, &err)),
                 MG_E_NOT_FOUND);
    cr_assert_null(ids);
    cr_assert_eq(n, 0);
    cr_assert_eq(cancelled, 0);
    cr_assert_gt(strlen(err.msg), 0);
}

Test(projects, delete_begin_without_builds)
{
    int64_t a = new_project("a");
    int64_t *ids = (int64_t *)1;
    size_t n = 7;
    int64_t cancelled = 7;
    cr_assert_eq(mg_store_project_delete_begin(st, a, &ids, &n, &cancelled, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(n, 0);
    cr_assert_eq(cancelled, 0);
    free(ids);
    /* still there (the rows go last) but closed to builds */
    mg_project g;
    cr_assert_eq(mg_store_project_get_id(st, a, &g, &err), 0, "%s", err.msg);
    mg_project_free(&g);
    mg_stored_build nb = {.project_id = a, .target = "t", .arch = "x86_64", .config_version = 1};
    cr_assert_eq(code_of(mg_store_build_create(st, &nb, 0, &err)), MG_E_NOT_FOUND);
}

/* ---- config versions ---------------------------------------------------- */

TestSuite(configs, .init = setup, .fini = teardown, .timeout = 60);

Test(configs, identical_keeps_the_version)
{
    int64_t id = new_project("c"); /* version 1: {"name":"c"} */
    int64_t v = -1;
    bool created = true;
    cr_assert_eq(mg_store_config_put(st, id, "{\"name\":\"c\"}", hexof("{\"name\":\"c\"}"), &v,
                                     &created, &err),
                 0, "%s", err.msg);
    cr_assert_eq(v, 1);
    cr_assert_not(created);
    mg_config_version *cs;
    size_t n;
    int64_t total;
    cr_assert_eq(mg_store_config_list(st, id, 0, 10, &cs, &n, &total, &err), 0);
    cr_assert_eq(total, 1);
    for (size_t i = 0; i < n; i++) mg_config_version_free(&cs[i]);
    free(cs);
}

Test(configs, new_versions_count_up_and_get_finds_them)
{
    int64_t id = new_project("c");
    int64_t v;
    bool created;
    cr_assert_eq(mg_store_config_put(st, id, "{\"v\":2}", hexof("v2"), &v, &created, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(v, 2);
    cr_assert(created);
    cr_assert_eq(mg_store_config_put(st, id, "{\"v\":3}", hexof("v3"), &v, &created, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(v, 3);
    cr_assert(created);
    /* identical to an older version but not to the latest: a new version */
    cr_assert_eq(mg_store_config_put(st, id, "{\"v\":2}", hexof("v2"), &v, &created, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(v, 4);
    cr_assert(created);

    mg_config_version c;
    cr_assert_eq(mg_store_config_get(st, id, 0, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.version, 4);
    cr_assert_eq(c.project_id, id);
    cr_assert_str_eq(c.document, "{\"v\":2}");
    cr_assert_gt(c.created_at, 0);
    mg_config_version_free(&c);
    cr_assert_eq(mg_store_config_get(st, id, 3, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.version, 3);
    cr_assert_str_eq(c.document, "{\"v\":3}");
    cr_assert_str_eq(c.sha256, hexof("v3"));
    mg_config_version_free(&c);
    cr_assert_eq(mg_store_config_get(st, id, 1, &c, &err), 0, "%s", err.msg);
    cr_assert_str_eq(c.document, "{\"name\":\"c\"}");
    mg_config_version_free(&c);

    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_config_get(st, id, 5, &c, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_null(c.document);
    cr_assert_eq(code_of(mg_store_config_get(st, id + 1, 0, &c, &err)), MG_E_NOT_FOUND);

    mg_project p;
    cr_assert_eq(mg_store_project_get_id(st, id, &p, &err), 0);
    cr_assert_eq(p.config_version, 4);
    mg_project_free(&p);
}

Test(configs, put_to_a_missing_project_is_notfound)
{
    int64_t v = -7;
    bool created = true;
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_config_put(st, 77, "{}", hexof("{}"), &v, &created, &err)),
                 MG_E_NOT_FOUND);
    cr_assert_not(created);
    cr_assert_gt(strlen(err.msg), 0);
}

Test(configs, list_newest_first_without_documents)
{
    int64_t id = new_project("c");
    int64_t other = new_project("other");
    int64_t v;
    bool created;
    for (int i = 2; i <= 4; i++) {
        char doc[32];
        snprintf(doc, sizeof doc, "{\"v\":%d}", i);
        cr_assert_eq(mg_store_config_put(st, id, doc, hexof(doc), &v, &created, &err), 0);
    }
    mg_config_version *cs;
    size_t n;
    int64_t total = -1;
    cr_assert_eq(mg_store_config_list(st, id, 0, 10, &cs, &n, &total, &err), 0, "%s", err.msg);
    cr_assert_eq(total, 4);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(cs[i].version, 4 - (int64_t)i);
        cr_assert_eq(cs[i].project_id, id);
        cr_assert_null(cs[i].document);
        cr_assert_not_null(cs[i].sha256);
        mg_config_version_free(&cs[i]);
    }
    free(cs);

    cr_assert_eq(mg_store_config_list(st, id, 1, 2, &cs, &n, &total, &err), 0);
    cr_assert_eq(total, 4);
    cr_assert_eq(n, 2);
    cr_assert_eq(cs[0].version, 3);
    cr_assert_eq(cs[1].version, 2);
    for (size_t i = 0; i < n; i++) mg_config_version_free(&cs[i]);
    free(cs);

    cr_assert_eq(mg_store_config_list(st, other, 0, 10, &cs, &n, &total, &err), 0);
    cr_assert_eq(total, 1);
    cr_assert_eq(n, 1);
    mg_config_version_free(&cs[0]);
    free(cs);
}

/* ---- builds ------------------------------------------------------------- */

TestSuite(builds, .init = setup, .fini = teardown, .timeout = 60);

Test(builds, status_names)
{
    for (int i = 0; i < MG_STORED_N_STATUS; i++)
        cr_assert_eq(mg_stored_status_parse(mg_stored_status_name((mg_stored_status)i)), i);
    cr_assert_str_eq(mg_stored_status_name(MG_STORED_SUCCEEDED), "succeeded");
    cr_assert_str_eq(mg_stored_status_name(MG_STORED_INTERRUPTED), "interrupted");
    cr_assert_eq(mg_stored_status_parse("done"), -1);
    cr_assert_eq(mg_stored_status_parse(""), -1);
    cr_assert_not(mg_stored_status_terminal(MG_STORED_QUEUED));
    cr_assert_not(mg_stored_status_terminal(MG_STORED_RUNNING));
    cr_assert(mg_stored_status_terminal(MG_STORED_SUCCEEDED));
    cr_assert(mg_stored_status_terminal(MG_STORED_FAILED));
    cr_assert(mg_stored_status_terminal(MG_STORED_CANCELLED));
    cr_assert(mg_stored_status_terminal(MG_STORED_INTERRUPTED));
}

Test(builds, time_format)
{
    char buf[32];
    mg_store_format_time(0, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    mg_store_format_time(1700000000999, buf);
    cr_assert_str_eq(buf, "2023-11-14T22:13:20Z");
    int64_t now = mg_store_now_ms();
    cr_assert_lt(llabs(now - (int64_t)time(NULL) * 1000), 2000);
}

Test(builds, create_then_get)
{
    int64_t pid = new_project("p");
    int64_t before = mg_store_now_ms();
    mg_stored_build b = {.project_id = pid,
                         .target = "hello",
                         .arch = "aarch64",
                         .keys = "{\"a\":\"1\",\"b\":\"x\"}",
                         .config_version = 1,
                         .ref = "main",
                         .commit = "0123456789abcdef0123456789abcdef01234567",
                         .sources_sha256 = (char *)hexof("snap"),
                         .force = true};
    int64_t id = mg_store_build_create(st, &b, 10, &err);
    cr_assert_gt(id, 0, "%s", err.msg);
    b.rebuild_of = id;
    b.keys = NULL;
    b.force = false;
    int64_t id2 = mg_store_build_create(st, &b, 10, &err);
    cr_assert_gt(id2, id, "%s", err.msg);

    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, id, true, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(g.id, id);
    cr_assert_eq(g.project_id, pid);
    cr_assert_str_eq(g.project_name, "p");
    cr_assert_eq(g.status, MG_STORED_QUEUED);
    cr_assert_str_eq(g.target, "hello");
    cr_assert_str_eq(g.arch, "aarch64");
    cr_assert_str_eq(g.keys, "{\"a\":\"1\",\"b\":\"x\"}");
    cr_assert_eq(g.config_version, 1);
    cr_assert_str_eq(g.ref, "main");
    cr_assert_str_eq(g.commit, "0123456789abcdef0123456789abcdef01234567");
    cr_assert_str_eq(g.sources_sha256, hexof("snap"));
    cr_assert_null(g.input_hash);
    cr_assert(g.force);
    cr_assert_eq(g.rebuild_of, 0);
    cr_assert_eq(g.reused_from, 0);
    cr_assert_geq(g.created_at, before);
    cr_assert_eq(g.started_at, 0);
    cr_assert_eq(g.finished_at, 0);
    cr_assert_eq(g.duration_ms, -1);
    cr_assert_null(g.image_name);
    cr_assert_null(g.image_sha256);
    cr_assert_null(g.error);
    cr_assert_null(g.describe);
    cr_assert_eq(g.log_size, 0);
    mg_stored_build_free(&g);

    cr_assert_eq(mg_store_build_get(st, id2, false, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(g.rebuild_of, id);
    cr_assert_str_eq(g.keys, "{}");
    cr_assert_not(g.force);
    mg_stored_build_free(&g);

    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_build_get(st, id2 + 1, false, &g, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
}

Test(builds, create_for_a_missing_project_or_version_fails)
{
    int64_t pid = new_project("p");
    mg_stored_build b = {
        .project_id = pid + 1, .target = "t", .arch = "x86_64", .config_version = 1};
    cr_assert_lt(mg_store_build_create(st, &b, 0, &err), 0);
    b.project_id = pid;
    b.config_version = 2;
    cr_assert_lt(mg_store_build_create(st, &b, 0, &err), 0);
    int64_t counts[MG_STORED_N_STATUS];
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0);
    cr_assert_eq(counts[MG_STORED_QUEUED], 0);
    /* and the store still takes builds: the failed transactions were undone */
    new_build(pid, "t");
}

Test(builds, queue_limit_refuses)
{
    int64_t pid = new_project("p");
    mg_stored_build b = {.project_id = pid, .target = "t", .arch = "x86_64", .config_version = 1};
    for (int i = 0; i < 3; i++) cr_assert_gt(mg_store_build_create(st, &b, 3, &err), 0);
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_build_create(st, &b, 3, &err)), MG_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, "queue"), "message: %s", err.msg);
    /* a running build does not count against the queue */
    claim();
    cr_assert_gt(mg_store_build_create(st, &b, 3, &err), 0, "%s", err.msg);
    cr_assert_eq(code_of(mg_store_build_create(st, &b, 3, &err)), MG_E_LIMIT);
    /* 0: no limit */
    for (int i = 0; i < 5; i++) cr_assert_gt(mg_store_build_create(st, &b, 0, &err), 0);
    int64_t counts[MG_STORED_N_STATUS];
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0);
    cr_assert_eq(counts[MG_STORED_QUEUED], 8);
    cr_assert_eq(counts[MG_STORED_RUNNING], 1);
}

Test(builds, claim_takes_the_oldest_and_marks_it_running)
{
    cr_assert_eq(claim(), 0, "empty queue");
    int64_t pid = new_project("p");
    int64_t b1 = new_build(pid, "t");
    int64_t b2 = new_build(pid, "t");
    int64_t b3 = new_build(pid, "t");
    mg_stored_status was;
    cr_assert_eq(mg_store_build_cancel(st, b2, &was, &err), 0, "%s", err.msg);

    int64_t before = mg_store_now_ms();
    cr_assert_eq(claim(), b1);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, b1, false, &g, &err), 0);
    cr_assert_eq(g.status, MG_STORED_RUNNING);
    cr_assert_geq(g.started_at, before);
    cr_assert_geq(g.started_at, g.created_at);
    cr_assert_eq(g.finished_at, 0);
    cr_assert_eq(g.duration_ms, -1);
    mg_stored_build_free(&g);

    cr_assert_eq(claim(), b3, "a cancelled build is not claimed");
    cr_assert_eq(claim(), 0);
    cr_assert_eq(status_of(b3), MG_STORED_RUNNING);
}

Test(builds, set_inputs_leaves_null_fields_alone)
{
    int64_t pid = new_project("p");
    int64_t id = new_build(pid, "t");
    cr_assert_eq(mg_store_build_set_inputs(st, id, "c0ffee", NULL, NULL, NULL, &err), 0);
    cr_assert_eq(mg_store_build_set_inputs(st, id, NULL, hexof("in"), hexof("tools"),
                                           "{\"nodes\":[]}", &err),
                 0, "%s", err.msg);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, id, true, &g, &err), 0);
    cr_assert_str_eq(g.commit, "c0ffee");
    cr_assert_str_eq(g.input_hash, hexof("in"));
    cr_assert_str_eq(g.describe, "{\"nodes\":[]}");
    cr_assert_str_eq(g.toolchain, hexof("tools"), "the toolchain comes with the input hash");
    mg_stored_build_free(&g);
    cr_assert_eq(mg_store_build_get(st, id, false, &g, &err), 0);
    cr_assert_null(g.describe, "describe only when asked for");
    cr_assert_str_eq(g.commit, "c0ffee");
    mg_stored_build_free(&g);
}

Test(builds, finish_succeeded_records_image_counts_and_log)
{
    int64_t pid = new_project("p");
    int64_t id = new_build(pid, "t");
    cr_assert_eq(claim(), id);
    usleep(20000);
    mg_stored_build f = {.id = id,
                         .status = MG_STORED_SUCCEEDED,
                         .actions = 12,
                         .hits = 5,
                         .misses = 7,
                         .image_name = "hello.img",
                         .image_sha256 = (char *)hexof("img"),
                         .image_size = 123456,
                         .log_size = 789};
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "%s", err.msg);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, id, false, &g, &err), 0);
    cr_assert_eq(g.status, MG_STORED_SUCCEEDED);
    cr_assert_geq(g.finished_at, g.started_at);
    cr_assert_eq(g.duration_ms, g.finished_at - g.started_at);
    cr_assert_geq(g.duration_ms, 15);
    cr_assert_eq(g.actions, 12);
    cr_assert_eq(g.hits, 5);
    cr_assert_eq(g.misses, 7);
    cr_assert_str_eq(g.image_name, "hello.img");
    cr_assert_str_eq(g.image_sha256, hexof("img"));
    cr_assert_eq(g.image_size, 123456);
    cr_assert_eq(g.log_size, 789);
    cr_assert_null(g.error);
    cr_assert_eq(g.reused_from, 0);
    mg_stored_build_free(&g);

    /* finishing again: it is no longer running */
    mg_err_clear(&err);
    f.status = MG_STORED_FAILED;
    cr_assert_eq(code_of(mg_store_build_finish(st, &f, &err)), MG_E_CONFLICT);
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_eq(status_of(id), MG_STORED_SUCCEEDED);
}

Test(builds, finish_failed_keeps_the_error_and_no_image)
{
    int64_t pid = new_project("p");
    int64_t id = new_build(pid, "t");
    cr_assert_eq(claim(), id);
    mg_stored_build f = {.id = id,
                         .status = MG_STORED_FAILED,
                         .error = "main.c:3: error: expected ';'",
                         .image_name = "x.img",
                         .image_sha256 = (char *)hexof("no")};
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "%s", err.msg);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, id, false, &g, &err), 0);
    cr_assert_eq(g.status, MG_STORED_FAILED);
    cr_assert_str_eq(g.error, "main.c:3: error: expected ';'");
    cr_assert_null(g.image_sha256);
    cr_assert_null(g.image_name);
    mg_stored_build_free(&g);
}

Test(builds, finish_of_a_queued_build_conflicts)
{
    int64_t pid = new_project("p");
    int64_t id = new_build(pid, "t");
    mg_stored_build f = {.id = id, .status = MG_STORED_SUCCEEDED};
    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_build_finish(st, &f, &err)), MG_E_CONFLICT);
    cr_assert_gt(strlen(err.msg), 0);
    cr_assert_eq(status_of(id), MG_STORED_QUEUED);
}

Test(builds, reused_build_records_its_source)
{
    int64_t pid = new_project("p");
    int64_t first = finished_build(pid, "t", MG_STORED_SUCCEEDED, hexof("h"), "X", 0);
    int64_t second = finished_build(pid, "t", MG_STORED_SUCCEEDED, hexof("h"), "X", first);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, second, false, &g, &err), 0);
    cr_assert_eq(g.reused_from, first);
    mg_stored_build_free(&g);
}

/* A reuse shows the toolchain of the build it reused; a build that ends
 * otherwise keeps the one its input hash was computed with. */
Test(builds, reused_build_shows_the_toolchain_of_the_build_it_reused)
{
    int64_t pid = new_project("p");
    int64_t first = new_build(pid, "t");
    cr_assert_eq(claim(), first);
    cr_assert_eq(mg_store_build_set_inputs(st, first, NULL, hexof("h"), hexof("t1"), NULL, &err),
                 0);
    mg_stored_build f = {.id = first, .status = MG_STORED_FAILED, .error = "x"};
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "%s", err.msg);
    int64_t second = new_build(pid, "t");
    cr_assert_eq(claim(), second);
    cr_assert_eq(mg_store_build_set_inputs(st, second, NULL, hexof("h"), hexof("t2"), NULL, &err),
                 0);
    f = (mg_stored_build){.id = second, .status = MG_STORED_SUCCEEDED, .reused_from = first};
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "%s", err.msg);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, first, false, &g, &err), 0);
    cr_assert_str_eq(g.toolchain, hexof("t1"), "a failed build keeps its own");
    mg_stored_build_free(&g);
    cr_assert_eq(mg_store_build_get(st, second, false, &g, &err), 0);
    cr_assert_str_eq(g.toolchain, hexof("t1"), "the reused build's, not its own");
    mg_stored_build_free(&g);
}

/* The list filter `f` gives is exactly `want` (newest first), on one page
 * and in its total; `c` names the case. */
static void assert_list(size_t c, const mg_stored_build_filter *f, const int64_t *want,
                        size_t n_want)
{
    mg_stored_build *bs;
    size_t n;
    int64_t total;
    cr_assert_eq(mg_store_build_list(st, f, 0, 100, &bs, &n, &total, &err), 0, "case %zu: %s", c,
                 err.msg);
    cr_assert_eq(total, (int64_t)n_want, "case %zu: total %lld", c, (long long)total);
    cr_assert_eq(n, n_want, "case %zu: n %zu", c, n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(bs[i].id, want[i], "case %zu row %zu", c, i);
    mg_stored_builds_free(bs, n);
}

/* A queued build with these fields, taken through the queue to succeeded
 * (reusing `reused` when not 0); commit set when not NULL. */
static int64_t searchable_build(int64_t project_id, const char *arch, const char *keys,
                                const char *ref, const char *commit, int64_t config_version,
                                int64_t reused)
{
    mg_stored_build b = {.project_id = project_id,
                         .target = "unix",
                         .arch = (char *)arch,
                         .keys = (char *)keys,
                         .ref = (char *)ref,
                         .config_version = config_version};
    int64_t id = mg_store_build_create(st, &b, 0, &err);
    cr_assert_gt(id, 0, "build_create: %s", err.msg);
    cr_assert_eq(claim(), id);
    cr_assert_eq(mg_store_build_set_inputs(st, id, commit, NULL, NULL, NULL, &err), 0);
    mg_stored_build f = {.id = id, .status = MG_STORED_SUCCEEDED, .reused_from = reused};
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "finish: %s", err.msg);
    return id;
}

/* arch, reused, config_version and the search q; q's %, _ and \ are
 * literal, letters match either case, and hostile text is only text. */
Test(builds, list_filters_arch_reused_version_and_search)
{
    int64_t under = new_project("web_app"), x = new_project("webXapp"), other = new_project("o");
    int64_t v2;
    bool created;
    cr_assert_eq(mg_store_config_put(st, other, "{\"name\":\"o\",\"v\":2}", hexof("o2"), &v2,
                                     &created, &err),
                 0, "%s", err.msg);
    int64_t b1 = searchable_build(under, "x86_64", "{\"mode\":\"fast\"}", "refs/heads/main",
                                  "abcdef0123456789abcdef0123456789abcdef01", 1, 0);
    int64_t b2 = searchable_build(x, "aarch64", "{\"opt\":\"50%\"}", "feature_x", NULL, 1, 0);
    int64_t b3 = searchable_build(other, "x86_64", "{}", "back\\slash", NULL, v2, b1);
    struct {
        mg_stored_build_filter f;
        int64_t want[3];
        size_t n;
    } cases[] = {
        {{.arch = "aarch64"}, {b2}, 1},
        {{.arch = "x86_64"}, {b3, b1}, 2},
        {{.reused = MG_REUSED_ONLY}, {b3}, 1},
        {{.reused = MG_REUSED_NOT}, {b2, b1}, 2},
        {{.config_version = v2}, {b3}, 1},
        {{.config_version = 1, .arch = "x86_64"}, {b1}, 1},
        {{.q = "web_"}, {b1}, 1},    /* not webXapp: _ is no wildcard */
        {{.q = "WEB"}, {b2, b1}, 2}, /* the project name, either case */
        {{.q = "50%"}, {b2}, 1},     /* a key's value */
        {{.q = "%"}, {b2}, 1},
        {{.q = "_"}, {b2, b1}, 2}, /* web_app, feature_x */
        {{.q = "\\"}, {b3}, 1},
        {{.q = "opt=50"}, {b2}, 1},
        {{.q = "mode=fast"}, {b1}, 1},
        {{.q = "ABCDEF01"}, {b1}, 1},  /* a commit prefix */
        {{.q = "0123456789"}, {0}, 0}, /* not a prefix */
        {{.q = "main"}, {b1}, 1},      /* the ref */
        {{.q = "'; DROP TABLE builds; --"}, {0}, 0},
        {{.q = "\xc3\xa9t\xc3\xa9 \""}, {0}, 0},
        {{.q = "web", .reused = MG_REUSED_ONLY}, {0}, 0},
    };
    mg_stored_build *bs;
    size_t n;
    int64_t total;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        assert_list(c, &cases[c].f, cases[c].want, cases[c].n);
    /* a build id, "#" or not: "#N" names nothing else */
    char text[32];
    snprintf(text, sizeof text, "#%lld", (long long)b2);
    mg_stored_build_filter f = {.q = text};
    cr_assert_eq(mg_store_build_list(st, &f, 0, 100, &bs, &n, &total, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(bs[0].id, b2);
    mg_stored_builds_free(bs, n);
    f.q = text + 1;
    cr_assert_eq(mg_store_build_list(st, &f, 0, 100, &bs, &n, &total, &err), 0, "%s", err.msg);
    bool found = false;
    for (size_t i = 0; i < n; i++) found |= bs[i].id == b2;
    cr_assert(found, "build %s not found by its id", text + 1);
    mg_stored_builds_free(bs, n);
}

Test(builds, cancel_queued_running_finished_missing)
{
    int64_t pid = new_project("p");
    int64_t run = new_build(pid, "t");
    int64_t queued = new_build(pid, "t");
    cr_assert_eq(claim(), run);

    mg_stored_status was = MG_STORED_N_STATUS;
    cr_assert_eq(mg_store_build_cancel(st, queued, &was, &err), 0, "%s", err.msg);
    cr_assert_eq(was, MG_STORED_QUEUED);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, queued, false, &g, &err), 0);
    cr_assert_eq(g.status, MG_STORED_CANCELLED);
    cr_assert_gt(g.finished_at, 0);
    cr_assert_eq(g.duration_ms, 0);
    mg_stored_build_free(&g);

    cr_assert_eq(mg_store_build_cancel(st, run, &was, &err), 0, "%s", err.msg);
    cr_assert_eq(was, MG_STORED_RUNNING);
    cr_assert_eq(mg_store_build_get(st, run, false, &g, &err), 0);
    cr_assert_eq(g.status, MG_STORED_CANCELLED);
    cr_assert_geq(g.finished_at, g.started_at);
    cr_assert_geq(g.duration_ms, 0);
    mg_stored_build_free(&g);
    /* the worker finishing it afterwards loses */
    mg_stored_build f = {.id = run, .status = MG_STORED_SUCCEEDED};
    cr_assert_eq(code_of(mg_store_build_finish(st, &f, &err)), MG_E_CONFLICT);
    cr_assert_eq(status_of(run), MG_STORED_CANCELLED);

    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_build_cancel(st, run, &was, &err)), MG_E_CONFLICT);
    cr_assert_eq(was, MG_STORED_CANCELLED);
    cr_assert_gt(strlen(err.msg), 0);

    int64_t done = finished_build(pid, "t", MG_STORED_SUCCEEDED, NULL, "X", 0);
    cr_assert_eq(code_of(mg_store_build_cancel(st, done, &was, &err)), MG_E_CONFLICT);
    cr_assert_eq(was, MG_STORED_SUCCEEDED);
    cr_assert_eq(status_of(done), MG_STORED_SUCCEEDED);

    mg_err_clear(&err);
    cr_assert_eq(code_of(mg_store_build_cancel(st, 9999, NULL, &err)), MG_E_NOT_FOUND);
    cr_assert_gt(strlen(err.msg), 0);
}

Test(builds, list_filters_pages_and_counts)
{
    int64_t p = new_project("p");
    int64_t q = new_project("q");
    int64_t p1 = finished_build(p, "hello", MG_STORED_SUCCEEDED, hexof("h1"), "X", 0);
    int64_t p2 = finished_build(p, "net", MG_STORED_FAILED, hexof("h2"), NULL, 0);
    int64_t q1 = finished_build(q, "hello", MG_STORED_SUCCEEDED, hexof("h3"), "X", 0);
    int64_t q2 = finished_build(q, "hello", MG_STORED_SUCCEEDED, hexof("h4"), "Y", 0);
    int64_t p3 = new_build(p, "hello");
    cr_assert_eq(claim(), p3);
    int64_t p4 = new_build(p, "net");
    int64_t q3 = new_build(q, "net");

    mg_stored_build *bs;
    size_t n;
    int64_t total;
    cr_assert_eq(mg_store_build_list(st, NULL, 0, 100, &bs, &n, &total, &err), 0, "%s", err.msg);
    cr_assert_eq(total, 7);
    cr_assert_eq(n, 7);
    for (size_t i = 1; i < n; i++) cr_assert_gt(bs[i - 1].id, bs[i].id, "newest first");
    cr_assert_str_eq(bs[0].project_name, "q");
    mg_stored_builds_free(bs, n);

    struct {
        mg_stored_build_filter f;
        int64_t want[7];
        size_t n;
    } cases[] = {
        {{.project_id = p}, {p4, p3, p2, p1}, 4},
        {{.project_id = q}, {q3, q2, q1}, 3},
        {{.status_mask = 1u << MG_STORED_SUCCEEDED}, {q2, q1, p1}, 3},
        {{.status_mask = 1u << MG_STORED_QUEUED | 1u << MG_STORED_RUNNING}, {q3, p4, p3}, 3},
        {{.target = "net"}, {q3, p4, p2}, 3},
        {{.image_sha256 = hexof("X")}, {q1, p1}, 2},
        {{.project_id = q, .target = "hello", .status_mask = 1u << MG_STORED_SUCCEEDED},
         {q2, q1},
         2},
        {{.project_id = p, .image_sha256 = hexof("Y")}, {0}, 0},
        {{.target = "nothing"}, {0}, 0},
        {{.status_mask = 1u << MG_STORED_INTERRUPTED}, {0}, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        assert_list(c, &cases[c].f, cases[c].want, cases[c].n);

    /* paging: the total counts the filter, not the page */
    mg_stored_build_filter pf = {.project_id = p};
    cr_assert_eq(mg_store_build_list(st, &pf, 1, 2, &bs, &n, &total, &err), 0);
    cr_assert_eq(total, 4);
    cr_assert_eq(n, 2);
    cr_assert_eq(bs[0].id, p3);
    cr_assert_eq(bs[1].id, p2);
    mg_stored_builds_free(bs, n);
    cr_assert_eq(mg_store_build_list(st, &pf, 4, 2, &bs, &n, &total, &err), 0);
    cr_assert_eq(total, 4);
    cr_assert_eq(n, 0);
    mg_stored_builds_free(bs, n);

    int64_t counts[MG_STORED_N_STATUS];
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0, "%s", err.msg);
    cr_assert_eq(counts[MG_STORED_QUEUED], 2);
    cr_assert_eq(counts[MG_STORED_RUNNING], 1);
    cr_assert_eq(counts[MG_STORED_SUCCEEDED], 3);
    cr_assert_eq(counts[MG_STORED_FAILED], 1);
    cr_assert_eq(counts[MG_STORED_CANCELLED], 0);
    cr_assert_eq(counts[MG_STORED_INTERRUPTED], 0);
}

Test(builds, counts_of_an_empty_store)
{
    int64_t counts[MG_STORED_N_STATUS];
    for (int i = 0; i < MG_STORED_N_STATUS; i++) counts[i] = 99;
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0);
    for (int i = 0; i < MG_STORED_N_STATUS; i++) cr_assert_eq(counts[i], 0);
}

Test(builds, find_reusable_takes_the_oldest_original_success)
{
    int64_t p = new_project("p");
    const char *h = hexof("H");
    char hash[65];
    strcpy(hash, h);
    cr_assert_eq(mg_store_build_find_reusable(st, hash, 0, &err), 0);
    int64_t failed = finished_build(p, "t", MG_STORED_FAILED, hash, NULL, 0);
    (void)failed;
    cr_assert_eq(mg_store_build_find_reusable(st, hash, 0, &err), 0,
                 "a failed build is not reusable");
    int64_t orig = finished_build(p, "t", MG_STORED_SUCCEEDED, hash, "X", 0);
    int64_t reused = finished_build(p, "t", MG_STORED_SUCCEEDED, hash, "X", orig);
    int64_t later = finished_build(p, "t", MG_STORED_SUCCEEDED, hash, "X", 0);
    finished_build(p, "t", MG_STORED_SUCCEEDED, hexof("other"), "Z", 0);
    int64_t running = new_build(p, "t");
    cr_assert_eq(claim(), running);
    cr_assert_eq(mg_store_build_set_inputs(st, running, NULL, hash, NULL, NULL, &err), 0);

    cr_assert_eq(mg_store_build_find_reusable(st, hash, running, &err), orig);
    cr_assert_eq(mg_store_build_find_reusable(st, hash, orig, &err), later,
                 "not itself, and not a build that was itself reused");
    cr_assert_neq(mg_store_build_find_reusable(st, hash, orig, &err), reused);
    cr_assert_eq(mg_store_build_find_reusable(st, hexof("none"), 0, &err), 0);
}

/* A succeeded build of `hash` that ran 10 actions, `hits` of them answered
 * by the cache (0: it ran every one), or that reused build `reused`. */
static int64_t built(int64_t p, const char *hash, const char *image, int64_t hits, int64_t reused)
{
    int64_t id = new_build(p, "t");
    cr_assert_eq(claim(), id, "another build was queued");
    cr_assert_eq(mg_store_build_set_inputs(st, id, NULL, hash, NULL, NULL, &err), 0, "%s", err.msg);
    mg_stored_build f = {.id = id,
                         .status = MG_STORED_SUCCEEDED,
                         .reused_from = reused,
                         .actions = reused ? 0 : 10,
                         .hits = reused ? 0 : hits,
                         .misses = reused ? 0 : 10 - hits,
                         .image_name = "app.img",
                         .image_sha256 = (char *)hexof(image),
                         .image_size = 4096};
    cr_assert_eq(mg_store_build_finish(st, &f, &err), 0, "finish: %s", err.msg);
    return id;
}

/* Whether list `ids` is exactly `want` (n_want ids, ascending). */
static bool ids_are(const int64_t *ids, size_t n, const int64_t *want, size_t n_want)
{
    if (n != n_want) return false;
    for (size_t i = 0; i < n; i++)
        if (ids[i] != want[i]) return false;
    return true;
}

#define IDS(...)                                                                                   \
    ((const int64_t[]){__VA_ARGS__}), sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)
#define NO_IDS NULL, 0

/* Asserts build `id`'s three lists. */
static void lists_are(int64_t id, const int64_t *by, size_t n_by, const int64_t *differs,
                      size_t n_differs, const int64_t *reproduces, size_t n_reproduces)
{
    mg_stored_build b;
    mg_build_siblings sib;
    cr_assert_eq(mg_store_build_get(st, id, false, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_store_build_siblings(st, &b, &sib, &err), 0, "%s", err.msg);
    cr_assert(ids_are(sib.reproduced_by, sib.n_reproduced_by, by, n_by),
              "build %lld: reproduced_by has %zu ids", (long long)id, sib.n_reproduced_by);
    cr_assert(ids_are(sib.differs_from, sib.n_differs_from, differs, n_differs),
              "build %lld: differs_from has %zu ids", (long long)id, sib.n_differs_from);
    cr_assert(ids_are(sib.reproduces, sib.n_reproduces, reproduces, n_reproduces),
              "build %lld: reproduces has %zu ids", (long long)id, sib.n_reproduces);
    mg_build_siblings_free(&sib);
    mg_stored_build_free(&b);
}

Test(builds, siblings_only_a_full_run_reproduces)
{
    int64_t p = new_project("p");
    char hash[65];
    strcpy(hash, hexof("H"));
    int64_t me = built(p, hash, "X", 0, 0);       /* ran every action */
    int64_t same1 = built(p, hash, "X", 0, 0);    /* so did this one */
    int64_t differ1 = built(p, hash, "Y", 0, 0);  /* another image, every action */
    int64_t cached = built(p, hash, "X", 4, 0);   /* took 4 outputs from the cache */
    int64_t cached2 = built(p, hash, "X", 10, 0); /* took all of them */
    int64_t cachedy = built(p, hash, "Y", 3, 0);  /* took 3, made differ1's image */
    int64_t failed = finished_build(p, "t", MG_STORED_FAILED, hash, NULL, 0);
    int64_t reused = built(p, hash, "X", 0, me);      /* copied me's image */
    int64_t other = built(p, hexof("H2"), "X", 0, 0); /* other inputs */

    /* reproduced_by / differs_from: the builds that ran every action;
     * reproduces: when the build itself did, every build with its bytes */
    lists_are(me, IDS(same1), IDS(differ1), IDS(same1, cached, cached2));
    lists_are(same1, IDS(me), IDS(differ1), IDS(me, cached, cached2));
    lists_are(differ1, NO_IDS, IDS(me, same1), IDS(cachedy));
    /* builds that took cached outputs are compared with full runs only */
    lists_are(cached, IDS(me, same1), IDS(differ1), NO_IDS);
    lists_are(cached2, IDS(me, same1), IDS(differ1), NO_IDS);
    lists_are(cachedy, IDS(differ1), IDS(me, same1), NO_IDS);
    /* a reuse copied the bytes, a failed build has none, and a hash alone
     * has nothing to compare with */
    lists_are(reused, NO_IDS, NO_IDS, NO_IDS);
    lists_are(failed, NO_IDS, NO_IDS, NO_IDS);
    lists_are(other, NO_IDS, NO_IDS, NO_IDS);
}

/* The review's case: two builds that took some of each other's cached
 * outputs, then a forced rebuild with the same bytes. */
Test(builds, siblings_forced_rebuild_of_cached_builds)
{
    int64_t p = new_project("p");
    char hash[65];
    strcpy(hash, hexof("H"));
    int64_t a = built(p, hash, "X", 6, 0);
    int64_t b = built(p, hash, "X", 4, 0);
    lists_are(a, NO_IDS, NO_IDS, NO_IDS);
    lists_are(b, NO_IDS, NO_IDS, NO_IDS);
    int64_t forced = built(p, hash, "X", 0, 0);
    lists_are(forced, NO_IDS, NO_IDS, IDS(a, b));
    lists_are(a, IDS(forced), NO_IDS, NO_IDS);
    lists_are(b, IDS(forced), NO_IDS, NO_IDS);
}

Test(builds, queue_position_counts_the_older_queued_builds)
{
    int64_t p = new_project("p");
    int64_t a = new_build(p, "t"), b = new_build(p, "t"), c = new_build(p, "t");
    int64_t pos;
    cr_assert_eq(mg_store_build_queue_position(st, c, &pos, &err), 0, "%s", err.msg);
    cr_assert_eq(pos, 3);
    cr_assert_eq(claim(), a);
    cr_assert_eq(mg_store_build_queue_position(st, b, &pos, &err), 0);
    cr_assert_eq(pos, 1, "the next");
    cr_assert_eq(mg_store_build_queue_position(st, c, &pos, &err), 0);
    cr_assert_eq(pos, 2);
}

Test(builds, log_size_is_set_and_replaced)
{
    int64_t p = new_project("p");
    int64_t id = new_build(p, "t");
    cr_assert_eq(mg_store_set_log_size(st, id, 10, NULL), 0);
    cr_assert_eq(mg_store_set_log_size(st, id, 2048, NULL), 0);
    mg_stored_build g;
    cr_assert_eq(mg_store_build_get(st, id, false, &g, &err), 0);
    cr_assert_eq(g.log_size, 2048);
    mg_stored_build_free(&g);
    /* a log of a build that does not exist is not recorded, and says so */
    cr_assert_eq(mg_store_set_log_size(st, 777, 5, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND, "%s", err.msg);
    cr_assert_eq(code_of(mg_store_build_get(st, 777, false, &g, &err)), MG_E_NOT_FOUND);
}

Test(builds, recover_interrupts_running_and_counts_queued)
{
    int64_t p = new_project("p");
    int64_t done = finished_build(p, "t", MG_STORED_SUCCEEDED, NULL, "X", 0);
    int64_t r1 = new_build(p, "t");
    int64_t r2 = new_build(p, "t");
    cr_assert_eq(claim(), r1);
    cr_assert_eq(claim(), r2);
    int64_t q[3];
    for (int i = 0; i < 3; i++) q[i] = new_build(p, "t");

    int64_t interrupted = -1, requeued = -1;
    cr_assert_eq(mg_store_recover(st, &interrupted, &requeued, &err), 0, "%s", err.msg);
    cr_assert_eq(interrupted, 2);
    cr_assert_eq(requeued, 3);
    int64_t runs[] = {r1, r2};
    for (int i = 0; i < 2; i++) {
        mg_stored_build g;
        cr_assert_eq(mg_store_build_get(st, runs[i], false, &g, &err), 0);
        cr_assert_eq(g.status, MG_STORED_INTERRUPTED);
        cr_assert_geq(g.finished_at, g.started_at);
        cr_assert_geq(g.duration_ms, 0);
        cr_assert_not_null(g.error);
        cr_assert_not_null(strstr(g.error, "interrupted"), "%s", g.error);
        mg_stored_build_free(&g);
    }
    for (int i = 0; i < 3; i++) cr_assert_eq(status_of(q[i]), MG_STORED_QUEUED);
    cr_assert_eq(status_of(done), MG_STORED_SUCCEEDED);

    cr_assert_eq(mg_store_recover(st, &interrupted, &requeued, &err), 0);
    cr_assert_eq(interrupted, 0);
    cr_assert_eq(requeued, 3);
    /* the queue goes on in order */
    cr_assert_eq(claim(), q[0]);
}

Test(builds, recover_after_reopen)
{
    int64_t p = new_project("p");
    int64_t r = new_build(p, "t");
    cr_assert_eq(claim(), r);
    mg_store_close(st);
    st = mg_store_open(dbpath, true, &err);
    cr_assert_not_null(st, "%s", err.msg);
    int64_t interrupted, requeued;
    cr_assert_eq(mg_store_recover(st, &interrupted, &requeued, &err), 0, "%s", err.msg);
    cr_assert_eq(interrupted, 1);
    cr_assert_eq(requeued, 0);
    cr_assert_eq(status_of(r), MG_STORED_INTERRUPTED);
}

/* ---- concurrency -------------------------------------------------------- */

/* every suite of this binary has the same timeout: Criterion 2.4's runner
 * leaks a timer record when they differ, and LeakSanitizer fails the run */
TestSuite(concurrency, .init = setup, .fini = teardown, .timeout = 60);

#define N_THREADS 4
#define N_BUILDS 200

typedef struct claimer {
    pthread_t thread;
    int64_t got[N_BUILDS];
    size_t n;
    int errors;
    mg_err err;
} claimer;

static void *claim_all(void *arg)
{
    claimer *c = arg;
    for (;;) {
        int64_t id = mg_store_build_claim(st, &c->err);
        if (id < 0) {
            c->errors++;
            break;
        }
        if (id == 0) break;
        if (c->n < N_BUILDS) c->got[c->n++] = id;
    }
    mg_store_thread_done(st);
    return NULL;
}

Test(concurrency, every_build_is_claimed_exactly_once)
{
    int64_t p = new_project("p");
    int64_t first = 0, last = 0;
    for (int i = 0; i < N_BUILDS; i++) {
        last = new_build(p, "t");
        if (!first) first = last;
    }
    cr_assert_eq(last - first + 1, N_BUILDS);

    static claimer cs[N_THREADS];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < N_THREADS; i++)
        cr_assert_eq(pthread_create(&cs[i].thread, NULL, claim_all, &cs[i]), 0);
    for (int i = 0; i < N_THREADS; i++) pthread_join(cs[i].thread, NULL);

    static int seen[N_BUILDS];
    memset(seen, 0, sizeof seen);
    size_t total = 0;
    for (int i = 0; i < N_THREADS; i++) {
        cr_assert_eq(cs[i].errors, 0, "thread %d: %s", i, cs[i].err.msg);
        for (size_t j = 0; j < cs[i].n; j++) {
            int64_t id = cs[i].got[j];
            cr_assert(id >= first && id <= last, "claimed a build that was not queued: %lld",
                      (long long)id);
            seen[id - first]++;
            if (j) cr_assert_gt(id, cs[i].got[j - 1], "a thread claims in queue order");
        }
        total += cs[i].n;
    }
    for (int i = 0; i < N_BUILDS; i++)
        cr_assert_eq(seen[i], 1, "build %lld claimed %d times", (long long)(first + i), seen[i]);
    cr_assert_eq(total, N_BUILDS);

    int64_t counts[MG_STORED_N_STATUS];
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0, "%s", err.msg);
    cr_assert_eq(counts[MG_STORED_RUNNING], N_BUILDS);
    cr_assert_eq(counts[MG_STORED_QUEUED], 0);
    cr_assert_eq(claim(), 0);
}

/* Producers queue while consumers claim: nothing lost, nothing twice. */
typedef struct producer {
    pthread_t thread;
    int64_t project;
    int n, errors;
    mg_err err;
} producer;

static void *produce(void *arg)
{
    producer *pr = arg;
    mg_stored_build b = {
        .project_id = pr->project, .target = "t", .arch = "x86_64", .config_version = 1};
    for (int i = 0; i < pr->n; i++)
        if (mg_store_build_create(st, &b, 0, &pr->err) <= 0) pr->errors++;
    mg_store_thread_done(st);
    return NULL;
}

static volatile int producers_done;

static void *claim_until_done(void *arg)
{
    claimer *c = arg;
    for (;;) {
        int done = __atomic_load_n(&producers_done, __ATOMIC_ACQUIRE);
        int64_t id = mg_store_build_claim(st, &c->err);
        if (id < 0) {
            c->errors++;
            break;
        }
        if (id == 0) {
            if (done) break;
            usleep(500);
            continue;
        }
        if (c->n < N_BUILDS) c->got[c->n++] = id;
    }
    mg_store_thread_done(st);
    return NULL;
}

Test(concurrency, producers_and_consumers)
{
    int64_t p = new_project("p");
    static producer prs[2];
    static claimer cs[2];
    memset(prs, 0, sizeof prs);
    memset(cs, 0, sizeof cs);
    producers_done = 0;
    for (int i = 0; i < 2; i++) {
        prs[i].project = p;
        prs[i].n = N_BUILDS / 2;
        cr_assert_eq(pthread_create(&prs[i].thread, NULL, produce, &prs[i]), 0);
        cr_assert_eq(pthread_create(&cs[i].thread, NULL, claim_until_done, &cs[i]), 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(prs[i].thread, NULL);
    __atomic_store_n(&producers_done, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) pthread_join(cs[i].thread, NULL);

    static int seen[N_BUILDS + 1];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(prs[i].errors, 0, "producer %d: %s", i, prs[i].err.msg);
        cr_assert_eq(cs[i].errors, 0, "consumer %d: %s", i, cs[i].err.msg);
        for (size_t j = 0; j < cs[i].n; j++) {
            int64_t id = cs[i].got[j];
            cr_assert(id >= 1 && id <= N_BUILDS, "id %lld", (long long)id);
            seen[id]++;
        }
    }
    for (int id = 1; id <= N_BUILDS; id++)
        cr_assert_eq(seen[id], 1, "build %d claimed %d times", id, seen[id]);
}

/* Builds queued from threads while a delete begins: each one is either
 * among the ids the delete got (and cancelled) or refused; none is left
 * queued, none can be claimed. */
typedef struct racer {
    pthread_t thread;
    int64_t project;
    int64_t got[N_BUILDS];
    int n_ok, n_refused, errors;
    mg_err err;
} racer;

static void *queue_while_deleted(void *arg)
{
    racer *r = arg;
    mg_stored_build b = {
        .project_id = r->project, .target = "t", .arch = "x86_64", .config_version = 1};
    for (int i = 0; i < N_BUILDS; i++) {
        int64_t id = mg_store_build_create(st, &b, 0, &r->err);
        if (id > 0) {
            r->got[r->n_ok] = id;
            __atomic_store_n(&r->n_ok, r->n_ok + 1, __ATOMIC_RELEASE);
        } else if (id == -1 && r->err.code == MG_E_NOT_FOUND) {
            r->n_refused++;
        } else {
            r->errors++;
        }
    }
    mg_store_thread_done(st);
    return NULL;
}

Test(concurrency, delete_begin_while_builds_are_queued)
{
    int64_t p = new_project("p");
    static racer rs[2];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 2; i++) {
        rs[i].project = p;
        cr_assert_eq(pthread_create(&rs[i].thread, NULL, queue_while_deleted, &rs[i]), 0);
    }
    /* begins once builds are being queued, so that some come before it */
    while (__atomic_load_n(&rs[0].n_ok, __ATOMIC_ACQUIRE) +
               __atomic_load_n(&rs[1].n_ok, __ATOMIC_ACQUIRE) <
           20)
        usleep(100);
    int64_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(mg_store_project_delete_begin(st, p, &ids, &n, NULL, &err), 0, "%s", err.msg);
    for (int i = 0; i < 2; i++) pthread_join(rs[i].thread, NULL);
    size_t accepted = 0;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(rs[i].errors, 0, "thread %d: %s", i, rs[i].err.msg);
        cr_assert_eq(rs[i].n_ok + rs[i].n_refused, N_BUILDS);
        accepted += (size_t)rs[i].n_ok;
        for (int j = 0; j < rs[i].n_ok; j++) {
            int64_t id = rs[i].got[j];
            bool listed = false;
            for (size_t k = 0; k < n && !listed; k++) listed = ids[k] == id;
            cr_assert(listed, "build %lld was queued after the delete began", (long long)id);
            cr_assert_eq(status_of(id), MG_STORED_CANCELLED);
        }
    }
    cr_assert_eq(accepted, n, "the delete knows exactly the builds that were queued");
    free(ids);
    cr_assert_eq(claim(), 0);
    int64_t counts[MG_STORED_N_STATUS];
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0, "%s", err.msg);
    cr_assert_eq(counts[MG_STORED_QUEUED], 0);
    cr_assert_eq(counts[MG_STORED_RUNNING], 0);
}

/* A thread that ends without mg_store_thread_done: its connection is
 * closed by the thread-key destructor (LeakSanitizer would see it
 * otherwise), and the store goes on working. */
static void *use_and_leave(void *arg)
{
    (void)arg;
    mg_project *ps;
    size_t n;
    int64_t total = -1;
    if (mg_store_project_list(st, 0, 10, &ps, &n, &total, NULL) == 0) mg_projects_free(ps, n);
    return (void *)(intptr_t)total;
}

Test(concurrency, threads_that_forget_thread_done)
{
    new_project("p");
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        void *ret;
        cr_assert_eq(pthread_create(&t, NULL, use_and_leave, NULL), 0);
        pthread_join(t, &ret);
        cr_assert_eq((intptr_t)ret, 1);
    }
    new_project("q");
}

/* The queue limit holds when several threads queue at once: the count and
 * the insert are one transaction. */
typedef struct limited {
    pthread_t thread;
    int64_t project;
    int created, refused, errors;
    mg_err err;
} limited;

#define QUEUE_LIMIT 50

static void *create_limited(void *arg)
{
    limited *l = arg;
    mg_stored_build b = {
        .project_id = l->project, .target = "t", .arch = "x86_64", .config_version = 1};
    for (int i = 0; i < 40; i++) {
        int64_t r = mg_store_build_create(st, &b, QUEUE_LIMIT, &l->err);
        if (r > 0)
            l->created++;
        else if (r == -1 && l->err.code == MG_E_LIMIT)
            l->refused++;
        else
            l->errors++;
    }
    mg_store_thread_done(st);
    return NULL;
}

Test(concurrency, queue_limit_holds_across_threads)
{
    int64_t p = new_project("p");
    static limited ls[N_THREADS];
    memset(ls, 0, sizeof ls);
    for (int i = 0; i < N_THREADS; i++) {
        ls[i].project = p;
        cr_assert_eq(pthread_create(&ls[i].thread, NULL, create_limited, &ls[i]), 0);
    }
    int created = 0, refused = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(ls[i].thread, NULL);
        cr_assert_eq(ls[i].errors, 0, "thread %d: %s", i, ls[i].err.msg);
        created += ls[i].created;
        refused += ls[i].refused;
    }
    cr_assert_eq(created, QUEUE_LIMIT);
    cr_assert_eq(refused, N_THREADS * 40 - QUEUE_LIMIT);
    int64_t counts[MG_STORED_N_STATUS];
    cr_assert_eq(mg_store_build_counts(st, counts, &err), 0);
    cr_assert_eq(counts[MG_STORED_QUEUED], QUEUE_LIMIT);
}

/* Config versions put from several threads are numbered without gaps or
 * duplicates, and each document keeps its own number. */
typedef struct putter {
    pthread_t thread;
    int64_t project;
    int which, errors;
    int64_t versions[20];
    mg_err err;
} putter;

static void *put_configs(void *arg)
{
    putter *pu = arg;
    for (int i = 0; i < 20; i++) {
        char doc[64], sha[65];
        snprintf(doc, sizeof doc, "{\"thread\":%d,\"i\":%d}", pu->which, i);
        mg_sha256_bytes_hex(doc, strlen(doc), sha);
        bool created = false;
        if (mg_store_config_put(st, pu->project, doc, sha, &pu->versions[i], &created, &pu->err) ||
            !created)
            pu->errors++;
    }
    mg_store_thread_done(st);
    return NULL;
}

Test(concurrency, config_versions_from_many_threads)
{
    int64_t p = new_project("p");
    static putter ps[N_THREADS];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < N_THREADS; i++) {
        ps[i].project = p;
        ps[i].which = i;
        cr_assert_eq(pthread_create(&ps[i].thread, NULL, put_configs, &ps[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(ps[i].thread, NULL);
    static int seen[N_THREADS * 20 + 2];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < N_THREADS; i++) {
        cr_assert_eq(ps[i].errors, 0, "thread %d: %s", i, ps[i].err.msg);
        for (int j = 0; j < 20; j++) {
            int64_t v = ps[i].versions[j];
            cr_assert(v >= 2 && v <= N_THREADS * 20 + 1, "version %lld", (long long)v);
            seen[v]++;
            mg_config_version c;
            cr_assert_eq(mg_store_config_get(st, p, v, &c, &err), 0, "%s", err.msg);
            char doc[64];
            snprintf(doc, sizeof doc, "{\"thread\":%d,\"i\":%d}", i, j);
            cr_assert_str_eq(c.document, doc, "version %lld", (long long)v);
            mg_config_version_free(&c);
        }
    }
    for (int v = 2; v <= N_THREADS * 20 + 1; v++) cr_assert_eq(seen[v], 1, "version %d", v);
}

/* Several threads create a project of the same name: one wins. */
typedef struct creator {
    pthread_t thread;
    const char *sha;
    int64_t result;
    mg_err err;
} creator;

static void *create_same(void *arg)
{
    creator *c = arg;
    mg_project p = {.name = "race", .repo_url = "https://example.org/race.git"};
    c->result = mg_store_project_create(st, &p, "{}", c->sha, &c->err);
    mg_store_thread_done(st);
    return NULL;
}

Test(concurrency, one_of_many_same_name_creates_wins)
{
    char sha[65];
    strcpy(sha, hexof("{}")); /* hexof's buffers are not for threads */
    static creator cs[N_THREADS];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < N_THREADS; i++) {
        cs[i].sha = sha;
        cr_assert_eq(pthread_create(&cs[i].thread, NULL, create_same, &cs[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(cs[i].thread, NULL);
        if (cs[i].result > 0)
            won++;
        else
            cr_assert(cs[i].result == -1 && cs[i].err.code == MG_E_CONFLICT, "thread %d: %lld %s",
                      i, (long long)cs[i].result, cs[i].err.msg);
    }
    cr_assert_eq(won, 1);
}

Test(concurrency, thread_done_then_use_again)
{
    new_project("p");
    mg_store_thread_done(st);
    mg_store_thread_done(st); /* twice: nothing to close */
    new_project("q");         /* a fresh connection for this thread */
    mg_project g;
    cr_assert_eq(mg_store_project_get(st, "p", &g, &err), 0, "%s", err.msg);
    mg_project_free(&g);
    mg_store_close(NULL);
}
