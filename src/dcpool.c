/*
 * Warm DC connections. One keeper thread connects (direct_connect, outside
 * the lock, one at a time), drops connections past dc_pool_max_age (DCs
 * close idle connections; a fresh one is never turned away) and those the
 * DC closed, and sleeps until an age runs out, a take, a check or a retry
 * is due. A take checks its connection again, so a close that came since
 * the last check does not reach a client.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcpool.h"
#include "deadline.h"
#include "direct.h"
#include "log.h"
#include "net.h"
#include "ticker.h"

#define DCPOOL_MAX		CONFIG_DC_POOL_MAX
#define DCPOOL_RETRY_MS		1000	/* after a failed connect */
#define DCPOOL_CHECK_MS		1000	/* look for connections the DC closed */
#define DCPOOL_STACK		(128 * 1024)

struct pooled {
	int fd;
	int64_t born;			/* net_now_ms() when connected */
	char addr[64];
};

struct dcslot {
	int wanted;			/* a client has asked for this DC */
	int failing;			/* the last connect failed (logged) */
	int64_t retry_at;
	int n;
	struct pooled c[DCPOOL_MAX];	/* oldest first */
};

struct dcpool {
	const struct config *cfg;
	struct direct_via via;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* a take, or stopping */
	int stopping;
	int64_t check_at;
	pthread_t thread;
	struct dcslot s[CONFIG_MAX_DCS];
};

/* The DC sends nothing before our header: anything readable is its close. */
static int
dc_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) != 0;
}

/* Closes the connection unless it was handed out (fd -1). */
static void
slot_drop(struct dcslot *s, int i)
{
	if (s->c[i].fd >= 0)
		close(s->c[i].fd);
	memmove(&s->c[i], &s->c[i + 1], (size_t)(s->n - i - 1) * sizeof(s->c[0]));
	s->n--;
}

/* Drop what is too old or closed; *next: when the oldest left ages out. */
static void
prune(struct dcpool *p, int64_t now, int64_t *next)
{
	int64_t max_age = (int64_t)p->cfg->dc_pool_max_age * 1000;
	int check = now >= p->check_at, i;
	size_t d;

	if (check)
		p->check_at = now + DCPOOL_CHECK_MS;
	if (p->check_at < *next)
		*next = p->check_at;
	for (d = 0; d < p->cfg->ndcs; d++) {
		struct dcslot *s = &p->s[d];

		for (i = 0; i < s->n;) {
			if (now - s->c[i].born >= max_age ||
			    (check && dc_closed(s->c[i].fd)))
				slot_drop(s, i);
			else
				i++;
		}
		if (s->n > 0 && s->c[0].born + max_age < *next)
			*next = s->c[0].born + max_age;
	}
}

/* A DC that a client wanted, short of connections, not waiting to retry. */
static int
due_slot(struct dcpool *p, int64_t now, int64_t *next, size_t *out)
{
	size_t d;

	for (d = 0; d < p->cfg->ndcs; d++) {
		struct dcslot *s = &p->s[d];

		if (!s->wanted || s->n >= p->cfg->dc_pool)
			continue;
		if (now >= s->retry_at) {
			*out = d;
			return 1;
		}
		if (s->retry_at < *next)
			*next = s->retry_at;
	}
	return 0;
}

/* Called and returns with p->mu held. */
static void
refill(struct dcpool *p, size_t d)
{
	const struct config_dc *dc = &p->cfg->dcs[d];
	struct dcslot *s = &p->s[d];
	struct pooled c;
	int rc;

	c.addr[0] = '\0';
	pthread_mutex_unlock(&p->mu);
	rc = direct_connect(p->cfg, &p->via, dc, &c.fd, c.addr,
	    sizeof(c.addr));
	if (rc != 0 && !s->failing)
		log_warn("dc_pool: DC %d unreachable (last tried %s: %s); "
		    "retrying every %d ms", dc->id, c.addr, strerror(errno),
		    DCPOOL_RETRY_MS);
	pthread_mutex_lock(&p->mu);
	c.born = net_now_ms();
	s->failing = rc != 0;
	if (rc != 0)
		s->retry_at = c.born + DCPOOL_RETRY_MS;
	else if (p->stopping || s->n >= p->cfg->dc_pool)
		close(c.fd);
	else
		s->c[s->n++] = c;
}

static void
wait_until(struct dcpool *p, int64_t when)
{
	struct timespec ts;
	int64_t ms;

	if ((ms = when - net_now_ms()) <= 0)
		return;
	deadline_after(ms, &ts);
	pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

static void *
keeper(void *arg)
{
	struct dcpool *p = arg;
	int64_t now, next;
	size_t d;

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		now = net_now_ms();
		next = now + DCPOOL_CHECK_MS;
		prune(p, now, &next);
		if (due_slot(p, now, &next, &d))
			refill(p, d);
		else
			wait_until(p, next);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int
dcpool_start(const struct config *cfg, struct stats_upstream *st,
    struct dcpool **out)
{
	struct dcpool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return DCPOOL_ERR;
	p->cfg = cfg;
	p->via = (struct direct_via){ &cfg->upstream, st };
	if (deadline_cond_init(&p->cv) != 0) {
		free(p);
		return DCPOOL_ERR;
	}
	pthread_mutex_init(&p->mu, NULL);
	if (ticker_spawn(&p->thread, DCPOOL_STACK, keeper, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return DCPOOL_ERR;
	}
	*out = p;
	return 0;
}

int
dcpool_take(struct dcpool *p, const struct config_dc *dc, int *fd,
    char *addr, size_t addrlen)
{
	struct dcslot *s = &p->s[dc - p->cfg->dcs];
	int rc = DCPOOL_EMPTY;

	pthread_mutex_lock(&p->mu);
	s->wanted = 1;
	/* The oldest, so that in a busy pool none reaches its age unused. */
	while (rc != 0 && s->n > 0) {
		if (!dc_closed(s->c[0].fd)) {
			*fd = s->c[0].fd;
			snprintf(addr, addrlen, "%s", s->c[0].addr);
			s->c[0].fd = -1;
			rc = 0;
		}
		slot_drop(s, 0);
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
dcpool_stop(struct dcpool *p)
{
	size_t d;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	for (d = 0; d < p->cfg->ndcs; d++)
		while (p->s[d].n > 0)
			slot_drop(&p->s[d], p->s[d].n - 1);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
