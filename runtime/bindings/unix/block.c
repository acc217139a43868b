/*
 * block.c - the unix binding's block devices: host files.
 *
 * A device NAME is the file named by the environment variable
 * MG_BLOCK_<name> (the name as written) when set (`mgd run --block
 * NAME=FILE` sets it), else the file NAME relative to the working
 * directory. It is opened read-write, or read-only when the environment
 * variable MG_READ_ONLY_<name> is 1 (`mgd run --block NAME=FILE:ro`) or
 * the host refuses writing (writes then fail with MG_EACCES, as on spt and
 * virtio). The capacity is the file's size rounded down to whole 512-byte
 * blocks, fixed at acquire: the image never grows the file. A file smaller
 * than one block is refused (MG_EINVAL), as `mgd run` refuses it on every
 * target.
 *
 * Every acquire opens the file again and takes a new handle; handles are
 * never given back (devices live as long as the image), and they share
 * the handle space with network devices (unix.h, handles.c), below
 * MG_PLATFORM_MAX_HANDLES. At most MG_PLATFORM_MAX_BLOCKS names are
 * acquired (MG_ENOSPC after that), the limit of every target.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/platform.h"
#include "unix.h"

#define MG_UNIX_BLOCK_SIZE ((unsigned)MG_PLATFORM_BLOCK_SIZE)

static struct mg_unix_block {
    bool used;
    bool read_only;
    int fd;
    uint64_t capacity;
    char *name; /* to count devices, not acquires, against the limit */
} mg_unix_blocks[MG_PLATFORM_MAX_HANDLES];

static int mg_unix_block_status(int err)
{
    switch (err) {
    case ENOENT:
        return MG_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return MG_EACCES;
    case EISDIR:
        return MG_EISDIR;
    case ENOTDIR:
        return MG_ENOTDIR;
    case ENOMEM:
        return MG_ENOMEM;
    case ENOSPC:
        return MG_ENOSPC;
    default:
        return MG_EIO;
    }
}

/* The value of the environment variable PREFIX followed by `name` exactly
 * as written, or NULL; *status is MG_ENOMEM when it could not be asked. */
static const char *mg_unix_block_env(const char *prefix, const char *name, int *status)
{
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *var = malloc(len);
    if (!var) {
        *status = MG_ENOMEM;
        return NULL;
    }
    snprintf(var, len, "%s%s", prefix, name);
    const char *value = getenv(var);
    free(var);
    return value;
}

/* Whether another block device than `name` may be acquired: one already
 * acquired may be again, a new one only below the limit. */
static bool mg_unix_block_room(const char *name)
{
    int n = 0;
    for (int h = 0; h < MG_PLATFORM_MAX_HANDLES; h++) {
        if (!mg_unix_blocks[h].used) continue;
        bool earlier = false;
        for (int e = 0; e < h && !earlier; e++)
            earlier =
                mg_unix_blocks[e].used && !strcmp(mg_unix_blocks[e].name, mg_unix_blocks[h].name);
        if (!strcmp(mg_unix_blocks[h].name, name)) return true;
        if (!earlier) n++;
    }
    return n < MG_PLATFORM_MAX_BLOCKS;
}

int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info)
{
    if (!name || !*name) return MG_EINVAL;
    if (!mg_unix_block_room(name)) return MG_ENOSPC;
    int status = MG_OK;
    const char *path = mg_unix_block_env("MG_BLOCK_", name, &status);
    const char *ro = status == MG_OK ? mg_unix_block_env("MG_READ_ONLY_", name, &status) : NULL;
    if (status != MG_OK) return status;
    if (!path || !*path) path = name;

    bool read_only = ro && !strcmp(ro, "1");
    int fd = read_only ? -1 : open(path, O_RDWR | O_CLOEXEC);
    if (read_only || (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))) {
        read_only = true;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return mg_unix_block_status(errno);
    /* lseek gives the size of regular files and of host block devices alike. */
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0 || end < (off_t)MG_UNIX_BLOCK_SIZE) {
        status = end < 0 ? mg_unix_block_status(errno) : MG_EINVAL; /* not one whole block */
        close(fd);
        return status;
    }
    char *copy = strdup(name);
    mg_handle h;
    if (!copy || mg_unix_handle_take(&h) != MG_OK) {
        free(copy);
        close(fd);
        return copy ? MG_ENOSPC : MG_ENOMEM;
    }
    mg_unix_blocks[h].used = true;
    mg_unix_blocks[h].fd = fd;
    mg_unix_blocks[h].read_only = read_only;
    mg_unix_blocks[h].capacity = (uint64_t)end / MG_UNIX_BLOCK_SIZE * MG_UNIX_BLOCK_SIZE;
    mg_unix_blocks[h].name = copy;
    *handle = h;
    info->capacity = mg_unix_blocks[h].capacity;
    info->block_size = MG_UNIX_BLOCK_SIZE;
    info->read_only = read_only;
    return MG_OK;
}

/* Checks a transfer; returns the device or NULL with *status set. */
static struct mg_unix_block *mg_unix_block_check(mg_handle handle, uint64_t offset, size_t size,
                                                 int *status)
{
    if (handle >= MG_PLATFORM_MAX_HANDLES || !mg_unix_blocks[handle].used) {
        *status = MG_EINVAL;
        return NULL;
    }
    struct mg_unix_block *b = &mg_unix_blocks[handle];
    if (offset % MG_UNIX_BLOCK_SIZE || size % MG_UNIX_BLOCK_SIZE) {
        *status = MG_EINVAL;
        return NULL;
    }
    if (offset > b->capacity || size > b->capacity - offset) {
        *status = MG_ERANGE;
        return NULL;
    }
    return b;
}

int mg_platform_block_read(mg_handle handle, uint64_t offset, void *buf, size_t size)
{
    int status;
    struct mg_unix_block *b = mg_unix_block_check(handle, offset, size, &status);
    if (!b) return status;
    unsigned char *p = buf;
    while (size > 0) {
        ssize_t n = pread(b->fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return mg_unix_block_status(errno);
        if (n == 0) return MG_EIO; /* the host file shrank under us */
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return MG_OK;
}

int mg_platform_block_write(mg_handle handle, uint64_t offset, const void *buf, size_t size)
{
    int status;
    struct mg_unix_block *b = mg_unix_block_check(handle, offset, size, &status);
    if (!b) return status;
    if (b->read_only) return MG_EACCES;
    const unsigned char *p = buf;
    while (size > 0) {
        ssize_t n = pwrite(b->fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return mg_unix_block_status(errno);
        if (n == 0) return MG_EIO;
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return MG_OK;
}
