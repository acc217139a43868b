/* Unit tests of toolchain/sandbox.c: the argv it builds, how a failed
 * action is matched to the limit it hit, and real sandboxes (skipped where
 * bubblewrap cannot make one). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/arena.h"
#include "toolchain/cache.h"
#include "base/fsutil.h"
#include "toolchain/sandbox.h"

static size_t argv_len(char **v)
{
    size_t n = 0;
    while (v[n]) n++;
    return n;
}

/* The index of `word` in v at or after `from`, or -1. */
static long find(char **v, size_t from, const char *word)
{
    for (size_t i = from; v[i]; i++)
        if (!strcmp(v[i], word)) return (long)i;
    return -1;
}

static const char *const cmd[] = {"gcc", "-c", "src/x.c", NULL};

Test(sandbox_argv, no_sandbox_no_limits_is_the_command_itself)
{
    mg_build_limits l = {0};
    mg_sandbox_spec s = {.sandboxed = false, .limits = &l};
    char **v = mg_sandbox_argv(&s, cmd);
    cr_assert_eq(argv_len(v), 3);
    cr_assert_str_eq(v[0], "gcc");
    cr_assert_str_eq(v[2], "src/x.c");
    mg_sandbox_argv_free(v);
}

Test(sandbox_argv, limits_go_through_prlimit)
{
    mg_build_limits l = {.memory = 1u << 30, .cpu_s = 7, .file_size = 4096, .procs = 9};
    mg_sandbox_spec s = {.sandboxed = false, .limits = &l};
    char **v = mg_sandbox_argv(&s, cmd);
    cr_assert_str_eq(v[0], "/usr/bin/prlimit");
    cr_assert_geq(find(v, 0, "--as=1073741824"), 1);
    cr_assert_geq(find(v, 0, "--cpu=7:12"), 1);
    cr_assert_geq(find(v, 0, "--fsize=4096"), 1);
    cr_assert_geq(find(v, 0, "--nproc=9"), 1);
    long dashes = find(v, 0, "--");
    cr_assert_gt(dashes, 0);
    cr_assert_str_eq(v[dashes + 1], "gcc");
    cr_assert_null(v[dashes + 4]);
    mg_sandbox_argv_free(v);
}

Test(sandbox_argv, sandbox_has_namespaces_binds_in_order_and_the_workspace)
{
    mg_build_limits l = mg_build_limits_default();
    mg_sandbox_bind binds[] = {{"/h/src", "/ws/src", false}, {"/h/out", "/ws/obj/x.c", true}};
    static const char *const env[] = {"LC_ALL=C", NULL};
    mg_sandbox_spec s = {.sandboxed = true, .limits = &l, .binds = binds, .n_binds = 2, .env = env};
    char **v = mg_sandbox_argv(&s, cmd);
    cr_assert_str_eq(v[0], "/usr/bin/bwrap");
    const char *const must[] = {"--unshare-all", "--unshare-user", "--die-with-parent",
                                "--clearenv", "--disable-userns"};
    for (size_t i = 0; i < sizeof must / sizeof *must; i++)
        cr_assert_geq(find(v, 0, must[i]), 1, "%s missing", must[i]);
    /* no /proc and no /etc inside */
    cr_assert_eq(find(v, 0, "--proc"), -1);
    cr_assert_eq(find(v, 0, "/etc"), -1);
    long env_at = find(v, 0, "--setenv");
    cr_assert_str_eq(v[env_at + 1], "LC_ALL");
    cr_assert_str_eq(v[env_at + 2], "C");
    long ro = find(v, 0, "/h/src"), rw = find(v, 0, "/h/out");
    cr_assert_str_eq(v[ro - 1], "--ro-bind");
    cr_assert_str_eq(v[rw - 1], "--bind");
    cr_assert_lt(ro, rw, "binds keep their order");
    long chdir = find(v, 0, "--chdir");
    cr_assert_str_eq(v[chdir + 1], MG_SANDBOX_WORKSPACE);
    /* the tmpfs is bounded by the file size limit */
    long size = find(v, 0, "--size");
    cr_assert_str_eq(v[size + 3], "/tmp");
    /* bwrap, then prlimit, then the command */
    long end = find(v, (size_t)find(v, 0, "/usr/bin/bwrap"), "--");
    cr_assert_str_eq(v[end + 1], "/usr/bin/prlimit");
    cr_assert_str_eq(v[find(v, (size_t)end + 1, "--") + 1], "gcc");
    mg_sandbox_argv_free(v);
}

/* --- matching failures to limits --------------------------------------- */

static mg_limit_kind hit(int exit_status, int sig, const char *output)
{
    mg_exec_result r = {.exit_status = exit_status, .term_signal = sig, .output = (char *)output};
    return mg_limit_hit(&r);
}

Test(limit_hit, tells_each_limit_apart)
{
    cr_assert_eq(hit(1, 0, "cc1: out of memory allocating 2147483664 bytes after a total of 5"),
                 MG_LIMIT_MEMORY);
    cr_assert_eq(hit(4, 0,
                     "gcc: internal compiler error: File size limit exceeded signal "
                     "terminated program as"),
                 MG_LIMIT_FILE_SIZE);
    cr_assert_eq(hit(4, 0,
                     "gcc: internal compiler error: CPU time limit exceeded signal "
                     "terminated program cc1"),
                 MG_LIMIT_CPU);
    cr_assert_eq(hit(1, 0,
                     "gcc: fatal error: cannot execute 'cc1': vfork: Resource "
                     "temporarily unavailable"),
                 MG_LIMIT_PROCS);
    /* killed directly, or bwrap's 128 + signal */
    cr_assert_eq(hit(-1, SIGXCPU, ""), MG_LIMIT_CPU);
    cr_assert_eq(hit(128 + SIGXFSZ, 0, ""), MG_LIMIT_FILE_SIZE);
}

Test(limit_hit, ordinary_failures_are_no_limit)
{
    cr_assert_eq(hit(1, 0, "src/a.c:3:1: error: expected ';' before '}' token"), MG_LIMIT_NONE);
    cr_assert_eq(hit(0, 0, "out of memory"), MG_LIMIT_NONE, "a success is never a limit");
    cr_assert_eq(hit(-1, SIGSEGV, ""), MG_LIMIT_NONE);
    mg_exec_result spawn = {.exit_status = -1, .spawn_error = 2, .output = "out of memory"};
    cr_assert_eq(mg_limit_hit(&spawn), MG_LIMIT_NONE);
}

Test(limit_hit, descriptions_name_the_value)
{
    mg_build_limits l = mg_build_limits_default();
    char buf[128];
    mg_limit_describe(&l, MG_LIMIT_MEMORY, buf, sizeof buf);
    cr_assert_str_eq(buf, "memory limit of 2 GiB");
    l.file_size = 64u << 20;
    mg_limit_describe(&l, MG_LIMIT_FILE_SIZE, buf, sizeof buf);
    cr_assert_str_eq(buf, "file size limit of 64 MiB");
    mg_limit_describe(&l, MG_LIMIT_BUILD_WALL, buf, sizeof buf);
    cr_assert_str_eq(buf, "build time limit of 1800 s");
    mg_size_format(1536, buf, sizeof buf);
    cr_assert_str_eq(buf, "1.5 KiB");
    mg_size_format(512, buf, sizeof buf);
    cr_assert_str_eq(buf, "512 B");
}

/* --- real sandboxes ------------------------------------------------------- */

static char tmp_dir[] = "/tmp/mgd-sandbox-test-XXXXXX";

static void setup_dir(void)
{
    cr_assert_not_null(mkdtemp(tmp_dir));
}

static void teardown_dir(void)
{
    mg_rm_rf(tmp_dir);
}

/* Runs `sh -c script` in a sandbox with `in` (read-only) and `out`
 * (writable) under /ws. */
static mg_exec_result run_in_sandbox(const char *script, const mg_build_limits *l)
{
    mg_err err;
    if (mg_sandbox_probe(&err) != 0) cr_skip_test("no sandbox here: %s", err.msg);
    char *in = mg_path_join(tmp_dir, "in"), *out = mg_path_join(tmp_dir, "out");
    cr_assert_eq(mg_mkdir_p(in), 0);
    cr_assert_eq(mg_mkdir_p(out), 0);
    char *secret = mg_path_join(tmp_dir, "secret");
    cr_assert_eq(mg_file_write_atomic(secret, "hush", 4, 0644), 0);
    mg_sandbox_bind binds[] = {{in, "/ws/in", false}, {out, "/ws/out", true}};
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    mg_sandbox_spec s = {.sandboxed = true, .limits = l, .binds = binds, .n_binds = 2, .env = env};
    const char *const argv[] = {"/bin/sh", "-c", script, NULL};
    char **v = mg_sandbox_argv(&s, argv);
    mg_exec_spec spec = {.argv = (const char *const *)v, .env = env, .timeout_ms = 20000};
    mg_exec_result r;
    mg_exec_run(&spec, &r);
    mg_sandbox_argv_free(v);
    free(in);
    free(out);
    free(secret);
    return r;
}

Test(sandbox_run, sees_only_its_binds, .init = setup_dir, .fini = teardown_dir)
{
    mg_build_limits l = mg_build_limits_default();
    char *script = mg_xasprintf(
        "pwd; test -e %s/secret && echo SEES-HOST; test -e /proc/self && echo SEES-PROC; "
        "test -e /etc/passwd && echo SEES-ETC; test -e /dev/tty && echo SEES-TTY; "
        "echo hi > out/f && echo WROTE-OUT; "
        "echo x > in/f 2>/dev/null && echo WROTE-IN; echo x > /ws/g 2>/dev/null && echo WROTE-WS; "
        "echo $HOME$MGD_SERVE_DATA",
        tmp_dir);
    mg_exec_result r = run_in_sandbox(script, &l);
    free(script);
    cr_assert_eq(r.exit_status, 0, "%s", r.output);
    cr_assert_not_null(strstr(r.output, "/ws\n"), "%s", r.output);
    cr_assert_not_null(strstr(r.output, "WROTE-OUT"), "%s", r.output);
    const char *const never[] = {"SEES-HOST", "SEES-PROC", "SEES-ETC",
                                 "SEES-TTY",  "WROTE-IN",  "WROTE-WS"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        cr_assert_null(strstr(r.output, never[i]), "%s", r.output);
    char *f = mg_path_join(tmp_dir, "out/f");
    cr_assert_eq(access(f, R_OK), 0, "the writable bind is the host folder");
    free(f);
    mg_exec_result_free(&r);
}

Test(sandbox_run, file_size_limit_is_hit_and_named, .init = setup_dir, .fini = teardown_dir)
{
    mg_build_limits l = {.file_size = 1u << 20};
    mg_exec_result r = run_in_sandbox("head -c 4000000 /dev/zero > out/big", &l);
    cr_assert_neq(r.exit_status, 0);
    cr_assert_eq(mg_limit_hit(&r), MG_LIMIT_FILE_SIZE, "status %d: %s", r.exit_status, r.output);
    mg_exec_result_free(&r);
}

Test(sandbox_run, cpu_limit_is_hit_and_named, .init = setup_dir, .fini = teardown_dir)
{
    mg_build_limits l = {.cpu_s = 1};
    mg_exec_result r = run_in_sandbox("exec sh -c 'while :; do :; done'", &l);
    cr_assert_eq(mg_limit_hit(&r), MG_LIMIT_CPU, "status %d: %s", r.exit_status, r.output);
    cr_assert_lt(r.duration_ms, 15000);
    mg_exec_result_free(&r);
}

Test(sandbox_run, no_network, .init = setup_dir, .fini = teardown_dir)
{
    /* a listener on the host's loopback: reachable from the host, not from
     * the sandbox's own network namespace */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no python3 to connect with");
    char *script = mg_xasprintf("python3 -c 'import socket; socket.create_connection("
                                "(\"127.0.0.1\", %d), 2)' 2>/dev/null && echo CONNECTED; echo done",
                                ntohs(a.sin_port));
    mg_build_limits l = mg_build_limits_default();
    mg_exec_result r = run_in_sandbox(script, &l);
    free(script);
    close(fd);
    cr_assert_eq(r.exit_status, 0, "%s", r.output);
    cr_assert_not_null(strstr(r.output, "done"), "%s", r.output);
    cr_assert_null(strstr(r.output, "CONNECTED"), "%s", r.output);
    mg_exec_result_free(&r);
}
