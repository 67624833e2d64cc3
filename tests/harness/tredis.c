/*
 * redis-server for the tests (tredis.h). Started as daemon.c starts
 * mtproxyd: a child that dies with its parent, so a failed check leaves
 * no server behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <hiredis.h>

#include "tclock.h"
#include "tredis.h"

#define TICK_MS		20

struct tredis {
	pid_t pid;
	uint16_t port;
	char password[64];
};

/* A port the kernel hands out now: free for the moment. */
static int
free_port(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, rc = TREDIS_ERR;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return TREDIS_ERR;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		*port = ntohs(a.sin_port);
		rc = 0;
	}
	close(fd);
	return rc;
}

/* The child: async-signal-safe calls only. */
static void
child(const struct tredis *t, pid_t parent)
{
	char port[8];
	char *argv[] = { "redis-server", "--port", port, "--bind", "127.0.0.1",
	    "--save", "", "--appendonly", "no", "--daemonize", "no",
	    "--requirepass", (char *)t->password, NULL };
	int nullfd = open("/dev/null", O_RDWR);

	snprintf(port, sizeof(port), "%u", (unsigned)t->port);
	if (t->password[0] == '\0')
		argv[11] = NULL;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
	    nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(nullfd, 1) < 0 ||
	    dup2(nullfd, 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	_exit(127);
}

static int
ping(const struct tredis *t)
{
	char out[16];

	return tredis_cmd(t, out, sizeof(out), "PING") == 0 &&
	    strcmp(out, "PONG") == 0 ? 0 : TREDIS_ERR;
}

static int
on_path(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

int
tredis_start(uint16_t port, const char *password, int timeout_ms,
    struct tredis **out)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	pid_t parent = getpid();
	struct tredis *t;

	*out = NULL;
	if (!on_path("redis-server"))
		return TREDIS_ERR_MISSING;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return TREDIS_ERR;
	snprintf(t->password, sizeof(t->password), "%s",
	    password != NULL ? password : "");
	t->port = port;
	if ((port == 0 && free_port(&t->port) != 0) || (t->pid = fork()) < 0) {
		free(t);
		return TREDIS_ERR;
	}
	if (t->pid == 0)
		child(t, parent);
	while (ping(t) != 0) {
		if (tclock_now_ms() >= deadline ||
		    waitpid(t->pid, NULL, WNOHANG) != 0) {
			tredis_kill(t);
			return TREDIS_ERR;
		}
		tclock_sleep_ms(TICK_MS);
	}
	*out = t;
	return 0;
}

uint16_t
tredis_port(const struct tredis *t)
{
	return t->port;
}

void
tredis_signal(const struct tredis *t, int sig)
{
	kill(t->pid, sig);
}

void
tredis_kill(struct tredis *t)
{
	if (t == NULL)
		return;
	kill(t->pid, SIGKILL);
	/* A stopped process dies of SIGKILL too; SIGCONT for good measure. */
	kill(t->pid, SIGCONT);
	while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(t);
}

/* The answer as text; arrays and errors refused. */
static int
reply_text(const redisReply *r, char *out, size_t outlen)
{
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		snprintf(out, outlen, "%lld", r->integer);
		return 0;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		snprintf(out, outlen, "%s", r->str);
		return 0;
	case REDIS_REPLY_NIL:
		snprintf(out, outlen, "%s", "");
		return 0;
	default:
		return TREDIS_ERR;
	}
}

/* A fresh connection a command: the tests send few. */
int
tredis_cmd(const struct tredis *t, char *out, size_t outlen, const char *fmt,
    ...)
{
	const struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", t->port, tv);
	redisReply *r = NULL;
	va_list ap;
	int rc = TREDIS_ERR;

	if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK)
		goto out;
	if (t->password[0] != '\0') {
		r = redisCommand(c, "AUTH %s", t->password);
		if (r == NULL || r->type != REDIS_REPLY_STATUS)
			goto out;
		freeReplyObject(r);
	}
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r != NULL)
		rc = reply_text(r, out, outlen);
out:
	freeReplyObject(r);
	redisFree(c);
	return rc;
}
