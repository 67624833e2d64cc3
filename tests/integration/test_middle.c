/*
 * mtproxyd in middle-proxy mode, end to end: the real binary between the
 * test client and the project's fake middle proxy (tests/harness/fakemp.c:
 * real nonce, key derivation, handshake, CBC, CRC32C, seq checks). What a
 * client sends comes back byte for byte as RPC_PROXY_ANS; the fake records
 * the RPC_PROXY_REQ flags, ad tag and addresses the daemon sent. Every test
 * starts its own fakes and daemon and ends with SIGTERM and exit status 0.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bytes.h"
#include "ckmain.h"
#include "client.h"
#include "crypto.h"
#include "daemon.h"
#include "fakemp.h"
#include "frame.h"
#include "itest.h"
#include "mscrape.h"
#include "proto.h"
#include "tclock.h"

#define CONF_MAX	4096

#define ALICE_HEX	"5a0c3e9172d4b86e0a6c9f31d7e2485b"
#define AD_TAG_HEX	"147745069625d2f412d010bc34d716a3"
#define SECRET_LEN_MP	128	/* Telegram's proxy secret is 128 bytes */

static const uint8_t ad_tag[16] = {
	0x14, 0x77, 0x45, 0x06, 0x96, 0x25, 0xd2, 0xf4,
	0x12, 0xd0, 0x10, 0xbc, 0x34, 0xd7, 0x16, 0xa3,
};

struct env {
	char dir[64];
	uint8_t mpsecret[SECRET_LEN_MP];
	struct fakemp *mp[2];
	struct daemon_proc *d;
	struct sockaddr_in addr;
	int idle_s;		/* idle_timeout; 0: 60 */
};

/* proxy-multi.conf: DC 2 (and -2, and the default) on fake number `which`. */
static void
write_multi(struct env *e, int which)
{
	char text[512];
	unsigned port = fakemp_port(e->mp[which]);

	snprintf(text, sizeof(text),
	    "# force_probability 10 10\n"
	    "default 2;\n"
	    "proxy_for 2 127.0.0.1:%u;\n"
	    "proxy_for -2 127.0.0.1:%u;\n", port, port);
	itest_write_file(e->dir, "proxy-multi.conf", text, strlen(text));
}

/*
 * A fake middle proxy on family's loopback. nat_ip: the address both ends
 * of the key derivation use, as a middle proxy seeing a NATed proxy would.
 */
static struct fakemp *
mp_start_as(struct env *e, int family, const char *nat_ip)
{
	struct fakemp_opts o;
	struct fakemp *mp;

	memset(&o, 0, sizeof(o));
	o.family = family;
	o.secret = e->mpsecret;
	o.secret_len = sizeof(e->mpsecret);
	o.mode = FAKEMP_ECHO;
	o.key_clt_ip = nat_ip;
	o.key_srv_ip = nat_ip;
	ck_assert_int_eq(fakemp_start(&o, &mp), 0);
	return mp;
}

static void
env_setup(struct env *e, int nfakes)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/mtproxyd-middle.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	ck_assert_int_eq(crypto_random(e->mpsecret, sizeof(e->mpsecret)), 0);
	e->mpsecret[0] |= 1;	/* key_select must not be 0 */
	itest_write_file(e->dir, "proxy-secret", e->mpsecret,
	    sizeof(e->mpsecret));
	e->mp[0] = mp_start_as(e, AF_INET, NULL);
	if (nfakes > 1)
		e->mp[1] = mp_start_as(e, AF_INET, NULL);
	write_multi(e, 0);
}

/* The daemon, and wait until `links` links to fake 0 are ready. */
static void
daemon_up(struct env *e, const char *extra, int links)
{
	char conf[CONF_MAX];
	int64_t end;
	int n;

	n = snprintf(conf, sizeof(conf),
	    "[server]\n"
	    "port = 0\n"
	    "listen = 127.0.0.1\n"
	    "log_level = debug\n"
	    "modes = classic, secure, tls\n"
	    "handshake_timeout = 10\n"
	    "idle_timeout = %d\n"
	    "shutdown_grace = 2\n"
	    "state_dir = @DIR@\n"
	    "[middle]\n"
	    "ad_tag = " AD_TAG_HEX "\n"
	    "proxy_secret_file = %s/proxy-secret\n"
	    "proxy_config_file = %s/proxy-multi.conf\n"
	    "%s%s"
	    /* Nothing listens on port 9: the cover site's shape falls back. */
	    "[tls]\n"
	    "domain = cover.test\n"
	    "mask_host = 127.0.0.1\n"
	    "mask_port = 9\n"
	    "mask_probe_interval = 0\n"
	    "[users]\n"
	    "alice = " ALICE_HEX "\n",
	    e->idle_s > 0 ? e->idle_s : 60, e->dir, e->dir,
	    strstr(extra, "connections_per_target") ? "" :
	    "connections_per_target = 2\n", extra);
	ck_assert(n > 0 && (size_t)n < sizeof(conf));
	ck_assert_int_eq(daemon_start(&e->d, conf, NULL, ITEST_START_MS), 0);
	ck_assert_int_eq(daemon_wait_log(e->d, "running: mode middle",
	    ITEST_IO_MS), 0);
	if (links > 0)
		ck_assert_int_eq(fakemp_wait(e->mp[0], FAKEMP_READY,
		    (uint64_t)links, ITEST_IO_MS), 0);
	/* The daemon marks a link ready right after the fake does. */
	end = tclock_now_ms() + ITEST_IO_MS;
	while (links > 0 && daemon_log_count(e->d, "link ready") < links) {
		ck_assert_msg(tclock_now_ms() < end, "%d links not ready",
		    links);
		tclock_sleep_ms(10);
	}
	memset(&e->addr, 0, sizeof(e->addr));
	e->addr.sin_family = AF_INET;
	e->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->addr.sin_port = htons(daemon_port(e->d, AF_INET));
	ck_assert_uint_ne(ntohs(e->addr.sin_port), 0);
}

/* The link printed at start carries the secret on purpose; no other line. */
static const char *const secrets[] = { ALICE_HEX };

static void
env_teardown(struct env *e)
{
	char path[128];

	itest_stop(e->d, secrets, 1, ITEST_STOP_MS);
	fakemp_stop(e->mp[0]);
	fakemp_stop(e->mp[1]);
	snprintf(path, sizeof(path), "%s/proxy-secret", e->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/proxy-multi.conf", e->dir);
	unlink(path);
	rmdir(e->dir);
}

static struct tclient *
connect_client(struct env *e, enum frame_transport t, int16_t dc)
{
	uint8_t key[SECRET_LEN];
	struct tclient *c;

	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect((struct sockaddr *)&e->addr,
	    sizeof(e->addr), key, t, dc, ITEST_IO_MS, &c), 0);
	if (t == FRAME_PADDED)
		ck_assert_int_eq(tclient_set_padding(c, 0), 0);
	return c;
}

/* An MTProto-looking packet that passes the 2.4 filter (encrypted form). */
static uint8_t *
packet(size_t len)
{
	uint8_t *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(crypto_random(p, len), 0);
	p[0] |= 1;	/* auth_key_id != 0 */
	return p;
}

static void
echo(struct tclient *c, size_t len)
{
	uint8_t *out = packet(len), *in = malloc(len + 16);
	size_t got = 0;

	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(tclient_send(c, out, len, 0), 0);
	ck_assert_int_eq(tclient_recv(c, in, len + 16, &got, ITEST_IO_MS), 0);
	ck_assert_uint_ge(got, len);
	ck_assert_uint_le(got, len + 3);	/* padded: 0..3 bytes added */
	ck_assert_mem_eq(in, out, len);
	free(out);
	free(in);
}

static const uint32_t transport_flag[] = {
	[FRAME_ABRIDGED] = 0x40000000u,
	[FRAME_INTERMEDIATE] = 0x20000000u,
	[FRAME_PADDED] = 0x20000000u,
};

/* Every transport, up to the largest packet, and what the fake saw. */
START_TEST(echo_transports)
{
	static const size_t sizes[] = { 56, 60, 504, 508, 512, 4096, 65536,
	    FRAME_MAX_LEN };
	enum frame_transport t = (enum frame_transport)_i;
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	size_t i;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = connect_client(&e, t, 2);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		echo(c, sizes[i]);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	/* doc/PROTOCOL.md 4.7: transport | EXTMODE2 | MAGIC | HAS_AD_TAG. */
	ck_assert_uint_eq(r.flags, transport_flag[t] | 0x21008u);
	ck_assert_int_eq(r.has_ad_tag, 1);
	ck_assert_uint_eq(r.ad_tag_len, 16);
	ck_assert_mem_eq(r.ad_tag, ad_tag, 16);
	ck_assert_int_eq(r.client.v6, 0);
	ck_assert_uint_eq(r.client.ip[0], 127);
	ck_assert_uint_eq(r.ours.port, ntohs(e.addr.sin_port));
	ck_assert_uint_eq(r.msg_len, FRAME_MAX_LEN);
	tclient_close(c);
	/* A client that leaves is announced with RPC_CLOSE_CONN. */
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_CLOSE_CONNS, 1,
	    ITEST_IO_MS), 0);
	env_teardown(&e);
}
END_TEST

/* A user's own ad tag ([user.NAME] ad_tag) goes in place of [middle]'s. */
#define USER_TAG_HEX	"5e1f0a93c7d2b4868a0e1c3f5d7b9a2c"

START_TEST(user_ad_tag)
{
	uint8_t tag[16];
	struct fakemp_req r;
	struct tclient *c;
	struct env e;

	ck_assert_uint_eq(itest_unhex(USER_TAG_HEX, tag, sizeof(tag)), 16);
	env_setup(&e, 1);
	daemon_up(&e, "[user.alice]\nad_tag = " USER_TAG_HEX "\n", 2);
	c = connect_client(&e, FRAME_INTERMEDIATE, 2);
	echo(c, 512);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	ck_assert_int_eq(r.has_ad_tag, 1);
	ck_assert_uint_eq(r.ad_tag_len, 16);
	ck_assert_mem_eq(r.ad_tag, tag, 16);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/*
 * Behind a load balancer (PROXY protocol v1): RPC_PROXY_REQ carries the
 * client's address from the header, not the balancer's.
 */
START_TEST(proxy_protocol_client)
{
	static const char hdr[] = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n";
	static const uint8_t client_ip[4] = { 203, 0, 113, 7 };
	uint8_t key[SECRET_LEN];
	struct fakemp_req r;
	struct tclient *c;
	struct env e;

	env_setup(&e, 1);
	daemon_up(&e, "[server]\nproxy_protocol = v1\n"
	    "proxy_protocol_from = 127.0.0.1\n", 2);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect_after(NULL, (const uint8_t *)hdr,
	    strlen(hdr), (struct sockaddr *)&e.addr, sizeof(e.addr), key,
	    FRAME_INTERMEDIATE, 2, ITEST_IO_MS, &c), 0);
	echo(c, 504);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	ck_assert_int_eq(r.client.v6, 0);
	ck_assert_mem_eq(r.client.ip, client_ip, 4);
	ck_assert_uint_eq(r.client.port, 40000);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/* Fake-TLS clients through the middle proxies too (issue: ee in both modes). */
START_TEST(tls_echo)
{
	static const size_t sizes[] = { 56, 1024, 16384, 100000, FRAME_MAX_LEN };
	uint8_t key[SECRET_LEN];
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	size_t i;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	itest_key(ALICE_HEX, key);
	ck_assert_int_eq(tclient_connect_tls((struct sockaddr *)&e.addr,
	    sizeof(e.addr), key, "cover.test", 2, NULL, ITEST_IO_MS, &c), 0);
	ck_assert_int_eq(tclient_set_padding(c, 0), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		echo(c, sizes[i]);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	ck_assert_uint_eq(r.flags, 0x20021008u);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/*
 * A middle-mode session holds a read buffer and an answer buffer only while
 * packets and answers move: both while echoes run (a report may come after
 * they were handed back, so a few rounds are allowed), none once it has been
 * quiet for a while, the session still up; then both again.
 */
START_TEST(buffers_follow_answers)
{
	unsigned long long buffers;
	struct tclient *c;
	struct env e;
	char *report;
	int pass, round;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = connect_client(&e, FRAME_INTERMEDIATE, 2);
	for (pass = 0; pass < 2; pass++) {
		buffers = 0;
		for (round = 0; round < 10 && buffers != 2; round++) {
			echo(c, 65536);
			report = itest_stats(e.d, "relay_pipes", ITEST_IO_MS);
			buffers = itest_stats_value(report, "relay_buffers");
			free(report);
		}
		ck_assert_uint_eq(buffers, 2);
		itest_wait_counter(e.d, "relay_buffers", 0, ITEST_IO_MS,
		    ITEST_IO_MS);
		ck_assert_int_eq(itest_counter(e.d, "active", ITEST_IO_MS), 1);
	}
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/* Quick-ack request and answer, and CLOSE_EXT closing the client. */
START_TEST(acks_and_close_ext)
{
	enum frame_transport t = (enum frame_transport)_i;
	uint8_t *out = packet(64), raw[4], want[4];
	uint32_t confirm = 0x8badf00du;
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	size_t got = 0, n;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = connect_client(&e, t, -2);
	ck_assert_int_eq(tclient_send(c, out, 64, 1), 0);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_ANS, 1, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	ck_assert_uint_eq(r.flags & 0x80000000u, 0x80000000u);
	{
		uint8_t in[128];

		ck_assert_int_eq(tclient_recv(c, in, sizeof(in), &got,
		    ITEST_IO_MS), 0);
		ck_assert_mem_eq(in, out, 64);
	}
	ck_assert_int_eq(fakemp_simple_ack(e.mp[0], r.conn_id, confirm), 0);
	for (got = 0; got < 4; got += n)
		ck_assert_int_eq(tclient_read_raw(c, raw + got, 4 - got, &n, 1,
		    ITEST_IO_MS), 0);
	/*
	 * doc/PROTOCOL.md 2.1/2.2: big-endian for abridged, else little-endian.
	 */
	if (t == FRAME_ABRIDGED) {
		want[0] = 0x8b; want[1] = 0xad; want[2] = 0xf0; want[3] = 0x0d;
	} else {
		want[0] = 0x0d; want[1] = 0xf0; want[2] = 0xad; want[3] = 0x8b;
	}
	ck_assert_mem_eq(raw, want, 4);
	ck_assert_int_eq(fakemp_close_ext(e.mp[0], r.conn_id), 0);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	tclient_close(c);
	free(out);
	env_teardown(&e);
}
END_TEST

/* Middle-mode counter name from a fresh SIGUSR1 report. */
static long long
counter(struct env *e, const char *name)
{
	return itest_counter(e->d, name, ITEST_IO_MS);
}

/*
 * An unencrypted MTProto message (auth_key_id 0) of len bytes whose body
 * starts with constructor; otherwise well formed for the 2.4 filter.
 */
static uint8_t *
plain_packet(size_t len, uint32_t constructor)
{
	uint8_t *p = packet(len);

	memset(p, 0, 8);
	bytes_put_le32(p + 16, (uint32_t)len - 20);
	bytes_put_le32(p + 20, constructor);
	return p;
}

/*
 * doc/PROTOCOL.md 2.4: a packet under 28 bytes and an unencrypted one with a
 * constructor other than the four of the key exchange never become an
 * RPC_PROXY_REQ; each adds exactly 1 to middle_filtered_queries, and the
 * session goes on: an allowed unencrypted one (req_pq) and an encrypted
 * one after them come back.
 */
START_TEST(forward_filter)
{
	uint8_t *shortp = packet(24), *bad = plain_packet(40, 0x12345678u);
	uint8_t *pq = plain_packet(40, MTPROTO_REQ_PQ), in[64];
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	size_t got;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = connect_client(&e, FRAME_INTERMEDIATE, 2);
	ck_assert_int_eq(tclient_send(c, shortp, 24, 0), 0);
	itest_wait_counter(e.d, "middle_filtered_queries", 1, ITEST_IO_MS,
	    ITEST_IO_MS);
	ck_assert_int_eq(tclient_send(c, bad, 40, 0), 0);
	itest_wait_counter(e.d, "middle_filtered_queries", 2, ITEST_IO_MS,
	    ITEST_IO_MS);
	ck_assert_int_eq(tclient_send(c, pq, 40, 0), 0);
	ck_assert_int_eq(tclient_recv(c, in, sizeof(in), &got, ITEST_IO_MS), 0);
	ck_assert_uint_eq(got, 40);
	ck_assert_mem_eq(in, pq, 40);
	echo(c, 56);
	/* One link per client: the filtered ones would have come first. */
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_REQS), 2);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	ck_assert_uint_eq(r.msg_len, 56);
	ck_assert_int_eq(counter(&e, "middle_filtered_queries"), 2);
	ck_assert_int_eq(counter(&e, "middle_queries"), 2);
	tclient_close(c);
	free(shortp);
	free(bad);
	free(pq);
	env_teardown(&e);
}
END_TEST

/*
 * A frame header the official server refuses (_i 0: intermediate length
 * with a high bit set, 1: abridged long form for a short length) closes
 * the client, with nothing sent to it: the stream is not resynchronised.
 * A whole valid frame right behind it never reaches the middle proxy.
 */
START_TEST(bad_frame_closes)
{
	enum frame_transport t = _i == 0 ? FRAME_INTERMEDIATE : FRAME_ABRIDGED;
	uint8_t *pkt = packet(64), wire[4 + 4 + 64];
	struct fakemp_conn ci;
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	size_t n, hl;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = connect_client(&e, t, 2);
	echo(c, 64);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	if (t == FRAME_INTERMEDIATE)
		bytes_put_le32(wire, 0x7f000040u);
	else
		bytes_put_le32(wire, 64 / 4 << 8 | ABRIDGED_EXTENDED);
	ck_assert_int_eq(frame_encode(t, 64, 0, wire + 4, &hl), 0);
	memcpy(wire + 4 + hl, pkt, 64);
	ck_assert_int_eq(tclient_write_raw(c, wire, 4 + hl + 64, 1), 0);
	ck_assert_int_eq(tclient_wait_closed_count(c, &n, ITEST_IO_MS), 0);
	ck_assert_uint_eq(n, 0);
	tclient_close(c);
	/* The close comes after anything forwarded for that client. */
	do {
		ck_assert_int_eq(fakemp_conn_info(e.mp[0], r.conn_id, &ci), 0);
		tclock_sleep_ms(10);
	} while (ci.close_conns == 0);
	ck_assert_uint_eq(ci.reqs, 1);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_REQS), 1);
	free(pkt);
	env_teardown(&e);
}
END_TEST

/*
 * CLOSE_EXT (_i: the client's transport): the client is closed with not
 * a byte before the close, counted, and not announced back with
 * CLOSE_CONN (the middle proxy closed it); the link and its other clients
 * go on.
 */
START_TEST(close_ext_nothing_first)
{
	enum frame_transport t = (enum frame_transport)_i;
	struct tclient *c, *other;
	struct fakemp_conn ci;
	struct fakemp_req r;
	char line[128];
	struct env e;
	size_t n;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	other = connect_client(&e, t, 2);
	c = connect_client(&e, t, 2);
	echo(other, 64);
	echo(c, 64);
	ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
	ck_assert_int_eq(fakemp_close_ext(e.mp[0], r.conn_id), 0);
	ck_assert_int_eq(tclient_wait_closed_count(c, &n, ITEST_IO_MS), 0);
	ck_assert_uint_eq(n, 0);
	tclient_close(c);
	ck_assert_int_eq(counter(&e, "middle_close_ext"), 1);
	/* Its session is gone, and with it any CLOSE_CONN it would send. */
	itest_wait_counter(e.d, "active", 1, ITEST_IO_MS, ITEST_IO_MS);
	snprintf(line, sizeof(line), "session ends: reason=close_ext "
	    "transport=%s tls=no dc=2 up=", frame_transport_name(t));
	ck_assert_int_eq(daemon_log_count(e.d, line), 1);
	echo(other, 128);
	ck_assert_int_eq(fakemp_conn_info(e.mp[0], r.conn_id, &ci), 0);
	ck_assert_uint_eq(ci.close_conns, 0);
	tclient_close(other);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_HANDSHAKES), 2);
	env_teardown(&e);
}
END_TEST

/*
 * doc/PROTOCOL.md 2.3: a padded frame of len + pad bytes goes up as its first
 * (len + pad) & ~3 bytes, whole words of padding included, for every
 * padding 0..15; the echo brings those bytes back (plus 0..3 of ours).
 * The frames are built here, byte by byte, to know the padding.
 */
START_TEST(padded_whole_words)
{
	uint8_t frame[4 + 96 + PADDED_MAX_PAD], in[128];
	size_t len, want, got;
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	int pad;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = connect_client(&e, FRAME_PADDED, 2);
	for (pad = 0; pad <= PADDED_MAX_PAD; pad++) {
		len = 56 + 4 * (size_t)(pad % 8);
		ck_assert_int_eq(crypto_random(frame + 4, len + (size_t)pad),
		    0);
		frame[4] |= 1;	/* auth_key_id != 0 */
		bytes_put_le32(frame, (uint32_t)(len + (size_t)pad));
		ck_assert_int_eq(tclient_write_raw(c, frame, 4 + len +
		    (size_t)pad, 1), 0);
		want = (len + (size_t)pad) & ~(size_t)3;
		ck_assert_int_eq(tclient_recv(c, in, sizeof(in), &got,
		    ITEST_IO_MS), 0);
		ck_assert_int_eq(fakemp_last_req(e.mp[0], &r), 0);
		ck_assert_uint_eq(r.msg_len, want);
		ck_assert_uint_ge(got, want);
		ck_assert_uint_le(got, want + 3);
		ck_assert_mem_eq(in, frame + 4, want);
	}
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_REQS),
	    PADDED_MAX_PAD + 1);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/* A link that dies closes its clients; links come back; clients work. */
START_TEST(link_loss)
{
	struct tclient *c[4];
	struct env e;
	int i;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	for (i = 0; i < 4; i++) {
		c[i] = connect_client(&e, FRAME_INTERMEDIATE, 2);
		echo(c[i], 128);
	}
	fakemp_drop_all(e.mp[0]);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(tclient_wait_closed(c[i], ITEST_IO_MS), 0);
		tclient_close(c[i]);
	}
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_HANDSHAKES, 4,
	    ITEST_IO_MS), 0);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_READY, 2, ITEST_IO_MS), 0);
	while (daemon_log_count(e.d, "link ready") < 4)
		tclock_sleep_ms(10);
	c[0] = connect_client(&e, FRAME_ABRIDGED, 2);
	echo(c[0], 1024);
	tclient_close(c[0]);
	env_teardown(&e);
}
END_TEST

#define K_LINKS(s)	"mtproxyd_middle_links|state=" s

/*
 * /metrics: mtproxyd_middle_links by state equals the links the fake sees
 * ready; a session is a handshake observed and two busy threads, and
 * connects to no DC; a fake that stalls every handshake leaves no link
 * ready and both links connecting or waiting to try again.
 */
START_TEST(links_by_state)
{
	const char *python = mscrape_python();
	char extra[128], *m;
	struct tclient *c;
	uint16_t port;
	struct env e;

	if (python == NULL) {
		itest_skip("no python3 with prometheus_client: install "
		    "python3-prometheus-client");
		return;
	}
	port = mscrape_free_port();
	snprintf(extra, sizeof(extra), "[metrics]\nlisten = 127.0.0.1:%u\n"
	    "allow = 127.0.0.1/32\n", port);
	env_setup(&e, 1);
	daemon_up(&e, extra, 2);
	m = mscrape_until(e.d, port, python, K_LINKS("ready"), 2);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_READY), 2);
	ck_assert_uint_eq(mscrape_sample(m, K_LINKS("connecting")), 0);
	ck_assert_uint_eq(mscrape_sample(m, K_LINKS("waiting")), 0);
	free(m);
	c = connect_client(&e, FRAME_INTERMEDIATE, 2);
	echo(c, 128);
	m = mscrape_until(e.d, port, python, "mtproxyd_pool_threads|state=busy",
	    2);
	ck_assert_uint_eq(mscrape_sample(m,
	    "mtproxyd_handshake_duration_seconds_count"), 1);
	ck_assert_ptr_null(strstr(m, "mtproxyd_dc_connect"));
	free(m);
	fakemp_set_fault(e.mp[0], FAKEMP_FAULT_STALL);
	fakemp_drop_all(e.mp[0]);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	tclient_close(c);
	m = mscrape_until(e.d, port, python, K_LINKS("ready"), 0);
	ck_assert_uint_eq(mscrape_sample(m, K_LINKS("connecting")) +
	    mscrape_sample(m, K_LINKS("waiting")), 2);
	free(m);
	fakemp_set_fault(e.mp[0], FAKEMP_FAULT_NONE);
	env_teardown(&e);
}
END_TEST

/*
 * A refresh that moves DC 2 to another middle proxy keeps the live session
 * on the old one and sends new sessions to the new one; a broken file is
 * ignored.
 */
START_TEST(refresh_moves_dc)
{
	struct tclient *old, *fresh;
	struct env e;

	env_setup(&e, 2);
	daemon_up(&e, "", 2);
	old = connect_client(&e, FRAME_PADDED, 2);
	echo(old, 256);
	write_multi(&e, 1);
	ck_assert_int_eq(kill(daemon_pid(e.d), SIGHUP), 0);
	ck_assert_int_eq(fakemp_wait(e.mp[1], FAKEMP_READY, 2, ITEST_IO_MS), 0);
	while (daemon_log_count(e.d, "link ready") < 4)
		tclock_sleep_ms(10);
	echo(old, 4096);
	fresh = connect_client(&e, FRAME_PADDED, 2);
	echo(fresh, 512);
	ck_assert_uint_eq(fakemp_counter(e.mp[1], FAKEMP_REQS), 1);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_REQS), 2);
	/* Garbage: kept the current list, said why. */
	itest_write_file(e.dir, "proxy-multi.conf", "proxy_for x;\n", 13);
	ck_assert_int_eq(kill(daemon_pid(e.d), SIGHUP), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "proxy-multi.conf", ITEST_IO_MS),
	    0);
	tclient_close(fresh);
	fresh = connect_client(&e, FRAME_ABRIDGED, 2);
	echo(fresh, 512);
	ck_assert_uint_eq(fakemp_counter(e.mp[1], FAKEMP_REQS), 2);
	tclient_close(fresh);
	tclient_close(old);
	/* The old links drain and close once their last client is gone. */
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_OPEN, 0, ITEST_IO_MS), 0);
	env_teardown(&e);
}
END_TEST

/* A middle proxy whose clock is off is refused with a clear line. */
START_TEST(clock_skew)
{
	struct env e;

	env_setup(&e, 1);
	fakemp_set_time_offset(e.mp[0], 3600);
	daemon_up(&e, "", 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "nonce refused", ITEST_IO_MS), 0);
	ck_assert_int_ge(daemon_log_count(e.d, "clock"), 1);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_HANDSHAKES), 0);
	env_teardown(&e);
}
END_TEST

/* We ping; a middle proxy that stops answering is dropped and redialled. */
START_TEST(dead_link)
{
	struct env e;

	env_setup(&e, 1);
	daemon_up(&e, "ping_interval = 1\n", 2);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_PINGS_IN, 2, ITEST_IO_MS),
	    0);
	fakemp_set_pong(e.mp[0], 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "no answer for", ITEST_IO_MS), 0);
	fakemp_set_pong(e.mp[0], 1);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_HANDSHAKES, 3,
	    ITEST_IO_MS), 0);
	env_teardown(&e);
}
END_TEST

/*
 * 4.4 behind NAT: with nat_info the link keys use the public address, as
 * the middle proxy sees it; without it the same middle proxy refuses.
 */
START_TEST(nat_info_keys)
{
	struct fakemp_link lk;
	struct tclient *c;
	struct env e;

	env_setup(&e, 1);
	fakemp_stop(e.mp[0]);
	e.mp[0] = mp_start_as(&e, AF_INET, "203.0.113.7");
	write_multi(&e, 0);
	daemon_up(&e, "nat_info = 127.0.0.1:203.0.113.7\n", 2);
	c = connect_client(&e, FRAME_PADDED, 2);
	echo(c, 2048);
	tclient_close(c);
	ck_assert_int_eq(fakemp_last_link(e.mp[0], &lk), 0);
	ck_assert_uint_eq(lk.clt.ip[0], 203);
	ck_assert_uint_eq(lk.clt.ip[3], 7);
	env_teardown(&e);

	env_setup(&e, 1);
	fakemp_stop(e.mp[0]);
	e.mp[0] = mp_start_as(&e, AF_INET, "203.0.113.7");
	write_multi(&e, 0);
	daemon_up(&e, "", 0);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_BAD_HANDSHAKE, 1,
	    ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_READY), 0);
	env_teardown(&e);
}
END_TEST

/* A middle proxy reached over IPv6 (4.4 with the IPv6 addresses). */
START_TEST(ipv6_link)
{
	struct fakemp_link lk;
	struct tclient *c;
	struct env e;
	char text[256];

	env_setup(&e, 1);
	fakemp_stop(e.mp[0]);
	e.mp[0] = mp_start_as(&e, AF_INET6, NULL);
	snprintf(text, sizeof(text), "default 2;\nproxy_for 2 [::1]:%u;\n",
	    (unsigned)fakemp_port(e.mp[0]));
	itest_write_file(e.dir, "proxy-multi.conf", text, strlen(text));
	daemon_up(&e, "", 2);
	c = connect_client(&e, FRAME_INTERMEDIATE, 2);
	echo(c, FRAME_MAX_LEN);
	tclient_close(c);
	ck_assert_int_eq(fakemp_last_link(e.mp[0], &lk), 0);
	ck_assert_int_eq(lk.clt.v6, 1);
	ck_assert_int_eq(lk.srv.v6, 1);
	env_teardown(&e);
}
END_TEST

/* A client that does not read is closed, not waited for. */
/* An intermediate client bound to a link; r: its request, for its conn_id. */
static struct tclient *
attached_client(struct env *e, struct fakemp_req *r)
{
	struct tclient *c = connect_client(e, FRAME_INTERMEDIATE, 2);

	echo(c, 64);
	ck_assert_int_eq(fakemp_last_req(e->mp[0], r), 0);
	return c;
}

/* A client that stops reading is closed once answers keep coming for it. */
START_TEST(slow_client_queue)
{
	uint8_t *big = packet(FRAME_MAX_LEN);
	struct fakemp_req r;
	struct fakemp_conn ci;
	struct tclient *c, *other;
	struct env e;
	int64_t end;

	env_setup(&e, 1);
	daemon_up(&e, "queue_bytes = 65536\n", 2);
	c = attached_client(&e, &r);
	/* More than socket buffers plus the queue, for longer than the
	   daemon's stall time (5 s); c reads nothing. */
	end = tclock_now_ms() + ITEST_IO_MS;
	while (daemon_log_contains(e.d, "a client stopped reading") != 1) {
		ck_assert_msg(tclock_now_ms() < end,
		    "the client was not closed");
		(void)fakemp_answer(e.mp[0], r.conn_id, 0, big, FRAME_MAX_LEN);
		tclock_sleep_ms(100);
	}
	do {
		ck_assert_int_eq(fakemp_conn_info(e.mp[0], r.conn_id, &ci), 0);
		tclock_sleep_ms(10);
	} while (ci.close_conns == 0);
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	/* The link and its other clients go on. */
	other = connect_client(&e, FRAME_INTERMEDIATE, 2);
	echo(other, 1024);
	tclient_close(other);
	tclient_close(c);
	free(big);
	env_teardown(&e);
}
END_TEST

#define DOWNLOAD_PARTS	100	/* of FRAME_MAX_LEN: a 100 MB download */
#define READ_RATE	5000000	/* bytes per second, a phone on a slow link */

/* Answer i of a download, different in every part and every byte. */
static void
part_fill(uint8_t *p, size_t len, unsigned i)
{
	size_t k;

	for (k = 0; k < len; k++)
		p[k] = (uint8_t)(k * 31 + i * 17 + 5);
	memcpy(p, &i, sizeof(i));
}

/*
 * Push n parts for conn_id at once: the fake sends as fast as it can.
 * 0, or -1 (no Check asserts: a pusher thread calls it too).
 */
static int
push_parts(struct env *e, uint64_t conn_id, unsigned n)
{
	uint8_t *part = malloc(FRAME_MAX_LEN);
	unsigned i;
	int rc = part != NULL ? 0 : -1;

	for (i = 0; i < n && rc == 0; i++) {
		part_fill(part, FRAME_MAX_LEN, i);
		rc = fakemp_answer(e->mp[0], conn_id, 0, part, FRAME_MAX_LEN);
	}
	free(part);
	return rc == 0 ? 0 : -1;
}

struct pusher {
	struct env *e;
	uint64_t conn_id;
	unsigned n;
	int rc;
};

static void *
pusher_main(void *arg)
{
	struct pusher *p = arg;

	p->rc = push_parts(p->e, p->conn_id, p->n);
	return NULL;
}

/* Read n parts, each byte for byte, at most rate bytes/s (0: no limit). */
static void
read_parts(struct tclient *c, unsigned n, long rate)
{
	uint8_t *want = malloc(FRAME_MAX_LEN), *got = malloc(FRAME_MAX_LEN);
	int64_t start = tclock_now_ms(), due;
	size_t len;
	unsigned i;

	ck_assert(want != NULL && got != NULL);
	for (i = 0; i < n; i++) {
		ck_assert_msg(tclient_recv(c, got, FRAME_MAX_LEN, &len,
		    ITEST_IO_MS)
		    == 0, "part %u of %u did not arrive", i, n);
		part_fill(want, FRAME_MAX_LEN, i);
		ck_assert_uint_eq(len, FRAME_MAX_LEN);
		ck_assert_msg(memcmp(got, want, len) == 0, "part %u differs", i);
		due = rate > 0 ? start + (int64_t)(i + 1) * FRAME_MAX_LEN *
		    1000 / rate : 0;
		if (due > tclock_now_ms())
			tclock_sleep_ms((int)(due - tclock_now_ms()));
	}
	free(want);
	free(got);
}

/*
 * A client behind but reading is kept however far behind it falls while
 * the daemon has memory: a 100 MB download sent at full speed, read at
 * 5 MB/s, every byte intact and nobody closed.
 */
START_TEST(slow_reader_kept)
{
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	struct pusher p;
	pthread_t th;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	c = attached_client(&e, &r);
	p.e = &e;
	p.conn_id = r.conn_id;
	p.n = DOWNLOAD_PARTS;
	/* Made while the client reads, as a real download's parts are. */
	ck_assert_int_eq(pthread_create(&th, NULL, pusher_main, &p), 0);
	read_parts(c, DOWNLOAD_PARTS, READ_RATE);
	pthread_join(th, NULL);
	ck_assert_int_eq(p.rc, 0);
	echo(c, 1024);
	ck_assert_int_eq(itest_counter(e.d, "middle_queue_overflows",
	    ITEST_IO_MS), 0);
	ck_assert_int_eq(itest_counter(e.d, "middle_queue_evictions",
	    ITEST_IO_MS), 0);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/*
 * At queue_total_bytes the client with the largest backlog goes (one that
 * reads nothing), logged once; a client reading at the same time keeps
 * every byte.
 */
/*
 * The idle clock counts answers too: a download that only comes from the
 * middle proxy, longer than idle_timeout, keeps its session; once nothing
 * moves, the session ends after idle_timeout.
 */
START_TEST(download_outlives_idle)
{
	enum { PARTS = 25, PART = 4096, EVERY_MS = 200 };
	uint8_t want[PART], got[PART + 16];
	struct fakemp_req r;
	struct tclient *c;
	struct env e;
	int64_t quiet;
	size_t len;
	unsigned i;

	env_setup(&e, 1);
	e.idle_s = 2;
	daemon_up(&e, "", 2);
	c = attached_client(&e, &r);
	for (i = 0; i < PARTS; i++) {	/* 5 s of answers, nothing sent */
		part_fill(want, PART, i);
		ck_assert_int_eq(fakemp_answer(e.mp[0], r.conn_id, 0, want,
		    PART), 0);
		ck_assert_msg(tclient_recv(c, got, sizeof(got), &len,
		    ITEST_IO_MS) == 0, "answer %u of %u did not arrive", i,
		    PARTS);
		ck_assert_uint_eq(len, PART);
		ck_assert_mem_eq(got, want, PART);
		tclock_sleep_ms(EVERY_MS);
	}
	quiet = tclock_now_ms();
	ck_assert_int_eq(tclient_wait_closed(c, ITEST_IO_MS), 0);
	ck_assert_int_ge(tclock_now_ms() - quiet, 2000 - 500);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

START_TEST(total_bound_evicts_largest)
{
	struct fakemp_req ra, rb;
	struct fakemp_conn ci;
	struct tclient *stuck, *reader;
	struct env e;

	env_setup(&e, 1);
	daemon_up(&e, "queue_total_bytes = 16777216\n", 2);
	stuck = attached_client(&e, &ra);
	reader = attached_client(&e, &rb);
	ck_assert_uint_ne(ra.conn_id, rb.conn_id);
	/*
	 * 40 MB for stuck: past the 16 MiB bound plus any socket buffers;
	 * reader's backlog never passes its 8 MB, so stuck's is the largest.
	 */
	ck_assert_int_eq(push_parts(&e, rb.conn_id, 8), 0);
	ck_assert_int_eq(push_parts(&e, ra.conn_id, 40), 0);
	read_parts(reader, 8, 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "closing the client with the "
	    "largest backlog", ITEST_IO_MS), 0);
	ck_assert_int_eq(push_parts(&e, rb.conn_id, 8), 0);
	read_parts(reader, 8, 0);
	ck_assert_int_eq(tclient_wait_closed(stuck, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakemp_conn_info(e.mp[0], ra.conn_id, &ci), 0);
	ck_assert_uint_ge(ci.close_conns, 1);
	ck_assert_int_eq(daemon_log_count(e.d, "largest backlog"), 1);
	ck_assert_int_eq(itest_counter(e.d, "middle_queue_evictions", ITEST_IO_MS), 1);
	itest_wait_counter(e.d, "active", 1, ITEST_IO_MS, ITEST_IO_MS);
	ck_assert_int_eq(daemon_log_count(e.d, "session ends: reason=queue "),
	    1);
	echo(reader, 1024);
	tclient_close(reader);
	tclient_close(stuck);
	env_teardown(&e);
}
END_TEST

struct crowd {
	struct env *e;
	int first, n;
	int ok;
};

static void *
crowd_main(void *arg)
{
	struct crowd *cr = arg;
	struct tclient *c[125];
	uint8_t key[SECRET_LEN], out[256], in[300];
	size_t got;
	int i, round, bad = 0;

	itest_key(ALICE_HEX, key);
	for (i = 0; i < cr->n; i++)
		if (tclient_connect((struct sockaddr *)&cr->e->addr,
		    sizeof(cr->e->addr), key, (enum frame_transport)(i % 3),
		    2, ITEST_IO_MS, &c[i]) != 0)
			return NULL;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < cr->n; i++) {
			crypto_random(out, sizeof(out));
			out[0] |= 1;
			out[8] = (uint8_t)(cr->first + i);
			if (tclient_send(c[i], out, sizeof(out), 0) != 0 ||
			    tclient_recv(c[i], in, sizeof(in), &got,
			    ITEST_IO_MS) != 0 ||
			    got < sizeof(out) || memcmp(in, out, sizeof(out)) != 0)
				bad++;
		}
	}
	for (i = 0; i < cr->n; i++)
		tclient_close(c[i]);
	cr->ok = bad == 0;
	return NULL;
}

/* 500 clients over 2 links, each seeing only its own answers. */
START_TEST(crowd)
{
	struct crowd cr[4];
	pthread_t th[4];
	struct env e;
	int i;

	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	for (i = 0; i < 4; i++) {
		cr[i].e = &e;
		cr[i].first = i * 125;
		cr[i].n = 125;
		cr[i].ok = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, crowd_main,
		    &cr[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(cr[i].ok, "clients of group %d lost answers", i);
	}
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_CONNS), 500);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_ACCEPTED), 2);
	/* The counters say the same (SIGUSR1). */
	ck_assert_int_eq(kill(daemon_pid(e.d), SIGUSR1), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "stats: middle_queries 1000",
	    ITEST_IO_MS), 0);
	ck_assert_int_eq(daemon_log_contains(e.d, "stats: middle_links_up 2"), 1);
	env_teardown(&e);
}
END_TEST

#define HAMMER_MAX	24
#define HAMMER_WAVE	8
#define HAMMER_LEN	65536
#define SLOW_READ_US	2000	/* the fake takes a frame per 2 ms a link */

/*
 * A client sending HAMMER_LEN packets as fast as the proxy takes them (a
 * writer thread) while a reader thread checks each echo byte for byte:
 * packet i is tmpl with i in bytes 8..15. Nothing bounds what is in
 * flight, so a link slower than the clients backs up.
 */
struct hammer {
	struct tclient *c;
	uint8_t *tmpl;
	pthread_t wr, rd;
	atomic_int stop, wdone;
	atomic_ulong sent;
	int wok, rok;
	unsigned long echoes;
};

static void *
hammer_writer(void *arg)
{
	struct hammer *h = arg;
	uint8_t *out = malloc(HAMMER_LEN);
	unsigned long i;

	h->wok = out != NULL;
	for (i = 0; h->wok && !atomic_load(&h->stop); i++) {
		memcpy(out, h->tmpl, HAMMER_LEN);
		memcpy(out + 8, &i, sizeof(i));
		h->wok = tclient_send(h->c, out, HAMMER_LEN, 0) == 0;
		atomic_fetch_add(&h->sent, (unsigned long)h->wok);
	}
	atomic_store(&h->wdone, 1);
	free(out);
	return NULL;
}

static void *
hammer_reader(void *arg)
{
	struct hammer *h = arg;
	uint8_t *in = malloc(HAMMER_LEN + 16);
	size_t got;

	h->rok = in != NULL;
	while (h->rok && !(atomic_load(&h->wdone) &&
	    h->echoes == atomic_load(&h->sent))) {
		h->rok = tclient_recv(h->c, in, HAMMER_LEN + 16, &got,
		    ITEST_IO_MS) == 0 && got == HAMMER_LEN &&
		    memcmp(in + 8, &h->echoes, sizeof(h->echoes)) == 0 &&
		    memcmp(in, h->tmpl, 8) == 0 &&
		    memcmp(in + 16, h->tmpl + 16, HAMMER_LEN - 16) == 0;
		h->echoes += (unsigned long)h->rok;
	}
	free(in);
	return NULL;
}

static void
hammer_start(struct env *e, struct hammer *h)
{
	memset(h, 0, sizeof(*h));
	h->c = connect_client(e, FRAME_INTERMEDIATE, 2);
	h->tmpl = packet(HAMMER_LEN);
	atomic_init(&h->stop, 0);
	atomic_init(&h->wdone, 0);
	atomic_init(&h->sent, 0);
	ck_assert_int_eq(pthread_create(&h->wr, NULL, hammer_writer, h), 0);
	ck_assert_int_eq(pthread_create(&h->rd, NULL, hammer_reader, h), 0);
}

/* Stop n hammers: each sent, and every echo came back byte for byte. */
static void
hammers_stop(struct hammer *h, int n)
{
	int i;

	for (i = 0; i < n; i++)
		atomic_store(&h[i].stop, 1);
	for (i = 0; i < n; i++) {
		pthread_join(h[i].wr, NULL);
		pthread_join(h[i].rd, NULL);
		ck_assert_msg(h[i].wok && h[i].rok, "client %d: send %d, "
		    "echo %lu of %lu", i, h[i].wok, h[i].echoes,
		    (unsigned long)atomic_load(&h[i].sent));
		ck_assert_uint_gt(h[i].echoes, 0);
		tclient_close(h[i].c);
		free(h[i].tmpl);
	}
}

/* The most links the fake has seen open at once, polled while waiting. */
static uint64_t
links_peak(struct env *e, uint64_t peak)
{
	uint64_t open = fakemp_counter(e->mp[0], FAKEMP_OPEN);

	return open > peak ? open : peak;
}

/*
 * connections_per_target = 1/3: clients echoing at once through a middle
 * proxy slow to take frames make the link busy, and the daemon opens
 * links up to 3, never more (polled every 10 ms); new clients, a wave of
 * them each time a link opens, go to the links not busy. Every byte comes
 * back, and the fake accepts every seq and CRC. Once the clients leave, the extra links close after a
 * ping_interval, down to 1; a new client then works on the one left.
 */
START_TEST(links_grow_and_shrink)
{
	struct hammer h[HAMMER_MAX];
	struct env e;
	uint64_t peak = 0, waved = 0, acc;
	int64_t end;
	int n = 0;
	struct tclient *c;

	env_setup(&e, 1);
	fakemp_set_read_delay(e.mp[0], SLOW_READ_US);
	daemon_up(&e, "connections_per_target = 1/3\nping_interval = 2\n", 1);
	end = tclock_now_ms() + 4 * ITEST_IO_MS;
	while (fakemp_counter(e.mp[0], FAKEMP_READY) < 3) {
		ck_assert_msg(tclock_now_ms() < end, "%d clients, %llu links",
		    n, (unsigned long long)fakemp_counter(e.mp[0],
		    FAKEMP_READY));
		acc = fakemp_counter(e.mp[0], FAKEMP_ACCEPTED);
		while (acc > waved && n < HAMMER_MAX &&
		    n < (int)acc * HAMMER_WAVE)
			hammer_start(&e, &h[n++]);
		waved = acc;
		peak = links_peak(&e, peak);
		tclock_sleep_ms(10);
	}
	/* Load goes on for 2 s more: still no fourth link. */
	for (end = tclock_now_ms() + 2000; tclock_now_ms() < end;) {
		peak = links_peak(&e, peak);
		tclock_sleep_ms(10);
	}
	fakemp_set_read_delay(e.mp[0], 0);
	hammers_stop(h, n);
	ck_assert_uint_eq(peak, 3);
	ck_assert_uint_ge(counter(&e, "middle_links_grown"), 2);
	ck_assert_int_gt(counter(&e, "middle_link_waits"), 0);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_READY, 1, 4 * ITEST_IO_MS),
	    0);
	ck_assert_int_eq(fakemp_wait(e.mp[0], FAKEMP_OPEN, 1, ITEST_IO_MS), 0);
	ck_assert_int_eq(daemon_wait_log(e.d, "extra link closed", ITEST_IO_MS),
	    0);
	/* Every extra link opened has closed; none failed. */
	ck_assert_int_eq(counter(&e, "middle_links_shrunk"),
	    counter(&e, "middle_links_grown"));
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_ACCEPTED),
	    1 + (uint64_t)counter(&e, "middle_links_grown"));
	ck_assert_int_eq(counter(&e, "middle_link_failures"), 0);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_BAD_CRC), 0);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_BAD_SEQ), 0);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_BAD_FRAMES), 0);
	c = connect_client(&e, FRAME_ABRIDGED, 2);
	echo(c, 4096);
	tclient_close(c);
	env_teardown(&e);
}
END_TEST

/*
 * connections_per_target = 2: the same load through the same slow middle
 * proxy waits for the links (counted) and never opens a third.
 */
START_TEST(links_capped_at_max)
{
	struct hammer h[8];
	struct env e;
	uint64_t peak = 0;
	int64_t end;
	int i;

	env_setup(&e, 1);
	fakemp_set_read_delay(e.mp[0], SLOW_READ_US);
	daemon_up(&e, "ping_interval = 1\n", 2);
	for (i = 0; i < 8; i++)
		hammer_start(&e, &h[i]);
	for (end = tclock_now_ms() + 3000; tclock_now_ms() < end;) {
		peak = links_peak(&e, peak);
		tclock_sleep_ms(10);
	}
	fakemp_set_read_delay(e.mp[0], 0);
	hammers_stop(h, 8);
	ck_assert_uint_eq(peak, 2);
	ck_assert_int_gt(counter(&e, "middle_link_waits"), 0);
	ck_assert_int_eq(counter(&e, "middle_links_grown"), 0);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_ACCEPTED), 2);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_BAD_SEQ), 0);
	env_teardown(&e);
}
END_TEST

/*
 * MTPROXYD_CRC32C=table: the daemon's frames checksummed by the table
 * CRC32C that machines without SSE4.2 use, checked by the fake's bitwise
 * reference, traffic byte for byte; a wrong table entry closes the links.
 * An unknown value is refused at start.
 */
START_TEST(crc32c_table_env)
{
	static const size_t sizes[] = { 56, 1000, 4096, 65536, FRAME_MAX_LEN };
	static const char *const noargs[] = { NULL };
	char out[4096];
	struct tclient *c;
	struct env e;
	size_t i;
	int status;

	ck_assert_int_eq(setenv("MTPROXYD_CRC32C", "table", 1), 0);
	env_setup(&e, 1);
	daemon_up(&e, "", 2);
	ck_assert_int_eq(daemon_log_contains(e.d, "CRC32C: table path"), 1);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_CRC32C_LINKS), 2);
	c = connect_client(&e, FRAME_INTERMEDIATE, 2);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		echo(c, sizes[i]);
	tclient_close(c);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_BAD_CRC), 0);
	ck_assert_uint_eq(fakemp_counter(e.mp[0], FAKEMP_ACCEPTED), 2);
	ck_assert_int_eq(setenv("MTPROXYD_CRC32C", "sse", 1), 0);
	ck_assert_int_eq(daemon_run(noargs, "[server]\nport = 0\n"
	    "listen = 127.0.0.1\nstate_dir = @DIR@\n[users]\nalice = "
	    ALICE_HEX "\n", out, sizeof(out), &status, ITEST_IO_MS), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
	    "status 0x%x: %s", status, out);
	ck_assert_ptr_nonnull(strstr(out, "MTPROXYD_CRC32C=sse"));
	ck_assert_int_eq(unsetenv("MTPROXYD_CRC32C"), 0);
	env_teardown(&e);
}
END_TEST

static Suite *
middle_suite(void)
{
	Suite *s = suite_create("middle");
	TCase *tc = tcase_create("middle");

	tcase_set_timeout(tc, ITEST_CASE_S);
	tcase_add_test(tc, proxy_protocol_client);
	tcase_add_loop_test(tc, echo_transports, 0, 3);
	tcase_add_loop_test(tc, acks_and_close_ext, 0, 3);
	tcase_add_test(tc, forward_filter);
	tcase_add_loop_test(tc, bad_frame_closes, 0, 2);
	tcase_add_loop_test(tc, close_ext_nothing_first, 0, 3);
	tcase_add_test(tc, padded_whole_words);
	tcase_add_test(tc, tls_echo);
	tcase_add_test(tc, user_ad_tag);
	tcase_add_test(tc, buffers_follow_answers);
	tcase_add_test(tc, link_loss);
	tcase_add_test(tc, links_by_state);
	tcase_add_test(tc, refresh_moves_dc);
	tcase_add_test(tc, clock_skew);
	tcase_add_test(tc, dead_link);
	tcase_add_test(tc, nat_info_keys);
	tcase_add_test(tc, ipv6_link);
	tcase_add_test(tc, slow_client_queue);
	tcase_add_test(tc, slow_reader_kept);
	tcase_add_test(tc, total_bound_evicts_largest);
	tcase_add_test(tc, download_outlives_idle);
	tcase_add_test(tc, crowd);
	tcase_add_test(tc, crc32c_table_env);
	tcase_add_test(tc, links_grow_and_shrink);
	tcase_add_test(tc, links_capped_at_max);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return middle_suite();
}
