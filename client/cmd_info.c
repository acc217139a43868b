/*
 * cmd_info.c - what the server offers: `mgctl targets`, `mgctl devices`,
 * `mgctl version`; and who the token is: `mgctl whoami`.
 */
#include <stdlib.h>
#include <string.h>

#include "client/commands.h"
#include "client/table.h"

static void show_targets(const cJSON *doc)
{
    mg_table t;
    mg_table_init(&t, 4);
    mg_table_rowv(&t, "TARGET", "ARCH", "AVAILABLE", "NOTE");
    const cJSON *target, *arch;
    cJSON_ArrayForEach(target, doc)
    {
        cJSON_ArrayForEach(arch, cJSON_GetObjectItemCaseSensitive(target, "arches"))
        {
            bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(arch, "available"));
            bool runs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(arch, "runnable"));
            const char *note = ok ? (runs ? "images run on the server's machine"
                                          : "images do not run on the server's machine")
                                  : mg_json_str(arch, "reason");
            mg_table_rowv(&t, mg_json_str(target, "name"), mg_json_str(arch, "name"),
                          ok ? "yes" : "no", note);
        }
    }
    mg_table_print(&t, stdout);
    mg_table_free(&t);
}

int mg_cmd_targets(mg_ctl *c)
{
    return mg_ctl_show(c, "/targets", show_targets);
}

static void show_devices(const cJSON *doc)
{
    mg_table t;
    mg_table_init(&t, 4);
    mg_table_rowv(&t, "NAME", "TYPE", "KIND", "TARGETS");
    const cJSON *e, *tg;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "entries"))
    {
        mg_buf targets = {0};
        cJSON_ArrayForEach(tg, cJSON_GetObjectItemCaseSensitive(e, "targets"))
        {
            if (!cJSON_IsString(tg)) continue;
            if (targets.len) mg_buf_addc(&targets, ',');
            mg_buf_adds(&targets, tg->valuestring);
        }
        mg_table_rowv(&t, mg_json_str(e, "name"), mg_json_str(e, "type"), mg_json_str(e, "kind"),
                      targets.len ? targets.data : "-");
        mg_buf_free(&targets);
    }
    mg_table_print(&t, stdout);
    mg_table_free(&t);
}

int mg_cmd_devices(mg_ctl *c)
{
    return mg_ctl_show(c, "/devices", show_devices);
}

static void show_whoami(const cJSON *doc)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    const char *name = mg_json_str(doc, "name");
    printf("token %lld%s%s, scope %s\n", cJSON_IsNumber(id) ? (long long)id->valuedouble : 0,
           name && *name ? ", " : " (no name)", name && *name ? name : "",
           mg_json_str(doc, "scope") ? mg_json_str(doc, "scope") : "?");
}

int mg_cmd_whoami(mg_ctl *c)
{
    return mg_ctl_show(c, "/whoami", show_whoami);
}

int mg_cmd_version(mg_ctl *c)
{
    mg_rest_response resp;
    cJSON *doc;
    int rc = mg_ctl_call(c, "GET", "/health", NULL, &resp, &doc);
    if (rc) return rc;
    const char *server = mg_json_str(doc, "version");
    if (c->json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "client", MGD_VERSION);
        cJSON_AddStringToObject(out, "server", server ? server : "");
        cJSON_AddStringToObject(out, "url", c->rest.base);
        mg_ctl_print_json(out);
        cJSON_Delete(out);
    } else {
        printf("mgctl %s\nmgd   %s at %s\n", MGD_VERSION, server ? server : "?", c->rest.base);
    }
    cJSON_Delete(doc);
    mg_rest_response_free(&resp);
    return 0;
}
