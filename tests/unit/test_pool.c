/*
 * Thread pool at its limits: at the thread bound a job waits in the queue
 * and runs when a thread frees, and a full queue is POOL_ERR_FULL; below
 * the bound, a thread that cannot start (here: a stack no mapping can
 * hold) is POOL_ERR_NOTHREAD at once and the job never runs, instead of
 * waiting in the queue for a thread that never comes. Waits are bounded.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ckmain.h"
#include "pool.h"
#include "tclock.h"

#define STACK		(256 * 1024)
#define HUGE_STACK	((size_t)1 << 46)	/* 64 TiB: no mmap gives it */
#define WAIT_MS		5000

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
	atomic_int ran;
};

/* Runs once the gate opens. */
static void
gated_job(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	atomic_fetch_add(&g->ran, 1);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static int
wait_ran(struct gate *g, int n)
{
	int ms;

	for (ms = 0; ms < WAIT_MS && atomic_load(&g->ran) < n; ms += 10)
		tclock_sleep_ms(10);
	return atomic_load(&g->ran);
}

static int
wait_busy(struct pool *p, int n)
{
	int ms, threads, busy = 0;

	for (ms = 0; ms < WAIT_MS; ms += 10) {
		pool_counts(p, &threads, &busy);
		if (busy >= n)
			break;
		tclock_sleep_ms(10);
	}
	return busy;
}

START_TEST(queue_at_bound)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    0, 0 };
	struct pool *p;
	int threads, busy;

	ck_assert_int_eq(pool_new(&p, 1, 1, 0, STACK), 0);
	ck_assert_int_eq(pool_submit(p, gated_job, &g), 0);
	ck_assert_int_eq(wait_busy(p, 1), 1);
	ck_assert_int_eq(pool_submit(p, gated_job, &g), 0);	/* queued */
	ck_assert_int_eq(pool_submit(p, gated_job, &g), POOL_ERR_FULL);
	pool_counts(p, &threads, &busy);
	ck_assert_int_eq(threads, 1);
	ck_assert_int_eq(busy, 1);
	gate_open(&g);
	ck_assert_int_eq(wait_ran(&g, 2), 2);
	ck_assert_int_eq(pool_free(p, WAIT_MS), 0);
	ck_assert_int_eq(atomic_load(&g.ran), 2);
}
END_TEST

START_TEST(no_thread_is_refused_at_once)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    1, 0 };
	struct pool *p;
	int threads, busy;

	ck_assert_int_eq(pool_new(&p, 4, 4, 0, HUGE_STACK), 0);
	ck_assert_int_eq(pool_submit(p, gated_job, &g), POOL_ERR_NOTHREAD);
	ck_assert_int_eq(pool_submit(p, gated_job, &g), POOL_ERR_NOTHREAD);
	pool_counts(p, &threads, &busy);
	ck_assert_int_eq(threads, 0);
	ck_assert_int_eq(busy, 0);
	/* Nothing was queued to run later either. */
	tclock_sleep_ms(200);
	ck_assert_int_eq(atomic_load(&g.ran), 0);
	ck_assert_int_eq(pool_free(p, WAIT_MS), 0);
	ck_assert_int_eq(atomic_load(&g.ran), 0);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("limits");

	tcase_add_test(tc, queue_at_bound);
	tcase_add_test(tc, no_thread_is_refused_at_once);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return pool_suite();
}
