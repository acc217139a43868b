/*
 * input.c - ids and names, request body checks, build keys, canonical
 * config documents and inline sources.
 */
#include "service/input.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/num.h"
#include "base/sha256.h"
#include "base/utf8.h"

bool mg_parse_id(const char *s, int64_t *out)
{
    if (!s || *s == '-') return false;
    return mg_parse_i64(s, 1, MG_ID_MAX, out) == 0;
}

bool mg_project_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0]))) return false;
    bool all_digits = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '_' || c == '.' || c == '-'));
        if (!ok) return false;
        if (!(c >= '0' && c <= '9')) all_digits = false;
    }
    return !all_digits;
}

/* Whether the JSON text escapes a NUL ("\u0000"), which C strings cannot
 * hold: cJSON would cut the string there and a path "a\u0000b" would
 * silently become "a". Outside strings a backslash is a syntax error
 * anyway, so escapes are found without tracking strings. */
static bool has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 5 < len && !memcmp(s + i + 2, "0000", 4)) return true;
        i++; /* skip the escaped character */
    }
    return false;
}

int mg_json_parse_body(const char *body, size_t len, cJSON **out, mg_err *e)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
        i++;
    if (i == len) return 0;
    if (memchr(body, 0, len)) return mg_err_set(e, MG_E_INVALID, "the body contains a NUL byte");
    if (!mg_utf8_valid(body, len))
        return mg_err_set(e, MG_E_INVALID, "the body is not valid UTF-8");
    if (has_nul_escape(body, len))
        return mg_err_set(e, MG_E_INVALID, "strings in the body must not contain NUL (\\u0000)");
    const char *end = NULL;
    /* The body is NUL-terminated past len: with require_null_terminated,
     * cJSON refuses anything but whitespace after the value. */
    cJSON *j = cJSON_ParseWithLengthOpts(body, len + 1, &end, 1);
    if (!j) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return mg_err_set(e, MG_E_INVALID, "the body is not valid JSON (near byte %zu)", at);
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mg_err_set(e, MG_E_INVALID, "the body must be a JSON object");
    }
    *out = j;
    return 0;
}

static bool is_integer(const cJSON *v)
{
    double d = v->valuedouble;
    return isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0;
}

static unsigned type_of(const cJSON *v)
{
    if (cJSON_IsString(v)) return MG_JT_STRING;
    if (cJSON_IsNumber(v)) return is_integer(v) ? MG_JT_INTEGER | MG_JT_NUMBER : MG_JT_NUMBER;
    if (cJSON_IsBool(v)) return MG_JT_BOOL;
    if (cJSON_IsObject(v)) return MG_JT_OBJECT;
    if (cJSON_IsArray(v)) return MG_JT_ARRAY;
    if (cJSON_IsNull(v)) return MG_JT_NULL;
    return 0;
}

void mg_json_types_text(unsigned types, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {MG_JT_STRING, "a string"}, {MG_JT_INTEGER, "an integer"}, {MG_JT_NUMBER, "a number"},
        {MG_JT_BOOL, "a boolean"},  {MG_JT_OBJECT, "an object"},   {MG_JT_ARRAY, "an array"},
        {MG_JT_NULL, "null"},
    };
    size_t n = 0, count = 0, total = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (types & names[i].bit) total++;
    if (size) buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(types & names[i].bit)) continue;
        count++;
        const char *sep = count == 1 ? "" : count == total ? " or " : ", ";
        int w = snprintf(buf + n, size - n, "%s%s", sep, names[i].name);
        if (w < 0 || (size_t)w >= size - n) return;
        n += (size_t)w;
    }
}

int mg_json_check_fields(const cJSON *obj, const mg_field *fields, size_t n, const char *where,
                         mg_err *e)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        const char *name = m->string ? m->string : "";
        const mg_field *f = NULL;
        for (size_t i = 0; i < n && !f; i++)
            if (!strcmp(fields[i].name, name)) f = &fields[i];
        if (!f) return mg_err_set(e, MG_E_INVALID, "unknown field \"%s%s\"", where, name);
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (o->string && !strcmp(o->string, name))
                return mg_err_set(e, MG_E_INVALID, "field \"%s%s\" is given twice", where, name);
        if (!(type_of(m) & f->types)) {
            char t[96];
            mg_json_types_text(f->types, t, sizeof t);
            return mg_err_set(e, MG_E_INVALID, "field \"%s%s\" must be %s", where, name, t);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (fields[i].required && !cJSON_GetObjectItemCaseSensitive(obj, fields[i].name))
            return mg_err_set(e, MG_E_INVALID, "field \"%s%s\" is required", where, fields[i].name);
    return 0;
}

void mg_keys_free(mg_keys *k)
{
    free(k->items);
    free(k->text);
    *k = (mg_keys){0};
}

/* Lays out n name/value pairs: one allocation for the settings and one for
 * the text they point into. */
static int keys_alloc(mg_keys *out, size_t n, size_t text_bytes)
{
    *out = (mg_keys){0};
    out->items = calloc(n ? n : 1, sizeof *out->items);
    out->text = malloc(text_bytes ? text_bytes : 1);
    if (!out->items || !out->text) {
        mg_keys_free(out);
        return -1;
    }
    return 0;
}

static void number_text(double d, char *buf, size_t size)
{
    if (d == floor(d) && fabs(d) < 9.2e18)
        snprintf(buf, size, "%" PRId64, (int64_t)d);
    else
        snprintf(buf, size, "%.17g", d);
}

int mg_keys_from_json(const cJSON *obj, mg_keys *out, mg_err *e)
{
    size_t n = 0, bytes = 0;
    char num[40];
    for (const cJSON *m = obj->child; m; m = m->next) {
        const char *name = m->string ? m->string : "";
        if (!*name) return mg_err_set(e, MG_E_INVALID, "keys: a key name is empty");
        /* the duplicate check below is quadratic: a bound keeps a request
         * from holding a thread for minutes; no document has this many */
        if (++n > MG_KEYS_MAX)
            return mg_err_set(e, MG_E_INVALID, "keys: more than %d keys", MG_KEYS_MAX);
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (o->string && !strcmp(o->string, name))
                return mg_err_set(e, MG_E_INVALID, "keys: \"%s\" is given twice", name);
        size_t vlen;
        if (cJSON_IsString(m)) {
            vlen = strlen(m->valuestring);
        } else if (cJSON_IsNumber(m)) {
            if (!isfinite(m->valuedouble))
                return mg_err_set(e, MG_E_INVALID, "keys: \"%s\" is not a finite number", name);
            /* 2^53 + 1 reads as 2^53: past 2^53 - 1 the number sent may
             * not be the one written (as the resolver says of documents) */
            if (fabs(m->valuedouble) >= 9007199254740992.0)
                return mg_err_set(
                    e, MG_E_INVALID,
                    "keys: \"%s\" is a number beyond +-(2^53 - 1), where JSON numbers stop "
                    "being exact: send it as a string of decimal digits instead",
                    name);
            number_text(m->valuedouble, num, sizeof num);
            vlen = strlen(num);
        } else if (cJSON_IsBool(m)) {
            vlen = 5;
        } else {
            return mg_err_set(e, MG_E_INVALID,
                              "keys: \"%s\" must be a string, a number or a boolean", name);
        }
        bytes += vlen + 1;
    }
    if (keys_alloc(out, n, bytes) != 0) return mg_err_set(e, MG_E_NOMEM, "out of memory");
    size_t used = 0;
    for (const cJSON *m = obj->child; m; m = m->next) {
        const char *v;
        if (cJSON_IsString(m))
            v = m->valuestring;
        else if (cJSON_IsNumber(m)) {
            number_text(m->valuedouble, num, sizeof num);
            v = num;
        } else
            v = cJSON_IsTrue(m) ? "true" : "false";
        size_t l = strlen(v);
        memcpy(out->text + used, v, l + 1);
        out->items[out->n++] = (mg_key_pair){m->string, out->text + used};
        used += l + 1;
    }
    return 0;
}

int mg_keys_from_pairs(const char *const *pairs, size_t n, mg_keys *out, mg_err *e)
{
    size_t bytes = 0;
    if (n > MG_KEYS_MAX) return mg_err_set(e, MG_E_INVALID, "more than %d keys", MG_KEYS_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(pairs[i], '=');
        if (!eq || eq == pairs[i])
            return mg_err_set(e, MG_E_INVALID, "key must be NAME=VALUE, not \"%s\"", pairs[i]);
        bytes += strlen(pairs[i]) + 1;
    }
    if (keys_alloc(out, n, bytes) != 0) return mg_err_set(e, MG_E_NOMEM, "out of memory");
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(pairs[i]);
        char *t = out->text + used;
        memcpy(t, pairs[i], l + 1);
        char *eq = strchr(t, '=');
        *eq = 0;
        out->items[out->n++] = (mg_key_pair){t, eq + 1};
        used += l + 1;
    }
    return 0;
}

static int cmp_member(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

int mg_sources_canonical(cJSON *sources, char **json, char sha256[MG_SHA256_HEX_SIZE],
                         int64_t *files, int64_t *bytes)
{
    size_t n = 0;
    int64_t total = 0;
    for (cJSON *m = sources->child; m; m = m->next) {
        n++;
        if (cJSON_IsString(m)) total += (int64_t)strlen(m->valuestring);
    }
    cJSON **items = malloc((n ? n : 1) * sizeof *items);
    if (!items) return -1;
    size_t i = 0;
    /* Detach every member and put them back in order: AddItemToArray keeps
     * each member's name, so the object is reordered without copies. */
    while (sources->child) items[i++] = cJSON_DetachItemViaPointer(sources, sources->child);
    qsort(items, n, sizeof *items, cmp_member);
    for (i = 0; i < n; i++) cJSON_AddItemToArray(sources, items[i]);
    free(items);
    char *text = cJSON_PrintUnformatted(sources);
    if (!text) return -1;
    mg_sha256_bytes_hex(text, strlen(text), sha256);
    *json = text;
    *files = (int64_t)n;
    *bytes = total;
    return 0;
}

/* Appends the canonical text of `v`; false at a number JSON cannot hold. */
static bool canonical(mg_buf *b, const cJSON *v)
{
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        bool obj = cJSON_IsObject(v);
        mg_buf_adds(b, obj ? "{" : "[");
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) mg_buf_adds(b, ",");
            if (obj) {
                const char *k = c->string ? c->string : "";
                mg_buf_json_string(b, k, strlen(k));
                mg_buf_adds(b, ":");
            }
            if (!canonical(b, c)) return false;
        }
        mg_buf_adds(b, obj ? "}" : "]");
    } else if (cJSON_IsString(v)) {
        mg_buf_json_string(b, v->valuestring, strlen(v->valuestring));
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!isfinite(d)) return false;
        /* integers exactly (cJSON's own printer rounds 2^53 - 1), anything
         * else with the digits that read back to the same double */
        if (d == floor(d) && fabs(d) <= 9007199254740992.0)
            mg_buf_printf(b, "%lld", (long long)d);
        else
            mg_buf_printf(b, "%.17g", d);
    } else if (cJSON_IsBool(v)) {
        mg_buf_adds(b, cJSON_IsTrue(v) ? "true" : "false");
    } else {
        mg_buf_adds(b, "null");
    }
    return true;
}

char *mg_json_canonical(const cJSON *v, mg_err *e)
{
    mg_buf b = {0};
    if (!canonical(&b, v)) {
        mg_buf_free(&b);
        mg_err_set(e, MG_E_INVALID, "a number is too large for JSON");
        return NULL;
    }
    char *text = mg_buf_take(&b, NULL);
    if (!text) mg_err_set(e, MG_E_NOMEM, "out of memory");
    return text;
}
