/* Unit tests of the virtio binding's flattened device tree reader
 * (runtime/bindings/virtio/fdt/), compiled for the host: a tree built
 * here the way QEMU's virt machines lay theirs out is read back, and
 * every truncation and every single-byte corruption of it is read
 * without a read outside the blob (what the sanitizers check) and
 * without a value that lies outside it. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/bindings/virtio/fdt/fdt.h"

/* A tiny blob writer: the structure and strings blocks, then the header. */
struct w {
    uint8_t st[2048], str[512];
    uint32_t n_st, n_str;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static void tok(struct w *w, uint32_t t)
{
    put32(w->st + w->n_st, t);
    w->n_st += 4;
}

static void begin(struct w *w, const char *name)
{
    tok(w, 1);
    size_t n = strlen(name) + 1;
    memset(w->st + w->n_st, 0, (n + 3) & ~(size_t)3);
    memcpy(w->st + w->n_st, name, n);
    w->n_st += (uint32_t)((n + 3) & ~(size_t)3);
}

static void prop(struct w *w, const char *name, const void *v, uint32_t len)
{
    tok(w, 3);
    put32(w->st + w->n_st, len);
    put32(w->st + w->n_st + 4, w->n_str);
    w->n_st += 8;
    memcpy(w->str + w->n_str, name, strlen(name) + 1);
    w->n_str += (uint32_t)strlen(name) + 1;
    memset(w->st + w->n_st, 0, (len + 3) & ~3u);
    memcpy(w->st + w->n_st, v, len);
    w->n_st += (len + 3) & ~3u;
}

static void prop_cells(struct w *w, const char *name, const uint32_t *cells, int n)
{
    uint8_t b[64];
    for (int i = 0; i < n; i++) put32(b + 4 * i, cells[i]);
    prop(w, name, b, (uint32_t)(4 * n));
}

/* The tree, as QEMU's aarch64 virt machine lays its out (the parts the
 * arches read), into a malloc'd blob of *size bytes. */
static uint8_t *make_tree(uint32_t *size)
{
    static struct w w;
    memset(&w, 0, sizeof w);
    begin(&w, "");
    prop_cells(&w, "#address-cells", (uint32_t[]){2}, 1);
    prop_cells(&w, "#size-cells", (uint32_t[]){2}, 1);
    tok(&w, 4); /* a NOP among the properties */
    begin(&w, "chosen");
    prop(&w, "bootargs", "hello --count=1", 16);
    tok(&w, 2);
    begin(&w, "memory@40000000");
    prop(&w, "device_type", "memory", 7);
    prop_cells(&w, "reg", (uint32_t[]){0, 0x40000000, 0, 0x8000000}, 4);
    tok(&w, 2);
    begin(&w, "cpus");
    prop_cells(&w, "timebase-frequency", (uint32_t[]){10000000}, 1);
    begin(&w, "cpu@0");
    tok(&w, 2);
    tok(&w, 2);
    begin(&w, "virtio_mmio@a000000");
    prop(&w, "compatible", "virtio,mmio", 12);
    prop_cells(&w, "reg", (uint32_t[]){0, 0xa000000, 0, 0x200}, 4);
    prop_cells(&w, "interrupts", (uint32_t[]){0, 16, 1}, 3);
    tok(&w, 2);
    begin(&w, "virtio_mmio@a000200");
    /* a list: the reader must find the name anywhere in it */
    prop(&w, "compatible", "acme,x\0virtio,mmio", 19);
    prop_cells(&w, "reg", (uint32_t[]){0, 0xa000200, 0, 0x200}, 4);
    tok(&w, 2);
    tok(&w, 2);
    tok(&w, 9);
    uint32_t off_st = 40, off_str = off_st + w.n_st;
    *size = off_str + w.n_str;
    uint8_t *b = calloc(1, *size);
    put32(b, 0xd00dfeed);
    put32(b + 4, *size);
    put32(b + 8, off_st);
    put32(b + 12, off_str);
    put32(b + 16, 40); /* the memory reservation map: unused here */
    put32(b + 20, 17);
    put32(b + 24, 16);
    put32(b + 32, w.n_str);
    put32(b + 36, w.n_st);
    memcpy(b + off_st, w.st, w.n_st);
    memcpy(b + off_str, w.str, w.n_str);
    return b;
}

Test(fdt, reads_what_the_arches_need)
{
    uint32_t size;
    uint8_t *b = make_tree(&size);
    struct mg_fdt f;
    cr_assert_eq(mg_fdt_open(&f, b, size), 0);
    uint32_t len;
    int chosen = mg_fdt_path(&f, "/chosen");
    cr_assert_geq(chosen, 0);
    const char *args = mg_fdt_prop(&f, chosen, "bootargs", &len);
    cr_assert(args && len == 16 && !strcmp(args, "hello --count=1"));
    /* a component without a unit address matches the node that has one */
    int mem = mg_fdt_path(&f, "/memory");
    cr_assert_geq(mem, 0);
    cr_assert_eq(mg_fdt_path(&f, "/memory@40000000"), mem);
    cr_assert_eq(mg_fdt_path(&f, "/memory@0"), -1);
    uint32_t ac, sc;
    cr_assert_eq(mg_fdt_u32(&f, mg_fdt_path(&f, "/"), "#address-cells", &ac), 0);
    cr_assert_eq(mg_fdt_u32(&f, mg_fdt_path(&f, "/"), "#size-cells", &sc), 0);
    uint64_t addr, sz;
    cr_assert_eq(mg_fdt_reg(&f, mem, 0, ac, sc, &addr, &sz), 0);
    cr_assert(addr == 0x40000000 && sz == 0x8000000);
    cr_assert_eq(mg_fdt_reg(&f, mem, 1, ac, sc, &addr, &sz), -1, "one pair only");
    uint32_t tb;
    cr_assert_eq(mg_fdt_u32(&f, mg_fdt_path(&f, "/cpus"), "timebase-frequency", &tb), 0);
    cr_assert_eq(tb, 10000000);
    /* a property of a child is not its parent's */
    cr_assert_null(mg_fdt_prop(&f, mg_fdt_path(&f, "/"), "bootargs", &len));
    cr_assert_eq(mg_fdt_path(&f, "/cpus/cpu"), mg_fdt_path(&f, "/cpus/cpu@0"));
    cr_assert_eq(mg_fdt_path(&f, "/nothing"), -1);
    cr_assert_eq(mg_fdt_path(&f, "/chosen/bootargs"), -1, "a property is not a node");
    /* the virtio-mmio nodes, in the blob's order */
    int v0 = mg_fdt_next_compatible(&f, -1, "virtio,mmio");
    int v1 = mg_fdt_next_compatible(&f, v0, "virtio,mmio");
    cr_assert(v0 >= 0 && v1 > v0);
    cr_assert_eq(mg_fdt_next_compatible(&f, v1, "virtio,mmio"), -1);
    cr_assert_eq(mg_fdt_next_compatible(&f, -1, "virtio"), -1, "whole strings only");
    cr_assert_eq(mg_fdt_reg(&f, v1, 0, 2, 2, &addr, &sz), 0);
    cr_assert_eq(addr, 0xa000200);
    const uint8_t *irq = mg_fdt_prop(&f, v0, "interrupts", &len);
    cr_assert(irq && len == 12 && irq[7] == 16);
    free(b);
}

Test(fdt, refuses_a_broken_header)
{
    uint32_t size;
    uint8_t *b = make_tree(&size);
    struct mg_fdt f;
    cr_assert_eq(mg_fdt_open(&f, b, size - 1), -1, "totalsize past what may be read");
    cr_assert_eq(mg_fdt_open(&f, NULL, size), -1);
    cr_assert_eq(mg_fdt_open(&f, b, 39), -1);
    b[0] ^= 1;
    cr_assert_eq(mg_fdt_open(&f, b, size), -1, "a bad magic");
    b[0] ^= 1;
    put32(b + 36, 0xfffffff0); /* size_dt_struct: wraps past the end */
    cr_assert_eq(mg_fdt_open(&f, b, size), -1);
    free(b);
}

/* Every query on a blob that opened: nothing may lie outside it. */
static void query_all(const uint8_t *b, uint32_t size)
{
    struct mg_fdt f;
    if (mg_fdt_open(&f, b, size) != 0) return;
    static const char *const paths[] = {"/", "/chosen", "/memory", "/cpus", "/cpus/cpu", "/x/y"};
    static const char *const props[] = {"bootargs", "reg", "timebase-frequency", "compatible",
                                        "#address-cells"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int node = mg_fdt_path(&f, paths[i]);
        for (size_t k = 0; k < sizeof props / sizeof *props; k++) {
            uint32_t len = 0;
            const uint8_t *v = mg_fdt_prop(&f, node, props[k], &len);
            if (v) cr_assert(v >= b && v + len <= b + size, "a value outside the blob");
            uint32_t u;
            (void)mg_fdt_u32(&f, node, props[k], &u);
        }
        uint64_t a, s;
        (void)mg_fdt_reg(&f, node, 0, 2, 2, &a, &s);
    }
    int n = 0;
    for (int node = -1; n < 100 && (node = mg_fdt_next_compatible(&f, node, "virtio,mmio")) >= 0;)
        n++;
    cr_assert_lt(n, 100, "the walk ends");
}

Test(fdt, survives_every_truncation_and_corruption)
{
    uint32_t size;
    uint8_t *good = make_tree(&size);
    for (uint32_t len = 0; len <= size; len++) {
        /* a buffer of exactly len bytes, its totalsize claiming len too */
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, good, len);
        if (len >= 8) put32(b + 4, len);
        query_all(b, len);
        free(b);
    }
    static const uint8_t values[] = {0x00, 0x01, 0x03, 0x09, 0x7f, 0x80, 0xff};
    for (uint32_t i = 0; i < size; i++)
        for (size_t v = 0; v < sizeof values; v++) {
            uint8_t *b = malloc(size);
            memcpy(b, good, size);
            b[i] = values[v];
            query_all(b, size);
            free(b);
        }
    free(good);
}
