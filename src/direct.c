/* Direct mode upstream: the DC table lookup and the connect. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "direct.h"
#include "errbuf.h"
#include "log.h"
#include "net.h"
#include "socks5io.h"

/* Ends a family's tries: every address would go through the same server. */
#define VIA_DOWN	(-100)

int
direct_pick_dc(const struct config *cfg, int dc, const struct config_dc **out,
    int *fallback)
{
	int id = abs(dc);
	const struct config_dc *d;

	*fallback = 0;
	if (id != 0 && (d = config_find_dc(cfg, id)) != NULL) {
		*out = d;
		return 0;
	}
	*fallback = 1;
	/* A test account exists only on the test DCs. */
	if (id > DC_TEST_OFFSET && id <= DC_TEST_MAX &&
	    (d = config_find_dc(cfg, DC_TEST_DEFAULT)) != NULL) {
		*out = d;
		return 0;
	}
	if ((d = config_find_dc(cfg, cfg->default_dc)) == NULL)
		return DIRECT_ERR_NODC;
	*out = d;
	return 0;
}

static enum stats_upstream_fail
failure_reason(int rc)
{
	switch (rc) {
	case SOCKS5IO_ERR_CONNECT: return STATS_UPSTREAM_CONNECT;
	case SOCKS5IO_ERR_TIMEOUT: return STATS_UPSTREAM_TIMEOUT;
	case SOCKS5IO_ERR_AUTH: return STATS_UPSTREAM_AUTH;
	case SOCKS5IO_ERR_REFUSED: return STATS_UPSTREAM_REFUSED;
	default: return STATS_UPSTREAM_PROTOCOL;
	}
}

/*
 * A CONNECT through the SOCKS5 server, counted. Only its answer that the
 * target failed (a REP code) leaves the next address worth trying.
 */
static int
via_socks5(const struct config *cfg, const struct direct_via *via,
    const struct net_addr *a, int *fd, char *addr, size_t addrlen)
{
	const struct config_upstream *up = via->up;
	const struct socks5io_server srv = {
		&up->addr,
		up->username[0] != '\0' ? up->username : NULL,
		up->username[0] != '\0' ? up->password : NULL,
	};
	enum stats_upstream_fail why;
	char server[64];
	uint8_t rep = 0;
	int rc, err;

	rc = socks5io_connect(&srv, a, net_now_ms() +
	    cfg->connect_timeout * 1000, cfg->dc_rcvbuf, fd, &rep);
	if (rc == 0) {
		atomic_fetch_add(&via->st->connects, 1);
		return 0;
	}
	err = errno;
	why = failure_reason(rc);
	atomic_fetch_add(&via->st->failures[why], 1);
	net_addr_str((const struct sockaddr *)&up->addr.ss, server,
	    sizeof(server));
	log_debug("socks5 %s: CONNECT %s: %s (%s)", server, addr,
	    stats_upstream_name(why), rc == SOCKS5IO_ERR_REFUSED ?
	    socks5_rep_name(rep) : strerror(err));
	if (rc != SOCKS5IO_ERR_REFUSED)
		snprintf(addr, addrlen, "socks5 %s", server);
	errno = err;
	return rc == SOCKS5IO_ERR_REFUSED ? DIRECT_ERR_CONNECT : VIA_DOWN;
}

static int
try_family(const struct config *cfg, const struct direct_via *via,
    const struct config_dc *dc, int family, int *fd, char *addr,
    size_t addrlen)
{
	size_t i;
	int rc;

	for (i = 0; i < dc->naddr; i++) {
		const struct net_addr *a = &dc->addr[i];

		if (a->ss.ss_family != family)
			continue;
		net_addr_str((const struct sockaddr *)&a->ss, addr, addrlen);
		if (via->up->has_socks5)
			rc = via_socks5(cfg, via, a, fd, addr, addrlen);
		else
			rc = net_connect(a, cfg->connect_timeout * 1000,
			    cfg->dc_rcvbuf, fd);
		if (rc == 0 || rc == VIA_DOWN)
			return rc;
	}
	return DIRECT_ERR_CONNECT;
}

int
direct_connect(const struct config *cfg, const struct direct_via *via,
    const struct config_dc *dc, int *fd, char *addr, size_t addrlen)
{
	int first = cfg->prefer_ipv6 ? AF_INET6 : AF_INET;
	int second = cfg->prefer_ipv6 ? AF_INET : AF_INET6;
	int rc = try_family(cfg, via, dc, first, fd, addr, addrlen);

	if (rc == DIRECT_ERR_CONNECT)
		rc = try_family(cfg, via, dc, second, fd, addr, addrlen);
	return rc == 0 ? 0 : DIRECT_ERR_CONNECT;
}

int
direct_resolve(struct config *cfg, char *err, size_t errlen)
{
	struct config_upstream *up = &cfg->upstream;
	struct addrinfo hints, *res;
	char serv[8];
	int rc;

	if (!up->has_socks5 || up->resolved)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%u", (unsigned)up->port);
	if ((rc = getaddrinfo(up->host, serv, &hints, &res)) != 0) {
		errbuf_set(err, errlen, "config: [upstream] socks5 = '%s:%s': cannot "
		    "resolve %s: %s", up->host, serv, up->host,
		    gai_strerror(rc));
		return DIRECT_ERR_RESOLVE;
	}
	/* The first answer, as a connect would take it; AF_UNSPEC: 4 or 6. */
	memcpy(&up->addr.ss, res->ai_addr, res->ai_addrlen);
	up->addr.len = res->ai_addrlen;
	up->resolved = 1;
	freeaddrinfo(res);
	return 0;
}
