/*
 * Address lists: each line becomes the range [lo, hi] of the addresses its
 * prefix covers; sorted by lo and overlapping ranges merged, the list is a
 * set of disjoint ranges that a binary search answers in log n steps.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"

#define ITEM_MAX	64	/* longer is no address: INET6_ADDRSTRLEN + /128 */
#define V4_MAPPED_BITS	96
#define FIRST_CAP	16

struct range {
	uint8_t lo[16], hi[16];
};

struct addrlist {
	size_t n, cap;
	size_t entries;
	struct range *r;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Prefix length: 1 to 3 digits, no leading zero, at most max. */
static int
parse_bits(const char *s, int max, int *bits)
{
	size_t n = strlen(s), i;
	int v = 0;

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return ADDRLIST_ERR_LINE;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ADDRLIST_ERR_LINE;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return ADDRLIST_ERR_LINE;
	*bits = v;
	return 0;
}

/* IPv4 as ::ffff:a.b.c.d (RFC 4291 2.5.5.2): one key space for both. */
static void
map4(const uint8_t a4[4], uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, a4, 4);
}

/* "ADDR" or "ADDR/BITS" (n bytes) as the range it covers. */
static int
parse_item(const char *item, size_t n, struct range *r)
{
	char buf[ITEM_MAX], *slash;
	uint8_t a4[4], a[16];
	int bits, max, i;

	if (n >= sizeof(buf) || memchr(item, '\0', n) != NULL)
		return ADDRLIST_ERR_LINE;
	memcpy(buf, item, n);
	buf[n] = '\0';
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, a4) == 1) {
		map4(a4, a);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		max = 128;
	} else {
		return ADDRLIST_ERR_LINE;
	}
	bits = max;
	if (slash != NULL && parse_bits(slash + 1, max, &bits) != 0)
		return ADDRLIST_ERR_LINE;
	bits += 128 - max;
	/* Host bits set (10.1.2.3/8) are cleared, as routes take them. */
	for (i = 0; i < 16; i++) {
		int keep = bits >= 8 * (i + 1) ? 8 : bits <= 8 * i ? 0 :
		    bits - 8 * i;
		uint8_t mask = (uint8_t)(0xff00 >> keep);

		r->lo[i] = a[i] & mask;
		r->hi[i] = (uint8_t)(a[i] | (uint8_t)~mask);
	}
	return 0;
}

static int
push(struct addrlist *l, const struct range *r)
{
	struct range *nr;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? FIRST_CAP : l->cap * 2;
		if ((nr = realloc(l->r, cap * sizeof(*nr))) == NULL)
			return ADDRLIST_ERR_NOMEM;
		l->r = nr;
		l->cap = cap;
	}
	l->r[l->n++] = *r;
	l->entries++;
	return 0;
}

/* One line: its item, if any, without the comment and the blanks. */
static int
parse_line(struct addrlist *l, const char *text, size_t a, size_t b,
    struct addrlist_bad *bad)
{
	const char *hash = memchr(text + a, '#', b - a);
	struct range r;

	if (hash != NULL)
		b = (size_t)(hash - text);
	while (a < b && is_blank(text[a]))
		a++;
	while (b > a && is_blank(text[b - 1]))
		b--;
	if (a == b)
		return 0;
	if (parse_item(text + a, b - a, &r) != 0) {
		bad->off = a;
		bad->len = b - a;
		return ADDRLIST_ERR_LINE;
	}
	return push(l, &r);
}

static int
by_lo(const void *x, const void *y)
{
	return memcmp(((const struct range *)x)->lo,
	    ((const struct range *)y)->lo, 16);
}

/* Sorted by lo, overlaps folded into one range. */
static void
merge(struct addrlist *l)
{
	size_t i, k = 0;

	if (l->n == 0)
		return;
	qsort(l->r, l->n, sizeof(*l->r), by_lo);
	for (i = 1; i < l->n; i++) {
		if (memcmp(l->r[i].lo, l->r[k].hi, 16) <= 0) {
			if (memcmp(l->r[i].hi, l->r[k].hi, 16) > 0)
				memcpy(l->r[k].hi, l->r[i].hi, 16);
		} else {
			l->r[++k] = l->r[i];
		}
	}
	l->n = k + 1;
}

int
addrlist_parse(const char *text, size_t len, struct addrlist **out,
    struct addrlist_bad *bad)
{
	struct addrlist *l;
	struct addrlist_bad b = { 0, 0, 0 };
	size_t a = 0, e;
	int rc = 0;

	if ((text == NULL && len > 0) || out == NULL || bad == NULL)
		return ADDRLIST_ERR_ARG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return ADDRLIST_ERR_NOMEM;
	while (rc == 0 && a < len) {
		b.line++;
		for (e = a; e < len && text[e] != '\n'; e++)
			;
		rc = parse_line(l, text, a, e, &b);
		a = e + 1;
	}
	if (rc != 0) {
		if (rc == ADDRLIST_ERR_LINE)
			*bad = b;
		addrlist_free(l);
		return rc;
	}
	merge(l);
	*out = l;
	return 0;
}

void
addrlist_free(struct addrlist *l)
{
	if (l == NULL)
		return;
	free(l->r);
	free(l);
}

int
addrlist_match(const struct addrlist *l, const struct sockaddr *sa)
{
	uint8_t a[16];
	size_t lo = 0, hi;

	if (l == NULL || sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		map4((const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr, a);
	else if (sa->sa_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return 0;
	/* The last range starting at or below a, if any, holds it or none. */
	hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(l->r[mid].lo, a, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && memcmp(a, l->r[lo - 1].hi, 16) <= 0;
}

size_t
addrlist_entries(const struct addrlist *l)
{
	return l == NULL ? 0 : l->entries;
}
