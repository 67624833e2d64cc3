/* Thin wrappers over OpenSSL's libcrypto: every cipher, hash and random byte. */
#ifndef MTPROXYD_CRYPTO_H
#define MTPROXYD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_ERR		(-1)

/* AES-256-CTR with a 128-bit big-endian counter (EVP_aes_256_ctr). */
typedef struct crypto_ctr crypto_ctr;

int crypto_ctr_new(crypto_ctr **out, const uint8_t key[32], const uint8_t iv[16]);
/* in and out may be the same buffer. */
int crypto_ctr_apply(crypto_ctr *c, const uint8_t *in, uint8_t *out, size_t len);
/*
 * A new key and iv for c, keystream from offset 0, without a new context:
 * trying one key after another (a header against every user's secret).
 */
int crypto_ctr_rekey(crypto_ctr *c, const uint8_t key[32],
    const uint8_t iv[16]);
/* Advance the keystream by n bytes without output. */
int crypto_ctr_skip(crypto_ctr *c, size_t n);
void crypto_ctr_free(crypto_ctr *c);

/*
 * AES-256-CBC without padding (doc/PROTOCOL.md 4.2): one chain per context for
 * the life of a middle-proxy link. encrypt is 1 to encrypt, 0 to decrypt.
 */
typedef struct crypto_cbc crypto_cbc;

int crypto_cbc_new(crypto_cbc **out, int encrypt, const uint8_t key[32],
    const uint8_t iv[16]);
/* len must be a multiple of 16; in and out may be the same buffer. */
int crypto_cbc_apply(crypto_cbc *c, const uint8_t *in, uint8_t *out, size_t len);
void crypto_cbc_free(crypto_cbc *c);

/* SHA-256 of a || b (b may be NULL with blen 0). */
int crypto_sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[32]);
/*
 * MD5 and SHA-1: only for the middle-proxy key derivation
 * (doc/PROTOCOL.md 4.4).
 */
int crypto_md5(const uint8_t *buf, size_t len, uint8_t out[16]);
int crypto_sha1(const uint8_t *buf, size_t len, uint8_t out[20]);
int crypto_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg,
    size_t msglen, uint8_t out[32]);
/*
 * HMAC-SHA256 under one key after another (a hello against every user's
 * secret): the context and the algorithm are set up once, not for each
 * key as crypto_hmac_sha256 does. keylen > 0.
 */
typedef struct crypto_hmac crypto_hmac;

int crypto_hmac_new(crypto_hmac **out);
int crypto_hmac_run(crypto_hmac *c, const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[32]);
void crypto_hmac_free(crypto_hmac *c);
int crypto_random(uint8_t *buf, size_t len);
/* Free this thread's libcrypto state; call as a thread ends. */
void crypto_thread_end(void);
/* Constant-time comparison: 1 if equal, 0 if not. */
int crypto_memeq(const void *a, const void *b, size_t n);
/*
 * X25519 public key for a 32-byte private key (any bytes: RFC 7748 clamps
 * them), so that a key share on the wire is a real curve point.
 */
int crypto_x25519_public(const uint8_t priv[32], uint8_t pub[32]);
/* Zero memory in a way the compiler cannot drop (keys, secrets). */
void crypto_cleanse(void *p, size_t n);

#endif
