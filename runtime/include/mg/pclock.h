/*
 * pclock.h - the POSIX clock module type (MirageOS's Mirage_clock.PCLOCK):
 * wall-clock time, nanoseconds since the Unix epoch (1970-01-01 00:00 UTC).
 * It follows the host's clock, so it can jump backwards or forwards: use it
 * for dates, and mg/mclock.h for durations.
 */
#ifndef MG_PCLOCK_H
#define MG_PCLOCK_H

#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_pclock mg_pclock;

int mg_pclock_connect(mg_pclock **out);

/* Nanoseconds since the epoch (0 when the platform cannot tell). */
uint64_t mg_pclock_now_ns(mg_pclock *c);

/* For implementations: a pclock starts with its operations table. */
struct mg_pclock_ops {
    uint64_t (*now_ns)(mg_pclock *c);
};
struct mg_pclock {
    const struct mg_pclock_ops *ops;
};

#endif
