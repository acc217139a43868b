/*
 * block.c - the spt binding's block devices: the host files the tender
 * opened (--block:NAME=FILE), read and written with pread64 and pwrite64.
 * Block device i of the boot structure is handle i. A device the tender
 * opened read-only is reported so (mg_block_info's read_only) and its
 * writes refused with MG_EACCES before any system call.
 */
#include <string.h>

#include "spt.h"

_Static_assert(MG_SPT_MAX_BLOCKS == MG_PLATFORM_MAX_BLOCKS,
               "the boot structure has room for the block devices an image may declare");

int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info)
{
    for (uint32_t i = 0; i < mg_spt_boot_info->n_blocks; i++)
        if (strcmp(mg_spt_boot_info->blocks[i].name, name) == 0) {
            *handle = i;
            info->capacity = mg_spt_boot_info->blocks[i].capacity;
            info->block_size = MG_PLATFORM_BLOCK_SIZE;
            /* the tender opened it read-only (:ro, or the host refused
             * writing): its filter forbids pwrite64 on it as well */
            info->read_only = !mg_spt_boot_info->blocks[i].writable;
            return MG_OK;
        }
    return MG_ENOENT;
}

static int block_check(mg_handle h, uint64_t offset, size_t size)
{
    if (h >= mg_spt_boot_info->n_blocks) return MG_EINVAL;
    if (offset % 512 || size % 512) return MG_EINVAL;
    if (offset > mg_spt_boot_info->blocks[h].capacity ||
        size > mg_spt_boot_info->blocks[h].capacity - offset)
        return MG_ERANGE;
    return MG_OK;
}

int mg_platform_block_read(mg_handle h, uint64_t offset, void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc) return rc;
    unsigned char *p = buf;
    while (size) {
        long n = mg_spt_sys4(SYS_PREAD64, mg_spt_boot_info->blocks[h].fd, (long)p, (long)size,
                             (long)offset);
        if (n == -EINTR) continue;
        if (n <= 0) return MG_EIO;
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return MG_OK;
}

int mg_platform_block_write(mg_handle h, uint64_t offset, const void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc) return rc;
    if (!mg_spt_boot_info->blocks[h].writable) return MG_EACCES;
    const unsigned char *p = buf;
    while (size) {
        long n = mg_spt_sys4(SYS_PWRITE64, mg_spt_boot_info->blocks[h].fd, (long)p, (long)size,
                             (long)offset);
        if (n == -EINTR) continue;
        if (n <= 0) return MG_EIO;
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return MG_OK;
}
