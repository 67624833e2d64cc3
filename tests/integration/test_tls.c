/*
 * fake-TLS ("ee" secrets) and the cover site, end to end (doc/PROTOCOL.md 3).
 *
 * First the harness on its own: the test client's fake-TLS mode against a
 * small server built here from the faketls and obfs2 codecs, and the cover
 * site runner. Then the real mtproxyd ($MTPROXYD_BIN) between the client,
 * the fake DC and a cover site: an app with the ee secret gets its frames
 * through byte for byte however its hello arrives; everything else - a
 * replayed hello, a wrong secret, a stale or future time, another SNI,
 * garbage, a plain obfuscated2 client - reaches the cover site with its
 * bytes untouched and gets the cover site's answer; curl through the proxy
 * sees the cover's page and certificate; the masked path carries 10 MB
 * both ways and passes FINs on. Every daemon exits 0 on SIGTERM and never
 * logs a secret outside its links.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ckmain.h"
#include "client.h"
#include "cover.h"
#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "faketls.h"
#include "itest.h"
#include "obfs2.h"
#include "proto.h"
#include "secret.h"
#include "tclock.h"

/* Generous: the suite also runs under ASan and TSan. */
#define PROMPT_MS	3000	/* a close that should be immediate */
#define QUIET_MS	700	/* a cover site has said all it will */
#define DROP_MS		1000	/* unknown_sni = drop: half the handshake
				   deadline at least */

#define DOMAIN		"cover.test"
#define OTHER_DOMAIN	"other.test"
/* Distinctive secrets, so that a leak into the log cannot hide. */
#define ALICE_HEX	"7e1a5c3f9b0d2e4f6a8c1b3d5e7f9012"
#define WRONG_HEX	"0123456789abcdeffedcba9876543210"

#define MSG_MAX		FRAME_MAX_LEN
#define BULK_LEN	(10 * 1024 * 1024)
#define RESP_MAX	(64 * 1024)
/* Masked relay limits: bytes per round, the cap, the time cap. */
#define MASK_CHUNK	4096
#define MASK_CAP	65536
#define MASK_TIMEOUT_S	2
#define MASK_TICK_MS	100

static void
loopback(uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
}

static int
have_program(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* A cover site, or NULL (the test skips) when openssl is missing. */
static struct cover *
site_start(void)
{
	struct cover *cv = NULL;
	int rc = cover_start(&cv, DOMAIN, ITEST_IO_MS);

	if (rc == COVER_ERR_NOOPENSSL) {
		itest_skip("no openssl in PATH: no cover site");
		return NULL;
	}
	ck_assert_int_eq(rc, 0);
	return cv;
}

/*
 * Send msg[0..len) and check its echo: the same bytes and then at most
 * PADDED_MAX_PAD bytes of the sender's padding.
 */
static void
echo_one(struct tclient *c, const uint8_t *msg, size_t len, uint8_t *got)
{
	size_t n = 0;

	ck_assert_int_eq(tclient_set_padding(c,
	    len + PADDED_MAX_PAD > FRAME_MAX_LEN ? 0 : -1), 0);
	ck_assert_int_eq(tclient_send(c, msg, len, 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, MSG_MAX, &n, ITEST_IO_MS), 0);
	ck_assert_uint_ge(n, len);
	ck_assert_uint_le(n - len, PADDED_MAX_PAD);
	ck_assert_mem_eq(got, msg, len);
}

static const size_t all_sizes[] = { 4, 8, 12, 504, 1000, 4096, 16380,
    16384, 16388, 65536, 100000, 1000000, FRAME_MAX_LEN };
static const size_t few_sizes[] = { 4, 1000, 16388, 100000 };

static void
echo_sizes(struct tclient *c, const size_t *sizes, size_t n)
{
	uint8_t *msg = itest_random_bytes(MSG_MAX + 64), *got = malloc(MSG_MAX);
	size_t i;

	ck_assert_ptr_nonnull(got);
	for (i = 0; i < n; i++)
		echo_one(c, msg + i, sizes[i], got);
	free(msg);
	free(got);
}

/* ---- a fake-TLS server from the codecs, for the harness's own tests */

#define FTS_HELLO_CAP	FAKETLS_HELLO_MAX
#define FTS_APP_LEN	2500	/* doc/PROTOCOL.md 3.4's fallback size */

struct fts {
	int lfd;
	uint16_t port;
	uint8_t secret[SECRET_LEN];
	uint8_t reply_key[SECRET_LEN];	/* signs the reply: secret, or not */
	int corrupt;		/* flip a bit in the reply */
	int alert;		/* answer the header with an alert record */
	size_t wrap_max;	/* payload per record to the client */
	pthread_t thread;
	/* results, read after the join */
	int failed_line;	/* 0, or the line of the check that failed */
	int got_header;
	size_t hello_records, early, records, max_record;
	uint32_t ts, tag;
	int16_t dc;
	char sni[TLS_SNI_MAX + 1];
	uint64_t bytes;		/* plaintext after the header */
	/* the session */
	struct faketls_reader rd;
	uint8_t hdr[OBFS2_HEADER_LEN];
	size_t hdr_have;
	crypto_ctr *rc, *wc;
	uint8_t *out;		/* records queued for the client */
	size_t out_off, out_len, out_cap;
};

#define FTS_CHECK(cond)	do { if (!(cond)) return __LINE__; } while (0)

static int
fts_queue(struct fts *f, const uint8_t *plain, size_t n)
{
	size_t need;
	uint8_t *enc, *p;

	if (n == 0)
		return 0;
	FTS_CHECK((enc = malloc(n)) != NULL);
	FTS_CHECK(crypto_ctr_apply(f->wc, plain, enc, n) == 0);
	FTS_CHECK(faketls_wrap_len(n, f->wrap_max, &need) == 0);
	if (f->out_cap - f->out_len < need) {
		FTS_CHECK((p = realloc(f->out, f->out_len + need)) != NULL);
		f->out = p;
		f->out_cap = f->out_len + need;
	}
	FTS_CHECK(faketls_wrap(enc, n, f->wrap_max, f->out + f->out_len,
	    need, &need) == 0);
	f->out_len += need;
	free(enc);
	return 0;
}

/* Client payload: the header first, then the stream to echo. */
static int
fts_payload(struct fts *f, const uint8_t *p, size_t n)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02,
	    0x28 };
	struct obfs2_result r;
	uint8_t *plain;
	size_t k;
	int rc;

	if (f->hdr_have < OBFS2_HEADER_LEN) {
		k = OBFS2_HEADER_LEN - f->hdr_have < n ?
		    OBFS2_HEADER_LEN - f->hdr_have : n;
		memcpy(f->hdr + f->hdr_have, p, k);
		f->hdr_have += k;
		p += k;
		n -= k;
		if (f->hdr_have < OBFS2_HEADER_LEN)
			return 0;
		FTS_CHECK(obfs2_parse(f->hdr,
		    (const uint8_t (*)[SECRET_LEN])f->secret, 1, &r) == 0);
		f->tag = r.tag;
		f->dc = r.dc;
		f->got_header = 1;
		FTS_CHECK(crypto_ctr_new(&f->rc, r.keys.rkey, r.keys.riv) == 0);
		FTS_CHECK(crypto_ctr_skip(f->rc, OBFS2_HEADER_LEN) == 0);
		FTS_CHECK(crypto_ctr_new(&f->wc, r.keys.wkey, r.keys.wiv) == 0);
		if (f->alert) {
			FTS_CHECK((f->out = malloc(sizeof(alert))) != NULL);
			memcpy(f->out, alert, sizeof(alert));
			f->out_len = f->out_cap = sizeof(alert);
		}
	}
	if (n == 0 || f->alert)
		return 0;
	FTS_CHECK((plain = malloc(n)) != NULL);
	FTS_CHECK(crypto_ctr_apply(f->rc, p, plain, n) == 0);
	f->bytes += n;
	rc = fts_queue(f, plain, n);
	free(plain);
	return rc;
}

/* Bytes from the client after the hello: records (doc/PROTOCOL.md 3.5). */
static int
fts_feed(struct fts *f, const uint8_t *in, size_t len)
{
	const uint8_t *p;
	size_t used, n;
	int rc;

	while (len > 0) {
		FTS_CHECK(faketls_reader_next(&f->rd, in, len, &used, &p,
		    &n) == 0);
		/* A header just completed: a new ApplicationData record. */
		if (n == 0 && f->rd.hdr_have == 0 &&
		    f->rd.type == TLS_RECORD_APPDATA && f->rd.left ==
		    (size_t)(f->rd.hdr[3] << 8 | f->rd.hdr[4])) {
			f->records++;
			if (f->rd.left > f->max_record)
				f->max_record = f->rd.left;
		}
		if (n > 0 && (rc = fts_payload(f, p, n)) != 0)
			return rc;
		in += used;
		len -= used;
	}
	return 0;
}

static int
fts_reply(struct fts *f, int fd, const struct faketls_hello *h)
{
	uint8_t priv[TLS_X25519_LEN], ks[TLS_X25519_LEN];
	uint8_t fill[FTS_APP_LEN], out[FTS_APP_LEN + 512];
	size_t app = FTS_APP_LEN, len;
	struct faketls_reply rp = { ks, 0, &app, 1, fill,
	    TLS_GROUP_X25519 };

	FTS_CHECK(crypto_random(priv, sizeof(priv)) == 0);
	FTS_CHECK(crypto_x25519_public(priv, ks) == 0);
	FTS_CHECK(crypto_random(fill, sizeof(fill)) == 0);
	FTS_CHECK(faketls_reply_build(f->reply_key, h, &rp, out, sizeof(out),
	    &len) == 0);
	if (f->corrupt)
		out[len - 1] ^= 1;
	FTS_CHECK(send(fd, out, len, MSG_NOSIGNAL) == (ssize_t)len);
	return 0;
}

/* The hello, whole, and whatever came with it. */
static int
fts_hello(struct fts *f, int fd, uint8_t *buf, size_t *len,
    struct faketls_hello *h)
{
	struct faketls_match m;
	ssize_t r;
	int rc;

	*len = 0;
	do {
		r = recv(fd, buf + *len, FTS_HELLO_CAP - *len, 0);
		FTS_CHECK(r > 0);
		*len += (size_t)r;
	} while ((rc = faketls_hello_parse(buf, *len, h)) ==
	    FAKETLS_NEED_MORE);
	FTS_CHECK(rc == 0);
	f->hello_records = h->nrecords;
	f->early = *len - h->wire_len;
	snprintf(f->sni, sizeof(f->sni), "%s", h->sni);
	FTS_CHECK(faketls_hello_verify(buf, h,
	    (const uint8_t (*)[SECRET_LEN])f->secret, 1, &m) == 0);
	f->ts = m.ts;
	return 0;
}

/* Echo until the client closes; writes never block the reads. */
static int
fts_relay(struct fts *f, int fd)
{
	struct pollfd p = { .fd = fd };
	uint8_t buf[65536];
	ssize_t r;
	int rc;

	FTS_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	for (;;) {
		p.events = POLLIN | (f->out_off < f->out_len ? POLLOUT : 0);
		FTS_CHECK(poll(&p, 1, ITEST_IO_MS) == 1);
		if (p.revents & POLLOUT) {
			r = send(fd, f->out + f->out_off,
			    f->out_len - f->out_off, MSG_NOSIGNAL);
			FTS_CHECK(r > 0 || errno == EAGAIN);
			if (r > 0 && (f->out_off += (size_t)r) == f->out_len)
				f->out_off = f->out_len = 0;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 0;
		FTS_CHECK(r > 0 || errno == EAGAIN);
		if (r > 0 && (rc = fts_feed(f, buf, (size_t)r)) != 0)
			return rc;
	}
}

static int
fts_serve(struct fts *f)
{
	struct timeval tv = { ITEST_IO_MS / 1000, 0 };
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	struct faketls_hello h;
	uint8_t *buf;
	size_t len;
	int fd, rc;

	FTS_CHECK(poll(&p, 1, ITEST_IO_MS) == 1);
	FTS_CHECK((fd = accept(f->lfd, NULL, NULL)) >= 0);
	FTS_CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == 0);
	faketls_reader_init(&f->rd);
	if ((buf = malloc(FTS_HELLO_CAP)) == NULL)
		rc = __LINE__;
	else if ((rc = fts_hello(f, fd, buf, &len, &h)) == 0 &&
	    (rc = fts_reply(f, fd, &h)) == 0 &&
	    (rc = fts_feed(f, buf + h.wire_len, len - h.wire_len)) == 0)
		rc = fts_relay(f, fd);
	free(buf);
	close(fd);
	return rc;
}

static void *
fts_run(void *arg)
{
	struct fts *f = arg;

	f->failed_line = fts_serve(f);
	return NULL;
}

static struct fts *
fts_start(const char *hex)
{
	struct sockaddr_storage ss;
	struct fts *f = calloc(1, sizeof(*f));
	socklen_t len;

	ck_assert_ptr_nonnull(f);
	itest_key(hex, f->secret);
	memcpy(f->reply_key, f->secret, SECRET_LEN);
	f->wrap_max = 1425;	/* doc/PROTOCOL.md 3.5 */
	loopback(0, &ss, &len);
	ck_assert_int_ge(f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0), 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&ss, len), 0);
	ck_assert_int_eq(listen(f->lfd, 4), 0);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&ss, &len),
	    0);
	f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return f;
}

static void
fts_go(struct fts *f)
{
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fts_run, f), 0);
}

static void
fts_join(struct fts *f)
{
	ck_assert_int_eq(pthread_join(f->thread, NULL), 0);
	close(f->lfd);
	crypto_ctr_free(f->rc);
	crypto_ctr_free(f->wc);
	free(f->out);
}

static int
fts_connect(const struct fts *f, const char *hex,
    const struct tclient_tls_opts *o, struct tclient **c)
{
	struct sockaddr_storage ss;
	uint8_t key[SECRET_LEN];
	socklen_t len;

	loopback(f->port, &ss, &len);
	itest_key(hex, key);
	return tclient_connect_tls((struct sockaddr *)&ss, len, key, DOMAIN,
	    -2, o, ITEST_IO_MS, c);
}

/*
 * _i: 0 as TDLib, 1 hello in two records, 2 hello in two writes 100 ms
 * apart, 3 header and data before the reply, 4 our records of random sizes
 * up to 100 bytes and the server's of 7, 5 an intermediate (ee) header
 * inside the records. Every size echoes; the server saw what the options
 * promise.
 */
START_TEST(client_against_codec_server)
{
	struct tclient_tls_opts o = { 0 };
	struct fts *f = fts_start(ALICE_HEX);
	struct tclient *c;
	size_t hlen;

	if (_i == 1)
		o.record_split = 300;
	if (_i == 2) {
		o.write_split = 200;
		o.write_delay_ms = 100;
	}
	o.early = _i == 3;
	if (_i == 4)
		f->wrap_max = 7;
	if (_i == 5)
		o.inner_tag = PROTO_TAG_INTERMEDIATE;
	o.ts_offset = -100;
	fts_go(f);
	ck_assert_int_eq(fts_connect(f, ALICE_HEX, &o, &c), 0);
	ck_assert_ptr_nonnull(tclient_tls_hello(c, &hlen));
	ck_assert_uint_eq(hlen, FAKETLS_TDLIB_HELLO_LEN +
	    (_i == 1 ? TLS_RECORD_HEADER_LEN : 0));
	if (_i == 4)
		ck_assert_int_eq(tclient_set_records(c, 100, 1), 0);
	echo_sizes(c, _i >= 4 ? few_sizes : all_sizes, _i >= 4 ?
	    sizeof(few_sizes) / sizeof(few_sizes[0]) :
	    sizeof(all_sizes) / sizeof(all_sizes[0]));
	tclient_close(c);
	fts_join(f);
	ck_assert_int_eq(f->failed_line, 0);
	ck_assert_int_eq(f->got_header, 1);
	ck_assert_uint_eq(f->tag, _i == 5 ? PROTO_TAG_INTERMEDIATE :
	    PROTO_TAG_PADDED);
	ck_assert_int_eq(f->dc, -2);
	ck_assert_str_eq(f->sni, DOMAIN);
	ck_assert_uint_eq(f->hello_records, _i == 1 ? 2 : 1);
	/*
	 * One write of hello, CCS and header: one read on loopback (which
	 * may take the first frame's write too).
	 */
	if (_i == 3)
		ck_assert_uint_ge(f->early, FAKETLS_CCS_LEN +
		    TLS_RECORD_HEADER_LEN + OBFS2_HEADER_LEN);
	else
		ck_assert_uint_eq(f->early, 0);
	ck_assert_int_le(abs((int)((int64_t)f->ts - time(NULL) + 100)), 2);
	ck_assert_uint_le(f->max_record, _i == 4 ? 100 : TLS_PLAINTEXT_MAX);
	if (_i != 4)	/* full records for the 1 MB frames */
		ck_assert_uint_eq(f->max_record, TLS_PLAINTEXT_MAX);
	else		/* random sizes: many records */
		ck_assert_uint_gt(f->records, 100000 / 100);
	free(f);
}
END_TEST

/*
 * A reply with one bit flipped is not the proxy's: TCLIENT_ERR_TLS at
 * connect, or with early at the first read.
 */
START_TEST(client_rejects_bad_reply)
{
	struct tclient_tls_opts o = { .early = _i };
	static const uint8_t msg[16] = "never echoed";
	struct fts *f = fts_start(ALICE_HEX);
	struct tclient *c = NULL;
	uint8_t got[64];
	size_t n;

	f->corrupt = 1;
	fts_go(f);
	if (_i == 0)
		ck_assert_int_eq(fts_connect(f, ALICE_HEX, &o, &c),
		    TCLIENT_ERR_TLS);
	else {
		ck_assert_int_eq(fts_connect(f, ALICE_HEX, &o, &c), 0);
		ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
		ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n,
		    ITEST_IO_MS), TCLIENT_ERR_TLS);
		tclient_close(c);
	}
	fts_join(f);
	free(f);
}
END_TEST

/* A reply signed with another secret is not the proxy's either. */
START_TEST(client_rejects_other_secret)
{
	struct fts *f = fts_start(ALICE_HEX);
	struct tclient *c = NULL;

	itest_key(WRONG_HEX, f->reply_key);
	fts_go(f);
	ck_assert_int_eq(fts_connect(f, ALICE_HEX, NULL, &c),
	    TCLIENT_ERR_TLS);
	fts_join(f);
	ck_assert_int_eq(f->failed_line, 0);
	ck_assert_int_eq(f->got_header, 0);
	free(f);
}
END_TEST

/* After the handshake only 17 03 03 records: an alert is an error. */
START_TEST(client_rejects_alert_record)
{
	static const uint8_t msg[20] = "answered by alert";
	struct fts *f = fts_start(ALICE_HEX);
	struct tclient *c;
	uint8_t got[64];
	size_t n;

	f->alert = 1;
	fts_go(f);
	ck_assert_int_eq(fts_connect(f, ALICE_HEX, NULL, &c), 0);
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    TCLIENT_ERR_TLS);
	tclient_close(c);
	fts_join(f);
	ck_assert_int_eq(f->failed_line, 0);
	free(f);
}
END_TEST

/* Hellos for tclient_connect_raw: signed, fresh, with the time asked. */
START_TEST(client_hello_build)
{
	uint8_t key[SECRET_LEN], a[FAKETLS_BUILD_MAX], b[FAKETLS_BUILD_MAX];
	struct faketls_hello h;
	struct faketls_match m;
	size_t alen, blen;

	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_tls_hello_build(key, OTHER_DOMAIN, 3600, 0,
	    a, sizeof(a), &alen), 0);
	ck_assert_int_eq(tclient_tls_hello_build(key, OTHER_DOMAIN, 3600, 0,
	    b, sizeof(b), &blen), 0);
	ck_assert_uint_eq(alen, FAKETLS_TDLIB_HELLO_LEN);
	ck_assert_uint_eq(blen, alen);
	ck_assert_int_ne(memcmp(a, b, alen), 0);
	ck_assert_int_eq(faketls_hello_parse(a, alen, &h), 0);
	ck_assert_str_eq(h.sni, OTHER_DOMAIN);
	ck_assert_int_eq(faketls_hello_verify(a, &h,
	    (const uint8_t (*)[SECRET_LEN])key, 1, &m), 0);
	ck_assert_int_le(abs((int)((int64_t)m.ts - time(NULL) - 3600)), 2);
	ck_assert_int_eq(tclient_tls_hello_build(key, "bad domain", 0, 0, a,
	    sizeof(a), &alen), TCLIENT_ERR_ARG);
}
END_TEST

/* ---- the cover site runner */

/* popen's output, whole, NUL-terminated. */
static char *
run_output(const char *cmd)
{
	size_t len = 0, cap = 65536, n;
	char *buf = malloc(cap);
	FILE *f = popen(cmd, "r");

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(f);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0)
		len += n;
	buf[len] = '\0';
	pclose(f);
	return buf;
}

/* The SHA-256 fingerprint of the certificate a TLS server at port shows. */
static char *
served_fingerprint(uint16_t port)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "timeout 20 openssl s_client -connect "
	    "127.0.0.1:%u -servername " DOMAIN " </dev/null 2>/dev/null | "
	    "openssl x509 -noout -fingerprint -sha256 2>&1", (unsigned)port);
	return run_output(cmd);
}

static char *
file_fingerprint(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -fingerprint "
	    "-sha256 2>&1", path);
	return run_output(cmd);
}

/* curl https://DOMAIN:port/index.html, trusting only the cover's cert. */
static char *
curl_page(uint16_t port, const char *cert)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "curl -s --max-time 20 --resolve "
	    DOMAIN ":%u:127.0.0.1 --cacert %s https://" DOMAIN
	    ":%u/index.html 2>&1", (unsigned)port, cert, (unsigned)port);
	return run_output(cmd);
}

static void
check_fingerprint(uint16_t port, const char *cert)
{
	char *want = file_fingerprint(cert), *got = served_fingerprint(port);

	ck_assert_msg(strstr(want, "Fingerprint=") != NULL, "x509: %s", want);
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
}

/* Random bytes that cannot start a TLS record. */
static void
garbage(uint8_t *buf, size_t len)
{
	ck_assert_int_eq(crypto_random(buf, len), 0);
	if (buf[0] == TLS_RECORD_HANDSHAKE)
		buf[0] ^= 0x80;
}

/*
 * The site serves its page and certificate, sees every connection and its
 * bytes, and answers garbage by closing, a bad TLS record with an alert.
 */
START_TEST(cover_site_serves)
{
	static const uint8_t bad_record[] = { 0x16, 0x03, 0x01, 0x00, 0x05,
	    'h', 'e', 'l', 'l', 'o' };
	struct sockaddr_storage ss;
	struct cover *cv = site_start();
	uint8_t junk[300], resp[RESP_MAX];
	socklen_t len;
	size_t n;
	int closed, conns = 3;	/* the fingerprint, junk, the bad record */
	char *page;

	if (cv == NULL)
		return;
	ck_assert_ptr_nonnull(cover_marker(cv));
	ck_assert_int_eq(access(cover_cert_path(cv), R_OK), 0);
	check_fingerprint(cover_port(cv), cover_cert_path(cv));
	if (have_program("curl")) {
		page = curl_page(cover_port(cv), cover_cert_path(cv));
		ck_assert_msg(strstr(page, cover_marker(cv)) != NULL,
		    "curl: %s", page);
		free(page);
		conns++;
	} else
		itest_skip("no curl in PATH: page not checked");
	loopback(cover_port(cv), &ss, &len);
	garbage(junk, sizeof(junk));
	ck_assert_int_eq(cover_exchange((struct sockaddr *)&ss, len, junk,
	    sizeof(junk), resp, sizeof(resp), &n, &closed, QUIET_MS,
	    ITEST_IO_MS), 0);
	ck_assert_int_eq(closed, 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(cover_seen(cv, junk, sizeof(junk)), 1);
	ck_assert_int_eq(cover_exchange((struct sockaddr *)&ss, len,
	    bad_record, sizeof(bad_record), resp, sizeof(resp), &n, &closed,
	    QUIET_MS, ITEST_IO_MS), 0);
	ck_assert_uint_ge(n, 7);
	ck_assert_mem_eq(resp, "\x15\x03\x03\x00\x02\x02", 6);
	ck_assert_int_eq(cover_seen(cv, bad_record, sizeof(bad_record)), 1);
	ck_assert_int_eq(cover_wait(cv, COVER_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_ge(cover_counter(cv, COVER_ACCEPTED), conns);
	cover_stop(cv);
}
END_TEST

/*
 * The echo: bytes back as sent, a FIN answered with a FIN once all is
 * back, and cover_close_all's FIN seen by the peer as EOF.
 */
START_TEST(cover_echo_works)
{
	enum { N = 200000 };
	struct sockaddr_storage ss;
	uint8_t *data = itest_random_bytes(N), *resp = malloc(N + 1);
	struct tclient *c;
	struct cover *cv;
	socklen_t len;
	size_t n, got;
	int closed;

	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	ck_assert_ptr_null(cover_cert_path(cv));
	loopback(cover_port(cv), &ss, &len);
	ck_assert_int_eq(cover_exchange((struct sockaddr *)&ss, len, data, N,
	    resp, N + 1, &n, &closed, QUIET_MS, ITEST_IO_MS), 0);
	ck_assert_uint_eq(n, N);
	ck_assert_mem_eq(resp, data, N);
	ck_assert_int_eq(cover_seen(cv, data, COVER_SEEN_MAX), 1);

	/* Half-close: all comes back, then the echo's FIN. */
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&ss, len,
	    data, 1000, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(shutdown(tclient_fd(c), SHUT_WR), 0);
	for (n = 0; n < 1000; n += got)
		ck_assert_int_eq(tclient_read_raw(c, resp + n, N - n, &got, 0,
		    ITEST_IO_MS), 0);
	ck_assert_mem_eq(resp, data, 1000);
	ck_assert_int_eq(tclient_wait_closed(c, PROMPT_MS), 0);
	tclient_close(c);
	ck_assert_int_eq(cover_wait(cv, COVER_EOFS, 1, ITEST_IO_MS), 0);

	/* The site closes first. */
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&ss, len,
	    data, 10, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_read_raw(c, resp, N, &n, 0, ITEST_IO_MS), 0);
	ck_assert_int_eq(cover_wait(cv, COVER_OPEN, 1, ITEST_IO_MS), 0);
	cover_close_all(cv);
	ck_assert_int_eq(tclient_wait_closed(c, PROMPT_MS), 0);
	tclient_close(c);
	ck_assert_int_eq(cover_wait(cv, COVER_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_eq(cover_counter(cv, COVER_ACCEPTED), 3);
	cover_stop(cv);
	free(data);
	free(resp);
}
END_TEST

/* ---- the daemon */

struct env {
	struct fakedc *dc;
	struct cover *cv;
	struct daemon_proc *d;
	struct sockaddr_storage ss;	/* the proxy */
	socklen_t len;
	struct sockaddr_storage cs;	/* the cover, directly */
	socklen_t clen;
	uint8_t key[SECRET_LEN];
};

/* The links printed at start carry the secret on purpose; no other line. */
static const char *const secrets[] = { ALICE_HEX };

static void
env_stop(struct env *e)
{
	itest_stop(e->d, secrets, 1, ITEST_STOP_MS);
	fakedc_stop(e->dc);
	cover_stop(e->cv);
}

/*
 * The fake DC, the cover (cv, already started) and mtproxyd with fake-TLS
 * for DOMAIN masking to the cover; extra goes into [server], tls_extra
 * into [tls].
 */
static void
env_start_tls(struct env *e, struct cover *cv, const char *extra,
    const char *tls_extra)
{
	struct fakedc_opts o = { .family = AF_INET, .mode = FAKEDC_ECHO };
	char conf[2048];
	int n;

	memset(e, 0, sizeof(*e));
	e->cv = cv;
	ck_assert_int_eq(fakedc_start(&o, &e->dc), 0);
	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "handshake_timeout = 2\n"
	    "dc_pool = 0\n"		/* the DC counts client sessions only */
	    "%s"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n"
	    "[dc]\n"
	    "2 = 127.0.0.1:%u\n"
	    "[tls]\n"
	    "domain = " DOMAIN "\n"
	    "mask_host = 127.0.0.1\n"
	    "mask_port = %u\n"
	    "mask_probe_interval = 0\n"
	    "%s",
	    extra, (unsigned)fakedc_port(e->dc), (unsigned)cover_port(cv),
	    tls_extra);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&e->d, conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_addr(e->d, AF_INET, &e->ss, &e->len), 0);
	loopback(cover_port(cv), &e->cs, &e->clen);
	itest_key(ALICE_HEX, e->key);
}

static void
env_start(struct env *e, struct cover *cv, const char *extra)
{
	env_start_tls(e, cv, extra, "");
}

static struct tclient *
tls_open(const struct env *e, const struct tclient_tls_opts *o)
{
	struct tclient *c = NULL;

	ck_assert_int_eq(tclient_connect_tls((const struct sockaddr *)&e->ss,
	    e->len, e->key, DOMAIN, 2, o, ITEST_IO_MS, &c), 0);
	return c;
}

/* Counter name from a fresh SIGUSR1 report ("stats: NAME VALUE"). */
static long long
counter(const struct env *e, const char *name)
{
	return itest_counter(e->d, name, ITEST_IO_MS);
}

static void
wait_counter(const struct env *e, const char *name, long long want)
{
	itest_wait_counter(e->d, name, want, ITEST_IO_MS, ITEST_IO_MS);
}

/*
 * _i: fast mode off, on. An app with the ee secret: every size through the
 * proxy and the echo DC; then the hello in two records, in two writes, the
 * header and a frame before the reply, and records of random sizes.
 */
START_TEST(tls_echo)
{
	struct tclient_tls_opts split_rec = { .record_split = 200 };
	struct tclient_tls_opts split_write = { .write_split = 300,
	    .write_delay_ms = 150 };
	struct tclient_tls_opts early = { .early = 1 };
	struct cover *cv;
	struct tclient *c;
	uint32_t tag = 0;
	int16_t dcid = 0;
	struct env e;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, _i ? "fast_mode = yes\n" : "fast_mode = no\n");
	c = tls_open(&e, NULL);
	echo_sizes(c, all_sizes, sizeof(all_sizes) / sizeof(all_sizes[0]));
	tclient_close(c);
	fakedc_last_header(e.dc, &tag, &dcid);
	ck_assert_uint_eq(tag, PROTO_TAG_PADDED);
	ck_assert_int_eq(dcid, 2);

	c = tls_open(&e, &split_rec);
	echo_sizes(c, few_sizes, sizeof(few_sizes) / sizeof(few_sizes[0]));
	tclient_close(c);
	c = tls_open(&e, &split_write);
	echo_sizes(c, few_sizes, sizeof(few_sizes) / sizeof(few_sizes[0]));
	tclient_close(c);
	c = tls_open(&e, &early);
	echo_sizes(c, few_sizes, sizeof(few_sizes) / sizeof(few_sizes[0]));
	tclient_close(c);
	c = tls_open(&e, NULL);
	ck_assert_int_eq(tclient_set_records(c, 1000, 1), 0);
	echo_sizes(c, few_sizes, sizeof(few_sizes) / sizeof(few_sizes[0]));
	tclient_close(c);

	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_HEADERS), 5);
	ck_assert_int_eq(fakedc_wait(e.dc, FAKEDC_OPEN, 0, ITEST_IO_MS), 0);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "handshakes"), 5);
	ck_assert_int_eq(counter(&e, "masked"), 0);
	env_stop(&e);
}
END_TEST

/*
 * Fast mode: DC->client bytes of a fake-TLS client still go through a
 * buffer to be put in records, never spliced through a pipe. Both
 * directions hold a buffer while an echo runs (a report may come after
 * they were handed back, so a few rounds are allowed).
 */
START_TEST(tls_copy_path)
{
	const char *last = "user_bytes_out{user=\"alice\"}";
	unsigned long long buffers = 0;
	struct cover *cv;
	struct tclient *c;
	struct env e;
	char *report;
	int round;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, "fast_mode = yes\n");
	c = tls_open(&e, NULL);
	for (round = 0; round < 10 && buffers != 2; round++) {
		echo_sizes(c, few_sizes,
		    sizeof(few_sizes) / sizeof(few_sizes[0]));
		report = itest_stats(e.d, last, ITEST_IO_MS);
		buffers = itest_stats_value(report, "relay_buffers");
		ck_assert_uint_eq(itest_stats_value(report, "relay_pipes"), 0);
		free(report);
	}
	ck_assert_uint_eq(buffers, 2);
	tclient_close(c);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "relay_buffers"), 0);
	env_stop(&e);
}
END_TEST

/*
 * curl through the proxy port gets the cover site's page, and a TLS
 * client sees the cover site's own certificate.
 */
START_TEST(mask_curl_and_certificate)
{
	struct cover *cv = site_start();
	uint16_t port;
	struct env e;
	char *page;

	if (cv == NULL)
		return;
	env_start(&e, cv, "");
	port = (uint16_t)daemon_port(e.d, AF_INET);
	check_fingerprint(port, cover_cert_path(cv));
	if (have_program("curl")) {
		page = curl_page(port, cover_cert_path(cv));
		ck_assert_msg(strstr(page, cover_marker(cv)) != NULL,
		    "curl through the proxy: %s", page);
		free(page);
	} else
		itest_skip("no curl in PATH: page through the proxy not "
		    "checked");
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 0);
	ck_assert_int_eq(counter(&e, "handshakes"), 0);
	ck_assert_int_ge(counter(&e, "masked"), 1);
	env_stop(&e);
}
END_TEST

enum probe {
	P_REPLAY, P_WRONG_SECRET, P_STALE, P_FUTURE, P_OTHER_SNI, P_GARBAGE,
	P_PLAIN_DD, P_NO_SNI, P_MALFORMED, P_TOO_BIG, P_COUNT
};

static const char *const probe_reason[P_COUNT] = {
	[P_REPLAY] = "rejected{reason=\"replay\"}",
	[P_WRONG_SECRET] = "rejected{reason=\"tls_digest\"}",
	[P_STALE] = "rejected{reason=\"tls_time\"}",
	[P_FUTURE] = "rejected{reason=\"tls_time\"}",
	[P_OTHER_SNI] = "rejected{reason=\"tls_sni\"}",
	[P_GARBAGE] = "rejected{reason=\"not_tls\"}",
	[P_PLAIN_DD] = "rejected{reason=\"not_tls\"}",
	[P_NO_SNI] = "rejected{reason=\"tls_no_sni\"}",
	[P_MALFORMED] = "rejected{reason=\"tls_malformed\"}",
	[P_TOO_BIG] = "rejected{reason=\"hello_too_big\"}",
};

/*
 * The log line of the reasons of issue 12: one per address however many
 * such clients come (a hello probe comes twice).
 */
static const char *const probe_log[P_COUNT] = {
	[P_NO_SNI] = "hello without a server name (require_sni) (0 more",
	[P_MALFORMED] = "not a TLS hello we accept (-5) (0 more",
	[P_TOO_BIG] = "TLS hello over 17408 bytes (0 more",
};

/* Bytes of a probe that is no hello: compared with the cover's answer. */
static int
probe_is_hello(enum probe p)
{
	return p != P_GARBAGE && p != P_PLAIN_DD && p != P_MALFORMED &&
	    p != P_TOO_BIG;
}

/*
 * A message one byte over FAKETLS_HELLO_MSG_MAX in one full record: the
 * declared length alone refuses it; zeros after that.
 */
static void
too_big_hello(uint8_t *buf, size_t cap, size_t *len)
{
	*len = TLS_RECORD_HEADER_LEN + TLS_PLAINTEXT_MAX;
	ck_assert_uint_le(*len, cap);
	memset(buf, 0, *len);
	memcpy(buf, "\x16\x03\x01\x40\x00\x01\x00\x3f\xfd", 9);
}

/* A plain dd client's header for the secret, as tclient_connect sends. */
static void
dd_header(const uint8_t *key, uint8_t *buf)
{
	uint8_t rnd[OBFS2_HEADER_LEN];
	struct obfs2_keys k;
	int i, rc = OBFS2_ERR_RETRY;

	for (i = 0; i < 100 && rc == OBFS2_ERR_RETRY; i++) {
		ck_assert_int_eq(crypto_random(rnd, sizeof(rnd)), 0);
		rc = obfs2_build(rnd, PROTO_TAG_PADDED, 2, key, NULL, NULL,
		    buf, &k);
	}
	ck_assert_int_eq(rc, 0);
}

/* The bytes a probe sends; for a hello, what the client itself sees. */
static void
probe_bytes(const struct env *e, enum probe p, uint8_t *buf, size_t cap,
    size_t *len)
{
	const struct tclient_tls_opts stale = { .ts_offset = -3600 };
	const struct tclient_tls_opts future = { .ts_offset = 3600 };
	const struct tclient_tls_opts no_sni = { .no_sni = 1 };
	uint8_t wrong[SECRET_LEN];
	const struct tclient_tls_opts *o = NULL;
	struct tclient *c;
	const uint8_t *h;
	const char *sni = DOMAIN;

	itest_key(WRONG_HEX, wrong);
	switch (p) {
	case P_REPLAY:
		/* A real app's hello, used once already. */
		c = tls_open(e, NULL);
		echo_sizes(c, few_sizes, 1);
		ck_assert_ptr_nonnull(h = tclient_tls_hello(c, len));
		memcpy(buf, h, *len);
		tclient_close(c);
		return;
	case P_GARBAGE:
		*len = 300;
		garbage(buf, *len);
		return;
	case P_MALFORMED:
		/* A valid hello but for its handshake type: a ServerHello. */
		ck_assert_int_eq(tclient_tls_hello_build(e->key, DOMAIN, 0, 0,
		    buf, cap, len), 0);
		buf[TLS_RECORD_HEADER_LEN] = TLS_HS_SERVER_HELLO;
		return;
	case P_TOO_BIG:
		too_big_hello(buf, cap, len);
		return;
	case P_PLAIN_DD:
		dd_header(e->key, buf);
		/* and a frame's worth of stream */
		ck_assert_int_eq(crypto_random(buf + OBFS2_HEADER_LEN, 100), 0);
		*len = OBFS2_HEADER_LEN + 100;
		return;
	case P_STALE:
		o = &stale;
		break;
	case P_FUTURE:
		o = &future;
		break;
	case P_OTHER_SNI:
		sni = OTHER_DOMAIN;
		break;
	case P_NO_SNI:
		o = &no_sni;
		break;
	default:
		break;
	}
	/* The app itself is told off: the reply is not the proxy's. */
	ck_assert_int_eq(tclient_connect_tls((const struct sockaddr *)&e->ss,
	    e->len, p == P_WRONG_SECRET ? wrong : e->key, sni, 2, o,
	    ITEST_IO_MS,
	    &c), TCLIENT_ERR_TLS);
	ck_assert_int_eq(tclient_tls_hello_build_with(p == P_WRONG_SECRET ?
	    wrong : e->key, sni, o, buf, cap, len), 0);
}

/*
 * What the proxy relayed matches what the cover answers directly: a
 * ServerHello record for a hello, a close for junk.
 */
static void
check_same_answer(const uint8_t *direct, size_t dn, int dclosed,
    const uint8_t *proxied, size_t pn, int pclosed, int hello)
{
	if (!hello) {
		ck_assert_uint_eq(pn, dn);
		ck_assert_int_eq(pclosed, dclosed);
		ck_assert_mem_eq(proxied, direct, dn);
		return;
	}
	/* The same shape; the randoms differ. */
	ck_assert_uint_ge(dn, 6);
	ck_assert_uint_ge(pn, 6);
	ck_assert_mem_eq(direct, "\x16\x03\x03", 3);
	ck_assert_uint_eq(direct[5], TLS_HS_SERVER_HELLO);
	ck_assert_mem_eq(proxied, direct, 6);
}

/*
 * _i: enum probe, with require_sni = yes. Each is relayed to the cover site
 * byte for byte (the cover saw exactly its bytes first) and gets the
 * cover's answer; the DC never hears of it; it is counted as masked under
 * its reason (a bad hello twice: the app's own attempt, then the raw one).
 */
START_TEST(probes_reach_cover)
{
	uint8_t buf[FAKETLS_HELLO_MAX], key[SECRET_LEN];
	uint8_t *direct = malloc(RESP_MAX), *proxied = malloc(RESP_MAX);
	struct cover *cv = site_start();
	size_t len = 0, dn, pn, used;
	int dclosed, pclosed, hello = probe_is_hello((enum probe)_i);
	long long dc_conns = _i == P_REPLAY;
	long long masked = hello && _i != P_REPLAY ? 2 : 1;
	struct env e;

	if (cv == NULL)
		return;
	ck_assert_ptr_nonnull(direct);
	ck_assert_ptr_nonnull(proxied);
	env_start_tls(&e, cv, "", "require_sni = yes\n");
	probe_bytes(&e, (enum probe)_i, buf, sizeof(buf), &len);
	ck_assert_int_eq(cover_exchange((struct sockaddr *)&e.ss, e.len, buf,
	    len, proxied, RESP_MAX, &pn, &pclosed, QUIET_MS, ITEST_IO_MS), 0);
	ck_assert_int_ge(cover_seen(cv, buf,
	    len < COVER_SEEN_MAX ? len : COVER_SEEN_MAX), 1);
	ck_assert_int_eq(cover_exchange((struct sockaddr *)&e.cs, e.clen, buf,
	    len, direct, RESP_MAX, &dn, &dclosed, QUIET_MS, ITEST_IO_MS), 0);
	check_same_answer(direct, dn, dclosed, proxied, pn, pclosed, hello);
	if (hello) {
		/* Whatever came back is not a reply signed for the hello. */
		itest_key(_i == P_WRONG_SECRET ? WRONG_HEX : ALICE_HEX, key);
		ck_assert_int_ne(faketls_reply_verify(key, buf +
		    TLS_RANDOM_OFF, 1, proxied, pn, &used), 0);
	}
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), dc_conns);
	ck_assert_int_eq(counter(&e, "handshakes"), dc_conns);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "masked"), masked);
	ck_assert_int_eq(counter(&e, probe_reason[_i]), masked);
	if (probe_log[_i] != NULL)
		ck_assert_int_eq(daemon_log_count(e.d, probe_log[_i]), 1);
	env_stop(&e);
	free(direct);
	free(proxied);
}
END_TEST

struct bulk_writer {
	struct tclient *c;
	const uint8_t *data;
	size_t len;
	int rc;
};

static void *
bulk_write(void *arg)
{
	struct bulk_writer *w = arg;

	w->rc = tclient_write_raw(w->c, w->data, w->len, 0);
	return NULL;
}

/*
 * 10 MB of garbage through the masked path to an echo and back, byte for
 * byte, written and read at the same time.
 */
START_TEST(mask_bulk_echo)
{
	uint8_t *data = itest_random_bytes(BULK_LEN), *got = malloc(BULK_LEN);
	struct bulk_writer w = { 0 };
	struct cover *cv;
	pthread_t t;
	size_t have, n;
	struct env e;

	ck_assert_ptr_nonnull(got);
	garbage(data, 64);
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, "");
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    data, 64, ITEST_IO_MS, &w.c), 0);
	w.data = data + 64;
	w.len = BULK_LEN - 64;
	ck_assert_int_eq(pthread_create(&t, NULL, bulk_write, &w), 0);
	for (have = 0; have < BULK_LEN; have += n)
		if (tclient_read_raw(w.c, got + have, BULK_LEN - have, &n, 0,
		    ITEST_IO_MS) != 0)
			break;
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(w.rc, 0);
	ck_assert_uint_eq(have, BULK_LEN);
	ck_assert_int_eq(memcmp(got, data, BULK_LEN), 0);
	tclient_close(w.c);
	ck_assert_int_eq(cover_seen(cv, data, COVER_SEEN_MAX), 1);
	/* The daemon's start-up probe may have added a hello. */
	ck_assert_uint_ge(cover_counter(cv, COVER_BYTES_IN), BULK_LEN);
	wait_counter(&e, "active", 0);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 0);
	env_stop(&e);
	free(data);
	free(got);
}
END_TEST

/*
 * _i 0: the cover closes first: the client sees EOF at once. _i 1: the
 * client half-closes once the echo is back: the cover sees the FIN and
 * answers with its own. _i 2: the client half-closes right after its
 * bytes, as `printf ... | nc` does: they still reach the cover, and its
 * answer (the echo, then its FIN) still reaches the client.
 */
START_TEST(mask_close)
{
	uint8_t junk[256], got[256];
	struct tclient *c;
	struct cover *cv;
	size_t have, n;
	struct env e;

	garbage(junk, sizeof(junk));
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, "");
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    junk, sizeof(junk), ITEST_IO_MS, &c), 0);
	if (_i == 2)
		ck_assert_int_eq(shutdown(tclient_fd(c), SHUT_WR), 0);
	for (have = 0; have < sizeof(junk); have += n)
		ck_assert_int_eq(tclient_read_raw(c, got + have,
		    sizeof(got) - have, &n, 0, ITEST_IO_MS), 0);
	ck_assert_mem_eq(got, junk, sizeof(junk));
	ck_assert_int_eq(cover_seen(cv, junk, sizeof(junk)), 1);
	if (_i == 1)
		ck_assert_int_eq(shutdown(tclient_fd(c), SHUT_WR), 0);
	if (_i == 0)
		cover_close_all(cv);
	else
		ck_assert_int_eq(cover_wait(cv, COVER_EOFS, 1, PROMPT_MS), 0);
	ck_assert_int_eq(tclient_wait_closed(c, PROMPT_MS), 0);
	tclient_close(c);
	wait_counter(&e, "active", 0);
	env_stop(&e);
}
END_TEST

/*
 * unknown_sni = drop: a hello for another name is closed at once, well
 * before the handshake deadline (2 s and more here), with not a byte sent
 * back, and the cover site never hears of it. The cover still gets the
 * other failures (garbage here), so its count is not stuck at zero.
 */
START_TEST(unknown_sni_drop)
{
	uint8_t hello[FAKETLS_BUILD_MAX], junk[300], resp[RESP_MAX];
	struct tclient *c;
	struct cover *cv;
	uint64_t probes;
	int64_t t0;
	size_t len, n;
	int closed;
	struct env e;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start_tls(&e, cv, "", "unknown_sni = drop\n");
	/* The start-up probe of the cover is over once the daemon listens. */
	probes = cover_counter(cv, COVER_ACCEPTED);
	ck_assert_int_eq(tclient_tls_hello_build(e.key, OTHER_DOMAIN, 0, 0,
	    hello, sizeof(hello), &len), 0);
	t0 = tclock_now_ms();
	ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss, e.len,
	    hello, len, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_wait_closed_count(c, &n, ITEST_IO_MS), 0);
	ck_assert_int_lt(tclock_now_ms() - t0, DROP_MS);
	ck_assert_uint_eq(n, 0);
	tclient_close(c);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "rejected{reason=\"tls_sni\"}"), 1);
	ck_assert_int_eq(counter(&e, "masked"), 0);
	ck_assert_uint_eq(cover_counter(cv, COVER_ACCEPTED), probes);

	garbage(junk, sizeof(junk));
	ck_assert_int_eq(cover_exchange((struct sockaddr *)&e.ss, e.len, junk,
	    sizeof(junk), resp, sizeof(resp), &n, &closed, QUIET_MS,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(n, sizeof(junk));
	ck_assert_int_eq(cover_seen(cv, junk, sizeof(junk)), 1);
	ck_assert_uint_eq(cover_counter(cv, COVER_ACCEPTED), probes + 1);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 0);
	env_stop(&e);
}
END_TEST

/*
 * Garbage to the echo cover in rounds of at most MASK_CHUNK bytes, each
 * read back (byte for byte) before the next, so that nothing is in flight
 * when the proxy cuts: until EOF, or max_rounds. *echoed: bytes back.
 */
static int
mask_rounds(const struct env *e, int max_rounds, int pause_ms,
    size_t chunk, size_t *echoed)
{
	uint8_t *data = malloc(MASK_CHUNK), *got = malloc(MASK_CHUNK);
	struct tclient *c;
	size_t len = OBFS2_HEADER_LEN, have, n = 0;
	int round, rc = 0;

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(got);
	garbage(data, MASK_CHUNK);
	*echoed = 0;
	ck_assert_int_eq(tclient_connect_raw((const struct sockaddr *)&e->ss,
	    e->len, data, len, ITEST_IO_MS, &c), 0);
	for (round = 0; rc == 0 && round < max_rounds; round++) {
		if (round > 0) {
			tclock_sleep_ms(pause_ms);
			ck_assert_int_eq(crypto_random(data, chunk), 0);
			len = chunk;
			if ((rc = tclient_write_raw(c, data, len, 0)) != 0)
				break;
		}
		for (have = 0; have < len; have += n)
			if ((rc = tclient_read_raw(c, got + have, len - have,
			    &n, 0, ITEST_IO_MS)) != 0)
				break;
		ck_assert_mem_eq(got, data, have);
		*echoed += have;
	}
	tclient_close(c);
	free(data);
	free(got);
	return rc;
}

/*
 * mask_max_bytes counts both directions: echoed bytes went both ways, so
 * twice what came back is at most the cap, and more than the cap less
 * one round (both ways). The cover site read at least what came back and
 * at most the rest of the cap.
 */
START_TEST(mask_max_bytes_cut)
{
	struct cover *cv;
	uint64_t in0;
	size_t echoed;
	struct env e;
	char tls[64];

	snprintf(tls, sizeof(tls), "mask_max_bytes = %d\n", MASK_CAP);
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start_tls(&e, cv, "", tls);
	in0 = cover_counter(cv, COVER_BYTES_IN);
	ck_assert_int_eq(mask_rounds(&e, 4 * MASK_CAP / MASK_CHUNK, 0,
	    MASK_CHUNK, &echoed), TCLIENT_ERR_EOF);
	ck_assert_uint_le(2 * echoed, MASK_CAP);
	ck_assert_uint_gt(2 * echoed, MASK_CAP - 2 * MASK_CHUNK);
	ck_assert_int_eq(cover_wait(cv, COVER_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_ge(cover_counter(cv, COVER_BYTES_IN) - in0, echoed);
	ck_assert_uint_le(cover_counter(cv, COVER_BYTES_IN) - in0,
	    MASK_CAP - echoed);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "masked"), 1);
	env_stop(&e);
}
END_TEST

/*
 * mask_timeout: a masked relay is cut once it has lasted that long, not
 * before (the echo keeps coming until then), and soon after: _i 0 with
 * bytes every MASK_TICK_MS, _i 1 silent after the first echo (the
 * daemon's own clock tick must notice; nothing comes before the close).
 */
START_TEST(mask_timeout_cut)
{
	uint8_t junk[OBFS2_HEADER_LEN], got[OBFS2_HEADER_LEN];
	struct tclient *c;
	struct cover *cv;
	size_t echoed, n;
	int64_t t0, took;
	struct env e;
	char tls[64];

	snprintf(tls, sizeof(tls), "mask_timeout = %d\n", MASK_TIMEOUT_S);
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start_tls(&e, cv, "", tls);
	t0 = tclock_now_ms();
	if (_i == 0) {
		ck_assert_int_eq(mask_rounds(&e, 4 * MASK_TIMEOUT_S * 1000 /
		    MASK_TICK_MS, MASK_TICK_MS, 16, &echoed), TCLIENT_ERR_EOF);
		/* Rounds went on until then. */
		ck_assert_uint_ge(echoed, OBFS2_HEADER_LEN + 16 *
		    (MASK_TIMEOUT_S * 1000 / MASK_TICK_MS / 2));
	} else {
		garbage(junk, sizeof(junk));
		ck_assert_int_eq(tclient_connect_raw((struct sockaddr *)&e.ss,
		    e.len, junk, sizeof(junk), ITEST_IO_MS, &c), 0);
		for (echoed = 0; echoed < sizeof(junk); echoed += n)
			ck_assert_int_eq(tclient_read_raw(c, got + echoed,
			    sizeof(got) - echoed, &n, 0, ITEST_IO_MS), 0);
		ck_assert_mem_eq(got, junk, sizeof(junk));
		ck_assert_int_eq(tclient_wait_closed_count(c, &n, ITEST_IO_MS),
		    0);
		ck_assert_uint_eq(n, 0);
		tclient_close(c);
	}
	took = tclock_now_ms() - t0;
	ck_assert_int_ge(took, MASK_TIMEOUT_S * 1000);
	ck_assert_int_le(took, MASK_TIMEOUT_S * 1000 + PROMPT_MS);
	wait_counter(&e, "active", 0);
	env_stop(&e);
}
END_TEST

/*
 * A client with the right secret and hello but an ee or ef header inside
 * the records (_i 0, 1): refused as tls_inner, handed to the cover site
 * from its hello on, never to a DC. Its frame gets no echo: what comes
 * back is the cover's echo of the hello, not a 17 03 03 record.
 */
START_TEST(tls_inner_not_dd)
{
	struct tclient_tls_opts o = { .inner_tag = _i == 0 ?
	    PROTO_TAG_INTERMEDIATE : PROTO_TAG_ABRIDGED };
	uint8_t msg[64], got[256];
	const uint8_t *hello;
	struct tclient *c;
	struct cover *cv;
	size_t n, hlen;
	struct env e;

	ck_assert_int_eq(crypto_random(msg, sizeof(msg)), 0);
	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, "");
	c = tls_open(&e, &o);
	ck_assert_int_eq(tclient_send(c, msg, sizeof(msg), 0), 0);
	ck_assert_int_eq(tclient_recv(c, got, sizeof(got), &n, ITEST_IO_MS),
	    TCLIENT_ERR_TLS);
	ck_assert_ptr_nonnull(hello = tclient_tls_hello(c, &hlen));
	ck_assert_int_eq(cover_seen(cv, hello, hlen), 1);
	tclient_close(c);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "rejected{reason=\"tls_inner\"}"), 1);
	ck_assert_int_eq(counter(&e, "masked"), 1);
	ck_assert_int_eq(counter(&e, "handshakes"), 0);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_ACCEPTED), 0);
	env_stop(&e);
}
END_TEST

/* ---- every shape of hello a real client sends */

/* The hello of a client the first 1,443 bytes of which fill a segment. */
#define SEG_CUT		1443
#define SEG_GAP_MS	3

struct shape {
	const char *name;
	struct tclient_tls_opts o;
};

static const struct shape shapes[] = {
	{ "record version 03 03",
	    { .shape = { .record_version = TLS_VERSION_12 } } },
	{ "two records", { .shape = { .cuts = { 200 } } } },
	{ "three records", { .shape = { .cuts = { 100, 300 } } } },
	{ "four records, the handshake header cut across three",
	    { .shape = { .cuts = { 1, 2, 40 } } } },
	{ "512 bytes", { .shape = { .msg_len = 512 - TLS_RECORD_HEADER_LEN } } },
	{ "4 KiB, 03 03", { .shape = { .msg_len = 4096,
	    .record_version = TLS_VERSION_12 } } },
	{ "16 KiB in one full record",
	    { .shape = { .msg_len = TLS_PLAINTEXT_MAX } } },
	{ "16 KiB in four records, 03 03", { .shape = {
	    .msg_len = FAKETLS_HELLO_MSG_MAX, .record_version = TLS_VERSION_12,
	    .cuts = { 5000, 5000, 5000 } } } },
	{ "X25519MLKEM768", { .pq = 1 } },
	{ "X25519MLKEM768, ECH, ALPS 0x44cd (Chrome)",
	    { .pq = 1, .shape = { .ech = 1, .alps = FAKETLS_EXT_ALPS } } },
	{ "ECH, ALPS 0x4469", { .shape = { .ech = 1,
	    .alps = FAKETLS_EXT_ALPS_OLD } } },
	{ "no SNI (iOS, macOS)", { .no_sni = 1 } },
	{ "no SNI, X25519MLKEM768", { .no_sni = 1, .pq = 1 } },
	{ "1,443 bytes, 3 ms, the rest", { .pq = 1, .write_split = SEG_CUT,
	    .write_delay_ms = SEG_GAP_MS } },
	{ "Chrome in three records, 03 03, in five segments",
	    { .pq = 1, .shape = { .ech = 1, .alps = FAKETLS_EXT_ALPS,
	    .record_version = TLS_VERSION_12, .cuts = { 700, 700 } },
	    .write_cuts = { 1, 6, 700, SEG_CUT }, .write_delay_ms = 2 } },
	{ "16 KiB, no SNI, segments of 1,443 bytes", { .no_sni = 1,
	    .shape = { .msg_len = FAKETLS_HELLO_MSG_MAX },
	    .write_cuts = { SEG_CUT, 2 * SEG_CUT, 5 * SEG_CUT, 11 * SEG_CUT },
	    .write_delay_ms = SEG_GAP_MS } },
};
#define NSHAPES	(sizeof(shapes) / sizeof(shapes[0]))

/* One connection in shape o: its frames come back byte for byte. */
static void
shape_echo(const struct env *e, const struct tclient_tls_opts *o,
    const char *name)
{
	const uint8_t *hello;
	struct faketls_hello h;
	struct tclient *c = NULL;
	size_t n = 0;
	int rc;

	rc = tclient_connect_tls((const struct sockaddr *)&e->ss, e->len,
	    e->key, DOMAIN, 2, o, ITEST_IO_MS, &c);
	ck_assert_msg(rc == 0, "%s: connect %d", name, rc);
	/* The hello had the shape: our own parser says so. */
	ck_assert_ptr_nonnull(hello = tclient_tls_hello(c, &n));
	ck_assert_int_eq(faketls_hello_parse(hello, n, &h), 0);
	ck_assert_uint_eq(h.sni_len, o->no_sni ? 0 : strlen(DOMAIN));
	ck_assert_uint_eq(hello[2], o->shape.record_version != 0 ?
	    o->shape.record_version & 0xff : TLS_VERSION_10 & 0xff);
	if (o->shape.msg_len != 0)
		ck_assert_uint_eq(h.msg_len, o->shape.msg_len);
	echo_sizes(c, few_sizes, 2);
	tclient_close(c);
}

/*
 * _i: fast mode off, on. Each shape in shapes gets through, byte for byte
 * both ways, and nothing is refused or masked.
 */
START_TEST(hello_shapes)
{
	struct cover *cv;
	struct env e;
	size_t i;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, _i ? "fast_mode = yes\n" : "fast_mode = no\n");
	for (i = 0; i < NSHAPES; i++)
		shape_echo(&e, &shapes[i].o, shapes[i].name);
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_HEADERS), NSHAPES);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "handshakes"), NSHAPES);
	ck_assert_int_eq(counter(&e, "masked"), 0);
	ck_assert_int_eq(counter(&e, "rejected{reason=\"tls_malformed\"}"), 0);
	env_stop(&e);
}
END_TEST

/*
 * The TDLib hello cut into two segments at every byte of its first
 * records' headers and its random, then every 37th byte, with 1 ms
 * between; and into 1-byte segments up to the random's end.
 */
START_TEST(hello_split_sweep)
{
	struct tclient_tls_opts o = { .write_delay_ms = 1,
	    .shape = { .cuts = { 300 } } };
	struct cover *cv;
	size_t cut, i, n = 0;
	struct env e;

	ck_assert_int_eq(cover_start_echo(&cv), 0);
	env_start(&e, cv, "");
	for (cut = 1; cut < FAKETLS_TDLIB_HELLO_LEN + TLS_RECORD_HEADER_LEN;
	    cut += cut < TLS_RANDOM_OFF + TLS_RANDOM_LEN ? 1 : 37) {
		o.write_split = cut;
		shape_echo(&e, &o, "sweep");
		n++;
	}
	o.write_split = 0;
	for (i = 0; i < TLS_RANDOM_OFF + TLS_RANDOM_LEN; i++)
		o.write_cuts[i] = i + 1;
	shape_echo(&e, &o, "1-byte segments");
	n++;
	ck_assert_uint_eq(fakedc_counter(e.dc, FAKEDC_HEADERS), n);
	wait_counter(&e, "active", 0);
	ck_assert_int_eq(counter(&e, "handshakes"), (long long)n);
	ck_assert_int_eq(counter(&e, "masked"), 0);
	env_stop(&e);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *cl = tcase_create("client"), *site = tcase_create("cover");
	TCase *echo = tcase_create("echo"), *mask = tcase_create("mask");

	tcase_set_timeout(cl, ITEST_CASE_S);
	tcase_set_timeout(site, ITEST_CASE_S);
	tcase_set_timeout(echo, ITEST_CASE_S);
	tcase_set_timeout(mask, ITEST_CASE_S);
	tcase_add_loop_test(cl, client_against_codec_server, 0, 6);
	tcase_add_loop_test(cl, client_rejects_bad_reply, 0, 2);
	tcase_add_test(cl, client_rejects_other_secret);
	tcase_add_test(cl, client_rejects_alert_record);
	tcase_add_test(cl, client_hello_build);
	tcase_add_test(site, cover_site_serves);
	tcase_add_test(site, cover_echo_works);
	tcase_add_loop_test(echo, tls_echo, 0, 2);
	tcase_add_test(echo, tls_copy_path);
	tcase_add_loop_test(echo, hello_shapes, 0, 2);
	tcase_add_test(echo, hello_split_sweep);
	tcase_add_test(mask, mask_curl_and_certificate);
	tcase_add_loop_test(mask, probes_reach_cover, 0, P_COUNT);
	tcase_add_test(mask, mask_bulk_echo);
	tcase_add_loop_test(mask, mask_close, 0, 3);
	tcase_add_test(mask, unknown_sni_drop);
	tcase_add_test(mask, mask_max_bytes_cut);
	tcase_add_loop_test(mask, mask_timeout_cut, 0, 2);
	tcase_add_loop_test(mask, tls_inner_not_dd, 0, 2);
	suite_add_tcase(s, cl);
	suite_add_tcase(s, site);
	suite_add_tcase(s, echo);
	suite_add_tcase(s, mask);
	return s;
}

Suite *
ckmain_suite(void)
{
	return tls_suite();
}
