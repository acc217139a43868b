/*
 * mg.h (test double) - the runtime interface generated code needs, as
 * docs/generated-code.md describes it. Connect functions print what they
 * were called with, so tests can check the generated order and arguments.
 * MG_FAKE_FAIL=<connect function> makes that connect fail with EIO.
 */
#ifndef MG_FAKE_MG_H
#define MG_FAKE_MG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mg_ipv4_prefix {
    uint32_t address;
    uint8_t length;
} mg_ipv4_prefix;

int mg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *mg_strerror(int status);
int mg_run(void);

/* Shared by the fake connects: prints "connect NAME" and maybe fails. */
int mg_fake_connect(const char *name, const char *arg);

#endif
