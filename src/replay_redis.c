/*
 * The shared replay set: hiredis, blocking, one command per check. A slot
 * is a connection and its lock; a check takes any free slot, or waits for
 * one no longer than the timeout. Whether Redis is up is one flag: down,
 * checks skip Redis until the next probe time, and one check at a time
 * probes (a compare-and-swap on that time), so an outage costs a handshake
 * nothing but the local check.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>

#include "crypto.h"
#include "log.h"
#include "net.h"
#include "replay_redis.h"

#define SLOTS		8
#define RETRY_MS	1000	/* between probes while Redis is down */
#define HOST_MAX	PATH_MAX
#define NAME_MAX_LEN	128	/* prefix + replay: + 32 hex digits */
#define PREFIX_MAX	(NAME_MAX_LEN - 48)

struct slot {
	pthread_mutex_t lock;
	redisContext *c;	/* NULL: not connected */
};

struct replay_redis {
	char host[HOST_MAX];	/* or the socket path, port 0 */
	int port;
	char *password;
	char prefix[PREFIX_MAX];
	struct timeval tv;
	int timeout_ms;
	uint32_t window;
	atomic_ullong *errors;
	atomic_int up;
	atomic_llong retry_at;	/* net_now_ms; while down */
	atomic_uint next;	/* the slot a check tries first */
	struct slot slot[SLOTS];
};

/* HOST:PORT, [IPv6]:PORT or an absolute socket path. */
static int
parse_addr(struct replay_redis *r, const char *addr)
{
	const char *colon = strrchr(addr, ':');
	size_t n;
	char *end;
	long port;

	if (addr[0] == '/') {
		if (strlen(addr) >= sizeof(r->host))
			return REPLAY_REDIS_ERR_ARG;
		snprintf(r->host, sizeof(r->host), "%s", addr);
		return 0;
	}
	if (colon == NULL || colon == addr)
		return REPLAY_REDIS_ERR_ARG;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return REPLAY_REDIS_ERR_ARG;
	n = (size_t)(colon - addr);
	if (addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(r->host))
		return REPLAY_REDIS_ERR_ARG;
	memcpy(r->host, addr, n);
	r->host[n] = '\0';
	r->port = (int)port;
	return 0;
}

int
replay_redis_new(struct replay_redis **out,
    const struct replay_redis_conf *conf)
{
	struct replay_redis *r;
	size_t i;

	if (out == NULL || conf == NULL || conf->addr == NULL ||
	    conf->prefix == NULL || strlen(conf->prefix) >= PREFIX_MAX ||
	    conf->timeout_ms <= 0 || conf->window == 0 || conf->errors == NULL)
		return REPLAY_REDIS_ERR_ARG;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return REPLAY_REDIS_ERR_NOMEM;
	if (parse_addr(r, conf->addr) != 0) {
		free(r);
		return REPLAY_REDIS_ERR_ARG;
	}
	if (conf->password != NULL && conf->password[0] != '\0' &&
	    (r->password = strdup(conf->password)) == NULL) {
		free(r);
		return REPLAY_REDIS_ERR_NOMEM;
	}
	snprintf(r->prefix, sizeof(r->prefix), "%s", conf->prefix);
	r->timeout_ms = conf->timeout_ms;
	r->tv.tv_sec = conf->timeout_ms / 1000;
	r->tv.tv_usec = (conf->timeout_ms % 1000) * 1000;
	r->window = conf->window;
	r->errors = conf->errors;
	atomic_init(&r->up, 1);
	atomic_init(&r->retry_at, 0);
	atomic_init(&r->next, 0);
	for (i = 0; i < SLOTS; i++)
		pthread_mutex_init(&r->slot[i].lock, NULL);
	*out = r;
	return 0;
}

/* Any free slot, or the first one tried within the timeout; locked. */
static struct slot *
slot_take(struct replay_redis *r)
{
	unsigned start = atomic_fetch_add(&r->next, 1) % SLOTS, i;
	struct timespec until;
	struct slot *s;

	for (i = 0; i < SLOTS; i++) {
		s = &r->slot[(start + i) % SLOTS];
		if (pthread_mutex_trylock(&s->lock) == 0)
			return s;
	}
	s = &r->slot[start];
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)r->timeout_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	return pthread_mutex_timedlock(&s->lock, &until) == 0 ? s : NULL;
}

#define WHY_MAX		128

/* A reply of the expected type, or the reason there is none in why. */
static int
command_ok(redisContext *c, redisReply *rep, char *why)
{
	if (rep == NULL) {
		snprintf(why, WHY_MAX, "%s", c->errstr[0] != '\0' ? c->errstr :
		    "no reply");
		return 0;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, WHY_MAX, "an error reply");
		return 0;
	}
	return 1;
}

static int
slot_connect(struct replay_redis *r, struct slot *s, char *why)
{
	redisReply *rep = NULL;
	int ok;

	s->c = r->port == 0 ? redisConnectUnixWithTimeout(r->host, r->tv) :
	    redisConnectWithTimeout(r->host, r->port, r->tv);
	if (s->c == NULL) {
		snprintf(why, WHY_MAX, "out of memory");
		return REPLAY_REDIS_DOWN;
	}
	ok = s->c->err == 0 && redisSetTimeout(s->c, r->tv) == REDIS_OK;
	if (!ok)
		command_ok(s->c, NULL, why);
	if (ok && r->password != NULL) {
		rep = redisCommand(s->c, "AUTH %s", r->password);
		/* Never the reply's text: it could quote the password. */
		ok = command_ok(s->c, rep, why);
		if (rep != NULL && !ok)
			snprintf(why, WHY_MAX, "AUTH refused");
		freeReplyObject(rep);
	}
	if (ok)
		return 0;
	redisFree(s->c);
	s->c = NULL;
	return REPLAY_REDIS_DOWN;
}

/* Redis closed the connection (a restart), as opposed to a timeout. */
static int
dropped(const redisContext *c)
{
	return c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO &&
	    (errno == EPIPE || errno == ECONNRESET));
}

/*
 * One SET NX EX on the slot, connecting first if it has no connection.
 * *closed: the failure was a connection Redis had closed.
 */
static int
slot_set(struct replay_redis *r, struct slot *s, const char *name,
    char *why, int *closed)
{
	redisReply *rep;
	int rc;

	*closed = 0;
	if (s->c == NULL && (rc = slot_connect(r, s, why)) != 0)
		return rc;
	rep = redisCommand(s->c, "SET %s 1 NX EX %u", name,
	    (unsigned)r->window);
	if (!command_ok(s->c, rep, why))
		rc = REPLAY_REDIS_DOWN;
	else if (rep->type == REDIS_REPLY_NIL)
		rc = REPLAY_REDIS_SEEN;
	else
		rc = 0;
	freeReplyObject(rep);
	if (rc == REPLAY_REDIS_DOWN) {
		*closed = dropped(s->c);
		redisFree(s->c);
		s->c = NULL;
	}
	return rc;
}

/* Down: 1 if this check may probe (the next probe time has come). */
static int
may_try(struct replay_redis *r)
{
	long long at, now;

	if (atomic_load(&r->up))
		return 1;
	at = atomic_load(&r->retry_at);
	now = (long long)net_now_ms();
	return now >= at &&
	    atomic_compare_exchange_strong(&r->retry_at, &at, now + RETRY_MS);
}

static void
mark(struct replay_redis *r, int up, const char *why)
{
	if (!up)
		atomic_store(&r->retry_at, (long long)net_now_ms() + RETRY_MS);
	if (atomic_exchange(&r->up, up) == up)
		return;
	if (up)
		log_info("replay store: Redis at %s answers again: replays are "
		    "checked across instances", r->host);
	else
		log_warn("replay store: Redis at %s: %s; replays are checked "
		    "by this instance alone", r->host, why);
}

static int
key_name(const struct replay_redis *r, const uint8_t *key, char *name,
    size_t len)
{
	uint8_t d[32];
	size_t i, pos;

	if (crypto_sha256(key, REPLAY_REDIS_KEY_LEN, NULL, 0, d) != 0)
		return REPLAY_REDIS_ERR_NOMEM;
	pos = (size_t)snprintf(name, len, "%sreplay:", r->prefix);
	for (i = 0; i < 16; i++)
		pos += (size_t)snprintf(name + pos, len - pos, "%02x", d[i]);
	return 0;
}

int
replay_redis_check_and_add(struct replay_redis *r,
    const uint8_t key[REPLAY_REDIS_KEY_LEN])
{
	char name[NAME_MAX_LEN], why[WHY_MAX];
	struct slot *s;
	int rc, reused, closed;

	if (r == NULL || key == NULL)
		return REPLAY_REDIS_ERR_ARG;
	if ((rc = key_name(r, key, name, sizeof(name))) != 0)
		return rc;
	rc = REPLAY_REDIS_DOWN;
	if (may_try(r) && (s = slot_take(r)) != NULL) {
		reused = s->c != NULL;
		rc = slot_set(r, s, name, why, &closed);
		/* A connection Redis dropped (a restart) gets one more go. */
		if (rc == REPLAY_REDIS_DOWN && reused && closed)
			rc = slot_set(r, s, name, why, &closed);
		if (rc != REPLAY_REDIS_DOWN)
			mark(r, 1, NULL);
		else
			mark(r, 0, why);
		pthread_mutex_unlock(&s->lock);
	}
	if (rc == REPLAY_REDIS_DOWN)
		atomic_fetch_add(r->errors, 1);
	return rc;
}

void
replay_redis_free(struct replay_redis *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < SLOTS; i++) {
		if (r->slot[i].c != NULL)
			redisFree(r->slot[i].c);
		pthread_mutex_destroy(&r->slot[i].lock);
	}
	free(r->password);
	free(r);
}
