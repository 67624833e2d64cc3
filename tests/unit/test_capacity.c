/*
 * Client capacity: each limit's figure exactly (two descriptors and two
 * threads a client, the reserves, what is used already, half the memory at
 * CAPACITY_CLIENT_MEM), the smallest limit wins and is named, a limit too
 * low for any client gives 0, no limit at all is an error; the system's
 * limits as read; auto max_clients in config follows them.
 */
#include <check.h>
#include <string.h>
#include <sys/resource.h>

#include "capacity.h"
#include "ckmain.h"
#include "config.h"

#define U	CAPACITY_UNLIMITED

static void
none(struct capacity_limits *l)
{
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < CAPACITY_NLIMITS; i++)
		l->v[i] = U;
}

START_TEST(each_limit)
{
	struct capacity_limits l;

	none(&l);
	l.v[CAPACITY_NOFILE] = 20000;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_NOFILE), (20000 - 64) / 2);
	l.used[CAPACITY_NOFILE] = 1000;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_NOFILE),
	    (20000 - 1000 - 64) / 2);

	l.v[CAPACITY_PID_MAX] = 32768;
	l.used[CAPACITY_PID_MAX] = 772;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_PID_MAX),
	    (32768 - 772 - 64) / 2);
	l.v[CAPACITY_THREADS_MAX] = 192739;
	l.used[CAPACITY_THREADS_MAX] = 772;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_THREADS_MAX),
	    (192739 - 772 - 64) / 2);
	l.v[CAPACITY_NPROC] = 4096;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_NPROC), (4096 - 64) / 2);
	l.v[CAPACITY_PIDS_CGROUP] = 1000;
	l.used[CAPACITY_PIDS_CGROUP] = 36;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_PIDS_CGROUP),
	    (1000 - 36 - 64) / 2);

	/* 1 GiB: half of it at 256 KiB a client. */
	l.v[CAPACITY_MEMORY] = 1LL << 30;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_MEMORY), 2048);

	l.v[CAPACITY_MEMORY] = U;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_MEMORY), U);
}
END_TEST

START_TEST(too_low_is_zero)
{
	struct capacity_limits l;

	none(&l);
	l.v[CAPACITY_NOFILE] = 60;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_NOFILE), 0);
	l.v[CAPACITY_NOFILE] = 66;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_NOFILE), 1);
	l.v[CAPACITY_PID_MAX] = 32768;
	l.used[CAPACITY_PID_MAX] = 40000;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_PID_MAX), 0);
	l.v[CAPACITY_MEMORY] = CAPACITY_CLIENT_MEM;
	ck_assert_int_eq(capacity_clients(&l, CAPACITY_MEMORY), 0);
}
END_TEST

START_TEST(smallest_binds)
{
	struct capacity_limits l;
	enum capacity_limit b = CAPACITY_NLIMITS;
	long long n = 0;

	none(&l);
	ck_assert_int_eq(capacity_derive(&l, &n, &b), -1);
	ck_assert_int_eq(n, U);

	/* This machine: 20,000 open files bind before pid_max. */
	l.v[CAPACITY_NOFILE] = 20000;
	l.v[CAPACITY_PID_MAX] = 32768;
	l.used[CAPACITY_PID_MAX] = 772;
	l.v[CAPACITY_THREADS_MAX] = 192739;
	l.v[CAPACITY_MEMORY] = 24LL << 30;
	ck_assert_int_eq(capacity_derive(&l, &n, &b), 0);
	ck_assert_int_eq(n, 9968);
	ck_assert_int_eq(b, CAPACITY_NOFILE);
	ck_assert_str_eq(capacity_limit_name(b), "open files (RLIMIT_NOFILE)");

	/* Many files: pid_max binds. */
	l.v[CAPACITY_NOFILE] = 1048576;
	ck_assert_int_eq(capacity_derive(&l, &n, &b), 0);
	ck_assert_int_eq(n, (32768 - 772 - 64) / 2);
	ck_assert_int_eq(b, CAPACITY_PID_MAX);
	ck_assert_str_eq(capacity_limit_name(b), "kernel.pid_max");

	/* A small container: its memory. */
	l.v[CAPACITY_MEMORY] = 512LL << 20;
	ck_assert_int_eq(capacity_derive(&l, &n, &b), 0);
	ck_assert_int_eq(n, 1024);
	ck_assert_int_eq(b, CAPACITY_MEMORY);

	/* A pids cgroup of 200 tasks with 10 used. */
	l.v[CAPACITY_PIDS_CGROUP] = 200;
	l.used[CAPACITY_PIDS_CGROUP] = 10;
	ck_assert_int_eq(capacity_derive(&l, &n, &b), 0);
	ck_assert_int_eq(n, 63);
	ck_assert_int_eq(b, CAPACITY_PIDS_CGROUP);
	ck_assert_str_eq(capacity_limit_name(CAPACITY_NLIMITS), "unknown");
}
END_TEST

/* What capacity_read finds agrees with getrlimit and /proc. */
START_TEST(read_system)
{
	struct capacity_limits l;
	struct rlimit rl;

	capacity_read(&l);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(l.v[CAPACITY_NOFILE], rl.rlim_max == RLIM_INFINITY ?
	    U : (long long)rl.rlim_max);
	ck_assert_int_gt(l.v[CAPACITY_PID_MAX], 300);
	ck_assert_int_gt(l.used[CAPACITY_PID_MAX], 0);
	ck_assert_int_lt(l.used[CAPACITY_PID_MAX], l.v[CAPACITY_PID_MAX]);
	ck_assert_int_gt(l.v[CAPACITY_THREADS_MAX], 0);
	ck_assert_int_gt(l.v[CAPACITY_MEMORY], 1LL << 20);
}
END_TEST

/* Auto max_clients is the derived figure at most 8192; too low is an error. */
START_TEST(config_auto)
{
	static struct config cfg;
	struct capacity_limits l;
	enum capacity_limit b;
	struct rlimit rl = { 1000, 1000 };
	char err[256];
	long long n;

	config_defaults(&cfg);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	capacity_read(&l);
	ck_assert_int_eq(capacity_derive(&l, &n, &b), 0);
	ck_assert_int_eq(cfg.max_clients, n < 8192 ? n : 8192);
	/* an explicit value stays, even above the limits (main warns) */
	ck_assert_int_eq(config_set(&cfg, "server", "max_clients", "100000",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.max_clients, 100000);

	/* Lowering works without root; the child of this test only. */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	config_defaults(&cfg);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.max_clients, (1000 - 64) / 2);

	rl.rlim_cur = rl.rlim_max = 60;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	config_defaults(&cfg);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] max_clients = '0': the limit "
	    "of open files (RLIMIT_NOFILE), 60, is too low for auto; expected "
	    "an explicit value");
}
END_TEST

static Suite *
capacity_suite(void)
{
	Suite *s = suite_create("capacity");
	TCase *tc = tcase_create("derive");

	tcase_add_test(tc, each_limit);
	tcase_add_test(tc, too_low_is_zero);
	tcase_add_test(tc, smallest_binds);
	tcase_add_test(tc, read_system);
	tcase_add_test(tc, config_auto);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return capacity_suite();
}
