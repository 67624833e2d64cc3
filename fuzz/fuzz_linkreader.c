/*
 * The input as the plaintext a middle-proxy link's rpcstream (the daemon's
 * codec) reads, in its stages: the
 * nonce frame (seq -2) and the handshake frame (seq -1) with CRC32, then
 * frames from seq 0 with the CRC kind that bit 4 of the first byte picks.
 * The first byte's low 4 bits say how many piece sizes follow (cycled;
 * none: one piece). However the stream is cut, the reader must hand out
 * the frames an rpc_frame_decode walk over the whole stream finds, in
 * order and byte for byte, and fail with that walk's error, for good.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "rpc.h"
#include "rpcstream.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
	size_t off, len;
};

struct stage {
	enum rpc_crc crc;
	int32_t seq;
};

/* After the handshake frame, numbering starts over at 0. */
static void
advance(struct stage *st, enum rpc_crc negotiated, struct rpcstream_in *in)
{
	if (st->seq == RPC_SEQ_HANDSHAKE) {
		st->seq = 0;
		st->crc = negotiated;
		if (in != NULL)
			rpcstream_in_expect(in, 0, negotiated);
	} else {
		st->seq = (int32_t)((uint32_t)st->seq + 1);
	}
}

/* The frames of the whole stream; *end: the walk's last result. */
static size_t
walk(const uint8_t *s, size_t n, enum rpc_crc negotiated,
    struct expect *e, int *end)
{
	struct stage st = { RPC_CRC32, RPC_SEQ_NONCE };
	struct rpc_frame f;
	size_t pos = 0, k = 0;

	while ((*end = rpc_frame_decode(s + pos, n - pos, st.crc, st.seq,
	    &f)) == 0) {
		pos += f.consumed;
		if (f.pad)
			continue;
		e[k].off = (size_t)(f.payload - s);
		e[k].len = f.payload_len;
		k++;
		advance(&st, negotiated, NULL);
	}
	return k;
}

static void
run(const uint8_t *cuts, size_t ncuts, const uint8_t *s, size_t n,
    enum rpc_crc negotiated, const struct expect *e, size_t ne, int end)
{
	struct stage st = { RPC_CRC32, RPC_SEQ_NONCE };
	struct rpcstream_in r;
	const uint8_t *p;
	size_t pos = 0, piece, len, got = 0, c = 0;
	int rc = RPC_NEED_MORE;

	rpcstream_in_init(&r, rpcstream_ops_daemon());
	while (pos < n && rc == RPC_NEED_MORE) {
		piece = ncuts == 0 ? n - pos : (size_t)cuts[c++ % ncuts] + 1;
		if (piece > n - pos)
			piece = n - pos;
		fuzz_check(rpcstream_in_feed(&r, s + pos, piece) == 0);
		pos += piece;
		while ((rc = rpcstream_in_next(&r, &p, &len)) == 0) {
			fuzz_check(got < ne && len == e[got].len &&
			    memcmp(p, s + e[got].off, len) == 0);
			got++;
			fuzz_check(r.seq == (int32_t)((uint32_t)st.seq + 1));
			advance(&st, negotiated, &r);
		}
	}
	fuzz_check(got == ne && rc == end);
	if (rc != RPC_NEED_MORE) {
		fuzz_check(rpcstream_in_feed(&r, s, n) == 0);
		fuzz_check(rpcstream_in_next(&r, &p, &len) == rc);
	}
	rpcstream_in_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum rpc_crc negotiated;
	struct expect *e;
	size_t ncuts, ne;
	int end;

	if (size == 0)
		return 0;
	ncuts = data[0] & 15;
	negotiated = data[0] & 16 ? RPC_CRC32C : RPC_CRC32;
	if (ncuts >= size)
		return 0;
	/* A frame takes at least 12 bytes. */
	if ((e = malloc((size / 12 + 1) * sizeof(*e))) == NULL)
		return 0;
	ne = walk(data + 1 + ncuts, size - 1 - ncuts, negotiated, e, &end);
	run(data + 1, ncuts, data + 1 + ncuts, size - 1 - ncuts, negotiated,
	    e, ne, end);
	free(e);
	return 0;
}
