/*
 * The middle-mode target: three fake middle proxies (ECHO, SINK, SOURCE;
 * tests/harness/fakemp.c) on loopback, a proxy secret and a
 * proxy-multi.conf naming them for DC ids 2, 3 and 4, and mtproxyd in
 * middle mode with an ad tag reading those files. The fakes run in the
 * bench process, so their CPU (CBC, CRC32C) is the bench's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "bench.h"
#include "crypto.h"
#include "tclock.h"

#define MP_FILES	2

static const char *const mp_files[MP_FILES] = {
	"proxy-secret", "proxy-multi.conf"
};

static int
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(data, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static int
start_fakes(struct bench *b)
{
	static const enum fakemp_mode modes[LOAD_NDC] = {
		[LOAD_ECHO] = FAKEMP_ECHO, [LOAD_SINK] = FAKEMP_SINK,
		[LOAD_SOURCE] = FAKEMP_SOURCE
	};
	struct bench_middle *m = &b->mid;
	struct fakemp_opts o;
	int i, rc;

	memset(&o, 0, sizeof(o));
	o.family = AF_INET;
	o.secret = m->secret;
	o.secret_len = sizeof(m->secret);
	o.answer_len = LOAD_CHUNK;
	o.answer_count = LOAD_MP_ANSWERS;
	for (i = 0; i < LOAD_NDC; i++) {
		o.mode = modes[i];
		if ((rc = fakemp_start(&o, &m->mp[i])) != 0) {
			fprintf(stderr, "bench: fake middle proxy (%d): %s\n",
			    rc, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The proxy secret and proxy-multi.conf mtproxyd reads instead of
   fetching them from Telegram. */
static int
write_files(struct bench *b)
{
	struct bench_middle *m = &b->mid;
	char conf[256];
	int n;

	snprintf(m->dir, sizeof(m->dir), "/tmp/mtproxyd-bench.XXXXXX");
	if (mkdtemp(m->dir) == NULL) {
		m->dir[0] = '\0';
		return -1;
	}
	n = snprintf(conf, sizeof(conf), "default 2;\n"
	    "proxy_for 2 127.0.0.1:%u;\nproxy_for 3 127.0.0.1:%u;\n"
	    "proxy_for 4 127.0.0.1:%u;\n", fakemp_port(m->mp[LOAD_ECHO]),
	    fakemp_port(m->mp[LOAD_SINK]), fakemp_port(m->mp[LOAD_SOURCE]));
	if (write_file(m->dir, mp_files[0], m->secret, sizeof(m->secret)) !=
	    0 || write_file(m->dir, mp_files[1], conf, (size_t)n) != 0)
		return -1;
	return 0;
}

/* Every link up at the fakes and in mtproxyd's log. */
static int
wait_links(struct bench *b, int timeout_ms)
{
	struct bench_middle *m = &b->mid;
	struct bench_proxy *p = &b->px[T_MIDDLE];
	double deadline = bench_now_s() + timeout_ms / 1000.0;
	int i;

	for (i = 0; i < LOAD_NDC; i++)
		if (fakemp_wait(m->mp[i], FAKEMP_READY, BENCH_MP_LINKS,
		    timeout_ms) != 0)
			return -1;
	while (daemon_log_count(p->d, "link ready") < LOAD_NDC *
	    BENCH_MP_LINKS)
		if (bench_now_s() > deadline)
			return -1;
		else
			tclock_sleep_ms(10);
	for (i = 0; i < LOAD_NDC; i++)
		m->handshakes += fakemp_counter(m->mp[i], FAKEMP_HANDSHAKES);
	return 0;
}

static int
start_daemon(struct bench *b, int start_ms)
{
	struct bench_middle *m = &b->mid;
	struct bench_proxy *p = &b->px[T_MIDDLE];
	struct sockaddr_storage ss;
	uint8_t tag[16];
	char conf[1024], sec[33], tag_hex[33];
	socklen_t len;
	int i, rc;

	if (crypto_random(p->secret, sizeof(p->secret)) != 0 ||
	    crypto_random(tag, sizeof(tag)) != 0)
		return -1;
	bench_hex(p->secret, sizeof(p->secret), sec);
	bench_hex(tag, sizeof(tag), tag_hex);
	snprintf(conf, sizeof(conf),
	    "[server]\nport = 0\nlisten = 127.0.0.1\npublic_host = 127.0.0.1\n"
	    "mode = middle\nmodes = secure\nmax_clients = 10000\n"
	    "log_level = info\nshutdown_grace = 1\nstate_dir = @DIR@\n"
	    "[middle]\nad_tag = %s\nproxy_secret_file = %s/%s\n"
	    "proxy_config_file = %s/%s\nconnections_per_target = %d\n"
	    "[users]\nbench = %s\n", tag_hex, m->dir, mp_files[0], m->dir,
	    mp_files[1], BENCH_MP_LINKS, sec);
	if ((rc = daemon_start(&p->d, conf, NULL, start_ms)) != 0) {
		fprintf(stderr, "bench: cannot start mtproxyd in middle mode "
		    "(%d)\n", rc);
		return -1;
	}
	if (wait_links(b, start_ms) != 0) {
		fprintf(stderr, "bench: mtproxyd's links to the fake middle "
		    "proxies were not ready within %d s\n", start_ms / 1000);
		daemon_dump_log(p->d, stderr);
		return -1;
	}
	if (daemon_addr(p->d, AF_INET, &ss, &len) != 0 ||
	    (p->fds = daemon_count_fds(daemon_pid(p->d))) < 0)
		return -1;
	p->t.name = bench_names[T_MIDDLE];
	p->t.pid = daemon_pid(p->d);
	p->t.secret = p->secret;
	for (i = 0; i < LOAD_NDC; i++)
		bench_dest_set(&p->t.dest[i], ntohs(((struct sockaddr_in *)
		    &ss)->sin_port), i, NULL, m->mp[i]);
	return 0;
}

int
midtarget_start(struct bench *b, int start_ms)
{
	struct bench_middle *m = &b->mid;

	if (crypto_random(m->secret, sizeof(m->secret)) != 0)
		return -1;
	m->secret[0] |= 1;	/* key_select, its first 4 bytes, is not 0 */
	if (start_fakes(b) != 0)
		return -1;
	if (write_files(b) != 0) {
		fprintf(stderr, "bench: cannot write the middle-mode files: "
		    "%s\n", strerror(errno));
		return -1;
	}
	return start_daemon(b, start_ms);
}

/* Links that had to be made again mean a link broke: say so once. */
static void
check_links(struct bench *b, const char *what)
{
	struct bench_middle *m = &b->mid;
	uint64_t hs = 0;
	int i;

	for (i = 0; i < LOAD_NDC; i++)
		hs += fakemp_counter(m->mp[i], FAKEMP_HANDSHAKES);
	if (hs == m->handshakes || m->relinked)
		return;
	m->relinked = 1;
	printf("  !! middle, %s: %llu link(s) to the fake middle proxies made "
	    "again\n", what, (unsigned long long)(hs - m->handshakes));
	bench_note(b, "middle, %s: %llu link(s) to the fake middle proxies "
	    "made again (a link broke)", what,
	    (unsigned long long)(hs - m->handshakes));
	b->broken = 1;
}

/*
 * A fake middle proxy sees a client only through its packets; mtproxyd's
 * open fds show when every client is gone (one socket each).
 */
void
midtarget_quiesce(struct bench *b, const char *what, int timeout_ms)
{
	struct bench_proxy *p = &b->px[T_MIDDLE];
	double deadline = bench_now_s() + timeout_ms / 1000.0;
	int fds;

	check_links(b, what);
	while ((fds = daemon_count_fds(p->t.pid)) > p->fds &&
	    bench_now_s() < deadline)
		tclock_sleep_ms(10);
	if (fds <= p->fds)
		return;
	printf("  !! middle, %s: %d client sockets still open %d s after the "
	    "clients closed\n", what, fds - p->fds, timeout_ms / 1000);
	bench_note(b, "middle, %s: %d client sockets still open %d s after "
	    "the clients closed", what, fds - p->fds, timeout_ms / 1000);
}

void
midtarget_stop(struct bench *b)
{
	struct bench_middle *m = &b->mid;
	char path[128];
	int i;

	for (i = 0; i < LOAD_NDC; i++) {
		fakemp_stop(m->mp[i]);
		m->mp[i] = NULL;
	}
	if (m->dir[0] == '\0')
		return;
	for (i = 0; i < MP_FILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", m->dir, mp_files[i]);
		unlink(path);
	}
	rmdir(m->dir);
	m->dir[0] = '\0';
}
