/*
 * The per-address counts of iplimit.h: sessions up to the limit and not
 * one more, freed by a leave; IPv6 by /64; the failures that start a
 * backoff, within the window only, and its end; a full table counts no
 * one and so refuses no one.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ckmain.h"
#include "iplimit.h"

#define SA(ss)	((const struct sockaddr *)&(ss))
#define BURST	24

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return ss;
	}
	a6->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, text, &a6->sin6_addr), 1);
	return ss;
}

START_TEST(sessions_up_to_the_limit)
{
	struct sockaddr_storage a = addr("192.0.2.1"), b = addr("192.0.2.2");
	struct iplimit *t = NULL;
	long slot[BURST], other, none;
	int i;

	ck_assert_int_eq(iplimit_new(1024, &t), 0);
	for (i = 0; i < BURST; i++) {
		ck_assert_int_eq(iplimit_enter(t, SA(a), BURST, 0, &slot[i]), 0);
		ck_assert_int_ge(slot[i], 0);
	}
	ck_assert_int_eq(iplimit_enter(t, SA(a), BURST, 0, &none),
	    IPLIMIT_OVER);
	ck_assert_int_eq(none, IPLIMIT_NONE);
	/* another address has its own count */
	ck_assert_int_eq(iplimit_enter(t, SA(b), BURST, 0, &other), 0);
	iplimit_leave(t, slot[3]);
	ck_assert_int_eq(iplimit_enter(t, SA(a), BURST, 0, &slot[3]), 0);
	ck_assert_int_eq(iplimit_enter(t, SA(a), BURST, 0, &none),
	    IPLIMIT_OVER);
	/* 0: no limit, nothing counted */
	ck_assert_int_eq(iplimit_enter(t, SA(a), 0, 0, &none), 0);
	ck_assert_int_eq(none, IPLIMIT_NONE);
	iplimit_leave(t, IPLIMIT_NONE);
	iplimit_free(t);
}
END_TEST

START_TEST(v6_by_64)
{
	struct sockaddr_storage a = addr("2001:db8:1:2::1"),
	    b = addr("2001:db8:1:2:ffff::9"), c = addr("2001:db8:1:3::1");
	struct iplimit *t = NULL;
	long s1, s2;

	ck_assert_int_eq(iplimit_new(64, &t), 0);
	ck_assert_int_eq(iplimit_enter(t, SA(a), 1, 0, &s1), 0);
	ck_assert_int_eq(iplimit_enter(t, SA(b), 1, 0, &s2), IPLIMIT_OVER);
	ck_assert_int_eq(iplimit_enter(t, SA(c), 1, 0, &s2), 0);
	iplimit_free(t);
}
END_TEST

START_TEST(failures_start_a_backoff)
{
	struct sockaddr_storage a = addr("198.51.100.7"),
	    b = addr("198.51.100.8");
	struct iplimit *t = NULL;

	ck_assert_int_eq(iplimit_new(64, &t), 0);
	/* two failures, then the window passes: they no longer count */
	iplimit_fail(t, SA(a), 3, 1000, 0);
	iplimit_fail(t, SA(a), 3, 1000, 999);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 999), 0);
	iplimit_fail(t, SA(a), 3, 1000, 1000);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 1000), 0);
	iplimit_fail(t, SA(a), 3, 1000, 1500);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 1500), 0);
	/* the third within the window: backing off for a window from it */
	iplimit_fail(t, SA(a), 3, 1000, 1999);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 1999), 1);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 2998), 1);
	ck_assert_int_eq(iplimit_backoff(t, SA(b), 2000), 0);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 2999), 0);
	/* and counting starts afresh */
	iplimit_fail(t, SA(a), 3, 1000, 3000);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 3000), 0);
	iplimit_free(t);
}
END_TEST

/* More addresses than slots: the ones without room are let in. */
START_TEST(full_table_refuses_no_one)
{
	struct iplimit *t = NULL;
	struct sockaddr_storage a;
	char text[32];
	long slot;
	int i, counted = 0;

	ck_assert_int_eq(iplimit_new(1, &t), 0);	/* IPLIMIT_PROBE slots */
	for (i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "10.0.%d.%d", i / 250, i % 250);
		a = addr(text);
		ck_assert_int_eq(iplimit_enter(t, SA(a), 1, 0, &slot), 0);
		counted += slot != IPLIMIT_NONE;
		iplimit_fail(t, SA(a), 1, 1000, 0);
	}
	ck_assert_int_eq(counted, IPLIMIT_PROBE);
	/* the first ones hold the slots: at their limit, and backing off */
	a = addr("10.0.0.0");
	ck_assert_int_eq(iplimit_enter(t, SA(a), 1, 0, &slot), IPLIMIT_OVER);
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 0), 1);
	a = addr("10.0.0.99");
	ck_assert_int_eq(iplimit_backoff(t, SA(a), 0), 0);
	ck_assert_int_eq(iplimit_new(0, &t), IPLIMIT_ERR);
	iplimit_free(t);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("iplimit");
	TCase *tc = tcase_create("iplimit");

	tcase_add_test(tc, sessions_up_to_the_limit);
	tcase_add_test(tc, v6_by_64);
	tcase_add_test(tc, failures_start_a_backoff);
	tcase_add_test(tc, full_table_refuses_no_one);
	suite_add_tcase(s, tc);
	return s;
}
