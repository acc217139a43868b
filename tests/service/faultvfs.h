/*
 * faultvfs.h - a SQLite VFS for tests that fails the Nth file operation.
 *
 * SQLite's own test suite proves it survives I/O errors by running each
 * statement with a shim VFS whose reads, writes, syncs and truncations
 * fail at the Nth call, for N = 1, 2, ... until one run goes through.
 * This is that shim for mgd's tests: installed as the process's default
 * VFS over the real one (so the store, which opens its database with the
 * default VFS, uses it without a line of test code in the daemon), it
 * passes everything through until armed. Armed, it counts the calls of
 * xRead, xWrite, xSync and xTruncate made by the arming thread only (the
 * queue's timer thread and other threads are never failed, so a run is
 * repeatable) and fails the Nth of them, or the Nth and every later one
 * (`persistent`: a disk that stays broken):
 *   - FAULT_IOERR: each method with its own error (SQLITE_IOERR_READ,
 *     _WRITE, _FSYNC, _TRUNCATE), all four counted;
 *   - FAULT_FULL: only writes are counted, and fail with SQLITE_FULL (a
 *     full disk: SQLite's unix VFS says that for ENOSPC).
 * Only for tests: the daemon never links it.
 */
#ifndef MG_TESTS_SERVICE_FAULTVFS_H
#define MG_TESTS_SERVICE_FAULTVFS_H

#include <stdbool.h>

typedef enum { FAULT_IOERR, FAULT_FULL } fault_kind;

/* The calls counted, per method, since the process started (all threads
 * that were armed), for the test's report. */
typedef struct fault_stats {
    unsigned long reads, writes, syncs, truncates, injected;
} fault_stats;

/* Registers the shim as the default VFS (once; later calls do nothing).
 * 0, or a SQLite error code. */
int faultvfs_install(void);
/* Arms the shim for the calling thread: the `n`th counted call from now
 * fails (and every one after it when `persistent`). */
void faultvfs_arm(unsigned n, bool persistent, fault_kind kind);
/* Disarms it; returns how many calls failed since the arming (0: the run
 * ended before the Nth call, so it saw no fault). */
unsigned faultvfs_disarm(void);
void faultvfs_stats(fault_stats *out);

#endif
