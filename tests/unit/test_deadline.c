/*
 * Monotonic deadlines: deadline_after is now plus the milliseconds on
 * CLOCK_MONOTONIC with tv_nsec kept below a second (every carry from 0 to
 * 2 s apart), and now for 0 or less; a condition variable from
 * deadline_cond_init times out at such a deadline, neither before it (as
 * a CLOCK_REALTIME one would at once: the monotonic time lies decades in
 * the wall clock's past) nor long after.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "ckmain.h"
#include "deadline.h"
#include "tclock.h"

#define SEC		1000000000LL
#define MS		1000000LL
#define SPAN_MS		2000
#define WAIT_MS		200
#define LATE_MAX_MS	2000	/* scheduling under sanitizers, generous */

static int64_t
ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * SEC + ts->tv_nsec;
}

static void
check_after(int64_t ms, int64_t want_ms)
{
	struct timespec at;
	int64_t before, after;

	before = tclock_now_ns();
	deadline_after(ms, &at);
	after = tclock_now_ns();
	ck_assert_int_ge(at.tv_nsec, 0);
	ck_assert_int_lt(at.tv_nsec, SEC);
	ck_assert_int_ge(ns_of(&at), before + want_ms * MS);
	ck_assert_int_le(ns_of(&at), after + want_ms * MS);
}

START_TEST(after_every_ms)
{
	int64_t ms;

	for (ms = 0; ms <= SPAN_MS; ms++)
		check_after(ms, ms);
	check_after(86400000, 86400000);
}
END_TEST

START_TEST(after_past_is_now)
{
	check_after(-1, 0);
	check_after(-1500, 0);
}
END_TEST

START_TEST(cond_times_out_on_time)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	struct timespec at;
	int64_t t0, waited;
	int rc;

	ck_assert_int_eq(deadline_cond_init(&cv), 0);
	pthread_mutex_lock(&mu);
	t0 = tclock_now_ns();
	deadline_after(WAIT_MS, &at);
	/* No one signals: only a spurious wakeup returns 0 early. */
	while ((rc = pthread_cond_timedwait(&cv, &mu, &at)) == 0)
		;
	waited = tclock_now_ns() - t0;
	pthread_mutex_unlock(&mu);
	ck_assert_int_eq(rc, ETIMEDOUT);
	ck_assert_int_ge(waited, WAIT_MS * MS);
	ck_assert_int_lt(waited, (WAIT_MS + LATE_MAX_MS) * MS);
	pthread_cond_destroy(&cv);
}
END_TEST

static Suite *
deadline_suite(void)
{
	Suite *s = suite_create("deadline");
	TCase *tc = tcase_create("deadline");

	tcase_add_test(tc, after_every_ms);
	tcase_add_test(tc, after_past_is_now);
	tcase_add_test(tc, cond_times_out_on_time);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return deadline_suite();
}
