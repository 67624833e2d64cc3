/*
 * Reference implementations, each written from its doc/PROTOCOL.md section and
 * kept as plain as the text: no tables, no fast paths, so that what they
 * compute can be checked by reading. Offsets and limits are the text's
 * numbers, not proto.h's, so a wrong constant there is not shared either.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "ref.h"

#define CRC32_POLY		0xedb88320u
#define CRC32C_POLY		0x82f63b78u

/* 1.1 */
#define SEED_OFF		8
#define SEED_LEN		48	/* key 32 || iv 16 */
#define KEY_LEN			32
#define IV_LEN			16
#define TAG_OFF			56
#define DC_OFF			60

/* 2.1-2.4 */
#define MAX_PACKET		1044480	/* 262144 * 4 - 4096 */
#define ABRIDGED_LONG		0x7f
#define ABRIDGED_ACK		0x80
#define INTERMEDIATE_ACK	0x80000000u
#define INTERMEDIATE_BAD	0x40000000u

/* 4.2, 4.4 */
#define RPC_OVERHEAD		12	/* len, seq, crc */
#define RPC_MIN_LEN		16
#define RPC_PAD_WORD		4
#define CBC_BLOCK		16
#define RPC_MD5_PART		12
#define RPC_S_MAX		(16 + 16 + 4 + 4 + 2 + 6 + 4 + 2 + 256 + 16 + \
	32 + 16)

/* Eight steps of the reflected CRC register, one bit each. */
static uint32_t
crc_step8(uint32_t poly, uint32_t c)
{
	int k;

	for (k = 0; k < 8; k++)
		c = c & 1 ? c >> 1 ^ poly : c >> 1;
	return c;
}

static uint32_t
crc_bitwise(uint32_t poly, const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	while (len-- > 0)
		c = crc_step8(poly, c ^ *p++);
	return ~c;
}

uint32_t
ref_crc32(const void *buf, size_t len)
{
	return crc_bitwise(CRC32_POLY, buf, len);
}

uint32_t
ref_crc32c(const void *buf, size_t len)
{
	return crc_bitwise(CRC32C_POLY, buf, len);
}

/* ---- ciphers */

int
ref_cipher_apply(EVP_CIPHER_CTX *c, const uint8_t *in, uint8_t *out,
    size_t len)
{
	size_t n;
	int outl;

	if (c == NULL || (len > 0 && (in == NULL || out == NULL)))
		return REF_ERR_ARG;
	for (; len > 0; in += n, out += n, len -= n) {
		n = len < (size_t)INT_MAX / 2 ? len : (size_t)INT_MAX / 2 /
		    CBC_BLOCK * CBC_BLOCK;
		if (EVP_CipherUpdate(c, out, &outl, in, (int)n) != 1 ||
		    (size_t)outl != n)
			return REF_ERR_CRYPTO;
	}
	return 0;
}

static int
cipher_new(const EVP_CIPHER *type, int encrypt, const uint8_t key[32],
    const uint8_t iv[16], EVP_CIPHER_CTX **out)
{
	EVP_CIPHER_CTX *c;

	if (key == NULL || iv == NULL || out == NULL)
		return REF_ERR_ARG;
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(c, type, NULL, key, iv, encrypt) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, 0) != 1) {
		EVP_CIPHER_CTX_free(c);
		return REF_ERR_CRYPTO;
	}
	*out = c;
	return 0;
}

int
ref_ctr_new(const uint8_t key[32], const uint8_t iv[16], size_t skip,
    EVP_CIPHER_CTX **out)
{
	uint8_t junk[64];
	size_t n;
	int rc;

	if ((rc = cipher_new(EVP_aes_256_ctr(), 1, key, iv, out)) != 0)
		return rc;
	memset(junk, 0, sizeof(junk));
	for (; rc == 0 && skip > 0; skip -= n) {
		n = skip < sizeof(junk) ? skip : sizeof(junk);
		rc = ref_cipher_apply(*out, junk, junk, n);
	}
	if (rc != 0) {
		EVP_CIPHER_CTX_free(*out);
		*out = NULL;
	}
	return rc;
}

int
ref_cbc_new(int encrypt, const uint8_t key[32], const uint8_t iv[16],
    EVP_CIPHER_CTX **out)
{
	return cipher_new(EVP_aes_256_cbc(), encrypt != 0, key, iv, out);
}

/* ---- obfuscated2 (1.1-1.5) */

/* key = SHA256(seed[0:32] || secret), or the raw seed without a secret. */
static int
seed_keys(const uint8_t seed[SEED_LEN], const uint8_t *secret,
    uint8_t key[KEY_LEN], uint8_t iv[IV_LEN])
{
	EVP_MD_CTX *md;
	int ok;

	memcpy(iv, seed + KEY_LEN, IV_LEN);
	if (secret == NULL) {
		memcpy(key, seed, KEY_LEN);
		return 0;
	}
	if ((md = EVP_MD_CTX_new()) == NULL)
		return REF_ERR_CRYPTO;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, seed, KEY_LEN) == 1 &&
	    EVP_DigestUpdate(md, secret, 16) == 1 &&
	    EVP_DigestFinal_ex(md, key, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : REF_ERR_CRYPTO;
}

int
ref_obfs2_keys(const uint8_t hdr[REF_OBFS2_LEN], const uint8_t *secret,
    struct ref_obfs2_keys *out)
{
	uint8_t rev[SEED_LEN];
	size_t i;
	int rc;

	if (hdr == NULL || out == NULL)
		return REF_ERR_ARG;
	/* R[0] = H[55] ... R[47] = H[8] */
	for (i = 0; i < SEED_LEN; i++)
		rev[i] = hdr[SEED_OFF + SEED_LEN - 1 - i];
	rc = seed_keys(hdr + SEED_OFF, secret, out->c2s_key, out->c2s_iv);
	if (rc == 0)
		rc = seed_keys(rev, secret, out->s2c_key, out->s2c_iv);
	OPENSSL_cleanse(rev, sizeof(rev));
	return rc;
}

/* All 64 bytes through the c2s cipher from keystream offset 0. */
static int
header_crypt(const struct ref_obfs2_keys *k, const uint8_t *in, uint8_t *out)
{
	EVP_CIPHER_CTX *c;
	int rc;

	if ((rc = ref_ctr_new(k->c2s_key, k->c2s_iv, 0, &c)) != 0)
		return rc;
	rc = ref_cipher_apply(c, in, out, REF_OBFS2_LEN);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int
ref_obfs2_forbidden(const uint8_t hdr[REF_OBFS2_LEN])
{
	static const uint32_t bad[] = {
		0x44414548u, 0x54534f50u, 0x20544547u, 0x4954504fu,
		0xeeeeeeeeu, 0xddddddddu, 0x02010316u,
	};
	uint32_t first = bytes_le32(hdr);
	size_t i;

	if (hdr[0] == 0xef || bytes_le32(hdr + 4) == 0)
		return 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (first == bad[i])
			return 1;
	return 0;
}

static int
tag_valid(uint32_t tag)
{
	return tag == REF_TAG_ABRIDGED || tag == REF_TAG_INTERMEDIATE ||
	    tag == REF_TAG_PADDED;
}

int
ref_obfs2_build(const uint8_t rnd[REF_OBFS2_LEN], uint32_t tag, int16_t dc,
    const uint8_t *secret, uint8_t wire[REF_OBFS2_LEN],
    struct ref_obfs2_keys *keys)
{
	uint8_t h[REF_OBFS2_LEN], enc[REF_OBFS2_LEN];
	int rc;

	if (rnd == NULL || wire == NULL || keys == NULL || !tag_valid(tag))
		return REF_ERR_ARG;
	if (ref_obfs2_forbidden(rnd))
		return REF_ERR_RETRY;
	memcpy(h, rnd, sizeof(h));
	bytes_put_le32(h + TAG_OFF, tag);
	h[DC_OFF] = (uint8_t)((uint16_t)dc & 0xff);
	h[DC_OFF + 1] = (uint8_t)((uint16_t)dc >> 8);
	if ((rc = ref_obfs2_keys(h, secret, keys)) == 0 &&
	    (rc = header_crypt(keys, h, enc)) == 0) {
		memcpy(wire, h, TAG_OFF);
		memcpy(wire + TAG_OFF, enc + TAG_OFF, REF_OBFS2_LEN - TAG_OFF);
	}
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(enc, sizeof(enc));
	return rc;
}

int
ref_obfs2_parse(const uint8_t wire[REF_OBFS2_LEN], const uint8_t *secret,
    uint32_t *tag, int16_t *dc, struct ref_obfs2_keys *keys)
{
	uint8_t plain[REF_OBFS2_LEN];
	int rc;

	if (wire == NULL || tag == NULL || dc == NULL || keys == NULL)
		return REF_ERR_ARG;
	if ((rc = ref_obfs2_keys(wire, secret, keys)) == 0 &&
	    (rc = header_crypt(keys, wire, plain)) == 0) {
		*tag = bytes_le32(plain + TAG_OFF);
		*dc = (int16_t)(uint16_t)(plain[DC_OFF] |
		    plain[DC_OFF + 1] << 8);
		if (!tag_valid(*tag))
			rc = REF_ERR_TAG;
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

/* ---- transports (2.1-2.4) */

int
ref_transport(uint32_t tag, enum frame_transport *out)
{
	if (out == NULL)
		return REF_ERR_ARG;
	if (tag == REF_TAG_ABRIDGED)
		*out = FRAME_ABRIDGED;
	else if (tag == REF_TAG_INTERMEDIATE)
		*out = FRAME_INTERMEDIATE;
	else if (tag == REF_TAG_PADDED)
		*out = FRAME_PADDED;
	else
		return REF_ERR_TAG;
	return 0;
}

uint32_t
ref_transport_tag(enum frame_transport t)
{
	switch (t) {
	case FRAME_ABRIDGED:
		return REF_TAG_ABRIDGED;
	case FRAME_INTERMEDIATE:
		return REF_TAG_INTERMEDIATE;
	case FRAME_PADDED:
		return REF_TAG_PADDED;
	}
	return 0;
}

static int
body_len_ok(enum frame_transport t, size_t len)
{
	return len > 0 && len <= MAX_PACKET && (t == FRAME_PADDED ||
	    len % 4 == 0);
}

int
ref_frame_encode(enum frame_transport t, size_t len, int quickack,
    uint8_t hdr[4], size_t *hdr_len)
{
	size_t words = len / 4;

	if (hdr == NULL || hdr_len == NULL)
		return REF_ERR_ARG;
	if (!body_len_ok(t, len))
		return REF_ERR_FRAME;
	if (t != FRAME_ABRIDGED) {
		bytes_put_le32(hdr, (uint32_t)len |
		    (quickack ? INTERMEDIATE_ACK : 0));
		*hdr_len = 4;
		return 0;
	}
	if (words < ABRIDGED_LONG) {
		hdr[0] = (uint8_t)words;
		*hdr_len = 1;
	} else {
		hdr[0] = ABRIDGED_LONG;
		hdr[1] = (uint8_t)words;
		hdr[2] = (uint8_t)(words >> 8);
		hdr[3] = (uint8_t)(words >> 16);
		*hdr_len = 4;
	}
	if (quickack)
		hdr[0] |= ABRIDGED_ACK;
	return 0;
}

static int
decode_abridged(const uint8_t *buf, size_t avail, struct ref_frame *f)
{
	size_t words;

	if (avail < 1)
		return REF_NEED_MORE;
	f->quickack = (buf[0] & ABRIDGED_ACK) != 0;
	words = buf[0] & ~ABRIDGED_ACK;
	f->hdr_len = 1;
	if (words == ABRIDGED_LONG) {
		if (avail < 4)
			return REF_NEED_MORE;
		words = (size_t)buf[1] | (size_t)buf[2] << 8 |
		    (size_t)buf[3] << 16;
		/* 2.1: the official server closes on an overlong form. */
		if (words < ABRIDGED_LONG)
			return REF_ERR_FRAME;
		f->hdr_len = 4;
	}
	f->len = words * 4;
	return 0;
}

int
ref_frame_decode(enum frame_transport t, const uint8_t *buf, size_t avail,
    struct ref_frame *out)
{
	struct ref_frame f;
	uint32_t v;
	int rc;

	if (out == NULL || (buf == NULL && avail > 0))
		return REF_ERR_ARG;
	if (t == FRAME_ABRIDGED) {
		if ((rc = decode_abridged(buf, avail, &f)) != 0)
			return rc;
	} else {
		if (avail < 4)
			return REF_NEED_MORE;
		v = bytes_le32(buf);
		f.quickack = (v & INTERMEDIATE_ACK) != 0;
		v &= ~INTERMEDIATE_ACK;
		if (v & INTERMEDIATE_BAD)
			return REF_ERR_FRAME;
		f.hdr_len = 4;
		f.len = v;
	}
	if (!body_len_ok(t, f.len))
		return REF_ERR_FRAME;
	*out = f;
	return 0;
}

/* ---- the middle-proxy link (4.2, 4.4) */

static uint8_t *
put(uint8_t *p, const void *src, size_t len)
{
	memcpy(p, src, len);
	return p + len;
}

static uint8_t *
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

/* The dotted bytes reversed (127.0.0.1 -> 01 00 00 7f); 0 on IPv6. */
static uint8_t *
put_ipv4(uint8_t *p, const struct rpc_endpoint *e)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = e->v6 ? 0 : e->ip[3 - i];
	return p + 4;
}

/* The string s of 4.4. */
static size_t
key_string(const struct rpc_key_input *in, enum rpc_purpose purpose,
    uint8_t *s)
{
	uint8_t *p = s;

	p = put(p, in->nonce_srv, 16);
	p = put(p, in->nonce_clt, 16);
	bytes_put_le32(p, in->clt_ts);
	p = put_ipv4(p + 4, &in->srv);
	p = put_u16(p, in->clt.port);
	p = put(p, purpose == RPC_PURPOSE_CLIENT ? "CLIENT" : "SERVER", 6);
	p = put_ipv4(p, &in->clt);
	p = put_u16(p, in->srv.port);
	p = put(p, in->secret, in->secret_len);
	p = put(p, in->nonce_srv, 16);
	if (in->clt.v6) {
		p = put(p, in->clt.ip, 16);
		p = put(p, in->srv.ip, 16);
	}
	p = put(p, in->nonce_clt, 16);
	return (size_t)(p - s);
}

static int
digest(const EVP_MD *type, const uint8_t *p, size_t len, uint8_t *out)
{
	return EVP_Digest(p, len, out, NULL, type, NULL) == 1 ? 0 :
	    RPC_ERR_CRYPTO;
}

int
ref_rpc_keys(const struct rpc_key_input *in, enum rpc_purpose purpose,
    uint8_t key[32], uint8_t iv[16])
{
	uint8_t s[RPC_S_MAX], md5[16];
	size_t n;
	int rc;

	if (in == NULL || key == NULL || iv == NULL || in->secret == NULL ||
	    in->secret_len < 32 || in->secret_len > 256 ||
	    in->clt.v6 != in->srv.v6 || (purpose != RPC_PURPOSE_CLIENT &&
	    purpose != RPC_PURPOSE_SERVER))
		return RPC_ERR_ARG;
	n = key_string(in, purpose, s);
	/* key = MD5(s[1:])[0:12] || SHA1(s), iv = MD5(s[2:]) */
	if ((rc = digest(EVP_md5(), s + 1, n - 1, md5)) == 0 &&
	    (rc = digest(EVP_sha1(), s, n, key + RPC_MD5_PART)) == 0 &&
	    (rc = digest(EVP_md5(), s + 2, n - 2, iv)) == 0)
		memcpy(key, md5, RPC_MD5_PART);
	OPENSSL_cleanse(s, sizeof(s));
	OPENSSL_cleanse(md5, sizeof(md5));
	return rc;
}

size_t
ref_rpc_frame_len(size_t payload_len)
{
	return payload_len + RPC_OVERHEAD;
}

/*
 * Frames use tables made here from the same bitwise step, once: the fake
 * middle proxy checks every frame the benchmark moves, and bitwise CRCs
 * made it, not the daemon, the bottleneck there. Still nothing of src/.
 */
static uint32_t crc32_table[256], crc32c_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void
tables_make(void)
{
	uint32_t i;

	for (i = 0; i < 256; i++) {
		crc32_table[i] = crc_step8(CRC32_POLY, i);
		crc32c_table[i] = crc_step8(CRC32C_POLY, i);
	}
}

static uint32_t
frame_crc(enum rpc_crc crc, const uint8_t *p, size_t len)
{
	const uint32_t *t;
	uint32_t c = 0xffffffffu;

	pthread_once(&tables_once, tables_make);
	t = crc == RPC_CRC32C ? crc32c_table : crc32_table;
	while (len-- > 0)
		c = t[(c ^ *p++) & 0xff] ^ c >> 8;
	return ~c;
}

int
ref_rpc_seal(int32_t seq, enum rpc_crc crc, const uint8_t *payload,
    size_t payload_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t len = ref_rpc_frame_len(payload_len);

	if (payload == NULL || out == NULL || out_len == NULL ||
	    payload_len % 4 != 0 || len < RPC_MIN_LEN || len > cap ||
	    len > RPC_FRAME_MAX_LEN)
		return RPC_ERR_ARG;
	memmove(out + 8, payload, payload_len);
	bytes_put_le32(out, (uint32_t)len);
	bytes_put_le32(out + 4, (uint32_t)seq);
	bytes_put_le32(out + len - 4, frame_crc(crc, out, len - 4));
	*out_len = len;
	return 0;
}

int
ref_rpc_open(const uint8_t *buf, size_t avail, enum rpc_crc crc,
    int32_t expect_seq, struct rpc_frame *out)
{
	uint32_t len;

	if (out == NULL || (buf == NULL && avail > 0))
		return RPC_ERR_ARG;
	if (avail < 4)
		return RPC_NEED_MORE;
	memset(out, 0, sizeof(*out));
	len = bytes_le32(buf);
	if (len == RPC_PAD_WORD) {
		out->pad = 1;
		out->consumed = RPC_PAD_WORD;
		return 0;
	}
	/* The daemon's bound: no garbled length makes the fake wait forever. */
	if (len < RPC_MIN_LEN || len % 4 != 0 || len > RPC_FRAME_MAX_LEN)
		return RPC_ERR_FRAME_LEN;
	if (avail < len)
		return RPC_NEED_MORE;
	if (bytes_le32(buf + len - 4) != frame_crc(crc, buf, len - 4))
		return RPC_ERR_CRC;
	if ((int32_t)bytes_le32(buf + 4) != expect_seq)
		return RPC_ERR_SEQ;
	out->seq = expect_seq;
	out->payload = buf + 8;
	out->payload_len = len - RPC_OVERHEAD;
	out->consumed = len;
	return 0;
}

int
ref_rpc_pad(uint8_t *buf, size_t len, size_t cap, size_t *out_len)
{
	if (buf == NULL || out_len == NULL || len % 4 != 0)
		return RPC_ERR_ARG;
	for (; len % CBC_BLOCK != 0; len += 4) {
		if (len + 4 > cap)
			return RPC_ERR_ARG;
		bytes_put_le32(buf + len, RPC_PAD_WORD);
	}
	*out_len = len;
	return 0;
}

static int
stream_prepare(enum rpc_crc crc, const uint8_t *buf, size_t payload_len,
    size_t cap, struct rpc_frame_sum *out)
{
	if (buf == NULL || out == NULL || payload_len % 4 != 0 ||
	    ref_rpc_frame_len(payload_len) > cap)
		return RPC_ERR_ARG;
	memset(out, 0, sizeof(*out));
	out->crc = crc;
	out->payload_len = payload_len;
	return 0;
}

static int
stream_seal(const struct rpc_frame_sum *s, int32_t seq, uint8_t *buf,
    size_t *out_len)
{
	return ref_rpc_seal(seq, s->crc, buf + 8, s->payload_len, buf,
	    ref_rpc_frame_len(s->payload_len), out_len);
}

static int
stream_cipher(void *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
	return ref_cipher_apply(ctx, in, out, len) == 0 ? 0 : RPC_ERR_CRYPTO;
}

const struct rpcstream_ops ref_rpcstream_ops = {
	.prepare = stream_prepare,
	.seal = stream_seal,
	.open = ref_rpc_open,
	.pad = ref_rpc_pad,
	.cipher = stream_cipher,
};
