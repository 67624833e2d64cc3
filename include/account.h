/*
 * Accounts: what the daemon knows of each user beyond the configuration,
 * kept across reloads by name: counters, the quota spent this period, the
 * client addresses of its live sessions, the distinct addresses seen, and
 * its rate buckets. A configuration reload hands each user's limits in;
 * the account never keeps a pointer into a configuration.
 *
 * Relay threads touch only atomics and, for users with a rate, the rate
 * lock; handshakes take the account's own lock to admit; the registry's
 * lock is taken by reloads, the state writer and scrapes alone.
 */
#ifndef MTPROXYD_ACCOUNT_H
#define MTPROXYD_ACCOUNT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include "config.h"
#include "hll.h"
#include "tbucket.h"

#define ACCOUNT_ERR	(-1)

/* Why a user's new connection was refused (limit label of the metric). */
enum account_limit {
	ACCOUNT_LIMIT_DISABLED,
	ACCOUNT_LIMIT_EXPIRED,
	ACCOUNT_LIMIT_QUOTA,
	ACCOUNT_LIMIT_CONNECTIONS,
	ACCOUNT_LIMIT_IPS,
	ACCOUNT_LIMIT_COUNT
};

/* The windows of mtproxyd_unique_ips. */
enum account_window { ACCOUNT_5M, ACCOUNT_1H, ACCOUNT_1D, ACCOUNT_WINDOWS };

enum account_dir { ACCOUNT_UP, ACCOUNT_DOWN };	/* client -> Telegram, back */

struct account_addr {
	uint8_t addr[16];
	int family;
	int sessions;
};

struct account {
	char name[CONFIG_NAME_MAX];
	struct account *next;		/* registry chain */
	atomic_ullong connections;	/* sessions admitted */
	atomic_llong active;		/* sessions alive now */
	atomic_ullong bytes[2];		/* by enum account_dir */
	atomic_ullong rejects[ACCOUNT_LIMIT_COUNT];
	/* The quota: bytes both ways since period_start, until period_end. */
	atomic_ullong used;
	atomic_llong period_start, period_end;	/* unix s; end 0: never */
	atomic_ullong quota;		/* the current limit, for metrics; 0 none */
	/* The shared store (store_redis.h): quota bytes not yet added to the
	   fleet's counter, what the other instances last said they hold, and
	   the store's overrides of the file's enabled and expires (-1: none). */
	atomic_ullong unflushed;
	atomic_llong fleet_active, fleet_ips;
	atomic_int fleet_enabled;
	atomic_llong fleet_expires;
	/* The store thread's alone: the batch of unflushed sent and not yet
	   answered, sent again as is (same sequence number) until it is. */
	uint64_t batch_delta, batch_seq;
	int64_t batch_period;

	pthread_mutex_t mu;		/* addrs, ips, period rolls */
	struct account_addr *addrs;	/* of live sessions */
	size_t naddrs, addrcap;
	struct hll_window *ips;		/* [ACCOUNT_WINDOWS], at first use */
	const uint8_t *ip_key;		/* the registry's: keys their hash */

	pthread_mutex_t rate_mu;	/* the buckets */
	unsigned long long rate;	/* the buckets' rate; 0: not set up */
	struct tbucket bucket[2];
};

struct accounts;

int accounts_new(struct accounts **out);
void accounts_free(struct accounts *r);
/* The account of that name, made if new; NULL on no memory. */
struct account *accounts_get(struct accounts *r, const char *name);
/*
 * fn for every account, under the registry lock (fn must not call back into
 * the registry); in the order they were made.
 */
void accounts_each(struct accounts *r, void (*fn)(void *ctx,
    struct account *a), void *ctx);

/*
 * Admit a new session of the user whose limits are l, from peer, at unix
 * time now: 0 (counted as active, its address held) or ACCOUNT_ERR and
 * *why (counted in rejects).
 */
int account_admit(struct account *a, const struct config_limits *l,
    const struct sockaddr *peer, int64_t now, enum account_limit *why);
/* The session admitted from peer ended. */
void account_leave(struct account *a, const struct sockaddr *peer);
/* What account_quota_take says of the bytes about to be relayed. */
#define ACCOUNT_QUOTA_OK	0	/* relay them */
#define ACCOUNT_QUOTA_LAST	1	/* relay them, they spend the quota: end */
#define ACCOUNT_QUOTA_SPENT	2	/* spent before them: drop them, end */

/*
 * n bytes about to be relayed at unix time now, charged to the quota (not
 * when it says SPENT): the overshoot is at most the read that spends it.
 */
int account_quota_take(struct account *a, const struct config_limits *l,
    uint64_t n, int64_t now);
/* n bytes relayed in direction d. */
void account_count(struct account *a, enum account_dir d, uint64_t n);
/* Whether the quota is spent now (period rolled first). */
int account_over_quota(struct account *a, const struct config_limits *l,
    int64_t now);
/*
 * Rate limits (l->rate != 0): how long direction d must wait before its
 * next read (0: read now), and what the read took; times in microseconds
 * of a monotonic clock.
 */
int64_t account_rate_wait(struct account *a, const struct config_limits *l,
    enum account_dir d, int64_t now_us);
void account_rate_charge(struct account *a, enum account_dir d, uint64_t n,
    int64_t now_us);
/* Distinct client addresses over window w, estimated. */
double account_unique_ips(struct account *a, enum account_window w,
    int64_t now);
/* The quota state to save, and to restore after a restart. */
void account_quota_get(struct account *a, uint64_t *used,
    int64_t *period_start);
void account_quota_set(struct account *a, const struct config_limits *l,
    uint64_t used, int64_t period_start, int64_t now);
/* A reload's new limits (for metrics and the next period roll). */
void account_limits_set(struct account *a, const struct config_limits *l,
    int64_t now);

/*
 * The shared store's side. account_fleet_pending: the bytes to add to the
 * fleet's counter of *period_start. account_fleet_flushed: delta of them
 * is in the counter, whose total is now total (ignored if the period
 * rolled meanwhile). account_fleet_live: this instance's sessions and
 * distinct addresses. account_fleet_set: the others' and the overrides.
 */
void account_fleet_pending(struct account *a, uint64_t *delta,
    int64_t *period_start);
void account_fleet_flushed(struct account *a, uint64_t delta,
    int64_t period_start, uint64_t total);
void account_fleet_live(struct account *a, long long *active,
    long long *ips);
void account_fleet_set(struct account *a, long long active, long long ips,
    int enabled, long long expires);

const char *account_limit_name(enum account_limit l);
const char *account_window_name(enum account_window w);

#endif
