/*
 * One client's life: handshake (obfuscated2, or fake-TLS around it), then a
 * relay thread pair (client -> upstream on the accepting pool thread,
 * upstream -> client on a second one). The upstream is a Telegram DC, or the
 * cover site for a connection that failed the checks. The server struct is
 * what all sessions share.
 */
#ifndef MTPROXYD_SESSION_H
#define MTPROXYD_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include "config.h"
#include "dcpool.h"
#include "mask.h"
#include "mux.h"
#include "pool.h"
#include "replay.h"

#define SESSION_ERR	(-1)

struct session;

struct server {
	const struct config *cfg;
	struct pool *pool;
	struct mask *mask;		/* NULL: no cover site, failures are held */
	replay *replay;			/* hellos and headers seen */
	struct mux *mux;		/* middle mode: the links; else NULL */
	struct dcpool *dcpool;		/* direct mode with dc_pool; else NULL */
	uint8_t (*secrets)[SECRET_LEN];	/* one per user, in user order */
	size_t nsecrets;
	atomic_ullong next_id;
	atomic_int stopping;		/* set by session_shutdown_all */
	pthread_mutex_t mu;		/* guards the list of live sessions */
	struct session *live;
};

int server_init(struct server *srv, const struct config *cfg, struct pool *pool,
    struct mask *mask, replay *rp);
void server_destroy(struct server *srv);

/* Take over an accepted client socket; closes it on failure. */
int session_start(struct server *srv, int fd, const struct sockaddr *peer);
/* Shut down every live session's sockets; their threads then end. */
void session_shutdown_all(struct server *srv);

#endif
