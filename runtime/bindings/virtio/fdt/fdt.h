/*
 * fdt.h - a small reader of flattened device trees (the devicetree
 * specification's blob, version 17), for the arches that boot with one
 * (QEMU's aarch64 and riscv64 `virt` machines pass it to a -kernel ELF):
 * /chosen's bootargs, /memory's reg, /cpus' timebase-frequency, the
 * virtio-mmio nodes. The blob is treated as hostile: every offset, length
 * and string in it is checked against its bounds before it is read, so a
 * broken or truncated tree gives "not found", never a read outside it.
 * Nothing is allocated and nothing is written.
 */
#ifndef MG_BINDINGS_VIRTIO_FDT_H
#define MG_BINDINGS_VIRTIO_FDT_H

#include <stddef.h>
#include <stdint.h>

/* A checked blob: what mg_fdt_open found in its header. */
struct mg_fdt {
    const uint8_t *blob;
    uint32_t size;                   /* totalsize */
    uint32_t struct_off, struct_end; /* the structure block */
    uint32_t strings_off, strings_end;
};

/* Checks the header of the blob at `blob`, of which at most `max` bytes
 * may be read: the magic, a version this reader knows (compatible with
 * 17), and blocks that lie inside totalsize, itself at most `max`. 0 and
 * *f filled, or -1. */
int mg_fdt_open(struct mg_fdt *f, const void *blob, size_t max);

/* The node at `path` ("/", "/chosen", "/memory"): each component matches a
 * node's whole name, or its name before '@' (its unit address) when the
 * component has none. A node's offset, or -1. */
int mg_fdt_path(const struct mg_fdt *f, const char *path);

/* The first node after the node at `after` (-1: from the start), in the
 * blob's order, whose "compatible" list holds `compatible`
 * ("virtio,mmio"). A node's offset, or -1. */
int mg_fdt_next_compatible(const struct mg_fdt *f, int after, const char *compatible);

/* The value of property `name` of the node at `node`, and its length in
 * *len; NULL if it has none. The value lies inside the blob. */
const void *mg_fdt_prop(const struct mg_fdt *f, int node, const char *name, uint32_t *len);

/* The property as one 32-bit cell (big-endian in the blob): 0, or -1 if
 * absent or not 4 bytes long. */
int mg_fdt_u32(const struct mg_fdt *f, int node, const char *name, uint32_t *out);

/* The index-th (address, size) pair of the node's "reg", with
 * `address_cells` and `size_cells` cells each (its parent's
 * #address-cells and #size-cells: 1 or 2; size_cells may be 0). 0, or -1
 * if it has no such pair. */
int mg_fdt_reg(const struct mg_fdt *f, int node, int index, uint32_t address_cells,
               uint32_t size_cells, uint64_t *address, uint64_t *size);

#endif
