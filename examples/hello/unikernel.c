/*
 * hello: prints the `hello` key `count` times, one second apart. The first
 * line comes at once and the image exits right after the last one (no
 * sleep is left pending), so `--count=1` measures boot and nothing else.
 */
#include "mg/console.h"
#include "mg/time.h"
#include "mg_keys.h"

/* The job, called by the generated main.c once the devices are connected. */
int hello_start(mg_console *console, mg_time *time);

struct greeter {
    mg_console *console;
    mg_time *time;
    const char *message;
    int64_t left;
};

static struct greeter greeter;

static void greet(void *arg)
{
    struct greeter *g = arg;
    mg_console_printf(g->console, "%s\n", g->message);
    if (--g->left == 0) return;
    int rc = mg_time_sleep(g->time, MG_TIME_S, greet, g);
    if (rc != 0) {
        mg_console_printf(g->console, "hello: cannot sleep: %s\n", mg_strerror(rc));
        mg_exit(1);
    }
}

int hello_start(mg_console *console, mg_time *time)
{
    int64_t count = mg_key_count();
    if (count < 0) {
        mg_console_printf(console, "hello: --count must be 0 or more, not %lld\n",
                          (long long)count);
        return 1;
    }
    if (count == 0) return 0;
    greeter = (struct greeter){console, time, mg_key_hello(), count};
    greet(&greeter);
    return 0;
}
