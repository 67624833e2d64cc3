/*
 * The cover site module against a scripted TLS server in this process
 * (extension orders, record counts and sizes, every way a probe can fail),
 * a plain listener that records what mask_connect sends (PROXY headers v1
 * and v2, IPv4 and IPv6), unresolvable and unreachable targets, the probe
 * thread's re-probe and a prompt mask_free; then against a real TLS 1.3
 * server (openssl s_server) when the openssl binary is there. Loopback
 * only; every wait is bounded.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckmain.h"
#include "crypto.h"
#include "faketls.h"
#include "itest.h"
#include "mask.h"
#include "net.h"
#include "proxyhdr.h"

#define DOMAIN		"cover.test"
#define FALLBACK_LO	(FAKETLS_FALLBACK_MIN - 2)
#define FALLBACK_HI	(FAKETLS_FALLBACK_MIN + FAKETLS_FALLBACK_SPAN - 1 + 2)
#define REPLY_MAX	40000
#define GAP_MS		100

/* ---- a scripted cover site ---- */

enum reply {
	R_KS_FIRST,		/* key_share first, CCS, 3 records, quiet */
	R_SV_FIRST_CLOSE,	/* versions first, no CCS, 32500 bytes, close */
	R_MANY,			/* 10 records of 10 bytes */
	R_HRR,
	R_TLS12,		/* no supported_versions */
	R_ALERT,
	R_CLOSE,		/* closes without a word */
	R_JUNK,			/* an HTTP answer */
	R_HYBRID_GAP,		/* picks the hybrid when offered; the CCS
				   and 3 records GAP_MS after the hello */
};

struct cover {
	int lfd;
	uint16_t port;
	pthread_t thread;
	atomic_int variant;
	atomic_int stop;
	atomic_int probes;	/* good hellos naming DOMAIN */
	atomic_int bad_hellos;
	atomic_int conns;	/* other connections */
	/* The last other connection's bytes; read after cover_stop. */
	uint8_t data[PROXYHDR_MAX + 64];
	size_t have;
};

static size_t
put_record(uint8_t *p, uint8_t type, size_t len, uint8_t fill)
{
	p[0] = type;
	p[1] = 0x03;
	p[2] = 0x03;
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
	memset(p + 5, fill, len);
	return 5 + len;
}

/* pq: an X25519MLKEM768 share (1120 bytes) instead of x25519's 32. */
static size_t
put_server_hello(uint8_t *p, int versions, int versions_first, int hrr,
    int pq)
{
	static const uint8_t x25519[8] = { 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d,
	    0x00, 0x20 }, hybrid[8] = { 0x00, 0x33, 0x04, 0x64, 0x11, 0xec,
	    0x04, 0x60 };
	static const uint8_t sv[6] = { 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04 };
	const uint8_t *ks = pq ? hybrid : x25519;
	size_t share = pq ? FAKETLS_PQ_REPLY_SHARE_LEN : 32;
	uint8_t *h = p + 5, *q = h + 4;
	size_t ext = sizeof(x25519) + share + (versions ? sizeof(sv) : 0), n;

	*q++ = 0x03;
	*q++ = 0x03;
	if (hrr)
		memcpy(q, TLS_HRR_RANDOM, 32);
	else
		memset(q, 0x42, 32);
	q += 32;
	*q++ = 32;
	memset(q, 0x24, 32);
	q += 32;
	*q++ = 0x13;
	*q++ = 0x01;
	*q++ = 0x00;
	*q++ = (uint8_t)(ext >> 8);
	*q++ = (uint8_t)ext;
	if (versions && versions_first) {
		memcpy(q, sv, sizeof(sv));
		q += sizeof(sv);
	}
	memcpy(q, ks, sizeof(x25519));
	memset(q + sizeof(x25519), 0x09, share);
	q += sizeof(x25519) + share;
	if (versions && !versions_first) {
		memcpy(q, sv, sizeof(sv));
		q += sizeof(sv);
	}
	n = (size_t)(q - h);
	h[0] = 0x02;
	h[1] = 0;
	h[2] = (uint8_t)((n - 4) >> 8);
	h[3] = (uint8_t)(n - 4);
	p[0] = 0x16;
	p[1] = 0x03;
	p[2] = 0x03;
	p[3] = (uint8_t)(n >> 8);
	p[4] = (uint8_t)n;
	return 5 + n;
}

/*
 * The reply for variant v to a hello offering the hybrid (pq) or not;
 * *hold: keep the line open until the probe goes; *first: the bytes to
 * send before a pause of GAP_MS (all of them: no pause).
 */
static size_t
build_reply(int v, int pq, uint8_t *p, int *hold, size_t *first)
{
	static const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	size_t n = 0;
	int i;

	*hold = 0;
	*first = 0;
	switch (v) {
	case R_KS_FIRST:
		*hold = 1;
		n = put_server_hello(p, 1, 0, 0, 0);
		n += put_record(p + n, 0x14, 1, 0x01);
		n += put_record(p + n, 0x17, 100, 0xa1);
		n += put_record(p + n, 0x17, 2000, 0xa2);
		n += put_record(p + n, 0x17, 37, 0xa3);
		break;
	case R_SV_FIRST_CLOSE:
		n = put_server_hello(p, 1, 1, 0, 0);
		n += put_record(p + n, 0x17, 500, 0xb1);
		n += put_record(p + n, 0x17, 16000, 0xb2);
		n += put_record(p + n, 0x17, 16000, 0xb3);
		break;
	case R_MANY:
		*hold = 1;
		n = put_server_hello(p, 1, 1, 0, 0);
		n += put_record(p + n, 0x14, 1, 0x01);
		for (i = 0; i < 10; i++)
			n += put_record(p + n, 0x17, 10, (uint8_t)i);
		break;
	case R_HRR:
		*hold = 1;
		n = put_server_hello(p, 1, 1, 1, 0);
		break;
	case R_TLS12:
		*hold = 1;
		n = put_server_hello(p, 0, 0, 0, 0);
		n += put_record(p + n, 0x17, 100, 0xa1);
		break;
	case R_ALERT:
		n = put_record(p, 0x15, 2, 0x02);
		break;
	case R_JUNK:
		memcpy(p, junk, sizeof(junk) - 1);
		n = sizeof(junk) - 1;
		break;
	case R_HYBRID_GAP:
		*hold = 1;
		n = *first = put_server_hello(p, 1, 0, 0, pq);
		n += put_record(p + n, 0x14, 1, 0x01);
		n += put_record(p + n, 0x17, 100, 0xa1);
		n += put_record(p + n, 0x17, 2000, 0xa2);
		n += put_record(p + n, 0x17, 37, 0xa3);
		break;
	default:
		break;
	}
	return n;
}

static void
serve_probe(struct cover *c, int fd, uint8_t first, int64_t deadline)
{
	static uint8_t out[REPLY_MAX];	/* one server thread at a time */
	uint8_t buf[FAKETLS_HELLO_MAX], b;
	struct faketls_hello h;
	size_t len, n, head;
	int hold, pq = 0;

	buf[0] = first;
	if (net_read_full(fd, buf + 1, 4, deadline) != 0)
		return;
	len = (size_t)buf[3] << 8 | buf[4];
	if (len > sizeof(buf) - 5 ||
	    net_read_full(fd, buf + 5, len, deadline) != 0)
		return;
	if (faketls_hello_parse(buf, 5 + len, &h) == 0 &&
	    strcmp(h.sni, DOMAIN) == 0 && h.wire_len == 5 + len) {
		atomic_fetch_add(&c->probes, 1);
		pq = (h.groups & FAKETLS_OFFER_HYBRID) != 0;
	} else
		atomic_fetch_add(&c->bad_hellos, 1);
	n = build_reply(atomic_load(&c->variant), pq, out, &hold, &head);
	if (head > 0) {
		(void)net_write_full(fd, out, head);
		usleep(GAP_MS * 1000);
	}
	if (n > head)
		(void)net_write_full(fd, out + head, n - head);
	if (hold)
		while (net_read_full(fd, &b, 1, deadline + 3000) == 0)
			;
}

/* Everything until the peer closes (or 2 s pass). */
static void
serve_data(struct cover *c, int fd, uint8_t first, int64_t deadline)
{
	ssize_t n;

	atomic_fetch_add(&c->conns, 1);
	c->data[0] = first;
	c->have = 1;
	while (c->have < sizeof(c->data)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - net_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, c->data + c->have, sizeof(c->data) - c->have, 0);
		if (n <= 0)
			break;
		c->have += (size_t)n;
	}
}

static void *
cover_main(void *arg)
{
	struct cover *c = arg;
	struct pollfd p = { .fd = c->lfd, .events = POLLIN };
	int64_t deadline;
	uint8_t first;
	int fd;

	while (!atomic_load(&c->stop)) {
		if (poll(&p, 1, 20) <= 0)
			continue;
		if ((fd = accept(c->lfd, NULL, NULL)) < 0)
			continue;
		deadline = net_now_ms() + 2000;
		if (net_read_full(fd, &first, 1, deadline) == 0) {
			if (first == 0x16)
				serve_probe(c, fd, first, deadline);
			else
				serve_data(c, fd, first, deadline);
		}
		close(fd);
	}
	return NULL;
}

static void
cover_start(struct cover *c, int family, int variant)
{
	struct net_addr a;

	memset(c, 0, sizeof(*c));
	memset(&a, 0, sizeof(a));
	a.ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;

		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;

		in6->sin6_addr = in6addr_loopback;
		a.len = sizeof(*in6);
	}
	ck_assert_int_eq(net_listen(&a, 0, 16, &c->lfd), 0);
	ck_assert_int_eq(net_local_port(c->lfd, &c->port), 0);
	atomic_store(&c->variant, variant);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, cover_main, c), 0);
}

static void
cover_stop(struct cover *c)
{
	atomic_store(&c->stop, 1);
	pthread_join(c->thread, NULL);
	close(c->lfd);
}

/* ---- helpers ---- */

static void
cfg_for(struct config *cfg, const char *host, uint16_t port, int interval)
{
	config_defaults(cfg);
	cfg->ndomains = 1;
	snprintf(cfg->domains[0], sizeof(cfg->domains[0]), "%s", DOMAIN);
	snprintf(cfg->mask_host, sizeof(cfg->mask_host), "%s", host);
	cfg->mask_port = port;
	cfg->mask_proxy_protocol = 0;
	cfg->connect_timeout = 2;
	cfg->mask_probe_interval = interval;
}

/* The replied size for rnd = i spread over all four bytes. */
static size_t
size_for(struct mask *m, unsigned i, struct mask_shape *s)
{
	uint8_t rnd[4] = { (uint8_t)i, (uint8_t)(i * 7), (uint8_t)(i * 13),
	    (uint8_t)(i * 31) };

	mask_shape_get(m, 0, rnd, s);
	ck_assert_uint_eq(s->napp, 1);
	return s->app_sizes[0];
}

/* Every size within [lo, hi], and the jitter gives all of lo..hi. */
static void
check_sizes(struct mask *m, int learned, int versions_first, size_t lo,
    size_t hi)
{
	struct mask_shape s;
	unsigned seen = 0, i;
	size_t n;

	ck_assert_uint_le(hi - lo, 4);
	for (i = 0; i < 256; i++) {
		n = size_for(m, i, &s);
		ck_assert_int_eq(s.learned, learned);
		if (learned)
			ck_assert_int_eq(s.versions_first, versions_first);
		ck_assert_uint_ge(n, lo);
		ck_assert_uint_le(n, hi);
		ck_assert_uint_le(n, TLS_CIPHERTEXT_MAX);
		seen |= 1u << (n - lo);
	}
	ck_assert_uint_eq(seen, (1u << (hi - lo + 1)) - 1);
}

/* The fallback: one size in the official range, jittered by up to 2. */
static void
check_fallback(struct mask *m)
{
	struct mask_shape s;
	size_t lo = SIZE_MAX, n;
	unsigned i;

	for (i = 0; i < 256; i++)
		if ((n = size_for(m, i, &s)) < lo)
			lo = n;
	ck_assert_uint_ge(lo, FALLBACK_LO);
	ck_assert_uint_le(lo + 4, FALLBACK_HI);
	check_sizes(m, 0, 0, lo, lo + 4);
}

static uint16_t
closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static struct sockaddr_in
v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6
v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

/* ---- the probe against scripted replies ---- */

START_TEST(learns_key_share_first)
{
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;

	cover_start(&c, AF_INET, R_KS_FIRST);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	cover_stop(&c);
	/* One hello of each kind: with the hybrid group and without. */
	ck_assert_int_eq(atomic_load(&c.probes), 2);
	ck_assert_int_eq(atomic_load(&c.bad_hellos), 0);
	/* 100 + 2000 + 37 as one record; the CCS does not count. */
	check_sizes(m, 1, 0, 2137 - 2, 2137 + 2);
	mask_free(m);
}
END_TEST

/*
 * Each kind of hello gets its own answer: the hybrid one the hybrid group,
 * the x25519 one x25519; the CCS after a pause is seen, and timed.
 */
START_TEST(learns_group_and_pause)
{
	static const uint8_t rnd[4];
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;
	struct mask_shape s;
	int pq;

	cover_start(&c, AF_INET, R_HYBRID_GAP);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	cover_stop(&c);
	ck_assert_int_eq(atomic_load(&c.probes), 2);
	for (pq = 0; pq < 2; pq++) {
		mask_shape_get(m, pq, rnd, &s);
		ck_assert_int_eq(s.learned, 1);
		ck_assert_uint_eq(s.group, pq ? FAKETLS_GROUP_X25519MLKEM768 :
		    TLS_GROUP_X25519);
		ck_assert_int_eq(s.versions_first, 0);
		ck_assert_int_eq(s.ccs_split, 1);
		ck_assert_int_ge(s.ccs_gap_ms, GAP_MS - 10);
		ck_assert_int_le(s.ccs_gap_ms, MASK_CCS_GAP_MAX_MS);
		ck_assert_uint_eq(s.napp, 1);
		ck_assert_uint_ge(s.app_sizes[0], 2137 - 2);
		ck_assert_uint_le(s.app_sizes[0], 2137 + 2);
	}
	mask_free(m);
	/* All in one write: no split, and a cover without the hybrid. */
	cover_start(&c, AF_INET, R_KS_FIRST);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	cover_stop(&c);
	for (pq = 0; pq < 2; pq++) {
		mask_shape_get(m, pq, rnd, &s);
		ck_assert_uint_eq(s.group, TLS_GROUP_X25519);
		ck_assert_int_eq(s.ccs_split, 0);
		ck_assert_int_eq(s.ccs_gap_ms, 0);
	}
	mask_free(m);
}
END_TEST

START_TEST(learns_versions_first_capped)
{
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;

	cover_start(&c, AF_INET, R_SV_FIRST_CLOSE);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	cover_stop(&c);
	ck_assert_int_eq(atomic_load(&c.probes), 2);
	/* 32500 bytes do not fit one record: the largest that does. */
	check_sizes(m, 1, 1, TLS_CIPHERTEXT_MAX - 4, TLS_CIPHERTEXT_MAX);
	mask_free(m);
}
END_TEST

START_TEST(learns_at_most_max_records)
{
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;

	cover_start(&c, AF_INET, R_MANY);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	cover_stop(&c);
	check_sizes(m, 1, 1, MASK_MAX_RECORDS * 10 - 2,
	    MASK_MAX_RECORDS * 10 + 2);
	mask_free(m);
}
END_TEST

START_TEST(odd_replies_fall_back)
{
	static const int odd[] = { R_HRR, R_TLS12, R_ALERT, R_CLOSE, R_JUNK };
	struct config cfg;
	struct cover c;
	struct mask *m;
	size_t i;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		cover_start(&c, AF_INET, odd[i]);
		cfg_for(&cfg, "127.0.0.1", c.port, 0);
		m = NULL;
		ck_assert_int_eq(mask_new(&cfg, &m), 0);
		cover_stop(&c);
		ck_assert_int_eq(atomic_load(&c.probes), 1);
		check_fallback(m);
		mask_free(m);
	}
}
END_TEST

START_TEST(unreachable_falls_back)
{
	struct sockaddr_in peer = v4("192.0.2.1", 1000);
	struct sockaddr_in local = v4("127.0.0.1", 443);
	struct config cfg;
	struct mask *m = NULL;
	int64_t t0;
	int fd = -1;

	cfg_for(&cfg, "127.0.0.1", closed_port(), 0);
	t0 = net_now_ms();
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	ck_assert_int_lt(net_now_ms() - t0, 2000);
	check_fallback(m);
	ck_assert_int_eq(mask_connect(m, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local, &fd), MASK_ERR_CONNECT);
	ck_assert_int_eq(fd, -1);
	mask_free(m);
}
END_TEST

START_TEST(unresolvable_has_no_target)
{
	struct sockaddr_in peer = v4("192.0.2.1", 1000);
	struct sockaddr_in local = v4("127.0.0.1", 443);
	struct config cfg;
	struct mask *m = NULL;
	int fd = -1;

	cfg_for(&cfg, "nonexistent.invalid", 443, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	ck_assert_ptr_nonnull(m);
	check_fallback(m);
	ck_assert_int_eq(mask_connect(m, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local, &fd), MASK_ERR_NOTARGET);
	ck_assert_int_eq(fd, -1);
	mask_free(m);
}
END_TEST

START_TEST(no_domains)
{
	struct sockaddr_in peer = v4("192.0.2.1", 1000);
	struct sockaddr_in local = v4("127.0.0.1", 443);
	struct config cfg;
	struct mask *m = NULL;
	int64_t t0;
	int fd = -1;

	config_defaults(&cfg);
	ck_assert_uint_eq(cfg.ndomains, 0);
	t0 = net_now_ms();
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	ck_assert_ptr_nonnull(m);
	check_fallback(m);
	ck_assert_int_eq(mask_connect(m, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local, &fd), MASK_ERR_NOTARGET);
	mask_free(m);
	ck_assert_int_lt(net_now_ms() - t0, 500);
	ck_assert_int_eq(mask_new(NULL, &m), MASK_ERR);
	ck_assert_int_eq(mask_new(&cfg, NULL), MASK_ERR);
	mask_free(NULL);
}
END_TEST

/* ---- the probe thread ---- */

START_TEST(reprobe_swaps_shape)
{
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;
	struct mask_shape s;
	int64_t t0, deadline;
	int probes;

	cover_start(&c, AF_INET, R_HRR);
	/* A name, not a literal: the resolver runs on the thread's stack. */
	cfg_for(&cfg, "localhost", c.port, 1);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	check_fallback(m);
	atomic_store(&c.variant, R_KS_FIRST);
	/* Read while the thread swaps: TSan sees both sides. */
	deadline = net_now_ms() + 5000;
	do {
		size_for(m, 0, &s);
		usleep(10000);
	} while (!s.learned && net_now_ms() < deadline);
	ck_assert_int_eq(s.learned, 1);
	ck_assert_int_ge(atomic_load(&c.probes), 2);
	check_sizes(m, 1, 0, 2137 - 2, 2137 + 2);
	/* A failing re-probe keeps what was learned. */
	atomic_store(&c.variant, R_CLOSE);
	probes = atomic_load(&c.probes);
	deadline = net_now_ms() + 5000;
	while (atomic_load(&c.probes) == probes && net_now_ms() < deadline)
		usleep(10000);
	ck_assert_int_gt(atomic_load(&c.probes), probes);
	usleep(100000);
	check_sizes(m, 1, 0, 2137 - 2, 2137 + 2);
	t0 = net_now_ms();
	mask_free(m);
	ck_assert_int_lt(net_now_ms() - t0, 1000);
	cover_stop(&c);
}
END_TEST

START_TEST(free_is_prompt)
{
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;
	int64_t t0;

	cover_start(&c, AF_INET, R_SV_FIRST_CLOSE);
	cfg_for(&cfg, "127.0.0.1", c.port, 3600);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	usleep(50000);
	t0 = net_now_ms();
	mask_free(m);
	ck_assert_int_lt(net_now_ms() - t0, 1000);
	cover_stop(&c);
	ck_assert_int_eq(atomic_load(&c.probes), 2);
}
END_TEST

/* ---- mask_connect ---- */

/*
 * Connect through a mask to c, send "ping", close; after cover_stop, c.data
 * holds all the cover received (the server thread finishes the connection
 * it is serving before it stops).
 */
static void
connect_and_ping(struct cover *c, struct config *cfg,
    const struct sockaddr *peer, const struct sockaddr *local)
{
	struct mask *m = NULL;
	int64_t deadline;
	int fd = -1;

	ck_assert_int_eq(mask_new(cfg, &m), 0);
	ck_assert_int_eq(mask_connect(m, peer, local, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(net_write_full(fd, "ping", 4), 0);
	close(fd);
	mask_free(m);
	deadline = net_now_ms() + 3000;
	while (atomic_load(&c->conns) == 0 && net_now_ms() < deadline)
		usleep(5000);
	cover_stop(c);
	ck_assert_int_eq(atomic_load(&c->conns), 1);
}

START_TEST(connect_plain)
{
	struct sockaddr_in peer = v4("203.0.113.7", 40000);
	struct sockaddr_in local = v4("198.51.100.1", 443);
	struct config cfg;
	struct cover c;

	cover_start(&c, AF_INET, R_CLOSE);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	connect_and_ping(&c, &cfg, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local);
	ck_assert_uint_eq(c.have, 4);
	ck_assert_mem_eq(c.data, "ping", 4);
}
END_TEST

START_TEST(connect_proxy_v1)
{
	static const char want[] =
	    "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nping";
	struct sockaddr_in peer = v4("203.0.113.7", 40000);
	struct sockaddr_in local = v4("198.51.100.1", 443);
	struct config cfg;
	struct cover c;

	cover_start(&c, AF_INET, R_CLOSE);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	cfg.mask_proxy_protocol = 1;
	connect_and_ping(&c, &cfg, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local);
	ck_assert_uint_eq(c.have, sizeof(want) - 1);
	ck_assert_mem_eq(c.data, want, sizeof(want) - 1);
}
END_TEST

/* Over IPv6 to an IPv6 literal, with a v2 header for an IPv6 client. */
START_TEST(connect_proxy_v2_ipv6)
{
	static const uint8_t want[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x9c, 0x40, 0x01, 0xbb, 'p', 'i', 'n', 'g',
	};
	struct sockaddr_in6 peer = v6("2001:db8::7", 40000);
	struct sockaddr_in6 local = v6("2001:db8::1", 443);
	struct config cfg;
	struct cover c;

	cover_start(&c, AF_INET6, R_CLOSE);
	cfg_for(&cfg, "::1", c.port, 0);
	cfg.mask_proxy_protocol = 2;
	connect_and_ping(&c, &cfg, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local);
	ck_assert_uint_eq(c.have, sizeof(want));
	ck_assert_mem_eq(c.data, want, sizeof(want));
}
END_TEST

START_TEST(connect_bad_peer)
{
	struct sockaddr_in local = v4("198.51.100.1", 443);
	struct sockaddr_storage peer;
	struct config cfg;
	struct cover c;
	struct mask *m = NULL;
	int fd = -1;

	memset(&peer, 0, sizeof(peer));
	peer.ss_family = AF_UNIX;
	cover_start(&c, AF_INET, R_CLOSE);
	cfg_for(&cfg, "127.0.0.1", c.port, 0);
	cfg.mask_proxy_protocol = 1;
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	ck_assert_int_eq(mask_connect(m, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local, &fd), MASK_ERR);
	ck_assert_int_eq(mask_connect(m, (struct sockaddr *)&local,
	    (struct sockaddr *)&local, NULL), MASK_ERR);
	ck_assert_int_eq(fd, -1);
	mask_free(m);
	cover_stop(&c);
	ck_assert_int_eq(atomic_load(&c.conns), 0);
}
END_TEST

/* ---- a real TLS 1.3 server ---- */

/* Run argv with output discarded; its exit status, 127 if it did not run. */
static int
run(char *const argv[], int timeout_ms)
{
	int64_t deadline = net_now_ms() + timeout_ms;
	int status = 0, null;
	pid_t pid, r;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
	    net_now_ms() < deadline)
		usleep(10000);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static pid_t
start_s_server(const char *cert, const char *key, uint16_t port)
{
	char accept_arg[32];
	pid_t parent = getpid(), pid;
	int null;

	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Gone with the test even when an assertion ends it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(127);
		null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			_exit(127);
		execlp("openssl", "openssl", "s_server", "-quiet", "-tls1_3",
		    "-accept", accept_arg, "-cert", cert, "-key", key, "-www",
		    (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
stop_child(pid_t pid)
{
	int64_t deadline = net_now_ms() + 2000;
	int status;

	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (net_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		usleep(10000);
	}
}

static int
connect_local(uint16_t port, int *fd)
{
	struct net_addr a;
	struct sockaddr_in in = v4("127.0.0.1", port);

	memset(&a, 0, sizeof(a));
	memcpy(&a.ss, &in, sizeof(in));
	a.len = sizeof(in);
	return net_connect(&a, 1000, 0, fd);
}

static void
send_hello(int fd)
{
	static const uint8_t secret[SECRET_LEN] = { 1 };
	struct faketls_client_rand r;
	uint8_t hello[FAKETLS_BUILD_MAX], priv[32];
	size_t len;

	memset(&r, 0x33, sizeof(r));
	memset(priv, 0x44, sizeof(priv));
	ck_assert_int_eq(crypto_x25519_public(priv, r.key_share), 0);
	ck_assert_int_eq(faketls_hello_build(secret, DOMAIN,
	    (uint32_t)time(NULL), &r, 0, hello, sizeof(hello), &len), 0);
	ck_assert_int_eq(net_write_full(fd, hello, len), 0);
}

/*
 * The test's own reading of the server's first flight: the extension order
 * by where the two extensions sit, and the ApplicationData bytes until
 * 500 ms of quiet.
 */
static void
raw_flight(uint16_t port, int *versions_first, size_t *sum)
{
	static const uint8_t sv[] = { 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04 };
	static const uint8_t ks[] = { 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d };
	uint8_t hdr[5], body[TLS_CIPHERTEXT_MAX];
	const uint8_t *psv, *pks;
	int64_t end = net_now_ms() + 3000;
	size_t len;
	int fd;

	ck_assert_int_eq(connect_local(port, &fd), 0);
	send_hello(fd);
	ck_assert_int_eq(net_read_full(fd, hdr, 5, end), 0);
	ck_assert_uint_eq(hdr[0], 0x16);
	len = (size_t)hdr[3] << 8 | hdr[4];
	ck_assert_int_eq(net_read_full(fd, body, len, end), 0);
	psv = memmem(body, len, sv, sizeof(sv));
	pks = memmem(body, len, ks, sizeof(ks));
	ck_assert_ptr_nonnull(psv);
	ck_assert_ptr_nonnull(pks);
	*versions_first = psv < pks;
	*sum = 0;
	while (net_read_full(fd, hdr, 5, net_now_ms() + 500) == 0) {
		len = (size_t)hdr[3] << 8 | hdr[4];
		ck_assert_int_eq(net_read_full(fd, body, len, end), 0);
		if (hdr[0] == 0x17)
			*sum += len;
		else
			ck_assert_uint_eq(hdr[0], 0x14);
	}
	close(fd);
}

START_TEST(real_tls13_server)
{
	char dir[] = "/tmp/test_mask.XXXXXX", cert[64], key[64];
	char *version[] = { "openssl", "version", NULL };
	char *req[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048",
	    "-nodes", "-subj", "/CN=" DOMAIN, "-days", "1", "-keyout", key,
	    "-out", cert, NULL };
	struct sockaddr_in peer = v4("192.0.2.1", 1000);
	struct sockaddr_in local = v4("127.0.0.1", 443);
	struct config cfg;
	struct mask *m = NULL;
	uint8_t hdr[5];
	int64_t deadline;
	uint16_t port;
	pid_t pid;
	size_t sum;
	int fd, vf;

	if (run(version, 5000) != 0) {
		itest_skip("no openssl binary: no real TLS server checks");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	/* RSA-PSS signatures have one size: every flight is the same. */
	ck_assert_int_eq(run(req, 30000), 0);
	port = closed_port();
	pid = start_s_server(cert, key, port);
	deadline = net_now_ms() + 5000;
	while (connect_local(port, &fd) != 0) {
		ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
		ck_assert_int_lt(net_now_ms(), deadline);
		usleep(20000);
	}
	close(fd);

	raw_flight(port, &vf, &sum);
	ck_assert_uint_gt(sum, 0);
	cfg_for(&cfg, "127.0.0.1", port, 0);
	ck_assert_int_eq(mask_new(&cfg, &m), 0);
	check_sizes(m, 1, vf, sum - 2, sum + 2);

	/* mask_connect reaches the same server: it answers a hello. */
	ck_assert_int_eq(mask_connect(m, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local, &fd), 0);
	send_hello(fd);
	ck_assert_int_eq(net_read_full(fd, hdr, 5, net_now_ms() + 3000), 0);
	ck_assert_uint_eq(hdr[0], 0x16);
	ck_assert_uint_eq(hdr[1], 0x03);
	close(fd);
	mask_free(m);

	stop_child(pid);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}
END_TEST

static Suite *
mask_suite(void)
{
	Suite *s = suite_create("mask");
	TCase *probe = tcase_create("probe");
	TCase *thread = tcase_create("thread");
	TCase *conn = tcase_create("connect");
	TCase *real = tcase_create("real");

	tcase_add_test(probe, learns_key_share_first);
	tcase_add_test(probe, learns_versions_first_capped);
	tcase_add_test(probe, learns_group_and_pause);
	tcase_add_test(probe, learns_at_most_max_records);
	tcase_add_test(probe, odd_replies_fall_back);
	tcase_add_test(probe, unreachable_falls_back);
	tcase_add_test(probe, unresolvable_has_no_target);
	tcase_add_test(probe, no_domains);
	tcase_add_test(thread, reprobe_swaps_shape);
	tcase_add_test(thread, free_is_prompt);
	tcase_add_test(conn, connect_plain);
	tcase_add_test(conn, connect_proxy_v1);
	tcase_add_test(conn, connect_proxy_v2_ipv6);
	tcase_add_test(conn, connect_bad_peer);
	tcase_add_test(real, real_tls13_server);
	tcase_set_timeout(probe, 30);
	tcase_set_timeout(thread, 30);
	tcase_set_timeout(conn, 30);
	tcase_set_timeout(real, 60);
	suite_add_tcase(s, probe);
	suite_add_tcase(s, thread);
	suite_add_tcase(s, conn);
	suite_add_tcase(s, real);
	return s;
}

Suite *
ckmain_suite(void)
{
	return mask_suite();
}
