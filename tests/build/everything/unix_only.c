/*
 * unix_only: the checks of the catalog entries that only unix has (they
 * reach the host's file system), run as a second job of allunix
 * (unix.json) next to portable.c's. Prints "ok <what>" or "FAIL <what>"
 * per check; a failure makes the job, and so the image, fail.
 */
#include <string.h>

#include "mg/console.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"

int unix_only_start(mg_console *console, mg_kv_ro *host, mg_kv_rw *rw);

static int value_is(mg_kv_ro *kv, const char *key, const char *want)
{
    char buf[64];
    size_t len = 0;
    int rc = mg_kv_ro_get(kv, key, buf, sizeof buf, &len);
    return rc == 0 && len == strlen(want) && !memcmp(buf, want, len);
}

int unix_only_start(mg_console *console, mg_kv_ro *host, mg_kv_rw *rw)
{
    int ok1 = value_is(host, "/a.txt", "alpha\n") && value_is(host, "sub/b.txt", "beta\n");
    mg_console_printf(console, "%s direct_kv_ro reads the host directory\n", ok1 ? "ok" : "FAIL");
    int ok2 = mg_kv_rw_set(rw, "k/v", "disk", 4) == 0 && value_is(mg_kv_rw_ro(rw), "k/v", "disk");
    mg_console_printf(console, "%s direct_kv_rw stores\n", ok2 ? "ok" : "FAIL");
    return ok1 && ok2 ? 0 : 1;
}
