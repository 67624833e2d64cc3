/*
 * mtproxyd check and the start's warnings. Each check is one function that
 * reports through say(): to the check's output as a line, or at start to
 * the log, where only warnings and failures are worth a line. The network
 * checks reuse the daemon's own paths (middle.c's fetch and parse,
 * mask.c's probe, capacity.c's limits) so that they test what will run.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capacity.h"
#include "diag.h"
#include "crypto.h"
#include "faketls.h"
#include "fetch.h"
#include "log.h"
#include "mask.h"
#include "middle.h"
#include "net.h"
#include "users.h"

#define DIAG_LINE_MAX		1024
#define DIAG_CONNECT_MS	5000	/* per DC address, at most */
#define DIAG_FETCH_S		10
#define DIAG_SKEW_MAX		30	/* s: [tls] time_skew_future's default */
#define DIAG_FEW_CLIENTS	1000
#define DIAG_MAX_ADDRS		16

struct check_out {
	FILE *out;		/* NULL: the start's warnings, to the log */
	int worst;
};

static const char *const level_names[] = { "ok", "warn", "fail" };

static void
say(struct check_out *o, int level, const char *name, const char *fmt, ...)
{
	char msg[DIAG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level > o->worst)
		o->worst = level;
	if (o->out != NULL)
		fprintf(o->out, "%-4s %s: %s\n", level_names[level], name, msg);
	else if (level != DIAG_OK)
		log_warn("%s: %s", name, msg);
}

/* ---- addresses ---- */

struct addr_set {
	size_t n;
	struct net_addr a[DIAG_MAX_ADDRS];
};

static int
resolve(const char *host, struct addr_set *set, const char **why)
{
	struct addrinfo hints, *res, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	set->n = 0;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		*why = gai_strerror(rc);
		return -1;
	}
	for (ai = res; ai != NULL && set->n < DIAG_MAX_ADDRS;
	    ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(set->a[0].ss))
			continue;
		memcpy(&set->a[set->n].ss, ai->ai_addr, ai->ai_addrlen);
		set->a[set->n++].len = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	*why = "no IPv4 or IPv6 address";
	return set->n > 0 ? 0 : -1;
}

/* The address bytes of sa, ports aside: 4 or 16 of them. */
static size_t
addr_bytes(const struct sockaddr *sa, const uint8_t **p)
{
	if (sa->sa_family == AF_INET) {
		*p = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		*p = (const uint8_t *)&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
		return 16;
	}
	return 0;
}

static int
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	const uint8_t *pa, *pb;
	size_t n = addr_bytes(a, &pa);

	return n > 0 && a->sa_family == b->sa_family &&
	    addr_bytes(b, &pb) == n && memcmp(pa, pb, n) == 0;
}

/* Whether one of set's addresses is on an interface of this machine. */
static int
any_local(const struct addr_set *set)
{
	struct ifaddrs *list, *ifa;
	size_t i;
	int found = 0;

	if (getifaddrs(&list) != 0)
		return 0;
	for (ifa = list; ifa != NULL && !found; ifa = ifa->ifa_next)
		for (i = 0; ifa->ifa_addr != NULL && i < set->n; i++)
			if (same_addr(ifa->ifa_addr,
			    (const struct sockaddr *)&set->a[i].ss))
				found = 1;
	freeifaddrs(list);
	return found;
}

static int
any_common(const struct addr_set *a, const struct addr_set *b)
{
	size_t i, j;

	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++)
			if (same_addr((const struct sockaddr *)&a->a[i].ss,
			    (const struct sockaddr *)&b->a[j].ss))
				return 1;
	return 0;
}

static void
addr_text(const struct net_addr *a, char *out, size_t outlen)
{
	const uint8_t *p;

	if (addr_bytes((const struct sockaddr *)&a->ss, &p) == 0 ||
	    inet_ntop(a->ss.ss_family, p, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

/* ---- the checks ---- */

static void
check_public_host(struct check_out *o, const struct config *cfg)
{
	struct addr_set set;
	const char *why;
	char first[INET6_ADDRSTRLEN], shown[sizeof(cfg->public_host) + 64];

	if (cfg->public_host[0] == '\0') {
		say(o, DIAG_OK, "public_host", "not set: links carry the "
		    "first address of this machine that is not loopback");
		return;
	}
	if (resolve(cfg->public_host, &set, &why) != 0) {
		say(o, DIAG_WARN, "public_host", "%s does not resolve (%s): "
		    "clients cannot reach it; set [server] public_host to a "
		    "name or address of this machine", cfg->public_host, why);
		return;
	}
	/* "name (address)", or the address alone when it is one. */
	addr_text(&set.a[0], first, sizeof(first));
	snprintf(shown, sizeof(shown), strcmp(first, cfg->public_host) == 0 ?
	    "%s" : "%s (%s)", cfg->public_host, first);
	if (any_local(&set))
		say(o, DIAG_OK, "public_host", "%s is an address of this "
		    "machine", shown);
	else
		say(o, DIAG_WARN, "public_host", "%s is not an address of this "
		    "machine: clients reach the daemon only if that address "
		    "forwards port %u here (NAT, a load balancer); else set "
		    "[server] public_host to this machine's address", shown,
		    (unsigned)(cfg->public_port != 0 ? cfg->public_port :
		    cfg->port));
}

/* The secrets shown in the sample configuration and README, and zeros. */
static int
sample_secret(const uint8_t key[SECRET_LEN])
{
	static const char *const samples[] = {
		"0123456789abcdef0123456789abcdef",
		"fedcba9876543210fedcba9876543210",
		"5f3a9c0e7b2d4618a0c3e5f7091b2d4f",
		"00000000000000000000000000000000",
	};
	uint8_t s[SECRET_LEN];
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (secret_parse_key(samples[i], s) == 0 &&
		    crypto_memeq(s, key, SECRET_LEN))
			return 1;
	return 0;
}

static void
check_secrets(struct check_out *o, const struct config *cfg)
{
	size_t i, bad = 0;

	for (i = 0; i < cfg->nusers; i++) {
		if (!sample_secret(cfg->users[i].secret))
			continue;
		bad++;
		say(o, DIAG_WARN, "secret", "user %s has a published sample "
		    "secret (or all zeros): anyone can use the proxy as that "
		    "user; put one from mtproxyd --gen-secret in its place",
		    cfg->users[i].name);
	}
	if (bad == 0)
		say(o, DIAG_OK, "secret", "%zu user(s), no sample secret",
		    cfg->nusers);
}

static void
check_default_user(struct check_out *o, const struct config *cfg)
{
	int retired;

	if (users_default_retired(cfg, &retired) != 0 || !retired)
		return;
	say(o, DIAG_WARN, "users", "the default user was retired: [users] "
	    "is set, so %s/secret is no longer used and its links no longer "
	    "work; hand out the new users' links (mtproxyd link), or add "
	    "that secret under [users] to keep them", cfg->state_dir);
}

static void
check_clock(struct check_out *o, const struct config *cfg)
{
	char err[DIAG_LINE_MAX];
	long long off;

	if (fetch_clock_offset(cfg->clock_url, DIAG_FETCH_S, &off, err,
	    sizeof(err)) != 0) {
		say(o, DIAG_WARN, "clock", "unchecked: %s; make sure NTP keeps "
		    "the clock (timedatectl), fake-TLS clients are refused "
		    "beyond %d s of skew", err, cfg->time_skew_future);
		return;
	}
	if (off > DIAG_SKEW_MAX || off < -DIAG_SKEW_MAX)
		say(o, DIAG_FAIL, "clock", "this clock is %+lld s off the "
		    "Date of %s: "
		    "fake-TLS clients are refused and middle proxies drop the "
		    "connections; sync the clock (timedatectl set-ntp true)",
		    -off, cfg->clock_url);
	else
		say(o, DIAG_OK, "clock", "within %lld s of the Date of %s",
		    off < 0 ? -off : off, cfg->clock_url);
}

/* Connect to each address; which worked goes in ok[]. */
static void
dc_connect_all(const struct config *cfg, const struct config_dc *dc,
    int64_t ms[], int err[])
{
	int timeout = cfg->connect_timeout * 1000, fd;
	size_t i;
	int64_t t0;

	if (timeout > DIAG_CONNECT_MS)
		timeout = DIAG_CONNECT_MS;
	for (i = 0; i < dc->naddr; i++) {
		t0 = net_now_ms();
		err[i] = 0;
		if (net_connect(&dc->addr[i], timeout, 0, &fd) == 0)
			close(fd);
		else
			err[i] = errno != 0 ? errno : ETIMEDOUT;
		ms[i] = net_now_ms() - t0;
	}
}

/* One line per address: a failed one fails only when its DC has no other. */
static void
check_dc(struct check_out *o, const struct config *cfg,
    const struct config_dc *dc)
{
	int64_t ms[CONFIG_MAX_DC_ADDRS];
	int err[CONFIG_MAX_DC_ADDRS], any = 0;
	char name[32], addr[INET6_ADDRSTRLEN + 8];
	size_t i;

	dc_connect_all(cfg, dc, ms, err);
	for (i = 0; i < dc->naddr; i++)
		any |= err[i] == 0;
	snprintf(name, sizeof(name), "dc %d", dc->id);
	for (i = 0; i < dc->naddr; i++) {
		net_addr_str((const struct sockaddr *)&dc->addr[i].ss, addr,
		    sizeof(addr));
		if (err[i] == 0)
			say(o, DIAG_OK, name, "%s connected in %lld ms", addr,
			    (long long)ms[i]);
		else
			say(o, any ? DIAG_WARN : DIAG_FAIL, name, "%s: %s "
			    "after %lld ms; %s", addr, strerror(err[i]),
			    (long long)ms[i], any ? "the DC's other address "
			    "works" : "clients of this DC get nothing: check "
			    "the firewall and the [dc] table");
	}
}

static void
check_dcs(struct check_out *o, const struct config *cfg)
{
	size_t i;

	/* Test DCs serve developers' test accounts, not the proxy's users. */
	for (i = 0; i < cfg->ndcs; i++)
		if (cfg->dcs[i].id <= DC_TEST_OFFSET)
			check_dc(o, cfg, &cfg->dcs[i]);
}

static void
check_middle(struct check_out *o, const struct config *cfg)
{
	static const char *const names[MIDDLE_NITEMS] = {
		"middle secret", "middle list", "middle list v6",
	};
	char msg[DIAG_LINE_MAX];
	int i, wanted;

	for (i = 0; i < MIDDLE_NITEMS; i++) {
		msg[0] = '\0';
		if (middle_check_item(cfg, i, &wanted, msg, sizeof(msg)) == 0) {
			if (wanted)
				say(o, DIAG_OK, names[i], "%s", msg);
		} else
			say(o, i == MIDDLE_NITEMS - 1 ? DIAG_WARN : DIAG_FAIL,
			    names[i], "%s; the daemon falls back on its last "
			    "good copy in %s, if any: check the URL or the "
			    "file", msg, cfg->state_dir);
	}
}

static void
check_domain(struct check_out *o, const struct config *cfg)
{
	struct addr_set dom, pub;
	const char *why;
	char first[INET6_ADDRSTRLEN];

	if (resolve(cfg->domains[0], &dom, &why) != 0) {
		say(o, DIAG_WARN, "tls domain", "%s does not resolve (%s): a "
		    "censor resolving the SNI of the proxy's clients finds "
		    "nothing there; use a domain whose DNS points here",
		    cfg->domains[0], why);
		return;
	}
	addr_text(&dom.a[0], first, sizeof(first));
	if (any_local(&dom) || (cfg->public_host[0] != '\0' &&
	    resolve(cfg->public_host, &pub, &why) == 0 &&
	    any_common(&dom, &pub))) {
		say(o, DIAG_OK, "tls domain", "%s resolves to %s, this "
		    "machine", cfg->domains[0], first);
		return;
	}
	say(o, DIAG_WARN, "tls domain", "%s resolves to %s, not to this "
	    "machine nor public_host: a censor comparing the SNI with the "
	    "address connected to sees a mismatch; use a domain whose DNS "
	    "points here, with a real site as mask_host", cfg->domains[0],
	    first);
}

static const char *
group_name(uint16_t g, char *buf, size_t len)
{
	if (g == FAKETLS_GROUP_X25519MLKEM768)
		return "X25519MLKEM768";
	if (g == TLS_GROUP_X25519)
		return "x25519";
	if (g == TLS_GROUP_SECP256R1)
		return "secp256r1";
	if (g == TLS_GROUP_SECP384R1)
		return "secp384r1";
	snprintf(buf, len, "group 0x%04x", g);
	return buf;
}

static void
check_post_quantum(struct check_out *o, const struct mask_cover *mc)
{
	char buf[16];
	const char *g = group_name(mc->group, buf, sizeof(buf));

	if (mc->group == FAKETLS_GROUP_X25519MLKEM768)
		say(o, DIAG_OK, "cover post-quantum", "yes: it picks %s%s", g,
		    mc->hrr ? " (after a HelloRetryRequest)" : "");
	else
		say(o, DIAG_WARN, "cover post-quantum", "no (%s): offered "
		    "X25519MLKEM768, it took %s; browsers offer the hybrid "
		    "since 2024 and by 2026 censors block proxies whose cover "
		    "site lacks it: choose a cover site (mask_host) that "
		    "supports it", g, g);
}

/* Answers TLS 1.3, and with the hybrid group: 0 when it answered. */
static int
check_cover(struct check_out *o, const struct config *cfg)
{
	struct mask_cover mc;
	const char *why = "";

	if (mask_check_cover(cfg, &mc, &why) != 0) {
		say(o, DIAG_FAIL, "cover", "%s: %s; probes and clients that "
		    "fail the checks get nothing real: fix mask_host, "
		    "mask_port or the [tls] domain", mc.target, why);
		return -1;
	}
	say(o, DIAG_OK, "cover", "%s answers TLS 1.3 in %lld ms", mc.target,
	    (long long)mc.ms);
	check_post_quantum(o, &mc);
	return 0;
}

static void
check_certificate(struct check_out *o, const struct config *cfg)
{
	const char *host = cfg->mask_host[0] != '\0' ? cfg->mask_host :
	    cfg->domains[0];
	char err[DIAG_LINE_MAX];
	int rc;

	rc = fetch_tls_verify(cfg->domains[0], host, cfg->mask_port,
	    cfg->connect_timeout, err, sizeof(err));
	if (rc == 0)
		say(o, DIAG_OK, "cover certificate", "valid for %s",
		    cfg->domains[0]);
	else if (rc == FETCH_ERR_CERT)
		say(o, DIAG_FAIL, "cover certificate", "not valid for %s (%s): "
		    "a prober sees a cover that is not the site it claims; "
		    "use a cover site with a certificate for the domain",
		    cfg->domains[0], err);
	else
		say(o, DIAG_FAIL, "cover certificate", "cannot check: %s",
		    err);
}

static void
check_tls(struct check_out *o, const struct config *cfg)
{
	if (cfg->ndomains == 0)
		return;
	check_domain(o, cfg);
	if (check_cover(o, cfg) == 0)
		check_certificate(o, cfg);
}

static const char *
limit_remedy(enum capacity_limit l)
{
	static const char *const remedy[CAPACITY_NLIMITS] = {
		"raise LimitNOFILE= in the unit, or the hard limit "
		    "(ulimit -Hn, /etc/security/limits.conf)",
		"raise LimitNPROC= in the unit, or ulimit -u",
		"raise sysctl kernel.pid_max",
		"raise sysctl kernel.threads-max",
		"raise TasksMax= in the unit (systemctl set-property "
		    "mtproxyd.service TasksMax=...)",
		"add memory, raise MemoryMax=, or lower max_clients",
	};

	return (unsigned)l < CAPACITY_NLIMITS ? remedy[l] : "";
}

static void
check_limits(struct check_out *o, const struct config *cfg)
{
	struct capacity_limits lim;
	enum capacity_limit b = CAPACITY_NOFILE;
	long long n;

	capacity_read(&lim);
	if (capacity_derive(&lim, &n, &b) != 0) {
		say(o, DIAG_OK, "limits", "no limit of the machine caps the "
		    "clients");
		return;
	}
	if (cfg->max_clients > n)
		say(o, DIAG_WARN, "limits", "max_clients %d is more than %s "
		    "(%lld) allows: room for %lld clients; %s", cfg->max_clients,
		    capacity_limit_name(b), lim.v[b], n, limit_remedy(b));
	else if (n < DIAG_FEW_CLIENTS)
		say(o, DIAG_WARN, "limits", "room for %lld clients only: %s "
		    "(%lld) binds; %s", n, capacity_limit_name(b), lim.v[b],
		    limit_remedy(b));
	else
		say(o, DIAG_OK, "limits", "room for %lld clients; %s (%lld) "
		    "binds first: for more, %s", n, capacity_limit_name(b),
		    lim.v[b], limit_remedy(b));
}

static void
check_config(struct check_out *o, const struct config *cfg,
    const char *path)
{
	say(o, DIAG_OK, "config", "%s: %zu user(s), %s mode, port %u",
	    path != NULL ? path : "(no file)", cfg->nusers,
	    cfg->mode == CONFIG_MODE_MIDDLE ? "middle" : "direct",
	    (unsigned)cfg->port);
}

int
diag_run(const struct config *cfg, const char *path, FILE *out)
{
	struct check_out o = { out, DIAG_OK };

	if (fetch_global_init() != 0)
		say(&o, DIAG_WARN, "libcurl", "cannot initialize: the fetches "
		    "below will fail");
	check_config(&o, cfg, path);
	check_secrets(&o, cfg);
	check_default_user(&o, cfg);
	check_public_host(&o, cfg);
	check_clock(&o, cfg);
	if (cfg->mode == CONFIG_MODE_MIDDLE)
		check_middle(&o, cfg);
	else
		check_dcs(&o, cfg);
	check_tls(&o, cfg);
	check_limits(&o, cfg);
	fflush(out);
	return o.worst;
}

void
diag_config_failed(const char *err, FILE *out)
{
	struct check_out o = { out, DIAG_OK };

	say(&o, DIAG_FAIL, "config", "%s", err);
	fflush(out);
}

void
diag_start_warnings(const struct config *cfg)
{
	struct check_out o = { NULL, DIAG_OK };

	check_secrets(&o, cfg);
	check_default_user(&o, cfg);
	if (cfg->public_host[0] != '\0')
		check_public_host(&o, cfg);
}
