/*
 * The middle-proxy configuration as three items: the proxy secret and the
 * IPv4 and IPv6 proxy-multi.conf. Each comes from the operator's file or is
 * fetched; whatever was fetched and passed the checks is also kept in
 * state_dir, so that a restart while Telegram's server is unreachable
 * still has a configuration. A refresh round obtains every item anew: an
 * item that fails keeps its current bytes, and a new snapshot is built only
 * when some item's bytes changed. Rounds are serialized by their own mutex
 * so that the refresher and a SIGHUP never interleave; the snapshot pointer
 * has a second mutex that no I/O ever holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "errbuf.h"
#include "fetch.h"
#include "file.h"
#include "log.h"
#include "middle.h"
#include "proto.h"
#include "rpc.h"
#include "ticker.h"

/* Telegram's secret is 128 bytes and its config some 5 KiB: room to grow. */
#define SECRET_MAX_BYTES	4096
#define CONF_MAX_BYTES		(1024 * 1024)
/* Per fetch; also how long middle_free may wait for one in flight. */
#define FETCH_TIMEOUT_S		15
#define WHY_MAX			512
#define URL_MAX			sizeof(((struct config *)0)->proxy_config_url)

/*
 * libcurl runs OpenSSL's handshake and certificate checks on this stack: a
 * whole HTTPS fetch (TLS 1.2 and 1.3, RSA-4096 and P-384 certificates)
 * measured some 14 KiB. 256 KiB also covers a libcurl that resolves names
 * on the calling thread, as glibc's NSS modules want more. Sanitizers need
 * far more.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REFRESH_STACK		(1024 * 1024)
#else
#define REFRESH_STACK		(256 * 1024)
#endif

#define ITEM_UNWANTED		1	/* obtain: no source for the item */

enum item { ITEM_SECRET, ITEM_V4, ITEM_V6, NITEMS };

static const struct item_def {
	const char *what;	/* for log lines */
	const char *state;	/* the last good copy in state_dir */
	size_t max;
	mode_t mode;
} items[NITEMS] = {
	{ "proxy secret", "proxy-secret", SECRET_MAX_BYTES, 0600 },
	{ "proxy-multi.conf", "proxy-multi.conf", CONF_MAX_BYTES, 0644 },
	{ "IPv6 proxy-multi.conf", "proxy-multi-v6.conf", CONF_MAX_BYTES,
	    0644 },
};

struct blob {
	uint8_t *p;		/* NULL: none */
	size_t len;
};

struct middle {
	/* Copied from the configuration; read-only after middle_new. */
	char file[NITEMS][PATH_MAX];	/* non-empty: read it, never fetch */
	char url[NITEMS][URL_MAX];	/* both empty: the item is not wanted */
	char state_dir[PATH_MAX];
	int interval;
	struct ticker *refresher;	/* NULL: refresh on SIGHUP only */
	struct stats_middle *st;	/* the server's counters */

	/*
	 * round before lock. round is one refresh at a time, held across
	 * its reads, fetches and the on_change callback (which takes the
	 * mux's lock): nothing may refresh while holding a mux lock. lock
	 * is held for a pointer swap only and takes nothing under it.
	 */
	pthread_mutex_t round;
	/* Under round: the bytes behind the current snapshot. */
	struct blob have[NITEMS];

	pthread_mutex_t lock;
	/* Under lock. */
	struct middle_snapshot *cur;
	void (*on_change)(void *arg);
	void *on_change_arg;
};

static void
blob_free(struct blob *b)
{
	if (b->p != NULL) {
		crypto_cleanse(b->p, b->len);
		free(b->p);
	}
	b->p = NULL;
	b->len = 0;
}

/* Constant time over the bytes: one of them is the proxy secret. */
static int
blob_same(const struct blob *a, const struct blob *b)
{
	if ((a->p == NULL) != (b->p == NULL) || a->len != b->len)
		return 0;
	return a->len == 0 || crypto_memeq(a->p, b->p, a->len);
}

/* ---- reading, checking and keeping the items ---- */

static int
read_whole(const char *path, size_t max, struct blob *b, char *why,
    size_t whylen)
{
	char *p;
	int rc;

	rc = file_read(path, 0, max, &p, &b->len);
	b->p = (uint8_t *)p;
	if (rc == FILE_ERR_BIG)
		errbuf_set(why, whylen, "%s: over %zu bytes", path, max);
	else if (rc == FILE_ERR_TYPE)
		errbuf_set(why, whylen, "cannot read %s: not a regular file",
		    path);
	else if (rc != 0)
		errbuf_set(why, whylen, "cannot read %s: %s", path,
		    strerror(errno));
	return rc == 0 ? 0 : MIDDLE_ERR;
}

static int
check_item(enum item it, const struct blob *b, const char *where, char *why,
    size_t whylen)
{
	struct proxyconf_error perr;
	struct proxyconf *pc;
	int32_t ks;
	int rc;

	if (it == ITEM_SECRET) {
		if (rpc_key_select(b->p, b->len, &ks) == 0)
			return 0;
		errbuf_set(why, whylen, "%s: a proxy secret of %zu bytes, "
		    "expected %d..%d", where, b->len, RPC_SECRET_MIN,
		    RPC_SECRET_MAX);
		return MIDDLE_ERR;
	}
	rc = proxyconf_parse((const char *)b->p, b->len, &pc, &perr);
	if (rc != 0) {
		errbuf_set(why, whylen, "%s: line %d: %s", where, perr.line,
		    perr.msg);
		return MIDDLE_ERR;
	}
	rc = pc->ntargets > 0 ? 0 : MIDDLE_ERR;
	proxyconf_free(pc);
	if (rc != 0)
		errbuf_set(why, whylen, "%s: no middle proxy listed", where);
	return rc;
}

/* The item from its source, checked; *fetched says whether it was. */
static int
obtain(const struct middle *m, enum item it, struct blob *b, int *fetched,
    char *why, size_t whylen)
{
	const char *where;

	*fetched = 0;
	if (m->file[it][0] != '\0') {
		where = m->file[it];
		if (read_whole(where, items[it].max, b, why, whylen) != 0)
			return MIDDLE_ERR;
	} else if (m->url[it][0] != '\0') {
		where = m->url[it];
		if (fetch_url(where, items[it].max, FETCH_TIMEOUT_S, &b->p,
		    &b->len, why, whylen) != 0)
			return MIDDLE_ERR;
		*fetched = 1;
	} else
		return ITEM_UNWANTED;
	if (check_item(it, b, where, why, whylen) != 0) {
		blob_free(b);
		return MIDDLE_ERR;
	}
	return 0;
}

static int
state_path(const struct middle *m, enum item it, char *path, size_t len)
{
	int n;

	if (m->state_dir[0] == '\0')
		return MIDDLE_ERR;
	n = snprintf(path, len, "%s/%s", m->state_dir, items[it].state);
	return n > 0 && (size_t)n < len ? 0 : MIDDLE_ERR;
}

/* Whole or not at all: a temporary file renamed over the old copy. */
static void
state_save(const struct middle *m, enum item it, const struct blob *b)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, rc, saved;

	if (state_path(m, it, path, sizeof(path)) != 0 ||
	    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		log_warn("middle: cannot keep the %s: state_dir '%s' is "
		    "empty or too long", items[it].what, m->state_dir);
		return;
	}
	/* Usually made by the default user's secret already. */
	if (mkdir(m->state_dir, 0700) != 0 && errno != EEXIST) {
		log_warn("middle: cannot keep the %s: cannot create %s: %s",
		    items[it].what, m->state_dir, strerror(errno));
		return;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		log_warn("middle: cannot keep the %s in %s: %s",
		    items[it].what, m->state_dir, strerror(errno));
		return;
	}
	rc = fchmod(fd, items[it].mode) == 0 &&
	    file_write_all(fd, b->p, b->len) == 0 && fsync(fd) == 0 ? 0 :
	    MIDDLE_ERR;
	saved = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = MIDDLE_ERR;
		saved = errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = MIDDLE_ERR;
		saved = errno;
	}
	if (rc != 0) {
		unlink(tmp);
		log_warn("middle: cannot keep the %s in %s: %s",
		    items[it].what, path, strerror(saved));
	}
}

static int
state_load(const struct middle *m, enum item it, struct blob *b, char *why,
    size_t whylen)
{
	char path[PATH_MAX], inner[WHY_MAX];

	if (state_path(m, it, path, sizeof(path)) != 0) {
		errbuf_set(why, whylen, "no last good copy: state_dir '%s' is "
		    "empty or too long", m->state_dir);
		return MIDDLE_ERR;
	}
	if (read_whole(path, items[it].max, b, inner, sizeof(inner)) != 0) {
		errbuf_set(why, whylen, "no last good copy: %s", inner);
		return MIDDLE_ERR;
	}
	if (check_item(it, b, path, inner, sizeof(inner)) != 0) {
		blob_free(b);
		errbuf_set(why, whylen, "the last good copy is bad: %s", inner);
		return MIDDLE_ERR;
	}
	return 0;
}

/* ---- snapshots ---- */

static void
snapshot_free(struct middle_snapshot *s)
{
	if (s->secret != NULL) {
		crypto_cleanse(s->secret, s->secret_len);
		free(s->secret);
	}
	proxyconf_free(s->v4);
	proxyconf_free(s->v6);
	free(s);
}

/* The items were checked: only memory can fail here. */
static int
snapshot_new(const struct blob *item[NITEMS], uint64_t generation,
    struct middle_snapshot **out)
{
	struct middle_snapshot *s;
	const struct blob *v6 = item[ITEM_V6];
	int rc = MIDDLE_ERR;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MIDDLE_ERR;
	atomic_init(&s->refs, 1);
	s->generation = generation;
	if ((s->secret = malloc(item[ITEM_SECRET]->len)) == NULL)
		goto out;
	memcpy(s->secret, item[ITEM_SECRET]->p, item[ITEM_SECRET]->len);
	s->secret_len = item[ITEM_SECRET]->len;
	if (proxyconf_parse((const char *)item[ITEM_V4]->p,
	    item[ITEM_V4]->len, &s->v4, NULL) != 0)
		goto out;
	if (v6->p != NULL && proxyconf_parse((const char *)v6->p, v6->len,
	    &s->v6, NULL) != 0)
		goto out;
	*out = s;
	rc = 0;
out:
	if (rc != 0)
		snapshot_free(s);
	return rc;
}

struct middle_snapshot *
middle_get(struct middle *m)
{
	struct middle_snapshot *s;

	pthread_mutex_lock(&m->lock);
	s = m->cur;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&m->lock);
	return s;
}

void
middle_put(struct middle_snapshot *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

void
middle_on_change(struct middle *m, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&m->lock);
	m->on_change = fn;
	m->on_change_arg = arg;
	pthread_mutex_unlock(&m->lock);
}

static void
log_snapshot(const struct middle_snapshot *s)
{
	log_info("middle: configuration %llu: %zu-byte proxy secret, %zu "
	    "IPv4 and %zu IPv6 middle proxies",
	    (unsigned long long)s->generation, s->secret_len, s->v4->ntargets,
	    s->v6 != NULL ? s->v6->ntargets : 0);
}

/* ---- the first load ---- */

/* The item, else its last good copy; the IPv6 list may stay missing. */
static int
load_item(struct middle *m, enum item it)
{
	char why[WHY_MAX], why_state[WHY_MAX];
	struct blob b = { NULL, 0 };
	int rc, fetched;

	rc = obtain(m, it, &b, &fetched, why, sizeof(why));
	if (rc == ITEM_UNWANTED)
		return 0;
	if (rc == 0) {
		if (fetched)
			state_save(m, it, &b);
		m->have[it] = b;
		return 0;
	}
	if (m->file[it][0] != '\0') {
		log_error("middle: no usable %s: %s", items[it].what, why);
		return MIDDLE_ERR;
	}
	if (state_load(m, it, &b, why_state, sizeof(why_state)) == 0) {
		log_warn("middle: %s; using the last good copy in %s", why,
		    m->state_dir);
		m->have[it] = b;
		return 0;
	}
	if (it == ITEM_V6) {
		log_warn("middle: no IPv6 middle proxies: %s; %s", why,
		    why_state);
		return 0;
	}
	log_error("middle: no usable %s: %s; %s", items[it].what, why,
	    why_state);
	return MIDDLE_ERR;
}

static int
load_first(struct middle *m)
{
	const struct blob *view[NITEMS];
	int it;

	for (it = 0; it < NITEMS; it++) {
		if (load_item(m, (enum item)it) != 0)
			return MIDDLE_ERR;
		view[it] = &m->have[it];
	}
	if (snapshot_new(view, 1, &m->cur) != 0) {
		log_error("middle: out of memory for the configuration");
		return MIDDLE_ERR;
	}
	log_snapshot(m->cur);
	return 0;
}

/* ---- refresh rounds ---- */

/*
 * Under round: next[] holds the changed items, taken over on success. The
 * callback runs under round too, so it must not call middle_refresh.
 */
static int
swap_in(struct middle *m, struct blob next[NITEMS])
{
	const struct blob *view[NITEMS];
	struct middle_snapshot *s, *old;
	void (*fn)(void *);
	void *arg;
	int it;

	for (it = 0; it < NITEMS; it++)
		view[it] = next[it].p != NULL ? &next[it] : &m->have[it];
	if (snapshot_new(view, m->cur->generation + 1, &s) != 0) {
		log_warn("middle: refresh: out of memory; keeping the "
		    "current configuration");
		return MIDDLE_ERR;
	}
	for (it = 0; it < NITEMS; it++) {
		if (next[it].p == NULL)
			continue;
		blob_free(&m->have[it]);
		m->have[it] = next[it];
		next[it].p = NULL;
		next[it].len = 0;
	}
	pthread_mutex_lock(&m->lock);
	old = m->cur;
	m->cur = s;
	fn = m->on_change;
	arg = m->on_change_arg;
	pthread_mutex_unlock(&m->lock);
	middle_put(old);
	atomic_fetch_add(&m->st->refreshes, 1);
	log_snapshot(s);
	if (fn != NULL)
		fn(arg);
	return 0;
}

int
middle_refresh(struct middle *m)
{
	struct blob next[NITEMS];
	char why[WHY_MAX];
	int it, rc, fetched, failed = 0, changed = 0;

	memset(next, 0, sizeof(next));
	pthread_mutex_lock(&m->round);
	/* middle_free waits for one fetch in flight at most. */
	for (it = 0; it < NITEMS && !ticker_stopping(m->refresher); it++) {
		rc = obtain(m, (enum item)it, &next[it], &fetched, why,
		    sizeof(why));
		if (rc == ITEM_UNWANTED)
			continue;
		if (rc != 0) {
			log_warn("middle: refresh: %s; keeping the current %s",
			    why, items[it].what);
			failed = 1;
		} else if (blob_same(&next[it], &m->have[it]))
			blob_free(&next[it]);
		else {
			if (fetched)
				state_save(m, (enum item)it, &next[it]);
			changed = 1;
		}
	}
	if (changed && swap_in(m, next) != 0)
		failed = 1;
	pthread_mutex_unlock(&m->round);
	for (it = 0; it < NITEMS; it++)
		blob_free(&next[it]);
	if (failed)
		atomic_fetch_add(&m->st->refresh_failures, 1);
	else if (!changed)
		log_debug("middle: refresh: configuration unchanged");
	return failed ? MIDDLE_ERR : 0;
}

static void
refresh_tick(void *arg)
{
	/* Failures are logged and counted; the next round tries again. */
	middle_refresh(arg);
}

static int
start_thread(struct middle *m)
{
	int rc;

	rc = ticker_start(&m->refresher, m->interval, REFRESH_STACK,
	    refresh_tick, m);
	if (rc != 0) {
		log_error("middle: cannot start the refresher thread: %s",
		    strerror(-rc));
		return MIDDLE_ERR;
	}
	return 0;
}

static int
sync_init(struct middle *m)
{
	if (pthread_mutex_init(&m->lock, NULL) != 0)
		return MIDDLE_ERR;
	if (pthread_mutex_init(&m->round, NULL) != 0) {
		pthread_mutex_destroy(&m->lock);
		return MIDDLE_ERR;
	}
	return 0;
}

/*
 * An operator's proxy-multi.conf is taken as the whole truth: the IPv6
 * list is fetched only along with a fetched IPv4 one.
 */
static void
copy_config(struct middle *m, const struct config *cfg)
{
	snprintf(m->file[ITEM_SECRET], PATH_MAX, "%s", cfg->proxy_secret_file);
	snprintf(m->url[ITEM_SECRET], URL_MAX, "%s", cfg->proxy_secret_url);
	snprintf(m->file[ITEM_V4], PATH_MAX, "%s", cfg->proxy_config_file);
	snprintf(m->url[ITEM_V4], URL_MAX, "%s", cfg->proxy_config_url);
	if (cfg->proxy_config_file[0] == '\0')
		snprintf(m->url[ITEM_V6], URL_MAX, "%s",
		    cfg->proxy_config_v6_url);
	snprintf(m->state_dir, sizeof(m->state_dir), "%s", cfg->state_dir);
	m->interval = cfg->refresh_interval;
}

static void
drop(struct middle *m)
{
	int it;

	if (m->cur != NULL)
		middle_put(m->cur);
	for (it = 0; it < NITEMS; it++)
		blob_free(&m->have[it]);
	pthread_mutex_destroy(&m->round);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int
middle_new(const struct config *cfg, struct stats_middle *st,
    struct middle **out)
{
	struct middle *m;

	if (cfg == NULL || st == NULL || out == NULL)
		return MIDDLE_ERR;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_error("middle: out of memory");
		return MIDDLE_ERR;
	}
	if (sync_init(m) != 0) {
		log_error("middle: cannot create a mutex");
		free(m);
		return MIDDLE_ERR;
	}
	copy_config(m, cfg);
	m->st = st;
	/* A non-positive interval: refresh on SIGHUP only. */
	if (load_first(m) != 0 || (m->interval > 0 && start_thread(m) != 0)) {
		drop(m);
		return MIDDLE_ERR;
	}
	*out = m;
	return 0;
}

void
middle_free(struct middle *m)
{
	if (m == NULL)
		return;
	ticker_stop(m->refresher);
	drop(m);
}

/* ---- mtproxyd check ---- */

/* What a good item holds, for the report. */
static void
describe(enum item it, const struct blob *b, const char *where, char *msg,
    size_t msglen)
{
	struct proxyconf *pc;

	if (it == ITEM_SECRET) {
		errbuf_set(msg, msglen, "%s: %zu bytes from %s", items[it].what,
		    b->len, where);
		return;
	}
	/* check_item parsed it already. */
	if (proxyconf_parse((const char *)b->p, b->len, &pc, NULL) != 0)
		return;
	errbuf_set(msg, msglen, "%s: %zu middle proxies from %s",
	    items[it].what, pc->ntargets, where);
	proxyconf_free(pc);
}

int
middle_check_item(const struct config *cfg, int item, int *wanted,
    char *msg, size_t msglen)
{
	struct blob b = { NULL, 0 };
	struct middle *m;
	int rc, fetched;

	*wanted = 0;
	if (item < 0 || item >= NITEMS)
		return MIDDLE_ERR;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		errbuf_set(msg, msglen, "out of memory");
		return MIDDLE_ERR;
	}
	copy_config(m, cfg);
	rc = obtain(m, (enum item)item, &b, &fetched, msg, msglen);
	if (rc != ITEM_UNWANTED)
		*wanted = 1;
	if (rc == 0)
		describe((enum item)item, &b, fetched ? m->url[item] :
		    m->file[item], msg, msglen);
	blob_free(&b);
	free(m);
	return rc == ITEM_UNWANTED ? 0 : rc;
}
