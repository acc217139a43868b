#include "graph/keys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [MG_KEY_BOOL] = "bool", [MG_KEY_INT] = "int",   [MG_KEY_STRING] = "string",
    [MG_KEY_ENUM] = "enum", [MG_KEY_IPV4] = "ipv4", [MG_KEY_IPV4_PREFIX] = "ipv4_prefix",
};

const char *mg_key_type_name(mg_key_type type)
{
    return type_names[type];
}

bool mg_key_type_parse(const char *name, mg_key_type *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (!strcmp(name, type_names[i])) {
            *out = (mg_key_type)i;
            return true;
        }
    return false;
}

const char *mg_key_stage_name(mg_key_stage stage)
{
    return stage == MG_STAGE_CONFIGURE ? "configure" : "runtime";
}

/* Dotted quad, each part 0-255 without leading zeros (so "010" is not
 * silently read as 10 or 8). `end` gets the first unread character. */
static bool parse_ipv4(const char *s, uint32_t *out, const char **end)
{
    uint32_t addr = 0;
    for (int part = 0; part < 4; part++) {
        if (part && *s++ != '.') return false;
        if (*s < '0' || *s > '9') return false;
        unsigned v = 0;
        const char *start = s;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s++ - '0');
            if (v > 255) return false;
        }
        if (s - start > 1 && *start == '0') return false;
        addr = addr << 8 | v;
    }
    *out = addr;
    *end = s;
    return true;
}

static void format_ipv4(uint32_t a, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

bool mg_key_value_from_text(mg_key_type type, const char *const *values, size_t n_values,
                            const char *text, mg_key_value *out, char *canon, size_t canon_size,
                            mg_err *why)
{
    *out = (mg_key_value){.type = type, .text = canon};
    const char *end;
    switch (type) {
    case MG_KEY_BOOL:
        if (!strcmp(text, "true"))
            out->b = true;
        else if (strcmp(text, "false")) {
            mg_err_set(why, MG_E_INVALID, "expected true or false, got \"%s\"", text);
            return false;
        }
        snprintf(canon, canon_size, "%s", out->b ? "true" : "false");
        return true;
    case MG_KEY_INT: {
        char *e;
        errno = 0;
        long long v = strtoll(text, &e, 10);
        /* strtoll would also skip leading blanks and take a '+' */
        bool digits =
            text[0] == '-' ? text[1] >= '0' && text[1] <= '9' : text[0] >= '0' && text[0] <= '9';
        if (!digits || *e || errno) {
            mg_err_set(why, MG_E_INVALID, "expected a 64-bit integer, got \"%s\"", text);
            return false;
        }
        out->i = v;
        snprintf(canon, canon_size, "%" PRId64, out->i);
        return true;
    }
    case MG_KEY_STRING:
        snprintf(canon, canon_size, "%s", text);
        return true;
    case MG_KEY_ENUM:
        for (size_t i = 0; i < n_values; i++)
            if (!strcmp(values[i], text)) {
                snprintf(canon, canon_size, "%s", text);
                return true;
            }
        {
            /* the list is written piece by piece: cut where the message ends */
            mg_err_set(why, MG_E_INVALID, "\"%s\" is not one of", text);
            size_t n = why ? strlen(why->msg) : sizeof why->msg;
            for (size_t i = 0; i < n_values && n + 1 < sizeof why->msg; i++) {
                int k =
                    snprintf(why->msg + n, sizeof why->msg - n, "%s %s", i ? "," : "", values[i]);
                if (k < 0) break;
                n += (size_t)k;
            }
        }
        return false;
    case MG_KEY_IPV4:
        if (!parse_ipv4(text, &out->ipv4, &end) || *end) {
            mg_err_set(why, MG_E_INVALID, "expected an IPv4 address like 10.0.0.2, got \"%s\"",
                       text);
            return false;
        }
        format_ipv4(out->ipv4, canon, canon_size);
        return true;
    case MG_KEY_IPV4_PREFIX: {
        unsigned len = 0;
        const char *p;
        bool ok = parse_ipv4(text, &out->ipv4, &end) && *end == '/';
        if (ok) {
            p = end + 1;
            ok = *p >= '0' && *p <= '9' && !(p[0] == '0' && p[1]);
            while (ok && *p >= '0' && *p <= '9' && len <= 32)
                len = len * 10 + (unsigned)(*p++ - '0');
            ok = ok && !*p && len <= 32;
        }
        if (!ok) {
            mg_err_set(why, MG_E_INVALID, "expected an IPv4 prefix like 10.0.0.2/24, got \"%s\"",
                       text);
            return false;
        }
        out->prefix_len = (uint8_t)len;
        char addr[16];
        format_ipv4(out->ipv4, addr, sizeof addr);
        snprintf(canon, canon_size, "%s/%u", addr, len);
        return true;
    }
    }
    return false;
}

bool mg_key_value_equal(const mg_key_value *a, const mg_key_value *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case MG_KEY_BOOL:
        return a->b == b->b;
    case MG_KEY_INT:
        return a->i == b->i;
    case MG_KEY_IPV4:
        return a->ipv4 == b->ipv4;
    case MG_KEY_IPV4_PREFIX:
        return a->ipv4 == b->ipv4 && a->prefix_len == b->prefix_len;
    default:
        return !strcmp(a->text, b->text);
    }
}
