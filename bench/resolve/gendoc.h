/*
 * gendoc.h - the config document that bench-resolve measures.
 *
 * The document is built in memory so the benchmark needs no files and its
 * size is set by constants, not by whatever an example happens to hold. It
 * uses only built-in catalog entries that every target implements, and it
 * sits exactly at the resolver's device limit (docs/resolver.md, "Parsing"),
 * counted the way the resolver counts: every entry of `devices`, plus every
 * constructor call and every user code expression wherever it is written
 * (a named device whose value is a call counts twice: once as an entry,
 * once as a call).
 */
#ifndef MG_BENCH_GENDOC_H
#define MG_BENCH_GENDOC_H

#include <stddef.h>

typedef struct bench_doc {
    char *text; /* NUL-terminated; the caller frees it */
    size_t len;
    size_t devices;    /* the resolver's count: named + calls + user code */
    size_t named;      /* entries of `devices` */
    size_t calls;      /* constructor calls, named or inline */
    size_t user_code;  /* user code expressions */
    size_t jobs;       /* entries of `jobs` */
    size_t keys;       /* declared configure keys */
    size_t tree_depth; /* if/match levels on the deepest path */
    int json_depth;    /* deepest [ / { nesting in the text */
} bench_doc;

/*
 * Writes a document with exactly `devices` devices (at least
 * bench_doc_min_devices()) and an if/match tree `tree_depth` levels deep.
 */
void bench_doc_generate(size_t devices, size_t tree_depth, bench_doc *out);
size_t bench_doc_min_devices(size_t tree_depth);

#endif
