/*
 * time.h - the time module type (MirageOS's Mirage_time): sleeps that do
 * not block. mg_time_sleep() returns at once and the event loop (mg/loop.h)
 * calls the callback once the monotonic clock has advanced by at least the
 * given duration; until then the pending sleep keeps the image running.
 *
 * The callback never runs from inside mg_time_sleep(), even for a sleep of
 * 0 ns. Sleeps with the same wake-up time run in the order they were asked
 * for. A sleep can be cancelled until its callback starts.
 */
#ifndef MG_TIME_H
#define MG_TIME_H

#include <stdint.h>

#include "mg/mg.h"

typedef struct mg_time mg_time;

#define MG_TIME_MS UINT64_C(1000000)   /* ns in a millisecond */
#define MG_TIME_S UINT64_C(1000000000) /* ns in a second */

int mg_time_connect(mg_time **out);

/* Calls cb(arg) from the event loop `ns` nanoseconds from now. Returns
 * MG_OK or MG_ENOMEM (then cb will not be called). */
int mg_time_sleep(mg_time *t, uint64_t ns, void (*cb)(void *arg), void *arg);

/* Cancels the oldest pending sleep with this callback and argument.
 * Returns MG_OK, or MG_ENOENT when there is none (it already ran). */
int mg_time_cancel(mg_time *t, void (*cb)(void *arg), void *arg);

/* For implementations: a time starts with its operations table. */
struct mg_time_ops {
    int (*sleep)(mg_time *t, uint64_t ns, void (*cb)(void *arg), void *arg);
    int (*cancel)(mg_time *t, void (*cb)(void *arg), void *arg);
};
struct mg_time {
    const struct mg_time_ops *ops;
};

#endif
