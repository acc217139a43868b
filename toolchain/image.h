/*
 * image.h - the image's note on mgd's side: generating it for a build and
 * reading it back from an image file (for `mgd run` and the spt tender).
 * The note's format is the runtime's ABI, shared with the images
 * themselves: runtime/include/abi/image_note.h.
 *
 * Reading never trusts the file: every offset and size is checked, and
 * anything else is "not an mgd image".
 */
#ifndef MG_TOOLCHAIN_IMAGE_H
#define MG_TOOLCHAIN_IMAGE_H

#include <stddef.h>

#include "base/err.h"

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

/* The note as C source (GNU C: a section attribute) for the image's build,
 * which compiles it with runtime/include on its include path. Device names
 * may not contain newlines (checked by the caller). */
char *mg_image_note_c(const mg_image_info *info);

/* Reads the note of the image at `path`. 0, or -1 with a message. */
int mg_image_read_info(const char *path, mg_image_info *info, mg_err *err);

void mg_image_info_free(mg_image_info *info);

#endif
