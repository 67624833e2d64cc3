/*
 * Quota state: the file format (pure) and the local file backend. See
 * store.h for the format and why a save cannot leave half a table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "file.h"
#include "store.h"

#define HEADER		"mtproxyd-quota 1"
#define HEADER_NAME	"mtproxyd-quota "
#define END_WORD	"end"
#define U64_DIGITS	20
/* NAME USED PERIOD_START\n at their longest (PERIOD_START with a '-'). */
#define ENTRY_LINE_MAX	(STORE_NAME_MAX - 1 + 1 + U64_DIGITS + 1 + \
	U64_DIGITS + 1)
#define END_LINE_MAX	(sizeof(END_WORD) + U64_DIGITS + 1)
#define FILE_CAP	(sizeof(HEADER) + END_LINE_MAX + \
	(size_t)STORE_MAX_ENTRIES * ENTRY_LINE_MAX)
#define REASON_MAX	256

int
store_name_valid(const char *name)
{
	size_t i;
	char c;

	for (i = 0; name[i] != '\0'; i++) {
		c = name[i];
		/* By hand: isalnum would follow the locale. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return i >= 1 && i < STORE_NAME_MAX;
}

static int
by_name(const void *a, const void *b)
{
	const struct store_entry *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* The index of an entry whose name an earlier one has, or n if none. */
static int
find_repeat(const struct store_entry *e, size_t n, size_t *repeat)
{
	const struct store_entry **v;
	size_t i, later;

	*repeat = n;
	if (n < 2)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return STORE_ERR;
	for (i = 0; i < n; i++)
		v[i] = &e[i];
	qsort(v, n, sizeof(*v), by_name);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i - 1]->name, v[i]->name) != 0)
			continue;
		later = (size_t)((v[i] > v[i - 1] ? v[i] : v[i - 1]) - e);
		if (later < *repeat)
			*repeat = later;
	}
	free(v);
	return 0;
}

/* n decimal digits of s, no sign, at most max. */
static int
parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, d;
	size_t i;

	if (n == 0)
		return STORE_ERR;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return STORE_ERR;
		d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10)
			return STORE_ERR;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* n bytes of s as a signed 64-bit decimal: an optional '-', digits. */
static int
parse_i64(const char *s, size_t n, int64_t *out)
{
	uint64_t mag;
	int neg = n > 0 && s[0] == '-';

	if (parse_u64(s + neg, n - (size_t)neg,
	    (uint64_t)INT64_MAX + (uint64_t)neg, &mag) != 0)
		return STORE_ERR;
	/* -2^63 has no positive counterpart: negated one short, then 1. */
	*out = neg && mag > 0 ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
	return 0;
}

/* "NAME USED PERIOD_START", n bytes, no newline. */
static int
parse_entry(const char *s, size_t n, struct store_entry *e)
{
	const char *sp1, *sp2;
	size_t name_len;

	if ((sp1 = memchr(s, ' ', n)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s))) == NULL)
		return STORE_ERR;
	name_len = (size_t)(sp1 - s);
	if (name_len >= STORE_NAME_MAX)
		return STORE_ERR;
	memcpy(e->name, s, name_len);
	e->name[name_len] = '\0';
	/* A NUL inside would cut the name short: then strlen differs. */
	if (strlen(e->name) != name_len || !store_name_valid(e->name) ||
	    parse_u64(sp1 + 1, (size_t)(sp2 - sp1 - 1), UINT64_MAX,
	    &e->used) != 0 ||
	    parse_i64(sp2 + 1, n - (size_t)(sp2 + 1 - s),
	    &e->period_start) != 0)
		return STORE_ERR;
	return 0;
}

/* The line at *pos without its LF; *pos moves past it. 0, or STORE_ERR
 * at the end of the text or if the text ends without an LF. */
static int
next_line(const char *text, size_t len, size_t *pos, const char **line,
    size_t *n)
{
	const char *lf;

	if (*pos >= len ||
	    (lf = memchr(text + *pos, '\n', len - *pos)) == NULL)
		return STORE_ERR;
	*line = text + *pos;
	*n = (size_t)(lf - *line);
	*pos += *n + 1;
	return 0;
}

static int
is_end_line(const char *s, size_t n)
{
	return n > sizeof(END_WORD) && memcmp(s, END_WORD " ",
	    sizeof(END_WORD)) == 0 && memchr(s + sizeof(END_WORD), ' ',
	    n - sizeof(END_WORD)) == NULL;
}

static int
parse_header(const char *text, size_t len, size_t *pos, char *err,
    size_t errlen)
{
	const char *s;
	size_t n;

	if (next_line(text, len, pos, &s, &n) != 0) {
		errbuf_set(err, errlen, "line 1: expected '%s' and a newline "
		    "(empty or cut short)", HEADER);
		return STORE_ERR;
	}
	if (n == strlen(HEADER) && memcmp(s, HEADER, n) == 0)
		return 0;
	if (n > strlen(HEADER_NAME) && memcmp(s, HEADER_NAME,
	    strlen(HEADER_NAME)) == 0)
		errbuf_set(err, errlen, "line 1: expected '%s': a file of "
		    "another version of mtproxyd?", HEADER);
	else
		errbuf_set(err, errlen, "line 1: expected '%s': not a quota "
		    "state file", HEADER);
	return STORE_ERR;
}

/* The end line (line ln) counts the n entries and is the last line. */
static int
check_end(const char *s, size_t sn, size_t n, size_t rest, size_t ln,
    char *err, size_t errlen)
{
	uint64_t count;

	if (parse_u64(s + sizeof(END_WORD), sn - sizeof(END_WORD),
	    UINT64_MAX, &count) != 0 || count != n) {
		errbuf_set(err, errlen, "line %zu: expected '%s %zu' (the "
		    "number of users above)", ln, END_WORD, n);
		return STORE_ERR;
	}
	if (rest != 0) {
		errbuf_set(err, errlen, "line %zu: expected nothing after "
		    "the end line", ln + 1);
		return STORE_ERR;
	}
	return 0;
}

/* The user lines from *pos and the end line; entries into e (room for
 * max), how many into *n. */
static int
parse_body(const char *text, size_t len, size_t pos,
    struct store_entry *e, size_t max, size_t *n, char *err, size_t errlen)
{
	const char *s;
	size_t sn, ln;

	for (ln = 2;; ln++) {
		if (next_line(text, len, &pos, &s, &sn) != 0) {
			errbuf_set(err, errlen, "line %zu: expected a user or "
			    "'%s %zu': the file is cut short", ln, END_WORD,
			    *n);
			return STORE_ERR;
		}
		if (is_end_line(s, sn))
			return check_end(s, sn, *n, len - pos, ln, err, errlen);
		if (*n == max || parse_entry(s, sn, &e[*n]) != 0) {
			errbuf_set(err, errlen, "line %zu: expected NAME USED "
			    "PERIOD_START (name [A-Za-z0-9_.-] up to %d bytes, "
			    "decimal numbers; at most %d users)", ln,
			    STORE_NAME_MAX - 1, STORE_MAX_ENTRIES);
			return STORE_ERR;
		}
		(*n)++;
	}
}

/* The user lines a text can hold: at most one per LF, past the header. */
static size_t
room_for(const char *text, size_t len)
{
	const char *p = text, *lf;
	size_t lines = 0;

	while ((lf = memchr(p, '\n', len - (size_t)(p - text))) != NULL) {
		lines++;
		p = lf + 1;
	}
	return lines < STORE_MAX_ENTRIES ? lines : STORE_MAX_ENTRIES;
}

int
store_parse(const char *text, size_t len, struct store_entry **out,
    size_t *n, char *err, size_t errlen)
{
	struct store_entry *e = NULL;
	size_t pos = 0, max, repeat;
	int rc = STORE_ERR;

	*out = NULL;
	*n = 0;
	if (parse_header(text, len, &pos, err, errlen) != 0)
		return STORE_ERR;
	max = room_for(text, len);
	if (max > 0 && (e = malloc(max * sizeof(*e))) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return STORE_ERR;
	}
	if (parse_body(text, len, pos, e, max, n, err, errlen) != 0)
		goto out;
	if (find_repeat(e, *n, &repeat) != 0) {
		errbuf_set(err, errlen, "out of memory");
		goto out;
	}
	if (repeat < *n) {
		errbuf_set(err, errlen, "line %zu: user %s again (each user "
		    "once)", repeat + 2, e[repeat].name);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		*n = 0;
	if (*n == 0) {
		free(e);
		e = NULL;
	}
	*out = e;
	return rc;
}

/* What store_parse would refuse in e, in err. */
static int
check_entries(const struct store_entry *e, size_t n, char *err,
    size_t errlen)
{
	size_t i, repeat;

	if (n > STORE_MAX_ENTRIES) {
		errbuf_set(err, errlen, "%zu users: at most %d", n,
		    STORE_MAX_ENTRIES);
		return STORE_ERR;
	}
	for (i = 0; i < n; i++) {
		if (memchr(e[i].name, '\0', sizeof(e[i].name)) == NULL ||
		    !store_name_valid(e[i].name)) {
			errbuf_set(err, errlen, "user %zu: expected a name of "
			    "[A-Za-z0-9_.-], 1..%d bytes", i,
			    STORE_NAME_MAX - 1);
			return STORE_ERR;
		}
	}
	if (find_repeat(e, n, &repeat) != 0) {
		errbuf_set(err, errlen, "out of memory");
		return STORE_ERR;
	}
	if (repeat < n) {
		errbuf_set(err, errlen, "user %s twice", e[repeat].name);
		return STORE_ERR;
	}
	return 0;
}

int
store_format(const struct store_entry *e, size_t n, char **text,
    size_t *len, char *err, size_t errlen)
{
	size_t cap, at, i;
	char *t;

	*text = NULL;
	*len = 0;
	if (check_entries(e, n, err, errlen) != 0)
		return STORE_ERR;
	cap = sizeof(HEADER) + END_LINE_MAX + n * ENTRY_LINE_MAX + 1;
	if ((t = malloc(cap)) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return STORE_ERR;
	}
	at = (size_t)snprintf(t, cap, "%s\n", HEADER);
	for (i = 0; i < n; i++)
		at += (size_t)snprintf(t + at, cap - at, "%s %llu %lld\n",
		    e[i].name, (unsigned long long)e[i].used,
		    (long long)e[i].period_start);
	at += (size_t)snprintf(t + at, cap - at, "%s %zu\n", END_WORD, n);
	*text = t;
	*len = at;
	return 0;
}

/* --- the local backend: state_dir/quota.state */

struct local {
	struct store store;
	char dir[PATH_MAX];
	char path[PATH_MAX];
	char tmp[PATH_MAX];
};

static int
local_load(void *impl, struct store_entry **out, size_t *n, char *err,
    size_t errlen)
{
	const struct local *l = impl;
	char *text, reason[REASON_MAX];
	size_t len;
	int rc;

	*out = NULL;
	*n = 0;
	rc = file_read(l->path, O_NOFOLLOW, FILE_CAP, &text, &len);
	if (rc == FILE_ERR_OPEN && errno == ENOENT)
		return 0;
	if (rc != 0) {
		errbuf_set(err, errlen, "cannot read %s: %s", l->path,
		    rc == FILE_ERR_TYPE ? "not a regular file" :
		    rc == FILE_ERR_BIG ? "larger than any quota state" :
		    strerror(errno));
		return STORE_ERR;
	}
	rc = store_parse(text, len, out, n, reason, sizeof(reason));
	if (rc != 0)
		errbuf_set(err, errlen, "%s: %s", l->path, reason);
	free(text);
	return rc;
}

/* The directory entry of a rename made durable. */
static int
sync_dir(const char *dir)
{
	int fd, rc, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return STORE_ERR;
	rc = fsync(fd) == 0 ? 0 : STORE_ERR;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* text whole into the temporary file, then renamed over the table. */
static int
replace_file(const struct local *l, const char *text, size_t len)
{
	int fd, rc, saved;

	if (mkdir(l->dir, 0700) != 0 && errno != EEXIST)
		return STORE_ERR;
	fd = open(l->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		return STORE_ERR;
	rc = file_write_all(fd, text, len) == 0 && fsync(fd) == 0 ? 0 :
	    STORE_ERR;
	saved = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = STORE_ERR;
		saved = errno;
	}
	if (rc == 0 && rename(l->tmp, l->path) != 0) {
		rc = STORE_ERR;
		saved = errno;
	}
	if (rc != 0) {
		unlink(l->tmp);
		errno = saved;
		return rc;
	}
	return sync_dir(l->dir);
}

static int
local_save(void *impl, const struct store_entry *e, size_t n, char *err,
    size_t errlen)
{
	const struct local *l = impl;
	char *text, reason[REASON_MAX];
	size_t len;
	int rc;

	if (store_format(e, n, &text, &len, reason, sizeof(reason)) != 0) {
		errbuf_set(err, errlen, "cannot write %s: %s", l->path,
		    reason);
		return STORE_ERR;
	}
	rc = replace_file(l, text, len);
	if (rc != 0)
		errbuf_set(err, errlen, "cannot write %s: %s", l->path,
		    strerror(errno));
	free(text);
	return rc;
}

static void
local_close(void *impl)
{
	free(impl);
}

static const struct store_ops *
local_ops(void)
{
	static const struct store_ops ops = {
		.load = local_load,
		.save = local_save,
		.close = local_close,
	};

	return &ops;
}

static int
join(char *out, const char *dir, const char *file)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, file);

	return n > 0 && n < PATH_MAX ? 0 : STORE_ERR;
}

int
store_open_local(const char *state_dir, struct store **out, char *err,
    size_t errlen)
{
	struct local *l;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		errbuf_set(err, errlen, "quota state: out of memory");
		return STORE_ERR;
	}
	if (state_dir[0] == '\0' ||
	    snprintf(l->dir, sizeof(l->dir), "%s", state_dir) >= PATH_MAX ||
	    join(l->path, state_dir, STORE_FILE) != 0 ||
	    join(l->tmp, state_dir, STORE_TMP_FILE) != 0) {
		errbuf_set(err, errlen, "[server] state_dir = '%s': expected "
		    "a shorter path", state_dir);
		free(l);
		return STORE_ERR;
	}
	l->store.ops = local_ops();
	l->store.impl = l;
	*out = &l->store;
	return 0;
}

int
store_load(struct store *s, struct store_entry **out, size_t *n, char *err,
    size_t errlen)
{
	return s->ops->load(s->impl, out, n, err, errlen);
}

int
store_save(struct store *s, const struct store_entry *e, size_t n,
    char *err, size_t errlen)
{
	return s->ops->save(s->impl, e, n, err, errlen);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s->impl);
}
