/*
 * The input as a config file: config_load_buffer over the defaults, then
 * config_validate. Whatever the bytes, an error is one non-empty line, and
 * a config that passes has every value inside its documented range.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_error(const char *err)
{
	check(err[0] != '\0');
	check(strchr(err, '\n') == NULL);
}

/* Domains are lowercase DNS names, each once; the cover site is set. */
static void
check_tls(const struct config *cfg)
{
	size_t i, j, n;

	check(cfg->ndomains <= CONFIG_MAX_DOMAINS);
	for (i = 0; i < cfg->ndomains; i++) {
		n = strlen(cfg->domains[i]);
		check(n >= 1 && n <= SECRET_DOMAIN_MAX);
		check(strchr(".-", cfg->domains[i][0]) == NULL &&
		    strchr(".-", cfg->domains[i][n - 1]) == NULL);
		check(strspn(cfg->domains[i], "abcdefghijklmnopqrstuvwxyz"
		    "0123456789-.") == n);
		check(strstr(cfg->domains[i], "..") == NULL);
		for (j = 0; j < i; j++)
			check(strcmp(cfg->domains[i], cfg->domains[j]) != 0);
	}
	check(cfg->ndomains == 0 || cfg->mask_host[0] != '\0');
	check(cfg->mask_port >= 1);
	check(cfg->mask_proxy_protocol >= 0 && cfg->mask_proxy_protocol <= 2);
	check(cfg->time_skew_past >= 0 && cfg->time_skew_past <= 172800);
	check(cfg->time_skew_future >= 0 && cfg->time_skew_future <= 3600);
	check(cfg->replay_cache_size >= 1024 &&
	    cfg->replay_cache_size <= 16777216);
	check(cfg->unknown_sni == CONFIG_SNI_MASK ||
	    cfg->unknown_sni == CONFIG_SNI_DROP);
	check(cfg->mask_probe_interval == 0 ||
	    (cfg->mask_probe_interval >= 60 &&
	    cfg->mask_probe_interval <= 86400));
	check(cfg->mask_timeout >= 1 && cfg->mask_timeout <= 86400);
	check(cfg->mask_max_bytes >= 1024 && cfg->mask_max_bytes <= 1LL << 40);
}

static int
url_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0;
}

/* An ad tag means middle mode; every [middle] value within its range. */
static void
check_middle(const struct config *cfg)
{
	check(cfg->mode == CONFIG_MODE_DIRECT ||
	    cfg->mode == CONFIG_MODE_MIDDLE);
	check(!cfg->has_ad_tag || cfg->mode == CONFIG_MODE_MIDDLE);
	check(url_ok(cfg->proxy_secret_url) && url_ok(cfg->proxy_config_url));
	check(cfg->proxy_config_v6_url[0] == '\0' ||
	    url_ok(cfg->proxy_config_v6_url));
	check(cfg->refresh_interval >= 60 && cfg->refresh_interval <= 604800);
	check(!cfg->has_nat_info ||
	    (cfg->nat_local.ss.ss_family == AF_INET &&
	    cfg->nat_public.ss.ss_family == AF_INET));
	check(!cfg->has_public_ipv4 ||
	    cfg->public_ipv4.ss.ss_family == AF_INET);
	check(!cfg->has_public_ipv6 ||
	    cfg->public_ipv6.ss.ss_family == AF_INET6);
	check(cfg->conn_min >= 1 && cfg->conn_min <= cfg->conn_max &&
	    cfg->conn_max <= 64);
	check(cfg->ping_interval >= 1 && cfg->ping_interval <= 3600);
	check(cfg->queue_bytes >= 65536 && cfg->queue_bytes <= 1073741824);
	/* 0 (auto) is resolved by config_validate */
	check(cfg->queue_total_bytes >= 1048576 &&
	    cfg->queue_total_bytes <= 1099511627776LL);
}

/* Each user has a secret of its own, is found by name, limits in range. */
static void
check_users(const struct config *cfg)
{
	const struct config_user *u;
	size_t i;

	check(cfg->nusers <= cfg->usercap);
	for (i = 0; i < cfg->nusers; i++) {
		u = &cfg->users[i];
		check(u->name[0] != '\0' && strlen(u->name) < CONFIG_NAME_MAX);
		check(u->has_secret);
		check(config_find_user(cfg, u->name) == u);
		check(u->lim.max_connections >= 0 &&
		    u->lim.max_connections <= 1000000);
		check(u->lim.max_ips >= 0 && u->lim.max_ips <= 1000000);
		check(u->lim.quota <= 1ULL << 60);
		check(u->lim.rate == 0 || (u->lim.rate >= 1024 &&
		    u->lim.rate <= 1ULL << 60));
		check(u->lim.quota_period >= 0 && u->lim.quota_period <= 3);
		check(!u->lim.has_ad_tag || cfg->mode == CONFIG_MODE_MIDDLE);
	}
}

static void
check_ranges(const struct config *cfg)
{
	size_t i;

	check(cfg->nlisten >= 1 && cfg->nlisten <= CONFIG_MAX_LISTEN);
	check(cfg->modes != 0 && (cfg->modes & ~(unsigned)(CONFIG_MODES_CLASSIC |
	    CONFIG_MODES_SECURE | CONFIG_MODES_TLS)) == 0);
	check(!(cfg->modes & CONFIG_MODES_TLS) || cfg->ndomains > 0);
	check(cfg->fast_mode == 0 || cfg->fast_mode == 1);
	check(cfg->prefer_ipv6 == 0 || cfg->prefer_ipv6 == 1);
	check(cfg->max_clients >= 1 && cfg->max_clients <= 1000000);
	check(cfg->handshake_timeout >= 1 && cfg->handshake_timeout <= 3600);
	check(cfg->idle_timeout >= 1 && cfg->idle_timeout <= 86400);
	check(cfg->connect_timeout >= 1 && cfg->connect_timeout <= 120);
	check(cfg->shutdown_grace >= 0 && cfg->shutdown_grace <= 3600);
	check(cfg->buffer_size >= 1024 && cfg->buffer_size <= 1048576);
	check(cfg->dc_rcvbuf == 0 ||
	    (cfg->dc_rcvbuf >= 1024 && cfg->dc_rcvbuf <= 16777216));
	check(config_find_dc(cfg, cfg->default_dc) != NULL);
	check(cfg->pool_spare >= 0 && cfg->pool_spare <= 100000);
	check(cfg->log_level >= LOGL_ERROR && cfg->log_level <= LOGL_DEBUG);
	check(cfg->state_dir[0] != '\0');
	check_users(cfg);
	check_tls(cfg);
	check_middle(cfg);
	check(cfg->ndcs >= DC_COUNT && cfg->ndcs <= CONFIG_MAX_DCS);
	for (i = 0; i < cfg->ndcs; i++)
		check(cfg->dcs[i].id >= 1 && cfg->dcs[i].naddr >= 1 &&
		    cfg->dcs[i].naddr <= CONFIG_MAX_DC_ADDRS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char err[512];

	config_defaults(&cfg);
	err[0] = '\0';
	if (config_load_buffer((const char *)data, size, &cfg, err,
	    sizeof(err)) != 0)
		check_error(err);
	else if (config_validate(&cfg, err, sizeof(err)) != 0)
		check_error(err);
	else
		check_ranges(&cfg);
	config_free(&cfg);
	return 0;
}
