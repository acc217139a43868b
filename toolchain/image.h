/*
 * image.h - what an image says about itself.
 *
 * Every image mgd builds carries an ELF note (owner "MGD", type
 * MG_IMAGE_NOTE_TYPE, in an allocated SHT_NOTE section, so it survives
 * stripping and is found through the program headers): a few text lines
 *
 *     mgd-image 1
 *     name hello
 *     target unix
 *     arch x86_64
 *     abi 1
 *     device block disk      (one line per platform device it acquires)
 *
 * `mgd run` reads it to launch the image the right way and to check the
 * devices given on its command line; the spt tender will refuse an image
 * whose target or ABI is not its own. Reading never trusts the file: every
 * offset and size is checked, and anything else is "not an mgd image".
 */
#ifndef MG_TOOLCHAIN_IMAGE_H
#define MG_TOOLCHAIN_IMAGE_H

#include <stddef.h>

#include "base/err.h"

#define MG_IMAGE_NOTE_TYPE 0x4d47 /* "MG" */
#define MG_IMAGE_NOTE_MAX 65536   /* bytes of note text */

typedef struct mg_image_device {
    char *kind; /* "block" or "net" */
    char *name;
} mg_image_device;

typedef struct mg_image_info {
    char *name, *target, *arch;
    int abi;
    mg_image_device *devices;
    size_t n_devices;
} mg_image_info;

/* The note as C source (GNU C: a section attribute) for the image's build.
 * Device names may not contain newlines (checked by the caller). */
char *mg_image_note_c(const mg_image_info *info);

/* Reads the note of the image at `path`. 0, or -1 with a message. */
int mg_image_read_info(const char *path, mg_image_info *info, mg_err *err);

void mg_image_info_free(mg_image_info *info);

#endif
