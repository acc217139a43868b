/*
 * main.c - mgctl: the thin client of mgd's REST API for CI and people.
 *
 *   mgctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS] [OPTIONS]
 *
 * Finds the command (one word, or two for `project ...` and `config ...`),
 * parses its options together with the global ones (which may stand
 * anywhere), connects, and runs it. Its exit status is the command's (see
 * ctl.h). Help comes from the command table (commands.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/commands.h"

static void usage_line(const mg_command *c, FILE *out)
{
    fprintf(out, "mgctl %s%s%s", c->name, *c->positional ? " " : "", c->positional);
    if (c->options[0].name) fputs(" [options]", out);
    fputc('\n', out);
}

static void help_command(const mg_command *c, FILE *out)
{
    fputs("usage: ", out);
    usage_line(c, out);
    /* the summary as a sentence */
    fprintf(out, "\n%c%s.\n",
            c->summary[0] >= 'a' && c->summary[0] <= 'z' ? c->summary[0] - 'a' + 'A'
                                                         : c->summary[0],
            c->summary + 1);
    if (c->options[0].name) {
        fputs("\noptions:\n", out);
        mg_args_help(c->options, out);
    }
    fputs("\nglobal options:\n", out);
    mg_args_help(mg_global_options, out);
    fputs("\nexit status: 0 done, 1 the work failed (a failed build, a config that does not "
          "resolve),\n2 usage, server or connection error, 3 a cancelled or interrupted build.\n",
          out);
}

static void help_group(const char *group, FILE *out)
{
    fprintf(out, "usage:\n");
    size_t n = strlen(group);
    for (const mg_command *c = mg_commands; c->name; c++)
        if (strncmp(c->name, group, n) == 0 && c->name[n] == ' ') {
            fputs("  ", out);
            usage_line(c, out);
        }
    fprintf(out, "\n`mgctl %s SUBCOMMAND --help` tells more.\n", group);
}

static void help_all(FILE *out)
{
    fputs("usage: mgctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS] [OPTIONS]\n\n"
          "The client of an mgd daemon: projects, configs, builds, logs and images.\n\n"
          "commands:\n",
          out);
    for (const mg_command *c = mg_commands; c->name; c++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", c->name, *c->positional ? " " : "", c->positional);
        fprintf(out, "  %-22s %s\n", left, c->summary);
    }
    fputs("\nglobal options:\n", out);
    mg_args_help(mg_global_options, out);
    fputs("\n`mgctl COMMAND --help` tells more about a command; docs/mgctl.md tells all.\n"
          "The server and token come from --url/--token or MGD_URL/MGD_TOKEN.\n",
          out);
}

static bool is_group(const char *word)
{
    size_t n = strlen(word);
    for (const mg_command *c = mg_commands; c->name; c++)
        if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ') return true;
    return false;
}

static const mg_command *find_command(const char *name)
{
    for (const mg_command *c = mg_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[64];
    size_t n = 0;
    for (const mg_command *c = mg_commands; c->name && n < 64; c++) names[n++] = c->name;
    const char *s = mg_args_suggest(name, names, n);
    fprintf(stderr, "mgctl: unknown command '%s'%s%s%s; `mgctl --help` lists them\n", name,
            s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
    return MG_EXIT_USAGE;
}

/* Seconds as milliseconds, from an option's text. */
static int parse_seconds(const char *s, long *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400) return -1;
    *ms = (long)(v * 1000);
    if (*ms < 1) *ms = 1;
    return 0;
}

int main(int argc, char **argv)
{
    /* what the completion scripts ask (commands.c): bash bare words, zsh
     * and fish with descriptions */
    if (argc >= 2 && strcmp(argv[1], "__complete") == 0) {
        mg_complete(argc - 2, argv + 2, false);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "__complete_described") == 0) {
        mg_complete(argc - 2, argv + 2, true);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("mgctl %s\n", MGD_VERSION);
        return 0;
    }
    /* the command words: the first one or two words that are no option
     * (or value of a global option) */
    int word_at[2] = {-1, -1};
    int nwords = 0;
    const mg_option *const globals[1] = {mg_global_options};
    for (int i = 1; i < argc && nwords < 2; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (a[0] == '-' && a[1]) {
            const mg_option *o = mg_args_find(globals, 1, a);
            if (o && o->arg && !strchr(a, '=')) i++;
            continue;
        }
        if (nwords == 1 && !is_group(argv[word_at[0]])) break;
        word_at[nwords++] = i;
    }
    const mg_command *cmd = NULL;
    char name[128] = "";
    bool help_word = nwords > 0 && strcmp(argv[word_at[0]], "help") == 0;
    if (help_word) {
        /* mgctl help [COMMAND [SUB]] */
        if (argc <= word_at[0] + 1) {
            help_all(stdout);
            return 0;
        }
        const char *w1 = argv[word_at[0] + 1];
        const char *w2 = argc > word_at[0] + 2 ? argv[word_at[0] + 2] : NULL;
        snprintf(name, sizeof name, "%s%s%s", w1, w2 ? " " : "", w2 ? w2 : "");
        if ((cmd = find_command(name)) || (cmd = find_command(w1))) {
            help_command(cmd, stdout);
            return 0;
        }
        if (is_group(w1)) {
            help_group(w1, stdout);
            return 0;
        }
        return unknown_command(w1);
    }
    bool want_help = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) want_help = true;
    }
    if (nwords == 0) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--version") == 0) {
                printf("mgctl %s\n", MGD_VERSION);
                return 0;
            }
        if (want_help) {
            help_all(stdout);
            return 0;
        }
        fputs("mgctl: which command? `mgctl --help` lists them\n", stderr);
        return MG_EXIT_USAGE;
    }
    const char *first = argv[word_at[0]];
    if (is_group(first)) {
        if (nwords < 2) {
            if (want_help) {
                help_group(first, stdout);
                return 0;
            }
            fprintf(stderr, "mgctl: %s what?\n", first);
            help_group(first, stderr);
            return MG_EXIT_USAGE;
        }
        snprintf(name, sizeof name, "%s %s", first, argv[word_at[1]]);
    } else {
        snprintf(name, sizeof name, "%s", first);
        word_at[1] = -1;
    }
    if (!(cmd = find_command(name))) return unknown_command(name);
    if (want_help) {
        help_command(cmd, stdout);
        return 0;
    }

    /* everything but the command words, parsed with both tables */
    char **rest = calloc((size_t)argc, sizeof *rest);
    if (!rest) return MG_EXIT_USAGE;
    int nrest = 0;
    for (int i = 1; i < argc; i++)
        if (i != word_at[0] && i != word_at[1]) rest[nrest++] = argv[i];
    const mg_option *const tables[2] = {mg_global_options, cmd->options};
    mg_args args MG_ARGS_SCOPED = {0};
    mg_err err;
    if (mg_args_parse(&args, tables, 2, nrest, rest, &err) != 0) {
        free(rest);
        fprintf(stderr, "mgctl %s: %s\nusage: ", cmd->name, err.msg);
        usage_line(cmd, stderr);
        return MG_EXIT_USAGE;
    }
    if (args.npositional < cmd->min_positional || args.npositional > cmd->max_positional) {
        if (args.npositional > cmd->max_positional)
            fprintf(stderr, "mgctl %s: unexpected argument '%s'\nusage: ", cmd->name,
                    args.positional[cmd->max_positional]);
        else
            fprintf(stderr, "mgctl %s: missing %s\nusage: ", cmd->name, cmd->positional);
        usage_line(cmd, stderr);
        free(rest);
        return MG_EXIT_USAGE;
    }

    mg_ctl ctl = {.args = &args, .command = cmd->name, .json = mg_args_has(&args, "--json")};
    int rc = 0;
    if (!cmd->offline) {
        const char *url = mg_args_get(&args, "--url");
        if (!url) url = getenv("MGD_URL");
        if (!url || !*url) url = "http://127.0.0.1:8080";
        const char *token = mg_args_get(&args, "--token");
        if (!token) token = getenv("MGD_TOKEN");
        ctl.has_token = token && *token;
        if (mg_rest_init(&ctl.rest, url, token, &err) != 0) {
            free(rest);
            fprintf(stderr, "mgctl: %s\n", err.msg);
            return MG_EXIT_USAGE;
        }
        const char *t;
        if ((t = mg_args_get(&args, "--timeout")) && parse_seconds(t, &ctl.rest.timeout_ms) != 0)
            rc = mg_ctl_fail(&ctl, "--timeout is a number of seconds, not '%s'", t);
        else if (t && ctl.rest.timeout_ms > ctl.rest.stall_ms)
            /* a stream is quiet for up to 15 s between keep-alives: a
             * short --timeout must not cut a live one */
            ctl.rest.stall_ms = ctl.rest.timeout_ms;
        if ((t = mg_args_get(&args, "--connect-timeout")) &&
            parse_seconds(t, &ctl.rest.connect_timeout_ms) != 0)
            rc = mg_ctl_fail(&ctl, "--connect-timeout is a number of seconds, not '%s'", t);
    }
    if (rc == 0) rc = cmd->run(&ctl);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mgctl: cannot write to stdout: %s\n", strerror(errno));
        if (rc == 0) rc = MG_EXIT_USAGE;
    }
    if (!cmd->offline) mg_rest_free(&ctl.rest);
    free(rest);
    return rc;
}
