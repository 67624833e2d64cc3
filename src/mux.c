/*
 * Middle-proxy links. Each link is a struct that outlives its TCP
 * connections: its thread connects, handshakes, multiplexes answers until the
 * connection dies, closes the clients bound to it, waits with backoff and
 * jitter, and tries again. A link's clients and their queues sit under the
 * link's mutex. Its sending half is a pipeline of two locks: the frame lock
 * gives a built and checksummed frame its sequence number and runs it
 * through the CBC chain, in order; the write lock, taken before the frame
 * lock is let go, puts it on the socket while the next frame is encrypted.
 *
 * A target keeps conn_min links and opens more, up to conn_max, while all
 * of its links are busy: a link is busy when BUSY_WAITS frames within
 * BUSY_WINDOW_MS found its frame lock taken. New clients go to links that
 * are not busy, the first conn_min before the others, so the extra links
 * drain; one left without clients for a ping_interval closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "deadline.h"
#include "log.h"
#include "mux.h"
#include "net.h"
#include "proto.h"
#include "rpc.h"
#include "rpcstream.h"
#include "ticker.h"

#define LINK_STACK		(256 * 1024)
#define LINK_BUCKETS		256
#define LINK_MAX		64	/* per target, connections_per_target max */
/* doc/PROTOCOL.md 4.5: CONNECT_TIMEOUT */
#define HANDSHAKE_MS		3000
#define BACKOFF_MIN_MS		1000	/* 4.6: the official proxy retries after ~1 s */
#define BACKOFF_MAX_MS		30000
#define DEAD_AFTER_PINGS	3	/* silent ping intervals before a link is dead */
#define READ_CHUNK		65536
/*
 * Over queue_bytes, a client that has taken no answer for this long has
 * stopped reading; one that still takes answers is only behind, and is kept
 * while the queues of all clients fit queue_total_bytes.
 */
#define QUEUE_STALL_MS		5000
/* A link is busy when this many frames in the window waited for its lock. */
#define BUSY_WINDOW_MS		1000
#define BUSY_WAITS		8

struct link;

/* A client's place on a link: set up before it is bound, then its state,
 * queue and last_take under link->mu. */
struct mux_conn {
	struct mux_conn *hnext;		/* bucket chain, under link->mu */
	struct link *link;
	uint64_t conn_id;
	uint64_t gen;			/* the link connection it was bound on */
	int bound;			/* in the link's table */
	int closed;			/* no more answers: see mux_recv */
	enum mux_close why;		/* the first cause of the close */
	int has_ad_tag;			/* the user's own tag, over [middle]'s */
	uint8_t ad_tag[SECRET_LEN];
	enum frame_transport transport;
	struct rpc_endpoint client, ours;
	pthread_cond_t cv;		/* an answer or a close; with link->mu */
	struct mux_msg *head, *tail;
	size_t qbytes;
	int64_t last_take;		/* net_now_ms() of its last answer taken */
};

/* Under m->mu. */
struct target {
	struct target *next;
	struct proxyconf_target addr;
	int retired;			/* gone from the config: drain, then stop */
	size_t nlive;			/* links running and not leaving */
	size_t nlinks;			/* slots used, live or not */
	struct link *links[LINK_MAX];
};

/*
 * A link's locks and the mux's, in the one order any thread takes them:
 * m->mu, then fmu, then wmu, then mu; a thread may skip some but never
 * takes one while holding a later one. So m->mu comes before l->mu
 * (growing, leaving, picking a link) and fmu before wmu before l->mu (a
 * frame checks its client under mu while it holds the frame lock).
 * wmu is taken before fmu is let go, so that frames reach the socket in
 * the order of their sequence numbers; it is held across one blocking
 * write of a built frame, bounded by the socket's SO_SNDTIMEO. No lock is
 * held across a read from the middle proxy.
 */
struct link {
	struct mux *m;
	struct target *t;
	size_t slot;			/* in t->links */
	char name[64];
	pthread_t thread;
	/* Under m->mu. */
	int running;			/* its thread has not ended */
	int joinable;			/* its thread is not joined yet */
	int leaving;			/* closing as an extra link left idle */
	/* Under mu: the connection's state and the client table. */
	pthread_mutex_t mu;
	int ready;
	uint64_t gen;
	enum rpc_crc ready_crc;		/* the current connection's */
	size_t nconns;
	struct mux_conn *table[LINK_BUCKETS];
	/* Under fmu (the frame lock): sequence numbers and CBC chain, so
	 * that frames are numbered and encrypted in one order. */
	pthread_mutex_t fmu;
	struct rpcstream_out out;	/* its cipher: a crypto_cbc */
	int64_t win_start;		/* net_now_ms(): this busy window's */
	unsigned win_waits;		/* frames that waited for fmu in it */
	/* Under wmu (the write lock), taken with fmu held: the socket, so
	 * that one frame's bytes are not interleaved with another's. */
	pthread_mutex_t wmu;
	int fd;
	atomic_llong busy_until;	/* net_now_ms() until it counts as busy */
	atomic_llong last_use;		/* a client's last bind or frame */
	/* The link thread's own. */
	enum stats_link state;		/* STATS_LINK_COUNT: no thread */
	crypto_cbc *dec;
	struct rpcstream_in in;
	int64_t last_rx;
	int64_t ping_id;
};

struct mux {
	const struct config *cfg;
	struct middle *mid;
	int32_t start_time;
	pthread_mutex_t mu;		/* targets, stop; before any link's */
	pthread_cond_t wake;		/* stop; with mu */
	int stop;
	struct target *targets;
	atomic_llong queued;		/* answer bytes in all clients' queues */
	struct stats_mux *st;		/* the server's counters */
};

static int
stopping(struct mux *m)
{
	int s;

	pthread_mutex_lock(&m->mu);
	s = m->stop;
	pthread_mutex_unlock(&m->mu);
	return s;
}

static void
endpoint_of(const struct sockaddr_storage *ss, struct rpc_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		ep->v6 = 1;
		memcpy(ep->ip, &in6->sin6_addr, 16);
		ep->port = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in = (const void *)ss;

		memcpy(ep->ip, &in->sin_addr, 4);
		ep->port = ntohs(in->sin_port);
	}
}

/* --nat-info: the address the middle proxy sees instead of ours. */
static void
nat_translate(const struct config *cfg, struct rpc_endpoint *ep)
{
	const struct sockaddr_in *loc = (const void *)&cfg->nat_local.ss;
	const struct sockaddr_in *pub = (const void *)&cfg->nat_public.ss;

	if (cfg->has_nat_info && !ep->v6 &&
	    memcmp(ep->ip, &loc->sin_addr, 4) == 0)
		memcpy(ep->ip, &pub->sin_addr, 4);
}

static uint32_t
host_ipv4(const struct rpc_endpoint *ep)
{
	return ep->v6 ? 0 : (uint32_t)ep->ip[0] << 24 |
	    (uint32_t)ep->ip[1] << 16 | (uint32_t)ep->ip[2] << 8 | ep->ip[3];
}

/* ---- the writing half ---- */

/* Frame, pad, encrypt and write one payload built at buf + 8 (fmu, wmu). */
static int
link_write_locked(struct link *l, uint8_t *buf, size_t cap, size_t plen)
{
	size_t len;

	if (l->fd < 0 || rpcstream_put(&l->out, buf, cap, plen, &len) != 0)
		return MUX_ERR;
	return net_write_full(l->fd, buf, len) == 0 ? 0 : MUX_ERR;
}

/* A small control frame (ping, pong, close) on the current connection. */
static int
link_send_small(struct link *l, const uint8_t *payload, size_t plen,
    uint64_t gen)
{
	uint8_t buf[64];
	int rc = MUX_CLOSED;

	memcpy(buf + 8, payload, plen);
	pthread_mutex_lock(&l->fmu);
	pthread_mutex_lock(&l->wmu);
	pthread_mutex_lock(&l->mu);
	if (l->ready && l->gen == gen)
		rc = 0;
	pthread_mutex_unlock(&l->mu);
	if (rc == 0)
		rc = link_write_locked(l, buf, sizeof(buf), plen);
	pthread_mutex_unlock(&l->wmu);
	pthread_mutex_unlock(&l->fmu);
	return rc;
}

static void
send_close_conn(struct link *l, uint64_t conn_id, uint64_t gen)
{
	uint8_t p[RPC_CLOSE_LEN];

	if (rpc_close_conn_build(conn_id, p) == 0)
		link_send_small(l, p, sizeof(p), gen);
}

/* ---- the client table ---- */

static struct mux_conn **
bucket(struct link *l, uint64_t id)
{
	return &l->table[(id ^ id >> 32) % LINK_BUCKETS];
}

static void
unbind_locked(struct link *l, struct mux_conn *c, enum mux_close why)
{
	struct mux_conn **pp;

	for (pp = bucket(l, c->conn_id); *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	c->bound = 0;
	c->closed = 1;
	if (c->why == MUX_CLOSE_NONE)
		c->why = why;
	l->nconns--;
	pthread_cond_broadcast(&c->cv);
}

static struct mux_conn *
find_locked(struct link *l, uint64_t id)
{
	struct mux_conn *c;

	for (c = *bucket(l, id); c != NULL; c = c->hnext)
		if (c->conn_id == id)
			return c;
	return NULL;
}

/* Every client of a dead connection is closed; they reconnect. */
static void
close_all_locked(struct link *l)
{
	struct mux_conn *c;
	size_t i;

	for (i = 0; i < LINK_BUCKETS; i++)
		while ((c = l->table[i]) != NULL)
			unbind_locked(l, c, MUX_CLOSE_LINK);
}

/* ---- answers ---- */

/* Close a client we give up on: its queue goes at once, not at detach. */
static void
drop_locked(struct link *l, struct mux_conn *c)
{
	struct mux_msg *msg;

	while ((msg = c->head) != NULL) {
		c->head = msg->next;
		free(msg);
	}
	c->tail = NULL;
	atomic_fetch_sub(&l->m->queued, (long long)c->qbytes);
	c->qbytes = 0;
	unbind_locked(l, c, MUX_CLOSE_QUEUE);
}

/* The client with the most bytes queued, by link and conn_id; under m->mu. */
static struct link *
largest_backlog(struct mux *m, uint64_t *id, size_t *bytes)
{
	struct link *best = NULL;
	struct mux_conn *c;
	struct target *t;
	size_t i, k;

	*bytes = 0;
	for (t = m->targets; t != NULL; t = t->next) {
		for (i = 0; i < t->nlinks; i++) {
			pthread_mutex_lock(&t->links[i]->mu);
			for (k = 0; k < LINK_BUCKETS; k++)
				for (c = t->links[i]->table[k]; c != NULL;
				    c = c->hnext)
					if (c->qbytes > *bytes) {
						best = t->links[i];
						*id = c->conn_id;
						*bytes = c->qbytes;
					}
			pthread_mutex_unlock(&t->links[i]->mu);
		}
	}
	return best;
}

/*
 * Room for len more bytes under queue_total_bytes: close the clients with
 * the largest backlogs until there is. Called without any link's mu held.
 */
static void
make_room(struct mux *m, size_t len)
{
	long long total = m->cfg->queue_total_bytes;
	struct mux_conn *c;
	struct link *l;
	uint64_t id = 0, gen;
	size_t bytes;

	while (atomic_load(&m->queued) + (long long)len > total) {
		pthread_mutex_lock(&m->mu);
		l = largest_backlog(m, &id, &bytes);
		pthread_mutex_unlock(&m->mu);
		if (l == NULL)
			return;
		pthread_mutex_lock(&l->mu);
		gen = l->gen;
		if ((c = find_locked(l, id)) != NULL)
			drop_locked(l, c);
		pthread_mutex_unlock(&l->mu);
		if (c == NULL)
			continue;
		atomic_fetch_add(&m->st->queue_evictions, 1);
		log_warn("middle %s: answers queued for all clients reached "
		    "queue_total_bytes %lld: closing the client with the "
		    "largest backlog (%zu bytes)", l->name, total, bytes);
		send_close_conn(l, id, gen);
	}
}

static void
queue_answer(struct link *l, const struct rpc_answer *a)
{
	const struct config *cfg = l->m->cfg;
	struct mux_msg *msg = NULL;
	struct mux_conn *c;
	size_t len = a->type == RPC_PROXY_ANS ? a->data_len : 0;
	uint64_t gen;
	int stalled;

	if (len > 0)
		make_room(l->m, len);
	pthread_mutex_lock(&l->mu);
	gen = l->gen;
	if ((c = find_locked(l, a->conn_id)) == NULL) {
		pthread_mutex_unlock(&l->mu);
		atomic_fetch_add(&l->m->st->dropped_answers, 1);
		send_close_conn(l, a->conn_id, gen);
		return;
	}
	if (a->type == RPC_CLOSE_EXT) {
		atomic_fetch_add(&l->m->st->close_ext, 1);
		unbind_locked(l, c, MUX_CLOSE_EXT);
		pthread_mutex_unlock(&l->mu);
		return;
	}
	stalled = c->qbytes + len > (size_t)cfg->queue_bytes &&
	    net_now_ms() - c->last_take >= QUEUE_STALL_MS;
	if (stalled || (msg = malloc(sizeof(*msg) + len)) == NULL) {
		/* Never wait for a client that stopped reading: drop it. */
		atomic_fetch_add(&l->m->st->queue_overflows, 1);
		drop_locked(l, c);
		pthread_mutex_unlock(&l->mu);
		log_info("middle %s: a client stopped reading (no answer "
		    "taken for %d ms, over queue_bytes %lld): closing it",
		    l->name, QUEUE_STALL_MS, cfg->queue_bytes);
		send_close_conn(l, a->conn_id, gen);
		return;
	}
	msg->next = NULL;
	msg->type = a->type;
	msg->confirm = a->confirm;
	msg->len = len;
	if (len > 0)
		memcpy(msg->data, a->data, len);
	if (c->tail != NULL)
		c->tail->next = msg;
	else
		c->head = msg;
	c->tail = msg;
	c->qbytes += len;
	atomic_fetch_add(&l->m->queued, (long long)len);
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&l->mu);
	atomic_fetch_add(a->type == RPC_PROXY_ANS ?
	    &l->m->st->forwarded_answers : &l->m->st->simple_acks, 1);
}

static int
dispatch(struct link *l, const uint8_t *p, size_t len)
{
	struct rpc_answer a;
	uint8_t pong[RPC_PING_LEN];
	int64_t id;
	int rc;

	if (len >= 4 && bytes_le32(p) == RPC_PING) {
		if (rpc_ping_parse(RPC_PING, p, len, &id) != 0 ||
		    rpc_ping_build(RPC_PONG, id, pong) != 0)
			return MUX_ERR;
		return link_send_small(l, pong, sizeof(pong), l->gen);
	}
	if (len >= 4 && bytes_le32(p) == RPC_PONG)
		return 0;
	if ((rc = rpc_answer_parse(p, len, &a)) != 0) {
		log_warn("middle %s: bad answer: %s", l->name, rpc_strerror(rc));
		return rc == RPC_ERR_UNKNOWN ? 0 : MUX_ERR;
	}
	queue_answer(l, &a);
	return 0;
}

/* ---- reading ---- */

/* One recv into the stream, which decrypts in place. */
static int
read_some(struct link *l)
{
	uint8_t *at;
	ssize_t n;

	if (rpcstream_in_reserve(&l->in, READ_CHUNK, &at) != 0)
		return MUX_ERR;
	n = recv(l->fd, at, READ_CHUNK, 0);
	if (n == 0)
		return MUX_CLOSED;
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return errno == EAGAIN ? MUX_TIMEOUT : MUX_CLOSED;
	}
	l->last_rx = net_now_ms();
	return rpcstream_in_commit(&l->in, (size_t)n) == 0 ? 0 : MUX_ERR;
}

/*
 * The next frame's payload into *p, valid until the next call. Reads with
 * the socket's timeout: MUX_TIMEOUT when nothing came in that long, or
 * once deadline (if not 0) has passed.
 */
static int
next_frame(struct link *l, const uint8_t **p, size_t *len, int64_t deadline)
{
	int rc;

	for (;;) {
		rc = rpcstream_in_next(&l->in, p, len);
		if (rc == 0)
			return 0;
		if (rc != RPC_NEED_MORE) {
			log_warn("middle %s: bad frame: %s", l->name,
			    rpc_strerror(rc));
			return MUX_ERR;
		}
		if (deadline != 0 && net_now_ms() >= deadline)
			return MUX_TIMEOUT;
		if ((rc = read_some(l)) != 0)
			return rc;
	}
}

/* ---- connecting ---- */

static int
send_plain_nonce(struct link *l, const uint8_t *secret, size_t slen,
    uint8_t nonce[16], uint32_t ts, int32_t *key_select)
{
	uint8_t payload[RPC_NONCE_LEN], frame[RPC_NONCE_LEN + RPC_FRAME_OVERHEAD];
	size_t len;

	if (rpc_key_select(secret, slen, key_select) != 0 ||
	    crypto_random(nonce, 16) != 0 ||
	    rpc_nonce_build(*key_select, ts, nonce, payload) != 0 ||
	    rpc_frame_encode(RPC_SEQ_NONCE, RPC_CRC32, payload, sizeof(payload),
	    frame, sizeof(frame), &len) != 0)
		return MUX_ERR;
	return net_write_full(l->fd, frame, len) == 0 ? 0 : MUX_ERR;
}

/* 4.4: keys from both nonces and both ends of this TCP connection. */
static int
derive(struct link *l, const uint8_t *secret, size_t slen,
    const struct rpc_nonce *theirs, const uint8_t ours[16], uint32_t ts,
    struct rpc_endpoint *clt)
{
	struct sockaddr_storage loc, rem;
	socklen_t ll = sizeof(loc), rl = sizeof(rem);
	struct rpc_key_input in;
	uint8_t key[RPC_KEY_LEN], iv[RPC_IV_LEN];
	crypto_cbc *enc = NULL;
	int rc = MUX_ERR;

	if (getsockname(l->fd, (struct sockaddr *)&loc, &ll) != 0 ||
	    getpeername(l->fd, (struct sockaddr *)&rem, &rl) != 0)
		return MUX_ERR;
	memset(&in, 0, sizeof(in));
	memcpy(in.nonce_srv, theirs->nonce, 16);
	memcpy(in.nonce_clt, ours, 16);
	in.clt_ts = ts;
	endpoint_of(&rem, &in.srv);
	endpoint_of(&loc, &in.clt);
	/* As the official proxy does, both addresses go through --nat-info. */
	nat_translate(l->m->cfg, &in.srv);
	nat_translate(l->m->cfg, &in.clt);
	in.secret = secret;
	in.secret_len = slen;
	*clt = in.clt;
	if (rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv) == 0 &&
	    crypto_cbc_new(&enc, 1, key, iv) == 0 &&
	    rpc_derive_keys(&in, RPC_PURPOSE_SERVER, key, iv) == 0 &&
	    crypto_cbc_new(&l->dec, 0, key, iv) == 0)
		rc = 0;
	l->out.cipher = enc;
	crypto_cleanse(key, sizeof(key));
	crypto_cleanse(iv, sizeof(iv));
	return rc;
}

static int
handshake(struct link *l, const struct rpc_endpoint *clt, int64_t deadline)
{
	struct rpc_pid ours = { 0 }, peer = { 0 };
	struct rpc_handshake reply;
	uint8_t buf[64];
	const uint8_t *p;
	size_t len;
	int rc;

	ours.ip = host_ipv4(clt);
	ours.port = clt->port;
	ours.pid = (uint16_t)getpid();
	ours.utime = l->m->start_time;
	if (rpc_handshake_build(RPC_FLAG_CRC32C, &ours, &peer, buf + 8) != 0)
		return MUX_ERR;
	l->out.seq = RPC_SEQ_HANDSHAKE;
	l->out.crc = RPC_CRC32;
	if (link_write_locked(l, buf, sizeof(buf), RPC_HANDSHAKE_LEN) != 0)
		return MUX_ERR;
	if ((rc = next_frame(l, &p, &len, deadline)) != 0)
		return rc;
	rc = rpc_handshake_parse(p, len, &reply);
	if (rc == 0)
		rc = rpc_handshake_check(&reply, &ours, RPC_FLAG_CRC32C,
		    &l->out.crc);
	if (rc != 0) {
		log_warn("middle %s: handshake refused: %s", l->name,
		    rpc_strerror(rc));
		return MUX_ERR;
	}
	l->out.seq = 0;
	rpcstream_in_expect(&l->in, 0, l->out.crc);
	return 0;
}

static void
link_reset(struct link *l)
{
	pthread_mutex_lock(&l->fmu);
	pthread_mutex_lock(&l->wmu);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	crypto_cbc_free(l->out.cipher);
	l->out.cipher = NULL;
	pthread_mutex_unlock(&l->wmu);
	pthread_mutex_unlock(&l->fmu);
	crypto_cbc_free(l->dec);
	l->dec = NULL;
	rpcstream_in_reset(&l->in);
}

/* Connect, nonce, handshake: 0 with the link ready for clients. */
static int
link_connect(struct link *l, struct middle_snapshot *snap)
{
	struct net_addr a;
	struct rpc_endpoint clt;
	struct rpc_nonce theirs;
	int64_t deadline = net_now_ms() + HANDSHAKE_MS;
	uint32_t ts = (uint32_t)time(NULL);
	uint8_t nonce[16];
	const uint8_t *p;
	int32_t ks;
	size_t len;
	int fd, rc, one = 1;

	memset(&a, 0, sizeof(a));
	if (l->t->addr.v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, l->t->addr.ip, 16);
		in6->sin6_port = htons(l->t->addr.port);
		a.len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, l->t->addr.ip, 4);
		in->sin_port = htons(l->t->addr.port);
		a.len = sizeof(*in);
	}
	if (net_connect(&a, HANDSHAKE_MS, 0, &fd) != 0) {
		log_warn("middle %s: connect: %s", l->name, strerror(errno));
		return MUX_ERR;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	net_set_timeouts(fd, HANDSHAKE_MS, HANDSHAKE_MS);
	pthread_mutex_lock(&l->wmu);
	l->fd = fd;
	pthread_mutex_unlock(&l->wmu);
	rpcstream_in_reset(&l->in);
	if (send_plain_nonce(l, snap->secret, snap->secret_len, nonce, ts,
	    &ks) != 0 || next_frame(l, &p, &len, deadline) != 0)
		return MUX_ERR;
	rc = rpc_nonce_parse(p, len, ks, (uint32_t)time(NULL), &theirs);
	if (rc != 0) {
		log_warn("middle %s: nonce refused: %s", l->name,
		    rpc_strerror(rc));
		return MUX_ERR;
	}
	/* The rest of this read, if any, is already ciphertext. */
	rpcstream_in_expect(&l->in, RPC_SEQ_HANDSHAKE, RPC_CRC32);
	if (derive(l, snap->secret, snap->secret_len, &theirs, nonce, ts,
	    &clt) != 0 || rpcstream_in_decrypt(&l->in, l->dec) != 0)
		return MUX_ERR;
	pthread_mutex_lock(&l->fmu);
	pthread_mutex_lock(&l->wmu);
	rc = handshake(l, &clt, deadline);
	pthread_mutex_unlock(&l->wmu);
	pthread_mutex_unlock(&l->fmu);
	return rc;
}

/* ---- a link's life ---- */

static int
link_retired_idle(struct link *l)
{
	int idle;

	pthread_mutex_lock(&l->m->mu);
	idle = l->t->retired;
	pthread_mutex_unlock(&l->m->mu);
	if (!idle)
		return 0;
	pthread_mutex_lock(&l->mu);
	idle = l->nconns == 0;
	pthread_mutex_unlock(&l->mu);
	return idle;
}

/* Ping when quiet; a link silent for DEAD_AFTER_PINGS intervals is dead. */
static int
link_tick(struct link *l)
{
	int64_t quiet = net_now_ms() - l->last_rx;
	int64_t every = (int64_t)l->m->cfg->ping_interval * 1000;
	uint8_t ping[RPC_PING_LEN];

	if (quiet >= every * DEAD_AFTER_PINGS) {
		log_warn("middle %s: no answer for %lld ms, closing the link",
		    l->name, (long long)quiet);
		return MUX_ERR;
	}
	if (rpc_ping_build(RPC_PING, ++l->ping_id, ping) != 0)
		return MUX_ERR;
	return link_send_small(l, ping, sizeof(ping), l->gen);
}

/*
 * An extra link (past the first conn_min of its target) with no client
 * bound and none for a ping_interval leaves: 1, and from then on no client
 * can bind to it.
 */
static int
link_leave(struct link *l)
{
	const struct config *cfg = l->m->cfg;
	int leave;

	if (l->slot < (size_t)cfg->conn_min || net_now_ms() -
	    atomic_load(&l->last_use) < (int64_t)cfg->ping_interval * 1000)
		return 0;
	pthread_mutex_lock(&l->m->mu);
	pthread_mutex_lock(&l->mu);
	leave = l->nconns == 0;
	if (leave) {
		l->ready = 0;
		l->leaving = 1;
		l->t->nlive--;
	}
	pthread_mutex_unlock(&l->mu);
	pthread_mutex_unlock(&l->m->mu);
	return leave;
}

/* Answers until the connection ends: 0, or 1 when the link leaves. */
static int
link_serve(struct link *l)
{
	const uint8_t *p;
	size_t len;
	int rc;

	net_set_timeouts(l->fd, l->m->cfg->ping_interval * 1000,
	    l->m->cfg->idle_timeout * 1000);
	l->last_rx = net_now_ms();
	for (;;) {
		rc = next_frame(l, &p, &len, 0);
		if (rc == MUX_TIMEOUT) {
			if (link_leave(l))
				return 1;
			if (stopping(l->m) || link_retired_idle(l) ||
			    link_tick(l) != 0)
				return 0;
			continue;
		}
		if (rc != 0 || dispatch(l, p, len) != 0)
			return 0;
	}
}

static void
link_down(struct link *l, int was_ready)
{
	pthread_mutex_lock(&l->mu);
	l->ready = 0;
	close_all_locked(l);
	pthread_mutex_unlock(&l->mu);
	link_reset(l);
	if (was_ready)
		log_info("middle %s: link closed", l->name);
}

/* The link thread's own; st->links counts links by state. */
static void
link_state(struct link *l, enum stats_link to)
{
	if (l->state != STATS_LINK_COUNT)
		atomic_fetch_sub(&l->m->st->links[l->state], 1);
	l->state = to;
	if (to != STATS_LINK_COUNT)
		atomic_fetch_add(&l->m->st->links[to], 1);
}

/* Sleep, waking early when the mux stops; 1 if it did. */
static int
link_sleep(struct link *l, int ms)
{
	struct timespec end;
	int stop;

	deadline_after(ms, &end);
	pthread_mutex_lock(&l->m->mu);
	while (!l->m->stop &&
	    pthread_cond_timedwait(&l->m->wake, &l->m->mu, &end) != ETIMEDOUT)
		;
	stop = l->m->stop;
	pthread_mutex_unlock(&l->m->mu);
	return stop;
}

/* The thread's last word on its link: the slot may be used again. */
static void
link_end(struct link *l)
{
	pthread_mutex_lock(&l->m->mu);
	if (!l->leaving)
		l->t->nlive--;
	l->running = 0;
	pthread_mutex_unlock(&l->m->mu);
}

static void *
link_main(void *arg)
{
	struct link *l = arg;
	struct middle_snapshot *snap;
	int backoff = BACKOFF_MIN_MS, ok, left = 0;
	uint8_t r[2];

	while (!stopping(l->m) && !link_retired_idle(l) &&
	    !(left = link_leave(l))) {
		link_state(l, STATS_LINK_CONNECTING);
		snap = middle_get(l->m->mid);
		ok = link_connect(l, snap) == 0;
		middle_put(snap);
		if (ok) {
			pthread_mutex_lock(&l->mu);
			l->gen++;
			l->ready = 1;
			l->ready_crc = l->out.crc;
			pthread_mutex_unlock(&l->mu);
			link_state(l, STATS_LINK_READY);
			atomic_fetch_add(&l->m->st->links_up, 1);
			log_info("middle %s: link ready", l->name);
			backoff = BACKOFF_MIN_MS;
			left = link_serve(l);
		}
		if (left)
			break;
		atomic_fetch_add(&l->m->st->link_failures, 1);
		link_down(l, ok);
		link_state(l, STATS_LINK_WAITING);
		crypto_random(r, sizeof(r));
		/* Jitter, so that links do not all come back at once. */
		if (link_sleep(l, backoff + (r[0] << 8 | r[1]) % (backoff / 2 + 1)))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	if (left) {
		link_down(l, 0);
		atomic_fetch_add(&l->m->st->links_shrunk, 1);
		log_info("middle %s: extra link closed, idle for a ping_interval",
		    l->name);
	}
	link_state(l, STATS_LINK_COUNT);
	link_end(l);
	crypto_thread_end();
	return NULL;
}

/* ---- targets ---- */

static void
target_name(const struct proxyconf_target *t, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(t->v6 ? AF_INET6 : AF_INET, t->ip, ip, sizeof(ip));
	snprintf(out, len, t->v6 ? "[%s]:%u" : "%s:%u", ip, t->port);
}

static int
same_target(const struct proxyconf_target *a, const struct proxyconf_target *b)
{
	return a->v6 == b->v6 && a->port == b->port &&
	    memcmp(a->ip, b->ip, a->v6 ? 16 : 4) == 0;
}

static struct link *
link_new(struct mux *m, struct target *t)
{
	struct link *l;

	if (t->nlinks == LINK_MAX || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->m = m;
	l->t = t;
	l->slot = t->nlinks;
	l->fd = -1;
	l->state = STATS_LINK_COUNT;
	target_name(&t->addr, l->name, sizeof(l->name));
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->fmu, NULL);
	pthread_mutex_init(&l->wmu, NULL);
	rpcstream_in_init(&l->in, rpcstream_ops_daemon());
	l->out.ops = rpcstream_ops_daemon();
	t->links[t->nlinks++] = l;
	return l;
}

/*
 * Under m->mu: a link thread in t's first free slot (one whose thread
 * ended, else a new one).
 */
static int
link_add(struct mux *m, struct target *t)
{
	struct link *l = NULL;
	size_t i;

	for (i = 0; i < t->nlinks && l == NULL; i++)
		if (!t->links[i]->running)
			l = t->links[i];
	if (l == NULL && (l = link_new(m, t)) == NULL)
		return MUX_ERR;
	if (l->joinable)
		pthread_join(l->thread, NULL);
	l->joinable = 0;
	l->leaving = 0;
	atomic_store(&l->busy_until, 0);
	atomic_store(&l->last_use, net_now_ms());
	if (ticker_spawn(&l->thread, LINK_STACK, link_main, l) != 0)
		return MUX_ERR;
	l->running = 1;
	l->joinable = 1;
	t->nlive++;
	return 0;
}

/* Under m->mu: a target per address of the snapshot, retire the rest. */
static void
sync_targets(struct mux *m, const struct proxyconf *pc)
{
	struct target *t;
	size_t i, k;

	for (t = m->targets; t != NULL; t = t->next) {
		t->retired = 1;
		for (i = 0; i < pc->ntargets; i++)
			if (same_target(&t->addr, &pc->targets[i]))
				t->retired = 0;
	}
	for (i = 0; i < pc->ntargets; i++) {
		for (t = m->targets; t != NULL; t = t->next)
			if (same_target(&t->addr, &pc->targets[i]))
				break;
		if (t != NULL || (t = calloc(1, sizeof(*t))) == NULL)
			continue;
		t->addr = pc->targets[i];
		t->next = m->targets;
		m->targets = t;
		for (k = 0; k < (size_t)m->cfg->conn_min && k < LINK_MAX; k++)
			if (link_add(m, t) != 0)
				log_error("middle: cannot start a link thread");
	}
}

static const struct proxyconf *
snapshot_conf(const struct mux *m, const struct middle_snapshot *snap)
{
	if (m->cfg->prefer_ipv6 && snap->v6 != NULL)
		return snap->v6;
	return snap->v4;
}

static void
on_change(void *arg)
{
	struct mux *m = arg;
	struct middle_snapshot *snap = middle_get(m->mid);

	pthread_mutex_lock(&m->mu);
	if (!m->stop)
		sync_targets(m, snapshot_conf(m, snap));
	pthread_mutex_unlock(&m->mu);
	middle_put(snap);
}

int
mux_new(const struct config *cfg, struct middle *mid, struct stats_mux *st,
    struct mux **out)
{
	struct mux *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return MUX_ERR;
	if (deadline_cond_init(&m->wake) != 0) {
		free(m);
		return MUX_ERR;
	}
	m->cfg = cfg;
	m->mid = mid;
	m->st = st;
	m->start_time = (int32_t)time(NULL);
	pthread_mutex_init(&m->mu, NULL);
	on_change(m);
	middle_on_change(mid, on_change, m);
	*out = m;
	return 0;
}

void
mux_free(struct mux *m)
{
	struct target *t;
	struct link *l;
	size_t i;

	if (m == NULL)
		return;
	middle_on_change(m->mid, NULL, NULL);
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->mu);
	for (t = m->targets; t != NULL; t = t->next) {
		for (i = 0; i < t->nlinks; i++) {
			l = t->links[i];
			pthread_mutex_lock(&l->wmu);
			if (l->fd >= 0)
				shutdown(l->fd, SHUT_RDWR);
			pthread_mutex_unlock(&l->wmu);
		}
	}
	while ((t = m->targets) != NULL) {
		m->targets = t->next;
		for (i = 0; i < t->nlinks; i++) {
			l = t->links[i];
			if (l->joinable)
				pthread_join(l->thread, NULL);
			link_reset(l);
			rpcstream_in_free(&l->in);
			pthread_mutex_destroy(&l->mu);
			pthread_mutex_destroy(&l->fmu);
			pthread_mutex_destroy(&l->wmu);
			free(l);
		}
		free(t);
	}
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

int
mux_ready_links(struct mux *m)
{
	struct target *t;
	size_t i;
	int n = 0;

	pthread_mutex_lock(&m->mu);
	for (t = m->targets; t != NULL; t = t->next) {
		for (i = 0; i < t->nlinks; i++) {
			pthread_mutex_lock(&t->links[i]->mu);
			n += t->links[i]->ready;
			pthread_mutex_unlock(&t->links[i]->mu);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* ---- clients ---- */

static int
link_busy(struct link *l, int64_t now)
{
	return atomic_load(&l->busy_until) > now;
}

/* Which links new clients go to first: the lowest rank. */
static int
link_rank(struct link *l, int conn_min, int64_t now)
{
	if (link_busy(l, now))
		return 2;
	return l->slot < (size_t)conn_min ? 0 : 1;
}

/*
 * A ready link among the cluster's targets, under m->mu: at random among
 * those of the lowest rank.
 */
static struct link *
pick_link(struct mux *m, const struct proxyconf *pc,
    const struct proxyconf_cluster *cl)
{
	struct link *cand[64], *l;
	struct target *t;
	int64_t now = net_now_ms();
	size_t i, k, n = 0;
	int rank, best = 3, ready;
	uint8_t r[2];

	for (i = cl->first; i < cl->first + cl->ntargets; i++) {
		for (t = m->targets; t != NULL; t = t->next) {
			if (t->retired || !same_target(&t->addr, &pc->targets[i]))
				continue;
			for (k = 0; k < t->nlinks; k++) {
				l = t->links[k];
				pthread_mutex_lock(&l->mu);
				ready = l->ready;
				pthread_mutex_unlock(&l->mu);
				rank = link_rank(l, m->cfg->conn_min, now);
				if (!ready || rank > best)
					continue;
				if (rank < best)
					n = 0;
				best = rank;
				if (n < 64)
					cand[n++] = l;
			}
		}
	}
	if (n == 0)
		return NULL;
	crypto_random(r, sizeof(r));
	return cand[(r[0] << 8 | r[1]) % n];
}

/*
 * A frame waited for l's frame lock (held): 1 when that makes l busy, so
 * the sender asks for another link.
 */
static int
note_wait_locked(struct link *l)
{
	int64_t now = net_now_ms();

	atomic_fetch_add(&l->m->st->link_waits, 1);
	if (now - l->win_start >= BUSY_WINDOW_MS) {
		l->win_start = now;
		l->win_waits = 0;
	}
	if (++l->win_waits != BUSY_WAITS)
		return 0;
	atomic_store(&l->busy_until, now + BUSY_WINDOW_MS);
	return 1;
}

/* When every live link of t is ready and busy: one more, up to conn_max. */
static void
target_grow(struct mux *m, struct target *t)
{
	int64_t now = net_now_ms();
	size_t i, busy = 0;
	struct link *l;

	pthread_mutex_lock(&m->mu);
	for (i = 0; i < t->nlinks; i++) {
		l = t->links[i];
		if (!l->running || l->leaving)
			continue;
		pthread_mutex_lock(&l->mu);
		busy += l->ready && link_busy(l, now);
		pthread_mutex_unlock(&l->mu);
	}
	if (!m->stop && !t->retired && busy == t->nlive &&
	    t->nlive < (size_t)m->cfg->conn_max) {
		if (link_add(m, t) == 0) {
			atomic_fetch_add(&m->st->links_grown, 1);
			log_info("middle %s: all %zu links busy, opening "
			    "another (at most %d)", t->links[0]->name,
			    t->nlive - 1, m->cfg->conn_max);
		} else {
			log_error("middle: cannot start a link thread");
		}
	}
	pthread_mutex_unlock(&m->mu);
}

static int
bind_conn(struct link *l, struct mux_conn *c)
{
	uint8_t id[8];
	int tries;

	pthread_mutex_lock(&l->mu);
	for (tries = 0; tries < 8; tries++) {
		if (crypto_random(id, sizeof(id)) != 0)
			break;
		memcpy(&c->conn_id, id, sizeof(id));
		if (c->conn_id != 0 && find_locked(l, c->conn_id) == NULL)
			break;
	}
	if (!l->ready || tries == 8) {
		pthread_mutex_unlock(&l->mu);
		return MUX_ERR_NOLINK;
	}
	c->gen = l->gen;
	c->bound = 1;
	c->hnext = *bucket(l, c->conn_id);
	*bucket(l, c->conn_id) = c;
	l->nconns++;
	atomic_store(&l->last_use, net_now_ms());
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int
mux_attach(struct mux *m, int16_t dc, enum frame_transport t,
    const struct sockaddr *client, const struct sockaddr *local,
    const uint8_t *ad_tag, struct mux_conn **out)
{
	const struct proxyconf_cluster *cl;
	struct middle_snapshot *snap;
	const struct proxyconf *pc;
	struct mux_conn *c;
	int rc = MUX_ERR_NOLINK;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	if (deadline_cond_init(&c->cv) != 0) {
		free(c);
		c = NULL;
		goto out;
	}
	c->transport = t;
	if (ad_tag != NULL) {
		memcpy(c->ad_tag, ad_tag, SECRET_LEN);
		c->has_ad_tag = 1;
	}
	c->last_take = net_now_ms();
	endpoint_of((const struct sockaddr_storage *)client, &c->client);
	endpoint_of((const struct sockaddr_storage *)local, &c->ours);
	nat_translate(m->cfg, &c->ours);
	if (m->cfg->has_public_ipv4 && !c->ours.v6)
		memcpy(c->ours.ip,
		    &((const struct sockaddr_in *)&m->cfg->public_ipv4.ss)->sin_addr, 4);
	if (m->cfg->has_public_ipv6 && c->ours.v6)
		memcpy(c->ours.ip,
		    &((const struct sockaddr_in6 *)&m->cfg->public_ipv6.ss)->sin6_addr, 16);
	snap = middle_get(m->mid);
	pc = snapshot_conf(m, snap);
	/* Under m->mu, so that the link cannot leave in between. */
	pthread_mutex_lock(&m->mu);
	if (proxyconf_lookup(pc, dc, &cl) == 0 &&
	    (c->link = pick_link(m, pc, cl)) != NULL)
		rc = bind_conn(c->link, c);
	pthread_mutex_unlock(&m->mu);
	middle_put(snap);
	if (rc != 0) {
		pthread_cond_destroy(&c->cv);
		free(c);
		c = NULL;
	}
out:
	if (rc != 0)
		atomic_fetch_add(&m->st->no_link, 1);
	*out = c;
	return rc;
}

/* c may still send on its link, whose CRC is then *crc. */
static int
conn_live(struct link *l, const struct mux_conn *c, enum rpc_crc *crc)
{
	int live;

	pthread_mutex_lock(&l->mu);
	live = c->bound && !c->closed && l->ready && l->gen == c->gen;
	*crc = l->ready_crc;
	pthread_mutex_unlock(&l->mu);
	return live;
}

/*
 * A prepared frame of c's onto l, in the link's order. The frame lock is
 * held for the sequence number and the CBC pass only: the write lock is
 * taken before it is let go, so frames reach the socket in the order they
 * were encrypted while the next one is encrypted. A failure past the seal
 * leaves the CBC chain or the stream broken: it kills the link.
 */
static int
link_send_frame(struct link *l, const struct mux_conn *c, uint8_t *buf,
    size_t cap, const struct rpc_frame_sum *sum)
{
	enum rpc_crc crc;
	size_t len = 0;
	int rc, grow = 0;

	if (pthread_mutex_trylock(&l->fmu) != 0) {
		pthread_mutex_lock(&l->fmu);
		grow = note_wait_locked(l);
	}
	if (!conn_live(l, c, &crc) || crc != sum->crc) {
		pthread_mutex_unlock(&l->fmu);
		return MUX_CLOSED;
	}
	rc = rpcstream_seal(&l->out, sum, buf, cap, &len) == 0 ? 0 : MUX_ERR;
	pthread_mutex_lock(&l->wmu);
	pthread_mutex_unlock(&l->fmu);
	if (rc == 0 && (l->fd < 0 || net_write_full(l->fd, buf, len) != 0))
		rc = MUX_ERR;
	if (rc != 0 && l->fd >= 0)
		shutdown(l->fd, SHUT_RDWR);
	pthread_mutex_unlock(&l->wmu);
	if (grow)
		target_grow(l->m, l->t);
	return rc;
}

int
mux_send(struct mux_conn *c, const uint8_t *msg, size_t len, int quickack)
{
	const struct config *cfg = c->link->m->cfg;
	struct link *l = c->link;
	struct rpc_proxy_req r;
	struct rpc_frame_sum sum;
	enum rpc_crc crc;
	uint8_t *buf;
	size_t plen, cap;
	int rc;

	if (rpc_forward_check(msg, len) != 0) {
		atomic_fetch_add(&l->m->st->filtered_queries, 1);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.transport = c->transport;
	r.quickack = quickack;
	r.conn_id = c->conn_id;
	r.client = c->client;
	r.ours = c->ours;
	r.ad_tag = c->has_ad_tag ? c->ad_tag : cfg->has_ad_tag ? cfg->ad_tag :
	    NULL;
	r.msg = msg;
	r.msg_len = len;
	if (rpc_proxy_req_len(&r, &plen) != 0)
		return MUX_ERR;
	cap = rpcstream_room(plen);
	if ((buf = malloc(cap)) == NULL ||
	    rpc_proxy_req_build(&r, buf + 8, cap - 8, &plen) != 0)
		rc = MUX_ERR;
	else if (!conn_live(l, c, &crc))
		rc = MUX_CLOSED;
	else if (rpcstream_prepare(rpcstream_ops_daemon(), crc, buf, plen, cap,
	    &sum) != 0)
		rc = MUX_ERR;
	else
		rc = link_send_frame(l, c, buf, cap, &sum);
	free(buf);
	atomic_store(&l->last_use, net_now_ms());
	if (rc == 0)
		atomic_fetch_add(&l->m->st->forwarded_queries, 1);
	return rc;
}

int
mux_recv(struct mux_conn *c, struct mux_msg **out, int timeout_ms)
{
	struct link *l = c->link;
	struct timespec end;
	int rc = 0;

	deadline_after(timeout_ms, &end);
	pthread_mutex_lock(&l->mu);
	while (c->head == NULL && !c->closed && rc == 0)
		if (pthread_cond_timedwait(&c->cv, &l->mu, &end) == ETIMEDOUT)
			rc = MUX_TIMEOUT;
	if (c->head != NULL) {
		*out = c->head;
		c->head = c->head->next;
		if (c->head == NULL)
			c->tail = NULL;
		c->qbytes -= (*out)->len;
		c->last_take = net_now_ms();
		atomic_fetch_sub(&l->m->queued, (long long)(*out)->len);
		rc = 0;
	} else if (c->closed) {
		rc = MUX_CLOSED;
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

enum mux_close
mux_close_why(struct mux_conn *c)
{
	enum mux_close why;

	pthread_mutex_lock(&c->link->mu);
	why = c->why;
	pthread_mutex_unlock(&c->link->mu);
	return why;
}

void
mux_shutdown(struct mux_conn *c)
{
	pthread_mutex_lock(&c->link->mu);
	c->closed = 1;
	if (c->why == MUX_CLOSE_NONE)
		c->why = MUX_CLOSE_US;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->link->mu);
}

void
mux_detach(struct mux_conn *c)
{
	struct link *l = c->link;
	struct mux_msg *msg;
	int was_bound;
	uint64_t gen;

	pthread_mutex_lock(&l->mu);
	was_bound = c->bound;
	gen = c->gen;
	if (was_bound)
		unbind_locked(l, c, MUX_CLOSE_US);
	pthread_mutex_unlock(&l->mu);
	atomic_store(&l->last_use, net_now_ms());
	if (was_bound)
		send_close_conn(l, c->conn_id, gen);
	while ((msg = c->head) != NULL) {
		c->head = msg->next;
		atomic_fetch_sub(&l->m->queued, (long long)msg->len);
		free(msg);
	}
	pthread_cond_destroy(&c->cv);
	free(c);
}
