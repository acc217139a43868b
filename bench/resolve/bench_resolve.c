/*
 * bench-resolve - how long mgd takes to resolve a large config document.
 *
 * The daemon resolves a document whenever a config is pushed, checked or
 * built, and `mgd describe` does it once per call, so resolution has to
 * stay quick even for the biggest document the limits allow. This program
 * builds such a document in memory (gendoc.h: exactly the default device
 * limit of 1000 devices, a 40-level if/match tree, hundreds of jobs) and
 * times, in one run, on the same bytes:
 *
 *   parse     cJSON_ParseWithLength + cJSON_Delete: the floor (see below);
 *   check     mg_config_check, stage 1 alone (what the daemon runs before
 *             storing a config version);
 *   resolve   mg_resolve for target unix, both stages, and mg_graph_free;
 *   describe  mg_resolve + mg_describe_json (what `mgd describe` does,
 *             minus reading the file and writing the text).
 *
 * Why the floor is cJSON: every stage starts from the parsed tree, and the
 * resolver parses with cJSON (after its own one-pass check of UTF-8 and
 * nesting). Parsing and freeing the tree is therefore work no resolution
 * of this document can avoid; the "x floor" column says how much the
 * resolver costs on top of merely reading the JSON.
 *
 * Each figure is the median (and minimum) of RUNS timed runs after WARMUPS
 * untimed ones, with CLOCK_MONOTONIC; the measures take turns run by run. Everything allocated in a
 * run is freed in that run, so the allocator's work is counted too. The built-in catalog is loaded
 * once, outside the timings, as the daemon does at start.
 *
 * The goal is a full resolve under 50 ms. Exit status: 0 when every run
 * resolved without errors (goal met or not, since timings depend on the
 * machine), 1 when the document does not resolve or does not have exactly
 * the intended device count, 2 for a usage error.
 *
 * Usage: bench-resolve [RUNS]
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gendoc.h"
#include "targets/builtin_catalog.h"
#include "graph/describe.h"
#include "graph/resolve.h"

enum { DEFAULT_RUNS = 50, WARMUPS = 3, TREE_DEPTH = 40, MAX_RUNS = 100000 };
#define GOAL_MS 50.0

typedef struct bench_input {
    const mg_catalog *cat;
    const bench_doc *doc;
    mg_resolve_options opts;
} bench_input;

/* One run of a measure; false when the run did not do its job. */
typedef bool (*bench_fn)(const bench_input *in);

typedef struct measure {
    const char *label;
    bench_fn fn;
    double median_ms, min_ms;
} measure;

static bool run_parse(const bench_input *in)
{
    cJSON *json = cJSON_ParseWithLength(in->doc->text, in->doc->len);
    bool ok = json != NULL;
    cJSON_Delete(json);
    return ok;
}

static bool run_check(const bench_input *in)
{
    mg_errors errs = {0};
    bool ok = mg_config_check(in->cat, in->doc->text, in->doc->len, &in->opts.limits, &errs);
    ok = ok && errs.len == 0;
    mg_errors_free(&errs);
    return ok;
}

static bool run_resolve(const bench_input *in)
{
    mg_errors errs = {0};
    mg_graph *g = mg_resolve(in->cat, in->doc->text, in->doc->len, &in->opts, &errs);
    bool ok = g && errs.len == 0;
    mg_graph_free(g);
    mg_errors_free(&errs);
    return ok;
}

static bool run_describe(const bench_input *in)
{
    mg_errors errs = {0};
    mg_graph *g = mg_resolve(in->cat, in->doc->text, in->doc->len, &in->opts, &errs);
    bool ok = g && errs.len == 0;
    if (g) {
        char *text = mg_describe_json(g);
        ok = ok && text && text[0] == '{';
        free(text);
    }
    mg_graph_free(g);
    mg_errors_free(&errs);
    return ok;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(measure *m, double *t, int runs)
{
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    m->min_ms = t[0];
    m->median_ms = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
}

/*
 * Times every measure and fills its figures; false (after saying which)
 * if a run failed. The measures take turns, one run of each per round,
 * so that whatever the machine does meanwhile (frequency changes, other
 * processes, the allocator's state) falls on all of them alike and their
 * ratios stay meaningful.
 */
static bool run_measures(measure *m, size_t n_m, const bench_input *in, int runs)
{
    double *t = malloc(n_m * (size_t)runs * sizeof *t); /* t[i * runs + round] */
    if (!t) abort();
    bool ok = true;
    for (int round = -WARMUPS; round < runs && ok; round++) {
        for (size_t i = 0; i < n_m && ok; i++) {
            double start = now_ms();
            ok = m[i].fn(in);
            double elapsed = now_ms() - start;
            if (!ok) fprintf(stderr, "bench-resolve: a run of \"%s\" failed\n", m[i].label);
            if (round >= 0) t[i * (size_t)runs + (size_t)round] = elapsed;
        }
    }
    if (ok)
        for (size_t i = 0; i < n_m; i++) summarize(&m[i], t + i * (size_t)runs, runs);
    free(t);
    return ok;
}

static void print_errors(const char *what, const mg_errors *errs)
{
    char *text = mg_errors_text(errs);
    fprintf(stderr, "bench-resolve: %s failed with %zu error(s):\n%s", what, errs->len,
            text ? text : "");
    free(text);
}

/*
 * Checks that the document holds exactly `limit` devices by the resolver's
 * own count: it passes with the limit and fails with a `limit` error one
 * below it. A mismatch means gendoc.c and the resolver disagree on what a
 * device is, and the figures would not be for a document at the limit.
 */
static bool at_device_limit(const bench_input *in, size_t limit)
{
    mg_limits lim = in->opts.limits;
    mg_errors errs = {0};
    lim.max_devices = limit;
    bool ok = mg_config_check(in->cat, in->doc->text, in->doc->len, &lim, &errs);
    if (!ok) {
        print_errors("checking the generated document", &errs);
        mg_errors_free(&errs);
        return false;
    }
    lim.max_devices = limit - 1;
    bool below = mg_config_check(in->cat, in->doc->text, in->doc->len, &lim, &errs);
    size_t limit_errors = mg_errors_count(&errs, MG_ERR_LIMIT);
    mg_errors_free(&errs);
    if (below || limit_errors == 0) {
        fprintf(stderr,
                "bench-resolve: the generated document is not at the device limit: it passes "
                "with max_devices = %zu, so the resolver counts fewer than %zu devices in it "
                "(gendoc.c counted %zu)\n",
                limit - 1, limit, in->doc->devices);
        return false;
    }
    return true;
}

static int parse_runs(int argc, char **argv)
{
    if (argc == 1) return DEFAULT_RUNS;
    if (argc == 2) {
        char *end;
        errno = 0;
        long n = strtol(argv[1], &end, 10);
        if (!errno && *end == '\0' && end != argv[1] && n >= 1 && n <= MAX_RUNS) return (int)n;
    }
    fprintf(stderr, "usage: bench-resolve [RUNS]   (RUNS from 1 to %d, default %d)\n", MAX_RUNS,
            DEFAULT_RUNS);
    return -1;
}

/* Everything after loading and generating; returns the exit status. */
static int bench(const bench_input *in, int runs)
{
    const bench_doc *doc = in->doc;
    mg_errors errs = {0};

    /* One resolve outside the timings: it must succeed, and gives the figures. */
    mg_graph *g = mg_resolve(in->cat, doc->text, doc->len, &in->opts, &errs);
    if (!g || errs.len) {
        print_errors("resolving the generated document", &errs);
        mg_graph_free(g);
        mg_errors_free(&errs);
        return 1;
    }
    size_t n_nodes = g->n_nodes, n_jobs = g->n_jobs;
    char *described = mg_describe_json(g);
    size_t described_len = described ? strlen(described) : 0;
    free(described);
    mg_graph_free(g);
    if (!at_device_limit(in, MG_LIMITS_DEFAULT_DEVICES)) return 1;

    measure m[] = {
        {"parse (cJSON, the floor)", run_parse, 0, 0},
        {"check (mg_config_check)", run_check, 0, 0},
        {"resolve (mg_resolve)", run_resolve, 0, 0},
        {"resolve + describe JSON", run_describe, 0, 0},
    };
    const size_t n_m = sizeof m / sizeof m[0];
    const measure *floor = &m[0], *resolve = &m[2];
    if (!run_measures(m, n_m, in, runs)) return 1;

    printf("bench-resolve: a generated document, resolved for target unix\n\n");
    printf("  document        %zu bytes, JSON nesting %d (limit %d)\n", doc->len, doc->json_depth,
           MG_LIMITS_DEFAULT_DEPTH);
    printf("  devices         %zu (limit %d): %zu named, %zu constructor calls, %zu user code\n",
           doc->devices, MG_LIMITS_DEFAULT_DEVICES, doc->named, doc->calls, doc->user_code);
    printf("  if/match tree   %zu levels over %zu configure keys\n", doc->tree_depth, doc->keys);
    printf("  jobs            %zu in the document, %zu resolved\n", doc->jobs, n_jobs);
    printf("  nodes resolved  %zu\n", n_nodes);
    printf("  describe JSON   %zu bytes\n", described_len);
    printf("  runs            %d of each, interleaved, after %d warm-ups\n\n", runs, WARMUPS);

    printf("  %-28s %10s %10s %9s\n", "measure", "median ms", "min ms", "x floor");
    for (size_t i = 0; i < n_m; i++)
        printf("  %-28s %10.3f %10.3f %9.1f\n", m[i].label, m[i].median_ms, m[i].min_ms,
               floor->median_ms > 0 ? m[i].median_ms / floor->median_ms : 0.0);

    printf("\ngoal: resolve < %.0f ms: %s (median %.3f ms)\n", GOAL_MS,
           resolve->median_ms < GOAL_MS ? "met" : "NOT met", resolve->median_ms);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = parse_runs(argc, argv);
    if (runs < 0) return 2;

    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    if (!cat) {
        print_errors("loading the built-in catalog", &errs);
        mg_errors_free(&errs);
        return 1;
    }

    bench_doc doc;
    bench_doc_generate(MG_LIMITS_DEFAULT_DEVICES, TREE_DEPTH, &doc);
    bench_input in = {
        .cat = cat,
        .doc = &doc,
        .opts =
            {
                .target = "unix",
                .arch = "x86_64",
                .limits = {MG_LIMITS_DEFAULT_BYTES, MG_LIMITS_DEFAULT_DEPTH,
                           MG_LIMITS_DEFAULT_DEVICES},
            },
    };
    int status = bench(&in, runs);

    free(doc.text);
    mg_catalog_free(cat);
    return status;
}
