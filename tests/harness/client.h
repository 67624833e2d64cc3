/*
 * A Telegram-app-like test client: obfuscated2 with a proxy secret
 * (doc/PROTOCOL.md 1.1-1.3) and the three transports (2.1-2.3), plain or inside
 * fake-TLS like an app given an "ee" secret (3). Every call is bounded in
 * time; the socket is non-blocking underneath.
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
#include "faketls.h"
#include "frame.h"

#define TCLIENT_ERR		(-1)	/* system error: errno says why
					   (ECONNREFUSED, ...) */
#define TCLIENT_ERR_TIMEOUT	(-2)
#define TCLIENT_ERR_EOF		(-3)	/* the peer closed (FIN or RST) */
#define TCLIENT_ERR_FRAME	(-4)	/* doc/PROTOCOL.md 2 refuses the peer's
					   frame, or ours */
#define TCLIENT_ERR_TOOBIG	(-5)	/* frame larger than the buffer; it
					   stays queued: retry with more room */
#define TCLIENT_ERR_ARG		(-6)
#define TCLIENT_ERR_TLS		(-7)	/* fake-TLS: the reply to our hello
					   is not the proxy's (wrong secret,
					   the cover site answered), or a
					   record from the server is not
					   17 03 03 */

struct tclient;

/*
 * Connect, build a header (ref.h) for transport t and DC id dc
 * (secret NULL: the secret-less header a proxy sends a DC, to talk to a fake
 * DC directly) and send it. timeout_ms bounds the connect and the header, and
 * then each later write (see tclient_set_timeout).
 */
int tclient_connect(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, enum frame_transport t, int16_t dc,
    int timeout_ms, struct tclient **out);
/* The same from a local address of the same family and length (port 0). */
int tclient_connect_from(const struct sockaddr *from, const struct sockaddr *sa,
    socklen_t salen, const uint8_t *secret, enum frame_transport t,
    int16_t dc, int timeout_ms, struct tclient **out);
/*
 * The same with npre bytes (at most TCLIENT_PRE_MAX) sent verbatim before
 * the header, in the same write: a load balancer's PROXY protocol header.
 * from may be NULL.
 */
#define TCLIENT_PRE_MAX		512
int tclient_connect_after(const struct sockaddr *from, const uint8_t *pre,
    size_t npre, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, enum frame_transport t, int16_t dc,
    int timeout_ms, struct tclient **out);
/*
 * Connect and send len bytes verbatim (data may be NULL if len is 0):
 * garbage, a wrong-secret header, half a header. The connection has no
 * ciphers: tclient_*_raw then move plain bytes, tclient_send/recv refuse.
 */
int tclient_connect_raw(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *data, size_t len, int timeout_ms, struct tclient **out);

/*
 * fake-TLS (doc/PROTOCOL.md 3). All zero: the way TDLib connects.
 */
#define TCLIENT_WRITE_CUTS	64

struct tclient_tls_opts {
	struct faketls_build shape;	/* the hello's shape; domain and
					   pq_share are set from the domain
					   argument, no_sni and pq */
	int no_sni;		/* no server_name extension (iOS apps) */
	int pq;			/* an X25519MLKEM768 key share (random) */
	size_t write_cuts[TCLIENT_WRITE_CUTS];	/* the hello's writes end at
						   these offsets, ascending;
						   0 ends the list; with
						   write_delay_ms between */
	int ts_offset;		/* seconds added to now as the hello's time */
	size_t record_split;	/* hello in two records, this many handshake
				   bytes in the first (faketls_hello_build's
				   split); 0: one record */
	size_t write_split;	/* hello in two TCP writes, this many bytes in
				   the first; 0: one write (or write_cuts) */
	int write_delay_ms;	/* pause between those writes */
	int early;		/* the CCS and the header record go in the
				   hello's write, before the reply; the
				   reply is then checked at the first read */
	uint32_t inner_tag;	/* tag of the obfuscated2 header inside
				   the records, and so the transport after
				   it (PROTO_TAG_*); 0: dd as apps send */
};

/*
 * Connect like an app with the secret ee<secret hex><hex of domain>: send a
 * ClientHello for domain (SNI) signed with secret (fresh session id, GREASE
 * and x25519 key share), check the reply with faketls_reply_verify (one
 * ApplicationData record), then send the CCS and, in one 17 03 03 record,
 * an obfuscated2 header for the padded transport (tag dd; o->inner_tag
 * picks another) and DC id dc, built with secret. From then on the stream
 * is in that transport inside records both ways: tclient_send, tclient_recv and the crypt variants of
 * the raw calls wrap and unwrap. o may be NULL. TCLIENT_ERR_TLS: the reply
 * failed the check; TCLIENT_ERR_EOF: the peer closed first.
 */
int tclient_connect_tls(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *secret, const char *domain, int16_t dc,
    const struct tclient_tls_opts *o, int timeout_ms, struct tclient **out);
/*
 * The hello tclient_connect_tls would send (new random values each call),
 * for tclient_connect_raw: a wrong secret, a stale time, another SNI.
 */
int tclient_tls_hello_build(const uint8_t *secret, const char *domain,
    int ts_offset, size_t record_split, uint8_t *out, size_t cap,
    size_t *len);
/* The same in the shape o gives (NULL: TDLib's); domain unused with no_sni. */
int tclient_tls_hello_build_with(const uint8_t *secret, const char *domain,
    const struct tclient_tls_opts *o, uint8_t *out, size_t cap, size_t *len);
/* The hello c sent (replay tests); NULL when c is not fake-TLS. */
const uint8_t *tclient_tls_hello(const struct tclient *c, size_t *len);
/*
 * Records c sends: at most max_payload bytes each (1..16384; default
 * 16384), or, with random_sizes, each of a random size 1..max_payload.
 */
int tclient_set_records(struct tclient *c, size_t max_payload,
    int random_sizes);

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
 * decrypting reads are meaningless. On a fake-TLS connection crypt also
 * means records: write_raw wraps, read_raw unwraps; without crypt both move
 * the bytes on the socket verbatim.
 */
int tclient_write_raw(struct tclient *c, const uint8_t *data, size_t len,
    int crypt);
int tclient_read_raw(struct tclient *c, uint8_t *buf, size_t cap, size_t *n,
    int crypt, int timeout_ms);
/* Discard whatever arrives until the peer closes: 0, or TCLIENT_ERR_TIMEOUT. */
int tclient_wait_closed(struct tclient *c, int timeout_ms);
/*
 * The same, and *n gets how many bytes arrived before the close (buffered
 * ones included, as they came off the stream), for tests that require a
 * close with nothing before it.
 */
int tclient_wait_closed_count(struct tclient *c, size_t *n, int timeout_ms);

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
