/*
 * The input as a plaintext middle-proxy stream, decoded with each CRC kind
 * negotiated and sequence numbers counting up; every accepted frame
 * re-encodes to the very same bytes and its payload goes through every
 * message parser. The whole input also goes through each parser directly.
 * Anything a parser accepts must rebuild byte for byte where a builder
 * exists.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY_SELECT	0x4496880f
#define FUZZ_NOW	1764000000u

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
parse_nonce(const uint8_t *p, size_t len)
{
	struct rpc_nonce n;
	uint8_t out[RPC_NONCE_LEN];

	if (rpc_nonce_parse(p, len, FUZZ_KEY_SELECT, FUZZ_NOW, &n) != 0)
		return;
	check(len == RPC_NONCE_LEN && n.schema == RPC_SCHEMA_AES &&
	    n.key_select == FUZZ_KEY_SELECT);
	check(n.ts + RPC_NONCE_MAX_SKEW >= FUZZ_NOW &&
	    n.ts <= FUZZ_NOW + RPC_NONCE_MAX_SKEW);
	check(rpc_nonce_build(n.key_select, n.ts, n.nonce, out) == 0);
	check(memcmp(out, p, len) == 0);
}

static void
parse_handshake(const uint8_t *p, size_t len)
{
	struct rpc_handshake h;
	struct rpc_pid pid;
	enum rpc_crc crc;
	uint8_t out[RPC_HANDSHAKE_LEN];
	int32_t code;
	int rc;

	rc = rpc_handshake_parse(p, len, &h);
	if (rc == RPC_ERR_HANDSHAKE)
		check(len >= 4 && p[0] == 0xda && p[3] == 0x6a);
	if (rpc_handshake_error_parse(p, len, &code, &pid) == 0)
		check(len == RPC_HANDSHAKE_ERROR_LEN && rc == RPC_ERR_HANDSHAKE);
	if (rc != 0)
		return;
	check(len == RPC_HANDSHAKE_LEN && (h.flags & RPC_FLAG_RESERVED) == 0);
	check(rpc_handshake_build(h.flags, &h.sender, &h.peer, out) == 0);
	check(memcmp(out, p, len) == 0);
	/* The sender's own PID always matches an echo of itself. */
	check(rpc_handshake_check(&h, &h.peer, RPC_FLAG_CRC32C, &crc) == 0);
	check(crc == ((h.flags & RPC_FLAG_CRC32C) ? RPC_CRC32C : RPC_CRC32));
}

static void
parse_keepalive(const uint8_t *p, size_t len)
{
	static const uint32_t types[] = { RPC_PING, RPC_PONG };
	uint8_t out[RPC_PING_LEN];
	int64_t id;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (rpc_ping_parse(types[i], p, len, &id) != 0)
			continue;
		check(len == RPC_PING_LEN);
		check(rpc_ping_build(types[i], id, out) == 0);
		check(memcmp(out, p, len) == 0);
	}
}

static void
parse_answer(const uint8_t *p, size_t len)
{
	struct rpc_answer a;
	uint8_t out[RPC_CLOSE_LEN];

	if (rpc_answer_parse(p, len, &a) != 0)
		return;
	switch (a.type) {
	case RPC_PROXY_ANS:
		check(a.data == p + RPC_PROXY_ANS_HDR_LEN &&
		    a.data_len == len - RPC_PROXY_ANS_HDR_LEN);
		break;
	case RPC_SIMPLE_ACK:
		check(len == RPC_SIMPLE_ACK_LEN && a.data == NULL);
		break;
	case RPC_CLOSE_EXT:
		check(len == RPC_CLOSE_LEN && a.data == NULL);
		/* Same layout as our RPC_CLOSE_CONN apart from the type. */
		check(rpc_close_conn_build(a.conn_id, out) == 0);
		check(memcmp(out + 4, p + 4, RPC_CLOSE_LEN - 4) == 0);
		break;
	default:
		check(0);
	}
}

static void
parse_all(const uint8_t *p, size_t len)
{
	int rc;

	parse_nonce(p, len);
	parse_handshake(p, len);
	parse_keepalive(p, len);
	parse_answer(p, len);
	rc = rpc_forward_check(p, len);
	check(rc == 0 || rc == RPC_ERR_FILTERED);
	check(rc != 0 || (len >= MTPROTO_MIN_LEN && len % 4 == 0));
}

static void
check_frame(const uint8_t *buf, size_t avail, enum rpc_crc crc,
    const struct rpc_frame *f)
{
	static uint8_t out[RPC_FRAME_MAX_LEN];
	size_t n;

	check(f->consumed <= avail);
	if (f->pad) {
		check(f->consumed == RPC_FRAME_PAD_WORD);
		return;
	}
	check(f->payload == buf + 8 && f->payload_len % 4 == 0 &&
	    f->payload_len >= 4 && f->consumed == rpc_frame_len(f->payload_len));
	check(rpc_frame_encode(f->seq, crc, f->payload, f->payload_len, out,
	    sizeof(out), &n) == 0);
	check(n == f->consumed && memcmp(out, buf, n) == 0);
}

/*
 * A link's read side: frames in order, until the stream stops or fails.
 * As on a real link, nonce and handshake frames (seq < 0) carry CRC32 and
 * the negotiated kind applies from seq 0 on.
 */
static void
walk(const uint8_t *data, size_t size, enum rpc_crc negotiated, int32_t seq)
{
	struct rpc_frame f;
	enum rpc_crc crc;
	size_t pos = 0;
	int rc;

	for (;;) {
		crc = seq < 0 ? RPC_CRC32 : negotiated;
		if ((rc = rpc_frame_decode(data + pos, size - pos, crc, seq,
		    &f)) != 0)
			break;
		check_frame(data + pos, size - pos, crc, &f);
		pos += f.consumed;
		if (f.pad)
			continue;
		check(f.seq == seq);
		parse_all(f.payload, f.payload_len);
		seq = (int32_t)((uint32_t)seq + 1);
	}
	check(rc == RPC_NEED_MORE || rc == RPC_ERR_FRAME_LEN ||
	    rc == RPC_ERR_CRC || rc == RPC_ERR_SEQ);
}

/* The input as a client packet inside RPC_PROXY_REQ. */
static void
build_req(const uint8_t *data, size_t size)
{
	static uint8_t out[RPC_FRAME_MAX_LEN];
	static const uint8_t tag[RPC_AD_TAG_LEN] = { 1, 2, 3 };
	struct rpc_proxy_req r;
	size_t len, n;

	memset(&r, 0, sizeof(r));
	r.msg = data;
	r.msg_len = size & ~(size_t)3;
	r.transport = (enum frame_transport)(size % 3);
	r.ad_tag = size % 2 ? tag : NULL;
	if (rpc_proxy_req_len(&r, &len) != 0) {
		check(r.msg_len < 8 || r.msg_len > FRAME_MAX_LEN);
		return;
	}
	check(rpc_proxy_req_build(&r, out, sizeof(out), &n) == 0);
	check(n == len && memcmp(out + n - r.msg_len, data, r.msg_len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int32_t first_seq;

	walk(data, size, RPC_CRC32, RPC_SEQ_NONCE);
	walk(data, size, RPC_CRC32C, RPC_SEQ_NONCE);
	/* Also from whatever sequence number the first frame carries. */
	if (size >= 8) {
		first_seq = (int32_t)((uint32_t)data[4] |
		    (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 |
		    (uint32_t)data[7] << 24);
		walk(data, size, RPC_CRC32, first_seq);
		walk(data, size, RPC_CRC32C, first_seq);
	}
	parse_all(data, size);
	build_req(data, size);
	return 0;
}
