/*
 * base/opt.h: long options with a separate or an inline value, short
 * options, flags, `--` and "-", the errors (missing value, a value given
 * to a flag, an option given twice, long lines, help over mistakes, an unknown
 * option with or without a suggestion) and the accessors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/opt.h"

static const mg_option global_opts[] = {
    {"--url", 0, "URL", false, NULL, "the server"},
    {"--json", 0, NULL, false, NULL, "machine output"},
    {"--token", 0, "TOKEN", false, NULL, "the token"},
    MG_OPTION_END,
};

static const mg_option build_opts[] = {
    {"--target", 't', "T", false, "unix xen", "the target"},
    {"--output", 'o', "FILE", false, "@file", "where the image goes"},
    {"--force", 0, NULL, false, NULL, "build again"},
    {"--key", 'k', "K=V", true, NULL, "a key"},
    MG_OPTION_END,
};

static const mg_option *const tables[] = {global_opts, build_opts};

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

/* Parses into `a`, which may hold an earlier parse (freed first). */
static int parse(mg_args *a, int argc, char **argv, mg_err *err)
{
    mg_err_clear(err);
    mg_args_free(a);
    return mg_args_parse(a, tables, 2, argc, argv, err);
}

Test(args, long_with_separate_value)
{
    char *argv[] = {"--target", "unix", "proj"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_get(&a, "--target"), "unix");
    cr_assert_eq(a.npositional, 1);
    cr_assert_str_eq(a.positional[0], "proj");
}

Test(args, long_with_inline_value)
{
    char *argv[] = {"--target=xen", "--url=http://h:1/a=b", "--output="};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_get(&a, "--target"), "xen");
    /* only the first '=' separates */
    cr_assert_str_eq(mg_args_get(&a, "--url"), "http://h:1/a=b");
    /* an empty inline value is a value */
    cr_assert(mg_args_has(&a, "--output"));
    cr_assert_str_eq(mg_args_get(&a, "--output"), "");
    cr_assert_eq(a.npositional, 0);
}

Test(args, short_option)
{
    char *argv[] = {"-o", "image.bin", "p", "-t", "unix"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_get(&a, "--output"), "image.bin");
    cr_assert_str_eq(mg_args_get(&a, "--target"), "unix");
    cr_assert_eq(a.npositional, 1);
    cr_assert_str_eq(a.positional[0], "p");
    cr_assert_eq(mg_args_find(tables, 2, "-o"), &build_opts[1]);
    cr_assert_eq(mg_args_find(tables, 2, "--output"), &build_opts[1]);
    cr_assert_null(mg_args_find(tables, 2, "-x"));
    cr_assert_null(mg_args_find(tables, 2, "-oo"));
}

Test(args, flags)
{
    char *argv[] = {"--force", "x", "--json"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert(mg_args_has(&a, "--force"));
    cr_assert(mg_args_has(&a, "--json"));
    cr_assert_not(mg_args_has(&a, "--url"));
    cr_assert_null(mg_args_get(&a, "--force")); /* a flag has no value */
    cr_assert_null(mg_args_get(&a, "--url"));
    /* the flag did not eat the positional after it */
    cr_assert_eq(a.npositional, 1);
    cr_assert_str_eq(a.positional[0], "x");
}

Test(args, flag_with_value_is_an_error)
{
    char *argv[] = {"--force=yes"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), -1);
    cr_assert(strstr(err.msg, "--force"), "%s", err.msg);
    cr_assert(strstr(err.msg, "takes no value"), "%s", err.msg);
    cr_assert_eq(err.code, MG_E_INVALID);
}

Test(args, missing_value_names_the_option)
{
    char *argv[] = {"p", "--target"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), -1);
    cr_assert(strstr(err.msg, "--target"), "%s", err.msg);
    cr_assert(strstr(err.msg, "needs a value"), "%s", err.msg);

    char *argv2[] = {"-o"};
    cr_assert_eq(parse(&a, ARGC(argv2), argv2, &err), -1);
    cr_assert(strstr(err.msg, "--output"), "%s", err.msg);
}

Test(args, value_may_start_with_a_dash)
{
    char *argv[] = {"--output", "-", "--key", "--x=1"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_get(&a, "--output"), "-");
    cr_assert_str_eq(mg_args_get(&a, "--key"), "--x=1");
    cr_assert_eq(a.npositional, 0);
}

Test(args, unknown_option_with_suggestion)
{
    char *argv[] = {"--forc"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), -1);
    cr_assert(strstr(err.msg, "'--forc'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "did you mean --force?"), "%s", err.msg);
}

Test(args, unknown_option_transposition)
{
    char *argv[] = {"--targte", "unix"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), -1);
    cr_assert(strstr(err.msg, "did you mean --target?"), "%s", err.msg);

    /* the suggestion comes from the global table too */
    char *argv2[] = {"--jsno"};
    cr_assert_eq(parse(&a, ARGC(argv2), argv2, &err), -1);
    cr_assert(strstr(err.msg, "did you mean --json?"), "%s", err.msg);

    /* an inline value does not disturb the suggestion */
    char *argv3[] = {"--targt=unix"};
    cr_assert_eq(parse(&a, ARGC(argv3), argv3, &err), -1);
    cr_assert(strstr(err.msg, "'--targt'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "did you mean --target?"), "%s", err.msg);
}

Test(args, unknown_option_far_from_all)
{
    char *argv[] = {"--zebra-stripes"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), -1);
    cr_assert(strstr(err.msg, "unknown option '--zebra-stripes'"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "did you mean"), "%s", err.msg);
}

Test(args, suggest)
{
    const char *c[] = {"--force", "--target", "--url"};
    cr_assert_str_eq(mg_args_suggest("--forc", c, 3), "--force");
    cr_assert_str_eq(mg_args_suggest("--taregt", c, 3), "--target");
    cr_assert_str_eq(mg_args_suggest("--ulr", c, 3), "--url");
    cr_assert_null(mg_args_suggest("--wait", c, 3));
    cr_assert_null(mg_args_suggest("--forc", c, 0));
}

Test(args, double_dash_ends_options)
{
    char *argv[] = {"--json", "--", "--force", "-o", "--", "x"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert(mg_args_has(&a, "--json"));
    cr_assert_not(mg_args_has(&a, "--force"));
    cr_assert_not(mg_args_has(&a, "--output"));
    cr_assert_eq(a.npositional, 4);
    cr_assert_str_eq(a.positional[0], "--force");
    cr_assert_str_eq(a.positional[1], "-o");
    cr_assert_str_eq(a.positional[2], "--");
    cr_assert_str_eq(a.positional[3], "x");
}

Test(args, lone_dash_is_positional)
{
    char *argv[] = {"-", "--json"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_eq(a.npositional, 1);
    cr_assert_str_eq(a.positional[0], "-");
    cr_assert(mg_args_has(&a, "--json"));
}

Test(args, non_repeatable_twice)
{
    char *argv[] = {"--target", "unix", "--target=xen"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), -1);
    cr_assert(strstr(err.msg, "--target"), "%s", err.msg);
    cr_assert(strstr(err.msg, "twice"), "%s", err.msg);

    /* the short and the long name are the same option */
    char *argv2[] = {"-o", "a", "--output", "b"};
    cr_assert_eq(parse(&a, ARGC(argv2), argv2, &err), -1);
    cr_assert(strstr(err.msg, "--output"), "%s", err.msg);

    char *argv3[] = {"--json", "--json"};
    cr_assert_eq(parse(&a, ARGC(argv3), argv3, &err), -1);
    cr_assert(strstr(err.msg, "--json"), "%s", err.msg);
}

Test(args, repeatable_keeps_order)
{
    char *argv[] = {"--key", "a=1", "-k", "b=2", "--json", "--key=c=3"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_nth(&a, "--key", 0), "a=1");
    cr_assert_str_eq(mg_args_nth(&a, "--key", 1), "b=2");
    cr_assert_str_eq(mg_args_nth(&a, "--key", 2), "c=3");
    cr_assert_null(mg_args_nth(&a, "--key", 3));
    cr_assert_null(mg_args_nth(&a, "--target", 0));
    /* mg_args_get returns the last value */
    cr_assert_str_eq(mg_args_get(&a, "--key"), "c=3");
}

/* The lists grow with the line: there is no fixed number of positionals
 * or of repeated options (a build may set thousands of --key). */
Test(args, long_lines_have_no_fixed_limit)
{
    enum { N = 5000 };
    static char *argv[2 * N + 20];
    int argc = 0;
    static char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d=%d", i, i);
        argv[argc++] = "--key";
        argv[argc++] = keys[i];
    }
    for (int i = 0; i < 12; i++) argv[argc++] = "p";
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, argc, argv, &err), 0, "%s", err.msg);
    cr_assert_eq(a.npositional, 12);
    cr_assert_str_eq(mg_args_nth(&a, "--key", 0), "k0=0");
    cr_assert_str_eq(mg_args_nth(&a, "--key", N - 1), keys[N - 1]);
    cr_assert_null(mg_args_nth(&a, "--key", N));
}

/* A line that asks for help gets it, whatever else is wrong with it; after
 * `--` it is a positional like any other word. */
Test(args, help_wins_over_mistakes)
{
    static const mg_option with_help[] = {
        {"--help", 'h', NULL, false, NULL, "this help"},
        {"--force", 0, NULL, false, NULL, "build again"},
        MG_OPTION_END,
    };
    const mg_option *const t[] = {with_help};
    char *bad[] = {"--bogus", "--force", "--force", "-h", "--target"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(mg_args_parse(&a, t, 1, 5, bad, &err), 0, "%s", err.msg);
    cr_assert(mg_args_has(&a, "--help"));
    cr_assert_not(mg_args_has(&a, "--force"));
    mg_args_free(&a);
    char *after[] = {"--", "--help", "--bogus"};
    cr_assert_eq(mg_args_parse(&a, t, 1, 3, after, &err), 0, "%s", err.msg);
    cr_assert_not(mg_args_has(&a, "--help"));
    cr_assert_eq(a.npositional, 2);
    mg_args_free(&a);
    /* a value that reads "--help" is a value */
    static const mg_option with_value[] = {
        {"--help", 'h', NULL, false, NULL, "this help"},
        {"--name", 0, "NAME", false, NULL, "a name"},
        MG_OPTION_END,
    };
    const mg_option *const tv[] = {with_value};
    char *named[] = {"--name", "--help"};
    cr_assert_eq(mg_args_parse(&a, tv, 1, 2, named, &err), 0, "%s", err.msg);
    cr_assert_not(mg_args_has(&a, "--help"));
    cr_assert_str_eq(mg_args_get(&a, "--name"), "--help");
    mg_args_free(&a);
    char *wrong[] = {"--bogus"};
    cr_assert_eq(mg_args_parse(&a, t, 1, 1, wrong, &err), -1);
    cr_assert(strstr(err.msg, "unknown option '--bogus'"), "%s", err.msg);
}

Test(args, global_and_command_tables)
{
    char *argv[] = {"--url", "http://h", "-t", "xen", "p", "--json", "--force"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_get(&a, "--url"), "http://h");
    cr_assert_str_eq(mg_args_get(&a, "--target"), "xen");
    cr_assert(mg_args_has(&a, "--json"));
    cr_assert(mg_args_has(&a, "--force"));
    cr_assert_eq(a.npositional, 1);

    /* with only the global table, a command option is unknown */
    const mg_option *const only_global[] = {global_opts};
    char *argv2[] = {"--force"};
    mg_args_free(&a);
    cr_assert_eq(mg_args_parse(&a, only_global, 1, 1, argv2, &err), -1);
    cr_assert(strstr(err.msg, "unknown option '--force'"), "%s", err.msg);
}

Test(args, get_returns_last_value)
{
    static const mg_option rep[] = {
        {"--tag", 0, "T", true, NULL, "a tag"},
        MG_OPTION_END,
    };
    const mg_option *const t[] = {rep};
    char *argv[] = {"--tag", "one", "--tag", "two", "--tag=three"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(mg_args_parse(&a, t, 1, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_str_eq(mg_args_get(&a, "--tag"), "three");
    cr_assert_str_eq(mg_args_nth(&a, "--tag", 0), "one");
}

Test(args, parse_resets_previous_result)
{
    char *argv[] = {"--json", "p"};
    char *argv2[] = {"q"};
    mg_args a MG_ARGS_SCOPED = {0};
    mg_err err = {0};
    cr_assert_eq(parse(&a, ARGC(argv), argv, &err), 0, "%s", err.msg);
    cr_assert_eq(parse(&a, ARGC(argv2), argv2, &err), 0, "%s", err.msg);
    cr_assert_not(mg_args_has(&a, "--json"));
    cr_assert_eq(a.npositional, 1);
    cr_assert_str_eq(a.positional[0], "q");
}
