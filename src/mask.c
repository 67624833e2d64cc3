/*
 * The cover site. A probe sends it a hello like TDLib's and reads its reply
 * up to the end of the first flight: the ServerHello's extension order and
 * the sizes of the encrypted handshake records are what our replies copy
 * (doc/PROTOCOL.md 3.4). The probe thread redoes resolution and probe every
 * mask_probe_interval seconds; sessions only copy results out under the
 * lock, which no I/O ever holds.
 */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "faketls.h"
#include "log.h"
#include "mask.h"
#include "net.h"
#include "proxyhdr.h"
#include "ticker.h"

/*
 * The first flight comes in one burst once the ServerHello is out; a real
 * server then waits for our Finished. Quiet this long ends the flight.
 */
#define PROBE_REPLY_MS		3000
#define PROBE_QUIET_MS		400
/* getaddrinfo and its NSS modules want more than a bare minimum of stack. */
#define PROBE_STACK		(256 * 1024)
/* Per-reply size jitter: the official server varies its size by 1. */
#define SHAPE_JITTER		2

struct mask {
	/* Copied from the configuration; read-only after mask_new. */
	char host[sizeof(((struct config *)0)->mask_host)];
	char domain[SECRET_DOMAIN_MAX + 1];
	char target[sizeof(((struct config *)0)->mask_host) + 8]; /* for logs */
	uint16_t port;
	int connect_ms;
	int proxy_protocol;
	int interval;
	struct ticker *probe;	/* NULL: no probe thread */

	pthread_mutex_t lock;
	/* Under lock. */
	size_t naddr;
	struct net_addr addr[MASK_MAX_ADDRS];
	struct mask_shape shape;	/* its reply to a hello like TDLib's */
	struct mask_shape pq;		/* to one offering the hybrid first */
};

/* ---- resolution ---- */

static int
resolve(const struct mask *m, struct net_addr *addr, size_t *naddr)
{
	struct addrinfo hints, *res, *ai;
	char serv[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%u", (unsigned)m->port);
	if ((rc = getaddrinfo(m->host, serv, &hints, &res)) != 0) {
		log_warn("mask: cannot resolve mask_host %s: %s", m->host,
		    gai_strerror(rc));
		return MASK_ERR_NOTARGET;
	}
	*naddr = 0;
	for (ai = res; ai != NULL && *naddr < MASK_MAX_ADDRS;
	    ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(addr->ss))
			continue;
		memcpy(&addr[*naddr].ss, ai->ai_addr, ai->ai_addrlen);
		addr[*naddr].len = ai->ai_addrlen;
		(*naddr)++;
	}
	freeaddrinfo(res);
	if (*naddr == 0) {
		log_warn("mask: mask_host %s has no IPv4 or IPv6 address",
		    m->host);
		return MASK_ERR_NOTARGET;
	}
	return 0;
}

static size_t
addrs_get(struct mask *m, struct net_addr *addr)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->naddr;
	memcpy(addr, m->addr, n * sizeof(*addr));
	pthread_mutex_unlock(&m->lock);
	return n;
}

static void
addrs_set(struct mask *m, const struct net_addr *addr, size_t n)
{
	pthread_mutex_lock(&m->lock);
	memcpy(m->addr, addr, n * sizeof(*addr));
	m->naddr = n;
	pthread_mutex_unlock(&m->lock);
}

/* One timeout for all the addresses, in order: a refused one costs no wait. */
static int
connect_any(const struct net_addr *addr, size_t naddr, int timeout_ms,
    int *fd)
{
	int64_t deadline = net_now_ms() + timeout_ms, left;
	size_t i;

	for (i = 0; i < naddr; i++) {
		left = deadline - net_now_ms();
		if (left <= 0)
			break;
		if (net_connect(&addr[i], (int)left, 0, fd) == 0)
			return 0;
	}
	return MASK_ERR_CONNECT;
}

/* ---- the probe ---- */

/*
 * A TDLib-shaped hello with real key shares, offering the post-quantum
 * hybrid first when hybrid is set; the secret is thrown away.
 */
static int
probe_hello(const char *domain, int hybrid, uint8_t *out, size_t cap,
    size_t *len)
{
	struct faketls_client_rand r;
	uint8_t secret[SECRET_LEN], priv[TLS_X25519_LEN];
	uint8_t pq[FAKETLS_PQ_SHARE_LEN];
	uint32_t now = (uint32_t)time(NULL);

	if (crypto_random(secret, sizeof(secret)) != 0 ||
	    crypto_random(r.session_id, sizeof(r.session_id)) != 0 ||
	    crypto_random(r.grease, sizeof(r.grease)) != 0 ||
	    crypto_random(priv, sizeof(priv)) != 0 ||
	    crypto_x25519_public(priv, r.key_share) != 0 ||
	    crypto_random(pq, FAKETLS_MLKEM768_EK_LEN) != 0)
		return MASK_ERR;
	if (!hybrid)
		return faketls_hello_build(secret, domain, now, &r, 0, out,
		    cap, len) == 0 ? 0 : MASK_ERR;
	/* The hybrid's x25519 half: the same key, as browsers do. */
	memcpy(pq + FAKETLS_MLKEM768_EK_LEN, r.key_share, TLS_X25519_LEN);
	return faketls_hello_build_pq(secret, domain, now, &r, pq, out, cap,
	    len) == 0 ? 0 : MASK_ERR;
}

/*
 * One record: the header before hdr_deadline, the payload (into buf, at
 * most TLS_CIPHERTEXT_MAX bytes) before body_deadline.
 */
static int
read_record(int fd, int64_t hdr_deadline, int64_t body_deadline,
    uint8_t hdr[TLS_RECORD_HEADER_LEN], uint8_t *buf, size_t *len,
    const char **why)
{
	int rc;

	rc = net_read_full(fd, hdr, TLS_RECORD_HEADER_LEN, hdr_deadline);
	if (rc == 0) {
		*len = bytes_be16(hdr + 3);
		if (hdr[1] != 0x03 || *len == 0 || *len > TLS_CIPHERTEXT_MAX) {
			*why = "not a TLS record";
			return MASK_ERR;
		}
		rc = net_read_full(fd, buf, *len, body_deadline);
	}
	if (rc == NET_TIMEOUT)
		*why = "timed out";
	else if (rc == NET_EOF)
		*why = "connection closed";
	else if (rc != 0)
		*why = "read failed";
	return rc == 0 ? 0 : MASK_ERR;
}

/* Its extension order and group; a share we could not copy is refused. */
static int
server_hello(const uint8_t *p, size_t len, struct mask_shape *out,
    const char **why)
{
	struct faketls_server_info si;
	int rc = faketls_server_hello_info(p, len, &si);

	if (rc == FAKETLS_ERR_VERSION)
		*why = "not TLS 1.3";
	else if (rc != 0)
		*why = "malformed ServerHello";
	else if (si.hrr)
		*why = "HelloRetryRequest";
	else if (!(si.group == TLS_GROUP_X25519 &&
	    si.share_len == TLS_X25519_LEN) &&
	    !(si.group == FAKETLS_GROUP_X25519MLKEM768 &&
	    si.share_len == FAKETLS_PQ_REPLY_SHARE_LEN))
		*why = "a key share group we do not answer with";
	else {
		out->versions_first = si.versions_first;
		out->group = si.group;
		return 0;
	}
	return MASK_ERR;
}

/*
 * Right after the ServerHello was read: whether the CCS came in the same
 * read (a byte is waiting already) or later, and how much later. A server
 * that flushes its ServerHello before its signature shows a pause here.
 */
static void
ccs_timing(int fd, int64_t end, struct mask_shape *out)
{
	int64_t t0 = net_now_ms(), gap;
	uint8_t b;

	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
		return;
	out->ccs_split = 1;
	/* Nothing by the end: read_flight says why. */
	if (net_wait_readable(fd, end) != 0)
		return;
	gap = net_now_ms() - t0;
	out->ccs_gap_ms = gap > MASK_CCS_GAP_MAX_MS ? MASK_CCS_GAP_MAX_MS :
	    (int)gap;
}

/*
 * The reply to our hello: ServerHello, an optional CCS, then the
 * ApplicationData records of the first flight until the line goes quiet,
 * closes, or MASK_MAX_RECORDS are in.
 */
static int
read_flight(int fd, struct mask_shape *out, const char **why)
{
	uint8_t hdr[TLS_RECORD_HEADER_LEN], buf[TLS_CIPHERTEXT_MAX];
	int64_t end = net_now_ms() + PROBE_REPLY_MS, quiet;
	size_t len;
	int ccs = 0;

	memset(out, 0, sizeof(*out));
	if (read_record(fd, end, end, hdr, buf, &len, why) != 0)
		return MASK_ERR;
	if (hdr[0] != TLS_RECORD_HANDSHAKE) {
		*why = hdr[0] == TLS_RECORD_ALERT ? "alert instead of a hello" :
		    "not a TLS handshake";
		return MASK_ERR;
	}
	if (server_hello(buf, len, out, why) != 0)
		return MASK_ERR;
	ccs_timing(fd, end, out);
	while (out->napp < MASK_MAX_RECORDS) {
		quiet = out->napp == 0 ? end : net_now_ms() + PROBE_QUIET_MS;
		if (read_record(fd, quiet < end ? quiet : end, end, hdr, buf,
		    &len, why) != 0)
			break;
		if (hdr[0] == TLS_RECORD_CCS && !ccs && out->napp == 0) {
			ccs = 1;
			continue;
		}
		if (hdr[0] != TLS_RECORD_APPDATA) {
			*why = "unexpected record in the first flight";
			return MASK_ERR;
		}
		out->app_sizes[out->napp++] = len;
	}
	if (out->napp == 0) {
		*why = "no encrypted handshake";
		return MASK_ERR;
	}
	out->learned = 1;
	return 0;
}

static int
probe(const struct mask *m, const struct net_addr *addr, size_t naddr,
    int hybrid, struct mask_shape *out, const char **why)
{
	uint8_t hello[FAKETLS_PQ_BUILD_MAX];
	size_t len;
	int fd, rc;

	if (probe_hello(m->domain, hybrid, hello, sizeof(hello), &len) != 0) {
		*why = "cannot build a hello";
		return MASK_ERR;
	}
	if (connect_any(addr, naddr, m->connect_ms, &fd) != 0) {
		*why = "cannot connect";
		return MASK_ERR;
	}
	/* A hello fits any socket buffer: the write does not block. */
	if (net_write_full(fd, hello, len) != 0) {
		*why = "write failed";
		rc = MASK_ERR;
	} else {
		rc = read_flight(fd, out, why);
	}
	close(fd);
	return rc;
}

/* ---- the shape ---- */

static uint32_t
random_u32(void)
{
	uint8_t b[4];

	/* Only the size's spread is lost if libcrypto fails here. */
	if (crypto_random(b, sizeof(b)) != 0)
		return 0;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

static void
shape_fallback(struct mask_shape *s)
{
	memset(s, 0, sizeof(*s));
	s->group = TLS_GROUP_X25519;
	s->napp = 1;
	s->app_sizes[0] = FAKETLS_FALLBACK_MIN +
	    random_u32() % FAKETLS_FALLBACK_SPAN;
}

static int
shape_eq(const struct mask_shape *a, const struct mask_shape *b)
{
	size_t i;

	if (a->learned != b->learned ||
	    a->versions_first != b->versions_first || a->group != b->group ||
	    a->ccs_split != b->ccs_split || a->ccs_gap_ms != b->ccs_gap_ms ||
	    a->napp != b->napp)
		return 0;
	for (i = 0; i < a->napp; i++)
		if (a->app_sizes[i] != b->app_sizes[i])
			return 0;
	return 1;
}

static void
shape_log(const struct mask *m, const char *kind, const struct mask_shape *s,
    int level)
{
	char sizes[MASK_MAX_RECORDS * 8] = "", ccs[48];
	size_t i, off = 0;

	for (i = 0; i < s->napp; i++)
		off += (size_t)snprintf(sizes + off, sizeof(sizes) - off,
		    "%s%zu", i > 0 ? " " : "", s->app_sizes[i]);
	if (s->ccs_split)
		snprintf(ccs, sizeof(ccs), "in a later segment, %d ms after",
		    s->ccs_gap_ms);
	else
		snprintf(ccs, sizeof(ccs), "in the same segment");
	log_msg(level, "mask: %s for %s, %s hello: group 0x%04x, %s first, "
	    "CCS %s, encrypted handshake records of %s bytes", m->target,
	    m->domain, kind, (unsigned)s->group,
	    s->versions_first ? "supported_versions" : "key_share", ccs,
	    sizes);
}

/*
 * pq is NULL when the hybrid hello got no answer we can copy: such a
 * client then gets the x25519 reply the plain hello got.
 */
static void
shape_learned(struct mask *m, const struct mask_shape *s,
    const struct mask_shape *pq)
{
	int same, hybrid = pq != NULL &&
	    pq->group == FAKETLS_GROUP_X25519MLKEM768;

	pthread_mutex_lock(&m->lock);
	same = shape_eq(&m->shape, s) && shape_eq(&m->pq, pq != NULL ? pq : s);
	m->shape = *s;
	m->pq = pq != NULL ? *pq : *s;
	pthread_mutex_unlock(&m->lock);
	shape_log(m, "x25519", s, same ? LOGL_DEBUG : LOGL_INFO);
	if (pq != NULL)
		shape_log(m, "hybrid", pq, same ? LOGL_DEBUG : LOGL_INFO);
	/* Censors block proxies whose cover site lacks it (README). */
	log_msg(same ? LOGL_DEBUG : hybrid ? LOGL_INFO : LOGL_WARN,
	    "mask: cover site %s (%s) picks X25519MLKEM768: %s", m->domain,
	    m->target, hybrid ? "yes" : "no");
}

static void
shape_failed(struct mask *m, const char *why)
{
	struct mask_shape s;

	pthread_mutex_lock(&m->lock);
	s = m->shape;
	pthread_mutex_unlock(&m->lock);
	if (s.learned)
		log_warn("mask: probe of %s failed (%s); keeping the shape "
		    "learned before", m->target, why);
	else
		log_warn("mask: probe of %s failed (%s); using the fallback "
		    "reply size of %zu bytes", m->target, why, s.app_sizes[0]);
}

/* ---- probe thread ---- */

/* Resolve (keeping the old addresses on failure), then probe. */
static void
refresh(struct mask *m)
{
	struct net_addr addr[MASK_MAX_ADDRS];
	struct mask_shape s, pq;
	const char *why = "mask_host never resolved", *pq_why = why;
	size_t naddr;
	int rc = MASK_ERR, pq_rc = MASK_ERR;

	if (resolve(m, addr, &naddr) == 0)
		addrs_set(m, addr, naddr);
	else
		naddr = addrs_get(m, addr);
	if (ticker_stopping(m->probe))
		return;
	if (naddr > 0)
		rc = probe(m, addr, naddr, 0, &s, &why);
	if (rc == 0 && !ticker_stopping(m->probe))
		pq_rc = probe(m, addr, naddr, 1, &pq, &pq_why);
	if (rc == 0 && pq_rc != 0)
		log_warn("mask: probe of %s with the hybrid group failed (%s)",
		    m->target, pq_why);
	if (rc == 0)
		shape_learned(m, &s, pq_rc == 0 ? &pq : NULL);
	else
		shape_failed(m, why);
}

static void
probe_tick(void *arg)
{
	refresh(arg);
}

static void
copy_config(struct mask *m, const struct config *cfg)
{
	const char *host = cfg->mask_host[0] != '\0' ? cfg->mask_host :
	    cfg->domains[0];

	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->domain, sizeof(m->domain), "%s", cfg->domains[0]);
	snprintf(m->target, sizeof(m->target),
	    strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host,
	    (unsigned)cfg->mask_port);
	m->port = cfg->mask_port;
	m->connect_ms = cfg->connect_timeout * 1000;
	m->proxy_protocol = cfg->mask_proxy_protocol;
	m->interval = cfg->mask_probe_interval;
}

int
mask_new(const struct config *cfg, struct mask **out)
{
	struct mask *m;

	if (cfg == NULL || out == NULL)
		return MASK_ERR;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return MASK_ERR;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return MASK_ERR;
	}
	shape_fallback(&m->shape);
	m->pq = m->shape;
	if (cfg->ndomains > 0) {
		copy_config(m, cfg);
		refresh(m);
		if (m->interval > 0 && ticker_start(&m->probe, m->interval,
		    PROBE_STACK, probe_tick, m) != 0) {
			log_error("mask: cannot start the probe thread");
			mask_free(m);
			return MASK_ERR;
		}
	}
	*out = m;
	return 0;
}

void
mask_free(struct mask *m)
{
	if (m == NULL)
		return;
	ticker_stop(m->probe);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int
mask_connect(struct mask *m, const struct sockaddr *peer,
    const struct sockaddr *local, int *fd)
{
	struct net_addr addr[MASK_MAX_ADDRS];
	unsigned char hdr[PROXYHDR_MAX];
	size_t naddr, hlen = 0;
	int s;

	if (m == NULL || fd == NULL)
		return MASK_ERR;
	/* Before connecting: a peer it cannot describe costs no connection. */
	if (m->proxy_protocol != 0 && proxyhdr_build(m->proxy_protocol, peer,
	    local, hdr, sizeof(hdr), &hlen) != 0)
		return MASK_ERR;
	if ((naddr = addrs_get(m, addr)) == 0)
		return MASK_ERR_NOTARGET;
	/* net_connect sets TCP_NODELAY: the relay passes small writes on. */
	if (connect_any(addr, naddr, m->connect_ms, &s) != 0)
		return MASK_ERR_CONNECT;
	if (hlen > 0 && net_write_full(s, hdr, hlen) != 0) {
		close(s);
		return MASK_ERR_CONNECT;
	}
	*fd = s;
	return 0;
}

void
mask_shape_get(struct mask *m, int hybrid, const uint8_t rnd[4],
    struct mask_shape *out)
{
	struct mask_shape s;
	size_t i, sum = 0;
	uint32_t r;

	pthread_mutex_lock(&m->lock);
	s = hybrid ? m->pq : m->shape;
	pthread_mutex_unlock(&m->lock);
	/* TDLib takes one ApplicationData record as the rest of the reply. */
	for (i = 0; i < s.napp; i++)
		sum += s.app_sizes[i];
	if (sum > TLS_CIPHERTEXT_MAX - SHAPE_JITTER)
		sum = TLS_CIPHERTEXT_MAX - SHAPE_JITTER;
	if (sum < 1 + SHAPE_JITTER)
		sum = 1 + SHAPE_JITTER;
	r = (uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 |
	    (uint32_t)rnd[2] << 8 | rnd[3];
	memset(out, 0, sizeof(*out));
	out->learned = s.learned;
	out->versions_first = s.versions_first;
	out->group = s.group;
	out->ccs_split = s.ccs_split;
	out->ccs_gap_ms = s.ccs_gap_ms;
	out->napp = 1;
	out->app_sizes[0] = sum - SHAPE_JITTER + r % (2 * SHAPE_JITTER + 1);
}

/* ---- mtproxyd check ---- */

/* The ServerHello that answers hello, in the first record. */
static int
cover_answer(int fd, const uint8_t *hello, size_t len,
    struct mask_cover *out, const char **why)
{
	uint8_t hdr[TLS_RECORD_HEADER_LEN], buf[TLS_CIPHERTEXT_MAX];
	int64_t end = net_now_ms() + PROBE_REPLY_MS;
	struct faketls_server_info si;
	size_t n;

	if (net_write_full(fd, hello, len) != 0) {
		*why = "write failed";
		return MASK_ERR;
	}
	if (read_record(fd, end, end, hdr, buf, &n, why) != 0)
		return MASK_ERR;
	if (hdr[0] != TLS_RECORD_HANDSHAKE) {
		*why = hdr[0] == TLS_RECORD_ALERT ? "alert instead of a hello" :
		    "not a TLS handshake";
		return MASK_ERR;
	}
	if (faketls_server_hello_info(buf, n, &si) != 0) {
		*why = "no TLS 1.3 ServerHello";
		return MASK_ERR;
	}
	out->hrr = si.hrr;
	out->group = si.group;
	return 0;
}

static int
cover_probe(const struct mask *m, const struct net_addr *addr, size_t naddr,
    const uint8_t *hello, size_t len, struct mask_cover *out,
    const char **why)
{
	int64_t t0 = net_now_ms();
	int fd, rc;

	if (connect_any(addr, naddr, m->connect_ms, &fd) != 0) {
		*why = "cannot connect";
		return MASK_ERR;
	}
	rc = cover_answer(fd, hello, len, out, why);
	out->ms = net_now_ms() - t0;
	close(fd);
	return rc;
}

int
mask_check_cover(const struct config *cfg, struct mask_cover *out,
    const char **why)
{
	struct net_addr addr[MASK_MAX_ADDRS];
	uint8_t hello[FAKETLS_PQ_BUILD_MAX];
	struct mask *m;
	size_t naddr, len;
	int rc = MASK_ERR;

	memset(out, 0, sizeof(*out));
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		*why = "out of memory";
		return MASK_ERR;
	}
	copy_config(m, cfg);
	snprintf(out->target, sizeof(out->target), "%s", m->target);
	if (resolve(m, addr, &naddr) != 0)
		*why = "cannot resolve it";
	else if (probe_hello(m->domain, 1, hello, sizeof(hello), &len) != 0)
		*why = "cannot build a hello";
	else
		rc = cover_probe(m, addr, naddr, hello, len, out, why);
	free(m);
	return rc;
}
