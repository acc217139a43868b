/*
 * builds.c - starting, rebuilding and cancelling builds.
 *
 * A build is resolved when it is asked for (the latest config version,
 * the target, arch and keys), so mistakes come back at once instead of as
 * a failed build later; the worker resolves again with the sources it
 * fetched. What the build row keeps of the keys is their canonical text
 * (the resolver's spelling: "010" becomes "10"), sorted by name, so equal
 * requests give equal input hashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "service/internal.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The build row's keys: {name: canonical text}, sorted by name. */
static char *canonical_keys(const mg_keys *keys, const mg_graph *g)
{
    const char **names = malloc((keys->n ? keys->n : 1) * sizeof *names);
    if (!names) return NULL;
    for (size_t i = 0; i < keys->n; i++) names[i] = keys->items[i].name;
    qsort(names, keys->n, sizeof *names, cmp_str);
    mg_buf b = {0};
    mg_jw w;
    mg_jw_init(&w, &b);
    mg_jw_object(&w);
    for (size_t i = 0; i < keys->n; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        const char *text = NULL;
        for (size_t k = 0; k < g->n_keys && !text; k++)
            if (!strcmp(g->keys[k].name, names[i]) && g->keys[k].has_value)
                text = g->keys[k].value.text;
        for (size_t k = 0; k < keys->n && !text; k++)
            if (!strcmp(keys->items[k].name, names[i])) text = keys->items[k].value;
        mg_jw_kstring(&w, names[i], text);
    }
    mg_jw_object_end(&w);
    free(names);
    return mg_buf_take(&b, NULL);
}

static int read_build(mg_service *svc, int64_t id, mg_stored_build *out, mg_service_err *e)
{
    return mg_store_build_get(svc->o.store, id, false, out, &e->err);
}

/* Queues a build row; *out gets it as queued. */
static int queue_build(mg_service *svc, const mg_stored_build *row, mg_stored_build *out,
                       mg_service_err *e)
{
    int64_t id = mg_store_build_create(svc->o.store, row, svc->o.max_queued, &e->err);
    if (id < 0 && e->err.code == MG_E_LIMIT) {
        e->retry_after_s = 10;
        return mg_err_set(&e->err, MG_E_LIMIT, "%lld builds are queued, the limit; try again later",
                          (long long)svc->o.max_queued);
    }
    if (id < 0) return -1;
    /* read before the workers are woken, so the answer usually shows the
     * build queued (a worker polling on its own may already have it);
     * the observer gets that row too, before a worker can change it */
    int rc = read_build(svc, id, out, e);
    if (rc == 0)
        mg_queue_changed(svc->o.queue,
                         &(mg_change){.kind = MG_CHANGE_BUILD, .id = id, .build = out});
    mg_queue_notify(svc->o.queue);
    return rc;
}

int mg_service_build_start(mg_service *svc, const mg_project *p, const mg_new_build *spec,
                           mg_stored_build *out, mg_service_err *e)
{
    static const mg_keys no_keys = {0};
    const mg_keys *keys = spec->keys ? spec->keys : &no_keys;
    mg_resolved res = {0};
    char *keys_json = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (spec->ref && (!spec->ref[0] || strlen(spec->ref) > 1024))
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"ref\" must be a branch, tag or commit (1 to 1024 bytes)");
    if (mg_service_resolve(svc, p, 0, spec->target, spec->arch, keys, &res, e)) goto out;
    const mg_target *target = mg_targets_find(svc->o.targets, res.target);
    const mg_target_arch *arch = mg_target_find_arch(target, res.arch);
    if (!arch) {
        mg_target_no_arch(target, res.arch, &e->err);
        goto out;
    }
    /* a build that can only fail is refused now, with the reason */
    bool can_run;
    mg_err why;
    if (!mg_target_available(target, arch, &can_run, &why)) {
        mg_err_set(&e->err, MG_E_INVALID, "target %s/%s is not available on this server: %s",
                   res.target, res.arch, why.msg);
        goto out;
    }
    if (!(keys_json = canonical_keys(keys, res.graph))) {
        mg_err_set(&e->err, MG_E_NOMEM, "out of memory");
        goto out;
    }
    /* from the snapshot's pin until the build row names it, no gc unpins
     * it (daemon/gc.h) */
    bool held = p->sources != NULL;
    if (held) mg_queue_blobs_hold(svc->o.queue);
    if (p->sources && mg_queue_snapshot_sources(svc->o.queue, p, &e->err) != 0) {
        mg_queue_blobs_release(svc->o.queue);
        mg_err_prefix(&e->err, "cannot keep the project's sources for the build");
        goto out;
    }
    mg_stored_build row = {
        .project_id = p->id,
        .target = (char *)res.target,
        .arch = (char *)res.arch,
        .keys = keys_json,
        .config_version = res.config.version,
        /* inline projects have no ref: their snapshot is the source */
        .ref = p->repo_url ? (spec->ref ? (char *)spec->ref : p->repo_ref) : NULL,
        .sources_sha256 = p->sources ? p->sources_sha256 : NULL,
        .force = spec->force,
    };
    rc = queue_build(svc, &row, out, e);
    if (held) mg_queue_blobs_release(svc->o.queue);
out:
    free(keys_json);
    mg_resolved_free(&res);
    return rc;
}

int mg_service_build_rebuild(mg_service *svc, const mg_stored_build *b, mg_stored_build *out,
                             mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    if (!mg_stored_status_terminal(b->status))
        return mg_err_set(&e->err, MG_E_CONFLICT,
                          "build %lld is %s: rebuild it once it has finished", (long long)b->id,
                          mg_stored_status_name(b->status));
    if (!b->commit && !b->sources_sha256)
        return mg_err_set(&e->err, MG_E_CONFLICT,
                          "build %lld never fetched its sources, so there is nothing to rebuild "
                          "the same; start a new build",
                          (long long)b->id);
    mg_stored_build row = {
        .project_id = b->project_id,
        .target = b->target,
        .arch = b->arch,
        .keys = b->keys,
        .config_version = b->config_version,
        .ref = b->ref,
        .commit = b->commit,
        .sources_sha256 = b->sources_sha256,
        .force = true,
        .rebuild_of = b->id,
    };
    return queue_build(svc, &row, out, e);
}

int mg_service_build_cancel(mg_service *svc, int64_t id, mg_stored_build *out, mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    if (mg_queue_cancel(svc->o.queue, id, &e->err) == 0) return read_build(svc, id, out, e);
    if (e->err.code == MG_E_NOT_FOUND)
        return mg_err_set(&e->err, MG_E_NOT_FOUND, "no build %lld", (long long)id);
    if (e->err.code == MG_E_CONFLICT) {
        /* say how it finished; when even that cannot be read, the
         * conflict is still the answer */
        mg_stored_build b;
        if (mg_store_build_get(svc->o.store, id, false, &b, NULL) != 0)
            return mg_err_set(&e->err, MG_E_CONFLICT, "build %lld has finished: nothing to cancel",
                              (long long)id);
        mg_err_set(&e->err, MG_E_CONFLICT, "build %lld has finished (%s): nothing to cancel",
                   (long long)id, mg_stored_status_name(b.status));
        mg_stored_build_free(&b);
        return -1;
    }
    return -1;
}
