/* One thread per listening socket: accept, count, hand off to a session. */
#ifndef MTPROXYD_ACCEPTOR_H
#define MTPROXYD_ACCEPTOR_H

#include <stdint.h>

#define ACCEPTOR_ERR	(-1)

struct acceptor;
struct server;

/* Listen on every configured address; logs "listening on ADDR". */
int acceptor_start(struct server *srv, struct acceptor **out);
/* The port bound (differs from [server] port only when that is 0). */
uint16_t acceptor_port(const struct acceptor *a);
/* Stop accepting, join the threads, close the listening sockets. */
void acceptor_stop(struct acceptor *a);

#endif
