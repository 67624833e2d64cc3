/*
 * One client's life: handshake, upstream, then a relay thread pair
 * (client -> upstream on the accepting pool thread, upstream -> client on a
 * second one). The server struct is what all sessions share.
 */
#ifndef MTPROXYD_SESSION_H
#define MTPROXYD_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include "config.h"
#include "pool.h"

#define SESSION_ERR	(-1)

struct session;

struct server {
	const struct config *cfg;
	struct pool *pool;
	uint8_t (*secrets)[SECRET_LEN];	/* one per user, in user order */
	size_t nsecrets;
	atomic_ullong next_id;
	atomic_int stopping;		/* set by session_shutdown_all */
	pthread_mutex_t mu;		/* guards the list of live sessions */
	struct session *live;
};

int server_init(struct server *srv, const struct config *cfg, struct pool *pool);
void server_destroy(struct server *srv);

/* Take over an accepted client socket; closes it on failure. */
int session_start(struct server *srv, int fd, const struct sockaddr *peer);
/* Shut down every live session's sockets; their threads then end. */
void session_shutdown_all(struct server *srv);

#endif
