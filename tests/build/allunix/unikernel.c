/*
 * allunix: one unikernel connecting every catalog entry that claims unix,
 * and using each a little, so that an entry that claims a target without
 * really working there fails a test. Prints "ok <what>" per check, then
 * "ALL OK", or "FAIL <what>" and returns 1.
 */
#include <string.h>

#include "mg/block.h"
#include "mg/console.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"
#include "mg/mclock.h"
#include "mg/pclock.h"
#include "mg/random.h"
#include "mg/reporter.h"
#include "mg/time.h"

int allunix_start(mg_console *out, mg_console *second, mg_time *time, mg_pclock *pclock,
                  mg_mclock *mclock, mg_random *random, mg_reporter *loud, mg_reporter *quiet,
                  mg_block *disk, mg_block *ram, mg_kv_ro *embedded, mg_kv_ro *host, mg_kv_ro *tar,
                  mg_kv_rw *mem, mg_kv_rw *rw);

static mg_console *console;
static int failures;

static void check(int ok, const char *what)
{
    mg_console_printf(console, "%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) failures++;
}

static int value_is(mg_kv_ro *kv, const char *key, const char *want)
{
    char buf[64];
    size_t len = 0;
    int rc = mg_kv_ro_get(kv, key, buf, sizeof buf, &len);
    return rc == 0 && len == strlen(want) && !memcmp(buf, want, len);
}

static int block_round_trip(mg_block *b)
{
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    unsigned char w[512], r[512];
    for (size_t i = 0; i < sizeof w; i++) w[i] = (unsigned char)(i * 7);
    return g.n_sectors > 1 && mg_block_write(b, 1, w, 1) == 0 && mg_block_read(b, 1, r, 1) == 0 &&
           !memcmp(w, r, sizeof w) && mg_block_read(b, g.n_sectors, r, 1) == MG_ERANGE;
}

static void after_sleep(void *arg)
{
    mg_mclock *mclock = arg;
    (void)mclock;
    check(1, "time: a sleep fired");
    mg_console_printf(console, failures ? "SOME FAILED\n" : "ALL OK\n");
    if (failures) mg_exit(1);
}

int allunix_start(mg_console *out, mg_console *second, mg_time *time, mg_pclock *pclock,
                  mg_mclock *mclock, mg_random *random, mg_reporter *loud, mg_reporter *quiet,
                  mg_block *disk, mg_block *ram, mg_kv_ro *embedded, mg_kv_ro *host, mg_kv_ro *tar,
                  mg_kv_rw *mem, mg_kv_rw *rw)
{
    console = out;
    check(mg_console_printf(second, "second console\n") == MG_OK, "custom_console writes");
    check(mg_pclock_now_ns(pclock) > UINT64_C(1700000000) * 1000000000, "posix_clock is recent");
    check(mg_mclock_now_ns(mclock) > 0, "monotonic_clock ticks");
    unsigned char r1[16], r2[16];
    check(mg_random_fill(random, r1, sizeof r1) == 0 &&
              mg_random_fill(random, r2, sizeof r2) == 0 && memcmp(r1, r2, sizeof r1),
          "chacha_random gives different bytes");
    check(mg_log_enabled(loud, MG_LOG_DEBUG, "any"), "log_reporter honours *:debug");
    mg_log(loud, MG_LOG_INFO, "allunix", "a log line");
    check(!mg_log_enabled(quiet, MG_LOG_ERROR, "any"), "no_reporter drops everything");
    check(block_round_trip(disk), "block_of_file reads back and rejects out of range");
    check(block_round_trip(ram), "ramdisk reads back and rejects out of range");
    check(value_is(embedded, "a.txt", "alpha\n") && value_is(embedded, "sub/b.txt", "beta\n"),
          "crunch serves embedded files");
    check(value_is(host, "/a.txt", "alpha\n") && value_is(host, "sub/b.txt", "beta\n"),
          "direct_kv_ro reads the host directory");
    check(value_is(tar, "t.txt", "from tar\n"), "tar_kv_ro reads the archive");
    check(mg_kv_rw_set(mem, "k/v", "mem", 3) == 0 && value_is(mg_kv_rw_ro(mem), "k/v", "mem"),
          "kv_rw_mem stores");
    check(mg_kv_rw_set(rw, "k/v", "disk", 4) == 0 && value_is(mg_kv_rw_ro(rw), "k/v", "disk"),
          "direct_kv_rw stores");
    check(mg_time_sleep(time, 10 * MG_TIME_MS, after_sleep, mclock) == 0, "time: sleep queued");
    return failures ? 1 : 0;
}
