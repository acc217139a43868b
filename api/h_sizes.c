/*
 * h_sizes.c - GET /builds/:id/sizes: a built image by section and by
 * module (toolchain/sizes.h), from the link's outputs in the cache.
 *
 * Reading the unstripped ELF and the map (a few MB) is done on the work
 * pool (workpool.h), like the other slow answers, not on an HTTP thread;
 * the handler only reads the build's row and hands the job over.
 */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/workpool.h"
#include "toolchain/sizes.h"

typedef struct sizes_job {
    int64_t id, image_size;
    char *image_name, *image_sha256, *describe;
} sizes_job;

static void sizes_job_free(void *arg)
{
    sizes_job *j = arg;
    free(j->image_name);
    free(j->image_sha256);
    free(j->describe);
    free(j);
}

static void write_sizes(mg_jw *w, const sizes_job *j, const mg_sizes *s)
{
    mg_jw_object(w);
    mg_jw_kint(w, "build", j->id);
    mg_jw_key(w, "image");
    mg_jw_object(w);
    mg_jw_kstring(w, "name", j->image_name);
    mg_jw_kint(w, "size", j->image_size);
    mg_jw_kstring(w, "sha256", j->image_sha256);
    mg_jw_object_end(w);
    mg_jw_key(w, "sections");
    mg_jw_array(w);
    for (size_t i = 0; i < s->n_sections; i++) {
        mg_jw_object(w);
        mg_jw_kstring(w, "name", s->sections[i].name);
        mg_jw_kuint(w, "size", s->sections[i].size);
        mg_jw_object_end(w);
    }
    mg_jw_array_end(w);
    mg_jw_key(w, "groups");
    mg_jw_array(w);
    for (size_t i = 0; i < s->n_groups; i++) {
        const mg_sizes_group *g = &s->groups[i];
        mg_jw_object(w);
        mg_jw_kstring(w, "name", g->name);
        mg_jw_kstring(w, "kind", g->kind);
        mg_jw_key(w, "devices");
        mg_jw_array(w);
        for (size_t k = 0; k < g->n_devices; k++) mg_jw_string(w, g->devices[k]);
        mg_jw_array_end(w);
        mg_jw_kuint(w, "size", g->size);
        mg_jw_key(w, "symbols");
        mg_jw_array(w);
        for (size_t k = 0; k < g->n_symbols; k++) {
            mg_jw_object(w);
            mg_jw_kstring(w, "name", g->symbols[k].name);
            mg_jw_kuint(w, "size", g->symbols[k].size);
            mg_jw_kstring(w, "section", g->symbols[k].section);
            mg_jw_object_end(w);
        }
        mg_jw_array_end(w);
        mg_jw_key(w, "other");
        mg_jw_object(w);
        mg_jw_kuint(w, "count", g->other_count);
        mg_jw_kuint(w, "size", g->other_size);
        mg_jw_object_end(w);
        mg_jw_object_end(w);
    }
    mg_jw_array_end(w);
    mg_jw_kuint(w, "unattributed", s->unattributed);
    mg_jw_object_end(w);
}

static void sizes_work(mg_work *wk, mg_req *r, void *arg)
{
    (void)wk;
    const sizes_job *j = arg;
    char *elf = NULL, *map = NULL;
    mg_err e;
    if (mg_sizes_record_get(r->api->o.cache, j->image_sha256, &elf, &map, &e) != 0) {
        if (e.code == MG_E_NOT_FOUND)
            mg_reply_error_code(r, 409, "sizes_unavailable",
                                "the link outputs of build %lld are not in the daemon's cache "
                                "(evicted, or the build ran on a worker)",
                                (long long)j->id);
        else
            mg_reply_err(r, &e);
        return;
    }
    size_t n_owners;
    mg_sizes_owner *owners = mg_sizes_owners(j->describe, r->api->o.catalog, &n_owners);
    mg_sizes s;
    if (mg_sizes_read(elf, map, owners, n_owners, &s, &e) != 0) {
        /* gone meanwhile (gc), or not what a link writes: no breakdown */
        mg_reply_error_code(r, 409, "sizes_unavailable",
                            "the link outputs of build %lld cannot be used: %s", (long long)j->id,
                            e.msg);
    } else {
        mg_jw w;
        mg_jw_init(&w, &r->out);
        write_sizes(&w, j, &s);
        mg_reply_json(r, 200);
        mg_sizes_free(&s);
    }
    mg_sizes_owners_free(owners, n_owners);
    free(elf);
    free(map);
}

void mg_h_build_sizes(mg_req *r)
{
    mg_stored_build b;
    if (!mg_req_build(r, mg_req_param(r, 0), true, &b)) return;
    if (b.status != MG_STORED_SUCCEEDED || !b.image_sha256) {
        mg_reply_error_code(r, 409, "no_image", "build %lld has no image (it is %s)",
                            (long long)b.id, mg_stored_status_name(b.status));
        mg_stored_build_free(&b);
        return;
    }
    if (!r->api->o.cache) {
        mg_reply_error_code(r, 409, "sizes_unavailable", "the daemon has no action cache");
        mg_stored_build_free(&b);
        return;
    }
    /* a reused build has the image of the build it reused, and the cache
     * knows the link by the image: the same breakdown; its graph is that
     * build's too (same input hash) */
    if (!b.describe && b.reused_from) {
        mg_stored_build from;
        mg_err e;
        if (mg_store_build_get(r->api->o.store, b.reused_from, true, &from, &e) == 0) {
            b.describe = from.describe;
            from.describe = NULL;
            mg_stored_build_free(&from);
        }
    }
    sizes_job *j = mg_xmalloc(sizeof *j);
    *j = (sizes_job){.id = b.id,
                     .image_size = b.image_size,
                     .image_name = mg_xstrdup(b.image_name ? b.image_name : ""),
                     .image_sha256 = mg_xstrdup(b.image_sha256),
                     .describe = b.describe ? mg_xstrdup(b.describe) : NULL};
    mg_stored_build_free(&b);
    if (mg_req_defer(r, sizes_work, sizes_job_free, j)) return;
    sizes_job_free(j);
    mg_reply_header(r, "Retry-After", "1");
    mg_reply_error(r, 503, "the daemon's work pool is full; try again in a moment");
}
