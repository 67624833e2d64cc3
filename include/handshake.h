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
#include "faketls.h"
#include "obfs2.h"
#include "server.h"
#include "stats.h"

#define HANDSHAKE_ERR		(-1)	/* failed a check: see why */
#define HANDSHAKE_CLOSED	(-2)	/* the client left or the socket failed */

struct handshake {
	/* in */
	struct server *srv;
	int fd;
	int64_t deadline;		/* net_now_ms() clock */
	int64_t unix_now;		/* time(NULL) at the start: hello times,
					   replay ages */
	const char *who;		/* log prefix: "sN ADDR" */

	/* out */
	struct obfs2_result res;	/* secret_index: the user */
	int tls;			/* the client speaks fake-TLS records */
	struct faketls_reader rd;	/* its record state after the header */
	uint8_t *pend;			/* stream bytes read past the header */
	size_t npend;
	uint8_t *raw;			/* every byte read from the client */
	size_t nraw, rawcap;
	enum stats_reject why;		/* on HANDSHAKE_ERR */
	int drop;			/* [tls] unknown_sni = drop: close, no mask */
};

int handshake_run(struct handshake *h);
/* Free the buffers (pend may have been taken: set it NULL first). */
void handshake_free(struct handshake *h);

#endif
