/*
 * Protocol constants. Each group cites the section of doc/PROTOCOL.md that
 * says what its values mean and names their primary source: a file and
 * symbol of the official TelegramMessenger/MTProxy server, or TDLib,
 * Telegram Desktop or an RFC where the official server is not the source.
 */
#ifndef MTPROXYD_PROTO_H
#define MTPROXYD_PROTO_H

#include <stdint.h>

/* doc/PROTOCOL.md 1.1: the 64-byte obfuscated2 header. */
#define OBFS2_HEADER_LEN	64
#define OBFS2_KEY_OFF		8
#define OBFS2_IV_OFF		40
#define OBFS2_TAG_OFF		56
#define OBFS2_DC_OFF		60
#define OBFS2_KEY_LEN		32
#define OBFS2_IV_LEN		16
#define OBFS2_SEED_LEN		48	/* key + iv, bytes 8..55 */

/* doc/PROTOCOL.md 1.3: protocol tags (u32 LE at offset 56, decrypted). */
#define PROTO_TAG_ABRIDGED	0xefefefefu
#define PROTO_TAG_INTERMEDIATE	0xeeeeeeeeu
#define PROTO_TAG_PADDED	0xddddddddu

/* doc/PROTOCOL.md 1.4: first words a random header must avoid. */
#define OBFS2_BAD_FIRST_BYTE	0xef
#define OBFS2_BAD_HEAD		0x44414548u	/* "HEAD" */
#define OBFS2_BAD_POST		0x54534f50u	/* "POST" */
#define OBFS2_BAD_GET		0x20544547u	/* "GET " */
#define OBFS2_BAD_OPTI		0x4954504fu	/* "OPTI" */
#define OBFS2_BAD_TLS		0x02010316u	/* 16 03 01 02 */

/* doc/PROTOCOL.md 1.3: TDLib adds this to the DC id for test DCs. */
#define DC_TEST_OFFSET		10000

/*
 * Proxy secret: 16 bytes, 32 hex digits; "dd"/"ee" prefixes
 * (doc/PROTOCOL.md 2.3, 3).
 */
#define SECRET_LEN		16
#define SECRET_PREFIX_SECURE	0xdd
#define SECRET_PREFIX_TLS	0xee

/*
 * ---- doc/PROTOCOL.md 3: fake-TLS ----
 * Record and handshake layout are TLS facts (RFC 8446, RFC 6066); the
 * digest, time and replay numbers come from doc/PROTOCOL.md 3.1-3.5.
 */
#define TLS_RECORD_HEADER_LEN	5	/* type, version (2), u16 BE length */
#define TLS_RECORD_CCS		0x14	/* record content types */
#define TLS_RECORD_HANDSHAKE	0x16
#define TLS_RECORD_APPDATA	0x17
#define TLS_VERSION_10		0x0301	/* record version of most hellos */
#define TLS_VERSION_12		0x0303	/* legacy_version; records after the hello */
#define TLS_VERSION_13		0x0304	/* supported_versions (3.4) */
#define TLS_PLAINTEXT_MAX	16384	/* RFC 8446 5.1: 2^14 */
#define TLS_CIPHERTEXT_MAX	(16384 + 256)	/* RFC 8446 5.2 */
#define TLS_HS_HEADER_LEN	4	/* type, u24 BE length */
#define TLS_HS_CLIENT_HELLO	0x01
#define TLS_HS_SERVER_HELLO	0x02
#define TLS_RANDOM_LEN		32
#define TLS_RANDOM_OFF		11	/* 3.1: record 5 + handshake 4 + version 2 */
#define TLS_SESSION_ID_MAX	32
#define TLS_SUITE_FIRST		0x1301	/* 3.1: the TLS 1.3 suites accepted, */
#define TLS_SUITE_LAST		0x1303	/* echoed in the ServerHello */
#define TLS_EXT_SNI		0x0000
#define TLS_EXT_PADDING		0x0015
#define TLS_EXT_SUPPORTED_VERSIONS 0x002b
#define TLS_EXT_KEY_SHARE	0x0033
#define TLS_SNI_HOST_NAME	0	/* RFC 6066 3: name_type */
#define TLS_SNI_MAX		253	/* longest DNS name (RFC 1035) */
#define TLS_EXT_SUPPORTED_GROUPS 0x000a
#define TLS_GROUP_X25519	0x001d
#define TLS_GROUP_SECP256R1	0x0017
#define TLS_GROUP_SECP384R1	0x0018
#define TLS_X25519_LEN		32
#define FAKETLS_DIGEST_LEN	28	/* 3.1: HMAC bytes compared; the rest is ts */
#define FAKETLS_CCS		"\x14\x03\x03\x00\x01\x01"	/* 3.4, 3.5 */
#define FAKETLS_CCS_LEN		6
#define FAKETLS_TDLIB_HELLO_LEN	517	/* 3.1: 5 + 512, the padded TDLib hello */
/*
 * 3.2: accepted client clock skew. The official server allows 600 s behind
 * and 3 s ahead; we allow 30 s ahead so that a phone whose clock runs a
 * little fast still connects.
 */
#define FAKETLS_SKEW_PAST	600
#define FAKETLS_SKEW_FUTURE	30
#define FAKETLS_REPLAY_KEY_LEN	16	/* 3.3: first bytes of the client random */
#define FAKETLS_REPLAY_WINDOW	172800	/* 3.3: 2 days */
/* ---- end of doc/PROTOCOL.md 3 ---- */

/* doc/PROTOCOL.md 2.1-2.4: transport framing. */
#define ABRIDGED_QUICKACK	0x80
#define ABRIDGED_EXTENDED	0x7f
#define ABRIDGED_SHORT_MAX	0x7e	/* in 4-byte words */
#define INTERMEDIATE_QUICKACK	0x80000000u
#define INTERMEDIATE_BADBITS	0x40000000u
#define FRAME_MAX_LEN		1044480	/* 262144*4 - 4096 */
#define PADDED_MAX_PAD		15	/* TDLib appends 0..15 bytes */

/* doc/PROTOCOL.md 1.5: Telegram DCs for direct mode, port 443. */
#define DC_PORT			443
#define DC_COUNT		5

/*
 * Telegram's test DCs, asked for as DC_TEST_OFFSET + n (doc/PROTOCOL.md
 * 1.3, 1.5). Source: Telegram Desktop, Telegram/SourceFiles/mtproto/
 * mtproto_dc_options.cpp, kBuiltInDcsTest and kBuiltInDcsIPv6Test (port
 * 443); the same three addresses are in TDLib and the web clients. There
 * are only three: a test id without an address goes to DC_TEST_DEFAULT,
 * never to a production DC (the test accounts do not exist there).
 */
#define DC_TEST_COUNT		3
#define DC_TEST_DEFAULT		(DC_TEST_OFFSET + 2)
#define DC_TEST_MAX		(DC_TEST_OFFSET + 5)
#define DC_TEST1_IPV4		"149.154.175.10"
#define DC_TEST1_IPV6		"2001:b28:f23d:f001::e"
#define DC_TEST2_IPV4		"149.154.167.40"
#define DC_TEST2_IPV6		"2001:67c:4e8:f002::e"
#define DC_TEST3_IPV4		"149.154.175.117"
#define DC_TEST3_IPV6		"2001:b28:f23d:f003::e"

/*
 * doc/PROTOCOL.md 4: middle-proxy RPC (proxy <-> Telegram middle-end).
 * Each value's MTProxy file and symbol are in doc/PROTOCOL.md 4.1-4.8.
 */
/* 4.2: frames are len, seq, payload, crc; a lone len == 4 word is padding. */
#define RPC_FRAME_OVERHEAD	12	/* len + seq + crc */
#define RPC_FRAME_MIN_LEN	16	/* overhead + a 4-byte constructor */
#define RPC_FRAME_PAD_WORD	4	/* the 04 00 00 00 no-op */
#define RPC_CBC_BLOCK		16	/* AES block; output is padded to it */
#define RPC_SEQ_NONCE		(-2)
#define RPC_SEQ_HANDSHAKE	(-1)
/* 4.3 */
#define RPC_NONCE		0x7acb87aau
#define RPC_NONCE_LEN		32
#define RPC_NONCE_BYTES		16
#define RPC_SCHEMA_AES		1
#define RPC_SCHEMA_DH		3
#define RPC_NONCE_MAX_SKEW	30	/* seconds, either way */
/* 4.1, 4.4 */
#define RPC_SECRET_MIN		32
#define RPC_SECRET_MAX		256
#define RPC_KEY_LEN		32
#define RPC_IV_LEN		16
/* 4.5 */
#define RPC_HANDSHAKE		0x7682eef5u
#define RPC_HANDSHAKE_ERROR	0x6a27bedau
#define RPC_HANDSHAKE_LEN	32
#define RPC_HANDSHAKE_ERROR_LEN	20
#define RPC_FLAG_CRC32C		0x800u
#define RPC_FLAG_RESERVED	0xffu	/* must be zero */
#define RPC_PID_LEN		12
/* 4.6 */
#define RPC_PING		0x5730a2dfu
#define RPC_PONG		0x8430eaa7u
#define RPC_PING_LEN		12
/* 4.7 */
#define RPC_PROXY_REQ		0x36cef1eeu
#define RPC_PROXY_REQ_HDR_LEN	56
#define RPC_REQ_NOT_ENCRYPTED	0x2u
#define RPC_REQ_HTTP_INFO	0x4u	/* HTTP clients only: never from us */
#define RPC_REQ_HAS_AD_TAG	0x8u
#define RPC_REQ_MAGIC		0x1000u
#define RPC_REQ_EXTMODE2	0x20000u
#define RPC_REQ_INTERMEDIATE	0x20000000u
#define RPC_REQ_ABRIDGED	0x40000000u
#define RPC_REQ_QUICKACK	0x80000000u
#define RPC_AD_TAG_LEN		16
#define TL_PROXY_TAG		0xdb1e26aeu
#define TL_HTTP_QUERY_INFO	0xd45ab381u	/* Origin, Referer, UA */
#define TL_STRING_SHORT_MAX	253	/* longer strings use the fe form */
#define TL_STRING_LONG		0xfe
/* 4.8 */
#define RPC_PROXY_ANS		0x4403da0du
#define RPC_PROXY_ANS_HDR_LEN	16
#define RPC_SIMPLE_ACK		0x3bac409bu
#define RPC_SIMPLE_ACK_LEN	16
#define RPC_CLOSE_EXT		0x5eb634a2u
#define RPC_CLOSE_CONN		0x1fcf425du
#define RPC_CLOSE_LEN		12
/* 2.4: the forwarding filter; unencrypted messages may only carry these. */
#define MTPROTO_MIN_LEN		28
#define MTPROTO_MIN_ENCRYPTED	56
#define MTPROTO_REQ_PQ		0x60469778u
#define MTPROTO_REQ_PQ_MULTI	0xbe7e8ef1u
#define MTPROTO_REQ_DH_PARAMS	0xd712e4beu
#define MTPROTO_SET_CLIENT_DH	0xf5045f1fu
/* 4.1, 5: proxy-multi.conf limits and defaults. */
#define PROXYCONF_MAX_CLUSTERS	1024
#define PROXYCONF_MAX_TARGETS	4096
#define PROXYCONF_TIMEOUT_MIN	10	/* ms */
#define PROXYCONF_TIMEOUT_MAX	30000
#define PROXYCONF_MAX_CONNS	1000
#define PROXYCONF_DEF_MIN_CONNS	4
#define PROXYCONF_DEF_MAX_CONNS	8
/* End of doc/PROTOCOL.md 4. */

/*
 * PROXY protocol v2 (doc/PROTOCOL.md 3.6; HAProxy's proxy-protocol.txt,
 * section 2.2): the cover site's web server learns the real client from it.
 */
#define PROXYHDR_V2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define PROXYHDR_V2_SIG_LEN	12
#define PROXYHDR_V2_FIXED_LEN	16	/* signature, ver/cmd, family, length */
#define PROXYHDR_V2_PROXY	0x21	/* version 2, command PROXY */
#define PROXYHDR_V2_TCP4	0x11	/* AF_INET, STREAM */
#define PROXYHDR_V2_TCP6	0x21	/* AF_INET6, STREAM */

/*
 * The cover site's reply (doc/PROTOCOL.md 3.4). Its ServerHello may be a
 * HelloRetryRequest, told apart by this random (RFC 8446 4.1.3); when the
 * official server cannot learn the reply's size it uses
 * FALLBACK_MIN + rand() % FALLBACK_SPAN bytes.
 */
#define TLS_RECORD_ALERT	0x15
#define TLS_HRR_RANDOM		"\xcf\x21\xad\x74\xe5\x9a\x61\x11" \
				"\xbe\x1d\x8c\x02\x1e\x65\xb8\x91" \
				"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e" \
				"\x07\x9e\x09\xe2\xc8\xa8\x33\x9c"
#define FAKETLS_FALLBACK_MIN	2500
#define FAKETLS_FALLBACK_SPAN	1120

#endif
