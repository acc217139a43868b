/*
 * block.c - the unix binding's block devices: host files.
 *
 * A device NAME is the file named by the environment variable
 * MG_BLOCK_<name> (the name as written) when set (`mgd run --block
 * NAME=FILE` sets it), else the file NAME relative to the working
 * directory. It is opened read-write, or read-only when the host refuses
 * writing (writes then fail with MG_EACCES). The capacity is the file's
 * size rounded down to whole 512-byte blocks, fixed at acquire: the image
 * never grows the file.
 *
 * Every acquire opens the file again and takes a new handle; handles are
 * never given back (devices live as long as the image), and they share
 * the handle space with network devices (unix.h, handles.c), below
 * MG_PLATFORM_MAX_HANDLES.
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

#define MG_UNIX_BLOCK_SIZE 512u

static struct mg_unix_block {
    bool used;
    bool read_only;
    int fd;
    uint64_t capacity;
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

int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info)
{
    if (!name || !*name) return MG_EINVAL;
    /* the variable is MG_BLOCK_ followed by the name exactly as written */
    size_t len = strlen("MG_BLOCK_") + strlen(name) + 1;
    char *var = malloc(len);
    if (!var) return MG_ENOMEM;
    snprintf(var, len, "MG_BLOCK_%s", name);
    const char *path = getenv(var);
    free(var);
    if (!path || !*path) path = name;

    bool read_only = false;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
        read_only = true;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return mg_unix_block_status(errno);
    /* lseek gives the size of regular files and of host block devices alike. */
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
        int status = mg_unix_block_status(errno);
        close(fd);
        return status;
    }
    mg_handle h;
    if (mg_unix_handle_take(&h) != MG_OK) {
        close(fd);
        return MG_ENOSPC;
    }
    mg_unix_blocks[h].used = true;
    mg_unix_blocks[h].fd = fd;
    mg_unix_blocks[h].read_only = read_only;
    mg_unix_blocks[h].capacity = (uint64_t)end / MG_UNIX_BLOCK_SIZE * MG_UNIX_BLOCK_SIZE;
    *handle = h;
    info->capacity = mg_unix_blocks[h].capacity;
    info->block_size = MG_UNIX_BLOCK_SIZE;
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
