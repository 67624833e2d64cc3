/* Acceptor threads: one per listening socket. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "log.h"
#include "net.h"
#include "stats.h"

#define ACCEPT_BACKLOG	1024
#define ACCEPTOR_STACK	(256 * 1024)

struct acceptor;

struct listener {
	struct acceptor *a;
	struct server *srv;
	int fd;
	char name[64];
	pthread_t thread;
	int running;
};

struct acceptor {
	atomic_int stopping;
	size_t n;
	struct listener l[CONFIG_MAX_LISTEN];
};

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
accept_one(struct listener *l)
{
	const struct config *cfg = l->srv->cfg;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char addr[64];
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == ENOBUFS) {
			log_warn("accept on %s: %s; pausing", l->name,
			    strerror(errno));
			pause_ms(100);
		}
		return;
	}
	if (atomic_load(&stats.active) >= cfg->max_clients) {
		atomic_fetch_add(&stats.rejected[STATS_REJECT_MAX_CLIENTS], 1);
		net_addr_str((struct sockaddr *)&peer, addr, sizeof(addr));
		log_warn("%s: max_clients (%d) reached, connection refused",
		    addr, cfg->max_clients);
		close(fd);
		return;
	}
	atomic_fetch_add(&stats.accepted, 1);
	session_start(l->srv, fd, (struct sockaddr *)&peer);
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
listener_name(struct listener *l, const struct config_addr *ca)
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

int
acceptor_start(struct server *srv, struct acceptor **out)
{
	const struct config *cfg = srv->cfg;
	struct acceptor *a;
	pthread_attr_t attr;
	size_t i;
	int rc = 0;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ACCEPTOR_ERR;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, ACCEPTOR_STACK);
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
			log_error("cannot listen on %s port %u: %s", l->name,
			    cfg->port, strerror(errno));
			rc = ACCEPTOR_ERR;
			break;
		}
		a->n++;
		listener_name(l, &cfg->listen[i]);
		if (pthread_create(&l->thread, &attr, listener_main, l) != 0) {
			log_error("cannot start the acceptor for %s", l->name);
			rc = ACCEPTOR_ERR;
			break;
		}
		l->running = 1;
		log_info("listening on %s", l->name);
	}
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		acceptor_stop(a);
		return rc;
	}
	*out = a;
	return 0;
}

void
acceptor_stop(struct acceptor *a)
{
	size_t i;

	atomic_store(&a->stopping, 1);
	/* shutdown() on a listening socket wakes a thread blocked in accept. */
	for (i = 0; i < a->n; i++)
		shutdown(a->l[i].fd, SHUT_RDWR);
	for (i = 0; i < a->n; i++) {
		if (a->l[i].running)
			pthread_join(a->l[i].thread, NULL);
		close(a->l[i].fd);
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
