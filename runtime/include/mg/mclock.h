/*
 * mclock.h - the monotonic clock module type (MirageOS's
 * Mirage_clock.MCLOCK): nanoseconds since an arbitrary start (about boot),
 * never going backwards. Use it to measure durations.
 */
#ifndef MG_MCLOCK_H
#define MG_MCLOCK_H

#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_mclock mg_mclock;

int mg_mclock_connect(mg_mclock **out);

/* Nanoseconds since the clock's start. */
uint64_t mg_mclock_now_ns(mg_mclock *c);

/* For implementations: an mclock starts with its operations table. */
struct mg_mclock_ops {
    uint64_t (*now_ns)(mg_mclock *c);
};
struct mg_mclock {
    const struct mg_mclock_ops *ops;
};

#endif
