/*
 * The client handshake. A failed check returns HANDSHAKE_ERR with the reason
 * and nothing sent, so the caller can hand every byte read to the cover
 * site; the only byte we ever send before the checks pass is none.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "bytes.h"
#include "crypto.h"
#include "frame.h"
#include "handshake.h"
#include "log.h"
#include "mask.h"
#include "net.h"

/* Room for the largest hello we take plus the start of the first record. */
#define RAW_CAP		(FAKETLS_HELLO_MAX + 4096)

static int
fail(struct handshake *h, enum handshake_reject why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct handshake *h, enum handshake_reject why, const char *fmt, ...)
{
	va_list ap;

	/* The caller logs it: one line per address at most, not per probe. */
	va_start(ap, fmt);
	vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
	va_end(ap);
	h->why = why;
	return HANDSHAKE_ERR;
}

/*
 * Read whatever the client sent next, before the deadline. The bytes are
 * usually there already: try first, poll only when there are none.
 */
static int
more(struct handshake *h)
{
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	int64_t left;
	ssize_t n;

	if (h->nraw == h->rawcap)
		return fail(h, HANDSHAKE_REJECT_NOT_TLS, "%zu bytes and still no "
		    "complete handshake", h->nraw);
	for (;;) {
		left = h->deadline - net_now_ms();
		if (left <= 0) {
			h->why = HANDSHAKE_REJECT_TIMEOUT;
			log_debug("%s user=-: handshake timeout after %zu bytes",
			    h->who, h->nraw);
			return HANDSHAKE_ERR;
		}
		n = recv(h->fd, h->raw + h->nraw, h->rawcap - h->nraw,
		    MSG_DONTWAIT);
		if (n > 0) {
			h->nraw += (size_t)n;
			return 0;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			log_debug("%s user=-: client left during the handshake",
			    h->who);
			return HANDSHAKE_CLOSED;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return HANDSHAKE_CLOSED;
	}
}

static int
keep_pending(struct handshake *h, const uint8_t *p, size_t n)
{
	uint8_t *np;

	if (n == 0)
		return 0;
	if ((np = realloc(h->pend, h->npend + n)) == NULL)
		return HANDSHAKE_CLOSED;
	memcpy(np + h->npend, p, n);
	h->pend = np;
	h->npend += n;
	return 0;
}

/*
 * 1 if the key was seen before, here or (shared set) by another instance;
 * otherwise it is remembered now. The shared set cannot answer: this
 * instance's word alone.
 */
static int
replayed(struct handshake *h, const uint8_t key[REPLAY_KEY_LEN])
{
	if (h->env->replay == NULL)
		return 0;
	if (replay_check_and_add(h->env->replay, key, h->unix_now) ==
	    REPLAY_SEEN)
		return 1;
	return h->env->shared != NULL &&
	    replay_redis_check_and_add(h->env->shared, key) ==
	    REPLAY_REDIS_SEEN;
}

/* The caller's limits for the user, before anything is sent back. */
static int
admitted(struct handshake *h, size_t user)
{
	const char *why = "limit";

	if (h->admit == NULL || h->admit(h->admit_arg, user, &why) == 0)
		return 0;
	return fail(h, HANDSHAKE_REJECT_LIMIT, "user over a limit (%s)", why);
}

static int
mode_allowed(const struct config *cfg, uint32_t tag)
{
	if (tag == PROTO_TAG_PADDED)
		return (cfg->modes & CONFIG_MODES_SECURE) != 0;
	return (cfg->modes & CONFIG_MODES_CLASSIC) != 0;
}

static int
plain_obfs2(struct handshake *h)
{
	const struct config *cfg = h->env->cfg;
	enum frame_transport t = FRAME_ABRIDGED;
	int rc;

	while (h->nraw < OBFS2_HEADER_LEN)
		if ((rc = more(h)) != 0)
			return rc;
	if (obfs2_parse_from(h->raw, h->env->secrets, h->env->nsecrets,
	    h->first, &h->res) != 0)
		return fail(h, HANDSHAKE_REJECT_BAD_SECRET,
		    "header matches no secret");
	h->trials += h->res.trials;
	if (!mode_allowed(cfg, h->res.tag)) {
		frame_transport_from_tag(h->res.tag, &t);
		return fail(h, HANDSHAKE_REJECT_MODE, "transport %s is not allowed "
		    "by modes", frame_transport_name(t));
	}
	if (replayed(h, h->raw + OBFS2_KEY_OFF))
		return fail(h, HANDSHAKE_REJECT_REPLAY, "obfuscated2 header seen "
		    "before (replay)");
	if ((rc = admitted(h, (size_t)h->res.secret_index)) != 0)
		return rc;
	return keep_pending(h, h->raw + OBFS2_HEADER_LEN,
	    h->nraw - OBFS2_HEADER_LEN);
}

static int
sni_known(const struct config *cfg, const char *sni)
{
	size_t i;

	for (i = 0; i < cfg->ndomains; i++)
		if (strcasecmp(cfg->domains[i], sni) == 0)
			return 1;
	return 0;
}

/*
 * The cover site's reply to a hello of this kind (the TLS path runs only
 * with a domain, so there is always a cover site), and the group to answer
 * with: never one the client did not offer. None: a real server would ask
 * for another share or fail, so the cover site answers instead.
 */
static int
reply_shape(struct handshake *h, const struct faketls_hello *hello,
    struct mask_shape *shape)
{
	uint8_t rnd[4];

	crypto_random(rnd, sizeof(rnd));
	mask_shape_get(h->env->mask,
	    (hello->groups & FAKETLS_OFFER_HYBRID) != 0, rnd, shape);
	if (faketls_reply_group(hello, shape->group, &shape->group) != 0)
		return fail(h, HANDSHAKE_REJECT_TLS_GROUP, "hello offers no "
		    "x25519 key share%s", (hello->groups &
		    FAKETLS_OFFER_HYBRID) ? " and the cover site does not pick "
		    "X25519MLKEM768" : " nor an X25519MLKEM768 one");
	return 0;
}

/*
 * A real share: an x25519 public key, after 1088 random bytes for the
 * hybrid (an ML-KEM ciphertext looks uniform). priv is for the cleanse.
 */
static int
reply_key(uint16_t group, uint8_t priv[TLS_X25519_LEN],
    uint8_t key[FAKETLS_PQ_REPLY_SHARE_LEN])
{
	size_t ct = group == FAKETLS_GROUP_X25519MLKEM768 ?
	    FAKETLS_MLKEM768_CT_LEN : 0;

	if (crypto_random(key, ct) != 0 ||
	    crypto_random(priv, TLS_X25519_LEN) != 0 ||
	    crypto_x25519_public(priv, key + ct) != 0)
		return HANDSHAKE_CLOSED;
	return 0;
}

/*
 * As the cover site sends it: all at once, or the ServerHello first and
 * the rest after its pause (TCP_NODELAY is on: two writes, two segments).
 */
static int
write_reply(struct handshake *h, const struct mask_shape *shape,
    const uint8_t *buf, size_t len)
{
	size_t first = TLS_RECORD_HEADER_LEN + bytes_be16(buf + 3);
	int one = 1;

	if (!shape->ccs_split)
		return net_write_full(h->fd, buf, len);
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (net_write_full(h->fd, buf, first) != 0)
		return HANDSHAKE_CLOSED;
	if (shape->ccs_gap_ms > 0)
		poll(NULL, 0, shape->ccs_gap_ms);
	return net_write_full(h->fd, buf + first, len - first);
}

/* ServerHello, CCS and one ApplicationData record shaped like the cover's. */
static int
send_reply(struct handshake *h, const struct faketls_hello *hello,
    const uint8_t *secret)
{
	uint8_t priv[TLS_X25519_LEN], key[FAKETLS_PQ_REPLY_SHARE_LEN];
	uint8_t *buf = NULL, *fill = NULL;
	struct mask_shape shape;
	struct faketls_reply rp;
	size_t len, i, nfill = 0;
	int rc;

	if ((rc = reply_shape(h, hello, &shape)) != 0)
		return rc;
	rc = HANDSHAKE_CLOSED;
	for (i = 0; i < shape.napp; i++)
		nfill += shape.app_sizes[i];
	if (reply_key(shape.group, priv, key) != 0)
		goto out;
	rp.key_share = key;
	rp.group = shape.group;
	rp.versions_first = shape.versions_first;
	rp.app_sizes = shape.app_sizes;
	rp.napp = shape.napp;
	if ((fill = malloc(nfill)) == NULL || crypto_random(fill, nfill) != 0)
		goto out;
	rp.app_fill = fill;
	if (faketls_reply_len(hello, &rp, &len) != 0 ||
	    (buf = malloc(len)) == NULL ||
	    faketls_reply_build(secret, hello, &rp, buf, len, &len) != 0)
		goto out;
	if (write_reply(h, &shape, buf, len) == 0)
		rc = 0;
out:
	crypto_cleanse(priv, sizeof(priv));
	free(fill);
	free(buf);
	return rc;
}

/* The first 64 bytes inside the client's records: the obfuscated2 header. */
static int
tls_inner(struct handshake *h, size_t off, size_t user)
{
	uint8_t hdr[OBFS2_HEADER_LEN];
	const uint8_t *payload;
	size_t used, plen, take, got = 0;
	int rc;

	faketls_reader_init(&h->rd);
	for (;;) {
		while (off < h->nraw) {
			if (faketls_reader_next(&h->rd, h->raw + off,
			    h->nraw - off, &used, &payload, &plen) != 0)
				return fail(h, HANDSHAKE_REJECT_TLS_INNER,
				    "bad TLS record after the hello");
			off += used;
			take = plen < sizeof(hdr) - got ? plen : sizeof(hdr) - got;
			if (plen == 0)
				continue;	/* a record header or the CCS */
			memcpy(hdr + got, payload, take);
			got += take;
			if ((rc = keep_pending(h, payload + take, plen - take)))
				return rc;
		}
		if (got == sizeof(hdr))
			break;
		if ((rc = more(h)) != 0)
			return rc;
	}
	if (obfs2_parse(hdr, &h->env->secrets[user], 1, &h->res) != 0 ||
	    h->res.tag != PROTO_TAG_PADDED)
		return fail(h, HANDSHAKE_REJECT_TLS_INNER, "no padded-intermediate "
		    "header inside the TLS records");
	h->res.secret_index = (int)user;
	h->tls = 1;
	return 0;
}

static int
tls_checks(struct handshake *h, const struct faketls_hello *hello,
    struct faketls_match *m)
{
	const struct config *cfg = h->env->cfg;
	int64_t now = h->unix_now, oldest;
	uint32_t past = (uint32_t)cfg->time_skew_past;

	if (hello->sni_len == 0 && cfg->require_sni)
		return fail(h, HANDSHAKE_REJECT_TLS_NO_SNI, "hello without a "
		    "server name (require_sni)");
	/* No SNI (iOS, macOS apps): the first domain's, if the digest says so. */
	if (hello->sni_len != 0 && !sni_known(cfg, hello->sni)) {
		if (cfg->unknown_sni == CONFIG_SNI_DROP)
			h->drop = 1;
		return fail(h, HANDSHAKE_REJECT_TLS_SNI, "hello for unknown "
		    "server name '%s'", hello->sni);
	}
	if (faketls_hello_verify_from(h->raw, hello, h->env->secrets,
	    h->env->nsecrets, h->first, m) != 0)
		return fail(h, HANDSHAKE_REJECT_TLS_DIGEST, "TLS hello signed by "
		    "no secret");
	h->trials += m->trials;
	if (h->env->replay != NULL &&
	    replay_oldest(h->env->replay, now, &oldest) == 0)
		past = faketls_skew_past(now, oldest, past,
		    (uint32_t)cfg->time_skew_future);
	if (faketls_time_ok(now, m->ts, past,
	    (uint32_t)cfg->time_skew_future) != 0)
		return fail(h, HANDSHAKE_REJECT_TLS_TIME, "TLS hello time is %lld s "
		    "off", (long long)m->ts - (long long)now);
	if (replayed(h, hello->random))
		return fail(h, HANDSHAKE_REJECT_REPLAY, "TLS hello seen before "
		    "(replay)");
	return admitted(h, m->secret_index);
}

/*
 * 1 if the first 64 bytes are a valid obfuscated2 header for some user. A
 * header no client would send (a hello's 16 03 01 02 among them) is not
 * tried against every secret: with thousands of users that is most of a
 * split hello's cost.
 */
static int
looks_obfs2(struct handshake *h)
{
	struct obfs2_result r;
	int rc;

	if (h->nraw < OBFS2_HEADER_LEN || obfs2_header_forbidden(h->raw))
		return 0;
	rc = obfs2_parse_from(h->raw, h->env->secrets, h->env->nsecrets,
	    h->first, &r);
	h->trials += r.trials;
	return rc == 0;
}

/* Each parse failure its own reason, so that operators can tell them apart. */
static int
hello_refused(struct handshake *h, int rc)
{
	if (rc == FAKETLS_NOT_TLS)
		return fail(h, HANDSHAKE_REJECT_NOT_TLS, "not a TLS record");
	if (rc == FAKETLS_ERR_OVERSIZE)
		return fail(h, HANDSHAKE_REJECT_TLS_TOO_BIG, "TLS hello over "
		    "%d bytes", FAKETLS_HELLO_MAX);
	return fail(h, HANDSHAKE_REJECT_TLS_MALFORMED, "not a TLS hello we "
	    "accept (%d)", rc);
}

/*
 * A random obfuscated2 header may start like a TLS record (only 16 03 01 02
 * is avoided by clients), so where plain modes are allowed a header that
 * matches a secret wins over a hello that is still incomplete or broken.
 */
static int
tls_hello(struct handshake *h, int plain_ok)
{
	struct faketls_hello hello;
	struct faketls_match m;
	int rc, tried = 0;

	for (;;) {
		rc = faketls_hello_parse(h->raw, h->nraw, &hello);
		if (rc != FAKETLS_NEED_MORE)
			break;
		if (plain_ok && !tried && h->nraw >= OBFS2_HEADER_LEN) {
			tried = 1;
			if (looks_obfs2(h))
				return plain_obfs2(h);
		}
		if ((rc = more(h)) != 0)
			return rc;
	}
	if (rc != 0) {
		if (plain_ok && !tried && looks_obfs2(h))
			return plain_obfs2(h);
		return hello_refused(h, rc);
	}
	if ((rc = tls_checks(h, &hello, &m)) != 0)
		return rc;
	if ((rc = send_reply(h, &hello, h->env->secrets[m.secret_index])) != 0)
		return rc;
	return tls_inner(h, hello.wire_len, m.secret_index);
}

int
handshake_run(struct handshake *h)
{
	const struct config *cfg = h->env->cfg;
	int tls_ok = (cfg->modes & CONFIG_MODES_TLS) && cfg->ndomains > 0;
	int plain_ok = (cfg->modes & (CONFIG_MODES_CLASSIC |
	    CONFIG_MODES_SECURE)) != 0;
	int rc;

	h->rawcap = RAW_CAP;
	if ((h->raw = malloc(h->rawcap)) == NULL)
		return HANDSHAKE_CLOSED;
	if ((rc = more(h)) != 0)
		return rc;
	if (tls_ok && h->raw[0] == TLS_RECORD_HANDSHAKE)
		return tls_hello(h, plain_ok);
	if (!plain_ok)
		return fail(h, HANDSHAKE_REJECT_NOT_TLS, "not a TLS hello, and "
		    "only tls is allowed");
	return plain_obfs2(h);
}

void
handshake_free(struct handshake *h)
{
	free(h->raw);
	free(h->pend);
	h->raw = h->pend = NULL;
	crypto_cleanse(&h->res, sizeof(h->res));
}
