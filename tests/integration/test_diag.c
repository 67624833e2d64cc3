/*
 * Diagnostics of the real mtproxyd ($MTPROXYD_BIN): `mtproxyd check`
 * against loopback fakes (fake DCs and a closed port, the harness httpd
 * for the clock and the middle-proxy configuration, openssl s_server and
 * a canned post-quantum ServerHello for the cover site, a lowered
 * descriptor limit), `mtproxyd link` with QR codes decoded by zbarimg, the
 * start's warnings, print_links = no, and a failed start's one line.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bytes.h"
#include "capacity.h"
#include "ckmain.h"
#include "cover.h"
#include "daemon.h"
#include "faketls.h"
#include "fakedc.h"
#include "httpd.h"
#include "itest.h"
#include "qrtext.h"
#include "tclock.h"
#include "tfile.h"

#define RUN_MS		60000
#define OUT_MAX		65536
#define CONF_MAX	4096

#define CAROL_HEX	"8e1d0c7a55b2f3946e0a1b2c3d4e5f60"
#define DAVE_HEX	"a7c3e19b04d25f6812ab34cd56ef7890"
#define SAMPLE_HEX	"0123456789abcdef0123456789abcdef"
#define ZERO_HEX	"00000000000000000000000000000000"

static int
run(const char *const *args, const char *conf, char *out)
{
	return itest_run(args, conf, out, OUT_MAX, RUN_MS);
}

/* The line that starts with prefix and holds needle, or NULL. */
static const char *
line_with(const char *out, const char *prefix, const char *needle)
{
	const char *p = out, *end;

	for (; *p != '\0'; p = *end == '\n' ? end + 1 : end) {
		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if (strncmp(p, prefix, strlen(prefix)) != 0)
			continue;
		if (memmem(p, (size_t)(end - p), needle, strlen(needle)) != NULL)
			return p;
	}
	return NULL;
}

static void
assert_line(const char *out, const char *prefix, const char *needle)
{
	ck_assert_msg(line_with(out, prefix, needle) != NULL,
	    "no line '%s...%s' in:\n%s", prefix, needle, out);
}

static int
count(const char *out, const char *needle)
{
	const char *p = out;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* [dc] with every built-in id on loopback: DC 1 also at a closed port. */
static void
dc_lines(char *buf, size_t cap, unsigned dc, unsigned closed, int dc2_dead)
{
	int n = snprintf(buf, cap,
	    "[dc]\n1 = 127.0.0.1:%u, 127.0.0.1:%u\n2 = 127.0.0.1:%u\n"
	    "3 = 127.0.0.1:%u\n4 = 127.0.0.1:%u\n5 = 127.0.0.1:%u\n",
	    dc, closed, dc2_dead ? closed : dc, dc, dc, dc);

	ck_assert(n > 0 && (size_t)n < cap);
}

static void
direct_conf(char *conf, const char *server_extra, const char *dcs)
{
	int n = snprintf(conf, CONF_MAX,
	    "[server]\nport = 8443\nstate_dir = @DIR@\nconnect_timeout = 2\n"
	    "%s[users]\ncarol = " CAROL_HEX "\n%s", server_extra, dcs);

	ck_assert(n > 0 && n < CONF_MAX);
}

START_TEST(check_dcs_and_clock)
{
	static const char *const args[] = { "check", NULL };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct httpd *h = NULL;
	char *out = malloc(OUT_MAX), conf[CONF_MAX], extra[256], dcs[512];
	char want[64];
	uint16_t closed;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(fakedc_closed_port(AF_INET, &closed), 0);
	ck_assert_int_eq(httpd_start(&h), 0);
	ck_assert_int_eq(httpd_set(h, "/", "hi", 2, 200), 0);
	snprintf(extra, sizeof(extra), "clock_url = http://127.0.0.1:%u/\n",
	    (unsigned)httpd_port(h));
	dc_lines(dcs, sizeof(dcs), fakedc_port(dc), closed, 1);
	direct_conf(conf, extra, dcs);
	ck_assert_int_eq(run(args, conf, out), 2);
	assert_line(out, "ok   config: ", "1 user(s), direct mode, port 8443");
	assert_line(out, "ok   secret: ", "no sample secret");
	assert_line(out, "ok   clock: ", "within ");
	ck_assert_uint_eq(httpd_requests(h, "/"), 1);
	snprintf(want, sizeof(want), "127.0.0.1:%u connected in ",
	    (unsigned)fakedc_port(dc));
	assert_line(out, "ok   dc 1: ", want);
	assert_line(out, "ok   dc 5: ", want);
	snprintf(want, sizeof(want), "127.0.0.1:%u: Connection refused",
	    (unsigned)closed);
	/* DC 1's other address works; DC 2 has none. */
	assert_line(out, "warn dc 1: ", want);
	assert_line(out, "fail dc 2: ", want);
	assert_line(out, "fail dc 2: ", "check the firewall");
	ck_assert_int_eq(count(out, " dc "), 6);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_ACCEPTED, 4, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), 4);
	ck_assert_ptr_null(strstr(out, "cover"));
	assert_line(out, "", "limits: ");

	/* Every DC answers: nothing fails, the exit says so. */
	dc_lines(dcs, sizeof(dcs), fakedc_port(dc), fakedc_port(dc), 0);
	direct_conf(conf, extra, dcs);
	ck_assert_int_lt(run(args, conf, out), 2);
	ck_assert_ptr_null(strstr(out, "fail "));
	httpd_stop(h);
	fakedc_stop(dc);
	free(out);
}
END_TEST

/* A clock 120 s behind the Date, and a clock URL nothing answers. */
START_TEST(check_clock_skew_and_unreachable)
{
	static const char *const args[] = { "check", NULL };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct httpd *h = NULL;
	char *out = malloc(OUT_MAX), conf[CONF_MAX], extra[256], dcs[512];
	const char *l;
	long long off;
	uint16_t closed;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(httpd_start(&h), 0);
	httpd_date_offset(h, 120);
	snprintf(extra, sizeof(extra), "clock_url = http://127.0.0.1:%u/x\n",
	    (unsigned)httpd_port(h));
	dc_lines(dcs, sizeof(dcs), fakedc_port(dc), fakedc_port(dc), 0);
	direct_conf(conf, extra, dcs);
	ck_assert_int_eq(run(args, conf, out), 2);
	l = line_with(out, "fail clock: ", "this clock is ");
	ck_assert_msg(l != NULL, "%s", out);
	/* A whole-second Date read up to a second later. */
	ck_assert_int_eq(sscanf(strstr(l, "clock is ") + 9, "%lld", &off), 1);
	ck_assert_msg(off >= -121 && off <= -119, "%s", l);
	ck_assert_ptr_nonnull(strstr(l, "timedatectl set-ntp true"));
	ck_assert_int_eq(count(out, "fail "), 1);

	ck_assert_int_eq(fakedc_closed_port(AF_INET, &closed), 0);
	snprintf(extra, sizeof(extra), "clock_url = http://127.0.0.1:%u/\n",
	    (unsigned)closed);
	direct_conf(conf, extra, dcs);
	ck_assert_int_eq(run(args, conf, out), 1);
	assert_line(out, "warn clock: ", "unchecked: fetch http://127.0.0.1:");
	httpd_stop(h);
	fakedc_stop(dc);
	free(out);
}
END_TEST

START_TEST(check_middle)
{
	static const char *const args[] = { "check", NULL };
	struct httpd *h = NULL;
	uint8_t *secret = itest_random_bytes(128);
	static const char multi[] = "default 2;\nproxy_for 2 127.0.0.1:1;\n"
	    "proxy_for -2 127.0.0.1:2;\nproxy_for 4 127.0.0.1:3;\n";
	char *out = malloc(OUT_MAX), conf[CONF_MAX], want[128];
	unsigned port;
	int n;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(httpd_start(&h), 0);
	port = httpd_port(h);
	ck_assert_int_eq(httpd_set(h, "/s", secret, 128, 200), 0);
	ck_assert_int_eq(httpd_set(h, "/c", multi, strlen(multi), 200), 0);
	ck_assert_int_eq(httpd_set(h, "/", "", 0, 200), 0);
	n = snprintf(conf, sizeof(conf),
	    "[server]\nmode = middle\nstate_dir = @DIR@\n"
	    "clock_url = http://127.0.0.1:%u/\n"
	    "[users]\ncarol = " CAROL_HEX "\n"
	    "[middle]\nproxy_secret_url = http://127.0.0.1:%u/s\n"
	    "proxy_config_url = http://127.0.0.1:%u/c\n"
	    "proxy_config_v6_url = http://127.0.0.1:%u/c6\n",
	    port, port, port, port);
	ck_assert(n > 0 && n < CONF_MAX);
	ck_assert_int_eq(run(args, conf, out), 1);
	snprintf(want, sizeof(want), "proxy secret: 128 bytes from "
	    "http://127.0.0.1:%u/s", port);
	assert_line(out, "ok   middle secret: ", want);
	snprintf(want, sizeof(want), "proxy-multi.conf: 3 middle proxies "
	    "from http://127.0.0.1:%u/c", port);
	assert_line(out, "ok   middle list: ", want);
	assert_line(out, "warn middle list v6: ", "HTTP status 404");
	ck_assert_ptr_null(strstr(out, " dc "));
	ck_assert_uint_eq(httpd_requests(h, "/s"), 1);

	/* A secret of 8 bytes is no proxy secret. */
	ck_assert_int_eq(httpd_set(h, "/s", secret, 8, 200), 0);
	ck_assert_int_eq(run(args, conf, out), 2);
	assert_line(out, "fail middle secret: ", "a proxy secret of 8 bytes");
	httpd_stop(h);
	free(secret);
	free(out);
}
END_TEST

/* The DCs on dc, the cover site at cover_port. */
static void
tls_conf(char *conf, unsigned cover_port, const struct fakedc *dc)
{
	char dcs[512];
	int n;

	dc_lines(dcs, sizeof(dcs), fakedc_port(dc), fakedc_port(dc), 0);
	n = snprintf(conf, CONF_MAX,
	    "[server]\nstate_dir = @DIR@\nconnect_timeout = 5\n"
	    "clock_url = http://127.0.0.1:1/\n"
	    "[users]\ncarol = " CAROL_HEX "\n"
	    "[tls]\ndomain = localhost\nmask_host = 127.0.0.1\n"
	    "mask_port = %u\n%s", cover_port, dcs);
	ck_assert(n > 0 && n < CONF_MAX);
}

/* openssl s_server: TLS 1.3 with x25519, a self-signed certificate. */
START_TEST(check_cover_s_server)
{
	static const char *const args[] = { "check", NULL };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct cover *cv = NULL;
	char *out = malloc(OUT_MAX), conf[CONF_MAX], want[64];
	int rc;

	ck_assert_ptr_nonnull(out);
	rc = cover_start(&cv, "localhost", ITEST_START_MS);
	if (rc == COVER_ERR_NOOPENSSL) {
		itest_skip("no openssl");
		fakedc_stop(dc);
		free(out);
		return;
	}
	ck_assert_int_eq(rc, 0);
	tls_conf(conf, cover_port(cv), dc);
	unsetenv("CURL_CA_BUNDLE");
	ck_assert_int_eq(run(args, conf, out), 2);
	assert_line(out, "ok   tls domain: ", "localhost resolves to ");
	snprintf(want, sizeof(want), "127.0.0.1:%u answers TLS 1.3",
	    (unsigned)cover_port(cv));
	assert_line(out, "ok   cover: ", want);
	assert_line(out, "warn cover post-quantum: ", "no (x25519)");
	assert_line(out, "warn cover post-quantum: ", "censors block");
	assert_line(out, "fail cover certificate: ", "not valid for localhost");

	/* Trusted through the bundle, the same certificate is valid. */
	ck_assert_int_eq(setenv("CURL_CA_BUNDLE", cover_cert_path(cv), 1), 0);
	ck_assert_int_eq(run(args, conf, out), 1);
	assert_line(out, "ok   cover certificate: ", "valid for localhost");
	unsetenv("CURL_CA_BUNDLE");
	cover_stop(cv);
	fakedc_stop(dc);
	free(out);
}
END_TEST

/* A cover that answers one hello with a canned ServerHello. */
struct canned {
	int lfd;
	pthread_t thread;
	uint16_t group;
	uint8_t hello[FAKETLS_HELLO_MAX];
	size_t len;
	int parsed;		/* faketls_hello_parse's result */
	char sni[TLS_SNI_MAX + 1];
};

/* Record, ServerHello with session id, supported_versions, key_share. */
static size_t
canned_server_hello(uint16_t group, uint8_t *out)
{
	size_t share = group == FAKETLS_GROUP_X25519MLKEM768 ? 1088 + 32 : 32;
	size_t ext = 6 + 8 + share, body = 2 + 32 + 1 + 32 + 2 + 1 + 2 + ext;
	uint8_t *p = out;

	memset(out, 0x5a, 5 + 4 + body);
	p[0] = 0x16;
	bytes_put_be16(p + 1, 0x0303);
	bytes_put_be16(p + 3, (uint16_t)(4 + body));
	p[5] = 0x02;
	p[6] = 0;
	bytes_put_be16(p + 7, (uint16_t)body);
	p += 9;
	bytes_put_be16(p, 0x0303);
	p[34] = 32;
	p += 2 + 32 + 1 + 32;
	bytes_put_be16(p, 0x1301);
	p[2] = 0;
	bytes_put_be16(p + 3, (uint16_t)ext);
	p += 5;
	memcpy(p, "\x00\x2b\x00\x02\x03\x04", 6);
	p += 6;
	bytes_put_be16(p, 0x0033);
	bytes_put_be16(p + 2, (uint16_t)(4 + share));
	bytes_put_be16(p + 4, group);
	bytes_put_be16(p + 6, (uint16_t)share);
	return 5 + 4 + body;
}

static void *
canned_main(void *arg)
{
	struct canned *c = arg;
	struct pollfd pfd = { c->lfd, POLLIN, 0 };
	struct faketls_hello fh;
	uint8_t reply[2048];
	ssize_t n;
	int fd;

	if (poll(&pfd, 1, ITEST_IO_MS) != 1 ||
	    (fd = accept(c->lfd, NULL, NULL)) < 0)
		return NULL;
	/* One connection only: the certificate check is refused at once. */
	close(c->lfd);
	c->lfd = -1;
	c->parsed = FAKETLS_NEED_MORE;
	pfd.fd = fd;
	while (c->parsed == FAKETLS_NEED_MORE && c->len < sizeof(c->hello) &&
	    poll(&pfd, 1, ITEST_IO_MS) == 1 && (n = read(fd, c->hello + c->len,
	    sizeof(c->hello) - c->len)) > 0) {
		c->len += (size_t)n;
		c->parsed = faketls_hello_parse(c->hello, c->len, &fh);
	}
	if (c->parsed == 0)
		snprintf(c->sni, sizeof(c->sni), "%s", fh.sni);
	n = (ssize_t)canned_server_hello(c->group, reply);
	if (write(fd, reply, (size_t)n) != n)
		c->parsed = -100;
	close(fd);
	return NULL;
}

static void
canned_start(struct canned *c, uint16_t group, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(c, 0, sizeof(*c));
	c->group = group;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->lfd, 0);
	ck_assert_int_eq(bind(c->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(c->lfd, 4), 0);
	ck_assert_int_eq(getsockname(c->lfd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, canned_main, c), 0);
}

START_TEST(check_cover_post_quantum)
{
	static const char *const args[] = { "check", NULL };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct canned c;
	char *out = malloc(OUT_MAX), conf[CONF_MAX];
	uint16_t port;

	ck_assert_ptr_nonnull(out);
	canned_start(&c, FAKETLS_GROUP_X25519MLKEM768, &port);
	tls_conf(conf, port, dc);
	ck_assert_int_eq(run(args, conf, out), 2);
	pthread_join(c.thread, NULL);
	/* What it sent is a ClientHello for the domain, the hybrid first. */
	ck_assert_int_eq(c.parsed, 0);
	ck_assert_str_eq(c.sni, "localhost");
	ck_assert_ptr_nonnull(memmem(c.hello, c.len, "\x11\xec\x04\xc0", 4));
	assert_line(out, "ok   cover post-quantum: ",
	    "yes: it picks X25519MLKEM768");
	assert_line(out, "fail cover certificate: ", "cannot check");

	/* The same server taking x25519 is the 2026 warning. */
	canned_start(&c, 0x001d, &port);
	tls_conf(conf, port, dc);
	ck_assert_int_eq(run(args, conf, out), 2);
	pthread_join(c.thread, NULL);
	assert_line(out, "warn cover post-quantum: ", "no (x25519)");
	fakedc_stop(dc);
	free(out);
}
END_TEST

/* Check forks each test: the lowered limit dies with it. */
START_TEST(check_limits_nofile)
{
	static const char *const args[] = { "check", NULL };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct rlimit rl = { 200, 200 };
	char *out = malloc(OUT_MAX), conf[CONF_MAX], dcs[512], want[128];

	ck_assert_ptr_nonnull(out);
	dc_lines(dcs, sizeof(dcs), fakedc_port(dc), fakedc_port(dc), 0);
	direct_conf(conf, "max_clients = 5000\nclock_url = http://127.0.0.1:1/\n",
	    dcs);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(run(args, conf, out), 1);
	snprintf(want, sizeof(want), "max_clients 5000 is more than open "
	    "files (RLIMIT_NOFILE) (200) allows: room for %d clients",
	    (200 - CAPACITY_FD_RESERVE) / CAPACITY_FDS_PER_CLIENT);
	assert_line(out, "warn limits: ", want);
	assert_line(out, "warn limits: ", "raise LimitNOFILE=");
	fakedc_stop(dc);
	free(out);
}
END_TEST

START_TEST(check_bad_config)
{
	static const char *const args[] = { "check", NULL };
	char *out = malloc(OUT_MAX);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(run(args, "[server]\nport = 99999\n", out), 2);
	ck_assert_msg(strncmp(out, "fail config: ", 13) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "port"));
	ck_assert_int_eq(count(out, "\n"), 1);
	free(out);
}
END_TEST

/* ---- links ---- */

#define LINK_CONF \
	"[server]\nport = 8443\npublic_host = proxy.example.com\n" \
	"public_port = 443\nmodes = secure\nstate_dir = @DIR@\n" \
	"[users]\ncarol = " CAROL_HEX "\ndave = " DAVE_HEX "\n"

START_TEST(link_users_and_public_port)
{
	static const char *const all[] = { "link", NULL };
	static const char *const one[] = { "link", "dave", NULL };
	static const char *const none[] = { "link", "erin", NULL };
	static const char *const qr_alone[] = { "--qr", NULL };
	char *out = malloc(OUT_MAX);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(run(all, LINK_CONF, out), 0);
	ck_assert_int_eq(count(out, "\n"), 4);
	assert_line(out, "user carol (secure): ", "tg://proxy?server=proxy."
	    "example.com&port=443&secret=dd" CAROL_HEX);
	assert_line(out, "user dave (secure): ", "https://t.me/proxy?server="
	    "proxy.example.com&port=443&secret=dd" DAVE_HEX);
	ck_assert_ptr_null(strstr(out, "8443"));

	ck_assert_int_eq(run(one, LINK_CONF, out), 0);
	ck_assert_int_eq(count(out, "\n"), 2);
	ck_assert_int_eq(count(out, "user dave (secure): "), 2);

	ck_assert_int_eq(run(none, LINK_CONF, out), 1);
	ck_assert_ptr_nonnull(strstr(out, "no user 'erin'"));
	ck_assert_int_eq(run(qr_alone, LINK_CONF, out), 2);
	ck_assert_ptr_nonnull(strstr(out, "--qr goes with link"));
	free(out);
}
END_TEST

/* The terminal's QR code as a PGM at 4 pixels a module, for zbarimg. */
static void
qr_to_pgm(const char *text, const char *path)
{
	static unsigned char mod[QRTEXT_SIDE_MAX][QRTEXT_SIDE_MAX];
	int side, x, y;
	FILE *f;

	ck_assert_int_eq(qrtext_modules(text, mod, &side), 0);
	ck_assert_int_gt(side, 20);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "P5\n%d %d\n255\n", 4 * side, 4 * side);
	for (y = 0; y < 4 * side; y++)
		for (x = 0; x < 4 * side; x++)
			fputc(mod[y / 4][x / 4] ? 0 : 255, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* zbarimg's reading of the image, the trailing newline cut. */
static void
zbar_decode(const char *path, char *text, size_t cap)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "zbarimg --quiet --raw '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(text, 1, cap - 1, p);
	text[n] = '\0';
	pclose(p);
	while (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
}

START_TEST(link_qr_decodes)
{
	static const char *const args[] = { "link", "carol", "--qr", NULL };
	char *out = malloc(OUT_MAX), dir[] = "/tmp/mtproxyd-qr-XXXXXX";
	char path[64], got[1024];
	const char *tme, *code;

	ck_assert_ptr_nonnull(out);
	if (system("command -v zbarimg >/dev/null 2>&1") != 0) {
		itest_skip("no zbarimg (Debian zbar-tools)");
		free(out);
		return;
	}
	ck_assert_int_eq(run(args, LINK_CONF, out), 0);
	tme = line_with(out, "user carol (secure): ", "https://t.me/");
	ck_assert_ptr_nonnull(tme);
	/* The tg:// link has no code: the t.me one follows it directly. */
	ck_assert_int_eq(count(out, "\033[37;40m"), count(tme, "\033[37;40m"));
	code = strchr(tme, '\n') + 1;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qr.pgm", dir);
	qr_to_pgm(code, path);
	zbar_decode(path, got, sizeof(got));
	ck_assert_str_eq(got, "https://t.me/proxy?server=proxy."
	    "example.com&port=443&secret=dd" CAROL_HEX);
	tfile_rm_tree(dir);
	free(out);
}
END_TEST

/* ---- the start ---- */

START_TEST(start_warnings)
{
	static const char *const hexes[] = { SAMPLE_HEX, ZERO_HEX };
	struct daemon_proc *d = NULL;
	const char *conf =
	    "[server]\nport = 0\nlisten = 127.0.0.1\npublic_host = 192.0.2.1\n"
	    "state_dir = @DIR@\nmodes = secure\n"
	    "[users]\nfrank = " SAMPLE_HEX "\ngrace = " ZERO_HEX "\n"
	    "carol = " CAROL_HEX "\n";

	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_log_count(d, "WARN secret: user frank has a "
	    "published sample secret"), 1);
	ck_assert_int_eq(daemon_log_count(d, "WARN secret: user grace "), 1);
	ck_assert_int_eq(daemon_log_count(d, "WARN secret: "), 2);
	ck_assert_int_eq(daemon_log_count(d, "WARN public_host: 192.0.2.1 "
	    "is not an address of this machine"), 1);
	itest_stop(d, hexes, 2, ITEST_STOP_MS);

	/* Reachable and no samples: not a word. */
	ck_assert_int_eq(daemon_start(&d, "[server]\nport = 0\nlisten = "
	    "127.0.0.1\npublic_host = 127.0.0.1\nstate_dir = @DIR@\n"
	    "[users]\ncarol = " CAROL_HEX "\n", NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_log_count(d, "WARN"), 0);
	itest_stop(d, NULL, 0, ITEST_STOP_MS);
}
END_TEST

START_TEST(start_default_user_retired)
{
	static const char *const args[] = { "--print-links", NULL };
	char dir[] = "/tmp/mtproxyd-retired-XXXXXX", conf[CONF_MAX];
	char *out = malloc(OUT_MAX), *hex, path[64];
	struct daemon_proc *d = NULL;
	const char *const hexes[1] = { NULL };

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "[server]\nstate_dir = %s\n", dir);
	ck_assert_int_eq(run(args, conf, out), 0);
	snprintf(path, sizeof(path), "%s/secret", dir);
	hex = itest_read_file(path);
	hex[32] = '\0';

	snprintf(conf, sizeof(conf), "[server]\nport = 0\nlisten = 127.0.0.1\n"
	    "state_dir = %s\n[users]\ncarol = " CAROL_HEX "\n", dir);
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_log_count(d, "WARN users: the default user "
	    "was retired"), 1);
	itest_stop(d, hexes, 0, ITEST_STOP_MS);

	/* Kept under [users] with its secret, it is not retired. */
	snprintf(conf, sizeof(conf), "[server]\nport = 0\nlisten = 127.0.0.1\n"
	    "state_dir = %s\n[users]\ncarol = " CAROL_HEX "\nold = %s\n", dir,
	    hex);
	ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_log_count(d, "retired"), 0);
	itest_stop(d, hexes, 0, ITEST_STOP_MS);
	free(hex);
	tfile_rm_tree(dir);
	free(out);
}
END_TEST

START_TEST(start_print_links_no)
{
	static const char *const hexes[] = { CAROL_HEX };
	struct daemon_proc *d = NULL;
	char *log;
	int no;

	for (no = 0; no <= 1; no++) {
		char conf[CONF_MAX];

		snprintf(conf, sizeof(conf), "[server]\nport = 0\nlisten = "
		    "127.0.0.1\nstate_dir = @DIR@\nprint_links = %s\n"
		    "[users]\ncarol = " CAROL_HEX "\n", no ? "no" : "yes");
		ck_assert_int_eq(daemon_start(&d, conf, NULL, ITEST_START_MS),
		    0);
		ck_assert_int_eq(daemon_wait_log(d, "running: mode direct",
		    ITEST_IO_MS), 0);
		log = itest_read_log(d);
		ck_assert_int_eq(strstr(log, CAROL_HEX) == NULL, no);
		ck_assert_int_eq(strstr(log, "secret=") == NULL, no);
		ck_assert_int_eq(strstr(log, "links not printed") != NULL, no);
		free(log);
		itest_stop(d, hexes, 1, ITEST_STOP_MS);
	}
}
END_TEST

START_TEST(start_fails_port_in_use)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	static const char *const args[] = { NULL };
	char *out = malloc(OUT_MAX), conf[CONF_MAX], want[64];
	int fd;

	ck_assert_ptr_nonnull(out);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(conf, sizeof(conf), "[server]\nport = %u\nlisten = 127.0.0.1\n"
	    "state_dir = @DIR@\nprint_links = no\n[users]\ncarol = "
	    CAROL_HEX "\n", (unsigned)ntohs(sin.sin_port));
	ck_assert_int_eq(run(args, conf, out), 1);
	ck_assert_int_eq(count(out, " ERROR "), 1);
	snprintf(want, sizeof(want), "port %u: Address already in use",
	    (unsigned)ntohs(sin.sin_port));
	assert_line(out, "", want);
	assert_line(out, "", "another process has that port");
	ck_assert_ptr_null(strstr(out, "stats:"));
	ck_assert_ptr_null(strstr(out, "stopped"));
	close(fd);
	free(out);
}
END_TEST

/* As nobody, port 443: the capability named, one line, exit 1. */
START_TEST(start_fails_privileged_port)
{
	char dir[] = "/tmp/mtproxyd-cap-XXXXXX", conf[CONF_MAX], path[64];
	char *out = malloc(OUT_MAX), *text;
	const char *bin = getenv("MTPROXYD_BIN");
	int pipefd[2], status;
	pid_t pid;

	ck_assert_ptr_nonnull(out);
	if (geteuid() != 0) {
		itest_skip("not root: cannot run the daemon as nobody");
		free(out);
		return;
	}
	ck_assert_ptr_nonnull(bin);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(conf, sizeof(conf), "[server]\nport = 443\nlisten = 127.0.0.1\n"
	    "state_dir = %s\n[users]\ncarol = " CAROL_HEX "\n", dir);
	snprintf(path, sizeof(path), "%s/mtproxyd.conf", dir);
	ck_assert_int_eq(tfile_write(path, conf, strlen(conf)), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execlp("setpriv", "setpriv", "--reuid=nobody", "--regid=nogroup",
		    "--clear-groups", "--inh-caps=-all", bin, "-c", path,
		    (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	text = itest_read_fd(pipefd[0]);
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status 0x%x: %s", status, text);
	ck_assert_int_eq(count(text, " ERROR "), 1);
	assert_line(text, "", "port 443: Permission denied");
	assert_line(text, "", "setcap 'cap_net_bind_service=+ep'");
	assert_line(text, "", "AmbientCapabilities=CAP_NET_BIND_SERVICE");
	ck_assert_ptr_null(strstr(text, "stats:"));
	free(text);
	tfile_rm_tree(dir);
	free(out);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("check");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, check_dcs_and_clock);
	tcase_add_test(tc, check_clock_skew_and_unreachable);
	tcase_add_test(tc, check_middle);
	tcase_add_test(tc, check_cover_s_server);
	tcase_add_test(tc, check_cover_post_quantum);
	tcase_add_test(tc, check_limits_nofile);
	tcase_add_test(tc, check_bad_config);
	suite_add_tcase(s, tc);
	tc = tcase_create("link");
	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, link_users_and_public_port);
	tcase_add_test(tc, link_qr_decodes);
	suite_add_tcase(s, tc);
	tc = tcase_create("start");
	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, start_warnings);
	tcase_add_test(tc, start_default_user_retired);
	tcase_add_test(tc, start_print_links_no);
	tcase_add_test(tc, start_fails_port_in_use);
	tcase_add_test(tc, start_fails_privileged_port);
	suite_add_tcase(s, tc);
	return s;
}
