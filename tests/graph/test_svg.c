/* svg: the SVG drawing of a resolved graph (graph/svg.h). The output is
 * checked with a small strict XML reader written here (well-formedness as
 * XML 1.0 defines it, for what an SVG without a DTD can hold), then for
 * what the picture must show: one box per node, one arrow per dependency,
 * jobs marked, every arrow pointing down to a lower layer, no two boxes
 * overlapping, the same bytes every time. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "fixtures.h"
#include "targets/builtin_catalog.h"
#include "graph/expr.h"
#include "base/buf.h"
#include "graph/svg.h"

FX_SUITE(svg);

/* ------------------------------------------------------------ XML reader */

typedef struct xml_doc {
    size_t elements;
    size_t nodes, jobs, edges; /* <g class="node...">, of which "node job"; <path class="edge"> */
    mg_buf decoded;            /* every text and attribute value, unescaped, one per line */
    char err[256];
} xml_doc;

typedef struct xml_reader {
    const char *s, *p;
    xml_doc *doc;
} xml_reader;

static bool fail(xml_reader *r, const char *what)
{
    snprintf(r->doc->err, sizeof r->doc->err, "%s at byte %zu: %.40s", what, (size_t)(r->p - r->s),
             r->p);
    return false;
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static void skip_ws(xml_reader *r)
{
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static bool read_name(xml_reader *r, char *out, size_t size)
{
    if (!is_name_start(*r->p)) return fail(r, "expected a name");
    size_t n = 0;
    while (is_name_char(*r->p)) {
        if (n + 1 >= size) return fail(r, "name too long");
        out[n++] = *r->p++;
    }
    out[n] = 0;
    return true;
}

/* Whether code point c is an XML 1.0 Char. */
static bool xml_char(unsigned long c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

static void put_code_point(mg_buf *b, unsigned long c)
{
    char u[4];
    if (c < 0x80) {
        u[0] = (char)c;
        mg_buf_add(b, u, 1);
    } else if (c < 0x800) {
        u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3F));
        mg_buf_add(b, u, 2);
    } else if (c < 0x10000) {
        u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F));
        mg_buf_add(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F));
        mg_buf_add(b, u, 4);
    }
}

/* Character data up to `stop` (a quote, or '<' for content), decoded into
 * doc->decoded. */
static bool read_chars(xml_reader *r, char stop)
{
    mg_buf *b = &r->doc->decoded;
    while (*r->p && *r->p != stop) {
        const unsigned char *u = (const unsigned char *)r->p;
        if (*u == '<') return fail(r, "'<' in an attribute value");
        if (*u == '&') {
            static const struct {
                const char *ref, *ch;
            } named[] = {
                {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&apos;", "'"}};
            bool done = false;
            for (size_t i = 0; i < 5 && !done; i++)
                if (!strncmp(r->p, named[i].ref, strlen(named[i].ref))) {
                    mg_buf_adds(b, named[i].ch);
                    r->p += strlen(named[i].ref);
                    done = true;
                }
            if (done) continue;
            if (r->p[1] != '#') return fail(r, "unknown entity");
            char *end;
            bool hex = r->p[2] == 'x';
            unsigned long c = strtoul(r->p + (hex ? 3 : 2), &end, hex ? 16 : 10);
            if (end == r->p + (hex ? 3 : 2) || *end != ';' || !xml_char(c))
                return fail(r, "bad character reference");
            put_code_point(b, c);
            r->p = end + 1;
            continue;
        }
        if (stop == '<' && !strncmp(r->p, "]]>", 3)) return fail(r, "]]> in text");
        size_t n = mg_utf8_len(u, strlen(r->p));
        if (!n) return fail(r, "invalid UTF-8");
        unsigned long c = n == 1   ? u[0]
                          : n == 2 ? (u[0] & 0x1Ful) << 6 | (u[1] & 0x3F)
                          : n == 3 ? (u[0] & 0x0Ful) << 12 | (u[1] & 0x3Ful) << 6 | (u[2] & 0x3F)
                                   : (u[0] & 0x07ul) << 18 | (u[1] & 0x3Ful) << 12 |
                                         (u[2] & 0x3Ful) << 6 | (u[3] & 0x3F);
        if (!xml_char(c)) return fail(r, "a character XML cannot hold");
        mg_buf_add(b, r->p, n);
        r->p += n;
    }
    return true;
}

static bool read_element(xml_reader *r, int depth);

static bool read_content(xml_reader *r, const char *name, int depth)
{
    for (;;) {
        if (!read_chars(r, '<')) return false;
        if (!*r->p) return fail(r, "unclosed element");
        if (!strncmp(r->p, "</", 2)) {
            r->p += 2;
            char close[64];
            if (!read_name(r, close, sizeof close)) return false;
            if (strcmp(close, name)) return fail(r, "mismatched end tag");
            skip_ws(r);
            if (*r->p != '>') return fail(r, "expected '>'");
            r->p++;
            return true;
        }
        if (!strncmp(r->p, "<!--", 4)) {
            const char *end = strstr(r->p + 4, "-->");
            if (!end) return fail(r, "unclosed comment");
            r->p = end + 3;
            continue;
        }
        if (!read_element(r, depth + 1)) return false;
    }
}

static bool read_element(xml_reader *r, int depth)
{
    if (depth > 64) return fail(r, "too deep");
    if (*r->p != '<') return fail(r, "expected '<'");
    r->p++;
    char name[64], attrs[32][64], cls[64] = "";
    size_t n_attrs = 0;
    if (!read_name(r, name, sizeof name)) return false;
    r->doc->elements++;
    for (;;) {
        const char *before = r->p;
        skip_ws(r);
        if (*r->p == '/' || *r->p == '>') break;
        if (r->p == before) return fail(r, "expected space before an attribute");
        if (n_attrs == 32) return fail(r, "too many attributes");
        if (!read_name(r, attrs[n_attrs], sizeof attrs[n_attrs])) return false;
        for (size_t i = 0; i < n_attrs; i++)
            if (!strcmp(attrs[i], attrs[n_attrs])) return fail(r, "repeated attribute");
        skip_ws(r);
        if (*r->p++ != '=') return fail(r, "expected '='");
        skip_ws(r);
        char q = *r->p++;
        if (q != '"' && q != '\'') return fail(r, "unquoted attribute value");
        size_t at = r->doc->decoded.len;
        if (!read_chars(r, q)) return false;
        if (*r->p++ != q) return fail(r, "unterminated attribute value");
        if (!strcmp(attrs[n_attrs], "class"))
            snprintf(cls, sizeof cls, "%s", r->doc->decoded.data + at);
        mg_buf_adds(&r->doc->decoded, "\n");
        n_attrs++;
    }
    if (!strcmp(name, "g") && !strncmp(cls, "node", 4) && (!cls[4] || cls[4] == ' ')) {
        r->doc->nodes++;
        if (!strcmp(cls, "node job")) r->doc->jobs++;
    }
    if (!strcmp(name, "path") && !strcmp(cls, "edge")) r->doc->edges++;
    if (*r->p == '/') {
        if (r->p[1] != '>') return fail(r, "expected '/>'");
        r->p += 2;
        return true;
    }
    r->p++;
    bool ok = read_content(r, name, depth);
    mg_buf_adds(&r->doc->decoded, "\n");
    return ok;
}

/* Reads a whole document; false with doc->err set when not well-formed. */
static bool xml_read(const char *s, xml_doc *doc)
{
    *doc = (xml_doc){0};
    mg_buf_adds(&doc->decoded, "");
    xml_reader r = {s, s, doc};
    if (!strncmp(s, "<?xml ", 6)) {
        const char *end = strstr(s, "?>");
        if (!end) return fail(&r, "unclosed XML declaration");
        r.p = end + 2;
    }
    skip_ws(&r);
    if (!read_element(&r, 0)) return false;
    skip_ws(&r);
    if (*r.p) return fail(&r, "content after the root element");
    return true;
}

/* ------------------------------------------------------ picture checks */

typedef struct box {
    long x, y, w;
} box;

/* The box of node i: the <rect> after id="n<i>". */
static box node_box(const char *svg, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "id=\"n%zu\"", i);
    const char *p = strstr(svg, id);
    cr_assert(p, "no node %s in the SVG", id);
    p = strstr(p, "<rect ");
    box b = {0};
    cr_assert(p && sscanf(p, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\"", &b.x, &b.y, &b.w) == 3,
              "node %zu has no box", i);
    return b;
}

/* Every arrow goes down (to a lower layer) and no two boxes overlap. */
static void check_geometry(const char *svg, const mg_graph *g)
{
    size_t edges = 0;
    for (const char *p = strstr(svg, "<path class=\"edge\" d=\""); p;
         p = strstr(p + 1, "<path class=\"edge\" d=\"")) {
        long x1, y1, x2, y2;
        cr_assert(sscanf(p, "<path class=\"edge\" d=\"M%ld %ld L%ld %ld\"", &x1, &y1, &x2, &y2) ==
                      4,
                  "bad edge: %.80s", p);
        cr_assert(y2 > y1, "an edge points up: %.80s", p);
        edges++;
    }
    size_t want = 0;
    for (size_t i = 0; i < g->n_nodes; i++) want += g->nodes[i].n_deps;
    cr_assert_eq(edges, want);

    box *boxes = fx_keep(calloc(g->n_nodes + 1, sizeof *boxes));
    for (size_t i = 0; i < g->n_nodes; i++) {
        boxes[i] = node_box(svg, i);
        for (size_t d = 0; d < g->nodes[i].n_deps; d++)
            cr_assert(boxes[g->nodes[i].deps[d]].y > boxes[i].y, "%s is not drawn above its dep %s",
                      g->nodes[i].id, g->nodes[g->nodes[i].deps[d]].id);
    }
    /* Boxes of one layer share a y: sort by (y, x) and compare neighbours. */
    size_t *idx = fx_keep(calloc(g->n_nodes + 1, sizeof *idx));
    for (size_t i = 0; i < g->n_nodes; i++) idx[i] = i;
    for (size_t i = 1; i < g->n_nodes; i++) /* insertion sort: fine for tests */
        for (size_t j = i; j > 0; j--) {
            box *a = &boxes[idx[j - 1]], *b = &boxes[idx[j]];
            if (a->y < b->y || (a->y == b->y && a->x <= b->x)) break;
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (size_t i = 1; i < g->n_nodes; i++) {
        box *a = &boxes[idx[i - 1]], *b = &boxes[idx[i]];
        if (a->y == b->y)
            cr_assert(a->x + a->w < b->x, "boxes of %s and %s overlap", g->nodes[idx[i - 1]].id,
                      g->nodes[idx[i]].id);
    }
}

static size_t distinct_jobs(const mg_graph *g)
{
    size_t n = 0;
    for (size_t j = 0; j < g->n_jobs; j++) {
        bool seen = false;
        for (size_t k = 0; k < j; k++) seen |= g->jobs[k] == g->jobs[j];
        n += !seen;
    }
    return n;
}

/* Draws g twice (same bytes), reads the XML, checks counts and geometry.
 * Returns the SVG (owned by the fixtures) and fills *doc. */
static const char *draw_and_check(const mg_graph *g, xml_doc *doc)
{
    char *svg = mg_describe_svg(g);
    cr_assert(svg, "mg_describe_svg returned NULL");
    fx_keep(svg);
    char *again = fx_keep(mg_describe_svg(g));
    cr_assert(again && !strcmp(svg, again), "two drawings of one graph differ");
    size_t len = strlen(svg);
    cr_assert(len && svg[len - 1] == '\n', "the SVG must end in a newline");
    cr_assert(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""),
              "not an SVG 1.1 root");
    bool ok = xml_read(svg, doc);
    fx_keep(doc->decoded.data);
    cr_assert(ok, "not well-formed XML: %s", doc->err);
    cr_assert_eq(doc->nodes, g->n_nodes, "%zu node boxes for %zu nodes", doc->nodes, g->n_nodes);
    cr_assert_eq(doc->jobs, distinct_jobs(g), "%zu job boxes for %zu jobs", doc->jobs,
                 distinct_jobs(g));
    check_geometry(svg, g);
    cr_assert_eq(doc->edges, fx_count_substr(svg, "<path class=\"edge\""));
    return svg;
}

/* ------------------------------------------------------------- examples */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    mg_buf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) mg_buf_add(&b, buf, n);
    fclose(f);
    *len = b.len;
    mg_buf_adds(&b, "");
    return fx_keep(mg_buf_xtake(&b));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(svg, examples_draw_well_formed_complete_and_stable)
{
    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    cr_assert(cat && !errs.len, "built-in catalog: %s", fx_errs_text(&errs));
    DIR *dir = opendir(MGD_SOURCE_DIR "/examples");
    cr_assert(dir, "no examples directory");
    char *names[64];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir)) && n < 64;)
        if (e->d_name[0] != '.') names[n++] = fx_keep(strdup(e->d_name));
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    cr_assert(n >= 3, "expected several examples, found %zu", n);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, MGD_SOURCE_DIR "/examples/%s/config.json", names[i]);
        size_t len;
        char *text = read_file(path, &len);
        mg_resolve_options opts = {.target = "unix"};
        mg_graph *g = mg_resolve(cat, text, len, &opts, &errs);
        cr_assert(g, "%s does not resolve: %s", path, fx_errs_text(&errs));
        cr_assert(g->n_nodes > 0 && g->n_jobs > 0);
        xml_doc doc;
        draw_and_check(g, &doc);
        /* every id and impl is readable in the picture */
        for (size_t k = 0; k < g->n_nodes; k++) {
            cr_assert(strstr(doc.decoded.data, g->nodes[k].id), "%s: no %s", names[i],
                      g->nodes[k].id);
            cr_assert(strstr(doc.decoded.data, g->nodes[k].impl), "%s: no %s", names[i],
                      g->nodes[k].impl);
        }
        cr_assert(strstr(doc.decoded.data, g->name), "%s: the graph's name is missing", names[i]);
        /* a second resolution draws the same bytes */
        char *svg1 = fx_keep(mg_describe_svg(g));
        mg_graph *g2 = mg_resolve(cat, text, len, &opts, &errs);
        cr_assert(g2);
        char *svg2 = fx_keep(mg_describe_svg(g2));
        cr_assert_str_eq(svg1, svg2, "%s: two resolutions draw differently", names[i]);
        mg_graph_free(g);
        mg_graph_free(g2);
    }
    mg_catalog_free(cat);
}

Test(svg, resolved_graph_with_sharing_and_several_jobs)
{
    /* BIG-like document on the test catalog: shared stack, a match, two jobs */
    mg_graph *g = RESOLVE_OK(
        "{'mgd': 1, 'name': 'web',\n"
        " 'devices': {\n"
        "   'stack': {'device': 'generic_stack', 'args': {'network': 'default_network'}},\n"
        "   'web': {'device': 'http_server', 'args': {'stack': 'stack'}},\n"
        "   'data': {'device': 'crunch', 'args': {'dir': 'htdocs'}},\n"
        "   'app': {'main': 'serve', 'type': 'console -> http -> kv_ro -> job'}},\n"
        " 'jobs': [{'apply': 'app', 'to': ['default_console', 'web', 'data']}, 'noop', 'noop']}",
        NULL, NO_KEYS);
    xml_doc doc;
    const char *svg = draw_and_check(g, &doc);
    cr_assert_eq(doc.jobs, 2, "noop listed twice is one job");
    cr_assert(strstr(doc.decoded.data, "main (serve) : job"), "user code shows its symbol");
    cr_assert(strstr(svg, "class=\"node job\""));
}

/* ------------------------------------------------------ hand-made graphs */

typedef struct hand {
    mg_graph g;
    mg_graph_node nodes[8];
    size_t deps[8][4];
    size_t jobs[2];
    mg_user_code code;
} hand;

static void hand_node(hand *h, const char *id, const char *impl, const char *type, const char *from)
{
    size_t i = h->g.n_nodes++;
    h->nodes[i] = (mg_graph_node){.id = id, .impl = impl, .type = type, .from = from};
    h->nodes[i].deps = h->deps[i];
    h->g.nodes = h->nodes;
}

static void hand_dep(hand *h, size_t node, size_t dep)
{
    h->deps[node][h->nodes[node].n_deps++] = dep;
}

Test(svg, hostile_names_are_escaped)
{
    static hand h;
    memset(&h, 0, sizeof h);
    h.g.name = "x\"<svg onload='alert(1)'>&amp;";
    h.g.target = "unix</title>";
    h.g.arch = "]]>";
    hand_node(&h, "<a&b>\"c'", "im<pl", "ty&pe", "/devices/<&>");
    hand_node(&h, "caf\xc3\xa9-\xe2\x9c\x93-\xf0\x9f\x90\xab", "x", "y", NULL);
    hand_node(&h, "bad\xff\xfe utf8 \x01\x7f ctl \xef\xbf\xbe", "main", "job", "\t\r\n");
    h.code = (mg_user_code){.symbol = "sym<&>"};
    h.nodes[2].code = &h.code;
    hand_dep(&h, 2, 0);
    hand_dep(&h, 2, 1);
    hand_dep(&h, 2, 0); /* the same dep twice: two arrows */
    h.jobs[0] = 2;
    h.g.jobs = h.jobs;
    h.g.n_jobs = 1;

    xml_doc doc;
    const char *svg = draw_and_check(&h.g, &doc);
    cr_assert_eq(doc.edges, 3);
    /* nothing raw got through, and the text reads back as written */
    cr_assert_null(strstr(svg, "<a&b>"));
    cr_assert_null(strstr(svg, "<svg onload"));
    cr_assert_null(strstr(svg, "\xff"));
    cr_assert_null(strstr(svg, "\x01"));
    const char *text = doc.decoded.data;
    cr_assert(strstr(text, "<a&b>\"c'"), "id not read back:\n%s", text);
    cr_assert(strstr(text, "x\"<svg onload='alert(1)'>&amp;"), "name not read back");
    cr_assert(strstr(text, "unix</title>/]]>"), "target/arch not read back");
    cr_assert(strstr(text, "im<pl : ty&pe"));
    cr_assert(strstr(text, "sym<&>"));
    cr_assert(strstr(text, "/devices/<&>"));
    cr_assert(strstr(text, "\t\r\n"), "tab and newlines survive as references");
    cr_assert(strstr(text, "bad\xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd\x7f ctl \xef\xbf\xbd"),
              "invalid bytes, controls and U+FFFE become U+FFFD");
    cr_assert(strstr(text, "caf\xc3\xa9-\xe2\x9c\x93-\xf0\x9f\x90\xab"), "UTF-8 kept as is");
}

Test(svg, long_labels_are_cut_in_the_box_and_whole_in_the_tooltip)
{
    static hand h;
    memset(&h, 0, sizeof h);
    static char id[200];
    /* 60 two-byte characters: cutting must not split one */
    for (int i = 0; i < 60; i++) memcpy(id + 2 * i, "\xc3\xa9", 2);
    h.g.name = "long";
    hand_node(&h, id, "noop", "job", NULL);
    h.g.jobs = h.jobs;
    h.g.n_jobs = 1;
    xml_doc doc;
    const char *svg = draw_and_check(&h.g, &doc);
    cr_assert(strstr(doc.decoded.data, id), "the tooltip has the whole id");
    char cut[200] = "";
    for (int i = 0; i < 39; i++) strcat(cut, "\xc3\xa9");
    strcat(cut, "\xe2\x80\xa6<"); /* 39 characters, the ellipsis, then the tag */
    cr_assert(strstr(svg, cut), "the box shows 39 characters and an ellipsis");
    box b = node_box(svg, 0);
    cr_assert(b.w >= 40 * 7 && b.w < 40 * 8 + 40, "box width %ld for a 40-character label", b.w);
}

Test(svg, layers_put_leaves_at_the_bottom)
{
    static hand h;
    memset(&h, 0, sizeof h);
    h.g.name = "layers";
    hand_node(&h, "a", "leaf", "t", NULL);   /* layer 0 */
    hand_node(&h, "b", "leaf", "t", NULL);   /* layer 0 */
    hand_node(&h, "c", "mid", "t", NULL);    /* layer 1: b */
    hand_node(&h, "d", "top", "job", NULL);  /* layer 2: c, a */
    hand_node(&h, "e", "job2", "job", NULL); /* layer 1: a */
    hand_dep(&h, 2, 1);
    hand_dep(&h, 3, 2);
    hand_dep(&h, 3, 0);
    hand_dep(&h, 4, 0);
    h.jobs[0] = 3;
    h.jobs[1] = 4;
    h.g.jobs = h.jobs;
    h.g.n_jobs = 2;
    xml_doc doc;
    const char *svg = draw_and_check(&h.g, &doc);
    box a = node_box(svg, 0), b = node_box(svg, 1), c = node_box(svg, 2), d = node_box(svg, 3),
        e = node_box(svg, 4);
    cr_assert(a.y == b.y && c.y == e.y && a.y > c.y && c.y > d.y,
              "layers: a %ld b %ld c %ld e %ld d %ld", a.y, b.y, c.y, e.y, d.y);
    /* e sits over a and c over b (ordered by their deps, not by index), so
     * no two arrows cross */
    cr_assert(a.x < b.x && e.x < c.x, "a %ld b %ld c %ld e %ld", a.x, b.x, c.x, e.x);
    cr_assert_eq(doc.jobs, 2);
}

Test(svg, empty_graph)
{
    mg_graph g = {.name = "empty", .target = "unix", .arch = "x86_64"};
    xml_doc doc;
    draw_and_check(&g, &doc);
    cr_assert_eq(doc.nodes, 0);
    cr_assert_eq(doc.edges, 0);
}

/* 1000 nodes: a wide bottom layer, a deep chain and fan-in, built by hand
 * (the resolver's limits would make a document this size slow to write). */
Test(svg, a_thousand_nodes)
{
    enum { N = 1000 };
    mg_graph_node *nodes = fx_keep(calloc(N, sizeof *nodes));
    size_t *deps = fx_keep(calloc(3 * N, sizeof *deps));
    char(*ids)[16] = fx_keep(calloc(N, sizeof *ids));
    size_t edges = 0;
    for (size_t i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "dev%zu", i);
        nodes[i] = (mg_graph_node){.id = ids[i], .impl = "impl", .type = "t", .deps = deps + 3 * i};
        if (i < 400) continue; /* 400 leaves */
        nodes[i].deps[nodes[i].n_deps++] = i - 1;
        nodes[i].deps[nodes[i].n_deps++] = (i * 7919) % 400;
        if (i % 3 == 0) nodes[i].deps[nodes[i].n_deps++] = i / 2;
        edges += nodes[i].n_deps;
    }
    size_t jobs[] = {N - 1, N - 2};
    mg_graph g = {.name = "big",
                  .target = "unix",
                  .arch = "x86_64",
                  .nodes = nodes,
                  .n_nodes = N,
                  .jobs = jobs,
                  .n_jobs = 2};
    xml_doc doc;
    const char *svg = draw_and_check(&g, &doc);
    cr_assert_eq(doc.edges, edges);
    long width;
    const char *w = strstr(svg, "width=\"");
    cr_assert(w && sscanf(w, "width=\"%ld\"", &width) == 1);
    cr_assert(width >= 400 * 90, "400 leaves side by side need at least %d px, got %ld", 400 * 90,
              width);
}
