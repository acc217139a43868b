/*
 * fdt.c - the flattened device tree reader (fdt.h). The structure block
 * is a sequence of big-endian 32-bit tokens: BEGIN_NODE and its
 * NUL-terminated name, PROP with its length, the offset of its name in
 * the strings block and its value, END_NODE, NOP, END; names and values
 * are padded to 4 bytes. Every step goes through next_token, which
 * checks that what it reads lies inside the structure block, so a walk
 * always moves forward by at least 4 bytes and ends at the block's end:
 * no loop can spin and no read can stray, whatever the blob says.
 */
#include "fdt.h"

#include <string.h>

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u
#define HEADER_SIZE 40u

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int mg_fdt_open(struct mg_fdt *f, const void *blob, size_t max)
{
    const uint8_t *b = blob;
    if (!b || max < HEADER_SIZE || be32(b) != FDT_MAGIC) return -1;
    uint32_t size = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
    uint32_t version = be32(b + 20), last_compatible = be32(b + 24);
    uint32_t size_strings = be32(b + 32), size_struct = be32(b + 36);
    /* version 17 added size_dt_struct, which the bounds need */
    if (version < 17 || last_compatible > 17) return -1;
    /* node offsets are ints: a blob of 2 GiB or more is refused */
    if (size < HEADER_SIZE || size > max || size > 0x7fffffffu) return -1;
    if (off_struct % 4 || off_struct < HEADER_SIZE || off_strings < HEADER_SIZE) return -1;
    if ((uint64_t)off_struct + size_struct > size || (uint64_t)off_strings + size_strings > size)
        return -1;
    *f = (struct mg_fdt){
        b, size, off_struct, off_struct + size_struct, off_strings, off_strings + size_strings};
    return 0;
}

/* The token at `off` (which must be a token's start inside the structure
 * block) into *tok, and the offset of the next one into *next; for
 * BEGIN_NODE *name is its name, for PROP *name its name and *value,
 * *len its value. 0, or -1 when the token or what it holds runs past the
 * block or is malformed. */
static int next_token(const struct mg_fdt *f, uint32_t off, uint32_t *tok, uint32_t *next,
                      const char **name, const uint8_t **value, uint32_t *len)
{
    if (off % 4 || off < f->struct_off || off >= f->struct_end || f->struct_end - off < 4)
        return -1;
    *tok = be32(f->blob + off);
    off += 4;
    switch (*tok) {
    case FDT_BEGIN_NODE: {
        const uint8_t *s = f->blob + off;
        const uint8_t *nul = memchr(s, '\0', f->struct_end - off);
        if (!nul) return -1;
        *name = (const char *)s;
        uint32_t n = (uint32_t)(nul - s) + 1;
        *next = off + ((n + 3) & ~3u);
        return *next <= f->struct_end ? 0 : -1;
    }
    case FDT_PROP: {
        if (f->struct_end - off < 8) return -1;
        uint32_t l = be32(f->blob + off), name_off = be32(f->blob + off + 4);
        off += 8;
        if (l > f->struct_end - off) return -1;
        if (name_off >= f->strings_end - f->strings_off) return -1;
        const char *s = (const char *)f->blob + f->strings_off + name_off;
        if (!memchr(s, '\0', f->strings_end - f->strings_off - name_off)) return -1;
        *name = s;
        *value = f->blob + off;
        *len = l;
        uint64_t end = (uint64_t)off + ((l + 3u) & ~3u);
        if (end > f->struct_end) return -1;
        *next = (uint32_t)end;
        return 0;
    }
    case FDT_END_NODE:
    case FDT_NOP:
    case FDT_END:
        *next = off;
        return 0;
    }
    return -1;
}

/* Whether the node name `name` is what path component `c` (`n` bytes)
 * asks for. */
static int name_matches(const char *name, const char *c, size_t n)
{
    if (strncmp(name, c, n)) return 0;
    return name[n] == '\0' || (name[n] == '@' && !memchr(c, '@', n));
}

/* The offset of the first token after the node at `node`'s name, or 0
 * if `node` is not a node. */
static uint32_t node_body(const struct mg_fdt *f, int node)
{
    uint32_t tok, next, len;
    const char *name;
    const uint8_t *value;
    if (node < 0 || next_token(f, (uint32_t)node, &tok, &next, &name, &value, &len) != 0 ||
        tok != FDT_BEGIN_NODE)
        return 0;
    return next;
}

/* The direct child of the node at `node` named `c` (`n` bytes), or -1. */
static int child(const struct mg_fdt *f, int node, const char *c, size_t n)
{
    uint32_t off = node_body(f, node), tok, next, len;
    const char *name;
    const uint8_t *value;
    if (!off) return -1;
    for (uint32_t depth = 0;; off = next) {
        if (next_token(f, off, &tok, &next, &name, &value, &len) != 0) return -1;
        if (tok == FDT_BEGIN_NODE) {
            if (depth == 0 && name_matches(name, c, n)) return (int)off;
            depth++;
        } else if (tok == FDT_END_NODE) {
            if (depth == 0) return -1; /* the node's end */
            depth--;
        } else if (tok == FDT_END) {
            return -1;
        }
    }
}

int mg_fdt_path(const struct mg_fdt *f, const char *path)
{
    if (!path || path[0] != '/') return -1;
    /* the root: the structure block's first token, with an empty name */
    int node = (int)f->struct_off;
    if (!node_body(f, node)) return -1;
    for (const char *p = path + 1; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n) node = child(f, node, p, n);
        if (node < 0) return -1;
        p += n;
        if (*p == '/') p++;
    }
    return node;
}

const void *mg_fdt_prop(const struct mg_fdt *f, int node, const char *name, uint32_t *len)
{
    uint32_t off = node_body(f, node), tok, next, l;
    const char *n;
    const uint8_t *value;
    if (!off) return NULL;
    /* a node's properties come before its children */
    for (;; off = next) {
        if (next_token(f, off, &tok, &next, &n, &value, &l) != 0) return NULL;
        if (tok == FDT_NOP) continue;
        if (tok != FDT_PROP) return NULL;
        if (!strcmp(n, name)) {
            *len = l;
            return value;
        }
    }
}

int mg_fdt_next_compatible(const struct mg_fdt *f, int after, const char *compatible)
{
    uint32_t tok, next, len;
    const char *name;
    const uint8_t *value;
    size_t want = strlen(compatible) + 1;
    for (uint32_t off = f->struct_off;; off = next) {
        if (next_token(f, off, &tok, &next, &name, &value, &len) != 0 || tok == FDT_END) return -1;
        if (tok != FDT_BEGIN_NODE || (int)off <= after) continue;
        uint32_t l;
        const char *list = mg_fdt_prop(f, (int)off, "compatible", &l);
        /* a list of NUL-terminated strings, within its length */
        for (uint32_t at = 0; list && at < l;) {
            const char *s = list + at;
            const char *nul = memchr(s, '\0', l - at);
            if (!nul) break;
            if ((size_t)(nul - s) + 1 == want && !memcmp(s, compatible, want)) return (int)off;
            at += (uint32_t)(nul - s) + 1;
        }
    }
}

int mg_fdt_u32(const struct mg_fdt *f, int node, const char *name, uint32_t *out)
{
    uint32_t len;
    const uint8_t *v = mg_fdt_prop(f, node, name, &len);
    if (!v || len != 4) return -1;
    *out = be32(v);
    return 0;
}

int mg_fdt_reg(const struct mg_fdt *f, int node, int index, uint32_t address_cells,
               uint32_t size_cells, uint64_t *address, uint64_t *size)
{
    if (index < 0 || address_cells < 1 || address_cells > 2 || size_cells > 2) return -1;
    uint32_t len;
    const uint8_t *v = mg_fdt_prop(f, node, "reg", &len);
    uint32_t pair = 4 * (address_cells + size_cells);
    if (!v || (uint64_t)(index + 1) * pair > len) return -1;
    v += (size_t)index * pair;
    uint64_t a = 0, s = 0;
    for (uint32_t k = 0; k < address_cells; k++, v += 4) a = a << 32 | be32(v);
    for (uint32_t k = 0; k < size_cells; k++, v += 4) s = s << 32 | be32(v);
    *address = a;
    *size = s;
    return 0;
}
