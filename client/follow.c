/* follow.c - see follow.h. */
#include "client/follow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/deadline.h"
#include "client/events.h"

const char *mg_follow_line_end(size_t data_len, int64_t delta)
{
    if (delta < 0 || (uint64_t)delta < (uint64_t)data_len) return NULL;
    /* what the offset moved beyond the data (no data_len + 1 to wrap) */
    uint64_t extra = (uint64_t)delta - (uint64_t)data_len;
    if (extra == 1) return "\n";
    if (extra == 2) return "\r\n";
    if (extra == 0 && data_len > 0) return "";
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int write_out(mg_follow *f, const void *data, size_t len)
{
    if (f->out && len && fwrite(data, 1, len, f->out) != len) return -1;
    return 0;
}

/* ---- the event stream ------------------------------------------------ */

enum { STOP_END = 1, STOP_RESYNC, STOP_WRITE, STOP_NOT_SSE };

typedef struct stream_ctx {
    mg_follow *f;
    mg_events parser;
    mg_rest_response *resp;
    bool checked_type;
    bool ended;
    bool write_failed;
} stream_ctx;

static int on_event(void *arg, const mg_event *ev)
{
    stream_ctx *s = arg;
    mg_follow *f = s->f;
    if (strcmp(ev->type, "end") == 0) {
        s->ended = true;
        return STOP_END;
    }
    if (strcmp(ev->type, "message") != 0) return 0;
    char *end;
    errno = 0;
    long long id = strtoll(ev->id, &end, 10);
    /* an id before the offset does not fit (and id - offset could
     * overflow) */
    if (errno || end == ev->id || *end || id < f->offset) return STOP_RESYNC;
    const char *line_end = mg_follow_line_end(ev->data_len, (int64_t)id - f->offset);
    if (!line_end) return STOP_RESYNC;
    if (write_out(f, ev->data, ev->data_len) != 0 ||
        write_out(f, line_end, strlen(line_end)) != 0) {
        s->write_failed = true;
        return STOP_WRITE;
    }
    if (f->out) fflush(f->out);
    f->offset = (int64_t)id;
    return 0;
}

static int stream_sink(void *arg, const char *data, size_t len)
{
    stream_ctx *s = arg;
    if (!s->checked_type) {
        s->checked_type = true;
        if (strncmp(s->resp->content_type, "text/event-stream", 17) != 0) return STOP_NOT_SSE;
    }
    int rc = mg_events_feed(&s->parser, data, len);
    return rc < 0 ? STOP_RESYNC : rc;
}

/* Follows over the event stream. Returns 1 when the end event came (the
 * log is complete), 0 when polling must take over, -1 when the output
 * cannot be written. */
static int follow_stream(mg_follow *f, mg_err *err)
{
    char path[96];
    snprintf(path, sizeof path, "/builds/%lld/log?offset=%lld", (long long)f->build,
             (long long)f->offset);
    mg_rest_response resp;
    stream_ctx s = {.f = f, .resp = &resp};
    mg_events_init(&s.parser, on_event, &s);
    /* a failing stream is followed by polling, which reports its own errors */
    mg_rest_stream(f->rest, path, "text/event-stream", NULL, stream_sink, &s, &resp, NULL);
    if (resp.status) f->reached = true;
    mg_events_free(&s.parser);
    mg_rest_response_free(&resp);
    if (s.write_failed) {
        mg_err_set(err, MG_E_IO, "cannot write the log: %s", strerror(errno));
        return -1;
    }
    if (s.ended) return 1;
    f->stream_drops++;
    return 0;
}

/* ---- polling ----------------------------------------------------------- */

typedef struct poll_ctx {
    mg_follow *f;
    size_t got;
    bool write_failed;
} poll_ctx;

static int poll_sink(void *arg, const char *data, size_t len)
{
    poll_ctx *p = arg;
    if (write_out(p->f, data, len) != 0) {
        p->write_failed = true;
        return 1;
    }
    p->f->offset += (int64_t)len;
    p->got += len;
    return 0;
}

static int follow_poll(mg_follow *f, mg_err *err)
{
    f->polled = true;
    long pause = 200;
    uint64_t failing_since = 0;
    for (;;) {
        char path[96];
        snprintf(path, sizeof path, "/builds/%lld/log?offset=%lld", (long long)f->build,
                 (long long)f->offset);
        mg_rest_response resp;
        poll_ctx p = {.f = f};
        mg_err transport;
        int rc = mg_rest_stream(f->rest, path, NULL, NULL, poll_sink, &p, &resp, &transport);
        if (p.write_failed) {
            mg_rest_response_free(&resp);
            mg_err_set(err, MG_E_IO, "cannot write the log: %s", strerror(errno));
            return -1;
        }
        if (f->out) fflush(f->out);
        if (resp.status != 0 && (resp.status < 200 || resp.status >= 300)) {
            f->fail = resp;
            mg_err_set(err, MG_E_IO, "the server answered %ld", resp.status);
            return -1;
        }
        int more = resp.more_data;
        int64_t size = resp.log_size;
        if (resp.status) f->reached = true;
        mg_rest_response_free(&resp);
        if (rc != 0 && !f->reached) {
            /* never reached: the server is not there (or not at --url) */
            if (err) *err = transport;
            return -1;
        }
        /* the build is over but the answer stops short of the log's size
         * and brings nothing: waiting for the build will not change that
         * (it was asked again forever) */
        bool short_end = rc == 0 && more == 0 && size >= 0 && f->offset < size && !p.got;
        if (rc != 0 || more < 0 || short_end) {
            /* a server that answered before went away, cut an answer,
             * answered without the log's headers or without the log's
             * end: try again for a while */
            uint64_t now = mg_now_ms();
            if (!failing_since) failing_since = now;
            if (now - failing_since > (uint64_t)f->rest->timeout_ms) {
                if (short_end)
                    mg_err_set(err, MG_E_IO,
                               "the log of the finished build ends at byte %lld, short of its "
                               "size %lld",
                               (long long)f->offset, (long long)size);
                else
                    mg_err_set(err, MG_E_IO, "%s",
                               rc != 0 ? transport.msg : "the log answer lacks X-More-Data");
                return -1;
            }
            sleep_ms(pause);
            pause = pause < 2000 ? pause * 2 : 2000;
            continue;
        }
        failing_since = 0;
        /* complete when the build had ended and everything up to the size
         * of that moment came */
        if (more == 0 && (size < 0 || f->offset >= size)) return 0;
        if (p.got) {
            pause = 200;
        } else {
            sleep_ms(pause);
            pause = pause < 1000 ? pause * 2 : 1000;
        }
    }
}

int mg_follow_log(mg_follow *f, mg_err *err)
{
    memset(&f->fail, 0, sizeof f->fail);
    if (!f->no_stream) {
        int rc = follow_stream(f, err);
        if (rc != 0) return rc > 0 ? 0 : -1;
    }
    return follow_poll(f, err);
}
