/* Half blocks back into QR modules. See qrtext.h. */
#include <string.h>

#include "qrtext.h"

#define ROW_START	"\033[37;40m"
#define ROW_END		"\033[0m\n"

/* Indexed by (top dark) << 1 | (bottom dark), as src/qr.c draws them. */
static const char *const glyph[4] = {
	"\xe2\x96\x88", "\xe2\x96\x80", "\xe2\x96\x84", " ",
};

/* One row of glyphs: its width, or -1. */
static int
row(const char **pp, unsigned char mod[QRTEXT_SIDE_MAX][QRTEXT_SIDE_MAX],
    int y)
{
	const char *p = *pp;
	int x, g;

	for (x = 0; strncmp(p, ROW_END, strlen(ROW_END)) != 0; x++) {
		for (g = 0; g < 4 && strncmp(p, glyph[g],
		    strlen(glyph[g])) != 0; g++)
			;
		if (g == 4 || x == QRTEXT_SIDE_MAX)
			return -1;
		p += strlen(glyph[g]);
		mod[y][x] = (unsigned char)(g >> 1);
		mod[y + 1][x] = (unsigned char)(g & 1);
	}
	*pp = p + strlen(ROW_END);
	return x;
}

int
qrtext_modules(const char *text,
    unsigned char mod[QRTEXT_SIDE_MAX][QRTEXT_SIDE_MAX], int *side)
{
	const char *p = strstr(text, ROW_START);
	int y, w;

	*side = 0;
	for (y = 0; p != NULL && strncmp(p, ROW_START, strlen(ROW_START)) == 0;
	    y += 2) {
		p += strlen(ROW_START);
		if (y + 1 >= QRTEXT_SIDE_MAX || (w = row(&p, mod, y)) < 0 ||
		    (*side != 0 && w != *side))
			return -1;
		*side = w;
	}
	return *side > 0 && y == *side + (*side & 1) ? 0 : -1;
}
