/*
 * SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929),
 * against bytes written out by hand from the RFCs' message layouts: the
 * greetings, the method choice, RFC 1929's request and reply, CONNECT to
 * IPv4 and IPv6 addresses, and replies with every REP code and every ATYP,
 * one byte short or long, and each field the RFCs fix set otherwise.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "ckmain.h"
#include "itest.h"
#include "socks5.h"

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = itest_unhex(hex, out, cap);

	ck_assert_uint_eq(2 * n, strlen(hex));
	return n;
}

static void
assert_bytes(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t want[SOCKS5_REPLY_MAX];
	size_t n = unhex(hex, want, sizeof(want));

	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(got, want, n);
}

/* RFC 1928 3: VER, NMETHODS, METHODS; X'00' none, X'02' username/password. */
START_TEST(greeting)
{
	uint8_t out[SOCKS5_GREETING_MAX];
	size_t len;

	socks5_greeting(0, out, &len);
	assert_bytes(out, len, "050100");
	socks5_greeting(1, out, &len);
	assert_bytes(out, len, "05020002");
}
END_TEST

static int
method(const char *hex, int userpass, uint8_t *m)
{
	uint8_t in[SOCKS5_METHOD_LEN];

	unhex(hex, in, sizeof(in));
	return socks5_method_parse(in, userpass, m);
}

/* VER, METHOD: one we offered, X'FF' none acceptable, anything else not. */
START_TEST(method_choice)
{
	uint8_t m = 0x77;

	ck_assert_int_eq(method("0500", 0, &m), 0);
	ck_assert_uint_eq(m, SOCKS5_METHOD_NONE);
	ck_assert_int_eq(method("0502", 1, &m), 0);
	ck_assert_uint_eq(m, SOCKS5_METHOD_USERPASS);
	ck_assert_int_eq(method("0500", 1, &m), 0);
	ck_assert_uint_eq(m, SOCKS5_METHOD_NONE);
	m = 0x77;
	ck_assert_int_eq(method("05ff", 0, &m), SOCKS5_ERR_METHOD);
	ck_assert_int_eq(method("05ff", 1, &m), SOCKS5_ERR_METHOD);
	/* Not offered: username/password without credentials, GSSAPI. */
	ck_assert_int_eq(method("0502", 0, &m), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(method("0501", 1, &m), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(method("0580", 1, &m), SOCKS5_ERR_PROTO);
	/* SOCKS4's version, and RFC 1929's in place of RFC 1928's. */
	ck_assert_int_eq(method("0400", 0, &m), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(method("0100", 0, &m), SOCKS5_ERR_PROTO);
	ck_assert_uint_eq(m, 0x77);
}
END_TEST

/* RFC 1929 2: VER X'01', ULEN, UNAME, PLEN, PASSWD. */
START_TEST(auth_request)
{
	uint8_t out[SOCKS5_AUTH_MAX];
	char user[SOCKS5_CRED_MAX + 2], pass[SOCKS5_CRED_MAX + 2];
	size_t len;

	ck_assert_int_eq(socks5_auth_build("alice", "s3cret", out, &len), 0);
	assert_bytes(out, len, "0105616c69636506733363726574");
	ck_assert_int_eq(socks5_auth_build("u", "p", out, &len), 0);
	assert_bytes(out, len, "0101750170");

	memset(user, 'u', SOCKS5_CRED_MAX);
	user[SOCKS5_CRED_MAX] = '\0';
	memset(pass, 'p', SOCKS5_CRED_MAX);
	pass[SOCKS5_CRED_MAX] = '\0';
	ck_assert_int_eq(socks5_auth_build(user, pass, out, &len), 0);
	ck_assert_uint_eq(len, SOCKS5_AUTH_MAX);
	ck_assert_uint_eq(out[1], 0xff);
	ck_assert_uint_eq(out[2 + SOCKS5_CRED_MAX], 0xff);
	ck_assert_uint_eq(out[len - 1], 'p');

	/* 1..255 bytes each: neither empty nor 256. */
	ck_assert_int_eq(socks5_auth_build("", "p", out, &len),
	    SOCKS5_ERR_ARG);
	ck_assert_int_eq(socks5_auth_build("u", "", out, &len),
	    SOCKS5_ERR_ARG);
	user[SOCKS5_CRED_MAX] = 'u';
	user[SOCKS5_CRED_MAX + 1] = '\0';
	ck_assert_int_eq(socks5_auth_build(user, "p", out, &len),
	    SOCKS5_ERR_ARG);
	pass[SOCKS5_CRED_MAX] = 'p';
	pass[SOCKS5_CRED_MAX + 1] = '\0';
	ck_assert_int_eq(socks5_auth_build("u", pass, out, &len),
	    SOCKS5_ERR_ARG);
}
END_TEST

static int
auth_reply(const char *hex)
{
	uint8_t in[SOCKS5_AUTH_REPLY_LEN];

	unhex(hex, in, sizeof(in));
	return socks5_auth_parse(in);
}

/* VER X'01', STATUS: X'00' success, anything else failure. */
START_TEST(auth_status)
{
	ck_assert_int_eq(auth_reply("0100"), 0);
	ck_assert_int_eq(auth_reply("0101"), SOCKS5_ERR_AUTH);
	ck_assert_int_eq(auth_reply("01ff"), SOCKS5_ERR_AUTH);
	ck_assert_int_eq(auth_reply("0500"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(auth_reply("0000"), SOCKS5_ERR_PROTO);
}
END_TEST

/* RFC 1928 4: VER, CMD X'01', RSV, ATYP, DST.ADDR, DST.PORT (network order). */
START_TEST(connect_request)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint8_t out[SOCKS5_REQUEST_MAX];
	size_t len = 12345;

	ck_assert_int_eq(inet_pton(AF_INET, "149.154.167.51", &a4.sin_addr), 1);
	a4.sin_port = htons(443);
	ck_assert_int_eq(socks5_connect_build((struct sockaddr *)&a4, out,
	    &len), 0);
	assert_bytes(out, len, "05010001959aa73301bb");

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:67c:4e8:f002::a",
	    &a6.sin6_addr), 1);
	a6.sin6_port = htons(8888);
	ck_assert_int_eq(socks5_connect_build((struct sockaddr *)&a6, out,
	    &len), 0);
	assert_bytes(out, len, "05010004"
	    "2001067c04e8f002000000000000000a" "22b8");

	len = 12345;
	ck_assert_int_eq(socks5_connect_build((struct sockaddr *)&un, out,
	    &len), SOCKS5_ERR_ARG);
	ck_assert_uint_eq(len, 12345);
}
END_TEST

/* A whole reply: its length from the head, then the parse of exactly it. */
static int
reply(const char *hex, struct socks5_reply *r)
{
	uint8_t in[SOCKS5_REPLY_MAX + 1];
	size_t n = unhex(hex, in, sizeof(in)), len;

	ck_assert_uint_ge(n, SOCKS5_REPLY_HEAD);
	ck_assert_int_eq(socks5_reply_len(in, &len), 0);
	ck_assert_uint_eq(len, n);
	return socks5_reply_parse(in, n, r);
}

/* RFC 1928 6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT. */
START_TEST(reply_atyps)
{
	struct socks5_reply r;

	ck_assert_int_eq(reply("05000001" "7f000001" "dad9", &r), 0);
	ck_assert_uint_eq(r.rep, SOCKS5_REP_SUCCEEDED);
	ck_assert_uint_eq(r.atyp, SOCKS5_ATYP_IPV4);
	ck_assert_uint_eq(r.addrlen, 4);
	ck_assert_mem_eq(r.addr, "\x7f\x00\x00\x01", 4);
	ck_assert_uint_eq(r.port, 56025);

	ck_assert_int_eq(reply("05000004"
	    "00000000000000000000000000000001" "0438", &r), 0);
	ck_assert_uint_eq(r.atyp, SOCKS5_ATYP_IPV6);
	ck_assert_uint_eq(r.addrlen, 16);
	ck_assert_mem_eq(r.addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	ck_assert_uint_eq(r.port, 1080);

	/* X'03': a length octet, then the name without a NUL. */
	ck_assert_int_eq(reply("05000003" "0b" "6578616d706c652e636f6d" "0050",
	    &r), 0);
	ck_assert_uint_eq(r.atyp, SOCKS5_ATYP_DOMAIN);
	ck_assert_uint_eq(r.addrlen, 11);
	ck_assert_mem_eq(r.addr, "example.com", 11);
	ck_assert_uint_eq(r.port, 80);
	ck_assert_int_eq(reply("05000003" "00" "ffff", &r), 0);
	ck_assert_uint_eq(r.addrlen, 0);
	ck_assert_uint_eq(r.port, 65535);
}
END_TEST

/* The longest reply: a 255-byte name, SOCKS5_REPLY_MAX in all. */
START_TEST(reply_longest)
{
	uint8_t in[SOCKS5_REPLY_MAX];
	struct socks5_reply r;
	size_t len;

	memcpy(in, "\x05\x00\x00\x03\xff", SOCKS5_REPLY_HEAD);
	memset(in + SOCKS5_REPLY_HEAD, 'a', 255);
	in[SOCKS5_REPLY_MAX - 2] = 0x12;
	in[SOCKS5_REPLY_MAX - 1] = 0x34;
	ck_assert_int_eq(socks5_reply_len(in, &len), 0);
	ck_assert_uint_eq(len, SOCKS5_REPLY_MAX);
	ck_assert_int_eq(socks5_reply_parse(in, len, &r), 0);
	ck_assert_uint_eq(r.addrlen, 255);
	ck_assert_uint_eq(r.addr[254], 'a');
	ck_assert_uint_eq(r.port, 0x1234);
}
END_TEST

/* Every REP code parses as itself; X'09' to X'FF' are unassigned. */
START_TEST(reply_codes)
{
	static const char *const names[] = {
		"succeeded", "general SOCKS server failure",
		"connection not allowed by ruleset", "network unreachable",
		"host unreachable", "connection refused", "TTL expired",
		"command not supported", "address type not supported",
	};
	char hex[32];
	struct socks5_reply r;
	unsigned rep;

	for (rep = 0; rep <= 0xff; rep++) {
		snprintf(hex, sizeof(hex), "05%02x0001c0a80001%04x", rep,
		    1000 + rep);
		ck_assert_int_eq(reply(hex, &r), 0);
		ck_assert_uint_eq(r.rep, rep);
		ck_assert_uint_eq(r.port, 1000 + rep);
		ck_assert_str_eq(socks5_rep_name((uint8_t)rep),
		    rep < 9 ? names[rep] : "unassigned");
	}
}
END_TEST

static int
bad_head(const char *hex)
{
	uint8_t in[SOCKS5_REPLY_HEAD];
	size_t len = 12345;
	int rc;

	unhex(hex, in, sizeof(in));
	rc = socks5_reply_len(in, &len);
	ck_assert_uint_eq(len, 12345);
	return rc;
}

/* VER X'05', RSV X'00', ATYP 1, 3 or 4; and exactly the length they say. */
START_TEST(reply_malformed)
{
	static const char *const ok = "05000001" "0a000001" "0050";
	uint8_t in[SOCKS5_REPLY_MAX];
	struct socks5_reply r;
	size_t n = unhex(ok, in, sizeof(in));

	ck_assert_int_eq(bad_head("040000010a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("000000010a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("050001010a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("050080010a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("050000000a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("050000020a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("050000050a"), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(bad_head("05000006ff"), SOCKS5_ERR_PROTO);

	ck_assert_int_eq(socks5_reply_parse(in, n, &r), 0);
	ck_assert_int_eq(socks5_reply_parse(in, n - 1, &r), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(socks5_reply_parse(in, n + 1, &r), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(socks5_reply_parse(in, 4, &r), SOCKS5_ERR_PROTO);
	ck_assert_int_eq(socks5_reply_parse(in, 0, &r), SOCKS5_ERR_PROTO);
	in[2] = 1;
	ck_assert_int_eq(socks5_reply_parse(in, n, &r), SOCKS5_ERR_PROTO);
	/* An IPv6 reply's length given an IPv4 reply. */
	in[2] = 0;
	in[3] = SOCKS5_ATYP_IPV6;
	ck_assert_int_eq(socks5_reply_parse(in, n, &r), SOCKS5_ERR_PROTO);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("socks5");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, greeting);
	tcase_add_test(tc, method_choice);
	tcase_add_test(tc, auth_request);
	tcase_add_test(tc, auth_status);
	tcase_add_test(tc, connect_request);
	tcase_add_test(tc, reply_atyps);
	tcase_add_test(tc, reply_longest);
	tcase_add_test(tc, reply_codes);
	tcase_add_test(tc, reply_malformed);
	suite_add_tcase(s, tc);
	return s;
}
