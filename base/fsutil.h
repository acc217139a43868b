/*
 * fsutil.h - small file-system helpers shared by the toolchain and mgd's
 * commands: whole-file reads with a size cap, atomic writes (temporary file
 * in the same directory with a fresh name, then rename, so readers never
 * see half a file and concurrent writers never mix), mkdir -p, rm -rf
 * that never follows symbolic links, standard descriptors made sure, and
 * where mgd's own helper files are (its build tree or its installed tree).
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

/* mgd's private files, in one layout for the build tree and every
 * installed tree (docs/install.md): the daemon module mgd-serve.so and the
 * tender mg-spt sit next to the executable in a build tree, and in
 * <prefix>/lib/mgd/ beside <prefix>/bin/ once installed (Debian's place
 * for a program's private helpers, not on PATH). Relative to the
 * executable, so an install under any prefix or staging root works.
 *
 * mg_own_file_beside: the canonical path (symbolic links resolved, no
 * "..", as sandbox binds need) of `name` next to the program `exe`, else
 * in `exe`'s folder/../lib/mgd/; malloc'd, or NULL with errno (ENOENT
 * when it is in neither place).
 * mg_own_file: the same for the running program (/proc/self/exe). */
char *mg_own_file_beside(const char *exe, const char *name);
char *mg_own_file(const char *name);

#endif
