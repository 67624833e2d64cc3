/*
 * Protocol constants. Each group names where it comes from; the byte-level
 * reference is ../shared/PROTOCOL.md (written from the official
 * TelegramMessenger/MTProxy sources).
 */
#ifndef MTPROXYD_PROTO_H
#define MTPROXYD_PROTO_H

#include <stdint.h>

/* PROTOCOL.md 1.1: the 64-byte obfuscated2 header. */
#define OBFS2_HEADER_LEN	64
#define OBFS2_KEY_OFF		8
#define OBFS2_IV_OFF		40
#define OBFS2_TAG_OFF		56
#define OBFS2_DC_OFF		60
#define OBFS2_KEY_LEN		32
#define OBFS2_IV_LEN		16
#define OBFS2_SEED_LEN		48	/* key + iv, bytes 8..55 */

/* PROTOCOL.md 1.3: protocol tags (u32 LE at offset 56, decrypted). */
#define PROTO_TAG_ABRIDGED	0xefefefefu
#define PROTO_TAG_INTERMEDIATE	0xeeeeeeeeu
#define PROTO_TAG_PADDED	0xddddddddu

/* PROTOCOL.md 1.4: first words a random header must avoid. */
#define OBFS2_BAD_FIRST_BYTE	0xef
#define OBFS2_BAD_HEAD		0x44414548u	/* "HEAD" */
#define OBFS2_BAD_POST		0x54534f50u	/* "POST" */
#define OBFS2_BAD_GET		0x20544547u	/* "GET " */
#define OBFS2_BAD_OPTI		0x4954504fu	/* "OPTI" */
#define OBFS2_BAD_TLS		0x02010316u	/* 16 03 01 02 */

/* PROTOCOL.md 1.3: TDLib adds this to the DC id for test DCs. */
#define DC_TEST_OFFSET		10000

/* Proxy secret: 16 bytes, 32 hex digits; "dd"/"ee" prefixes (PROTOCOL.md 2.3, 3). */
#define SECRET_LEN		16
#define SECRET_PREFIX_SECURE	0xdd
#define SECRET_PREFIX_TLS	0xee

/* PROTOCOL.md 2.1-2.4: transport framing. */
#define ABRIDGED_QUICKACK	0x80
#define ABRIDGED_EXTENDED	0x7f
#define ABRIDGED_SHORT_MAX	0x7e	/* in 4-byte words */
#define INTERMEDIATE_QUICKACK	0x80000000u
#define INTERMEDIATE_BADBITS	0x40000000u
#define FRAME_MAX_LEN		1044480	/* 262144*4 - 4096 */
#define PADDED_MAX_PAD		15	/* TDLib appends 0..15 bytes */

/* PROTOCOL.md 1.5: Telegram DCs for direct mode, port 443. */
#define DC_PORT			443
#define DC_COUNT		5

#endif
