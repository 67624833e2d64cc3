/* Direct mode: pick the DC for a client's id and connect to it. */
#ifndef MTPROXYD_DIRECT_H
#define MTPROXYD_DIRECT_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "stats.h"

#define DIRECT_ERR_NODC		(-2)	/* neither the id nor default_dc exist */
#define DIRECT_ERR_CONNECT	(-3)	/* no address answered */
#define DIRECT_ERR_RESOLVE	(-4)	/* [upstream] socks5's host: no address */

/* How DC connections go: straight, or through [upstream] socks5. */
struct direct_via {
	const struct config_upstream *up;	/* the start's (config.h) */
	struct stats_upstream *st;		/* counts what goes through it */
};

/*
 * The table entry for a client's signed DC id (media ids are negative, test
 * DCs are offset by DC_TEST_OFFSET); *fallback is set when default_dc was used.
 */
int direct_pick_dc(const struct config *cfg, int dc, const struct config_dc **out,
    int *fallback);
/*
 * Try every address (IPv6 first with prefer_ipv6), each within
 * connect_timeout, through via's SOCKS5 server when it has one: one that
 * fails itself (down, silent, refusing our credentials) ends the tries at
 * once, as every address would go through it. *addr names what failed
 * last: a DC address, or "socks5 HOST:PORT".
 */
int direct_connect(const struct config *cfg, const struct direct_via *via,
    const struct config_dc *dc, int *fd, char *addr, size_t addrlen);
/*
 * [upstream] socks5's host name looked up, once, at start: a name that
 * does not resolve fails the start with one line in err.
 */
int direct_resolve(struct config *cfg, char *err, size_t errlen);

#endif
