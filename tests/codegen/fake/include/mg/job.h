#ifndef MG_FAKE_JOB_H
#define MG_FAKE_JOB_H
#include "mg/mg.h"
int mg_noop_connect(void);
#endif
