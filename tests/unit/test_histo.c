/*
 * histo: buckets by inclusive upper bound, the text exactly as a Prometheus
 * parser wants it (cumulative buckets up to +Inf, the sum in decimal
 * seconds, the count equal to +Inf, labels escaped), bad tables refused,
 * and no observation lost to threads racing on one histogram.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "histo.h"

#define RACERS		4
#define RACE_EACH	200000

static const uint64_t bounds[] = { 1000, 2500, 1000000 };

/* histo_write's whole output. */
static char *
render(const struct histo *h, const char *name,
    const struct histo_label *labels, size_t nlabels)
{
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(histo_write(h, name, labels, nlabels, out), 0);
	ck_assert_int_eq(fclose(out), 0);
	return body;
}

/* Each bound's edge and one past it; labels escaped, le last. */
START_TEST(text_with_labels)
{
	static const uint64_t seen[] = { 0, 1000, 1001, 2500, 999999, 1000000,
	    1000001, 30000000 };
	const struct histo_label labels[] = { { "dc", "2" },
	    { "x", "a\"b\\c\nd" } };
	struct histo h;
	char *body;
	size_t i;

	ck_assert_int_eq(histo_init(&h, bounds, 3), 0);
	for (i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
		histo_observe(&h, seen[i]);
	body = render(&h, "t", labels, 2);
	ck_assert_str_eq(body,
	    "t_bucket{dc=\"2\",x=\"a\\\"b\\\\c\\nd\",le=\"0.001\"} 2\n"
	    "t_bucket{dc=\"2\",x=\"a\\\"b\\\\c\\nd\",le=\"0.0025\"} 4\n"
	    "t_bucket{dc=\"2\",x=\"a\\\"b\\\\c\\nd\",le=\"1\"} 6\n"
	    "t_bucket{dc=\"2\",x=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 8\n"
	    "t_sum{dc=\"2\",x=\"a\\\"b\\\\c\\nd\"} 33.004501\n"
	    "t_count{dc=\"2\",x=\"a\\\"b\\\\c\\nd\"} 8\n");
	free(body);
}
END_TEST

/* No labels: le alone in braces, the sum and count bare. */
START_TEST(text_without_labels)
{
	struct histo h;
	char *body;

	ck_assert_int_eq(histo_init(&h, bounds, 3), 0);
	body = render(&h, "t", NULL, 0);
	ck_assert_str_eq(body,
	    "t_bucket{le=\"0.001\"} 0\n"
	    "t_bucket{le=\"0.0025\"} 0\n"
	    "t_bucket{le=\"1\"} 0\n"
	    "t_bucket{le=\"+Inf\"} 0\n"
	    "t_sum 0\n"
	    "t_count 0\n");
	free(body);
	histo_observe(&h, 10);
	histo_observe(&h, 2000000);
	body = render(&h, "t", NULL, 0);
	ck_assert_str_eq(body,
	    "t_bucket{le=\"0.001\"} 1\n"
	    "t_bucket{le=\"0.0025\"} 1\n"
	    "t_bucket{le=\"1\"} 1\n"
	    "t_bucket{le=\"+Inf\"} 2\n"
	    "t_sum 2.00001\n"
	    "t_count 2\n");
	free(body);
}
END_TEST

START_TEST(bad_tables_refused)
{
	static const uint64_t unsorted[] = { 1000, 1000, 2000 };
	uint64_t many[HISTO_MAX_BOUNDS + 1];
	struct histo h;
	size_t i;

	for (i = 0; i < HISTO_MAX_BOUNDS + 1; i++)
		many[i] = (i + 1) * 1000;
	ck_assert_int_eq(histo_init(&h, unsorted, 3), HISTO_ERR);
	ck_assert_int_eq(histo_init(&h, many, HISTO_MAX_BOUNDS + 1),
	    HISTO_ERR);
	ck_assert_int_eq(histo_init(&h, many, HISTO_MAX_BOUNDS), 0);
}
END_TEST

static void *
racer(void *arg)
{
	struct histo *h = arg;
	uint64_t i;

	for (i = 0; i < RACE_EACH; i++)
		histo_observe(h, i % 3 == 0 ? 500 : 2000);
	return NULL;
}

/* Every thread's observations land: buckets and sum exact. */
START_TEST(threads_lose_nothing)
{
	const unsigned long long n = (unsigned long long)RACERS * RACE_EACH;
	/* Per racer, i % 3 == 0 for ceil(RACE_EACH / 3) of its i. */
	const unsigned long long small = RACERS * ((RACE_EACH + 2) / 3);
	pthread_t t[RACERS];
	struct histo h;
	char *body, want[512];
	int i;

	ck_assert_int_eq(histo_init(&h, bounds, 3), 0);
	for (i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer, &h), 0);
	for (i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	body = render(&h, "r", NULL, 0);
	snprintf(want, sizeof(want),
	    "r_bucket{le=\"0.001\"} %llu\n"
	    "r_bucket{le=\"0.0025\"} %llu\n"
	    "r_bucket{le=\"1\"} %llu\n"
	    "r_bucket{le=\"+Inf\"} %llu\n"
	    /* 4 * (66667 * 500 + 133333 * 2000) us */
	    "r_sum 1199.998\n"
	    "r_count %llu\n", small, n, n, n, n);
	ck_assert_str_eq(body, want);
	free(body);
}
END_TEST

static Suite *
histo_suite(void)
{
	Suite *s = suite_create("histo");
	TCase *tc = tcase_create("histo");

	tcase_add_test(tc, text_with_labels);
	tcase_add_test(tc, text_without_labels);
	tcase_add_test(tc, bad_tables_refused);
	tcase_add_test(tc, threads_lose_nothing);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return histo_suite();
}
