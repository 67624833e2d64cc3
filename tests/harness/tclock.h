/*
 * The tests' clock: CLOCK_MONOTONIC, so a step of the wall clock neither
 * stretches nor cuts a wait. Without Check: the harness and the benchmark
 * use it too.
 */
#ifndef MTPROXYD_TCLOCK_H
#define MTPROXYD_TCLOCK_H

#include <stdint.h>

int64_t tclock_now_ms(void);
int64_t tclock_now_ns(void);
/* ms milliseconds, resumed after a signal. */
void tclock_sleep_ms(int ms);

#endif
