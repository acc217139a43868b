/*
 * test_libc.c - the freestanding C library (runtime/libc) against the C
 * standard's behaviour, on the host: its functions carry the prefix mgt_
 * here (see CMakeLists.txt), and the host's C library is the reference
 * where there is one (memcpy, snprintf).
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *mgt_memcpy(void *dst, const void *src, size_t n);
void *mgt_memmove(void *dst, const void *src, size_t n);
void *mgt_memset(void *dst, int c, size_t n);
int mgt_memcmp(const void *a, const void *b, size_t n);
void *mgt_memchr(const void *s, int c, size_t n);
size_t mgt_strlen(const char *s);
size_t mgt_strnlen(const char *s, size_t max);
int mgt_strcmp(const char *a, const char *b);
int mgt_strncmp(const char *a, const char *b, size_t n);
char *mgt_strchr(const char *s, int c);
char *mgt_strrchr(const char *s, int c);
int mgt_snprintf(char *buf, size_t size, const char *fmt, ...);
int mgt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void *mgt_malloc(size_t n);
void *mgt_calloc(size_t n, size_t size);
void *mgt_realloc(void *p, size_t n);
void mgt_free(void *p);
void mgt_mg_libc_heap_init(void *start, size_t size);
size_t mgt_mg_libc_heap_used(void);
void mgt_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
char *mgt_getenv(const char *name);
void mgt___stack_chk_fail(void);
void mgt_abort(void);
void mgt_exit(int status);

/* ---- the platform the library calls ------------------------------------ */

static jmp_buf ended;
static char end_message[128];
static int end_status;

void mgt_mg_platform_abort(const char *msg);
void mgt_mg_platform_abort(const char *msg)
{
    snprintf(end_message, sizeof end_message, "%s", msg);
    longjmp(ended, 1);
}

void mgt_mg_platform_exit(int status);
void mgt_mg_platform_exit(int status)
{
    end_status = status;
    longjmp(ended, 2);
}

/* ---- memory and strings ------------------------------------------------- */

Test(libc, memcpy_memmove_memset_like_the_host)
{
    unsigned char src[300], a[300], b[300];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 7 + 3);
    /* every alignment and length up to 40, at both ends */
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 41; n++) {
            memset(a, 0xAA, sizeof a);
            memset(b, 0xAA, sizeof b);
            cr_assert_eq(mgt_memcpy(a + off, src + (8 - off), n), a + off);
            memcpy(b + off, src + (8 - off), n);
            cr_assert_arr_eq(a, b, sizeof a, "memcpy off %zu n %zu", off, n);
            cr_assert_eq(mgt_memset(a + off, (int)n, n), a + off);
            memset(b + off, (int)n, n);
            cr_assert_arr_eq(a, b, sizeof a, "memset off %zu n %zu", off, n);
        }
    /* overlapping moves, both directions */
    for (size_t shift = 0; shift < 20; shift++) {
        memcpy(a, src, sizeof a);
        memcpy(b, src, sizeof b);
        mgt_memmove(a + shift, a, 200);
        memmove(b + shift, b, 200);
        cr_assert_arr_eq(a, b, sizeof a);
        mgt_memmove(a, a + shift, 200);
        memmove(b, b + shift, 200);
        cr_assert_arr_eq(a, b, sizeof a);
    }
}

Test(libc, compare_and_search)
{
    cr_assert_eq(mgt_memcmp("abc", "abd", 3), -1);
    cr_assert_eq(mgt_memcmp("abd", "abc", 3), 1);
    cr_assert_eq(mgt_memcmp("ab\xff", "ab\x01", 3), 1); /* bytes are unsigned */
    cr_assert_eq(mgt_memcmp("abc", "abd", 2), 0);
    cr_assert_eq(mgt_strcmp("", ""), 0);
    cr_assert_lt(mgt_strcmp("a", "ab"), 0);
    cr_assert_gt(mgt_strcmp("b", "ab"), 0);
    cr_assert_gt(mgt_strcmp("\xe9", "z"), 0);
    cr_assert_eq(mgt_strncmp("abcX", "abcY", 3), 0);
    cr_assert_lt(mgt_strncmp("abcX", "abcY", 4), 0);
    cr_assert_eq(mgt_strncmp("ab", "ab\0x", 10), 0);
    const char *s = "a/b/c";
    cr_assert_eq(mgt_strchr(s, '/'), s + 1);
    cr_assert_eq(mgt_strrchr(s, '/'), s + 3);
    cr_assert_eq(mgt_strchr(s, '\0'), s + 5);
    cr_assert_null(mgt_strchr(s, 'x'));
    cr_assert_null(mgt_strrchr(s, 'x'));
    cr_assert_eq(mgt_memchr(s, 'c', 5), s + 4);
    cr_assert_null(mgt_memchr(s, 'c', 4));
    cr_assert_eq(mgt_strlen(""), 0);
    cr_assert_eq(mgt_strlen("hello"), 5);
    cr_assert_eq(mgt_strnlen("hello", 3), 3);
    cr_assert_eq(mgt_strnlen("hi", 10), 2);
}

/* ---- formatting ------------------------------------------------------------ */

/* mgt_snprintf and the host's snprintf give the same text and length. */
#define SAME(...)                                                                                  \
    do {                                                                                           \
        char mine[128], host[128];                                                                 \
        int a = mgt_snprintf(mine, sizeof mine, __VA_ARGS__);                                      \
        int b = snprintf(host, sizeof host, __VA_ARGS__);                                          \
        cr_assert_eq(a, b, "length of %s: %d, not %d", #__VA_ARGS__, a, b);                        \
        cr_assert_str_eq(mine, host, "%s", #__VA_ARGS__);                                          \
    } while (0)

Test(libc, snprintf_like_the_host)
{
    SAME("plain text");
    SAME("%d %i %u", -42, 7, 3000000000u);
    SAME("%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d", 42, 42, 42, 42, 42, 7, -7);
    SAME("%x %X %#x %#X %o %#o %#o", 255u, 255u, 255u, 255u, 8u, 8u, 0u);
    SAME("%ld %lu %lld %llu", -1L, 1UL << 40, -9223372036854775807LL - 1, 18446744073709551615ULL);
    SAME("%zu %zd %jd %td", (size_t)123, (ssize_t)-5, (intmax_t)-6, (ptrdiff_t)-7);
    SAME("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
    SAME("%s|%10s|%-10s|%.2s|%.*s|%*s", "abc", "abc", "abc", "abc", 1, "abc", -6, "ab");
    SAME("%c%c%5c%-3c|", 'a', 'b', 'c', 'd');
    SAME("%p %p", (void *)0x1234, (void *)NULL);
    SAME("100%% sure");
    SAME("%.0d|%.0x|%5.0d|", 0, 0u, 0);
    SAME("%s", "");
    SAME("%-+8d|%-8d|", 5, 5);
}

Test(libc, snprintf_cuts_and_counts)
{
    char buf[8];
    memset(buf, 'X', sizeof buf);
    cr_assert_eq(mgt_snprintf(buf, 5, "%s", "abcdefgh"), 8);
    cr_assert_str_eq(buf, "abcd");
    cr_assert_eq(buf[5], 'X'); /* nothing past size */
    cr_assert_eq(mgt_snprintf(NULL, 0, "%d", 12345), 5);
    cr_assert_eq(mgt_snprintf(buf, 1, "%d", 12345), 5);
    cr_assert_str_eq(buf, "");
    /* no floating point: a "?" and the arguments after it still right */
    cr_assert_eq(mgt_snprintf(buf, sizeof buf, "%f|%d", 1.5, 7), 3);
    cr_assert_str_eq(buf, "?|7");
    /* a conversion it does not know comes out as written */
    char big[32];
    mgt_snprintf(big, sizeof big, "a%qb%");
    cr_assert_str_eq(big, "a%qb%");
}

/* ---- the allocator ------------------------------------------------------------ */

static _Alignas(16) unsigned char heap[1 << 16];

Test(libc, malloc_aligns_reuses_and_merges)
{
    mgt_mg_libc_heap_init(heap + 3, sizeof heap - 3); /* an unaligned region */
    void *p[64];
    for (int i = 0; i < 64; i++) {
        p[i] = mgt_malloc((size_t)i * 13 + 1);
        cr_assert_not_null(p[i]);
        cr_assert_eq((uintptr_t)p[i] % 16, 0, "malloc(%d) is not 16-byte aligned", i * 13 + 1);
        memset(p[i], i, (size_t)i * 13 + 1);
    }
    for (int i = 0; i < 64; i++) {
        unsigned char *c = p[i];
        for (int k = 0; k < i * 13 + 1; k++) cr_assert_eq(c[k], (unsigned char)i);
    }
    /* free in an order that leaves holes, then everything: one block again */
    for (int i = 0; i < 64; i += 2) mgt_free(p[i]);
    for (int i = 1; i < 64; i += 2) mgt_free(p[i]);
    cr_assert_eq(mgt_mg_libc_heap_used(), 0);
    void *all = mgt_malloc(sizeof heap - 64);
    cr_assert_not_null(all, "the freed blocks did not merge back into one");
    mgt_free(all);
    cr_assert_null(mgt_malloc(sizeof heap), "more than the heap");
    cr_assert_null(mgt_malloc(SIZE_MAX - 8));
    mgt_free(NULL);
}

Test(libc, calloc_and_realloc)
{
    mgt_mg_libc_heap_init(heap, sizeof heap);
    unsigned char *z = mgt_calloc(100, 3);
    cr_assert_not_null(z);
    for (int i = 0; i < 300; i++) cr_assert_eq(z[i], 0);
    cr_assert_null(mgt_calloc(SIZE_MAX / 2, 4), "n * size overflows");
    char *s = mgt_malloc(4);
    memcpy(s, "abc", 4);
    char *t = mgt_realloc(s, 5000);
    cr_assert_not_null(t);
    cr_assert_str_eq(t, "abc");
    cr_assert_eq(mgt_realloc(t, 10), t, "shrinking keeps the block");
    cr_assert_null(mgt_realloc(t, 0)); /* frees */
    char *n = mgt_realloc(NULL, 10);
    cr_assert_not_null(n);
    cr_assert_null(mgt_realloc(n, sizeof heap * 2), "too big: NULL, and n stays");
    mgt_free(n);
    mgt_free(z);
    cr_assert_eq(mgt_mg_libc_heap_used(), 0);
}

Test(libc, free_refuses_what_it_did_not_hand_out)
{
    mgt_mg_libc_heap_init(heap, sizeof heap);
    char *p = mgt_malloc(10);
    mgt_free(p);
    end_message[0] = '\0';
    if (setjmp(ended) == 0) {
        mgt_free(p); /* twice */
        cr_assert_fail("a double free went through");
    }
    cr_assert(strstr(end_message, "freed twice"), "%s", end_message);
    char stack_thing[32];
    if (setjmp(ended) == 0) {
        mgt_free(stack_thing + 16);
        cr_assert_fail("freeing a stack pointer went through");
    }
    cr_assert(strstr(end_message, "not a pointer from malloc"), "%s", end_message);
}

/* ---- the rest ------------------------------------------------------------------ */

static int by_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

Test(libc, qsort_sorts)
{
    int v[257];
    for (size_t n = 0; n < 257; n += 16) {
        uint32_t seed = (uint32_t)n * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            v[i] = (int)(seed >> 16) % 100 - 50; /* with repeats */
        }
        mgt_qsort(v, n, sizeof *v, by_int);
        for (size_t i = 1; i < n; i++) cr_assert_leq(v[i - 1], v[i], "n %zu at %zu", n, i);
    }
}

Test(libc, ending)
{
    cr_assert_null(mgt_getenv("PATH"));
    if (setjmp(ended) == 0)
        mgt_exit(7);
    else
        cr_assert_eq(end_status, 7);
    if (setjmp(ended) == 0)
        mgt_abort();
    else
        cr_assert_str_eq(end_message, "abort() called");
    if (setjmp(ended) == 0)
        mgt___stack_chk_fail();
    else
        cr_assert_str_eq(end_message, "stack smashing detected");
}
