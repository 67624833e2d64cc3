/*
 * [server] user through the real daemon, started as root: once it listens,
 * every thread's real, effective, saved and file-system ids are nobody's,
 * with nobody's groups and no capability left; it still serves a client
 * end to end on the port root bound, writes the quota state into a
 * state_dir root made (handed to nobody before the switch), and reloads
 * on SIGHUP. Unknown user and group names stop the start with one line
 * and exit status 2. Skipped unless run as root (CI is).
 */
#include <check.h>
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "daemon.h"
#include "fakedc.h"
#include "itest.h"
#include "tclock.h"
#include "tfile.h"

#define CONF_MAX	2048
#define OUT_MAX		4096
#define MSG_LEN		4000

#define ALICE_HEX	"a83f0d6e2c91b5470e6d9c2a1f3b8e54"
#define BOB_HEX		"4e7c1a9f0b3d62e8c5a07f1d9e2b6c38"

static const char *const hexes[] = { ALICE_HEX, BOB_HEX };

static int
skip_unless_root(void)
{
	if (geteuid() == 0)
		return 0;
	itest_skip("not root: the daemon cannot switch users");
	return -1;
}

static void
conf_text(char *buf, size_t cap, const char *user, const char *state,
    const struct fakedc *dc, const char *users)
{
	int n = snprintf(buf, cap,
	    "[server]\nport = 0\nlisten = 127.0.0.1\nmodes = classic, secure\n"
	    "dc_pool = 0\nstate_dir = %s\nstate_interval = 1\nuser = %s\n"
	    "[users]\n%s[user.alice]\nquota = 10M\n[dc]\n2 = 127.0.0.1:%u\n",
	    state, user, users, dc != NULL ? fakedc_port(dc) : 1);

	ck_assert(n > 0 && (size_t)n < cap);
}

/* "Uid:" or "Gid:" of a status file: all four ids equal to id. */
static void
check_ids(const char *status, const char *key, unsigned id)
{
	const char *p = strstr(status, key);
	unsigned v[4];

	ck_assert_msg(p != NULL, "no %s line", key);
	ck_assert_int_eq(sscanf(p + strlen(key), "%u %u %u %u", &v[0], &v[1],
	    &v[2], &v[3]), 4);
	ck_assert_msg(v[0] == id && v[1] == id && v[2] == id && v[3] == id,
	    "%s %u %u %u %u, want %u", key, v[0], v[1], v[2], v[3], id);
}

/* Every thread of pid runs as pw, in pw's groups, with no capability. */
static void
check_process(pid_t pid, const struct passwd *pw)
{
	char path[320], want[64], *st;
	const struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	ck_assert_ptr_nonnull(dir = opendir(path));
	snprintf(want, sizeof(want), "\nGroups:\t%u \n", (unsigned)pw->pw_gid);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
		    (int)pid, e->d_name);
		if ((st = itest_read_file(path)) == NULL)
			continue;	/* a thread that just ended */
		check_ids(st, "\nUid:", (unsigned)pw->pw_uid);
		check_ids(st, "\nGid:", (unsigned)pw->pw_gid);
		ck_assert_msg(strstr(st, want) != NULL, "groups: %s",
		    strstr(st, "\nGroups:"));
		ck_assert_ptr_nonnull(strstr(st, "\nCapEff:\t0000000000000000\n"));
		ck_assert_ptr_nonnull(strstr(st, "\nCapPrm:\t0000000000000000\n"));
		free(st);
		n++;
	}
	closedir(dir);
	/* The main thread, the acceptor, the sweeper at least. */
	ck_assert_int_ge(n, 3);
}

/* One intermediate-transport client of that secret, echoed byte for byte. */
static void
serve_one(struct daemon_proc *d, const char *hex)
{
	uint8_t key[SECRET_LEN], *msg = itest_random_bytes(MSG_LEN);
	uint8_t got[MSG_LEN + 64];
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	size_t n = 0;

	itest_key(hex, key);
	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_send(c, msg, MSG_LEN, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(n, MSG_LEN);
	ck_assert_mem_eq(got, msg, MSG_LEN);
	tclient_close(c);
	free(msg);
}

/* path appears, owned by uid, within the I/O bound. */
static void
wait_owned(const char *path, uid_t uid)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	struct stat st;

	while (stat(path, &st) != 0) {
		ck_assert_msg(tclock_now_ms() < deadline, "no %s", path);
		tclock_sleep_ms(50);
	}
	ck_assert_uint_eq(st.st_uid, uid);
}

START_TEST(drops_to_nobody)
{
	struct fakedc *dc;
	struct daemon_proc *d;
	const struct passwd *pw;
	char state[64], conf[CONF_MAX], path[128];
	struct stat st;

	if (skip_unless_root() != 0)
		return;
	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	ck_assert_uint_ne(pw->pw_uid, 0);
	dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	/* Root's, 0700: only the daemon's chown lets nobody write here. */
	snprintf(state, sizeof(state), "/tmp/test_privdrop.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	conf_text(conf, sizeof(conf), "nobody", state, dc,
	    "alice = " ALICE_HEX "\n");
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	/* SIGHUP reads the file again as nobody (README: mode 640 and the
	   user's group in production). */
	ck_assert_int_eq(chmod(daemon_dir(d), 0711), 0);
	snprintf(path, sizeof(path), "%s/mtproxyd.conf", daemon_dir(d));
	ck_assert_int_eq(chmod(path, 0644), 0);

	ck_assert_int_eq(daemon_wait_log(d, "running as user nobody",
	    ITEST_IO_MS), 0);
	check_process(daemon_pid(d), pw);
	ck_assert_int_eq(stat(state, &st), 0);
	ck_assert_uint_eq(st.st_uid, pw->pw_uid);

	serve_one(d, ALICE_HEX);
	/* alice's quota: her bytes are state, written by nobody. */
	snprintf(path, sizeof(path), "%s/quota.state", state);
	wait_owned(path, pw->pw_uid);

	/* A reload as nobody: bob joins. */
	conf_text(conf, sizeof(conf), "nobody", state, dc,
	    "alice = " ALICE_HEX "\nbob = " BOB_HEX "\n");
	itest_write_file(daemon_dir(d), "mtproxyd.conf", conf, strlen(conf));
	snprintf(path, sizeof(path), "%s/mtproxyd.conf", daemon_dir(d));
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(kill(daemon_pid(d), SIGHUP), 0);
	ck_assert_int_eq(daemon_wait_log(d, "reload: 2 user(s)", ITEST_IO_MS),
	    0);
	serve_one(d, BOB_HEX);
	check_process(daemon_pid(d), pw);
	itest_stop(d, hexes, 2, ITEST_STOP_MS);
	fakedc_stop(dc);
	ck_assert_int_eq(tfile_rm_tree(state), 0);
}
END_TEST

/* Names that do not resolve: one line on stderr, exit status 2. */
START_TEST(unknown_names)
{
	static const struct {
		const char *server, *line;
	} c[] = {
		{ "user = mtproxyd-no-such-user\n",
		    "mtproxyd: [server] user = mtproxyd-no-such-user: no such "
		    "user\n" },
		{ "user = nobody\ngroup = mtproxyd-no-such-group\n",
		    "mtproxyd: [server] group = mtproxyd-no-such-group: no "
		    "such group\n" },
		{ "group = nogroup\n",
		    "mtproxyd: [server] group = nogroup needs a [server] "
		    "user\n" },
	};
	static const char *const args[] = { "-p", "0", NULL };
	char conf[CONF_MAX], out[OUT_MAX];
	int status;

	snprintf(conf, sizeof(conf), "[server]\nlisten = 127.0.0.1\n"
	    "state_dir = /tmp\n%s", c[_i].server);
	ck_assert_int_eq(daemon_run(args, conf, out, sizeof(out), &status,
	    ITEST_START_MS), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	ck_assert_str_eq(out, c[_i].line);
}
END_TEST

static Suite *
privdrop_suite(void)
{
	Suite *s = suite_create("privdrop");
	TCase *tc = tcase_create("privdrop");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, drops_to_nobody);
	tcase_add_loop_test(tc, unknown_names, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return privdrop_suite();
}
