/*
 * projects.c - creating, changing and deleting projects; storing and
 * resolving their config documents.
 *
 * Config documents are stored canonically (mg_json_canonical: the parsed
 * document printed compactly, numbers exact), named by the sha256 of those
 * bytes. A document is checked (mg_config_check: every branch, whatever
 * the target and keys) before it is stored; for a project with inline
 * sources the paths it names are checked against the tree too. Git
 * projects have their paths checked when a build fetches them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/sha256.h"
#include "daemon/sources.h"
#include "service/internal.h"

/* ---- finding ------------------------------------------------------------- */

int mg_service_project_find(mg_service *svc, const char *ref, mg_project *out, mg_service_err *e)
{
    int64_t id;
    int rc;
    memset(out, 0, sizeof *out);
    if (mg_parse_id(ref, &id))
        rc = mg_store_project_get_id(svc->o.store, id, out, &e->err);
    else if (mg_project_name_valid(ref))
        rc = mg_store_project_get(svc->o.store, ref, out, &e->err);
    else
        rc = mg_err_set(&e->err, MG_E_NOT_FOUND, "not a project name");
    if (rc == 0) return 0;
    if (e->err.code == MG_E_NOT_FOUND)
        return mg_err_set(&e->err, MG_E_NOT_FOUND, "no project \"%.100s\"", ref);
    return -1;
}

/* ---- inline trees and configs -------------------------------------------- */

/* Path check against an inline tree: a file of the tree, or a directory
 * some file lies under. */
static const char *inline_path_check(void *ctx, const char *path, char *buf, size_t size)
{
    const cJSON *tree = ctx;
    size_t n = strlen(path);
    for (const cJSON *m = tree->child; m; m = m->next) {
        if (!m->string) continue;
        if (!strcmp(m->string, path)) return NULL;
        if (!strncmp(m->string, path, n) && m->string[n] == '/') return NULL;
    }
    snprintf(buf, size, "no such file or directory in the project's inline sources");
    return buf;
}

/* Checks a canonical config document, and that `inline_tree` (when not
 * NULL) holds the paths it names. */
static int check_config(mg_service *svc, const char *doc, const cJSON *inline_tree,
                        mg_service_err *e)
{
    mg_errors errs = {0};
    size_t len = strlen(doc);
    if (!mg_config_check(svc->o.catalog, doc, len, &svc->o.config_limits, &errs))
        return mg_service_config_failed(e, &errs);
    mg_errors_free(&errs);
    if (!inline_tree) return 0;
    /* Paths are checked in the resolver's first stage, the one
     * mg_config_check runs, which has just passed: any bad_path error of a
     * resolution is the tree's, whatever the target. Other errors (of the
     * second stage, for this one target) do not concern storing. */
    mg_resolve_options ro = {
        .target = mg_targets_default(svc->o.targets)->name,
        .arch = mg_host_arch(),
        .limits = svc->o.config_limits,
        .check_path = inline_path_check,
        .check_path_ctx = (void *)inline_tree,
    };
    mg_graph *g = mg_resolve(svc->o.catalog, doc, len, &ro, &errs);
    mg_graph_free(g);
    mg_errors paths = {0};
    for (size_t i = 0; i < errs.len; i++)
        if (errs.items[i].code == MG_ERR_BAD_PATH)
            mg_errors_add(&paths, MG_ERR_BAD_PATH, errs.items[i].path, "%s", errs.items[i].message);
    mg_errors_free(&errs);
    if (paths.len) return mg_service_config_failed(e, &paths);
    mg_errors_free(&paths);
    return 0;
}

/* An inline tree: checked, then canonical. The project's sources fields
 * point into `tree` and `*json` (freed by the caller). */
static int take_sources(mg_service *svc, cJSON *tree, mg_project *p, char **json,
                        char sha[MG_SHA256_HEX_SIZE], mg_service_err *e)
{
    int64_t bytes = 0;
    for (const cJSON *m = tree->child; m; m = m->next)
        if (cJSON_IsString(m)) bytes += (int64_t)strlen(m->valuestring);
    if ((uint64_t)bytes > svc->o.max_sources)
        return mg_err_set(&e->err, MG_E_LIMIT,
                          "the inline sources are %lld bytes; the limit is %zu", (long long)bytes,
                          svc->o.max_sources);
    if (mg_sources_inline_check(tree, svc->o.max_sources, &e->err) != 0) {
        /* what the tree breaks is the client's mistake, whatever code the check gave */
        e->err.code = MG_E_INVALID;
        if (!e->err.msg[0]) mg_err_set(&e->err, MG_E_INVALID, "sources: invalid tree");
        return -1;
    }
    if (mg_sources_canonical(tree, json, sha, &p->sources_files, &p->sources_bytes) != 0)
        return mg_err_set(&e->err, MG_E_NOMEM, "out of memory");
    p->sources = *json;
    p->sources_sha256 = sha;
    p->repo_url = p->repo_ref = NULL;
    return 0;
}

/* Repository fields: a URL of some kind (the fetch judges it), a ref. */
static int check_repo_text(const char *field, const char *s, mg_service_err *e)
{
    size_t n = strlen(s);
    if (!n) return mg_err_set(&e->err, MG_E_INVALID, "field \"%s\" is empty", field);
    if (n > 4096)
        return mg_err_set(&e->err, MG_E_INVALID, "field \"%s\" is longer than 4096 bytes", field);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return mg_err_set(&e->err, MG_E_INVALID, "field \"%s\" contains a control character",
                              field);
    return 0;
}

static const mg_field repo_fields[] = {
    {"url", MG_JT_STRING, true},
    {"ref", MG_JT_STRING, false},
};
static const mg_field repo_patch_fields[] = {
    {"url", MG_JT_STRING, false},
    {"ref", MG_JT_STRING, false},
};

/* Reads {"url", "ref"} into p (pointing into the JSON); `patch` allows a
 * partial object that keeps p's current values. */
static int take_repo(const cJSON *repo, mg_project *p, bool patch, mg_service_err *e)
{
    if (mg_json_check_fields(repo, patch ? repo_patch_fields : repo_fields, 2, "repo.", &e->err) !=
        0)
        return -1;
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(repo, "url");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(repo, "ref");
    if (url && check_repo_text("repo.url", url->valuestring, e)) return -1;
    if (ref && check_repo_text("repo.ref", ref->valuestring, e)) return -1;
    bool was_git = p->repo_url != NULL;
    if (!url && !was_git)
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"repo.url\" is required (the project has no repository yet)");
    if (url) p->repo_url = url->valuestring;
    if (ref)
        p->repo_ref = ref->valuestring;
    else if (!was_git)
        p->repo_ref = NULL;
    p->sources = p->sources_sha256 = NULL;
    p->sources_files = p->sources_bytes = 0;
    return 0;
}

/* Tells the queue's observer (GET /events) that project `id` changed. */
static void project_changed(mg_service *svc, int64_t id)
{
    mg_queue_changed(svc->o.queue, &(mg_change){.kind = MG_CHANGE_PROJECT, .id = id});
}

/* After a change of project `id`: the observer is told, *out gets it. */
static int read_back(mg_service *svc, int64_t id, mg_project *out, mg_service_err *e)
{
    project_changed(svc, id);
    return mg_store_project_get_id(svc->o.store, id, out, &e->err);
}

/* ---- projects ------------------------------------------------------------- */

int mg_service_project_create(mg_service *svc, const mg_project_spec *spec, mg_project *out,
                              mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    char *sources_json = NULL, *config = NULL;
    char sources_sha[MG_SHA256_HEX_SIZE], config_sha[MG_SHA256_HEX_SIZE];
    mg_project p = {0};
    int rc = -1;
    if (!mg_project_name_valid(spec->name)) {
        mg_err_set(&e->err, MG_E_INVALID,
                   "field \"name\" must match ^[a-z0-9][a-z0-9_.-]{0,62}$ and not be all digits");
        goto out;
    }
    if (!spec->repo == !spec->sources) {
        mg_err_set(&e->err, MG_E_INVALID, "%s",
                   spec->repo ? "give either \"repo\" or \"sources\", not both"
                              : "give \"repo\" (a git repository) or \"sources\" (an inline tree)");
        goto out;
    }
    p.name = (char *)spec->name;
    if (spec->repo && take_repo(spec->repo, &p, false, e)) goto out;
    if (spec->sources && take_sources(svc, spec->sources, &p, &sources_json, sources_sha, e))
        goto out;
    if (!(config = mg_json_canonical(spec->config, &e->err))) {
        mg_err_prefix(&e->err, "config");
        goto out;
    }
    if (check_config(svc, config, spec->sources, e)) goto out;
    mg_sha256_bytes_hex(config, strlen(config), config_sha);
    int64_t id = mg_store_project_create(svc->o.store, &p, config, config_sha, &e->err);
    if (id < 0 && e->err.code == MG_E_CONFLICT)
        mg_err_set(&e->err, MG_E_CONFLICT, "a project named \"%s\" exists", spec->name);
    else if (id >= 0)
        rc = read_back(svc, id, out, e);
out:
    free(sources_json);
    cJSON_free(config);
    return rc;
}

int mg_service_project_patch(mg_service *svc, const mg_project *p, const cJSON *repo,
                             cJSON *sources, mg_project *out, mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    char *sources_json = NULL;
    char sha[MG_SHA256_HEX_SIZE];
    mg_project np = *p;
    int rc = -1;
    if (!repo == !sources) {
        mg_err_set(&e->err, MG_E_INVALID, "%s",
                   repo ? "give either \"repo\" or \"sources\", not both"
                        : "give \"repo\", \"sources\" or \"retention\" to change");
        goto out;
    }
    if (repo && take_repo(repo, &np, true, e)) goto out;
    if (sources && take_sources(svc, sources, &np, &sources_json, sha, e)) goto out;
    if (sources) {
        /* the new tree must hold what the current config names, as a new
         * config must name what the tree holds */
        mg_config_version cv;
        if (mg_store_config_get(svc->o.store, p->id, 0, &cv, &e->err) != 0) goto out;
        int fits = check_config(svc, cv.document, sources, e);
        mg_config_version_free(&cv);
        if (fits) goto out;
    }
    if (mg_store_project_update_sources(svc->o.store, &np, &e->err) != 0) goto out;
    rc = read_back(svc, p->id, out, e);
out:
    free(sources_json);
    return rc;
}

int mg_service_project_delete(mg_service *svc, const mg_project *p, mg_service_err *e)
{
    if (mg_queue_delete_project(svc->o.queue, p->id, &e->err) == 0) {
        mg_queue_changed(
            svc->o.queue,
            &(mg_change){.kind = MG_CHANGE_PROJECT_DELETED, .id = p->id, .name = p->name});
        return 0;
    }
    if (e->err.code == MG_E_NOT_FOUND)
        return mg_err_set(&e->err, MG_E_NOT_FOUND, "no project \"%.100s\"", p->name);
    /* MG_E_IO (or MG_E_NOSPACE for a full disk), whatever kind of failure
     * the queue reported: a delete that stopped half-way is answered 500
     * (507) and retried */
    if (e->err.code != MG_E_NOSPACE) e->err.code = MG_E_IO;
    return mg_err_prefix(&e->err, "cannot delete project %s", p->name);
}

/* ---- config documents ------------------------------------------------------ */

int mg_service_config_put(mg_service *svc, const mg_project *p, const char *doc, size_t len,
                          mg_config_put_result *out, mg_service_err *e)
{
    mg_errors errs = {0};
    cJSON *parsed = NULL, *tree = NULL;
    char *canon = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    /* The document as sent first, so parse errors point into what the
     * client wrote. */
    if (!doc) doc = "";
    if (!mg_config_check(svc->o.catalog, doc, len, &svc->o.config_limits, &errs)) {
        mg_service_config_failed(e, &errs);
        goto out;
    }
    if (mg_json_parse_body(doc, len, &parsed, &e->err) != 0) goto out;
    if (!parsed) {
        mg_err_set(&e->err, MG_E_INVALID, "the body must be the config document");
        goto out;
    }
    if (!(canon = mg_json_canonical(parsed, &e->err))) goto out;
    if (p->sources && !(tree = cJSON_Parse(p->sources))) {
        mg_err_set(&e->err, MG_E_INTERNAL, "the project's stored sources do not parse");
        goto out;
    }
    if (check_config(svc, canon, tree, e)) goto out;
    char sha[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex(canon, strlen(canon), sha);
    if (mg_store_config_put(svc->o.store, p->id, canon, sha, &out->version, &out->created,
                            &e->err) != 0)
        goto out;
    if (out->created) project_changed(svc, p->id); /* its config_version */
    rc = 0;
out:
    mg_errors_free(&errs);
    cJSON_Delete(parsed);
    cJSON_Delete(tree);
    cJSON_free(canon);
    return rc;
}

void mg_resolved_free(mg_resolved *x)
{
    mg_graph_free(x->graph);
    mg_config_version_free(&x->config);
    memset(x, 0, sizeof *x);
}

int mg_service_resolve(mg_service *svc, const mg_project *p, int64_t version, const char *target,
                       const char *arch, const mg_keys *keys, mg_resolved *out, mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    out->target = target ? target : mg_targets_default(svc->o.targets)->name;
    out->arch = arch ? arch : mg_host_arch();
    const mg_targets *ts = svc->o.targets;
    if (!mg_targets_find(ts, out->target)) {
        mg_buf names = {0};
        for (size_t i = 0; i < mg_targets_count(ts); i++)
            mg_buf_printf(&names, "%s%s", i ? ", " : "", mg_targets_get(ts, i)->name);
        mg_err_set(&e->err, MG_E_INVALID, "unknown target \"%.100s\" (targets: %s)", out->target,
                   names.data ? names.data : "none");
        mg_buf_free(&names);
        return -1;
    }
    if (p->config_version <= 0)
        return mg_err_set(&e->err, MG_E_CONFLICT, "project %s has no config", p->name);
    if (mg_store_config_get(svc->o.store, p->id, version, &out->config, &e->err) != 0) {
        if (e->err.code == MG_E_NOT_FOUND && version)
            mg_err_set(&e->err, MG_E_NOT_FOUND,
                       "project %s has no config version %lld (its latest is %lld)", p->name,
                       (long long)version, (long long)p->config_version);
        else if (e->err.code == MG_E_NOT_FOUND)
            mg_err_set(&e->err, MG_E_CONFLICT, "project %s has no config", p->name);
        return -1;
    }
    /* Only the latest version is held to the sources as they are now: an
     * older one was checked against the sources of its day, which may
     * since have changed, and its graph (or check) does not depend on
     * the files' contents (docs/api.md, POST /projects/:id/check) */
    bool latest = version == 0 || version == p->config_version;
    cJSON *tree = NULL;
    if (latest && p->sources && !(tree = cJSON_Parse(p->sources))) {
        mg_resolved_free(out);
        return mg_err_set(&e->err, MG_E_INTERNAL, "the project's stored sources do not parse");
    }
    /* the request's keys in the resolver's form */
    size_t n_keys = keys ? keys->n : 0;
    mg_key_setting *settings = mg_xmalloc((n_keys ? n_keys : 1) * sizeof *settings);
    for (size_t i = 0; i < n_keys; i++)
        settings[i] = (mg_key_setting){keys->items[i].name, keys->items[i].value};
    mg_resolve_options ro = {
        .target = out->target,
        .arch = out->arch,
        .keys = settings,
        .n_keys = n_keys,
        .limits = svc->o.config_limits,
        .check_path = tree ? inline_path_check : NULL,
        .check_path_ctx = tree,
    };
    mg_errors errs = {0};
    const char *doc = out->config.document;
    out->graph = mg_resolve(svc->o.catalog, doc, strlen(doc), &ro, &errs);
    cJSON_Delete(tree);
    free(settings);
    if (!out->graph) {
        mg_resolved_free(out);
        return mg_service_config_failed(e, &errs);
    }
    mg_errors_free(&errs);
    return 0;
}
