#include "mg/console.h"

#include "greet.h"
#include "other.h"

int cachetest_start(mg_console *console);

int cachetest_start(mg_console *console)
{
    mg_console_printf(console, "%s: %s\n", GREETING, other_word());
    return 0;
}
