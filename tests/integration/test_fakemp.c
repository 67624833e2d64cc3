/*
 * The fake middle proxy on its own, spoken to by fakemp_client (the proxy's
 * side of a link written from doc/PROTOCOL.md 4): nonce and handshake checks
 * both ways, CRC32C and CRC32, echoes byte for byte up to the largest
 * client packet, keepalive, the answers tests send, the faults, and 500
 * conn_ids over two links.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ckmain.h"
#include "crypto.h"
#include "fakemp.h"
#include "itest.h"
#include "proto.h"
#include "rpc.h"

#define QUIET_MS	300	/* how long "no answer" is watched for */

static uint8_t secret[128];

static void
secret_fill(void)
{
	size_t i;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 37 + 11);
}

static struct fakemp_opts
mp_opts(int family)
{
	struct fakemp_opts o;

	secret_fill();
	memset(&o, 0, sizeof(o));
	o.family = family;
	o.secret = secret;
	o.secret_len = sizeof(secret);
	o.mode = FAKEMP_ECHO;
	return o;
}

static struct fakemp *
mp_start(const struct fakemp_opts *o)
{
	struct fakemp *mp;

	ck_assert_int_eq(fakemp_start(o, &mp), 0);
	ck_assert_uint_ne(fakemp_port(mp), 0);
	return mp;
}

static struct fakemp_client_opts
cl_opts(const struct fakemp *mp, int family, uint32_t flags)
{
	struct fakemp_client_opts o;

	memset(&o, 0, sizeof(o));
	o.family = family;
	o.port = fakemp_port(mp);
	o.secret = secret;
	o.secret_len = sizeof(secret);
	o.flags = flags;
	o.timeout_ms = ITEST_IO_MS;
	return o;
}

static struct fakemp_client *
cl_connect(const struct fakemp_client_opts *o)
{
	struct fakemp_client *c;

	ck_assert_int_eq(fakemp_client_connect(o, &c), 0);
	return c;
}

static void
endpoint(struct rpc_endpoint *e, const char *ip, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->v6 = strchr(ip, ':') != NULL;
	ck_assert_int_eq(inet_pton(e->v6 ? AF_INET6 : AF_INET, ip, e->ip), 1);
	e->port = port;
}

static const uint8_t ad_tag[16] = {
	0x14, 0x77, 0x45, 0x06, 0x96, 0x25, 0xd2, 0xf4,
	0x12, 0xd0, 0x10, 0xbc, 0x34, 0xd7, 0x16, 0xa3
};

/* What the daemon would send for one client packet. */
static void
send_req(struct fakemp_client *c, uint64_t conn_id, const uint8_t *msg,
    size_t len, const uint8_t *tag)
{
	struct rpc_proxy_req r;
	uint8_t *buf;
	size_t cap, n;

	memset(&r, 0, sizeof(r));
	r.transport = FRAME_ABRIDGED;
	r.conn_id = conn_id;
	endpoint(&r.client, "203.0.113.7", 51234);
	endpoint(&r.ours, "198.51.100.1", 443);
	r.ad_tag = tag;
	r.msg = msg;
	r.msg_len = len;
	ck_assert_int_eq(rpc_proxy_req_len(&r, &cap), 0);
	ck_assert_ptr_nonnull(buf = malloc(cap));
	ck_assert_int_eq(rpc_proxy_req_build(&r, buf, cap, &n), 0);
	ck_assert_int_eq(fakemp_client_send(c, buf, n), 0);
	free(buf);
}

static void
recv_answer(struct fakemp_client *c, struct rpc_answer *a)
{
	const uint8_t *p;
	size_t len;

	ck_assert_int_eq(fakemp_client_recv(c, &p, &len, ITEST_IO_MS), 0);
	ck_assert_int_eq(rpc_answer_parse(p, len, a), 0);
}

static void
expect_echo(struct fakemp_client *c, uint64_t conn_id, const uint8_t *msg,
    size_t len)
{
	struct rpc_answer a;

	recv_answer(c, &a);
	ck_assert_uint_eq(a.type, RPC_PROXY_ANS);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert(a.conn_id == conn_id);
	ck_assert_uint_eq(a.data_len, len);
	ck_assert(memcmp(a.data, msg, len) == 0);
}

static void
fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed * 17 + (i >> 8));
}

static void
expect_quiet(struct fakemp_client *c)
{
	const uint8_t *p;
	size_t len;

	ck_assert_int_eq(fakemp_client_recv(c, &p, &len, QUIET_MS),
	    FAKEMP_ERR_TIMEOUT);
}

static void
expect_closed(struct fakemp_client *c)
{
	const uint8_t *p;
	size_t len;

	ck_assert_int_eq(fakemp_client_recv(c, &p, &len, ITEST_IO_MS),
	    FAKEMP_ERR_CLOSED);
}

static void
expect_pong(struct fakemp_client *c, int64_t want)
{
	const uint8_t *p;
	size_t len;
	int64_t id;

	ck_assert_int_eq(fakemp_client_recv(c, &p, &len, ITEST_IO_MS), 0);
	ck_assert_int_eq(rpc_ping_parse(RPC_PONG, p, len, &id), 0);
	ck_assert(id == want);
}

static int
family_of(int i)
{
	return i == 0 ? AF_INET : AF_INET6;
}

/* --- handshake */

START_TEST(handshake_crc32c)
{
	int family = family_of(_i);
	struct fakemp_opts mo = mp_opts(family);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, family, RPC_FLAG_CRC32C);
	struct fakemp_client *c = cl_connect(&co);
	struct rpc_handshake ours, reply;
	struct fakemp_link l;
	struct rpc_endpoint lo;

	ck_assert_int_eq(fakemp_client_crc(c), RPC_CRC32C);
	ck_assert_int_eq(fakemp_client_next_seq(c), 0);
	fakemp_client_handshakes(c, &ours, &reply);
	/* The reply: CRC32C agreed, our PID echoed, the fake's port. */
	ck_assert_uint_eq(reply.flags, RPC_FLAG_CRC32C);
	ck_assert_mem_eq(&reply.peer, &ours.sender, sizeof(ours.sender));
	ck_assert_uint_eq(reply.sender.port, fakemp_port(mp));
	ck_assert_uint_eq(reply.sender.ip, family == AF_INET ? 0x7f000001 : 0);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_READY, 1, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_HANDSHAKES), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CRC32C_LINKS), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_OPEN), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ACCEPTED), 1);
	/* What the fake saw and fed to the key derivation. */
	ck_assert_int_eq(fakemp_last_link(mp, &l), 0);
	ck_assert(l.id == 1);
	ck_assert_uint_eq(l.hs.flags, RPC_FLAG_CRC32C);
	ck_assert_mem_eq(&l.hs.sender, &ours.sender, sizeof(ours.sender));
	ck_assert_mem_eq(&l.hs.peer, &ours.peer, sizeof(ours.peer));
	ck_assert_uint_eq(l.hs.peer.ip, 0);	/* 127.0.0.1 is named 0 */
	ck_assert_uint_eq(l.hs.peer.port, fakemp_port(mp));
	ck_assert_int_eq(l.crc, RPC_CRC32C);
	endpoint(&lo, family == AF_INET ? "127.0.0.1" : "::1", 0);
	ck_assert_int_eq(l.srv.v6, lo.v6);
	ck_assert_mem_eq(l.srv.ip, lo.ip, 16);
	ck_assert_uint_eq(l.srv.port, fakemp_port(mp));
	ck_assert_mem_eq(l.clt.ip, lo.ip, 16);
	ck_assert_uint_eq(l.clt.port, ours.sender.port);
	ck_assert_uint_ne(l.clt.port, 0);
	ck_assert_uint_le((uint32_t)time(NULL) - l.clt_ts, 2);
	fakemp_client_close(c);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_READY), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_FRAMES), 0);
	fakemp_stop(mp);
}
END_TEST

/* CRC32 stays when the proxy does not offer CRC32C or the fake declines. */
START_TEST(handshake_crc32)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, 0);
	struct fakemp_client *c = cl_connect(&co);
	struct rpc_handshake ours, reply;
	uint8_t msg[64];

	fill(msg, sizeof(msg), 1);
	ck_assert_int_eq(fakemp_client_crc(c), RPC_CRC32);
	fakemp_client_handshakes(c, &ours, &reply);
	ck_assert_uint_eq(reply.flags, 0);
	send_req(c, 5, msg, sizeof(msg), NULL);
	expect_echo(c, 5, msg, sizeof(msg));
	fakemp_client_close(c);
	fakemp_stop(mp);

	mo.crc32_only = 1;
	mp = mp_start(&mo);
	co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	c = cl_connect(&co);
	ck_assert_int_eq(fakemp_client_crc(c), RPC_CRC32);
	fakemp_client_handshakes(c, &ours, &reply);
	ck_assert_uint_eq(reply.flags, 0);
	send_req(c, 6, msg, sizeof(msg), NULL);
	expect_echo(c, 6, msg, sizeof(msg));
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CRC32C_LINKS), 0);
	fakemp_client_close(c);
	fakemp_stop(mp);
}
END_TEST

/*
 * rpc.txt [ipv4]: the derivation both ends run. The fake takes srv from
 * its socket's local address and clt from the peer; the client the other
 * way round. The links above work on IPv4 and IPv6, so the two agree.
 */
START_TEST(key_vectors)
{
	static const char sec[] =
	    "0f8896442f1165bb95e9a5a460aaebb3af3de415b5639e833bc20bd70e0cc781"
	    "6c2765340362c14a5be8a78c490693f7386fc24dfff3a482f791ba62c7028034"
	    "811004717a6e02be11d253007eb4ddec9cc08c94a43f6898a09332b28af9db9d"
	    "6b68ded0604be9a1bc02855480963fb573970151c5762e5ff1f4ed91d4e13851";
	static const uint8_t nonce_srv[16] = {
		0x5a, 0x13, 0xbb, 0xc5, 0xae, 0x78, 0x15, 0x23,
		0xd0, 0x2d, 0xb0, 0x52, 0x87, 0x21, 0x33, 0x15
	};
	static const uint8_t nonce_clt[16] = {
		0x9e, 0x6a, 0xf5, 0x52, 0x38, 0x08, 0x39, 0xde,
		0xd1, 0xfa, 0xd4, 0x41, 0xeb, 0xaf, 0x4a, 0x28
	};
	static const uint8_t key_client[32] = {
		0xf7, 0x1a, 0x7d, 0x7d, 0x91, 0xd9, 0x27, 0x4d,
		0x87, 0x2f, 0x9e, 0x53, 0x04, 0x9c, 0x34, 0x17,
		0x9a, 0xf1, 0x76, 0x1d, 0x61, 0xa5, 0xf8, 0x8a,
		0xe8, 0xd5, 0x5f, 0x51, 0xbb, 0x45, 0x7f, 0xc6
	};
	static const uint8_t iv_server[16] = {
		0x78, 0x56, 0x6b, 0xc9, 0x30, 0x6b, 0x7d, 0x50,
		0xbb, 0x01, 0x11, 0xa6, 0xd7, 0x75, 0x69, 0xfc
	};
	uint8_t s[128], key[32], iv[16];
	struct rpc_key_input in;

	ck_assert_uint_eq(itest_unhex(sec, s, sizeof(s)), sizeof(s));
	memset(&in, 0, sizeof(in));
	memcpy(in.nonce_srv, nonce_srv, 16);
	memcpy(in.nonce_clt, nonce_clt, 16);
	in.clt_ts = 1764000000;
	endpoint(&in.srv, "149.154.175.50", 8888);
	endpoint(&in.clt, "10.0.0.5", 40000);
	in.secret = s;
	in.secret_len = sizeof(s);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv), 0);
	ck_assert_mem_eq(key, key_client, 32);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_SERVER, key, iv), 0);
	ck_assert_mem_eq(iv, iv_server, 16);
}
END_TEST

/* --- traffic */

START_TEST(echo_records)
{
	int family = family_of(_i);
	struct fakemp_opts mo = mp_opts(family);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, family, RPC_FLAG_CRC32C);
	struct fakemp_client *c = cl_connect(&co);
	struct fakemp_conn ci;
	struct fakemp_req r;
	struct rpc_endpoint want;
	uint8_t msg[256];
	unsigned i;

	ck_assert_int_eq(fakemp_last_req(mp, &r), FAKEMP_ERR_UNKNOWN);
	for (i = 0; i < 10; i++) {
		fill(msg, sizeof(msg), i);
		send_req(c, 100 + i % 3, msg, 8 + 8 * i, i % 2 ? ad_tag : NULL);
		expect_echo(c, 100 + i % 3, msg, 8 + 8 * i);
	}
	ck_assert_int_eq(fakemp_client_next_seq(c), 10);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_REQS), 10);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ANS), 10);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CONNS), 3);
	/* The last: i = 9, conn 100, with the tag, 80 bytes. */
	ck_assert_int_eq(fakemp_last_req(mp, &r), 0);
	ck_assert(r.conn_id == 100);
	ck_assert_uint_eq(r.flags, 0x40021008);
	ck_assert_int_eq(r.has_ad_tag, 1);
	ck_assert_uint_eq(r.ad_tag_len, 16);
	ck_assert_mem_eq(r.ad_tag, ad_tag, 16);
	ck_assert_uint_eq(r.msg_len, 80);
	ck_assert(r.link == 1);
	endpoint(&want, "203.0.113.7", 51234);
	ck_assert_mem_eq(&r.client, &want, sizeof(want));
	endpoint(&want, "198.51.100.1", 443);
	ck_assert_mem_eq(&r.ours, &want, sizeof(want));
	/* conn 100: i = 0, 3, 6, 9 → 8 + 32 + 56 + 80 bytes. */
	ck_assert_int_eq(fakemp_conn_info(mp, 100, &ci), 0);
	ck_assert(ci.reqs == 4);
	ck_assert(ci.bytes == 176);
	ck_assert(ci.close_conns == 0);
	ck_assert(ci.link == 1);
	ck_assert_uint_eq(ci.last_flags, 0x40021008);
	ck_assert_int_eq(fakemp_conn_info(mp, 102, &ci), 0);	/* i = 8 */
	ck_assert_uint_eq(ci.last_flags, 0x40021000);
	ck_assert_int_eq(fakemp_conn_info(mp, 99, &ci), FAKEMP_ERR_UNKNOWN);
	fakemp_client_close(c);
	fakemp_stop(mp);
}
END_TEST

/* The largest client packet both ways, three times on one CBC chain. */
START_TEST(echo_largest)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *c = cl_connect(&co);
	uint8_t *msg = malloc(FRAME_MAX_LEN);
	unsigned i;

	ck_assert_ptr_nonnull(msg);
	for (i = 0; i < 3; i++) {
		fill(msg, FRAME_MAX_LEN, i);
		send_req(c, 7, msg, FRAME_MAX_LEN, ad_tag);
		expect_echo(c, 7, msg, FRAME_MAX_LEN);
		send_req(c, 7, msg, 8, NULL);
		expect_echo(c, 7, msg, 8);
	}
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_REQ_BYTES),
	    3 * (FRAME_MAX_LEN + 8));
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ANS_BYTES),
	    3 * (FRAME_MAX_LEN + 8));
	free(msg);
	fakemp_client_close(c);
	fakemp_stop(mp);
}
END_TEST

START_TEST(keepalive)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *c = cl_connect(&co);
	uint8_t b[RPC_PING_LEN];
	const uint8_t *p;
	size_t len;
	unsigned n;
	int64_t id;

	/* The proxy's ping answered with its id. */
	ck_assert_int_eq(rpc_ping_build(RPC_PING, -77, b), 0);
	ck_assert_int_eq(fakemp_client_send(c, b, sizeof(b)), 0);
	expect_pong(c, -77);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_PINGS_IN), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_PONGS_OUT), 1);
	/* Playing dead. */
	fakemp_set_pong(mp, 0);
	ck_assert_int_eq(fakemp_client_send(c, b, sizeof(b)), 0);
	expect_quiet(c);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_PINGS_IN), 2);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_PONGS_OUT), 1);
	fakemp_set_pong(mp, 1);
	/* The fake's ping; our pong with its id, then with another. */
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_READY, 1, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakemp_ping_all(mp, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(fakemp_client_recv(c, &p, &len, ITEST_IO_MS), 0);
	ck_assert_int_eq(rpc_ping_parse(RPC_PING, p, len, &id), 0);
	ck_assert(id == 1);
	ck_assert_int_eq(rpc_ping_build(RPC_PONG, id, b), 0);
	ck_assert_int_eq(fakemp_client_send(c, b, sizeof(b)), 0);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_PONGS_IN, 1, ITEST_IO_MS), 0);
	ck_assert_int_eq(rpc_ping_build(RPC_PONG, 1000, b), 0);
	ck_assert_int_eq(fakemp_client_send(c, b, sizeof(b)), 0);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_BAD_PONGS, 1, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_PINGS_OUT), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_PONGS_IN), 1);
	fakemp_client_close(c);
	fakemp_stop(mp);
}
END_TEST

/* RPC_CLOSE_CONN counted per conn_id; the answers tests send. */
START_TEST(close_and_answers)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *c = cl_connect(&co);
	uint8_t msg[32], b[RPC_CLOSE_LEN];
	struct fakemp_conn ci;
	struct rpc_answer a;

	fill(msg, sizeof(msg), 3);
	send_req(c, 9, msg, sizeof(msg), NULL);
	expect_echo(c, 9, msg, sizeof(msg));
	ck_assert_int_eq(fakemp_simple_ack(mp, 9, 0x12345678), 0);
	recv_answer(c, &a);
	ck_assert_uint_eq(a.type, RPC_SIMPLE_ACK);
	ck_assert(a.conn_id == 9);
	ck_assert_uint_eq(a.confirm, 0x12345678);
	ck_assert_int_eq(fakemp_answer(mp, 9, 8, msg, 16), 0);
	recv_answer(c, &a);
	ck_assert_uint_eq(a.type, RPC_PROXY_ANS);
	ck_assert_uint_eq(a.flags, 8);
	ck_assert_uint_eq(a.data_len, 16);
	ck_assert_mem_eq(a.data, msg, 16);
	ck_assert_int_eq(fakemp_close_ext(mp, 9), 0);
	recv_answer(c, &a);
	ck_assert_uint_eq(a.type, RPC_CLOSE_EXT);
	ck_assert(a.conn_id == 9);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ACKS_OUT), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CLOSE_EXTS_OUT), 1);
	/* Unknown ids: only fakemp_answer finds a link for them. */
	ck_assert_int_eq(fakemp_simple_ack(mp, 10, 1), FAKEMP_ERR_NOLINK);
	ck_assert_int_eq(fakemp_close_ext(mp, 10), FAKEMP_ERR_NOLINK);
	ck_assert_int_eq(fakemp_answer(mp, 10, 0, msg, 8), 0);
	recv_answer(c, &a);
	ck_assert(a.conn_id == 10);
	ck_assert_uint_eq(a.data_len, 8);
	ck_assert_int_eq(fakemp_answer(mp, 10, 0, msg, 6), FAKEMP_ERR_ARG);

	ck_assert_int_eq(rpc_close_conn_build(9, b), 0);
	ck_assert_int_eq(fakemp_client_send(c, b, sizeof(b)), 0);
	ck_assert_int_eq(rpc_close_conn_build(11, b), 0);
	ck_assert_int_eq(fakemp_client_send(c, b, sizeof(b)), 0);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_CLOSE_CONNS, 2, ITEST_IO_MS),
	    0);
	ck_assert_int_eq(fakemp_conn_info(mp, 9, &ci), 0);
	ck_assert(ci.close_conns == 1);
	ck_assert(ci.reqs == 1);
	ck_assert_int_eq(fakemp_conn_info(mp, 11, &ci), 0);
	ck_assert(ci.close_conns == 1);
	ck_assert(ci.reqs == 0);
	/* The link is gone: answers for its conn_ids have nowhere to go. */
	fakemp_client_close(c);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_int_eq(fakemp_simple_ack(mp, 9, 1), FAKEMP_ERR_NOLINK);
	ck_assert_int_eq(fakemp_answer(mp, 9, 0, msg, 8), FAKEMP_ERR_NOLINK);
	fakemp_stop(mp);
}
END_TEST

START_TEST(sink_and_source)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp;
	struct fakemp_client_opts co;
	struct fakemp_client *c;
	struct rpc_answer a;
	uint8_t msg[64];
	size_t i;
	int k;

	fill(msg, sizeof(msg), 4);
	mo.mode = FAKEMP_SINK;
	mp = mp_start(&mo);
	co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	c = cl_connect(&co);
	send_req(c, 1, msg, sizeof(msg), NULL);
	expect_quiet(c);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_REQS), 1);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_REQ_BYTES), 64);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ANS), 0);
	fakemp_client_close(c);
	fakemp_stop(mp);

	mo.mode = FAKEMP_SOURCE;
	mo.answer_len = 1000;
	mo.answer_count = 3;
	mp = mp_start(&mo);
	co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	c = cl_connect(&co);
	send_req(c, 2, msg, sizeof(msg), NULL);
	for (k = 0; k < 3; k++) {
		recv_answer(c, &a);
		ck_assert_uint_eq(a.type, RPC_PROXY_ANS);
		ck_assert(a.conn_id == 2);
		ck_assert_uint_eq(a.data_len, 1000);
		for (i = 0; i < 1000; i++)
			ck_assert_uint_eq(a.data[i], (uint8_t)(i * 7 + 1));
	}
	expect_quiet(c);
	fakemp_client_close(c);
	fakemp_stop(mp);

	mo.answer_len = 6;
	ck_assert_int_eq(fakemp_start(&mo, &mp), FAKEMP_ERR_ARG);
	mo.answer_len = 8;
	mo.answer_count = 0;
	ck_assert_int_eq(fakemp_start(&mo, &mp), FAKEMP_ERR_ARG);
	mo = mp_opts(AF_INET);
	mo.secret_len = 31;
	ck_assert_int_eq(fakemp_start(&mo, &mp), FAKEMP_ERR_ARG);
	mo = mp_opts(AF_INET);
	mo.key_clt_ip = "not an address";
	ck_assert_int_eq(fakemp_start(&mo, &mp), FAKEMP_ERR_ARG);
}
END_TEST

/* --- refusals */

START_TEST(nonce_refused)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *c;

	co.key_select = 0x11223344;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_KEY_SELECT), 1);
	co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	co.time_offset = 40;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	co.time_offset = -40;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CLOCK_SKEW), 2);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_HANDSHAKES), 0);
	/* Within the window. */
	co.time_offset = -25;
	c = cl_connect(&co);
	fakemp_client_close(c);
	co.time_offset = 25;
	c = cl_connect(&co);
	fakemp_client_close(c);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_HANDSHAKES, 2, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_NONCE), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ACCEPTED), 5);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_OPEN, 0, ITEST_IO_MS), 0);

	/* The fake's clock: the client refuses it. */
	fakemp_set_time_offset(mp, 100);
	co.time_offset = 0;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), RPC_ERR_CLOCK_SKEW);
	fakemp_set_time_offset(mp, -100);
	ck_assert_int_eq(fakemp_client_connect(&co, &c), RPC_ERR_CLOCK_SKEW);
	fakemp_set_time_offset(mp, 20);
	c = cl_connect(&co);
	fakemp_client_close(c);
	/* Those it refused count nothing at the fake. */
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_HANDSHAKE), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CLOCK_SKEW), 2);
	fakemp_stop(mp);
}
END_TEST

START_TEST(faults)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *c;

	fakemp_set_fault(mp, FAKEMP_FAULT_REFUSE);
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_REFUSED), 1);
	fakemp_set_fault(mp, FAKEMP_FAULT_STALL);
	co.timeout_ms = QUIET_MS;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_TIMEOUT);
	co.timeout_ms = ITEST_IO_MS;
	fakemp_set_fault(mp, FAKEMP_FAULT_KEY_SELECT);
	ck_assert_int_eq(fakemp_client_connect(&co, &c), RPC_ERR_KEY_SELECT);
	fakemp_set_fault(mp, FAKEMP_FAULT_HS_ERROR);
	ck_assert_int_eq(fakemp_client_connect(&co, &c), RPC_ERR_HANDSHAKE);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_HANDSHAKES), 0);
	/* Done as far as the fake knows; the client then refuses. */
	fakemp_set_fault(mp, FAKEMP_FAULT_PEER_PID);
	ck_assert_int_eq(fakemp_client_connect(&co, &c), RPC_ERR_PEER_PID);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_HANDSHAKES, 1, ITEST_IO_MS), 0);
	fakemp_set_fault(mp, FAKEMP_FAULT_NONE);
	/* The fake checks that the proxy names it as its peer. */
	co.bad_peer_pid = 1;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_HANDSHAKE), 1);
	co.bad_peer_pid = 0;
	c = cl_connect(&co);
	fakemp_client_close(c);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_HANDSHAKES, 2, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_ACCEPTED), 7);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_OPEN, 0, ITEST_IO_MS), 0);
	fakemp_stop(mp);
}
END_TEST

/* A frame with a bad CRC, a wrong seq, or an unknown type closes the link. */
START_TEST(bad_frames)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *c;
	uint8_t ping[RPC_PING_LEN], frame[64], msg[16];
	size_t n;

	ck_assert_int_eq(rpc_ping_build(RPC_PING, 5, ping), 0);
	/* Bad CRC. */
	c = cl_connect(&co);
	ck_assert_int_eq(rpc_frame_encode(fakemp_client_next_seq(c),
	    RPC_CRC32C, ping, sizeof(ping), frame, sizeof(frame), &n), 0);
	frame[n - 1] ^= 0x01;
	ck_assert_int_eq(fakemp_client_send_raw(c, frame, n), 0);
	expect_closed(c);
	fakemp_client_close(c);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_CRC), 1);
	/* CRC32 where CRC32C was agreed is a bad CRC too. */
	c = cl_connect(&co);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, ping, sizeof(ping),
	    frame, sizeof(frame), &n), 0);
	ck_assert_int_eq(fakemp_client_send_raw(c, frame, n), 0);
	expect_closed(c);
	fakemp_client_close(c);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_CRC), 2);
	/* Wrong seq, after a good frame that gets no answer. */
	c = cl_connect(&co);
	ck_assert_int_eq(rpc_close_conn_build(1, msg), 0);
	ck_assert_int_eq(fakemp_client_send(c, msg, RPC_CLOSE_LEN), 0);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32C, ping, sizeof(ping),
	    frame, sizeof(frame), &n), 0);
	ck_assert_int_eq(fakemp_client_send_raw(c, frame, n), 0);
	expect_closed(c);
	fakemp_client_close(c);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_SEQ), 1);
	/* Unknown type; a malformed RPC_PROXY_REQ. */
	c = cl_connect(&co);
	memset(msg, 0, sizeof(msg));
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, NULL, 0, msg, sizeof(msg),
	    &n), 0);
	ck_assert_int_eq(fakemp_client_send(c, msg, n), 0);
	expect_closed(c);
	fakemp_client_close(c);
	c = cl_connect(&co);
	memset(frame, 0, sizeof(frame));
	memcpy(frame, "\xee\xf1\xce\x36", 4);	/* RPC_PROXY_REQ, 52 bytes */
	ck_assert_int_eq(fakemp_client_send(c, frame, 52), 0);
	expect_closed(c);
	fakemp_client_close(c);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_FRAMES), 2);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_OPEN, 0, ITEST_IO_MS), 0);
	fakemp_stop(mp);
}
END_TEST

/*
 * nat_info: the proxy feeds its public IPv4 to the key derivation. The fake
 * told the same talks; one that was not sees a garbled handshake.
 */
START_TEST(nat_addresses)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp;
	struct fakemp_client_opts co;
	struct fakemp_client *c;
	struct fakemp_link l;
	struct rpc_endpoint want;
	uint8_t msg[16];

	mo.key_clt_ip = "203.0.113.5";
	mp = mp_start(&mo);
	co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_BAD_HANDSHAKE), 1);
	co.key_clt_ip = "203.0.113.5";
	c = cl_connect(&co);
	fill(msg, sizeof(msg), 5);
	send_req(c, 3, msg, sizeof(msg), NULL);
	expect_echo(c, 3, msg, sizeof(msg));
	ck_assert_int_eq(fakemp_last_link(mp, &l), 0);
	endpoint(&want, "203.0.113.5", l.clt.port);
	ck_assert_mem_eq(&l.clt, &want, sizeof(want));
	fakemp_client_close(c);
	fakemp_stop(mp);

	/* Both addresses translated. */
	mo.key_srv_ip = "203.0.113.5";
	mp = mp_start(&mo);
	co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	co.key_clt_ip = "203.0.113.5";
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR_CLOSED);
	co.key_srv_ip = "203.0.113.5";
	c = cl_connect(&co);
	send_req(c, 3, msg, sizeof(msg), NULL);
	expect_echo(c, 3, msg, sizeof(msg));
	fakemp_client_close(c);
	fakemp_stop(mp);
}
END_TEST

/* --- links */

START_TEST(drop_and_listen)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct fakemp_client *a = cl_connect(&co), *b = cl_connect(&co), *c;
	uint16_t port = fakemp_port(mp);
	uint8_t msg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_READY, 2, ITEST_IO_MS), 0);
	fakemp_drop_all(mp);
	expect_closed(a);
	expect_closed(b);
	ck_assert_int_eq(fakemp_wait(mp, FAKEMP_OPEN, 0, ITEST_IO_MS), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_READY), 0);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_DROPPED), 2);
	fakemp_client_close(a);
	fakemp_client_close(b);
	/* Closed port, then the same port again. */
	ck_assert_int_eq(fakemp_set_listening(mp, 0), 0);
	ck_assert_int_eq(fakemp_set_listening(mp, 0), 0);
	errno = 0;
	ck_assert_int_eq(fakemp_client_connect(&co, &c), FAKEMP_ERR);
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_int_eq(fakemp_set_listening(mp, 1), 0);
	ck_assert_uint_eq(fakemp_port(mp), port);
	c = cl_connect(&co);
	send_req(c, 1, msg, sizeof(msg), NULL);
	expect_echo(c, 1, msg, sizeof(msg));
	ck_assert(fakemp_counter(mp, FAKEMP_ACCEPTED) == 3);
	/* Stop with a link open. */
	fakemp_stop(mp);
	expect_closed(c);
	fakemp_client_close(c);
}
END_TEST

/* 500 conn_ids over two links, each from its own thread. */
#define CONC_IDS	250
#define CONC_ROUNDS	4

struct conc {
	struct fakemp_client *c;
	uint64_t base;
	int fails;
};

static size_t
conc_len(uint64_t id, int round)
{
	return 8 + 4 * (size_t)((id * 7 + (uint64_t)round * 13) % 1000);
}

static void *
conc_run(void *arg)
{
	struct conc *t = arg;
	struct rpc_proxy_req r;
	struct rpc_answer a;
	uint8_t *msg = malloc(4096), *buf = malloc(8192);
	const uint8_t *p;
	size_t n, len;
	int round, i;

	if (msg == NULL || buf == NULL)
		t->fails++;
	memset(&r, 0, sizeof(r));
	r.transport = FRAME_INTERMEDIATE;
	r.msg = msg;
	for (round = 0; round < CONC_ROUNDS && !t->fails; round++) {
		for (i = 0; i < CONC_IDS && !t->fails; i++) {
			r.conn_id = t->base + (uint64_t)i;
			r.msg_len = conc_len(r.conn_id, round);
			fill(msg, r.msg_len, (unsigned)r.conn_id + round);
			if (rpc_proxy_req_build(&r, buf, 8192, &n) != 0 ||
			    fakemp_client_send(t->c, buf, n) != 0)
				t->fails++;
		}
		for (i = 0; i < CONC_IDS && !t->fails; i++) {
			uint64_t id = t->base + (uint64_t)i;

			len = conc_len(id, round);
			fill(msg, len, (unsigned)id + round);
			if (fakemp_client_recv(t->c, &p, &n,
			    ITEST_IO_MS) != 0 ||
			    rpc_answer_parse(p, n, &a) != 0 ||
			    a.type != RPC_PROXY_ANS || a.conn_id != id ||
			    a.data_len != len || memcmp(a.data, msg, len) != 0)
				t->fails++;
		}
	}
	free(msg);
	free(buf);
	return NULL;
}

START_TEST(many_conns_two_links)
{
	struct fakemp_opts mo = mp_opts(AF_INET);
	struct fakemp *mp = mp_start(&mo);
	struct fakemp_client_opts co = cl_opts(mp, AF_INET, RPC_FLAG_CRC32C);
	struct conc t[2];
	pthread_t th[2];
	struct fakemp_conn ci;
	int i;

	for (i = 0; i < 2; i++) {
		t[i].c = cl_connect(&co);
		t[i].base = 1000000 * (uint64_t)(i + 1);
		t[i].fails = 0;
	}
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, conc_run, &t[i]),
		    0);
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].fails, 0);
	}
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_CONNS), 2 * CONC_IDS);
	ck_assert_uint_eq(fakemp_counter(mp, FAKEMP_REQS),
	    2 * CONC_IDS * CONC_ROUNDS);
	ck_assert_int_eq(fakemp_conn_info(mp, 2000000 + 7, &ci), 0);
	ck_assert(ci.reqs == CONC_ROUNDS);
	ck_assert(ci.link == 2);
	for (i = 0; i < 2; i++)
		fakemp_client_close(t[i].c);
	fakemp_stop(mp);
}
END_TEST

static Suite *
fakemp_suite(void)
{
	Suite *s = suite_create("fakemp");
	TCase *hs = tcase_create("handshake");
	TCase *tr = tcase_create("traffic");
	TCase *ln = tcase_create("links");

	tcase_set_timeout(hs, ITEST_CASE_S);
	tcase_set_timeout(tr, ITEST_CASE_S);
	tcase_set_timeout(ln, ITEST_CASE_S);
	tcase_add_loop_test(hs, handshake_crc32c, 0, 2);
	tcase_add_test(hs, handshake_crc32);
	tcase_add_test(hs, key_vectors);
	tcase_add_test(hs, nonce_refused);
	tcase_add_test(hs, faults);
	tcase_add_test(hs, nat_addresses);
	tcase_add_loop_test(tr, echo_records, 0, 2);
	tcase_add_test(tr, echo_largest);
	tcase_add_test(tr, keepalive);
	tcase_add_test(tr, close_and_answers);
	tcase_add_test(tr, sink_and_source);
	tcase_add_test(tr, bad_frames);
	tcase_add_test(ln, drop_and_listen);
	tcase_add_test(ln, many_conns_two_links);
	suite_add_tcase(s, hs);
	suite_add_tcase(s, tr);
	suite_add_tcase(s, ln);
	return s;
}

Suite *
ckmain_suite(void)
{
	return fakemp_suite();
}
