/*
 * The daemon's shared state, built in dependency order and taken down in
 * the reverse: the session threads first, so that nothing uses the rest.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "dcpool.h"
#include "fetch.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "middle.h"
#include "mux.h"
#include "pool.h"
#include "seen.h"
#include "server.h"
#include "session.h"

#define POOL_QUEUE		1024
#define POOL_STOP_SLACK		5	/* seconds */
/* 512 KiB: room for tens of thousands of client addresses. */
#define SEEN_SLOTS		((size_t)1 << 16)

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

/*
 * The replay set remembers a hello for as long as its time would still be
 * accepted; the cover site is needed only with a fake-TLS domain, the
 * middle-proxy list and links only in middle mode.
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
	if (cfg->ndomains > 0 && mask_new(cfg, &srv->mask) != 0) {
		log_error("cannot set up the cover site");
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
	} else if (cfg->dc_pool > 0 && dcpool_start(cfg, &srv->dcpool) != 0) {
		log_error("cannot start the DC connection pool");
		return SERVER_ERR;
	}
	return 0;
}

static int
secrets_new(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	size_t i;

	srv->secrets = calloc(cfg->nusers ? cfg->nusers : 1, SECRET_LEN);
	if (srv->secrets == NULL) {
		log_error("out of memory");
		return SERVER_ERR;
	}
	srv->nsecrets = cfg->nusers;
	for (i = 0; i < cfg->nusers; i++)
		memcpy(srv->secrets[i], cfg->users[i].secret, SECRET_LEN);
	return 0;
}

int
server_new(const struct config *cfg, struct server **out)
{
	struct server *srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		log_error("out of memory");
		return SERVER_ERR;
	}
	srv->cfg = cfg;
	pthread_mutex_init(&srv->mu, NULL);
	if (parts_new(srv) != 0 || secrets_new(srv) != 0)
		goto fail;
	if (seen_new(SEEN_SLOTS, &srv->seen) != 0) {
		log_error("out of memory");
		goto fail;
	}
	if (pool_new(&srv->pool, 2 * cfg->max_clients + 16, POOL_QUEUE,
	    cfg->pool_spare, THREAD_STACK) != 0) {
		log_error("cannot create the thread pool");
		goto fail;
	}
	pool_on_thread_exit(srv->pool, crypto_thread_end);
	srv->hs.cfg = cfg;
	srv->hs.secrets = (const uint8_t (*)[SECRET_LEN])srv->secrets;
	srv->hs.nsecrets = srv->nsecrets;
	srv->hs.replay = srv->replay;
	srv->hs.mask = srv->mask;
	if (metrics_start(cfg, &srv->stats, &srv->active, &srv->metrics) != 0)
		goto fail;
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return SERVER_ERR;
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
	if (srv == NULL)
		return;
	/* First: a scrape reads the counters freed below. */
	metrics_stop(srv->metrics);
	if (srv->pool != NULL)
		pool_free(srv->pool, 0);
	dcpool_stop(srv->dcpool);
	mux_free(srv->mux);
	middle_free(srv->mid);
	if (srv->mid != NULL)
		fetch_global_cleanup();
	mask_free(srv->mask);
	replay_free(srv->replay);
	seen_free(srv->seen);
	if (srv->secrets != NULL)
		crypto_cleanse(srv->secrets, srv->nsecrets * SECRET_LEN);
	free(srv->secrets);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}

void
server_stats_log(const struct server *srv)
{
	stats_log(srv->cfg, &srv->stats, atomic_load(&srv->active));
}
