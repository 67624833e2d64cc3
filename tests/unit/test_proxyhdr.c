/*
 * PROXY protocol headers: exact bytes of versions 1 and 2 for IPv4, IPv6
 * and mixed families (mapped to IPv6), bad arguments, and buffers one byte
 * short.
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
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return proxyhdr_suite();
}
