/*
 * queue.c - the build workers (see queue.h for what a worker does).
 */
#include "daemon/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "daemon/cli_common.h"
#include "daemon/sources.h"
#include "base/arena.h"
#include "base/deadline.h"
#include "graph/describe.h"
#include "base/buf.h"
#include "toolchain/build.h"
#include "toolchain/exec.h"
#include "base/fsutil.h"
#include "toolchain/runtime_src.h"
#include "base/sha256.h"

const double mg_queue_buckets[MG_QUEUE_N_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
                                                     2.5,  5,    10,  30,   60,  300};

#define DEFAULT_MAX_LOG (16u << 20)

/* What a worker is doing, visible to cancel and to log readers. */
typedef struct worker_slot {
    mg_queue *q;
    pthread_t thread;
    int64_t build_id;    /* 0: idle */
    mg_build *build;     /* while the toolchain runs it */
    volatile int cancel; /* set by cancel and stop */
    mg_executor *fetch;  /* while the fetch process runs */
    int64_t log_size;    /* bytes written to the running build's log */
} worker_slot;

struct mg_queue {
    mg_queue_options o;
    char *self_exe; /* this program, to run `mgd __fetch` */
    char *logs_dir, *git_dir, *scratch_dir;
    pthread_mutex_t lock;
    /* Held by a worker from its claim until its slot shows the build, so
     * that a project's delete, holding it, sees in the slots every build
     * that was claimed before it cancelled the project's builds. Taken
     * before `lock`, never while holding it. */
    pthread_mutex_t claim_lock;
    pthread_mutex_t
        delete_lock;         /* one delete at a time: two of one project would race on its files */
    pthread_cond_t wake;     /* a build was queued, or stop */
    pthread_cond_t log_cond; /* a log grew or a build ended */
    bool stopping;
    unsigned pending; /* notifications not yet consumed */
    worker_slot *slots;
    unsigned n_slots;
    mg_queue_metrics metrics;
};

/* ---- the build log ------------------------------------------------------ */

typedef struct build_log {
    worker_slot *slot;
    int fd;
    uint64_t size, max;
    bool truncated, at_line_start;
    uint64_t start_ms; /* mg_now_ms() when the build began */
} build_log;

static void log_raw(build_log *l, const char *text, size_t len)
{
    if (l->fd < 0 || l->truncated) return;
    if (l->size + len > l->max) {
        static const char note[] = "\n[mgd] the log reached its size limit; the rest is dropped\n";
        size_t room = l->size + sizeof note < l->max ? l->max - l->size - sizeof note : 0;
        if (room > len) room = len;
        if (write(l->fd, text, room) > 0) l->size += room;
        if (write(l->fd, note, sizeof note - 1) > 0) l->size += sizeof note - 1;
        l->truncated = true;
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(l->fd, text + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += (size_t)w;
        }
        l->size += off;
    }
    mg_queue *q = l->slot->q;
    pthread_mutex_lock(&q->lock);
    l->slot->log_size = (int64_t)l->size;
    pthread_cond_broadcast(&q->log_cond);
    pthread_mutex_unlock(&q->lock);
}

/* Appends text, starting each line with the time since the build started. */
static void log_text(void *ctx, const char *text, size_t len)
{
    build_log *l = ctx;
    mg_buf out = {0};
    mg_cli_log_stamp(&out, text, len, mg_ms_since(l->start_ms), &l->at_line_start);
    if (out.len && !out.failed) log_raw(l, out.data, out.len);
    mg_buf_free(&out);
}

static void log_line(build_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(build_log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mg_xvasprintf(fmt, ap);
    va_end(ap);
    if (!l->at_line_start) log_text(l, "\n", 1);
    log_text(l, s, strlen(s));
    log_text(l, "\n", 1);
    free(s);
}

static void histogram_add(uint64_t *buckets, double *sum, double seconds)
{
    for (int i = 0; i < MG_QUEUE_N_BUCKETS; i++)
        if (seconds <= mg_queue_buckets[i]) buckets[i]++;
    buckets[MG_QUEUE_N_BUCKETS]++;
    *sum += seconds;
}

static void on_action(void *ctx, const char *label, uint64_t ms)
{
    build_log *l = ctx;
    mg_queue *q = l->slot->q;
    pthread_mutex_lock(&q->lock);
    histogram_add(q->metrics.actions_bucket, &q->metrics.actions_sum, (double)ms / 1000);
    pthread_mutex_unlock(&q->lock);
}

/* ---- one build ---------------------------------------------------------- */

typedef struct job {
    mg_queue *q;
    worker_slot *slot;
    build_log log;
    mg_stored_build row; /* as claimed */
    mg_project project;
    mg_config_version config;
    char *scratch, *src;
    mg_err err; /* why the last step failed */
    /* the result, written by finish_build */
    mg_stored_build done;
} job;

/* The key of the record that pins blob `sha` as a `kind`. */
static void pin_key(const char *kind, const char *sha, char key[MG_SHA256_HEX_SIZE])
{
    char *text = mg_xasprintf("mgd %s\n%s", kind, sha);
    mg_sha256_bytes_hex(text, strlen(text), key);
    free(text);
}

/* Keeps a blob alive through cache gc: a record naming it. */
static int pin_blob(mg_cache *c, const char *kind, const char *sha, mg_err *e)
{
    char key[MG_SHA256_HEX_SIZE];
    pin_key(kind, sha, key);
    char *text = mg_xasprintf("mgd %s\n%s", kind, sha);
    const char *blobs[] = {sha};
    int r = mg_cache_record_put(c, key, text, strlen(text), blobs, 1, e);
    free(text);
    return r;
}

int mg_queue_snapshot_sources(mg_queue *q, const mg_project *p, mg_err *e)
{
    if (!p->sources || !p->sources_sha256)
        return mg_err_set(e, MG_E_INVALID, "the project has no inline sources");
    char sha[MG_SHA256_HEX_SIZE];
    if (mg_cache_blob_put_bytes(q->o.cache, p->sources, strlen(p->sources), sha, e)) return -1;
    if (strcmp(sha, p->sources_sha256))
        return mg_err_set(e, MG_E_INTERNAL,
                          "the project's sources hash does not match its content");
    return pin_blob(q->o.cache, "sources", sha, e);
}

/* The fetch process parses what a remote sends with libgit2: it runs in a
 * sandbox too (toolchain/sandbox.h), with the network, the project's own
 * mirror folder and the checkout writable, this program's files and a
 * local repository read-only, and nothing else of the data directory:
 * not the database, not the tokens, not another project's mirror, which
 * a compromised fetch could otherwise rewrite for that project's builds.
 * Under the build limits but memory (the sanitizers of a test build
 * reserve terabytes of address space). */
static char **fetch_argv(mg_queue *q, job *j, const char *project_git, const char *const *argv)
{
    mg_build_limits l = q->o.limits;
    l.memory = 0;
    l.action_wall_ms = l.build_wall_ms = 0;
    mg_sandbox_bind binds[5];
    size_t n = 0;
    binds[n++] = (mg_sandbox_bind){project_git, project_git, true};
    binds[n++] = (mg_sandbox_bind){j->src, j->src, true};
    /* this program and its daemon module (main.c), as files: their folder
     * may hold the data directory */
    char *exe_dir = mg_path_dirname(q->self_exe);
    char *module = mg_path_join(exe_dir, "mgd-serve.so");
    if (strncmp(q->self_exe, "/usr/", 5)) {
        binds[n++] = (mg_sandbox_bind){q->self_exe, q->self_exe, false};
        if (access(module, F_OK) == 0) binds[n++] = (mg_sandbox_bind){module, module, false};
    }
    /* a local repository is visible at its own path, and only it */
    char *local = q->o.allow_local_repos ? mg_sources_local_path(j->project.repo_url) : NULL;
    char *local_real = local ? realpath(local, NULL) : NULL;
    size_t argc = 0;
    while (argv[argc]) argc++;
    const char **args = mg_xmalloc((argc + 1) * sizeof *args);
    memcpy(args, argv, (argc + 1) * sizeof *args);
    if (local_real) {
        binds[n++] = (mg_sandbox_bind){local_real, local_real, false};
        /* a relative path means the same from the sandbox's directory */
        if (local[0] != '/' && strncmp(j->project.repo_url, "file://", 7)) args[3] = local_real;
    }
    static const char *const env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
    mg_sandbox_spec s = {.sandboxed = !q->o.no_sandbox,
                         .limits = &l,
                         .binds = binds,
                         .n_binds = n,
                         .env = env,
                         .network = true,
                         .mount_proc = true};
    char **run = mg_sandbox_argv(&s, args);
    free(args);
    free(exe_dir);
    free(module);
    free(local);
    free(local_real);
    return run;
}

/* Records what the worker learned of the build; a store failure is
 * written to the build's log (the build goes on: its row only lacks the
 * detail). */
static void record_inputs(job *j, const char *commit, const char *input_hash, const char *describe)
{
    mg_err e;
    if (mg_store_build_set_inputs(j->q->o.store, j->row.id, commit, input_hash, describe, &e))
        log_line(&j->log, "warning: cannot record the build's inputs: %s", e.msg);
}

/* Writes the build's sources under j->src; 0, or -1 with j->err. */
static int take_sources(job *j)
{
    mg_queue *q = j->q;
    if (mg_mkdir_p(j->src)) {
        mg_err_set(&j->err, MG_E_IO, "cannot create %s: %s", j->src, strerror(errno));
        return -1;
    }
    if (j->row.sources_sha256) {
        char *tmp = mg_path_join(j->scratch, "sources.json");
        mg_err e;
        if (mg_cache_blob_get(q->o.cache, j->row.sources_sha256, tmp, 0600, &e) != 0) {
            if (e.code == MG_E_NOT_FOUND || e.code == MG_E_CORRUPT)
                mg_err_set(&j->err, MG_E_NOT_FOUND, "the build's inline sources (%.12s) are gone",
                           j->row.sources_sha256);
            else
                j->err = e;
            free(tmp);
            return -1;
        }
        size_t len;
        char *text = mg_file_read(tmp, 64u << 20, &len);
        free(tmp);
        cJSON *tree = text ? cJSON_ParseWithLength(text, len) : NULL;
        free(text);
        char hash[MG_SHA256_HEX_SIZE];
        int r = tree ? mg_sources_inline_write(tree, j->src, hash, &e) : -1;
        if (tree && r) j->err = e;
        if (!tree) mg_err_set(&j->err, MG_E_CORRUPT, "the build's inline sources are unreadable");
        cJSON_Delete(tree);
        if (r) return -1;
        log_line(&j->log, "sources: inline tree %.12s", j->row.sources_sha256);
        return 0;
    }
    if (!j->project.repo_url) {
        mg_err_set(&j->err, MG_E_IO, "the project has neither a repository nor sources");
        return -1;
    }
    /* never a repository in the data directory: another project's mirror
     * is one too, and its sources are not this project's to read */
    char *local = mg_sources_local_path(j->project.repo_url);
    char *local_real = local ? realpath(local, NULL) : NULL;
    size_t data_len = strlen(q->o.data_dir);
    bool inside = local_real && !strncmp(local_real, q->o.data_dir, data_len) &&
                  (local_real[data_len] == '/' || local_real[data_len] == 0);
    free(local);
    free(local_real);
    if (inside) {
        mg_err_set(&j->err, MG_E_IO,
                   "the project's repository is inside the daemon's data directory: refused");
        return -1;
    }
    /* each project's mirror (and its lock) in a folder of its own, the one
     * the fetch's sandbox may write besides the checkout */
    char *project_git = mg_xasprintf("%s/%lld", q->git_dir, (long long)j->project.id);
    char *mirror = mg_path_join(project_git, "mirror.git");
    if (mg_mkdir_p(project_git)) {
        mg_err_set(&j->err, MG_E_IO, "cannot create the project's mirror folder: %s",
                   strerror(errno));
        free(project_git);
        free(mirror);
        return -1;
    }
    const char *ref = j->row.commit ? j->row.commit : j->row.ref;
    /* libgit2 cannot be interrupted while a remote sends nothing (1.5 has
     * no network timeouts), so the fetch runs in a process of its own
     * (`mgd __fetch`, cmd_fetch.c) that cancel, stop and a timeout kill */
    const char *argv[] = {q->self_exe,
                          "__fetch",
                          mirror,
                          j->project.repo_url,
                          ref ? ref : "",
                          j->src,
                          q->o.allow_local_repos ? "1" : "0",
                          NULL};
    char **run = fetch_argv(q, j, project_git, argv);
    mg_exec_spec spec = {.argv = (const char *const *)run, .timeout_ms = MG_QUEUE_FETCH_TIMEOUT_MS};
    mg_executor *ex = mg_executor_new();
    free(project_git);
    if (!ex) {
        mg_sandbox_argv_free(run);
        free(mirror);
        mg_err_set(&j->err, MG_E_IO, "cannot start the fetch: out of resources");
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    j->slot->fetch = ex;
    if (j->slot->cancel) mg_executor_cancel(ex);
    pthread_mutex_unlock(&q->lock);
    mg_executor_start(ex, &spec);
    mg_exec_result res;
    int wr = mg_executor_wait(ex, &res);
    pthread_mutex_lock(&q->lock);
    j->slot->fetch = NULL;
    pthread_mutex_unlock(&q->lock);
    mg_executor_free(ex);
    mg_sandbox_argv_free(run);
    free(mirror);
    if (wr != 0) {
        mg_err_set(&j->err, MG_E_IO, "the fetch process was lost");
        return -1;
    }
    /* its output: progress lines, then "commit <sha>" or "error: <why>" */
    const char *commit = NULL, *error = NULL;
    for (char *line = res.output, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (!strncmp(line, "commit ", 7))
            commit = line + 7;
        else if (!strncmp(line, "error: ", 7))
            error = line + 7;
        else if (*line)
            log_line(&j->log, "%s", line);
    }
    int r = -1;
    if (res.cancelled)
        mg_err_set(&j->err, MG_E_CANCELLED, "cancelled");
    else if (res.timed_out)
        mg_err_set(&j->err, MG_E_IO, "the fetch took longer than %u s",
                   MG_QUEUE_FETCH_TIMEOUT_MS / 1000);
    else if (res.exit_status == 0 && commit && strlen(commit) == 40)
        r = 0;
    else
        mg_err_set(&j->err, MG_E_IO, "%s",
                   error             ? error
                   : res.spawn_error ? strerror(res.spawn_error)
                                     : "the fetch failed");
    if (r == 0) {
        free(j->row.commit);
        j->row.commit = mg_xstrdup(commit);
        record_inputs(j, commit, NULL, NULL);
    }
    mg_exec_result_free(&res);
    return r;
}

/* The input hash: everything that decides the image. */
static void input_hash(const job *j, const char *identity, char out[MG_SHA256_HEX_SIZE])
{
    mg_sha256 h;
    mg_sha256_init(&h);
    char *text = mg_xasprintf(
        "mgd-input 1\nconfig %s\nkeys %s\ntarget %s\narch %s\n"
        "sources %s %s\nruntime %s\ntoolchain %s\n",
        j->config.sha256, j->row.keys, j->row.target, j->row.arch, j->row.commit ? "git" : "inline",
        j->row.commit ? j->row.commit : j->row.sources_sha256, mg_runtime_version(), identity);
    mg_sha256_update(&h, text, strlen(text));
    free(text);
    unsigned char d[MG_SHA256_SIZE];
    mg_sha256_final(&h, d);
    mg_sha256_hex(d, out);
}

/* The key settings of the build (keys JSON {name: text}). */
static mg_key_setting *parse_keys(const char *json, size_t *n, cJSON **holder)
{
    *holder = cJSON_Parse(json ? json : "{}");
    return mg_cli_keys_from_json(*holder, n);
}

static void fail_build(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_build(job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mg_xvasprintf(fmt, ap);
    va_end(ap);
    log_line(&j->log, "error: %s", msg);
    j->done.status = MG_STORED_FAILED;
    free(j->done.error);
    j->done.error = msg;
}

static bool cancelled(job *j)
{
    return j->slot->cancel != 0;
}

/* Whether the store still has the build running (not cancelled); when
 * the store cannot say, the build fails with the store's reason. */
static bool still_running(job *j)
{
    mg_stored_build b;
    mg_err e;
    if (mg_store_build_get(j->q->o.store, j->row.id, false, &b, &e) != 0) {
        fail_build(j, "%s", e.msg);
        return false;
    }
    bool running = b.status == MG_STORED_RUNNING;
    mg_stored_build_free(&b);
    if (!running || cancelled(j)) fail_build(j, "cancelled");
    return running && !cancelled(j);
}

/* Steps 2 to 5 of queue.h, with the sources in place. */
static void build_it(job *j)
{
    mg_queue *q = j->q;
    /* 2. resolve */
    size_t n_keys;
    cJSON *keys_json;
    mg_key_setting *keys = parse_keys(j->row.keys, &n_keys, &keys_json);
    mg_resolve_options ro = {
        .target = j->row.target,
        .arch = j->row.arch,
        .keys = keys,
        .n_keys = n_keys,
    };
    mg_errors errs = {0};
    mg_graph *g = mg_cli_resolve_tree(q->o.catalog, j->config.document, strlen(j->config.document),
                                      j->src, &ro, &errs);
    if (!g) {
        char *text = mg_errors_text(&errs);
        log_text(&j->log, text, strlen(text));
        fail_build(j, "the config does not resolve (%zu error%s, listed above)", errs.len,
                   errs.len == 1 ? "" : "s");
        free(text);
        goto out;
    }
    char *describe = mg_describe_json(g);
    record_inputs(j, NULL, NULL, describe);
    free(describe);
    log_line(&j->log, "resolved %s for %s/%s: %zu devices", g->name, g->target, g->arch,
             g->n_nodes);

    /* 3. input hash, reuse */
    const mg_target *t = mg_targets_find(q->o.targets, g->target);
    const mg_target_arch *a = t ? mg_target_find_arch(t, g->arch) : NULL;
    mg_err why;
    bool can_run;
    if (!t || !a) {
        fail_build(j, "target %s/%s is not known to this mgd", g->target, g->arch);
        goto out;
    }
    if (!mg_target_available(t, a, &can_run, &why)) {
        fail_build(j, "target %s/%s is not available here: %s", g->target, g->arch, why.msg);
        goto out;
    }
    mg_err e;
    char *identity = mg_toolchain_identity(q->o.cache, a, &e);
    if (!identity) {
        fail_build(j, "toolchain: %s", e.msg);
        goto out;
    }
    char hash[MG_SHA256_HEX_SIZE];
    input_hash(j, identity, hash);
    free(identity);
    record_inputs(j, NULL, hash, NULL);
    log_line(&j->log, "input hash %s", hash);
    if (!j->row.force) {
        int64_t prev = mg_store_build_find_reusable(q->o.store, hash, j->row.id, &e);
        mg_stored_build p;
        /* the store failing here costs a build, not the build */
        if (prev < 0)
            log_line(&j->log, "warning: cannot look for an earlier build to reuse: %s", e.msg);
        if (prev > 0 && mg_store_build_get(q->o.store, prev, false, &p, &e) != 0)
            log_line(&j->log, "warning: cannot read build %lld to reuse it: %s", (long long)prev,
                     e.msg);
        else if (prev > 0) {
            bool have =
                p.image_sha256 && mg_cache_blob_stat(q->o.cache, p.image_sha256, NULL, NULL) == 0;
            if (have) {
                log_line(&j->log, "reused build %lld: same inputs, image %s", (long long)prev,
                         p.image_sha256);
                j->done.status = MG_STORED_SUCCEEDED;
                j->done.reused_from = prev;
                j->done.image_name = p.image_name;
                j->done.image_sha256 = p.image_sha256;
                j->done.image_size = p.image_size;
                p.image_name = p.image_sha256 = NULL;
                mg_stored_build_free(&p);
                goto out;
            }
            log_line(&j->log, "build %lld had the same inputs but its image is gone: building",
                     (long long)prev);
            mg_stored_build_free(&p);
        }
    }

    /* 4. build (unless a cancel came while the worker was not listening) */
    if (!still_running(j)) goto out;
    char *image = mg_path_join(j->scratch, "image");
    mg_build_options bo = {
        .project_dir = j->src,
        .graph = g,
        .catalog = q->o.catalog,
        .targets = q->o.targets,
        .cache = q->o.cache,
        .remote = q->o.remote,
        .output = image,
        .jobs = q->o.jobs,
        .force = j->row.force,
        .limits = &q->o.limits,
        .no_sandbox = q->o.no_sandbox,
        .log = log_text,
        .log_ctx = &j->log,
        .on_action = on_action,
        .log_untimed = true,
    };
    mg_build *b = mg_build_new(&bo);
    pthread_mutex_lock(&q->lock);
    j->slot->build = b;
    bool stop_now = j->slot->cancel != 0;
    pthread_mutex_unlock(&q->lock);
    if (stop_now) mg_build_cancel(b);
    mg_build_result res;
    int r = mg_build_run(b, &res);
    pthread_mutex_lock(&q->lock);
    j->slot->build = NULL;
    pthread_mutex_unlock(&q->lock);
    mg_build_free(b);
    j->done.actions = res.actions;
    j->done.hits = res.hits;
    j->done.misses = res.misses;
    j->done.remote_hits = res.remote_hits;
    j->done.remote_misses = (int64_t)res.remote.misses;
    j->done.remote_errors = (int64_t)res.remote.errors;
    j->done.remote_bytes_down = (int64_t)res.remote.bytes_down;
    j->done.remote_bytes_up = (int64_t)res.remote.bytes_up;
    pthread_mutex_lock(&q->lock);
    q->metrics.cache_hits += res.hits;
    q->metrics.cache_misses += res.misses;
    q->metrics.remote_hits += res.remote_hits;
    q->metrics.remote_misses += res.remote.misses;
    q->metrics.remote_errors += res.remote.errors;
    q->metrics.remote_bytes_down += res.remote.bytes_down;
    q->metrics.remote_bytes_up += res.remote.bytes_up;
    pthread_mutex_unlock(&q->lock);
    if (r != 0) {
        if (res.cancelled || cancelled(j))
            fail_build(j, "cancelled");
        else
            fail_build(j, "%s", res.error.msg);
        free(image);
        goto out;
    }

    /* 5. keep the image */
    char sha[MG_SHA256_HEX_SIZE];
    uint64_t size = 0;
    int stored = mg_cache_blob_put(q->o.cache, image, sha, &size, &e);
    if (stored != 0) j->err = e;
    if (stored != 0 || pin_blob(q->o.cache, "artifact", sha, &j->err)) {
        fail_build(j, "cannot store the image: %s", j->err.msg);
        free(image);
        goto out;
    }
    free(image);
    j->done.status = MG_STORED_SUCCEEDED;
    j->done.image_name = mg_xstrdup(res.image_name);
    j->done.image_sha256 = mg_xstrdup(sha);
    j->done.image_size = (int64_t)size;
out:
    mg_errors_free(&errs);
    mg_graph_free(g);
    free(keys);
    cJSON_Delete(keys_json);
}

static void run_job(worker_slot *slot, int64_t id)
{
    mg_queue *q = slot->q;
    job j = {.q = q, .slot = slot};
    j.done.id = id;
    j.log = (build_log){.slot = slot, .fd = -1, .at_line_start = true};
    j.log.max = q->o.max_log_bytes ? q->o.max_log_bytes : DEFAULT_MAX_LOG;
    j.log.start_ms = mg_now_ms();
    char *log_path = mg_queue_log_path(q, id);
    j.log.fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (j.log.fd < 0)
        fprintf(stderr, "mgd: build %lld: cannot write its log %s: %s\n", (long long)id, log_path,
                strerror(errno));
    free(log_path);
    j.scratch = mg_xasprintf("%s/%lld", q->scratch_dir, (long long)id);
    j.src = mg_path_join(j.scratch, "src");
    mg_rm_rf(j.scratch);

    if (mg_store_build_get(q->o.store, id, false, &j.row, &j.err) ||
        mg_store_project_get_id(q->o.store, j.row.project_id, &j.project, &j.err) ||
        mg_store_config_get(q->o.store, j.row.project_id, j.row.config_version, &j.config,
                            &j.err)) {
        fail_build(&j, "%s", j.err.msg);
        goto finish;
    }
    if (j.row.status != MG_STORED_RUNNING) {
        /* cancelled between the claim and now */
        fail_build(&j, "cancelled");
        goto finish;
    }
    log_line(&j.log, "build %lld of %s: %s/%s, config version %lld%s", (long long)id,
             j.project.name, j.row.target, j.row.arch, (long long)j.row.config_version,
             j.row.force ? ", forced" : "");
    if (take_sources(&j)) {
        if (cancelled(&j))
            fail_build(&j, "cancelled");
        else
            fail_build(&j, "sources: %s", j.err.msg);
        goto finish;
    }
    if (cancelled(&j)) {
        fail_build(&j, "cancelled");
        goto finish;
    }
    build_it(&j);

finish:;
    bool stopping;
    pthread_mutex_lock(&q->lock);
    stopping = q->stopping;
    pthread_mutex_unlock(&q->lock);
    if (j.done.status != MG_STORED_SUCCEEDED && stopping) {
        j.done.status = MG_STORED_INTERRUPTED;
        free(j.done.error);
        j.done.error = mg_xstrdup("interrupted: the daemon stopped while the build ran");
        log_line(&j.log, "%s", j.done.error);
    } else if (j.done.status == MG_STORED_SUCCEEDED) {
        log_line(&j.log, "succeeded");
    }
    j.done.log_size = (int64_t)j.log.size;
    mg_err err;
    if (mg_store_build_finish(q->o.store, &j.done, &err) != 0) {
        /* cancelled meanwhile: the store says so already; keep the log size */
        if (err.code != MG_E_CONFLICT ||
            mg_store_set_log_size(q->o.store, id, (int64_t)j.log.size, &err) != 0)
            fprintf(stderr, "mgd: build %lld: cannot record its end: %s\n", (long long)id, err.msg);
    }
    if (j.log.fd >= 0) close(j.log.fd);
    double secs = (double)mg_ms_since(j.log.start_ms) / 1e3;
    pthread_mutex_lock(&q->lock);
    histogram_add(q->metrics.builds_bucket, &q->metrics.builds_sum, secs);
    pthread_mutex_unlock(&q->lock);
    mg_rm_rf(j.scratch);
    free(j.scratch);
    free(j.src);
    mg_stored_build_free(&j.row);
    mg_stored_build_free(&j.done);
    mg_project_free(&j.project);
    mg_config_version_free(&j.config);
}

static void *worker_main(void *arg)
{
    worker_slot *slot = arg;
    mg_queue *q = slot->q;
    /* builds yield the CPU to the HTTP threads (and so do their actions) */
    if (mg_exec_lower_priority() != 0)
        fprintf(stderr, "mgd: queue: cannot lower a worker's priority: %s\n", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&q->lock);
        bool stop = q->stopping;
        if (q->pending) q->pending--;
        pthread_mutex_unlock(&q->lock);
        if (stop) break;
        mg_err err;
        pthread_mutex_lock(&q->claim_lock);
        int64_t id = mg_store_build_claim(q->o.store, &err);
        if (id > 0) {
            pthread_mutex_lock(&q->lock);
            slot->build_id = id;
            slot->cancel = q->stopping; /* a stop that came during the claim */
            slot->log_size = 0;
            q->metrics.running++;
            pthread_cond_broadcast(&q->log_cond); /* readers waiting for it to start */
            pthread_mutex_unlock(&q->lock);
        }
        pthread_mutex_unlock(&q->claim_lock);
        if (id > 0) {
            run_job(slot, id);
            pthread_mutex_lock(&q->lock);
            slot->build_id = 0;
            q->metrics.running--;
            pthread_cond_broadcast(&q->log_cond);
            pthread_mutex_unlock(&q->lock);
            continue;
        }
        if (id < 0) fprintf(stderr, "mgd: queue: %s\n", err.msg);
        /* nothing queued: sleep until notified (or a while, in case a
         * notification raced the claim) */
        pthread_mutex_lock(&q->lock);
        if (!q->stopping && !q->pending) {
            struct timespec until = mg_abstime_in(CLOCK_REALTIME, id < 0 ? 1000 : 2000);
            pthread_cond_timedwait(&q->wake, &q->lock, &until);
        }
        pthread_mutex_unlock(&q->lock);
    }
    mg_store_thread_done(q->o.store);
    return NULL;
}

/* Mirrors of mgd before per-project mirror folders (git/<id>.git and its
 * .lock beside it): nothing refers to them any more; a fetch clones anew. */
static void remove_flat_mirrors(const char *git_dir)
{
    DIR *d = opendir(git_dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        bool flat = (n > 4 && !strcmp(e->d_name + n - 4, ".git")) ||
                    (n > 9 && !strcmp(e->d_name + n - 9, ".git.lock"));
        if (!flat) continue;
        char *path = mg_path_join(git_dir, e->d_name);
        mg_rm_rf(path);
        free(path);
    }
    closedir(d);
}

/* ---- deleting a project ---------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool in_ids(int64_t id, const int64_t *ids, size_t n)
{
    return id && n && bsearch(&id, ids, n, sizeof *ids, cmp_id);
}

/* Stops the workers that hold one of `ids` (ascending): their fetch or
 * build processes are killed. With q->lock held. */
static void cancel_slots_of(mg_queue *q, const int64_t *ids, size_t n)
{
    for (unsigned i = 0; i < q->n_slots; i++) {
        worker_slot *w = &q->slots[i];
        if (!in_ids(w->build_id, ids, n)) continue;
        w->cancel = 1;
        if (w->build) mg_build_cancel(w->build);
        if (w->fetch) mg_executor_cancel(w->fetch);
    }
    pthread_cond_broadcast(&q->log_cond);
}

/* How many workers hold one of `ids`; with q->lock held. */
static size_t slots_holding(mg_queue *q, const int64_t *ids, size_t n)
{
    size_t held = 0;
    for (unsigned i = 0; i < q->n_slots; i++) held += in_ids(q->slots[i].build_id, ids, n);
    return held;
}

/* Waits until no worker holds one of `ids`, at most
 * MG_QUEUE_DELETE_WAIT_MS. 0, or -1 with a message. */
static int wait_workers_of(mg_queue *q, const int64_t *ids, size_t n, mg_err *e)
{
    struct timespec until = mg_abstime_in(CLOCK_REALTIME, MG_QUEUE_DELETE_WAIT_MS);
    pthread_mutex_lock(&q->lock);
    size_t held;
    while ((held = slots_holding(q, ids, n)) > 0)
        if (pthread_cond_timedwait(&q->log_cond, &q->lock, &until) == ETIMEDOUT) {
            held = slots_holding(q, ids, n);
            break;
        }
    pthread_mutex_unlock(&q->lock);
    if (held) {
        return mg_err_set(e, MG_E_BUSY,
                          "%zu build%s of the project did not stop within %u s; the project "
                          "stays marked for deletion: delete it again",
                          held, held == 1 ? "" : "s", MG_QUEUE_DELETE_WAIT_MS / 1000);
    }
    return 0;
}

/* What is left once no worker holds a build of the project: its logs and
 * mirror, then its rows, then the pins of the blobs only it used. The
 * files go first, so that a failure leaves the project (marked) for a
 * retry to find. */
static int remove_project(mg_queue *q, int64_t project_id, const int64_t *ids, size_t n, mg_err *e)
{
    for (size_t i = 0; i < n; i++) {
        char *log = mg_queue_log_path(q, ids[i]);
        int r = unlink(log);
        if (r != 0 && errno != ENOENT) {
            mg_err_set(e, MG_E_IO, "cannot remove the log %s: %s", log, strerror(errno));
            free(log);
            return -1;
        }
        free(log);
    }
    if (mg_queue_forget_project(q, project_id, e)) return -1;
    char **orphans = NULL;
    size_t n_orphans = 0;
    int rc = mg_store_project_delete(q->o.store, project_id, &orphans, &n_orphans, e);
    if (rc == 0) rc = mg_queue_forget_blobs(q, orphans, n_orphans, e);
    for (size_t i = 0; i < n_orphans; i++) free(orphans[i]);
    free(orphans);
    return rc;
}

int mg_queue_delete_project(mg_queue *q, int64_t project_id, mg_err *e)
{
    int64_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&q->delete_lock);
    /* No claim runs meanwhile: once this holds the claim lock, each build
     * claimed before is in its worker's slot, and none of the project's
     * can be claimed after the store step. */
    pthread_mutex_lock(&q->claim_lock);
    int rc = mg_store_project_delete_begin(q->o.store, project_id, &ids, &n, NULL, e);
    if (rc == 0) {
        pthread_mutex_lock(&q->lock);
        cancel_slots_of(q, ids, n);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&q->claim_lock);
    if (rc == 0) rc = wait_workers_of(q, ids, n, e);
    if (rc == 0) rc = remove_project(q, project_id, ids, n, e);
    pthread_mutex_unlock(&q->delete_lock);
    free(ids);
    return rc;
}

/* Deletes that began but did not end (the daemon stopped meanwhile, or
 * one failed): finished at start, before any worker runs. */
static void finish_deletes(mg_queue *q)
{
    int64_t *ids = NULL;
    size_t n = 0;
    mg_err err;
    if (mg_store_project_list_deleting(q->o.store, &ids, &n, &err) != 0) {
        fprintf(stderr, "mgd: queue: cannot list the projects being deleted: %s\n", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (mg_queue_delete_project(q, ids[i], &err) != 0)
            fprintf(stderr, "mgd: queue: project %lld: cannot finish its delete: %s\n",
                    (long long)ids[i], err.msg);
    free(ids);
}

mg_queue *mg_queue_start(const mg_queue_options *o, mg_err *e)
{
    mg_queue *q = mg_xmalloc(sizeof *q);
    memset(q, 0, sizeof *q);
    q->o = *o;
    if (q->o.no_workers)
        q->o.workers = 0;
    else if (!q->o.workers)
        q->o.workers = 2;
    q->self_exe = realpath("/proc/self/exe", NULL);
    if (!q->self_exe) {
        mg_err_set(e, MG_E_IO, "cannot find this program (/proc/self/exe): %s", strerror(errno));
        free(q);
        return NULL;
    }
    q->logs_dir = mg_path_join(o->data_dir, "logs");
    q->git_dir = mg_path_join(o->data_dir, "git");
    q->scratch_dir = mg_path_join(o->data_dir, "scratch");
    /* scratch of an earlier run is garbage: nothing can be running there */
    mg_rm_rf(q->scratch_dir);
    const char *dirs[] = {q->logs_dir, q->git_dir, q->scratch_dir};
    for (size_t i = 0; i < 3; i++)
        if (mg_mkdir_p(dirs[i])) {
            mg_err_set(e, MG_E_IO, "cannot create %s: %s", dirs[i], strerror(errno));
            free(q->logs_dir);
            free(q->git_dir);
            free(q->scratch_dir);
            free(q->self_exe);
            free(q);
            return NULL;
        }
    remove_flat_mirrors(q->git_dir);
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->claim_lock, NULL);
    pthread_mutex_init(&q->delete_lock, NULL);
    pthread_cond_init(&q->wake, NULL);
    pthread_cond_init(&q->log_cond, NULL);
    finish_deletes(q);
    q->slots = calloc(q->o.workers, sizeof *q->slots);
    for (unsigned i = 0; i < q->o.workers; i++) {
        q->slots[i].q = q;
        /* the toolchain recurses little, but resolution may: 8 MiB */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20);
        int r = pthread_create(&q->slots[i].thread, &attr, worker_main, &q->slots[i]);
        pthread_attr_destroy(&attr);
        if (r) {
            mg_err_set(e, MG_E_IO, "cannot start a worker: %s", strerror(r));
            q->n_slots = i;
            mg_queue_stop(q);
            return NULL;
        }
        q->n_slots = i + 1;
    }
    return q;
}

void mg_queue_stop(mg_queue *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    for (unsigned i = 0; i < q->n_slots; i++) {
        q->slots[i].cancel = 1;
        if (q->slots[i].build) mg_build_cancel(q->slots[i].build);
        if (q->slots[i].fetch) mg_executor_cancel(q->slots[i].fetch);
    }
    pthread_cond_broadcast(&q->wake);
    pthread_cond_broadcast(&q->log_cond);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->n_slots; i++) pthread_join(q->slots[i].thread, NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->claim_lock);
    pthread_mutex_destroy(&q->delete_lock);
    pthread_cond_destroy(&q->wake);
    pthread_cond_destroy(&q->log_cond);
    free(q->slots);
    free(q->self_exe);
    free(q->logs_dir);
    free(q->git_dir);
    free(q->scratch_dir);
    free(q);
}

void mg_queue_notify(mg_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->pending++;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
}

int mg_queue_cancel(mg_queue *q, int64_t id, mg_err *e)
{
    mg_stored_status was;
    if (mg_store_build_cancel(q->o.store, id, &was, e)) return -1;
    pthread_mutex_lock(&q->lock);
    for (unsigned i = 0; i < q->n_slots; i++)
        if (q->slots[i].build_id == id) {
            q->slots[i].cancel = 1;
            if (q->slots[i].build) mg_build_cancel(q->slots[i].build);
            if (q->slots[i].fetch) mg_executor_cancel(q->slots[i].fetch);
        }
    pthread_cond_broadcast(&q->log_cond);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

char *mg_queue_log_path(mg_queue *q, int64_t id)
{
    return mg_xasprintf("%s/%lld.log", q->logs_dir, (long long)id);
}

static worker_slot *slot_of(mg_queue *q, int64_t id)
{
    for (unsigned i = 0; i < q->n_slots; i++)
        if (q->slots[i].build_id == id) return &q->slots[i];
    return NULL;
}

int64_t mg_queue_log_wait(mg_queue *q, int64_t id, int64_t offset, int timeout_ms)
{
    struct timespec until =
        mg_abstime_in(CLOCK_REALTIME, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
    pthread_mutex_lock(&q->lock);
    int64_t size = -1;
    while (!q->stopping) {
        worker_slot *s = slot_of(q, id);
        if (s && s->log_size > offset) break;
        if (!s) {
            /* not running here: wait only while it is queued */
            pthread_mutex_unlock(&q->lock);
            mg_stored_build b;
            bool queued = mg_store_build_get(q->o.store, id, false, &b, NULL) == 0 &&
                          b.status == MG_STORED_QUEUED;
            mg_stored_build_free(&b);
            pthread_mutex_lock(&q->lock);
            if (!queued && !slot_of(q, id)) break;
        }
        if (pthread_cond_timedwait(&q->log_cond, &q->lock, &until) == ETIMEDOUT) break;
    }
    worker_slot *s = slot_of(q, id);
    if (s) size = s->log_size;
    pthread_mutex_unlock(&q->lock);
    if (size < 0) {
        char *path = mg_queue_log_path(q, id);
        struct stat st;
        size = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
        free(path);
    }
    return size;
}

bool mg_queue_running(mg_queue *q, int64_t id)
{
    pthread_mutex_lock(&q->lock);
    bool here = slot_of(q, id) != NULL;
    pthread_mutex_unlock(&q->lock);
    return here;
}

int mg_queue_forget_project(mg_queue *q, int64_t project_id, mg_err *e)
{
    char *project_git = mg_xasprintf("%s/%lld", q->git_dir, (long long)project_id);
    char *lock = mg_path_join(project_git, "mirror.git.lock");
    /* the fetch holds this lock through its checkout (sources.h) */
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd >= 0) flock(fd, LOCK_EX);
    int r = mg_rm_rf(project_git);
    if (r != 0) mg_err_set(e, MG_E_IO, "cannot remove %s: %s", project_git, strerror(errno));
    if (fd >= 0) close(fd);
    free(lock);
    free(project_git);
    return r ? -1 : 0;
}

char *mg_queue_image_path(mg_queue *q, const char *sha256)
{
    if (mg_cache_blob_stat(q->o.cache, sha256, NULL, NULL) != 0) return NULL;
    return mg_cache_blob_path(q->o.cache, sha256);
}

int mg_queue_forget_blobs(mg_queue *q, char *const *sha256s, size_t n, mg_err *e)
{
    static const char *const kinds[] = {"artifact", "sources"};
    int r = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 2; k++) {
            char key[MG_SHA256_HEX_SIZE];
            pin_key(kinds[k], sha256s[i], key);
            if (mg_cache_record_remove(q->o.cache, key) != 0 && r == 0) {
                mg_err_set(e, MG_E_IO, "cannot remove the cache record of %s %.12s: %s", kinds[k],
                           sha256s[i], strerror(errno));
                r = -1;
            }
        }
    return r;
}

void mg_queue_metrics_get(mg_queue *q, mg_queue_metrics *out)
{
    pthread_mutex_lock(&q->lock);
    *out = q->metrics;
    pthread_mutex_unlock(&q->lock);
}
