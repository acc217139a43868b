/* libFuzzer entry point: build with -DMGD_FUZZ=ON and CC=clang, then
 *   build/fuzz/tests/fuzz/fuzz-resolve -max_len=8192 examples/ tests/codegen/nested/ */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "targets/builtin_catalog.h"
#include "resolve_one.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mg_catalog *cat;
    if (!cat) {
        mg_errors errs = {0};
        cat = mg_builtin_catalog_load(&errs);
        if (!cat) abort();
    }
    mg_fuzz_resolve_one(cat, (const char *)data, size, 1);
    return 0;
}
