/*
 * block_of_file.c - block_of_file(name): a block device over the platform's
 * block calls (abi/platform.h), so the same code serves every target: on
 * unix the platform maps `name` to a host file, on Solo5-like targets to
 * the device attached under that name.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/block.h"
#include "abi/platform.h"

typedef struct block_of_file {
    mg_block block; /* first: a mg_block * is a block_of_file * */
    mg_handle handle;
} block_of_file;

static int block_of_file_read(mg_block *b, uint64_t sector, void *buf, size_t n_sectors)
{
    const block_of_file *f = (const block_of_file *)b;
    uint32_t ss = b->geometry.sector_size;
    return mg_platform_block_read(f->handle, sector * ss, buf, n_sectors * ss);
}

static int block_of_file_write(mg_block *b, uint64_t sector, const void *buf, size_t n_sectors)
{
    const block_of_file *f = (const block_of_file *)b;
    uint32_t ss = b->geometry.sector_size;
    return mg_platform_block_write(f->handle, sector * ss, buf, n_sectors * ss);
}

static void block_of_file_disconnect(mg_block *b)
{
    /* The platform has no call to release a handle (as in Solo5): only
     * the memory goes. */
    free(b);
}

static const struct mg_block_ops block_of_file_ops = {
    .read = block_of_file_read,
    .write = block_of_file_write,
    .disconnect = block_of_file_disconnect,
};

int mg_block_of_file_connect(mg_block **out, const char *name)
{
    if (!name || !*name) {
        mg_printf("block_of_file: the device needs a name\n");
        return MG_EINVAL;
    }
    mg_handle handle;
    struct mg_block_info info = {0};
    int rc = mg_platform_block_acquire(name, &handle, &info);
    if (rc != MG_OK) {
        mg_printf("block_of_file %s: cannot acquire the block device: %s\n", name, mg_strerror(rc));
        return rc;
    }
    /* The geometry must make sense before anything divides by it. */
    if (info.block_size == 0 || info.block_size > UINT32_MAX ||
        info.capacity % info.block_size != 0) {
        mg_printf("block_of_file %s: unusable geometry (capacity %llu, block size %llu)\n", name,
                  (unsigned long long)info.capacity, (unsigned long long)info.block_size);
        return MG_EIO;
    }
    size_t name_len = strlen(name);
    block_of_file *f = malloc(sizeof *f + name_len + 1);
    if (!f) {
        mg_printf("block_of_file %s: out of memory\n", name);
        return MG_ENOMEM;
    }
    char *copy = (char *)(f + 1);
    memcpy(copy, name, name_len + 1);
    f->handle = handle;
    f->block.ops = &block_of_file_ops;
    f->block.name = copy;
    f->block.geometry.sector_size = (uint32_t)info.block_size;
    f->block.geometry.n_sectors = info.capacity / info.block_size;
    /* every target says whether the device is read-only (mgd run's :ro,
     * or a file the host refuses writing): writes then fail here with
     * MG_EACCES, before reaching the platform, which would refuse them too */
    f->block.geometry.read_write = !info.read_only;
    *out = &f->block;
    return MG_OK;
}
