/*
 * daemon.c - the composition root of `mgd serve` (see daemon.h).
 */
#include "daemon/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server.h"
#include "base/alloc.h"
#include "base/deadline.h"
#include "base/fsutil.h"
#include "daemon/queue.h"
#include "daemon/store.h"
#include "daemon/tokens.h"
#include "targets/builtin_catalog.h"
#include "graph/describe.h"
#include "service/service.h"
#include "toolchain/cache.h"
#include "toolchain/target.h"

/* The environment variable every process of the daemon inherits, naming
 * its data directory. */
#define MARKER "MGD_SERVE_DATA"

struct mg_daemon {
    char *data; /* realpath of the data directory */
    int lock_fd;
    mg_store *store;
    mg_targets *targets;
    mg_catalog *catalog;
    mg_cache *cache;
    mg_queue *queue;
    mg_service service;
    mg_api *api;
    /* the periodic gc (step 6) */
    unsigned gc_interval_s;
    pthread_t gc_thread;
    bool gc_started, gc_stop;
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
};

/* Kills the processes a dead daemon on this data directory left behind:
 * every process whose environment carries our marker. */
static unsigned kill_orphans(const char *marker_entry)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    unsigned killed = 0;
    size_t mlen = strlen(marker_entry);
    struct dirent *e;
    char *buf = malloc(1u << 20);
    while (buf && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == getpid()) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        size_t len = 0;
        ssize_t n;
        while (len < (1u << 20) - 1 && (n = read(fd, buf + len, (1u << 20) - 1 - len)) > 0)
            len += (size_t)n;
        close(fd);
        for (size_t off = 0; off < len;) {
            size_t l = strnlen(buf + off, len - off);
            if (l == mlen && !memcmp(buf + off, marker_entry, mlen)) {
                if (kill((pid_t)pid, SIGKILL) == 0) killed++;
                break;
            }
            off += l + 1;
        }
    }
    free(buf);
    closedir(d);
    return killed;
}

/* Builds a crash interrupted end their log with a line saying so, and get
 * their log size recorded (the worker that would have done it is gone). */
static int close_interrupted_logs(mg_store *store, const char *data, mg_err *e)
{
    mg_stored_build_filter f = {.status_mask = 1u << MG_STORED_INTERRUPTED};
    mg_stored_build *rows;
    size_t n;
    int64_t total;
    if (mg_store_build_list(store, &f, 0, 1000, &rows, &n, &total, e)) return -1;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].log_size != 0) continue; /* closed at an earlier start */
        char *path = mg_xasprintf("%s/logs/%lld.log", data, (long long)rows[i].id);
        /* a log that cannot be closed does not keep the daemon from
         * starting (the build is marked interrupted either way), but it is
         * said */
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        mg_err le = {0};
        if (fd < 0) {
            mg_err_set(&le, MG_E_IO, "%s: %s", path, strerror(errno));
        } else {
            static const char line[] = "\n[mgd] interrupted: the daemon stopped while the build "
                                       "ran; the next start marked it\n";
            struct stat st;
            if (write(fd, line, sizeof line - 1) < 0)
                mg_err_set(&le, MG_E_IO, "%s: %s", path, strerror(errno));
            else if (fstat(fd, &st) == 0)
                mg_store_set_log_size(store, rows[i].id, st.st_size, &le);
            close(fd);
        }
        if (le.msg[0])
            fprintf(stderr, "mgd: the log of interrupted build %lld: %s\n", (long long)rows[i].id,
                    le.msg);
        free(path);
    }
    mg_stored_builds_free(rows, n);
    return 0;
}

/* On a fresh database: an admin token in DATA/admin.token. */
static int first_token(mg_store *store, const char *data, mg_err *e)
{
    if (mg_store_token_count(store) != 0) return 0;
    char token[MG_TOKEN_TEXT_SIZE], hash[MG_SHA256_HEX_SIZE];
    if (mg_token_new(token)) return mg_err_set(e, MG_E_BUSY, "no randomness for the admin token");
    mg_token_hash(token, hash);
    char *path = mg_path_join(data, "admin.token");
    char *line = mg_xasprintf("%s\n", token);
    int r = mg_file_write_atomic(path, line, strlen(line), 0600);
    if (r) {
        mg_err_set(e, MG_E_IO, "cannot write %s: %s", path, strerror(errno));
    } else if (mg_store_token_create(store, "admin (first start)", MG_SCOPE_ADMIN, hash, e) < 0) {
        mg_err_prefix(e, "cannot store the admin token");
        unlink(path);
        r = -1;
    } else {
        fprintf(stderr, "mgd: admin token written to %s\n", path);
    }
    memset(token, 0, sizeof token);
    memset(line, 0, strlen(line));
    free(line);
    free(path);
    return r ? -1 : 0;
}

int mg_daemon_lock(const char *data_dir, mg_err *e)
{
    char *lock_path = mg_path_join(data_dir, "mgd.lock");
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        mg_err_set(e, MG_E_IO, "%s: %s", lock_path, strerror(errno));
        free(lock_path);
        return -1;
    }
    free(lock_path);
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return mg_err_set(e, MG_E_BUSY, "another mgd is serving this data directory");
    }
    return fd;
}

/* Steps 1 and 2: the data directory, its lock, the orphans. */
static int take_data_dir(mg_daemon *d, const mg_daemon_options *o, mg_err *e)
{
    if (mg_mkdir_p(o->data_dir))
        return mg_err_set(e, MG_E_IO, "cannot create %s: %s", o->data_dir, strerror(errno));
    if (!(d->data = realpath(o->data_dir, NULL)))
        return mg_err_set(e, MG_E_IO, "%s: %s", o->data_dir, strerror(errno));
    /* builds run what users send: without a sandbox, a token that may
     * build reads every file the daemon can */
    mg_err probe;
    if (o->no_sandbox)
        fprintf(stderr, "mgd: warning: --insecure-no-sandbox: build actions run unsandboxed\n");
    else if (mg_sandbox_probe(&probe))
        return mg_err_set(e, probe.code,
                          "cannot sandbox builds: %.300s; refusing to start "
                          "(--insecure-no-sandbox runs them unsandboxed)",
                          probe.msg);
    if ((d->lock_fd = mg_daemon_lock(d->data, e)) < 0) return -1;
    /* every process the daemon starts inherits the marker */
    char *marker = mg_xasprintf("%s=%s", MARKER, d->data);
    unsigned orphans = kill_orphans(marker);
    free(marker);
    if (orphans)
        fprintf(stderr, "mgd: killed %u process%s left by an earlier daemon\n", orphans,
                orphans == 1 ? "" : "es");
    setenv(MARKER, d->data, 1);
    return 0;
}

/* Step 3: the store, recovered. */
static int open_store(mg_daemon *d, mg_err *e)
{
    char *db_path = mg_path_join(d->data, "mgd.sqlite3");
    d->store = mg_store_open(db_path, true, e);
    if (!d->store) mg_err_prefix(e, "database %s", db_path);
    free(db_path);
    if (!d->store) return -1;
    int64_t interrupted = 0, requeued = 0;
    if (mg_store_recover(d->store, &interrupted, &requeued, e))
        return mg_err_prefix(e, "recovering the queue");
    if (interrupted || requeued)
        fprintf(stderr, "mgd: %lld build%s interrupted by the last stop, %lld still queued\n",
                (long long)interrupted, interrupted == 1 ? "" : "s", (long long)requeued);
    if (interrupted && close_interrupted_logs(d->store, d->data, e))
        return mg_err_prefix(e, "closing the logs of interrupted builds");
    return first_token(d->store, d->data, e);
}

/* Step 4: what builds are made of and where their results go. */
static int open_engine(mg_daemon *d, const mg_daemon_options *o, mg_err *e)
{
    if (!(d->targets = mg_targets_load(e))) return -1;
    mg_errors errs = {0};
    if (!(d->catalog = mg_builtin_catalog_load(&errs))) {
        char *text = mg_errors_text(&errs);
        mg_err_set(e, MG_E_INTERNAL, "the built-in catalog is broken (a bug): %s", text);
        free(text);
        mg_errors_free(&errs);
        return -1;
    }
    mg_errors_free(&errs);
    char *cache_path = o->cache_dir ? mg_xstrdup(o->cache_dir) : mg_path_join(d->data, "cache");
    d->cache = mg_cache_open(cache_path, e);
    if (!d->cache) mg_err_prefix(e, "cache %s", cache_path);
    free(cache_path);
    return d->cache ? 0 : -1;
}

/* Descriptors kept for everything but the connections: SQLite (three per
 * thread's connection), the builds' pipes and pidfds, the cache's files,
 * the API's epoll and event descriptors. */
#define FD_RESERVE 256
/* libmicrohttpd's own limit when none is given (FD_SETSIZE - 4) */
#define MHD_DEFAULT_CONNECTIONS 1020

/*
 * Open files for `wanted` connections (0: libmicrohttpd's default): each
 * may hold two descriptors, its socket and the file it sends (a streamed
 * log, an image), beside FD_RESERVE for the rest. The soft limit is raised
 * as far as that needs and the hard limit allows: a service manager's soft
 * limit of 1024 let 1,000 log followers starve the builds ("Too many open
 * files": bench/load). When even the hard limit is too small, fewer
 * connections are taken, which keeps the builds' reserve, and stderr says
 * so. Returns the connections to serve.
 */
static unsigned fit_open_files(unsigned wanted)
{
    unsigned conns = wanted ? wanted : MHD_DEFAULT_CONNECTIONS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
    rlim_t need = 2 * (rlim_t)conns + FD_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return wanted;
    /* what is left after the reserve, two per connection; a handful at
     * least, so that the API answers at all */
    rlim_t fit = rl.rlim_cur > FD_RESERVE + 32 ? (rl.rlim_cur - FD_RESERVE) / 2 : 16;
    fprintf(stderr,
            "mgd: warning: %llu open files at most (ulimit -n): serving %llu connections, "
            "not %u (each may hold two files, and %d are kept for builds and the database)\n",
            (unsigned long long)rl.rlim_cur, (unsigned long long)fit, conns, FD_RESERVE);
    return (unsigned)fit;
}

/* Step 5: the workers, the service and the API. */
static int start_serving(mg_daemon *d, const mg_daemon_options *o, mg_err *e)
{
    mg_queue_options qo = {
        .store = d->store,
        .cache = d->cache,
        .remote = o->remote,
        .distcc = o->distcc,
        .catalog = d->catalog,
        .targets = d->targets,
        .data_dir = d->data,
        .workers = o->workers,
        .jobs = o->jobs,
        .limits = o->limits,
        .no_sandbox = o->no_sandbox,
        .max_log_bytes = o->max_log,
        .worker_lease_ms = o->worker_lease_ms,
        .allow_local_repos = o->local_repos,
    };
    if (!(d->queue = mg_queue_start(&qo, e))) return -1;
    mg_service_init(&d->service, &(mg_service_options){
                                     .store = d->store,
                                     .queue = d->queue,
                                     .catalog = d->catalog,
                                     .targets = d->targets,
                                     .max_sources = o->max_sources,
                                     .max_queued = o->max_queue,
                                     .keep_builds = o->keep_builds,
                                 });
    unsigned conns = fit_open_files(o->max_connections);
    unsigned per_ip = conns && o->per_ip > conns ? conns : o->per_ip;
    mg_api_options ao = {
        .host = o->host,
        .port = o->port,
        .service = &d->service,
        .store = d->store,
        .queue = d->queue,
        .cache = d->cache,
        .catalog = d->catalog,
        .targets = d->targets,
        .max_body = o->max_body,
        .max_body_total = o->max_body_total,
        .threads = o->threads,
        .max_connections = conns,
        .per_ip_connections = per_ip,
        .timeout_s = o->idle_timeout_s,
        .header_timeout_s = o->header_timeout_s,
        .body_timeout_s = o->body_timeout_s,
        .graph_timeout_s = o->graph_timeout_s,
        .version = o->version,
    };
    if (!(d->api = mg_api_start(&ao, e))) return -1;
    return 0;
}

/* Step 6: a gc every gc_interval_s, the first one interval after start
 * (a daemon restarted often does not collect at every start). What it did
 * goes to the log (mg_queue_gc). */
static void *gc_main(void *arg)
{
    mg_daemon *d = arg;
    pthread_mutex_lock(&d->gc_mu);
    while (!d->gc_stop) {
        struct timespec until = mg_abstime_in(CLOCK_REALTIME, (uint64_t)d->gc_interval_s * 1000u);
        if (pthread_cond_timedwait(&d->gc_cv, &d->gc_mu, &until) != ETIMEDOUT || d->gc_stop)
            continue;
        pthread_mutex_unlock(&d->gc_mu);
        mg_service_err err = {0};
        mg_gc_report r;
        mg_service_gc(&d->service, "periodic", &r, &err);
        mg_service_err_free(&err);
        pthread_mutex_lock(&d->gc_mu);
    }
    pthread_mutex_unlock(&d->gc_mu);
    mg_store_thread_done(d->store);
    return NULL;
}

static int start_gc(mg_daemon *d, const mg_daemon_options *o, mg_err *e)
{
    if (!o->gc_interval_s) return 0;
    d->gc_interval_s = o->gc_interval_s;
    int r = pthread_create(&d->gc_thread, NULL, gc_main, d);
    if (r) return mg_err_set(e, MG_E_IO, "cannot start the periodic gc: %s", strerror(r));
    d->gc_started = true;
    return 0;
}

static void stop_gc(mg_daemon *d)
{
    if (!d->gc_started) return;
    pthread_mutex_lock(&d->gc_mu);
    d->gc_stop = true;
    pthread_cond_broadcast(&d->gc_cv);
    pthread_mutex_unlock(&d->gc_mu);
    pthread_join(d->gc_thread, NULL);
    d->gc_started = false;
}

mg_daemon *mg_daemon_start(const mg_daemon_options *o, mg_err *e)
{
    mg_daemon *d = mg_xmalloc(sizeof *d);
    memset(d, 0, sizeof *d);
    d->lock_fd = -1;
    pthread_mutex_init(&d->gc_mu, NULL);
    pthread_cond_init(&d->gc_cv, NULL);
    if (take_data_dir(d, o, e) || open_store(d, e) || open_engine(d, o, e) ||
        start_serving(d, o, e) || start_gc(d, o, e)) {
        mg_daemon_stop(d);
        return NULL;
    }
    return d;
}

uint16_t mg_daemon_port(const mg_daemon *d)
{
    return mg_api_port(d->api);
}

const char *mg_daemon_data_dir(const mg_daemon *d)
{
    return d->data;
}

void mg_daemon_stop(mg_daemon *d)
{
    if (!d) return;
    stop_gc(d);
    mg_api_stop(d->api);
    mg_queue_stop(d->queue);
    mg_cache_close(d->cache);
    mg_catalog_free(d->catalog);
    mg_targets_free(d->targets);
    mg_store_close(d->store);
    if (d->lock_fd >= 0) close(d->lock_fd);
    pthread_mutex_destroy(&d->gc_mu);
    pthread_cond_destroy(&d->gc_cv);
    free(d->data);
    free(d);
}
