/*
 * A Telegram-app-like test client: obfuscated2 with a proxy secret
 * (PROTOCOL.md 1.1-1.3) and the three transports (2.1-2.3). Every call is
 * bounded in time; the socket is non-blocking underneath.
 *
 * Echo semantics (fake DC in FAKEDC_ECHO mode, through the proxy or not): a
 * frame comes back with its body byte for byte, so a padded-transport frame
 * comes back WITH the sender's padding. Tests compare the first len bytes of
 * the received body with the message and check that the extra is at most
 * PADDED_MAX_PAD bytes (or fix the padding with tclient_set_padding).
 */
#ifndef MTPROXYD_CLIENT_H
#define MTPROXYD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "frame.h"

#define TCLIENT_ERR		(-1)	/* system error: errno says why
					   (ECONNREFUSED, ...) */
#define TCLIENT_ERR_TIMEOUT	(-2)
#define TCLIENT_ERR_EOF		(-3)	/* the peer closed (FIN or RST) */
#define TCLIENT_ERR_FRAME	(-4)	/* frame_decode refused the peer's
					   frame, or frame_encode ours */
#define TCLIENT_ERR_TOOBIG	(-5)	/* frame larger than the buffer; it
					   stays queued: retry with more room */
#define TCLIENT_ERR_ARG		(-6)

struct tclient;

/*
 * Connect, build a header with obfs2_build for transport t and DC id dc
 * (secret NULL: the secret-less header a proxy sends a DC, to talk to a fake
 * DC directly) and send it. timeout_ms bounds the connect and the header, and
 * then each later write (see tclient_set_timeout).
 */
int tclient_connect(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, enum frame_transport t, int16_t dc,
    int timeout_ms, struct tclient **out);
/*
 * Connect and send len bytes verbatim (data may be NULL if len is 0):
 * garbage, a wrong-secret header, half a header. The connection has no
 * ciphers: tclient_*_raw then move plain bytes, tclient_send/recv refuse.
 */
int tclient_connect_raw(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *data, size_t len, int timeout_ms, struct tclient **out);

/* Frame msg (padded transport: plus 0..15 random bytes), encrypt, write. */
int tclient_send(struct tclient *c, const uint8_t *msg, size_t len,
    int quickack);
/*
 * Read one server->client frame and put its body (padding included) in buf,
 * its length in *len.
 */
int tclient_recv(struct tclient *c, uint8_t *buf, size_t cap, size_t *len,
    int timeout_ms);

/*
 * Unframed stream after the header (benchmark, raw connections).
 * write_raw encrypts a copy of data when crypt is set. read_raw returns what
 * is there (at least 1 byte) up to cap, decrypted when crypt is set; after a
 * read without crypt the read cipher no longer matches the stream, so later
 * decrypting reads are meaningless.
 */
int tclient_write_raw(struct tclient *c, const uint8_t *data, size_t len,
    int crypt);
int tclient_read_raw(struct tclient *c, uint8_t *buf, size_t cap, size_t *n,
    int crypt, int timeout_ms);
/* Discard whatever arrives until the peer closes: 0, or TCLIENT_ERR_TIMEOUT. */
int tclient_wait_closed(struct tclient *c, int timeout_ms);

/* Write timeout for send and write_raw. */
void tclient_set_timeout(struct tclient *c, int timeout_ms);
/* Padded transport: -1 (default) random 0..15 bytes, or exactly pad bytes. */
int tclient_set_padding(struct tclient *c, int pad);
/* The 64 bytes sent as the header (replay tests); NULL on a raw one. */
const uint8_t *tclient_header(const struct tclient *c);
int tclient_fd(const struct tclient *c);
/* NULL is a no-op. */
void tclient_close(struct tclient *c);

#endif
