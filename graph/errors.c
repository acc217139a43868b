#include "graph/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

static const char *const code_names[MG_ERR_CODE_COUNT] = {
    [MG_ERR_PARSE_ERROR] = "parse_error",
    [MG_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
    [MG_ERR_SCHEMA] = "schema",
    [MG_ERR_DUPLICATE_NAME] = "duplicate_name",
    [MG_ERR_UNKNOWN_NAME] = "unknown_name",
    [MG_ERR_UNKNOWN_DEVICE] = "unknown_device",
    [MG_ERR_UNKNOWN_PARAM] = "unknown_param",
    [MG_ERR_MISSING_PARAM] = "missing_param",
    [MG_ERR_UNKNOWN_TYPE] = "unknown_type",
    [MG_ERR_TYPE_MISMATCH] = "type_mismatch",
    [MG_ERR_NOT_A_FUNCTOR] = "not_a_functor",
    [MG_ERR_ARITY] = "arity",
    [MG_ERR_NON_EXHAUSTIVE] = "non_exhaustive",
    [MG_ERR_JOB_TYPE] = "job_type",
    [MG_ERR_CYCLE] = "cycle",
    [MG_ERR_UNKNOWN_KEY] = "unknown_key",
    [MG_ERR_MISSING_KEY] = "missing_key",
    [MG_ERR_BAD_KEY_VALUE] = "bad_key_value",
    [MG_ERR_BAD_PATH] = "bad_path",
    [MG_ERR_UNSUPPORTED_TARGET] = "unsupported_target",
    [MG_ERR_LIBRARY_CONFLICT] = "library_conflict",
    [MG_ERR_LIMIT] = "limit",
};

const char *mg_error_code_name(mg_error_code code)
{
    return (unsigned)code < MG_ERR_CODE_COUNT ? code_names[code] : "unknown";
}

void mg_errors_add(mg_errors *errs, mg_error_code code, const char *path, const char *fmt, ...)
{
    if (errs->len > MG_ERRORS_MAX) return; /* the "too many" note is already there */
    if (!path) path = "";
    va_list ap;
    va_start(ap, fmt);
    char *msg = mg_xvasprintf(fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < errs->len; i++) {
        const mg_error *e = &errs->items[i];
        if (e->code == code && !strcmp(e->path, path) && !strcmp(e->message, msg)) {
            free(msg);
            return;
        }
    }
    if (errs->len == errs->cap) {
        errs->cap = errs->cap ? errs->cap * 2 : 8;
        errs->items = mg_xrealloc(errs->items, errs->cap * sizeof *errs->items);
    }
    if (errs->len == MG_ERRORS_MAX) {
        /* A document that is wrong in thousands of places gets the first
         * ones and a note, not a report that costs more than it helps. */
        free(msg);
        msg = mg_xstrdup("more errors were found; fix these first");
        code = MG_ERR_LIMIT;
        path = "";
    }
    errs->items[errs->len++] = (mg_error){code, mg_xstrdup(path), msg};
}

size_t mg_errors_count(const mg_errors *errs, mg_error_code code)
{
    size_t n = 0;
    for (size_t i = 0; i < errs->len; i++) n += errs->items[i].code == code;
    return n;
}

void mg_errors_free(mg_errors *errs)
{
    for (size_t i = 0; i < errs->len; i++) {
        free(errs->items[i].path);
        free(errs->items[i].message);
    }
    free(errs->items);
    *errs = (mg_errors){0};
}
