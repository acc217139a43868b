/*
 * cmd_builds.c - builds: `mgctl build`, `rebuild`, `builds`, `status`,
 * `log`, `image`, `cancel`, `pin`, `unpin`.
 *
 * `build --wait` is what CI relies on: the exit status alone says how the
 * build ended (0 succeeded, 1 failed, 3 cancelled or interrupted, 2 when
 * mgctl could not find out). `--follow` writes the log as it grows (on
 * stdout, or on stderr with --json so that stdout stays one JSON
 * document) and implies --wait; so does `-o FILE`, which downloads the
 * image and checks its size and sha256 against the build's before putting
 * it in place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/commands.h"
#include "client/follow.h"
#include "client/table.h"
#include "base/sha256.h"

static bool terminal(const char *status)
{
    return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "cancelled") == 0 || strcmp(status, "interrupted") == 0);
}

static int exit_for(const char *status)
{
    if (!status) return MG_EXIT_USAGE;
    if (strcmp(status, "succeeded") == 0) return MG_EXIT_OK;
    if (strcmp(status, "failed") == 0) return MG_EXIT_FAILED;
    if (strcmp(status, "cancelled") == 0 || strcmp(status, "interrupted") == 0)
        return MG_EXIT_CANCELLED;
    return MG_EXIT_USAGE;
}

/* The build id of the command line: a positive decimal number. */
static int build_arg(mg_ctl *c, long long *id)
{
    const char *s = c->args->positional[0];
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1 || s[0] == '+' || s[0] == ' ')
        return mg_ctl_fail(c, "%s: '%s' is not a build id (a number, as `mgctl builds` lists)",
                           c->command, s);
    *id = v;
    return 0;
}

static int get_build(mg_ctl *c, long long id, mg_rest_response *resp, cJSON **b)
{
    mg_buf path = {0};
    mg_ctl_path(&path, "/builds/%d", id);
    int rc = mg_ctl_call(c, "GET", mg_buf_str(&path), NULL, resp, b);
    mg_buf_free(&path);
    return rc;
}

/* ---- images ------------------------------------------------------------ */

typedef struct download {
    mg_sha256 sha;
    FILE *f;
    long long size;
    bool write_failed;
} download;

static int download_sink(void *arg, const char *data, size_t len)
{
    download *d = arg;
    mg_sha256_update(&d->sha, data, len);
    d->size += (long long)len;
    if (fwrite(data, 1, len, d->f) != len) {
        d->write_failed = true;
        return 1;
    }
    return 0;
}

/* A file name for the image in the current directory: the image's name
 * when it is a plain one, else build-ID.img. */
static void default_name(const char *name, long long id, char *out, size_t size)
{
    /* not hidden, not "-" (stdout) or an option-like name */
    bool plain = name && *name && name[0] != '.' && name[0] != '-' && strlen(name) < 200;
    for (const char *p = name; plain && *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20) plain = false;
    if (plain)
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "build-%lld.img", id);
}

/* Downloads the image of the succeeded build `b` into `dest` (NULL: the
 * default name; "-": stdout), checking size and sha256. Prints one line
 * about it on `notes` (unless NULL). Returns 0 or an exit status. */
static int save_image(mg_ctl *c, const cJSON *b, const char *dest, FILE *notes, cJSON *json_out)
{
    long long id = mg_json_int(b, "id", 0);
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(b, "image");
    const char *want = mg_json_str(img, "sha256");
    long long want_size = mg_json_int(img, "size", -1);
    if (!cJSON_IsObject(img) || !want)
        return mg_ctl_fail(c, "build %lld has no image (it is %s)", id,
                           mg_json_str(b, "status") ? mg_json_str(b, "status") : "?");
    char name[256];
    if (!dest) {
        default_name(mg_json_str(img, "name"), id, name, sizeof name);
        dest = name;
    }
    mg_err err;
    mg_outfile out;
    if (mg_outfile_open(&out, dest, &err) != 0) return mg_ctl_fail(c, "%s", err.msg);
    download d = {.f = out.f};
    mg_sha256_init(&d.sha);
    mg_buf path = {0};
    mg_ctl_path(&path, "/builds/%d/image", id);
    mg_rest_response resp;
    int rc =
        mg_rest_stream(&c->rest, mg_buf_str(&path), NULL, NULL, download_sink, &d, &resp, &err);
    mg_buf_free(&path);
    int status = 0;
    if (d.write_failed) {
        status = mg_ctl_fail(c, "cannot write %s: %s", dest, strerror(errno));
    } else if (rc < 0) {
        status = mg_ctl_fail(c, "downloading the image of build %lld: %s", id, err.msg);
    } else if (resp.status != 200) {
        status = mg_ctl_api_error(c, &resp);
        if (status == MG_EXIT_FAILED) status = MG_EXIT_USAGE;
    }
    mg_rest_response_free(&resp);
    if (status) {
        mg_outfile_abort(&out);
        return status;
    }
    unsigned char digest[MG_SHA256_SIZE];
    char got[MG_SHA256_HEX_SIZE];
    mg_sha256_final(&d.sha, digest);
    mg_sha256_hex(digest, got);
    if (strcmp(got, want) != 0 || (want_size >= 0 && d.size != want_size)) {
        mg_outfile_abort(&out);
        return mg_ctl_fail(c,
                           "the image of build %lld did not arrive intact: %lld bytes with "
                           "sha256 %s, expected %lld bytes with sha256 %s%s",
                           id, d.size, got, want_size, want,
                           strcmp(dest, "-") == 0 ? " (already written to stdout)" : "");
    }
    /* images are programs (unix) or kernels; executable like mgd build's */
    if (mg_outfile_commit(&out, 0755, &err) != 0) return mg_ctl_fail(c, "%s", err.msg);
    if (json_out) {
        cJSON_AddStringToObject(json_out, "path", dest);
        cJSON_AddNumberToObject(json_out, "size", (double)d.size);
        cJSON_AddStringToObject(json_out, "sha256", got);
        cJSON_AddBoolToObject(json_out, "verified", true);
    }
    if (notes && strcmp(dest, "-") != 0) {
        char sz[32];
        mg_fmt_size(d.size, sz, sizeof sz);
        fprintf(notes, "saved %s (%s, sha256 %.12s verified)\n", dest, sz, got);
    }
    return 0;
}

/* ---- how a build is reported ------------------------------------------- */

static void print_outcome(const cJSON *b, FILE *out)
{
    long long id = mg_json_int(b, "id", 0);
    const char *status = mg_json_str(b, "status");
    char dur[32];
    mg_fmt_duration(mg_json_int(b, "duration_ms", -1), dur, sizeof dur);
    if (!status) status = "?";
    if (strcmp(status, "succeeded") == 0) {
        const cJSON *img = cJSON_GetObjectItemCaseSensitive(b, "image");
        const cJSON *cache = cJSON_GetObjectItemCaseSensitive(b, "cache");
        char sz[32];
        mg_fmt_size(mg_json_int(img, "size", 0), sz, sizeof sz);
        fprintf(out, "build %lld succeeded in %s: image %s, %s, sha256 %.12s", id, dur,
                mg_json_str(img, "name") ? mg_json_str(img, "name") : "?", sz,
                mg_json_str(img, "sha256") ? mg_json_str(img, "sha256") : "?");
        if (mg_json_has(b, "reused_from"))
            fprintf(out, " (reused from build %lld)\n", mg_json_int(b, "reused_from", 0));
        else if (cJSON_IsObject(cache))
            fprintf(out, " (%lld of %lld actions from the cache)\n", mg_json_int(cache, "hits", 0),
                    mg_json_int(cache, "actions", 0));
        else
            fputc('\n', out);
    } else if (strcmp(status, "failed") == 0) {
        const char *e = mg_json_str(b, "error");
        fprintf(out, "build %lld failed after %s%s%s\n", id, dur, e ? ": " : "", e ? e : "");
    } else if (strcmp(status, "interrupted") == 0) {
        fprintf(out, "build %lld was interrupted: the daemon stopped while it ran\n", id);
    } else if (strcmp(status, "cancelled") == 0) {
        fprintf(out, "build %lld was cancelled\n", id);
    } else {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "project");
        fprintf(out, "build %lld %s: %s %s/%s\n", id, status,
                mg_json_str(p, "name") ? mg_json_str(p, "name") : "?",
                mg_json_str(b, "target") ? mg_json_str(b, "target") : "?",
                mg_json_str(b, "arch") ? mg_json_str(b, "arch") : "?");
    }
}

/* After POST .../build or .../rebuild answered `queued` (the Build): waits,
 * follows, downloads as the options say; returns the exit status. */
static int after_queue(mg_ctl *c, mg_rest_response *queued, cJSON *b)
{
    bool follow = mg_args_has(c->args, "--follow");
    const char *output = mg_args_get(c->args, "--output");
    bool wait = follow || output || mg_args_has(c->args, "--wait");
    /* notes go where they do not mix with what the caller parses: the
     * log, or the image with -o - */
    bool image_to_stdout = output && strcmp(output, "-") == 0;
    FILE *notes = c->json ? NULL : follow || image_to_stdout ? stderr : stdout;
    if (!wait) {
        if (c->json)
            mg_ctl_print_raw(queued->body.data, queued->body.len);
        else
            print_outcome(b, stdout);
        return 0;
    }
    long long id = mg_json_int(b, "id", 0);
    if (notes) print_outcome(b, notes);
    if (notes) fflush(notes);
    mg_follow f = {
        .rest = &c->rest,
        .build = id,
        .out = follow ? (c->json ? stderr : stdout) : NULL,
        /* only waiting: the lines so far need not come again */
        .offset = follow ? 0 : mg_json_int(b, "log_size", 0),
        .reached = true,
    };
    mg_err err;
    if (mg_follow_log(&f, &err) != 0) {
        if (f.fail.status) {
            int rc = mg_ctl_api_error(c, &f.fail);
            mg_rest_response_free(&f.fail);
            return rc == MG_EXIT_FAILED ? MG_EXIT_USAGE : rc;
        }
        return mg_ctl_fail(c, "following build %lld: %s", id, err.msg);
    }
    mg_rest_response resp;
    cJSON *end = NULL;
    int rc = 0;
    /* the log is complete once the build has ended; its record says how */
    for (int tries = 0; tries < 50; tries++) {
        cJSON_Delete(end);
        if ((rc = get_build(c, id, &resp, &end))) return rc;
        if (terminal(mg_json_str(end, "status"))) break;
        mg_rest_response_free(&resp);
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    const char *status = mg_json_str(end, "status");
    if (!terminal(status)) {
        mg_rest_response_free(&resp);
        cJSON_Delete(end);
        return mg_ctl_fail(c, "build %lld's log ended but the build is still %s", id,
                           status ? status : "?");
    }
    if (notes) print_outcome(end, notes);
    rc = exit_for(status);
    cJSON *saved = c->json ? cJSON_CreateObject() : NULL;
    if (rc == 0 && output) rc = save_image(c, end, output, notes, saved);
    if (c->json) {
        if (cJSON_GetArraySize(saved)) {
            /* the Build with where its image went */
            cJSON_AddItemToObject(end, "saved", saved);
            saved = NULL;
            mg_ctl_print_json(end);
        } else {
            mg_ctl_print_raw(resp.body.data, resp.body.len);
        }
    }
    cJSON_Delete(saved);
    cJSON_Delete(end);
    mg_rest_response_free(&resp);
    return rc;
}

/* stdout can carry one thing: the image, the log or the JSON document */
static int check_stdout(mg_ctl *c)
{
    const char *o = mg_args_get(c->args, "--output");
    if (o && strcmp(o, "-") == 0 && (c->json || mg_args_has(c->args, "--follow")))
        return mg_ctl_fail(c, "%s: -o - writes the image to stdout, which %s uses already",
                           c->command, c->json ? "--json" : "--follow");
    return 0;
}

/* POSTs a build or rebuild request (`path` is freed), then waits,
 * follows and downloads as the options say. */
static int queue(mg_ctl *c, mg_buf *path, const char *body)
{
    mg_rest_response resp;
    cJSON *b;
    int rc = mg_ctl_call(c, "POST", mg_buf_str(path), body, &resp, &b);
    mg_buf_free(path);
    if (rc) return rc;
    rc = after_queue(c, &resp, b);
    cJSON_Delete(b);
    mg_rest_response_free(&resp);
    return rc;
}

int mg_cmd_build(mg_ctl *c)
{
    if (check_stdout(c)) return MG_EXIT_USAGE;
    char *body = mg_ctl_resolve_request(c, true);
    if (!body) return MG_EXIT_USAGE;
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s/build", c->args->positional[0]);
    int rc = queue(c, &path, body);
    free(body);
    return rc;
}

int mg_cmd_rebuild(mg_ctl *c)
{
    long long id = 0;
    int rc = build_arg(c, &id);
    if (!rc) rc = check_stdout(c);
    if (rc) return rc;
    mg_buf path = {0};
    mg_ctl_path(&path, "/builds/%d/rebuild", id);
    return queue(c, &path, NULL);
}

int mg_cmd_cancel(mg_ctl *c)
{
    long long id = 0;
    int rc = build_arg(c, &id);
    if (rc) return rc;
    mg_buf path = {0};
    mg_ctl_path(&path, "/builds/%d/cancel", id);
    mg_rest_response resp;
    cJSON *b;
    rc = mg_ctl_call(c, "POST", mg_buf_str(&path), NULL, &resp, &b);
    mg_buf_free(&path);
    if (rc) return rc;
    if (c->json)
        mg_ctl_print_raw(resp.body.data, resp.body.len);
    else
        printf("cancelled build %lld\n", id);
    cJSON_Delete(b);
    mg_rest_response_free(&resp);
    return 0;
}

/* POST or DELETE /builds/:id/pin. */
static int pin(mg_ctl *c, bool on)
{
    long long id = 0;
    int rc = build_arg(c, &id);
    if (rc) return rc;
    mg_buf path = {0};
    mg_ctl_path(&path, "/builds/%d/pin", id);
    mg_rest_response resp;
    cJSON *b;
    rc = mg_ctl_call(c, on ? "POST" : "DELETE", mg_buf_str(&path), NULL, &resp, &b);
    mg_buf_free(&path);
    if (rc) return rc;
    if (c->json)
        mg_ctl_print_raw(resp.body.data, resp.body.len);
    else
        printf("%s build %lld\n", on ? "pinned" : "unpinned", id);
    cJSON_Delete(b);
    mg_rest_response_free(&resp);
    return 0;
}

int mg_cmd_pin(mg_ctl *c)
{
    return pin(c, true);
}

int mg_cmd_unpin(mg_ctl *c)
{
    return pin(c, false);
}

int mg_cmd_builds(mg_ctl *c)
{
    const char *limit_s = mg_args_get(c->args, "--limit");
    int limit = 20;
    if (limit_s) {
        char *end;
        long v = strtol(limit_s, &end, 10);
        if (end == limit_s || *end || v < 1 || v > 1000000)
            return mg_ctl_fail(c, "builds: --limit is a number of builds (1 or more), not '%s'",
                               limit_s);
        limit = (int)v;
    }
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s/builds?", c->args->positional[0]);
    const char *v;
    if ((v = mg_args_get(c->args, "--status"))) mg_ctl_path(&path, "status=%q&", v);
    if ((v = mg_args_get(c->args, "--target"))) mg_ctl_path(&path, "target=%q&", v);
    path.data[--path.len] = '\0'; /* the last '?' or '&' */
    cJSON *items;
    int rc = mg_ctl_list(c, mg_buf_str(&path), limit, &items);
    mg_buf_free(&path);
    if (rc) return rc;
    if (c->json) {
        mg_ctl_print_json(items);
    } else {
        mg_table t;
        mg_table_init(&t, 7);
        mg_table_rowv(&t, "ID", "STATUS", "TARGET", "CREATED", "DURATION", "SHA256", "REF");
        const cJSON *b;
        cJSON_ArrayForEach(b, items)
        {
            char id[32], dur[32], target[96], sha[16] = "-";
            snprintf(id, sizeof id, "%lld", mg_json_int(b, "id", 0));
            mg_fmt_duration(mg_json_int(b, "duration_ms", -1), dur, sizeof dur);
            snprintf(target, sizeof target, "%s/%s",
                     mg_json_str(b, "target") ? mg_json_str(b, "target") : "?",
                     mg_json_str(b, "arch") ? mg_json_str(b, "arch") : "?");
            const char *h = mg_json_str(cJSON_GetObjectItemCaseSensitive(b, "image"), "sha256");
            if (h) snprintf(sha, sizeof sha, "%.12s", h);
            const char *ref = mg_json_str(b, "commit");
            char shortref[16];
            if (ref) {
                snprintf(shortref, sizeof shortref, "%.12s", ref);
                ref = shortref;
            } else {
                ref = mg_json_str(b, "ref");
            }
            mg_table_rowv(&t, id, mg_json_str(b, "status"), target, mg_json_str(b, "created_at"),
                          dur, sha, ref);
        }
        mg_table_print(&t, stdout);
        mg_table_free(&t);
    }
    cJSON_Delete(items);
    return 0;
}

static void join_ids(const cJSON *arr, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18) ||
            n + 24 >= size)
            continue;
        n +=
            (size_t)snprintf(buf + n, size - n, "%s%lld", n ? ", " : "", (long long)v->valuedouble);
    }
    if (!n) snprintf(buf, size, "-");
}

int mg_cmd_status(mg_ctl *c)
{
    long long id = 0;
    int rc = build_arg(c, &id);
    if (rc) return rc;
    mg_rest_response resp;
    cJSON *b;
    if ((rc = get_build(c, id, &resp, &b))) return rc;
    if (c->json) {
        mg_ctl_print_raw(resp.body.data, resp.body.len);
        goto out;
    }
    char line[8][256];
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "project");
    mg_table t;
    mg_table_init(&t, 2);
    snprintf(line[0], sizeof line[0], "%lld", id);
    mg_table_rowv(&t, "build", line[0]);
    snprintf(line[1], sizeof line[1], "%s (id %lld)",
             mg_json_str(p, "name") ? mg_json_str(p, "name") : "?", mg_json_int(p, "id", 0));
    mg_table_rowv(&t, "project", line[1]);
    mg_table_rowv(&t, "status", mg_json_str(b, "status"));
    snprintf(line[2], sizeof line[2], "%s/%s",
             mg_json_str(b, "target") ? mg_json_str(b, "target") : "?",
             mg_json_str(b, "arch") ? mg_json_str(b, "arch") : "?");
    mg_table_rowv(&t, "target", line[2]);
    mg_buf keys = {0};
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(b, "keys"))
    {
        if (!k->string) continue; /* "keys" is no object */
        if (keys.len) mg_buf_addc(&keys, ' ');
        mg_buf_adds(&keys, k->string);
        mg_buf_addc(&keys, '=');
        mg_buf_adds(&keys, cJSON_IsString(k) ? k->valuestring : "?");
    }
    mg_table_rowv(&t, "keys", keys.len ? keys.data : "-");
    snprintf(line[3], sizeof line[3], "version %lld", mg_json_int(b, "config_version", 0));
    mg_table_rowv(&t, "config", line[3]);
    if (mg_json_has(b, "sources_sha256"))
        mg_table_rowv(&t, "sources", mg_json_str(b, "sources_sha256"));
    else {
        snprintf(line[4], sizeof line[4], "%s%s%s",
                 mg_json_str(b, "commit") ? mg_json_str(b, "commit") : "-",
                 mg_json_str(b, "ref") ? " from " : "",
                 mg_json_str(b, "ref") ? mg_json_str(b, "ref") : "");
        mg_table_rowv(&t, "commit", line[4]);
    }
    mg_table_rowv(&t, "input hash", mg_json_str(b, "input_hash"));
    mg_table_rowv(&t, "created", mg_json_str(b, "created_at"));
    mg_table_rowv(&t, "started", mg_json_str(b, "started_at"));
    mg_table_rowv(&t, "finished", mg_json_str(b, "finished_at"));
    char dur[32];
    mg_fmt_duration(mg_json_int(b, "duration_ms", -1), dur, sizeof dur);
    mg_table_rowv(&t, "duration", dur);
    const cJSON *cache = cJSON_GetObjectItemCaseSensitive(b, "cache");
    if (cJSON_IsObject(cache)) {
        snprintf(line[5], sizeof line[5], "%lld actions: %lld hits, %lld misses",
                 mg_json_int(cache, "actions", 0), mg_json_int(cache, "hits", 0),
                 mg_json_int(cache, "misses", 0));
        mg_table_rowv(&t, "cache", line[5]);
    }
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(b, "image");
    if (cJSON_IsObject(img)) {
        char sz[32];
        mg_fmt_size(mg_json_int(img, "size", 0), sz, sizeof sz);
        snprintf(line[6], sizeof line[6], "%s, %s, sha256 %s",
                 mg_json_str(img, "name") ? mg_json_str(img, "name") : "?", sz,
                 mg_json_str(img, "sha256") ? mg_json_str(img, "sha256") : "?");
        mg_table_rowv(&t, "image", line[6]);
    }
    char ids[4][256];
    if (mg_json_has(b, "reused_from")) {
        snprintf(ids[0], sizeof ids[0], "build %lld", mg_json_int(b, "reused_from", 0));
        mg_table_rowv(&t, "reused from", ids[0]);
    }
    if (mg_json_has(b, "rebuild_of")) {
        snprintf(ids[0], sizeof ids[0], "build %lld", mg_json_int(b, "rebuild_of", 0));
        mg_table_rowv(&t, "rebuild of", ids[0]);
    }
    join_ids(cJSON_GetObjectItemCaseSensitive(b, "reproduced_by"), ids[1], sizeof ids[1]);
    mg_table_rowv(&t, "reproduced by", ids[1]);
    join_ids(cJSON_GetObjectItemCaseSensitive(b, "differs_from"), ids[2], sizeof ids[2]);
    mg_table_rowv(&t, "differs from", ids[2]);
    /* the other direction: the builds this one, having run every action
     * itself, reproduced (docs/daemon.md, "Reproducibility") */
    join_ids(cJSON_GetObjectItemCaseSensitive(b, "reproduces"), ids[3], sizeof ids[3]);
    mg_table_rowv(&t, "reproduces", ids[3]);
    if (mg_json_has(b, "error")) mg_table_rowv(&t, "error", mg_json_str(b, "error"));
    char logsz[32];
    mg_fmt_size(mg_json_int(b, "log_size", 0), logsz, sizeof logsz);
    mg_table_rowv(&t, "log", logsz);
    mg_table_print(&t, stdout);
    mg_table_free(&t);
    mg_buf_free(&keys);
out:
    cJSON_Delete(b);
    mg_rest_response_free(&resp);
    return 0;
}

/* The log as a JSON string: bytes that are no UTF-8 text (and NULs) as
 * U+FFFD, so that the document stays valid JSON. */
static void add_log(cJSON *o, const char *text, size_t len)
{
    mg_buf clean = {0};
    mg_buf_add_utf8(&clean, text ? text : "", text ? len : 0);
    cJSON_AddStringToObject(o, "log", mg_buf_str(&clean));
    mg_buf_free(&clean);
}

int mg_cmd_log(mg_ctl *c)
{
    long long id = 0;
    int rc = build_arg(c, &id);
    if (rc) return rc;
    bool follow = mg_args_has(c->args, "--follow");
    /* --json: the log is collected and printed as one document */
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = stdout;
    if (c->json && !(out = open_memstream(&text, &text_len)))
        return mg_ctl_fail(c, "out of memory");
    mg_follow f = {.rest = &c->rest, .build = id, .out = out, .no_stream = !follow};
    mg_err err;
    if (!follow) {
        /* one answer: the log as it is now */
        mg_rest_response resp;
        mg_buf path = {0};
        mg_ctl_path(&path, "/builds/%d/log", id);
        int r = mg_rest_call(&c->rest, "GET", mg_buf_str(&path), NULL, &resp, &err);
        mg_buf_free(&path);
        if (r != 0) {
            rc = mg_ctl_fail(c, "%s", err.msg);
        } else if (resp.status != 200) {
            rc = mg_ctl_api_error(c, &resp);
        } else {
            fwrite(mg_buf_str(&resp.body), 1, resp.body.len, out);
            f.offset = (int64_t)resp.body.len;
        }
        int more = resp.more_data;
        mg_rest_response_free(&resp);
        if (!rc && c->json) {
            fclose(out);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "build", (double)id);
            cJSON_AddNumberToObject(o, "log_size", (double)f.offset);
            cJSON_AddBoolToObject(o, "more_data", more == 1);
            add_log(o, text, text_len);
            mg_ctl_print_json(o);
            cJSON_Delete(o);
            free(text);
        } else if (c->json) {
            fclose(out);
            free(text);
        }
        return rc;
    }
    if (mg_follow_log(&f, &err) != 0) {
        if (c->json) {
            fclose(out);
            free(text);
        }
        if (f.fail.status) {
            rc = mg_ctl_api_error(c, &f.fail);
            mg_rest_response_free(&f.fail);
            return rc == MG_EXIT_FAILED ? MG_EXIT_USAGE : rc;
        }
        return mg_ctl_fail(c, "following build %lld: %s", id, err.msg);
    }
    /* followed to the end: the exit status is the build's, as with
     * `build --wait` */
    mg_rest_response resp;
    cJSON *b;
    if ((rc = get_build(c, id, &resp, &b))) {
        if (c->json) {
            fclose(out);
            free(text);
        }
        return rc;
    }
    const char *status = mg_json_str(b, "status");
    if (c->json) {
        fclose(out);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "build", (double)id);
        cJSON_AddStringToObject(o, "status", status ? status : "");
        cJSON_AddNumberToObject(o, "log_size", (double)f.offset);
        cJSON_AddBoolToObject(o, "more_data", false);
        add_log(o, text, text_len);
        mg_ctl_print_json(o);
        cJSON_Delete(o);
        free(text);
    }
    rc = exit_for(status);
    cJSON_Delete(b);
    mg_rest_response_free(&resp);
    return rc;
}

int mg_cmd_image(mg_ctl *c)
{
    long long id = 0;
    int rc = build_arg(c, &id);
    if (rc) return rc;
    const char *o = mg_args_get(c->args, "--output");
    if (c->json && o && strcmp(o, "-") == 0)
        return mg_ctl_fail(c, "image: --json and -o - would both write to stdout");
    mg_rest_response resp;
    cJSON *b;
    if ((rc = get_build(c, id, &resp, &b))) return rc;
    const char *output = mg_args_get(c->args, "--output");
    bool to_stdout = output && strcmp(output, "-") == 0;
    cJSON *info = c->json ? cJSON_CreateObject() : NULL;
    rc = save_image(c, b, output, c->json || to_stdout ? NULL : stdout, info);
    if (rc == 0 && c->json) mg_ctl_print_json(info);
    cJSON_Delete(info);
    cJSON_Delete(b);
    mg_rest_response_free(&resp);
    return rc;
}
