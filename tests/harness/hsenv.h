/*
 * A handshake environment without a server, for the handshake's unit suite
 * and its fuzzer: a configuration from INI text, its users' secrets, and
 * a client's bytes waiting in a socket. The caller gives the cover site
 * (mask_new with no domain: the fallback reply shape, no thread) and the
 * replay set.
 */
#ifndef MTPROXYD_HSENV_H
#define MTPROXYD_HSENV_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "handshake.h"

#define HSENV_ERR	(-1)

struct hsenv {
	struct config cfg;
	uint8_t (*secrets)[SECRET_LEN];
	struct handshake_env env;
};

/* ini over the defaults, validated; env.mask = mask, env.replay NULL. */
int hsenv_init(struct hsenv *e, const char *ini, struct mask *mask);
void hsenv_free(struct hsenv *e);

/*
 * A SOCK_SEQPACKET pair holding s: in pieces of cuts[k % ncuts] + 1 bytes
 * (one piece with ncuts 0; the last piece takes the rest after
 * HSENV_MAX_PIECES), so that each read takes at most one; then EOF if eof.
 * *fd is the handshake's end; returns the client's end, or -1.
 */
#define HSENV_MAX_PIECES	48	/* well within a socket's buffer */

int hsenv_client(const uint8_t *cuts, size_t ncuts, const uint8_t *s,
    size_t n, int eof, int *fd);

#endif
