/*
 * The command line of the real mtproxyd ($MTPROXYD_BIN): help, version,
 * exit statuses, --check-config's one-line errors, --gen-secret,
 * --print-links, the default user kept in state_dir, and command-line
 * overrides of the config file.
 */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "secret.h"

#define RUN_MS		10000
#define OUT_MAX		16384

#define ALICE_HEX	"5f3a9c0e7b2d4618a0c3e5f7091b2d4f"
#define BOB_HEX		"c0ffee00d15ea5e5deadbeef8badf00d"
/* hex("cover.example.com") */
#define COVER_HEX	"636f7665722e6578616d706c652e636f6d"
#define AD_TAG		"3c09c680b76ee91a4c25ad51f742267d"

/* Run to completion; the exit code (a signal is a failure). */
static int
run(const char *const *args, const char *conf, char *out)
{
	return itest_run(args, conf, out, OUT_MAX, RUN_MS);
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(help_lists_options)
{
	static const char *const opts[] = { "-c, --config", "-p, --port",
	    "-l, --listen", "--public-host", "--mode ", "--modes",
	    "--log-level", "--state-dir", "--fast-mode", "--max-clients",
	    "--check-config", "--gen-secret", "--print-links", "-h, --help",
	    "-V, --version" };
	static const char *const help[] = { "--help", NULL };
	static const char *const h[] = { "-h", NULL };
	char *out = malloc(OUT_MAX), *out2 = malloc(OUT_MAX);
	size_t i;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(out2);
	ck_assert_int_eq(run(help, NULL, out), 0);
	ck_assert_msg(strncmp(out, "usage: mtproxyd", 15) == 0, "%s", out);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		ck_assert_msg(strstr(out, opts[i]) != NULL, "no %s in:\n%s",
		    opts[i], out);
	ck_assert_int_eq(run(h, NULL, out2), 0);
	ck_assert_str_eq(out2, out);
	free(out);
	free(out2);
}
END_TEST

START_TEST(version_printed)
{
	static const char *const v1[] = { "--version", NULL };
	static const char *const v2[] = { "-V", NULL };
	char out[OUT_MAX];

	ck_assert_int_eq(run(v1, NULL, out), 0);
	ck_assert_str_eq(out, "mtproxyd " PACKAGE_VERSION "\n");
	ck_assert_int_eq(run(v2, NULL, out), 0);
	ck_assert_str_eq(out, "mtproxyd " PACKAGE_VERSION "\n");
}
END_TEST

/* _i: an unknown option, a stray argument, an option without its value. */
START_TEST(bad_command_line_exits_2)
{
	static const char *const cases[][3] = {
		{ "--no-such-option", NULL, NULL },
		{ "--gen-secret", "stray", NULL },
		{ "--gen-secret", "-p", NULL },
	};
	static const char *const named[] = { "no-such-option", "'stray'",
	    "'p'" };
	char out[OUT_MAX];

	ck_assert_int_eq(run(cases[_i], NULL, out), 2);
	ck_assert_msg(strstr(out, named[_i]) != NULL, "%s", out);
}
END_TEST

START_TEST(check_config_shipped)
{
	const char *src = getenv("MTPROXYD_SRCDIR");
	char path[4096], out[OUT_MAX];
	const char *const args[] = { "-c", path, "--check-config", NULL };

	ck_assert_msg(src != NULL, "MTPROXYD_SRCDIR is not set");
	snprintf(path, sizeof(path), "%s/conf/mtproxyd.conf", src);
	ck_assert_int_eq(access(path, R_OK), 0);
	ck_assert_int_eq(run(args, NULL, out), 0);
	ck_assert_str_eq(out, "mtproxyd: configuration OK\n");
}
END_TEST

struct bad_conf {
	const char *text;
	const char *want[4];	/* the key, the value, the form expected */
	const char *never;	/* a secret: not to be echoed */
};

static const struct bad_conf bad_confs[] = {
	{ "[server]\nport = abc\n",
	    { "[server] port", "'abc'", "expected a port 1..65535" }, NULL },
	{ "[server]\nport = 70000\n",
	    { "[server] port", "'70000'", "expected a port 1..65535" }, NULL },
	{ "[server]\nport = 8443\ncolour = blue\n",
	    { "[server] colour", "unknown key", "expected one of port," },
	    NULL },
	/* A user line under the wrong section: the value is a secret. */
	{ "[server]\nalice = " ALICE_HEX "\n",
	    { "[server] alice", "unknown key", "expected one of" },
	    ALICE_HEX },
	/* The ad tag is not a secret, but no 32-hex value is echoed. */
	{ "[server]\nmode = direct\n[middle]\nad_tag = " AD_TAG "\n",
	    { "[middle] ad_tag", "the ad tag needs mode = middle" }, AD_TAG },
	{ "[middle]\nad_tag = 3c09c680b76ee91a4c25ad51f742267\n",
	    { "[middle] ad_tag", "expected 32 hex digits" },
	    "3c09c680b76ee91a4c25ad51f742267" },
	{ "[middle]\nconnections_per_target = 4/2\n",
	    { "[middle] connections_per_target", "'4/2'",
	    "expected MIN/MAX or N, each 1..64, MIN <= MAX" }, NULL },
	{ "[middle]\nproxy_config_url = core.telegram.org/getProxyConfig\n",
	    { "[middle] proxy_config_url", "'core.telegram.org/getProxyConfig'",
	    "expected an http:// or https:// URL" }, NULL },
	{ "[server]\nmodes = tls\n",
	    { "[server] modes", "'tls'", "tls needs [tls] domain" }, NULL },
	{ "[tls]\ndomain = cover.example.com.\n",
	    { "[tls] domain", "'cover.example.com.'", "expected a "
	    "comma-separated list of at most 16 distinct DNS names" }, NULL },
	{ "[tls]\nmask_port = 0\n",
	    { "[tls] mask_port", "'0'", "expected a port 1..65535" }, NULL },
	{ "[users]\nalice = 5f3a9c0e7b2d4618a0c3e5f7091b2d4\n",
	    { "[users] alice", "expected 32 hex digits" },
	    "5f3a9c0e7b2d4618a0c3e5f7091b2d4" },
	{ "[users]\nalice = 5f3a9c0e7b2d4618a0c3e5f7091b2d4g\n",
	    { "[users] alice", "expected 32 hex digits" },
	    "5f3a9c0e7b2d4618a0c3e5f7091b2d4g" },
	{ "[dc]\n2 = example.com:443\n",
	    { "[dc] 2", "'example.com:443'", "expected a comma-separated "
	    "list of at most 8 IPv4:port or [IPv6]:port" }, NULL },
	{ "[dc]\n2 = 127.0.0.1\n",
	    { "[dc] 2", "'127.0.0.1'", "IPv4:port" }, NULL },
	{ "[server]\nfast_mode = maybe\n",
	    { "[server] fast_mode", "'maybe'", "expected yes or no" }, NULL },
	{ "[server]\nprefer_ipv6 = 2\n",
	    { "[server] prefer_ipv6", "'2'", "expected yes or no" }, NULL },
};

/* Exit 2 and exactly one line on stderr that says what is wrong. */
static void
check_one_line(const char *out, const char *const *want, const char *never)
{
	size_t i;

	ck_assert_msg(count_lines(out) == 1 && out[strlen(out) - 1] == '\n',
	    "not one line:\n%s", out);
	ck_assert_msg(strncmp(out, "mtproxyd: ", 10) == 0, "%s", out);
	for (i = 0; i < 4 && want[i] != NULL; i++)
		ck_assert_msg(strstr(out, want[i]) != NULL, "no \"%s\" in: %s",
		    want[i], out);
	if (never != NULL)
		ck_assert_msg(strstr(out, never) == NULL, "secret echoed: %s",
		    out);
}

START_TEST(check_config_bad)
{
	static const char *const args[] = { "--check-config", NULL };
	const struct bad_conf *b = &bad_confs[_i];
	char out[OUT_MAX];

	ck_assert_int_eq(run(args, b->text, out), 2);
	check_one_line(out, b->want, b->never);
}
END_TEST

/* The same checks for a value given on the command line. */
START_TEST(check_config_bad_override)
{
	static const char *const port[] = { "--check-config", "--port", "abc",
	    NULL };
	static const char *const fast[] = { "--check-config", "--fast-mode",
	    "maybe", NULL };
	static const char *const pwant[] = { "[server] port", "'abc'",
	    "expected a port 1..65535", NULL };
	static const char *const fwant[] = { "[server] fast_mode", "'maybe'",
	    "expected yes or no", NULL };
	static const char *const missing[] = { "-c", "/nonexistent/x.conf",
	    "--check-config", NULL };
	static const char *const mwant[] = { "/nonexistent/x.conf", NULL };
	char out[OUT_MAX];

	ck_assert_int_eq(run(port, "[server]\nport = 8443\n", out), 2);
	check_one_line(out, pwant, NULL);
	ck_assert_int_eq(run(fast, "[server]\nport = 8443\n", out), 2);
	check_one_line(out, fwant, NULL);
	ck_assert_int_eq(run(missing, NULL, out), 2);
	check_one_line(out, mwant, NULL);
}
END_TEST

/*
 * Middle mode checks as a config: an ad tag alone picks it, and files
 * that are not there yet are no error (they are read when the daemon runs).
 * --mode direct against an ad tag is refused like the file's.
 */
START_TEST(check_config_middle)
{
	static const char *const args[] = { "--check-config", NULL };
	static const char *const direct[] = { "--check-config", "--mode",
	    "direct", NULL };
	static const char *const dwant[] = { "[middle] ad_tag",
	    "the ad tag needs mode = middle", NULL };
	static const char *const good[] = {
		"[server]\nmode = middle\n[middle]\n"
		"proxy_secret_file = /nonexistent/proxy-secret\n"
		"proxy_config_file = /nonexistent/proxy-multi.conf\n",
		"[middle]\nad_tag = " AD_TAG "\n",
	};
	char out[OUT_MAX];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(run(args, good[i], out), 0);
		ck_assert_str_eq(out, "mtproxyd: configuration OK\n");
	}
	ck_assert_int_eq(run(direct, good[1], out), 2);
	check_one_line(out, dwant, AD_TAG);
}
END_TEST

static void
assert_hex32_line(const char *s)
{
	size_t i;

	ck_assert_msg(strlen(s) == 33 && s[32] == '\n', "not a secret: %s", s);
	for (i = 0; i < 32; i++)
		ck_assert_msg(isxdigit((unsigned char)s[i]) &&
		    !isupper((unsigned char)s[i]), "not lowercase hex: %s", s);
}

START_TEST(gen_secret_random)
{
	static const char *const args[] = { "--gen-secret", NULL };
	char a[OUT_MAX], b[OUT_MAX];

	ck_assert_int_eq(run(args, NULL, a), 0);
	assert_hex32_line(a);
	ck_assert_int_eq(run(args, NULL, b), 0);
	assert_hex32_line(b);
	ck_assert_str_ne(a, b);
}
END_TEST

/*
 * Both links of one user and mode, as --print-links writes them; for tls,
 * secret goes on with the hex domain.
 */
static size_t
links(char *out, size_t len, const char *user, const char *mode,
    const char *host, unsigned port, const char *secret)
{
	const char *dd = strcmp(mode, "secure") == 0 ? "dd" :
	    strcmp(mode, "tls") == 0 ? "ee" : "";
	int n;

	n = snprintf(out, len,
	    "user %s (%s): tg://proxy?server=%s&port=%u&secret=%s%s\n"
	    "user %s (%s): https://t.me/proxy?server=%s&port=%u&secret=%s%s\n",
	    user, mode, host, port, dd, secret,
	    user, mode, host, port, dd, secret);
	ck_assert(n > 0 && (size_t)n < len);
	return (size_t)n;
}

START_TEST(print_links_exact)
{
	static const char *const args[] = { "--print-links", NULL };
	static const char *const over[] = { "--print-links", "--port", "8443",
	    "--public-host", "203.0.113.9", "--modes", "secure", NULL };
	/* bob's secret in upper case: links carry the canonical form. */
	static const char conf[] =
	    "[server]\n"
	    "port = 443\n"
	    "public_host = proxy.example.com\n"
	    "modes = classic, secure\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = C0FFEE00D15EA5E5DEADBEEF8BADF00D\n";
	static const char *const users[][2] = { { "alice", ALICE_HEX },
	    { "bob", BOB_HEX } };
	char out[OUT_MAX], want[4096];
	size_t i, n = 0;

	for (i = 0; i < 2; i++) {
		n += links(want + n, sizeof(want) - n, users[i][0], "classic",
		    "proxy.example.com", 443, users[i][1]);
		n += links(want + n, sizeof(want) - n, users[i][0], "secure",
		    "proxy.example.com", 443, users[i][1]);
	}
	ck_assert_int_eq(run(args, conf, out), 0);
	ck_assert_str_eq(out, want);
	for (i = n = 0; i < 2; i++)
		n += links(want + n, sizeof(want) - n, users[i][0], "secure",
		    "203.0.113.9", 8443, users[i][1]);
	ck_assert_int_eq(run(over, conf, out), 0);
	ck_assert_str_eq(out, want);
}
END_TEST

/* A domain makes tls the default; given modes print in a fixed order. */
START_TEST(print_links_tls)
{
	static const char *const args[] = { "--print-links", NULL };
	static const char *const both[] = { "--print-links", "--modes",
	    "tls, secure", NULL };
	static const char conf[] =
	    "[server]\n"
	    "port = 443\n"
	    "public_host = proxy.example.com\n"
	    "[tls]\n"
	    "domain = Cover.Example.com, www.example.org\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "bob = " BOB_HEX "\n";
	static const char *const users[][2] = { { "alice", ALICE_HEX },
	    { "bob", BOB_HEX } };
	char out[OUT_MAX], want[4096], hex[128];
	size_t i, n = 0;

	for (i = 0; i < 2; i++) {
		snprintf(hex, sizeof(hex), "%s" COVER_HEX, users[i][1]);
		n += links(want + n, sizeof(want) - n, users[i][0], "tls",
		    "proxy.example.com", 443, hex);
	}
	ck_assert_int_eq(run(args, conf, out), 0);
	ck_assert_str_eq(out, want);
	for (i = n = 0; i < 2; i++) {
		snprintf(hex, sizeof(hex), "%s" COVER_HEX, users[i][1]);
		n += links(want + n, sizeof(want) - n, users[i][0], "secure",
		    "proxy.example.com", 443, users[i][1]);
		n += links(want + n, sizeof(want) - n, users[i][0], "tls",
		    "proxy.example.com", 443, hex);
	}
	ck_assert_int_eq(run(both, conf, out), 0);
	ck_assert_str_eq(out, want);
}
END_TEST

/* A padded client with the secret in hex, one echo through the proxy. */
static void
echo_through(struct daemon_proc *d, const char *hex)
{
	uint8_t key[SECRET_LEN], msg[300], got[300 + PADDED_MAX_PAD];
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	size_t n;

	ck_assert_int_eq(secret_parse_key(hex, key), 0);
	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, key,
	    FRAME_PADDED, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(crypto_random(msg, sizeof(msg)), 0);
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS), 0);
	ck_assert_uint_ge(n, sizeof(msg));
	ck_assert_uint_le(n - sizeof(msg), PADDED_MAX_PAD);
	ck_assert_mem_eq(got, msg, sizeof(msg));
	tclient_close(c);
}

/*
 * No [users]: --print-links creates state_dir/secret (0600, in a 0700
 * dir) and prints its links; a second run finds the same secret; the
 * daemon on that config serves a client holding it.
 */
START_TEST(default_user_state_dir)
{
	static const char *const args[] = { "--print-links", NULL };
	static const char *const port0[] = { "-p", "0", NULL };
	char base[] = "/tmp/itcli-XXXXXX", state[64], file[80];
	char conf[1024], out[OUT_MAX], out2[OUT_MAX], want[1024], hex[33];
	const char *const secrets[] = { hex };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct daemon_proc *d;
	struct stat st;
	char *text;

	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(state, sizeof(state), "%s/state", base);
	snprintf(file, sizeof(file), "%s/secret", state);
	snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 443\n"
	    "listen = 127.0.0.1\n"
	    "public_host = proxy.example.com\n"
	    "modes = secure\n"
	    "state_dir = %s\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n", state, (unsigned)fakedc_port(dc));
	ck_assert_int_eq(run(args, conf, out), 0);
	ck_assert_int_eq(stat(state, &st), 0);
	ck_assert_msg(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
	    "state_dir mode %o", (unsigned)st.st_mode);
	ck_assert_int_eq(lstat(file, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
	    "secret file mode %o", (unsigned)st.st_mode);
	text = itest_read_file(file);
	assert_hex32_line(text);
	memcpy(hex, text, 32);
	hex[32] = '\0';
	links(want, sizeof(want), "default", "secure", "proxy.example.com",
	    443, hex);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(run(args, conf, out2), 0);
	ck_assert_str_eq(out2, out);
	free(text);
	text = itest_read_file(file);
	ck_assert_mem_eq(text, hex, 32);

	ck_assert_int_eq(daemon_start(&d, conf, port0, ITEST_START_MS), 0);
	links(want, sizeof(want), "default", "secure", "proxy.example.com",
	    daemon_port(d, AF_INET), hex);
	ck_assert_int_eq(daemon_log_contains(d, want), 1);
	echo_through(d, hex);
	itest_stop(d, secrets, 1, ITEST_STOP_MS);
	fakedc_stop(dc);
	free(text);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(state), 0);
	ck_assert_int_eq(rmdir(base), 0);
}
END_TEST

/* -p 0 -l 127.0.0.1 win over port = 443 and listen = 0.0.0.0, ::. */
START_TEST(command_line_overrides_config)
{
	static const char *const args[] = { "-p", "0", "-l", "127.0.0.1",
	    NULL };
	static const char *const alice[] = { ALICE_HEX };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct daemon_proc *d;
	char conf[1024];
	socklen_t len;
	unsigned port;

	snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 443\n"
	    "listen = 0.0.0.0, ::\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n", (unsigned)fakedc_port(dc));
	ck_assert_int_eq(daemon_start(&d, conf, args, ITEST_START_MS), 0);
	port = daemon_port(d, AF_INET);
	ck_assert_uint_ne(port, 0);
	ck_assert_uint_ne(port, 443);
	ck_assert_int_eq(daemon_addr(d, AF_INET, &ss, &len), 0);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_uint_eq(daemon_port(d, AF_INET6), 0);
	ck_assert_int_eq(daemon_log_count(d, "listening on "), 1);
	echo_through(d, ALICE_HEX);
	itest_stop(d, alice, 1, ITEST_STOP_MS);
	fakedc_stop(dc);
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *opt = tcase_create("options"), *cfg = tcase_create("config");
	TCase *usr = tcase_create("users");

	tcase_set_timeout(opt, ITEST_CASE_S);
	tcase_set_timeout(cfg, ITEST_CASE_S);
	tcase_set_timeout(usr, ITEST_CASE_S);
	tcase_add_test(opt, help_lists_options);
	tcase_add_test(opt, version_printed);
	tcase_add_loop_test(opt, bad_command_line_exits_2, 0, 3);
	tcase_add_test(opt, gen_secret_random);
	tcase_add_test(cfg, check_config_shipped);
	tcase_add_loop_test(cfg, check_config_bad, 0,
	    (int)(sizeof(bad_confs) / sizeof(bad_confs[0])));
	tcase_add_test(cfg, check_config_bad_override);
	tcase_add_test(cfg, check_config_middle);
	tcase_add_test(usr, print_links_exact);
	tcase_add_test(usr, print_links_tls);
	tcase_add_test(usr, default_user_state_dir);
	tcase_add_test(usr, command_line_overrides_config);
	suite_add_tcase(s, opt);
	suite_add_tcase(s, cfg);
	suite_add_tcase(s, usr);
	return s;
}

Suite *
ckmain_suite(void)
{
	return cli_suite();
}
