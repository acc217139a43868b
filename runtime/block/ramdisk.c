/*
 * ramdisk.c - ramdisk(name, size): a block device in zero-filled memory.
 *
 * One allocation holds the state, the name and the sectors, so connect has
 * a single failure point for memory and disconnect a single free.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/block.h"

#define RAMDISK_SECTOR_SIZE 512

typedef struct ramdisk {
    mg_block block; /* first: a mg_block * is a ramdisk * */
    unsigned char *data;
} ramdisk;

static int ramdisk_read(mg_block *b, uint64_t sector, void *buf, size_t n_sectors)
{
    const ramdisk *r = (const ramdisk *)b;
    /* mg_block_read checked that the range fits, so these products do too. */
    memcpy(buf, r->data + sector * RAMDISK_SECTOR_SIZE, n_sectors * RAMDISK_SECTOR_SIZE);
    return MG_OK;
}

static int ramdisk_write(mg_block *b, uint64_t sector, const void *buf, size_t n_sectors)
{
    ramdisk *r = (ramdisk *)b;
    memcpy(r->data + sector * RAMDISK_SECTOR_SIZE, buf, n_sectors * RAMDISK_SECTOR_SIZE);
    return MG_OK;
}

static void ramdisk_disconnect(mg_block *b)
{
    free(b);
}

static const struct mg_block_ops ramdisk_ops = {
    .read = ramdisk_read,
    .write = ramdisk_write,
    .disconnect = ramdisk_disconnect,
};

int mg_ramdisk_connect(mg_block **out, const char *name, int64_t size)
{
    if (!name) name = "ramdisk";
    /* The upper bound keeps the rounding and the allocation size below from
     * overflowing, and catches sizes that are typos rather than wishes. */
    if (size <= 0 || size > MG_RAMDISK_MAX_SIZE || (uint64_t)size > SIZE_MAX / 2) {
        mg_printf("ramdisk %s: invalid size %lld (1 to %lld bytes)\n", name, (long long)size,
                  (long long)MG_RAMDISK_MAX_SIZE);
        return MG_EINVAL;
    }
    uint64_t n_sectors = ((uint64_t)size + RAMDISK_SECTOR_SIZE - 1) / RAMDISK_SECTOR_SIZE;
    size_t bytes = (size_t)n_sectors * RAMDISK_SECTOR_SIZE;
    size_t name_len = strlen(name);
    size_t head = sizeof(ramdisk) + name_len + 1;
    if (bytes > SIZE_MAX - head) {
        mg_printf("ramdisk %s: %lld bytes do not fit in memory\n", name, (long long)size);
        return MG_ENOMEM;
    }
    /* calloc gives the zero fill; on hosts it also leaves untouched pages
     * unmapped until written. */
    ramdisk *r = calloc(1, head + bytes);
    if (!r) {
        mg_printf("ramdisk %s: cannot allocate %zu bytes\n", name, bytes);
        return MG_ENOMEM;
    }
    char *copy = (char *)(r + 1);
    memcpy(copy, name, name_len + 1);
    r->data = (unsigned char *)copy + name_len + 1;
    r->block.ops = &ramdisk_ops;
    r->block.name = copy;
    r->block.geometry.sector_size = RAMDISK_SECTOR_SIZE;
    r->block.geometry.n_sectors = n_sectors;
    r->block.geometry.read_write = true;
    *out = &r->block;
    return MG_OK;
}
