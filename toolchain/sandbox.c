/*
 * sandbox.c - limits and the bubblewrap sandbox of build actions (contract
 * in sandbox.h).
 */
#include "toolchain/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "toolchain/cache.h"
#include "base/fsutil.h"

#define BWRAP "/usr/bin/bwrap"
#define PRLIMIT "/usr/bin/prlimit"

mg_build_limits mg_build_limits_default(void)
{
    return (mg_build_limits){.memory = MG_LIMIT_DEFAULT_MEMORY,
                             .cpu_s = MG_LIMIT_DEFAULT_CPU_S,
                             .file_size = MG_LIMIT_DEFAULT_FILE_SIZE,
                             .procs = MG_LIMIT_DEFAULT_PROCS,
                             .action_wall_ms = MG_LIMIT_DEFAULT_ACTION_WALL_MS,
                             .build_wall_ms = MG_LIMIT_DEFAULT_BUILD_WALL_MS};
}

/* What gcc, binutils and the C library print when a limit stops them:
 * "cc1: out of memory allocating ...", "... File size limit exceeded
 * signal terminated program as", "cannot execute 'cc1': vfork: Resource
 * temporarily unavailable". */
static const struct {
    const char *text;
    mg_limit_kind kind;
} markers[] = {
    {"out of memory", MG_LIMIT_MEMORY},
    {"memory exhausted", MG_LIMIT_MEMORY},
    {"Cannot allocate memory", MG_LIMIT_MEMORY},
    {"CPU time limit exceeded", MG_LIMIT_CPU},
    {"File size limit exceeded", MG_LIMIT_FILE_SIZE},
    {"File too large", MG_LIMIT_FILE_SIZE},
    {"Resource temporarily unavailable", MG_LIMIT_PROCS},
};

mg_limit_kind mg_limit_hit(const mg_exec_result *r)
{
    if (r->spawn_error) return MG_LIMIT_NONE;
    /* killed directly (no sandbox), or through bwrap, which exits with
     * 128 + the signal of the program it ran */
    int sig = r->term_signal ? r->term_signal : r->exit_status > 128 ? r->exit_status - 128 : 0;
    if (sig == SIGXCPU) return MG_LIMIT_CPU;
    if (sig == SIGXFSZ) return MG_LIMIT_FILE_SIZE;
    if (r->exit_status == 0 || !r->output) return MG_LIMIT_NONE;
    for (size_t i = 0; i < sizeof markers / sizeof *markers; i++)
        if (strstr(r->output, markers[i].text)) return markers[i].kind;
    return MG_LIMIT_NONE;
}

void mg_limit_describe(const mg_build_limits *l, mg_limit_kind k, char *buf, size_t size)
{
    char v[64];
    switch (k) {
    case MG_LIMIT_MEMORY:
        mg_size_format(l->memory, v, sizeof v);
        snprintf(buf, size, "memory limit of %s", v);
        break;
    case MG_LIMIT_CPU:
        snprintf(buf, size, "CPU time limit of %llu s", (unsigned long long)l->cpu_s);
        break;
    case MG_LIMIT_FILE_SIZE:
        mg_size_format(l->file_size, v, sizeof v);
        snprintf(buf, size, "file size limit of %s", v);
        break;
    case MG_LIMIT_PROCS:
        snprintf(buf, size, "process limit of %llu", (unsigned long long)l->procs);
        break;
    case MG_LIMIT_ACTION_WALL:
        snprintf(buf, size, "time limit of %llu s", (unsigned long long)(l->action_wall_ms / 1000));
        break;
    case MG_LIMIT_BUILD_WALL:
        snprintf(buf, size, "build time limit of %llu s",
                 (unsigned long long)(l->build_wall_ms / 1000));
        break;
    default:
        snprintf(buf, size, "no limit");
    }
}

/* --- argv ------------------------------------------------------------------ */

typedef struct {
    char **v;
    size_t n, cap;
} argv_buf;

static void push(argv_buf *a, const char *s)
{
    if (a->n + 2 > a->cap) a->v = mg_xrealloc(a->v, (a->cap = a->cap * 2 + 64) * sizeof *a->v);
    a->v[a->n++] = mg_xstrdup(s);
    a->v[a->n] = NULL;
}

static void push_limit(argv_buf *a, const char *opt, uint64_t value)
{
    if (!value) return;
    char *s = mg_xasprintf("%s=%llu", opt, (unsigned long long)value);
    push(a, s);
    free(s);
}

/* The host's top-level system entries a toolchain may reach through: on a
 * merged-/usr system (Debian 12) these are links into /usr, and are made
 * the same links inside; otherwise the folders are bound read-only. */
static const char *const system_entries[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};

static void push_system(argv_buf *a)
{
    push(a, "--ro-bind");
    push(a, "/usr");
    push(a, "/usr");
    for (size_t i = 0; i < sizeof system_entries / sizeof *system_entries; i++) {
        char path[64], target[PATH_MAX];
        snprintf(path, sizeof path, "/%s", system_entries[i]);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = 0;
            push(a, "--symlink");
            push(a, target);
            push(a, path);
        } else if (S_ISDIR(st.st_mode)) {
            push(a, "--ro-bind");
            push(a, path);
            push(a, path);
        }
    }
}

char **mg_sandbox_argv(const mg_sandbox_spec *s, const char *const *argv)
{
    argv_buf a = {0};
    const mg_build_limits *l = s->limits;
    if (s->sandboxed) {
        static const char *const fixed[] = {BWRAP,
                                            "--unshare-all",
                                            "--unshare-user",
                                            "--disable-userns",
                                            "--die-with-parent",
                                            "--cap-drop",
                                            "ALL",
                                            "--clearenv"};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) push(&a, fixed[i]);
        if (s->network) push(&a, "--share-net");
        for (size_t i = 0; s->env && s->env[i]; i++) {
            const char *eq = strchr(s->env[i], '=');
            if (!eq) continue;
            char *name = mg_xasprintf("%.*s", (int)(eq - s->env[i]), s->env[i]);
            push(&a, "--setenv");
            push(&a, name);
            push(&a, eq + 1);
            free(name);
        }
        push_system(&a);
        if (s->network) {
            /* name resolution and TLS: these and nothing else of /etc */
            static const char *const etc[] = {
                "/etc/resolv.conf", "/etc/hosts",    "/etc/nsswitch.conf",
                "/etc/host.conf",   "/etc/gai.conf", "/etc/services",
                "/etc/protocols",   "/etc/ssl",      "/etc/ca-certificates"};
            for (size_t i = 0; i < sizeof etc / sizeof *etc; i++) {
                push(&a, "--ro-bind-try");
                push(&a, etc[i]);
                push(&a, etc[i]);
            }
        }
        if (s->mount_proc) {
            push(&a, "--proc");
            push(&a, "/proc");
        }
        /* these devices and no terminal: with no /dev/tty (and no
         * descriptor of one) nothing inside can push input into the
         * daemon's terminal (TIOCSTI), which bwrap's --new-session would
         * prevent by a session of its own, and so an autogroup of its own:
         * the scheduler would weigh each action against the whole daemon,
         * whatever its nice value */
        push(&a, "--dir");
        push(&a, "/dev");
        static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                              "/dev/urandom"};
        for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
            push(&a, "--dev-bind");
            push(&a, devices[i]);
            push(&a, devices[i]);
        }
        if (l && l->file_size) {
            /* tmpfs pages are memory no rlimit counts: bound them */
            char *size = mg_xasprintf("%llu", (unsigned long long)l->file_size);
            push(&a, "--size");
            push(&a, size);
            free(size);
        }
        push(&a, "--tmpfs");
        push(&a, "/tmp");
        push(&a, "--dir");
        push(&a, MG_SANDBOX_WORKSPACE);
        for (size_t i = 0; i < s->n_binds; i++) {
            push(&a, s->binds[i].writable ? "--bind" : "--ro-bind");
            push(&a, s->binds[i].host);
            push(&a, s->binds[i].inside);
        }
        /* the mount points bwrap made for the binds: nothing to write there */
        push(&a, "--remount-ro");
        push(&a, "/");
        push(&a, "--chdir");
        push(&a, MG_SANDBOX_WORKSPACE);
        push(&a, "--");
    }
    if (l && (l->memory || l->cpu_s || l->file_size || l->procs)) {
        push(&a, PRLIMIT);
        push_limit(&a, "--as", l->memory);
        if (l->cpu_s) {
            /* SIGXCPU at the soft limit says why (gcc reports it); the
             * hard limit, a little later, is a SIGKILL that says nothing */
            char *cpu = mg_xasprintf("--cpu=%llu:%llu", (unsigned long long)l->cpu_s,
                                     (unsigned long long)l->cpu_s + 5);
            push(&a, cpu);
            free(cpu);
        }
        push_limit(&a, "--fsize", l->file_size);
        push_limit(&a, "--nproc", l->procs);
        push(&a, "--");
    }
    for (size_t i = 0; argv[i]; i++) push(&a, argv[i]);
    return a.v;
}

void mg_sandbox_argv_free(char **argv)
{
    if (!argv) return;
    for (size_t i = 0; argv[i]; i++) free(argv[i]);
    free(argv);
}

int mg_sandbox_probe(mg_err *err)
{
    if (access(BWRAP, X_OK) != 0) {
        mg_err_set(err, MG_E_IO, "%s not found (install the Debian package bubblewrap)", BWRAP);
        return -1;
    }
    if (access(PRLIMIT, X_OK) != 0) {
        mg_err_set(err, MG_E_IO, "%s not found (install the Debian package util-linux)", PRLIMIT);
        return -1;
    }
    mg_build_limits l = mg_build_limits_default();
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    mg_sandbox_spec s = {.sandboxed = true, .limits = &l, .env = env};
    static const char *const cmd[] = {"/usr/bin/true", NULL};
    char **argv = mg_sandbox_argv(&s, cmd);
    mg_exec_spec spec = {
        .argv = (const char *const *)argv, .env = env, .timeout_ms = 30000, .output_cap = 4096};
    mg_exec_result r;
    int rc = mg_exec_run(&spec, &r) == 0 && !r.spawn_error && r.exit_status == 0 ? 0 : -1;
    if (rc != 0) {
        const char *out = r.output && r.output_len ? r.output : "no output";
        int n = (int)strcspn(out, "\n");
        mg_err_set(err, MG_E_IO, "bubblewrap cannot make a sandbox here (%.*s)", n > 300 ? 300 : n,
                   out);
    }
    mg_exec_result_free(&r);
    mg_sandbox_argv_free(argv);
    return rc;
}

bool mg_sandbox_failed(const mg_exec_result *r, mg_err *why)
{
    /* not started at all: what is missing */
    if (r->spawn_error) return mg_sandbox_probe(why) != 0;
    /* bwrap says what it could not do on the first line, before the
     * command ran */
    if (r->exit_status == 0 || !r->output || strncmp(r->output, "bwrap: ", 7)) return false;
    int n = (int)strcspn(r->output, "\n");
    mg_err_set(why, MG_E_IO,
               "%.*s (build without the sandbox where user namespaces are not available)",
               n > 300 ? 300 : n, r->output);
    return true;
}
