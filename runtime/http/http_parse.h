/*
 * http_parse.h - the HTTP/1.x request parser of the http_server device
 * (private to runtime/http/, and unit-tested and fuzzed on its own).
 *
 * Pure C: no allocation, no I/O, nothing but the mg_http_parser the
 * caller owns (a little over 1 KiB). Incremental: bytes arrive in pieces
 * of any size, as a TCP flow hands them over, and the parser keeps only
 * what it needs (the decoded path, If-None-Match, a few flags), never a
 * whole line, so its memory does not grow with the limits.
 *
 * What it accepts (docs/http.md lists it for users):
 * - a request line `METHOD SP TARGET SP HTTP/1.x`, at most
 *   MG_HTTP_REQUEST_LINE_MAX bytes (else 414), after at most a few empty
 *   lines; the target in origin form (`/a/b?q`) or absolute form
 *   (`http://host/a/b`); HTTP/1.0 and 1.1 (1.2 and up are read as 1.1, a
 *   major version other than 1 is 505);
 * - header fields `name: value` (CRLF or bare LF line ends), at most
 *   MG_HTTP_HEADER_COUNT_MAX of them and MG_HTTP_HEADERS_MAX bytes in all
 *   (else 431); no obs-fold, no space before the colon, no control bytes
 *   (else 400);
 * - methods GET and HEAD; any other well-formed method is answered 405
 *   once its request is read (its body discarded like any other);
 * - a body announced by Content-Length is read and discarded (over
 *   MG_HTTP_BODY_MAX is 413; a bad or conflicting length is 400);
 *   Transfer-Encoding on a request is 501, since the server decodes no
 *   transfer coding and a request with both framings is how requests are
 *   smuggled;
 * - HTTP/1.1 needs exactly one Host field (400 otherwise, RFC 9112 3.2).
 * Keep-alive: HTTP/1.1 keeps the connection unless `Connection: close`;
 * HTTP/1.0 closes it unless `Connection: keep-alive`.
 *
 * The path: percent-decoded (a bad escape or %00 is 400), the query
 * ignored, `.` and empty segments dropped, `..` removing the segment
 * before it (one past the root is 400: nothing escapes the store), and a
 * folder (`/`, `/docs/`, a path ending in `.` or `..`) served as its
 * `index.html`. A decoded `%2F` is a separator like `/`. The result is a
 * key of mg/kv_ro.h, without the leading `/`; a result longer than
 * MG_HTTP_PATH_MAX - 1 bytes is 414.
 */
#ifndef MG_HTTP_PARSE_H
#define MG_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_HTTP_REQUEST_LINE_MAX 8192
#define MG_HTTP_HEADERS_MAX 16384
#define MG_HTTP_HEADER_COUNT_MAX 100
#define MG_HTTP_PATH_MAX 1024
#define MG_HTTP_BODY_MAX (1024 * 1024)
/* If-None-Match values longer than this keep their first whole entries */
#define MG_HTTP_INM_MAX 256
/* empty lines tolerated before a request line (RFC 9112 2.2) */
#define MG_HTTP_LEADING_EMPTY_MAX 8

typedef enum mg_http_method {
    MG_HTTP_NONE = 0,
    MG_HTTP_GET,
    MG_HTTP_HEAD,
    MG_HTTP_OTHER, /* any other method: answered 405 */
} mg_http_method;

typedef enum mg_http_parse_result {
    MG_HTTP_PARSE_MORE,  /* every byte taken; the request is not complete */
    MG_HTTP_PARSE_DONE,  /* a request is complete; the bytes after it were not taken */
    MG_HTTP_PARSE_ERROR, /* malformed or over a limit: answer `status` and close */
} mg_http_parse_result;

typedef struct mg_http_parser {
    /* ---- the request: valid after DONE (status and method also after
     * ERROR) until mg_http_parser_reset */
    mg_http_method method;
    uint8_t minor;   /* 0: HTTP/1.0, 1: HTTP/1.1 (and later 1.x) */
    bool keep_alive; /* the connection may carry another request */
    /* 0: serve `path`; 405 after DONE; 400, 413, 414, 431, 501 or 505
     * after ERROR */
    int status;
    char path[MG_HTTP_PATH_MAX]; /* the store's key, NUL-terminated */
    bool has_if_none_match;
    char if_none_match[MG_HTTP_INM_MAX]; /* the value, trimmed, NUL-terminated */

    /* ---- the parser's own state */
    uint8_t state;
    uint8_t sub;     /* a position inside the current token */
    uint8_t hdr;     /* which header field the current line is */
    uint8_t pct;     /* the first hex digit of a %XY escape */
    uint8_t leading; /* empty lines seen before the request line */
    bool path_dir;   /* the path named a folder: index.html was added */
    bool asterisk;   /* the target was "*" */
    bool tok_over;   /* tok overflowed: it matches no word */
    bool conn_close, conn_keep_alive, has_te, has_length;
    uint8_t hosts;
    uint16_t n_headers;
    uint32_t line_len;   /* bytes of the request line so far */
    uint32_t header_len; /* bytes of the header section so far */
    uint16_t path_len;   /* decoded bytes in path */
    uint16_t inm_len;    /* bytes in if_none_match */
    uint64_t length;     /* Content-Length */
    uint64_t cur_length; /* the Content-Length of the current line */
    uint64_t body_left;  /* body bytes still to discard */
    char tok[24];        /* method, scheme, version, header name or list token */
    uint8_t tok_len;
} mg_http_parser;

/* Ready for the first request of a connection. */
void mg_http_parser_init(mg_http_parser *p);
/* Ready for the next request on the same connection, after DONE. */
void mg_http_parser_reset(mg_http_parser *p);

/* Parses up to `size` bytes; *used is how many it took (all of them
 * unless the result is DONE; none once ERROR is reached). After DONE the
 * rest of the input belongs to the next request: reset, then feed it.
 * After ERROR every call returns ERROR again and takes nothing. */
mg_http_parse_result mg_http_parse(mg_http_parser *p, const void *data, size_t size, size_t *used);

/* The reason phrase of a status this device sends ("Not Found"). */
const char *mg_http_reason(int status);

#endif
