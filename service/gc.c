/*
 * gc.c - retention: a project's own number of builds kept, pins, and
 * the gc run a client asks for (daemon/gc.h does the work; docs/daemon.md,
 * "Retention and gc", says what is kept).
 */
#include <stdio.h>
#include <string.h>

#include "service/internal.h"

static const mg_field retention_fields[] = {
    {"keep_builds", MG_JT_INTEGER | MG_JT_NULL, true},
};

int mg_service_retention_parse(const cJSON *retention, int64_t *keep, mg_service_err *e)
{
    *keep = -1;
    if (!retention || cJSON_IsNull(retention)) return 0;
    if (!cJSON_IsObject(retention))
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"retention\" must be an object {\"keep_builds\": N} or null");
    if (mg_json_check_fields(retention, retention_fields, 1, "retention.", &e->err) != 0) return -1;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(retention, "keep_builds");
    if (cJSON_IsNull(n)) return 0;
    /* the check said integer: a double with an integral value, maybe huge */
    if (!(n->valuedouble >= 0 && n->valuedouble <= MG_GC_MAX_KEEP_BUILDS))
        return mg_err_set(&e->err, MG_E_INVALID,
                          "field \"retention.keep_builds\" must be from 0 (keep all) to %d, or "
                          "null (the daemon's)",
                          MG_GC_MAX_KEEP_BUILDS);
    *keep = (int64_t)n->valuedouble;
    return 0;
}

int mg_service_project_retention(mg_service *svc, const mg_project *p, int64_t keep,
                                 mg_project *out, mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    if (keep < -1 || keep > MG_GC_MAX_KEEP_BUILDS)
        return mg_err_set(&e->err, MG_E_INVALID, "keep_builds must be from 0 to %d",
                          MG_GC_MAX_KEEP_BUILDS);
    if (mg_store_project_set_retention(svc->o.store, p->id, keep, &e->err) != 0) {
        if (e->err.code == MG_E_NOT_FOUND)
            mg_err_set(&e->err, MG_E_NOT_FOUND, "no project \"%.100s\"", p->name);
        return -1;
    }
    mg_queue_changed(svc->o.queue, &(mg_change){.kind = MG_CHANGE_PROJECT, .id = p->id});
    return mg_store_project_get_id(svc->o.store, p->id, out, &e->err);
}

int mg_service_build_pin(mg_service *svc, int64_t id, bool pin, mg_stored_build *out,
                         mg_service_err *e)
{
    memset(out, 0, sizeof *out);
    if (mg_store_build_pin(svc->o.store, id, pin, &e->err) != 0) {
        if (e->err.code == MG_E_NOT_FOUND)
            mg_err_set(&e->err, MG_E_NOT_FOUND, "no build %lld", (long long)id);
        return -1;
    }
    mg_queue_changed(svc->o.queue, &(mg_change){.kind = MG_CHANGE_BUILD, .id = id});
    return mg_store_build_get(svc->o.store, id, false, out, &e->err);
}

int mg_service_gc(mg_service *svc, const char *why, mg_gc_report *out, mg_service_err *e)
{
    if (!svc->o.queue) return mg_err_set(&e->err, MG_E_INTERNAL, "gc needs the queue");
    if (mg_queue_gc(svc->o.queue, svc->o.keep_builds, why, out, &e->err) == 0) return 0;
    /* what the disk or the database did wrong is the server's: 500 */
    if (e->err.code != MG_E_NOMEM) e->err.code = MG_E_IO;
    return mg_err_prefix(&e->err, "gc");
}
