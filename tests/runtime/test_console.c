/*
 * test_console.c - the console device and the core's printing (mg_printf,
 * mg_vformat, mg_strerror), checked on what reaches standard output: a
 * pipe stands in for it. Also the platform's console write under signals
 * (partial writes, EINTR) and the noop job.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "mg/console.h"
#include "mg/job.h"
#include "mg/mg.h"
#include "abi/platform.h"

static int capture_fds[2], capture_saved;
static char captured[65536];
static size_t captured_len;

static void capture_start(void)
{
    cr_assert_eq(pipe(capture_fds), 0);
    capture_saved = dup(STDOUT_FILENO);
    dup2(capture_fds[1], STDOUT_FILENO);
    close(capture_fds[1]);
}

static const char *capture_end(void)
{
    dup2(capture_saved, STDOUT_FILENO);
    close(capture_saved);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof captured - 1 &&
           (n = read(capture_fds[0], captured + len, sizeof captured - 1 - len)) > 0)
        len += (size_t)n;
    close(capture_fds[0]);
    captured[len] = '\0';
    captured_len = len;
    return captured;
}

static mg_console *console;

static void connect_console(void)
{
    cr_assert_eq(mg_console_connect(&console, "serial0"), MG_OK);
}

TestSuite(console, .init = connect_console);

Test(console, write_passes_bytes_through)
{
    static const char bytes[] = "a\0b\n\xff";
    capture_start();
    cr_assert_eq(mg_console_write(console, bytes, sizeof bytes - 1), MG_OK);
    cr_assert_eq(mg_console_write(console, "", 0), MG_OK);
    capture_end();
    cr_assert_eq(captured_len, sizeof bytes - 1);
    cr_assert_eq(memcmp(captured, bytes, captured_len), 0);
}

Test(console, printf_formats)
{
    capture_start();
    cr_assert_eq(mg_console_printf(console, "%s=%d %05.1f|%-3s|%llx\n", "n", -42, 3.14159, "ab",
                                   0xdeadbeefULL),
                 MG_OK);
    cr_assert_str_eq(capture_end(), "n=-42 003.1|ab |deadbeef\n");
}

Test(console, printf_without_length_limit)
{
    static char big[20000];
    memset(big, 'q', sizeof big - 1);
    capture_start();
    cr_assert_eq(mg_console_printf(console, "<%s>", big), MG_OK);
    capture_end();
    cr_assert_eq(captured_len, sizeof big + 1);
    cr_assert_eq(captured[0], '<');
    cr_assert_eq(captured[captured_len - 1], '>');
    cr_assert_eq(captured[sizeof big - 1], 'q');
}

Test(console, name)
{
    cr_assert_str_eq(mg_console_name(console), "serial0");
}

/* A second implementation behind the same type: dispatch goes through the
 * handle's table, not to the platform console. */
static char recorded[64];
static size_t recorded_len;

static int record_write(mg_console *c, const void *buf, size_t len)
{
    (void)c;
    if (len > sizeof recorded - recorded_len) return MG_ENOSPC;
    memcpy(recorded + recorded_len, buf, len);
    recorded_len += len;
    return MG_OK;
}

Test(console, dispatches_through_the_operations_table)
{
    static const struct mg_console_ops ops = {.write = record_write};
    mg_console fake = {.ops = &ops, .name = "fake"};
    capture_start();
    cr_assert_eq(mg_console_printf(&fake, "x%dy", 12), MG_OK);
    static const char more[61] = {0};
    cr_assert_eq(mg_console_write(&fake, more, sizeof more), MG_ENOSPC, "status not passed back");
    cr_assert_str_eq(capture_end(), "", "the platform console was written");
    cr_assert_eq(recorded_len, 4);
    cr_assert_eq(memcmp(recorded, "x12y", 4), 0);
}

Test(core, mg_printf_returns_the_length)
{
    capture_start();
    int n = mg_printf("%s %d\n", "twelve", 12);
    cr_assert_str_eq(capture_end(), "twelve 12\n");
    cr_assert_eq(n, 10);
}

static char *vformat(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mg_vformat(buf, size, len, fmt, ap);
    va_end(ap);
    return s;
}

Test(core, vformat_uses_the_buffer_when_it_fits)
{
    char buf[8];
    size_t len;
    cr_assert_eq(vformat(buf, sizeof buf, &len, "%d", 1234567), buf);
    cr_assert_eq(len, 7);
    cr_assert_str_eq(buf, "1234567");
    char *s = vformat(buf, sizeof buf, &len, "%d", 12345678);
    cr_assert_neq(s, buf);
    cr_assert_eq(len, 8);
    cr_assert_str_eq(s, "12345678");
    free(s);
}

Test(core, strerror_has_a_message_for_every_status)
{
    for (int s = 0; s < MG_ESTATUS_MAX; s++) {
        const char *m = mg_strerror(s);
        cr_assert_not_null(m);
        cr_assert_str_neq(m, "unknown error", "status %d has no message", s);
        for (int t = 0; t < s; t++) cr_assert_str_neq(mg_strerror(t), m, "%d and %d", t, s);
    }
    cr_assert_str_eq(mg_strerror(MG_ENOENT), "not found");
    cr_assert_str_eq(mg_strerror(-1), "unknown error");
    cr_assert_str_eq(mg_strerror(MG_ESTATUS_MAX), "unknown error");
}

Test(core, noop_job_succeeds)
{
    cr_assert_eq(mg_noop_connect(), 0);
}

/* The platform console must write everything even when signals interrupt
 * write(2) and a slow reader makes it return short counts. */
enum { STORM_BYTES = 4 << 20 };
static unsigned char *storm_in;
static size_t storm_got;
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void *storm_reader(void *arg)
{
    int fd = *(int *)arg;
    ssize_t n;
    /* Small reads: the writer fills the pipe and waits, so signals land
     * inside write(2). */
    while (storm_got < STORM_BYTES && (n = read(fd, storm_in + storm_got, 4096)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        storm_got += (size_t)n;
    }
    return NULL;
}

Test(platform_console, writes_everything_despite_signals)
{
    unsigned char *out = malloc(STORM_BYTES);
    storm_in = malloc(STORM_BYTES);
    for (size_t i = 0; i < STORM_BYTES; i++) out[i] = (unsigned char)(i * 131 + i / 4096);

    /* The reader thread blocks SIGALRM, so every alarm hits the writer. */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pthread_t reader;
    cr_assert_eq(pthread_create(&reader, NULL, storm_reader, &fds[0]), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: EINTR / short writes */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &every, NULL);

    int saved = dup(STDOUT_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    mg_platform_console_write((const char *)out, STORM_BYTES);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    dup2(saved, STDOUT_FILENO); /* closes the pipe's last write end: EOF */
    close(saved);

    pthread_join(reader, NULL);
    close(fds[0]);
    cr_assert_eq(storm_got, STORM_BYTES, "got %zu bytes", storm_got);
    cr_assert_eq(memcmp(out, storm_in, STORM_BYTES), 0, "bytes lost or repeated");
    cr_assert_gt(alarms, 0, "no signal was delivered: the test tested nothing");
    free(out);
    free(storm_in);
}
