/*
 * fake-TLS ("ee" secrets, doc/PROTOCOL.md 3): ClientHello parse and verify,
 * ServerHello build, the record layer after the handshake, and a client-side
 * hello builder for tests and the harness. Pure: time, random bytes and
 * secrets are parameters; no I/O, no clock, no globals.
 */
#ifndef MTPROXYD_FAKETLS_H
#define MTPROXYD_FAKETLS_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define FAKETLS_NEED_MORE	(-2)	/* a valid prefix so far: read more */
#define FAKETLS_NOT_TLS		(-3)	/* not a TLS handshake record */
#define FAKETLS_ERR_VERSION	(-4)	/* record or hello version unknown */
#define FAKETLS_ERR_RECORD	(-5)	/* record framing; no ClientHello */
#define FAKETLS_ERR_OVERSIZE	(-6)	/* over a size limit */
#define FAKETLS_ERR_TRUNCATED	(-7)	/* a field runs past the hello */
#define FAKETLS_ERR_SESSION_ID	(-8)	/* session id longer than 32 */
#define FAKETLS_ERR_CIPHER	(-9)	/* no TLS 1.3 suite offered */
#define FAKETLS_ERR_EXTENSIONS	(-10)	/* extension list overrun or trailing */
#define FAKETLS_ERR_SNI		(-12)	/* server_name malformed */
#define FAKETLS_ERR_DIGEST	(-13)	/* no secret yields the client random */
#define FAKETLS_ERR_TIME	(-14)	/* timestamp outside the window */
#define FAKETLS_ERR_ARG		(-15)
#define FAKETLS_ERR_CRYPTO	(-16)	/* libcrypto or memory failure */
#define FAKETLS_ERR_HRR		(-17)	/* a HelloRetryRequest, not a ServerHello */
#define FAKETLS_ERR_GROUP	(-18)	/* no key share we can answer */

/*
 * Our limits on a ClientHello: the handshake message (its 4-byte header
 * included), and every record that carries it, headers included. The
 * official server takes one record of at most 4096 bytes; current TDLib
 * hellos carry a post-quantum key share and are near 2 KiB; browsers pad
 * theirs, and a 16 KiB message needs a second record (at most 16384 bytes
 * of plaintext in one, RFC 8446 5.1). The 1 KiB over the message is room
 * for the headers of a hello that something re-cut into small records.
 */
#define FAKETLS_HELLO_MSG_MAX	16384
#define FAKETLS_HELLO_MAX	(FAKETLS_HELLO_MSG_MAX + 1024)

/*
 * What the hello says; sni is NUL-terminated printable ASCII, "" (sni_len
 * 0) when the hello has no server_name extension, as recent iOS and macOS
 * apps send it.
 */
struct faketls_hello {
	size_t wire_len;	/* bytes of the input that are the hello */
	size_t nrecords;	/* TLS records it came in */
	size_t msg_len;		/* handshake message, 4-byte header included */
	uint8_t random[TLS_RANDOM_LEN];
	uint8_t session_id[TLS_SESSION_ID_MAX];
	size_t session_id_len;
	uint16_t cipher_suite;	/* first TLS 1.3 suite offered */
	char sni[TLS_SNI_MAX + 1];
	size_t sni_len;
	unsigned groups;	/* FAKETLS_OFFER_* */
};

/*
 * The groups a hello offers with a key share of the right size (and in
 * its supported_groups, as RFC 8446 4.2.8 wants): the two a reply can
 * answer without a HelloRetryRequest.
 */
#define FAKETLS_OFFER_X25519	0x1
#define FAKETLS_OFFER_HYBRID	0x2

/*
 * Parse the ClientHello at the start of buf[0..len), everything received so
 * far. Stateless: call again with the longer buffer after each read; a
 * result other than FAKETLS_NEED_MORE is final (a longer buffer gives the
 * same answer). The hello may arrive split across reads and across several
 * handshake records (type 0x16, version 03 01 or 03 03). On 0, bytes from
 * out->wire_len on were sent after the hello and belong to the caller.
 * FAKETLS_NOT_TLS: the first bytes are not a TLS handshake record at all.
 */
int faketls_hello_parse(const uint8_t *buf, size_t len,
    struct faketls_hello *out);

struct faketls_match {
	size_t secret_index;
	uint32_t ts;		/* the client's unix time */
	size_t trials;		/* secrets tried, the matching one included */
};

/*
 * Find the secret whose HMAC-SHA256 over the hello, with its 32 random bytes
 * zeroed, matches the first 28 random bytes (doc/PROTOCOL.md 3.1); the last 4
 * carry the client's time. h comes from faketls_hello_parse(wire, ...).
 * The message is "all bytes of the records carrying the hello, as
 * received, headers included" - for the usual one-record hello exactly what
 * TDLib and the official server use. For a hello in several records the
 * digest is also accepted over the one record the client would have sent
 * before something (a DPI-evasion tool splitting records) re-cut it: the
 * first record's header with the whole message's length, then the message.
 */
int faketls_hello_verify(const uint8_t *wire, const struct faketls_hello *h,
    const uint8_t (*secrets)[SECRET_LEN], size_t nsecrets,
    struct faketls_match *out);
/* The same, trying secrets[first] first (secret_trial's order). */
int faketls_hello_verify_from(const uint8_t *wire,
    const struct faketls_hello *h, const uint8_t (*secrets)[SECRET_LEN],
    size_t nsecrets, size_t first, struct faketls_match *out);

/*
 * 0 if now - skew_past <= ts <= now + skew_future (both edges accepted),
 * else FAKETLS_ERR_TIME. Defaults: FAKETLS_SKEW_PAST, FAKETLS_SKEW_FUTURE.
 */
int faketls_time_ok(int64_t now, uint32_t ts, uint32_t skew_past,
    uint32_t skew_future);

/*
 * doc/PROTOCOL.md 3.2: the skew_past to use once a replay cache whose oldest
 * entry was stored at `oldest` (replay_oldest) guards the hellos. A hello
 * with ts > oldest + skew_future was first accepted after that entry was
 * stored, so the cache still holds it and catches a replay: no freshness
 * limit is needed for it. Returns the larger of skew_past and that horizon.
 */
uint32_t faketls_skew_past(int64_t now, int64_t oldest, uint32_t skew_past,
    uint32_t skew_future);

/*
 * Client-side hello for tests and the harness: TDLib-shaped (GREASE suites,
 * groups, versions and extensions, SNI, x25519 key share, padding to 517
 * bytes when shorter), signed for secret at time ts. split 0: one record;
 * otherwise the first record carries split bytes of the handshake message
 * and a second one the rest, and the digest covers both records as sent.
 */
#define FAKETLS_GREASE_SEEDS	5	/* suites, 2 exts, group, version */

struct faketls_client_rand {
	uint8_t session_id[TLS_SESSION_ID_MAX];
	uint8_t grease[FAKETLS_GREASE_SEEDS];	/* any bytes */
	uint8_t key_share[TLS_X25519_LEN];	/* crypto_x25519_public() */
};

#define FAKETLS_BUILD_MAX	1024	/* room for any domain, split or not */

int faketls_hello_build(const uint8_t secret[SECRET_LEN], const char *domain,
    uint32_t ts, const struct faketls_client_rand *rnd, size_t split,
    uint8_t *out, size_t cap, size_t *out_len);

/*
 * The cover-site check's hello: the same, but offering the post-quantum
 * hybrid X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) first, in
 * supported_groups and with a key share: the ML-KEM-768 encapsulation key
 * then the x25519 share. pq_share holds random bytes on entry (the last
 * 32 the x25519 share); they are made a well-formed key in place. The
 * hello is too long for padding and for FAKETLS_BUILD_MAX.
 */
#define FAKETLS_GROUP_X25519MLKEM768	0x11ec
#define FAKETLS_MLKEM768_T_LEN		1152	/* 768 12-bit coefficients */
#define FAKETLS_MLKEM768_EK_LEN		(FAKETLS_MLKEM768_T_LEN + 32)
#define FAKETLS_PQ_SHARE_LEN	(FAKETLS_MLKEM768_EK_LEN + TLS_X25519_LEN)
/* The server's hybrid share: the ML-KEM-768 ciphertext, then x25519. */
#define FAKETLS_MLKEM768_CT_LEN		1088
#define FAKETLS_PQ_REPLY_SHARE_LEN	(FAKETLS_MLKEM768_CT_LEN + TLS_X25519_LEN)
#define FAKETLS_PQ_BUILD_MAX		2048

int faketls_hello_build_pq(const uint8_t secret[SECRET_LEN],
    const char *domain, uint32_t ts, const struct faketls_client_rand *rnd,
    uint8_t pq_share[FAKETLS_PQ_SHARE_LEN], uint8_t *out, size_t cap,
    size_t *out_len);

/*
 * Any shape a real client sends, for the tests of each: the same hello
 * with the extensions a browser adds, without SNI, padded to a size, in
 * records of chosen sizes with either record version. All zero but the
 * domain: faketls_hello_build's hello. A message longer than a record
 * (TLS_PLAINTEXT_MAX) continues in further records on its own.
 */
#define FAKETLS_EXT_ECH		0xfe0d	/* encrypted_client_hello (GREASE) */
#define FAKETLS_EXT_ALPS_OLD	0x4469	/* application_settings, Chrome < 133 */
#define FAKETLS_EXT_ALPS	0x44cd	/* its codepoint since Chrome 133 */
#define FAKETLS_BUILD_CUTS	4

struct faketls_build {
	const char *domain;	/* server_name; NULL: no such extension */
	uint8_t *pq_share;	/* as faketls_hello_build_pq's; NULL: none */
	int ech;		/* a GREASE encrypted_client_hello (zeros) */
	uint16_t alps;		/* 0, FAKETLS_EXT_ALPS_OLD or FAKETLS_EXT_ALPS */
	uint16_t record_version;	/* 0: TLS_VERSION_10; or TLS_VERSION_12 */
	size_t msg_len;		/* the message padded to this many bytes
				   (at least 4 more than without padding);
				   0: TDLib's 517-byte rule */
	size_t cuts[FAKETLS_BUILD_CUTS];	/* message bytes in each record
						   but the last; 0 ends */
};

int faketls_hello_build_with(const uint8_t secret[SECRET_LEN],
    const struct faketls_build *b, uint32_t ts,
    const struct faketls_client_rand *rnd, uint8_t *out, size_t cap,
    size_t *out_len);

/*
 * The group a reply answers with (doc/PROTOCOL.md 3.4): the hybrid when the
 * cover site picked it for a hello offering it (cover_pick) and this hello
 * offers it too; else x25519 when offered. FAKETLS_ERR_GROUP when neither:
 * a real server would ask for another share (HelloRetryRequest) or fail,
 * and the cover site is the one to do that.
 */
int faketls_reply_group(const struct faketls_hello *h, uint16_t cover_pick,
    uint16_t *group);

/*
 * Server reply (doc/PROTOCOL.md 3.4): ServerHello record echoing the session id
 * and suite, with a key_share (group and key_share bytes: TLS_X25519_LEN
 * for x25519, FAKETLS_PQ_REPLY_SHARE_LEN for the hybrid) and a
 * supported_versions (TLS 1.3) extension in the order given; a CCS record;
 * then napp ApplicationData records of app_sizes[i] bytes (1..16640 each)
 * filled from app_fill (their sum in bytes). Bytes 11..42 are
 * HMAC-SHA256(secret, client random || the reply with them zeroed).
 * TDLib reads exactly one ApplicationData record as part of the reply and
 * treats any further record as data: use napp 1 towards TDLib.
 */
struct faketls_reply {
	const uint8_t *key_share;	/* as many bytes as the group wants */
	int versions_first;		/* supported_versions first */
	const size_t *app_sizes;
	size_t napp;
	const uint8_t *app_fill;
	uint16_t group;			/* 0: x25519, as before the hybrid */
};

int faketls_reply_len(const struct faketls_hello *h,
    const struct faketls_reply *rp, size_t *len);
int faketls_reply_build(const uint8_t secret[SECRET_LEN],
    const struct faketls_hello *h, const struct faketls_reply *rp,
    uint8_t *out, size_t cap, size_t *out_len);

/*
 * Client side: check the reply at the start of buf[0..len) the way TDLib
 * does (record prefixes, then the digest) with napp ApplicationData
 * records. On 0, *used is the reply's length; FAKETLS_NEED_MORE until it is
 * all there.
 */
int faketls_reply_verify(const uint8_t secret[SECRET_LEN],
    const uint8_t client_random[TLS_RANDOM_LEN], size_t napp,
    const uint8_t *buf, size_t len, size_t *used);

/*
 * The cover site's ServerHello (RFC 8446 4.1.3): the handshake message
 * alone in msg[0..len), header included. *versions_first: whether its
 * supported_versions (TLS 1.3) comes before its key_share, the order our
 * reply imitates. FAKETLS_ERR_HRR for a HelloRetryRequest,
 * FAKETLS_ERR_VERSION when either extension is missing (not TLS 1.3).
 */
int faketls_server_hello_parse(const uint8_t *msg, size_t len,
    int *versions_first);

/*
 * The same parse, telling more: whether it is a HelloRetryRequest and
 * the group of its key_share (the group the server chose, or in a HRR the
 * one it asks for). A HRR is 0 here.
 */
struct faketls_server_info {
	int hrr;
	int versions_first;
	uint16_t group;
	size_t share_len;		/* its key_exchange bytes; 0 in a HRR */
};

int faketls_server_hello_info(const uint8_t *msg, size_t len,
    struct faketls_server_info *out);

/*
 * Client -> server records after the handshake (doc/PROTOCOL.md 3.5): one CCS
 * (14 03 03 00 01 01) allowed before the first ApplicationData record, then
 * only 17 03 03 records of up to TLS_CIPHERTEXT_MAX bytes, split anywhere.
 * Errors are sticky.
 */
struct faketls_reader {
	uint8_t hdr[TLS_RECORD_HEADER_LEN];
	size_t hdr_have;
	size_t left;		/* bytes of the current record still to come */
	uint8_t type;		/* of the current record */
	int ccs_seen, data_seen;
	int err;
};

void faketls_reader_init(struct faketls_reader *r);

/*
 * Consume a piece of in[0..len): *used bytes (> 0 when len > 0). When they
 * were ApplicationData payload, *payload points at them in `in` and
 * *payload_len is their count; otherwise *payload_len is 0.
 */
int faketls_reader_next(struct faketls_reader *r, const uint8_t *in,
    size_t len, size_t *used, const uint8_t **payload, size_t *payload_len);

/* All of buf[0..len) at once: the payload is moved to the front of buf. */
int faketls_reader_unwrap(struct faketls_reader *r, uint8_t *buf, size_t len,
    size_t *out_len);

/*
 * Server -> client: in[0..len) as 17 03 03 records of at most max_payload
 * (1..TLS_CIPHERTEXT_MAX) bytes each. faketls_wrap_len gives the size.
 */
int faketls_wrap_len(size_t len, size_t max_payload, size_t *out_len);
int faketls_wrap(const uint8_t *in, size_t len, size_t max_payload,
    uint8_t *out, size_t cap, size_t *out_len);

/*
 * Dynamic record sizing, as real TLS servers do it, so that record sizes do
 * not give the proxy away. A fresh or idle connection gets records that fit
 * one TCP segment (1369: the low size of Cloudflare's nginx dynamic TLS
 * records patch: a 1500-byte MTU minus IP, TCP and TLS overhead); after
 * 128 KiB (Go crypto/tls's record size boost threshold) it moves to full
 * 16384-byte records (TLS_PLAINTEXT_MAX). After 1 s without sending (the
 * nginx patch's timeout) the caller resets its byte count and starts small
 * again.
 */
#define FAKETLS_DRS_SMALL	1369
#define FAKETLS_DRS_LARGE	TLS_PLAINTEXT_MAX
#define FAKETLS_DRS_BOOST	(128 * 1024)
#define FAKETLS_DRS_IDLE_MS	1000

/*
 * Next record size, given the bytes sent since the last reset and the time
 * since the previous write. At idle_ms >= FAKETLS_DRS_IDLE_MS the caller
 * resets sent to 0.
 */
size_t faketls_drs_size(uint64_t sent, uint64_t idle_ms);

#endif
