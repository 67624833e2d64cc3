/*
 * Timed waits on the monotonic clock. pthread_cond_timedwait reads its
 * deadline on the condition variable's clock, CLOCK_REALTIME unless set
 * otherwise: a step of the wall clock (NTP, an administrator) would then
 * stall a wait for as long as the step or end it early.
 */
#ifndef MTPROXYD_DEADLINE_H
#define MTPROXYD_DEADLINE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* A condition variable whose timed waits count on CLOCK_MONOTONIC. 0 or
 * a negative errno value. */
int deadline_cond_init(pthread_cond_t *cv);

/* The CLOCK_MONOTONIC time ms milliseconds from now (now if ms <= 0), the
 * deadline for a timed wait on a deadline_cond_init condition variable. */
void deadline_after(int64_t ms, struct timespec *at);

#endif
