/*
 * The encrypted byte stream of a middle-proxy link (doc/PROTOCOL.md 4.2),
 * without sockets: ciphertext in, checked frame payloads out; payloads in,
 * padded and encrypted frames out. The stream owns the buffering, the
 * ciphertext short of a cipher block, skipping padding words and the
 * sequence numbers. The frame codec (seal, open, CRC, padding) and the
 * cipher are plugged in: the daemon's from rpc.c and crypto.c, the tests'
 * fake middle proxy its own reference ones, so that a codec bug cannot
 * cancel out between the two ends.
 */
#ifndef MTPROXYD_RPCSTREAM_H
#define MTPROXYD_RPCSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "rpc.h"

/* Each as the rpc.c function of the comment; errors are RPC_ERR_*. */
struct rpcstream_ops {
	int (*prepare)(enum rpc_crc crc, const uint8_t *buf,
	    size_t payload_len, size_t cap, struct rpc_frame_sum *out);
	int (*seal)(const struct rpc_frame_sum *s, int32_t seq, uint8_t *buf,
	    size_t *out_len);				/* rpc_frame_seal */
	int (*open)(const uint8_t *buf, size_t avail, enum rpc_crc crc,
	    int32_t expect_seq, struct rpc_frame *out);	/* rpc_frame_decode */
	int (*pad)(uint8_t *buf, size_t len, size_t cap,
	    size_t *out_len);				/* rpc_cbc_pad */
	/* AES-256-CBC over whole blocks of one direction; in may be out. */
	int (*cipher)(void *ctx, const uint8_t *in, uint8_t *out, size_t len);
};

/* rpc.c's frames, crypto.c's crypto_cbc as the cipher context. */
const struct rpcstream_ops *rpcstream_ops_daemon(void);

/*
 * The read side. A stage (nonce, handshake, frames) starts with
 * rpcstream_in_expect; the next frame must carry seq, and seq counts up by
 * itself. A bad frame ends the stream: it stays first in line, so
 * rpcstream_in_next gives the same error from then on.
 */
struct rpcstream_in {
	const struct rpcstream_ops *ops;
	void *cipher;		/* NULL: plaintext (the nonce stage) */
	enum rpc_crc crc;
	int32_t seq;
	uint8_t *buf;
	size_t cap;
	size_t off, len;	/* buf[off..len): plaintext not taken yet */
	size_t raw;		/* buf[len..len+raw): ciphertext short of a block */
};

/* Plaintext, the nonce's seq and CRC, no bytes. */
void rpcstream_in_init(struct rpcstream_in *in,
    const struct rpcstream_ops *ops);
/* Back to the state of init, keeping the buffer; the cipher is the caller's. */
void rpcstream_in_reset(struct rpcstream_in *in);
void rpcstream_in_expect(struct rpcstream_in *in, int32_t seq,
    enum rpc_crc crc);
/*
 * From now on the stream is ciphertext for cipher, the bytes put in and
 * not taken yet included (what followed the nonce in the same read).
 */
int rpcstream_in_decrypt(struct rpcstream_in *in, void *cipher);
/*
 * Room for n bytes: fill *at (e.g. recv into it), then commit how many
 * came. Payloads handed out before are no longer valid.
 */
int rpcstream_in_reserve(struct rpcstream_in *in, size_t n, uint8_t **at);
int rpcstream_in_commit(struct rpcstream_in *in, size_t n);
/* rpcstream_in_reserve, a copy of p[0..n), rpcstream_in_commit. */
int rpcstream_in_feed(struct rpcstream_in *in, const uint8_t *p, size_t n);
/*
 * The next frame's payload, padding words skipped, valid until the next
 * reserve or feed; RPC_NEED_MORE when the bytes end before it does.
 */
int rpcstream_in_next(struct rpcstream_in *in, const uint8_t **payload,
    size_t *len);
void rpcstream_in_free(struct rpcstream_in *in);

/*
 * The write side, in two steps so that the costly one, the payload's CRC,
 * runs outside the caller's lock: rpcstream_prepare on a payload built at
 * buf + RPCSTREAM_PAYLOAD_OFF, then, under the lock that orders the
 * stream, rpcstream_seal (seq, CRC, padding, cipher).
 */
struct rpcstream_out {
	const struct rpcstream_ops *ops;
	void *cipher;
	enum rpc_crc crc;	/* of rpcstream_put */
	int32_t seq;		/* the next frame's */
};

#define RPCSTREAM_PAYLOAD_OFF	8
/* A buffer for one frame around payload_len bytes, padding included. */
size_t rpcstream_room(size_t payload_len);

int rpcstream_prepare(const struct rpcstream_ops *ops, enum rpc_crc crc,
    const uint8_t *buf, size_t payload_len, size_t cap,
    struct rpc_frame_sum *sum);
/* *len gets the bytes to send from buf. */
int rpcstream_seal(struct rpcstream_out *out, const struct rpc_frame_sum *sum,
    uint8_t *buf, size_t cap, size_t *len);
/* prepare with out's CRC, then seal. */
int rpcstream_put(struct rpcstream_out *out, uint8_t *buf, size_t cap,
    size_t payload_len, size_t *len);
/* Bytes framed by hand (tests): padded and encrypted, no seq taken. */
int rpcstream_encrypt(struct rpcstream_out *out, uint8_t *buf, size_t n,
    size_t cap, size_t *len);

#endif
