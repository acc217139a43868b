/*
 * loop.h - the event loop, as device libraries see it.
 *
 * The image is one thread running one loop (mg_run() in mg/mg.h), as a
 * MirageOS unikernel runs Lwt's: callbacks run one at a time, to completion,
 * and nothing blocks but mg_platform_yield(), which the loop alone calls.
 * A device library that must wait arms a timer or watches a handle and
 * returns; the loop calls it back.
 *
 * Pending work keeps the image alive. mg_run() returns 0 as soon as there is
 * none: no timer armed, no handle watched, nothing held. It returns earlier
 * with the status of the first mg_exit(). Held work with no timer or watcher
 * that could ever release it is a deadlock: mg_run() prints why and returns 1
 * rather than hang.
 *
 * Timers: the caller owns the mg_loop_timer (no allocation per arming,
 * cancelling is O(log n)). Due timers run in deadline order, and timers with
 * equal deadlines in the order they were armed. A callback never runs from
 * inside the call that arms it, only from the loop. A timer must stay valid
 * while armed; inside its own callback it is already disarmed, so the
 * callback may free it or re-arm it. A timer armed during a round of due
 * timers runs at the earliest in the next round, after the loop has polled
 * the platform, so a callback re-arming itself cannot starve I/O.
 *
 * Watchers: one callback per platform handle (handles are below
 * MG_PLATFORM_MAX_HANDLES); it runs each time mg_platform_yield() reports the
 * handle ready (level-triggered), until mg_loop_unwatch().
 *
 * Hold/release: a count of outstanding operations the loop cannot see (a
 * request in flight whose completion some watcher or timer will deliver).
 * Each hold keeps the image alive until its release.
 *
 * Nothing here is thread-safe; none of it needs to be.
 */
#ifndef MG_LOOP_H
#define MG_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"
#include "abi/platform.h"

typedef void mg_loop_fn(void *arg);
typedef void mg_loop_watch_fn(void *arg, mg_handle handle);

/* A timer. Zero-initialise it (or let mg_loop_timer_start fill it); the
 * fields are the loop's, read them only through the functions below. */
typedef struct mg_loop_timer {
    uint64_t deadline; /* monotonic ns */
    uint64_t seq;      /* arming order, breaks ties between equal deadlines */
    size_t slot;       /* position in the loop's heap + 1; 0: not armed */
    mg_loop_fn *fn;
    void *arg;
} mg_loop_timer;

/* The monotonic clock in ns (mg_platform_clock_monotonic). */
uint64_t mg_loop_now(void);

/* Arms `t` to call fn(arg) once the monotonic clock reaches `deadline` (a
 * deadline in the past means "as soon as possible"). An armed timer is
 * re-armed: it moves to the new deadline and behind the timers already
 * armed for it. Returns MG_OK, or MG_ENOMEM (the timer is then not armed). */
int mg_loop_timer_start(mg_loop_timer *t, uint64_t deadline, mg_loop_fn *fn, void *arg);

/* Disarms `t`. Returns true if it was armed (its callback will not run). */
bool mg_loop_timer_stop(mg_loop_timer *t);

bool mg_loop_timer_armed(const mg_loop_timer *t);

/* Calls fn(arg) from the loop as soon as possible, after the timers already
 * due: a timer armed for now. */
int mg_loop_defer(mg_loop_timer *t, mg_loop_fn *fn, void *arg);

/* Calls fn(arg, handle) each time the platform reports `handle` ready.
 * Returns MG_OK, MG_ERANGE (handle too large) or MG_EEXIST (already
 * watched: one watcher per handle). */
int mg_loop_watch(mg_handle handle, mg_loop_watch_fn *fn, void *arg);

/* Stops watching `handle`. Returns MG_OK or MG_ENOENT (not watched). */
int mg_loop_unwatch(mg_handle handle);

/* One more / one fewer outstanding operation. Releasing more than was held
 * is a bug in the caller: it aborts the image. */
void mg_loop_hold(void);
void mg_loop_release(void);

/* True once mg_exit() has been called: long callbacks may stop early. */
bool mg_loop_exiting(void);

/* Runs rounds of the loop (due timers, then the platform's ready handles,
 * as mg_run does) until done(arg) returns true or the monotonic clock
 * reaches `deadline`, for a connect function that must wait for the
 * network before the image starts (a DHCP lease). done is checked before
 * the first round and after each. Returns MG_OK (done), MG_ETIMEDOUT
 * (the deadline passed first), MG_EAGAIN (mg_exit was called meanwhile:
 * the image is ending) or MG_EINVAL (called from a callback of the loop,
 * which cannot nest). Callbacks run from it as they would from mg_run. */
int mg_loop_run_until(bool (*done)(void *arg), void *arg, uint64_t deadline);

#endif
