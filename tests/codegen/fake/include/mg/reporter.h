#ifndef MG_FAKE_REPORTER_H
#define MG_FAKE_REPORTER_H
#include "mg/mg.h"
typedef struct mg_reporter mg_reporter;
int mg_reporter_connect(mg_reporter **out, const char *levels);
int mg_no_reporter_connect(mg_reporter **out);
#endif
