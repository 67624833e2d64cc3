/*
 * Fake middle-end. Blocking sockets: per link a reader thread (nonce,
 * handshake, then frames in, dispatched) and, once the link is up, a
 * writer thread that sends what the reader and the test's controls
 * queued. A frame is sealed (seq, CRC, padding, CBC) as it is queued, under
 * the link's write lock, so queue order is seq order and CBC order. Lock
 * order: the fake's lock, then a link's write lock; the reader never takes
 * the fake's lock while it holds the write lock.
 *
 * Frames, CRCs, padding, CBC and keys are ref.c's, written from the
 * protocol text, so that a bug in src/rpc.c or src/crc.c does not cancel
 * out between the daemon and this fake; only the stream around them
 * (buffering, block leftovers, sequence numbers) is the daemon's rpcstream,
 * with ref.c's codec plugged in. The TL messages inside (nonce,
 * handshake, RPC_PROXY_REQ, answers, pings) still use rpc_*.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "crypto.h"
#include "deadline.h"
#include "fakemp.h"
#include "proto.h"
#include "ref.h"
#include "rpc.h"
#include "rpcstream.h"
#include "tclock.h"

#define READ_CHUNK		(64 * 1024)
#define NONCE_FRAME_MAX		512	/* schema 3 (4.3) needs 340 */
#define TICK_MS			50	/* the accept thread reaps this often */
#define LISTEN_WAIT_S		5
#define BACKLOG			64
#define BUCKETS_MIN		256
#define HS_ERROR_CODE		(-1)
#define CLIENT_TIMEOUT_MS	3000	/* 4.5: the proxy's CONNECT_TIMEOUT */

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static int64_t
deadline_in(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : tclock_now_ms() + timeout_ms;
}

/* ---- socket I/O; a deadline of -1 waits forever */

static int
wait_readable(int fd, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t left;
	int n;

	if (deadline < 0)
		return 0;
	for (;;) {
		if ((left = deadline - tclock_now_ms()) <= 0)
			return FAKEMP_ERR_TIMEOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return FAKEMP_ERR_TIMEOUT;
		if (errno != EINTR)
			return FAKEMP_ERR;
	}
}

static int
read_some(int fd, uint8_t *buf, size_t cap, size_t *n, int64_t deadline)
{
	ssize_t r;
	int rc;

	for (;;) {
		if ((rc = wait_readable(fd, deadline)) != 0)
			return rc;
		r = recv(fd, buf, cap, 0);
		if (r > 0) {
			*n = (size_t)r;
			return 0;
		}
		if (r == 0 || errno == ECONNRESET)
			return FAKEMP_ERR_CLOSED;
		if (errno != EINTR)
			return FAKEMP_ERR;
	}
}

static int
read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t n;
	int rc;

	for (; len > 0; buf += n, len -= n)
		if ((rc = read_some(fd, buf, len, &n, deadline)) != 0)
			return rc;
	return 0;
}

static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EPIPE || errno == ECONNRESET ?
			    FAKEMP_ERR_CLOSED : FAKEMP_ERR;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- outgoing frames */

struct chunk {
	struct chunk *next;
	size_t cap;
	size_t len;		/* once sealed: the bytes to send */
	uint8_t data[];
};

/* Room for bytes, rounded up to the AES block for the padding. */
static struct chunk *
chunk_alloc(size_t bytes)
{
	size_t cap = (bytes + RPC_CBC_BLOCK - 1) / RPC_CBC_BLOCK *
	    RPC_CBC_BLOCK;
	struct chunk *ch;

	if ((ch = malloc(sizeof(*ch) + cap)) == NULL)
		return NULL;
	ch->next = NULL;
	ch->cap = cap;
	ch->len = 0;
	return ch;
}

/* A frame's worth; the caller builds the payload at chunk_payload. */
static struct chunk *
chunk_new(size_t payload_len)
{
	return chunk_alloc(ref_rpc_frame_len(payload_len));
}

static uint8_t *
chunk_payload(struct chunk *ch)
{
	return ch->data + 8;
}

/* Seal the payload at chunk_payload as out's next frame. */
static int
chunk_seal(struct chunk *ch, struct rpcstream_out *out, size_t payload_len)
{
	return rpcstream_put(out, ch->data, ch->cap, payload_len, &ch->len) ==
	    0 ? 0 : FAKEMP_ERR_ARG;
}

static struct chunk *
chunk_copy(const uint8_t *payload, size_t len)
{
	struct chunk *ch = chunk_new(len);

	if (ch != NULL)
		memcpy(chunk_payload(ch), payload, len);
	return ch;
}

/* ---- incoming frames */

struct stream {
	int fd;
	struct rpcstream_in rx;	/* its cipher: an EVP_CIPHER_CTX */
};

/* The stream after the nonce; it owns dec. */
static int
stream_init(struct stream *s, int fd, EVP_CIPHER_CTX *dec)
{
	s->fd = fd;
	rpcstream_in_init(&s->rx, &ref_rpcstream_ops);
	rpcstream_in_expect(&s->rx, RPC_SEQ_HANDSHAKE, RPC_CRC32);
	return rpcstream_in_decrypt(&s->rx, dec) == 0 ? 0 : FAKEMP_ERR;
}

static void
stream_free(struct stream *s)
{
	EVP_CIPHER_CTX_free(s->rx.cipher);
	rpcstream_in_free(&s->rx);
}

/* The next frame's payload, valid until the next call. */
static int
stream_next(struct stream *s, const uint8_t **p, size_t *len,
    int64_t deadline)
{
	uint8_t *at;
	size_t n;
	int rc;

	while ((rc = rpcstream_in_next(&s->rx, p, len)) == RPC_NEED_MORE) {
		if (rpcstream_in_reserve(&s->rx, READ_CHUNK, &at) != 0)
			return FAKEMP_ERR;
		if ((rc = read_some(s->fd, at, READ_CHUNK, &n, deadline)) != 0)
			return rc;
		if (rpcstream_in_commit(&s->rx, n) != 0)
			return FAKEMP_ERR;
	}
	return rc;
}

/* ---- nonce and keys, both sides */

static int
send_nonce(int fd, int32_t key_select, uint32_t ts,
    const uint8_t nonce[RPC_NONCE_BYTES])
{
	struct chunk *ch;
	int rc;

	if ((ch = chunk_new(RPC_NONCE_LEN)) == NULL)
		return FAKEMP_ERR;
	if ((rc = rpc_nonce_build(key_select, ts, nonce,
	    chunk_payload(ch))) == 0 &&
	    (rc = ref_rpc_seal(RPC_SEQ_NONCE, RPC_CRC32, chunk_payload(ch),
	    RPC_NONCE_LEN, ch->data, ch->cap, &ch->len)) == 0)
		rc = write_all(fd, ch->data, ch->len);
	free(ch);
	return rc;
}

/* The peer's RPC_NONCE frame, read exactly (what follows is encrypted). */
static int
recv_nonce(int fd, int32_t key_select, int64_t deadline,
    struct rpc_nonce *out)
{
	uint8_t buf[NONCE_FRAME_MAX];
	struct rpc_frame f;
	uint32_t len;
	int rc;

	if ((rc = read_exact(fd, buf, 4, deadline)) != 0)
		return rc;
	len = get_u32(buf);
	if (len < RPC_FRAME_MIN_LEN || len > sizeof(buf) || len % 4 != 0)
		return RPC_ERR_FRAME_LEN;
	if ((rc = read_exact(fd, buf + 4, len - 4, deadline)) != 0 ||
	    (rc = ref_rpc_open(buf, len, RPC_CRC32, RPC_SEQ_NONCE,
	    &f)) != 0)
		return rc;
	return rpc_nonce_parse(f.payload, f.payload_len, key_select,
	    (uint32_t)time(NULL), out);
}

/* IPv4 addresses that replace the socket's in the key derivation. */
struct key_ips {
	int has_clt, has_srv;
	uint8_t clt[4], srv[4];
};

static int
key_ips_parse(const char *clt, const char *srv, struct key_ips *out)
{
	memset(out, 0, sizeof(*out));
	if (clt != NULL && inet_pton(AF_INET, clt, out->clt) != 1)
		return FAKEMP_ERR_ARG;
	if (srv != NULL && inet_pton(AF_INET, srv, out->srv) != 1)
		return FAKEMP_ERR_ARG;
	out->has_clt = clt != NULL;
	out->has_srv = srv != NULL;
	return 0;
}

static void
sa_endpoint(const struct sockaddr_storage *ss, struct rpc_endpoint *e)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	memset(e, 0, sizeof(*e));
	if (ss->ss_family == AF_INET6) {
		e->v6 = 1;
		memcpy(e->ip, &sin6->sin6_addr, 16);
		e->port = ntohs(sin6->sin6_port);
	} else {
		memcpy(e->ip, &sin->sin_addr, 4);
		e->port = ntohs(sin->sin_port);
	}
}

/* Both ends of fd as 4.4 names them: clt is the proxy, srv the middle-end. */
static int
link_endpoints(int fd, int server, const struct key_ips *ips,
    struct rpc_endpoint *clt, struct rpc_endpoint *srv)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
		return FAKEMP_ERR;
	sa_endpoint(server ? &peer : &local, clt);
	sa_endpoint(server ? &local : &peer, srv);
	if (ips->has_clt && !clt->v6)
		memcpy(clt->ip, ips->clt, 4);
	if (ips->has_srv && !srv->v6)
		memcpy(srv->ip, ips->srv, 4);
	return 0;
}

/*
 * The two CBC contexts of a link: the proxy writes "CLIENT". Keys by the
 * harness's reference code, so that a derivation bug in src/rpc.c does
 * not cancel out between the daemon and this fake.
 */
static int
link_ciphers(const struct rpc_key_input *in, int server, EVP_CIPHER_CTX **enc,
    EVP_CIPHER_CTX **dec)
{
	uint8_t ck[RPC_KEY_LEN], civ[RPC_IV_LEN], sk[RPC_KEY_LEN],
	    siv[RPC_IV_LEN];
	int rc = FAKEMP_ERR;

	*enc = *dec = NULL;
	if (ref_rpc_keys(in, RPC_PURPOSE_CLIENT, ck, civ) != 0 ||
	    ref_rpc_keys(in, RPC_PURPOSE_SERVER, sk, siv) != 0)
		goto out;
	if (ref_cbc_new(1, server ? sk : ck, server ? siv : civ, enc) != 0 ||
	    ref_cbc_new(0, server ? ck : sk, server ? civ : siv, dec) != 0) {
		EVP_CIPHER_CTX_free(*enc);
		EVP_CIPHER_CTX_free(*dec);
		*enc = *dec = NULL;
		goto out;
	}
	rc = 0;
out:
	crypto_cleanse(ck, sizeof(ck));
	crypto_cleanse(civ, sizeof(civ));
	crypto_cleanse(sk, sizeof(sk));
	crypto_cleanse(siv, sizeof(siv));
	return rc;
}

/* A PID's IP: the host-order IPv4, 0 for IPv6. */
static uint32_t
pid_ip(const struct rpc_endpoint *e)
{
	return e->v6 ? 0 : (uint32_t)e->ip[0] << 24 | (uint32_t)e->ip[1] << 16 |
	    (uint32_t)e->ip[2] << 8 | e->ip[3];
}

/* ---- the fake */

struct link {
	struct fakemp *mp;
	struct link *next;
	uint64_t id;
	int fd;			/* -1 once closed; changed under mp->lock */
	int ready;		/* under mp->lock */
	int dropped;		/* under mp->lock */
	atomic_int done;	/* the reader has finished: reap it */
	pthread_t reader, writer;
	int has_writer;
	struct stream in;	/* the reader's */
	struct rpc_pid pid;	/* ours */
	pthread_mutex_t wlock;	/* the output, all below; after mp->lock */
	pthread_cond_t wcond;
	struct rpcstream_out out;	/* its cipher: an EVP_CIPHER_CTX */
	int closing;
	struct chunk *head, *tail;
};

struct conn_rec {
	struct conn_rec *next;
	uint64_t id;
	struct fakemp_conn info;
};

struct fakemp {
	int family;
	uint16_t port;
	uint8_t secret[RPC_SECRET_MAX];
	size_t secret_len;
	int32_t key_select;
	int crc32_only;
	struct key_ips ips;
	enum fakemp_mode mode;
	uint8_t *source;		/* SOURCE: answer_len bytes */
	size_t answer_len;
	unsigned answer_count;
	int32_t start_time;
	atomic_int stop, fault, pong, time_offset, read_delay_us;
	atomic_int_fast64_t ping_seq;
	atomic_uint_fast64_t ctr[FAKEMP_NCOUNTERS];
	int lfd, evfd;			/* lfd: the accept thread's */
	int acceptor_ok;
	pthread_t acceptor;
	pthread_mutex_t lock;		/* everything below; before wlock */
	pthread_cond_t cv;
	struct link *links;
	uint64_t next_link;
	int listen_want, listen_err;
	uint64_t listen_gen, listen_done;
	struct conn_rec **buckets;
	size_t nbuckets, nconns;
	int has_req, has_link;
	struct fakemp_req last_req;
	struct fakemp_link last_link;
};

static void
count(struct fakemp *mp, enum fakemp_counter which, uint64_t n)
{
	atomic_fetch_add(&mp->ctr[which], n);
}

/*
 * Output is counted before it is queued and uncounted if it could not be:
 * a test that has received it may read the counter at once.
 */
static void
uncount(struct fakemp *mp, enum fakemp_counter which, uint64_t n)
{
	atomic_fetch_sub(&mp->ctr[which], n);
}

/* -- the conn_id table, under mp->lock */

static size_t
bucket(uint64_t id, size_t nbuckets)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (nbuckets - 1);
}

static int
conns_grow(struct fakemp *mp)
{
	size_t n = mp->nbuckets * 4, i;
	struct conn_rec **b, *r;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return FAKEMP_ERR;
	for (i = 0; i < mp->nbuckets; i++)
		while ((r = mp->buckets[i]) != NULL) {
			mp->buckets[i] = r->next;
			r->next = b[bucket(r->id, n)];
			b[bucket(r->id, n)] = r;
		}
	free(mp->buckets);
	mp->buckets = b;
	mp->nbuckets = n;
	return 0;
}

static struct conn_rec *
conn_find(struct fakemp *mp, uint64_t id, int create)
{
	struct conn_rec *r;
	size_t i = bucket(id, mp->nbuckets);

	for (r = mp->buckets[i]; r != NULL; r = r->next)
		if (r->id == id)
			return r;
	if (!create || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->id = id;
	r->next = mp->buckets[i];
	mp->buckets[i] = r;
	count(mp, FAKEMP_CONNS, 1);
	/* Growing is best effort: long chains are only slower. */
	if (++mp->nconns > mp->nbuckets * 2)
		(void)conns_grow(mp);
	return r;
}

static void
conns_free(struct fakemp *mp)
{
	struct conn_rec *r;
	size_t i;

	for (i = 0; mp->buckets != NULL && i < mp->nbuckets; i++)
		while ((r = mp->buckets[i]) != NULL) {
			mp->buckets[i] = r->next;
			free(r);
		}
	free(mp->buckets);
}

/* -- a link's output */

/* Seal ch as the link's next frame and queue it; ch is consumed. */
static int
link_queue(struct link *l, struct chunk *ch, size_t payload_len)
{
	int rc = FAKEMP_ERR_NOLINK;

	pthread_mutex_lock(&l->wlock);
	if (!l->closing && (rc = chunk_seal(ch, &l->out, payload_len)) == 0) {
		if (l->tail != NULL)
			l->tail->next = ch;
		else
			l->head = ch;
		l->tail = ch;
		pthread_cond_signal(&l->wcond);
		ch = NULL;
	}
	pthread_mutex_unlock(&l->wlock);
	free(ch);
	return rc;
}

static int
link_send(struct link *l, const uint8_t *payload, size_t len)
{
	struct chunk *ch = chunk_copy(payload, len);

	return ch == NULL ? FAKEMP_ERR : link_queue(l, ch, len);
}

static int
link_send_ans(struct link *l, uint64_t conn_id, uint32_t flags,
    const uint8_t *data, size_t len)
{
	struct chunk *ch = chunk_new(RPC_PROXY_ANS_HDR_LEN + len);
	size_t n;
	int rc;

	if (ch == NULL)
		return FAKEMP_ERR;
	if (rpc_proxy_ans_build(flags, conn_id, data, len, chunk_payload(ch),
	    RPC_PROXY_ANS_HDR_LEN + len, &n) != 0) {
		free(ch);
		return FAKEMP_ERR_ARG;
	}
	count(l->mp, FAKEMP_ANS, 1);
	count(l->mp, FAKEMP_ANS_BYTES, len);
	if ((rc = link_queue(l, ch, n)) != 0) {
		uncount(l->mp, FAKEMP_ANS, 1);
		uncount(l->mp, FAKEMP_ANS_BYTES, len);
	}
	return rc;
}

static void *
link_writer(void *arg)
{
	struct link *l = arg;
	struct chunk *ch;
	int rc = 0;

	while (rc == 0) {
		pthread_mutex_lock(&l->wlock);
		while (l->head == NULL && !l->closing)
			pthread_cond_wait(&l->wcond, &l->wlock);
		ch = l->closing ? NULL : l->head;
		if (ch != NULL && (l->head = ch->next) == NULL)
			l->tail = NULL;
		pthread_mutex_unlock(&l->wlock);
		if (ch == NULL)
			break;
		rc = write_all(l->fd, ch->data, ch->len);
		free(ch);
	}
	if (rc != 0) {
		/* Refuse more output and wake the reader. */
		pthread_mutex_lock(&l->wlock);
		l->closing = 1;
		pthread_mutex_unlock(&l->wlock);
		shutdown(l->fd, SHUT_RDWR);
	}
	return NULL;
}

/* -- records */

static int
record_req(struct link *l, const struct rpc_proxy_req_info *r)
{
	struct fakemp *mp = l->mp;
	struct fakemp_req *q = &mp->last_req;
	struct conn_rec *c;

	pthread_mutex_lock(&mp->lock);
	if ((c = conn_find(mp, r->conn_id, 1)) != NULL) {
		c->info.reqs++;
		c->info.bytes += r->msg_len;
		c->info.link = l->id;
		c->info.last_flags = r->flags;
	}
	memset(q, 0, sizeof(*q));
	q->flags = r->flags;
	q->conn_id = r->conn_id;
	q->client = r->client;
	q->ours = r->ours;
	q->has_ad_tag = r->ad_tag != NULL;
	q->ad_tag_len = r->ad_tag_len;
	if (r->ad_tag != NULL)
		memcpy(q->ad_tag, r->ad_tag, r->ad_tag_len < FAKEMP_TAG_MAX ?
		    r->ad_tag_len : FAKEMP_TAG_MAX);
	q->msg_len = r->msg_len;
	q->link = l->id;
	mp->has_req = 1;
	pthread_mutex_unlock(&mp->lock);
	return c == NULL ? FAKEMP_ERR : 0;
}

/* -- what the proxy sends */

static int
on_proxy_req(struct link *l, const uint8_t *p, size_t len)
{
	struct fakemp *mp = l->mp;
	struct rpc_proxy_req_info r;
	unsigned i;
	int rc;

	if ((rc = rpc_proxy_req_parse(p, len, &r)) != 0 ||
	    (rc = record_req(l, &r)) != 0)
		return rc;
	count(mp, FAKEMP_REQS, 1);
	count(mp, FAKEMP_REQ_BYTES, r.msg_len);
	switch (mp->mode) {
	case FAKEMP_ECHO:
		return link_send_ans(l, r.conn_id, 0, r.msg, r.msg_len);
	case FAKEMP_SOURCE:
		for (i = 0; i < mp->answer_count && rc == 0; i++)
			rc = link_send_ans(l, r.conn_id, 0, mp->source,
			    mp->answer_len);
		return rc;
	case FAKEMP_SINK:
		break;
	}
	return 0;
}

static int
on_close_conn(struct link *l, const uint8_t *p, size_t len)
{
	struct fakemp *mp = l->mp;
	struct conn_rec *c;
	uint64_t id;
	int rc;

	if ((rc = rpc_close_conn_parse(p, len, &id)) != 0)
		return rc;
	pthread_mutex_lock(&mp->lock);
	if ((c = conn_find(mp, id, 1)) != NULL)
		c->info.close_conns++;
	pthread_mutex_unlock(&mp->lock);
	count(mp, FAKEMP_CLOSE_CONNS, 1);
	return c == NULL ? FAKEMP_ERR : 0;
}

static int
on_ping(struct link *l, const uint8_t *p, size_t len)
{
	uint8_t pong[RPC_PING_LEN];
	int64_t id;
	int rc;

	if ((rc = rpc_ping_parse(RPC_PING, p, len, &id)) != 0)
		return rc;
	count(l->mp, FAKEMP_PINGS_IN, 1);
	if (!atomic_load(&l->mp->pong))
		return 0;
	if ((rc = rpc_ping_build(RPC_PONG, id, pong)) != 0)
		return rc;
	count(l->mp, FAKEMP_PONGS_OUT, 1);
	if ((rc = link_send(l, pong, sizeof(pong))) != 0)
		uncount(l->mp, FAKEMP_PONGS_OUT, 1);
	return rc;
}

static int
on_pong(struct link *l, const uint8_t *p, size_t len)
{
	int64_t id;
	int rc;

	if ((rc = rpc_ping_parse(RPC_PONG, p, len, &id)) != 0)
		return rc;
	count(l->mp, id >= 1 && id <= atomic_load(&l->mp->ping_seq) ?
	    FAKEMP_PONGS_IN : FAKEMP_BAD_PONGS, 1);
	return 0;
}

static int
link_dispatch(struct link *l, const uint8_t *p, size_t len)
{
	switch (get_u32(p)) {
	case RPC_PROXY_REQ:
		return on_proxy_req(l, p, len);
	case RPC_CLOSE_CONN:
		return on_close_conn(l, p, len);
	case RPC_PING:
		return on_ping(l, p, len);
	case RPC_PONG:
		return on_pong(l, p, len);
	}
	return RPC_ERR_UNKNOWN;
}

/* -- a link's life, on its reader thread */

static void
count_nonce_error(struct fakemp *mp, int rc)
{
	if (rc == FAKEMP_ERR_CLOSED || rc == FAKEMP_ERR)
		return;
	count(mp, rc == RPC_ERR_KEY_SELECT ? FAKEMP_BAD_KEY_SELECT :
	    rc == RPC_ERR_CLOCK_SKEW ? FAKEMP_CLOCK_SKEW : FAKEMP_BAD_NONCE, 1);
}

static void
count_link_error(struct fakemp *mp, int rc)
{
	if (rc == FAKEMP_ERR_CLOSED || rc == FAKEMP_ERR ||
	    rc == FAKEMP_ERR_NOLINK)
		return;
	count(mp, rc == RPC_ERR_CRC ? FAKEMP_BAD_CRC :
	    rc == RPC_ERR_SEQ ? FAKEMP_BAD_SEQ : FAKEMP_BAD_FRAMES, 1);
}

/* Send the handshake frame (reply or refusal) ahead of the writer. */
static int
link_send_now(struct link *l, const uint8_t *payload, size_t len)
{
	struct chunk *ch = chunk_copy(payload, len);
	int rc;

	if (ch == NULL)
		return FAKEMP_ERR;
	if ((rc = chunk_seal(ch, &l->out, len)) == 0)
		rc = write_all(l->fd, ch->data, ch->len);
	free(ch);
	return rc;
}

/* Check the proxy's RPC_HANDSHAKE and answer it, as the fault says. */
static int
link_reply(struct link *l, enum fakemp_fault fault, struct fakemp_link *info)
{
	struct fakemp *mp = l->mp;
	uint8_t out[RPC_HANDSHAKE_LEN];
	struct rpc_pid peer;
	const uint8_t *p;
	size_t len;
	int rc;

	if ((rc = stream_next(&l->in, &p, &len, -1)) != 0 ||
	    (rc = rpc_handshake_parse(p, len, &info->hs)) != 0 ||
	    (rc = rpc_handshake_check(&info->hs, &l->pid,
	    mp->crc32_only ? 0 : RPC_FLAG_CRC32C, &info->crc)) != 0) {
		if (rc != FAKEMP_ERR_CLOSED && rc != FAKEMP_ERR)
			count(mp, FAKEMP_BAD_HANDSHAKE, 1);
		return rc;
	}
	if (fault == FAKEMP_FAULT_HS_ERROR) {
		if ((rc = rpc_handshake_error_build(HS_ERROR_CODE, &l->pid,
		    out)) == 0)
			rc = link_send_now(l, out, RPC_HANDSHAKE_ERROR_LEN);
		return rc == 0 ? FAKEMP_ERR_CLOSED : rc;
	}
	peer = info->hs.sender;
	if (fault == FAKEMP_FAULT_PEER_PID)
		peer.port = (uint16_t)(peer.port % 65535 + 1);
	if ((rc = rpc_handshake_build(info->crc == RPC_CRC32C ?
	    RPC_FLAG_CRC32C : 0, &l->pid, &peer, out)) != 0)
		return rc;
	return link_send_now(l, out, sizeof(out));
}

/* FAKEMP_FAULT_STALL: take what comes, answer nothing, until the close. */
static int
link_stall(struct link *l)
{
	uint8_t sink[256];
	size_t n;
	int rc;

	while ((rc = read_some(l->fd, sink, sizeof(sink), &n, -1)) == 0)
		;
	return rc;
}

/* The proxy's nonce, ours, the keys, the handshake. */
static int
link_handshake(struct link *l, struct fakemp_link *info)
{
	struct fakemp *mp = l->mp;
	enum fakemp_fault fault = (enum fakemp_fault)atomic_load(&mp->fault);
	struct rpc_key_input in;
	struct rpc_nonce theirs;
	EVP_CIPHER_CTX *enc, *dec;
	int32_t ks = mp->key_select;
	uint32_t ts;
	int rc;

	if ((rc = recv_nonce(l->fd, ks, -1, &theirs)) != 0) {
		count_nonce_error(mp, rc);
		return rc;
	}
	if (fault == FAKEMP_FAULT_STALL)
		return link_stall(l);
	if (fault == FAKEMP_FAULT_KEY_SELECT)
		ks = (int32_t)((uint32_t)ks + 1);
	memset(&in, 0, sizeof(in));
	memcpy(in.nonce_clt, theirs.nonce, RPC_NONCE_BYTES);
	in.clt_ts = theirs.ts;
	in.secret = mp->secret;
	in.secret_len = mp->secret_len;
	ts = (uint32_t)((int64_t)time(NULL) + atomic_load(&mp->time_offset));
	if (crypto_random(in.nonce_srv, RPC_NONCE_BYTES) != 0)
		return FAKEMP_ERR;
	if ((rc = send_nonce(l->fd, ks, ts, in.nonce_srv)) != 0 ||
	    (rc = link_endpoints(l->fd, 1, &mp->ips, &in.clt, &in.srv)) != 0 ||
	    (rc = link_ciphers(&in, 1, &enc, &dec)) != 0)
		return rc;
	l->out.cipher = enc;
	l->out.seq = RPC_SEQ_HANDSHAKE;
	l->out.crc = RPC_CRC32;
	if ((rc = stream_init(&l->in, l->fd, dec)) != 0 ||
	    (rc = link_reply(l, fault, info)) != 0)
		return rc;
	info->id = l->id;
	info->clt_ts = theirs.ts;
	info->clt = in.clt;
	info->srv = in.srv;
	l->out.crc = info->crc;
	l->out.seq = 0;
	rpcstream_in_expect(&l->in.rx, 0, info->crc);
	return 0;
}

static void
link_set_ready(struct link *l, int on, const struct fakemp_link *info)
{
	struct fakemp *mp = l->mp;

	pthread_mutex_lock(&mp->lock);
	l->ready = on;
	if (on) {
		mp->last_link = *info;
		mp->has_link = 1;
	}
	pthread_mutex_unlock(&mp->lock);
	if (!on) {
		uncount(mp, FAKEMP_READY, 1);
		return;
	}
	/* READY last: a test that waits for it may read the others. */
	count(mp, FAKEMP_HANDSHAKES, 1);
	if (info->crc == RPC_CRC32C)
		count(mp, FAKEMP_CRC32C_LINKS, 1);
	count(mp, FAKEMP_READY, 1);
}

/* Stop the writer, drop what it had not sent, close. */
static void
link_end(struct link *l)
{
	struct fakemp *mp = l->mp;

	pthread_mutex_lock(&l->wlock);
	l->closing = 1;
	pthread_cond_signal(&l->wcond);
	pthread_mutex_unlock(&l->wlock);
	/* Wakes a writer blocked on a peer that does not read. */
	shutdown(l->fd, SHUT_RDWR);
	if (l->has_writer)
		pthread_join(l->writer, NULL);
	pthread_mutex_lock(&mp->lock);
	close(l->fd);
	l->fd = -1;
	pthread_mutex_unlock(&mp->lock);
	uncount(mp, FAKEMP_OPEN, 1);
	atomic_store(&l->done, 1);
}

/* A middle proxy slow to take frames: see fakemp_set_read_delay. */
static void
read_delay(struct fakemp *mp)
{
	int us = atomic_load(&mp->read_delay_us);
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	if (us > 0)
		nanosleep(&ts, NULL);
}

static void *
link_main(void *arg)
{
	struct link *l = arg;
	struct fakemp_link info;
	const uint8_t *p;
	size_t len;
	int rc;

	memset(&info, 0, sizeof(info));
	if (link_handshake(l, &info) == 0 &&
	    pthread_create(&l->writer, NULL, link_writer, l) == 0) {
		l->has_writer = 1;
		link_set_ready(l, 1, &info);
		while ((rc = stream_next(&l->in, &p, &len, -1)) == 0 &&
		    (rc = link_dispatch(l, p, len)) == 0)
			read_delay(l->mp);
		count_link_error(l->mp, rc);
		link_set_ready(l, 0, NULL);
	}
	link_end(l);
	crypto_thread_end();
	return NULL;
}

static void
link_free(struct link *l)
{
	struct chunk *ch;

	while ((ch = l->head) != NULL) {
		l->head = ch->next;
		free(ch);
	}
	stream_free(&l->in);
	EVP_CIPHER_CTX_free(l->out.cipher);
	pthread_mutex_destroy(&l->wlock);
	pthread_cond_destroy(&l->wcond);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

/* -- the accept thread */

static struct link *
link_new(struct fakemp *mp, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct rpc_endpoint local;
	struct link *l;
	int one = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sa_endpoint(&ss, &local);
	l->mp = mp;
	l->fd = fd;
	l->out.ops = &ref_rpcstream_ops;
	/* What the proxy names as its peer: our address and port. */
	l->pid.ip = pid_ip(&local);
	l->pid.port = mp->port;
	l->pid.pid = (uint16_t)getpid();
	l->pid.utime = mp->start_time;
	atomic_init(&l->done, 0);
	pthread_mutex_init(&l->wlock, NULL);
	pthread_cond_init(&l->wcond, NULL);
	return l;
}

static void
accept_one(struct fakemp *mp)
{
	struct link *l;
	int fd;

	if ((fd = accept4(mp->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	count(mp, FAKEMP_ACCEPTED, 1);
	if (atomic_load(&mp->fault) == FAKEMP_FAULT_REFUSE) {
		count(mp, FAKEMP_REFUSED, 1);
		close(fd);
		return;
	}
	if ((l = link_new(mp, fd)) == NULL) {
		close(fd);
		count(mp, FAKEMP_ACCEPT_ERRORS, 1);
		return;
	}
	pthread_mutex_lock(&mp->lock);
	l->id = ++mp->next_link;
	count(mp, FAKEMP_OPEN, 1);
	if (pthread_create(&l->reader, NULL, link_main, l) != 0) {
		pthread_mutex_unlock(&mp->lock);
		uncount(mp, FAKEMP_OPEN, 1);
		count(mp, FAKEMP_ACCEPT_ERRORS, 1);
		link_free(l);
		return;
	}
	l->next = mp->links;
	mp->links = l;
	pthread_mutex_unlock(&mp->lock);
}

/* Join and free the links whose reader has finished. */
static void
reap(struct fakemp *mp)
{
	struct link **pp, *l, *dead = NULL;

	pthread_mutex_lock(&mp->lock);
	for (pp = &mp->links; (l = *pp) != NULL;) {
		if (atomic_load(&l->done)) {
			*pp = l->next;
			l->next = dead;
			dead = l;
		} else
			pp = &l->next;
	}
	pthread_mutex_unlock(&mp->lock);
	while ((l = dead) != NULL) {
		dead = l->next;
		pthread_join(l->reader, NULL);
		link_free(l);
	}
}

static int
listen_on(int family, uint16_t port, int *fd_out, uint16_t *port_out)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FAKEMP_ERR;
	if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &one, sizeof(one)) != 0) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    listen(fd, BACKLOG) != 0) {
		close(fd);
		return FAKEMP_ERR;
	}
	*port_out = ntohs(family == AF_INET ? sin->sin_port : sin6->sin6_port);
	*fd_out = fd;
	return 0;
}

/* fakemp_set_listening's request, carried out where lfd is used. */
static void
listener_apply(struct fakemp *mp)
{
	uint64_t gen;
	uint16_t port;
	int want, rc = 0;

	pthread_mutex_lock(&mp->lock);
	want = mp->listen_want;
	gen = mp->listen_gen;
	pthread_mutex_unlock(&mp->lock);
	if (!want && mp->lfd >= 0) {
		close(mp->lfd);
		mp->lfd = -1;
	} else if (want && mp->lfd < 0)
		rc = listen_on(mp->family, mp->port, &mp->lfd, &port);
	pthread_mutex_lock(&mp->lock);
	mp->listen_err = rc;
	mp->listen_done = gen;
	pthread_cond_broadcast(&mp->cv);
	pthread_mutex_unlock(&mp->lock);
}

static void *
accept_main(void *arg)
{
	struct fakemp *mp = arg;
	struct pollfd p[2];
	uint64_t v;
	int n;

	while (!atomic_load(&mp->stop)) {
		p[0].fd = mp->evfd;
		p[1].fd = mp->lfd;	/* poll skips it while it is -1 */
		p[0].events = p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		n = poll(p, 2, TICK_MS);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[0].revents & POLLIN)) {
			if (read(mp->evfd, &v, sizeof(v)) > 0)
				listener_apply(mp);
		} else if (n > 0 && (p[1].revents & POLLIN))
			accept_one(mp);
		reap(mp);
	}
	return NULL;
}

static void
wake(struct fakemp *mp)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: it is awake anyway. */
	(void)!write(mp->evfd, &one, sizeof(one));
}

/* -- start and stop */

static int
valid_opts(const struct fakemp_opts *o)
{
	if ((o->family != AF_INET && o->family != AF_INET6) ||
	    o->secret == NULL || o->secret_len < RPC_SECRET_MIN ||
	    o->secret_len > RPC_SECRET_MAX)
		return 0;
	switch (o->mode) {
	case FAKEMP_ECHO:
	case FAKEMP_SINK:
		return 1;
	case FAKEMP_SOURCE:
		return o->answer_len >= 4 && o->answer_len % 4 == 0 &&
		    o->answer_len <= FRAME_MAX_LEN && o->answer_count > 0;
	}
	return 0;
}

static void
mp_free(struct fakemp *mp)
{
	if (mp->lfd >= 0)
		close(mp->lfd);
	if (mp->evfd >= 0)
		close(mp->evfd);
	conns_free(mp);
	free(mp->source);
	crypto_cleanse(mp->secret, sizeof(mp->secret));
	pthread_mutex_destroy(&mp->lock);
	pthread_cond_destroy(&mp->cv);
	free(mp);
}

/* SOURCE answers: any bytes do, a pattern is easier to check. */
static int
source_fill(struct fakemp *mp, const struct fakemp_opts *o)
{
	size_t i;

	if (o->mode != FAKEMP_SOURCE)
		return 0;
	if ((mp->source = malloc(o->answer_len)) == NULL)
		return FAKEMP_ERR;
	for (i = 0; i < o->answer_len; i++)
		mp->source[i] = (uint8_t)(i * 7 + 1);
	mp->answer_len = o->answer_len;
	mp->answer_count = o->answer_count;
	return 0;
}

int
fakemp_start(const struct fakemp_opts *o, struct fakemp **out)
{
	struct fakemp *mp;
	int rc, i;

	if (o == NULL || out == NULL || !valid_opts(o))
		return FAKEMP_ERR_ARG;
	if ((mp = calloc(1, sizeof(*mp))) == NULL)
		return FAKEMP_ERR;
	mp->lfd = mp->evfd = -1;
	if (deadline_cond_init(&mp->cv) != 0) {
		free(mp);
		return FAKEMP_ERR;
	}
	pthread_mutex_init(&mp->lock, NULL);
	atomic_init(&mp->stop, 0);
	atomic_init(&mp->fault, FAKEMP_FAULT_NONE);
	atomic_init(&mp->pong, 1);
	atomic_init(&mp->read_delay_us, 0);
	atomic_init(&mp->time_offset, o->time_offset);
	atomic_init(&mp->ping_seq, 0);
	for (i = 0; i < FAKEMP_NCOUNTERS; i++)
		atomic_init(&mp->ctr[i], 0);
	mp->family = o->family;
	memcpy(mp->secret, o->secret, o->secret_len);
	mp->secret_len = o->secret_len;
	mp->crc32_only = o->crc32_only;
	mp->mode = o->mode;
	mp->start_time = (int32_t)time(NULL);
	mp->listen_want = 1;
	mp->nbuckets = BUCKETS_MIN;
	if ((rc = rpc_key_select(mp->secret, mp->secret_len,
	    &mp->key_select)) != 0 ||
	    (rc = key_ips_parse(o->key_clt_ip, o->key_srv_ip, &mp->ips)) != 0) {
		rc = FAKEMP_ERR_ARG;
		goto fail;
	}
	if ((rc = source_fill(mp, o)) != 0 ||
	    (rc = listen_on(o->family, o->port, &mp->lfd, &mp->port)) != 0)
		goto fail;
	rc = FAKEMP_ERR;
	if ((mp->buckets = calloc(mp->nbuckets, sizeof(*mp->buckets))) ==
	    NULL ||
	    (mp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (errno = pthread_create(&mp->acceptor, NULL, accept_main,
	    mp)) != 0)
		goto fail;
	*out = mp;
	return 0;
fail:
	mp_free(mp);
	return rc;
}

void
fakemp_stop(struct fakemp *mp)
{
	struct link *l;

	if (mp == NULL)
		return;
	atomic_store(&mp->stop, 1);
	wake(mp);
	pthread_join(mp->acceptor, NULL);
	pthread_mutex_lock(&mp->lock);
	for (l = mp->links; l != NULL; l = l->next)
		if (l->fd >= 0)
			shutdown(l->fd, SHUT_RDWR);
	pthread_mutex_unlock(&mp->lock);
	for (;;) {
		pthread_mutex_lock(&mp->lock);
		if ((l = mp->links) != NULL)
			mp->links = l->next;
		pthread_mutex_unlock(&mp->lock);
		if (l == NULL)
			break;
		pthread_join(l->reader, NULL);
		link_free(l);
	}
	mp_free(mp);
}

uint16_t
fakemp_port(const struct fakemp *mp)
{
	return mp->port;
}

uint64_t
fakemp_counter(const struct fakemp *mp, enum fakemp_counter which)
{
	if (which < 0 || which >= FAKEMP_NCOUNTERS)
		return 0;
	return atomic_load(&mp->ctr[which]);
}

int
fakemp_wait(const struct fakemp *mp, enum fakemp_counter which,
    uint64_t value, int timeout_ms)
{
	const struct timespec tick = { 0, 2 * 1000 * 1000 };
	int64_t deadline = tclock_now_ms() + timeout_ms;
	int gauge = which == FAKEMP_OPEN || which == FAKEMP_READY;
	uint64_t v;

	for (;;) {
		v = fakemp_counter(mp, which);
		if (gauge ? v == value : v >= value)
			return 0;
		if (tclock_now_ms() >= deadline)
			return FAKEMP_ERR_TIMEOUT;
		nanosleep(&tick, NULL);
	}
}

/* -- records and controls */

int
fakemp_conn_info(struct fakemp *mp, uint64_t conn_id,
    struct fakemp_conn *out)
{
	struct conn_rec *c;

	if (mp == NULL || out == NULL)
		return FAKEMP_ERR_ARG;
	pthread_mutex_lock(&mp->lock);
	if ((c = conn_find(mp, conn_id, 0)) != NULL)
		*out = c->info;
	pthread_mutex_unlock(&mp->lock);
	return c != NULL ? 0 : FAKEMP_ERR_UNKNOWN;
}

int
fakemp_last_req(struct fakemp *mp, struct fakemp_req *out)
{
	int has;

	if (mp == NULL || out == NULL)
		return FAKEMP_ERR_ARG;
	pthread_mutex_lock(&mp->lock);
	if ((has = mp->has_req))
		*out = mp->last_req;
	pthread_mutex_unlock(&mp->lock);
	return has ? 0 : FAKEMP_ERR_UNKNOWN;
}

int
fakemp_last_link(struct fakemp *mp, struct fakemp_link *out)
{
	int has;

	if (mp == NULL || out == NULL)
		return FAKEMP_ERR_ARG;
	pthread_mutex_lock(&mp->lock);
	if ((has = mp->has_link))
		*out = mp->last_link;
	pthread_mutex_unlock(&mp->lock);
	return has ? 0 : FAKEMP_ERR_UNKNOWN;
}

/* A ready link by id, any ready one for 0 (ids start at 1); mp->lock held. */
static struct link *
ready_link(struct fakemp *mp, uint64_t id)
{
	struct link *l;

	for (l = mp->links; l != NULL; l = l->next)
		if (l->ready && (id == 0 || l->id == id))
			return l;
	return NULL;
}

/*
 * Queue ch on the link of conn_id's last request or, with any set, on any
 * ready link for a conn_id never seen. ch is consumed.
 */
static int
send_for_conn(struct fakemp *mp, uint64_t conn_id, int any,
    struct chunk *ch, size_t len)
{
	struct conn_rec *c;
	struct link *l = NULL;
	int rc = FAKEMP_ERR_NOLINK;

	pthread_mutex_lock(&mp->lock);
	if ((c = conn_find(mp, conn_id, 0)) != NULL)
		l = ready_link(mp, c->info.link);
	else if (any)
		l = ready_link(mp, 0);
	if (l != NULL) {
		rc = link_queue(l, ch, len);
		ch = NULL;
	}
	pthread_mutex_unlock(&mp->lock);
	free(ch);
	return rc;
}

int
fakemp_simple_ack(struct fakemp *mp, uint64_t conn_id, uint32_t confirm)
{
	struct chunk *ch;
	int rc;

	if (mp == NULL)
		return FAKEMP_ERR_ARG;
	if ((ch = chunk_new(RPC_SIMPLE_ACK_LEN)) == NULL)
		return FAKEMP_ERR;
	(void)rpc_simple_ack_build(conn_id, confirm, chunk_payload(ch));
	count(mp, FAKEMP_ACKS_OUT, 1);
	if ((rc = send_for_conn(mp, conn_id, 0, ch, RPC_SIMPLE_ACK_LEN)) != 0)
		uncount(mp, FAKEMP_ACKS_OUT, 1);
	return rc;
}

int
fakemp_close_ext(struct fakemp *mp, uint64_t conn_id)
{
	struct chunk *ch;
	int rc;

	if (mp == NULL)
		return FAKEMP_ERR_ARG;
	if ((ch = chunk_new(RPC_CLOSE_LEN)) == NULL)
		return FAKEMP_ERR;
	(void)rpc_close_ext_build(conn_id, chunk_payload(ch));
	count(mp, FAKEMP_CLOSE_EXTS_OUT, 1);
	if ((rc = send_for_conn(mp, conn_id, 0, ch, RPC_CLOSE_LEN)) != 0)
		uncount(mp, FAKEMP_CLOSE_EXTS_OUT, 1);
	return rc;
}

int
fakemp_answer(struct fakemp *mp, uint64_t conn_id, uint32_t flags,
    const uint8_t *data, size_t len)
{
	struct chunk *ch;
	size_t n;
	int rc;

	if (mp == NULL || (data == NULL && len > 0) || len % 4 != 0 ||
	    len > FRAME_MAX_LEN)
		return FAKEMP_ERR_ARG;
	if ((ch = chunk_new(RPC_PROXY_ANS_HDR_LEN + len)) == NULL)
		return FAKEMP_ERR;
	(void)rpc_proxy_ans_build(flags, conn_id, data, len,
	    chunk_payload(ch), RPC_PROXY_ANS_HDR_LEN + len, &n);
	count(mp, FAKEMP_ANS, 1);
	count(mp, FAKEMP_ANS_BYTES, len);
	if ((rc = send_for_conn(mp, conn_id, 1, ch, n)) != 0) {
		uncount(mp, FAKEMP_ANS, 1);
		uncount(mp, FAKEMP_ANS_BYTES, len);
	}
	return rc;
}

int
fakemp_ping_all(struct fakemp *mp, unsigned *n)
{
	uint8_t ping[RPC_PING_LEN];
	struct link *l;
	int rc = 0;

	if (mp == NULL || n == NULL)
		return FAKEMP_ERR_ARG;
	*n = 0;
	pthread_mutex_lock(&mp->lock);
	for (l = mp->links; l != NULL && rc == 0; l = l->next) {
		if (!l->ready)
			continue;
		(void)rpc_ping_build(RPC_PING,
		    atomic_fetch_add(&mp->ping_seq, 1) + 1, ping);
		count(mp, FAKEMP_PINGS_OUT, 1);
		if ((rc = link_send(l, ping, sizeof(ping))) == 0) {
			(*n)++;
			continue;
		}
		uncount(mp, FAKEMP_PINGS_OUT, 1);
		if (rc == FAKEMP_ERR_NOLINK)
			rc = 0;		/* going down as we speak */
	}
	pthread_mutex_unlock(&mp->lock);
	return rc;
}

void
fakemp_drop_all(struct fakemp *mp)
{
	struct link *l;

	pthread_mutex_lock(&mp->lock);
	for (l = mp->links; l != NULL; l = l->next)
		if (l->fd >= 0 && !l->dropped) {
			shutdown(l->fd, SHUT_RDWR);
			l->dropped = 1;
			count(mp, FAKEMP_DROPPED, 1);
		}
	pthread_mutex_unlock(&mp->lock);
}

void
fakemp_set_read_delay(struct fakemp *mp, int us)
{
	atomic_store(&mp->read_delay_us, us > 0 ? us : 0);
}

void
fakemp_set_pong(struct fakemp *mp, int on)
{
	atomic_store(&mp->pong, on != 0);
}

void
fakemp_set_fault(struct fakemp *mp, enum fakemp_fault f)
{
	atomic_store(&mp->fault, (int)f);
}

void
fakemp_set_time_offset(struct fakemp *mp, int32_t seconds)
{
	atomic_store(&mp->time_offset, seconds);
}

int
fakemp_set_listening(struct fakemp *mp, int on)
{
	struct timespec until;
	uint64_t gen;
	int rc = 0;

	deadline_after(LISTEN_WAIT_S * 1000, &until);
	pthread_mutex_lock(&mp->lock);
	mp->listen_want = on != 0;
	gen = ++mp->listen_gen;
	pthread_mutex_unlock(&mp->lock);
	wake(mp);
	pthread_mutex_lock(&mp->lock);
	while (mp->listen_done < gen && rc == 0)
		if (pthread_cond_timedwait(&mp->cv, &mp->lock, &until) ==
		    ETIMEDOUT)
			rc = FAKEMP_ERR_TIMEOUT;
	if (mp->listen_done >= gen)
		rc = mp->listen_err;
	pthread_mutex_unlock(&mp->lock);
	return rc;
}

/* ---- the proxy's side */

struct fakemp_client {
	int fd;
	struct rpcstream_out out;	/* its cipher: an EVP_CIPHER_CTX */
	struct stream in;
	struct rpc_handshake ours, reply;
};

static int
client_dial(const struct fakemp_client_opts *o, int *fd_out)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (o->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(o->port);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(o->port);
		len = sizeof(*sin6);
	}
	if ((fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return FAKEMP_ERR;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		int e = errno;

		close(fd);
		errno = e;	/* ECONNREFUSED is what tests look for */
		return FAKEMP_ERR;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fd_out = fd;
	return 0;
}

/*
 * Our PIDs as the proxy fills them (4.5): we are {our address, our port,
 * pid, start time}; the peer is {its address, 0 for 127.0.0.1, its port}.
 */
static void
client_pids(const struct fakemp_client_opts *o, int fd,
    struct rpc_pid *ours, struct rpc_pid *peer)
{
	struct sockaddr_storage local, remote;
	socklen_t llen = sizeof(local), rlen = sizeof(remote);
	struct rpc_endpoint l, r;

	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		sa_endpoint(&local, &l);
	if (getpeername(fd, (struct sockaddr *)&remote, &rlen) == 0)
		sa_endpoint(&remote, &r);
	ours->ip = pid_ip(&l);
	ours->port = l.port;
	ours->pid = (uint16_t)getpid();
	ours->utime = (int32_t)time(NULL);
	peer->ip = pid_ip(&r) == INADDR_LOOPBACK ? 0 : pid_ip(&r);
	peer->port = r.port;
	peer->pid = 0;
	peer->utime = 0;
	if (o->bad_peer_pid)
		peer->port = (uint16_t)(peer->port % 65535 + 1);
}

static int
client_handshake(struct fakemp_client *c, const struct fakemp_client_opts *o,
    int64_t deadline)
{
	struct rpc_key_input in;
	struct rpc_nonce theirs;
	struct key_ips ips;
	struct chunk *ch;
	EVP_CIPHER_CTX *enc, *dec;
	const uint8_t *p;
	size_t len;
	int32_t ks;
	int rc;

	memset(&in, 0, sizeof(in));
	if ((rc = rpc_key_select(o->secret, o->secret_len, &ks)) != 0 ||
	    (rc = key_ips_parse(o->key_clt_ip, o->key_srv_ip, &ips)) != 0)
		return FAKEMP_ERR_ARG;
	in.secret = o->secret;
	in.secret_len = o->secret_len;
	in.clt_ts = (uint32_t)((int64_t)time(NULL) + o->time_offset);
	if (crypto_random(in.nonce_clt, RPC_NONCE_BYTES) != 0)
		return FAKEMP_ERR;
	if ((rc = send_nonce(c->fd, o->key_select != 0 ? o->key_select : ks,
	    in.clt_ts, in.nonce_clt)) != 0 ||
	    (rc = recv_nonce(c->fd, ks, deadline, &theirs)) != 0)
		return rc;
	memcpy(in.nonce_srv, theirs.nonce, RPC_NONCE_BYTES);
	if ((rc = link_endpoints(c->fd, 0, &ips, &in.clt, &in.srv)) != 0 ||
	    (rc = link_ciphers(&in, 0, &enc, &dec)) != 0)
		return rc;
	c->out.cipher = enc;
	c->out.seq = RPC_SEQ_HANDSHAKE;
	c->out.crc = RPC_CRC32;
	if ((rc = stream_init(&c->in, c->fd, dec)) != 0)
		return rc;
	client_pids(o, c->fd, &c->ours.sender, &c->ours.peer);
	c->ours.flags = o->flags;
	if ((ch = chunk_new(RPC_HANDSHAKE_LEN)) == NULL)
		return FAKEMP_ERR;
	if ((rc = rpc_handshake_build(o->flags, &c->ours.sender,
	    &c->ours.peer, chunk_payload(ch))) == 0 &&
	    (rc = chunk_seal(ch, &c->out, RPC_HANDSHAKE_LEN)) == 0)
		rc = write_all(c->fd, ch->data, ch->len);
	free(ch);
	if (rc != 0 ||
	    (rc = stream_next(&c->in, &p, &len, deadline)) != 0 ||
	    (rc = rpc_handshake_parse(p, len, &c->reply)) != 0 ||
	    (rc = rpc_handshake_check(&c->reply, &c->ours.sender, o->flags,
	    &c->out.crc)) != 0)
		return rc;
	c->out.seq = 0;
	rpcstream_in_expect(&c->in.rx, 0, c->out.crc);
	return 0;
}

int
fakemp_client_connect(const struct fakemp_client_opts *o,
    struct fakemp_client **out)
{
	struct fakemp_client *c;
	int rc;

	if (o == NULL || out == NULL || o->secret == NULL ||
	    (o->family != AF_INET && o->family != AF_INET6))
		return FAKEMP_ERR_ARG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return FAKEMP_ERR;
	c->fd = -1;
	c->out.ops = &ref_rpcstream_ops;
	if ((rc = client_dial(o, &c->fd)) != 0 ||
	    (rc = client_handshake(c, o, deadline_in(o->timeout_ms > 0 ?
	    o->timeout_ms : CLIENT_TIMEOUT_MS))) != 0) {
		int e = errno;

		fakemp_client_close(c);
		errno = e;
		return rc;
	}
	*out = c;
	return 0;
}

int
fakemp_client_send(struct fakemp_client *c, const uint8_t *payload,
    size_t len)
{
	struct chunk *ch;
	int rc;

	if (c == NULL || payload == NULL)
		return FAKEMP_ERR_ARG;
	if ((ch = chunk_copy(payload, len)) == NULL)
		return FAKEMP_ERR;
	if ((rc = chunk_seal(ch, &c->out, len)) == 0)
		rc = write_all(c->fd, ch->data, ch->len);
	free(ch);
	return rc;
}

int
fakemp_client_send_raw(struct fakemp_client *c, const uint8_t *bytes,
    size_t len)
{
	struct chunk *ch;
	int rc;

	if (c == NULL || bytes == NULL || len == 0 || len % 4 != 0)
		return FAKEMP_ERR_ARG;
	if ((ch = chunk_alloc(len)) == NULL)
		return FAKEMP_ERR;
	memcpy(ch->data, bytes, len);
	if ((rc = rpcstream_encrypt(&c->out, ch->data, len, ch->cap,
	    &ch->len) == 0 ? 0 : FAKEMP_ERR) == 0)
		rc = write_all(c->fd, ch->data, ch->len);
	free(ch);
	return rc;
}

int
fakemp_client_recv(struct fakemp_client *c, const uint8_t **payload,
    size_t *len, int timeout_ms)
{
	if (c == NULL || payload == NULL || len == NULL)
		return FAKEMP_ERR_ARG;
	return stream_next(&c->in, payload, len, deadline_in(timeout_ms));
}

int32_t
fakemp_client_next_seq(const struct fakemp_client *c)
{
	return c->out.seq;
}

enum rpc_crc
fakemp_client_crc(const struct fakemp_client *c)
{
	return c->out.crc;
}

void
fakemp_client_handshakes(const struct fakemp_client *c,
    struct rpc_handshake *ours, struct rpc_handshake *reply)
{
	*ours = c->ours;
	*reply = c->reply;
}

void
fakemp_client_close(struct fakemp_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	EVP_CIPHER_CTX_free(c->out.cipher);
	stream_free(&c->in);
	free(c);
}
