/*
 * The tests' monotonic clock. See tclock.h.
 */
#include <errno.h>
#include <time.h>

#include "tclock.h"

int64_t
tclock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
tclock_now_ms(void)
{
	return tclock_now_ns() / 1000000;
}

void
tclock_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
