/*
 * /metrics through a real Prometheus parser. See mscrape.h.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "itest.h"
#include "mscrape.h"
#include "net.h"
#include "tclock.h"

#define CMD_MAX		(PATH_MAX + 1024)

/*
 * Every sample as "name|label=value|... value", labels sorted, so that
 * the test reads what the parser understood, not the raw text.
 */
static const char parser_py[] =
    "import sys\n"
    "from prometheus_client.parser import text_string_to_metric_families\n"
    "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
    "    for s in f.samples:\n"
    "        l = ''.join('|%s=%s' % kv for kv in sorted(s.labels.items()))\n"
    "        print('%s%s %d' % (s.name, l, s.value))\n";

const char *
mscrape_python(void)
{
	static const char *const pythons[] = { "python3", "/usr/bin/python3" };
	char cmd[128];
	size_t i;

	for (i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import prometheus_client."
		    "parser' >/dev/null 2>&1", pythons[i]);
		if (system(cmd) == 0)
			return pythons[i];
	}
	return NULL;
}

const char *
mscrape_python_or_skip(void)
{
	const char *python = mscrape_python();

	if (python == NULL)
		itest_skip("no python3 with prometheus_client: install "
		    "python3-prometheus-client");
	return python;
}

uint16_t
mscrape_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

int
mscrape_get(const char *src, uint16_t port, const char *path, char **body)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct sockaddr_in to = { .sin_family = AF_INET };
	char req[256], *resp, *start;
	int fd, status = 0;

	ck_assert_int_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	ck_assert_int_eq(net_set_timeouts(fd, ITEST_IO_MS, ITEST_IO_MS), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	ck_assert_int_eq(net_write_full(fd, req, strlen(req)), 0);
	resp = itest_read_fd(fd);
	close(fd);
	ck_assert_int_eq(sscanf(resp, "HTTP/1.%*d %d", &status), 1);
	start = strstr(resp, "\r\n\r\n");
	ck_assert_ptr_nonnull(start);
	if (body != NULL) {
		*body = strdup(start + 4);
		ck_assert_ptr_nonnull(*body);
	}
	free(resp);
	return status;
}

char *
mscrape(struct daemon_proc *d, uint16_t port, const char *python)
{
	char path[PATH_MAX], cmd[CMD_MAX], *body, *out;
	FILE *fp, *p;

	ck_assert_int_eq(mscrape_get("127.0.0.1", port, "/metrics", &body), 200);
	snprintf(path, sizeof(path), "%s/metrics.txt", daemon_dir(d));
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(body, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	free(body);
	snprintf(cmd, sizeof(cmd), "%s -c \"$PARSER\" '%s'", python, path);
	ck_assert_int_eq(setenv("PARSER", parser_py, 1), 0);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	out = itest_read_fd(fileno(p));
	ck_assert_msg(pclose(p) == 0, "the parser refused %s:\n%s", path, out);
	return out;
}

unsigned long long
mscrape_sample(const char *samples, const char *key)
{
	char want[256];
	const char *p = samples;
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "%s ", key);
	for (; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, want, n) == 0)
			return strtoull(p + n, NULL, 10);
	}
	ck_abort_msg("no sample %s in:\n%s", key, samples);
	return 0;
}

char *
mscrape_until(struct daemon_proc *d, uint16_t port, const char *python,
    const char *key, unsigned long long want)
{
	int64_t deadline = tclock_now_ms() + ITEST_IO_MS;
	char *s;

	for (;;) {
		s = mscrape(d, port, python);
		if (mscrape_sample(s, key) == want)
			return s;
		ck_assert_msg(tclock_now_ms() < deadline, "%s stayed %llu, "
		    "expected %llu", key, mscrape_sample(s, key), want);
		free(s);
		tclock_sleep_ms(50);
	}
}
