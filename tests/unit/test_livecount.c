/*
 * The shared store's values (include/livecount.h): what is accepted comes
 * back exactly, anything else (signs, spaces, overflow, a missing or an
 * extra field, other words) is refused.
 */
#include <check.h>
#include <string.h>

#include "ckmain.h"
#include "livecount.h"

static int
parse(const char *s, struct livecount *v)
{
	return livecount_parse(s, strlen(s), v);
}

START_TEST(live_values)
{
	static const char *const bad[] = { "", "1 2", "1 2 3 4", "1  2 3",
	    " 1 2 3", "1 2 3 ", "-1 2 3", "+1 2 3", "1 2 x", "1 2 3\n",
	    "9223372036854775808 0 0", "1 2 99999999999999999999" };
	struct livecount v;
	char out[LIVECOUNT_MAX];
	size_t i;

	ck_assert_int_eq(parse("2 1 1796385600000", &v), 0);
	ck_assert_int_eq(v.active, 2);
	ck_assert_int_eq(v.ips, 1);
	ck_assert_int_eq(v.expires_ms, 1796385600000LL);
	ck_assert_int_eq(livecount_format(&v, out), 0);
	ck_assert_str_eq(out, "2 1 1796385600000");
	ck_assert_int_eq(parse("9223372036854775807 0 0", &v), 0);
	ck_assert_int_eq(v.active, INT64_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &v) == LIVECOUNT_ERR, "'%s' "
		    "accepted", bad[i]);
	/* Not NUL-terminated: only len bytes are read. */
	ck_assert_int_eq(livecount_parse("3 4 5 6", 5, &v), 0);
	ck_assert_int_eq(v.expires_ms, 5);
	v.active = -1;
	ck_assert_int_eq(livecount_format(&v, out), LIVECOUNT_ERR);
}
END_TEST

START_TEST(overrides)
{
	static const char *const on[] = { "1", "yes", "true" };
	static const char *const off[] = { "0", "no", "false" };
	static const char *const bad[] = { "", "2", "YES", "on", "1 " };
	int64_t t;
	size_t i;
	int e;

	for (i = 0; i < 3; i++) {
		e = -1;
		ck_assert_int_eq(livecount_enabled(on[i], strlen(on[i]), &e), 0);
		ck_assert_int_eq(e, 1);
		ck_assert_int_eq(livecount_enabled(off[i], strlen(off[i]), &e),
		    0);
		ck_assert_int_eq(e, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(livecount_enabled(bad[i], strlen(bad[i]), &e),
		    LIVECOUNT_ERR);
	ck_assert_int_eq(livecount_expires("1796385600", 10, &t), 0);
	ck_assert_int_eq(t, 1796385600LL);
	ck_assert_int_eq(livecount_expires("0", 1, &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(livecount_expires("-5", 2, &t), LIVECOUNT_ERR);
	ck_assert_int_eq(livecount_expires("", 0, &t), LIVECOUNT_ERR);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("livecount");
	TCase *tc = tcase_create("livecount");

	tcase_add_test(tc, live_values);
	tcase_add_test(tc, overrides);
	suite_add_tcase(s, tc);
	return s;
}
