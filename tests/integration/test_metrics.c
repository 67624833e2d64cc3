/*
 * The [metrics] endpoint of the real daemon, on loopback: known bytes
 * through a fake DC (echo) and known bad clients, then /metrics parsed by
 * a real Prometheus text parser (python3-prometheus-client) must show
 * exactly those bytes and rejects; /healthz answers; a client outside the
 * allow list gets 403; a metrics port equal to the client port is refused.
 * Handshake and DC connect histograms count every handshake and connect,
 * session threads and cover-site relays equal the clients held open.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "cover.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "mscrape.h"

#define CONF_MAX	2048
#define OUT_MAX		4096
#define LIVE		3	/* sessions kept open in runtime_values */
#define MASKED		2	/* bad clients relayed to the cover site */

#define ALICE_HEX	"3f5c0a9e71d2b8e46a0c9f13d7e2584b"
#define BOB_HEX		"b04e1d7a92c63f58e1a07d4c2b9f6e35"
#define WRONG_HEX	"0123456789abcdef0123456789abcdef"

enum user { ALICE, BOB, NUSERS };

static const char *const user_hex[NUSERS] = { ALICE_HEX, BOB_HEX };

/*
 * cover: the cover site's port, 0 for none (failed clients are held);
 * extra goes into [server].
 */
static struct daemon_proc *
proxy_start(uint16_t mport, const struct fakedc *dc, uint16_t cover,
    const char *extra)
{
	struct daemon_proc *d = NULL;
	char conf[CONF_MAX], tls[256] = "";
	int n;

	if (cover != 0)
		snprintf(tls, sizeof(tls), "[tls]\n"
		    "domain = cover.test\n"
		    "mask_host = 127.0.0.1\n"
		    "mask_port = %u\n"
		    "mask_probe_interval = 0\n", cover);
	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "modes = classic, secure%s\n"
	    "dc_pool = 0\n"
	    "handshake_timeout = 10\n"
	    "state_dir = @DIR@\n"
	    "%s"
	    "[metrics]\n"
	    "listen = 127.0.0.1:%u\n"
	    "allow = 127.0.0.1/32\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n"
	    "%s", cover != 0 ? ", tls" : "", extra, mport, fakedc_port(dc),
	    tls);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_wait_log(d, "metrics: serving on", ITEST_IO_MS), 0);
	return d;
}

/* Echo sizes[] on one connection; the bytes each way on the wire. */
static uint64_t
echo_session(struct daemon_proc *d, const char *hex, enum frame_transport t,
    const size_t *sizes, size_t n, const uint8_t *msg, uint8_t *got)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;
	uint64_t wire = 0;
	size_t i, r;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(hex, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key, t,
	    2, ITEST_IO_MS, &c), 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(tclient_send(c, msg, sizes[i], 0), 0);
		ck_assert_int_eq(tclient_recv(c, got, FRAME_MAX_LEN, &r, ITEST_IO_MS),
		    0);
		ck_assert_uint_eq(r, sizes[i]);
		ck_assert_mem_eq(got, msg, r);
		wire += itest_framed_len(t, r);
	}
	tclient_close(c);
	return wire;
}

/* A client whose secret is no user's: counted as bad_secret. */
static struct tclient *
stranger(struct daemon_proc *d)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(WRONG_HEX, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	return c;
}

#define K_UP(u)		"mtproxyd_bytes_total|direction=up|user=" u
#define K_DOWN(u)	"mtproxyd_bytes_total|direction=down|user=" u
#define K_CONNS(u)	"mtproxyd_connections_total|user=" u
#define K_ACTIVE(u)	"mtproxyd_connections_active|user=" u
#define K_REJ(r)	"mtproxyd_handshake_rejects_total|reason=" r
#define K_MASK(r)	"mtproxyd_mask_relays_total|reason=" r
#define K_HS_COUNT	"mtproxyd_handshake_duration_seconds_count"
#define K_HS_INF	"mtproxyd_handshake_duration_seconds_bucket|le=+Inf"
#define K_DC_COUNT(dc)	"mtproxyd_dc_connect_duration_seconds_count|dc=" dc
#define K_BUSY		"mtproxyd_pool_threads|state=busy"

/*
 * Alice: two sessions, Bob: one, each a known number of frames; two
 * strangers. Every value the parser reads equals what the test did.
 */
START_TEST(values_equal_traffic)
{
	static const size_t a1[] = { 4, 1000, 65536, 12 };
	static const size_t a2[] = { 504, 508, 4, 32768 };
	static const size_t b1[] = { 8, 512, 4096, 200000 };
	struct fakedc *dc;
	struct daemon_proc *d;
	struct tclient *s1, *s2;
	uint8_t *msg, *got;
	uint64_t alice, bob;
	uint16_t port;
	const char *python = mscrape_python_or_skip();
	char *m;

	if (python == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	msg = itest_random_bytes(200000);
	ck_assert_ptr_nonnull(got = malloc(FRAME_MAX_LEN));
	port = mscrape_free_port();
	d = proxy_start(port, dc, 0, "");
	alice = echo_session(d, ALICE_HEX, FRAME_INTERMEDIATE, a1, 4, msg, got);
	alice += echo_session(d, ALICE_HEX, FRAME_ABRIDGED, a2, 4, msg, got);
	bob = echo_session(d, BOB_HEX, FRAME_INTERMEDIATE, b1, 4, msg, got);
	s1 = stranger(d);
	s2 = stranger(d);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	m = mscrape_until(d, port, python, K_REJ("bad_secret"), 2);
	free(m);
	m = mscrape_until(d, port, python, "mtproxyd_sessions_active", 2);
	ck_assert_uint_eq(mscrape_sample(m, K_UP("alice")), alice);
	ck_assert_uint_eq(mscrape_sample(m, K_DOWN("alice")), alice);
	ck_assert_uint_eq(mscrape_sample(m, K_UP("bob")), bob);
	ck_assert_uint_eq(mscrape_sample(m, K_DOWN("bob")), bob);
	ck_assert_uint_eq(alice + bob, fakedc_counter(dc, FAKEDC_BYTES_IN));
	ck_assert_uint_eq(mscrape_sample(m, K_CONNS("alice")), 2);
	ck_assert_uint_eq(mscrape_sample(m, K_CONNS("bob")), 1);
	ck_assert_uint_eq(mscrape_sample(m, K_ACTIVE("alice")), 0);
	ck_assert_uint_eq(mscrape_sample(m, K_ACTIVE("bob")), 0);
	ck_assert_uint_eq(mscrape_sample(m, "mtproxyd_accepted_total"), 5);
	ck_assert_uint_eq(mscrape_sample(m, K_REJ("bad_secret")), 2);
	ck_assert_uint_eq(mscrape_sample(m, K_REJ("handshake_timeout")), 0);
	ck_assert_uint_eq(mscrape_sample(m, K_REJ("replay")), 0);
	ck_assert_uint_eq(mscrape_sample(m, "mtproxyd_replay_hits_total"), 0);
	/* Three passed, two failed; three connects to DC 2, none elsewhere. */
	ck_assert_uint_eq(mscrape_sample(m, K_HS_COUNT), 5);
	ck_assert_uint_eq(mscrape_sample(m, K_HS_INF), 5);
	ck_assert_uint_eq(mscrape_sample(m, K_DC_COUNT("2")), 3);
	ck_assert_uint_eq(mscrape_sample(m, K_DC_COUNT("1")), 0);
	/* No cover site: the strangers are held, not relayed. */
	ck_assert_uint_eq(mscrape_sample(m, K_MASK("bad_secret")), 0);
	ck_assert_uint_eq(mscrape_sample(m,
	    "mtproxyd_build_info|version=" PACKAGE_VERSION), 1);
	free(m);
	tclient_close(s1);
	tclient_close(s2);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

/* An echo of len bytes from address from; the session left open. */
static struct tclient *
session_from(struct daemon_proc *d, const char *hex, const char *from,
    const uint8_t *msg, size_t len, uint8_t *got)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t sslen;
	size_t r;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &sslen), 0);
	ck_assert_int_eq(inet_pton(AF_INET, from, &src.sin_addr), 1);
	itest_key(hex, key);
	ck_assert_int_eq(tclient_connect_from((struct sockaddr *)&src,
	    (struct sockaddr *)&ss, sslen, key, FRAME_INTERMEDIATE, 2,
	    ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_send(c, msg, len, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, FRAME_MAX_LEN, &r, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(r, len);
	ck_assert_mem_eq(got, msg, len);
	return c;
}

#define K_LIMIT(u, l)	"mtproxyd_limit_rejects_total|limit=" l "|user=" u
#define K_QUOTA(u)	"mtproxyd_quota_remaining_bytes|user=" u
#define K_IPS(u, w)	"mtproxyd_unique_ips|user=" u "|window=" w
#define K_RELOADS(r)	"mtproxyd_config_reloads_total|result=" r
#define USER_MSG	1000

/*
 * The per-user limit series: bob (quota 1M, one session at a time) has
 * one session and one refused; his quota left is 1M less what he moved;
 * alice came from three addresses; a reload is counted.
 */
START_TEST(user_series)
{
	const char *python = mscrape_python_or_skip();
	struct tclient *a[3], *b, *refused = NULL;
	struct sockaddr_storage ss;
	uint8_t key[SECRET_LEN];
	socklen_t sslen;
	struct daemon_proc *d;
	struct fakedc *dc;
	uint8_t *msg, *got;
	uint16_t port;
	char *m;
	int i;

	if (python == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	msg = itest_random_bytes(USER_MSG);
	ck_assert_ptr_nonnull(got = malloc(FRAME_MAX_LEN));
	port = mscrape_free_port();
	d = proxy_start(port, dc, 0, "[user.bob]\nquota = 1M\n"
	    "max_connections = 1\n");
	a[0] = session_from(d, ALICE_HEX, "127.0.0.1", msg, USER_MSG, got);
	a[1] = session_from(d, ALICE_HEX, "127.0.0.2", msg, USER_MSG, got);
	a[2] = session_from(d, ALICE_HEX, "127.0.0.2", msg, USER_MSG, got);
	b = session_from(d, BOB_HEX, "127.0.0.3", msg, USER_MSG, got);
	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &sslen), 0);
	itest_key(BOB_HEX, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, sslen, key,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &refused), 0);
	m = mscrape_until(d, port, python, K_LIMIT("bob", "max_connections"),
	    1);
	ck_assert_uint_eq(mscrape_sample(m, K_REJ("user_limit")), 1);
	free(m);
	tclient_close(refused);
	ck_assert_int_eq(kill(daemon_pid(d), SIGHUP), 0);
	ck_assert_int_eq(daemon_wait_log(d, "reload: 2 user(s)", ITEST_IO_MS),
	    0);
	m = mscrape_until(d, port, python, K_RELOADS("ok"), 1);
	ck_assert_uint_eq(mscrape_sample(m, K_RELOADS("failed")), 0);
	ck_assert_uint_eq(mscrape_sample(m, K_QUOTA("bob")),
	    1048576 - 2 * (USER_MSG + 4));
	ck_assert_ptr_null(strstr(m, "mtproxyd_quota_remaining_bytes|user="
	    "alice"));
	ck_assert_uint_eq(mscrape_sample(m, K_IPS("alice", "5m")), 2);
	ck_assert_uint_eq(mscrape_sample(m, K_IPS("alice", "1d")), 2);
	ck_assert_uint_eq(mscrape_sample(m, K_IPS("bob", "1h")), 1);
	ck_assert_uint_eq(mscrape_sample(m, K_LIMIT("alice", "quota")), 0);
	free(m);
	for (i = 0; i < 3; i++)
		tclient_close(a[i]);
	tclient_close(b);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

/* One echo of len bytes, the session left open. */
static struct tclient *
live_session(struct daemon_proc *d, const uint8_t *msg, uint8_t *got)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;
	size_t r;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_send(c, msg, 1024, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, FRAME_MAX_LEN, &r, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(r, 1024);
	return c;
}

/*
 * LIVE sessions held open and MASKED strangers relayed to an echo cover
 * site: each of them has both directions on a session thread, so the busy
 * threads are exactly twice their number; every one of them got a
 * handshake observed, the LIVE ones a DC connect, the strangers a mask
 * relay under their reject reason. Once all close, no thread is busy, and
 * with pool_spare = 0 none idles either.
 */
START_TEST(runtime_values)
{
	struct tclient *live[LIVE], *bad[MASKED];
	const char *python = mscrape_python_or_skip();
	struct daemon_proc *d;
	struct fakedc *dc;
	struct cover *cv;
	uint8_t *msg, *got;
	uint16_t port;
	char *m;
	int i;

	if (python == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	msg = itest_random_bytes(1024);
	ck_assert_ptr_nonnull(got = malloc(FRAME_MAX_LEN));
	port = mscrape_free_port();
	/* No spare threads: each leaves as its session ends, idle or not. */
	d = proxy_start(port, dc, cover_port(cv), "pool_spare = 0\n");
	for (i = 0; i < LIVE; i++)
		live[i] = live_session(d, msg, got);
	for (i = 0; i < MASKED; i++)
		bad[i] = stranger(d);
	ck_assert_int_eq(cover_wait(cv, COVER_OPEN, MASKED, ITEST_IO_MS), 0);
	m = mscrape_until(d, port, python, K_MASK("bad_secret"), MASKED);
	free(m);
	m = mscrape_until(d, port, python, K_BUSY, 2 * (LIVE + MASKED));
	ck_assert_uint_eq(mscrape_sample(m, "mtproxyd_sessions_active"),
	    LIVE + MASKED);
	ck_assert_uint_eq(mscrape_sample(m, K_HS_COUNT), LIVE + MASKED);
	ck_assert_uint_eq(mscrape_sample(m, K_DC_COUNT("2")), LIVE);
	ck_assert_uint_eq(mscrape_sample(m, K_REJ("bad_secret")), MASKED);
	ck_assert_uint_eq(mscrape_sample(m, K_MASK("not_tls")), 0);
	ck_assert_uint_eq(mscrape_sample(m, K_MASK("tls_digest")), 0);
	free(m);
	for (i = 0; i < LIVE; i++)
		tclient_close(live[i]);
	for (i = 0; i < MASKED; i++)
		tclient_close(bad[i]);
	/* A session is freed by its last thread just before that thread's
	   job ends: the two gauges reach 0 one after the other. */
	m = mscrape_until(d, port, python, "mtproxyd_sessions_active", 0);
	free(m);
	m = mscrape_until(d, port, python, K_BUSY, 0);
	ck_assert_uint_eq(mscrape_sample(m, "mtproxyd_pool_threads|state=idle"),
	    0);
	ck_assert_uint_eq(mscrape_sample(m, K_HS_COUNT), LIVE + MASKED);
	free(m);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
	cover_stop(cv);
	free(msg);
	free(got);
}
END_TEST

/* /healthz answers; 127.0.0.2 is outside allow = 127.0.0.1/32: 403. */
START_TEST(healthz_and_allow)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint16_t port = mscrape_free_port();
	struct daemon_proc *d = proxy_start(port, dc, 0, "");
	char *body;

	ck_assert_int_eq(mscrape_get("127.0.0.1", port, "/healthz", &body), 200);
	ck_assert_str_eq(body, "ok\n");
	free(body);
	ck_assert_int_eq(mscrape_get("127.0.0.1", port, "/nothing", NULL), 404);
	ck_assert_int_eq(mscrape_get("127.0.0.2", port, "/metrics", &body), 403);
	ck_assert_ptr_null(strstr(body, "mtproxyd_"));
	free(body);
	ck_assert_int_eq(mscrape_get("127.0.0.2", port, "/healthz", NULL), 403);
	itest_stop(d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(dc);
}
END_TEST

/* Exit 2 and one line naming the key: never the client port. */
START_TEST(client_port_refused)
{
	static const char conf[] =
	    "[server]\nport = 18443\nstate_dir = @DIR@\n"
	    "[metrics]\nlisten = 127.0.0.1:18443\n";
	static const char *const args[] = { "--check-config", NULL };
	char out[OUT_MAX];
	int status = -1;

	ck_assert_int_eq(daemon_run(args, conf, out, sizeof(out), &status,
	    ITEST_IO_MS), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	ck_assert_ptr_nonnull(strstr(out, "config: [metrics] listen: expected "
	    "a port other than the client port 18443\n"));
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, values_equal_traffic);
	tcase_add_test(tc, runtime_values);
	tcase_add_test(tc, user_series);
	tcase_add_test(tc, healthz_and_allow);
	tcase_add_test(tc, client_port_refused);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return metrics_suite();
}
