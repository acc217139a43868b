/*
 * test_sizes.c - an image's sizes by section and module (toolchain/sizes.h)
 * on real links: gcc links objects laid out as a build's workspace
 * (obj/src/, obj/gen/, lib/libmgrt.a) with a map, 64-bit and 32-bit, and
 * the breakdown must add up to the sections and put each symbol in its
 * module. Then the same files truncated and corrupted, as a cache written
 * by someone else may hold them: never a crash, and whatever is answered
 * still adds up.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "targets/builtin_catalog.h"
#include "toolchain/sizes.h"

static const char CONSOLE_C[] =
    "char console_buf[4096];\n"
    "int console_write(const char *s)\n"
    "{ int n = 0; while (s[n]) { console_buf[n & 4095] = s[n]; n++; } return n; }\n";
static const char APP_C[] = "int console_write(const char *);\n"
                            "const char app_msg[] = \"hello, sizes\";\n"
                            "int app_counter = 7;\n"
                            "void app_start(void) { app_counter += console_write(app_msg); }\n"
                            "void app_unused(void) { app_counter = 0; }\n";
static const char MAIN_C[] = "void app_start(void);\n"
                             "void _start(void) { for (;;) app_start(); }\n";

typedef struct {
    char dir[64];
    char *elf, *map;
    size_t elf_len, map_len;
} linked;

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = mg_path_join(dir, name);
    cr_assert_eq(mg_file_write_atomic(p, text, strlen(text), 0644), 0);
    free(p);
}

/* Compiles and links the three sources as a build lays them out, with
 * `flags` (-m32 or nothing), the user's code being `app`. */
static void link_app(linked *l, const char *flags, const char *app)
{
    strcpy(l->dir, "/tmp/mgd-test-sizes-XXXXXX");
    cr_assert_not_null(mkdtemp(l->dir));
    write_file(l->dir, "console.c", CONSOLE_C);
    write_file(l->dir, "app.c", app);
    write_file(l->dir, "main.c", MAIN_C);
    char *cmd = mg_xasprintf(
        "cd %s && mkdir -p obj/src/app.c obj/gen/main.c obj/runtime lib link && "
        "CC='gcc %s -O2 -ffunction-sections -fdata-sections -fno-pic "
        "-fno-asynchronous-unwind-tables' && "
        "$CC -c console.c -o obj/runtime/console-console.o && "
        "$CC -c app.c -o obj/src/app.c/app.o && $CC -c main.c -o obj/gen/main.c/main.o && "
        "cd obj/runtime && ar rcsD ../../lib/libmgrt.a console-console.o && cd ../.. && "
        "gcc %s -nostdlib -static -no-pie -Wl,--gc-sections -Wl,--build-id=none "
        "-Wl,-Map=link/image.map -o link/image.elf obj/gen/main.c/main.o obj/src/app.c/app.o "
        "lib/libmgrt.a",
        l->dir, flags, flags);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    free(cmd);
    char *p = mg_path_join(l->dir, "link/image.elf");
    l->elf = mg_file_read(p, 1 << 24, &l->elf_len);
    free(p);
    p = mg_path_join(l->dir, "link/image.map");
    l->map = mg_file_read(p, 1 << 24, &l->map_len);
    free(p);
    cr_assert(l->elf && l->map);
}

static void link_image(linked *l, const char *flags)
{
    link_app(l, flags, APP_C);
}

/* Where the real map puts .text. */
static void text_section(const linked *l, unsigned long long *addr, unsigned long long *size)
{
    const char *t = strstr(l->map, "\n.text");
    cr_assert_not_null(t);
    cr_assert_eq(sscanf(t + 6, " 0x%llx 0x%llx", addr, size), 2);
}

static void linked_free(linked *l)
{
    free(l->elf);
    free(l->map);
    cr_assert_eq(mg_rm_rf(l->dir), 0);
}

static uint64_t sum_sections(const mg_sizes *s)
{
    uint64_t t = 0;
    for (size_t i = 0; i < s->n_sections; i++) t += s->sections[i].size;
    return t;
}

/* The breakdown's promise: groups and unattributed bytes make the sections. */
static void check_adds_up(const mg_sizes *s)
{
    uint64_t g = 0;
    for (size_t i = 0; i < s->n_groups; i++) g += s->groups[i].size;
    cr_assert_eq(g + s->unattributed, sum_sections(s), "%llu + %llu != %llu", (unsigned long long)g,
                 (unsigned long long)s->unattributed, (unsigned long long)sum_sections(s));
}

static const mg_sizes_group *group(const mg_sizes *s, const char *name)
{
    for (size_t i = 0; i < s->n_groups; i++)
        if (!strcmp(s->groups[i].name, name)) return &s->groups[i];
    return NULL;
}

static const mg_sizes_symbol *symbol(const mg_sizes_group *g, const char *name)
{
    for (size_t i = 0; g && i < g->n_symbols; i++)
        if (!strcmp(g->symbols[i].name, name)) return &g->symbols[i];
    return NULL;
}

/* The size `nm -S` gives a symbol of the linked ELF (0: none). */
static uint64_t nm_size(const linked *l, const char *sym)
{
    char *cmd =
        mg_xasprintf("nm -S %s/link/image.elf | awk '$4 == \"%s\" { print $2 }'", l->dir, sym);
    FILE *f = popen(cmd, "r");
    free(cmd);
    cr_assert_not_null(f);
    char line[64] = "";
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    pclose(f);
    return strtoull(line, NULL, 16);
}

static void check_link(const char *flags)
{
    linked l;
    link_image(&l, flags);
    mg_sizes_owner owners[] = {{"runtime/console/console.c", "console0"}, {"src", "main1"}};
    mg_sizes s;
    mg_err err = {0};
    cr_assert_eq(mg_sizes_parse(l.elf, l.elf_len, l.map, l.map_len, owners, 2, &s, &err), 0, "%s",
                 err.msg);
    check_adds_up(&s);
    /* only alignment padding is nobody's */
    cr_assert_lt(s.unattributed, 64, "%llu unattributed", (unsigned long long)s.unattributed);
    const mg_sizes_group *app = group(&s, "app"), *con = group(&s, "console"),
                         *gen = group(&s, "generated");
    cr_assert(app && con && gen);
    cr_assert_str_eq(app->kind, "app");
    cr_assert_str_eq(gen->kind, "generated");
    cr_assert_str_eq(con->kind, "device");
    cr_assert_eq(con->n_devices, 1);
    cr_assert_str_eq(con->devices[0], "console0");
    cr_assert_eq(app->n_devices, 1);
    cr_assert_str_eq(app->devices[0], "main1");
    /* each symbol in its module, with its size as nm reads it */
    const char *const where[][2] = {{"app", "app_start"},         {"app", "app_msg"},
                                    {"app", "app_counter"},       {"console", "console_buf"},
                                    {"console", "console_write"}, {"generated", "_start"}};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        const mg_sizes_symbol *sym = symbol(group(&s, where[i][0]), where[i][1]);
        cr_assert_not_null(sym, "%s not in %s", where[i][1], where[i][0]);
        cr_assert_eq(sym->size, nm_size(&l, where[i][1]), "%s", where[i][1]);
    }
    cr_assert_str_eq(symbol(con, "console_buf")->section, ".bss");
    cr_assert_eq(symbol(con, "console_buf")->size, 4096);
    /* --gc-sections dropped it: no bytes, no symbol */
    cr_assert_null(symbol(app, "app_unused"));
    /* a module's bytes cover its symbols */
    for (size_t i = 0; i < s.n_groups; i++) {
        uint64_t syms = 0;
        for (size_t k = 0; k < s.groups[i].n_symbols; k++) syms += s.groups[i].symbols[k].size;
        cr_assert_geq(s.groups[i].size, syms, "%s", s.groups[i].name);
    }
    /* largest first */
    for (size_t i = 1; i < s.n_groups; i++) cr_assert_geq(s.groups[i - 1].size, s.groups[i].size);
    mg_sizes_free(&s);

    /* without owners the console is a runtime module of no device */
    cr_assert_eq(mg_sizes_parse(l.elf, l.elf_len, l.map, l.map_len, NULL, 0, &s, &err), 0);
    cr_assert_str_eq(group(&s, "console")->kind, "runtime");
    cr_assert_eq(group(&s, "console")->n_devices, 0);
    mg_sizes_free(&s);
    linked_free(&l);
}

Test(sizes, link_64)
{
    check_link("");
}

Test(sizes, link_32)
{
    check_link("-m32");
}

/* A parse that must not crash; when it answers, the answer adds up. */
static void parse_any(const char *elf, size_t elf_len, const char *map, size_t map_len)
{
    mg_sizes_owner owners[] = {{"runtime/console/console.c", "console0"}};
    mg_sizes s;
    mg_err err = {0};
    if (mg_sizes_parse(elf, elf_len, map, map_len, owners, 1, &s, &err) == 0) {
        check_adds_up(&s);
        mg_sizes_free(&s);
    } else {
        cr_assert(err.code == MG_E_INVALID || err.code == MG_E_LIMIT, "%s", err.msg);
    }
}

static void fuzz(const char *flags, int rounds)
{
    linked l;
    link_image(&l, flags);
    /* every prefix of the ELF (on the heap at its own length, so a read
     * past it is one past the allocation), and some of the map */
    for (size_t n = 0; n <= l.elf_len; n++) {
        char *cut = mg_xmalloc(n ? n : 1);
        memcpy(cut, l.elf, n);
        parse_any(cut, n, l.map, l.map_len);
        free(cut);
    }
    for (size_t n = 0; n <= l.map_len; n += 7) {
        char *cut = mg_xmalloc(n ? n : 1);
        memcpy(cut, l.map, n);
        parse_any(l.elf, l.elf_len, cut, n);
        free(cut);
    }
    /* bytes changed at random (a fixed seed: the same cases every run),
     * denser in the headers where offsets and counts live */
    srand(21);
    char *elf = mg_xmalloc(l.elf_len), *map = mg_xmalloc(l.map_len);
    for (int round = 0; round < rounds; round++) {
        memcpy(elf, l.elf, l.elf_len);
        memcpy(map, l.map, l.map_len);
        int changes = 1 + rand() % 8;
        for (int k = 0; k < changes; k++) {
            size_t at = rand() % 2 ? (size_t)rand() % 256 : (size_t)rand() % l.elf_len;
            elf[at % l.elf_len] = (char)rand();
            map[(size_t)rand() % l.map_len] = (char)(rand() % 3 ? "0x \n."[rand() % 5] : rand());
        }
        parse_any(elf, l.elf_len, l.map, l.map_len);
        parse_any(l.elf, l.elf_len, map, l.map_len);
        parse_any(elf, l.elf_len, map, l.map_len);
    }
    free(elf);
    free(map);
    linked_free(&l);
}

Test(sizes, truncated_and_corrupt_files_64)
{
    fuzz("", 3000);
}

Test(sizes, truncated_and_corrupt_files_32)
{
    fuzz("-m32", 1500);
}

/* A map's word against the ELF: input sections that overlap, run past
 * their section or name no section count each byte once, never more. */
Test(sizes, hostile_map_is_clipped)
{
    linked l;
    link_image(&l, "");
    mg_sizes s;
    mg_err err = {0};
    cr_assert_eq(mg_sizes_parse(l.elf, l.elf_len, "", 0, NULL, 0, &s, &err), 0);
    uint64_t total = sum_sections(&s);
    cr_assert_eq(s.unattributed, total);
    cr_assert_eq(s.n_groups, 0);
    /* where .bss is, from the real map */
    const char *b = strstr(l.map, "\n.bss");
    cr_assert_not_null(b);
    unsigned long long addr, size;
    cr_assert_eq(sscanf(b + 5, " 0x%llx 0x%llx", &addr, &size), 2);
    uint64_t bss = 0;
    for (size_t i = 0; i < s.n_sections; i++)
        if (!strcmp(s.sections[i].name, ".bss")) bss = s.sections[i].size;
    cr_assert_eq(bss, size);
    mg_sizes_free(&s);
    char *map =
        mg_xasprintf("Linker script and memory map\n\n"
                     ".bss 0x%llx 0x%llx\n"
                     " .bss.a 0x%llx 0x%llx obj/src/a.c/a.o\n" /* the whole section */
                     " .bss.b 0x%llx 0x10 lib/libmgrt.a(console-console.o)\n" /* inside a's bytes */
                     " .bss.c 0x%llx 0xffffffffffffffff obj/gen/x.c/x.o\n"    /* past the end */
                     " .bss.d\n                0x%llx 0x99999999 /usr/lib/crt1.o\n"
                     ".nosuch 0x0 0x100\n"
                     " .x 0x0 0x100 obj/src/b.c/b.o\n",
                     addr, size, addr, size, addr + 8, addr + size, addr + size / 2);
    cr_assert_eq(mg_sizes_parse(l.elf, l.elf_len, map, strlen(map), NULL, 0, &s, &err), 0);
    check_adds_up(&s);
    cr_assert_eq(s.unattributed, total - size);
    cr_assert_eq(s.n_groups, 1);
    cr_assert_str_eq(s.groups[0].name, "app");
    cr_assert_eq(s.groups[0].size, size);
    mg_sizes_free(&s);
    free(map);
    linked_free(&l);
}

Test(sizes, not_elf_is_refused)
{
    mg_sizes s;
    mg_err err = {0};
    cr_assert_eq(mg_sizes_parse("hello", 5, "", 0, NULL, 0, &s, &err), -1);
    cr_assert_eq(err.code, MG_E_INVALID);
    unsigned char be[64] = {0x7f, 'E', 'L', 'F', 2, 2, 1};
    cr_assert_eq(mg_sizes_parse(be, sizeof be, "", 0, NULL, 0, &s, &err), -1);
    cr_assert_eq(err.code, MG_E_INVALID);
}

Test(sizes, owners_from_describe)
{
    mg_errors errs = {0};
    mg_catalog *cat = mg_builtin_catalog_load(&errs);
    cr_assert_not_null(cat);
    const char *describe =
        "{\"devices\": [{\"id\": \"console1\", \"impl\": \"console\"},"
        " {\"id\": \"main3\", \"impl\": \"main\"}, {\"id\": \"x\", \"impl\": \"no such\"},"
        " {\"id\": 5}, \"junk\"]}";
    size_t n;
    mg_sizes_owner *o = mg_sizes_owners(describe, cat, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(o[0].source, "runtime/console/console.c");
    cr_assert_str_eq(o[0].device, "console1");
    cr_assert_str_eq(o[1].source, "src");
    cr_assert_str_eq(o[1].device, "main3");
    mg_sizes_owners_free(o, n);
    cr_assert_null(mg_sizes_owners("not json", cat, &n));
    cr_assert_eq(n, 0);
    cr_assert_null(mg_sizes_owners(NULL, cat, &n));
    mg_catalog_free(cat);
    mg_errors_free(&errs);
}

Test(sizes, record_finds_the_link_outputs)
{
    char dir[] = "/tmp/mgd-test-sizes-cache-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    mg_err err = {0};
    mg_cache *c = mg_cache_open(dir, &err);
    cr_assert_not_null(c, "%s", err.msg);
    char img[MG_SHA256_HEX_SIZE], elf[MG_SHA256_HEX_SIZE], map[MG_SHA256_HEX_SIZE];
    mg_sha256_bytes_hex("image", 5, img);
    char *ep, *mp;
    cr_assert_eq(mg_sizes_record_get(c, img, &ep, &mp, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND);
    /* the blobs must be stored first */
    mg_sha256_bytes_hex("elf", 3, elf);
    cr_assert_eq(mg_sizes_record_put(c, img, elf, elf, &err), -1);
    cr_assert_eq(mg_cache_blob_put_bytes(c, "elf", 3, elf, &err), 0);
    cr_assert_eq(mg_cache_blob_put_bytes(c, "map", 3, map, &err), 0);
    cr_assert_eq(mg_sizes_record_put(c, img, elf, map, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sizes_record_get(c, img, &ep, &mp, &err), 0, "%s", err.msg);
    size_t len;
    char *text = mg_file_read(mp, 100, &len);
    cr_assert_str_eq(text, "map");
    free(text);
    /* a blob gone (gc, or removed by hand): unavailable, not an error */
    cr_assert_eq(unlink(ep), 0);
    free(ep);
    free(mp);
    cr_assert_eq(mg_sizes_record_get(c, img, &ep, &mp, &err), -1);
    cr_assert_eq(err.code, MG_E_NOT_FOUND);
    cr_assert_null(ep);
    mg_cache_close(c);
    cr_assert_eq(mg_rm_rf(dir), 0);
}

/* The groups a map's file names make (as the link of a build names them). */
Test(sizes, groups_of_object_names)
{
    linked l;
    link_image(&l, "");
    unsigned long long addr, size;
    text_section(&l, &addr, &size);
    cr_assert_geq(size, 8);
    static const char *const files[][3] = {
        {".text.a", "obj/src/app.c/app.o", "app app"},
        {".text.b", "obj/gen/main.c/main.o", "generated generated"},
        {".text.c", "lib/libmgrt.a(tcpip-lwip-core-tcp.o)", "lwip library"},
        {".text.d", "lib/libmgrt.a(tcpip-direct-layers.o)", "tcpip device"},
        {".text.e", "lib/libmgrt.a(random-random.o)", "random device"},
        {".text.f", "/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a(_udivdi3.o)", "libgcc compiler"},
        {".text.g", "/usr/lib/x86_64-linux-gnu/Scrt1.o", "crt compiler"},
        {".got", "/usr/lib/x86_64-linux-gnu/Scrt1.o", "linker compiler"},
    };
    size_t n = sizeof files / sizeof *files;
    mg_buf map = {0};
    mg_buf_printf(&map, "Linker script and memory map\n\n.text 0x%llx 0x%llx\n", addr, size);
    for (size_t i = 0; i < n; i++)
        mg_buf_printf(&map, " %s\n                0x%llx 0x1 %s\n", files[i][0], addr + i,
                      files[i][1]);
    /* the direct stack's entry lists sources of runtime/tcpip and
     * runtime/random: both implement its device */
    mg_sizes_owner owners[] = {{"runtime/tcpip/direct/layers.c", "ethif0"},
                               {"runtime/random/random.c", "ethif0"},
                               {"runtime/tcpip/lwip/core/tcp.c", "ethif0"}};
    mg_sizes s;
    mg_err err = {0};
    cr_assert_eq(mg_sizes_parse(l.elf, l.elf_len, map.data, map.len, owners, 3, &s, &err), 0, "%s",
                 err.msg);
    check_adds_up(&s);
    cr_assert_eq(s.n_groups, n); /* crt1.o's .got is the linker's */
    for (size_t i = 0; i < n; i++) {
        char name[32], kind[32];
        cr_assert_eq(sscanf(files[i][2], "%31s %31s", name, kind), 2);
        const mg_sizes_group *g = group(&s, name);
        cr_assert_not_null(g, "%s", name);
        cr_assert_str_eq(g->kind, kind, "%s", name);
        cr_assert_eq(g->size, 1, "%s", name);
    }
    cr_assert_eq(group(&s, "lwip")->n_devices, 1);
    cr_assert_str_eq(group(&s, "random")->devices[0], "ethif0");
    mg_sizes_free(&s);
    mg_buf_free(&map);
    linked_free(&l);
}

/* A symbol whose size runs far past its section (the symbol table is the
 * file's word too): it counts its section's bytes from it, no more, so
 * no sum of symbols can wrap. */
Test(sizes, symbol_sizes_stay_in_their_section)
{
    static const char app[] =
        "__asm__(\".section .data.huge,\\\"aw\\\"\\n.globl huge\\n.type huge,@object\\n"
        ".size huge,0x4000000000000000\\nhuge: .quad 1\\n.previous\");\n"
        "extern char huge[];\n"
        "int app_counter = 7;\n"
        "void app_start(void) { app_counter += huge[0]; }\n";
    linked l;
    link_app(&l, "", app);
    cr_assert_eq(nm_size(&l, "huge"), 0x4000000000000000ull, "the link keeps the claimed size");
    mg_sizes s;
    mg_err err = {0};
    cr_assert_eq(mg_sizes_parse(l.elf, l.elf_len, l.map, l.map_len, NULL, 0, &s, &err), 0, "%s",
                 err.msg);
    check_adds_up(&s);
    const mg_sizes_symbol *huge = symbol(group(&s, "app"), "huge");
    cr_assert_not_null(huge);
    uint64_t data = 0;
    for (size_t i = 0; i < s.n_sections; i++)
        if (!strcmp(s.sections[i].name, huge->section)) data = s.sections[i].size;
    cr_assert_gt(huge->size, 0);
    cr_assert_leq(huge->size, data, "%llu bytes in a section of %llu",
                  (unsigned long long)huge->size, (unsigned long long)data);
    for (size_t i = 0; i < s.n_groups; i++) cr_assert_leq(s.groups[i].other_size, sum_sections(&s));
    mg_sizes_free(&s);
    linked_free(&l);
}

/* A map naming a million objects of a thousand groups and more (a remote
 * cache or a pull worker may write it): the groups are found by hash, so
 * its parse costs well under a second of CPU (a linear search through the
 * groups took 6 s on the machine that measured it), and the groups past
 * the cap count as unattributed. */
/* A million distinct object names (over a hundred groups) must cost about
 * what a million lines of one object cost, measured in the same run (so a
 * sanitizer build or a busy machine scales both): a linear search of the
 * groups made it about ten times more. */
static double parse_cpu(const linked *l, const mg_buf *map, size_t *n_groups)
{
    mg_sizes s;
    mg_err err = {0};
    clock_t start = clock();
    cr_assert_eq(mg_sizes_parse(l->elf, l->elf_len, map->data, map->len, NULL, 0, &s, &err), 0,
                 "%s", err.msg);
    double cpu = (double)(clock() - start) / CLOCKS_PER_SEC;
    check_adds_up(&s);
    *n_groups = s.n_groups;
    mg_sizes_free(&s);
    return cpu;
}

Test(sizes, a_million_objects_cost_little, .timeout = 120)
{
    linked l;
    link_image(&l, "");
    unsigned long long addr, size;
    text_section(&l, &addr, &size);
    mg_buf many = {0}, one = {0};
    mg_buf_printf(&many, "Linker script and memory map\n\n.text 0x%llx 0x%llx\n", addr, size);
    mg_buf_printf(&one, "Linker script and memory map\n\n.text 0x%llx 0x%llx\n", addr, size);
    for (unsigned i = 0; i < 999000; i++) {
        mg_buf_printf(&many, " .text.f 0x%llx 0x1 /x/a%07u.o\n", addr + i % size, i);
        mg_buf_printf(&one, " .text.f 0x%llx 0x1 /x/a%07u.o\n", addr + i % size, 0u);
    }
    cr_assert(!many.failed && !one.failed);
    size_t n_many, n_one;
    double floor = parse_cpu(&l, &one, &n_one), cpu = parse_cpu(&l, &many, &n_many);
    cr_assert_leq(n_one, 4, "%zu groups", n_one);
    cr_assert(n_many > 100 && n_many <= 1024, "%zu groups", n_many);
    cr_assert_lt(cpu, 4 * floor + 0.2, "%.2f s of CPU for a million objects, %.2f s for one", cpu,
                 floor);
    mg_buf_free(&many);
    mg_buf_free(&one);
    linked_free(&l);
}
