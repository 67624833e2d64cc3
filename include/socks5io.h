/*
 * A TCP connection through a SOCKS5 server: connect to it, authenticate
 * (none, or RFC 1929 username/password), CONNECT to an IP address, all
 * before one deadline. Blocking, as the sessions are.
 */
#ifndef MTPROXYD_SOCKS5IO_H
#define MTPROXYD_SOCKS5IO_H

#include <stdint.h>
#include "net.h"
#include "socks5.h"

/* Each sets errno to say why in a log line. */
#define SOCKS5IO_ERR_CONNECT	(-1)	/* no TCP connection to the server */
#define SOCKS5IO_ERR_TIMEOUT	(-2)	/* the deadline passed (ETIMEDOUT) */
#define SOCKS5IO_ERR_AUTH	(-3)	/* no method we offer, or the
					   credentials refused (EACCES) */
#define SOCKS5IO_ERR_REFUSED	(-4)	/* the server could not connect to
					   the target: *rep says why */
#define SOCKS5IO_ERR_PROTO	(-5)	/* not SOCKS5, closed early, or an
					   I/O error (EPROTO, ECONNRESET) */

struct socks5io_server {
	const struct net_addr *addr;
	const char *user, *pass;	/* both NULL: no authentication */
};

/*
 * A socket connected through srv to dst (AF_INET or AF_INET6), ready for
 * the target's bytes; rcvbuf > 0 sets SO_RCVBUF as net_connect does. *rep
 * gets the server's REP code when it answered the CONNECT.
 */
int socks5io_connect(const struct socks5io_server *srv,
    const struct net_addr *dst, int64_t deadline, int rcvbuf, int *fd,
    uint8_t *rep);

#endif
