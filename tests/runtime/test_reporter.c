/*
 * test_reporter.c - log_reporter's levels spec (good and bad), its
 * filtering ("later items win"), the line it prints, no_reporter, and the
 * image's default reporter behind a NULL handle.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg/reporter.h"

/* Standard output goes to a pipe between capture_start and capture_end. */
static int capture_fds[2], capture_saved;
static char captured[8192];

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
    return captured;
}

/* Reporters live as long as the image; here they stay reachable from this
 * array so the leak checker does not count them. */
static mg_reporter *connected[16];
static size_t n_connected;

static mg_reporter *connect_ok(const char *spec)
{
    mg_reporter *r = NULL;
    int status = mg_reporter_connect(&r, spec);
    cr_assert_eq(status, MG_OK, "'%s' refused: %s", spec, mg_strerror(status));
    cr_assert_not_null(r);
    cr_assert_lt(n_connected, 16);
    connected[n_connected++] = r;
    return r;
}

Test(reporter, good_specs_connect)
{
    static const char *const specs[] = {"",
                                        "*:info",
                                        "*:info,net:debug",
                                        "debug",
                                        "quiet",
                                        "net:error,*:debug",
                                        "a.b/c-d_E9:warning",
                                        "*:quiet,tcp:error,udp:warning"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) connect_ok(specs[i]);
}

Test(reporter, bad_specs_are_refused_with_a_reason)
{
    static const struct {
        const char *spec, *says;
    } bad[] = {{"net:verbose", "unknown level 'verbose'"},
               {"verbose", "unknown level 'verbose'"},
               {",", "empty item"},
               {"*:info,", "empty item"},
               {"*:info,,net:debug", "empty item"},
               {":info", "no source"},
               {"n et:info", "source 'n et'"},
               {"net:", "unknown level ''"},
               {"net:info:debug", "unknown level 'info:debug'"},
               {"*:INFO", "unknown level 'INFO'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_reporter *r = NULL;
        capture_start();
        int status = mg_reporter_connect(&r, bad[i].spec);
        const char *out = capture_end();
        cr_assert_eq(status, MG_EINVAL, "'%s' accepted", bad[i].spec);
        cr_assert_null(r, "'%s': handle set on failure", bad[i].spec);
        cr_assert(strstr(out, bad[i].says), "'%s': message '%s' lacks '%s'", bad[i].spec, out,
                  bad[i].says);
        cr_assert(strstr(out, bad[i].spec), "'%s': message '%s' does not quote the spec",
                  bad[i].spec, out);
    }
}

Test(reporter, later_items_win)
{
    mg_reporter *r = connect_ok("*:info,net:debug");
    cr_assert(mg_log_enabled(r, MG_LOG_DEBUG, "net"));
    cr_assert_not(mg_log_enabled(r, MG_LOG_DEBUG, "tcp"));
    cr_assert(mg_log_enabled(r, MG_LOG_INFO, "tcp"));
    cr_assert_not(mg_log_enabled(r, MG_LOG_DEBUG, "network"), "a prefix is not the source");
    cr_assert_not(mg_log_enabled(r, MG_LOG_DEBUG, "ne"));

    r = connect_ok("net:debug,*:info");
    cr_assert_not(mg_log_enabled(r, MG_LOG_DEBUG, "net"), "the later * must win");
    cr_assert(mg_log_enabled(r, MG_LOG_INFO, "net"));

    r = connect_ok("*:quiet,tcp:error");
    cr_assert_not(mg_log_enabled(r, MG_LOG_ERROR, "net"));
    cr_assert(mg_log_enabled(r, MG_LOG_ERROR, "tcp"));
    cr_assert_not(mg_log_enabled(r, MG_LOG_WARNING, "tcp"));
}

Test(reporter, levels_are_thresholds)
{
    mg_reporter *r = connect_ok("warning");
    cr_assert(mg_log_enabled(r, MG_LOG_ERROR, "x"));
    cr_assert(mg_log_enabled(r, MG_LOG_WARNING, "x"));
    cr_assert_not(mg_log_enabled(r, MG_LOG_INFO, "x"));

    r = connect_ok(""); /* the default: info */
    cr_assert(mg_log_enabled(r, MG_LOG_INFO, "x"));
    cr_assert_not(mg_log_enabled(r, MG_LOG_DEBUG, "x"));

    r = connect_ok("net:error"); /* other sources keep the default */
    cr_assert_not(mg_log_enabled(r, MG_LOG_WARNING, "net"));
    cr_assert(mg_log_enabled(r, MG_LOG_INFO, "disk"));

    cr_assert_not(mg_log_enabled(r, (mg_log_level)0, "disk"), "invalid level");
    cr_assert_not(mg_log_enabled(r, (mg_log_level)9, "disk"), "invalid level");
}

Test(reporter, prints_one_line_per_message)
{
    mg_reporter *r = connect_ok("*:info,disk:debug");
    char long_msg[600];
    memset(long_msg, 'x', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    capture_start();
    mg_log(r, MG_LOG_INFO, "net", "up after %d tries", 3);
    mg_log(r, MG_LOG_DEBUG, "net", "filtered out");
    mg_log(r, MG_LOG_DEBUG, "disk", "sector %u\n", 7u); /* newline not doubled */
    mg_log(r, MG_LOG_ERROR, NULL, "%s", "no source");
    mg_log(r, MG_LOG_WARNING, "big", "%s", long_msg);
    mg_log(r, (mg_log_level)7, "net", "invalid level");
    const char *out = capture_end();
    char expected[1024];
    snprintf(expected, sizeof expected,
             "[INFO] [net] up after 3 tries\n"
             "[DEBUG] [disk] sector 7\n"
             "[ERROR] [application] no source\n"
             "[WARNING] [big] %s\n",
             long_msg);
    cr_assert_str_eq(out, expected);
}

Test(reporter, no_reporter_discards)
{
    mg_reporter *r;
    cr_assert_eq(mg_no_reporter_connect(&r), MG_OK);
    cr_assert_not(mg_log_enabled(r, MG_LOG_ERROR, "net"));
    capture_start();
    mg_log(r, MG_LOG_ERROR, "net", "lost");
    mg_log(NULL, MG_LOG_ERROR, "net", "lost too: no_reporter is the default now");
    cr_assert_str_eq(capture_end(), "");
}

Test(reporter, null_means_the_last_connected_reporter)
{
    /* None yet: errors and warnings only. */
    cr_assert(mg_log_enabled(NULL, MG_LOG_WARNING, "x"));
    cr_assert_not(mg_log_enabled(NULL, MG_LOG_INFO, "x"));
    capture_start();
    mg_log(NULL, MG_LOG_WARNING, "boot", "early");
    mg_log(NULL, MG_LOG_INFO, "boot", "dropped");
    cr_assert_str_eq(capture_end(), "[WARNING] [boot] early\n");

    connect_ok("*:debug");
    cr_assert(mg_log_enabled(NULL, MG_LOG_DEBUG, "x"));
    mg_reporter *bad;
    capture_start();
    cr_assert_eq(mg_reporter_connect(&bad, "x:y"), MG_EINVAL);
    capture_end();
    cr_assert(mg_log_enabled(NULL, MG_LOG_DEBUG, "x"), "a refused reporter became the default");
    connect_ok("*:error");
    cr_assert_not(mg_log_enabled(NULL, MG_LOG_WARNING, "x"));
}

Test(reporter, level_names)
{
    cr_assert_str_eq(mg_log_level_name(MG_LOG_ERROR), "error");
    cr_assert_str_eq(mg_log_level_name(MG_LOG_WARNING), "warning");
    cr_assert_str_eq(mg_log_level_name(MG_LOG_INFO), "info");
    cr_assert_str_eq(mg_log_level_name(MG_LOG_DEBUG), "debug");
    cr_assert_str_eq(mg_log_level_name((mg_log_level)0), "?");
}
