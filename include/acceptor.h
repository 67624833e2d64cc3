/* One thread per listening socket: accept, count, hand off to a session. */
#ifndef MTPROXYD_ACCEPTOR_H
#define MTPROXYD_ACCEPTOR_H

#include <stdint.h>

#define ACCEPTOR_ERR	(-1)

struct acceptor;
struct server;

/*
 * Bind and listen on every configured address; nothing is accepted yet, so
 * that the daemon can drop root in between (privdrop.h).
 */
int acceptor_bind(struct server *srv, struct acceptor **out);
/*
 * Start accepting: a thread per socket; logs "listening on ADDR" for each.
 * ACCEPTOR_ERR: acceptor_stop stops those that started.
 */
int acceptor_run(struct acceptor *a);
/* The port bound (differs from [server] port only when that is 0). */
uint16_t acceptor_port(const struct acceptor *a);
/* Stop accepting (if it ran), join the threads, close the sockets; NULL ok. */
void acceptor_stop(struct acceptor *a);

#endif
