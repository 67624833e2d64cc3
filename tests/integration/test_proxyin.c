/*
 * PROXY protocol from a load balancer and the address lists, through the
 * real daemon (issue 11). Every client comes from loopback; the headers
 * speak for made-up clients (203.0.113.7, 198.51.100.9), and the daemon
 * must see those: in its log lines, in max_ips, and at the cover site's
 * own PROXY header. A peer that may not send a header, a trusted one that
 * sends none in time, a malformed header and a listed-out client are
 * refused as a failed handshake is: no byte back, no DC connection,
 * counted by reason. The lists follow their files on SIGHUP; a bad line
 * stops a start and leaves a running daemon as it was.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "cover.h"
#include "daemon.h"
#include "fakedc.h"
#include "itest.h"
#include "tclock.h"
#include "tfile.h"

#define CONF_MAX	4096
#define MSG_LEN		4000
#define QUIET_MS	400	/* a refused client hears nothing this long */
#define LATE_MS		4000	/* handshake_timeout 1, up to 1.5 s, and slack */
#define ALICE_HEX	"7d1f5a3e9c0b2846e1a5d3c79f02b84e"
#define RELOAD_OK	"new sessions use the new configuration"
#define RELOAD_FAIL	"keeping the running configuration"

#define V1_CLIENT	"PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n"
#define V1_BAD		"PROXY TCP4 203.0.113.7 127.0.0.1 040000 443\r\n"

static const char *const hexes[] = { ALICE_HEX };

/* v2, PROXY over TCP/IPv4: 198.51.100.9:50000 -> 127.0.0.1:443, a TLV. */
static const uint8_t v2_client[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x13,
	198, 51, 100, 9, 127, 0, 0, 1, 0xc3, 0x50, 0x01, 0xbb,
	0x04, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,	/* PP2_TYPE_NOOP */
};

/* v2 LOCAL: a health check of the load balancer itself. */
static const uint8_t v2_local[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x20, 0x00, 0x00, 0x00,
};

/*
 * Direct mode towards dc, user alice; extra goes into [server] (modes
 * classic and secure unless it says), sections after it.
 */
static struct daemon_proc *
start(const struct fakedc *dc, const char *extra, const char *sections)
{
	struct daemon_proc *d = NULL;
	char conf[CONF_MAX];
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "%s"
	    "dc_pool = 0\n"
	    "handshake_timeout = 1\n"
	    "state_dir = @DIR@\n"
	    "log_level = debug\n"
	    "%s"
	    "%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n", strstr(extra, "modes") != NULL ? "" :
	    "modes = classic, secure\n", extra, sections, fakedc_port(dc));
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	return d;
}

static struct sockaddr_in
ip4(const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

/* From from_ip, pre (a PROXY header, or nothing) and alice's header. */
static struct tclient *
open_via(struct daemon_proc *d, const char *from_ip, const void *pre,
    size_t npre)
{
	struct sockaddr_in from = ip4(from_ip);
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect_after((struct sockaddr *)&from, pre,
	    npre, (struct sockaddr *)&ss, len, key, FRAME_INTERMEDIATE, 2,
	    ITEST_IO_MS, &c), 0);
	return c;
}

/* Bytes as they are, from 127.0.0.1: a header alone, or nothing. */
static struct tclient *
open_raw(struct daemon_proc *d, const void *bytes, size_t n)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&ss, len, bytes,
	    n, ITEST_IO_MS, &c), 0);
	return c;
}

static void
echo_ok(struct tclient *c)
{
	uint8_t *msg = itest_random_bytes(MSG_LEN), got[MSG_LEN + 64];
	size_t n = 0;

	ck_assert_int_eq(tclient_send(c, msg, MSG_LEN, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS), 0);
	ck_assert_uint_eq(n, MSG_LEN);
	ck_assert_mem_eq(got, msg, MSG_LEN);
	free(msg);
}

static unsigned long long
value(struct daemon_proc *d, const char *name)
{
	char *r = itest_stats(d, "user_quota_used{user=\"alice\"}",
	    ITEST_IO_MS);
	unsigned long long v = itest_stats_value(r, name);

	free(r);
	return v;
}

/* A refused client: nothing comes back, no DC connection is made. */
static void
check_silent(struct fakedc *dc, struct tclient *c)
{
	uint64_t accepted = fakedc_counter(dc, FAKEDC_ACCEPTED);
	uint8_t b;
	size_t n;

	ck_assert_int_eq(tclient_read_raw(c, &b, 1, &n, 0, QUIET_MS),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), accepted);
}

/* Closed by the handshake deadline, without a byte before the close. */
static void
check_closed_silently(struct tclient *c)
{
	size_t n = 99;

	ck_assert_int_eq(tclient_wait_closed_count(c, &n, LATE_MS), 0);
	ck_assert_uint_eq(n, 0);
	tclient_close(c);
}

static void
stop(struct daemon_proc *d, struct fakedc *dc)
{
	itest_stop(d, hexes, 1, ITEST_STOP_MS);
	fakedc_stop(dc);
}

#define PP_ANY	"proxy_protocol = any\nproxy_protocol_from = 127.0.0.1\n"

/*
 * v1 and v2 clients behind one load balancer address: each is its own
 * address to max_ips = 1, and the log names it.
 */
START_TEST(client_address)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start(dc, PP_ANY,
	    "[user.alice]\nmax_ips = 1\n");
	struct tclient *a = open_via(d, "127.0.0.1", V1_CLIENT,
	    strlen(V1_CLIENT)), *b, *a2;

	echo_ok(a);
	ck_assert_uint_eq(value(d, "user_active{user=\"alice\"}"), 1);
	/* Another client through the same balancer: a second address. */
	b = open_via(d, "127.0.0.1", v2_client, sizeof(v2_client));
	check_silent(dc, b);
	ck_assert_uint_eq(value(d, "user_limit_rejects{user=\"alice\","
	    "limit=\"max_ips\"}"), 1);
	ck_assert_int_eq(daemon_wait_log(d, " 198.51.100.9:50000 user=-: ",
	    ITEST_IO_MS), 0);
	tclient_close(b);
	/* The first client's address again: admitted. */
	a2 = open_via(d, "127.0.0.1", V1_CLIENT, strlen(V1_CLIENT));
	echo_ok(a2);
	ck_assert_uint_eq(value(d, "user_active{user=\"alice\"}"), 2);
	tclient_close(a);
	tclient_close(a2);
	ck_assert_int_eq(daemon_wait_log(d, " 203.0.113.7:40000 user=alice: "
	    "session ends", ITEST_IO_MS), 0);
	/* No line of s1..s3 names the balancer. */
	ck_assert_int_eq(daemon_log_contains(d, "s1 127.0.0.1:"), 0);
	ck_assert_int_eq(daemon_log_contains(d, "s2 127.0.0.1:"), 0);
	ck_assert_int_eq(daemon_log_contains(d, "s3 127.0.0.1:"), 0);
	ck_assert_uint_eq(value(d, "rejected{reason=\"proxy_header\"}"), 0);
	stop(d, dc);
}
END_TEST

/*
 * Refused: a header from a peer not in proxy_protocol_from, a trusted peer
 * silent past the deadline, a malformed header, a v1 header where only v2
 * is taken. Served: v2 LOCAL, with the peer's own address. (Each from its
 * own address: refusal lines are one per address per 10 s.)
 */
START_TEST(refusals)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d = start(dc, "proxy_protocol = v2\n"
	    "proxy_protocol_from = 10.0.0.0/8, 127.0.0.0/29\n", "");
	struct tclient *c;

	c = open_via(d, "127.0.0.9", v2_client, sizeof(v2_client));
	check_silent(dc, c);
	ck_assert_int_eq(daemon_wait_log(d, " 127.0.0.9:", ITEST_IO_MS), 0);
	ck_assert_int_eq(daemon_wait_log(d, "not in proxy_protocol_from: "
	    "refused", ITEST_IO_MS), 0);
	check_closed_silently(c);
	ck_assert_uint_eq(value(d, "rejected{reason=\"proxy_header\"}"), 1);

	check_closed_silently(open_raw(d, NULL, 0));
	ck_assert_int_eq(daemon_wait_log(d, "no PROXY protocol header in "
	    "time: refused", ITEST_IO_MS), 0);
	ck_assert_uint_eq(value(d, "rejected{reason=\"proxy_header\"}"), 2);

	c = open_via(d, "127.0.0.3", V1_BAD, strlen(V1_BAD));
	ck_assert_int_eq(daemon_wait_log(d, "malformed PROXY protocol header: "
	    "refused", ITEST_IO_MS), 0);
	check_closed_silently(c);
	ck_assert_uint_eq(value(d, "rejected{reason=\"proxy_header\"}"), 3);

	c = open_via(d, "127.0.0.4", V1_CLIENT, strlen(V1_CLIENT));
	check_silent(dc, c);
	ck_assert_int_eq(daemon_wait_log(d, "a PROXY v1 header where "
	    "proxy_protocol = v2: refused", ITEST_IO_MS), 0);
	tclient_close(c);
	ck_assert_uint_eq(value(d, "rejected{reason=\"proxy_header\"}"), 4);

	c = open_via(d, "127.0.0.5", v2_local, sizeof(v2_local));
	echo_ok(c);
	ck_assert_int_eq(daemon_wait_log(d, " 127.0.0.5:", ITEST_IO_MS), 0);
	ck_assert_int_eq(daemon_wait_log(d, "PROXY v2 header without an "
	    "address", ITEST_IO_MS), 0);
	tclient_close(c);
	ck_assert_int_eq(daemon_wait_log(d, "user=alice: session ends",
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(value(d, "rejected{reason=\"proxy_header\"}"), 4);
	ck_assert_uint_eq(value(d, "handshakes"), 1);
	stop(d, dc);
}
END_TEST

/*
 * With a cover site, a client behind the balancer that fails the checks
 * goes there with the cover site's own PROXY header naming the client, and
 * the balancer's header is not replayed.
 */
START_TEST(cover_site)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: cover.test\r\n\r\n";
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct cover *cv = NULL;
	struct daemon_proc *d;
	char sections[512], want[256];
	uint8_t first[sizeof(V1_CLIENT) + sizeof(junk)];
	int64_t end = tclock_now_ms() + ITEST_IO_MS;
	struct tclient *c;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	snprintf(sections, sizeof(sections), "[tls]\ndomain = cover.test\n"
	    "mask_host = 127.0.0.1\nmask_port = %u\nmask_proxy_protocol = v1\n"
	    "mask_probe_interval = 0\n", cover_port(cv));
	d = start(dc, "modes = secure, tls\n" PP_ANY, sections);
	memcpy(first, V1_CLIENT, strlen(V1_CLIENT));
	memcpy(first + strlen(V1_CLIENT), junk, strlen(junk));
	c = open_raw(d, first, strlen(V1_CLIENT) + strlen(junk));
	snprintf(want, sizeof(want), "PROXY TCP4 203.0.113.7 127.0.0.1 40000 "
	    "%u\r\n%s", daemon_port(d, AF_INET), junk);
	while (cover_seen(cv, (const uint8_t *)want, strlen(want)) < 1) {
		ck_assert_msg(tclock_now_ms() < end, "cover site never saw %s",
		    want);
		tclock_sleep_ms(20);
	}
	tclient_close(c);
	ck_assert_uint_eq(value(d, "masked"), 1);
	stop(d, dc);
	cover_stop(cv);
}
END_TEST

/* SIGHUP, and the reload's line: applied (ok) or refused. */
static void
hup(struct daemon_proc *d, int ok)
{
	int64_t end = tclock_now_ms() + ITEST_IO_MS;
	int oks = daemon_log_count(d, RELOAD_OK);
	int fails = daemon_log_count(d, RELOAD_FAIL);

	ck_assert_int_eq(kill(daemon_pid(d), SIGHUP), 0);
	while (daemon_log_count(d, RELOAD_OK) == oks &&
	    daemon_log_count(d, RELOAD_FAIL) == fails) {
		ck_assert_msg(tclock_now_ms() < end, "no reload line");
		tclock_sleep_ms(10);
	}
	ck_assert_int_eq(daemon_log_count(d, RELOAD_OK), oks + ok);
	ck_assert_int_eq(daemon_log_count(d, RELOAD_FAIL), fails + !ok);
}

static void
put(const char *dir, const char *name, const char *text)
{
	itest_write_file(dir, name, text, strlen(text));
}

/*
 * block_file holds 127.0.0.2, allow_file 127.0.0.0/29: .2 is held
 * silently, .1 served, .9 (not allowed) held; the block list emptied and a
 * SIGHUP serve .2; a bad line in it is refused by the reload, which keeps
 * the lists it had.
 */
START_TEST(lists)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	char dir[] = "/tmp/mtproxyd-lists.XXXXXX", extra[512], want[512];
	struct daemon_proc *d;
	struct tclient *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	put(dir, "block.txt", "# by hand\n127.0.0.2\n");
	put(dir, "allow.txt", "127.0.0.0/29\n::1\n");
	snprintf(extra, sizeof(extra), "allow_file = %s/allow.txt\n"
	    "block_file = %s/block.txt\n", dir, dir);
	d = start(dc, extra, "");

	c = open_via(d, "127.0.0.2", NULL, 0);
	check_silent(dc, c);
	ck_assert_int_eq(daemon_wait_log(d, "blocked by allow_file or "
	    "block_file", ITEST_IO_MS), 0);
	tclient_close(c);
	ck_assert_uint_eq(value(d, "rejected{reason=\"blocked\"}"), 1);
	c = open_via(d, "127.0.0.1", NULL, 0);
	echo_ok(c);
	tclient_close(c);
	c = open_via(d, "127.0.0.9", NULL, 0);
	check_silent(dc, c);
	tclient_close(c);
	ck_assert_uint_eq(value(d, "rejected{reason=\"blocked\"}"), 2);

	put(dir, "block.txt", "# nobody\n");
	hup(d, 1);
	c = open_via(d, "127.0.0.2", NULL, 0);
	echo_ok(c);
	tclient_close(c);

	put(dir, "block.txt", "127.0.0.2\n\tnot-an-address # typo\n");
	hup(d, 0);
	snprintf(want, sizeof(want), "reload: %s/block.txt: line 2: "
	    "'not-an-address': expected an IPv4 or IPv6 address or ADDR/BITS; "
	    RELOAD_FAIL, dir);
	ck_assert_int_eq(daemon_log_contains(d, want), 1);
	c = open_via(d, "127.0.0.2", NULL, 0);
	echo_ok(c);
	tclient_close(c);
	ck_assert_uint_eq(value(d, "rejected{reason=\"blocked\"}"), 2);
	stop(d, dc);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

/* At start, a bad line is the one error line and exit status 2. */
START_TEST(bad_list_at_start)
{
	static const char *const args[] = { NULL };
	char dir[] = "/tmp/mtproxyd-lists.XXXXXX", conf[1024], out[4096];
	char want[512];
	int status;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	put(dir, "allow.txt", "10.0.0.0/8\n2001:db8::/129\n");
	snprintf(conf, sizeof(conf), "[server]\nport = 0\nlisten = 127.0.0.1\n"
	    "state_dir = @DIR@\nallow_file = %s/allow.txt\n", dir);
	ck_assert_int_eq(daemon_run(args, conf, out, sizeof(out), &status,
	    ITEST_START_MS), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	snprintf(want, sizeof(want), "mtproxyd: %s/allow.txt: line 2: "
	    "'2001:db8::/129': expected an IPv4 or IPv6 address or ADDR/BITS\n",
	    dir);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

static Suite *
proxyin_suite(void)
{
	Suite *s = suite_create("proxyin");
	TCase *tc = tcase_create("daemon");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, client_address);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, cover_site);
	tcase_add_test(tc, lists);
	tcase_add_test(tc, bad_list_at_start);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return proxyin_suite();
}
