/*
 * mtproxyd in direct mode through [upstream] socks5, end to end: the real
 * binary between the test client and the fake DC, every DC connection
 * through a real SOCKS5 server, Debian's dante-server (danted), started
 * here on loopback. Echoes come back byte for byte, dante's log shows one
 * CONNECT to the DC per connection the fake DC accepted (so none went
 * around it), dc_pool's warm connections go through it too, and a SOCKS
 * server that is down, silent, refuses the target or the credentials
 * fails the client within connect_timeout, counted by reason in the stats
 * and /metrics. RFC 1929 runs against dante with a system user made for
 * the test (root only, else skipped); the password never reaches the log.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "mscrape.h"
#include "tclock.h"
#include "tfile.h"

#define DANTED		"/usr/sbin/danted"
#define CONF_MAX	2048
#define ALICE_HEX	"5d0e9a4c71b2f8e36a1c0d93e7f2485b"
/* RFC 1929 credentials: a user made for the test, and a wrong password. */
#define SOCKS_PW	"Dq7-socks-pw"
#define SOCKS_BAD_PW	"Dq7-not-it"
/* A failure that must be prompt: far below connect_timeout (10 s). */
#define PROMPT_MS	3000

static const char *const secrets[] = { ALICE_HEX };

/* --- dante */

struct dante {
	pid_t pid;
	uint16_t port;
	char dir[64];
	char log[96];
};

static int
can_run_dante(void)
{
	if (access(DANTED, X_OK) != 0) {
		itest_skip("no " DANTED " (apt-get install dante-server)");
		return 0;
	}
	return 1;
}

static int
port_answers(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd, ok;

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/*
 * danted on 127.0.0.1, in the foreground, one main server; method is
 * "none" or "username" (the passwd database). As root it must be told
 * whom to run as; its log lists each CONNECT it relays.
 */
static void
dante_start(struct dante *dt, const char *method)
{
	int64_t deadline = tclock_now_ms() + ITEST_START_MS;
	char conf[CONF_MAX], path[128];
	int n, status, fd;

	snprintf(dt->dir, sizeof(dt->dir), "/tmp/test_socks5.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dt->dir));
	/* danted's children write the log as the unprivileged user. */
	ck_assert_int_eq(chmod(dt->dir, 0755), 0);
	ck_assert_int_eq(fakedc_closed_port(AF_INET, &dt->port), 0);
	snprintf(dt->log, sizeof(dt->log), "%s/danted.log", dt->dir);
	n = snprintf(conf, sizeof(conf),
	    "logoutput: %s\n"
	    "internal: 127.0.0.1 port = %u\n"
	    "external: 127.0.0.1\n"
	    "clientmethod: none\n"
	    "socksmethod: %s\n"
	    "%s"
	    "client pass {\n from: 127.0.0.0/8 to: 0.0.0.0/0\n log: error\n}\n"
	    "socks pass {\n from: 127.0.0.0/8 to: 127.0.0.0/8\n"
	    " command: connect\n log: connect error\n}\n",
	    dt->log, dt->port, method, geteuid() == 0 ?
	    "user.privileged: root\nuser.unprivileged: nobody\n" : "");
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	snprintf(path, sizeof(path), "%s/danted.conf", dt->dir);
	ck_assert_int_eq(tfile_write(path, conf, (size_t)n), 0);

	dt->pid = fork();
	ck_assert_int_ge(dt->pid, 0);
	if (dt->pid == 0) {
		/* A test that fails on an assertion takes dante with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		snprintf(conf, sizeof(conf), "%s/danted.out", dt->dir);
		fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(DANTED, DANTED, "-f", path, "-N", "1", (char *)NULL);
		_exit(127);
	}
	while (!port_answers(dt->port)) {
		ck_assert_msg(waitpid(dt->pid, &status, WNOHANG) == 0,
		    "danted exited (status %d): see %s/danted.out", status,
		    dt->dir);
		ck_assert_msg(tclock_now_ms() < deadline, "danted never "
		    "listened on 127.0.0.1:%u", dt->port);
		tclock_sleep_ms(20);
	}
}

static void
dante_stop(struct dante *dt)
{
	int64_t deadline = tclock_now_ms() + ITEST_STOP_MS;
	int status;

	ck_assert_int_eq(kill(dt->pid, SIGTERM), 0);
	while (waitpid(dt->pid, &status, WNOHANG) == 0) {
		if (tclock_now_ms() >= deadline) {
			kill(dt->pid, SIGKILL);
			waitpid(dt->pid, &status, 0);
			ck_abort_msg("danted ignored SIGTERM");
		}
		tclock_sleep_ms(20);
	}
	if (getenv("KEEP_DAEMON_DIR") == NULL)
		tfile_rm_tree(dt->dir);
}

/* dante's log lines of CONNECTs it made to 127.0.0.1:port that hold who. */
static int
dante_connects(const struct dante *dt, uint16_t port, const char *who)
{
	char *log = itest_read_file(dt->log), *line, *save = NULL;
	char end[32];
	size_t n;
	int count = 0;

	n = (size_t)snprintf(end, sizeof(end), " 127.0.0.1.%u", port);
	for (line = strtok_r(log, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "tcp/connect [: ") != NULL &&
		    strstr(line, who) != NULL && strlen(line) >= n &&
		    strcmp(line + strlen(line) - n, end) == 0)
			count++;
	free(log);
	return count;
}

/* dante logs as it goes: wait for want such lines, then there are want. */
static void
dante_wait_connects(const struct dante *dt, uint16_t port, const char *who,
    int want)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;

	while (dante_connects(dt, port, who) < want) {
		ck_assert_msg(tclock_now_ms() < deadline, "dante's log has %d "
		    "CONNECTs to port %u, expected %d", dante_connects(dt, port,
		    who), port, want);
		tclock_sleep_ms(20);
	}
	ck_assert_int_eq(dante_connects(dt, port, who), want);
}

/* --- the daemon */

/*
 * Direct mode, one user, DC 2 at dc_addrs, DC connections through the
 * SOCKS5 server at 127.0.0.1:socks_port, state in dir; extra lines go
 * into [server], upstream_extra into [upstream].
 */
static void
proxy_conf(char *conf, size_t len, const char *dir, uint16_t socks_port,
    const char *dc_addrs, const char *extra, const char *upstream_extra)
{
	int n;

	n = snprintf(conf, len,
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "modes = secure\n"
	    "shutdown_grace = 5\n"
	    "state_dir = %s\n"
	    "%s%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "2 = %s\n"
	    "[upstream]\n"
	    "socks5 = 127.0.0.1:%u\n"
	    "%s",
	    dir, strstr(extra, "dc_pool") != NULL ? "" : "dc_pool = 0\n",
	    extra, dc_addrs, socks_port, upstream_extra);
	ck_assert(n > 0 && (size_t)n < len);
}

static struct daemon_proc *
proxy_start(uint16_t socks_port, const char *dc_addrs, const char *extra,
    const char *upstream_extra)
{
	struct daemon_proc *d = NULL;
	char conf[CONF_MAX];

	proxy_conf(conf, sizeof(conf), "@DIR@", socks_port, dc_addrs, extra,
	    upstream_extra);
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	return d;
}

static struct tclient *
client_open(struct daemon_proc *d)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_PADDED, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_set_padding(c, 0), 0);
	return c;
}

/* Sizes up to a frame's largest, each back byte for byte. */
static void
echo(struct tclient *c)
{
	static const size_t sizes[] = { 4, 504, 65536, FRAME_MAX_LEN };
	uint8_t *msg = itest_random_bytes(FRAME_MAX_LEN);
	uint8_t *got = malloc(FRAME_MAX_LEN);
	size_t i, n;

	ck_assert_ptr_nonnull(got);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_int_eq(tclient_send(c, msg, sizes[i], 0), 0);
		ck_assert_int_eq(tclient_recv(c, got, FRAME_MAX_LEN, &n,
		    ITEST_IO_MS), 0);
		ck_assert_uint_eq(n, sizes[i]);
		ck_assert_mem_eq(got, msg, n);
	}
	free(msg);
	free(got);
}

static long long
failures(struct daemon_proc *d, const char *reason)
{
	char name[64];

	snprintf(name, sizeof(name), "upstream_failures{reason=\"%s\"}",
	    reason);
	return itest_counter(d, name, ITEST_IO_MS);
}

/* Every reason but one at 0, that one at n. */
static void
assert_failures(struct daemon_proc *d, const char *reason, long long n)
{
	static const char *const reasons[] = { "connect", "timeout", "auth",
	    "refused", "protocol" };
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		ck_assert_int_eq(failures(d, reasons[i]),
		    strcmp(reasons[i], reason) == 0 ? n : 0);
}

/* The client is closed within max_ms of its header, not before min_ms. */
static void
assert_closed_within(struct daemon_proc *d, int min_ms, int max_ms)
{
	int64_t t0 = tclock_now_ms(), took;
	struct tclient *c = client_open(d);
	size_t n = 1;

	ck_assert_int_eq(tclient_wait_closed_count(c, &n, ITEST_IO_MS), 0);
	took = tclock_now_ms() - t0;
	ck_assert_uint_eq(n, 0);
	ck_assert_msg(took >= min_ms && took <= max_ms, "closed after %lld "
	    "ms, expected %d..%d", (long long)took, min_ms, max_ms);
	tclient_close(c);
}

/*
 * dante with that method, an echo DC, and mtproxyd with DC 2 at
 * first_addr (may be empty) and then the echo DC, through dante.
 */
struct rig {
	struct dante dt;
	struct fakedc *dc;
	struct daemon_proc *d;
};

static void
rig_start(struct rig *r, const char *method, const char *first_addr,
    const char *extra, const char *upstream_extra)
{
	char dcs[96];

	dante_start(&r->dt, method);
	r->dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	snprintf(dcs, sizeof(dcs), "%s127.0.0.1:%u", first_addr,
	    fakedc_port(r->dc));
	r->d = proxy_start(r->dt.port, dcs, extra, upstream_extra);
}

/* One client's echo, and dante's CONNECTs to the DC (holding who). */
static void
rig_echo(struct rig *r, const char *who, int connects)
{
	struct tclient *c = client_open(r->d);

	echo(c);
	tclient_close(c);
	dante_wait_connects(&r->dt, fakedc_port(r->dc), who, connects);
}

static void
rig_stop(struct rig *r)
{
	itest_stop(r->d, secrets, 1, ITEST_STOP_MS);
	fakedc_stop(r->dc);
	dante_stop(&r->dt);
}

/* --- tests */

/*
 * Two clients, each through dante: byte for byte both ways, one CONNECT
 * in dante's log per connection the DC accepted, counted as connects.
 */
START_TEST(echo_through_dante)
{
	struct rig r;

	if (!can_run_dante())
		return;
	rig_start(&r, "none", "", "", "");
	rig_echo(&r, "", 1);
	rig_echo(&r, "", 2);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_ACCEPTED), 2);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_HEADERS), 2);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_BAD_FRAMES), 0);
	ck_assert_int_eq(itest_counter(r.d, "upstream_connects", ITEST_IO_MS),
	    2);
	assert_failures(r.d, "", 0);
	rig_stop(&r);
}
END_TEST

/*
 * dc_pool's warm connections go through dante too: two opened once a
 * client asked for DC 2, the next client served from them.
 */
START_TEST(pool_through_dante)
{
	struct tclient *c;
	struct rig r;

	if (!can_run_dante())
		return;
	rig_start(&r, "none", "", "dc_pool = 2\ndc_pool_max_age = 600\n", "");
	c = client_open(r.d);
	echo(c);
	tclient_close(c);
	/* The client's own, then the pool's two. */
	itest_wait_counter(r.d, "upstream_connects", 3, ITEST_IO_MS,
	    ITEST_IO_MS);
	ck_assert_int_eq(fakedc_wait(r.dc, FAKEDC_ACCEPTED, 3, ITEST_IO_MS), 0);
	c = client_open(r.d);
	echo(c);
	tclient_close(c);
	ck_assert_int_eq(daemon_wait_log(r.d, "(pooled)", ITEST_IO_MS), 0);
	/* The pool tops up again: four, every one through dante. */
	itest_wait_counter(r.d, "upstream_connects", 4, ITEST_IO_MS,
	    ITEST_IO_MS);
	dante_wait_connects(&r.dt, fakedc_port(r.dc), "", 4);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_ACCEPTED), 4);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_HEADERS), 2);
	assert_failures(r.d, "", 0);
	rig_stop(&r);
}
END_TEST

/*
 * dante cannot reach DC 2's first address (nothing listens): it answers
 * with a failure, counted; the second address is tried through it and
 * works.
 */
START_TEST(refused_then_next_address)
{
	char first[32], line[128];
	uint16_t closed;
	struct rig r;

	if (!can_run_dante())
		return;
	ck_assert_int_eq(fakedc_closed_port(AF_INET, &closed), 0);
	snprintf(first, sizeof(first), "127.0.0.1:%u, ", closed);
	rig_start(&r, "none", first, "", "");
	rig_echo(&r, "", 1);
	assert_failures(r.d, "refused", 1);
	ck_assert_int_eq(itest_counter(r.d, "upstream_connects", ITEST_IO_MS),
	    1);
	snprintf(line, sizeof(line), "socks5 127.0.0.1:%u: CONNECT "
	    "127.0.0.1:%u: refused (connection refused)", r.dt.port, closed);
	ck_assert_int_eq(daemon_log_count(r.d, line), 1);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_ACCEPTED), 1);
	rig_stop(&r);
}
END_TEST

/*
 * Nothing listens at the SOCKS server's port: the client is closed at
 * once (not after connect_timeout), no other address is tried, the DC
 * sees nothing, and /metrics counts it.
 */
START_TEST(socks_down)
{
	const char *py = mscrape_python();
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d;
	uint16_t closed, mport = mscrape_free_port();
	char dcs[64], metrics[64];
	char *samples;

	ck_assert_int_eq(fakedc_closed_port(AF_INET, &closed), 0);
	snprintf(dcs, sizeof(dcs), "127.0.0.1:%u, 127.0.0.1:%u",
	    fakedc_port(dc), fakedc_port(dc));
	snprintf(metrics, sizeof(metrics), "[metrics]\nlisten = 127.0.0.1:%u\n",
	    mport);
	d = proxy_start(closed, dcs, "connect_timeout = 10\n", metrics);
	assert_closed_within(d, 0, PROMPT_MS);
	assert_failures(d, "connect", 1);
	ck_assert_int_eq(itest_counter(d, "rejected{reason=\"dc_unreachable\"}",
	    ITEST_IO_MS), 1);
	ck_assert_int_eq(daemon_wait_log(d, "last tried socks5 127.0.0.1:",
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), 0);
	if (py != NULL) {
		samples = mscrape_until(d, mport, py,
		    "mtproxyd_upstream_failures_total|reason=connect", 1);
		ck_assert_uint_eq(mscrape_sample(samples,
		    "mtproxyd_upstream_failures_total|reason=timeout"), 0);
		ck_assert_uint_eq(mscrape_sample(samples,
		    "mtproxyd_upstream_connects_total"), 0);
		free(samples);
	} else {
		itest_skip("no python3 with prometheus_client: /metrics "
		    "not read");
	}
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	fakedc_stop(dc);
}
END_TEST

/*
 * A SOCKS server that takes the connection and never answers: the client
 * is closed when connect_timeout (2 s) runs out, once for all of DC 2's
 * addresses.
 */
START_TEST(socks_silent)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct daemon_proc *d;
	socklen_t len = sizeof(a);
	int lfd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	d = proxy_start(ntohs(a.sin_port), "127.0.0.1:1, 127.0.0.2:1",
	    "connect_timeout = 2\n", "");
	assert_closed_within(d, 1900, 2000 + PROMPT_MS);
	assert_failures(d, "timeout", 1);
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	close(lfd);
}
END_TEST

/*
 * [upstream] is the start's: a SIGHUP that moves it to another server is
 * named in the reload warning, and clients still go to the first.
 */
START_TEST(reload_keeps_upstream)
{
	struct daemon_proc *d;
	uint16_t first, second;
	char conf[CONF_MAX], tried[64];

	ck_assert_int_eq(fakedc_closed_port(AF_INET, &first), 0);
	ck_assert_int_eq(fakedc_closed_port(AF_INET, &second), 0);
	d = proxy_start(first, "127.0.0.1:1", "", "");
	assert_closed_within(d, 0, PROMPT_MS);
	proxy_conf(conf, sizeof(conf), daemon_dir(d), second, "127.0.0.1:1",
	    "", "");
	itest_write_file(daemon_dir(d), "mtproxyd.conf", conf, strlen(conf));
	ck_assert_int_eq(kill(daemon_pid(d), SIGHUP), 0);
	ck_assert_int_eq(daemon_wait_log(d, "reload: 1 user(s)", ITEST_IO_MS),
	    0);
	ck_assert_int_eq(daemon_log_count(d, "reload: [upstream] changed; "
	    "they need a restart"), 1);
	assert_closed_within(d, 0, PROMPT_MS);
	assert_failures(d, "connect", 2);
	snprintf(tried, sizeof(tried), "last tried socks5 127.0.0.1:%u:",
	    first);
	ck_assert_int_eq(daemon_log_count(d, tried), 2);
	snprintf(tried, sizeof(tried), "127.0.0.1:%u", second);
	ck_assert_int_eq(daemon_log_contains(d, tried), 0);
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
}
END_TEST

/* --check-config, and so the start: a host name looked up, or one line. */
static int
check_config(const char *upstream, char *out, size_t outlen)
{
	static const char *const args[] = { "--check-config", NULL };
	char conf[256];
	int status = -1;

	snprintf(conf, sizeof(conf), "[server]\nstate_dir = @DIR@\n"
	    "[upstream]\n%s", upstream);
	ck_assert_int_eq(daemon_run(args, conf, out, outlen, &status,
	    ITEST_IO_MS), 0);
	ck_assert_msg(WIFEXITED(status), "wait status 0x%x: %s", status, out);
	return WEXITSTATUS(status);
}

START_TEST(resolve_at_start)
{
	char out[1024];

	ck_assert_int_eq(check_config("socks5 = localhost:1080\n", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "mtproxyd: configuration OK\n");
	ck_assert_int_eq(check_config("socks5 = no-such-host.invalid:1080\n",
	    out, sizeof(out)), 2);
	ck_assert_msg(strncmp(out, "mtproxyd: config: [upstream] socks5 = "
	    "'no-such-host.invalid:1080': cannot resolve no-such-host.invalid: ",
	    104) == 0 && strchr(out, '\n') == out + strlen(out) - 1,
	    "output: %s", out);
	/* Middle mode would leave the links outside it: refused. */
	ck_assert_int_eq(check_config("socks5 = 127.0.0.1:1080\n"
	    "[server]\nmode = middle\n", out, sizeof(out)), 2);
	ck_assert_str_eq(out, "mtproxyd: config: [upstream] socks5: expected "
	    "mode = direct; middle-proxy links do not go through it\n");
}
END_TEST

/* --- RFC 1929 against dante's "username" method: a system user */

static char socks_user[32];
static int have_user;

static void
user_setup(void)
{
	char cmd[128];
	FILE *p;

	snprintf(socks_user, sizeof(socks_user), "mtpx%ld", (long)getpid());
	have_user = 0;
	if (geteuid() != 0 || access(DANTED, X_OK) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "useradd -M -s /usr/sbin/nologin %s "
	    ">/dev/null 2>&1", socks_user);
	if (system(cmd) != 0)
		return;
	have_user = 1;
	if ((p = popen("chpasswd", "w")) != NULL) {
		fprintf(p, "%s:%s\n", socks_user, SOCKS_PW);
		if (pclose(p) == 0)
			have_user = 2;
	}
}

static void
user_teardown(void)
{
	char cmd[128];

	if (have_user == 0)
		return;
	snprintf(cmd, sizeof(cmd), "userdel %s >/dev/null 2>&1", socks_user);
	if (system(cmd) != 0)
		fprintf(stderr, "test_socks5: userdel %s failed\n", socks_user);
}

static int
can_authenticate(void)
{
	if (!can_run_dante())
		return 0;
	if (have_user != 2) {
		itest_skip("RFC 1929 needs root to make a system user for "
		    "dante (useradd, chpasswd)");
		return 0;
	}
	return 1;
}

/* The right password: through, and dante logs the user it checked. */
START_TEST(auth_accepted)
{
	char up[128], who[64];
	struct rig r;

	if (!can_authenticate())
		return;
	snprintf(up, sizeof(up), "username = %s\npassword = " SOCKS_PW "\n",
	    socks_user);
	rig_start(&r, "username", "", "", up);
	snprintf(who, sizeof(who), "username%%%s@", socks_user);
	rig_echo(&r, who, 1);
	ck_assert_int_eq(itest_counter(r.d, "upstream_connects", ITEST_IO_MS),
	    1);
	assert_failures(r.d, "", 0);
	ck_assert_int_eq(daemon_log_contains(r.d, SOCKS_PW), 0);
	rig_stop(&r);
}
END_TEST

/*
 * A wrong password, and no credentials at all where dante wants them:
 * each client closed at once, counted as auth, the DC never reached, and
 * the password in no log line.
 */
START_TEST(auth_refused)
{
	char up[128], dcs[32];
	struct daemon_proc *d;
	struct rig r;

	if (!can_authenticate())
		return;
	snprintf(up, sizeof(up), "username = %s\npassword = " SOCKS_BAD_PW
	    "\n", socks_user);
	rig_start(&r, "username", "", "connect_timeout = 10\n", up);
	assert_closed_within(r.d, 0, PROMPT_MS);
	assert_failures(r.d, "auth", 1);
	ck_assert_int_eq(daemon_log_contains(r.d, SOCKS_BAD_PW), 0);

	snprintf(dcs, sizeof(dcs), "127.0.0.1:%u", fakedc_port(r.dc));
	d = proxy_start(r.dt.port, dcs, "connect_timeout = 10\n", "");
	assert_closed_within(d, 0, PROMPT_MS);
	assert_failures(d, "auth", 1);
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	ck_assert_uint_eq(fakedc_counter(r.dc, FAKEDC_ACCEPTED), 0);
	rig_stop(&r);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("socks5");
	TCase *tc = tcase_create("dante");
	TCase *ta = tcase_create("auth");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, echo_through_dante);
	tcase_add_test(tc, pool_through_dante);
	tcase_add_test(tc, refused_then_next_address);
	tcase_add_test(tc, socks_down);
	tcase_add_test(tc, socks_silent);
	tcase_add_test(tc, reload_keeps_upstream);
	tcase_add_test(tc, resolve_at_start);
	suite_add_tcase(s, tc);
	tcase_set_timeout(ta, ITEST_CASE_S);
	tcase_add_unchecked_fixture(ta, user_setup, user_teardown);
	tcase_add_test(ta, auth_accepted);
	tcase_add_test(ta, auth_refused);
	suite_add_tcase(s, ta);
	return s;
}
