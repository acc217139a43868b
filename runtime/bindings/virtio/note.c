/*
 * note.c - which virtio device is which. The image's note
 * (abi/image_note.h) lists the devices the image acquires, "device KIND
 * NAME" a line, in the order in which mgd run attaches them: the n-th
 * block (network) device of the note is the n-th virtio-blk (virtio-net)
 * device on the bus.
 */
#include <string.h>

#include "abi/image_note.h"
#include "virtio.h"

/* The position of device `name` among the note's devices of `kind`
 * ("block", "net"), or -1 if the note does not declare it. */
int mg_virtio_note_index(const char *kind, const char *name)
{
    const char *text = mg__image_note.desc;
    size_t klen = strlen(kind), nlen = strlen(name);
    int index = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        /* "device " KIND " " NAME */
        if ((size_t)(end - line) > 7 + klen + 1 && !strncmp(line, "device ", 7) &&
            !strncmp(line + 7, kind, klen) && line[7 + klen] == ' ') {
            const char *n = line + 7 + klen + 1;
            if ((size_t)(end - n) == nlen && !strncmp(n, name, nlen)) return index;
            index++;
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}
