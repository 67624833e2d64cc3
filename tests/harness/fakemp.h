/*
 * Fake Telegram middle-end (doc/PROTOCOL.md 4) on loopback for the integration
 * tests and the benchmark. It speaks the server side of a real link: the
 * proxy's RPC_NONCE checked (key_select, ±30 s), its own nonce, AES-256-CBC
 * keys derived from the socket's addresses, RPC_HANDSHAKE checked and
 * answered (CRC32C when offered), then CBC-encrypted frames with seq and
 * CRC checked both ways. Every RPC_PROXY_REQ is recorded and, by default,
 * echoed as RPC_PROXY_ANS. Tests drive it with thread-safe controls: quick
 * acks, CLOSE_EXT, pings, dropped links, handshake faults, a closed port.
 *
 * A thread per link reads and dispatches, a second one writes what was
 * queued, so the fake never stops reading while an answer waits to be sent
 * (the output queue is not bounded: it holds what the proxy sent, or what
 * SOURCE mode was asked to send). Links are few; an accept thread also
 * reaps finished links.
 *
 * The same file has the proxy's side of a link, fakemp_client, to test the
 * fake itself and to cross-check the daemon's mux.
 */
#ifndef MTPROXYD_FAKEMP_H
#define MTPROXYD_FAKEMP_H

#include <stddef.h>
#include <stdint.h>

#include "rpc.h"

/*
 * Errors, apart from the RPC_ERR_* range (-1..-19): the client functions
 * return an RPC_ERR_* code (rpc.h) for a frame or message the fake got
 * wrong, e.g. RPC_ERR_CLOCK_SKEW for its nonce or RPC_ERR_CRC.
 */
#define FAKEMP_ERR		(-101)	/* system error: errno says why */
#define FAKEMP_ERR_ARG		(-102)
#define FAKEMP_ERR_TIMEOUT	(-103)
#define FAKEMP_ERR_CLOSED	(-104)	/* the peer closed the link */
#define FAKEMP_ERR_NOLINK	(-105)	/* no ready link to send on */
#define FAKEMP_ERR_UNKNOWN	(-106)	/* nothing recorded for that yet */

enum fakemp_mode {
	/* Answer each RPC_PROXY_REQ with one RPC_PROXY_ANS: flags 0, the
	   same conn_id, the same message bytes. */
	FAKEMP_ECHO,
	FAKEMP_SINK,		/* record and count, never answer */
	FAKEMP_SOURCE		/* answer each request with answer_count
				   RPC_PROXY_ANS of answer_len bytes each */
};

/* How the handshake of each new link goes (fakemp_set_fault). */
enum fakemp_fault {
	FAKEMP_FAULT_NONE,
	FAKEMP_FAULT_REFUSE,	/* accept and close at once */
	FAKEMP_FAULT_STALL,	/* read the nonce, never answer */
	FAKEMP_FAULT_KEY_SELECT, /* answer with another key_select */
	FAKEMP_FAULT_PEER_PID,	/* reply's peer PID is not the proxy's */
	FAKEMP_FAULT_HS_ERROR	/* RPC_HANDSHAKE_ERROR instead of a reply */
};

struct fakemp_opts {
	int family;		/* AF_INET: 127.0.0.1, AF_INET6: ::1 */
	uint16_t port;		/* 0: ephemeral */
	const uint8_t *secret;	/* the proxy secret, 32..256 bytes; copied */
	size_t secret_len;
	/* Seconds added to the time in our nonce (not to our check of the
	   proxy's): the proxy must refuse beyond ±30. */
	int32_t time_offset;
	int crc32_only;		/* reply flags 0 even when offered CRC32C */
	/*
	 * IPv4 addresses for the key derivation (4.4) on IPv4 links instead
	 * of the socket's: clt as the proxy's, srv as ours. With nat_info the
	 * proxy passes both its and our address through the translation.
	 * NULL: the socket's.
	 */
	const char *key_clt_ip;
	const char *key_srv_ip;
	enum fakemp_mode mode;
	size_t answer_len;	/* SOURCE: a multiple of 4, 4..FRAME_MAX_LEN */
	unsigned answer_count;	/* SOURCE: 1.. */
};

/* Counters, all atomic. OPEN and READY go down as well as up. */
enum fakemp_counter {
	FAKEMP_ACCEPTED,	/* connections accepted (REFUSE ones too) */
	FAKEMP_OPEN,		/* links open now */
	FAKEMP_READY,		/* links open now past the handshake */
	FAKEMP_HANDSHAKES,	/* handshakes completed */
	FAKEMP_CRC32C_LINKS,	/* of which switched to CRC32C */
	FAKEMP_REFUSED,		/* closed at once by FAKEMP_FAULT_REFUSE */
	FAKEMP_ACCEPT_ERRORS,	/* accepted, closed for want of memory or
				   a thread */
	/* Links closed, by reason. Nonce stage: */
	FAKEMP_BAD_KEY_SELECT,	/* key_select not our secret's */
	FAKEMP_CLOCK_SKEW,	/* proxy's time off by more than 30 s */
	FAKEMP_BAD_NONCE,	/* any other nonce error (CRC, type, schema) */
	/* Handshake stage (wrong keys show up here as a garbled frame): */
	FAKEMP_BAD_HANDSHAKE,
	/* After the handshake: */
	FAKEMP_BAD_CRC,
	FAKEMP_BAD_SEQ,
	FAKEMP_BAD_FRAMES,	/* bad length, unknown type, malformed body */
	FAKEMP_DROPPED,		/* links closed by fakemp_drop_all */
	/* Traffic: */
	FAKEMP_REQS,		/* RPC_PROXY_REQ received */
	FAKEMP_REQ_BYTES,	/* their message bytes */
	FAKEMP_CONNS,		/* distinct conn_ids seen */
	FAKEMP_CLOSE_CONNS,	/* RPC_CLOSE_CONN received */
	FAKEMP_ANS,		/* RPC_PROXY_ANS queued */
	FAKEMP_ANS_BYTES,	/* their data bytes */
	FAKEMP_ACKS_OUT,	/* RPC_SIMPLE_ACK queued */
	FAKEMP_CLOSE_EXTS_OUT,	/* RPC_CLOSE_EXT queued */
	FAKEMP_PINGS_IN,	/* RPC_PING from the proxy */
	FAKEMP_PONGS_OUT,	/* answered */
	FAKEMP_PINGS_OUT,	/* RPC_PING from fakemp_ping_all */
	FAKEMP_PONGS_IN,	/* RPC_PONG with the id of one of those */
	FAKEMP_BAD_PONGS,	/* RPC_PONG with any other id */
	FAKEMP_NCOUNTERS
};

/* What the fake knows of one conn_id. */
struct fakemp_conn {
	uint64_t reqs;		/* RPC_PROXY_REQ with this conn_id */
	uint64_t bytes;		/* their message bytes */
	uint64_t close_conns;	/* RPC_CLOSE_CONN for it */
	uint64_t link;		/* the link of its last request: 1, 2, ...
				   in accept order */
	uint32_t last_flags;
};

#define FAKEMP_TAG_MAX		64

/* The last RPC_PROXY_REQ. */
struct fakemp_req {
	uint32_t flags;
	uint64_t conn_id;
	struct rpc_endpoint client;	/* IPv4 when sent as ::ffff:a.b.c.d */
	struct rpc_endpoint ours;
	int has_ad_tag;			/* TL_PROXY_TAG present */
	size_t ad_tag_len;		/* its length, even when over MAX */
	uint8_t ad_tag[FAKEMP_TAG_MAX];	/* its first bytes */
	size_t msg_len;
	uint64_t link;
};

/* The last completed handshake. */
struct fakemp_link {
	uint64_t id;			/* 1, 2, ... in accept order */
	uint32_t clt_ts;		/* the proxy's nonce time */
	struct rpc_handshake hs;	/* the proxy's RPC_HANDSHAKE */
	enum rpc_crc crc;		/* what the link uses from seq 0 */
	struct rpc_endpoint clt, srv;	/* as fed to the key derivation */
};

struct fakemp;

int fakemp_start(const struct fakemp_opts *o, struct fakemp **out);
/* Prompt; closes every link and frees everything. NULL is a no-op. */
void fakemp_stop(struct fakemp *mp);

uint16_t fakemp_port(const struct fakemp *mp);
uint64_t fakemp_counter(const struct fakemp *mp, enum fakemp_counter which);
/*
 * Poll until the counter reaches value: equals it for FAKEMP_OPEN and
 * FAKEMP_READY, at least value for the others. 0 or FAKEMP_ERR_TIMEOUT.
 */
int fakemp_wait(const struct fakemp *mp, enum fakemp_counter which,
    uint64_t value, int timeout_ms);

/* Records; FAKEMP_ERR_UNKNOWN before there is one. */
int fakemp_conn_info(struct fakemp *mp, uint64_t conn_id,
    struct fakemp_conn *out);
int fakemp_last_req(struct fakemp *mp, struct fakemp_req *out);
int fakemp_last_link(struct fakemp *mp, struct fakemp_link *out);

/*
 * Controls, from any thread. The answers go on the link that carried the
 * conn_id's last request (FAKEMP_ERR_NOLINK when that link is gone);
 * fakemp_answer takes any ready link for a conn_id never seen, to test
 * the proxy's handling of unknown ids. data: a multiple of 4 bytes.
 */
int fakemp_simple_ack(struct fakemp *mp, uint64_t conn_id, uint32_t confirm);
int fakemp_close_ext(struct fakemp *mp, uint64_t conn_id);
int fakemp_answer(struct fakemp *mp, uint64_t conn_id, uint32_t flags,
    const uint8_t *data, size_t len);
/* An RPC_PING with a fresh id on every ready link; *n gets how many. */
int fakemp_ping_all(struct fakemp *mp, unsigned *n);
/* Close every link as a crash would (FIN, nothing more sent). Wait for
   FAKEMP_OPEN to reach 0; new links are accepted as before. */
void fakemp_drop_all(struct fakemp *mp);
/*
 * Pause us microseconds after each frame a link reads past the handshake
 * (0, the default: none): a middle proxy slow to take frames, so that the
 * proxy's writes back up and its senders wait for the link.
 */
void fakemp_set_read_delay(struct fakemp *mp, int us);
/* Answer the proxy's pings (the default) or not, to look dead. */
void fakemp_set_pong(struct fakemp *mp, int on);
/* For links accepted from now on. */
void fakemp_set_fault(struct fakemp *mp, enum fakemp_fault f);
void fakemp_set_time_offset(struct fakemp *mp, int32_t seconds);
/*
 * Stop listening (connects are refused) or listen again on the same port;
 * links already open stay. Synchronous: 0 once done.
 */
int fakemp_set_listening(struct fakemp *mp, int on);

/* ---- the proxy's side of a link, for tests ---- */

struct fakemp_client_opts {
	int family;		/* AF_INET: 127.0.0.1, AF_INET6: ::1 */
	uint16_t port;
	const uint8_t *secret;	/* 32..256 bytes */
	size_t secret_len;
	uint32_t flags;		/* RPC_HANDSHAKE flags: RPC_FLAG_CRC32C or 0 */
	int32_t time_offset;	/* seconds added to the time in our nonce */
	int32_t key_select;	/* sent instead of the secret's when not 0 */
	int bad_peer_pid;	/* name a peer PID the fake is not */
	const char *key_clt_ip;	/* as in fakemp_opts, from this side */
	const char *key_srv_ip;
	int timeout_ms;		/* connect, nonce and handshake; 0: 3000 */
};

struct fakemp_client;

/* Connect, nonce and handshake like the proxy (doc/PROTOCOL.md 4.3-4.5). */
int fakemp_client_connect(const struct fakemp_client_opts *o,
    struct fakemp_client **out);
/* One frame: next seq, the negotiated CRC, padded, encrypted, all sent. */
int fakemp_client_send(struct fakemp_client *c, const uint8_t *payload,
    size_t len);
/*
 * Plaintext bytes as they are (a hand-made frame: bad CRC, wrong seq),
 * padded to the AES block and encrypted; no seq is used up.
 */
int fakemp_client_send_raw(struct fakemp_client *c, const uint8_t *bytes,
    size_t len);
/*
 * The next frame's payload, padding words skipped, seq and CRC checked;
 * *payload stays valid until the next call on c.
 */
int fakemp_client_recv(struct fakemp_client *c, const uint8_t **payload,
    size_t *len, int timeout_ms);
int32_t fakemp_client_next_seq(const struct fakemp_client *c);
enum rpc_crc fakemp_client_crc(const struct fakemp_client *c);
/* Our RPC_HANDSHAKE and the fake's reply. */
void fakemp_client_handshakes(const struct fakemp_client *c,
    struct rpc_handshake *ours, struct rpc_handshake *reply);
void fakemp_client_close(struct fakemp_client *c);

#endif
