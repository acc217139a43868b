/*
 * block example: writes a pattern to every 10th sector of the block device
 * and to its last one, reads them back and compares, and checks that a
 * read past the end is refused. On unix the device is the host file
 * `disk` (create it first, e.g. `truncate -s 1M disk`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg/block.h"
#include "mg/console.h"

/* The pattern of a sector depends on its number, so a write that lands on
 * the wrong sector is caught. */
static void fill(unsigned char *buf, size_t size, uint64_t sector)
{
    for (size_t i = 0; i < size; i++) buf[i] = (unsigned char)(sector * 7 + i * 13 + 1);
}

/* The sector after `s` in the walk: every 10th, then the last one. */
static uint64_t next_sector(uint64_t s, uint64_t n_sectors)
{
    if (s == n_sectors - 1) return n_sectors; /* done */
    return s + 10 < n_sectors ? s + 10 : n_sectors - 1;
}

/* The job: the generated main.c calls it once every device is connected. */
int block_start(mg_console *c, mg_block *b);

int block_start(mg_console *c, mg_block *b)
{
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    mg_console_printf(c, "%s: %llu sectors of %u bytes, %s\n", mg_block_name(b),
                      (unsigned long long)g.n_sectors, (unsigned)g.sector_size,
                      g.read_write ? "read-write" : "read-only");
    if (g.n_sectors == 0 || !g.read_write) {
        mg_console_printf(c, "the device must be writable and not empty\n");
        return 1;
    }
    unsigned char *want = malloc(g.sector_size), *got = malloc(g.sector_size);
    if (!want || !got) {
        free(want);
        free(got);
        mg_console_printf(c, "out of memory\n");
        return 1;
    }
    int bad = 0;
    uint64_t written = 0, verified = 0;
    for (uint64_t s = 0; s < g.n_sectors && !bad; s = next_sector(s, g.n_sectors)) {
        fill(want, g.sector_size, s);
        int rc = mg_block_write(b, s, want, 1);
        if (rc != MG_OK) {
            mg_console_printf(c, "write of sector %llu failed: %s\n", (unsigned long long)s,
                              mg_strerror(rc));
            bad = 1;
        }
        written++;
    }
    if (!bad) mg_console_printf(c, "wrote %llu sectors\n", (unsigned long long)written);
    for (uint64_t s = 0; s < g.n_sectors && !bad; s = next_sector(s, g.n_sectors)) {
        fill(want, g.sector_size, s);
        int rc = mg_block_read(b, s, got, 1);
        if (rc != MG_OK || memcmp(want, got, g.sector_size) != 0) {
            mg_console_printf(c, "sector %llu: %s\n", (unsigned long long)s,
                              rc != MG_OK ? mg_strerror(rc) : "read back differs");
            bad = 1;
        }
        verified++;
    }
    if (!bad) mg_console_printf(c, "verified %llu sectors\n", (unsigned long long)verified);
    /* One sector past the end, and two sectors straddling it. */
    int past = mg_block_read(b, g.n_sectors, got, 1);
    unsigned char *two = malloc(2 * (size_t)g.sector_size);
    int straddle = two ? mg_block_read(b, g.n_sectors - 1, two, 2) : MG_ERANGE;
    free(two);
    if (past == MG_ERANGE && straddle == MG_ERANGE) {
        mg_console_printf(c, "out-of-range read rejected\n");
    } else {
        mg_console_printf(c, "out-of-range read not rejected\n");
        bad = 1;
    }
    free(want);
    free(got);
    if (!bad) mg_console_printf(c, "SUCCESS\n");
    return bad;
}
