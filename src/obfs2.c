/*
 * obfuscated2 header (doc/PROTOCOL.md 1.1-1.5). Both ends derive two key/iv
 * pairs from the 48 seed bytes at 8..55: the forward seed keys the
 * builder->parser direction, the byte-reversed seed the other one.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "crypto.h"
#include "obfs2.h"
#include "secret.h"

static void
reverse_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[n - 1 - i];
}

/* doc/PROTOCOL.md 1.2: key = SHA256(seed[0:32] || secret), or the raw seed. */
static int
derive(const uint8_t seed[OBFS2_SEED_LEN], const uint8_t *secret,
    uint8_t key[OBFS2_KEY_LEN], uint8_t iv[OBFS2_IV_LEN])
{
	if (secret != NULL) {
		if (crypto_sha256(seed, OBFS2_KEY_LEN, secret, SECRET_LEN,
		    key) != 0)
			return OBFS2_ERR_CRYPTO;
	} else
		memcpy(key, seed, OBFS2_KEY_LEN);
	memcpy(iv, seed + OBFS2_KEY_LEN, OBFS2_IV_LEN);
	return 0;
}

/* fkey/fiv: the direction keyed by the forward seed (builder -> parser). */
static int
derive_pair(const uint8_t hdr[OBFS2_HEADER_LEN], const uint8_t *secret,
    uint8_t *fkey, uint8_t *fiv, uint8_t *bkey, uint8_t *biv)
{
	uint8_t rev[OBFS2_SEED_LEN];
	int rc;

	reverse_copy(rev, hdr + OBFS2_KEY_OFF, OBFS2_SEED_LEN);
	rc = derive(hdr + OBFS2_KEY_OFF, secret, fkey, fiv);
	if (rc == 0)
		rc = derive(rev, secret, bkey, biv);
	OPENSSL_cleanse(rev, sizeof(rev));
	return rc;
}

/* Encrypt all 64 bytes from keystream offset 0, as both ends do. */
static int
header_crypt(const uint8_t key[OBFS2_KEY_LEN], const uint8_t iv[OBFS2_IV_LEN],
    const uint8_t in[OBFS2_HEADER_LEN], uint8_t out[OBFS2_HEADER_LEN])
{
	crypto_ctr *c;
	int rc;

	if (crypto_ctr_new(&c, key, iv) != 0)
		return OBFS2_ERR_CRYPTO;
	rc = crypto_ctr_apply(c, in, out, OBFS2_HEADER_LEN) == 0 ? 0 :
	    OBFS2_ERR_CRYPTO;
	crypto_ctr_free(c);
	return rc;
}

/*
 * 1 on a valid tag (filling out), 0 on none, or an error. Each secret
 * costs one digest and a new key in *c, the context every secret tried
 * shares (NULL: made here); the write key only for the one that matches.
 */
static int
try_secret(crypto_ctr **c, const uint8_t hdr[OBFS2_HEADER_LEN],
    const uint8_t *secret, struct obfs2_result *out)
{
	struct obfs2_keys k;
	uint8_t plain[OBFS2_HEADER_LEN], rev[OBFS2_SEED_LEN];
	uint32_t tag;
	int rc;

	if ((rc = derive(hdr + OBFS2_KEY_OFF, secret, k.rkey, k.riv)) != 0)
		goto done;
	rc = OBFS2_ERR_CRYPTO;
	if ((*c == NULL ? crypto_ctr_new(c, k.rkey, k.riv) :
	    crypto_ctr_rekey(*c, k.rkey, k.riv)) != 0 ||
	    crypto_ctr_apply(*c, hdr, plain, OBFS2_HEADER_LEN) != 0)
		goto done;
	rc = 0;
	tag = bytes_le32(plain + OBFS2_TAG_OFF);
	if (!obfs2_tag_valid(tag))
		goto done;
	reverse_copy(rev, hdr + OBFS2_KEY_OFF, OBFS2_SEED_LEN);
	if ((rc = derive(rev, secret, k.wkey, k.wiv)) != 0)
		goto done;
	out->tag = tag;
	out->dc = (int16_t)(uint16_t)(plain[OBFS2_DC_OFF] |
	    plain[OBFS2_DC_OFF + 1] << 8);
	out->keys = k;
	rc = 1;
done:
	OPENSSL_cleanse(&k, sizeof(k));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(rev, sizeof(rev));
	return rc;
}

int
obfs2_parse(const uint8_t hdr[OBFS2_HEADER_LEN],
    const uint8_t (*secrets)[SECRET_LEN], size_t nsecrets,
    struct obfs2_result *out)
{
	return obfs2_parse_from(hdr, secrets, nsecrets, 0, out);
}

int
obfs2_parse_from(const uint8_t hdr[OBFS2_HEADER_LEN],
    const uint8_t (*secrets)[SECRET_LEN], size_t nsecrets, size_t first,
    struct obfs2_result *out)
{
	crypto_ctr *c = NULL;
	size_t k, i;
	int rc = 0;

	if (hdr == NULL || out == NULL || (nsecrets > 0 && secrets == NULL))
		return OBFS2_ERR_ARG;
	if (nsecrets == 0) {
		if ((rc = try_secret(&c, hdr, NULL, out)) == 1) {
			out->secret_index = -1;
			out->trials = 1;
		}
	}
	for (k = 0; k < nsecrets && rc == 0; k++) {
		i = secret_trial(k, first, nsecrets);
		if ((rc = try_secret(&c, hdr, secrets[i], out)) == 1)
			out->secret_index = (int)i;
	}
	/* Also on a miss: the cost of a header that matched no one. */
	if (nsecrets > 0)
		out->trials = k;
	crypto_ctr_free(c);
	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : OBFS2_ERR_NOMATCH;
}

int
obfs2_build(const uint8_t rnd[OBFS2_HEADER_LEN], uint32_t tag, int16_t dc,
    const uint8_t *secret, const uint8_t *fast_key, const uint8_t *fast_iv,
    uint8_t wire[OBFS2_HEADER_LEN], struct obfs2_keys *keys)
{
	uint8_t h[OBFS2_HEADER_LEN], enc[OBFS2_HEADER_LEN];
	uint8_t fast[OBFS2_SEED_LEN];
	struct obfs2_keys k;
	int fastmode = fast_key != NULL || fast_iv != NULL;
	int rc;

	if (rnd == NULL || wire == NULL || keys == NULL ||
	    !obfs2_tag_valid(tag) ||
	    (fastmode && (fast_key == NULL || fast_iv == NULL || secret != NULL)))
		return OBFS2_ERR_ARG;
	memcpy(h, rnd, sizeof(h));
	if (fastmode) {
		/* Reversed, so that our read seed is fast_key || fast_iv. */
		memcpy(fast, fast_key, OBFS2_KEY_LEN);
		memcpy(fast + OBFS2_KEY_LEN, fast_iv, OBFS2_IV_LEN);
		reverse_copy(h + OBFS2_KEY_OFF, fast, OBFS2_SEED_LEN);
		OPENSSL_cleanse(fast, sizeof(fast));
	}
	rc = OBFS2_ERR_RETRY;
	if (obfs2_header_forbidden(h))
		goto done;
	bytes_put_le32(h + OBFS2_TAG_OFF, tag);
	h[OBFS2_DC_OFF] = (uint16_t)dc & 0xff;
	h[OBFS2_DC_OFF + 1] = ((uint16_t)dc >> 8) & 0xff;
	if ((rc = derive_pair(h, secret, k.wkey, k.wiv, k.rkey, k.riv)) != 0)
		goto done;
	if ((rc = header_crypt(k.wkey, k.wiv, h, enc)) != 0)
		goto done;
	memcpy(wire, h, OBFS2_TAG_OFF);
	memcpy(wire + OBFS2_TAG_OFF, enc + OBFS2_TAG_OFF,
	    OBFS2_HEADER_LEN - OBFS2_TAG_OFF);
	*keys = k;
done:
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

int
obfs2_header_forbidden(const uint8_t hdr[OBFS2_HEADER_LEN])
{
	uint32_t first = bytes_le32(hdr);

	return hdr[0] == OBFS2_BAD_FIRST_BYTE ||
	    first == OBFS2_BAD_HEAD || first == OBFS2_BAD_POST ||
	    first == OBFS2_BAD_GET || first == OBFS2_BAD_OPTI ||
	    first == PROTO_TAG_INTERMEDIATE || first == PROTO_TAG_PADDED ||
	    first == OBFS2_BAD_TLS ||
	    bytes_le32(hdr + 4) == 0;
}

int
obfs2_tag_valid(uint32_t tag)
{
	return tag == PROTO_TAG_ABRIDGED || tag == PROTO_TAG_INTERMEDIATE ||
	    tag == PROTO_TAG_PADDED;
}
