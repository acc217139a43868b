/*
 * sizes.c - an image's bytes by section and by module (toolchain/sizes.h):
 * the unstripped ELF's sections and symbols, the link map's input
 * sections, the groups, and the cache record that finds them.
 */
#include "toolchain/sizes.h"

#include <cjson/cJSON.h>
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fsutil.h"
#include "toolchain/runtime_src.h"

/* Caps on what a file may make us hold (far above any real image: hello
 * has ~100 sections, ~1000 symbols, a map of ~3000 input sections). */
#define MAX_SECTIONS 65536u
#define MAX_SYMBOLS 1000000u
#define MAX_INPUTS 1000000u
#define MAX_GROUPS 1024u
#define MAX_NAME 512u  /* bytes of a symbol's, a section's or a group's name kept */
#define MAX_FILE 4096u /* bytes of an object's name in the map looked at */

/* n zeroed elements (n is bounded by the caps above). */
static void *zalloc(size_t n, size_t size)
{
    void *p = mg_xmalloc(n * size);
    memset(p, 0, n * size);
    return p;
}

/* --- the ELF file ---------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t len;
    bool is64;
} elf_file;

/* Little-endian fields at `off`, or false past the end. */
static bool rd(const elf_file *f, uint64_t off, unsigned width, uint64_t *out)
{
    if (off > f->len || width > f->len - off) return false;
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++) v |= (uint64_t)f->p[off + i] << (8 * i);
    *out = v;
    return true;
}

typedef struct {
    uint64_t name, type, flags, addr, offset, size, link, entsize;
} shdr;

/* Section header `i` of the table at `shoff` (entries `shentsize` apart,
 * checked by the caller to hold the fields). */
static bool rd_shdr(const elf_file *f, uint64_t shoff, uint64_t shentsize, uint64_t i, shdr *s)
{
    uint64_t o = shoff + i * shentsize;
    if (f->is64)
        return rd(f, o, 4, &s->name) && rd(f, o + 4, 4, &s->type) && rd(f, o + 8, 8, &s->flags) &&
               rd(f, o + 16, 8, &s->addr) && rd(f, o + 24, 8, &s->offset) &&
               rd(f, o + 32, 8, &s->size) && rd(f, o + 40, 4, &s->link) &&
               rd(f, o + 56, 8, &s->entsize);
    return rd(f, o, 4, &s->name) && rd(f, o + 4, 4, &s->type) && rd(f, o + 8, 4, &s->flags) &&
           rd(f, o + 12, 4, &s->addr) && rd(f, o + 16, 4, &s->offset) &&
           rd(f, o + 20, 4, &s->size) && rd(f, o + 24, 4, &s->link) &&
           rd(f, o + 36, 4, &s->entsize);
}

/* The string at `idx` of a string table (file bytes [off, off+size)), at
 * most MAX_NAME bytes of it, its length in *len; "" when out of bounds. */
static const char *str_view(const elf_file *f, uint64_t off, uint64_t size, uint64_t idx,
                            uint32_t *len)
{
    if (off > f->len || size > f->len - off || idx >= size) {
        *len = 0;
        return "";
    }
    const char *s = (const char *)f->p + off + idx;
    size_t n = strnlen(s, (size_t)(size - idx));
    *len = (uint32_t)(n < MAX_NAME ? n : MAX_NAME);
    return s;
}

/* The same, malloc'd. */
static char *str_at(const elf_file *f, uint64_t off, uint64_t size, uint64_t idx)
{
    uint32_t n;
    const char *s = str_view(f, off, size, idx, &n);
    return mg_xasprintf("%.*s", (int)n, s);
}

/* --- the parse ------------------------------------------------------------ */

typedef struct {
    char *name;
    uint64_t addr, size, flags;
    bool alloc;
} section;

typedef struct {
    uint32_t sec; /* an index of sections */
    uint32_t group;
    uint64_t start, end; /* clipped to the section and to the inputs before */
} input;

typedef struct {
    const char *name; /* in the file (not copied: there may be a million) */
    uint32_t name_len;
    uint32_t sec;
    uint64_t addr, size;
} symbol;

typedef struct {
    mg_sizes_group g;
    size_t name_len;
    symbol **syms;
    size_t n_syms, cap_syms;
} group;

typedef struct {
    elf_file f;
    section *secs;
    size_t n_secs;
    input *ins;
    size_t n_ins, cap_ins;
    symbol *syms;
    size_t n_syms;
    group *groups;
    size_t n_groups;
    /* group names -> 1 + their index (0: free), open-addressed, half full
     * at most: a map naming a million objects of as many groups looks
     * each up at once (a linear search took 6 s of CPU) */
    uint32_t group_slots[2 * MAX_GROUPS];
    /* the map's object names -> group, an open-addressed table */
    char **obj_names;
    uint32_t *obj_groups;
    size_t obj_cap, n_objs;
} parse;

static int read_elf(parse *ps, mg_err *err)
{
    elf_file *f = &ps->f;
    if (f->len < EI_NIDENT || memcmp(f->p, ELFMAG, SELFMAG))
        return mg_err_set(err, MG_E_INVALID, "not an ELF file");
    if (f->p[EI_DATA] != ELFDATA2LSB)
        return mg_err_set(err, MG_E_INVALID, "not a little-endian ELF file");
    if (f->p[EI_CLASS] != ELFCLASS64 && f->p[EI_CLASS] != ELFCLASS32)
        return mg_err_set(err, MG_E_INVALID, "an ELF file of an unknown class");
    f->is64 = f->p[EI_CLASS] == ELFCLASS64;
    uint64_t shoff, shentsize, shnum, shstrndx;
    bool ok = f->is64 ? rd(f, 40, 8, &shoff) && rd(f, 58, 2, &shentsize) && rd(f, 60, 2, &shnum) &&
                            rd(f, 62, 2, &shstrndx)
                      : rd(f, 32, 4, &shoff) && rd(f, 46, 2, &shentsize) && rd(f, 48, 2, &shnum) &&
                            rd(f, 50, 2, &shstrndx);
    uint64_t need = f->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    if (!ok || shoff == 0 || shentsize < need)
        return mg_err_set(err, MG_E_INVALID, "an ELF file without section headers");
    shdr s0;
    if (!rd_shdr(f, shoff, shentsize, 0, &s0))
        return mg_err_set(err, MG_E_INVALID, "the ELF file's section headers are cut short");
    /* past 0xff00 sections the counts live in section 0 */
    if (shnum == 0) shnum = s0.size;
    if (shstrndx == SHN_XINDEX) shstrndx = s0.link;
    if (shnum == 0 || shnum > MAX_SECTIONS)
        return mg_err_set(err, MG_E_LIMIT, "the ELF file has %llu sections (at most %u)",
                          (unsigned long long)shnum, MAX_SECTIONS);
    if (shoff > f->len || (shnum - 1) > (f->len - shoff) / shentsize ||
        (f->len - shoff) - (shnum - 1) * shentsize < need)
        return mg_err_set(err, MG_E_INVALID, "the ELF file's section headers are cut short");
    shdr strs = {0};
    if (shstrndx < shnum) rd_shdr(f, shoff, shentsize, shstrndx, &strs);
    ps->secs = zalloc(shnum, sizeof *ps->secs);
    ps->n_secs = shnum;
    uint64_t symtab = 0;
    for (uint64_t i = 0; i < shnum; i++) {
        shdr s;
        rd_shdr(f, shoff, shentsize, i, &s);
        section *sec = &ps->secs[i];
        sec->name = str_at(f, strs.offset, strs.type == SHT_NOBITS ? 0 : strs.size, s.name);
        sec->addr = s.addr;
        sec->size = s.size;
        sec->flags = s.flags;
        sec->alloc = i > 0 && (s.flags & SHF_ALLOC) && s.type != SHT_NULL;
        if (s.type == SHT_SYMTAB && !symtab) symtab = i;
    }
    if (!symtab) return 0; /* no symbols: groups without them */
    shdr st, strtab = {0};
    rd_shdr(f, shoff, shentsize, symtab, &st);
    if (st.link < shnum) rd_shdr(f, shoff, shentsize, st.link, &strtab);
    uint64_t symsize = f->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
    if (st.entsize < symsize || st.offset > f->len || st.size > f->len - st.offset) return 0;
    uint64_t n = st.size / st.entsize;
    if (n > MAX_SYMBOLS)
        return mg_err_set(err, MG_E_LIMIT, "the ELF file has %llu symbols (at most %u)",
                          (unsigned long long)n, MAX_SYMBOLS);
    /* TLS symbols' values are offsets in the TLS block, whose image starts
     * with the first TLS section */
    uint64_t tls_base = UINT64_MAX;
    for (size_t i = 0; i < ps->n_secs; i++)
        if (ps->secs[i].alloc && (ps->secs[i].flags & SHF_TLS) && ps->secs[i].addr < tls_base)
            tls_base = ps->secs[i].addr;
    ps->syms = zalloc(n ? n : 1, sizeof *ps->syms);
    for (uint64_t i = 1; i < n; i++) {
        uint64_t o = st.offset + i * st.entsize, name, info, shndx, value, size;
        if (f->is64 ? !(rd(f, o, 4, &name) && rd(f, o + 4, 1, &info) && rd(f, o + 6, 2, &shndx) &&
                        rd(f, o + 8, 8, &value) && rd(f, o + 16, 8, &size))
                    : !(rd(f, o, 4, &name) && rd(f, o + 4, 4, &value) && rd(f, o + 8, 4, &size) &&
                        rd(f, o + 12, 1, &info) && rd(f, o + 14, 2, &shndx)))
            break;
        unsigned type = info & 0xf;
        if (size == 0 || shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= ps->n_secs ||
            !ps->secs[shndx].alloc ||
            (type != STT_FUNC && type != STT_OBJECT && type != STT_TLS && type != STT_NOTYPE))
            continue;
        if (type == STT_TLS) {
            if (tls_base == UINT64_MAX || value > UINT64_MAX - tls_base) continue;
            value += tls_base;
        }
        /* a symbol's bytes are its section's: one outside it is none of
         * them, one running past its end is cut there (so the sums of a
         * group's symbols stay under the image's size, which cannot wrap) */
        const section *in = &ps->secs[shndx];
        uint64_t end = in->size > UINT64_MAX - in->addr ? UINT64_MAX : in->addr + in->size;
        if (value < in->addr || value >= end) continue;
        if (size > end - value) size = end - value;
        symbol *sym = &ps->syms[ps->n_syms++];
        sym->name = str_view(f, strtab.offset, strtab.type == SHT_NOBITS ? 0 : strtab.size, name,
                             &sym->name_len);
        sym->addr = value;
        sym->size = size;
        sym->sec = (uint32_t)shndx;
    }
    return 0;
}

/* --- groups ---------------------------------------------------------------- */

#define NO_GROUP UINT32_MAX

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

#define GROUP_SLOTS (2 * MAX_GROUPS)
_Static_assert((GROUP_SLOTS & (GROUP_SLOTS - 1)) == 0, "a power of two: slots are hash & mask");

/* The slot of group name[0..len) in ps->group_slots: its own, or the free
 * one it would take. */
static uint32_t *group_slot(parse *ps, const char *name, size_t len)
{
    size_t k = hash_bytes(name, len) & (GROUP_SLOTS - 1);
    for (; ps->group_slots[k]; k = (k + 1) & (GROUP_SLOTS - 1)) {
        const group *g = &ps->groups[ps->group_slots[k] - 1];
        if (g->name_len == len && !memcmp(g->g.name, name, len)) break;
    }
    return &ps->group_slots[k];
}

static uint32_t group_of(parse *ps, const char *name, size_t len, const char *kind)
{
    if (len > MAX_NAME) len = MAX_NAME;
    uint32_t *slot = group_slot(ps, name, len);
    if (*slot) return *slot - 1;
    if (ps->n_groups >= MAX_GROUPS) return NO_GROUP;
    ps->groups = mg_xrealloc(ps->groups, (ps->n_groups + 1) * sizeof *ps->groups);
    group *g = &ps->groups[ps->n_groups];
    memset(g, 0, sizeof *g);
    g->g.name = mg_xasprintf("%.*s", (int)len, name);
    g->name_len = len;
    g->g.kind = kind;
    *slot = (uint32_t)++ps->n_groups;
    return *slot - 1;
}

/* Input sections the linker makes itself (dynamic linking, GOT, PLT,
 * build id, merged properties): ld's map names them after its first
 * input file (crt1.o), which did not write them. */
static bool linker_made(const char *s, size_t n)
{
    static const char *const names[] = {
        ".interp",
        ".dynsym",
        ".dynstr",
        ".hash",
        ".gnu.hash",
        ".dynamic",
        ".got",
        ".got.plt",
        ".igot.plt",
        ".plt",
        ".plt.got",
        ".plt.sec",
        ".iplt",
        ".dynbss",
        ".eh_frame_hdr",
        ".relr.dyn",
        ".note.gnu.build-id",
        ".note.gnu.property",
    };
    if ((n >= 5 && !memcmp(s, ".rel.", 5)) || (n >= 6 && !memcmp(s, ".rela.", 6)) ||
        (n == 4 && !memcmp(s, ".rel", 4)) || (n == 5 && !memcmp(s, ".rela", 5)))
        return true;
    if (n >= 12 && !memcmp(s, ".gnu.version", 12)) return true;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], s, n)) return true;
    return false;
}

/* The group of a member of libmgrt.a ("console-console.o", named by
 * mg_runtime_member_name): runtime/D/... is D, lwIP's sources "lwip". */
static uint32_t member_group(parse *ps, const char *m, size_t n)
{
    static const char lwip[] = "tcpip-lwip-";
    if (n >= sizeof lwip - 1 && !memcmp(m, lwip, sizeof lwip - 1))
        return group_of(ps, "lwip", 4, "library");
    const char *dash = memchr(m, '-', n);
    size_t d = dash ? (size_t)(dash - m) : n;
    if (!dash && d > 2 && !memcmp(m + d - 2, ".o", 2)) d -= 2;
    if (!d) return NO_GROUP;
    return group_of(ps, m, d, "runtime");
}

/* The group of an object file as the link map names it. */
static uint32_t file_group(parse *ps, const char *f, size_t n)
{
    static const char lib[] = "lib/libmgrt.a(";
    if (n > 8 && !memcmp(f, "obj/src/", 8)) return group_of(ps, "app", 3, "app");
    if (n > 8 && !memcmp(f, "obj/gen/", 8)) return group_of(ps, "generated", 9, "generated");
    if (n > sizeof lib && !memcmp(f, lib, sizeof lib - 1) && f[n - 1] == ')')
        return member_group(ps, f + sizeof lib - 1, n - sizeof lib);
    /* the toolchain's: an archive by its name, crt*.o together */
    const char *paren = memchr(f, '(', n);
    size_t end = paren ? (size_t)(paren - f) : n, start = end;
    while (start > 0 && f[start - 1] != '/') start--;
    const char *base = f + start;
    size_t len = end - start;
    if (!len) return NO_GROUP;
    if (!paren && len > 2 && !memcmp(base + len - 2, ".o", 2)) {
        for (size_t i = 0; i + 3 <= len; i++)
            if (!memcmp(base + i, "crt", 3)) return group_of(ps, "crt", 3, "compiler");
        len -= 2;
    } else if (paren && len > 2 && !memcmp(base + len - 2, ".a", 2))
        len -= 2;
    return group_of(ps, base, len, "compiler");
}

/* file_group through a table of the files seen: a map names each object
 * once per input section. */
static uint32_t object_group(parse *ps, const char *f, size_t n)
{
    if (ps->n_objs * 2 >= ps->obj_cap) {
        size_t cap = ps->obj_cap ? ps->obj_cap * 2 : 256;
        char **names = zalloc(cap, sizeof *names);
        uint32_t *groups = zalloc(cap, sizeof *groups);
        for (size_t i = 0; i < ps->obj_cap; i++) {
            if (!ps->obj_names[i]) continue;
            size_t k = hash_bytes(ps->obj_names[i], strlen(ps->obj_names[i])) & (cap - 1);
            while (names[k]) k = (k + 1) & (cap - 1);
            names[k] = ps->obj_names[i];
            groups[k] = ps->obj_groups[i];
        }
        free(ps->obj_names);
        free(ps->obj_groups);
        ps->obj_names = names;
        ps->obj_groups = groups;
        ps->obj_cap = cap;
    }
    size_t k = hash_bytes(f, n) & (ps->obj_cap - 1);
    for (; ps->obj_names[k]; k = (k + 1) & (ps->obj_cap - 1))
        if (strlen(ps->obj_names[k]) == n && !memcmp(ps->obj_names[k], f, n))
            return ps->obj_groups[k];
    ps->obj_names[k] = mg_xasprintf("%.*s", (int)n, f);
    ps->n_objs++;
    return ps->obj_groups[k] = file_group(ps, f, n);
}

/* --- the map --------------------------------------------------------------- */

/* The allocated sections by name, for the map's output section lines. */
typedef struct {
    const char *name;
    uint32_t sec;
} by_name;

static int cmp_by_name(const void *a, const void *b)
{
    const by_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->sec > y->sec) - (x->sec < y->sec);
}

/* The first allocated section called s[0..n), or NO_GROUP (as "none"). */
static uint32_t section_named(const by_name *t, size_t nt, const char *s, size_t n)
{
    size_t lo = 0, hi = nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t ml = strlen(t[mid].name);
        int c = memcmp(t[mid].name, s, ml < n ? ml : n);
        if (c == 0) c = (ml > n) - (ml < n);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < nt && strlen(t[lo].name) == n && !memcmp(t[lo].name, s, n)) return t[lo].sec;
    return NO_GROUP;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The next token of [*p, end): its start, its length in *n (0 at the end). */
static const char *token(const char **p, const char *end, size_t *n)
{
    const char *s = *p;
    while (s < end && is_space(*s)) s++;
    const char *e = s;
    while (e < end && !is_space(*e)) e++;
    *p = e;
    *n = (size_t)(e - s);
    return s;
}

/* "0x" and 1 to 16 hex digits. */
static bool hex_token(const char *s, size_t n, uint64_t *v)
{
    if (n < 3 || n > 18 || s[0] != '0' || s[1] != 'x') return false;
    uint64_t x = 0;
    for (size_t i = 2; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

static int add_input(parse *ps, uint32_t sec, const char *name, size_t name_len, uint64_t addr,
                     uint64_t size, const char *file, size_t file_len, mg_err *err)
{
    if (ps->n_ins >= MAX_INPUTS)
        return mg_err_set(err, MG_E_LIMIT, "the link map has more than %u input sections",
                          MAX_INPUTS);
    if (ps->n_ins == ps->cap_ins)
        ps->ins = mg_xrealloc(ps->ins, (ps->cap_ins = ps->cap_ins * 2 + 256) * sizeof *ps->ins);
    input *in = &ps->ins[ps->n_ins++];
    in->sec = sec;
    in->group = linker_made(name, name_len) ? group_of(ps, "linker", 6, "compiler")
                : file_len > MAX_FILE       ? NO_GROUP
                                            : object_group(ps, file, file_len);
    in->start = addr;
    in->end = size > UINT64_MAX - addr ? UINT64_MAX : addr + size;
    return 0;
}

/* GNU ld's map, from "Linker script and memory map": an output section
 * starts in column 0 ("NAME ADDR SIZE", or NAME alone and the numbers on
 * the next line); an input section is " NAME ADDR SIZE FILE", or " NAME"
 * alone and "   ADDR SIZE FILE" on the next line. Everything else
 * (symbols, assignments, script statements, *fill*) is skipped. */
static int read_map(parse *ps, const char *map, size_t len, mg_err *err)
{
    static const char mark[] = "Linker script and memory map";
    const char *p = map, *end = map + len;
    const char *m = memmem(map, len, mark, sizeof mark - 1);
    if (m) p = m + sizeof mark - 1;
    by_name *t = zalloc(ps->n_secs ? ps->n_secs : 1, sizeof *t);
    size_t nt = 0;
    for (size_t i = 0; i < ps->n_secs; i++)
        if (ps->secs[i].alloc) t[nt++] = (by_name){ps->secs[i].name, (uint32_t)i};
    qsort(t, nt, sizeof *t, cmp_by_name);
    uint32_t out = NO_GROUP;
    const char *pending = NULL; /* an input section's name whose numbers come next */
    size_t pending_len = 0;
    int r = 0;
    while (r == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q = p;
        size_t n1, n2, n3;
        if (p == le) {
            pending = NULL;
        } else if (!is_space(*p)) {
            const char *name = token(&q, le, &n1);
            out = section_named(t, nt, name, n1);
            pending = NULL;
        } else if (p + 1 < le && !is_space(p[1])) {
            size_t name_len;
            const char *name = token(&q, le, &name_len);
            const char *a = token(&q, le, &n2), *s = token(&q, le, &n3);
            uint64_t addr, size;
            pending = NULL;
            if (name[0] == '*') {
                /* *fill*, *(.text): no input section */
            } else if (!n2) {
                pending = name;
                pending_len = name_len;
            } else if (out != NO_GROUP && hex_token(a, n2, &addr) && hex_token(s, n3, &size)) {
                const char *f = token(&q, le, &n1);
                size_t fl = (size_t)(le - f);
                while (fl && is_space(f[fl - 1])) fl--;
                if (fl) r = add_input(ps, out, name, name_len, addr, size, f, fl, err);
            }
        } else if (pending) {
            const char *a = token(&q, le, &n2), *s = token(&q, le, &n3);
            uint64_t addr, size;
            if (out != NO_GROUP && hex_token(a, n2, &addr) && hex_token(s, n3, &size)) {
                const char *f = token(&q, le, &n1);
                size_t fl = (size_t)(le - f);
                while (fl && is_space(f[fl - 1])) fl--;
                if (fl) r = add_input(ps, out, pending, pending_len, addr, size, f, fl, err);
            }
            pending = NULL;
        }
        p = nl ? nl + 1 : end;
    }
    free(t);
    return r;
}

/* --- attribution ----------------------------------------------------------- */

static int cmp_input(const void *a, const void *b)
{
    const input *x = a, *y = b;
    if (x->sec != y->sec) return x->sec < y->sec ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

static int cmp_sym(const void *a, const void *b)
{
    const symbol *x = *(symbol *const *)a, *y = *(symbol *const *)b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    int c = memcmp(x->name, y->name, x->name_len < y->name_len ? x->name_len : y->name_len);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int cmp_group(const void *a, const void *b)
{
    const mg_sizes_group *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Clips each input section to its output section and to the ones before
 * it (a map that overlaps counts each byte once), adds the bytes to the
 * groups, and returns the bytes placed. The inputs left are disjoint and
 * sorted, per section from first[sec] to first[sec + 1]. */
static uint64_t attribute(parse *ps, size_t *first)
{
    if (ps->n_ins) qsort(ps->ins, ps->n_ins, sizeof *ps->ins, cmp_input);
    uint64_t placed = 0;
    size_t kept = 0, i = 0;
    for (size_t sec = 0; sec < ps->n_secs; sec++) {
        first[sec] = kept;
        const section *s = &ps->secs[sec];
        uint64_t lo = s->addr, hi = s->size > UINT64_MAX - lo ? UINT64_MAX : lo + s->size;
        uint64_t cursor = lo;
        for (; i < ps->n_ins && ps->ins[i].sec == sec; i++) {
            input in = ps->ins[i];
            if (in.start < cursor) in.start = cursor;
            if (in.end > hi) in.end = hi;
            if (in.end <= in.start) continue;
            cursor = in.end;
            if (in.group != NO_GROUP) {
                ps->groups[in.group].g.size += in.end - in.start;
                placed += in.end - in.start;
            }
            ps->ins[kept++] = in;
        }
    }
    first[ps->n_secs] = kept;
    ps->n_ins = kept;
    return placed;
}

/* The group of the input section holding `addr` in section `sec`. */
static uint32_t group_at(const parse *ps, const size_t *first, uint32_t sec, uint64_t addr)
{
    size_t lo = first[sec], hi = first[sec + 1];
    while (lo < hi) { /* the first input starting after addr */
        size_t mid = lo + (hi - lo) / 2;
        if (ps->ins[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == first[sec] || addr >= ps->ins[lo - 1].end) return NO_GROUP;
    return ps->ins[lo - 1].group;
}

/* The group a runtime source or "src" falls in, or NO_GROUP when the
 * image has none (its bytes were all dropped by --gc-sections). */
static uint32_t source_group(parse *ps, const char *source)
{
    size_t before = ps->n_groups;
    uint32_t g;
    if (!strcmp(source, "src")) {
        g = group_of(ps, "app", 3, "app");
    } else {
        char *m = mg_runtime_member_name(source);
        g = member_group(ps, m, strlen(m));
        free(m);
    }
    if (ps->n_groups > before) { /* made just now: none */
        group *made = &ps->groups[--ps->n_groups];
        /* the last one in: no other's probe passed its slot */
        *group_slot(ps, made->g.name, made->name_len) = 0;
        free(made->g.name);
        return NO_GROUP;
    }
    return g;
}

static void add_device(mg_sizes_group *g, const char *id)
{
    for (size_t i = 0; i < g->n_devices; i++)
        if (!strcmp(g->devices[i], id)) return;
    g->devices = mg_xrealloc(g->devices, (g->n_devices + 1) * sizeof *g->devices);
    g->devices[g->n_devices++] = mg_xstrdup(id);
}

static void parse_free(parse *ps)
{
    for (size_t i = 0; i < ps->n_secs; i++) free(ps->secs[i].name);
    free(ps->secs);
    free(ps->ins);
    free(ps->syms);
    for (size_t i = 0; i < ps->n_groups; i++) {
        mg_sizes_group *g = &ps->groups[i].g;
        free(g->name);
        for (size_t k = 0; k < g->n_devices; k++) free(g->devices[k]);
        free(g->devices);
        free(ps->groups[i].syms);
    }
    free(ps->groups);
    for (size_t i = 0; i < ps->obj_cap; i++) free(ps->obj_names[i]);
    free(ps->obj_names);
    free(ps->obj_groups);
}

int mg_sizes_parse(const void *elf, size_t elf_len, const char *map, size_t map_len,
                   const mg_sizes_owner *owners, size_t n_owners, mg_sizes *out, mg_err *err)
{
    memset(out, 0, sizeof *out);
    parse ps = {.f = {.p = elf, .len = elf_len}};
    if (read_elf(&ps, err) != 0) {
        parse_free(&ps);
        return -1;
    }
    uint64_t total = 0;
    size_t n_alloc = 0;
    for (size_t i = 0; i < ps.n_secs; i++) {
        if (!ps.secs[i].alloc) continue;
        /* so that the sums cannot overflow: no image has a 1 TiB section */
        if (ps.secs[i].size > ((uint64_t)1 << 40)) {
            mg_err_set(err, MG_E_INVALID, "the ELF file's section %s claims %llu bytes",
                       ps.secs[i].name, (unsigned long long)ps.secs[i].size);
            parse_free(&ps);
            return -1;
        }
        total += ps.secs[i].size;
        n_alloc++;
    }
    if (read_map(&ps, map, map_len, err) != 0) {
        parse_free(&ps);
        return -1;
    }
    size_t *first = zalloc(ps.n_secs + 1, sizeof *first);
    uint64_t placed = attribute(&ps, first);
    for (size_t i = 0; i < ps.n_syms; i++) {
        symbol *sym = &ps.syms[i];
        uint32_t g = group_at(&ps, first, sym->sec, sym->addr);
        if (g == NO_GROUP) continue;
        group *gr = &ps.groups[g];
        if (gr->n_syms == gr->cap_syms)
            gr->syms =
                mg_xrealloc(gr->syms, (gr->cap_syms = gr->cap_syms * 2 + 16) * sizeof *gr->syms);
        gr->syms[gr->n_syms++] = sym;
    }
    free(first);
    for (size_t i = 0; i < n_owners; i++) {
        uint32_t g = source_group(&ps, owners[i].source);
        if (g != NO_GROUP) add_device(&ps.groups[g].g, owners[i].device);
    }

    /* the answer: sections in the file's order, groups with bytes */
    size_t *out_index = zalloc(ps.n_secs ? ps.n_secs : 1, sizeof *out_index);
    out->sections = zalloc(n_alloc ? n_alloc : 1, sizeof *out->sections);
    for (size_t i = 0; i < ps.n_secs; i++) {
        if (!ps.secs[i].alloc) continue;
        out_index[i] = out->n_sections;
        out->sections[out->n_sections++] =
            (mg_sizes_section){mg_xstrdup(ps.secs[i].name), ps.secs[i].size};
    }
    out->groups = zalloc(ps.n_groups ? ps.n_groups : 1, sizeof *out->groups);
    for (size_t i = 0; i < ps.n_groups; i++) {
        group *gr = &ps.groups[i];
        if (!gr->g.size && !gr->n_syms) continue;
        mg_sizes_group *g = &out->groups[out->n_groups++];
        *g = gr->g;
        g->kind = !strcmp(g->kind, "runtime") && g->n_devices ? "device" : g->kind;
        gr->g.name = NULL; /* moved, with the devices */
        gr->g.devices = NULL;
        gr->g.n_devices = 0;
        if (gr->n_syms) qsort(gr->syms, gr->n_syms, sizeof *gr->syms, cmp_sym);
        size_t top = gr->n_syms < MG_SIZES_TOP_SYMBOLS ? gr->n_syms : MG_SIZES_TOP_SYMBOLS;
        g->symbols = zalloc(top ? top : 1, sizeof *g->symbols);
        for (size_t k = 0; k < gr->n_syms; k++) {
            const symbol *sym = gr->syms[k];
            if (k < top) {
                g->symbols[g->n_symbols++] =
                    (mg_sizes_symbol){mg_xasprintf("%.*s", (int)sym->name_len, sym->name),
                                      sym->size, out->sections[out_index[sym->sec]].name};
            } else {
                g->other_count++;
                g->other_size += sym->size;
            }
        }
    }
    qsort(out->groups, out->n_groups, sizeof *out->groups, cmp_group);
    out->unattributed = total - placed;
    free(out_index);
    parse_free(&ps);
    return 0;
}

int mg_sizes_read(const char *elf_path, const char *map_path, const mg_sizes_owner *owners,
                  size_t n_owners, mg_sizes *out, mg_err *err)
{
    memset(out, 0, sizeof *out);
    size_t elf_len, map_len;
    char *elf = mg_file_read(elf_path, MG_SIZES_MAX_ELF, &elf_len);
    if (!elf) return mg_err_set(err, MG_E_IO, "cannot read the linked ELF: %s", strerror(errno));
    char *map = mg_file_read(map_path, MG_SIZES_MAX_MAP, &map_len);
    if (!map) {
        free(elf);
        return mg_err_set(err, MG_E_IO, "cannot read the link map: %s", strerror(errno));
    }
    int r;
    if (elf_len > MG_SIZES_MAX_ELF)
        r = mg_err_set(err, MG_E_LIMIT, "the linked ELF is larger than %u MiB",
                       MG_SIZES_MAX_ELF >> 20);
    else if (map_len > MG_SIZES_MAX_MAP)
        r = mg_err_set(err, MG_E_LIMIT, "the link map is larger than %u MiB",
                       MG_SIZES_MAX_MAP >> 20);
    else
        r = mg_sizes_parse(elf, elf_len, map, map_len, owners, n_owners, out, err);
    free(elf);
    free(map);
    return r;
}

void mg_sizes_free(mg_sizes *s)
{
    for (size_t i = 0; i < s->n_groups; i++) {
        mg_sizes_group *g = &s->groups[i];
        free(g->name);
        for (size_t k = 0; k < g->n_devices; k++) free(g->devices[k]);
        free(g->devices);
        for (size_t k = 0; k < g->n_symbols; k++) free(g->symbols[k].name);
        free(g->symbols);
    }
    free(s->groups);
    for (size_t i = 0; i < s->n_sections; i++) free(s->sections[i].name);
    free(s->sections);
    memset(s, 0, sizeof *s);
}

/* --- owners ---------------------------------------------------------------- */

mg_sizes_owner *mg_sizes_owners(const char *describe_json, const mg_catalog *cat, size_t *n)
{
    *n = 0;
    mg_sizes_owner *o = NULL;
    cJSON *j = describe_json ? cJSON_Parse(describe_json) : NULL;
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    if (!cJSON_IsArray(devs)) devs = NULL;
    const cJSON *d;
    cJSON_ArrayForEach(d, devs)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "id"));
        const char *impl = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "impl"));
        if (!id || !impl) continue;
        if (!strcmp(impl, "main")) {
            o = mg_xrealloc(o, (*n + 1) * sizeof *o);
            o[(*n)++] = (mg_sizes_owner){mg_xstrdup("src"), mg_xstrdup(id)};
            continue;
        }
        const mg_catalog_entry *e = cat ? mg_catalog_find(cat, impl) : NULL;
        for (size_t k = 0; e && e->concrete && k < e->n_sources; k++) {
            o = mg_xrealloc(o, (*n + 1) * sizeof *o);
            o[(*n)++] = (mg_sizes_owner){mg_runtime_entry_source(e, k), mg_xstrdup(id)};
        }
    }
    cJSON_Delete(j);
    return o;
}

void mg_sizes_owners_free(mg_sizes_owner *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(o[i].source);
        free(o[i].device);
    }
    free(o);
}

/* --- the cache record ------------------------------------------------------ */

#define RECORD_DOMAIN "mgd sizes v1\n"

static void record_key(const char *image_sha, char key[MG_SHA256_HEX_SIZE])
{
    char *text = mg_xasprintf(RECORD_DOMAIN "%s", image_sha);
    mg_sha256_bytes_hex(text, strlen(text), key);
    free(text);
}

int mg_sizes_record_put(mg_cache *c, const char *image_sha, const char *elf_sha,
                        const char *map_sha, mg_err *err)
{
    char key[MG_SHA256_HEX_SIZE];
    record_key(image_sha, key);
    char *text = mg_xasprintf("{\"elf\":\"%s\",\"map\":\"%s\"}", elf_sha, map_sha);
    const char *blobs[2] = {elf_sha, map_sha};
    int r = mg_cache_record_put(c, key, text, strlen(text), blobs, 2, err);
    free(text);
    return r;
}

int mg_sizes_record_get(mg_cache *c, const char *image_sha, char **elf_path, char **map_path,
                        mg_err *err)
{
    *elf_path = *map_path = NULL;
    if (!mg_sha256_is_hex(image_sha))
        return mg_err_set(err, MG_E_INVALID, "not a sha256: %.70s", image_sha);
    char key[MG_SHA256_HEX_SIZE], *data;
    size_t len;
    record_key(image_sha, key);
    if (mg_cache_record_get(c, key, &data, &len, err) != 0) {
        /* a corrupt record is gone now: the same as none */
        if (err && err->code == MG_E_CORRUPT) err->code = MG_E_NOT_FOUND;
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    free(data);
    const char *elf = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "elf"));
    const char *map = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "map"));
    int r = 0;
    if (!elf || !map || !mg_sha256_is_hex(elf) || !mg_sha256_is_hex(map))
        r = mg_err_set(err, MG_E_NOT_FOUND, "the sizes record of image %s is malformed", image_sha);
    else if (mg_cache_blob_stat(c, elf, NULL, err) != 0 ||
             mg_cache_blob_stat(c, map, NULL, err) != 0)
        r = -1;
    else {
        *elf_path = mg_cache_blob_path(c, elf);
        *map_path = mg_cache_blob_path(c, map);
    }
    cJSON_Delete(j);
    return r;
}
