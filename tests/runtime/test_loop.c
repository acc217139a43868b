/*
 * test_loop.c - the event loop (mg/loop.h, mg_run/mg_exit), the time
 * device built on it (mg/time.h), and the unix platform under them
 * (clocks, yield, entropy, block devices as host files).
 *
 * Criterion runs every test in its own process, so each starts with a
 * fresh global loop. Timing checks are strict on the lower bound (a timer
 * never fires early) and loose on the upper one (the host may be busy).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mg/loop.h"
#include "mg/mclock.h"
#include "mg/mg.h"
#include "mg/pclock.h"
#include "abi/platform.h"
#include "mg/time.h"

#define MS UINT64_C(1000000)

/* What ran, in order: each callback appends its tag. */
static int trace[2048];
static size_t n_trace;

static void record(void *arg)
{
    trace[n_trace++] = (int)(intptr_t)arg;
}

static void *tag(int i)
{
    return (void *)(intptr_t)i;
}

Test(loop, returns_zero_when_nothing_is_pending)
{
    cr_assert_eq(mg_run(), 0);
}

Test(loop, timers_run_in_deadline_order)
{
    static mg_loop_timer t[3];
    uint64_t now = mg_loop_now();
    cr_assert_eq(mg_loop_timer_start(&t[0], now + 30 * MS, record, tag(30)), MG_OK);
    cr_assert_eq(mg_loop_timer_start(&t[1], now + 10 * MS, record, tag(10)), MG_OK);
    cr_assert_eq(mg_loop_timer_start(&t[2], now + 20 * MS, record, tag(20)), MG_OK);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 3);
    cr_assert_eq(trace[0], 10);
    cr_assert_eq(trace[1], 20);
    cr_assert_eq(trace[2], 30);
    cr_assert_geq(mg_loop_now() - now, 30 * MS, "the last timer fired early");
}

Test(loop, equal_deadlines_run_in_arming_order)
{
    static mg_loop_timer t[6];
    uint64_t when = mg_loop_now() + 5 * MS;
    for (int i = 0; i < 5; i++) mg_loop_timer_start(&t[i], when, record, tag(i));
    mg_loop_timer_start(&t[5], when - 1, record, tag(-1)); /* earlier: first despite arming */
    /* Re-arming moves a timer behind those already armed for its deadline. */
    mg_loop_timer_start(&t[1], when, record, tag(1));
    cr_assert_eq(mg_run(), 0);
    int expected[] = {-1, 0, 2, 3, 4, 1};
    cr_assert_eq(n_trace, 6);
    for (int i = 0; i < 6; i++) cr_assert_eq(trace[i], expected[i], "position %d", i);
}

Test(loop, stopped_timer_does_not_run)
{
    static mg_loop_timer t[3];
    uint64_t now = mg_loop_now();
    for (int i = 0; i < 3; i++) mg_loop_timer_start(&t[i], now + (uint64_t)i * MS, record, tag(i));
    cr_assert(mg_loop_timer_armed(&t[1]));
    cr_assert(mg_loop_timer_stop(&t[1]));
    cr_assert_not(mg_loop_timer_armed(&t[1]));
    cr_assert_not(mg_loop_timer_stop(&t[1]), "stopping twice reports nothing to stop");
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 2);
    cr_assert_eq(trace[0], 0);
    cr_assert_eq(trace[1], 2);
    cr_assert_not(mg_loop_timer_armed(&t[0]), "a timer is disarmed once it ran");
}

/* Many timers with colliding deadlines, some stopped: the heap must give
 * exactly the survivors, by deadline then arming order. */
Test(loop, heap_orders_many_timers)
{
    enum { N = 1000 };
    static mg_loop_timer t[N];
    static uint64_t deadline_of[N];
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        deadline_of[i] = 1 + (x >> 16) % 50; /* long past: all due at once */
        cr_assert_eq(mg_loop_timer_start(&t[i], deadline_of[i], record, tag(i)), MG_OK);
    }
    for (int i = 0; i < N; i += 7) cr_assert(mg_loop_timer_stop(&t[i]));
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, N - (N + 6) / 7);
    for (size_t k = 0; k < n_trace; k++) {
        int i = trace[k];
        cr_assert_neq(i % 7, 0, "stopped timer %d ran", i);
        if (k > 0) {
            int p = trace[k - 1];
            cr_assert(deadline_of[p] < deadline_of[i] ||
                          (deadline_of[p] == deadline_of[i] && p < i),
                      "timer %d (deadline %llu) ran after %d (deadline %llu)", i,
                      (unsigned long long)deadline_of[i], p, (unsigned long long)deadline_of[p]);
        }
    }
}

static mg_loop_timer self_timer;
static int self_count;

static void rearm_self(void *arg)
{
    (void)arg;
    if (++self_count < 3) mg_loop_timer_start(&self_timer, mg_loop_now() + MS, rearm_self, NULL);
}

Test(loop, callback_may_rearm_its_own_timer)
{
    mg_loop_timer_start(&self_timer, 0, rearm_self, NULL);
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(self_count, 3);
}

static void exit_with(void *arg)
{
    mg_exit((int)(intptr_t)arg);
}

Test(loop, exit_status_is_returned_and_first_call_wins)
{
    static mg_loop_timer t[3];
    uint64_t now = mg_loop_now();
    mg_loop_timer_start(&t[0], now + MS, exit_with, tag(7));
    mg_loop_timer_start(&t[1], now + MS, exit_with, tag(9)); /* same round: must not run */
    mg_loop_timer_start(&t[2], now + 50 * MS, record, tag(1));
    cr_assert_eq(mg_run(), 7);
    cr_assert_eq(n_trace, 0, "a callback ran after mg_exit");
    cr_assert(mg_loop_exiting());
    mg_exit(3);
    cr_assert_eq(mg_run(), 7, "a later mg_exit changed the status");
}

Test(loop, exit_before_run_returns_at_once)
{
    static mg_loop_timer t;
    mg_exit(4);
    mg_loop_timer_start(&t, 0, record, tag(1));
    cr_assert_eq(mg_run(), 4);
    cr_assert_eq(n_trace, 0);
}

Test(loop, deferred_calls_run_from_the_loop_in_order)
{
    static mg_loop_timer t[3];
    for (int i = 0; i < 3; i++) cr_assert_eq(mg_loop_defer(&t[i], record, tag(i)), MG_OK);
    cr_assert_eq(n_trace, 0, "deferred call ran before the loop");
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(trace[i], i);
}

static mg_loop_timer spin_timer;
static bool spin_stop;
static long spins;

static void spin(void *arg)
{
    (void)arg;
    if (!spin_stop && ++spins < 100000000) mg_loop_defer(&spin_timer, spin, NULL);
}

static void stop_spin(void *arg)
{
    (void)arg;
    spin_stop = true;
}

Test(loop, self_deferring_call_does_not_starve_timers)
{
    static mg_loop_timer t;
    mg_loop_timer_start(&t, mg_loop_now() + 2 * MS, stop_spin, NULL);
    mg_loop_defer(&spin_timer, spin, NULL);
    cr_assert_eq(mg_run(), 0);
    cr_assert(spin_stop, "the timer never ran");
    cr_assert_lt(spins, 100000000);
}

static void release_once(void *arg)
{
    (void)arg;
    n_trace++;
    mg_loop_release();
}

Test(loop, hold_is_released_by_a_callback)
{
    static mg_loop_timer t;
    mg_loop_hold();
    mg_loop_hold();
    mg_loop_timer_start(&t, mg_loop_now() + MS, release_once, NULL);
    mg_loop_release();
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 1);
}

/* Captures what the image writes to standard output while fn runs. */
static char *capture_stdout(int (*fn)(void), int *result)
{
    int fds[2], saved = dup(STDOUT_FILENO);
    cr_assert_eq(pipe(fds), 0);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    *result = fn();
    dup2(saved, STDOUT_FILENO);
    close(saved);
    static char buf[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    buf[len] = '\0';
    return buf;
}

Test(loop, hold_with_nothing_to_release_it_is_a_deadlock)
{
    mg_loop_hold();
    int status;
    char *out = capture_stdout(mg_run, &status);
    cr_assert_eq(status, 1);
    cr_assert(strstr(out, "deadlock"), "no diagnostic: '%s'", out);
}

/* an abort ends the image with MG_EXIT_ABORT, as on every target */
Test(loop, release_without_hold_aborts, .exit_code = MG_EXIT_ABORT)
{
    /* The abort message goes to the console: keep it out of the test log. */
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    mg_loop_release();
}

static void unwatch_5(void *arg)
{
    (void)arg;
    cr_assert_eq(mg_loop_unwatch(5), MG_OK);
}

static void never(void *arg, mg_handle h)
{
    (void)arg;
    (void)h;
    cr_assert_fail("handle %llu reported ready", (unsigned long long)h);
}

Test(loop, watchers_register_and_keep_the_loop_alive)
{
    cr_assert_eq(mg_loop_watch(MG_PLATFORM_MAX_HANDLES, never, NULL), MG_ERANGE);
    cr_assert_eq(mg_loop_watch(5, never, NULL), MG_OK);
    cr_assert_eq(mg_loop_watch(5, never, NULL), MG_EEXIST);
    cr_assert_eq(mg_loop_unwatch(6), MG_ENOENT);
    static mg_loop_timer t;
    uint64_t start = mg_loop_now();
    mg_loop_timer_start(&t, start + 10 * MS, unwatch_5, NULL);
    cr_assert_eq(mg_run(), 0);
    cr_assert_geq(mg_loop_now() - start, 10 * MS);
    cr_assert_eq(mg_loop_unwatch(5), MG_ENOENT);
}

/* The time device. */

static uint64_t t0;
static uint64_t woke_at[8];

static void woke(void *arg)
{
    int i = (int)(intptr_t)arg;
    woke_at[i] = mg_loop_now();
    record(arg);
}

Test(time, sleeps_wake_in_order_and_never_early)
{
    mg_time *time;
    cr_assert_eq(mg_time_connect(&time), MG_OK);
    t0 = mg_loop_now();
    cr_assert_eq(mg_time_sleep(time, 30 * MS, woke, tag(3)), MG_OK);
    cr_assert_eq(mg_time_sleep(time, 10 * MS, woke, tag(1)), MG_OK);
    cr_assert_eq(mg_time_sleep(time, 20 * MS, woke, tag(2)), MG_OK);
    cr_assert_eq(mg_time_sleep(time, 0, woke, tag(0)), MG_OK);
    cr_assert_eq(n_trace, 0, "a 0 ns sleep ran inside mg_time_sleep");
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(trace[i], i);
        cr_assert_geq(woke_at[i] - t0, (uint64_t)i * 10 * MS, "sleep %d woke early", i);
    }
    cr_assert_lt(woke_at[3] - t0, 1000 * MS);
}

Test(time, cancel_removes_the_oldest_matching_sleep)
{
    mg_time *time;
    cr_assert_eq(mg_time_connect(&time), MG_OK);
    t0 = mg_loop_now();
    mg_time_sleep(time, MS, woke, tag(1));
    mg_time_sleep(time, 2 * MS, woke, tag(2));
    mg_time_sleep(time, 3 * MS, woke, tag(1));
    cr_assert_eq(mg_time_cancel(time, woke, tag(1)), MG_OK);
    cr_assert_eq(mg_time_cancel(time, woke, tag(5)), MG_ENOENT);
    cr_assert_eq(mg_time_cancel(time, record, tag(2)), MG_ENOENT, "the callback must match too");
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 2);
    cr_assert_eq(trace[0], 2);
    cr_assert_eq(trace[1], 1);
    cr_assert_geq(woke_at[1] - t0, 3 * MS, "the wrong sleep of tag 1 was cancelled");
    cr_assert_eq(mg_time_cancel(time, woke, tag(1)), MG_ENOENT, "cancelled after it ran");
}

static mg_time *sleeper_time;

static void sleep_again(void *arg)
{
    record(arg);
    if (n_trace < 3) mg_time_sleep(sleeper_time, MS, sleep_again, arg);
}

Test(time, callback_may_sleep_again)
{
    cr_assert_eq(mg_time_connect(&sleeper_time), MG_OK);
    mg_time_sleep(sleeper_time, MS, sleep_again, tag(4));
    cr_assert_eq(mg_run(), 0);
    cr_assert_eq(n_trace, 3);
}

Test(time, a_cancelled_sleep_no_longer_keeps_the_image_alive)
{
    mg_time *time;
    cr_assert_eq(mg_time_connect(&time), MG_OK);
    mg_time_sleep(time, 10000 * MS, woke, tag(1));
    cr_assert_eq(mg_time_cancel(time, woke, tag(1)), MG_OK);
    uint64_t start = mg_loop_now();
    cr_assert_eq(mg_run(), 0);
    cr_assert_lt(mg_loop_now() - start, 1000 * MS);
}

/* The clock devices. */

Test(clock, pclock_is_the_wall_clock)
{
    mg_pclock *p;
    cr_assert_eq(mg_pclock_connect(&p), MG_OK);
    uint64_t before = mg_platform_clock_wall(), now = mg_pclock_now_ns(p);
    cr_assert_geq(now, before);
    cr_assert_lt(now - before, 1000 * MS);
}

Test(clock, mclock_advances_with_sleeps)
{
    mg_mclock *m;
    cr_assert_eq(mg_mclock_connect(&m), MG_OK);
    uint64_t a = mg_mclock_now_ns(m);
    struct timespec five_ms = {0, 5000000};
    cr_assert_eq(nanosleep(&five_ms, NULL), 0);
    uint64_t b = mg_mclock_now_ns(m);
    cr_assert_geq(b - a, 5 * MS);
}

/* The unix platform. */

Test(platform, clocks)
{
    uint64_t a = mg_platform_clock_monotonic(), b = mg_platform_clock_monotonic();
    cr_assert_geq(b, a);
    /* 2024-01-01T00:00:00Z */
    cr_assert_gt(mg_platform_clock_wall(), UINT64_C(1704067200) * 1000000000u);
}

Test(platform, yield_waits_for_the_deadline)
{
    uint64_t start = mg_platform_clock_monotonic();
    mg_handle_set ready = ~(mg_handle_set)0;
    mg_platform_yield(start + 20 * MS, &ready);
    cr_assert_geq(mg_platform_clock_monotonic() - start, 20 * MS);
    cr_assert_eq(ready, 0);
    mg_platform_yield(start, &ready); /* past deadline: returns at once */
    cr_assert_lt(mg_platform_clock_monotonic() - start, 1000 * MS);
}

Test(platform, entropy)
{
    unsigned char a[100000], b[64] = {0}, zero[64] = {0};
    cr_assert_eq(mg_platform_entropy(a, sizeof a), MG_OK);
    cr_assert_eq(mg_platform_entropy(b, sizeof b), MG_OK);
    cr_assert_neq(memcmp(b, zero, sizeof b), 0);
    cr_assert_neq(memcmp(a + sizeof a - 64, zero, 64), 0, "a long request was cut short");
}

static char block_dir[64];

static void block_setup(void)
{
    strcpy(block_dir, "/tmp/mg-test-block-XXXXXX");
    cr_assert_not_null(mkdtemp(block_dir));
    cr_assert_eq(chdir(block_dir), 0);
    int fd = open("disk", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 4 * 512 + 100), 0); /* a partial block at the end */
    close(fd);
}

static void block_teardown(void)
{
    unlink("disk");
    unlink("other.img");
    cr_assert_eq(chdir("/"), 0);
    rmdir(block_dir);
}

TestSuite(platform_block, .init = block_setup, .fini = block_teardown);

Test(platform_block, read_write_and_ranges)
{
    mg_handle h;
    struct mg_block_info info;
    cr_assert_eq(mg_platform_block_acquire("disk", &h, &info), MG_OK);
    cr_assert_eq(info.block_size, 512);
    cr_assert_eq(info.capacity, 4 * 512, "capacity %llu", (unsigned long long)info.capacity);
    cr_assert_lt(h, MG_PLATFORM_MAX_HANDLES);

    unsigned char out[1024], in[1024];
    for (size_t i = 0; i < sizeof out; i++) out[i] = (unsigned char)(i * 7 + 1);
    cr_assert_eq(mg_platform_block_write(h, 2 * 512, out, sizeof out), MG_OK);
    cr_assert_eq(mg_platform_block_read(h, 2 * 512, in, sizeof in), MG_OK);
    cr_assert_eq(memcmp(in, out, sizeof in), 0);
    cr_assert_eq(mg_platform_block_read(h, 0, in, 512), MG_OK);
    cr_assert_eq(in[0], 0, "block 0 was not written");

    cr_assert_eq(mg_platform_block_read(h, 3 * 512, in, 1024), MG_ERANGE);
    cr_assert_eq(mg_platform_block_read(h, 4 * 512, in, 512), MG_ERANGE);
    cr_assert_eq(mg_platform_block_write(h, UINT64_MAX - 511, out, 512), MG_ERANGE);
    cr_assert_eq(mg_platform_block_read(h, 4 * 512, in, 0), MG_OK, "empty transfer at the end");
    cr_assert_eq(mg_platform_block_read(h, 100, in, 512), MG_EINVAL);
    cr_assert_eq(mg_platform_block_read(h, 0, in, 100), MG_EINVAL);
    cr_assert_eq(mg_platform_block_read(MG_PLATFORM_MAX_HANDLES - 1, 0, in, 512), MG_EINVAL);
}

Test(platform_block, names_map_to_files)
{
    mg_handle h;
    struct mg_block_info info;
    cr_assert_eq(mg_platform_block_acquire("missing", &h, &info), MG_ENOENT);
    cr_assert_eq(mg_platform_block_acquire("", &h, &info), MG_EINVAL);

    int fd = open("other.img", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 8 * 512), 0);
    close(fd);
    cr_assert_eq(setenv("MG_BLOCK_data", "other.img", 1), 0);
    cr_assert_eq(mg_platform_block_acquire("data", &h, &info), MG_OK);
    cr_assert_eq(info.capacity, 8 * 512, "MG_BLOCK_data was not followed");

    mg_handle h2;
    cr_assert_eq(mg_platform_block_acquire("disk", &h2, &info), MG_OK);
    cr_assert_neq(h, h2);
}
