/*
 * Direct mode: a few connections per DC opened ahead of the clients, so a
 * client whose DC has one waits for no TCP handshake with it. A pooled
 * connection has sent nothing: the session sends its own header (with the
 * client's DC id) when it takes one. A DC's pool fills once a client asked
 * for that DC, so no DC is connected that no client wants.
 */
#ifndef MTPROXYD_DCPOOL_H
#define MTPROXYD_DCPOOL_H

#include <stddef.h>
#include "config.h"
#include "stats.h"

#define DCPOOL_ERR	(-1)	/* no memory or no thread */
#define DCPOOL_EMPTY	(-2)	/* none ready: the caller connects itself */

struct dcpool;

/*
 * cfg->dc_pool connections per DC (cfg must outlive the pool), none older
 * than cfg->dc_pool_max_age seconds; a thread of its own keeps them. With
 * [upstream] socks5 they go through it, counted in st.
 */
int dcpool_start(const struct config *cfg, struct stats_upstream *st,
    struct dcpool **out);
/*
 * A connected socket to dc (an entry of cfg->dcs) that the DC has not
 * closed, and the address it went to; then the pool is topped up again.
 */
int dcpool_take(struct dcpool *p, const struct config_dc *dc, int *fd,
    char *addr, size_t addrlen);
/* Closes every pooled connection. NULL is a no-op. */
void dcpool_stop(struct dcpool *p);

#endif
