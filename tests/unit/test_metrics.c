/*
 * metrics_write: the exposition text itself, exactly. Label values carry
 * backslash, double quote and newline escaped (format 0.0.4); user names
 * from a file cannot hold them, so the names here are set by hand.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "config.h"
#include "metrics.h"
#include "stats.h"

static struct config cfg;
static struct stats st;

/* metrics_write's whole output. */
static char *
render(long long active)
{
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(metrics_write(&cfg, &st, active, out), 0);
	ck_assert_int_eq(fclose(out), 0);
	return body;
}

static void
has_line(const char *body, const char *line)
{
	const char *p = strstr(body, line);

	ck_assert_msg(p != NULL && (p == body || p[-1] == '\n') &&
	    p[strlen(line)] == '\n', "no line '%s' in:\n%s", line, body);
}

START_TEST(labels_escaped)
{
	char *body;

	config_defaults(&cfg);
	memset(&st, 0, sizeof(st));
	cfg.nusers = 2;
	strcpy(cfg.users[0].name, "a\"b\\c\nd");
	strcpy(cfg.users[1].name, "plain");
	atomic_store(&st.users[0].connections, 7);
	atomic_store(&st.users[0].bytes_in, 1234);
	atomic_store(&st.users[0].bytes_out, 5678);
	atomic_store(&st.users[1].active, 3);
	atomic_store(&st.rejected[STATS_REJECT_REPLAY], 9);
	body = render(4);

	has_line(body, "mtproxyd_connections_total{user=\"a\\\"b\\\\c\\nd\"} 7");
	has_line(body, "mtproxyd_bytes_total{user=\"a\\\"b\\\\c\\nd\","
	    "direction=\"up\"} 1234");
	has_line(body, "mtproxyd_bytes_total{user=\"a\\\"b\\\\c\\nd\","
	    "direction=\"down\"} 5678");
	has_line(body, "mtproxyd_connections_active{user=\"plain\"} 3");
	has_line(body, "mtproxyd_sessions_active 4");
	has_line(body, "mtproxyd_handshake_rejects_total{reason=\"replay\"} 9");
	has_line(body, "mtproxyd_replay_hits_total 9");
	has_line(body, "# TYPE mtproxyd_bytes_total counter");
	ck_assert_ptr_null(strstr(body, "mtproxyd_middle_"));
	free(body);
}
END_TEST

/* Middle mode adds its counters, one counter family each. */
START_TEST(middle_counters)
{
	char *body;

	config_defaults(&cfg);
	memset(&st, 0, sizeof(st));
	cfg.mode = CONFIG_MODE_MIDDLE;
	atomic_store(&st.mux.links_up, 2);
	atomic_store(&st.middle.refresh_failures, 5);
	body = render(0);

	has_line(body, "# TYPE mtproxyd_middle_links_up_total counter");
	has_line(body, "mtproxyd_middle_links_up_total 2");
	has_line(body, "mtproxyd_middle_refresh_failures_total 5");
	has_line(body, "mtproxyd_middle_queries_total 0");
	free(body);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, labels_escaped);
	tcase_add_test(tc, middle_counters);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return metrics_suite();
}
