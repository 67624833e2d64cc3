/*
 * Process-wide counters. Threads bump them with atomics; readers
 * see each counter exact but the set as a whole only roughly consistent,
 * which is all a report needs.
 */
#include <stdio.h>

#include "log.h"
#include "middle.h"
#include "mux.h"
#include "stats.h"

#define STATS_LINE_MAX	160

struct stats stats;

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
};

const char *
stats_reject_name(enum stats_reject r)
{
	if ((unsigned)r >= STATS_REJECT_COUNT)
		return "unknown";
	return reject_names[r];
}

typedef void (*stats_sink)(void *ctx, const char *line);

/* Middle mode: the links and the middle-proxy list. */
static void
walk_middle(stats_sink sink, void *ctx)
{
	const struct {
		const char *name;
		atomic_ullong *v;
	} c[] = {
		{ "middle_links_up", &mux_stats.links_up },
		{ "middle_link_failures", &mux_stats.link_failures },
		{ "middle_queries", &mux_stats.forwarded_queries },
		{ "middle_filtered_queries", &mux_stats.filtered_queries },
		{ "middle_answers", &mux_stats.forwarded_answers },
		{ "middle_simple_acks", &mux_stats.simple_acks },
		{ "middle_close_ext", &mux_stats.close_ext },
		{ "middle_dropped_answers", &mux_stats.dropped_answers },
		{ "middle_queue_overflows", &mux_stats.queue_overflows },
		{ "middle_queue_evictions", &mux_stats.queue_evictions },
		{ "middle_no_link", &mux_stats.no_link },
		{ "middle_link_waits", &mux_stats.link_waits },
		{ "middle_links_grown", &mux_stats.links_grown },
		{ "middle_links_shrunk", &mux_stats.links_shrunk },
		{ "middle_refreshes", &middle_stats.refreshes },
		{ "middle_refresh_failures", &middle_stats.refresh_failures },
	};
	char line[STATS_LINE_MAX];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(line, sizeof(line), "%s %llu", c[i].name,
		    atomic_load(c[i].v));
		sink(ctx, line);
	}
}

/* Every counter as a "name value" line, in a fixed order. */
static void
stats_walk(const struct config *cfg, stats_sink sink, void *ctx)
{
	const struct users_counters *u;
	char line[STATS_LINE_MAX];
	size_t i;

#define EMIT(...) do { snprintf(line, sizeof(line), __VA_ARGS__); \
	sink(ctx, line); } while (0)
	EMIT("accepted %llu", atomic_load(&stats.accepted));
	EMIT("active %lld", atomic_load(&stats.active));
	EMIT("handshakes %llu", atomic_load(&stats.handshakes));
	EMIT("unknown_dc %llu", atomic_load(&stats.unknown_dc));
	EMIT("masked %llu", atomic_load(&stats.masked));
	EMIT("mask_failed %llu", atomic_load(&stats.mask_failed));
	EMIT("bytes_in %llu", atomic_load(&stats.bytes_in));
	EMIT("bytes_out %llu", atomic_load(&stats.bytes_out));
	EMIT("relay_buffers %lld", atomic_load(&stats.relay_buffers));
	EMIT("relay_pipes %lld", atomic_load(&stats.relay_pipes));
	if (cfg->mode == CONFIG_MODE_MIDDLE)
		walk_middle(sink, ctx);
	for (i = 0; i < STATS_REJECT_COUNT; i++)
		EMIT("rejected{reason=\"%s\"} %llu", reject_names[i],
		    atomic_load(&stats.rejected[i]));
	for (i = 0; i < cfg->nusers; i++) {
		u = &stats.users[i];
		EMIT("user_connections{user=\"%s\"} %llu", cfg->users[i].name,
		    atomic_load(&u->connections));
		EMIT("user_active{user=\"%s\"} %lld", cfg->users[i].name,
		    atomic_load(&u->active));
		EMIT("user_bytes_in{user=\"%s\"} %llu", cfg->users[i].name,
		    atomic_load(&u->bytes_in));
		EMIT("user_bytes_out{user=\"%s\"} %llu", cfg->users[i].name,
		    atomic_load(&u->bytes_out));
	}
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
stats_write(const struct config *cfg, FILE *out)
{
	stats_walk(cfg, sink_file, out);
}

void
stats_log(const struct config *cfg)
{
	stats_walk(cfg, sink_log, NULL);
}
