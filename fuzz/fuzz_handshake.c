/*
 * The client handshake (handshake_run) on bytes that arrive in pieces. The
 * first byte: bits 0-3 how many piece sizes follow (1..256 bytes each,
 * cycled; none: one piece), bits 4-5 which configuration runs. The rest is
 * what the client sends, written as SOCK_SEQPACKET messages so that each
 * read takes at most one piece, then EOF: nothing waits for real time. Two
 * users with known secrets, domain example.com, the clock at FUZZ_NOW, no
 * cover site (the fallback reply shape). Whatever the bytes: what was read
 * is a prefix of the input; an accepted client is a user, on a transport
 * the configuration allows, with the bytes after its header kept; and the
 * very same bytes again are refused as a replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "handshake.h"
#include "log.h"
#include "mask.h"
#include "net.h"
#include "replay.h"
#include "server.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW	1764000000	/* the time in the seeds' hellos */
#define MAX_PIECES	48		/* well within a socket's buffer */
#define MAX_STREAM	(FAKETLS_HELLO_MAX + 8192)

static const char users[] =
    "[users]\n"
    "alice = 000102030405060708090a0b0c0d0e0f\n"
    "bob = f0e1d2c3b4a5968778695a4b3c2d1e0f\n";

static const char *const variants[4] = {
	"[server]\nmodes = classic, secure, tls\n[tls]\ndomain = example.com\n",
	("[server]\nmodes = tls\n[tls]\ndomain = example.com\n"
	    "unknown_sni = drop\n"),
	"[server]\nmodes = secure, tls\n[tls]\ndomain = example.com\n",
	"[server]\nmodes = classic, secure\n",
};

static struct config cfgs[4];
static struct server srvs[4];
static struct mask *cover;

static void
setup(size_t v)
{
	struct config *cfg = &cfgs[v];
	struct server *srv = &srvs[v];
	char text[512], err[256];
	size_t i;

	snprintf(text, sizeof(text), "%s%s", variants[v], users);
	config_defaults(cfg);
	fuzz_check(config_load_buffer(text, strlen(text), cfg, err,
	    sizeof(err)) == 0 && config_validate(cfg, err, sizeof(err)) == 0);
	srv->cfg = cfg;
	srv->mask = cover;
	srv->nsecrets = cfg->nusers;
	fuzz_check((srv->secrets = calloc(cfg->nusers, SECRET_LEN)) != NULL);
	for (i = 0; i < cfg->nusers; i++)
		memcpy(srv->secrets[i], cfg->users[i].secret, SECRET_LEN);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config none;
	size_t v;

	(void)argc;
	(void)argv;
	log_set_level(LOGL_ERROR);
	/* No domain: no target, no probe thread, the fallback shape. */
	config_defaults(&none);
	fuzz_check(mask_new(&none, &cover) == 0);
	for (v = 0; v < 4; v++)
		setup(v);
	return 0;
}

/* The client's side: the pieces, then EOF. */
static int
client(const uint8_t *cuts, size_t ncuts, const uint8_t *s, size_t n,
    int *fd)
{
	size_t pos = 0, piece, k;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	for (k = 0; pos < n; k++) {
		piece = ncuts == 0 || k == MAX_PIECES - 1 ? n - pos :
		    (size_t)cuts[k % ncuts] + 1;
		if (piece > n - pos)
			piece = n - pos;
		fuzz_check(send(sv[0], s + pos, piece, MSG_DONTWAIT |
		    MSG_NOSIGNAL) == (ssize_t)piece);
		pos += piece;
	}
	shutdown(sv[0], SHUT_WR);
	*fd = sv[1];
	return sv[0];
}

static int
mode_allowed(const struct config *cfg, uint32_t tag)
{
	return (cfg->modes & (tag == PROTO_TAG_PADDED ? CONFIG_MODES_SECURE :
	    CONFIG_MODES_CLASSIC)) != 0;
}

static void
check_result(const struct server *srv, const struct handshake *h, int rc,
    const uint8_t *s, size_t n)
{
	fuzz_check(rc == 0 || rc == HANDSHAKE_ERR || rc == HANDSHAKE_CLOSED);
	fuzz_check(h->nraw <= n &&
	    (h->nraw == 0 || memcmp(h->raw, s, h->nraw) == 0));
	fuzz_check(!h->drop || (rc == HANDSHAKE_ERR &&
	    srv->cfg->unknown_sni == CONFIG_SNI_DROP));
	if (rc != 0)
		return;
	fuzz_check(h->res.secret_index >= 0 &&
	    (size_t)h->res.secret_index < srv->nsecrets);
	if (h->tls) {
		fuzz_check(h->res.tag == PROTO_TAG_PADDED &&
		    (srv->cfg->modes & CONFIG_MODES_TLS));
		return;
	}
	fuzz_check(mode_allowed(srv->cfg, h->res.tag));
	fuzz_check(h->nraw >= OBFS2_HEADER_LEN &&
	    h->npend == h->nraw - OBFS2_HEADER_LEN &&
	    (h->npend == 0 || memcmp(h->pend, s + OBFS2_HEADER_LEN,
	    h->npend) == 0));
}

static int
run(struct server *srv, const uint8_t *cuts, size_t ncuts, const uint8_t *s,
    size_t n, enum stats_reject *why)
{
	struct handshake h;
	int peer, rc;

	memset(&h, 0, sizeof(h));
	if ((peer = client(cuts, ncuts, s, n, &h.fd)) < 0)
		return HANDSHAKE_CLOSED;
	h.srv = srv;
	h.deadline = net_now_ms() + 3600 * 1000;
	h.unix_now = FUZZ_NOW;
	h.who = "fuzz";
	rc = handshake_run(&h);
	check_result(srv, &h, rc, s, n);
	*why = h.why;
	handshake_free(&h);
	close(h.fd);
	close(peer);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server *srv;
	enum stats_reject why;
	size_t ncuts;
	replay *rp;

	if (size == 0)
		return 0;
	ncuts = data[0] & 15;
	srv = &srvs[data[0] >> 4 & 3];
	if (ncuts >= size || size - 1 - ncuts > MAX_STREAM)
		return 0;
	fuzz_check(replay_new(&rp, 64, FAKETLS_REPLAY_WINDOW) == 0);
	srv->replay = rp;
	if (run(srv, data + 1, ncuts, data + 1 + ncuts, size - 1 - ncuts,
	    &why) == 0) {
		fuzz_check(run(srv, data + 1, ncuts, data + 1 + ncuts,
		    size - 1 - ncuts, &why) == HANDSHAKE_ERR &&
		    why == STATS_REJECT_REPLAY);
	}
	srv->replay = NULL;
	replay_free(rp);
	return 0;
}
