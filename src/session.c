/*
 * A client session. Thread A (the pool thread the acceptor handed the socket
 * to) runs the handshake, connects upstream, starts thread B, then relays
 * client -> upstream; thread B relays upstream -> client. The upstream is a
 * DC, or for a client that failed the checks the cover site, relayed byte for
 * byte with the same closes (FIN for FIN, RST for RST).
 *
 * Sockets are only shut down while both threads may use them; the last
 * thread out closes them and frees the session, so no fd is closed while the
 * other thread may still hold it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrlist.h"
#include "crypto.h"
#include "direct.h"
#include "faketls.h"
#include "handshake.h"
#include "iplimit.h"
#include "log.h"
#include "dcpool.h"
#include "mask.h"
#include "mux.h"
#include "net.h"
#include "obfs2.h"
#include "pool.h"
#include "proxyhdr.h"
#include "rpc.h"
#include "seen.h"
#include "server.h"
#include "session.h"
#include "stats.h"
#include "wallclock.h"

#define SESSION_WARN_MS	10000	/* one refusal line per cause at most */
/* A relay direction this long without a byte hands its buffer back. */
#define RELAY_QUIET_MS		1000
/* A busy direction's buffer grows to this (or buffer_size if larger). */
#define RELAY_BUF_MAX		(256 * 1024)
/* Asked of one splice from the DC; the pipe takes what it can hold. */
#define RELAY_SPLICE_MAX	(1024 * 1024)
/* A rate-limited read waits in naps this long at most, to see a close. */
#define RATE_NAP_MS		100
/* For an evicted session to close its socket. */
#define EVICT_WAIT_MS		20

enum dir { UP, DOWN };			/* client -> upstream, and back */
enum end { END_EOF, END_RESET, END_FAIL, END_IDLE };

/* Why a session ended, for its last log line: the first cause seen wins. */
enum why_end {
	WHY_NONE, WHY_HANDSHAKE, WHY_MASKED, WHY_CLIENT, WHY_DC, WHY_IDLE,
	WHY_ERROR, WHY_SHUTDOWN, WHY_CLOSE_EXT, WHY_QUEUE, WHY_QUOTA,
	WHY_EXPIRED, WHY_DRAINED, WHY_LIFETIME, WHY_EVICTED
};

static const char *const why_words[] = {
	[WHY_NONE] = "error", [WHY_HANDSHAKE] = "handshake",
	[WHY_MASKED] = "masked", [WHY_CLIENT] = "client_closed",
	[WHY_DC] = "dc_closed", [WHY_IDLE] = "idle", [WHY_ERROR] = "error",
	[WHY_SHUTDOWN] = "shutdown", [WHY_CLOSE_EXT] = "close_ext",
	[WHY_QUEUE] = "queue", [WHY_QUOTA] = "quota", [WHY_EXPIRED] = "expired",
	[WHY_DRAINED] = "user_removed", [WHY_LIFETIME] = "lifetime",
	[WHY_EVICTED] = "evicted",
};

struct session {
	struct server *srv;
	struct session *prev, *next;	/* srv->live, under srv->mu */
	unsigned long long id;
	atomic_int refs;
	atomic_int cfd, ufd;		/* client, upstream; -1 when none */
	atomic_llong last_active;	/* net_now_ms() of the last byte */
	int tick_ms;			/* a relay checks still_wanted this often */
	struct server_snap *snap;	/* the configuration it started with */
	const struct config *cfg;	/* snap's */
	const struct config_user *user;	/* admitted: its user; else NULL */
	struct account *acct;		/* admitted: the user's account */
	atomic_llong drain_by;		/* net_now_ms(): a reload ends it then */
	int masked;			/* the upstream is the cover site */
	int64_t end_by;			/* masked: stop then; 0: no limit */
	atomic_llong mask_left;		/* masked: bytes it may still relay */
	struct sockaddr_storage peer_ss;
	char who[80];			/* "sN ADDR" for log lines */
	crypto_ctr *c_dec, *c_enc;	/* client side: read, write */
	crypto_ctr *u_dec, *u_enc;	/* upstream side; u_dec NULL in fast mode */
	int tls;			/* client bytes travel in TLS records */
	struct faketls_reader rd;	/* thread A only */
	uint8_t *pend;			/* client stream read by the handshake */
	size_t npend, pend_off;		/* thread A only */
	uint64_t drs_sent;		/* record sizing, thread B only */
	int64_t drs_last;
	struct mux_conn *mc;		/* middle mode: the client's binding */
	enum frame_transport transport;	/* the client's framing */
	int dc;				/* the DC the client asked for */
	int64_t start_ms;		/* net_now_ms() at accept */
	int64_t start_us;		/* net_now_us() at accept */
	uint64_t up, down;		/* bytes relayed: thread A, thread B; read
					   by the last thread out */
	atomic_int why;			/* enum why_end */
	atomic_int handshaking;		/* counted in srv->handshaking */
	long ipslot;			/* its iplimit entry, or IPLIMIT_NONE */
	int evicted;			/* session_evict closed it; under srv->mu */
};

static struct log_limit pool_warn, thread_warn;
/* Failed handshakes, one line per client address per SESSION_WARN_MS. */
static struct log_limit_map hs_warn = LOG_LIMIT_MAP_INIT;

/* The counter of each handshake failure. */
static const enum stats_reject hs_reasons[HANDSHAKE_REJECT_COUNT] = {
	[HANDSHAKE_REJECT_BAD_SECRET] = STATS_REJECT_BAD_SECRET,
	[HANDSHAKE_REJECT_MODE] = STATS_REJECT_MODE,
	[HANDSHAKE_REJECT_TIMEOUT] = STATS_REJECT_TIMEOUT,
	[HANDSHAKE_REJECT_NOT_TLS] = STATS_REJECT_NOT_TLS,
	[HANDSHAKE_REJECT_TLS_DIGEST] = STATS_REJECT_TLS_DIGEST,
	[HANDSHAKE_REJECT_TLS_TIME] = STATS_REJECT_TLS_TIME,
	[HANDSHAKE_REJECT_TLS_SNI] = STATS_REJECT_TLS_SNI,
	[HANDSHAKE_REJECT_TLS_INNER] = STATS_REJECT_TLS_INNER,
	[HANDSHAKE_REJECT_REPLAY] = STATS_REJECT_REPLAY,
	[HANDSHAKE_REJECT_LIMIT] = STATS_REJECT_USER_LIMIT,
	[HANDSHAKE_REJECT_TLS_NO_SNI] = STATS_REJECT_TLS_NO_SNI,
	[HANDSHAKE_REJECT_TLS_MALFORMED] = STATS_REJECT_TLS_MALFORMED,
	[HANDSHAKE_REJECT_TLS_TOO_BIG] = STATS_REJECT_TLS_TOO_BIG,
	[HANDSHAKE_REJECT_TLS_GROUP] = STATS_REJECT_TLS_GROUP,
};

#define slog(lvl, s, fmt, ...) log_msg(lvl, "%s user=%s: " fmt, (s)->who, \
	session_user(s), __VA_ARGS__)

static const char *
session_user(const struct session *s)
{
	return s->user == NULL ? "-" : s->user->name;
}

static void
count_reject(struct session *s, enum stats_reject why)
{
	atomic_fetch_add(&s->srv->stats.rejected[why], 1);
}

/* The first cause wins; a stop explains whatever follows it. */
static void
note_end(struct session *s, enum why_end why)
{
	int none = WHY_NONE;

	if (atomic_load(&s->srv->stopping))
		why = WHY_SHUTDOWN;
	atomic_compare_exchange_strong(&s->why, &none, (int)why);
}

/* One line per session: at info for a client that passed the handshake. */
static void
log_end(const struct session *s)
{
	int64_t ms = net_now_ms() - s->start_ms;

	slog(s->user != NULL ? LOGL_INFO : LOGL_DEBUG, s, "session ends: "
	    "reason=%s transport=%s tls=%s dc=%d up=%llu down=%llu "
	    "duration=%lld.%03llds", why_words[atomic_load(&s->why)],
	    s->user != NULL ? frame_transport_name(s->transport) : "-",
	    s->tls ? "yes" : "no", s->dc, (unsigned long long)s->up,
	    (unsigned long long)s->down, (long long)(ms / 1000),
	    (long long)(ms % 1000));
}

/* Past the handshake: the session now counts towards max_clients. */
static void
handshake_over(struct session *s)
{
	int one = 1;

	if (atomic_compare_exchange_strong(&s->handshaking, &one, 0))
		atomic_fetch_sub(&s->srv->handshaking, 1);
}

static void
session_free(struct session *s)
{
	struct server *srv = s->srv;
	int fd;

	log_end(s);

	pthread_mutex_lock(&srv->mu);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->live = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&srv->mu);
	if ((fd = atomic_load(&s->cfd)) >= 0)
		close(fd);
	if ((fd = atomic_load(&s->ufd)) >= 0)
		close(fd);
	crypto_ctr_free(s->c_dec);
	crypto_ctr_free(s->c_enc);
	crypto_ctr_free(s->u_dec);
	crypto_ctr_free(s->u_enc);
	free(s->pend);
	if (s->mc != NULL)
		mux_detach(s->mc);
	if (s->acct != NULL)
		account_leave(s->acct, (struct sockaddr *)&s->peer_ss);
	server_snap_put(s->snap);
	iplimit_leave(srv->iplimit, s->ipslot);
	handshake_over(s);
	atomic_fetch_sub(&srv->active, 1);
	free(s);
}

static void
session_shutdown(struct session *s)
{
	int fd;

	if ((fd = atomic_load(&s->cfd)) >= 0)
		shutdown(fd, SHUT_RDWR);
	if ((fd = atomic_load(&s->ufd)) >= 0)
		shutdown(fd, SHUT_RDWR);
	if (s->mc != NULL)
		mux_shutdown(s->mc);
}

static void
session_put(struct session *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		session_free(s);
}

/* Why a live session of a user must end now, or WHY_NONE. */
static enum why_end
over_limit(struct session *s, int64_t now_ms, int64_t wall)
{
	int64_t drain = atomic_load(&s->drain_by);

	if (s->user == NULL)
		return WHY_NONE;
	/* A mobile client then reconnects on a fresh socket. */
	if (s->cfg->max_session_lifetime != 0 && now_ms - s->start_ms >=
	    (int64_t)s->cfg->max_session_lifetime * 1000)
		return WHY_LIFETIME;
	if (drain != 0 && now_ms >= drain)
		return WHY_DRAINED;
	if (s->user->lim.expires != 0 && wall >= s->user->lim.expires)
		return WHY_EXPIRED;
	if (account_over_quota(s->acct, &s->user->lim, wall))
		return WHY_QUOTA;
	return WHY_NONE;
}

void
session_sweep(struct server *srv)
{
	int64_t now_ms = net_now_ms(), wall = wallclock_now(srv->clock);
	enum why_end why;
	struct session *s;

	pthread_mutex_lock(&srv->mu);
	for (s = srv->live; s != NULL; s = s->next) {
		if ((why = over_limit(s, now_ms, wall)) == WHY_NONE)
			continue;
		if (atomic_load(&s->why) == WHY_NONE)
			slog(LOGL_INFO, s, "closing: %s", why_words[why]);
		note_end(s, why);
		session_shutdown(s);
	}
	pthread_mutex_unlock(&srv->mu);
}

/* Under srv->mu. A peer that sent nothing yet is the first to go. */
static int
never_spoke(const struct session *s)
{
	uint64_t n = 1;

	(void)net_bytes_received(atomic_load(&s->cfd), &n);
	return n == 0;
}

int
session_evict(struct server *srv, const struct session *keep)
{
	struct session *s, *silent = NULL, *oldest = NULL;

	pthread_mutex_lock(&srv->mu);
	/* The list is newest first: the last match is the oldest. */
	for (s = srv->live; s != NULL; s = s->next) {
		if (!atomic_load(&s->handshaking) || s->evicted || s == keep)
			continue;
		oldest = s;
		if (never_spoke(s))
			silent = s;
	}
	if (silent != NULL)
		oldest = silent;
	if (oldest != NULL) {
		oldest->evicted = 1;
		note_end(oldest, WHY_EVICTED);
		count_reject(oldest, STATS_REJECT_EVICTED);
		session_shutdown(oldest);
	}
	pthread_mutex_unlock(&srv->mu);
	return oldest != NULL ? 0 : SESSION_ERR;
}

/* The user as cfg has it: gone, disabled or with another secret? */
static int
user_revoked(const struct config *cfg, const struct config_user *u)
{
	const struct config_user *n = config_find_user(cfg, u->name);

	return n == NULL || n->lim.disabled ||
	    !crypto_memeq(n->secret, u->secret, SECRET_LEN);
}

void
session_drain_changed(struct server *srv, const struct config *cfg)
{
	int64_t by = net_now_ms() + (int64_t)cfg->drain_timeout * 1000;
	struct session *s;
	size_t n = 0;

	pthread_mutex_lock(&srv->mu);
	for (s = srv->live; s != NULL; s = s->next) {
		if (s->user == NULL)
			continue;
		if (!user_revoked(cfg, s->user)) {
			atomic_store(&s->drain_by, 0);
			continue;
		}
		if (atomic_load(&s->drain_by) == 0) {
			atomic_store(&s->drain_by, by);
			n++;
		}
	}
	pthread_mutex_unlock(&srv->mu);
	if (n > 0)
		log_info("reload: %zu session(s) of removed or disabled users "
		    "end in %d s", n, cfg->drain_timeout);
}

void
session_shutdown_all(struct server *srv)
{
	struct session *s;

	/* Before the walk: a session that connects upstream later sees it. */
	atomic_store(&srv->stopping, 1);
	pthread_mutex_lock(&srv->mu);
	for (s = srv->live; s != NULL; s = s->next)
		session_shutdown(s);
	pthread_mutex_unlock(&srv->mu);
}

/*
 * Without a cover site, a client that fails the handshake gets no reply and
 * no early close: a prober learns nothing it could not learn from a server
 * waiting for more bytes. Read and drop until the deadline.
 */
static void
hold_silently(struct session *s, int64_t deadline)
{
	uint8_t sink[512];
	ssize_t n;

	for (;;) {
		if (net_read_full(s->cfd, sink, 1, deadline) != 0)
			return;
		n = recv(s->cfd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
	}
}

/*
 * The session's own connect to dc, timed whatever its outcome; a pooled
 * connection spared the client the wait and is not timed.
 */
static int
dc_connect(struct session *s, const struct config_dc *dc, int *fd,
    char *addr, size_t addrlen)
{
	/* The series are the start's [dc] ids; a reload may add others. */
	const struct config_dc *slot = config_find_dc(s->srv->cfg, dc->id);
	int64_t t0 = net_now_us();
	/* [upstream] is the start's: a reload does not change it. */
	const struct direct_via via = { &s->srv->cfg->upstream,
	    &s->srv->stats.upstream };
	int rc = direct_connect(s->cfg, &via, dc, fd, addr, addrlen);

	if (slot != NULL)
		histo_observe(&s->srv->stats.dc_connect[slot -
		    s->srv->cfg->dcs], (uint64_t)(net_now_us() - t0));
	return rc;
}

/*
 * Out of descriptors for the DC (a flood of silent sockets took them): one
 * of those gives its own up, once.
 */
static int
dc_connect_room(struct session *s, const struct config_dc *dc, int *fd,
    char *addr, size_t addrlen)
{
	if (dc_connect(s, dc, fd, addr, addrlen) == 0)
		return 0;
	if ((errno != EMFILE && errno != ENFILE) ||
	    session_evict(s->srv, s) != 0)
		return SESSION_ERR;
	(void)poll(NULL, 0, EVICT_WAIT_MS);
	return dc_connect(s, dc, fd, addr, addrlen);
}

static int
upstream_connect(struct session *s, int16_t dcid)
{
	const struct config *cfg = s->cfg;
	const struct config_dc *dc;
	const char *pooled = "";
	char addr[64] = "";
	int fallback, fd;

	if (direct_pick_dc(cfg, dcid, &dc, &fallback) != 0) {
		slog(LOGL_WARN, s, "DC %d unknown and default_dc %d is not in "
		    "the table", dcid, cfg->default_dc);
		count_reject(s, STATS_REJECT_DC_UNREACHABLE);
		return SESSION_ERR;
	}
	if (fallback) {
		atomic_fetch_add(&s->srv->stats.unknown_dc, 1);
		slog(LOGL_INFO, s, "unknown DC %d, using default DC %d", dcid,
		    dc->id);
	}
	/* A warm connection spares the client a round trip to the DC. */
	if (s->srv->dcpool != NULL &&
	    dcpool_take(s->srv->dcpool, dc, &fd, addr, sizeof(addr)) == 0) {
		pooled = " (pooled)";
	} else if (dc_connect_room(s, dc, &fd, addr, sizeof(addr)) != 0) {
		count_reject(s, STATS_REJECT_DC_UNREACHABLE);
		slog(LOGL_WARN, s, "DC %d unreachable (last tried %s: %s)",
		    dc->id, addr, strerror(errno));
		return SESSION_ERR;
	}
	atomic_store(&s->ufd, fd);
	slog(LOGL_DEBUG, s, "connected to DC %d at %s%s", dc->id, addr,
	    pooled);
	return 0;
}

/* Our own header towards the DC, and the four ciphers of the relay. */
static int
setup_ciphers(struct session *s, const struct obfs2_result *res)
{
	const struct config *cfg = s->cfg;
	const struct obfs2_keys *ck = &res->keys;
	uint8_t rnd[OBFS2_HEADER_LEN], wire[OBFS2_HEADER_LEN];
	struct obfs2_keys uk;
	int rc;

	do {
		if (crypto_random(rnd, sizeof(rnd)) != 0)
			return SESSION_ERR;
		/* Fast mode: the DC then encrypts exactly as we would. */
		rc = obfs2_build(rnd, res->tag, res->dc, NULL,
		    cfg->fast_mode ? ck->wkey : NULL,
		    cfg->fast_mode ? ck->wiv : NULL, wire, &uk);
	} while (rc == OBFS2_ERR_RETRY);
	if (rc != 0 ||
	    crypto_ctr_new(&s->c_dec, ck->rkey, ck->riv) != 0 ||
	    crypto_ctr_skip(s->c_dec, OBFS2_HEADER_LEN) != 0 ||
	    crypto_ctr_new(&s->u_enc, uk.wkey, uk.wiv) != 0 ||
	    crypto_ctr_skip(s->u_enc, OBFS2_HEADER_LEN) != 0)
		rc = SESSION_ERR;
	else if (!cfg->fast_mode &&
	    (crypto_ctr_new(&s->c_enc, ck->wkey, ck->wiv) != 0 ||
	    crypto_ctr_new(&s->u_dec, uk.rkey, uk.riv) != 0))
		rc = SESSION_ERR;
	else
		rc = net_write_full(atomic_load(&s->ufd), wire, sizeof(wire));
	crypto_cleanse(&uk, sizeof(uk));
	return rc;
}

/* Middle mode: bind to a link of the DC's cluster; only client ciphers. */
static int
start_middle(struct session *s, const struct obfs2_result *res)
{
	const struct obfs2_keys *ck = &res->keys;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct mux_conn *c;

	if (getsockname(s->cfd, (struct sockaddr *)&local, &len) != 0 ||
	    mux_attach(s->srv->mux, res->dc, s->transport,
	    (struct sockaddr *)&s->peer_ss, (struct sockaddr *)&local,
	    s->user->lim.has_ad_tag ? s->user->lim.ad_tag : NULL, &c) != 0) {
		slog(LOGL_INFO, s, "no middle-proxy link ready for DC %d",
		    res->dc);
		return SESSION_ERR;
	}
	pthread_mutex_lock(&s->srv->mu);
	s->mc = c;
	pthread_mutex_unlock(&s->srv->mu);
	if (crypto_ctr_new(&s->c_dec, ck->rkey, ck->riv) != 0 ||
	    crypto_ctr_skip(s->c_dec, OBFS2_HEADER_LEN) != 0 ||
	    crypto_ctr_new(&s->c_enc, ck->wkey, ck->wiv) != 0)
		return SESSION_ERR;
	return 0;
}

/* The client passed: its user, its leftover bytes, its upstream. */
static int
start_upstream(struct session *s, struct handshake *h)
{
	s->tls = h->tls;
	s->rd = h->rd;
	s->pend = h->pend;
	s->npend = h->npend;
	h->pend = NULL;
	frame_transport_from_tag(h->res.tag, &s->transport);
	s->dc = h->res.dc;
	slog(LOGL_DEBUG, s, "connected%s, DC %d", s->tls ? " over fake-TLS" :
	    "", h->res.dc);
	if (s->srv->mux != NULL) {
		if (start_middle(s, &h->res) != 0)
			return SESSION_ERR;
	} else if (upstream_connect(s, h->res.dc) != 0) {
		return SESSION_ERR;
	} else if (setup_ciphers(s, &h->res) != 0) {
		slog(LOGL_WARN, s, "%s", "could not send our header to the DC");
		return SESSION_ERR;
	}
	atomic_fetch_add(&s->srv->stats.handshakes, 1);
	return 0;
}

/*
 * A session takes its snapshot when it is accepted and learns its user at
 * the end of the handshake: a reload in between replaced the snapshot
 * without seeing the user. Judged here as the reload judges the others;
 * under mu, as the reload's drain, which runs after the swap: one of the
 * two sees the session.
 */
static void
drain_if_stale(struct session *s)
{
	struct server_snap *cur = server_snap_get(s->srv);

	if (cur != s->snap && user_revoked(cur->cfg, s->user) &&
	    atomic_load(&s->drain_by) == 0) {
		atomic_store(&s->drain_by, net_now_ms() +
		    (int64_t)cur->cfg->drain_timeout * 1000);
		slog(LOGL_INFO, s, "admitted under the configuration before a "
		    "reload that revoked the user; ends in %d s",
		    cur->cfg->drain_timeout);
	}
	server_snap_put(cur);
}

/*
 * The handshake found the user: its limits decide, under its account's
 * lock, before anything is sent back.
 */
static int
admit(void *arg, size_t user, const char **why)
{
	struct session *s = arg;
	enum account_limit lim;

	if (account_admit(s->snap->acct[user], &s->cfg->users[user].lim,
	    (struct sockaddr *)&s->peer_ss, wallclock_now(s->srv->clock),
	    &lim) != 0) {
		*why = account_limit_name(lim);
		return SESSION_ERR;
	}
	/* Under mu: the sweeper reads them. */
	pthread_mutex_lock(&s->srv->mu);
	s->user = &s->cfg->users[user];
	s->acct = s->snap->acct[user];
	drain_if_stale(s);
	pthread_mutex_unlock(&s->srv->mu);
	return 0;
}

/* Relay a refused client to the cover site, replaying what it sent. */
static int
start_mask(struct session *s, enum stats_reject why, const uint8_t *raw,
    size_t nraw)
{
	const struct config *cfg = s->cfg;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int fd;

	if (getsockname(s->cfd, (struct sockaddr *)&local, &len) != 0 ||
	    mask_connect(s->snap->mask, (struct sockaddr *)&s->peer_ss,
	    (struct sockaddr *)&local, &fd) != 0) {
		atomic_fetch_add(&s->srv->stats.mask_failed, 1);
		slog(LOGL_WARN, s, "%s", "cover site unreachable; closing");
		return SESSION_ERR;
	}
	atomic_store(&s->ufd, fd);
	s->masked = 1;
	s->end_by = net_now_ms() + (int64_t)cfg->mask_timeout * 1000;
	atomic_store(&s->mask_left, cfg->mask_max_bytes - (long long)nraw);
	atomic_fetch_add(&s->srv->stats.masked, 1);
	atomic_fetch_add(&s->srv->stats.mask_relays[why], 1);
	slog(LOGL_DEBUG, s, "relaying %zu bytes and the rest to the cover site",
	    nraw);
	return net_write_full(fd, raw, nraw);
}

/* A probe or a scanner fails many times over: one line per address. */
static void
log_refused(struct session *s, const char *msg)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&s->peer_ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&s->peer_ss;
	unsigned long long held;
	int ok;

	if (msg[0] == '\0')
		return;
	if (s->peer_ss.ss_family == AF_INET6)
		ok = log_limit_map_pass(&hs_warn, &a6->sin6_addr,
		    sizeof(a6->sin6_addr), SESSION_WARN_MS, &held);
	else
		ok = log_limit_map_pass(&hs_warn, &a4->sin_addr,
		    sizeof(a4->sin_addr), SESSION_WARN_MS, &held);
	if (ok)
		slog(LOGL_INFO, s, "%s (%llu more failed handshakes from this "
		    "address since the last such line)", msg, held);
}

/*
 * A refused client (counted by the caller) learns nothing from us: the
 * cover site gets raw and the rest of its bytes, or without one it is held
 * silently until hold_until (0: closed now, its time is up).
 */
static int
refuse(struct session *s, enum stats_reject why, const uint8_t *raw,
    size_t nraw, int64_t hold_until)
{
	note_end(s, s->snap->mask != NULL ? WHY_MASKED : WHY_HANDSHAKE);
	if (s->snap->mask != NULL)
		return start_mask(s, why, raw, nraw);
	if (hold_until != 0)
		hold_silently(s, hold_until);
	return SESSION_ERR;
}

static int
handshake_failed(struct session *s, const struct handshake *h)
{
	iplimit_fail(s->srv->iplimit, (struct sockaddr *)&s->peer_ss,
	    s->cfg->hs_fail_per_ip, s->cfg->hs_fail_window * 1000,
	    net_now_ms());
	count_reject(s, hs_reasons[h->why]);
	log_refused(s, h->msg);
	if (h->drop) {
		note_end(s, WHY_HANDSHAKE);
		return SESSION_ERR;
	}
	return refuse(s, hs_reasons[h->why], h->raw, h->nraw,
	    h->why == HANDSHAKE_REJECT_TIMEOUT ? 0 : h->deadline);
}

/* The "sN ADDR" of log lines, for the peer or the client it speaks for. */
static void
set_who(struct session *s)
{
	char addr[64];

	net_addr_str((struct sockaddr *)&s->peer_ss, addr, sizeof(addr));
	snprintf(s->who, sizeof(s->who), "s%llu %s", s->id, addr);
}

/* How reading a load balancer's header ended. */
enum lb_header { LB_OK, LB_CLOSED, LB_LATE, LB_REFUSED };

/*
 * Bytes up to the end of the header are the header's: each peeked chunk
 * that does not complete it is taken whole, so the wait for more never
 * spins; the handshake then reads from the first byte after it. buf holds
 * what was taken (PROXYHDR_MAX bytes of room; TLVs past that are skipped
 * unread).
 */
static enum lb_header
lb_read(struct session *s, int64_t deadline, uint8_t *buf, size_t *got,
    struct proxyhdr_info *info)
{
	int rc = PROXYHDR_ERR_SHORT;
	size_t used = 0, take;
	uint8_t sink[64];
	ssize_t n;

	while (rc == PROXYHDR_ERR_SHORT) {
		if (net_wait_readable(s->cfd, deadline) == NET_TIMEOUT)
			return LB_LATE;
		n = recv(s->cfd, buf + *got, PROXYHDR_MAX - *got, MSG_PEEK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return LB_CLOSED;
		rc = proxyhdr_parse(buf, *got + (size_t)n, info, &used);
		take = rc == PROXYHDR_ERR_SHORT ? (size_t)n : rc == 0 ?
		    (used < *got + (size_t)n ? used : *got + (size_t)n) - *got : 0;
		if (take > 0 && net_read_full(s->cfd, buf + *got, take,
		    deadline) != 0)
			return LB_CLOSED;
		*got += take;
	}
	if (rc != 0)
		return LB_REFUSED;
	for (; used > *got; used -= take) {
		take = used - *got < sizeof(sink) ? used - *got : sizeof(sink);
		if ((rc = net_read_full(s->cfd, sink, take, deadline)) != 0)
			return rc == NET_TIMEOUT ? LB_LATE : LB_CLOSED;
	}
	return LB_OK;
}

/*
 * proxy_protocol: only a peer of proxy_protocol_from may connect, and its
 * header, first and in time, names the client. Every line says why.
 */
static enum lb_header
lb_header(struct session *s, int64_t deadline, uint8_t *buf, size_t *got)
{
	const struct config *cfg = s->cfg;
	struct proxyhdr_info info;
	enum lb_header rc;

	*got = 0;
	if (!config_cidr_match(cfg->proxy_from, cfg->nproxy_from,
	    (struct sockaddr *)&s->peer_ss)) {
		log_refused(s, "not in proxy_protocol_from: refused");
		return LB_REFUSED;
	}
	if ((rc = lb_read(s, deadline, buf, got, &info)) == LB_REFUSED)
		log_refused(s, "malformed PROXY protocol header: refused");
	else if (rc == LB_LATE)
		log_refused(s, "no PROXY protocol header in time: refused");
	if (rc != LB_OK)
		return rc;
	if (!(cfg->proxy_protocol & (info.version == 1 ? CONFIG_PROXY_V1 :
	    CONFIG_PROXY_V2))) {
		log_refused(s, info.version == 1 ? "a PROXY v1 header where "
		    "proxy_protocol = v2: refused" : "a PROXY v2 header where "
		    "proxy_protocol = v1: refused");
		*got = 0;	/* a header, not the client's: not replayed */
		return LB_REFUSED;
	}
	if (info.local) {
		slog(LOGL_DEBUG, s, "PROXY v%d header without an address: "
		    "the load balancer's own connection", info.version);
		return LB_OK;
	}
	s->peer_ss = info.src;
	set_who(s);
	return LB_OK;
}

/* allow_file and block_file; a set list that did not load admits no one. */
static int
listed_out(const struct config *cfg, const struct sockaddr *sa)
{
	if (cfg->allow_file[0] != '\0' && !addrlist_match(cfg->allow_list, sa))
		return 1;
	return cfg->block_file[0] != '\0' && addrlist_match(cfg->block_list, sa);
}

/*
 * The per-address limits: STATS_REJECT_COUNT when they let the client in
 * (and then it is counted), else the reason to refuse it.
 */
static enum stats_reject
over_per_ip(struct session *s)
{
	const struct sockaddr *sa = (struct sockaddr *)&s->peer_ss;
	int64_t now = net_now_ms();

	if (s->cfg->hs_fail_per_ip != 0 &&
	    iplimit_backoff(s->srv->iplimit, sa, now))
		return STATS_REJECT_BACKOFF;
	if (iplimit_enter(s->srv->iplimit, sa, s->cfg->max_conn_per_ip, now,
	    &s->ipslot) == IPLIMIT_OVER)
		return STATS_REJECT_PER_IP;
	return STATS_REJECT_COUNT;
}

/*
 * Before the handshake: the client's address (a load balancer's header
 * first), then the lists and the per-address limits. 0: on to the
 * handshake; else it was refused, as a failed handshake is, or it left.
 */
static int
check_client(struct session *s, int64_t deadline)
{
	uint8_t raw[PROXYHDR_MAX];
	enum stats_reject why;
	enum lb_header lb;
	size_t nraw;

	if (s->cfg->proxy_protocol != 0 &&
	    (lb = lb_header(s, deadline, raw, &nraw)) != LB_OK) {
		if (lb == LB_CLOSED)
			return SESSION_ERR;
		count_reject(s, STATS_REJECT_PROXY_HEADER);
		return refuse(s, STATS_REJECT_PROXY_HEADER, raw, nraw,
		    lb == LB_LATE ? 0 : deadline);
	}
	if (listed_out(s->cfg, (struct sockaddr *)&s->peer_ss)) {
		count_reject(s, STATS_REJECT_BLOCKED);
		log_refused(s, "blocked by allow_file or block_file");
		return refuse(s, STATS_REJECT_BLOCKED, NULL, 0, deadline);
	}
	if ((why = over_per_ip(s)) == STATS_REJECT_COUNT)
		return 0;
	count_reject(s, why);
	log_refused(s, why == STATS_REJECT_PER_IP ? "max_connections_per_ip "
	    "reached" : "backing off after handshake_failures_per_ip");
	return refuse(s, why, NULL, 0, deadline);
}

/* Client bytes of the obfuscated stream: the handshake's leftovers first. */
static ssize_t
client_read(struct session *s, uint8_t *buf, size_t cap)
{
	size_t n;
	ssize_t r;

	if (s->pend_off < s->npend) {
		n = s->npend - s->pend_off < cap ? s->npend - s->pend_off : cap;
		memcpy(buf, s->pend + s->pend_off, n);
		s->pend_off += n;
		return (ssize_t)n;
	}
	for (;;) {
		r = recv(s->cfd, buf, cap, 0);
		if (r <= 0 || !s->tls)
			return r;
		if (faketls_reader_unwrap(&s->rd, buf, (size_t)r, &n) != 0) {
			errno = EPROTO;
			return -1;
		}
		if (n > 0)
			return (ssize_t)n;
	}
}

/* In TLS records sized as a real server sizes them (faketls_drs_size). */
static int
client_write(struct session *s, const uint8_t *buf, size_t n, uint8_t *wrap,
    size_t wcap)
{
	int64_t now = net_now_ms(), idle = now - s->drs_last;
	size_t wn;

	if (!s->tls)
		return net_write_full(s->cfd, buf, n);
	if (idle >= FAKETLS_DRS_IDLE_MS)
		s->drs_sent = 0;
	if (faketls_wrap(buf, n, faketls_drs_size(s->drs_sent, (uint64_t)idle),
	    wrap, wcap, &wn) != 0)
		return SESSION_ERR;
	s->drs_sent += n;
	s->drs_last = now;
	return net_write_full(s->cfd, wrap, wn);
}

/* A read or wait holding a relay buffer gives up this soon, to return it. */
static int
relay_quiet_ms(const struct session *s)
{
	return s->tick_ms < RELAY_QUIET_MS ? s->tick_ms : RELAY_QUIET_MS;
}

static int
still_wanted(struct session *s)
{
	int64_t now = net_now_ms();

	if (s->end_by != 0 && now >= s->end_by)
		return 0;
	return now - atomic_load(&s->last_active) <
	    (int64_t)s->cfg->idle_timeout * 1000;
}

/*
 * What a read of n bytes means for a relay loop: 0 pass the bytes on, 1
 * read again (interrupted, or a timeout tick while the session is wanted),
 * -1 this direction ends, and *end says how.
 */
static int
read_result(struct session *s, ssize_t n, enum end *end)
{
	if (n > 0)
		return 0;
	if (n == 0) {
		*end = END_EOF;
		return -1;
	}
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		if (still_wanted(s))
			return 1;
		*end = END_IDLE;
		return -1;
	}
	if (errno == EPROTO)
		slog(LOGL_INFO, s, "%s", "bad TLS record from the client");
	*end = errno == ECONNRESET ? END_RESET : END_FAIL;
	return -1;
}

static void
count(struct session *s, enum dir d, size_t n)
{
	if (s->user == NULL)
		return;
	account_count(s->acct, d == UP ? ACCOUNT_UP : ACCOUNT_DOWN, n);
	if (d == UP) {
		s->up += n;
		atomic_fetch_add(&s->srv->stats.bytes_in, n);
	} else {
		s->down += n;
		atomic_fetch_add(&s->srv->stats.bytes_out, n);
	}
	if (s->user->lim.rate != 0)
		account_rate_charge(s->acct, d == UP ? ACCOUNT_UP :
		    ACCOUNT_DOWN, n, net_now_ms() * 1000);
}

/*
 * Before n bytes of a user's go out: 0 relay them; 1 relay them, then end
 * (they spend the quota); -1 end without them (it was spent before).
 */
static int
quota_gate(struct session *s, size_t n)
{
	int q;

	if (s->user == NULL || s->user->lim.quota == 0)
		return 0;
	q = account_quota_take(s->acct, &s->user->lim, n,
	    wallclock_now(s->srv->clock));
	if (q == ACCOUNT_QUOTA_OK)
		return 0;
	if (atomic_load(&s->why) == WHY_NONE)
		slog(LOGL_INFO, s, "%s", "quota spent: closing");
	note_end(s, WHY_QUOTA);
	return q == ACCOUNT_QUOTA_LAST ? 1 : -1;
}

/*
 * A user with a rate reads only when its bucket allows: the kernel's
 * buffers fill and TCP slows the sender; nothing is held here.
 */
static void
rate_pause(struct session *s, enum dir d)
{
	struct timespec nap;
	int64_t wait;

	if (s->user == NULL || s->user->lim.rate == 0)
		return;
	while ((wait = account_rate_wait(s->acct, &s->user->lim,
	    d == UP ? ACCOUNT_UP : ACCOUNT_DOWN, net_now_ms() * 1000)) > 0 &&
	    atomic_load(&s->why) == WHY_NONE) {
		if (wait > RATE_NAP_MS * 1000)
			wait = RATE_NAP_MS * 1000;
		nap.tv_sec = 0;
		nap.tv_nsec = (long)wait * 1000;
		nanosleep(&nap, NULL);
	}
}

/* One chunk through the ciphers (none on a masked session) and out. */
static int
forward(struct session *s, enum dir d, uint8_t *buf, size_t n, uint8_t *wrap,
    size_t wcap)
{
	crypto_ctr *dec = d == UP ? s->c_dec : s->u_dec;
	crypto_ctr *enc = d == UP ? s->u_enc : s->c_enc;

	if (s->masked && (atomic_fetch_sub(&s->mask_left, (long long)n) <
	    (long long)n || net_now_ms() >= s->end_by)) {
		slog(LOGL_INFO, s, "%s", "cover-site relay reached "
		    "mask_max_bytes or mask_timeout");
		return SESSION_ERR;
	}
	if ((dec != NULL && crypto_ctr_apply(dec, buf, buf, n) != 0) ||
	    (enc != NULL && crypto_ctr_apply(enc, buf, buf, n) != 0))
		return SESSION_ERR;
	if (d == DOWN)
		return client_write(s, buf, n, wrap, wcap);
	return net_write_full(atomic_load(&s->ufd), buf, n);
}

/*
 * What a relay direction holds while bytes flow, and nothing while it is
 * quiet: a buffer that doubles while reads fill it (fewer system calls per
 * byte on a busy stream), or, where the DC's bytes reach the client
 * unchanged, a pipe to splice them through without copying.
 */
struct rbuf {
	uint8_t *p, *wrap;		/* wrap: TLS records to the client */
	size_t cap, wcap;
	size_t last;			/* bytes the last read took */
	int pipe[2];
};

static int
rbuf_held(const struct rbuf *b)
{
	return b->p != NULL || b->pipe[0] >= 0;
}

static void
rbuf_release(struct session *s, struct rbuf *b)
{
	if (b->p != NULL)
		atomic_fetch_sub(&s->srv->stats.relay_buffers, 1);
	if (b->pipe[0] >= 0) {
		atomic_fetch_sub(&s->srv->stats.relay_pipes, 1);
		close(b->pipe[0]);
		close(b->pipe[1]);
	}
	free(b->p);
	free(b->wrap);
	memset(b, 0, sizeof(*b));
	b->pipe[0] = b->pipe[1] = -1;
}

/*
 * cap bytes of buffer, and with fake-TLS room for the records they make;
 * what the old buffers held is not kept. On failure b holds nothing.
 */
static int
rbuf_size(struct session *s, enum dir d, struct rbuf *b, size_t cap)
{
	size_t wcap = 0;

	rbuf_release(s, b);
	if (d == DOWN && s->tls &&
	    (faketls_wrap_len(cap, FAKETLS_DRS_SMALL, &wcap) != 0 ||
	    (b->wrap = malloc(wcap)) == NULL))
		return SESSION_ERR;
	if ((b->p = malloc(cap)) == NULL) {
		rbuf_release(s, b);
		return SESSION_ERR;
	}
	atomic_fetch_add(&s->srv->stats.relay_buffers, 1);
	b->cap = cap;
	b->wcap = wcap;
	return 0;
}

/* DC bytes the client gets as they are: fast mode, no TLS records. */
static int
splices(const struct session *s, enum dir d)
{
	return d == DOWN && !s->masked && !s->tls && s->u_dec == NULL &&
	    s->c_enc == NULL;
}

/*
 * A stream that fills its buffer is busy: if its bytes pass unchanged it
 * moves to a pipe; 0 if it has. A quiet one copies, so that the many
 * sessions moving a few bytes now and then hold no pipe (two descriptors
 * each).
 */
static int
rbuf_pipe(struct session *s, struct rbuf *b)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) != 0)
		return SESSION_ERR;
	rbuf_release(s, b);
	b->pipe[0] = fds[0];
	b->pipe[1] = fds[1];
	/* As many bytes a splice as a read takes; a refusal (the user's pipe
	   quota) leaves the default, which still works. */
	(void)fcntl(b->pipe[1], F_SETPIPE_SZ, RELAY_BUF_MAX);
	atomic_fetch_add(&s->srv->stats.relay_pipes, 1);
	return 0;
}

/* The last read filled the buffer: more is likely waiting, take more. */
static int
rbuf_grow(struct session *s, enum dir d, struct rbuf *b)
{
	size_t max = (size_t)s->cfg->buffer_size > RELAY_BUF_MAX ?
	    (size_t)s->cfg->buffer_size : RELAY_BUF_MAX;

	/* A rate-limited stream reads in small steps: a step is its overshoot. */
	if (b->p == NULL || b->last < b->cap ||
	    (s->user != NULL && s->user->lim.rate != 0))
		return 0;
	if (splices(s, d) && rbuf_pipe(s, b) == 0)
		return 0;
	if (b->cap >= max)
		return 0;
	return rbuf_size(s, d, b, b->cap * 2 > max ? max : b->cap * 2);
}

static ssize_t
rbuf_read(struct session *s, enum dir d, struct rbuf *b)
{
	if (b->pipe[0] >= 0)
		return splice(s->ufd, NULL, b->pipe[1], NULL, RELAY_SPLICE_MAX,
		    SPLICE_F_MOVE);
	if (d == UP)
		return client_read(s, b->p, b->cap);
	return recv(s->ufd, b->p, b->cap, 0);
}

/*
 * A quiet direction waits without a buffer until bytes come: 0 they have
 * (or an EOF or error has), 1 wait again, -1 the session is no longer
 * wanted.
 */
static int
wait_bytes(struct session *s, enum dir d)
{
	int fd = d == UP ? s->cfd : s->ufd;

	if (d == UP && s->pend_off < s->npend)
		return 0;
	if (net_wait_readable(fd, net_now_ms() + s->tick_ms) != NET_TIMEOUT)
		return 0;
	return still_wanted(s) ? 1 : -1;
}

/*
 * The next bytes of direction d into b (*n of them), holding b only while
 * they flow: 0, or -1 the direction ends and *end says how.
 */
static int
relay_next(struct session *s, enum dir d, struct rbuf *b, ssize_t *n,
    enum end *end)
{
	int rc;

	*end = END_FAIL;
	for (;;) {
		if (!rbuf_held(b)) {
			if ((rc = wait_bytes(s, d)) > 0)
				continue;
			if (rc < 0)
				*end = END_IDLE;
			if (rc < 0 || rbuf_size(s, d, b,
			    (size_t)s->cfg->buffer_size) != 0)
				return -1;
		} else if (rbuf_grow(s, d, b) != 0) {
			return -1;
		}
		rate_pause(s, d);
		*n = rbuf_read(s, d, b);
		if ((rc = read_result(s, *n, end)) <= 0)
			break;
		/* RELAY_QUIET_MS without a byte: hand the buffer back. */
		if (*n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			rbuf_release(s, b);
	}
	b->last = *n > 0 ? (size_t)*n : 0;
	return rc;
}

/* Copy one direction until EOF, an error, or the session is idle. */
static enum end
relay(struct session *s, enum dir d)
{
	struct rbuf b = { .pipe = { -1, -1 } };
	enum end end;
	ssize_t n;
	int q;

	while (relay_next(s, d, &b, &n, &end) == 0) {
		if ((q = quota_gate(s, (size_t)n)) < 0) {
			end = END_FAIL;
			break;
		}
		if (b.pipe[0] >= 0 ?
		    net_splice_full(b.pipe[0], s->cfd, (size_t)n) != 0 :
		    forward(s, d, b.p, (size_t)n, b.wrap, b.wcap) != 0) {
			/* The far side left while we wrote to it. */
			if (errno == EPIPE || errno == ECONNRESET)
				note_end(s, d == UP ? WHY_DC : WHY_CLIENT);
			end = END_FAIL;
			break;
		}
		atomic_store(&s->last_active, net_now_ms());
		count(s, d, (size_t)n);
		if (q > 0) {
			end = END_FAIL;
			break;
		}
	}
	rbuf_release(s, &b);
	return end;
}

/* Middle mode: each packet of the client's stream to the middle proxy. */
static int
packets_up(struct session *s, struct frame_reader *f, const uint8_t *p,
    size_t n)
{
	struct frame_packet pkt;
	size_t used;
	int rc, q;

	while (n > 0) {
		if ((rc = frame_reader_feed(f, p, n, &used, &pkt)) != 0) {
			slog(LOGL_INFO, s, "bad %s frame from the client (%d)",
			    frame_transport_name(s->transport), rc);
			return SESSION_ERR;
		}
		p += used;
		n -= used;
		if (pkt.data == NULL)
			continue;
		if ((q = quota_gate(s, pkt.len)) < 0)
			return SESSION_ERR;
		/* Padded: whole words of padding go along, as the official proxy does. */
		rc = mux_send(s->mc, pkt.data, pkt.len, pkt.quickack);
		count(s, UP, pkt.len);
		if (rc != 0 || q > 0)
			return SESSION_ERR;
	}
	return 0;
}

/* Middle mode, client -> middle proxy: a RPC_PROXY_REQ per packet. */
static enum end
middle_up(struct session *s)
{
	struct rbuf b = { .pipe = { -1, -1 } };
	struct frame_reader f;
	enum end end;
	ssize_t n;

	frame_reader_init(&f, s->transport);
	while (relay_next(s, UP, &b, &n, &end) == 0) {
		atomic_store(&s->last_active, net_now_ms());
		if (crypto_ctr_apply(s->c_dec, b.p, b.p, (size_t)n) != 0 ||
		    packets_up(s, &f, b.p, (size_t)n) != 0) {
			end = END_FAIL;
			break;
		}
	}
	frame_reader_free(&f);
	rbuf_release(s, &b);
	return end;
}

static int
grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *nb;

	if (need <= *cap)
		return 0;
	if ((nb = realloc(*buf, need)) == NULL)
		return SESSION_ERR;
	*buf = nb;
	*cap = need;
	return 0;
}

/* An answer in the client's transport: see frame_answer_encode. */
static int
answer_bytes(struct session *s, const struct mux_msg *msg, uint8_t **out,
    size_t *cap, size_t *len)
{
	uint8_t rnd[4] = { 0 };

	if (msg->type == RPC_SIMPLE_ACK) {
		*len = FRAME_QUICKACK_LEN;
		return grow(out, cap, FRAME_QUICKACK_LEN) != 0 ||
		    frame_quickack_encode(s->transport, msg->confirm, *out) != 0 ?
		    SESSION_ERR : 0;
	}
	/* Only padded answers take random bytes. */
	if (grow(out, cap, FRAME_ANSWER_ROOM(msg->len)) != 0 ||
	    (s->transport == FRAME_PADDED &&
	    crypto_random(rnd, sizeof(rnd)) != 0))
		return SESSION_ERR;
	if (frame_answer_encode(s->transport, msg->data, msg->len, rnd, *out,
	    *cap, len) != 0) {
		slog(LOGL_INFO, s, "an answer of %zu bytes does not fit the "
		    "client's transport", msg->len);
		return SESSION_ERR;
	}
	return 0;
}

/* The middle proxy's own causes; a link lost is the DC's close. */
static void
note_mux_close(struct session *s)
{
	enum mux_close why = mux_close_why(s->mc);

	if (why == MUX_CLOSE_EXT)
		note_end(s, WHY_CLOSE_EXT);
	else if (why == MUX_CLOSE_QUEUE)
		note_end(s, WHY_QUEUE);
}

/* Middle mode, the client's queue -> client; never blocks the link. */
static enum end
middle_down(struct session *s)
{
	struct rbuf b = { .pipe = { -1, -1 } };
	size_t len, need;
	struct mux_msg *msg;
	enum end end = END_FAIL;
	int held, rc, q;

	for (;;) {
		held = b.p != NULL;
		rc = mux_recv(s->mc, &msg,
		    held ? relay_quiet_ms(s) : s->tick_ms);
		/* No answer for RELAY_QUIET_MS: hand the buffers back. */
		if (rc == MUX_TIMEOUT && held)
			rbuf_release(s, &b);
		if (rc == MUX_TIMEOUT && still_wanted(s))
			continue;
		if (rc != 0) {
			end = rc == MUX_CLOSED ? END_EOF : rc == MUX_TIMEOUT ?
			    END_IDLE : END_FAIL;
			if (rc == MUX_CLOSED)
				note_mux_close(s);
			break;
		}
		rc = answer_bytes(s, msg, &b.p, &b.cap, &len);
		if (!held && b.p != NULL)
			atomic_fetch_add(&s->srv->stats.relay_buffers, 1);
		if (rc == 0 && s->tls)
			rc = faketls_wrap_len(len, FAKETLS_DRS_SMALL, &need) != 0 ||
			    grow(&b.wrap, &b.wcap, need) != 0;
		if (rc == 0)
			rate_pause(s, DOWN);
		q = rc == 0 && msg->type == RPC_PROXY_ANS ?
		    quota_gate(s, msg->len) : 0;
		if (rc == 0 && q >= 0)
			rc = crypto_ctr_apply(s->c_enc, b.p, b.p, len) != 0 ||
			    client_write(s, b.p, len, b.wrap, b.wcap) != 0;
		if (rc == 0 && q >= 0 && msg->type == RPC_PROXY_ANS)
			count(s, DOWN, msg->len);
		if (q != 0)
			rc = 1;
		free(msg);
		if (rc != 0)
			break;
		atomic_store(&s->last_active, net_now_ms());
	}
	rbuf_release(s, &b);
	return end;
}

/*
 * A DC session ends as a whole. A cover-site relay passes each close on as
 * the cover site or client made it: FIN as a half close, RST as RST (by
 * closing the other socket with a zero linger once both threads are out).
 */
static void
relay_end(struct session *s, enum dir d, enum end e)
{
	int from = d == UP ? s->cfd : s->ufd, to = d == UP ? s->ufd : s->cfd;
	struct linger lg = { 1, 0 };

	if (e == END_IDLE)
		note_end(s, WHY_IDLE);
	else if (e == END_FAIL)
		note_end(s, WHY_ERROR);
	else
		note_end(s, s->masked ? WHY_MASKED : d == UP ? WHY_CLIENT :
		    WHY_DC);
	if (!s->masked || e == END_FAIL || e == END_IDLE) {
		session_shutdown(s);
	} else if (e == END_EOF) {
		shutdown(to, SHUT_WR);
	} else {
		setsockopt(to, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		shutdown(to, SHUT_RD);
		shutdown(from, SHUT_RDWR);
	}
}

static void
upstream_to_client(void *arg)
{
	struct session *s = arg;

	relay_end(s, DOWN, s->mc != NULL ? middle_down(s) : relay(s, DOWN));
	session_put(s);
}

static void
set_relay_options(struct session *s)
{
	const struct config *cfg = s->cfg;
	int idle_ms = cfg->idle_timeout * 1000, one = 1;

	if (s->masked && cfg->mask_timeout * 1000 < idle_ms)
		s->tick_ms = cfg->mask_timeout * 1000 / 2;
	else
		s->tick_ms = idle_ms / 2;
	/* Wake up now and then to see whether the session is still wanted. */
	if (s->tick_ms < 100)
		s->tick_ms = 100;
	setsockopt(s->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	net_set_timeouts(s->cfd, relay_quiet_ms(s), idle_ms);
	net_set_timeouts(s->ufd, relay_quiet_ms(s), idle_ms);
}

/* Start thread B; thread A (the caller) then relays client -> upstream. */
static int
start_pair(struct session *s)
{
	unsigned long long held;
	int rc;

	if (atomic_load(&s->srv->stopping))
		return SESSION_ERR;
	set_relay_options(s);
	atomic_store(&s->last_active, net_now_ms());
	atomic_store(&s->refs, 2);
	if ((rc = pool_submit(s->srv->pool, upstream_to_client, s)) != 0) {
		atomic_store(&s->refs, 1);
		count_reject(s, rc == POOL_ERR_NOTHREAD ?
		    STATS_REJECT_NO_THREAD : STATS_REJECT_POOL_FULL);
		if (log_limit_pass(&thread_warn, SESSION_WARN_MS, &held))
			slog(LOGL_WARN, s, "no thread for the upstream direction"
			    " (%llu more since the last such line)", held);
		return SESSION_ERR;
	}
	return 0;
}

/* Randomized, so that the close of a silent probe has no fixed timing. */
static int64_t
handshake_deadline(const struct config *cfg)
{
	int64_t base = (int64_t)cfg->handshake_timeout * 1000;
	uint8_t r[2] = { 0, 0 };

	crypto_random(r, sizeof(r));
	return net_now_ms() + base + ((int64_t)(r[0] << 8 | r[1]) % (base / 2 + 1));
}

static void
client_to_upstream(void *arg)
{
	struct session *s = arg;
	const struct config *cfg = s->cfg;
	struct handshake h;
	int rc;

	memset(&h, 0, sizeof(h));
	h.env = &s->snap->hs;
	h.admit = admit;
	h.admit_arg = s;
	h.fd = s->cfd;
	h.who = s->who;
	h.deadline = handshake_deadline(cfg);
	h.unix_now = (int64_t)time(NULL);
	/* Our reply must not wait on a client that does not read. */
	net_set_timeouts(s->cfd, 0, cfg->handshake_timeout * 1000);
	/* Refused and relayed to the cover site: no handshake to run. */
	if ((rc = check_client(s, h.deadline)) != 0 || s->masked)
		goto refused;
	(void)seen_get(s->srv->seen, (struct sockaddr *)&s->peer_ss,
	    &h.first);
	rc = handshake_run(&h);
	histo_observe(&s->srv->stats.handshake_time,
	    (uint64_t)(net_now_us() - s->start_us));
	if (rc == 0) {
		seen_put(s->srv->seen, (struct sockaddr *)&s->peer_ss,
		    (size_t)h.res.secret_index);
		if ((rc = start_upstream(s, &h)) == 0)
			handshake_over(s);
	} else if (rc == HANDSHAKE_ERR)
		rc = handshake_failed(s, &h);
refused:
	handshake_free(&h);
	if (rc == 0 && start_pair(s) == 0)
		relay_end(s, UP, s->mc != NULL ? middle_up(s) : relay(s, UP));
	else
		session_shutdown(s);
	note_end(s, WHY_ERROR);
	session_put(s);
}

int
session_start(struct server *srv, int fd, const struct sockaddr *peer)
{
	unsigned long long held;
	struct session *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(fd);
		return SESSION_ERR;
	}
	s->srv = srv;
	s->id = atomic_fetch_add(&srv->next_id, 1) + 1;
	atomic_init(&s->refs, 1);
	atomic_init(&s->cfd, fd);
	atomic_init(&s->ufd, -1);
	s->snap = server_snap_get(srv);
	s->cfg = s->snap->cfg;
	s->start_ms = net_now_ms();
	s->start_us = net_now_us();
	atomic_init(&s->why, WHY_NONE);
	atomic_init(&s->handshaking, 1);
	s->ipslot = IPLIMIT_NONE;
	memcpy(&s->peer_ss, peer, peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	set_who(s);
	atomic_fetch_add(&srv->active, 1);
	atomic_fetch_add(&srv->handshaking, 1);
	pthread_mutex_lock(&srv->mu);
	s->next = srv->live;
	if (srv->live != NULL)
		srv->live->prev = s;
	srv->live = s;
	pthread_mutex_unlock(&srv->mu);
	if ((rc = pool_submit(srv->pool, client_to_upstream, s)) != 0) {
		count_reject(s, rc == POOL_ERR_NOTHREAD ?
		    STATS_REJECT_NO_THREAD : STATS_REJECT_POOL_FULL);
		if (log_limit_pass(&pool_warn, SESSION_WARN_MS, &held))
			slog(LOGL_WARN, s, "%s, connection refused (%llu more "
			    "since the last such line)", rc == POOL_ERR_NOTHREAD ?
			    "no thread could start" : "worker pool full", held);
		session_shutdown(s);
		session_put(s);
		return SESSION_ERR;
	}
	return 0;
}
