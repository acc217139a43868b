#include "graph/json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/utf8.h"

static void position(const char *bytes, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (bytes[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

/* One pass over the bytes before cJSON sees them. */
static bool prescan(const char *bytes, size_t len, int max_depth, const char *path, mg_errors *errs)
{
    const unsigned char *b = (const unsigned char *)bytes;
    int depth = 0;
    bool in_string = false;
    size_t line, col;
    for (size_t i = 0; i < len;) {
        unsigned char c = b[i];
        if (c == 0) {
            position(bytes, i, &line, &col);
            mg_errors_add(errs, MG_ERR_PARSE_ERROR, path,
                          "NUL byte at line %zu, column %zu: not JSON text", line, col);
            return false;
        }
        size_t n = mg_utf8_len(b + i, len - i);
        if (!n) {
            position(bytes, i, &line, &col);
            mg_errors_add(errs, MG_ERR_PARSE_ERROR, path, "invalid UTF-8 at line %zu, column %zu",
                          line, col);
            return false;
        }
        if (in_string) {
            if (c == '\\' && i + 1 < len) {
                if (b[i + 1] == 'u' && i + 5 < len && !memcmp(b + i + 2, "0000", 4)) {
                    position(bytes, i, &line, &col);
                    mg_errors_add(errs, MG_ERR_PARSE_ERROR, path,
                                  "\\u0000 at line %zu, column %zu: strings cannot contain NUL",
                                  line, col);
                    return false;
                }
                i += 2;
                continue;
            }
            if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                position(bytes, i, &line, &col);
                mg_errors_add(errs, MG_ERR_LIMIT, path,
                              "nesting deeper than %d at line %zu, column %zu", max_depth, line,
                              col);
                return false;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
        i += n;
    }
    return true;
}

cJSON *mg_json_parse(const char *bytes, size_t len, size_t max_bytes, int max_depth,
                     const char *path, mg_errors *errs)
{
    if (len > max_bytes) {
        mg_errors_add(errs, MG_ERR_LIMIT, path, "document is %zu bytes; the limit is %zu", len,
                      max_bytes);
        return NULL;
    }
    if (!prescan(bytes, len, max_depth, path, errs)) return NULL;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(bytes, len, &end, false);
    size_t off;
    if (json) {
        /* allow trailing whitespace only */
        off = (size_t)(end - bytes);
        while (off < len && strchr(" \t\r\n", bytes[off])) off++;
        if (off == len) return json;
        cJSON_Delete(json);
    } else {
        off = end ? (size_t)(end - bytes) : 0;
        if (off > len) off = len;
    }
    size_t line, col;
    position(bytes, off, &line, &col);
    if (off >= len)
        mg_errors_add(errs, MG_ERR_PARSE_ERROR, path,
                      "not valid JSON: unexpected end of input at line %zu, column %zu", line, col);
    else
        mg_errors_add(errs, MG_ERR_PARSE_ERROR, path,
                      "not valid JSON: unexpected '%c' at line %zu, column %zu",
                      bytes[off] >= 0x20 && bytes[off] < 0x7f ? bytes[off] : '?', line, col);
    return NULL;
}
