/*
 * SOCKS5 messages (RFC 1928) and username/password authentication (RFC
 * 1929), client side. Strict where the RFCs are: a server that answers
 * otherwise is not one we can trust to have connected where we asked.
 */
#include <netinet/in.h>
#include <string.h>

#include "socks5.h"

#define SOCKS5_VERSION		5
#define SOCKS5_AUTH_VERSION	1	/* RFC 1929's sub-negotiation */
#define SOCKS5_CMD_CONNECT	1
#define SOCKS5_NO_METHOD	0xff

void
socks5_greeting(int userpass, uint8_t out[SOCKS5_GREETING_MAX], size_t *len)
{
	out[0] = SOCKS5_VERSION;
	out[1] = userpass ? 2 : 1;
	out[2] = SOCKS5_METHOD_NONE;
	out[3] = SOCKS5_METHOD_USERPASS;
	*len = userpass ? 4 : 3;
}

int
socks5_method_parse(const uint8_t in[SOCKS5_METHOD_LEN], int userpass,
    uint8_t *method)
{
	if (in[0] != SOCKS5_VERSION)
		return SOCKS5_ERR_PROTO;
	if (in[1] == SOCKS5_NO_METHOD)
		return SOCKS5_ERR_METHOD;
	if (in[1] != SOCKS5_METHOD_NONE &&
	    !(userpass && in[1] == SOCKS5_METHOD_USERPASS))
		return SOCKS5_ERR_PROTO;
	*method = in[1];
	return 0;
}

int
socks5_auth_build(const char *user, const char *pass,
    uint8_t out[SOCKS5_AUTH_MAX], size_t *len)
{
	size_t ulen = strlen(user), plen = strlen(pass);

	if (ulen < 1 || ulen > SOCKS5_CRED_MAX || plen < 1 ||
	    plen > SOCKS5_CRED_MAX)
		return SOCKS5_ERR_ARG;
	out[0] = SOCKS5_AUTH_VERSION;
	out[1] = (uint8_t)ulen;
	memcpy(out + 2, user, ulen);
	out[2 + ulen] = (uint8_t)plen;
	memcpy(out + 3 + ulen, pass, plen);
	*len = 3 + ulen + plen;
	return 0;
}

int
socks5_auth_parse(const uint8_t in[SOCKS5_AUTH_REPLY_LEN])
{
	if (in[0] != SOCKS5_AUTH_VERSION)
		return SOCKS5_ERR_PROTO;
	return in[1] == 0 ? 0 : SOCKS5_ERR_AUTH;
}

int
socks5_connect_build(const struct sockaddr *dst,
    uint8_t out[SOCKS5_REQUEST_MAX], size_t *len)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)dst;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)dst;
	size_t alen;

	out[0] = SOCKS5_VERSION;
	out[1] = SOCKS5_CMD_CONNECT;
	out[2] = 0;
	if (dst->sa_family == AF_INET) {
		out[3] = SOCKS5_ATYP_IPV4;
		alen = 4;
		memcpy(out + 4, &in4->sin_addr, alen);
		memcpy(out + 4 + alen, &in4->sin_port, 2);
	} else if (dst->sa_family == AF_INET6) {
		out[3] = SOCKS5_ATYP_IPV6;
		alen = 16;
		memcpy(out + 4, &in6->sin6_addr, alen);
		memcpy(out + 4 + alen, &in6->sin6_port, 2);
	} else {
		return SOCKS5_ERR_ARG;
	}
	*len = 4 + alen + 2;
	return 0;
}

/* The bound address's length, the domain's length byte included. */
static int
addr_field_len(const uint8_t in[SOCKS5_REPLY_HEAD], size_t *len)
{
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		*len = 4;
		return 0;
	case SOCKS5_ATYP_IPV6:
		*len = 16;
		return 0;
	case SOCKS5_ATYP_DOMAIN:
		*len = 1 + (size_t)in[4];
		return 0;
	default:
		return SOCKS5_ERR_PROTO;
	}
}

int
socks5_reply_len(const uint8_t in[SOCKS5_REPLY_HEAD], size_t *len)
{
	size_t alen;

	if (in[0] != SOCKS5_VERSION || in[2] != 0 ||
	    addr_field_len(in, &alen) != 0)
		return SOCKS5_ERR_PROTO;
	*len = 4 + alen + 2;
	return 0;
}

int
socks5_reply_parse(const uint8_t *in, size_t n, struct socks5_reply *out)
{
	size_t want, skip;

	if (n < SOCKS5_REPLY_HEAD || socks5_reply_len(in, &want) != 0 ||
	    n != want)
		return SOCKS5_ERR_PROTO;
	skip = in[3] == SOCKS5_ATYP_DOMAIN ? 1 : 0;
	out->rep = in[1];
	out->atyp = in[3];
	out->addrlen = n - 4 - skip - 2;
	memcpy(out->addr, in + 4 + skip, out->addrlen);
	out->port = (uint16_t)(in[n - 2] << 8 | in[n - 1]);
	return 0;
}

const char *
socks5_rep_name(uint8_t rep)
{
	static const char *const names[] = {
		[SOCKS5_REP_SUCCEEDED] = "succeeded",
		[SOCKS5_REP_GENERAL] = "general SOCKS server failure",
		[SOCKS5_REP_NOT_ALLOWED] = "connection not allowed by ruleset",
		[SOCKS5_REP_NET_UNREACHABLE] = "network unreachable",
		[SOCKS5_REP_HOST_UNREACHABLE] = "host unreachable",
		[SOCKS5_REP_REFUSED] = "connection refused",
		[SOCKS5_REP_TTL_EXPIRED] = "TTL expired",
		[SOCKS5_REP_BAD_COMMAND] = "command not supported",
		[SOCKS5_REP_BAD_ATYP] = "address type not supported",
	};

	if (rep >= sizeof(names) / sizeof(names[0]))
		return "unassigned";
	return names[rep];
}
