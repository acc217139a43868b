/* User code of the codegen test of job arguments: each function says what
 * it was given. A job argument is its start status, an int. */
#include <stdlib.h>

#include "mg/console.h"

int first(int job);
int inner(mg_console *c);
int outer(int a, mg_console *c, int b);

int first(int job)
{
    mg_printf("first: job=%d\n", job);
    return 0;
}

int inner(mg_console *c)
{
    const char *fail = getenv("MG_FAKE_INNER_FAIL");
    mg_printf("inner: %s\n", c ? "console" : "MISSING");
    return fail ? atoi(fail) : 0;
}

int outer(int a, mg_console *c, int b)
{
    mg_printf("outer: a=%d console=%s b=%d\n", a, c ? "set" : "MISSING", b);
    return 0;
}
