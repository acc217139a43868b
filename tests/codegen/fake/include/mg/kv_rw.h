#ifndef MG_FAKE_KV_RW_H
#define MG_FAKE_KV_RW_H
#include "mg/mg.h"
typedef struct mg_kv_rw mg_kv_rw;
int mg_kv_rw_mem_connect(mg_kv_rw **out);
#endif
