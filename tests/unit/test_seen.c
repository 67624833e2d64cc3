/*
 * The address -> user hints: what is put is got back, IPv6 by /64 and
 * IPv4-mapped as IPv4, the newest put wins, a crowded table forgets but
 * does not mix addresses up, the slots depend on the table's random key,
 * and threads at once (run under TSan in CI).
 *
 * An address that was never put with a user can still get it back when
 * its slot holds another address whose 32-bit tag equals its own: a
 * chance of 2^-32 per lookup of an occupied slot. The tests below make
 * about 20,000 such lookups: a spurious failure once in 200,000 runs.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "ckmain.h"
#include "seen.h"

#define CROWD		4096	/* addresses ... */
#define CROWD_SLOTS	16	/* ... into this many slots */
#define KEYED_TABLES	64
#define THREADS		4
#define THREAD_ADDRS	256
#define THREAD_ROUNDS	50

static struct sockaddr_storage
v4(uint32_t host_order, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(host_order);
	return ss;
}

static struct sockaddr_storage
v6(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
	return ss;
}

#define SA(ss)	((const struct sockaddr *)&(ss))

static void
put(struct seen *s, struct sockaddr_storage ss, size_t user)
{
	seen_put(s, SA(ss), user);
}

/* The user got for the address, or -1 for none. */
static long
got(const struct seen *s, struct sockaddr_storage ss)
{
	size_t user = 12345;
	int rc = seen_get(s, SA(ss), &user);

	if (rc == SEEN_NONE) {
		ck_assert_uint_eq(user, 12345);
		return -1;
	}
	ck_assert_int_eq(rc, 0);
	return (long)user;
}

START_TEST(put_get_overwrite)
{
	struct seen *s = NULL;

	ck_assert_int_eq(seen_new(1024, &s), 0);
	ck_assert_int_eq(got(s, v4(0xc0000201, 1)), -1);
	put(s, v4(0xc0000201, 1), 3);
	/* The port does not matter: a client's next connection has another. */
	ck_assert_int_eq(got(s, v4(0xc0000201, 40000)), 3);
	ck_assert_int_eq(got(s, v4(0xc0000202, 1)), -1);
	put(s, v4(0xc0000201, 1), 5);
	ck_assert_int_eq(got(s, v4(0xc0000201, 1)), 5);
	put(s, v4(0xc0000201, 1), 0);
	ck_assert_int_eq(got(s, v4(0xc0000201, 1)), 0);
	/* Too large to keep: the entry before stays. */
	put(s, v4(0xc0000201, 1), (size_t)UINT32_MAX + 1);
	ck_assert_int_eq(got(s, v4(0xc0000201, 1)), 0);
	put(s, v4(0xc0000201, 1), UINT32_MAX);
	ck_assert_int_eq(got(s, v4(0xc0000201, 1)), (long)UINT32_MAX);
	seen_free(s);
}
END_TEST

START_TEST(v6_by_64_and_v4_mapped)
{
	struct seen *s = NULL;

	ck_assert_int_eq(seen_new(1024, &s), 0);
	put(s, v6("2001:db8:1:2::1"), 7);
	ck_assert_int_eq(got(s, v6("2001:db8:1:2::1")), 7);
	ck_assert_int_eq(got(s, v6("2001:db8:1:2:ffff:ffff:ffff:fffe")), 7);
	ck_assert_int_eq(got(s, v6("2001:db8:1:3::1")), -1);
	ck_assert_int_eq(got(s, v6("2001:db9:1:2::1")), -1);

	put(s, v6("::ffff:192.0.2.1"), 9);
	ck_assert_int_eq(got(s, v4(0xc0000201, 443)), 9);
	ck_assert_int_eq(got(s, v6("::ffff:192.0.2.2")), -1);
	put(s, v4(0xc0000202, 443), 11);
	ck_assert_int_eq(got(s, v6("::ffff:192.0.2.2")), 11);
	ck_assert_int_eq(got(s, v6("::ffff:192.0.2.1")), 9);
	/* Not the IPv6 address with the same low bytes. */
	ck_assert_int_eq(got(s, v6("::192.0.2.1")), -1);
	seen_free(s);
}
END_TEST

START_TEST(not_ip_and_arguments)
{
	struct sockaddr_un un;
	struct seen *s = NULL;
	size_t user = 77;

	ck_assert_int_eq(seen_new(0, &s), SEEN_ERR);
	ck_assert_int_eq(seen_new(SEEN_MAX_SLOTS + 1, &s), SEEN_ERR);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(seen_new(1, &s), 0);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	seen_put(s, (const struct sockaddr *)&un, 1);
	ck_assert_int_eq(seen_get(s, (const struct sockaddr *)&un, &user),
	    SEEN_NONE);
	ck_assert_int_eq(seen_get(s, NULL, &user), SEEN_NONE);
	ck_assert_int_eq(seen_get(NULL, (const struct sockaddr *)&un, &user),
	    SEEN_NONE);
	ck_assert_uint_eq(user, 77);
	put(NULL, v4(1, 1), 1);
	seen_free(s);
	seen_free(NULL);
}
END_TEST

/*
 * 4096 addresses into 16 slots: at most 16 are remembered, the last one
 * put always is, and no address gets another's user (user i for address i).
 */
START_TEST(crowded_forgets_but_never_mixes)
{
	struct seen *s = NULL;
	uint32_t i;
	long u;
	int found = 0;

	ck_assert_int_eq(seen_new(CROWD_SLOTS, &s), 0);
	for (i = 0; i < CROWD; i++)
		put(s, v4(0x0a000000 + i, 1), i);
	for (i = 0; i < CROWD; i++) {
		if ((u = got(s, v4(0x0a000000 + i, 1))) < 0)
			continue;
		ck_assert_int_eq(u, (long)i);
		found++;
	}
	ck_assert_int_le(found, CROWD_SLOTS);
	ck_assert_int_eq(got(s, v4(0x0a000000 + CROWD - 1, 1)), CROWD - 1);
	/* Addresses never put find nothing in the full table. */
	for (i = 0; i < CROWD; i++)
		ck_assert_int_eq(got(s, v4(0x0b000000 + i, 1)), -1);
	seen_free(s);
}
END_TEST

/*
 * Whether two addresses share a slot of a two-slot table depends on the
 * table's random key: over 64 tables both outcomes occur (the chance that
 * they do not is 2^-63 with a working key).
 */
START_TEST(slots_depend_on_the_key)
{
	struct seen *s;
	int shared = 0, k;

	for (k = 0; k < KEYED_TABLES; k++) {
		s = NULL;
		ck_assert_int_eq(seen_new(2, &s), 0);
		put(s, v4(0xc6336401, 1), 1);
		put(s, v4(0xc6336402, 1), 2);
		ck_assert_int_eq(got(s, v4(0xc6336402, 1)), 2);
		if (got(s, v4(0xc6336401, 1)) < 0)
			shared++;
		seen_free(s);
	}
	ck_assert_int_gt(shared, 0);
	ck_assert_int_lt(shared, KEYED_TABLES);
}
END_TEST

struct worker {
	struct seen *s;
	uint32_t base;
	int wrong;
};

/* Its own addresses, each with the user that names it, against the rest. */
static void *
work(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_storage ss;
	uint32_t i, r;
	size_t user;

	for (r = 0; r < THREAD_ROUNDS; r++)
		for (i = 0; i < THREAD_ADDRS; i++) {
			ss = v4(w->base + i, 1);
			if (seen_get(w->s, SA(ss), &user) == 0 &&
			    user != w->base + i)
				w->wrong++;
			seen_put(w->s, SA(ss), w->base + i);
		}
	return NULL;
}

START_TEST(threads_at_once)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct seen *s = NULL;
	int i;

	ck_assert_int_eq(seen_new(64, &s), 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .s = s, .base = 0x0a000000 +
		    (uint32_t)i * 0x10000 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(w[i].wrong, 0);
	}
	/* Each thread's last address is found unless another took its slot. */
	for (i = 0; i < THREADS; i++)
		ck_assert(got(s, v4(w[i].base + THREAD_ADDRS - 1, 1)) == -1 ||
		    got(s, v4(w[i].base + THREAD_ADDRS - 1, 1)) ==
		    (long)(w[i].base + THREAD_ADDRS - 1));
	seen_free(s);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("seen");
	TCase *tc = tcase_create("seen");

	tcase_add_test(tc, put_get_overwrite);
	tcase_add_test(tc, v6_by_64_and_v4_mapped);
	tcase_add_test(tc, not_ip_and_arguments);
	tcase_add_test(tc, crowded_forgets_but_never_mixes);
	tcase_add_test(tc, slots_depend_on_the_key);
	tcase_add_test(tc, threads_at_once);
	suite_add_tcase(s, tc);
	return s;
}
