/* base/deadline: the monotonic clock, deadlines on it, condvar wake-up
 * times. */
#include <criterion/criterion.h>
#include <time.h>

#include "base/deadline.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

Test(deadline, the_clock_moves_forward)
{
    uint64_t a = mg_now_ms(), an = mg_now_ns();
    sleep_ms(20);
    uint64_t b = mg_now_ms(), bn = mg_now_ns();
    cr_assert_geq(b - a, 19);
    cr_assert_geq(bn - an, 19000000u);
    cr_assert_geq(mg_ms_since(a), 20);
}

Test(deadline, since_a_future_start_is_zero)
{
    cr_assert_eq(mg_ms_since(mg_now_ms() + 60000), 0);
}

Test(deadline, a_deadline_is_its_timeout_from_now)
{
    uint64_t before = mg_now_ms();
    uint64_t d = mg_deadline_in(30);
    uint64_t after = mg_now_ms();
    cr_assert(d >= before + 30 && d <= after + 30, "deadline %llu, now %llu..%llu",
              (unsigned long long)d, (unsigned long long)before, (unsigned long long)after);
    sleep_ms(40);
    cr_assert_geq(mg_now_ms(), d, "the clock passed it");
}

Test(deadline, a_huge_timeout_saturates_instead_of_wrapping)
{
    cr_assert_eq(mg_deadline_in(UINT64_MAX - 5), UINT64_MAX);
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

Test(deadline, abstime_is_that_far_ahead_on_the_clock_asked)
{
    const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    for (int i = 0; i < 2; i++) {
        struct timespec now, at;
        clock_gettime(clocks[i], &now);
        at = mg_abstime_in(clocks[i], 1999); /* carries 999 ms into the seconds */
        int64_t ahead = ns_between(&now, &at);
        cr_assert(ahead >= 1999000000LL && ahead < 2100000000LL, "clock %d: %lld ns", i,
                  (long long)ahead);
        cr_assert(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L);
    }
}

Test(deadline, abstime_of_years_does_not_overflow)
{
    struct timespec now, at;
    clock_gettime(CLOCK_REALTIME, &now);
    at = mg_abstime_in(CLOCK_REALTIME, UINT64_MAX);
    cr_assert(at.tv_sec > now.tv_sec);
}
