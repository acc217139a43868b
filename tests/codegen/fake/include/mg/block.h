#ifndef MG_FAKE_BLOCK_H
#define MG_FAKE_BLOCK_H
#include "mg/mg.h"
typedef struct mg_block mg_block;
int mg_block_of_file_connect(mg_block **out, const char *name);
int mg_ramdisk_connect(mg_block **out, const char *name, int64_t size);
#endif
