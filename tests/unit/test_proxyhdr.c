/*
 * PROXY protocol headers: exact bytes of versions 1 and 2 for IPv4, IPv6
 * and mixed families (mapped to IPv6), bad arguments, and buffers one byte
 * short. The parser against headers written by hand from HAProxy's
 * proxy-protocol.txt: every prefix of a good one is short, the bad ones
 * are refused, and what the builder makes parses back.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "ckmain.h"
#include "proxyhdr.h"

static struct sockaddr_in
v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6
v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

/* Build into a buffer exactly as long as want, then one byte shorter. */
static void
expect(int version, const void *src, const void *dst, const void *want,
    size_t wlen)
{
	unsigned char out[PROXYHDR_MAX + 8];
	size_t len = 0;

	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(proxyhdr_build(version, src, dst, out, wlen, &len), 0);
	ck_assert_uint_eq(len, wlen);
	ck_assert_mem_eq(out, want, wlen);
	ck_assert_uint_eq(out[wlen], 0xaa);
	ck_assert_int_eq(proxyhdr_build(version, src, dst, out, PROXYHDR_MAX,
	    &len), 0);
	ck_assert_uint_eq(len, wlen);

	len = 12345;
	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(proxyhdr_build(version, src, dst, out, wlen - 1, &len),
	    PROXYHDR_ERR_SPACE);
	ck_assert_uint_eq(len, 12345);
	ck_assert_uint_eq(out[0], 0xaa);
}

static void
expect_str(const void *src, const void *dst, const char *want)
{
	expect(1, src, dst, want, strlen(want));
}

#define SIG	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, \
	0x54, 0x0a

START_TEST(v1_ipv4)
{
	struct sockaddr_in s = v4("1.2.3.4", 1111), d = v4("5.6.7.8", 2222);

	expect_str(&s, &d, "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n");
	s = v4("255.255.255.255", 65535);
	d = v4("0.0.0.0", 0);
	expect_str(&s, &d, "PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n");
}
END_TEST

START_TEST(v1_ipv6)
{
	struct sockaddr_in6 s = v6("2001:db8::1", 50000);
	struct sockaddr_in6 d = v6("2001:db8:0:1:2:3:4:5", 443);

	expect_str(&s, &d,
	    "PROXY TCP6 2001:db8::1 2001:db8:0:1:2:3:4:5 50000 443\r\n");
	/* The longest: 39-character addresses, 5-digit ports: 104 bytes. */
	s = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	d = v6("fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65534);
	expect_str(&s, &d, "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65534\r\n");
}
END_TEST

START_TEST(v1_mixed)
{
	struct sockaddr_in s4 = v4("1.2.3.4", 1111), d4 = v4("5.6.7.8", 443);
	struct sockaddr_in6 s6 = v6("2001:db8::1", 2222), d6 = v6("::1", 443);

	expect_str(&s4, &d6, "PROXY TCP6 ::ffff:1.2.3.4 ::1 1111 443\r\n");
	expect_str(&s6, &d4,
	    "PROXY TCP6 2001:db8::1 ::ffff:5.6.7.8 2222 443\r\n");
}
END_TEST

START_TEST(v2_ipv4)
{
	static const unsigned char want[] = {
		SIG, 0x21, 0x11, 0x00, 0x0c,
		1, 2, 3, 4, 5, 6, 7, 8,
		0x04, 0x57, 0x08, 0xae,
	};
	struct sockaddr_in s = v4("1.2.3.4", 1111), d = v4("5.6.7.8", 2222);

	expect(2, &s, &d, want, sizeof(want));
}
END_TEST

START_TEST(v2_ipv6)
{
	static const unsigned char want[] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x01, 0, 0x02, 0, 0x03,
		0, 0x04, 0, 0x05,
		0xc3, 0x50, 0x01, 0xbb,
	};
	struct sockaddr_in6 s = v6("2001:db8::1", 50000);
	struct sockaddr_in6 d = v6("2001:db8:0:1:2:3:4:5", 443);

	expect(2, &s, &d, want, sizeof(want));
}
END_TEST

START_TEST(v2_mixed)
{
	static const unsigned char want[] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x04, 0x57, 0x01, 0xbb,
	};
	struct sockaddr_in s = v4("1.2.3.4", 1111);
	struct sockaddr_in6 d = v6("::1", 443);

	expect(2, &s, &d, want, sizeof(want));
}
END_TEST

START_TEST(bad_args)
{
	struct sockaddr_in s = v4("1.2.3.4", 1), d = v4("5.6.7.8", 2);
	struct sockaddr_storage unix_sa;
	unsigned char out[PROXYHDR_MAX];
	size_t len = 7;

	memset(&unix_sa, 0, sizeof(unix_sa));
	unix_sa.ss_family = AF_UNIX;
	ck_assert_int_eq(proxyhdr_build(0, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, out, sizeof(out), &len), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(3, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, out, sizeof(out), &len), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(1, NULL, (struct sockaddr *)&d, out,
	    sizeof(out), &len), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(2, (struct sockaddr *)&s, NULL, out,
	    sizeof(out), &len), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(1, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, NULL, sizeof(out), &len), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(2, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, out, sizeof(out), NULL), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(1, (struct sockaddr *)&unix_sa,
	    (struct sockaddr *)&d, out, sizeof(out), &len), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_build(2, (struct sockaddr *)&s,
	    (struct sockaddr *)&unix_sa, out, sizeof(out), &len),
	    PROXYHDR_ERR_ARG);
	ck_assert_uint_eq(len, 7);
	/* No room at all. */
	ck_assert_int_eq(proxyhdr_build(1, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, out, 0, &len), PROXYHDR_ERR_SPACE);
	ck_assert_int_eq(proxyhdr_build(2, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, out, 0, &len), PROXYHDR_ERR_SPACE);
}
END_TEST


/* ---- parsing ---- */

/* v1 and a client's first bytes after it, which the parser leaves. */
#define V1_SPEC	"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"

/* buf parses to a header of used bytes; each shorter prefix is short. */
static struct proxyhdr_info
parse_ok(const void *buf, size_t n, size_t want_used)
{
	struct proxyhdr_info info, junk;
	size_t used = 0, u = 777, i;

	ck_assert_int_eq(proxyhdr_parse(buf, n, &info, &used), 0);
	ck_assert_uint_eq(used, want_used);
	for (i = 0; i < n && i < want_used; i++) {
		if (proxyhdr_parse(buf, i, &junk, &u) == 0)
			break;		/* v2: complete before its TLVs */
		ck_assert_int_eq(proxyhdr_parse(buf, i, &junk, &u),
		    PROXYHDR_ERR_SHORT);
		ck_assert_uint_eq(u, 777);
	}
	return info;
}

static void
parse_bad(const void *buf, size_t n)
{
	struct proxyhdr_info info;
	size_t used = 777;

	ck_assert_int_eq(proxyhdr_parse(buf, n, &info, &used),
	    PROXYHDR_ERR_BAD);
	ck_assert_uint_eq(used, 777);
}

static void
bad_str(const char *s)
{
	parse_bad(s, strlen(s));
}

static void
same_addr(const struct sockaddr_storage *got, const void *want)
{
	size_t len = got->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	ck_assert_int_eq(got->ss_family, ((const struct sockaddr *)want)->sa_family);
	ck_assert_mem_eq(got, want, len);
}

START_TEST(parse_v1_tcp4)
{
	static const char wire[] = V1_SPEC "\xef\xef\xef\xef";
	struct sockaddr_in s = v4("192.168.0.1", 56324);
	struct sockaddr_in d = v4("192.168.0.11", 443);
	struct proxyhdr_info i;

	i = parse_ok(wire, sizeof(wire) - 1, strlen(V1_SPEC));
	ck_assert_int_eq(i.version, 1);
	ck_assert_int_eq(i.local, 0);
	same_addr(&i.src, &s);
	same_addr(&i.dst, &d);
	i = parse_ok(V1_SPEC, strlen(V1_SPEC), strlen(V1_SPEC));
	same_addr(&i.src, &s);
	i = parse_ok("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", 44, 44);
	s = v4("0.0.0.0", 0);
	d = v4("255.255.255.255", 65535);
	same_addr(&i.src, &s);
	same_addr(&i.dst, &d);
}
END_TEST

START_TEST(parse_v1_tcp6)
{
	/* The longest TCP line the spec counts: 104 bytes. */
	static const char wire[] = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65534\r\n";
	struct sockaddr_in6 s = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    65535);
	struct sockaddr_in6 d = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
	    65534);
	struct sockaddr_in6 m = v6("::ffff:203.0.113.7", 1);
	struct proxyhdr_info i;

	ck_assert_uint_eq(sizeof(wire) - 1, 104);
	i = parse_ok(wire, 104, 104);
	ck_assert_int_eq(i.version, 1);
	same_addr(&i.src, &s);
	same_addr(&i.dst, &d);
	i = parse_ok("PROXY TCP6 ::ffff:203.0.113.7 ::1 1 443\r\n", 41, 41);
	same_addr(&i.src, &m);
}
END_TEST

START_TEST(parse_v1_unknown)
{
	/* The spec's worst case: UNKNOWN with the longest TCP6 fields, 107. */
	static const char worst[] = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char longer[] = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655355\r\n";
	struct proxyhdr_info i;

	i = parse_ok("PROXY UNKNOWN\r\nxyz", 18, 15);
	ck_assert_int_eq(i.version, 1);
	ck_assert_int_eq(i.local, 1);
	ck_assert_uint_eq(sizeof(worst) - 1, 107);
	i = parse_ok(worst, 107, 107);
	ck_assert_int_eq(i.local, 1);
	/* 108 bytes, and 107 with no end in sight. */
	parse_bad(longer, sizeof(longer) - 1);
	parse_bad(longer, 107);
	parse_ok("PROXY UNKNOWN anything\tgoes\r\n", 29, 29);
	bad_str("PROXY UNKNOWNX\r\n");
}
END_TEST

START_TEST(parse_v1_bad)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r",
		"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 -1\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n",
		"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
		"PROXY TCP4 ::1 ::1 1 2\r\n",
		"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY \r\n",
		"PROXY\r\n",
	};
	static const char nul[] = "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n";
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		bad_str(bad[k]);
	parse_bad(nul, sizeof(nul) - 1);
	/* A wrong first byte is enough to know. */
	parse_bad("G", 1);
	parse_bad("PROXZ", 5);
}
END_TEST

#define V2_HDR(cmd, fam, len)	SIG, cmd, fam, (len) >> 8, (len) & 0xff

START_TEST(parse_v2_inet)
{
	static const unsigned char wire[] = {
		V2_HDR(0x21, 0x11, 12),
		192, 168, 0, 1, 192, 168, 0, 11,
		0xdc, 0x04, 0x01, 0xbb,
		0x16, 0x03, 0x01,		/* the client's first bytes */
	};
	struct sockaddr_in s = v4("192.168.0.1", 56324);
	struct sockaddr_in d = v4("192.168.0.11", 443);
	struct proxyhdr_info i = parse_ok(wire, sizeof(wire), 28);

	ck_assert_int_eq(i.version, 2);
	ck_assert_int_eq(i.local, 0);
	same_addr(&i.src, &s);
	same_addr(&i.dst, &d);
}
END_TEST

START_TEST(parse_v2_inet6)
{
	static const unsigned char wire[] = {
		V2_HDR(0x21, 0x21, 36),
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x30, 0x39, 0x01, 0xbb,
	};
	struct sockaddr_in6 s = v6("2001:db8::7", 12345);
	struct sockaddr_in6 d = v6("2001:db8::1", 443);
	struct proxyhdr_info i = parse_ok(wire, sizeof(wire), 52);

	ck_assert_int_eq(i.version, 2);
	same_addr(&i.src, &s);
	same_addr(&i.dst, &d);
}
END_TEST

/* TLVs are skipped: counted in the length, complete before they arrive. */
START_TEST(parse_v2_tlv)
{
	static const unsigned char wire[] = {
		V2_HDR(0x21, 0x11, 12 + 7 + 5),
		203, 0, 113, 7, 10, 0, 0, 1,
		0x9c, 0x40, 0x01, 0xbb,
		0x04, 0x00, 0x04, 0, 0, 0, 0,		/* PP2_TYPE_NOOP */
		0x05, 0x00, 0x02, 0xab, 0xcd,		/* PP2_TYPE_UNIQUE_ID */
	};
	struct sockaddr_in s = v4("203.0.113.7", 40000);
	struct proxyhdr_info i;

	i = parse_ok(wire, sizeof(wire), sizeof(wire));
	same_addr(&i.src, &s);
	i = parse_ok(wire, 28, sizeof(wire));
	same_addr(&i.src, &s);
}
END_TEST

START_TEST(parse_v2_local)
{
	static const unsigned char local[] = { V2_HDR(0x20, 0x00, 0) };
	/* LOCAL ignores the block, a family it would refuse included. */
	static const unsigned char local_unix[] = {
		V2_HDR(0x20, 0x31, 5), 1, 2, 3, 4, 5,
	};
	static const unsigned char unspec[] = { V2_HDR(0x21, 0x00, 0) };
	struct proxyhdr_info i;

	i = parse_ok(local, sizeof(local), 16);
	ck_assert_int_eq(i.version, 2);
	ck_assert_int_eq(i.local, 1);
	i = parse_ok(local_unix, sizeof(local_unix), 21);
	ck_assert_int_eq(i.local, 1);
	i = parse_ok(unspec, sizeof(unspec), 16);
	ck_assert_int_eq(i.local, 1);
}
END_TEST

START_TEST(parse_v2_bad)
{
	static const unsigned char base[] = {
		V2_HDR(0x21, 0x11, 12),
		1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2,
	};
	/* byte 12 (version, command), 13 (family, transport), 15 (length) */
	static const struct { size_t at; unsigned char v; } edits[] = {
		{ 12, 0x11 }, { 12, 0x31 }, { 12, 0x22 }, { 12, 0x2f },
		{ 13, 0x12 }, { 13, 0x10 }, { 13, 0x13 }, { 13, 0x31 },
		{ 13, 0x41 }, { 13, 0xf1 }, { 15, 11 }, { 15, 0 },
		{ 5, 0x00 }, { 11, 0x0b },
	};
	unsigned char w[sizeof(base)];
	size_t k;

	parse_ok(base, sizeof(base), 28);
	for (k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
		memcpy(w, base, sizeof(w));
		w[edits[k].at] = edits[k].v;
		parse_bad(w, sizeof(w));
	}
	/* An IPv6 length too short for IPv6 addresses. */
	memcpy(w, base, sizeof(w));
	w[13] = 0x21;
	w[15] = 35;
	parse_bad(w, sizeof(w));
}
END_TEST

/* What the builder makes, the parser reads back. */
START_TEST(parse_built)
{
	struct sockaddr_in s = v4("203.0.113.7", 40000), d = v4("10.0.0.1", 443);
	struct sockaddr_in6 s6 = v6("2001:db8::7", 1), d6 = v6("::1", 2);
	unsigned char out[PROXYHDR_MAX];
	struct proxyhdr_info i;
	size_t len;
	int v;

	for (v = 1; v <= 2; v++) {
		ck_assert_int_eq(proxyhdr_build(v, (struct sockaddr *)&s,
		    (struct sockaddr *)&d, out, sizeof(out), &len), 0);
		i = parse_ok(out, len, len);
		ck_assert_int_eq(i.version, v);
		same_addr(&i.src, &s);
		same_addr(&i.dst, &d);
		ck_assert_int_eq(proxyhdr_build(v, (struct sockaddr *)&s6,
		    (struct sockaddr *)&d6, out, sizeof(out), &len), 0);
		i = parse_ok(out, len, len);
		same_addr(&i.src, &s6);
		same_addr(&i.dst, &d6);
	}
}
END_TEST

START_TEST(parse_args)
{
	struct proxyhdr_info i;
	size_t used;

	ck_assert_int_eq(proxyhdr_parse(NULL, 1, &i, &used), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_parse((const unsigned char *)"P", 1, NULL,
	    &used), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_parse((const unsigned char *)"P", 1, &i,
	    NULL), PROXYHDR_ERR_ARG);
	ck_assert_int_eq(proxyhdr_parse((const unsigned char *)"", 0, &i,
	    &used), PROXYHDR_ERR_SHORT);
}
END_TEST

static Suite *
proxyhdr_suite(void)
{
	Suite *s = suite_create("proxyhdr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, v1_ipv4);
	tcase_add_test(tc, v1_ipv6);
	tcase_add_test(tc, v1_mixed);
	tcase_add_test(tc, v2_ipv4);
	tcase_add_test(tc, v2_ipv6);
	tcase_add_test(tc, v2_mixed);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, parse_v1_tcp4);
	tcase_add_test(tc, parse_v1_tcp6);
	tcase_add_test(tc, parse_v1_unknown);
	tcase_add_test(tc, parse_v1_bad);
	tcase_add_test(tc, parse_v2_inet);
	tcase_add_test(tc, parse_v2_inet6);
	tcase_add_test(tc, parse_v2_tlv);
	tcase_add_test(tc, parse_v2_local);
	tcase_add_test(tc, parse_v2_bad);
	tcase_add_test(tc, parse_built);
	tcase_add_test(tc, parse_args);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return proxyhdr_suite();
}
