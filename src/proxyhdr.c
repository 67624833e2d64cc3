/*
 * PROXY protocol headers, versions 1 (text) and 2 (binary), as HAProxy's
 * proxy-protocol.txt defines them. Only TCP over IPv4 and IPv6: that is all
 * a client of ours can be. When the two ends differ in family both are
 * given as IPv6, an IPv4 address in its ::ffff: mapped form, because a
 * header carries one family for both.
 *
 * The parser takes what the spec allows a sender and nothing looser: single
 * spaces, no leading zeros in ports, a v1 line of at most 107 bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- parsing ---- */

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_LEN	6
#define V1_MAX		107	/* the spec's bound, CRLF included */
#define V1_UNKNOWN	"UNKNOWN"
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_FAM_UNSPEC	0x0
#define V2_FAM_INET	0x1
#define V2_FAM_INET6	0x2
#define V2_STREAM	0x1
#define V2_INET_LEN	12	/* two IPv4 addresses, two ports */
#define V2_INET6_LEN	36
#define PORT_DIGITS	5

/* The first min(n, plen) bytes of buf are those of prefix. */
static int
starts(const unsigned char *buf, size_t n, const char *prefix, size_t plen)
{
	return memcmp(buf, prefix, n < plen ? n : plen) == 0;
}

static void
set_addr(struct sockaddr_storage *ss, int family, const void *addr,
    const void *port_be)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, addr, 4);
		memcpy(&in->sin_port, port_be, 2);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, addr, 16);
		memcpy(&in6->sin6_port, port_be, 2);
	}
}

/* Decimal 0..65535 without leading zeros, as the spec writes ports. */
static int
v1_port(const char *s, uint8_t be[2])
{
	size_t i, n = strlen(s);
	unsigned long v;

	if (n == 0 || n > PORT_DIGITS || (s[0] == '0' && n > 1))
		return PROXYHDR_ERR_BAD;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return PROXYHDR_ERR_BAD;
	if ((v = strtoul(s, NULL, 10)) > 65535)
		return PROXYHDR_ERR_BAD;
	be[0] = (uint8_t)(v >> 8);
	be[1] = (uint8_t)v;
	return 0;
}

/* The end of the line (past its CRLF) in *end, within V1_MAX bytes. */
static int
v1_line(const unsigned char *buf, size_t n, size_t *end)
{
	size_t i;

	for (i = V1_PREFIX_LEN; i < n; i++) {
		if (buf[i] == '\n')
			return PROXYHDR_ERR_BAD;	/* an LF of its own */
		if (buf[i] != '\r')
			continue;
		if (i + 2 > V1_MAX)
			return PROXYHDR_ERR_BAD;
		if (i + 1 == n)
			return PROXYHDR_ERR_SHORT;
		if (buf[i + 1] != '\n')
			return PROXYHDR_ERR_BAD;
		*end = i + 2;
		return 0;
	}
	return n >= V1_MAX ? PROXYHDR_ERR_BAD : PROXYHDR_ERR_SHORT;
}

/* "TCP4 SRC DST SPORT DPORT": five fields, one space apart, no more. */
static int
v1_fields(char *line, char *f[5])
{
	size_t nf = 0;
	char *sp;

	for (;;) {
		if (nf == 5 || *line == '\0')
			return PROXYHDR_ERR_BAD;
		f[nf++] = line;
		if ((sp = strchr(line, ' ')) == NULL)
			break;
		*sp = '\0';
		line = sp + 1;
	}
	return nf == 5 ? 0 : PROXYHDR_ERR_BAD;
}

static int
parse_v1(const unsigned char *buf, size_t n, struct proxyhdr_info *out,
    size_t *used)
{
	struct proxyhdr_info info = { .version = 1 };
	uint8_t a[2][16], port[2][2];
	char line[V1_MAX], *f[5];
	size_t end, len;
	int family, rc;

	if ((rc = v1_line(buf, n, &end)) != 0)
		return rc;
	len = end - 2 - V1_PREFIX_LEN;
	memcpy(line, buf + V1_PREFIX_LEN, len);
	line[len] = '\0';
	if (memchr(line, '\0', len) != NULL)
		return PROXYHDR_ERR_BAD;
	/* Whatever follows UNKNOWN is to be ignored. */
	if (strncmp(line, V1_UNKNOWN, strlen(V1_UNKNOWN)) == 0 &&
	    (line[7] == '\0' || line[7] == ' ')) {
		info.local = 1;
		*out = info;
		*used = end;
		return 0;
	}
	if (v1_fields(line, f) != 0)
		return PROXYHDR_ERR_BAD;
	if (strcmp(f[0], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		family = AF_INET6;
	else
		return PROXYHDR_ERR_BAD;
	if (inet_pton(family, f[1], a[0]) != 1 ||
	    inet_pton(family, f[2], a[1]) != 1 ||
	    v1_port(f[3], port[0]) != 0 || v1_port(f[4], port[1]) != 0)
		return PROXYHDR_ERR_BAD;
	set_addr(&info.src, family, a[0], port[0]);
	set_addr(&info.dst, family, a[1], port[1]);
	*out = info;
	*used = end;
	return 0;
}

static int
parse_v2(const unsigned char *buf, size_t n, struct proxyhdr_info *out,
    size_t *used)
{
	struct proxyhdr_info info = { .version = 2 };
	size_t len, alen;
	int cmd, fam, family;

	if (n < PROXYHDR_V2_FIXED_LEN)
		return PROXYHDR_ERR_SHORT;
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	len = (size_t)buf[14] << 8 | buf[15];
	if (buf[12] >> 4 != 2 || cmd > V2_CMD_PROXY)
		return PROXYHDR_ERR_BAD;
	/* LOCAL: the block, family included, is to be ignored. */
	if (cmd == V2_CMD_LOCAL || fam == V2_FAM_UNSPEC) {
		info.local = 1;
	} else {
		if ((buf[13] & 0x0f) != V2_STREAM ||
		    (fam != V2_FAM_INET && fam != V2_FAM_INET6))
			return PROXYHDR_ERR_BAD;
		family = fam == V2_FAM_INET ? AF_INET : AF_INET6;
		alen = fam == V2_FAM_INET ? V2_INET_LEN : V2_INET6_LEN;
		if (len < alen)
			return PROXYHDR_ERR_BAD;
		if (n < PROXYHDR_V2_FIXED_LEN + alen)
			return PROXYHDR_ERR_SHORT;
		buf += PROXYHDR_V2_FIXED_LEN;
		alen = (alen - 4) / 2;		/* one address */
		set_addr(&info.src, family, buf, buf + 2 * alen);
		set_addr(&info.dst, family, buf + alen, buf + 2 * alen + 2);
	}
	*out = info;
	*used = PROXYHDR_V2_FIXED_LEN + len;
	return 0;
}

int
proxyhdr_parse(const unsigned char *buf, size_t n, struct proxyhdr_info *out,
    size_t *used)
{
	if (buf == NULL || out == NULL || used == NULL)
		return PROXYHDR_ERR_ARG;
	if (n == 0)
		return PROXYHDR_ERR_SHORT;
	if (starts(buf, n, V1_PREFIX, V1_PREFIX_LEN))
		return n < V1_PREFIX_LEN ? PROXYHDR_ERR_SHORT :
		    parse_v1(buf, n, out, used);
	if (starts(buf, n, PROXYHDR_V2_SIG, PROXYHDR_V2_SIG_LEN))
		return parse_v2(buf, n, out, used);
	return PROXYHDR_ERR_BAD;
}
