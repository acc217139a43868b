/*
 * crunch_host.h - the toolchain's crunch generator as fuzz_crunch.c calls
 * it. A header of its own because the runtime's headers (mg/mg.h) and
 * mgd's (base/err.h) both define MG_OK and cannot meet in one file.
 */
#ifndef MG_FUZZ_CRUNCH_HOST_H
#define MG_FUZZ_CRUNCH_HOST_H

#include <stddef.h>

/* mg_crunch_generate of the one directory `dir` under `root`: the C text
 * (malloc'd) and the number of files, or NULL with the reason in `why`. */
char *mg_fuzz_crunch_generate(const char *root, const char *dir, size_t *files, char *why,
                              size_t why_size);
/* mg_rm_rf (base/fsutil.h). */
int mg_fuzz_rm_rf(const char *path);

#endif
