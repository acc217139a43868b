/*
 * sandbox.h - how a build action runs: resource limits on every process it
 * starts and, by default, a bubblewrap sandbox around it.
 *
 * A build runs programs that users control: their sources, their cflags
 * (gcc's -wrapper or -specs run any program), their headers. So each action
 * is started as
 *
 *   bwrap <namespaces and mounts> -- prlimit <limits> -- gcc ...
 *
 * The sandbox (bwrap, Debian package bubblewrap):
 *   - new user, PID, network, IPC, UTS and cgroup namespaces: no network
 *     but its own loopback, no view of other processes, no capabilities on
 *     the host, no further user namespaces (--disable-userns);
 *   - --die-with-parent: when the thread that started bwrap dies (also by
 *     kill -9 of the daemon) the whole sandbox is SIGKILLed, and with its
 *     PID namespace gone nothing it started survives. bwrap arms this only
 *     once its sandbox process runs: a parent killed in those first
 *     milliseconds leaves the sandbox running. bwrap itself keeps the
 *     caller's environment (only the inside is cleared), so a daemon's
 *     orphan marker finds such a survivor at its next start;
 *   - a filesystem of its own: /usr read-only (with the /bin, /lib, /lib64,
 *     /sbin links or folders of the host), /dev with null, zero, full,
 *     random and urandom only (no terminal), a private /tmp
 *     (tmpfs no larger than the file size limit), no /proc, no /etc, no
 *     home; then the action's binds: read-only inputs and one writable
 *     output folder, all under the workspace /ws, the working directory;
 *   - an environment of exactly the variables given (--clearenv).
 * Everything else on the host, the daemon's data directory, database and
 * cache among it, does not exist inside.
 *
 * Limits (prlimit, util-linux, an Essential package) are rlimits, inherited
 * by every process of the action, each its own: address space, CPU seconds,
 * largest file written, number of processes of the user. The wall time of
 * an action and of a whole build are the executor's and the build's.
 * Linux does not apply the process limit to root (uid 0 outside the user
 * namespace): a daemon running as root has no process limit.
 *
 * Without the sandbox (mgd build --no-sandbox, mgd serve
 * --insecure-no-sandbox) the same argv runs with the limits only, in the
 * host's workspace folder; the cache keys do not depend on it.
 */
#ifndef MG_TOOLCHAIN_SANDBOX_H
#define MG_TOOLCHAIN_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "toolchain/exec.h"

/* The workspace inside the sandbox: the working directory of every action. */
#define MG_SANDBOX_WORKSPACE "/ws"

/* Limits of one action (each process of it) and of a whole build; 0 means
 * no limit. */
typedef struct mg_build_limits {
    uint64_t memory;         /* bytes of address space of one process (RLIMIT_AS) */
    uint64_t cpu_s;          /* CPU seconds of one process (RLIMIT_CPU) */
    uint64_t file_size;      /* bytes of the largest file written (RLIMIT_FSIZE) */
    uint64_t procs;          /* processes (RLIMIT_NPROC) */
    uint64_t action_wall_ms; /* wall time of one action */
    uint64_t build_wall_ms;  /* wall time of the whole build */
} mg_build_limits;

#define MG_LIMIT_DEFAULT_MEMORY (2ull << 30)
#define MG_LIMIT_DEFAULT_CPU_S 300u
#define MG_LIMIT_DEFAULT_FILE_SIZE (1ull << 30)
#define MG_LIMIT_DEFAULT_PROCS 256u
#define MG_LIMIT_DEFAULT_ACTION_WALL_MS (300u * 1000u)
#define MG_LIMIT_DEFAULT_BUILD_WALL_MS (1800u * 1000u)

/* The defaults above. */
mg_build_limits mg_build_limits_default(void);

typedef enum {
    MG_LIMIT_NONE,
    MG_LIMIT_MEMORY,
    MG_LIMIT_CPU,
    MG_LIMIT_FILE_SIZE,
    MG_LIMIT_PROCS,
    MG_LIMIT_ACTION_WALL,
    MG_LIMIT_BUILD_WALL,
} mg_limit_kind;

/* Which limit a failed action ran into, from how it ended and what it
 * printed (gcc reports a child killed by SIGXCPU or SIGXFSZ, and
 * allocation or fork failures, in words). MG_LIMIT_NONE when none. A wall
 * time-out is the caller's to tell. */
mg_limit_kind mg_limit_hit(const mg_exec_result *r);

/* "memory limit of 2 GiB" */
void mg_limit_describe(const mg_build_limits *l, mg_limit_kind k, char *buf, size_t size);

/* A folder or file of the host made visible inside the sandbox. */
typedef struct mg_sandbox_bind {
    const char *host;   /* absolute */
    const char *inside; /* absolute; a build's are under MG_SANDBOX_WORKSPACE */
    bool writable;
} mg_sandbox_bind;

typedef struct mg_sandbox_spec {
    bool sandboxed; /* false: the limits only */
    const mg_build_limits *limits;
    const mg_sandbox_bind *binds; /* in mount order: a bind may sit inside an earlier one */
    size_t n_binds;
    const char *const *env; /* NULL-terminated "NAME=value": the whole environment inside */
    /* For the daemon's fetch process, which is mgd itself talking to git
     * remotes, not a build action: the host's network and the /etc files
     * that name resolution and TLS read (resolv.conf, hosts, nsswitch.conf,
     * ssl/, ...), and a /proc of the sandbox's own PID namespace (the
     * sanitizers of a test build read /proc/self/maps). */
    bool network;
    bool mount_proc;
} mg_sandbox_spec;

/* The argv that runs `argv` as the spec says: NULL-terminated, malloc'd,
 * free with mg_sandbox_argv_free. */
char **mg_sandbox_argv(const mg_sandbox_spec *s, const char *const *argv);
void mg_sandbox_argv_free(char **argv);

/* Whether sandboxed actions can run here: starts an empty sandbox. 0, or
 * -1 with one line saying why (bwrap missing, user namespaces refused...). */
int mg_sandbox_probe(mg_err *err);

/* Whether a sandboxed argv's run failed because the sandbox could not be
 * made (bwrap or prlimit missing, namespaces refused), not because of the
 * command: then true, with one line saying why and what to do. */
bool mg_sandbox_failed(const mg_exec_result *r, mg_err *why);

#endif
