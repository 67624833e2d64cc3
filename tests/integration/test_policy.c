/*
 * Connection policy and test DCs through the real daemon (issue 12): an
 * app's burst of 24 connections from one address all echo, under the
 * per-address limits too, and the 25th and a backing-off address hear
 * nothing; a flood of silent sockets past max_clients does not keep a
 * client out (the oldest silent ones are evicted, counted); a session
 * ends at max_session_lifetime; client_mss reaches the client's
 * segments; DC ids 10001.. go to the test DCs, built in or from [dc].
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "ckmain.h"
#include "client.h"
#include "cover.h"
#include "daemon.h"
#include "fakedc.h"
#include "itest.h"
#include "tclock.h"

#define CONF_MAX	2048
#define MSG_LEN		4000
#define QUIET_MS	400	/* a refused client hears nothing this long */
#define BURST		24	/* what an app opens at start */
#define BURST_MS	100
#define FLOOD		200
#define FLOOD_MAX	20	/* max_clients under the flood */
#define MSS		536
#define FD_LIMIT	120	/* the daemon's, in the flood at the limit */
#define COVER_MS	3000	/* under handshake_timeout */

#define ALICE_HEX	"5b0e8d2c7a1f4396e0b7c5a2d8f1436e"

static const char *const hexes[] = { ALICE_HEX };

/* mtproxyd towards dc (none: dc_lines only), server_extra in [server]. */
static struct daemon_proc *
start(const char *server_extra, const char *dc_lines)
{
	struct daemon_proc *d = NULL;
	char conf[CONF_MAX];
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "%s"
	    "dc_pool = 0\n"
	    "handshake_timeout = 10\n"
	    "state_dir = @DIR@\n"
	    "%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "%s",
	    strstr(server_extra, "modes") != NULL ? "" :
	    "modes = classic, secure\n", server_extra, dc_lines);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	return d;
}

static struct daemon_proc *
start_dc(const struct fakedc *dc, const char *server_extra)
{
	char line[64];

	snprintf(line, sizeof(line), "2 = 127.0.0.1:%u\n", fakedc_port(dc));
	return start(server_extra, line);
}

static void
stop(struct daemon_proc *d)
{
	itest_stop(d, hexes, 1, ITEST_STOP_MS);
}

static long long
rejected(struct daemon_proc *d, const char *why)
{
	char name[64];

	snprintf(name, sizeof(name), "rejected{reason=\"%s\"}", why);
	return itest_counter(d, name, ITEST_IO_MS);
}

static int
open_client(struct daemon_proc *d, int16_t dc, struct tclient **c)
{
	struct sockaddr_storage ss;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(ALICE_HEX, key);
	return tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_INTERMEDIATE, dc, ITEST_IO_MS, c);
}

/* A connection that sends len bytes of data (NULL: zeros) and waits. */
static struct tclient *
open_raw_bytes(struct daemon_proc *d, const uint8_t *data, size_t len)
{
	static const uint8_t zeros[64];
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	socklen_t sl;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &sl), 0);
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&ss, sl,
	    data != NULL ? data : zeros, len, ITEST_IO_MS, &c), 0);
	return c;
}

static struct tclient *
open_raw(struct daemon_proc *d, size_t len)
{
	return open_raw_bytes(d, NULL, len);
}

/* msg comes back byte for byte. */
static void
echo_ok(struct tclient *c)
{
	uint8_t *msg = itest_random_bytes(MSG_LEN), got[MSG_LEN + 64];
	size_t n = 0;

	ck_assert_int_eq(tclient_send(c, msg, MSG_LEN, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(n, MSG_LEN);
	ck_assert_mem_eq(got, msg, MSG_LEN);
	free(msg);
}

/* A refused client: its message gets nothing back, no DC connection. */
static void
check_silent(const struct fakedc *dc, struct tclient *c)
{
	uint64_t accepted = fakedc_counter(dc, FAKEDC_ACCEPTED);
	uint8_t msg[64] = { 1, 2, 3 }, b;
	size_t n;

	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_read_raw(c, &b, 1, &n, 0, QUIET_MS),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), accepted);
}

/* BURST clients opened at once, then each echoes; elapsed ms to open. */
static int64_t
burst(struct daemon_proc *d, struct tclient **c)
{
	int64_t t0 = tclock_now_ms(), took;
	int i;

	for (i = 0; i < BURST; i++)
		ck_assert_int_eq(open_client(d, 2, &c[i]), 0);
	took = tclock_now_ms() - t0;
	for (i = 0; i < BURST; i++)
		echo_ok(c[i]);
	return took;
}

START_TEST(burst_of_24)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct tclient *c[BURST];
	struct daemon_proc *d = start_dc(dc, "");
	int i;

	ck_assert_int_lt(burst(d, c), BURST_MS * 10);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), BURST);
	for (i = 0; i < BURST; i++)
		tclient_close(c[i]);
	ck_assert_int_eq(rejected(d, "max_clients"), 0);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

/*
 * At the lowest max_connections_per_ip the burst still passes whole; one
 * more from the address at once hears nothing, counted; after a close
 * there is room again.
 */
START_TEST(per_ip_limit)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct tclient *c[BURST], *extra = NULL;
	struct daemon_proc *d = start_dc(dc, "max_connections_per_ip = 24\n"
	    "handshake_failures_per_ip = 3\n");
	int i;

	burst(d, c);
	ck_assert_int_eq(open_client(d, 2, &extra), 0);
	check_silent(dc, extra);
	tclient_close(extra);
	ck_assert_int_eq(rejected(d, "per_ip"), 1);
	ck_assert_int_eq(daemon_wait_log(d, "max_connections_per_ip reached",
	    ITEST_IO_MS), 0);
	tclient_close(c[0]);
	itest_wait_counter(d, "active", BURST - 1, ITEST_IO_MS, ITEST_IO_MS);
	ck_assert_int_eq(open_client(d, 2, &c[0]), 0);
	echo_ok(c[0]);
	for (i = 0; i < BURST; i++)
		tclient_close(c[i]);
	ck_assert_int_eq(rejected(d, "per_ip"), 1);
	ck_assert_int_eq(rejected(d, "backoff"), 0);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

/* With a cover site, the one too many is relayed to it byte for byte. */
START_TEST(per_ip_cover)
{
	static const uint8_t probe[] = "GET / HTTP/1.1\r\nHost: cover.test\r\n\r\n";
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct tclient *c[BURST], *extra;
	struct daemon_proc *d;
	struct cover *cv = NULL;
	uint8_t got[sizeof(probe)];
	char lines[256];
	size_t have = 0, n;
	int i;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	snprintf(lines, sizeof(lines), "2 = 127.0.0.1:%u\n[tls]\n"
	    "domain = cover.test\nmask_host = 127.0.0.1\nmask_port = %u\n"
	    "mask_probe_interval = 0\n", fakedc_port(dc), cover_port(cv));
	d = start("modes = classic, tls\nmax_connections_per_ip = 24\n", lines);
	burst(d, c);
	/* at once: not after a handshake deadline has passed */
	extra = open_raw_bytes(d, probe, sizeof(probe));
	while (have < sizeof(probe)) {
		ck_assert_int_eq(tclient_read_raw(extra, got + have,
		    sizeof(got) - have, &n, 0, COVER_MS), 0);
		have += n;
	}
	ck_assert_mem_eq(got, probe, sizeof(probe));
	ck_assert_int_eq(rejected(d, "per_ip"), 1);
	ck_assert_int_eq(itest_counter(d, "masked", ITEST_IO_MS), 1);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), BURST);
	tclient_close(extra);
	for (i = 0; i < BURST; i++)
		tclient_close(c[i]);
	stop(d);
	fakedc_stop(dc);
	cover_stop(cv);
}
END_TEST

/*
 * Three failed handshakes within the window: the right secret from that
 * address then hears nothing until the window has passed.
 */
START_TEST(failure_backoff)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start_dc(dc, "handshake_failures_per_ip = 3\n"
	    "handshake_failure_window = 2\n");
	struct tclient *bad[3], *c = NULL;
	int64_t t0;
	int i;

	for (i = 0; i < 3; i++)
		bad[i] = open_raw(d, 64);
	itest_wait_counter(d, "rejected{reason=\"bad_secret\"}", 3,
	    ITEST_IO_MS, ITEST_IO_MS);
	t0 = tclock_now_ms();
	ck_assert_int_eq(open_client(d, 2, &c), 0);
	check_silent(dc, c);
	tclient_close(c);
	ck_assert_int_eq(rejected(d, "backoff"), 1);
	ck_assert_int_eq(rejected(d, "bad_secret"), 3);
	/* the refusal is no failure of its own: the window still ends */
	tclock_sleep_ms(2000 - (tclock_now_ms() - t0) + 200);
	ck_assert_int_eq(open_client(d, 2, &c), 0);
	echo_ok(c);
	tclient_close(c);
	for (i = 0; i < 3; i++)
		tclient_close(bad[i]);
	ck_assert_int_eq(rejected(d, "backoff"), 1);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

/*
 * max_clients 20 and 200 silent sockets: each past the 20th closes the
 * oldest silent one (never the one that sent a byte), and a client then
 * still connects and echoes.
 */
START_TEST(silent_flood)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start_dc(dc, "max_clients = 20\n");
	struct tclient *flood[FLOOD], *talker, *c = NULL;
	uint8_t b;
	size_t n;
	int i;

	talker = open_raw(d, 10);	/* half a header, then waits */
	for (i = 0; i < FLOOD; i++)
		flood[i] = open_raw(d, 0);
	ck_assert_int_eq(open_client(d, 2, &c), 0);
	echo_ok(c);
	/* 201 sockets into 20 places, and then one more */
	itest_wait_counter(d, "rejected{reason=\"evicted\"}",
	    1 + FLOOD + 1 - FLOOD_MAX, ITEST_IO_MS, ITEST_IO_MS);
	ck_assert_int_eq(rejected(d, "max_clients"), 0);
	ck_assert_int_eq(tclient_wait_closed(flood[0], ITEST_IO_MS), 0);
	ck_assert_int_eq(tclient_read_raw(talker, &b, 1, &n, 0, QUIET_MS),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_int_eq(tclient_read_raw(flood[FLOOD - 1], &b, 1, &n, 0, 10),
	    TCLIENT_ERR_TIMEOUT);
	echo_ok(c);
	tclient_close(c);
	tclient_close(talker);
	for (i = 0; i < FLOOD; i++)
		tclient_close(flood[i]);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

/*
 * max_clients above what the descriptors allow: a flood of silent sockets
 * runs the daemon out of them, and a client still connects and reaches
 * its DC (the oldest silent sockets make room for both).
 */
START_TEST(silent_flood_at_fd_limit)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start_dc(dc, "max_clients = 5000\n");
	struct rlimit rl;
	struct tclient *flood[FLOOD], *c = NULL;
	int i;

	ck_assert_int_eq(prlimit(daemon_pid(d), RLIMIT_NOFILE, NULL, &rl), 0);
	rl.rlim_cur = FD_LIMIT;
	ck_assert_int_eq(prlimit(daemon_pid(d), RLIMIT_NOFILE, &rl, NULL), 0);
	for (i = 0; i < FLOOD; i++)
		flood[i] = open_raw(d, 0);
	ck_assert_int_eq(open_client(d, 2, &c), 0);
	echo_ok(c);
	ck_assert_int_gt(rejected(d, "evicted"), 0);
	ck_assert_int_le(daemon_count_fds(daemon_pid(d)), FD_LIMIT);
	ck_assert_int_eq(tclient_wait_closed(flood[0], ITEST_IO_MS), 0);
	tclient_close(c);
	for (i = 0; i < FLOOD; i++)
		tclient_close(flood[i]);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

START_TEST(session_lifetime)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start_dc(dc, "max_session_lifetime = 2\n");
	struct tclient *c = NULL;
	int64_t t0 = tclock_now_ms(), took;

	ck_assert_int_eq(open_client(d, 2, &c), 0);
	echo_ok(c);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	took = tclock_now_ms() - t0;
	ck_assert_int_ge(took, 2000);
	ck_assert_int_lt(took, 2000 + 2500);	/* the sweeper runs each second */
	ck_assert_int_eq(daemon_wait_log(d, "reason=lifetime", ITEST_IO_MS), 0);
	tclient_close(c);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

/* The MSS the daemon's SYN-ACK announced, as the client's socket has it. */
static int
client_mss_seen(struct daemon_proc *d)
{
	struct tclient *c = open_raw(d, 0);
	socklen_t len = sizeof(int);
	int mss = 0;

	ck_assert_int_eq(getsockopt(tclient_fd(c), IPPROTO_TCP, TCP_MAXSEG,
	    &mss, &len), 0);
	tclient_close(c);
	return mss;
}

START_TEST(client_mss)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start_dc(dc, "");
	struct tclient *c = NULL;

	/* loopback's MTU otherwise: tens of kilobytes */
	ck_assert_int_gt(client_mss_seen(d), 1460);
	stop(d);
	d = start_dc(dc, "client_mss = 536\n");
	/* less the 12 bytes of the timestamp option */
	ck_assert_int_le(client_mss_seen(d), MSS);
	ck_assert_int_ge(client_mss_seen(d), MSS - 40);
	ck_assert_int_eq(open_client(d, 2, &c), 0);
	echo_ok(c);
	tclient_close(c);
	stop(d);
	fakedc_stop(dc);
}
END_TEST

/* A [dc] 10002 entry: a client asking for test DC 2 reaches it. */
START_TEST(test_dc_from_config)
{
	struct fakedc *prod = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct fakedc *test = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d;
	struct tclient *c = NULL;
	char lines[128];

	snprintf(lines, sizeof(lines), "2 = 127.0.0.1:%u\n"
	    "10002 = 127.0.0.1:%u\n", fakedc_port(prod), fakedc_port(test));
	d = start("", lines);
	ck_assert_int_eq(open_client(d, 10002, &c), 0);
	echo_ok(c);
	tclient_close(c);
	/* test media, and a test id without an address: test DC 2 too */
	ck_assert_int_eq(open_client(d, -10002, &c), 0);
	echo_ok(c);
	tclient_close(c);
	ck_assert_int_eq(open_client(d, 10005, &c), 0);
	echo_ok(c);
	tclient_close(c);
	ck_assert_uint_eq(fakedc_counter(test, FAKEDC_ACCEPTED), 3);
	ck_assert_uint_eq(fakedc_counter(prod, FAKEDC_ACCEPTED), 0);
	ck_assert_int_eq(daemon_log_contains(d,
	    "unknown DC 10005, using default DC 10002"), 1);
	stop(d);
	fakedc_stop(prod);
	fakedc_stop(test);
}
END_TEST

/*
 * Without the entry the built-in test address is tried (no network here:
 * the log names it), never the default production DC.
 */
START_TEST(test_dc_builtin)
{
	struct fakedc *prod = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start_dc(prod, "connect_timeout = 1\n");
	struct tclient *c = NULL;

	ck_assert_int_eq(open_client(d, 10001, &c), 0);
	if (daemon_wait_log(d, "DC 10001 unreachable", ITEST_IO_MS) == 0)
		ck_assert(daemon_log_contains(d, "last tried 149.154.175.10:443"
		    ": ") == 1 || daemon_log_contains(d,
		    "last tried [2001:b28:f23d:f001::e]:443: ") == 1);
	else	/* a network after all */
		ck_assert_int_eq(daemon_log_contains(d,
		    "connected to DC 10001 at 149.154.175.10:443"), 1);
	tclient_close(c);
	ck_assert_uint_eq(fakedc_counter(prod, FAKEDC_ACCEPTED), 0);
	ck_assert_int_eq(daemon_log_contains(d, "using default DC 2"), 0);
	stop(d);
	fakedc_stop(prod);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, burst_of_24);
	tcase_add_test(tc, per_ip_limit);
	tcase_add_test(tc, per_ip_cover);
	tcase_add_test(tc, failure_backoff);
	tcase_add_test(tc, silent_flood);
	tcase_add_test(tc, silent_flood_at_fd_limit);
	tcase_add_test(tc, session_lifetime);
	tcase_add_test(tc, client_mss);
	tcase_add_test(tc, test_dc_from_config);
	tcase_add_test(tc, test_dc_builtin);
	suite_add_tcase(s, tc);
	return s;
}
