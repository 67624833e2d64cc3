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

/*
 * Direct mode: the histograms (one per DC of the table), mask relays by
 * reason, pool threads by state; no middle_links.
 */
START_TEST(runtime_series)
{
	const struct config_dc *dc2;
	char *body;

	config_defaults(&cfg);
	ck_assert_int_eq(stats_init(&st), 0);
	ck_assert_ptr_nonnull(dc2 = config_find_dc(&cfg, 2));
	histo_observe(&st.handshake_time, 1500);
	histo_observe(&st.handshake_time, 40000000);
	histo_observe(&st.dc_connect[dc2 - cfg.dcs], 3000);
	atomic_store(&st.mask_relays[STATS_REJECT_BAD_SECRET], 3);
	atomic_store(&st.pool.busy, 5);
	atomic_store(&st.pool.idle, 2);
	body = render(0);

	has_line(body, "# TYPE mtproxyd_handshake_duration_seconds histogram");
	has_line(body, "mtproxyd_handshake_duration_seconds_bucket"
	    "{le=\"0.001\"} 0");
	has_line(body, "mtproxyd_handshake_duration_seconds_bucket"
	    "{le=\"0.0025\"} 1");
	has_line(body, "mtproxyd_handshake_duration_seconds_bucket"
	    "{le=\"30\"} 1");
	has_line(body, "mtproxyd_handshake_duration_seconds_bucket"
	    "{le=\"+Inf\"} 2");
	has_line(body, "mtproxyd_handshake_duration_seconds_sum 40.0015");
	has_line(body, "mtproxyd_handshake_duration_seconds_count 2");
	has_line(body, "# TYPE mtproxyd_dc_connect_duration_seconds histogram");
	has_line(body, "mtproxyd_dc_connect_duration_seconds_bucket"
	    "{dc=\"2\",le=\"0.0025\"} 0");
	has_line(body, "mtproxyd_dc_connect_duration_seconds_bucket"
	    "{dc=\"2\",le=\"0.005\"} 1");
	has_line(body, "mtproxyd_dc_connect_duration_seconds_count{dc=\"2\"} 1");
	has_line(body, "mtproxyd_dc_connect_duration_seconds_sum{dc=\"2\"} "
	    "0.003");
	has_line(body, "mtproxyd_dc_connect_duration_seconds_count{dc=\"5\"} 0");
	has_line(body, "mtproxyd_mask_relays_total{reason=\"bad_secret\"} 3");
	has_line(body, "mtproxyd_mask_relays_total{reason=\"tls_digest\"} 0");
	has_line(body, "mtproxyd_pool_threads{state=\"busy\"} 5");
	has_line(body, "mtproxyd_pool_threads{state=\"idle\"} 2");
	ck_assert_ptr_null(strstr(body, "mtproxyd_middle_links{"));
	free(body);
}
END_TEST

/* Middle mode: links by state; sessions connect to no DC. */
START_TEST(middle_links)
{
	char *body;

	config_defaults(&cfg);
	ck_assert_int_eq(stats_init(&st), 0);
	cfg.mode = CONFIG_MODE_MIDDLE;
	atomic_store(&st.mux.links[STATS_LINK_READY], 2);
	atomic_store(&st.mux.links[STATS_LINK_WAITING], 1);
	body = render(0);

	has_line(body, "# TYPE mtproxyd_middle_links gauge");
	has_line(body, "mtproxyd_middle_links{state=\"connecting\"} 0");
	has_line(body, "mtproxyd_middle_links{state=\"ready\"} 2");
	has_line(body, "mtproxyd_middle_links{state=\"waiting\"} 1");
	has_line(body, "mtproxyd_handshake_duration_seconds_count 0");
	ck_assert_ptr_null(strstr(body, "mtproxyd_dc_connect"));
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
	tcase_add_test(tc, runtime_series);
	tcase_add_test(tc, middle_links);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return metrics_suite();
}
