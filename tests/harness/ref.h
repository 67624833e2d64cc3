/*
 * Reference implementations from doc/PROTOCOL.md, independent of src/: the
 * checksums (4.2), obfuscated2 (1.1-1.5), the transport frames (2.1-2.3)
 * and the middle-proxy link (4.2, 4.4), for the fakes and the test client.
 * When the fakes used the daemon's own codecs, a bug both ends shared
 * passed every end-to-end test (CRC32C and CRC32 swapped did).
 *
 * Written from the protocol text, not from src/; libcrypto (EVP) is the
 * only primitive shared with the daemon. Types and error numbers of
 * frame.h and rpc.h are borrowed so that the fakes keep their interfaces;
 * none of their functions is called.
 */
#ifndef MTPROXYD_REF_H
#define MTPROXYD_REF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "frame.h"
#include "rpc.h"
#include "rpcstream.h"

#define REF_ERR_ARG		(-1)
#define REF_NEED_MORE		(-2)	/* frame header incomplete */
#define REF_ERR_RETRY		(-3)	/* random header hits the 1.4 list */
#define REF_ERR_TAG		(-4)	/* no valid protocol tag */
#define REF_ERR_FRAME		(-5)	/* a length 2.1-2.4 refuses */
#define REF_ERR_CRYPTO		(-6)

#define REF_OBFS2_LEN		64
#define REF_TAG_ABRIDGED	0xefefefefu
#define REF_TAG_INTERMEDIATE	0xeeeeeeeeu
#define REF_TAG_PADDED		0xddddddddu

/* Bit by bit from the reflected polynomials; initial and final value ~0. */
uint32_t ref_crc32(const void *buf, size_t len);	/* 0xedb88320 */
uint32_t ref_crc32c(const void *buf, size_t len);	/* 0x82f63b78 */

/*
 * AES-256 through EVP. CTR: the keystream starts at offset skip. CBC: no
 * padding, one chain for the life of the context (4.2). Free with
 * EVP_CIPHER_CTX_free.
 */
int ref_ctr_new(const uint8_t key[32], const uint8_t iv[16], size_t skip,
    EVP_CIPHER_CTX **out);
int ref_cbc_new(int encrypt, const uint8_t key[32], const uint8_t iv[16],
    EVP_CIPHER_CTX **out);
/* in and out may be the same; CBC: len a multiple of 16. */
int ref_cipher_apply(EVP_CIPHER_CTX *c, const uint8_t *in, uint8_t *out,
    size_t len);

/* 1.2: c2s is the header sender's direction, s2c the receiver's. */
struct ref_obfs2_keys {
	uint8_t c2s_key[32], c2s_iv[16];
	uint8_t s2c_key[32], s2c_iv[16];
};

/* 1.2 from the 64 plaintext bytes; secret NULL: the 1.5 scheme. */
int ref_obfs2_keys(const uint8_t hdr[REF_OBFS2_LEN], const uint8_t *secret,
    struct ref_obfs2_keys *out);
/*
 * The header a client (or a proxy towards a DC, secret NULL) sends, from
 * 64 random bytes; REF_ERR_RETRY: draw again (1.4). The c2s cipher
 * continues at offset 64.
 */
int ref_obfs2_build(const uint8_t rnd[REF_OBFS2_LEN], uint32_t tag,
    int16_t dc, const uint8_t *secret, uint8_t wire[REF_OBFS2_LEN],
    struct ref_obfs2_keys *keys);
/* The receiver's side; REF_ERR_TAG when the tag is none of the three. */
int ref_obfs2_parse(const uint8_t wire[REF_OBFS2_LEN], const uint8_t *secret,
    uint32_t *tag, int16_t *dc, struct ref_obfs2_keys *keys);
/* 1 if the first 8 bytes hit the 1.4 list. */
int ref_obfs2_forbidden(const uint8_t hdr[REF_OBFS2_LEN]);

/* 2.1-2.3: the transport of a tag, and the tag of a transport. */
int ref_transport(uint32_t tag, enum frame_transport *out);
uint32_t ref_transport_tag(enum frame_transport t);	/* 0: no such */

struct ref_frame {
	size_t hdr_len;		/* 1 or 4 */
	size_t len;		/* body, padding included */
	int quickack;
};

/* Header for a body of len bytes (hdr holds 4). */
int ref_frame_encode(enum frame_transport t, size_t len, int quickack,
    uint8_t hdr[4], size_t *hdr_len);
/* Header of the next frame in buf[0..avail): 0, REF_NEED_MORE, REF_ERR_FRAME. */
int ref_frame_decode(enum frame_transport t, const uint8_t *buf, size_t avail,
    struct ref_frame *out);

/*
 * 4.4: key and iv of one direction of a link (RPC_PURPOSE_CLIENT: the
 * stream the proxy writes). The ref_rpc_* functions return rpc.h's
 * numbers (RPC_ERR_CRC, ...) as the fake middle proxy reports those.
 */
int ref_rpc_keys(const struct rpc_key_input *in, enum rpc_purpose purpose,
    uint8_t key[32], uint8_t iv[16]);
/* 4.2: bytes of a frame around payload_len bytes of payload. */
size_t ref_rpc_frame_len(size_t payload_len);
/* len, seq, payload, crc into out; payload may sit at out + 8. */
int ref_rpc_seal(int32_t seq, enum rpc_crc crc, const uint8_t *payload,
    size_t payload_len, uint8_t *out, size_t cap, size_t *out_len);
/*
 * The next frame of a plaintext stream: RPC_NEED_MORE, RPC_ERR_FRAME_LEN,
 * RPC_ERR_CRC, RPC_ERR_SEQ; a padding word comes back with pad set.
 */
int ref_rpc_open(const uint8_t *buf, size_t avail, enum rpc_crc crc,
    int32_t expect_seq, struct rpc_frame *out);
/* Pad buf[0..len) with 04 00 00 00 words to a multiple of 16. */
int ref_rpc_pad(uint8_t *buf, size_t len, size_t cap, size_t *out_len);

/*
 * The frames above and ref_cipher_apply (an EVP_CIPHER_CTX from
 * ref_cbc_new) for an rpcstream: the fakes share the stream's buffering
 * with the daemon, not its codec. prepare only checks and records: the
 * CRC is taken in seal, in one pass.
 */
extern const struct rpcstream_ops ref_rpcstream_ops;

#endif
