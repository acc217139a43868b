/*
 * start.c - the virtio binding's entry on riscv64. boot.S calls
 * mg_virtio_start on hart 0 in M-mode with the address of the device tree
 * QEMU made; it sets up the console and the trap handler, reads what it
 * needs from the device tree (the memory's size, the command line, the
 * timer's rate, whether the hart has Zkr) before the heap can overwrite
 * it, locks the memory protection, starts the clocks, the entropy and the
 * sleep's wake-ups, registers the board's virtio-mmio windows, and hands
 * over to the common mg_virtio_run.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "riscv.h"

/* ---- a minimal flattened device tree walk (to be replaced by fdt/) ---- */

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

struct dt {
    const uint8_t *base;
    uint32_t size, off_struct, size_struct, off_strings, size_strings;
};

/* The property `prop` of the node at `path` ("/chosen", "/cpus/cpu@0",
 * "/memory": a name matches up to its '@'), or NULL. */
static const void *dt_prop(const struct dt *dt, const char *path, const char *prop, uint32_t *len)
{
    const uint8_t *p = dt->base + dt->off_struct, *end = p + dt->size_struct;
    const char *want = path;    /* the rest of the path still to match */
    int depth = 0, matched = 0; /* nodes open; of them, on the path */
    while (p + 4 <= end) {
        uint32_t tok = be32(p);
        p += 4;
        if (tok == 1) { /* FDT_BEGIN_NODE */
            const char *name = (const char *)p;
            size_t n = strnlen(name, (size_t)(end - p));
            p += (n + 4) & ~(size_t)3;
            if (depth++ == matched) {
                if (depth == 1) {
                    matched = 1; /* the root */
                } else {
                    const char *w = want + 1, *slash = strchr(w, '/');
                    size_t wl = slash ? (size_t)(slash - w) : strlen(w);
                    if (*want == '/' && !strncmp(name, w, wl) &&
                        (name[wl] == 0 || name[wl] == '@')) {
                        matched = depth;
                        want = w + wl;
                    }
                }
            }
        } else if (tok == 2) {                              /* FDT_END_NODE */
            if (depth-- == matched && matched) return NULL; /* left the node */
        } else if (tok == 3) {                              /* FDT_PROP */
            if (p + 8 > end) return NULL;
            uint32_t l = be32(p), name = be32(p + 4);
            p += 8;
            if (l > (uint32_t)(end - p)) return NULL;
            if (depth == matched && !*want && name < dt->size_strings &&
                !strcmp((const char *)dt->base + dt->off_strings + name, prop)) {
                *len = l;
                return p;
            }
            p += (l + 3) & ~(uint32_t)3;
        } else if (tok == 9) { /* FDT_END */
            return NULL;
        }
    }
    return NULL;
}

/* ---- the entry ---- */

#define MAX_LINE 4096

__attribute__((no_stack_protector)) void mg_virtio_start(uint64_t hart, uintptr_t dtb)
{
    (void)hart;
    mg_riscv_console_init();
    mg_riscv_traps_init();
    struct dt dt = {(const uint8_t *)dtb, 0, 0, 0, 0, 0};
    if (!dtb || be32(dt.base) != 0xd00dfeed) mg_platform_abort("no device tree from the loader");
    dt.size = be32(dt.base + 4);
    dt.off_struct = be32(dt.base + 8);
    dt.off_strings = be32(dt.base + 12);
    dt.size_strings = be32(dt.base + 32);
    dt.size_struct = be32(dt.base + 36);
    if (dt.off_struct > dt.size || dt.size_struct > dt.size - dt.off_struct ||
        dt.off_strings > dt.size || dt.size_strings > dt.size - dt.off_strings)
        mg_platform_abort("a broken device tree");

    /* memory: the first range of /memory (two cells of address, two of
     * size: the board's #address-cells and #size-cells) */
    uint32_t len;
    const uint8_t *reg = dt_prop(&dt, "/memory", "reg", &len);
    if (!reg || len < 16) mg_platform_abort("no memory in the device tree");
    uint64_t mem_base = (uint64_t)be32(reg) << 32 | be32(reg + 4);
    uint64_t mem_size = (uint64_t)be32(reg + 8) << 32 | be32(reg + 12);
    if (mem_base != RV_RAM) mg_platform_abort("RAM is not at 0x80000000");

    /* the command line: copied, since the device tree lies in what becomes
     * the heap */
    static char line[MAX_LINE];
    const char *args = dt_prop(&dt, "/chosen", "bootargs", &len);
    if (args) {
        size_t n = strnlen(args, len < MAX_LINE - 1 ? len : MAX_LINE - 1);
        memcpy(line, args, n);
        line[n] = '\0';
    }
    const uint8_t *tb = dt_prop(&dt, "/cpus", "timebase-frequency", &len);
    uint64_t timebase = tb && len == 4 ? be32(tb) : 0;
    const char *isa = dt_prop(&dt, "/cpus/cpu", "riscv,isa", &len);
    int zkr = 0;
    /* "rv64imafdc_zicsr_..._zkr_...": the multi-letter extensions after
     * underscores */
    for (const char *e = isa ? memchr(isa, '_', len) : NULL; e && e < isa + len;
         e = memchr(e + 1, '_', (size_t)(isa + len - e - 1)))
        if (!strncmp(e, "_zkr", 4) && (e[4] == '_' || e[4] == '\0')) zkr = 1;

    uintptr_t start, end;
    mg_riscv_pmp_init(mem_base + mem_size, &start, &end);
    mg_riscv_clock_init(timebase);
    mg_riscv_entropy_init(zkr);
    mg_riscv_interrupts_init();
    for (uint32_t i = 0; i < RV_VIRTIO_COUNT; i++)
        mg_virtio_mmio_add(RV_VIRTIO + i * RV_VIRTIO_STRIDE, 1 + i);
    mg_virtio_run(line, start, end);
}
