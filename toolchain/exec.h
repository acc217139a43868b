/*
 * exec.h - runs programs for the build: argv arrays (never a shell),
 * several at once, each in its own process group, with stdout and stderr
 * captured together, timeouts and cancellation.
 *
 * Contract:
 *   - Each program runs with stdin from /dev/null, stdout and stderr on one
 *     pipe, default signal dispositions and an empty signal mask, and no
 *     other file descriptor of ours (descriptors >= 3 are closed in the
 *     child). Its environment is ours plus spec->env.
 *   - Each runs in a new process group. When the program (the group
 *     leader) ends, the rest of its group gets SIGKILL, so nothing it
 *     started stays behind; on a timeout or cancel the whole group gets
 *     SIGKILL. Every child is reaped.
 *   - Output is read while the program runs (it never blocks on a full
 *     pipe); the first output_cap bytes are kept. Once the leader has
 *     ended, output is collected until the pipe closes or, if something
 *     that left the group still holds it open, for at most 250 ms more.
 *   - A program that cannot be started (not found, not executable, bad
 *     cwd) gives a result with spawn_error set and a message in output,
 *     through mg_executor_wait like any other result.
 *   - An mg_executor belongs to one thread, except mg_executor_cancel(),
 *     which any thread may call at any time. There are no threads inside:
 *     the work happens in mg_executor_wait().
 *   - The process must not ignore SIGCHLD (children would be reaped by the
 *     kernel and their pids reused) and nothing else in it may wait for
 *     these children (waitpid(-1, ...)).
 */
#ifndef MG_TOOLCHAIN_EXEC_H
#define MG_TOOLCHAIN_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mg_exec_spec {
    const char *const *argv; /* NULL-terminated; argv[0] searched in PATH unless it has a '/' */
    const char *cwd;         /* NULL: the caller's */
    const char *const *env;  /* NULL-terminated "NAME=value" entries set on top of the inherited
                                environment (a PATH here is also the one searched); NULL: none */
    uint64_t timeout_ms;     /* 0: none; on expiry the whole process group gets SIGKILL */
    size_t output_cap;       /* bytes of output kept, 0: 1 MiB; the rest is dropped and
                                "\n[output truncated]\n" appended */
} mg_exec_spec;

typedef struct mg_exec_result {
    uint64_t id;     /* what mg_executor_start returned */
    int exit_status; /* when it exited; -1 when it was killed or not started */
    int term_signal; /* non-zero when killed by a signal (SIGKILL on timeout or cancel) */
    bool timed_out;  /* killed because timeout_ms passed */
    bool cancelled;  /* killed (or never started) because of mg_executor_cancel */
    int spawn_error; /* errno when it could not be started (ENOENT, EACCES...; ECANCELED when
                        started after a cancel); then output holds a message */
    char *output;    /* malloc'd, NUL-terminated; free with mg_exec_result_free */
    size_t output_len;
    uint64_t duration_ms; /* from start until the program ended */
} mg_exec_result;

typedef struct mg_executor mg_executor;

/* NULL only when out of memory or file descriptors. */
mg_executor *mg_executor_new(void);
/* Kills (SIGKILL to the groups) and reaps anything still running, drops
 * results not yet collected. */
void mg_executor_free(mg_executor *ex);
/* Starts a program; returns its id (> 0). Never fails: a spawn failure is
 * delivered by mg_executor_wait like any result. spec and the strings it
 * points to need only live during the call. */
uint64_t mg_executor_start(mg_executor *ex, const mg_exec_spec *spec);
/* Started and not yet returned by mg_executor_wait. */
size_t mg_executor_running(const mg_executor *ex);
/* Blocks until one started program has ended (or a spawn failure is
 * pending) and moves its result to *res (free it with
 * mg_exec_result_free). 0, or -1 when nothing is running. */
int mg_executor_wait(mg_executor *ex, mg_exec_result *res);
/* Callable from any thread: SIGKILLs every running process group now and
 * any program started later (those are not started at all); their results
 * say cancelled. Cannot be undone: make a new executor. */
void mg_executor_cancel(mg_executor *ex);

/* Background work: the calling thread takes the lowest priority (nice 19)
 * and the batch policy, and every program it starts from now on inherits
 * both (Linux keeps nice per thread, so the daemon's other threads keep
 * theirs). The daemon's build workers and work pool call it so that they
 * yield the CPU to its HTTP threads. 0, or -1 with errno. */
int mg_exec_lower_priority(void);

/* Starts one program and waits for it. 0, or -1 when out of resources
 * (then *res is a spawn failure too). */
int mg_exec_run(const mg_exec_spec *spec, mg_exec_result *res);
void mg_exec_result_free(mg_exec_result *res);

#endif
