/*
 * daemon.h - the composition root of `mgd serve`: the one place where the
 * daemon's parts are made, wired to each other and taken apart again.
 *
 * mg_daemon_start builds, in this order (crash safety depends on it):
 *   1. the data directory, and an exclusive lock on DATA/mgd.lock: one
 *      daemon per data directory;
 *   2. the processes a daemon that died on this data directory left (found
 *      by the MGD_SERVE_DATA marker every build process inherits) are
 *      killed: nothing else can own them, since we hold the lock;
 *   3. the store (daemon/store.h), which must pass PRAGMA quick_check;
 *      builds that were running become `interrupted`, their logs get a
 *      last line; queued ones stay queued; on a fresh database an admin
 *      token is written to DATA/admin.token;
 *   4. the targets, the built-in catalog and the action cache;
 *   5. the queue and its workers (daemon/queue.h; scratch space is
 *      emptied), the service on top of them (service/service.h), and the
 *      HTTP API (api/server.h), which starts answering;
 *   6. the periodic gc (daemon/gc.h), every gc_interval_s, when set.
 * mg_daemon_stop takes them apart in the reverse order: the periodic gc
 * (a run in progress ends first), the API, so no request reaches a part
 * that is gone, then the workers (running builds become interrupted),
 * then what they used.
 *
 * The command line (options, signals) is daemon/cmd_serve.c's; the root
 * only reports: what it did on stderr as the daemon's log, why it could
 * not start as an mg_err. Anything that starts threads must be called
 * after the caller has set its signal mask: the threads inherit it.
 */
#ifndef MG_DAEMON_DAEMON_H
#define MG_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "toolchain/distcc.h"
#include "toolchain/remote_cache.h"
#include "toolchain/sandbox.h"

typedef struct mg_daemon_options {
    const char *host; /* where the API listens */
    uint16_t port;    /* 0: any free port (mg_daemon_port says which) */
    const char *data_dir;
    const char *cache_dir; /* NULL: DATA/cache */
    /* the shared remote cache (toolchain/remote_cache.h), or NULL; outlives the daemon */
    const mg_remote_config *remote;
    /* distcc hosts for the builds' C compiles, as the probe kept them
     * (toolchain/distcc.h), or NULL; outlives the daemon */
    const mg_distcc_hosts *distcc;
    unsigned workers; /* builds at once; 0: 2 */
    unsigned jobs;    /* processes per build; 0: the number of cores */
    mg_build_limits limits;
    bool no_sandbox;      /* build actions run with the limits only */
    bool local_repos;     /* local paths and file:// URLs as project repos */
    uint64_t max_log;     /* per build; 0: the queue's default */
    uint64_t max_sources; /* largest inline source tree; 0: the service's default */
    int64_t max_queue;    /* queued builds before a start is refused; 0: the default */
    uint64_t max_body;    /* the API's limits and timeouts (api/server.h); 0: defaults */
    uint64_t max_body_total;
    unsigned threads, max_connections, per_ip, idle_timeout_s;
    unsigned header_timeout_s, body_timeout_s, graph_timeout_s;
    unsigned worker_lease_ms; /* a pull worker's lease without heartbeat; 0: 30 s */
    /* retention (daemon/gc.h): finished builds kept per (project, target,
     * arch), 0: all; and a gc every gc_interval_s seconds, 0: none (POST
     * /gc still runs one) */
    int64_t keep_builds;
    unsigned gc_interval_s;
    const char *version; /* what /health shows */
} mg_daemon_options;

typedef struct mg_daemon mg_daemon;

/* Takes the data directory's lock (DATA/mgd.lock, an exclusive flock, not
 * waiting), as a daemon does at start and `mgd gc` before it works: the
 * descriptor that holds it (closing it releases the lock), or -1 with
 * MG_E_BUSY when another process holds it, MG_E_IO. */
int mg_daemon_lock(const char *data_dir, mg_err *e);

/* Starts the daemon as described above. NULL with `e` filled when a part
 * cannot start (what was started by then is stopped again): MG_E_BUSY when
 * another daemon serves the data directory, MG_E_IO and others with the
 * part's own reason. */
mg_daemon *mg_daemon_start(const mg_daemon_options *o, mg_err *e);
/* The port the API listens on. */
uint16_t mg_daemon_port(const mg_daemon *d);
/* The data directory as an absolute path. */
const char *mg_daemon_data_dir(const mg_daemon *d);
/* Stops everything mg_daemon_start started, in reverse order, and
 * releases the data directory's lock. NULL: nothing. */
void mg_daemon_stop(mg_daemon *d);

#endif
