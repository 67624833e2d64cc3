/*
 * The daemon's counters, one block owned by the server and updated
 * lock-free by every thread; the modules that count get a pointer to
 * their part. Gauges that decide something (the number of live sessions)
 * are not here: their owner keeps them.
 */
#ifndef MTPROXYD_STATS_H
#define MTPROXYD_STATS_H

#include <stdatomic.h>
#include <stdio.h>
#include "config.h"
#include "account.h"
#include "histo.h"

#define STATS_ERR	(-1)

enum stats_reject {
	STATS_REJECT_MAX_CLIENTS,	/* max_clients reached */
	STATS_REJECT_POOL_FULL,		/* hand-off queue full */
	STATS_REJECT_BAD_SECRET,	/* no secret matched */
	STATS_REJECT_MODE,		/* transport not allowed */
	STATS_REJECT_TIMEOUT,		/* handshake not complete in time */
	STATS_REJECT_DC_UNREACHABLE,	/* no DC address answered */
	STATS_REJECT_NOT_TLS,		/* no TLS record while TLS-only */
	STATS_REJECT_TLS_DIGEST,	/* hello signed by no secret */
	STATS_REJECT_TLS_TIME,		/* hello timestamp outside the window */
	STATS_REJECT_TLS_SNI,		/* hello names none of the domains */
	STATS_REJECT_TLS_INNER,		/* after the hello: bad records or header */
	STATS_REJECT_REPLAY,		/* hello or header seen before */
	STATS_REJECT_NO_FD,		/* out of descriptors: closed at once */
	STATS_REJECT_NO_THREAD,		/* no thread could be started */
	STATS_REJECT_USER_LIMIT,	/* the user's limits (account.h) */
	STATS_REJECT_PROXY_HEADER,	/* proxy_protocol: an untrusted peer, or
					   no good header in time */
	STATS_REJECT_BLOCKED,		/* allow_file or block_file */
	STATS_REJECT_TLS_NO_SNI,	/* hello without SNI, require_sni */
	STATS_REJECT_TLS_MALFORMED,	/* a TLS record, no hello we accept */
	STATS_REJECT_TLS_TOO_BIG,	/* hello over FAKETLS_HELLO_MAX */
	STATS_REJECT_TLS_GROUP,		/* hello offers no share we answer */
	STATS_REJECT_PER_IP,		/* max_connections_per_ip reached */
	STATS_REJECT_BACKOFF,		/* handshake_failures_per_ip: backing off */
	STATS_REJECT_EVICTED,		/* silent, closed for a newer handshake */
	STATS_REJECT_COUNT
};

/* Where a middle-proxy link is now: a gauge per state. */
enum stats_link {
	STATS_LINK_CONNECTING,		/* connect, nonce and handshake */
	STATS_LINK_READY,		/* taking clients */
	STATS_LINK_WAITING,		/* down, waiting to try again */
	STATS_LINK_COUNT
};

/* Why a DC connection through [upstream] socks5 failed. */
enum stats_upstream_fail {
	STATS_UPSTREAM_CONNECT,		/* no TCP connection to the server */
	STATS_UPSTREAM_TIMEOUT,		/* not done within connect_timeout */
	STATS_UPSTREAM_AUTH,		/* no common method, credentials refused */
	STATS_UPSTREAM_REFUSED,		/* it answered CONNECT with a failure */
	STATS_UPSTREAM_PROTOCOL,	/* not SOCKS5, closed early, I/O error */
	STATS_UPSTREAM_COUNT
};

/* DC connections through the SOCKS5 server, the sessions' and dc_pool's. */
struct stats_upstream {
	atomic_ullong connects;		/* CONNECT succeeded */
	atomic_ullong failures[STATS_UPSTREAM_COUNT];
};

/* Why a round with the shared store ([store] backend = redis) failed. */
enum stats_store_err {
	STATS_STORE_CONNECT,		/* no connection within the timeout */
	STATS_STORE_AUTH,		/* the password was refused */
	STATS_STORE_IO,			/* lost or timed out mid-round */
	STATS_STORE_REPLY,		/* an answer of the wrong kind */
	STATS_STORE_COUNT
};

struct stats_store {
	atomic_llong up;		/* 1: the last round went through */
	atomic_ullong errors[STATS_STORE_COUNT];
};

/* The middle-proxy links (mux). */
struct stats_mux {
	atomic_llong links[STATS_LINK_COUNT];	/* links in each state now */
	atomic_ullong links_up;		/* handshakes completed */
	atomic_ullong link_failures;	/* connects or handshakes failed, links lost */
	atomic_ullong forwarded_queries;	/* RPC_PROXY_REQ sent */
	atomic_ullong filtered_queries;	/* dropped by the 2.4 filter */
	atomic_ullong forwarded_answers;	/* RPC_PROXY_ANS queued */
	atomic_ullong simple_acks;
	atomic_ullong close_ext;		/* clients the middle proxy closed */
	atomic_ullong dropped_answers;	/* for a conn_id we do not know */
	atomic_ullong queue_overflows;	/* clients closed: stopped reading */
	atomic_ullong queue_evictions;	/* closed at queue_total_bytes */
	atomic_ullong no_link;		/* clients refused: no ready link */
	atomic_ullong link_waits;	/* frames that waited for a link's turn */
	atomic_ullong links_grown;	/* links opened past conn_min: all busy */
	atomic_ullong links_shrunk;	/* extra links closed: idle */
};

/* The middle-proxy list (middle). */
struct stats_middle {
	atomic_ullong refreshes;	/* good snapshots swapped in */
	atomic_ullong refresh_failures;	/* fetch or parse failures, kept old */
};

/* The session threads (pool), as the pool last changed them. */
struct stats_pool {
	atomic_llong busy;		/* running a job */
	atomic_llong idle;		/* waiting for one */
};

struct stats {
	atomic_ullong accepted;
	atomic_ullong rejected[STATS_REJECT_COUNT];
	/* Relayed to the cover site, by the reject that sent them there. */
	atomic_ullong mask_relays[STATS_REJECT_COUNT];
	struct histo handshake_time;	/* accept to the handshake's outcome */
	/* Direct mode, a session's own connect to a DC: by cfg->dcs index. */
	struct histo dc_connect[CONFIG_MAX_DCS];
	struct stats_pool pool;
	atomic_ullong handshakes;	/* clients that reached a DC */
	atomic_ullong unknown_dc;	/* sent to default_dc */
	atomic_ullong masked;		/* relayed to the cover site */
	atomic_ullong mask_failed;	/* cover site unreachable: closed */
	atomic_ullong bytes_in;		/* client -> upstream, payload */
	atomic_ullong bytes_out;	/* upstream -> client */
	atomic_ullong reloads[2];	/* SIGHUP: applied, refused */
	atomic_llong relay_buffers;	/* relay directions holding a buffer now */
	atomic_llong relay_pipes;	/* fast-mode downloads holding a pipe now */
	struct stats_mux mux;		/* middle mode */
	struct stats_middle middle;	/* middle mode */
	struct stats_upstream upstream;	/* direct mode with [upstream] */
	struct stats_store store;	/* [store] backend = redis */
	atomic_ullong replay_store_errors;	/* [store] Redis did not answer */
};

/* Zero counters, histograms with the bucket bounds of stats.c. */
int stats_init(struct stats *st);
const char *stats_reject_name(enum stats_reject r);
const char *stats_link_name(enum stats_link l);
const char *stats_upstream_name(enum stats_upstream_fail u);
const char *stats_store_name(enum stats_store_err e);
typedef void (*stats_each_fn)(void *ctx, const char *name,
    unsigned long long value);
/* fn for each middle-mode counter, named as stats_write names it. */
void stats_middle_each(const struct stats *st, stats_each_fn fn, void *ctx);
/*
 * One "name value" line per counter of st, and active (the sessions alive
 * now, which the server counts); each account's counters by user name
 * (acc NULL: none).
 */
void stats_write(const struct config *cfg, const struct stats *st,
    struct accounts *acc, long long active, FILE *out);
/* The same, as one log line each at info level. */
void stats_log(const struct config *cfg, const struct stats *st,
    struct accounts *acc, long long active);

#endif
