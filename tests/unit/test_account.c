/*
 * Accounts (include/account.h) without a daemon: each limit refuses the
 * next session and only it, the quota says OK, LAST and SPENT at the
 * right byte and charges only what is relayed, a period rolls at 00:00 UTC
 * (times given, from `date -u -d ... +%s`), the saved state comes back, and
 * a rate makes a reader wait.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "account.h"
#include "ckmain.h"
#include "period.h"

/* date -u -d 2026-12-04T12:00:00Z +%s */
#define NOON		1796385600LL
/* date -u -d 2026-12-05T00:00:00Z +%s */
#define MIDNIGHT	1796428800LL

static struct accounts *acc;
static struct account *a;

static void
setup(void)
{
	ck_assert_int_eq(accounts_new(&acc), 0);
	a = accounts_get(acc, "alice");
	ck_assert_ptr_nonnull(a);
}

static void
teardown(void)
{
	accounts_free(acc);
}

static struct sockaddr *
v4(struct sockaddr_in *sin, const char *ip)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return (struct sockaddr *)sin;
}

static struct sockaddr *
v6(struct sockaddr_in6 *sin6, const char *ip)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return (struct sockaddr *)sin6;
}

static int
admit(const struct config_limits *l, const struct sockaddr *sa, int64_t now,
    enum account_limit *why)
{
	return account_admit(a, l, sa, now, why);
}

START_TEST(same_name_same_account)
{
	ck_assert_ptr_eq(accounts_get(acc, "alice"), a);
	ck_assert_ptr_ne(accounts_get(acc, "bob"), a);
}
END_TEST

START_TEST(disabled_and_expired)
{
	struct config_limits l = { 0 };
	struct sockaddr_in s;
	enum account_limit why;

	l.disabled = 1;
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_DISABLED);
	l.disabled = 0;
	l.expires = NOON;
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_EXPIRED);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON - 1, &why), 0);
	ck_assert_uint_eq(atomic_load(&a->rejects[ACCOUNT_LIMIT_DISABLED]), 1);
	ck_assert_uint_eq(atomic_load(&a->rejects[ACCOUNT_LIMIT_EXPIRED]), 1);
	ck_assert_int_eq(atomic_load(&a->active), 1);
	ck_assert_uint_eq(atomic_load(&a->connections), 1);
}
END_TEST

/* max_ips 2: a third address waits for one of the two to leave entirely. */
START_TEST(address_cap)
{
	struct config_limits l = { .max_ips = 2 };
	struct sockaddr_in s1, s2;
	struct sockaddr_in6 s3;
	enum account_limit why;

	ck_assert_int_eq(admit(&l, v4(&s1, "10.0.0.1"), NOON, &why), 0);
	ck_assert_int_eq(admit(&l, v4(&s1, "10.0.0.1"), NOON, &why), 0);
	ck_assert_int_eq(admit(&l, v6(&s3, "2001:db8::1"), NOON, &why), 0);
	ck_assert_int_eq(admit(&l, v4(&s2, "10.0.0.2"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_IPS);
	account_leave(a, v4(&s1, "10.0.0.1"));
	ck_assert_int_eq(admit(&l, v4(&s2, "10.0.0.2"), NOON, &why),
	    ACCOUNT_ERR);
	account_leave(a, v4(&s1, "10.0.0.1"));
	ck_assert_int_eq(admit(&l, v4(&s2, "10.0.0.2"), NOON, &why), 0);
	ck_assert_uint_eq(a->naddrs, 2);
	ck_assert_int_eq(atomic_load(&a->active), 2);
}
END_TEST

START_TEST(connection_cap)
{
	struct config_limits l = { .max_connections = 1 };
	struct sockaddr_in s;
	enum account_limit why;

	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why), 0);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.9"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_CONNECTIONS);
	account_leave(a, v4(&s, "10.0.0.1"));
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.9"), NOON, &why), 0);
}
END_TEST

/* 1000 bytes: 600 OK, 400 LAST, then SPENT (and not charged). */
START_TEST(quota_steps)
{
	struct config_limits l = { .quota = 1000 };
	struct sockaddr_in s;
	enum account_limit why;

	ck_assert_int_eq(account_quota_take(a, &l, 600, NOON),
	    ACCOUNT_QUOTA_OK);
	ck_assert_int_eq(account_quota_take(a, &l, 399, NOON),
	    ACCOUNT_QUOTA_OK);
	ck_assert_int_eq(account_over_quota(a, &l, NOON), 0);
	ck_assert_int_eq(account_quota_take(a, &l, 16384, NOON),
	    ACCOUNT_QUOTA_LAST);
	ck_assert_uint_eq(atomic_load(&a->used), 999 + 16384);
	ck_assert_int_eq(account_quota_take(a, &l, 5, NOON),
	    ACCOUNT_QUOTA_SPENT);
	ck_assert_uint_eq(atomic_load(&a->used), 999 + 16384);
	ck_assert_int_eq(account_over_quota(a, &l, NOON), 1);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_QUOTA);
	/* No quota: nothing is charged. */
	l.quota = 0;
	ck_assert_int_eq(account_quota_take(a, &l, 5, NOON),
	    ACCOUNT_QUOTA_OK);
	ck_assert_uint_eq(atomic_load(&a->used), 999 + 16384);
}
END_TEST

/* quota_period = day: spent at noon, whole again at midnight UTC. */
START_TEST(period_rolls)
{
	struct config_limits l = { .quota = 1000,
	    .quota_period = PERIOD_DAY };
	struct sockaddr_in s;
	enum account_limit why;
	uint64_t used;
	int64_t start;

	account_limits_set(a, &l, NOON);
	ck_assert_int_eq(account_quota_take(a, &l, 1000, NOON),
	    ACCOUNT_QUOTA_LAST);
	ck_assert_int_eq(account_over_quota(a, &l, MIDNIGHT - 1), 1);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), MIDNIGHT - 1, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(account_over_quota(a, &l, MIDNIGHT), 0);
	account_quota_get(a, &used, &start);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(start, MIDNIGHT);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), MIDNIGHT, &why), 0);
}
END_TEST

/* Saved state comes back; a period that ended meanwhile starts afresh. */
START_TEST(state_restored)
{
	struct config_limits l = { .quota = 1000,
	    .quota_period = PERIOD_DAY };
	uint64_t used;
	int64_t start;

	account_quota_set(a, &l, 700, MIDNIGHT - 86400, NOON);
	account_quota_get(a, &used, &start);
	ck_assert_uint_eq(used, 700);
	ck_assert_int_eq(start, MIDNIGHT - 86400);
	ck_assert_int_eq(account_quota_take(a, &l, 300, NOON),
	    ACCOUNT_QUOTA_LAST);
	account_quota_set(a, &l, 700, MIDNIGHT - 2 * 86400, NOON);
	account_quota_get(a, &used, &start);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(start, MIDNIGHT - 86400);
}
END_TEST

/* 1 KiB/s, one second deep: a second's worth, then a wait for the rest. */
START_TEST(rate_waits)
{
	struct config_limits l = { .rate = 1024 };
	int64_t t = 5000000;

	ck_assert_int_eq(account_rate_wait(a, &l, ACCOUNT_UP, t), 0);
	account_rate_charge(a, ACCOUNT_UP, 1024 + 512, t);
	ck_assert_int_eq(account_rate_wait(a, &l, ACCOUNT_UP, t), 500000);
	/* The other direction has its own bucket. */
	ck_assert_int_eq(account_rate_wait(a, &l, ACCOUNT_DOWN, t), 0);
	ck_assert_int_eq(account_rate_wait(a, &l, ACCOUNT_UP, t + 500000), 0);
	l.rate = 0;
	ck_assert_int_eq(account_rate_wait(a, &l, ACCOUNT_UP, t), 0);
}
END_TEST

/*
 * The shared store's side: the others' sessions and addresses count
 * towards the caps, the store's enabled and expires override the file's.
 */
START_TEST(fleet_counts_and_overrides)
{
	struct config_limits l = { .max_connections = 3, .max_ips = 2 };
	struct sockaddr_in s;
	enum account_limit why;

	account_fleet_set(a, 2, 1, -1, -1);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why), 0);
	/* 1 here + 2 elsewhere: the cap; then 1 + 1 addresses: that cap. */
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_CONNECTIONS);
	account_fleet_set(a, 0, 1, -1, -1);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.2"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_IPS);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why), 0);
	/* The store disables, then enables one the file disabled. */
	account_fleet_set(a, 0, 0, 0, -1);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_DISABLED);
	l.disabled = 1;
	account_fleet_set(a, 0, 0, 1, -1);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why), 0);
	/* expires from the store: past it refused; 0 is never. */
	l.expires = NOON - 1;
	account_fleet_set(a, 0, 0, 1, NOON);
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why),
	    ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_EXPIRED);
	account_fleet_set(a, 0, 0, 1, 0);
	l.max_connections = 0;
	ck_assert_int_eq(admit(&l, v4(&s, "10.0.0.1"), NOON, &why), 0);
}
END_TEST

/*
 * Bytes taken wait in unflushed until the store answered: used becomes the
 * fleet's total plus what came since; a period roll drops what was pending
 * of the old period, and a late answer about it changes nothing.
 */
START_TEST(fleet_flush)
{
	struct config_limits l = { .quota = 100000,
	    .quota_period = PERIOD_DAY };
	uint64_t delta;
	int64_t start;

	account_limits_set(a, &l, NOON);
	ck_assert_int_eq(account_quota_take(a, &l, 600, NOON),
	    ACCOUNT_QUOTA_OK);
	account_fleet_pending(a, &delta, &start);
	ck_assert_uint_eq(delta, 600);
	ck_assert_int_eq(start, MIDNIGHT - 86400);
	ck_assert_int_eq(account_quota_take(a, &l, 50, NOON),
	    ACCOUNT_QUOTA_OK);
	/* Another instance spent 5000 meanwhile. */
	account_fleet_flushed(a, delta, start, 5600);
	ck_assert_uint_eq(atomic_load(&a->unflushed), 50);
	ck_assert_uint_eq(atomic_load(&a->used), 5650);
	account_fleet_pending(a, &delta, &start);
	ck_assert_int_eq(account_over_quota(a, &l, MIDNIGHT), 0);
	ck_assert_uint_eq(atomic_load(&a->unflushed), 0);
	ck_assert_int_eq(account_quota_take(a, &l, 7, MIDNIGHT),
	    ACCOUNT_QUOTA_OK);
	account_fleet_flushed(a, delta, start, 9999);
	ck_assert_uint_eq(atomic_load(&a->unflushed), 7);
	ck_assert_uint_eq(atomic_load(&a->used), 7);
}
END_TEST

static Suite *
account_suite(void)
{
	Suite *s = suite_create("account");
	TCase *tc = tcase_create("account");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, same_name_same_account);
	tcase_add_test(tc, disabled_and_expired);
	tcase_add_test(tc, address_cap);
	tcase_add_test(tc, connection_cap);
	tcase_add_test(tc, quota_steps);
	tcase_add_test(tc, period_rolls);
	tcase_add_test(tc, state_restored);
	tcase_add_test(tc, rate_waits);
	tcase_add_test(tc, fleet_counts_and_overrides);
	tcase_add_test(tc, fleet_flush);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return account_suite();
}
