#include "targets/registry.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

/* The files cmake/embed.cmake compiles in from targets/, in the
 * layout it generates (graph/embedded.h declares the same for the folders
 * above this one, which this one may not include). */
typedef struct {
    const char *path;
    const char *data;
    size_t len;
} target_file;
extern const target_file mg_target_files[];
extern const size_t mg_target_files_count;

struct mg_targets {
    mg_arena arena;
    mg_target *items;
    size_t n;
    const mg_target *default_target;
};

static const char *const launcher_names[] = {
    [MG_LAUNCHER_EXEC] = "exec",
    [MG_LAUNCHER_TENDER] = "tender",
    [MG_LAUNCHER_VM] = "vm",
};

const char *mg_launcher_kind_name(mg_launcher_kind k)
{
    return launcher_names[k];
}

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

static bool bool_field(const cJSON *o, const char *name, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v && !cJSON_IsBool(v)) return false;
    *out = cJSON_IsTrue(v);
    return true;
}

static bool parse_launcher(const cJSON *j, mg_target *t)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "launcher");
    if (!cJSON_IsString(v)) return false;
    for (size_t k = 0; k < sizeof launcher_names / sizeof *launcher_names; k++)
        if (!strcmp(v->valuestring, launcher_names[k])) {
            t->launcher = (mg_launcher_kind)k;
            return true;
        }
    return false;
}

/* Whether an arch of `t` has what its launcher needs, and only that. */
static bool launcher_complete(const mg_target *t, const mg_target_arch *ar)
{
    bool vm = ar->n_vm && ar->vm_block_device && ar->vm_net_device;
    bool any_vm =
        ar->n_vm || ar->vm_block_device || ar->vm_net_device || ar->vm_device_bus || ar->vm_package;
    switch (t->launcher) {
    case MG_LAUNCHER_EXEC:
        return !t->tender && !any_vm;
    case MG_LAUNCHER_TENDER:
        return t->tender && !any_vm;
    case MG_LAUNCHER_VM:
        return !t->tender && vm;
    }
    return false;
}

/* A subfolder of a bindings folder: a plain name, which cannot climb out
 * of it or name a nested folder. */
static bool plain_name(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* A QEMU -device value mgd run appends to after a comma: no blanks (it
 * is one argument anyway, but a blank would be a mistake) and not empty. */
static bool device_value(const char *s)
{
    return s == NULL || (*s && !strpbrk(s, " \t\n"));
}

/* The arch's entry `c` of target `t` into `ar`, its per-arch fields
 * defaulting to the target's. */
static bool parse_arch(mg_arena *a, const cJSON *c, const mg_target *t, mg_target_arch *ar)
{
    bool ok = cJSON_IsObject(c);
    if (!ok) return false;
    ar->name = mg_arena_strdup(a, c->string);
    ar->prefix = str_field(a, c, "prefix", true, &ok);
    ar->package = str_field(a, c, "package", true, &ok);
    ar->binutils_package = str_field(a, c, "binutils_package", true, &ok);
    ar->run = str_array(a, c, "run", &ar->n_run, &ok);
    ar->run_package = str_field(a, c, "run_package", false, &ok);
    ar->bindings = str_array(a, c, "bindings", &ar->n_bindings, &ok);
    ar->linker_script = str_field(a, c, "linker_script", false, &ok);
    ar->cflags = str_array(a, c, "cflags", &ar->n_cflags, &ok);
    if (cJSON_GetObjectItemCaseSensitive(c, "vm")) ar->vm = str_array(a, c, "vm", &ar->n_vm, &ok);
    ar->vm_package = str_field(a, c, "vm_package", false, &ok);
    ar->vm_block_device = str_field(a, c, "vm_block_device", false, &ok);
    ar->vm_net_device = str_field(a, c, "vm_net_device", false, &ok);
    ar->vm_device_bus = str_field(a, c, "vm_device_bus", false, &ok);
    if (!ok) return false;
    if (!ar->linker_script) ar->linker_script = t->linker_script;
    if (!ar->n_vm) {
        ar->vm = t->vm;
        ar->n_vm = t->n_vm;
    }
    if (!ar->vm_package) ar->vm_package = t->vm_package;
    for (size_t k = 0; k < ar->n_bindings; k++)
        if (!plain_name(ar->bindings[k])) return false;
    if (ar->n_vm && !ar->vm[0][0]) return false;
    return device_value(ar->vm_block_device) && device_value(ar->vm_net_device) &&
           device_value(ar->vm_device_bus) && launcher_complete(t, ar);
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
    if (!bool_field(j, "libc", &t->libc) || !bool_field(j, "default", &t->is_default)) return false;
    t->tender = str_field(a, j, "tender", false, &ok);
    t->linker_script = str_field(a, j, "linker_script", false, &ok);
    if (cJSON_GetObjectItemCaseSensitive(j, "vm")) t->vm = str_array(a, j, "vm", &t->n_vm, &ok);
    t->vm_package = str_field(a, j, "vm_package", false, &ok);
    if (!ok || !parse_launcher(j, t)) return false;
    const cJSON *arches = cJSON_GetObjectItemCaseSensitive(j, "arches");
    if (!cJSON_IsObject(arches) || !arches->child) return false;
    t->n_arches = (size_t)cJSON_GetArraySize(arches);
    t->arches = mg_arena_alloc(a, t->n_arches * sizeof *t->arches);
    size_t i = 0;
    for (const cJSON *c = arches->child; c; c = c->next, i++)
        if (!parse_arch(a, c, t, &t->arches[i])) return false;
    const cJSON *un = cJSON_GetObjectItemCaseSensitive(j, "unsupported_arches");
    if (un && !cJSON_IsObject(un)) return false;
    t->n_unsupported = un ? (size_t)cJSON_GetArraySize(un) : 0;
    t->unsupported = mg_arena_alloc(a, (t->n_unsupported + 1) * sizeof *t->unsupported);
    i = 0;
    for (const cJSON *c = un ? un->child : NULL; c; c = c->next, i++) {
        /* an arch is either built or unsupported, never both */
        if (!cJSON_IsString(c) || !c->valuestring[0]) return false;
        for (size_t k = 0; k < t->n_arches; k++)
            if (!strcmp(t->arches[k].name, c->string)) return false;
        t->unsupported[i] = (mg_target_unsupported){mg_arena_strdup(a, c->string),
                                                    mg_arena_strdup(a, c->valuestring)};
    }
    return ok;
}

/* What is wrong with the registry as a whole (NULL: nothing): names are
 * unique and exactly one target is the default. */
static const char *registry_problem(mg_targets *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t k = 0; k < i; k++)
            if (!strcmp(t->items[i].name, t->items[k].name)) return "two targets have one name";
        if (t->items[i].is_default) {
            if (t->default_target) return "more than one target says \"default\": true";
            t->default_target = &t->items[i];
        }
    }
    return t->default_target ? NULL : "no target says \"default\": true";
}

mg_targets *mg_targets_load(mg_err *e)
{
    mg_targets *t = mg_xmalloc(sizeof *t);
    *t = (mg_targets){0};
    t->n = mg_target_files_count;
    t->items = mg_arena_alloc(&t->arena, (t->n ? t->n : 1) * sizeof *t->items);
    for (size_t i = 0; i < t->n; i++) {
        const target_file *f = &mg_target_files[i];
        cJSON *j = cJSON_ParseWithLength(f->data, f->len);
        bool ok = j && parse_target(&t->arena, j, &t->items[i]);
        cJSON_Delete(j);
        if (!ok) {
            mg_err_set(e, MG_E_INTERNAL,
                       "the built-in target description %s is broken (a bug in mgd)", f->path);
            mg_targets_free(t);
            return NULL;
        }
    }
    const char *problem = registry_problem(t);
    if (problem) {
        mg_err_set(e, MG_E_INTERNAL, "the built-in target registry is broken (a bug in mgd): %s",
                   problem);
        mg_targets_free(t);
        return NULL;
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

const mg_target *mg_targets_default(const mg_targets *t)
{
    return t->default_target;
}

const mg_target_arch *mg_target_find_arch(const mg_target *t, const char *arch)
{
    for (size_t i = 0; i < t->n_arches; i++)
        if (!strcmp(t->arches[i].name, arch)) return &t->arches[i];
    return NULL;
}

int mg_target_no_arch(const mg_target *t, const char *arch, mg_err *e)
{
    for (size_t i = 0; i < t->n_unsupported; i++)
        if (!strcmp(t->unsupported[i].name, arch))
            return mg_err_set(e, MG_E_INVALID, "%s/%s: %s", t->name, arch,
                              t->unsupported[i].reason);
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < t->n_arches && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 t->arches[i].name);
    return mg_err_set(e, MG_E_INVALID, "target %s has no arch \"%.40s\" (its arches: %s)", t->name,
                      arch, list);
}

char *mg_target_bindings_dir(const mg_target *t)
{
    return mg_xasprintf("runtime/bindings/%s/", t->platform);
}
