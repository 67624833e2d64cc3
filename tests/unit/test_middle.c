/*
 * fetch against the test HTTP server (exact bodies, status, size cap,
 * redirects, refused protocols, an unreachable port, a listener that never
 * answers), then the middle-proxy configuration: from files, from URLs with
 * the last good copies written to state_dir, a restart that falls back to
 * them, refresh rounds that swap a changed configuration while an old
 * snapshot stays valid, bad answers that keep the current one, the
 * refresher thread's own round and a prompt middle_free. Loopback only;
 * every wait is bounded.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckmain.h"
#include "config.h"
#include "fetch.h"
#include "httpd.h"
#include "itest.h"
#include "log.h"
#include "middle.h"
#include "tclock.h"
#include "tfile.h"

#define SECRET_PATH	"/getProxySecret"
#define CONF_PATH	"/getProxyConfig"
#define CONF6_PATH	"/getProxyConfigV6"
#define SECRET_BYTES	128
#define ERR_MAX		512
#define KIB		1024

/* Shaped like Telegram's (doc/PROTOCOL.md 4.1), pointing at loopback. */
/* The counters middle_new is given, as the server gives its own. */
static struct stats_middle counters;

static const char conf1[] =
    "# force_probability 10 10\n"
    "default 2;\n"
    "proxy_for 1 127.0.0.1:8888;\n"
    "proxy_for -1 127.0.0.1:8888;\n"
    "proxy_for 2 127.0.0.2:8888;\n"
    "proxy_for -2 127.0.0.2:8888;\n"
    "proxy_for 3 127.0.0.3:8888;\n"
    "proxy_for 4 127.0.0.4:8888;   # DC4 has several lines\n"
    "proxy_for 4 127.0.0.5:8888;\n"
    "proxy_for 203 127.0.0.6:443;\n";
#define CONF1_TARGETS	8

/* conf1 with a third middle-end for DC 4. */
static const char conf2[] =
    "# force_probability 10 10\n"
    "default 2;\n"
    "proxy_for 1 127.0.0.1:8888;\n"
    "proxy_for -1 127.0.0.1:8888;\n"
    "proxy_for 2 127.0.0.2:8888;\n"
    "proxy_for -2 127.0.0.2:8888;\n"
    "proxy_for 3 127.0.0.3:8888;\n"
    "proxy_for 4 127.0.0.4:8888;\n"
    "proxy_for 4 127.0.0.5:8888;\n"
    "proxy_for 4 127.0.0.7:8888;\n"
    "proxy_for 203 127.0.0.6:443;\n";
#define CONF2_TARGETS	9

static const char conf6[] =
    "default 2;\n"
    "proxy_for 1 [::1]:8888;\n"
    "proxy_for 2 [::1]:8889;\n";
#define CONF6_TARGETS	2

/* ---- helpers ---- */

static void
setup(void)
{
	ck_assert_int_eq(fetch_global_init(), 0);
}

/* libcurl's global state would otherwise show up as LSan leaks. */
static void
teardown(void)
{
	fetch_global_cleanup();
}

static void
make_secret(uint8_t *s, size_t len, uint8_t salt)
{
	size_t i;

	for (i = 0; i < len; i++)
		s[i] = (uint8_t)(i * 7 + salt);
	s[5] = 0;		/* binary: a NUL must survive */
}

static void
url(char *out, size_t len, const struct httpd *h, const char *path)
{
	snprintf(out, len, "http://127.0.0.1:%u%s", (unsigned)httpd_port(h),
	    path);
}

static void
make_tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/mtproxyd-middle-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* 1 if dir/name holds exactly p[0..len), 0 if not, -1 if missing. */
static int
file_is(const char *dir, const char *name, const void *p, size_t len)
{
	char path[PATH_MAX];
	uint8_t buf[4 * KIB];
	size_t n;
	FILE *f;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
	    (int)sizeof(path));
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return n == len && memcmp(buf, p, len) == 0;
}

static mode_t
file_mode(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
	    (int)sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 0777;
}

/* A loopback port with nobody listening. */
static uint16_t
closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* A listener that never accepts: connects succeed, answers never come. */
static int
blackhole(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* URLs at h, state in dir/state, no files, no timed refresh. */
static void
cfg_urls(struct config *cfg, const struct httpd *h, const char *dir)
{
	config_defaults(cfg);
	url(cfg->proxy_secret_url, sizeof(cfg->proxy_secret_url), h,
	    SECRET_PATH);
	url(cfg->proxy_config_url, sizeof(cfg->proxy_config_url), h,
	    CONF_PATH);
	url(cfg->proxy_config_v6_url, sizeof(cfg->proxy_config_v6_url), h,
	    CONF6_PATH);
	cfg->proxy_secret_file[0] = '\0';
	cfg->proxy_config_file[0] = '\0';
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s/state", dir);
	cfg->refresh_interval = 0;
}

static void
serve_all(struct httpd *h, const uint8_t *secret, const char *conf)
{
	ck_assert_int_eq(httpd_set(h, SECRET_PATH, secret, SECRET_BYTES, 200),
	    0);
	ck_assert_int_eq(httpd_set(h, CONF_PATH, conf, strlen(conf), 200), 0);
	ck_assert_int_eq(httpd_set(h, CONF6_PATH, conf6, strlen(conf6), 200),
	    0);
}

static void
fail_all(struct httpd *h)
{
	ck_assert_int_eq(httpd_set(h, SECRET_PATH, "no", 2, 500), 0);
	ck_assert_int_eq(httpd_set(h, CONF_PATH, "no", 2, 500), 0);
	ck_assert_int_eq(httpd_set(h, CONF6_PATH, "no", 2, 500), 0);
}

static void
check_snapshot(struct middle *m, uint64_t gen, const uint8_t *secret,
    size_t v4_targets, size_t v6_targets)
{
	struct middle_snapshot *s = middle_get(m);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->generation, gen);
	ck_assert_uint_eq(s->secret_len, SECRET_BYTES);
	ck_assert_mem_eq(s->secret, secret, SECRET_BYTES);
	ck_assert_ptr_nonnull(s->v4);
	ck_assert_uint_eq(s->v4->ntargets, v4_targets);
	if (v6_targets == 0)
		ck_assert_ptr_null(s->v6);
	else {
		ck_assert_ptr_nonnull(s->v6);
		ck_assert_uint_eq(s->v6->ntargets, v6_targets);
	}
	middle_put(s);
}

/* ---- fetch ---- */

START_TEST(fetch_exact_body)
{
	struct httpd *h;
	uint8_t secret[SECRET_BYTES], *out;
	char u[256], err[ERR_MAX], head[HTTPD_HEAD_MAX];
	size_t len;

	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	ck_assert_int_eq(httpd_set(h, SECRET_PATH, secret, sizeof(secret),
	    200), 0);
	ck_assert_int_eq(httpd_set(h, "/empty", NULL, 0, 200), 0);
	url(u, sizeof(u), h, SECRET_PATH);
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(len, sizeof(secret));
	ck_assert_mem_eq(out, secret, sizeof(secret));
	free(out);
	ck_assert_uint_eq(httpd_requests(h, SECRET_PATH), 1);
	httpd_last(h, head, sizeof(head));
	ck_assert_ptr_nonnull(strstr(head, "GET " SECRET_PATH " HTTP/1."));
	ck_assert_ptr_nonnull(strstr(head,
	    "\r\nUser-Agent: mtproxyd/" PACKAGE_VERSION));

	/* A body exactly at the cap is whole. */
	ck_assert_int_eq(fetch_url(u, sizeof(secret), 5, &out, &len, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(len, sizeof(secret));
	ck_assert_mem_eq(out, secret, sizeof(secret));
	free(out);

	url(u, sizeof(u), h, "/empty");
	out = NULL;
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 0);
	free(out);
	httpd_stop(h);
}
END_TEST

START_TEST(fetch_status)
{
	struct httpd *h;
	uint8_t *out = NULL;
	char u[256], err[ERR_MAX], want[ERR_MAX];
	static char big[8 * KIB];
	size_t len;

	ck_assert_int_eq(httpd_start(&h), 0);
	url(u, sizeof(u), h, "/missing");
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), FETCH_ERR_STATUS);
	ck_assert_ptr_null(out);
	snprintf(want, sizeof(want), "fetch %s: HTTP status 404", u);
	ck_assert_str_eq(err, want);

	/* The status wins over a body too large for the cap. */
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(httpd_set(h, "/broken", big, sizeof(big), 500), 0);
	url(u, sizeof(u), h, "/broken");
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), FETCH_ERR_STATUS);
	snprintf(want, sizeof(want), "fetch %s: HTTP status 500", u);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(httpd_requests(h, "/broken"), 1);
	httpd_stop(h);
}
END_TEST

START_TEST(fetch_size_cap)
{
	struct httpd *h;
	uint8_t *out = NULL;
	char u[256], err[ERR_MAX], want[ERR_MAX];
	static char conf[KIB * KIB + 1];
	size_t len;

	memset(conf, '#', sizeof(conf));
	ck_assert_int_eq(httpd_start(&h), 0);
	ck_assert_int_eq(httpd_set(h, CONF_PATH, conf, sizeof(conf), 200), 0);
	url(u, sizeof(u), h, CONF_PATH);
	ck_assert_int_eq(fetch_url(u, KIB * KIB, 5, &out, &len, err,
	    sizeof(err)), FETCH_ERR_SIZE);
	ck_assert_ptr_null(out);
	snprintf(want, sizeof(want), "fetch %s: body over %d bytes", u,
	    KIB * KIB);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(fetch_url(u, KIB * KIB + 1, 5, &out, &len, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(len, sizeof(conf));
	ck_assert_mem_eq(out, conf, sizeof(conf));
	free(out);
	httpd_stop(h);
}
END_TEST

START_TEST(fetch_redirects)
{
	struct httpd *h;
	uint8_t *out = NULL;
	char u[256], err[ERR_MAX], to[256];
	size_t len;
	int i;

	ck_assert_int_eq(httpd_start(&h), 0);
	ck_assert_int_eq(httpd_set(h, "/data", "abc", 3, 200), 0);
	/* /r1 -> /r2 -> /r3 -> /data: three redirects, the most we follow. */
	for (i = 1; i <= 3; i++) {
		snprintf(u, sizeof(u), "/r%d", i);
		snprintf(to, sizeof(to), i < 3 ? "/r%d" : "/data", i + 1);
		ck_assert_int_eq(httpd_redirect(h, u, to), 0);
	}
	url(u, sizeof(u), h, "/r1");
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(out, "abc", 3);
	free(out);
	out = NULL;
	ck_assert_uint_eq(httpd_requests(h, "/data"), 1);

	/* /r0 -> /r1 -> ...: four are too many; /data is not asked again. */
	ck_assert_int_eq(httpd_redirect(h, "/r0", "/r1"), 0);
	url(u, sizeof(u), h, "/r0");
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), FETCH_ERR);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(httpd_requests(h, "/data"), 1);
	ck_assert_uint_eq(httpd_requests(h, "/r3"), 2);
	ck_assert_ptr_nonnull(strstr(err, "redirect"));

	/* Only http and https, also after a redirect. */
	ck_assert_int_eq(httpd_redirect(h, "/file", "file:///etc/passwd"), 0);
	url(u, sizeof(u), h, "/file");
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), FETCH_ERR);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(fetch_url("file:///etc/passwd", 4 * KIB, 5, &out,
	    &len, err, sizeof(err)), FETCH_ERR);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(strncmp(err, "fetch file:///etc/passwd: ", 26), 0);
	httpd_stop(h);
}
END_TEST

START_TEST(fetch_unreachable)
{
	uint8_t *out = NULL;
	char u[256], err[ERR_MAX], want[ERR_MAX];
	size_t len;

	snprintf(u, sizeof(u), "http://127.0.0.1:%u/getProxySecret",
	    (unsigned)closed_port());
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 5, &out, &len, err,
	    sizeof(err)), FETCH_ERR);
	ck_assert_ptr_null(out);
	snprintf(want, sizeof(want), "fetch %s: ", u);
	ck_assert_int_eq(strncmp(err, want, strlen(want)), 0);
	ck_assert_uint_gt(strlen(err), strlen(want));
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(fetch_timeout)
{
	uint8_t *out = NULL;
	char u[256], err[ERR_MAX];
	uint16_t port;
	int64_t t0, took;
	size_t len;
	int fd = blackhole(&port);

	snprintf(u, sizeof(u), "http://127.0.0.1:%u/getProxyConfig",
	    (unsigned)port);
	t0 = tclock_now_ms();
	ck_assert_int_eq(fetch_url(u, 4 * KIB, 1, &out, &len, err,
	    sizeof(err)), FETCH_ERR);
	took = tclock_now_ms() - t0;
	ck_assert_int_ge(took, 900);
	ck_assert_int_lt(took, 2000);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "timed out"));
	close(fd);
}
END_TEST

/* ---- middle: the first load ---- */

START_TEST(middle_from_files)
{
	struct httpd *h;
	struct middle *m;
	struct config cfg;
	uint8_t secret[SECRET_BYTES];
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	itest_write_file(dir, "secret", secret, sizeof(secret));
	itest_write_file(dir, "multi.conf", conf1, strlen(conf1));
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf2);
	cfg_urls(&cfg, h, dir);
	snprintf(cfg.proxy_secret_file, sizeof(cfg.proxy_secret_file),
	    "%s/secret", dir);
	snprintf(cfg.proxy_config_file, sizeof(cfg.proxy_config_file),
	    "%s/multi.conf", dir);

	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	/* Files are the whole truth: nothing fetched, not even IPv6. */
	check_snapshot(m, 1, secret, CONF1_TARGETS, 0);
	ck_assert_uint_eq(httpd_requests(h, SECRET_PATH), 0);
	ck_assert_uint_eq(httpd_requests(h, CONF_PATH), 0);
	ck_assert_uint_eq(httpd_requests(h, CONF6_PATH), 0);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-secret", secret,
	    sizeof(secret)), -1);
	middle_free(m);

	/* A file that is not there is fatal, whatever the URLs could do. */
	snprintf(cfg.proxy_config_file, sizeof(cfg.proxy_config_file),
	    "%s/nonexistent.conf", dir);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), MIDDLE_ERR);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

START_TEST(middle_from_urls)
{
	struct httpd *h;
	struct middle *m;
	struct config cfg;
	uint8_t secret[SECRET_BYTES];
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf1);
	cfg_urls(&cfg, h, dir);

	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	check_snapshot(m, 1, secret, CONF1_TARGETS, CONF6_TARGETS);
	ck_assert_uint_eq(httpd_requests(h, SECRET_PATH), 1);
	ck_assert_uint_eq(httpd_requests(h, CONF_PATH), 1);
	ck_assert_uint_eq(httpd_requests(h, CONF6_PATH), 1);
	/* state_dir did not exist: made, and the copies kept in it. */
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-secret", secret,
	    sizeof(secret)), 1);
	ck_assert_int_eq(file_mode(cfg.state_dir, "proxy-secret"), 0600);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-multi.conf", conf1,
	    strlen(conf1)), 1);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-multi-v6.conf", conf6,
	    strlen(conf6)), 1);
	middle_free(m);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

START_TEST(middle_restart_uses_state)
{
	struct httpd *h;
	struct middle *m;
	struct config cfg;
	uint8_t secret[SECRET_BYTES];
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf1);
	cfg_urls(&cfg, h, dir);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	middle_free(m);

	fail_all(h);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	check_snapshot(m, 1, secret, CONF1_TARGETS, CONF6_TARGETS);
	ck_assert_uint_eq(httpd_requests(h, CONF_PATH), 2);
	middle_free(m);

	/* No IPv6 list anywhere is a warning, not a failure. */
	serve_all(h, secret, conf1);
	ck_assert_int_eq(httpd_set(h, CONF6_PATH, "x", 1, 404), 0);
	ck_assert_int_eq(tfile_rm_tree(cfg.state_dir), 0);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	check_snapshot(m, 1, secret, CONF1_TARGETS, 0);
	middle_free(m);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

START_TEST(middle_nothing_usable)
{
	struct httpd *h;
	struct middle *m = NULL;
	struct config cfg;
	uint8_t secret[SECRET_BYTES];
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	cfg_urls(&cfg, h, dir);

	/* Failing URLs and no copies. */
	fail_all(h);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), MIDDLE_ERR);
	ck_assert_ptr_null(m);

	/* A good config but a 10-byte secret, and a copy as bad. */
	serve_all(h, secret, conf1);
	ck_assert_int_eq(httpd_set(h, SECRET_PATH, secret, 10, 200), 0);
	ck_assert_int_eq(mkdir(cfg.state_dir, 0700), 0);
	itest_write_file(cfg.state_dir, "proxy-secret", "0123456789", 10);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), MIDDLE_ERR);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-secret", "0123456789",
	    10), 1);

	/* A config listing no middle proxy at all. */
	serve_all(h, secret, "default 2;\n");
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), MIDDLE_ERR);
	ck_assert_ptr_null(m);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

/* ---- middle: refresh rounds ---- */

struct changes {
	atomic_int calls;
	atomic_ullong generation;	/* seen by the last call */
	struct middle *m;
};

static void
on_change(void *arg)
{
	struct changes *c = arg;
	struct middle_snapshot *s = middle_get(c->m);

	atomic_store(&c->generation, s->generation);
	middle_put(s);
	atomic_fetch_add(&c->calls, 1);
}

START_TEST(middle_refresh_swaps)
{
	struct httpd *h;
	struct middle *m;
	struct middle_snapshot *old, *s;
	struct config cfg;
	struct changes ch;
	uint8_t secret[SECRET_BYTES], secret2[SECRET_BYTES];
	unsigned long long refreshes, failures;
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	make_secret(secret2, sizeof(secret2), 99);
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf1);
	cfg_urls(&cfg, h, dir);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	memset(&ch, 0, sizeof(ch));
	ch.m = m;
	middle_on_change(m, on_change, &ch);
	refreshes = atomic_load(&counters.refreshes);
	failures = atomic_load(&counters.refresh_failures);

	/* Unchanged: nothing happens. */
	ck_assert_int_eq(middle_refresh(m), 0);
	ck_assert_int_eq(atomic_load(&ch.calls), 0);
	check_snapshot(m, 1, secret, CONF1_TARGETS, CONF6_TARGETS);
	ck_assert_uint_eq(httpd_requests(h, CONF_PATH), 2);

	old = middle_get(m);
	serve_all(h, secret, conf2);
	ck_assert_int_eq(middle_refresh(m), 0);
	ck_assert_int_eq(atomic_load(&ch.calls), 1);
	ck_assert_uint_eq(atomic_load(&ch.generation), 2);
	ck_assert_uint_eq(atomic_load(&counters.refreshes),
	    refreshes + 1);
	check_snapshot(m, 2, secret, CONF2_TARGETS, CONF6_TARGETS);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-multi.conf", conf2,
	    strlen(conf2)), 1);
	/* The old snapshot is whole until put. */
	ck_assert_uint_eq(old->generation, 1);
	ck_assert_uint_eq(old->v4->ntargets, CONF1_TARGETS);
	ck_assert_mem_eq(old->secret, secret, SECRET_BYTES);
	middle_put(old);

	/* A new secret alone is a change too. */
	serve_all(h, secret2, conf2);
	ck_assert_int_eq(middle_refresh(m), 0);
	ck_assert_int_eq(atomic_load(&ch.calls), 2);
	check_snapshot(m, 3, secret2, CONF2_TARGETS, CONF6_TARGETS);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-secret", secret2,
	    sizeof(secret2)), 1);
	ck_assert_uint_eq(atomic_load(&counters.refreshes),
	    refreshes + 2);
	ck_assert_uint_eq(atomic_load(&counters.refresh_failures),
	    failures);

	/* A snapshot may outlive the whole module. */
	s = middle_get(m);
	middle_free(m);
	ck_assert_uint_eq(s->generation, 3);
	ck_assert_uint_eq(s->v6->ntargets, CONF6_TARGETS);
	middle_put(s);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

START_TEST(middle_refresh_bad_answers)
{
	static const struct {
		const char *path;
		const char *body;
		int status;
	} bad[] = {
		{ CONF_PATH, "<html>garbage</html>", 200 },
		{ CONF_PATH, "", 200 },
		{ CONF_PATH, "proxy_for 1 127.0.0.1:8888\n", 200 },
		/* A cluster must be consecutive lines. */
		{ CONF_PATH, "proxy_for 1 127.0.0.1:8888;\n"
		    "proxy_for 2 127.0.0.2:8888;\n"
		    "proxy_for 1 127.0.0.3:8888;\n", 200 },
		{ CONF_PATH, "x", 404 },
		{ SECRET_PATH, "0123456789", 200 },
		{ SECRET_PATH, "", 200 },
		{ CONF6_PATH, "nonsense", 200 },
	};
	struct httpd *h;
	struct middle *m;
	struct middle_snapshot *before, *s;
	struct config cfg;
	struct changes ch;
	uint8_t secret[SECRET_BYTES];
	unsigned long long refreshes, failures;
	char dir[64];
	size_t i;

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf1);
	cfg_urls(&cfg, h, dir);
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	memset(&ch, 0, sizeof(ch));
	ch.m = m;
	middle_on_change(m, on_change, &ch);
	before = middle_get(m);
	refreshes = atomic_load(&counters.refreshes);
	failures = atomic_load(&counters.refresh_failures);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve_all(h, secret, conf1);
		ck_assert_int_eq(httpd_set(h, bad[i].path, bad[i].body,
		    strlen(bad[i].body), bad[i].status), 0);
		ck_assert_int_eq(middle_refresh(m), MIDDLE_ERR);
		ck_assert_uint_eq(atomic_load(&counters.refresh_failures),
		    failures + i + 1);
		s = middle_get(m);
		ck_assert_ptr_eq(s, before);
		middle_put(s);
	}
	ck_assert_int_eq(atomic_load(&ch.calls), 0);
	ck_assert_uint_eq(atomic_load(&counters.refreshes), refreshes);
	check_snapshot(m, 1, secret, CONF1_TARGETS, CONF6_TARGETS);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-secret", secret,
	    sizeof(secret)), 1);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-multi.conf", conf1,
	    strlen(conf1)), 1);
	ck_assert_int_eq(file_is(cfg.state_dir, "proxy-multi-v6.conf", conf6,
	    strlen(conf6)), 1);

	/* A good item in a round where another fails still comes in. */
	serve_all(h, secret, conf2);
	ck_assert_int_eq(httpd_set(h, SECRET_PATH, "short", 5, 200), 0);
	ck_assert_int_eq(middle_refresh(m), MIDDLE_ERR);
	check_snapshot(m, 2, secret, CONF2_TARGETS, CONF6_TARGETS);
	ck_assert_int_eq(atomic_load(&ch.calls), 1);
	middle_put(before);
	middle_free(m);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

START_TEST(middle_refresh_files)
{
	struct middle *m;
	struct config cfg;
	uint8_t secret[SECRET_BYTES], big[RPC_SECRET_MAX + 1];
	unsigned long long failures;
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	make_secret(big, sizeof(big), 5);
	itest_write_file(dir, "secret", secret, sizeof(secret));
	itest_write_file(dir, "multi.conf", conf1, strlen(conf1));
	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/state", dir);
	snprintf(cfg.proxy_secret_file, sizeof(cfg.proxy_secret_file),
	    "%s/secret", dir);
	snprintf(cfg.proxy_config_file, sizeof(cfg.proxy_config_file),
	    "%s/multi.conf", dir);
	cfg.refresh_interval = 0;
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	failures = atomic_load(&counters.refresh_failures);

	itest_write_file(dir, "multi.conf", conf2, strlen(conf2));
	ck_assert_int_eq(middle_refresh(m), 0);
	check_snapshot(m, 2, secret, CONF2_TARGETS, 0);

	itest_write_file(dir, "multi.conf", "proxy_for x;", 12);
	ck_assert_int_eq(middle_refresh(m), MIDDLE_ERR);
	itest_write_file(dir, "multi.conf", conf2, strlen(conf2));
	itest_write_file(dir, "secret", big, sizeof(big));
	ck_assert_int_eq(middle_refresh(m), MIDDLE_ERR);
	ck_assert_uint_eq(atomic_load(&counters.refresh_failures),
	    failures + 2);
	check_snapshot(m, 2, secret, CONF2_TARGETS, 0);
	middle_free(m);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

/* ---- middle: the refresher thread ---- */

START_TEST(middle_refresher_thread)
{
	struct httpd *h;
	struct middle *m;
	struct config cfg;
	struct changes ch;
	uint8_t secret[SECRET_BYTES];
	char dir[64];
	int64_t deadline;

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf1);
	cfg_urls(&cfg, h, dir);
	cfg.refresh_interval = 1;
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	memset(&ch, 0, sizeof(ch));
	ch.m = m;
	middle_on_change(m, on_change, &ch);
	serve_all(h, secret, conf2);
	deadline = tclock_now_ms() + 5000;
	while (atomic_load(&ch.calls) == 0 && tclock_now_ms() < deadline)
		tclock_sleep_ms(20);
	ck_assert_int_eq(atomic_load(&ch.calls), 1);
	ck_assert_uint_eq(atomic_load(&ch.generation), 2);
	check_snapshot(m, 2, secret, CONF2_TARGETS, CONF6_TARGETS);
	middle_free(m);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

START_TEST(middle_free_is_prompt)
{
	struct httpd *h;
	struct middle *m;
	struct config cfg;
	uint8_t secret[SECRET_BYTES];
	char dir[64];
	int64_t t0;

	make_tmpdir(dir, sizeof(dir));
	make_secret(secret, sizeof(secret), 3);
	ck_assert_int_eq(httpd_start(&h), 0);
	serve_all(h, secret, conf1);
	cfg_urls(&cfg, h, dir);
	cfg.refresh_interval = 3600;
	ck_assert_int_eq(middle_new(&cfg, &counters, &m), 0);
	tclock_sleep_ms(100);
	t0 = tclock_now_ms();
	middle_free(m);
	ck_assert_int_lt(tclock_now_ms() - t0, 1000);
	/* Only the first load fetched. */
	ck_assert_uint_eq(httpd_requests(h, CONF_PATH), 1);
	httpd_stop(h);
	ck_assert_int_eq(tfile_rm_tree(dir), 0);
}
END_TEST

static Suite *
middle_suite(void)
{
	Suite *s = suite_create("middle");
	TCase *fetch = tcase_create("fetch");
	TCase *load = tcase_create("load");
	TCase *refresh = tcase_create("refresh");

	tcase_add_checked_fixture(fetch, setup, teardown);
	tcase_add_checked_fixture(load, setup, teardown);
	tcase_add_checked_fixture(refresh, setup, teardown);
	tcase_add_test(fetch, fetch_exact_body);
	tcase_add_test(fetch, fetch_status);
	tcase_add_test(fetch, fetch_size_cap);
	tcase_add_test(fetch, fetch_redirects);
	tcase_add_test(fetch, fetch_unreachable);
	tcase_add_test(fetch, fetch_timeout);
	tcase_add_test(load, middle_from_files);
	tcase_add_test(load, middle_from_urls);
	tcase_add_test(load, middle_restart_uses_state);
	tcase_add_test(load, middle_nothing_usable);
	tcase_add_test(refresh, middle_refresh_swaps);
	tcase_add_test(refresh, middle_refresh_bad_answers);
	tcase_add_test(refresh, middle_refresh_files);
	tcase_add_test(refresh, middle_refresher_thread);
	tcase_add_test(refresh, middle_free_is_prompt);
	tcase_set_timeout(fetch, 30);
	tcase_set_timeout(load, 30);
	tcase_set_timeout(refresh, 30);
	suite_add_tcase(s, fetch);
	suite_add_tcase(s, load);
	suite_add_tcase(s, refresh);
	return s;
}

Suite *
ckmain_suite(void)
{
	/* middle logs each configuration it loads at info: the test log keeps
	 * only warnings. */
	log_set_level(LOGL_WARN);
	return middle_suite();
}
