/*
 * PROXY protocol headers, versions 1 (text) and 2 (binary), as HAProxy's
 * proxy-protocol.txt defines them. Only TCP over IPv4 and IPv6: that is all
 * a client of ours can be. When the two ends differ in family both are
 * given as IPv6, an IPv4 address in its ::ffff: mapped form, because a
 * header carries one family for both.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "proxyhdr.h"

/* One end as the header needs it: raw address bytes and a host-order port. */
struct end {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

static int
end_from(const struct sockaddr *sa, struct end *e)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		e->family = AF_INET;
		memcpy(e->addr, &in->sin_addr, 4);
		e->port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6;

		in6 = (const struct sockaddr_in6 *)sa;
		e->family = AF_INET6;
		memcpy(e->addr, &in6->sin6_addr, 16);
		e->port = ntohs(in6->sin6_port);
		return 0;
	}
	return PROXYHDR_ERR_ARG;
}

/* IPv4 as ::ffff:a.b.c.d (RFC 4291 2.5.5.2). */
static void
end_map6(struct end *e)
{
	if (e->family != AF_INET)
		return;
	memmove(e->addr + 12, e->addr, 4);
	memset(e->addr, 0, 10);
	e->addr[10] = 0xff;
	e->addr[11] = 0xff;
	e->family = AF_INET6;
}

static int
build_v1(const struct end *s, const struct end *d, unsigned char *out,
    size_t cap, size_t *len)
{
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	char buf[PROXYHDR_MAX];
	int n;

	if (inet_ntop(s->family, s->addr, sa, sizeof(sa)) == NULL ||
	    inet_ntop(d->family, d->addr, da, sizeof(da)) == NULL)
		return PROXYHDR_ERR_ARG;
	n = snprintf(buf, sizeof(buf), "PROXY %s %s %s %u %u\r\n",
	    s->family == AF_INET ? "TCP4" : "TCP6", sa, da,
	    (unsigned)s->port, (unsigned)d->port);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return PROXYHDR_ERR_ARG;
	if ((size_t)n > cap)
		return PROXYHDR_ERR_SPACE;
	memcpy(out, buf, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static int
build_v2(const struct end *s, const struct end *d, unsigned char *out,
    size_t cap, size_t *len)
{
	size_t alen = s->family == AF_INET ? 4 : 16;
	size_t body = 2 * alen + 4, n = PROXYHDR_V2_FIXED_LEN + body;
	unsigned char *p = out;

	if (n > cap)
		return PROXYHDR_ERR_SPACE;
	memcpy(p, PROXYHDR_V2_SIG, PROXYHDR_V2_SIG_LEN);
	p += PROXYHDR_V2_SIG_LEN;
	*p++ = PROXYHDR_V2_PROXY;
	*p++ = s->family == AF_INET ? PROXYHDR_V2_TCP4 : PROXYHDR_V2_TCP6;
	*p++ = (unsigned char)(body >> 8);
	*p++ = (unsigned char)body;
	memcpy(p, s->addr, alen);
	p += alen;
	memcpy(p, d->addr, alen);
	p += alen;
	*p++ = (unsigned char)(s->port >> 8);
	*p++ = (unsigned char)s->port;
	*p++ = (unsigned char)(d->port >> 8);
	*p++ = (unsigned char)d->port;
	*len = n;
	return 0;
}

int
proxyhdr_build(int version, const struct sockaddr *src,
    const struct sockaddr *dst, unsigned char *out, size_t cap, size_t *len)
{
	struct end s, d;

	if ((version != 1 && version != 2) || src == NULL || dst == NULL ||
	    out == NULL || len == NULL)
		return PROXYHDR_ERR_ARG;
	if (end_from(src, &s) != 0 || end_from(dst, &d) != 0)
		return PROXYHDR_ERR_ARG;
	if (s.family != d.family) {
		end_map6(&s);
		end_map6(&d);
	}
	if (version == 1)
		return build_v1(&s, &d, out, cap, len);
	return build_v2(&s, &d, out, cap, len);
}
