/* ctl.c - see ctl.h. */
#include "client/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mg_ctl_fail(const mg_ctl *c, const char *fmt, ...)
{
    (void)c;
    va_list ap;
    va_start(ap, fmt);
    fputs("mgctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return MG_EXIT_USAGE;
}

const char *mg_json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long mg_json_int(const cJSON *obj, const char *name, long long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    /* a number no long long holds is no integer of ours (and converting
     * it would be undefined) */
    if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18)) return dflt;
    return (long long)v->valuedouble;
}

bool mg_json_has(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v && !cJSON_IsNull(v);
}

/* Text from the server, made safe for a terminal: control characters
 * (an escape sequence in a message) print as '?'. */
static void put_safe(FILE *f, const char *s)
{
    for (; *s; s++) fputc((unsigned char)*s < 0x20 && *s != '\t' ? '?' : *s, f);
}

int mg_ctl_api_error(const mg_ctl *c, const mg_rest_response *resp)
{
    cJSON *doc = cJSON_ParseWithLength(mg_buf_str(&resp->body), resp->body.len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const char *code = mg_json_str(e, "code");
    const char *message = mg_json_str(e, "message");
    if (!code || !message) {
        cJSON_Delete(doc);
        return mg_ctl_fail(c,
                           "the server at %s answered HTTP %ld without an mgd error "
                           "(is that an mgd daemon? see --url)",
                           c->rest.base, resp->status);
    }
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(e, "details");
    int ndetails = cJSON_GetArraySize(details);
    fputs("mgctl: ", stderr);
    put_safe(stderr, code);
    fputs(": ", stderr);
    if (strcmp(code, "config_invalid") == 0 && ndetails > 0)
        /* the message summarises the details, which follow in full */
        fprintf(stderr, "the config does not resolve (%d error%s):", ndetails,
                ndetails == 1 ? "" : "s");
    else
        put_safe(stderr, message);
    if (resp->status == 401 && !c->has_token)
        fputs(" (no token given: set --token or MGD_TOKEN)", stderr);
    fputc('\n', stderr);
    const cJSON *d;
    cJSON_ArrayForEach(d, details)
    {
        const char *path = mg_json_str(d, "path");
        const char *dmsg = mg_json_str(d, "message");
        const char *dcode = mg_json_str(d, "code");
        fputs("  ", stderr);
        if (path) {
            put_safe(stderr, *path ? path : "/");
            fputs(": ", stderr);
        }
        put_safe(stderr, dmsg ? dmsg : "?");
        if (dcode) {
            fputs(" (", stderr);
            put_safe(stderr, dcode);
            fputc(')', stderr);
        }
        fputc('\n', stderr);
    }
    cJSON_Delete(doc);
    return resp->status == 422 ? MG_EXIT_FAILED : MG_EXIT_USAGE;
}

int mg_ctl_call(mg_ctl *c, const char *method, const char *path, const char *body,
                mg_rest_response *resp, cJSON **json)
{
    mg_err err;
    if (json) *json = NULL;
    if (mg_rest_call(&c->rest, method, path, body, resp, &err) != 0) {
        mg_rest_response_free(resp);
        return mg_ctl_fail(c, "%s", err.msg);
    }
    if (resp->status < 200 || resp->status >= 300) {
        int rc = mg_ctl_api_error(c, resp);
        mg_rest_response_free(resp);
        return rc;
    }
    if (json && resp->body.len) {
        *json = cJSON_ParseWithLength(mg_buf_str(&resp->body), resp->body.len);
        if (!*json) {
            mg_rest_response_free(resp);
            return mg_ctl_fail(c, "the answer to %s %s is not JSON (is --url an mgd daemon?)",
                               method, path);
        }
    }
    return 0;
}

int mg_ctl_show(mg_ctl *c, const char *path, void (*human)(const cJSON *doc))
{
    mg_rest_response resp;
    cJSON *doc;
    int rc = mg_ctl_call(c, "GET", path, NULL, &resp, &doc);
    if (rc) return rc;
    if (c->json)
        mg_ctl_print_raw(mg_buf_str(&resp.body), resp.body.len);
    else
        human(doc);
    cJSON_Delete(doc);
    mg_rest_response_free(&resp);
    return 0;
}

int mg_ctl_list(mg_ctl *c, const char *path, int limit, cJSON **items)
{
    *items = cJSON_CreateArray();
    if (!*items) return mg_ctl_fail(c, "out of memory");
    int per_page = limit > 0 && limit < 100 ? limit : 100;
    mg_buf p = {0};
    mg_buf_adds(&p, path);
    mg_buf_adds(&p, strchr(path, '?') ? "&" : "?");
    char pp[32];
    snprintf(pp, sizeof pp, "per_page=%d", per_page);
    mg_buf_adds(&p, pp);
    int got = 0;
    /* a server whose links go round in circles must not keep us forever */
    for (int pages = 0; pages < 100000; pages++) {
        mg_rest_response resp;
        cJSON *page;
        int rc = mg_ctl_call(c, "GET", mg_buf_str(&p), NULL, &resp, &page);
        if (rc) {
            mg_buf_free(&p);
            cJSON_Delete(*items);
            *items = NULL;
            return rc;
        }
        if (!cJSON_IsArray(page)) {
            cJSON_Delete(page);
            mg_rest_response_free(&resp);
            mg_buf_free(&p);
            cJSON_Delete(*items);
            *items = NULL;
            return mg_ctl_fail(c, "the answer to GET %s is not a list", path);
        }
        cJSON *it;
        while ((it = cJSON_DetachItemFromArray(page, 0)) && (limit <= 0 || got < limit)) {
            cJSON_AddItemToArray(*items, it);
            got++;
        }
        cJSON_Delete(it);
        cJSON_Delete(page);
        mg_buf_clear(&p);
        /* the next page's link is a path on the same server */
        if (resp.next_link[0] == '/' && (limit <= 0 || got < limit))
            mg_buf_adds(&p, resp.next_link);
        mg_rest_response_free(&resp);
        if (!p.len) break;
    }
    mg_buf_free(&p);
    return 0;
}

void mg_ctl_path(mg_buf *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%' || !f[1]) {
            mg_buf_addc(out, *f);
            continue;
        }
        f++;
        if (*f == 's' || *f == 'q') {
            mg_rest_escape(out, va_arg(ap, const char *));
        } else if (*f == 'd') {
            char n[32];
            snprintf(n, sizeof n, "%lld", va_arg(ap, long long));
            mg_buf_adds(out, n);
        } else {
            mg_buf_addc(out, *f);
        }
    }
    va_end(ap);
}

void mg_ctl_print_raw(const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
    if (!len || text[len - 1] != '\n') fputc('\n', stdout);
}

void mg_ctl_print_json(const cJSON *v)
{
    char *s = cJSON_Print(v);
    if (s) {
        puts(s);
        free(s);
    }
}

void mg_fmt_size(long long bytes, char *buf, size_t size)
{
    if (bytes < 1024) {
        snprintf(buf, size, "%lld B", bytes);
        return;
    }
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) v /= 1024, u++;
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

void mg_fmt_duration(long long ms, char *buf, size_t size)
{
    if (ms < 0)
        snprintf(buf, size, "-");
    else if (ms < 1000)
        snprintf(buf, size, "%lld ms", ms);
    else if (ms < 120000)
        snprintf(buf, size, "%.1f s", (double)ms / 1000);
    else
        snprintf(buf, size, "%lld min %lld s", ms / 60000, ms / 1000 % 60);
}

cJSON *mg_ctl_keys(mg_ctl *c)
{
    cJSON *keys = cJSON_CreateObject();
    const char *kv;
    for (int i = 0; keys && (kv = mg_args_nth(c->args, "--key", i)); i++) {
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            mg_ctl_fail(c, "%s: --key takes NAME=VALUE, not '%s'", c->command, kv);
            cJSON_Delete(keys);
            return NULL;
        }
        char *name = strndup(kv, (size_t)(eq - kv)); /* whole: a cut one is another key */
        if (name) cJSON_DeleteItemFromObjectCaseSensitive(keys, name); /* the last one wins */
        if (!name || !cJSON_AddStringToObject(keys, name, eq + 1)) {
            cJSON_Delete(keys);
            keys = NULL;
        }
        free(name);
    }
    if (!keys) mg_ctl_fail(c, "out of memory");
    return keys;
}

char *mg_read_file(const char *path, size_t max, size_t *len, mg_err *err)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mg_err_set(err, MG_E_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        mg_err_set(err, MG_E_INVALID, "%s is a directory, not a file", path);
        return NULL;
    }
    mg_buf b = {0};
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        mg_buf_add(&b, chunk, (size_t)n);
        if (b.len > max) break;
    }
    int e = errno;
    close(fd);
    if (n < 0) {
        mg_err_set(err, MG_E_IO, "cannot read %s: %s", path, strerror(e));
    } else if (b.len > max) {
        mg_err_set(err, MG_E_LIMIT, "%s is larger than %zu MiB", path, max >> 20);
    } else if (b.failed) {
        mg_err_set(err, MG_E_NOMEM, "out of memory reading %s", path);
    } else {
        *len = b.len;
        if (!b.data) return strdup("");
        return b.data;
    }
    mg_buf_free(&b);
    return NULL;
}

/* The temporary file being written, removed when a signal (^C, a CI job
 * cancelled) ends mgctl before the commit or the abort does. */
static char *volatile pending_tmp;

static void remove_pending(int sig)
{
    char *t = pending_tmp;
    if (t) unlink(t);
    raise(sig); /* the handler is reset: dies of the signal once this returns */
}

static void watch_signals(void)
{
    static bool installed;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    if (installed) return;
    installed = true;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa, old;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue; /* nohup */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = remove_pending;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

int mg_outfile_open(mg_outfile *o, const char *path, mg_err *err)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    size_t n = strlen(path) + 16;
    o->path = strdup(path);
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) {
        free(o->path);
        free(o->tmp);
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return -1;
    }
    snprintf(o->tmp, n, "%s.mgctl-XXXXXX", path);
    watch_signals();
    int fd = mkstemp(o->tmp);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        mg_err_set(err, MG_E_IO, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return -1;
    }
    pending_tmp = o->tmp;
    return 0;
}

void mg_outfile_abort(mg_outfile *o)
{
    if (o->tmp) {
        if (o->f) fclose(o->f);
        unlink(o->tmp);
        pending_tmp = NULL;
    } else if (o->f) {
        fflush(o->f);
    }
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

int mg_outfile_commit(mg_outfile *o, int mode, mg_err *err)
{
    if (!o->tmp) {
        int rc = fflush(o->f) == 0 && !ferror(o->f) ? 0 : -1;
        if (rc) mg_err_set(err, MG_E_IO, "cannot write to stdout: %s", strerror(errno));
        memset(o, 0, sizeof *o);
        return rc;
    }
    int rc = 0;
    /* mkstemp made it 0600; give it the mode a new file would have */
    mode_t mask = umask(022);
    umask(mask);
    if (fflush(o->f) != 0 || ferror(o->f) || fchmod(fileno(o->f), (mode_t)mode & ~mask) != 0)
        rc = -1;
    if (fclose(o->f) != 0) rc = -1;
    o->f = NULL;
    if (rc == 0 && rename(o->tmp, o->path) != 0) rc = -1;
    if (rc != 0) mg_err_set(err, MG_E_IO, "cannot write %s: %s", o->path, strerror(errno));
    if (rc != 0) unlink(o->tmp);
    pending_tmp = NULL;
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    return rc;
}

char *mg_ctl_resolve_request(mg_ctl *c, bool with_force)
{
    cJSON *req = cJSON_CreateObject();
    const char *v;
    if ((v = mg_args_get(c->args, "--target"))) cJSON_AddStringToObject(req, "target", v);
    if ((v = mg_args_get(c->args, "--arch"))) cJSON_AddStringToObject(req, "arch", v);
    if ((v = mg_args_get(c->args, "--ref"))) cJSON_AddStringToObject(req, "ref", v);
    cJSON *keys = mg_ctl_keys(c);
    if (!keys) {
        cJSON_Delete(req);
        return NULL;
    }
    if (cJSON_GetArraySize(keys))
        cJSON_AddItemToObject(req, "keys", keys);
    else
        cJSON_Delete(keys);
    if (with_force && mg_args_has(c->args, "--force")) cJSON_AddTrueToObject(req, "force");
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!s) mg_ctl_fail(c, "out of memory");
    return s;
}
