#include "toolchain/runtime_src.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/embedded.h"
#include "base/arena.h"
#include "base/fsutil.h"
#include "base/sha256.h"

/* Defined by the file cmake/embed.cmake generates from runtime/. */
MG_EMBEDDED_FILES(mg_runtime_files);

static char version[MG_SHA256_HEX_SIZE];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void compute_version(void)
{
    mg_sha256 s;
    mg_sha256_init(&s);
    for (size_t i = 0; i < mg_runtime_files_count; i++) {
        const mg_embedded_file *f = &mg_runtime_files[i];
        char len[32];
        int n = snprintf(len, sizeof len, "%zu", f->len);
        mg_sha256_update(&s, f->path, strlen(f->path) + 1);
        mg_sha256_update(&s, len, (size_t)n + 1);
        mg_sha256_update(&s, f->data, f->len);
    }
    unsigned char d[MG_SHA256_SIZE];
    mg_sha256_final(&s, d);
    mg_sha256_hex(d, version);
}

const char *mg_runtime_version(void)
{
    pthread_once(&version_once, compute_version);
    return version;
}

char *mg_runtime_materialize(mg_cache *c, mg_err *err)
{
    char *dir = mg_xasprintf("%s/runtime/%s", mg_cache_path(c), mg_runtime_version());
    char *stamp = mg_path_join(dir, ".complete");
    struct stat st;
    if (stat(stamp, &st) == 0) {
        /* the stamp's time says when it was last used: gc keeps recent trees */
        utimensat(AT_FDCWD, stamp, NULL, 0);
        free(stamp);
        return dir;
    }
    free(stamp);
    char *parent = mg_path_dirname(dir);
    if (mg_mkdir_p(parent) != 0) {
        mg_err_set(err, MG_E_IO, "cannot create %s: %s", parent, strerror(errno));
        free(parent);
        free(dir);
        return NULL;
    }
    free(parent);
    char *tmp = mg_cache_mkdtemp(c, "runtime-", err);
    if (!tmp) {
        free(dir);
        return NULL;
    }
    for (size_t i = 0; i < mg_runtime_files_count; i++) {
        const mg_embedded_file *f = &mg_runtime_files[i];
        char *path = mg_path_join(tmp, f->path);
        char *d = mg_path_dirname(path);
        int r = mg_mkdir_p(d);
        if (r == 0) r = mg_file_write_atomic(path, f->data, f->len, 0444);
        if (r != 0) mg_err_set(err, MG_E_IO, "cannot write %s: %s", path, strerror(errno));
        free(d);
        free(path);
        if (r != 0) {
            mg_rm_rf(tmp);
            free(tmp);
            free(dir);
            return NULL;
        }
    }
    char *tstamp = mg_path_join(tmp, ".complete");
    int r = mg_file_write_atomic(tstamp, mg_runtime_version(), MG_SHA256_HEX_SIZE - 1, 0444);
    free(tstamp);
    if (r == 0 && rename(tmp, dir) != 0) {
        /* Another build wrote the same tree first: theirs is as good. */
        if (errno != EEXIST && errno != ENOTEMPTY) {
            mg_err_set(err, MG_E_IO, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
            r = -1;
        }
        mg_rm_rf(tmp);
    } else if (r != 0) {
        mg_err_set(err, MG_E_IO, "cannot write into %s: %s", tmp, strerror(errno));
        mg_rm_rf(tmp);
    }
    free(tmp);
    if (r != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

const char *mg_runtime_file(const char *path, size_t *len)
{
    for (size_t i = 0; i < mg_runtime_files_count; i++)
        if (!strcmp(mg_runtime_files[i].path, path)) {
            *len = mg_runtime_files[i].len;
            return mg_runtime_files[i].data;
        }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool add_source(const char ***list, size_t *n, size_t *cap, const char *path)
{
    for (size_t i = 0; i < mg_runtime_files_count; i++) {
        if (strcmp(mg_runtime_files[i].path, path)) continue;
        for (size_t k = 0; k < *n; k++)
            if ((*list)[k] == mg_runtime_files[i].path) return true;
        if (*n + 2 > *cap) *list = mg_xrealloc(*list, (*cap = *cap * 2 + 8) * sizeof **list);
        (*list)[(*n)++] = mg_runtime_files[i].path;
        return true;
    }
    return false;
}

static bool has_file(const char *path)
{
    for (size_t i = 0; i < mg_runtime_files_count; i++)
        if (!strcmp(mg_runtime_files[i].path, path)) return true;
    return false;
}

/* "runtime/tcpip/../random/random.c" -> "runtime/random/random.c", in
 * place: an entry may list a source of another component it needs (the
 * direct stack needs the CSPRNG's), and the embedded table has normalised
 * paths. A ".." that would climb out of the tree is kept, and then
 * matches nothing. */
static void collapse_dotdot(char *p)
{
    char *d;
    while ((d = strstr(p, "/../"))) {
        char *start = d;
        while (start > p && start[-1] != '/') start--;
        if (start == d || !strncmp(start, "../", 3)) return;
        memmove(start, d + 4, strlen(d + 4) + 1);
    }
}

static bool has_prefix_c(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    const char *rest = path + n;
    /* C, and assembly with the preprocessor (a binding's boot code) */
    return !strncmp(path, dir, n) && !strchr(rest, '/') && strlen(rest) > 2 &&
           (!strcmp(rest + strlen(rest) - 2, ".c") || !strcmp(rest + strlen(rest) - 2, ".S"));
}

/* Where the embedded lwIP sources are (cmake: runtime/CMakeLists.txt). */
#define MG_RUNTIME_LWIP_DIR "runtime/tcpip/lwip/"
/* What a build that needs lwIP says when this mgd carries none. */
#define MG_RUNTIME_LWIP_MISSING                                                                    \
    "the image uses the direct TCP/IP stack, and this mgd was built without lwIP's sources: "      \
    "scripts/deps.sh fetches them (Debian's lwip source package) into third_party/; then "         \
    "rebuild mgd (make build)"

bool mg_runtime_entry_available(const mg_catalog_entry *e, mg_err *why)
{
    char *dir = mg_path_dirname(e->file);
    bool ok = true;
    /* its sources, then its licence notices: files of the tree alike */
    for (size_t k = 0; ok && k < e->n_sources + e->n_notices; k++) {
        const char *name = k < e->n_sources ? e->sources[k] : e->notices[k - e->n_sources];
        char *p = mg_path_join(dir, name);
        collapse_dotdot(p);
        if (!has_file(p)) {
            ok = false;
            /* lwIP is carried only when its sources were fetched before
             * mgd was built (scripts/deps.sh); anything else is a bug */
            if (!strncmp(p, MG_RUNTIME_LWIP_DIR, strlen(MG_RUNTIME_LWIP_DIR)))
                mg_err_set(why, MG_E_INVALID, "%s: %s", e->name, MG_RUNTIME_LWIP_MISSING);
            else
                mg_err_set(why, MG_E_INTERNAL,
                           "catalog entry %s lists the file %s, which this mgd does not carry "
                           "(a bug in mgd)",
                           e->name, p);
        }
        free(p);
    }
    free(dir);
    return ok;
}

char *mg_runtime_entry_source(const mg_catalog_entry *e, size_t k)
{
    char *dir = mg_path_dirname(e->file);
    char *p = mg_path_join(dir, e->sources[k]);
    collapse_dotdot(p);
    free(dir);
    return p;
}

char *mg_runtime_member_name(const char *source)
{
    const char *rest = !strncmp(source, "runtime/", 8) ? source + 8 : source;
    size_t n = strlen(rest);
    if (n > 2 && (!strcmp(rest + n - 2, ".c") || !strcmp(rest + n - 2, ".S"))) n -= 2;
    char *name = mg_xasprintf("%.*s.o", (int)n, rest);
    for (char *c = name; *c; c++)
        if (*c == '/') *c = '-';
    return name;
}

/* Whether `p` is a source of the arch's subfolders of the binding
 * `binding` ("runtime/bindings/virtio/" + "x86_64/"), their top level. */
static bool in_arch_bindings(const char *p, const char *binding, const mg_target_arch *arch)
{
    for (size_t k = 0; k < arch->n_bindings; k++) {
        char *sub = mg_xasprintf("%s%s/", binding, arch->bindings[k]);
        bool in = has_prefix_c(p, sub);
        free(sub);
        if (in) return true;
    }
    return false;
}

const char **mg_runtime_sources(const mg_graph *g, const mg_target *t, const mg_target_arch *arch,
                                size_t *n, mg_err *err)
{
    const char **list = NULL;
    size_t cap = 0;
    *n = 0;
    /* the core, the code every binding shares (runtime/bindings/, its top
     * level), the target's own binding (its top level, and the subfolders
     * the arch names: its own code, a transport), and the C library if it
     * has none */
    char *binding = mg_target_bindings_dir(t);
    for (size_t i = 0; i < mg_runtime_files_count; i++) {
        const char *p = mg_runtime_files[i].path;
        if (has_prefix_c(p, "runtime/core/") || has_prefix_c(p, "runtime/bindings/") ||
            has_prefix_c(p, binding) || in_arch_bindings(p, binding, arch) ||
            (t->libc && has_prefix_c(p, "runtime/libc/")))
            add_source(&list, n, &cap, p);
    }
    free(binding);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_catalog_entry *e = g->nodes[i].entry;
        if (!e || !e->concrete) continue;
        if (!mg_runtime_entry_available(e, err)) {
            free(list);
            return NULL;
        }
        char *dir = mg_path_dirname(e->file);
        for (size_t k = 0; k < e->n_sources; k++) {
            char *p = mg_path_join(dir, e->sources[k]);
            collapse_dotdot(p);
            add_source(&list, n, &cap, p); /* there: the entry is available */
            free(p);
        }
        free(dir);
    }
    if (!list) list = mg_xmalloc(sizeof *list);
    qsort(list, *n, sizeof *list, cmp_str);
    list[*n] = NULL;
    return list;
}
