/*
 * Baseline relay process. The child copies bytes and nothing else: no
 * handshake, no cipher, no timeouts, no pool (a thread per direction is
 * created and ends with its connection), so whatever mtproxyd costs beyond
 * it is the price of its protocol work and its bookkeeping.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "relay.h"
#include "tclock.h"

/* mtproxyd's defaults: buffer_size and the pool's thread stack (main.c). */
#define RELAY_BUFFER		16384
#define RELAY_STACK		(64 * 1024)
#define RELAY_ACCEPTOR_STACK	(256 * 1024)
#define RELAY_BACKLOG		4096

struct relay_proc {
	pid_t pid;
	int n;
	uint16_t ports[RELAY_MAX_TARGETS];
};

/* The child's state; the listeners live as long as the process. */
struct listener {
	int fd;
	uint16_t target;
	pthread_attr_t *attr;
	atomic_int warned;		/* RELAY_WARN_* bits already printed */
};

struct pair {
	struct listener *l;
	int cfd, ufd;
	atomic_int refs;
};

enum {
	RELAY_WARN_ACCEPT = 1,
	RELAY_WARN_THREAD = 2,
	RELAY_WARN_CONNECT = 4
};

/* A failure is printed once per listener: thousands would drown the run. */
static void
warn_once(struct listener *l, int bit, const char *what, int err)
{
	if (atomic_fetch_or(&l->warned, bit) & bit)
		return;
	fprintf(stderr, "relay: %s: %s (further ones not shown)\n", what,
	    strerror(err));
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
copy(int from, int to)
{
	uint8_t *buf = malloc(RELAY_BUFFER);
	ssize_t n;

	if (buf == NULL)
		return;
	for (;;) {
		n = recv(from, buf, RELAY_BUFFER, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_full(to, buf, (size_t)n) != 0)
			break;
	}
	free(buf);
}

/* Like mtproxyd: shut both down to wake the other thread; last one closes. */
static void
pair_release(struct pair *p)
{
	shutdown(p->cfd, SHUT_RDWR);
	if (p->ufd >= 0)
		shutdown(p->ufd, SHUT_RDWR);
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	close(p->cfd);
	if (p->ufd >= 0)
		close(p->ufd);
	free(p);
}

static void *
upstream_to_client(void *arg)
{
	struct pair *p = arg;

	copy(p->ufd, p->cfd);
	pair_release(p);
	return NULL;
}

static int
connect_target(uint16_t port, int *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
}

static void *
client_to_upstream(void *arg)
{
	struct pair *p = arg;
	pthread_t t;
	int err, one = 1;

	if (connect_target(p->l->target, &p->ufd) != 0) {
		warn_once(p->l, RELAY_WARN_CONNECT, "connect", errno);
		goto out;
	}
	setsockopt(p->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	atomic_store(&p->refs, 2);
	if ((err = pthread_create(&t, p->l->attr, upstream_to_client, p))) {
		atomic_store(&p->refs, 1);
		warn_once(p->l, RELAY_WARN_THREAD, "pthread_create", err);
		goto out;
	}
	copy(p->cfd, p->ufd);
out:
	pair_release(p);
	return NULL;
}

static void *
acceptor(void *arg)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct listener *l = arg;
	struct pair *p;
	pthread_t t;
	int fd, err;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED) {
				warn_once(l, RELAY_WARN_ACCEPT, "accept",
				    errno);
				nanosleep(&pause, NULL);
			}
			continue;
		}
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			close(fd);
			continue;
		}
		p->l = l;
		p->cfd = fd;
		p->ufd = -1;
		atomic_init(&p->refs, 1);
		err = pthread_create(&t, l->attr, client_to_upstream, p);
		if (err != 0) {
			warn_once(l, RELAY_WARN_THREAD, "pthread_create", err);
			close(fd);
			free(p);
		}
	}
	return NULL;
}

static int
listen_loopback(int *fd_out, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, RELAY_BACKLOG) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*fd_out = fd;
	*port = ntohs(sin.sin_port);
	return 0;
}

static int
parse_port(const char *s, uint16_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return RELAY_ERR_ARG;
	*out = (uint16_t)v;
	return 0;
}

static int
start_listeners(struct listener *ls, int n, pthread_attr_t *acc_attr)
{
	uint16_t port;
	pthread_t t;
	int i;

	for (i = 0; i < n; i++) {
		if (listen_loopback(&ls[i].fd, &port) != 0) {
			fprintf(stderr, "relay: listen: %s\n", strerror(errno));
			return RELAY_ERR;
		}
		printf("relay %d %u\n", i, (unsigned)port);
	}
	fflush(stdout);
	for (i = 0; i < n; i++)
		if ((errno = pthread_create(&t, acc_attr, acceptor, &ls[i]))) {
			fprintf(stderr, "relay: acceptor: %s\n",
			    strerror(errno));
			return RELAY_ERR;
		}
	return 0;
}

int
relay_main(int argc, char **argv)
{
	struct listener ls[RELAY_MAX_TARGETS];
	pthread_attr_t attr, acc_attr;
	struct rlimit rl;
	sigset_t set;
	int i, n = argc - 1, sig;

	if (n < 1 || n > RELAY_MAX_TARGETS) {
		fprintf(stderr, "usage: bench --relay PORT...\n");
		return 2;
	}
	memset(ls, 0, sizeof(ls));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, RELAY_STACK);
	pthread_attr_init(&acc_attr);
	pthread_attr_setdetachstate(&acc_attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&acc_attr, RELAY_ACCEPTOR_STACK);
	for (i = 0; i < n; i++) {
		if (parse_port(argv[i + 1], &ls[i].target) != 0) {
			fprintf(stderr, "relay: bad port %s\n", argv[i + 1]);
			return 2;
		}
		ls[i].attr = &attr;
		atomic_init(&ls[i].warned, 0);
	}
	/* As mtproxyd does: every descriptor the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (start_listeners(ls, n, &acc_attr) != 0)
		return 1;
	while (sigwait(&set, &sig) != 0)
		;
	/* Exiting ends every relay thread with the process. */
	return 0;
}

/* --- the parent's side */

/* Read "relay I PORT" lines from fd until all n ports are known. */
static int
read_ports(int fd, struct relay_proc *r, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[512], *line, *nl;
	size_t len = 0;
	unsigned idx, port;
	ssize_t got;
	int known = 0;

	while (known < r->n) {
		if (tclock_now_ms() >= deadline ||
		    poll(&pfd, 1, (int)(deadline - tclock_now_ms())) <= 0)
			return RELAY_ERR_START;
		got = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (got <= 0)
			return RELAY_ERR_START;
		len += (size_t)got;
		buf[len] = '\0';
		for (line = buf; (nl = strchr(line, '\n')) != NULL;
		    line = nl + 1) {
			*nl = '\0';
			if (sscanf(line, "relay %u %u", &idx, &port) != 2 ||
			    idx >= (unsigned)r->n || port == 0 || port > 65535)
				return RELAY_ERR_START;
			r->ports[idx] = (uint16_t)port;
			known++;
		}
		len -= (size_t)(line - buf);
		memmove(buf, line, len);
		if (len == sizeof(buf) - 1)
			return RELAY_ERR_START;
	}
	return 0;
}

/* Between fork and exec: async-signal-safe calls only. */
static void
child_exec(int outfd, pid_t parent, const char *exe, char *const *argv)
{
	static const char msg[] = "relay: exec failed\n";

	if (dup2(outfd, STDOUT_FILENO) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	execv(exe, argv);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(127);
}

int
relay_spawn(const uint16_t *targets, int n, int timeout_ms,
    struct relay_proc **out)
{
	char exe[4096], ports[RELAY_MAX_TARGETS][8];
	char *argv[RELAY_MAX_TARGETS + 3];
	struct relay_proc *r;
	pid_t parent = getpid();
	ssize_t len;
	int pfd[2], i, rc;

	if (n < 1 || n > RELAY_MAX_TARGETS)
		return RELAY_ERR_ARG;
	if ((len = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return RELAY_ERR;
	exe[len] = '\0';
	argv[0] = exe;
	argv[1] = (char *)RELAY_OPTION;
	for (i = 0; i < n; i++) {
		snprintf(ports[i], sizeof(ports[i]), "%u",
		    (unsigned)targets[i]);
		argv[i + 2] = ports[i];
	}
	argv[n + 2] = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return RELAY_ERR;
	r->n = n;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		free(r);
		return RELAY_ERR;
	}
	if ((r->pid = fork()) == 0)
		child_exec(pfd[1], parent, exe, argv);
	close(pfd[1]);
	rc = r->pid < 0 ? RELAY_ERR : read_ports(pfd[0], r, timeout_ms);
	close(pfd[0]);
	if (rc != 0) {
		if (r->pid > 0)
			relay_stop(r, 0);
		else
			free(r);
		return rc;
	}
	*out = r;
	return 0;
}

pid_t
relay_pid(const struct relay_proc *r)
{
	return r->pid;
}

uint16_t
relay_port(const struct relay_proc *r, int i)
{
	return i >= 0 && i < r->n ? r->ports[i] : 0;
}

int
relay_exited(struct relay_proc *r, int *status)
{
	int st;

	if (r->pid <= 0)
		return 1;
	if (waitpid(r->pid, &st, WNOHANG) != r->pid)
		return 0;
	r->pid = 0;
	if (status != NULL)
		*status = st;
	return 1;
}

int
relay_stop(struct relay_proc *r, int timeout_ms)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int64_t deadline = tclock_now_ms() + timeout_ms;
	int rc = 0;

	if (r == NULL)
		return 0;
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		while (!relay_exited(r, NULL) && tclock_now_ms() < deadline)
			nanosleep(&tick, NULL);
		if (r->pid > 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
			rc = RELAY_ERR_KILLED;
		}
	}
	free(r);
	return rc;
}
