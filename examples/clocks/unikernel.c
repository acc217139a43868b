/*
 * clocks: checks the wall clock (a plausible year) and the monotonic clock
 * (a 100 ms sleep advances it by 100 to 200 ms), then prints SUCCESS.
 * A failed check prints a FAILURE line and makes the image exit 1.
 */
#include "mg/console.h"
#include "mg/mclock.h"
#include "mg/pclock.h"
#include "mg/time.h"

/* The job, called by the generated main.c once the devices are connected. */
int clocks_start(mg_console *console, mg_pclock *pclock, mg_mclock *mclock, mg_time *time);

#define SLEEP_MS 100
#define SLACK_MS 100 /* a loaded host may wake us late, never early */

struct sleeper {
    mg_console *console;
    mg_mclock *mclock;
    uint64_t start;
};

static struct sleeper sleeper;

static bool leap_year(uint64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* The Gregorian year of a time in ns since 1970-01-01 00:00 UTC: whole
 * days, then years counted off one at a time from 1970. A few hundred
 * iterations at most, which is simpler to trust than cycle arithmetic. */
static uint64_t year_of(uint64_t ns_since_epoch)
{
    uint64_t days = ns_since_epoch / (UINT64_C(86400) * MG_TIME_S);
    uint64_t year = 1970;
    for (;;) {
        uint64_t length = leap_year(year) ? 366 : 365;
        if (days < length) return year;
        days -= length;
        year++;
    }
}

static void woke(void *arg)
{
    struct sleeper *s = arg;
    uint64_t elapsed = mg_mclock_now_ns(s->mclock) - s->start;
    uint64_t ms = elapsed / MG_TIME_MS, frac = elapsed % MG_TIME_MS / 1000;
    if (elapsed < SLEEP_MS * MG_TIME_MS || elapsed > (SLEEP_MS + SLACK_MS) * MG_TIME_MS) {
        mg_console_printf(s->console,
                          "FAILURE: a %d ms sleep advanced the monotonic clock by %llu.%03llu ms "
                          "(expected %d to %d)\n",
                          SLEEP_MS, (unsigned long long)ms, (unsigned long long)frac, SLEEP_MS,
                          SLEEP_MS + SLACK_MS);
        mg_exit(1);
        return;
    }
    mg_console_printf(s->console, "Slept %d ms: the monotonic clock advanced %llu.%03llu ms\n",
                      SLEEP_MS, (unsigned long long)ms, (unsigned long long)frac);
    mg_console_printf(s->console, "SUCCESS\n");
}

int clocks_start(mg_console *console, mg_pclock *pclock, mg_mclock *mclock, mg_time *time)
{
    uint64_t year = year_of(mg_pclock_now_ns(pclock));
    mg_console_printf(console, "Wall-clock year: %llu\n", (unsigned long long)year);
    if (year < 2024) {
        mg_console_printf(console, "FAILURE: the wall clock is before 2024\n");
        return 1;
    }
    sleeper = (struct sleeper){console, mclock, mg_mclock_now_ns(mclock)};
    int rc = mg_time_sleep(time, SLEEP_MS * MG_TIME_MS, woke, &sleeper);
    if (rc != 0) {
        mg_console_printf(console, "FAILURE: cannot sleep: %s\n", mg_strerror(rc));
        return 1;
    }
    return 0;
}
