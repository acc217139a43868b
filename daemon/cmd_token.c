/*
 * mgd token create --scope read|write|admin|worker [--name N] [--data DIR]
 * mgd token list [--data DIR] [--json]
 * mgd token revoke ID [--data DIR]
 *
 * Manages API tokens offline, straight in the database (safe while the
 * daemon runs: SQLite's WAL lets both write). `create` prints the token,
 * the only time it is shown; the database keeps its hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "daemon/cli_common.h"
#include "daemon/commands.h"
#include "daemon/store.h"
#include "daemon/tokens.h"
#include "base/fsutil.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mgd token create --scope read|write|admin|worker [--name NAME] [--data DIR]\n"
            "       mgd token list [--data DIR] [--json]\n"
            "       mgd token revoke ID [--data DIR]\n"
            "\n"
            "Manages the daemon's API tokens in DIR/mgd.sqlite3 (default DIR: ./var).\n"
            "Scopes: read < write < admin. A new token is printed once; only its hash\n"
            "is kept.\n");
}

/* The options of the three subcommands (each ignores those it has no use
 * for); an option given again overrides (repeat). */
static const mg_option token_options[] = {
    {"--data", 0, "DIR", true, "@dir", "the daemon's data directory (default ./var)"},
    {"--name", 0, "NAME", true, NULL, "what the new token is for"},
    {"--scope", 0, "SCOPE", true, "read write admin worker", "what the new token may do"},
    {"--json", 0, NULL, true, NULL, "prints JSON"},
    {"--help", 'h', NULL, true, NULL, "prints this help"},
    MG_OPTION_END,
};

int mg_cmd_token(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    mg_args args MG_ARGS_SCOPED = {0};
    const mg_option *const tables[] = {token_options};
    if (mg_cli_parse_options("mgd token", &args, tables, 1, argc - 1, argv + 1) != 0) {
        usage(stderr);
        return 2;
    }
    if (mg_args_has(&args, "--help")) {
        usage(stdout);
        return 0;
    }
    if (args.npositional > 1) {
        fprintf(stderr, "mgd token: unexpected '%s'\n", args.positional[1]);
        usage(stderr);
        return 2;
    }
    const char *data = mg_args_get(&args, "--data"), *name = mg_args_get(&args, "--name"),
               *scope_name = mg_args_get(&args, "--scope"),
               *id_arg = args.npositional ? args.positional[0] : NULL;
    if (!data) data = "var";
    bool json = mg_args_has(&args, "--json");
    bool create = !strcmp(sub, "create"), list = !strcmp(sub, "list"),
         revoke = !strcmp(sub, "revoke");
    if (!create && !list && !revoke) {
        fprintf(stderr, "mgd token: unknown command '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    mg_scope scope = MG_SCOPE_NONE;
    int64_t id = 0;
    if (create && (scope = mg_scope_parse(scope_name)) == MG_SCOPE_NONE) {
        fprintf(stderr, "mgd token create: --scope read, write, admin or worker is required\n");
        return 2;
    }
    if (revoke) {
        char *end;
        id = id_arg ? strtoll(id_arg, &end, 10) : 0;
        if (!id_arg || *end || id <= 0) {
            fprintf(stderr, "mgd token revoke: takes a token id (see mgd token list)\n");
            return 2;
        }
    } else if (id_arg) {
        fprintf(stderr, "mgd token %s: unexpected '%s'\n", sub, id_arg);
        return 2;
    }

    mg_err err;
    char *db = mg_path_join(data, "mgd.sqlite3");
    FILE *probe = fopen(db, "r");
    if (!probe) {
        fprintf(stderr, "mgd token: no database at %s (start mgd serve --data %s once)\n", db,
                data);
        free(db);
        return 1;
    }
    fclose(probe);
    mg_store *s = mg_store_open(db, false, &err);
    free(db);
    if (!s) {
        fprintf(stderr, "mgd token: %s\n", err.msg);
        return 1;
    }
    int status = 1;
    if (create) {
        char token[MG_TOKEN_TEXT_SIZE], hash[MG_SHA256_HEX_SIZE];
        if (mg_token_new(token)) {
            fprintf(stderr, "mgd token: no randomness available\n");
            goto out;
        }
        mg_token_hash(token, hash);
        int64_t tid = mg_store_token_create(s, name, scope, hash, &err);
        if (tid < 0) {
            fprintf(stderr, "mgd token: %s\n", err.msg);
            goto out;
        }
        if (json)
            printf("{\"id\": %lld, \"scope\": \"%s\", \"token\": \"%s\"}\n", (long long)tid,
                   mg_scope_name(scope), token);
        else
            printf("%s\n", token);
        fprintf(stderr, "mgd token: created token %lld (%s); it is not shown again\n",
                (long long)tid, mg_scope_name(scope));
        status = 0;
    } else if (list) {
        mg_token_row *rows;
        size_t n;
        if (mg_store_token_list(s, &rows, &n, &err)) {
            fprintf(stderr, "mgd token: %s\n", err.msg);
            goto out;
        }
        cJSON *arr = json ? cJSON_CreateArray() : NULL;
        if (!json && n)
            printf("%-6s %-6s %-20s %-20s %s\n", "ID", "SCOPE", "CREATED", "LAST USED", "NAME");
        for (size_t i = 0; i < n; i++) {
            char created[32], used[32] = "never";
            mg_store_format_time(rows[i].created_at, created);
            if (rows[i].last_used_at) mg_store_format_time(rows[i].last_used_at, used);
            if (json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "id", (double)rows[i].id);
                cJSON_AddStringToObject(o, "name", rows[i].name);
                cJSON_AddStringToObject(o, "scope", mg_scope_name(rows[i].scope));
                cJSON_AddStringToObject(o, "created_at", created);
                if (rows[i].last_used_at)
                    cJSON_AddStringToObject(o, "last_used_at", used);
                else
                    cJSON_AddNullToObject(o, "last_used_at");
                cJSON_AddItemToArray(arr, o);
            } else {
                printf("%-6lld %-6s %-20s %-20s %s\n", (long long)rows[i].id,
                       mg_scope_name(rows[i].scope), created, used, rows[i].name);
            }
        }
        if (json) {
            char *text = cJSON_Print(arr);
            puts(text);
            free(text);
            cJSON_Delete(arr);
        }
        mg_token_rows_free(rows, n);
        status = 0;
    } else {
        int r = mg_store_token_revoke(s, id, &err);
        if (r) {
            fprintf(stderr, "mgd token: token %lld: %s\n", (long long)id, err.msg);
            goto out;
        }
        fprintf(stderr, "mgd token: revoked token %lld\n", (long long)id);
        status = 0;
    }
out:
    mg_store_close(s);
    return status;
}
