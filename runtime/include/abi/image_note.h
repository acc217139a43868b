/*
 * abi/image_note.h - what an image says about itself: the ELF note that
 * every image mgd builds carries. One format, three parties: the toolchain
 * writes it (toolchain/image.c generates it as C, compiled into the
 * image), the host reads it (`mgd run` and the spt tender, through
 * toolchain/image.c, to launch the image the right way and check the
 * devices given), and the image reads its own (the virtio binding learns
 * from it which virtio device is which). So this header is plain C with
 * fixed-size types, compiled freestanding in images and hosted in mgd.
 *
 * The note is owned by MG_IMAGE_NOTE_NAME, of type MG_IMAGE_NOTE_TYPE, in
 * an allocated SHT_NOTE section (MG_IMAGE_NOTE_SECTION), so it survives
 * stripping and is found through the program headers (PT_NOTE). Its
 * descriptor is text, lines of "KEY VALUE":
 *
 *     mgd-image 1
 *     name hello
 *     target unix
 *     arch x86_64
 *     abi 1
 *     device block disk      (one line per platform device it acquires)
 *
 * The first line is MG_IMAGE_NOTE_FIRST_LINE; readers skip keys they do
 * not know, which a later version of the note may add. Device lines are in
 * the order in which `mgd run` attaches the devices, so on virtio the n-th
 * "device block" line is the n-th virtio-blk device on the bus.
 */
#ifndef MG_ABI_IMAGE_NOTE_H
#define MG_ABI_IMAGE_NOTE_H

#include <stdint.h>

#define MG_IMAGE_NOTE_NAME "MGD"
#define MG_IMAGE_NOTE_TYPE 0x4d47 /* "MG" */
#define MG_IMAGE_NOTE_SECTION ".note.mgd.image"
#define MG_IMAGE_NOTE_FIRST_LINE "mgd-image 1\n"
#define MG_IMAGE_NOTE_MAX 65536 /* bytes of descriptor at most */

/* The devices an image may declare, per kind, on every target: a note
 * with more is refused by `mgd run` and the spt tender before the image
 * starts, naming the limit. Here because every party sees this header:
 * the spt boot structure (abi/spt.h) and the virtio drivers have room for
 * exactly this many, and abi/platform.h gives them to the bindings. */
#define MG_IMAGE_MAX_BLOCKS 16
#define MG_IMAGE_MAX_NETS 16

/* The note as it lies in the image: an ELF note header (namesz, descsz,
 * type: Elf64_Nhdr), the owner's name, then the descriptor. */
struct mg_image_note {
    uint32_t namesz; /* sizeof MG_IMAGE_NOTE_NAME: 4, so no padding follows */
    uint32_t descsz; /* the text's length with its NUL */
    uint32_t type;   /* MG_IMAGE_NOTE_TYPE */
    char name[4];    /* MG_IMAGE_NOTE_NAME */
    char desc[];     /* the text and its NUL, then NULs up to a multiple of 4 */
};

/* Every image's own note, under this name: the generated mg_note.c
 * defines it, and the link keeps it though no code refers to it. */
extern const struct mg_image_note mg__image_note;

#endif
