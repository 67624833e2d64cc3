/*
 * Background threads. Signals belong to the main thread (it sigwaits for
 * them), so every thread starts with all of them blocked. A ticker runs a
 * job every so many seconds until stopped, and a stop wakes it at once.
 */
#ifndef MTPROXYD_TICKER_H
#define MTPROXYD_TICKER_H

#include <pthread.h>
#include <stddef.h>

struct ticker;

/*
 * pthread_create with a stack of that many bytes and all signals blocked in
 * the new thread; the caller's mask is left as it was. 0 or a negative
 * errno value.
 */
int ticker_spawn(pthread_t *thread, size_t stack, void *(*fn)(void *),
    void *arg);

/*
 * A thread on that stack that calls fn(arg) every interval_s seconds (at
 * least 1) until ticker_stop, the first time interval_s seconds from now.
 * *out is set before the thread starts, so fn may read it where it was
 * stored (for ticker_stopping); on failure it is NULL. 0 or a negative
 * errno value.
 */
int ticker_start(struct ticker **out, int interval_s, size_t stack,
    void (*fn)(void *arg), void *arg);

/*
 * 1 once ticker_stop was called: a long job checks between steps so that
 * a stop waits for one step at most. 0 for NULL (no ticker).
 */
int ticker_stopping(struct ticker *t);

/* Wakes the thread at once, waits for a job in progress, frees; NULL ok. */
void ticker_stop(struct ticker *t);

#endif
