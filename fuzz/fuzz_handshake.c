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
#include <unistd.h>

#include "config.h"
#include "handshake.h"
#include "hsenv.h"
#include "log.h"
#include "mask.h"
#include "net.h"
#include "replay.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW	1764000000	/* the time in the seeds' hellos */
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

static struct hsenv envs[4];
static struct mask *cover;

static void
setup(size_t v)
{
	char text[512];

	snprintf(text, sizeof(text), "%s%s", variants[v], users);
	fuzz_check(hsenv_init(&envs[v], text, cover) == 0);
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

static int
mode_allowed(const struct config *cfg, uint32_t tag)
{
	return (cfg->modes & (tag == PROTO_TAG_PADDED ? CONFIG_MODES_SECURE :
	    CONFIG_MODES_CLASSIC)) != 0;
}

static void
check_result(const struct handshake_env *env, const struct handshake *h,
    int rc, const uint8_t *s, size_t n)
{
	fuzz_check(rc == 0 || rc == HANDSHAKE_ERR || rc == HANDSHAKE_CLOSED);
	fuzz_check(h->nraw <= n &&
	    (h->nraw == 0 || memcmp(h->raw, s, h->nraw) == 0));
	fuzz_check(!h->drop || (rc == HANDSHAKE_ERR &&
	    env->cfg->unknown_sni == CONFIG_SNI_DROP));
	if (rc != 0)
		return;
	fuzz_check(h->res.secret_index >= 0 &&
	    (size_t)h->res.secret_index < env->nsecrets);
	if (h->tls) {
		fuzz_check(h->res.tag == PROTO_TAG_PADDED &&
		    (env->cfg->modes & CONFIG_MODES_TLS));
		return;
	}
	fuzz_check(mode_allowed(env->cfg, h->res.tag));
	fuzz_check(h->nraw >= OBFS2_HEADER_LEN &&
	    h->npend == h->nraw - OBFS2_HEADER_LEN &&
	    (h->npend == 0 || memcmp(h->pend, s + OBFS2_HEADER_LEN,
	    h->npend) == 0));
}

static int
run(const struct handshake_env *env, const uint8_t *cuts, size_t ncuts,
    const uint8_t *s, size_t n, enum handshake_reject *why)
{
	struct handshake h;
	int peer, rc;

	memset(&h, 0, sizeof(h));
	fuzz_check((peer = hsenv_client(cuts, ncuts, s, n, 1, &h.fd)) >= 0);
	h.env = env;
	h.deadline = net_now_ms() + 3600 * 1000;
	h.unix_now = FUZZ_NOW;
	h.who = "fuzz";
	rc = handshake_run(&h);
	check_result(env, &h, rc, s, n);
	*why = h.why;
	handshake_free(&h);
	close(h.fd);
	close(peer);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handshake_env *env;
	enum handshake_reject why;
	size_t ncuts;
	replay *rp;

	if (size == 0)
		return 0;
	ncuts = data[0] & 15;
	env = &envs[data[0] >> 4 & 3].env;
	if (ncuts >= size || size - 1 - ncuts > MAX_STREAM)
		return 0;
	fuzz_check(replay_new(&rp, 64, FAKETLS_REPLAY_WINDOW) == 0);
	env->replay = rp;
	if (run(env, data + 1, ncuts, data + 1 + ncuts, size - 1 - ncuts,
	    &why) == 0) {
		fuzz_check(run(env, data + 1, ncuts, data + 1 + ncuts,
		    size - 1 - ncuts, &why) == HANDSHAKE_ERR &&
		    why == HANDSHAKE_REJECT_REPLAY);
	}
	env->replay = NULL;
	replay_free(rp);
	return 0;
}
