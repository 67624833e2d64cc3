/*
 * The cover site (doc/PROTOCOL.md 3.4, 3.6): where connections that fail the
 * checks are relayed, and the shape of its TLS reply that ours imitates.
 * A probe thread resolves mask_host and learns the shape at start and every
 * mask_probe_interval seconds; sessions read both without blocking.
 */
#ifndef MTPROXYD_MASK_H
#define MTPROXYD_MASK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "config.h"

#define MASK_ERR		(-1)
#define MASK_ERR_NOTARGET	(-2)	/* mask_host never resolved */
#define MASK_ERR_CONNECT	(-3)

#define MASK_MAX_ADDRS		8
#define MASK_MAX_RECORDS	8

/*
 * A pause before the CCS longer than this is not copied in full: it would
 * hold every good client's handshake.
 */
#define MASK_CCS_GAP_MAX_MS	200

/* The cover site's reply to a TLS 1.3 hello, as seen on the wire. */
struct mask_shape {
	int learned;			/* 0: fallback values */
	int versions_first;		/* supported_versions before key_share */
	uint16_t group;			/* the key share group it picked */
	int ccs_split;			/* the CCS came after the ServerHello,
					   not in the same read */
	int ccs_gap_ms;			/* how long after (0..MASK_CCS_GAP_MAX_MS) */
	size_t napp;			/* ApplicationData records in its first flight */
	size_t app_sizes[MASK_MAX_RECORDS];
};

struct mask;

/*
 * Resolve and probe once (failures are logged, not fatal), start the probe
 * thread (none with mask_probe_interval 0). With cfg->ndomains 0 the mask
 * has no target and no thread: mask_connect gives MASK_ERR_NOTARGET and
 * mask_shape_get the fallback shape.
 */
int mask_new(const struct config *cfg, struct mask **out);
/* Stops the probe thread: at once when it sleeps, else after its probe. */
void mask_free(struct mask *m);

/*
 * Connect to the cover site within connect_timeout; with
 * mask_proxy_protocol, send the PROXY header for client peer -> local.
 */
int mask_connect(struct mask *m, const struct sockaddr *peer,
    const struct sockaddr *local, int *fd);

/*
 * The shape to imitate now, for a hello that offers the post-quantum
 * hybrid (hybrid 1) or not: the probe sends the cover site one hello of
 * each kind. One ApplicationData record (napp 1: TDLib
 * reads one) carrying the first flight's bytes, at most TLS_CIPHERTEXT_MAX.
 * Sizes vary by up to 2 bytes per call (as a real server's
 * certificate-bearing records do not, but its session tickets do); rnd
 * supplies the randomness.
 */
void mask_shape_get(struct mask *m, int hybrid, const uint8_t rnd[4],
    struct mask_shape *out);

/*
 * mtproxyd check: connect to the cover site as configured and send a
 * hello that offers X25519MLKEM768 first; 0 when a TLS 1.3 ServerHello (or
 * HelloRetryRequest) answers, *why saying what failed otherwise.
 */
struct mask_cover {
	char target[264];		/* "host:port" for the report */
	int hrr;			/* it asked for another share */
	uint16_t group;			/* the group it took or asked for */
	int64_t ms;			/* connect to ServerHello */
};

int mask_check_cover(const struct config *cfg, struct mask_cover *out,
    const char **why);

#endif
