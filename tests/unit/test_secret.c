/* Secret strings in their three client forms, and proxy links. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "secret.h"

#define KEYHEX		"0123456789abcdef0011223344556677"
/* hex("www.example.com") */
#define DOMHEX		"7777772e6578616d706c652e636f6d"

static const uint8_t key[SECRET_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77
};

struct good_case {
	const char *text;
	enum secret_kind kind;
	const char *domain;
	const char *canonical;	/* secret_format's output */
};

static const struct good_case good_cases[] = {
	{ KEYHEX, SECRET_CLASSIC, "", KEYHEX },
	{ "0123456789ABCDEF0011223344556677", SECRET_CLASSIC, "", KEYHEX },
	{ "dd" KEYHEX, SECRET_SECURE, "", "dd" KEYHEX },
	{ "DD0123456789AbCdEf0011223344556677", SECRET_SECURE, "", "dd" KEYHEX },
	{ "ee" KEYHEX DOMHEX, SECRET_TLS, "www.example.com",
	    "ee" KEYHEX DOMHEX },
	{ "EE" KEYHEX "7777772E6578616D706C652E636F6D", SECRET_TLS,
	    "www.example.com", "ee" KEYHEX DOMHEX },
	{ "ee" KEYHEX "61", SECRET_TLS, "a", "ee" KEYHEX "61" },
	/* A classic secret that happens to start with dd or ee. */
	{ "dd112233445566778899aabbccddeeff", SECRET_CLASSIC, "",
	    "dd112233445566778899aabbccddeeff" },
	{ "ee112233445566778899aabbccddeeff", SECRET_CLASSIC, "",
	    "ee112233445566778899aabbccddeeff" },
};
#define NGOOD	(sizeof(good_cases) / sizeof(good_cases[0]))

START_TEST(parse_good)
{
	const struct good_case *c = &good_cases[_i];
	struct secret s;
	char out[600];

	memset(&s, 0x55, sizeof(s));
	ck_assert_int_eq(secret_parse(c->text, &s), 0);
	ck_assert_int_eq(s.kind, c->kind);
	if (c->kind == SECRET_TLS)
		ck_assert_str_eq(s.domain, c->domain);
	ck_assert_int_eq(secret_format(&s, out, sizeof(out)), 0);
	ck_assert_str_eq(out, c->canonical);
}
END_TEST

/* The key bytes themselves, in each form. */
START_TEST(parse_bytes)
{
	static const char *texts[] = { KEYHEX, "dd" KEYHEX, "ee" KEYHEX DOMHEX };
	struct secret s;
	size_t i;

	for (i = 0; i < 3; i++) {
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(secret_parse(texts[i], &s), 0);
		ck_assert_mem_eq(s.key, key, SECRET_LEN);
	}
}
END_TEST

static const char *bad_cases[] = {
	"",
	"0123456789abcdef001122334455667",		/* 31 digits */
	"0123456789abcdef00112233445566778",		/* 33 digits */
	"0123456789abcdef001122334455667g",
	" 0123456789abcdef0011223344556677",
	"0123456789abcdef0011223344556677 ",
	"0x0123456789abcdef00112233445566",
	"dd0123456789abcdef001122334455667",		/* dd + 31 */
	"dd0123456789abcdef00112233445566778",		/* dd + 33 */
	"de0123456789abcdef0011223344556677",		/* unknown prefix */
	"dd0123456789abcdef0011223344556677aa",		/* dd with a tail */
	"ee0123456789abcdef0011223344556677",		/* no domain */
	"ee0123456789abcdef00112233445566776",		/* odd domain hex */
	"ee0123456789abcdef00112233445566777g",
	"ee0123456789abcdef0011223344556677610062",	/* NUL inside */
	"ee0123456789abcdef001122334455667761206200",	/* space */
	"ee0123456789abcdef00112233445566770a",		/* control byte */
	"ee0123456789abcdef00112233445566777f",		/* DEL */
	"ee0123456789abcdef0011223344556677c3a9",	/* not ASCII */
	"ee0123456789abcdefg011223344556677" DOMHEX,	/* bad key digit */
	"ef0123456789abcdef0011223344556677" DOMHEX,
};
#define NBAD	(sizeof(bad_cases) / sizeof(bad_cases[0]))

START_TEST(parse_bad)
{
	struct secret s, before;

	memset(&s, 0x55, sizeof(s));
	before = s;
	ck_assert_int_eq(secret_parse(bad_cases[_i], &s), SECRET_ERR_FORMAT);
	ck_assert_mem_eq(&s, &before, sizeof(s));
}
END_TEST

/* "ee" + key + hex of a domain of n 'a's. */
static char *
tls_text(size_t n)
{
	char *t = malloc(2 + 32 + 2 * n + 1);
	size_t i;

	ck_assert_ptr_nonnull(t);
	memcpy(t, "ee" KEYHEX, 34);
	for (i = 0; i < n; i++)
		memcpy(t + 34 + 2 * i, "61", 2);
	t[34 + 2 * n] = '\0';
	return t;
}

START_TEST(domain_length)
{
	struct secret s;
	char *t;

	t = tls_text(SECRET_DOMAIN_MAX);
	ck_assert_int_eq(secret_parse(t, &s), 0);
	ck_assert_uint_eq(strlen(s.domain), SECRET_DOMAIN_MAX);
	free(t);
	t = tls_text(SECRET_DOMAIN_MAX + 1);
	ck_assert_int_eq(secret_parse(t, &s), SECRET_ERR_FORMAT);
	free(t);
	t = tls_text(4000);
	ck_assert_int_eq(secret_parse(t, &s), SECRET_ERR_FORMAT);
	free(t);
}
END_TEST

START_TEST(parse_key)
{
	uint8_t k[SECRET_LEN];

	ck_assert_int_eq(secret_parse_key(KEYHEX, k), 0);
	ck_assert_mem_eq(k, key, SECRET_LEN);
	ck_assert_int_eq(secret_parse_key("0123456789ABCDEF0011223344556677",
	    k), 0);
	ck_assert_mem_eq(k, key, SECRET_LEN);
	ck_assert_int_eq(secret_parse_key("dd" KEYHEX, k), SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_parse_key("0123456789abcdef001122334455667",
	    k), SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_parse_key("0123456789abcdef00112233445566zz",
	    k), SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_parse_key("", k), SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_parse_key(NULL, k), SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_parse(NULL, NULL), SECRET_ERR_FORMAT);
}
END_TEST

START_TEST(format_space)
{
	struct secret s;
	char out[600];

	ck_assert_int_eq(secret_parse(KEYHEX, &s), 0);
	ck_assert_int_eq(secret_format(&s, out, 32), SECRET_ERR_SPACE);
	ck_assert_int_eq(secret_format(&s, out, 33), 0);
	ck_assert_str_eq(out, KEYHEX);
	ck_assert_int_eq(secret_parse("ee" KEYHEX DOMHEX, &s), 0);
	ck_assert_int_eq(secret_format(&s, out, 34 + 30), SECRET_ERR_SPACE);
	ck_assert_int_eq(secret_format(&s, out, 34 + 30 + 1), 0);
	ck_assert_int_eq(secret_format(&s, out, 0), SECRET_ERR_SPACE);
}
END_TEST

START_TEST(format_invalid)
{
	struct secret s;
	char out[600];

	memset(&s, 0, sizeof(s));
	s.kind = SECRET_TLS;	/* empty domain */
	ck_assert_int_eq(secret_format(&s, out, sizeof(out)),
	    SECRET_ERR_FORMAT);
	memcpy(s.domain, "a b", 4);
	ck_assert_int_eq(secret_format(&s, out, sizeof(out)),
	    SECRET_ERR_FORMAT);
	s.kind = (enum secret_kind)7;
	ck_assert_int_eq(secret_format(&s, out, sizeof(out)),
	    SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_format(NULL, out, sizeof(out)),
	    SECRET_ERR_FORMAT);
}
END_TEST

START_TEST(links)
{
	struct secret s;
	char out[700];

	ck_assert_int_eq(secret_parse("dd" KEYHEX, &s), 0);
	ck_assert_int_eq(secret_link(&s, "proxy.example.org", 443, 0, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "tg://proxy?server=proxy.example.org&port=443"
	    "&secret=dd" KEYHEX);
	ck_assert_int_eq(secret_link(&s, "192.0.2.7", 8443, 1, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "https://t.me/proxy?server=192.0.2.7&port=8443"
	    "&secret=dd" KEYHEX);
	ck_assert_int_eq(secret_link(&s, "2001:db8::1", 65535, 0, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "tg://proxy?server=2001:db8::1&port=65535"
	    "&secret=dd" KEYHEX);

	ck_assert_int_eq(secret_parse("ee" KEYHEX DOMHEX, &s), 0);
	ck_assert_int_eq(secret_link(&s, "my-host.example", 443, 1, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "https://t.me/proxy?server=my-host.example"
	    "&port=443&secret=ee" KEYHEX DOMHEX);
}
END_TEST

START_TEST(link_errors)
{
	static const char *bad_hosts[] = { "", "[::1]", "a b", "host/x",
	    "h&port=1", "h?x", "ex%61mple", "h\xc3\xa9" };
	struct secret s;
	char out[200];
	size_t i, need;

	ck_assert_int_eq(secret_parse(KEYHEX, &s), 0);
	for (i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++)
		ck_assert_int_eq(secret_link(&s, bad_hosts[i], 443, 0, out,
		    sizeof(out)), SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_link(&s, NULL, 443, 0, out, sizeof(out)),
	    SECRET_ERR_FORMAT);
	ck_assert_int_eq(secret_link(&s, "h", 0, 0, out, sizeof(out)),
	    SECRET_ERR_FORMAT);

	/* "tg://proxy?server=h&port=443&secret=" + 32 digits + NUL */
	need = strlen("tg://proxy?server=h&port=443&secret=") + 32 + 1;
	ck_assert_int_eq(secret_link(&s, "h", 443, 0, out, need - 1),
	    SECRET_ERR_SPACE);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(secret_link(&s, "h", 443, 0, out, need), 0);
	ck_assert_uint_eq(strlen(out), need - 1);
}
END_TEST

/*
 * For every list length and every first index (stale ones past the end
 * too): each secret once, the first one first, the rest in their order.
 */
START_TEST(trial_order)
{
	size_t n, first, k, i, next, want;

	for (n = 1; n <= 6; n++)
		for (first = 0; first <= n + 1; first++) {
			next = 0;
			for (k = 0; k < n; k++) {
				i = secret_trial(k, first, n);
				if (k == 0 && first < n) {
					ck_assert_uint_eq(i, first);
					continue;
				}
				want = next == first ? next + 1 : next;
				ck_assert_uint_eq(i, want);
				next = want + 1;
			}
		}
}
END_TEST

static Suite *
secret_suite(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, parse_good, 0, NGOOD);
	tcase_add_test(tc, parse_bytes);
	tcase_add_loop_test(tc, parse_bad, 0, NBAD);
	tcase_add_test(tc, domain_length);
	tcase_add_test(tc, parse_key);
	tcase_add_test(tc, format_space);
	tcase_add_test(tc, format_invalid);
	tcase_add_test(tc, trial_order);
	tcase_add_test(tc, links);
	tcase_add_test(tc, link_errors);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return secret_suite();
}
