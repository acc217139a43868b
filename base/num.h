/*
 * num.h - the one decimal number parser.
 *
 * Numbers reach mgd as text in paths (ids), query strings (pages, log
 * offsets), headers (Content-Length) and request bodies: each is read
 * strictly here, so that "+1", " 1", "1.5", "0x10" or a number past its
 * type's range is refused the same way everywhere rather than read half
 * (as strtoll would) or wrapped.
 */
#ifndef MG_BASE_NUM_H
#define MG_BASE_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strict decimal: optional '-', digits, nothing else; within [min, max].
 * 0, or -1 (NULL, not a number, out of range, overflow). */
int mg_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* The n bytes at s as an unsigned decimal: digits only, at least one, no
 * overflow past UINT64_MAX (a NUL among them is not a digit). */
bool mg_parse_u64n(const char *s, size_t n, uint64_t *out);

#endif
