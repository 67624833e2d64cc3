/*
 * Fake Telegram DC: one thread, epoll, non-blocking sockets. Level-triggered
 * throughout; each wakeup moves at most FAKEDC_BUDGET bytes per connection
 * so that one fast peer cannot starve ten thousand slow ones. Idle
 * connections hold no buffers: they are allocated when data waits and freed
 * once it is consumed or sent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "fakedc.h"
#include "proto.h"
#include "ref.h"
#include "tclock.h"

#define FAKEDC_SCRATCH		(256 * 1024)
#define FAKEDC_BUDGET		(1024 * 1024)
/* An echo peer that does not read gets no more reading past this. */
#define FAKEDC_OUT_HIGH		(8 * 1024 * 1024)
#define FAKEDC_EVENTS		256
#define FAKEDC_ACCEPT_BATCH	64
#define FAKEDC_BACKLOG		4096
/* How often a paced SOURCE looks for chunks that are due. */
#define FAKEDC_TICK_MS		10
/* How often accept_delay_ms looks for connections to serve. */
#define FAKEDC_DELAY_TICK_MS	1

struct conn {
	int fd;
	int eof;			/* peer closed: flush, then close */
	int64_t serve_at;		/* accept_delay_ms: not served before;
					   0 once served */
	uint32_t events;		/* registered with epoll */
	struct conn *prev, *next;
	uint8_t hdr[OBFS2_HEADER_LEN];
	size_t hdr_len;
	enum frame_transport t;
	EVP_CIPHER_CTX *rc, *wc;	/* ECHO; wc also pattern SOURCE */
	uint64_t src_off;		/* pattern SOURCE: bytes made so far */
	int64_t src_due;		/* paced SOURCE: next chunk then */
	uint8_t *in;			/* decrypted, not yet a whole frame */
	size_t in_len, in_cap;
	uint8_t *out;			/* encrypted, not yet sent */
	size_t out_off, out_len, out_cap;
};

struct fakedc {
	enum fakedc_mode mode;
	struct fakedc_opts o;
	int lfd, epfd, evfd;
	uint16_t port;
	int paused;			/* listener off after EMFILE */
	int thread_ok;
	pthread_t thread;
	struct conn *conns;
	uint8_t *scratch;
	atomic_int stop, close_all;
	atomic_uint_fast64_t ctr[FAKEDC_NCOUNTERS];
	atomic_uint_fast64_t last_header;	/* tag << 16 | (uint16_t)dc */
	pthread_mutex_t raw_mu;
	uint8_t last_raw[OBFS2_HEADER_LEN];	/* under raw_mu */
};

/* SOURCE sends this over and over; the content is never looked at. */
static const uint8_t source_bytes[64 * 1024];

static void
count(struct fakedc *dc, enum fakedc_counter which, uint64_t n)
{
	atomic_fetch_add(&dc->ctr[which], n);
}

static size_t
pending_out(const struct conn *c)
{
	return c->out_len - c->out_off;
}

static int
header_done(const struct conn *c)
{
	return c->hdr_len == OBFS2_HEADER_LEN;
}

static int
paced(const struct fakedc *dc)
{
	return dc->mode == FAKEDC_SOURCE && dc->o.pattern &&
	    dc->o.source_interval_ms > 0;
}

/* Pattern SOURCE: bytes it may still make. */
static uint64_t
source_left(const struct fakedc *dc, const struct conn *c)
{
	if (dc->o.source_len == 0)
		return UINT64_MAX;
	return dc->o.source_len - c->src_off;
}

/* A SOURCE that sends whenever the socket takes more. */
static int
source_more(const struct fakedc *dc, const struct conn *c)
{
	if (dc->mode != FAKEDC_SOURCE || !header_done(c))
		return 0;
	if (!dc->o.pattern)
		return 1;
	/* Made only once the last bytes are out: no unbounded buffer. */
	return !paced(dc) && pending_out(c) == 0 && source_left(dc, c) > 0;
}

static uint32_t
conn_events(const struct fakedc *dc, const struct conn *c)
{
	uint32_t ev = 0;

	if (c->serve_at != 0)
		return 0;
	if (dc->mode == FAKEDC_BLACKHOLE)
		return EPOLLRDHUP;
	if (!c->eof && pending_out(c) < FAKEDC_OUT_HIGH)
		ev |= EPOLLIN;
	if (pending_out(c) > 0 || source_more(dc, c))
		ev |= EPOLLOUT;
	return ev;
}

static int
conn_update(struct fakedc *dc, struct conn *c)
{
	struct epoll_event e = { .events = conn_events(dc, c) };

	if (e.events == c->events)
		return 0;
	e.data.ptr = c;
	if (epoll_ctl(dc->epfd, EPOLL_CTL_MOD, c->fd, &e) != 0)
		return -1;
	c->events = e.events;
	return 0;
}

static void
listener_set(struct fakedc *dc, int on)
{
	struct epoll_event e = { .events = on ? EPOLLIN : 0 };

	e.data.ptr = &dc->lfd;
	if (epoll_ctl(dc->epfd, EPOLL_CTL_MOD, dc->lfd, &e) == 0)
		dc->paused = !on;
}

static void
conn_free(struct conn *c)
{
	close(c->fd);
	EVP_CIPHER_CTX_free(c->rc);
	EVP_CIPHER_CTX_free(c->wc);
	free(c->in);
	free(c->out);
	free(c);
}

static void
conn_close(struct fakedc *dc, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		dc->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	conn_free(c);
	atomic_fetch_sub(&dc->ctr[FAKEDC_OPEN], 1);
	if (dc->paused)
		listener_set(dc, 1);
}

static void
close_all(struct fakedc *dc)
{
	while (dc->conns != NULL)
		conn_close(dc, dc->conns);
}

/* Room for n more bytes after len, growing by doubling. */
static int
reserve(uint8_t **buf, size_t *cap, size_t len, size_t n)
{
	size_t ncap = *cap > 0 ? *cap : 4096;
	uint8_t *p;

	if (len + n <= *cap)
		return 0;
	while (ncap < len + n)
		ncap *= 2;
	if ((p = realloc(*buf, ncap)) == NULL)
		return -1;
	*buf = p;
	*cap = ncap;
	return 0;
}

static int
out_append(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, pending_out(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (reserve(&c->out, &c->out_cap, c->out_len, n) != 0)
		return -1;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Send what is pending; 0 also when the socket is full. */
static int
conn_flush(struct fakedc *dc, struct conn *c)
{
	size_t budget = FAKEDC_BUDGET;
	ssize_t n;

	while (pending_out(c) > 0 && budget > 0) {
		n = send(c->fd, c->out + c->out_off, pending_out(c),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->out_off += (size_t)n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		count(dc, FAKEDC_BYTES_OUT, (uint64_t)n);
	}
	if (pending_out(c) == 0) {
		free(c->out);
		c->out = NULL;
		c->out_off = c->out_len = c->out_cap = 0;
	}
	return 0;
}

static int
source_send(struct fakedc *dc, struct conn *c)
{
	size_t budget = FAKEDC_BUDGET;
	ssize_t n;

	while (budget > 0) {
		n = send(c->fd, source_bytes, sizeof(source_bytes),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		count(dc, FAKEDC_BYTES_OUT, (uint64_t)n);
	}
	return 0;
}

/*
 * Pattern SOURCE: up to want more bytes of the pattern, encrypted, onto the
 * pending output, and out.
 */
static int
pattern_fill(struct fakedc *dc, struct conn *c, uint64_t want)
{
	uint64_t left = source_left(dc, c);
	size_t n;

	if (want > left)
		want = left;
	while (want > 0) {
		n = want < FAKEDC_SCRATCH ? (size_t)want : FAKEDC_SCRATCH;
		fakedc_pattern(dc->o.seed, c->src_off, dc->scratch, n);
		if (ref_cipher_apply(c->wc, dc->scratch, dc->scratch, n) != 0 ||
		    out_append(c, dc->scratch, n) != 0)
			return -1;
		c->src_off += n;
		want -= n;
	}
	return conn_flush(dc, c);
}

/* Paced SOURCE: a chunk to every connection whose turn has come. */
static void
pace(struct fakedc *dc)
{
	int64_t now = tclock_now_ms();
	struct conn *c, *next;

	for (c = dc->conns; c != NULL; c = next) {
		next = c->next;
		if (!header_done(c) || c->eof || now < c->src_due)
			continue;
		c->src_due = now + dc->o.source_interval_ms;
		if (pattern_fill(dc, c, dc->o.source_chunk) != 0 ||
		    conn_update(dc, c) != 0)
			conn_close(dc, c);
	}
}

/* accept_delay_ms: connections whose wait is over are served from now. */
static void
serve_due(struct fakedc *dc)
{
	int64_t now = tclock_now_ms();
	struct conn *c, *next;

	for (c = dc->conns; c != NULL; c = next) {
		next = c->next;
		if (c->serve_at == 0 || now < c->serve_at)
			continue;
		c->serve_at = 0;
		if (conn_update(dc, c) != 0)
			conn_close(dc, c);
	}
}

/*
 * The DC's view of the header (doc/PROTOCOL.md 1.5): keys from the raw seeds,
 * by the harness's reference code so that a key bug in src/obfs2.c does
 * not cancel out between the daemon and its DC.
 */
static int
conn_header(struct fakedc *dc, struct conn *c)
{
	struct ref_obfs2_keys k;
	uint32_t tag;
	int16_t dcid;
	int rc;

	if (ref_obfs2_parse(c->hdr, NULL, &tag, &dcid, &k) != 0) {
		count(dc, FAKEDC_BAD_HEADERS, 1);
		return -1;
	}
	count(dc, FAKEDC_HEADERS, 1);
	atomic_store(&dc->last_header, (uint64_t)tag << 16 | (uint16_t)dcid);
	pthread_mutex_lock(&dc->raw_mu);
	memcpy(dc->last_raw, c->hdr, OBFS2_HEADER_LEN);
	pthread_mutex_unlock(&dc->raw_mu);
	rc = 0;
	if (dc->mode == FAKEDC_SOURCE && dc->o.pattern)
		rc = ref_ctr_new(k.s2c_key, k.s2c_iv, 0, &c->wc);
	else if (dc->mode == FAKEDC_ECHO &&
	    (ref_transport(tag, &c->t) != 0 ||
	    ref_ctr_new(k.c2s_key, k.c2s_iv, OBFS2_HEADER_LEN, &c->rc) != 0 ||
	    ref_ctr_new(k.s2c_key, k.s2c_iv, 0, &c->wc) != 0))
		rc = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

static int
echo_frame(struct fakedc *dc, struct conn *c, const uint8_t *body, size_t len)
{
	uint8_t hdr[4];
	size_t hlen, start;

	if (ref_frame_encode(c->t, len, 0, hdr, &hlen) != 0)
		return -1;
	if (out_append(c, hdr, hlen) != 0)
		return -1;
	start = c->out_len - hlen;
	if (out_append(c, body, len) != 0)
		return -1;
	count(dc, FAKEDC_FRAMES, 1);
	return ref_cipher_apply(c->wc, c->out + start, c->out + start,
	    hlen + len);
}

/* Decrypt newly read bytes, echo every whole frame, keep the rest. */
static int
echo_input(struct fakedc *dc, struct conn *c, uint8_t *p, size_t n)
{
	struct ref_frame fi;
	size_t off = 0;
	int rc;

	if (ref_cipher_apply(c->rc, p, p, n) != 0 ||
	    reserve(&c->in, &c->in_cap, c->in_len, n) != 0)
		return -1;
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	for (;;) {
		rc = ref_frame_decode(c->t, c->in + off, c->in_len - off, &fi);
		if (rc == REF_NEED_MORE)
			break;
		if (rc != 0) {
			count(dc, FAKEDC_BAD_FRAMES, 1);
			return -1;
		}
		if (c->in_len - off < fi.hdr_len + fi.len)
			break;
		if (fi.quickack)
			count(dc, FAKEDC_QUICKACKS, 1);
		if (echo_frame(dc, c, c->in + off + fi.hdr_len, fi.len) != 0)
			return -1;
		off += fi.hdr_len + fi.len;
	}
	c->in_len -= off;
	if (c->in_len == 0) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	} else if (off > 0)
		memmove(c->in, c->in + off, c->in_len);
	return 0;
}

/* 1: got *n > 0 bytes, 0: nothing now (or EOF, c->eof set), -1: error. */
static int
conn_recv(struct conn *c, uint8_t *buf, size_t cap, size_t *n)
{
	ssize_t r;

	do
		r = recv(c->fd, buf, cap, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		*n = (size_t)r;
		return 1;
	}
	if (r == 0) {
		c->eof = 1;
		return 0;
	}
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

static int
conn_read(struct fakedc *dc, struct conn *c)
{
	size_t budget = FAKEDC_BUDGET, n;
	int rc;

	while (budget > 0 && (conn_events(dc, c) & EPOLLIN)) {
		if (!header_done(c)) {
			rc = conn_recv(c, c->hdr + c->hdr_len,
			    OBFS2_HEADER_LEN - c->hdr_len, &n);
			if (rc <= 0)
				return rc;
			c->hdr_len += n;
			if (header_done(c) && conn_header(dc, c) != 0)
				return -1;
			continue;
		}
		rc = conn_recv(c, dc->scratch, FAKEDC_SCRATCH, &n);
		if (rc <= 0)
			return rc;
		budget -= n < budget ? n : budget;
		count(dc, FAKEDC_BYTES_IN, n);
		if (dc->mode == FAKEDC_ECHO &&
		    echo_input(dc, c, dc->scratch, n) != 0)
			return -1;
	}
	return 0;
}

static void
conn_event(struct fakedc *dc, struct conn *c, uint32_t ev)
{
	int rc = 0;

	/* Still waiting: only an error or hang-up (always reported) acts. */
	if (c->serve_at != 0) {
		if (ev & (EPOLLERR | EPOLLHUP))
			conn_close(dc, c);
		return;
	}
	if (dc->mode == FAKEDC_BLACKHOLE) {
		/* Only the peer's close or an error wakes a blackhole. */
		conn_close(dc, c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = conn_read(dc, c);
	if (rc == 0 && pending_out(c) > 0)
		rc = conn_flush(dc, c);
	if (rc == 0 && source_more(dc, c) && !c->eof && (ev & EPOLLOUT))
		rc = dc->o.pattern ? pattern_fill(dc, c, FAKEDC_SCRATCH) :
		    source_send(dc, c);
	if (rc == 0 && c->eof && pending_out(c) == 0)
		rc = -1;
	if (rc == 0)
		rc = conn_update(dc, c);
	if (rc != 0)
		conn_close(dc, c);
}

static void
accept_some(struct fakedc *dc)
{
	struct epoll_event e;
	struct conn *c;
	int i, fd, one = 1;

	for (i = 0; i < FAKEDC_ACCEPT_BATCH; i++) {
		fd = accept4(dc->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: would spin until a close. */
				count(dc, FAKEDC_ACCEPT_ERRORS, 1);
				listener_set(dc, 0);
			}
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			count(dc, FAKEDC_ACCEPT_ERRORS, 1);
			return;
		}
		c->fd = fd;
		if (dc->o.accept_delay_ms > 0)
			c->serve_at = tclock_now_ms() + dc->o.accept_delay_ms;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		e.events = c->events = conn_events(dc, c);
		e.data.ptr = c;
		if (epoll_ctl(dc->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
			conn_free(c);
			count(dc, FAKEDC_ACCEPT_ERRORS, 1);
			return;
		}
		c->next = dc->conns;
		if (dc->conns != NULL)
			dc->conns->prev = c;
		dc->conns = c;
		count(dc, FAKEDC_ACCEPTED, 1);
		count(dc, FAKEDC_OPEN, 1);
	}
}

static void *
loop(void *arg)
{
	struct fakedc *dc = arg;
	struct epoll_event evs[FAKEDC_EVENTS];
	uint64_t v;
	int i, n, wake;

	while (!atomic_load(&dc->stop)) {
		n = epoll_wait(dc->epfd, evs, FAKEDC_EVENTS,
		    dc->o.accept_delay_ms > 0 ? FAKEDC_DELAY_TICK_MS :
		    paced(dc) ? FAKEDC_TICK_MS : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		wake = 0;
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &dc->evfd) {
				wake = read(dc->evfd, &v, sizeof(v)) > 0;
			} else if (evs[i].data.ptr == &dc->lfd)
				accept_some(dc);
			else
				conn_event(dc, evs[i].data.ptr, evs[i].events);
		}
		/* After the batch: its events may point at these conns. */
		if (wake && atomic_exchange(&dc->close_all, 0))
			close_all(dc);
		if (paced(dc))
			pace(dc);
		if (dc->o.accept_delay_ms > 0)
			serve_due(dc);
	}
	return NULL;
}

static int
listen_loopback(int family, int *fd_out, uint16_t *port)
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
		len = sizeof(*sin);
	} else if (family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	} else
		return FAKEDC_ERR_ARG;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FAKEDC_ERR;
	if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &one, sizeof(one)) != 0) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		close(fd);
		return FAKEDC_ERR;
	}
	*port = ntohs(family == AF_INET ? sin->sin_port : sin6->sin6_port);
	*fd_out = fd;
	return 0;
}

static void
dc_free(struct fakedc *dc)
{
	close_all(dc);
	if (dc->lfd >= 0)
		close(dc->lfd);
	if (dc->evfd >= 0)
		close(dc->evfd);
	if (dc->epfd >= 0)
		close(dc->epfd);
	free(dc->scratch);
	pthread_mutex_destroy(&dc->raw_mu);
	free(dc);
}

static int
dc_register(struct fakedc *dc, int fd, void *tag)
{
	struct epoll_event e = { .events = EPOLLIN };

	e.data.ptr = tag;
	return epoll_ctl(dc->epfd, EPOLL_CTL_ADD, fd, &e);
}

int
fakedc_start(const struct fakedc_opts *o, struct fakedc **out)
{
	struct fakedc *dc;
	int rc, i;

	if (o == NULL || out == NULL || o->mode < FAKEDC_ECHO ||
	    o->mode > FAKEDC_BLACKHOLE || o->source_interval_ms < 0 ||
	    o->accept_delay_ms < 0 ||
	    (o->source_interval_ms > 0 && o->source_chunk == 0))
		return FAKEDC_ERR_ARG;
	if ((dc = calloc(1, sizeof(*dc))) == NULL)
		return FAKEDC_ERR;
	dc->mode = o->mode;
	dc->o = *o;
	pthread_mutex_init(&dc->raw_mu, NULL);
	dc->lfd = dc->epfd = dc->evfd = -1;
	atomic_init(&dc->stop, 0);
	atomic_init(&dc->close_all, 0);
	atomic_init(&dc->last_header, 0);
	for (i = 0; i < FAKEDC_NCOUNTERS; i++)
		atomic_init(&dc->ctr[i], 0);
	if ((rc = listen_loopback(o->family, &dc->lfd, &dc->port)) != 0)
		goto fail;
	rc = FAKEDC_ERR;
	if (listen(dc->lfd, FAKEDC_BACKLOG) != 0 ||
	    (dc->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (dc->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    dc_register(dc, dc->lfd, &dc->lfd) != 0 ||
	    dc_register(dc, dc->evfd, &dc->evfd) != 0 ||
	    (dc->scratch = malloc(FAKEDC_SCRATCH)) == NULL)
		goto fail;
	if ((errno = pthread_create(&dc->thread, NULL, loop, dc)) != 0)
		goto fail;
	*out = dc;
	return 0;
fail:
	dc_free(dc);
	return rc;
}

static void
wake(struct fakedc *dc)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: it is awake anyway. */
	(void)!write(dc->evfd, &one, sizeof(one));
}

void
fakedc_close_all(struct fakedc *dc)
{
	atomic_store(&dc->close_all, 1);
	wake(dc);
}

void
fakedc_stop(struct fakedc *dc)
{
	if (dc == NULL)
		return;
	atomic_store(&dc->stop, 1);
	wake(dc);
	pthread_join(dc->thread, NULL);
	dc_free(dc);
}

uint16_t
fakedc_port(const struct fakedc *dc)
{
	return dc->port;
}

uint64_t
fakedc_counter(const struct fakedc *dc, enum fakedc_counter which)
{
	if (which < 0 || which >= FAKEDC_NCOUNTERS)
		return 0;
	return atomic_load(&dc->ctr[which]);
}

int
fakedc_wait(const struct fakedc *dc, enum fakedc_counter which,
    uint64_t value, int timeout_ms)
{
	const struct timespec tick = { 0, 2 * 1000 * 1000 };
	int64_t deadline = tclock_now_ms() + timeout_ms;
	uint64_t v;

	for (;;) {
		v = fakedc_counter(dc, which);
		if (which == FAKEDC_OPEN ? v == value : v >= value)
			return 0;
		if (tclock_now_ms() >= deadline)
			return FAKEDC_ERR_TIMEOUT;
		nanosleep(&tick, NULL);
	}
}

void
fakedc_last_header(const struct fakedc *dc, uint32_t *tag, int16_t *dcid)
{
	uint64_t v = atomic_load(&dc->last_header);

	*tag = (uint32_t)(v >> 16);
	*dcid = (int16_t)(uint16_t)(v & 0xffff);
}

void
fakedc_last_header_raw(struct fakedc *dc, uint8_t hdr[OBFS2_HEADER_LEN])
{
	pthread_mutex_lock(&dc->raw_mu);
	memcpy(hdr, dc->last_raw, OBFS2_HEADER_LEN);
	pthread_mutex_unlock(&dc->raw_mu);
}

/* splitmix64's finalizer: neighbouring offsets give unrelated bytes. */
static uint64_t
mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void
fakedc_pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(mix(seed + off + i) >> 56);
}

int
fakedc_closed_port(int family, uint16_t *port)
{
	int fd, rc;

	if ((rc = listen_loopback(family, &fd, port)) != 0)
		return rc;
	close(fd);
	return 0;
}
