/*
 * Background threads: a ticker's job runs every interval (1 s here) and
 * not before, a stop while it sleeps returns at once, a stop during a job
 * waits for it and the job sees ticker_stopping; threads start with every
 * signal blocked and the stack asked for, and the caller's mask stays as it
 * was. Every wait is bounded.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "ckmain.h"
#include "tclock.h"
#include "ticker.h"

#define STACK		(256 * 1024)
#define TICKS		3
#define SEC		1000000000LL
/* A job that returns at once is late by scheduling only. */
#define LATE_MAX	(SEC / 2)
#define STOP_MAX	(200 * 1000000LL)

/* The signals the daemon sigwaits for, and some it must never get. */
static const int watched[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,
	SIGCHLD,
};
#define NWATCHED	(sizeof(watched) / sizeof(watched[0]))

struct job {
	struct ticker *t;
	pthread_mutex_t mu;
	int64_t at[TICKS];	/* under mu */
	atomic_int calls;
	atomic_int unblocked;	/* watched signals not blocked in the job */
	atomic_int linger;	/* 1: stay in the job until ticker_stopping */
	atomic_int saw_stop;
	atomic_int done;
};

static int
count_unblocked(void)
{
	sigset_t cur;
	size_t i;
	int n = 0;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	for (i = 0; i < NWATCHED; i++)
		if (sigismember(&cur, watched[i]) != 1)
			n++;
	return n;
}

/* Unblocked in the caller, so that only the spawn can block them. */
static void
unblock_watched(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < NWATCHED; i++)
		sigaddset(&set, watched[i]);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void
job_init(struct job *j)
{
	j->t = NULL;
	pthread_mutex_init(&j->mu, NULL);
	atomic_init(&j->calls, 0);
	atomic_init(&j->unblocked, -1);
	atomic_init(&j->linger, 0);
	atomic_init(&j->saw_stop, 0);
	atomic_init(&j->done, 0);
}

static void
job_run(void *arg)
{
	struct job *j = arg;
	int64_t now = tclock_now_ns(), deadline = now + 5 * SEC;
	int n = atomic_fetch_add(&j->calls, 1);

	pthread_mutex_lock(&j->mu);
	if (n < TICKS)
		j->at[n] = now;
	pthread_mutex_unlock(&j->mu);
	atomic_store(&j->unblocked, count_unblocked());
	if (atomic_load(&j->linger)) {
		while (!ticker_stopping(j->t) && tclock_now_ns() < deadline)
			tclock_sleep_ms(5);
		atomic_store(&j->saw_stop, ticker_stopping(j->t));
		/* Late on purpose: ticker_stop must still wait for it. */
		tclock_sleep_ms(50);
	}
	atomic_store(&j->done, 1);
}

static void
wait_calls(struct job *j, int n, int64_t ns)
{
	int64_t deadline = tclock_now_ns() + ns;

	while (atomic_load(&j->calls) < n && tclock_now_ns() < deadline)
		tclock_sleep_ms(10);
}

static int64_t
timed_stop(struct ticker *t)
{
	int64_t t0 = tclock_now_ns();

	ticker_stop(t);
	return tclock_now_ns() - t0;
}

START_TEST(ticks_every_interval)
{
	struct job j;
	int64_t t0, stop_ns;
	int i;

	job_init(&j);
	t0 = tclock_now_ns();
	ck_assert_int_eq(ticker_start(&j.t, 1, STACK, job_run, &j), 0);
	ck_assert_ptr_nonnull(j.t);
	wait_calls(&j, TICKS, (TICKS + 3) * SEC);
	/* Right after a job: it sleeps again. */
	stop_ns = timed_stop(j.t);
	ck_assert_int_eq(atomic_load(&j.calls), TICKS);
	pthread_mutex_lock(&j.mu);
	ck_assert_int_ge(j.at[0] - t0, SEC);
	ck_assert_int_lt(j.at[0] - t0, SEC + LATE_MAX);
	for (i = 1; i < TICKS; i++) {
		ck_assert_int_ge(j.at[i] - j.at[i - 1], SEC);
		ck_assert_int_lt(j.at[i] - j.at[i - 1], SEC + LATE_MAX);
	}
	pthread_mutex_unlock(&j.mu);
	ck_assert_int_lt(stop_ns, STOP_MAX);
}
END_TEST

START_TEST(stop_while_asleep_is_prompt)
{
	struct job j;

	job_init(&j);
	ck_assert_int_eq(ticker_start(&j.t, 3600, STACK, job_run, &j), 0);
	tclock_sleep_ms(50);
	ck_assert_int_eq(ticker_stopping(j.t), 0);
	ck_assert_int_lt(timed_stop(j.t), STOP_MAX);
	ck_assert_int_eq(atomic_load(&j.calls), 0);
}
END_TEST

START_TEST(stop_waits_for_the_job)
{
	struct job j;

	job_init(&j);
	atomic_store(&j.linger, 1);
	ck_assert_int_eq(ticker_start(&j.t, 1, STACK, job_run, &j), 0);
	wait_calls(&j, 1, 3 * SEC);
	ck_assert_int_eq(atomic_load(&j.calls), 1);
	tclock_sleep_ms(50);
	ck_assert_int_eq(atomic_load(&j.done), 0);
	ticker_stop(j.t);
	ck_assert_int_eq(atomic_load(&j.saw_stop), 1);
	ck_assert_int_eq(atomic_load(&j.done), 1);
	ck_assert_int_eq(atomic_load(&j.calls), 1);
}
END_TEST

START_TEST(ticker_signals_blocked)
{
	struct job j;
	int calls, unblocked;

	unblock_watched();
	ck_assert_int_eq(count_unblocked(), (int)NWATCHED);
	job_init(&j);
	ck_assert_int_eq(ticker_start(&j.t, 1, STACK, job_run, &j), 0);
	ck_assert_int_eq(count_unblocked(), (int)NWATCHED);
	wait_calls(&j, 1, 3 * SEC);
	ticker_stop(j.t);
	calls = atomic_load(&j.calls);
	unblocked = atomic_load(&j.unblocked);
	ck_assert_int_ge(calls, 1);
	ck_assert_int_eq(unblocked, 0);
}
END_TEST

struct spawned {
	int unblocked;
	size_t stack;
};

static void *
spawned_main(void *arg)
{
	struct spawned *s = arg;
	pthread_attr_t attr;

	s->unblocked = count_unblocked();
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstacksize(&attr, &s->stack);
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

START_TEST(spawn_blocks_signals_sets_stack)
{
	struct spawned s = { -1, 0 };
	pthread_t th;

	unblock_watched();
	ck_assert_int_eq(ticker_spawn(&th, 2 * STACK, spawned_main, &s), 0);
	ck_assert_int_eq(count_unblocked(), (int)NWATCHED);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(s.unblocked, 0);
	/* Near what was asked, far below the 8 MiB default. */
	ck_assert_uint_ge(s.stack, STACK);
	ck_assert_uint_le(s.stack, 4 * STACK);
}
END_TEST

START_TEST(bad_arguments)
{
	struct job j;
	struct ticker *t = (struct ticker *)&j;

	job_init(&j);
	ck_assert_int_eq(ticker_start(&t, 0, STACK, job_run, &j), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(ticker_start(&t, 1, STACK, NULL, &j), -EINVAL);
	ck_assert_int_eq(ticker_start(NULL, 1, STACK, job_run, &j), -EINVAL);
	ck_assert_int_eq(ticker_stopping(NULL), 0);
	ticker_stop(NULL);
	ck_assert_int_eq(atomic_load(&j.calls), 0);
}
END_TEST

static Suite *
ticker_suite(void)
{
	Suite *s = suite_create("ticker");
	TCase *tick = tcase_create("tick");
	TCase *spawn = tcase_create("spawn");

	tcase_add_test(tick, ticks_every_interval);
	tcase_add_test(tick, stop_while_asleep_is_prompt);
	tcase_add_test(tick, stop_waits_for_the_job);
	tcase_add_test(tick, ticker_signals_blocked);
	tcase_add_test(tick, bad_arguments);
	tcase_add_test(spawn, spawn_blocks_signals_sets_stack);
	tcase_set_timeout(tick, 30);
	tcase_set_timeout(spawn, 30);
	suite_add_tcase(s, tick);
	suite_add_tcase(s, spawn);
	return s;
}

Suite *
ckmain_suite(void)
{
	return ticker_suite();
}
