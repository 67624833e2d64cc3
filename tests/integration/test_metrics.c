/*
 * The [metrics] endpoint of the real daemon, on loopback: known bytes
 * through a fake DC (echo) and known bad clients, then /metrics parsed by
 * a real Prometheus text parser (python3-prometheus-client) must show
 * exactly those bytes and rejects; /healthz answers; a client outside the
 * allow list gets 403; a metrics port equal to the client port is refused.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "tclock.h"
#include "net.h"

#define CONF_MAX	2048
#define CMD_MAX		(PATH_MAX + 1024)
#define OUT_MAX		4096

#define ALICE_HEX	"3f5c0a9e71d2b8e46a0c9f13d7e2584b"
#define BOB_HEX		"b04e1d7a92c63f58e1a07d4c2b9f6e35"
#define WRONG_HEX	"0123456789abcdef0123456789abcdef"

enum user { ALICE, BOB, NUSERS };

static const char *const user_hex[NUSERS] = { ALICE_HEX, BOB_HEX };

/*
 * Every sample as "name|label=value|... value", labels sorted, so that
 * the test reads what the parser understood, not the raw text.
 */
static const char parser_py[] =
    "import sys\n"
    "from prometheus_client.parser import text_string_to_metric_families\n"
    "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
    "    for s in f.samples:\n"
    "        l = ''.join('|%s=%s' % kv for kv in sorted(s.labels.items()))\n"
    "        print('%s%s %d' % (s.name, l, s.value))\n";

/*
 * The first python3 that has the parser: Debian's package installs it for
 * the system's python3, which a python3 earlier in PATH (pyenv, venv) may
 * not see. NULL: none.
 */
static const char *
parser_python(void)
{
	static const char *const pythons[] = { "python3", "/usr/bin/python3" };
	char cmd[128];
	size_t i;

	for (i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import prometheus_client."
		    "parser' >/dev/null 2>&1", pythons[i]);
		if (system(cmd) == 0)
			return pythons[i];
	}
	return NULL;
}

/* A port free now on 127.0.0.1: the metrics port is given, not chosen. */
static uint16_t
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

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

/*
 * GET path from src (a loopback address) to the metrics port; the status
 * code, and the body (caller frees) when body is not NULL.
 */
static int
http_get(const char *src, uint16_t port, const char *path, char **body)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct sockaddr_in to = { .sin_family = AF_INET };
	char req[256], *resp, *start;
	int fd, status = 0;

	ck_assert_int_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	ck_assert_int_eq(net_set_timeouts(fd, ITEST_IO_MS, ITEST_IO_MS), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	ck_assert_int_eq(net_write_full(fd, req, strlen(req)), 0);
	resp = itest_read_fd(fd);
	close(fd);
	ck_assert_int_eq(sscanf(resp, "HTTP/1.%*d %d", &status), 1);
	start = strstr(resp, "\r\n\r\n");
	ck_assert_ptr_nonnull(start);
	if (body != NULL) {
		*body = strdup(start + 4);
		ck_assert_ptr_nonnull(*body);
	}
	free(resp);
	return status;
}

/* /metrics from 127.0.0.1, through the parser: its sample lines. */
static char *
scrape(struct daemon_proc *d, uint16_t port, const char *python)
{
	char path[PATH_MAX], cmd[CMD_MAX], *body, *out;
	FILE *fp, *p;

	ck_assert_int_eq(http_get("127.0.0.1", port, "/metrics", &body), 200);
	snprintf(path, sizeof(path), "%s/metrics.txt", daemon_dir(d));
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(body, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	free(body);
	snprintf(cmd, sizeof(cmd), "%s -c \"$PARSER\" '%s'", python, path);
	ck_assert_int_eq(setenv("PARSER", parser_py, 1), 0);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	out = itest_read_fd(fileno(p));
	ck_assert_msg(pclose(p) == 0, "the parser refused %s:\n%s", path, out);
	return out;
}

/* The value of the sample "name|labels", which must be there. */
static unsigned long long
sample(const char *samples, const char *key)
{
	char want[256];
	const char *p = samples;
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "%s ", key);
	for (; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, want, n) == 0)
			return strtoull(p + n, NULL, 10);
	}
	ck_abort_msg("no sample %s in:\n%s", key, samples);
	return 0;
}

/* Scrape until key reads want: counters land just after the client sees. */
static char *
scrape_until(struct daemon_proc *d, uint16_t port, const char *python,
    const char *key, unsigned long long want)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	char *s;

	for (;;) {
		s = scrape(d, port, python);
		if (sample(s, key) == want)
			return s;
		ck_assert_msg(tclock_now_ms() < deadline, "%s stayed %llu, "
		    "expected %llu", key, sample(s, key), want);
		free(s);
		tclock_sleep_ms(50);
	}
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
	const char *python = parser_python();
	char *m;

	if (python == NULL) {
		itest_skip("no python3 with prometheus_client: install "
		    "python3-prometheus-client");
		return;
	}
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	msg = itest_random_bytes(200000);
	ck_assert_ptr_nonnull(got = malloc(FRAME_MAX_LEN));
	port = free_port();
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
	ck_assert_uint_eq(sample(m, K_UP("alice")), alice);
	ck_assert_uint_eq(sample(m, K_DOWN("alice")), alice);
	ck_assert_uint_eq(sample(m, K_UP("bob")), bob);
	ck_assert_uint_eq(sample(m, K_DOWN("bob")), bob);
	ck_assert_uint_eq(alice + bob, fakedc_counter(dc, FAKEDC_BYTES_IN));
	ck_assert_uint_eq(sample(m, K_CONNS("alice")), 2);
	ck_assert_uint_eq(sample(m, K_CONNS("bob")), 1);
	ck_assert_uint_eq(sample(m, K_ACTIVE("alice")), 0);
	ck_assert_uint_eq(sample(m, K_ACTIVE("bob")), 0);
	ck_assert_uint_eq(sample(m, "mtproxyd_accepted_total"), 5);
	ck_assert_uint_eq(sample(m, K_REJ("bad_secret")), 2);
	ck_assert_uint_eq(sample(m, K_REJ("handshake_timeout")), 0);
	ck_assert_uint_eq(sample(m, K_REJ("replay")), 0);
	ck_assert_uint_eq(sample(m, "mtproxyd_replay_hits_total"), 0);
	ck_assert_uint_eq(sample(m,
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
	uint16_t port = free_port();
	struct daemon_proc *d = proxy_start(port, dc);
	char *body;

	ck_assert_int_eq(http_get("127.0.0.1", port, "/healthz", &body), 200);
	ck_assert_str_eq(body, "ok\n");
	free(body);
	ck_assert_int_eq(http_get("127.0.0.1", port, "/nothing", NULL), 404);
	ck_assert_int_eq(http_get("127.0.0.2", port, "/metrics", &body), 403);
	ck_assert_ptr_null(strstr(body, "mtproxyd_"));
	free(body);
	ck_assert_int_eq(http_get("127.0.0.2", port, "/healthz", NULL), 403);
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
