/*
 * crunch.h - the table of files that the build embeds for crunch(dir).
 *
 * For every crunch device of an image, mgd's toolchain generates a C file
 * that defines mg_crunch_trees: one tree per distinct `dir` argument, with
 * the content of every regular file under that project directory.
 * mg_crunch_connect (mg/kv_ro.h) serves a tree as a read-only key/value
 * store. The generator and this header must agree on this exact shape:
 *
 * - mg_crunch_file.path is relative to the tree's dir, '/'-separated, with
 *   no leading '/' and no "." or ".." segment; the files of a tree are
 *   sorted by strcmp of their paths, each path once; `data` holds `size`
 *   bytes and may be NULL when size is 0.
 * - mg_crunch_tree.dir is the argument as written in the config ("data",
 *   "htdocs/site"); connect compares it with strcmp.
 * - Directories are implied by the file paths: empty ones are not
 *   embedded.
 *
 * Connect checks the order and the paths (cheaply, once), so a generator
 * bug shows up as a clear connect failure rather than wrong lookups.
 */
#ifndef MG_CRUNCH_H
#define MG_CRUNCH_H

#include <stddef.h>
#include <stdint.h>

struct mg_crunch_file {
    const char *path;
    uint64_t size;
    const unsigned char *data;
};

struct mg_crunch_tree {
    const char *dir;
    const struct mg_crunch_file *files;
    size_t n_files;
};

extern const struct mg_crunch_tree mg_crunch_trees[];
extern const size_t mg_crunch_n_trees;

#endif
