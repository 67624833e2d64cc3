/*
 * The SOCKS5 exchange over a blocking socket. Every read waits at most
 * until the caller's deadline; the writes are a few hundred bytes into a
 * fresh socket's empty send buffer and never wait.
 */
#include <errno.h>
#include <unistd.h>

#include "crypto.h"
#include "socks5io.h"

/* A failed net_read_full as the exchange reports it. */
static int
read_error(int rc)
{
	if (rc == NET_TIMEOUT) {
		errno = ETIMEDOUT;
		return SOCKS5IO_ERR_TIMEOUT;
	}
	if (rc == NET_EOF)
		errno = ECONNRESET;
	return SOCKS5IO_ERR_PROTO;
}

static int
recv_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	int rc = net_read_full(fd, buf, len, deadline);

	return rc == 0 ? 0 : read_error(rc);
}

static int
codec_error(int rc)
{
	if (rc == SOCKS5_ERR_METHOD || rc == SOCKS5_ERR_AUTH) {
		errno = EACCES;
		return SOCKS5IO_ERR_AUTH;
	}
	errno = EPROTO;
	return SOCKS5IO_ERR_PROTO;
}

/* RFC 1929; the request holds the password and is wiped after sending. */
static int
authenticate(const struct socks5io_server *srv, int fd, int64_t deadline)
{
	uint8_t req[SOCKS5_AUTH_MAX], rep[SOCKS5_AUTH_REPLY_LEN];
	size_t len;
	int rc;

	if (socks5_auth_build(srv->user, srv->pass, req, &len) != 0) {
		errno = EINVAL;
		return SOCKS5IO_ERR_AUTH;
	}
	rc = net_write_full(fd, req, len);
	crypto_cleanse(req, sizeof(req));
	if (rc != 0)
		return SOCKS5IO_ERR_PROTO;
	if ((rc = recv_exact(fd, rep, sizeof(rep), deadline)) != 0)
		return rc;
	rc = socks5_auth_parse(rep);
	return rc == 0 ? 0 : codec_error(rc);
}

static int
negotiate(const struct socks5io_server *srv, int fd, int64_t deadline)
{
	uint8_t buf[SOCKS5_GREETING_MAX], method;
	int userpass = srv->user != NULL, rc;
	size_t len;

	socks5_greeting(userpass, buf, &len);
	if (net_write_full(fd, buf, len) != 0)
		return SOCKS5IO_ERR_PROTO;
	if ((rc = recv_exact(fd, buf, SOCKS5_METHOD_LEN, deadline)) != 0)
		return rc;
	if ((rc = socks5_method_parse(buf, userpass, &method)) != 0)
		return codec_error(rc);
	return method == SOCKS5_METHOD_USERPASS ?
	    authenticate(srv, fd, deadline) : 0;
}

/* REP codes as the errno a direct connect would have failed with. */
static int
rep_errno(uint8_t rep)
{
	switch (rep) {
	case SOCKS5_REP_NOT_ALLOWED: return EACCES;
	case SOCKS5_REP_NET_UNREACHABLE: return ENETUNREACH;
	case SOCKS5_REP_HOST_UNREACHABLE: return EHOSTUNREACH;
	case SOCKS5_REP_REFUSED: return ECONNREFUSED;
	case SOCKS5_REP_TTL_EXPIRED: return ETIMEDOUT;
	default: return ECONNABORTED;
	}
}

static int
request(const struct net_addr *dst, int fd, int64_t deadline, uint8_t *rep)
{
	uint8_t buf[SOCKS5_REPLY_MAX];
	struct socks5_reply r;
	size_t len;
	int rc;

	if (socks5_connect_build((const struct sockaddr *)&dst->ss, buf,
	    &len) != 0) {
		errno = EAFNOSUPPORT;
		return SOCKS5IO_ERR_PROTO;
	}
	if (net_write_full(fd, buf, len) != 0)
		return SOCKS5IO_ERR_PROTO;
	if ((rc = recv_exact(fd, buf, SOCKS5_REPLY_HEAD, deadline)) != 0)
		return rc;
	if (socks5_reply_len(buf, &len) != 0)
		return codec_error(SOCKS5_ERR_PROTO);
	if ((rc = recv_exact(fd, buf + SOCKS5_REPLY_HEAD,
	    len - SOCKS5_REPLY_HEAD, deadline)) != 0)
		return rc;
	if (socks5_reply_parse(buf, len, &r) != 0)
		return codec_error(SOCKS5_ERR_PROTO);
	*rep = r.rep;
	if (r.rep != SOCKS5_REP_SUCCEEDED) {
		errno = rep_errno(r.rep);
		return SOCKS5IO_ERR_REFUSED;
	}
	return 0;
}

int
socks5io_connect(const struct socks5io_server *srv,
    const struct net_addr *dst, int64_t deadline, int rcvbuf, int *fd,
    uint8_t *rep)
{
	int64_t left = deadline - net_now_ms();
	int s, rc, err;

	if (left <= 0) {
		errno = ETIMEDOUT;
		return SOCKS5IO_ERR_TIMEOUT;
	}
	rc = net_connect(srv->addr, (int)left, rcvbuf, &s);
	if (rc != 0)
		return rc == NET_TIMEOUT ? SOCKS5IO_ERR_TIMEOUT :
		    SOCKS5IO_ERR_CONNECT;
	if ((rc = negotiate(srv, s, deadline)) != 0 ||
	    (rc = request(dst, s, deadline, rep)) != 0) {
		err = errno;
		close(s);
		errno = err;
		return rc;
	}
	*fd = s;
	return 0;
}
