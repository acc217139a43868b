/*
 * events.h - a parser of server-sent events (the WHATWG "event stream"
 * format), fed with whatever pieces the network delivers.
 *
 * Lines end with LF, CR or CRLF (a CR at the end of one piece and an LF at
 * the start of the next are one line end). `data:` lines accumulate, joined
 * by LF; `event:` names the event; `id:` sets the last event id, which is
 * kept even when no event is dispatched; lines starting with `:` are
 * comments. A blank line dispatches the event if it had any `data:` line.
 * mgd's log stream sends one event per log line, with the byte offset
 * after the line as its id, and a last `end` event.
 */
#ifndef MG_CLIENT_EVENTS_H
#define MG_CLIENT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* A line longer than this is a broken stream, not a log line (the
 * daemon splits its lines at 64 KiB). */
#define MG_EVENTS_MAX_LINE (1u << 20)
/* The same for an event's data, joined from many `data:` lines. */
#define MG_EVENTS_MAX_DATA (4u << 20)

typedef struct mg_event {
    const char *type; /* "message" unless the stream named it */
    const char *data; /* NUL-terminated; may hold NULs of its own */
    size_t data_len;
    const char *id; /* the last event id so far ("" if none) */
} mg_event;

/* Called once per dispatched event; a non-zero return stops the parser
 * and mg_events_feed returns it. */
typedef int (*mg_events_fn)(void *ctx, const mg_event *ev);

typedef struct mg_events {
    mg_events_fn fn;
    void *ctx;
    mg_buf line;
    mg_buf data;
    mg_buf type;
    char id[64];
    bool has_data;
    bool after_cr; /* the last byte seen was a CR */
} mg_events;

void mg_events_init(mg_events *p, mg_events_fn fn, void *ctx);
/* Parses more bytes. Returns 0, the callback's non-zero value, or -1
 * when a line exceeds MG_EVENTS_MAX_LINE, an event's data
 * MG_EVENTS_MAX_DATA, an id does not fit in `id`, or
 * memory runs out. */
int mg_events_feed(mg_events *p, const char *bytes, size_t len);
void mg_events_free(mg_events *p);

#endif
