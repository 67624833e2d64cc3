/*
 * Helpers shared by the integration tests. See itest.h.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "crypto.h"
#include "itest.h"
#include "ref.h"
#include "tclock.h"
#include "tfile.h"

char *
itest_read_fd(int fd)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *p;
	ssize_t r;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			p = realloc(buf, cap);
			ck_assert_ptr_nonnull(p);
			buf = p;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

char *
itest_read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *text;

	ck_assert_msg(fd >= 0, "cannot open %s", path);
	text = itest_read_fd(fd);
	close(fd);
	return text;
}

char *
itest_read_log(const struct daemon_proc *d)
{
	return itest_read_file(daemon_log_path(d));
}

void
itest_skip(const char *reason)
{
	fprintf(stderr, ITEST_SKIP_MARK "%s: %s\n", tcase_name(), reason);
}

struct fakedc *
itest_fakedc(int family, enum fakedc_mode mode)
{
	struct fakedc_opts o = { .family = family, .mode = mode };
	struct fakedc *dc;

	ck_assert_int_eq(fakedc_start(&o, &dc), 0);
	ck_assert_uint_ne(fakedc_port(dc), 0);
	return dc;
}

uint8_t *
itest_random_bytes(size_t len)
{
	uint8_t *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(crypto_random(p, len), 0);
	return p;
}

size_t
itest_framed_len(enum frame_transport t, size_t len)
{
	uint8_t hdr[4];
	size_t hlen;

	ck_assert_int_eq(ref_frame_encode(t, len, 0, hdr, &hlen), 0);
	return hlen + len;
}

void
itest_key(const char *hex, uint8_t key[SECRET_LEN])
{
	ck_assert_msg(secret_parse_key(hex, key) == 0, "not a key: %s", hex);
}

size_t
itest_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t i, n = strlen(hex) / 2;
	unsigned int b;

	ck_assert_uint_le(n, cap);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

void
itest_assert_hex(const uint8_t *got, const char *hex)
{
	size_t cap = strlen(hex) / 2 + 1;
	uint8_t *want = malloc(cap);
	size_t n;

	ck_assert_ptr_nonnull(want);
	n = itest_unhex(hex, want, cap);
	ck_assert_mem_eq(got, want, n);
	free(want);
}

void
itest_write_file(const char *dir, const char *name, const void *p,
    size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
	    (int)sizeof(path));
	ck_assert_int_lt(snprintf(tmp, sizeof(tmp), "%s.tmp", path),
	    (int)sizeof(tmp));
	ck_assert_msg(tfile_write(tmp, p, len) == 0, "cannot write %s: %s",
	    tmp, strerror(errno));
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* "user NAME (MODE): tg://proxy?server=..." or the https form. */
static int
is_link_line(const char *line)
{
	size_t len = strcspn(line, "\n");
	static const char *const marks[] = { "): tg://proxy?server=",
	    "): https://t.me/proxy?server=" };
	size_t i;

	if (strncmp(line, "user ", 5) != 0)
		return 0;
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (memmem(line, len, marks[i], strlen(marks[i])) != NULL)
			return 1;
	return 0;
}

/* p, in line, is the value of a link's secret, maybe after dd or ee. */
static int
is_link_secret(const char *line, const char *p)
{
	static const char *const pre[] = { "secret=", "secret=dd",
	    "secret=ee" };
	size_t off = (size_t)(p - line), i, n;

	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		n = strlen(pre[i]);
		if (off >= n && strncmp(p - n, pre[i], n) == 0)
			return 1;
	}
	return 0;
}

const char *
itest_secret_leak(const char *log, const char *hex)
{
	const char *p, *line;

	for (p = log; (p = strcasestr(p, hex)) != NULL; p++) {
		for (line = p; line > log && line[-1] != '\n'; line--)
			;
		if (!is_link_line(line) || !is_link_secret(line, p))
			return line;
	}
	return NULL;
}

void
itest_stop(struct daemon_proc *d, const char *const *hexes, size_t nhex,
    int timeout_ms)
{
	/* Opened before the stop, which removes the log, so it can be shown. */
	int fd = open(daemon_log_path(d), O_RDONLY | O_CLOEXEC);
	const char *leak = NULL;
	int status = -1, rc, clean;
	size_t i;
	char *log;

	ck_assert_int_ge(fd, 0);
	rc = daemon_stop(d, SIGTERM, timeout_ms, &status);
	log = itest_read_fd(fd);
	close(fd);
	for (i = 0; i < nhex && leak == NULL; i++)
		leak = itest_secret_leak(log, hexes[i]);
	clean = rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    leak == NULL && strstr(log, "stopped") != NULL;
	if (!clean)
		fprintf(stderr, "---- daemon log ----\n%s---- end ----\n", log);
	if (leak != NULL)
		fprintf(stderr, "secret in the log, line: %.*s\n",
		    (int)strcspn(leak, "\n"), leak);
	free(log);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(WIFEXITED(status), "wait status 0x%x", status);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_msg(leak == NULL, "a secret appears in the daemon's log");
	ck_assert_msg(clean, "no \"stopped\" line");
}

char *
itest_stats(struct daemon_proc *d, const char *last, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	char needle[128], *log, *p, *start = NULL, *report;
	int before, n;

	n = snprintf(needle, sizeof(needle), "stats: %s ", last);
	ck_assert(n > 0 && (size_t)n < sizeof(needle));
	before = daemon_log_count(d, needle);
	ck_assert_int_ge(before, 0);
	ck_assert_int_eq(kill(daemon_pid(d), SIGUSR1), 0);
	while (daemon_log_count(d, needle) <= before) {
		ck_assert_msg(tclock_now_ms() < deadline,
		    "no \"%s\" after SIGUSR1", needle);
		tclock_sleep_ms(5);
	}
	log = itest_read_log(d);
	for (p = log; (p = strstr(p, "stats: accepted ")) != NULL; p++)
		start = p;
	ck_assert_ptr_nonnull(start);
	report = strdup(start);
	ck_assert_ptr_nonnull(report);
	free(log);
	return report;
}

unsigned long long
itest_stats_value(const char *report, const char *name)
{
	char needle[128], *end;
	const char *p;
	unsigned long long v;
	int n;

	n = snprintf(needle, sizeof(needle), "stats: %s ", name);
	ck_assert(n > 0 && (size_t)n < sizeof(needle));
	p = strstr(report, needle);
	ck_assert_msg(p != NULL, "no \"%s\" in the stats report", needle);
	p += strlen(needle);
	errno = 0;
	v = strtoull(p, &end, 10);
	ck_assert_msg(end != p && errno == 0 && (*end == '\n' || *end == '\0'),
	    "bad value for %s", name);
	return v;
}

long long
itest_counter(struct daemon_proc *d, const char *name, int timeout_ms)
{
	char *report = itest_stats(d, name, timeout_ms);
	unsigned long long v = itest_stats_value(report, name);

	free(report);
	return (long long)v;
}

void
itest_wait_counter(struct daemon_proc *d, const char *name, long long want,
    int timeout_ms, int wait_ms)
{
	int64_t deadline = tclock_now_ms() + wait_ms;
	long long v;

	while ((v = itest_counter(d, name, timeout_ms)) != want) {
		ck_assert_msg(tclock_now_ms() < deadline,
		    "%s is %lld, expected %lld", name, v, want);
		tclock_sleep_ms(50);
	}
}

int
itest_run(const char *const *args, const char *conf, char *out,
    size_t outlen, int timeout_ms)
{
	int status = -1;

	ck_assert_int_eq(daemon_run(args, conf, out, outlen, &status,
	    timeout_ms), 0);
	ck_assert_msg(WIFEXITED(status), "wait status 0x%x; output:\n%s",
	    status, out);
	return WEXITSTATUS(status);
}
