#ifndef MG_FAKE_KV_RO_H
#define MG_FAKE_KV_RO_H
#include "mg/mg.h"
typedef struct mg_kv_ro mg_kv_ro;
int mg_tar_kv_ro_connect(mg_kv_ro **out, mg_block *block);
int mg_crunch_connect(mg_kv_ro **out, const char *dir);
#endif
