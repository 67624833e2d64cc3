/*
 * The middle-proxy configuration (doc/PROTOCOL.md 4.1): the proxy secret and
 * proxy-multi.conf (IPv4 and IPv6 lists), from local files or fetched, the
 * last good copies kept in state_dir. A refresher thread fetches again every
 * refresh_interval; a good new snapshot replaces the current one atomically,
 * a bad one is logged, counted and ignored. Sessions hold a reference to the
 * snapshot they started with.
 */
#ifndef MTPROXYD_MIDDLE_H
#define MTPROXYD_MIDDLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "proxyconf.h"
#include "stats.h"

#define MIDDLE_ERR		(-1)	/* no usable snapshot at start */

struct middle_snapshot {
	atomic_int refs;
	uint64_t generation;		/* 1, 2, ... one per good change */
	uint8_t *secret;		/* the proxy secret, 32..256 bytes */
	size_t secret_len;
	struct proxyconf *v4;		/* never NULL */
	struct proxyconf *v6;		/* NULL when none was had */
};

struct middle;

/*
 * Load (files, else fetch, else the state_dir copies); start the refresher.
 * It counts refreshes in st, which must outlive it.
 */
int middle_new(const struct config *cfg, struct stats_middle *st,
    struct middle **out);
/* The current snapshot, referenced: middle_put it when done. */
struct middle_snapshot *middle_get(struct middle *m);
void middle_put(struct middle_snapshot *s);
/* Called (on the refresher thread) after each swap to a new snapshot. */
void middle_on_change(struct middle *m, void (*fn)(void *arg), void *arg);
/* Fetch now, as the refresher would (tests, SIGHUP). */
int middle_refresh(struct middle *m);
void middle_free(struct middle *m);

/*
 * mtproxyd check: item 0..MIDDLE_NITEMS-1 (the proxy secret, the IPv4 and
 * the IPv6 proxy-multi.conf) from its file or fetched now and checked, as
 * a refresh would, without the state_dir copies and saving nothing.
 * *wanted 0: the configuration has no source for it. msg says what it
 * holds, or why it failed.
 */
#define MIDDLE_NITEMS		3
int middle_check_item(const struct config *cfg, int item, int *wanted,
    char *msg, size_t msglen);

#endif
