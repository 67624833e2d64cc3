/*
 * `mtproxyd link [USER] [--qr]`: the users' links on stdout, each t.me one
 * followed by its QR code when asked, whatever [server] print_links says.
 */
#ifndef MTPROXYD_LINK_H
#define MTPROXYD_LINK_H

#include <stdio.h>
#include "config.h"

#define LINK_ERR		(-1)	/* a write or a QR code failed */
#define LINK_ERR_NOUSER		(-2)	/* no user of that name */

/* user NULL: every user. */
int link_print(const struct config *cfg, const char *user, int qr, FILE *out);

#endif
