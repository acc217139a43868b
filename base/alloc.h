/*
 * alloc.h - heap allocation under mgd's one out-of-memory policy.
 *
 * The policy, for all of mgd's C code:
 *
 *  - Memory whose size a client or a user's config controls (request
 *    bodies, response texts, logs read back, fetched files) is allocated
 *    with plain malloc/realloc and checked: its failure is an answer
 *    ("500 out of memory", a failed build), never a crash. The byte
 *    buffer (buf.h) does this for callers with a sticky `failed` flag.
 *  - Everything else (bookkeeping sized by mgd itself: a path, a few
 *    strings, one node of a resolution) comes from these functions, which
 *    abort on failure. Checking each of those would bury the logic, and a
 *    process that cannot find a few hundred bytes cannot answer anyway;
 *    mgd's daemon is restarted by its supervisor and loses nothing, as
 *    every state change is a SQLite transaction.
 */
#ifndef MG_BASE_ALLOC_H
#define MG_BASE_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *mg_xmalloc(size_t size);
void *mg_xrealloc(void *p, size_t size);
char *mg_xstrdup(const char *s);
/* vprintf into a new heap string (the caller frees it). */
char *mg_xvasprintf(const char *fmt, va_list ap);
char *mg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
