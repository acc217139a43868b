#ifndef MG_FAKE_TIME_H
#define MG_FAKE_TIME_H
#include "mg/mg.h"
typedef struct mg_time mg_time;
int mg_time_connect(mg_time **out);
#endif
