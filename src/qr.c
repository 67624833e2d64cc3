/*
 * QR codes for terminals. Error correction level M: a link shown on a
 * screen and photographed loses a little contrast, rarely whole modules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "qr.h"

#define ROW_START	"\033[37;40m"	/* white on black */
#define ROW_END		"\033[0m\n"
/* Indexed by (top dark) << 1 | (bottom dark): UTF-8 of each glyph. */
static const char *const glyph[4] = {
	"\xe2\x96\x88",		/* full block: both light */
	"\xe2\x96\x80",		/* upper half: the bottom one dark */
	"\xe2\x96\x84",		/* lower half: the top one dark */
	" ",			/* both dark */
};
#define GLYPH_MAX	3

/* Module (x, y) of the code with its quiet zone: 1 dark, 0 light. */
static int
dark(const QRcode *q, int x, int y)
{
	x -= QR_QUIET;
	y -= QR_QUIET;
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

static void
draw(const QRcode *q, char *out)
{
	int side = q->width + 2 * QR_QUIET, x, y;
	size_t n = 0, g;

	for (y = 0; y < side; y += 2) {
		memcpy(out + n, ROW_START, strlen(ROW_START));
		n += strlen(ROW_START);
		for (x = 0; x < side; x++) {
			g = (size_t)(dark(q, x, y) << 1 | dark(q, x, y + 1));
			memcpy(out + n, glyph[g], strlen(glyph[g]));
			n += strlen(glyph[g]);
		}
		memcpy(out + n, ROW_END, strlen(ROW_END));
		n += strlen(ROW_END);
	}
	out[n] = '\0';
}

int
qr_render(const char *text, char **out)
{
	QRcode *q;
	size_t side, cap;

	if ((q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M)) == NULL)
		return errno == ERANGE ? QR_ERR_TOOLONG : QR_ERR;
	side = (size_t)q->width + 2 * QR_QUIET;
	cap = (side + 1) / 2 * (strlen(ROW_START) + side * GLYPH_MAX +
	    strlen(ROW_END)) + 1;
	if ((*out = malloc(cap)) == NULL) {
		QRcode_free(q);
		return QR_ERR;
	}
	draw(q, *out);
	QRcode_free(q);
	return 0;
}
