/*
 * Middle-proxy links (doc/PROTOCOL.md 4.2-4.8, 5). Per target of the current
 * proxy-multi.conf, conn_min links, and up to conn_max while they are all
 * busy, each with its own multiplexer thread: it connects, runs the nonce
 * and handshake, then reads answers and routes them by conn_id into the
 * bound client's bounded queue, never waiting on a client (a full queue
 * closes that client). Client threads build and checksum their
 * RPC_PROXY_REQ frames on their own; the link's locks cover only the
 * sequence number and CBC pass, then the socket write, one frame at a
 * time. A link that dies closes its clients; it reconnects with backoff.
 */
#ifndef MTPROXYD_MUX_H
#define MTPROXYD_MUX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "config.h"
#include "frame.h"
#include "middle.h"
#include "stats.h"

#define MUX_ERR		(-1)
#define MUX_ERR_NOLINK	(-2)	/* no ready link serves that DC */
#define MUX_CLOSED	(-3)	/* closed: by the middle proxy, the link, or us */
#define MUX_TIMEOUT	(-4)

struct mux;
struct mux_conn;		/* one client bound to one link */

/* An answer for a client: payload of RPC_PROXY_ANS, or a quick ack. */
struct mux_msg {
	struct mux_msg *next;
	uint32_t type;		/* RPC_PROXY_ANS or RPC_SIMPLE_ACK */
	uint32_t confirm;	/* RPC_SIMPLE_ACK */
	size_t len;
	uint8_t data[];
};

/* Counters go to st, which must outlive the mux. */
int mux_new(const struct config *cfg, struct middle *mid, struct stats_mux *st,
    struct mux **out);
void mux_free(struct mux *m);
/* Links ready now (tests, logs). */
int mux_ready_links(struct mux *m);

/*
 * Bind a client to a random ready link of the cluster for dc. client is
 * its address, local the address it reached us on; ad_tag its user's own
 * tag (16 bytes), or NULL for [middle] ad_tag.
 */
int mux_attach(struct mux *m, int16_t dc, enum frame_transport t,
    const struct sockaddr *client, const struct sockaddr *local,
    const uint8_t *ad_tag, struct mux_conn **out);
/* One client packet as RPC_PROXY_REQ (2.4 filter applied: dropped is 0). */
int mux_send(struct mux_conn *c, const uint8_t *msg, size_t len, int quickack);
/* The next answer, or MUX_CLOSED, or MUX_TIMEOUT after timeout_ms. */
int mux_recv(struct mux_conn *c, struct mux_msg **out, int timeout_ms);
/* Why a client's binding closed (for its session's last log line). */
enum mux_close {
	MUX_CLOSE_NONE,
	MUX_CLOSE_EXT,		/* the middle proxy sent RPC_CLOSE_EXT */
	MUX_CLOSE_QUEUE,	/* it stopped reading, or the largest backlog */
	MUX_CLOSE_LINK,		/* the link's connection went down */
	MUX_CLOSE_US		/* the session shut it */
};

/* After MUX_CLOSED: why. */
enum mux_close mux_close_why(struct mux_conn *c);
/* Wake mux_recv and refuse further sends; any thread, any number of times. */
void mux_shutdown(struct mux_conn *c);
/* Once, when no thread uses c: RPC_CLOSE_CONN if still bound, then free. */
void mux_detach(struct mux_conn *c);

#endif
