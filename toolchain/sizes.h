/*
 * sizes.h - what an image is made of: its allocated sections, and their
 * bytes by the module that put them there (the console, the TCP/IP stack,
 * the C library, the user's code, the generated glue), for GET
 * /builds/:id/sizes (docs/api.md) and docs/toolchain.md's "Sizes".
 *
 * The stored image is stripped, so the breakdown reads the link's two
 * outputs (build.h): the unstripped ELF link/image.elf (its section
 * headers and symbol table) and the linker's map link/image.map (GNU ld's
 * -Map: every input section with its address, size and object file).
 * Each byte of an allocated section belongs to the input section the map
 * places there, and so to its object and that object's group:
 *   obj/src/...                          "app"        the user's sources
 *   obj/gen/...                          "generated"  main.c, the note, crunch
 *   lib/libmgrt.a(M), M from runtime/D/  D: "runtime", or "device" when a
 *                                        device of the graph is made of it
 *   lib/libmgrt.a(M), M from lwIP        "lwip": "library"
 *   sections the linker makes (.got, .dynsym, .rela.*, .plt, ...)
 *                                        "linker": "compiler"
 *   any other file (crt*.o, libgcc.a)    "crt", "libgcc", ...: "compiler"
 * Bytes no input section covers (alignment padding, a map that does not
 * fit the ELF) are unattributed, so the groups and the unattributed bytes
 * always add up to the allocated sections' sizes. Symbols (functions and
 * objects with a size) go to the group of the input section holding them.
 *
 * Both files are treated as hostile (a remote cache or a worker may have
 * written the blobs): every offset, size and count is checked against the
 * file and capped, nothing is trusted to be terminated, and a file that
 * does not make sense is refused (MG_E_INVALID) or, for a map, simply
 * places fewer bytes. ELF: 32- and 64-bit, little-endian.
 *
 * The cache remembers which link made an image: after a successful build,
 * a record keyed by the image's sha256 names the blobs of its ELF and map
 * (and keeps them alive through gc while it is used), so any build with
 * that image, reused ones included, finds them. A build on a pull worker
 * writes its own cache, not the daemon's.
 */
#ifndef MG_TOOLCHAIN_SIZES_H
#define MG_TOOLCHAIN_SIZES_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/sha256.h"
#include "graph/catalog.h"
#include "toolchain/cache.h"

/* The largest symbols listed per group; the rest are counted. */
#define MG_SIZES_TOP_SYMBOLS 100
/* The largest files read: the unstripped ELF, the map. */
#define MG_SIZES_MAX_ELF (256u << 20)
#define MG_SIZES_MAX_MAP (128u << 20)

typedef struct mg_sizes_section {
    char *name;
    uint64_t size;
} mg_sizes_section;

typedef struct mg_sizes_symbol {
    char *name;
    uint64_t size;
    const char *section; /* a name of mg_sizes.sections */
} mg_sizes_symbol;

typedef struct mg_sizes_group {
    char *name;
    const char *kind; /* "device", "runtime", "app", "generated", "library", "compiler" */
    char **devices;   /* the device ids it implements, in the graph's order */
    size_t n_devices;
    uint64_t size;
    mg_sizes_symbol *symbols; /* the largest first, at most MG_SIZES_TOP_SYMBOLS */
    size_t n_symbols;
    uint64_t other_count, other_size; /* the symbols not listed */
} mg_sizes_group;

typedef struct mg_sizes {
    mg_sizes_section *sections; /* allocated, in the ELF's order */
    size_t n_sections;
    mg_sizes_group *groups; /* the largest first (then by name) */
    size_t n_groups;
    uint64_t unattributed;
} mg_sizes;

/* Which device a source implements: `source` is a runtime source
 * ("runtime/console/console.c") or "src" for the user's code. */
typedef struct mg_sizes_owner {
    char *source, *device;
} mg_sizes_owner;

/* The owners of a build's graph: its describe JSON (GET
 * /builds/:id/describe) and, for each device, its catalog entry's sources
 * (a device whose impl is "main" is the user's code). NULL describe or
 * anything unexpected in it gives fewer owners, never an error. */
mg_sizes_owner *mg_sizes_owners(const char *describe_json, const mg_catalog *cat, size_t *n);
void mg_sizes_owners_free(mg_sizes_owner *o, size_t n);

/* The breakdown of the ELF `elf` (elf_len bytes) and its link map `map`
 * (map_len bytes, not necessarily terminated). 0, or -1 with MG_E_INVALID
 * (not an ELF file this reads) or MG_E_LIMIT (past a cap). */
int mg_sizes_parse(const void *elf, size_t elf_len, const char *map, size_t map_len,
                   const mg_sizes_owner *owners, size_t n_owners, mg_sizes *out, mg_err *err);
/* mg_sizes_parse of two files; MG_E_IO when one cannot be read. */
int mg_sizes_read(const char *elf_path, const char *map_path, const mg_sizes_owner *owners,
                  size_t n_owners, mg_sizes *out, mg_err *err);
void mg_sizes_free(mg_sizes *s);

/* Records that the image `image_sha` was linked as the blobs `elf_sha`
 * and `map_sha` (both must be in the cache). 0, or -1 with a message. */
int mg_sizes_record_put(mg_cache *c, const char *image_sha, const char *elf_sha,
                        const char *map_sha, mg_err *err);
/* The paths of the blobs recorded for image `image_sha` (malloc'd; read
 * only). -1 with MG_E_NOT_FOUND when there is no record or a blob is
 * gone, else another code. */
int mg_sizes_record_get(mg_cache *c, const char *image_sha, char **elf_path, char **map_path,
                        mg_err *err);

#endif
