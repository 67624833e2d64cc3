/*
 * Address lists: IPv4 and IPv6 entries, prefixes at and around byte
 * boundaries, comments, blanks and CRLF lines, overlapping and nested
 * entries merged, every bad line refused with its number and text, and
 * 10,000 entries looked up against a linear scan of the same entries.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"
#include "ckmain.h"

static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return ss;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	in6->sin6_family = AF_INET6;
	return ss;
}

static struct addrlist *
list(const char *text)
{
	struct addrlist_bad bad = { 0, 0, 0 };
	struct addrlist *l = NULL;

	ck_assert_int_eq(addrlist_parse(text, strlen(text), &l, &bad), 0);
	ck_assert_ptr_nonnull(l);
	return l;
}

static int
in(const struct addrlist *l, const char *ip)
{
	struct sockaddr_storage ss = addr(ip);

	return addrlist_match(l, (struct sockaddr *)&ss);
}

START_TEST(entries)
{
	struct addrlist *l = list(
	    "# blocked by hand\n"
	    "\n"
	    "10.0.0.0/8\n"
	    "  192.168.1.7\t# one host\n"
	    "172.16.0.0/12\r\n"
	    "2001:db8::/32\n"
	    "2001:db9::1\n"
	    "100.64.0.0/10");

	ck_assert_uint_eq(addrlist_entries(l), 6);
	ck_assert(in(l, "10.0.0.0"));
	ck_assert(in(l, "10.255.255.255"));
	ck_assert(!in(l, "9.255.255.255"));
	ck_assert(!in(l, "11.0.0.0"));
	ck_assert(in(l, "192.168.1.7"));
	ck_assert(!in(l, "192.168.1.6"));
	ck_assert(!in(l, "192.168.1.8"));
	ck_assert(in(l, "172.31.255.255"));
	ck_assert(!in(l, "172.32.0.0"));
	ck_assert(in(l, "100.127.0.1"));
	ck_assert(!in(l, "100.128.0.0"));
	ck_assert(in(l, "2001:db8:ffff:ffff::1"));
	ck_assert(!in(l, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(in(l, "2001:db9::1"));
	ck_assert(!in(l, "2001:db9::2"));
	/* A dual-stack socket's IPv4 client is an IPv4 address. */
	ck_assert(in(l, "::ffff:10.1.2.3"));
	ck_assert(!in(l, "::10.1.2.3"));
	addrlist_free(l);
}
END_TEST

/* Prefixes that end inside a byte; host bits set are cleared. */
START_TEST(prefixes)
{
	struct addrlist *l = list("203.0.113.77/29\n2001:db8:0:1f::/61\n"
	    "0.0.0.0/0\n");

	/* 0.0.0.0/0 covers every IPv4 address and nothing of IPv6. */
	ck_assert(in(l, "1.2.3.4"));
	ck_assert(in(l, "255.255.255.255"));
	ck_assert(!in(l, "2001:db8::1"));
	ck_assert(!in(l, "2001:db8:0:17:ffff:ffff:ffff:ffff"));
	ck_assert(in(l, "2001:db8:0:18::"));
	ck_assert(in(l, "2001:db8:0:1f:ffff:ffff:ffff:ffff"));
	ck_assert(!in(l, "2001:db8:0:20::"));
	addrlist_free(l);
	l = list("203.0.113.77/29");
	ck_assert(!in(l, "203.0.113.71"));
	ck_assert(in(l, "203.0.113.72"));
	ck_assert(in(l, "203.0.113.79"));
	ck_assert(!in(l, "203.0.113.80"));
	addrlist_free(l);
	l = list("::/0");
	ck_assert(in(l, "::"));
	ck_assert(in(l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(in(l, "1.2.3.4"));	/* mapped: inside ::/0 */
	addrlist_free(l);
}
END_TEST

/* Nested and overlapping entries in any order become one range. */
START_TEST(overlaps)
{
	struct addrlist *l = list("10.1.2.3\n10.0.0.0/8\n10.1.0.0/16\n"
	    "12.0.0.0/8\n11.128.0.0/9\n11.0.0.0/9\n");

	ck_assert(in(l, "10.1.2.3"));
	ck_assert(in(l, "10.200.0.1"));
	ck_assert(in(l, "11.0.0.0"));
	ck_assert(in(l, "11.127.255.255"));
	ck_assert(in(l, "11.128.0.0"));
	ck_assert(in(l, "12.255.255.255"));
	ck_assert(!in(l, "13.0.0.0"));
	ck_assert(!in(l, "9.255.255.255"));
	ck_assert_uint_eq(addrlist_entries(l), 6);
	addrlist_free(l);
}
END_TEST

START_TEST(empty)
{
	struct addrlist *l = list("");

	ck_assert(!in(l, "0.0.0.0"));
	ck_assert(!in(l, "::"));
	ck_assert_uint_eq(addrlist_entries(l), 0);
	addrlist_free(l);
	l = list("# nothing\n\n   \n\t# still nothing\n");
	ck_assert_uint_eq(addrlist_entries(l), 0);
	ck_assert(!in(l, "1.1.1.1"));
	addrlist_free(l);
	ck_assert_int_eq(addrlist_match(NULL, NULL), 0);
	addrlist_free(NULL);
}
END_TEST

static void
expect_bad(const char *text, size_t line, const char *item)
{
	struct addrlist_bad bad = { 99, 99, 99 };
	struct addrlist *l = (struct addrlist *)&bad;

	ck_assert_int_eq(addrlist_parse(text, strlen(text), &l, &bad),
	    ADDRLIST_ERR_LINE);
	ck_assert_ptr_eq(l, (struct addrlist *)&bad);
	ck_assert_uint_eq(bad.line, line);
	ck_assert_uint_eq(bad.len, strlen(item));
	ck_assert_mem_eq(text + bad.off, item, bad.len);
}

START_TEST(bad_lines)
{
	static const char *const bad[] = {
		"10.0.0.1/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/08",
		"10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0", "10.0.0.256",
		"010.0.0.1", "host.example", "10.0.0.1 10.0.0.2", "::1::2",
		"10.0.0.0 /8", "1.2.3.4/1000",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	char text[256];
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		snprintf(text, sizeof(text), "# list\n10.0.0.0/8\n  %s # x\n"
		    "junk\n", bad[k]);
		expect_bad(text, 3, bad[k]);
	}
	expect_bad("junk", 1, "junk");
	expect_bad("1.2.3.4\r\n\r\n5.6.7\r\n", 3, "5.6.7");
}
END_TEST

static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 1;
}

/* 10,000 random IPv4 prefixes: the search agrees with a linear scan. */
START_TEST(many)
{
	enum { N = 10000, PROBES = 20000 };
	uint32_t *net = malloc(N * sizeof(*net)), seed = 7, a;
	int *bits = malloc(N * sizeof(*bits));
	char *text = malloc(N * 24), *p = text;
	struct sockaddr_in sin;
	struct addrlist *l;
	size_t i, k, hits = 0;
	int want;

	ck_assert_ptr_nonnull(net);
	ck_assert_ptr_nonnull(bits);
	ck_assert_ptr_nonnull(text);
	for (i = 0; i < N; i++) {
		bits[i] = 16 + (int)(next_rand(&seed) % 17);
		net[i] = next_rand(&seed) << 1 &
		    (uint32_t)(0xffffffffull << (32 - bits[i]));
		p += sprintf(p, "%u.%u.%u.%u/%d\n", net[i] >> 24,
		    net[i] >> 16 & 0xff, net[i] >> 8 & 0xff, net[i] & 0xff,
		    bits[i]);
	}
	l = list(text);
	ck_assert_uint_eq(addrlist_entries(l), N);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	for (k = 0; k < PROBES; k++) {
		/* Half the probes inside an entry, half anywhere. */
		a = k % 2 ? next_rand(&seed) << 1 : net[k / 2 % N] |
		    (next_rand(&seed) & (uint32_t)(0xffffffffull >>
		    bits[k / 2 % N]));
		want = 0;
		for (i = 0; i < N && !want; i++)
			want = ((a ^ net[i]) &
			    (uint32_t)(0xffffffffull << (32 - bits[i]))) == 0;
		sin.sin_addr.s_addr = htonl(a);
		ck_assert_int_eq(addrlist_match(l, (struct sockaddr *)&sin),
		    want);
		hits += (size_t)want;
	}
	ck_assert_uint_gt(hits, PROBES / 2 - 1);
	ck_assert_uint_lt(hits, PROBES);
	addrlist_free(l);
	free(text);
	free(bits);
	free(net);
}
END_TEST

START_TEST(args)
{
	struct addrlist_bad bad;
	struct addrlist *l;

	ck_assert_int_eq(addrlist_parse(NULL, 1, &l, &bad), ADDRLIST_ERR_ARG);
	ck_assert_int_eq(addrlist_parse("", 0, NULL, &bad), ADDRLIST_ERR_ARG);
	ck_assert_int_eq(addrlist_parse("", 0, &l, NULL), ADDRLIST_ERR_ARG);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("addrlist");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, entries);
	tcase_add_test(tc, prefixes);
	tcase_add_test(tc, overlaps);
	tcase_add_test(tc, empty);
	tcase_add_test(tc, bad_lines);
	tcase_add_test(tc, many);
	tcase_add_test(tc, args);
	suite_add_tcase(s, tc);
	return s;
}
