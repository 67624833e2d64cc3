/* Direct mode upstream: the DC table lookup and the connect. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "direct.h"
#include "net.h"

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
	if ((d = config_find_dc(cfg, cfg->default_dc)) == NULL)
		return DIRECT_ERR_NODC;
	*out = d;
	return 0;
}

static int
try_family(const struct config *cfg, const struct config_dc *dc, int family,
    int *fd, char *addr, size_t addrlen)
{
	size_t i;

	for (i = 0; i < dc->naddr; i++) {
		const struct net_addr *a = &dc->addr[i];

		if (a->ss.ss_family != family)
			continue;
		net_addr_str((const struct sockaddr *)&a->ss, addr, addrlen);
		if (net_connect(a, cfg->connect_timeout * 1000, cfg->dc_rcvbuf,
		    fd) == 0)
			return 0;
	}
	return DIRECT_ERR_CONNECT;
}

int
direct_connect(const struct config *cfg, const struct config_dc *dc, int *fd,
    char *addr, size_t addrlen)
{
	int first = cfg->prefer_ipv6 ? AF_INET6 : AF_INET;
	int second = cfg->prefer_ipv6 ? AF_INET : AF_INET6;

	if (try_family(cfg, dc, first, fd, addr, addrlen) == 0 ||
	    try_family(cfg, dc, second, fd, addr, addrlen) == 0)
		return 0;
	return DIRECT_ERR_CONNECT;
}
