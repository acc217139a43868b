/*
 * fuzz_tar.c - libFuzzer target for the runtime's tar reader,
 * tar_kv_ro(block) (runtime/kv/tar_kv_ro.c): an image reads a tar archive
 * from a block device it is given, so every header is untrusted.
 *
 * The input is the device's content (padded with zeros to whole sectors)
 * on a ramdisk. A failing connect is fine; one that connects must answer
 * every listed key as kv_walk.h checks, reads of exact and one-byte-short
 * buffers included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv_walk.h"
#include "mg/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    size_t sectors = (size + 511) / 512;
    if (sectors == 0) sectors = 1;
    unsigned char *disk = calloc(sectors, 512);
    if (!disk) abort();
    if (size) memcpy(disk, data, size);
    mg_block *b = NULL;
    if (mg_ramdisk_connect(&b, "fuzz", (int64_t)(sectors * 512)) != MG_OK) abort();
    if (mg_block_write(b, 0, disk, sectors) != MG_OK) abort();
    free(disk);
    mg_kv_ro *kv = NULL;
    if (mg_tar_kv_ro_connect(&kv, b) == MG_OK) {
        mg_fuzz_kv_walk(kv);
        mg_kv_ro_disconnect(kv);
    }
    mg_block_disconnect(b);
    return 0;
}
