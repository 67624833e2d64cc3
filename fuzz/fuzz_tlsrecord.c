/*
 * The input as the client's record stream after the handshake, decoded in
 * one go, in 1..4 pieces (cut where a hash of the input says) and in place:
 * all three must agree on the payload and on the answer. The input is also
 * wrapped into records of a hash-chosen size and must decode back to itself.
 */
#include <stdlib.h>
#include <string.h>

#include "faketls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static uint32_t
fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* Feed data[from..to) piece by piece; payload appended to out. */
static int
feed(struct faketls_reader *r, const uint8_t *data, size_t from, size_t to,
    uint8_t *out, size_t *out_len)
{
	const uint8_t *p;
	size_t used, n;
	int rc;

	while (from < to) {
		rc = faketls_reader_next(r, data + from, to - from, &used, &p,
		    &n);
		if (rc != 0)
			return rc;
		check(used > 0 && used <= to - from && n <= used);
		check(n == 0 || p == data + from);
		if (n > 0)
			memcpy(out + *out_len, p, n);
		*out_len += n;
		from += used;
	}
	return 0;
}

static void
decode_three_ways(const uint8_t *data, size_t size, uint32_t seed)
{
	struct faketls_reader r;
	uint8_t *a, *b, *c;
	size_t alen = 0, blen = 0, clen = 0, cuts[4], ncuts = 1 + seed % 4, i,
	    from, n;
	int ra, rb, rc = 0;

	a = malloc(size + 1);
	b = malloc(size + 1);
	c = malloc(size + 1);
	check(a != NULL && b != NULL && c != NULL);
	faketls_reader_init(&r);
	ra = feed(&r, data, 0, size, a, &alen);

	for (i = 0; i + 1 < ncuts; i++)
		cuts[i] = (seed >> (8 * i)) % (size + 1);
	cuts[ncuts - 1] = size;
	faketls_reader_init(&r);
	for (i = 0, from = 0, rb = 0; i < ncuts && rb == 0; i++) {
		if (cuts[i] < from)
			continue;
		rb = feed(&r, data, from, cuts[i], b, &blen);
		from = cuts[i];
	}
	check(ra == rb && alen == blen && memcmp(a, b, alen) == 0);

	/* In place: a copy, unwrapped piece by piece. */
	memcpy(c, data, size);
	faketls_reader_init(&r);
	for (i = 0, from = 0; i < ncuts && rc == 0; i++) {
		if (cuts[i] < from)
			continue;
		rc = faketls_reader_unwrap(&r, c + from, cuts[i] - from, &n);
		if (rc == 0) {
			memmove(c + clen, c + from, n);
			clen += n;
		}
		from = cuts[i];
	}
	check(rc == ra);
	if (ra == 0)
		check(clen == alen && memcmp(a, c, alen) == 0);
	else
		check(ra == FAKETLS_ERR_RECORD || ra == FAKETLS_ERR_VERSION ||
		    ra == FAKETLS_ERR_OVERSIZE);
	free(a);
	free(b);
	free(c);
}

static void
wrap_round_trip(const uint8_t *data, size_t size, uint32_t seed)
{
	struct faketls_reader r;
	size_t max = 1 + seed % TLS_CIPHERTEXT_MAX, total, n, out;
	uint8_t *w;

	check(faketls_wrap_len(size, max, &total) == 0);
	w = malloc(total + 1);
	check(w != NULL);
	check(faketls_wrap(data, size, max, w, total, &n) == 0 && n == total);
	faketls_reader_init(&r);
	check(faketls_reader_unwrap(&r, w, n, &out) == 0);
	check(out == size && memcmp(w, data, size) == 0);
	free(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = fnv1a(data, size);

	decode_three_ways(data, size, seed);
	wrap_round_trip(data, size, seed);
	return 0;
}
