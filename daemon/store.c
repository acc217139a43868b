/*
 * store.c - SQLite storage of the daemon (see store.h for the contract).
 */
#include "daemon/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/num.h"
#include "daemon/tokens.h"

/* 'mgd1' read as a big-endian integer: what `PRAGMA application_id` holds. */
#define MG_STORE_APP_ID 0x6d676431

/* Numbered migrations: index i brings user_version from i to i + 1. */
static const char *const migrations[] = {
    /* 1: the first schema. Ids are AUTOINCREMENT: a deleted project's or
     * build's id must never name another one (CI keeps /builds/N URLs). */
    "CREATE TABLE projects ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  repo_url TEXT, repo_ref TEXT,"
    "  sources TEXT, sources_sha256 TEXT,"
    "  sources_files INTEGER NOT NULL DEFAULT 0,"
    "  sources_bytes INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  CHECK ((repo_url IS NULL) != (sources IS NULL)));"
    "CREATE TABLE config_versions ("
    "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL,"
    "  document TEXT NOT NULL, sha256 TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (project_id, version)) WITHOUT ROWID;"
    "CREATE TABLE builds ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 5),"
    "  target TEXT NOT NULL, arch TEXT NOT NULL, keys TEXT NOT NULL,"
    "  config_version INTEGER NOT NULL,"
    "  ref TEXT, commit_sha TEXT, sources_sha256 TEXT, input_hash TEXT,"
    "  force INTEGER NOT NULL DEFAULT 0,"
    "  rebuild_of INTEGER REFERENCES builds(id) ON DELETE SET NULL,"
    "  reused_from INTEGER REFERENCES builds(id) ON DELETE SET NULL,"
    "  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,"
    "  duration_ms INTEGER,"
    "  actions INTEGER NOT NULL DEFAULT 0, hits INTEGER NOT NULL DEFAULT 0,"
    "  misses INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT, describe TEXT,"
    "  FOREIGN KEY (project_id, config_version)"
    "    REFERENCES config_versions(project_id, version) ON DELETE CASCADE);"
    "CREATE INDEX builds_by_status ON builds(status, id);"
    "CREATE INDEX builds_by_project ON builds(project_id, id);"
    "CREATE INDEX builds_by_input ON builds(input_hash) WHERE input_hash IS NOT NULL;"
    "CREATE INDEX builds_rebuild_of ON builds(rebuild_of) WHERE rebuild_of IS NOT NULL;"
    "CREATE INDEX builds_reused_from ON builds(reused_from) WHERE reused_from IS NOT NULL;"
    "CREATE TABLE artifacts ("
    "  build_id INTEGER PRIMARY KEY REFERENCES builds(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL);"
    "CREATE INDEX artifacts_by_sha ON artifacts(sha256);"
    "CREATE TABLE logs ("
    "  build_id INTEGER PRIMARY KEY REFERENCES builds(id) ON DELETE CASCADE,"
    "  size INTEGER NOT NULL);"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    "  scope INTEGER NOT NULL CHECK (scope BETWEEN 1 AND 3),"
    "  hash TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER);",
    /* 2: a project being deleted (mg_store_project_delete_begin): no build
     * can be queued for it any more while its builds stop and its files
     * go; the row goes last. */
    "ALTER TABLE projects ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;",
    /* 3: what the shared remote cache did for a build (docs/remote-cache.md) */
    "ALTER TABLE builds ADD COLUMN remote_hits INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_misses INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_errors INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_bytes_down INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE builds ADD COLUMN remote_bytes_up INTEGER NOT NULL DEFAULT 0;",
    /* 4: pull workers (docs/workers.md): the token scope `worker` (SQLite
     * cannot alter a CHECK constraint: the table is rebuilt with the same
     * ids, and its AUTOINCREMENT counter carried over so that a revoked
     * token's id never names another), and which worker runs a build
     * under which lease generation */
    "CREATE TABLE tokens_new ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    "  scope INTEGER NOT NULL CHECK (scope BETWEEN 1 AND 4),"
    "  hash TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER);"
    "INSERT INTO tokens_new (id, name, scope, hash, created_at, last_used_at, revoked_at)"
    "  SELECT id, name, scope, hash, created_at, last_used_at, revoked_at FROM tokens;"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'tokens_new', 0"
    "  WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tokens_new');"
    "UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence"
    "  WHERE name = 'tokens'), 0)) WHERE name = 'tokens_new';"
    "DROP TABLE tokens;"
    "ALTER TABLE tokens_new RENAME TO tokens;"
    "ALTER TABLE builds ADD COLUMN worker TEXT;"
    "ALTER TABLE builds ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;",
    /* 5: retention (docs/daemon.md, "Retention and gc"): a project's own
     * number of builds kept per (target, arch) (NULL: the daemon's),
     * builds pinned by a user, the blobs whose builds gc deleted and whose
     * pins it has still to drop (so that a crash between the two leaks
     * nothing: the next gc finds them here), and the indexes the selection
     * and the reference checks use */
    "ALTER TABLE projects ADD COLUMN keep_builds INTEGER"
    "  CHECK (keep_builds IS NULL OR keep_builds >= 0);"
    "ALTER TABLE builds ADD COLUMN pinned_at INTEGER;"
    "CREATE TABLE gc_pending (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE INDEX builds_by_sources ON builds(sources_sha256) WHERE sources_sha256 IS NOT NULL;"
    "CREATE INDEX builds_by_platform ON builds(project_id, target, arch, id);",
    /* 6: the toolchain identity a build's input hash covers (NULL for the
     * builds before, and those that ended before it was known) */
    "ALTER TABLE builds ADD COLUMN toolchain TEXT;",
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* Every statement a connection may prepare, kept prepared per connection. */
#define BUILD_COLUMNS                                                                              \
    "b.id, b.project_id, p.name, b.status, b.target, b.arch, b.keys, b.config_version, b.ref,"     \
    " b.commit_sha, b.sources_sha256, b.input_hash, b.force, b.rebuild_of, b.reused_from,"         \
    " b.created_at, b.started_at, b.finished_at, b.duration_ms, b.actions, b.hits, b.misses,"      \
    " a.name, a.sha256, a.size, b.error, l.size, b.remote_hits, b.remote_misses,"                  \
    " b.remote_errors, b.remote_bytes_down, b.remote_bytes_up, b.worker, b.lease, b.pinned_at,"    \
    " b.toolchain"
#define BUILD_FROM                                                                                 \
    " FROM builds b JOIN projects p ON p.id = b.project_id"                                        \
    " LEFT JOIN artifacts a ON a.build_id = b.id LEFT JOIN logs l ON l.build_id = b.id"
/* ?7 arch, ?8 reused (NULL: either), ?9 config version; ?10 the search
 * as a LIKE pattern's body (escaped with \\), ?11 the build id it names
 * (0: none): see mg_stored_build_filter */
#define BUILD_FILTER                                                                               \
    " WHERE (?1 = 0 OR b.project_id = ?1) AND (?2 = 0 OR ((1 << b.status) & ?2) != 0)"             \
    " AND (?3 IS NULL OR b.target = ?3) AND (?4 IS NULL OR a.sha256 = ?4)"                         \
    " AND (?7 IS NULL OR b.arch = ?7) AND (?8 IS NULL OR (b.reused_from IS NOT NULL) = ?8)"        \
    " AND (?9 = 0 OR b.config_version = ?9)"                                                       \
    " AND (?10 IS NULL OR b.id = ?11 OR b.commit_sha LIKE ?10 || '%' ESCAPE '\\'"                  \
    "  OR b.ref LIKE '%' || ?10 || '%' ESCAPE '\\' OR p.name LIKE '%' || ?10 || '%' ESCAPE '\\'"   \
    "  OR EXISTS (SELECT 1 FROM json_each(b.keys) k"                                               \
    "   WHERE k.key || '=' || k.value LIKE '%' || ?10 || '%' ESCAPE '\\'))"
#define PROJECT_COLUMNS_WITH(sources)                                                              \
    "p.id, p.name, p.repo_url, p.repo_ref, " sources ", p.sources_sha256, p.sources_files,"        \
    " p.sources_bytes, p.created_at, p.updated_at,"                                                \
    " (SELECT max(version) FROM config_versions c WHERE c.project_id = p.id), p.keep_builds"
#define PROJECT_COLUMNS PROJECT_COLUMNS_WITH("p.sources")

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PROJECT_INSERT,
    ST_PROJECT_BY_ID,
    ST_PROJECT_BY_NAME,
    ST_PROJECT_UPDATE,
    ST_PROJECT_ORPHANS,
    ST_PROJECT_DELETE,
    ST_PROJECT_MARK_DELETING,
    ST_PROJECT_CANCEL_BUILDS,
    ST_PROJECT_BUILD_IDS,
    ST_PROJECT_DELETING,
    ST_PROJECT_LIST,
    ST_PROJECT_COUNT,
    ST_CONFIG_INSERT,
    ST_CONFIG_LATEST,
    ST_CONFIG_GET,
    ST_CONFIG_LIST,
    ST_CONFIG_COUNT,
    ST_BUILD_QUEUED_COUNT,
    ST_BUILD_QUEUE_POSITION,
    ST_BUILD_INSERT,
    ST_BUILD_GET,
    ST_BUILD_DESCRIBE,
    ST_BUILD_LIST,
    ST_BUILD_COUNT,
    ST_BUILD_COUNTS,
    ST_BUILD_CLAIM,
    ST_BUILD_QUEUED,
    ST_BUILD_CLAIM_ID,
    ST_BUILD_REQUEUE,
    ST_BUILD_SET_COMMIT,
    ST_BUILD_SET_INPUT,
    ST_BUILD_SET_DESCRIBE,
    ST_BUILD_FINISH,
    ST_ARTIFACT_INSERT,
    ST_BUILD_STATUS,
    ST_BUILD_CANCEL,
    ST_BUILD_REUSABLE,
    ST_BUILD_SIBLINGS,
    ST_BUILD_SAME_INPUTS,
    ST_LOG_SIZE,
    ST_BLOB_ARTIFACT,
    ST_BLOB_SOURCES,
    ST_RECOVER,
    ST_TOKEN_INSERT,
    ST_TOKEN_BY_HASH,
    ST_TOKEN_TOUCH,
    ST_TOKEN_LIST,
    ST_TOKEN_REVOKE,
    ST_TOKEN_COUNT,
    ST_PROJECT_SET_KEEP,
    ST_BUILD_PIN,
    ST_BUILD_ALL_IDS,
    ST_GC_SELECT,
    ST_GC_PENDING_ADD,
    ST_GC_DELETE_BUILD,
    ST_GC_PENDING_LIST,
    ST_GC_PENDING_DONE,
    ST_GC_MIRROR_PROJECTS,
    ST_BUILD_TOTAL,
    ST_PROJECT_SEQ,
    N_STATEMENTS
};

static const char *const statement_sql[N_STATEMENTS] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PROJECT_INSERT] =
        "INSERT INTO projects (name, repo_url, repo_ref, sources, sources_sha256, sources_files,"
        " sources_bytes, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    [ST_PROJECT_BY_ID] = "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.id = ?1",
    [ST_PROJECT_BY_NAME] = "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.name = ?1",
    [ST_PROJECT_UPDATE] = "UPDATE projects SET repo_url = ?2, repo_ref = ?3, sources = ?4,"
                          " sources_sha256 = ?5, sources_files = ?6, sources_bytes = ?7,"
                          " updated_at = ?8 WHERE id = ?1",
    /* blobs only this project's builds use: images, inline-source snapshots */
    [ST_PROJECT_ORPHANS] =
        "SELECT a.sha256 FROM artifacts a JOIN builds b ON b.id = a.build_id"
        " WHERE b.project_id = ?1 AND NOT EXISTS (SELECT 1 FROM artifacts a2"
        " JOIN builds b2 ON b2.id = a2.build_id WHERE a2.sha256 = a.sha256"
        " AND b2.project_id != ?1)"
        " UNION SELECT b.sources_sha256 FROM builds b WHERE b.project_id = ?1"
        " AND b.sources_sha256 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM builds b2"
        " WHERE b2.sources_sha256 = b.sources_sha256 AND b2.project_id != ?1)"
        " AND NOT EXISTS (SELECT 1 FROM projects p2 WHERE p2.sources_sha256 = b.sources_sha256"
        " AND p2.id != ?1)",
    [ST_PROJECT_DELETE] = "DELETE FROM projects WHERE id = ?1",
    [ST_PROJECT_MARK_DELETING] = "UPDATE projects SET deleting = 1 WHERE id = ?1",
    /* every queued and running build of the project at once, no paging */
    [ST_PROJECT_CANCEL_BUILDS] =
        "UPDATE builds SET status = 4, finished_at = ?2,"
        " duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE ?2 - started_at END,"
        " error = 'cancelled: the project is being deleted'"
        " WHERE project_id = ?1 AND status IN (0, 1)",
    [ST_PROJECT_BUILD_IDS] = "SELECT id FROM builds WHERE project_id = ?1 ORDER BY id",
    [ST_PROJECT_DELETING] = "SELECT id FROM projects WHERE deleting != 0 ORDER BY id",
    /* without the trees themselves, as store.h says: a list of projects
     * with big inline sources copied them all (GET /projects fell from
     * 51k to 9.8k req/s with two 365 KB trees) */
    [ST_PROJECT_LIST] =
        "SELECT " PROJECT_COLUMNS_WITH("NULL") " FROM projects p ORDER BY p.id LIMIT ?2 OFFSET ?1",
    [ST_PROJECT_COUNT] = "SELECT count(*) FROM projects",
    [ST_CONFIG_INSERT] = "INSERT INTO config_versions (project_id, version, document, sha256,"
                         " created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CONFIG_LATEST] = "SELECT version, sha256 FROM config_versions WHERE project_id = ?1"
                         " ORDER BY version DESC LIMIT 1",
    [ST_CONFIG_GET] = "SELECT version, document, sha256, created_at FROM config_versions"
                      " WHERE project_id = ?1 AND (?2 = 0 OR version = ?2)"
                      " ORDER BY version DESC LIMIT 1",
    [ST_CONFIG_LIST] = "SELECT version, sha256, created_at FROM config_versions"
                       " WHERE project_id = ?1 ORDER BY version DESC LIMIT ?3 OFFSET ?2",
    [ST_CONFIG_COUNT] = "SELECT count(*) FROM config_versions WHERE project_id = ?1",
    [ST_BUILD_QUEUED_COUNT] = "SELECT count(*) FROM builds WHERE status = 0",
    /* builds_by_status(status, id): a range of the index, no table row */
    [ST_BUILD_QUEUE_POSITION] = "SELECT count(*) FROM builds WHERE status = 0 AND id <= ?1",
    /* nothing is inserted for a project that is gone or being deleted */
    [ST_BUILD_INSERT] = "INSERT INTO builds (project_id, status, target, arch, keys,"
                        " config_version, ref, commit_sha, sources_sha256, force, rebuild_of,"
                        " created_at) SELECT ?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"
                        " FROM projects WHERE id = ?1 AND deleting = 0",
    [ST_BUILD_GET] = "SELECT " BUILD_COLUMNS BUILD_FROM " WHERE b.id = ?1",
    [ST_BUILD_DESCRIBE] = "SELECT describe FROM builds WHERE id = ?1",
    [ST_BUILD_LIST] =
        "SELECT " BUILD_COLUMNS BUILD_FROM BUILD_FILTER " ORDER BY b.id DESC LIMIT ?6 OFFSET ?5",
    [ST_BUILD_COUNT] = "SELECT count(*)" BUILD_FROM BUILD_FILTER,
    [ST_BUILD_COUNTS] = "SELECT status, count(*) FROM builds GROUP BY status",
    [ST_BUILD_CLAIM] =
        "UPDATE builds SET status = 1, started_at = ?1, worker = NULL, lease = lease + 1"
        " WHERE id = (SELECT id FROM builds WHERE status = 0 ORDER BY id LIMIT 1) RETURNING id",
    [ST_BUILD_QUEUED] = "SELECT id, target, arch FROM builds WHERE status = 0 ORDER BY id LIMIT ?1",
    [ST_BUILD_CLAIM_ID] = "UPDATE builds SET status = 1, started_at = ?1, worker = ?3,"
                          " lease = lease + 1 WHERE id = ?2 AND status = 0 RETURNING lease",
    [ST_BUILD_REQUEUE] = "UPDATE builds SET status = 0, started_at = NULL, worker = NULL,"
                         " lease = lease + 1 WHERE id = ?1 AND status = 1 AND lease = ?2"
                         " RETURNING lease",
    [ST_BUILD_SET_COMMIT] = "UPDATE builds SET commit_sha = ?2 WHERE id = ?1",
    [ST_BUILD_SET_INPUT] = "UPDATE builds SET input_hash = ?2, toolchain = ?3 WHERE id = ?1",
    [ST_BUILD_SET_DESCRIBE] = "UPDATE builds SET describe = ?2 WHERE id = ?1",
    /* a reuse ran the toolchain of the build it reused (the same as its
     * own: the input hash covers it; the own one when the other is from an
     * mgd that did not record it) */
    [ST_BUILD_FINISH] =
        "UPDATE builds SET status = ?2, finished_at = ?3, duration_ms = ?3 - started_at,"
        " actions = ?4, hits = ?5, misses = ?6, error = ?7, reused_from = ?8,"
        " remote_hits = ?9, remote_misses = ?10, remote_errors = ?11, remote_bytes_down = ?12,"
        " remote_bytes_up = ?13, toolchain = CASE WHEN ?8 IS NULL THEN toolchain"
        " ELSE coalesce((SELECT r.toolchain FROM builds r WHERE r.id = ?8), toolchain) END"
        " WHERE id = ?1 AND status = 1 AND (?14 = 0 OR lease = ?14)",
    [ST_ARTIFACT_INSERT] = "INSERT OR REPLACE INTO artifacts (build_id, name, sha256, size)"
                           " VALUES (?1, ?2, ?3, ?4)",
    [ST_BUILD_STATUS] = "SELECT status FROM builds WHERE id = ?1",
    [ST_BUILD_CANCEL] =
        "UPDATE builds SET status = 4, finished_at = ?2,"
        " duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE ?2 - started_at END,"
        " error = 'cancelled' WHERE id = ?1 AND status IN (0, 1)",
    [ST_BUILD_REUSABLE] = "SELECT b.id FROM builds b JOIN artifacts a ON a.build_id = b.id"
                          " WHERE b.input_hash = ?1 AND b.status = 2 AND b.reused_from IS NULL"
                          " AND b.id != ?2 ORDER BY b.id LIMIT 1",
    /* the other non-reused succeeded builds of the hash, with whether each
     * ran every action (the SQL twin of mg_stored_build_ran_actions); ?3:
     * the build asked about did, so every one counts (its `reproduces`) */
    [ST_BUILD_SIBLINGS] = "SELECT b.id, a.sha256,"
                          " b.actions > 0 AND b.hits = 0 AND b.remote_hits = 0 AS ran"
                          " FROM builds b JOIN artifacts a"
                          " ON a.build_id = b.id WHERE b.input_hash = ?1 AND b.id != ?2"
                          " AND b.status = 2 AND b.reused_from IS NULL AND (?3 OR ran)"
                          " ORDER BY b.id",
    /* the LIMIT is MG_STORE_SAME_INPUTS_MAX */
    [ST_BUILD_SAME_INPUTS] = "SELECT o.id FROM builds o JOIN builds b ON b.id = ?1"
                             " WHERE o.input_hash = b.input_hash AND o.id != b.id"
                             " AND o.status = 2 AND o.reused_from IS NULL"
                             " ORDER BY o.id DESC LIMIT 100",
    [ST_LOG_SIZE] = "INSERT OR REPLACE INTO logs (build_id, size) VALUES (?1, ?2)",
    [ST_BLOB_ARTIFACT] = "SELECT 1 FROM artifacts WHERE sha256 = ?1 LIMIT 1",
    [ST_BLOB_SOURCES] = "SELECT 1 FROM builds WHERE sources_sha256 = ?1"
                        " UNION ALL SELECT 1 FROM projects WHERE sources_sha256 = ?1 LIMIT 1",
    [ST_RECOVER] = "UPDATE builds SET status = 5, finished_at = ?1,"
                   " duration_ms = ?1 - coalesce(started_at, ?1),"
                   " error = 'interrupted: the daemon stopped while the build ran'"
                   " WHERE status = 1",
    [ST_TOKEN_INSERT] =
        "INSERT INTO tokens (name, scope, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
    [ST_TOKEN_BY_HASH] = "SELECT id, scope, hash, coalesce(last_used_at, 0) FROM tokens"
                         " WHERE hash = ?1 AND revoked_at IS NULL",
    [ST_TOKEN_TOUCH] = "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
    /* ?1: one token's id, 0: all */
    [ST_TOKEN_LIST] = "SELECT id, name, scope, created_at, coalesce(last_used_at, 0) FROM tokens"
                      " WHERE revoked_at IS NULL AND (?1 = 0 OR id = ?1) ORDER BY id",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [ST_TOKEN_COUNT] = "SELECT count(*) FROM tokens",
    [ST_PROJECT_SET_KEEP] = "UPDATE projects SET keep_builds = ?2, updated_at = ?3 WHERE id = ?1",
    /* pinning again keeps the first time */
    [ST_BUILD_PIN] = "UPDATE builds SET pinned_at = CASE WHEN ?2 THEN coalesce(pinned_at, ?3)"
                     " ELSE NULL END WHERE id = ?1",
    [ST_BUILD_ALL_IDS] = "SELECT id FROM builds ORDER BY id",
    /* What retention deletes (store.h, mg_store_gc_collect): every build
     * but those kept. Kept are the unfinished ones, the pinned ones, those
     * of a project being deleted (its delete takes them), the last
     * `keep` finished ones of each (project, target, arch) (`keep` the
     * project's or ?1; 0 keeps all), the newest succeeded one of each, and,
     * recursively, every build that a kept build names in rebuild_of or
     * reused_from (so that what stays never refers to what went). */
    [ST_GC_SELECT] =
        "WITH RECURSIVE"
        " finished AS (SELECT b.id, b.status, coalesce(p.keep_builds, ?1) AS keep,"
        "  row_number() OVER (PARTITION BY b.project_id, b.target, b.arch ORDER BY b.id DESC)"
        "   AS n,"
        "  row_number() OVER (PARTITION BY b.project_id, b.target, b.arch, b.status = 2"
        "   ORDER BY b.id DESC) AS n_status"
        "  FROM builds b JOIN projects p ON p.id = b.project_id WHERE b.status NOT IN (0, 1)),"
        " roots(id) AS (SELECT b.id FROM builds b JOIN projects p ON p.id = b.project_id"
        "  WHERE b.status IN (0, 1) OR b.pinned_at IS NOT NULL OR p.deleting != 0"
        "  UNION SELECT value FROM json_each(?2)"
        "  UNION SELECT id FROM finished WHERE keep = 0 OR n <= keep"
        "  OR (status = 2 AND n_status = 1)),"
        " refs(id, ref) AS (SELECT id, rebuild_of FROM builds WHERE rebuild_of IS NOT NULL"
        "  UNION ALL SELECT id, reused_from FROM builds WHERE reused_from IS NOT NULL),"
        " kept(id) AS (SELECT id FROM roots UNION SELECT r.ref FROM refs r JOIN kept k"
        "  ON r.id = k.id)"
        " SELECT id FROM builds WHERE id NOT IN (SELECT id FROM kept) ORDER BY id",
    /* the blobs a build keeps: its image, its inline tree */
    [ST_GC_PENDING_ADD] = "INSERT OR IGNORE INTO gc_pending (sha256)"
                          " SELECT sha256 FROM artifacts WHERE build_id = ?1"
                          " UNION SELECT sources_sha256 FROM builds WHERE id = ?1"
                          " AND sources_sha256 IS NOT NULL",
    [ST_GC_DELETE_BUILD] = "DELETE FROM builds WHERE id = ?1",
    /* each pending blob, and whether something still (or again) names it */
    [ST_GC_PENDING_LIST] =
        "SELECT g.sha256, EXISTS (SELECT 1 FROM artifacts a WHERE a.sha256 = g.sha256)"
        " OR EXISTS (SELECT 1 FROM builds b WHERE b.sources_sha256 = g.sha256)"
        " OR EXISTS (SELECT 1 FROM projects p WHERE p.sources_sha256 = g.sha256)"
        " FROM gc_pending g ORDER BY g.sha256",
    [ST_GC_PENDING_DONE] = "DELETE FROM gc_pending WHERE sha256 = ?1",
    /* a project's mirror is needed while it has a repository, or a queued
     * or running build that fetches (its sources were not inline) */
    [ST_GC_MIRROR_PROJECTS] =
        "SELECT id FROM projects WHERE repo_url IS NOT NULL"
        " UNION SELECT project_id FROM builds WHERE status IN (0, 1) AND sources_sha256 IS NULL"
        " ORDER BY 1",
    [ST_BUILD_TOTAL] = "SELECT count(*) FROM builds",
    /* the highest project id ever given (AUTOINCREMENT's counter) */
    [ST_PROJECT_SEQ] =
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'projects'), 0)",
};

typedef struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[N_STATEMENTS];
    struct store_conn *next; /* in the store's list, so close() finds them all */
    mg_store *owner;
} store_conn;

struct mg_store {
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    store_conn *conns;
};

int64_t mg_store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mg_store_format_time(int64_t unix_ms, char buf[32])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void conn_close(store_conn *c)
{
    for (int i = 0; i < N_STATEMENTS; i++) sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
    free(c);
}

static void conn_unlink(mg_store *s, store_conn *c)
{
    pthread_mutex_lock(&s->lock);
    for (store_conn **p = &s->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

/* Runs when a thread that used the store ends. */
static void conn_destructor(void *arg)
{
    store_conn *c = arg;
    conn_unlink(c->owner, c);
    conn_close(c);
}

static int exec_sql(sqlite3 *db, const char *sql, mg_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        mg_err_set(e, MG_E_IO, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static sqlite3 *open_db(const char *path, mg_err *e)
{
    sqlite3 *db = NULL;
    /* NOMUTEX: a connection belongs to one thread, SQLite need not lock it */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        mg_err_set(e, MG_E_IO, "cannot open %s: %s", path,
                   db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    if (exec_sql(db,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 " PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
                 e)) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static store_conn *conn_get(mg_store *s)
{
    store_conn *c = pthread_getspecific(s->key);
    if (c) return c;
    mg_err err;
    sqlite3 *db = open_db(s->path, &err);
    if (!db) {
        fprintf(stderr, "mgd: database: %s\n", err.msg);
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        sqlite3_close(db);
        return NULL;
    }
    c->db = db;
    c->owner = s;
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    pthread_setspecific(s->key, c);
    return c;
}

/* The prepared statement `id` of this thread's connection, reset and with
 * its bindings cleared. */
static sqlite3_stmt *stmt(mg_store *s, int id, mg_err *e)
{
    store_conn *c = conn_get(s);
    if (!c) {
        mg_err_set(e, MG_E_IO, "database: cannot open %s", s->path);
        return NULL;
    }
    sqlite3_stmt *st = c->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(c->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
                               NULL) != SQLITE_OK) {
            mg_err_set(e, MG_E_IO, "database: %s", sqlite3_errmsg(c->db));
            return NULL;
        }
        c->stmts[id] = st;
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return st;
}

static const char *db_error(mg_store *s)
{
    store_conn *c = pthread_getspecific(s->key);
    return c ? sqlite3_errmsg(c->db) : "no connection";
}

/* What SQLite said about the last statement of this thread's connection,
 * as a failure of the database: MG_E_NOSPACE when the disk is full (SQLite
 * says SQLITE_FULL when a write found no room, and an I/O error of the
 * shared-memory index or a temporary file keeps the system's ENOSPC),
 * MG_E_IO otherwise. Returns -1. */
static int db_failed(mg_store *s, mg_err *e)
{
    store_conn *c = pthread_getspecific(s->key);
    int rc = c ? sqlite3_extended_errcode(c->db) & 0xff : SQLITE_OK;
    mg_err_code code = MG_E_IO;
    if (rc == SQLITE_FULL ||
        (rc == SQLITE_IOERR && mg_err_code_of_errno(sqlite3_system_errno(c->db)) == MG_E_NOSPACE))
        code = MG_E_NOSPACE;
    return mg_err_set(e, code, "database: %s", db_error(s));
}

/* Steps a statement that returns no row; resets it. */
static int step_done(mg_store *s, sqlite3_stmt *st, mg_err *e)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
    /* only a UNIQUE or PRIMARY KEY clash is a conflict the caller can
     * name; other constraints mean a caller's bug or a missing parent */
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return mg_err_set(e, MG_E_CONFLICT, "%s", db_error(s));
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return mg_err_set(e, MG_E_NOT_FOUND, "what it refers to does not exist (any more)");
    }
    if (rc == SQLITE_CONSTRAINT_CHECK) {
        return mg_err_set(e, MG_E_IO, "database: invalid record: %s", db_error(s));
    }
    return db_failed(s, e);
}

static int run_simple(mg_store *s, int id, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, id, e);
    return st ? step_done(s, st, e) : -1;
}

static int tx_begin(mg_store *s, mg_err *e)
{
    return run_simple(s, ST_BEGIN, e);
}

static int tx_commit(mg_store *s, mg_err *e)
{
    int r = run_simple(s, ST_COMMIT, e);
    if (r) run_simple(s, ST_ROLLBACK, NULL);
    return r;
}

static void tx_rollback(mg_store *s)
{
    run_simple(s, ST_ROLLBACK, NULL);
}

static int changes(mg_store *s)
{
    store_conn *c = pthread_getspecific(s->key);
    return c ? sqlite3_changes(c->db) : 0;
}

static int64_t last_rowid(mg_store *s)
{
    store_conn *c = pthread_getspecific(s->key);
    return c ? sqlite3_last_insert_rowid(c->db) : 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? mg_xstrdup((const char *)t) : NULL;
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

/* ---- open / migrate ----------------------------------------------------- */

static int migrate(sqlite3 *db, mg_err *e)
{
    int64_t app = pragma_int(db, "PRAGMA application_id");
    int64_t ver = pragma_int(db, "PRAGMA user_version");
    int64_t tables = pragma_int(db, "SELECT count(*) FROM sqlite_schema");
    if (app < 0 || ver < 0 || tables < 0) {
        mg_err_set(e, MG_E_IO, "not a readable SQLite database: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (app != MG_STORE_APP_ID && (app != 0 || tables > 0)) {
        mg_err_set(e, MG_E_IO, "this SQLite database does not belong to mgd (application_id %lld)",
                   (long long)app);
        return -1;
    }
    if (ver > (int64_t)N_MIGRATIONS) {
        mg_err_set(
            e, MG_E_IO,
            "the database has schema version %lld; this mgd knows up to %zu: use a newer mgd",
            (long long)ver, N_MIGRATIONS);
        return -1;
    }
    for (size_t v = (size_t)ver; v < N_MIGRATIONS; v++) {
        char tail[128];
        snprintf(tail, sizeof tail, "PRAGMA application_id = %d; PRAGMA user_version = %zu;",
                 MG_STORE_APP_ID, v + 1);
        if (exec_sql(db, "BEGIN IMMEDIATE", e)) return -1;
        if (exec_sql(db, migrations[v], e) || exec_sql(db, tail, e) || exec_sql(db, "COMMIT", e)) {
            exec_sql(db, "ROLLBACK", NULL);
            return -1;
        }
    }
    return 0;
}

static int quick_check(sqlite3 *db, mg_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
        mg_err_set(e, MG_E_IO, "quick_check: %s", sqlite3_errmsg(db));
        return -1;
    }
    int r = 0;
    if (sqlite3_step(st) != SQLITE_ROW) {
        mg_err_set(e, MG_E_IO, "quick_check: %s", sqlite3_errmsg(db));
        r = -1;
    } else {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, "ok")) {
            mg_err_set(e, MG_E_CORRUPT, "the database is damaged (quick_check: %s)", v ? v : "?");
            r = -1;
        }
    }
    sqlite3_finalize(st);
    return r;
}

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/* SQLite keeps global memory statistics behind one mutex that every
 * allocation of every connection takes; mgd does not read them. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

mg_store *mg_store_open(const char *path, bool check, mg_err *e)
{
    pthread_once(&sqlite_once, sqlite_setup);
    sqlite3 *db = open_db(path, e);
    if (!db) return NULL;
    if ((check && quick_check(db, e)) || migrate(db, e)) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_close(db);
    mg_store *s = mg_xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->path = mg_xstrdup(path);
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_key_create(&s->key, conn_destructor)) {
        mg_err_set(e, MG_E_IO, "out of thread keys");
        free(s->path);
        free(s);
        return NULL;
    }
    return s;
}

void mg_store_thread_done(mg_store *s)
{
    store_conn *c = pthread_getspecific(s->key);
    if (!c) return;
    pthread_setspecific(s->key, NULL);
    conn_unlink(s, c);
    conn_close(c);
}

void mg_store_close(mg_store *s)
{
    if (!s) return;
    pthread_setspecific(s->key, NULL);
    /* threads still alive would use freed memory: the caller has joined
     * them; their destructors ran, what is left is ours or leaked */
    store_conn *c = s->conns;
    while (c) {
        store_conn *next = c->next;
        conn_close(c);
        c = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

/* ---- projects ----------------------------------------------------------- */

void mg_project_free(mg_project *p)
{
    if (!p) return;
    free(p->name);
    free(p->repo_url);
    free(p->repo_ref);
    free(p->sources);
    free(p->sources_sha256);
    memset(p, 0, sizeof *p);
}

void mg_projects_free(mg_project *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) mg_project_free(&ps[i]);
    free(ps);
}

static void project_read(sqlite3_stmt *st, mg_project *p)
{
    p->id = col_int(st, 0);
    p->name = col_text(st, 1);
    p->repo_url = col_text(st, 2);
    p->repo_ref = col_text(st, 3);
    p->sources = col_text(st, 4);
    p->sources_sha256 = col_text(st, 5);
    p->sources_files = col_int(st, 6);
    p->sources_bytes = col_int(st, 7);
    p->created_at = col_int(st, 8);
    p->updated_at = col_int(st, 9);
    p->config_version = col_int(st, 10);
    p->keep_builds = sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 : col_int(st, 11);
}

static void project_bind_sources(sqlite3_stmt *st, const mg_project *p, int first)
{
    bind_text(st, first, p->repo_url);
    bind_text(st, first + 1, p->repo_url ? p->repo_ref : NULL);
    bind_text(st, first + 2, p->repo_url ? NULL : p->sources);
    bind_text(st, first + 3, p->repo_url ? NULL : p->sources_sha256);
    sqlite3_bind_int64(st, first + 4, p->repo_url ? 0 : p->sources_files);
    sqlite3_bind_int64(st, first + 5, p->repo_url ? 0 : p->sources_bytes);
}

int64_t mg_store_project_create(mg_store *s, const mg_project *p, const char *config,
                                const char *config_sha256, mg_err *e)
{
    mg_err own; /* the code of a failed insert decides the message */
    if (!e) e = &own;
    if (tx_begin(s, e)) return -1;
    int64_t now = mg_store_now_ms();
    sqlite3_stmt *st = stmt(s, ST_PROJECT_INSERT, e);
    if (!st) goto fail;
    bind_text(st, 1, p->name);
    project_bind_sources(st, p, 2);
    sqlite3_bind_int64(st, 8, now);
    if (step_done(s, st, e)) {
        if (e->code == MG_E_CONFLICT)
            mg_err_set(e, MG_E_CONFLICT, "a project named '%s' exists", p->name);
        else if (!p->repo_url && !p->sources)
            mg_err_set(e, MG_E_INVALID, "a project needs a repo or inline sources");
        goto fail;
    }
    int64_t id = last_rowid(s);
    if (!(st = stmt(s, ST_CONFIG_INSERT, e))) goto fail;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, 1);
    bind_text(st, 3, config);
    bind_text(st, 4, config_sha256);
    sqlite3_bind_int64(st, 5, now);
    if (step_done(s, st, e)) goto fail;
    if (tx_commit(s, e)) return -1;
    return id;
fail:
    tx_rollback(s);
    return -1;
}

static int project_get_by(mg_store *s, int which, int64_t id, const char *name, mg_project *out,
                          mg_err *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(s, which, e);
    if (!st) return -1;
    if (name)
        bind_text(st, 1, name);
    else
        sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        project_read(st, out);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        return mg_err_set(e, MG_E_NOT_FOUND, "no such project");
    }
    db_failed(s, e);
    return -1;
}

int mg_store_project_get_id(mg_store *s, int64_t id, mg_project *out, mg_err *e)
{
    return project_get_by(s, ST_PROJECT_BY_ID, id, NULL, out, e);
}

int mg_store_project_get(mg_store *s, const char *ref, mg_project *out, mg_err *e)
{
    bool digits = ref[0] != 0 && strlen(ref) <= 18;
    for (const char *c = ref; *c && digits; c++) digits = *c >= '0' && *c <= '9';
    if (digits) return mg_store_project_get_id(s, strtoll(ref, NULL, 10), out, e);
    return project_get_by(s, ST_PROJECT_BY_NAME, 0, ref, out, e);
}

int mg_store_project_update_sources(mg_store *s, const mg_project *p, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, ST_PROJECT_UPDATE, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, p->id);
    project_bind_sources(st, p, 2);
    sqlite3_bind_int64(st, 8, mg_store_now_ms());
    if (step_done(s, st, e)) return -1;
    if (changes(s) == 0) {
        return mg_err_set(e, MG_E_NOT_FOUND, "no such project");
    }
    return 0;
}

int mg_store_project_delete(mg_store *s, int64_t id, char ***orphans, size_t *n_orphans, mg_err *e)
{
    *orphans = NULL;
    *n_orphans = 0;
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_PROJECT_ORPHANS, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n_orphans == cap) {
            cap = cap ? cap * 2 : 8;
            *orphans = mg_xrealloc(*orphans, cap * sizeof **orphans);
        }
        (*orphans)[(*n_orphans)++] = col_text(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        goto fail;
    }
    if (!(st = stmt(s, ST_PROJECT_DELETE, e))) goto fail;
    sqlite3_bind_int64(st, 1, id);
    if (step_done(s, st, e)) goto fail;
    if (changes(s) == 0) {
        tx_rollback(s);
        for (size_t i = 0; i < *n_orphans; i++) free((*orphans)[i]);
        free(*orphans);
        *orphans = NULL;
        *n_orphans = 0;
        return mg_err_set(e, MG_E_NOT_FOUND, "no such project");
    }
    if (tx_commit(s, e)) goto fail_nort;
    return 0;
fail:
    tx_rollback(s);
fail_nort:
    for (size_t i = 0; i < *n_orphans; i++) free((*orphans)[i]);
    free(*orphans);
    *orphans = NULL;
    *n_orphans = 0;
    return -1;
}

/* The ids a statement returns (column 0), after binding `arg` to ?1 when
 * not 0. */
static int read_ids(mg_store *s, int which, int64_t arg, int64_t **ids, size_t *n, mg_err *e)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, which, e);
    if (!st) return -1;
    if (arg) sqlite3_bind_int64(st, 1, arg);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *ids = mg_xrealloc(*ids, cap * sizeof **ids);
        }
        (*ids)[(*n)++] = col_int(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        free(*ids);
        *ids = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int mg_store_project_delete_begin(mg_store *s, int64_t id, int64_t **builds, size_t *n_builds,
                                  int64_t *cancelled, mg_err *e)
{
    *builds = NULL;
    *n_builds = 0;
    if (cancelled) *cancelled = 0;
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_PROJECT_MARK_DELETING, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, id);
    if (step_done(s, st, e)) goto fail;
    if (changes(s) == 0) {
        tx_rollback(s);
        return mg_err_set(e, MG_E_NOT_FOUND, "no such project");
    }
    if (!(st = stmt(s, ST_PROJECT_CANCEL_BUILDS, e))) goto fail;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, mg_store_now_ms());
    if (step_done(s, st, e)) goto fail;
    if (cancelled) *cancelled = changes(s);
    if (read_ids(s, ST_PROJECT_BUILD_IDS, id, builds, n_builds, e)) goto fail;
    if (tx_commit(s, e)) goto fail_nort;
    return 0;
fail:
    tx_rollback(s);
fail_nort:
    free(*builds);
    *builds = NULL;
    *n_builds = 0;
    if (cancelled) *cancelled = 0;
    return -1;
}

int mg_store_project_list_deleting(mg_store *s, int64_t **ids, size_t *n, mg_err *e)
{
    return read_ids(s, ST_PROJECT_DELETING, 0, ids, n, e);
}

static int count_of(mg_store *s, int which, int64_t arg, int64_t *total, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, which, e);
    if (!st) return -1;
    if (arg) sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? col_int(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        db_failed(s, e);
        return -1;
    }
    return 0;
}

int mg_store_project_list(mg_store *s, int64_t offset, int64_t limit, mg_project **out, size_t *n,
                          int64_t *total, mg_err *e)
{
    *out = NULL;
    *n = 0;
    if (count_of(s, ST_PROJECT_COUNT, 0, total, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_PROJECT_LIST, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, offset);
    sqlite3_bind_int64(st, 2, limit);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = mg_xrealloc(*out, cap * sizeof **out);
        }
        memset(&(*out)[*n], 0, sizeof **out);
        project_read(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        mg_projects_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* ---- config versions ---------------------------------------------------- */

void mg_config_version_free(mg_config_version *c)
{
    if (!c) return;
    free(c->document);
    free(c->sha256);
    memset(c, 0, sizeof *c);
}

int mg_store_config_put(mg_store *s, int64_t project_id, const char *document, const char *sha256,
                        int64_t *version, bool *created, mg_err *e)
{
    *created = false;
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_CONFIG_LATEST, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, project_id);
    int64_t latest = 0;
    bool same = false;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        latest = col_int(st, 0);
        const char *sha = (const char *)sqlite3_column_text(st, 1);
        same = sha && !strcmp(sha, sha256);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_failed(s, e);
        goto fail;
    }
    if (latest == 0) {
        tx_rollback(s);
        return mg_err_set(e, MG_E_NOT_FOUND, "no such project");
    }
    if (same) {
        tx_rollback(s);
        *version = latest;
        return 0;
    }
    if (!(st = stmt(s, ST_CONFIG_INSERT, e))) goto fail;
    sqlite3_bind_int64(st, 1, project_id);
    sqlite3_bind_int64(st, 2, latest + 1);
    bind_text(st, 3, document);
    bind_text(st, 4, sha256);
    sqlite3_bind_int64(st, 5, mg_store_now_ms());
    if (step_done(s, st, e)) goto fail;
    if (tx_commit(s, e)) return -1;
    *version = latest + 1;
    *created = true;
    return 0;
fail:
    tx_rollback(s);
    return -1;
}

int mg_store_config_get(mg_store *s, int64_t project_id, int64_t version, mg_config_version *out,
                        mg_err *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(s, ST_CONFIG_GET, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, project_id);
    sqlite3_bind_int64(st, 2, version);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->project_id = project_id;
        out->version = col_int(st, 0);
        out->document = col_text(st, 1);
        out->sha256 = col_text(st, 2);
        out->created_at = col_int(st, 3);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) {
        return mg_err_set(e, MG_E_NOT_FOUND, "no config version %lld", (long long)version);
    }
    db_failed(s, e);
    return -1;
}

int mg_store_config_list(mg_store *s, int64_t project_id, int64_t offset, int64_t limit,
                         mg_config_version **out, size_t *n, int64_t *total, mg_err *e)
{
    *out = NULL;
    *n = 0;
    if (count_of(s, ST_CONFIG_COUNT, project_id, total, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_CONFIG_LIST, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, project_id);
    sqlite3_bind_int64(st, 2, offset);
    sqlite3_bind_int64(st, 3, limit);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = mg_xrealloc(*out, cap * sizeof **out);
        }
        mg_config_version *c = &(*out)[(*n)++];
        memset(c, 0, sizeof *c);
        c->project_id = project_id;
        c->version = col_int(st, 0);
        c->sha256 = col_text(st, 1);
        c->created_at = col_int(st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        for (size_t i = 0; i < *n; i++) mg_config_version_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* ---- builds ------------------------------------------------------------- */

static const char *const status_names[MG_STORED_N_STATUS] = {
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted",
};

const char *mg_stored_status_name(mg_stored_status st)
{
    return (unsigned)st < MG_STORED_N_STATUS ? status_names[st] : "unknown";
}

int mg_stored_status_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < MG_STORED_N_STATUS; i++)
        if (!strcmp(name, status_names[i])) return i;
    return -1;
}

bool mg_stored_status_terminal(mg_stored_status st)
{
    return st != MG_STORED_QUEUED && st != MG_STORED_RUNNING;
}

void mg_stored_build_free(mg_stored_build *b)
{
    if (!b) return;
    free(b->project_name);
    free(b->target);
    free(b->arch);
    free(b->keys);
    free(b->ref);
    free(b->commit);
    free(b->sources_sha256);
    free(b->input_hash);
    free(b->image_name);
    free(b->image_sha256);
    free(b->error);
    free(b->describe);
    free(b->worker);
    free(b->toolchain);
    memset(b, 0, sizeof *b);
}

void mg_stored_builds_free(mg_stored_build *bs, size_t n)
{
    for (size_t i = 0; i < n; i++) mg_stored_build_free(&bs[i]);
    free(bs);
}

static void build_read(sqlite3_stmt *st, mg_stored_build *b)
{
    memset(b, 0, sizeof *b);
    b->id = col_int(st, 0);
    b->project_id = col_int(st, 1);
    b->project_name = col_text(st, 2);
    b->status = (mg_stored_status)col_int(st, 3);
    b->target = col_text(st, 4);
    b->arch = col_text(st, 5);
    b->keys = col_text(st, 6);
    b->config_version = col_int(st, 7);
    b->ref = col_text(st, 8);
    b->commit = col_text(st, 9);
    b->sources_sha256 = col_text(st, 10);
    b->input_hash = col_text(st, 11);
    b->force = col_int(st, 12) != 0;
    b->rebuild_of = col_int(st, 13);
    b->reused_from = col_int(st, 14);
    b->created_at = col_int(st, 15);
    b->started_at = col_int(st, 16);
    b->finished_at = col_int(st, 17);
    b->duration_ms = sqlite3_column_type(st, 18) == SQLITE_NULL ? -1 : col_int(st, 18);
    b->actions = col_int(st, 19);
    b->hits = col_int(st, 20);
    b->misses = col_int(st, 21);
    b->image_name = col_text(st, 22);
    b->image_sha256 = col_text(st, 23);
    b->image_size = col_int(st, 24);
    b->error = col_text(st, 25);
    b->log_size = col_int(st, 26);
    b->remote_hits = col_int(st, 27);
    b->remote_misses = col_int(st, 28);
    b->remote_errors = col_int(st, 29);
    b->remote_bytes_down = col_int(st, 30);
    b->remote_bytes_up = col_int(st, 31);
    b->worker = col_text(st, 32);
    b->lease = col_int(st, 33);
    b->pinned_at = col_int(st, 34);
    b->toolchain = col_text(st, 35);
}

int64_t mg_store_build_create(mg_store *s, const mg_stored_build *b, int64_t max_queued, mg_err *e)
{
    mg_err own; /* the code of a failed insert decides the message */
    if (!e) e = &own;
    if (tx_begin(s, e)) return -1;
    int64_t queued = 0;
    if (count_of(s, ST_BUILD_QUEUED_COUNT, 0, &queued, e)) goto fail;
    if (max_queued > 0 && queued >= max_queued) {
        tx_rollback(s);
        return mg_err_set(e, MG_E_LIMIT, "the queue is full (%lld builds waiting); try again later",
                          (long long)queued);
    }
    sqlite3_stmt *st = stmt(s, ST_BUILD_INSERT, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, b->project_id);
    bind_text(st, 2, b->target);
    bind_text(st, 3, b->arch);
    bind_text(st, 4, b->keys ? b->keys : "{}");
    sqlite3_bind_int64(st, 5, b->config_version);
    bind_text(st, 6, b->ref);
    bind_text(st, 7, b->commit);
    bind_text(st, 8, b->sources_sha256);
    sqlite3_bind_int(st, 9, b->force);
    if (b->rebuild_of)
        sqlite3_bind_int64(st, 10, b->rebuild_of);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, mg_store_now_ms());
    if (step_done(s, st, e)) {
        tx_rollback(s);
        if (e->code == MG_E_NOT_FOUND)
            mg_err_set(e, MG_E_NOT_FOUND,
                       "no such project, config version or build to rebuild (deleted meanwhile)");
        return -1;
    }
    if (changes(s) == 0) {
        tx_rollback(s);
        return mg_err_set(e, MG_E_NOT_FOUND, "no such project (or it is being deleted)");
    }
    int64_t id = last_rowid(s);
    if (tx_commit(s, e)) return -1;
    return id;
fail:
    tx_rollback(s);
    return -1;
}

int mg_store_build_get(mg_store *s, int64_t id, bool with_describe, mg_stored_build *out, mg_err *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(s, ST_BUILD_GET, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) build_read(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        return mg_err_set(e, MG_E_NOT_FOUND, "no such build");
    }
    if (rc != SQLITE_ROW) {
        db_failed(s, e);
        return -1;
    }
    if (with_describe) {
        if (!(st = stmt(s, ST_BUILD_DESCRIBE, e))) {
            mg_stored_build_free(out);
            return -1;
        }
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) out->describe = col_text(st, 0);
        sqlite3_reset(st);
    }
    return 0;
}

/* The search text as the body of a LIKE pattern: %, _ and the escape
 * character itself match only themselves. */
static char *like_escape(const char *text)
{
    char *out = mg_xmalloc(2 * strlen(text) + 1), *o = out;
    for (const char *p = text; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\') *o++ = '\\';
        *o++ = *p;
    }
    *o = 0;
    return out;
}

static void bind_filter(sqlite3_stmt *st, const mg_stored_build_filter *f)
{
    static const mg_stored_build_filter none = {0};
    if (!f) f = &none;
    sqlite3_bind_int64(st, 1, f->project_id);
    sqlite3_bind_int64(st, 2, f->status_mask);
    bind_text(st, 3, f->target);
    bind_text(st, 4, f->image_sha256);
    bind_text(st, 7, f->arch);
    if (f->reused != MG_REUSED_ANY) sqlite3_bind_int(st, 8, f->reused == MG_REUSED_ONLY);
    sqlite3_bind_int64(st, 9, f->config_version);
    if (f->q && *f->q) {
        char *pattern = like_escape(f->q);
        sqlite3_bind_text(st, 10, pattern, -1, free);
        /* "12" or "#12" names build 12 too */
        int64_t id = 0;
        mg_parse_i64(f->q + (f->q[0] == '#'), 1, INT64_MAX, &id);
        sqlite3_bind_int64(st, 11, id);
    }
}

int mg_store_build_list(mg_store *s, const mg_stored_build_filter *f, int64_t offset, int64_t limit,
                        mg_stored_build **out, size_t *n, int64_t *total, mg_err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, ST_BUILD_COUNT, e);
    if (!st) return -1;
    bind_filter(st, f);
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? col_int(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        db_failed(s, e);
        return -1;
    }
    if (!(st = stmt(s, ST_BUILD_LIST, e))) return -1;
    bind_filter(st, f);
    sqlite3_bind_int64(st, 5, offset);
    sqlite3_bind_int64(st, 6, limit);
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = mg_xrealloc(*out, cap * sizeof **out);
        }
        build_read(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        mg_stored_builds_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int mg_store_build_counts(mg_store *s, int64_t counts[MG_STORED_N_STATUS], mg_err *e)
{
    memset(counts, 0, sizeof(int64_t) * MG_STORED_N_STATUS);
    sqlite3_stmt *st = stmt(s, ST_BUILD_COUNTS, e);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t status = col_int(st, 0);
        if (status >= 0 && status < MG_STORED_N_STATUS) counts[status] = col_int(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        return -1;
    }
    return 0;
}

int64_t mg_store_build_claim(mg_store *s, mg_err *e)
{
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_BUILD_CLAIM, e);
    if (!st) {
        tx_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, mg_store_now_ms());
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? col_int(st, 0) : 0;
    if (rc == SQLITE_ROW) rc = sqlite3_step(st); /* RETURNING finishes on the next step */
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        tx_rollback(s);
        return -1;
    }
    if (tx_commit(s, e)) return -1;
    return id;
}

static int set_text(mg_store *s, int which, int64_t id, const char *v, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, which, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, v);
    return step_done(s, st, e);
}

int mg_store_build_set_inputs(mg_store *s, int64_t id, const char *commit, const char *input_hash,
                              const char *toolchain, const char *describe, mg_err *e)
{
    /* autocommit statements: each is its own short write transaction */
    if (commit && set_text(s, ST_BUILD_SET_COMMIT, id, commit, e)) return -1;
    if (input_hash) {
        sqlite3_stmt *st = stmt(s, ST_BUILD_SET_INPUT, e);
        if (!st) return -1;
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, input_hash);
        bind_text(st, 3, toolchain);
        if (step_done(s, st, e)) return -1;
    }
    if (describe && set_text(s, ST_BUILD_SET_DESCRIBE, id, describe, e)) return -1;
    return 0;
}

int mg_store_build_finish(mg_store *s, const mg_stored_build *b, mg_err *e)
{
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_BUILD_FINISH, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, b->id);
    sqlite3_bind_int(st, 2, (int)b->status);
    sqlite3_bind_int64(st, 3, mg_store_now_ms());
    sqlite3_bind_int64(st, 4, b->actions);
    sqlite3_bind_int64(st, 5, b->hits);
    sqlite3_bind_int64(st, 6, b->misses);
    bind_text(st, 7, b->error);
    if (b->reused_from)
        sqlite3_bind_int64(st, 8, b->reused_from);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_int64(st, 9, b->remote_hits);
    sqlite3_bind_int64(st, 10, b->remote_misses);
    sqlite3_bind_int64(st, 11, b->remote_errors);
    sqlite3_bind_int64(st, 12, b->remote_bytes_down);
    sqlite3_bind_int64(st, 13, b->remote_bytes_up);
    sqlite3_bind_int64(st, 14, b->lease);
    if (step_done(s, st, e)) goto fail;
    if (changes(s) == 0) {
        tx_rollback(s);
        if (b->lease)
            return mg_err_set(e, MG_E_CONFLICT,
                              "build %lld is no longer running under lease %lld (it expired and "
                              "was queued again, or the build ended)",
                              (long long)b->id, (long long)b->lease);
        return mg_err_set(e, MG_E_CONFLICT, "build %lld is no longer running", (long long)b->id);
    }
    if (b->status == MG_STORED_SUCCEEDED && b->image_sha256) {
        if (!(st = stmt(s, ST_ARTIFACT_INSERT, e))) goto fail;
        sqlite3_bind_int64(st, 1, b->id);
        bind_text(st, 2, b->image_name);
        bind_text(st, 3, b->image_sha256);
        sqlite3_bind_int64(st, 4, b->image_size);
        if (step_done(s, st, e)) goto fail;
    }
    if (!(st = stmt(s, ST_LOG_SIZE, e))) goto fail;
    sqlite3_bind_int64(st, 1, b->id);
    sqlite3_bind_int64(st, 2, b->log_size);
    if (step_done(s, st, e)) goto fail;
    return tx_commit(s, e);
fail:
    tx_rollback(s);
    return -1;
}

int mg_store_build_cancel(mg_store *s, int64_t id, mg_stored_status *was, mg_err *e)
{
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_BUILD_STATUS, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    int64_t status = rc == SQLITE_ROW ? col_int(st, 0) : -1;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        tx_rollback(s);
        return mg_err_set(e, MG_E_NOT_FOUND, "no such build");
    }
    if (rc != SQLITE_ROW) {
        db_failed(s, e);
        goto fail;
    }
    if (was) *was = (mg_stored_status)status;
    if (mg_stored_status_terminal((mg_stored_status)status)) {
        tx_rollback(s);
        return mg_err_set(e, MG_E_CONFLICT, "build %lld has already finished (%s)", (long long)id,
                          mg_stored_status_name((mg_stored_status)status));
    }
    if (!(st = stmt(s, ST_BUILD_CANCEL, e))) goto fail;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, mg_store_now_ms());
    if (step_done(s, st, e)) goto fail;
    return tx_commit(s, e);
fail:
    tx_rollback(s);
    return -1;
}

int64_t mg_store_build_find_reusable(mg_store *s, const char *input_hash, int64_t not_id, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, ST_BUILD_REUSABLE, e);
    if (!st) return -1;
    bind_text(st, 1, input_hash);
    sqlite3_bind_int64(st, 2, not_id);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? col_int(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_failed(s, e);
        return -1;
    }
    return id;
}

bool mg_stored_build_ran_actions(const mg_stored_build *b)
{
    return !b->reused_from && b->actions > 0 && b->hits == 0 && b->remote_hits == 0;
}

static void push_id(int64_t **list, size_t *n, int64_t id)
{
    /* a power of two past 4: grow when n reaches one */
    if (*n >= 4 ? (*n & (*n - 1)) == 0 : *n == 0)
        *list = mg_xrealloc(*list, (*n < 4 ? 4 : *n * 2) * sizeof **list);
    (*list)[(*n)++] = id;
}

void mg_build_siblings_free(mg_build_siblings *sib)
{
    free(sib->reproduced_by);
    free(sib->differs_from);
    free(sib->reproduces);
    *sib = (mg_build_siblings){0};
}

int mg_store_build_siblings(mg_store *s, const mg_stored_build *b, mg_build_siblings *out,
                            mg_err *e)
{
    *out = (mg_build_siblings){0};
    if (!b->input_hash || b->status != MG_STORED_SUCCEEDED || !b->image_sha256 || b->reused_from)
        return 0;
    sqlite3_stmt *st = stmt(s, ST_BUILD_SIBLINGS, e);
    if (!st) return -1;
    bool me_ran = mg_stored_build_ran_actions(b);
    bind_text(st, 1, b->input_hash);
    sqlite3_bind_int64(st, 2, b->id);
    sqlite3_bind_int(st, 3, me_ran);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = col_int(st, 0);
        const char *sha = (const char *)sqlite3_column_text(st, 1);
        bool eq = sha && !strcmp(sha, b->image_sha256);
        if (sqlite3_column_int(st, 2)) {
            if (eq)
                push_id(&out->reproduced_by, &out->n_reproduced_by, id);
            else
                push_id(&out->differs_from, &out->n_differs_from, id);
        }
        if (me_ran && eq) push_id(&out->reproduces, &out->n_reproduces, id);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        mg_build_siblings_free(out);
        return -1;
    }
    return 0;
}

int mg_store_build_same_inputs(mg_store *s, int64_t id, int64_t **ids, size_t *n, mg_err *e)
{
    return read_ids(s, ST_BUILD_SAME_INPUTS, id, ids, n, e);
}

int mg_store_set_log_size(mg_store *s, int64_t id, int64_t size, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, ST_LOG_SIZE, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, size);
    return step_done(s, st, e);
}

int mg_store_blob_used(mg_store *s, const char *sha256, bool artifact, bool *used, mg_err *e)
{
    *used = true;
    sqlite3_stmt *st = stmt(s, artifact ? ST_BLOB_ARTIFACT : ST_BLOB_SOURCES, e);
    if (!st) return -1;
    bind_text(st, 1, sha256);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_failed(s, e);
    *used = rc == SQLITE_ROW;
    return 0;
}

int mg_store_build_queue_position(mg_store *s, int64_t id, int64_t *position, mg_err *e)
{
    return count_of(s, ST_BUILD_QUEUE_POSITION, id, position, e);
}

int mg_store_recover(mg_store *s, int64_t *interrupted, int64_t *requeued, mg_err *e)
{
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_RECOVER, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, mg_store_now_ms());
    if (step_done(s, st, e)) goto fail;
    *interrupted = changes(s);
    if (count_of(s, ST_BUILD_QUEUED_COUNT, 0, requeued, e)) goto fail;
    return tx_commit(s, e);
fail:
    tx_rollback(s);
    return -1;
}

int mg_store_build_queued(mg_store *s, size_t limit, mg_queued_build **out, size_t *n, mg_err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, ST_BUILD_QUEUED, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, (int64_t)limit);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = mg_xrealloc(*out, cap * sizeof **out);
        }
        mg_queued_build *q = &(*out)[(*n)++];
        q->id = col_int(st, 0);
        snprintf(q->target, sizeof q->target, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(q->arch, sizeof q->arch, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* One UPDATE ... RETURNING lease in a write transaction: the lease, 0
 * when no row changed, -1 on failure. */
static int64_t lease_update(mg_store *s, sqlite3_stmt *st, mg_err *e)
{
    int rc = sqlite3_step(st);
    int64_t lease = rc == SQLITE_ROW ? col_int(st, 0) : 0;
    if (rc == SQLITE_ROW) rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        tx_rollback(s);
        return -1;
    }
    if (tx_commit(s, e)) return -1;
    return lease;
}

int64_t mg_store_build_claim_id(mg_store *s, int64_t id, const char *worker, mg_err *e)
{
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_BUILD_CLAIM_ID, e);
    if (!st) {
        tx_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, mg_store_now_ms());
    sqlite3_bind_int64(st, 2, id);
    bind_text(st, 3, worker);
    return lease_update(s, st, e);
}

int64_t mg_store_build_requeue(mg_store *s, int64_t id, int64_t lease, mg_err *e)
{
    if (tx_begin(s, e)) return -1;
    sqlite3_stmt *st = stmt(s, ST_BUILD_REQUEUE, e);
    if (!st) {
        tx_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, lease);
    int64_t r = lease_update(s, st, e);
    if (r == 0)
        return mg_err_set(e, MG_E_CONFLICT, "build %lld is no longer running under lease %lld",
                          (long long)id, (long long)lease);
    return r;
}

/* ---- tokens ------------------------------------------------------------- */

static const char *const scope_names[] = {"none", "read", "write", "admin", "worker", "any"};

const char *mg_scope_name(mg_scope s)
{
    return (unsigned)s <= MG_SCOPE_ANY ? scope_names[s] : "none";
}

bool mg_scope_allows(mg_scope have, mg_scope need)
{
    if (need == MG_SCOPE_NONE) return true;
    if (need == MG_SCOPE_ANY) return have != MG_SCOPE_NONE;
    if (need == MG_SCOPE_WORKER) return have == MG_SCOPE_WORKER || have == MG_SCOPE_ADMIN;
    return have != MG_SCOPE_WORKER && have >= need;
}

mg_scope mg_scope_parse(const char *name)
{
    for (int i = MG_SCOPE_READ; i <= MG_SCOPE_WORKER; i++)
        if (name && !strcmp(name, scope_names[i])) return (mg_scope)i;
    return MG_SCOPE_NONE;
}

void mg_token_row_free(mg_token_row *t)
{
    free(t->name);
    t->name = NULL;
}

void mg_token_rows_free(mg_token_row *ts, size_t n)
{
    for (size_t i = 0; i < n; i++) free(ts[i].name);
    free(ts);
}

int64_t mg_store_token_create(mg_store *s, const char *name, mg_scope scope, const char *hash_hex,
                              mg_err *e)
{
    sqlite3_stmt *st = stmt(s, ST_TOKEN_INSERT, e);
    if (!st) return -1;
    bind_text(st, 1, name ? name : "");
    sqlite3_bind_int(st, 2, (int)scope);
    bind_text(st, 3, hash_hex);
    sqlite3_bind_int64(st, 4, mg_store_now_ms());
    return step_done(s, st, e) ? -1 : last_rowid(s);
}

mg_scope mg_store_token_check(mg_store *s, const char *hash_hex, int64_t *id)
{
    sqlite3_stmt *st = stmt(s, ST_TOKEN_BY_HASH, NULL);
    if (!st) return MG_SCOPE_NONE;
    bind_text(st, 1, hash_hex);
    mg_scope scope = MG_SCOPE_NONE;
    int64_t tid = 0, last = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *stored = (const char *)sqlite3_column_text(st, 2);
        if (stored && mg_token_equal_hex(stored, hash_hex)) {
            tid = col_int(st, 0);
            scope = (mg_scope)col_int(st, 1);
            last = col_int(st, 3);
        }
    }
    sqlite3_reset(st);
    if (id) *id = tid;
    int64_t now = mg_store_now_ms();
    /* a write per request would serialise readers behind the WAL lock */
    if (scope != MG_SCOPE_NONE && now - last > 60000) {
        if ((st = stmt(s, ST_TOKEN_TOUCH, NULL))) {
            sqlite3_bind_int64(st, 1, tid);
            sqlite3_bind_int64(st, 2, now);
            step_done(s, st, NULL);
        }
    }
    return scope;
}

/* The tokens not revoked, or only token `id` (0: all). */
static int token_rows(mg_store *s, int64_t id, mg_token_row **out, size_t *n, mg_err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, ST_TOKEN_LIST, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = mg_xrealloc(*out, cap * sizeof **out);
        }
        mg_token_row *t = &(*out)[(*n)++];
        t->id = col_int(st, 0);
        t->name = col_text(st, 1);
        t->scope = (mg_scope)col_int(st, 2);
        t->created_at = col_int(st, 3);
        t->last_used_at = col_int(st, 4);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        mg_token_rows_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int mg_store_token_list(mg_store *s, mg_token_row **out, size_t *n, mg_err *e)
{
    return token_rows(s, 0, out, n, e);
}

int mg_store_token_get(mg_store *s, int64_t id, mg_token_row *out, mg_err *e)
{
    mg_token_row *rows;
    size_t n;
    memset(out, 0, sizeof *out);
    if (id <= 0) return mg_err_set(e, MG_E_NOT_FOUND, "no such token");
    if (token_rows(s, id, &rows, &n, e)) return -1;
    if (n == 0) return mg_err_set(e, MG_E_NOT_FOUND, "no such token (revoked meanwhile)");
    *out = rows[0];
    free(rows);
    return 0;
}

int mg_store_token_revoke(mg_store *s, int64_t id, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, ST_TOKEN_REVOKE, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, mg_store_now_ms());
    if (step_done(s, st, e)) return -1;
    if (changes(s) == 0) return mg_err_set(e, MG_E_NOT_FOUND, "no such token");
    return 0;
}

int64_t mg_store_token_count(mg_store *s)
{
    int64_t n = 0;
    return count_of(s, ST_TOKEN_COUNT, 0, &n, NULL) ? -1 : n;
}

/* ---- retention and gc ---------------------------------------------------- */

int mg_store_project_set_retention(mg_store *s, int64_t id, int64_t keep_builds, mg_err *e)
{
    if (keep_builds < -1)
        return mg_err_set(e, MG_E_INVALID, "keep_builds must be 0 or more (or the default)");
    sqlite3_stmt *st = stmt(s, ST_PROJECT_SET_KEEP, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    if (keep_builds < 0)
        sqlite3_bind_null(st, 2);
    else
        sqlite3_bind_int64(st, 2, keep_builds);
    sqlite3_bind_int64(st, 3, mg_store_now_ms());
    if (step_done(s, st, e)) return -1;
    if (changes(s) == 0) return mg_err_set(e, MG_E_NOT_FOUND, "no such project");
    return 0;
}

int mg_store_build_pin(mg_store *s, int64_t id, bool pinned, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, ST_BUILD_PIN, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, pinned);
    sqlite3_bind_int64(st, 3, mg_store_now_ms());
    if (step_done(s, st, e)) return -1;
    if (changes(s) == 0) return mg_err_set(e, MG_E_NOT_FOUND, "no such build");
    return 0;
}

int mg_store_build_ids(mg_store *s, int64_t **ids, size_t *n, mg_err *e)
{
    return read_ids(s, ST_BUILD_ALL_IDS, 0, ids, n, e);
}

int mg_store_mirror_projects(mg_store *s, int64_t **ids, size_t *n, int64_t *max_id, mg_err *e)
{
    /* the counter first: a project made between the two is above it */
    if (count_of(s, ST_PROJECT_SEQ, 0, max_id, e)) return -1;
    return read_ids(s, ST_GC_MIRROR_PROJECTS, 0, ids, n, e);
}

/* Runs statement `which` with ?1 = id; 0 or -1. */
static int run_with_id(mg_store *s, int which, int64_t id, mg_err *e)
{
    sqlite3_stmt *st = stmt(s, which, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    return step_done(s, st, e);
}

int mg_store_gc_collect(mg_store *s, int64_t keep_builds, const int64_t *held, size_t n_held,
                        int64_t **deleted, size_t *n_deleted, int64_t *kept, mg_err *e)
{
    *deleted = NULL;
    *n_deleted = 0;
    if (kept) *kept = 0;
    if (keep_builds < 0) return mg_err_set(e, MG_E_INVALID, "keep_builds must be 0 or more");
    if (tx_begin(s, e)) return -1;
    /* the selection and the deletes in one write transaction: a pin, a
     * rebuild or a reuse of a build is either before it (and keeps the
     * build) or after it (and finds no build) */
    sqlite3_stmt *st = stmt(s, ST_GC_SELECT, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, keep_builds);
    mg_buf list = {0};
    mg_buf_addc(&list, '[');
    for (size_t i = 0; i < n_held; i++)
        mg_buf_printf(&list, "%s%lld", i ? "," : "", (long long)held[i]);
    mg_buf_addc(&list, ']');
    if (list.failed) {
        mg_buf_free(&list);
        tx_rollback(s);
        return mg_err_set(e, MG_E_NOMEM, "out of memory");
    }
    sqlite3_bind_text(st, 2, list.data, (int)list.len, SQLITE_TRANSIENT);
    mg_buf_free(&list);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n_deleted == cap) {
            cap = cap ? cap * 2 : 64;
            *deleted = mg_xrealloc(*deleted, cap * sizeof **deleted);
        }
        (*deleted)[(*n_deleted)++] = col_int(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_failed(s, e);
        goto fail;
    }
    for (size_t i = 0; i < *n_deleted; i++)
        if (run_with_id(s, ST_GC_PENDING_ADD, (*deleted)[i], e) ||
            run_with_id(s, ST_GC_DELETE_BUILD, (*deleted)[i], e))
            goto fail;
    if (kept && count_of(s, ST_BUILD_TOTAL, 0, kept, e)) goto fail;
    if (tx_commit(s, e)) goto fail_nort;
    return 0;
fail:
    tx_rollback(s);
fail_nort:
    free(*deleted);
    *deleted = NULL;
    *n_deleted = 0;
    if (kept) *kept = 0;
    return -1;
}

int mg_store_gc_orphans(mg_store *s, char ***shas, size_t *n, mg_err *e)
{
    *shas = NULL;
    *n = 0;
    char **named = NULL; /* pending, but named again: no longer pending */
    size_t n_named = 0, cap = 0, cap_named = 0;
    sqlite3_stmt *st = stmt(s, ST_GC_PENDING_LIST, e);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool referenced = col_int(st, 1) != 0;
        char ***list = referenced ? &named : shas;
        size_t *len = referenced ? &n_named : n, *c = referenced ? &cap_named : &cap;
        if (*len == *c) {
            *c = *c ? *c * 2 : 32;
            *list = mg_xrealloc(*list, *c * sizeof **list);
        }
        (*list)[(*len)++] = col_text(st, 0);
    }
    sqlite3_reset(st);
    int r = 0;
    if (rc != SQLITE_DONE) r = db_failed(s, e);
    if (r == 0) r = mg_store_gc_forget(s, named, n_named, e);
    for (size_t i = 0; i < n_named; i++) free(named[i]);
    free(named);
    if (r != 0) {
        for (size_t i = 0; i < *n; i++) free((*shas)[i]);
        free(*shas);
        *shas = NULL;
        *n = 0;
    }
    return r;
}

int mg_store_gc_forget(mg_store *s, char *const *shas, size_t n, mg_err *e)
{
    if (n == 0) return 0;
    if (tx_begin(s, e)) return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt(s, ST_GC_PENDING_DONE, e);
        if (!st) goto fail;
        bind_text(st, 1, shas[i]);
        if (step_done(s, st, e)) goto fail;
    }
    return tx_commit(s, e);
fail:
    tx_rollback(s);
    return -1;
}
