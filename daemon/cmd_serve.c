/*
 * mgd serve [--listen HOST:PORT] [--data DIR] [--workers N] [--jobs N] ...
 *
 * The daemon's command line: its options, its signals, and the call of the
 * composition root (daemon/daemon.h), which starts the store, the workers,
 * the service and the HTTP API and stops them again. It runs until SIGINT
 * or SIGTERM. See docs/api.md and docs/daemon.md.
 *
 * Exit status: 0 after a stop by signal, 1 when the daemon cannot start,
 * 2 for a mistake on the command line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opt.h"
#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "daemon/daemon.h"
#include "daemon/gc.h"
#include "toolchain/cache.h"
#include "toolchain/sandbox.h"
#include "toolchain/target.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mgd serve [--listen HOST:PORT] [--data DIR] [--workers N] [--jobs N]\n"
            "                 [--cache DIR] [--max-body SIZE] [--max-sources SIZE]\n"
            "                 [--max-log SIZE] [--max-queue N] [--threads N]\n"
            "                 [--max-connections N] [--per-ip N] [--idle-timeout SECONDS]\n"
            "                 [--graph-timeout SECONDS]\n"
            "                 [--header-timeout SECONDS] [--body-timeout SECONDS]\n"
            "                 [--max-body-total SIZE] [--worker-lease-timeout MS]\n"
            "                 [--keep-builds N] [--gc-interval SECONDS]\n"
            "                 [--no-local-repos] [--insecure-no-sandbox] [REMOTE CACHE]\n"
            "                 [DISTCC] [LIMITS]\n"
            "\n"
            "Runs the build daemon and its REST API until SIGINT or SIGTERM.\n"
            "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; port 0: any free one)\n"
            "  --data DIR          database, logs, mirrors, scratch (default ./var)\n"
            "  --workers N         builds at once (default 2)\n"
            "  --jobs N            processes per build here (default: the number of cores);\n"
            "                      distcc hosts add their own\n"
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
            "  --worker-lease-timeout MS  a pull worker's build goes back to the queue after\n"
            "                      MS without a heartbeat (default 30000; docs/workers.md)\n"
            "  --keep-builds N     retention: finished builds kept per project, target and\n"
            "                      arch (default 20; 0 keeps all); projects may set their own\n"
            "  --gc-interval S     delete what retention does not keep every S seconds\n"
            "                      (default 3600; 0: only on POST /gc)\n"
            "  --no-local-repos    refuse local paths and file:// URLs as project repos\n"
            "  --insecure-no-sandbox  run build actions without the sandbox (limits only):\n"
            "                      any user who may build can then read what mgd can "
            "read\n" MG_CLI_REMOTE_USAGE MG_CLI_DISTCC_USAGE MG_CLI_LIMITS_USAGE
            "On first start, an admin token is written to DATA/admin.token (mode 0600).\n");
}

/* Every option of `mgd serve` but the limits (mg_cli_limit_options); as
 * with the old parser, an option given again overrides. */
static const mg_option serve_options[] = {
    {"--listen", 0, "HOST:PORT", true, NULL, "where to listen"},
    {"--data", 0, "DIR", true, "@dir", "database, logs, mirrors, scratch"},
    {"--workers", 0, "N", true, NULL, "builds at once"},
    {"--jobs", 0, "N", true, NULL, "processes per build"},
    {"--cache", 0, "DIR", true, "@dir", "the action cache and image store"},
    {"--max-body", 0, "SIZE", true, NULL, "largest request body"},
    {"--max-body-total", 0, "SIZE", true, NULL, "request bodies held at once"},
    {"--max-sources", 0, "SIZE", true, NULL, "largest inline source tree"},
    {"--max-log", 0, "SIZE", true, NULL, "largest build log"},
    {"--max-queue", 0, "N", true, NULL, "queued builds before requests get 429"},
    {"--threads", 0, "N", true, NULL, "HTTP threads"},
    {"--max-connections", 0, "N", true, NULL, "open connections at most"},
    {"--per-ip", 0, "N", true, NULL, "open connections per client address"},
    {"--idle-timeout", 0, "SECONDS", true, NULL, "idle connections are closed after it"},
    {"--header-timeout", 0, "SECONDS", true, NULL, "time for a request's line and headers"},
    {"--body-timeout", 0, "SECONDS", true, NULL, "time for a request's body"},
    {"--graph-timeout", 0, "SECONDS", true, NULL, "time limit of one Graphviz drawing"},
    {"--worker-lease-timeout", 0, "MS", true, NULL, "a pull worker's lease without heartbeat"},
    {"--keep-builds", 0, "N", true, NULL, "finished builds kept per project, target and arch"},
    {"--gc-interval", 0, "SECONDS", true, NULL, "time between two gc runs (0: none)"},
    {"--no-local-repos", 0, NULL, true, NULL, "refuse local paths as project repos"},
    {"--insecure-no-sandbox", 0, NULL, true, NULL, "run build actions without the sandbox"},
    {"--help", 'h', NULL, true, NULL, "this help"},
    MG_OPTION_END,
};

/* The counts: option, largest value, where it goes. */
typedef struct count_option {
    const char *name;
    long max;
    size_t offset; /* of an unsigned in mg_daemon_options; max_queue is the int64_t */
} count_option;

static const count_option count_options[] = {
    {"--workers", 256, offsetof(mg_daemon_options, workers)},
    {"--jobs", 1024, offsetof(mg_daemon_options, jobs)},
    {"--threads", 1024, offsetof(mg_daemon_options, threads)},
    {"--max-connections", 1000000, offsetof(mg_daemon_options, max_connections)},
    {"--per-ip", 1000000, offsetof(mg_daemon_options, per_ip)},
    {"--idle-timeout", 86400, offsetof(mg_daemon_options, idle_timeout_s)},
    {"--header-timeout", 86400, offsetof(mg_daemon_options, header_timeout_s)},
    {"--body-timeout", 86400, offsetof(mg_daemon_options, body_timeout_s)},
    {"--graph-timeout", 3600, offsetof(mg_daemon_options, graph_timeout_s)},
    {"--worker-lease-timeout", 3600000, offsetof(mg_daemon_options, worker_lease_ms)},
    {"--max-queue", 1000000, offsetof(mg_daemon_options, max_queue)},
};

static const struct {
    const char *name;
    size_t offset; /* of a uint64_t in mg_daemon_options */
} size_options[] = {
    {"--max-body", offsetof(mg_daemon_options, max_body)},
    {"--max-body-total", offsetof(mg_daemon_options, max_body_total)},
    {"--max-sources", offsetof(mg_daemon_options, max_sources)},
    {"--max-log", offsetof(mg_daemon_options, max_log)},
};

static int parse_listen(const char *arg, char *host, size_t host_size, uint16_t *port)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || (size_t)(colon - arg) >= host_size) return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == 0 || p < 0 || p > 65535) return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = 0;
    *port = (uint16_t)p;
    return 0;
}

static int parse_number(const char *opt, const char *arg, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(arg, &end, 10);
    if (*end || arg[0] == 0 || errno || n < min || n > max) {
        fprintf(stderr, "mgd serve: %s takes a number from %ld to %ld, got '%s'\n", opt, min, max,
                arg);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_count(const char *opt, const char *arg, long max, long *out)
{
    return parse_number(opt, arg, 1, max, out);
}

/* Puts the values of `a` into *o (whose defaults are set). 0, or -1 after
 * a message on stderr. */
static int take_options(const mg_args *a, mg_daemon_options *o, char *host, size_t host_size)
{
    const char *v;
    if (a->npositional > 0) {
        fprintf(stderr, "mgd serve: unexpected argument '%s'\n", a->positional[0]);
        return -1;
    }
    /* an option given twice counts once, the last time, but a wrong value
     * is refused wherever it stands: every value is checked */
    for (int k = 0; (v = mg_args_nth(a, "--listen", k)); k++)
        if (parse_listen(v, host, host_size, &o->port)) {
            fprintf(stderr, "mgd serve: --listen takes HOST:PORT, got '%s'\n", v);
            return -1;
        }
    if ((v = mg_args_get(a, "--data"))) o->data_dir = v;
    if ((v = mg_args_get(a, "--cache"))) o->cache_dir = v;
    for (size_t i = 0; i < sizeof count_options / sizeof *count_options; i++) {
        const count_option *c = &count_options[i];
        long n;
        for (int k = 0; (v = mg_args_nth(a, c->name, k)); k++) {
            if (parse_count(c->name, v, c->max, &n)) return -1;
            if (c->offset == offsetof(mg_daemon_options, max_queue))
                o->max_queue = n;
            else
                *(unsigned *)((char *)o + c->offset) = (unsigned)n;
        }
    }
    for (size_t i = 0; i < sizeof size_options / sizeof *size_options; i++) {
        uint64_t size;
        for (int k = 0; (v = mg_args_nth(a, size_options[i].name, k)); k++) {
            if (mg_size_parse(v, &size) || size == 0 || size > (1ull << 40)) {
                fprintf(stderr, "mgd serve: %s takes a size such as 4M, got '%s'\n",
                        size_options[i].name, v);
                return -1;
            }
            *(uint64_t *)((char *)o + size_options[i].offset) = size;
        }
    }
    /* the two that take 0 (keep all, no periodic gc) */
    long n;
    for (int k = 0; (v = mg_args_nth(a, "--keep-builds", k)); k++) {
        if (parse_number("--keep-builds", v, 0, MG_GC_MAX_KEEP_BUILDS, &n)) return -1;
        o->keep_builds = n;
    }
    for (int k = 0; (v = mg_args_nth(a, "--gc-interval", k)); k++) {
        if (parse_number("--gc-interval", v, 0, 30 * 86400, &n)) return -1;
        o->gc_interval_s = (unsigned)n;
    }
    if (mg_args_has(a, "--no-local-repos")) o->local_repos = false;
    if (mg_args_has(a, "--insecure-no-sandbox")) o->no_sandbox = true;
    if (mg_cli_apply_limits("mgd serve", a, &o->limits)) return -1;
    /* a body of the largest size must fit the total */
    if (o->max_body_total && o->max_body_total <= o->max_body) {
        fprintf(stderr, "mgd serve: --max-body-total must be more than --max-body\n");
        return -1;
    }
    return 0;
}

/* Probes the distcc hosts for the registry's targets and arches whose
 * tools are here: those are what the daemon may build. */
static void probe_distcc(const mg_distcc_hosts *given, bool no_sandbox, mg_distcc_hosts *kept)
{
    mg_err err;
    mg_targets *targets = mg_targets_load(&err);
    if (!targets) {
        fprintf(stderr, "mgd serve: distcc: off: %s\n", err.msg);
        return;
    }
    mg_distcc_probe_target *pt = NULL;
    size_t n = 0;
    for (size_t i = 0; i < mg_targets_count(targets); i++) {
        const mg_target *t = mg_targets_get(targets, i);
        for (size_t k = 0; k < t->n_arches; k++) {
            bool can_run;
            if (!mg_target_available(t, &t->arches[k], &can_run, NULL)) continue;
            pt = mg_xrealloc(pt, (n + 1) * sizeof *pt);
            pt[n++] = (mg_distcc_probe_target){t, &t->arches[k]};
        }
    }
    mg_cli_distcc_probe("mgd serve", given, pt, n, no_sandbox, kept);
    free(pt);
    mg_targets_free(targets);
}

int mg_cmd_serve(int argc, char **argv)
{
    char host[256] = "127.0.0.1";
    mg_daemon_options o = {
        .host = host,
        .port = 8080,
        .data_dir = "var",
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
        .keep_builds = MG_GC_DEFAULT_KEEP_BUILDS,
        .gc_interval_s = 3600,
        .version = MGD_VERSION,
    };
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {serve_options, mg_cli_limit_options, mg_cli_remote_options,
                                       mg_cli_distcc_options};
    if (mg_cli_parse_options("mgd serve", &args, tables, 4, argc, argv) != 0) return 2;
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    if (take_options(&args, &o, host, sizeof host)) return 2;
    /* lives until the daemon stops: every build opens its session on it */
    static mg_remote_config remote;
    int has_remote = mg_cli_remote_config("mgd serve", &args, &remote);
    if (has_remote < 0) return 2;
    if (has_remote) o.remote = &remote;
    /* the hosts that pass the probe for every target and arch this machine
     * builds; they live until the daemon stops */
    static mg_distcc_hosts given, kept;
    int has_distcc = mg_cli_distcc_hosts("mgd serve", &args, &given);
    if (has_distcc < 0) {
        mg_remote_config_free(&remote);
        return 2;
    }
    if (has_distcc) {
        probe_distcc(&given, o.no_sandbox, &kept);
        o.distcc = &kept;
    }

    /* SIGINT and SIGTERM are taken by sigwait() below; every thread the
     * daemon starts inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_err e;
    mg_daemon *d = mg_daemon_start(&o, &e);
    if (!d) {
        fprintf(stderr, "mgd serve: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "mgd: data in %s, %u worker%s\n", mg_daemon_data_dir(d), o.workers,
            o.workers == 1 ? "" : "s");
    if (o.keep_builds)
        fprintf(stderr, "mgd: retention: %lld finished builds per project, target and arch; ",
                (long long)o.keep_builds);
    else
        fprintf(stderr, "mgd: retention: every build kept; ");
    if (o.gc_interval_s)
        fprintf(stderr, "gc every %u s\n", o.gc_interval_s);
    else
        fprintf(stderr, "gc on POST /gc only\n");
    fprintf(stderr, "mgd: listening on http://%s:%u\n", o.host, (unsigned)mg_daemon_port(d));
    if (o.remote)
        fprintf(stderr, "mgd: remote cache %s%s\n", o.remote->url,
                o.remote->read_only ? " (read only)" : "");
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "mgd: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    mg_daemon_stop(d);
    mg_remote_config_free(&remote);
    mg_distcc_hosts_free(&given);
    mg_distcc_hosts_free(&kept);
    return 0;
}
