/*
 * Faults and limits, end to end: the real mtproxyd ($MTPROXYD_BIN) on
 * loopback between the test client and the fake DC. A probe or a refused
 * client must get silence and a close at the handshake deadline, never an
 * early answer; a DC that refuses or goes silent, clients that vanish,
 * max_clients, running out of descriptors (refused at once, one warning),
 * SIGTERM and the idle timeout must each end with the daemon
 * holding no more descriptors or threads than before, exiting 0, and never
 * logging a secret. Counters are read from the SIGUSR1 dump.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "obfs2.h"
#include "secret.h"
#include "tclock.h"

#define SETTLE_MS	5000	/* for fds, threads and counters to settle */
#define HANDSHAKE_S	2
/* A close "at the deadline": not this much before it, at most LATE after. */
#define EARLY_MS	200
#define LATE_MS		2000
#define PROMPT_MS	2000	/* a close that should be immediate */
#define MAX_WATCH	64
#define HS_WARN_MS	10000	/* failed handshakes: a line per address */

/* Distinctive secrets, so that a leak into the log cannot hide. */
#define ALICE_HEX	"5f3a9c0e7b2d4618a0c3e5f7091b2d4f"
#define BOB_HEX		"c0ffee00d15ea5e5deadbeef8badf00d"
#define WRONG_HEX	"00112233445566778899aabbccddeeff"

struct env {
	struct fakedc *dc;
	struct daemon_proc *d;
	pid_t pid;
	struct sockaddr_storage ss;
	socklen_t len;
};

/* The links printed at start-up carry them on purpose; no other line may. */
#define NSECRETS	2
static const char *const secrets[NSECRETS] = { ALICE_HEX, BOB_HEX };

static void
env_start_port(struct env *e, uint16_t dcport, const char *extra)
{
	char conf[2048];

	snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "handshake_timeout = %d\n"
	    "dc_pool = 0\n"		/* the DC counts client sessions only */
	    "%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n", HANDSHAKE_S, extra, (unsigned)dcport);
	ck_assert_int_eq(daemon_start(&e->d, conf, NULL, ITEST_START_MS), 0);
	e->pid = daemon_pid(e->d);
	ck_assert_int_eq(daemon_addr(e->d, AF_INET, &e->ss, &e->len), 0);
}

static void
env_start(struct env *e, enum fakedc_mode mode, const char *extra)
{
	struct fakedc_opts o = { .family = AF_INET, .mode = mode };

	ck_assert_int_eq(fakedc_start(&o, &e->dc), 0);
	env_start_port(e, fakedc_port(e->dc), extra);
}

static void
env_stop(struct env *e)
{
	itest_stop(e->d, secrets, NSECRETS, ITEST_STOP_MS);
	fakedc_stop(e->dc);
}

/* Connect with the secret in hex (any), asking for DC dc. */
static int
client_try(const struct env *e, const char *hex, enum frame_transport t,
    int16_t dc, struct tclient **c)
{
	uint8_t key[SECRET_LEN];

	ck_assert_int_eq(secret_parse_key(hex, key), 0);
	return tclient_connect((const struct sockaddr *)&e->ss, e->len, key, t,
	    dc, ITEST_IO_MS, c);
}

static struct tclient *
client_open(const struct env *e, const char *hex, enum frame_transport t)
{
	struct tclient *c;

	ck_assert_int_eq(client_try(e, hex, t, 2, &c), 0);
	return c;
}

/* One message through the proxy and the echo DC, back byte for byte. */
static void
echo_ok(struct tclient *c, size_t len)
{
	uint8_t msg[4096], got[4096 + PADDED_MAX_PAD];
	size_t n;

	ck_assert_uint_le(len, sizeof(msg));
	ck_assert_int_eq(crypto_random(msg, len), 0);
	ck_assert_int_eq(tclient_send(c, msg, len, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS), 0);
	ck_assert_uint_ge(n, len);
	ck_assert_uint_le(n - len, PADDED_MAX_PAD);
	ck_assert_mem_eq(got, msg, len);
}

static struct tclient *
echo_client(const struct env *e)
{
	struct tclient *c = client_open(e, ALICE_HEX, FRAME_PADDED);

	echo_ok(c, 256);
	return c;
}

/*
 * Watch n connections until the daemon closes each one, failing on any
 * byte received or on one still open max_ms after t0; at[i] gets the ms
 * from t0 to its close.
 */
static void
watch_closes(struct tclient **c, int n, int64_t t0, int max_ms, int64_t *at)
{
	struct pollfd p[MAX_WATCH];
	uint8_t buf[4096];
	int64_t wait;
	ssize_t got;
	int i, open = n;

	ck_assert_int_le(n, MAX_WATCH);
	for (i = 0; i < n; i++) {
		p[i].fd = tclient_fd(c[i]);
		p[i].events = POLLIN;
		at[i] = -1;
	}
	while (open > 0) {
		wait = t0 + max_ms - tclock_now_ms();
		ck_assert_msg(wait > 0, "%d connection(s) still open %d ms on",
		    open, max_ms);
		if (poll(p, (nfds_t)n, (int)wait) < 0) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			got = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			ck_assert_msg(got <= 0, "connection %d received %zd "
			    "byte(s)", i, got);
			if (got < 0 && errno != ECONNRESET)
				continue;
			at[i] = tclock_now_ms() - t0;
			p[i].fd = -1;
			open--;
		}
	}
}

static int64_t
watch_close(struct tclient *c, int64_t t0, int max_ms)
{
	int64_t at;

	watch_closes(&c, 1, t0, max_ms, &at);
	return at;
}

/* 1 if the daemon closed c within ms (without a byte), else 0. */
static int
closed_within(struct tclient *c, int ms)
{
	struct pollfd p = { .fd = tclient_fd(c), .events = POLLIN };
	uint8_t buf[64];
	ssize_t got;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	got = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_msg(got <= 0, "received %zd unexpected byte(s)", got);
	return got == 0 || errno == ECONNRESET;
}

/* Counter name (as in "stats: NAME VALUE") from a fresh SIGUSR1 report. */
static long long
counter(const struct env *e, const char *name)
{
	return itest_counter(e->d, name, ITEST_IO_MS);
}

static void
wait_counter(const struct env *e, const char *name, long long want)
{
	itest_wait_counter(e->d, name, want, ITEST_IO_MS, SETTLE_MS);
}

static void
wait_fds(const struct env *e, int want)
{
	int64_t deadline = tclock_now_ms() + SETTLE_MS;
	int n;

	while ((n = daemon_count_fds(e->pid)) != want) {
		ck_assert_msg(tclock_now_ms() < deadline, "daemon has %d fds, "
		    "expected %d", n, want);
		tclock_sleep_ms(20);
	}
}

static void
wait_threads_at_most(const struct env *e, int max)
{
	int64_t deadline = tclock_now_ms() + SETTLE_MS;
	int n;

	while ((n = daemon_count_threads(e->pid)) > max) {
		ck_assert_msg(tclock_now_ms() < deadline,
		    "daemon has %d threads, expected at most %d", n, max);
		tclock_sleep_ms(20);
	}
}

#define R_BAD_SECRET	"rejected{reason=\"bad_secret\"}"
#define R_TIMEOUT	"rejected{reason=\"handshake_timeout\"}"
#define R_MODE		"rejected{reason=\"mode_refused\"}"
#define R_DC		"rejected{reason=\"dc_unreachable\"}"
#define R_MAX		"rejected{reason=\"max_clients\"}"
#define R_EVICTED	"rejected{reason=\"evicted\"}"
#define R_NO_FD		"rejected{reason=\"no_fd\"}"

/* Random bytes that no configured secret turns into a valid header. */
static void
garbage(uint8_t *buf, size_t len)
{
	uint8_t keys[2][SECRET_LEN];
	struct obfs2_result r;
	int i;

	ck_assert_uint_ge(len, OBFS2_HEADER_LEN);
	ck_assert_int_eq(secret_parse_key(ALICE_HEX, keys[0]), 0);
	ck_assert_int_eq(secret_parse_key(BOB_HEX, keys[1]), 0);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(crypto_random(buf, len), 0);
		if (obfs2_parse(buf, (const uint8_t (*)[SECRET_LEN])keys, 2,
		    &r) == OBFS2_ERR_NOMATCH)
			return;
	}
	ck_abort_msg("random bytes kept matching a secret");
}

/*
 * _i: 0 another secret's header and a message, 1 random bytes, 2 half a
 * header then silence. No byte back, the DC never contacted, the close at
 * the handshake deadline, counted under the right reason.
 */
START_TEST(probe_held_until_deadline)
{
	static const uint8_t msg[64] = "a message that must go nowhere";
	uint8_t junk[200];
	struct env e;
	struct tclient *c;
	int64_t t0, at;

	env_start(&e, FAKEDC_ECHO, "");
	garbage(junk, sizeof(junk));
	t0 = tclock_now_ms();
	if (_i == 0) {
		c = client_open(&e, WRONG_HEX, FRAME_PADDED);
		ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	} else
		ck_assert_int_eq(tclient_connect_raw(
		    (struct sockaddr *)&e.ss, e.len, junk,
		    _i == 1 ? sizeof(junk) : OBFS2_HEADER_LEN / 2, ITEST_IO_MS,
		    &c),
		    0);
	at = watch_close(c, t0, HANDSHAKE_S * 1000 + LATE_MS);
	ck_assert_int_ge(at, HANDSHAKE_S * 1000 - EARLY_MS);
	tclient_close(c);
	ck_assert_int_eq(counter(&e, R_BAD_SECRET), _i == 2 ? 0 : 1);
	ck_assert_int_eq(counter(&e, R_TIMEOUT), _i == 2 ? 1 : 0);
	ck_assert_int_eq(counter(&e, "handshakes"), 0);
	ck_assert_int_eq(counter(&e, "accepted"), 1);
	wait_counter(&e, "active", 0);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 0);
	env_stop(&e);
}
END_TEST

/*
 * _i: 0 modes = secure and an abridged client, 1 modes = classic and a
 * padded one. The right secret, a refused transport: held silently to the
 * deadline. The allowed transport then works on the same daemon.
 */
START_TEST(mode_refused_held_until_deadline)
{
	static const uint8_t msg[64] = "refused transport";
	struct env e;
	struct tclient *c;
	int64_t t0, at;

	env_start(&e, FAKEDC_ECHO, _i == 0 ? "modes = secure\n" :
	    "modes = classic\n");
	t0 = tclock_now_ms();
	c = client_open(&e, ALICE_HEX, _i == 0 ? FRAME_ABRIDGED : FRAME_PADDED);
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	at = watch_close(c, t0, HANDSHAKE_S * 1000 + LATE_MS);
	ck_assert_int_ge(at, HANDSHAKE_S * 1000 - EARLY_MS);
	tclient_close(c);
	ck_assert_int_eq(counter(&e, R_MODE), 1);
	ck_assert_int_eq(counter(&e, R_BAD_SECRET), 0);
	ck_assert_int_eq(counter(&e, "handshakes"), 0);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 0);
	c = client_open(&e, ALICE_HEX, _i == 0 ? FRAME_PADDED :
	    FRAME_INTERMEDIATE);
	echo_ok(c, 128);
	tclient_close(c);
	ck_assert_int_eq(counter(&e, R_MODE), 1);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_HEADERS), 1);
	env_stop(&e);
}
END_TEST

/*
 * A replayed obfuscated2 header (a valid client's first 64 bytes sent again
 * on a new connection, as an active prober does) gets what a wrong secret
 * gets: nothing, held to the deadline, counted as a replay.
 */
START_TEST(replayed_header_refused)
{
	uint8_t hdr[OBFS2_HEADER_LEN];
	struct env e;
	struct tclient *c, *r;
	int64_t t0, at;

	env_start(&e, FAKEDC_ECHO, "");
	c = client_open(&e, ALICE_HEX, FRAME_PADDED);
	echo_ok(c, 128);
	memcpy(hdr, tclient_header(c), sizeof(hdr));
	t0 = tclock_now_ms();
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    hdr, sizeof(hdr), ITEST_IO_MS, &r), 0);
	at = watch_close(r, t0, HANDSHAKE_S * 1000 + LATE_MS);
	ck_assert_int_ge(at, HANDSHAKE_S * 1000 - EARLY_MS);
	tclient_close(r);
	echo_ok(c, 64);		/* the original is untouched */
	tclient_close(c);
	ck_assert_int_eq(counter(&e, "rejected{reason=\"replay\"}"), 1);
	ck_assert_int_eq(counter(&e, "handshakes"), 1);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 1);
	env_stop(&e);
}
END_TEST

/* The DC refuses: the client is dropped at once, not after connect_timeout. */
START_TEST(dc_refusing_closes_promptly)
{
	static const uint8_t msg[32] = "to a DC that is not there";
	char needle[96];
	struct env e = { 0 };
	struct tclient *c;
	uint16_t port;
	int64_t t0;

	ck_assert_int_eq(fakedc_closed_port(AF_INET, &port), 0);
	env_start_port(&e, port, "connect_timeout = 10\n");
	t0 = tclock_now_ms();
	c = client_open(&e, ALICE_HEX, FRAME_PADDED);
	/* The daemon may have closed already: the message may not go out. */
	(void)tclient_send(c, msg, sizeof(msg), 0);
	watch_close(c, t0, PROMPT_MS);
	tclient_close(c);
	ck_assert_int_eq(counter(&e, R_DC), 1);
	ck_assert_int_eq(counter(&e, "handshakes"), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "DC 2 unreachable", ITEST_IO_MS),
	    0);
	snprintf(needle, sizeof(needle), "127.0.0.1:%u", (unsigned)port);
	ck_assert_int_eq(daemon_log_contains(e.d, needle), 1);
	wait_counter(&e, "active", 0);
	env_stop(&e);
}
END_TEST

/*
 * A loopback listener whose accept queue (backlog 0) one connection fills:
 * the kernel drops the SYNs of the next ones, which hang as before a DC
 * that does not answer. *fds: the listener and the queued connection.
 */
static void
listener_full(uint16_t *port, int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_eq(bind(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fds[0], 0), 0);
	ck_assert_int_eq(getsockname(fds[0], (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fds[1], 0);
	ck_assert_int_eq(connect(fds[1], (struct sockaddr *)&a, sizeof(a)), 0);
}

/* The DC never answers the SYN: the client goes after connect_timeout. */
START_TEST(dc_connect_times_out)
{
	static const uint8_t msg[32] = "to a DC that does not answer";
	struct env e = { 0 };
	struct tclient *c;
	uint16_t port;
	int64_t t0, at;
	int fds[2];

	listener_full(&port, fds);
	env_start_port(&e, port, "connect_timeout = 1\n");
	t0 = tclock_now_ms();
	c = client_open(&e, ALICE_HEX, FRAME_PADDED);
	(void)tclient_send(c, msg, sizeof(msg), 0);
	at = watch_close(c, t0, 1000 + PROMPT_MS);
	ck_assert_int_ge(at, 900);
	tclient_close(c);
	ck_assert_int_eq(counter(&e, R_DC), 1);
	ck_assert_int_eq(counter(&e, "handshakes"), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "DC 2 unreachable", ITEST_IO_MS),
	    0);
	ck_assert_int_eq(daemon_log_contains(e.d, "Connection timed out"), 1);
	wait_counter(&e, "active", 0);
	env_stop(&e);
	close(fds[1]);
	close(fds[0]);
}
END_TEST

/* The DC accepts and never answers: the idle timeout ends the session. */
START_TEST(dc_blackhole_idle_close)
{
	static const uint8_t msg[64] = "into the void";
	struct env e;
	struct tclient *c;
	int64_t t0, at;

	env_start(&e, FAKEDC_BLACKHOLE, "idle_timeout = 2\n");
	c = client_open(&e, ALICE_HEX, FRAME_PADDED);
	ck_assert_int_eq(fakedc_wait(e.dc, FAKEDC_OPEN, 1, ITEST_IO_MS), 0);
	t0 = tclock_now_ms();
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	at = watch_close(c, t0, 5000);
	ck_assert_int_ge(at, 1500);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(e.dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 1);
	ck_assert_int_eq(counter(&e, "handshakes"), 1);
	wait_counter(&e, "active", 0);
	env_stop(&e);
}
END_TEST

#define VANISH_CLIENTS	50
#define POOL_SPARE	4

/* One session opened and closed: whatever the daemon opens lazily (the
   random source...) is open before the baseline is taken. */
static int
warm_up(const struct env *e)
{
	struct tclient *c = echo_client(e);

	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(e->dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	wait_counter(e, "active", 0);
	return daemon_count_fds(e->pid);
}

/* Leave mid-transfer: half a frame, or a whole one whose echo is unread. */
static void
vanish(struct tclient *c, int i, const uint8_t *big, size_t bigsize)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint8_t hdr[4], buf[1024];
	size_t hlen, n;

	switch (i % 3) {
	case 0:
		ck_assert_int_eq(frame_encode(FRAME_PADDED, bigsize, 0, hdr,
		    &hlen), 0);
		ck_assert_int_eq(tclient_write_raw(c, hdr, hlen, 1), 0);
		ck_assert_int_eq(tclient_write_raw(c, big, bigsize / 2, 1), 0);
		break;
	case 1:
		ck_assert_int_eq(tclient_send(c, big, bigsize, 0), 0);
		break;
	default:
		ck_assert_int_eq(tclient_send(c, big, bigsize, 0), 0);
		ck_assert_int_eq(tclient_read_raw(c, buf, sizeof(buf), &n, 0,
		    ITEST_IO_MS), 0);
		break;
	}
	/* Every other one resets instead of closing. */
	if (i % 2 == 0)
		ck_assert_int_eq(setsockopt(tclient_fd(c), SOL_SOCKET,
		    SO_LINGER, &lg, sizeof(lg)), 0);
	tclient_close(c);
}

/*
 * _i: fast_mode yes, no. Many clients leave abruptly mid-transfer: the
 * daemon closes every DC side, and its fds and threads go back to the
 * baseline (pool threads: at most pool_spare stay).
 */
START_TEST(clients_vanish_mid_stream)
{
	enum { BIG = 128 * 1024 };
	struct tclient *c[VANISH_CLIENTS];
	uint8_t *big = malloc(BIG);
	char extra[128];
	struct env e;
	int i, threads, fds;

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(crypto_random(big, BIG), 0);
	snprintf(extra, sizeof(extra), "pool_spare = %d\nfast_mode = %s\n",
	    POOL_SPARE, _i == 0 ? "yes" : "no");
	env_start(&e, FAKEDC_ECHO, extra);
	threads = daemon_count_threads(e.pid);
	ck_assert_int_gt(threads, 0);
	fds = warm_up(&e);
	for (i = 0; i < VANISH_CLIENTS; i++)
		c[i] = echo_client(&e);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_OPEN), VANISH_CLIENTS);
	ck_assert_int_ge(daemon_count_threads(e.pid), threads +
	    2 * VANISH_CLIENTS);
	for (i = 0; i < VANISH_CLIENTS; i++)
		vanish(c[i], i, big, BIG);
	ck_assert_int_eq(fakedc_wait(e.dc, FAKEDC_OPEN, 0, SETTLE_MS), 0);
	wait_fds(&e, fds);
	wait_threads_at_most(&e, threads + POOL_SPARE);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "handshakes"), VANISH_CLIENTS + 1);
	/* Still serving. */
	c[0] = echo_client(&e);
	tclient_close(c[0]);
	env_stop(&e);
	free(big);
}
END_TEST

/* The DC drops everyone: every client sees EOF at once, nothing leaks. */
START_TEST(dc_closes_all)
{
	enum { N = 10 };
	struct tclient *c[N];
	int64_t at[N], t0;
	struct env e;
	int i, fds;

	env_start(&e, FAKEDC_ECHO, "pool_spare = 4\n");
	fds = warm_up(&e);
	for (i = 0; i < N; i++)
		c[i] = echo_client(&e);
	t0 = tclock_now_ms();
	fakedc_close_all(e.dc);
	watch_closes(c, N, t0, PROMPT_MS, at);
	for (i = 0; i < N; i++)
		tclient_close(c[i]);
	ck_assert_int_eq(fakedc_wait(e.dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	wait_fds(&e, fds);
	wait_counter(&e, "active", 0);
	env_stop(&e);
}
END_TEST

/*
 * The DC closes an intermediate session that moved one 100-byte message
 * each way (104 bytes framed): its one line says so, with the bytes.
 */
START_TEST(dc_close_logged)
{
	static const char *const line = "user=alice: session ends: "
	    "reason=dc_closed transport=intermediate tls=no dc=2 up=104 "
	    "down=104 duration=";
	uint8_t msg[100], got[sizeof(msg)];
	struct tclient *c;
	struct env e;
	size_t n;

	env_start(&e, FAKEDC_ECHO, "modes = classic, secure\n");
	c = client_open(&e, ALICE_HEX, FRAME_INTERMEDIATE);
	garbage(msg, sizeof(msg));
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS), 0);
	ck_assert_uint_eq(n, sizeof(msg));
	fakedc_close_all(e.dc);
	watch_close(c, tclock_now_ms(), PROMPT_MS);
	tclient_close(c);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(daemon_log_count(e.d, line), 1);
	ck_assert_int_eq(daemon_log_count(e.d, "session ends"), 1);
	env_stop(&e);
}
END_TEST

/*
 * 19 clients with a wrong secret from 127.0.0.1 make one line; after the
 * interval the 20th makes the second, with the 18 held back in between.
 */
START_TEST(failed_handshakes_rate_limited)
{
	enum { N = 20 };
	static const char *const tail = "more failed handshakes from this "
	    "address since the last such line)";
	struct tclient *c[N];
	struct env e;
	int i;

	env_start(&e, FAKEDC_ECHO, "");
	for (i = 0; i < N - 1; i++)
		c[i] = client_open(&e, WRONG_HEX, FRAME_PADDED);
	wait_counter(&e, R_BAD_SECRET, N - 1);
	ck_assert_int_eq(daemon_log_count(e.d, tail), 1);
	ck_assert_int_eq(daemon_log_count(e.d, "(0 more failed"), 1);
	tclock_sleep_ms(HS_WARN_MS + 500);
	c[N - 1] = client_open(&e, WRONG_HEX, FRAME_PADDED);
	wait_counter(&e, R_BAD_SECRET, N);
	ck_assert_int_eq(daemon_log_count(e.d, tail), 2);
	ck_assert_int_eq(daemon_log_count(e.d, "(18 more failed"), 1);
	ck_assert_int_eq(daemon_log_count(e.d, "header matches no secret"), 2);
	for (i = 0; i < N; i++)
		tclient_close(c[i]);
	wait_counter(&e, "active", 0);
	env_stop(&e);
}
END_TEST

/* max_clients = 5: the 6th is accepted and dropped; a freed slot is reused. */
START_TEST(max_clients_limit)
{
	enum { MAX = 5 };
	struct tclient *c[MAX], *extra;
	struct env e;
	int64_t t0;
	int i, rc;

	env_start(&e, FAKEDC_ECHO, "max_clients = 5\n");
	for (i = 0; i < MAX; i++)
		c[i] = echo_client(&e);
	t0 = tclock_now_ms();
	rc = client_try(&e, ALICE_HEX, FRAME_PADDED, 2, &extra);
	/* Closed so fast that the header may not have gone out: EOF. */
	ck_assert_msg(rc == 0 || rc == TCLIENT_ERR_EOF, "connect: %d", rc);
	if (rc == 0) {
		watch_close(extra, t0, 1000);
		tclient_close(extra);
	}
	ck_assert_int_eq(counter(&e, R_MAX), 1);
	ck_assert_int_eq(counter(&e, "accepted"), MAX);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_OPEN), MAX);
	for (i = 0; i < MAX; i++)
		echo_ok(c[i], 64);
	tclient_close(c[0]);
	wait_counter(&e, "active", MAX - 1);
	c[0] = echo_client(&e);
	ck_assert_int_eq(counter(&e, R_MAX), 1);
	for (i = 0; i < MAX; i++)
		tclient_close(c[i]);
	env_stop(&e);
}
END_TEST

/*
 * Out of descriptors. With a hard limit of 1000 open files, max_clients =
 * 600 is more than the 468 clients it leaves room for: a startup warning
 * says so and names the limit. With K sessions open, the daemon's limit is
 * lowered to one descriptor more than it holds (the slot its blocked
 * accept has taken already): a silent client takes it, and each of the
 * next EXTRA takes the place of the one before (not left in the backlog,
 * not refused: the oldest silent handshake is evicted for it, counted;
 * only with no handshake in progress to evict is a client accepted and
 * closed at once, counted as no_fd). Sessions that end free room for the
 * next client.
 */
START_TEST(fd_limit_refuses_at_once)
{
	enum { K = 3, EXTRA = 3 };
	struct rlimit rl = { 1000, 1000 };
	struct tclient *c[K], *silent, *extra;
	struct env e;
	int64_t t0;
	int i, fds;

	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	env_start(&e, FAKEDC_ECHO, "max_clients = 600\n");
	ck_assert_int_eq(daemon_log_count(e.d, "max_clients 600 is more than "
	    "open files (RLIMIT_NOFILE) allows: 1000 is room for 468 clients"),
	    1);
	for (i = 0; i < K; i++)
		c[i] = echo_client(&e);
	fds = daemon_count_fds(e.pid);
	rl.rlim_cur = rl.rlim_max = (rlim_t)fds + 1;
	ck_assert_int_eq(prlimit(e.pid, RLIMIT_NOFILE, &rl, NULL), 0);
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    NULL, 0, ITEST_IO_MS, &silent), 0);
	wait_fds(&e, fds + 1);
	for (i = 0; i < EXTRA; i++) {
		t0 = tclock_now_ms();
		ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss,
		    e.len, NULL, 0, ITEST_IO_MS, &extra), 0);
		watch_close(silent, t0, PROMPT_MS);
		tclient_close(silent);
		silent = extra;
	}
	ck_assert_int_eq(counter(&e, R_EVICTED), EXTRA);
	ck_assert_int_eq(counter(&e, R_NO_FD), 0);
	wait_counter(&e, "accepted", K + 1 + EXTRA);

	ck_assert_int_eq(daemon_log_count(e.d, "Too many open files; refusing "
	    "new connections"), 0);
	for (i = 0; i < K; i++)
		echo_ok(c[i], 64);
	/* A blocked accept holds a slot: a client needs three free. */
	tclient_close(c[0]);
	tclient_close(silent);
	wait_counter(&e, "active", K - 1);
	c[0] = echo_client(&e);
	for (i = 0; i < K; i++)
		tclient_close(c[i]);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, R_NO_FD), 0);
	ck_assert_int_eq(counter(&e, R_EVICTED), EXTRA);
	env_stop(&e);
}
END_TEST

/*
 * SIGTERM with three live sessions, a probe held silently and
 * shutdown_grace = 1: no new client, the sessions keep working through the
 * grace, all are closed at its end, and the daemon exits 0.
 */
START_TEST(graceful_stop_closes_sessions)
{
	enum { N = 3 };
	static const uint8_t msg[32] = "after SIGTERM: no echo";
	uint8_t junk[OBFS2_HEADER_LEN];
	struct tclient *c[N + 1], *late;
	int64_t at[N + 1], t0, deadline;
	struct env e;
	int i, rc, status = -1;

	env_start(&e, FAKEDC_ECHO, "shutdown_grace = 1\n");
	for (i = 0; i < N; i++)
		c[i] = echo_client(&e);
	garbage(junk, sizeof(junk));
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    junk, sizeof(junk), ITEST_IO_MS, &c[N]), 0);
	wait_counter(&e, R_BAD_SECRET, 1);
	t0 = tclock_now_ms();
	ck_assert_int_eq(kill(e.pid, SIGTERM), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "stopping", ITEST_IO_MS), 0);
	echo_ok(c[0], 512);
	/* Refused, or closed without an answer: never served. */
	rc = client_try(&e, ALICE_HEX, FRAME_PADDED, 2, &late);
	if (rc == 0) {
		(void)tclient_send(late, msg, sizeof(msg), 0);
		watch_close(late, tclock_now_ms(), 1500);
		tclient_close(late);
	} else
		ck_assert_msg(rc == TCLIENT_ERR_EOF ||
		    (rc == TCLIENT_ERR && errno == ECONNREFUSED),
		    "late connect: %d (%s)", rc, strerror(errno));
	/* The probe too: at the grace's end, before its handshake deadline. */
	watch_closes(c, N + 1, t0, 1000 + 1500, at);
	for (i = 0; i <= N; i++) {
		ck_assert_int_ge(at[i], 1000 - EARLY_MS);
		tclient_close(c[i]);
	}
	deadline = tclock_now_ms() + ITEST_IO_MS;
	while (!daemon_exited(e.d, &status)) {
		ck_assert_msg(tclock_now_ms() < deadline, "still running");
		tclock_sleep_ms(10);
	}
	ck_assert_int_eq(daemon_log_contains(e.d,
	    "closing 4 remaining session(s)"), 1);
	/* The stop, not the closes it caused, ends the served sessions. */
	ck_assert_int_ge(daemon_log_count(e.d,
	    "user=alice: session ends: reason=shutdown "), N);
	ck_assert_int_eq(daemon_log_count(e.d, "reason=client_closed"), 0);
	ck_assert_int_eq(daemon_log_count(e.d, "reason=dc_closed"), 0);
	itest_stop(e.d, secrets, NSECRETS, ITEST_STOP_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "wait status 0x%x", status);
	fakedc_stop(e.dc);
}
END_TEST

/* No session left: a long grace does not delay the exit. */
START_TEST(graceful_stop_idle_is_quick)
{
	struct env e;
	struct tclient *c;
	int64_t t0;
	int status = -1;

	env_start(&e, FAKEDC_ECHO, "shutdown_grace = 5\n");
	c = echo_client(&e);
	tclient_close(c);
	wait_counter(&e, "active", 0);
	t0 = tclock_now_ms();
	ck_assert_int_eq(kill(e.pid, SIGTERM), 0);
	while (!daemon_exited(e.d, &status)) {
		ck_assert_msg(tclock_now_ms() - t0 < 2000,
		    "no exit within 2 s");
		tclock_sleep_ms(10);
	}
	itest_stop(e.d, secrets, NSECRETS, ITEST_STOP_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "wait status 0x%x", status);
	fakedc_stop(e.dc);
}
END_TEST

/*
 * Every path that logs about a user or a header, at debug level, then the
 * stop: itest_stop checks the whole log for the secrets in either case.
 */
START_TEST(no_secret_in_log)
{
	uint8_t junk[OBFS2_HEADER_LEN];
	struct tclient *c[4];
	struct env e;
	int i;

	env_start(&e, FAKEDC_ECHO, "modes = secure\n");
	c[0] = echo_client(&e);
	c[1] = client_open(&e, BOB_HEX, FRAME_PADDED);
	echo_ok(c[1], 64);
	c[2] = client_open(&e, BOB_HEX, FRAME_INTERMEDIATE);
	garbage(junk, sizeof(junk));
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    junk, sizeof(junk), ITEST_IO_MS, &c[3]), 0);
	wait_counter(&e, R_MODE, 1);
	wait_counter(&e, R_BAD_SECRET, 1);
	/* An unknown DC id goes to default_dc, with a log line. */
	tclient_close(c[2]);
	ck_assert_int_eq(client_try(&e, ALICE_HEX, FRAME_PADDED, 77, &c[2]),
	    0);
	echo_ok(c[2], 32);
	ck_assert_int_eq(counter(&e, "unknown_dc"), 1);
	ck_assert_int_eq(kill(e.pid, SIGHUP), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "SIGHUP", ITEST_IO_MS), 0);
	for (i = 0; i < 4; i++)
		tclient_close(c[i]);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "user_connections{user=\"bob\"}"), 1);
	env_stop(&e);
}
END_TEST

/*
 * idle_timeout = 2: a silent session is closed after about 2 s while one
 * that sends every 0.5 s outlives 4 s.
 */
START_TEST(idle_timeout_closes_silent_only)
{
	struct tclient *idle, *busy;
	int64_t t0, closed = -1;
	struct env e;

	env_start(&e, FAKEDC_ECHO, "idle_timeout = 2\n");
	idle = echo_client(&e);
	t0 = tclock_now_ms();
	busy = echo_client(&e);
	while (tclock_now_ms() - t0 < 4200) {
		if (closed < 0 && closed_within(idle, 500))
			closed = tclock_now_ms() - t0;
		if (closed >= 0)
			tclock_sleep_ms(500);
		echo_ok(busy, 64);
	}
	if (closed < 0 &&
	    closed_within(idle, (int)(5000 - (tclock_now_ms() - t0))))
		closed = tclock_now_ms() - t0;
	ck_assert_msg(closed >= 1500 && closed <= 5000,
	    "idle session closed at %lld ms", (long long)closed);
	echo_ok(busy, 64);
	tclient_close(idle);
	tclient_close(busy);
	env_stop(&e);
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *hs = tcase_create("handshake"), *dc = tcase_create("dc");
	TCase *lim = tcase_create("limits"), *stop = tcase_create("stop");

	tcase_set_timeout(hs, ITEST_CASE_S);
	tcase_set_timeout(dc, ITEST_CASE_S);
	tcase_set_timeout(lim, ITEST_CASE_S);
	tcase_set_timeout(stop, ITEST_CASE_S);
	tcase_add_loop_test(hs, probe_held_until_deadline, 0, 3);
	tcase_add_loop_test(hs, mode_refused_held_until_deadline, 0, 2);
	tcase_add_test(hs, no_secret_in_log);
	tcase_add_test(hs, replayed_header_refused);
	tcase_add_test(dc, dc_refusing_closes_promptly);
	tcase_add_test(dc, dc_connect_times_out);
	tcase_add_test(dc, dc_blackhole_idle_close);
	tcase_add_test(dc, dc_closes_all);
	tcase_add_test(dc, dc_close_logged);
	tcase_add_test(hs, failed_handshakes_rate_limited);
	tcase_add_loop_test(lim, clients_vanish_mid_stream, 0, 2);
	tcase_add_test(lim, max_clients_limit);
	tcase_add_test(lim, fd_limit_refuses_at_once);
	tcase_add_test(lim, idle_timeout_closes_silent_only);
	tcase_add_test(stop, graceful_stop_closes_sessions);
	tcase_add_test(stop, graceful_stop_idle_is_quick);
	suite_add_tcase(s, hs);
	suite_add_tcase(s, dc);
	suite_add_tcase(s, lim);
	suite_add_tcase(s, stop);
	return s;
}

Suite *
ckmain_suite(void)
{
	return faults_suite();
}
