/*
 * disk_check: the test unikernel of tests/build/devices.sh. It says what
 * the block device `disk` looks like to the image, through the block
 * library and through the platform alike, and then uses it the way the
 * test checks from the host afterwards:
 *  - read-write: fills the last whole sector with 0xa5, reads it back,
 *    and checks that the sector after it is refused (MG_ERANGE), so the
 *    host can check that the bytes past the capacity and the file's size
 *    did not change;
 *  - read-only: checks that a write is refused with MG_EACCES by the
 *    library and by the platform (for code that goes round the library),
 *    and that reading still works, so the host can check that no byte
 *    changed.
 * It exits 0 when everything behaved as documented, 1 otherwise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"
#include "mg/block.h"
#include "mg/console.h"

int disk_check_start(mg_console *c, mg_block *b);

/* The read-only case: every write refused, reads still served. */
static int check_read_only(mg_console *c, mg_block *b, mg_handle h, unsigned char *buf)
{
    memset(buf, 0x5a, 512);
    int lib = mg_block_write(b, 0, buf, 1);
    int plat = mg_platform_block_write(h, 0, buf, 512);
    mg_console_printf(c, "writes refused: %s (library), %s (platform)\n", mg_strerror(lib),
                      mg_strerror(plat));
    int rc = mg_block_read(b, 0, buf, 1);
    mg_console_printf(c, "read of sector 0: %s\n", mg_strerror(rc));
    return lib == MG_EACCES && plat == MG_EACCES && rc == MG_OK ? 0 : 1;
}

/* The read-write case: the last sector written and read back, the one
 * after it refused. */
static int check_read_write(mg_console *c, mg_block *b, uint64_t n, unsigned char *buf)
{
    memset(buf, 0xa5, 512);
    int w = mg_block_write(b, n - 1, buf, 1);
    memset(buf, 0, 512);
    int r = mg_block_read(b, n - 1, buf, 1);
    int same = r == MG_OK && buf[0] == 0xa5 && buf[511] == 0xa5;
    mg_console_printf(c, "last sector %llu: write %s, read back %s\n", (unsigned long long)(n - 1),
                      mg_strerror(w), same ? "the same" : "different");
    int past = mg_block_write(b, n, buf, 1);
    mg_console_printf(c, "write past the end: %s\n", mg_strerror(past));
    return w == MG_OK && same && past == MG_ERANGE ? 0 : 1;
}

int disk_check_start(mg_console *c, mg_block *b)
{
    mg_block_geometry g;
    mg_block_get_info(b, &g);
    /* the platform's own word, which the library's geometry must follow */
    mg_handle h;
    struct mg_block_info info = {0};
    int rc = mg_platform_block_acquire(mg_block_name(b), &h, &info);
    if (rc != MG_OK) {
        mg_console_printf(c, "platform acquire: %s\n", mg_strerror(rc));
        return 1;
    }
    mg_console_printf(c, "disk: %llu sectors of %u bytes, %s (platform: %llu bytes, %s)\n",
                      (unsigned long long)g.n_sectors, (unsigned)g.sector_size,
                      g.read_write ? "read-write" : "read-only", (unsigned long long)info.capacity,
                      info.read_only ? "read-only" : "read-write");
    if (g.n_sectors == 0 || g.read_write == !!info.read_only) {
        mg_console_printf(c, "the library and the platform disagree\n");
        return 1;
    }
    unsigned char *buf = malloc(512);
    if (!buf) return 1;
    rc = g.read_write ? check_read_write(c, b, g.n_sectors, buf) : check_read_only(c, b, h, buf);
    free(buf);
    return rc;
}
