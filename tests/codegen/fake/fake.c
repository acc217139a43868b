/* Test double of the runtime for tests/codegen (see mg/mg.h here). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg/block.h"
#include "mg/console.h"
#include "mg/job.h"
#include "mg/kv_ro.h"
#include "mg/kv_rw.h"
#include "mg/reporter.h"
#include "mg/time.h"

/* Handles only need distinct addresses. */
static char handles[16];
static int next_handle;

int mg_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    return n;
}

const char *mg_strerror(int status)
{
    return status == 5 ? "input/output error (fake)" : "unknown error (fake)";
}

int mg_run(void)
{
    mg_printf("run\n");
    return 0;
}

int mg_fake_connect(const char *name, const char *arg)
{
    const char *fail = getenv("MG_FAKE_FAIL");
    mg_printf("connect %s %s\n", name, arg);
    return fail && !strcmp(fail, name) ? 5 : 0;
}

#define HANDLE(out) (*(void **)(out) = &handles[next_handle++ % 16])

int mg_console_connect(mg_console **out, const char *name)
{
    HANDLE(out);
    return mg_fake_connect("mg_console_connect", name);
}

int mg_time_connect(mg_time **out)
{
    HANDLE(out);
    return mg_fake_connect("mg_time_connect", "-");
}

int mg_reporter_connect(mg_reporter **out, const char *levels)
{
    HANDLE(out);
    return mg_fake_connect("mg_reporter_connect", levels);
}

int mg_no_reporter_connect(mg_reporter **out)
{
    HANDLE(out);
    return mg_fake_connect("mg_no_reporter_connect", "-");
}

int mg_block_of_file_connect(mg_block **out, const char *name)
{
    HANDLE(out);
    return mg_fake_connect("mg_block_of_file_connect", name);
}

int mg_ramdisk_connect(mg_block **out, const char *name, int64_t size)
{
    char arg[128];
    snprintf(arg, sizeof arg, "%s/%lld", name, (long long)size);
    HANDLE(out);
    return mg_fake_connect("mg_ramdisk_connect", arg);
}

int mg_tar_kv_ro_connect(mg_kv_ro **out, mg_block *block)
{
    HANDLE(out);
    return mg_fake_connect("mg_tar_kv_ro_connect", block ? "block" : "NULL");
}

int mg_crunch_connect(mg_kv_ro **out, const char *dir)
{
    HANDLE(out);
    return mg_fake_connect("mg_crunch_connect", dir);
}

int mg_kv_rw_mem_connect(mg_kv_rw **out)
{
    HANDLE(out);
    return mg_fake_connect("mg_kv_rw_mem_connect", "-");
}

int mg_noop_connect(void)
{
    return mg_fake_connect("mg_noop_connect", "-");
}
