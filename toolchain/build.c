#include "toolchain/build.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/deadline.h"
#include "graph/codegen.h"
#include "base/buf.h"
#include "toolchain/crunch.h"
#include "toolchain/exec.h"
#include "base/fsutil.h"
#include "toolchain/image.h"
#include "toolchain/runtime_src.h"
#include "toolchain/sizes.h"

/* Bumped when the meaning of a key or the format of entries changes. */
#define KEY_DOMAIN "mgd action v1"
/* The longest a finished build waits for its uploads to the remote cache
 * (what is left is dropped): the tail of a cold build's uploads, the image
 * and its record, takes well under a second on a working cache. */
#define FLUSH_MAX_MS 30000u

typedef enum { ACT_COMPILE, ACT_ARCHIVE, ACT_LINK, ACT_STRIP } act_kind;
static const char *const kind_names[] = {"compile", "archive", "link", "strip"};

typedef enum { ST_WAITING, ST_RUNNING, ST_DONE } act_state;

/* A file the build reads or writes. */
typedef struct {
    char *path;    /* absolute */
    char *canon;   /* with the build's roots replaced by placeholders */
    char *ws;      /* the path in the workspace (src/x.c, obj/...), NULL outside it */
    long producer; /* action index, or -1 for a source */
    bool known;    /* sha is set */
    bool present;  /* the file is in place (a hit restores outputs only when needed) */
    char sha[MG_SHA256_HEX_SIZE];
} bfile;

typedef struct {
    act_kind kind;
    char *label;
    char **argv;
    size_t argc;
    size_t *inputs, n_inputs;
    size_t *outputs, n_outputs;
    char *depfile;    /* compile: gcc -MD writes it (host path) */
    char *as_depfile; /* compile: the assembler's --MD (.incbin and .include files) */
    char *outdir;     /* the workspace folder it alone writes */
    bool outdir_made; /* on the host (outdir_make) */
    bool reads_trees; /* sees the source trees (a compile: headers are found as it runs) */
    unsigned mode;    /* of the outputs */
    act_state state;
    bool rerun;                    /* its cached output turned out corrupt or missing: run it */
    bool in_flight;                /* holds key1's single flight in the cache */
    bool deferred;                 /* another build runs the same action: wait for it */
    bool from_remote;              /* its entry came from the remote cache */
    bool force_local;              /* runs here: distcc failed it */
    bool ran_remote;               /* its last run had cc1 on a distcc host */
    bool assembling;               /* step 2 of a distributed compile runs (toolchain/distcc.h) */
    int host;                      /* running (step 1) or ran cc1 on this distcc host, or -1 */
    char *asm_ws;                  /* a C compile: the assembly text distcc brings back, or NULL */
    char *cc1_output;              /* step 1's messages, shown with step 2's (malloc'd) */
    uint64_t cc1_ms;               /* step 1's time */
    char key1[MG_SHA256_HEX_SIZE]; /* over argv and declared inputs */
    char key[MG_SHA256_HEX_SIZE];  /* key1 + the headers read */
    uint64_t exec_id;
} action;

struct mg_build {
    mg_build_options o;
    mg_arena arena;
    atomic_bool cancelled;
    mg_executor *ex;
    const mg_target *target;
    const mg_target_arch *arch;
    char *toolid;
    char *scratch, *rt_root, *src_root; /* the workspace on the host; the trees it links to */
    char *cwd_map;                      /* -ffile-prefix-map=<scratch>=. */
    mg_build_limits limits;
    char *cc, *ar, *strip;
    bfile *files;
    size_t n_files, cap_files;
    action *acts;
    size_t n_acts, cap_acts;
    /* header hashes of this build: canonical path -> sha ("" when missing) */
    char **hpaths, **hshas;
    size_t n_h, cap_h;
    uint64_t start_ms; /* mg_now_ms() when the build began */
    mg_build_result *res;
    uint64_t executed_ms, corrupt;
    mg_remote *remote; /* the remote cache's session, or NULL */
    cJSON *memo;       /* path -> ["dev:ino:size:mtime:ctime", sha256] */
    bool memo_dirty;
    /* distcc (toolchain/distcc.h): the hosts given, each one's compiles
     * running and whether it failed in this build; the local processes */
    char *distcc_prog;  /* NULL: no distcc in this build */
    char *distcc_state; /* distcc's DISTCC_DIR without the sandbox */
    unsigned *host_busy;
    bool *host_down;
    unsigned local_running;
};

static void logf_(mg_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(mg_build *b, const char *fmt, ...)
{
    if (!b->o.log) return;
    va_list ap;
    va_start(ap, fmt);
    char *text = mg_xvasprintf(fmt, ap);
    va_end(ap);
    b->o.log(b->o.log_ctx, text, strlen(text));
    free(text);
}

static void log_step(mg_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_step(mg_build *b, const char *fmt, ...)
{
    if (!b->o.log) return;
    uint64_t ms = mg_ms_since(b->start_ms);
    va_list ap;
    va_start(ap, fmt);
    char *text = mg_xvasprintf(fmt, ap);
    va_end(ap);
    if (b->o.log_untimed)
        logf_(b, "%s\n", text);
    else
        logf_(b, "[%4llu.%03llu] %s\n", (unsigned long long)(ms / 1000),
              (unsigned long long)(ms % 1000), text);
    free(text);
}

static int fail(mg_build *b, mg_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(mg_build *b, mg_err_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_err_vset(&b->res->error, code, fmt, ap);
    va_end(ap);
    if (!b->o.log_no_error) log_step(b, "error: %s", b->res->error.msg);
    return -1;
}

/* --- paths ------------------------------------------------------------- */

/* Replaces the build's own roots (scratch, runtime tree, project) by
 * placeholders, so keys do not depend on where things happen to live.
 * The longest matching root wins (the cache may sit inside the project). */
static char *canon(mg_build *b, const char *path)
{
    const char *roots[3] = {b->scratch, b->rt_root, b->src_root};
    const char *names[3] = {"$WORK", "$RUNTIME", "$SRC"};
    size_t best = 0;
    int which = -1;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(roots[i]);
        if (n > best && !strncmp(path, roots[i], n) &&
            (path[n] == '/' || path[n] == 0 || path[n] == '=' || path[n] == ' ')) {
            best = n;
            which = i;
        }
    }
    if (which < 0) return mg_arena_strdup(&b->arena, path);
    return mg_arena_printf(&b->arena, "%s%s", names[which], path + best);
}

/* The workspace path of a canonical path (see build.h): $WORK/x is x,
 * $RUNTIME/runtime/x is runtime/x, $SRC/x is src/x. NULL for paths
 * outside the workspace (system headers). */
static char *ws_of(mg_build *b, const char *canon_path)
{
    if (!strncmp(canon_path, "$WORK/", 6)) return mg_arena_strdup(&b->arena, canon_path + 6);
    if (!strncmp(canon_path, "$RUNTIME/", 9)) return mg_arena_strdup(&b->arena, canon_path + 9);
    if (!strncmp(canon_path, "$SRC/", 5))
        return mg_arena_printf(&b->arena, "src/%s", canon_path + 5);
    return NULL;
}

/* How a path is shown in the log and in errors: never the daemon's own
 * folders. */
static const char *shown(mg_build *b, const char *canon_path)
{
    const char *ws = ws_of(b, canon_path);
    return ws ? ws : canon_path;
}

/* A canonical argument: options like -I/x or -ffile-prefix-map=/x=. carry
 * paths after a prefix. */
static char *canon_arg(mg_build *b, const char *arg)
{
    /* Only the forms mgd itself writes: absolute paths, -I/... and the
     * prefix maps. Anything else (a user's -DDIR=/x) goes into the key as
     * it is, since its bytes may end up in the object. */
    if (arg[0] == '/') return canon(b, arg);
    static const char *const prefixes[] = {"-I/", "-ffile-prefix-map=/"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]) - 1;
        if (!strncmp(arg, prefixes[i], n + 1))
            return mg_arena_printf(&b->arena, "%.*s%s", (int)n, arg, canon(b, arg + n));
    }
    return mg_arena_strdup(&b->arena, arg);
}

static size_t file_add(mg_build *b, const char *path, long producer)
{
    for (size_t i = 0; i < b->n_files; i++)
        if (!strcmp(b->files[i].path, path)) return i;
    if (b->n_files == b->cap_files)
        b->files = mg_xrealloc(b->files, (b->cap_files = b->cap_files * 2 + 32) * sizeof *b->files);
    bfile *f = &b->files[b->n_files];
    memset(f, 0, sizeof *f);
    f->path = mg_arena_strdup(&b->arena, path);
    f->canon = canon(b, path);
    f->ws = ws_of(b, f->canon);
    f->producer = producer;
    return b->n_files++;
}

static action *act_new(mg_build *b, act_kind kind, const char *label)
{
    if (b->n_acts == b->cap_acts)
        b->acts = mg_xrealloc(b->acts, (b->cap_acts = b->cap_acts * 2 + 32) * sizeof *b->acts);
    action *a = &b->acts[b->n_acts++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->label = mg_arena_strdup(&b->arena, label);
    a->mode = 0644;
    a->host = -1;
    return a;
}

static void act_arg(mg_build *b, action *a, const char *arg)
{
    a->argv = mg_xrealloc(a->argv, (a->argc + 2) * sizeof *a->argv);
    a->argv[a->argc++] = mg_arena_strdup(&b->arena, arg);
    a->argv[a->argc] = NULL;
}

static void act_args(mg_build *b, action *a, const char *const *args, size_t n)
{
    for (size_t i = 0; i < n; i++) act_arg(b, a, args[i]);
}

static void act_input(mg_build *b, action *a, const char *path)
{
    size_t f = file_add(b, path, -1);
    a->inputs = mg_xrealloc(a->inputs, (a->n_inputs + 1) * sizeof *a->inputs);
    a->inputs[a->n_inputs++] = f;
}

static void act_output(mg_build *b, action *a, const char *path)
{
    size_t f = file_add(b, path, (long)(a - b->acts));
    b->files[f].producer = (long)(a - b->acts);
    a->outputs = mg_xrealloc(a->outputs, (a->n_outputs + 1) * sizeof *a->outputs);
    a->outputs[a->n_outputs++] = f;
}

/* --- hashing ------------------------------------------------------------ */

/* The stat memo: the sha256 of files whose identity (device, inode, size,
 * modification and change times) has not changed since they were hashed,
 * kept in the cache across builds, as ccache does, so a no-op build does
 * not read every header again. A file changed within the last two seconds
 * is not memoised: its time may not tell the next change apart. */
#define MEMO_KEY_TEXT "mgd stat memo v1"
#define MEMO_MAX_FILES 20000

static void memo_key(char out[MG_SHA256_HEX_SIZE])
{
    mg_sha256_bytes_hex(MEMO_KEY_TEXT, strlen(MEMO_KEY_TEXT), out);
}

static void memo_load(mg_build *b)
{
    char key[MG_SHA256_HEX_SIZE], *data;
    size_t len;
    memo_key(key);
    if (mg_cache_record_get(b->o.cache, key, &data, &len, NULL) == 0) {
        b->memo = cJSON_ParseWithLength(data, len);
        free(data);
    }
    /* past the limit, start afresh rather than carry stale paths forever */
    if (!cJSON_IsObject(b->memo) || cJSON_GetArraySize(b->memo) > MEMO_MAX_FILES) {
        cJSON_Delete(b->memo);
        b->memo = cJSON_CreateObject();
    }
}

static void memo_save(mg_build *b)
{
    if (!b->memo || !b->memo_dirty || cJSON_GetArraySize(b->memo) > MEMO_MAX_FILES) return;
    char key[MG_SHA256_HEX_SIZE];
    memo_key(key);
    char *text = cJSON_PrintUnformatted(b->memo);
    /* a memo that cannot be stored only costs hashing again next time */
    if (text) mg_cache_record_put(b->o.cache, key, text, strlen(text), NULL, 0, NULL);
    free(text);
}

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* A file's identity as text: device, inode, size, modification and change
 * times. (A string: JSON numbers, doubles, cannot hold nanoseconds.) */
static void stat_id(const struct stat *st, char *out, size_t size)
{
    snprintf(out, size, "%llu:%llu:%lld:%lld:%lld", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (long long)st->st_size, (long long)ns_of(&st->st_mtim),
             (long long)ns_of(&st->st_ctim));
}

/* The sha256 of a file, through the memo. 0 or an errno value. */
static int file_sha(mg_build *b, const char *path, char out[MG_SHA256_HEX_SIZE])
{
    struct stat st;
    if (stat(path, &st) != 0) return errno;
    char id[128];
    stat_id(&st, id, sizeof id);
    cJSON *m = b->memo ? cJSON_GetObjectItemCaseSensitive(b->memo, path) : NULL;
    const cJSON *mid = cJSON_GetArrayItem(m, 0), *msha = cJSON_GetArrayItem(m, 1);
    if (cJSON_IsString(mid) && cJSON_IsString(msha) && !strcmp(mid->valuestring, id) &&
        mg_sha256_is_hex(msha->valuestring)) {
        memcpy(out, msha->valuestring, MG_SHA256_HEX_SIZE);
        return 0;
    }
    int e = mg_sha256_file_hex(path, out, NULL);
    /* the build's own files are new each time: not worth remembering */
    if (e != 0 || !b->memo || (b->scratch && !strncmp(path, b->scratch, strlen(b->scratch))))
        return e;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (ns_of(&now) - ns_of(&st.st_mtim) < 2000000000 ||
        ns_of(&now) - ns_of(&st.st_ctim) < 2000000000)
        return 0;
    cJSON *entry = cJSON_CreateArray();
    cJSON_AddItemToArray(entry, cJSON_CreateString(id));
    cJSON_AddItemToArray(entry, cJSON_CreateString(out));
    if (m)
        cJSON_ReplaceItemInObjectCaseSensitive(b->memo, path, entry);
    else
        cJSON_AddItemToObject(b->memo, path, entry);
    b->memo_dirty = true;
    return 0;
}

/* The sha256 of a header by canonical path, hashed once per build. */
static const char *header_sha(mg_build *b, const char *canon_path)
{
    for (size_t i = 0; i < b->n_h; i++)
        if (!strcmp(b->hpaths[i], canon_path)) return b->hshas[i];
    char *real;
    if (!strncmp(canon_path, "$WORK/", 6))
        real = mg_path_join(b->scratch, canon_path + 6);
    else if (!strncmp(canon_path, "$RUNTIME/", 9))
        real = mg_path_join(b->rt_root, canon_path + 9);
    else if (!strncmp(canon_path, "$SRC/", 5))
        real = mg_path_join(b->src_root, canon_path + 5);
    else
        real = mg_xstrdup(canon_path);
    char sha[MG_SHA256_HEX_SIZE] = "";
    if (file_sha(b, real, sha) != 0) sha[0] = 0;
    free(real);
    if (b->n_h == b->cap_h) {
        b->cap_h = b->cap_h * 2 + 64;
        b->hpaths = mg_xrealloc(b->hpaths, b->cap_h * sizeof *b->hpaths);
        b->hshas = mg_xrealloc(b->hshas, b->cap_h * sizeof *b->hshas);
    }
    b->hpaths[b->n_h] = mg_arena_strdup(&b->arena, canon_path);
    b->hshas[b->n_h] = mg_arena_strdup(&b->arena, sha);
    return b->hshas[b->n_h++];
}

static void sha_str(mg_sha256 *s, const char *str)
{
    mg_sha256_update(s, str, strlen(str) + 1);
}

static void sha_done(mg_sha256 *s, char out[MG_SHA256_HEX_SIZE])
{
    unsigned char d[MG_SHA256_SIZE];
    mg_sha256_final(s, d);
    mg_sha256_hex(d, out);
}

static void compute_key1(mg_build *b, action *a)
{
    mg_sha256 s;
    mg_sha256_init(&s);
    sha_str(&s, KEY_DOMAIN);
    sha_str(&s, b->toolid);
    sha_str(&s, kind_names[a->kind]);
    for (size_t i = 0; i < a->argc; i++) sha_str(&s, canon_arg(b, a->argv[i]));
    sha_str(&s, "inputs");
    for (size_t i = 0; i < a->n_inputs; i++) {
        sha_str(&s, b->files[a->inputs[i]].canon);
        sha_str(&s, b->files[a->inputs[i]].sha);
    }
    sha_done(&s, a->key1);
}

static void manifest_key(const char *key1, char out[MG_SHA256_HEX_SIZE])
{
    mg_sha256 s;
    mg_sha256_init(&s);
    sha_str(&s, "manifest");
    sha_str(&s, key1);
    sha_done(&s, out);
}

/* The full key: key1 and the (path, sha) of every header listed. */
static void compute_key(const char *key1, char **paths, char **shas, size_t n,
                        char out[MG_SHA256_HEX_SIZE])
{
    mg_sha256 s;
    mg_sha256_init(&s);
    sha_str(&s, "entry");
    sha_str(&s, key1);
    for (size_t i = 0; i < n; i++) {
        sha_str(&s, paths[i]);
        sha_str(&s, shas[i]);
    }
    sha_done(&s, out);
}

/* --- the two levels: local, then remote ------------------------------------ */

/* A record from the local cache, else from the remote one (when the build
 * has one); *remote says where it came from. */
static int rec_get(mg_build *b, const char *key, char **data, size_t *len, bool *remote, mg_err *e)
{
    *remote = false;
    mg_err local;
    if (mg_cache_record_get(b->o.cache, key, data, len, &local) == 0) return 0;
    if (!b->remote || local.code == MG_E_INVALID) {
        if (e) *e = local;
        return -1;
    }
    mg_err err;
    if (mg_remote_record_get(b->remote, key, data, len, &err) != 0) {
        /* a bad remote entry is reported as such; otherwise the local reason */
        if (e) *e = err.code == MG_E_CORRUPT ? err : local;
        return -1;
    }
    *remote = true;
    return 0;
}

/* --- manifests: the headers a compile read --------------------------------- */

/* Looks up the manifest of a compile and checks its headers against the
 * files now. On success sets a->key and returns true. */
static bool manifest_lookup(mg_build *b, action *a)
{
    char mkey[MG_SHA256_HEX_SIZE];
    manifest_key(a->key1, mkey);
    char *data;
    size_t len;
    bool remote;
    mg_err err;
    if (rec_get(b, mkey, &data, &len, &remote, &err) != 0) {
        if (err.code == MG_E_CORRUPT) {
            b->corrupt++;
            log_step(b, "%s: %s manifest corrupt, rebuilding", a->label,
                     remote ? "remote" : "cached");
        }
        return false;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    /* a manifest names no blob: once it parses as one it is stored here at
     * once (the remote session stores no record on its own word) */
    if (remote && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "headers")))
        mg_cache_record_put(b->o.cache, mkey, data, len, NULL, 0, NULL);
    free(data);
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(j, "headers");
    bool ok = cJSON_IsArray(headers);
    size_t n = ok ? (size_t)cJSON_GetArraySize(headers) : 0, k = 0;
    char **paths = mg_xmalloc((n + 1) * sizeof *paths), **shas = mg_xmalloc((n + 1) * sizeof *shas);
    for (const cJSON *h = ok ? headers->child : NULL; ok && h; h = h->next, k++) {
        const cJSON *p = cJSON_GetArrayItem(h, 0), *sh = cJSON_GetArrayItem(h, 1);
        if (!cJSON_IsString(p) || !cJSON_IsString(sh)) {
            ok = false;
            break;
        }
        const char *now = header_sha(b, p->valuestring);
        if (!now[0] || strcmp(now, sh->valuestring)) ok = false; /* changed or gone */
        paths[k] = p->valuestring;
        shas[k] = sh->valuestring;
    }
    if (ok) compute_key(a->key1, paths, shas, n, a->key);
    free(paths);
    free(shas);
    cJSON_Delete(j);
    return ok;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Reads a depfile: "obj: src h1 h2 \<newline> h3", spaces in names escaped
 * with a backslash, and appends the host paths of what it lists (the
 * declared inputs and the names `skip`, NULL-terminated, left out) to
 * out. Names are as the action saw them: relative ones, and in the sandbox
 * absolute ones under its workspace, are the workspace's. Nothing else is dropped: a name that
 * cannot be hashed then keeps the compile out of the cache. false when the
 * file cannot be read (or a name cannot be held in memory). */
static bool read_depfile(mg_build *b, action *a, const char *file, const char *const *skip,
                         char ***out_, size_t *n, size_t *cap)
{
    static const char ws_root[] = MG_SANDBOX_WORKSPACE "/";
    size_t len;
    char *text = mg_file_read(file, 64u << 20, &len);
    if (!text) return false;
    char **out = *out_;
    /* "target: deps": the target is our object path, which may hold ':' */
    const char *p = strstr(text, ": ");
    if (!p) p = strstr(text, ":\n");
    mg_buf tok = {0};
    for (p = p ? p + 1 : text + len;; p++) {
        bool end = !*p;
        if (*p == '\\' && p[1] == '\n') {
            p++;
            continue;
        }
        /* gcc escapes ' ' and '#' with a backslash and '$' as "$$" */
        if (*p == '\\' && (p[1] == ' ' || p[1] == '#')) {
            mg_buf_add(&tok, p + 1, 1);
            p++;
            continue;
        }
        if (*p == '$' && p[1] == '$') {
            mg_buf_add(&tok, "$", 1);
            p++;
            continue;
        }
        if (end || *p == ' ' || *p == '\n' || *p == '\t') {
            if (tok.len) {
                const char *t = tok.data;
                bool in_ws = !b->o.no_sandbox && !strncmp(t, ws_root, sizeof ws_root - 1);
                char *path = in_ws         ? mg_path_join(b->scratch, t + sizeof ws_root - 1)
                             : t[0] == '/' ? mg_xstrdup(t)
                                           : mg_path_join(b->scratch, t);
                char real[PATH_MAX];
                if (realpath(path, real)) {
                    free(path);
                    path = mg_xstrdup(real);
                }
                bool declared = false;
                for (size_t i = 0; i < a->n_inputs; i++)
                    if (!strcmp(b->files[a->inputs[i]].path, path)) declared = true;
                for (size_t i = 0; skip && skip[i]; i++)
                    if (!strcmp(t, skip[i])) declared = true;
                if (!declared) {
                    if (*n + 1 >= *cap)
                        out = mg_xrealloc(out, (*cap = *cap * 2 + 32) * sizeof *out);
                    out[(*n)++] = path;
                } else
                    free(path);
                tok.len = 0;
                tok.data[0] = 0;
            }
            if (end) break;
            continue;
        }
        mg_buf_add(&tok, p, 1);
    }
    bool ok = !tok.failed; /* a name cut short would be another file */
    mg_buf_free(&tok);
    free(text);
    *out_ = out;
    return ok;
}

/* Every file a compile read besides its source: the headers gcc lists and
 * the files the assembler read (an .incbin in inline assembly, which gcc
 * does not list). Absolute paths, sorted, without repeats; NULL with
 * *n == 0 when either depfile cannot be read. */
static char **compile_reads(mg_build *b, action *a, size_t *n)
{
    char **out = NULL;
    size_t cap = 0;
    *n = 0;
    /* the assembler also lists the name of its .file directive, the
     * source's base name ("loop.c"): no file of the workspace, whose top
     * holds folders only; after a distributed compile, the assembly text
     * it was given, which a local compile keeps in a pipe */
    const char *src = b->files[a->inputs[0]].ws, *slash = strrchr(src, '/');
    const char *skip[] = {slash ? slash + 1 : src, a->ran_remote ? a->asm_ws : NULL, NULL};
    if (!read_depfile(b, a, a->depfile, NULL, &out, n, &cap) ||
        !read_depfile(b, a, a->as_depfile, skip, &out, n, &cap)) {
        for (size_t i = 0; i < *n; i++) free(out[i]);
        free(out);
        *n = 0;
        return NULL;
    }
    if (!out) return mg_xmalloc(sizeof *out);
    qsort(out, *n, sizeof *out, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (k && !strcmp(out[k - 1], out[i]))
            free(out[i]);
        else
            out[k++] = out[i];
    }
    *n = k;
    return out;
}

/* After a compile ran: records the headers it read and derives its key.
 * Returns false when a header cannot be hashed (or the depfile read): the
 * result is then not cached, since a later change could go unseen. */
static bool manifest_store(mg_build *b, action *a)
{
    size_t n;
    char **headers = compile_reads(b, a, &n);
    if (!headers) {
        log_step(b, "%s: no dependency file; not caching it", a->label);
        return false;
    }
    bool ok = true;
    char **paths = mg_xmalloc((n + 1) * sizeof *paths), **shas = mg_xmalloc((n + 1) * sizeof *shas);
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "headers");
    for (size_t i = 0; i < n; i++) {
        paths[i] = canon(b, headers[i]);
        shas[i] = (char *)header_sha(b, paths[i]);
        if (!shas[i][0] && ok) {
            log_step(b, "%s: cannot hash the header %s; not caching it", a->label,
                     shown(b, paths[i]));
            ok = false;
        }
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(paths[i]));
        cJSON_AddItemToArray(pair, cJSON_CreateString(shas[i]));
        cJSON_AddItemToArray(arr, pair);
        free(headers[i]);
    }
    free(headers);
    compute_key(a->key1, paths, shas, n, a->key);
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    char mkey[MG_SHA256_HEX_SIZE];
    mg_err err;
    manifest_key(a->key1, mkey);
    if (ok && mg_cache_record_put(b->o.cache, mkey, text, strlen(text), NULL, 0, &err) != 0)
        log_step(b, "warning: cannot store a manifest in the cache: %s", err.msg);
    else if (ok && b->remote)
        mg_remote_upload(b->remote, mkey, text, strlen(text), NULL, 0);
    free(text);
    cJSON_Delete(j);
    free(paths);
    free(shas);
    return ok;
}

/* --- cache entries --------------------------------------------------------- */

/* Reads an action's entry: the sha256 of each output. The outputs are
 * restored from their blobs only when something needs them (ensure_present),
 * so a build whose archive is cached never copies the runtime's objects.
 * A missing or corrupt entry is a miss. */
static bool entry_restore(mg_build *b, action *a)
{
    char *data;
    size_t len;
    mg_err err;
    bool remote;
    if (rec_get(b, a->key, &data, &len, &remote, &err) != 0) {
        if (err.code == MG_E_CORRUPT) {
            /* the local store removed its bad copy; a remote one is ignored */
            b->corrupt++;
            log_step(b, "%s: %s", a->label, err.msg);
        }
        return false;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    free(data);
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(j, "outputs");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "ms");
    bool ok =
        cJSON_IsArray(outs) && cJSON_GetArraySize(outs) == (int)a->n_outputs && cJSON_IsNumber(ms);
    size_t i = 0;
    for (const cJSON *o = ok ? outs->child : NULL; ok && o; o = o->next, i++) {
        bfile *f = &b->files[a->outputs[i]];
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(o, "sha256");
        if (!cJSON_IsString(p) || !cJSON_IsString(sha) || strcmp(p->valuestring, f->canon) ||
            strlen(sha->valuestring) != MG_SHA256_HEX_SIZE - 1) {
            ok = false;
            break;
        }
        memcpy(f->sha, sha->valuestring, MG_SHA256_HEX_SIZE);
    }
    if (ok) b->res->saved_ms += (uint64_t)ms->valuedouble;
    a->from_remote = ok && remote;
    if (a->from_remote) b->res->remote_hits++;
    cJSON_Delete(j);
    return ok;
}

static bool entry_store(mg_build *b, action *a, const char *output, uint64_t ms)
{
    cJSON *j = cJSON_CreateObject(), *outs = cJSON_AddArrayToObject(j, "outputs");
    const char **blobs = mg_xmalloc((a->n_outputs + 1) * sizeof *blobs);
    bool ok = true;
    mg_err err;
    for (size_t i = 0; ok && i < a->n_outputs; i++) {
        bfile *f = &b->files[a->outputs[i]];
        uint64_t size;
        if (mg_cache_blob_put(b->o.cache, f->path, f->sha, &size, &err) != 0) {
            fail(b, err.code, "%s: cannot store %s in the cache: %s", a->label, shown(b, f->canon),
                 err.msg);
            ok = false;
            break;
        }
        blobs[i] = f->sha;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", f->canon);
        cJSON_AddStringToObject(o, "sha256", f->sha);
        cJSON_AddItemToArray(outs, o);
    }
    cJSON_AddNumberToObject(j, "ms", (double)ms);
    cJSON_AddStringToObject(j, "output", output ? output : "");
    if (ok) {
        char *text = cJSON_PrintUnformatted(j);
        if (mg_cache_record_put(b->o.cache, a->key, text, strlen(text), blobs, a->n_outputs,
                                &err) != 0)
            log_step(b, "warning: cannot store a cache entry: %s", err.msg);
        else if (b->remote)
            mg_remote_upload(b->remote, a->key, text, strlen(text), blobs, a->n_outputs);
        free(text);
    }
    free(blobs);
    cJSON_Delete(j);
    return ok;
}

/* --- the toolchain's identity --------------------------------------------- */

static char *run_capture(const char *const *argv, mg_err *err)
{
    mg_exec_spec spec = {.argv = argv, .timeout_ms = 30000};
    mg_exec_result r;
    if (mg_exec_run(&spec, &r) != 0 || r.spawn_error || r.exit_status != 0 || r.term_signal) {
        mg_err_set(err, MG_E_IO, "%s failed: %s", argv[0],
                   r.output && r.output_len ? r.output : "no output");
        mg_exec_result_free(&r);
        return NULL;
    }
    char *out = mg_xstrdup(r.output ? r.output : "");
    mg_exec_result_free(&r);
    return out;
}

/* The files of the C library and the compiler's runtime that every link
 * reads: a libc6-dev upgrade changes them without changing the tools. */
static const char *const link_files[] = {"libc.so.6", "libc_nonshared.a", "Scrt1.o",
                                         "crti.o",    "crtn.o",           "crtbeginS.o",
                                         "crtendS.o", "libgcc.a",         "libgcc_s.so.1"};

/* A memo is valid while every file it lists has the same identity. */
static bool identity_memo_valid(const char *text, size_t len, char id[MG_SHA256_HEX_SIZE])
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    bool ok = cJSON_IsString(jid) && mg_sha256_is_hex(jid->valuestring) && cJSON_IsArray(files);
    for (const cJSON *f = ok ? files->child : NULL; ok && f; f = f->next) {
        const cJSON *p = cJSON_GetArrayItem(f, 0), *want = cJSON_GetArrayItem(f, 1);
        struct stat st;
        char now[128];
        ok = cJSON_IsString(p) && cJSON_IsString(want) && stat(p->valuestring, &st) == 0 &&
             (stat_id(&st, now, sizeof now), !strcmp(now, want->valuestring));
    }
    if (ok) memcpy(id, jid->valuestring, MG_SHA256_HEX_SIZE);
    cJSON_Delete(j);
    return ok;
}

char *mg_toolchain_identity(mg_cache *c, const mg_target_arch *a, mg_err *err)
{
    static const char *const tools[] = {"gcc", "ar", "strip"};
    char *paths[3] = {0};
    mg_sha256 s;
    mg_sha256_init(&s);
    sha_str(&s, "toolchain identity memo v2");
    bool ok = true;
    for (int i = 0; i < 3 && ok; i++) {
        char *name = mg_xasprintf("%s%s", a->prefix, tools[i]);
        char *found = mg_find_program(name);
        char real[PATH_MAX];
        struct stat st;
        if (!found || !realpath(found, real) || stat(real, &st) != 0) {
            mg_err_set(err, MG_E_NOT_FOUND, "%s not found on PATH (install the Debian package %s)",
                       name, i == 0 ? a->package : a->binutils_package);
            ok = false;
        } else {
            paths[i] = found;
            found = NULL;
            char id[128];
            stat_id(&st, id, sizeof id);
            sha_str(&s, real);
            sha_str(&s, id);
        }
        free(found);
        free(name);
    }
    char memo[MG_SHA256_HEX_SIZE];
    sha_done(&s, memo);
    char *id = NULL, *data;
    size_t len;
    if (ok && mg_cache_record_get(c, memo, &data, &len, NULL) == 0) {
        id = mg_xmalloc(MG_SHA256_HEX_SIZE);
        if (!identity_memo_valid(data, len, id)) {
            free(id);
            id = NULL;
        }
        free(data);
    }
    if (ok && !id) {
        /* the tools' own words about their versions ... */
        const char *const v1[] = {paths[0], "--version", NULL};
        const char *const v2[] = {paths[0], "-dumpmachine", NULL};
        const char *const v3[] = {paths[1], "--version", NULL};
        const char *const v4[] = {paths[2], "--version", NULL};
        const char *const *cmds[] = {v1, v2, v3, v4};
        mg_sha256_init(&s);
        sha_str(&s, "toolchain identity v2");
        for (size_t i = 0; ok && i < 4; i++) {
            char *out = run_capture(cmds[i], err);
            if (!out)
                ok = false;
            else
                sha_str(&s, out);
            free(out);
        }
        /* ... and the content of the files every link reads */
        cJSON *memo_json = cJSON_CreateObject(),
              *files = cJSON_AddArrayToObject(memo_json, "files");
        for (size_t i = 0; ok && i < sizeof link_files / sizeof *link_files; i++) {
            char *arg = mg_xasprintf("-print-file-name=%s", link_files[i]);
            const char *const argv[] = {paths[0], arg, NULL};
            char *out = run_capture(argv, err);
            free(arg);
            if (!out) {
                ok = false;
                break;
            }
            out[strcspn(out, "\n")] = 0;
            char real[PATH_MAX], sha[MG_SHA256_HEX_SIZE], sid[128];
            struct stat st;
            /* gcc prints the bare name for a file it does not have */
            if (out[0] == '/' && realpath(out, real) && stat(real, &st) == 0 &&
                mg_sha256_file_hex(real, sha, NULL) == 0) {
                stat_id(&st, sid, sizeof sid);
                sha_str(&s, link_files[i]);
                sha_str(&s, sha);
                cJSON *f = cJSON_CreateArray();
                cJSON_AddItemToArray(f, cJSON_CreateString(real));
                cJSON_AddItemToArray(f, cJSON_CreateString(sid));
                cJSON_AddItemToArray(files, f);
            }
            free(out);
        }
        if (ok) {
            id = mg_xmalloc(MG_SHA256_HEX_SIZE);
            sha_done(&s, id);
            cJSON_AddStringToObject(memo_json, "id", id);
            char *text = cJSON_PrintUnformatted(memo_json);
            /* an unstored memo only costs running the tools again next time */
            mg_cache_record_put(c, memo, text, strlen(text), NULL, 0, NULL);
            free(text);
        }
        cJSON_Delete(memo_json);
    }
    for (int i = 0; i < 3; i++) free(paths[i]);
    return ok ? id : NULL;
}

/* --- planning ------------------------------------------------------------- */

/* Gives an action its output folder (workspace-relative). */
static int act_outdir(mg_build *b, action *a, const char *dir)
{
    /* one writer per folder is what keeps an action from changing another's
     * outputs after they were hashed */
    for (const action *o = b->acts; o < a; o++)
        if (o->outdir && !strcmp(o->outdir, dir))
            return fail(b, MG_E_INVALID, "%s and %s would both write %s", o->label, a->label, dir);
    a->outdir = mg_arena_strdup(&b->arena, dir);
    return 0;
}

/* Makes an action's output folder on the host (and so the mount point of
 * its sandbox), once something is to be written there: a build served
 * from the cache makes only the image's. 0, or -1 (the build fails). */
static int outdir_make(mg_build *b, action *a)
{
    if (a->outdir_made) return 0;
    char *host = mg_path_join(b->scratch, a->outdir);
    int r = mg_mkdir_p(host);
    if (r != 0)
        fail(b, MG_E_IO, "cannot create the workspace folder %s: %s", a->outdir, strerror(errno));
    free(host);
    a->outdir_made = r == 0;
    return r;
}

const char **mg_build_compile_argv(mg_arena *ar, const mg_target *t, const mg_target_arch *a,
                                   const char *cc, const char *const *extra, size_t n_extra,
                                   const char *cwd_map, const char *src, const char *obj,
                                   const char *dep, const char *as_dep, size_t *argc)
{
    size_t cap = t->n_cflags + a->n_cflags + n_extra + 32, n = 0;
    const char **v = mg_arena_alloc(ar, cap * sizeof *v);
    v[n++] = cc;
    for (size_t i = 0; i < t->n_cflags; i++) v[n++] = t->cflags[i];
    for (size_t i = 0; i < a->n_cflags; i++) v[n++] = a->cflags[i]; /* the arch's own, after */
    for (size_t i = 0; i < n_extra; i++) v[n++] = extra[i];
    /* the working directory out of the objects (debug info's comp_dir);
     * every other path is workspace-relative already */
    v[n++] = cwd_map;
    v[n++] = "-Igen";
    /* the runtime's C library before the host's headers */
    if (t->libc) v[n++] = "-isystemruntime/libc/include";
    v[n++] = "-Iruntime/include";
    /* -Xassembler, not -Wa: a path may hold a comma */
    const char *tail[] = {"-MD",  "-MF", dep, "-Xassembler", "--MD", "-Xassembler",
                          as_dep, "-c",  src, "-o",          obj};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) v[n++] = tail[i];
    v[n] = NULL;
    *argc = n;
    return v;
}

/* Compiles `src` (a host path in one of the workspace's trees) to
 * obj/<its workspace path>/<stem>.o. Returns the object's host path
 * (arena), or NULL on failure. */
static const char *add_compile(mg_build *b, const char *src, const char *stem,
                               const char *const *extra, size_t n_extra, const char *label)
{
    action *a = act_new(b, ACT_COMPILE, label);
    const mg_target *t = b->target;
    act_input(b, a, src);
    const char *src_ws = b->files[a->inputs[0]].ws;
    char *dir = mg_arena_printf(&b->arena, "obj/%s", src_ws);
    if (act_outdir(b, a, dir) != 0) return NULL;
    a->reads_trees = true;
    char *obj = mg_arena_printf(&b->arena, "%s/%s.o", dir, stem);
    char *dep = mg_arena_printf(&b->arena, "%s/%s.d", dir, stem);
    char *as_dep = mg_arena_printf(&b->arena, "%s/%s.as.d", dir, stem);
    a->depfile = mg_arena_printf(&b->arena, "%s/%s", b->scratch, dep);
    a->as_depfile = mg_arena_printf(&b->arena, "%s/%s", b->scratch, as_dep);
    /* (a name no other compile of the folder writes: one source each) */
    if (mg_distcc_distributable(src_ws))
        a->asm_ws = mg_arena_printf(&b->arena, "%s/%s.distcc.s", dir, stem);
    size_t argc;
    const char **argv = mg_build_compile_argv(&b->arena, t, b->arch, b->cc, extra, n_extra,
                                              b->cwd_map, src_ws, obj, dep, as_dep, &argc);
    act_args(b, a, argv, argc);
    char *obj_host = mg_arena_printf(&b->arena, "%s/%s", b->scratch, obj);
    act_output(b, a, obj_host);
    return obj_host;
}

/* An input's workspace path, for an argv. */
static const char *ws_input(mg_build *b, action *a, const char *host)
{
    act_input(b, a, host);
    return b->files[a->inputs[a->n_inputs - 1]].ws;
}

static int write_gen(mg_build *b, const char *name, const char *text)
{
    char *path = mg_xasprintf("%s/gen/%s", b->scratch, name);
    int r = mg_file_write_atomic(path, text, strlen(text), 0644);
    if (r != 0) fail(b, MG_E_IO, "cannot write gen/%s: %s", name, strerror(errno));
    free(path);
    return r;
}

/* The licence notices of the third-party code the image links (lwIP's
 * COPYING for a direct network stack), as C: the texts in the image's
 * .mg_notices section, so that they travel with every copy of it
 * (docs/network.md). Called once mg_runtime_sources has found every
 * entry of the graph available, notices included. */
static char *notices_source(mg_build *b)
{
    const mg_graph *g = b->o.graph;
    mg_buf c = {0};
    mg_buf_adds(&c, "/* Generated by mgd: licence notices of third-party code in this image. */\n"
                    "__attribute__((used, section(\".mg_notices\"))) const char mg__notices[] =\n");
    for (size_t i = 0; i < g->n_notices; i++) {
        size_t len;
        const char *text = mg_runtime_file(g->notices[i], &len);
        if (!text || memchr(text, 0, len)) {
            fail(b, MG_E_INTERNAL, "the licence notice %s is missing or not text (a bug in mgd)",
                 g->notices[i]);
            mg_buf_free(&c);
            return NULL;
        }
        char *head = mg_xasprintf("==> %s <==\n", g->notices[i]);
        mg_buf_adds(&c, "    \"");
        mg_buf_add_c_escaped(&c, head);
        mg_buf_adds(&c, "\"\n    \"");
        mg_buf_add_c_escaped(&c, text);
        mg_buf_adds(&c, "\"\n");
        free(head);
        log_step(b, "notice: the image carries %s (section .mg_notices)", g->notices[i]);
    }
    mg_buf_adds(&c, "    \"\";\n");
    return mg_buf_xtake(&c);
}

/* The image's note: name, target, ABI and the platform devices used. */
static char *note_source(mg_build *b)
{
    const mg_graph *g = b->o.graph;
    mg_image_info info = {.name = (char *)g->name,
                          .target = (char *)g->target,
                          .arch = (char *)g->arch,
                          .abi = b->target->abi};
    mg_image_device *devs = mg_xmalloc((g->n_nodes + 1) * sizeof *devs);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_graph_node *n = &g->nodes[i];
        if (!n->entry || !n->entry->attach_kind) continue;
        for (size_t k = 0; k < n->n_args; k++) {
            const mg_graph_arg *arg = &n->args[k];
            if (strcmp(arg->name, n->entry->attach_param) || arg->runtime_key) continue;
            const char *name = arg->value.text;
            /* what mgd run and the tender can attach: NAME=VALUE splits at
             * the first '=', and the tender keeps names in 64 bytes */
            const char *why = !*name                  ? "is empty"
                              : strpbrk(name, "\n\r") ? "has a line break"
                              : strchr(name, '=')     ? "has an '=' (--block/--net NAME=... "
                                                        "could not attach it)"
                              : b->target->libc && strlen(name) > 63 ? "is longer than 63 bytes"
                                                                     : NULL;
            if (why) {
                fail(b, MG_E_INVALID, "device %s: the %s name \"%s\" %s", n->id,
                     n->entry->attach_kind, name, why);
                free(devs);
                return NULL;
            }
            bool dup = false;
            for (size_t d = 0; d < info.n_devices; d++)
                if (!strcmp(devs[d].name, name) && !strcmp(devs[d].kind, n->entry->attach_kind))
                    dup = true;
            if (!dup)
                devs[info.n_devices++] =
                    (mg_image_device){(char *)n->entry->attach_kind, (char *)name};
        }
    }
    info.devices = devs;
    char *text = mg_image_note_c(&info);
    free(devs);
    return text;
}

static int plan(mg_build *b)
{
    const mg_graph *g = b->o.graph;
    mg_err err;

    /* generated sources */
    char *gen = mg_path_join(b->scratch, "gen");
    if (mg_mkdir_p(gen) != 0) {
        free(gen);
        return fail(b, MG_E_IO, "cannot create the build directory: %s", strerror(errno));
    }
    free(gen);
    char *main_c = mg_codegen_main_c(g), *keys_h = mg_codegen_keys_h(g), *note = note_source(b);
    int r = note ? 0 : -1;
    if (r == 0) r = write_gen(b, "main.c", main_c);
    if (r == 0) r = write_gen(b, "mg_keys.h", keys_h);
    if (r == 0) r = write_gen(b, "mg_note.c", note);
    free(main_c);
    free(keys_h);
    free(note);
    if (r != 0) return -1;

    /* crunch: every directory embedded by some node, once */
    const char **dirs = mg_xmalloc((g->n_nodes + 1) * sizeof *dirs);
    size_t n_dirs = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_graph_node *n = &g->nodes[i];
        if (!n->entry || !n->entry->embed) continue;
        for (size_t k = 0; k < n->n_args; k++) {
            if (strcmp(n->args[k].name, n->entry->embed) || n->args[k].runtime_key) continue;
            bool seen = false;
            for (size_t d = 0; d < n_dirs; d++)
                if (!strcmp(dirs[d], n->args[k].value.text)) seen = true;
            if (!seen) dirs[n_dirs++] = n->args[k].value.text;
        }
    }
    if (n_dirs) {
        mg_crunch_summary sum;
        char *text = mg_crunch_generate(b->src_root, dirs, n_dirs, &sum, &err);
        if (!text) {
            free(dirs);
            return fail(b, err.code, "crunch: %s", err.msg);
        }
        char *all = mg_arena_join(&b->arena, dirs, n_dirs, ", ");
        log_step(b, "crunch %s: %zu files, %llu bytes", all, sum.files,
                 (unsigned long long)sum.bytes);
        r = write_gen(b, "mg_crunch.c", text);
        free(text);
        if (r != 0) {
            free(dirs);
            return -1;
        }
    }
    free(dirs);

    /* the runtime, archived */
    size_t n_rt;
    const char **rt = mg_runtime_sources(b->o.graph, b->target, b->arch, &n_rt, &err);
    if (!rt) return fail(b, err.code, "%s", err.msg);
    if (g->n_notices) {
        char *notices = notices_source(b);
        r = notices ? write_gen(b, "mg_notices.c", notices) : -1;
        free(notices);
        if (r != 0) {
            free(rt);
            return -1;
        }
    }
    const char **rt_objs = mg_xmalloc((n_rt + 1) * sizeof *rt_objs);
    for (size_t i = 0; r == 0 && i < n_rt; i++) {
        char *src = mg_path_join(b->rt_root, rt[i]);
        /* ar keeps members by base name: make them unique (runtime/a/x.c and
         * runtime/b/x.c would replace each other); a link map names them so */
        char *flat = mg_runtime_member_name(rt[i]);
        flat[strlen(flat) - 2] = 0; /* the stem: add_compile adds .o */
        char *label = mg_xasprintf("compile %s", rt[i]);
        rt_objs[i] = add_compile(b, src, flat, NULL, 0, label);
        if (!rt_objs[i]) r = -1;
        free(src);
        free(flat);
        free(label);
    }
    free(rt);
    char *lib = mg_path_join(b->scratch, "lib/libmgrt.a");
    action *ar = act_new(b, ACT_ARCHIVE, "archive libmgrt.a");
    if (r == 0) r = act_outdir(b, ar, "lib");
    act_arg(b, ar, b->ar);
    act_arg(b, ar, "rcsD");
    act_arg(b, ar, "lib/libmgrt.a");
    for (size_t i = 0; r == 0 && i < n_rt; i++) act_arg(b, ar, ws_input(b, ar, rt_objs[i]));
    act_output(b, ar, lib);
    free(rt_objs);
    if (r != 0) {
        free(lib);
        return -1;
    }

    /* the image's own sources: generated, then the user's */
    const char **objs = NULL;
    size_t n_objs = 0;
    static const char *const gens[] = {"main", "mg_note", "mg_crunch", "mg_notices"};
    for (size_t i = 0; r == 0 && i < 4; i++) {
        if ((i == 2 && !n_dirs) || (i == 3 && !g->n_notices)) continue;
        char *src = mg_xasprintf("%s/gen/%s.c", b->scratch, gens[i]);
        char *label = mg_xasprintf("compile %s.c (generated)", gens[i]);
        objs = mg_xrealloc(objs, (n_objs + 1) * sizeof *objs);
        if (!(objs[n_objs++] = add_compile(b, src, gens[i], NULL, 0, label))) r = -1;
        free(src);
        free(label);
    }
    for (size_t i = 0; r == 0 && i < g->n_nodes; i++) {
        const mg_user_code *c = g->nodes[i].code;
        if (!c) continue;
        const char **extra = mg_xmalloc((c->n_cflags + c->n_include_dirs + 1) * sizeof *extra);
        size_t n_extra = 0;
        for (size_t k = 0; k < c->n_include_dirs; k++)
            extra[n_extra++] = mg_arena_printf(&b->arena, "-Isrc/%s", c->include_dirs[k]);
        for (size_t k = 0; k < c->n_cflags; k++) extra[n_extra++] = c->cflags[k];
        for (size_t k = 0; r == 0 && k < c->n_sources; k++) {
            char *src = mg_path_join(b->src_root, c->sources[k]);
            bool seen = false; /* a source shared by two user codes is compiled once */
            for (size_t f = 0; f < b->n_files; f++)
                if (!strcmp(b->files[f].path, src) && b->files[f].producer < 0) seen = true;
            if (seen) {
                free(src);
                continue;
            }
            struct stat st;
            if (stat(src, &st) != 0 || !S_ISREG(st.st_mode))
                r = fail(b, MG_E_INVALID, "source %s: %s", c->sources[k],
                         errno == ENOENT ? "no such file in the project"
                                         : "not a regular file or unreadable");
            else {
                const char *base = strrchr(c->sources[k], '/');
                base = base ? base + 1 : c->sources[k];
                const char *dot = strrchr(base, '.');
                char *stem = mg_xasprintf(
                    "%.*s", dot && dot != base ? (int)(dot - base) : (int)strlen(base), base);
                char *label = mg_xasprintf("compile %s", c->sources[k]);
                objs = mg_xrealloc(objs, (n_objs + 1) * sizeof *objs);
                if (!(objs[n_objs++] = add_compile(b, src, stem, extra, n_extra, label))) r = -1;
                free(stem);
                free(label);
            }
            free(src);
        }
        free(extra);
    }

    /* link, strip */
    char *unstripped = mg_path_join(b->scratch, "link/image.elf");
    char *image = mg_xasprintf("%s/out/%s", b->scratch, b->res->image_name);
    if (r == 0) {
        action *link = act_new(b, ACT_LINK, "link");
        r = act_outdir(b, link, "link");
        act_arg(b, link, b->cc);
        act_args(b, link, b->target->ldflags, b->target->n_ldflags);
        act_args(b, link, b->arch->ldflags, b->arch->n_ldflags); /* the arch's own, after */
        if (b->arch->linker_script) {
            char *script = mg_path_join(b->rt_root, b->arch->linker_script);
            act_arg(b, link, "-T");
            act_arg(b, link, ws_input(b, link, script));
            free(script);
        }
        /* the note is referenced by nothing: keep it through --gc-sections */
        act_arg(b, link, "-Wl,--undefined=mg__image_note");
        if (g->n_notices) act_arg(b, link, "-Wl,--undefined=mg__notices");
        /* the map says which object each byte came from: the image's sizes
         * by module (toolchain/sizes.h) */
        act_arg(b, link, "-Wl,-Map=link/image.map");
        act_arg(b, link, "-o");
        act_arg(b, link, "link/image.elf");
        for (size_t i = 0; i < n_objs; i++) act_arg(b, link, ws_input(b, link, objs[i]));
        act_arg(b, link, ws_input(b, link, lib));
        act_args(b, link, b->target->libs, b->target->n_libs);
        act_output(b, link, unstripped); /* first: the strip's input */
        char *map = mg_path_join(b->scratch, "link/image.map");
        act_output(b, link, map);
        free(map);
        link->mode = 0755;
    }
    if (r == 0) {
        action *st = act_new(b, ACT_STRIP, "strip");
        r = act_outdir(b, st, "out");
        act_arg(b, st, b->strip);
        act_args(b, st, b->target->strip, b->target->n_strip);
        act_arg(b, st, "-o");
        act_arg(b, st, mg_arena_printf(&b->arena, "out/%s", b->res->image_name));
        act_arg(b, st, ws_input(b, st, unstripped));
        act_output(b, st, image);
        st->mode = 0755;
    }
    free(objs);
    free(unstripped);
    free(image);
    free(lib);
    return r;
}

/* --- running -------------------------------------------------------------- */

/* Whether every input made by another action is there. */
static bool inputs_ready(mg_build *b, const action *a)
{
    for (size_t i = 0; i < a->n_inputs; i++) {
        const bfile *f = &b->files[a->inputs[i]];
        if (f->producer >= 0 && !f->known) return false;
    }
    return true;
}

/* Hashes the action's source inputs (files nobody in the build produces). */
static int hash_sources(mg_build *b, action *a)
{
    for (size_t i = 0; i < a->n_inputs; i++) {
        bfile *f = &b->files[a->inputs[i]];
        if (f->known) continue;
        int e = file_sha(b, f->path, f->sha);
        if (e != 0)
            return fail(b, MG_E_IO, "%s: cannot read %s: %s", a->label, shown(b, f->canon),
                        strerror(e));
        f->known = true;
    }
    return 0;
}

static void mark_done(mg_build *b, action *a, bool present)
{
    a->state = ST_DONE;
    if (a->in_flight) {
        /* stored: builds waiting for it now hit the cache */
        mg_cache_flight_end(b->o.cache, a->key1);
        a->in_flight = false;
    }
    for (size_t i = 0; i < a->n_outputs; i++) {
        b->files[a->outputs[i]].known = true;
        b->files[a->outputs[i]].present = present;
    }
}

/* Puts a file made by an action in place, from its blob. When the blob is
 * corrupt or gone, the action that made it is sent back to run again. */
static bool ensure_present(mg_build *b, size_t fi)
{
    bfile *f = &b->files[fi];
    if (f->present || f->producer < 0) return true;
    action *p = &b->acts[f->producer];
    mg_err err = {MG_E_IO, "its folder cannot be made"};
    bool made = outdir_make(b, p) == 0;
    if (made && mg_cache_blob_get(b->o.cache, f->sha, f->path, p->mode, &err) == 0) {
        f->present = true;
        return true;
    }
    /* fetched only now that the file is needed: a fully cached build
     * downloads its image, not the objects behind it */
    if (made && b->remote && err.code != MG_E_INVALID &&
        mg_remote_blob_get(b->remote, f->sha, &err) == 0 &&
        mg_cache_blob_get(b->o.cache, f->sha, f->path, p->mode, &err) == 0) {
        f->present = true;
        return true;
    }
    if (err.code == MG_E_CORRUPT) b->corrupt++;
    log_step(b, "%s: cached output %s is %s; running it again", p->label, shown(b, f->canon),
             err.code == MG_E_CORRUPT     ? "corrupt"
             : err.code == MG_E_NOT_FOUND ? "missing"
                                          : err.msg);
    p->state = ST_WAITING;
    p->rerun = true;
    b->res->hits--;
    if (p->from_remote) b->res->remote_hits--;
    p->from_remote = false;
    for (size_t i = 0; i < p->n_outputs; i++) b->files[p->outputs[i]].known = false;
    return false;
}

/* Milliseconds left of the build's wall time; UINT64_MAX without a limit. */
static uint64_t build_time_left(mg_build *b)
{
    if (!b->limits.build_wall_ms) return UINT64_MAX;
    uint64_t spent = mg_ms_since(b->start_ms);
    return spent >= b->limits.build_wall_ms ? 0 : b->limits.build_wall_ms - spent;
}

/* The environment of every action. In the sandbox it is all they get
 * (bwrap --clearenv): nothing of the daemon's (no CPATH, GCC_EXEC_PREFIX or
 * secrets) reaches them. bwrap itself, and an action without the sandbox,
 * inherit ours too: so the daemon's orphan marker (cmd_serve.c) finds
 * whatever a kill -9 left at the next start. */
static const char *const action_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                                         "SOURCE_DATE_EPOCH=0", NULL};

/* --- distcc ---------------------------------------------------------------- */

/* Where an action that is ready may run now. */
enum { PLACE_WAIT = -2, PLACE_HERE = -1 };

static bool distcc_on(const mg_build *b)
{
    if (!b->distcc_prog) return false;
    for (size_t i = 0; i < b->o.distcc->n; i++)
        if (!b->host_down[i]) return true;
    return false;
}

/* The least busy host with a free slot, or -1. */
static int free_host(const mg_build *b)
{
    int best = -1;
    for (size_t i = 0; i < b->o.distcc->n; i++) {
        const mg_distcc_host *h = &b->o.distcc->v[i];
        if (b->host_down[i] || b->host_busy[i] >= h->limit) continue;
        /* busy/limit smaller, compared without division */
        if (best < 0 || (uint64_t)b->host_busy[i] * b->o.distcc->v[best].limit <
                            (uint64_t)b->host_busy[best] * h->limit)
            best = (int)i;
    }
    return best;
}

static int place(mg_build *b, action *a, unsigned local_jobs)
{
    if (a->kind == ACT_COMPILE && a->asm_ws && !a->force_local && distcc_on(b)) {
        int h = free_host(b);
        return h >= 0 ? h : PLACE_WAIT;
    }
    return b->local_running < local_jobs ? PLACE_HERE : PLACE_WAIT;
}

/* What start() runs: the action here, or the two steps of a distributed
 * compile (toolchain/distcc.h). */
typedef enum { RUN_HERE, RUN_CC1, RUN_AS } run_step;

/* The host path of a distributed compile's assembly text. */
static char *asm_host(mg_build *b, const action *a)
{
    return mg_path_join(b->scratch, a->asm_ws);
}

static void start(mg_build *b, action *a, int where)
{
    run_step step = a->assembling ? RUN_AS : where >= 0 ? RUN_CC1 : RUN_HERE;
    if (step != RUN_AS) {
        for (size_t i = 0; i < a->n_outputs; i++) unlink(b->files[a->outputs[i]].path);
        if (a->asm_ws) {
            char *s = asm_host(b, a);
            unlink(s);
            free(s);
        }
    }
    bool sandboxed = !b->o.no_sandbox;
    /* what it sees: the trees or its inputs, then its own folder */
    mg_sandbox_bind *binds = mg_xmalloc((a->n_inputs + 4) * sizeof *binds);
    size_t n = 0;
    char *runtime = mg_path_join(b->rt_root, "runtime");
    char *gen = mg_path_join(b->scratch, "gen");
    char *out = mg_path_join(b->scratch, a->outdir);
    if (a->reads_trees) {
        binds[n++] = (mg_sandbox_bind){b->src_root, MG_SANDBOX_WORKSPACE "/src", false};
        binds[n++] = (mg_sandbox_bind){runtime, MG_SANDBOX_WORKSPACE "/runtime", false};
        binds[n++] = (mg_sandbox_bind){gen, MG_SANDBOX_WORKSPACE "/gen", false};
    } else {
        for (size_t i = 0; i < a->n_inputs; i++) {
            const bfile *f = &b->files[a->inputs[i]];
            binds[n++] = (mg_sandbox_bind){
                f->path, mg_arena_printf(&b->arena, MG_SANDBOX_WORKSPACE "/%s", f->ws), false};
        }
    }
    binds[n++] = (mg_sandbox_bind){
        out, mg_arena_printf(&b->arena, MG_SANDBOX_WORKSPACE "/%s", a->outdir), true};
    /* inside, the working directory is the workspace's fixed path */
    const char **argv = mg_xmalloc((a->argc + 1) * sizeof *argv);
    for (size_t i = 0; i <= a->argc; i++)
        argv[i] = sandboxed && a->argv[i] && !strcmp(a->argv[i], b->cwd_map)
                      ? "-ffile-prefix-map=" MG_SANDBOX_WORKSPACE "=."
                      : a->argv[i];
    mg_build_limits l = b->limits;
    uint64_t left = build_time_left(b);
    if (!l.action_wall_ms || left < l.action_wall_ms) l.action_wall_ms = left ? left : 1;
    /* step 1 on a distcc host: distcc -S with the network (preprocessing
     * stays in the sandbox, cc1 is distccd's); step 2 here, as any local
     * action, without it */
    if (step != RUN_AS) {
        a->host = step == RUN_CC1 ? where : -1;
        a->ran_remote = false;
    }
    const char **dargv = NULL;
    char **denv = NULL;
    if (step == RUN_CC1 &&
        !(dargv = mg_distcc_cc1_argv(b->distcc_prog, argv, a->argc, a->asm_ws))) {
        /* not a compile mg_build_compile_argv made: it runs here whole */
        step = RUN_HERE;
        a->host = -1;
        a->force_local = true;
    }
    if (step == RUN_CC1) {
        denv = mg_distcc_env(action_env, &b->o.distcc->v[a->host], b->cc,
                             sandboxed ? "/tmp" : b->distcc_state);
        b->host_busy[a->host]++;
    } else {
        /* (the argv step 1 took: never NULL) */
        if (step == RUN_AS) dargv = mg_distcc_as_argv(argv, a->argc, a->asm_ws);
        b->local_running++;
    }
    const char *const *env = denv ? (const char *const *)denv : action_env;
    mg_sandbox_spec sb = {.sandboxed = sandboxed,
                          .limits = &l,
                          .binds = binds,
                          .n_binds = n,
                          .env = env,
                          .network = step == RUN_CC1};
    char **run = mg_sandbox_argv(&sb, dargv ? dargv : argv);
    mg_exec_spec spec = {.argv = (const char *const *)run,
                         .cwd = sandboxed ? NULL : b->scratch,
                         .env = env,
                         .timeout_ms = l.action_wall_ms == UINT64_MAX ? 0 : l.action_wall_ms};
    a->exec_id = mg_executor_start(b->ex, &spec);
    a->state = ST_RUNNING;
    /* the start of a step, so that a reader of a running build sees what
     * takes the time (step 2 of a distributed compile goes on the same step) */
    if (step == RUN_CC1)
        log_step(b, "%s: started on %s", a->label, b->o.distcc->v[a->host].name);
    else if (step == RUN_HERE)
        log_step(b, "%s: started", a->label);
    if (step != RUN_AS && b->o.on_start) b->o.on_start(b->o.log_ctx, a->label);
    free(dargv);
    mg_distcc_env_free(denv);
    mg_sandbox_argv_free(run);
    free(argv);
    free(binds);
    free(runtime);
    free(gen);
    free(out);
}

/* The command as the log shows it: the workspace-relative argv, with the
 * working directory as $WORK. */
static void log_command(mg_build *b, const action *a)
{
    if (!b->o.log) return;
    mg_buf s = {0};
    mg_buf_adds(&s, "$");
    for (size_t i = 0; i < a->argc; i++) {
        mg_buf_adds(&s, " ");
        mg_buf_adds(&s, canon_arg(b, a->argv[i]));
    }
    mg_buf_adds(&s, "\n");
    /* a log with a hole must say so: the reader would take what follows
     * for the output of the command before */
    static const char lost[] = "$ (a command line lost: out of memory)\n";
    if (s.failed)
        b->o.log(b->o.log_ctx, lost, sizeof lost - 1);
    else
        b->o.log(b->o.log_ctx, s.data, s.len);
    mg_buf_free(&s);
}

/* An action's outputs and a compile's dependency files must be regular
 * files: a symbolic link left there would have mgd read, hash, cache and
 * mount for the next action whatever it points to on the host. -1 (the
 * build fails) when one is something else. */
static int outputs_not_regular(mg_build *b, action *a)
{
    size_t n = a->n_outputs;
    const char **paths = mg_xmalloc((n + 2) * sizeof *paths);
    for (size_t i = 0; i < n; i++) paths[i] = b->files[a->outputs[i]].path;
    if (a->depfile) paths[n++] = a->depfile;
    if (a->as_depfile) paths[n++] = a->as_depfile;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        struct stat st;
        if (lstat(paths[i], &st) == 0 && !S_ISREG(st.st_mode))
            r = fail(b, MG_E_IO, "%s: %s is not a regular file", a->label,
                     paths[i] + strlen(b->scratch) + 1);
    }
    free(paths);
    return r;
}

static int assembled(mg_build *b, action *a, const mg_exec_result *r);
static int ran(mg_build *b, action *a, const mg_exec_result *r);

/* One finished process: its outputs into the cache, or the build fails;
 * step 1 of a distributed compile starts step 2, a distcc failure the
 * compile again here. */
static int finish(mg_build *b, const mg_exec_result *r)
{
    action *a = NULL;
    for (size_t i = 0; i < b->n_acts; i++)
        if (b->acts[i].state == ST_RUNNING && b->acts[i].exec_id == r->id) a = &b->acts[i];
    if (!a) return 0;
    if (a->assembling) return assembled(b, a, r);
    if (a->host >= 0)
        b->host_busy[a->host]--;
    else
        b->local_running--;
    bool stopped = r->cancelled || atomic_load(&b->cancelled);
    if (a->host >= 0 && !stopped) {
        const mg_distcc_host *h = &b->o.distcc->v[a->host];
        /* distcc's own failure, or a host that never answered (it took the
         * connection, then hung: distcc's own I/O timeout is as long as
         * the action's limit): that host is off for this build, and the
         * compile runs here */
        if (r->spawn_error || r->timed_out || mg_distcc_own_failure(r)) {
            const char *why = mg_distcc_exit_reason(r->exit_status);
            if (b->host_down[a->host])
                ;
            else if (r->timed_out)
                log_step(b,
                         "distcc: host %s did not answer within the action's time limit: its "
                         "compiles run here for the rest of this build",
                         h->name);
            else if (r->spawn_error)
                log_step(b, "distcc: cannot run %s (%s): compiles run here", b->distcc_prog,
                         strerror(r->spawn_error));
            else
                log_step(b,
                         "distcc: host %s failed (exit %d: %s): its compiles run here for the "
                         "rest of this build",
                         h->name, r->exit_status, why ? why : "distcc's own failure");
            b->host_down[a->host] = true;
            b->res->distcc_fallbacks++;
            log_step(b, "%s: distcc failed on %s: compiled here", a->label, h->name);
            if (r->output_len && b->o.log) b->o.log(b->o.log_ctx, r->output, r->output_len);
            a->force_local = true;
            start(b, a, PLACE_HERE);
            return 0;
        }
        if (r->exit_status == 0 && !r->term_signal) {
            /* cc1 ran there: the assembler runs here (step 2), its
             * messages after step 1's */
            free(a->cc1_output);
            a->cc1_output = r->output_len ? mg_xstrdup(r->output) : NULL;
            a->cc1_ms = r->duration_ms;
            a->assembling = true;
            start(b, a, PLACE_HERE);
            return 0;
        }
    }
    return ran(b, a, r);
}

/* Step 2 of a distributed compile ended: the compile ended as step 1 and
 * step 2 together (their messages, their times). */
static int assembled(mg_build *b, action *a, const mg_exec_result *r)
{
    a->assembling = false;
    b->local_running--;
    char *s = asm_host(b, a);
    unlink(s);
    free(s);
    mg_exec_result both = *r;
    mg_buf out = {0};
    if (a->cc1_output) mg_buf_adds(&out, a->cc1_output);
    if (r->output_len) mg_buf_add(&out, r->output, r->output_len);
    both.output = out.failed ? r->output : (char *)mg_buf_str(&out);
    both.output_len = out.failed ? r->output_len : out.len;
    both.duration_ms = a->cc1_ms + r->duration_ms;
    free(a->cc1_output);
    a->cc1_output = NULL;
    bool ok = !r->cancelled && !atomic_load(&b->cancelled) && !r->spawn_error && !r->timed_out &&
              !r->term_signal && r->exit_status == 0;
    a->ran_remote = ok;
    if (ok) b->res->distcc_remote++;
    int rc = ran(b, a, &both);
    mg_buf_free(&out);
    return rc;
}

/* An action's process (or a distributed compile's two) ended: its
 * outputs into the cache, or the build fails. */
static int ran(mg_build *b, action *a, const mg_exec_result *r)
{
    bool stopped = r->cancelled || atomic_load(&b->cancelled);
    b->res->misses++;
    b->executed_ms += r->duration_ms;
    if (b->o.on_action) b->o.on_action(b->o.log_ctx, a->label, r->duration_ms);
    /* the step's end: its time, where, and how it ended unless it
     * succeeded (the build's error says why it matters) */
    char how[64] = "";
    if (stopped)
        snprintf(how, sizeof how, ", stopped");
    else if (r->spawn_error)
        snprintf(how, sizeof how, ", could not start");
    else if (r->timed_out)
        snprintf(how, sizeof how, ", timed out");
    else if (r->term_signal)
        snprintf(how, sizeof how, ", killed by signal %d", r->term_signal);
    else if (r->exit_status != 0)
        snprintf(how, sizeof how, ", exit status %d", r->exit_status);
    if (a->host >= 0)
        log_step(b, "%s: ran in %llu ms on %s%s", a->label, (unsigned long long)r->duration_ms,
                 b->o.distcc->v[a->host].name, how);
    else
        log_step(b, "%s: ran in %llu ms%s", a->label, (unsigned long long)r->duration_ms, how);
    log_command(b, a);
    if (r->output_len && b->o.log) b->o.log(b->o.log_ctx, r->output, r->output_len);
    if (stopped) {
        b->res->cancelled = true;
        return fail(b, MG_E_CANCELLED, "cancelled");
    }
    /* the sandbox's own failure, not the action's: said as such, rather
     * than checked before every build */
    mg_err why;
    if (!b->o.no_sandbox && mg_sandbox_failed(r, &why))
        return fail(b, why.code, "cannot sandbox the build: %s", why.msg);
    if (r->spawn_error)
        return fail(b, MG_E_IO, "%s: cannot run %s: %s", a->label, a->argv[0],
                    strerror(r->spawn_error));
    mg_limit_kind hit = r->timed_out
                            ? (build_time_left(b) == 0 ? MG_LIMIT_BUILD_WALL : MG_LIMIT_ACTION_WALL)
                            : mg_limit_hit(r);
    if (hit != MG_LIMIT_NONE) {
        char what[128];
        mg_limit_describe(&b->limits, hit, what, sizeof what);
        b->res->limit = hit;
        return fail(b, MG_E_LIMIT, "%s: %s exceeded", a->label, what);
    }
    if (r->term_signal)
        return fail(b, MG_E_IO, "%s: killed by signal %d", a->label, r->term_signal);
    if (r->exit_status != 0) {
        /* the first line with "error" says most; else the first line */
        const char *out = r->output ? r->output : "";
        const char *e = strstr(out, "error:");
        if (!e) e = strstr(out, "Error");
        if (e) {
            while (e > out && e[-1] != '\n') e--;
            out = e;
        }
        const char *nl = strchr(out, '\n');
        int n = nl ? (int)(nl - out) : (int)strlen(out);
        if (n > 400) n = 400;
        return fail(b, MG_E_IO, "%s failed (exit status %d)%s%.*s", a->label, r->exit_status,
                    n ? ": " : "", n, out);
    }
    if (outputs_not_regular(b, a)) return -1;
    bool cacheable = true;
    if (a->kind == ACT_COMPILE)
        cacheable = manifest_store(b, a);
    else
        memcpy(a->key, a->key1, sizeof a->key);
    if (cacheable && !entry_store(b, a, r->output, r->duration_ms)) return -1;
    if (!cacheable) {
        /* still needed downstream: hash the outputs where they are */
        for (size_t i = 0; i < a->n_outputs; i++) {
            bfile *f = &b->files[a->outputs[i]];
            int e = mg_sha256_file_hex(f->path, f->sha, NULL);
            if (e != 0)
                return fail(b, MG_E_IO, "%s: cannot read %s: %s", a->label, f->path, strerror(e));
        }
    }
    mark_done(b, a, true);
    return 0;
}

static unsigned default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static size_t count_done(const mg_build *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_acts; i++) n += b->acts[i].state == ST_DONE;
    return n;
}

/* Asks the remote cache, in one wave per round, for the records the
 * actions that can be looked up now will need: their manifests, then the
 * entries those manifests lead to (compiles), or their entries (the
 * others). Keys the local cache has are not asked. The lookups that follow
 * (rec_get) are then answered from memory. */
static void prefetch(mg_build *b)
{
    if (!b->remote || b->o.force) return;
    const char **keys = mg_xmalloc((2 * b->n_acts + 1) * sizeof *keys);
    char(*mkeys)[MG_SHA256_HEX_SIZE] = mg_xmalloc((b->n_acts + 1) * sizeof *mkeys);
    for (int round = 0; round < 2; round++) {
        size_t n = 0;
        for (size_t i = 0; i < b->n_acts; i++) {
            action *a = &b->acts[i];
            if (a->state != ST_WAITING || a->rerun || !inputs_ready(b, a)) continue;
            /* hashing errors are left for run_actions to report */
            bool hashed = true;
            for (size_t k = 0; hashed && k < a->n_inputs; k++) {
                bfile *f = &b->files[a->inputs[k]];
                if (f->known) continue;
                hashed = file_sha(b, f->path, f->sha) == 0;
                f->known = hashed;
            }
            if (!hashed) continue;
            compute_key1(b, a);
            const char *want = a->key1;
            if (a->kind == ACT_COMPILE) {
                manifest_key(a->key1, mkeys[i]);
                want = mkeys[i];
                char *data;
                size_t len;
                bool remote;
                /* round 1: the manifests are in (local or fetched): their entries */
                if (round == 1 && rec_get(b, mkeys[i], &data, &len, &remote, NULL) == 0) {
                    free(data);
                    if (!manifest_lookup(b, a)) continue;
                    want = a->key;
                } else if (round == 1)
                    continue;
            } else if (round == 1)
                continue;
            char *data;
            size_t len;
            if (mg_cache_record_get(b->o.cache, want, &data, &len, NULL) == 0) {
                free(data);
                continue;
            }
            keys[n++] = want;
        }
        mg_remote_prefetch(b->remote, keys, n);
    }
    free(keys);
    free(mkeys);
}

static int run_actions(mg_build *b)
{
    /* the local processes; distcc hosts add their own slots */
    unsigned jobs = b->o.jobs ? b->o.jobs : default_jobs();
    int status = 0;
    b->res->actions = (unsigned)b->n_acts;
    while (count_done(b) < b->n_acts) {
        bool progress = false;
        prefetch(b);
        if (build_time_left(b) == 0) {
            char what[128];
            mg_limit_describe(&b->limits, MG_LIMIT_BUILD_WALL, what, sizeof what);
            b->res->limit = MG_LIMIT_BUILD_WALL;
            status = fail(b, MG_E_LIMIT, "%s exceeded", what);
            break;
        }
        for (size_t i = 0; status == 0 && i < b->n_acts; i++) {
            action *a = &b->acts[i];
            if (a->state != ST_WAITING || !inputs_ready(b, a)) continue;
            if (atomic_load(&b->cancelled)) {
                b->res->cancelled = true;
                status = fail(b, MG_E_CANCELLED, "cancelled");
                break;
            }
            int where = place(b, a, jobs);
            if (where == PLACE_WAIT) continue;
            if (hash_sources(b, a) != 0) {
                status = -1;
                break;
            }
            compute_key1(b, a);
            bool hit = false;
            if (!b->o.force && !a->rerun) {
                if (a->kind == ACT_COMPILE)
                    hit = manifest_lookup(b, a);
                else {
                    memcpy(a->key, a->key1, sizeof a->key);
                    hit = true;
                }
                hit = hit && entry_restore(b, a);
            }
            progress = true;
            if (hit) {
                b->res->hits++;
                log_step(b, "%s: cached", a->label);
                mark_done(b, a, false);
                continue;
            }
            /* the same action running in another build of this process
             * will be in the cache in a moment: wait rather than redo it */
            if (!b->o.force && !a->in_flight) {
                if (!mg_cache_flight_begin(b->o.cache, a->key1)) {
                    a->deferred = true;
                    continue;
                }
                a->in_flight = true;
            }
            a->deferred = false;
            bool inputs_there = true;
            for (size_t k = 0; k < a->n_inputs; k++)
                if (!ensure_present(b, a->inputs[k])) inputs_there = false;
            if (inputs_there && outdir_make(b, a) != 0) {
                status = -1;
                break;
            }
            if (inputs_there) start(b, a, where);
        }
        if (status != 0) break;
        bool waiting = false;
        for (size_t i = 0; i < b->n_acts; i++)
            waiting = waiting || (b->acts[i].state == ST_WAITING && b->acts[i].deferred);
        if (mg_executor_running(b->ex) == 0) {
            if (waiting) {
                mg_cache_flight_wait(b->o.cache, 200);
                continue;
            }
            if (!progress) break;
            continue;
        }
        mg_exec_result r;
        if (mg_executor_wait(b->ex, &r) != 0) break;
        /* a live build's scratch is recent: gc removes those idle an hour */
        utimensat(AT_FDCWD, b->scratch, NULL, 0);
        status = finish(b, &r);
        mg_exec_result_free(&r);
        if (status != 0) break;
    }
    /* after a failure the others' results no longer matter */
    if (status != 0) mg_executor_cancel(b->ex);
    while (mg_executor_running(b->ex) > 0) {
        mg_exec_result r;
        if (mg_executor_wait(b->ex, &r) != 0) break;
        /* every step the log says started ends there, those stopped here too */
        for (size_t i = 0; i < b->n_acts; i++) {
            const action *a = &b->acts[i];
            if (a->state != ST_RUNNING || a->exec_id != r.id) continue;
            if (a->host >= 0 && !a->assembling)
                log_step(b, "%s: ran in %llu ms on %s, stopped", a->label,
                         (unsigned long long)r.duration_ms, b->o.distcc->v[a->host].name);
            else
                log_step(b, "%s: ran in %llu ms, stopped", a->label,
                         (unsigned long long)r.duration_ms);
        }
        mg_exec_result_free(&r);
    }
    for (size_t i = 0; i < b->n_acts; i++)
        if (b->acts[i].in_flight) {
            mg_cache_flight_end(b->o.cache, b->acts[i].key1);
            b->acts[i].in_flight = false;
        }
    if (status == 0 && count_done(b) < b->n_acts)
        status = fail(b, MG_E_INTERNAL, "internal error: actions left unrun");
    return status;
}

/* --- the build ------------------------------------------------------------ */

mg_build *mg_build_new(const mg_build_options *opts)
{
    mg_build *b = calloc(1, sizeof *b);
    if (!b) abort();
    b->o = *opts;
    b->limits = opts->limits ? *opts->limits : mg_build_limits_default();
    atomic_init(&b->cancelled, false);
    b->ex = mg_executor_new();
    if (!b->ex) abort();
    return b;
}

void mg_build_cancel(mg_build *b)
{
    atomic_store(&b->cancelled, true);
    mg_executor_cancel(b->ex);
}

void mg_build_free(mg_build *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n_acts; i++) {
        free(b->acts[i].argv);
        free(b->acts[i].inputs);
        free(b->acts[i].outputs);
        free(b->acts[i].cc1_output);
    }
    free(b->acts);
    free(b->files);
    free(b->hpaths);
    free(b->hshas);
    free(b->toolid);
    free(b->cc);
    free(b->ar);
    free(b->strip);
    free(b->distcc_prog);
    free(b->distcc_state);
    free(b->rt_root);
    free(b->src_root);
    if (b->scratch) {
        mg_rm_rf(b->scratch);
        free(b->scratch);
    }
    mg_executor_free(b->ex);
    mg_remote_close(b->remote);
    cJSON_Delete(b->memo);
    mg_arena_free(&b->arena);
    free(b);
}

static int copy_out(mg_build *b, const char *from, const char *to)
{
    size_t len;
    char *data = mg_file_read(from, SIZE_MAX - 1, &len);
    if (!data) return fail(b, MG_E_IO, "cannot read the image: %s", strerror(errno));
    char *dir = mg_path_dirname(to);
    int r = mg_mkdir_p(dir);
    if (r == 0) r = mg_file_write_atomic(to, data, len, 0755);
    if (r != 0) fail(b, MG_E_IO, "cannot write the image: %s", strerror(errno));
    free(dir);
    free(data);
    return r;
}

/* Tells the cache which link made the image (toolchain/sizes.h), for its
 * sizes. Best effort: a link served by the remote cache may have left its
 * outputs there (the record needs its blobs here), and the image is fine
 * without it. */
static void record_sizes(mg_build *b)
{
    for (size_t i = 0; i < b->n_acts; i++) {
        const action *a = &b->acts[i];
        if (a->kind != ACT_LINK || a->n_outputs != 2) continue;
        const bfile *elf = &b->files[a->outputs[0]], *map = &b->files[a->outputs[1]];
        if (elf->known && map->known)
            mg_sizes_record_put(b->o.cache, b->res->sha256, elf->sha, map->sha, NULL);
    }
}

int mg_build_run(mg_build *b, mg_build_result *res)
{
    memset(res, 0, sizeof *res);
    b->res = res;
    b->start_ms = mg_now_ms();
    const mg_graph *g = b->o.graph;
    mg_err why, err;
    int r = -1;

    b->target = mg_targets_find(b->o.targets, g->target);
    b->arch = b->target ? mg_target_find_arch(b->target, g->arch) : NULL;
    bool can_run;
    if (!b->target)
        fail(b, MG_E_INVALID, "unsupported target %s: this mgd cannot build it yet", g->target);
    else if (!b->arch) {
        mg_target_no_arch(b->target, g->arch, &why);
        fail(b, why.code, "%s", why.msg);
    } else if (!mg_target_available(b->target, b->arch, &can_run, &why))
        fail(b, MG_E_IO, "target not available on this host: %s", why.msg);
    else
        r = 0;
    if (r != 0) goto out;
    snprintf(res->image_name, sizeof res->image_name, "%s%s", g->name, b->target->image_suffix);
    log_step(b, "build %s for %s/%s (runtime %.12s)%s", g->name, g->target, g->arch,
             mg_runtime_version(), b->o.no_sandbox ? ", without the sandbox" : "");

    char real[PATH_MAX];
    if (!realpath(b->o.project_dir, real)) {
        r = fail(b, MG_E_IO, "cannot open the project's sources: %s", strerror(errno));
        goto out;
    }
    b->src_root = mg_xstrdup(real);
    b->toolid = mg_toolchain_identity(b->o.cache, b->arch, &err);
    if (!b->toolid) {
        r = fail(b, err.code, "toolchain: %s", err.msg);
        goto out;
    }
    b->rt_root = mg_runtime_materialize(b->o.cache, &err);
    if (!b->rt_root) {
        r = fail(b, err.code, "runtime: %s", err.msg);
        goto out;
    }
    b->scratch = mg_cache_mkdtemp(b->o.cache, "build-", &err);
    if (!b->scratch) {
        r = fail(b, err.code, "cannot create a build directory: %s", err.msg);
        goto out;
    }
    char *tools[3];
    static const char *const names[] = {"gcc", "ar", "strip"};
    for (int i = 0; i < 3; i++) {
        char *name = mg_xasprintf("%s%s", b->arch->prefix, names[i]);
        tools[i] = mg_find_program(name);
        if (!tools[i])
            tools[i] = name;
        else
            free(name);
    }
    b->cc = tools[0];
    b->ar = tools[1];
    b->strip = tools[2];
    /* the sandbox shows the host's /usr and nothing else */
    for (int i = 0; r == 0 && !b->o.no_sandbox && i < 3; i++)
        if (strncmp(tools[i], "/usr/", 5))
            r = fail(b, MG_E_IO,
                     "toolchain: %s is outside /usr, where sandboxed actions cannot run it "
                     "(build without the sandbox, or install it under /usr)",
                     tools[i]);
    /* the workspace: src and runtime are links to their trees (the
     * sandbox mounts those trees there instead) */
    char *link_src = mg_path_join(b->scratch, "src");
    char *link_rt = mg_path_join(b->scratch, "runtime");
    char *rt_tree = mg_path_join(b->rt_root, "runtime");
    if (r == 0 && (symlink(b->src_root, link_src) != 0 || symlink(rt_tree, link_rt) != 0))
        r = fail(b, MG_E_IO, "cannot lay out the workspace: %s", strerror(errno));
    free(link_src);
    free(link_rt);
    free(rt_tree);
    b->cwd_map = mg_arena_printf(&b->arena, "-ffile-prefix-map=%s=.", b->scratch);
    if (r != 0) goto out;

    if (b->o.remote) {
        b->remote = mg_remote_open(b->o.remote, b->o.cache);
        res->remote_used = b->remote != NULL;
        /* the cache never holds the build past its own limits: a file no
         * action may write is no blob to fetch either */
        if (b->remote)
            mg_remote_bound(b->remote,
                            b->limits.build_wall_ms ? b->start_ms + b->limits.build_wall_ms : 0,
                            &b->cancelled, b->limits.file_size);
    }
    if (b->o.distcc && b->o.distcc->n) {
        res->distcc_used = true;
        b->host_busy = mg_arena_alloc(&b->arena, b->o.distcc->n * sizeof *b->host_busy);
        b->host_down = mg_arena_alloc(&b->arena, b->o.distcc->n * sizeof *b->host_down);
        b->distcc_prog = mg_distcc_program(&err);
        /* without the sandbox distcc's state folder is the build's, not a
         * user's ~/.distcc */
        if (b->distcc_prog && b->o.no_sandbox) {
            b->distcc_state = mg_path_join(b->scratch, "distcc");
            if (mg_mkdir_p(b->distcc_state) != 0) {
                free(b->distcc_prog);
                b->distcc_prog = NULL;
                mg_err_set(&err, MG_E_IO, "cannot create %s: %s", b->distcc_state, strerror(errno));
            }
        }
        if (!b->distcc_prog)
            log_step(b, "distcc: off for this build: %s", err.msg);
        else {
            char *hosts = mg_distcc_hosts_text(b->o.distcc);
            log_step(b, "distcc: C compiles on %s", hosts);
            free(hosts);
        }
    }
    memo_load(b);
    r = plan(b);
    if (r == 0) r = run_actions(b);
    size_t img_index = r == 0 ? b->acts[b->n_acts - 1].outputs[0] : 0;
    /* the image itself must be there; a bad blob reruns the strip */
    for (int tries = 0; r == 0 && !ensure_present(b, img_index) && tries < 3; tries++)
        r = run_actions(b);
    if (r == 0 && !b->files[img_index].present)
        r = fail(b, MG_E_IO, "the image cannot be restored");
    if (b->remote) {
        /* the uploads are done (or dropped) before the build says it is;
         * they are a courtesy to the next builds, so this one waits for
         * them a bounded time and never past its deadline */
        uint64_t left = build_time_left(b);
        mg_remote_flush(b->remote, left < FLUSH_MAX_MS ? left : FLUSH_MAX_MS);
        mg_remote_stats_get(b->remote, &res->remote);
        const char *off = mg_remote_off_reason(b->remote);
        if (off) log_step(b, "remote cache off for the rest of this build: %s", off);
        log_step(b,
                 "remote cache: %u actions from it, %llu records missing, %llu errors, %llu "
                 "requests in %llu waves, %llu bytes down, %llu up",
                 res->remote_hits, (unsigned long long)res->remote.misses,
                 (unsigned long long)res->remote.errors, (unsigned long long)res->remote.requests,
                 (unsigned long long)res->remote.waves, (unsigned long long)res->remote.bytes_down,
                 (unsigned long long)res->remote.bytes_up);
        mg_cache_count_remote(b->o.cache, res->remote_hits, res->remote.misses, res->remote.errors,
                              res->remote.bytes_down, res->remote.bytes_up);
        mg_remote_close(b->remote);
        b->remote = NULL;
    }
    if (res->distcc_used)
        log_step(b, "distcc: %u compiles ran on distcc hosts, %u fallbacks", res->distcc_remote,
                 res->distcc_fallbacks);
    mg_cache_count(b->o.cache, res->hits, res->misses, b->corrupt, res->saved_ms, b->executed_ms);
    memo_save(b);
    if (r == 0) {
        const bfile *img = &b->files[img_index];
        struct stat st;
        memcpy(res->sha256, img->sha, sizeof res->sha256);
        if (stat(img->path, &st) == 0) res->image_size = (uint64_t)st.st_size;
        if (b->o.output) r = copy_out(b, img->path, b->o.output);
    }
    if (r == 0) record_sizes(b);
    if (r == 0)
        log_step(b, "image %s: %llu bytes, sha256 %s; %u actions, %u cached", res->image_name,
                 (unsigned long long)res->image_size, res->sha256, res->actions, res->hits);
out:
    res->ok = r == 0;
    res->duration_ms = mg_ms_since(b->start_ms);
    return r;
}
