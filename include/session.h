/*
 * One client's life: handshake (obfuscated2, or fake-TLS around it), then a
 * relay thread pair (client -> upstream on the accepting pool thread,
 * upstream -> client on a second one). The upstream is a Telegram DC, or the
 * cover site for a connection that failed the checks.
 * struct server (server.h) is what all sessions share.
 */
#ifndef MTPROXYD_SESSION_H
#define MTPROXYD_SESSION_H

#include <sys/socket.h>

#define SESSION_ERR	(-1)

struct server;

/* Take over an accepted client socket; closes it on failure. */
int session_start(struct server *srv, int fd, const struct sockaddr *peer);
/* Shut down every live session's sockets; their threads then end. */
void session_shutdown_all(struct server *srv);

#endif
