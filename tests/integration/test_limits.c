/*
 * Users' limits through the real daemon (issue 10): a connection or
 * address cap refuses the next one and no other; a quota ends the session
 * that spends it and refuses new ones; expiry ends sessions at the time;
 * a disabled user is refused; a rate paces each direction; quota state
 * survives a stop and a SIGKILL, and a new period starts afresh (the
 * daemon's clock moved by MTPROXYD_TEST_TIME, not by waiting a day). A
 * refused client learns nothing: no byte back, no DC connection.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ckmain.h"
#include "client.h"
#include "daemon.h"
#include "fakedc.h"
#include "itest.h"
#include "tclock.h"
#include "tfile.h"

#define CONF_MAX	4096
#define MSG_LEN		16000
#define QUIET_MS	400	/* a refused client hears nothing this long */

#define ALICE_HEX	"7d1f5a3e9c0b2846e1a5d3c79f02b84e"
#define BOB_HEX		"2c8e4f6a1b9d3057c4e2a8f61d0b7935"
#define CAROL_HEX	"e5a90c3d7f1b4862a0d5c9e37b2f1648"

static const char *const hexes[] = { ALICE_HEX, BOB_HEX, CAROL_HEX };

/* --- the daemon */

/*
 * mtproxyd in direct mode towards dc with users alice, bob and carol and
 * the given [user.NAME] sections; server_extra goes into [server].
 */
static struct daemon_proc *
limits_start(const struct fakedc *dc, const char *server_extra,
    const char *user_sections)
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
	    "handshake_timeout = 3\n"
	    "%s"
	    "state_interval = 1\n"
	    "%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "carol = " CAROL_HEX "\n"
	    "%s"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n",
	    strstr(server_extra, "state_dir") != NULL ? "" :
	    "state_dir = @DIR@\n", server_extra, user_sections,
	    fakedc_port(dc));
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	return d;
}

/* A fresh report; carol's last line ends it. */
static char *
report(struct daemon_proc *d)
{
	return itest_stats(d, "user_quota_used{user=\"carol\"}", ITEST_IO_MS);
}

static unsigned long long
user_value(struct daemon_proc *d, const char *counter, const char *user,
    const char *limit)
{
	char name[128], *r = report(d);
	unsigned long long v;

	if (limit != NULL)
		snprintf(name, sizeof(name), "%s{user=\"%s\",limit=\"%s\"}",
		    counter, user, limit);
	else
		snprintf(name, sizeof(name), "%s{user=\"%s\"}", counter, user);
	v = itest_stats_value(r, name);
	free(r);
	return v;
}

static unsigned long long
value(struct daemon_proc *d, const char *name)
{
	char *r = report(d);
	unsigned long long v = itest_stats_value(r, name);

	free(r);
	return v;
}

/* Reports until a user's counter reaches want. */
static void
wait_user(struct daemon_proc *d, const char *counter, const char *user,
    unsigned long long want)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;

	while (user_value(d, counter, user, NULL) != want) {
		ck_assert_msg(tclock_now_ms() < deadline, "%s of %s never "
		    "reached %llu", counter, user, want);
		tclock_sleep_ms(50);
	}
}

/* --- clients */

static struct tclient *
open_from(struct daemon_proc *d, const char *from_ip, const char *hex)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	ck_assert_int_eq(inet_pton(AF_INET, from_ip, &from.sin_addr), 1);
	itest_key(hex, key);
	ck_assert_int_eq(tclient_connect_from((struct sockaddr *)&from,
	    (struct sockaddr *)&ss, len, key, FRAME_INTERMEDIATE, 2,
	    ITEST_IO_MS, &c), 0);
	return c;
}

static struct tclient *
open_user(struct daemon_proc *d, const char *hex)
{
	return open_from(d, "127.0.0.1", hex);
}

/* 0: the message came back byte for byte; -1: the session is gone. */
static int
echo(struct tclient *c, const uint8_t *msg, size_t len)
{
	uint8_t *got = malloc(len + 64);
	size_t n = 0;
	int rc;

	ck_assert_ptr_nonnull(got);
	rc = tclient_send(c, msg, len, 0);
	if (rc == 0)
		rc = tclient_recv(c, got, len + 64, &n, ITEST_IO_MS);
	if (rc == 0) {
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(got, msg, len);
	}
	free(got);
	return rc == 0 ? 0 : -1;
}

static void
echo_ok(struct tclient *c)
{
	uint8_t *msg = itest_random_bytes(MSG_LEN);

	ck_assert_int_eq(echo(c, msg, MSG_LEN), 0);
	free(msg);
}

/*
 * A client the limits refuse: its header and a message get nothing back,
 * the DC sees no connection, and the refusal is counted for that limit.
 */
static void
check_refused(struct daemon_proc *d, struct fakedc *dc, struct tclient *c,
    const char *user, const char *limit, unsigned long long times)
{
	uint64_t accepted = fakedc_counter(dc, FAKEDC_ACCEPTED);
	uint8_t msg[64] = { 1, 2, 3 }, b;
	size_t n;

	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_read_raw(c, &b, 1, &n, 0, QUIET_MS),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), accepted);
	ck_assert_uint_eq(user_value(d, "user_limit_rejects", user, limit),
	    times);
	tclient_close(c);
}

static void
stop(struct daemon_proc *d, struct fakedc *dc)
{
	itest_stop(d, hexes, 3, ITEST_STOP_MS);
	fakedc_stop(dc);
}

/* --- tests */

/* max_connections = 2: the third at once is refused, a later one is not. */
START_TEST(connection_cap)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = limits_start(dc, "",
	    "[user.alice]\nmax_connections = 2\n");
	struct tclient *a1 = open_user(d, ALICE_HEX), *a2, *b;

	echo_ok(a1);
	a2 = open_user(d, ALICE_HEX);
	echo_ok(a2);
	check_refused(d, dc, open_user(d, ALICE_HEX), "alice",
	    "max_connections", 1);
	/* Other users are not capped by alice's limit. */
	b = open_user(d, BOB_HEX);
	echo_ok(b);
	ck_assert_uint_eq(value(d, "rejected{reason=\"user_limit\"}"), 1);
	tclient_close(a1);
	wait_user(d, "user_active", "alice", 1);
	a1 = open_user(d, ALICE_HEX);
	echo_ok(a1);
	echo_ok(a2);
	tclient_close(a1);
	tclient_close(a2);
	tclient_close(b);
	stop(d, dc);
}
END_TEST

/* max_ips = 2: a third address is refused; more from a held one are not. */
START_TEST(address_cap)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = limits_start(dc, "",
	    "[user.bob]\nmax_ips = 2\n");
	struct tclient *c2 = open_from(d, "127.0.0.2", BOB_HEX);
	struct tclient *c3 = open_from(d, "127.0.0.3", BOB_HEX), *c2b, *c4;

	echo_ok(c2);
	echo_ok(c3);
	c2b = open_from(d, "127.0.0.2", BOB_HEX);
	echo_ok(c2b);
	check_refused(d, dc, open_from(d, "127.0.0.4", BOB_HEX), "bob",
	    "max_ips", 1);
	tclient_close(c3);
	wait_user(d, "user_active", "bob", 2);
	c4 = open_from(d, "127.0.0.4", BOB_HEX);
	echo_ok(c4);
	tclient_close(c2);
	tclient_close(c2b);
	tclient_close(c4);
	stop(d, dc);
}
END_TEST

/*
 * quota: the session that spends it ends at the limit, within one read;
 * new ones are refused. Each echo of MSG_LEN moves MSG_LEN + 4 bytes each
 * way (intermediate framing), so exactly QUOTA_ECHOES come back whole.
 */
#define QUOTA		262144
#define WIRE		(MSG_LEN + 4)
#define QUOTA_ECHOES	(QUOTA / (2 * WIRE))

START_TEST(quota_exact)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = limits_start(dc, "",
	    "[user.carol]\nquota = 256K\n");
	uint8_t *msg = itest_random_bytes(MSG_LEN);
	struct tclient *c = open_user(d, CAROL_HEX);
	unsigned long long used;
	int ok = 0;

	while (ok < 100 && echo(c, msg, MSG_LEN) == 0)
		ok++;
	ck_assert_int_eq(ok, QUOTA_ECHOES);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	tclient_close(c);
	wait_user(d, "user_active", "carol", 0);
	used = user_value(d, "user_quota_used", "carol", NULL);
	/* What was counted is what moved: the last read crossed the line. */
	ck_assert_uint_eq(used, user_value(d, "user_bytes_in", "carol", NULL) +
	    user_value(d, "user_bytes_out", "carol", NULL));
	ck_assert_uint_ge(used, QUOTA);
	ck_assert_uint_le(used, QUOTA + WIRE);
	ck_assert_int_eq(daemon_log_count(d, "user=carol: session ends: "
	    "reason=quota"), 1);
	check_refused(d, dc, open_user(d, CAROL_HEX), "carol", "quota", 1);
	/* Alice has no quota. */
	c = open_user(d, ALICE_HEX);
	echo_ok(c);
	tclient_close(c);
	free(msg);
	stop(d, dc);
}
END_TEST

static void
iso_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* expires: a live session ends at the time, later ones are refused. */
START_TEST(expiry)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	time_t at = time(NULL) + 3;
	char sect[128], when[32];
	struct daemon_proc *d;
	struct tclient *c;

	iso_time(at, when, sizeof(when));
	snprintf(sect, sizeof(sect), "[user.alice]\nexpires = %s\n", when);
	d = limits_start(dc, "", sect);
	c = open_user(d, ALICE_HEX);
	echo_ok(c);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	/* Not before its time; the sweeper looks once a second. */
	ck_assert_int_ge(time(NULL), at);
	ck_assert_int_le(time(NULL), at + 3);
	tclient_close(c);
	ck_assert_int_eq(daemon_wait_log(d, "user=alice: session ends: "
	    "reason=expired", ITEST_IO_MS), 0);
	check_refused(d, dc, open_user(d, ALICE_HEX), "alice", "expired", 1);
	stop(d, dc);
}
END_TEST

START_TEST(disabled)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = limits_start(dc, "",
	    "[user.bob]\nenabled = no\n");
	struct tclient *c;

	check_refused(d, dc, open_user(d, BOB_HEX), "bob", "disabled", 1);
	check_refused(d, dc, open_user(d, BOB_HEX), "bob", "disabled", 2);
	c = open_user(d, ALICE_HEX);
	echo_ok(c);
	tclient_close(c);
	stop(d, dc);
}
END_TEST

/*
 * rate: bytes per second per direction, measured over RATE_S seconds
 * after the first (the bucket starts with a second's worth), within 10%.
 */
#define RATE		(128 * 1024)
#define RATE_S		3

static double
measured(uint64_t bytes, int64_t ms)
{
	return (double)bytes * 1000.0 / (double)ms;
}

START_TEST(rate_down)
{
	struct fakedc_opts o = { .family = AF_INET, .mode = FAKEDC_SOURCE,
	    .pattern = 1, .seed = 7 };
	struct fakedc *dc = NULL;
	struct daemon_proc *d;
	struct tclient *c;
	uint8_t buf[65536];
	uint64_t got = 0;
	int64_t start, t0 = 0;
	size_t n;
	double r;

	ck_assert_int_eq(fakedc_start(&o, &dc), 0);
	d = limits_start(dc, "", "[user.alice]\nrate = 128K\n");
	c = open_user(d, ALICE_HEX);
	start = tclock_now_ms();
	while (tclock_now_ms() - start < (1 + RATE_S) * 1000) {
		ck_assert_int_eq(tclient_read_raw(c, buf, sizeof(buf), &n, 1,
		    ITEST_IO_MS), 0);
		if (t0 == 0 && tclock_now_ms() - start >= 1000)
			t0 = tclock_now_ms();
		else if (t0 != 0)
			got += n;
	}
	r = measured(got, tclock_now_ms() - t0);
	ck_assert_msg(r > RATE * 0.9 && r < RATE * 1.1,
	    "download at %.0f B/s, limit %d", r, RATE);
	tclient_close(c);
	stop(d, dc);
}
END_TEST

START_TEST(rate_up)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_SINK);
	uint8_t *msg = itest_random_bytes(MSG_LEN);
	int sndbuf = 32768;
	struct daemon_proc *d;
	struct tclient *c;
	uint64_t b0 = 0;
	int64_t start, t0 = 0;
	double r;

	d = limits_start(dc, "", "[user.bob]\nrate = 128K\n");
	c = open_user(d, BOB_HEX);
	tclient_set_timeout(c, ITEST_IO_MS);
	/* A blocked writer wakes when a third of its buffer is free: keep it
	   small, or one send waits seconds at this rate. */
	ck_assert_int_eq(setsockopt(tclient_fd(c), SOL_SOCKET, SO_SNDBUF,
	    &sndbuf, sizeof(sndbuf)), 0);
	start = tclock_now_ms();
	while (tclock_now_ms() - start < (1 + RATE_S) * 1000) {
		ck_assert_int_eq(tclient_send(c, msg, MSG_LEN, 0), 0);
		if (t0 == 0 && tclock_now_ms() - start >= 1000) {
			t0 = tclock_now_ms();
			b0 = fakedc_counter(dc, FAKEDC_BYTES_IN);
		}
	}
	r = measured(fakedc_counter(dc, FAKEDC_BYTES_IN) - b0,
	    tclock_now_ms() - t0);
	ck_assert_msg(r > RATE * 0.9 && r < RATE * 1.1,
	    "upload at %.0f B/s, limit %d", r, RATE);
	tclient_close(c);
	free(msg);
	stop(d, dc);
}
END_TEST

/* --- quota state across restarts */

static char statedir[64];

static struct daemon_proc *
persist_start(struct fakedc *dc, const char *sections)
{
	char extra[160];

	snprintf(extra, sizeof(extra), "state_dir = %s\n", statedir);
	return limits_start(dc, extra, sections);
}

/* n echoes by carol, then her counted quota once the session is over. */
static unsigned long long
spend(struct daemon_proc *d, int n)
{
	uint8_t *msg = itest_random_bytes(MSG_LEN);
	struct tclient *c = open_user(d, CAROL_HEX);
	int i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(echo(c, msg, MSG_LEN), 0);
	tclient_close(c);
	free(msg);
	wait_user(d, "user_active", "carol", 0);
	return user_value(d, "user_quota_used", "carol", NULL);
}

/* _i 0: SIGTERM (written at the stop); 1: SIGKILL (the last interval's). */
START_TEST(quota_persists)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	static const char sect[] = "[user.carol]\nquota = 10M\n";
	struct daemon_proc *d;
	unsigned long long used;

	snprintf(statedir, sizeof(statedir), "/tmp/test_limits.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	d = persist_start(dc, sect);
	used = spend(d, 5);
	ck_assert_uint_eq(used, 10 * WIRE);
	if (_i == 0) {
		itest_stop(d, hexes, 3, ITEST_STOP_MS);
	} else {
		/* Two intervals: a write after the bytes was complete. */
		tclock_sleep_ms(2500);
		ck_assert_int_eq(daemon_stop(d, SIGKILL, ITEST_STOP_MS, NULL),
		    0);
	}
	d = persist_start(dc, sect);
	ck_assert_uint_eq(user_value(d, "user_quota_used", "carol", NULL),
	    used);
	ck_assert_uint_eq(spend(d, 1), used + 2 * WIRE);
	stop(d, dc);
	ck_assert_int_eq(tfile_rm_tree(statedir), 0);
}
END_TEST

/* A state file it cannot read is set aside; the daemon serves on. */
START_TEST(state_corrupt)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	static const char junk[] = "not a quota state\n";
	char path[128];
	struct daemon_proc *d;

	snprintf(statedir, sizeof(statedir), "/tmp/test_limits.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	snprintf(path, sizeof(path), "%s/quota.state", statedir);
	ck_assert_int_eq(tfile_write(path, junk, sizeof(junk) - 1), 0);
	d = persist_start(dc, "[user.carol]\nquota = 10M\n");
	ck_assert_int_eq(daemon_wait_log(d, "quota.state.bad, quotas start "
	    "from zero", ITEST_IO_MS), 0);
	ck_assert_uint_eq(spend(d, 1), 2 * WIRE);
	snprintf(path, sizeof(path), "%s/quota.state.bad", statedir);
	ck_assert_int_eq(access(path, F_OK), 0);
	stop(d, dc);
	ck_assert_int_eq(tfile_rm_tree(statedir), 0);
}
END_TEST

/*
 * quota_period = day: spent before midnight UTC, whole again after it.
 * The daemon's clock starts AHEAD_S before a midnight (MTPROXYD_TEST_TIME).
 */
#define AHEAD_S		15	/* room for a start under ASan and TSan */

START_TEST(period_rolls)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	time_t midnight = (time(NULL) / 86400 + 10) * 86400;
	uint8_t *msg = itest_random_bytes(MSG_LEN);
	struct daemon_proc *d;
	struct tclient *c;
	char start[32];
	int64_t t0, t1;
	int ok = 0;

	snprintf(start, sizeof(start), "%lld", (long long)midnight - AHEAD_S);
	ck_assert_int_eq(setenv("MTPROXYD_TEST_TIME", start, 1), 0);
	/* Its clock reads midnight - AHEAD_S at a moment between t0 and t1. */
	t0 = tclock_now_ms();
	d = limits_start(dc, "", "[user.carol]\nquota = 64K\n"
	    "quota_period = day\n");
	t1 = tclock_now_ms();
	c = open_user(d, CAROL_HEX);
	while (ok < 100 && echo(c, msg, MSG_LEN) == 0)
		ok++;
	ck_assert_int_eq(ok, 65536 / (2 * WIRE));
	tclient_close(c);
	check_refused(d, dc, open_user(d, CAROL_HEX), "carol", "quota", 1);
	ck_assert_msg(tclock_now_ms() - t0 < AHEAD_S * 1000 - 500, "too slow "
	    "to test the boundary");
	/* Past the daemon's midnight: a new day, a whole quota. */
	tclock_sleep_ms(AHEAD_S * 1000 + 300 - (tclock_now_ms() - t1));
	c = open_user(d, CAROL_HEX);
	ck_assert_int_eq(echo(c, msg, MSG_LEN), 0);
	tclient_close(c);
	wait_user(d, "user_active", "carol", 0);
	ck_assert_uint_eq(user_value(d, "user_quota_used", "carol", NULL),
	    2 * WIRE);
	free(msg);
	stop(d, dc);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, connection_cap);
	tcase_add_test(tc, address_cap);
	tcase_add_test(tc, quota_exact);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, disabled);
	tcase_add_test(tc, rate_down);
	tcase_add_test(tc, rate_up);
	tcase_add_loop_test(tc, quota_persists, 0, 2);
	tcase_add_test(tc, state_corrupt);
	tcase_add_test(tc, period_rolls);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return limits_suite();
}
