#include "graph/svg.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"

/* Geometry, in pixels. Text is 12 px monospace, about 7.2 px a character:
 * boxes allow 7.5 so labels never touch their border. */
#define MARGIN 20
#define TITLE_H 28
#define BOX_H 40
#define V_GAP 56
#define H_GAP 24
#define PAD 10
#define MIN_BOX_W 90
#define LABEL_MAX 40 /* characters shown in a box before the ellipsis */
#define CHAR_W2 15   /* twice the width of a character */

/* Length of the character at p that XML can carry, or 0 for a byte to
 * replace: invalid UTF-8, controls other than tab and newlines, and the
 * non-characters U+FFFE and U+FFFF (XML 1.0's Char production). */
static size_t xml_char_len(const unsigned char *p, size_t avail)
{
    if (*p < 0x20) return *p == '\t' || *p == '\n' || *p == '\r';
    size_t n = mg_utf8_len(p, avail);
    if (n == 3 && p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) return 0;
    return n;
}

/* Characters as shown: each replaced byte counts as one (U+FFFD). */
static size_t char_count(const char *s)
{
    size_t n = 0, left = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        size_t k = xml_char_len(p, left);
        if (!k) k = 1;
        p += k;
        left -= k;
    }
    return n;
}

/* Appends s escaped for XML text and attribute values alike, at most `max`
 * characters (0: all), the last of them an ellipsis when cut. */
static void put_text(mg_buf *b, const char *s, size_t max)
{
    size_t total = char_count(s), shown = 0, left = strlen(s);
    bool cut = max && total > max;
    for (const unsigned char *p = (const unsigned char *)s; *p; shown++) {
        if (cut && shown == max - 1) {
            mg_buf_adds(b, "\xe2\x80\xa6"); /* U+2026 HORIZONTAL ELLIPSIS */
            return;
        }
        size_t k = xml_char_len(p, left);
        switch (k ? *p : 0) {
        case 0:
            mg_buf_adds(b, "\xef\xbf\xbd"); /* U+FFFD REPLACEMENT CHARACTER */
            k = 1;
            break;
        case '<':
            mg_buf_adds(b, "&lt;");
            break;
        case '>':
            mg_buf_adds(b, "&gt;");
            break;
        case '&':
            mg_buf_adds(b, "&amp;");
            break;
        case '"':
            mg_buf_adds(b, "&quot;");
            break;
        case '\'':
            mg_buf_adds(b, "&apos;");
            break;
        case '\t':
        case '\n':
        case '\r': /* kept as references: attribute values would turn them into spaces */
            mg_buf_printf(b, "&#%d;", *p);
            break;
        default:
            mg_buf_add(b, (const char *)p, k);
        }
        p += k;
        left -= k;
    }
}

/* "impl : type", or "main (symbol) : type" for user code; malloc'd. */
static char *node_label(const mg_graph_node *n)
{
    const char *impl = n->impl ? n->impl : "?", *type = n->type ? n->type : "?";
    const char *sym = n->code && n->code->symbol ? n->code->symbol : NULL;
    size_t size = strlen(impl) + strlen(type) + (sym ? strlen(sym) : 0) + 16;
    char *s = malloc(size);
    if (!s) return NULL;
    if (sym)
        snprintf(s, size, "%s (%s) : %s", impl, sym, type);
    else
        snprintf(s, size, "%s : %s", impl, type);
    return s;
}

typedef struct node_key {
    size_t index;
    int64_t sum; /* sum of the x centres of the nodes it is placed by */
    int64_t n;   /* how many were counted */
    int64_t x;   /* where it is now: ties keep the current order */
} node_key;

/* By the mean x (sum/n compared as fractions), then by the current
 * position, then by initialisation order: a total order, so the layout is
 * deterministic. */
static int cmp_node_key(const void *pa, const void *pb)
{
    const node_key *a = pa, *b = pb;
    if (a->n && b->n) {
        int64_t l = a->sum * b->n, r = b->sum * a->n;
        if (l != r) return l < r ? -1 : 1;
    } else if (a->n != b->n) {
        return a->n ? 1 : -1; /* no placed dep: first */
    }
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

typedef struct layout {
    size_t *layer;            /* per node */
    int64_t *x, *w;           /* per node: left edge and width of its box */
    size_t *order;            /* nodes by layer, then left to right */
    size_t *start;            /* n_layers + 1 offsets into order */
    bool *job;                /* per node */
    node_key *keys;           /* scratch */
    int64_t *acc_sum, *acc_n; /* per node: x centres of its dependents (sweep_down) */
    int64_t max_w;            /* the widest layer */
    size_t n_layers;
    int64_t width, height;
} layout;

static void layout_free(layout *l)
{
    free(l->layer);
    free(l->x);
    free(l->w);
    free(l->order);
    free(l->start);
    free(l->job);
    free(l->keys);
    free(l->acc_sum);
    free(l->acc_n);
}

static int64_t layer_top(const layout *l, size_t layer)
{
    return MARGIN + TITLE_H + (int64_t)(l->n_layers - 1 - layer) * (BOX_H + V_GAP);
}

/* Left-to-right x positions of layer L from its order, centred. */
static void place_layer(layout *l, size_t L)
{
    size_t a = l->start[L], z = l->start[L + 1];
    int64_t lw = 0;
    for (size_t k = a; k < z; k++) lw += l->w[l->order[k]] + (k > a ? H_GAP : 0);
    int64_t cursor = MARGIN + (l->max_w - lw) / 2;
    for (size_t k = a; k < z; k++) {
        l->x[l->order[k]] = cursor;
        cursor += l->w[l->order[k]] + H_GAP;
    }
}

/* Orders layer L by l->keys (filled for order[start[L]..]) and places it. */
static void sort_layer(layout *l, size_t L)
{
    size_t a = l->start[L], z = l->start[L + 1];
    qsort(l->keys, z - a, sizeof *l->keys, cmp_node_key);
    for (size_t k = a; k < z; k++) l->order[k] = l->keys[k - a].index;
    place_layer(l, L);
}

static int64_t centre(const layout *l, size_t i)
{
    return l->x[i] + l->w[i] / 2;
}

/* Bottom-up: each layer by the mean x of its nodes' deps. */
static void sweep_up(const mg_graph *g, layout *l)
{
    for (size_t L = 1; L < l->n_layers; L++) {
        for (size_t k = l->start[L]; k < l->start[L + 1]; k++) {
            size_t i = l->order[k];
            node_key *key = &l->keys[k - l->start[L]];
            *key = (node_key){.index = i, .x = l->x[i]};
            for (size_t d = 0; d < g->nodes[i].n_deps; d++) {
                size_t dep = g->nodes[i].deps[d];
                if (dep >= g->n_nodes || l->layer[dep] >= L) continue;
                key->sum += centre(l, dep);
                key->n++;
            }
        }
        sort_layer(l, L);
    }
}

/* Top-down: each layer by the mean x of the nodes that depend on it (all
 * in higher layers, so already final when the layer is reached); a node
 * nothing depends on keeps its place. O(nodes + edges) besides sorting. */
static void sweep_down(const mg_graph *g, layout *l)
{
    memset(l->acc_sum, 0, g->n_nodes * sizeof *l->acc_sum);
    memset(l->acc_n, 0, g->n_nodes * sizeof *l->acc_n);
    for (size_t L = l->n_layers; L-- > 0;) {
        size_t a = l->start[L], z = l->start[L + 1];
        if (L + 1 < l->n_layers) {
            for (size_t k = a; k < z; k++) {
                size_t i = l->order[k];
                l->keys[k - a] = l->acc_n[i] ? (node_key){i, l->acc_sum[i], l->acc_n[i], l->x[i]}
                                             : (node_key){i, centre(l, i), 1, l->x[i]};
            }
            sort_layer(l, L);
        }
        for (size_t k = a; k < z; k++) {
            size_t i = l->order[k];
            for (size_t d = 0; d < g->nodes[i].n_deps; d++) {
                size_t dep = g->nodes[i].deps[d];
                if (dep >= g->n_nodes || l->layer[dep] >= L) continue;
                l->acc_sum[dep] += centre(l, i);
                l->acc_n[dep]++;
            }
        }
    }
}

static bool do_layout(const mg_graph *g, layout *l, int64_t title_w)
{
    size_t n = g->n_nodes, alloc = n ? n : 1;
    l->layer = calloc(alloc, sizeof *l->layer);
    l->x = calloc(alloc, sizeof *l->x);
    l->w = calloc(alloc, sizeof *l->w);
    l->order = calloc(alloc, sizeof *l->order);
    l->start = calloc(alloc + 1, sizeof *l->start);
    l->job = calloc(alloc, sizeof *l->job);
    l->keys = calloc(alloc, sizeof *l->keys);
    l->acc_sum = calloc(alloc, sizeof *l->acc_sum);
    l->acc_n = calloc(alloc, sizeof *l->acc_n);
    if (!l->layer || !l->x || !l->w || !l->order || !l->start || !l->job || !l->keys ||
        !l->acc_sum || !l->acc_n)
        return false;

    /* Layers: deps come first in a graph, so one pass suffices. A dep
     * that does not (only a hand-made graph) is drawn but not layered. */
    for (size_t i = 0; i < n; i++) {
        const mg_graph_node *nd = &g->nodes[i];
        for (size_t d = 0; d < nd->n_deps; d++)
            if (nd->deps[d] < i && l->layer[nd->deps[d]] + 1 > l->layer[i])
                l->layer[i] = l->layer[nd->deps[d]] + 1;
        if (l->layer[i] + 1 > l->n_layers) l->n_layers = l->layer[i] + 1;
        size_t chars = char_count(nd->id ? nd->id : "?");
        char *label = node_label(nd);
        if (!label) return false;
        size_t c2 = char_count(label);
        free(label);
        if (c2 > chars) chars = c2;
        if (chars > LABEL_MAX) chars = LABEL_MAX;
        l->w[i] = (int64_t)chars * CHAR_W2 / 2 + 2 * PAD;
        if (l->w[i] < MIN_BOX_W) l->w[i] = MIN_BOX_W;
    }
    for (size_t j = 0; j < g->n_jobs; j++)
        if (g->jobs[j] < n) l->job[g->jobs[j]] = true;

    /* Bucket by layer (counting sort, stable: initialisation order). */
    for (size_t i = 0; i < n; i++) l->start[l->layer[i] + 1]++;
    for (size_t L = 0; L < l->n_layers; L++) l->start[L + 1] += l->start[L];
    size_t *fill = calloc(l->n_layers ? l->n_layers : 1, sizeof *fill);
    if (!fill) return false;
    for (size_t i = 0; i < n; i++) l->order[l->start[l->layer[i]] + fill[l->layer[i]]++] = i;
    free(fill);

    /* A layer's width does not depend on its order: centre each layer. */
    int64_t max_w = 0;
    for (size_t L = 0; L < l->n_layers; L++) {
        int64_t lw = 0;
        for (size_t k = l->start[L]; k < l->start[L + 1]; k++)
            lw += l->w[l->order[k]] + (k > l->start[L] ? H_GAP : 0);
        if (lw > max_w) max_w = lw;
    }
    if (title_w > max_w) max_w = title_w;
    l->max_w = max_w;

    /* Order within layers: up (by deps), down (by dependents), up again;
     * the usual barycentre sweeps, enough to untangle what configs make. */
    for (size_t L = 0; L < l->n_layers; L++) place_layer(l, L);
    sweep_up(g, l);
    sweep_down(g, l);
    sweep_up(g, l);
    l->width = max_w + 2 * MARGIN;
    l->height = 2 * MARGIN + TITLE_H;
    if (l->n_layers) l->height += (int64_t)l->n_layers * BOX_H + (int64_t)(l->n_layers - 1) * V_GAP;
    return true;
}

static void put_edges(mg_buf *b, const mg_graph *g, const layout *l)
{
    mg_buf_adds(b, "<g class=\"edges\" fill=\"none\" stroke=\"#6b7280\" stroke-width=\"1.25\" "
                   "marker-end=\"url(#arrow)\">\n");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const mg_graph_node *nd = &g->nodes[i];
        for (size_t d = 0; d < nd->n_deps; d++) {
            size_t dep = nd->deps[d];
            if (dep >= g->n_nodes) continue;
            /* Leave from spread points along the bottom so several
             * arrows from one box stay apart; arrive at the dep's top. */
            int64_t x1 = l->x[i] + (int64_t)(d + 1) * l->w[i] / (int64_t)(nd->n_deps + 1);
            int64_t y1 = layer_top(l, l->layer[i]) + BOX_H;
            int64_t x2 = l->x[dep] + l->w[dep] / 2, y2 = layer_top(l, l->layer[dep]);
            mg_buf_printf(b, "<path class=\"edge\" d=\"M%lld %lld L%lld %lld\"><title>",
                          (long long)x1, (long long)y1, (long long)x2, (long long)y2);
            put_text(b, nd->id ? nd->id : "?", 0);
            mg_buf_adds(b, " -&gt; ");
            put_text(b, g->nodes[dep].id ? g->nodes[dep].id : "?", 0);
            mg_buf_adds(b, "</title></path>\n");
        }
    }
    mg_buf_adds(b, "</g>\n");
}

static void put_node(mg_buf *b, const mg_graph *g, const layout *l, size_t i)
{
    const mg_graph_node *nd = &g->nodes[i];
    const char *id = nd->id ? nd->id : "?";
    int64_t x = l->x[i], y = layer_top(l, l->layer[i]), cx = x + l->w[i] / 2;
    char *label = node_label(nd);
    if (!label) {
        b->failed = true;
        return;
    }
    mg_buf_printf(b, "<g class=\"node%s\" id=\"n%zu\"><title>", l->job[i] ? " job" : "", i);
    /* the tooltip says everything the box may have cut */
    put_text(b, id, 0);
    mg_buf_adds(b, l->job[i] ? " (job)&#10;impl: " : "&#10;impl: ");
    put_text(b, nd->impl ? nd->impl : "?", 0);
    if (nd->code && nd->code->symbol) {
        mg_buf_adds(b, "&#10;symbol: ");
        put_text(b, nd->code->symbol, 0);
    }
    mg_buf_adds(b, "&#10;type: ");
    put_text(b, nd->type ? nd->type : "?", 0);
    if (nd->from) {
        mg_buf_adds(b, "&#10;from: ");
        put_text(b, nd->from, 0);
    }
    mg_buf_printf(b,
                  "</title><rect x=\"%lld\" y=\"%lld\" width=\"%lld\" height=\"%d\" rx=\"5\" %s/>",
                  (long long)x, (long long)y, (long long)l->w[i], BOX_H,
                  l->job[i] ? "fill=\"#fde8cc\" stroke=\"#c2410c\" stroke-width=\"2.5\""
                            : "fill=\"#eef2fb\" stroke=\"#3b5b92\" stroke-width=\"1\"");
    mg_buf_printf(b, "<text x=\"%lld\" y=\"%lld\" font-weight=\"bold\">", (long long)cx,
                  (long long)y + 16);
    put_text(b, id, LABEL_MAX);
    mg_buf_printf(b, "</text><text x=\"%lld\" y=\"%lld\" fill=\"#374151\">", (long long)cx,
                  (long long)y + 32);
    put_text(b, label, LABEL_MAX);
    mg_buf_adds(b, "</text></g>\n");
    free(label);
}

char *mg_describe_svg(const mg_graph *g)
{
    const char *name = g->name ? g->name : "?", *target = g->target ? g->target : "?",
               *arch = g->arch ? g->arch : "?";
    /* heading: name (target/arch), n devices, n jobs */
    size_t title_chars = char_count(name) + char_count(target) + char_count(arch) + 48;
    layout l = {0};
    mg_buf b = {0};
    if (!do_layout(g, &l, (int64_t)title_chars * 8)) {
        layout_free(&l);
        return NULL;
    }
    mg_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    mg_buf_printf(&b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%lld\" "
                  "height=\"%lld\" viewBox=\"0 0 %lld %lld\" font-family=\"monospace\" "
                  "font-size=\"12\" text-anchor=\"middle\">\n",
                  (long long)l.width, (long long)l.height, (long long)l.width, (long long)l.height);
    mg_buf_adds(&b, "<title>");
    put_text(&b, name, 0);
    mg_buf_adds(&b, " (");
    put_text(&b, target, 0);
    mg_buf_adds(&b, "/");
    put_text(&b, arch, 0);
    mg_buf_adds(&b, ")</title>\n");
    mg_buf_adds(&b, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
                    "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
                    "<path d=\"M0 0 L10 5 L0 10 z\" fill=\"#6b7280\" stroke=\"none\"/>"
                    "</marker></defs>\n");
    mg_buf_printf(&b, "<rect width=\"%lld\" height=\"%lld\" fill=\"#ffffff\"/>\n",
                  (long long)l.width, (long long)l.height);
    mg_buf_printf(&b,
                  "<text x=\"%d\" y=\"%d\" text-anchor=\"start\" font-size=\"14\" "
                  "font-weight=\"bold\">",
                  MARGIN, MARGIN + 10);
    put_text(&b, name, 0);
    mg_buf_adds(&b, " (");
    put_text(&b, target, 0);
    mg_buf_adds(&b, "/");
    put_text(&b, arch, 0);
    mg_buf_printf(&b, "): %zu device%s, %zu job%s</text>\n", g->n_nodes, g->n_nodes == 1 ? "" : "s",
                  g->n_jobs, g->n_jobs == 1 ? "" : "s");
    /* edges first, so boxes are drawn over the lines that pass behind them */
    put_edges(&b, g, &l);
    mg_buf_adds(&b, "<g class=\"nodes\">\n");
    for (size_t i = 0; i < g->n_nodes; i++) put_node(&b, g, &l, i);
    mg_buf_adds(&b, "</g>\n</svg>\n");
    layout_free(&l);
    /* NULL when memory ran out: a daemon thread must survive a huge graph */
    return mg_buf_take(&b, NULL);
}
