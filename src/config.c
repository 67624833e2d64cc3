/*
 * Configuration: the INI file, parsed by iniparser, and command-line
 * overrides go through config_set, the one place a value is checked. Errors
 * are returned as one line naming the key, the value and the expected form;
 * this module never logs, so the fuzzer can link it alone.
 */
#include <sys/mman.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <iniparser.h>
#include <openssl/crypto.h>

#include "addrlist.h"
#include "capacity.h"
#include "config.h"
#include "errbuf.h"
#include "file.h"
#include "crypto.h"
#include "period.h"
#include "secret.h"

#define DEFAULT_PORT		8443
#define DC_ID_MAX		32767
#define FILE_MAX		(1024 * 1024)
#define USERS_FILE_MAX		(64 * 1024 * 1024)	/* 100,000 users and limits */
#define ADDR_FILE_MAX		(64 * 1024 * 1024)	/* a million entries */
#define SHOWN_VALUE_MAX		80	/* value characters quoted in an error */
#define LIST_MAX		4096	/* longest comma-separated value */
#define AUTO_CLIENTS_CAP	8192
#define APP_BURST		24	/* connections an app opens at start */
#define HS_FAIL_WINDOW		60
#define AUTO_QUEUE_SHARE	4	/* queued answers may take 1/4 of RAM */
#define AUTO_QUEUE_MIN		(64LL * 1024 * 1024)
#define INI_LINE_MAX		1024	/* iniparser's ASCIILINESZ */
#define MASK_PORT		443
#define REPLAY_ENTRIES		262144	/* see conf/mtproxyd.conf */
#define MASK_MAX_BYTES		(100LL * 1024 * 1024)
#define REFRESH_INTERVAL	3600
#define STATE_INTERVAL		10
#define DRAIN_TIMEOUT		60
#define PING_INTERVAL		10
#define CONN_MIN		2
#define CONN_MAX		4
#define CONN_LIMIT		64
/* doc/PROTOCOL.md 2.4: the official proxy allows 32 MiB (1 << 25) a client. */
#define QUEUE_BYTES		(32LL * 1024 * 1024)
#define URL_SECRET		"https://core.telegram.org/getProxySecret"
#define URL_CONFIG		"https://core.telegram.org/getProxyConfig"
#define URL_CONFIG_V6		"https://core.telegram.org/getProxyConfigV6"
#define URL_CLOCK		"https://core.telegram.org/"
#define NELEM(a)		(sizeof(a) / sizeof((a)[0]))

/* doc/PROTOCOL.md 1.5: the DC table direct-mode proxies use, port DC_PORT. */
static const struct {
	int id;
	const char *ipv4;
	const char *ipv6;
} builtin_dcs[DC_COUNT + DC_TEST_COUNT] = {
	{ 1, "149.154.175.50",	"2001:b28:f23d:f001::a" },
	{ 2, "149.154.167.51",	"2001:67c:4e8:f002::a" },
	{ 3, "149.154.175.100",	"2001:b28:f23d:f003::a" },
	{ 4, "149.154.167.91",	"2001:67c:4e8:f004::a" },
	{ 5, "149.154.171.5",	"2001:b28:f23f:f005::a" },
	{ DC_TEST_OFFSET + 1, DC_TEST1_IPV4, DC_TEST1_IPV6 },
	{ DC_TEST_OFFSET + 2, DC_TEST2_IPV4, DC_TEST2_IPV6 },
	{ DC_TEST_OFFSET + 3, DC_TEST3_IPV4, DC_TEST3_IPV6 },
};

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * A value as it may appear in an error: printable ASCII only, so the error
 * stays one line, and cut short so a pasted blob cannot flood the terminal.
 */
static const char *
shown(const char *value, char buf[SHOWN_VALUE_MAX + 4])
{
	size_t i;

	for (i = 0; value[i] != '\0' && i < SHOWN_VALUE_MAX; i++)
		buf[i] = (value[i] < ' ' || value[i] > '~') ? '?' : value[i];
	if (value[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* The standard form: config: [section] key = 'value': expected <form>. */
static int
err_value(char *err, size_t errlen, const char *section, const char *key,
    const char *value, const char *form)
{
	char k[SHOWN_VALUE_MAX + 4], v[SHOWN_VALUE_MAX + 4];

	errbuf_set(err, errlen, "config: [%s] %s = '%s': expected %s", section,
	    shown(key, k), shown(value, v), form);
	return CONFIG_ERR;
}

/* Decimal in [min, max], nothing else: "8443", not "8443x" or " 8443". */
static int
parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)s[0]))
		return CONFIG_ERR;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return CONFIG_ERR;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return CONFIG_ERR;
}

/* An IP literal of n bytes; IPv6 may be bracketed when brackets_ok. */
static int
parse_ip(const char *s, size_t n, int brackets_ok, uint16_t port,
    struct net_addr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	char ip[INET6_ADDRSTRLEN];
	int bracketed = n >= 2 && s[0] == '[' && s[n - 1] == ']';

	if (bracketed) {
		if (!brackets_ok)
			return CONFIG_ERR;
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(ip))
		return CONFIG_ERR;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (!bracketed && inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
		return 0;
	}
	return CONFIG_ERR;
}

/* "host:port" with host an IPv4 literal or a bracketed IPv6 literal. */
static int
parse_hostport(const char *s, size_t n, struct net_addr *out)
{
	const char *colon = NULL;
	char port[8];
	size_t i, plen;
	long long p;

	for (i = n; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	}
	if (colon == NULL)
		return CONFIG_ERR;
	plen = n - (size_t)(colon + 1 - s);
	if (plen == 0 || plen >= sizeof(port))
		return CONFIG_ERR;
	memcpy(port, colon + 1, plen);
	port[plen] = '\0';
	if (parse_num(port, 1, 65535, &p) != 0)
		return CONFIG_ERR;
	/* An unbracketed IPv6 literal would swallow the port's colon. */
	if (memchr(s, ':', (size_t)(colon - s)) != NULL && s[0] != '[')
		return CONFIG_ERR;
	return parse_ip(s, (size_t)(colon - s), 1, (uint16_t)p, out);
}

/*
 * Split value at commas and hand each trimmed item to fn; empty items are
 * errors so "a,,b" is caught as the typo it is.
 */
static int
split_list(const char *value, size_t max, size_t *count,
    int (*fn)(const char *item, size_t n, size_t idx, void *ctx), void *ctx)
{
	const char *p = value, *end, *a, *b;
	size_t idx = 0;

	if (strlen(value) > LIST_MAX)
		return CONFIG_ERR;
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (a = p; a < end && isspace((unsigned char)*a); a++)
			;
		for (b = end; b > a && isspace((unsigned char)b[-1]); b--)
			;
		if (a == b || idx == max || fn(a, (size_t)(b - a), idx, ctx) != 0)
			return CONFIG_ERR;
		idx++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*count = idx;
	return 0;
}

static int
listen_item(const char *item, size_t n, size_t idx, void *ctx)
{
	struct net_addr *addrs = ctx;

	return parse_ip(item, n, 1, 0, &addrs[idx]);
}

static int
dc_item(const char *item, size_t n, size_t idx, void *ctx)
{
	struct net_addr *addrs = ctx;

	return parse_hostport(item, n, &addrs[idx]);
}

static int
modes_item(const char *item, size_t n, size_t idx, void *ctx)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "classic", CONFIG_MODES_CLASSIC },
		{ "secure", CONFIG_MODES_SECURE },
		{ "tls", CONFIG_MODES_TLS },
	};
	unsigned *modes = ctx;
	size_t i;

	(void)idx;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == n &&
		    strncasecmp(item, names[i].name, n) == 0) {
			*modes |= names[i].bit;
			return 0;
		}
	}
	return CONFIG_ERR;
}

static int
label_valid(const char *s, size_t n)
{
	return n >= 1 && n <= 63 && s[0] != '-' && s[n - 1] != '-';
}

/*
 * A name clients can send in SNI (RFC 6066 3: a DNS host name without the
 * trailing dot): labels of 1..63 letters, digits and inner hyphens. A last
 * label of digits alone makes an IPv4 literal, which SNI never carries.
 */
static int
dns_name_valid(const char *s, size_t n)
{
	size_t i, start = 0;

	if (n == 0 || n > SECRET_DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (!label_valid(s + start, i - start))
				return 0;
			start = i + 1;
		} else if (!isalnum((unsigned char)s[i]) && s[i] != '-') {
			return 0;
		}
	}
	if (!label_valid(s + start, n - start))
		return 0;
	for (i = start; i < n && isdigit((unsigned char)s[i]); i++)
		;
	return i < n;
}

/* A DNS name or an IP literal (IPv6 maybe bracketed); empty is allowed. */
static int
host_valid(const char *s)
{
	struct net_addr a;
	size_t n = strlen(s);

	return n == 0 || parse_ip(s, n, 1, 0, &a) == 0 || dns_name_valid(s, n);
}

/* Lowercased, as SNI is compared byte for byte; each name once. */
static int
domain_item(const char *item, size_t n, size_t idx, void *ctx)
{
	char (*names)[SECRET_DOMAIN_MAX + 1] = ctx;
	size_t i;

	if (!dns_name_valid(item, n))
		return CONFIG_ERR;
	for (i = 0; i < n; i++)
		names[idx][i] = (char)tolower((unsigned char)item[i]);
	names[idx][n] = '\0';
	for (i = 0; i < idx; i++)
		if (strcmp(names[i], names[idx]) == 0)
			return CONFIG_ERR;
	return 0;
}

/* [server], [tls] and [middle]: one table row per key. */

struct key_def;
typedef int (*key_setter)(struct config *, const struct key_def *,
    const char *);

#define KEY_ZERO	0x1	/* 0 or empty allowed besides the range */
#define KEY_UNQUOTED	0x2	/* errors leave the value out */

struct key_def {
	const char *name;
	key_setter set;
	size_t off;		/* the field, for the setters that take one */
	long long min, max;
	unsigned flags;		/* KEY_* */
	const char *form;
};

#define FIELD(f)	offsetof(struct config, f)
#define FIELD_MAX(f)	((long long)sizeof(((struct config *)NULL)->f) - 1)

/* A number in the key's range, or 0 where KEY_ZERO allows it. */
static int
key_num(const struct key_def *k, const char *value, long long *v)
{
	long long min = (k->flags & KEY_ZERO) ? 0 : k->min;

	if (parse_num(value, min, k->max, v) != 0 || (*v != 0 && *v < k->min))
		return CONFIG_ERR;
	return 0;
}

static int
set_int(struct config *cfg, const struct key_def *k, const char *value)
{
	long long v;

	if (key_num(k, value, &v) != 0)
		return CONFIG_ERR;
	*(int *)(void *)((char *)cfg + k->off) = (int)v;
	return 0;
}

static int
set_llong(struct config *cfg, const struct key_def *k, const char *value)
{
	long long v;

	if (key_num(k, value, &v) != 0)
		return CONFIG_ERR;
	*(long long *)(void *)((char *)cfg + k->off) = v;
	return 0;
}

static int
set_bool(struct config *cfg, const struct key_def *k, const char *value)
{
	return parse_bool(value, (int *)(void *)((char *)cfg + k->off));
}

static int
set_port(struct config *cfg, const struct key_def *k, const char *value)
{
	long long v;

	if (parse_num(value, k->min, k->max, &v) != 0)
		return CONFIG_ERR;
	*(uint16_t *)(void *)((char *)cfg + k->off) = (uint16_t)v;
	return 0;
}

static int
set_listen(struct config *cfg, const struct key_def *k, const char *value)
{
	struct net_addr addrs[CONFIG_MAX_LISTEN];
	size_t n;

	(void)k;
	if (split_list(value, CONFIG_MAX_LISTEN, &n, listen_item, addrs) != 0)
		return CONFIG_ERR;
	memcpy(cfg->listen, addrs, n * sizeof(addrs[0]));
	cfg->nlisten = n;
	return 0;
}

/*
 * public_host and mask_host, both char[256] (host_valid allows 253). IPv6
 * literals are kept bare, as links and getaddrinfo take them.
 */
static int
set_host(struct config *cfg, const struct key_def *k, const char *value)
{
	char *host = (char *)cfg + k->off;
	size_t n = strlen(value);

	if (!host_valid(value))
		return CONFIG_ERR;
	if (n >= 2 && value[0] == '[') {
		memcpy(host, value + 1, n - 2);
		host[n - 2] = '\0';
	} else {
		memcpy(host, value, n + 1);
	}
	return 0;
}

static int
set_mode(struct config *cfg, const struct key_def *k, const char *value)
{
	(void)k;
	if (strcasecmp(value, "direct") == 0)
		cfg->mode = CONFIG_MODE_DIRECT;
	else if (strcasecmp(value, "middle") == 0)
		cfg->mode = CONFIG_MODE_MIDDLE;
	else
		return CONFIG_ERR;
	cfg->mode_given = 1;
	return 0;
}

static int
set_modes(struct config *cfg, const struct key_def *k, const char *value)
{
	unsigned modes = 0;
	size_t n;

	(void)k;
	if (split_list(value, SIZE_MAX, &n, modes_item, &modes) != 0)
		return CONFIG_ERR;
	cfg->modes = modes;
	return 0;
}

static int
set_log_level(struct config *cfg, const struct key_def *k,
    const char *value)
{
	size_t i;

	(void)k;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(value, level_names[i]) == 0) {
			cfg->log_level = (enum log_level)i;
			return 0;
		}
	}
	return CONFIG_ERR;
}

static int
set_state_dir(struct config *cfg, const struct key_def *k,
    const char *value)
{
	size_t n = strlen(value);

	(void)k;
	if (n == 0 || n >= sizeof(cfg->state_dir))
		return CONFIG_ERR;
	memcpy(cfg->state_dir, value, n + 1);
	return 0;
}

static int
set_domains(struct config *cfg, const struct key_def *k, const char *value)
{
	char names[CONFIG_MAX_DOMAINS][SECRET_DOMAIN_MAX + 1];
	size_t n = 0;

	(void)k;
	if (value[0] != '\0' &&
	    split_list(value, CONFIG_MAX_DOMAINS, &n, domain_item, names) != 0)
		return CONFIG_ERR;
	memcpy(cfg->domains, names, n * sizeof(names[0]));
	cfg->ndomains = n;
	return 0;
}

/* The PROXY protocol version: its name or its number. */
static int
set_proxy_protocol(struct config *cfg, const struct key_def *k,
    const char *value)
{
	static const char *const names[][2] = {
		{ "off", "0" }, { "v1", "1" }, { "v2", "2" },
	};
	size_t i;

	(void)k;
	for (i = 0; i < NELEM(names); i++) {
		if (strcasecmp(value, names[i][0]) == 0 ||
		    strcmp(value, names[i][1]) == 0) {
			cfg->mask_proxy_protocol = (int)i;
			return 0;
		}
	}
	return CONFIG_ERR;
}

/* [server] proxy_protocol: the header versions a load balancer may send. */
static int
set_proxy_in(struct config *cfg, const struct key_def *k, const char *value)
{
	/* By index: off 0, v1 CONFIG_PROXY_V1, v2 CONFIG_PROXY_V2, any both. */
	static const char *const names[] = { "off", "v1", "v2", "any" };
	size_t i;

	(void)k;
	for (i = 0; i < NELEM(names); i++) {
		if (strcasecmp(value, names[i]) == 0) {
			cfg->proxy_protocol = (unsigned)i;
			return 0;
		}
	}
	return CONFIG_ERR;
}

static int
set_unknown_sni(struct config *cfg, const struct key_def *k,
    const char *value)
{
	(void)k;
	if (strcasecmp(value, "mask") == 0)
		cfg->unknown_sni = CONFIG_SNI_MASK;
	else if (strcasecmp(value, "drop") == 0)
		cfg->unknown_sni = CONFIG_SNI_DROP;
	else
		return CONFIG_ERR;
	return 0;
}

/* Not a secret, but errors leave it out like one (KEY_UNQUOTED). */
static int
set_ad_tag(struct config *cfg, const struct key_def *k, const char *value)
{
	uint8_t tag[SECRET_LEN];

	if (value[0] == '\0' && (k->flags & KEY_ZERO)) {
		memset(cfg->ad_tag, 0, sizeof(cfg->ad_tag));
		cfg->has_ad_tag = 0;
		return 0;
	}
	if (secret_parse_key(value, tag) != 0)
		return CONFIG_ERR;
	memcpy(cfg->ad_tag, tag, sizeof(tag));
	cfg->has_ad_tag = 1;
	return 0;
}

/*
 * http:// or https://, a host, then printable ASCII without spaces, at
 * most k->max bytes; the rest is for libcurl to judge when it fetches.
 */
static int
set_url(struct config *cfg, const struct key_def *k, const char *value)
{
	char *url = (char *)cfg + k->off;
	size_t i, n = strlen(value), skip;

	if (n == 0 && (k->flags & KEY_ZERO)) {
		url[0] = '\0';
		return 0;
	}
	if (strncasecmp(value, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(value, "http://", 7) == 0)
		skip = 7;
	else
		return CONFIG_ERR;
	if ((long long)n > k->max || strchr("/?#", value[skip]) != NULL)
		return CONFIG_ERR;
	for (i = skip; i < n; i++)
		if (value[i] <= ' ' || value[i] > '~')
			return CONFIG_ERR;
	memcpy(url, value, n + 1);
	return 0;
}

/* A file path (or other text) of at most k->max bytes; empty (KEY_ZERO)
 * unsets it. */
static int
set_path(struct config *cfg, const struct key_def *k, const char *value)
{
	size_t n = strlen(value);

	if ((n == 0 && !(k->flags & KEY_ZERO)) || (long long)n > k->max)
		return CONFIG_ERR;
	memcpy((char *)cfg + k->off, value, n + 1);
	return 0;
}

/* An IP literal of one family; IPv6 may be bracketed. */
static int
parse_family(const char *s, size_t n, int family, struct net_addr *out)
{
	struct net_addr a;

	if (parse_ip(s, n, family == AF_INET6, 0, &a) != 0 ||
	    a.ss.ss_family != family)
		return CONFIG_ERR;
	*out = a;
	return 0;
}

/* LOCAL:PUBLIC, two IPv4 literals, as the official proxy's --nat-info. */
static int
set_nat_info(struct config *cfg, const struct key_def *k, const char *value)
{
	struct net_addr local, public;
	const char *colon = strchr(value, ':');

	if (value[0] == '\0' && (k->flags & KEY_ZERO)) {
		memset(&cfg->nat_local, 0, sizeof(cfg->nat_local));
		memset(&cfg->nat_public, 0, sizeof(cfg->nat_public));
		cfg->has_nat_info = 0;
		return 0;
	}
	if (colon == NULL || parse_family(value, (size_t)(colon - value),
	    AF_INET, &local) != 0 || parse_family(colon + 1, strlen(colon + 1),
	    AF_INET, &public) != 0)
		return CONFIG_ERR;
	cfg->nat_local = local;
	cfg->nat_public = public;
	cfg->has_nat_info = 1;
	return 0;
}

/* public_ipv4 / public_ipv6; empty (KEY_ZERO) unsets it. */
static int
set_public(const struct key_def *k, const char *value, int family, int *has,
    struct net_addr *addr)
{
	struct net_addr a;

	if (value[0] == '\0' && (k->flags & KEY_ZERO)) {
		memset(addr, 0, sizeof(*addr));
		*has = 0;
		return 0;
	}
	if (parse_family(value, strlen(value), family, &a) != 0)
		return CONFIG_ERR;
	*addr = a;
	*has = 1;
	return 0;
}

static int
set_public_ipv4(struct config *cfg, const struct key_def *k,
    const char *value)
{
	return set_public(k, value, AF_INET, &cfg->has_public_ipv4,
	    &cfg->public_ipv4);
}

static int
set_public_ipv6(struct config *cfg, const struct key_def *k,
    const char *value)
{
	return set_public(k, value, AF_INET6, &cfg->has_public_ipv6,
	    &cfg->public_ipv6);
}

/* MIN/MAX, or N for N/N, each in [k->min, k->max]. */
static int
set_connections(struct config *cfg, const struct key_def *k,
    const char *value)
{
	const char *slash = strchr(value, '/');
	size_t n = slash != NULL ? (size_t)(slash - value) : strlen(value);
	long long lo, hi;
	char first[8];

	if (n >= sizeof(first))
		return CONFIG_ERR;
	memcpy(first, value, n);
	first[n] = '\0';
	if (parse_num(first, k->min, k->max, &lo) != 0)
		return CONFIG_ERR;
	hi = lo;
	if (slash != NULL && parse_num(slash + 1, k->min, k->max, &hi) != 0)
		return CONFIG_ERR;
	if (lo > hi)
		return CONFIG_ERR;
	cfg->conn_min = (int)lo;
	cfg->conn_max = (int)hi;
	return 0;
}

/* With the [metrics] allow list's parser, further down. */
static int set_proxy_from(struct config *cfg, const struct key_def *k,
    const char *value);

static const struct key_def server_keys[] = {
	{ "port", set_port, FIELD(port), 0, 65535, 0,
	    "a port 1..65535 (0: any free port)" },
	{ "listen", set_listen, 0, 0, 0, 0,
	    "a comma-separated list of at most 16 IPv4 or IPv6 addresses" },
	{ "public_host", set_host, FIELD(public_host), 0, 0, 0,
	    "a host name or an IP address (empty: auto)" },
	{ "mode", set_mode, 0, 0, 0, 0, "direct or middle" },
	{ "modes", set_modes, 0, 0, 0, 0,
	    "a comma-separated list of classic, secure, tls" },
	{ "fast_mode", set_bool, FIELD(fast_mode), 0, 0, 0,
	    "yes or no" },
	{ "prefer_ipv6", set_bool, FIELD(prefer_ipv6), 0, 0, 0,
	    "yes or no" },
	{ "max_clients", set_int, FIELD(max_clients), 1, 1000000, KEY_ZERO,
	    "1..1000000 (0: auto)" },
	{ "handshake_timeout", set_int, FIELD(handshake_timeout), 1, 3600, 0,
	    "seconds 1..3600" },
	{ "idle_timeout", set_int, FIELD(idle_timeout), 1, 86400, 0,
	    "seconds 1..86400" },
	{ "connect_timeout", set_int, FIELD(connect_timeout), 1, 120, 0,
	    "seconds 1..120" },
	{ "shutdown_grace", set_int, FIELD(shutdown_grace), 0, 3600, 0,
	    "seconds 0..3600" },
	{ "buffer_size", set_int, FIELD(buffer_size), 1024, 1048576, 0,
	    "bytes 1024..1048576" },
	{ "dc_rcvbuf", set_int, FIELD(dc_rcvbuf), 1024, 16777216, KEY_ZERO,
	    "bytes 1024..16777216 (0: kernel default)" },
	{ "dc_pool", set_int, FIELD(dc_pool), 0, CONFIG_DC_POOL_MAX, 0,
	    "connections per DC 0..16 (0: off)" },
	{ "dc_pool_max_age", set_int, FIELD(dc_pool_max_age), 1, 3600, 0,
	    "seconds 1..3600" },
	{ "default_dc", set_int, FIELD(default_dc), 1, DC_ID_MAX, 0,
	    "a DC id 1..32767" },
	{ "pool_spare", set_int, FIELD(pool_spare), 0, 100000, 0,
	    "threads 0..100000" },
	{ "log_level", set_log_level, 0, 0, 0, 0,
	    "error, warn, info or debug" },
	{ "state_dir", set_state_dir, 0, 0, 0, 0,
	    "a directory path of 1..4095 bytes" },
	{ "users_file", set_path, FIELD(users_file), 0, FIELD_MAX(users_file),
	    KEY_ZERO, "a file path of at most 4095 bytes (empty: none)" },
	{ "state_interval", set_int, FIELD(state_interval), 1, 3600, 0,
	    "seconds 1..3600" },
	{ "drain_timeout", set_int, FIELD(drain_timeout), 0, 86400, 0,
	    "seconds 0..86400" },
	{ "public_port", set_port, FIELD(public_port), 0, 65535, 0,
	    "a port 1..65535 (0: the port listened on)" },
	{ "print_links", set_bool, FIELD(print_links), 0, 0, 0,
	    "yes or no" },
	{ "clock_url", set_url, FIELD(clock_url), 0, FIELD_MAX(clock_url), 0,
	    "an http:// or https:// URL of at most 511 bytes" },
	{ "user", set_path, FIELD(run_user), 0, FIELD_MAX(run_user), KEY_ZERO,
	    "a user name of at most 63 bytes (empty: keep the user it starts as)" },
	{ "group", set_path, FIELD(run_group), 0, FIELD_MAX(run_group),
	    KEY_ZERO, "a group name of at most 63 bytes (empty: the user's)" },
	{ "proxy_protocol", set_proxy_in, 0, 0, 0, 0, "off, v1, v2 or any" },
	{ "proxy_protocol_from", set_proxy_from, 0, 0, 0, KEY_ZERO,
	    "a comma-separated list of at most 16 ADDR/BITS (empty: none)" },
	{ "allow_file", set_path, FIELD(allow_file), 0, FIELD_MAX(allow_file),
	    KEY_ZERO, "a file path of at most 4095 bytes (empty: none)" },
	{ "block_file", set_path, FIELD(block_file), 0, FIELD_MAX(block_file),
	    KEY_ZERO, "a file path of at most 4095 bytes (empty: none)" },
	/* At least an app's burst at start: a limit never refuses that. */
	{ "max_connections_per_ip", set_int, FIELD(max_conn_per_ip),
	    APP_BURST, 1000000, KEY_ZERO, "sessions 24..1000000 (0: off)" },
	{ "handshake_failures_per_ip", set_int, FIELD(hs_fail_per_ip), 1,
	    1000000, KEY_ZERO, "failed handshakes 1..1000000 (0: off)" },
	{ "handshake_failure_window", set_int, FIELD(hs_fail_window), 1,
	    86400, 0, "seconds 1..86400" },
	{ "max_session_lifetime", set_int, FIELD(max_session_lifetime), 1,
	    2592000, KEY_ZERO, "seconds 1..2592000 (0: no limit)" },
	{ "client_mss", set_int, FIELD(client_mss), 88, 1460, KEY_ZERO,
	    "bytes 88..1460 (0: the kernel's)" },
};

static const struct key_def tls_keys[] = {
	{ "domain", set_domains, 0, 0, 0, 0,
	    "a comma-separated list of at most 16 distinct DNS names "
	    "(empty: no fake-TLS)" },
	{ "mask_host", set_host, FIELD(mask_host), 0, 0, 0,
	    "a host name or an IP address (empty: the first domain)" },
	{ "mask_port", set_port, FIELD(mask_port), 1, 65535, 0,
	    "a port 1..65535" },
	{ "mask_proxy_protocol", set_proxy_protocol, 0, 0, 0, 0,
	    "off, v1 or v2" },
	{ "time_skew_past", set_int, FIELD(time_skew_past), 0,
	    FAKETLS_REPLAY_WINDOW, 0, "seconds 0..172800" },
	{ "time_skew_future", set_int, FIELD(time_skew_future), 0, 3600, 0,
	    "seconds 0..3600" },
	{ "replay_cache_size", set_int, FIELD(replay_cache_size), 1024,
	    16777216, 0, "entries 1024..16777216" },
	{ "unknown_sni", set_unknown_sni, 0, 0, 0, 0, "mask or drop" },
	{ "mask_probe_interval", set_int, FIELD(mask_probe_interval), 60,
	    86400, KEY_ZERO, "seconds 60..86400 (0: only at start)" },
	{ "mask_timeout", set_int, FIELD(mask_timeout), 1, 86400, 0,
	    "seconds 1..86400" },
	{ "mask_max_bytes", set_llong, FIELD(mask_max_bytes), 1024,
	    1LL << 40, 0, "bytes 1024..1099511627776" },
	{ "require_sni", set_bool, FIELD(require_sni), 0, 0, 0, "yes or no" },
};

/*
 * doc/PROTOCOL.md 4.1: Telegram's files; 4.4, 4.7: our address as it sees it.
 */
static const struct key_def middle_keys[] = {
	{ "ad_tag", set_ad_tag, 0, 0, 0, KEY_ZERO | KEY_UNQUOTED,
	    "32 hex digits" },
	{ "proxy_secret_url", set_url, FIELD(proxy_secret_url), 0,
	    FIELD_MAX(proxy_secret_url), 0,
	    "an http:// or https:// URL of at most 511 bytes" },
	{ "proxy_config_url", set_url, FIELD(proxy_config_url), 0,
	    FIELD_MAX(proxy_config_url), 0,
	    "an http:// or https:// URL of at most 511 bytes" },
	{ "proxy_config_v6_url", set_url, FIELD(proxy_config_v6_url), 0,
	    FIELD_MAX(proxy_config_v6_url), KEY_ZERO,
	    "an http:// or https:// URL of at most 511 bytes "
	    "(empty: no IPv6 list)" },
	{ "proxy_secret_file", set_path, FIELD(proxy_secret_file), 0,
	    FIELD_MAX(proxy_secret_file), KEY_ZERO,
	    "a file path of at most 4095 bytes (empty: fetch)" },
	{ "proxy_config_file", set_path, FIELD(proxy_config_file), 0,
	    FIELD_MAX(proxy_config_file), KEY_ZERO,
	    "a file path of at most 4095 bytes (empty: fetch)" },
	{ "refresh_interval", set_int, FIELD(refresh_interval), 60, 604800, 0,
	    "seconds 60..604800" },
	{ "nat_info", set_nat_info, 0, 0, 0, KEY_ZERO,
	    "LOCAL:PUBLIC, two IPv4 addresses (empty: none)" },
	{ "public_ipv4", set_public_ipv4, 0, 0, 0, KEY_ZERO,
	    "an IPv4 address (empty: auto)" },
	{ "public_ipv6", set_public_ipv6, 0, 0, 0, KEY_ZERO,
	    "an IPv6 address (empty: auto)" },
	{ "connections_per_target", set_connections, 0, 1, CONN_LIMIT, 0,
	    "MIN/MAX or N, each 1..64, MIN <= MAX" },
	{ "ping_interval", set_int, FIELD(ping_interval), 1, 3600, 0,
	    "seconds 1..3600" },
	{ "queue_bytes", set_llong, FIELD(queue_bytes), 65536, 1LL << 30, 0,
	    "bytes 65536..1073741824" },
	{ "queue_total_bytes", set_llong, FIELD(queue_total_bytes), 1LL << 20,
	    1LL << 40, KEY_ZERO, "bytes 1048576..1099511627776 (0: auto)" },
};

/* [metrics] */

static int
set_metrics_listen(struct config *cfg, const struct key_def *k,
    const char *value)
{
	struct net_addr a;

	(void)k;
	if (value[0] == '\0') {
		cfg->has_metrics = 0;
		return 0;
	}
	if (parse_hostport(value, strlen(value), &a) != 0)
		return CONFIG_ERR;
	cfg->metrics_listen = a;
	cfg->has_metrics = 1;
	return 0;
}

/* "ADDR/BITS", or a bare address for all of its bits. */
static int
cidr_item(const char *item, size_t n, size_t idx, void *ctx)
{
	struct config_cidr *c = &((struct config_cidr *)ctx)[idx];
	const char *slash = memchr(item, '/', n);
	struct net_addr a;
	char bits[4];
	long long b;
	size_t blen;
	int max;

	if (parse_ip(item, slash ? (size_t)(slash - item) : n, 0, 0, &a) != 0)
		return CONFIG_ERR;
	c->family = a.ss.ss_family;
	max = c->family == AF_INET ? 32 : 128;
	if (c->family == AF_INET)
		memcpy(c->addr, &((struct sockaddr_in *)&a.ss)->sin_addr, 4);
	else
		memcpy(c->addr, &((struct sockaddr_in6 *)&a.ss)->sin6_addr, 16);
	c->bits = max;
	if (slash == NULL)
		return 0;
	blen = n - (size_t)(slash + 1 - item);
	if (blen == 0 || blen >= sizeof(bits))
		return CONFIG_ERR;
	memcpy(bits, slash + 1, blen);
	bits[blen] = '\0';
	if (parse_num(bits, 0, max, &b) != 0)
		return CONFIG_ERR;
	c->bits = (int)b;
	return 0;
}

static int
set_allow(struct config *cfg, const struct key_def *k, const char *value)
{
	struct config_cidr c[CONFIG_MAX_ALLOW];
	size_t n;

	(void)k;
	if (split_list(value, CONFIG_MAX_ALLOW, &n, cidr_item, c) != 0)
		return CONFIG_ERR;
	memcpy(cfg->allow, c, n * sizeof(c[0]));
	cfg->nallow = n;
	return 0;
}

static int
set_proxy_from(struct config *cfg, const struct key_def *k,
    const char *value)
{
	struct config_cidr c[CONFIG_MAX_ALLOW];
	size_t n = 0;

	(void)k;
	if (value[0] != '\0' &&
	    split_list(value, CONFIG_MAX_ALLOW, &n, cidr_item, c) != 0)
		return CONFIG_ERR;
	memcpy(cfg->proxy_from, c, n * sizeof(c[0]));
	cfg->nproxy_from = n;
	return 0;
}

static const struct key_def metrics_keys[] = {
	{ "listen", set_metrics_listen, 0, 0, 0, KEY_ZERO,
	    "IPv4:port or [IPv6]:port, not the client port (empty: off)" },
	{ "allow", set_allow, 0, 0, 0, 0,
	    "a comma-separated list of at most 16 ADDR/BITS" },
};

/* [upstream] */

/*
 * HOST:PORT, HOST an IPv4 literal, a bracketed IPv6 literal or a DNS name;
 * a name is looked up at start (direct_resolve), never per connection.
 */
static int
set_socks5(struct config *cfg, const struct key_def *k, const char *value)
{
	struct config_upstream *up = &cfg->upstream;
	const char *colon = strrchr(value, ':');
	struct net_addr a;
	long long port;
	size_t n;

	(void)k;
	if (value[0] == '\0') {
		up->has_socks5 = 0;
		return 0;
	}
	if (colon == NULL || parse_num(colon + 1, 1, 65535, &port) != 0)
		return CONFIG_ERR;
	n = (size_t)(colon - value);
	if (parse_hostport(value, strlen(value), &a) == 0) {
		up->addr = a;
		up->resolved = 1;
		if (value[0] == '[') {
			value++;
			n -= 2;
		}
	} else if (dns_name_valid(value, n)) {
		up->resolved = 0;
	} else {
		return CONFIG_ERR;
	}
	memcpy(up->host, value, n);
	up->host[n] = '\0';
	up->port = (uint16_t)port;
	up->has_socks5 = 1;
	return 0;
}

static const struct key_def upstream_keys[] = {
	{ "socks5", set_socks5, 0, 0, 0, KEY_ZERO,
	    "HOST:PORT, HOST an IPv4 address, [IPv6 address] or host name "
	    "(empty: connect directly)" },
	{ "username", set_path, FIELD(upstream.username), 0,
	    FIELD_MAX(upstream.username), KEY_ZERO,
	    "1..255 bytes (empty: no authentication)" },
	{ "password", set_path, FIELD(upstream.password), 0,
	    FIELD_MAX(upstream.password), KEY_ZERO | KEY_UNQUOTED,
	    "1..255 bytes (empty: none)" },
};

/* [store] */

static int
set_backend(struct config *cfg, const struct key_def *k, const char *value)
{
	(void)k;
	if (strcasecmp(value, "local") == 0)
		cfg->store = CONFIG_STORE_LOCAL;
	else if (strcasecmp(value, "redis") == 0)
		cfg->store = CONFIG_STORE_REDIS;
	else
		return CONFIG_ERR;
	return 0;
}

static const struct key_def store_keys[] = {
	{ "backend", set_backend, 0, 0, 0, 0, "local or redis" },
	{ "redis", set_path, FIELD(redis.addr), 1, FIELD_MAX(redis.addr), 0,
	    "HOST:PORT or the path of a unix socket" },
	{ "password", set_path, FIELD(redis.password), 0,
	    FIELD_MAX(redis.password), KEY_ZERO | KEY_UNQUOTED,
	    "1..255 bytes (empty: none)" },
	{ "prefix", set_path, FIELD(redis.prefix), 0, FIELD_MAX(redis.prefix),
	    KEY_ZERO, "0..63 bytes, the start of every key" },
	{ "tls", set_bool, FIELD(redis.tls), 0, 0, 0, "yes or no" },
	{ "interval", set_int, FIELD(redis.interval), 1, 3600, 0,
	    "seconds between flushes, 1..3600" },
	{ "timeout", set_int, FIELD(store_timeout), 1, 5000, 0,
	    "milliseconds 1..5000" },
};

static int
cidr_match(const struct config_cidr *c, const uint8_t *addr)
{
	int whole = c->bits / 8, rest = c->bits % 8;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	if (memcmp(c->addr, addr, (size_t)whole) != 0)
		return 0;
	return rest == 0 || ((c->addr[whole] ^ addr[whole]) & mask) == 0;
}

int
config_cidr_match(const struct config_cidr *list, size_t n,
    const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *a6 = sin6->sin6_addr.s6_addr;
	const uint8_t *addr;
	int family = sa->sa_family;
	size_t i;

	if (family == AF_INET) {
		addr = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		/* A dual-stack socket's IPv4 client matches IPv4 entries. */
		family = AF_INET;
		addr = a6 + 12;
	} else if (family == AF_INET6) {
		addr = a6;
	} else {
		return 0;
	}
	for (i = 0; i < n; i++)
		if (list[i].family == family && cidr_match(&list[i], addr))
			return 1;
	return 0;
}

static int
set_key(struct config *cfg, const char *section, const struct key_def *keys,
    size_t nkeys, const char *key, const char *value, char *err,
    size_t errlen)
{
	char known[1024], k[SHOWN_VALUE_MAX + 4];
	size_t i, pos = 0;

	for (i = 0; i < nkeys; i++) {
		if (strcasecmp(key, keys[i].name) != 0)
			continue;
		if (keys[i].set(cfg, &keys[i], value) == 0)
			return 0;
		if (keys[i].flags & KEY_UNQUOTED) {
			errbuf_set(err, errlen, "config: [%s] %s: expected %s",
			    section, keys[i].name, keys[i].form);
			return CONFIG_ERR;
		}
		return err_value(err, errlen, section, key, value,
		    keys[i].form);
	}
	known[0] = '\0';
	/* snprintf returns what it would have written: stop once full. */
	for (i = 0; i < nkeys && pos < sizeof(known); i++)
		pos += (size_t)snprintf(known + pos, sizeof(known) - pos,
		    "%s%s", i ? ", " : "", keys[i].name);
	/* No value: a user line put here by mistake is a secret. */
	errbuf_set(err, errlen, "config: [%s] %s: unknown key; expected one "
	    "of %s", section, shown(key, k), known);
	return CONFIG_ERR;
}

/*
 * [users]: the name is the key, lowercased as iniparser does. Thousands of
 * users: names and secrets are found through two open-addressing indexes
 * (slot = index + 1, 0 free) kept at most half full.
 */

static int
user_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n < 1 || n >= CONFIG_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '.' && name[i] != '-')
			return 0;
	return 1;
}

/* FNV-1a: the file's own names and secrets, nothing a client chooses. */
static size_t
hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot holding the entry equal to key, or the free slot it would take. */
static size_t *
index_slot(const struct config *cfg, size_t *table, const void *key,
    size_t keylen, int secret)
{
	size_t i = hash_bytes(key, keylen) & (cfg->hashcap - 1);
	const struct config_user *u;

	for (;; i = (i + 1) & (cfg->hashcap - 1)) {
		if (table[i] == 0)
			return &table[i];
		u = &cfg->users[table[i] - 1];
		if (secret ? u->has_secret &&
		    memcmp(u->secret, key, SECRET_LEN) == 0 :
		    strcmp(u->name, key) == 0)
			return &table[i];
	}
}

static void
index_add(struct config *cfg, size_t i)
{
	const struct config_user *u = &cfg->users[i];

	*index_slot(cfg, cfg->byname, u->name, strlen(u->name), 0) = i + 1;
	if (u->has_secret)
		*index_slot(cfg, cfg->bysecret, u->secret, SECRET_LEN, 1) =
		    i + 1;
}

/* Room for one more user, indexes rebuilt when they would pass half full. */
static int
users_reserve(struct config *cfg)
{
	size_t cap, hcap, i, *byname, *bysecret;
	struct config_user *nu;

	if (cfg->nusers == cfg->usercap) {
		cap = cfg->usercap ? cfg->usercap * 2 : 16;
		if ((nu = realloc(cfg->users, cap * sizeof(*nu))) == NULL)
			return CONFIG_ERR_IO;
		cfg->users = nu;
		cfg->usercap = cap;
	}
	if (2 * (cfg->nusers + 1) <= cfg->hashcap)
		return 0;
	hcap = cfg->hashcap ? cfg->hashcap * 2 : 64;
	byname = calloc(hcap, sizeof(*byname));
	bysecret = calloc(hcap, sizeof(*bysecret));
	if (byname == NULL || bysecret == NULL) {
		free(byname);
		free(bysecret);
		return CONFIG_ERR_IO;
	}
	free(cfg->byname);
	free(cfg->bysecret);
	cfg->byname = byname;
	cfg->bysecret = bysecret;
	cfg->hashcap = hcap;
	for (i = 0; i < cfg->nusers; i++)
		index_add(cfg, i);
	return 0;
}

const struct config_user *
config_find_user(const struct config *cfg, const char *name)
{
	size_t slot;

	if (cfg->hashcap == 0)
		return NULL;
	slot = *index_slot(cfg, cfg->byname, name, strlen(name), 0);
	return slot == 0 ? NULL : &cfg->users[slot - 1];
}

/* A valid name as it is stored. */
static void
user_name_lower(const char *name, char lname[CONFIG_NAME_MAX])
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	lname[i] = '\0';
}

/* The user called name (lowercased into lname), added if new. */
static int
user_get(struct config *cfg, const char *name, char lname[CONFIG_NAME_MAX],
    struct config_user **out)
{
	struct config_user *u;

	user_name_lower(name, lname);
	if ((*out = (struct config_user *)config_find_user(cfg, lname)) != NULL)
		return 0;
	if (users_reserve(cfg) != 0)
		return CONFIG_ERR_IO;
	u = &cfg->users[cfg->nusers];
	memset(u, 0, sizeof(*u));
	memcpy(u->name, lname, CONFIG_NAME_MAX);
	cfg->nusers++;
	index_add(cfg, cfg->nusers - 1);
	*out = u;
	return 0;
}

/* Never quote the value here: it is a secret. */
static int
set_user(struct config *cfg, const char *key, const char *value,
    char *err, size_t errlen)
{
	char name[CONFIG_NAME_MAX], k[SHOWN_VALUE_MAX + 4];
	uint8_t secret[SECRET_LEN];
	struct config_user *u;
	size_t other;
	int rc = CONFIG_ERR;

	if (!user_name_valid(key)) {
		errbuf_set(err, errlen, "config: [users] %s: expected a name of "
		    "1..63 letters, digits, '_', '.' or '-'", shown(key, k));
		return CONFIG_ERR;
	}
	user_name_lower(key, name);
	if (secret_parse_key(value, secret) != 0) {
		errbuf_set(err, errlen, "config: [users] %s: expected 32 hex "
		    "digits", name);
		goto out;
	}
	if ((u = (struct config_user *)config_find_user(cfg, name)) != NULL &&
	    u->has_secret) {
		errbuf_set(err, errlen, "config: [users] %s: expected each user "
		    "name once (defined twice)", name);
		goto out;
	}
	/* The handshake finds the user by secret alone. */
	other = cfg->hashcap == 0 ? 0 :
	    *index_slot(cfg, cfg->bysecret, secret, SECRET_LEN, 1);
	if (other != 0) {
		errbuf_set(err, errlen, "config: [users] %s: expected a secret "
		    "of its own (user %s has the same)", name,
		    cfg->users[other - 1].name);
		goto out;
	}
	if (user_get(cfg, key, name, &u) != 0) {
		errbuf_set(err, errlen, "config: out of memory");
		rc = CONFIG_ERR_IO;
		goto out;
	}
	memcpy(u->secret, secret, SECRET_LEN);
	u->has_secret = 1;
	index_add(cfg, (size_t)(u - cfg->users));
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

/* [user.NAME]: the user's limits, before or after its [users] line. */

static int
lim_count(struct config_limits *l, const struct key_def *k, const char *value)
{
	long long v;

	if (key_num(k, value, &v) != 0)
		return CONFIG_ERR;
	*(int *)(void *)((char *)l + k->off) = (int)v;
	return 0;
}

static int
lim_bytes(struct config_limits *l, const struct key_def *k, const char *value)
{
	uint64_t v;

	if (value[0] == '\0' || period_parse_bytes(value, &v) != 0 ||
	    v > (uint64_t)k->max || (v != 0 && v < (uint64_t)k->min))
		return CONFIG_ERR;
	*(unsigned long long *)(void *)((char *)l + k->off) = v;
	return 0;
}

static int
lim_period(struct config_limits *l, const struct key_def *k,
    const char *value)
{
	enum period p;

	(void)k;
	if (period_parse(value, &p) != 0)
		return CONFIG_ERR;
	l->quota_period = (int)p;
	return 0;
}

static int
lim_expires(struct config_limits *l, const struct key_def *k,
    const char *value)
{
	int64_t t;

	(void)k;
	if (value[0] == '\0') {
		l->expires = 0;
		return 0;
	}
	if (period_parse_time(value, &t) != 0 || t <= 0)
		return CONFIG_ERR;
	l->expires = t;
	return 0;
}

static int
lim_enabled(struct config_limits *l, const struct key_def *k,
    const char *value)
{
	int on;

	(void)k;
	if (parse_bool(value, &on) != 0)
		return CONFIG_ERR;
	l->disabled = !on;
	return 0;
}

static int
lim_ad_tag(struct config_limits *l, const struct key_def *k,
    const char *value)
{
	(void)k;
	if (value[0] == '\0') {
		l->has_ad_tag = 0;
		return 0;
	}
	if (secret_parse_key(value, l->ad_tag) != 0)
		return CONFIG_ERR;
	l->has_ad_tag = 1;
	return 0;
}

typedef int (*lim_setter)(struct config_limits *, const struct key_def *,
    const char *);

#define LIM(f)		offsetof(struct config_limits, f)
#define BYTES_MAX	(1LL << 60)

/* The table's set field is unused: lim_setters holds each row's setter. */
static const struct key_def user_keys[] = {
	{ "max_connections", NULL, LIM(max_connections), 1, 1000000, KEY_ZERO,
	    "sessions 1..1000000 (0: no cap)" },
	{ "max_ips", NULL, LIM(max_ips), 1, 1000000, KEY_ZERO,
	    "addresses 1..1000000 (0: no cap)" },
	{ "quota", NULL, LIM(quota), 1, BYTES_MAX, KEY_ZERO,
	    "bytes with an optional K, M, G or T suffix (0: none)" },
	{ "quota_period", NULL, 0, 0, 0, 0, "total, day, week or month" },
	{ "expires", NULL, 0, 0, 0, KEY_ZERO,
	    "a UTC date or date-time, ISO 8601 (2027-01-31 or "
	    "2027-01-31T18:00:00Z)" },
	{ "rate", NULL, LIM(rate), 1024, BYTES_MAX, KEY_ZERO,
	    "bytes per second, at least 1K, with an optional K, M, G or T "
	    "suffix (0: none)" },
	{ "enabled", NULL, 0, 0, 0, 0, "yes or no" },
	{ "ad_tag", NULL, 0, 0, 0, KEY_UNQUOTED, "32 hex digits" },
};

static const lim_setter lim_setters[NELEM(user_keys)] = {
	lim_count, lim_count, lim_bytes, lim_period, lim_expires, lim_bytes,
	lim_enabled, lim_ad_tag,
};

static int
set_user_key(struct config *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	char name[CONFIG_NAME_MAX], known[256], k[SHOWN_VALUE_MAX + 4];
	char sec[SHOWN_VALUE_MAX + 4];
	const char *uname = section + 5;
	struct config_user *u;
	size_t i, pos = 0;

	if (!user_name_valid(uname)) {
		errbuf_set(err, errlen, "config: [%s]: expected a user name of "
		    "1..63 letters, digits, '_', '.' or '-' after user.",
		    shown(section, k));
		return CONFIG_ERR;
	}
	for (i = 0; i < NELEM(user_keys); i++) {
		if (strcasecmp(key, user_keys[i].name) != 0)
			continue;
		if (user_get(cfg, uname, name, &u) != 0) {
			errbuf_set(err, errlen, "config: out of memory");
			return CONFIG_ERR_IO;
		}
		snprintf(known, sizeof(known), "user.%s", name);
		if (lim_setters[i](&u->lim, &user_keys[i], value) == 0)
			return 0;
		if (user_keys[i].flags & KEY_UNQUOTED) {
			errbuf_set(err, errlen, "config: [%s] %s: expected %s",
			    known, user_keys[i].name, user_keys[i].form);
			return CONFIG_ERR;
		}
		return err_value(err, errlen, known, key, value,
		    user_keys[i].form);
	}
	known[0] = '\0';
	for (i = 0; i < NELEM(user_keys) && pos < sizeof(known); i++)
		pos += (size_t)snprintf(known + pos, sizeof(known) - pos,
		    "%s%s", i ? ", " : "", user_keys[i].name);
	errbuf_set(err, errlen, "config: [%s] %s: unknown key; expected one "
	    "of %s", shown(section, sec), shown(key, k), known);
	return CONFIG_ERR;
}

/* [dc]: id = addresses; replaces the id's built-in addresses or adds it. */
static int
set_dc(struct config *cfg, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct config_dc dc;
	struct config_dc *slot;
	long long id;

	if (parse_num(key, 1, DC_ID_MAX, &id) != 0)
		return err_value(err, errlen, "dc", key, value,
		    "a DC id 1..32767 as the key");
	memset(&dc, 0, sizeof(dc));
	dc.id = (int)id;
	if (split_list(value, CONFIG_MAX_DC_ADDRS, &dc.naddr, dc_item,
	    dc.addr) != 0)
		return err_value(err, errlen, "dc", key, value,
		    "a comma-separated list of at most 8 IPv4:port or "
		    "[IPv6]:port");
	slot = (struct config_dc *)config_find_dc(cfg, dc.id);
	if (slot == NULL) {
		if (cfg->ndcs == CONFIG_MAX_DCS)
			return err_value(err, errlen, "dc", key, value,
			    "at most 64 DC ids");
		slot = &cfg->dcs[cfg->ndcs++];
	}
	*slot = dc;
	return 0;
}

static int
err_section(const char *section, char *err, size_t errlen)
{
	char s[SHOWN_VALUE_MAX + 4];

	errbuf_set(err, errlen, "config: [%s]: unknown section; expected "
	    "[server], [tls], [middle], [metrics], [upstream], [store], "
	    "[users], [user.NAME] or [dc]", shown(section, s));
	return CONFIG_ERR;
}

int
config_set(struct config *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	if (section == NULL || key == NULL || value == NULL) {
		errbuf_set(err, errlen, "config: missing section, key or value");
		return CONFIG_ERR;
	}
	if (strcasecmp(section, "server") == 0)
		return set_key(cfg, "server", server_keys, NELEM(server_keys),
		    key, value, err, errlen);
	if (strcasecmp(section, "tls") == 0)
		return set_key(cfg, "tls", tls_keys, NELEM(tls_keys), key,
		    value, err, errlen);
	if (strcasecmp(section, "middle") == 0)
		return set_key(cfg, "middle", middle_keys, NELEM(middle_keys),
		    key, value, err, errlen);
	if (strcasecmp(section, "metrics") == 0)
		return set_key(cfg, "metrics", metrics_keys,
		    NELEM(metrics_keys), key, value, err, errlen);
	if (strcasecmp(section, "upstream") == 0)
		return set_key(cfg, "upstream", upstream_keys,
		    NELEM(upstream_keys), key, value, err, errlen);
	if (strcasecmp(section, "store") == 0)
		return set_key(cfg, "store", store_keys, NELEM(store_keys),
		    key, value, err, errlen);
	if (strcasecmp(section, "users") == 0)
		return set_user(cfg, key, value, err, errlen);
	if (strncasecmp(section, "user.", 5) == 0)
		return set_user_key(cfg, section, key, value, err, errlen);
	if (strcasecmp(section, "dc") == 0)
		return set_dc(cfg, key, value, err, errlen);
	return err_section(section, err, errlen);
}

static void
default_state_dir(struct config *cfg)
{
	const char *home = getenv("HOME");
	int n;

	if (geteuid() == 0) {
		snprintf(cfg->state_dir, sizeof(cfg->state_dir),
		    "/var/lib/mtproxyd");
		return;
	}
	if (home != NULL && home[0] != '\0') {
		n = snprintf(cfg->state_dir, sizeof(cfg->state_dir),
		    "%s/.local/state/mtproxyd", home);
		if (n > 0 && (size_t)n < sizeof(cfg->state_dir))
			return;
	}
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "./.mtproxyd");
}

/* inet_pton cannot fail on the table's literals (the unit test checks). */
static void
builtin_addr(struct net_addr *a, int family, const char *ip,
    uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
		a->len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &sin6->sin6_addr);
		a->len = sizeof(*sin6);
	}
}

void
config_defaults(struct config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = DEFAULT_PORT;
	builtin_addr(&cfg->listen[0], AF_INET, "0.0.0.0", 0);
	builtin_addr(&cfg->listen[1], AF_INET6, "::", 0);
	cfg->nlisten = 2;
	cfg->mode = CONFIG_MODE_DIRECT;
	cfg->modes = 0;		/* config_validate picks, by [tls] domain */
	cfg->fast_mode = 1;
	cfg->prefer_ipv6 = 0;
	cfg->max_clients = 0;
	cfg->handshake_timeout = 10;
	cfg->idle_timeout = 600;
	cfg->connect_timeout = 10;
	cfg->shutdown_grace = 10;
	cfg->buffer_size = 16384;
	cfg->dc_rcvbuf = 0;
	cfg->dc_pool = 2;
	cfg->dc_pool_max_age = 30;
	cfg->default_dc = 2;
	cfg->pool_spare = 64;
	cfg->hs_fail_window = HS_FAIL_WINDOW;
	cfg->log_level = LOGL_INFO;
	default_state_dir(cfg);
	cfg->state_interval = STATE_INTERVAL;
	snprintf(cfg->redis.prefix, sizeof(cfg->redis.prefix), "mtproxyd:");
	cfg->redis.interval = 1;
	cfg->drain_timeout = DRAIN_TIMEOUT;
	cfg->print_links = 1;
	snprintf(cfg->clock_url, sizeof(cfg->clock_url), "%s", URL_CLOCK);
	cfg->mask_port = MASK_PORT;
	cfg->mask_proxy_protocol = 0;
	cfg->time_skew_past = FAKETLS_SKEW_PAST;
	cfg->time_skew_future = FAKETLS_SKEW_FUTURE;
	cfg->replay_cache_size = REPLAY_ENTRIES;
	cfg->store_timeout = 50;
	cfg->unknown_sni = CONFIG_SNI_MASK;
	cfg->mask_probe_interval = 3600;
	cfg->mask_timeout = 600;
	cfg->mask_max_bytes = MASK_MAX_BYTES;
	snprintf(cfg->proxy_secret_url, sizeof(cfg->proxy_secret_url), "%s",
	    URL_SECRET);
	snprintf(cfg->proxy_config_url, sizeof(cfg->proxy_config_url), "%s",
	    URL_CONFIG);
	snprintf(cfg->proxy_config_v6_url, sizeof(cfg->proxy_config_v6_url),
	    "%s", URL_CONFIG_V6);
	cfg->refresh_interval = REFRESH_INTERVAL;
	cfg->conn_min = CONN_MIN;
	cfg->conn_max = CONN_MAX;
	cfg->ping_interval = PING_INTERVAL;
	cfg->queue_bytes = QUEUE_BYTES;
	/* Cannot fail: a literal the unit test checks. */
	(void)set_allow(cfg, NULL, "127.0.0.0/8, ::1/128");
	for (i = 0; i < NELEM(builtin_dcs); i++) {
		cfg->dcs[i].id = builtin_dcs[i].id;
		builtin_addr(&cfg->dcs[i].addr[0], AF_INET, builtin_dcs[i].ipv4,
		    DC_PORT);
		builtin_addr(&cfg->dcs[i].addr[1], AF_INET6,
		    builtin_dcs[i].ipv6, DC_PORT);
		cfg->dcs[i].naddr = 2;
	}
	cfg->ndcs = NELEM(builtin_dcs);
}

/*
 * iniparser reports syntax errors through a process-wide callback and prints
 * the offending line, which may hold a secret; keep only the line number.
 */
static _Thread_local int ini_errline;
static _Thread_local int ini_toolong;

static int
ini_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (strstr(fmt, "%s (%d)") != NULL) {
		(void)va_arg(ap, const char *);
		ini_errline = va_arg(ap, int);
		ini_toolong = strstr(fmt, "too long") != NULL;
	}
	va_end(ap);
	return 0;
}

/* iniparser reads files only: hand it the text through a memfd. */
static int
ini_parse(const char *text, size_t len, dictionary **out, char *err,
    size_t errlen)
{
	char path[64];
	int fd;

	if ((fd = memfd_create("mtproxyd-config", MFD_CLOEXEC)) < 0) {
		errbuf_set(err, errlen, "config: memfd_create: %s", strerror(errno));
		return CONFIG_ERR_IO;
	}
	if (file_write_all(fd, text, len) != 0) {
		errbuf_set(err, errlen, "config: memfd write: %s",
		    strerror(errno));
		close(fd);
		return CONFIG_ERR_IO;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ini_errline = 0;
	ini_toolong = 0;
	/* Left installed: restoring the default would open a window in
	 * which another thread's bad line reaches stderr. */
	iniparser_set_error_callback(ini_error);
	*out = iniparser_load(path);
	close(fd);
	if (*out != NULL)
		return 0;
	if (ini_toolong)
		errbuf_set(err, errlen, "config: line %d: expected at most %d "
		    "characters in a line", ini_errline, INI_LINE_MAX - 1);
	else if (ini_errline > 0)
		errbuf_set(err, errlen, "config: line %d: expected [section], "
		    "key = value or a comment", ini_errline);
	else
		errbuf_set(err, errlen, "config: cannot parse (out of memory?)");
	return ini_errline > 0 ? CONFIG_ERR : CONFIG_ERR_IO;
}

static void
strip_lower(char *s)
{
	size_t a = 0, b = strlen(s), i;

	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	for (i = a; i < b; i++)
		s[i - a] = (char)tolower((unsigned char)s[i]);
	s[b - a] = '\0';
}

/*
 * Record one logical line's "section:key" in seen; 1 if it was there. The
 * line is classified as iniparser does, which already accepted it.
 */
static int
line_seen(char *line, char *section, size_t seclen, dictionary *seen,
    char *dup, size_t duplen)
{
	char *eq, *close, entry[2 * INI_LINE_MAX + 2];

	strip_lower(line);
	if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
		return 0;
	if (line[0] == '[' && line[strlen(line) - 1] == ']') {
		close = strchr(line, ']');
		*close = '\0';
		strip_lower(line + 1);
		snprintf(section, seclen, "%s", line + 1);
		return 0;
	}
	if ((eq = strchr(line, '=')) == NULL)
		return 0;
	*eq = '\0';
	strip_lower(line);
	snprintf(entry, sizeof(entry), "%s:%s", section, line);
	if (dictionary_get(seen, entry, NULL) != NULL) {
		snprintf(dup, duplen, "%s", entry);
		return 1;
	}
	return dictionary_set(seen, entry, "") == 0 ? 0 : CONFIG_ERR_IO;
}

/*
 * iniparser keeps the last of two equal keys without a word; find the first
 * repeated one so a user or key written twice is an error, not a surprise.
 * 1: found, in dup; 0: none; CONFIG_ERR_IO: out of memory.
 */
static int
find_duplicate(const char *text, size_t len, char *dup, size_t duplen)
{
	char line[INI_LINE_MAX + 1], section[INI_LINE_MAX + 1] = "";
	size_t pos = 0, used = 0, i;
	dictionary *seen;
	int found = 0;

	if ((seen = dictionary_new(0)) == NULL)
		return CONFIG_ERR_IO;
	while (pos < len && !found) {
		for (i = pos; i < len && text[i] != '\n'; i++)
			if (used < INI_LINE_MAX)
				line[used++] = text[i];
		pos = i + 1;
		while (used > 0 && isspace((unsigned char)line[used - 1]))
			used--;
		if (used > 0 && line[used - 1] == '\\' && pos < len) {
			used--;
			continue;
		}
		line[used] = '\0';
		used = 0;
		found = line_seen(line, section, sizeof(section), seen, dup,
		    duplen);
	}
	dictionary_del(seen);
	return found;
}

static int
dup_error(const char *dup, char *err, size_t errlen)
{
	char s[SHOWN_VALUE_MAX + 4];
	const char *colon = strchr(dup, ':');
	int seclen = (int)(colon - dup);

	if (strncmp(dup, "users:", 6) == 0)
		errbuf_set(err, errlen, "config: [users] %s: expected each user "
		    "name once (defined twice)", shown(colon + 1, s));
	else
		errbuf_set(err, errlen, "config: [%.*s] %s: expected each key "
		    "once (defined twice)", seclen, dup, shown(colon + 1, s));
	return CONFIG_ERR;
}

/* A [section] line: known (for a users file, one of its two kinds)? */
static int
section_known(const char *name, int users_only)
{
	static const char *const sections[] = { "users", "server", "tls",
	    "middle", "metrics", "dc", "upstream", "store" };
	size_t j;

	if (strncmp(name, "user.", 5) == 0)
		return 1;
	for (j = 0; j < (users_only ? 1 : NELEM(sections)); j++)
		if (strcmp(name, sections[j]) == 0)
			return 1;
	return 0;
}

static int
err_users_only(const char *section, char *err, size_t errlen)
{
	char s[SHOWN_VALUE_MAX + 4];

	errbuf_set(err, errlen, "config: [%s]: expected only [users] and "
	    "[user.NAME] sections in a users_file", shown(section, s));
	return CONFIG_ERR;
}

/* Walk the entries in file order so the first mistake is reported. */
static int
apply_dictionary(dictionary *d, struct config *cfg, int users_only,
    char *err, size_t errlen)
{
	const char *key, *colon;
	char section[CONFIG_NAME_MAX + 8], shownkey[SHOWN_VALUE_MAX + 4];
	ssize_t i;
	size_t n;
	int rc;

	for (i = 0; i < d->size; i++) {
		if ((key = d->key[i]) == NULL)
			continue;
		if (d->val[i] == NULL) {
			if (section_known(key, users_only))
				continue;
			return users_only && section_known(key, 0) ?
			    err_users_only(key, err, errlen) :
			    err_section(key, err, errlen);
		}
		colon = strchr(key, ':');
		n = (size_t)(colon - key);
		if (n == 0) {
			errbuf_set(err, errlen, "config: %s: expected [server], "
"[tls], [middle], [metrics], [upstream], [store], [users] "
			    "or [dc] before the first key", shown(colon + 1, shownkey));
			return CONFIG_ERR;
		}
		/* Keys of unknown sections follow the section's own error. */
		if (n >= sizeof(section))
			n = sizeof(section) - 1;
		memcpy(section, key, n);
		section[n] = '\0';
		rc = config_set(cfg, section, colon + 1, d->val[i], err,
		    errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
load_text(const char *text, size_t len, struct config *cfg, int users_only,
    char *err, size_t errlen)
{
	char dup[2 * INI_LINE_MAX + 2];
	dictionary *d = NULL;
	const char *nul;
	int rc;

	if ((nul = memchr(text, '\0', len)) != NULL) {
		errbuf_set(err, errlen, "config: byte %zu: expected text, found "
		    "a NUL byte", (size_t)(nul - text));
		return CONFIG_ERR;
	}
	if ((rc = ini_parse(text, len, &d, err, errlen)) != 0)
		return rc;
	rc = find_duplicate(text, len, dup, sizeof(dup));
	if (rc == 1)
		rc = dup_error(dup, err, errlen);
	else if (rc == 0)
		rc = apply_dictionary(d, cfg, users_only, err, errlen);
	else
		errbuf_set(err, errlen, "config: out of memory");
	iniparser_freedict(d);
	return rc;
}

int
config_load_buffer(const char *text, size_t len, struct config *cfg,
    char *err, size_t errlen)
{
	return load_text(text, len, cfg, 0, err, errlen);
}

/* Prefix an error from config_load_buffer with the file's name. */
static void
err_prefix(const char *path, char *err, size_t errlen)
{
	char copy[1024];

	if (err == NULL || errlen == 0)
		return;
	snprintf(copy, sizeof(copy), "%s", err);
	snprintf(err, errlen, "%s: %s", path, copy);
}

/* The whole of a file of at most max bytes, or one line saying why not. */
static int
read_text(const char *path, size_t max, char **text, size_t *len, char *err,
    size_t errlen)
{
	switch (file_read(path, 0, max, text, len)) {
	case 0:
		return 0;
	case FILE_ERR_OPEN:
		errbuf_set(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return CONFIG_ERR_IO;
	case FILE_ERR_TYPE:
		errbuf_set(err, errlen, "%s: cannot read: not a regular file",
		    path);
		return CONFIG_ERR_IO;
	case FILE_ERR_BIG:
		errbuf_set(err, errlen, "%s: config: expected at most %zu bytes",
		    path, max);
		return CONFIG_ERR;
	default:
		errbuf_set(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		return CONFIG_ERR_IO;
	}
}

static int
load_file(const char *path, struct config *cfg, int users_only, char *err,
    size_t errlen)
{
	size_t max = users_only ? USERS_FILE_MAX : FILE_MAX, len;
	char *text;
	int rc;

	if ((rc = read_text(path, max, &text, &len, err, errlen)) != 0)
		return rc;
	if ((rc = load_text(text, len, cfg, users_only, err, errlen)) != 0)
		err_prefix(path, err, errlen);
	free(text);
	return rc;
}

/* allow_file or block_file: NULL when path is empty. */
static int
load_list(const char *path, struct addrlist **out, char *err, size_t errlen)
{
	char shown_item[SHOWN_VALUE_MAX + 4], item[SHOWN_VALUE_MAX + 1];
	struct addrlist_bad bad;
	size_t len;
	char *text;
	int rc;

	addrlist_free(*out);
	*out = NULL;
	if (path[0] == '\0')
		return 0;
	if ((rc = read_text(path, ADDR_FILE_MAX, &text, &len, err,
	    errlen)) != 0)
		return rc;
	rc = addrlist_parse(text, len, out, &bad);
	if (rc == ADDRLIST_ERR_LINE) {
		len = bad.len < SHOWN_VALUE_MAX ? bad.len : SHOWN_VALUE_MAX;
		memcpy(item, text + bad.off, len);
		item[len] = '\0';
		errbuf_set(err, errlen, "%s: line %zu: '%s': expected an IPv4 or "
		    "IPv6 address or ADDR/BITS", path, bad.line,
		    shown(item, shown_item));
		rc = CONFIG_ERR;
	} else if (rc != 0) {
		errbuf_set(err, errlen, "%s: out of memory", path);
		rc = CONFIG_ERR;
	}
	free(text);
	return rc;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	int rc;

	if ((rc = load_file(path, cfg, 0, err, errlen)) != 0)
		return rc;
	if (cfg->users_file[0] != '\0' &&
	    (rc = load_file(cfg->users_file, cfg, 1, err, errlen)) != 0)
		return rc;
	if ((rc = load_list(cfg->allow_file, &cfg->allow_list, err,
	    errlen)) != 0)
		return rc;
	return load_list(cfg->block_file, &cfg->block_list, err, errlen);
}

static void
modes_text(unsigned modes, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s%s%s",
	    modes & CONFIG_MODES_CLASSIC ? "classic" : "",
	    (modes & CONFIG_MODES_CLASSIC) && (modes & ~CONFIG_MODES_CLASSIC) ?
	    ", " : "",
	    modes & CONFIG_MODES_SECURE ? "secure" : "",
	    (modes & CONFIG_MODES_SECURE) && (modes & CONFIG_MODES_TLS) ?
	    ", " : "",
	    modes & CONFIG_MODES_TLS ? "tls" : "");
}

/* What every limit that binds allows (capacity.h), at most 8192. */
static int
auto_max_clients(struct config *cfg, char *err, size_t errlen)
{
	struct capacity_limits lim;
	enum capacity_limit binding = CAPACITY_NOFILE;
	long long n;

	capacity_read(&lim);
	if (capacity_derive(&lim, &n, &binding) != 0 || n > AUTO_CLIENTS_CAP)
		n = AUTO_CLIENTS_CAP;
	if (n < 1) {
		errbuf_set(err, errlen, "config: [server] max_clients = '0': "
		    "the limit of %s, %lld, is too low for auto; expected an "
		    "explicit value", capacity_limit_name(binding),
		    lim.v[binding]);
		return CONFIG_ERR;
	}
	cfg->max_clients = (int)n;
	return 0;
}

/* A quarter of the machine's RAM: room for clients that read slowly. */
static void
auto_queue_total(struct config *cfg)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	long long ram = pages > 0 && size > 0 ? (long long)pages * size : 0;

	cfg->queue_total_bytes = ram / AUTO_QUEUE_SHARE > AUTO_QUEUE_MIN ?
	    ram / AUTO_QUEUE_SHARE : AUTO_QUEUE_MIN;
}

/* A [user.NAME] section needs its user; a user's ad tag needs middle mode. */
static int
users_validate(const struct config *cfg, char *err, size_t errlen)
{
	const struct config_user *u;
	size_t i;

	for (i = 0; i < cfg->nusers; i++) {
		u = &cfg->users[i];
		if (!u->has_secret) {
			errbuf_set(err, errlen, "config: [user.%s]: expected a "
			    "line %s = SECRET in [users]", u->name, u->name);
			return CONFIG_ERR;
		}
		if (u->lim.has_ad_tag && cfg->mode != CONFIG_MODE_MIDDLE) {
			errbuf_set(err, errlen, "config: [user.%s] ad_tag: the "
			    "ad tag needs mode = middle", u->name);
			return CONFIG_ERR;
		}
	}
	return 0;
}

void
config_free(struct config *cfg)
{
	if (cfg->users != NULL)
		OPENSSL_cleanse(cfg->users, cfg->usercap * sizeof(*cfg->users));
	free(cfg->users);
	OPENSSL_cleanse(cfg->upstream.password,
	    sizeof(cfg->upstream.password));
	OPENSSL_cleanse(cfg->redis.password, sizeof(cfg->redis.password));
	free(cfg->byname);
	free(cfg->bysecret);
	cfg->users = NULL;
	cfg->byname = cfg->bysecret = NULL;
	addrlist_free(cfg->allow_list);
	addrlist_free(cfg->block_list);
	cfg->allow_list = cfg->block_list = NULL;
	cfg->nusers = cfg->usercap = cfg->hashcap = 0;
}

/*
 * Credentials go together (RFC 1929 has no half); the middle-proxy links do
 * not go through the SOCKS server, so middle mode with one is refused
 * rather than leaking around it.
 */
static int
upstream_validate(const struct config *cfg, char *err, size_t errlen)
{
	const struct config_upstream *up = &cfg->upstream;

	if ((up->username[0] != '\0') != (up->password[0] != '\0')) {
		errbuf_set(err, errlen, "config: [upstream] username, "
		    "password: expected both or neither");
		return CONFIG_ERR;
	}
	if (up->username[0] != '\0' && !up->has_socks5) {
		errbuf_set(err, errlen, "config: [upstream] username: needs "
		    "socks5 = HOST:PORT");
		return CONFIG_ERR;
	}
	if (up->has_socks5 && cfg->mode == CONFIG_MODE_MIDDLE) {
		errbuf_set(err, errlen, "config: [upstream] socks5: expected "
		    "mode = direct; middle-proxy links do not go through it");
		return CONFIG_ERR;
	}
	return 0;
}

/* hiredis as Debian builds it has no TLS: refused rather than sent clear. */
static int
store_validate(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->store != CONFIG_STORE_REDIS)
		return 0;
	if (cfg->redis.addr[0] == '\0') {
		errbuf_set(err, errlen, "config: [store] backend = redis: "
		    "expected redis = HOST:PORT or a unix socket path");
		return CONFIG_ERR;
	}
	if (cfg->redis.tls) {
		errbuf_set(err, errlen, "config: [store] tls = yes: this build "
		    "has no TLS for Redis (hiredis_ssl); use a unix socket or "
		    "a tunnel");
		return CONFIG_ERR;
	}
	return 0;
}

static uint16_t
metrics_port(const struct config *cfg)
{
	const struct sockaddr_storage *ss = &cfg->metrics_listen.ss;

	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

int
config_validate(struct config *cfg, char *err, size_t errlen)
{
	char modes[32];
	size_t i;

	/* The tag only travels through middle proxies (doc/PROTOCOL.md 4.7). */
	if (cfg->has_ad_tag && !cfg->mode_given)
		cfg->mode = CONFIG_MODE_MIDDLE;
	if (cfg->has_ad_tag && cfg->mode != CONFIG_MODE_MIDDLE) {
		errbuf_set(err, errlen, "config: [middle] ad_tag: the ad tag "
		    "needs mode = middle");
		return CONFIG_ERR;
	}
	/* Classic is never a default: it is the easiest to fingerprint. */
	if (cfg->modes == 0)
		cfg->modes = cfg->ndomains > 0 ? CONFIG_MODES_TLS :
		    CONFIG_MODES_SECURE;
	if ((cfg->modes & CONFIG_MODES_TLS) && cfg->ndomains == 0) {
		modes_text(cfg->modes, modes, sizeof(modes));
		errbuf_set(err, errlen, "config: [server] modes = '%s': tls needs "
		    "[tls] domain", modes);
		return CONFIG_ERR;
	}
	if (cfg->ndomains > 0 && cfg->mask_host[0] == '\0')
		memcpy(cfg->mask_host, cfg->domains[0],
		    strlen(cfg->domains[0]) + 1);
	if (users_validate(cfg, err, errlen) != 0 ||
	    upstream_validate(cfg, err, errlen) != 0 ||
	    store_validate(cfg, err, errlen) != 0)
		return CONFIG_ERR;
	if (cfg->proxy_protocol != 0 && cfg->nproxy_from == 0) {
		errbuf_set(err, errlen, "config: [server] proxy_protocol: "
		    "expected proxy_protocol_from, the addresses of the load "
		    "balancers that send the header");
		return CONFIG_ERR;
	}
	if (config_find_dc(cfg, cfg->default_dc) == NULL) {
		errbuf_set(err, errlen, "config: [server] default_dc = '%d': "
		    "expected a DC id from the table (1..5 or a [dc] entry)",
		    cfg->default_dc);
		return CONFIG_ERR;
	}
	if (cfg->has_metrics && cfg->port != 0 &&
	    metrics_port(cfg) == cfg->port) {
		errbuf_set(err, errlen, "config: [metrics] listen: expected a "
		    "port other than the client port %u", cfg->port);
		return CONFIG_ERR;
	}
	if (cfg->max_clients == 0 &&
	    auto_max_clients(cfg, err, errlen) != 0)
		return CONFIG_ERR;
	if (cfg->queue_total_bytes == 0)
		auto_queue_total(cfg);
	/* listen holds addresses only until the port is known. */
	for (i = 0; i < cfg->nlisten; i++) {
		if (cfg->listen[i].ss.ss_family == AF_INET)
			((struct sockaddr_in *)&cfg->listen[i].ss)->sin_port =
			    htons(cfg->port);
		else
			((struct sockaddr_in6 *)&cfg->listen[i].ss)->sin6_port =
			    htons(cfg->port);
	}
	return 0;
}

const struct config_dc *
config_find_dc(const struct config *cfg, int id)
{
	size_t i;

	for (i = 0; i < cfg->ndcs; i++)
		if (cfg->dcs[i].id == id)
			return &cfg->dcs[i];
	return NULL;
}

const char *
config_log_level_name(enum log_level l)
{
	if ((unsigned)l >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[l];
}
