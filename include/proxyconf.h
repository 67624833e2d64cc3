/*
 * proxy-multi.conf (doc/PROTOCOL.md 4.1, 5): which middle-ends serve which DC.
 * Pure: text in, an allocated struct out. Targets must be IP literals
 * (a.b.c.d:port or [v6]:port); nothing here resolves names.
 */
#ifndef MTPROXYD_PROXYCONF_H
#define MTPROXYD_PROXYCONF_H

#include <stddef.h>
#include <stdint.h>

#define PROXYCONF_ERR_ARG	(-1)
#define PROXYCONF_ERR_SYNTAX	(-2)	/* line and message in the error */
#define PROXYCONF_ERR_NOMEM	(-3)
#define PROXYCONF_ERR_NOT_FOUND	(-4)	/* no cluster and no default */

#define PROXYCONF_ERR_MSG	128

struct proxyconf_error {
	int line;			/* 1-based */
	char msg[PROXYCONF_ERR_MSG];	/* one line, no line number */
};

struct proxyconf_target {
	int v6;			/* 0: IPv4 in ip[0..3]; 1: IPv6 */
	uint8_t ip[16];		/* network byte order */
	uint16_t port;
};

/* The targets of one cluster are contiguous: targets[first..first+n). */
struct proxyconf_cluster {
	int16_t id;
	size_t first;
	size_t ntargets;
};

struct proxyconf {
	struct proxyconf_cluster *clusters;	/* in file order */
	size_t nclusters;
	struct proxyconf_target *targets;
	size_t ntargets;
	int has_default;
	int16_t default_id;
	int timeout_ms;		/* 0 when the file has no timeout */
	int min_connections;
	int max_connections;
};

/* text need not be NUL-terminated; err may be NULL. */
int proxyconf_parse(const char *text, size_t len, struct proxyconf **out,
    struct proxyconf_error *err);
void proxyconf_free(struct proxyconf *pc);
/* The cluster for a DC id: exact match, else the default cluster. */
int proxyconf_lookup(const struct proxyconf *pc, int16_t dc,
    const struct proxyconf_cluster **out);

#endif
