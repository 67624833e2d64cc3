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

/*
 * Take over an accepted client socket; closes it on failure. The session
 * counts in srv->handshaking until its handshake succeeds: one that failed
 * (masked or held) never leaves it, so that probes take no client's slot.
 */
int session_start(struct server *srv, int fd, const struct sockaddr *peer);
/* Shut down every live session's sockets; their threads then end. */
void session_shutdown_all(struct server *srv);
/*
 * Once a second: end the sessions of users whose quota is spent, whose
 * account expired, whose drain (after a reload) is over, or that are older
 * than [server] max_session_lifetime.
 */
void session_sweep(struct server *srv);
/*
 * The handshakes in progress fill their reserve, or the descriptors ran
 * out: close the oldest one that never sent a byte, else the oldest of
 * them, never keep (may be NULL), counted as evicted. 0, or SESSION_ERR
 * when there is none to close.
 */
struct session;
int session_evict(struct server *srv, const struct session *keep);
/* After a reload to cfg: sessions of users it removed, disabled or gave
 * another secret end after its drain_timeout; those of users it kept (or
 * brought back) are no longer drained. */
void session_drain_changed(struct server *srv, const struct config *cfg);

#endif
