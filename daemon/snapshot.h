/*
 * snapshot.h - a build's source tree as one deterministic POSIX ustar
 * archive, the bytes a coordinator hands to its pull workers
 * (docs/workers.md).
 *
 * Why: a remote worker has no git access; the coordinator packs the tree
 * it checked out (or wrote from inline sources) under DATA/scratch/<id>/,
 * names it by the sha256 of its bytes, and the worker unpacks it. The
 * same tree must always give the same bytes (so the name is stable and a
 * shared cache can hold it once), and unpacking what came over the
 * network must follow the checkout's rules (daemon/sources.h): a hostile
 * archive never writes outside the destination.
 *
 * The format: entries sorted by path (strcmp), each a 512-byte ustar
 * header ("ustar\0" "00") and its content padded to 512 bytes, then two
 * zero blocks. Only directories (mode 0755, name ending in '/'), regular
 * files (0644, or 0755 when the owner may execute) and symbolic links
 * whose targets stay inside the tree; uid and gid 0, empty user and group
 * names, mtime 0. A path longer than 100 bytes is split at a '/' into the
 * prefix field (at most 155 bytes) and the name; a path that cannot be
 * split so, or a link target longer than 100 bytes, is refused (no pax
 * or GNU extensions, which the unpacker refuses too).
 *
 * Errors follow base/err.h: 0 or -1 with a one-line message naming the
 * entry ("snapshot: entry 'x/../y' leaves the tree").
 */
#ifndef MG_DAEMON_SNAPSHOT_H
#define MG_DAEMON_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Packs the tree under `dir` into `out` (appended). Refuses (MG_E_LIMIT)
 * past max_bytes of archive (0: no limit but the memory), and
 * (MG_E_INVALID) what the format cannot hold: another entry type (fifo,
 * socket, device), a link leaving the tree, a ".git" entry, a path too
 * long for ustar, a tree nested deeper than MG_SOURCES_MAX_DEPTH. */
int mg_snapshot_pack(const char *dir, uint64_t max_bytes, mg_buf *out, mg_err *e);

/* Unpacks archive bytes into dest_dir (an existing, empty directory)
 * under the checkout's rules: only the entry types above, no absolute
 * path, no "..", no ".git" entry, no link leaving the tree, no path
 * through a link, no entry twice, each entry's directory before it, at
 * most max_files entries and max_bytes of content (0:
 * MG_SOURCES_DEFAULT_MAX_*); header checksums, numbers (octal only) and
 * the end of the archive (two zero blocks, then nothing but zeros)
 * checked. Hostile input gives -1 with a message (MG_E_INVALID, or
 * MG_E_LIMIT for a limit, MG_E_IO for the disk), never a write outside
 * dest_dir; dest_dir may then hold part of the tree. */
int mg_snapshot_unpack(const void *data, size_t len, const char *dest_dir, uint64_t max_files,
                       uint64_t max_bytes, mg_err *e);

/* Whether a symbolic link's target (len bytes), read from a link `depth`
 * directories below the root of a tree, resolves inside the tree: a
 * relative target whose ".." segments only lead and climb no higher than
 * the root. The one rule of checkouts (sources.h) and snapshots. */
bool mg_snapshot_link_target_ok(const char *target, size_t len, int depth);

#endif
