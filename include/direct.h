/* Direct mode: pick the DC for a client's id and connect to it. */
#ifndef MTPROXYD_DIRECT_H
#define MTPROXYD_DIRECT_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define DIRECT_ERR_NODC		(-2)	/* neither the id nor default_dc exist */
#define DIRECT_ERR_CONNECT	(-3)	/* no address answered */

/*
 * The table entry for a client's signed DC id (media ids are negative, test
 * DCs are offset by DC_TEST_OFFSET); *fallback is set when default_dc was used.
 */
int direct_pick_dc(const struct config *cfg, int dc, const struct config_dc **out,
    int *fallback);
/* Try every address (IPv6 first with prefer_ipv6) within connect_timeout. */
int direct_connect(const struct config *cfg, const struct config_dc *dc, int *fd,
    char *addr, size_t addrlen);

#endif
