/*
 * metrics_write: the exposition text itself, exactly. Label values carry
 * backslash, double quote and newline escaped (format 0.0.4); user names
 * from a file cannot hold them, so the names here are set by hand.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "account.h"
#include "config.h"
#include "metrics.h"
#include "stats.h"

static struct config cfg;
static struct stats st;
static struct accounts *acc;
static struct wallclock clk;

static void
setup(void)
{
	config_defaults(&cfg);
	ck_assert_int_eq(stats_init(&st), 0);
	ck_assert_int_eq(accounts_new(&acc), 0);
	ck_assert_int_eq(wallclock_init(&clk, NULL, NULL, 0), 0);
}

static void
teardown(void)
{
	accounts_free(acc);
	config_free(&cfg);
}

/* metrics_write's whole output. */
static char *
render(long long active)
{
	atomic_llong act;
	struct metrics_view v = { &cfg, &st, &act, acc, &clk };
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);

	atomic_init(&act, active);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(metrics_write(&v, out), 0);
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
	struct account *a, *b;
	char *body;

	a = accounts_get(acc, "a\"b\\c\nd");
	b = accounts_get(acc, "plain");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	atomic_store(&a->connections, 7);
	atomic_store(&a->bytes[ACCOUNT_UP], 1234);
	atomic_store(&a->bytes[ACCOUNT_DOWN], 5678);
	atomic_store(&b->active, 3);
	atomic_store(&st.rejected[STATS_REJECT_REPLAY], 9);
	atomic_store(&st.replay_store_errors, 5);
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
	has_line(body, "mtproxyd_replay_store_errors_total 5");
	has_line(body, "# TYPE mtproxyd_bytes_total counter");
	ck_assert_ptr_null(strstr(body, "mtproxyd_middle_"));
	free(body);
}
END_TEST

/* Middle mode adds its counters, one counter family each. */
START_TEST(middle_counters)
{
	char *body;

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

static void
peer4(struct sockaddr_in *sin, const char *ip)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

/* The limit series: refusals by limit, the quota left, distinct addresses. */
START_TEST(user_limits)
{
	struct config_limits lim = { 0 };
	struct sockaddr_in p1, p2, p3;
	enum account_limit why;
	int64_t now = wallclock_now(&clk);
	struct account *a;
	char *body;

	a = accounts_get(acc, "carol");
	ck_assert_ptr_nonnull(a);
	lim.quota = 1000;
	lim.max_connections = 2;
	account_limits_set(a, &lim, now);
	peer4(&p1, "127.0.0.1");
	peer4(&p2, "127.0.0.2");
	peer4(&p3, "127.0.0.3");
	ck_assert_int_eq(account_admit(a, &lim, (struct sockaddr *)&p1, now,
	    &why), 0);
	ck_assert_int_eq(account_admit(a, &lim, (struct sockaddr *)&p2, now,
	    &why), 0);
	ck_assert_int_eq(account_admit(a, &lim, (struct sockaddr *)&p3, now,
	    &why), ACCOUNT_ERR);
	ck_assert_int_eq(why, ACCOUNT_LIMIT_CONNECTIONS);
	account_leave(a, (struct sockaddr *)&p2);
	ck_assert_int_eq(account_admit(a, &lim, (struct sockaddr *)&p3, now,
	    &why), 0);
	ck_assert_int_eq(account_quota_take(a, &lim, 300, now),
	    ACCOUNT_QUOTA_OK);
	account_count(a, ACCOUNT_UP, 300);
	atomic_store(&st.reloads[0], 2);
	atomic_store(&st.reloads[1], 1);
	body = render(2);

	has_line(body, "mtproxyd_limit_rejects_total{user=\"carol\","
	    "limit=\"max_connections\"} 1");
	has_line(body, "mtproxyd_limit_rejects_total{user=\"carol\","
	    "limit=\"quota\"} 0");
	has_line(body, "mtproxyd_quota_remaining_bytes{user=\"carol\"} 700");
	has_line(body, "mtproxyd_unique_ips{user=\"carol\",window=\"5m\"} 3");
	has_line(body, "mtproxyd_unique_ips{user=\"carol\",window=\"1d\"} 3");
	has_line(body, "mtproxyd_connections_active{user=\"carol\"} 2");
	has_line(body, "mtproxyd_connections_total{user=\"carol\"} 3");
	has_line(body, "mtproxyd_config_reloads_total{result=\"ok\"} 2");
	has_line(body, "mtproxyd_config_reloads_total{result=\"failed\"} 1");
	free(body);
	account_leave(a, (struct sockaddr *)&p1);
	account_leave(a, (struct sockaddr *)&p3);
	ck_assert_int_eq(atomic_load(&a->active), 0);
	ck_assert_uint_eq(a->naddrs, 0);
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

/* [store] backend = redis: the store's gauge and errors; local: none. */
START_TEST(store_series)
{
	char *body = render(0);

	ck_assert_ptr_null(strstr(body, "mtproxyd_store_"));
	free(body);
	cfg.store = CONFIG_STORE_REDIS;
	atomic_store(&st.store.up, 1);
	atomic_store(&st.store.errors[STATS_STORE_IO], 4);
	body = render(0);
	has_line(body, "# TYPE mtproxyd_store_up gauge");
	has_line(body, "mtproxyd_store_up 1");
	has_line(body, "# TYPE mtproxyd_store_errors_total counter");
	has_line(body, "mtproxyd_store_errors_total{kind=\"connect\"} 0");
	has_line(body, "mtproxyd_store_errors_total{kind=\"io\"} 4");
	has_line(body, "mtproxyd_store_errors_total{kind=\"reply\"} 0");
	free(body);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, user_limits);
	tcase_add_test(tc, labels_escaped);
	tcase_add_test(tc, middle_counters);
	tcase_add_test(tc, runtime_series);
	tcase_add_test(tc, middle_links);
	tcase_add_test(tc, store_series);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return metrics_suite();
}
