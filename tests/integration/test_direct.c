/*
 * mtproxyd in direct mode, end to end: the real binary ($MTPROXYD_BIN)
 * between the test client and the fake DC (echo), all on loopback. What a
 * client sends must come back byte for byte through the proxy whatever the
 * transport, user, fast mode, DC id, address family or number of clients.
 * One-way sessions (a DC that only sends, or only takes) tell the two
 * directions apart, which an echo cannot: counters, idle clock, fast mode.
 * Every test starts its own fake DCs and daemon and ends with SIGTERM and
 * exit status 0, which a sanitizer report (leak, race) would change; the
 * daemon's log must never carry a secret outside the printed links.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/evp.h>

#include "ckmain.h"
#include "client.h"
#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "proto.h"
#include "tclock.h"

/* Generous: the suite also runs under ASan and TSan, several times slower. */

#define CONF_MAX	2048
#define MSG_MAX		FRAME_MAX_LEN
#define MSG_SLACK	1024	/* messages start at small offsets into one
				   random buffer */

/* Users of every test; the secrets are arbitrary, unlike any other bytes. */
#define ALICE_HEX	"3f5c0a9e71d2b8e46a0c9f13d7e2584b"
#define BOB_HEX		"b04e1d7a92c63f58e1a07d4c2b9f6e35"

enum user { ALICE, BOB, NUSERS };

static const char *const user_names[NUSERS] = { "alice", "bob" };
static const char *const user_hex[NUSERS] = { ALICE_HEX, BOB_HEX };

static const uint32_t tags[] = {
	[FRAME_ABRIDGED] = PROTO_TAG_ABRIDGED,
	[FRAME_INTERMEDIATE] = PROTO_TAG_INTERMEDIATE,
	[FRAME_PADDED] = PROTO_TAG_PADDED,
};

static int
ipv6_loopback_works(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int fd, ok;

	a.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* --- the daemon */

/*
 * The DC counters the tests check count client sessions only: no warm
 * connections unless a test asks for them.
 */
static const char *
no_pool(const char *server_extra)
{
	return strstr(server_extra, "dc_pool") != NULL ? "" : "dc_pool = 0\n";
}

/*
 * Start mtproxyd with both users and both client modes, sessions idle for
 * idle_s seconds closed. server_extra goes into [server], dc_lines into [dc]
 * (each ending in a newline).
 */
static struct daemon_proc *
proxy_start_idle(const char *listen, int fast, int idle_s,
    const char *server_extra, const char *dc_lines)
{
	struct daemon_proc *d = NULL;
	char conf[CONF_MAX];
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = %s\n"
	    "log_level = debug\n"
	    "modes = classic, secure\n"
	    "fast_mode = %s\n"
	    "handshake_timeout = 10\n"
	    "idle_timeout = %d\n"
	    "shutdown_grace = 5\n"
	    "state_dir = @DIR@\n"
	    "%s%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "[dc]\n"
	    "%s",
	    listen, fast ? "yes" : "no", idle_s, no_pool(server_extra),
	    server_extra, dc_lines);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	/* The setting took: both fast-mode variants are really exercised. */
	ck_assert_int_eq(daemon_wait_log(d, "running: mode direct",
	    ITEST_IO_MS), 0);
	ck_assert_int_eq(daemon_log_contains(d, "running: mode direct (fast)"),
	    fast);
	return d;
}

static struct daemon_proc *
proxy_start(const char *listen, int fast, const char *server_extra,
    const char *dc_lines)
{
	return proxy_start_idle(listen, fast, 60, server_extra, dc_lines);
}

/*
 * SIGUSR1 and the report it writes. The last line of a report is the last
 * user's last counter.
 */
static char *
stats_report(struct daemon_proc *d)
{
	return itest_stats(d, "user_bytes_out{user=\"bob\"}", ITEST_IO_MS);
}

static unsigned long long
stats_user(const char *report, const char *counter, enum user u)
{
	char name[96];

	snprintf(name, sizeof(name), "%s{user=\"%s\"}", counter,
	    user_names[u]);
	return itest_stats_value(report, name);
}

/*
 * A report in which counter name has reached value. The daemon bumps some
 * counters just after the event a test can see (a relay adds its bytes after
 * writing them, a session counts its handshake after sending the DC its
 * header), so a test waits for them.
 */
static char *
stats_wait(struct daemon_proc *d, const char *name, unsigned long long value)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	char *report;

	for (;;) {
		report = stats_report(d);
		if (itest_stats_value(report, name) == value)
			return report;
		free(report);
		ck_assert_msg(tclock_now_ms() < deadline,
		    "stats: %s never reached %llu", name, value);
		tclock_sleep_ms(50);
	}
}

/* A report once every session has ended: byte counters are final. */
static char *
stats_when_idle(struct daemon_proc *d)
{
	return stats_wait(d, "active", 0);
}

/* --- clients */

static struct tclient *
client_open(struct daemon_proc *d, int family, enum user u,
    enum frame_transport t, int16_t dcid)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, family, &ss, &len), 0);
	itest_key(user_hex[u], key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key, t,
	    dcid, ITEST_IO_MS, &c), 0);
	return c;
}

/*
 * Send msg[0..len) and check its echo: the same bytes, plus for the padded
 * transport the sender's 0..15 padding bytes. Returns the bytes the frame
 * took on the wire (the echo takes as many).
 */
static size_t
echo_one(struct tclient *c, enum frame_transport t, const uint8_t *msg,
    size_t len, int quickack, uint8_t *got)
{
	size_t n = 0;

	ck_assert_int_eq(tclient_send(c, msg, len, quickack), 0);
	ck_assert_int_eq(tclient_recv(c, got, MSG_MAX, &n, ITEST_IO_MS), 0);
	ck_assert_uint_ge(n, len);
	ck_assert_uint_le(n - len, t == FRAME_PADDED ? PADDED_MAX_PAD : 0);
	ck_assert_mem_eq(got, msg, len);
	return itest_framed_len(t, n);
}

/* Several frames in flight before any echo is read. */
static size_t
echo_burst(struct tclient *c, enum frame_transport t, const uint8_t *msg,
    uint8_t *got, unsigned *frames)
{
	enum { BURST = 16 };
	size_t i, n = 0, wire = 0;

	for (i = 1; i <= BURST; i++)
		ck_assert_int_eq(tclient_send(c, msg + i, 4 * i, 0), 0);
	for (i = 1; i <= BURST; i++) {
		ck_assert_int_eq(tclient_recv(c, got, MSG_MAX, &n, ITEST_IO_MS),
		    0);
		ck_assert_uint_ge(n, 4 * i);
		ck_assert_uint_le(n - 4 * i,
		    t == FRAME_PADDED ? PADDED_MAX_PAD : 0);
		ck_assert_mem_eq(got, msg + i, 4 * i);
		wire += itest_framed_len(t, n);
	}
	*frames += BURST;
	return wire;
}

static void
check_header(const struct fakedc *dc, enum frame_transport t, int16_t dcid)
{
	uint32_t tag = 0;
	int16_t got = 0;

	fakedc_last_header(dc, &tag, &got);
	ck_assert_uint_eq(tag, tags[t]);
	ck_assert_int_eq(got, dcid);
}

/* --- tests */

/*
 * _i: transport (_i % 3), fast mode (_i / 3). Every size class of the
 * transport through the proxy, quick-ack frames, a burst, and user bob on a
 * second connection.
 */
START_TEST(echo_transports)
{
	static const size_t sizes[] = { 4, 8, 12, 504, 508, 512, 4096, 65536,
	    1000000, FRAME_MAX_LEN };
	static const size_t qa_sizes[] = { 8, 508, 4096 };
	static const size_t bob_sizes[] = { 4, 512, 65536 };
	enum frame_transport t = (enum frame_transport)(_i % 3);
	int fast = _i / 3;
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(MSG_MAX + MSG_SLACK);
	uint8_t *got = malloc(MSG_MAX);
	struct daemon_proc *d;
	struct tclient *c;
	char dcs[128], needle[128];
	unsigned frames = 0;
	uint64_t wire = 0;
	size_t i, len;

	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	d = proxy_start("127.0.0.1", fast, "", dcs);

	c = client_open(d, AF_INET, ALICE, t, 2);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		len = sizes[i];
		/* The padded body, padding included, must fit a frame. */
		if (t == FRAME_PADDED)
			ck_assert_int_eq(tclient_set_padding(c,
			    len + PADDED_MAX_PAD > FRAME_MAX_LEN ? 0 : -1), 0);
		wire += echo_one(c, t, msg + i, len, 0, got);
		frames++;
	}
	for (i = 0; i < sizeof(qa_sizes) / sizeof(qa_sizes[0]); i++) {
		wire += echo_one(c, t, msg + 100 + i, qa_sizes[i], 1, got);
		frames++;
	}
	wire += echo_burst(c, t, msg + 200, got, &frames);
	check_header(dc, t, 2);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_QUICKACKS), 3);

	tclient_close(c);
	c = client_open(d, AF_INET, BOB, t, 2);
	for (i = 0; i < sizeof(bob_sizes) / sizeof(bob_sizes[0]); i++) {
		wire += echo_one(c, t, msg + 300 + i, bob_sizes[i], i == 1,
		    got);
		frames++;
	}
	check_header(dc, t, 2);
	tclient_close(c);

	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_QUICKACKS), 4);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_FRAMES), frames);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), wire);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 2);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BAD_FRAMES), 0);
	/* A client that leaves takes its DC connection with it. */
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	/* Each connection was told apart by its secret. */
	snprintf(needle, sizeof(needle), ": connected to DC 2 at 127.0.0.1:%u",
	    fakedc_port(dc));
	ck_assert_int_eq(daemon_log_count(d, needle), 2);
	ck_assert_int_eq(daemon_log_count(d, "user=alice: connected to DC 2"),
	    1);
	ck_assert_int_eq(daemon_log_count(d, "user=bob: connected to DC 2"), 1);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

struct dc_case {
	int16_t id;
	int to_b;		/* served by DC 4 (the default), not DC 2 */
	int unknown;
};

/*
 * DC 2 and DC 4 are two fake DCs, default_dc = 4. A media id uses its
 * positive id's entry; an id not in the table goes to the default with a
 * log line. The DC sees the client's tag and DC id in the proxy's header.
 */
START_TEST(dc_ids)
{
	static const struct dc_case cases[] = {
		{ 2, 0, 0 }, { -2, 0, 0 }, { 4, 1, 0 }, { -4, 1, 0 },
		{ 99, 1, 1 }, { 20002, 1, 1 }, { -99, 1, 1 },
	};
	struct fakedc *dca = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct fakedc *dcb = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(4096), *got = malloc(MSG_MAX);
	uint64_t headers[2] = { 0, 0 };
	struct daemon_proc *d;
	struct fakedc *dc;
	struct tclient *c;
	char dcs[128], needle[128];
	enum frame_transport t;
	size_t i;
	int unknown = 0;

	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n4 = 127.0.0.1:%u\n",
	    fakedc_port(dca), fakedc_port(dcb));
	d = proxy_start("127.0.0.1", 1, "default_dc = 4\n", dcs);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = (enum frame_transport)(i % 3);
		dc = cases[i].to_b ? dcb : dca;
		c = client_open(d, AF_INET, (enum user)(i % 2), t, cases[i].id);
		echo_one(c, t, msg + i, 4 * (i + 1), 0, got);
		headers[cases[i].to_b]++;
		ck_assert_uint_eq(fakedc_counter(dca, FAKEDC_HEADERS),
		    headers[0]);
		ck_assert_uint_eq(fakedc_counter(dcb, FAKEDC_HEADERS),
		    headers[1]);
		check_header(dc, t, cases[i].id);
		snprintf(needle, sizeof(needle), "user=%s: connected to DC %d "
		    "at 127.0.0.1:%u", user_names[i % 2], cases[i].to_b ? 4 : 2,
		    fakedc_port(dc));
		ck_assert_int_eq(daemon_wait_log(d, needle, ITEST_IO_MS), 0);
		if (cases[i].unknown) {
			unknown++;
			snprintf(needle, sizeof(needle), "unknown DC %d, using "
			    "default DC 4", cases[i].id);
			ck_assert_int_eq(daemon_wait_log(d, needle,
			    ITEST_IO_MS), 0);
		}
		ck_assert_int_eq(daemon_log_count(d, "unknown DC"), unknown);
		tclient_close(c);
	}
	ck_assert_int_eq(fakedc_wait(dca, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dcb, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dca);
	fakedc_stop(dcb);
	free(msg);
	free(got);
}
END_TEST

/* --- many clients at once */

#define MANY_WORKERS	4
#define MANY_PER_WORKER	64
#define MANY_CLIENTS	(MANY_WORKERS * MANY_PER_WORKER)
#define MANY_ROUNDS	4
#define MANY_MAX_LEN	4096

struct worker {
	const struct sockaddr_storage *addr;
	socklen_t alen;
	pthread_barrier_t *barrier;
	int first;			/* global index of its first client */
	int failed;
	char err[160];
	uint64_t wire[NUSERS];		/* framed bytes each way, per user */
	unsigned clients[NUSERS];
};

static void
worker_fail(struct worker *w, int idx, const char *what, int rc)
{
	if (w->failed++ == 0)
		snprintf(w->err, sizeof(w->err), "client %d: %s (%d)", idx,
		    what, rc);
}

/* The mix of transports, users and DC ids, from the client's index. */
static enum frame_transport
many_transport(int idx)
{
	return (enum frame_transport)(idx % 3);
}

static enum user
many_user(int idx)
{
	return (enum user)(idx / 3 % 2);
}

static void
worker_rounds(struct worker *w, struct tclient **c, uint8_t *sent,
    uint8_t *got)
{
	size_t len[MANY_PER_WORKER], n;
	uint16_t r;
	int i, rc, round, idx;

	for (round = 0; round < MANY_ROUNDS && !w->failed; round++) {
		for (i = 0; i < MANY_PER_WORKER; i++) {
			idx = w->first + i;
			if (crypto_random((uint8_t *)&r, sizeof(r)) != 0 ||
			    crypto_random(sent + i * MANY_MAX_LEN,
			    MANY_MAX_LEN) != 0) {
				worker_fail(w, idx, "random", -1);
				return;
			}
			len[i] = 4 * (1 + r % (MANY_MAX_LEN / 4));
			if ((rc = tclient_send(c[i], sent + i * MANY_MAX_LEN,
			    len[i], 0)) != 0) {
				worker_fail(w, idx, "send", rc);
				return;
			}
		}
		for (i = 0; i < MANY_PER_WORKER; i++) {
			idx = w->first + i;
			rc = tclient_recv(c[i], got,
			    MANY_MAX_LEN + PADDED_MAX_PAD, &n, ITEST_IO_MS);
			if (rc != 0) {
				worker_fail(w, idx, "recv", rc);
				return;
			}
			if (n < len[i] || n - len[i] >
			    (many_transport(idx) == FRAME_PADDED ?
			    PADDED_MAX_PAD : 0u) ||
			    memcmp(got, sent + i * MANY_MAX_LEN, len[i]) != 0) {
				worker_fail(w, idx, "echo differs", (int)n);
				return;
			}
			w->wire[many_user(idx)] +=
			    itest_framed_len(many_transport(idx), n);
		}
	}
}

/*
 * Connect every client, meet the others (and the main thread, which checks
 * that all are open at once), exchange the rounds, close.
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct tclient *c[MANY_PER_WORKER] = { NULL };
	uint8_t *sent = malloc(MANY_PER_WORKER * MANY_MAX_LEN);
	uint8_t *got = malloc(MANY_MAX_LEN + PADDED_MAX_PAD);
	uint8_t key[NUSERS][SECRET_LEN];
	int i, rc, idx;

	itest_key(user_hex[ALICE], key[ALICE]);
	itest_key(user_hex[BOB], key[BOB]);
	if (sent == NULL || got == NULL)
		worker_fail(w, w->first, "out of memory", -1);
	for (i = 0; i < MANY_PER_WORKER && !w->failed; i++) {
		idx = w->first + i;
		rc = tclient_connect((const struct sockaddr *)w->addr, w->alen,
		    key[many_user(idx)], many_transport(idx),
		    idx % 2 ? 2 : -2, ITEST_IO_MS, &c[i]);
		if (rc != 0)
			worker_fail(w, idx, "connect", rc);
		else
			w->clients[many_user(idx)]++;
	}
	pthread_barrier_wait(w->barrier);
	pthread_barrier_wait(w->barrier);
	if (!w->failed)
		worker_rounds(w, c, sent, got);
	for (i = 0; i < MANY_PER_WORKER; i++)
		tclient_close(c[i]);
	free(sent);
	free(got);
	return NULL;
}

/* _i: fast mode. MANY_CLIENTS sessions open together, every echo intact. */
START_TEST(many_clients)
{
	struct worker w[MANY_WORKERS];
	pthread_t th[MANY_WORKERS];
	pthread_barrier_t barrier;
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct sockaddr_storage ss;
	struct daemon_proc *d;
	uint64_t wire[NUSERS] = { 0, 0 }, total;
	unsigned clients[NUSERS] = { 0, 0 };
	char dcs[64], *report;
	socklen_t alen;
	int i, u;

	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	d = proxy_start("127.0.0.1", _i, "", dcs);
	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &alen), 0);
	ck_assert_int_eq(pthread_barrier_init(&barrier, NULL,
	    MANY_WORKERS + 1), 0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < MANY_WORKERS; i++) {
		w[i].addr = &ss;
		w[i].alen = alen;
		w[i].barrier = &barrier;
		w[i].first = i * MANY_PER_WORKER;
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main,
		    &w[i]), 0);
	}
	pthread_barrier_wait(&barrier);
	/* Between the barriers the workers write nothing. */
	for (i = 0; i < MANY_WORKERS; i++)
		ck_assert_msg(!w[i].failed, "%s", w[i].err);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_HEADERS, MANY_CLIENTS,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_OPEN), MANY_CLIENTS);
	report = stats_wait(d, "handshakes", MANY_CLIENTS);
	ck_assert_uint_eq(itest_stats_value(report, "active"), MANY_CLIENTS);
	free(report);
	pthread_barrier_wait(&barrier);
	for (i = 0; i < MANY_WORKERS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(!w[i].failed, "%s", w[i].err);
		for (u = 0; u < NUSERS; u++) {
			wire[u] += w[i].wire[u];
			clients[u] += w[i].clients[u];
		}
	}
	pthread_barrier_destroy(&barrier);
	total = wire[ALICE] + wire[BOB];
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_FRAMES),
	    MANY_CLIENTS * MANY_ROUNDS);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), total);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), MANY_CLIENTS);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	report = stats_when_idle(d);
	ck_assert_uint_eq(itest_stats_value(report, "accepted"), MANY_CLIENTS);
	ck_assert_uint_eq(itest_stats_value(report, "bytes_in"), total);
	ck_assert_uint_eq(itest_stats_value(report, "bytes_out"), total);
	for (u = 0; u < NUSERS; u++) {
		ck_assert_uint_eq(stats_user(report, "user_connections",
		    (enum user)u), clients[u]);
		ck_assert_uint_eq(stats_user(report, "user_bytes_in",
		    (enum user)u), wire[u]);
	}
	free(report);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
}
END_TEST

/*
 * Clients over IPv4 and IPv6 to DCs over either: DC 2 is on ::1, DC 4 on
 * 127.0.0.1, DC 3 has both and prefer_ipv6 picks ::1.
 */
struct ip_case {
	int client_family;
	int16_t id;
	int on_v6;		/* served by the ::1 fake DC */
};

START_TEST(ipv6)
{
	static const struct ip_case cases[] = {
		{ AF_INET6, 2, 1 }, { AF_INET, 2, 1 }, { AF_INET6, 4, 0 },
		{ AF_INET, 3, 1 }, { AF_INET6, -3, 1 },
	};
	static const size_t sizes[] = { 4, 508, 65536 };
	struct fakedc *dc6, *dc4, *dc;
	uint8_t *msg, *got;
	uint64_t headers[2] = { 0, 0 };
	struct daemon_proc *d;
	struct tclient *c;
	char dcs[192], needle[128];
	enum frame_transport t;
	size_t i, j;

	if (!ipv6_loopback_works()) {
		itest_skip("::1 cannot be bound here");
		return;
	}
	dc6 = itest_fakedc(AF_INET6, FAKEDC_ECHO);
	dc4 = itest_fakedc(AF_INET, FAKEDC_ECHO);
	msg = itest_random_bytes(65536 + 64);
	got = malloc(MSG_MAX);
	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = [::1]:%u\n4 = 127.0.0.1:%u\n"
	    "3 = 127.0.0.1:%u, [::1]:%u\n", fakedc_port(dc6),
	    fakedc_port(dc4), fakedc_port(dc4), fakedc_port(dc6));
	d = proxy_start("127.0.0.1, [::1]", 1, "prefer_ipv6 = yes\n", dcs);
	ck_assert_uint_ne(daemon_port(d, AF_INET6), 0);
	ck_assert_uint_ne(daemon_port(d, AF_INET), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (t = FRAME_ABRIDGED; t <= FRAME_PADDED; t++) {
			dc = cases[i].on_v6 ? dc6 : dc4;
			c = client_open(d, cases[i].client_family,
			    (enum user)(t % 2), t, cases[i].id);
			for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
				echo_one(c, t, msg + j, sizes[j], 0, got);
			headers[cases[i].on_v6]++;
			ck_assert_uint_eq(fakedc_counter(dc6, FAKEDC_HEADERS),
			    headers[1]);
			ck_assert_uint_eq(fakedc_counter(dc4, FAKEDC_HEADERS),
			    headers[0]);
			check_header(dc, t, cases[i].id);
			tclient_close(c);
		}
	}
	snprintf(needle, sizeof(needle), "connected to DC 2 at [::1]:%u",
	    fakedc_port(dc6));
	ck_assert_int_eq(daemon_log_count(d, needle), 6);
	snprintf(needle, sizeof(needle), "connected to DC 3 at [::1]:%u",
	    fakedc_port(dc6));
	ck_assert_int_eq(daemon_log_count(d, needle), 6);
	ck_assert_int_eq(fakedc_wait(dc6, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dc4, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc6);
	fakedc_stop(dc4);
	free(msg);
	free(got);
}
END_TEST

/*
 * _i: fast mode (DC->client bytes spliced, not copied). Known traffic from
 * alice (two connections) and bob (one): SIGUSR1 reports exactly the bytes
 * each way, in total and per user.
 */
START_TEST(byte_counters)
{
	static const struct {
		enum user u;
		enum frame_transport t;
		size_t sizes[4];
	} conns[] = {
		{ ALICE, FRAME_INTERMEDIATE, { 4, 1000, 65536, 12 } },
		{ BOB, FRAME_PADDED, { 8, 512, 4096, 200000 } },
		{ ALICE, FRAME_ABRIDGED, { 504, 508, 4, 32768 } },
	};
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(200000 + 16), *got = malloc(MSG_MAX);
	uint64_t wire[NUSERS] = { 0, 0 };
	struct daemon_proc *d;
	struct tclient *c;
	char dcs[64], *report;
	size_t i, j;
	int u;

	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	d = proxy_start("127.0.0.1", _i, "", dcs);
	for (i = 0; i < sizeof(conns) / sizeof(conns[0]); i++) {
		c = client_open(d, AF_INET, conns[i].u, conns[i].t, 2);
		for (j = 0; j < 4; j++)
			wire[conns[i].u] += echo_one(c, conns[i].t, msg + j,
			    conns[i].sizes[j], j == 0, got);
		tclient_close(c);
	}
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	report = stats_when_idle(d);
	ck_assert_uint_eq(itest_stats_value(report, "accepted"), 3);
	ck_assert_uint_eq(itest_stats_value(report, "handshakes"), 3);
	ck_assert_uint_eq(itest_stats_value(report, "unknown_dc"), 0);
	ck_assert_uint_eq(itest_stats_value(report, "bytes_in"),
	    wire[ALICE] + wire[BOB]);
	ck_assert_uint_eq(itest_stats_value(report, "bytes_out"),
	    wire[ALICE] + wire[BOB]);
	ck_assert_uint_eq(itest_stats_value(report,
	    "rejected{reason=\"bad_secret\"}"), 0);
	for (u = 0; u < NUSERS; u++) {
		ck_assert_uint_eq(stats_user(report, "user_connections",
		    (enum user)u), u == ALICE ? 2 : 1);
		ck_assert_uint_eq(stats_user(report, "user_active",
		    (enum user)u), 0);
		ck_assert_uint_eq(stats_user(report, "user_bytes_in",
		    (enum user)u), wire[u]);
		ck_assert_uint_eq(stats_user(report, "user_bytes_out",
		    (enum user)u), wire[u]);
	}
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN),
	    wire[ALICE] + wire[BOB]);
	free(report);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

/* --- one-way sessions */

#define ONEWAY_LEN	(8 * 1024 * 1024)
#define WIRE_LEN	(1024 * 1024)
/* Slow sessions: a chunk every 200 ms for 5 s, over twice idle_timeout. */
#define SLOW_IDLE_S	2
#define SLOW_CHUNK	4096
#define SLOW_EVERY_MS	200
#define SLOW_CHUNKS	25
#define SLOW_LEN	(SLOW_CHUNK * SLOW_CHUNKS)
#define BULK_CHUNK	65536	/* fills a buffer: the stream is busy */
#define BULK_LEN	(BULK_CHUNK * 16)
/* The daemon's idle clock starts a little before the client sees the last
   byte; the close may come that much earlier than idle_timeout. */
#define IDLE_SLACK_MS	500

/*
 * A fake DC that sends len bytes of the pattern of seed under its DC->proxy
 * cipher, chunk bytes every every_ms (0, 0: as fast as they are taken).
 */
static struct fakedc *
pattern_dc(uint64_t seed, uint64_t len, size_t chunk, int every_ms)
{
	struct fakedc_opts o = { .family = AF_INET, .mode = FAKEDC_SOURCE,
	    .pattern = 1, .seed = seed, .source_len = len,
	    .source_chunk = chunk, .source_interval_ms = every_ms };
	struct fakedc *dc = NULL;

	ck_assert_int_eq(fakedc_start(&o, &dc), 0);
	return dc;
}

static void
read_exact(struct tclient *c, uint8_t *buf, size_t len, int crypt)
{
	size_t got = 0, n;

	while (got < len) {
		ck_assert_int_eq(tclient_read_raw(c, buf + got, len - got, &n,
		    crypt, ITEST_IO_MS), 0);
		got += n;
	}
}

/* Nothing more arrives for a while. */
static void
check_quiet(struct tclient *c)
{
	uint8_t b;
	size_t n;

	ck_assert_int_eq(tclient_read_raw(c, &b, 1, &n, 0, 200),
	    TCLIENT_ERR_TIMEOUT);
}

/* The client decrypts exactly the len bytes of the pattern of seed. */
static void
read_pattern(struct tclient *c, uint64_t seed, size_t len)
{
	uint8_t *got = malloc(len), *want = malloc(len);

	ck_assert(got != NULL && want != NULL);
	read_exact(c, got, len, 1);
	fakedc_pattern(seed, 0, want, len);
	ck_assert_mem_eq(got, want, len);
	free(got);
	free(want);
}

/*
 * The session's one line at its end, at info: alice's, ended for reason, in
 * transport t to DC 2 with exactly up and down bytes; no other session
 * ended.
 */
static void
check_end_line(struct daemon_proc *d, const char *reason,
    enum frame_transport t, uint64_t up, uint64_t down)
{
	char needle[256];

	snprintf(needle, sizeof(needle), "INFO s1 127.0.0.1:");
	ck_assert_int_eq(daemon_log_count(d, needle), 1);
	snprintf(needle, sizeof(needle), "user=alice: session ends: reason=%s "
	    "transport=%s tls=no dc=2 up=%llu down=%llu duration=", reason,
	    frame_transport_name(t), (unsigned long long)up,
	    (unsigned long long)down);
	ck_assert_int_eq(daemon_log_count(d, needle), 1);
	ck_assert_int_eq(daemon_log_count(d, "session ends"), 1);
}

/*
 * The end of a test with one client (alice) and one DC connection, which
 * took exactly up bytes and sent exactly down: the client leaves, and once
 * the session has ended the daemon counts the same each way, in its
 * counters and in the session's last line (ended for reason, in transport
 * t); bob, nothing. Stops the daemon and the DC.
 */
static void
oneway_end(struct daemon_proc *d, struct fakedc *dc, struct tclient *c,
    uint64_t up, uint64_t down, const char *reason, enum frame_transport t)
{
	char *report;

	/* The DC counts a send after it returns: maybe after our read. */
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_IN, up, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_OUT, down, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), up);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_OUT), down);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), 1);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	report = stats_when_idle(d);
	ck_assert_uint_eq(itest_stats_value(report, "handshakes"), 1);
	ck_assert_uint_eq(itest_stats_value(report, "bytes_in"), up);
	ck_assert_uint_eq(itest_stats_value(report, "bytes_out"), down);
	ck_assert_uint_eq(stats_user(report, "user_bytes_in", ALICE), up);
	ck_assert_uint_eq(stats_user(report, "user_bytes_out", ALICE), down);
	ck_assert_uint_eq(stats_user(report, "user_bytes_in", BOB), 0);
	ck_assert_uint_eq(stats_user(report, "user_bytes_out", BOB), 0);
	free(report);
	check_end_line(d, reason, t, up, down);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
}

/*
 * With nothing moving either way the session ends after idle_timeout, not
 * before: the slow sessions did outlive it only because bytes kept moving.
 */
static void
check_idle_close(struct tclient *c)
{
	int64_t start = tclock_now_ms();

	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	ck_assert_int_ge(tclock_now_ms() - start,
	    SLOW_IDLE_S * 1000 - IDLE_SLACK_MS);
}

static struct daemon_proc *
proxy_for(const struct fakedc *dc, int fast, int idle_s)
{
	char dcs[64];

	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	return proxy_start_idle("127.0.0.1", fast, idle_s, "", dcs);
}

/*
 * _i: fast mode. The DC only sends: the client gets its bytes exactly,
 * counted down and not up (the client sends nothing after its header, and
 * the header is not counted).
 */
START_TEST(download_only)
{
	const uint64_t seed = 0xd0a1 + (uint64_t)_i;
	struct fakedc *dc = pattern_dc(seed, ONEWAY_LEN, 0, 0);
	struct daemon_proc *d = proxy_for(dc, _i, 60);
	struct tclient *c = client_open(d, AF_INET, ALICE, FRAME_INTERMEDIATE,
	    2);

	read_pattern(c, seed, ONEWAY_LEN);
	check_quiet(c);
	oneway_end(d, dc, c, 0, ONEWAY_LEN, "client_closed",
	    FRAME_INTERMEDIATE);
}
END_TEST

/* _i: fast mode. The DC only takes: exactly the client's bytes, counted up. */
START_TEST(upload_only)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_SINK);
	struct daemon_proc *d = proxy_for(dc, _i, 60);
	struct tclient *c = client_open(d, AF_INET, ALICE, FRAME_ABRIDGED, 2);
	uint8_t *data = itest_random_bytes(ONEWAY_LEN);

	ck_assert_int_eq(tclient_write_raw(c, data, ONEWAY_LEN, 1), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_IN, ONEWAY_LEN,
	    ITEST_IO_MS), 0);
	check_quiet(c);
	oneway_end(d, dc, c, ONEWAY_LEN, 0, "client_closed",
	    FRAME_ABRIDGED);
	free(data);
}
END_TEST

/*
 * A DC answering slowly for longer than idle_timeout while the client says
 * nothing: downloads alone keep the session up, every byte arrives; in
 * fast mode such small bursts are copied, not spliced.
 */
START_TEST(slow_download)
{
	const uint64_t seed = 0x510d;
	struct fakedc *dc = pattern_dc(seed, SLOW_LEN, SLOW_CHUNK,
	    SLOW_EVERY_MS);
	struct daemon_proc *d = proxy_for(dc, 1, SLOW_IDLE_S);
	int64_t start = tclock_now_ms();
	struct tclient *c = client_open(d, AF_INET, ALICE, FRAME_PADDED, 2);

	read_pattern(c, seed, SLOW_LEN);
	/* A few KiB now and then is copied: no pipe, even in fast mode. */
	ck_assert_int_eq(itest_counter(d, "relay_pipes", ITEST_IO_MS), 0);
	ck_assert_int_ge(tclock_now_ms() - start,
	    (SLOW_CHUNKS - 1) * SLOW_EVERY_MS);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_OPEN), 1);
	check_idle_close(c);
	oneway_end(d, dc, c, 0, SLOW_LEN, "idle", FRAME_PADDED);
}
END_TEST

/* A client uploading slowly for longer than idle_timeout, the DC silent. */
START_TEST(slow_upload)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_SINK);
	struct daemon_proc *d = proxy_for(dc, 1, SLOW_IDLE_S);
	struct tclient *c = client_open(d, AF_INET, ALICE, FRAME_INTERMEDIATE,
	    2);
	uint8_t *data = itest_random_bytes(SLOW_LEN);
	int i;

	for (i = 0; i < SLOW_CHUNKS; i++) {
		if (i > 0)
			tclock_sleep_ms(SLOW_EVERY_MS);
		ck_assert_int_eq(tclient_write_raw(c, data + i * SLOW_CHUNK,
		    SLOW_CHUNK, 1), 0);
	}
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_IN, SLOW_LEN,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_OPEN), 1);
	check_idle_close(c);
	oneway_end(d, dc, c, SLOW_LEN, 0, "idle", FRAME_INTERMEDIATE);
	free(data);
}
END_TEST

static void
reverse(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = in[len - 1 - i];
}

/*
 * The server->client key and iv a header implies (doc/PROTOCOL.md 1.2; without
 * a secret, 1.5), worked out here with OpenSSL rather than src/obfs2.c so
 * that a derivation bug shared by the daemon and the harness shows.
 */
static void
s2c_cipher(const uint8_t hdr[OBFS2_HEADER_LEN], const uint8_t *secret,
    uint8_t key[32], uint8_t iv[16])
{
	uint8_t r[48], seed[32 + SECRET_LEN];
	unsigned int n = 0;

	reverse(hdr + 8, sizeof(r), r);
	memcpy(iv, r + 32, 16);
	if (secret == NULL) {
		memcpy(key, r, 32);
		return;
	}
	memcpy(seed, r, 32);
	memcpy(seed + 32, secret, SECRET_LEN);
	ck_assert_int_eq(EVP_Digest(seed, sizeof(seed), key, &n, EVP_sha256(),
	    NULL), 1);
	ck_assert_uint_eq(n, 32);
}

/* AES-256-CTR from keystream offset 0 (doc/PROTOCOL.md conventions). */
static void
ctr_apply(const uint8_t key[32], const uint8_t iv[16], const uint8_t *in,
    uint8_t *out, size_t len)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(EVP_EncryptInit_ex(x, EVP_aes_256_ctr(), NULL, key,
	    iv), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(x, out, &n, in, (int)len), 1);
	ck_assert_int_eq(n, (int)len);
	EVP_CIPHER_CTX_free(x);
}

/*
 * _i: fast mode, checked on the wire rather than by its log line. On: the
 * DC's header carries the client's server->client key and iv reversed, and
 * the client's socket gets the DC's ciphertext untouched. Off: neither, and
 * the plaintext is the same.
 */
START_TEST(fast_mode_wire)
{
	const uint64_t seed = 0xfa57 + (uint64_t)_i;
	struct fakedc *dc = pattern_dc(seed, WIRE_LEN, 0, 0);
	struct daemon_proc *d = proxy_for(dc, _i, 60);
	struct tclient *c = client_open(d, AF_INET, ALICE, FRAME_PADDED, 2);
	uint8_t secret[SECRET_LEN], dch[OBFS2_HEADER_LEN];
	uint8_t ckey[32], civ[16], kiv[48], material[48], dkey[32], div[16];
	uint8_t *plain = malloc(WIRE_LEN), *sent = malloc(WIRE_LEN);
	uint8_t *raw = malloc(WIRE_LEN);

	ck_assert(plain != NULL && sent != NULL && raw != NULL);
	itest_key(ALICE_HEX, secret);
	s2c_cipher(tclient_header(c), secret, ckey, civ);
	memcpy(kiv, ckey, 32);
	memcpy(kiv + 32, civ, 16);
	reverse(kiv, sizeof(kiv), material);
	read_exact(c, raw, WIRE_LEN, 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 1);
	fakedc_last_header_raw(dc, dch);
	fakedc_pattern(seed, 0, plain, WIRE_LEN);
	s2c_cipher(dch, NULL, dkey, div);
	ctr_apply(dkey, div, plain, sent, WIRE_LEN);
	if (_i) {
		ck_assert_mem_eq(dch + 8, material, sizeof(material));
		ck_assert_mem_eq(raw, sent, WIRE_LEN);
	} else {
		ck_assert_int_ne(memcmp(dch + 8, material, sizeof(material)),
		    0);
		ck_assert_int_ne(memcmp(raw, sent, WIRE_LEN), 0);
	}
	ctr_apply(ckey, civ, raw, raw, WIRE_LEN);
	ck_assert_mem_eq(raw, plain, WIRE_LEN);
	oneway_end(d, dc, c, 0, WIRE_LEN, "client_closed", FRAME_PADDED);
	free(plain);
	free(sent);
	free(raw);
}
END_TEST

/* --- relay buffers */

/* relay_buffers and relay_pipes of one report. */
static void
relay_held(struct daemon_proc *d, unsigned long long *buffers,
    unsigned long long *pipes)
{
	char *report = stats_report(d);

	*buffers = itest_stats_value(report, "relay_buffers");
	*pipes = itest_stats_value(report, "relay_pipes");
	free(report);
}

/*
 * _i: fast mode. A session holds relay buffers only while bytes move, on
 * the directions that move them: a paced bulk download holds one for the
 * DC->client direction (in fast mode a pipe, the bytes spliced), none for
 * the silent client->DC one; quiet, the session keeps going with none; a
 * paced upload then holds one again, client->DC. Every byte exact and
 * counted once each way.
 */
START_TEST(buffers_follow_bytes)
{
	const uint64_t seed = 0xb0ff + (uint64_t)_i;
	struct fakedc *dc = pattern_dc(seed, BULK_LEN, BULK_CHUNK,
	    SLOW_EVERY_MS);
	struct daemon_proc *d = proxy_for(dc, _i, 60);
	struct tclient *c = client_open(d, AF_INET, ALICE, FRAME_PADDED, 2);
	uint8_t *data = itest_random_bytes(BULK_LEN), *got = malloc(BULK_LEN);
	unsigned long long buffers, pipes;
	int i;

	ck_assert_ptr_nonnull(got);
	read_exact(c, got, BULK_LEN / 2, 1);
	relay_held(d, &buffers, &pipes);
	ck_assert_uint_eq(pipes, (unsigned)_i);
	ck_assert_uint_eq(buffers, (unsigned)!_i);
	read_exact(c, got + BULK_LEN / 2, BULK_LEN - BULK_LEN / 2, 1);
	fakedc_pattern(seed, 0, data, BULK_LEN);
	ck_assert_mem_eq(got, data, BULK_LEN);
	itest_wait_counter(d, "relay_pipes", 0, ITEST_IO_MS, ITEST_IO_MS);
	itest_wait_counter(d, "relay_buffers", 0, ITEST_IO_MS, ITEST_IO_MS);
	ck_assert_int_eq(itest_counter(d, "active", ITEST_IO_MS), 1);
	for (i = 0; i < SLOW_CHUNKS; i++) {
		if (i > 0)
			tclock_sleep_ms(SLOW_EVERY_MS);
		ck_assert_int_eq(tclient_write_raw(c, data + i * SLOW_CHUNK,
		    SLOW_CHUNK, 1), 0);
		ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_IN,
		    (uint64_t)(i + 1) * SLOW_CHUNK, ITEST_IO_MS), 0);
		if (i != SLOW_CHUNKS / 2)
			continue;
		relay_held(d, &buffers, &pipes);
		ck_assert_uint_eq(buffers, 1);
		ck_assert_uint_eq(pipes, 0);
	}
	itest_wait_counter(d, "relay_buffers", 0, ITEST_IO_MS, ITEST_IO_MS);
	oneway_end(d, dc, c, SLOW_LEN, BULK_LEN, "client_closed",
	    FRAME_PADDED);
	free(data);
	free(got);
}
END_TEST

/* --- the DC pool (dc_pool) */

/* A few echoes of different sizes, checked; the wire bytes they took. */
static uint64_t
echo_some(struct tclient *c, enum frame_transport t, const uint8_t *msg,
    uint8_t *got)
{
	static const size_t sizes[] = { 4, 508, 4096, 65536 };
	uint64_t wire = 0;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		wire += echo_one(c, t, msg + i, sizes[i], 0, got);
	return wire;
}

static int
log_count_dc(struct daemon_proc *d, int dcid, const struct fakedc *dc,
    const char *tail)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "connected to DC %d at 127.0.0.1:%u%s",
	    dcid, fakedc_port(dc), tail);
	return daemon_log_count(d, needle);
}

/*
 * _i: fast mode. The first client of DC 2 connects itself and has the
 * pool filled behind it; the next (media DC -2, another user and
 * transport) goes out on a pooled connection: the DC gets that client's
 * header and DC id on it, every byte comes back intact both ways, and the
 * pool is topped up again. DC 3 shares nothing with DC 2's pool.
 */
START_TEST(pool_sessions)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct fakedc *dc3 = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(MSG_MAX + MSG_SLACK);
	uint8_t *got = malloc(MSG_MAX);
	struct daemon_proc *d;
	struct tclient *c;
	char dcs[128];
	uint64_t wire;

	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n3 = 127.0.0.1:%u\n",
	    fakedc_port(dc), fakedc_port(dc3));
	d = proxy_start("127.0.0.1", _i, "dc_pool = 2\n", dcs);
	/* Filled only for a DC that a client asked for. */
	tclock_sleep_ms(300);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), 0);

	c = client_open(d, AF_INET, ALICE, FRAME_INTERMEDIATE, 2);
	wire = echo_some(c, FRAME_INTERMEDIATE, msg, got);
	tclient_close(c);
	ck_assert_int_eq(log_count_dc(d, 2, dc, "\n"), 1);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_ACCEPTED, 3, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 2, ITEST_IO_MS), 0);

	c = client_open(d, AF_INET, BOB, FRAME_PADDED, -2);
	wire += echo_some(c, FRAME_PADDED, msg + 50, got);
	check_header(dc, FRAME_PADDED, -2);
	ck_assert_int_eq(log_count_dc(d, 2, dc, " (pooled)"), 1);
	ck_assert_int_eq(daemon_log_count(d, "user=bob: connected to DC 2 at"),
	    1);
	/* The pool's own connections sent nothing: one header per client. */
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 2);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), wire);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_ACCEPTED, 4, ITEST_IO_MS), 0);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 2, ITEST_IO_MS), 0);

	c = client_open(d, AF_INET, ALICE, FRAME_ABRIDGED, 3);
	wire = echo_some(c, FRAME_ABRIDGED, msg + 100, got);
	check_header(dc3, FRAME_ABRIDGED, 3);
	tclient_close(c);
	ck_assert_int_eq(log_count_dc(d, 3, dc3, "\n"), 1);
	ck_assert_uint_eq(fakedc_counter(dc3, FAKEDC_BYTES_IN), wire);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 2);
	ck_assert_int_eq(fakedc_wait(dc3, FAKEDC_OPEN, 2, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), 4);

	/* A stopping daemon closes what it kept. */
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dc3, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	fakedc_stop(dc);
	fakedc_stop(dc3);
	free(msg);
	free(got);
}
END_TEST

/*
 * Wait until the DC has exactly open connections and no new one for a
 * while: the pool is full (it connects at once when short), and no
 * connection of the last refill is still on its way.
 */
static void
pool_settled(const struct fakedc *dc, uint64_t open)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	uint64_t seen;

	for (;;) {
		ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, open,
		    ITEST_IO_MS), 0);
		seen = fakedc_counter(dc, FAKEDC_ACCEPTED);
		tclock_sleep_ms(300);
		if (fakedc_counter(dc, FAKEDC_ACCEPTED) == seen &&
		    fakedc_counter(dc, FAKEDC_OPEN) == open)
			return;
		ck_assert_msg(tclock_now_ms() < deadline, "the pool never "
		    "settled at %llu connections", (unsigned long long)open);
	}
}

/*
 * The DC closes the pooled connections and a client comes at once, before
 * the pool's periodic check: it must not get a closed one.
 */
START_TEST(pool_dc_closed)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(MSG_MAX + MSG_SLACK);
	uint8_t *got = malloc(MSG_MAX);
	struct daemon_proc *d;
	struct tclient *c;
	char dcs[64];
	int round;

	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	d = proxy_start("127.0.0.1", 0, "dc_pool = 2\n", dcs);
	c = client_open(d, AF_INET, ALICE, FRAME_PADDED, 2);
	echo_some(c, FRAME_PADDED, msg, got);
	tclient_close(c);
	for (round = 0; round < 3; round++) {
		pool_settled(dc, 2);
		fakedc_close_all(dc);
		ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS),
		    0);
		c = client_open(d, AF_INET, ALICE, FRAME_PADDED, 2);
		echo_some(c, FRAME_PADDED, msg + round, got);
		tclient_close(c);
	}
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 4);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BAD_FRAMES), 0);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

/* Unused connections are replaced at dc_pool_max_age, the count kept. */
START_TEST(pool_max_age)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(MSG_MAX + MSG_SLACK);
	uint8_t *got = malloc(MSG_MAX);
	struct daemon_proc *d;
	struct tclient *c;
	char dcs[64];

	ck_assert_ptr_nonnull(got);
	snprintf(dcs, sizeof(dcs), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	d = proxy_start("127.0.0.1", 0, "dc_pool = 2\ndc_pool_max_age = 1\n",
	    dcs);
	c = client_open(d, AF_INET, ALICE, FRAME_PADDED, 2);
	echo_some(c, FRAME_PADDED, msg, got);
	tclient_close(c);
	/* 1 client + 2 + 2 replacements, about a second later. */
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_ACCEPTED, 5, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 2, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 1);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

static Suite *
direct_suite(void)
{
	Suite *s = suite_create("direct");
	TCase *echo = tcase_create("echo"), *route = tcase_create("route");
	TCase *load = tcase_create("load"), *count = tcase_create("counters");
	TCase *oneway = tcase_create("oneway"), *pool = tcase_create("pool");

	tcase_set_timeout(echo, ITEST_CASE_S);
	tcase_set_timeout(route, ITEST_CASE_S);
	tcase_set_timeout(load, ITEST_CASE_S);
	tcase_set_timeout(count, ITEST_CASE_S);
	tcase_add_loop_test(echo, echo_transports, 0, 6);
	tcase_add_test(route, dc_ids);
	tcase_add_test(route, ipv6);
	tcase_add_loop_test(load, many_clients, 0, 2);
	tcase_add_loop_test(count, byte_counters, 0, 2);
	tcase_set_timeout(oneway, ITEST_CASE_S);
	tcase_add_loop_test(oneway, download_only, 0, 2);
	tcase_add_loop_test(oneway, upload_only, 0, 2);
	tcase_add_test(oneway, slow_download);
	tcase_add_test(oneway, slow_upload);
	tcase_add_loop_test(oneway, fast_mode_wire, 0, 2);
	tcase_add_loop_test(oneway, buffers_follow_bytes, 0, 2);
	suite_add_tcase(s, echo);
	suite_add_tcase(s, route);
	suite_add_tcase(s, load);
	suite_add_tcase(s, count);
	tcase_set_timeout(pool, ITEST_CASE_S);
	tcase_add_loop_test(pool, pool_sessions, 0, 2);
	tcase_add_test(pool, pool_dc_closed);
	tcase_add_test(pool, pool_max_age);
	suite_add_tcase(s, oneway);
	suite_add_tcase(s, pool);
	return s;
}

Suite *
ckmain_suite(void)
{
	return direct_suite();
}
