/*
 * fake-TLS codec (doc/PROTOCOL.md 3). The hello parser takes what real networks
 * do to a hello (cut across reads, re-cut into several records) and refuses
 * anything a TLS client would not send, so that whatever it refuses can go to
 * the cover site untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crypto.h"
#include "faketls.h"
#include "secret.h"

/* The client random in the handshake message: after type, length, version. */
#define HELLO_RANDOM_OFF	(TLS_HS_HEADER_LEN + 2)
#define HELLO_RANDOM_END	(HELLO_RANDOM_OFF + TLS_RANDOM_LEN)

/*
 * ServerHello fixed part: handshake header, version, random, session id
 * length, suite, compression, extensions length.
 */
#define SH_FIXED_LEN	(TLS_HS_HEADER_LEN + 2 + TLS_RANDOM_LEN + 1 + 2 + 1 + 2)
#define EXT_KEY_SHARE_HEAD	(4 + 4)	/* type, length, group, length */
#define EXT_VERSIONS_LEN	(4 + 2)
#define MLKEM_Q			3329	/* FIPS 203: the modulus */

enum { G_SUITE, G_EXT_FIRST, G_EXT_LAST, G_GROUP, G_VERSION };

/* RFC 8701: 0x?a?a with both bytes equal. */
static int
is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Host names only: printable ASCII, no space; also keeps log lines clean. */
static int
valid_host(const uint8_t *name, size_t len)
{
	size_t i;

	if (len == 0 || len > TLS_SNI_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return 0;
	return 1;
}

/* ---- ClientHello: records ---- */

struct layout {
	size_t wire_len, msg_len, nrecords;
};

/* Check the bytes of a record header that have arrived so far. */
static int
check_record_header(const uint8_t *h, size_t have, int first)
{
	size_t rlen;

	if (have >= 1 && h[0] != TLS_RECORD_HANDSHAKE)
		return first ? FAKETLS_NOT_TLS : FAKETLS_ERR_RECORD;
	if (have >= 2 && h[1] != TLS_VERSION_12 >> 8)
		return first ? FAKETLS_NOT_TLS : FAKETLS_ERR_VERSION;
	if (have >= 3 && h[2] != (TLS_VERSION_10 & 0xff) &&
	    h[2] != (TLS_VERSION_12 & 0xff))
		return FAKETLS_ERR_VERSION;
	if (have < TLS_RECORD_HEADER_LEN)
		return FAKETLS_NEED_MORE;
	rlen = bytes_be16(h + 3);
	/* RFC 8446 5.1: no empty handshake records, none over 2^14. */
	if (rlen == 0 || rlen > TLS_PLAINTEXT_MAX)
		return FAKETLS_ERR_RECORD;
	return 0;
}

/*
 * Walk the handshake records at the start of buf until they hold one whole
 * handshake message. Every check looks only at bytes already walked, in wire
 * order, so a longer buffer can never turn an answer into another one.
 */
static int
walk_records(const uint8_t *buf, size_t len, struct layout *lay)
{
	uint8_t hs[TLS_HS_HEADER_LEN];
	size_t off = 0, have = 0, need = 0, rlen, avail, i;
	int rc;

	lay->nrecords = 0;
	for (;;) {
		avail = len - off;
		if (avail > TLS_RECORD_HEADER_LEN)
			avail = TLS_RECORD_HEADER_LEN;
		if ((rc = check_record_header(buf + off, avail, off == 0)) != 0)
			return rc;
		rlen = bytes_be16(buf + off + 3);
		off += TLS_RECORD_HEADER_LEN;
		if (off + rlen > FAKETLS_HELLO_MAX)
			return FAKETLS_ERR_OVERSIZE;
		avail = len - off < rlen ? len - off : rlen;
		/* The handshake header itself may be cut across records. */
		for (i = 0; i < avail && have + i < TLS_HS_HEADER_LEN; i++)
			hs[have + i] = buf[off + i];
		if (have == 0 && avail > 0 && hs[0] != TLS_HS_CLIENT_HELLO)
			return FAKETLS_ERR_RECORD;
		if (need == 0 && have + avail >= TLS_HS_HEADER_LEN) {
			need = TLS_HS_HEADER_LEN + bytes_be24(hs + 1);
			if (need > FAKETLS_HELLO_MSG_MAX)
				return FAKETLS_ERR_OVERSIZE;
		}
		/* A record holding more than the hello. */
		if (need != 0 && have + rlen > need)
			return FAKETLS_ERR_RECORD;
		if (rlen > len - off)
			return FAKETLS_NEED_MORE;
		have += rlen;
		off += rlen;
		lay->nrecords++;
		if (have == need)
			break;
		/* No room left for another record of at least one byte. */
		if (off + TLS_RECORD_HEADER_LEN >= FAKETLS_HELLO_MAX)
			return FAKETLS_ERR_OVERSIZE;
	}
	lay->wire_len = off;
	lay->msg_len = need;
	return 0;
}

/* The handshake message out of the walked records (walk_records said 0). */
static void
gather(const uint8_t *wire, size_t wire_len, uint8_t *msg)
{
	size_t off = 0, n = 0, rlen;

	while (off < wire_len) {
		rlen = bytes_be16(wire + off + 3);
		memcpy(msg + n, wire + off + TLS_RECORD_HEADER_LEN, rlen);
		n += rlen;
		off += TLS_RECORD_HEADER_LEN + rlen;
	}
}

/* Write rnd (NULL: zeros) where the client random sits, records and all. */
static void
scatter_random(uint8_t *wire, size_t wire_len, const uint8_t *rnd)
{
	size_t off = 0, n = 0, rlen, i, m;

	while (off < wire_len && n < HELLO_RANDOM_END) {
		rlen = bytes_be16(wire + off + 3);
		for (i = 0; i < rlen; i++) {
			m = n + i;
			if (m >= HELLO_RANDOM_OFF && m < HELLO_RANDOM_END)
				wire[off + TLS_RECORD_HEADER_LEN + i] =
				    rnd != NULL ? rnd[m - HELLO_RANDOM_OFF] : 0;
		}
		n += rlen;
		off += TLS_RECORD_HEADER_LEN + rlen;
	}
}

/* ---- ClientHello: the message ---- */

struct cur {
	const uint8_t *p;
	size_t len, off;
};

/* n bytes at the cursor, or err when fewer are left. */
static int
take(struct cur *c, size_t n, const uint8_t **out, int err)
{
	if (c->len - c->off < n)
		return err;
	*out = c->p + c->off;
	c->off += n;
	return 0;
}

/* The first TLS 1.3 suite offered; leading GREASE and 1.2 suites skipped. */
static int
pick_suite(const uint8_t *p, size_t n, uint16_t *out)
{
	size_t i;
	uint16_t v;

	for (i = 0; i + 1 < n; i += 2) {
		v = bytes_be16(p + i);
		if (!is_grease(v) && v >= TLS_SUITE_FIRST &&
		    v <= TLS_SUITE_LAST) {
			*out = v;
			return 0;
		}
	}
	return FAKETLS_ERR_CIPHER;
}

/* RFC 6066 3: a list of (name_type, name); exactly one host_name. */
static int
parse_sni(const uint8_t *d, size_t n, struct faketls_hello *h)
{
	struct cur c = { d, n, 0 };
	const uint8_t *p, *name;
	size_t len;
	int rc;

	if ((rc = take(&c, 2, &p, FAKETLS_ERR_SNI)) != 0)
		return rc;
	if (bytes_be16(p) != n - 2 || n == 2)
		return FAKETLS_ERR_SNI;
	while (c.off < c.len) {
		if ((rc = take(&c, 3, &p, FAKETLS_ERR_SNI)) != 0)
			return rc;
		len = bytes_be16(p + 1);
		if ((rc = take(&c, len, &name, FAKETLS_ERR_SNI)) != 0)
			return rc;
		if (p[0] != TLS_SNI_HOST_NAME)
			continue;
		if (h->sni_len != 0 || !valid_host(name, len))
			return FAKETLS_ERR_SNI;
		memcpy(h->sni, name, len);
		h->sni[len] = '\0';
		h->sni_len = len;
	}
	return h->sni_len != 0 ? 0 : FAKETLS_ERR_SNI;
}

/* Bit of a group we can answer, given the length of its share (0: none). */
static unsigned
offer_bit(uint16_t group, size_t share_len)
{
	if (group == TLS_GROUP_X25519 &&
	    (share_len == 0 || share_len == TLS_X25519_LEN))
		return FAKETLS_OFFER_X25519;
	if (group == FAKETLS_GROUP_X25519MLKEM768 &&
	    (share_len == 0 || share_len == FAKETLS_PQ_SHARE_LEN))
		return FAKETLS_OFFER_HYBRID;
	return 0;
}

/*
 * supported_groups (a u16 list) or key_share (a u16 list of group, u16
 * share): the groups we could answer. A malformed list offers nothing:
 * the reply then falls to the cover site, which answers it as it will.
 */
static unsigned
offered_groups(uint16_t type, const uint8_t *d, size_t n)
{
	struct cur c = { d, n, 0 };
	const uint8_t *p, *share;
	unsigned bits = 0;
	size_t len;

	if (take(&c, 2, &p, -1) != 0 || bytes_be16(p) != n - 2)
		return 0;
	while (c.off < c.len) {
		if (type == TLS_EXT_SUPPORTED_GROUPS) {
			if (take(&c, 2, &p, -1) != 0)
				return 0;
			bits |= offer_bit(bytes_be16(p), 0);
			continue;
		}
		if (take(&c, 4, &p, -1) != 0)
			return 0;
		len = bytes_be16(p + 2);
		if (len == 0 || take(&c, len, &share, -1) != 0)
			return 0;
		bits |= offer_bit(bytes_be16(p), len);
	}
	return bits;
}

/*
 * GREASE and unknown extensions are skipped; SNI at most once (none: sni
 * stays ""). No extension block at all is no TLS 1.3 client: it has to
 * offer supported_versions.
 */
static int
parse_extensions(struct cur *c, struct faketls_hello *h)
{
	const uint8_t *p, *data;
	unsigned listed = 0, shared = 0;
	size_t len;
	int rc, seen = 0;

	if (c->off == c->len)
		return FAKETLS_ERR_EXTENSIONS;
	if ((rc = take(c, 2, &p, FAKETLS_ERR_EXTENSIONS)) != 0)
		return rc;
	if (bytes_be16(p) != c->len - c->off)
		return FAKETLS_ERR_EXTENSIONS;
	while (c->off < c->len) {
		if ((rc = take(c, 4, &p, FAKETLS_ERR_EXTENSIONS)) != 0)
			return rc;
		len = bytes_be16(p + 2);
		if ((rc = take(c, len, &data, FAKETLS_ERR_EXTENSIONS)) != 0)
			return rc;
		if (bytes_be16(p) == TLS_EXT_SUPPORTED_GROUPS)
			listed = offered_groups(TLS_EXT_SUPPORTED_GROUPS, data,
			    len);
		else if (bytes_be16(p) == TLS_EXT_KEY_SHARE)
			shared = offered_groups(TLS_EXT_KEY_SHARE, data, len);
		if (bytes_be16(p) != TLS_EXT_SNI)
			continue;
		if (seen++)
			return FAKETLS_ERR_EXTENSIONS;
		if ((rc = parse_sni(data, len, h)) != 0)
			return rc;
	}
	h->groups = listed & shared;
	return 0;
}

static int
parse_message(const uint8_t *msg, size_t msg_len, struct faketls_hello *h)
{
	struct cur c = { msg, msg_len, TLS_HS_HEADER_LEN };
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = take(&c, 2, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	if (bytes_be16(p) != TLS_VERSION_12)
		return FAKETLS_ERR_VERSION;
	if ((rc = take(&c, TLS_RANDOM_LEN, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	memcpy(h->random, p, TLS_RANDOM_LEN);
	if ((rc = take(&c, 1, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	if ((n = p[0]) > TLS_SESSION_ID_MAX)
		return FAKETLS_ERR_SESSION_ID;
	if ((rc = take(&c, n, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	memcpy(h->session_id, p, n);
	h->session_id_len = n;
	if ((rc = take(&c, 2, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	if ((n = bytes_be16(p)) % 2 != 0)
		return FAKETLS_ERR_TRUNCATED;
	if ((rc = take(&c, n, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	if ((rc = pick_suite(p, n, &h->cipher_suite)) != 0)
		return rc;
	/* Compression methods: a non-empty list, not looked at. */
	if ((rc = take(&c, 1, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	if ((n = p[0]) == 0)
		return FAKETLS_ERR_TRUNCATED;
	if ((rc = take(&c, n, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	return parse_extensions(&c, h);
}

int
faketls_hello_parse(const uint8_t *buf, size_t len, struct faketls_hello *out)
{
	struct faketls_hello h;
	struct layout lay;
	uint8_t *msg;
	int rc;

	if (out == NULL || (buf == NULL && len > 0))
		return FAKETLS_ERR_ARG;
	if ((rc = walk_records(buf, len, &lay)) != 0)
		return rc;
	memset(&h, 0, sizeof(h));
	if (lay.nrecords == 1) {
		rc = parse_message(buf + TLS_RECORD_HEADER_LEN, lay.msg_len,
		    &h);
	} else {
		if ((msg = malloc(lay.msg_len)) == NULL)
			return FAKETLS_ERR_CRYPTO;
		gather(buf, lay.wire_len, msg);
		rc = parse_message(msg, lay.msg_len, &h);
		free(msg);
	}
	if (rc != 0)
		return rc;
	h.wire_len = lay.wire_len;
	h.msg_len = lay.msg_len;
	h.nrecords = lay.nrecords;
	*out = h;
	return 0;
}

/* ---- ClientHello: digest and time ---- */

static int
digest_matches(crypto_hmac *mac, const uint8_t *secret, const uint8_t *msg,
    size_t len, const uint8_t random[TLS_RANDOM_LEN], uint32_t *ts)
{
	uint8_t d[32];

	if (crypto_hmac_run(mac, secret, SECRET_LEN, msg, len, d) != 0)
		return FAKETLS_ERR_CRYPTO;
	if (!crypto_memeq(d, random, FAKETLS_DIGEST_LEN))
		return FAKETLS_ERR_DIGEST;
	*ts = bytes_le32(d + FAKETLS_DIGEST_LEN) ^
	    bytes_le32(random + FAKETLS_DIGEST_LEN);
	return 0;
}

int
faketls_hello_verify(const uint8_t *wire, const struct faketls_hello *h,
    const uint8_t (*secrets)[SECRET_LEN], size_t nsecrets,
    struct faketls_match *out)
{
	return faketls_hello_verify_from(wire, h, secrets, nsecrets, 0, out);
}

int
faketls_hello_verify_from(const uint8_t *wire,
    const struct faketls_hello *h, const uint8_t (*secrets)[SECRET_LEN],
    size_t nsecrets, size_t first, struct faketls_match *out)
{
	struct layout lay;
	crypto_hmac *mac = NULL;
	uint8_t *sent, *one = NULL;
	size_t one_len = 0, k, i;
	uint32_t ts = 0;
	int rc = FAKETLS_ERR_DIGEST;

	if (wire == NULL || h == NULL || out == NULL ||
	    (secrets == NULL && nsecrets > 0))
		return FAKETLS_ERR_ARG;
	/* h must describe these very bytes: it steers the copies below. */
	if (walk_records(wire, h->wire_len, &lay) != 0 ||
	    lay.wire_len != h->wire_len || lay.msg_len != h->msg_len ||
	    lay.nrecords != h->nrecords || h->msg_len < HELLO_RANDOM_END)
		return FAKETLS_ERR_ARG;
	if (h->nrecords > 1)
		one_len = TLS_RECORD_HEADER_LEN + h->msg_len;
	/* One HMAC context for every secret tried: no set-up per user. */
	if ((sent = malloc(h->wire_len + one_len)) == NULL ||
	    crypto_hmac_new(&mac) != 0) {
		free(sent);
		return FAKETLS_ERR_CRYPTO;
	}
	memcpy(sent, wire, h->wire_len);
	scatter_random(sent, h->wire_len, NULL);
	if (one_len > 0) {
		one = sent + h->wire_len;
		memcpy(one, wire, 3);
		bytes_put_be16(one + 3, h->msg_len);
		gather(sent, h->wire_len, one + TLS_RECORD_HEADER_LEN);
	}
	for (k = 0; k < nsecrets && rc == FAKETLS_ERR_DIGEST; k++) {
		i = secret_trial(k, first, nsecrets);
		rc = digest_matches(mac, secrets[i], sent, h->wire_len,
		    h->random, &ts);
		if (rc == FAKETLS_ERR_DIGEST && one != NULL)
			rc = digest_matches(mac, secrets[i], one, one_len,
			    h->random, &ts);
		if (rc == 0) {
			out->secret_index = i;
			out->ts = ts;
			out->trials = k + 1;
		}
	}
	crypto_hmac_free(mac);
	free(sent);
	return rc;
}

int
faketls_time_ok(int64_t now, uint32_t ts, uint32_t skew_past,
    uint32_t skew_future)
{
	/* Unsigned differences: no overflow whatever now is. */
	if (now >= (int64_t)ts)
		return (uint64_t)now - ts <= skew_past ? 0 : FAKETLS_ERR_TIME;
	return (uint64_t)ts - (uint64_t)now <= skew_future ? 0 :
	    FAKETLS_ERR_TIME;
}

uint32_t
faketls_skew_past(int64_t now, int64_t oldest, uint32_t skew_past,
    uint32_t skew_future)
{
	uint64_t age, horizon;

	if (oldest >= now)
		return skew_past;
	age = (uint64_t)now - (uint64_t)oldest;
	if (age <= (uint64_t)skew_future + 1)
		return skew_past;
	/* ts >= oldest + skew_future + 1, written as a distance from now. */
	horizon = age - skew_future - 1;
	if (horizon <= skew_past)
		return skew_past;
	return horizon > UINT32_MAX ? UINT32_MAX : (uint32_t)horizon;
}

/* ---- Writers (client hello, server reply, records) ---- */

struct wr {
	uint8_t *p;
	size_t len, cap;
	int err;
};

/* n bytes from src (NULL: zeros); running out of room is noted once. */
static void
w_bytes(struct wr *w, const void *src, size_t n)
{
	if (w->err || w->cap - w->len < n) {
		w->err = 1;
		return;
	}
	if (src != NULL)
		memcpy(w->p + w->len, src, n);
	else
		memset(w->p + w->len, 0, n);
	w->len += n;
}

static void
w_u8(struct wr *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void
w_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2];

	bytes_put_be16(b, v);
	w_bytes(w, b, 2);
}

/* Reserve a width-byte length field; w_close fills it in. */
static size_t
w_open(struct wr *w, size_t width)
{
	size_t at = w->len;

	w_bytes(w, NULL, width);
	return at;
}

static void
w_close(struct wr *w, size_t at, size_t width)
{
	size_t n, i;

	if (w->err)
		return;
	n = w->len - at - width;
	for (i = 0; i < width; i++)
		w->p[at + i] = (n >> (8 * (width - 1 - i))) & 0xff;
}

/* ---- Client hello builder ---- */

static void
grease_values(const uint8_t seed[FAKETLS_GREASE_SEEDS],
    uint16_t g[FAKETLS_GREASE_SEEDS])
{
	uint8_t b;
	size_t i;

	for (i = 0; i < FAKETLS_GREASE_SEEDS; i++) {
		b = (seed[i] & 0xf0) | 0x0a;
		/* The first and last GREASE extensions must differ. */
		if (i > 0 && b == (g[i - 1] & 0xff))
			b ^= 0x10;
		g[i] = (uint16_t)(b << 8 | b);
	}
}

/*
 * Extensions between SNI and key_share, in a browser's order:
 * extended_master_secret, renegotiation_info, supported_groups (written
 * between these two), ec_point_formats, session_ticket, ALPN h2 +
 * http/1.1, status_request, signature_algorithms,
 * signed_certificate_timestamp.
 */
static const uint8_t hello_mid_head[] = {
	0x00, 0x17, 0x00, 0x00,
	0xff, 0x01, 0x00, 0x01, 0x00,
};
static const uint8_t hello_mid_tail[] = {
	0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
	0x00, 0x23, 0x00, 0x00,
	0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 'h', '2',
	0x08, 'h', 't', 't', 'p', '/', '1', '.', '1',
	0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x0d, 0x00, 0x12, 0x00, 0x10, 0x04, 0x03, 0x08, 0x04,
	0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08, 0x06,
	0x06, 0x01,
	0x00, 0x12, 0x00, 0x00,
};

/* After the GREASE entry: TLS 1.3 and 1.2 suites, as TDLib offers them. */
static const uint8_t hello_suites[] = {
	0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f,
	0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x13,
	0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35,
};

static void
w_sni(struct wr *w, const char *domain, size_t dlen)
{
	size_t ext, list, name;

	w_u16(w, TLS_EXT_SNI);
	ext = w_open(w, 2);
	list = w_open(w, 2);
	w_u8(w, TLS_SNI_HOST_NAME);
	name = w_open(w, 2);
	w_bytes(w, domain, dlen);
	w_close(w, name, 2);
	w_close(w, list, 2);
	w_close(w, ext, 2);
}

/* GREASE, the hybrid when offered, x25519, P-256, P-384. */
static void
w_groups(struct wr *w, uint16_t grease, int pq)
{
	size_t ext, list;

	w_u16(w, TLS_EXT_SUPPORTED_GROUPS);
	ext = w_open(w, 2);
	list = w_open(w, 2);
	w_u16(w, grease);
	if (pq)
		w_u16(w, FAKETLS_GROUP_X25519MLKEM768);
	w_u16(w, TLS_GROUP_X25519);
	w_u16(w, TLS_GROUP_SECP256R1);
	w_u16(w, TLS_GROUP_SECP384R1);
	w_close(w, list, 2);
	w_close(w, ext, 2);
}

static void
w_client_key_share(struct wr *w, uint16_t grease, const uint8_t *key,
    const uint8_t *pq_share)
{
	size_t ext, list;

	w_u16(w, TLS_EXT_KEY_SHARE);
	ext = w_open(w, 2);
	list = w_open(w, 2);
	/* RFC 8701: a GREASE group with a one-byte share. */
	w_u16(w, grease);
	w_u16(w, 1);
	w_u8(w, 0);
	if (pq_share != NULL) {
		w_u16(w, FAKETLS_GROUP_X25519MLKEM768);
		w_u16(w, FAKETLS_PQ_SHARE_LEN);
		w_bytes(w, pq_share, FAKETLS_PQ_SHARE_LEN);
	}
	w_u16(w, TLS_GROUP_X25519);
	w_u16(w, TLS_X25519_LEN);
	w_bytes(w, key, TLS_X25519_LEN);
	w_close(w, list, 2);
	w_close(w, ext, 2);
}

static void
w_client_versions(struct wr *w, uint16_t grease)
{
	static const uint16_t v[] = { 0x0304, 0x0303, 0x0302, 0x0301 };
	size_t ext, list, i;

	w_u16(w, TLS_EXT_SUPPORTED_VERSIONS);
	ext = w_open(w, 2);
	list = w_open(w, 1);
	w_u16(w, grease);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		w_u16(w, v[i]);
	w_close(w, list, 1);
	w_close(w, ext, 2);
}

/*
 * Chrome's extras: a GREASE ECH (outer, HKDF-SHA256 and AES-128-GCM, a
 * 32-byte enc and a 144-byte payload) and ALPS for h2.
 */
static void
w_browser_exts(struct wr *w, const struct faketls_build *b)
{
	static const uint8_t ech_head[] = { 0x00, 0x00, 0x01, 0x00, 0x01, 0x00 };
	static const uint8_t alps_h2[] = { 0x00, 0x03, 0x02, 'h', '2' };
	size_t ext, field;

	if (b->ech) {
		w_u16(w, FAKETLS_EXT_ECH);
		ext = w_open(w, 2);
		w_bytes(w, ech_head, sizeof(ech_head));
		field = w_open(w, 2);
		w_bytes(w, NULL, TLS_X25519_LEN);
		w_close(w, field, 2);
		field = w_open(w, 2);
		w_bytes(w, NULL, 144);
		w_close(w, field, 2);
		w_close(w, ext, 2);
	}
	if (b->alps != 0) {
		w_u16(w, b->alps);
		w_u16(w, sizeof(alps_h2));
		w_bytes(w, alps_h2, sizeof(alps_h2));
	}
}

/*
 * Pad the message that started at hs to b->msg_len bytes, or the record
 * like TDLib: a hello shorter than 513 bytes goes up to 517.
 */
static void
w_padding(struct wr *w, const struct faketls_build *b, size_t hs)
{
	size_t have = w->len - hs + 1, pad;	/* the type byte before hs */

	if (b->msg_len != 0) {
		if (b->msg_len == have)
			return;
		if (b->msg_len < have + 4) {
			w->err = 1;
			return;
		}
		pad = b->msg_len - have - 4;
	} else if (w->len + 4 < FAKETLS_TDLIB_HELLO_LEN) {
		pad = FAKETLS_TDLIB_HELLO_LEN - w->len - 4;
	} else {
		return;
	}
	w_u16(w, TLS_EXT_PADDING);
	w_u16(w, (uint16_t)pad);
	w_bytes(w, NULL, pad);
}

/* One record: header, ClientHello with a zero random, padded. */
static void
w_client_hello(struct wr *w, const struct faketls_build *b,
    const struct faketls_client_rand *rnd)
{
	static const uint8_t tail_exts[] = {
		0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,	/* psk_kex_modes */
		0x00, 0x1b, 0x00, 0x03, 0x02, 0x00, 0x02, /* compress_cert */
	};
	uint16_t g[FAKETLS_GREASE_SEEDS];
	size_t rec, hs, list, exts;

	grease_values(rnd->grease, g);
	w_u8(w, TLS_RECORD_HANDSHAKE);
	w_u16(w, b->record_version != 0 ? b->record_version : TLS_VERSION_10);
	rec = w_open(w, 2);
	w_u8(w, TLS_HS_CLIENT_HELLO);
	hs = w_open(w, 3);
	w_u16(w, TLS_VERSION_12);
	w_bytes(w, NULL, TLS_RANDOM_LEN);
	w_u8(w, TLS_SESSION_ID_MAX);
	w_bytes(w, rnd->session_id, TLS_SESSION_ID_MAX);
	list = w_open(w, 2);
	w_u16(w, g[G_SUITE]);
	w_bytes(w, hello_suites, sizeof(hello_suites));
	w_close(w, list, 2);
	w_u8(w, 1);		/* compression: null only */
	w_u8(w, 0);
	exts = w_open(w, 2);
	w_u16(w, g[G_EXT_FIRST]);
	w_u16(w, 0);
	if (b->domain != NULL)
		w_sni(w, b->domain, strlen(b->domain));
	w_bytes(w, hello_mid_head, sizeof(hello_mid_head));
	w_groups(w, g[G_GROUP], b->pq_share != NULL);
	w_bytes(w, hello_mid_tail, sizeof(hello_mid_tail));
	w_client_key_share(w, g[G_GROUP], rnd->key_share, b->pq_share);
	w_bytes(w, tail_exts, sizeof(tail_exts));
	w_client_versions(w, g[G_VERSION]);
	w_browser_exts(w, b);
	w_u16(w, g[G_EXT_LAST]);
	w_u16(w, 1);
	w_u8(w, 0);
	w_padding(w, b, hs);
	w_close(w, exts, 2);
	w_close(w, hs, 3);
	w_close(w, rec, 2);
}

/*
 * FIPS 203's encapsulation key check wants every 12-bit coefficient below
 * q: fold the ones above into range so that any random bytes make a key a
 * server accepts (and encapsulates to, for nobody to decapsulate).
 */
static void
mlkem_fold(uint8_t *ek)
{
	size_t i;
	unsigned a, b;

	for (i = 0; i < FAKETLS_MLKEM768_T_LEN; i += 3) {
		a = ek[i] | (unsigned)(ek[i + 1] & 0x0f) << 8;
		b = (unsigned)ek[i + 1] >> 4 | (unsigned)ek[i + 2] << 4;
		a = a >= MLKEM_Q ? a - MLKEM_Q : a;
		b = b >= MLKEM_Q ? b - MLKEM_Q : b;
		ek[i] = (uint8_t)a;
		ek[i + 1] = (uint8_t)(a >> 8 | (b & 0x0f) << 4);
		ek[i + 2] = (uint8_t)(b >> 4);
	}
}

/*
 * Cut the record at off in out[0..*len) after split bytes of it: a second
 * record with the same type and version takes the rest.
 */
static int
split_record(uint8_t *out, size_t cap, size_t *len, size_t off, size_t split)
{
	size_t rlen = bytes_be16(out + off + 3);
	uint8_t *second = out + off + TLS_RECORD_HEADER_LEN + split;

	if (split == 0 || split >= rlen || cap - *len < TLS_RECORD_HEADER_LEN)
		return FAKETLS_ERR_ARG;
	memmove(second + TLS_RECORD_HEADER_LEN, second,
	    (size_t)(out + *len - second));
	memcpy(second, out + off, 3);
	bytes_put_be16(second + 3, rlen - split);
	bytes_put_be16(out + off + 3, split);
	*len += TLS_RECORD_HEADER_LEN;
	return 0;
}

/* b's cuts, then whatever a record cannot hold goes on in the next one. */
static int
cut_records(const struct faketls_build *b, uint8_t *out, size_t cap,
    size_t *len)
{
	size_t off = 0, i;
	int rc;

	for (i = 0; i < FAKETLS_BUILD_CUTS && b->cuts[i] != 0; i++) {
		if ((rc = split_record(out, cap, len, off, b->cuts[i])) != 0)
			return rc;
		off += TLS_RECORD_HEADER_LEN + b->cuts[i];
	}
	while (bytes_be16(out + off + 3) > TLS_PLAINTEXT_MAX) {
		if ((rc = split_record(out, cap, len, off,
		    TLS_PLAINTEXT_MAX)) != 0)
			return rc;
		off += TLS_RECORD_HEADER_LEN + TLS_PLAINTEXT_MAX;
	}
	return 0;
}

int
faketls_hello_build_with(const uint8_t secret[SECRET_LEN],
    const struct faketls_build *b, uint32_t ts,
    const struct faketls_client_rand *rnd, uint8_t *out, size_t cap,
    size_t *out_len)
{
	struct wr w = { out, 0, cap, 0 };
	uint8_t d[32];
	int rc;

	if (secret == NULL || b == NULL || rnd == NULL || out == NULL ||
	    out_len == NULL || (b->record_version != 0 &&
	    b->record_version != TLS_VERSION_10 &&
	    b->record_version != TLS_VERSION_12) ||
	    b->msg_len > FAKETLS_HELLO_MSG_MAX)
		return FAKETLS_ERR_ARG;
	if (b->domain != NULL &&
	    !valid_host((const uint8_t *)b->domain, strlen(b->domain)))
		return FAKETLS_ERR_ARG;
	if (b->pq_share != NULL)
		mlkem_fold(b->pq_share);
	w_client_hello(&w, b, rnd);
	if (w.err)
		return FAKETLS_ERR_ARG;
	if ((rc = cut_records(b, out, cap, &w.len)) != 0)
		return rc;
	/* The random is still zero: sign the records as they will be sent. */
	if (crypto_hmac_sha256(secret, SECRET_LEN, out, w.len, d) != 0)
		return FAKETLS_ERR_CRYPTO;
	bytes_put_le32(d + FAKETLS_DIGEST_LEN,
	    bytes_le32(d + FAKETLS_DIGEST_LEN) ^ ts);
	scatter_random(out, w.len, d);
	*out_len = w.len;
	return 0;
}

int
faketls_hello_build(const uint8_t secret[SECRET_LEN], const char *domain,
    uint32_t ts, const struct faketls_client_rand *rnd, size_t split,
    uint8_t *out, size_t cap, size_t *out_len)
{
	struct faketls_build b = { .domain = domain, .cuts = { split } };

	if (domain == NULL)
		return FAKETLS_ERR_ARG;
	return faketls_hello_build_with(secret, &b, ts, rnd, out, cap,
	    out_len);
}

int
faketls_hello_build_pq(const uint8_t secret[SECRET_LEN], const char *domain,
    uint32_t ts, const struct faketls_client_rand *rnd,
    uint8_t pq_share[FAKETLS_PQ_SHARE_LEN], uint8_t *out, size_t cap,
    size_t *out_len)
{
	struct faketls_build b = { .domain = domain, .pq_share = pq_share };

	if (domain == NULL || pq_share == NULL)
		return FAKETLS_ERR_ARG;
	return faketls_hello_build_with(secret, &b, ts, rnd, out, cap,
	    out_len);
}

/* ---- Server reply ---- */

static int
reply_digest(const uint8_t *secret, const uint8_t client_random[TLS_RANDOM_LEN],
    const uint8_t *reply, size_t len, uint8_t d[32])
{
	uint8_t *m;
	int rc = 0;

	if ((m = malloc(TLS_RANDOM_LEN + len)) == NULL)
		return FAKETLS_ERR_CRYPTO;
	memcpy(m, client_random, TLS_RANDOM_LEN);
	memcpy(m + TLS_RANDOM_LEN, reply, len);
	memset(m + TLS_RANDOM_LEN + TLS_RANDOM_OFF, 0, TLS_RANDOM_LEN);
	if (crypto_hmac_sha256(secret, SECRET_LEN, m, TLS_RANDOM_LEN + len,
	    d) != 0)
		rc = FAKETLS_ERR_CRYPTO;
	free(m);
	return rc;
}

int
faketls_reply_group(const struct faketls_hello *h, uint16_t cover_pick,
    uint16_t *group)
{
	if (h == NULL || group == NULL)
		return FAKETLS_ERR_ARG;
	if (cover_pick == FAKETLS_GROUP_X25519MLKEM768 &&
	    (h->groups & FAKETLS_OFFER_HYBRID))
		*group = FAKETLS_GROUP_X25519MLKEM768;
	else if (h->groups & FAKETLS_OFFER_X25519)
		*group = TLS_GROUP_X25519;
	else
		return FAKETLS_ERR_GROUP;
	return 0;
}

/* The reply's group and the length of its share. */
static int
reply_share(const struct faketls_reply *rp, uint16_t *group, size_t *len)
{
	*group = rp->group != 0 ? rp->group : TLS_GROUP_X25519;
	if (*group == TLS_GROUP_X25519)
		*len = TLS_X25519_LEN;
	else if (*group == FAKETLS_GROUP_X25519MLKEM768)
		*len = FAKETLS_PQ_REPLY_SHARE_LEN;
	else
		return FAKETLS_ERR_ARG;
	return 0;
}

int
faketls_reply_len(const struct faketls_hello *h,
    const struct faketls_reply *rp, size_t *len)
{
	size_t n, i, share;
	uint16_t group;

	if (h == NULL || rp == NULL || len == NULL || rp->key_share == NULL ||
	    rp->app_sizes == NULL || rp->napp == 0 ||
	    h->session_id_len > TLS_SESSION_ID_MAX ||
	    reply_share(rp, &group, &share) != 0)
		return FAKETLS_ERR_ARG;
	n = TLS_RECORD_HEADER_LEN + SH_FIXED_LEN + h->session_id_len +
	    EXT_KEY_SHARE_HEAD + share + EXT_VERSIONS_LEN + FAKETLS_CCS_LEN;
	for (i = 0; i < rp->napp; i++) {
		if (rp->app_sizes[i] == 0 ||
		    rp->app_sizes[i] > TLS_CIPHERTEXT_MAX ||
		    n > SIZE_MAX - TLS_RECORD_HEADER_LEN - rp->app_sizes[i])
			return FAKETLS_ERR_ARG;
		n += TLS_RECORD_HEADER_LEN + rp->app_sizes[i];
	}
	*len = n;
	return 0;
}

static void
w_server_key_share(struct wr *w, const struct faketls_reply *rp)
{
	uint16_t group;
	size_t len;

	if (reply_share(rp, &group, &len) != 0) {
		w->err = 1;
		return;
	}
	w_u16(w, TLS_EXT_KEY_SHARE);
	w_u16(w, (uint16_t)(4 + len));
	w_u16(w, group);
	w_u16(w, (uint16_t)len);
	w_bytes(w, rp->key_share, len);
}

static void
w_server_versions(struct wr *w)
{
	w_u16(w, TLS_EXT_SUPPORTED_VERSIONS);
	w_u16(w, 2);
	w_u16(w, TLS_VERSION_13);
}

static void
w_server_hello(struct wr *w, const struct faketls_hello *h,
    const struct faketls_reply *rp)
{
	size_t rec, hs, exts;

	w_u8(w, TLS_RECORD_HANDSHAKE);
	w_u16(w, TLS_VERSION_12);
	rec = w_open(w, 2);
	w_u8(w, TLS_HS_SERVER_HELLO);
	hs = w_open(w, 3);
	w_u16(w, TLS_VERSION_12);
	w_bytes(w, NULL, TLS_RANDOM_LEN);
	w_u8(w, (uint8_t)h->session_id_len);
	w_bytes(w, h->session_id, h->session_id_len);
	w_u16(w, h->cipher_suite);
	w_u8(w, 0);		/* compression */
	exts = w_open(w, 2);
	if (rp->versions_first) {
		w_server_versions(w);
		w_server_key_share(w, rp);
	} else {
		w_server_key_share(w, rp);
		w_server_versions(w);
	}
	w_close(w, exts, 2);
	w_close(w, hs, 3);
	w_close(w, rec, 2);
}

int
faketls_reply_build(const uint8_t secret[SECRET_LEN],
    const struct faketls_hello *h, const struct faketls_reply *rp,
    uint8_t *out, size_t cap, size_t *out_len)
{
	struct wr w = { out, 0, cap, 0 };
	const uint8_t *fill;
	uint8_t d[32];
	size_t total, i;
	int rc;

	if (secret == NULL || out == NULL || out_len == NULL)
		return FAKETLS_ERR_ARG;
	if ((rc = faketls_reply_len(h, rp, &total)) != 0)
		return rc;
	if (total > cap || rp->app_fill == NULL)
		return FAKETLS_ERR_ARG;
	w_server_hello(&w, h, rp);
	w_bytes(&w, FAKETLS_CCS, FAKETLS_CCS_LEN);
	for (i = 0, fill = rp->app_fill; i < rp->napp; i++) {
		w_u8(&w, TLS_RECORD_APPDATA);
		w_u16(&w, TLS_VERSION_12);
		w_u16(&w, (uint16_t)rp->app_sizes[i]);
		w_bytes(&w, fill, rp->app_sizes[i]);
		fill += rp->app_sizes[i];
	}
	if (w.err || w.len != total)
		return FAKETLS_ERR_ARG;
	if ((rc = reply_digest(secret, h->random, out, total, d)) != 0)
		return rc;
	memcpy(out + TLS_RANDOM_OFF, d, TLS_RANDOM_LEN);
	*out_len = total;
	return 0;
}

/*
 * The bytes of buf from off must start with prefix (plen bytes) and then a
 * u16 BE length; *next is where the record after it starts.
 */
static int
expect_record(const uint8_t *buf, size_t len, size_t off, const char *prefix,
    size_t plen, size_t *next)
{
	size_t avail = len - off;

	if (memcmp(buf + off, prefix, avail < plen ? avail : plen) != 0)
		return FAKETLS_ERR_RECORD;
	if (avail < plen + 2)
		return FAKETLS_NEED_MORE;
	*next = off + plen + 2 + bytes_be16(buf + off + plen);
	return *next > len ? FAKETLS_NEED_MORE : 0;
}

int
faketls_reply_verify(const uint8_t secret[SECRET_LEN],
    const uint8_t client_random[TLS_RANDOM_LEN], size_t napp,
    const uint8_t *buf, size_t len, size_t *used)
{
	uint8_t d[32];
	size_t off, i;
	int rc;

	if (secret == NULL || client_random == NULL || used == NULL ||
	    napp == 0 || (buf == NULL && len > 0))
		return FAKETLS_ERR_ARG;
	if ((rc = expect_record(buf, len, 0, "\x16\x03\x03", 3, &off)) != 0)
		return rc;
	if (off < TLS_RANDOM_OFF + TLS_RANDOM_LEN)
		return FAKETLS_ERR_RECORD;
	/* TDLib reads the CCS and the next header as one fixed prefix. */
	if ((rc = expect_record(buf, len, off, FAKETLS_CCS "\x17\x03\x03",
	    FAKETLS_CCS_LEN + 3, &off)) != 0)
		return rc;
	for (i = 1; i < napp; i++)
		if ((rc = expect_record(buf, len, off, "\x17\x03\x03", 3,
		    &off)) != 0)
			return rc;
	if ((rc = reply_digest(secret, client_random, buf, off, d)) != 0)
		return rc;
	if (!crypto_memeq(d, buf + TLS_RANDOM_OFF, TLS_RANDOM_LEN))
		return FAKETLS_ERR_DIGEST;
	*used = off;
	return 0;
}

/* ---- The cover site's ServerHello ---- */

int
faketls_server_hello_info(const uint8_t *msg, size_t len,
    struct faketls_server_info *out)
{
	struct cur c = { msg, len, TLS_HS_HEADER_LEN };
	const uint8_t *p;
	size_t sid, l, n = 0, sv = 0, ks = 0;
	uint16_t t;
	int rc;

	if (out == NULL || (msg == NULL && len > 0))
		return FAKETLS_ERR_ARG;
	memset(out, 0, sizeof(*out));
	if (len < TLS_HS_HEADER_LEN || msg[0] != TLS_HS_SERVER_HELLO ||
	    bytes_be24(msg + 1) != len - TLS_HS_HEADER_LEN)
		return FAKETLS_ERR_RECORD;
	/* version, random, session id length */
	if ((rc = take(&c, 2 + TLS_RANDOM_LEN + 1, &p,
	    FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	out->hrr = memcmp(p + 2, TLS_HRR_RANDOM, TLS_RANDOM_LEN) == 0;
	if ((sid = p[2 + TLS_RANDOM_LEN]) > TLS_SESSION_ID_MAX)
		return FAKETLS_ERR_SESSION_ID;
	/* session id, suite, compression, extensions length */
	if ((rc = take(&c, sid + 2 + 1 + 2, &p, FAKETLS_ERR_TRUNCATED)) != 0)
		return rc;
	if (bytes_be16(p + sid + 3) != len - c.off)
		return FAKETLS_ERR_EXTENSIONS;
	while (c.off < len) {
		if ((rc = take(&c, 4, &p, FAKETLS_ERR_EXTENSIONS)) != 0)
			return rc;
		t = bytes_be16(p);
		l = bytes_be16(p + 2);
		if ((rc = take(&c, l, &p, FAKETLS_ERR_EXTENSIONS)) != 0)
			return rc;
		if (t == TLS_EXT_SUPPORTED_VERSIONS && l == 2 &&
		    bytes_be16(p) == TLS_VERSION_13)
			sv = ++n;
		else if (t == TLS_EXT_KEY_SHARE && l >= 2) {
			/* A share follows the group, except in a HRR. */
			out->group = bytes_be16(p);
			out->share_len = l >= 4 && bytes_be16(p + 2) == l - 4 ?
			    l - 4 : 0;
			ks = ++n;
		}
	}
	if (sv == 0 || ks == 0)
		return FAKETLS_ERR_VERSION;
	out->versions_first = sv < ks;
	return 0;
}

int
faketls_server_hello_parse(const uint8_t *msg, size_t len,
    int *versions_first)
{
	struct faketls_server_info si;
	int rc;

	if (versions_first == NULL)
		return FAKETLS_ERR_ARG;
	if ((rc = faketls_server_hello_info(msg, len, &si)) != 0)
		return rc;
	if (si.hrr)
		return FAKETLS_ERR_HRR;
	*versions_first = si.versions_first;
	return 0;
}

/* ---- Records after the handshake ---- */

void
faketls_reader_init(struct faketls_reader *r)
{
	memset(r, 0, sizeof(*r));
}

static int
start_record(struct faketls_reader *r)
{
	size_t len = bytes_be16(r->hdr + 3);

	if (bytes_be16(r->hdr + 1) != TLS_VERSION_12)
		return FAKETLS_ERR_VERSION;
	switch (r->hdr[0]) {
	case TLS_RECORD_CCS:
		/* Middlebox compatibility: one, before any data, 1 byte. */
		if (r->ccs_seen || r->data_seen || len != 1)
			return FAKETLS_ERR_RECORD;
		r->ccs_seen = 1;
		break;
	case TLS_RECORD_APPDATA:
		if (len > TLS_CIPHERTEXT_MAX)
			return FAKETLS_ERR_OVERSIZE;
		r->data_seen = 1;
		break;
	default:
		return FAKETLS_ERR_RECORD;
	}
	r->type = r->hdr[0];
	r->left = len;
	r->hdr_have = 0;
	return 0;
}

int
faketls_reader_next(struct faketls_reader *r, const uint8_t *in, size_t len,
    size_t *used, const uint8_t **payload, size_t *payload_len)
{
	size_t n;
	int rc;

	if (r == NULL || used == NULL || payload == NULL ||
	    payload_len == NULL || (in == NULL && len > 0))
		return FAKETLS_ERR_ARG;
	*used = 0;
	*payload = NULL;
	*payload_len = 0;
	if (r->err != 0)
		return r->err;
	if (len == 0)
		return 0;
	if (r->left > 0) {
		n = len < r->left ? len : r->left;
		if (r->type == TLS_RECORD_CCS && in[0] != 0x01)
			return r->err = FAKETLS_ERR_RECORD;
		if (r->type == TLS_RECORD_APPDATA) {
			*payload = in;
			*payload_len = n;
		}
		r->left -= n;
		*used = n;
		return 0;
	}
	n = TLS_RECORD_HEADER_LEN - r->hdr_have;
	if (n > len)
		n = len;
	memcpy(r->hdr + r->hdr_have, in, n);
	r->hdr_have += n;
	if (r->hdr_have == TLS_RECORD_HEADER_LEN &&
	    (rc = start_record(r)) != 0)
		return r->err = rc;
	*used = n;
	return 0;
}

int
faketls_reader_unwrap(struct faketls_reader *r, uint8_t *buf, size_t len,
    size_t *out_len)
{
	const uint8_t *p;
	size_t in = 0, out = 0, used, n;
	int rc;

	if (r == NULL || out_len == NULL || (buf == NULL && len > 0))
		return FAKETLS_ERR_ARG;
	while (in < len) {
		rc = faketls_reader_next(r, buf + in, len - in, &used, &p, &n);
		if (rc != 0)
			return rc;
		if (n > 0)
			memmove(buf + out, p, n);
		out += n;
		in += used;
	}
	*out_len = out;
	return 0;
}

int
faketls_wrap_len(size_t len, size_t max_payload, size_t *out_len)
{
	size_t nrec;

	if (out_len == NULL || max_payload == 0 ||
	    max_payload > TLS_CIPHERTEXT_MAX)
		return FAKETLS_ERR_ARG;
	nrec = len / max_payload + (len % max_payload != 0);
	if (len > SIZE_MAX - nrec * TLS_RECORD_HEADER_LEN)
		return FAKETLS_ERR_ARG;
	*out_len = len + nrec * TLS_RECORD_HEADER_LEN;
	return 0;
}

int
faketls_wrap(const uint8_t *in, size_t len, size_t max_payload, uint8_t *out,
    size_t cap, size_t *out_len)
{
	size_t total, off = 0, n;
	int rc;

	if (out_len == NULL || (in == NULL && len > 0))
		return FAKETLS_ERR_ARG;
	if ((rc = faketls_wrap_len(len, max_payload, &total)) != 0)
		return rc;
	if (total > cap || (out == NULL && total > 0))
		return FAKETLS_ERR_ARG;
	while (len > 0) {
		n = len < max_payload ? len : max_payload;
		out[off] = TLS_RECORD_APPDATA;
		bytes_put_be16(out + off + 1, TLS_VERSION_12);
		bytes_put_be16(out + off + 3, n);
		memcpy(out + off + TLS_RECORD_HEADER_LEN, in, n);
		off += TLS_RECORD_HEADER_LEN + n;
		in += n;
		len -= n;
	}
	*out_len = off;
	return 0;
}

size_t
faketls_drs_size(uint64_t sent, uint64_t idle_ms)
{
	if (idle_ms >= FAKETLS_DRS_IDLE_MS || sent < FAKETLS_DRS_BOOST)
		return FAKETLS_DRS_SMALL;
	return FAKETLS_DRS_LARGE;
}
