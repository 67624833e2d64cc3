/*
 * Per-user state that outlives configurations (include/account.h). A limit
 * is checked and the session counted under the account's lock, so two
 * handshakes finishing at once cannot both take the last place.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "crypto.h"
#include "period.h"

#define REGISTRY_BUCKETS	4096

struct accounts {
	uint8_t ip_key[16];		/* keys the address hash: a client cannot
					   pick addresses that skew the estimate */
	pthread_mutex_t mu;
	struct account *bucket[REGISTRY_BUCKETS];
	struct account **order;		/* in the order they were made */
	size_t n, cap;
};

static const int64_t window_s[ACCOUNT_WINDOWS] = { 300, 3600, 86400 };

int
accounts_new(struct accounts **out)
{
	struct accounts *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return ACCOUNT_ERR;
	if (crypto_random(r->ip_key, sizeof(r->ip_key)) != 0) {
		free(r);
		return ACCOUNT_ERR;
	}
	pthread_mutex_init(&r->mu, NULL);
	*out = r;
	return 0;
}

void
accounts_free(struct accounts *r)
{
	struct account *a;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		a = r->order[i];
		pthread_mutex_destroy(&a->mu);
		pthread_mutex_destroy(&a->rate_mu);
		free(a->addrs);
		free(a->ips);
		free(a);
	}
	free(r->order);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t
name_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	while (*name != '\0')
		h = (h ^ (uint8_t)*name++) * 16777619u;
	return h % REGISTRY_BUCKETS;
}

static struct account *
account_make(struct accounts *r, const char *name)
{
	struct account *a, **order;
	size_t cap;

	if (r->n == r->cap) {
		cap = r->cap ? r->cap * 2 : 64;
		if ((order = realloc(r->order, cap * sizeof(*order))) == NULL)
			return NULL;
		r->order = order;
		r->cap = cap;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->ip_key = r->ip_key;
	atomic_init(&a->fleet_enabled, -1);
	atomic_init(&a->fleet_expires, -1);
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->rate_mu, NULL);
	r->order[r->n++] = a;
	return a;
}

struct account *
accounts_get(struct accounts *r, const char *name)
{
	size_t b = name_bucket(name);
	struct account *a;

	pthread_mutex_lock(&r->mu);
	for (a = r->bucket[b]; a != NULL; a = a->next)
		if (strcmp(a->name, name) == 0)
			break;
	if (a == NULL && (a = account_make(r, name)) != NULL) {
		a->next = r->bucket[b];
		r->bucket[b] = a;
	}
	pthread_mutex_unlock(&r->mu);
	return a;
}

void
accounts_each(struct accounts *r, void (*fn)(void *ctx, struct account *a),
    void *ctx)
{
	size_t i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		fn(ctx, r->order[i]);
	pthread_mutex_unlock(&r->mu);
}

/* The address part of peer, 4 or 16 bytes. */
static void
peer_addr(const struct sockaddr *peer, struct account_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->family = peer->sa_family;
	if (peer->sa_family == AF_INET6)
		memcpy(out->addr, &((const struct sockaddr_in6 *)peer)->sin6_addr,
		    16);
	else
		memcpy(out->addr, &((const struct sockaddr_in *)peer)->sin_addr,
		    4);
}

/* The slot of peer's address among the live ones, or naddrs. */
static size_t
addr_find(const struct account *a, const struct account_addr *k)
{
	size_t i;

	for (i = 0; i < a->naddrs; i++)
		if (a->addrs[i].family == k->family &&
		    memcmp(a->addrs[i].addr, k->addr, 16) == 0)
			break;
	return i;
}

/* Under a->mu: a new period resets what was spent in the last one. */
static void
roll_locked(struct account *a, const struct config_limits *l, int64_t now)
{
	int64_t start, end = 0;

	if (period_start((enum period)l->quota_period, now, &start) != 0)
		return;
	if (start == atomic_load(&a->period_start) &&
	    (atomic_load(&a->period_end) == 0 || now < atomic_load(&a->period_end)))
		return;
	if (period_next((enum period)l->quota_period, now, &end) != 0)
		end = 0;
	atomic_store(&a->used, 0);
	/* Not the shared store's to count in the new period. */
	atomic_store(&a->unflushed, 0);
	atomic_store(&a->period_start, start);
	atomic_store(&a->period_end, end);
}

static void
roll(struct account *a, const struct config_limits *l, int64_t now)
{
	int64_t end = atomic_load(&a->period_end);

	/* The common case, lock-free: inside the period. */
	if (end != 0 && now < end)
		return;
	if (end == 0 && l->quota_period == 0 &&
	    atomic_load(&a->period_start) == 0)
		return;
	pthread_mutex_lock(&a->mu);
	roll_locked(a, l, now);
	pthread_mutex_unlock(&a->mu);
}

static int
spent(struct account *a, const struct config_limits *l)
{
	return l->quota != 0 && atomic_load(&a->used) >= l->quota;
}

/* Under a->mu: the first limit the new session would break. */
static int
check_locked(struct account *a, const struct config_limits *l,
    const struct account_addr *k, int64_t now, enum account_limit *why)
{
	int enabled = atomic_load(&a->fleet_enabled);
	long long expires = atomic_load(&a->fleet_expires);

	if (enabled < 0 ? l->disabled : !enabled)
		*why = ACCOUNT_LIMIT_DISABLED;
	else if ((expires < 0 ? l->expires : expires) != 0 &&
	    now >= (expires < 0 ? l->expires : expires))
		*why = ACCOUNT_LIMIT_EXPIRED;
	else if (spent(a, l))
		*why = ACCOUNT_LIMIT_QUOTA;
	else if (l->max_connections != 0 && atomic_load(&a->active) +
	    atomic_load(&a->fleet_active) >= l->max_connections)
		*why = ACCOUNT_LIMIT_CONNECTIONS;
	else if (l->max_ips != 0 && addr_find(a, k) == a->naddrs &&
	    (long long)a->naddrs + atomic_load(&a->fleet_ips) >= l->max_ips)
		*why = ACCOUNT_LIMIT_IPS;
	else
		return 0;
	return ACCOUNT_ERR;
}

/* Under a->mu: one more session from k. */
static int
hold_addr_locked(struct account *a, const struct account_addr *k)
{
	size_t i = addr_find(a, k), cap;
	struct account_addr *na;

	if (i < a->naddrs) {
		a->addrs[i].sessions++;
		return 0;
	}
	if (a->naddrs == a->addrcap) {
		cap = a->addrcap ? a->addrcap * 2 : 4;
		if ((na = realloc(a->addrs, cap * sizeof(*na))) == NULL)
			return ACCOUNT_ERR;
		a->addrs = na;
		a->addrcap = cap;
	}
	a->addrs[a->naddrs] = *k;
	a->addrs[a->naddrs++].sessions = 1;
	return 0;
}

/* Under a->mu: the address into the distinct-address estimates. */
static void
note_ip_locked(struct account *a, const struct account_addr *k, int64_t now)
{
	uint8_t h[32], in[sizeof(k->addr) + 1];
	uint64_t v = 0;
	int i;

	if (a->ips == NULL) {
		if ((a->ips = calloc(ACCOUNT_WINDOWS, sizeof(*a->ips))) == NULL)
			return;
		for (i = 0; i < ACCOUNT_WINDOWS; i++)
			hll_window_init(&a->ips[i], window_s[i]);
	}
	memcpy(in, k->addr, sizeof(k->addr));
	in[sizeof(k->addr)] = (uint8_t)k->family;
	if (crypto_sha256(a->ip_key, 16, in, sizeof(in), h) != 0)
		return;
	for (i = 0; i < 8; i++)
		v = v << 8 | h[i];
	for (i = 0; i < ACCOUNT_WINDOWS; i++)
		hll_window_add(&a->ips[i], now, v);
}

int
account_admit(struct account *a, const struct config_limits *l,
    const struct sockaddr *peer, int64_t now, enum account_limit *why)
{
	struct account_addr k;
	int rc;

	peer_addr(peer, &k);
	pthread_mutex_lock(&a->mu);
	roll_locked(a, l, now);
	rc = check_locked(a, l, &k, now, why);
	if (rc == 0 && hold_addr_locked(a, &k) != 0) {
		*why = ACCOUNT_LIMIT_IPS;	/* no memory for one more */
		rc = ACCOUNT_ERR;
	}
	if (rc == 0) {
		atomic_fetch_add(&a->active, 1);
		atomic_fetch_add(&a->connections, 1);
		note_ip_locked(a, &k, now);
	}
	pthread_mutex_unlock(&a->mu);
	if (rc != 0)
		atomic_fetch_add(&a->rejects[*why], 1);
	return rc;
}

void
account_leave(struct account *a, const struct sockaddr *peer)
{
	struct account_addr k;
	size_t i;

	peer_addr(peer, &k);
	pthread_mutex_lock(&a->mu);
	i = addr_find(a, &k);
	if (i < a->naddrs && --a->addrs[i].sessions == 0)
		a->addrs[i] = a->addrs[--a->naddrs];
	atomic_fetch_sub(&a->active, 1);
	pthread_mutex_unlock(&a->mu);
}

int
account_quota_take(struct account *a, const struct config_limits *l,
    uint64_t n, int64_t now)
{
	unsigned long long before;

	if (l->quota == 0)
		return ACCOUNT_QUOTA_OK;
	roll(a, l, now);
	before = atomic_fetch_add(&a->used, n);
	if (before >= l->quota) {
		/* Not relayed: not spent either. */
		atomic_fetch_sub(&a->used, n);
		return ACCOUNT_QUOTA_SPENT;
	}
	atomic_fetch_add(&a->unflushed, n);
	return before + n >= l->quota ? ACCOUNT_QUOTA_LAST : ACCOUNT_QUOTA_OK;
}

void
account_count(struct account *a, enum account_dir d, uint64_t n)
{
	atomic_fetch_add(&a->bytes[d], n);
}

int
account_over_quota(struct account *a, const struct config_limits *l,
    int64_t now)
{
	if (l->quota == 0)
		return 0;
	roll(a, l, now);
	return spent(a, l);
}

/* Under rate_mu: buckets at the user's current rate, one second deep. */
static void
buckets_locked(struct account *a, unsigned long long rate, int64_t now_us)
{
	if (a->rate == rate)
		return;
	tbucket_init(&a->bucket[ACCOUNT_UP], rate, rate, now_us);
	tbucket_init(&a->bucket[ACCOUNT_DOWN], rate, rate, now_us);
	a->rate = rate;
}

int64_t
account_rate_wait(struct account *a, const struct config_limits *l,
    enum account_dir d, int64_t now_us)
{
	int64_t wait;

	if (l->rate == 0)
		return 0;
	pthread_mutex_lock(&a->rate_mu);
	buckets_locked(a, l->rate, now_us);
	wait = tbucket_wait_us(&a->bucket[d], now_us);
	pthread_mutex_unlock(&a->rate_mu);
	return wait;
}

void
account_rate_charge(struct account *a, enum account_dir d, uint64_t n,
    int64_t now_us)
{
	pthread_mutex_lock(&a->rate_mu);
	if (a->rate != 0)
		tbucket_charge(&a->bucket[d], now_us, n);
	pthread_mutex_unlock(&a->rate_mu);
}

double
account_unique_ips(struct account *a, enum account_window w, int64_t now)
{
	double v = 0;

	pthread_mutex_lock(&a->mu);
	if (a->ips != NULL && hll_window_estimate(&a->ips[w], now, &v) != 0)
		v = 0;
	pthread_mutex_unlock(&a->mu);
	return v;
}

void
account_quota_get(struct account *a, uint64_t *used, int64_t *period_start)
{
	pthread_mutex_lock(&a->mu);
	*used = atomic_load(&a->used);
	*period_start = atomic_load(&a->period_start);
	pthread_mutex_unlock(&a->mu);
}

void
account_quota_set(struct account *a, const struct config_limits *l,
    uint64_t used, int64_t period_start, int64_t now)
{
	int64_t end;

	if (period_next((enum period)l->quota_period, period_start, &end) != 0)
		end = 0;
	pthread_mutex_lock(&a->mu);
	atomic_store(&a->used, used);
	atomic_store(&a->period_start, period_start);
	atomic_store(&a->period_end, end);
	/* A period that ended while the daemon was down starts afresh. */
	roll_locked(a, l, now);
	pthread_mutex_unlock(&a->mu);
}

void
account_limits_set(struct account *a, const struct config_limits *l,
    int64_t now)
{
	atomic_store(&a->quota, l->quota);
	pthread_mutex_lock(&a->mu);
	roll_locked(a, l, now);
	pthread_mutex_unlock(&a->mu);
}

void
account_fleet_pending(struct account *a, uint64_t *delta,
    int64_t *period_start)
{
	pthread_mutex_lock(&a->mu);
	*delta = atomic_load(&a->unflushed);
	*period_start = atomic_load(&a->period_start);
	pthread_mutex_unlock(&a->mu);
}

void
account_fleet_flushed(struct account *a, uint64_t delta,
    int64_t period_start, uint64_t total)
{
	pthread_mutex_lock(&a->mu);
	/* A roll since cleared what was pending: nothing of it is left. */
	if (atomic_load(&a->period_start) == period_start) {
		atomic_fetch_sub(&a->unflushed, delta);
		/* The fleet's total and what was taken since the INCRBY. */
		atomic_store(&a->used, total + atomic_load(&a->unflushed));
	}
	pthread_mutex_unlock(&a->mu);
}

void
account_fleet_live(struct account *a, long long *active, long long *ips)
{
	pthread_mutex_lock(&a->mu);
	*active = atomic_load(&a->active);
	*ips = (long long)a->naddrs;
	pthread_mutex_unlock(&a->mu);
}

void
account_fleet_set(struct account *a, long long active, long long ips,
    int enabled, long long expires)
{
	atomic_store(&a->fleet_active, active);
	atomic_store(&a->fleet_ips, ips);
	atomic_store(&a->fleet_enabled, enabled);
	atomic_store(&a->fleet_expires, expires);
}

const char *
account_limit_name(enum account_limit l)
{
	static const char *const names[ACCOUNT_LIMIT_COUNT] = {
		"disabled", "expired", "quota", "max_connections", "max_ips",
	};

	return (unsigned)l < ACCOUNT_LIMIT_COUNT ? names[l] : "unknown";
}

const char *
account_window_name(enum account_window w)
{
	static const char *const names[ACCOUNT_WINDOWS] = { "5m", "1h", "1d" };

	return (unsigned)w < ACCOUNT_WINDOWS ? names[w] : "unknown";
}
