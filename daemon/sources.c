/*
 * sources.c - git mirrors and checkouts through libgit2, and inline trees.
 * The contract is in sources.h; the comments here say why things are done
 * the way they are.
 */
#include "daemon/sources.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/utf8.h"
#include "daemon/snapshot.h"

#define HEADS_SPEC "+refs/heads/*:refs/heads/*"
#define TAGS_SPEC "+refs/tags/*:refs/tags/*"
#define REMOTE_NAME "origin"
/* Longest ref a user may give; git's own names are far shorter. */
#define MAX_REF_LEN 255
/* Names listed in a "ref not found" message, per kind. */
#define LIST_MAX 8

/* ---- small helpers ------------------------------------------------------ */

/* The last libgit2 error of this thread, or a fallback. */
static const char *git_msg(void)
{
    const git_error *e = git_error_last();
    return e && e->message && *e->message ? e->message : "unknown libgit2 error";
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Whether a directory holds nothing; -1 with errno when it cannot be read. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int empty = 1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* Removes what a directory holds, keeping the directory. */
static int dir_clear(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *p = mg_path_join(path, de->d_name);
        if (mg_rm_rf(p) != 0) rc = -1;
        free(p);
    }
    closedir(d);
    return rc;
}

/* ---- URLs ---------------------------------------------------------------- */

typedef enum { URL_REMOTE, URL_LOCAL } url_kind;

/* The url as shown in messages and logs: the password (and, for http, a
 * token given as the user name) replaced by "***". */
static void url_redact(const char *url, char *out, size_t outsize, char *secret, size_t secretsize)
{
    secret[0] = 0;
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : NULL;
    const char *at = NULL;
    if (host) {
        size_t hostlen = strcspn(host, "/?#");
        for (const char *p = host; p < host + hostlen; p++)
            if (*p == '@') at = p; /* the last '@' ends the user info */
    }
    if (!at) {
        snprintf(out, outsize, "%s", url);
        return;
    }
    const char *colon = memchr(host, ':', (size_t)(at - host));
    bool http = strncasecmp(url, "http", 4) == 0;
    const char *from = colon ? colon + 1 : http ? host : NULL;
    if (!from) {
        snprintf(out, outsize, "%s", url);
        return;
    }
    snprintf(secret, secretsize, "%.*s", (int)(at - from), from);
    snprintf(out, outsize, "%.*s***%s", (int)(from - url), url, at);
}

/* Masks every occurrence of a secret in a message, in place. */
static void mask_secret(char *msg, const char *secret)
{
    size_t n = strlen(secret);
    if (n < 3) return; /* too short to tell from ordinary text */
    for (char *p = strstr(msg, secret); p; p = strstr(p + n, secret)) memset(p, '*', n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Sorts a url into local or remote; a local one gets its path (malloc'd,
 * percent-decoded for file:// URLs). */
static int url_classify(const char *url, url_kind *kind, char **local_path, mg_err *why)
{
    *local_path = NULL;
    if (!*url) {
        mg_err_set(why, MG_E_INVALID, "the url is empty");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            mg_err_set(why, MG_E_INVALID, "the url has a control character");
            return -1;
        }
    const char *sep = strstr(url, "://");
    if (sep) {
        size_t n = (size_t)(sep - url);
        static const char *const remote[] = {"http", "https", "ssh", "git", "ssh+git", "git+ssh"};
        for (size_t i = 0; i < sizeof remote / sizeof *remote; i++)
            if (strlen(remote[i]) == n && strncasecmp(url, remote[i], n) == 0) {
                *kind = URL_REMOTE;
                return 0;
            }
        if (n == 4 && strncasecmp(url, "file", 4) == 0) {
            const char *p = sep + 3;
            char *path = malloc(strlen(p) + 1), *o = path;
            if (!path) {
                mg_err_set(why, MG_E_NOMEM, "out of memory");
                return -1;
            }
            for (; *p; p++) {
                if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                    *o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                    p += 2;
                } else {
                    *o++ = *p;
                }
            }
            *o = 0;
            *kind = URL_LOCAL;
            *local_path = path;
            return 0;
        }
        mg_err_set(why, MG_E_INVALID,
                   "unsupported URL scheme '%.*s' (use https, http, ssh, git or file)",
                   (int)(n > 20 ? 20 : n), url);
        return -1;
    }
    /* scp-like "[user@]host:path", as git reads it: a ':' before any '/' */
    const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
    if (colon && colon != url && (!slash || colon < slash)) {
        *kind = URL_REMOTE;
        return 0;
    }
    *kind = URL_LOCAL;
    *local_path = strdup(url);
    if (!*local_path) {
        mg_err_set(why, MG_E_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

char *mg_sources_local_path(const char *url)
{
    url_kind kind;
    char *local = NULL;
    if (url_classify(url, &kind, &local, NULL) != 0 || kind != URL_LOCAL) {
        free(local);
        return NULL;
    }
    return local;
}

/* ---- the fetch ----------------------------------------------------------- */

/* How an attempt ended. DAMAGED: the mirror itself is at fault, so one
 * fresh clone may help. */
typedef enum { ST_OK, ST_FAIL, ST_CANCEL, ST_DAMAGED } status;

typedef struct fetch_ctx {
    const mg_sources_fetch_options *o;
    char url[1024];   /* redacted, for messages */
    char secret[512]; /* what the redaction hid, masked in libgit2 messages */
    uint64_t max_files;
    uint64_t max_bytes;
    mg_err *err;
    /* what the last fetch learnt of the remote's HEAD */
    char head_ref[256]; /* "refs/heads/main", or "" */
    git_oid head_oid;   /* a detached HEAD we have the commit of */
    bool head_detached;
    bool fresh;       /* the mirror was created by this attempt */
    bool url_changed; /* the mirror was of another url: cloned afresh */
} fetch_ctx;

static void logf_(fetch_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(fetch_ctx *c, const char *fmt, ...)
{
    if (!c->o->log) return;
    char line[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->o->log(c->o->log_ctx, line);
}

static bool cancelled(const fetch_ctx *c)
{
    return c->o->cancel && *c->o->cancel;
}

static status fail_cancel(fetch_ctx *c)
{
    mg_err_set(c->err, MG_E_CANCELLED, "cancelled");
    return ST_CANCEL;
}

/* Sets err from the last libgit2 error, prefixed, with the secret masked. */
static void git_fail(fetch_ctx *c, const char *prefix)
{
    /* masked whole, before the message is cut to its size: a cut first
     * could leave the start of the secret */
    char *msg = mg_xstrdup(git_msg());
    mask_secret(msg, c->secret);
    mg_err_set(c->err, MG_E_IO, "%s: %s", prefix, msg);
    free(msg);
}

static int on_transfer(const git_indexer_progress *stats, void *payload)
{
    return cancelled(payload) ? -1 : 0;
}

static int on_sideband(const char *str, int len, void *payload)
{
    return cancelled(payload) ? -1 : 0;
}

static int on_tip(const char *refname, const git_oid *a, const git_oid *b, void *payload)
{
    return cancelled(payload) ? -1 : 0;
}

static int on_pack(int stage, uint32_t current, uint32_t total, void *payload)
{
    return cancelled(payload) ? -1 : 0;
}

/* Takes the mirror's lock, polling so that a cancel is seen while another
 * fetch of the same mirror runs. Returns the lock's descriptor or -1. */
static int lock_mirror(fetch_ctx *c, status *st)
{
    const char *mirror = c->o->mirror_dir;
    size_t n = strlen(mirror);
    while (n > 1 && mirror[n - 1] == '/') n--;
    char *lock = malloc(n + sizeof ".lock");
    if (!lock) {
        mg_err_set(c->err, MG_E_NOMEM, "out of memory");
        *st = ST_FAIL;
        return -1;
    }
    memcpy(lock, mirror, n);
    memcpy(lock + n, ".lock", sizeof ".lock");
    char *parent = mg_path_dirname(lock);
    int fd = -1;
    if (mg_mkdir_p(parent) != 0) {
        mg_err_set(c->err, MG_E_IO, "cannot create the directory '%s': %s", parent,
                   strerror(errno));
        *st = ST_FAIL;
        goto out;
    }
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        mg_err_set(c->err, MG_E_IO, "cannot open the lock '%s': %s", lock, strerror(errno));
        *st = ST_FAIL;
        goto out;
    }
    bool waited = false;
    long delay_ms = 10;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) {
            mg_err_set(c->err, MG_E_IO, "cannot lock '%s': %s", lock, strerror(errno));
            *st = ST_FAIL;
            close(fd);
            fd = -1;
            goto out;
        }
        if (cancelled(c)) {
            *st = fail_cancel(c);
            close(fd);
            fd = -1;
            goto out;
        }
        if (!waited) logf_(c, "waiting for another fetch of this repository");
        waited = true;
        struct timespec ts = {0, delay_ms * 1000000L};
        nanosleep(&ts, NULL);
        if (delay_ms < 100) delay_ms *= 2;
    }
    *st = ST_OK;
out:
    free(parent);
    free(lock);
    return fd;
}

/* Writes remote "origin" into a new mirror's configuration as text: with
 * libgit2 a second "fetch" value needs git_config_set_multivar, whose
 * regular expression leaks memory in libgit2 1.5 (see remote_setup). */
static int remote_section_append(fetch_ctx *c)
{
    char *cfg = mg_path_join(c->o->mirror_dir, "config");
    size_t n = strlen(c->o->url);
    char *text = malloc(2 * n + 256), *p = text;
    int rc = -1;
    if (!text) {
        mg_err_set(c->err, MG_E_NOMEM, "out of memory");
        goto out;
    }
    p += sprintf(p, "[remote \"" REMOTE_NAME "\"]\n\turl = \"");
    for (const char *u = c->o->url; *u; u++) { /* no control characters (checked) */
        if (*u == '\\' || *u == '"') *p++ = '\\';
        *p++ = *u;
    }
    p += sprintf(p, "\"\n\tfetch = " HEADS_SPEC "\n\tfetch = " TAGS_SPEC "\n");
    int fd = open(cfg, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || write_all(fd, text, (size_t)(p - text)) != 0) {
        mg_err_set(c->err, MG_E_IO, "cannot write the mirror's configuration '%s': %s", cfg,
                   strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    if (close(fd) != 0) {
        mg_err_set(c->err, MG_E_IO, "cannot write the mirror's configuration '%s': %s", cfg,
                   strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(cfg);
    return rc;
}

/* Opens the mirror, or creates it when it is missing (or after a removal). */
static status mirror_open(fetch_ctx *c, git_repository **repo)
{
    const char *path = c->o->mirror_dir;
    struct stat sb;
    c->fresh = false;
    if (lstat(path, &sb) == 0) {
        if (git_repository_open_ext(
                repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL) != 0) {
            git_fail(c, "cannot open the mirror");
            return ST_DAMAGED;
        }
        if (!git_repository_is_bare(*repo)) {
            mg_err_set(c->err, MG_E_IO, "the mirror '%s' is not a bare repository", path);
            return ST_DAMAGED;
        }
        return ST_OK;
    }
    if (errno != ENOENT) {
        mg_err_set(c->err, MG_E_IO, "cannot read the mirror '%s': %s", path, strerror(errno));
        return ST_FAIL;
    }
    git_repository_init_options io;
    git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    if (git_repository_init_ext(repo, path, &io) != 0) {
        git_fail(c, "cannot create the mirror");
        return ST_FAIL;
    }
    git_repository_free(*repo);
    *repo = NULL;
    c->fresh = true;
    if (remote_section_append(c) != 0) return ST_FAIL;
    if (git_repository_open_ext(
            repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL) != 0) {
        git_fail(c, "cannot open the new mirror");
        return ST_FAIL;
    }
    return ST_OK;
}

/* Records the url as the mirror's remote "origin" and makes the remote to
 * fetch with. The configuration is read and written by key only: libgit2
 * 1.5 leaks memory on every regular expression that fails to match (which
 * git_remote_lookup does for each configuration entry), and a daemon
 * fetches many times. So the fetch uses an anonymous remote with our
 * refspecs, without url rewriting; "origin" is the record, and what a
 * person inspecting the mirror with git would use. */
static status remote_setup(fetch_ctx *c, git_repository *repo, git_remote **remote)
{
    const char *url = c->o->url;
    status damaged = c->fresh ? ST_FAIL : ST_DAMAGED;
    git_config *cfg = NULL;
    git_buf old = GIT_BUF_INIT;
    status st = ST_OK;
    if (git_repository_config(&cfg, repo) != 0) {
        git_fail(c, "cannot read the mirror's configuration");
        return damaged;
    }
    int rc = git_config_get_string_buf(&old, cfg, "remote." REMOTE_NAME ".url");
    if (rc != 0 && rc != GIT_ENOTFOUND) {
        git_fail(c, "cannot read the mirror's configuration");
        st = damaged;
    } else if (rc == 0 && strcmp(old.ptr, url) != 0 && !c->fresh) {
        /* the old repository's objects must go: a commit id that only it
         * had would otherwise still resolve */
        c->url_changed = true;
        st = ST_DAMAGED;
    } else if (rc == GIT_ENOTFOUND || strcmp(old.ptr, url) != 0) {
        if (git_config_set_string(cfg, "remote." REMOTE_NAME ".url", url) != 0 ||
            (rc == GIT_ENOTFOUND &&
             (git_config_set_multivar(cfg, "remote." REMOTE_NAME ".fetch", "^$", HEADS_SPEC) != 0 ||
              git_config_set_multivar(cfg, "remote." REMOTE_NAME ".fetch", "^$", TAGS_SPEC) !=
                  0))) {
            git_fail(c, "cannot record the url in the mirror's configuration");
            st = damaged;
        }
    }
    git_buf_dispose(&old);
    git_config_free(cfg);
    if (st != ST_OK) return st;

    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(remote, url, &ro) != 0) {
        char what[1200];
        snprintf(what, sizeof what, "cannot fetch '%s'", c->url);
        git_fail(c, what);
        return ST_FAIL;
    }
    return ST_OK;
}

/* A cheap look at a mirror whose fetch failed: can HEAD be read, can the
 * refs be listed, and do they point at objects we have? */
static bool mirror_healthy(git_repository *repo)
{
    git_reference *head = NULL;
    if (git_reference_lookup(&head, repo, "HEAD") != 0) return false;
    git_reference_free(head);
    git_odb *odb = NULL;
    if (git_repository_odb(&odb, repo) != 0) return false;
    git_reference_iterator *it = NULL;
    bool ok = git_reference_iterator_new(&it, repo) == 0;
    git_reference *ref;
    int rc = 0;
    while (ok && (rc = git_reference_next(&ref, it)) == 0) {
        const git_oid *id = git_reference_target(ref);
        if (id && !git_odb_exists(odb, id)) ok = false;
        git_reference_free(ref);
    }
    if (ok && rc != GIT_ITEROVER) ok = false;
    git_reference_iterator_free(it);
    git_odb_free(odb);
    return ok;
}

static status do_fetch(fetch_ctx *c, git_repository *repo, git_remote *remote)
{
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.prune = GIT_FETCH_PRUNE;
    fo.update_fetchhead = 0;
    /* the tags refspec fetches every tag; auto-following adds nothing */
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fo.callbacks.transfer_progress = on_transfer;
    fo.callbacks.sideband_progress = on_sideband;
    fo.callbacks.update_tips = on_tip;
    fo.callbacks.pack_progress = on_pack;
    fo.callbacks.payload = c;
    char *specs[] = {HEADS_SPEC, TAGS_SPEC};
    git_strarray refspecs = {specs, 2};
    logf_(c, "fetching %s", c->url);
    if (git_remote_fetch(remote, &refspecs, &fo, "mgd fetch") != 0) {
        if (cancelled(c)) return fail_cancel(c);
        char what[1200];
        snprintf(what, sizeof what, "cannot fetch '%s'", c->url);
        git_fail(c, what);
        /* a remote's failure is not the mirror's; only a damaged mirror
         * is worth a fresh clone. Errors of the local repository kinds
         * count as damage too (the look at the refs skips refs it cannot
         * read); from a local remote they may be the remote's, which costs
         * one clone in vain before the same error is reported. */
        const git_error *e = git_error_last();
        int k = e ? e->klass : GIT_ERROR_NONE;
        bool local = k == GIT_ERROR_REFERENCE || k == GIT_ERROR_ODB || k == GIT_ERROR_OBJECT ||
                     k == GIT_ERROR_ZLIB || k == GIT_ERROR_REPOSITORY || k == GIT_ERROR_CONFIG;
        return !c->fresh && (local || !mirror_healthy(repo)) ? ST_DAMAGED : ST_FAIL;
    }
    if (cancelled(c)) return fail_cancel(c);
    const git_indexer_progress *s = git_remote_stats(remote);
    if (s && s->received_objects)
        logf_(c, "fetched %u objects, %zu bytes", s->received_objects, s->received_bytes);
    else
        logf_(c, "the mirror was up to date");

    /* the remote's HEAD: recorded as the mirror's HEAD, and the ref used
     * when none is given */
    c->head_ref[0] = 0;
    c->head_detached = false;
    git_buf b = GIT_BUF_INIT;
    if (git_remote_default_branch(&b, remote) == 0 && strlen(b.ptr) < sizeof c->head_ref) {
        snprintf(c->head_ref, sizeof c->head_ref, "%s", b.ptr);
        git_reference *head = NULL;
        bool same = git_reference_lookup(&head, repo, "HEAD") == 0 &&
                    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
                    strcmp(git_reference_symbolic_target(head), c->head_ref) == 0;
        git_reference_free(head);
        if (!same && git_repository_set_head(repo, c->head_ref) != 0) {
            git_fail(c, "cannot record the remote's HEAD in the mirror");
            git_buf_dispose(&b);
            return c->fresh ? ST_FAIL : ST_DAMAGED;
        }
    } else {
        /* no branch to name: a detached HEAD whose commit came with the
         * fetch can still be used */
        const git_remote_head **heads;
        size_t n;
        git_odb *odb = NULL;
        if (git_remote_ls(&heads, &n, remote) == 0 && n > 0 &&
            strcmp(heads[0]->name, "HEAD") == 0 && git_repository_odb(&odb, repo) == 0 &&
            git_odb_exists(odb, &heads[0]->oid)) {
            c->head_oid = heads[0]->oid;
            c->head_detached = true;
            git_repository_set_head_detached(repo, &c->head_oid);
        }
        git_odb_free(odb);
    }
    git_buf_dispose(&b);
    return ST_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a, b, c (and 4 more)" of the refs under a prefix, sorted, or "none". */
static void list_refs(git_repository *repo, const char *prefix, char *out, size_t outsize)
{
    size_t n = 0, cap = 0;
    char **names = NULL;
    git_reference_iterator *it = NULL;
    if (git_reference_iterator_new(&it, repo) == 0) {
        const char *name;
        size_t plen = strlen(prefix);
        while (git_reference_next_name(&name, it) == 0) {
            if (strncmp(name, prefix, plen) != 0) continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                char **nn = realloc(names, ncap * sizeof *names);
                if (!nn) break;
                names = nn;
                cap = ncap;
            }
            if (!(names[n] = strdup(name + plen))) break;
            n++;
        }
        git_reference_iterator_free(it);
    }
    if (n) qsort(names, n, sizeof *names, cmp_str);
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && i < LIST_MAX; i++)
        len += (size_t)snprintf(out + len, len < outsize ? outsize - len : 0, "%s%s", i ? ", " : "",
                                names[i]);
    if (n > LIST_MAX && len < outsize)
        snprintf(out + len, outsize - len, " (and %zu more)", n - LIST_MAX);
    if (n == 0) snprintf(out, outsize, "none");
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* Peels an object (a commit, or tags down to one) to a commit. */
static status peel_commit(fetch_ctx *c, git_object *obj, const char *ref, git_commit **commit)
{
    git_object *peeled = NULL;
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) {
        mg_err_set(c->err, MG_E_INVALID, "ref '%s' in %s points to a %s, not a commit", ref, c->url,
                   git_object_type2string(git_object_type(obj)));
        return ST_FAIL;
    }
    *commit = (git_commit *)peeled;
    return ST_OK;
}

/* Resolves a named reference; *found tells a missing one from a failure. */
static status resolve_name(fetch_ctx *c, git_repository *repo, const char *name, const char *ref,
                           git_commit **commit, char *ref_name, size_t ref_name_size, bool *found)
{
    git_reference *r = NULL;
    *found = false;
    int rc = git_reference_lookup(&r, repo, name);
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) return ST_OK;
    if (rc != 0) {
        git_fail(c, "cannot read the mirror's refs");
        return ST_DAMAGED;
    }
    *found = true;
    git_reference *direct = NULL;
    git_object *obj = NULL;
    status st = ST_OK;
    if (git_reference_resolve(&direct, r) != 0) {
        git_fail(c, "cannot resolve the ref");
        st = git_error_last() && git_error_last()->klass == GIT_ERROR_REFERENCE ? ST_FAIL
                                                                                : ST_DAMAGED;
    } else if (git_object_lookup(&obj, repo, git_reference_target(direct), GIT_OBJECT_ANY) != 0) {
        git_fail(c, "the mirror lacks an object the ref points to");
        st = ST_DAMAGED;
    } else {
        st = peel_commit(c, obj, ref, commit);
        if (st == ST_OK) snprintf(ref_name, ref_name_size, "%s", git_reference_name(r));
    }
    git_object_free(obj);
    git_reference_free(direct);
    git_reference_free(r);
    return st;
}

static status resolve_ref(fetch_ctx *c, git_repository *repo, git_commit **commit, char *ref_name,
                          size_t ref_name_size)
{
    const char *ref = c->o->ref && *c->o->ref ? c->o->ref : NULL;
    ref_name[0] = 0;
    if (ref && strcmp(ref, "HEAD") == 0) ref = NULL;
    if (!ref) {
        if (c->head_ref[0]) {
            bool found;
            status st =
                resolve_name(c, repo, c->head_ref, "HEAD", commit, ref_name, ref_name_size, &found);
            if (st != ST_OK || found) return st;
        } else if (c->head_detached) {
            git_object *obj = NULL;
            if (git_object_lookup(&obj, repo, &c->head_oid, GIT_OBJECT_ANY) != 0) {
                git_fail(c, "the mirror lacks the remote's HEAD");
                return ST_DAMAGED;
            }
            status st = peel_commit(c, obj, "HEAD", commit);
            git_object_free(obj);
            return st;
        }
        char branches[512];
        list_refs(repo, "refs/heads/", branches, sizeof branches);
        mg_err_set(c->err, MG_E_INVALID,
                   "%s has no default branch (an empty repository, or a HEAD that names no "
                   "branch); give a ref (branches: %s)",
                   c->url, branches);
        return ST_FAIL;
    }

    size_t len = strlen(ref);
    if (len > MAX_REF_LEN) {
        mg_err_set(c->err, MG_E_INVALID, "the ref is longer than %d bytes", MAX_REF_LEN);
        return ST_FAIL;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)ref[i] < 0x20 || ref[i] == 0x7f) {
            mg_err_set(c->err, MG_E_INVALID, "the ref has a control character");
            return ST_FAIL;
        }

    if (len == GIT_OID_HEXSZ && all_hex(ref, len)) {
        git_oid id;
        git_object *obj = NULL;
        if (git_oid_fromstr(&id, ref) != 0 ||
            git_object_lookup(&obj, repo, &id, GIT_OBJECT_ANY) != 0) {
            mg_err_set(c->err, MG_E_NOT_FOUND,
                       "commit %s is not in %s (it must be reachable from a branch or a tag)", ref,
                       c->url);
            return ST_FAIL;
        }
        status st = peel_commit(c, obj, ref, commit);
        git_object_free(obj);
        return st;
    }

    char name[MAX_REF_LEN + 16];
    const char *const forms[] = {"%s", "refs/heads/%s", "refs/tags/%s"};
    for (size_t i = strncmp(ref, "refs/", 5) == 0 ? 0 : 1; i < 3; i++) {
        snprintf(name, sizeof name, forms[i], ref);
        bool found;
        status st = resolve_name(c, repo, name, ref, commit, ref_name, ref_name_size, &found);
        if (st != ST_OK || found) return st;
        if (i == 0) break; /* a full name is taken as it is */
    }

    if (len >= 7 && len < GIT_OID_HEXSZ && all_hex(ref, len)) {
        git_oid id;
        git_object *obj = NULL;
        int rc = git_oid_fromstrn(&id, ref, len);
        if (rc == 0) rc = git_object_lookup_prefix(&obj, repo, &id, len, GIT_OBJECT_ANY);
        if (rc == GIT_EAMBIGUOUS) {
            mg_err_set(c->err, MG_E_INVALID,
                       "ref '%s' is ambiguous in %s: several objects start with it; give more "
                       "digits",
                       ref, c->url);
            return ST_FAIL;
        }
        if (rc == 0) {
            status st = peel_commit(c, obj, ref, commit);
            git_object_free(obj);
            return st;
        }
    }

    char branches[512], tags[512];
    list_refs(repo, "refs/heads/", branches, sizeof branches);
    list_refs(repo, "refs/tags/", tags, sizeof tags);
    mg_err_set(c->err, MG_E_NOT_FOUND, "ref '%s' not found in %s (branches: %s; tags: %s)", ref,
               c->url, branches, tags);
    return ST_FAIL;
}

/* ---- the checkout -------------------------------------------------------- */

typedef struct checkout {
    fetch_ctx *c;
    git_repository *repo;
    git_odb *odb;
    char path[4096]; /* the entry being written, relative to dest_dir */
    size_t path_len;
    uint64_t files;   /* files and links written */
    uint64_t entries; /* those and the directories, against max_files */
    uint64_t bytes;
} checkout;

static status co_tree(checkout *k, const git_tree *tree, int dirfd, int depth);

/* Reads a blob after checking its size against the limits. */
static status co_blob(checkout *k, const git_oid *id, git_blob **blob)
{
    fetch_ctx *c = k->c;
    size_t size;
    git_object_t type;
    if (git_odb_read_header(&size, &type, k->odb, id) != 0) {
        git_fail(c, "the mirror lacks an object of the tree");
        return ST_DAMAGED;
    }
    if (type != GIT_OBJECT_BLOB) {
        mg_err_set(c->err, MG_E_INVALID, "'%s' in the tree is a %s, not a file", k->path,
                   git_object_type2string(type));
        return ST_FAIL;
    }
    if (++k->entries > c->max_files) {
        mg_err_set(c->err, MG_E_LIMIT, "the checkout has more than %llu files; the limit is %llu",
                   (unsigned long long)c->max_files, (unsigned long long)c->max_files);
        return ST_FAIL;
    }
    if (size > c->max_bytes - k->bytes) {
        mg_err_set(c->err, MG_E_LIMIT, "the checkout holds more than %llu bytes (at '%s')",
                   (unsigned long long)c->max_bytes, k->path);
        return ST_FAIL;
    }
    if (git_blob_lookup(blob, k->repo, id) != 0) {
        git_fail(c, "cannot read an object of the tree");
        return ST_DAMAGED;
    }
    k->bytes += size;
    k->files++;
    return ST_OK;
}

static status co_entry(checkout *k, const git_tree_entry *e, int dirfd, int depth)
{
    fetch_ctx *c = k->c;
    const char *name = git_tree_entry_name(e);
    const git_oid *id = git_tree_entry_id(e);
    switch (git_tree_entry_filemode(e)) {
    case GIT_FILEMODE_TREE: {
        if (depth + 1 > MG_SOURCES_MAX_DEPTH) {
            mg_err_set(c->err, MG_E_LIMIT, "'%s' is nested more than %d directories deep", k->path,
                       MG_SOURCES_MAX_DEPTH);
            return ST_FAIL;
        }
        if (++k->entries > c->max_files) {
            mg_err_set(c->err, MG_E_LIMIT,
                       "the checkout has more than %llu files and directories; the limit is %llu",
                       (unsigned long long)c->max_files, (unsigned long long)c->max_files);
            return ST_FAIL;
        }
        git_tree *sub = NULL;
        if (git_tree_lookup(&sub, k->repo, id) != 0) {
            git_fail(c, "the mirror lacks a tree of the commit");
            return ST_DAMAGED;
        }
        status st = ST_FAIL;
        int fd = -1;
        if (mkdirat(dirfd, name, 0755) != 0)
            mg_err_set(c->err, errno == EEXIST ? MG_E_INVALID : MG_E_IO,
                       "cannot create the directory '%s': %s", k->path,
                       errno == EEXIST ? "the tree names it twice" : strerror(errno));
        else if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            mg_err_set(c->err, MG_E_IO, "cannot open the directory '%s': %s", k->path,
                       strerror(errno));
        else
            st = co_tree(k, sub, fd, depth + 1);
        if (fd >= 0) close(fd);
        git_tree_free(sub);
        return st;
    }
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE: {
        git_blob *blob = NULL;
        status st = co_blob(k, id, &blob);
        if (st != ST_OK) return st;
        mode_t mode = git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = fd >= 0 &&
                  write_all(fd, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob)) == 0 &&
                  fchmod(fd, mode) == 0; /* not the umask's choice */
        int saved = errno;
        if (fd >= 0 && close(fd) != 0 && ok) {
            ok = false;
            saved = errno;
        }
        git_blob_free(blob);
        if (!ok) {
            mg_err_set(c->err, saved == EEXIST ? MG_E_INVALID : MG_E_IO, "cannot write '%s': %s",
                       k->path, saved == EEXIST ? "the tree names it twice" : strerror(saved));
            return ST_FAIL;
        }
        return ST_OK;
    }
    case GIT_FILEMODE_LINK: {
        git_blob *blob = NULL;
        status st = co_blob(k, id, &blob);
        if (st != ST_OK) return st;
        size_t len = (size_t)git_blob_rawsize(blob);
        const char *t = git_blob_rawcontent(blob);
        char target[4096];
        if (len >= sizeof target || !mg_snapshot_link_target_ok(t, len, depth)) {
            mg_err_set(c->err, MG_E_INVALID,
                       "symbolic link '%s' points outside the source tree (to '%.*s'); only "
                       "relative links that stay inside are checked out",
                       k->path, (int)(len > 200 ? 200 : len), t);
            git_blob_free(blob);
            return ST_FAIL;
        }
        memcpy(target, t, len);
        target[len] = 0;
        git_blob_free(blob);
        if (symlinkat(target, dirfd, name) != 0) {
            mg_err_set(c->err, errno == EEXIST ? MG_E_INVALID : MG_E_IO,
                       "cannot create the link '%s': %s", k->path,
                       errno == EEXIST ? "the tree names it twice" : strerror(errno));
            return ST_FAIL;
        }
        return ST_OK;
    }
    case GIT_FILEMODE_COMMIT:
        mg_err_set(c->err, MG_E_INVALID,
                   "submodule '%s' is not supported (put its files in the repository)", k->path);
        return ST_FAIL;
    default:
        mg_err_set(c->err, MG_E_INVALID, "'%s' has an unknown file mode %06o", k->path,
                   (unsigned)git_tree_entry_filemode_raw(e));
        return ST_FAIL;
    }
}

static status co_tree(checkout *k, const git_tree *tree, int dirfd, int depth)
{
    fetch_ctx *c = k->c;
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; i++) {
        if (cancelled(c)) return fail_cancel(c);
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        size_t nlen = strlen(name), saved = k->path_len;
        if (k->path_len + nlen + 2 > sizeof k->path) {
            mg_err_set(c->err, MG_E_INVALID, "a path of the tree is longer than %zu bytes",
                       sizeof k->path - 2);
            return ST_FAIL;
        }
        if (k->path_len) k->path[k->path_len++] = '/';
        memcpy(k->path + k->path_len, name, nlen + 1);
        k->path_len += nlen;
        /* git itself never makes such names; a crafted tree can */
        if (nlen == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/')) {
            mg_err_set(c->err, MG_E_INVALID,
                       "the tree has an entry named '%s' that cannot be checked out", k->path);
            return ST_FAIL;
        }
        if (strcasecmp(name, ".git") == 0) {
            mg_err_set(c->err, MG_E_INVALID,
                       "the tree has a '.git' entry ('%s'); it is not checked out", k->path);
            return ST_FAIL;
        }
        status st = co_entry(k, e, dirfd, depth);
        if (st != ST_OK) return st;
        k->path_len = saved;
        k->path[saved] = 0;
    }
    return ST_OK;
}

static status do_checkout(fetch_ctx *c, git_repository *repo, git_commit *commit,
                          mg_sources_result *out)
{
    git_tree *tree = NULL;
    if (git_commit_tree(&tree, commit) != 0) {
        git_fail(c, "the mirror lacks the commit's tree");
        return ST_DAMAGED;
    }
    checkout *k = calloc(1, sizeof *k);
    git_odb *odb = NULL;
    int fd = -1;
    status st = ST_FAIL;
    if (!k) {
        mg_err_set(c->err, MG_E_NOMEM, "out of memory");
        goto out;
    }
    if (git_repository_odb(&odb, repo) != 0) {
        git_fail(c, "cannot open the mirror's objects");
        st = ST_DAMAGED;
        goto out;
    }
    k->c = c;
    k->repo = repo;
    k->odb = odb;
    fd = open(c->o->dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        mg_err_set(c->err, MG_E_IO, "cannot open the checkout directory '%s': %s", c->o->dest_dir,
                   strerror(errno));
        goto out;
    }
    st = co_tree(k, tree, fd, 0);
    if (st == ST_OK) {
        out->files = k->files;
        out->bytes = k->bytes;
        logf_(c, "checked out %llu files, %llu bytes", (unsigned long long)k->files,
              (unsigned long long)k->bytes);
    }
out:
    if (fd >= 0) close(fd);
    git_odb_free(odb);
    free(k);
    git_tree_free(tree);
    return st;
}

/* One go at the whole job on the mirror as it is on disk. */
static status attempt(fetch_ctx *c, mg_sources_result *out)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_commit *commit = NULL;
    status st = mirror_open(c, &repo);
    /* looked at before the fetch too: libgit2 1.5 leaks when a fetch
     * meets refs whose objects are gone */
    if (st == ST_OK && !c->fresh && !mirror_healthy(repo)) {
        mg_err_set(c->err, MG_E_IO, "its HEAD or refs are unreadable or point at missing objects");
        st = ST_DAMAGED;
    }
    if (st == ST_OK) st = remote_setup(c, repo, &remote);
    if (st == ST_OK) st = do_fetch(c, repo, remote);
    bool fetched = st == ST_OK;
    if (st == ST_OK) st = resolve_ref(c, repo, &commit, out->ref_name, sizeof out->ref_name);
    if (st == ST_OK) {
        git_oid_tostr(out->commit, sizeof out->commit, git_commit_id(commit));
        git_oid_tostr(out->tree, sizeof out->tree, git_commit_tree_id(commit));
        const char *ref = c->o->ref && *c->o->ref ? c->o->ref : "HEAD";
        logf_(c, "ref %s is commit %s (tree %s)", ref, out->commit, out->tree);
        st = do_checkout(c, repo, commit, out);
    }
    git_commit_free(commit);
    git_remote_free(remote);
    git_repository_free(repo);
    /* a mirror made for a url that could not be fetched would stay empty */
    if (c->fresh && !fetched) mg_rm_rf(c->o->mirror_dir);
    /* a mirror made moments ago is not damaged: a second clone would fail
     * the same way */
    if (st == ST_DAMAGED && c->fresh) st = ST_FAIL;
    return st;
}

int mg_sources_global_init(mg_err *err)
{
    int n = git_libgit2_init();
    if (n < 0) {
        mg_err_set(err, MG_E_IO, "cannot initialise libgit2: %s", git_msg());
        return -1;
    }
    if (n == 1) {
        /* the user's and the system's git configuration (url rewrites,
         * proxies, default branch names) must not change what the daemon
         * fetches or from where */
        static const int levels[] = {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                                     GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA};
        for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
            if (git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "") != 0) {
                mg_err_set(err, MG_E_IO, "cannot configure libgit2: %s", git_msg());
                git_libgit2_shutdown();
                return -1;
            }
    }
    return 0;
}

void mg_sources_global_shutdown(void)
{
    git_libgit2_shutdown();
}

int mg_sources_fetch(const mg_sources_fetch_options *o, mg_sources_result *out, mg_err *err)
{
    mg_err localerr;
    if (!err) {
        /* messages are also logged, so there must be somewhere to put them */
        err = &localerr;
    }
    memset(out, 0, sizeof *out);
    if (!o || !o->mirror_dir || !*o->mirror_dir || !o->url || !o->dest_dir || !*o->dest_dir) {
        mg_err_set(err, MG_E_INVALID,
                   "mg_sources_fetch: mirror_dir, url and dest_dir are required");
        return -1;
    }
    fetch_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return -1;
    }
    c->o = o;
    c->err = err;
    c->max_files = o->max_files ? o->max_files : MG_SOURCES_DEFAULT_MAX_FILES;
    c->max_bytes = o->max_bytes ? o->max_bytes : MG_SOURCES_DEFAULT_MAX_BYTES;
    url_redact(o->url, c->url, sizeof c->url, c->secret, sizeof c->secret);

    status st = ST_FAIL;
    int lock = -1;
    url_kind kind;
    char *local = NULL;
    mg_err why;
    if (url_classify(o->url, &kind, &local, &why) != 0) {
        mg_err_set(err, why.code, "cannot fetch '%s': %s", c->url, why.msg);
        goto out;
    }
    if (kind == URL_LOCAL) {
        /* checked here so that a bad path fails at once with a plain
         * message instead of whatever the transport makes of it */
        struct stat sb;
        git_repository *r = NULL;
        if (!o->allow_local) {
            mg_err_set(err, MG_E_INVALID,
                       "cannot fetch '%s': local repositories are not allowed (use an https, ssh "
                       "or git URL)",
                       c->url);
            goto out;
        }
        if (stat(local, &sb) != 0) {
            mg_err_set(err, MG_E_IO, "cannot fetch '%s': %s", c->url, strerror(errno));
            goto out;
        }
        if (git_repository_open_ext(&r, local, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
            mg_err_set(err, MG_E_INVALID, "cannot fetch '%s': not a git repository", c->url);
            goto out;
        }
        git_repository_free(r);
    }
    if (cancelled(c)) {
        st = fail_cancel(c);
        goto out;
    }
    int empty = dir_is_empty(o->dest_dir);
    if (empty != 1) {
        mg_err_set(err, MG_E_INVALID, "the checkout directory '%s' %s", o->dest_dir,
                   empty == 0 ? "is not empty" : strerror(errno));
        goto out;
    }
    lock = lock_mirror(c, &st);
    if (lock < 0) goto out;

    st = attempt(c, out);
    if (st == ST_DAMAGED) {
        if (c->url_changed)
            logf_(c, "the repository url changed: cloning %s afresh", c->url);
        else
            logf_(c, "the mirror is damaged (%s); cloning afresh", err->msg);
        if (mg_rm_rf(o->mirror_dir) != 0) {
            mg_err_set(err, MG_E_IO, "cannot remove the damaged mirror '%s': %s", o->mirror_dir,
                       strerror(errno));
            st = ST_FAIL;
        } else if (dir_clear(o->dest_dir) != 0) {
            mg_err_set(err, MG_E_IO, "cannot empty the checkout directory '%s': %s", o->dest_dir,
                       strerror(errno));
            st = ST_FAIL;
        } else {
            memset(out, 0, sizeof *out);
            st = attempt(c, out);
        }
    }
out:
    if (lock >= 0) close(lock); /* releases the flock */
    free(local);
    free(c);
    return st == ST_OK ? 0 : -1;
}

/* ---- inline sources ------------------------------------------------------ */

typedef struct inl_entry {
    const char *path;
    const char *content;
    size_t path_len;
    size_t content_len;
} inl_entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const inl_entry *)a)->path, ((const inl_entry *)b)->path);
}

/* A path as it may appear in a message: cut short, control bytes as '?'. */
static const char *shown(const char *path, char *buf, size_t size)
{
    size_t n = strlen(path), max = size - 4;
    size_t m = n > max ? max : n;
    for (size_t i = 0; i < m; i++) {
        unsigned char ch = (unsigned char)path[i];
        buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    strcpy(buf + m, n > max ? "..." : "");
    return buf;
}

/* The rules of one path; the message names it. */
static int inline_path_ok(const char *path, mg_err *err)
{
    char sh[80];
    size_t n = strlen(path);
    if (n == 0) {
        mg_err_set(err, MG_E_INVALID, "sources: a path is empty");
        return -1;
    }
    if (n > MG_SOURCES_INLINE_MAX_PATH) {
        mg_err_set(err, MG_E_INVALID, "sources: path '%s' is longer than %u bytes",
                   shown(path, sh, sizeof sh), MG_SOURCES_INLINE_MAX_PATH);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch < 0x20 || ch == 0x7f) {
            mg_err_set(err, MG_E_INVALID, "sources: path '%s' has a control character",
                       shown(path, sh, sizeof sh));
            return -1;
        }
        if (ch == '\\') {
            mg_err_set(err, MG_E_INVALID, "sources: path '%s' has a backslash; separate with '/'",
                       shown(path, sh, sizeof sh));
            return -1;
        }
    }
    if (!mg_utf8_valid(path, n)) {
        mg_err_set(err, MG_E_INVALID, "sources: path '%s' is not valid UTF-8",
                   shown(path, sh, sizeof sh));
        return -1;
    }
    if (path[0] == '/') {
        mg_err_set(err, MG_E_INVALID,
                   "sources: path '%s' is absolute; paths are relative to the project",
                   shown(path, sh, sizeof sh));
        return -1;
    }
    for (const char *p = path;;) {
        const char *s = strchr(p, '/');
        size_t len = s ? (size_t)(s - p) : strlen(p);
        const char *why = NULL;
        if (len == 0)
            why = "has an empty segment";
        else if (len == 1 && p[0] == '.')
            why = "has a '.' segment";
        else if (len == 2 && p[0] == '.' && p[1] == '.')
            why = "leaves the project";
        else if (len > 255)
            why = "has a name longer than 255 bytes";
        else if (len == 4 && strncasecmp(p, ".git", 4) == 0)
            why = "is inside .git";
        if (why) {
            mg_err_set(err, MG_E_INVALID, "sources: path '%s' %s", shown(path, sh, sizeof sh), why);
            return -1;
        }
        if (!s) break;
        p = s + 1;
    }
    return 0;
}

/* Checks a tree and returns its entries sorted by path (malloc'd). */
static int inline_collect(const cJSON *sources, size_t max_bytes, inl_entry **out, size_t *count,
                          mg_err *err)
{
    char sh[80];
    *out = NULL;
    *count = 0;
    if (!cJSON_IsObject(sources)) {
        mg_err_set(err, MG_E_INVALID,
                   "sources: must be an object of \"path\": \"content\" members");
        return -1;
    }
    size_t n = 0, total = 0;
    for (const cJSON *m = sources->child; m; m = m->next)
        if (++n > MG_SOURCES_INLINE_MAX_FILES) {
            mg_err_set(err, MG_E_LIMIT, "sources: more than %u files", MG_SOURCES_INLINE_MAX_FILES);
            return -1;
        }
    inl_entry *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        mg_err_set(err, MG_E_NOMEM, "out of memory");
        return -1;
    }
    size_t i = 0;
    for (const cJSON *m = sources->child; m; m = m->next, i++) {
        const char *path = m->string ? m->string : "";
        if (inline_path_ok(path, err) != 0) goto fail;
        if (!cJSON_IsString(m) || !m->valuestring) {
            mg_err_set(err, MG_E_INVALID,
                       "sources: path '%s' must have a string value (its content)",
                       shown(path, sh, sizeof sh));
            goto fail;
        }
        v[i].path = path;
        v[i].path_len = strlen(path);
        v[i].content = m->valuestring;
        v[i].content_len = strlen(m->valuestring);
        total += v[i].content_len;
        if (total > max_bytes) {
            mg_err_set(err, MG_E_LIMIT, "sources: the files hold more than %zu bytes (at '%s')",
                       max_bytes, shown(path, sh, sizeof sh));
            goto fail;
        }
    }
    qsort(v, n, sizeof *v, cmp_entry);
    for (i = 0; i + 1 < n; i++)
        if (strcmp(v[i].path, v[i + 1].path) == 0) {
            mg_err_set(err, MG_E_INVALID, "sources: path '%s' appears twice",
                       shown(v[i].path, sh, sizeof sh));
            goto fail;
        }
    /* a file may not also be a directory: look each directory prefix up
     * among the files */
    for (i = 0; i < n; i++) {
        for (const char *s = strchr(v[i].path, '/'); s; s = strchr(s + 1, '/')) {
            char prefix[MG_SOURCES_INLINE_MAX_PATH + 1];
            size_t len = (size_t)(s - v[i].path);
            memcpy(prefix, v[i].path, len);
            prefix[len] = 0;
            inl_entry key = {.path = prefix};
            if (bsearch(&key, v, n, sizeof *v, cmp_entry)) {
                char sh2[80];
                mg_err_set(err, MG_E_INVALID,
                           "sources: path '%s' is a file and a directory (of '%s')",
                           shown(prefix, sh, sizeof sh), shown(v[i].path, sh2, sizeof sh2));
                goto fail;
            }
        }
    }
    *out = v;
    *count = n;
    return 0;
fail:
    free(v);
    return -1;
}

static void hash_len(mg_sha256 *s, size_t len)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    mg_sha256_update(s, b, sizeof b);
}

static void inline_hash(const inl_entry *v, size_t n, char hash_out[65])
{
    mg_sha256 s;
    mg_sha256_init(&s);
    for (size_t i = 0; i < n; i++) {
        hash_len(&s, v[i].path_len);
        mg_sha256_update(&s, v[i].path, v[i].path_len);
        hash_len(&s, v[i].content_len);
        mg_sha256_update(&s, v[i].content, v[i].content_len);
    }
    unsigned char d[MG_SHA256_SIZE];
    mg_sha256_final(&s, d);
    mg_sha256_hex(d, hash_out);
}

int mg_sources_inline_check(const cJSON *sources, size_t max_bytes, mg_err *err)
{
    inl_entry *v;
    size_t n;
    if (inline_collect(sources, max_bytes, &v, &n, err) != 0) return -1;
    free(v);
    return 0;
}

int mg_sources_inline_hash(const cJSON *sources, char hash_out[65], mg_err *err)
{
    inl_entry *v;
    size_t n;
    if (inline_collect(sources, SIZE_MAX, &v, &n, err) != 0) return -1;
    inline_hash(v, n, hash_out);
    free(v);
    return 0;
}

/* Writes one file under root, creating its directories; never follows a
 * link, so nothing lands outside root. */
static int inline_write_one(int root, const inl_entry *e, mg_err *err)
{
    char sh[80];
    int dirfd = root;
    int rc = -1;
    const char *p = e->path;
    for (const char *s; (s = strchr(p, '/')); p = s + 1) {
        char name[256];
        size_t len = (size_t)(s - p);
        memcpy(name, p, len); /* a segment is at most 255 bytes (checked) */
        name[len] = 0;
        if (mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST) goto fail;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) goto fail;
        if (dirfd != root) close(dirfd);
        dirfd = fd;
    }
    int fd = openat(dirfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) goto fail;
    bool ok = write_all(fd, e->content, e->content_len) == 0 && fchmod(fd, 0644) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    errno = saved;
    if (ok) rc = 0;
fail:
    if (rc != 0)
        mg_err_set(err, MG_E_IO, "sources: cannot write '%s': %s", shown(e->path, sh, sizeof sh),
                   strerror(errno));
    if (dirfd != root) close(dirfd);
    return rc;
}

int mg_sources_inline_write(const cJSON *sources, const char *dest_dir, char hash_out[65],
                            mg_err *err)
{
    inl_entry *v;
    size_t n;
    if (inline_collect(sources, SIZE_MAX, &v, &n, err) != 0) return -1;
    int rc = -1;
    int empty = dir_is_empty(dest_dir);
    int root = -1;
    if (empty != 1) {
        mg_err_set(err, MG_E_INVALID, "sources: the directory '%s' %s", dest_dir,
                   empty == 0 ? "is not empty" : strerror(errno));
        goto out;
    }
    root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        mg_err_set(err, MG_E_IO, "sources: cannot open '%s': %s", dest_dir, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (inline_write_one(root, &v[i], err) != 0) goto out;
    if (hash_out) inline_hash(v, n, hash_out);
    rc = 0;
out:
    if (root >= 0) close(root);
    free(v);
    return rc;
}
