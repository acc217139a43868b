/*
 * exec.c - the executor (contract in exec.h).
 *
 * Children are started with posix_spawn (glibc's uses CLONE_VFORK, so exec
 * failures come back as its return value and the child's process group is
 * set before we resume). One poll() loop in mg_executor_wait watches, per
 * program, its output pipe and a pidfd that becomes readable when it exits,
 * plus an eventfd that mg_executor_cancel writes to wake the loop. pidfds
 * mean no SIGCHLD handler and no waitpid(-1), which would steal other
 * children of the process.
 *
 * The one lock, ex->mu, exists for mg_executor_cancel: it guards the list
 * of programs, whether each has been reaped, and the cancelled flag. A pid
 * is only signalled while it is unreaped (a zombie still holds its pid and
 * process group id), so a kill can never reach a recycled pid.
 */
#include "toolchain/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/deadline.h"

extern char **environ;

#define DEFAULT_OUTPUT_CAP (1u << 20)
#define TRUNCATED_NOTE "\n[output truncated]\n"
/* How long output is still collected after the program ended, for a pipe
 * held open by a process that left the group (and so was not killed). */
#define DRAIN_MS 250

typedef struct proc {
    uint64_t id;
    pid_t pid;
    int pidfd;  /* -1 once reaped */
    int out_fd; /* read end of the output pipe, -1 once closed */
    bool reaped;
    int wstatus;
    bool timed_out, cancelled; /* cancelled is written under ex->mu */
    uint64_t start_ms, deadline_ms, end_ms;
    char *buf;
    size_t len, cap, limit;
    bool truncated;
} proc;

struct mg_executor {
    pthread_mutex_t mu;
    bool cancelled;
    int wake_fd; /* eventfd: cancel wakes the poll loop */
    uint64_t next_id;
    proc **procs;
    size_t n_procs, cap_procs;
    mg_exec_result *ready; /* results not yet returned, oldest first */
    size_t n_ready, cap_ready;
    struct pollfd *pfds; /* scratch for the poll loop */
    proc **pfd_proc;
    size_t cap_pfds;
};

/* ------------------------------------------------------------ the executor */

mg_executor *mg_executor_new(void)
{
    mg_executor *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    ex->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ex->wake_fd < 0) {
        free(ex);
        return NULL;
    }
    pthread_mutex_init(&ex->mu, NULL);
    return ex;
}

static void push_ready(mg_executor *ex, const mg_exec_result *r)
{
    if (ex->n_ready == ex->cap_ready) {
        ex->cap_ready = ex->cap_ready ? 2 * ex->cap_ready : 8;
        ex->ready = mg_xrealloc(ex->ready, ex->cap_ready * sizeof *ex->ready);
    }
    ex->ready[ex->n_ready++] = *r;
}

/* A result for a program that never ran. */
static void push_spawn_failure(mg_executor *ex, uint64_t id, int err, bool cancelled, char *msg)
{
    mg_exec_result r = {
        .id = id,
        .exit_status = -1,
        .cancelled = cancelled,
        .spawn_error = err,
        .output = msg,
        .output_len = strlen(msg),
    };
    push_ready(ex, &r);
}

/* The environment of the child: ours, minus the names spec->env sets, plus
 * spec->env. The strings are borrowed. NULL-terminated, malloc'd. */
static const char **merge_env(const char *const *extra)
{
    size_t n_env = 0, n_extra = 0;
    while (environ && environ[n_env]) n_env++;
    while (extra && extra[n_extra]) n_extra++;
    const char **env = mg_xrealloc(NULL, (n_env + n_extra + 1) * sizeof *env);
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < n_extra && !overridden; j++)
            overridden = strncmp(extra[j], environ[i], name_len) == 0 && extra[j][name_len] == '=';
        if (!overridden) env[n++] = environ[i];
    }
    for (size_t j = 0; j < n_extra; j++)
        if (strchr(extra[j], '=')) env[n++] = extra[j];
    env[n] = NULL;
    return env;
}

static const char *env_get(const char *const *env, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') return env[i] + len + 1;
    return NULL;
}

/* Whether `path` (relative to `cwd` when it is relative and cwd is set) is
 * an executable regular file: 0, or an errno value. */
static int check_executable(const char *cwd, const char *path)
{
    char *full = NULL;
    if (path[0] != '/' && cwd) full = mg_xasprintf("%s/%s", cwd, path);
    const char *p = full ? full : path;
    struct stat st;
    int rc = 0;
    if (stat(p, &st) != 0)
        rc = errno;
    else if (!S_ISREG(st.st_mode) || access(p, X_OK) != 0)
        rc = EACCES;
    free(full);
    return rc;
}

/* The program to execute: argv0 itself when it has a '/', else the first
 * executable match in PATH (the child's PATH, as execvp would use).
 * malloc'd in *out, or an errno value (ENOENT, or EACCES when only
 * non-executable matches exist). */
static int resolve_program(const char *argv0, const char *cwd, const char *const *env, char **out)
{
    if (strchr(argv0, '/')) {
        *out = mg_xasprintf("%s", argv0);
        return 0;
    }
    if (!*argv0) return ENOENT;
    const char *path = env_get(env, "PATH");
    if (!path) path = "/bin:/usr/bin";
    int best = ENOENT;
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        /* An empty element means the current directory (the child's). */
        char *cand =
            len ? mg_xasprintf("%.*s/%s", (int)len, p, argv0) : mg_xasprintf("./%s", argv0);
        int rc = check_executable(cwd, cand);
        if (rc == 0) {
            *out = cand;
            return 0;
        }
        free(cand);
        if (rc == EACCES) best = EACCES;
        if (!colon) break;
        p = colon + 1;
    }
    return best;
}

/* Spawns one program into *p; 0, or an errno value with a message. */
static int spawn_proc(const mg_exec_spec *spec, proc *p, char **msg)
{
    const char *argv0 = spec->argv ? spec->argv[0] : NULL;
    if (!argv0) {
        *msg = mg_xasprintf("mgd: cannot run a command without a program name\n");
        return EINVAL;
    }
    if (spec->cwd) {
        struct stat st;
        int rc = stat(spec->cwd, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
        if (rc) {
            *msg = mg_xasprintf("mgd: cannot run %s in %s: %s\n", argv0, spec->cwd, strerror(rc));
            return rc;
        }
    }
    const char **env = merge_env(spec->env);
    char *prog = NULL;
    int rc = resolve_program(argv0, spec->cwd, env, &prog);
    if (rc) {
        *msg = mg_xasprintf("mgd: cannot run %s: %s\n", argv0, strerror(rc));
        free(env);
        return rc;
    }

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rc = errno;
        *msg = mg_xasprintf("mgd: cannot run %s: pipe: %s\n", argv0, strerror(rc));
        free(prog);
        free(env);
        return rc;
    }
    /* The parent's end only: the child must see a normal blocking pipe. */
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    /* Whatever other threads opened without O_CLOEXEC stays ours. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (spec->cwd) posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    /* Ignored signals stay ignored across exec: a daemon ignoring SIGPIPE
     * must not pass that on to compilers. */
    posix_spawnattr_setsigdefault(&attr, &all);

    p->start_ms = mg_now_ms();
    rc = posix_spawn(&p->pid, prog, &fa, &attr, (char *const *)spec->argv, (char *const *)env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    free(prog);
    free(env);
    if (rc) {
        close(fds[0]);
        *msg = mg_xasprintf("mgd: cannot run %s%s%s: %s\n", argv0, spec->cwd ? " in " : "",
                            spec->cwd ? spec->cwd : "", strerror(rc));
        return rc;
    }
    p->out_fd = fds[0];
    p->pidfd = pidfd_open(p->pid, 0);
    if (p->pidfd < 0) {
        rc = errno;
        /* Cannot watch it: do not let it run unwatched. */
        kill(-p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        close(fds[0]);
        *msg = mg_xasprintf("mgd: cannot run %s: pidfd_open: %s\n", argv0, strerror(rc));
        return rc;
    }
    return 0;
}

uint64_t mg_executor_start(mg_executor *ex, const mg_exec_spec *spec)
{
    uint64_t id = ++ex->next_id;
    proc *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->id = id;
    p->pidfd = p->out_fd = -1;
    p->limit = spec->output_cap ? spec->output_cap : DEFAULT_OUTPUT_CAP;

    /* Held across the spawn so that a concurrent cancel either sees this
     * program in the list or has set the flag before we look at it. */
    pthread_mutex_lock(&ex->mu);
    if (ex->cancelled) {
        pthread_mutex_unlock(&ex->mu);
        const char *argv0 = spec->argv && spec->argv[0] ? spec->argv[0] : "(null)";
        push_spawn_failure(ex, id, ECANCELED, true,
                           mg_xasprintf("mgd: %s not started: the build was cancelled\n", argv0));
        free(p);
        return id;
    }
    char *msg = NULL;
    int rc = spawn_proc(spec, p, &msg);
    if (rc == 0) {
        if (ex->n_procs == ex->cap_procs) {
            ex->cap_procs = ex->cap_procs ? 2 * ex->cap_procs : 8;
            ex->procs = mg_xrealloc(ex->procs, ex->cap_procs * sizeof *ex->procs);
        }
        ex->procs[ex->n_procs++] = p;
        if (spec->timeout_ms) p->deadline_ms = mg_deadline_in(spec->timeout_ms);
    }
    pthread_mutex_unlock(&ex->mu);
    if (rc != 0) {
        push_spawn_failure(ex, id, rc, false, msg);
        free(p);
    }
    return id;
}

size_t mg_executor_running(const mg_executor *ex)
{
    return ex->n_procs + ex->n_ready;
}

void mg_executor_cancel(mg_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    ex->cancelled = true;
    for (size_t i = 0; i < ex->n_procs; i++) {
        proc *p = ex->procs[i];
        if (p->reaped) continue;
        kill(-p->pid, SIGKILL);
        p->cancelled = true;
    }
    pthread_mutex_unlock(&ex->mu);
    uint64_t one = 1;
    /* Only to wake the poll loop: the pidfds would too, once the kernel
     * has delivered the kills. */
    if (write(ex->wake_fd, &one, sizeof one) < 0) {
        /* The counter is full: the loop is awake already. */
    }
}

/* Reads what the pipe has now; closes it at end of file. At most 1 MiB
 * per call, so a writer faster than us cannot keep the loop here. */
static void drain_output(proc *p)
{
    char chunk[65536];
    for (int budget = 16; budget > 0; budget--) {
        ssize_t n = read(p->out_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            close(p->out_fd);
            p->out_fd = -1;
            return;
        }
        size_t take = (size_t)n;
        if (take > p->limit - p->len) {
            take = p->limit - p->len;
            p->truncated = true;
        }
        if (take == 0) continue; /* keep reading so the writer never blocks */
        if (p->len + take > p->cap) {
            size_t cap = p->cap ? p->cap : 4096;
            while (cap < p->len + take) cap *= 2;
            if (cap > p->limit) cap = p->limit;
            p->buf = mg_xrealloc(p->buf, cap);
            p->cap = cap;
        }
        memcpy(p->buf + p->len, chunk, take);
        p->len += take;
    }
}

/* The leader has exited (its pidfd is readable): kill what is left of its
 * group while its zombie still pins the group id, then reap it. */
static void reap(mg_executor *ex, proc *p)
{
    pthread_mutex_lock(&ex->mu);
    kill(-p->pid, SIGKILL);
    int status = 0;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
    }
    p->wstatus = status;
    p->reaped = true;
    pthread_mutex_unlock(&ex->mu);
    close(p->pidfd);
    p->pidfd = -1;
    p->end_ms = mg_now_ms();
}

/* Moves a finished program's result to the ready list. */
static void finish(mg_executor *ex, size_t index)
{
    proc *p = ex->procs[index];
    size_t note = p->truncated ? strlen(TRUNCATED_NOTE) : 0;
    char *out = mg_xrealloc(p->buf, p->len + note + 1);
    memcpy(out + p->len, TRUNCATED_NOTE, note);
    out[p->len + note] = '\0';
    mg_exec_result r = {
        .id = p->id,
        .exit_status = WIFEXITED(p->wstatus) ? WEXITSTATUS(p->wstatus) : -1,
        .term_signal = WIFSIGNALED(p->wstatus) ? WTERMSIG(p->wstatus) : 0,
        .timed_out = p->timed_out,
        .cancelled = p->cancelled,
        .output = out,
        .output_len = p->len + note,
        .duration_ms = p->end_ms - p->start_ms,
    };
    push_ready(ex, &r);
    pthread_mutex_lock(&ex->mu);
    ex->procs[index] = ex->procs[--ex->n_procs];
    pthread_mutex_unlock(&ex->mu);
    free(p);
}

int mg_executor_wait(mg_executor *ex, mg_exec_result *res)
{
    memset(res, 0, sizeof *res);
    for (;;) {
        if (ex->n_ready > 0) {
            *res = ex->ready[0];
            memmove(ex->ready, ex->ready + 1, --ex->n_ready * sizeof *ex->ready);
            return 0;
        }
        if (ex->n_procs == 0) return -1;

        /* Deadlines first: timeouts to enforce, drains to give up on. */
        uint64_t now = mg_now_ms();
        int timeout = -1;
        for (size_t i = ex->n_procs; i-- > 0;) {
            proc *p = ex->procs[i];
            uint64_t due = 0;
            if (!p->reaped && p->deadline_ms && !p->timed_out) {
                if (now >= p->deadline_ms) {
                    kill(-p->pid, SIGKILL);
                    p->timed_out = true;
                    continue;
                }
                due = p->deadline_ms;
            } else if (p->reaped && p->out_fd >= 0) {
                if (now >= p->end_ms + DRAIN_MS) {
                    drain_output(p);
                    if (p->out_fd >= 0) close(p->out_fd);
                    p->out_fd = -1;
                } else {
                    due = p->end_ms + DRAIN_MS;
                }
            }
            if (p->reaped && p->out_fd < 0) {
                finish(ex, i);
                continue;
            }
            if (due && (timeout < 0 || due - now < (uint64_t)timeout))
                timeout = (int)(due - now > 1000000 ? 1000000 : due - now);
        }
        if (ex->n_ready > 0) continue;

        size_t need = 1 + 2 * ex->n_procs;
        if (need > ex->cap_pfds) {
            ex->cap_pfds = need;
            ex->pfds = mg_xrealloc(ex->pfds, need * sizeof *ex->pfds);
            ex->pfd_proc = mg_xrealloc(ex->pfd_proc, need * sizeof *ex->pfd_proc);
        }
        size_t n = 0;
        ex->pfds[n] = (struct pollfd){.fd = ex->wake_fd, .events = POLLIN};
        ex->pfd_proc[n++] = NULL;
        for (size_t i = 0; i < ex->n_procs; i++) {
            proc *p = ex->procs[i];
            if (p->out_fd >= 0) {
                ex->pfds[n] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
                ex->pfd_proc[n++] = p;
            }
            if (!p->reaped) {
                ex->pfds[n] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
                ex->pfd_proc[n++] = p;
            }
        }
        if (poll(ex->pfds, n, timeout) < 0) {
            if (errno == EINTR) continue;
            /* Only EFAULT/EINVAL/ENOMEM: back off rather than spin. */
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            if (!ex->pfds[k].revents) continue;
            proc *p = ex->pfd_proc[k];
            if (!p) {
                uint64_t v;
                if (read(ex->wake_fd, &v, sizeof v) < 0) {
                    /* EAGAIN: already drained */
                }
            } else if (ex->pfds[k].fd == p->out_fd) {
                drain_output(p);
            } else if (ex->pfds[k].fd == p->pidfd) {
                reap(ex, p);
                /* What the leader wrote before exiting is in the pipe now. */
                if (p->out_fd >= 0) drain_output(p);
            }
        }
    }
}

void mg_executor_free(mg_executor *ex)
{
    if (!ex) return;
    pthread_mutex_lock(&ex->mu);
    ex->cancelled = true;
    for (size_t i = 0; i < ex->n_procs; i++)
        if (!ex->procs[i]->reaped) kill(-ex->procs[i]->pid, SIGKILL);
    pthread_mutex_unlock(&ex->mu);
    for (size_t i = 0; i < ex->n_procs; i++) {
        proc *p = ex->procs[i];
        if (!p->reaped) {
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
            }
            close(p->pidfd);
        }
        if (p->out_fd >= 0) close(p->out_fd);
        free(p->buf);
        free(p);
    }
    for (size_t i = 0; i < ex->n_ready; i++) free(ex->ready[i].output);
    free(ex->procs);
    free(ex->ready);
    free(ex->pfds);
    free(ex->pfd_proc);
    close(ex->wake_fd);
    pthread_mutex_destroy(&ex->mu);
    free(ex);
}

int mg_exec_lower_priority(void)
{
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

int mg_exec_run(const mg_exec_spec *spec, mg_exec_result *res)
{
    mg_executor *ex = mg_executor_new();
    if (!ex) {
        int e = errno;
        memset(res, 0, sizeof *res);
        res->exit_status = -1;
        res->spawn_error = e;
        res->output =
            mg_xasprintf("mgd: cannot run %s: %s\n",
                         spec->argv && spec->argv[0] ? spec->argv[0] : "(null)", strerror(e));
        res->output_len = strlen(res->output);
        return -1;
    }
    mg_executor_start(ex, spec);
    int rc = mg_executor_wait(ex, res);
    mg_executor_free(ex);
    return rc;
}

void mg_exec_result_free(mg_exec_result *res)
{
    if (!res) return;
    free(res->output);
    res->output = NULL;
    res->output_len = 0;
}
