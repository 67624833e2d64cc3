/*
 * What lives as long as the daemon: the configuration it runs with, the
 * users' secrets, the replay set, the cover site, the middle-proxy list and
 * links or the DC pool, the session threads, the counters and the list of
 * live sessions. The acceptor and every session share it; main makes it,
 * drains it and frees it.
 */
#ifndef MTPROXYD_SERVER_H
#define MTPROXYD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "handshake.h"
#include "replay.h"
#include "stats.h"

#define SERVER_ERR	(-1)

struct dcpool;
struct mask;
struct metrics;
struct middle;
struct mux;
struct pool;
struct seen;
struct session;

struct server {
	const struct config *cfg;	/* must outlive the server */
	struct pool *pool;		/* session threads */
	struct mask *mask;		/* NULL: no cover site, failures are held */
	replay *replay;			/* hellos and headers seen */
	struct middle *mid;		/* middle mode: the list; else NULL */
	struct mux *mux;		/* middle mode: the links; else NULL */
	struct dcpool *dcpool;		/* direct mode with dc_pool; else NULL */
	uint8_t (*secrets)[SECRET_LEN];	/* one per user, in user order */
	size_t nsecrets;
	struct handshake_env hs;	/* the above, as the handshake reads them */
	struct seen *seen;		/* the user last seen from an address */
	struct stats stats;
	atomic_llong active;		/* sessions alive: admission and drain */
	atomic_ullong next_id;
	atomic_int stopping;		/* set by session_shutdown_all */
	pthread_mutex_t mu;		/* guards the list of live sessions */
	struct session *live;
	struct metrics *metrics;	/* NULL: no [metrics] listen */
};

/*
 * The replay set; the cover site with a fake-TLS domain; the middle-proxy
 * list and links in middle mode, else the DC pool with dc_pool; the
 * session threads. Failures are logged.
 */
int server_new(const struct config *cfg, struct server **out);
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
