/*
 * Several instances sharing users' state through a real redis-server
 * (issue 13): a quota spent through two daemons ends at the combined
 * total, a connection cap holds across both, a user disabled in Redis is
 * refused by both, and an outage stalls nothing: transfers go on byte for
 * byte and the bytes of the outage reach the counter once Redis is back.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckmain.h"
#include "client.h"
#include "daemon.h"
#include "fakedc.h"
#include "itest.h"
#include "tclock.h"
#include "tredis.h"

#define CONF_MAX	4096
#define MSG_LEN		16000
#define WIRE		(MSG_LEN + 4)	/* intermediate framing, each way */
#define QUOTA		262144
#define QUOTA_ECHOES	(QUOTA / (2 * WIRE))
#define QUIET_MS	400
#define PASSWORD	"fleet-test-pw-7d3e"
/* Two rounds of the 1 s interval: each daemon wrote, then read. */
#define SETTLE_MS	2500
/* A dead instance's live counts: three intervals. */
#define LIVE_AGE_MS	3000
/* A handshake and an echo on loopback, well under Redis's 1 s timeout. */
#define HANG_FAST_MS	500

#define ALICE_HEX	"7d1f5a3e9c0b2846e1a5d3c79f02b84e"
#define BOB_HEX		"2c8e4f6a1b9d3057c4e2a8f61d0b7935"
#define CAROL_HEX	"e5a90c3d7f1b4862a0d5c9e37b2f1648"

static const char *const hexes[] = { ALICE_HEX, BOB_HEX, CAROL_HEX };

/* A redis-server, or the check skipped (NULL) where there is none. */
static struct tredis *
redis_up(uint16_t port)
{
	struct tredis *r = NULL;
	int rc = tredis_start(port, PASSWORD, ITEST_START_MS, &r);

	if (rc == TREDIS_ERR_MISSING) {
		itest_skip("no redis-server on PATH");
		return NULL;
	}
	ck_assert_int_eq(rc, 0);
	return r;
}

/* mtproxyd towards dc, users alice, bob, carol, sharing state in r. */
static struct daemon_proc *
fleet_start_pw(const struct fakedc *dc, const struct tredis *r,
    const char *password, const char *user_sections)
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
	    "state_dir = @DIR@\n"
	    "[store]\n"
	    "backend = redis\n"
	    "redis = 127.0.0.1:%u\n"
	    "password = %s\n"
	    "interval = 1\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "carol = " CAROL_HEX "\n"
	    "%s"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n",
	    tredis_port(r), password, user_sections, fakedc_port(dc));
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	return d;
}

static struct daemon_proc *
fleet_start(const struct fakedc *dc, const struct tredis *r,
    const char *user_sections)
{
	return fleet_start_pw(dc, r, PASSWORD, user_sections);
}

/* The password is in no log line. */
static void
fleet_stop(struct daemon_proc *d)
{
	ck_assert_int_eq(daemon_log_contains(d, PASSWORD), 0);
	itest_stop(d, hexes, 3, ITEST_STOP_MS);
}

/* Both daemons (b NULL: one), the DC, Redis, the test's message. */
static void
fleet_end(struct daemon_proc *a, struct daemon_proc *b, struct fakedc *dc,
    struct tredis *r, uint8_t *msg)
{
	free(msg);
	fleet_stop(a);
	if (b != NULL)
		fleet_stop(b);
	fakedc_stop(dc);
	tredis_kill(r);
}

static unsigned long long
value(struct daemon_proc *d, const char *name)
{
	return (unsigned long long)itest_counter(d, name, ITEST_IO_MS);
}

static unsigned long long
used(struct daemon_proc *d)
{
	return value(d, "user_quota_used{user=\"carol\"}");
}

static void
wait_value(struct daemon_proc *d, const char *name, unsigned long long want)
{
	itest_wait_counter(d, name, (long long)want, ITEST_IO_MS, ITEST_IO_MS);
}

/* The fleet's quota counter of carol (period total). */
static unsigned long long
counter(const struct tredis *r)
{
	char out[32];

	ck_assert_int_eq(tredis_cmd(r, out, sizeof(out),
	    "GET mtproxyd:quota:carol:0"), 0);
	return strtoull(out, NULL, 10);
}

static void
wait_counter(const struct tredis *r, unsigned long long want)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;

	while (counter(r) != want) {
		ck_assert_msg(tclock_now_ms() < deadline, "counter %llu, not "
		    "%llu", counter(r), want);
		tclock_sleep_ms(100);
	}
}

static struct tclient *
open_user(struct daemon_proc *d, const char *hex)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(hex, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	return c;
}

/* 0: msg came back byte for byte; -1: the session is gone. */
static int
echo(struct tclient *c, const uint8_t *msg)
{
	uint8_t got[MSG_LEN + 64];
	size_t n = 0;
	int rc = tclient_send(c, msg, MSG_LEN, 0);

	if (rc == 0)
		rc = tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS);
	if (rc != 0)
		return -1;
	ck_assert_uint_eq(n, MSG_LEN);
	ck_assert_mem_eq(got, msg, MSG_LEN);
	return 0;
}

/* A session that relays: one echo comes back whole. */
static struct tclient *
open_ok(struct daemon_proc *d, const char *hex, const uint8_t *msg)
{
	struct tclient *c = open_user(d, hex);

	ck_assert_int_eq(echo(c, msg), 0);
	return c;
}

/* Refused: nothing back, no DC connection, counted for that limit. */
static void
check_refused(struct daemon_proc *d, struct fakedc *dc, const char *hex,
    const char *user, const char *limit, unsigned long long times)
{
	uint64_t accepted = fakedc_counter(dc, FAKEDC_ACCEPTED);
	struct tclient *c = open_user(d, hex);
	uint8_t msg[64] = { 1, 2, 3 }, b;
	char name[128];
	size_t n;

	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_read_raw(c, &b, 1, &n, 0, QUIET_MS),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), accepted);
	snprintf(name, sizeof(name), "user_limit_rejects{user=\"%s\","
	    "limit=\"%s\"}", user, limit);
	ck_assert_uint_eq(value(d, name), times);
	tclient_close(c);
}

/* Echoes by c until the session ends: how many came back. */
static int
echo_until_closed(struct tclient *c, const uint8_t *msg, int max)
{
	int ok = 0;

	while (ok < max && echo(c, msg) == 0)
		ok++;
	return ok;
}

/*
 * quota = 256K: half spent through A; once B has read the fleet's total,
 * B's session ends exactly where one daemon's would, and A then refuses.
 */
START_TEST(quota_shared)
{
	struct tredis *r = redis_up(0);
	struct fakedc *dc;
	struct daemon_proc *a, *b;
	struct tclient *c;
	uint8_t *msg;
	int half = QUOTA_ECHOES / 2, i;

	if (r == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	a = fleet_start(dc, r, "[user.carol]\nquota = 256K\n");
	b = fleet_start(dc, r, "[user.carol]\nquota = 256K\n");
	msg = itest_random_bytes(MSG_LEN);
	c = open_user(a, CAROL_HEX);
	for (i = 0; i < half; i++)
		ck_assert_int_eq(echo(c, msg), 0);
	tclient_close(c);
	wait_counter(r, (unsigned long long)half * 2 * WIRE);
	wait_value(b, "user_quota_used{user=\"carol\"}",
	    (unsigned long long)half * 2 * WIRE);
	c = open_user(b, CAROL_HEX);
	ck_assert_int_eq(echo_until_closed(c, msg, 100), QUOTA_ECHOES - half);
	tclient_close(c);
	/* B's bytes reach the counter; A learns the total, and refuses. */
	wait_value(b, "user_active{user=\"carol\"}", 0);
	wait_counter(r, used(b));
	ck_assert_uint_ge(counter(r), QUOTA);
	wait_value(a, "user_quota_used{user=\"carol\"}", counter(r));
	check_refused(a, dc, CAROL_HEX, "carol", "quota", 1);
	ck_assert_uint_eq(value(a, "store_up"), 1);
	fleet_end(a, b, dc, r, msg);
}
END_TEST

/* max_connections = 3: two on A and one on B; a fourth on either refused. */
START_TEST(connections_shared)
{
	static const char sect[] = "[user.alice]\nmax_connections = 3\n";
	struct tredis *r = redis_up(0);
	struct tclient *c[3];
	struct fakedc *dc;
	struct daemon_proc *a, *b;
	uint8_t *msg;
	int i;

	if (r == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	a = fleet_start(dc, r, sect);
	b = fleet_start(dc, r, sect);
	msg = itest_random_bytes(MSG_LEN);
	c[0] = open_ok(a, ALICE_HEX, msg);
	c[1] = open_ok(a, ALICE_HEX, msg);
	tclock_sleep_ms(SETTLE_MS);
	c[2] = open_ok(b, ALICE_HEX, msg);
	tclock_sleep_ms(SETTLE_MS);
	check_refused(a, dc, ALICE_HEX, "alice", "max_connections", 1);
	check_refused(b, dc, ALICE_HEX, "alice", "max_connections", 1);
	/* One ends on A: B may take its place once A said so. */
	tclient_close(c[0]);
	tclock_sleep_ms(SETTLE_MS);
	c[0] = open_ok(b, ALICE_HEX, msg);
	/* A dies holding one: B counts it until its entry ages out. */
	ck_assert_int_eq(daemon_stop(a, SIGKILL, ITEST_STOP_MS, NULL), 0);
	check_refused(b, dc, ALICE_HEX, "alice", "max_connections", 2);
	tclock_sleep_ms(LIVE_AGE_MS + SETTLE_MS);
	tclient_close(c[1]);
	c[1] = open_ok(b, ALICE_HEX, msg);
	for (i = 0; i < 3; i++)
		tclient_close(c[i]);
	free(msg);
	fleet_stop(b);
	fakedc_stop(dc);
	tredis_kill(r);
}
END_TEST

/*
 * user:bob enabled = 0 in Redis: both refuse bob, then take him back.
 * Carol's daily counter expires on its own.
 */
START_TEST(disabled_in_redis)
{
	static const char DAILY[] = "[user.carol]\nquota = 1M\n"
	    "quota_period = day\n";
	struct tredis *r = redis_up(0);
	struct fakedc *dc;
	struct daemon_proc *a, *b;
	uint8_t *msg;
	char out[32];
	long long ttl;
	time_t day;

	if (r == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	a = fleet_start(dc, r, DAILY);
	b = fleet_start(dc, r, DAILY);
	msg = itest_random_bytes(MSG_LEN);
	tclient_close(open_ok(a, BOB_HEX, msg));
	ck_assert_int_eq(tredis_cmd(r, out, sizeof(out),
	    "HSET mtproxyd:user:bob enabled 0"), 0);
	tclock_sleep_ms(SETTLE_MS);
	/* A day's counter goes 35 days after the day's end. */
	day = time(NULL) / 86400 * 86400;
	ck_assert_int_eq(tredis_cmd(r, out, sizeof(out),
	    "TTL mtproxyd:quota:carol:%lld", (long long)day), 0);
	ttl = strtoll(out, NULL, 10);
	ck_assert_int_gt(ttl, 35 * 86400 - 5);
	ck_assert_int_le(ttl, day + 36 * 86400 - time(NULL));
	check_refused(a, dc, BOB_HEX, "bob", "disabled", 1);
	check_refused(b, dc, BOB_HEX, "bob", "disabled", 1);
	tclient_close(open_ok(b, ALICE_HEX, msg));
	ck_assert_int_eq(tredis_cmd(r, out, sizeof(out),
	    "HSET mtproxyd:user:bob enabled 1"), 0);
	tclock_sleep_ms(SETTLE_MS);
	tclient_close(open_ok(a, BOB_HEX, msg));
	tclient_close(open_ok(b, BOB_HEX, msg));
	fleet_end(a, b, dc, r, msg);
}
END_TEST

/*
 * Redis killed mid-transfer: echoes go on byte for byte, store_up goes 0,
 * the outage is logged once. Redis back (empty: no persistence): the
 * counter holds the bytes of the outage, exactly once.
 */
START_TEST(outage)
{
	struct tredis *r = redis_up(0);
	struct fakedc *dc;
	struct daemon_proc *a;
	struct tclient *c;
	uint8_t *msg;
	uint16_t port;
	int i;

	if (r == NULL)
		return;
	port = tredis_port(r);
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	a = fleet_start(dc, r, "[user.carol]\nquota = 10M\n");
	msg = itest_random_bytes(MSG_LEN);
	c = open_ok(a, CAROL_HEX, msg);
	wait_counter(r, 2 * WIRE);
	tredis_kill(r);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(echo(c, msg), 0);
	wait_value(a, "store_up", 0);
	ck_assert_uint_ge(value(a, "store_errors{kind=\"connect\"}") +
	    value(a, "store_errors{kind=\"io\"}"), 1);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(echo(c, msg), 0);
	tclock_sleep_ms(SETTLE_MS);
	ck_assert_int_eq(daemon_log_count(a, " unreachable ("), 1);
	r = redis_up(port);
	ck_assert_ptr_nonnull(r);
	wait_value(a, "store_up", 1);
	ck_assert_int_eq(daemon_log_count(a, " reachable; sharing"), 2);
	wait_counter(r, 10 * 2 * WIRE);
	/* A round later: nothing flushed twice. */
	tclock_sleep_ms(SETTLE_MS);
	ck_assert_uint_eq(counter(r), 10 * 2 * WIRE);
	ck_assert_uint_eq(used(a), 10 * 2 * WIRE);
	ck_assert_int_eq(echo(c, msg), 0);
	tclient_close(c);
	fleet_end(a, NULL, dc, r, msg);
}
END_TEST

/*
 * A Redis that hangs (SIGSTOP): rounds time out, store_up goes 0, and
 * meanwhile new clients are admitted and relayed as fast as ever.
 */
START_TEST(hang)
{
	struct tredis *r = redis_up(0);
	struct fakedc *dc;
	struct daemon_proc *a;
	struct tclient *c;
	uint8_t *msg;
	int64_t t0;
	int i;

	if (r == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	a = fleet_start(dc, r, "[user.carol]\nquota = 10M\n");
	msg = itest_random_bytes(MSG_LEN);
	wait_value(a, "store_up", 1);
	tredis_signal(r, SIGSTOP);
	for (i = 0; i < 5; i++) {
		t0 = tclock_now_ms();
		c = open_ok(a, CAROL_HEX, msg);
		tclient_close(c);
		ck_assert_int_lt(tclock_now_ms() - t0, HANG_FAST_MS);
		tclock_sleep_ms(300);
	}
	wait_value(a, "store_up", 0);
	ck_assert_uint_ge(value(a, "store_errors{kind=\"io\"}"), 1);
	tredis_signal(r, SIGCONT);
	wait_value(a, "store_up", 1);
	wait_counter(r, 5 * 2 * WIRE);
	fleet_end(a, NULL, dc, r, msg);
}
END_TEST

/*
 * A password Redis refuses: counted as auth, logged once without the
 * password, and clients are served meanwhile from the local view.
 */
START_TEST(wrong_password)
{
	static const char wrong[] = "wrong-pw-Zq9x";
	struct tredis *r = redis_up(0);
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	struct fakedc *dc;
	struct daemon_proc *a;
	uint8_t *msg;

	if (r == NULL)
		return;
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	a = fleet_start_pw(dc, r, wrong, "");
	msg = itest_random_bytes(MSG_LEN);
	while (value(a, "store_errors{kind=\"auth\"}") < 2) {
		ck_assert_msg(tclock_now_ms() < deadline, "no auth errors");
		tclock_sleep_ms(100);
	}
	ck_assert_uint_eq(value(a, "store_up"), 0);
	ck_assert_int_eq(daemon_log_count(a, "(password refused)"), 1);
	ck_assert_int_eq(daemon_log_contains(a, wrong), 0);
	tclient_close(open_ok(a, ALICE_HEX, msg));
	fleet_end(a, NULL, dc, r, msg);
}
END_TEST

static Suite *
fleet_suite(void)
{
	Suite *s = suite_create("fleet");
	TCase *tc = tcase_create("fleet");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, quota_shared);
	tcase_add_test(tc, connections_shared);
	tcase_add_test(tc, disabled_in_redis);
	tcase_add_test(tc, outage);
	tcase_add_test(tc, hang);
	tcase_add_test(tc, wrong_password);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return fleet_suite();
}
