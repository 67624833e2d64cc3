/*
 * A QR code of a link for a terminal: libqrencode's modules drawn two rows
 * to a line with Unicode half blocks, in explicit ANSI colours (white
 * blocks are light modules, the black background the dark ones) so that
 * the code scans on dark and light terminals alike.
 */
#ifndef MTPROXYD_QR_H
#define MTPROXYD_QR_H

#define QR_ERR			(-1)	/* out of memory */
#define QR_ERR_TOOLONG		(-2)	/* more than a QR code holds */
#define QR_QUIET		4	/* light modules around the code */

/* The code of text as lines of terminal text, malloc'd, NUL-terminated. */
int qr_render(const char *text, char **out);

#endif
