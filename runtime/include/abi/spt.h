/*
 * abi/spt.h - how the spt tender (mg-spt) hands over to an spt image:
 * shared by the tender (runtime/tender/spt/mg-spt.c, a host program) and
 * the spt binding (runtime/bindings/spt/), so plain C with fixed-size
 * types and nothing of either side's headers.
 *
 * The tender maps the image's segments, opens the attached devices, fills
 * one struct mg_spt_boot in its own memory, installs its seccomp filter
 * and calls the image's entry point as a function, on its own stack,
 * with the thread pointer (the FS base) at 0, so that the image has no
 * thread-local storage and any access to it faults:
 *
 *     void _start(struct mg_spt_boot *boot);
 *
 * The image then runs in the tender's process and talks to the host only
 * through the system calls the filter allows (see mg-spt.c): everything it
 * needs to find (the heap, the devices' descriptors, its arguments) is in
 * the boot structure. The layout is versioned by MG_SPT_ABI, which is also
 * the ABI written into spt images' notes (targets/spt.json's
 * "abi" must follow it): a tender refuses other versions, and an image
 * refuses a boot structure of another version.
 *
 * ABI 2 added the network devices (nets, n_nets). Block and network
 * devices share the platform's handle space (abi/platform.h): block i is
 * handle i, network device i is handle MG_SPT_MAX_BLOCKS + i, so that one
 * number says which kind a handle is and every handle stays below
 * MG_PLATFORM_MAX_HANDLES.
 */
#ifndef MG_ABI_SPT_H
#define MG_ABI_SPT_H

#include <stdint.h>

#define MG_SPT_ABI 2
#define MG_SPT_MAGIC 0x6d67737074626f6full /* "mgsptboo" */
#define MG_SPT_MAX_BLOCKS 16
#define MG_SPT_MAX_NETS 16
#define MG_SPT_NAME_MAX 64

struct mg_spt_block {
    char name[MG_SPT_NAME_MAX]; /* the device's name in the config */
    int32_t fd;                 /* open on the host file */
    uint32_t writable;          /* 0: opened read-only */
    uint64_t capacity;          /* bytes, a multiple of 512 */
};

struct mg_spt_net {
    char name[MG_SPT_NAME_MAX]; /* the device's name in the config */
    int32_t fd;                 /* /dev/net/tun attached to the tap, non-blocking,
                                 * without packet information (IFF_NO_PI) */
    uint32_t mtu;               /* the tap's MTU: payload bytes of a frame */
    uint8_t mac[6];             /* the image's own address */
    uint8_t pad[2];
};

struct mg_spt_boot {
    uint64_t magic; /* MG_SPT_MAGIC */
    uint64_t abi;   /* MG_SPT_ABI */
    int32_t argc;   /* the image's arguments, argv[0] its name */
    char **argv;
    uint64_t heap_start, heap_size; /* read-write memory for the allocator */
    uint32_t n_blocks;
    struct mg_spt_block blocks[MG_SPT_MAX_BLOCKS];
    uint32_t n_nets;
    struct mg_spt_net nets[MG_SPT_MAX_NETS];
};

#endif
