/*
 * Every cipher, hash and random byte goes through libcrypto here, so the rest
 * of the daemon never touches OpenSSL types.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#endif

#include "crypto.h"

/* EVP takes int lengths; larger buffers are fed in pieces of this size. */
#define CRYPTO_CHUNK		(1 << 30)
/* Stack buffer of zeros encrypted to advance the keystream. */
#define CRYPTO_SKIP_CHUNK	256

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
/*
 * Fetched once: with OpenSSL 3 each init by EVP_aes_256_ctr() or digest by
 * EVP_sha256() looks the algorithm up again under the provider store's
 * lock, and a handshake does six cipher inits and a few digests. Kept for
 * the life of the process.
 */
static EVP_CIPHER *fetched_ctr;
static EVP_MD *fetched_sha256;
static EVP_MAC *fetched_hmac;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void
fetch_algorithms(void)
{
	fetched_ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
	fetched_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	fetched_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const EVP_CIPHER *
aes_256_ctr(void)
{
	pthread_once(&fetch_once, fetch_algorithms);
	return fetched_ctr != NULL ? fetched_ctr : EVP_aes_256_ctr();
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&fetch_once, fetch_algorithms);
	return fetched_sha256 != NULL ? fetched_sha256 : EVP_sha256();
}
#else
static const EVP_CIPHER *
aes_256_ctr(void)
{
	return EVP_aes_256_ctr();
}

static const EVP_MD *
sha256(void)
{
	return EVP_sha256();
}
#endif

/* One pointer only: four of these live in every client session. */
struct crypto_ctr {
	EVP_CIPHER_CTX *evp;
};

int
crypto_ctr_new(crypto_ctr **out, const uint8_t key[32], const uint8_t iv[16])
{
	crypto_ctr *c;

	if (out == NULL || key == NULL || iv == NULL)
		return CRYPTO_ERR;
	if ((c = malloc(sizeof(*c))) == NULL)
		return CRYPTO_ERR;
	if ((c->evp = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (EVP_EncryptInit_ex(c->evp, aes_256_ctr(), NULL, key, iv) != 1)
		goto fail;
	*out = c;
	return 0;
fail:
	crypto_ctr_free(c);
	return CRYPTO_ERR;
}

/* Both ciphers stream without padding: every byte in is a byte out. */
static int
evp_update(EVP_CIPHER_CTX *evp, const uint8_t *in, uint8_t *out, size_t len)
{
	int n, outl;

	while (len > 0) {
		n = len > CRYPTO_CHUNK ? CRYPTO_CHUNK : (int)len;
		if (EVP_CipherUpdate(evp, out, &outl, in, n) != 1 || outl != n)
			return CRYPTO_ERR;
		in += n;
		out += n;
		len -= (size_t)n;
	}
	return 0;
}

int
crypto_ctr_apply(crypto_ctr *c, const uint8_t *in, uint8_t *out, size_t len)
{
	if (c == NULL || (len > 0 && (in == NULL || out == NULL)))
		return CRYPTO_ERR;
	return evp_update(c->evp, in, out, len);
}

int
crypto_ctr_rekey(crypto_ctr *c, const uint8_t key[32], const uint8_t iv[16])
{
	if (c == NULL || key == NULL || iv == NULL)
		return CRYPTO_ERR;
	/* No cipher: the context keeps its own and only takes the key. */
	return EVP_EncryptInit_ex(c->evp, NULL, NULL, key, iv) == 1 ? 0 :
	    CRYPTO_ERR;
}

int
crypto_ctr_skip(crypto_ctr *c, size_t n)
{
	uint8_t buf[CRYPTO_SKIP_CHUNK] = { 0 };
	size_t step;

	while (n > 0) {
		step = n > sizeof(buf) ? sizeof(buf) : n;
		if (crypto_ctr_apply(c, buf, buf, step) != 0)
			return CRYPTO_ERR;
		/* buf now holds keystream; it must be zeros for the next step. */
		OPENSSL_cleanse(buf, step);
		n -= step;
	}
	return 0;
}

void
crypto_ctr_free(crypto_ctr *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->evp);
	free(c);
}

/* Same shape as crypto_ctr; kept separate so the types cannot be mixed up. */
struct crypto_cbc {
	EVP_CIPHER_CTX *evp;
};

int
crypto_cbc_new(crypto_cbc **out, int encrypt, const uint8_t key[32],
    const uint8_t iv[16])
{
	crypto_cbc *c;

	if (out == NULL || key == NULL || iv == NULL)
		return CRYPTO_ERR;
	if ((c = malloc(sizeof(*c))) == NULL)
		return CRYPTO_ERR;
	if ((c->evp = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (EVP_CipherInit_ex(c->evp, EVP_aes_256_cbc(), NULL, key, iv,
	    encrypt ? 1 : 0) != 1)
		goto fail;
	/* The link pads with 04 00 00 00 words itself; no PKCS#7. */
	if (EVP_CIPHER_CTX_set_padding(c->evp, 0) != 1)
		goto fail;
	*out = c;
	return 0;
fail:
	crypto_cbc_free(c);
	return CRYPTO_ERR;
}

int
crypto_cbc_apply(crypto_cbc *c, const uint8_t *in, uint8_t *out, size_t len)
{
	if (c == NULL || len % 16 != 0 ||
	    (len > 0 && (in == NULL || out == NULL)))
		return CRYPTO_ERR;
	return evp_update(c->evp, in, out, len);
}

void
crypto_cbc_free(crypto_cbc *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->evp);
	free(c);
}

/* One-shot digest of a || b; the public wrappers pick the algorithm. */
static int
digest(const EVP_MD *type, const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen, uint8_t *out)
{
	EVP_MD_CTX *md;
	int rc = CRYPTO_ERR;

	if (out == NULL || (alen > 0 && a == NULL) || (blen > 0 && b == NULL))
		return CRYPTO_ERR;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return CRYPTO_ERR;
	if (EVP_DigestInit_ex(md, type, NULL) == 1 &&
	    EVP_DigestUpdate(md, a, alen) == 1 &&
	    EVP_DigestUpdate(md, b, blen) == 1 &&
	    EVP_DigestFinal_ex(md, out, NULL) == 1)
		rc = 0;
	EVP_MD_CTX_free(md);
	return rc;
}

int
crypto_sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[32])
{
	return digest(sha256(), a, alen, b, blen, out);
}

int
crypto_md5(const uint8_t *buf, size_t len, uint8_t out[16])
{
	return digest(EVP_md5(), buf, len, NULL, 0, out);
}

int
crypto_sha1(const uint8_t *buf, size_t len, uint8_t out[20])
{
	return digest(EVP_sha1(), buf, len, NULL, 0, out);
}

int
crypto_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg,
    size_t msglen, uint8_t out[32])
{
	static const uint8_t empty[1];
	unsigned int outl = 0;

	if (out == NULL || (keylen > 0 && key == NULL) ||
	    (msglen > 0 && msg == NULL) || keylen > INT_MAX)
		return CRYPTO_ERR;
	/* HMAC() treats a NULL key as "reuse the previous one": never pass it. */
	if (HMAC(EVP_sha256(), keylen > 0 ? key : empty, (int)keylen,
	    msglen > 0 ? msg : empty, msglen, out, &outl) == NULL || outl != 32)
		return CRYPTO_ERR;
	return 0;
}

/* The HMAC backend: EVP_MAC since OpenSSL 3, HMAC_CTX before. */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
typedef EVP_MAC_CTX hmac_ctx;

static hmac_ctx *
hmac_ctx_new(void)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	EVP_MAC_CTX *m;

	pthread_once(&fetch_once, fetch_algorithms);
	if (fetched_hmac == NULL || (m = EVP_MAC_CTX_new(fetched_hmac)) == NULL)
		return NULL;
	if (EVP_MAC_CTX_set_params(m, p) != 1) {
		EVP_MAC_CTX_free(m);
		return NULL;
	}
	return m;
}

static int
hmac_ctx_run(hmac_ctx *m, const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[32])
{
	size_t outl = 0;

	return EVP_MAC_init(m, key, keylen, NULL) == 1 &&
	    EVP_MAC_update(m, msg, msglen) == 1 &&
	    EVP_MAC_final(m, out, &outl, 32) == 1 && outl == 32 ? 0 :
	    CRYPTO_ERR;
}

static void
hmac_ctx_free(hmac_ctx *m)
{
	EVP_MAC_CTX_free(m);
}
#else
typedef HMAC_CTX hmac_ctx;

static hmac_ctx *
hmac_ctx_new(void)
{
	return HMAC_CTX_new();
}

static int
hmac_ctx_run(hmac_ctx *m, const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[32])
{
	unsigned int outl = 0;

	return keylen <= INT_MAX &&
	    HMAC_Init_ex(m, key, (int)keylen, EVP_sha256(), NULL) == 1 &&
	    HMAC_Update(m, msg, msglen) == 1 &&
	    HMAC_Final(m, out, &outl) == 1 && outl == 32 ? 0 : CRYPTO_ERR;
}

static void
hmac_ctx_free(hmac_ctx *m)
{
	HMAC_CTX_free(m);
}
#endif

struct crypto_hmac {
	hmac_ctx *mac;
};

int
crypto_hmac_new(crypto_hmac **out)
{
	crypto_hmac *c;

	if (out == NULL || (c = malloc(sizeof(*c))) == NULL)
		return CRYPTO_ERR;
	if ((c->mac = hmac_ctx_new()) == NULL) {
		free(c);
		return CRYPTO_ERR;
	}
	*out = c;
	return 0;
}

int
crypto_hmac_run(crypto_hmac *c, const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[32])
{
	static const uint8_t empty[1];

	/* A NULL key would mean "the previous one": never pass it. */
	if (c == NULL || key == NULL || keylen == 0 || out == NULL ||
	    (msglen > 0 && msg == NULL))
		return CRYPTO_ERR;
	return hmac_ctx_run(c->mac, key, keylen, msglen > 0 ? msg : empty,
	    msglen, out);
}

void
crypto_hmac_free(crypto_hmac *c)
{
	if (c == NULL)
		return;
	hmac_ctx_free(c->mac);
	free(c);
}

int
crypto_random(uint8_t *buf, size_t len)
{
	int n;

	if (len > 0 && buf == NULL)
		return CRYPTO_ERR;
	while (len > 0) {
		n = len > CRYPTO_CHUNK ? CRYPTO_CHUNK : (int)len;
		if (RAND_bytes(buf, n) != 1)
			return CRYPTO_ERR;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
crypto_memeq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_cleanse(void *p, size_t n)
{
	if (p != NULL)
		OPENSSL_cleanse(p, n);
}

int
crypto_x25519_public(const uint8_t priv[32], uint8_t pub[32])
{
	EVP_PKEY *pk;
	size_t len = 32;
	int rc = CRYPTO_ERR;

	if (priv == NULL || pub == NULL)
		return CRYPTO_ERR;
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	if (pk == NULL)
		return CRYPTO_ERR;
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == 32)
		rc = 0;
	EVP_PKEY_free(pk);
	return rc;
}

void
crypto_thread_end(void)
{
	OPENSSL_thread_stop();
}
