/*
 * PROXY protocol headers (HAProxy's spec, versions 1 and 2): built to tell
 * the cover site's web server the real client address, parsed to learn it
 * from a load balancer in front of us. Pure.
 */
#ifndef MTPROXYD_PROXYHDR_H
#define MTPROXYD_PROXYHDR_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXYHDR_ERR_ARG	(-2)
#define PROXYHDR_ERR_SPACE	(-3)
#define PROXYHDR_ERR_SHORT	(-4)	/* a header so far: more bytes needed */
#define PROXYHDR_ERR_BAD	(-5)	/* not a header we accept */
#define PROXYHDR_MAX		232	/* v1 is at most 107, v2 with IPv6 52 */

/* version 1 or 2; src = the client, dst = the address it connected to. */
int proxyhdr_build(int version, const struct sockaddr *src,
    const struct sockaddr *dst, unsigned char *out, size_t cap, size_t *len);

/* What a received header says. */
struct proxyhdr_info {
	int version;			/* 1 or 2 */
	int local;			/* no addresses (v2 LOCAL, v1 UNKNOWN, v2
					   UNSPEC): the connection's own hold */
	struct sockaddr_storage src;	/* the client; AF_INET or AF_INET6 */
	struct sockaddr_storage dst;	/* the address it connected to */
};

/*
 * The header at the start of buf (n bytes so far). 0: *used bytes make the
 * header; for version 2 *used may exceed n: the rest are TLVs, which the
 * caller skips unread (they are never needed to decide). PROXYHDR_ERR_SHORT:
 * buf is a valid beginning, read more (never once n reaches PROXYHDR_MAX).
 * PROXYHDR_ERR_BAD: anything else, including UDP and UNIX addresses.
 */
int proxyhdr_parse(const unsigned char *buf, size_t n,
    struct proxyhdr_info *out, size_t *used);

#endif
