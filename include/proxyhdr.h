/*
 * PROXY protocol headers (HAProxy's spec, versions 1 and 2) that tell the
 * cover site's web server the real client address. Pure.
 */
#ifndef MTPROXYD_PROXYHDR_H
#define MTPROXYD_PROXYHDR_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXYHDR_ERR_ARG	(-2)
#define PROXYHDR_ERR_SPACE	(-3)
#define PROXYHDR_MAX		232	/* v1 is at most 107, v2 with IPv6 52 */

/* version 1 or 2; src = the client, dst = the address it connected to. */
int proxyhdr_build(int version, const struct sockaddr *src,
    const struct sockaddr *dst, unsigned char *out, size_t cap, size_t *len);

#endif
