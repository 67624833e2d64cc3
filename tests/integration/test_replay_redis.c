/*
 * The replay set shared through Redis ([store] backend = redis, issue 13):
 * two daemons and one real redis-server on loopback. A fake-TLS hello or
 * an obfuscated2 header daemon A accepted is a replay at daemon B, relayed
 * to the cover site; Redis keeps a digest of the key, never the client's
 * bytes. With redis-server killed both go on serving fresh clients
 * promptly, on their own replay sets, and count each check Redis missed.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

#include "ckmain.h"
#include "client.h"
#include "cover.h"
#include "daemon.h"
#include "faketls.h"
#include "itest.h"
#include "mscrape.h"
#include "obfs2.h"
#include "tclock.h"

#define REDIS_SERVER	"/usr/bin/redis-server"
#define DOMAIN		"cover.test"
#define ALICE_HEX	"7e1a5c3f9b0d2e4f6a8c1b3d5e7f9012"
#define PREFIX		"itest:"
#define WINDOW_S	630	/* time_skew_past + time_skew_future */
#define QUIET_MS	700	/* the cover site has said all it will */
#define RESP_MAX	(64 * 1024)
#define PROMPT_MS	1000	/* a handshake with Redis gone */
#define FRESH		3	/* clients per daemon with Redis gone */
#define RETRY_WAIT_MS	1500	/* past replay_redis's probe interval */
#define K_REPLAY	"rejected{reason=\"replay\"}"
#define K_ERRORS	"replay_store_errors"

struct redis {
	pid_t pid;
	uint16_t port;
};

struct env {
	struct redis rs;
	struct fakedc *dc;
	struct cover *cv;
	struct daemon_proc *d[2];
	struct sockaddr_storage ss[2];
	socklen_t len[2];
	uint8_t key[SECRET_LEN];
};

static const char *const secrets[] = { ALICE_HEX };

static redisContext *
redis_open(uint16_t port)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (c != NULL && c->err != 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* PONG within the start time. */
static void
redis_wait(uint16_t port)
{
	int64_t until = tclock_now_ms() + ITEST_START_MS;
	redisContext *c;
	redisReply *r;
	int up = 0;

	while (!up && tclock_now_ms() < until) {
		if ((c = redis_open(port)) != NULL) {
			r = redisCommand(c, "PING");
			up = r != NULL && r->type == REDIS_REPLY_STATUS;
			freeReplyObject(r);
			redisFree(c);
		}
		if (!up)
			tclock_sleep_ms(50);
	}
	ck_assert_msg(up, "redis-server on port %u never answered", port);
}

/* 0, or -1 with the test skipped (no redis-server). */
static int
redis_start(struct redis *rs)
{
	char port[8];

	if (access(REDIS_SERVER, X_OK) != 0) {
		itest_skip("no " REDIS_SERVER " (apt-get install redis-server)");
		return -1;
	}
	rs->port = mscrape_free_port();
	snprintf(port, sizeof(port), "%u", rs->port);
	rs->pid = fork();
	ck_assert_int_ge(rs->pid, 0);
	if (rs->pid == 0) {
		/* A failed check ends the test process: Redis goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		execl(REDIS_SERVER, REDIS_SERVER, "--port", port, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    (char *)NULL);
		_exit(127);
	}
	redis_wait(rs->port);
	return 0;
}

/* SIGKILL: a crash, no goodbye on the daemons' connections. */
static void
redis_kill(struct redis *rs)
{
	if (rs->pid <= 0)
		return;
	kill(rs->pid, SIGKILL);
	waitpid(rs->pid, NULL, 0);
	rs->pid = 0;
}

static void
daemon_up(struct env *e, int i)
{
	char conf[2048];
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "handshake_timeout = 2\n"
	    "dc_pool = 0\n"
	    "modes = tls, secure\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n"
	    "[tls]\n"
	    "domain = " DOMAIN "\n"
	    "mask_host = 127.0.0.1\n"
	    "mask_port = %u\n"
	    "mask_probe_interval = 0\n"
	    "[store]\n"
	    "backend = redis\n"
	    "redis = 127.0.0.1:%u\n"
	    "prefix = " PREFIX "\n"
	    "timeout = 50\n",
	    (unsigned)fakedc_port(e->dc), (unsigned)cover_port(e->cv),
	    (unsigned)e->rs.port);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&e->d[i], conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_addr(e->d[i], AF_INET, &e->ss[i], &e->len[i]),
	    0);
}

/* 0, or -1 with the test skipped. */
static int
env_start(struct env *e)
{
	memset(e, 0, sizeof(*e));
	if (redis_start(&e->rs) != 0)
		return -1;
	e->dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	ck_assert_int_eq(cover_start_echo(&e->cv), 0);
	daemon_up(e, 0);
	daemon_up(e, 1);
	itest_key(ALICE_HEX, e->key);
	return 0;
}

static void
env_stop(struct env *e)
{
	itest_stop(e->d[0], secrets, 1, ITEST_STOP_MS);
	itest_stop(e->d[1], secrets, 1, ITEST_STOP_MS);
	redis_kill(&e->rs);
	fakedc_stop(e->dc);
	cover_stop(e->cv);
}

static long long
counter(const struct env *e, int i, const char *name)
{
	return itest_counter(e->d[i], name, ITEST_IO_MS);
}

/* One frame through the proxy and back from the echo DC. */
static void
echo_once(struct tclient *c)
{
	static const uint8_t msg[] = "shared replay set";
	uint8_t got[256];
	size_t n = 0;

	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS), 0);
	ck_assert_uint_ge(n, sizeof(msg));
	ck_assert_mem_eq(got, msg, sizeof(msg));
}

/* An app with the ee secret through daemon i, one frame echoed. */
static struct tclient *
app(const struct env *e, int i)
{
	struct tclient *c = NULL;

	ck_assert_int_eq(tclient_connect_tls((const struct sockaddr *)&e->ss[i],
	    e->len[i], e->key, DOMAIN, 2, NULL, ITEST_IO_MS, &c), 0);
	echo_once(c);
	return c;
}

/* Bytes to daemon i that it must relay to the cover site, byte for byte. */
static void
refused_to_cover(const struct env *e, int i, const uint8_t *buf, size_t len)
{
	uint8_t *resp = malloc(RESP_MAX);
	size_t n = 0;
	int closed = 0;

	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(cover_exchange((const struct sockaddr *)&e->ss[i],
	    e->len[i], buf, len, resp, RESP_MAX, &n, &closed, QUIET_MS,
	    ITEST_IO_MS), 0);
	/* The echo cover sent the bytes back: they reached it unchanged. */
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(resp, buf, len);
	ck_assert_int_ge(cover_seen(e->cv, buf,
	    len < COVER_SEEN_MAX ? len : COVER_SEEN_MAX), 1);
	free(resp);
}

/*
 * The one key under PREFIX "replay:" in Redis: a 32-hex-digit digest that
 * is not the client's bytes, alive for at most the window.
 */
static void
check_one_key(const struct env *e, const uint8_t *clear, size_t n)
{
	char hex[2 * 16 + 1];
	redisContext *c = redis_open(e->rs.port);
	redisReply *r, *ttl;
	const char *name;
	size_t i;

	ck_assert_ptr_nonnull(c);
	r = redisCommand(c, "KEYS " PREFIX "replay:*");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 1);
	name = r->element[0]->str;
	ck_assert_uint_eq(strlen(name), strlen(PREFIX "replay:") + 32);
	for (i = 0; i < n && i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", clear[i]);
	ck_assert_ptr_null(strstr(name, hex));
	ttl = redisCommand(c, "TTL %s", name);
	ck_assert_ptr_nonnull(ttl);
	ck_assert_int_eq(ttl->type, REDIS_REPLY_INTEGER);
	ck_assert_int_gt(ttl->integer, WINDOW_S - 60);
	ck_assert_int_le(ttl->integer, WINDOW_S);
	freeReplyObject(ttl);
	freeReplyObject(r);
	redisFree(c);
}

/*
 * An app's hello accepted by A, sent again to B: B has never seen it, but
 * Redis has. B refuses it as a replay and relays it to the cover site; the
 * DC saw one client.
 */
START_TEST(tls_hello_replayed_elsewhere)
{
	uint8_t hello[FAKETLS_HELLO_MAX];
	const uint8_t *h;
	struct tclient *c;
	size_t len = 0;
	struct env e;

	if (env_start(&e) != 0)
		return;
	c = app(&e, 0);
	ck_assert_ptr_nonnull(h = tclient_tls_hello(c, &len));
	ck_assert_uint_le(len, sizeof(hello));
	memcpy(hello, h, len);
	tclient_close(c);
	refused_to_cover(&e, 1, hello, len);
	ck_assert_int_eq(counter(&e, 1, K_REPLAY), 1);
	ck_assert_int_eq(counter(&e, 1, "masked"), 1);
	ck_assert_int_eq(counter(&e, 1, "handshakes"), 0);
	ck_assert_int_eq(counter(&e, 0, K_REPLAY), 0);
	ck_assert_int_eq(counter(&e, 0, "handshakes"), 1);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 1);
	ck_assert_int_eq(counter(&e, 0, K_ERRORS), 0);
	ck_assert_int_eq(counter(&e, 1, K_ERRORS), 0);
	check_one_key(&e, hello + TLS_RANDOM_OFF, 32);
	env_stop(&e);
}
END_TEST

/* The same with a plain obfuscated2 header (dd) an app sent to A. */
START_TEST(obfs2_header_replayed_elsewhere)
{
	uint8_t hdr[OBFS2_HEADER_LEN];
	struct tclient *c = NULL;
	struct env e;

	if (env_start(&e) != 0)
		return;
	ck_assert_int_eq(tclient_connect((const struct sockaddr *)&e.ss[0],
	    e.len[0], e.key, FRAME_PADDED, 2, ITEST_IO_MS, &c), 0);
	echo_once(c);
	memcpy(hdr, tclient_header(c), sizeof(hdr));
	tclient_close(c);
	refused_to_cover(&e, 1, hdr, sizeof(hdr));
	ck_assert_int_eq(counter(&e, 1, K_REPLAY), 1);
	ck_assert_int_eq(counter(&e, 1, "handshakes"), 0);
	ck_assert_int_eq(counter(&e, 0, K_REPLAY), 0);
	ck_assert_int_eq(counter(&e, 0, "handshakes"), 1);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 1);
	check_one_key(&e, hdr + OBFS2_KEY_OFF, 16);
	env_stop(&e);
}
END_TEST

/*
 * redis-server killed after a first client (so the daemons hold a
 * connection it drops): fresh apps still get through each daemon, each
 * handshake within PROMPT_MS; each such check is one error, and the
 * outage is logged once.
 */
START_TEST(redis_down_keeps_serving)
{
	struct tclient *c;
	int64_t t0;
	struct env e;
	int i, k;

	if (env_start(&e) != 0)
		return;
	for (i = 0; i < 2; i++)
		tclient_close(app(&e, i));
	redis_kill(&e.rs);
	for (i = 0; i < 2; i++) {
		for (k = 0; k < FRESH; k++) {
			t0 = tclock_now_ms();
			c = app(&e, i);
			ck_assert_int_lt(tclock_now_ms() - t0, PROMPT_MS);
			tclient_close(c);
		}
		ck_assert_int_eq(counter(&e, i, "handshakes"), 1 + FRESH);
		ck_assert_int_eq(counter(&e, i, K_REPLAY), 0);
		ck_assert_int_eq(counter(&e, i, K_ERRORS), FRESH);
		ck_assert_int_eq(daemon_log_count(e.d[i],
		    "replays are checked by this instance alone"), 1);
	}
	env_stop(&e);
}
END_TEST

/*
 * redis-server stopped (SIGSTOP: connections open, no answer): each
 * handshake still within PROMPT_MS, on the timeout; each check an error.
 * Continued: after the probe interval the next handshake finds it again,
 * logged once, and no more errors are counted.
 */
START_TEST(redis_stalled_then_back)
{
	struct tclient *c;
	int64_t t0;
	struct env e;
	int k;

	if (env_start(&e) != 0)
		return;
	tclient_close(app(&e, 0));
	ck_assert_int_eq(kill(e.rs.pid, SIGSTOP), 0);
	for (k = 0; k < FRESH; k++) {
		t0 = tclock_now_ms();
		c = app(&e, 0);
		ck_assert_int_lt(tclock_now_ms() - t0, PROMPT_MS);
		tclient_close(c);
	}
	ck_assert_int_eq(counter(&e, 0, K_ERRORS), FRESH);
	ck_assert_int_eq(kill(e.rs.pid, SIGCONT), 0);
	tclock_sleep_ms(RETRY_WAIT_MS);
	tclient_close(app(&e, 0));
	ck_assert_int_eq(counter(&e, 0, K_ERRORS), FRESH);
	ck_assert_int_eq(daemon_log_count(e.d[0],
	    "replays are checked by this instance alone"), 1);
	ck_assert_int_eq(daemon_log_count(e.d[0], "answers again"), 1);
	ck_assert_int_eq(counter(&e, 0, "handshakes"), 2 + FRESH);
	env_stop(&e);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("replay_redis");
	TCase *tc = tcase_create("shared");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, tls_hello_replayed_elsewhere);
	tcase_add_test(tc, obfs2_header_replayed_elsewhere);
	tcase_add_test(tc, redis_down_keeps_serving);
	tcase_add_test(tc, redis_stalled_then_back);
	suite_add_tcase(s, tc);
	return s;
}
