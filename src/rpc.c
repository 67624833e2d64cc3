/*
 * Middle-proxy RPC codec (doc/PROTOCOL.md 4). Every check mirrors one the
 * official proxy makes, so a middle-end that talks to it talks to us and a
 * link that would be closed there fails here with a named error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc.h"
#include "crypto.h"
#include "proto.h"
#include "rpc.h"

#define KEY_PURPOSE_LEN		6
/* Longest key derivation input: fixed fields, largest secret, IPv6. */
#define KEY_INPUT_MAX		(16 + 16 + 4 + 4 + 2 + KEY_PURPOSE_LEN + 4 + \
	2 + RPC_SECRET_MAX + 16 + 16 + 16 + 16)
#define KEY_MD5_PART		12	/* key = MD5(s[1:])[0:12] || SHA1(s) */
#define TL_STRING_MAX		0xffffff	/* 3-byte length of the long form */

static uint8_t *
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
	return p + 2;
}

/* Writers that advance: messages are built field after field. */
static uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
	bytes_put_le32(p, v);
	return p + 4;
}

static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
	p = put_u32(p, (uint32_t)v);
	return put_u32(p, (uint32_t)(v >> 32));
}

static uint8_t *
put_bytes(uint8_t *p, const void *src, size_t len)
{
	memcpy(p, src, len);
	return p + len;
}

const char *
rpc_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case RPC_ERR_ARG:
		return "invalid argument";
	case RPC_NEED_MORE:
		return "incomplete frame";
	case RPC_ERR_FRAME_LEN:
		return "bad frame length";
	case RPC_ERR_CRC:
		return "bad frame checksum";
	case RPC_ERR_SEQ:
		return "wrong frame sequence number";
	case RPC_ERR_SHORT:
		return "truncated message";
	case RPC_ERR_LEN:
		return "message longer than its type";
	case RPC_ERR_TYPE:
		return "unexpected message type";
	case RPC_ERR_UNKNOWN:
		return "unknown message type";
	case RPC_ERR_SCHEMA:
		return "unsupported crypto schema";
	case RPC_ERR_DH:
		return "DH crypto schema refused";
	case RPC_ERR_KEY_SELECT:
		return "peer uses another proxy secret";
	case RPC_ERR_CLOCK_SKEW:
		return "peer clock differs by more than 30 s";
	case RPC_ERR_FLAGS:
		return "reserved handshake flags set";
	case RPC_ERR_PEER_PID:
		return "handshake reply for another process";
	case RPC_ERR_HANDSHAKE:
		return "handshake refused by peer";
	case RPC_ERR_FILTERED:
		return "packet rejected by the forwarding filter";
	case RPC_ERR_CRYPTO:
		return "crypto library failure";
	case RPC_ERR_MALFORMED:
		return "malformed message";
	case RPC_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

/*
 * A message of a fixed size: the type is checked before the length so that
 * a wrong message is reported as such, not as a short one.
 */
static int
check_fixed(const uint8_t *p, size_t len, uint32_t type, size_t want)
{
	if (p == NULL && len > 0)
		return RPC_ERR_ARG;
	if (len < 4)
		return RPC_ERR_SHORT;
	if (bytes_le32(p) != type)
		return RPC_ERR_TYPE;
	if (len < want)
		return RPC_ERR_SHORT;
	if (len > want)
		return RPC_ERR_LEN;
	return 0;
}

static uint32_t
frame_crc(enum rpc_crc crc, const uint8_t *p, size_t len)
{
	return crc == RPC_CRC32C ? crc_crc32c(0, p, len) : crc_crc32(0, p, len);
}

static int
valid_crc(enum rpc_crc crc)
{
	return crc == RPC_CRC32 || crc == RPC_CRC32C;
}

size_t
rpc_frame_len(size_t payload_len)
{
	return payload_len + RPC_FRAME_OVERHEAD;
}

int
rpc_frame_decode(const uint8_t *buf, size_t avail, enum rpc_crc crc,
    int32_t expect_seq, struct rpc_frame *out)
{
	uint32_t len;

	if (out == NULL || (buf == NULL && avail > 0) || !valid_crc(crc))
		return RPC_ERR_ARG;
	if (avail < 4)
		return RPC_NEED_MORE;
	len = bytes_le32(buf);
	if (len == RPC_FRAME_PAD_WORD) {
		memset(out, 0, sizeof(*out));
		out->pad = 1;
		out->consumed = RPC_FRAME_PAD_WORD;
		return 0;
	}
	/* Refuse a bad length before waiting for the bytes it announces. */
	if (len < RPC_FRAME_MIN_LEN || len % 4 != 0 || len > RPC_FRAME_MAX_LEN)
		return RPC_ERR_FRAME_LEN;
	if (avail < len)
		return RPC_NEED_MORE;
	if (frame_crc(crc, buf, len - 4) != bytes_le32(buf + len - 4))
		return RPC_ERR_CRC;
	if ((int32_t)bytes_le32(buf + 4) != expect_seq)
		return RPC_ERR_SEQ;
	out->pad = 0;
	out->seq = expect_seq;
	out->payload = buf + 8;
	out->payload_len = len - RPC_FRAME_OVERHEAD;
	out->consumed = len;
	return 0;
}

int
rpc_frame_encode(int32_t seq, enum rpc_crc crc, const uint8_t *payload,
    size_t payload_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t len;

	if (out == NULL || out_len == NULL || payload == NULL ||
	    !valid_crc(crc) || payload_len % 4 != 0 ||
	    payload_len > RPC_FRAME_MAX_LEN - RPC_FRAME_OVERHEAD)
		return RPC_ERR_ARG;
	len = rpc_frame_len(payload_len);
	if (len < RPC_FRAME_MIN_LEN || cap < len)
		return RPC_ERR_ARG;
	memmove(out + 8, payload, payload_len);
	put_u32(out, (uint32_t)len);
	put_u32(out + 4, (uint32_t)seq);
	put_u32(out + len - 4, frame_crc(crc, out, len - 4));
	*out_len = len;
	return 0;
}

int
rpc_frame_prepare(enum rpc_crc crc, const uint8_t *buf, size_t payload_len,
    size_t cap, struct rpc_frame_sum *out)
{
	if (buf == NULL || out == NULL || !valid_crc(crc) ||
	    payload_len % 4 != 0 ||
	    payload_len > RPC_FRAME_MAX_LEN - RPC_FRAME_OVERHEAD ||
	    cap < rpc_frame_len(payload_len))
		return RPC_ERR_ARG;
	out->crc = crc;
	out->payload_len = payload_len;
	out->payload_crc = frame_crc(crc, buf + 8, payload_len);
	out->shift = crc == RPC_CRC32C ? crc_crc32c_shift(payload_len) :
	    crc_crc32_shift(payload_len);
	return 0;
}

int
rpc_frame_seal(const struct rpc_frame_sum *s, int32_t seq, uint8_t *buf,
    size_t *out_len)
{
	size_t len;
	uint32_t head;

	if (s == NULL || buf == NULL || out_len == NULL || !valid_crc(s->crc))
		return RPC_ERR_ARG;
	len = rpc_frame_len(s->payload_len);
	put_u32(buf, (uint32_t)len);
	put_u32(buf + 4, (uint32_t)seq);
	head = frame_crc(s->crc, buf, 8);
	put_u32(buf + len - 4, s->crc == RPC_CRC32C ?
	    crc_crc32c_combine(head, s->payload_crc, s->shift) :
	    crc_crc32_combine(head, s->payload_crc, s->shift));
	*out_len = len;
	return 0;
}

int
rpc_cbc_pad(uint8_t *buf, size_t len, size_t cap, size_t *out_len)
{
	size_t padded;

	if (buf == NULL || out_len == NULL || len % 4 != 0 ||
	    len > cap - cap % RPC_CBC_BLOCK)
		return RPC_ERR_ARG;
	padded = (len + RPC_CBC_BLOCK - 1) / RPC_CBC_BLOCK * RPC_CBC_BLOCK;
	for (; len < padded; len += 4)
		put_u32(buf + len, RPC_FRAME_PAD_WORD);
	*out_len = padded;
	return 0;
}

int
rpc_key_select(const uint8_t *secret, size_t len, int32_t *out)
{
	if (secret == NULL || out == NULL || len < RPC_SECRET_MIN ||
	    len > RPC_SECRET_MAX)
		return RPC_ERR_ARG;
	*out = (int32_t)bytes_le32(secret);
	return 0;
}

int
rpc_nonce_build(int32_t key_select, uint32_t ts, const uint8_t nonce[16],
    uint8_t out[32])
{
	uint8_t *p = out;

	if (nonce == NULL || out == NULL)
		return RPC_ERR_ARG;
	p = put_u32(p, RPC_NONCE);
	p = put_u32(p, (uint32_t)key_select);
	p = put_u32(p, RPC_SCHEMA_AES);
	p = put_u32(p, ts);
	put_bytes(p, nonce, RPC_NONCE_BYTES);
	return 0;
}

int
rpc_nonce_parse(const uint8_t *p, size_t len, int32_t key_select,
    uint32_t now, struct rpc_nonce *out)
{
	struct rpc_nonce n;
	int64_t skew;
	int rc;

	if (out == NULL)
		return RPC_ERR_ARG;
	rc = check_fixed(p, len, RPC_NONCE, RPC_NONCE_LEN);
	/* Schemas 2 and 3 are longer: name the schema, not the length. */
	if (rc != 0 && rc != RPC_ERR_LEN)
		return rc;
	n.key_select = (int32_t)bytes_le32(p + 4);
	n.schema = (int32_t)bytes_le32(p + 8);
	n.ts = bytes_le32(p + 12);
	memcpy(n.nonce, p + 16, sizeof(n.nonce));
	if (n.schema == RPC_SCHEMA_DH)
		return RPC_ERR_DH;
	if (n.schema != RPC_SCHEMA_AES)
		return RPC_ERR_SCHEMA;
	if (rc != 0)
		return rc;
	if (n.key_select == 0 || n.key_select != key_select)
		return RPC_ERR_KEY_SELECT;
	skew = (int64_t)n.ts - (int64_t)now;
	if (skew > RPC_NONCE_MAX_SKEW || skew < -RPC_NONCE_MAX_SKEW)
		return RPC_ERR_CLOCK_SKEW;
	*out = n;
	return 0;
}

/* 4.4: an IPv4 address is the host-order integer written LE. */
static uint8_t *
put_ipv4_le(uint8_t *p, const struct rpc_endpoint *e)
{
	static const uint8_t none[4];
	const uint8_t *ip = e->v6 ? none : e->ip;

	p[0] = ip[3];
	p[1] = ip[2];
	p[2] = ip[1];
	p[3] = ip[0];
	return p + 4;
}

static int
valid_endpoint(const struct rpc_endpoint *e)
{
	return e->v6 == 0 || e->v6 == 1;
}

/* Lay out the string s of doc/PROTOCOL.md 4.4; returns its length. */
static size_t
key_input(const struct rpc_key_input *in, enum rpc_purpose purpose,
    uint8_t s[KEY_INPUT_MAX])
{
	uint8_t *p = s;

	p = put_bytes(p, in->nonce_srv, 16);
	p = put_bytes(p, in->nonce_clt, 16);
	p = put_u32(p, in->clt_ts);
	p = put_ipv4_le(p, &in->srv);
	p = put_u16(p, in->clt.port);
	p = put_bytes(p, purpose == RPC_PURPOSE_CLIENT ? "CLIENT" : "SERVER",
	    KEY_PURPOSE_LEN);
	p = put_ipv4_le(p, &in->clt);
	p = put_u16(p, in->srv.port);
	p = put_bytes(p, in->secret, in->secret_len);
	p = put_bytes(p, in->nonce_srv, 16);
	if (in->clt.v6) {
		p = put_bytes(p, in->clt.ip, 16);
		p = put_bytes(p, in->srv.ip, 16);
	}
	p = put_bytes(p, in->nonce_clt, 16);
	return (size_t)(p - s);
}

int
rpc_derive_keys(const struct rpc_key_input *in, enum rpc_purpose purpose,
    uint8_t key[32], uint8_t iv[16])
{
	uint8_t s[KEY_INPUT_MAX], md5[16];
	size_t n;
	int rc = RPC_ERR_CRYPTO;

	if (in == NULL || key == NULL || iv == NULL || in->secret == NULL ||
	    in->secret_len < RPC_SECRET_MIN ||
	    in->secret_len > RPC_SECRET_MAX ||
	    !valid_endpoint(&in->srv) || !valid_endpoint(&in->clt) ||
	    in->srv.v6 != in->clt.v6 ||
	    (purpose != RPC_PURPOSE_CLIENT && purpose != RPC_PURPOSE_SERVER))
		return RPC_ERR_ARG;
	n = key_input(in, purpose, s);
	if (crypto_md5(s + 1, n - 1, md5) != 0 ||
	    crypto_sha1(s, n, key + KEY_MD5_PART) != 0 ||
	    crypto_md5(s + 2, n - 2, iv) != 0)
		goto out;
	memcpy(key, md5, KEY_MD5_PART);
	rc = 0;
out:
	crypto_cleanse(s, sizeof(s));
	crypto_cleanse(md5, sizeof(md5));
	return rc;
}

static uint8_t *
put_pid(uint8_t *p, const struct rpc_pid *pid)
{
	p = put_u32(p, pid->ip);
	p = put_u16(p, pid->port);
	p = put_u16(p, pid->pid);
	return put_u32(p, (uint32_t)pid->utime);
}

static void
get_pid(const uint8_t *p, struct rpc_pid *pid)
{
	pid->ip = bytes_le32(p);
	pid->port = (uint16_t)(p[4] | p[5] << 8);
	pid->pid = (uint16_t)(p[6] | p[7] << 8);
	pid->utime = (int32_t)bytes_le32(p + 8);
}

int
rpc_handshake_build(uint32_t flags, const struct rpc_pid *sender,
    const struct rpc_pid *peer, uint8_t out[32])
{
	uint8_t *p = out;

	if (sender == NULL || peer == NULL || out == NULL ||
	    (flags & RPC_FLAG_RESERVED) != 0)
		return RPC_ERR_ARG;
	p = put_u32(p, RPC_HANDSHAKE);
	p = put_u32(p, flags);
	p = put_pid(p, sender);
	put_pid(p, peer);
	return 0;
}

int
rpc_handshake_parse(const uint8_t *p, size_t len, struct rpc_handshake *out)
{
	struct rpc_handshake h;
	int rc;

	if (out == NULL)
		return RPC_ERR_ARG;
	if ((rc = check_fixed(p, len, RPC_HANDSHAKE, RPC_HANDSHAKE_LEN)) != 0) {
		if (rc == RPC_ERR_TYPE && bytes_le32(p) == RPC_HANDSHAKE_ERROR)
			return RPC_ERR_HANDSHAKE;
		return rc;
	}
	h.flags = bytes_le32(p + 4);
	if ((h.flags & RPC_FLAG_RESERVED) != 0)
		return RPC_ERR_FLAGS;
	get_pid(p + 8, &h.sender);
	get_pid(p + 8 + RPC_PID_LEN, &h.peer);
	*out = h;
	return 0;
}

int
rpc_handshake_error_parse(const uint8_t *p, size_t len, int32_t *code,
    struct rpc_pid *pid)
{
	int rc;

	if (code == NULL || pid == NULL)
		return RPC_ERR_ARG;
	rc = check_fixed(p, len, RPC_HANDSHAKE_ERROR, RPC_HANDSHAKE_ERROR_LEN);
	if (rc != 0)
		return rc;
	*code = (int32_t)bytes_le32(p + 4);
	get_pid(p + 8, pid);
	return 0;
}

int
rpc_handshake_error_build(int32_t code, const struct rpc_pid *pid,
    uint8_t out[20])
{
	if (pid == NULL || out == NULL)
		return RPC_ERR_ARG;
	put_pid(put_u32(put_u32(out, RPC_HANDSHAKE_ERROR), (uint32_t)code),
	    pid);
	return 0;
}

/* A zero field in the peer's echo of our PID stands for "any". */
static int
pid_matches(const struct rpc_pid *ours, const struct rpc_pid *echo)
{
	return (echo->ip == 0 || echo->ip == ours->ip) &&
	    (echo->port == 0 || echo->port == ours->port) &&
	    (echo->pid == 0 || echo->pid == ours->pid) &&
	    (echo->utime == 0 || echo->utime == ours->utime);
}

int
rpc_handshake_check(const struct rpc_handshake *reply,
    const struct rpc_pid *ours, uint32_t our_flags, enum rpc_crc *crc)
{
	if (reply == NULL || ours == NULL || crc == NULL)
		return RPC_ERR_ARG;
	if ((reply->flags & RPC_FLAG_RESERVED) != 0)
		return RPC_ERR_FLAGS;
	if (!pid_matches(ours, &reply->peer))
		return RPC_ERR_PEER_PID;
	*crc = (reply->flags & our_flags & RPC_FLAG_CRC32C) != 0 ?
	    RPC_CRC32C : RPC_CRC32;
	return 0;
}

static int
valid_keepalive(uint32_t type)
{
	return type == RPC_PING || type == RPC_PONG;
}

int
rpc_ping_build(uint32_t type, int64_t ping_id, uint8_t out[12])
{
	if (out == NULL || !valid_keepalive(type))
		return RPC_ERR_ARG;
	put_u64(put_u32(out, type), (uint64_t)ping_id);
	return 0;
}

int
rpc_ping_parse(uint32_t type, const uint8_t *p, size_t len, int64_t *ping_id)
{
	int rc;

	if (ping_id == NULL || !valid_keepalive(type))
		return RPC_ERR_ARG;
	if ((rc = check_fixed(p, len, type, RPC_PING_LEN)) != 0)
		return rc;
	*ping_id = (int64_t)bytes_le64(p + 4);
	return 0;
}

size_t
rpc_tl_string_len(size_t len)
{
	size_t hdr = len <= TL_STRING_SHORT_MAX ? 1 : 4;

	return (hdr + len + 3) / 4 * 4;
}

int
rpc_tl_string_put(const uint8_t *s, size_t len, uint8_t *out, size_t cap,
    size_t *out_len)
{
	size_t total, hdr;

	if (out == NULL || out_len == NULL || (s == NULL && len > 0) ||
	    len > TL_STRING_MAX)
		return RPC_ERR_ARG;
	total = rpc_tl_string_len(len);
	if (cap < total)
		return RPC_ERR_ARG;
	if (len <= TL_STRING_SHORT_MAX) {
		out[0] = (uint8_t)len;
		hdr = 1;
	} else {
		put_u32(out, (uint32_t)len << 8 | TL_STRING_LONG);
		hdr = 4;
	}
	if (len > 0)
		memcpy(out + hdr, s, len);
	memset(out + hdr + len, 0, total - hdr - len);
	*out_len = total;
	return 0;
}

int
rpc_tl_string_get(const uint8_t *p, size_t avail, const uint8_t **s,
    size_t *len, size_t *consumed)
{
	size_t n, hdr, total;

	if (s == NULL || len == NULL || consumed == NULL ||
	    (p == NULL && avail > 0))
		return RPC_ERR_ARG;
	if (avail < 4)
		return RPC_ERR_SHORT;
	if (p[0] <= TL_STRING_SHORT_MAX) {
		n = p[0];
		hdr = 1;
	} else if (p[0] == TL_STRING_LONG) {
		n = bytes_le32(p) >> 8;
		hdr = 4;
	} else
		return RPC_ERR_MALFORMED;
	total = (hdr + n + 3) / 4 * 4;
	if (total > avail)
		return RPC_ERR_SHORT;
	*s = p + hdr;
	*len = n;
	*consumed = total;
	return 0;
}

static int
valid_proxy_req(const struct rpc_proxy_req *r)
{
	return r->msg != NULL && r->msg_len >= 8 && r->msg_len % 4 == 0 &&
	    r->msg_len <= FRAME_MAX_LEN && valid_endpoint(&r->client) &&
	    valid_endpoint(&r->ours);
}

int
rpc_proxy_req_flags(const struct rpc_proxy_req *r, uint32_t *flags)
{
	static const uint8_t zero_key_id[8];
	uint32_t f = RPC_REQ_MAGIC | RPC_REQ_EXTMODE2;

	if (r == NULL || flags == NULL || !valid_proxy_req(r))
		return RPC_ERR_ARG;
	switch (r->transport) {
	case FRAME_ABRIDGED:
		f |= RPC_REQ_ABRIDGED;
		break;
	case FRAME_INTERMEDIATE:
	case FRAME_PADDED:
		f |= RPC_REQ_INTERMEDIATE;
		break;
	default:
		return RPC_ERR_ARG;
	}
	if (memcmp(r->msg, zero_key_id, sizeof(zero_key_id)) == 0)
		f |= RPC_REQ_NOT_ENCRYPTED;
	if (r->ad_tag != NULL)
		f |= RPC_REQ_HAS_AD_TAG;
	if (r->quickack)
		f |= RPC_REQ_QUICKACK;
	*flags = f;
	return 0;
}

/* The extra_size field: TL_PROXY_TAG and the tag as a TL string (24). */
static size_t
ad_tag_extra_size(void)
{
	return 4 + rpc_tl_string_len(RPC_AD_TAG_LEN);
}

int
rpc_proxy_req_len(const struct rpc_proxy_req *r, size_t *len)
{
	if (r == NULL || len == NULL || !valid_proxy_req(r))
		return RPC_ERR_ARG;
	*len = RPC_PROXY_REQ_HDR_LEN +
	    (r->ad_tag != NULL ? 4 + ad_tag_extra_size() : 0) + r->msg_len;
	return 0;
}

/* IPv6 as is; IPv4 as ::ffff:a.b.c.d. */
static uint8_t *
put_ipv6(uint8_t *p, const struct rpc_endpoint *e)
{
	if (e->v6)
		return put_bytes(p, e->ip, 16);
	memset(p, 0, 10);
	p[10] = 0xff;
	p[11] = 0xff;
	return put_bytes(p + 12, e->ip, 4);
}

int
rpc_proxy_req_build(const struct rpc_proxy_req *r, uint8_t *out, size_t cap,
    size_t *out_len)
{
	uint32_t flags;
	size_t len, tl_len;
	uint8_t *p = out;
	int rc;

	if (out == NULL || out_len == NULL)
		return RPC_ERR_ARG;
	if ((rc = rpc_proxy_req_flags(r, &flags)) != 0 ||
	    (rc = rpc_proxy_req_len(r, &len)) != 0)
		return rc;
	if (cap < len)
		return RPC_ERR_ARG;
	p = put_u32(p, RPC_PROXY_REQ);
	p = put_u32(p, flags);
	p = put_u64(p, r->conn_id);
	p = put_ipv6(p, &r->client);
	p = put_u32(p, r->client.port);
	p = put_ipv6(p, &r->ours);
	p = put_u32(p, r->ours.port);
	if (r->ad_tag != NULL) {
		p = put_u32(p, (uint32_t)ad_tag_extra_size());
		p = put_u32(p, TL_PROXY_TAG);
		if ((rc = rpc_tl_string_put(r->ad_tag, RPC_AD_TAG_LEN, p,
		    cap - (size_t)(p - out), &tl_len)) != 0)
			return rc;
		p += tl_len;
	}
	put_bytes(p, r->msg, r->msg_len);
	*out_len = len;
	return 0;
}

/* The inverse of put_ipv6 and a u32 port: ::ffff:a.b.c.d is IPv4. */
static int
get_endpoint(const uint8_t *p, struct rpc_endpoint *e)
{
	static const uint8_t v4_prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	uint32_t port = bytes_le32(p + 16);

	if (port > 0xffff)
		return RPC_ERR_MALFORMED;
	memset(e, 0, sizeof(*e));
	if (memcmp(p, v4_prefix, sizeof(v4_prefix)) == 0)
		memcpy(e->ip, p + 12, 4);
	else {
		e->v6 = 1;
		memcpy(e->ip, p, 16);
	}
	e->port = (uint16_t)port;
	return 0;
}

/* One TL string that must fill the rest of an extra section item. */
static int
extra_string(const uint8_t **p, const uint8_t *end, const uint8_t **s,
    size_t *len)
{
	size_t used;
	int rc;

	rc = rpc_tl_string_get(*p, (size_t)(end - *p), s, len, &used);
	if (rc != 0)
		return rc == RPC_ERR_SHORT ? RPC_ERR_MALFORMED : rc;
	*p += used;
	return 0;
}

/*
 * The extra section holds, in this order, the ad tag when flag 0x8 is set
 * and the HTTP query info when 0x4 is, and nothing else.
 */
static int
parse_extra(const uint8_t *p, size_t len, struct rpc_proxy_req_info *r)
{
	const uint8_t *end = p + len, *s;
	size_t n;
	int i, rc;

	if (r->flags & RPC_REQ_HAS_AD_TAG) {
		if (end - p < 4 || bytes_le32(p) != TL_PROXY_TAG)
			return RPC_ERR_MALFORMED;
		p += 4;
		if ((rc = extra_string(&p, end, &r->ad_tag,
		    &r->ad_tag_len)) != 0)
			return rc;
	}
	if (r->flags & RPC_REQ_HTTP_INFO) {
		if (end - p < 4 || bytes_le32(p) != TL_HTTP_QUERY_INFO)
			return RPC_ERR_MALFORMED;
		p += 4;
		for (i = 0; i < 3; i++)
			if ((rc = extra_string(&p, end, &s, &n)) != 0)
				return rc;
	}
	return p == end ? 0 : RPC_ERR_MALFORMED;
}

int
rpc_proxy_req_parse(const uint8_t *p, size_t len,
    struct rpc_proxy_req_info *out)
{
	struct rpc_proxy_req_info r;
	size_t off = RPC_PROXY_REQ_HDR_LEN, extra;
	int rc;

	if (out == NULL || (p == NULL && len > 0))
		return RPC_ERR_ARG;
	if (len < 4)
		return RPC_ERR_SHORT;
	if (bytes_le32(p) != RPC_PROXY_REQ)
		return RPC_ERR_TYPE;
	if (len < RPC_PROXY_REQ_HDR_LEN)
		return RPC_ERR_SHORT;
	memset(&r, 0, sizeof(r));
	r.flags = bytes_le32(p + 4);
	r.conn_id = bytes_le64(p + 8);
	if ((rc = get_endpoint(p + 16, &r.client)) != 0 ||
	    (rc = get_endpoint(p + 36, &r.ours)) != 0)
		return rc;
	if (r.flags & (RPC_REQ_HAS_AD_TAG | RPC_REQ_HTTP_INFO)) {
		if (len - off < 4)
			return RPC_ERR_SHORT;
		extra = bytes_le32(p + off);
		off += 4;
		if (extra > len - off)
			return RPC_ERR_SHORT;
		if (extra % 4 != 0)
			return RPC_ERR_MALFORMED;
		if ((rc = parse_extra(p + off, extra, &r)) != 0)
			return rc;
		off += extra;
	}
	if ((len - off) % 4 != 0)
		return RPC_ERR_MALFORMED;
	r.msg = p + off;
	r.msg_len = len - off;
	*out = r;
	return 0;
}

int
rpc_close_conn_parse(const uint8_t *p, size_t len, uint64_t *conn_id)
{
	int rc;

	if (conn_id == NULL)
		return RPC_ERR_ARG;
	if ((rc = check_fixed(p, len, RPC_CLOSE_CONN, RPC_CLOSE_LEN)) != 0)
		return rc;
	*conn_id = bytes_le64(p + 4);
	return 0;
}

int
rpc_proxy_ans_build(uint32_t flags, uint64_t conn_id, const uint8_t *data,
    size_t data_len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (out == NULL || out_len == NULL || (data == NULL && data_len > 0) ||
	    data_len % 4 != 0 ||
	    data_len > RPC_FRAME_MAX_LEN - RPC_FRAME_OVERHEAD -
	    RPC_PROXY_ANS_HDR_LEN ||
	    cap < RPC_PROXY_ANS_HDR_LEN + data_len)
		return RPC_ERR_ARG;
	if (data_len > 0)
		memmove(out + RPC_PROXY_ANS_HDR_LEN, data, data_len);
	put_u64(put_u32(put_u32(out, RPC_PROXY_ANS), flags), conn_id);
	*out_len = RPC_PROXY_ANS_HDR_LEN + data_len;
	return 0;
}

int
rpc_simple_ack_build(uint64_t conn_id, uint32_t confirm, uint8_t out[16])
{
	if (out == NULL)
		return RPC_ERR_ARG;
	put_u32(put_u64(put_u32(out, RPC_SIMPLE_ACK), conn_id), confirm);
	return 0;
}

int
rpc_close_ext_build(uint64_t conn_id, uint8_t out[12])
{
	if (out == NULL)
		return RPC_ERR_ARG;
	put_u64(put_u32(out, RPC_CLOSE_EXT), conn_id);
	return 0;
}

int
rpc_answer_parse(const uint8_t *p, size_t len, struct rpc_answer *out)
{
	struct rpc_answer a;
	int rc;

	if (out == NULL || (p == NULL && len > 0))
		return RPC_ERR_ARG;
	if (len < 4)
		return RPC_ERR_SHORT;
	memset(&a, 0, sizeof(a));
	a.type = bytes_le32(p);
	switch (a.type) {
	case RPC_PROXY_ANS:
		if (len < RPC_PROXY_ANS_HDR_LEN)
			return RPC_ERR_SHORT;
		a.flags = bytes_le32(p + 4);
		a.conn_id = bytes_le64(p + 8);
		a.data = p + RPC_PROXY_ANS_HDR_LEN;
		a.data_len = len - RPC_PROXY_ANS_HDR_LEN;
		break;
	case RPC_SIMPLE_ACK:
		rc = check_fixed(p, len, a.type, RPC_SIMPLE_ACK_LEN);
		if (rc != 0)
			return rc;
		a.conn_id = bytes_le64(p + 4);
		a.confirm = bytes_le32(p + 12);
		break;
	case RPC_CLOSE_EXT:
		if ((rc = check_fixed(p, len, a.type, RPC_CLOSE_LEN)) != 0)
			return rc;
		a.conn_id = bytes_le64(p + 4);
		break;
	default:
		return RPC_ERR_UNKNOWN;
	}
	*out = a;
	return 0;
}

int
rpc_close_conn_build(uint64_t conn_id, uint8_t out[12])
{
	if (out == NULL)
		return RPC_ERR_ARG;
	put_u64(put_u32(out, RPC_CLOSE_CONN), conn_id);
	return 0;
}

static int
allowed_unencrypted(uint32_t constructor)
{
	return constructor == MTPROTO_REQ_PQ ||
	    constructor == MTPROTO_REQ_PQ_MULTI ||
	    constructor == MTPROTO_REQ_DH_PARAMS ||
	    constructor == MTPROTO_SET_CLIENT_DH;
}

int
rpc_forward_check(const uint8_t *msg, size_t len)
{
	static const uint8_t zero_key_id[8];
	uint32_t body_len;

	if (msg == NULL && len > 0)
		return RPC_ERR_ARG;
	if (len < MTPROTO_MIN_LEN || len % 4 != 0)
		return RPC_ERR_FILTERED;
	if (memcmp(msg, zero_key_id, sizeof(zero_key_id)) != 0)
		return len < MTPROTO_MIN_ENCRYPTED ? RPC_ERR_FILTERED : 0;
	/* auth_key_id 0: msg_id at 8, body length at 16, body from 20. */
	body_len = bytes_le32(msg + 16);
	if (body_len < 20 || body_len > len - 20 ||
	    !allowed_unencrypted(bytes_le32(msg + 20)))
		return RPC_ERR_FILTERED;
	return 0;
}
