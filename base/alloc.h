/*
 * alloc.h - heap allocation under mgd's one out-of-memory policy.
 *
 * The policy, for all of mgd's C code, on every thread, decided by what
 * bounds the size of the memory, not by the thread it is on:
 *
 *  - Memory sized by data from outside that only a large limit bounds
 *    (request bodies and response texts, logs and files read back, what a
 *    tool prints, fetched trees, embedded directories) is allocated with
 *    plain malloc/realloc and checked: its failure is an answer ("500 out
 *    of memory", a failed build, a line in the log saying what was lost),
 *    never a crash. The byte buffer (buf.h) does this for callers with a
 *    sticky `failed` flag.
 *  - Memory that mgd bounds tightly comes from these functions and from
 *    arenas (arena.h), which abort on failure: bookkeeping (a path, a few
 *    strings, a list sized by the command line), and the resolution of a
 *    config document, which the config limits (graph/resolve.h: document
 *    size, devices, nesting) cap at a few MiB. Checking each of those
 *    would bury the logic, and a process that cannot find that little
 *    cannot answer anyway; the daemon is restarted by its supervisor and
 *    loses nothing, as every state change is a SQLite transaction.
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
