/*
 * kv_ro example: reads files from a read-only key/value store. The store
 * is generic_kv_ro("data"): the files of data/ embedded in the image
 * (kv_ro=crunch) or read from the host at run time (kv_ro=direct), and
 * the output is the same either way.
 */
#include <stdlib.h>
#include <string.h>

#include "mg/console.h"
#include "mg/kv_ro.h"

/* Prints the size and content of the value at `key`; 0 if all went well. */
static int show(mg_console *c, mg_kv_ro *kv, const char *key)
{
    uint64_t size;
    int rc = mg_kv_ro_size(kv, key, &size);
    if (rc != MG_OK) {
        mg_console_printf(c, "%s: cannot get its size: %s\n", key, mg_strerror(rc));
        return 1;
    }
    void *data;
    size_t len;
    rc = mg_kv_ro_get_alloc(kv, key, &data, &len);
    if (rc != MG_OK) {
        mg_console_printf(c, "%s: cannot read it: %s\n", key, mg_strerror(rc));
        return 1;
    }
    mg_console_printf(c, "%s: %llu bytes\n", key, (unsigned long long)size);
    mg_console_write(c, data, len);
    const char *text = data;
    if (len == 0 || text[len - 1] != '\n') mg_console_write(c, "\n", 1);
    free(data);
    if (len != size) {
        mg_console_printf(c, "%s: read %zu bytes, expected %llu\n", key, len,
                          (unsigned long long)size);
        return 1;
    }
    return 0;
}

/* Quiet checks of the rest of the interface: they print only if wrong. */
static int check(mg_console *c, mg_kv_ro *kv)
{
    int bad = 0;
    mg_kv_kind kind;
    if (mg_kv_ro_exists(kv, "sub", &kind) != MG_OK || kind != MG_KV_DICTIONARY) {
        mg_console_printf(c, "sub: not a dictionary\n");
        bad = 1;
    }
    size_t len;
    char buf[8];
    if (mg_kv_ro_get(kv, "sub", buf, sizeof buf, &len) != MG_EISDIR) {
        mg_console_printf(c, "sub: reading a dictionary did not fail as it should\n");
        bad = 1;
    }
    /* "/sub//b.txt" is the same key as "sub/b.txt"; bytes 6-9 are "line". */
    if (mg_kv_ro_get_partial(kv, "/sub//b.txt", 6, buf, 4, &len) != MG_OK || len != 4 ||
        memcmp(buf, "line", 4) != 0) {
        mg_console_printf(c, "sub/b.txt: partial read failed\n");
        bad = 1;
    }
    return bad;
}

/* The job: the generated main.c calls it once every device is connected. */
int kv_ro_start(mg_console *c, mg_kv_ro *kv);

int kv_ro_start(mg_console *c, mg_kv_ro *kv)
{
    int bad = show(c, kv, "a.txt");
    bad |= show(c, kv, "sub/b.txt");
    int rc = mg_kv_ro_exists(kv, "missing.txt", NULL);
    if (rc == MG_ENOENT) {
        mg_console_printf(c, "missing.txt: not found\n");
    } else {
        mg_console_printf(c, "missing.txt: expected not found, got %s\n",
                          rc == MG_OK ? "found" : mg_strerror(rc));
        bad = 1;
    }
    bad |= check(c, kv);
    return bad;
}
