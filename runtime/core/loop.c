/*
 * loop.c - the event loop (mg/loop.h) and mg_run/mg_exit (mg/mg.h).
 *
 * Timers live in a binary min-heap ordered by (deadline, seq): seq is the
 * arming order, which makes equal deadlines run first-armed first and makes
 * the order total, so the heap never has to compare equal keys. Each timer
 * records its heap position, so disarming one is O(log n) with no search.
 *
 * One turn of the loop: run the timers that are due (only those armed
 * before the turn began), then hand the earliest deadline to
 * mg_platform_yield and run the watchers of the handles it reports ready.
 * State is global because the image has exactly one loop.
 */
#include <stdlib.h>

#include "mg/loop.h"
#include "mg/mg.h"
#include "abi/platform.h"

static struct {
    mg_loop_timer **heap; /* heap[0] is the next timer to run */
    size_t n_timers, cap;
    uint64_t next_seq;
    mg_handle_set watched;
    mg_loop_watch_fn *watch_fn[MG_PLATFORM_MAX_HANDLES];
    void *watch_arg[MG_PLATFORM_MAX_HANDLES];
    size_t holds;
    bool exiting;
    int exit_status;
    bool running; /* inside mg_run or mg_loop_run_until */
} mg_loop;

uint64_t mg_loop_now(void)
{
    return mg_platform_clock_monotonic();
}

static bool mg_loop_before(const mg_loop_timer *a, const mg_loop_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void mg_loop_place(mg_loop_timer *t, size_t i)
{
    mg_loop.heap[i] = t;
    t->slot = i + 1;
}

static void mg_loop_sift_up(size_t i)
{
    mg_loop_timer *t = mg_loop.heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!mg_loop_before(t, mg_loop.heap[parent])) break;
        mg_loop_place(mg_loop.heap[parent], i);
        i = parent;
    }
    mg_loop_place(t, i);
}

static void mg_loop_sift_down(size_t i)
{
    mg_loop_timer *t = mg_loop.heap[i];
    size_t n = mg_loop.n_timers;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && mg_loop_before(mg_loop.heap[child + 1], mg_loop.heap[child])) child++;
        if (!mg_loop_before(mg_loop.heap[child], t)) break;
        mg_loop_place(mg_loop.heap[child], i);
        i = child;
    }
    mg_loop_place(t, i);
}

/* Takes the timer at heap position i out of the heap. */
static void mg_loop_remove_at(size_t i)
{
    mg_loop_timer *t = mg_loop.heap[i];
    mg_loop_timer *last = mg_loop.heap[--mg_loop.n_timers];
    t->slot = 0;
    if (last == t) return;
    mg_loop_place(last, i);
    /* The moved timer may belong above or below its new place. */
    if (i > 0 && mg_loop_before(last, mg_loop.heap[(i - 1) / 2]))
        mg_loop_sift_up(i);
    else
        mg_loop_sift_down(i);
}

int mg_loop_timer_start(mg_loop_timer *t, uint64_t deadline, mg_loop_fn *fn, void *arg)
{
    if (t->slot) mg_loop_remove_at(t->slot - 1);
    if (mg_loop.n_timers == mg_loop.cap) {
        size_t cap = mg_loop.cap ? 2 * mg_loop.cap : 16;
        mg_loop_timer **heap = realloc(mg_loop.heap, cap * sizeof *heap);
        if (!heap) return MG_ENOMEM;
        mg_loop.heap = heap;
        mg_loop.cap = cap;
    }
    t->deadline = deadline;
    t->seq = mg_loop.next_seq++;
    t->fn = fn;
    t->arg = arg;
    mg_loop.heap[mg_loop.n_timers] = t;
    mg_loop.n_timers++;
    mg_loop_sift_up(mg_loop.n_timers - 1);
    return MG_OK;
}

bool mg_loop_timer_stop(mg_loop_timer *t)
{
    if (!t->slot) return false;
    mg_loop_remove_at(t->slot - 1);
    return true;
}

bool mg_loop_timer_armed(const mg_loop_timer *t)
{
    return t->slot != 0;
}

int mg_loop_defer(mg_loop_timer *t, mg_loop_fn *fn, void *arg)
{
    /* "Now" rather than 0: a deferred call that keeps deferring itself then
     * falls behind timers that became due meanwhile instead of starving them. */
    return mg_loop_timer_start(t, mg_loop_now(), fn, arg);
}

int mg_loop_watch(mg_handle handle, mg_loop_watch_fn *fn, void *arg)
{
    if (handle >= MG_PLATFORM_MAX_HANDLES) return MG_ERANGE;
    mg_handle_set bit = (mg_handle_set)1 << handle;
    if (mg_loop.watched & bit) return MG_EEXIST;
    mg_loop.watched |= bit;
    mg_loop.watch_fn[handle] = fn;
    mg_loop.watch_arg[handle] = arg;
    return MG_OK;
}

int mg_loop_unwatch(mg_handle handle)
{
    if (handle >= MG_PLATFORM_MAX_HANDLES) return MG_ENOENT;
    mg_handle_set bit = (mg_handle_set)1 << handle;
    if (!(mg_loop.watched & bit)) return MG_ENOENT;
    mg_loop.watched &= ~bit;
    mg_loop.watch_fn[handle] = NULL;
    mg_loop.watch_arg[handle] = NULL;
    return MG_OK;
}

void mg_loop_hold(void)
{
    mg_loop.holds++;
}

void mg_loop_release(void)
{
    if (!mg_loop.holds) mg_platform_abort("mg_loop_release: nothing is held");
    mg_loop.holds--;
}

bool mg_loop_exiting(void)
{
    return mg_loop.exiting;
}

void mg_exit(int status)
{
    if (mg_loop.exiting) return;
    mg_loop.exiting = true;
    mg_loop.exit_status = status;
}

/* Runs the timers due at the start of the turn that were armed before it. */
static void mg_loop_run_due(void)
{
    uint64_t now = mg_loop_now(), first_new = mg_loop.next_seq;
    while (mg_loop.n_timers && !mg_loop.exiting) {
        mg_loop_timer *t = mg_loop.heap[0];
        if (t->deadline > now || t->seq >= first_new) break;
        mg_loop_remove_at(0);
        t->fn(t->arg);
    }
}

static void mg_loop_run_ready(mg_handle_set ready)
{
    ready &= mg_loop.watched;
    while (ready && !mg_loop.exiting) {
        mg_handle h = (mg_handle)__builtin_ctzll(ready);
        ready &= ready - 1;
        /* An earlier watcher of this turn may have unwatched this one. */
        if (mg_loop.watched & ((mg_handle_set)1 << h)) mg_loop.watch_fn[h](mg_loop.watch_arg[h], h);
    }
}

int mg_loop_run_until(bool (*done)(void *arg), void *arg, uint64_t deadline)
{
    if (mg_loop.running) return MG_EINVAL;
    mg_loop.running = true;
    int rc = MG_ETIMEDOUT;
    for (;;) {
        if (done(arg)) {
            rc = MG_OK;
            break;
        }
        if (mg_loop.exiting) {
            rc = MG_EAGAIN;
            break;
        }
        if (mg_loop_now() >= deadline) break;
        mg_loop_run_due();
        if (done(arg) || mg_loop.exiting) continue;
        uint64_t wake = mg_loop.n_timers ? mg_loop.heap[0]->deadline : UINT64_MAX;
        if (wake > deadline) wake = deadline;
        mg_handle_set ready = mg_loop.watched;
        mg_platform_yield(wake, &ready);
        mg_loop_run_ready(ready);
    }
    mg_loop.running = false;
    return rc;
}

static int mg_run_rounds(void)
{
    for (;;) {
        mg_loop_run_due();
        if (mg_loop.exiting) return mg_loop.exit_status;
        if (!mg_loop.n_timers && !mg_loop.watched) {
            if (!mg_loop.holds) return 0;
            mg_printf("mg_run: %zu operation(s) outstanding but no timer or watched handle "
                      "left to complete them (deadlock)\n",
                      mg_loop.holds);
            return 1;
        }
        uint64_t deadline = mg_loop.n_timers ? mg_loop.heap[0]->deadline : UINT64_MAX;
        mg_handle_set ready = mg_loop.watched; /* what to wait for */
        mg_platform_yield(deadline, &ready);
        mg_loop_run_ready(ready);
        if (mg_loop.exiting) return mg_loop.exit_status;
    }
}

int mg_run(void)
{
    mg_loop.running = true;
    int status = mg_run_rounds();
    mg_loop.running = false;
    return status;
}
