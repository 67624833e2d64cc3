/* Monotonic deadlines for pthread_cond_timedwait, built in one place. */
#include "deadline.h"

#define NS_PER_S	1000000000L

int
deadline_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc;

	if ((rc = pthread_condattr_init(&ca)) != 0)
		return -rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return -rc;
}

void
deadline_after(int64_t ms, struct timespec *at)
{
	clock_gettime(CLOCK_MONOTONIC, at);
	if (ms <= 0)
		return;
	at->tv_sec += (time_t)(ms / 1000);
	at->tv_nsec += (long)(ms % 1000) * 1000000;
	if (at->tv_nsec >= NS_PER_S) {
		at->tv_sec++;
		at->tv_nsec -= NS_PER_S;
	}
}
