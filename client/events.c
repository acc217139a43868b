/* events.c - see events.h. */
#include "client/events.h"

#include <string.h>

void mg_events_init(mg_events *p, mg_events_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->fn = fn;
    p->ctx = ctx;
}

void mg_events_free(mg_events *p)
{
    mg_buf_free(&p->line);
    mg_buf_free(&p->data);
    mg_buf_free(&p->type);
}

static int dispatch(mg_events *p)
{
    int rc = 0;
    if (p->has_data) {
        mg_event ev = {
            .type = p->type.len ? mg_buf_str(&p->type) : "message",
            .data = mg_buf_str(&p->data),
            .data_len = p->data.len,
            .id = p->id,
        };
        rc = p->fn(p->ctx, &ev);
    }
    mg_buf_clear(&p->data);
    mg_buf_clear(&p->type);
    p->has_data = false;
    return rc;
}

/* One complete line (without its end). */
static int process_line(mg_events *p, const char *line, size_t len)
{
    if (len == 0) return dispatch(p);
    if (line[0] == ':') return 0; /* a comment */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - flen - 1 : 0;
    if (vlen && value[0] == ' ') value++, vlen--;
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if (p->data.len + vlen + 1 > MG_EVENTS_MAX_DATA) return -1;
        if (p->has_data) mg_buf_addc(&p->data, '\n');
        mg_buf_add(&p->data, value, vlen);
        p->has_data = true;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        mg_buf_clear(&p->type);
        mg_buf_add(&p->type, value, vlen);
    } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
        /* an id with a NUL is ignored, as the standard says; ours are
         * short decimal offsets: a longer one is a broken stream (cut,
         * it would read as another offset) */
        if (!memchr(value, '\0', vlen)) {
            if (vlen >= sizeof p->id) return -1;
            memcpy(p->id, value, vlen);
            p->id[vlen] = '\0';
        }
    }
    /* `retry` and unknown fields are ignored */
    return (p->data.failed || p->type.failed) ? -1 : 0;
}

int mg_events_feed(mg_events *p, const char *bytes, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = bytes[i];
        if (c != '\n' && c != '\r') {
            p->after_cr = false;
            continue;
        }
        if (c == '\n' && p->after_cr && i == start && p->line.len == 0) {
            /* the LF of a CRLF whose CR ended the previous line */
            p->after_cr = false;
            start = i + 1;
            continue;
        }
        p->after_cr = (c == '\r');
        if (p->line.len + (i - start) > MG_EVENTS_MAX_LINE) return -1;
        int rc;
        if (p->line.len) {
            mg_buf_add(&p->line, bytes + start, i - start);
            if (p->line.failed) return -1;
            rc = process_line(p, p->line.data, p->line.len);
            mg_buf_clear(&p->line);
        } else {
            rc = process_line(p, bytes + start, i - start);
        }
        start = i + 1;
        if (rc) return rc;
    }
    if (start < len) {
        if (p->line.len + (len - start) > MG_EVENTS_MAX_LINE) return -1;
        mg_buf_add(&p->line, bytes + start, len - start);
        if (p->line.failed) return -1;
    }
    return 0;
}
