/*
 * proxy-multi.conf parser. The file comes from Telegram over the network,
 * so every statement is checked and the first fault is reported with its
 * line; the grammar is the one the official proxy accepts
 * (doc/PROTOCOL.md 4.1).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proxyconf.h"

#define KEYWORD_SHOW	32	/* longest unknown keyword quoted in errors */
#define ADDR_TEXT_MAX	46	/* INET6_ADDRSTRLEN */
#define GROW_FIRST	16

struct parser {
	const char *p, *end;
	int line;
	struct proxyconf *pc;
	struct proxyconf_error *err;
	size_t cap_clusters, cap_targets;
	/* Line of each one-off statement, 0 until seen. */
	int default_line, timeout_line, min_line, max_line;
};

static int fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err != NULL) {
		ps->err->line = ps->line;
		va_start(ap, fmt);
		vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
		va_end(ap);
	}
	return PROXYCONF_ERR_SYNTAX;
}

static int
fail_nomem(struct parser *ps)
{
	fail(ps, "out of memory");
	return PROXYCONF_ERR_NOMEM;
}

/* Describe the byte at the cursor for an error message. */
static const char *
here(const struct parser *ps, char *buf, size_t len)
{
	unsigned char c;

	if (ps->p == ps->end)
		return "end of file";
	c = (unsigned char)*ps->p;
	if (c >= ' ' && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else if (c == '\n')
		snprintf(buf, len, "end of line");
	else
		snprintf(buf, len, "byte 0x%02x", c);
	return buf;
}

static int
expected(struct parser *ps, const char *what)
{
	char buf[16];

	return fail(ps, "expected %s, found %s", what,
	    here(ps, buf, sizeof(buf)));
}

/* Skip blanks, newlines and comments; returns how many bytes it skipped. */
static size_t
skip_space(struct parser *ps)
{
	const char *start = ps->p;

	while (ps->p < ps->end) {
		if (*ps->p == '\n') {
			ps->line++;
		} else if (*ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		} else if (*ps->p != ' ' && *ps->p != '\t' && *ps->p != '\r') {
			break;
		}
		ps->p++;
	}
	return (size_t)(ps->p - start);
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_word(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

/* A decimal integer in [min, max]; what names it in errors. */
static int
parse_int(struct parser *ps, const char *what, long min, long max, long *out)
{
	long v = 0;
	int neg = 0;

	if (ps->p < ps->end && *ps->p == '-' && min < 0) {
		neg = 1;
		ps->p++;
	}
	if (ps->p == ps->end || !is_digit(*ps->p))
		return expected(ps, what);
	for (; ps->p < ps->end && is_digit(*ps->p); ps->p++) {
		/* Stop growing once out of range; the digits still count. */
		if (v <= max + 1L)
			v = v * 10 + (*ps->p - '0');
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		return fail(ps, "%s out of range %ld..%ld", what, min, max);
	*out = v;
	return 0;
}

/* A missing ';' is reported on the statement's line, not the next one. */
static int
expect_semicolon(struct parser *ps, const char *stmt)
{
	char buf[16];
	int line = ps->line;

	skip_space(ps);
	if (ps->p == ps->end || *ps->p != ';') {
		ps->line = line;
		return fail(ps, "expected ';' to end %s, found %s", stmt,
		    here(ps, buf, sizeof(buf)));
	}
	ps->p++;
	return 0;
}

/* Copy the address text up to stop into buf; stop is not consumed. */
static int
take_until(struct parser *ps, char stop, char *buf, size_t len)
{
	size_t n = 0;

	while (ps->p < ps->end && *ps->p != stop) {
		if (n + 1 >= len || (unsigned char)*ps->p <= ' ' ||
		    *ps->p == ';' || *ps->p == '#')
			return -1;
		buf[n++] = *ps->p++;
	}
	buf[n] = '\0';
	return ps->p < ps->end ? 0 : -1;
}

/* host:port with host an IPv4 literal or a bracketed IPv6 literal. */
static int
parse_target(struct parser *ps, struct proxyconf_target *t)
{
	char text[ADDR_TEXT_MAX];
	long port;

	memset(t, 0, sizeof(*t));
	if (ps->p < ps->end && *ps->p == '[') {
		ps->p++;
		if (take_until(ps, ']', text, sizeof(text)) != 0 ||
		    inet_pton(AF_INET6, text, t->ip) != 1)
			return fail(ps, "expected an IPv6 address in brackets");
		ps->p++;
		t->v6 = 1;
	} else if (take_until(ps, ':', text, sizeof(text)) != 0 ||
	    inet_pton(AF_INET, text, t->ip) != 1)
		return fail(ps, "expected an IPv4 address or [IPv6] address "
		    "followed by :port");
	if (ps->p == ps->end || *ps->p != ':')
		return expected(ps, "':' and a port");
	ps->p++;
	if (parse_int(ps, "port", 1, 65535, &port) != 0)
		return PROXYCONF_ERR_SYNTAX;
	t->port = (uint16_t)port;
	return 0;
}

/* Room for one more element, doubling up to limit; NULL: out of memory. */
static void *
grow(void *arr, size_t *cap, size_t used, size_t elem, size_t limit)
{
	size_t ncap;
	void *n;

	if (used < *cap)
		return arr;
	ncap = *cap == 0 ? GROW_FIRST : *cap * 2;
	if (ncap > limit)
		ncap = limit;
	if ((n = realloc(arr, ncap * elem)) == NULL)
		return NULL;
	*cap = ncap;
	return n;
}

static const struct proxyconf_cluster *
find_cluster(const struct proxyconf *pc, int16_t id)
{
	size_t i;

	for (i = 0; i < pc->nclusters; i++)
		if (pc->clusters[i].id == id)
			return &pc->clusters[i];
	return NULL;
}

/* Append to the last cluster, or open a new one for a new id. */
static int
add_target(struct parser *ps, int16_t id, const struct proxyconf_target *t)
{
	struct proxyconf *pc = ps->pc;
	struct proxyconf_cluster *last;
	void *n;

	last = pc->nclusters > 0 ? &pc->clusters[pc->nclusters - 1] : NULL;
	if (last == NULL || last->id != id) {
		if (find_cluster(pc, id) != NULL)
			return fail(ps, "lines for cluster %d are not "
			    "consecutive (intermixed with another cluster)",
			    id);
		if (pc->nclusters == PROXYCONF_MAX_CLUSTERS)
			return fail(ps, "too many clusters (max %d)",
			    PROXYCONF_MAX_CLUSTERS);
		if ((n = grow(pc->clusters, &ps->cap_clusters, pc->nclusters,
		    sizeof(*pc->clusters), PROXYCONF_MAX_CLUSTERS)) == NULL)
			return fail_nomem(ps);
		pc->clusters = n;
		last = &pc->clusters[pc->nclusters++];
		last->id = id;
		last->first = pc->ntargets;
		last->ntargets = 0;
	}
	if (pc->ntargets == PROXYCONF_MAX_TARGETS)
		return fail(ps, "too many targets (max %d)",
		    PROXYCONF_MAX_TARGETS);
	if ((n = grow(pc->targets, &ps->cap_targets, pc->ntargets,
	    sizeof(*pc->targets), PROXYCONF_MAX_TARGETS)) == NULL)
		return fail_nomem(ps);
	pc->targets = n;
	pc->targets[pc->ntargets++] = *t;
	last->ntargets++;
	return 0;
}

/* "proxy_for <id> <target>": exactly one blank between id and target. */
static int
stmt_proxy_for(struct parser *ps)
{
	struct proxyconf_target t;
	long id;
	int rc;

	if ((rc = parse_int(ps, "cluster id", INT16_MIN, INT16_MAX, &id)) != 0)
		return rc;
	if (ps->p == ps->end || (*ps->p != ' ' && *ps->p != '\t'))
		return expected(ps, "one space or tab after the cluster id");
	ps->p++;
	if ((rc = parse_target(ps, &t)) != 0 ||
	    (rc = expect_semicolon(ps, "proxy_for")) != 0)
		return rc;
	return add_target(ps, (int16_t)id, &t);
}

static int
stmt_proxy(struct parser *ps)
{
	struct proxyconf_target t;
	int rc;

	if ((rc = parse_target(ps, &t)) != 0 ||
	    (rc = expect_semicolon(ps, "proxy")) != 0)
		return rc;
	return add_target(ps, 0, &t);
}

/* A statement that may appear once: "<name> <int>;". */
static int
stmt_once(struct parser *ps, const char *name, int *seen, long min, long max,
    long *v)
{
	int rc;

	if (*seen != 0)
		return fail(ps, "%s given twice (first on line %d)", name,
		    *seen);
	*seen = ps->line;
	if ((rc = parse_int(ps, name, min, max, v)) != 0)
		return rc;
	return expect_semicolon(ps, name);
}

static int
stmt_default(struct parser *ps)
{
	long v;
	int rc;

	rc = stmt_once(ps, "default", &ps->default_line, INT16_MIN, INT16_MAX,
	    &v);
	if (rc == 0) {
		ps->pc->has_default = 1;
		ps->pc->default_id = (int16_t)v;
	}
	return rc;
}

static int
stmt_timeout(struct parser *ps)
{
	long v;
	int rc;

	rc = stmt_once(ps, "timeout", &ps->timeout_line,
	    PROXYCONF_TIMEOUT_MIN, PROXYCONF_TIMEOUT_MAX, &v);
	if (rc == 0)
		ps->pc->timeout_ms = (int)v;
	return rc;
}

static int
stmt_min_connections(struct parser *ps)
{
	long v;
	int rc;

	rc = stmt_once(ps, "min_connections", &ps->min_line, 1,
	    PROXYCONF_MAX_CONNS, &v);
	if (rc == 0)
		ps->pc->min_connections = (int)v;
	return rc;
}

static int
stmt_max_connections(struct parser *ps)
{
	long v;
	int rc;

	rc = stmt_once(ps, "max_connections", &ps->max_line, 1,
	    PROXYCONF_MAX_CONNS, &v);
	if (rc == 0)
		ps->pc->max_connections = (int)v;
	return rc;
}

static const struct {
	const char *name;
	int (*parse)(struct parser *);
} statements[] = {
	{ "proxy_for", stmt_proxy_for },
	{ "proxy", stmt_proxy },
	{ "default", stmt_default },
	{ "timeout", stmt_timeout },
	{ "min_connections", stmt_min_connections },
	{ "max_connections", stmt_max_connections },
};

/* One statement: keyword, at least one blank, then its own syntax. */
static int
statement(struct parser *ps)
{
	const char *word = ps->p;
	size_t i, n;

	while (ps->p < ps->end && is_word(*ps->p))
		ps->p++;
	if ((n = (size_t)(ps->p - word)) == 0)
		return expected(ps, "a statement");
	for (i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
		if (strlen(statements[i].name) != n ||
		    memcmp(statements[i].name, word, n) != 0)
			continue;
		if (skip_space(ps) == 0)
			return expected(ps, "a blank after the keyword");
		return statements[i].parse(ps);
	}
	return fail(ps, "unknown statement '%.*s'",
	    n > KEYWORD_SHOW ? KEYWORD_SHOW : (int)n, word);
}

static int
parse_all(struct parser *ps)
{
	int rc;

	for (skip_space(ps); ps->p < ps->end; skip_space(ps))
		if ((rc = statement(ps)) != 0)
			return rc;
	if (ps->pc->ntargets == 0)
		return fail(ps, "no proxy or proxy_for statement");
	if (ps->pc->min_connections > ps->pc->max_connections) {
		ps->line = ps->min_line > ps->max_line ? ps->min_line :
		    ps->max_line;
		return fail(ps, "min_connections %d exceeds max_connections %d",
		    ps->pc->min_connections, ps->pc->max_connections);
	}
	return 0;
}

int
proxyconf_parse(const char *text, size_t len, struct proxyconf **out,
    struct proxyconf_error *err)
{
	struct parser ps;
	int rc;

	if (out == NULL || (text == NULL && len > 0))
		return PROXYCONF_ERR_ARG;
	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.end = text + len;
	ps.line = 1;
	ps.err = err;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if ((ps.pc = calloc(1, sizeof(*ps.pc))) == NULL)
		return fail_nomem(&ps);
	ps.pc->min_connections = PROXYCONF_DEF_MIN_CONNS;
	ps.pc->max_connections = PROXYCONF_DEF_MAX_CONNS;
	if ((rc = parse_all(&ps)) != 0) {
		proxyconf_free(ps.pc);
		return rc;
	}
	*out = ps.pc;
	return 0;
}

void
proxyconf_free(struct proxyconf *pc)
{
	if (pc == NULL)
		return;
	free(pc->clusters);
	free(pc->targets);
	free(pc);
}

int
proxyconf_lookup(const struct proxyconf *pc, int16_t dc,
    const struct proxyconf_cluster **out)
{
	const struct proxyconf_cluster *c;

	if (pc == NULL || out == NULL)
		return PROXYCONF_ERR_ARG;
	if ((c = find_cluster(pc, dc)) == NULL && pc->has_default)
		c = find_cluster(pc, pc->default_id);
	if (c == NULL)
		return PROXYCONF_ERR_NOT_FOUND;
	*out = c;
	return 0;
}
