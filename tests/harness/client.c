/*
 * Test client. The socket stays non-blocking and every wait goes through
 * poll with a timeout, so no test can hang on a silent proxy. Bytes read
 * ahead of a frame boundary are kept, decrypted, in c->in.
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
#include "obfs2.h"

#define TCLIENT_CHUNK		(64 * 1024)
#define TCLIENT_MAX_REDRAW	1000	/* a redraw is needed ~1 in 2^24 */

struct tclient {
	int fd;
	enum frame_transport t;
	crypto_ctr *rc, *wc;		/* both NULL on a raw connection */
	int pad;
	int timeout_ms;
	uint8_t hdr[OBFS2_HEADER_LEN];
	uint8_t *in;
	size_t in_off, in_len, in_cap;
};

static const uint32_t transport_tags[] = {
	[FRAME_ABRIDGED] = PROTO_TAG_ABRIDGED,
	[FRAME_INTERMEDIATE] = PROTO_TAG_INTERMEDIATE,
	[FRAME_PADDED] = PROTO_TAG_PADDED,
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 when fd is ready (or in error: the next call says which). */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return TCLIENT_ERR_TIMEOUT;
		n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return TCLIENT_ERR;
	}
}

static int
tcp_connect(const struct sockaddr *sa, socklen_t salen, int timeout_ms,
    int *out)
{
	socklen_t elen = sizeof(int);
	int fd, rc, err = 0, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return TCLIENT_ERR;
	if (connect(fd, sa, salen) != 0) {
		rc = TCLIENT_ERR;
		if (errno != EINPROGRESS)
			goto fail;
		if ((rc = wait_fd(fd, POLLOUT, now_ms() + timeout_ms)) != 0)
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
			rc = wait_fd(fd, POLLOUT, now_ms() + timeout_ms);
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

/* Append at least one more decrypted byte to c->in. */
static int
fill(struct tclient *c, int64_t deadline)
{
	size_t n, ncap;
	uint8_t *p;
	int rc;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, buffered(c));
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < TCLIENT_CHUNK) {
		ncap = c->in_len + TCLIENT_CHUNK;
		if ((p = realloc(c->in, ncap)) == NULL)
			return TCLIENT_ERR;
		c->in = p;
		c->in_cap = ncap;
	}
	rc = read_some(c->fd, c->in + c->in_len, c->in_cap - c->in_len, &n,
	    deadline);
	if (rc != 0)
		return rc;
	if (crypto_ctr_apply(c->rc, c->in + c->in_len, c->in + c->in_len,
	    n) != 0)
		return TCLIENT_ERR;
	c->in_len += n;
	return 0;
}

static int
client_new(const struct sockaddr *sa, socklen_t salen, int timeout_ms,
    struct tclient **out)
{
	struct tclient *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return TCLIENT_ERR;
	c->pad = -1;
	c->timeout_ms = timeout_ms;
	if ((rc = tcp_connect(sa, salen, timeout_ms, &c->fd)) != 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Header and ciphers from the builder's view: the write side skips 64. */
static int
make_header(struct tclient *c, const uint8_t *secret, int16_t dc)
{
	uint8_t rnd[OBFS2_HEADER_LEN];
	struct obfs2_keys k;
	int i, rc = OBFS2_ERR_RETRY;

	for (i = 0; i < TCLIENT_MAX_REDRAW && rc == OBFS2_ERR_RETRY; i++) {
		if (crypto_random(rnd, sizeof(rnd)) != 0)
			return TCLIENT_ERR;
		rc = obfs2_build(rnd, transport_tags[c->t], dc, secret, NULL,
		    NULL, c->hdr, &k);
	}
	if (rc != 0 ||
	    crypto_ctr_new(&c->wc, k.wkey, k.wiv) != 0 ||
	    crypto_ctr_skip(c->wc, OBFS2_HEADER_LEN) != 0 ||
	    crypto_ctr_new(&c->rc, k.rkey, k.riv) != 0)
		rc = TCLIENT_ERR;
	memset(&k, 0, sizeof(k));
	return rc;
}

int
tclient_connect(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, enum frame_transport t, int16_t dc,
    int timeout_ms, struct tclient **out)
{
	struct tclient *c;
	int rc;

	if (sa == NULL || out == NULL || t < FRAME_ABRIDGED || t > FRAME_PADDED)
		return TCLIENT_ERR_ARG;
	if ((rc = client_new(sa, salen, timeout_ms, &c)) != 0)
		return rc;
	c->t = t;
	if ((rc = make_header(c, secret, dc)) == 0)
		rc = write_all(c->fd, c->hdr, OBFS2_HEADER_LEN, timeout_ms);
	if (rc != 0) {
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
	if ((rc = client_new(sa, salen, timeout_ms, &c)) != 0)
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
	if (frame_encode(c->t, len + npad, quickack, hdr, &hlen) != 0)
		return TCLIENT_ERR_FRAME;
	total = hlen + len + npad;
	if ((buf = malloc(total)) == NULL)
		return TCLIENT_ERR;
	memcpy(buf, hdr, hlen);
	if (len > 0)
		memcpy(buf + hlen, msg, len);
	rc = TCLIENT_ERR;
	if (crypto_random(buf + hlen + len, npad) == 0 &&
	    crypto_ctr_apply(c->wc, buf, buf, total) == 0)
		rc = write_all(c->fd, buf, total, c->timeout_ms);
	free(buf);
	return rc;
}

int
tclient_recv(struct tclient *c, uint8_t *buf, size_t cap, size_t *len,
    int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct frame_info fi;
	int rc;

	if (c == NULL || c->rc == NULL || len == NULL || (buf == NULL && cap))
		return TCLIENT_ERR_ARG;
	for (;;) {
		rc = frame_decode(c->t, c->in != NULL ? c->in + c->in_off :
		    NULL, buffered(c), &fi);
		if (rc == 0 && fi.len > cap)
			return TCLIENT_ERR_TOOBIG;
		if (rc == 0 && buffered(c) >= fi.header_len + fi.len)
			break;
		if (rc != 0 && rc != FRAME_NEED_MORE)
			return TCLIENT_ERR_FRAME;
		if ((rc = fill(c, deadline)) != 0)
			return rc;
	}
	memcpy(buf, c->in + c->in_off + fi.header_len, fi.len);
	*len = fi.len;
	consume(c, fi.header_len + fi.len);
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
		rc = crypto_ctr_apply(c->wc, data, chunk, n) != 0 ?
		    TCLIENT_ERR : write_all(c->fd, chunk, n, c->timeout_ms);
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
	if (buffered(c) > 0) {
		/* Already decrypted by tclient_recv's read-ahead. */
		*n = buffered(c) < cap ? buffered(c) : cap;
		memcpy(buf, c->in + c->in_off, *n);
		consume(c, *n);
		return 0;
	}
	rc = read_some(c->fd, buf, cap, n, now_ms() + timeout_ms);
	if (rc == 0 && crypt && c->rc != NULL &&
	    crypto_ctr_apply(c->rc, buf, buf, *n) != 0)
		rc = TCLIENT_ERR;
	return rc;
}

int
tclient_wait_closed(struct tclient *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t buf[4096];
	size_t n;
	int rc;

	if (c == NULL)
		return TCLIENT_ERR_ARG;
	consume(c, buffered(c));
	while ((rc = read_some(c->fd, buf, sizeof(buf), &n, deadline)) == 0)
		;
	return rc == TCLIENT_ERR_EOF ? 0 : rc;
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
	crypto_ctr_free(c->rc);
	crypto_ctr_free(c->wc);
	free(c->in);
	free(c);
	errno = saved;
}
