/*
 * The executor: output and exit status, signals, timeouts that kill a whole
 * process group, cancel from another thread, programs that cannot start,
 * the output cap, cwd and environment, what children inherit, and
 * parallelism. /bin/sh is used as a test program only: the executor
 * itself never goes through a shell.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "toolchain/exec.h"
#include "base/fsutil.h"

static uint64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Runs argv with the other spec fields as given; asserts it returned. */
static mg_exec_result run(const char *const *argv, const mg_exec_spec *base)
{
    mg_exec_spec spec = base ? *base : (mg_exec_spec){0};
    spec.argv = argv;
    mg_exec_result r;
    cr_assert_eq(mg_exec_run(&spec, &r), 0);
    cr_assert_not_null(r.output);
    cr_assert_eq(strlen(r.output), r.output_len, "NUL-terminated, no NUL inside");
    return r;
}

/* Whether a process is gone (or only a zombie waiting for its reaper),
 * waiting up to 2 s for it to die. */
static bool process_gone(pid_t pid)
{
    for (int i = 0; i < 200; i++) {
        char path[64], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f) return true;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        const char *paren = strrchr(stat, ')');
        if (paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X')) return true;
        sleep_ms(10);
    }
    return false;
}

static pid_t read_pid(const char *path)
{
    size_t len;
    char *text = NULL;
    for (int i = 0; i < 100 && !text; i++) {
        text = mg_file_read(path, 64, &len);
        if (text && len == 0) {
            free(text);
            text = NULL;
        }
        if (!text) sleep_ms(10);
    }
    cr_assert_not_null(text, "%s", path);
    pid_t pid = (pid_t)atoi(text);
    free(text);
    cr_assert_gt(pid, 1);
    return pid;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/mgd-test-exec-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    mg_rm_rf(tmpdir);
}

TestSuite(exec, .init = make_tmpdir, .fini = remove_tmpdir);

/* ------------------------------------------------------------- basics */

Test(exec, output_and_exit_status)
{
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; echo again; exit 3", NULL};
    mg_exec_result r = run(argv, NULL);
    cr_assert_eq(r.exit_status, 3);
    cr_assert_eq(r.term_signal, 0);
    cr_assert_not(r.timed_out);
    cr_assert_not(r.cancelled);
    cr_assert_eq(r.spawn_error, 0);
    cr_assert_str_eq(r.output, "out\nerr\nagain\n", "stdout and stderr on one pipe, in order");
    cr_assert_gt(r.id, 0);
    mg_exec_result_free(&r);
    cr_assert_null(r.output);
}

Test(exec, argv_is_passed_verbatim)
{
    /* No shell in between: quotes, spaces and $ reach the program as is. */
    const char *argv[] = {"printf", "[%s]", "a b", "$HOME", "'q'", "", NULL};
    mg_exec_result r = run(argv, NULL);
    cr_assert_eq(r.exit_status, 0);
    cr_assert_str_eq(r.output, "[a b][$HOME]['q'][]");
    mg_exec_result_free(&r);
}

Test(exec, killed_by_a_signal)
{
    const char *argv[] = {"sh", "-c", "echo before; kill -TERM $$; echo after", NULL};
    mg_exec_result r = run(argv, NULL);
    cr_assert_eq(r.term_signal, SIGTERM);
    cr_assert_eq(r.exit_status, -1);
    cr_assert_not(r.timed_out);
    cr_assert_str_eq(r.output, "before\n");
    mg_exec_result_free(&r);
}

Test(exec, stdin_is_dev_null)
{
    /* cat would block forever on an inherited terminal or pipe. */
    const char *argv[] = {"cat", NULL};
    mg_exec_spec spec = {.timeout_ms = 5000};
    mg_exec_result r = run(argv, &spec);
    cr_assert_eq(r.exit_status, 0);
    cr_assert_not(r.timed_out);
    cr_assert_eq(r.output_len, 0);
    mg_exec_result_free(&r);
}

Test(exec, program_not_found)
{
    const char *argv[] = {"mgd-no-such-program-x", "arg", NULL};
    mg_exec_result r = run(argv, NULL);
    cr_assert_eq(r.spawn_error, ENOENT);
    cr_assert_eq(r.exit_status, -1);
    cr_assert(strstr(r.output, "mgd-no-such-program-x") != NULL, "%s", r.output);
    mg_exec_result_free(&r);

    const char *abs[] = {"/nonexistent/mgd/cc", NULL};
    r = run(abs, NULL);
    cr_assert_eq(r.spawn_error, ENOENT);
    cr_assert(strstr(r.output, "/nonexistent/mgd/cc") != NULL);
    mg_exec_result_free(&r);
}

Test(exec, program_not_executable_and_bad_cwd)
{
    char script[128];
    snprintf(script, sizeof script, "%s/plain.sh", tmpdir);
    cr_assert_eq(mg_file_write_atomic(script, "#!/bin/sh\necho hi\n", 18, 0644), 0);
    const char *argv[] = {script, NULL};
    mg_exec_result r = run(argv, NULL);
    cr_assert_eq(r.spawn_error, EACCES);
    mg_exec_result_free(&r);

    const char *sh[] = {"sh", "-c", "true", NULL};
    mg_exec_spec spec = {.cwd = "/nonexistent/mgd/dir"};
    r = run(sh, &spec);
    cr_assert_eq(r.spawn_error, ENOENT);
    cr_assert(strstr(r.output, "/nonexistent/mgd/dir") != NULL, "%s", r.output);
    mg_exec_result_free(&r);
}

Test(exec, cwd_and_env)
{
    const char *argv[] = {"sh", "-c", "pwd; echo \"$MGD_TEST_A/$MGD_TEST_B/$HOME\"", NULL};
    const char *env[] = {"MGD_TEST_A=alpha", "MGD_TEST_B=b=c", "HOME=/mgd-home", NULL};
    mg_exec_spec spec = {.cwd = tmpdir, .env = env};
    mg_exec_result r = run(argv, &spec);
    char want[256];
    snprintf(want, sizeof want, "%s\nalpha/b=c//mgd-home\n", tmpdir);
    cr_assert_str_eq(r.output, want);
    mg_exec_result_free(&r);

    /* The rest of the environment is inherited. */
    setenv("MGD_TEST_INHERITED", "yes", 1);
    const char *argv2[] = {"sh", "-c", "echo $MGD_TEST_INHERITED", NULL};
    r = run(argv2, NULL);
    cr_assert_str_eq(r.output, "yes\n");
    mg_exec_result_free(&r);
}

Test(exec, path_from_spec_env_is_searched)
{
    char script[128];
    snprintf(script, sizeof script, "%s/mgd-test-tool", tmpdir);
    const char *text = "#!/bin/sh\necho tool ran\n";
    cr_assert_eq(mg_file_write_atomic(script, text, strlen(text), 0755), 0);
    char path[256];
    snprintf(path, sizeof path, "PATH=/nonexistent:%s:/usr/bin:/bin", tmpdir);
    const char *env[] = {path, NULL};
    const char *argv[] = {"mgd-test-tool", NULL};
    mg_exec_spec spec = {.env = env};
    mg_exec_result r = run(argv, &spec);
    cr_assert_eq(r.spawn_error, 0, "%s", r.output);
    cr_assert_str_eq(r.output, "tool ran\n");
    mg_exec_result_free(&r);
}

Test(exec, children_inherit_no_descriptor_and_default_signals)
{
    /* A descriptor opened without O_CLOEXEC stays ours. */
    int fd = open("/dev/null", O_RDONLY);
    cr_assert(fd > 2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "if [ -e /dev/fd/%d ]; then echo leaked; else echo clean; fi", fd);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    mg_exec_result r = run(argv, NULL);
    cr_assert_str_eq(r.output, "clean\n");
    mg_exec_result_free(&r);
    close(fd);

    /* An ignored SIGPIPE here would make `yes` report EPIPE instead of dying
     * quietly when head stops reading. */
    signal(SIGPIPE, SIG_IGN);
    const char *pipe_argv[] = {"sh", "-c", "yes | head -c 6", NULL};
    r = run(pipe_argv, NULL);
    cr_assert_str_eq(r.output, "y\ny\ny\n");
    mg_exec_result_free(&r);
}

/* --------------------------------------------------------- output cap */

Test(exec, output_cap_truncates_and_says_so)
{
    const char *argv[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo done >&2", NULL};
    mg_exec_spec spec = {.output_cap = 1000};
    mg_exec_result r = run(argv, &spec);
    const char *note = "\n[output truncated]\n";
    cr_assert_eq(r.exit_status, 0, "the program is not blocked by what is dropped");
    cr_assert_eq(r.output_len, 1000 + strlen(note));
    for (size_t i = 0; i < 1000; i++) cr_assert_eq(r.output[i], 'x');
    cr_assert_str_eq(r.output + 1000, note);
    mg_exec_result_free(&r);

    /* Exactly the cap is not truncated. */
    const char *exact[] = {"sh", "-c", "head -c 1000 /dev/zero | tr '\\0' y", NULL};
    r = run(exact, &spec);
    cr_assert_eq(r.output_len, 1000);
    mg_exec_result_free(&r);
}

Test(exec, default_cap_is_one_mebibyte)
{
    const char *argv[] = {"head", "-c", "3000000", "/dev/zero", NULL};
    mg_exec_spec spec = {0};
    spec.argv = argv;
    mg_exec_result r;
    cr_assert_eq(mg_exec_run(&spec, &r), 0);
    cr_assert_eq(r.exit_status, 0);
    cr_assert_eq(r.output_len, (1u << 20) + strlen("\n[output truncated]\n"));
    cr_assert_str_eq(r.output + (1u << 20), "\n[output truncated]\n");
    mg_exec_result_free(&r);
}

/* ------------------------------------------------- groups and timeouts */

Test(exec, timeout_kills_the_whole_group)
{
    char pidfile[128], cmd[256];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", tmpdir);
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; echo started; sleep 30", pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    mg_exec_spec spec = {.timeout_ms = 300};
    uint64_t t0 = clock_ms();
    mg_exec_result r = run(argv, &spec);
    uint64_t took = clock_ms() - t0;
    cr_assert(r.timed_out);
    cr_assert_not(r.cancelled);
    cr_assert_eq(r.term_signal, SIGKILL);
    cr_assert_str_eq(r.output, "started\n", "output before the kill is kept");
    cr_assert_geq(r.duration_ms, 300);
    cr_assert_lt(took, 3000, "took %llu ms", (unsigned long long)took);
    cr_assert(process_gone(read_pid(pidfile)), "the background sleep survived");
    mg_exec_result_free(&r);
}

Test(exec, nothing_survives_a_leader_that_exits)
{
    char pidfile[128], cmd[256];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", tmpdir);
    /* The background job keeps the output pipe open; it must not hold up
     * the result, nor outlive its leader. */
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; echo bye", pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    uint64_t t0 = clock_ms();
    mg_exec_result r = run(argv, NULL);
    cr_assert_lt(clock_ms() - t0, 3000);
    cr_assert_eq(r.exit_status, 0);
    cr_assert_str_eq(r.output, "bye\n");
    cr_assert(process_gone(read_pid(pidfile)));
    mg_exec_result_free(&r);
}

Test(exec, output_of_an_escaped_process_is_not_waited_for)
{
    /* setsid leaves the group, so it is not killed; its copy of the pipe
     * must only delay the result by the drain time. */
    char pidfile[128], cmd[256];
    snprintf(pidfile, sizeof pidfile, "%s/esc.pid", tmpdir);
    snprintf(cmd, sizeof cmd, "setsid sh -c 'echo $$ > %s; exec sleep 5' & sleep 0.2; echo out",
             pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    uint64_t t0 = clock_ms();
    mg_exec_result r = run(argv, NULL);
    uint64_t took = clock_ms() - t0;
    cr_assert_eq(r.exit_status, 0);
    cr_assert_str_eq(r.output, "out\n");
    cr_assert_lt(took, 2000, "took %llu ms", (unsigned long long)took);
    kill(read_pid(pidfile), SIGKILL);
    mg_exec_result_free(&r);
}

/* ------------------------------------------------------------ executor */

Test(exec, four_in_parallel_take_the_time_of_one)
{
    mg_executor *ex = mg_executor_new();
    cr_assert_not_null(ex);
    cr_assert_eq(mg_executor_running(ex), 0);
    mg_exec_result r;
    cr_assert_eq(mg_executor_wait(ex, &r), -1, "nothing is running");

    const char *argv[] = {"sleep", "0.5", NULL};
    mg_exec_spec spec = {.argv = argv};
    uint64_t t0 = clock_ms();
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) ids[i] = mg_executor_start(ex, &spec);
    cr_assert_eq(mg_executor_running(ex), 4);
    bool seen[4] = {false};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(mg_executor_wait(ex, &r), 0);
        cr_assert_eq(r.exit_status, 0);
        cr_assert_geq(r.duration_ms, 490);
        for (int k = 0; k < 4; k++)
            if (ids[k] == r.id) seen[k] = true;
        mg_exec_result_free(&r);
    }
    uint64_t took = clock_ms() - t0;
    for (int k = 0; k < 4; k++)
        cr_assert(seen[k], "result for id %llu", (unsigned long long)ids[k]);
    cr_assert_lt(took, 1400, "4 x 0.5 s in parallel took %llu ms", (unsigned long long)took);
    cr_assert_eq(mg_executor_running(ex), 0);
    cr_assert_eq(mg_executor_wait(ex, &r), -1);
    mg_executor_free(ex);
}

Test(exec, results_come_in_order_of_ending_with_their_ids)
{
    mg_executor *ex = mg_executor_new();
    const char *slow[] = {"sh", "-c", "sleep 0.4; echo slow", NULL};
    const char *fast[] = {"sh", "-c", "echo fast", NULL};
    const char *missing[] = {"mgd-no-such-program-y", NULL};
    uint64_t a = mg_executor_start(ex, &(mg_exec_spec){.argv = slow});
    uint64_t b = mg_executor_start(ex, &(mg_exec_spec){.argv = fast});
    uint64_t c = mg_executor_start(ex, &(mg_exec_spec){.argv = missing});
    cr_assert(a > 0 && b > a && c > b, "ids are distinct and increasing");
    cr_assert_eq(mg_executor_running(ex), 3, "a spawn failure counts until it is collected");

    mg_exec_result r;
    cr_assert_eq(mg_executor_wait(ex, &r), 0);
    cr_assert_eq(r.id, c, "the spawn failure is pending at once");
    cr_assert_eq(r.spawn_error, ENOENT);
    mg_exec_result_free(&r);
    cr_assert_eq(mg_executor_wait(ex, &r), 0);
    cr_assert_eq(r.id, b);
    cr_assert_str_eq(r.output, "fast\n");
    mg_exec_result_free(&r);
    cr_assert_eq(mg_executor_wait(ex, &r), 0);
    cr_assert_eq(r.id, a);
    cr_assert_str_eq(r.output, "slow\n");
    mg_exec_result_free(&r);
    mg_executor_free(ex);
}

static void *cancel_later(void *arg)
{
    sleep_ms(200);
    mg_executor_cancel(arg);
    return NULL;
}

Test(exec, cancel_from_another_thread)
{
    mg_executor *ex = mg_executor_new();
    char pidfile[128], cmd[256];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", tmpdir);
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; sleep 30", pidfile);
    const char *grouped[] = {"sh", "-c", cmd, NULL};
    const char *plain[] = {"sleep", "30", NULL};
    mg_executor_start(ex, &(mg_exec_spec){.argv = grouped});
    mg_executor_start(ex, &(mg_exec_spec){.argv = plain});

    pid_t bg = read_pid(pidfile); /* the group is complete */
    pthread_t t;
    uint64_t t0 = clock_ms();
    cr_assert_eq(pthread_create(&t, NULL, cancel_later, ex), 0);
    for (int i = 0; i < 2; i++) {
        mg_exec_result r;
        cr_assert_eq(mg_executor_wait(ex, &r), 0);
        cr_assert(r.cancelled);
        cr_assert_not(r.timed_out);
        cr_assert_eq(r.term_signal, SIGKILL);
        mg_exec_result_free(&r);
    }
    cr_assert_lt(clock_ms() - t0, 3000);
    pthread_join(t, NULL);
    cr_assert(process_gone(bg));

    /* Started after the cancel: never runs, says so. */
    const char *echo[] = {"sh", "-c", "echo should not run", NULL};
    mg_executor_start(ex, &(mg_exec_spec){.argv = echo});
    mg_exec_result r;
    cr_assert_eq(mg_executor_wait(ex, &r), 0);
    cr_assert(r.cancelled);
    cr_assert_eq(r.spawn_error, ECANCELED);
    cr_assert_null(strstr(r.output, "should not run\n"));
    mg_exec_result_free(&r);
    mg_executor_free(ex);
}

Test(exec, free_kills_what_is_still_running)
{
    char pidfile[128], cmd[256];
    snprintf(pidfile, sizeof pidfile, "%s/leader.pid", tmpdir);
    snprintf(cmd, sizeof cmd, "echo $$ > %s; sleep 30", pidfile);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    mg_executor *ex = mg_executor_new();
    mg_executor_start(ex, &(mg_exec_spec){.argv = argv});
    mg_executor_start(ex, &(mg_exec_spec){.argv = argv});
    pid_t pid = read_pid(pidfile);
    uint64_t t0 = clock_ms();
    mg_executor_free(ex);
    cr_assert_lt(clock_ms() - t0, 2000);
    cr_assert(process_gone(pid));
}
