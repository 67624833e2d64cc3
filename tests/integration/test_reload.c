/*
 * SIGHUP on the real daemon, on loopback, with a fake DC (echo) behind it:
 * the configuration file (and the users_file) rewritten under running
 * sessions. Sessions of the users a reload keeps never lose a byte or the
 * connection; those of users it removes, disables or gives a new secret
 * end after drain_timeout, not before; new connections follow the new
 * users and limits; an invalid file changes nothing; keys that need a
 * restart are named and keep their running values. Every reload is counted
 * (ok or failed), read from /metrics through a real Prometheus parser.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ckmain.h"
#include "client.h"
#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "proto.h"
#include "ref.h"
#include "mscrape.h"
#include "tclock.h"

#define CONF_MAX	4096
#define USERS_FILE	"users.conf"
#define MSG_MAX		4096

/* Users; the secrets are arbitrary. BOB_NEW_HEX: bob's after a change. */
#define ALICE_HEX	"3f5c0a9e71d2b8e46a0c9f13d7e2584b"
#define BOB_HEX		"b04e1d7a92c63f58e1a07d4c2b9f6e35"
#define CAROL_HEX	"6c1e93a04d7f25b8e0a9c3d6f1b2e847"
#define DAVE_HEX	"d2a7f04c91e3b65a8c0d7e2f4b19a3c6"
#define BOB_NEW_HEX	"9e4b7c21a0f6d38e5b2c9a7f01d4e6b3"

enum user { ALICE, BOB, CAROL, DAVE, BOB_NEW, NUSERS };

static const char *const user_names[NUSERS] = { "alice", "bob", "carol",
    "dave", "bob" };
static const char *const user_hex[NUSERS] = { ALICE_HEX, BOB_HEX, CAROL_HEX,
    DAVE_HEX, BOB_NEW_HEX };

/*
 * drain_timeout of every test. The sweeper ends a drained session at its
 * first pass (once a second) after the drain; slack for the sanitizer
 * builds on top.
 */
#define DRAIN_S		2
#define DRAIN_MS	(DRAIN_S * 1000)
#define SWEEP_MS	1000
#define DRAIN_SLACK_MS	2500
/* A refused client gets nothing back for at least this long. */
#define QUIET_MS	300

#define OK_MARK		"; new sessions use the new configuration"
#define FAIL_MARK	"; keeping the running configuration"
#define K_RELOADS(r)	"mtproxyd_config_reloads_total|result=" r

/* What a test changes between reloads; the rest is fixed. */
struct conf {
	unsigned port;		/* 0 at the start: an ephemeral one */
	const char *log_level;
	int users_file;		/* users in DIR/users.conf, not in the file */
	const char *users;	/* [users] and [user.NAME] sections */
};

struct fix {
	struct fakedc *dc;
	struct daemon_proc *d;
	const char *python;	/* NULL: no parser, reloads not counted */
	uint16_t mport;		/* [metrics] */
	unsigned long long reloads[2];	/* expected ok, failed */
};

/* dir: "@DIR@" for daemon_start, the daemon's dir for a reload. */
static void
conf_text(const struct fix *f, const struct conf *c, const char *dir,
    char *out, size_t cap)
{
	char users_file[512] = "";
	int n;

	if (c->users_file)
		snprintf(users_file, sizeof(users_file), "users_file = %s/"
		    USERS_FILE "\n", dir);
	n = snprintf(out, cap,
	    "[server]\n"
	    "port = %u\n"
	    "listen = 127.0.0.1\n"
	    "log_level = %s\n"
	    "modes = classic, secure\n"
	    "dc_pool = 0\n"
	    "handshake_timeout = 10\n"
	    "idle_timeout = 60\n"
	    "shutdown_grace = 5\n"
	    "drain_timeout = %d\n"
	    "state_dir = %s\n"
	    "%s"
	    "[metrics]\n"
	    "listen = 127.0.0.1:%u\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n"
	    "%s",
	    c->port, c->log_level, DRAIN_S, dir, users_file, f->mport,
	    fakedc_port(f->dc), c->users_file ? "" : c->users);
	ck_assert(n > 0 && (size_t)n < cap);
}

static void
fix_start(struct fix *f, const struct conf *c)
{
	char text[CONF_MAX];

	memset(f, 0, sizeof(*f));
	ck_assert(!c->users_file);	/* the file must be there first */
	if ((f->python = mscrape_python()) == NULL)
		itest_skip("no python3 with prometheus_client: install "
		    "python3-prometheus-client; reloads not counted");
	f->dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	f->mport = mscrape_free_port();
	conf_text(f, c, "@DIR@", text, sizeof(text));
	ck_assert_int_eq(daemon_start(&f->d, text, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_wait_log(f->d, "metrics: serving on",
	    ITEST_IO_MS), 0);
}

/* Every client gone: the DC's side closed too. */
static void
fix_stop(struct fix *f)
{
	ck_assert_int_eq(fakedc_wait(f->dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	itest_stop(f->d, user_hex, NUSERS, ITEST_STOP_MS);
	fakedc_stop(f->dc);
}

/* Both reload counters as /metrics has them equal what the test did. */
static void
check_reloads(const struct fix *f)
{
	char *m;

	if (f->python == NULL)
		return;
	m = mscrape_until(f->d, f->mport, f->python, K_RELOADS("ok"),
	    f->reloads[0]);
	ck_assert_uint_eq(mscrape_sample(m, K_RELOADS("failed")),
	    f->reloads[1]);
	free(m);
}

static int
log_count(const struct fix *f, const char *needle)
{
	int n = daemon_log_count(f->d, needle);

	ck_assert_int_ge(n, 0);
	return n;
}

/*
 * Write the files (users_file: the users there), SIGHUP, wait for the
 * reload's last line: applied (ok) or refused. Returns when it is done.
 */
static void
reload_text(struct fix *f, const char *main_text, const char *users_text,
    int ok)
{
	const char *dir = daemon_dir(f->d);
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	int oks = log_count(f, OK_MARK), fails = log_count(f, FAIL_MARK);

	if (users_text != NULL)
		itest_write_file(dir, USERS_FILE, users_text,
		    strlen(users_text));
	itest_write_file(dir, "mtproxyd.conf", main_text, strlen(main_text));
	ck_assert_int_eq(kill(daemon_pid(f->d), SIGHUP), 0);
	while (log_count(f, OK_MARK) == oks &&
	    log_count(f, FAIL_MARK) == fails) {
		ck_assert_msg(tclock_now_ms() < deadline, "no reload line");
		tclock_sleep_ms(5);
	}
	ck_assert_int_eq(log_count(f, OK_MARK), oks + ok);
	ck_assert_int_eq(log_count(f, FAIL_MARK), fails + !ok);
	f->reloads[!ok]++;
}

static void
reload(struct fix *f, const struct conf *c, int ok)
{
	char text[CONF_MAX];

	conf_text(f, c, daemon_dir(f->d), text, sizeof(text));
	reload_text(f, text, c->users_file ? c->users : NULL, ok);
}

/* --- clients */

static struct tclient *
client_open(const struct fix *f, enum user u, enum frame_transport t)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(f->d, AF_INET, &ss, &len), 0);
	itest_key(user_hex[u], key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key, t,
	    2, ITEST_IO_MS, &c), 0);
	return c;
}

/*
 * One frame of len random bytes and its echo: 0 and the bytes the frame
 * took on the wire each way in *wire, or the client's error (the daemon
 * closed: TCLIENT_ERR_EOF, or TCLIENT_ERR with EPIPE or ECONNRESET), or
 * TCLIENT_ERR_FRAME when the echo differs.
 */
static int
echo(struct tclient *c, enum frame_transport t, size_t len, uint64_t *wire)
{
	uint8_t msg[MSG_MAX], got[MSG_MAX + PADDED_MAX_PAD];
	size_t n = 0;
	int rc;

	if (crypto_random(msg, len) != 0)
		return TCLIENT_ERR_ARG;
	if ((rc = tclient_send(c, msg, len, 0)) != 0 ||
	    (rc = tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS)) != 0)
		return rc;
	if (n < len || n - len > (t == FRAME_PADDED ? PADDED_MAX_PAD : 0u) ||
	    memcmp(got, msg, len) != 0)
		return TCLIENT_ERR_FRAME;
	*wire = itest_framed_len(t, n);
	return 0;
}

/* A few echoes that must all come back; the wire bytes each way. */
static uint64_t
echo_ok(struct tclient *c, enum frame_transport t)
{
	static const size_t sizes[] = { 4, 508, 4096 };
	uint64_t wire = 0, w = 0;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_int_eq(echo(c, t, sizes[i], &w), 0);
		wire += w;
	}
	return wire;
}

/* A session that must work: connect, echo, leave. Its wire bytes. */
static uint64_t
connects(const struct fix *f, enum user u)
{
	struct tclient *c = client_open(f, u, FRAME_INTERMEDIATE);
	uint64_t wire = echo_ok(c, FRAME_INTERMEDIATE);

	tclient_close(c);
	return wire;
}

/*
 * A client the daemon refuses as reason: counted (the counter reaches
 * want), held silently with nothing back, no DC connection made.
 */
static void
refused(const struct fix *f, enum user u, const char *reason, long long want)
{
	uint64_t accepted = fakedc_counter(f->dc, FAKEDC_ACCEPTED);
	struct tclient *c = client_open(f, u, FRAME_INTERMEDIATE);
	uint8_t msg[64] = { 0 }, b;
	char name[64];
	size_t n;

	snprintf(name, sizeof(name), "rejected{reason=\"%s\"}", reason);
	itest_wait_counter(f->d, name, want, ITEST_IO_MS, ITEST_IO_MS);
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_read_raw(c, &b, 1, &n, 0, QUIET_MS),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_uint_eq(fakedc_counter(f->dc, FAKEDC_ACCEPTED), accepted);
	tclient_close(c);
}

/* When a reload happened, for the drains it starts. */
struct window {
	int64_t hup;		/* before the SIGHUP */
	int64_t done;		/* after its last line */
};

/* A reload that must apply, and when. */
static struct window
reload_timed(struct fix *f, const struct conf *c)
{
	struct window w;

	w.hup = tclock_now_ms();
	reload(f, c, 1);
	w.done = tclock_now_ms();
	return w;
}

/* The latest a session drained by the reload of w may still be open. */
static int64_t
drain_last(const struct window *w)
{
	return w->done + DRAIN_MS + SWEEP_MS + DRAIN_SLACK_MS;
}

/* A session drained by the reload of w was seen closed at t: not early. */
static void
check_drain_time(const struct window *w, int64_t t)
{
	ck_assert_msg(t >= w->hup + DRAIN_MS, "closed %lld ms after SIGHUP, "
	    "before drain_timeout", (long long)(t - w->hup));
	ck_assert_msg(t <= drain_last(w), "closed %lld ms after the reload",
	    (long long)(t - w->done));
}

/* The daemon closes c, drained by the reload of w. */
static void
check_drained(struct tclient *c, const struct window *w)
{
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	check_drain_time(w, tclock_now_ms());
}

/* n sessions of u in transport t, each echoing. */
static void
open_n(const struct fix *f, enum user u, enum frame_transport t,
    struct tclient **c, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		c[i] = client_open(f, u, t);
		echo_ok(c[i], t);
	}
}

static unsigned long long
user_counter(struct fix *f, const char *counter, const char *user)
{
	char name[96];

	snprintf(name, sizeof(name), "%s{user=\"%s\"}", counter, user);
	return (unsigned long long)itest_counter(f->d, name, ITEST_IO_MS);
}

/*
 * Once needle is in the log want times (a session logs its end just after
 * its sockets close), or after a while: the count, which must not be more.
 */
static int
log_wait_count(const struct fix *f, const char *needle, int want)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	int n;

	while ((n = log_count(f, needle)) < want && tclock_now_ms() < deadline)
		tclock_sleep_ms(10);
	return n;
}

/* Sessions of user that ended for reason, once there are want. */
static int
ends(const struct fix *f, const char *user, const char *reason, int want)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "user=%s: session ends: reason=%s",
	    user, reason);
	return log_wait_count(f, needle, want);
}

/* Sessions of users that ended for any reason, once there are want. */
static int
all_ends(const struct fix *f, int want)
{
	return log_wait_count(f, "session ends: reason=", want);
}

/* --- 50 clients mid-transfer */

#define MOVERS		50
#define MOVER_NAP_MS	20	/* between echoes: 50 clients, 2 cores */
#define BOB_MAX_OLD	17	/* bob's max_connections: his movers */
#define BOB_MAX_NEW	19

/* One client echoing until told to stop or until the daemon closes it. */
struct mover {
	pthread_t th;
	struct tclient *c;
	enum frame_transport t;
	enum user u;
	const atomic_int *stop;
	atomic_uint rounds;
	uint64_t wire;		/* echoed, each way */
	uint64_t inflight;	/* sent when the daemon closed, unanswered */
	atomic_llong closed_ms;	/* tclock when the daemon closed it; 0: not */
	atomic_int failed;	/* anything else went wrong: rc */
};

static enum user
mover_user(int i)
{
	return (enum user)(i % 3);	/* 17 alice, 17 bob, 16 carol */
}

static void *
mover_main(void *arg)
{
	struct mover *m = arg;
	uint16_t r = 0;
	uint64_t w = 0;
	size_t len;
	int rc;

	while (!atomic_load(m->stop)) {
		if (crypto_random((uint8_t *)&r, sizeof(r)) != 0) {
			atomic_store(&m->failed, TCLIENT_ERR_ARG);
			break;
		}
		len = 4 * (1 + r % (MSG_MAX / 4));
		rc = echo(m->c, m->t, len, &w);
		if (rc == TCLIENT_ERR_EOF || (rc == TCLIENT_ERR &&
		    (errno == EPIPE || errno == ECONNRESET))) {
			m->inflight = itest_framed_len(m->t, len +
			    (m->t == FRAME_PADDED ? PADDED_MAX_PAD : 0));
			atomic_store(&m->closed_ms, tclock_now_ms());
			break;
		}
		if (rc != 0) {
			atomic_store(&m->failed, rc);
			break;
		}
		m->wire += w;
		atomic_fetch_add(&m->rounds, 1);
		tclock_sleep_ms(MOVER_NAP_MS);
	}
	return NULL;
}

/* Until every mover but gone's has done want more rounds than base. */
static void
movers_progress(struct mover *m, const unsigned *base, unsigned want,
    enum user gone)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	int i;

	for (i = 0; i < MOVERS; i++) {
		while (m[i].u != gone &&
		    atomic_load(&m[i].rounds) < base[i] + want) {
			ck_assert_msg(!atomic_load(&m[i].failed) &&
			    atomic_load(&m[i].closed_ms) == 0,
			    "client %d (%s) stopped: %d", i,
			    user_names[m[i].u], atomic_load(&m[i].failed));
			ck_assert_msg(tclock_now_ms() < deadline, "client %d "
			    "stalled", i);
			tclock_sleep_ms(10);
		}
	}
}

static void
movers_start(struct fix *f, struct mover *m, const atomic_int *stop)
{
	int i;

	memset(m, 0, MOVERS * sizeof(*m));
	for (i = 0; i < MOVERS; i++) {
		m[i].u = mover_user(i);
		m[i].t = (enum frame_transport)(i / 3 % 3);
		m[i].stop = stop;
		atomic_init(&m[i].rounds, 0);
		atomic_init(&m[i].closed_ms, 0);
		atomic_init(&m[i].failed, 0);
		m[i].c = client_open(f, m[i].u, m[i].t);
	}
	ck_assert_int_eq(fakedc_wait(f->dc, FAKEDC_HEADERS, MOVERS,
	    ITEST_IO_MS), 0);
	for (i = 0; i < MOVERS; i++)
		ck_assert_int_eq(pthread_create(&m[i].th, NULL, mover_main,
		    &m[i]), 0);
}

static const char users_before[] =
    "[users]\n"
    "alice = " ALICE_HEX "\n"
    "bob = " BOB_HEX "\n"
    "carol = " CAROL_HEX "\n"
    "[user.bob]\n"
    "max_connections = 17\n";

/* In the users_file: dave in, carol out, bob's cap raised. */
static const char users_after[] =
    "[users]\n"
    "alice = " ALICE_HEX "\n"
    "bob = " BOB_HEX "\n"
    "dave = " DAVE_HEX "\n"
    "[user.bob]\n"
    "max_connections = 19\n";

/*
 * Carol's 16 movers: closed by the drain, in its window (they echo until
 * then, so that they see the close at once), bytes counted.
 */
static void
check_carol(struct fix *f, struct mover *m, const struct window *w)
{
	uint64_t wire = 0, inflight = 0;
	unsigned long long in, out;
	int64_t closed;
	int i;

	for (i = 0; i < MOVERS; i++) {
		if (m[i].u != CAROL)
			continue;
		while ((closed = atomic_load(&m[i].closed_ms)) == 0 &&
		    atomic_load(&m[i].failed) == 0) {
			ck_assert_msg(tclock_now_ms() <= drain_last(w),
			    "carol's client %d still open %lld ms after the "
			    "reload", i,
			    (long long)(tclock_now_ms() - w->done));
			tclock_sleep_ms(10);
		}
		ck_assert_int_eq(pthread_join(m[i].th, NULL), 0);
		ck_assert_msg(atomic_load(&m[i].failed) == 0,
		    "carol's client %d: %d", i, atomic_load(&m[i].failed));
		check_drain_time(w, closed);
		wire += m[i].wire;
		inflight += m[i].inflight;
		tclient_close(m[i].c);
	}
	ck_assert_int_eq(ends(f, "carol", "user_removed", MOVERS / 3),
	    MOVERS / 3);
	/* The frame in flight at the close may have gone either way. */
	in = user_counter(f, "user_bytes_in", "carol");
	out = user_counter(f, "user_bytes_out", "carol");
	ck_assert_uint_ge(in, wire);
	ck_assert_uint_le(in, wire + inflight);
	ck_assert_uint_ge(out, wire);
	ck_assert_uint_le(out, in);
}

/*
 * The issue's test. 50 clients of alice, bob and carol echo without a
 * pause; the configuration moves the users to a users_file that adds
 * dave, drops carol and raises bob's max_connections from 17 to 19. Not a
 * byte of alice's and bob's is lost, nor a connection; dave connects;
 * carol's sessions end after drain_timeout, and carol is refused as a
 * stranger; bob's new cap counts his old sessions and admits two more.
 */
START_TEST(fifty_clients)
{
	struct conf c = { 0, "info", 0, users_before };
	struct mover m[MOVERS];
	unsigned base[MOVERS];
	uint64_t wire[NUSERS] = { 0 };
	atomic_int stop;
	struct tclient *extra[2];
	struct window w;
	struct fix f;
	int i;

	fix_start(&f, &c);
	atomic_init(&stop, 0);
	movers_start(&f, m, &stop);
	refused(&f, BOB, "user_limit", 1);
	for (i = 0; i < MOVERS; i++)
		base[i] = 0;
	movers_progress(m, base, 3, NUSERS);

	c.users_file = 1;
	c.users = users_after;
	w = reload_timed(&f, &c);
	ck_assert_int_eq(log_count(&f, "reload: 16 session(s) of removed or "
	    "disabled users end in 2 s"), 1);
	check_reloads(&f);

	wire[DAVE] = connects(&f, DAVE);
	refused(&f, CAROL, "bad_secret", 1);
	for (i = 0; i < 2; i++) {
		extra[i] = client_open(&f, BOB, FRAME_PADDED);
		wire[BOB] += echo_ok(extra[i], FRAME_PADDED);
	}
	refused(&f, BOB, "user_limit", 2);

	check_carol(&f, m, &w);
	for (i = 0; i < MOVERS; i++)
		base[i] = atomic_load(&m[i].rounds);
	movers_progress(m, base, 3, CAROL);
	atomic_store(&stop, 1);
	for (i = 0; i < MOVERS; i++) {
		if (m[i].u == CAROL)
			continue;
		ck_assert_int_eq(pthread_join(m[i].th, NULL), 0);
		ck_assert_msg(atomic_load(&m[i].failed) == 0 &&
		    atomic_load(&m[i].closed_ms) == 0, "client %d (%s): %d", i,
		    user_names[m[i].u], atomic_load(&m[i].failed));
		wire[m[i].u] += m[i].wire;
	}
	/* Only carol's sessions and dave's ended so far. */
	ck_assert_int_eq(all_ends(&f, MOVERS / 3 + 1), MOVERS / 3 + 1);
	for (i = 0; i < MOVERS; i++)
		if (m[i].u != CAROL)
			tclient_close(m[i].c);
	tclient_close(extra[0]);
	tclient_close(extra[1]);
	itest_wait_counter(f.d, "active", 0, ITEST_IO_MS, ITEST_IO_MS);
	for (i = ALICE; i <= DAVE; i++) {
		if (i == CAROL)
			continue;
		ck_assert_uint_eq(user_counter(&f, "user_bytes_in",
		    user_names[i]), wire[i]);
		ck_assert_uint_eq(user_counter(&f, "user_bytes_out",
		    user_names[i]), wire[i]);
	}
	ck_assert_uint_eq(user_counter(&f, "user_connections", "bob"),
	    BOB_MAX_NEW);
	ck_assert_uint_eq(user_counter(&f, "user_connections", "dave"), 1);
	check_reloads(&f);
	fix_stop(&f);
}
END_TEST

/* --- an invalid file */

static const char users_ab[] =
    "[users]\n"
    "alice = " ALICE_HEX "\n"
    "bob = " BOB_HEX "\n";

/*
 * A bad value in the users_file (which would also drop bob and add dave),
 * then a syntax error in the main file: each is one line naming what is
 * wrong, counted as failed, and changes nothing: bob still connects, dave
 * does not, no session drops. Then a valid file applies.
 */
START_TEST(invalid_file)
{
	static const char bad_users[] =
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "dave = " DAVE_HEX "\n"
	    "[user.alice]\n"
	    "max_connections = -1\n";
	static const char good_users[] =
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "dave = " DAVE_HEX "\n";
	struct conf c = { 0, "info", 0, users_ab };
	struct tclient *a, *b;
	char needle[512], text[CONF_MAX];
	struct fix f;

	fix_start(&f, &c);
	a = client_open(&f, ALICE, FRAME_ABRIDGED);
	b = client_open(&f, BOB, FRAME_PADDED);
	echo_ok(a, FRAME_ABRIDGED);
	echo_ok(b, FRAME_PADDED);

	c.users_file = 1;
	c.users = bad_users;
	reload(&f, &c, 0);
	snprintf(needle, sizeof(needle), "reload: %s/" USERS_FILE ": config: "
	    "[user.alice] max_connections = '-1': expected sessions "
	    "1..1000000 (0: no cap)" FAIL_MARK "\n", daemon_dir(f.d));
	ck_assert_int_eq(log_count(&f, needle), 1);
	check_reloads(&f);
	echo_ok(a, FRAME_ABRIDGED);
	echo_ok(b, FRAME_PADDED);
	connects(&f, BOB);
	refused(&f, DAVE, "bad_secret", 1);

	/* The same users, valid; the main file's third line broken. */
	c.users = good_users;
	conf_text(&f, &c, daemon_dir(f.d), text, sizeof(text));
	memcpy(strstr(text, "listen = "), "listen   ", 9);
	reload_text(&f, text, good_users, 0);
	snprintf(needle, sizeof(needle), "reload: %s/mtproxyd.conf: config: "
	    "line 3: expected [section], key = value or a comment" FAIL_MARK
	    "\n", daemon_dir(f.d));
	ck_assert_int_eq(log_count(&f, needle), 1);
	check_reloads(&f);
	echo_ok(a, FRAME_ABRIDGED);
	echo_ok(b, FRAME_PADDED);
	refused(&f, DAVE, "bad_secret", 2);
	ck_assert_int_eq(all_ends(&f, 1), 1);	/* bob's connects() */

	reload(&f, &c, 1);
	check_reloads(&f);
	connects(&f, DAVE);
	echo_ok(a, FRAME_ABRIDGED);
	echo_ok(b, FRAME_PADDED);
	ck_assert_int_eq(log_count(&f, "session(s) of removed"), 0);
	ck_assert_int_eq(all_ends(&f, 2), 2);
	tclient_close(a);
	tclient_close(b);
	fix_stop(&f);
}
END_TEST

/* --- disable, re-enable, change a secret */

static const char users_bob_off[] =
    "[users]\n"
    "alice = " ALICE_HEX "\n"
    "bob = " BOB_HEX "\n"
    "[user.bob]\n"
    "enabled = no\n";

/*
 * Bob disabled, and enabled again before the drain ends: his sessions stay
 * past it, new ones connect. Disabled again: new sessions refused at once,
 * all three live ones end after drain_timeout. Alice is never touched.
 */
START_TEST(disable_enable)
{
	struct conf c = { 0, "info", 0, users_ab };
	struct tclient *a, *b[3];
	struct window w;
	struct fix f;
	int i;

	fix_start(&f, &c);
	a = client_open(&f, ALICE, FRAME_INTERMEDIATE);
	open_n(&f, BOB, FRAME_PADDED, b, 2);

	c.users = users_bob_off;
	w = reload_timed(&f, &c);
	ck_assert_int_eq(log_count(&f, "reload: 2 session(s) of removed or "
	    "disabled users end in 2 s"), 1);
	c.users = users_ab;
	reload(&f, &c, 1);
	ck_assert_int_lt(tclock_now_ms() - w.hup, DRAIN_MS);
	tclock_sleep_ms((int)(drain_last(&w) - tclock_now_ms()));
	for (i = 0; i < 2; i++)
		echo_ok(b[i], FRAME_PADDED);
	ck_assert_int_eq(all_ends(&f, 0), 0);
	b[2] = client_open(&f, BOB, FRAME_ABRIDGED);
	echo_ok(b[2], FRAME_ABRIDGED);

	c.users = users_bob_off;
	w = reload_timed(&f, &c);
	ck_assert_int_eq(log_count(&f, "reload: 3 session(s) of removed or "
	    "disabled users end in 2 s"), 1);
	refused(&f, BOB, "user_limit", 1);
	for (i = 0; i < 3; i++)
		check_drained(b[i], &w);
	ck_assert_int_eq(ends(&f, "bob", "user_removed", 3), 3);
	echo_ok(a, FRAME_INTERMEDIATE);
	ck_assert_int_eq(all_ends(&f, 3), 3);
	check_reloads(&f);
	for (i = 0; i < 3; i++)
		tclient_close(b[i]);
	tclient_close(a);
	fix_stop(&f);
}
END_TEST

/*
 * Bob given a new secret: his sessions on the old one end after the drain;
 * the new one connects and keeps its session; the old one is a stranger.
 */
START_TEST(secret_changed)
{
	static const char users_new[] =
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_NEW_HEX "\n";
	struct conf c = { 0, "info", 0, users_ab };
	struct tclient *old[2], *now;
	struct window w;
	struct fix f;
	int i;

	fix_start(&f, &c);
	open_n(&f, BOB, FRAME_INTERMEDIATE, old, 2);
	c.users = users_new;
	w = reload_timed(&f, &c);
	now = client_open(&f, BOB_NEW, FRAME_PADDED);
	echo_ok(now, FRAME_PADDED);
	refused(&f, BOB, "bad_secret", 1);
	for (i = 0; i < 2; i++)
		echo_ok(old[i], FRAME_INTERMEDIATE);
	for (i = 0; i < 2; i++) {
		check_drained(old[i], &w);
		tclient_close(old[i]);
	}
	ck_assert_int_eq(ends(&f, "bob", "user_removed", 2), 2);
	echo_ok(now, FRAME_PADDED);
	tclient_close(now);
	check_reloads(&f);
	fix_stop(&f);
}
END_TEST

/*
 * A session whose handshake straddles the reload: it began (and took the
 * configuration) before carol was removed, its header came after. It may
 * be admitted under the configuration it started with, but then it is
 * drained like carol's other sessions, not kept for good.
 */
START_TEST(handshake_across_reload)
{
	static const char users_ac[] =
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "carol = " CAROL_HEX "\n";
	struct conf c = { 0, "info", 0, users_ac };
	uint8_t key[SECRET_LEN], rnd[REF_OBFS2_LEN], hdr[REF_OBFS2_LEN];
	struct ref_obfs2_keys keys;
	struct sockaddr_storage ss;
	struct tclient *t = NULL;
	struct window w;
	socklen_t len;
	struct fix f;
	int rc;

	fix_start(&f, &c);
	itest_key(CAROL_HEX, key);
	do {
		ck_assert_int_eq(crypto_random(rnd, sizeof(rnd)), 0);
		rc = ref_obfs2_build(rnd, PROTO_TAG_INTERMEDIATE, 2, key, hdr,
		    &keys);
	} while (rc == REF_ERR_RETRY);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(daemon_addr(f.d, AF_INET, &ss, &len), 0);
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&ss, len, hdr,
	    8, ITEST_IO_MS, &t), 0);
	itest_wait_counter(f.d, "accepted", 1, ITEST_IO_MS, ITEST_IO_MS);

	c.users = users_ab;
	w = reload_timed(&f, &c);
	ck_assert_int_eq(tclient_write_raw(t, hdr + 8, sizeof(hdr) - 8, 0), 0);
	if (fakedc_wait(f.dc, FAKEDC_HEADERS, 1, QUIET_MS) == 0) {
		check_drained(t, &w);
		ck_assert_int_eq(ends(&f, "carol", "user_removed", 1), 1);
	} else {
		itest_wait_counter(f.d, "rejected{reason=\"bad_secret\"}", 1,
		    ITEST_IO_MS, ITEST_IO_MS);
	}
	tclient_close(t);
	check_reloads(&f);
	fix_stop(&f);
}
END_TEST

/* --- what a reload cannot change, and what it can */

/*
 * port needs a restart: named in one warning, the daemon keeps the old
 * port and nothing listens on the new one; the rest of the file (dave)
 * applies.
 */
START_TEST(restart_key)
{
	static const char users_abd[] =
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n"
	    "dave = " DAVE_HEX "\n";
	struct conf c = { 0, "info", 0, users_ab };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct tclient *a, *t = NULL;
	uint8_t key[SECRET_LEN];
	struct fix f;

	fix_start(&f, &c);
	a = client_open(&f, ALICE, FRAME_INTERMEDIATE);
	c.port = mscrape_free_port();
	c.users = users_abd;
	reload(&f, &c, 1);
	ck_assert_int_eq(log_count(&f, "WARN reload: [server] port changed; "
	    "they need a restart and keep their running values\n"), 1);
	ck_assert_int_eq(log_count(&f, "changed; they need a restart"), 1);
	echo_ok(a, FRAME_INTERMEDIATE);
	connects(&f, DAVE);
	connects(&f, ALICE);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)c.port);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&sa, sizeof(sa),
	    key, FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &t), TCLIENT_ERR);
	ck_assert_int_eq(errno, ECONNREFUSED);
	tclient_close(a);
	check_reloads(&f);
	fix_stop(&f);
}
END_TEST

/* log_level from info to debug: a session's debug lines appear after. */
START_TEST(log_level)
{
	static const char connected[] = "user=alice: connected to DC 2 at";
	struct conf c = { 0, "info", 0, users_ab };
	struct fix f;

	fix_start(&f, &c);
	connects(&f, ALICE);
	ck_assert_int_eq(daemon_wait_log(f.d, "user=alice: session ends",
	    ITEST_IO_MS), 0);
	ck_assert_int_eq(log_count(&f, connected), 0);
	ck_assert_int_eq(log_count(&f, " DEBUG "), 0);
	c.log_level = "debug";
	reload(&f, &c, 1);
	connects(&f, ALICE);
	ck_assert_int_eq(daemon_wait_log(f.d, connected, ITEST_IO_MS), 0);
	ck_assert_int_eq(log_count(&f, connected), 1);
	check_reloads(&f);
	fix_stop(&f);
}
END_TEST

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, fifty_clients);
	tcase_add_test(tc, invalid_file);
	tcase_add_test(tc, disable_enable);
	tcase_add_test(tc, secret_changed);
	tcase_add_test(tc, handshake_across_reload);
	tcase_add_test(tc, restart_key);
	tcase_add_test(tc, log_level);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return reload_suite();
}
