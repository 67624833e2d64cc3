/*
 * A bounded pool of reusable threads with small explicit stacks. A job runs
 * on an idle thread, or a new one while under the bound; at the bound it
 * waits in a bounded queue. A thread that cannot start below the bound is
 * an error at once, not a wait.
 */
#ifndef MTPROXYD_POOL_H
#define MTPROXYD_POOL_H

#include <stdatomic.h>
#include <stddef.h>

#define POOL_ERR	(-1)
#define POOL_ERR_FULL	(-2)	/* at the thread bound and the queue is full */
#define POOL_ERR_NOTHREAD (-3)	/* below the bound, no thread could start */

struct pool;
typedef void (*pool_fn)(void *arg);

int pool_new(struct pool **out, int max_threads, int queue_len, int spare,
    size_t stack_size);
/*
 * Run fn on each thread as it leaves, before the pool counts it gone, so
 * per-thread library state (OpenSSL's) is freed before pool_free returns.
 */
void pool_on_thread_exit(struct pool *p, void (*fn)(void));
/*
 * Keep busy and idle (threads running a job, threads waiting for one) equal
 * to the pool's own counts, with atomic stores, so that a reader needs no
 * lock of the pool's; they must outlive it.
 */
void pool_set_gauges(struct pool *p, atomic_llong *busy, atomic_llong *idle);
int pool_submit(struct pool *p, pool_fn fn, void *arg);
/* Threads alive, and threads running a job. */
void pool_counts(struct pool *p, int *threads, int *busy);
/* Wait until no job runs (or timeout_ms passes); stop and free. */
int pool_free(struct pool *p, int timeout_ms);

#endif
