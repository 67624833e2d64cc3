/*
 * The [metrics] endpoint of the real daemon, on loopback: known bytes
 * through a fake DC (echo) and known bad clients, then /metrics parsed by
 * a real Prometheus text parser (python3-prometheus-client) must show
 * exactly those bytes and rejects; /healthz answers; a client outside the
 * allow list gets 403; a metrics port equal to the client port is refused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "scrape.h"
#include "tclock.h"

#define CONF_MAX	2048
#define OUT_MAX		4096

#define ALICE_HEX	"3f5c0a9e71d2b8e46a0c9f13d7e2584b"
#define BOB_HEX		"b04e1d7a92c63f58e1a07d4c2b9f6e35"
#define WRONG_HEX	"0123456789abcdef0123456789abcdef"

enum user { ALICE, BOB, NUSERS };

static const char *const user_hex[NUSERS] = { ALICE_HEX, BOB_HEX };

static struct daemon_proc *
proxy_start(uint16_t mport, const struct fakedc *dc)
{
	struct daemon_proc *d = NULL;
	char conf[CONF_MAX];
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "modes = classic, secure\n"
	    "dc_pool = 0\n"
	    "handshake_timeout = 10\n"
	    "state_dir = @DIR@\n"
	    "[metrics]\n"
	    "listen = 127.0.0.1:%u\n"
	    "allow = 127.0.0.1/32\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n", mport, fakedc_port(dc));
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
	const char *python = scrape_python();
	char *m;

	if (python == NULL) {
		itest_skip("no python3 with prometheus_client: install "
		    "python3-prometheus-client");
		return;
	}
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	msg = itest_random_bytes(200000);
	ck_assert_ptr_nonnull(got = malloc(FRAME_MAX_LEN));
	port = scrape_free_port();
	d = proxy_start(port, dc);
	alice = echo_session(d, ALICE_HEX, FRAME_INTERMEDIATE, a1, 4, msg, got);
	alice += echo_session(d, ALICE_HEX, FRAME_ABRIDGED, a2, 4, msg, got);
	bob = echo_session(d, BOB_HEX, FRAME_INTERMEDIATE, b1, 4, msg, got);
	s1 = stranger(d);
	s2 = stranger(d);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	m = scrape_until(d, port, python, K_REJ("bad_secret"), 2);
	free(m);
	m = scrape_until(d, port, python, "mtproxyd_sessions_active", 2);
	ck_assert_uint_eq(scrape_sample(m, K_UP("alice")), alice);
	ck_assert_uint_eq(scrape_sample(m, K_DOWN("alice")), alice);
	ck_assert_uint_eq(scrape_sample(m, K_UP("bob")), bob);
	ck_assert_uint_eq(scrape_sample(m, K_DOWN("bob")), bob);
	ck_assert_uint_eq(alice + bob, fakedc_counter(dc, FAKEDC_BYTES_IN));
	ck_assert_uint_eq(scrape_sample(m, K_CONNS("alice")), 2);
	ck_assert_uint_eq(scrape_sample(m, K_CONNS("bob")), 1);
	ck_assert_uint_eq(scrape_sample(m, K_ACTIVE("alice")), 0);
	ck_assert_uint_eq(scrape_sample(m, K_ACTIVE("bob")), 0);
	ck_assert_uint_eq(scrape_sample(m, "mtproxyd_accepted_total"), 5);
	ck_assert_uint_eq(scrape_sample(m, K_REJ("bad_secret")), 2);
	ck_assert_uint_eq(scrape_sample(m, K_REJ("handshake_timeout")), 0);
	ck_assert_uint_eq(scrape_sample(m, K_REJ("replay")), 0);
	ck_assert_uint_eq(scrape_sample(m, "mtproxyd_replay_hits_total"), 0);
	ck_assert_uint_eq(scrape_sample(m,
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

/* /healthz answers; 127.0.0.2 is outside allow = 127.0.0.1/32: 403. */
START_TEST(healthz_and_allow)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint16_t port = scrape_free_port();
	struct daemon_proc *d = proxy_start(port, dc);
	char *body;

	ck_assert_int_eq(scrape_http_get("127.0.0.1", port, "/healthz", &body),
	    200);
	ck_assert_str_eq(body, "ok\n");
	free(body);
	ck_assert_int_eq(scrape_http_get("127.0.0.1", port, "/nothing", NULL),
	    404);
	ck_assert_int_eq(scrape_http_get("127.0.0.2", port, "/metrics", &body),
	    403);
	ck_assert_ptr_null(strstr(body, "mtproxyd_"));
	free(body);
	ck_assert_int_eq(scrape_http_get("127.0.0.2", port, "/healthz", NULL),
	    403);
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
