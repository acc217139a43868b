/*
 * direct_kv_walk.h - private to direct_kv_ro.c and direct_kv_rw.c: the one
 * way both resolve a key's dictionaries under the store's directory, so
 * that reads and writes refuse symbolic links alike (direct_kv_ro.c has
 * the definition and says why it walks).
 */
#ifndef MG_KV_DIRECT_KV_WALK_H
#define MG_KV_DIRECT_KV_WALK_H

/* Opens the dictionary holding the last segment of the normalised,
 * non-empty `key`, relative to `dirfd`, one segment at a time and
 * following no symbolic link; *last is that segment. With `create`, a
 * missing dictionary on the way is made (mkdirat in the one above it)
 * before it is opened. Returns `dirfd` itself for a key of one segment
 * (close only what differs from it), a new descriptor, or -1 with errno
 * set: ELOOP when a segment on the way is a symbolic link (even dangling),
 * ENOTDIR when it is something else than a dictionary, ENOENT when it is
 * missing and `create` is 0. */
int mg_direct_kv_walk(int dirfd, const char *key, const char **last, int create);

#endif
