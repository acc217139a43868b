/* User code of the nested codegen test: prints what the accessors give. */
#include <inttypes.h>
#include <stdlib.h>

#include "mg/block.h"
#include "mg/console.h"
#include "mg/kv_ro.h"
#include "mg_keys.h"

int f(mg_console *c, mg_kv_ro *kv, mg_block *b);
int rc(mg_console *c);

int f(mg_console *c, mg_kv_ro *kv, mg_block *b)
{
    /* The accessors' C types are part of the contract: assign to them. */
    const char *greeting = mg_key_greeting();
    int64_t count = mg_key_count();
    bool verbose = mg_key_verbose();
    const char *mode = mg_key_mode();
    uint32_t addr = mg_key_addr();
    mg_ipv4_prefix net = mg_key_net();
    mg_printf("f: handles %s\n", c && kv && b ? "set" : "MISSING");
    mg_printf("f: greeting=%s count=%" PRId64 " verbose=%d mode=%s\n", greeting, count, verbose,
              mode);
    mg_printf("f: addr=%08" PRIx32 " net=%08" PRIx32 "/%u tag=%s\n", addr, net.address,
              (unsigned)net.length, mg_key_tag());
    mg_printf("f: specs=%s set=%" PRId64 "\n", mg_key_specs(), mg_key_set());
    const char *fail = getenv("MG_FAKE_JOB_FAIL");
    return fail ? atoi(fail) : 0;
}

int rc(mg_console *c)
{
    mg_printf("rc: started %s\n", c ? "with console" : "MISSING");
    return 0;
}
