/*
 * daemon/daemon.h: the composition root. It starts the whole daemon on a
 * fresh data directory (port 0, unsandboxed so that the test needs no
 * bubblewrap), the API answers /health over a plain socket, and it stops;
 * it starts again on the same directory (lock released, database kept, no
 * second admin token); and it refuses cleanly, with an mg_err and nothing
 * left held, a directory another daemon serves, a directory that cannot be
 * created and a damaged database.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "daemon/daemon.h"

static char base[64];
static char data[128];

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/mgd-daemon-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(data, sizeof data, "%s/data", base);
}

static void teardown(void)
{
    mg_rm_rf(base);
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 60);

static mg_daemon_options options(const char *dir)
{
    return (mg_daemon_options){
        .host = "127.0.0.1",
        .port = 0,
        .data_dir = dir,
        .workers = 1,
        .jobs = 1,
        .limits = mg_build_limits_default(),
        .no_sandbox = true,
        .local_repos = true,
        .version = "test",
    };
}

/* GET `path` on 127.0.0.1:port; the whole answer (malloc'd). */
static char *http_get(uint16_t port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect to port %u",
                 (unsigned)port);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                     path);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(fd);
    return buf;
}

static char *admin_token(void)
{
    char path[192];
    snprintf(path, sizeof path, "%s/admin.token", data);
    size_t len;
    return mg_file_read(path, 4096, &len);
}

Test(daemon, starts_answers_stops_and_starts_again_on_the_same_data)
{
    mg_daemon_options o = options(data);
    mg_err e = {0};
    mg_daemon *d = mg_daemon_start(&o, &e);
    cr_assert_not_null(d, "%s", e.msg);
    cr_assert_neq(mg_daemon_port(d), 0, "port 0 became a real port");
    char *real = realpath(data, NULL);
    cr_assert_str_eq(mg_daemon_data_dir(d), real);
    free(real);
    char *answer = http_get(mg_daemon_port(d), "/health");
    cr_assert(strstr(answer, "HTTP/1.1 200"), "%s", answer);
    cr_assert(strstr(answer, "\"status\":\"ok\""), "%s", answer);
    cr_assert(strstr(answer, "\"version\":\"test\""), "%s", answer);
    free(answer);
    char *token = admin_token();
    cr_assert_not_null(token, "a fresh database gets an admin token");
    mg_daemon_stop(d);

    /* the lock is released and the database kept: no second token */
    d = mg_daemon_start(&o, &e);
    cr_assert_not_null(d, "%s", e.msg);
    answer = http_get(mg_daemon_port(d), "/health");
    cr_assert(strstr(answer, "HTTP/1.1 200"), "%s", answer);
    free(answer);
    char *again = admin_token();
    cr_assert_str_eq(again, token);
    free(again);
    free(token);
    mg_daemon_stop(d);
}

Test(daemon, a_data_directory_served_already_is_refused)
{
    mg_daemon_options o = options(data);
    mg_err e = {0};
    mg_daemon *first = mg_daemon_start(&o, &e);
    cr_assert_not_null(first, "%s", e.msg);
    cr_assert_null(mg_daemon_start(&o, &e));
    cr_assert_eq(e.code, MG_E_BUSY, "%s", e.msg);
    cr_assert(strstr(e.msg, "another mgd is serving this data directory"), "%s", e.msg);
    /* the refused start touched nothing of the first */
    char *answer = http_get(mg_daemon_port(first), "/health");
    cr_assert(strstr(answer, "HTTP/1.1 200"), "%s", answer);
    free(answer);
    mg_daemon_stop(first);
}

Test(daemon, a_data_directory_that_cannot_be_created_is_an_error)
{
    char file[192], below[256];
    snprintf(file, sizeof file, "%s/a-file", base);
    cr_assert_eq(mg_file_write_atomic(file, "x", 1, 0644), 0);
    snprintf(below, sizeof below, "%s/data", file);
    mg_daemon_options o = options(below);
    mg_err e = {0};
    cr_assert_null(mg_daemon_start(&o, &e));
    cr_assert_eq(e.code, MG_E_IO, "%s", e.msg);
    cr_assert(strstr(e.msg, "cannot create"), "%s", e.msg);
    cr_assert(strstr(e.msg, below), "the message names the directory: %s", e.msg);
}

Test(daemon, a_damaged_database_is_refused_and_releases_the_directory)
{
    cr_assert_eq(mg_mkdir_p(data), 0);
    char db[192];
    snprintf(db, sizeof db, "%s/mgd.sqlite3", data);
    static const char junk[] = "this is not an SQLite database, not even its header..........";
    cr_assert_eq(mg_file_write_atomic(db, junk, sizeof junk, 0644), 0);
    mg_daemon_options o = options(data);
    mg_err e = {0};
    cr_assert_null(mg_daemon_start(&o, &e));
    cr_assert_neq(e.code, MG_OK);
    cr_assert(strstr(e.msg, "database"), "%s", e.msg);
    cr_assert(strstr(e.msg, db), "the message names the file: %s", e.msg);
    /* nothing is held after the failed start: a good database starts */
    cr_assert_eq(unlink(db), 0);
    mg_daemon *d = mg_daemon_start(&o, &e);
    cr_assert_not_null(d, "%s", e.msg);
    mg_daemon_stop(d);
}
