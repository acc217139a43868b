/*
 * cmd_projects.c - projects and their configs: `mgctl project
 * create|list|show|delete`, `mgctl config push|show`, `mgctl check`,
 * `mgctl graph`.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/commands.h"
#include "client/table.h"
#include "client/tree.h"

/* Config documents are at most 1 MiB (the resolver's limit); a little
 * more gets the server's own error rather than ours. */
#define CONFIG_MAX (2u << 20)

/* Reads a config document and checks that it is JSON, so that a typo in a
 * file gets an error naming the file. The text is sent as it is. */
static char *read_config(mg_ctl *c, const char *path, size_t *len)
{
    mg_err err;
    char *text = mg_read_file(path, CONFIG_MAX, len, &err);
    if (!text) {
        mg_ctl_fail(c, "%s: %s", c->command, err.msg);
        return NULL;
    }
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, *len, &end, false);
    const char *where = doc ? NULL : cJSON_GetErrorPtr();
    if (doc && end) {
        /* text after the document is not JSON either (project create
         * puts the file in its request as it is) */
        while (end < text + *len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end < text + *len) {
            cJSON_Delete(doc);
            doc = NULL;
            where = end;
        }
    }
    if (!cJSON_IsObject(doc)) {
        size_t at = 0;
        if (!doc && where && where >= text && where <= text + *len) at = (size_t)(where - text);
        int line = 1;
        for (size_t i = 0; i < at; i++) line += text[i] == '\n';
        if (doc)
            mg_ctl_fail(c, "%s: %s is not a config document (a JSON object)", c->command, path);
        else
            mg_ctl_fail(c, "%s: %s is not JSON (near line %d)", c->command, path, line);
        cJSON_Delete(doc);
        free(text);
        return NULL;
    }
    cJSON_Delete(doc);
    return text;
}

static void project_sources(const cJSON *p, char *buf, size_t size)
{
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(p, "repo");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(p, "sources");
    if (cJSON_IsObject(repo)) {
        const char *ref = mg_json_str(repo, "ref");
        snprintf(buf, size, "%s%s%s", mg_json_str(repo, "url") ? mg_json_str(repo, "url") : "?",
                 ref ? " @ " : "", ref ? ref : "");
    } else if (cJSON_IsObject(src)) {
        char sz[32];
        mg_fmt_size(mg_json_int(src, "bytes", 0), sz, sizeof sz);
        long long files = mg_json_int(src, "files", 0);
        snprintf(buf, size, "inline, %lld file%s, %s", files, files == 1 ? "" : "s", sz);
    } else {
        snprintf(buf, size, "-");
    }
}

int mg_cmd_project_create(mg_ctl *c)
{
    const char *name = c->args->positional[0];
    const char *config = mg_args_get(c->args, "--config");
    const char *repo = mg_args_get(c->args, "--repo");
    const char *ref = mg_args_get(c->args, "--ref");
    const char *dir = mg_args_get(c->args, "--sources");
    char guess[4096];
    if (!repo == !dir)
        return mg_ctl_fail(c, "project create: give --repo URL or --sources DIR (one of them)");
    if (ref && !repo) return mg_ctl_fail(c, "project create: --ref goes with --repo");
    if (!config && dir) {
        /* the usual layout: the config document in the sources directory */
        struct stat st;
        snprintf(guess, sizeof guess, "%s/config.json", dir);
        if (stat(guess, &st) == 0) config = guess;
    }
    if (!config) return mg_ctl_fail(c, "project create: --config FILE is needed");
    size_t clen;
    char *text = read_config(c, config, &clen);
    if (!text) return MG_EXIT_USAGE;

    cJSON *tail = cJSON_CreateObject();
    size_t files = 0, bytes = 0;
    mg_err err;
    int rc = 0;
    if (repo) {
        cJSON *r = cJSON_AddObjectToObject(tail, "repo");
        cJSON_AddStringToObject(r, "url", repo);
        if (ref) cJSON_AddStringToObject(r, "ref", ref);
    } else {
        cJSON *tree = mg_tree_read(dir, config, &files, &bytes, &err);
        if (!tree)
            rc = mg_ctl_fail(c, "project create: %s", err.msg);
        else
            cJSON_AddItemToObject(tail, "sources", tree);
    }
    cJSON *jname = cJSON_CreateString(name);
    char *tail_text = rc ? NULL : cJSON_PrintUnformatted(tail);
    char *name_text = cJSON_PrintUnformatted(jname);
    mg_buf body = {0};
    if (!rc && tail_text && name_text) {
        /* {"name": ..., "config": <the file as written>, <repo or sources>} */
        mg_buf_adds(&body, "{\"name\":");
        mg_buf_adds(&body, name_text);
        mg_buf_adds(&body, ",\"config\":");
        mg_buf_add(&body, text, clen);
        mg_buf_adds(&body, ",");
        mg_buf_adds(&body, tail_text + 1); /* the members, without '{' */
        if (body.failed) rc = mg_ctl_fail(c, "out of memory");
    } else if (!rc) {
        rc = mg_ctl_fail(c, "out of memory");
    }
    free(tail_text);
    free(name_text);
    cJSON_Delete(jname);
    cJSON_Delete(tail);
    free(text);
    if (rc) {
        mg_buf_free(&body);
        return rc;
    }
    mg_rest_response resp;
    cJSON *p;
    rc = mg_ctl_call(c, "POST", "/projects", body.data, &resp, &p);
    mg_buf_free(&body);
    if (rc) return rc;
    if (c->json) {
        mg_ctl_print_raw(resp.body.data, resp.body.len);
    } else {
        char src[512];
        project_sources(p, src, sizeof src);
        printf("created project %lld %s (%s; config version %lld)\n", mg_json_int(p, "id", 0),
               mg_json_str(p, "name") ? mg_json_str(p, "name") : "?", src,
               mg_json_int(p, "config_version", 0));
    }
    cJSON_Delete(p);
    mg_rest_response_free(&resp);
    return 0;
}

int mg_cmd_project_list(mg_ctl *c)
{
    cJSON *items;
    int rc = mg_ctl_list(c, "/projects", 0, &items);
    if (rc) return rc;
    if (c->json) {
        mg_ctl_print_json(items);
    } else {
        mg_table t;
        mg_table_init(&t, 5);
        mg_table_rowv(&t, "ID", "NAME", "CONFIG", "UPDATED", "SOURCES");
        const cJSON *p;
        cJSON_ArrayForEach(p, items)
        {
            char id[32], cv[32], src[512];
            snprintf(id, sizeof id, "%lld", mg_json_int(p, "id", 0));
            snprintf(cv, sizeof cv, "v%lld", mg_json_int(p, "config_version", 0));
            project_sources(p, src, sizeof src);
            mg_table_rowv(&t, id, mg_json_str(p, "name"), cv, mg_json_str(p, "updated_at"), src);
        }
        mg_table_print(&t, stdout);
        mg_table_free(&t);
    }
    cJSON_Delete(items);
    return 0;
}

static void show_project(const cJSON *p)
{
    char id[160], src[512], cv[32];
    snprintf(id, sizeof id, "%s (id %lld)", mg_json_str(p, "name") ? mg_json_str(p, "name") : "?",
             mg_json_int(p, "id", 0));
    project_sources(p, src, sizeof src);
    snprintf(cv, sizeof cv, "version %lld", mg_json_int(p, "config_version", 0));
    mg_table t;
    mg_table_init(&t, 2);
    mg_table_rowv(&t, "project", id);
    mg_table_rowv(&t, "sources", src);
    mg_table_rowv(&t, "config", cv);
    mg_table_rowv(&t, "created", mg_json_str(p, "created_at"));
    mg_table_rowv(&t, "updated", mg_json_str(p, "updated_at"));
    mg_table_print(&t, stdout);
    mg_table_free(&t);

    const cJSON *latest = cJSON_GetObjectItemCaseSensitive(p, "latest_builds");
    const cJSON *good = cJSON_GetObjectItemCaseSensitive(p, "latest_succeeded");
    if (cJSON_GetArraySize(latest) > 0) {
        mg_table_init(&t, 5);
        mg_table_rowv(&t, "TARGET", "LATEST", "STATUS", "CREATED", "LAST SUCCEEDED");
        const cJSON *b;
        cJSON_ArrayForEach(b, latest)
        {
            char bid[32], gid[32] = "-";
            snprintf(bid, sizeof bid, "%lld", mg_json_int(b, "id", 0));
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(good, b->string);
            if (g) snprintf(gid, sizeof gid, "%lld", mg_json_int(g, "id", 0));
            mg_table_rowv(&t, b->string, bid, mg_json_str(b, "status"),
                          mg_json_str(b, "created_at"), gid);
        }
        putchar('\n');
        mg_table_print(&t, stdout);
        mg_table_free(&t);
    }
}

int mg_cmd_project_show(mg_ctl *c)
{
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s", c->args->positional[0]);
    int rc = mg_ctl_show(c, mg_buf_str(&path), show_project);
    mg_buf_free(&path);
    return rc;
}

int mg_cmd_project_delete(mg_ctl *c)
{
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s", c->args->positional[0]);
    mg_rest_response resp;
    int rc = mg_ctl_call(c, "DELETE", mg_buf_str(&path), NULL, &resp, NULL);
    mg_buf_free(&path);
    if (rc) return rc;
    mg_rest_response_free(&resp);
    if (c->json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "deleted", c->args->positional[0]);
        mg_ctl_print_json(out);
        cJSON_Delete(out);
    } else {
        printf("deleted project %s\n", c->args->positional[0]);
    }
    return 0;
}

int mg_cmd_config_push(mg_ctl *c)
{
    const char *project = c->args->positional[0];
    size_t len;
    char *text = read_config(c, c->args->positional[1], &len);
    if (!text) return MG_EXIT_USAGE;
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s/config", project);
    mg_rest_response resp;
    cJSON *v;
    int rc = mg_ctl_call(c, "PUT", mg_buf_str(&path), text, &resp, &v);
    free(text);
    mg_buf_free(&path);
    if (rc) return rc;
    if (c->json)
        mg_ctl_print_raw(resp.body.data, resp.body.len);
    else if (resp.status == 201)
        printf("stored config version %lld of %s\n", mg_json_int(v, "version", 0), project);
    else
        printf("config unchanged: it is version %lld of %s\n", mg_json_int(v, "version", 0),
               project);
    cJSON_Delete(v);
    mg_rest_response_free(&resp);
    return 0;
}

int mg_cmd_config_show(mg_ctl *c)
{
    const char *version = mg_args_get(c->args, "--version");
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s/config", c->args->positional[0]);
    if (version) mg_ctl_path(&path, "?version=%q", version);
    /* stored canonically, compact: people get it indented */
    int rc = mg_ctl_show(c, mg_buf_str(&path), mg_ctl_print_json);
    mg_buf_free(&path);
    return rc;
}

int mg_cmd_check(mg_ctl *c)
{
    const char *project = c->args->positional[0];
    char *body = mg_ctl_resolve_request(c, false);
    if (!body) return MG_EXIT_USAGE;
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s/check", project);
    mg_rest_response resp;
    cJSON *d;
    int rc = mg_ctl_call(c, "POST", mg_buf_str(&path), body, &resp, &d);
    free(body);
    mg_buf_free(&path);
    if (rc) return rc;
    if (c->json) {
        mg_ctl_print_raw(resp.body.data, resp.body.len);
    } else {
        const cJSON *devices = cJSON_GetObjectItemCaseSensitive(d, "devices");
        printf("%s resolves for %s/%s: %d devices, %d jobs\n",
               mg_json_str(d, "name") ? mg_json_str(d, "name") : project,
               mg_json_str(d, "target") ? mg_json_str(d, "target") : "?",
               mg_json_str(d, "arch") ? mg_json_str(d, "arch") : "?", cJSON_GetArraySize(devices),
               cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "jobs")));
        mg_table t;
        mg_table_init(&t, 4);
        mg_table_rowv(&t, "DEVICE", "IMPL", "TYPE", "DEPENDS ON");
        const cJSON *dev, *dep;
        cJSON_ArrayForEach(dev, devices)
        {
            mg_buf deps = {0};
            cJSON_ArrayForEach(dep, cJSON_GetObjectItemCaseSensitive(dev, "deps"))
            {
                if (!cJSON_IsString(dep)) continue;
                if (deps.len) mg_buf_addc(&deps, ',');
                mg_buf_adds(&deps, dep->valuestring);
            }
            mg_table_rowv(&t, mg_json_str(dev, "id"), mg_json_str(dev, "impl"),
                          mg_json_str(dev, "type"), deps.len ? deps.data : "-");
            mg_buf_free(&deps);
        }
        mg_table_print(&t, stdout);
        mg_table_free(&t);
        const cJSON *k;
        bool first = true;
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(d, "runtime_keys"))
        {
            printf("%s%s", first ? "runtime keys: " : ", ",
                   mg_json_str(k, "name") ? mg_json_str(k, "name") : "?");
            first = false;
        }
        if (!first) putchar('\n');
    }
    cJSON_Delete(d);
    mg_rest_response_free(&resp);
    return 0;
}

int mg_cmd_graph(mg_ctl *c)
{
    const char *format = mg_args_get(c->args, "--format");
    const char *out = mg_args_get(c->args, "--output");
    if (!format) format = c->json ? "json" : "dot";
    if (strcmp(format, "dot") != 0 && strcmp(format, "svg") != 0 && strcmp(format, "json") != 0)
        return mg_ctl_fail(c, "graph: --format is dot, svg or json, not '%s'", format);
    if (c->json && strcmp(format, "json") != 0)
        return mg_ctl_fail(c, "graph: --json prints the graph as JSON; leave out --format %s",
                           format);
    mg_buf path = {0};
    mg_ctl_path(&path, "/projects/%s/graph?format=%q", c->args->positional[0], format);
    const char *v;
    if ((v = mg_args_get(c->args, "--target"))) mg_ctl_path(&path, "&target=%q", v);
    if ((v = mg_args_get(c->args, "--arch"))) mg_ctl_path(&path, "&arch=%q", v);
    for (int i = 0; (v = mg_args_nth(c->args, "--key", i)); i++) {
        if (!strchr(v, '=') || *v == '=') {
            mg_buf_free(&path);
            return mg_ctl_fail(c, "graph: --key takes NAME=VALUE, not '%s'", v);
        }
        mg_ctl_path(&path, "&key=%q", v);
    }
    mg_rest_response resp;
    int rc = mg_ctl_call(c, "GET", mg_buf_str(&path), NULL, &resp, NULL);
    mg_buf_free(&path);
    if (rc) return rc;
    mg_err err;
    mg_outfile f;
    if (mg_outfile_open(&f, out ? out : "-", &err) != 0) {
        mg_rest_response_free(&resp);
        return mg_ctl_fail(c, "graph: %s", err.msg);
    }
    fwrite(mg_buf_str(&resp.body), 1, resp.body.len, f.f);
    if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n') fputc('\n', f.f);
    mg_rest_response_free(&resp);
    if (mg_outfile_commit(&f, 0644, &err) != 0) return mg_ctl_fail(c, "graph: %s", err.msg);
    if (out && strcmp(out, "-") != 0 && !c->json)
        fprintf(stderr, "mgctl: wrote the graph (%s) to %s\n", format, out);
    return 0;
}
