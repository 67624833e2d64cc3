/*
 * The input as proxy-multi.conf. An error names a line inside the text and
 * one non-empty message line; an accepted config obeys every limit, its
 * clusters tile the target array in order with distinct ids, and each id
 * looks up to itself.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proxyconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_error(const char *text, size_t size, const struct proxyconf_error *err)
{
	size_t i;
	int lines = 1;

	for (i = 0; i < size; i++)
		lines += text[i] == '\n';
	check(err->line >= 1 && err->line <= lines);
	check(err->msg[0] != '\0' && strchr(err->msg, '\n') == NULL);
}

static void
check_config(const struct proxyconf *pc)
{
	const struct proxyconf_cluster *c, *found;
	size_t i, j, next = 0;

	check(pc->nclusters >= 1 && pc->nclusters <= PROXYCONF_MAX_CLUSTERS);
	check(pc->ntargets >= 1 && pc->ntargets <= PROXYCONF_MAX_TARGETS);
	check(pc->timeout_ms == 0 || (pc->timeout_ms >= PROXYCONF_TIMEOUT_MIN &&
	    pc->timeout_ms <= PROXYCONF_TIMEOUT_MAX));
	check(pc->min_connections >= 1 &&
	    pc->min_connections <= pc->max_connections &&
	    pc->max_connections <= PROXYCONF_MAX_CONNS);
	for (i = 0; i < pc->nclusters; i++) {
		c = &pc->clusters[i];
		check(c->first == next && c->ntargets >= 1);
		next += c->ntargets;
		for (j = 0; j < i; j++)
			check(pc->clusters[j].id != c->id);
		check(proxyconf_lookup(pc, c->id, &found) == 0 && found == c);
	}
	check(next == pc->ntargets);
	for (i = 0; i < pc->ntargets; i++)
		check(pc->targets[i].port != 0 &&
		    (pc->targets[i].v6 == 0 || pc->targets[i].v6 == 1));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyconf *pc = NULL;
	struct proxyconf_error err;
	const char *text = (const char *)data;
	int rc;

	rc = proxyconf_parse(text, size, &pc, &err);
	if (rc != 0) {
		check(rc == PROXYCONF_ERR_SYNTAX && pc == NULL);
		check_error(text, size, &err);
		return 0;
	}
	check_config(pc);
	proxyconf_free(pc);
	return 0;
}
