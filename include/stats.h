/* Process-wide counters, updated lock-free by every thread. */
#ifndef MTPROXYD_STATS_H
#define MTPROXYD_STATS_H

#include <stdatomic.h>
#include <stdio.h>
#include "users.h"

enum stats_reject {
	STATS_REJECT_MAX_CLIENTS,	/* max_clients reached */
	STATS_REJECT_POOL_FULL,		/* hand-off queue full */
	STATS_REJECT_BAD_SECRET,	/* no secret matched */
	STATS_REJECT_MODE,		/* transport not allowed */
	STATS_REJECT_TIMEOUT,		/* handshake not complete in time */
	STATS_REJECT_DC_UNREACHABLE,	/* no DC address answered */
	STATS_REJECT_NOT_TLS,		/* not a TLS hello while TLS-only */
	STATS_REJECT_TLS_DIGEST,	/* hello signed by no secret */
	STATS_REJECT_TLS_TIME,		/* hello timestamp outside the window */
	STATS_REJECT_TLS_SNI,		/* hello names none of the domains */
	STATS_REJECT_TLS_INNER,		/* after the hello: bad records or header */
	STATS_REJECT_REPLAY,		/* hello or header seen before */
	STATS_REJECT_NO_FD,		/* out of descriptors: closed at once */
	STATS_REJECT_NO_THREAD,		/* no thread could be started */
	STATS_REJECT_COUNT
};

struct stats {
	atomic_ullong accepted;
	atomic_ullong rejected[STATS_REJECT_COUNT];
	atomic_llong active;		/* sessions alive (accepted, not yet freed) */
	atomic_ullong handshakes;	/* clients that reached a DC */
	atomic_ullong unknown_dc;	/* sent to default_dc */
	atomic_ullong masked;		/* relayed to the cover site */
	atomic_ullong mask_failed;	/* cover site unreachable: closed */
	atomic_ullong bytes_in;		/* client -> upstream, payload */
	atomic_ullong bytes_out;	/* upstream -> client */
	atomic_llong relay_buffers;	/* relay directions holding a buffer now */
	atomic_llong relay_pipes;	/* fast-mode downloads holding a pipe now */
	struct users_counters users[CONFIG_MAX_USERS];
};

extern struct stats stats;

const char *stats_reject_name(enum stats_reject r);
/* One "name value" line per counter; user counters by user name. */
void stats_write(const struct config *cfg, FILE *out);
/* The same, as one log line each at info level. */
void stats_log(const struct config *cfg);

#endif
