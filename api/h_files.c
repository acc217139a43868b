/*
 * h_files.c - what a build leaves: its log (plain or streamed), its image,
 * and the resolved graph it used.
 *
 * Logs and images are sent from a file descriptor, so libmicrohttpd uses
 * sendfile and nothing is copied through user space; the size is fixed
 * when the request is answered (a log growing meanwhile is the next
 * request's business, which X-More-Data announces).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/internal.h"

/* An open file and its size; fd -1 when it does not exist. */
static int open_file(const char *path, uint64_t *size)
{
    *size = 0;
    if (!path) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* `len` bytes of fd from `offset` (the response owns fd), or an empty
 * body when there is nothing to send. */
static void reply_fd(mg_req *r, unsigned status, const char *ctype, int fd, uint64_t offset,
                     uint64_t len)
{
    if (len == 0) {
        if (fd >= 0) close(fd);
        mg_reply_text(r, status, ctype, "", 0);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!resp) {
        close(fd);
        mg_reply_error(r, 500, "cannot make a response from the file");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    mg_reply_custom(r, status, resp);
}

void mg_h_build_log(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), false, &b)) return;
    int64_t offset = 0;
    const char *off = mg_query_get(&r->query, "offset");
    if (off && mg_parse_i64(off, 0, INT64_MAX, &offset) != 0) {
        mg_reply_error(r, 400, "offset must be a byte offset (an integer >= 0)");
        goto out;
    }
    if (mg_accepts_event_stream(mg_req_header(r, MHD_HTTP_HEADER_ACCEPT))) {
        /* EventSource reconnects with the id of the last event it got */
        const char *last = mg_req_header(r, "Last-Event-ID");
        int64_t resume;
        if (last && *last) {
            if (mg_parse_i64(last, 0, INT64_MAX, &resume) != 0) {
                mg_reply_error(r, 400, "Last-Event-ID must be a byte offset from this stream");
                goto out;
            }
            offset = resume;
        }
        struct MHD_Response *resp = mg_sse_response(r->api, r->conn, b.id, offset);
        if (!resp) {
            mg_reply_error(r, 500, "out of memory");
            goto out;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/event-stream; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        mg_reply_custom(r, 200, resp);
        goto out;
    }
    /* The status before the size: a build that ends in between is reported
     * as still writing, never as finished with a log cut short. A cancelled
     * build's worker may still be writing its last lines: the log is over
     * when the worker has let go of the build too. */
    bool held = mg_queue_running(r->api->o.queue, b.id);
    bool more = !mg_stored_status_terminal(b.status) || held;
    char *path = mg_queue_log_path(r->api->o.queue, b.id);
    uint64_t size;
    int fd = open_file(path, &size);
    free(path);
    /* while a worker writes it, no further than its last whole write (a
     * write the disk cut short is being cut off again) */
    if (held) {
        int64_t known = mg_queue_log_wait(r->api->o.queue, b.id, INT64_MAX, 0);
        if (known >= 0 && (uint64_t)known < size) size = (uint64_t)known;
    }
    mg_reply_header(r, "X-Log-Size", "%llu", (unsigned long long)size);
    mg_reply_header(r, "X-More-Data", "%s", more ? "true" : "false");
    uint64_t from = (uint64_t)offset < size ? (uint64_t)offset : size;
    reply_fd(r, 200, "text/plain; charset=utf-8", fd, from, size - from);
out:
    mg_stored_build_free(&b);
}

/* The image's file name for Content-Disposition: only characters that
 * need no quoting anywhere. */
static void safe_name(const char *name, char *out, size_t size)
{
    size_t n = 0;
    for (const char *c = name ? name : ""; *c && n + 1 < size; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        out[n++] = ok ? *c : '_';
    }
    if (n == 0 && size > 5) {
        memcpy(out, "image", 5);
        n = 5;
    }
    out[n] = 0;
}

void mg_h_build_image(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), false, &b)) return;
    if (b.status != MG_STORED_SUCCEEDED || !b.image_sha256) {
        mg_reply_error(r, 404, "build %lld has no image (it is %s)", (long long)b.id,
                       mg_stored_status_name(b.status));
        goto out;
    }
    char *path = mg_queue_image_path(r->api->o.queue, b.image_sha256);
    uint64_t size;
    int fd = open_file(path, &size);
    free(path);
    if (fd < 0) {
        mg_reply_error(r, 404, "the image of build %lld is no longer stored", (long long)b.id);
        goto out;
    }
    char name[128];
    safe_name(b.image_name, name, sizeof name);
    mg_reply_header(r, "ETag", "\"%s\"", b.image_sha256);
    mg_reply_header(r, "Accept-Ranges", "bytes");
    if (mg_etag_match(mg_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), b.image_sha256)) {
        close(fd);
        mg_reply_text(r, 304, NULL, "", 0);
        goto out;
    }
    mg_reply_header(r, "Content-Disposition", "attachment; filename=\"%s\"", name);
    uint64_t start = 0, len = size;
    switch (mg_range_parse(mg_req_header(r, MHD_HTTP_HEADER_RANGE), size, &start, &len)) {
    case MG_RANGE_UNSATISFIABLE:
        close(fd);
        mg_reply_header(r, "Content-Range", "bytes */%llu", (unsigned long long)size);
        mg_reply_error(r, 416, "the range is outside the image's %llu bytes",
                       (unsigned long long)size);
        break;
    case MG_RANGE_OK:
        mg_reply_header(r, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)start,
                        (unsigned long long)(start + len - 1), (unsigned long long)size);
        reply_fd(r, 206, "application/octet-stream", fd, start, len);
        break;
    default:
        reply_fd(r, 200, "application/octet-stream", fd, 0, size);
    }
out:
    mg_stored_build_free(&b);
}

void mg_h_build_describe(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), true, &b)) return;
    if (!b.describe)
        mg_reply_error(r, 404, "build %lld has not resolved its config (it is %s)", (long long)b.id,
                       mg_stored_status_name(b.status));
    else
        mg_reply_text(r, 200, "application/json", b.describe, strlen(b.describe));
    mg_stored_build_free(&b);
}
