/*
 * link.c - the fake platform and the lossy in-memory link of the direct
 * stack's host tests (link.h). The loop (runtime/core/loop.c) runs as in
 * an image: mg_platform_yield jumps the clock to the next timer or frame
 * and delivers the frames due, as a network device's watcher would.
 */
#include "link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"

static uint64_t clock_ns = 1000000000ull, prng;
static link_opts opts;
uint64_t link_frames, link_dropped;
void (*link_tap)(const uint8_t *frame, size_t size);

typedef struct frame {
    struct frame *next;
    uint64_t due, seq;
    mg_direct_if *to;
    size_t size;
    uint8_t data[];
} frame;
static frame *queue; /* sorted by (due, seq) */
static uint64_t seq;
static mg_direct_if *ends[2];

uint64_t link_rand(void)
{
    /* splitmix64: small, seedable, good enough for loss and jitter */
    uint64_t z = (prng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t link_now(void)
{
    return clock_ns;
}

void link_reset(uint64_t seed, link_opts o)
{
    prng = seed;
    opts = o;
    link_frames = link_dropped = 0;
}

void link_set_opts(link_opts o)
{
    opts = o;
}

static void enqueue(mg_direct_if *to, const uint8_t *data, size_t size)
{
    frame *f = malloc(sizeof *f + size);
    if (!f) abort();
    f->to = to;
    f->size = size;
    memcpy(f->data, data, size);
    f->due = clock_ns + opts.latency_ns + (opts.jitter_ns ? link_rand() % opts.jitter_ns : 0);
    f->seq = seq++;
    frame **p = &queue;
    while (*p && ((*p)->due < f->due || ((*p)->due == f->due && (*p)->seq < f->seq)))
        p = &(*p)->next;
    f->next = *p;
    *p = f;
}

static int link_output(void *arg, const uint8_t *data, size_t size)
{
    mg_direct_if *from = arg, *to = from == ends[0] ? ends[1] : ends[0];
    link_frames++;
    if (from == ends[0] && link_tap) link_tap(data, size);
    if (link_rand() % 1000 < opts.loss_permille) {
        link_dropped++;
        return MG_OK;
    }
    enqueue(to, data, size);
    if (link_rand() % 1000 < opts.dup_permille) enqueue(to, data, size);
    return MG_OK;
}

void link_pair(mg_direct_if **a, mg_direct_if **b)
{
    if (!ends[0]) {
        static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};
        ends[0] = mg_direct_if_new(mac_a, 1500, link_output, NULL);
        ends[1] = mg_direct_if_new(mac_b, 1500, link_output, NULL);
        if (!ends[0] || !ends[1]) abort();
        ends[0]->output_arg = ends[0];
        ends[1]->output_arg = ends[1];
        if (mg_direct_if_add(ends[0], 0x0a000001, 24, 0) != MG_OK ||
            mg_direct_if_add(ends[1], 0x0a000002, 24, 0) != MG_OK)
            abort();
    }
    *a = ends[0];
    *b = ends[1];
}

/* ---- the platform ---- */

void mg_platform_console_write(const char *buf, size_t size)
{
    fwrite(buf, 1, size, stdout);
    fflush(stdout); /* an abort follows some messages */
}

uint64_t mg_platform_clock_monotonic(void)
{
    return clock_ns;
}

uint64_t mg_platform_clock_wall(void)
{
    return clock_ns;
}

void mg_platform_yield(uint64_t deadline, mg_handle_set *ready)
{
    *ready = 0;
    uint64_t next = queue && queue->due < deadline ? queue->due : deadline;
    if (next != UINT64_MAX && next > clock_ns) clock_ns = next;
    while (queue && queue->due <= clock_ns) {
        frame *f = queue;
        queue = f->next;
        mg_direct_if_input(f->to, f->data, f->size);
        free(f);
    }
}

int mg_platform_entropy(void *buf, size_t size)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < size; i++) p[i] = (uint8_t)link_rand();
    return MG_OK;
}

_Noreturn void mg_platform_exit(int status)
{
    fprintf(stderr, "mg_platform_exit(%d)\n", status);
    abort();
}
