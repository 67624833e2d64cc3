/*
 * Middle-proxy RPC codec (doc/PROTOCOL.md 4): frames, CBC padding, nonce, key
 * derivation, handshake, keepalive, RPC_PROXY_REQ out and answers in, and
 * the forwarding filter of 2.4. Pure: bytes in, bytes or structs out; time
 * and random bytes are parameters. Encryption of the byte stream and the
 * sockets belong to the caller.
 */
#ifndef MTPROXYD_RPC_H
#define MTPROXYD_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define RPC_ERR_ARG		(-1)	/* bad argument or output buffer too small */
#define RPC_NEED_MORE		(-2)	/* frame incomplete: read more */
#define RPC_ERR_FRAME_LEN	(-3)	/* frame length field out of range */
#define RPC_ERR_CRC		(-4)
#define RPC_ERR_SEQ		(-5)	/* not the expected sequence number */
#define RPC_ERR_SHORT		(-6)	/* payload shorter than its type needs */
#define RPC_ERR_LEN		(-7)	/* payload longer than its fixed size */
#define RPC_ERR_TYPE		(-8)	/* not the constructor expected here */
#define RPC_ERR_UNKNOWN		(-9)	/* an answer type the proxy does not know */
#define RPC_ERR_SCHEMA		(-10)	/* nonce crypto schema other than AES */
#define RPC_ERR_DH		(-11)	/* nonce asks for DH, which we refuse */
#define RPC_ERR_KEY_SELECT	(-12)	/* peer uses another proxy secret */
#define RPC_ERR_CLOCK_SKEW	(-13)	/* peer clock off by more than 30 s */
#define RPC_ERR_FLAGS		(-14)	/* handshake flags with reserved bits */
#define RPC_ERR_PEER_PID	(-15)	/* handshake reply not addressed to us */
#define RPC_ERR_HANDSHAKE	(-16)	/* peer sent RPC_HANDSHAKE_ERROR */
#define RPC_ERR_FILTERED	(-17)	/* packet fails the 2.4 filter */
#define RPC_ERR_CRYPTO		(-18)	/* libcrypto failed */
#define RPC_ERR_MALFORMED	(-19)	/* field out of range, bad section */
#define RPC_ERR_NOMEM		(-20)

/*
 * Largest frame we accept or build. The biggest one we send is an
 * RPC_PROXY_REQ around a maximal client packet (FRAME_MAX_LEN plus well
 * under 1 KiB of headers); answers carry packets of the same order. 16 MiB
 * leaves ample room for both and keeps one frame under half the official
 * server's 32 MiB per-connection buffer cap (doc/PROTOCOL.md 2.4).
 */
#define RPC_FRAME_MAX_LEN	(1u << 24)

const char *rpc_strerror(int err);

/* 4.2: frames. */
enum rpc_crc {
	RPC_CRC32,	/* nonce and handshake frames, and without 0x800 */
	RPC_CRC32C	/* after a handshake that negotiated 0x800 */
};

struct rpc_frame {
	int pad;		/* a 04 00 00 00 no-op word: skip it */
	int32_t seq;
	const uint8_t *payload;	/* points into the decoded buffer */
	size_t payload_len;
	size_t consumed;	/* bytes of the buffer this frame took */
};

/* Bytes of the frame around payload_len bytes of payload. */
size_t rpc_frame_len(size_t payload_len);
/*
 * Decode the next frame of a plaintext stream in buf[0..avail). The frame
 * must carry expect_seq; a padding word consumes no sequence number.
 */
int rpc_frame_decode(const uint8_t *buf, size_t avail, enum rpc_crc crc,
    int32_t expect_seq, struct rpc_frame *out);
/*
 * Frame payload (a multiple of 4 bytes) into out. payload may overlap
 * out, e.g. be built in place at out + 8.
 */
int rpc_frame_encode(int32_t seq, enum rpc_crc crc, const uint8_t *payload,
    size_t payload_len, uint8_t *out, size_t cap, size_t *out_len);

/*
 * rpc_frame_encode in two steps, so that the costly part, the checksum of
 * the payload, can run before the sequence number is known (outside a
 * link's write lock). prepare takes the payload in place at buf + 8 (room
 * for the frame up to cap); seal then writes length, seq and CRC at a
 * constant cost, giving the same bytes as rpc_frame_encode.
 */
struct rpc_frame_sum {
	enum rpc_crc crc;
	size_t payload_len;
	uint32_t payload_crc;
	uint32_t shift;		/* crc_*_shift(payload_len) */
};

int rpc_frame_prepare(enum rpc_crc crc, const uint8_t *buf,
    size_t payload_len, size_t cap, struct rpc_frame_sum *out);
int rpc_frame_seal(const struct rpc_frame_sum *s, int32_t seq, uint8_t *buf,
    size_t *out_len);

/*
 * 4.2: pad buf[0..len) with padding words up to a multiple of the AES
 * block before it is encrypted; *out_len gets the padded length.
 */
int rpc_cbc_pad(uint8_t *buf, size_t len, size_t cap, size_t *out_len);

/* 4.3: RPC_NONCE; we send schema 1 (AES) only. */
struct rpc_nonce {
	int32_t key_select;
	int32_t schema;
	uint32_t ts;
	uint8_t nonce[16];
};

/* key_select: the first 4 bytes of a proxy secret of valid length. */
int rpc_key_select(const uint8_t *secret, size_t len, int32_t *out);
int rpc_nonce_build(int32_t key_select, uint32_t ts, const uint8_t nonce[16],
    uint8_t out[32]);
/* Check the peer's nonce against our key_select and our clock now. */
int rpc_nonce_parse(const uint8_t *p, size_t len, int32_t key_select,
    uint32_t now, struct rpc_nonce *out);

/* An address as seen on a socket; the IP in network byte order. */
struct rpc_endpoint {
	int v6;			/* 0: IPv4 in ip[0..3]; 1: IPv6 */
	uint8_t ip[16];
	uint16_t port;
};

/* 4.4: AES-256-CBC key and IV of one direction of a link. */
enum rpc_purpose {
	RPC_PURPOSE_CLIENT,	/* the stream the proxy writes */
	RPC_PURPOSE_SERVER	/* the stream the middle-end writes */
};

struct rpc_key_input {
	uint8_t nonce_srv[16];
	uint8_t nonce_clt[16];
	uint32_t clt_ts;		/* the proxy's crypto_ts */
	struct rpc_endpoint srv;	/* the middle-end */
	struct rpc_endpoint clt;	/* the proxy, after NAT translation */
	const uint8_t *secret;		/* the proxy secret, 32..256 bytes */
	size_t secret_len;
};

int rpc_derive_keys(const struct rpc_key_input *in, enum rpc_purpose purpose,
    uint8_t key[32], uint8_t iv[16]);

/* 4.5: RPC_HANDSHAKE. */
struct rpc_pid {
	uint32_t ip;		/* IPv4 as a host-order integer */
	uint16_t port;
	uint16_t pid;
	int32_t utime;
};

struct rpc_handshake {
	uint32_t flags;
	struct rpc_pid sender;
	struct rpc_pid peer;
};

int rpc_handshake_build(uint32_t flags, const struct rpc_pid *sender,
    const struct rpc_pid *peer, uint8_t out[32]);
/* RPC_ERR_HANDSHAKE if the peer refused: see rpc_handshake_error_parse. */
int rpc_handshake_parse(const uint8_t *p, size_t len,
    struct rpc_handshake *out);
int rpc_handshake_error_parse(const uint8_t *p, size_t len, int32_t *code,
    struct rpc_pid *pid);
/* The middle-end's refusal (the tests' fake sends it). */
int rpc_handshake_error_build(int32_t code, const struct rpc_pid *pid,
    uint8_t out[20]);
/*
 * Accept a parsed reply: its peer PID must match ours (each field zero or
 * equal), and *crc gets CRC32C only when both sides set 0x800.
 */
int rpc_handshake_check(const struct rpc_handshake *reply,
    const struct rpc_pid *ours, uint32_t our_flags, enum rpc_crc *crc);

/* 4.6: keepalive; type is RPC_PING or RPC_PONG. */
int rpc_ping_build(uint32_t type, int64_t ping_id, uint8_t out[12]);
int rpc_ping_parse(uint32_t type, const uint8_t *p, size_t len,
    int64_t *ping_id);

/* 4.7: TL string (short form below 254 bytes, else fe + 3-byte length). */
size_t rpc_tl_string_len(size_t len);
int rpc_tl_string_put(const uint8_t *s, size_t len, uint8_t *out, size_t cap,
    size_t *out_len);
/* Read one from p[0..avail); *consumed counts its zero padding too. */
int rpc_tl_string_get(const uint8_t *p, size_t avail, const uint8_t **s,
    size_t *len, size_t *consumed);

/* 4.7: RPC_PROXY_REQ around one client packet. */
struct rpc_proxy_req {
	enum frame_transport transport;
	int quickack;			/* the client asked for a quick ack */
	uint64_t conn_id;
	struct rpc_endpoint client;
	struct rpc_endpoint ours;	/* after NAT translation */
	const uint8_t *ad_tag;		/* 16 bytes, or NULL */
	const uint8_t *msg;		/* the MTProto packet, a multiple of 4 */
	size_t msg_len;
};

int rpc_proxy_req_flags(const struct rpc_proxy_req *r, uint32_t *flags);
int rpc_proxy_req_len(const struct rpc_proxy_req *r, size_t *len);
int rpc_proxy_req_build(const struct rpc_proxy_req *r, uint8_t *out,
    size_t cap, size_t *out_len);

/* 4.8: answers from the middle-end, and RPC_CLOSE_CONN to it. */
struct rpc_answer {
	uint32_t type;		/* RPC_PROXY_ANS, RPC_SIMPLE_ACK, RPC_CLOSE_EXT */
	uint64_t conn_id;
	uint32_t flags;		/* RPC_PROXY_ANS */
	uint32_t confirm;	/* RPC_SIMPLE_ACK */
	const uint8_t *data;	/* RPC_PROXY_ANS: points into p */
	size_t data_len;
};

int rpc_answer_parse(const uint8_t *p, size_t len, struct rpc_answer *out);
int rpc_close_conn_build(uint64_t conn_id, uint8_t out[12]);

/*
 * 4.7, 4.8 from the middle-end's side, for the tests' fake middle proxy:
 * RPC_PROXY_REQ and RPC_CLOSE_CONN in, answers out. The handshake needs
 * nothing new: the middle-end checks the proxy's RPC_HANDSHAKE with
 * rpc_handshake_check (its peer PID must match the middle-end's own PID)
 * and replies with rpc_handshake_build, echoing the proxy's sender PID.
 */
struct rpc_proxy_req_info {
	uint32_t flags;			/* RPC_REQ_*, as sent */
	uint64_t conn_id;
	struct rpc_endpoint client;	/* ::ffff:a.b.c.d read as IPv4 */
	struct rpc_endpoint ours;
	const uint8_t *ad_tag;		/* TL_PROXY_TAG's string or NULL */
	size_t ad_tag_len;
	const uint8_t *msg;		/* points into p */
	size_t msg_len;
};

int rpc_proxy_req_parse(const uint8_t *p, size_t len,
    struct rpc_proxy_req_info *out);
int rpc_close_conn_parse(const uint8_t *p, size_t len, uint64_t *conn_id);
/* data may overlap out, e.g. sit at out + RPC_PROXY_ANS_HDR_LEN. */
int rpc_proxy_ans_build(uint32_t flags, uint64_t conn_id, const uint8_t *data,
    size_t data_len, uint8_t *out, size_t cap, size_t *out_len);
int rpc_simple_ack_build(uint64_t conn_id, uint32_t confirm, uint8_t out[16]);
int rpc_close_ext_build(uint64_t conn_id, uint8_t out[12]);

/* 2.4: 0 if a client packet may be forwarded, else RPC_ERR_FILTERED. */
int rpc_forward_check(const uint8_t *msg, size_t len);

#endif
