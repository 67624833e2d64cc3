/*
 * proxy-multi.conf (doc/PROTOCOL.md 4.1, 5): the real-shaped example, every
 * grammar error with its line, the limits, IPv6 targets, default lookup.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "proto.h"
#include "proxyconf.h"

/* doc/PROTOCOL.md 4.1, with DC4's several lines and an IPv6 cluster. */
static const char example[] =
    "# force_probability 10 10\n"
    "default 2;\n"
    "proxy_for 1 149.154.175.50:8888;\n"
    "proxy_for -1 149.154.175.50:8888;\n"
    "proxy_for 2 149.154.161.144:8888;\n"
    "proxy_for -2 149.154.161.144:8888;\n"
    "proxy_for 3 149.154.175.100:8888;\n"
    "proxy_for 4 91.108.4.136:8888;\n"
    "proxy_for 4 91.108.4.137:8888;\n"
    "proxy_for 4 91.108.4.138:8888;\n"
    "proxy_for 203 91.105.192.110:443;\n"
    "proxy_for 5 [2001:b28:f23f:f005::d]:8888;\n";

static struct proxyconf *
parse_ok(const char *text)
{
	struct proxyconf *pc = NULL;
	struct proxyconf_error err;
	int rc;

	rc = proxyconf_parse(text, strlen(text), &pc, &err);
	ck_assert_msg(rc == 0, "line %d: %s", err.line, err.msg);
	ck_assert_ptr_nonnull(pc);
	return pc;
}

static void
target_is(const struct proxyconf *pc, size_t i, const char *ip, int port)
{
	const struct proxyconf_target *t = &pc->targets[i];
	uint8_t want[16] = { 0 };
	int v6 = strchr(ip, ':') != NULL;

	ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, ip, want), 1);
	ck_assert_int_eq(t->v6, v6);
	ck_assert_mem_eq(t->ip, want, 16);
	ck_assert_int_eq(t->port, port);
}

static const struct proxyconf_cluster *
lookup(const struct proxyconf *pc, int16_t dc)
{
	const struct proxyconf_cluster *c = NULL;

	ck_assert_int_eq(proxyconf_lookup(pc, dc, &c), 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

START_TEST(real_example)
{
	struct proxyconf *pc = parse_ok(example);
	const struct proxyconf_cluster *c;
	static const int16_t ids[] = { 1, -1, 2, -2, 3, 4, 203, 5 };
	size_t i;

	ck_assert_uint_eq(pc->nclusters, 8);
	ck_assert_uint_eq(pc->ntargets, 10);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pc->clusters[i].id, ids[i]);
	ck_assert_int_eq(pc->has_default, 1);
	ck_assert_int_eq(pc->default_id, 2);
	ck_assert_int_eq(pc->timeout_ms, 0);
	ck_assert_int_eq(pc->min_connections, 4);
	ck_assert_int_eq(pc->max_connections, 8);

	c = lookup(pc, 4);
	ck_assert_int_eq(c->id, 4);
	ck_assert_uint_eq(c->first, 5);
	ck_assert_uint_eq(c->ntargets, 3);
	target_is(pc, c->first, "91.108.4.136", 8888);
	target_is(pc, c->first + 2, "91.108.4.138", 8888);
	c = lookup(pc, -1);
	ck_assert_int_eq(c->id, -1);
	ck_assert_uint_eq(c->ntargets, 1);
	target_is(pc, c->first, "149.154.175.50", 8888);
	c = lookup(pc, 203);
	target_is(pc, c->first, "91.105.192.110", 443);
	c = lookup(pc, 5);
	target_is(pc, c->first, "2001:b28:f23f:f005::d", 8888);
	/* Not listed (test DC, -3, media 203's twin): the default, DC 2. */
	ck_assert_int_eq(lookup(pc, 10002)->id, 2);
	ck_assert_int_eq(lookup(pc, -3)->id, 2);
	ck_assert_int_eq(lookup(pc, -203)->id, 2);
	ck_assert_int_eq(lookup(pc, 0)->id, 2);
	proxyconf_free(pc);
}
END_TEST

START_TEST(forms)
{
	struct proxyconf *pc;

	/* proxy = cluster 0; comments, CRLF, several statements a line,
	 * blanks and line breaks between tokens, tab after the id. */
	pc = parse_ok("proxy 10.0.0.1:80; proxy 10.0.0.2:81;  # two\r\n"
	    "timeout 10;min_connections 1;\tmax_connections 1000;\r\n"
	    "default\n  # comment inside\n -32768 ;\n"
	    "proxy_for -32768\t[::1]:1;proxy_for 32767 [::ffff:1.2.3.4]:65535;"
	    "\n# last line without newline");
	ck_assert_uint_eq(pc->nclusters, 3);
	ck_assert_int_eq(pc->clusters[0].id, 0);
	ck_assert_uint_eq(pc->clusters[0].ntargets, 2);
	target_is(pc, 1, "10.0.0.2", 81);
	target_is(pc, 2, "::1", 1);
	target_is(pc, 3, "::ffff:1.2.3.4", 65535);
	ck_assert_int_eq(pc->clusters[2].id, 32767);
	ck_assert_int_eq(pc->timeout_ms, 10);
	ck_assert_int_eq(pc->min_connections, 1);
	ck_assert_int_eq(pc->max_connections, 1000);
	ck_assert_int_eq(pc->default_id, -32768);
	ck_assert_int_eq(lookup(pc, 5)->id, -32768);
	ck_assert_int_eq(lookup(pc, 0)->id, 0);
	proxyconf_free(pc);

	pc = parse_ok("timeout 30000;\nproxy_for 0 1.1.1.1:1;\n"
	    "proxy 1.1.1.2:2;\nmin_connections 8;");
	ck_assert_int_eq(pc->timeout_ms, 30000);
	ck_assert_uint_eq(pc->nclusters, 1);
	ck_assert_uint_eq(pc->clusters[0].ntargets, 2);
	ck_assert_int_eq(pc->min_connections, 8);
	proxyconf_free(pc);
}
END_TEST

START_TEST(no_default)
{
	struct proxyconf *pc = parse_ok("proxy_for 2 1.2.3.4:8888;\n");
	const struct proxyconf_cluster *c = NULL;

	ck_assert_int_eq(pc->has_default, 0);
	ck_assert_int_eq(lookup(pc, 2)->id, 2);
	ck_assert_int_eq(proxyconf_lookup(pc, 1, &c), PROXYCONF_ERR_NOT_FOUND);
	ck_assert_ptr_null(c);
	proxyconf_free(pc);

	/* A default naming no cluster finds nothing either. */
	pc = parse_ok("default 9;\nproxy_for 2 1.2.3.4:8888;\n");
	ck_assert_int_eq(pc->has_default, 1);
	ck_assert_int_eq(proxyconf_lookup(pc, 1, &c), PROXYCONF_ERR_NOT_FOUND);
	ck_assert_int_eq(proxyconf_lookup(pc, 9, &c), PROXYCONF_ERR_NOT_FOUND);
	ck_assert_int_eq(proxyconf_lookup(NULL, 9, &c), PROXYCONF_ERR_ARG);
	ck_assert_int_eq(proxyconf_lookup(pc, 9, NULL), PROXYCONF_ERR_ARG);
	proxyconf_free(pc);
	proxyconf_free(NULL);
}
END_TEST

struct bad_case {
	const char *text;
	int line;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "proxy_for 1 1.2.3.4:80\nproxy_for 2 1.2.3.4:80;\n", 1,
	    "expected ';' to end proxy_for, found 'p'" },
	{ "default 2;\nproxy_for 1  1.2.3.4:80;\n", 2,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "default 2;\nproxy_for 1\t\t1.2.3.4:80;\n", 2,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "proxy_for 1;\n", 1,
	    "expected one space or tab after the cluster id, found ';'" },
	{ "proxy_for 1\n1.2.3.4:80;\n", 1,
	    "expected one space or tab after the cluster id, found end of "
	    "line" },
	{ "proxy_for 1x 1.2.3.4:80;\n", 1,
	    "expected one space or tab after the cluster id, found 'x'" },
	{ "\n\nproxy_for 32768 1.2.3.4:80;\n", 3,
	    "cluster id out of range -32768..32767" },
	{ "proxy_for -32769 1.2.3.4:80;\n", 1,
	    "cluster id out of range -32768..32767" },
	{ "proxy_for 99999999999999999999999 1.2.3.4:80;\n", 1,
	    "cluster id out of range -32768..32767" },
	{ "proxy_for - 1.2.3.4:80;\n", 1, "expected cluster id, found ' '" },
	{ "proxy_for one 1.2.3.4:80;\n", 1, "expected cluster id, found 'o'" },
	{ "proxy_for 1 1.2.3.4:0;\n", 1, "port out of range 1..65535" },
	{ "proxy_for 1 1.2.3.4:65536;\n", 1, "port out of range 1..65535" },
	{ "proxy_for 1 1.2.3.4:;\n", 1, "expected port, found ';'" },
	{ "proxy_for 1 1.2.3.4;\n", 1,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "proxy_for 1 1.2.3:80;\n", 1,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "proxy_for 1 256.2.3.4:80;\n", 1,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "proxy_for 1 dc1.example.com:80;\n", 1,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "proxy_for 1 2001:db8::1:80;\n", 1,
	    "expected an IPv4 address or [IPv6] address followed by :port" },
	{ "proxy_for 1 [2001:db8::g]:80;\n", 1,
	    "expected an IPv6 address in brackets" },
	{ "proxy_for 1 [2001:db8::1:80;\n", 1,
	    "expected an IPv6 address in brackets" },
	{ "proxy_for 1 [1.2.3.4]:80;\n", 1,
	    "expected an IPv6 address in brackets" },
	{ "proxy_for 1 [::1]80;\n", 1, "expected ':' and a port, found '8'" },
	{ "proxy_for 1 [::1]", 1, "expected ':' and a port, found end of file" },
	{ "proxy 1.2.3.4:80 ;\nproxy 1.2.3.4:80 x;\n", 2,
	    "expected ';' to end proxy, found 'x'" },
	/* Consecutive lines: a second run of cluster 1 is refused. */
	{ "proxy_for 1 1.1.1.1:1;\nproxy_for 2 2.2.2.2:2;\n"
	  "proxy_for 1 1.1.1.2:1;\n", 3,
	    "lines for cluster 1 are not consecutive (intermixed with another "
	    "cluster)" },
	{ "proxy 1.1.1.1:1;\nproxy_for 2 2.2.2.2:2;\nproxy 1.1.1.2:1;\n", 3,
	    "lines for cluster 0 are not consecutive (intermixed with another "
	    "cluster)" },
	{ "proxy_for 1 1.1.1.1:1;\nfoo 3;\n", 2, "unknown statement 'foo'" },
	{ "proxy_for 1 1.1.1.1:1;\nproxy_for_all 3;\n", 2,
	    "unknown statement 'proxy_for_all'" },
	{ "proxy_for 1 1.1.1.1:1;\nDefault 3;\n", 2,
	    "expected a statement, found 'D'" },
	{ "proxy_for 1 1.1.1.1:1;\n;\n", 2, "expected a statement, found ';'" },
	{ "proxy_for 1 1.1.1.1:1;\ndefault;\n", 2,
	    "expected a blank after the keyword, found ';'" },
	{ "proxy_for 1 1.1.1.1:1;\ndefault 2;\ndefault 3;\n", 3,
	    "default given twice (first on line 2)" },
	{ "default 2 3;\n", 1, "expected ';' to end default, found '3'" },
	{ "default 40000;\n", 1, "default out of range -32768..32767" },
	{ "timeout 9;\n", 1, "timeout out of range 10..30000" },
	{ "timeout 30001;\n", 1, "timeout out of range 10..30000" },
	{ "timeout -10;\n", 1, "expected timeout, found '-'" },
	{ "timeout 10;\ntimeout 20;\n", 2,
	    "timeout given twice (first on line 1)" },
	{ "min_connections 0;\n", 1,
	    "min_connections out of range 1..1000" },
	{ "max_connections 1001;\n", 1,
	    "max_connections out of range 1..1000" },
	{ "max_connections 5;\nmax_connections 6;\n", 2,
	    "max_connections given twice (first on line 1)" },
	/* min above max: reported at the later of the two statements. */
	{ "proxy_for 1 1.1.1.1:1;\nmax_connections 2;\n\n", 2,
	    "min_connections 4 exceeds max_connections 2" },
	{ "min_connections 9;\nproxy_for 1 1.1.1.1:1;\n", 1,
	    "min_connections 9 exceeds max_connections 8" },
	{ "max_connections 5;\nmin_connections 6;\nproxy 1.1.1.1:1;\n", 2,
	    "min_connections 6 exceeds max_connections 5" },
	/* Nothing to connect to: reported at the end. */
	{ "", 1, "no proxy or proxy_for statement" },
	{ "# only\n# comments\n", 3, "no proxy or proxy_for statement" },
	{ "default 2;\ntimeout 100;", 2, "no proxy or proxy_for statement" },
	{ "proxy_for 1 1.1.1.1:1;\n\x01", 2,
	    "expected a statement, found byte 0x01" },
	{ "proxy_for 1 1.1.1.1:1;\n\xff", 2,
	    "expected a statement, found byte 0xff" },
};
#define NBAD	(sizeof(bad_cases) / sizeof(bad_cases[0]))

START_TEST(grammar_errors)
{
	const struct bad_case *b = &bad_cases[_i];
	struct proxyconf *pc = NULL;
	struct proxyconf_error err;

	ck_assert_int_eq(proxyconf_parse(b->text, strlen(b->text), &pc, &err),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_ptr_null(pc);
	ck_assert_msg(err.line == b->line, "case %d: line %d, want %d (%s)",
	    _i, err.line, b->line, err.msg);
	ck_assert_str_eq(err.msg, b->msg);
	/* Without an error struct the result is the same. */
	ck_assert_int_eq(proxyconf_parse(b->text, strlen(b->text), &pc, NULL),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_ptr_null(pc);
}
END_TEST

START_TEST(nul_byte)
{
	static const char text[] = "proxy_for 1 1.1.1.1:1;\0proxy 2.2.2.2:2;";
	struct proxyconf *pc = NULL;
	struct proxyconf_error err;

	ck_assert_int_eq(proxyconf_parse(text, sizeof(text) - 1, &pc, &err),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_int_eq(err.line, 1);
	ck_assert_str_eq(err.msg, "expected a statement, found byte 0x00");
	/* text need not be terminated: only len bytes are read. */
	ck_assert_int_eq(proxyconf_parse(text, 22, &pc, &err), 0);
	ck_assert_uint_eq(pc->ntargets, 1);
	proxyconf_free(pc);
	pc = NULL;
	ck_assert_int_eq(proxyconf_parse(text, 21, &pc, &err),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_str_eq(err.msg,
	    "expected ';' to end proxy_for, found end of file");
	ck_assert_int_eq(proxyconf_parse(NULL, 0, &pc, &err),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_int_eq(proxyconf_parse(NULL, 1, &pc, &err),
	    PROXYCONF_ERR_ARG);
	ck_assert_int_eq(proxyconf_parse(text, 22, NULL, &err),
	    PROXYCONF_ERR_ARG);
}
END_TEST

/* n lines of "proxy_for <i / per> 10.x.y.z:443;" */
static char *
many_lines(size_t n, size_t per)
{
	size_t cap = n * 40 + 1, len = 0, i;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "proxy_for %zu 10.%zu.%zu.1:443;\n", i / per, i >> 8,
		    i & 0xff);
	return text;
}

START_TEST(limits)
{
	struct proxyconf *pc = NULL;
	struct proxyconf_error err;
	char *text;

	text = many_lines(PROXYCONF_MAX_CLUSTERS, 1);
	pc = parse_ok(text);
	ck_assert_uint_eq(pc->nclusters, PROXYCONF_MAX_CLUSTERS);
	ck_assert_int_eq(lookup(pc, 1023)->id, 1023);
	target_is(pc, lookup(pc, 1023)->first, "10.3.255.1", 443);
	proxyconf_free(pc);
	free(text);

	text = many_lines(PROXYCONF_MAX_CLUSTERS + 1, 1);
	ck_assert_int_eq(proxyconf_parse(text, strlen(text), &pc, &err),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_int_eq(err.line, 1025);
	ck_assert_str_eq(err.msg, "too many clusters (max 1024)");
	free(text);

	text = many_lines(PROXYCONF_MAX_TARGETS, 8);
	pc = parse_ok(text);
	ck_assert_uint_eq(pc->ntargets, PROXYCONF_MAX_TARGETS);
	ck_assert_uint_eq(pc->nclusters, PROXYCONF_MAX_TARGETS / 8);
	ck_assert_uint_eq(lookup(pc, 511)->ntargets, 8);
	proxyconf_free(pc);
	free(text);

	text = many_lines(PROXYCONF_MAX_TARGETS + 1, 8);
	ck_assert_int_eq(proxyconf_parse(text, strlen(text), &pc, &err),
	    PROXYCONF_ERR_SYNTAX);
	ck_assert_int_eq(err.line, 4097);
	ck_assert_str_eq(err.msg, "too many targets (max 4096)");
	free(text);
}
END_TEST

static Suite *
proxyconf_suite(void)
{
	Suite *s = suite_create("proxyconf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, real_example);
	tcase_add_test(tc, forms);
	tcase_add_test(tc, no_default);
	tcase_add_loop_test(tc, grammar_errors, 0, NBAD);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return proxyconf_suite();
}
