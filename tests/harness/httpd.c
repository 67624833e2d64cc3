/*
 * Test HTTP server. The path table lives under a mutex; the server thread
 * copies an answer out before writing it, so a test may change a path
 * while a slow client is being served. Socket timeouts bound every read
 * and write, which bounds httpd_stop too.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "httpd.h"

#define HTTPD_IO_MS		2000
#define HTTPD_LOCATION_MAX	512

struct path {
	char path[HTTPD_PATH_MAX];
	int status;
	char location[HTTPD_LOCATION_MAX];	/* empty: none */
	uint8_t *body;
	size_t len;
	unsigned requests;
};

struct httpd {
	int lfd;
	int wake[2];
	uint16_t port;
	pthread_t thread;
	atomic_int stop;
	atomic_int date_offset;		/* seconds added to the Date header */

	pthread_mutex_t mu;
	/* Under mu. */
	struct path paths[HTTPD_MAX_PATHS];
	size_t npaths;
	char last[HTTPD_HEAD_MAX];
};

/* An answer copied out of the table. */
struct answer {
	int status;
	char location[HTTPD_LOCATION_MAX];
	uint8_t *body;
	size_t len;
};

/* Under mu: the entry for path, made (404, empty) if new; NULL if full. */
static struct path *
path_get(struct httpd *h, const char *path)
{
	struct path *p;
	size_t i;

	for (i = 0; i < h->npaths; i++)
		if (strcmp(h->paths[i].path, path) == 0)
			return &h->paths[i];
	if (h->npaths == HTTPD_MAX_PATHS)
		return NULL;
	p = &h->paths[h->npaths++];
	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->status = 404;
	return p;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 404: return "Not Found";
	case 500: return "Internal Server Error";
	default: return "Status";
	}
}

/* ---- one connection ---- */

static void
io_timeouts(int fd)
{
	struct timeval tv = { HTTPD_IO_MS / 1000, (HTTPD_IO_MS % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* The request head up to the blank line; 0 or -1. */
static int
read_head(int fd, char *head, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < cap) {
		n = recv(fd, head + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL) {
			*strstr(head, "\r\n\r\n") = '\0';
			return 0;
		}
	}
	return -1;
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Count the request and copy its answer out; 404 for a full table. */
static int
lookup(struct httpd *h, const char *head, const char *path, struct answer *a)
{
	struct path *p;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	a->status = 404;
	pthread_mutex_lock(&h->mu);
	snprintf(h->last, sizeof(h->last), "%s", head);
	if ((p = path_get(h, path)) != NULL) {
		p->requests++;
		a->status = p->status;
		memcpy(a->location, p->location, sizeof(a->location));
		if (p->len > 0 && (a->body = malloc(p->len)) == NULL)
			rc = -1;
		else if (p->len > 0) {
			memcpy(a->body, p->body, p->len);
			a->len = p->len;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static void
serve(struct httpd *h, int fd)
{
	char head[HTTPD_HEAD_MAX], path[HTTPD_PATH_MAX], hdr[1024], date[64];
	time_t now = time(NULL) + atomic_load(&h->date_offset);
	struct answer a;
	struct tm tm;
	int n;

	io_timeouts(fd);
	if (read_head(fd, head, sizeof(head)) != 0 ||
	    sscanf(head, "GET %255s HTTP/1.", path) != 1 ||
	    lookup(h, head, path, &a) != 0)
		return;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
	    gmtime_r(&now, &tm));
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %d %s\r\nDate: %s\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
	    a.status, reason(a.status), date, a.len,
	    a.location[0] != '\0' ? "Location: " : "", a.location,
	    a.location[0] != '\0' ? "\r\n" : "");
	if (n > 0 && (size_t)n < sizeof(hdr) &&
	    send_all(fd, hdr, (size_t)n) == 0)
		send_all(fd, a.body, a.len);
	free(a.body);
}

static void *
httpd_main(void *arg)
{
	struct httpd *h = arg;
	struct pollfd pfd[2];
	int fd;

	while (!atomic_load(&h->stop)) {
		pfd[0].fd = h->lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = h->wake[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((fd = accept(h->lfd, NULL, NULL)) < 0)
			continue;
		serve(h, fd);
		close(fd);
	}
	return NULL;
}

/* ---- the API ---- */

static int
listen_loopback(struct httpd *h)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if ((h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return HTTPD_ERR;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(h->lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(h->lfd, 16) != 0 ||
	    getsockname(h->lfd, (struct sockaddr *)&sin, &len) != 0)
		return HTTPD_ERR;
	h->port = ntohs(sin.sin_port);
	return 0;
}

int
httpd_start(struct httpd **out)
{
	struct httpd *h;
	int err;

	if (out == NULL)
		return HTTPD_ERR_ARG;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return HTTPD_ERR;
	h->wake[0] = h->wake[1] = -1;
	pthread_mutex_init(&h->mu, NULL);
	if (listen_loopback(h) != 0 || pipe(h->wake) != 0)
		goto fail;
	if ((err = pthread_create(&h->thread, NULL, httpd_main, h)) != 0) {
		errno = err;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	err = errno;
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->wake[0] >= 0) {
		close(h->wake[0]);
		close(h->wake[1]);
	}
	pthread_mutex_destroy(&h->mu);
	free(h);
	errno = err;
	return HTTPD_ERR;
}

void
httpd_stop(struct httpd *h)
{
	size_t i;

	if (h == NULL)
		return;
	atomic_store(&h->stop, 1);
	if (write(h->wake[1], "x", 1) != 1)
		shutdown(h->lfd, SHUT_RDWR);
	pthread_join(h->thread, NULL);
	close(h->lfd);
	close(h->wake[0]);
	close(h->wake[1]);
	for (i = 0; i < h->npaths; i++)
		free(h->paths[i].body);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

uint16_t
httpd_port(const struct httpd *h)
{
	return h->port;
}

int
httpd_set(struct httpd *h, const char *path, const void *body, size_t len,
    int status)
{
	struct path *p;
	uint8_t *copy = NULL;

	if (h == NULL || path == NULL || path[0] != '/' ||
	    strlen(path) >= HTTPD_PATH_MAX || status < 100 || status > 999 ||
	    (body == NULL && len > 0))
		return HTTPD_ERR_ARG;
	if (len > 0 && (copy = malloc(len)) == NULL)
		return HTTPD_ERR;
	if (len > 0)
		memcpy(copy, body, len);
	pthread_mutex_lock(&h->mu);
	if ((p = path_get(h, path)) != NULL) {
		free(p->body);
		p->body = copy;
		p->len = len;
		p->status = status;
		p->location[0] = '\0';
		copy = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	free(copy);
	return p != NULL ? 0 : HTTPD_ERR_ARG;
}

int
httpd_redirect(struct httpd *h, const char *path, const char *location)
{
	int rc;

	if (location == NULL || strlen(location) >= HTTPD_LOCATION_MAX ||
	    strpbrk(location, "\r\n") != NULL)
		return HTTPD_ERR_ARG;
	if ((rc = httpd_set(h, path, NULL, 0, 302)) != 0)
		return rc;
	pthread_mutex_lock(&h->mu);
	snprintf(path_get(h, path)->location, HTTPD_LOCATION_MAX, "%s",
	    location);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

unsigned
httpd_requests(struct httpd *h, const char *path)
{
	struct path *p;
	unsigned n = 0;

	pthread_mutex_lock(&h->mu);
	if ((p = path_get(h, path)) != NULL)
		n = p->requests;
	pthread_mutex_unlock(&h->mu);
	return n;
}

void
httpd_last(struct httpd *h, char *out, size_t cap)
{
	if (cap == 0)
		return;
	pthread_mutex_lock(&h->mu);
	snprintf(out, cap, "%s", h->last);
	pthread_mutex_unlock(&h->mu);
}

void
httpd_date_offset(struct httpd *h, int seconds)
{
	atomic_store(&h->date_offset, seconds);
}
