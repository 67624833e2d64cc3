/*
 * Cover site runner. One poll thread owns the advertised port: as an echo
 * it answers itself; for s_server it relays each connection to the
 * s_server process on a private port. Either way it sees every connection
 * and every byte, which is what the tests ask about. s_server is
 * fork+exec'd with PR_SET_PDEATHSIG so that a test dying on an assertion
 * leaves no process behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cover.h"
#include "crypto.h"
#include "faketls.h"
#include "tclock.h"
#include "tfile.h"

#define COVER_MAX_CONNS		64
#define COVER_BUF		(64 * 1024)	/* per direction */
#define COVER_DIR_TEMPLATE	"/tmp/mtproxyd-cover-XXXXXX"
#define COVER_PATH_MAX		(sizeof(COVER_DIR_TEMPLATE) + 32)
#define COVER_TICK_MS		10
#define COVER_PORT_TRIES	5	/* the port we picked can be taken */
#define COVER_KILL_MS		2000
#define COVER_MARKER_BYTES	12

/* One direction of a connection: from -> buf -> to. */
struct flow {
	int from, to;
	uint8_t buf[COVER_BUF];
	size_t off, len;
	int eof;		/* from sent FIN */
	int shut;		/* our FIN to `to` sent */
};

struct conn {
	int cfd;		/* the peer (the proxy, a test) */
	int ufd;		/* s_server; -1 for an echo */
	struct flow up;		/* peer -> s_server, or peer -> peer */
	struct flow down;	/* s_server -> peer; unused for an echo */
	int closing;		/* cover_close_all: FIN sent, discarding */
	int scripted;		/* cover_start_tls: answer, never echo */
	int answered;
	int dead;
	size_t slot;		/* in the seen ring */
	uint64_t id;
};

struct cover {
	int echo;
	int scripted;
	struct cover_tls tls;
	int lfd;
	uint16_t port;
	struct sockaddr_in upstream;	/* s_server */
	pid_t pid;
	char dir[sizeof(COVER_DIR_TEMPLATE)];
	char cert[COVER_PATH_MAX], key[COVER_PATH_MAX];
	char marker[2 * COVER_MARKER_BYTES + 16];
	pthread_t thread;
	int started;
	int wake[2];
	atomic_int stop, close_all;
	_Atomic uint64_t counters[COVER_NCOUNTERS];
	struct conn *conns[COVER_MAX_CONNS];
	uint64_t next_id;
	pthread_mutex_t mu;		/* the seen ring */
	uint8_t seen[COVER_SEEN_CONNS][COVER_SEEN_MAX];
	size_t seen_len[COVER_SEEN_CONNS];
	uint64_t seen_id[COVER_SEEN_CONNS];
};

static void
count(struct cover *cv, enum cover_counter which, uint64_t n)
{
	atomic_fetch_add(&cv->counters[which], n);
}

static void tls_serve(struct cover *cv, struct conn *k);

/* ---- the poll thread ---- */

static void
record_seen(struct cover *cv, const struct conn *k, const uint8_t *p,
    size_t n)
{
	size_t room;

	pthread_mutex_lock(&cv->mu);
	if (cv->seen_id[k->slot] == k->id) {
		room = COVER_SEEN_MAX - cv->seen_len[k->slot];
		if (n > room)
			n = room;
		memcpy(cv->seen[k->slot] + cv->seen_len[k->slot], p, n);
		cv->seen_len[k->slot] += n;
	}
	pthread_mutex_unlock(&cv->mu);
}

static void
flow_read(struct cover *cv, struct conn *k, struct flow *f)
{
	ssize_t r;

	if (f->eof || f->len == COVER_BUF)
		return;
	if (f->off > 0) {
		memmove(f->buf, f->buf + f->off, f->len - f->off);
		f->len -= f->off;
		f->off = 0;
	}
	r = recv(f->from, f->buf + f->len, COVER_BUF - f->len, MSG_DONTWAIT);
	if (r > 0 && f->from == k->cfd) {
		count(cv, COVER_BYTES_IN, (uint64_t)r);
		record_seen(cv, k, f->buf + f->len, (size_t)r);
	}
	if (r > 0 && !k->closing)
		f->len += (size_t)r;
	else if (r == 0) {
		f->eof = 1;
		if (f->from == k->cfd)
			count(cv, COVER_EOFS, 1);
	} else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)
		k->dead = 1;
}

static void
flow_write(struct cover *cv, struct conn *k, struct flow *f)
{
	ssize_t w;

	if (f->off < f->len) {
		w = send(f->to, f->buf + f->off, f->len - f->off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			if (f->to == k->cfd)
				count(cv, COVER_BYTES_OUT, (uint64_t)w);
			f->off += (size_t)w;
			if (f->off == f->len)
				f->off = f->len = 0;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			k->dead = 1;
	}
	/* All of it passed on: pass the FIN on too. */
	if (f->eof && f->off == f->len && !f->shut) {
		shutdown(f->to, SHUT_WR);
		f->shut = 1;
	}
}

static int
conn_done(const struct conn *k)
{
	if (k->dead)
		return 1;
	if (k->closing)
		return k->up.eof;
	return k->up.shut && (k->ufd < 0 || k->down.shut);
}

static void
conn_free(struct cover *cv, struct conn *k)
{
	close(k->cfd);
	if (k->ufd >= 0)
		close(k->ufd);
	free(k);
	atomic_fetch_sub(&cv->counters[COVER_OPEN], 1);
}

/* FIN to the peer now; nothing more goes anywhere. */
static void
conn_close(struct conn *k)
{
	shutdown(k->cfd, SHUT_WR);
	if (k->ufd >= 0) {
		close(k->ufd);
		k->ufd = -1;
	}
	k->closing = 1;
	k->up.off = k->up.len = 0;
	k->down.off = k->down.len = 0;
	k->up.shut = k->down.shut = k->down.eof = 1;
}

static int
connect_upstream(const struct cover *cv, int *fd)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (s < 0)
		return COVER_ERR;
	if (connect(s, (const struct sockaddr *)&cv->upstream,
	    sizeof(cv->upstream)) != 0 ||
	    fcntl(s, F_SETFL, O_NONBLOCK) != 0) {
		close(s);
		return COVER_ERR;
	}
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fd = s;
	return 0;
}

static void
conn_add(struct cover *cv, int fd)
{
	struct conn *k;
	size_t i;

	for (i = 0; i < COVER_MAX_CONNS && cv->conns[i] != NULL; i++)
		;
	if (i == COVER_MAX_CONNS || (k = calloc(1, sizeof(*k))) == NULL) {
		close(fd);
		return;
	}
	k->cfd = fd;
	k->ufd = -1;
	k->scripted = cv->scripted;
	if (!cv->echo && connect_upstream(cv, &k->ufd) != 0) {
		free(k);
		close(fd);
		return;
	}
	k->up.from = fd;
	k->up.to = cv->echo ? fd : k->ufd;
	k->down.from = k->ufd;
	k->down.to = fd;
	k->id = ++cv->next_id;
	k->slot = (size_t)(k->id % COVER_SEEN_CONNS);
	pthread_mutex_lock(&cv->mu);
	cv->seen_id[k->slot] = k->id;
	cv->seen_len[k->slot] = 0;
	pthread_mutex_unlock(&cv->mu);
	cv->conns[i] = k;
	count(cv, COVER_ACCEPTED, 1);
	count(cv, COVER_OPEN, 1);
}

static void
accept_all(struct cover *cv)
{
	int fd, one = 1;

	while ((fd = accept4(cv->lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		conn_add(cv, fd);
	}
}

static short
want_peer(const struct conn *k)
{
	const struct flow *to_peer = k->ufd < 0 && !k->closing ? &k->up :
	    &k->down;
	short ev = 0;

	if (k->closing || (!k->up.eof && k->up.len < COVER_BUF))
		ev |= POLLIN;
	if (to_peer->off < to_peer->len && !k->scripted)
		ev |= POLLOUT;
	return ev;
}

static short
want_upstream(const struct conn *k)
{
	short ev = 0;

	if (!k->down.eof && k->down.len < COVER_BUF)
		ev |= POLLIN;
	if (k->up.off < k->up.len)
		ev |= POLLOUT;
	return ev;
}

static void
service(struct cover *cv, struct conn *k, short pev, short uev)
{
	if ((pev | uev) & POLLERR)
		k->dead = 1;
	if (pev & (POLLIN | POLLHUP))
		flow_read(cv, k, &k->up);
	if (uev & (POLLIN | POLLHUP))
		flow_read(cv, k, &k->down);
	if (k->scripted && !k->closing)
		tls_serve(cv, k);
	if (!k->closing) {
		flow_write(cv, k, &k->up);
		if (k->ufd >= 0)
			flow_write(cv, k, &k->down);
	}
}

static void
drain_wake(struct cover *cv)
{
	char buf[64];
	size_t i;

	while (read(cv->wake[0], buf, sizeof(buf)) > 0)
		;
	if (atomic_exchange(&cv->close_all, 0) == 0)
		return;
	for (i = 0; i < COVER_MAX_CONNS; i++)
		if (cv->conns[i] != NULL && !cv->conns[i]->closing)
			conn_close(cv->conns[i]);
}

static void *
loop(void *arg)
{
	struct pollfd p[2 + 2 * COVER_MAX_CONNS];
	struct cover *cv = arg;
	struct conn *k;
	size_t i;

	p[0] = (struct pollfd){ .fd = cv->lfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = cv->wake[0], .events = POLLIN };
	while (!atomic_load(&cv->stop)) {
		for (i = 0; i < COVER_MAX_CONNS; i++) {
			k = cv->conns[i];
			p[2 + 2 * i].fd = k != NULL ? k->cfd : -1;
			p[2 + 2 * i].events = k != NULL ? want_peer(k) : 0;
			p[3 + 2 * i].fd = k != NULL ? k->ufd : -1;
			p[3 + 2 * i].events = k != NULL ? want_upstream(k) : 0;
			p[2 + 2 * i].revents = p[3 + 2 * i].revents = 0;
		}
		if (poll(p, 2 + 2 * COVER_MAX_CONNS, 1000) <= 0)
			continue;
		if (p[1].revents)
			drain_wake(cv);
		if (p[0].revents)
			accept_all(cv);
		for (i = 0; i < COVER_MAX_CONNS; i++) {
			if ((k = cv->conns[i]) == NULL ||
			    p[2 + 2 * i].fd != k->cfd)
				continue;
			service(cv, k, p[2 + 2 * i].revents,
			    p[3 + 2 * i].revents);
			if (conn_done(k)) {
				conn_free(cv, k);
				cv->conns[i] = NULL;
			}
		}
	}
	return NULL;
}

/* ---- processes and files ---- */

/* openssl's path in $PATH, into path. */
static int
find_openssl(char *path, size_t len)
{
	const char *env = getenv("PATH"), *p, *end;

	for (p = env != NULL ? env : "/usr/bin:/bin"; *p != '\0'; p = end) {
		end = p + strcspn(p, ":");
		snprintf(path, len, "%.*s/openssl", (int)(end - p), p);
		if (end > p && access(path, X_OK) == 0)
			return 0;
		if (*end == ':')
			end++;
	}
	return COVER_ERR_NOOPENSSL;
}

/* Child side: async-signal-safe calls only (the test may have threads). */
static void
child(const char *bin, char *const argv[], const char *dir, int outfd,
    pid_t parent)
{
	sigset_t none;
	int sig, nullfd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	if ((nullfd = open("/dev/null", O_RDONLY)) < 0 ||
	    dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0 ||
	    chdir(dir) != 0)
		_exit(127);
	close_range(3, ~0U, 0);
	execv(bin, argv);
	_exit(127);
}

/* bin argv... in dir, output appended to dir/openssl.log. */
static int
spawn(const char *bin, char *const argv[], const char *dir, pid_t *pid)
{
	char log[COVER_PATH_MAX];
	pid_t parent = getpid();
	int fd;

	snprintf(log, sizeof(log), "%s/openssl.log", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return COVER_ERR;
	if ((*pid = fork()) == 0)
		child(bin, argv, dir, fd, parent);
	close(fd);
	return *pid > 0 ? 0 : COVER_ERR;
}

/* Wait for pid up to timeout_ms, SIGKILL after that. */
static int
reap(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) == 0 &&
	    tclock_now_ms() < deadline)
		tclock_sleep_ms(COVER_TICK_MS);
	if (r == pid)
		return 0;
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return COVER_ERR_TIMEOUT;
}

static void
dump_log(const char *dir)
{
	char path[COVER_PATH_MAX], buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/openssl.log", dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end ----\n");
	fclose(f);
}

/* index.html with a marker no other page holds. */
static int
write_index(struct cover *cv)
{
	uint8_t r[COVER_MARKER_BYTES];
	char path[COVER_PATH_MAX], html[256];
	size_t i;
	int n;

	if (crypto_random(r, sizeof(r)) != 0)
		return COVER_ERR;
	n = snprintf(cv->marker, sizeof(cv->marker), "cover-");
	for (i = 0; i < sizeof(r); i++)
		n += snprintf(cv->marker + n, sizeof(cv->marker) - (size_t)n,
		    "%02x", r[i]);
	snprintf(path, sizeof(path), "%s/index.html", cv->dir);
	snprintf(html, sizeof(html), "<html><body>%s</body></html>\n",
	    cv->marker);
	return tfile_write(path, html, strlen(html)) == 0 ? 0 : COVER_ERR;
}

static int
make_cert(struct cover *cv, const char *bin, const char *domain,
    int timeout_ms)
{
	char subj[300], san[300];
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
	    "-days", "1", "-subj", subj, "-addext", san,
	    "-keyout", cv->key, "-out", cv->cert, NULL };
	int status = -1, rc;
	pid_t pid;

	snprintf(subj, sizeof(subj), "/CN=%s", domain);
	snprintf(san, sizeof(san), "subjectAltName=DNS:%s", domain);
	if ((rc = spawn(bin, argv, cv->dir, &pid)) != 0)
		return rc;
	if ((rc = reap(pid, timeout_ms, &status)) != 0)
		return rc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return COVER_ERR_OPENSSL;
	return 0;
}

static int
listen_loopback(uint16_t port, int *fd, uint16_t *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int s, one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return COVER_ERR;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s, 128) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
		close(s);
		return COVER_ERR;
	}
	*fd = s;
	*bound = ntohs(a.sin_port);
	return 0;
}

/* s_server's port answers a connect; COVER_ERR_OPENSSL if it exited. */
static int
wait_accepting(struct cover *cv, int64_t deadline)
{
	int fd, status;

	for (;;) {
		if (waitpid(cv->pid, &status, WNOHANG) == cv->pid) {
			cv->pid = -1;
			return COVER_ERR_OPENSSL;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return COVER_ERR;
		if (connect(fd, (struct sockaddr *)&cv->upstream,
		    sizeof(cv->upstream)) == 0) {
			close(fd);
			return 0;
		}
		close(fd);
		if (tclock_now_ms() >= deadline)
			return COVER_ERR_TIMEOUT;
		tclock_sleep_ms(COVER_TICK_MS);
	}
}

static void
stop_server(struct cover *cv)
{
	int status;

	if (cv->pid <= 0)
		return;
	kill(cv->pid, SIGTERM);
	(void)reap(cv->pid, COVER_KILL_MS, &status);
	cv->pid = -1;
}

/* A free port is picked, closed and handed to s_server: retry if taken. */
static int
run_server(struct cover *cv, const char *bin, int64_t deadline)
{
	char accept[32];
	char *argv[] = { "openssl", "s_server", "-accept", accept,
	    "-cert", cv->cert, "-key", cv->key, "-WWW", "-quiet", NULL };
	uint16_t port;
	int i, fd, rc = COVER_ERR_OPENSSL;

	for (i = 0; i < COVER_PORT_TRIES && rc == COVER_ERR_OPENSSL; i++) {
		if ((rc = listen_loopback(0, &fd, &port)) != 0)
			return rc;
		close(fd);
		snprintf(accept, sizeof(accept), "127.0.0.1:%u",
		    (unsigned)port);
		cv->upstream.sin_family = AF_INET;
		cv->upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cv->upstream.sin_port = htons(port);
		if ((rc = spawn(bin, argv, cv->dir, &cv->pid)) != 0)
			return rc;
		rc = wait_accepting(cv, deadline);
	}
	return rc;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
cover_new(struct cover **out, int echo)
{
	struct cover *cv;

	if ((cv = calloc(1, sizeof(*cv))) == NULL)
		return COVER_ERR;
	cv->echo = echo;
	cv->lfd = cv->wake[0] = cv->wake[1] = -1;
	cv->pid = -1;
	pthread_mutex_init(&cv->mu, NULL);
	*out = cv;
	if (pipe2(cv->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		return COVER_ERR;
	return listen_loopback(0, &cv->lfd, &cv->port);
}

static int
start_thread(struct cover *cv)
{
	if (pthread_create(&cv->thread, NULL, loop, cv) != 0)
		return COVER_ERR;
	cv->started = 1;
	return 0;
}

static int
start_site(struct cover *cv, const char *domain, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	char bin[512];
	int rc;

	if ((rc = find_openssl(bin, sizeof(bin))) != 0)
		return rc;
	snprintf(cv->dir, sizeof(cv->dir), "%s", COVER_DIR_TEMPLATE);
	if (mkdtemp(cv->dir) == NULL) {
		cv->dir[0] = '\0';
		return COVER_ERR;
	}
	snprintf(cv->cert, sizeof(cv->cert), "%s/cert.pem", cv->dir);
	snprintf(cv->key, sizeof(cv->key), "%s/key.pem", cv->dir);
	if ((rc = write_index(cv)) != 0 ||
	    (rc = make_cert(cv, bin, domain, timeout_ms)) != 0 ||
	    (rc = run_server(cv, bin, deadline)) != 0)
		return rc;
	return start_thread(cv);
}

int
cover_start(struct cover **out, const char *domain, int timeout_ms)
{
	struct cover *cv = NULL;
	int rc;

	if (out == NULL || domain == NULL || *domain == '\0' ||
	    strlen(domain) > 253 || strpbrk(domain, "/,\\\n") != NULL)
		return COVER_ERR_ARG;
	if ((rc = cover_new(&cv, 0)) == 0)
		rc = start_site(cv, domain, timeout_ms);
	if (rc != 0) {
		if (rc == COVER_ERR_OPENSSL || rc == COVER_ERR_TIMEOUT)
			dump_log(cv->dir);
		cover_stop(cv);
		return rc;
	}
	*out = cv;
	return 0;
}

int
cover_start_tls(struct cover **out, const struct cover_tls *tls)
{
	struct cover *cv = NULL;
	int rc;

	if (out == NULL || tls == NULL || tls->napp == 0 ||
	    tls->napp > COVER_TLS_MAX_RECORDS)
		return COVER_ERR_ARG;
	if ((rc = cover_new(&cv, 1)) == 0) {
		cv->scripted = 1;
		cv->tls = *tls;
		rc = start_thread(cv);
	}
	if (rc != 0) {
		cover_stop(cv);
		return rc;
	}
	*out = cv;
	return 0;
}

int
cover_start_echo(struct cover **out)
{
	struct cover *cv = NULL;
	int rc;

	if (out == NULL)
		return COVER_ERR_ARG;
	if ((rc = cover_new(&cv, 1)) == 0)
		rc = start_thread(cv);
	if (rc != 0) {
		cover_stop(cv);
		return rc;
	}
	*out = cv;
	return 0;
}

void
cover_stop(struct cover *cv)
{
	size_t i;

	if (cv == NULL)
		return;
	if (cv->started) {
		atomic_store(&cv->stop, 1);
		(void)!write(cv->wake[1], "", 1);
		pthread_join(cv->thread, NULL);
	}
	for (i = 0; i < COVER_MAX_CONNS; i++)
		if (cv->conns[i] != NULL)
			conn_free(cv, cv->conns[i]);
	stop_server(cv);
	if (cv->lfd >= 0)
		close(cv->lfd);
	if (cv->wake[0] >= 0) {
		close(cv->wake[0]);
		close(cv->wake[1]);
	}
	if (cv->dir[0] != '\0' &&
	    nftw(cv->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "cover: could not remove %s: %s\n", cv->dir,
		    strerror(errno));
	pthread_mutex_destroy(&cv->mu);
	free(cv);
}

uint16_t
cover_port(const struct cover *cv)
{
	return cv->port;
}

const char *
cover_cert_path(const struct cover *cv)
{
	return cv->echo ? NULL : cv->cert;
}

const char *
cover_marker(const struct cover *cv)
{
	return cv->echo ? NULL : cv->marker;
}

uint64_t
cover_counter(const struct cover *cv, enum cover_counter which)
{
	if ((unsigned)which >= COVER_NCOUNTERS)
		return 0;
	return atomic_load(&((struct cover *)cv)->counters[which]);
}

int
cover_wait(const struct cover *cv, enum cover_counter which, uint64_t value,
    int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	uint64_t v;

	for (;;) {
		v = cover_counter(cv, which);
		if (which == COVER_OPEN ? v == value : v >= value)
			return 0;
		if (tclock_now_ms() >= deadline)
			return COVER_ERR_TIMEOUT;
		tclock_sleep_ms(COVER_TICK_MS);
	}
}

int
cover_seen(const struct cover *cv, const uint8_t *prefix, size_t len)
{
	struct cover *m = (struct cover *)cv;
	int n = 0;
	size_t i;

	if (cv == NULL || prefix == NULL || len == 0 || len > COVER_SEEN_MAX)
		return COVER_ERR_ARG;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < COVER_SEEN_CONNS; i++)
		n += m->seen_id[i] != 0 && m->seen_len[i] >= len &&
		    memcmp(m->seen[i], prefix, len) == 0;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void
cover_close_all(struct cover *cv)
{
	atomic_store(&cv->close_all, 1);
	(void)!write(cv->wake[1], "", 1);
}

/* ---- a raw exchange ---- */

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		if ((left = deadline - tclock_now_ms()) <= 0)
			return COVER_ERR_TIMEOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return COVER_ERR;
	}
}

static int
exchange_connect(const struct sockaddr *sa, socklen_t salen,
    int64_t deadline, int *out)
{
	socklen_t elen = sizeof(int);
	int fd, err = 0, rc = 0;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return COVER_ERR;
	if (connect(fd, sa, salen) != 0) {
		rc = COVER_ERR;
		if (errno == EINPROGRESS &&
		    (rc = wait_fd(fd, POLLOUT, deadline)) == 0 &&
		    (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
		    err != 0))
			rc = COVER_ERR;
	}
	if (rc != 0) {
		close(fd);
		if (err != 0)
			errno = err;
		return rc;
	}
	*out = fd;
	return 0;
}

/* All of req, unless the peer stops taking it (it closed: go read). */
static int
exchange_write(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	ssize_t w;
	int rc;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0)
				return rc;
		} else if (errno == EPIPE || errno == ECONNRESET)
			return 0;
		else if (errno != EINTR)
			return COVER_ERR;
	}
	return 0;
}

static void
exchange_read(int fd, uint8_t *resp, size_t cap, size_t *n, int *closed,
    int quiet_ms, int64_t deadline)
{
	int64_t until;
	ssize_t r;

	*n = 0;
	*closed = 0;
	while (*n < cap) {
		/* A slow first byte is not the end of the answer. */
		until = *n == 0 ? deadline : tclock_now_ms() + quiet_ms;
		if (wait_fd(fd, POLLIN, until < deadline ? until : deadline)
		    != 0)
			return;
		r = recv(fd, resp + *n, cap - *n, MSG_DONTWAIT);
		if (r > 0)
			*n += (size_t)r;
		else if (r == 0 || errno == ECONNRESET) {
			*closed = 1;
			return;
		} else if (errno != EAGAIN && errno != EINTR)
			return;
	}
}

int
cover_exchange(const struct sockaddr *sa, socklen_t salen,
    const uint8_t *req, size_t len, uint8_t *resp, size_t cap, size_t *n,
    int *closed, int quiet_ms, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	int fd, rc;

	if (sa == NULL || (req == NULL && len > 0) || resp == NULL ||
	    n == NULL || closed == NULL)
		return COVER_ERR_ARG;
	if ((rc = exchange_connect(sa, salen, deadline, &fd)) != 0)
		return rc;
	if ((rc = exchange_write(fd, req, len, deadline)) == 0)
		exchange_read(fd, resp, cap, n, closed, quiet_ms, deadline);
	close(fd);
	return rc;
}

/* ---- the scripted TLS cover ---- */

#define TLS_REPLY_MAX	(2048 + COVER_TLS_MAX_RECORDS * (5 + 16640))

/*
 * The reply to hello h: built by the codec with a throw-away secret, so
 * that its random is as random as a server's; the key share is a real
 * x25519 key after random bytes for the hybrid's ciphertext.
 */
static int
tls_reply(const struct cover *cv, const struct faketls_hello *h,
    uint8_t *out, size_t *len)
{
	static uint8_t fill[COVER_TLS_MAX_RECORDS * 16640];
	uint8_t secret[SECRET_LEN], priv[32], key[FAKETLS_PQ_REPLY_SHARE_LEN];
	struct faketls_reply rp;
	size_t ct;

	memset(&rp, 0, sizeof(rp));
	if (faketls_reply_group(h, cv->tls.hybrid ?
	    FAKETLS_GROUP_X25519MLKEM768 : TLS_GROUP_X25519, &rp.group) != 0)
		return COVER_ERR;
	ct = rp.group == TLS_GROUP_X25519 ? 0 : FAKETLS_MLKEM768_CT_LEN;
	if (crypto_random(secret, sizeof(secret)) != 0 ||
	    crypto_random(priv, sizeof(priv)) != 0 ||
	    crypto_random(key, ct) != 0 ||
	    crypto_x25519_public(priv, key + ct) != 0 ||
	    crypto_random(fill, sizeof(fill)) != 0)
		return COVER_ERR;
	rp.key_share = key;
	rp.versions_first = cv->tls.versions_first;
	rp.app_sizes = cv->tls.app_sizes;
	rp.napp = cv->tls.napp;
	rp.app_fill = fill;
	return faketls_reply_build(secret, h, &rp, out, TLS_REPLY_MAX, len) == 0 ?
	    0 : COVER_ERR;
}

static void
tls_answer(struct cover *cv, struct conn *k, const struct faketls_hello *h)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02,
	    0x28 };	/* fatal handshake_failure */
	static uint8_t out[TLS_REPLY_MAX];	/* the poll thread's */
	int64_t deadline = tclock_now_ms() + COVER_KILL_MS;
	size_t len, first;

	if (tls_reply(cv, h, out, &len) != 0) {
		if (exchange_write(k->cfd, alert, sizeof(alert), deadline) != 0)
			k->dead = 1;
		count(cv, COVER_BYTES_OUT, sizeof(alert));
		return;
	}
	first = cv->tls.ccs_gap_ms > 0 ? 5 + ((size_t)out[3] << 8 | out[4]) :
	    len;
	if (exchange_write(k->cfd, out, first, deadline) != 0)
		k->dead = 1;
	/* The poll thread stops for it: a server busy signing. */
	if (first < len)
		tclock_sleep_ms(cv->tls.ccs_gap_ms);
	if (exchange_write(k->cfd, out + first, len - first, deadline) != 0)
		k->dead = 1;
	count(cv, COVER_BYTES_OUT, len);
}

/* Wait for the whole hello, answer it once, then drop what comes. */
static void
tls_serve(struct cover *cv, struct conn *k)
{
	struct faketls_hello h;
	int rc;

	if (!k->answered) {
		rc = faketls_hello_parse(k->up.buf, k->up.len, &h);
		if (rc == FAKETLS_NEED_MORE && k->up.len < COVER_BUF &&
		    !k->up.eof)
			return;
		k->answered = 1;
		if (rc == 0)
			tls_answer(cv, k, &h);
	}
	k->up.off = k->up.len = 0;
}
