/*
 * A QR code as mtproxyd link --qr draws it (include/qr.h) read back into
 * its modules, for the tests to compare or to hand to a decoder.
 */
#ifndef MTPROXYD_QRTEXT_H
#define MTPROXYD_QRTEXT_H

#define QRTEXT_SIDE_MAX		256

/*
 * The first drawing in text: mod[y][x] 1 for a dark module, *side the
 * modules a row (the drawing's rows hold two each, the last one's lower
 * half light when side is odd). 0, or -1 for no drawing or a bad glyph.
 */
int qrtext_modules(const char *text,
    unsigned char mod[QRTEXT_SIDE_MAX][QRTEXT_SIDE_MAX], int *side);

#endif
