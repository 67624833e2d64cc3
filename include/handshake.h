/*
 * A client's first bytes: a fake-TLS hello (checked, answered) around an
 * obfuscated2 header, or a bare obfuscated2 header. Reads the socket with a
 * deadline; keeps every byte read so that a failed client can be replayed to
 * the cover site.
 */
#ifndef MTPROXYD_HANDSHAKE_H
#define MTPROXYD_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "faketls.h"
#include "obfs2.h"
#include "replay.h"
#include "replay_redis.h"
#include "secret.h"

#define HANDSHAKE_ERR		(-1)	/* failed a check: see why */
#define HANDSHAKE_CLOSED	(-2)	/* the client left or the socket failed */

/* Why a client failed (the caller counts them). */
enum handshake_reject {
	HANDSHAKE_REJECT_BAD_SECRET,	/* no secret matched */
	HANDSHAKE_REJECT_MODE,		/* transport not allowed */
	HANDSHAKE_REJECT_TIMEOUT,	/* not complete in time */
	HANDSHAKE_REJECT_NOT_TLS,	/* no TLS record while TLS-only */
	HANDSHAKE_REJECT_TLS_DIGEST,	/* hello signed by no secret */
	HANDSHAKE_REJECT_TLS_TIME,	/* hello timestamp outside the window */
	HANDSHAKE_REJECT_TLS_SNI,	/* hello names none of the domains */
	HANDSHAKE_REJECT_TLS_INNER,	/* after the hello: bad records or header */
	HANDSHAKE_REJECT_REPLAY,	/* hello or header seen before */
	HANDSHAKE_REJECT_LIMIT,		/* the user's limits refused it */
	HANDSHAKE_REJECT_TLS_NO_SNI,	/* no SNI, and [tls] require_sni */
	HANDSHAKE_REJECT_TLS_MALFORMED,	/* a TLS record, no hello we accept */
	HANDSHAKE_REJECT_TLS_TOO_BIG,	/* hello over FAKETLS_HELLO_MAX */
	HANDSHAKE_REJECT_TLS_GROUP,	/* no key share we can answer */
	HANDSHAKE_REJECT_COUNT
};

struct mask;

/* What every handshake reads, shared and owned by the caller. */
struct handshake_env {
	const struct config *cfg;	/* modes, domains, time skews, unknown_sni,
					   require_sni */
	const uint8_t (*secrets)[SECRET_LEN];	/* one per user, in user order */
	size_t nsecrets;
	replay *replay;			/* hellos and headers seen; NULL: none */
	struct replay_redis *shared;	/* and by other instances; NULL: none */
	struct mask *mask;		/* the reply's shape (mask_shape_get) */
};

struct handshake {
	/* in */
	const struct handshake_env *env;
	int fd;
	int64_t deadline;		/* net_now_ms() clock */
	int64_t unix_now;		/* time(NULL) at the start: hello times,
					   replay ages */
	const char *who;		/* log prefix: "sN ADDR" */
	/*
	 * Called once the user is known and the hello or header is fresh,
	 * before any reply: 0 admits; else the client is refused as any
	 * failed one (HANDSHAKE_REJECT_LIMIT), and *why names the limit.
	 * NULL: everyone is admitted.
	 */
	int (*admit)(void *arg, size_t user, const char **why);
	void *admit_arg;
	size_t first;			/* the user to try first (seen_get),
					   then the others; 0 when unknown */

	/* out */
	struct obfs2_result res;	/* secret_index: the user */
	size_t trials;			/* secrets tried to find the user, as
					   a header and as a hello */
	int tls;			/* the client speaks fake-TLS records */
	struct faketls_reader rd;	/* its record state after the header */
	uint8_t *pend;			/* stream bytes read past the header */
	size_t npend;
	uint8_t *raw;			/* every byte read from the client */
	size_t nraw, rawcap;
	enum handshake_reject why;	/* on HANDSHAKE_ERR */
	char msg[160];			/* on HANDSHAKE_ERR: what failed, for the
					   log; "" when not worth a line */
	int drop;			/* [tls] unknown_sni = drop: close, no mask */
};

int handshake_run(struct handshake *h);
/* Free the buffers (pend may have been taken: set it NULL first). */
void handshake_free(struct handshake *h);

#endif
