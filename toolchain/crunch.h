/*
 * crunch.h - directories of the project turned into C (the crunch action).
 *
 * For each directory a catalog entry embeds (crunch's `dir`), the build
 * generates one C file defining the table declared by the runtime's
 * mg/crunch.h: every regular file under the directory, its path relative to
 * it ('/'-separated, sorted by strcmp) and its bytes. The output depends
 * only on names and contents (no times, modes or owners), so it is
 * byte-identical for the same tree. Any file name the host allows works:
 * names and contents are written as C string literals with octal escapes.
 *
 * The walk never leaves the project: the directory must be a relative
 * path without "..", and a symbolic link, device or fifo inside it is an
 * error (crunch embeds regular files only), as is a tree over the limits.
 * Files are opened beneath the directory without following any link
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and without blocking, so
 * a tree changed under the walk gives an error, never a read outside it or
 * a hang.
 */
#ifndef MG_TOOLCHAIN_CRUNCH_H
#define MG_TOOLCHAIN_CRUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define MG_CRUNCH_MAX_BYTES (256u << 20) /* all trees of one image together */
#define MG_CRUNCH_MAX_FILES 100000       /* all trees of one image together */
#define MG_CRUNCH_MAX_DEPTH 64           /* directories inside a tree */

typedef struct mg_crunch_summary {
    size_t files;
    uint64_t bytes;
} mg_crunch_summary;

/* Generates the table for `dirs` (relative to `root`). Returns the
 * malloc'd C text, or NULL with a message naming the offending path. */
char *mg_crunch_generate(const char *root, const char *const *dirs, size_t n_dirs,
                         mg_crunch_summary *summary, mg_err *err);

#endif
