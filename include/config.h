/*
 * The daemon's configuration: INI file (iniparser) plus command-line
 * overrides, validated into one struct. Errors name the key, the value and
 * the expected form.
 */
#ifndef MTPROXYD_CONFIG_H
#define MTPROXYD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "addrlist.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "secret.h"

#define CONFIG_ERR		(-2)	/* invalid value: message in err */
#define CONFIG_ERR_IO		(-3)	/* file unreadable */

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_DC_ADDRS	8
#define CONFIG_MAX_DCS		64
#define CONFIG_DC_POOL_MAX	16	/* dc_pool: connections per DC */
#define CONFIG_NAME_MAX		64

enum config_mode { CONFIG_MODE_DIRECT, CONFIG_MODE_MIDDLE };

/* Client transports an operator allows ([server] modes). */
#define CONFIG_MODES_CLASSIC	0x1	/* ef, ee with a plain secret */
#define CONFIG_MODES_SECURE	0x2	/* dd */
#define CONFIG_MODES_TLS	0x4	/* ee fake-TLS, needs [tls] domain */

#define CONFIG_MAX_DOMAINS	16
#define CONFIG_MAX_ALLOW	16
#define CONFIG_PROXY_V1		0x1	/* [server] proxy_protocol: accepted */
#define CONFIG_PROXY_V2		0x2

/* One [metrics] allow entry: addresses whose first bits bits equal addr's. */
struct config_cidr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order; 4 bytes for IPv4 */
	int bits;
};

/* [tls] unknown_sni: what a hello naming another host gets. */
enum config_unknown_sni { CONFIG_SNI_MASK, CONFIG_SNI_DROP };

struct config_dc {
	int id;				/* positive DC number */
	size_t naddr;
	struct net_addr addr[CONFIG_MAX_DC_ADDRS];
};

/*
 * [upstream]: a SOCKS5 server every DC connection goes through (direct
 * mode). Read at start only: the sessions and dc_pool use the start's.
 */
struct config_upstream {
	int has_socks5;
	char host[256];			/* as given; IPv6 without brackets */
	uint16_t port;
	int resolved;			/* addr is set: an IP literal, or
					   direct_resolve looked host up */
	struct net_addr addr;
	char username[256];		/* RFC 1929; empty: no authentication */
	char password[256];		/* a secret: never logged nor shown */
};

/*
 * [store]: where per-user state lives. redis shares quotas, live counts
 * and enable/expiry overrides between instances (README "Running several
 * instances"); read at start only.
 */
enum config_store { CONFIG_STORE_LOCAL, CONFIG_STORE_REDIS };

struct config_store_redis {
	char addr[PATH_MAX];		/* HOST:PORT, or a unix socket path */
	char password[256];		/* a secret: never logged nor shown */
	char prefix[64];		/* key namespace */
	int tls;
	int interval;			/* seconds between flushes */
};

/* [user.NAME]: every key optional; 0 is "no limit". */
struct config_limits {
	int max_connections;		/* sessions at once */
	int max_ips;			/* distinct client addresses at once */
	unsigned long long quota;	/* bytes both ways per period */
	int quota_period;		/* enum period */
	long long expires;		/* unix seconds */
	unsigned long long rate;	/* bytes per second per direction */
	int disabled;			/* enabled = no */
	int has_ad_tag;			/* middle mode: the user's own tag */
	uint8_t ad_tag[SECRET_LEN];
};

struct config_user {
	char name[CONFIG_NAME_MAX];
	int has_secret;			/* 0: only a [user.NAME] section so far */
	uint8_t secret[SECRET_LEN];
	struct config_limits lim;
};

struct config {
	/* [server] */
	uint16_t port;
	size_t nlisten;
	struct net_addr listen[CONFIG_MAX_LISTEN];
	char public_host[256];
	enum config_mode mode;
	int mode_given;			/* set: an ad tag keeps it */
	unsigned modes;			/* CONFIG_MODES_*; 0: auto */
	int fast_mode;
	int prefer_ipv6;
	int max_clients;
	int handshake_timeout;		/* seconds */
	int idle_timeout;		/* seconds */
	int connect_timeout;		/* seconds, towards a DC */
	int shutdown_grace;		/* seconds */
	int buffer_size;		/* bytes per direction */
	int dc_rcvbuf;			/* SO_RCVBUF on DC sockets; 0: kernel default */
	int dc_pool;			/* connections opened ahead per DC; 0: off */
	int dc_pool_max_age;		/* seconds a pooled connection is kept */
	int default_dc;			/* for DC ids not in the table */
	int pool_spare;			/* idle threads the pool keeps */
	enum log_level log_level;
	char state_dir[PATH_MAX];
	char users_file[PATH_MAX];	/* [users] and [user.NAME] kept apart */
	int state_interval;		/* seconds between quota-state writes */
	int drain_timeout;		/* seconds a removed user's sessions keep */
	uint16_t public_port;		/* in links; 0: the port listened on */
	int print_links;		/* links in the log at start */
	char clock_url[512];		/* check: its Date header vs our clock */
	char run_user[CONFIG_NAME_MAX];	/* [server] user after binding; "": stay */
	char run_group[CONFIG_NAME_MAX];	/* [server] group; "": the user's */
	/* PROXY protocol from load balancers; address lists (README) */
	unsigned proxy_protocol;	/* CONFIG_PROXY_V1 | CONFIG_PROXY_V2; 0 off */
	size_t nproxy_from;		/* the peers that may send a header */
	struct config_cidr proxy_from[CONFIG_MAX_ALLOW];
	char allow_file[PATH_MAX];	/* empty: everyone allowed */
	char block_file[PATH_MAX];	/* empty: no one blocked */
	struct addrlist *allow_list;	/* their contents: config_load; NULL */
	struct addrlist *block_list;	/* when not loaded; config_free */
	/* connection policy (README "Connection policy"); 0: off */
	int max_conn_per_ip;		/* sessions at once from one address */
	int hs_fail_per_ip;		/* failed handshakes that start a backoff */
	int hs_fail_window;		/* seconds they are counted, and it lasts */
	int max_session_lifetime;	/* seconds; then closed */
	int client_mss;			/* TCP_MAXSEG on the listeners */

	/* [tls] (doc/PROTOCOL.md 3): fake-TLS and the cover site */
	size_t ndomains;			/* 0: no fake-TLS, no masking */
	char domains[CONFIG_MAX_DOMAINS][SECRET_DOMAIN_MAX + 1];
	char mask_host[256];			/* empty: domains[0] */
	uint16_t mask_port;			/* default 443 */
	int mask_proxy_protocol;		/* 0 off, 1 v1 text, 2 v2 binary */
	int time_skew_past;			/* seconds, default 600 */
	int time_skew_future;			/* seconds, default 30 */
	int replay_cache_size;			/* entries, default 262144 */
	int store_timeout;	/* [store] timeout: ms a handshake waits for Redis */
	enum config_unknown_sni unknown_sni;	/* default mask */
	int mask_probe_interval;		/* seconds between cover-site probes */
	int mask_timeout;			/* seconds a masked connection may last */
	long long mask_max_bytes;		/* bytes relayed per masked connection */
	int require_sni;			/* refuse a hello without SNI */

	/* [middle] (doc/PROTOCOL.md 4, 5): Telegram's middle proxies, ad tag */
	int has_ad_tag;
	uint8_t ad_tag[SECRET_LEN];		/* 32 hex in the file */
	char proxy_secret_url[512];		/* default: core.telegram.org/getProxySecret */
	char proxy_config_url[512];		/* default: .../getProxyConfig */
	char proxy_config_v6_url[512];		/* default: .../getProxyConfigV6 */
	char proxy_secret_file[PATH_MAX];	/* set: read it, never fetch */
	char proxy_config_file[PATH_MAX];	/* set: read it, never fetch */
	int refresh_interval;			/* seconds, default 3600 */
	int has_nat_info;			/* nat_info = local:public IPv4 */
	struct net_addr nat_local, nat_public;
	int has_public_ipv4, has_public_ipv6;	/* public_ipv4 / public_ipv6 */
	struct net_addr public_ipv4, public_ipv6;
	int conn_min, conn_max;			/* connections_per_target = MIN/MAX */
	int ping_interval;			/* seconds, default 10 */
	long long queue_bytes;			/* a client that stops reading */
	long long queue_total_bytes;		/* all clients; 0: auto from RAM */

	/* [metrics]: the Prometheus endpoint, never on the client port */
	int has_metrics;			/* listen given: serve */
	struct net_addr metrics_listen;
	size_t nallow;				/* default: loopback only */
	struct config_cidr allow[CONFIG_MAX_ALLOW];

	struct config_upstream upstream;	/* [upstream] */
	enum config_store store;		/* [store] backend */
	struct config_store_redis redis;	/* [store] */

	/* [users], [user.NAME]: any number, in file order; config_free */
	size_t nusers, usercap;
	struct config_user *users;
	size_t *byname, *bysecret;	/* open-addressing indexes: i + 1; 0 free */
	size_t hashcap;

	/* [dc]: the built-in table with the file's entries over it */
	size_t ndcs;
	struct config_dc dcs[CONFIG_MAX_DCS];
};

/* Built-in defaults (no file). */
void config_defaults(struct config *cfg);
/* Load path over the defaults. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
/* Load an INI text from memory (used by config_load and the fuzzer). */
int config_load_buffer(const char *text, size_t len, struct config *cfg,
    char *err, size_t errlen);
/* One "[section] key = value" override, e.g. from the command line. */
int config_set(struct config *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen);
/* Cross-key checks after all overrides. */
int config_validate(struct config *cfg, char *err, size_t errlen);
/* What the defaults and loads allocated; cfg is then empty, as after memset. */
void config_free(struct config *cfg);
/* The user of that name (lowercase), or NULL. */
const struct config_user *config_find_user(const struct config *cfg,
    const char *name);

/* Whether sa falls in one of the n entries of list ([metrics] allow). */
int config_cidr_match(const struct config_cidr *list, size_t n,
    const struct sockaddr *sa);
const struct config_dc *config_find_dc(const struct config *cfg, int id);
const char *config_log_level_name(enum log_level l);

#endif
