/*
 * Prometheus text format 0.0.4 over libmicrohttpd. The body is built per
 * scrape from atomic loads alone, so a scrape never holds up a relay; the
 * set of values is only roughly consistent, as with SIGUSR1.
 */
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "log.h"
#include "metrics.h"
#include "net.h"

#define METRICS_CONNECTIONS	16	/* scrapers at once */
#define METRICS_TIMEOUT_S	10	/* a stalled scraper is dropped */
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct metrics_view v;
	pthread_mutex_t mu;		/* the allow list: scrapes and reloads */
	size_t nallow;
	struct config_cidr allow[CONFIG_MAX_ALLOW];
	struct MHD_Daemon *httpd;
};

static void
family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="value"} v */
static void
sample1(FILE *out, const char *name, const char *key, const char *value,
    unsigned long long v)
{
	fprintf(out, "%s{%s=\"", name, key);
	histo_put_label(out, value);
	fprintf(out, "\"} %llu\n", v);
}

/* A gauge that may dip below zero for a moment: written as 0 then. */
static unsigned long long
gauge(const atomic_llong *g)
{
	long long v = atomic_load(g);

	return v > 0 ? (unsigned long long)v : 0;
}

/* name{user="U"} v */
static void
user_sample(FILE *out, const char *name, const struct account *a,
    const char *more, unsigned long long v)
{
	fprintf(out, "%s{user=\"", name);
	histo_put_label(out, a->name);
	fprintf(out, "\"%s} %llu\n", more, v);
}

struct users_ctx {
	FILE *out;
	int64_t now;
	int part;
};

static void
user_counts(FILE *out, int part, struct account *a)
{
	if (part == 0)
		user_sample(out, "mtproxyd_connections_active", a, "",
		    gauge(&a->active));
	else if (part == 1)
		user_sample(out, "mtproxyd_connections_total", a, "",
		    atomic_load(&a->connections));
	else if (part == 2) {
		user_sample(out, "mtproxyd_bytes_total", a,
		    ",direction=\"up\"", atomic_load(&a->bytes[ACCOUNT_UP]));
		user_sample(out, "mtproxyd_bytes_total", a,
		    ",direction=\"down\"", atomic_load(&a->bytes[ACCOUNT_DOWN]));
	}
}

static void
user_limits(FILE *out, int part, int64_t now, struct account *a)
{
	unsigned long long quota = atomic_load(&a->quota), used;
	int64_t end = atomic_load(&a->period_end);
	char more[64];
	int i;

	if (part == 3) {
		for (i = 0; i < ACCOUNT_LIMIT_COUNT; i++) {
			snprintf(more, sizeof(more), ",limit=\"%s\"",
			    account_limit_name((enum account_limit)i));
			user_sample(out, "mtproxyd_limit_rejects_total", a, more,
			    atomic_load(&a->rejects[i]));
		}
	} else if (part == 4 && quota != 0) {
		/* A period that ended without traffic has not rolled yet. */
		used = end != 0 && now >= end ? 0 : atomic_load(&a->used);
		user_sample(out, "mtproxyd_quota_remaining_bytes", a, "",
		    used < quota ? quota - used : 0);
	} else if (part == 5) {
		for (i = 0; i < ACCOUNT_WINDOWS; i++) {
			snprintf(more, sizeof(more), ",window=\"%s\"",
			    account_window_name((enum account_window)i));
			user_sample(out, "mtproxyd_unique_ips", a, more,
			    (unsigned long long)(account_unique_ips(a,
			    (enum account_window)i, now) + 0.5));
		}
	}
}

static void
user_part(void *arg, struct account *a)
{
	const struct users_ctx *c = arg;

	if (c->part < 3)
		user_counts(c->out, c->part, a);
	else
		user_limits(c->out, c->part, c->now, a);
}

/* Each family's samples together, as the format wants. */
static void
write_users(struct accounts *acc, int64_t now, FILE *out)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "mtproxyd_connections_active", "gauge",
		    "Sessions alive now, by user." },
		{ "mtproxyd_connections_total", "counter",
		    "Sessions that passed the handshake and the limits, by user." },
		{ "mtproxyd_bytes_total", "counter",
		    "Bytes relayed, by user; up: client to Telegram, down: back." },
		{ "mtproxyd_limit_rejects_total", "counter",
		    "New connections refused by a user's limit, by user and "
		    "limit." },
		{ "mtproxyd_quota_remaining_bytes", "gauge",
		    "Bytes left of the quota this period, users with a quota." },
		{ "mtproxyd_unique_ips", "gauge",
		    "Distinct client addresses over the window, estimated "
		    "(HyperLogLog, about 6.5%)." },
	};
	struct users_ctx c = { out, now, 0 };

	for (c.part = 0; c.part < (int)(sizeof(fam) / sizeof(fam[0]));
	    c.part++) {
		family(out, fam[c.part].name, fam[c.part].type,
		    fam[c.part].help);
		if (acc != NULL)
			accounts_each(acc, user_part, &c);
	}
}

/* A counter family with one sample per reject reason, v[reason]. */
static void
by_reason(FILE *out, const char *name, const char *help,
    const atomic_ullong *v)
{
	int i;

	family(out, name, "counter", help);
	for (i = 0; i < STATS_REJECT_COUNT; i++)
		sample1(out, name, "reason",
		    stats_reject_name((enum stats_reject)i),
		    atomic_load(&v[i]));
}

#define HS_TIME		"mtproxyd_handshake_duration_seconds"
#define DC_TIME		"mtproxyd_dc_connect_duration_seconds"

static int
write_times(const struct config *cfg, const struct stats *st, FILE *out)
{
	struct histo_label dc = { "dc", NULL };
	char id[16];
	size_t i;
	int rc;

	family(out, HS_TIME, "histogram", "From accept to the handshake's "
	    "outcome, passed or failed, for every client given a thread.");
	rc = histo_write(&st->handshake_time, HS_TIME, NULL, 0, out);
	/* Middle mode: links are connected ahead; a session connects to none. */
	if (cfg->mode == CONFIG_MODE_MIDDLE)
		return rc;
	family(out, DC_TIME, "histogram", "Direct mode: a session's TCP "
	    "connect to its DC, every address tried, whatever the outcome; "
	    "a connection taken from dc_pool is not timed.");
	for (i = 0; i < cfg->ndcs && rc == 0; i++) {
		snprintf(id, sizeof(id), "%d", cfg->dcs[i].id);
		dc.value = id;
		rc = histo_write(&st->dc_connect[i], DC_TIME, &dc, 1, out);
	}
	return rc;
}

/* Direct mode through [upstream] socks5: the sessions' and dc_pool's. */
static void
write_upstream(const struct stats *st, FILE *out)
{
	int i;

	family(out, "mtproxyd_upstream_connects_total", "counter", "DC "
	    "connections made through the SOCKS5 server.");
	fprintf(out, "mtproxyd_upstream_connects_total %llu\n",
	    atomic_load(&st->upstream.connects));
	family(out, "mtproxyd_upstream_failures_total", "counter", "DC "
	    "connections through the SOCKS5 server that failed, by reason.");
	for (i = 0; i < STATS_UPSTREAM_COUNT; i++)
		sample1(out, "mtproxyd_upstream_failures_total", "reason",
		    stats_upstream_name((enum stats_upstream_fail)i),
		    atomic_load(&st->upstream.failures[i]));
}

/* [store] backend = redis: whether the fleet's state is reachable. */
static void
write_store(const struct stats *st, FILE *out)
{
	int i;

	family(out, "mtproxyd_store_up", "gauge", "Whether the last round with "
	    "the shared store went through (1) or not (0).");
	fprintf(out, "mtproxyd_store_up %llu\n", gauge(&st->store.up));
	family(out, "mtproxyd_store_errors_total", "counter", "Rounds with "
	    "the shared store that failed, by kind.");
	for (i = 0; i < STATS_STORE_COUNT; i++)
		sample1(out, "mtproxyd_store_errors_total", "kind",
		    stats_store_name((enum stats_store_err)i),
		    atomic_load(&st->store.errors[i]));
}

static void
write_runtime(const struct config *cfg, const struct stats *st, FILE *out)
{
	int i;

	by_reason(out, "mtproxyd_mask_relays_total", "Clients relayed to the "
	    "cover site, by the reject that sent them there.", st->mask_relays);
	family(out, "mtproxyd_pool_threads", "gauge", "Session threads: "
	    "busy running a session's direction, idle waiting for one.");
	sample1(out, "mtproxyd_pool_threads", "state", "busy",
	    gauge(&st->pool.busy));
	sample1(out, "mtproxyd_pool_threads", "state", "idle",
	    gauge(&st->pool.idle));
	if (cfg->upstream.has_socks5)
		write_upstream(st, out);
	if (cfg->store == CONFIG_STORE_REDIS)
		write_store(st, out);
	if (cfg->mode != CONFIG_MODE_MIDDLE)
		return;
	family(out, "mtproxyd_middle_links", "gauge", "Middle-proxy links "
	    "by state: connecting (connect and handshake), ready, waiting "
	    "(down, before the next try).");
	for (i = 0; i < STATS_LINK_COUNT; i++)
		sample1(out, "mtproxyd_middle_links", "state",
		    stats_link_name((enum stats_link)i),
		    gauge(&st->mux.links[i]));
}

static void
middle_sample(void *ctx, const char *name, unsigned long long v)
{
	FILE *out = ctx;

	fprintf(out, "# TYPE mtproxyd_%s_total counter\n"
	    "mtproxyd_%s_total %llu\n", name, name, v);
}

int
metrics_write(const struct metrics_view *v, FILE *out)
{
	const struct config *cfg = v->cfg;
	const struct stats *st = v->st;

	family(out, "mtproxyd_build_info", "gauge", "The running version.");
	sample1(out, "mtproxyd_build_info", "version", PACKAGE_VERSION, 1);
	family(out, "mtproxyd_sessions_active", "gauge",
	    "Sessions alive now, handshakes included.");
	fprintf(out, "mtproxyd_sessions_active %lld\n",
	    (long long)atomic_load(v->active));
	family(out, "mtproxyd_accepted_total", "counter",
	    "Client connections accepted.");
	fprintf(out, "mtproxyd_accepted_total %llu\n",
	    atomic_load(&st->accepted));
	write_users(v->acc, wallclock_now(v->clock), out);
	by_reason(out, "mtproxyd_handshake_rejects_total", "Clients refused "
	    "or closed before reaching a DC, by reason.", st->rejected);
	family(out, "mtproxyd_replay_hits_total", "counter",
	    "Hellos or headers seen before.");
	fprintf(out, "mtproxyd_replay_hits_total %llu\n",
	    atomic_load(&st->rejected[STATS_REJECT_REPLAY]));
	family(out, "mtproxyd_replay_store_errors_total", "counter",
	    "Replay checks the shared store ([store] redis) did not answer "
	    "in time: checked by this instance alone.");
	fprintf(out, "mtproxyd_replay_store_errors_total %llu\n",
	    atomic_load(&st->replay_store_errors));
	family(out, "mtproxyd_config_reloads_total", "counter",
	    "SIGHUP reloads, by result.");
	sample1(out, "mtproxyd_config_reloads_total", "result", "ok",
	    atomic_load(&st->reloads[0]));
	sample1(out, "mtproxyd_config_reloads_total", "result", "failed",
	    atomic_load(&st->reloads[1]));
	write_runtime(cfg, st, out);
	if (cfg->mode == CONFIG_MODE_MIDDLE)
		stats_middle_each(st, middle_sample, out);
	if (write_times(cfg, st, out) != 0)
		return METRICS_ERR;
	return ferror(out) ? METRICS_ERR : 0;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	char *body = strdup(text);

	if (body == NULL)
		return MHD_NO;
	return reply(conn, status, body, strlen(text));
}

static enum MHD_Result
reply_metrics(const struct metrics *m, struct MHD_Connection *conn)
{
	char *body = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	if ((out = open_memstream(&body, &len)) == NULL)
		return MHD_NO;
	rc = metrics_write(&m->v, out);
	if (fclose(out) != 0 || rc != 0) {
		free(body);
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	}
	return reply(conn, MHD_HTTP_OK, body, len);
}

static int
allowed(struct metrics *m, const struct sockaddr *sa)
{
	int ok;

	pthread_mutex_lock(&m->mu);
	ok = config_cidr_match(m->allow, m->nallow, sa);
	pthread_mutex_unlock(&m->mu);
	return ok;
}

void
metrics_set_allow(struct metrics *m, const struct config *cfg)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->nallow = cfg->nallow;
	memcpy(m->allow, cfg->allow, sizeof(m->allow));
	pthread_mutex_unlock(&m->mu);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct metrics *m = cls;
	const union MHD_ConnectionInfo *ci;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || !allowed(m, ci->client_addr))
		return reply_text(conn, MHD_HTTP_FORBIDDEN, "forbidden\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "GET only\n");
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(m, conn);
	if (strcmp(url, "/healthz") == 0)
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

int
metrics_start(const struct metrics_view *v, struct metrics **out)
{
	const struct config *cfg = v->cfg;
	const struct sockaddr *sa;
	struct metrics *m;
	char where[64];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;

	*out = NULL;
	if (!cfg->has_metrics)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_error("out of memory");
		return METRICS_ERR;
	}
	m->v = *v;
	pthread_mutex_init(&m->mu, NULL);
	metrics_set_allow(m, cfg);
	sa = (const struct sockaddr *)&cfg->metrics_listen.ss;
	net_addr_str(sa, where, sizeof(where));
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->httpd = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
	    MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
	    MHD_OPTION_END);
	if (m->httpd == NULL) {
		log_error("metrics: cannot serve on %s", where);
		pthread_mutex_destroy(&m->mu);
		free(m);
		return METRICS_ERR;
	}
	log_info("metrics: serving on http://%s/metrics", where);
	*out = m;
	return 0;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->httpd);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
