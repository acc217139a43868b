/*
 * err.h - the one way mgd's own C code reports a failure.
 *
 * A function that can fail returns a status (0 or true on success) and,
 * when its caller passed one, fills an mg_err: a code saying what kind of
 * failure it was, for the caller to branch on (an API handler maps it to
 * an HTTP status), and a message for people, complete in itself ("project
 * 'web' not found", "/var/mgd/cache: No space left on device"). Callers
 * that only pass the message on may pass NULL.
 *
 * Every message buffer in mgd is MG_ERR_SIZE bytes; a longer message is
 * cut, never overflowed. 2 KiB, because a failed build's message carries
 * the tail of what the failing tool printed. A message is one line:
 * control characters in it (the newlines of a libgit2 or a compiler
 * message, or what a client sent and a message quotes) become spaces, so
 * that it fits a log line, a JSON string and a terminal alike and cannot
 * forge a line of a build's log.
 *
 * Not covered on purpose: config documents collect many diagnostics at
 * once, each with its JSON path (graph/errors.h), and the runtime inside
 * a unikernel reports statuses to its callers (mg/mg.h), without libc.
 */
#ifndef MG_BASE_ERR_H
#define MG_BASE_ERR_H

#include <stdarg.h>

#define MG_ERR_SIZE 2048

typedef enum mg_err_code {
    MG_OK = 0,
    MG_E_INVALID,   /* what the caller sent is wrong (400, 422) */
    MG_E_NOT_FOUND, /* no such thing (404) */
    MG_E_CONFLICT,  /* exists already, or not in a state that allows it (409) */
    MG_E_LIMIT,     /* a limit or a quota was reached (413, 429, 503) */
    MG_E_BUSY,      /* try again later (503) */
    MG_E_IO,        /* the disk, the database, a child process failed (500) */
    MG_E_NOSPACE,   /* the disk (or the user's quota) is full: ENOSPC, EDQUOT,
                       SQLITE_FULL. Not the request's fault, and over once space
                       is freed (507) */
    MG_E_CORRUPT,   /* stored data failed verification and was discarded: the
                       action cache treats it as a miss and counts it (500) */
    MG_E_CANCELLED, /* stopped on request before it was done: a fetch or a build that
                       was cancelled ends so, and is not reported as a failure of its own */
    MG_E_NOMEM,     /* out of memory where it could be answered (500) */
    MG_E_INTERNAL,  /* a bug in mgd (500) */
} mg_err_code;

typedef struct mg_err {
    mg_err_code code;
    char msg[MG_ERR_SIZE];
} mg_err;

/* Fills `e` (when not NULL) and returns -1, so that a failing function can
 * `return mg_err_set(e, MG_E_IO, "...: %s", strerror(errno));`. */
int mg_err_set(mg_err *e, mg_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mg_err_vset(mg_err *e, mg_err_code code, const char *fmt, va_list ap);
/* Puts "what: " before the message already in `e` (when not NULL), for a
 * caller that adds its context; returns -1. */
int mg_err_prefix(mg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears `e` to MG_OK and an empty message. */
void mg_err_clear(mg_err *e);

/* The code of a failed system call whose errno is `errnum`: MG_E_NOSPACE
 * for a full disk or quota (ENOSPC, EDQUOT), MG_E_IO for anything else, so
 * that every writer reports a full disk the same way and the API answers
 * it with one status. */
mg_err_code mg_err_code_of_errno(int errnum);

#endif
