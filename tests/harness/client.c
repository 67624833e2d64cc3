/*
 * Test client. The socket stays non-blocking and every wait goes through
 * poll with a timeout, so no test can hang on a silent proxy. Bytes read
 * ahead of a frame boundary are kept, decrypted (and on a fake-TLS
 * connection out of their records), in c->in.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "client.h"
#include "crypto.h"
#include "faketls.h"
#include "proto.h"
#include "ref.h"
#include "tclock.h"

#define TCLIENT_CHUNK		(64 * 1024)
#define TCLIENT_MAX_REDRAW	1000	/* a redraw is needed ~1 in 2^24 */
/* Records batched per write: a few full ones. */
#define TLS_BATCH	(4 * (TLS_RECORD_HEADER_LEN + TLS_PLAINTEXT_MAX))
/* The proxy's reply: ServerHello, CCS and one ApplicationData record. */
#define TLS_REPLY_MAX		(1024 + TLS_RECORD_HEADER_LEN + \
				    TLS_CIPHERTEXT_MAX)

/* A fake-TLS connection's state; the plain client has none. */
struct tls_state {
	uint8_t secret[SECRET_LEN];	/* to check a deferred reply */
	uint8_t random[TLS_RANDOM_LEN];	/* of our hello */
	uint8_t hello[FAKETLS_HELLO_MAX];
	size_t hello_len;
	int reply_pending;		/* early: not read yet */
	size_t rec_max;
	int rec_random;
	uint8_t hdr[TLS_RECORD_HEADER_LEN];	/* server record being read */
	size_t hdr_have, left;
	int err;			/* sticky record-layer error */
};

struct tclient {
	int fd;
	enum frame_transport t;
	EVP_CIPHER_CTX *rc, *wc;	/* both NULL on a raw connection */
	int pad;
	int timeout_ms;
	uint8_t hdr[OBFS2_HEADER_LEN];
	uint8_t *in;
	size_t in_off, in_len, in_cap;
	struct tls_state *tls;		/* NULL: plain obfuscated2 */
};

/* 0 when fd is ready (or in error: the next call says which). */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - tclock_now_ms();
		if (left <= 0)
			return TCLIENT_ERR_TIMEOUT;
		n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return TCLIENT_ERR;
	}
}

/* from: the local address to connect from (NULL: the kernel's choice). */
static int
tcp_connect(const struct sockaddr *from, const struct sockaddr *sa,
    socklen_t salen, int timeout_ms, int *out)
{
	socklen_t elen = sizeof(int);
	int fd, rc, err = 0, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return TCLIENT_ERR;
	rc = TCLIENT_ERR;
	if (from != NULL && bind(fd, from, salen) != 0)
		goto fail;
	if (connect(fd, sa, salen) != 0) {
		rc = TCLIENT_ERR;
		if (errno != EINPROGRESS)
			goto fail;
		if ((rc = wait_fd(fd, POLLOUT,
		    tclock_now_ms() + timeout_ms)) != 0)
			goto fail;
		rc = TCLIENT_ERR;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return rc;
}

/* timeout_ms bounds each wait without progress, not the whole write. */
static int
write_all(int fd, const uint8_t *p, size_t n, int timeout_ms)
{
	ssize_t w;
	int rc;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rc = wait_fd(fd, POLLOUT, tclock_now_ms() + timeout_ms);
			if (rc != 0)
				return rc;
		} else if (errno == EPIPE || errno == ECONNRESET)
			return TCLIENT_ERR_EOF;
		else if (errno != EINTR)
			return TCLIENT_ERR;
	}
	return 0;
}

/* Read at least one byte into buf before deadline. */
static int
read_some(int fd, uint8_t *buf, size_t cap, size_t *n, int64_t deadline)
{
	ssize_t r;
	int rc;

	for (;;) {
		r = recv(fd, buf, cap, MSG_DONTWAIT);
		if (r > 0) {
			*n = (size_t)r;
			return 0;
		}
		if (r == 0 || errno == ECONNRESET)
			return TCLIENT_ERR_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((rc = wait_fd(fd, POLLIN, deadline)) != 0)
				return rc;
		} else if (errno != EINTR)
			return TCLIENT_ERR;
	}
}

static size_t
buffered(const struct tclient *c)
{
	return c->in_len - c->in_off;
}

static void
consume(struct tclient *c, size_t n)
{
	c->in_off += n;
	if (c->in_off < c->in_len)
		return;
	/* Idle clients hold no buffer: benchmarks open thousands. */
	free(c->in);
	c->in = NULL;
	c->in_off = c->in_len = c->in_cap = 0;
}

static uint16_t
get_u16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Server -> client records (doc/PROTOCOL.md 3.5): only 17 03 03, as the proxy
 * sends no CCS after its reply. Strips the headers from p[0..n) in place;
 * the payload ends up in p[0..*out).
 */
static int
tls_unwrap(struct tls_state *s, uint8_t *p, size_t n, size_t *out)
{
	size_t i = 0, o = 0, k;

	while (s->err == 0 && i < n) {
		if (s->left > 0) {
			k = n - i < s->left ? n - i : s->left;
			memmove(p + o, p + i, k);
			o += k;
			i += k;
			s->left -= k;
			continue;
		}
		k = TLS_RECORD_HEADER_LEN - s->hdr_have;
		if (k > n - i)
			k = n - i;
		memcpy(s->hdr + s->hdr_have, p + i, k);
		s->hdr_have += k;
		i += k;
		if (s->hdr_have < TLS_RECORD_HEADER_LEN)
			break;
		s->hdr_have = 0;
		s->left = get_u16be(s->hdr + 3);
		if (s->hdr[0] != TLS_RECORD_APPDATA ||
		    get_u16be(s->hdr + 1) != TLS_VERSION_12 ||
		    s->left > TLS_CIPHERTEXT_MAX)
			s->err = TCLIENT_ERR_TLS;
	}
	*out = o;
	return s->err;
}

/* Room for want more bytes at the end of c->in. */
static int
make_room(struct tclient *c, size_t want)
{
	size_t ncap;
	uint8_t *p;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, buffered(c));
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len >= want)
		return 0;
	ncap = c->in_len + want;
	if ((p = realloc(c->in, ncap)) == NULL)
		return TCLIENT_ERR;
	c->in = p;
	c->in_cap = ncap;
	return 0;
}

/* n bytes from the socket are at c->in + c->in_len: take them in. */
static int
take_in(struct tclient *c, size_t n)
{
	uint8_t *p = c->in + c->in_len;
	int rc;

	if (c->tls != NULL && (rc = tls_unwrap(c->tls, p, n, &n)) != 0)
		return rc;
	if (ref_cipher_apply(c->rc, p, p, n) != 0)
		return TCLIENT_ERR;
	c->in_len += n;
	return 0;
}

static int read_reply(struct tclient *c, int64_t deadline);

/* Append at least one more decrypted byte to c->in. */
static int
fill(struct tclient *c, int64_t deadline)
{
	size_t before = buffered(c), n;
	int rc;

	if (c->tls != NULL && c->tls->reply_pending &&
	    (rc = read_reply(c, deadline)) != 0)
		return rc;
	while (buffered(c) == before) {
		if ((rc = make_room(c, TCLIENT_CHUNK)) != 0)
			return rc;
		rc = read_some(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
		    &n, deadline);
		if (rc != 0 || (rc = take_in(c, n)) != 0)
			return rc;
	}
	return 0;
}

static int
client_new(const struct sockaddr *from, const struct sockaddr *sa,
    socklen_t salen, int timeout_ms, struct tclient **out)
{
	struct tclient *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return TCLIENT_ERR;
	c->pad = -1;
	c->timeout_ms = timeout_ms;
	if ((rc = tcp_connect(from, sa, salen, timeout_ms, &c->fd)) != 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/*
 * Header and ciphers from the builder's view: the write side skips 64.
 * The harness's reference code, not src/obfs2.c, so that a key bug there
 * does not cancel out between the client and the daemon.
 */
static int
make_header(struct tclient *c, const uint8_t *secret, int16_t dc)
{
	uint8_t rnd[OBFS2_HEADER_LEN];
	struct ref_obfs2_keys k;
	int i, rc = REF_ERR_RETRY;

	for (i = 0; i < TCLIENT_MAX_REDRAW && rc == REF_ERR_RETRY; i++) {
		if (crypto_random(rnd, sizeof(rnd)) != 0)
			return TCLIENT_ERR;
		rc = ref_obfs2_build(rnd, ref_transport_tag(c->t), dc, secret,
		    c->hdr, &k);
	}
	if (rc != 0 ||
	    ref_ctr_new(k.c2s_key, k.c2s_iv, OBFS2_HEADER_LEN, &c->wc) != 0 ||
	    ref_ctr_new(k.s2c_key, k.s2c_iv, 0, &c->rc) != 0)
		rc = TCLIENT_ERR;
	crypto_cleanse(&k, sizeof(k));
	return rc;
}

static int
record_size(const struct tls_state *s, size_t left, size_t *size)
{
	uint8_t r[2];

	*size = s->rec_max;
	if (s->rec_random) {
		if (crypto_random(r, sizeof(r)) != 0)
			return TCLIENT_ERR;
		*size = 1 + (size_t)(r[0] << 8 | r[1]) % s->rec_max;
	}
	if (*size > left)
		*size = left;
	return 0;
}

static void
put_record_header(uint8_t *p, uint8_t type, size_t len)
{
	p[0] = type;
	p[1] = TLS_VERSION_12 >> 8;
	p[2] = TLS_VERSION_12 & 0xff;
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
}

/* Encrypted stream bytes to the socket, in records on a fake-TLS one. */
static int
write_stream(struct tclient *c, const uint8_t *p, size_t n)
{
	size_t have = 0, size;
	uint8_t *batch;
	int rc = 0;

	if (c->tls == NULL)
		return write_all(c->fd, p, n, c->timeout_ms);
	if ((batch = malloc(TLS_BATCH)) == NULL)
		return TCLIENT_ERR;
	while (rc == 0 && n > 0) {
		if ((rc = record_size(c->tls, n, &size)) != 0)
			break;
		if (have + TLS_RECORD_HEADER_LEN + size > TLS_BATCH) {
			rc = write_all(c->fd, batch, have, c->timeout_ms);
			have = 0;
		}
		put_record_header(batch + have, TLS_RECORD_APPDATA, size);
		memcpy(batch + have + TLS_RECORD_HEADER_LEN, p, size);
		have += TLS_RECORD_HEADER_LEN + size;
		p += size;
		n -= size;
	}
	if (rc == 0 && have > 0)
		rc = write_all(c->fd, batch, have, c->timeout_ms);
	free(batch);
	return rc;
}

int
tclient_connect(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, enum frame_transport t, int16_t dc,
    int timeout_ms, struct tclient **out)
{
	return tclient_connect_from(NULL, sa, salen, secret, t, dc, timeout_ms,
	    out);
}

int
tclient_connect_from(const struct sockaddr *from, const struct sockaddr *sa,
    socklen_t salen, const uint8_t *secret, enum frame_transport t,
    int16_t dc, int timeout_ms, struct tclient **out)
{
	return tclient_connect_after(from, NULL, 0, sa, salen, secret, t, dc,
	    timeout_ms, out);
}

int
tclient_connect_after(const struct sockaddr *from, const uint8_t *pre,
    size_t npre, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, enum frame_transport t, int16_t dc,
    int timeout_ms, struct tclient **out)
{
	uint8_t first[TCLIENT_PRE_MAX + OBFS2_HEADER_LEN];
	struct tclient *c;
	int rc;

	if (sa == NULL || out == NULL || t < FRAME_ABRIDGED ||
	    t > FRAME_PADDED || npre > TCLIENT_PRE_MAX ||
	    (pre == NULL && npre > 0))
		return TCLIENT_ERR_ARG;
	if ((rc = client_new(from, sa, salen, timeout_ms, &c)) != 0)
		return rc;
	c->t = t;
	/* One write: the proxy sees both in one segment. */
	if ((rc = make_header(c, secret, dc)) == 0) {
		if (npre > 0)
			memcpy(first, pre, npre);
		memcpy(first + npre, c->hdr, OBFS2_HEADER_LEN);
		rc = write_all(c->fd, first, npre + OBFS2_HEADER_LEN,
		    timeout_ms);
	}
	if (rc != 0) {
		tclient_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- fake-TLS (doc/PROTOCOL.md 3) ---- */

static int
hello_build(const uint8_t *secret, const char *domain,
    const struct tclient_tls_opts *o, uint8_t *out, size_t cap, size_t *len)
{
	struct faketls_build b = o->shape;
	struct faketls_client_rand rnd;
	uint8_t priv[TLS_X25519_LEN], pq[FAKETLS_PQ_SHARE_LEN];
	int rc = TCLIENT_ERR;

	b.domain = o->no_sni ? NULL : domain;
	b.pq_share = o->pq ? pq : NULL;
	if (o->record_split != 0)
		b.cuts[0] = o->record_split;
	if (crypto_random(rnd.session_id, sizeof(rnd.session_id)) == 0 &&
	    crypto_random(rnd.grease, sizeof(rnd.grease)) == 0 &&
	    crypto_random(pq, sizeof(pq)) == 0 &&
	    crypto_random(priv, sizeof(priv)) == 0 &&
	    crypto_x25519_public(priv, rnd.key_share) == 0)
		rc = faketls_hello_build_with(secret, &b,
		    (uint32_t)(time(NULL) + o->ts_offset), &rnd, out, cap,
		    len) == 0 ? 0 : TCLIENT_ERR_ARG;
	crypto_cleanse(priv, sizeof(priv));
	return rc;
}

int
tclient_tls_hello_build(const uint8_t *secret, const char *domain,
    int ts_offset, size_t record_split, uint8_t *out, size_t cap,
    size_t *len)
{
	struct tclient_tls_opts o = { .ts_offset = ts_offset,
	    .record_split = record_split };

	return tclient_tls_hello_build_with(secret, domain, &o, out, cap, len);
}

int
tclient_tls_hello_build_with(const uint8_t *secret, const char *domain,
    const struct tclient_tls_opts *o, uint8_t *out, size_t cap, size_t *len)
{
	static const struct tclient_tls_opts defaults;

	if (secret == NULL || (domain == NULL && (o == NULL || !o->no_sni)) ||
	    out == NULL || len == NULL)
		return TCLIENT_ERR_ARG;
	return hello_build(secret, domain, o != NULL ? o : &defaults, out, cap,
	    len);
}

/*
 * Read until the reply is complete and check it; what came after it is
 * already stream data in records.
 */
static int
read_reply(struct tclient *c, int64_t deadline)
{
	struct tls_state *s = c->tls;
	size_t len = 0, used = 0, n;
	uint8_t *buf;
	int vrc, rc = 0;

	if ((buf = malloc(TLS_REPLY_MAX)) == NULL)
		return TCLIENT_ERR;
	for (;;) {
		vrc = faketls_reply_verify(s->secret, s->random, 1, buf, len,
		    &used);
		if (vrc != FAKETLS_NEED_MORE || len == TLS_REPLY_MAX)
			break;
		rc = read_some(c->fd, buf + len, TLS_REPLY_MAX - len, &n,
		    deadline);
		if (rc != 0)
			goto done;
		len += n;
	}
	if (vrc != 0) {
		rc = vrc == FAKETLS_ERR_CRYPTO ? TCLIENT_ERR : TCLIENT_ERR_TLS;
		goto done;
	}
	s->reply_pending = 0;
	if (len > used && (rc = make_room(c, len - used)) == 0) {
		memcpy(c->in + c->in_len, buf + used, len - used);
		rc = take_in(c, len - used);
	}
done:
	free(buf);
	return rc;
}

/*
 * The hello in the writes write_split or write_cuts say (TCP_NODELAY keeps
 * them apart on the wire), and with early the CCS and header.
 */
static int
send_hello(struct tclient *c, const struct tclient_tls_opts *o,
    const uint8_t *first, size_t first_len)
{
	uint8_t buf[FAKETLS_HELLO_MAX + 128];
	size_t len = c->tls->hello_len, off = 0, end, i = 0;
	int rc;

	memcpy(buf, c->tls->hello, len);
	if (o->early) {
		memcpy(buf + len, first, first_len);
		len += first_len;
	}
	for (;;) {
		end = o->write_split != 0 && i == 0 ? o->write_split :
		    i < TCLIENT_WRITE_CUTS ? o->write_cuts[i] : 0;
		if (end <= off || end >= len)
			end = len;
		if ((rc = write_all(c->fd, buf + off, end - off,
		    c->timeout_ms)) != 0 || end == len)
			return rc;
		off = end;
		i++;
		if (o->write_delay_ms > 0)
			poll(NULL, 0, o->write_delay_ms);
	}
}

static int
tls_handshake(struct tclient *c, const uint8_t *secret, const char *domain,
    int16_t dc, const struct tclient_tls_opts *o)
{
	uint8_t first[FAKETLS_CCS_LEN + TLS_RECORD_HEADER_LEN +
	    OBFS2_HEADER_LEN];
	struct tls_state *s;
	struct faketls_hello h;
	int rc;

	if (o->inner_tag != 0 &&
	    frame_transport_from_tag(o->inner_tag, &c->t) != 0)
		return TCLIENT_ERR_ARG;
	if ((c->tls = s = calloc(1, sizeof(*s))) == NULL)
		return TCLIENT_ERR;
	memcpy(s->secret, secret, SECRET_LEN);
	s->rec_max = TLS_PLAINTEXT_MAX;
	if ((rc = hello_build(secret, domain, o, s->hello, sizeof(s->hello),
	    &s->hello_len)) != 0)
		return rc;
	/* Our own hello parsed: the random wherever the records cut it. */
	if (faketls_hello_parse(s->hello, s->hello_len, &h) != 0)
		return TCLIENT_ERR_ARG;
	memcpy(s->random, h.random, TLS_RANDOM_LEN);
	if ((rc = make_header(c, secret, dc)) != 0)
		return rc;
	/* The official client writes the CCS and the first record at once. */
	memcpy(first, FAKETLS_CCS, FAKETLS_CCS_LEN);
	put_record_header(first + FAKETLS_CCS_LEN, TLS_RECORD_APPDATA,
	    OBFS2_HEADER_LEN);
	memcpy(first + FAKETLS_CCS_LEN + TLS_RECORD_HEADER_LEN, c->hdr,
	    OBFS2_HEADER_LEN);
	if ((rc = send_hello(c, o, first, sizeof(first))) != 0)
		return rc;
	s->reply_pending = 1;
	if (o->early)
		return 0;
	if ((rc = read_reply(c, tclock_now_ms() + c->timeout_ms)) != 0)
		return rc;
	return write_all(c->fd, first, sizeof(first), c->timeout_ms);
}

int
tclient_connect_tls(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, const char *domain, int16_t dc,
    const struct tclient_tls_opts *o, int timeout_ms, struct tclient **out)
{
	static const struct tclient_tls_opts defaults;
	struct tclient *c;
	int rc;

	if (sa == NULL || secret == NULL || out == NULL ||
	    (domain == NULL && (o == NULL || !o->no_sni)))
		return TCLIENT_ERR_ARG;
	if ((rc = client_new(NULL, sa, salen, timeout_ms, &c)) != 0)
		return rc;
	c->t = FRAME_PADDED;
	if ((rc = tls_handshake(c, secret, domain, dc,
	    o != NULL ? o : &defaults)) != 0) {
		tclient_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
tclient_connect_raw(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *data, size_t len, int timeout_ms, struct tclient **out)
{
	struct tclient *c;
	int rc;

	if (sa == NULL || out == NULL || (data == NULL && len > 0))
		return TCLIENT_ERR_ARG;
	if ((rc = client_new(NULL, sa, salen, timeout_ms, &c)) != 0)
		return rc;
	if ((rc = write_all(c->fd, data, len, timeout_ms)) != 0) {
		tclient_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int
pad_len(const struct tclient *c, size_t *npad)
{
	uint8_t r;

	*npad = 0;
	if (c->t != FRAME_PADDED)
		return 0;
	if (c->pad >= 0) {
		*npad = (size_t)c->pad;
		return 0;
	}
	if (crypto_random(&r, 1) != 0)
		return TCLIENT_ERR;
	*npad = r % (PADDED_MAX_PAD + 1);
	return 0;
}

int
tclient_send(struct tclient *c, const uint8_t *msg, size_t len, int quickack)
{
	uint8_t hdr[4], *buf;
	size_t hlen, npad, total;
	int rc;

	if (c == NULL || c->wc == NULL || (msg == NULL && len > 0))
		return TCLIENT_ERR_ARG;
	if ((rc = pad_len(c, &npad)) != 0)
		return rc;
	if (ref_frame_encode(c->t, len + npad, quickack, hdr, &hlen) != 0)
		return TCLIENT_ERR_FRAME;
	total = hlen + len + npad;
	if ((buf = malloc(total)) == NULL)
		return TCLIENT_ERR;
	memcpy(buf, hdr, hlen);
	if (len > 0)
		memcpy(buf + hlen, msg, len);
	rc = TCLIENT_ERR;
	if (crypto_random(buf + hlen + len, npad) == 0 &&
	    ref_cipher_apply(c->wc, buf, buf, total) == 0)
		rc = write_stream(c, buf, total);
	free(buf);
	return rc;
}

int
tclient_recv(struct tclient *c, uint8_t *buf, size_t cap, size_t *len,
    int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	struct ref_frame fi;
	int rc;

	if (c == NULL || c->rc == NULL || len == NULL || (buf == NULL && cap))
		return TCLIENT_ERR_ARG;
	for (;;) {
		rc = ref_frame_decode(c->t, c->in != NULL ? c->in + c->in_off :
		    NULL, buffered(c), &fi);
		if (rc == 0 && fi.len > cap)
			return TCLIENT_ERR_TOOBIG;
		if (rc == 0 && buffered(c) >= fi.hdr_len + fi.len)
			break;
		if (rc != 0 && rc != REF_NEED_MORE)
			return TCLIENT_ERR_FRAME;
		if ((rc = fill(c, deadline)) != 0)
			return rc;
	}
	memcpy(buf, c->in + c->in_off + fi.hdr_len, fi.len);
	*len = fi.len;
	consume(c, fi.hdr_len + fi.len);
	return 0;
}

int
tclient_write_raw(struct tclient *c, const uint8_t *data, size_t len,
    int crypt)
{
	uint8_t *chunk;
	size_t n;
	int rc = 0;

	if (c == NULL || (data == NULL && len > 0))
		return TCLIENT_ERR_ARG;
	if (!crypt || c->wc == NULL)
		return write_all(c->fd, data, len, c->timeout_ms);
	if ((chunk = malloc(TCLIENT_CHUNK)) == NULL)
		return TCLIENT_ERR;
	while (rc == 0 && len > 0) {
		n = len < TCLIENT_CHUNK ? len : TCLIENT_CHUNK;
		rc = ref_cipher_apply(c->wc, data, chunk, n) != 0 ?
		    TCLIENT_ERR : write_stream(c, chunk, n);
		data += n;
		len -= n;
	}
	free(chunk);
	return rc;
}

int
tclient_read_raw(struct tclient *c, uint8_t *buf, size_t cap, size_t *n,
    int crypt, int timeout_ms)
{
	int rc;

	if (c == NULL || buf == NULL || cap == 0 || n == NULL)
		return TCLIENT_ERR_ARG;
	/* Records are unwrapped in c->in, then served from there. */
	if (buffered(c) == 0 && crypt && c->tls != NULL &&
	    (rc = fill(c, tclock_now_ms() + timeout_ms)) != 0)
		return rc;
	if (buffered(c) > 0) {
		/* Already decrypted by tclient_recv's read-ahead. */
		*n = buffered(c) < cap ? buffered(c) : cap;
		memcpy(buf, c->in + c->in_off, *n);
		consume(c, *n);
		return 0;
	}
	rc = read_some(c->fd, buf, cap, n, tclock_now_ms() + timeout_ms);
	if (rc == 0 && crypt && c->rc != NULL &&
	    ref_cipher_apply(c->rc, buf, buf, *n) != 0)
		rc = TCLIENT_ERR;
	return rc;
}

int
tclient_wait_closed_count(struct tclient *c, size_t *n, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	uint8_t buf[4096];
	size_t got;
	int rc;

	if (c == NULL || n == NULL)
		return TCLIENT_ERR_ARG;
	*n = buffered(c);
	consume(c, buffered(c));
	while ((rc = read_some(c->fd, buf, sizeof(buf), &got, deadline)) == 0)
		*n += got;
	return rc == TCLIENT_ERR_EOF ? 0 : rc;
}

int
tclient_wait_closed(struct tclient *c, int timeout_ms)
{
	size_t n;

	return tclient_wait_closed_count(c, &n, timeout_ms);
}

void
tclient_set_timeout(struct tclient *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

int
tclient_set_padding(struct tclient *c, int pad)
{
	if (pad < -1 || pad > PADDED_MAX_PAD)
		return TCLIENT_ERR_ARG;
	c->pad = pad;
	return 0;
}

const uint8_t *
tclient_tls_hello(const struct tclient *c, size_t *len)
{
	if (c == NULL || c->tls == NULL)
		return NULL;
	if (len != NULL)
		*len = c->tls->hello_len;
	return c->tls->hello;
}

int
tclient_set_records(struct tclient *c, size_t max_payload, int random_sizes)
{
	if (c == NULL || c->tls == NULL || max_payload == 0 ||
	    max_payload > TLS_PLAINTEXT_MAX)
		return TCLIENT_ERR_ARG;
	c->tls->rec_max = max_payload;
	c->tls->rec_random = random_sizes != 0;
	return 0;
}

const uint8_t *
tclient_header(const struct tclient *c)
{
	return c->wc != NULL ? c->hdr : NULL;
}

int
tclient_fd(const struct tclient *c)
{
	return c->fd;
}

void
tclient_close(struct tclient *c)
{
	int saved = errno;

	if (c == NULL)
		return;
	close(c->fd);
	if (c->tls != NULL) {
		crypto_cleanse(c->tls, sizeof(*c->tls));
		free(c->tls);
	}
	EVP_CIPHER_CTX_free(c->rc);
	EVP_CIPHER_CTX_free(c->wc);
	free(c->in);
	free(c);
	errno = saved;
}
