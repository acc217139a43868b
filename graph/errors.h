/*
 * errors.h - the resolver's error list.
 *
 * Resolution never stops at the first problem it can recover from, so every
 * stage appends to one mg_errors list instead of returning a single error.
 * Each error has a code (mg_error_code below), a JSON pointer into
 * the document (or "" for the whole document, or a key name for problems
 * with build-time key values) and a message a user can act on.
 *
 * Adding the same (code, path, message) twice records it once, so stages
 * that meet one problem from several directions do not repeat themselves.
 * Messages are not truncated (a cut could split a UTF-8 sequence).
 */
#ifndef MG_GRAPH_ERRORS_H
#define MG_GRAPH_ERRORS_H

#include <stddef.h>

typedef enum mg_error_code {
    MG_ERR_PARSE_ERROR,
    MG_ERR_UNSUPPORTED_VERSION,
    MG_ERR_SCHEMA,
    MG_ERR_DUPLICATE_NAME,
    MG_ERR_UNKNOWN_NAME,
    MG_ERR_UNKNOWN_DEVICE,
    MG_ERR_UNKNOWN_PARAM,
    MG_ERR_MISSING_PARAM,
    MG_ERR_UNKNOWN_TYPE,
    MG_ERR_TYPE_MISMATCH,
    MG_ERR_NOT_A_FUNCTOR,
    MG_ERR_ARITY,
    MG_ERR_NON_EXHAUSTIVE,
    MG_ERR_JOB_TYPE,
    MG_ERR_CYCLE,
    MG_ERR_UNKNOWN_KEY,
    MG_ERR_MISSING_KEY,
    MG_ERR_BAD_KEY_VALUE,
    MG_ERR_BAD_PATH,
    MG_ERR_UNSUPPORTED_TARGET,
    MG_ERR_LIBRARY_CONFLICT,
    MG_ERR_LIMIT,
    MG_ERR_CODE_COUNT
} mg_error_code;

typedef struct mg_error {
    mg_error_code code;
    char *path;    /* JSON pointer, "" or a key name; owned */
    char *message; /* owned */
} mg_error;

typedef struct mg_errors {
    mg_error *items;
    size_t len;
    size_t cap;
} mg_errors;

/* At most this many errors are kept; one more, a `limit` error, says so. */
#define MG_ERRORS_MAX 200

/* The documented name of a code ("type_mismatch", docs/config.md). */
const char *mg_error_code_name(mg_error_code code);

/* Appends an error; the message is printf-formatted. Duplicates are dropped. */
void mg_errors_add(mg_errors *errs, mg_error_code code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Number of errors with this code (tests and callers that branch on codes). */
size_t mg_errors_count(const mg_errors *errs, mg_error_code code);

void mg_errors_free(mg_errors *errs);

#endif
