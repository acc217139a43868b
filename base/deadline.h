/*
 * deadline.h - time for timeouts and durations: the monotonic clock in
 * milliseconds, deadlines on it, and the absolute times that
 * pthread_cond_timedwait wants.
 *
 * Durations and deadlines are measured on CLOCK_MONOTONIC, never on the
 * wall clock, so that setting the system time neither fires nor postpones
 * a timeout. A deadline is a point on that clock in milliseconds (a
 * uint64_t from mg_deadline_in), compared with mg_now_ms; the arithmetic
 * around it (adding a timeout without overflow, carrying nanoseconds into
 * seconds) lives here once instead of at each wait.
 */
#ifndef MG_BASE_DEADLINE_H
#define MG_BASE_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* Now on the monotonic clock. */
uint64_t mg_now_ms(void);
uint64_t mg_now_ns(void);
/* Milliseconds from `start_ms` (an mg_now_ms value) until now; 0 when
 * `start_ms` is in the future. */
uint64_t mg_ms_since(uint64_t start_ms);

/* The deadline `timeout_ms` from now (saturating: a huge timeout is a
 * deadline that never comes). */
uint64_t mg_deadline_in(uint64_t timeout_ms);

/* The absolute time `ms` from now on `clock`, for pthread_cond_timedwait:
 * CLOCK_REALTIME for a condition variable with default attributes,
 * CLOCK_MONOTONIC for one made with pthread_condattr_setclock. */
struct timespec mg_abstime_in(clockid_t clock, uint64_t ms);

#endif
