/*
 * The shared store through Redis (include/store_redis.h). Each round is
 * one pipeline: every command appended, then every answer read in order,
 * so a round costs one round trip whatever the number of users.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis.h>

#include "crypto.h"
#include "livecount.h"
#include "log.h"
#include "period.h"
#include "store_redis.h"
#include "ticker.h"

#define TIMEOUT_MS	1000	/* connect, and each answer */
#define LIVE_INTERVALS	3	/* a live count outlives its writer this long */
#define STACK		(256 * 1024)
#define ID_BYTES	8
/* A batch's marker outlives any retry of it: the retries are one interval
 * apart and stop at the first answer. */
#define MARKER_MS	(3600 * 1000)
/*
 * An INCRBY that counts a batch once however often it is sent: an answer
 * lost after Redis applied it (a timeout, a Redis that hung and resumed)
 * would otherwise count the batch again when it is sent again. KEYS[1]
 * the counter, KEYS[2] the batch's marker; ARGV delta, marker life (ms).
 */
#define ONCE_SCRIPT \
	"if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then " \
	"return redis.call('INCRBY', KEYS[1], ARGV[1]) end " \
	"return tonumber(redis.call('GET', KEYS[1]) or '0')"
/* A past period's counter is kept this long for the operator, then goes. */
#define QUOTA_KEEP_S	(35 * 86400)
#define KEY_MAX		(64 + 16 + CONFIG_NAME_MAX + 24)

struct store_redis {
	char addr[PATH_MAX];
	char password[256];
	char prefix[64];
	int interval;			/* seconds */
	char id[2 * ID_BYTES + 1];	/* this instance's field in live hashes */
	uint64_t seq;			/* the last batch's number */
	struct accounts *acc;
	struct stats_store *st;
	redisContext *ctx;		/* NULL: not connected */
	int up;				/* the state last logged; -1 at start */
	struct ticker *ticker;
};

/* What a round asked of one account, to match the answers. */
struct item {
	struct account *a;
	int quota;			/* the counter was sent a batch or read */
	int expire;			/* and an EXPIREAT after it */
	int64_t period_start;
};

struct items {
	struct item *v;
	size_t n, cap;
	int failed;
};

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
state(struct store_redis *r, int up, const char *why)
{
	atomic_store(&r->st->up, up);
	if (r->up == up)
		return;
	r->up = up;
	if (up)
		log_info("store: redis %s reachable; sharing users' state",
		    r->addr);
	else
		log_warn("store: redis %s unreachable (%s); serving with the "
		    "local view until it is back", r->addr, why);
}

/* The connection is unusable: dropped, counted, the outage logged once. */
static void
fail(struct store_redis *r, enum stats_store_err kind, const char *why)
{
	atomic_fetch_add(&r->st->errors[kind], 1);
	state(r, 0, why);
	if (r->ctx != NULL) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
}

/* HOST:PORT (IPv6 in brackets) or a socket path, within the timeout. */
static redisContext *
dial(const char *addr)
{
	const struct timeval tv = { TIMEOUT_MS / 1000,
	    (TIMEOUT_MS % 1000) * 1000 };
	char host[PATH_MAX];
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (strchr(addr, '/') != NULL || colon == NULL)
		return redisConnectUnixWithTimeout(addr, tv);
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	memcpy(host, addr, n);
	host[n] = '\0';
	return redisConnectWithTimeout(host, atoi(colon + 1), tv);
}

static int
connect_redis(struct store_redis *r)
{
	const struct timeval tv = { TIMEOUT_MS / 1000,
	    (TIMEOUT_MS % 1000) * 1000 };
	redisReply *rep;
	int ok, answered;

	r->ctx = dial(r->addr);
	if (r->ctx == NULL || r->ctx->err != 0 ||
	    redisSetTimeout(r->ctx, tv) != REDIS_OK) {
		fail(r, STATS_STORE_CONNECT, r->ctx != NULL ? r->ctx->errstr :
		    "out of memory");
		return STORE_REDIS_ERR;
	}
	/* PING without a password: a Redis that wants one says so now
	   rather than refusing every command of the round. */
	rep = r->password[0] != '\0' ? redisCommand(r->ctx, "AUTH %s",
	    r->password) : redisCommand(r->ctx, "PING");
	answered = rep != NULL;
	ok = answered && rep->type == REDIS_REPLY_STATUS;
	freeReplyObject(rep);
	if (!ok) {
		/* Redis's answer names no password; ours neither. */
		fail(r, answered ? STATS_STORE_AUTH : STATS_STORE_IO,
		    !answered ? "no answer" : r->password[0] != '\0' ?
		    "password refused" : "a password is needed");
		return STORE_REDIS_ERR;
	}
	return 0;
}

static void
collect(void *ctx, struct account *a)
{
	struct items *it = ctx;
	struct item *v;
	size_t cap;

	if (it->n == it->cap) {
		cap = it->cap ? it->cap * 2 : 64;
		if ((v = realloc(it->v, cap * sizeof(*v))) == NULL) {
			it->failed = 1;
			return;
		}
		it->v = v;
		it->cap = cap;
	}
	memset(&it->v[it->n], 0, sizeof(it->v[it->n]));
	it->v[it->n++].a = a;
}

static void
key(const struct store_redis *r, char *out, const char *kind,
    const struct account *a)
{
	snprintf(out, KEY_MAX, "%s%s:%s", r->prefix, kind, a->name);
}

/*
 * The account's batch: the one still unanswered, or what is pending now
 * under a new number. A period roll voids an old batch (the roll dropped
 * what was pending).
 */
static void
batch(struct store_redis *r, struct item *it)
{
	struct account *a = it->a;
	uint64_t pending;

	account_fleet_pending(a, &pending, &it->period_start);
	if (a->batch_seq != 0 && a->batch_period != it->period_start)
		a->batch_seq = 0;
	if (a->batch_seq == 0 && pending > 0) {
		a->batch_seq = ++r->seq;
		a->batch_delta = pending;
		a->batch_period = it->period_start;
	}
}

/* The commands of one account: its delta, its live counts, the reads. */
static void
append(struct store_redis *r, struct item *it, int64_t now_ms)
{
	char k[KEY_MAX], q[KEY_MAX + 24], m[KEY_MAX + 48], v[LIVECOUNT_MAX];
	struct livecount live;
	long long active, ips;
	int64_t end;

	batch(r, it);
	it->quota = atomic_load(&it->a->quota) != 0 || it->a->batch_seq != 0;
	if (it->quota) {
		key(r, k, "quota", it->a);
		snprintf(q, sizeof(q), "%s:%lld", k,
		    (long long)it->period_start);
		if (it->a->batch_seq != 0) {
			snprintf(m, sizeof(m), "%sbatch:%s:%llu", r->prefix,
			    r->id, (unsigned long long)it->a->batch_seq);
			redisAppendCommand(r->ctx, "EVAL %s 2 %s %s %llu %d",
			    ONCE_SCRIPT, q, m,
			    (unsigned long long)it->a->batch_delta, MARKER_MS);
		} else {
			redisAppendCommand(r->ctx, "INCRBY %s 0", q);
		}
		end = atomic_load(&it->a->period_end);
		it->expire = end > 0 && end != PERIOD_NEVER;
		if (it->expire)
			redisAppendCommand(r->ctx, "EXPIREAT %s %lld", q,
			    (long long)(end + QUOTA_KEEP_S));
	}
	account_fleet_live(it->a, &active, &ips);
	live = (struct livecount){ active, ips,
	    now_ms + (int64_t)LIVE_INTERVALS * r->interval * 1000 };
	/* A count is never below 0 but for a moment: then 0. */
	if (livecount_format(&live, v) != 0)
		snprintf(v, sizeof(v), "0 0 %lld", (long long)live.expires_ms);
	key(r, k, "live", it->a);
	redisAppendCommand(r->ctx, "HSET %s %s %s", k, r->id, v);
	redisAppendCommand(r->ctx, "PEXPIRE %s %lld", k,
	    (long long)LIVE_INTERVALS * r->interval * 1000);
	redisAppendCommand(r->ctx, "HGETALL %s", k);
	key(r, k, "user", it->a);
	redisAppendCommand(r->ctx, "HMGET %s enabled expires", k);
}

/* The next answer; NULL (the connection dropped) on a read error. */
static redisReply *
answer(struct store_redis *r)
{
	void *rep = NULL;

	if (redisGetReply(r->ctx, &rep) != REDIS_OK) {
		fail(r, STATS_STORE_IO, r->ctx->errstr);
		return NULL;
	}
	return rep;
}

/* An answer of the wrong kind is counted; the stream stays in step. */
static int
expect(struct store_redis *r, redisReply *rep, int type)
{
	if (rep->type == type)
		return 0;
	atomic_fetch_add(&r->st->errors[STATS_STORE_REPLY], 1);
	return STORE_REDIS_ERR;
}

/* The other instances' live sessions and addresses, fresh ones only; a
 * value not of the form is counted and left out. */
static void
sum_live(struct store_redis *r, const redisReply *rep, int64_t now_ms,
    long long *active, long long *ips)
{
	const redisReply *f, *v;
	struct livecount live;
	size_t i;

	*active = *ips = 0;
	for (i = 0; i + 1 < rep->elements; i += 2) {
		f = rep->element[i];
		v = rep->element[i + 1];
		if (f->type == REDIS_REPLY_STRING && strcmp(f->str, r->id) == 0)
			continue;
		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING ||
		    livecount_parse(v->str, v->len, &live) != 0) {
			atomic_fetch_add(&r->st->errors[STATS_STORE_REPLY], 1);
			continue;
		}
		if (live.expires_ms <= now_ms)
			continue;
		*active += live.active;
		*ips += live.ips;
	}
}

/* The enabled and expires overrides; -1 where not set or not valid. */
static void
overrides(struct store_redis *r, const redisReply *rep, int *enabled,
    long long *expires)
{
	const redisReply *e = rep->element[0], *x = rep->element[1];
	int64_t t;

	*enabled = -1;
	*expires = -1;
	if (e->type == REDIS_REPLY_STRING &&
	    livecount_enabled(e->str, e->len, enabled) != 0) {
		*enabled = -1;
		atomic_fetch_add(&r->st->errors[STATS_STORE_REPLY], 1);
	}
	if (x->type != REDIS_REPLY_STRING)
		return;
	if (livecount_expires(x->str, x->len, &t) == 0)
		*expires = t;
	else
		atomic_fetch_add(&r->st->errors[STATS_STORE_REPLY], 1);
}

/* The quota's answer: the delta is out of the account only now. */
static int
read_quota(struct store_redis *r, struct item *it)
{
	redisReply *rep;

	if (!it->quota)
		return 0;
	if ((rep = answer(r)) == NULL)
		return STORE_REDIS_ERR;
	if (expect(r, rep, REDIS_REPLY_INTEGER) == 0 && rep->integer >= 0) {
		account_fleet_flushed(it->a, it->a->batch_seq != 0 ?
		    it->a->batch_delta : 0, it->period_start,
		    (uint64_t)rep->integer);
		it->a->batch_seq = 0;
	}
	freeReplyObject(rep);
	if (!it->expire)
		return 0;
	if ((rep = answer(r)) == NULL)
		return STORE_REDIS_ERR;
	(void)expect(r, rep, REDIS_REPLY_INTEGER);
	freeReplyObject(rep);
	return 0;
}

/* The four answers about one account's live counts and overrides. */
static int
read_rest(struct store_redis *r, struct item *it, int64_t now_ms)
{
	redisReply *rep[4];
	long long active = 0, ips = 0, expires;
	int i, n, enabled, rc = 0;

	for (n = 0; n < 4; n++)
		if ((rep[n] = answer(r)) == NULL)
			break;
	if (n == 4 && expect(r, rep[2], REDIS_REPLY_ARRAY) == 0 &&
	    expect(r, rep[3], REDIS_REPLY_ARRAY) == 0 &&
	    rep[3]->elements == 2) {
		sum_live(r, rep[2], now_ms, &active, &ips);
		overrides(r, rep[3], &enabled, &expires);
		account_fleet_set(it->a, active, ips, enabled, expires);
	}
	if (n < 4)
		rc = STORE_REDIS_ERR;
	for (i = 0; i < n; i++)
		freeReplyObject(rep[i]);
	return rc;
}

static void
round_once(void *arg)
{
	struct store_redis *r = arg;
	struct items it = { NULL, 0, 0, 0 };
	int64_t now_ms = wall_ms();
	size_t i;

	if (r->ctx == NULL && connect_redis(r) != 0)
		return;
	accounts_each(r->acc, collect, &it);
	if (it.failed)
		log_warn("store: out of memory; some users not shared");
	for (i = 0; i < it.n; i++)
		append(r, &it.v[i], now_ms);
	for (i = 0; i < it.n && r->ctx != NULL; i++)
		if (read_quota(r, &it.v[i]) != 0 ||
		    read_rest(r, &it.v[i], now_ms) != 0)
			break;
	if (r->ctx != NULL)
		state(r, 1, NULL);
	free(it.v);
}

int
store_redis_start(const struct config *cfg, struct accounts *acc,
    struct stats_store *st, struct store_redis **out)
{
	uint8_t id[ID_BYTES];
	struct store_redis *r;
	int i;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    crypto_random(id, sizeof(id)) != 0) {
		free(r);
		log_error("store: out of memory");
		return STORE_REDIS_ERR;
	}
	snprintf(r->addr, sizeof(r->addr), "%s", cfg->redis.addr);
	memcpy(r->password, cfg->redis.password, sizeof(r->password));
	snprintf(r->prefix, sizeof(r->prefix), "%s", cfg->redis.prefix);
	r->interval = cfg->redis.interval;
	for (i = 0; i < ID_BYTES; i++)
		snprintf(r->id + 2 * i, 3, "%02x", id[i]);
	r->acc = acc;
	r->st = st;
	r->up = -1;
	if (ticker_start(&r->ticker, r->interval, STACK, round_once, r) != 0) {
		log_error("store: cannot start the redis thread");
		store_redis_stop(r);
		return STORE_REDIS_ERR;
	}
	*out = r;
	return 0;
}

void
store_redis_stop(struct store_redis *r)
{
	if (r == NULL)
		return;
	if (r->ticker != NULL) {
		ticker_stop(r->ticker);
		/* What the last sessions relayed, into the fleet's counter. */
		round_once(r);
	}
	if (r->ctx != NULL)
		redisFree(r->ctx);
	crypto_cleanse(r->password, sizeof(r->password));
	free(r);
}
