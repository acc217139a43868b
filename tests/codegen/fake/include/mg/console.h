#ifndef MG_FAKE_CONSOLE_H
#define MG_FAKE_CONSOLE_H
#include "mg/mg.h"
typedef struct mg_console mg_console;
int mg_console_connect(mg_console **out, const char *name);
#endif
