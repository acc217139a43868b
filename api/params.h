/*
 * params.h - reading what HTTP says: pages of lists and their Link
 * header, byte ranges, entity tags, media types, bearer credentials, and
 * writing times. (Numbers are read by base/num.h; ids, project names and
 * request bodies are domain rules, in service/input.h.)
 *
 * Pure functions (no I/O, no engine), unit-tested in tests/api_unit. The
 * rules are docs/api.md's:
 *   - page >= 1, per_page 1..100 (default 20);
 *   - Range is one range of bytes; anything else is ignored, as RFC 9110
 *     allows, except what can never be satisfied.
 */
#ifndef MG_API_PARAMS_H
#define MG_API_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "api/router.h"

#define MG_PER_PAGE_DEFAULT 20
#define MG_PER_PAGE_MAX 100
/* Pages beyond this are refused, so offsets never overflow. */
#define MG_PAGE_MAX ((int64_t)1000000000000)

typedef struct mg_page {
    int64_t page, per_page;
} mg_page;

/* Reads `page` and `per_page` from the query; -1 (MG_E_INVALID, a 400)
 * when one is not a number in its range. */
int mg_page_parse(const mg_query *q, mg_page *out, mg_err *e);
int64_t mg_page_offset(const mg_page *p);
/* The last page for `total` items (1 when there are none). */
int64_t mg_page_last(int64_t total, int64_t per_page);
/* The value of the Link header: rel first, prev (if any), next (if any),
 * last; each URL is `path` with the query's other parameters (in their
 * order, re-encoded) and then page and per_page. `path` is written as is
 * (the caller encodes it). */
void mg_page_link(mg_buf *b, const char *path, const mg_query *q, const mg_page *p, int64_t total);

typedef enum {
    MG_RANGE_NONE,         /* no Range, or one to ignore: send everything (200) */
    MG_RANGE_OK,           /* send [start, start + len) (206) */
    MG_RANGE_UNSATISFIABLE /* 416 */
} mg_range_result;

mg_range_result mg_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len);

/* Whether an If-None-Match header matches the strong tag "\"<tag>\""
 * ("*" matches anything; weak W/ tags compare by their opaque part, as
 * RFC 9110 13.1.2 wants for If-None-Match). */
bool mg_etag_match(const char *if_none_match, const char *tag);

/* Whether a Content-Type is application/json (parameters allowed). */
bool mg_content_type_is_json(const char *ct);

/* The token of "Authorization: Bearer <token>": a pointer into `header`
 * and its length, or NULL when the header is not a bearer credential. */
const char *mg_bearer_token(const char *header, size_t *len);

/* RFC 3339 UTC with seconds, "2026-11-23T15:04:05Z", from unix ms. */
void mg_format_time(int64_t unix_ms, char buf[32]);

/* Whether the Accept header asks for text/event-stream (not with q=0). */
bool mg_accepts_event_stream(const char *accept);

#endif
