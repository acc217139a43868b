/*
 * abi/platform.h - the one interface between device libraries and a
 * target: what every binding implements.
 *
 * Modelled on Solo5's solo5.h: a handful of calls, no callbacks, one
 * blocking point (mg_platform_yield). Device libraries are written once
 * against this header; each target's binding (runtime/bindings/<target>/)
 * implements it: `unix` on the host's C library, `spt` and `virtio` on
 * runtime/libc. mg_platform_abort alone is written once for every target
 * (runtime/bindings/abort.c), so that an abort looks and ends the same
 * everywhere.
 *
 * Conventions: times are nanoseconds; functions that can fail return an
 * MG_* status from mg/mg.h; handles are small integers below
 * MG_PLATFORM_MAX_HANDLES so that a set of them fits in one mg_handle_set.
 * Nothing here is thread-safe: the runtime is single-threaded.
 */
#ifndef MG_ABI_PLATFORM_H
#define MG_ABI_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "abi/fault.h"
#include "abi/image_note.h"
#include "mg/mg.h"

#define MG_PLATFORM_MAX_HANDLES 64

/* Devices of each kind an image may use, the same on every target (the
 * image's note may declare no more; unix acquires no more). */
#define MG_PLATFORM_MAX_BLOCKS MG_IMAGE_MAX_BLOCKS
#define MG_PLATFORM_MAX_NETS MG_IMAGE_MAX_NETS

typedef uint64_t mg_handle;     /* a block or network device */
typedef uint64_t mg_handle_set; /* bit h set: handle h */

/* Writes bytes to the console (unix: standard output), all of them. */
void mg_platform_console_write(const char *buf, size_t size);

/* Monotonic time since an arbitrary point; never goes backwards. */
uint64_t mg_platform_clock_monotonic(void);

/* Wall-clock time since the Unix epoch; can jump. */
uint64_t mg_platform_clock_wall(void);

/* The only blocking call: waits until the monotonic clock reaches
 * `deadline` or one of the network handles in *ready_set has data,
 * whichever comes first, and stores the ready ones among them in
 * *ready_set (0 on timeout). On entry *ready_set holds the handles the
 * caller listens to (the loop's watched handles): frames waiting on any
 * other acquired handle neither end the wait nor show, so an image that
 * is not reading a device does not spin on it. Past the deadline the
 * handles are still checked once, without waiting. */
void mg_platform_yield(uint64_t deadline, mg_handle_set *ready_set);

/* Fills `buf` with `size` bytes from the platform's entropy source (unix:
 * getrandom). Returns MG_OK or MG_EIO. */
int mg_platform_entropy(void *buf, size_t size);

/* Block devices. `name` is the device's name in the config; on unix it is
 * the host file named by the environment variable MG_BLOCK_<name> if set
 * (`mgd run --block NAME=FILE` sets it), else the file `name` relative to
 * the working directory, read-only if MG_READ_ONLY_<name> is 1 (`mgd run
 * --block NAME=FILE:ro`) or the host refuses writing it. Offsets and sizes
 * are multiples of block_size; a transfer past the capacity is MG_ERANGE.
 * Reads and writes complete before returning (as in Solo5).
 *
 * On every target the capacity is the file's size rounded down to whole
 * sectors, and nothing ever writes past it: a run never changes the size
 * of a disk file. A file smaller than one sector is no disk: `mgd run` and
 * the spt tender refuse it before the image starts, and the unix binding's
 * acquire answers MG_EINVAL. */
#define MG_PLATFORM_BLOCK_SIZE 512
struct mg_block_info {
    uint64_t capacity;   /* bytes, a multiple of block_size, at least one block */
    uint64_t block_size; /* bytes; MG_PLATFORM_BLOCK_SIZE */
    int read_only;       /* 1: writes are refused with MG_EACCES */
};
/* MG_OK; MG_ENOENT (not attached; unix: no such file); MG_EINVAL (unix: a
 * file smaller than one block); MG_ENOSPC (unix: MG_PLATFORM_MAX_BLOCKS
 * devices acquired already, or no handle left); MG_EACCES, MG_EIO. */
int mg_platform_block_acquire(const char *name, mg_handle *handle, struct mg_block_info *info);
int mg_platform_block_read(mg_handle handle, uint64_t offset, void *buf, size_t size);
/* As read, and MG_EACCES on a read-only device, the file untouched. */
int mg_platform_block_write(mg_handle handle, uint64_t offset, const void *buf, size_t size);

/* Network devices: Ethernet frames in and out, as Solo5's net calls.
 * `name` is the device's name in the config. unix: the host's tap
 * interface named by the environment variable MG_NET_<name> if set (`mgd
 * run --net NAME=TAP` sets it), else the interface `name`; spt: the tap
 * the tender attached (--net:NAME=TAP); virtio: the n-th virtio-net
 * device on the PCI bus for the n-th net device of the image's note.
 * A frame is the Ethernet header and payload without the FCS: at most
 * mtu + 14 bytes. Writes complete before returning (the frame is copied
 * or sent); reads never wait: a handle with frames waiting shows in
 * mg_platform_yield's ready set until they are all read. */
#define MG_NET_HEADER_SIZE 14 /* destination, source, EtherType */
struct mg_net_info {
    uint8_t mac[6]; /* the image's own address (unix, spt: random, locally
                     * administered, unless MG_MAC_<name> / --net-mac
                     * gives one; virtio: the device's) */
    size_t mtu;     /* payload bytes of a frame: the host tap's MTU on every
                     * target (virtio: what the device says, through
                     * VIRTIO_NET_F_MTU; 1500 if it says nothing) */
};
/* MG_OK; MG_ENOENT (not attached; unix: no such tap); MG_EEXIST (already
 * acquired: a device has one reader, on every target); MG_ENOSPC (unix:
 * MG_PLATFORM_MAX_NETS devices acquired already); MG_EINVAL, MG_EIO. */
int mg_platform_net_acquire(const char *name, mg_handle *handle, struct mg_net_info *info);
/* Sends one frame. MG_OK; MG_EINVAL (shorter than the header, longer than
 * mtu + 14, or not a handle); MG_EIO (the host refused it). */
int mg_platform_net_write(mg_handle handle, const void *buf, size_t size);
/* Takes the next waiting frame into `buf`, which holds `size` bytes (at
 * least mtu + 14). MG_OK with its length in *read_size; MG_EAGAIN when none
 * is waiting; MG_EINVAL (buf too small, not a handle); MG_EIO. */
int mg_platform_net_read(mg_handle handle, void *buf, size_t size, size_t *read_size);

/* Ends the image with `status`. On virtio only 0 to 126 come back
 * (abi/vm_exit.h): any other status comes back as 126. */
_Noreturn void mg_platform_exit(int status);

/* MG_EXIT_ABORT, the exit status of an aborted image, is in abi/fault.h,
 * which host programs (mgd run, the spt tender) include too. */

/* Ends the image after printing "abort: MSG" on the console, with the
 * status MG_EXIT_ABORT (runtime/bindings/abort.c, for every target). */
_Noreturn void mg_platform_abort(const char *msg);

#endif
