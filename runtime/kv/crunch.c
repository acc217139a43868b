/*
 * crunch.c - crunch(dir): a read-only store over files embedded in the
 * image by the build (the table of mg/crunch.h).
 *
 * The data is constant and sorted, so the store is a view: lookups are
 * binary searches in the generated array, reads are memcpy. A value's
 * version (mg_kv_ro_version) is a hash of its bytes, computed when first
 * asked and kept: once per file per boot, never per request.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/crunch.h"
#include "mg/kv_ro.h"

typedef struct crunch {
    mg_kv_ro kv; /* first: a mg_kv_ro * is a crunch * */
    const struct mg_crunch_tree *tree;
    mg_kv_index index;
    /* per file: its hash, once computed (the bytes never change) */
    struct crunch_version {
        uint64_t hash;
        bool known;
    } * versions;
} crunch;

static int crunch_stat(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size)
{
    const crunch *c = (const crunch *)kv;
    size_t i;
    int rc = mg_kv_index_stat(&c->index, key, kind, &i);
    if (rc == MG_OK && *kind == MG_KV_VALUE) *size = c->tree->files[i].size;
    return rc;
}

static int crunch_read(mg_kv_ro *kv, const char *key, uint64_t offset, void *buf, size_t length,
                       size_t *n_read)
{
    const crunch *c = (const crunch *)kv;
    mg_kv_kind kind;
    size_t i;
    int rc = mg_kv_index_stat(&c->index, key, &kind, &i);
    if (rc != MG_OK) return rc;
    if (kind != MG_KV_VALUE) return MG_EISDIR;
    const struct mg_crunch_file *f = &c->tree->files[i];
    if (offset > f->size) return MG_ERANGE;
    if ((uint64_t)length > f->size - offset) length = (size_t)(f->size - offset);
    if (length) memcpy(buf, f->data + offset, length);
    *n_read = length;
    return MG_OK;
}

static int crunch_list(mg_kv_ro *kv, const char *key, mg_kv_list_fn fn, void *ctx)
{
    const crunch *c = (const crunch *)kv;
    return mg_kv_index_list(&c->index, key, fn, ctx);
}

static int crunch_version(mg_kv_ro *kv, const char *key, mg_kv_kind *kind, uint64_t *size,
                          uint64_t *version)
{
    crunch *c = (crunch *)kv;
    size_t i;
    int rc = mg_kv_index_stat(&c->index, key, kind, &i);
    if (rc != MG_OK || *kind != MG_KV_VALUE) return rc;
    const struct mg_crunch_file *f = &c->tree->files[i];
    struct crunch_version *v = &c->versions[i];
    if (!v->known) {
        /* the size of the embedded table fits in memory, so in size_t */
        v->hash = mg_kv_version_bytes(MG_KV_VERSION_SEED, f->data, (size_t)f->size);
        v->known = true;
    }
    *size = f->size;
    *version = v->hash;
    return MG_OK;
}

static void crunch_disconnect(mg_kv_ro *kv)
{
    free(((crunch *)kv)->versions);
    free(kv);
}

static const struct mg_kv_ro_ops crunch_ops = {
    .stat = crunch_stat,
    .read = crunch_read,
    .list = crunch_list,
    .disconnect = crunch_disconnect,
    .version = crunch_version,
};

/* A path as mg/crunch.h promises it: normalised (non-empty segments, no
 * "." or ".."). */
static bool path_ok(const char *path)
{
    if (!path || !*path) return false;
    const char *p = path;
    while (*p) {
        const char *seg = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (*p == '/' && !*++p) return false; /* trailing '/' */
    }
    return true;
}

/* Checks what the lookups rely on: valid paths in strictly increasing
 * order, data present, no file that is also a directory of another. On
 * failure *bad is the offending file. */
static bool tree_ok(const struct mg_crunch_tree *t, size_t *bad)
{
    mg_kv_index ix = {t->files, t->n_files, sizeof t->files[0]};
    for (size_t i = 0; i < t->n_files; i++) {
        const struct mg_crunch_file *f = &t->files[i];
        *bad = i;
        if (!path_ok(f->path) || (f->size && !f->data)) return false;
        if (i > 0 && strcmp(t->files[i - 1].path, f->path) >= 0) return false;
    }
    /* A second pass, once the order is known good: if "a" is a file,
     * "a/..." sorts after it but not necessarily right after ("a.txt" may
     * come between), so ask the index. */
    for (size_t i = 0; i < t->n_files; i++) {
        const char *path = t->files[i].path;
        size_t j = mg_kv_index_lower_bound(&ix, path, '/');
        size_t len = strlen(path);
        if (j < t->n_files && !strncmp(t->files[j].path, path, len) &&
            t->files[j].path[len] == '/') {
            *bad = i;
            return false;
        }
    }
    return true;
}

int mg_crunch_connect(mg_kv_ro **out, const char *dir)
{
    const struct mg_crunch_tree *tree = NULL;
    for (size_t i = 0; dir && i < mg_crunch_n_trees; i++)
        if (mg_crunch_trees[i].dir && !strcmp(mg_crunch_trees[i].dir, dir))
            tree = &mg_crunch_trees[i];
    if (!tree) {
        mg_printf("crunch: the directory \"%s\" is not embedded in this image\n",
                  dir ? dir : "(null)");
        return MG_ENOENT;
    }
    size_t bad = 0;
    if (!tree_ok(tree, &bad)) {
        const char *path = tree->files[bad].path;
        mg_printf("crunch %s: the embedded table is malformed at file %zu (%s): paths must be "
                  "normalised, sorted and unique\n",
                  dir, bad, path ? path : "(null)");
        return MG_EINVAL;
    }
    crunch *c = malloc(sizeof *c);
    struct crunch_version *versions = calloc(tree->n_files ? tree->n_files : 1, sizeof *versions);
    if (!c || !versions) {
        free(c);
        free(versions);
        mg_printf("crunch %s: out of memory\n", dir);
        return MG_ENOMEM;
    }
    c->kv.ops = &crunch_ops;
    c->tree = tree;
    c->versions = versions;
    c->index = (mg_kv_index){tree->files, tree->n_files, sizeof tree->files[0]};
    *out = &c->kv;
    return MG_OK;
}
