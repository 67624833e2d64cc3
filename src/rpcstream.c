/*
 * A middle-proxy link's byte stream (doc/PROTOCOL.md 4.2) between the socket
 * and the frame codec: see rpcstream.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rpcstream.h"

/* A link's frames are as long as its reads; start with one read's room. */
#define IN_MIN_CAP		65536

static int
daemon_cbc(void *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
	return crypto_cbc_apply(ctx, in, out, len) == 0 ? 0 : RPC_ERR_CRYPTO;
}

/* A function, not an exported object: a table of pointers would be
   relocated, writable data (tests/globals.sh). */
const struct rpcstream_ops *
rpcstream_ops_daemon(void)
{
	static const struct rpcstream_ops ops = {
		.prepare = rpc_frame_prepare,
		.seal = rpc_frame_seal,
		.open = rpc_frame_decode,
		.pad = rpc_cbc_pad,
		.cipher = daemon_cbc,
	};

	return &ops;
}

static int32_t
next_seq(int32_t seq)
{
	return (int32_t)((uint32_t)seq + 1);
}

void
rpcstream_in_init(struct rpcstream_in *in, const struct rpcstream_ops *ops)
{
	memset(in, 0, sizeof(*in));
	in->ops = ops;
	rpcstream_in_reset(in);
}

void
rpcstream_in_reset(struct rpcstream_in *in)
{
	in->cipher = NULL;
	in->off = in->len = in->raw = 0;
	rpcstream_in_expect(in, RPC_SEQ_NONCE, RPC_CRC32);
}

void
rpcstream_in_expect(struct rpcstream_in *in, int32_t seq, enum rpc_crc crc)
{
	in->seq = seq;
	in->crc = crc;
}

/* Decrypt the whole blocks of the raw bytes; the rest waits for more. */
static int
decrypt_whole(struct rpcstream_in *in)
{
	size_t whole = in->cipher == NULL ? in->raw :
	    in->raw - in->raw % RPC_CBC_BLOCK;

	if (in->cipher != NULL && whole > 0 && in->ops->cipher(in->cipher,
	    in->buf + in->len, in->buf + in->len, whole) != 0)
		return RPC_ERR_CRYPTO;
	in->len += whole;
	in->raw -= whole;
	return 0;
}

int
rpcstream_in_decrypt(struct rpcstream_in *in, void *cipher)
{
	if (cipher == NULL || in->cipher != NULL)
		return RPC_ERR_ARG;
	in->cipher = cipher;
	in->raw = in->len - in->off;
	in->len = in->off;
	return decrypt_whole(in);
}

int
rpcstream_in_reserve(struct rpcstream_in *in, size_t n, uint8_t **at)
{
	size_t cap = in->cap ? in->cap : IN_MIN_CAP, kept;
	uint8_t *nb;

	if (at == NULL)
		return RPC_ERR_ARG;
	/*
	 * Nothing points into taken bytes any more: drop them, moving the
	 * bytes kept only when the room after them is short, not at every
	 * read.
	 */
	kept = in->len - in->off + in->raw;
	if (kept == 0) {
		in->off = in->len = 0;
	} else if (in->off > 0 && in->cap - in->len - in->raw < n) {
		memmove(in->buf, in->buf + in->off, kept);
		in->len -= in->off;
		in->off = 0;
	}
	if (n > SIZE_MAX / 2 - in->len - in->raw)
		return RPC_ERR_NOMEM;
	while (cap < in->len + in->raw + n)
		cap *= 2;
	if (cap != in->cap) {
		if ((nb = realloc(in->buf, cap)) == NULL)
			return RPC_ERR_NOMEM;
		in->buf = nb;
		in->cap = cap;
	}
	*at = in->buf + in->len + in->raw;
	return 0;
}

int
rpcstream_in_commit(struct rpcstream_in *in, size_t n)
{
	in->raw += n;
	return decrypt_whole(in);
}

int
rpcstream_in_feed(struct rpcstream_in *in, const uint8_t *p, size_t n)
{
	uint8_t *at;
	int rc;

	if (p == NULL && n > 0)
		return RPC_ERR_ARG;
	if ((rc = rpcstream_in_reserve(in, n, &at)) != 0)
		return rc;
	if (n > 0)
		memcpy(at, p, n);
	return rpcstream_in_commit(in, n);
}

int
rpcstream_in_next(struct rpcstream_in *in, const uint8_t **payload,
    size_t *len)
{
	struct rpc_frame f;
	int rc;

	if (payload == NULL || len == NULL)
		return RPC_ERR_ARG;
	do {
		if (in->off == in->len)
			return RPC_NEED_MORE;
		if ((rc = in->ops->open(in->buf + in->off, in->len - in->off,
		    in->crc, in->seq, &f)) != 0)
			return rc;
		in->off += f.consumed;
	} while (f.pad);
	in->seq = next_seq(in->seq);
	*payload = f.payload;
	*len = f.payload_len;
	return 0;
}

void
rpcstream_in_free(struct rpcstream_in *in)
{
	free(in->buf);
	in->buf = NULL;
	in->cap = 0;
	rpcstream_in_reset(in);
}

size_t
rpcstream_room(size_t payload_len)
{
	return (payload_len + RPC_FRAME_OVERHEAD + RPC_CBC_BLOCK - 1) /
	    RPC_CBC_BLOCK * RPC_CBC_BLOCK;
}

int
rpcstream_prepare(const struct rpcstream_ops *ops, enum rpc_crc crc,
    const uint8_t *buf, size_t payload_len, size_t cap,
    struct rpc_frame_sum *sum)
{
	return ops->prepare(crc, buf, payload_len, cap, sum);
}

int
rpcstream_encrypt(struct rpcstream_out *out, uint8_t *buf, size_t n,
    size_t cap, size_t *len)
{
	int rc;

	if (out->cipher == NULL || len == NULL)
		return RPC_ERR_ARG;
	if ((rc = out->ops->pad(buf, n, cap, &n)) != 0)
		return rc;
	if (out->ops->cipher(out->cipher, buf, buf, n) != 0)
		return RPC_ERR_CRYPTO;
	*len = n;
	return 0;
}

int
rpcstream_seal(struct rpcstream_out *out, const struct rpc_frame_sum *sum,
    uint8_t *buf, size_t cap, size_t *len)
{
	size_t n;
	int rc;

	if ((rc = out->ops->seal(sum, out->seq, buf, &n)) != 0 ||
	    (rc = rpcstream_encrypt(out, buf, n, cap, len)) != 0)
		return rc;
	out->seq = next_seq(out->seq);
	return 0;
}

int
rpcstream_put(struct rpcstream_out *out, uint8_t *buf, size_t cap,
    size_t payload_len, size_t *len)
{
	struct rpc_frame_sum sum;
	int rc;

	if ((rc = rpcstream_prepare(out->ops, out->crc, buf, payload_len, cap,
	    &sum)) != 0)
		return rc;
	return rpcstream_seal(out, &sum, buf, cap, len);
}
