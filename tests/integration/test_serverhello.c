/*
 * ServerHello fidelity (doc/PROTOCOL.md 3.4): the real mtproxyd answers a
 * good hello with the reply the cover site itself gives the same hello,
 * byte class by byte class - record headers and lengths, versions, the
 * session id echoed, the suite, the extensions in the cover's order with
 * their lengths, the key share's group and length, the CCS, the
 * ApplicationData bytes (one record carrying what the cover sends in its
 * first flight, give or take the jitter) and whether the CCS comes in the
 * ServerHello's segment or after a pause. Against openssl s_server (which
 * picks x25519 unless it has ML-KEM) and against the harness's scripted
 * cover that picks X25519MLKEM768 when offered, with a hello offering
 * x25519 only and one offering the hybrid first. A hello with no share
 * the reply could carry is the cover's to answer: it gets the cover's own
 * bytes through the mask, never a group it did not offer.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bytes.h"
#include "ckmain.h"
#include "client.h"
#include "cover.h"
#include "crypto.h"
#include "daemon.h"
#include "faketls.h"
#include "itest.h"
#include "proto.h"
#include "tclock.h"

#define DOMAIN		"cover.test"
#define ALICE_HEX	"5d1e0c4b3a29180f7e6d5c4b3a291807"
#define QUIET_MS	700	/* the first flight is all there */
#define FLIGHT_MAX	(64 * 1024)
#define MAX_EXTS	8
#define MAX_APP		16
#define SIZE_SLACK	4	/* the reply's jitter, and the cover's own
				   (an ECDSA signature's length varies) */
#define GAP_MS		120	/* the scripted cover's pause before its CCS */
#define HELLO_MAX	FAKETLS_PQ_BUILD_MAX
#define PICKS_LINE	"picks X25519MLKEM768: "

static const char *const secrets[] = { ALICE_HEX };

/* One reply to a hello, as it came: bytes and the CCS's timing. */
struct flight {
	uint8_t buf[FLIGHT_MAX];
	size_t n;
	int split;		/* nothing waiting right after the ServerHello */
	int64_t gap_ms;		/* then, until the next byte */
	/* The classes compared. */
	const uint8_t *sh;	/* the ServerHello message */
	size_t sh_len;
	struct faketls_server_info si;
	size_t nexts;
	uint16_t ext_type[MAX_EXTS];
	size_t ext_len[MAX_EXTS];
	int ccs;		/* the CCS record follows, byte for byte */
	size_t napp, app_sum;
	size_t app[MAX_APP];
};

static void
loopback(uint16_t port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
}

static int
wait_in(int fd, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t left = deadline - tclock_now_ms();

	return left > 0 && poll(&p, 1, (int)left) == 1;
}

static void
read_exact(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	ssize_t r;

	while (n > 0) {
		ck_assert_msg(wait_in(fd, deadline), "no reply in time");
		r = recv(fd, p, n, MSG_DONTWAIT);
		ck_assert_msg(r > 0 || (r < 0 && errno == EAGAIN),
		    "reply cut: %zd", r);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		}
	}
}

/* Everything else until the line goes quiet or closes. */
static void
read_rest(int fd, struct flight *f, int64_t deadline)
{
	ssize_t r;

	while (f->n < sizeof(f->buf) && wait_in(fd, tclock_now_ms() +
	    QUIET_MS) && tclock_now_ms() < deadline) {
		r = recv(fd, f->buf + f->n, sizeof(f->buf) - f->n,
		    MSG_DONTWAIT);
		if (r <= 0 && !(r < 0 && errno == EAGAIN))
			break;
		if (r > 0)
			f->n += (size_t)r;
	}
}

/*
 * Send hello to port, read the ServerHello record, see whether more is
 * waiting at once (as the probe does) and how long it takes if not, then
 * the rest of the flight.
 */
static void
exchange(uint16_t port, const uint8_t *hello, size_t len, struct flight *f)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS, t0;
	struct sockaddr_in sin;
	uint8_t b;
	int fd;

	memset(f, 0, sizeof(*f));
	loopback(port, &sin);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(send(fd, hello, len, MSG_NOSIGNAL), (ssize_t)len);
	read_exact(fd, f->buf, TLS_RECORD_HEADER_LEN, deadline);
	ck_assert_msg(f->buf[0] == TLS_RECORD_HANDSHAKE, "record type %u",
	    f->buf[0]);
	f->n = TLS_RECORD_HEADER_LEN + bytes_be16(f->buf + 3);
	read_exact(fd, f->buf + TLS_RECORD_HEADER_LEN,
	    f->n - TLS_RECORD_HEADER_LEN, deadline);
	t0 = tclock_now_ms();
	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 1) {
		f->split = 1;
		ck_assert(wait_in(fd, deadline));
		f->gap_ms = tclock_now_ms() - t0;
	}
	read_rest(fd, f, deadline);
	close(fd);
}

static void
parse_extensions(struct flight *f)
{
	size_t off = TLS_HS_HEADER_LEN + 2 + TLS_RANDOM_LEN, end;

	off += 1 + f->sh[off] + 2 + 1;
	ck_assert_uint_le(off + 2, f->sh_len);
	end = off + 2 + bytes_be16(f->sh + off);
	ck_assert_uint_eq(end, f->sh_len);
	for (off += 2; off < end; off += 4 + f->ext_len[f->nexts++]) {
		ck_assert_uint_lt(f->nexts, MAX_EXTS);
		f->ext_type[f->nexts] = bytes_be16(f->sh + off);
		f->ext_len[f->nexts] = bytes_be16(f->sh + off + 2);
	}
}

/* ServerHello, CCS, ApplicationData records up to the end exactly. */
static void
parse_flight(struct flight *f)
{
	size_t off, len;

	ck_assert_mem_eq(f->buf, "\x16\x03\x03", 3);
	f->sh = f->buf + TLS_RECORD_HEADER_LEN;
	f->sh_len = bytes_be16(f->buf + 3);
	ck_assert_int_eq(faketls_server_hello_info(f->sh, f->sh_len, &f->si),
	    0);
	ck_assert(!f->si.hrr);
	parse_extensions(f);
	off = TLS_RECORD_HEADER_LEN + f->sh_len;
	ck_assert_uint_ge(f->n, off + FAKETLS_CCS_LEN);
	f->ccs = memcmp(f->buf + off, FAKETLS_CCS, FAKETLS_CCS_LEN) == 0;
	off += f->ccs ? FAKETLS_CCS_LEN : 0;
	while (off < f->n) {
		ck_assert_uint_le(off + TLS_RECORD_HEADER_LEN, f->n);
		ck_assert_mem_eq(f->buf + off, "\x17\x03\x03", 3);
		len = bytes_be16(f->buf + off + 3);
		ck_assert_uint_lt(f->napp, MAX_APP);
		f->app[f->napp++] = len;
		f->app_sum += len;
		off += TLS_RECORD_HEADER_LEN + len;
	}
	ck_assert_uint_eq(off, f->n);
	ck_assert_uint_ge(f->napp, 1);
}

/*
 * The proxy's reply p against the cover's c, class by class, and that the
 * client with the secret accepts it.
 */
static void
compare(struct flight *c, struct flight *p, const uint8_t *hello,
    const uint8_t *key)
{
	size_t i, sid, used;

	parse_flight(c);
	parse_flight(p);
	sid = c->sh[TLS_HS_HEADER_LEN + 2 + TLS_RANDOM_LEN];
	/* Record header, handshake header, legacy version: same bytes. */
	ck_assert_mem_eq(p->buf, c->buf, TLS_RECORD_HEADER_LEN + 6);
	/* Session id (the hello's, echoed), suite, compression. */
	ck_assert_mem_eq(p->sh + 38, c->sh + 38, 1 + sid + 3);
	ck_assert_mem_eq(p->sh + 39, hello + 44, sid);
	ck_assert_uint_eq(p->nexts, c->nexts);
	for (i = 0; i < c->nexts; i++) {
		ck_assert_uint_eq(p->ext_type[i], c->ext_type[i]);
		ck_assert_uint_eq(p->ext_len[i], c->ext_len[i]);
	}
	ck_assert_uint_eq(p->si.group, c->si.group);
	ck_assert_uint_eq(p->si.share_len, c->si.share_len);
	ck_assert_int_eq(p->si.versions_first, c->si.versions_first);
	ck_assert(c->ccs && p->ccs);
	/* TDLib reads one record: it carries the cover's first flight. */
	ck_assert_uint_eq(p->napp, 1);
	ck_assert_uint_le(p->app[0], c->app_sum + SIZE_SLACK);
	ck_assert_uint_ge(p->app[0] + SIZE_SLACK, c->app_sum);
	ck_assert_int_eq(p->split, c->split);
	if (c->split)
		ck_assert_int_ge(p->gap_ms, c->gap_ms / 2);
	ck_assert_int_eq(faketls_reply_verify(key, hello + 11, 1, p->buf,
	    p->n, &used), 0);
	ck_assert_uint_eq(used, p->n);
}

/* A hello signed with key, offering the hybrid first when asked. */
static size_t
hello_for(const uint8_t *key, int hybrid, uint8_t *out)
{
	struct faketls_client_rand r;
	uint8_t priv[TLS_X25519_LEN], pq[FAKETLS_PQ_SHARE_LEN];
	size_t n = 0;

	if (!hybrid) {
		ck_assert_int_eq(tclient_tls_hello_build(key, DOMAIN, 0, 0, out,
		    HELLO_MAX, &n), 0);
		return n;
	}
	ck_assert_int_eq(crypto_random(r.session_id, sizeof(r.session_id)), 0);
	ck_assert_int_eq(crypto_random(r.grease, sizeof(r.grease)), 0);
	ck_assert_int_eq(crypto_random(priv, sizeof(priv)), 0);
	ck_assert_int_eq(crypto_x25519_public(priv, r.key_share), 0);
	ck_assert_int_eq(crypto_random(pq, sizeof(pq)), 0);
	memcpy(pq + FAKETLS_MLKEM768_EK_LEN, r.key_share, TLS_X25519_LEN);
	ck_assert_int_eq(faketls_hello_build_pq(key, DOMAIN,
	    (uint32_t)time(NULL), &r, pq, out, HELLO_MAX, &n), 0);
	return n;
}

/*
 * The same hello with its x25519 share's group made a GREASE one (x25519
 * stays in supported_groups: a real server would ask for that share), then
 * signed again as a client would.
 */
static void
drop_x25519_share(const uint8_t *key, uint8_t *hello, size_t n)
{
	static const uint8_t entry[] = { 0x00, 0x1d, 0x00, 0x20 };
	uint8_t d[32];
	size_t i;
	uint32_t ts = (uint32_t)time(NULL);

	/* The share list's last entry: after the hybrid's random bytes. */
	for (i = n - sizeof(entry); i > 0; i--)
		if (memcmp(hello + i, entry, sizeof(entry)) == 0)
			break;
	ck_assert_uint_gt(i, 0);
	hello[i] = hello[i + 1] = 0x5a;
	memset(hello + 11, 0, TLS_RANDOM_LEN);
	ck_assert_int_eq(crypto_hmac_sha256(key, SECRET_LEN, hello, n, d), 0);
	bytes_put_le32(d + 28, bytes_le32(d + 28) ^ ts);
	memcpy(hello + 11, d, TLS_RANDOM_LEN);
}

static struct daemon_proc *
proxy_start(uint16_t cover_port)
{
	struct daemon_proc *d = NULL;
	char conf[1024];
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "handshake_timeout = 2\n"
	    "dc_pool = 0\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:9\n"
	    "[tls]\n"
	    "domain = " DOMAIN "\n"
	    "mask_host = 127.0.0.1\n"
	    "mask_port = %u\n"
	    "mask_probe_interval = 0\n", (unsigned)cover_port);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	return d;
}

/* The cover's reply and the proxy's to the same kind of hello. */
static void
same_reply(struct daemon_proc *d, uint16_t cover_port, const uint8_t *key,
    int hybrid, uint16_t want_group)
{
	uint16_t port = (uint16_t)daemon_port(d, AF_INET);
	uint8_t hello[HELLO_MAX];
	struct flight *c = malloc(sizeof(*c)), *p = malloc(sizeof(*p));
	size_t n;

	ck_assert(c != NULL && p != NULL);
	n = hello_for(key, hybrid, hello);
	exchange(cover_port, hello, n, c);
	exchange(port, hello, n, p);
	compare(c, p, hello, key);
	ck_assert_uint_eq(p->si.group, want_group);
	ck_assert_uint_eq(p->si.share_len, want_group == TLS_GROUP_X25519 ?
	    TLS_X25519_LEN : FAKETLS_PQ_REPLY_SHARE_LEN);
	free(c);
	free(p);
}

/*
 * openssl s_server: x25519 for both hellos (unless this openssl has
 * ML-KEM; then what it picks), and the log says which.
 */
START_TEST(mirrors_openssl)
{
	struct cover *cv = NULL;
	struct daemon_proc *d;
	struct flight *f = malloc(sizeof(*f));
	uint8_t key[SECRET_LEN], hello[HELLO_MAX];
	uint16_t pq_group;
	int rc = cover_start(&cv, DOMAIN, ITEST_IO_MS);

	if (rc == COVER_ERR_NOOPENSSL) {
		itest_skip("no openssl in PATH: no cover site");
		free(f);
		return;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(f);
	itest_key(ALICE_HEX, key);
	/* What this openssl picks for the hybrid hello decides the line. */
	exchange(cover_port(cv), hello, hello_for(key, 1, hello), f);
	parse_flight(f);
	pq_group = f->si.group;
	d = proxy_start(cover_port(cv));
	ck_assert_int_eq(daemon_log_contains(d, PICKS_LINE "no"),
	    pq_group != FAKETLS_GROUP_X25519MLKEM768);
	same_reply(d, cover_port(cv), key, 0, TLS_GROUP_X25519);
	same_reply(d, cover_port(cv), key, 1, pq_group);
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	cover_stop(cv);
	free(f);
}
END_TEST

static const struct cover_tls scripted[] = {
	/* Hybrid, versions first, the CCS after a pause, three records. */
	{ 1, 1, GAP_MS, 3, { 1000, 2500, 300 } },
	/* x25519 only, key_share first, all in one segment. */
	{ 0, 0, 0, 1, { 3100 } },
	/* Hybrid, key_share first, one segment. */
	{ 1, 0, 0, 2, { 4000, 36 } },
};

/* _i: the scripted cover's way of answering; both kinds of hello. */
START_TEST(mirrors_scripted)
{
	const struct cover_tls *t = &scripted[_i];
	struct cover *cv = NULL;
	struct daemon_proc *d;
	uint8_t key[SECRET_LEN];

	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(cover_start_tls(&cv, t), 0);
	d = proxy_start(cover_port(cv));
	ck_assert_int_eq(daemon_log_contains(d, PICKS_LINE "yes"), t->hybrid);
	ck_assert_int_eq(daemon_log_contains(d, PICKS_LINE "no"), !t->hybrid);
	same_reply(d, cover_port(cv), key, 0, TLS_GROUP_X25519);
	same_reply(d, cover_port(cv), key, 1, t->hybrid ?
	    FAKETLS_GROUP_X25519MLKEM768 : TLS_GROUP_X25519);
	ck_assert_int_eq(itest_counter(d, "handshakes", ITEST_IO_MS), 0);
	ck_assert_int_eq(itest_counter(d, "masked", ITEST_IO_MS), 0);
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	cover_stop(cv);
}
END_TEST

/*
 * _i 0: a cover that does not pick the hybrid; 1: one that does. A hello
 * whose only share is the hybrid's: the first gets the cover's own answer
 * (an alert: it would ask for x25519) through the mask, counted as
 * tls_group; the second the hybrid reply.
 */
START_TEST(hybrid_share_only)
{
	struct cover_tls t = { _i, 0, 0, 1, { 2000 } };
	struct cover *cv = NULL;
	struct daemon_proc *d;
	struct sockaddr_in sin;
	uint8_t key[SECRET_LEN], hello[HELLO_MAX], direct[64], via[64];
	struct flight *f = malloc(sizeof(*f));
	size_t n, dn, vn;
	int dclosed, vclosed;

	ck_assert_ptr_nonnull(f);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(cover_start_tls(&cv, &t), 0);
	d = proxy_start(cover_port(cv));
	n = hello_for(key, 1, hello);
	drop_x25519_share(key, hello, n);
	if (_i) {
		exchange((uint16_t)daemon_port(d, AF_INET), hello, n, f);
		parse_flight(f);
		ck_assert_uint_eq(f->si.group, FAKETLS_GROUP_X25519MLKEM768);
		ck_assert_int_eq(itest_counter(d, "masked", ITEST_IO_MS), 0);
	} else {
		loopback(cover_port(cv), &sin);
		ck_assert_int_eq(cover_exchange((struct sockaddr *)&sin,
		    sizeof(sin), hello, n, direct, sizeof(direct), &dn,
		    &dclosed, QUIET_MS, ITEST_IO_MS), 0);
		ck_assert_uint_eq(dn, 7);
		loopback((uint16_t)daemon_port(d, AF_INET), &sin);
		ck_assert_int_eq(cover_exchange((struct sockaddr *)&sin,
		    sizeof(sin), hello, n, via, sizeof(via), &vn, &vclosed,
		    QUIET_MS, ITEST_IO_MS), 0);
		ck_assert_uint_eq(vn, dn);
		ck_assert_mem_eq(via, direct, dn);
		itest_wait_counter(d, "rejected{reason=\"tls_group\"}", 1,
		    ITEST_IO_MS, ITEST_IO_MS);
		ck_assert_int_eq(itest_counter(d, "masked", ITEST_IO_MS), 1);
	}
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	cover_stop(cv);
	free(f);
}
END_TEST

static Suite *
serverhello_suite(void)
{
	Suite *s = suite_create("serverhello");
	TCase *tc = tcase_create("mirror");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, mirrors_openssl);
	tcase_add_loop_test(tc, mirrors_scripted, 0,
	    sizeof(scripted) / sizeof(scripted[0]));
	tcase_add_loop_test(tc, hybrid_share_only, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return serverhello_suite();
}
