/*
 * client/events: the server-sent events parser, fed in every possible
 * split, with every kind of line end, and mgd's own log stream.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/events.h"

/* What the callback saw: one line per event, "type|id|data" with the
 * data's LFs and NULs made visible. */
typedef struct seen {
    mg_buf log;
    int count;
    int stop_at; /* return `stop_rc` on this event (1-based); 0: never */
    int stop_rc;
} seen;

static int on_event(void *ctx, const mg_event *ev)
{
    seen *s = ctx;
    s->count++;
    cr_assert_not_null(ev->type);
    cr_assert_not_null(ev->data);
    cr_assert_not_null(ev->id);
    cr_assert_eq(ev->data[ev->data_len], '\0', "data is NUL-terminated");
    mg_buf_adds(&s->log, ev->type);
    mg_buf_addc(&s->log, '|');
    mg_buf_adds(&s->log, ev->id);
    mg_buf_addc(&s->log, '|');
    for (size_t i = 0; i < ev->data_len; i++) {
        if (ev->data[i] == '\n')
            mg_buf_adds(&s->log, "\\n");
        else if (ev->data[i] == '\0')
            mg_buf_adds(&s->log, "\\0");
        else
            mg_buf_addc(&s->log, ev->data[i]);
    }
    mg_buf_addc(&s->log, '\n');
    return s->count == s->stop_at ? s->stop_rc : 0;
}

/* Feeds `len` bytes in pieces cut at `cuts` (ascending offsets); returns
 * what the callback saw (malloc'd) and the last non-zero feed result in
 * `*rc`, and the final id in `id` (64 bytes). */
static char *run(const char *in, size_t len, const size_t *cuts, size_t ncuts, int *rc, char *id)
{
    seen s = {0};
    mg_events p;
    mg_events_init(&p, on_event, &s);
    size_t at = 0;
    *rc = 0;
    for (size_t i = 0; i <= ncuts && *rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        *rc = mg_events_feed(&p, in + at, end - at);
        at = end;
    }
    if (id) snprintf(id, 64, "%s", p.id);
    mg_events_free(&p);
    char *out = strdup(mg_buf_str(&s.log));
    cr_assert_not(s.log.failed);
    mg_buf_free(&s.log);
    return out;
}

static char *run_whole(const char *in, int *rc)
{
    return run(in, strlen(in), NULL, 0, rc, NULL);
}

/* Feeds `in` whole, byte by byte, and in two pieces cut at every point;
 * all must give `want`. */
static void check_all_splits(const char *in, size_t len, const char *want, const char *want_id)
{
    int rc;
    char id[64];
    char *got = run(in, len, NULL, 0, &rc, id);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, want, "whole feed of %s", in);
    cr_assert_str_eq(id, want_id);
    free(got);

    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    cr_assert_not_null(cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    got = run(in, len, cuts, len ? len - 1 : 0, &rc, id);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, want, "byte by byte");
    cr_assert_str_eq(id, want_id);
    free(got);
    free(cuts);

    for (size_t cut = 0; cut <= len; cut++) {
        got = run(in, len, &cut, 1, &rc, id);
        cr_assert_eq(rc, 0);
        cr_assert_str_eq(got, want, "cut at %zu", cut);
        cr_assert_str_eq(id, want_id, "cut at %zu", cut);
        free(got);
    }

    /* three pieces, every pair of cuts */
    for (size_t a = 0; a <= len; a++)
        for (size_t b = a; b <= len; b++) {
            size_t two[2] = {a, b};
            got = run(in, len, two, 2, &rc, id);
            cr_assert_eq(rc, 0);
            cr_assert_str_eq(got, want, "cuts at %zu and %zu", a, b);
            free(got);
        }
}

#define CHECK(in, want, id) check_all_splits(in, sizeof(in) - 1, want, id)

Test(events, simple_lf)
{
    CHECK("data: hello\n\n", "message||hello\n", "");
}

Test(events, crlf_line_ends)
{
    CHECK("data: a\r\n\r\ndata: b\r\n\r\n", "message||a\nmessage||b\n", "");
}

Test(events, lone_cr_line_ends)
{
    CHECK("data: a\r\rdata: b\r\r", "message||a\nmessage||b\n", "");
}

Test(events, mixed_line_ends)
{
    /* CRLF counts once: "x\r\n" then "\n" is one line and one blank line */
    CHECK("id: 1\r\ndata: x\r\n\nevent: e\rdata: y\n\r\n", "message|1|x\ne|1|y\n", "1");
    /* CR LF LF: a line end then a blank line, not two blank lines */
    CHECK("data: a\r\n\ndata: b\r\n\n", "message||a\nmessage||b\n", "");
    /* LF CR: two line ends */
    CHECK("data: a\n\rdata: b\n\r", "message||a\nmessage||b\n", "");
}

Test(events, cr_then_lf_in_next_piece_is_one_line_end)
{
    /* "data: a\r" | "\ndata: b\r\n\r\n": if the LF were a line end of
     * its own, the blank line would dispatch "a" alone */
    const char *in = "data: a\r\ndata: b\r\n\r\n";
    size_t cut = strlen("data: a\r");
    int rc;
    char *got = run(in, strlen(in), &cut, 1, &rc, NULL);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, "message||a\\nb\n");
    free(got);
    /* the same with the CR alone in its piece */
    size_t cuts[2] = {strlen("data: a"), strlen("data: a\r")};
    got = run(in, strlen(in), cuts, 2, &rc, NULL);
    cr_assert_str_eq(got, "message||a\\nb\n");
    free(got);
}

Test(events, comments_ignored)
{
    CHECK(": hello\n:\n: data: no\ndata: yes\n: between\n\n", "message||yes\n", "");
    /* a comment alone dispatches nothing */
    CHECK(": keep-alive\n\n", "", "");
}

Test(events, data_with_and_without_space)
{
    /* only one space is removed */
    CHECK("data:x\n\ndata: y\n\ndata:  z\n\n", "message||x\nmessage||y\nmessage|| z\n", "");
}

Test(events, data_lines_joined)
{
    CHECK("data: one\ndata: two\ndata:three\n\n", "message||one\\ntwo\\nthree\n", "");
    /* an empty data line adds an empty line */
    CHECK("data: a\ndata\ndata: b\n\n", "message||a\\n\\nb\n", "");
}

Test(events, named_end_event)
{
    CHECK("event: end\ndata: {\"status\":\"failed\"}\n\n", "end||{\"status\":\"failed\"}\n", "");
    /* the name holds for one event only */
    CHECK("event: end\ndata: a\n\ndata: b\n\n", "end||a\nmessage||b\n", "");
    /* the last event: line wins */
    CHECK("event: one\nevent: two\ndata: a\n\n", "two||a\n", "");
}

Test(events, id_persists)
{
    CHECK("id: 5\ndata: a\n\ndata: b\n\nid: 9\ndata: c\n\n",
          "message|5|a\nmessage|5|b\nmessage|9|c\n", "9");
}

Test(events, id_kept_without_dispatch)
{
    /* an id alone, then a blank line that dispatches nothing: the id
     * stays for the next event */
    CHECK("id: 42\n\ndata: x\n\n", "message|42|x\n", "42");
    CHECK("id: 7\n\n", "", "7");
    /* an event name without data is dropped at the blank line */
    CHECK("event: end\n\ndata: x\n\n", "message||x\n", "");
    /* an empty id resets it */
    CHECK("id: 3\ndata: a\n\nid\ndata: b\n\n", "message|3|a\nmessage||b\n", "");
}

Test(events, empty_data_dispatches)
{
    CHECK("data:\n\n", "message||\n", "");
    CHECK("data: \n\n", "message||\n", "");
    CHECK("data\n\n", "message||\n", "");
}

Test(events, blank_line_without_data_dispatches_nothing)
{
    CHECK("\n\n\r\n\r\r", "", "");
    CHECK("retry: 100\nfoo: bar\n\n", "", "");
}

Test(events, unfinished_event_not_dispatched)
{
    CHECK("data: a\n\ndata: b\n", "message||a\n", "");
    CHECK("data: a\n\ndata: b", "message||a\n", "");
}

Test(events, field_without_colon_and_unknown_fields)
{
    CHECK("dat: x\ndatax: y\ndata: z\n\n", "message||z\n", "");
}

Test(events, nul_bytes_in_data)
{
    const char in[] = "data: a\0b\n\n";
    check_all_splits(in, sizeof in - 1, "message||a\\0b\n", "");
}

Test(events, callback_stops_feed)
{
    const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    seen s = {.stop_at = 2, .stop_rc = 7};
    mg_events p;
    mg_events_init(&p, on_event, &s);
    cr_assert_eq(mg_events_feed(&p, in, strlen(in)), 7);
    cr_assert_eq(s.count, 2, "the third event must not be dispatched");
    mg_events_free(&p);
    mg_buf_free(&s.log);

    /* the same when the stopping event comes in a later piece */
    seen s2 = {.stop_at = 1, .stop_rc = -5};
    mg_events_init(&p, on_event, &s2);
    cr_assert_eq(mg_events_feed(&p, "data: 1\n", 8), 0);
    cr_assert_eq(mg_events_feed(&p, "\ndata: 2\n\n", 10), -5);
    cr_assert_eq(s2.count, 1);
    mg_events_free(&p);
    mg_buf_free(&s2.log);
}

static int never(void *ctx, const mg_event *ev)
{
    (void)ctx;
    (void)ev;
    cr_assert_fail("no event may be dispatched");
    return 0;
}

Test(events, line_too_long_unfinished)
{
    size_t n = MG_EVENTS_MAX_LINE + 1;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', n - 6);
    mg_events p;
    mg_events_init(&p, never, NULL);
    cr_assert_eq(mg_events_feed(&p, big, n), -1);
    mg_events_free(&p);

    /* the same in two pieces that each fit */
    mg_events_init(&p, never, NULL);
    cr_assert_eq(mg_events_feed(&p, big, n / 2), 0);
    cr_assert_eq(mg_events_feed(&p, big + n / 2, n - n / 2), -1);
    mg_events_free(&p);
    free(big);
}

Test(events, line_too_long_with_its_end)
{
    /* the whole line and its end in one piece, and in two */
    size_t n = MG_EVENTS_MAX_LINE + 1;
    char *big = malloc(n + 2);
    cr_assert_not_null(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', n - 6);
    big[n] = '\n';
    big[n + 1] = '\n';
    mg_events p;
    mg_events_init(&p, never, NULL);
    cr_assert_eq(mg_events_feed(&p, big, n + 2), -1);
    mg_events_free(&p);

    mg_events_init(&p, never, NULL);
    cr_assert_eq(mg_events_feed(&p, big, 10), 0);
    cr_assert_eq(mg_events_feed(&p, big + 10, n + 2 - 10), -1);
    mg_events_free(&p);
    free(big);
}

Test(events, line_at_the_limit_is_fine)
{
    size_t n = MG_EVENTS_MAX_LINE;
    char *big = malloc(n + 2);
    cr_assert_not_null(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', n - 6);
    big[n] = '\n';
    big[n + 1] = '\n';
    seen s = {0};
    mg_events p;
    mg_events_init(&p, on_event, &s);
    cr_assert_eq(mg_events_feed(&p, big, n / 3), 0);
    cr_assert_eq(mg_events_feed(&p, big + n / 3, n + 2 - n / 3), 0);
    cr_assert_eq(s.count, 1);
    mg_events_free(&p);
    mg_buf_free(&s.log);
    free(big);
}

Test(events, id_too_long_to_keep_is_an_error)
{
    /* 62 zeros, "1" and "5": cut to the 63 bytes the parser keeps, the
     * id read as 1, not 15, and the follower placed the line wrongly */
    char in[160];
    snprintf(in, sizeof in, "id: %062d15\ndata: x\n\n", 0);
    int rc;
    char *got = run(in, strlen(in), NULL, 0, &rc, NULL);
    cr_assert_eq(rc, -1);
    cr_assert_str_eq(got, "", "no event with a cut id");
    free(got);
    /* 63 bytes fit */
    char id[64];
    snprintf(in, sizeof in, "id: %061d15\ndata: x\n\n", 0);
    got = run(in, strlen(in), NULL, 0, &rc, id);
    cr_assert_eq(rc, 0);
    cr_assert_eq(strlen(id), 63);
    cr_assert_str_eq(id + 61, "15");
    free(got);
}

Test(events, daemon_log_stream)
{
    CHECK(": log of build 7 from byte 0\n\n"
          "id: 58\ndata: [ 0.000] build 7: target unix, 3 actions\n\n"
          "id: 71\ndata: [ 0.004] cc main.c\n\n"
          ": keep-alive\n\n"
          "id: 72\ndata: \n\n"
          "event: end\ndata: {\"status\":\"succeeded\"}\n\n",
          "message|58|[ 0.000] build 7: target unix, 3 actions\n"
          "message|71|[ 0.004] cc main.c\n"
          "message|72|\n"
          "end|72|{\"status\":\"succeeded\"}\n",
          "72");
}

Test(events, type_is_message_by_default)
{
    int rc;
    char *got = run_whole("data: x\n\n", &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, "message||x\n");
    free(got);
}

Test(events, data_too_long_across_lines)
{
    /* lines that each fit, never a blank one: the event would grow without
     * end */
    static char line[65536 + 8];
    memcpy(line, "data: ", 6);
    memset(line + 6, 'x', 65536);
    line[65536 + 6] = '\n';
    mg_events p;
    mg_events_init(&p, never, NULL);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) rc = mg_events_feed(&p, line, 65536 + 7);
    cr_assert_eq(rc, -1);
    cr_assert_leq(p.data.len, MG_EVENTS_MAX_DATA);
    mg_events_free(&p);
}
