/*
 * block.c - the dispatch of mg/block.h: argument checks shared by every
 * block device, then the implementation's operations table.
 *
 * The range check lives here, once, so that no implementation can get it
 * wrong: ops only ever see transfers that fit inside the device.
 */
#include "mg/block.h"

/* True if [sector, sector + n) lies inside `b` and n sectors fit in a
 * size_t of bytes; written so that no addition or product can overflow. */
static bool in_range(const mg_block *b, uint64_t sector, size_t n)
{
    const mg_block_geometry *g = &b->geometry;
    if (sector > g->n_sectors || (uint64_t)n > g->n_sectors - sector) return false;
    return g->sector_size != 0 && n <= SIZE_MAX / g->sector_size;
}

void mg_block_get_info(const mg_block *b, mg_block_geometry *info)
{
    *info = b->geometry;
}

const char *mg_block_name(const mg_block *b)
{
    return b->name;
}

int mg_block_read(mg_block *b, uint64_t sector, void *buf, size_t n_sectors)
{
    if (!in_range(b, sector, n_sectors)) return MG_ERANGE;
    if (n_sectors == 0) return MG_OK;
    if (!buf) return MG_EINVAL;
    return b->ops->read(b, sector, buf, n_sectors);
}

int mg_block_write(mg_block *b, uint64_t sector, const void *buf, size_t n_sectors)
{
    if (!b->geometry.read_write) return MG_EACCES;
    if (!in_range(b, sector, n_sectors)) return MG_ERANGE;
    if (n_sectors == 0) return MG_OK;
    if (!buf) return MG_EINVAL;
    return b->ops->write(b, sector, buf, n_sectors);
}

void mg_block_disconnect(mg_block *b)
{
    if (b) b->ops->disconnect(b);
}
