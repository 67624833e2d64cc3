/*
 * The test harness on its own, without mtproxyd: the fake DC spoken to
 * directly with a secret-less header (what the proxy sends a DC), the client
 * library against it, and the daemon runner against a shell script standing
 * in for the binary.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "ckmain.h"
#include "client.h"
#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "itest.h"
#include "obfs2.h"
#include "tclock.h"


static const uint32_t tags[] = {
	[FRAME_ABRIDGED] = PROTO_TAG_ABRIDGED,
	[FRAME_INTERMEDIATE] = PROTO_TAG_INTERMEDIATE,
	[FRAME_PADDED] = PROTO_TAG_PADDED,
};

static void
loopback(int family, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	}
}

static int
count_fds(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * A direct connection to the fake DC, built here rather than with the client
 * library so that the DC is checked against obfs2_build alone.
 */
struct dconn {
	int fd;
	enum frame_transport t;
	crypto_ctr *w, *r;
};

static void
write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static void
read_full(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = recv(fd, p, n, 0);
		ck_assert_msg(r > 0, "recv: %zd %s", r, strerror(errno));
		p += r;
		n -= (size_t)r;
	}
}

static void
dconn_open(struct dconn *d, int family, uint16_t port,
    enum frame_transport t, int16_t dcid)
{
	struct timeval tv = { ITEST_IO_MS / 1000, 0 };
	struct sockaddr_storage ss;
	uint8_t rnd[OBFS2_HEADER_LEN], wire[OBFS2_HEADER_LEN];
	struct obfs2_keys k;
	socklen_t len;
	int i, rc = OBFS2_ERR_RETRY;

	d->t = t;
	for (i = 0; i < 100 && rc == OBFS2_ERR_RETRY; i++) {
		ck_assert_int_eq(crypto_random(rnd, sizeof(rnd)), 0);
		rc = obfs2_build(rnd, tags[t], dcid, NULL, NULL, NULL, wire,
		    &k);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(crypto_ctr_new(&d->w, k.wkey, k.wiv), 0);
	ck_assert_int_eq(crypto_ctr_skip(d->w, OBFS2_HEADER_LEN), 0);
	ck_assert_int_eq(crypto_ctr_new(&d->r, k.rkey, k.riv), 0);
	loopback(family, port, &ss, &len);
	d->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(d->fd, 0);
	ck_assert_int_eq(setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	ck_assert_int_eq(setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)), 0);
	ck_assert_int_eq(connect(d->fd, (struct sockaddr *)&ss, len), 0);
	write_full(d->fd, wire, sizeof(wire));
}

static void
dconn_close(struct dconn *d)
{
	close(d->fd);
	crypto_ctr_free(d->w);
	crypto_ctr_free(d->r);
}

static void
dconn_send(struct dconn *d, const uint8_t *body, size_t len)
{
	uint8_t hdr[4], *buf = malloc(len + sizeof(hdr));
	size_t hlen;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(frame_encode(d->t, len, 0, hdr, &hlen), 0);
	memcpy(buf, hdr, hlen);
	memcpy(buf + hlen, body, len);
	ck_assert_int_eq(crypto_ctr_apply(d->w, buf, buf, hlen + len), 0);
	write_full(d->fd, buf, hlen + len);
	free(buf);
}

static size_t
dconn_recv(struct dconn *d, uint8_t *buf, size_t cap)
{
	struct frame_info fi;
	uint8_t hdr[4];
	size_t n = 0;
	int rc;

	/* A byte at a time: a header never spans more than 4. */
	while ((rc = frame_decode(d->t, hdr, n, &fi)) == FRAME_NEED_MORE) {
		ck_assert_uint_lt(n, sizeof(hdr));
		read_full(d->fd, hdr + n, 1);
		ck_assert_int_eq(crypto_ctr_apply(d->r, hdr + n, hdr + n, 1),
		    0);
		n++;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(fi.header_len, n);
	ck_assert_int_eq(fi.quickack, 0);
	ck_assert_uint_le(fi.len, cap);
	read_full(d->fd, buf, fi.len);
	ck_assert_int_eq(crypto_ctr_apply(d->r, buf, buf, fi.len), 0);
	return fi.len;
}

/* _i: transport (0..2) and family (IPv4 for 0..2, IPv6 for 3..5). */
START_TEST(echo_every_size)
{
	static const size_t sizes[] = { 4, 8, 500, 504, 508, 4096, 65536,
	    262144, 1048576 - 4096 - 4, FRAME_MAX_LEN };
	static const size_t odd[] = { 1, 5, 507, 509, 65537,
	    FRAME_MAX_LEN - 1 };
	enum frame_transport t = (enum frame_transport)(_i % 3);
	int family = _i < 3 ? AF_INET : AF_INET6;
	struct fakedc *dc = itest_fakedc(family, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(FRAME_MAX_LEN + 8);
	uint8_t *got = malloc(FRAME_MAX_LEN);
	uint64_t bytes = 0, frames = 0;
	struct dconn d;
	uint32_t tag;
	int16_t dcid;
	size_t i, n;

	ck_assert_ptr_nonnull(got);
	dconn_open(&d, family, fakedc_port(dc), t, -3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		dconn_send(&d, msg, sizes[i]);
		n = dconn_recv(&d, got, FRAME_MAX_LEN);
		ck_assert_uint_eq(n, sizes[i]);
		ck_assert_mem_eq(got, msg, n);
		bytes += itest_framed_len(t, n);
		frames++;
	}
	for (i = 0; t == FRAME_PADDED && i < sizeof(odd) / sizeof(odd[0]);
	    i++) {
		dconn_send(&d, msg + i, odd[i]);
		n = dconn_recv(&d, got, FRAME_MAX_LEN);
		ck_assert_uint_eq(n, odd[i]);
		ck_assert_mem_eq(got, msg + i, n);
		bytes += itest_framed_len(t, n);
		frames++;
	}
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_FRAMES), frames);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), bytes);
	/* The DC counts a send after it returns: the peer may be faster. */
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_OUT, bytes,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_OUT), bytes);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 1);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_OPEN), 1);
	fakedc_last_header(dc, &tag, &dcid);
	ck_assert_uint_eq(tag, tags[t]);
	ck_assert_int_eq(dcid, -3);
	dconn_close(&d);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_ACCEPTED), 1);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

/* More than the socket buffers hold before reading: partial writes. */
START_TEST(echo_pipelined)
{
	enum { NFRAMES = 4 };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(FRAME_MAX_LEN + NFRAMES);
	uint8_t *got = malloc(FRAME_MAX_LEN);
	struct dconn d;
	int i;

	ck_assert_ptr_nonnull(got);
	dconn_open(&d, AF_INET, fakedc_port(dc), FRAME_INTERMEDIATE, 2);
	for (i = 0; i < NFRAMES; i++)
		dconn_send(&d, msg + i, FRAME_MAX_LEN);
	for (i = 0; i < NFRAMES; i++) {
		ck_assert_uint_eq(dconn_recv(&d, got, FRAME_MAX_LEN),
		    FRAME_MAX_LEN);
		ck_assert_mem_eq(got, msg + i, FRAME_MAX_LEN);
	}
	dconn_close(&d);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

/* Small frames back to back: one recv on the DC side holds many. */
START_TEST(echo_batched)
{
	enum { NFRAMES = 300 };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t got[NFRAMES * 4 + 4];
	uint8_t *msg = itest_random_bytes(NFRAMES * 4 + 4);
	struct dconn d;
	size_t n;
	int i;

	dconn_open(&d, AF_INET, fakedc_port(dc), FRAME_ABRIDGED, 1);
	for (i = 1; i <= NFRAMES; i++)
		dconn_send(&d, msg, (size_t)i * 4);
	for (i = 1; i <= NFRAMES; i++) {
		n = dconn_recv(&d, got, sizeof(got));
		ck_assert_uint_eq(n, (size_t)i * 4);
		ck_assert_mem_eq(got, msg, n);
	}
	dconn_close(&d);
	fakedc_stop(dc);
	free(msg);
}
END_TEST

START_TEST(echo_bad_frame_closes)
{
	static const uint8_t zero_len[4];
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_write_raw(c, zero_len, sizeof(zero_len), 1),
	    0);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BAD_FRAMES, 1, ITEST_IO_MS),
	    0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_FRAMES), 0);
	tclient_close(c);
	fakedc_stop(dc);
}
END_TEST

START_TEST(bad_header_closes)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t hdr[OBFS2_HEADER_LEN];
	struct obfs2_result r;
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	int i;

	/* Random bytes carry a valid tag once in 2^30 draws. */
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(crypto_random(hdr, sizeof(hdr)), 0);
		if (obfs2_parse(hdr, NULL, 0, &r) == OBFS2_ERR_NOMATCH)
			break;
	}
	ck_assert_int_lt(i, 10);
	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&ss, len, hdr,
	    sizeof(hdr), ITEST_IO_MS, &c), 0);
	ck_assert_ptr_null(tclient_header(c));
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BAD_HEADERS), 1);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 0);
	tclient_close(c);
	fakedc_stop(dc);
}
END_TEST

/* _i: transport. The client library, secret-less, against the echo. */
START_TEST(client_echo)
{
	static const size_t sizes[] = { 4, 32, 1000, 504, 508, 65536,
	    FRAME_MAX_LEN - 16 };
	enum frame_transport t = (enum frame_transport)_i;
	struct fakedc *dc = itest_fakedc(AF_INET6, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(FRAME_MAX_LEN);
	uint8_t *got = malloc(FRAME_MAX_LEN);
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	size_t i, n, extra = 0;

	ck_assert_ptr_nonnull(got);
	loopback(AF_INET6, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL, t,
	    4, ITEST_IO_MS, &c), 0);
	ck_assert_ptr_nonnull(tclient_header(c));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_int_eq(tclient_send(c, msg, sizes[i], i == 1), 0);
		ck_assert_int_eq(tclient_recv(c, got, FRAME_MAX_LEN, &n,
		    ITEST_IO_MS), 0);
		ck_assert_uint_ge(n, sizes[i]);
		ck_assert_uint_le(n - sizes[i],
		    t == FRAME_PADDED ? PADDED_MAX_PAD : 0);
		ck_assert_mem_eq(got, msg, sizes[i]);
		extra += n - sizes[i];
	}
	/* Random padding: all seven zero once in 2^28 runs. */
	if (t == FRAME_PADDED)
		ck_assert_uint_gt(extra, 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_QUICKACKS), 1);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_FRAMES), i);
	tclient_close(c);
	fakedc_stop(dc);
	free(msg);
	free(got);
}
END_TEST

START_TEST(client_fixed_padding)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t msg[16] = "0123456789abcdef", got[64];
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	size_t n;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_PADDED, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_set_padding(c, 16), TCLIENT_ERR_ARG);
	ck_assert_int_eq(tclient_set_padding(c, 7), 0);
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(n, sizeof(msg) + 7);
	ck_assert_mem_eq(got, msg, sizeof(msg));
	/* A non-padded transport needs whole words. */
	tclient_close(c);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_ABRIDGED, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_send(c, msg, 5, 0), TCLIENT_ERR_FRAME);
	tclient_close(c);
	fakedc_stop(dc);
}
END_TEST

/* A frame bigger than the buffer stays queued for a retry. */
START_TEST(client_toobig_then_retry)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	uint8_t *msg = itest_random_bytes(1024), got[1024];
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	size_t n;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_send(c, msg, 1024, 0), 0);
	ck_assert_int_eq(tclient_send(c, msg, 8, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, 100, &n, ITEST_IO_MS),
	    TCLIENT_ERR_TOOBIG);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(n, 1024);
	ck_assert_mem_eq(got, msg, 1024);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(n, 8);
	ck_assert_mem_eq(got, msg, 8);
	tclient_close(c);
	fakedc_stop(dc);
	free(msg);
}
END_TEST

START_TEST(sink_counts)
{
	enum { TOTAL = 3 * 1024 * 1024 + 17 };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_SINK);
	uint8_t *data = itest_random_bytes(TOTAL);
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	uint32_t tag;
	int16_t dcid;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_PADDED, 10002, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_write_raw(c, data, TOTAL, 1), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_IN, TOTAL, ITEST_IO_MS),
	    0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), TOTAL);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_OUT), 0);
	fakedc_last_header(dc, &tag, &dcid);
	ck_assert_uint_eq(tag, PROTO_TAG_PADDED);
	ck_assert_int_eq(dcid, 10002);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	fakedc_stop(dc);
	free(data);
}
END_TEST

START_TEST(source_streams)
{
	enum { WANT = 8 * 1024 * 1024 };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_SOURCE);
	struct sockaddr_storage ss;
	struct tclient *c;
	static uint8_t buf[256 * 1024];
	size_t n, total = 0;
	socklen_t len;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_ABRIDGED, 1, ITEST_IO_MS, &c), 0);
	while (total < WANT) {
		ck_assert_int_eq(tclient_read_raw(c, buf, sizeof(buf), &n, 0,
		    ITEST_IO_MS), 0);
		total += n;
	}
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_OUT, total,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 1);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	fakedc_stop(dc);
}
END_TEST

/*
 * _i: 0 as fast as the peer takes them, 1 paced. The pattern SOURCE sends
 * exactly source_len bytes of its pattern under the DC->proxy cipher, paced
 * ones no faster than the chunks are due, and keeps the header it got.
 */
START_TEST(pattern_source)
{
	struct fakedc_opts o = { .family = AF_INET, .mode = FAKEDC_SOURCE,
	    .pattern = 1, .seed = 0x5eed0001 };
	struct fakedc *dc;
	struct sockaddr_storage ss;
	struct tclient *c;
	static uint8_t buf[64 * 1024], want[64 * 1024];
	uint8_t hdr[OBFS2_HEADER_LEN];
	uint64_t total = 0;
	int64_t start;
	socklen_t len;
	size_t n;

	o.source_len = _i ? 5000 : 3 * 1024 * 1024 + 5;
	o.source_chunk = _i ? 1000 : 0;
	o.source_interval_ms = _i ? 100 : 0;
	ck_assert_int_eq(fakedc_start(&o, &dc), 0);
	fakedc_last_header_raw(dc, hdr);
	ck_assert_mem_eq(hdr, (uint8_t[OBFS2_HEADER_LEN]){ 0 },
	    OBFS2_HEADER_LEN);
	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	start = tclock_now_ms();
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_INTERMEDIATE, 3, ITEST_IO_MS, &c), 0);
	while (total < o.source_len) {
		ck_assert_int_eq(tclient_read_raw(c, buf, sizeof(buf), &n, 1,
		    ITEST_IO_MS), 0);
		ck_assert_uint_le(total + n, o.source_len);
		fakedc_pattern(o.seed, total, want, n);
		ck_assert_mem_eq(buf, want, n);
		total += n;
	}
	/* Five chunks, the first at once: four intervals at least. */
	if (_i)
		ck_assert_int_ge(tclock_now_ms() - start, 400);
	ck_assert_int_eq(tclient_read_raw(c, buf, sizeof(buf), &n, 1, 200),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_BYTES_OUT, o.source_len,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_OUT), o.source_len);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_OPEN), 1);
	fakedc_last_header_raw(dc, hdr);
	ck_assert_mem_eq(hdr, tclient_header(c), OBFS2_HEADER_LEN);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	fakedc_stop(dc);
}
END_TEST

START_TEST(blackhole_silent)
{
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_BLACKHOLE);
	uint8_t data[1000] = { 0 }, buf[16];
	struct sockaddr_storage ss;
	struct tclient *c;
	socklen_t len;
	size_t n;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_write_raw(c, data, sizeof(data), 1), 0);
	ck_assert_int_eq(tclient_recv(c, buf, sizeof(buf), &n, 200),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_int_eq(tclient_read_raw(c, buf, sizeof(buf), &n, 1, 100),
	    TCLIENT_ERR_TIMEOUT);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_OPEN), 1);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_HEADERS), 0);
	ck_assert_uint_eq(fakedc_counter(dc, FAKEDC_BYTES_IN), 0);
	tclient_close(c);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	fakedc_stop(dc);
}
END_TEST

START_TEST(closed_port_refuses)
{
	struct sockaddr_storage ss;
	struct tclient *c = NULL;
	socklen_t len;
	uint16_t port;
	int family = _i == 0 ? AF_INET : AF_INET6;

	ck_assert_int_eq(fakedc_closed_port(family, &port), 0);
	ck_assert_uint_ne(port, 0);
	loopback(family, port, &ss, &len);
	errno = 0;
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_ABRIDGED, 2, ITEST_IO_MS, &c), TCLIENT_ERR);
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(close_all_drops_peers)
{
	enum { NCONN = 3 };
	struct fakedc *dc = itest_fakedc(AF_INET, FAKEDC_ECHO);
	struct tclient *c[NCONN];
	struct sockaddr_storage ss;
	socklen_t len;
	int i;

	loopback(AF_INET, fakedc_port(dc), &ss, &len);
	for (i = 0; i < NCONN; i++)
		ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len,
		    NULL, FRAME_ABRIDGED, 2, ITEST_IO_MS, &c[i]), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_HEADERS, NCONN, ITEST_IO_MS),
	    0);
	fakedc_close_all(dc);
	for (i = 0; i < NCONN; i++) {
		ck_assert_int_eq(tclient_wait_closed(c[i], ITEST_IO_MS), 0);
		tclient_close(c[i]);
	}
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	/* Still listening. */
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss, len, NULL,
	    FRAME_ABRIDGED, 2, ITEST_IO_MS, &c[0]), 0);
	ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 1, ITEST_IO_MS), 0);
	tclient_close(c[0]);
	fakedc_stop(dc);
}
END_TEST

/* Stop with connections open (idle and mid-frame) frees every fd. */
START_TEST(start_stop_no_leak)
{
	static const enum fakedc_mode modes[] = { FAKEDC_ECHO, FAKEDC_SINK,
	    FAKEDC_BLACKHOLE };
	static const uint8_t half_frame[] = { 0x10, 0, 0, 0, 1, 2 };
	struct sockaddr_storage ss;
	struct tclient *c[20];
	struct fakedc *dc;
	socklen_t len;
	int round, i, before = count_fds();

	for (round = 0; round < 3; round++) {
		dc = itest_fakedc(AF_INET, modes[round]);
		loopback(AF_INET, fakedc_port(dc), &ss, &len);
		for (i = 0; i < 20; i++)
			ck_assert_int_eq(tclient_connect((struct sockaddr *)&ss,
			    len, NULL, FRAME_INTERMEDIATE, 2, ITEST_IO_MS,
			    &c[i]), 0);
		ck_assert_int_eq(tclient_write_raw(c[0], half_frame,
		    sizeof(half_frame), 1), 0);
		ck_assert_int_eq(fakedc_wait(dc, FAKEDC_OPEN, 20,
		    ITEST_IO_MS), 0);
		fakedc_stop(dc);
		for (i = 0; i < 20; i++)
			tclient_close(c[i]);
	}
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* --- the daemon runner, with a shell script standing in for mtproxyd */

#define SCRIPT_TEMPLATE	"/tmp/harness-test-XXXXXX"

static char script_dir[sizeof(SCRIPT_TEMPLATE)];

static void
write_script(const char *body)
{
	char path[sizeof(script_dir) + 16];
	FILE *f;

	memcpy(script_dir, SCRIPT_TEMPLATE, sizeof(script_dir));
	ck_assert_ptr_nonnull(mkdtemp(script_dir));
	snprintf(path, sizeof(path), "%s/fake", script_dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n%s", body);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, 0700), 0);
	ck_assert_int_eq(setenv("MTPROXYD_BIN", path, 1), 0);
	ck_assert_int_eq(setenv(DAEMON_BIN_ANY, "1", 1), 0);
}

static void
remove_script(void)
{
	char path[sizeof(script_dir) + 16];

	snprintf(path, sizeof(path), "%s/fake", script_dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(script_dir), 0);
}

/* $1 $2 = -c CONF; the script shows the config, then "listens". */
START_TEST(runner_start_stop)
{
	static const char *const args[] = { "--state", "@DIR@/state", NULL };
	struct daemon_proc *d;
	char expect[128], dir[64];
	struct stat st;
	int status;

	write_script("cat \"$2\"; echo \"args: $3 $4\"\n"
	    "echo 'listening on 127.0.0.1:40123'\n"
	    "echo 'listening on [::1]:40124' >&2\n"
	    "trap 'echo bye; exit 7' TERM\n"
	    "while :; do sleep 0.02; done\n");
	ck_assert_int_eq(daemon_start(&d, "[server]\nstate_dir = @DIR@\n",
	    args, ITEST_IO_MS), 0);
	snprintf(dir, sizeof(dir), "%s", daemon_dir(d));
	ck_assert_uint_eq(daemon_port(d, AF_INET), 40123);
	ck_assert_uint_eq(daemon_port(d, AF_INET6), 40124);
	snprintf(expect, sizeof(expect), "state_dir = %s\n", dir);
	ck_assert_int_eq(daemon_log_contains(d, expect), 1);
	snprintf(expect, sizeof(expect), "args: --state %s/state", dir);
	ck_assert_int_eq(daemon_wait_log(d, expect, ITEST_IO_MS), 0);
	ck_assert_int_eq(daemon_log_count(d, "listening on"), 2);
	ck_assert_int_eq(daemon_log_contains(d, "nowhere"), 0);
	ck_assert_int_eq(daemon_wait_log(d, "nowhere", 50),
	    DAEMON_ERR_TIMEOUT);
	ck_assert_int_ge(daemon_count_fds(daemon_pid(d)), 3);
	ck_assert_int_ge(daemon_count_threads(daemon_pid(d)), 1);
	ck_assert_int_eq(daemon_exited(d, &status), 0);
	ck_assert_int_eq(daemon_stop(d, SIGTERM, ITEST_IO_MS, &status), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 7);
	ck_assert_int_ne(stat(dir, &st), 0);
	remove_script();
}
END_TEST

START_TEST(runner_exit_before_listening)
{
	struct daemon_proc *d = NULL;

	write_script("echo 'bad config' >&2; exit 2\n");
	ck_assert_int_eq(daemon_start(&d, "", NULL, ITEST_IO_MS),
	    DAEMON_ERR_EXITED);
	ck_assert_ptr_null(d);
	remove_script();
}
END_TEST

START_TEST(runner_kills_after_timeout)
{
	struct daemon_proc *d;
	int status;

	write_script("trap '' TERM\necho 'listening on 127.0.0.1:1'\n"
	    "while :; do sleep 0.02; done\n");
	ck_assert_int_eq(daemon_start(&d, "", NULL, ITEST_IO_MS), 0);
	ck_assert_uint_eq(daemon_port(d, AF_INET), 1);
	ck_assert_int_eq(daemon_stop(d, SIGTERM, 200, &status),
	    DAEMON_ERR_TIMEOUT);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	remove_script();
}
END_TEST

START_TEST(runner_start_timeout)
{
	struct daemon_proc *d = NULL;

	write_script("while :; do sleep 0.02; done\n");
	ck_assert_int_eq(daemon_start(&d, "", NULL, 200), DAEMON_ERR_TIMEOUT);
	ck_assert_ptr_null(d);
	remove_script();
}
END_TEST

START_TEST(runner_run)
{
	static const char *const args[] = { "--print-links", NULL };
	char out[256];
	int status;

	write_script("echo \"$*\"; cat \"$2\" >&2; exit 3\n");
	ck_assert_int_eq(daemon_run(args, "x = 1\n", out, sizeof(out), &status,
	    ITEST_IO_MS), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 3);
	ck_assert_ptr_nonnull(strstr(out, "--print-links"));
	ck_assert_ptr_nonnull(strstr(out, "x = 1"));
	ck_assert_int_eq(daemon_run(args, NULL, out, 8, &status,
	    ITEST_IO_MS), 0);
	ck_assert_str_eq(out, "--print");
	remove_script();
}
END_TEST

START_TEST(runner_needs_binary)
{
	struct daemon_proc *d = NULL;
	char out[8];
	int status;

	ck_assert_int_eq(unsetenv("MTPROXYD_BIN"), 0);
	ck_assert_int_eq(daemon_start(&d, "", NULL, 100), DAEMON_ERR_NOBIN);
	ck_assert_int_eq(daemon_run(NULL, NULL, out, sizeof(out), &status,
	    100), DAEMON_ERR_NOBIN);
}
END_TEST

/*
 * Only this build tree's daemon runs: the real one also through a symlink,
 * another program only with DAEMON_BIN_ANY set, nothing not executable.
 */
START_TEST(runner_checks_binary)
{
	static const char *const args[] = { "--version", NULL };
	char *real = strdup(getenv("MTPROXYD_BIN"));
	char link[sizeof(script_dir) + 16], fake[sizeof(script_dir) + 16];
	struct daemon_proc *d = NULL;
	char out[256];
	int status;

	ck_assert_ptr_nonnull(real);
	write_script("echo 'listening on 127.0.0.1:1'\n");
	snprintf(fake, sizeof(fake), "%s/fake", script_dir);
	snprintf(link, sizeof(link), "%s/link", script_dir);
	ck_assert_int_eq(unsetenv(DAEMON_BIN_ANY), 0);
	ck_assert_int_eq(daemon_start(&d, "", NULL, ITEST_IO_MS),
	    DAEMON_ERR_BIN);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(daemon_run(args, NULL, out, sizeof(out), &status,
	    ITEST_IO_MS), DAEMON_ERR_BIN);
	ck_assert_int_eq(symlink(real, link), 0);
	ck_assert_int_eq(setenv("MTPROXYD_BIN", link, 1), 0);
	ck_assert_int_eq(daemon_run(args, NULL, out, sizeof(out), &status,
	    ITEST_IO_MS), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(strstr(out, "mtproxyd "));
	ck_assert_int_eq(setenv("MTPROXYD_BIN", fake, 1), 0);
	ck_assert_int_eq(setenv(DAEMON_BIN_ANY, "1", 1), 0);
	ck_assert_int_eq(daemon_run(args, NULL, out, sizeof(out), &status,
	    ITEST_IO_MS), 0);
	ck_assert_str_eq(out, "listening on 127.0.0.1:1\n");
	ck_assert_int_eq(chmod(fake, 0600), 0);
	ck_assert_int_eq(daemon_run(args, NULL, out, sizeof(out), &status,
	    ITEST_IO_MS), DAEMON_ERR_BIN);
	ck_assert_int_eq(unlink(link), 0);
	remove_script();
	free(real);
}
END_TEST

static Suite *
harness_suite(void)
{
	Suite *s = suite_create("harness");
	TCase *dc = tcase_create("fakedc"), *cl = tcase_create("client");
	TCase *rn = tcase_create("runner");

	tcase_set_timeout(dc, ITEST_CASE_S);
	tcase_set_timeout(cl, ITEST_CASE_S);
	tcase_set_timeout(rn, ITEST_CASE_S);
	tcase_add_loop_test(dc, echo_every_size, 0, 6);
	tcase_add_test(dc, echo_pipelined);
	tcase_add_test(dc, echo_batched);
	tcase_add_test(dc, echo_bad_frame_closes);
	tcase_add_test(dc, bad_header_closes);
	tcase_add_test(dc, sink_counts);
	tcase_add_test(dc, source_streams);
	tcase_add_loop_test(dc, pattern_source, 0, 2);
	tcase_add_test(dc, blackhole_silent);
	tcase_add_loop_test(dc, closed_port_refuses, 0, 2);
	tcase_add_test(dc, close_all_drops_peers);
	tcase_add_test(dc, start_stop_no_leak);
	tcase_add_loop_test(cl, client_echo, 0, 3);
	tcase_add_test(cl, client_fixed_padding);
	tcase_add_test(cl, client_toobig_then_retry);
	tcase_add_test(rn, runner_start_stop);
	tcase_add_test(rn, runner_exit_before_listening);
	tcase_add_test(rn, runner_kills_after_timeout);
	tcase_add_test(rn, runner_start_timeout);
	tcase_add_test(rn, runner_run);
	tcase_add_test(rn, runner_needs_binary);
	tcase_add_test(rn, runner_checks_binary);
	suite_add_tcase(s, dc);
	suite_add_tcase(s, cl);
	suite_add_tcase(s, rn);
	return s;
}

Suite *
ckmain_suite(void)
{
	return harness_suite();
}
