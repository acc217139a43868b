/*
 * block.c - the virtio binding's block devices: virtio-blk (virtio_blk.c),
 * the n-th of the note's block devices (note.c) being the n-th on the
 * bus, with handle n. Requests are synchronous, one at a time. A
 * read-only device (VIRTIO_BLK_F_RO) says so at acquire and refuses
 * writes with MG_EACCES, as unix and spt do, without asking the device.
 */
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info)
{
    int index = mg_virtio_note_index("block", name);
    if (index < 0 || index >= mg_virtio_blk_count())
        return MG_ENOENT;                           /* not declared, or not attached */
    if (mg_virtio_blk_failed(index)) return MG_EIO; /* attached, but it would not start */
    *handle = (mg_handle)index;
    info->capacity = mg_virtio_blk_capacity(index);
    info->block_size = MG_PLATFORM_BLOCK_SIZE;
    info->read_only = mg_virtio_blk_read_only(index);
    return MG_OK;
}

static int block_check(mg_handle h, uint64_t offset, size_t size)
{
    if (h >= (mg_handle)mg_virtio_blk_count() || mg_virtio_blk_failed((int)h)) return MG_EINVAL;
    if (offset % 512 || size % 512) return MG_EINVAL;
    uint64_t cap = mg_virtio_blk_capacity((int)h);
    if (offset > cap || size > cap - offset) return MG_ERANGE;
    return MG_OK;
}

int mg_platform_block_read(mg_handle h, uint64_t offset, void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc || !size) return rc;
    return mg_virtio_blk_io((int)h, 0, offset / 512, buf, size);
}

int mg_platform_block_write(mg_handle h, uint64_t offset, const void *buf, size_t size)
{
    int rc = block_check(h, offset, size);
    if (rc || !size) return rc;
    if (mg_virtio_blk_read_only((int)h)) return MG_EACCES;
    return mg_virtio_blk_io((int)h, 1, offset / 512, (void *)buf, size);
}
