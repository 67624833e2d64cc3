/*
 * The shared store ([store] backend = redis, issue 13): several instances
 * agree on each user's quota, live sessions and addresses, and enabled or
 * expiry overrides through one Redis. A thread of its own does all Redis
 * I/O every [store] interval, with a timeout; relays and handshakes only
 * read and write the accounts' atomics (account.h), so a slow or absent
 * Redis never holds them up. Per user USER, under the prefix P:
 *
 *	P quota:USER:PERIOD_START	INCRBY of the bytes this instance
 *					relayed since its last flush, once
 *					per batch (P batch:ID:N marks it
 *					applied); the answer, the fleet's
 *					total, is `used`
 *	P live:USER			hash: instance id -> "ACTIVE IPS
 *					EXPIRES_MS"; fields past EXPIRES_MS
 *					(3 intervals) are an instance gone
 *	P user:USER			hash: enabled (1/0), expires (unix s,
 *					0 never) over the file's, if set
 *
 * A delta leaves the account only once its INCRBY answered: bytes of an
 * outage are flushed when Redis is back, once, and a batch whose answer
 * was lost is sent again under the same number, applied once.
 */
#ifndef MTPROXYD_STORE_REDIS_H
#define MTPROXYD_STORE_REDIS_H

#include "account.h"
#include "config.h"
#include "stats.h"

#define STORE_REDIS_ERR	(-1)

struct store_redis;

/*
 * The thread, the first round one interval from now; cfg's [store] is
 * read now, acc and st are used until store_redis_stop. Errors logged.
 */
int store_redis_start(const struct config *cfg, struct accounts *acc,
    struct stats_store *st, struct store_redis **out);
/* Stops the thread, flushes once more (bounded by the timeout), frees;
 * NULL: nothing. */
void store_redis_stop(struct store_redis *r);

#endif
