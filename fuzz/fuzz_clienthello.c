/*
 * The input as a client's first bytes, read in 1..3 pieces (cut where a hash
 * of the input says): a prefix may only ask for more, and once the parser
 * has answered, every longer buffer gets the same answer. A complete hello
 * is checked for sanity, verified with a fixed secret and answered with a
 * reply its client accepts. The input also serves as a domain for the
 * client-side builder, whose hello must parse and verify.
 */
#include <stdlib.h>
#include <string.h>

#include "faketls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The vector's secret (../shared/vectors/faketls.txt). */
static const uint8_t secret[SECRET_LEN] = {
	0x45, 0xb0, 0xed, 0xe1, 0xc7, 0x0f, 0x7c, 0x81,
	0xad, 0xfb, 0xa7, 0x6e, 0x66, 0xf3, 0x2e, 0xfd,
};

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

static int
known_rc(int rc)
{
	return rc == 0 || rc == FAKETLS_NEED_MORE || rc == FAKETLS_NOT_TLS ||
	    rc == FAKETLS_ERR_VERSION || rc == FAKETLS_ERR_RECORD ||
	    rc == FAKETLS_ERR_OVERSIZE || rc == FAKETLS_ERR_TRUNCATED ||
	    rc == FAKETLS_ERR_SESSION_ID || rc == FAKETLS_ERR_CIPHER ||
	    rc == FAKETLS_ERR_EXTENSIONS || rc == FAKETLS_ERR_SNI;
}

/* Whatever the cover site picks, the reply's group is one offered. */
static void
check_group(const struct faketls_hello *h)
{
	uint16_t g, picks[] = { TLS_GROUP_X25519,
	    FAKETLS_GROUP_X25519MLKEM768 };
	size_t i;
	int rc;

	check((h->groups & ~(unsigned)(FAKETLS_OFFER_X25519 |
	    FAKETLS_OFFER_HYBRID)) == 0);
	for (i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		rc = faketls_reply_group(h, picks[i], &g);
		check(rc == 0 || (rc == FAKETLS_ERR_GROUP &&
		    !(h->groups & FAKETLS_OFFER_X25519)));
		if (rc == 0)
			check((g == TLS_GROUP_X25519 &&
			    (h->groups & FAKETLS_OFFER_X25519)) ||
			    (g == FAKETLS_GROUP_X25519MLKEM768 &&
			    picks[i] == g &&
			    (h->groups & FAKETLS_OFFER_HYBRID)));
	}
}

static void
check_hello(const struct faketls_hello *h, size_t avail)
{
	check(h->wire_len <= avail && h->wire_len <= FAKETLS_HELLO_MAX);
	check(h->nrecords >= 1);
	check(h->msg_len + TLS_RECORD_HEADER_LEN * h->nrecords == h->wire_len);
	check(h->session_id_len <= TLS_SESSION_ID_MAX);
	check(h->cipher_suite >= TLS_SUITE_FIRST &&
	    h->cipher_suite <= TLS_SUITE_LAST);
	check(h->sni_len <= TLS_SNI_MAX);
	check(strlen(h->sni) == h->sni_len);
	check_group(h);
}

/* Verify with the fixed secret; answer and check the answer as a client. */
static void
answer(const uint8_t *wire, const struct faketls_hello *h, uint32_t seed)
{
	static uint8_t fill[2048], out[2300];
	struct faketls_match m;
	struct faketls_reply rp;
	size_t size = 1 + seed % sizeof(fill), n, used;
	int rc;

	rc = faketls_hello_verify(wire, h,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m);
	check(rc == 0 || rc == FAKETLS_ERR_DIGEST);
	if (rc == 0)
		check(m.secret_index == 0 &&
		    faketls_time_ok(m.ts, m.ts, 0, 0) == 0);
	memset(fill, (int)(seed >> 24), size);
	rp.key_share = h->random;
	rp.group = TLS_GROUP_X25519;
	rp.versions_first = (int)(seed & 1);
	rp.app_sizes = &size;
	rp.napp = 1;
	rp.app_fill = fill;
	check(faketls_reply_build(secret, h, &rp, out, sizeof(out), &n) == 0);
	check(faketls_reply_verify(secret, h->random, 1, out, n, &used) == 0);
	check(used == n);
}

static void
parse_in_pieces(const uint8_t *data, size_t size, uint32_t seed)
{
	struct faketls_hello h, first;
	size_t cuts[3], ncuts = 1 + seed % 3, i, t;
	int rc, final = 1;

	cuts[0] = (seed >> 8) % (size + 1);
	cuts[1] = (seed >> 20) % (size + 1);
	if (cuts[0] > cuts[1]) {
		t = cuts[0];
		cuts[0] = cuts[1];
		cuts[1] = t;
	}
	cuts[ncuts - 1] = size;
	for (i = 0; i < ncuts; i++) {
		rc = faketls_hello_parse(data, cuts[i], &h);
		check(known_rc(rc));
		if (final != 1) {
			/* An answer once given never changes. */
			check(rc == final);
			if (rc == 0)
				check(memcmp(&h, &first, sizeof(h)) == 0);
			continue;
		}
		if (rc == FAKETLS_NEED_MORE) {
			check(cuts[i] < FAKETLS_HELLO_MAX);
			continue;
		}
		final = rc;
		if (rc != 0)
			continue;
		first = h;
		check_hello(&h, cuts[i]);
		answer(data, &h, seed);
	}
}

/*
 * The input as a domain name; the split point and the shape (SNI or
 * none, ECH, ALPS, record version) from the hash.
 */
static void
build_from(const uint8_t *data, size_t size, uint32_t seed)
{
	static uint8_t out[2 * FAKETLS_BUILD_MAX];
	struct faketls_client_rand r;
	struct faketls_build b;
	struct faketls_hello h;
	struct faketls_match m;
	char domain[TLS_SNI_MAX + 2];
	size_t n, split;

	if (size == 0 || size > TLS_SNI_MAX + 1)
		return;
	memcpy(domain, data, size);
	domain[size] = '\0';
	memset(&r, (int)(seed & 0xff), sizeof(r));
	split = (seed >> 4) % 600;
	memset(&b, 0, sizeof(b));
	b.domain = seed & 1 << 16 ? NULL : domain;
	b.ech = (seed >> 17) & 1;
	b.alps = seed & 1 << 18 ? FAKETLS_EXT_ALPS : 0;
	b.record_version = seed & 1 << 19 ? TLS_VERSION_12 : TLS_VERSION_10;
	b.cuts[0] = split;
	if (faketls_hello_build_with(secret, &b, seed, &r, out, sizeof(out),
	    &n) != 0)
		return;
	check(faketls_hello_parse(out, n, &h) == 0);
	check(h.nrecords == (split > 0 ? 2u : 1u));
	check(strcmp(h.sni, b.domain != NULL ? domain : "") == 0);
	check(faketls_hello_verify(out, &h,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m) == 0);
	check(m.ts == seed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = fnv1a(data, size);

	parse_in_pieces(data, size, seed);
	build_from(data, size, seed);
	return 0;
}
