/*
 * stdlib.c - the rest of the freestanding C library's stdlib.h: ending the
 * image, the environment there is not, qsort; and the stack protector's
 * guard and failure handler, which gcc's -fstack-protector code calls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/platform.h"

_Noreturn void abort(void)
{
    mg_platform_abort("abort() called");
}

_Noreturn void exit(int status)
{
    mg_platform_exit(status);
}

char *getenv(const char *name)
{
    (void)name;
    return NULL; /* a unikernel has its command line, not an environment */
}

static void swap(unsigned char *a, unsigned char *b, size_t size)
{
    while (size--) {
        unsigned char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

static void sift_down(unsigned char *base, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0) child++;
        if (cmp(base + root * size, base + child * size) >= 0) return;
        swap(base + root * size, base + child * size, size);
        root = child;
    }
}

/* Heapsort: O(n log n) always, no allocation, no recursion (a kernel's
 * stack is small). Not stable, which qsort need not be. */
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    unsigned char *b = base;
    if (n < 2 || size == 0) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(b, i, n, size, cmp);
    for (size_t end = n - 1; end > 0; end--) {
        swap(b, b + end * size, size);
        sift_down(b, 0, end, size, cmp);
    }
}

/* The stack protector's canary: a freestanding platform's boot code sets
 * it from its entropy source before it calls anything protected. */
uintptr_t __stack_chk_guard = (uintptr_t)0x595e9fbd94fda766ull;

_Noreturn void __stack_chk_fail(void);
_Noreturn void __stack_chk_fail(void)
{
    mg_platform_abort("stack smashing detected");
}
