/*
 * job.h - catalog jobs: devices of type job that the generated main.c
 * starts by connecting them, after every other device. A job's connect
 * returns 0 when it started (it may leave work pending in the event loop),
 * or an MG_* status, which makes the image exit with status 1.
 */
#ifndef MG_JOB_H
#define MG_JOB_H

#include "mg/mg.h"

/* The job that does nothing and succeeds: an image that only connects its
 * devices, then exits 0. */
int mg_noop_connect(void);

#endif
