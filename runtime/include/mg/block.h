/*
 * block.h - block devices (MirageOS's Mirage_block): a fixed number of
 * sectors of a fixed size, read and written whole.
 *
 * Implementations: block_of_file(name) over the platform's block calls
 * (unix: a host file; other targets: the device attached under `name`),
 * and ramdisk(name, size) in memory. Both can live in one image, so every
 * call dispatches through the operations table behind the handle.
 *
 * Contract:
 * - Operations are synchronous: they complete before returning, as
 *   Solo5's block calls do, so no event loop is involved.
 * - Transfers are whole sectors: mg_block_read(b, sector, buf, n) reads
 *   sectors [sector, sector + n) into buf, which holds n * sector_size
 *   bytes. A transfer that does not fit inside the device is MG_ERANGE and
 *   touches nothing; n == 0 is a no-op that succeeds.
 * - Writing to a read-only device is MG_EACCES.
 * - A failing connect prints one line saying why (device and file) and
 *   returns an MG_E* status; the handle is left unset.
 * - Handles belong to the image; mg_block_disconnect() frees one (tests
 *   do). It does not give a platform handle back: the platform has no
 *   release call, so a disconnected block_of_file keeps its host file open.
 *
 * The structures at the end are for implementations of the type (and the
 * libraries built on it); users treat mg_block as opaque.
 */
#ifndef MG_BLOCK_H
#define MG_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_block mg_block;

/* What a block device is made of. */
typedef struct mg_block_geometry {
    uint32_t sector_size; /* bytes; 512 for every implementation here */
    uint64_t n_sectors;   /* the device holds n_sectors * sector_size bytes */
    bool read_write;      /* false: writes are MG_EACCES */
} mg_block_geometry;

/* A block device backed by storage outside the image: on unix the host
 * file named by $MG_BLOCK_<name> if set, else the file `name` relative to
 * the working directory (see abi/platform.h); elsewhere the block device
 * attached under `name`. */
int mg_block_of_file_connect(mg_block **out, const char *name);

/* A zero-filled block device of `size` bytes rounded up to a whole sector
 * (512), in memory. size <= 0 or larger than MG_RAMDISK_MAX_SIZE is
 * MG_EINVAL; memory exhaustion is MG_ENOMEM. `name` appears in messages. */
#define MG_RAMDISK_MAX_SIZE ((int64_t)1 << 40)
int mg_ramdisk_connect(mg_block **out, const char *name, int64_t size);

/* The geometry of `b`. */
void mg_block_get_info(const mg_block *b, mg_block_geometry *info);

/* The name `b` was connected with (for messages). */
const char *mg_block_name(const mg_block *b);

/* Reads `n_sectors` sectors from `sector` into `buf`. MG_OK, MG_ERANGE
 * (not inside the device), MG_EINVAL (buf NULL) or MG_EIO. */
int mg_block_read(mg_block *b, uint64_t sector, void *buf, size_t n_sectors);

/* Writes `n_sectors` sectors from `buf` at `sector`. As mg_block_read, and
 * MG_EACCES on a read-only device. */
int mg_block_write(mg_block *b, uint64_t sector, const void *buf, size_t n_sectors);

/* Frees `b` (NULL is fine). */
void mg_block_disconnect(mg_block *b);

/* ---- For implementations --------------------------------------------
 * An implementation embeds struct mg_block as the first member of its own
 * state and fills in ops, name and geometry. mg_block_read/write check the
 * arguments (range, NULL, read-only) before calling ops, so ops only see
 * transfers inside the device with n_sectors >= 1. */
struct mg_block_ops {
    int (*read)(mg_block *b, uint64_t sector, void *buf, size_t n_sectors);
    int (*write)(mg_block *b, uint64_t sector, const void *buf, size_t n_sectors);
    void (*disconnect)(mg_block *b); /* frees the implementation's state */
};

struct mg_block {
    const struct mg_block_ops *ops;
    const char *name; /* owned by the implementation */
    mg_block_geometry geometry;
};

#endif
