/*
 * fsutil.h - small file-system helpers shared by the toolchain and mgd's
 * commands: whole-file reads with a size cap, atomic writes (temporary file
 * in the same directory with a fresh name, then rename, so readers never
 * see half a file and concurrent writers never mix), mkdir -p, rm -rf
 * that never follows symbolic links, and standard descriptors made sure.
 * All return 0 on success or -1 with errno set, unless said otherwise.
 */
#ifndef MG_BASE_FSUTIL_H
#define MG_BASE_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

/* Reads a whole file, at most max + 1 bytes (so callers can tell "too
 * big"). Returns a malloc'd, NUL-terminated buffer, or NULL with errno. */
char *mg_file_read(const char *path, size_t max, size_t *len);

/* Writes `len` bytes to `path` atomically with permissions `mode`. */
int mg_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Creates a directory and its missing parents (mode 0755). */
int mg_mkdir_p(const char *path);

/* Removes a file or a directory tree; symbolic links are removed, not
 * followed. A missing path is not an error. */
int mg_rm_rf(const char *path);

/* Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed, so
 * that the next file opened cannot become "standard output" (a program
 * started with >&- would otherwise write its output into it). */
int mg_std_fds_open(void);

/* malloc'd "a/b"; aborts when out of memory. */
char *mg_path_join(const char *a, const char *b);

/* A malloc'd copy of `path` without its last component ("." if none). */
char *mg_path_dirname(const char *path);

#endif
