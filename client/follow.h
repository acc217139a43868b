/*
 * follow.h - following a build's log to its end.
 *
 * The log comes as server-sent events (one event per line, whose id is the
 * byte offset after the line), so lines show up as the build writes them.
 * If the stream drops, cannot start, or sends something that does not fit
 * the offsets, the follower goes on by asking for the log from the last
 * offset it wrote (GET /builds/:id/log?offset=N) until X-More-Data says the
 * log is complete. Offsets make the switch exact: no line is written twice
 * and none is lost. The bytes written are the log's bytes, with one
 * exception of the stream's format: a carriage return inside a line comes
 * over the stream as a space.
 *
 * A server that answered once and then cannot be reached (a restart, a
 * network hiccup) is retried with a growing pause for as long as the
 * client's request timeout (rest.h), then the follower gives up; so is one
 * whose log of a finished build stops short of its X-Log-Size. One that
 * never answered is an error at once.
 */
#ifndef MG_CLIENT_FOLLOW_H
#define MG_CLIENT_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/rest.h"

typedef struct mg_follow {
    mg_rest *rest;
    int64_t build;
    FILE *out;      /* where the log goes; NULL: only wait for the end */
    int64_t offset; /* the log's bytes already written (where to start) */
    bool no_stream; /* poll only, never open the event stream */
    bool reached;   /* the server answered once (set it when it did before) */
    /* results */
    int stream_drops;      /* event streams that ended without an end event */
    bool polled;           /* the follower fell back to polling */
    mg_rest_response fail; /* an error answer from the server (status != 0) */
} mg_follow;

/* Follows until the build has ended and its whole log is written.
 * Returns 0; or -1 with `err` set and, when the server answered with an
 * error, that answer in `f->fail` (free it with mg_rest_response_free). */
int mg_follow_log(mg_follow *f, mg_err *err);

/* What ends the log line carried by an event of `data_len` bytes that
 * moved the offset by `delta` bytes: "\n", "\r\n" (the stream drops the
 * CR), "" (the last line of a log without a final newline, or a piece of
 * a very long line), or NULL when the offsets do not fit the data. */
const char *mg_follow_line_end(size_t data_len, int64_t delta);

#endif
