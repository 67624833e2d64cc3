/*
 * The server's counters, written out. Threads bump them with atomics; readers
 * see each counter exact but the set as a whole only roughly consistent,
 * which is all a report needs.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "stats.h"

#define STATS_LINE_MAX	160

static const char *const reject_names[STATS_REJECT_COUNT] = {
	[STATS_REJECT_MAX_CLIENTS] = "max_clients",
	[STATS_REJECT_POOL_FULL] = "pool_full",
	[STATS_REJECT_BAD_SECRET] = "bad_secret",
	[STATS_REJECT_MODE] = "mode_refused",
	[STATS_REJECT_TIMEOUT] = "handshake_timeout",
	[STATS_REJECT_DC_UNREACHABLE] = "dc_unreachable",
	[STATS_REJECT_NOT_TLS] = "not_tls",
	[STATS_REJECT_TLS_DIGEST] = "tls_digest",
	[STATS_REJECT_TLS_TIME] = "tls_time",
	[STATS_REJECT_TLS_SNI] = "tls_sni",
	[STATS_REJECT_TLS_INNER] = "tls_inner",
	[STATS_REJECT_REPLAY] = "replay",
	[STATS_REJECT_NO_FD] = "no_fd",
	[STATS_REJECT_NO_THREAD] = "no_thread",
	[STATS_REJECT_USER_LIMIT] = "user_limit",
	[STATS_REJECT_PROXY_HEADER] = "proxy_header",
	[STATS_REJECT_BLOCKED] = "blocked",
	[STATS_REJECT_TLS_NO_SNI] = "tls_no_sni",
	[STATS_REJECT_TLS_MALFORMED] = "tls_malformed",
	[STATS_REJECT_TLS_TOO_BIG] = "hello_too_big",
	[STATS_REJECT_TLS_GROUP] = "tls_group",
	[STATS_REJECT_PER_IP] = "per_ip",
	[STATS_REJECT_BACKOFF] = "backoff",
	[STATS_REJECT_EVICTED] = "evicted",
};

static const char *const link_names[STATS_LINK_COUNT] = {
	[STATS_LINK_CONNECTING] = "connecting",
	[STATS_LINK_READY] = "ready",
	[STATS_LINK_WAITING] = "waiting",
};

static const char *const upstream_names[STATS_UPSTREAM_COUNT] = {
	[STATS_UPSTREAM_CONNECT] = "connect",
	[STATS_UPSTREAM_TIMEOUT] = "timeout",
	[STATS_UPSTREAM_AUTH] = "auth",
	[STATS_UPSTREAM_REFUSED] = "refused",
	[STATS_UPSTREAM_PROTOCOL] = "protocol",
};

static const char *const store_names[STATS_STORE_COUNT] = {
	[STATS_STORE_CONNECT] = "connect",
	[STATS_STORE_AUTH] = "auth",
	[STATS_STORE_IO] = "io",
	[STATS_STORE_REPLY] = "reply",
};

/*
 * Seconds, from a loopback handshake (a millisecond) to a DC's connect
 * timeout and a handshake left to time out (handshake_timeout, up to half
 * again for jitter).
 */
static const uint64_t time_bounds_us[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000,
};

const char *
stats_store_name(enum stats_store_err e)
{
	if ((unsigned)e >= STATS_STORE_COUNT)
		return "unknown";
	return store_names[e];
}

int
stats_init(struct stats *st)
{
	const size_t n = sizeof(time_bounds_us) / sizeof(time_bounds_us[0]);
	size_t i;

	memset(st, 0, sizeof(*st));
	if (histo_init(&st->handshake_time, time_bounds_us, n) != 0)
		return STATS_ERR;
	for (i = 0; i < CONFIG_MAX_DCS; i++)
		if (histo_init(&st->dc_connect[i], time_bounds_us, n) != 0)
			return STATS_ERR;
	return 0;
}

const char *
stats_link_name(enum stats_link l)
{
	if ((unsigned)l >= STATS_LINK_COUNT)
		return "unknown";
	return link_names[l];
}

const char *
stats_upstream_name(enum stats_upstream_fail u)
{
	if ((unsigned)u >= STATS_UPSTREAM_COUNT)
		return "unknown";
	return upstream_names[u];
}

const char *
stats_reject_name(enum stats_reject r)
{
	if ((unsigned)r >= STATS_REJECT_COUNT)
		return "unknown";
	return reject_names[r];
}

typedef void (*stats_sink)(void *ctx, const char *line);

void
stats_middle_each(const struct stats *st, stats_each_fn fn, void *ctx)
{
	const struct {
		const char *name;
		const atomic_ullong *v;
	} c[] = {
		{ "middle_links_up", &st->mux.links_up },
		{ "middle_link_failures", &st->mux.link_failures },
		{ "middle_queries", &st->mux.forwarded_queries },
		{ "middle_filtered_queries", &st->mux.filtered_queries },
		{ "middle_answers", &st->mux.forwarded_answers },
		{ "middle_simple_acks", &st->mux.simple_acks },
		{ "middle_close_ext", &st->mux.close_ext },
		{ "middle_dropped_answers", &st->mux.dropped_answers },
		{ "middle_queue_overflows", &st->mux.queue_overflows },
		{ "middle_queue_evictions", &st->mux.queue_evictions },
		{ "middle_no_link", &st->mux.no_link },
		{ "middle_link_waits", &st->mux.link_waits },
		{ "middle_links_grown", &st->mux.links_grown },
		{ "middle_links_shrunk", &st->mux.links_shrunk },
		{ "middle_refreshes", &st->middle.refreshes },
		{ "middle_refresh_failures", &st->middle.refresh_failures },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		fn(ctx, c[i].name, atomic_load(c[i].v));
}

struct sink_ctx {
	stats_sink sink;
	void *ctx;
};

static void
middle_line(void *ctx, const char *name, unsigned long long v)
{
	struct sink_ctx *s = ctx;
	char line[STATS_LINE_MAX];

	snprintf(line, sizeof(line), "%s %llu", name, v);
	s->sink(s->ctx, line);
}

/* An account's counters, as "name{user="NAME"} value" lines. */
static void
user_lines(void *arg, struct account *a)
{
	const struct sink_ctx *s = arg;
	char line[STATS_LINE_MAX];
	int i;

	snprintf(line, sizeof(line), "user_connections{user=\"%s\"} %llu",
	    a->name, atomic_load(&a->connections));
	s->sink(s->ctx, line);
	snprintf(line, sizeof(line), "user_active{user=\"%s\"} %lld",
	    a->name, atomic_load(&a->active));
	s->sink(s->ctx, line);
	snprintf(line, sizeof(line), "user_bytes_in{user=\"%s\"} %llu",
	    a->name, atomic_load(&a->bytes[ACCOUNT_UP]));
	s->sink(s->ctx, line);
	snprintf(line, sizeof(line), "user_bytes_out{user=\"%s\"} %llu",
	    a->name, atomic_load(&a->bytes[ACCOUNT_DOWN]));
	s->sink(s->ctx, line);
	for (i = 0; i < ACCOUNT_LIMIT_COUNT; i++) {
		snprintf(line, sizeof(line), "user_limit_rejects{user=\"%s\","
		    "limit=\"%s\"} %llu", a->name,
		    account_limit_name((enum account_limit)i),
		    atomic_load(&a->rejects[i]));
		s->sink(s->ctx, line);
	}
	snprintf(line, sizeof(line), "user_quota_used{user=\"%s\"} %llu",
	    a->name, atomic_load(&a->used));
	s->sink(s->ctx, line);
}

/* Every counter as a "name value" line, in a fixed order. */
static void
stats_walk(const struct config *cfg, const struct stats *st,
    struct accounts *acc, long long active, stats_sink sink, void *ctx)
{
	char line[STATS_LINE_MAX];
	size_t i;

#define EMIT(...) do { snprintf(line, sizeof(line), __VA_ARGS__); \
	sink(ctx, line); } while (0)
	EMIT("accepted %llu", atomic_load(&st->accepted));
	EMIT("active %lld", active);
	EMIT("handshakes %llu", atomic_load(&st->handshakes));
	EMIT("unknown_dc %llu", atomic_load(&st->unknown_dc));
	EMIT("masked %llu", atomic_load(&st->masked));
	EMIT("mask_failed %llu", atomic_load(&st->mask_failed));
	EMIT("bytes_in %llu", atomic_load(&st->bytes_in));
	EMIT("bytes_out %llu", atomic_load(&st->bytes_out));
	EMIT("relay_buffers %lld", atomic_load(&st->relay_buffers));
	EMIT("relay_pipes %lld", atomic_load(&st->relay_pipes));
	if (cfg->mode == CONFIG_MODE_MIDDLE)
		stats_middle_each(st, middle_line,
		    &(struct sink_ctx){ sink, ctx });
	if (cfg->upstream.has_socks5) {
		EMIT("upstream_connects %llu",
		    atomic_load(&st->upstream.connects));
		for (i = 0; i < STATS_UPSTREAM_COUNT; i++)
			EMIT("upstream_failures{reason=\"%s\"} %llu",
			    upstream_names[i],
			    atomic_load(&st->upstream.failures[i]));
	}
	if (cfg->store == CONFIG_STORE_REDIS) {
		EMIT("store_up %lld", atomic_load(&st->store.up));
		for (i = 0; i < STATS_STORE_COUNT; i++)
			EMIT("store_errors{kind=\"%s\"} %llu", store_names[i],
			    atomic_load(&st->store.errors[i]));
		EMIT("replay_store_errors %llu",
		    atomic_load(&st->replay_store_errors));
	}
	for (i = 0; i < STATS_REJECT_COUNT; i++)
		EMIT("rejected{reason=\"%s\"} %llu", reject_names[i],
		    atomic_load(&st->rejected[i]));
	if (acc != NULL)
		accounts_each(acc, user_lines, &(struct sink_ctx){ sink, ctx });
#undef EMIT
}

static void
sink_file(void *ctx, const char *line)
{
	fprintf((FILE *)ctx, "%s\n", line);
}

static void
sink_log(void *ctx, const char *line)
{
	(void)ctx;
	log_info("stats: %s", line);
}

void
stats_write(const struct config *cfg, const struct stats *st,
    struct accounts *acc, long long active, FILE *out)
{
	stats_walk(cfg, st, acc, active, sink_file, out);
}

void
stats_log(const struct config *cfg, const struct stats *st,
    struct accounts *acc, long long active)
{
	stats_walk(cfg, st, acc, active, sink_log, NULL);
}
