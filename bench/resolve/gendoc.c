/*
 * gendoc.c - builds the benchmark's config document (see gendoc.h).
 *
 * Shape of the document, from the top:
 *
 *  - `keys`: one configure key per level of the if/match tree, cycling
 *    through bool (for `if`), enum (for `match`), enum (for `if` with
 *    `equals`) and int (for `match`). Their defaults never pick a leaf, so
 *    evaluation walks the whole spine of the tree down to its bottom.
 *  - `devices`:
 *      app    user code, console -> block -> job
 *      store  user code, kv_ro -> kv_rw -> time -> job
 *      deep   the if/match tree, of type block; every level has leaves
 *             (inline ramdisk calls and named disks) and one deeper branch
 *      data_K crunch or generic_kv_ro, rw_K kv_rw_mem        (KV groups)
 *      con_N  custom_console, disk_N ramdisk, svc_N = app applied to con_N
 *                                                       (service groups)
 *  - `jobs`: svc_N applied to disk_N for every service group, store applied
 *    to each KV group, app applied to the tree, an inline user code job,
 *    `noop`, and as many jobs with an inline console as it takes to land
 *    on the exact device count.
 *
 * The whole document nests about tree_depth + 6 levels deep, well inside
 * the resolver's JSON limit of 64 (every [ and { counts).
 */
#include "gendoc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"

enum {
    KV_GROUPS = 20,
    SERVICE_COST = 5, /* con_N (entry + call), disk_N (entry + call), svc_N (entry) */
    KV_COST = 4,      /* data_K (entry + call), rw_K (entry + call) */
    RAMDISK_SIZE = 1 << 20,
};

typedef struct gen {
    mg_buf keys, devices, jobs;
    bool first_key, first_device, first_job;
    size_t leaf; /* numbers the tree's inline ramdisks */
    bench_doc *doc;
} gen;

static void sep(mg_buf *b, bool *first)
{
    mg_buf_adds(b, *first ? "\n    " : ",\n    ");
    *first = false;
}

/* Starts `"name": ` in `devices`; the caller writes the expression. */
static void named(gen *g, const char *name)
{
    sep(&g->devices, &g->first_device);
    mg_buf_printf(&g->devices, "\"%s\": ", name);
    g->doc->named++;
}

static void ramdisk_call(gen *g, mg_buf *b, const char *name)
{
    mg_buf_printf(b, "{\"device\": \"ramdisk\", \"args\": {\"name\": \"%s\", \"size\": %d}}", name,
                  RAMDISK_SIZE);
    g->doc->calls++;
}

static void console_call(gen *g, mg_buf *b, const char *name)
{
    mg_buf_printf(b, "{\"device\": \"custom_console\", \"args\": {\"name\": \"%s\"}}", name);
    g->doc->calls++;
}

static void user_code(gen *g, mg_buf *b, const char *symbol, const char *type)
{
    mg_buf_printf(b, "{\"main\": \"%s\", \"type\": \"%s\", \"sources\": [\"u.c\"]}", symbol, type);
    g->doc->user_code++;
}

static void job(gen *g, const char *fmt, const char *a, const char *b)
{
    sep(&g->jobs, &g->first_job);
    mg_buf_printf(&g->jobs, fmt, a, b);
    g->doc->jobs++;
}

static void leaf(gen *g, mg_buf *b)
{
    char name[32];
    snprintf(name, sizeof name, "leaf_%03zu", g->leaf++);
    ramdisk_call(g, b, name);
}

static void declare_key(gen *g, size_t level)
{
    sep(&g->keys, &g->first_key);
    mg_buf_printf(&g->keys, "\"k%02zu\": {\"stage\": \"configure\", ", level);
    switch (level % 4) {
    case 0:
        mg_buf_adds(&g->keys, "\"type\": \"bool\", \"default\": false");
        break;
    case 1:
    case 2:
        mg_buf_adds(&g->keys, "\"type\": \"enum\", \"values\": [\"a\", \"b\", \"c\", \"d\"], "
                              "\"default\": \"d\"");
        break;
    default:
        mg_buf_adds(&g->keys, "\"type\": \"int\", \"default\": 0");
        break;
    }
    mg_buf_printf(&g->keys, ", \"doc\": \"Choice at level %zu of the tree.\"}", level);
    g->doc->keys++;
}

/* One level of the tree and, recursively, everything below it. */
static void tree(gen *g, mg_buf *b, size_t level, size_t depth)
{
    if (level == depth) {
        leaf(g, b);
        return;
    }
    switch (level % 4) {
    case 0: /* if on a bool key */
        mg_buf_printf(b, "{\"if\": \"k%02zu\", \"then\": ", level);
        leaf(g, b);
        mg_buf_adds(b, ", \"else\": ");
        tree(g, b, level + 1, depth);
        mg_buf_adds(b, "}");
        break;
    case 1: /* match on an enum key, not exhaustive */
        mg_buf_printf(b, "{\"match\": \"k%02zu\", \"cases\": {\"a\": ", level);
        leaf(g, b);
        mg_buf_adds(b, ", \"b\": \"disk_000\", \"c\": ");
        leaf(g, b);
        mg_buf_adds(b, "}, \"default\": ");
        tree(g, b, level + 1, depth);
        mg_buf_adds(b, "}");
        break;
    case 2: /* if on an enum key's value */
        mg_buf_printf(b, "{\"if\": {\"key\": \"k%02zu\", \"equals\": \"a\"}, \"then\": ", level);
        leaf(g, b);
        mg_buf_adds(b, ", \"else\": ");
        tree(g, b, level + 1, depth);
        mg_buf_adds(b, "}");
        break;
    default: /* match on an int key */
        mg_buf_printf(b, "{\"match\": \"k%02zu\", \"cases\": {\"1\": ", level);
        leaf(g, b);
        mg_buf_adds(b, ", \"2\": \"disk_001\"}, \"default\": ");
        tree(g, b, level + 1, depth);
        mg_buf_adds(b, "}");
        break;
    }
}

static size_t count(const bench_doc *d)
{
    return d->named + d->calls + d->user_code;
}

/* Deepest [ / { nesting of JSON text (strings skipped). */
static int json_depth(const char *s)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (; *s; s++) {
        if (in_string) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                in_string = false;
        } else if (*s == '"') {
            in_string = true;
        } else if (*s == '{' || *s == '[') {
            if (++depth > max) max = depth;
        } else if (*s == '}' || *s == ']') {
            depth--;
        }
    }
    return max;
}

/* Everything but the service groups and the padding jobs. */
static void fixed_part(gen *g, size_t tree_depth)
{
    for (size_t l = 0; l < tree_depth; l++) declare_key(g, l);

    named(g, "app");
    user_code(g, &g->devices, "app_main", "console -> block -> job");
    named(g, "store");
    user_code(g, &g->devices, "store_main", "kv_ro -> kv_rw -> time -> job");
    named(g, "deep");
    tree(g, &g->devices, 0, tree_depth);

    for (size_t k = 0; k < KV_GROUPS; k++) {
        char data[32], rw[32];
        snprintf(data, sizeof data, "data_%02zu", k);
        snprintf(rw, sizeof rw, "rw_%02zu", k);
        named(g, data);
        mg_buf_printf(&g->devices, "{\"device\": \"%s\", \"args\": {\"dir\": \"data/%02zu\"}}",
                      k % 2 ? "crunch" : "generic_kv_ro", k);
        g->doc->calls++;
        named(g, rw);
        mg_buf_adds(&g->devices, "{\"device\": \"kv_rw_mem\", \"args\": {}}");
        g->doc->calls++;
        job(g, "{\"apply\": \"store\", \"to\": [\"%s\", \"%s\", \"default_time\"]}", data, rw);
    }

    job(g, "{\"apply\": \"app\", \"to\": [\"%s\", \"%s\"]}", "default_console", "deep");
    sep(&g->jobs, &g->first_job);
    mg_buf_adds(&g->jobs, "{\"apply\": ");
    user_code(g, &g->jobs, "solo_main", "console -> job");
    mg_buf_adds(&g->jobs, ", \"to\": [\"con_000\"]}");
    g->doc->jobs++;
    sep(&g->jobs, &g->first_job);
    mg_buf_adds(&g->jobs, "\"noop\"");
    g->doc->jobs++;
}

static void service_group(gen *g, size_t n)
{
    char con[32], disk[32], svc[32];
    snprintf(con, sizeof con, "con_%03zu", n);
    snprintf(disk, sizeof disk, "disk_%03zu", n);
    snprintf(svc, sizeof svc, "svc_%03zu", n);
    named(g, con);
    console_call(g, &g->devices, con);
    named(g, disk);
    ramdisk_call(g, &g->devices, disk);
    named(g, svc);
    mg_buf_printf(&g->devices, "{\"apply\": \"app\", \"to\": [\"%s\"]}", con);
    job(g, "{\"apply\": \"%s\", \"to\": [\"%s\"]}", svc, disk);
}

static void padding_job(gen *g, size_t n)
{
    char con[32];
    snprintf(con, sizeof con, "extra_%03zu", n);
    sep(&g->jobs, &g->first_job);
    mg_buf_adds(&g->jobs, "{\"apply\": \"app\", \"to\": [");
    console_call(g, &g->jobs, con);
    mg_buf_adds(&g->jobs, ", \"disk_000\"]}");
    g->doc->jobs++;
}

static void gen_init(gen *g, bench_doc *doc)
{
    *g = (gen){.first_key = true, .first_device = true, .first_job = true, .doc = doc};
    *doc = (bench_doc){0};
}

static void gen_free(gen *g)
{
    mg_buf_free(&g->keys);
    mg_buf_free(&g->devices);
    mg_buf_free(&g->jobs);
}

size_t bench_doc_min_devices(size_t tree_depth)
{
    bench_doc doc;
    gen g;
    gen_init(&g, &doc);
    fixed_part(&g, tree_depth);
    gen_free(&g);
    /* The tree and the solo job refer to the first two service groups. */
    return count(&doc) + 2 * SERVICE_COST;
}

void bench_doc_generate(size_t devices, size_t tree_depth, bench_doc *out)
{
    gen g;
    gen_init(&g, out);
    fixed_part(&g, tree_depth);
    size_t n = 0;
    while (count(out) + SERVICE_COST <= devices) service_group(&g, n++);
    for (size_t i = 0; count(out) < devices; i++) padding_job(&g, i);

    mg_buf doc = {0};
    mg_buf_adds(&doc, "{\n  \"mgd\": 1,\n  \"name\": \"bench\",\n  \"keys\": {");
    mg_buf_add(&doc, g.keys.data ? g.keys.data : "", g.keys.len);
    mg_buf_adds(&doc, "\n  },\n  \"devices\": {");
    mg_buf_add(&doc, g.devices.data, g.devices.len);
    mg_buf_adds(&doc, "\n  },\n  \"jobs\": [");
    mg_buf_add(&doc, g.jobs.data, g.jobs.len);
    mg_buf_adds(&doc, "\n  ]\n}\n");
    gen_free(&g);

    out->len = doc.len;
    out->text = mg_buf_xtake(&doc);
    out->devices = count(out);
    out->tree_depth = tree_depth;
    out->json_depth = json_depth(out->text);
}
