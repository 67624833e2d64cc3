/* Socket helpers. Every call that waits on a peer has a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
/* Not netinet/tcp.h: its tcp_info lacks tcpi_bytes_received (4.19). */
#include <linux/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

int64_t
net_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
net_now_ms(void)
{
	return net_now_us() / 1000;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

int
net_listen(const struct net_addr *a, uint16_t port, int backlog, int *fd)
{
	struct sockaddr_storage ss = a->ss;
	int s, one = 1;

	s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return NET_ERR;
	set_port(&ss, port);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Both 0.0.0.0 and :: may be listed on one port. */
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(s, (struct sockaddr *)&ss, a->len) < 0 ||
	    listen(s, backlog) < 0)
		goto fail;
	*fd = s;
	return 0;
fail:
	{
		int e = errno;

		close(s);
		errno = e;
	}
	return NET_ERR;
}

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - net_now_ms();
		if (left <= 0)
			return NET_TIMEOUT;
		r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return NET_ERR;
	}
}

static int
clear_send_timeout(int fd)
{
	struct timeval tv = { 0, 0 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ?
	    NET_ERR : 0;
}

/*
 * A blocking connect bounded by SO_SNDTIMEO (it then fails with
 * EINPROGRESS): three system calls fewer than a non-blocking connect and a
 * poll, on every client's way to its DC. The timeout is cleared again, so
 * the caller gets a socket without one, as before.
 */
int
net_connect(const struct net_addr *a, int timeout_ms, int rcvbuf, int *fd)
{
	int s, err, rc = NET_ERR, one = 1;

	s = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return NET_ERR;
	/* Before connect, so the window scale is negotiated for it. */
	if (rcvbuf > 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (net_set_timeouts(s, 0, timeout_ms > 0 ? timeout_ms : 1) != 0)
		goto out;
	if (connect(s, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno == EINPROGRESS || errno == EAGAIN) {
			errno = ETIMEDOUT;
			rc = NET_TIMEOUT;
		}
		goto out;
	}
	if (clear_send_timeout(s) != 0)
		goto out;
	*fd = s;
	return 0;
out:
	err = errno;
	close(s);
	errno = err;
	return rc;
}

int
net_read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		if ((rc = wait_fd(fd, POLLIN, deadline)) != 0)
			return rc;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n == 0)
			return NET_EOF;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return NET_ERR;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
net_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NET_ERR;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
net_splice_full(int pipe_rd, int fd, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = splice(pipe_rd, NULL, fd, NULL, len, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* 0: the pipe holds fewer bytes than the caller said. */
			if (n == 0)
				errno = EIO;
			return NET_ERR;
		}
		len -= (size_t)n;
	}
	return 0;
}

int
net_wait_readable(int fd, int64_t deadline)
{
	return wait_fd(fd, POLLIN, deadline);
}

int
net_set_timeouts(int fd, int rcv_ms, int snd_ms)
{
	struct timeval tv;

	if (rcv_ms > 0) {
		tv.tv_sec = rcv_ms / 1000;
		tv.tv_usec = (rcv_ms % 1000) * 1000;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			return NET_ERR;
	}
	if (snd_ms > 0) {
		tv.tv_sec = snd_ms / 1000;
		tv.tv_usec = (snd_ms % 1000) * 1000;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
			return NET_ERR;
	}
	return 0;
}

void
net_addr_str(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, outlen, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(out, outlen, "?");
	}
}

int
net_local_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return NET_ERR;
	if (ss.ss_family == AF_INET)
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int
net_bytes_received(int fd, uint64_t *n)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return NET_ERR;
	if (len < offsetof(struct tcp_info, tcpi_bytes_received) +
	    sizeof(ti.tcpi_bytes_received)) {
		errno = ENOPROTOOPT;
		return NET_ERR;
	}
	*n = ti.tcpi_bytes_received;
	return 0;
}
