/*
 * Thread pool. Threads are detached and reused: a finished thread waits for
 * the next job unless `spare` threads are idle already, so a burst of clients
 * does not leave thousands of parked threads (and their stacks) behind.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "pool.h"

#define TRIM_MIN_PEAK	64	/* busy threads: smaller bursts leave little */
#define TRIM_SHARE	4
#ifdef POOL_STACK_WATERMARK
#include "log.h"
#endif

struct pool_job {
	pool_fn fn;
	void *arg;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;		/* a job was queued, or stopping */
	pthread_cond_t done;		/* a job or a thread ended */
	pthread_attr_t attr;
	void (*thread_exit)(void);
	atomic_llong *g_busy, *g_idle;	/* pool_set_gauges; NULL: none */
	size_t stack_size;
	int max_threads, spare, stopping;
	int threads, busy, idle;
	int peak;			/* most busy since the last trim */
	struct pool_job *queue;		/* ring of queue_len jobs */
	int queue_len, head, count;
};

int
pool_new(struct pool **out, int max_threads, int queue_len, int spare,
    size_t stack_size)
{
	struct pool *p;

	if (max_threads < 1 || queue_len < 1 || spare < 0)
		return POOL_ERR;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return POOL_ERR;
	if ((p->queue = calloc((size_t)queue_len, sizeof(*p->queue))) == NULL ||
	    deadline_cond_init(&p->done) != 0) {
		free(p->queue);
		free(p);
		return POOL_ERR;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_attr_init(&p->attr);
	pthread_attr_setdetachstate(&p->attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&p->attr, stack_size);
	p->stack_size = stack_size;
	p->max_threads = max_threads;
	p->queue_len = queue_len;
	p->spare = spare;
	*out = p;
	return 0;
}

#ifdef POOL_STACK_WATERMARK
/*
 * A measuring build (configure --enable-stack-watermark): each pool thread
 * fills the free part of its stack with a pattern as it starts, and as it
 * ends finds the deepest byte overwritten. The deepest use of any thread
 * so far is logged whenever it grows, with the stack size, so that a test
 * run over every path tells how small THREAD_STACK may be.
 */
#define WM_BYTE		0xa5
#define WM_SPARE	2048	/* below our own frame: memset's frame */

static atomic_size_t wm_deepest;

/* The lowest usable address of this thread's stack and one past its top. */
static int
wm_bounds(uint8_t **lo, uint8_t **hi)
{
	pthread_attr_t a;
	size_t size;
	void *addr;
	int rc;

	if ((rc = pthread_getattr_np(pthread_self(), &a)) != 0)
		return rc;
	rc = pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	*lo = (uint8_t *)addr;
	*hi = (uint8_t *)addr + size;
	return rc;
}

static void
wm_paint(void)
{
	volatile uint8_t here = 0;
	uint8_t *lo, *hi;

	if (wm_bounds(&lo, &hi) == 0)
		memset(lo, WM_BYTE, (size_t)((const uint8_t *)&here - lo) -
		    WM_SPARE);
}

static void
wm_check(size_t stack_size)
{
	uint8_t *lo, *hi, *p;
	size_t used, old;

	if (wm_bounds(&lo, &hi) != 0)
		return;
	for (p = lo; p < hi && *p == WM_BYTE; p++)
		;
	used = (size_t)(hi - p);
	old = atomic_load(&wm_deepest);
	while (used > old && !atomic_compare_exchange_weak(&wm_deepest, &old,
	    used))
		;
	if (used > old)
		log_info("pool: stack high-water %zu of %zu bytes (%zu usable)",
		    used, stack_size, (size_t)(hi - lo));
}
#endif

/*
 * Sessions free their memory into the allocator's arenas, which keep it.
 * Once busy threads fall to a quarter of their peak since the last trim,
 * hand the free pages back: a few trims as a burst of clients ends, none
 * while the load holds steady. Called with mu held.
 */
static int
burst_over(struct pool *p)
{
	if (p->peak < TRIM_MIN_PEAK || p->busy > p->peak / TRIM_SHARE)
		return 0;
	p->peak = p->busy;
	return 1;
}

static void
trim(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Called with mu held, after busy or idle changed. */
static void
publish(struct pool *p)
{
	if (p->g_busy == NULL)
		return;
	atomic_store(p->g_busy, p->busy);
	atomic_store(p->g_idle, p->idle);
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct pool_job job;

#ifdef POOL_STACK_WATERMARK
	wm_paint();
#endif
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->count == 0 && !p->stopping) {
			p->idle++;
			publish(p);
			pthread_cond_wait(&p->work, &p->mu);
			p->idle--;
			publish(p);
		}
		if (p->count == 0)
			break;
		job = p->queue[p->head];
		p->head = (p->head + 1) % p->queue_len;
		p->count--;
		if (++p->busy > p->peak)
			p->peak = p->busy;
		publish(p);
		pthread_mutex_unlock(&p->mu);
		job.fn(job.arg);
		pthread_mutex_lock(&p->mu);
		p->busy--;
		publish(p);
		pthread_cond_broadcast(&p->done);
		if (burst_over(p)) {
			pthread_mutex_unlock(&p->mu);
			trim();
			pthread_mutex_lock(&p->mu);
		}
		if (p->count == 0 && p->idle >= p->spare)
			break;
	}
	if (p->thread_exit != NULL) {
		pthread_mutex_unlock(&p->mu);
		p->thread_exit();
		pthread_mutex_lock(&p->mu);
	}
#ifdef POOL_STACK_WATERMARK
	wm_check(p->stack_size);
#endif
	p->threads--;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
pool_on_thread_exit(struct pool *p, void (*fn)(void))
{
	pthread_mutex_lock(&p->mu);
	p->thread_exit = fn;
	pthread_mutex_unlock(&p->mu);
}

void
pool_set_gauges(struct pool *p, atomic_llong *busy, atomic_llong *idle)
{
	pthread_mutex_lock(&p->mu);
	p->g_busy = busy;
	p->g_idle = idle;
	publish(p);
	pthread_mutex_unlock(&p->mu);
}

static void
push(struct pool *p, pool_fn fn, void *arg)
{
	int tail = (p->head + p->count) % p->queue_len;

	p->queue[tail].fn = fn;
	p->queue[tail].arg = arg;
	p->count++;
}

int
pool_submit(struct pool *p, pool_fn fn, void *arg)
{
	pthread_t t;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		rc = POOL_ERR;
	} else if (p->count < p->idle) {
		push(p, fn, arg);
		pthread_cond_signal(&p->work);
	} else if (p->threads < p->max_threads) {
		/*
		 * Out of threads below the bound (task or memory limits):
		 * queued, the job would wait for a thread that may not come.
		 */
		if (pthread_create(&t, &p->attr, worker, p) != 0) {
			rc = POOL_ERR_NOTHREAD;
		} else {
			p->threads++;
			push(p, fn, arg);
		}
	} else if (p->count < p->queue_len) {
		push(p, fn, arg);
	} else {
		rc = POOL_ERR_FULL;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
pool_counts(struct pool *p, int *threads, int *busy)
{
	pthread_mutex_lock(&p->mu);
	*threads = p->threads;
	*busy = p->busy;
	pthread_mutex_unlock(&p->mu);
}

static int
wait_until(struct pool *p, const struct timespec *end, int threads_too)
{
	while (p->busy > 0 || p->count > 0 || (threads_too && p->threads > 0)) {
		if (pthread_cond_timedwait(&p->done, &p->mu, end) == ETIMEDOUT)
			return POOL_ERR;
	}
	return 0;
}

int
pool_free(struct pool *p, int timeout_ms)
{
	struct timespec end;
	int rc;

	deadline_after(timeout_ms, &end);
	pthread_mutex_lock(&p->mu);
	rc = wait_until(p, &end, 0);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	if (rc == 0)
		rc = wait_until(p, &end, 1);
	pthread_mutex_unlock(&p->mu);
	/* A thread still running owns p: leaking it beats a use after free. */
	if (rc != 0)
		return rc;
	pthread_attr_destroy(&p->attr);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->queue);
	free(p);
	return 0;
}
