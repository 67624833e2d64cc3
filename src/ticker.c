/*
 * Background threads: the cover-site probe, the middle-proxy refresher and
 * the middle-proxy links. A ticker sleeps on a condvar so that a stop ends
 * the sleep at once rather than after up to a whole interval.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "crypto.h"
#include "deadline.h"
#include "ticker.h"

struct ticker {
	pthread_t thread;
	int interval_s;
	void (*fn)(void *arg);
	void *arg;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;		/* under lock */
};

int
ticker_spawn(pthread_t *thread, size_t stack, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	if ((rc = pthread_attr_init(&attr)) != 0)
		return -rc;
	/* The new thread inherits the mask in force at pthread_create. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_attr_setstacksize(&attr, stack);
	if (rc == 0)
		rc = pthread_create(thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -rc;
}

static void *
ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct timespec at;
	int rc;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		deadline_after((int64_t)t->interval_s * 1000, &at);
		rc = 0;
		while (!t->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&t->wake, &t->lock, &at);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	/* The jobs probe and fetch over TLS: libcrypto's per-thread state. */
	crypto_thread_end();
	return NULL;
}

static int
sync_init(struct ticker *t)
{
	int rc;

	if ((rc = deadline_cond_init(&t->wake)) != 0)
		return rc;
	if ((rc = pthread_mutex_init(&t->lock, NULL)) != 0)
		pthread_cond_destroy(&t->wake);
	return -rc;
}

static void
drop(struct ticker *t)
{
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int
ticker_start(struct ticker **out, int interval_s, size_t stack,
    void (*fn)(void *arg), void *arg)
{
	struct ticker *t;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (interval_s < 1 || fn == NULL)
		return -EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->interval_s = interval_s;
	t->fn = fn;
	t->arg = arg;
	if ((rc = sync_init(t)) != 0) {
		free(t);
		return rc;
	}
	/* Before the thread: its first read of *out must see t. */
	*out = t;
	if ((rc = ticker_spawn(&t->thread, stack, ticker_main, t)) != 0) {
		*out = NULL;
		drop(t);
	}
	return rc;
}

int
ticker_stopping(struct ticker *t)
{
	int stop;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	stop = t->stop;
	pthread_mutex_unlock(&t->lock);
	return stop;
}

void
ticker_stop(struct ticker *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	drop(t);
}
