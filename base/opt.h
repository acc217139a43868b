/*
 * opt.h - the one command-line option parser, of mgctl and mgd alike.
 *
 * Each command declares its options as a table of mg_option; the parser
 * takes one table or several (mgctl: the global table and the command's,
 * so global options such as --url may stand anywhere on the line), and
 * the help text of the options comes from the same table (mg_args_help). It accepts `--name VALUE`,
 * `--name=VALUE`, `-o VALUE` and `--` (everything after it is a
 * positional). Mistakes are errors with a message a person can act on,
 * with a suggestion for a misspelt option; but when the line asks for help
 * (--help or -h, before any `--`), that wins over its mistakes, so that a
 * person who got an option wrong can always read the help. Values point
 * into argv; the lists of them grow with the line (there is no fixed
 * number of --key options), so a parsed line is freed with mg_args_free.
 */
#ifndef MG_BASE_OPT_H
#define MG_BASE_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

typedef struct mg_option {
    const char *name; /* "--target" */
    char short_name;  /* 'o' for -o, or 0 */
    const char *arg;  /* the value's placeholder in help ("T", "FILE"); NULL for a flag */
    bool repeat;      /* may be given more than once (--key) */
    /* what completes the value: a space-separated list of words, "@file",
     * "@dir", or NULL (nothing to offer) */
    const char *complete;
    const char *help;
} mg_option;

/* The end of an option table. */
#define MG_OPTION_END                                                                              \
    {                                                                                              \
        NULL, 0, NULL, false, NULL, NULL                                                           \
    }

typedef struct mg_arg_value {
    const mg_option *option;
    const char *value; /* NULL for a flag */
} mg_arg_value;

typedef struct mg_args {
    const char **positional;
    int npositional;
    mg_arg_value *values;
    int nvalues;
} mg_args;

/* Parses argv[0..argc) against `tables` (each ends with MG_OPTION_END).
 * Returns 0, or -1 with MG_E_INVALID and a message in `err`; either way
 * `a` is to be freed with mg_args_free. When the line has --help or -h
 * (and a table has it), the result is that flag alone, whatever else the
 * line holds. */
int mg_args_parse(mg_args *a, const mg_option *const *tables, int ntables, int argc,
                  char *const *argv, mg_err *err);
void mg_args_free(mg_args *a);
/* Declares a parsed line that is freed when it goes out of scope (the
 * cleanup attribute of gcc and clang), for commands, which return from
 * many places: `mg_args args MG_ARGS_SCOPED = {0};`. */
#define MG_ARGS_SCOPED __attribute__((cleanup(mg_args_free)))

/* The option of `tables` named `name` ("--url" or "-o"), or NULL. */
const mg_option *mg_args_find(const mg_option *const *tables, int ntables, const char *name);

/* Whether the flag or option was given. */
bool mg_args_has(const mg_args *a, const char *name);
/* The value of an option (the last one given), or NULL. */
const char *mg_args_get(const mg_args *a, const char *name);
/* The i-th value of a repeatable option (in order), or NULL past the end. */
const char *mg_args_nth(const mg_args *a, const char *name, int i);

/* Writes one line per option of `table` ("  -o, --output FILE   what"):
 * the options part of a command's help. */
void mg_args_help(const mg_option *table, FILE *out);

/* The candidate closest to `word` by edit distance, when it is close
 * enough to be a likely typo; else NULL. */
const char *mg_args_suggest(const char *word, const char *const *candidates, size_t n);

#endif
