/*
 * distcc.c - the host list, the wrapping of one distributed compile, and
 * the probe that keeps a mismatched compiler out of the cache
 * (toolchain/distcc.h, docs/distcc.md).
 */
#include "toolchain/distcc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "toolchain/build.h"
#include "toolchain/sandbox.h"
#include "toolchain/target.h"

/* --- the host list ---------------------------------------------------------- */

void mg_distcc_hosts_free(mg_distcc_hosts *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].spec);
        free(h->v[i].name);
    }
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

static bool all_digits(const char *s, size_t n)
{
    if (!n || n > 5) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

/* One word: HOSTID[:PORT][/LIMIT][,lzo], or the old HOSTID[/LIMIT][:PORT]. */
static int parse_word(const char *w, mg_distcc_host *h, mg_err *err)
{
    if (!strcmp(w, "localhost") || !strncmp(w, "localhost/", 10) || !strncmp(w, "localhost:", 10) ||
        !strncmp(w, "localhost,", 10))
        return mg_err_set(err, MG_E_INVALID,
                          "distcc host '%s': distcc runs \"localhost\" compiles here, as mgd "
                          "does without it (to use a distccd on this machine, name it by "
                          "address: 127.0.0.1)",
                          w);
    if (strchr(w, '@'))
        return mg_err_set(err, MG_E_INVALID,
                          "distcc host '%s': SSH hosts are not supported (the build sandbox has "
                          "no SSH keys): run distccd on it and name it by address",
                          w);
    if (w[0] == '-' || w[0] == '+')
        return mg_err_set(err, MG_E_INVALID,
                          "distcc host list: '%s' is not supported (mgd places each compile on "
                          "one host itself)",
                          w);
    const char *p = w;
    size_t id_len;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close == p + 1)
            return mg_err_set(err, MG_E_INVALID, "distcc host '%s': an IPv6 address needs ']'", w);
        for (const char *c = p + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return mg_err_set(err, MG_E_INVALID, "distcc host '%s': a bad IPv6 address", w);
        id_len = (size_t)(close - p) + 1;
    } else {
        id_len = strcspn(p, ":/,");
        if (!id_len || id_len > 253)
            return mg_err_set(err, MG_E_INVALID, "distcc host '%s': no host name", w);
        for (size_t i = 0; i < id_len; i++)
            if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '-' && p[i] != '_')
                return mg_err_set(err, MG_E_INVALID,
                                  "distcc host '%s': a host name has letters, digits, '.', '-' "
                                  "and '_' only",
                                  w);
    }
    const char *port = NULL, *limit = NULL;
    size_t port_len = 0, limit_len = 0;
    p += id_len;
    /* ":PORT" and "/LIMIT" in either order, each at most once */
    while (*p == ':' || *p == '/') {
        const char **which = *p == ':' ? &port : &limit;
        size_t *len = *p == ':' ? &port_len : &limit_len;
        if (*which)
            return mg_err_set(err, MG_E_INVALID, "distcc host '%s': '%c' given twice", w, *p);
        *which = ++p;
        *len = strspn(p, "0123456789");
        p += *len;
        if (!all_digits(*which, *len))
            return mg_err_set(err, MG_E_INVALID, "distcc host '%s': %s takes a number", w,
                              which == &port ? "':PORT'" : "'/LIMIT'");
    }
    while (*p == ',') {
        p++;
        size_t n = strcspn(p, ",");
        if (n == 3 && !strncmp(p, "lzo", 3)) {
            p += n;
            continue;
        }
        return mg_err_set(
            err, MG_E_INVALID, "distcc host '%s': the option ',%.*s' is not supported (%s)", w,
            (int)n, p,
            n == 3 && !strncmp(p, "cpp", 3) ? "pump mode: mgd uses plain distcc, preprocessing here"
                                            : "only ,lzo is");
    }
    if (*p) return mg_err_set(err, MG_E_INVALID, "distcc host '%s': unexpected '%s'", w, p);
    unsigned long pn = port ? strtoul(port, NULL, 10) : 3632;
    unsigned long ln = limit ? strtoul(limit, NULL, 10) : MG_DISTCC_DEFAULT_LIMIT;
    if (pn < 1 || pn > 65535)
        return mg_err_set(err, MG_E_INVALID, "distcc host '%s': the port is 1 to 65535", w);
    if (ln < 1 || ln > MG_DISTCC_MAX_LIMIT)
        return mg_err_set(err, MG_E_INVALID, "distcc host '%s': the limit is 1 to %u", w,
                          MG_DISTCC_MAX_LIMIT);
    h->spec = mg_xstrdup(w);
    h->name = port ? mg_xasprintf("%.*s:%.*s", (int)id_len, w, (int)port_len, port)
                   : mg_xasprintf("%.*s", (int)id_len, w);
    h->limit = (unsigned)ln;
    return 0;
}

int mg_distcc_parse(const char *text, mg_distcc_hosts *out, mg_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p = text ? text : "";
    while (*p) {
        if (*p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        size_t n = strcspn(p, " \t\r\n\v\f#");
        if (n > 300) {
            mg_distcc_hosts_free(out);
            return mg_err_set(err, MG_E_INVALID, "distcc host list: a word is too long");
        }
        if (out->n == MG_DISTCC_MAX_HOSTS) {
            mg_distcc_hosts_free(out);
            return mg_err_set(err, MG_E_INVALID, "distcc host list: more than %u hosts",
                              MG_DISTCC_MAX_HOSTS);
        }
        char *w = mg_xasprintf("%.*s", (int)n, p);
        mg_distcc_host h;
        int r = parse_word(w, &h, err);
        free(w);
        if (r != 0) {
            mg_distcc_hosts_free(out);
            return -1;
        }
        for (size_t i = 0; i < out->n; i++)
            if (!strcmp(out->v[i].name, h.name)) {
                mg_err_set(err, MG_E_INVALID, "distcc host list: %s is named twice", h.name);
                free(h.spec);
                free(h.name);
                mg_distcc_hosts_free(out);
                return -1;
            }
        out->v = mg_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = h;
        p += n;
    }
    if (!out->n) return mg_err_set(err, MG_E_INVALID, "distcc host list: no host");
    return 0;
}

char *mg_distcc_hosts_text(const mg_distcc_hosts *h)
{
    mg_buf b = {0};
    for (size_t i = 0; i < h->n; i++) mg_buf_printf(&b, "%s%s", i ? ", " : "", h->v[i].name);
    char *s = mg_xstrdup(mg_buf_str(&b));
    mg_buf_free(&b);
    return s;
}

/* --- one distributed compile ----------------------------------------------- */

bool mg_distcc_distributable(const char *src)
{
    size_t n = strlen(src);
    return n > 2 && !strcmp(src + n - 2, ".c");
}

/* The words mg_build_compile_argv ends with: -MD -MF DEP -Xassembler --MD
 * -Xassembler AS_DEP -c SRC -o OBJ. */
enum { TAIL = 11 };

static bool compile_tail(const char *const *argv, size_t argc)
{
    if (argc <= TAIL) return false;
    const char *const *t = argv + argc - TAIL;
    return !strcmp(t[0], "-MD") && !strcmp(t[1], "-MF") && !strcmp(t[3], "-Xassembler") &&
           !strcmp(t[4], "--MD") && !strcmp(t[5], "-Xassembler") && !strcmp(t[7], "-c") &&
           !strcmp(t[9], "-o");
}

const char **mg_distcc_cc1_argv(const char *distcc, const char *const *argv, size_t argc,
                                const char *asm_file)
{
    if (!compile_tail(argv, argc)) return NULL;
    const char *const *t = argv + argc - TAIL;
    const char **out = mg_xmalloc((argc + 2) * sizeof *out);
    size_t n = 0;
    const char *slash = strrchr(argv[0], '/');
    out[n++] = distcc;
    out[n++] = slash ? slash + 1 : argv[0];
    for (size_t i = 1; i < argc - TAIL; i++) out[n++] = argv[i];
    /* preprocessing (and gcc's depfile) here, cc1 there: assembly text
     * comes back, nothing for the far assembler */
    const char *tail[] = {"-MD", "-MF", t[2], "-S", t[8], "-o", asm_file};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) out[n++] = tail[i];
    out[n] = NULL;
    return out;
}

const char **mg_distcc_as_argv(const char *const *argv, size_t argc, const char *asm_file)
{
    if (!compile_tail(argv, argc)) return NULL;
    const char *const *t = argv + argc - TAIL;
    const char **out = mg_xmalloc((argc + 1) * sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < argc - TAIL; i++) out[n++] = argv[i];
    /* the driver gives the assembler the options of a local compile (and
     * the same flags: -g, the arch's); assembly text is not preprocessed,
     * so no gcc depfile, which step 1 wrote */
    const char *tail[] = {"-Xassembler", "--MD", "-Xassembler", t[6], "-c", asm_file, "-o", t[10]};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) out[n++] = tail[i];
    out[n] = NULL;
    return out;
}

char **mg_distcc_env(const char *const *base, const mg_distcc_host *h, const char *cc,
                     const char *state)
{
    size_t n = 0;
    while (base && base[n]) n++;
    char **env = mg_xmalloc((n + 8) * sizeof *env);
    size_t k = 0;
    char *dir = mg_path_dirname(cc);
    for (size_t i = 0; i < n; i++)
        env[k++] = !strncmp(base[i], "PATH=", 5) ? mg_xasprintf("PATH=%s:%s", dir, base[i] + 5)
                                                 : mg_xstrdup(base[i]);
    free(dir);
    env[k++] = mg_xasprintf("DISTCC_HOSTS=%s", h->spec);
    /* never compile here behind mgd's back: mgd counts and does that */
    env[k++] = mg_xstrdup("DISTCC_FALLBACK=0");
    env[k++] = mg_xstrdup("DISTCC_SKIP_LOCAL_RETRY=1");
    /* (not DISTCC_BACKOFF_PERIOD=0: distcc 3.4 then retries a refused
     * host until it runs out of descriptors and aborts; mgd keeps a failed
     * host off itself) */
    env[k++] = mg_xasprintf("DISTCC_DIR=%s", state);
    env[k] = NULL;
    return env;
}

void mg_distcc_env_free(char **env)
{
    if (!env) return;
    for (char **e = env; *e; e++) free(*e);
    free(env);
}

bool mg_distcc_own_failure(const mg_exec_result *r)
{
    return !r->spawn_error && !r->term_signal && r->exit_status >= 100 && r->exit_status <= 127;
}

const char *mg_distcc_exit_reason(int status)
{
    /* distcc(1), EXIT CODES */
    static const char *const reasons[] = {"a distcc failure",
                                          "bad arguments",
                                          "bind failed",
                                          "connect failed",
                                          "the compiler crashed",
                                          "out of memory",
                                          "a bad host spec",
                                          "an I/O error",
                                          "truncated",
                                          "a protocol error",
                                          "no such compiler there",
                                          "recursive distcc",
                                          "no privileges",
                                          "network access denied",
                                          "in use",
                                          "no such file",
                                          "no host",
                                          NULL,
                                          "a timeout",
                                          "GSS-API",
                                          "preprocessing needed here"};
    if (status < 100 || status >= 100 + (int)(sizeof reasons / sizeof *reasons)) return NULL;
    return reasons[status - 100];
}

char *mg_distcc_program(mg_err *err)
{
    char *p = mg_find_program("distcc");
    if (!p) mg_err_set(err, MG_E_NOT_FOUND, "distcc not found (install the Debian package distcc)");
    return p;
}

/* --- the probe --------------------------------------------------------------- */

/* Code the optimiser changes: inlining, loops, floating point, a switch
 * table. A compiler with other defaults or another version gives another
 * object. No #include: the probe tests the compiler, not the headers. */
static const char probe_source[] = "/* mgd's distcc probe */\n"
                                   "static int sq(int x) { return x * x + (x >> 2); }\n"
                                   "int mg_distcc_probe(int n);\n"
                                   "int mg_distcc_probe(int n)\n"
                                   "{\n"
                                   "    int s = 0;\n"
                                   "    for (int i = 0; i < n; i++) s += sq(i) ^ (s >> 3);\n"
                                   "    return s;\n"
                                   "}\n"
                                   "double mg_distcc_probe_f(double x, int k);\n"
                                   "double mg_distcc_probe_f(double x, int k)\n"
                                   "{\n"
                                   "    switch (k) {\n"
                                   "    case 0: return x * 1.5 + 2.0;\n"
                                   "    case 1: return x / 3.0;\n"
                                   "    case 2: return x - 7.25;\n"
                                   "    case 3: return x * x;\n"
                                   "    default: return (double)sq(k);\n"
                                   "    }\n"
                                   "}\n"
                                   "const char mg_distcc_probe_text[] = \"mgd\";\n";

/* The environment of the probe's compiles: the build actions'. */
static const char *const probe_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                                        "SOURCE_DATE_EPOCH=0", NULL};

typedef struct {
    char *dir;   /* the run's workspace on the host */
    char *state; /* DISTCC_DIR without the sandbox */
    uint64_t id;
    mg_exec_result res;
    bool done;
} probe_run;

/* The steps of a probe compile. */
typedef enum {
    PROBE_HERE, /* the whole compile, here: the reference */
    PROBE_CC1,  /* step 1 of a distributed compile, through a host */
    PROBE_AS,   /* step 2, here */
} probe_step;

/* Starts one step of a probe compile in `run->dir` (h: the host of a
 * PROBE_CC1), as the build runs it (toolchain/build.c, start()). */
static void probe_start(mg_executor *ex, probe_run *run, const mg_target *t,
                        const mg_target_arch *a, const char *cc, const char *distcc,
                        const mg_distcc_host *h, bool no_sandbox, probe_step step)
{
    mg_arena ar = {0};
    char *src_dir = mg_path_join(run->dir, "src");
    char *obj_dir = mg_path_join(run->dir, "obj/src/probe.c");
    char *src = mg_path_join(src_dir, "probe.c");
    if (step != PROBE_AS) {
        mg_mkdir_p(src_dir);
        mg_mkdir_p(obj_dir);
        mg_file_write_atomic(src, probe_source, sizeof probe_source - 1, 0644);
    }
    const char *cwd_map = no_sandbox ? mg_arena_printf(&ar, "-ffile-prefix-map=%s=.", run->dir)
                                     : "-ffile-prefix-map=" MG_SANDBOX_WORKSPACE "=.";
    size_t argc;
    const char **argv = mg_build_compile_argv(&ar, t, a, cc, NULL, 0, cwd_map, "src/probe.c",
                                              "obj/src/probe.c/probe.o", "obj/src/probe.c/probe.d",
                                              "obj/src/probe.c/probe.as.d", &argc);
    static const char asm_file[] = "obj/src/probe.c/probe.distcc.s";
    const char **run_argv = step == PROBE_CC1  ? mg_distcc_cc1_argv(distcc, argv, argc, asm_file)
                            : step == PROBE_AS ? mg_distcc_as_argv(argv, argc, asm_file)
                                               : NULL;
    char **env = step == PROBE_CC1
                     ? mg_distcc_env(probe_env, h, cc, no_sandbox ? run->state : "/tmp")
                     : NULL;
    if (run->state) mg_mkdir_p(run->state);
    mg_sandbox_bind binds[] = {
        {src_dir, MG_SANDBOX_WORKSPACE "/src", false},
        {obj_dir, MG_SANDBOX_WORKSPACE "/obj/src/probe.c", true},
    };
    mg_build_limits l = mg_build_limits_default();
    l.action_wall_ms = 60000;
    const char *const *envp = env ? (const char *const *)env : probe_env;
    mg_sandbox_spec sb = {.sandboxed = !no_sandbox,
                          .limits = &l,
                          .binds = binds,
                          .n_binds = 2,
                          .env = envp,
                          .network = step == PROBE_CC1};
    char **cmd = mg_sandbox_argv(&sb, run_argv ? run_argv : argv);
    mg_exec_spec spec = {.argv = (const char *const *)cmd,
                         .cwd = no_sandbox ? run->dir : NULL,
                         .env = envp,
                         .timeout_ms = l.action_wall_ms,
                         .output_cap = 16384};
    run->id = mg_executor_start(ex, &spec);
    run->done = false;
    mg_sandbox_argv_free(cmd);
    mg_distcc_env_free(env);
    free(run_argv);
    free(src_dir);
    free(obj_dir);
    free(src);
    mg_arena_free(&ar);
}

/* Waits for every probe run started. */
static void probe_wait(mg_executor *ex, probe_run *runs, size_t n_runs)
{
    mg_exec_result r;
    while (mg_executor_wait(ex, &r) == 0) {
        for (size_t i = 0; i < n_runs; i++)
            if (!runs[i].done && runs[i].id == r.id) {
                mg_exec_result_free(&runs[i].res);
                runs[i].res = r;
                runs[i].done = true;
                memset(&r, 0, sizeof r);
            }
        mg_exec_result_free(&r);
    }
}

static bool run_ok(const mg_exec_result *r)
{
    return !r->spawn_error && !r->term_signal && !r->timed_out && r->exit_status == 0;
}

/* The first line of a compile's output, for a message. */
static char *first_line(const mg_exec_result *r)
{
    const char *o = r->output ? r->output : "";
    size_t n = strcspn(o, "\n");
    if (n > 200) n = 200;
    return mg_xasprintf("%.*s", (int)n, o);
}

static char *run_failure(const mg_exec_result *r)
{
    char *line = first_line(r);
    char *s;
    if (r->spawn_error)
        s = mg_xasprintf("cannot start: %s", strerror(r->spawn_error));
    else if (r->timed_out)
        s = mg_xstrdup("timed out");
    else if (r->term_signal)
        s = mg_xasprintf("killed by signal %d", r->term_signal);
    else {
        const char *why = mg_distcc_exit_reason(r->exit_status);
        s = mg_xasprintf("exit %d%s%s%s%s", r->exit_status, why ? ": " : "", why ? why : "",
                         *line ? ": " : "", line);
    }
    free(line);
    return s;
}

static void say_line(mg_distcc_say_fn say, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say_line(mg_distcc_say_fn say, void *ctx, const char *fmt, ...)
{
    if (!say) return;
    va_list ap;
    va_start(ap, fmt);
    mg_arena ar = {0};
    say(ctx, mg_arena_vprintf(&ar, fmt, ap));
    va_end(ap);
    mg_arena_free(&ar);
}

int mg_distcc_probe(const mg_distcc_hosts *hosts, const mg_distcc_probe_target *targets,
                    size_t n_targets, bool no_sandbox, mg_distcc_say_fn say, void *ctx,
                    mg_distcc_hosts *kept, mg_err *err)
{
    memset(kept, 0, sizeof *kept);
    char *distcc = mg_distcc_program(err);
    if (!distcc) return -1;
    if (!no_sandbox && strncmp(distcc, "/usr/", 5)) {
        mg_err_set(err, MG_E_IO,
                   "%s is outside /usr, where sandboxed compiles cannot run it (install the "
                   "Debian package distcc)",
                   distcc);
        free(distcc);
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    char *root = mg_xasprintf("%s/mgd-distcc-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        mg_err_set(err, MG_E_IO, "cannot create a folder for the probe: %s", strerror(errno));
        free(root);
        free(distcc);
        return -1;
    }
    bool *dropped = calloc(hosts->n ? hosts->n : 1, sizeof *dropped);
    if (!dropped) abort();
    mg_executor *ex = mg_executor_new();
    if (!ex) abort();
    int rc = 0;
    size_t n_runs = hosts->n + 1;
    probe_run *runs = mg_xmalloc(n_runs * sizeof *runs);
    for (size_t ti = 0; rc == 0 && ti < n_targets; ti++) {
        const mg_target *t = targets[ti].target;
        const mg_target_arch *a = targets[ti].arch;
        char *cc_name = mg_xasprintf("%sgcc", a->prefix);
        char *cc = mg_find_program(cc_name);
        free(cc_name);
        if (!cc) continue; /* not built here: nothing to compare */
        /* run 0 is the local compiler, run i + 1 host i */
        for (size_t i = 0; i < n_runs; i++) {
            memset(&runs[i], 0, sizeof runs[i]);
            runs[i].dir = mg_xasprintf("%s/%zu-%zu", root, ti, i);
            runs[i].state = no_sandbox ? mg_xasprintf("%s/%zu-%zu.state", root, ti, i) : NULL;
            if (i > 0 && dropped[i - 1]) {
                runs[i].done = true;
                continue;
            }
            probe_start(ex, &runs[i], t, a, cc, distcc, i ? &hosts->v[i - 1] : NULL, no_sandbox,
                        i ? PROBE_CC1 : PROBE_HERE);
        }
        probe_wait(ex, runs, n_runs);
        /* step 2 of each host whose step 1 worked: the assembler here */
        bool assembling = false;
        for (size_t i = 1; i < n_runs; i++)
            if (!dropped[i - 1] && run_ok(&runs[i].res)) {
                probe_start(ex, &runs[i], t, a, cc, distcc, NULL, no_sandbox, PROBE_AS);
                assembling = true;
            }
        if (assembling) probe_wait(ex, runs, n_runs);
        char *local_obj = mg_path_join(runs[0].dir, "obj/src/probe.c/probe.o");
        size_t local_len = 0;
        char *local = NULL;
        const mg_exec_result *lr = &runs[0].res;
        if (!run_ok(lr) || !(local = mg_file_read(local_obj, 64u << 20, &local_len))) {
            char *why = run_failure(lr);
            mg_err_set(err, MG_E_IO, "the probe compile for %s/%s failed here: %s", t->name,
                       a->name, why);
            free(why);
            rc = -1;
        }
        for (size_t i = 1; rc == 0 && i < n_runs; i++) {
            if (dropped[i - 1]) continue;
            const mg_distcc_host *h = &hosts->v[i - 1];
            const mg_exec_result *hr = &runs[i].res;
            char *obj = mg_path_join(runs[i].dir, "obj/src/probe.c/probe.o");
            size_t len = 0;
            char *data = NULL;
            if (!run_ok(hr)) {
                char *why = run_failure(hr);
                say_line(say, ctx,
                         "distcc: host %s dropped: the probe compile for %s/%s failed (%s)",
                         h->name, t->name, a->name, why);
                free(why);
                dropped[i - 1] = true;
            } else if (!(data = mg_file_read(obj, 64u << 20, &len))) {
                say_line(say, ctx, "distcc: host %s dropped: no object came back for %s/%s",
                         h->name, t->name, a->name);
                dropped[i - 1] = true;
            } else if (len != local_len || memcmp(data, local, len)) {
                say_line(say, ctx,
                         "distcc: host %s dropped: its object for %s/%s differs from the local "
                         "compiler's (a different gcc?)",
                         h->name, t->name, a->name);
                dropped[i - 1] = true;
            }
            free(data);
            free(obj);
        }
        free(local);
        free(local_obj);
        for (size_t i = 0; i < n_runs; i++) {
            mg_exec_result_free(&runs[i].res);
            free(runs[i].dir);
            free(runs[i].state);
        }
        free(cc);
    }
    free(runs);
    mg_executor_free(ex);
    mg_rm_rf(root);
    free(root);
    free(distcc);
    if (rc == 0) {
        for (size_t i = 0; i < hosts->n; i++) {
            if (dropped[i]) continue;
            kept->v = mg_xrealloc(kept->v, (kept->n + 1) * sizeof *kept->v);
            kept->v[kept->n++] = (mg_distcc_host){mg_xstrdup(hosts->v[i].spec),
                                                  mg_xstrdup(hosts->v[i].name), hosts->v[i].limit};
        }
        if (kept->n) {
            char *names = mg_distcc_hosts_text(kept);
            say_line(say, ctx, "distcc: %zu host%s: %s", kept->n, kept->n == 1 ? "" : "s", names);
            free(names);
        } else
            say_line(say, ctx, "distcc: no host left: compiles run here");
    }
    free(dropped);
    return rc;
}
