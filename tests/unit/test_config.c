/*
 * Configuration, default user, links, log lines and counters: defaults, a
 * full file, the exact error line for every bad value, secrets kept out of
 * errors, the [dc] table, the state file and the printed links.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckmain.h"
#include "config.h"
#include "direct.h"
#include "itest.h"
#include "log.h"
#include "stats.h"
#include "period.h"
#include "tfile.h"
#include "users.h"

#define SECRET_A	"0123456789abcdef0123456789abcdef"
#define SECRET_B	"fedcba9876543210fedcba9876543210"
/* hex("cover.example.com") */
#define HEX_COVER	"636f7665722e6578616d706c652e636f6d"
#define FORM_DOMAIN	"a comma-separated list of at most 16 distinct DNS " \
			"names (empty: no fake-TLS)"
#define AD_TAG		"3c09c680b76ee91a4c25ad51f742267d"
#define AD_TAG_BYTES	"\x3c\x09\xc6\x80\xb7\x6e\xe9\x1a\x4c\x25\xad\x51" \
			"\xf7\x42\x26\x7d"
#define ERR_AD_TAG	"config: [middle] ad_tag: expected 32 hex digits"
#define ERR_AD_DIRECT	"config: [middle] ad_tag: the ad tag needs mode = " \
			"middle"
#define FORM_URL	"an http:// or https:// URL of at most 511 bytes"
#define FORM_PATH	"a file path of at most 4095 bytes (empty: fetch)"
#define FORM_NAT	"LOCAL:PUBLIC, two IPv4 addresses (empty: none)"
#define FORM_CONN	"MIN/MAX or N, each 1..64, MIN <= MAX"
#define FORM_QUEUE_TOTAL	"bytes 1048576..1099511627776 (0: auto)"
#define FORM_PROXY_FROM	"a comma-separated list of at most 16 ADDR/BITS " \
			"(empty: none)"

static struct config cfg;
static char err[1024];

/* The defaults again; what the last load allocated is freed first. */
static void
reset(void)
{
	config_free(&cfg);
	config_defaults(&cfg);
}

static int
load(const char *text)
{
	err[0] = '\0';
	return config_load_buffer(text, strlen(text), &cfg, err, sizeof(err));
}

static int
set(const char *section, const char *key, const char *value)
{
	err[0] = '\0';
	return config_set(&cfg, section, key, value, err, sizeof(err));
}

/* "ip port" of an address, e.g. "149.154.175.50 443". */
static const char *
addr_str(const struct net_addr *a)
{
	static char out[INET6_ADDRSTRLEN + 8];
	char ip[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET) {
		ck_assert_uint_eq(a->len, sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(out, sizeof(out), "%s %u", ip, ntohs(sin->sin_port));
	} else {
		ck_assert_int_eq(a->ss.ss_family, AF_INET6);
		ck_assert_uint_eq(a->len, sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(out, sizeof(out), "%s %u", ip, ntohs(sin6->sin6_port));
	}
	return out;
}

static void
setup(void)
{
	reset();
	err[0] = '\0';
}

START_TEST(defaults)
{
	static const char *const dcs[DC_COUNT][2] = {
		{ "149.154.175.50 443", "2001:b28:f23d:f001::a 443" },
		{ "149.154.167.51 443", "2001:67c:4e8:f002::a 443" },
		{ "149.154.175.100 443", "2001:b28:f23d:f003::a 443" },
		{ "149.154.167.91 443", "2001:67c:4e8:f004::a 443" },
		{ "149.154.171.5 443", "2001:b28:f23f:f005::a 443" },
	};
	const struct config_dc *dc;
	char want[PATH_MAX];
	int i;

	ck_assert_uint_eq(cfg.port, 8443);
	ck_assert_uint_eq(cfg.nlisten, 2);
	ck_assert_str_eq(addr_str(&cfg.listen[0]), "0.0.0.0 0");
	ck_assert_str_eq(addr_str(&cfg.listen[1]), ":: 0");
	ck_assert_str_eq(cfg.public_host, "");
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_DIRECT);
	ck_assert_uint_eq(cfg.modes, 0);	/* auto: validate picks */
	ck_assert_int_eq(cfg.fast_mode, 1);
	ck_assert_int_eq(cfg.prefer_ipv6, 0);
	ck_assert_int_eq(cfg.max_clients, 0);
	ck_assert_int_eq(cfg.handshake_timeout, 10);
	ck_assert_int_eq(cfg.idle_timeout, 600);
	ck_assert_int_eq(cfg.connect_timeout, 10);
	ck_assert_int_eq(cfg.shutdown_grace, 10);
	ck_assert_int_eq(cfg.buffer_size, 16384);
	ck_assert_int_eq(cfg.dc_rcvbuf, 0);
	ck_assert_int_eq(cfg.dc_pool, 2);
	ck_assert_int_eq(cfg.dc_pool_max_age, 30);
	ck_assert_int_eq(cfg.default_dc, 2);
	ck_assert_int_eq(cfg.pool_spare, 64);
	ck_assert_int_eq(cfg.log_level, LOGL_INFO);
	ck_assert_uint_eq(cfg.nusers, 0);
	ck_assert_uint_eq(cfg.ndomains, 0);
	ck_assert_str_eq(cfg.mask_host, "");
	ck_assert_uint_eq(cfg.mask_port, 443);
	ck_assert_int_eq(cfg.mask_proxy_protocol, 0);
	ck_assert_int_eq(cfg.time_skew_past, 600);
	ck_assert_int_eq(cfg.time_skew_future, 30);
	ck_assert_int_eq(cfg.replay_cache_size, 262144);
	ck_assert_int_eq(cfg.unknown_sni, CONFIG_SNI_MASK);
	ck_assert_int_eq(cfg.require_sni, 0);
	ck_assert_int_eq(cfg.mask_probe_interval, 3600);
	ck_assert_int_eq(cfg.mask_timeout, 600);
	ck_assert(cfg.mask_max_bytes == 100LL * 1024 * 1024);
	ck_assert_int_eq(cfg.mode_given, 0);
	ck_assert_int_eq(cfg.has_ad_tag, 0);
	ck_assert_str_eq(cfg.proxy_secret_url,
	    "https://core.telegram.org/getProxySecret");
	ck_assert_str_eq(cfg.proxy_config_url,
	    "https://core.telegram.org/getProxyConfig");
	ck_assert_str_eq(cfg.proxy_config_v6_url,
	    "https://core.telegram.org/getProxyConfigV6");
	ck_assert_str_eq(cfg.proxy_secret_file, "");
	ck_assert_str_eq(cfg.proxy_config_file, "");
	ck_assert_int_eq(cfg.refresh_interval, 3600);
	ck_assert_int_eq(cfg.has_nat_info, 0);
	ck_assert_int_eq(cfg.has_public_ipv4, 0);
	ck_assert_int_eq(cfg.has_public_ipv6, 0);
	ck_assert_int_eq(cfg.conn_min, 2);
	ck_assert_int_eq(cfg.conn_max, 4);
	ck_assert_int_eq(cfg.ping_interval, 10);
	ck_assert(cfg.queue_bytes == 33554432);	/* the official proxy's */
	ck_assert(cfg.queue_total_bytes == 0);	/* auto, set by validate */
	ck_assert_uint_eq(cfg.ndcs, DC_COUNT + DC_TEST_COUNT);
	for (i = 0; i < DC_COUNT; i++) {
		dc = config_find_dc(&cfg, i + 1);
		ck_assert_ptr_nonnull(dc);
		ck_assert_uint_eq(dc->naddr, 2);
		ck_assert_str_eq(addr_str(&dc->addr[0]), dcs[i][0]);
		ck_assert_str_eq(addr_str(&dc->addr[1]), dcs[i][1]);
	}
	ck_assert_ptr_null(config_find_dc(&cfg, 0));
	ck_assert_ptr_null(config_find_dc(&cfg, 6));
	ck_assert_ptr_null(config_find_dc(&cfg, -2));

	if (geteuid() == 0)
		snprintf(want, sizeof(want), "/var/lib/mtproxyd");
	else if (getenv("HOME") != NULL && getenv("HOME")[0] != '\0')
		snprintf(want, sizeof(want), "%s/.local/state/mtproxyd",
		    getenv("HOME"));
	else
		snprintf(want, sizeof(want), "./.mtproxyd");
	ck_assert_str_eq(cfg.state_dir, want);
}
END_TEST

START_TEST(state_dir_without_home)
{
	if (geteuid() == 0)
		return;		/* root always gets /var/lib/mtproxyd */
	unsetenv("HOME");
	reset();
	ck_assert_str_eq(cfg.state_dir, "./.mtproxyd");
	setenv("HOME", "/home/someone", 1);
	reset();
	ck_assert_str_eq(cfg.state_dir, "/home/someone/.local/state/mtproxyd");
}
END_TEST

START_TEST(full_file)
{
	static const char text[] =
	    "; every key\n"
	    "[Server]\n"
	    "Port = 443\n"
	    "listen = 127.0.0.1, [::1] ,10.0.0.1  # three\n"
	    "public_host = proxy.example.org\n"
	    "mode = direct\n"
	    "modes = classic,secure\n"
	    "fast_mode = off\n"
	    "prefer_ipv6 = TRUE\n"
	    "max_clients = 1000\n"
	    "handshake_timeout = 3600\n"
	    "idle_timeout = 86400\n"
	    "connect_timeout = 120\n"
	    "shutdown_grace = 0\n"
	    "buffer_size = 1024\n"
	    "dc_rcvbuf = 16777216\n"
	    "dc_pool = 16\n"
	    "dc_pool_max_age = 3600\n"
	    "default_dc = 203\n"
	    "pool_spare = 100000\n"
	    "log_level = debug\n"
	    "state_dir = /tmp/mtproxyd-state\n"
	    "\n"
	    "[users]\n"
	    "Alice = " SECRET_A "\n"
	    "bob.b-2_x = " SECRET_B "\n"
	    "[dc]\n"
	    "203 = 91.105.192.100:443\n";
	const struct config_dc *dc;

	ck_assert_int_eq(load(text), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.port, 443);
	ck_assert_uint_eq(cfg.nlisten, 3);
	/* validate puts the port into the listen addresses */
	ck_assert_str_eq(addr_str(&cfg.listen[0]), "127.0.0.1 443");
	ck_assert_str_eq(addr_str(&cfg.listen[1]), "::1 443");
	ck_assert_str_eq(addr_str(&cfg.listen[2]), "10.0.0.1 443");
	ck_assert_str_eq(cfg.public_host, "proxy.example.org");
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_DIRECT);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_CLASSIC | CONFIG_MODES_SECURE);
	ck_assert_int_eq(cfg.fast_mode, 0);
	ck_assert_int_eq(cfg.prefer_ipv6, 1);
	ck_assert_int_eq(cfg.max_clients, 1000);
	ck_assert_int_eq(cfg.handshake_timeout, 3600);
	ck_assert_int_eq(cfg.idle_timeout, 86400);
	ck_assert_int_eq(cfg.connect_timeout, 120);
	ck_assert_int_eq(cfg.shutdown_grace, 0);
	ck_assert_int_eq(cfg.buffer_size, 1024);
	ck_assert_int_eq(cfg.dc_rcvbuf, 16777216);
	ck_assert_int_eq(cfg.dc_pool, 16);
	ck_assert_int_eq(cfg.dc_pool_max_age, 3600);
	ck_assert_int_eq(cfg.default_dc, 203);
	ck_assert_int_eq(cfg.pool_spare, 100000);
	ck_assert_int_eq(cfg.log_level, LOGL_DEBUG);
	ck_assert_str_eq(cfg.state_dir, "/tmp/mtproxyd-state");
	ck_assert_uint_eq(cfg.nusers, 2);
	ck_assert_str_eq(cfg.users[0].name, "alice");
	ck_assert_mem_eq(cfg.users[0].secret,
	    "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef",
	    16);
	ck_assert_str_eq(cfg.users[1].name, "bob.b-2_x");
	ck_assert_mem_eq(cfg.users[1].secret,
	    "\xfe\xdc\xba\x98\x76\x54\x32\x10\xfe\xdc\xba\x98\x76\x54\x32\x10",
	    16);
	ck_assert_uint_eq(cfg.ndcs, DC_COUNT + DC_TEST_COUNT + 1);
	dc = config_find_dc(&cfg, 203);
	ck_assert_ptr_nonnull(dc);
	ck_assert_uint_eq(dc->naddr, 1);
	ck_assert_str_eq(addr_str(&dc->addr[0]), "91.105.192.100 443");
}
END_TEST

/* The other spellings of values. */
START_TEST(value_forms)
{
	static const char *const yes[] = { "yes", "true", "1", "on", "YES" };
	static const char *const no[] = { "no", "false", "0", "off", "Off" };
	size_t i;

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(set("server", "fast_mode", no[i]), 0);
		ck_assert_int_eq(cfg.fast_mode, 0);
		ck_assert_int_eq(set("server", "fast_mode", yes[i]), 0);
		ck_assert_int_eq(cfg.fast_mode, 1);
	}
	ck_assert_int_eq(set("server", "port", "0"), 0);
	ck_assert_uint_eq(cfg.port, 0);
	ck_assert_int_eq(set("server", "port", "65535"), 0);
	ck_assert_uint_eq(cfg.port, 65535);
	ck_assert_int_eq(set("server", "max_clients", "0"), 0);
	ck_assert_int_eq(cfg.max_clients, 0);
	ck_assert_int_eq(set("server", "dc_rcvbuf", "1024"), 0);
	ck_assert_int_eq(cfg.dc_rcvbuf, 1024);
	ck_assert_int_eq(set("server", "dc_pool", "0"), 0);
	ck_assert_int_eq(cfg.dc_pool, 0);
	ck_assert_int_eq(set("server", "dc_pool_max_age", "1"), 0);
	ck_assert_int_eq(cfg.dc_pool_max_age, 1);
	ck_assert_int_eq(set("server", "modes", "tls, classic"), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_TLS | CONFIG_MODES_CLASSIC);
	ck_assert_int_eq(set("server", "listen", "::"), 0);
	ck_assert_uint_eq(cfg.nlisten, 1);
	ck_assert_str_eq(addr_str(&cfg.listen[0]), ":: 0");
	ck_assert_int_eq(set("server", "public_host", "[2001:db8::1]"), 0);
	ck_assert_str_eq(cfg.public_host, "2001:db8::1");
	ck_assert_int_eq(set("server", "public_host", "203.0.113.7"), 0);
	ck_assert_str_eq(cfg.public_host, "203.0.113.7");
	ck_assert_int_eq(set("server", "public_host", ""), 0);
	ck_assert_str_eq(cfg.public_host, "");
	ck_assert_int_eq(set("server", "log_level", "WARN"), 0);
	ck_assert_int_eq(cfg.log_level, LOGL_WARN);
	ck_assert_int_eq(set("server", "mode", "middle"), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);
	ck_assert_str_eq(config_log_level_name(LOGL_ERROR), "error");
	ck_assert_str_eq(config_log_level_name(LOGL_WARN), "warn");
	ck_assert_str_eq(config_log_level_name(LOGL_INFO), "info");
	ck_assert_str_eq(config_log_level_name(LOGL_DEBUG), "debug");
}
END_TEST

static const struct bad {
	const char *key, *value, *form;
} bad_values[] = {
	{ "port", "65536", "a port 1..65535 (0: any free port)" },
	{ "port", "-1", "a port 1..65535 (0: any free port)" },
	{ "port", "84x3", "a port 1..65535 (0: any free port)" },
	{ "port", "", "a port 1..65535 (0: any free port)" },
	{ "port", " 8443", "a port 1..65535 (0: any free port)" },
	{ "port", "99999999999999999999", "a port 1..65535 (0: any free port)" },
	{ "listen", "localhost",
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "listen", "0.0.0.0,,::",
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "listen", "0.0.0.0,",
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "listen", "[127.0.0.1]",
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "listen", "1.2.3.4:80",
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "listen", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "public_host", "bad host", "a host name or an IP address (empty: auto)" },
	{ "public_host", "x_y.org", "a host name or an IP address (empty: auto)" },
	{ "mode", "proxy", "direct or middle" },
	{ "modes", "secure,fake",
	    "a comma-separated list of classic, secure, tls" },
	{ "modes", "", "a comma-separated list of classic, secure, tls" },
	{ "fast_mode", "maybe", "yes or no" },
	{ "prefer_ipv6", "2", "yes or no" },
	{ "max_clients", "1000001", "1..1000000 (0: auto)" },
	{ "max_clients", "-5", "1..1000000 (0: auto)" },
	{ "handshake_timeout", "0", "seconds 1..3600" },
	{ "handshake_timeout", "3601", "seconds 1..3600" },
	{ "idle_timeout", "86401", "seconds 1..86400" },
	{ "idle_timeout", "0", "seconds 1..86400" },
	{ "connect_timeout", "121", "seconds 1..120" },
	{ "shutdown_grace", "3601", "seconds 0..3600" },
	{ "buffer_size", "1023", "bytes 1024..1048576" },
	{ "buffer_size", "1048577", "bytes 1024..1048576" },
	{ "dc_rcvbuf", "1023", "bytes 1024..16777216 (0: kernel default)" },
	{ "dc_rcvbuf", "16777217", "bytes 1024..16777216 (0: kernel default)" },
	{ "dc_pool", "17", "connections per DC 0..16 (0: off)" },
	{ "dc_pool", "-1", "connections per DC 0..16 (0: off)" },
	{ "dc_pool", "two", "connections per DC 0..16 (0: off)" },
	{ "dc_pool_max_age", "0", "seconds 1..3600" },
	{ "dc_pool_max_age", "3601", "seconds 1..3600" },
	{ "default_dc", "0", "a DC id 1..32767" },
	{ "default_dc", "32768", "a DC id 1..32767" },
	{ "pool_spare", "100001", "threads 0..100000" },
	{ "log_level", "verbose", "error, warn, info or debug" },
	{ "state_dir", "", "a directory path of 1..4095 bytes" },
	{ "proxy_protocol", "v3", "off, v1, v2 or any" },
	{ "proxy_protocol", "on", "off, v1, v2 or any" },
	{ "proxy_protocol_from", "10.0.0.0/33", FORM_PROXY_FROM },
	{ "proxy_protocol_from", "lb.example", FORM_PROXY_FROM },
	{ "proxy_protocol_from", "10.0.0.1,,10.0.0.2", FORM_PROXY_FROM },
};

/*
 * Through config_set (the command line) and through a file. Errors quote
 * at most 80 characters of a value.
 */
static void
check_bad(const char *section, const struct bad *b)
{
	struct config before;
	char want[512], text[1024];
	const char *more = strlen(b->value) > 80 ? "..." : "";

	snprintf(want, sizeof(want), "config: [%s] %s = '%.80s%s': expected %s",
	    section, b->key, b->value, more, b->form);
	before = cfg;
	ck_assert_int_eq(set(section, b->key, b->value), CONFIG_ERR);
	ck_assert_str_eq(err, want);
	/* A refused value leaves the config as it was. */
	ck_assert_mem_eq(&cfg, &before, sizeof(cfg));

	if (b->value[0] == ' ' || strchr(b->value, ',') != NULL)
		return;	/* iniparser strips spaces; commas are fine there */
	snprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, b->key,
	    b->value);
	ck_assert_int_eq(load(text), CONFIG_ERR);
	ck_assert_str_eq(err, want);
}

START_TEST(bad_value)
{
	check_bad("server", &bad_values[_i]);
}
END_TEST

START_TEST(error_is_one_line)
{
	ck_assert_int_eq(set("server", "port", "80\n[users]\nx"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] port = '80?[users]?x': "
	    "expected a port 1..65535 (0: any free port)");
	ck_assert_int_eq(set("server", "log_level",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] log_level = '"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxx...': expected error, warn, info or debug");
}
END_TEST

/* 253 characters: three labels of 63 and one of 61. */
#define L63	"abcdefghijklmnopqrstuvwxyz" "abcdefghijklmnopqrstuvwxyz" \
		"0123456789a"
#define NAME253	L63 "." L63 "." L63 "." "abcdefghijklmnopqrstuvwxyz" \
		"abcdefghijklmnopqrstuvwxyz012345678"

static const struct bad bad_tls[] = {
	{ "domain", "exa mple.com", FORM_DOMAIN },
	{ "domain", "x_y.example.com", FORM_DOMAIN },
	{ "domain", "-example.com", FORM_DOMAIN },
	{ "domain", "example-.com", FORM_DOMAIN },
	{ "domain", "www..example.com", FORM_DOMAIN },
	{ "domain", ".example.com", FORM_DOMAIN },
	{ "domain", "example.com.", FORM_DOMAIN },
	{ "domain", "203.0.113.7", FORM_DOMAIN },
	{ "domain", "[::1]", FORM_DOMAIN },
	{ "domain", "www.example.com:443", FORM_DOMAIN },
	{ "domain", L63 "b.com", FORM_DOMAIN },
	{ "domain", NAME253 "9", FORM_DOMAIN },
	{ "domain", "a.com,,b.com", FORM_DOMAIN },
	{ "domain", "a.com,", FORM_DOMAIN },
	{ "domain", "a.com, b.com, A.COM", FORM_DOMAIN },
	{ "domain", "a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,a11,a12,a13,a14,a15,a16,"
	    "a17", FORM_DOMAIN },
	{ "mask_host", "bad host",
	    "a host name or an IP address (empty: the first domain)" },
	{ "mask_host", "a..b",
	    "a host name or an IP address (empty: the first domain)" },
	{ "mask_host", "127.0.0.1:8443",
	    "a host name or an IP address (empty: the first domain)" },
	{ "mask_port", "0", "a port 1..65535" },
	{ "mask_port", "65536", "a port 1..65535" },
	{ "mask_port", "", "a port 1..65535" },
	{ "mask_proxy_protocol", "3", "off, v1 or v2" },
	{ "mask_proxy_protocol", "v3", "off, v1 or v2" },
	{ "mask_proxy_protocol", "yes", "off, v1 or v2" },
	{ "time_skew_past", "172801", "seconds 0..172800" },
	{ "time_skew_past", "-1", "seconds 0..172800" },
	{ "time_skew_future", "3601", "seconds 0..3600" },
	{ "time_skew_future", "30s", "seconds 0..3600" },
	{ "replay_cache_size", "1023", "entries 1024..16777216" },
	{ "replay_cache_size", "16777217", "entries 1024..16777216" },
	{ "replay_cache_size", "0", "entries 1024..16777216" },
	{ "unknown_sni", "close", "mask or drop" },
	{ "unknown_sni", "", "mask or drop" },
	{ "mask_probe_interval", "59", "seconds 60..86400 (0: only at start)" },
	{ "mask_probe_interval", "1", "seconds 60..86400 (0: only at start)" },
	{ "mask_probe_interval", "86401",
	    "seconds 60..86400 (0: only at start)" },
	{ "mask_timeout", "0", "seconds 1..86400" },
	{ "mask_timeout", "86401", "seconds 1..86400" },
	{ "mask_max_bytes", "1023", "bytes 1024..1099511627776" },
	{ "mask_max_bytes", "1099511627777", "bytes 1024..1099511627776" },
	{ "mask_max_bytes", "0", "bytes 1024..1099511627776" },
	{ "mask_max_bytes", "100M", "bytes 1024..1099511627776" },
	{ "mask_max_bytes", "99999999999999999999999",
	    "bytes 1024..1099511627776" },
};

START_TEST(tls_bad_value)
{
	check_bad("tls", &bad_tls[_i]);
}
END_TEST

/* The edges of each [tls] value, through config_set as the command line. */
START_TEST(tls_value_forms)
{
	static const char *const pp[][2] = {
		{ "off", "0" }, { "v1", "1" }, { "V2", "2" }, { "OFF", "0" },
		{ "0", "0" }, { "1", "1" }, { "2", "2" },
	};
	size_t i;

	ck_assert_int_eq(set("tls", "domain", "Cover.Example.COM"), 0);
	ck_assert_uint_eq(cfg.ndomains, 1);
	ck_assert_str_eq(cfg.domains[0], "cover.example.com");
	ck_assert_int_eq(set("TLS", "Domain",
	    " www.example.org ,localhost, 123.example,x-1.y-2.z"), 0);
	ck_assert_uint_eq(cfg.ndomains, 4);
	ck_assert_str_eq(cfg.domains[0], "www.example.org");
	ck_assert_str_eq(cfg.domains[1], "localhost");
	ck_assert_str_eq(cfg.domains[2], "123.example");
	ck_assert_str_eq(cfg.domains[3], "x-1.y-2.z");
	ck_assert_int_eq(set("tls", "domain", NAME253), 0);
	ck_assert_uint_eq(strlen(cfg.domains[0]), 253);
	ck_assert_int_eq(set("tls", "domain", "a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,"
	    "a11,a12,a13,a14,a15,a16"), 0);
	ck_assert_uint_eq(cfg.ndomains, CONFIG_MAX_DOMAINS);
	ck_assert_str_eq(cfg.domains[15], "a16");
	ck_assert_int_eq(set("tls", "domain", ""), 0);
	ck_assert_uint_eq(cfg.ndomains, 0);

	ck_assert_int_eq(set("tls", "mask_host", "127.0.0.1"), 0);
	ck_assert_str_eq(cfg.mask_host, "127.0.0.1");
	ck_assert_int_eq(set("tls", "mask_host", "[::1]"), 0);
	ck_assert_str_eq(cfg.mask_host, "::1");
	ck_assert_int_eq(set("tls", "mask_host", "web.internal"), 0);
	ck_assert_str_eq(cfg.mask_host, "web.internal");
	ck_assert_int_eq(set("tls", "mask_host", ""), 0);
	ck_assert_str_eq(cfg.mask_host, "");
	ck_assert_int_eq(set("tls", "mask_port", "1"), 0);
	ck_assert_uint_eq(cfg.mask_port, 1);
	ck_assert_int_eq(set("tls", "mask_port", "65535"), 0);
	ck_assert_uint_eq(cfg.mask_port, 65535);
	for (i = 0; i < sizeof(pp) / sizeof(pp[0]); i++) {
		ck_assert_int_eq(set("tls", "mask_proxy_protocol", pp[i][0]),
		    0);
		ck_assert_int_eq(cfg.mask_proxy_protocol, pp[i][1][0] - '0');
	}
	ck_assert_int_eq(set("tls", "time_skew_past", "0"), 0);
	ck_assert_int_eq(cfg.time_skew_past, 0);
	ck_assert_int_eq(set("tls", "time_skew_past", "172800"), 0);
	ck_assert_int_eq(cfg.time_skew_past, 172800);
	ck_assert_int_eq(set("tls", "time_skew_future", "0"), 0);
	ck_assert_int_eq(cfg.time_skew_future, 0);
	ck_assert_int_eq(set("tls", "time_skew_future", "3600"), 0);
	ck_assert_int_eq(cfg.time_skew_future, 3600);
	ck_assert_int_eq(set("tls", "replay_cache_size", "1024"), 0);
	ck_assert_int_eq(cfg.replay_cache_size, 1024);
	ck_assert_int_eq(set("tls", "replay_cache_size", "16777216"), 0);
	ck_assert_int_eq(cfg.replay_cache_size, 16777216);
	ck_assert_int_eq(set("tls", "unknown_sni", "DROP"), 0);
	ck_assert_int_eq(cfg.unknown_sni, CONFIG_SNI_DROP);
	ck_assert_int_eq(set("tls", "unknown_sni", "mask"), 0);
	ck_assert_int_eq(cfg.unknown_sni, CONFIG_SNI_MASK);
	ck_assert_int_eq(set("tls", "require_sni", "yes"), 0);
	ck_assert_int_eq(cfg.require_sni, 1);
	ck_assert_int_eq(set("tls", "mask_probe_interval", "0"), 0);
	ck_assert_int_eq(cfg.mask_probe_interval, 0);
	ck_assert_int_eq(set("tls", "mask_probe_interval", "60"), 0);
	ck_assert_int_eq(cfg.mask_probe_interval, 60);
	ck_assert_int_eq(set("tls", "mask_probe_interval", "86400"), 0);
	ck_assert_int_eq(cfg.mask_probe_interval, 86400);
	ck_assert_int_eq(set("tls", "mask_timeout", "1"), 0);
	ck_assert_int_eq(cfg.mask_timeout, 1);
	ck_assert_int_eq(set("tls", "mask_timeout", "86400"), 0);
	ck_assert_int_eq(cfg.mask_timeout, 86400);
	ck_assert_int_eq(set("tls", "mask_max_bytes", "1024"), 0);
	ck_assert(cfg.mask_max_bytes == 1024);
	ck_assert_int_eq(set("tls", "mask_max_bytes", "1099511627776"), 0);
	ck_assert(cfg.mask_max_bytes == 1099511627776LL);
}
END_TEST

START_TEST(tls_full_file)
{
	static const char text[] =
	    "[server]\n"
	    "public_host = proxy.example.org\n"
	    "[TLS]\n"
	    "Domain = Cover.Example.com, www.example.org\n"
	    "mask_host = 127.0.0.1\n"
	    "mask_port = 8443\n"
	    "mask_proxy_protocol = v2\n"
	    "time_skew_past = 3600\n"
	    "time_skew_future = 5\n"
	    "replay_cache_size = 65536\n"
	    "unknown_sni = drop\n"
	    "mask_probe_interval = 0\n"
	    "mask_timeout = 30\n"
	    "mask_max_bytes = 1048576\n"
	    "[users]\n"
	    "alice = " SECRET_A "\n";

	ck_assert_int_eq(load(text), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_TLS);
	ck_assert_uint_eq(cfg.ndomains, 2);
	ck_assert_str_eq(cfg.domains[0], "cover.example.com");
	ck_assert_str_eq(cfg.domains[1], "www.example.org");
	ck_assert_str_eq(cfg.mask_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.mask_port, 8443);
	ck_assert_int_eq(cfg.mask_proxy_protocol, 2);
	ck_assert_int_eq(cfg.time_skew_past, 3600);
	ck_assert_int_eq(cfg.time_skew_future, 5);
	ck_assert_int_eq(cfg.replay_cache_size, 65536);
	ck_assert_int_eq(cfg.unknown_sni, CONFIG_SNI_DROP);
	ck_assert_int_eq(cfg.mask_probe_interval, 0);
	ck_assert_int_eq(cfg.mask_timeout, 30);
	ck_assert(cfg.mask_max_bytes == 1048576);
	ck_assert_uint_eq(cfg.nusers, 1);
}
END_TEST

/*
 * modes not given: tls with a domain, secure without; classic never. Given,
 * it is kept; tls needs a domain, a domain does not need tls.
 */
START_TEST(modes_default_and_tls)
{
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_SECURE);
	ck_assert_str_eq(cfg.mask_host, "");

	reset();
	ck_assert_int_eq(load("[tls]\ndomain = cover.example.com\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_TLS);
	ck_assert_str_eq(cfg.mask_host, "cover.example.com");
	ck_assert_uint_eq(cfg.mask_port, 443);
	/* validating again changes nothing */
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_TLS);

	/* a domain with modes given: masking only, no tls links */
	reset();
	ck_assert_int_eq(load("[server]\nmodes = secure\n"
	    "[tls]\ndomain = cover.example.com\nmask_host = ::1\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_SECURE);
	ck_assert_str_eq(cfg.mask_host, "::1");

	reset();
	ck_assert_int_eq(load("[server]\nmodes = tls, classic, secure\n"
	    "[tls]\ndomain = cover.example.com\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_CLASSIC |
	    CONFIG_MODES_SECURE | CONFIG_MODES_TLS);

	/* an emptied domain is no domain */
	reset();
	ck_assert_int_eq(set("tls", "domain", "cover.example.com"), 0);
	ck_assert_int_eq(set("tls", "domain", ""), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_SECURE);

	reset();
	ck_assert_int_eq(load("[server]\nmodes = secure, tls\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] modes = 'secure, tls': tls "
	    "needs [tls] domain");
	ck_assert_int_eq(set("server", "modes", "tls"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] modes = 'tls': tls needs [tls] "
	    "domain");
	ck_assert_int_eq(set("server", "modes", "classic, TLS"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] modes = 'classic, tls': tls "
	    "needs [tls] domain");
	ck_assert_int_eq(set("tls", "domain", "cover.example.com"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

static const struct bad bad_middle[] = {
	{ "proxy_secret_url", "core.telegram.org/getProxySecret", FORM_URL },
	{ "proxy_secret_url", "ftp://core.telegram.org/getProxySecret",
	    FORM_URL },
	{ "proxy_secret_url", "https://", FORM_URL },
	{ "proxy_secret_url", "https:///getProxySecret", FORM_URL },
	{ "proxy_secret_url", "http://?x", FORM_URL },
	{ "proxy_secret_url", "https://core.telegram.org/get Proxy", FORM_URL },
	{ "proxy_secret_url", "", FORM_URL },
	{ "proxy_config_url", "https//core.telegram.org/getProxyConfig",
	    FORM_URL },
	{ "proxy_config_url", "", FORM_URL },
	{ "proxy_config_v6_url", "getProxyConfigV6",
	    FORM_URL " (empty: no IPv6 list)" },
	{ "refresh_interval", "59", "seconds 60..604800" },
	{ "refresh_interval", "604801", "seconds 60..604800" },
	{ "refresh_interval", "0", "seconds 60..604800" },
	{ "refresh_interval", "1h", "seconds 60..604800" },
	{ "nat_info", "10.0.0.5", FORM_NAT },
	{ "nat_info", "10.0.0.5:", FORM_NAT },
	{ "nat_info", ":203.0.113.7", FORM_NAT },
	{ "nat_info", "10.0.0.5:203.0.113.7:80", FORM_NAT },
	{ "nat_info", "10.0.0.5:2001:db8::1", FORM_NAT },
	{ "nat_info", "fd00::5:203.0.113.7", FORM_NAT },
	{ "nat_info", "[fd00::5]:203.0.113.7", FORM_NAT },
	{ "nat_info", "10.0.0.5 : 203.0.113.7", FORM_NAT },
	{ "nat_info", "10.0.0.5-203.0.113.7", FORM_NAT },
	{ "nat_info", "vm.internal:203.0.113.7", FORM_NAT },
	{ "nat_info", "10.0.0.256:203.0.113.7", FORM_NAT },
	{ "public_ipv4", "2001:db8::1", "an IPv4 address (empty: auto)" },
	{ "public_ipv4", "203.0.113.7:443", "an IPv4 address (empty: auto)" },
	{ "public_ipv4", "[203.0.113.7]", "an IPv4 address (empty: auto)" },
	{ "public_ipv4", "proxy.example.org", "an IPv4 address (empty: auto)" },
	{ "public_ipv6", "203.0.113.7", "an IPv6 address (empty: auto)" },
	{ "public_ipv6", "[2001:db8::1]:443", "an IPv6 address (empty: auto)" },
	{ "public_ipv6", "2001:db8::g", "an IPv6 address (empty: auto)" },
	{ "connections_per_target", "0", FORM_CONN },
	{ "connections_per_target", "65", FORM_CONN },
	{ "connections_per_target", "4/2", FORM_CONN },
	{ "connections_per_target", "0/4", FORM_CONN },
	{ "connections_per_target", "2/65", FORM_CONN },
	{ "connections_per_target", "2/", FORM_CONN },
	{ "connections_per_target", "/4", FORM_CONN },
	{ "connections_per_target", "2/4/8", FORM_CONN },
	{ "connections_per_target", "2-4", FORM_CONN },
	{ "connections_per_target", "2 / 4", FORM_CONN },
	{ "connections_per_target", "000000002/4", FORM_CONN },
	{ "connections_per_target", "", FORM_CONN },
	{ "ping_interval", "0", "seconds 1..3600" },
	{ "ping_interval", "3601", "seconds 1..3600" },
	{ "queue_bytes", "65535", "bytes 65536..1073741824" },
	{ "queue_bytes", "1073741825", "bytes 65536..1073741824" },
	{ "queue_bytes", "4M", "bytes 65536..1073741824" },
	{ "queue_bytes", "0", "bytes 65536..1073741824" },
	{ "queue_total_bytes", "1048575", FORM_QUEUE_TOTAL },
	{ "queue_total_bytes", "1099511627777", FORM_QUEUE_TOTAL },
	{ "queue_total_bytes", "-1", FORM_QUEUE_TOTAL },
	{ "queue_total_bytes", "1G", FORM_QUEUE_TOTAL },
};

START_TEST(middle_bad_value)
{
	check_bad("middle", &bad_middle[_i]);
}
END_TEST

/* The ad tag is no secret, but 32-hex values are never echoed. */
START_TEST(ad_tag_errors)
{
	static const char *const bad[] = {
		AD_TAG "0", "3c09c680b76ee91a4c25ad51f742267", "dd" AD_TAG,
		"3c09c680b76ee91a4c25ad51f742267g", "3c09c680-b76e-e91a",
		"0x3c09c680b76ee91a4c25ad51f74226",
	};
	struct config before;
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = cfg;
		ck_assert_int_eq(set("middle", "ad_tag", bad[i]), CONFIG_ERR);
		ck_assert_str_eq(err, ERR_AD_TAG);
		ck_assert_mem_eq(&cfg, &before, sizeof(cfg));
		snprintf(text, sizeof(text), "[middle]\nad_tag = %s\n", bad[i]);
		ck_assert_int_eq(load(text), CONFIG_ERR);
		ck_assert_str_eq(err, ERR_AD_TAG);
	}
	ck_assert_int_eq(set("middle", "AD_TAG", "x"), CONFIG_ERR);
	ck_assert_str_eq(err, ERR_AD_TAG);
}
END_TEST

/* The edges of each [middle] value, through config_set. */
START_TEST(middle_value_forms)
{
	char big[4200];

	ck_assert_int_eq(set("middle", "ad_tag", AD_TAG), 0);
	ck_assert_int_eq(cfg.has_ad_tag, 1);
	ck_assert_mem_eq(cfg.ad_tag, AD_TAG_BYTES, 16);
	ck_assert_int_eq(set("middle", "ad_tag",
	    "3C09C680B76EE91A4C25AD51F742267D"), 0);
	ck_assert_mem_eq(cfg.ad_tag, AD_TAG_BYTES, 16);
	ck_assert_int_eq(set("middle", "ad_tag", ""), 0);
	ck_assert_int_eq(cfg.has_ad_tag, 0);
	ck_assert_mem_eq(cfg.ad_tag, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);

	ck_assert_int_eq(set("middle", "proxy_secret_url",
	    "http://127.0.0.1:8080/secret"), 0);
	ck_assert_str_eq(cfg.proxy_secret_url, "http://127.0.0.1:8080/secret");
	ck_assert_int_eq(set("middle", "proxy_config_url",
	    "HTTPS://[::1]:8443/conf?v=1#x"), 0);
	ck_assert_str_eq(cfg.proxy_config_url, "HTTPS://[::1]:8443/conf?v=1#x");
	ck_assert_int_eq(set("middle", "proxy_config_url", "https://x"), 0);
	ck_assert_str_eq(cfg.proxy_config_url, "https://x");
	ck_assert_int_eq(set("middle", "proxy_config_url", "https://x/\x7f"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [middle] proxy_config_url = "
	    "'https://x/?': expected " FORM_URL);
	ck_assert_int_eq(set("middle", "proxy_config_v6_url", ""), 0);
	ck_assert_str_eq(cfg.proxy_config_v6_url, "");
	/* 511 bytes fit, 512 do not */
	memset(big, 'a', sizeof(big));
	memcpy(big, "https://", 8);
	big[511] = '\0';
	ck_assert_int_eq(set("middle", "proxy_config_v6_url", big), 0);
	ck_assert_uint_eq(strlen(cfg.proxy_config_v6_url), 511);
	big[511] = 'a';
	big[512] = '\0';
	ck_assert_int_eq(set("middle", "proxy_config_v6_url", big), CONFIG_ERR);
	ck_assert_uint_eq(strlen(cfg.proxy_config_v6_url), 511);

	ck_assert_int_eq(set("middle", "proxy_secret_file", "/tmp/x"), 0);
	ck_assert_str_eq(cfg.proxy_secret_file, "/tmp/x");
	ck_assert_int_eq(set("middle", "proxy_config_file", "conf/multi.conf"),
	    0);
	ck_assert_str_eq(cfg.proxy_config_file, "conf/multi.conf");
	ck_assert_int_eq(set("middle", "proxy_config_file", ""), 0);
	ck_assert_str_eq(cfg.proxy_config_file, "");
	memset(big, 'p', sizeof(big));
	big[4095] = '\0';
	ck_assert_int_eq(set("middle", "proxy_secret_file", big), 0);
	ck_assert_uint_eq(strlen(cfg.proxy_secret_file), 4095);
	big[4095] = 'p';
	big[4096] = '\0';
	ck_assert_int_eq(set("middle", "proxy_secret_file", big), CONFIG_ERR);
	ck_assert_int_eq(strncmp(err, "config: [middle] proxy_secret_file = '"
	    "pppp", 42), 0);
	ck_assert_ptr_nonnull(strstr(err, "...': expected " FORM_PATH));

	ck_assert_int_eq(set("middle", "refresh_interval", "60"), 0);
	ck_assert_int_eq(cfg.refresh_interval, 60);
	ck_assert_int_eq(set("middle", "refresh_interval", "604800"), 0);
	ck_assert_int_eq(cfg.refresh_interval, 604800);
	ck_assert_int_eq(set("middle", "ping_interval", "1"), 0);
	ck_assert_int_eq(cfg.ping_interval, 1);
	ck_assert_int_eq(set("middle", "ping_interval", "3600"), 0);
	ck_assert_int_eq(cfg.ping_interval, 3600);
	ck_assert_int_eq(set("middle", "queue_bytes", "65536"), 0);
	ck_assert(cfg.queue_bytes == 65536);
	ck_assert_int_eq(set("middle", "queue_bytes", "1073741824"), 0);
	ck_assert(cfg.queue_bytes == 1073741824);
	ck_assert_int_eq(set("middle", "queue_total_bytes", "1048576"), 0);
	ck_assert(cfg.queue_total_bytes == 1048576);
	ck_assert_int_eq(set("middle", "queue_total_bytes", "1099511627776"), 0);
	ck_assert(cfg.queue_total_bytes == 1099511627776LL);
}
END_TEST

/* 0: a quarter of the machine's RAM (at least 64 MiB); given: kept. */
START_TEST(queue_total_auto)
{
	long long ram = (long long)sysconf(_SC_PHYS_PAGES) *
	    sysconf(_SC_PAGESIZE);

	ck_assert_int_eq(load("[middle]\nqueue_total_bytes = 0\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert(cfg.queue_total_bytes == (ram / 4 > 67108864 ? ram / 4 :
	    67108864));
	ck_assert_int_eq(load("[middle]\nqueue_total_bytes = 2097152\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert(cfg.queue_total_bytes == 2097152);
}
END_TEST

START_TEST(middle_addresses)
{
	ck_assert_int_eq(set("middle", "nat_info", "10.0.0.5:203.0.113.7"), 0);
	ck_assert_int_eq(cfg.has_nat_info, 1);
	ck_assert_str_eq(addr_str(&cfg.nat_local), "10.0.0.5 0");
	ck_assert_str_eq(addr_str(&cfg.nat_public), "203.0.113.7 0");
	ck_assert_int_eq(set("middle", "nat_info", "172.31.0.9:0.0.0.1"), 0);
	ck_assert_str_eq(addr_str(&cfg.nat_local), "172.31.0.9 0");
	ck_assert_str_eq(addr_str(&cfg.nat_public), "0.0.0.1 0");
	ck_assert_int_eq(set("middle", "nat_info", ""), 0);
	ck_assert_int_eq(cfg.has_nat_info, 0);
	ck_assert_int_eq(cfg.nat_local.ss.ss_family, 0);
	ck_assert_int_eq(cfg.nat_public.ss.ss_family, 0);

	ck_assert_int_eq(set("middle", "public_ipv4", "203.0.113.7"), 0);
	ck_assert_int_eq(cfg.has_public_ipv4, 1);
	ck_assert_str_eq(addr_str(&cfg.public_ipv4), "203.0.113.7 0");
	ck_assert_int_eq(set("middle", "public_ipv6", "2001:db8::7"), 0);
	ck_assert_int_eq(cfg.has_public_ipv6, 1);
	ck_assert_str_eq(addr_str(&cfg.public_ipv6), "2001:db8::7 0");
	ck_assert_int_eq(set("middle", "public_ipv6", "[2001:DB8::8]"), 0);
	ck_assert_str_eq(addr_str(&cfg.public_ipv6), "2001:db8::8 0");
	ck_assert_int_eq(set("middle", "public_ipv4", ""), 0);
	ck_assert_int_eq(cfg.has_public_ipv4, 0);
	ck_assert_int_eq(cfg.public_ipv4.ss.ss_family, 0);
	ck_assert_int_eq(set("middle", "public_ipv6", ""), 0);
	ck_assert_int_eq(cfg.has_public_ipv6, 0);
	ck_assert_int_eq(cfg.public_ipv6.ss.ss_family, 0);
}
END_TEST

START_TEST(connections_per_target)
{
	static const struct {
		const char *value;
		int min, max;
	} good[] = {
		{ "2/4", 2, 4 }, { "1", 1, 1 }, { "64", 64, 64 },
		{ "1/64", 1, 64 }, { "3/3", 3, 3 }, { "08/16", 8, 16 },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(set("middle", "connections_per_target",
		    good[i].value), 0);
		ck_assert_int_eq(cfg.conn_min, good[i].min);
		ck_assert_int_eq(cfg.conn_max, good[i].max);
	}
}
END_TEST

START_TEST(middle_full_file)
{
	static const char text[] =
	    "[Middle]\n"
	    "AD_TAG = " AD_TAG "\n"
	    "proxy_secret_url = http://127.0.0.1:1/s\n"
	    "proxy_config_url = http://127.0.0.1:1/c\n"
	    "proxy_config_v6_url =\n"
	    "proxy_secret_file = /var/lib/mtproxyd/proxy-secret\n"
	    "proxy_config_file = /var/lib/mtproxyd/proxy-multi.conf\n"
	    "refresh_interval = 86400\n"
	    "nat_info = 10.0.0.5:203.0.113.7\n"
	    "public_ipv4 = 203.0.113.7\n"
	    "public_ipv6 = 2001:db8::7\n"
	    "connections_per_target = 1/8\n"
	    "ping_interval = 30\n"
	    "queue_bytes = 2097152\n"
	    "[users]\n"
	    "alice = " SECRET_A "\n";

	ck_assert_int_eq(load(text), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);
	ck_assert_int_eq(cfg.has_ad_tag, 1);
	ck_assert_mem_eq(cfg.ad_tag, AD_TAG_BYTES, 16);
	ck_assert_str_eq(cfg.proxy_secret_url, "http://127.0.0.1:1/s");
	ck_assert_str_eq(cfg.proxy_config_url, "http://127.0.0.1:1/c");
	ck_assert_str_eq(cfg.proxy_config_v6_url, "");
	ck_assert_str_eq(cfg.proxy_secret_file,
	    "/var/lib/mtproxyd/proxy-secret");
	ck_assert_str_eq(cfg.proxy_config_file,
	    "/var/lib/mtproxyd/proxy-multi.conf");
	ck_assert_int_eq(cfg.refresh_interval, 86400);
	ck_assert_int_eq(cfg.has_nat_info, 1);
	ck_assert_str_eq(addr_str(&cfg.nat_local), "10.0.0.5 0");
	ck_assert_str_eq(addr_str(&cfg.nat_public), "203.0.113.7 0");
	ck_assert_int_eq(cfg.has_public_ipv4, 1);
	ck_assert_str_eq(addr_str(&cfg.public_ipv4), "203.0.113.7 0");
	ck_assert_int_eq(cfg.has_public_ipv6, 1);
	ck_assert_str_eq(addr_str(&cfg.public_ipv6), "2001:db8::7 0");
	ck_assert_int_eq(cfg.conn_min, 1);
	ck_assert_int_eq(cfg.conn_max, 8);
	ck_assert_int_eq(cfg.ping_interval, 30);
	ck_assert(cfg.queue_bytes == 2097152);
	ck_assert_uint_eq(cfg.nusers, 1);
}
END_TEST

/*
 * mode: as given; else middle with an ad tag, direct without. The tag
 * needs middle, wherever direct came from.
 */
START_TEST(mode_default_and_ad_tag)
{
	static const char *const direct[] = {
		"[server]\nmode = direct\n[middle]\nad_tag = " AD_TAG "\n",
		"[middle]\nad_tag = " AD_TAG "\n[server]\nmode = DIRECT\n",
	};
	size_t i;

	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_DIRECT);

	reset();
	ck_assert_int_eq(load("[middle]\nad_tag = " AD_TAG "\n"), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_DIRECT);
	ck_assert_int_eq(cfg.mode_given, 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);

	reset();
	ck_assert_int_eq(load("[server]\nmode = middle\n"
	    "[middle]\nad_tag = " AD_TAG "\n"), 0);
	ck_assert_int_eq(cfg.mode_given, 1);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);

	for (i = 0; i < sizeof(direct) / sizeof(direct[0]); i++) {
		reset();
		ck_assert_int_eq(load(direct[i]), 0);
		ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)),
		    CONFIG_ERR);
		ck_assert_str_eq(err, ERR_AD_DIRECT);
	}
	/* the command line's mode wins over the file's */
	ck_assert_int_eq(set("server", "mode", "middle"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);
	ck_assert_int_eq(set("server", "mode", "direct"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, ERR_AD_DIRECT);
	/* without the tag, direct is fine again */
	ck_assert_int_eq(set("middle", "ad_tag", ""), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_DIRECT);

	/* middle without a tag; the files are only looked at when used */
	reset();
	ck_assert_int_eq(load("[server]\nmode = middle\n[middle]\n"
	    "proxy_secret_file = /nonexistent/proxy-secret\n"
	    "proxy_config_file = /nonexistent/proxy-multi.conf\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_MIDDLE);
	ck_assert_int_eq(cfg.has_ad_tag, 0);
}
END_TEST

START_TEST(default_dc_in_table)
{
	ck_assert_int_eq(set("server", "default_dc", "7"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] default_dc = '7': expected a DC "
	    "id from the table (1..5 or a [dc] entry)");
	ck_assert_int_eq(set("dc", "7", "10.0.0.7:443"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

/* Connection policy: all off by default; a per-address cap below an app's
   burst at start is refused. */
START_TEST(policy_keys)
{
	ck_assert_int_eq(cfg.max_conn_per_ip, 0);
	ck_assert_int_eq(cfg.hs_fail_per_ip, 0);
	ck_assert_int_eq(cfg.hs_fail_window, 60);
	ck_assert_int_eq(cfg.max_session_lifetime, 0);
	ck_assert_int_eq(cfg.client_mss, 0);
	ck_assert_int_eq(load("[server]\nmax_connections_per_ip = 24\n"
	    "handshake_failures_per_ip = 5\nhandshake_failure_window = 30\n"
	    "max_session_lifetime = 3600\nclient_mss = 88\n"), 0);
	ck_assert_int_eq(cfg.max_conn_per_ip, 24);
	ck_assert_int_eq(cfg.hs_fail_per_ip, 5);
	ck_assert_int_eq(cfg.hs_fail_window, 30);
	ck_assert_int_eq(cfg.max_session_lifetime, 3600);
	ck_assert_int_eq(cfg.client_mss, 88);
	ck_assert_int_eq(set("server", "max_connections_per_ip", "23"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] max_connections_per_ip = '23': "
	    "expected sessions 24..1000000 (0: off)");
	ck_assert_int_eq(set("server", "max_connections_per_ip", "0"), 0);
	ck_assert_int_eq(set("server", "handshake_failure_window", "0"),
	    CONFIG_ERR);
	ck_assert_int_eq(set("server", "client_mss", "87"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] client_mss = '87': expected "
	    "bytes 88..1460 (0: the kernel's)");
	ck_assert_int_eq(set("server", "client_mss", "1461"), CONFIG_ERR);
	ck_assert_int_eq(set("server", "client_mss", "0"), 0);
	ck_assert_int_eq(set("server", "max_session_lifetime", "-1"),
	    CONFIG_ERR);
	ck_assert_int_eq(cfg.max_conn_per_ip, 0);
	ck_assert_int_eq(cfg.client_mss, 0);
}
END_TEST

/* mtproxyd check and link's keys: defaults, ranges, forms. */
START_TEST(diag_keys)
{
	ck_assert_uint_eq(cfg.public_port, 0);
	ck_assert_int_eq(cfg.print_links, 1);
	ck_assert_str_eq(cfg.clock_url, "https://core.telegram.org/");
	ck_assert_int_eq(load("[server]\npublic_port = 443\nprint_links = no\n"
	    "clock_url = http://127.0.0.1:8080/x\n"), 0);
	ck_assert_uint_eq(cfg.public_port, 443);
	ck_assert_int_eq(cfg.print_links, 0);
	ck_assert_str_eq(cfg.clock_url, "http://127.0.0.1:8080/x");
	ck_assert_int_eq(set("server", "public_port", "0"), 0);
	ck_assert_uint_eq(cfg.public_port, 0);
	ck_assert_int_eq(set("server", "public_port", "65536"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] public_port = '65536': "
	    "expected a port 1..65535 (0: the port listened on)");
	ck_assert_int_eq(set("server", "print_links", "maybe"), CONFIG_ERR);
	ck_assert_int_eq(set("server", "clock_url", "ftp://x/"), CONFIG_ERR);
	ck_assert_str_eq(cfg.clock_url, "http://127.0.0.1:8080/x");
}
END_TEST

/* [server] user and group: names kept as written (privdrop resolves). */
START_TEST(run_user_keys)
{
	char name[CONFIG_NAME_MAX + 1];

	ck_assert_int_eq(load("[server]\nuser = nobody\ngroup = nogroup\n"),
	    0);
	ck_assert_str_eq(cfg.run_user, "nobody");
	ck_assert_str_eq(cfg.run_group, "nogroup");
	/* Empty: back to none. */
	ck_assert_int_eq(set("server", "group", ""), 0);
	ck_assert_str_eq(cfg.run_group, "");
	memset(name, 'u', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(set("server", "user", name), CONFIG_ERR);
	ck_assert_ptr_nonnull(strstr(err, "expected a user name of at most "
	    "63 bytes"));
	name[CONFIG_NAME_MAX - 1] = '\0';
	ck_assert_int_eq(set("server", "user", name), 0);
	ck_assert_str_eq(cfg.run_user, name);
}
END_TEST

START_TEST(unknown_names)
{
	ck_assert_int_eq(load("[server]\nprot = 8443\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] prot: unknown key; expected one "
	    "of port, listen, public_host, mode, modes, fast_mode, prefer_ipv6, "
	    "max_clients, handshake_timeout, idle_timeout, connect_timeout, "
	    "shutdown_grace, buffer_size, dc_rcvbuf, dc_pool, dc_pool_max_age, "
	    "default_dc, pool_spare, log_level, state_dir, users_file, "
	    "state_interval, drain_timeout, public_port, print_links, "
	    "clock_url, user, group, proxy_protocol, proxy_protocol_from, "
	    "allow_file, block_file, max_connections_per_ip, "
	    "handshake_failures_per_ip, handshake_failure_window, "
	    "max_session_lifetime, client_mss");
	ck_assert_int_eq(load("[tls]\ndomains = a.example\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [tls] domains: unknown key; expected "
	    "one of domain, mask_host, mask_port, mask_proxy_protocol, "
	    "time_skew_past, time_skew_future, replay_cache_size, unknown_sni, "
	    "mask_probe_interval, mask_timeout, mask_max_bytes, require_sni");
	ck_assert_int_eq(load("[middle]\nadtag = " AD_TAG "\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [middle] adtag: unknown key; expected "
	    "one of ad_tag, proxy_secret_url, proxy_config_url, "
	    "proxy_config_v6_url, proxy_secret_file, proxy_config_file, "
	    "refresh_interval, nat_info, public_ipv4, public_ipv6, "
	    "connections_per_target, ping_interval, queue_bytes, "
	    "queue_total_bytes");
	ck_assert_int_eq(set("tls", "port", "443"), CONFIG_ERR);
	ck_assert_int_eq(strncmp(err, "config: [tls] port: unknown key; ", 33),
	    0);
	reset();
	ck_assert_int_eq(load("[server]\nport = 1\n[srever]\nport = 2\n"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [srever]: unknown section; expected "
	    "[server], [tls], [middle], [metrics], [upstream], [store], "
	    "[users], [user.NAME] or [dc]");
	ck_assert_int_eq(load("[dc:1]\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [dc:1]: unknown section; expected "
	    "[server], [tls], [middle], [metrics], [upstream], [store], "
	    "[users], [user.NAME] or [dc]");
	ck_assert_int_eq(load("port = 8443\n[server]\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: port: expected [server], [tls], "
	    "[middle], [metrics], [upstream], [store], [users] or [dc] "
	    "before the first key");
	ck_assert_int_eq(set("client", "port", "1"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [client]: unknown section; expected "
	    "[server], [tls], [middle], [metrics], [upstream], [store], "
	    "[users], [user.NAME] or [dc]");
}
END_TEST

START_TEST(syntax_errors)
{
	ck_assert_int_eq(load("[server]\nport = 1\n\nport 8443\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: line 4: expected [section], key = value "
	    "or a comment");
	ck_assert_int_eq(load("[server\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: line 1: expected [section], key = value "
	    "or a comment");
}
END_TEST

START_TEST(nul_byte)
{
	static const char text[] = "[server]\nport = 1\0\n";

	ck_assert_int_eq(config_load_buffer(text, sizeof(text) - 1, &cfg, err,
	    sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: byte 17: expected text, found a NUL byte");
}
END_TEST

START_TEST(long_line)
{
	char text[2100];

	memset(text, 'x', sizeof(text));
	memcpy(text, "[server]\nport = ", 16);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(load(text), CONFIG_ERR);
	ck_assert_str_eq(err, "config: line 2: expected at most 1023 characters "
	    "in a line");
}
END_TEST

START_TEST(duplicate_keys)
{
	ck_assert_int_eq(load("[server]\nport = 1\n[dc]\n[Server]\nPORT = 2\n"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] port: expected each key once "
	    "(defined twice)");
	reset();
	ck_assert_int_eq(load("[users]\nalice = " SECRET_A "\n"
	    "ALICE = " SECRET_B "\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] alice: expected each user name "
	    "once (defined twice)");
	/* A continuation line is part of its value, not a key. */
	reset();
	ck_assert_int_eq(load("[server]\nlisten = 127.0.0.1, \\\n"
	    "  ::1\nport = 5\n"), 0);
	ck_assert_uint_eq(cfg.nlisten, 2);
	ck_assert_uint_eq(cfg.port, 5);
}
END_TEST

/* [user.NAME]: every key, before or after the user's [users] line. */
START_TEST(user_limits)
{
	const struct config_user *u;

	ck_assert_int_eq(load("[user.Alice]\n"
	    "max_connections = 3\nmax_ips = 2\nquota = 10G\n"
	    "quota_period = month\nexpires = 2027-01-31T18:00:00Z\n"
	    "rate = 512k\nenabled = no\nad_tag = " AD_TAG "\n"
	    "[users]\nalice = " SECRET_A "\nbob = " SECRET_B "\n"
	    "[user.bob]\nquota = 1048576\nexpires = 2027-02-01\n"
	    "[server]\nmode = middle\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nusers, 2);
	u = config_find_user(&cfg, "alice");
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(u->has_secret, 1);
	ck_assert_int_eq(u->lim.max_connections, 3);
	ck_assert_int_eq(u->lim.max_ips, 2);
	ck_assert_uint_eq(u->lim.quota, 10ULL << 30);
	ck_assert_int_eq(u->lim.quota_period, PERIOD_MONTH);
	/* date -u -d 2027-01-31T18:00:00Z +%s */
	ck_assert_int_eq(u->lim.expires, 1801418400);
	ck_assert_uint_eq(u->lim.rate, 512 * 1024);
	ck_assert_int_eq(u->lim.disabled, 1);
	ck_assert_int_eq(u->lim.has_ad_tag, 1);
	ck_assert_mem_eq(u->lim.ad_tag, AD_TAG_BYTES, SECRET_LEN);
	u = config_find_user(&cfg, "bob");
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(u->lim.quota, 1048576);
	ck_assert_int_eq(u->lim.quota_period, PERIOD_TOTAL);
	/* date -u -d 2027-02-01 +%s */
	ck_assert_int_eq(u->lim.expires, 1801440000);
	ck_assert_int_eq(u->lim.max_connections, 0);
	ck_assert_int_eq(u->lim.disabled, 0);
}
END_TEST

START_TEST(user_limit_errors)
{
	ck_assert_int_eq(load("[user.alice]\nquota = 10X\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] quota = '10X': expected "
	    "bytes with an optional K, M, G or T suffix (0: none)");
	ck_assert_int_eq(load("[user.alice]\nquota_period = year\n"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] quota_period = 'year': "
	    "expected total, day, week or month");
	ck_assert_int_eq(load("[user.alice]\nexpires = 2027-02-30\n"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] expires = '2027-02-30': "
	    "expected a UTC date or date-time, ISO 8601 (2027-01-31 or "
	    "2027-01-31T18:00:00Z)");
	ck_assert_int_eq(load("[user.alice]\nrate = 100\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] rate = '100': expected "
	    "bytes per second, at least 1K, with an optional K, M, G or T "
	    "suffix (0: none)");
	ck_assert_int_eq(load("[user.alice]\nmax_connections = -1\n"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] max_connections = '-1': "
	    "expected sessions 1..1000000 (0: no cap)");
	ck_assert_int_eq(load("[user.alice]\nenabled = maybe\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] enabled = 'maybe': "
	    "expected yes or no");
	/* A tag is as secret as a secret: never quoted. */
	ck_assert_int_eq(load("[user.alice]\nad_tag = 12\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] ad_tag: expected 32 hex "
	    "digits");
	ck_assert_int_eq(load("[user.alice]\nspeed = 1\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.alice] speed: unknown key; expected "
	    "one of max_connections, max_ips, quota, quota_period, expires, "
	    "rate, enabled, ad_tag");
	ck_assert_int_eq(load("[user.a/b]\nquota = 1\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.a/b]: expected a user name of "
	    "1..63 letters, digits, '_', '.' or '-' after user.");
}
END_TEST

/* Limits for a user with no secret, a user's tag in direct mode. */
START_TEST(user_limit_validate)
{
	ck_assert_int_eq(load("[user.carol]\nquota = 1M\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.carol]: expected a line carol = "
	    "SECRET in [users]");
	reset();
	ck_assert_int_eq(load("[users]\ncarol = " SECRET_A "\n"
	    "[user.carol]\nad_tag = " AD_TAG "\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [user.carol] ad_tag: the ad tag needs "
	    "mode = middle");
}
END_TEST

START_TEST(users_errors)
{
	ck_assert_int_eq(load("[users]\nalice = " SECRET_A "0\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] alice: expected 32 hex digits");
	reset();
	ck_assert_int_eq(load("[users]\nalice = 0123456789abcdef0123456789abcdeg\n"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] alice: expected 32 hex digits");
	reset();
	ck_assert_int_eq(load("[users]\nalice = dd" SECRET_A "\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] alice: expected 32 hex digits");
	reset();
	ck_assert_int_eq(load("[users]\nalice = " SECRET_A "\nbob = "
	    "0123456789ABCDEF0123456789ABCDEF\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] bob: expected a secret of its own "
	    "(user alice has the same)");
	reset();
	ck_assert_int_eq(load("[users]\nal ice = " SECRET_A "\n"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] al ice: expected a name of 1..63 "
	    "letters, digits, '_', '.' or '-'");
	ck_assert_int_eq(set("users", "a/b", SECRET_A), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] a/b: expected a name of 1..63 "
	    "letters, digits, '_', '.' or '-'");
	ck_assert_int_eq(set("users", "", SECRET_A), CONFIG_ERR);
	ck_assert_int_eq(set("users",
	    "a123456789012345678901234567890123456789012345678901234567890123",
	    SECRET_A), CONFIG_ERR);
	/* 63 characters is the longest name */
	ck_assert_int_eq(set("users",
	    "a12345678901234567890123456789012345678901234567890123456789012",
	    SECRET_A), 0);
	/* config_set lowercases like iniparser, so names clash case-blind */
	ck_assert_int_eq(set("users", "Carol", SECRET_B), 0);
	ck_assert_str_eq(cfg.users[1].name, "carol");
	ck_assert_int_eq(set("users", "CAROL", "00000000000000000000000000000001"),
	    CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] carol: expected each user name "
	    "once (defined twice)");
	ck_assert_uint_eq(cfg.nusers, 2);
}
END_TEST

/* Issue 10: thousands of users, each found by name, secrets kept apart. */
START_TEST(many_users)
{
	const struct config_user *u;
	char name[16], hex[40];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "U%d", i);
		snprintf(hex, sizeof(hex), "%032x", i + 1);
		ck_assert_int_eq(set("users", name, hex), 0);
	}
	ck_assert_uint_eq(cfg.nusers, 20000);
	for (i = 0; i < 20000; i += 997) {
		snprintf(name, sizeof(name), "u%d", i);
		u = config_find_user(&cfg, name);
		ck_assert_ptr_nonnull(u);
		ck_assert_ptr_eq(u, &cfg.users[i]);
		ck_assert_str_eq(u->name, name);
		ck_assert_int_eq(u->secret[SECRET_LEN - 1], (i + 1) & 0xff);
		ck_assert_int_eq(u->secret[SECRET_LEN - 2], ((i + 1) >> 8) & 0xff);
	}
	ck_assert_ptr_null(config_find_user(&cfg, "u20000"));
	snprintf(hex, sizeof(hex), "%032x", 12345 + 1);
	ck_assert_int_eq(set("users", "one_more", hex), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] one_more: expected a secret of "
	    "its own (user u12345 has the same)");
	ck_assert_int_eq(set("users", "u19999", SECRET_A), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [users] u19999: expected each user name "
	    "once (defined twice)");
	ck_assert_uint_eq(cfg.nusers, 20000);
}
END_TEST

/* No error, whatever the mistake, quotes a secret. */
START_TEST(secrets_not_in_errors)
{
	static const char *const texts[] = {
		"[users]\nalice = " SECRET_A "ff\n",
		"[users]\nalice = x" SECRET_A "\n",
		"[users]\nalice = " SECRET_A "\nbob = " SECRET_A "\n",
		"[users]\nalice = " SECRET_A "\nalice = " SECRET_A "\n",
		"[server]\nalice = " SECRET_A "\n",
		"alice = " SECRET_A "\n",
		"[user]\nalice = " SECRET_A "\n",
		"[users]\nalice " SECRET_A "\n",
		"[users]\nbad name = " SECRET_A "\n",
	};
	char out[4096];
	size_t i;
	FILE *f;
	int saved;

	/* iniparser would print a bad line, secret included, on stderr. */
	f = tmpfile();
	ck_assert_ptr_nonnull(f);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		reset();
		ck_assert_int_eq(load(texts[i]), CONFIG_ERR);
		ck_assert_str_ne(err, "");
		ck_assert_ptr_null(strstr(err, "0123456789"));
	}
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
	ck_assert_uint_eq(fread(out, 1, sizeof(out), f), 0);
	fclose(f);
}
END_TEST

START_TEST(dc_entries)
{
	const struct config_dc *dc;

	ck_assert_int_eq(load("[dc]\n"
	    "2 = 10.0.0.2:443, [2001:db8::2]:8443 , 10.0.0.3:80\n"
	    "300 = [::1]:1\n"), 0);
	dc = config_find_dc(&cfg, 2);
	ck_assert_ptr_nonnull(dc);
	ck_assert_uint_eq(dc->naddr, 3);
	ck_assert_str_eq(addr_str(&dc->addr[0]), "10.0.0.2 443");
	ck_assert_str_eq(addr_str(&dc->addr[1]), "2001:db8::2 8443");
	ck_assert_str_eq(addr_str(&dc->addr[2]), "10.0.0.3 80");
	dc = config_find_dc(&cfg, 300);
	ck_assert_ptr_nonnull(dc);
	ck_assert_uint_eq(dc->naddr, 1);
	ck_assert_str_eq(addr_str(&dc->addr[0]), "::1 1");
	/* the others are untouched */
	ck_assert_uint_eq(cfg.ndcs, DC_COUNT + DC_TEST_COUNT + 1);
	ck_assert_str_eq(addr_str(&config_find_dc(&cfg, 1)->addr[0]),
	    "149.154.175.50 443");
	ck_assert_int_eq(set("dc", "32767", "1.1.1.1:1,1.1.1.2:2,1.1.1.3:3,"
	    "1.1.1.4:4,1.1.1.5:5,1.1.1.6:6,1.1.1.7:7,1.1.1.8:8"), 0);
	ck_assert_uint_eq(config_find_dc(&cfg, 32767)->naddr, 8);
}
END_TEST

static const struct bad bad_dcs[] = {
	{ "2", "dc2.example.org:443", NULL },
	{ "2", "10.0.0.1", NULL },
	{ "2", "10.0.0.1:0", NULL },
	{ "2", "10.0.0.1:65536", NULL },
	{ "2", "10.0.0.1:", NULL },
	{ "2", "2001:db8::1:443", NULL },
	{ "2", "[10.0.0.1]:443", NULL },
	{ "2", "[2001:db8::1]", NULL },
	{ "2", "10.0.0.1:443,", NULL },
	{ "2", "", NULL },
	{ "2", "[::1]:1,[::1]:2,[::1]:3,[::1]:4,[::1]:5,[::1]:6,[::1]:7,"
	    "[::1]:8,[::1]:9", NULL },
	{ "0", "10.0.0.1:443", "a DC id 1..32767 as the key" },
	{ "-2", "10.0.0.1:443", "a DC id 1..32767 as the key" },
	{ "32768", "10.0.0.1:443", "a DC id 1..32767 as the key" },
	{ "dc2", "10.0.0.1:443", "a DC id 1..32767 as the key" },
};

START_TEST(dc_bad)
{
	const struct bad *b = &bad_dcs[_i];
	char want[512];

	snprintf(want, sizeof(want), "config: [dc] %s = '%s': expected %s",
	    b->key, b->value, b->form != NULL ? b->form :
	    "a comma-separated list of at most 8 IPv4:port or [IPv6]:port");
	ck_assert_int_eq(set("dc", b->key, b->value), CONFIG_ERR);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(addr_str(&config_find_dc(&cfg, 2)->addr[0]),
	    "149.154.167.51 443");
}
END_TEST

/* Test DC ids reach the test DCs, built in or from [dc]; never production. */
START_TEST(test_dcs)
{
	static const char *const want[][2] = {
		{ "10001", "149.154.175.10 443" },
		{ "10002", "149.154.167.40 443" },
		{ "10003", "149.154.175.117 443" },
		{ "-10003", "149.154.175.117 443" },
		{ "10004", "149.154.167.40 443" },	/* none: test DC 2 */
		{ "10005", "149.154.167.40 443" },
		{ "10006", "149.154.167.51 443" },	/* not a test id */
	};
	const struct config_dc *dc;
	size_t i;
	int fallback;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(direct_pick_dc(&cfg, atoi(want[i][0]), &dc,
		    &fallback), 0);
		ck_assert_msg(strcmp(addr_str(&dc->addr[0]), want[i][1]) == 0,
		    "DC %s: %s", want[i][0], addr_str(&dc->addr[0]));
		ck_assert_int_eq(fallback, i >= 4);
	}
	ck_assert_str_eq(addr_str(&config_find_dc(&cfg, 10001)->addr[1]),
	    "2001:b28:f23d:f001::e 443");
	ck_assert_int_eq(set("dc", "10002", "127.0.0.1:9002"), 0);
	ck_assert_int_eq(direct_pick_dc(&cfg, 10002, &dc, &fallback), 0);
	ck_assert_str_eq(addr_str(&dc->addr[0]), "127.0.0.1 9002");
	ck_assert_uint_eq(dc->naddr, 1);
	ck_assert_int_eq(direct_pick_dc(&cfg, 10005, &dc, &fallback), 0);
	ck_assert_str_eq(addr_str(&dc->addr[0]), "127.0.0.1 9002");
	ck_assert_uint_eq(cfg.ndcs, DC_COUNT + DC_TEST_COUNT);
}
END_TEST

START_TEST(too_many_dcs)
{
	char id[16];
	int i;

	for (i = DC_COUNT + DC_TEST_COUNT; i < CONFIG_MAX_DCS; i++) {
		snprintf(id, sizeof(id), "%d", 100 + i);
		ck_assert_int_eq(set("dc", id, "10.0.0.1:443"), 0);
	}
	ck_assert_int_eq(set("dc", "99", "10.0.0.1:443"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [dc] 99 = '10.0.0.1:443': expected at "
	    "most 64 DC ids");
	/* replacing an id needs no new slot */
	ck_assert_int_eq(set("dc", "3", "10.0.0.3:443"), 0);
}
END_TEST

/* make check says where the sources are; run by hand, this file does. */
static const char *
srcdir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("MTPROXYD_SRCDIR");
	char *p;

	if (env != NULL)
		return env;
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	if ((p = strstr(dir, "tests/unit/")) == NULL || p == dir)
		return ".";
	p[-1] = '\0';
	return dir;
}

/* The shipped file runs as is: it loads, validates, and has no users. */
START_TEST(shipped_file)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/conf/mtproxyd.conf", srcdir());
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.port, 8443);
	ck_assert_uint_eq(cfg.nlisten, 2);
	ck_assert_str_eq(addr_str(&cfg.listen[0]), "0.0.0.0 8443");
	ck_assert_str_eq(addr_str(&cfg.listen[1]), ":: 8443");
	ck_assert_uint_eq(cfg.nusers, 0);
	ck_assert_uint_eq(cfg.ndcs, DC_COUNT + DC_TEST_COUNT);
	ck_assert_int_eq(cfg.mode, CONFIG_MODE_DIRECT);
	ck_assert_uint_eq(cfg.modes, CONFIG_MODES_SECURE);
	ck_assert_uint_eq(cfg.ndomains, 0);
	ck_assert_int_eq(cfg.has_ad_tag, 0);
	ck_assert_str_eq(cfg.proxy_secret_url,
	    "https://core.telegram.org/getProxySecret");
	ck_assert_str_eq(cfg.proxy_config_file, "");
	ck_assert_int_eq(cfg.conn_min, 2);
	ck_assert_int_eq(cfg.conn_max, 4);
	ck_assert(cfg.queue_bytes == 33554432);	/* the official proxy's */
	ck_assert(cfg.queue_total_bytes >= 67108864);	/* auto */
	ck_assert_int_eq(cfg.has_metrics, 1);
	ck_assert_str_eq(addr_str(&cfg.metrics_listen), "127.0.0.1 9410");
	ck_assert_uint_eq(cfg.nallow, 2);
}
END_TEST

START_TEST(load_file_errors)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[PATH_MAX], want[PATH_MAX + 128];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)),
	    CONFIG_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or "
	    "directory", path);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(config_load(dir, &cfg, err, sizeof(err)),
	    CONFIG_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot read: not a regular file", dir);
	ck_assert_str_eq(err, want);

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[server]\nport = 70000\n", f);
	fclose(f);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), CONFIG_ERR);
	snprintf(want, sizeof(want), "%s: config: [server] port = '70000': "
	    "expected a port 1..65535 (0: any free port)", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* users_ensure_default */

static char tmpdir[64];

static void
tmp_setup(void)
{
	setup();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	ck_assert_int_eq(tfile_rm_tree(tmpdir), 0);
}

START_TEST(proxy_protocol)
{
	struct sockaddr_in a;

	ck_assert_uint_eq(cfg.proxy_protocol, 0);
	ck_assert_uint_eq(cfg.nproxy_from, 0);
	ck_assert_int_eq(load("[server]\nproxy_protocol = v2\n"
	    "proxy_protocol_from = 127.0.0.1, 10.0.0.0/8\n"), 0);
	ck_assert_uint_eq(cfg.proxy_protocol, CONFIG_PROXY_V2);
	ck_assert_uint_eq(cfg.nproxy_from, 2);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x0a000203);
	ck_assert(config_cidr_match(cfg.proxy_from, cfg.nproxy_from,
	    (struct sockaddr *)&a));
	a.sin_addr.s_addr = htonl(0x7f000002);
	ck_assert(!config_cidr_match(cfg.proxy_from, cfg.nproxy_from,
	    (struct sockaddr *)&a));
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(set("server", "proxy_protocol", "v1"), 0);
	ck_assert_uint_eq(cfg.proxy_protocol, CONFIG_PROXY_V1);
	ck_assert_int_eq(set("server", "proxy_protocol", "ANY"), 0);
	ck_assert_uint_eq(cfg.proxy_protocol,
	    CONFIG_PROXY_V1 | CONFIG_PROXY_V2);
	/* On, with no one to trust: refused, not open to every peer. */
	ck_assert_int_eq(set("server", "proxy_protocol_from", ""), 0);
	ck_assert_uint_eq(cfg.nproxy_from, 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [server] proxy_protocol: expected "
	    "proxy_protocol_from, the addresses of the load balancers that "
	    "send the header");
	ck_assert_int_eq(set("server", "proxy_protocol", "off"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

static void
put(const char *dir, const char *name, const char *text)
{
	itest_write_file(dir, name, text, strlen(text));
}

static int
listed(const struct addrlist *l, const char *ip)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return addrlist_match(l, (struct sockaddr *)&a);
}

/* allow_file and block_file: loaded by config_load, replaced by the next. */
START_TEST(address_lists)
{
	char conf[PATH_MAX], allow[PATH_MAX], block[PATH_MAX], text[3 * PATH_MAX];
	char want[PATH_MAX + 128];

	snprintf(conf, sizeof(conf), "%s/c.conf", tmpdir);
	snprintf(allow, sizeof(allow), "%s/allow.txt", tmpdir);
	snprintf(block, sizeof(block), "%s/block.txt", tmpdir);
	snprintf(text, sizeof(text), "[server]\nallow_file = %s\n"
	    "block_file = %s\n", allow, block);
	put(tmpdir, "c.conf", text);
	put(tmpdir, "allow.txt", "# lan\n10.0.0.0/8\n");
	put(tmpdir, "block.txt", "10.6.6.6\n");
	ck_assert_int_eq(config_load(conf, &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.allow_file, allow);
	ck_assert_ptr_nonnull(cfg.allow_list);
	ck_assert(listed(cfg.allow_list, "10.6.6.6"));
	ck_assert(!listed(cfg.allow_list, "11.0.0.1"));
	ck_assert(listed(cfg.block_list, "10.6.6.6"));
	ck_assert(!listed(cfg.block_list, "10.6.6.7"));

	put(tmpdir, "block.txt", "10.6.6.7\n");
	ck_assert_int_eq(config_load(conf, &cfg, err, sizeof(err)), 0);
	ck_assert(!listed(cfg.block_list, "10.6.6.6"));
	ck_assert(listed(cfg.block_list, "10.6.6.7"));

	put(tmpdir, "block.txt", "10.6.6.7\n\n  10.6.6.300 # x\n");
	ck_assert_int_eq(config_load(conf, &cfg, err, sizeof(err)), CONFIG_ERR);
	snprintf(want, sizeof(want), "%s: line 3: '10.6.6.300': expected an "
	    "IPv4 or IPv6 address or ADDR/BITS", block);
	ck_assert_str_eq(err, want);

	unlink(allow);
	ck_assert_int_eq(config_load(conf, &cfg, err, sizeof(err)),
	    CONFIG_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or "
	    "directory", allow);
	ck_assert_str_eq(err, want);
	config_free(&cfg);
	ck_assert_ptr_null(cfg.allow_list);
	ck_assert_ptr_null(cfg.block_list);
}
END_TEST

static void
read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* users_file: users and their limits kept apart; nothing else allowed. */
START_TEST(users_file_loaded)
{
	char main_path[128], users[128], text[512];
	const struct config_user *u;

	snprintf(main_path, sizeof(main_path), "%s/main.conf", tmpdir);
	snprintf(users, sizeof(users), "%s/users.conf", tmpdir);
	snprintf(text, sizeof(text), "[server]\nusers_file = %s\n[users]\n"
	    "alice = " SECRET_A "\n", users);
	ck_assert_int_eq(tfile_write(main_path, text, strlen(text)), 0);
	snprintf(text, sizeof(text), "[users]\nbob = " SECRET_B "\n"
	    "[user.bob]\nmax_ips = 4\n");
	ck_assert_int_eq(tfile_write(users, text, strlen(text)), 0);
	ck_assert_int_eq(config_load(main_path, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nusers, 2);
	u = config_find_user(&cfg, "bob");
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(u->lim.max_ips, 4);
	ck_assert_mem_eq(u->secret, "\xfe\xdc\xba\x98", 4);

	snprintf(text, sizeof(text), "[users]\nalice = " SECRET_B "\n");
	ck_assert_int_eq(tfile_write(users, text, strlen(text)), 0);
	reset();
	ck_assert_int_eq(config_load(main_path, &cfg, err, sizeof(err)),
	    CONFIG_ERR);
	snprintf(text, sizeof(text), "%s: config: [users] alice: expected each "
	    "user name once (defined twice)", users);
	ck_assert_str_eq(err, text);

	snprintf(text, sizeof(text), "[server]\nport = 1\n");
	ck_assert_int_eq(tfile_write(users, text, strlen(text)), 0);
	reset();
	ck_assert_int_eq(config_load(main_path, &cfg, err, sizeof(err)),
	    CONFIG_ERR);
	snprintf(text, sizeof(text), "%s: config: [server]: expected only "
	    "[users] and [user.NAME] sections in a users_file", users);
	ck_assert_str_eq(err, text);
}
END_TEST

START_TEST(default_user_created_and_reused)
{
	char path[PATH_MAX], text[64], hex[40];
	uint8_t first[SECRET_LEN];
	struct stat st;
	size_t i;

	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/a/b", tmpdir);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nusers, 1);
	ck_assert_str_eq(cfg.users[0].name, "default");
	memcpy(first, cfg.users[0].secret, SECRET_LEN);

	ck_assert_int_eq(stat(cfg.state_dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/secret", tmpdir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 33);
	read_file(path, text, sizeof(text));
	for (i = 0; i < SECRET_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", first[i]);
	strcat(hex, "\n");
	ck_assert_str_eq(text, hex);

	/* a second start reads the same secret */
	reset();
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/a/b/", tmpdir);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nusers, 1);
	ck_assert_mem_eq(cfg.users[0].secret, first, SECRET_LEN);
	read_file(path, text, sizeof(text));
	ck_assert_str_eq(text, hex);

	/* configured users: nothing to do */
	reset();
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/c", tmpdir);
	ck_assert_int_eq(set("users", "alice", SECRET_A), 0);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nusers, 1);
	ck_assert_str_eq(cfg.users[0].name, "alice");
	ck_assert_int_eq(stat(cfg.state_dir, &st), -1);
}
END_TEST

START_TEST(default_user_existing_file)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", tmpdir);
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(SECRET_B, f);	/* no newline: still accepted */
	fclose(f);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)), 0);
	ck_assert_mem_eq(cfg.users[0].secret,
	    "\xfe\xdc\xba\x98\x76\x54\x32\x10\xfe\xdc\xba\x98\x76\x54\x32\x10",
	    16);

	/* a damaged file is an error, never silently replaced */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(SECRET_A "00\n", f);
	fclose(f);
	reset();
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", tmpdir);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)),
	    USERS_ERR);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "expected 32 hex digits"));
	ck_assert_ptr_null(strstr(err, "0123456789"));
	ck_assert_uint_eq(cfg.nusers, 0);
}
END_TEST

START_TEST(default_user_bad_state_dir)
{
	char file[128], want[PATH_MAX * 3];
	FILE *f;

	snprintf(file, sizeof(file), "%s/file", tmpdir);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/sub", file);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)),
	    USERS_ERR);
	snprintf(want, sizeof(want), "[server] state_dir = '%s': cannot create "
	    "%s: Not a directory", cfg.state_dir, cfg.state_dir);
	ck_assert_str_eq(err, want);

	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", file);
	ck_assert_int_eq(users_ensure_default(&cfg, err, sizeof(err)),
	    USERS_ERR);
	snprintf(want, sizeof(want), "[server] state_dir = '%s': cannot use "
	    "%s: Not a directory", file, file);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(cfg.nusers, 0);
}
END_TEST

/* users_print_links */

static char *
links(const struct config *c, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	*rc = users_print_links(c, c->port, f);
	fclose(f);
	return buf;
}

START_TEST(print_links)
{
	char *out;
	int rc;

	ck_assert_int_eq(set("server", "public_host", "203.0.113.7"), 0);
	ck_assert_int_eq(set("users", "alice", SECRET_A), 0);
	ck_assert_int_eq(set("users", "bob", SECRET_B), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	out = links(&cfg, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out,
	    "user alice (secure): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=dd" SECRET_A "\n"
	    "user alice (secure): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=dd" SECRET_A "\n"
	    "user bob (secure): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=dd" SECRET_B "\n"
	    "user bob (secure): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=dd" SECRET_B "\n");
	free(out);

	ck_assert_int_eq(set("server", "modes", "classic, secure"), 0);
	ck_assert_int_eq(set("server", "port", "443"), 0);
	cfg.nusers = 1;
	out = links(&cfg, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out,
	    "user alice (classic): tg://proxy?server=203.0.113.7&port=443"
	    "&secret=" SECRET_A "\n"
	    "user alice (classic): https://t.me/proxy?server=203.0.113.7"
	    "&port=443&secret=" SECRET_A "\n"
	    "user alice (secure): tg://proxy?server=203.0.113.7&port=443"
	    "&secret=dd" SECRET_A "\n"
	    "user alice (secure): https://t.me/proxy?server=203.0.113.7"
	    "&port=443&secret=dd" SECRET_A "\n");
	free(out);
}
END_TEST

/* ee + key + hex of the first domain, after classic and secure. */
START_TEST(print_links_tls)
{
	char *out;
	int rc;

	ck_assert_int_eq(load("[server]\npublic_host = 203.0.113.7\n"
	    "[tls]\ndomain = Cover.Example.COM, www.example.org\n"
	    "[users]\nalice = " SECRET_A "\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	out = links(&cfg, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out,
	    "user alice (tls): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=ee" SECRET_A HEX_COVER "\n"
	    "user alice (tls): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=ee" SECRET_A HEX_COVER "\n");
	free(out);

	ck_assert_int_eq(set("server", "modes", "tls, secure, classic"), 0);
	ck_assert_int_eq(set("users", "bob", SECRET_B), 0);
	out = links(&cfg, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out,
	    "user alice (classic): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=" SECRET_A "\n"
	    "user alice (classic): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=" SECRET_A "\n"
	    "user alice (secure): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=dd" SECRET_A "\n"
	    "user alice (secure): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=dd" SECRET_A "\n"
	    "user alice (tls): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=ee" SECRET_A HEX_COVER "\n"
	    "user alice (tls): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=ee" SECRET_A HEX_COVER "\n"
	    "user bob (classic): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=" SECRET_B "\n"
	    "user bob (classic): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=" SECRET_B "\n"
	    "user bob (secure): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=dd" SECRET_B "\n"
	    "user bob (secure): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=dd" SECRET_B "\n"
	    "user bob (tls): tg://proxy?server=203.0.113.7&port=8443"
	    "&secret=ee" SECRET_B HEX_COVER "\n"
	    "user bob (tls): https://t.me/proxy?server=203.0.113.7"
	    "&port=8443&secret=ee" SECRET_B HEX_COVER "\n");
	free(out);
}
END_TEST

START_TEST(link_host)
{
	char host[256];
	int rc;

	ck_assert_int_eq(set("server", "public_host", "proxy.example.org"), 0);
	ck_assert_int_eq(users_link_host(&cfg, host, sizeof(host)), 0);
	ck_assert_str_eq(host, "proxy.example.org");
	ck_assert_int_eq(users_link_host(&cfg, host, 5), USERS_ERR);

	/* auto: an interface address, or 127.0.0.1 and a warning */
	ck_assert_int_eq(set("server", "public_host", ""), 0);
	rc = users_link_host(&cfg, host, sizeof(host));
	ck_assert(rc == 0 || rc == 1);
	if (rc == 1)
		ck_assert_str_eq(host, "127.0.0.1");
	else
		ck_assert(strcmp(host, "127.0.0.1") != 0 &&
		    strcmp(host, "::1") != 0 && host[0] != '\0');
}
END_TEST

/* log lines */

static void
capture_log(void (*fn)(void), char *out, size_t len)
{
	FILE *f = tmpfile();
	size_t n;
	int saved = dup(STDERR_FILENO);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
log_some(void)
{
	char big[2000];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_set_level(LOGL_INFO);
	log_info("hello %d\nworld", 42);
	log_debug("not shown");
	log_error("%s", big);
}

START_TEST(log_lines)
{
	char out[4096], *second;
	size_t i;

	capture_log(log_some, out, sizeof(out));
	/* 2026-11-25T12:00:00.123Z INFO hello 42 world */
	ck_assert_uint_ge(strlen(out), 25);
	for (i = 0; i < 24; i++) {
		if (i == 4 || i == 7)
			ck_assert_int_eq(out[i], '-');
		else if (i == 10)
			ck_assert_int_eq(out[i], 'T');
		else if (i == 13 || i == 16)
			ck_assert_int_eq(out[i], ':');
		else if (i == 19)
			ck_assert_int_eq(out[i], '.');
		else if (i == 23)
			ck_assert_int_eq(out[i], 'Z');
		else
			ck_assert(out[i] >= '0' && out[i] <= '9');
	}
	ck_assert_int_eq(strncmp(out + 24, " INFO hello 42 world\n", 21), 0);
	second = out + 24 + 21;
	/* a long line is cut to 1024 bytes, newline included */
	ck_assert_uint_eq(strlen(second), 1024);
	ck_assert_int_eq(strncmp(second + 24, " ERROR yyy", 10), 0);
	ck_assert_int_eq(second[1022], 'y');
	ck_assert_int_eq(second[1023], '\n');
	ck_assert_int_eq(log_enabled(LOGL_INFO), 1);
	ck_assert_int_eq(log_enabled(LOGL_DEBUG), 0);
	log_set_level(LOGL_ERROR);
	ck_assert_int_eq(log_enabled(LOGL_WARN), 0);
	ck_assert_int_eq(log_enabled(LOGL_ERROR), 1);
}
END_TEST

/* stats */

START_TEST(stats_output)
{
	static struct stats st;
	struct accounts *acc;
	struct account *a;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_str_eq(stats_reject_name(STATS_REJECT_MAX_CLIENTS),
	    "max_clients");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_POOL_FULL), "pool_full");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_BAD_SECRET),
	    "bad_secret");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_MODE), "mode_refused");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_TIMEOUT),
	    "handshake_timeout");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_DC_UNREACHABLE),
	    "dc_unreachable");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_REPLAY), "replay");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_NO_FD), "no_fd");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_NO_THREAD),
	    "no_thread");
	ck_assert_str_eq(stats_reject_name(STATS_REJECT_COUNT), "unknown");

	ck_assert_int_eq(set("users", "alice", SECRET_A), 0);
	atomic_store(&st.accepted, 7);
	atomic_store(&st.rejected[STATS_REJECT_BAD_SECRET], 3);
	atomic_store(&st.rejected[STATS_REJECT_REPLAY], 4);
	atomic_store(&st.masked, 2);
	atomic_store(&st.bytes_in, 1234567890123ULL);
	atomic_store(&st.relay_buffers, 2);
	ck_assert_int_eq(accounts_new(&acc), 0);
	a = accounts_get(acc, "alice");
	ck_assert_ptr_nonnull(a);
	atomic_store(&a->connections, 5);
	atomic_store(&a->bytes[ACCOUNT_DOWN], 9);
	atomic_store(&a->rejects[ACCOUNT_LIMIT_IPS], 4);
	atomic_store(&a->used, 77);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	stats_write(&cfg, &st, acc, -1, f);
	accounts_free(acc);
	fclose(f);
	ck_assert_str_eq(buf,
	    "accepted 7\n"
	    "active -1\n"
	    "handshakes 0\n"
	    "unknown_dc 0\n"
	    "masked 2\n"
	    "mask_failed 0\n"
	    "bytes_in 1234567890123\n"
	    "bytes_out 0\n"
	    "relay_buffers 2\n"
	    "relay_pipes 0\n"
	    "rejected{reason=\"max_clients\"} 0\n"
	    "rejected{reason=\"pool_full\"} 0\n"
	    "rejected{reason=\"bad_secret\"} 3\n"
	    "rejected{reason=\"mode_refused\"} 0\n"
	    "rejected{reason=\"handshake_timeout\"} 0\n"
	    "rejected{reason=\"dc_unreachable\"} 0\n"
	    "rejected{reason=\"not_tls\"} 0\n"
	    "rejected{reason=\"tls_digest\"} 0\n"
	    "rejected{reason=\"tls_time\"} 0\n"
	    "rejected{reason=\"tls_sni\"} 0\n"
	    "rejected{reason=\"tls_inner\"} 0\n"
	    "rejected{reason=\"replay\"} 4\n"
	    "rejected{reason=\"no_fd\"} 0\n"
	    "rejected{reason=\"no_thread\"} 0\n"
	    "rejected{reason=\"user_limit\"} 0\n"
	    "rejected{reason=\"proxy_header\"} 0\n"
	    "rejected{reason=\"blocked\"} 0\n"
	    "rejected{reason=\"tls_no_sni\"} 0\n"
	    "rejected{reason=\"tls_malformed\"} 0\n"
	    "rejected{reason=\"hello_too_big\"} 0\n"
	    "rejected{reason=\"tls_group\"} 0\n"
	    "rejected{reason=\"per_ip\"} 0\n"
	    "rejected{reason=\"backoff\"} 0\n"
	    "rejected{reason=\"evicted\"} 0\n"
	    "user_connections{user=\"alice\"} 5\n"
	    "user_active{user=\"alice\"} 0\n"
	    "user_bytes_in{user=\"alice\"} 0\n"
	    "user_bytes_out{user=\"alice\"} 9\n"
	    "user_limit_rejects{user=\"alice\",limit=\"disabled\"} 0\n"
	    "user_limit_rejects{user=\"alice\",limit=\"expired\"} 0\n"
	    "user_limit_rejects{user=\"alice\",limit=\"quota\"} 0\n"
	    "user_limit_rejects{user=\"alice\",limit=\"max_connections\"} "
	    "0\n"
	    "user_limit_rejects{user=\"alice\",limit=\"max_ips\"} 4\n"
	    "user_quota_used{user=\"alice\"} 77\n");
	free(buf);
}
END_TEST

/* --- [metrics] */

#define METRICS_LISTEN_FORM \
	"IPv4:port or [IPv6]:port, not the client port (empty: off)"
#define METRICS_ALLOW_FORM "a comma-separated list of at most 16 ADDR/BITS"

static const struct bad bad_metrics[] = {
	{ "listen", "127.0.0.1", METRICS_LISTEN_FORM },
	{ "listen", "localhost:9410", METRICS_LISTEN_FORM },
	{ "listen", "127.0.0.1:65536", METRICS_LISTEN_FORM },
	{ "listen", "::1:9410", METRICS_LISTEN_FORM },
	{ "allow", "10.0.0.0/33", METRICS_ALLOW_FORM },
	{ "allow", "::1/129", METRICS_ALLOW_FORM },
	{ "allow", "10.0.0.0/", METRICS_ALLOW_FORM },
	{ "allow", "10.0.0.0/-1", METRICS_ALLOW_FORM },
	{ "allow", "10.0.0/8", METRICS_ALLOW_FORM },
	{ "allow", "[::1]/128", METRICS_ALLOW_FORM },
	{ "allow", "10.0.0.0/8,,::1/128", METRICS_ALLOW_FORM },
	{ "allow", "", METRICS_ALLOW_FORM },
};

START_TEST(metrics_bad_value)
{
	check_bad("metrics", &bad_metrics[_i]);
}
END_TEST

static int
allowed(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return config_cidr_match(cfg.allow, cfg.nallow, (struct sockaddr *)&ss);
}

/* Off by default, loopback only; allow replaces the list, bit-exact. */
START_TEST(metrics_values)
{
	ck_assert_int_eq(cfg.has_metrics, 0);
	ck_assert_int_eq(allowed("127.0.0.1"), 1);
	ck_assert_int_eq(allowed("127.255.255.254"), 1);
	ck_assert_int_eq(allowed("::1"), 1);
	ck_assert_int_eq(allowed("::ffff:127.0.0.2"), 1);
	ck_assert_int_eq(allowed("128.0.0.1"), 0);
	ck_assert_int_eq(allowed("::2"), 0);
	ck_assert_int_eq(allowed("10.0.0.1"), 0);

	ck_assert_int_eq(set("metrics", "listen", "127.0.0.1:9410"), 0);
	ck_assert_int_eq(cfg.has_metrics, 1);
	ck_assert_str_eq(addr_str(&cfg.metrics_listen), "127.0.0.1 9410");
	ck_assert_int_eq(set("metrics", "listen", "[::1]:19410"), 0);
	ck_assert_str_eq(addr_str(&cfg.metrics_listen), "::1 19410");
	ck_assert_int_eq(set("metrics", "listen", ""), 0);
	ck_assert_int_eq(cfg.has_metrics, 0);

	ck_assert_int_eq(set("metrics", "allow", "172.16.0.0/12, 2001:db8::/33,"
	    " 192.0.2.7"), 0);
	ck_assert_uint_eq(cfg.nallow, 3);
	ck_assert_int_eq(allowed("172.31.255.255"), 1);
	ck_assert_int_eq(allowed("172.16.0.0"), 1);
	ck_assert_int_eq(allowed("172.32.0.0"), 0);
	ck_assert_int_eq(allowed("172.15.255.255"), 0);
	ck_assert_int_eq(allowed("2001:db8:7fff::1"), 1);
	ck_assert_int_eq(allowed("2001:db8:8000::1"), 0);
	ck_assert_int_eq(allowed("192.0.2.7"), 1);
	ck_assert_int_eq(allowed("192.0.2.6"), 0);
	ck_assert_int_eq(allowed("127.0.0.1"), 0);
	ck_assert_int_eq(set("metrics", "allow", "0.0.0.0/0"), 0);
	ck_assert_int_eq(allowed("203.0.113.9"), 1);
	ck_assert_int_eq(allowed("::1"), 0);
}
END_TEST

/* Never on the client port, whatever the address. */
START_TEST(metrics_not_client_port)
{
	ck_assert_int_eq(load("[server]\nport = 8443\nlisten = 127.0.0.1\n"
	    "[metrics]\nlisten = 127.0.0.2:8443\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [metrics] listen: expected a port "
	    "other than the client port 8443");
	reset();
	ck_assert_int_eq(load("[server]\nport = 8443\n"
	    "[metrics]\nlisten = 127.0.0.1:8444\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

/* --- [upstream] */

#define SOCKS5_FORM "HOST:PORT, HOST an IPv4 address, [IPv6 address] or " \
	"host name (empty: connect directly)"

static const struct bad bad_upstream[] = {
	{ "socks5", "127.0.0.1", SOCKS5_FORM },
	{ "socks5", "127.0.0.1:0", SOCKS5_FORM },
	{ "socks5", "127.0.0.1:65536", SOCKS5_FORM },
	{ "socks5", "127.0.0.1:", SOCKS5_FORM },
	{ "socks5", ":1080", SOCKS5_FORM },
	{ "socks5", "::1:1080", SOCKS5_FORM },
	{ "socks5", "[127.0.0.1]:1080", SOCKS5_FORM },
	{ "socks5", "bad host:1080", SOCKS5_FORM },
	{ "socks5", "x_y.org:1080", SOCKS5_FORM },
	{ "socks5", "1.2.3:1080", SOCKS5_FORM },
	{ "username", NAME253 "xxx", "1..255 bytes (empty: no authentication)" },
};

START_TEST(upstream_bad_value)
{
	check_bad("upstream", &bad_upstream[_i]);
}
END_TEST

START_TEST(upstream_values)
{
	const struct config_upstream *up = &cfg.upstream;

	ck_assert_int_eq(up->has_socks5, 0);
	ck_assert_int_eq(load("[upstream]\nsocks5 = 127.0.0.1:1080\n"), 0);
	ck_assert_int_eq(up->has_socks5, 1);
	ck_assert_int_eq(up->resolved, 1);
	ck_assert_str_eq(up->host, "127.0.0.1");
	ck_assert_uint_eq(up->port, 1080);
	ck_assert_str_eq(addr_str(&up->addr), "127.0.0.1 1080");
	ck_assert_int_eq(set("upstream", "socks5", "[::1]:9050"), 0);
	ck_assert_str_eq(up->host, "::1");
	ck_assert_str_eq(addr_str(&up->addr), "::1 9050");
	/* A name waits for direct_resolve. */
	ck_assert_int_eq(set("upstream", "socks5", "socks.example.org:1080"), 0);
	ck_assert_int_eq(up->resolved, 0);
	ck_assert_str_eq(up->host, "socks.example.org");
	ck_assert_uint_eq(up->port, 1080);
	ck_assert_int_eq(set("upstream", "socks5", NAME253 ":65535"), 0);
	ck_assert_str_eq(up->host, NAME253);
	ck_assert_int_eq(set("upstream", "username", "alice"), 0);
	ck_assert_int_eq(set("upstream", "password", "pw"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(up->username, "alice");
	ck_assert_str_eq(up->password, "pw");
	ck_assert_int_eq(set("upstream", "socks5", ""), 0);
	ck_assert_int_eq(up->has_socks5, 0);
	/* RFC 1929's longest. */
	ck_assert_int_eq(set("upstream", "username", NAME253 "xx"), 0);
	ck_assert_uint_eq(strlen(up->username), 255);
	config_free(&cfg);
	ck_assert_str_eq(cfg.upstream.password, "");
}
END_TEST

/* The password is a secret: neither a bad value nor a duplicate shows it. */
START_TEST(upstream_password_hidden)
{
	char text[1024];

	snprintf(text, sizeof(text), "[upstream]\npassword = %s\n",
	    NAME253 "Zq9");
	ck_assert_int_eq(load(text), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [upstream] password: expected "
	    "1..255 bytes (empty: none)");
	config_defaults(&cfg);
	ck_assert_int_eq(load("[upstream]\npassword = Zq9x\n"
	    "password = Zq9y\n"), CONFIG_ERR);
	ck_assert_ptr_null(strstr(err, "Zq9"));
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(upstream_validate)
{
	ck_assert_int_eq(load("[upstream]\nsocks5 = 127.0.0.1:1080\n"
	    "username = alice\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [upstream] username, password: "
	    "expected both or neither");
	config_defaults(&cfg);
	ck_assert_int_eq(load("[upstream]\npassword = pw\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [upstream] username, password: "
	    "expected both or neither");
	config_defaults(&cfg);
	ck_assert_int_eq(load("[upstream]\nusername = u\npassword = pw\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [upstream] username: needs socks5 = "
	    "HOST:PORT");
	config_defaults(&cfg);
	ck_assert_int_eq(load("[server]\nmode = middle\n"
	    "[upstream]\nsocks5 = 127.0.0.1:1080\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [upstream] socks5: expected mode = "
	    "direct; middle-proxy links do not go through it");
	/* An ad tag makes the mode middle: refused the same way. */
	config_defaults(&cfg);
	ck_assert_int_eq(load("[middle]\nad_tag = " AD_TAG "\n"
	    "[upstream]\nsocks5 = 127.0.0.1:1080\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [upstream] socks5: expected mode = "
	    "direct; middle-proxy links do not go through it");
}
END_TEST

/* --- [store] */

START_TEST(store_values)
{
	ck_assert_int_eq(cfg.store, CONFIG_STORE_LOCAL);
	ck_assert_str_eq(cfg.redis.prefix, "mtproxyd:");
	ck_assert_int_eq(cfg.redis.interval, 1);
	ck_assert_int_eq(load("[store]\nbackend = redis\n"
	    "redis = 10.0.0.5:6379\npassword = s3\nprefix = eu:\n"
	    "interval = 5\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.store, CONFIG_STORE_REDIS);
	ck_assert_str_eq(cfg.redis.addr, "10.0.0.5:6379");
	ck_assert_str_eq(cfg.redis.prefix, "eu:");
	ck_assert_int_eq(cfg.redis.interval, 5);
	ck_assert_int_eq(set("store", "backend", "etcd"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [store] backend = 'etcd': expected "
	    "local or redis");
	ck_assert_int_eq(set("store", "interval", "0"), CONFIG_ERR);
	config_free(&cfg);
	ck_assert_str_eq(cfg.redis.password, "");
}
END_TEST

/* No address, or TLS this build lacks: refused, not sent in clear. */
START_TEST(store_validate)
{
	ck_assert_int_eq(load("[store]\nbackend = redis\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [store] backend = redis: expected "
	    "redis = HOST:PORT or a unix socket path");
	config_defaults(&cfg);
	ck_assert_int_eq(load("[store]\nbackend = redis\n"
	    "redis = /run/redis.sock\ntls = yes\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [store] tls = yes: this build has no "
	    "TLS for Redis (hiredis_ssl); use a unix socket or a tunnel");
	config_defaults(&cfg);
	ck_assert_int_eq(load("[store]\npassword = Zq9x\npassword = Zq9y\n"),
	    CONFIG_ERR);
	ck_assert_ptr_null(strstr(err, "Zq9"));
	ck_assert_str_ne(err, "");
}
END_TEST

/* With [upstream] socks5, its counters before the rejects. */
START_TEST(upstream_stats)
{
	static struct stats st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_str_eq(stats_upstream_name(STATS_UPSTREAM_CONNECT),
	    "connect");
	ck_assert_str_eq(stats_upstream_name(STATS_UPSTREAM_COUNT), "unknown");
	ck_assert_int_eq(set("upstream", "socks5", "127.0.0.1:1080"), 0);
	atomic_store(&st.upstream.connects, 12);
	atomic_store(&st.upstream.failures[STATS_UPSTREAM_TIMEOUT], 2);
	atomic_store(&st.upstream.failures[STATS_UPSTREAM_PROTOCOL], 5);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	stats_write(&cfg, &st, NULL, 0, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "relay_pipes 0\n"
	    "upstream_connects 12\n"
	    "upstream_failures{reason=\"connect\"} 0\n"
	    "upstream_failures{reason=\"timeout\"} 2\n"
	    "upstream_failures{reason=\"auth\"} 0\n"
	    "upstream_failures{reason=\"refused\"} 0\n"
	    "upstream_failures{reason=\"protocol\"} 5\n"
	    "rejected{reason=\"max_clients\"} 0\n"));
	free(buf);
}
END_TEST

/* [store] timeout, the one key of its own the shared replay set reads. */
START_TEST(store_replay_timeout)
{
	ck_assert_int_eq(cfg.store_timeout, 50);
	ck_assert_int_eq(load("[store]\nbackend = redis\n"
	    "redis = 127.0.0.1:6379\ntimeout = 20\n"), 0);
	ck_assert_int_eq(cfg.store_timeout, 20);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(set("store", "timeout", "0"), CONFIG_ERR);
	ck_assert_str_eq(err, "config: [store] timeout = '0': expected "
	    "milliseconds 1..5000");
	ck_assert_int_eq(set("store", "timeout", "5001"), CONFIG_ERR);
	ck_assert_int_eq(cfg.store_timeout, 20);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	TCase *tu = tcase_create("users");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, test_dcs);
	tcase_add_test(tc, policy_keys);
	tcase_add_test(tc, state_dir_without_home);
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, value_forms);
	tcase_add_loop_test(tc, bad_value, 0,
	    sizeof(bad_values) / sizeof(bad_values[0]));
	tcase_add_test(tc, error_is_one_line);
	tcase_add_loop_test(tc, tls_bad_value, 0,
	    sizeof(bad_tls) / sizeof(bad_tls[0]));
	tcase_add_test(tc, tls_value_forms);
	tcase_add_test(tc, tls_full_file);
	tcase_add_test(tc, modes_default_and_tls);
	tcase_add_loop_test(tc, middle_bad_value, 0,
	    sizeof(bad_middle) / sizeof(bad_middle[0]));
	tcase_add_test(tc, ad_tag_errors);
	tcase_add_test(tc, middle_value_forms);
	tcase_add_test(tc, middle_addresses);
	tcase_add_test(tc, queue_total_auto);
	tcase_add_test(tc, connections_per_target);
	tcase_add_test(tc, middle_full_file);
	tcase_add_test(tc, mode_default_and_ad_tag);
	tcase_add_test(tc, default_dc_in_table);
	tcase_add_test(tc, unknown_names);
	tcase_add_test(tc, diag_keys);
	tcase_add_test(tc, run_user_keys);
	tcase_add_test(tc, proxy_protocol);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, long_line);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, users_errors);
	tcase_add_test(tc, user_limits);
	tcase_add_test(tc, user_limit_errors);
	tcase_add_test(tc, user_limit_validate);
	tcase_add_test(tc, many_users);
	tcase_add_test(tc, secrets_not_in_errors);
	tcase_add_test(tc, dc_entries);
	tcase_add_loop_test(tc, dc_bad, 0, sizeof(bad_dcs) / sizeof(bad_dcs[0]));
	tcase_add_test(tc, too_many_dcs);
	tcase_add_test(tc, shipped_file);
	tcase_add_test(tc, load_file_errors);
	tcase_add_test(tc, print_links);
	tcase_add_test(tc, print_links_tls);
	tcase_add_test(tc, link_host);
	tcase_add_test(tc, log_lines);
	tcase_add_test(tc, stats_output);
	tcase_add_loop_test(tc, metrics_bad_value, 0,
	    sizeof(bad_metrics) / sizeof(bad_metrics[0]));
	tcase_add_test(tc, metrics_values);
	tcase_add_test(tc, metrics_not_client_port);
	tcase_add_loop_test(tc, upstream_bad_value, 0,
	    sizeof(bad_upstream) / sizeof(bad_upstream[0]));
	tcase_add_test(tc, upstream_values);
	tcase_add_test(tc, upstream_password_hidden);
	tcase_add_test(tc, upstream_validate);
	tcase_add_test(tc, upstream_stats);
	tcase_add_test(tc, store_values);
	tcase_add_test(tc, store_validate);
	tcase_add_test(tc, store_replay_timeout);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tu, tmp_setup, tmp_teardown);
	tcase_add_test(tu, address_lists);
	tcase_add_test(tu, default_user_created_and_reused);
	tcase_add_test(tu, users_file_loaded);
	tcase_add_test(tu, default_user_existing_file);
	tcase_add_test(tu, default_user_bad_state_dir);
	suite_add_tcase(s, tu);
	return s;
}

Suite *
ckmain_suite(void)
{
	return config_suite();
}
