/*
 * http_parse.c - the incremental HTTP/1.x request parser (http_parse.h):
 * one state machine fed byte by byte, so a request split anywhere parses
 * the same as a request in one piece, and no line is ever buffered.
 */
#include <string.h>

#include "http_parse.h"

enum {
    S_START,     /* before the request line (empty lines are skipped) */
    S_START_LF,  /* a CR of an empty line before the request line */
    S_METHOD,    /* the method token */
    S_TARGET,    /* the first byte of the request target */
    S_ASTERISK,  /* after "*" (OPTIONS *): a space must follow */
    S_SCHEME,    /* absolute form: the scheme */
    S_SLASHES,   /* absolute form: the "//" after "scheme:" */
    S_AUTHORITY, /* absolute form: host and port, skipped */
    S_PATH,      /* the path, being percent-decoded */
    S_PCT1,      /* after '%' */
    S_PCT2,      /* after '%' and one hex digit */
    S_QUERY,     /* the query, skipped */
    S_VERSION,   /* HTTP/x.y */
    S_LINE_LF,   /* the CR ending the request line */
    S_FIELD,     /* the start of a header line (or of the empty line) */
    S_NAME,      /* a field name */
    S_VALUE,     /* a field value */
    S_FIELD_LF,  /* the CR ending a field line */
    S_END_LF,    /* the CR of the empty line ending the headers */
    S_BODY,      /* a Content-Length body being discarded */
    S_DONE,
    S_ERROR,
};

/* the header fields the parser reads; every other is skipped */
enum { H_OTHER, H_HOST, H_CONNECTION, H_LENGTH, H_TE, H_INM };

/* tchar of RFC 9110 5.6.2: the bytes of methods and field names */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool tok_is(const mg_http_parser *p, const char *word)
{
    size_t n = strlen(word);
    return p->tok_len == n && !memcmp(p->tok, word, n);
}

/* Appends to tok; a token longer than tok is remembered as "too long",
 * which matches no word the parser looks for. */
static void tok_push(mg_http_parser *p, unsigned char c)
{
    if (p->tok_len < sizeof p->tok)
        p->tok[p->tok_len++] = (char)c;
    else
        p->tok_over = true;
}

static void tok_clear(mg_http_parser *p)
{
    p->tok_len = 0;
    p->tok_over = false;
}

void mg_http_parser_reset(mg_http_parser *p)
{
    /* everything, the path included: nothing of a request leaks into the
     * next one */
    memset(p, 0, sizeof *p);
    p->state = S_START;
}

void mg_http_parser_init(mg_http_parser *p)
{
    mg_http_parser_reset(p);
}

static mg_http_parse_result fail(mg_http_parser *p, int status)
{
    p->state = S_ERROR;
    p->status = status;
    p->keep_alive = false;
    return MG_HTTP_PARSE_ERROR;
}

static bool path_push(mg_http_parser *p, unsigned char c)
{
    /* room for the byte and the final NUL */
    if (p->path_len + 1 >= MG_HTTP_PATH_MAX) return false;
    p->path[p->path_len++] = (char)c;
    return true;
}

/* Turns the decoded path into a store key in place (see the header):
 * 0, or the status to answer. */
static int finish_path(mg_http_parser *p)
{
    char *s = p->path;
    size_t n = p->path_len, r = 0, w = 0;
    bool dir = true;
    while (r < n) {
        while (r < n && s[r] == '/') r++;
        size_t start = r;
        while (r < n && s[r] != '/') r++;
        size_t len = r - start;
        if (len == 0) { /* only slashes were left: a folder */
            dir = true;
            break;
        }
        if (len == 1 && s[start] == '.') {
            dir = true;
            continue;
        }
        if (len == 2 && s[start] == '.' && s[start + 1] == '.') {
            if (w == 0) return 400; /* above the root */
            while (w > 0 && s[w - 1] != '/') w--;
            if (w > 0) w--;
            dir = true;
            continue;
        }
        /* w <= start - 1 here, so the copy only moves bytes left */
        if (w > 0) s[w++] = '/';
        memmove(s + w, s + start, len);
        w += len;
        dir = false;
    }
    if (dir) {
        static const char index[] = "index.html";
        size_t need = w + (w ? 1 : 0) + sizeof index; /* with the NUL */
        if (need > MG_HTTP_PATH_MAX) return 414;
        if (w) s[w++] = '/';
        memcpy(s + w, index, sizeof index);
        w += sizeof index - 1;
    }
    s[w] = '\0';
    p->path_len = (uint16_t)w;
    p->path_dir = dir;
    return 0;
}

/* A field name has ended with ':': which field is it. */
static void start_value(mg_http_parser *p)
{
    p->hdr = H_OTHER;
    if (!p->tok_over) {
        if (tok_is(p, "host")) {
            p->hdr = H_HOST;
            if (p->hosts < 2) p->hosts++;
        } else if (tok_is(p, "connection")) {
            p->hdr = H_CONNECTION;
        } else if (tok_is(p, "content-length")) {
            p->hdr = H_LENGTH;
            p->cur_length = 0;
        } else if (tok_is(p, "transfer-encoding")) {
            p->hdr = H_TE;
            p->has_te = true;
        } else if (tok_is(p, "if-none-match")) {
            p->hdr = H_INM;
            /* a second field continues the list of the first */
            if (p->inm_len && p->inm_len + 1 < MG_HTTP_INM_MAX)
                p->if_none_match[p->inm_len++] = ',';
            p->has_if_none_match = true;
        }
    }
    tok_clear(p);
    p->sub = 0;
}

static void connection_token(mg_http_parser *p)
{
    if (!p->tok_over) {
        if (tok_is(p, "close")) p->conn_close = true;
        if (tok_is(p, "keep-alive")) p->conn_keep_alive = true;
    }
    tok_clear(p);
    p->sub = 0;
}

/* One byte of a field value (not CR, LF or a control byte): false if it
 * makes the request malformed. */
static bool value_byte(mg_http_parser *p, unsigned char c)
{
    bool ows = c == ' ' || c == '\t';
    switch (p->hdr) {
    case H_LENGTH:
        /* sub: 0 before the digits, 1 in them, 2 after them */
        if (ows) {
            if (p->sub == 1) p->sub = 2;
            return true;
        }
        if (c < '0' || c > '9' || p->sub == 2) return false;
        p->sub = 1;
        /* anything over a petabyte is "too large" all the same */
        if (p->cur_length < 1000000000000000u) p->cur_length = p->cur_length * 10 + (c - '0');
        return true;
    case H_CONNECTION:
        /* sub: 1 once spaces follow a token, which then must end */
        if (c == ',') {
            connection_token(p);
        } else if (ows) {
            if (p->tok_len) p->sub = 1;
        } else {
            if (p->sub == 1) p->tok_over = true; /* "keep alive": no token we know */
            tok_push(p, lower(c));
        }
        return true;
    case H_INM:
        if (p->sub) return true; /* overflowed: the rest is dropped */
        if (ows && (p->inm_len == 0 || p->if_none_match[p->inm_len - 1] == ',')) return true;
        if (p->inm_len + 1 < MG_HTTP_INM_MAX) {
            p->if_none_match[p->inm_len++] = (char)c;
        } else {
            /* keep the entries that fit whole: cut at the last comma */
            p->sub = 1;
            while (p->inm_len && p->if_none_match[p->inm_len - 1] != ',') p->inm_len--;
            if (p->inm_len) p->inm_len--;
        }
        return true;
    default:
        return true;
    }
}

/* The end of a field line: 0, or the status to answer. */
static int end_field(mg_http_parser *p)
{
    switch (p->hdr) {
    case H_LENGTH:
        if (p->sub == 0) return 400; /* empty */
        if (p->has_length && p->length != p->cur_length) return 400;
        p->has_length = true;
        p->length = p->cur_length;
        break;
    case H_CONNECTION:
        connection_token(p);
        break;
    case H_INM:
        while (p->inm_len && (p->if_none_match[p->inm_len - 1] == ' ' ||
                              p->if_none_match[p->inm_len - 1] == '\t'))
            p->inm_len--;
        p->if_none_match[p->inm_len] = '\0';
        break;
    default:
        break;
    }
    p->hdr = H_OTHER;
    p->sub = 0;
    if (++p->n_headers > MG_HTTP_HEADER_COUNT_MAX) return 431;
    return 0;
}

/* The empty line ending the headers: what the request is, in the order
 * malformed (400), unsupported (501), too large (413), not allowed (405). */
static int end_headers(mg_http_parser *p)
{
    if (p->minor >= 1 && p->hosts != 1) return 400;
    if (p->hosts > 1) return 400;
    if (p->asterisk && p->method != MG_HTTP_OTHER) return 400;
    if (p->has_te) return 501;
    if (p->has_length && p->length > MG_HTTP_BODY_MAX) return 413;
    if (p->minor >= 1)
        p->keep_alive = !p->conn_close;
    else
        p->keep_alive = p->conn_keep_alive && !p->conn_close;
    p->body_left = p->has_length ? p->length : 0;
    return 0;
}

static bool version_ok(const mg_http_parser *p, int *status)
{
    const char *v = p->tok;
    if (p->tok_over || p->tok_len != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' ||
        v[5] > '9' || v[7] < '0' || v[7] > '9') {
        *status = 400;
        return false;
    }
    if (v[5] != '1') {
        *status = 505;
        return false;
    }
    return true;
}

mg_http_parse_result mg_http_parse(mg_http_parser *p, const void *data, size_t size, size_t *used)
{
    const unsigned char *in = data;
    size_t i = 0;
    int st;
    *used = 0;
    if (p->state == S_ERROR) return MG_HTTP_PARSE_ERROR;
    if (p->state == S_DONE) return MG_HTTP_PARSE_DONE;
    while (i < size) {
        if (p->state == S_BODY) {
            size_t take = size - i;
            if (take > p->body_left) take = (size_t)p->body_left;
            i += take;
            p->body_left -= take;
            if (p->body_left == 0) {
                p->state = S_DONE;
                break;
            }
            continue;
        }
        unsigned char c = in[i++];
        *used = i;
        /* the limits, counted on every byte so that no state forgets */
        if (p->state >= S_METHOD && p->state <= S_VERSION) {
            /* the line's end is not the line's */
            bool end = p->state == S_VERSION && (c == '\r' || c == '\n');
            if (!end && ++p->line_len > MG_HTTP_REQUEST_LINE_MAX) return fail(p, 414);
        } else if (p->state >= S_FIELD && p->state <= S_END_LF) {
            if (++p->header_len > MG_HTTP_HEADERS_MAX) return fail(p, 431);
        }
        switch (p->state) {
        case S_START:
            if (c == '\r' || c == '\n') {
                if (++p->leading > MG_HTTP_LEADING_EMPTY_MAX) return fail(p, 400);
                if (c == '\r') p->state = S_START_LF;
                break;
            }
            p->state = S_METHOD;
            p->line_len = 1;
            if (!is_tchar(c)) return fail(p, 400);
            tok_push(p, c);
            break;
        case S_START_LF:
            if (c != '\n') return fail(p, 400);
            p->state = S_START;
            break;
        case S_METHOD:
            if (c == ' ') {
                if (!p->tok_over && tok_is(p, "GET"))
                    p->method = MG_HTTP_GET;
                else if (!p->tok_over && tok_is(p, "HEAD"))
                    p->method = MG_HTTP_HEAD;
                else
                    p->method = MG_HTTP_OTHER;
                tok_clear(p);
                p->state = S_TARGET;
            } else if (is_tchar(c)) {
                tok_push(p, c);
            } else {
                return fail(p, 400);
            }
            break;
        case S_TARGET:
            if (c == '/') {
                path_push(p, '/');
                p->state = S_PATH;
            } else if (c == '*') {
                p->asterisk = true;
                p->state = S_ASTERISK;
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                tok_push(p, lower(c));
                p->state = S_SCHEME;
            } else {
                return fail(p, 400);
            }
            break;
        case S_ASTERISK:
            if (c != ' ') return fail(p, 400);
            tok_clear(p);
            p->state = S_VERSION;
            break;
        case S_SCHEME:
            if (c == ':') {
                if (p->tok_over || (!tok_is(p, "http") && !tok_is(p, "https"))) return fail(p, 400);
                tok_clear(p);
                p->sub = 0;
                p->state = S_SLASHES;
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '-' || c == '.') {
                tok_push(p, lower(c));
            } else {
                return fail(p, 400);
            }
            break;
        case S_SLASHES:
            if (c != '/') return fail(p, 400);
            if (++p->sub == 2) p->state = S_AUTHORITY;
            break;
        case S_AUTHORITY:
            if (c == '/' || c == '?' || c == ' ') {
                path_push(p, '/');
                if (c == '/') {
                    p->state = S_PATH;
                } else if (c == '?') {
                    p->state = S_QUERY;
                } else {
                    if ((st = finish_path(p))) return fail(p, st);
                    p->state = S_VERSION;
                }
            } else if (c <= 0x20 || c >= 0x7f || c == '#') {
                return fail(p, 400);
            }
            break;
        case S_PATH:
            if (c == ' ') {
                if ((st = finish_path(p))) return fail(p, st);
                p->state = S_VERSION;
            } else if (c == '%') {
                p->state = S_PCT1;
            } else if (c == '?') {
                p->state = S_QUERY;
            } else if (c <= 0x20 || c >= 0x7f || c == '#') {
                return fail(p, 400);
            } else if (!path_push(p, c)) {
                return fail(p, 414);
            }
            break;
        case S_PCT1: {
            int v = hex_value(c);
            if (v < 0) return fail(p, 400);
            p->pct = (uint8_t)v;
            p->state = S_PCT2;
            break;
        }
        case S_PCT2: {
            int v = hex_value(c);
            if (v < 0) return fail(p, 400);
            unsigned char b = (unsigned char)(p->pct << 4 | v);
            if (b == 0) return fail(p, 400);
            if (!path_push(p, b)) return fail(p, 414);
            p->state = S_PATH;
            break;
        }
        case S_QUERY:
            if (c == ' ') {
                if ((st = finish_path(p))) return fail(p, st);
                p->state = S_VERSION;
            } else if (c <= 0x20 || c >= 0x7f || c == '#') {
                return fail(p, 400);
            }
            break;
        case S_VERSION:
            if (c == '\r' || c == '\n') {
                if (!version_ok(p, &st)) return fail(p, st);
                p->minor = p->tok[7] == '0' ? 0 : 1;
                tok_clear(p);
                p->state = c == '\r' ? S_LINE_LF : S_FIELD;
            } else if (c <= 0x20 || c >= 0x7f) {
                return fail(p, 400);
            } else {
                tok_push(p, c);
            }
            break;
        case S_LINE_LF:
            if (c != '\n') return fail(p, 400);
            p->state = S_FIELD;
            break;
        case S_FIELD:
            if (c == '\r') {
                p->state = S_END_LF;
            } else if (c == '\n') {
                goto headers_done;
            } else if (is_tchar(c)) {
                tok_clear(p);
                tok_push(p, lower(c));
                p->state = S_NAME;
            } else {
                return fail(p, 400); /* obs-fold, or a stray byte */
            }
            break;
        case S_NAME:
            if (c == ':') {
                start_value(p);
                p->state = S_VALUE;
            } else if (is_tchar(c)) {
                tok_push(p, lower(c));
            } else {
                return fail(p, 400); /* a space before the colon too */
            }
            break;
        case S_VALUE:
            if (c == '\r' || c == '\n') {
                if ((st = end_field(p))) return fail(p, st);
                p->state = c == '\r' ? S_FIELD_LF : S_FIELD;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return fail(p, 400);
            } else if (!value_byte(p, c)) {
                return fail(p, 400);
            }
            break;
        case S_FIELD_LF:
            if (c != '\n') return fail(p, 400);
            p->state = S_FIELD;
            break;
        case S_END_LF:
            if (c != '\n') return fail(p, 400);
            goto headers_done;
        default:
            return fail(p, 500); /* not reached: S_BODY is handled above */
        }
        continue;
    headers_done:
        if ((st = end_headers(p))) return fail(p, st);
        if (p->method == MG_HTTP_OTHER) p->status = 405;
        if (p->body_left == 0) {
            p->state = S_DONE;
            break;
        }
        p->state = S_BODY;
    }
    *used = i;
    return p->state == S_DONE ? MG_HTTP_PARSE_DONE : MG_HTTP_PARSE_MORE;
}

const char *mg_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
