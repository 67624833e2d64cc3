/* Socket helpers: listen, connect with a timeout, full reads and writes. */
#ifndef MTPROXYD_NET_H
#define MTPROXYD_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_ERR		(-1)	/* errno says why */
#define NET_EOF		(-2)	/* peer closed before the full length */
#define NET_TIMEOUT	(-3)	/* deadline passed */

/* A socket address and its length, as getaddrinfo gives it. */
struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Monotonic milliseconds. */
int64_t net_now_ms(void);
/* The same clock in microseconds, for durations a histogram keeps. */
int64_t net_now_us(void);

/* Bind and listen on a (its port replaced by port unless 0); IPv6 is v6-only. */
int net_listen(const struct net_addr *a, uint16_t port, int backlog, int *fd);
/* Connect within timeout_ms; rcvbuf > 0 sets SO_RCVBUF first. */
int net_connect(const struct net_addr *a, int timeout_ms, int rcvbuf, int *fd);
/* Read exactly len bytes before deadline (net_now_ms() clock). */
int net_read_full(int fd, void *buf, size_t len, int64_t deadline);
/* Write all of buf; a blocked write fails after the socket's SO_SNDTIMEO. */
int net_write_full(int fd, const void *buf, size_t len);
/* Move len bytes already in pipe pipe_rd to socket fd, as net_write_full. */
int net_splice_full(int pipe_rd, int fd, size_t len);
/* Wait before deadline until fd has bytes, an EOF or an error to read. */
int net_wait_readable(int fd, int64_t deadline);
/* SO_RCVTIMEO / SO_SNDTIMEO in milliseconds (0 leaves one unchanged). */
int net_set_timeouts(int fd, int rcv_ms, int snd_ms);
/* "1.2.3.4:5" or "[::1]:5". */
void net_addr_str(const struct sockaddr *sa, char *out, size_t outlen);
int net_local_port(int fd, uint16_t *port);
/* Bytes the peer of TCP socket fd has sent so far, read or not. */
int net_bytes_received(int fd, uint64_t *n);

#endif
