/*
 * graphviz.c - device graphs drawn as SVG by Graphviz's `dot`.
 *
 * The graph's DOT text (graph/describe.c: nodes labelled with the device id
 * and its implementation, an edge per dependency) goes to a temporary file
 * and `dot -Tsvg -o OUT IN` draws it: a child process through the
 * toolchain's executor (an argv, never a shell; its own process group; a
 * time limit), so a slow or crashing layout never takes the daemon with
 * it.
 *
 * Drawing never happens on an HTTP thread: dot's time grows with the
 * square of the graph (a config with 3000 jobs takes it 10 to 40 s), and
 * an HTTP thread waiting for it would hold every other connection of the
 * thread as long, /health and log streams included. The request is handed
 * to the work pool (workpool.h: MG_WORKPOOL_THREADS threads, at most
 * MG_WORKPOOL_WAITING drawings waiting, past that 503 with Retry-After):
 * its connection is suspended until a worker has drawn the graph. dot gets
 * --graph-timeout seconds (10 by default), then it is killed and the
 * answer is 503.
 *
 * A drawing takes `dot` 30 ms for a small graph (it loads its plugins and
 * fonts each time) to seconds for a big one, and the dashboard asks for
 * the same few graphs again and again, so the last drawings are kept in
 * memory by the sha256 of their DOT text: MG_GRAPHVIZ_CACHE_ENTRIES of
 * them, MG_GRAPHVIZ_CACHE_BYTES at most, the least recently used going
 * first. A drawing of up to MG_GRAPHVIZ_MAX_SVG (half the cache) is kept,
 * so a big graph is drawn once, not at each request (3000 jobs give 2 to 7
 * MiB); a bigger one is refused with 503 (dot would take far longer than
 * the time limit to draw it anyway). A cached drawing is answered on the
 * HTTP thread at once; X-Graph-Cache says hit or miss.
 *
 * Without Graphviz installed, the graph is drawn by mgd's own layered
 * layout (graph/svg.c), so the endpoint keeps working; the answer's
 * X-Graph-Renderer header says which one drew it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/internal.h"
#include "api/workpool.h"
#include "toolchain/exec.h"
#include "toolchain/sandbox.h"
#include "base/sha256.h"
#include "toolchain/target.h"

#define MG_GRAPHVIZ_TIMEOUT_S 10 /* --graph-timeout's default */
#define MG_GRAPHVIZ_MAX_SVG (16u << 20)
#define MG_GRAPHVIZ_CACHE_ENTRIES 32
#define MG_GRAPHVIZ_CACHE_BYTES (32u << 20)

/* ---- the last drawings ---------------------------------------------------- */

typedef struct drawing {
    unsigned char key[MG_SHA256_SIZE]; /* of the DOT text */
    char *svg;                         /* NULL: a free slot */
    size_t len;
    uint64_t used; /* the clock at the last use */
} drawing;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static drawing cache[MG_GRAPHVIZ_CACHE_ENTRIES];
static size_t cache_bytes;
static uint64_t cache_clock;

static void dot_key(const char *dot, size_t len, unsigned char key[MG_SHA256_SIZE])
{
    mg_sha256 s;
    mg_sha256_init(&s);
    mg_sha256_update(&s, dot, len);
    mg_sha256_final(&s, key);
}

/* A copy of the cached drawing of `key`, or NULL. */
static char *cache_get(const unsigned char *key, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < MG_GRAPHVIZ_CACHE_ENTRIES; i++)
        if (cache[i].svg && memcmp(cache[i].key, key, MG_SHA256_SIZE) == 0) {
            cache[i].used = ++cache_clock;
            if ((copy = malloc(cache[i].len + 1))) {
                memcpy(copy, cache[i].svg, cache[i].len + 1);
                *len = cache[i].len;
            }
            break;
        }
    pthread_mutex_unlock(&cache_lock);
    return copy;
}

static void cache_put(const unsigned char *key, const char *svg, size_t len)
{
    if (len > MG_GRAPHVIZ_MAX_SVG) return; /* a giant would push out the rest */
    char *copy = malloc(len + 1);
    if (!copy) return;
    memcpy(copy, svg, len + 1);
    pthread_mutex_lock(&cache_lock);
    for (;;) {
        /* the same key (two requests drew it at once), else a free slot,
         * else the least recently used; and room in bytes */
        size_t pick = MG_GRAPHVIZ_CACHE_ENTRIES, oldest = 0;
        for (size_t i = 0; i < MG_GRAPHVIZ_CACHE_ENTRIES; i++) {
            if (cache[i].svg && memcmp(cache[i].key, key, MG_SHA256_SIZE) == 0) {
                pick = i;
                break;
            }
            if (!cache[i].svg) {
                if (pick == MG_GRAPHVIZ_CACHE_ENTRIES || cache[pick].svg) pick = i;
            } else if (!cache[oldest].svg || cache[i].used < cache[oldest].used) {
                oldest = i;
            }
        }
        if (pick == MG_GRAPHVIZ_CACHE_ENTRIES) pick = oldest;
        if (cache[pick].svg) {
            cache_bytes -= cache[pick].len;
            free(cache[pick].svg);
            cache[pick].svg = NULL;
        }
        if (cache_bytes + len <= MG_GRAPHVIZ_CACHE_BYTES) {
            memcpy(cache[pick].key, key, MG_SHA256_SIZE);
            cache[pick].svg = copy;
            cache[pick].len = len;
            cache[pick].used = ++cache_clock;
            cache_bytes += len;
            break;
        }
        /* over the byte limit: drop the least recently used and look again */
        size_t lru = MG_GRAPHVIZ_CACHE_ENTRIES;
        for (size_t i = 0; i < MG_GRAPHVIZ_CACHE_ENTRIES; i++)
            if (cache[i].svg &&
                (lru == MG_GRAPHVIZ_CACHE_ENTRIES || cache[i].used < cache[lru].used))
                lru = i;
        if (lru == MG_GRAPHVIZ_CACHE_ENTRIES) { /* nothing left to drop */
            free(copy);
            break;
        }
        cache_bytes -= cache[lru].len;
        free(cache[lru].svg);
        cache[lru].svg = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
}

/* `dot` on PATH, looked up once (kept for the daemon's life). */
static pthread_once_t dot_once = PTHREAD_ONCE_INIT;
static char *dot_path;

static void find_dot(void)
{
    dot_path = mg_find_program("dot");
}

bool mg_graphviz_available(void)
{
    pthread_once(&dot_once, find_dot);
    return dot_path != NULL;
}

static int write_all(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return close(fd);
}

static char *read_all(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= max &&
        (buf = malloc((size_t)st.st_size + 1))) {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got == (size_t)st.st_size) {
            buf[got] = '\0';
            *len = got;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    close(fd);
    return buf;
}

/* ---- drawing ---------------------------------------------------------- */

typedef struct draw_job {
    char *dot;
    size_t len;
    unsigned char key[MG_SHA256_SIZE];
    unsigned timeout_s;
} draw_job;

static void draw_job_free(void *arg)
{
    draw_job *d = arg;
    free(d->dot);
    free(d);
}

static void reply_svg(mg_req *r, const char *svg, size_t len, bool hit)
{
    mg_reply_header(r, "X-Graph-Renderer", "graphviz");
    mg_reply_header(r, "X-Graph-Cache", "%s", hit ? "hit" : "miss");
    mg_reply_text(r, 200, "image/svg+xml", svg, len);
}

/* On a worker of the pool. */
static void draw(mg_work *w, mg_req *r, void *arg)
{
    draw_job *d = arg;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], in[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/mgd-graph-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    mg_err e; /* a full disk is 507, as everywhere (mg_http_status_of_err) */
    if (!mkdtemp(dir)) {
        mg_err_set(&e, mg_err_code_of_errno(errno), "cannot make a temporary directory: %s",
                   strerror(errno));
        mg_reply_err(r, &e);
        return;
    }
    snprintf(in, sizeof in, "%s/graph.dot", dir);
    snprintf(out, sizeof out, "%s/graph.svg", dir);
    if (write_all(in, d->dot, d->len) != 0) {
        mg_err_set(&e, mg_err_code_of_errno(errno), "cannot write %s: %s", in, strerror(errno));
        mg_reply_err(r, &e);
    } else {
        const char *cmd[] = {dot_path, "-Tsvg", "-o", out, in, NULL};
        /* the graph is the user's: dot's memory and what it writes are
         * bounded as a build action's are (twice the largest drawing kept,
         * so an oversized one is still told apart below) */
        mg_build_limits l = {.memory = MG_LIMIT_DEFAULT_MEMORY,
                             .file_size = 2ull * MG_GRAPHVIZ_MAX_SVG};
        mg_sandbox_spec limited = {.limits = &l};
        char **argv = mg_sandbox_argv(&limited, cmd);
        mg_exec_spec spec = {.argv = (const char *const *)argv,
                             .timeout_ms = (uint64_t)d->timeout_s * 1000u,
                             .output_cap = 4096};
        mg_exec_result res;
        mg_work_exec(w, &spec, &res);
        char *svg = NULL;
        size_t len = 0;
        struct stat st;
        if (res.cancelled)
            mg_reply_error(r, 503, "the daemon is stopping");
        else if (res.spawn_error)
            mg_reply_error(r, 500, "cannot run %s: %s", dot_path, strerror(res.spawn_error));
        else if (res.timed_out)
            mg_reply_error(r, 503,
                           "Graphviz did not draw the graph within the time limit of %u s "
                           "(--graph-timeout); format=dot gives the graph to draw elsewhere",
                           d->timeout_s);
        else if (mg_limit_hit(&res) != MG_LIMIT_NONE) {
            char what[128];
            mg_limit_describe(&l, mg_limit_hit(&res), what, sizeof what);
            mg_reply_error(r, 503,
                           "Graphviz ran into its %s; format=dot gives the graph to draw "
                           "elsewhere",
                           what);
        } else if (res.exit_status != 0 || res.term_signal)
            mg_reply_error(r, 500, "dot failed (exit %d): %.300s", res.exit_status,
                           res.output ? res.output : "");
        else if (stat(out, &st) == 0 && (uint64_t)st.st_size > MG_GRAPHVIZ_MAX_SVG)
            mg_reply_error(r, 503,
                           "the drawing is %llu MiB, over the limit of %u MiB; format=dot gives "
                           "the graph to draw elsewhere",
                           (unsigned long long)st.st_size >> 20, MG_GRAPHVIZ_MAX_SVG >> 20);
        else if (!(svg = read_all(out, MG_GRAPHVIZ_MAX_SVG, &len)))
            mg_reply_error(r, 500, "dot wrote no readable SVG");
        if (svg) {
            cache_put(d->key, svg, len);
            reply_svg(r, svg, len, false);
            free(svg);
        }
        mg_exec_result_free(&res);
        mg_sandbox_argv_free(argv);
    }
    unlink(in);
    unlink(out);
    rmdir(dir);
}

void mg_graphviz_reply(mg_req *r, char *dot, size_t dot_len)
{
    draw_job *d = calloc(1, sizeof *d);
    if (!d) {
        free(dot);
        mg_reply_error(r, 500, "out of memory");
        return;
    }
    d->dot = dot;
    d->len = dot_len;
    d->timeout_s = r->api->o.graph_timeout_s ? r->api->o.graph_timeout_s : MG_GRAPHVIZ_TIMEOUT_S;
    if (!mg_graphviz_available()) {
        mg_reply_error(r, 500, "Graphviz is not installed (the Debian package graphviz)");
    } else {
        dot_key(dot, dot_len, d->key);
        size_t len = 0;
        char *svg = cache_get(d->key, &len);
        if (svg) {
            reply_svg(r, svg, len, true);
            free(svg);
        } else if (mg_req_defer(r, draw, draw_job_free, d)) {
            return; /* d is the worker's */
        } else {
            /* a place in the queue frees when a drawing ends, within the limit */
            mg_reply_header(r, "Retry-After", "%u", d->timeout_s);
            mg_reply_error(r, 503,
                           "%d graphs are being drawn and %d more wait already; try again in "
                           "%u s",
                           MG_WORKPOOL_THREADS, MG_WORKPOOL_WAITING, d->timeout_s);
        }
    }
    draw_job_free(d);
}
