/*
 * random: draws 32 random bytes twice, prints them in hex, and checks the
 * two draws differ (equal draws would mean a generator that repeats
 * itself: 2^-256 by chance). Prints SUCCESS, or FAILURE and exits 1.
 */
#include <string.h>

#include "mg/console.h"
#include "mg/random.h"

/* The job, called by the generated main.c once the devices are connected. */
int random_start(mg_console *console, mg_random *random);

#define DRAW_BYTES 32

static int draw(mg_console *console, mg_random *random, unsigned char out[DRAW_BYTES])
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * DRAW_BYTES + 1];
    int rc = mg_random_fill(random, out, DRAW_BYTES);
    if (rc != 0) {
        mg_console_printf(console, "FAILURE: no random bytes: %s\n", mg_strerror(rc));
        return 1;
    }
    for (int i = 0; i < DRAW_BYTES; i++) {
        hex[2 * i] = digits[out[i] >> 4];
        hex[2 * i + 1] = digits[out[i] & 15];
    }
    hex[2 * DRAW_BYTES] = '\0';
    mg_console_printf(console, "%s\n", hex);
    return 0;
}

int random_start(mg_console *console, mg_random *random)
{
    unsigned char first[DRAW_BYTES], second[DRAW_BYTES];
    if (draw(console, random, first) || draw(console, random, second)) return 1;
    if (memcmp(first, second, DRAW_BYTES) == 0) {
        mg_console_printf(console, "FAILURE: the two draws are equal\n");
        return 1;
    }
    mg_console_printf(console, "SUCCESS\n");
    return 0;
}
