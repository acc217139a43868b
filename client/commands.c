/*
 * commands.c - the table of mgctl's commands and their options, and what
 * is derived from it: shell completion (bash, zsh, fish). Help text lives
 * in main.c.
 */
#include <stdio.h>
#include <string.h>

#include "client/commands.h"

const mg_option mg_global_options[] = {
    {"--url", 0, "URL", false, NULL, "the daemon (default $MGD_URL, else http://127.0.0.1:8080)"},
    {"--token", 0, "TOKEN", false, NULL, "an API token (default $MGD_TOKEN)"},
    {"--json", 0, NULL, false, NULL, "print JSON for programs instead of lines for people"},
    {"--timeout", 0, "SECONDS", false, NULL,
     "give up on a request after this long (default 60; streams: this long silent)"},
    {"--connect-timeout", 0, "SECONDS", false, NULL,
     "give up connecting after this long (default 10)"},
    {"--help", 'h', NULL, false, NULL, "show help"},
    MG_OPTION_END,
};

static const mg_option no_options[] = {MG_OPTION_END};

static const mg_option create_options[] = {
    {"--config", 0, "FILE", false, "@file",
     "the config document (default DIR/config.json with --sources)"},
    {"--repo", 0, "URL", false, NULL, "a git repository with the sources"},
    {"--ref", 0, "REF", false, NULL, "the branch, tag or commit to build (with --repo)"},
    {"--sources", 0, "DIR", false, "@dir", "a directory sent as inline sources"},
    MG_OPTION_END,
};

static const mg_option config_show_options[] = {
    {"--version", 0, "N", false, NULL, "an earlier config version (default the latest)"},
    MG_OPTION_END,
};

#define TARGET_OPT                                                                                 \
    {                                                                                              \
        "--target", 0, "T", false, NULL, "the target (default the server's; see mgctl targets)"    \
    }
#define ARCH_OPT                                                                                   \
    {                                                                                              \
        "--arch", 0, "A", false, NULL, "the architecture (default the server's)"                   \
    }
#define KEY_OPT                                                                                    \
    {                                                                                              \
        "--key", 0, "NAME=VALUE", true, NULL, "set a configure key (repeatable)"                   \
    }

static const mg_option check_options[] = {
    TARGET_OPT,    ARCH_OPT,
    KEY_OPT,       {"--ref", 0, "REF", false, NULL, "the ref (accepted for symmetry with build)"},
    MG_OPTION_END,
};

static const mg_option graph_options[] = {
    TARGET_OPT,
    ARCH_OPT,
    KEY_OPT,
    {"--format", 0, "F", false, "dot svg json", "dot (default), svg or json"},
    {"--output", 'o', "FILE", false, "@file", "write to FILE instead of stdout"},
    MG_OPTION_END,
};

#define WAIT_OPTS                                                                                  \
    {"--wait", 0, NULL, false, NULL, "wait for the end; the exit status says how it ended"},       \
        {"--follow", 0, NULL, false, NULL, "stream the log while waiting (implies --wait)"},       \
    {                                                                                              \
        "--output", 'o', "FILE", false, "@file",                                                   \
            "download the image to FILE and verify it (implies --wait)"                            \
    }

static const mg_option build_options[] = {
    TARGET_OPT,
    ARCH_OPT,
    {"--ref", 0, "REF", false, NULL, "the branch, tag or commit (default the project's)"},
    KEY_OPT,
    {"--force", 0, NULL, false, NULL, "build even if an identical build succeeded before"},
    WAIT_OPTS,
    MG_OPTION_END,
};

static const mg_option rebuild_options[] = {
    WAIT_OPTS,
    MG_OPTION_END,
};

static const mg_option builds_options[] = {
    {"--status", 0, "S", false, "queued running succeeded failed cancelled interrupted",
     "only builds with this status (a comma-separated list)"},
    TARGET_OPT,
    {"--limit", 0, "N", false, NULL, "at most N builds, newest first (default 20)"},
    MG_OPTION_END,
};

static const mg_option log_options[] = {
    {"--follow", 0, NULL, false, NULL,
     "stream the log until the build ends; exit as build --wait does"},
    MG_OPTION_END,
};

static const mg_option image_options[] = {
    {"--output", 'o', "FILE", false, "@file",
     "where to save it (default the image's name; - for stdout)"},
    MG_OPTION_END,
};

const mg_command mg_commands[] = {
    {"targets", "", 0, 0, "the targets and arches the server builds for", no_options,
     mg_cmd_targets, false},
    {"devices", "", 0, 0, "the device catalog", no_options, mg_cmd_devices, false},
    {"project create", "NAME", 1, 1,
     "create a project from a config and a git repository or a directory", create_options,
     mg_cmd_project_create, false},
    {"project list", "", 0, 0, "the projects", no_options, mg_cmd_project_list, false},
    {"project show", "P", 1, 1, "a project and its latest build per target", no_options,
     mg_cmd_project_show, false},
    {"project delete", "P", 1, 1, "delete a project and its builds (admin token)", no_options,
     mg_cmd_project_delete, false},
    {"config push", "P FILE", 2, 2, "store a new config version (checked first)", no_options,
     mg_cmd_config_push, false},
    {"config show", "P", 1, 1, "a project's config document", config_show_options,
     mg_cmd_config_show, false},
    {"check", "P", 1, 1, "resolve the config on the server; errors with their paths", check_options,
     mg_cmd_check, false},
    {"graph", "P", 1, 1, "the resolved device graph", graph_options, mg_cmd_graph, false},
    {"build", "P", 1, 1, "queue a build; wait, follow its log, download its image", build_options,
     mg_cmd_build, false},
    {"builds", "P", 1, 1, "a project's builds, newest first", builds_options, mg_cmd_builds, false},
    {"status", "B", 1, 1, "a build's status and results", no_options, mg_cmd_status, false},
    {"log", "B", 1, 1, "a build's log", log_options, mg_cmd_log, false},
    {"image", "B", 1, 1, "download a build's image and verify its sha256", image_options,
     mg_cmd_image, false},
    {"cancel", "B", 1, 1, "cancel a queued or running build", no_options, mg_cmd_cancel, false},
    {"rebuild", "B", 1, 1, "build again with the same inputs, bypassing the cache", rebuild_options,
     mg_cmd_rebuild, false},
    {"pin", "B", 1, 1, "keep a build whatever the retention says", no_options, mg_cmd_pin, false},
    {"unpin", "B", 1, 1, "let retention delete a build again", no_options, mg_cmd_unpin, false},
    {"version", "", 0, 0, "mgctl's version and the server's", no_options, mg_cmd_version, false},
    {"whoami", "", 0, 0, "the token in use: its id, name and scope", no_options, mg_cmd_whoami,
     false},
    {"completion", "SHELL", 1, 1, "print the completion script of SHELL: bash, zsh or fish",
     no_options, mg_cmd_completion, true},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, false},
};

/* ---- shell completion ----------------------------------------------------- */

/* The three scripts are thin: each hands the words of the command line
 * to `mgctl __complete` and offers what it prints, so every shell
 * completes exactly the commands and options of the table above (of the
 * mgctl it runs), and none can drift from the others. bash takes bare
 * words; zsh and fish also show descriptions ("word<TAB>what"), which they
 * ask for with __complete_described. "@file" and "@dir" ask the shell to
 * complete a path itself. */
static const char bash_script[] =
    "# bash completion of mgctl: source <(mgctl completion bash)\n"
    "_mgctl() {\n"
    "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" IFS=$'\\n' out\n"
    "    out=$(\"${COMP_WORDS[0]}\" __complete \"${COMP_WORDS[@]:1:COMP_CWORD}\" "
    "2>/dev/null) || return\n"
    "    case \"$out\" in\n"
    "        @file) compopt -o default; COMPREPLY=(); return ;;\n"
    "        @dir) compopt -o dirnames; COMPREPLY=(); return ;;\n"
    "    esac\n"
    "    COMPREPLY=($(compgen -W \"$out\" -- \"$cur\"))\n"
    "}\n"
    "complete -F _mgctl mgctl\n";

/* As a file named _mgctl in $fpath it is autoloaded; sourced, it
 * registers itself (that needs compinit first). */
static const char zsh_script[] =
    "#compdef mgctl\n"
    "# zsh completion of mgctl: source <(mgctl completion zsh) after compinit,\n"
    "# or save it as _mgctl in a directory of $fpath\n"
    "_mgctl() {\n"
    "    local -a lines matches\n"
    "    local line word cmd=${(Q)words[1]}\n"
    "    # the mgctl typed, ~ or $HOME at its start expanded (words are as typed);\n"
    "    # a word that names no program falls back to the mgctl on PATH\n"
    "    [[ $cmd == ('~'|'$HOME')/* ]] && cmd=$HOME/${cmd#*/}\n"
    "    if [[ $cmd == */* ]]; then [[ -f $cmd && -x $cmd ]] || cmd=mgctl\n"
    "    else (( $+commands[$cmd] )) || cmd=mgctl; fi\n"
    "    lines=(\"${(@f)$(\"$cmd\" __complete_described \"${(@Q)words[2,CURRENT-1]}\" "
    "\"${(Q)PREFIX}\" 2>/dev/null)}\")\n"
    "    case $lines[1] in\n"
    "        @file|@dir)\n"
    "            [[ $PREFIX == -*=* ]] && compset -P '*='\n"
    "            if [[ $lines[1] == @dir ]]; then _files -/; else _files; fi\n"
    "            return ;;\n"
    "    esac\n"
    "    for line in $lines; do\n"
    "        [[ -n $line ]] || continue\n"
    "        word=${line%%$'\\t'*}\n"
    "        word=${word//:/\\\\:}\n"
    "        if [[ $line == *$'\\t'* ]]; then matches+=(\"$word:${line#*$'\\t'}\")\n"
    "        else matches+=(\"$word\"); fi\n"
    "    done\n"
    "    (( $#matches )) && _describe -t mgctl mgctl matches\n"
    "}\n"
    "if [[ $funcstack[1] == _mgctl ]]; then _mgctl \"$@\"; else compdef _mgctl mgctl; fi\n";

static const char fish_script[] =
    "# fish completion of mgctl: mgctl completion fish | source\n"
    "function __mgctl_complete\n"
    "    # the words before this one come unquoted, this one as typed: unquote it\n"
    "    set -l tokens (commandline -opc)\n"
    "    set -l cur (commandline -ct | string unescape)\n"
    "    # the mgctl typed, ~ or $HOME at its start expanded (tokens are not); a\n"
    "    # word that names no program falls back to the mgctl on PATH, checked\n"
    "    # first: fish would print its \"Unknown command\" on the terminal\n"
    "    set -l cmd $tokens[1]\n"
    "    if string match -qr -- '^(~|\\$HOME)/' $cmd\n"
    "        set cmd $HOME/(string replace -r -- '^[^/]*/' '' $cmd)\n"
    "    end\n"
    "    command -q -- $cmd; or set cmd mgctl\n"
    "    command -q -- $cmd; or return\n"
    "    set -l out (command $cmd __complete_described $tokens[2..-1] \"$cur\" 2>/dev/null)\n"
    "    switch \"$out[1]\"\n"
    "        case @file @dir\n"
    "            # a value joined to its option (--config=FILE) keeps the option\n"
    "            set -l opt (string match -r -- '^-[^=]*=' \"$cur\")\n"
    "            set -l path (string replace -r -- '^-[^=]*=' '' \"$cur\")\n"
    "            if test \"$out[1]\" = @dir\n"
    "                __fish_complete_directories \"$path\" | string replace -r -- '^' \"$opt\"\n"
    "            else\n"
    "                __fish_complete_path \"$path\" | string replace -r -- '^' \"$opt\"\n"
    "            end\n"
    "        case '*'\n"
    "            printf '%s\\n' $out\n"
    "    end\n"
    "end\n"
    "complete -c mgctl -f -a '(__mgctl_complete)'\n";

static const struct {
    const char *name, *script;
} shells[] = {{"bash", bash_script}, {"zsh", zsh_script}, {"fish", fish_script}};
#define NSHELLS (sizeof shells / sizeof shells[0])

int mg_cmd_completion(mg_ctl *c)
{
    const char *shell = c->args->positional[0];
    for (size_t i = 0; i < NSHELLS; i++)
        if (strcmp(shells[i].name, shell) == 0) {
            fputs(shells[i].script, stdout);
            return 0;
        }
    return mg_ctl_fail(c, "completion: no script for '%s' (there are bash, zsh and fish)", shell);
}

static const mg_option *find_option(const mg_command *cmd, const char *name)
{
    const mg_option *tables[2] = {mg_global_options, cmd ? cmd->options : no_options};
    return mg_args_find(tables, 2, name);
}

/* The command named by `first` and `second` (second may be NULL). */
static const mg_command *lookup(const char *first, const char *second)
{
    char name[128];
    for (const mg_command *c = mg_commands; c->name; c++) {
        if (strcmp(c->name, first) == 0) return c;
        if (second) {
            snprintf(name, sizeof name, "%s %s", first, second);
            if (strcmp(c->name, name) == 0) return c;
        }
    }
    return NULL;
}

static bool is_group(const char *word)
{
    size_t n = strlen(word);
    for (const mg_command *c = mg_commands; c->name; c++)
        if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ') return true;
    return false;
}

/* One candidate: `n` bytes of `word`, and with `describe` what it is
 * after a tab (zsh and fish show it beside the word). */
static void candidate(bool describe, const char *word, int n, const char *what)
{
    if (describe && what && *what)
        printf("%.*s\t%s\n", n, word, what);
    else
        printf("%.*s\n", n, word);
}

/* The values of an option's `complete` list, each after `prefix` (the
 * "--format=" of a value joined to its option). */
static void print_words(const char *prefix, const char *words)
{
    for (const char *p = words; *p;) {
        size_t n = strcspn(p, " ");
        printf("%s%.*s\n", prefix, (int)n, p);
        p += n;
        while (*p == ' ') p++;
    }
}

/* What completes the value of `o`: a path, or its fixed words. */
static void complete_value(const mg_option *o, const char *prefix)
{
    if (!o->complete) return;
    if (o->complete[0] == '@')
        puts(o->complete);
    else
        print_words(prefix, o->complete);
}

/* The sentence that describes a group such as "project": its subcommands. */
static void describe_group(const char *group, size_t gl, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "%s", "subcommands:");
    for (const mg_command *c = mg_commands; c->name && used < size; c++)
        if (strncmp(c->name, group, gl) == 0 && c->name[gl] == ' ')
            used += (size_t)snprintf(out + used, size - used, " %s", c->name + gl + 1);
}

void mg_complete(int nwords, char *const *words, bool describe)
{
    if (nwords < 1) return;
    const char *cur = words[nwords - 1];
    /* the words before the one being completed */
    const char *first = NULL, *second = NULL;
    const mg_command *cmd = NULL;
    int npositional = 0;
    const mg_option *pending = NULL; /* an option waiting for its value */
    for (int i = 0; i < nwords - 1; i++) {
        const char *w = words[i];
        if (pending) {
            pending = NULL;
            if (strcmp(w, "=") == 0) pending = find_option(cmd, words[i - 1]);
            continue;
        }
        if (w[0] == '-') {
            const mg_option *o = find_option(cmd, w);
            if (o && o->arg && !strchr(w, '=')) pending = o;
            continue;
        }
        if (!first && strcmp(w, "help") == 0) {
            /* `mgctl help COMMAND`: the rest of the line completes as a
             * command line of its own (in a loop, not a recursion: the
             * line may say help many times) */
            words += i + 1;
            nwords -= i + 1;
            i = -1;
            continue;
        }
        if (!first) {
            first = w;
            cmd = lookup(first, NULL);
            if (cmd && strchr(cmd->name, ' ')) cmd = NULL;
        } else if (!cmd && !second && is_group(first)) {
            second = w;
            cmd = lookup(first, second);
        } else {
            npositional++;
        }
    }
    if (pending) {
        complete_value(pending, "");
        return;
    }
    if (cur[0] == '-') {
        const char *eq = strchr(cur, '=');
        if (eq && cur[1] == '-') {
            /* a value joined to its option, as zsh and fish pass it (bash
             * splits the word at the '=') */
            char name[64], prefix[72];
            snprintf(name, sizeof name, "%.*s", (int)(eq - cur), cur);
            const mg_option *o = find_option(cmd, name);
            snprintf(prefix, sizeof prefix, "%s=", name);
            if (o && o->arg) complete_value(o, prefix);
            return;
        }
        const mg_option *tables[2] = {mg_global_options, cmd ? cmd->options : no_options};
        for (int t = 0; t < 2; t++)
            for (const mg_option *o = tables[t]; o->name; o++)
                candidate(describe, o->name, (int)strlen(o->name), o->help);
        return;
    }
    if (!first || (!cmd && !second && is_group(first))) {
        /* a command word: the first words, or a group's second words */
        const char *prev = NULL; /* a group's name comes once */
        size_t prevn = 0, gl = first ? strlen(first) : 0;
        for (const mg_command *c = mg_commands; c->name; c++) {
            const char *w = c->name;
            if (first) {
                if (strncmp(w, first, gl) != 0 || w[gl] != ' ') continue;
                w += gl + 1;
            }
            size_t n = strcspn(w, " ");
            if (prev && prevn == n && strncmp(prev, w, n) == 0) continue;
            char what[160];
            if (w[n] == ' ')
                describe_group(w, n, what, sizeof what);
            else
                snprintf(what, sizeof what, "%s", c->summary);
            candidate(describe, w, (int)n, what);
            prev = w;
            prevn = n;
        }
        if (!first) candidate(describe, "help", 4, "describe a command");
        return;
    }
    if (!cmd) return;
    /* the positional being completed: FILE is a path, SHELL one of the
     * scripts; others are names only the server knows */
    const char *pos = cmd->positional;
    for (int i = 0; i < npositional && *pos; i++) {
        pos += strcspn(pos, " ");
        while (*pos == ' ') pos++;
    }
    if (strncmp(pos, "FILE", 4) == 0) puts("@file");
    if (strncmp(pos, "SHELL", 5) == 0)
        for (size_t i = 0; i < NSHELLS; i++) puts(shells[i].name);
}
