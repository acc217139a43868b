/*
 * mgd serve [--listen HOST:PORT] [--data DIR] [--workers N] [--jobs N] ...
 *
 * The daemon: opens (and checks) the database, recovers from an earlier
 * crash, starts the build workers and the HTTP API, and runs until SIGINT
 * or SIGTERM. See docs/api.md and docs/daemon.md.
 *
 * Start-up order matters for crash safety:
 *   1. an exclusive lock on DATA/mgd.lock: one daemon per data directory;
 *   2. processes left by a daemon that died on this data directory (found
 *      by the MGD_SERVE_DATA marker every build process inherits) are
 *      killed: nothing else can own them, since we hold the lock;
 *   3. the database passes PRAGMA quick_check, then builds that were
 *      running become `interrupted`; queued ones stay queued;
 *   4. scratch space is emptied (mg_queue_start), workers and API start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server.h"
#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "daemon/queue.h"
#include "daemon/store.h"
#include "daemon/tokens.h"
#include "base/arena.h"
#include "graph/builtin_catalog.h"
#include "graph/describe.h"
#include "toolchain/cache.h"
#include "base/fsutil.h"
#include "toolchain/target.h"

#define MARKER "MGD_SERVE_DATA"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mgd serve [--listen HOST:PORT] [--data DIR] [--workers N] [--jobs N]\n"
            "                 [--cache DIR] [--max-body SIZE] [--max-sources SIZE]\n"
            "                 [--max-log SIZE] [--max-queue N] [--threads N]\n"
            "                 [--max-connections N] [--per-ip N] [--idle-timeout SECONDS]\n"
            "                 [--graph-timeout SECONDS]\n"
            "                 [--header-timeout SECONDS] [--body-timeout SECONDS]\n"
            "                 [--max-body-total SIZE]\n"
            "                 [--no-local-repos] [--insecure-no-sandbox] [LIMITS]\n"
            "\n"
            "Runs the build daemon and its REST API until SIGINT or SIGTERM.\n"
            "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; port 0: any free one)\n"
            "  --data DIR          database, logs, mirrors, scratch (default ./var)\n"
            "  --workers N         builds at once (default 2)\n"
            "  --jobs N            processes per build (default: the number of cores)\n"
            "  --cache DIR         the action cache and image store (default DATA/cache)\n"
            "  --max-body SIZE     largest request body (default 4M)\n"
            "  --max-body-total SIZE  request bodies held at once, all together (default 64M,\n"
            "                      or 4 x --max-body when that is more)\n"
            "  --max-sources SIZE  largest inline source tree (default 1M)\n"
            "  --max-log SIZE      largest build log, then truncated (default 16M)\n"
            "  --max-queue N       queued builds before requests get 429 (default 1000)\n"
            "  --threads N         HTTP threads (default: 2 x cores)\n"
            "  --max-connections N open connections at most (default 1024)\n"
            "  --per-ip N          open connections per client address (default 256)\n"
            "  --idle-timeout S    idle connections are closed after S seconds (default 60)\n"
            "  --header-timeout S  a request's line and headers must arrive within S seconds\n"
            "                      (default 10)\n"
            "  --body-timeout S    a request's body must arrive within S seconds of its head\n"
            "                      (default 60)\n"
            "  --graph-timeout S   time limit of one Graphviz drawing (default 10)\n"
            "  --no-local-repos    refuse local paths and file:// URLs as project repos\n"
            "  --insecure-no-sandbox  run build actions without the sandbox (limits only):\n"
            "                      any user who may build can then read what mgd can "
            "read\n" MG_CLI_LIMITS_USAGE
            "On first start, an admin token is written to DATA/admin.token (mode 0600).\n");
}

typedef struct serve_options {
    char host[256];
    uint16_t port;
    const char *data, *cache;
    unsigned workers, jobs, threads, max_connections, per_ip, idle_timeout_s;
    unsigned graph_timeout_s;
    unsigned header_timeout_s, body_timeout_s;
    uint64_t max_body, max_sources, max_log;
    uint64_t max_body_total;
    int64_t max_queue;
    mg_build_limits limits;
    bool local_repos, no_sandbox;
} serve_options;

static int parse_listen(const char *arg, serve_options *o)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof o->host) return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == 0 || port < 0 || port > 65535) return -1;
    memcpy(o->host, arg, (size_t)(colon - arg));
    o->host[colon - arg] = 0;
    o->port = (uint16_t)port;
    return 0;
}

static int parse_count(const char *opt, const char *arg, long max, long *out)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || arg[0] == 0 || n < 1 || n > max) {
        fprintf(stderr, "mgd serve: %s takes a number from 1 to %ld\n", opt, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_args(int argc, char **argv, serve_options *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--no-local-repos")) {
            o->local_repos = false;
            continue;
        }
        if (!strcmp(a, "--insecure-no-sandbox")) {
            o->no_sandbox = true;
            continue;
        }
        int lr = mg_cli_parse_limit("mgd serve", a, v, &o->limits);
        if (lr < 0) return -1;
        if (lr > 0) {
            i++;
            continue;
        }
        if (a[0] != '-') {
            fprintf(stderr, "mgd serve: unexpected argument '%s'\n", a);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "mgd serve: unknown option or missing value: '%s'\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--listen")) {
            if (parse_listen(v, o)) {
                fprintf(stderr, "mgd serve: --listen takes HOST:PORT, got '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--data")) {
            o->data = v;
        } else if (!strcmp(a, "--cache")) {
            o->cache = v;
        } else if (!strcmp(a, "--workers")) {
            if (parse_count(a, v, 256, &n)) return -1;
            o->workers = (unsigned)n;
        } else if (!strcmp(a, "--jobs")) {
            if (parse_count(a, v, 1024, &n)) return -1;
            o->jobs = (unsigned)n;
        } else if (!strcmp(a, "--threads")) {
            if (parse_count(a, v, 1024, &n)) return -1;
            o->threads = (unsigned)n;
        } else if (!strcmp(a, "--max-connections")) {
            if (parse_count(a, v, 1000000, &n)) return -1;
            o->max_connections = (unsigned)n;
        } else if (!strcmp(a, "--per-ip")) {
            if (parse_count(a, v, 1000000, &n)) return -1;
            o->per_ip = (unsigned)n;
        } else if (!strcmp(a, "--idle-timeout")) {
            if (parse_count(a, v, 86400, &n)) return -1;
            o->idle_timeout_s = (unsigned)n;
        } else if (!strcmp(a, "--header-timeout")) {
            if (parse_count(a, v, 86400, &n)) return -1;
            o->header_timeout_s = (unsigned)n;
        } else if (!strcmp(a, "--body-timeout")) {
            if (parse_count(a, v, 86400, &n)) return -1;
            o->body_timeout_s = (unsigned)n;
        } else if (!strcmp(a, "--graph-timeout")) {
            if (parse_count(a, v, 3600, &n)) return -1;
            o->graph_timeout_s = (unsigned)n;
        } else if (!strcmp(a, "--max-queue")) {
            if (parse_count(a, v, 1000000, &n)) return -1;
            o->max_queue = n;
        } else if (!strcmp(a, "--max-body") || !strcmp(a, "--max-sources") ||
                   !strcmp(a, "--max-log") || !strcmp(a, "--max-body-total")) {
            uint64_t size;
            if (mg_size_parse(v, &size) || size == 0 || size > (1ull << 40)) {
                fprintf(stderr, "mgd serve: %s takes a size such as 4M, got '%s'\n", a, v);
                return -1;
            }
            if (!strcmp(a, "--max-body")) o->max_body = size;
            if (!strcmp(a, "--max-body-total")) o->max_body_total = size;
            if (!strcmp(a, "--max-sources")) o->max_sources = size;
            if (!strcmp(a, "--max-log")) o->max_log = size;
        } else {
            fprintf(stderr, "mgd serve: unknown option '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

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
static void close_interrupted_logs(mg_store *store, const char *data)
{
    mg_stored_build_filter f = {.status_mask = 1u << MG_STORED_INTERRUPTED};
    mg_stored_build *rows;
    size_t n;
    int64_t total;
    if (mg_store_build_list(store, &f, 0, 1000, &rows, &n, &total, NULL)) return;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].log_size != 0) continue; /* closed at an earlier start */
        char *path = mg_xasprintf("%s/logs/%lld.log", data, (long long)rows[i].id);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            static const char line[] = "\n[mgd] interrupted: the daemon stopped while the build "
                                       "ran; the next start marked it\n";
            ssize_t w = write(fd, line, sizeof line - 1);
            (void)w;
            struct stat st;
            if (fstat(fd, &st) == 0) mg_store_set_log_size(store, rows[i].id, st.st_size);
            close(fd);
        }
        free(path);
    }
    mg_stored_builds_free(rows, n);
}

/* On a fresh database: an admin token in DATA/admin.token. */
static int first_token(mg_store *store, const char *data)
{
    if (mg_store_token_count(store) != 0) return 0;
    char token[MG_TOKEN_TEXT_SIZE], hash[MG_SHA256_HEX_SIZE];
    mg_err err;
    if (mg_token_new(token)) {
        fprintf(stderr, "mgd serve: no randomness for the admin token\n");
        return -1;
    }
    mg_token_hash(token, hash);
    char *path = mg_path_join(data, "admin.token");
    char *line = mg_xasprintf("%s\n", token);
    int r = mg_file_write_atomic(path, line, strlen(line), 0600);
    if (r == 0 &&
        mg_store_token_create(store, "admin (first start)", MG_SCOPE_ADMIN, hash, &err) < 0) {
        fprintf(stderr, "mgd serve: cannot store the admin token: %s\n", err.msg);
        unlink(path);
        r = -1;
    } else if (r) {
        fprintf(stderr, "mgd serve: cannot write %s: %s\n", path, strerror(errno));
    } else {
        fprintf(stderr, "mgd: admin token written to %s\n", path);
    }
    memset(token, 0, sizeof token);
    memset(line, 0, strlen(line));
    free(line);
    free(path);
    return r;
}

int mg_cmd_serve(int argc, char **argv)
{
    serve_options o = {
        .host = "127.0.0.1",
        .port = 8080,
        .data = "var",
        .workers = 2,
        .max_connections = 1024,
        .per_ip = 256,
        .idle_timeout_s = 60,
        .header_timeout_s = 10,
        .body_timeout_s = 60,
        .max_body = 4u << 20,
        .max_sources = 1u << 20,
        .max_log = 16u << 20,
        .max_queue = 1000,
        .limits = mg_build_limits_default(),
        .local_repos = true,
    };
    int pr = parse_args(argc, argv, &o);
    if (pr) return pr > 0 ? 0 : 2;
    /* a body of the largest size must fit the total */
    if (o.max_body_total && o.max_body_total <= o.max_body) {
        fprintf(stderr, "mgd serve: --max-body-total must be more than --max-body\n");
        return 2;
    }

    int status = 1;
    char err[1024];
    mg_err e;
    if (mg_mkdir_p(o.data)) {
        fprintf(stderr, "mgd serve: cannot create %s: %s\n", o.data, strerror(errno));
        return 1;
    }
    char *data = realpath(o.data, NULL);
    if (!data) {
        fprintf(stderr, "mgd serve: %s: %s\n", o.data, strerror(errno));
        return 1;
    }
    /* builds run what users send: without a sandbox, a token that may
     * build reads every file the daemon can */
    if (o.no_sandbox)
        fprintf(stderr, "mgd: warning: --insecure-no-sandbox: build actions run unsandboxed\n");
    else if (mg_sandbox_probe(&e)) {
        fprintf(stderr,
                "mgd serve: cannot sandbox builds: %s; refusing to start (--insecure-no-sandbox "
                "runs them unsandboxed)\n",
                e.msg);
        free(data);
        return 1;
    }
    char *lock_path = mg_path_join(data, "mgd.lock");
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
        fprintf(stderr, "mgd serve: %s\n",
                lock_fd < 0 ? strerror(errno) : "another mgd is serving this data directory");
        free(lock_path);
        free(data);
        if (lock_fd >= 0) close(lock_fd);
        return 1;
    }
    free(lock_path);

    /* every process the daemon starts inherits the marker */
    char *marker = mg_xasprintf("%s=%s", MARKER, data);
    unsigned orphans = kill_orphans(marker);
    if (orphans)
        fprintf(stderr, "mgd: killed %u process%s left by an earlier daemon\n", orphans,
                orphans == 1 ? "" : "es");
    setenv(MARKER, data, 1);

    /* SIGINT and SIGTERM are taken by sigwait() below; every thread
     * started from here on inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_store *store = NULL;
    mg_cache *cache = NULL;
    mg_targets *targets = NULL;
    mg_catalog *catalog = NULL;
    mg_queue *queue = NULL;
    mg_api *api = NULL;
    char *db_path = mg_path_join(data, "mgd.sqlite3");
    char *cache_path = o.cache ? mg_xstrdup(o.cache) : mg_path_join(data, "cache");
    if (!(store = mg_store_open(db_path, true, &e))) {
        fprintf(stderr, "mgd serve: database %s: %s\n", db_path, e.msg);
        goto out;
    }
    int64_t interrupted = 0, requeued = 0;
    if (mg_store_recover(store, &interrupted, &requeued, &e)) {
        fprintf(stderr, "mgd serve: recovering the queue: %s\n", e.msg);
        goto out;
    }
    if (interrupted || requeued)
        fprintf(stderr, "mgd: %lld build%s interrupted by the last stop, %lld still queued\n",
                (long long)interrupted, interrupted == 1 ? "" : "s", (long long)requeued);
    if (interrupted) close_interrupted_logs(store, data);
    if (first_token(store, data)) goto out;
    if (!(targets = mg_targets_load(err, sizeof err))) {
        fprintf(stderr, "mgd serve: %s\n", err);
        goto out;
    }
    mg_errors errs = {0};
    if (!(catalog = mg_builtin_catalog_load(&errs))) {
        char *text = mg_errors_text(&errs);
        fprintf(stderr, "mgd serve: the built-in catalog is broken (a bug):\n%s", text);
        free(text);
        mg_errors_free(&errs);
        goto out;
    }
    mg_errors_free(&errs);
    if (!(cache = mg_cache_open(cache_path, &e))) {
        fprintf(stderr, "mgd serve: cache %s: %s\n", cache_path, e.msg);
        goto out;
    }
    mg_queue_options qo = {
        .store = store,
        .cache = cache,
        .catalog = catalog,
        .targets = targets,
        .data_dir = data,
        .workers = o.workers,
        .jobs = o.jobs,
        .limits = o.limits,
        .no_sandbox = o.no_sandbox,
        .max_log_bytes = o.max_log,
        .allow_local_repos = o.local_repos,
    };
    if (!(queue = mg_queue_start(&qo, &e))) {
        fprintf(stderr, "mgd serve: %s\n", e.msg);
        goto out_stop;
    }
    mg_service service;
    mg_service_init(&service, &(mg_service_options){
                                  .store = store,
                                  .queue = queue,
                                  .catalog = catalog,
                                  .targets = targets,
                                  .max_sources = o.max_sources,
                                  .max_queued = o.max_queue,
                              });
    mg_api_options ao = {
        .host = o.host,
        .port = o.port,
        .service = &service,
        .store = store,
        .queue = queue,
        .cache = cache,
        .catalog = catalog,
        .targets = targets,
        .max_body = o.max_body,
        .max_body_total = o.max_body_total,
        .threads = o.threads,
        .max_connections = o.max_connections,
        .per_ip_connections = o.per_ip,
        .timeout_s = o.idle_timeout_s,
        .header_timeout_s = o.header_timeout_s,
        .body_timeout_s = o.body_timeout_s,
        .graph_timeout_s = o.graph_timeout_s,
        .version = MGD_VERSION,
    };
    if (!(api = mg_api_start(&ao, err, sizeof err))) {
        fprintf(stderr, "mgd serve: %s\n", err);
        goto out_stop;
    }
    fprintf(stderr, "mgd: data in %s, %u worker%s\n", data, o.workers, o.workers == 1 ? "" : "s");
    fprintf(stderr, "mgd: listening on http://%s:%u\n", o.host, (unsigned)mg_api_port(api));
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "mgd: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out_stop:
    mg_api_stop(api);
    mg_queue_stop(queue);
out:
    mg_cache_close(cache);
    mg_catalog_free(catalog);
    mg_targets_free(targets);
    mg_store_close(store);
    free(db_path);
    free(cache_path);
    free(marker);
    free(data);
    close(lock_fd);
    return status;
}
