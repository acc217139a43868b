/*
 * graphviz.c - device graphs drawn as SVG by Graphviz's `dot`.
 *
 * The graph's DOT text (graph/describe.c: nodes labelled with the device id
 * and its implementation, an edge per dependency) goes to a temporary file
 * and `dot -Tsvg -o OUT IN` draws it: a child process through the
 * toolchain's executor (an argv, never a shell; its own process group; a
 * time limit), so a slow or crashing layout never takes the daemon with
 * it. At most MG_GRAPHVIZ_MAX_RUNNING drawings run at once, and never on
 * every HTTP thread (a drawing holds its thread until dot ends, up to the
 * time limit): one thread at least stays free for every other request.
 * More answer 503 with Retry-After rather than fill the machine with
 * processes or stall the API.
 *
 * A drawing takes `dot` 30 to 100 ms (it loads its plugins and fonts each
 * time), and the dashboard asks for the same few graphs again and again,
 * so the last drawings are kept in memory by the sha256 of their DOT text
 * (MG_GRAPHVIZ_CACHE_ENTRIES of them, MG_GRAPHVIZ_CACHE_BYTES at most;
 * the least recently used goes first): the same graph is then answered in
 * a millisecond or two.
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
#include "toolchain/exec.h"
#include "toolchain/sha256.h"
#include "toolchain/target.h"

#define MG_GRAPHVIZ_MAX_RUNNING 4
#define MG_GRAPHVIZ_TIMEOUT_MS 20000
#define MG_GRAPHVIZ_MAX_SVG (16u << 20)
#define MG_GRAPHVIZ_CACHE_ENTRIES 32
#define MG_GRAPHVIZ_CACHE_BYTES (8u << 20)

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
    if (len > MG_GRAPHVIZ_CACHE_BYTES / 4) return; /* a giant would push out the rest */
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

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned running;

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

int mg_graphviz_svg(const char *dot, size_t dot_len, unsigned threads, char **svg, size_t *svg_len,
                    char *err, size_t errsize)
{
    *svg = NULL;
    if (!mg_graphviz_available()) {
        snprintf(err, errsize, "Graphviz is not installed (the Debian package graphviz)");
        return -1;
    }
    unsigned char key[MG_SHA256_SIZE];
    dot_key(dot, dot_len, key);
    if ((*svg = cache_get(key, svg_len))) return 0;
    unsigned max = threads > 1 ? threads - 1 : 1;
    if (max > MG_GRAPHVIZ_MAX_RUNNING) max = MG_GRAPHVIZ_MAX_RUNNING;
    pthread_mutex_lock(&running_lock);
    bool busy = running >= max;
    if (!busy) running++;
    pthread_mutex_unlock(&running_lock);
    if (busy) {
        snprintf(err, errsize, "%u graphs are being drawn already; try again in a moment", max);
        return 1;
    }
    int rc = -1;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], in[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/mgd-graph-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(err, errsize, "cannot make a temporary directory: %s", strerror(errno));
        goto done;
    }
    snprintf(in, sizeof in, "%s/graph.dot", dir);
    snprintf(out, sizeof out, "%s/graph.svg", dir);
    if (write_all(in, dot, dot_len) != 0) {
        snprintf(err, errsize, "cannot write %s: %s", in, strerror(errno));
    } else {
        const char *argv[] = {dot_path, "-Tsvg", "-o", out, in, NULL};
        mg_exec_spec spec = {
            .argv = argv, .timeout_ms = MG_GRAPHVIZ_TIMEOUT_MS, .output_cap = 4096};
        mg_exec_result res;
        mg_exec_run(&spec, &res);
        if (res.spawn_error)
            snprintf(err, errsize, "cannot run %s: %s", dot_path, strerror(res.spawn_error));
        else if (res.timed_out)
            snprintf(err, errsize, "dot did not draw the graph within %d s",
                     MG_GRAPHVIZ_TIMEOUT_MS / 1000);
        else if (res.exit_status != 0)
            snprintf(err, errsize, "dot failed (exit %d): %.300s", res.exit_status,
                     res.output ? res.output : "");
        else if (!(*svg = read_all(out, MG_GRAPHVIZ_MAX_SVG, svg_len)))
            snprintf(err, errsize, "dot wrote no readable SVG");
        else
            rc = 0;
        if (rc == 0) cache_put(key, *svg, *svg_len);
        mg_exec_result_free(&res);
    }
    unlink(in);
    unlink(out);
    rmdir(dir);
done:
    pthread_mutex_lock(&running_lock);
    running--;
    pthread_mutex_unlock(&running_lock);
    return rc;
}
