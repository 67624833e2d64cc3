/*
 * The daemon's shared state, built in dependency order and taken down in
 * the reverse: the session threads first, so that nothing uses the rest.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>

#include "crypto.h"
#include "dcpool.h"
#include "fetch.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "middle.h"
#include "mux.h"
#include "net.h"
#include "pool.h"
#include "replay_redis.h"
#include "iplimit.h"
#include "seen.h"
#include "server.h"
#include "session.h"
#include "store.h"
#include "store_redis.h"
#include "ticker.h"

#define POOL_QUEUE		1024
#define POOL_STOP_SLACK		5	/* seconds */
#define TICKER_STACK		(64 * 1024)
/* 512 KiB: room for tens of thousands of client addresses. */
#define SEEN_SLOTS		((size_t)1 << 16)
#define IPLIMIT_SLACK		4
#define IPLIMIT_MAX		((size_t)1 << 20)

/*
 * Session threads use at most 10.9 KiB of stack, TLS and thread block
 * included: the deepest of every pool thread over the whole test suite
 * (direct, fast, fake-TLS, cover-site relay, middle mode, debug logging),
 * measured with configure --enable-stack-watermark. 32 KiB keeps three
 * times that; a thread touches only the pages it uses. Sanitizers need
 * far more stack.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THREAD_STACK		(1024 * 1024)
#else
#define THREAD_STACK		(32 * 1024)
#endif

/* [store] backend = redis: the replay set every instance checks too. */
static int
shared_replay_new(struct server *srv, uint32_t window)
{
	const struct config *cfg = srv->cfg;
	struct replay_redis_conf rc = {
		.addr = cfg->redis.addr,
		.password = cfg->redis.password,
		.prefix = cfg->redis.prefix,
		.timeout_ms = cfg->store_timeout,
		.window = window,
		.errors = &srv->stats.replay_store_errors,
	};

	if (cfg->store != CONFIG_STORE_REDIS)
		return 0;
	if (replay_redis_new(&srv->shared, &rc) != 0) {
		log_error("[store] redis = %s: cannot set up the shared replay "
		    "set", cfg->redis.addr);
		return SERVER_ERR;
	}
	log_info("replay store: Redis at %s, keys %sreplay:*, timeout %d ms",
	    cfg->redis.addr, cfg->redis.prefix, cfg->store_timeout);
	return 0;
}

/*
 * The replay set remembers a hello for as long as its time would still be
 * accepted; the middle-proxy list and links only in middle mode.
 */
static int
parts_new(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	uint32_t window;

	window = (uint32_t)(cfg->time_skew_past + cfg->time_skew_future);

	if (replay_new(&srv->replay, (size_t)cfg->replay_cache_size,
	    window > 0 ? window : 1) != 0) {
		log_error("cannot create the replay cache");
		return SERVER_ERR;
	}
	if (shared_replay_new(srv, window > 0 ? window : 1) != 0)
		return SERVER_ERR;
	if (accounts_new(&srv->acc) != 0) {
		log_error("out of memory");
		return SERVER_ERR;
	}
	if (cfg->mode == CONFIG_MODE_MIDDLE) {
		if (fetch_global_init() != 0 ||
		    middle_new(cfg, &srv->stats.middle, &srv->mid) != 0) {
			log_error("no usable middle-proxy list: cannot run in "
			    "middle mode");
			return SERVER_ERR;
		}
		if (mux_new(cfg, srv->mid, &srv->stats.mux, &srv->mux) != 0) {
			log_error("cannot start the middle-proxy links");
			return SERVER_ERR;
		}
	} else if (cfg->dc_pool > 0 &&
	    dcpool_start(cfg, &srv->stats.upstream, &srv->dcpool) != 0) {
		log_error("cannot start the DC connection pool");
		return SERVER_ERR;
	}
	return 0;
}

/*
 * A state file that cannot be read must not keep the proxy down: it is set
 * aside for the operator and the quotas start from zero.
 */
static void
set_aside(const struct server *srv, const char *err)
{
	char from[PATH_MAX + 32], to[PATH_MAX + 32];

	snprintf(from, sizeof(from), "%s/%s", srv->cfg->state_dir, STORE_FILE);
	snprintf(to, sizeof(to), "%s/%s.bad", srv->cfg->state_dir, STORE_FILE);
	if (rename(from, to) != 0)
		log_error("quota state: %s; and rename to %s: %s", err, to,
		    strerror(errno));
	else
		log_error("quota state: %s; kept as %s, quotas start from zero",
		    err, to);
}

/* The saved quota state into the accounts (users of the start's cfg). */
static int
load_state(struct server *srv)
{
	static const struct config_limits none;
	const struct config_user *u;
	struct store_entry *e = NULL;
	struct account *a;
	char err[512];
	size_t i, n = 0;
	int64_t now = wallclock_now(srv->clock);

	if (store_open_local(srv->cfg->state_dir, &srv->store, err,
	    sizeof(err)) != 0) {
		log_error("quota state: %s", err);
		return SERVER_ERR;
	}
	if (store_load(srv->store, &e, &n, err, sizeof(err)) != 0) {
		set_aside(srv, err);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if ((a = accounts_get(srv->acc, e[i].name)) == NULL) {
			free(e);
			log_error("out of memory");
			return SERVER_ERR;
		}
		u = config_find_user(srv->cfg, e[i].name);
		account_quota_set(a, u != NULL ? &u->lim : &none, e[i].used,
		    e[i].period_start, now);
	}
	if (n > 0)
		log_info("quota state: %zu user(s) restored", n);
	free(e);
	return 0;
}

struct collect {
	struct store_entry *e;
	size_t n, cap;
	int failed;
};

static void
collect_one(void *arg, struct account *a)
{
	struct collect *c = arg;
	struct store_entry *ne;
	size_t cap;

	/* Only users with a quota have a state worth keeping. */
	if (atomic_load(&a->quota) == 0 && atomic_load(&a->used) == 0)
		return;
	if (c->n == c->cap) {
		cap = c->cap ? c->cap * 2 : 256;
		if ((ne = realloc(c->e, cap * sizeof(*ne))) == NULL) {
			c->failed = 1;
			return;
		}
		c->e = ne;
		c->cap = cap;
	}
	memset(&c->e[c->n], 0, sizeof(c->e[c->n]));
	snprintf(c->e[c->n].name, sizeof(c->e[c->n].name), "%s", a->name);
	account_quota_get(a, &c->e[c->n].used, &c->e[c->n].period_start);
	c->n++;
}

/* Every account's quota state, written whole (atomic rename). */
static void
save_state(struct server *srv)
{
	struct collect c = { NULL, 0, 0, 0 };
	char err[512];

	if (srv->store == NULL || srv->acc == NULL)
		return;
	accounts_each(srv->acc, collect_one, &c);
	if (c.n == 0 && !c.failed)
		return;
	if (c.failed)
		log_warn("quota state: out of memory; not saved");
	else if (store_save(srv->store, c.e, c.n, err, sizeof(err)) != 0)
		log_warn("quota state: %s", err);
	free(c.e);
}

static void
snap_free(struct server_snap *sn)
{
	if (sn == NULL)
		return;
	mask_free(sn->mask);
	if (sn->secrets != NULL)
		crypto_cleanse(sn->secrets, sn->cfg->nusers * SECRET_LEN);
	free(sn->secrets);
	free(sn->acct);
	if (sn->owned != NULL)
		config_free(sn->owned);
	free(sn->owned);
	free(sn);
}

/* Secrets and accounts in user order, each account given its limits. */
static int
snap_users(struct server *srv, struct server_snap *sn)
{
	const struct config *cfg = sn->cfg;
	int64_t now = wallclock_now(srv->clock);
	size_t i, n = cfg->nusers ? cfg->nusers : 1;

	sn->secrets = calloc(n, SECRET_LEN);
	sn->acct = calloc(n, sizeof(*sn->acct));
	if (sn->secrets == NULL || sn->acct == NULL)
		return SERVER_ERR;
	for (i = 0; i < cfg->nusers; i++) {
		memcpy(sn->secrets[i], cfg->users[i].secret, SECRET_LEN);
		if ((sn->acct[i] = accounts_get(srv->acc,
		    cfg->users[i].name)) == NULL)
			return SERVER_ERR;
		account_limits_set(sn->acct[i], &cfg->users[i].lim, now);
	}
	return 0;
}

/* cfg as sessions will use it; a cover site when it has fake-TLS domains. */
static int
snap_new(struct server *srv, const struct config *cfg, struct server_snap **out)
{
	struct server_snap *sn;

	if ((sn = calloc(1, sizeof(*sn))) == NULL) {
		log_error("out of memory");
		return SERVER_ERR;
	}
	sn->cfg = cfg;
	atomic_init(&sn->refs, 1);
	if (snap_users(srv, sn) != 0) {
		log_error("out of memory");
		goto fail;
	}
	if (cfg->ndomains > 0 && mask_new(cfg, &sn->mask) != 0) {
		log_error("cannot set up the cover site");
		goto fail;
	}
	sn->hs.cfg = cfg;
	sn->hs.secrets = (const uint8_t (*)[SECRET_LEN])sn->secrets;
	sn->hs.nsecrets = cfg->nusers;
	sn->hs.replay = srv->replay;
	sn->hs.shared = srv->shared;
	sn->hs.mask = sn->mask;
	*out = sn;
	return 0;
fail:
	snap_free(sn);
	return SERVER_ERR;
}

struct server_snap *
server_snap_get(struct server *srv)
{
	struct server_snap *sn;

	pthread_mutex_lock(&srv->snap_mu);
	sn = srv->snap;
	atomic_fetch_add(&sn->refs, 1);
	pthread_mutex_unlock(&srv->snap_mu);
	return sn;
}

/* The last holder only drops the count: the sweeper frees (mask_free waits). */
void
server_snap_put(struct server_snap *sn)
{
	atomic_fetch_sub(&sn->refs, 1);
}

/* Retired snapshots no session holds any more. */
static void
reap(struct server *srv)
{
	struct server_snap **pp, *sn, *dead = NULL;

	pthread_mutex_lock(&srv->snap_mu);
	for (pp = &srv->retired; (sn = *pp) != NULL;) {
		if (atomic_load(&sn->refs) == 0) {
			*pp = sn->next;
			sn->next = dead;
			dead = sn;
		} else {
			pp = &sn->next;
		}
	}
	pthread_mutex_unlock(&srv->snap_mu);
	while ((sn = dead) != NULL) {
		dead = sn->next;
		snap_free(sn);
	}
}

/* Once a second: the limits of live sessions, old snapshots, the state. */
static void
sweep(void *arg)
{
	struct server *srv = arg;

	session_sweep(srv);
	reap(srv);
	if (net_now_ms() >= srv->next_save) {
		save_state(srv);
		srv->next_save = net_now_ms() +
		    (int64_t)srv->cfg->state_interval * 1000;
	}
}

/*
 * The per-address table when a per-address limit is on at start: room for
 * every address that may hold a session or a handshake, IPLIMIT_SLACK over.
 */
static int
iplimit_start(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	size_t slots = (size_t)cfg->max_clients * 2 * IPLIMIT_SLACK;

	if (cfg->max_conn_per_ip == 0 && cfg->hs_fail_per_ip == 0)
		return 0;
	return iplimit_new(slots < IPLIMIT_MAX ? slots : IPLIMIT_MAX,
	    &srv->iplimit);
}

int
server_new(const struct config *cfg, const struct wallclock *clock,
    struct server **out)
{
	struct server *srv;
	struct metrics_view mv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		log_error("out of memory");
		return SERVER_ERR;
	}
	srv->cfg = cfg;
	srv->clock = clock;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_mutex_init(&srv->snap_mu, NULL);
	if (stats_init(&srv->stats) != 0 || parts_new(srv) != 0 ||
	    snap_new(srv, cfg, &srv->snap) != 0 || load_state(srv) != 0)
		goto fail;
	if (seen_new(SEEN_SLOTS, &srv->seen) != 0 ||
	    iplimit_start(srv) != 0) {
		log_error("out of memory");
		goto fail;
	}
	/* Two threads a session, one a handshake (session.h): max_clients of
	   each at once. */
	if (pool_new(&srv->pool, 3 * cfg->max_clients + 16, POOL_QUEUE,
	    cfg->pool_spare, THREAD_STACK) != 0) {
		log_error("cannot create the thread pool");
		goto fail;
	}
	pool_on_thread_exit(srv->pool, crypto_thread_end);
	pool_set_gauges(srv->pool, &srv->stats.pool.busy,
	    &srv->stats.pool.idle);
	mv = (struct metrics_view){ cfg, &srv->stats, &srv->active, srv->acc,
	    clock };
	if (metrics_start(&mv, &srv->metrics) != 0)
		goto fail;
	if (cfg->store == CONFIG_STORE_REDIS && store_redis_start(cfg,
	    srv->acc, &srv->stats.store, &srv->fleet) != 0)
		goto fail;
	srv->next_save = net_now_ms() + (int64_t)cfg->state_interval * 1000;
	if (ticker_start(&srv->sweeper, 1, TICKER_STACK, sweep, srv) != 0) {
		log_error("cannot start the session sweeper");
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return SERVER_ERR;
}
/* a's address as a listen key: validation writes the port into it. */
static struct net_addr
listen_addr(const struct net_addr *a)
{
	struct net_addr k = *a;

	if (k.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&k.ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&k.ss)->sin6_port = 0;
	return k;
}

/* The listen addresses, their port (a key of its own) aside. */
static int
listen_changed(const struct config *a, const struct config *b)
{
	struct net_addr x, y;
	size_t i;

	if (a->nlisten != b->nlisten)
		return 1;
	for (i = 0; i < a->nlisten; i++) {
		x = listen_addr(&a->listen[i]);
		y = listen_addr(&b->listen[i]);
		if (memcmp(&x, &y, sizeof(x)) != 0)
			return 1;
	}
	return 0;
}

/* As written: a reload does not look the host up again. */
static int
upstream_changed(const struct config_upstream *a,
    const struct config_upstream *b)
{
	return a->has_socks5 != b->has_socks5 || a->port != b->port ||
	    strcmp(a->host, b->host) != 0 ||
	    strcmp(a->username, b->username) != 0 ||
	    strcmp(a->password, b->password) != 0;
}

/* Keys the running parts were built with: a reload cannot change them. */
static void
restart_keys(const struct config *a, const struct config *b, char *out,
    size_t outlen)
{
	const struct {
		const char *name;
		int changed;
	} k[] = {
		{ "[server] port", a->port != b->port },
		{ "[server] listen", listen_changed(a, b) },
		{ "[server] mode", a->mode != b->mode },
		{ "[server] max_clients", a->max_clients != b->max_clients },
		{ "[server] max_connections_per_ip or handshake_failures_per_ip "
		    "from 0", (a->max_conn_per_ip == 0 && a->hs_fail_per_ip == 0) &&
		    (b->max_conn_per_ip != 0 || b->hs_fail_per_ip != 0) },
		{ "[server] client_mss", a->client_mss != b->client_mss },
		{ "[server] state_dir", strcmp(a->state_dir, b->state_dir) != 0 },
		{ "[server] dc_pool", a->dc_pool != b->dc_pool },
		{ "[tls] replay_cache_size",
		    a->replay_cache_size != b->replay_cache_size },
		{ "[middle] ad_tag", a->has_ad_tag != b->has_ad_tag ||
		    memcmp(a->ad_tag, b->ad_tag, sizeof(a->ad_tag)) != 0 },
		{ "[metrics] listen", a->has_metrics != b->has_metrics ||
		    memcmp(&a->metrics_listen, &b->metrics_listen,
		    sizeof(a->metrics_listen)) != 0 },
		{ "[server] user", strcmp(a->run_user, b->run_user) != 0 },
		{ "[server] group", strcmp(a->run_group, b->run_group) != 0 },
		{ "[upstream]", upstream_changed(&a->upstream, &b->upstream) },
		{ "[store]", a->store != b->store ||
		    memcmp(&a->redis, &b->redis, sizeof(a->redis)) != 0 ||
		    a->store_timeout != b->store_timeout },
	};
	size_t i, pos = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(k) / sizeof(k[0]) && pos < outlen; i++)
		if (k[i].changed)
			pos += (size_t)snprintf(out + pos, outlen - pos, "%s%s",
			    pos ? ", " : "", k[i].name);
}

int
server_reload(struct server *srv, struct config *cfg)
{
	struct server_snap *sn, *old;
	char keys[512];

	if (snap_new(srv, cfg, &sn) != 0) {
		config_free(cfg);
		free(cfg);
		atomic_fetch_add(&srv->stats.reloads[1], 1);
		return SERVER_ERR;
	}
	sn->owned = cfg;
	restart_keys(srv->cfg, cfg, keys, sizeof(keys));
	if (keys[0] != '\0')
		log_warn("reload: %s changed; they need a restart and keep "
		    "their running values", keys);
	log_set_level(cfg->log_level);
	metrics_set_allow(srv->metrics, cfg);
	pthread_mutex_lock(&srv->snap_mu);
	old = srv->snap;
	srv->snap = sn;
	old->next = srv->retired;
	srv->retired = old;
	pthread_mutex_unlock(&srv->snap_mu);
	server_snap_put(old);
	session_drain_changed(srv, cfg);
	atomic_fetch_add(&srv->stats.reloads[0], 1);
	log_info("reload: %zu user(s); new sessions use the new "
	    "configuration", cfg->nusers);
	return 0;
}

static void
wait_for_sessions(struct server *srv, int seconds)
{
	struct timespec tick = { 0, 50 * 1000000 };
	long loops = (long)seconds * 20;

	while (atomic_load(&srv->active) > 0 && loops-- > 0)
		nanosleep(&tick, NULL);
}

int
server_drain(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	int rc;

	wait_for_sessions(srv, cfg->shutdown_grace);
	if (atomic_load(&srv->active) > 0)
		log_info("closing %lld remaining session(s)",
		    (long long)atomic_load(&srv->active));
	session_shutdown_all(srv);
	/* A session may be in a DC connect, which nothing interrupts. */
	rc = pool_free(srv->pool, (cfg->connect_timeout + POOL_STOP_SLACK) *
	    1000);
	if (rc != 0) {
		log_error("sessions did not stop in time");
		return SERVER_ERR;
	}
	srv->pool = NULL;
	return 0;
}

void
server_free(struct server *srv)
{
	struct server_snap *sn;

	if (srv == NULL)
		return;
	/* First: a scrape reads the counters freed below. */
	metrics_stop(srv->metrics);
	ticker_stop(srv->sweeper);
	if (srv->pool != NULL)
		pool_free(srv->pool, 0);
	store_redis_stop(srv->fleet);
	save_state(srv);
	store_close(srv->store);
	while ((sn = srv->retired) != NULL) {
		srv->retired = sn->next;
		snap_free(sn);
	}
	snap_free(srv->snap);
	accounts_free(srv->acc);
	dcpool_stop(srv->dcpool);
	mux_free(srv->mux);
	middle_free(srv->mid);
	if (srv->mid != NULL)
		fetch_global_cleanup();
	replay_free(srv->replay);
	replay_redis_free(srv->shared);
	seen_free(srv->seen);
	iplimit_free(srv->iplimit);
	pthread_mutex_destroy(&srv->snap_mu);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}

void
server_stats_log(const struct server *srv)
{
	stats_log(srv->cfg, &srv->stats, srv->acc, atomic_load(&srv->active));
}
