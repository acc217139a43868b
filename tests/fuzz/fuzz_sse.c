/*
 * fuzz_sse.c - libFuzzer target for mgctl's server-sent events parser
 * (client/events.h), which reads whatever a server sends.
 *
 * Besides memory safety it checks the parser's promise that the pieces do
 * not matter: the input fed whole and fed in pieces cut where the input's
 * first bytes say (down to one byte at a time) must give the same events,
 * in the same order, with the same ids, and the same result. A stream
 * whose lines are cut differently by the network must read the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every event as "type\0id\0<len as 8 bytes>data". */
static int record(void *ctx, const mg_event *ev)
{
    mg_buf *b = ctx;
    if (strlen(ev->data) > ev->data_len) abort(); /* data_len counts at least up to a NUL */
    mg_buf_add(b, ev->type, strlen(ev->type) + 1);
    mg_buf_add(b, ev->id, strlen(ev->id) + 1);
    uint64_t n = ev->data_len;
    mg_buf_add(b, (const char *)&n, sizeof n);
    mg_buf_add(b, ev->data, ev->data_len);
    if (ev->data[ev->data_len] != '\0') abort(); /* NUL-terminated, as promised */
    return 0;
}

static int feed_all(const char *text, size_t len, const uint8_t *cuts, size_t n_cuts, mg_buf *out)
{
    mg_events p;
    mg_events_init(&p, record, out);
    int rc = 0;
    size_t at = 0, k = 0;
    while (rc == 0 && at < len) {
        size_t step = n_cuts ? (size_t)cuts[k++ % n_cuts] % 17 + 1 : len - at;
        if (step > len - at) step = len - at;
        rc = mg_events_feed(&p, text + at, step);
        at += step;
    }
    mg_events_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first byte: how many of the next bytes give the piece sizes */
    size_t n_cuts = size ? data[0] % 8 : 0;
    if (size < 1 + n_cuts) return 0;
    const uint8_t *cuts = data + 1;
    const char *text = (const char *)data + 1 + n_cuts;
    size_t len = size - 1 - n_cuts;
    mg_buf whole = {0}, pieces = {0};
    int a = feed_all(text, len, NULL, 0, &whole), b = 0;
    if (n_cuts) {
        b = feed_all(text, len, cuts, n_cuts, &pieces);
    } else {
        /* no sizes given: one byte at a time */
        mg_events p;
        mg_events_init(&p, record, &pieces);
        for (size_t i = 0; b == 0 && i < len; i++) b = mg_events_feed(&p, text + i, 1);
        mg_events_free(&p);
    }
    /* an error stops the parser where it is found; the events before it
     * are the same whichever way the bytes were cut */
    if (a != b || whole.len != pieces.len ||
        (whole.len && memcmp(whole.data, pieces.data, whole.len)))
        abort();
    mg_buf_free(&whole);
    mg_buf_free(&pieces);
    return 0;
}
