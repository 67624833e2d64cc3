/* Acceptor threads: one per listening socket. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "session.h"
#include "stats.h"

#define ACCEPT_BACKLOG	1024
#define ACCEPTOR_STACK	(256 * 1024)
#define ACCEPT_PAUSE_MS	100
#define ACCEPT_WARN_MS	10000	/* one line per cause at most */
#define EVICT_WAIT_MS	20	/* for an evicted session to close */

struct acceptor;

struct listener {
	struct acceptor *a;
	struct server *srv;
	int fd;
	int spare;			/* given up to refuse a client */
	char name[64];
	pthread_t thread;
	int running;
};

struct acceptor {
	atomic_int stopping;
	struct log_limit fd_warn, mem_warn, max_warn;
	size_t n;
	struct listener l[CONFIG_MAX_LISTEN];
};

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Out of descriptors. accept4 then fails at once whether or not a client
 * waits, and a client that does would wait in the backlog for a slot that
 * may not come for minutes. Wait a little for a client; if no slot has
 * come free for it meanwhile, close a handshake in progress (a silent one
 * first) and take its slot; if there is none, give up the spare descriptor kept for this,
 * accept it and close it at once, and keep a spare again. Without a spare
 * (another thread took the slot) just wait. The client's socket, or -1.
 */
static int
accept_at_limit(struct listener *l, int why, struct sockaddr_storage *peer,
    socklen_t *len)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	unsigned long long held;
	int fd;

	if (poll(&p, 1, ACCEPT_PAUSE_MS) <= 0)
		return -1;
	fd = accept4(l->fd, (struct sockaddr *)peer, len, SOCK_CLOEXEC);
	if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
		return fd;
	/* Silent sockets hold the descriptors: the oldest makes room. */
	if (session_evict(l->srv, NULL) == 0) {
		pause_ms(EVICT_WAIT_MS);
		fd = accept4(l->fd, (struct sockaddr *)peer, len, SOCK_CLOEXEC);
		if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
			return fd;
	}
	if (l->spare < 0 &&
	    (l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		pause_ms(ACCEPT_PAUSE_MS);
		return -1;
	}
	close(l->spare);
	if ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
		atomic_fetch_add(&l->srv->stats.rejected[STATS_REJECT_NO_FD], 1);
	}
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (log_limit_pass(&l->a->fd_warn, ACCEPT_WARN_MS, &held))
		log_warn("accept on %s: %s; refusing new connections until "
		    "descriptors are free (%llu more since the last such line)",
		    l->name, strerror(why), held);
	return -1;
}

/* accept4 failed: the client's socket after all, or -1. */
static int
accept_failed(struct listener *l, int why, struct sockaddr_storage *peer,
    socklen_t *len)
{
	unsigned long long held;

	if (why == EMFILE || why == ENFILE)
		return accept_at_limit(l, why, peer, len);
	if (why == ENOMEM || why == ENOBUFS) {
		if (log_limit_pass(&l->a->mem_warn, ACCEPT_WARN_MS, &held))
			log_warn("accept on %s: %s; pausing (%llu more since "
			    "the last such line)", l->name, strerror(why),
			    held);
		pause_ms(ACCEPT_PAUSE_MS);
	}
	return -1;
}

static void
accept_one(struct listener *l)
{
	struct server *srv = l->srv;
	const struct config *cfg = srv->cfg;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	unsigned long long held;
	long long hs;
	char addr[64];
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	if (fd < 0 && (fd = accept_failed(l, errno, &peer, &len)) < 0)
		return;
	/*
	 * Handshakes in progress have their own max_clients: a flood of
	 * silent sockets takes the place of its own oldest, not a client's.
	 */
	hs = atomic_load(&srv->handshaking);
	if (atomic_load(&srv->active) - hs >= cfg->max_clients) {
		atomic_fetch_add(&srv->stats.rejected[STATS_REJECT_MAX_CLIENTS],
		    1);
		net_addr_str((struct sockaddr *)&peer, addr, sizeof(addr));
		if (log_limit_pass(&l->a->max_warn, ACCEPT_WARN_MS, &held))
			log_warn("%s: max_clients (%d) reached, connection "
			    "refused (%llu more since the last such line)",
			    addr, cfg->max_clients, held);
		close(fd);
		return;
	}
	if (hs >= cfg->max_clients)
		(void)session_evict(srv, NULL);
	atomic_fetch_add(&srv->stats.accepted, 1);
	session_start(srv, fd, (struct sockaddr *)&peer);
}

static void *
listener_main(void *arg)
{
	struct listener *l = arg;

	while (!atomic_load(&l->a->stopping))
		accept_one(l);
	return NULL;
}

/* The address actually bound (port 0 asks the kernel for one). */
static void
listener_name(struct listener *l, const struct net_addr *ca)
{
	struct sockaddr_storage ss = ca->ss;
	uint16_t port = 0;

	net_local_port(l->fd, &port);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	net_addr_str((struct sockaddr *)&ss, l->name, sizeof(l->name));
}

/* What to do about a failed bind, for the one line a failed start prints. */
static const char *
listen_advice(int err, uint16_t port)
{
	if (err == EADDRINUSE)
		return "; another process has that port (ss -ltnp shows "
		    "which): stop it, or set another [server] port";
	if (err == EACCES && port < 1024)
		return "; a port below 1024 needs CAP_NET_BIND_SERVICE: "
		    "setcap 'cap_net_bind_service=+ep' on the mtproxyd binary, "
		    "AmbientCapabilities=CAP_NET_BIND_SERVICE in its systemd "
		    "unit, or a [server] port of 1024 or more";
	if (err == EADDRNOTAVAIL)
		return "; no interface has that address: fix [server] listen";
	return "";
}

/*
 * Accepted sockets inherit it, and the SYN-ACK announces it: the client
 * then sends its first bytes (the hello) in segments this small.
 */
static int
set_mss(struct listener *l, int mss)
{
	if (mss == 0 ||
	    setsockopt(l->fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) == 0)
		return 0;
	log_error("cannot set [server] client_mss %d on %s: %s", mss, l->name,
	    strerror(errno));
	return ACCEPTOR_ERR;
}

int
acceptor_bind(struct server *srv, struct acceptor **out)
{
	const struct config *cfg = srv->cfg;
	struct acceptor *a;
	size_t i;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ACCEPTOR_ERR;
	for (i = 0; i < cfg->nlisten; i++) {
		struct listener *l = &a->l[a->n];

		l->a = a;
		l->srv = srv;
		if (net_listen(&cfg->listen[i], cfg->port, ACCEPT_BACKLOG,
		    &l->fd) != 0) {
			net_addr_str((const struct sockaddr *)&cfg->listen[i].ss,
			    l->name, sizeof(l->name));
			/* The default listens on :: too; a host may lack IPv6. */
			if (errno == EAFNOSUPPORT && i > 0) {
				log_warn("not listening on %s: %s", l->name,
				    strerror(errno));
				continue;
			}
			log_error("cannot listen on %s port %u: %s%s",
			    l->name, cfg->port, strerror(errno),
			    listen_advice(errno, cfg->port));
			goto fail;
		}
		a->n++;
		listener_name(l, &cfg->listen[i]);
		if (set_mss(l, cfg->client_mss) != 0)
			goto fail;
		if ((l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
			log_error("cannot open /dev/null: %s", strerror(errno));
			goto fail;
		}
	}
	*out = a;
	return 0;
fail:
	acceptor_stop(a);
	return ACCEPTOR_ERR;
}

int
acceptor_run(struct acceptor *a)
{
	pthread_attr_t attr;
	size_t i;
	int rc = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, ACCEPTOR_STACK);
	for (i = 0; i < a->n; i++) {
		struct listener *l = &a->l[i];

		if (pthread_create(&l->thread, &attr, listener_main, l) != 0) {
			log_error("cannot start the acceptor for %s", l->name);
			rc = ACCEPTOR_ERR;
			break;
		}
		l->running = 1;
		log_info("listening on %s", l->name);
	}
	pthread_attr_destroy(&attr);
	return rc;
}

void
acceptor_stop(struct acceptor *a)
{
	size_t i;

	if (a == NULL)
		return;
	atomic_store(&a->stopping, 1);
	/* shutdown() on a listening socket wakes a thread blocked in accept. */
	for (i = 0; i < a->n; i++)
		shutdown(a->l[i].fd, SHUT_RDWR);
	for (i = 0; i < a->n; i++) {
		if (a->l[i].running)
			pthread_join(a->l[i].thread, NULL);
		close(a->l[i].fd);
		if (a->l[i].spare >= 0)
			close(a->l[i].spare);
	}
	free(a);
}

uint16_t
acceptor_port(const struct acceptor *a)
{
	uint16_t port = 0;

	if (a->n > 0)
		net_local_port(a->l[0].fd, &port);
	return port;
}
