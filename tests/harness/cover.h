/*
 * A cover site on loopback for the fake-TLS tests: where the proxy relays
 * the connections that fail its checks (doc/PROTOCOL.md 3.6).
 *
 * cover_start runs `openssl s_server -WWW` with a fresh self-signed
 * certificate for the domain, serving index.html with a unique marker;
 * cover_start_echo is a plain TCP echo (no TLS) for byte-exact relaying and
 * close tests; cover_start_tls a scripted TLS 1.3 server that answers a
 * hello's ServerHello as told (group, extension order, segments) and then
 * waits, for the tests of what the proxy's reply copies. Either way the advertised port belongs to one poll thread of
 * ours (for s_server, a relay in front of it), so a test can count the
 * connections the cover saw and check the bytes each one carried.
 * s_server serves one connection at a time: close one before the next.
 */
#ifndef MTPROXYD_COVER_H
#define MTPROXYD_COVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define COVER_ERR		(-1)	/* system error: errno says why */
#define COVER_ERR_NOOPENSSL	(-2)	/* no openssl in PATH: skip */
#define COVER_ERR_TIMEOUT	(-3)
#define COVER_ERR_OPENSSL	(-4)	/* openssl failed: its output was
					   printed to stderr */
#define COVER_ERR_ARG		(-5)

/* First bytes of each connection kept for cover_seen, and how many. */
#define COVER_SEEN_MAX		4096
#define COVER_SEEN_CONNS	64

enum cover_counter {
	COVER_ACCEPTED,		/* connections accepted */
	COVER_OPEN,		/* open now */
	COVER_BYTES_IN,		/* from the peers (the proxy) */
	COVER_BYTES_OUT,	/* to them */
	COVER_EOFS,		/* peers whose FIN arrived */
	COVER_NCOUNTERS
};

struct cover;

/* s_server for domain (CN and SAN DNS), up and accepting within timeout_ms. */
int cover_start(struct cover **out, const char *domain, int timeout_ms);
/* Echo every byte back; a peer's FIN is answered with ours once all is sent. */
int cover_start_echo(struct cover **out);

#define COVER_TLS_MAX_RECORDS	4

/* How the scripted TLS cover answers. */
struct cover_tls {
	int hybrid;		/* picks X25519MLKEM768 when the hello has a
				   share for it; else x25519 */
	int versions_first;	/* supported_versions before key_share */
	int ccs_gap_ms;		/* > 0: the ServerHello alone, the CCS and
				   the rest this much later */
	size_t napp;		/* ApplicationData records, 1.. */
	size_t app_sizes[COVER_TLS_MAX_RECORDS];
};

/*
 * A ClientHello gets ServerHello, CCS and the records (discarding whatever
 * follows); a hello with no share it can take, a handshake_failure alert
 * (no HelloRetryRequest); anything else, nothing. FIN answers FIN.
 */
int cover_start_tls(struct cover **out, const struct cover_tls *tls);
/* Kills s_server (bounded), removes its files, frees cv. NULL is a no-op. */
void cover_stop(struct cover *cv);

uint16_t cover_port(const struct cover *cv);
/* PEM certificate file and the marker in index.html; NULL for an echo. */
const char *cover_cert_path(const struct cover *cv);
const char *cover_marker(const struct cover *cv);

uint64_t cover_counter(const struct cover *cv, enum cover_counter which);
/*
 * Poll until the counter reaches value (equals it for COVER_OPEN, at least
 * value for the others): 0 or COVER_ERR_TIMEOUT.
 */
int cover_wait(const struct cover *cv, enum cover_counter which,
    uint64_t value, int timeout_ms);
/*
 * Of the last COVER_SEEN_CONNS connections, how many received exactly
 * prefix[0..len) first (len 1..COVER_SEEN_MAX).
 */
int cover_seen(const struct cover *cv, const uint8_t *prefix, size_t len);
/*
 * Send FIN on every connection now (what was queued for it is dropped),
 * then read and discard until the peer closes too. Asynchronous: wait for
 * COVER_OPEN.
 */
void cover_close_all(struct cover *cv);

/*
 * Connect to sa (a cover directly, or the proxy), write req[0..len) and
 * read what comes back into resp until the peer closes or resets, cap bytes
 * arrived, or quiet_ms pass without a byte after the first one;
 * timeout_ms bounds the whole (and so a silent peer's wait). *closed: 1 if
 * the peer closed. What a cover site answers to some bytes, to compare
 * with what the same bytes get through the proxy.
 */
int cover_exchange(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *req, size_t len, uint8_t *resp, size_t cap, size_t *n,
    int *closed, int quiet_ms, int timeout_ms);

#endif
