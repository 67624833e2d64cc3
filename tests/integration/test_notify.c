/*
 * sd_notify through the real daemon: the test binds the datagram socket
 * systemd would and passes it as NOTIFY_SOCKET. The daemon says exactly
 * READY=1 once its port accepts connections (not before), RELOADING=1 with
 * the monotonic time of the SIGHUP then READY=1 once the reload is done
 * (also when the new file is refused), and STOPPING=1 at SIGTERM; nothing
 * else, in that order.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "daemon.h"
#include "itest.h"
#include "tclock.h"
#include "tfile.h"

#define CONF_MAX	1024
#define MSG_MAX		1024
#define QUIET_MS	300	/* no other message comes this long */

#define HEX		"5b0e8c3f17a9d4e26c1f0a8b3d7e9c45"

struct notify_fix {
	char dir[64];
	char path[96];	/* fits sun_path */
	int fd;
	char conf[CONF_MAX];
	struct daemon_proc *d;
	char first[MSG_MAX];		/* the first message */
	int first_accepted;		/* the port accepted as it came */
};

static void
conf_text(struct notify_fix *f, const char *extra)
{
	int n = snprintf(f->conf, sizeof(f->conf),
	    "[server]\nport = 0\nlisten = 127.0.0.1\nstate_dir = @DIR@\n"
	    "shutdown_grace = 1\n%s[users]\nalice = " HEX "\n", extra);

	ck_assert(n > 0 && (size_t)n < sizeof(f->conf));
}

/* The socket systemd would hold, in the environment the daemon inherits. */
static void
notify_socket(struct notify_fix *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_notify.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->fd, 0);
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", f->path, 1), 0);
}

/* The next message, NUL-terminated; 0 if none came within timeout_ms. */
static size_t
next_msg(struct notify_fix *f, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	n = recv(f->fd, buf, cap - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void
expect_msg(struct notify_fix *f, const char *want)
{
	char got[MSG_MAX];

	ck_assert_msg(next_msg(f, got, sizeof(got), ITEST_IO_MS) > 0,
	    "no notify message; expected \"%s\"", want);
	ck_assert_str_eq(got, want);
}

/* RELOADING=1 stamped between the test's clock readings t0 and now. */
static void
expect_reloading(struct notify_fix *f, int64_t t0_ns)
{
	char got[MSG_MAX], tail[64];
	unsigned long long usec;
	int64_t t1_ns;
	int used = 0;

	ck_assert_msg(next_msg(f, got, sizeof(got), ITEST_IO_MS) > 0,
	    "no RELOADING=1 after SIGHUP");
	t1_ns = tclock_now_ns();
	ck_assert_msg(sscanf(got, "RELOADING=1\nMONOTONIC_USEC=%llu\n%n",
	    &usec, &used) == 1 && used > 0, "got \"%s\"", got);
	snprintf(tail, sizeof(tail), "%s", got + used);
	ck_assert_str_eq(tail, "STATUS=reloading");
	ck_assert_uint_ge(usec, (unsigned long long)(t0_ns / 1000));
	ck_assert_uint_le(usec, (unsigned long long)(t1_ns / 1000));
}

/* 1 if a TCP connection to the port is accepted (listen backlog). */
static int
port_accepts(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd, rc;

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc == 0;
}

/*
 * The first message, and at once whether the port accepts: on a thread of
 * its own, since the main thread is in daemon_start meanwhile (which must
 * run there: the daemon dies with the thread that started it).
 */
static void *
watch_first(void *arg)
{
	struct notify_fix *f = arg;

	unsigned port;

	if (next_msg(f, f->first, sizeof(f->first), ITEST_START_MS) > 0 &&
	    sscanf(f->first, "READY=1\nSTATUS=running on port %u", &port) == 1)
		f->first_accepted = port_accepts((uint16_t)port);
	return NULL;
}

static void
sighup(struct notify_fix *f, const char *why)
{
	int64_t t0 = tclock_now_ns();

	ck_assert_int_eq(kill(daemon_pid(f->d), SIGHUP), 0);
	expect_reloading(f, t0);
	expect_msg(f, why);
}

START_TEST(start_reload_stop)
{
	struct notify_fix f = { .fd = -1 };
	char extra[MSG_MAX], want[MSG_MAX];
	pthread_t t;
	int status;

	notify_socket(&f);
	conf_text(&f, "");
	/* READY=1 checked against the port while the daemon may still be
	   starting. */
	ck_assert_int_eq(pthread_create(&t, NULL, watch_first, &f), 0);
	ck_assert_int_eq(daemon_start(&f.d, f.conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	/* Port 0: only a daemon that has bound can name its port. */
	snprintf(want, sizeof(want), "READY=1\nSTATUS=running on port %u",
	    daemon_port(f.d, AF_INET));
	ck_assert_str_eq(f.first, want);
	ck_assert_msg(f.first_accepted, "READY=1 before the port accepted "
	    "connections");

	sighup(&f, "READY=1\nSTATUS=running; reloaded");
	ck_assert_int_eq(daemon_wait_log(f.d, "reload: 1 user(s)",
	    ITEST_IO_MS), 0);
	/* A refused file: a reload all the same, done, and said so. */
	conf_text(&f, "idle_timeout = forever\n");
	itest_write_file(daemon_dir(f.d), "mtproxyd.conf", f.conf,
	    strlen(f.conf));
	sighup(&f, "READY=1\nSTATUS=running; reload failed, the "
	    "configuration is unchanged");

	ck_assert_int_eq(kill(daemon_pid(f.d), SIGTERM), 0);
	expect_msg(&f, "STOPPING=1\nSTATUS=stopping; sessions have 1 s to "
	    "finish");
	ck_assert_int_eq(daemon_stop(f.d, SIGTERM, ITEST_STOP_MS, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(next_msg(&f, extra, sizeof(extra), QUIET_MS) == 0,
	    "a message after STOPPING=1: \"%s\"", extra);
	close(f.fd);
	ck_assert_int_eq(tfile_rm_tree(f.dir), 0);
}
END_TEST

#ifndef HAVE_LIBSYSTEMD
START_TEST(no_libsystemd)
{
	itest_skip("configured without libsystemd: the daemon sends nothing");
}
END_TEST
#endif

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, ITEST_CASE_S);
#ifdef HAVE_LIBSYSTEMD
	tcase_add_test(tc, start_reload_stop);
#else
	tcase_add_test(tc, no_libsystemd);
#endif
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return notify_suite();
}
