/*
 * The cache store: round trips, verification of what is read (corrupt
 * entries are reported, removed and can be stored again), atomic writes
 * (no temporary file left), persistent counters shared by threads and
 * processes, gc in least-recently-used order keeping what kept records
 * reference, and size parsing.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "toolchain/cache.h"
#include "base/fsutil.h"

static char root[64];
static mg_cache *cache;
static mg_err err;

/* What a call came to: MG_OK, or the code of its failure. */
static mg_err_code code_of(int rc, const mg_err *e)
{
    return rc == 0 ? MG_OK : e->code;
}

static void setup(void)
{
    strcpy(root, "/tmp/mgd-test-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    char dir[128];
    /* A directory that does not exist yet: open creates it and parents. */
    snprintf(dir, sizeof dir, "%s/a/b/cache", root);
    cache = mg_cache_open(dir, &err);
    cr_assert_not_null(cache, "open: %s", err.msg);
}

static void teardown(void)
{
    mg_cache_close(cache);
    mg_rm_rf(root);
}

TestSuite(cache, .init = setup, .fini = teardown);

/* A path under the cache directory. */
static char *cpath(const char *fmt, const char *arg)
{
    static char buf[4][512];
    static int next;
    char rel[256];
    snprintf(rel, sizeof rel, fmt, arg, arg);
    char *out = buf[next++ % 4];
    snprintf(out, 512, "%s/%s", mg_cache_path(cache), rel);
    return out;
}

static char *blob_file(const char *sha)
{
    return cpath("blobs/%.2s/%s", sha);
}

static char *record_file(const char *key)
{
    return cpath("records/%.2s/%s", key);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len)
{
    char *data = mg_file_read(path, 1 << 24, len);
    cr_assert_not_null(data, "%s", path);
    return data;
}

static size_t count_dir(const char *path)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* A key made from a short label (records are keyed by caller's hashes). */
static void key_of(const char *label, char key[MG_SHA256_HEX_SIZE])
{
    mg_sha256_bytes_hex(label, strlen(label), key);
}

/* Sets an entry's mtime to `ago` seconds before now. */
static void age(const char *path, time_t ago)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= ago;
    ts[1] = ts[0];
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "%s", path);
}

static time_t mtime_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return st.st_mtime;
}

/* ------------------------------------------------------------ round trips */

Test(cache, open_makes_layout_with_absolute_path)
{
    const char *p = mg_cache_path(cache);
    cr_assert_eq(p[0], '/');
    cr_assert(strstr(p, "/a/b/cache") != NULL);
    cr_assert(exists(cpath("blobs", "")));
    cr_assert(exists(cpath("records", "")));
    cr_assert(exists(cpath("tmp", "")));
}

Test(cache, open_fails_with_message)
{
    char file[128];
    snprintf(file, sizeof file, "%s/plain", root);
    write_file(file, "x", 1);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/sub", file);
    mg_err_clear(&err);
    cr_assert_null(mg_cache_open(dir, &err));
    cr_assert(strstr(err.msg, dir) != NULL, "message names the directory: %s", err.msg);
}

Test(cache, blob_bytes_round_trip)
{
    const char *data = "hello, blob\n";
    char sha[MG_SHA256_HEX_SIZE], want[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, data, strlen(data), sha, &err), 0, "%s", err.msg);
    mg_sha256_bytes_hex(data, strlen(data), want);
    cr_assert_str_eq(sha, want, "blobs are named by the sha256 of their content");
    cr_assert(exists(blob_file(sha)));

    char dest[128];
    snprintf(dest, sizeof dest, "%s/out.txt", root);
    cr_assert_eq(code_of(mg_cache_blob_get(cache, sha, dest, 0644, &err), &err), MG_OK, "%s",
                 err.msg);
    size_t len;
    char *got = read_file(dest, &len);
    cr_assert_eq(len, strlen(data));
    cr_assert_str_eq(got, data);
    free(got);
    struct stat st;
    cr_assert_eq(stat(dest, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);
}

Test(cache, blob_file_round_trip_with_mode_and_replace)
{
    char src[128], dest[128];
    snprintf(src, sizeof src, "%s/input.bin", root);
    snprintf(dest, sizeof dest, "%s/image", root);
    size_t n = 300000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)(i * 31 % 251);
    write_file(src, data, n);

    char sha[MG_SHA256_HEX_SIZE], want[MG_SHA256_HEX_SIZE];
    uint64_t size = 0;
    cr_assert_eq(mg_cache_blob_put(cache, src, sha, &size, &err), 0, "%s", err.msg);
    cr_assert_eq(size, n);
    cr_assert_eq(mg_sha256_file_hex(src, want, NULL), 0);
    cr_assert_str_eq(sha, want);
    /* Storing the same content again is fine and gives the same name. */
    char again[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put(cache, src, again, NULL, &err), 0, "%s", err.msg);
    cr_assert_str_eq(again, sha);

    write_file(dest, "old", 3); /* an existing file is replaced */
    cr_assert_eq(code_of(mg_cache_blob_get(cache, sha, dest, 0755, &err), &err), MG_OK, "%s",
                 err.msg);
    size_t len;
    char *got = read_file(dest, &len);
    cr_assert_eq(len, n);
    cr_assert(memcmp(got, data, n) == 0);
    struct stat st;
    cr_assert_eq(stat(dest, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0755, "mode is exactly what was asked");
    free(got);
    free(data);
    /* Nothing left next to dest but dest (and the source). */
    cr_assert_eq(count_dir(root), 3, "root holds a/, input.bin and image only");
}

Test(cache, blob_put_of_missing_file_fails)
{
    char sha[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put(cache, "/nonexistent/mgd/file", sha, NULL, &err), -1);
    cr_assert(strstr(err.msg, "/nonexistent/mgd/file") != NULL, "%s", err.msg);
}

Test(cache, blob_get_missing_and_bad_name)
{
    char dest[128], key[MG_SHA256_HEX_SIZE];
    snprintf(dest, sizeof dest, "%s/out", root);
    key_of("nothing", key);
    cr_assert_eq(code_of(mg_cache_blob_get(cache, key, dest, 0644, &err), &err), MG_E_NOT_FOUND);
    cr_assert_not(exists(dest));
    cr_assert_eq(code_of(mg_cache_blob_get(cache, "../../etc/passwd", dest, 0644, &err), &err),
                 MG_E_INVALID);
    cr_assert_not(exists(dest));
}

Test(cache, record_round_trip_and_replace)
{
    char key[MG_SHA256_HEX_SIZE], sha[MG_SHA256_HEX_SIZE];
    key_of("action 1", key);
    char *data;
    size_t len;
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_E_NOT_FOUND);
    cr_assert_null(data);

    cr_assert_eq(mg_cache_blob_put_bytes(cache, "obj", 3, sha, &err), 0, "%s", err.msg);
    const char *blobs[] = {sha};
    /* Payloads are bytes: embedded NULs and newlines survive. */
    const char payload[] = "{\"outputs\":1}\n\0tail";
    cr_assert_eq(mg_cache_record_put(cache, key, payload, sizeof payload, blobs, 1, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_OK);
    cr_assert_eq(len, sizeof payload);
    cr_assert(memcmp(data, payload, len) == 0);
    cr_assert_eq(data[len], '\0', "an extra NUL after the payload");
    free(data);

    cr_assert_eq(mg_cache_record_put(cache, key, "v2", 2, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_OK);
    cr_assert_eq(len, 2);
    cr_assert_str_eq(data, "v2");
    free(data);

    /* An empty payload is a valid record. */
    cr_assert_eq(mg_cache_record_put(cache, key, "", 0, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_OK);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(data, "");
    free(data);
}

Test(cache, record_rejects_bad_key_and_missing_blob)
{
    char *data;
    size_t len;
    cr_assert_eq(code_of(mg_cache_record_get(cache, "ABC", &data, &len, &err), &err), MG_E_INVALID);
    cr_assert_eq(mg_cache_record_put(cache, "../x", "a", 1, NULL, 0, &err), -1);

    char key[MG_SHA256_HEX_SIZE], ghost[MG_SHA256_HEX_SIZE];
    key_of("k", key);
    key_of("a blob never stored", ghost);
    const char *blobs[] = {ghost};
    cr_assert_eq(mg_cache_record_put(cache, key, "a", 1, blobs, 1, &err), -1);
    cr_assert(strstr(err.msg, ghost) != NULL, "the message names the blob: %s", err.msg);
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_E_NOT_FOUND);
}

/* ---------------------------------------------------------- verification */

Test(cache, blob_with_flipped_byte_is_corrupt_removed_and_put_again)
{
    const char *content = "the original content of an object file";
    char sha[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, content, strlen(content), sha, &err), 0);
    char *path = blob_file(sha);
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "X", 1, 5), 1);
    close(fd);

    char dest[128];
    snprintf(dest, sizeof dest, "%s/out.o", root);
    cr_assert_eq(code_of(mg_cache_blob_get(cache, sha, dest, 0644, &err), &err), MG_E_CORRUPT);
    cr_assert(strstr(err.msg, sha) != NULL, "%s", err.msg);
    cr_assert_not(exists(dest), "nothing corrupt reaches the destination");
    cr_assert_not(exists(path), "the corrupt blob is removed");
    cr_assert_eq(count_dir(root), 1, "no temporary file next to dest");
    cr_assert_eq(code_of(mg_cache_blob_get(cache, sha, dest, 0644, &err), &err), MG_E_NOT_FOUND);

    char again[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, content, strlen(content), again, &err), 0);
    cr_assert_str_eq(again, sha);
    cr_assert_eq(code_of(mg_cache_blob_get(cache, sha, dest, 0644, &err), &err), MG_OK, "%s",
                 err.msg);
}

Test(cache, put_heals_a_blob_of_the_wrong_size)
{
    char sha[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "0123456789", 10, sha, &err), 0);
    cr_assert_eq(truncate(blob_file(sha), 4), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "0123456789", 10, sha, &err), 0);
    struct stat st;
    cr_assert_eq(stat(blob_file(sha), &st), 0);
    cr_assert_eq(st.st_size, 10);
}

static void expect_record_corrupt_then_reusable(const char *key)
{
    char *data;
    size_t len;
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_E_CORRUPT);
    cr_assert_null(data);
    cr_assert_not(exists(record_file(key)), "the corrupt record is removed");
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_E_NOT_FOUND);
    cr_assert_eq(mg_cache_record_put(cache, key, "fresh", 5, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(code_of(mg_cache_record_get(cache, key, &data, &len, &err), &err), MG_OK);
    cr_assert_str_eq(data, "fresh");
    free(data);
}

Test(cache, truncated_record_is_corrupt_removed_and_put_again)
{
    char key[MG_SHA256_HEX_SIZE];
    key_of("truncated", key);
    const char *payload = "an action entry that will lose its tail";
    cr_assert_eq(mg_cache_record_put(cache, key, payload, strlen(payload), NULL, 0, &err), 0);
    struct stat st;
    cr_assert_eq(stat(record_file(key), &st), 0);
    cr_assert_eq(truncate(record_file(key), st.st_size - 3), 0);
    expect_record_corrupt_then_reusable(key);
}

Test(cache, record_with_changed_or_extra_bytes_is_corrupt)
{
    char key[MG_SHA256_HEX_SIZE], sha[MG_SHA256_HEX_SIZE];
    key_of("changed", key);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "b", 1, sha, &err), 0);
    const char *blobs[] = {sha};
    cr_assert_eq(mg_cache_record_put(cache, key, "payload", 7, blobs, 1, &err), 0);
    /* One byte of the payload flipped (same length). */
    int fd = open(record_file(key), O_RDWR);
    cr_assert(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    cr_assert_eq(pwrite(fd, "P", 1, st.st_size - 7), 1);
    close(fd);
    expect_record_corrupt_then_reusable(key);

    /* Bytes appended. */
    cr_assert_eq(mg_cache_record_put(cache, key, "payload", 7, blobs, 1, &err), 0);
    FILE *f = fopen(record_file(key), "ab");
    fputs("more", f);
    fclose(f);
    expect_record_corrupt_then_reusable(key);

    /* Garbage instead of a record. */
    write_file(record_file(key), "not a record", 12);
    expect_record_corrupt_then_reusable(key);
}

Test(cache, puts_leave_no_temporary_file)
{
    char sha[MG_SHA256_HEX_SIZE], key[MG_SHA256_HEX_SIZE], src[128];
    snprintf(src, sizeof src, "%s/src", root);
    write_file(src, "file content", 12);
    for (int i = 0; i < 20; i++) {
        char label[32];
        snprintf(label, sizeof label, "entry %d", i);
        cr_assert_eq(mg_cache_blob_put_bytes(cache, label, strlen(label), sha, &err), 0);
        cr_assert_eq(mg_cache_blob_put(cache, src, sha, NULL, &err), 0);
        key_of(label, key);
        const char *blobs[] = {sha};
        cr_assert_eq(mg_cache_record_put(cache, key, label, strlen(label), blobs, 1, &err), 0);
    }
    mg_cache_count(cache, 1, 2, 0, 3, 4);
    cr_assert_eq(count_dir(cpath("tmp", "")), 0, "tmp/ is empty after puts");
    mg_cache_stats s;
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.records, 20);
    cr_assert_eq(s.blobs, 21);
}

Test(cache, mkdtemp_gives_private_dirs_in_the_cache)
{
    char *a = mg_cache_mkdtemp(cache, "build-", &err);
    char *b = mg_cache_mkdtemp(cache, "build-", &err);
    cr_assert_not_null(a, "%s", err.msg);
    cr_assert_not_null(b, "%s", err.msg);
    cr_assert_str_neq(a, b);
    cr_assert_eq(a[0], '/');
    cr_assert_eq(strncmp(a, mg_cache_path(cache), strlen(mg_cache_path(cache))), 0);
    cr_assert(strstr(a, "/tmp/build-") != NULL, "%s", a);
    struct stat st;
    cr_assert_eq(stat(a, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_null(mg_cache_mkdtemp(cache, "../escape", &err));
    free(a);
    free(b);
}

/* -------------------------------------------------------------- counters */

typedef struct counter_job {
    const char *dir;
    int rounds;
} counter_job;

static void *count_thread(void *arg)
{
    counter_job *job = arg;
    /* Threads share one handle, as the build workers do. */
    for (int i = 0; i < job->rounds; i++) mg_cache_count(cache, 1, 2, 0, 5, 7);
    return NULL;
}

Test(cache, counters_persist_and_add_up_from_threads)
{
    mg_cache_count(cache, 1, 0, 1, 0, 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", mg_cache_path(cache));
    mg_cache_close(cache);
    cache = mg_cache_open(dir, &err);
    cr_assert_not_null(cache);
    mg_cache_stats s;
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.hits, 1, "counters survive close and open");
    cr_assert_eq(s.corrupt, 1);

    pthread_t t[4];
    counter_job job = {dir, 50};
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&t[i], NULL, count_thread, &job), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);

    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.hits, 1 + 200);
    cr_assert_eq(s.misses, 400);
    cr_assert_eq(s.corrupt, 1);
    cr_assert_eq(s.saved_ms, 1000);
    cr_assert_eq(s.executed_ms, 1400);
}

Test(cache, counters_add_up_from_processes)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", mg_cache_path(cache));
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        cr_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            /* Each process opens its own handle. */
            mg_cache *own = mg_cache_open(dir, NULL);
            if (!own) _exit(1);
            for (int i = 0; i < 40; i++) mg_cache_count(own, 1, 0, 0, 0, 1);
            mg_cache_close(own);
            _exit(0);
        }
    }
    for (int i = 0; i < 40; i++) mg_cache_count(cache, 1, 0, 0, 0, 1);
    for (int k = 0; k < 3; k++) {
        int status;
        cr_assert_eq(waitpid(kids[k], &status, 0), kids[k]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    mg_cache_stats s;
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.hits, 160);
    cr_assert_eq(s.executed_ms, 160);
}

Test(cache, stats_count_what_is_stored)
{
    char sha[MG_SHA256_HEX_SIZE], key[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "12345", 5, sha, &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "1234567", 7, sha, &err), 0);
    key_of("r", key);
    const char *blobs[] = {sha};
    cr_assert_eq(mg_cache_record_put(cache, key, "xy", 2, blobs, 1, &err), 0);
    struct stat st;
    cr_assert_eq(stat(record_file(key), &st), 0);
    mg_cache_stats s;
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.blobs, 2);
    cr_assert_eq(s.records, 1);
    cr_assert_eq(s.bytes, 5 + 7 + (uint64_t)st.st_size);
    cr_assert_eq(s.hits, 0, "a new cache has no counts");
}

/* ------------------------------------------------------------ concurrency */

enum { WORKERS = 4, ROUNDS = 40 };

typedef struct worker {
    int index;
    int put_failures; /* record puts refused because gc removed a blob first */
    int errors;       /* anything else going wrong */
    char keys[ROUNDS][MG_SHA256_HEX_SIZE];
} worker;

static atomic_bool gc_running;

/* What a build worker does: store outputs, then the entry naming them;
 * read entries back and restore their outputs. */
static void *worker_thread(void *arg)
{
    worker *w = arg;
    char shared[MG_SHA256_HEX_SIZE], own[MG_SHA256_HEX_SIZE], dest[128];
    snprintf(dest, sizeof dest, "%s/out-%d", root, w->index);
    for (int i = 0; i < ROUNDS; i++) {
        mg_err e;
        char label[64];
        snprintf(label, sizeof label, "worker %d round %d", w->index, i);
        if (mg_cache_blob_put_bytes(cache, "common output", 13, shared, &e) != 0 ||
            mg_cache_blob_put_bytes(cache, label, strlen(label), own, &e) != 0) {
            w->errors++;
            continue;
        }
        key_of(label, w->keys[i]);
        const char *blobs[] = {shared, own};
        char payload[2 * MG_SHA256_HEX_SIZE];
        snprintf(payload, sizeof payload, "%s %s", shared, own);
        if (mg_cache_record_put(cache, w->keys[i], payload, strlen(payload), blobs, 2, &e) != 0) {
            if (e.code == MG_E_NOT_FOUND)
                w->put_failures++;
            else
                w->errors++;
            continue;
        }
        char *data;
        size_t len;
        if (mg_cache_record_get(cache, w->keys[i], &data, &len, &e) == 0) {
            if (strcmp(data, payload) != 0) w->errors++;
            free(data);
        } else if (e.code != MG_E_NOT_FOUND || !atomic_load(&gc_running)) {
            w->errors++;
        }
        if (mg_cache_blob_get(cache, shared, dest, 0644, &e) != 0 &&
            (e.code != MG_E_NOT_FOUND || !atomic_load(&gc_running)))
            w->errors++;
    }
    return NULL;
}

static void *gc_thread(void *arg)
{
    atomic_bool *stop = arg;
    while (!atomic_load(stop)) {
        mg_cache_gc(cache, 20000, NULL, NULL);
        /* Not back to back: gc excludes writers while it runs. */
        struct timespec pause = {0, 2 * 1000000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* Threads storing and reading the same names at once (with or without gc
 * running beside them): nothing fails but what the contract allows, and no
 * stored record ever names a blob that is gone. */
static void run_workers(bool with_gc)
{
    worker w[WORKERS];
    pthread_t t[WORKERS], g;
    atomic_bool stop = false;
    atomic_store(&gc_running, with_gc);
    memset(w, 0, sizeof w);
    if (with_gc) cr_assert_eq(pthread_create(&g, NULL, gc_thread, &stop), 0);
    for (int i = 0; i < WORKERS; i++) {
        w[i].index = i;
        cr_assert_eq(pthread_create(&t[i], NULL, worker_thread, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    atomic_store(&stop, true);
    if (with_gc) pthread_join(g, NULL);

    int stored = 0;
    for (int i = 0; i < WORKERS; i++) {
        cr_assert_eq(w[i].errors, 0, "worker %d", i);
        if (!with_gc) cr_assert_eq(w[i].put_failures, 0);
        for (int k = 0; k < ROUNDS; k++) {
            char *data;
            size_t len;
            if (!w[i].keys[k][0] ||
                code_of(mg_cache_record_get(cache, w[i].keys[k], &data, &len, &err), &err) != MG_OK)
                continue;
            stored++;
            char dest[128];
            snprintf(dest, sizeof dest, "%s/check", root);
            data[64] = '\0';
            cr_assert_eq(code_of(mg_cache_blob_get(cache, data, dest, 0644, &err), &err), MG_OK,
                         "%s", err.msg);
            cr_assert_eq(code_of(mg_cache_blob_get(cache, data + 65, dest, 0644, &err), &err),
                         MG_OK, "%s", err.msg);
            free(data);
        }
    }
    if (!with_gc) cr_assert_eq(stored, WORKERS * ROUNDS);
    cr_assert_gt(stored, 0);
    cr_assert_eq(count_dir(cpath("tmp", "")), 0, "no temporary file left");
}

Test(cache, threads_share_one_handle)
{
    run_workers(false);
}

Test(cache, gc_beside_writers_leaves_no_dangling_record)
{
    run_workers(true);
}

/* -------------------------------------------------------------------- gc */

typedef struct gc_fixture {
    char key[3][MG_SHA256_HEX_SIZE];
    char blob[3][MG_SHA256_HEX_SIZE];
    char shared[MG_SHA256_HEX_SIZE];
    char loose[MG_SHA256_HEX_SIZE];
    uint64_t record_size;
} gc_fixture;

/* Three records, each with its own 1000-byte blob, all sharing a 500-byte
 * blob; plus a 300-byte blob nothing references. Record 0 is the least
 * recently used, record 2 the most. */
static void gc_setup(gc_fixture *fx)
{
    char big[1000], shared[500], loose[300];
    memset(shared, 's', sizeof shared);
    memset(loose, 'l', sizeof loose);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, shared, sizeof shared, fx->shared, &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, loose, sizeof loose, fx->loose, &err), 0);
    for (int i = 0; i < 3; i++) {
        memset(big, 'a' + i, sizeof big);
        cr_assert_eq(mg_cache_blob_put_bytes(cache, big, sizeof big, fx->blob[i], &err), 0);
        char label[16];
        snprintf(label, sizeof label, "record %c", (char)('0' + i));
        key_of(label, fx->key[i]);
        const char *blobs[] = {fx->blob[i], fx->shared};
        cr_assert_eq(mg_cache_record_put(cache, fx->key[i], "payload", 7, blobs, 2, &err), 0, "%s",
                     err.msg);
        age(record_file(fx->key[i]), 1000 - 100 * i);
    }
    struct stat st;
    cr_assert_eq(stat(record_file(fx->key[0]), &st), 0);
    fx->record_size = (uint64_t)st.st_size;
}

Test(cache, gc_evicts_least_recently_used_and_keeps_referenced_blobs)
{
    gc_fixture fx;
    gc_setup(&fx);
    /* Room for records 2 and 1 with their blobs, the shared one counted once. */
    uint64_t two = 2 * (fx.record_size + 1000) + 500;
    uint64_t all = 3 * (fx.record_size + 1000) + 500 + 300;
    mg_cache_gc_result res;
    cr_assert_eq(mg_cache_gc(cache, two + 10, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.bytes_before, all);
    cr_assert_eq(res.bytes_after, two);
    cr_assert_eq(res.records_removed, 1);
    cr_assert_eq(res.blobs_removed, 2, "record 0's blob and the unreferenced one");

    cr_assert_not(exists(record_file(fx.key[0])));
    cr_assert_not(exists(blob_file(fx.blob[0])));
    cr_assert_not(exists(blob_file(fx.loose)));
    cr_assert(exists(record_file(fx.key[1])));
    cr_assert(exists(record_file(fx.key[2])));
    cr_assert(exists(blob_file(fx.blob[1])));
    cr_assert(exists(blob_file(fx.blob[2])));
    cr_assert(exists(blob_file(fx.shared)), "kept records still reference it");

    mg_cache_stats s;
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.bytes, two);
    cr_assert_eq(s.records, 2);
    cr_assert_eq(s.blobs, 3);
}

Test(cache, gc_order_follows_reads)
{
    gc_fixture fx;
    gc_setup(&fx);
    /* Reading record 0 makes it the most recently used. */
    time_t before = mtime_of(record_file(fx.key[0]));
    char *data;
    size_t len;
    cr_assert_eq(code_of(mg_cache_record_get(cache, fx.key[0], &data, &len, &err), &err), MG_OK);
    free(data);
    cr_assert_gt(mtime_of(record_file(fx.key[0])), before, "a read updates the mtime");

    uint64_t one = fx.record_size + 1000 + 500;
    mg_cache_gc_result res;
    cr_assert_eq(mg_cache_gc(cache, one, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.records_removed, 2);
    cr_assert_eq(res.bytes_after, one);
    cr_assert(exists(record_file(fx.key[0])));
    cr_assert(exists(blob_file(fx.blob[0])));
    cr_assert(exists(blob_file(fx.shared)));
    cr_assert_not(exists(record_file(fx.key[1])));
    cr_assert_not(exists(record_file(fx.key[2])));
    cr_assert_not(exists(blob_file(fx.blob[2])));

    /* What is kept still reads back. */
    char dest[128];
    snprintf(dest, sizeof dest, "%s/obj", root);
    cr_assert_eq(code_of(mg_cache_blob_get(cache, fx.blob[0], dest, 0644, &err), &err), MG_OK);
}

Test(cache, gc_is_strictly_lru_and_zero_empties)
{
    gc_fixture fx;
    gc_setup(&fx);
    /* Less than the newest record needs: nothing older is kept in its place. */
    mg_cache_gc_result res;
    cr_assert_eq(mg_cache_gc(cache, fx.record_size + 1000, &res, &err), 0);
    cr_assert_eq(res.records_removed, 3);
    cr_assert_eq(res.blobs_removed, 5);
    cr_assert_eq(res.bytes_after, 0);

    gc_setup(&fx);
    cr_assert_eq(mg_cache_gc(cache, 0, &res, &err), 0);
    cr_assert_eq(res.bytes_after, 0);
    mg_cache_stats s;
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.records + s.blobs + s.bytes, 0);

    /* Large enough: only the unreferenced blob goes. */
    gc_setup(&fx);
    cr_assert_eq(mg_cache_gc(cache, UINT64_MAX, NULL, &err), 0, "res may be NULL");
    cr_assert_eq(mg_cache_stats_get(cache, &s, &err), 0);
    cr_assert_eq(s.records, 3);
    cr_assert_eq(s.blobs, 4);
    cr_assert_not(exists(blob_file(fx.loose)));
}

/* Strictly least recently used when sizes differ too: a newer record that
 * does not fit is not replaced by an older, smaller one that would (a
 * mutant that went on to older records survived the test above, whose
 * records are all one size). */
Test(cache, gc_keeps_no_older_record_in_the_room_of_a_newer_one)
{
    char small[100], large[5000], blob[2][MG_SHA256_HEX_SIZE], key[2][MG_SHA256_HEX_SIZE];
    memset(small, 'o', sizeof small);
    memset(large, 'n', sizeof large);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, small, sizeof small, blob[0], &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, large, sizeof large, blob[1], &err), 0);
    for (int i = 0; i < 2; i++) {
        key_of(i ? "newer, large" : "older, small", key[i]);
        const char *blobs[] = {blob[i]};
        cr_assert_eq(mg_cache_record_put(cache, key[i], "payload", 7, blobs, 1, &err), 0, "%s",
                     err.msg);
        age(record_file(key[i]), 1000 - 100 * i);
    }
    struct stat st;
    cr_assert_eq(stat(record_file(key[0]), &st), 0);
    /* room for the older record and its blob, not for the newer one's */
    mg_cache_gc_result res;
    cr_assert_eq(mg_cache_gc(cache, (uint64_t)st.st_size + sizeof small + 100, &res, &err), 0);
    cr_assert_not(exists(record_file(key[0])), "the older record took the newer one's place");
    cr_assert_not(exists(record_file(key[1])));
    cr_assert_eq(res.records_removed, 2);
    cr_assert_eq(res.bytes_after, 0);
}

Test(cache, gc_removes_corrupt_and_dangling_records)
{
    gc_fixture fx;
    gc_setup(&fx);
    cr_assert_eq(truncate(record_file(fx.key[2]), 10), 0);
    cr_assert_eq(unlink(blob_file(fx.blob[1])), 0);
    mg_cache_gc_result res;
    cr_assert_eq(mg_cache_gc(cache, UINT64_MAX, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.records_removed, 2, "the corrupt one and the one whose blob is gone");
    cr_assert_not(exists(record_file(fx.key[2])));
    cr_assert_not(exists(record_file(fx.key[1])));
    cr_assert(exists(record_file(fx.key[0])));
    cr_assert_not(exists(blob_file(fx.blob[2])), "only the corrupt record referenced it");
}

Test(cache, gc_removes_old_temporaries_only)
{
    char *old_dir = mg_cache_mkdtemp(cache, "old-", &err);
    char *new_dir = mg_cache_mkdtemp(cache, "new-", &err);
    cr_assert_not_null(old_dir);
    cr_assert_not_null(new_dir);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/x.o", old_dir);
    write_file(inner, "x", 1);
    age(old_dir, 2 * 3600);
    char *old_file = cpath("tmp/put-stale%s", "");
    write_file(old_file, "half", 4);
    age(old_file, 3601 + 60);
    char *new_file = cpath("tmp/put-fresh%s", "");
    write_file(new_file, "busy", 4);

    cr_assert_eq(mg_cache_gc(cache, UINT64_MAX, NULL, &err), 0, "%s", err.msg);
    cr_assert_not(exists(old_dir));
    cr_assert_not(exists(old_file));
    cr_assert(exists(new_dir), "may belong to a running build");
    cr_assert(exists(new_file));
    free(old_dir);
    free(new_dir);
}

/* ------------------------------------------------------- releasing blobs */

Test(cache, release_removes_only_the_blobs_no_record_references)
{
    char free1[MG_SHA256_HEX_SIZE], free2[MG_SHA256_HEX_SIZE], named[MG_SHA256_HEX_SIZE],
        other[MG_SHA256_HEX_SIZE], key[MG_SHA256_HEX_SIZE], absent[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "first", 5, free1, &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "second!", 7, free2, &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "named", 5, named, &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "not asked", 9, other, &err), 0);
    key_of("an action", key);
    const char *refs[] = {named};
    cr_assert_eq(mg_cache_record_put(cache, key, "x", 1, refs, 1, &err), 0, "%s", err.msg);
    key_of("never stored", absent);
    /* a name twice counts once; one not stored is skipped */
    char *asked[] = {free1, named, free2, free1, absent, named};
    mg_cache_release_result res;
    cr_assert_eq(mg_cache_blobs_release(cache, asked, 6, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.blobs_removed, 2);
    cr_assert_eq(res.bytes_removed, 5 + 7);
    cr_assert_eq(res.kept, 1);
    cr_assert_not(exists(blob_file(free1)));
    cr_assert_not(exists(blob_file(free2)));
    cr_assert(exists(blob_file(named)), "a record names it");
    cr_assert(exists(blob_file(other)), "not asked for, even unreferenced");
    cr_assert(exists(record_file(key)));
    /* nothing asked, nothing done; a bad name is refused before anything */
    cr_assert_eq(mg_cache_blobs_release(cache, NULL, 0, &res, &err), 0);
    cr_assert_eq(res.blobs_removed, 0);
    char *bad[] = {other, "../../etc/passwd"};
    cr_assert_eq(code_of(mg_cache_blobs_release(cache, bad, 2, &res, &err), &err), MG_E_INVALID);
    cr_assert(exists(blob_file(other)));
}

Test(cache, release_ignores_corrupt_records)
{
    char sha[MG_SHA256_HEX_SIZE], key[MG_SHA256_HEX_SIZE];
    cr_assert_eq(mg_cache_blob_put_bytes(cache, "image", 5, sha, &err), 0);
    key_of("record", key);
    const char *refs[] = {sha};
    cr_assert_eq(mg_cache_record_put(cache, key, "x", 1, refs, 1, &err), 0);
    /* a record whose bytes changed names nothing any more */
    size_t len;
    char *data = read_file(record_file(key), &len);
    data[len - 1] ^= 1;
    write_file(record_file(key), data, len);
    free(data);
    char *asked[] = {sha};
    mg_cache_release_result res;
    cr_assert_eq(mg_cache_blobs_release(cache, asked, 1, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.blobs_removed, 1);
    cr_assert_not(exists(blob_file(sha)));
}

/* ------------------------------------------------------------------ sizes */

Test(cache, size_parse)
{
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {
        {"0", 0},
        {"1024", 1024},
        {"10k", 10240},
        {"10K", 10240},
        {"10KB", 10240},
        {"10KiB", 10240},
        {"10kib", 10240},
        {"500M", 500ull << 20},
        {"500MB", 500ull << 20},
        {"2G", 2ull << 30},
        {"2GiB", 2ull << 30},
        {"3T", 3ull << 40},
        {"64b", 64},
        {"64B", 64},
        {"18446744073709551615", UINT64_MAX},
        {"16777215T", 16777215ull << 40},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uint64_t v = 1;
        cr_assert_eq(mg_size_parse(ok[i].text, &v), 0, "%s", ok[i].text);
        cr_assert_eq(v, ok[i].want, "%s", ok[i].text);
    }
    static const char *const bad[] = {
        "",
        "M",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.5G",
        "1X",
        "1iB",
        "1GiBB",
        "1Gi",
        "0x10",
        "18446744073709551616",
        "16777216T",
        "1KK",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t v = 7;
        cr_assert_eq(mg_size_parse(bad[i], &v), -1, "'%s' should be rejected", bad[i]);
        cr_assert_eq(v, 7, "nothing written on error");
    }
    cr_assert_eq(mg_size_parse(NULL, NULL), -1);
}
