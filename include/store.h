/*
 * Where per-user quota counters outlive the daemon (issue 10): a table of
 * (user, bytes used, start of the period they count) loaded at start and
 * saved every state_interval seconds and at stop. A store is an ops table
 * and its backend's state, so that a shared backend (Redis, issue 13) can
 * stand where the local file stands now.
 *
 * The local backend keeps state_dir/quota.state, text, written whole to
 * quota.state.tmp, fsynced, renamed over the old file and the directory
 * fsynced: rename is atomic, so a crash or SIGKILL at any point leaves the
 * old table or the new one, never a mix, and loses at most what changed
 * since the last save. The format, one line each, LF-terminated:
 *
 *	mtproxyd-quota 1
 *	NAME USED PERIOD_START		(one per user, any order)
 *	end COUNT			(COUNT: the number of user lines)
 *
 * NAME is [A-Za-z0-9_.-], 1..63 bytes, at most once; USED an unsigned and
 * PERIOD_START a signed 64-bit decimal, no '+' or spaces. The end line
 * tells a file cut at a line's end from a whole one.
 */
#ifndef MTPROXYD_STORE_H
#define MTPROXYD_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_ERR		(-1)	/* the reason in err */
#define STORE_NAME_MAX		64	/* with the NUL: config's name limit */
#define STORE_MAX_ENTRIES	200000
#define STORE_FILE		"quota.state"
#define STORE_TMP_FILE		"quota.state.tmp"

struct store_entry {
	char name[STORE_NAME_MAX];
	uint64_t used;		/* bytes both ways in the period */
	int64_t period_start;	/* period_start() of the period counted */
};

/*
 * A backend. load: every entry, *out malloc'd (NULL when *n is 0), the
 * caller frees it; a missing table is empty, not an error. save: the
 * whole table replaces the old one, or the old one stays. Both return 0
 * or STORE_ERR with a one-line reason in err. A store is used by one
 * thread at a time.
 */
struct store_ops {
	int (*load)(void *impl, struct store_entry **out, size_t *n,
	    char *err, size_t errlen);
	int (*save)(void *impl, const struct store_entry *e, size_t n,
	    char *err, size_t errlen);
	void (*close)(void *impl);
};

struct store {
	const struct store_ops *ops;
	void *impl;
};

/* The local file backend in state_dir (created, one level, 0700, at the
 * first save if missing). Nothing is read or written here. */
int store_open_local(const char *state_dir, struct store **out, char *err,
    size_t errlen);
int store_load(struct store *s, struct store_entry **out, size_t *n,
    char *err, size_t errlen);
/* Refuses (writing nothing) entries that store_parse would refuse: a bad
 * or repeated name, more than STORE_MAX_ENTRIES. */
int store_save(struct store *s, const struct store_entry *e, size_t n,
    char *err, size_t errlen);
/* Frees the store (NULL: nothing); saves nothing. */
void store_close(struct store *s);

/* 1 if name is 1..63 bytes of [A-Za-z0-9_.-], else 0. */
int store_name_valid(const char *name);

/*
 * The file's text, pure. store_parse reads len bytes of text (no NUL
 * needed) into *out (malloc'd, NULL when *n is 0) or refuses it with
 * "line N: reason" in err ("out of memory" has no line). store_format
 * writes *text (malloc'd, *len bytes and a NUL) that store_parse reads
 * back as e, or refuses e as store_save does.
 */
int store_parse(const char *text, size_t len, struct store_entry **out,
    size_t *n, char *err, size_t errlen);
int store_format(const struct store_entry *e, size_t n, char **text,
    size_t *len, char *err, size_t errlen);

#endif
