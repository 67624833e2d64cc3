/*
 * A client session. Thread A (the pool thread the acceptor handed the socket
 * to) runs the handshake, connects upstream, starts thread B, then relays
 * client -> upstream; thread B relays upstream -> client. Whichever ends
 * first shuts both sockets down, which wakes the other; the last one out
 * closes the sockets and frees the session, so no fd is closed while the
 * other thread may still use it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "direct.h"
#include "frame.h"
#include "log.h"
#include "net.h"
#include "obfs2.h"
#include "session.h"
#include "stats.h"

struct session {
	struct server *srv;
	struct session *prev, *next;	/* srv->live, under srv->mu */
	unsigned long long id;
	atomic_int refs;
	atomic_int cfd, ufd;		/* client, upstream; -1 when none */
	atomic_llong last_active;	/* net_now_ms() of the last byte */
	int user;			/* index in cfg->users; -1 before */
	char peer[64];
	crypto_ctr *c_dec, *c_enc;	/* client side: read, write */
	crypto_ctr *u_dec, *u_enc;	/* upstream side; u_dec NULL in fast mode */
};

#define slog(lvl, s, fmt, ...) log_msg(lvl, "s%llu %s user=%s: " fmt, \
	(s)->id, (s)->peer, session_user(s), __VA_ARGS__)

static const char *
session_user(const struct session *s)
{
	return s->user < 0 ? "-" : s->srv->cfg->users[s->user].name;
}

int
server_init(struct server *srv, const struct config *cfg, struct pool *pool)
{
	size_t i;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	srv->pool = pool;
	srv->nsecrets = cfg->nusers;
	srv->secrets = calloc(cfg->nusers ? cfg->nusers : 1, SECRET_LEN);
	if (srv->secrets == NULL)
		return SESSION_ERR;
	for (i = 0; i < cfg->nusers; i++)
		memcpy(srv->secrets[i], cfg->users[i].secret, SECRET_LEN);
	pthread_mutex_init(&srv->mu, NULL);
	return 0;
}

void
server_destroy(struct server *srv)
{
	free(srv->secrets);
	pthread_mutex_destroy(&srv->mu);
}

static void
session_free(struct session *s)
{
	struct server *srv = s->srv;
	int fd;

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
	if (s->user >= 0)
		atomic_fetch_sub(&stats.users[s->user].active, 1);
	atomic_fetch_sub(&stats.active, 1);
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
}

static void
session_release(struct session *s)
{
	session_shutdown(s);
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		session_free(s);
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
 * A client that fails the handshake gets no reply and no early close: a
 * prober learns nothing it could not learn from a server that is waiting for
 * more bytes. Read and drop until the deadline or until the client leaves.
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

static int
mode_allowed(const struct config *cfg, uint32_t tag)
{
	if (tag == PROTO_TAG_PADDED)
		return (cfg->modes & CONFIG_MODES_SECURE) != 0;
	return (cfg->modes & CONFIG_MODES_CLASSIC) != 0;
}

/* Read and check the client's header; on success s->user is set. */
static int
client_handshake(struct session *s, int64_t deadline, struct obfs2_result *res)
{
	const struct config *cfg = s->srv->cfg;
	uint8_t hdr[OBFS2_HEADER_LEN];
	int rc;

	rc = net_read_full(s->cfd, hdr, sizeof(hdr), deadline);
	if (rc != 0) {
		if (rc == NET_TIMEOUT)
			atomic_fetch_add(&stats.rejected[STATS_REJECT_TIMEOUT], 1);
		slog(LOGL_DEBUG, s, "%s before a complete header",
		    rc == NET_TIMEOUT ? "handshake timeout" : "closed");
		return SESSION_ERR;
	}
	if (obfs2_parse(hdr, (const uint8_t (*)[SECRET_LEN])s->srv->secrets,
	    s->srv->nsecrets, res) != 0) {
		atomic_fetch_add(&stats.rejected[STATS_REJECT_BAD_SECRET], 1);
		slog(LOGL_INFO, s, "%s", "header matches no secret; holding "
		    "the connection silently until the handshake deadline");
		hold_silently(s, deadline);
		return SESSION_ERR;
	}
	s->user = res->secret_index;
	if (!mode_allowed(cfg, res->tag)) {
		enum frame_transport t = FRAME_ABRIDGED;

		frame_transport_from_tag(res->tag, &t);
		atomic_fetch_add(&stats.rejected[STATS_REJECT_MODE], 1);
		slog(LOGL_INFO, s, "transport %s is not allowed by modes; "
		    "holding the connection silently", frame_transport_name(t));
		hold_silently(s, deadline);
		return SESSION_ERR;
	}
	atomic_fetch_add(&stats.users[s->user].connections, 1);
	atomic_fetch_add(&stats.users[s->user].active, 1);
	return 0;
}

static int
upstream_connect(struct session *s, int16_t dcid)
{
	const struct config *cfg = s->srv->cfg;
	const struct config_dc *dc;
	char addr[64] = "";
	int fallback, fd;

	if (direct_pick_dc(cfg, dcid, &dc, &fallback) != 0) {
		slog(LOGL_WARN, s, "DC %d unknown and default_dc %d is not in "
		    "the table", dcid, cfg->default_dc);
		atomic_fetch_add(&stats.rejected[STATS_REJECT_DC_UNREACHABLE], 1);
		return SESSION_ERR;
	}
	if (fallback) {
		atomic_fetch_add(&stats.unknown_dc, 1);
		slog(LOGL_INFO, s, "unknown DC %d, using default DC %d", dcid,
		    dc->id);
	}
	if (direct_connect(cfg, dc, &fd, addr, sizeof(addr)) != 0) {
		atomic_fetch_add(&stats.rejected[STATS_REJECT_DC_UNREACHABLE], 1);
		slog(LOGL_WARN, s, "DC %d unreachable (last tried %s: %s)",
		    dc->id, addr, strerror(errno));
		return SESSION_ERR;
	}
	atomic_store(&s->ufd, fd);
	slog(LOGL_DEBUG, s, "connected to DC %d at %s", dc->id, addr);
	return 0;
}

/* Our own header towards the DC, and the four ciphers of the relay. */
static int
setup_ciphers(struct session *s, const struct obfs2_result *res)
{
	const struct config *cfg = s->srv->cfg;
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
		return SESSION_ERR;
	if (!cfg->fast_mode &&
	    (crypto_ctr_new(&s->c_enc, ck->wkey, ck->wiv) != 0 ||
	    crypto_ctr_new(&s->u_dec, uk.rkey, uk.riv) != 0))
		return SESSION_ERR;
	return net_write_full(atomic_load(&s->ufd), wire, sizeof(wire));
}

static void
set_relay_options(struct session *s)
{
	const struct config *cfg = s->srv->cfg;
	int idle_ms = cfg->idle_timeout * 1000, one = 1;
	/* Wake up now and then to see whether the other direction is alive. */
	int tick = idle_ms / 2 > 100 ? idle_ms / 2 : 100;

	setsockopt(s->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	net_set_timeouts(s->cfd, tick, idle_ms);
	net_set_timeouts(s->ufd, tick, idle_ms);
}

/*
 * Copy one direction until EOF, an error, or both directions idle for
 * idle_timeout. dec/enc may be NULL (fast mode passes bytes through).
 */
static void
relay(struct session *s, int from, int to, crypto_ctr *dec, crypto_ctr *enc,
    atomic_ullong *total, atomic_ullong *user_total)
{
	int64_t idle_ms = (int64_t)s->srv->cfg->idle_timeout * 1000;
	size_t size = (size_t)s->srv->cfg->buffer_size;
	uint8_t *buf;
	ssize_t n;

	if ((buf = malloc(size)) == NULL) {
		slog(LOGL_ERROR, s, "%s", "out of memory for a relay buffer");
		return;
	}
	for (;;) {
		n = recv(from, buf, size, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    net_now_ms() - atomic_load(&s->last_active) < idle_ms)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				slog(LOGL_DEBUG, s, "%s", "idle timeout");
			break;
		}
		if ((dec != NULL && crypto_ctr_apply(dec, buf, buf, (size_t)n)) ||
		    (enc != NULL && crypto_ctr_apply(enc, buf, buf, (size_t)n)) ||
		    net_write_full(to, buf, (size_t)n) != 0)
			break;
		atomic_store(&s->last_active, net_now_ms());
		atomic_fetch_add(total, (unsigned long long)n);
		atomic_fetch_add(user_total, (unsigned long long)n);
	}
	free(buf);
}

static void
upstream_to_client(void *arg)
{
	struct session *s = arg;

	relay(s, s->ufd, s->cfd, s->u_dec, s->c_enc, &stats.bytes_out,
	    &stats.users[s->user].bytes_out);
	session_release(s);
}

static void
client_to_upstream(void *arg)
{
	struct session *s = arg;
	const struct config *cfg = s->srv->cfg;
	int64_t deadline = net_now_ms() + (int64_t)cfg->handshake_timeout * 1000;
	struct obfs2_result res;

	if (client_handshake(s, deadline, &res) != 0 ||
	    upstream_connect(s, res.dc) != 0 ||
	    atomic_load(&s->srv->stopping))
		goto out;
	if (setup_ciphers(s, &res) != 0) {
		slog(LOGL_WARN, s, "%s", "could not send our header to the DC");
		goto out;
	}
	explicit_bzero(&res, sizeof(res));
	set_relay_options(s);
	atomic_store(&s->last_active, net_now_ms());
	atomic_fetch_add(&stats.handshakes, 1);
	atomic_store(&s->refs, 2);
	if (pool_submit(s->srv->pool, upstream_to_client, s) != 0) {
		atomic_store(&s->refs, 1);
		slog(LOGL_WARN, s, "%s", "no thread for the upstream direction");
		goto out;
	}
	relay(s, s->cfd, s->ufd, s->c_dec, s->u_enc, &stats.bytes_in,
	    &stats.users[s->user].bytes_in);
	slog(LOGL_DEBUG, s, "%s", "session ends");
out:
	explicit_bzero(&res, sizeof(res));
	session_release(s);
}

int
session_start(struct server *srv, int fd, const struct sockaddr *peer)
{
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
	s->user = -1;
	net_addr_str(peer, s->peer, sizeof(s->peer));
	atomic_fetch_add(&stats.active, 1);
	pthread_mutex_lock(&srv->mu);
	s->next = srv->live;
	if (srv->live != NULL)
		srv->live->prev = s;
	srv->live = s;
	pthread_mutex_unlock(&srv->mu);
	if ((rc = pool_submit(srv->pool, client_to_upstream, s)) != 0) {
		atomic_fetch_add(&stats.rejected[STATS_REJECT_POOL_FULL], 1);
		slog(LOGL_WARN, s, "%s", "worker pool full, connection refused");
		session_release(s);
		return SESSION_ERR;
	}
	return 0;
}
