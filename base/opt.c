/* opt.c - see opt.h. */
#include "base/opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

const mg_option *mg_args_find(const mg_option *const *tables, int ntables, const char *name)
{
    for (int t = 0; t < ntables; t++)
        for (const mg_option *o = tables[t]; o->name; o++) {
            if (strcmp(o->name, name) == 0) return o;
            if (o->short_name && name[0] == '-' && name[1] == o->short_name && !name[2]) return o;
        }
    return NULL;
}

/* Edit distance, capped: words longer than 63 bytes are far. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 64;
    /* the optimal string alignment distance: a swap of two neighbours
     * ("buidl") is one edit */
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *mg_args_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, candidates[i]);
        if (!best || d < best_d) best = candidates[i], best_d = d;
    }
    /* a third of the word may be wrong, at least one letter */
    size_t allowed = strlen(word) / 3;
    if (allowed < 1) allowed = 1;
    return best && best_d <= allowed ? best : NULL;
}

static void unknown_option(const mg_option *const *tables, int ntables, const char *name,
                           mg_err *err)
{
    const char *names[256];
    size_t n = 0;
    for (int t = 0; t < ntables; t++)
        for (const mg_option *o = tables[t]; o->name && n < 256; o++) names[n++] = o->name;
    const char *s = mg_args_suggest(name, names, n);
    if (s)
        mg_err_set(err, MG_E_INVALID, "unknown option '%s' (did you mean %s?)", name, s);
    else
        mg_err_set(err, MG_E_INVALID, "unknown option '%s'", name);
}

static int add_value(mg_args *a, const mg_option *o, const char *value, mg_err *err)
{
    if (!o->repeat)
        for (int i = 0; i < a->nvalues; i++)
            if (a->values[i].option == o) {
                mg_err_set(err, MG_E_INVALID, "%s is given twice", o->name);
                return -1;
            }
    /* at most one value per word of the line, so the list is sized by it */
    a->values = mg_xrealloc(a->values, (size_t)(a->nvalues + 1) * sizeof *a->values);
    a->values[a->nvalues].option = o;
    a->values[a->nvalues].value = value;
    a->nvalues++;
    return 0;
}

void mg_args_free(mg_args *a)
{
    free(a->positional);
    free(a->values);
    memset(a, 0, sizeof *a);
}

/* The help option of the tables when the line asks for it (before any
 * `--`), else NULL. */
static const mg_option *help_asked(const mg_option *const *tables, int ntables, int argc,
                                   char *const *argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const mg_option *o = argv[i][0] == '-' ? mg_args_find(tables, ntables, argv[i]) : NULL;
        if (!o) continue;
        if (!o->arg && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) return o;
        /* the next word is this option's value ("--name --help" names
         * something "--help"), not a request for help */
        if (o->arg) i++;
    }
    return NULL;
}

static int parse_line(mg_args *a, const mg_option *const *tables, int ntables, int argc,
                      char *const *argv, mg_err *err)
{
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            a->positional =
                mg_xrealloc(a->positional, (size_t)(a->npositional + 1) * sizeof *a->positional);
            a->positional[a->npositional++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        /* --name=value */
        char name[64];
        const char *inline_value = NULL;
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name) {
            mg_err_set(err, MG_E_INVALID, "unknown option '%.40s...'", arg);
            return -1;
        }
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        if (eq) inline_value = eq + 1;
        const mg_option *o = mg_args_find(tables, ntables, name);
        if (!o) {
            unknown_option(tables, ntables, name, err);
            return -1;
        }
        const char *value = NULL;
        if (o->arg) {
            if (inline_value) {
                value = inline_value;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                mg_err_set(err, MG_E_INVALID, "%s needs a value (%s)", o->name, o->arg);
                return -1;
            }
        } else if (inline_value) {
            mg_err_set(err, MG_E_INVALID, "%s takes no value", o->name);
            return -1;
        }
        if (add_value(a, o, value, err) != 0) return -1;
    }
    return 0;
}

bool mg_args_has(const mg_args *a, const char *name)
{
    for (int i = 0; i < a->nvalues; i++)
        if (strcmp(a->values[i].option->name, name) == 0) return true;
    return false;
}

const char *mg_args_get(const mg_args *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nvalues; i++)
        if (strcmp(a->values[i].option->name, name) == 0) v = a->values[i].value;
    return v;
}

const char *mg_args_nth(const mg_args *a, const char *name, int n)
{
    for (int i = 0; i < a->nvalues; i++)
        if (strcmp(a->values[i].option->name, name) == 0 && n-- == 0) return a->values[i].value;
    return NULL;
}

void mg_args_help(const mg_option *o, FILE *out)
{
    for (; o->name; o++) {
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, %s%s%s", o->short_name, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    %s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        fprintf(out, "  %-30s %s\n", left, o->help);
    }
}

int mg_args_parse(mg_args *a, const mg_option *const *tables, int ntables, int argc,
                  char *const *argv, mg_err *err)
{
    memset(a, 0, sizeof *a);
    const mg_option *help = help_asked(tables, ntables, argc, argv);
    if (help) return add_value(a, help, NULL, err);
    return parse_line(a, tables, ntables, argc, argv, err);
}
