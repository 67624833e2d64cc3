/*
 * What lives as long as the daemon: the configuration it started with, the
 * replay set, the middle-proxy list and links or the DC pool, the session
 * threads, the counters, the users' accounts and the list of live
 * sessions; and what a reload replaces: a snapshot of the configuration
 * with the users' secrets and the cover site. A session keeps the snapshot
 * it started with. The acceptor and every session share the server; main
 * makes it, reloads it, drains it and frees it.
 */
#ifndef MTPROXYD_SERVER_H
#define MTPROXYD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "account.h"
#include "config.h"
#include "handshake.h"
#include "replay.h"
#include "stats.h"
#include "wallclock.h"

#define SERVER_ERR	(-1)

struct dcpool;
struct mask;
struct metrics;
struct middle;
struct mux;
struct pool;
struct iplimit;
struct seen;
struct session;
struct store;
struct ticker;

/* One configuration as sessions use it; refcounted, replaced by reloads. */
struct server_snap {
	atomic_int refs;		/* the server's while current, sessions' */
	const struct config *cfg;	/* users, limits, timeouts, [tls], [dc] */
	struct config *owned;		/* cfg when a reload made it, else NULL */
	uint8_t (*secrets)[SECRET_LEN];	/* one per user, in user order */
	struct account **acct;		/* one per user, in user order */
	struct mask *mask;		/* NULL: no cover site, failures are held */
	struct handshake_env hs;	/* the above, as the handshake reads them */
	struct server_snap *next;	/* retired, waiting for refs 0 */
};

struct server {
	const struct config *cfg;	/* the start's; must outlive the server */
	struct pool *pool;		/* session threads */
	replay *replay;			/* hellos and headers seen */
	struct replay_redis *shared;	/* [store] redis: by every instance */
	struct middle *mid;		/* middle mode: the list; else NULL */
	struct mux *mux;		/* middle mode: the links; else NULL */
	struct dcpool *dcpool;		/* direct mode with dc_pool; else NULL */
	struct accounts *acc;		/* users by name, across reloads */
	const struct wallclock *clock;	/* quota periods, expiry */
	/* snap and retired; taken under mu (a session admitted after a
	   reload looks at the new snapshot), never mu under it */
	pthread_mutex_t snap_mu;
	struct server_snap *snap;	/* the current configuration */
	struct server_snap *retired;	/* older ones sessions still hold */
	struct ticker *sweeper;		/* limits of live sessions, state */
	struct store *store;		/* quota state; NULL: none */
	struct store_redis *fleet;	/* [store] backend = redis; NULL: local */
	int64_t next_save;		/* net_now_ms() of the next state write */
	struct seen *seen;		/* the user last seen from an address */
	struct iplimit *iplimit;	/* per-address limits; NULL: none */
	struct stats stats;
	atomic_llong active;		/* sessions alive: admission and drain */
	atomic_llong handshaking;	/* of those, not past the handshake */
	atomic_ullong next_id;
	atomic_int stopping;		/* set by session_shutdown_all */
	/* the list of live sessions; held, the sweeper takes accounts'
	   own locks (account.h), which never wait for it */
	pthread_mutex_t mu;
	struct session *live;
	struct metrics *metrics;	/* NULL: no [metrics] listen */
};

/*
 * The replay set; the cover site with a fake-TLS domain; the middle-proxy
 * list and links in middle mode, else the DC pool with dc_pool; the
 * session threads; the users' accounts with their saved quota state.
 * Failures are logged.
 */
int server_new(const struct config *cfg, const struct wallclock *clock,
    struct server **out);
/* The current snapshot, held until server_snap_put. */
struct server_snap *server_snap_get(struct server *srv);
void server_snap_put(struct server_snap *snap);
/*
 * SIGHUP: run with cfg (made by config_load, validated; the server takes
 * it) for new sessions: users, limits, [tls], log level, the metrics allow
 * list. What needs a restart is logged and left. Sessions of users removed,
 * disabled or given a new secret end after drain_timeout. SERVER_ERR: the
 * running configuration stays (cfg is freed).
 */
int server_reload(struct server *srv, struct config *cfg);
/*
 * After the acceptor stopped: give the sessions shutdown_grace to end,
 * close the rest, stop the session threads. SERVER_ERR: some did not stop
 * (a DC connect nothing interrupts), and the server must not be freed.
 */
int server_drain(struct server *srv);
void server_free(struct server *srv);
/* stats_log of the server's counters. */
void server_stats_log(const struct server *srv);

#endif
