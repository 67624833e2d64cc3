/*
 * CRC32 (IEEE 802.3, zlib) and CRC32C (Castagnoli), the two checksums of
 * middle-proxy frames (doc/PROTOCOL.md 4.2). Pure; libcrypto has neither.
 */
#ifndef MTPROXYD_CRC_H
#define MTPROXYD_CRC_H

#include <stddef.h>
#include <stdint.h>

/*
 * zlib convention: start with crc = 0; crc_crc32(crc_crc32(0, a), b) is the
 * CRC of a || b. The names carry the module prefix so that they never
 * interpose on zlib's crc32() when both end up in one process.
 */
uint32_t crc_crc32(uint32_t crc, const void *buf, size_t len);
uint32_t crc_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The CRC of a || b from crc(a), crc(b) and shift = crc_*_shift(length of
 * b), so that b can be checksummed before a is known (a middle-proxy
 * frame's payload before its sequence number). The shift is the costly
 * part (a few dozen steps of 32); the combination is one step.
 */
uint32_t crc_crc32_shift(size_t len_b);
uint32_t crc_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint32_t shift);
uint32_t crc_crc32c_shift(size_t len_b);
uint32_t crc_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint32_t shift);

/*
 * Test hooks for the byte-at-a-time table CRC32C, the path of machines
 * without SSE4.2, which a test on any other machine never runs (a wrong
 * table entry went unnoticed). crc_crc32c_table is that path itself;
 * crc_use_table(1) makes crc_crc32c take it from then on (the daemon does
 * when started with MTPROXYD_CRC32C=table). Call it before threads start.
 */
uint32_t crc_crc32c_table(uint32_t crc, const void *buf, size_t len);
void crc_use_table(int on);

#endif
