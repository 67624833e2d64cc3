/*
 * The client side of SOCKS5 (RFC 1928) with username/password
 * authentication (RFC 1929), CONNECT only: the messages we send, built,
 * and the server's answers, checked. Pure: the exchange over a socket is
 * socks5io's.
 */
#ifndef MTPROXYD_SOCKS5_H
#define MTPROXYD_SOCKS5_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SOCKS5_ERR_ARG		(-1)	/* ours: a length or family out of range */
#define SOCKS5_ERR_PROTO	(-2)	/* bytes the RFCs do not allow */
#define SOCKS5_ERR_METHOD	(-3)	/* the server took none we offered (X'FF') */
#define SOCKS5_ERR_AUTH		(-4)	/* username/password refused */

#define SOCKS5_METHOD_NONE	0x00
#define SOCKS5_METHOD_USERPASS	0x02

#define SOCKS5_GREETING_MAX	4		/* VER NMETHODS and two methods */
#define SOCKS5_METHOD_LEN	2		/* VER METHOD */
#define SOCKS5_CRED_MAX		255		/* RFC 1929: UNAME, PASSWD */
#define SOCKS5_AUTH_MAX		(3 + 2 * SOCKS5_CRED_MAX)
#define SOCKS5_AUTH_REPLY_LEN	2		/* VER STATUS */
#define SOCKS5_REQUEST_MAX	(4 + 16 + 2)	/* CONNECT to an IPv6 address */
/* A reply's first bytes, enough for its length: VER REP RSV ATYP and the
 * first address byte (a domain's length). */
#define SOCKS5_REPLY_HEAD	5
#define SOCKS5_REPLY_MAX	(4 + 1 + 255 + 2)

/* The REP codes of RFC 1928 section 6. */
enum socks5_rep {
	SOCKS5_REP_SUCCEEDED,
	SOCKS5_REP_GENERAL,		/* general SOCKS server failure */
	SOCKS5_REP_NOT_ALLOWED,		/* connection not allowed by ruleset */
	SOCKS5_REP_NET_UNREACHABLE,
	SOCKS5_REP_HOST_UNREACHABLE,
	SOCKS5_REP_REFUSED,
	SOCKS5_REP_TTL_EXPIRED,
	SOCKS5_REP_BAD_COMMAND,		/* command not supported */
	SOCKS5_REP_BAD_ATYP		/* address type not supported */
};

#define SOCKS5_ATYP_IPV4	1
#define SOCKS5_ATYP_DOMAIN	3
#define SOCKS5_ATYP_IPV6	4

/* A CONNECT reply: on success the server's address towards the target. */
struct socks5_reply {
	uint8_t rep;			/* enum socks5_rep, or unassigned */
	uint8_t atyp;			/* SOCKS5_ATYP_* */
	size_t addrlen;			/* 4, 16, or the domain's 0..255 */
	uint8_t addr[255];
	uint16_t port;
};

/* The method offer: none, and username/password too when userpass. */
void socks5_greeting(int userpass, uint8_t out[SOCKS5_GREETING_MAX],
    size_t *len);
/* The server's choice (VER METHOD): *method is one of those offered. */
int socks5_method_parse(const uint8_t in[SOCKS5_METHOD_LEN], int userpass,
    uint8_t *method);
/* RFC 1929's request; user and pass of 1..255 bytes. */
int socks5_auth_build(const char *user, const char *pass,
    uint8_t out[SOCKS5_AUTH_MAX], size_t *len);
/* RFC 1929's reply (VER STATUS): 0, SOCKS5_ERR_AUTH or SOCKS5_ERR_PROTO. */
int socks5_auth_parse(const uint8_t in[SOCKS5_AUTH_REPLY_LEN]);
/* CONNECT to an AF_INET or AF_INET6 address (ATYP 1 or 4). */
int socks5_connect_build(const struct sockaddr *dst,
    uint8_t out[SOCKS5_REQUEST_MAX], size_t *len);
/* The whole reply's length, from its first SOCKS5_REPLY_HEAD bytes. */
int socks5_reply_len(const uint8_t in[SOCKS5_REPLY_HEAD], size_t *len);
/* A whole reply, exactly n bytes; a failure REP is a parsed reply too. */
int socks5_reply_parse(const uint8_t *in, size_t n, struct socks5_reply *out);
/* RFC 1928's words for a REP code ("connection refused"). */
const char *socks5_rep_name(uint8_t rep);

#endif
