#include "toolchain/target.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "graph/embedded.h"
#include "base/arena.h"

/* Defined by the file cmake/embed.cmake generates from toolchain/targets/. */
MG_EMBEDDED_FILES(mg_target_files);

struct mg_targets {
    mg_arena arena;
    mg_target *items;
    size_t n;
};

static const char *str_field(mg_arena *a, const cJSON *o, const char *name, bool required, bool *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v && !required) return NULL;
    if (!cJSON_IsString(v)) {
        *ok = false;
        return NULL;
    }
    return mg_arena_strdup(a, v->valuestring);
}

static const char **str_array(mg_arena *a, const cJSON *o, const char *name, size_t *n, bool *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *n = 0;
    if (!v) return NULL;
    if (!cJSON_IsArray(v)) {
        *ok = false;
        return NULL;
    }
    size_t count = (size_t)cJSON_GetArraySize(v);
    const char **out = mg_arena_alloc(a, (count + 1) * sizeof *out);
    for (const cJSON *c = v->child; c; c = c->next) {
        if (!cJSON_IsString(c)) {
            *ok = false;
            return NULL;
        }
        out[(*n)++] = mg_arena_strdup(a, c->valuestring);
    }
    out[*n] = NULL;
    return out;
}

static bool parse_target(mg_arena *a, const cJSON *j, mg_target *t)
{
    bool ok = cJSON_IsObject(j);
    if (!ok) return false;
    t->name = str_field(a, j, "name", true, &ok);
    t->doc = str_field(a, j, "doc", true, &ok);
    t->platform = str_field(a, j, "platform", true, &ok);
    t->image_suffix = str_field(a, j, "image_suffix", true, &ok);
    const cJSON *abi = cJSON_GetObjectItemCaseSensitive(j, "abi");
    if (!cJSON_IsNumber(abi) || abi->valueint < 1) return false;
    t->abi = abi->valueint;
    t->cflags = str_array(a, j, "cflags", &t->n_cflags, &ok);
    t->ldflags = str_array(a, j, "ldflags", &t->n_ldflags, &ok);
    t->libs = str_array(a, j, "libs", &t->n_libs, &ok);
    t->strip = str_array(a, j, "strip", &t->n_strip, &ok);
    const cJSON *libc = cJSON_GetObjectItemCaseSensitive(j, "libc");
    if (libc && !cJSON_IsBool(libc)) return false;
    t->libc = cJSON_IsTrue(libc);
    t->tender = str_field(a, j, "tender", false, &ok);
    t->linker_script = str_field(a, j, "linker_script", false, &ok);
    if (cJSON_GetObjectItemCaseSensitive(j, "vm")) t->vm = str_array(a, j, "vm", &t->n_vm, &ok);
    t->vm_package = str_field(a, j, "vm_package", false, &ok);
    const cJSON *arches = cJSON_GetObjectItemCaseSensitive(j, "arches");
    if (!ok || !cJSON_IsObject(arches)) return false;
    t->n_arches = (size_t)cJSON_GetArraySize(arches);
    t->arches = mg_arena_alloc(a, (t->n_arches ? t->n_arches : 1) * sizeof *t->arches);
    size_t i = 0;
    for (const cJSON *c = arches->child; c; c = c->next, i++) {
        mg_target_arch *ar = &t->arches[i];
        ar->name = mg_arena_strdup(a, c->string);
        ar->prefix = str_field(a, c, "prefix", true, &ok);
        ar->package = str_field(a, c, "package", true, &ok);
        ar->binutils_package = str_field(a, c, "binutils_package", true, &ok);
        ar->run = str_array(a, c, "run", &ar->n_run, &ok);
        ar->run_package = str_field(a, c, "run_package", false, &ok);
    }
    return ok;
}

mg_targets *mg_targets_load(char *err, size_t errsize)
{
    mg_targets *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->n = mg_target_files_count;
    t->items = mg_arena_alloc(&t->arena, (t->n ? t->n : 1) * sizeof *t->items);
    for (size_t i = 0; i < t->n; i++) {
        const mg_embedded_file *f = &mg_target_files[i];
        cJSON *j = cJSON_ParseWithLength(f->data, f->len);
        bool ok = j && parse_target(&t->arena, j, &t->items[i]);
        cJSON_Delete(j);
        if (!ok) {
            snprintf(err, errsize, "the built-in target description %s is broken (a bug in mgd)",
                     f->path);
            mg_targets_free(t);
            return NULL;
        }
    }
    return t;
}

void mg_targets_free(mg_targets *t)
{
    if (!t) return;
    mg_arena_free(&t->arena);
    free(t);
}

size_t mg_targets_count(const mg_targets *t)
{
    return t->n;
}

const mg_target *mg_targets_get(const mg_targets *t, size_t i)
{
    return i < t->n ? &t->items[i] : NULL;
}

const mg_target *mg_targets_find(const mg_targets *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].name, name)) return &t->items[i];
    return NULL;
}

const mg_target_arch *mg_target_find_arch(const mg_target *t, const char *arch)
{
    for (size_t i = 0; i < t->n_arches; i++)
        if (!strcmp(t->arches[i].name, arch)) return &t->arches[i];
    return NULL;
}

const char *mg_host_arch(void)
{
    static struct utsname u;
    static const char *arch;
    if (arch) return arch;
    if (uname(&u) != 0) return "x86_64";
    arch = !strcmp(u.machine, "arm64") ? "aarch64" : u.machine;
    return arch;
}

char *mg_find_program(const char *prog)
{
    if (strchr(prog, '/')) return access(prog, X_OK) == 0 ? mg_xstrdup(prog) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        /* an empty or relative entry would mean the build's working
         * directory, which is the project's: never look there */
        if (n && p[0] == '/') {
            char *full = mg_xasprintf("%.*s/%s", (int)n, p, prog);
            if (access(full, X_OK) == 0) return full;
            free(full);
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

char *mg_find_tender(const char *name)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            char *p = mg_xasprintf("%s/%s", self, name);
            if (access(p, X_OK) == 0) return p;
            free(p);
        }
    }
    return mg_find_program(name);
}

bool mg_target_available(const mg_target *t, const mg_target_arch *a, bool *can_run, char *why,
                         size_t whysize)
{
    static const char *const tools[] = {"gcc", "ar", "strip"};
    *can_run = false;
    if (why && whysize) why[0] = 0;
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        char *name = mg_xasprintf("%s%s", a->prefix, tools[i]);
        char *found = mg_find_program(name);
        if (!found) {
            snprintf(why, whysize, "%s/%s: %s not found (install the Debian package %s)", t->name,
                     a->name, name, i == 0 ? a->package : a->binutils_package);
            free(name);
            return false;
        }
        free(found);
        free(name);
    }
    if (t->tender) {
        /* built with mgd and put next to it: its absence is an mgd built
         * without it (libseccomp missing at build time) */
        char *found = mg_find_tender(t->tender);
        if (!found) {
            snprintf(why, whysize,
                     "%s/%s: %s not found next to mgd or on PATH (build mgd with libseccomp-dev "
                     "installed)",
                     t->name, a->name, t->tender);
            return false;
        }
        free(found);
        *can_run = !strcmp(a->name, mg_host_arch());
        if (!*can_run)
            snprintf(why, whysize, "%s runs %s images on the host's arch only (%s)", t->tender,
                     t->name, mg_host_arch());
        return true;
    }
    const char *runner = t->n_vm ? t->vm[0] : a->n_run ? a->run[0] : NULL;
    if (!runner) {
        *can_run = !strcmp(a->name, mg_host_arch());
        if (!*can_run)
            snprintf(why, whysize, "%s/%s images run on %s hosts only (this one is %s)", t->name,
                     a->name, a->name, mg_host_arch());
        return true;
    }
    /* building needs no VM or emulator; running does */
    char *found = mg_find_program(runner);
    *can_run = found != NULL;
    free(found);
    if (!*can_run) {
        const char *package = t->n_vm ? t->vm_package : a->run_package;
        snprintf(why, whysize, "%s/%s images run under %s, which is not installed%s%s%s", t->name,
                 a->name, runner, package ? " (the Debian package " : "", package ? package : "",
                 package ? ")" : "");
    }
    return true;
}
