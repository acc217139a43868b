/*
 * reporter.c - the `log_reporter` device (mg/reporter.h): messages on the
 * platform console, filtered by a levels spec such as "*:info,net:debug".
 *
 * The spec is parsed once at connect into a list of rules kept in spec
 * order; a message is checked against them from the last one back, so
 * "later items win" costs nothing more than stopping at the first match.
 * Images log from a handful of sources, and specs have a few items: a
 * linear scan beats any index here.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/reporter.h"

/* The level a rule lets through; 0 lets nothing through. */
enum { MG_LOG_QUIET = 0 };

struct mg_log_rule {
    const char *source; /* NULL: every source (`*`) */
    size_t source_len;
    int level;
};

struct mg_log_reporter {
    mg_reporter base;
    size_t n_rules;
    struct mg_log_rule rules[]; /* then a copy of the spec, which they point into */
};

static bool mg_log_rule_matches(const struct mg_log_rule *rule, const char *source)
{
    return !rule->source ||
           (strncmp(rule->source, source, rule->source_len) == 0 && !source[rule->source_len]);
}

static bool mg_log_reporter_enabled(mg_reporter *base, mg_log_level level, const char *source)
{
    struct mg_log_reporter *r = (struct mg_log_reporter *)base;
    int threshold = MG_LOG_INFO;
    for (size_t i = r->n_rules; i-- > 0;)
        if (mg_log_rule_matches(&r->rules[i], source)) {
            threshold = r->rules[i].level;
            break;
        }
    return (int)level <= threshold;
}

static void mg_log_reporter_emit(mg_reporter *base, mg_log_level level, const char *source,
                                 const char *fmt, va_list ap)
{
    (void)base;
    mg_reporter_print(level, source, fmt, ap);
}

static const struct mg_reporter_ops mg_log_reporter_ops = {
    .enabled = mg_log_reporter_enabled,
    .emit = mg_log_reporter_emit,
};

static bool mg_log_source_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '/';
}

static int mg_log_parse_level(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"debug", MG_LOG_DEBUG},
                  {"info", MG_LOG_INFO},
                  {"warning", MG_LOG_WARNING},
                  {"error", MG_LOG_ERROR},
                  {"quiet", MG_LOG_QUIET}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strlen(levels[i].name) == len && memcmp(levels[i].name, s, len) == 0)
            return levels[i].level;
    return -1;
}

/* Parses the item [item, item + len) into *rule, or prints why not. */
static bool mg_log_parse_item(const char *spec, const char *item, size_t len,
                              struct mg_log_rule *rule)
{
    const char *colon = memchr(item, ':', len);
    const char *level = colon ? colon + 1 : item;
    size_t level_len = (size_t)(item + len - level);
    if (len == 0) {
        mg_printf("log_reporter: bad log levels '%s': empty item (items are SRC:LEVEL, "
                  "separated by commas)\n",
                  spec);
        return false;
    }
    rule->source = NULL;
    rule->source_len = 0;
    if (colon) {
        size_t source_len = (size_t)(colon - item);
        if (source_len == 0) {
            mg_printf("log_reporter: bad log levels '%s': item '%.*s' has no source before "
                      "':' (use * for every source)\n",
                      spec, (int)len, item);
            return false;
        }
        if (!(source_len == 1 && item[0] == '*')) {
            for (size_t i = 0; i < source_len; i++)
                if (!mg_log_source_char(item[i])) {
                    mg_printf("log_reporter: bad log levels '%s': source '%.*s' may only "
                              "have letters, digits and _ - . /\n",
                              spec, (int)source_len, item);
                    return false;
                }
            rule->source = item;
            rule->source_len = source_len;
        }
    }
    rule->level = mg_log_parse_level(level, level_len);
    if (rule->level < 0) {
        mg_printf("log_reporter: bad log levels '%s': unknown level '%.*s' in '%.*s' (expected "
                  "debug, info, warning, error or quiet)\n",
                  spec, (int)level_len, level, (int)len, item);
        return false;
    }
    return true;
}

int mg_reporter_connect(mg_reporter **out, const char *levels)
{
    if (!levels) levels = "";
    size_t spec_len = strlen(levels), n_items = spec_len ? 1 : 0;
    for (const char *p = levels; (p = strchr(p, ',')); p++) n_items++;

    /* One allocation: the device, its rules, then the copy they point into. */
    struct mg_log_reporter *r = malloc(sizeof *r + n_items * sizeof r->rules[0] + spec_len + 1);
    if (!r) return MG_ENOMEM;
    char *spec = (char *)&r->rules[n_items];
    memcpy(spec, levels, spec_len + 1);
    r->base.ops = &mg_log_reporter_ops;
    r->n_rules = n_items;
    const char *item = spec;
    for (size_t i = 0; i < n_items; i++) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (!mg_log_parse_item(levels, item, len, &r->rules[i])) {
            free(r);
            return MG_EINVAL;
        }
        item += len + 1;
    }
    mg_reporter_set_default(&r->base);
    *out = &r->base;
    return MG_OK;
}
