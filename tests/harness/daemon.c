/*
 * Daemon runner. The child is fork+exec'd with PR_SET_PDEATHSIG so that a
 * test dying on a failed assertion does not leave a daemon behind; all
 * inherited descriptors except the log are closed so that /proc/PID/fd
 * counts only what the daemon opened itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon.h"
#include "tclock.h"
#include "tfile.h"

#define DAEMON_TICK_MS		5
#define DAEMON_LATE_LISTEN_MS	500
#define DAEMON_DIR_TEMPLATE	"/tmp/mtproxyd-test-XXXXXX"
#define DAEMON_CONF		"mtproxyd.conf"
#define DAEMON_LOG		"daemon.log"
#define DAEMON_OUTPUT		"output.log"
#define DAEMON_SUBST		"@DIR@"
#define DAEMON_LISTEN_MARK	"listening on "
/* Tests and the bench live in BUILD/tests/DIR/, the daemon in BUILD/src/. */
#define DAEMON_BUILD_SRC	"/../../src/"

struct daemon_proc {
	pid_t pid;
	int reaped, status;
	char dir[sizeof(DAEMON_DIR_TEMPLATE)];
	char conf[sizeof(DAEMON_DIR_TEMPLATE) + sizeof(DAEMON_CONF) + 1];
	char log[sizeof(DAEMON_DIR_TEMPLATE) + sizeof(DAEMON_LOG) + 1];
	size_t nlisten;
	struct sockaddr_storage listen[DAEMON_MAX_LISTEN];
	socklen_t listen_len[DAEMON_MAX_LISTEN];
};

/* BUILD/src/name of the build tree this program was built in, resolved. */
static int
build_file(const char *name, char *out)
{
	char exe[PATH_MAX], path[PATH_MAX + 64], *slash;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return DAEMON_ERR;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s" DAEMON_BUILD_SRC "%s", exe, name);
	return realpath(path, out) != NULL ? 0 : DAEMON_ERR;
}

static int
older(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec < b->st_mtim.tv_sec ||
	    (a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec < b->st_mtim.tv_nsec);
}

/*
 * A copied build tree once ran its old daemon unnoticed: bin must be the
 * daemon of this program's build tree and no older than that tree's
 * library (else make did not relink it), unless DAEMON_BIN_ANY is set.
 */
static int
check_binary(const char *bin)
{
	char real[PATH_MAX], want[PATH_MAX], lib[PATH_MAX];
	struct stat bst, lst;

	if (access(bin, X_OK) != 0 || stat(bin, &bst) != 0) {
		fprintf(stderr, "MTPROXYD_BIN=%s: not an executable: %s\n",
		    bin, strerror(errno));
		return DAEMON_ERR_BIN;
	}
	if (getenv(DAEMON_BIN_ANY) != NULL)
		return 0;
	if (realpath(bin, real) == NULL ||
	    build_file("mtproxyd", want) != 0 || strcmp(real, want) != 0) {
		fprintf(stderr, "MTPROXYD_BIN=%s is not the daemon of this "
		    "build tree (../../src/mtproxyd from this test); set "
		    DAEMON_BIN_ANY "=1 to run it anyway\n", bin);
		return DAEMON_ERR_BIN;
	}
	if (build_file("libmtproxyd.a", lib) == 0 && stat(lib, &lst) == 0 &&
	    older(&bst, &lst)) {
		fprintf(stderr, "MTPROXYD_BIN=%s is older than %s: stale, "
		    "run make\n", bin, lib);
		return DAEMON_ERR_BIN;
	}
	return 0;
}

static int
binary(const char **out)
{
	const char *bin = getenv("MTPROXYD_BIN");

	if (bin == NULL || *bin == '\0') {
		fprintf(stderr, "MTPROXYD_BIN is not set: point it at the "
		    "mtproxyd binary (make check does)\n");
		return DAEMON_ERR_NOBIN;
	}
	*out = bin;
	return check_binary(bin);
}

/* s with every DAEMON_SUBST replaced by dir; malloc'd. */
static char *
subst_dir(const char *s, const char *dir)
{
	size_t n = 0, slen = strlen(DAEMON_SUBST), dlen = strlen(dir);
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, DAEMON_SUBST)) != NULL; p += slen)
		n++;
	if ((out = malloc(strlen(s) + n * dlen + 1)) == NULL)
		return NULL;
	for (o = out; (p = strstr(s, DAEMON_SUBST)) != NULL; s = p + slen) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, dir, dlen);
		o += dlen;
	}
	strcpy(o, s);
	return out;
}

/* The whole file, NUL-terminated; NULL on error. */
static char *
slurp(const char *path)
{
	size_t len = 0, cap = 8192;
	char *buf = NULL, *p;
	ssize_t r = 1;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	while (r != 0) {
		if (buf == NULL || cap - len < 2) {
			cap *= 2;
			if ((p = realloc(buf, cap)) == NULL)
				break;
			buf = p;
		}
		if ((r = read(fd, buf + len, cap - len - 1)) < 0 &&
		    errno != EINTR)
			break;
		if (r > 0)
			len += (size_t)r;
	}
	close(fd);
	if (r != 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static void
finish_dir(const char *dir)
{
	if (getenv("KEEP_DAEMON_DIR") != NULL)
		fprintf(stderr, "KEEP_DAEMON_DIR: kept %s\n", dir);
	else if (tfile_rm_tree(dir) != 0)
		fprintf(stderr, "could not remove %s: %s\n", dir,
		    strerror(errno));
}

static void
free_argv(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* bin [-c conf] args..., each arg with DAEMON_SUBST replaced. */
static char **
build_argv(const char *bin, const char *conf, const char *const *args,
    const char *dir)
{
	size_t n = 0, i = 0;
	char **argv;

	while (args != NULL && args[n] != NULL)
		n++;
	if ((argv = calloc(n + 4, sizeof(*argv))) == NULL)
		return NULL;
	if ((argv[i++] = strdup(bin)) == NULL)
		goto fail;
	if (conf != NULL && ((argv[i++] = strdup("-c")) == NULL ||
	    (argv[i++] = strdup(conf)) == NULL))
		goto fail;
	for (; n > 0; n--, args++)
		if ((argv[i++] = subst_dir(*args, dir)) == NULL)
			goto fail;
	return argv;
fail:
	free_argv(argv);
	return NULL;
}

/* Child side of spawn: async-signal-safe calls only (we may have threads). */
static void
child(char *const argv[], int nullfd, int outfd, pid_t parent)
{
	static const char msg[] = "daemon harness: exec failed: ";
	sigset_t none;
	int sig;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	if (dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	execv(argv[0], argv);
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, argv[0], strlen(argv[0]));
	(void)!write(2, "\n", 1);
	_exit(127);
}

static int
spawn(char *const argv[], const char *outpath, pid_t *pid)
{
	pid_t parent = getpid();
	int outfd, nullfd, rc = DAEMON_ERR;

	outfd = open(outpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (outfd >= 0 && nullfd >= 0 && (*pid = fork()) >= 0) {
		if (*pid == 0)
			child(argv, nullfd, outfd, parent);
		rc = 0;
	}
	if (outfd >= 0)
		close(outfd);
	if (nullfd >= 0)
		close(nullfd);
	return rc;
}

/* Wait for pid; SIGKILL it after timeout_ms (DAEMON_ERR_TIMEOUT). */
static int
reap(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) == 0 &&
	    tclock_now_ms() < deadline)
		tclock_sleep_ms(DAEMON_TICK_MS);
	if (r == pid)
		return 0;
	if (r < 0)
		return DAEMON_ERR;
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return DAEMON_ERR_TIMEOUT;
}

/* "127.0.0.1:40123" or "[::1]:40123" at p. */
static int
parse_addr(const char *p, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *start = p, *end;
	unsigned long port;
	char *e;

	if (*p == '[') {
		start = p + 1;
		end = strchr(start, ']');
	} else
		end = start + strcspn(start, ": \t\r\n");
	if (end == NULL || (size_t)(end - start) >= sizeof(host))
		return -1;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	p = *end == ']' ? end + 1 : end;
	if (*p != ':')
		return -1;
	port = strtoul(p + 1, &e, 10);
	if (e == p + 1 || port == 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else
		return -1;
	return 0;
}

/* Rebuild the listener list from the whole log. */
static void
parse_listeners(struct daemon_proc *d)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *log, *p;
	size_t i;

	if ((log = slurp(d->log)) == NULL)
		return;
	d->nlisten = 0;
	for (p = log; (p = strstr(p, DAEMON_LISTEN_MARK)) != NULL; ) {
		p += strlen(DAEMON_LISTEN_MARK);
		if (parse_addr(p, &ss, &len) != 0)
			continue;
		for (i = 0; i < d->nlisten; i++)
			if (d->listen_len[i] == len &&
			    memcmp(&d->listen[i], &ss, len) == 0)
				break;
		if (i == d->nlisten && d->nlisten < DAEMON_MAX_LISTEN) {
			d->listen[d->nlisten] = ss;
			d->listen_len[d->nlisten++] = len;
		}
	}
	free(log);
}

static int
wait_listening(struct daemon_proc *d, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;

	for (;;) {
		parse_listeners(d);
		if (d->nlisten > 0)
			return 0;
		if (daemon_exited(d, NULL))
			return DAEMON_ERR_EXITED;
		if (tclock_now_ms() >= deadline)
			return DAEMON_ERR_TIMEOUT;
		tclock_sleep_ms(DAEMON_TICK_MS);
	}
}

static int
make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "%s", DAEMON_DIR_TEMPLATE);
	return mkdtemp(dir) != NULL ? 0 : DAEMON_ERR;
}

static int
start(struct daemon_proc *d, const char *bin, const char *conf_text,
    const char *const *extra_args, int timeout_ms)
{
	char *text, **argv;
	int rc;

	if ((rc = make_dir(d->dir, sizeof(d->dir))) != 0)
		return rc;
	snprintf(d->conf, sizeof(d->conf), "%s/%s", d->dir, DAEMON_CONF);
	snprintf(d->log, sizeof(d->log), "%s/%s", d->dir, DAEMON_LOG);
	if ((text = subst_dir(conf_text, d->dir)) == NULL)
		return DAEMON_ERR;
	rc = tfile_write(d->conf, text, strlen(text)) == 0 ? 0 : DAEMON_ERR;
	free(text);
	if (rc != 0)
		return rc;
	if ((argv = build_argv(bin, d->conf, extra_args, d->dir)) == NULL)
		return DAEMON_ERR;
	rc = spawn(argv, d->log, &d->pid);
	free_argv(argv);
	if (rc != 0)
		return rc;
	return wait_listening(d, timeout_ms);
}

static const char *
err_name(int rc)
{
	switch (rc) {
	case DAEMON_ERR_TIMEOUT:
		return "no \"" DAEMON_LISTEN_MARK "\" line in time";
	case DAEMON_ERR_EXITED:
		return "exited before listening";
	}
	return strerror(errno);
}

int
daemon_start(struct daemon_proc **out, const char *conf_text,
    const char *const *extra_args, int timeout_ms)
{
	const char *bin = NULL;
	struct daemon_proc *d;
	int rc;

	if ((rc = binary(&bin)) != 0)
		return rc;
	if (out == NULL || conf_text == NULL)
		return DAEMON_ERR_ARG;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return DAEMON_ERR;
	d->pid = -1;
	if ((rc = start(d, bin, conf_text, extra_args, timeout_ms)) != 0) {
		fprintf(stderr, "daemon_start: %s: %s", bin, err_name(rc));
		if (d->reaped)
			fprintf(stderr, " (wait status 0x%x)", d->status);
		fputc('\n', stderr);
		daemon_dump_log(d, stderr);
		daemon_stop(d, SIGKILL, 1000, NULL);
		return rc;
	}
	*out = d;
	return 0;
}

int
daemon_stop(struct daemon_proc *d, int sig, int timeout_ms, int *exit_status)
{
	int rc = 0;

	if (d == NULL)
		return 0;
	if (d->pid > 0 && !d->reaped) {
		kill(d->pid, sig);
		rc = reap(d->pid, timeout_ms, &d->status);
		d->reaped = 1;
	}
	if (exit_status != NULL)
		*exit_status = d->status;
	if (d->dir[0] != '\0')
		finish_dir(d->dir);
	free(d);
	return rc;
}

int
daemon_exited(struct daemon_proc *d, int *status)
{
	if (!d->reaped && d->pid > 0 &&
	    waitpid(d->pid, &d->status, WNOHANG) == d->pid)
		d->reaped = 1;
	if (d->reaped && status != NULL)
		*status = d->status;
	return d->reaped;
}

pid_t
daemon_pid(const struct daemon_proc *d)
{
	return d->pid;
}

static int
find_listener(const struct daemon_proc *d, int family)
{
	size_t i;

	for (i = 0; i < d->nlisten; i++)
		if (d->listen[i].ss_family == family)
			return (int)i;
	return -1;
}

int
daemon_addr(struct daemon_proc *d, int family, struct sockaddr_storage *ss,
    socklen_t *len)
{
	int64_t deadline = tclock_now_ms() + DAEMON_LATE_LISTEN_MS;
	int i;

	while ((i = find_listener(d, family)) < 0 &&
	    tclock_now_ms() < deadline && !daemon_exited(d, NULL)) {
		tclock_sleep_ms(DAEMON_TICK_MS);
		parse_listeners(d);
	}
	if (i < 0)
		return DAEMON_ERR_NOTFOUND;
	*ss = d->listen[i];
	*len = d->listen_len[i];
	return 0;
}

unsigned
daemon_port(struct daemon_proc *d, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (daemon_addr(d, family, &ss, &len) != 0)
		return 0;
	if (family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int
daemon_log_count(const struct daemon_proc *d, const char *needle)
{
	size_t nlen = strlen(needle);
	char *log, *p;
	int n = 0;

	if (nlen == 0)
		return DAEMON_ERR_ARG;
	if ((log = slurp(d->log)) == NULL)
		return DAEMON_ERR;
	for (p = log; (p = strstr(p, needle)) != NULL; p += nlen)
		n++;
	free(log);
	return n;
}

int
daemon_log_contains(const struct daemon_proc *d, const char *needle)
{
	int n = daemon_log_count(d, needle);

	return n < 0 ? n : n > 0;
}

int
daemon_wait_log(struct daemon_proc *d, const char *needle, int timeout_ms)
{
	int64_t deadline = tclock_now_ms() + timeout_ms;
	int found, gone;

	for (;;) {
		/* Exit first: a line written just before the exit counts. */
		gone = daemon_exited(d, NULL);
		if ((found = daemon_log_contains(d, needle)) != 0)
			return found > 0 ? 0 : found;
		if (gone)
			return DAEMON_ERR_EXITED;
		if (tclock_now_ms() >= deadline)
			return DAEMON_ERR_TIMEOUT;
		tclock_sleep_ms(DAEMON_TICK_MS);
	}
}

const char *
daemon_log_path(const struct daemon_proc *d)
{
	return d->log;
}

const char *
daemon_dir(const struct daemon_proc *d)
{
	return d->dir;
}

void
daemon_dump_log(const struct daemon_proc *d, FILE *fp)
{
	char *log = d->log[0] != '\0' ? slurp(d->log) : NULL;

	fprintf(fp, "---- %s ----\n%s", d->log[0] != '\0' ? d->log :
	    "(no log)", log != NULL ? log : "(unreadable)\n");
	fprintf(fp, "---- end of log ----\n");
	free(log);
}

static int
count_entries(pid_t pid, const char *what)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	if ((dir = opendir(path)) == NULL)
		return DAEMON_ERR;
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

int
daemon_count_threads(pid_t pid)
{
	return count_entries(pid, "task");
}

int
daemon_count_fds(pid_t pid)
{
	return count_entries(pid, "fd");
}

static int
run(const char *const *args, const char *conf_text, const char *dir,
    char *out, size_t outlen, int *exit_status, int timeout_ms)
{
	char conf[sizeof(DAEMON_DIR_TEMPLATE) + sizeof(DAEMON_CONF) + 1];
	char output[sizeof(DAEMON_DIR_TEMPLATE) + sizeof(DAEMON_OUTPUT) + 1];
	char *text, **argv;
	const char *bin = NULL;
	pid_t pid;
	int rc;

	if ((rc = binary(&bin)) != 0)
		return rc;
	snprintf(conf, sizeof(conf), "%s/%s", dir, DAEMON_CONF);
	snprintf(output, sizeof(output), "%s/%s", dir, DAEMON_OUTPUT);
	if (conf_text != NULL) {
		if ((text = subst_dir(conf_text, dir)) == NULL)
			return DAEMON_ERR;
		rc = tfile_write(conf, text, strlen(text)) == 0 ? 0 :
		    DAEMON_ERR;
		free(text);
		if (rc != 0)
			return rc;
	}
	argv = build_argv(bin, conf_text != NULL ? conf : NULL, args, dir);
	if (argv == NULL)
		return DAEMON_ERR;
	rc = spawn(argv, output, &pid);
	free_argv(argv);
	if (rc != 0)
		return rc;
	rc = reap(pid, timeout_ms, exit_status);
	if ((text = slurp(output)) == NULL)
		return DAEMON_ERR;
	snprintf(out, outlen, "%s", text);
	free(text);
	return rc;
}

int
daemon_run(const char *const *args, const char *conf_text, char *out,
    size_t outlen, int *exit_status, int timeout_ms)
{
	char dir[sizeof(DAEMON_DIR_TEMPLATE)];
	int status = -1, rc;

	if (out == NULL || outlen == 0)
		return DAEMON_ERR_ARG;
	out[0] = '\0';
	if ((rc = make_dir(dir, sizeof(dir))) != 0)
		return rc;
	rc = run(args, conf_text, dir, out, outlen, &status, timeout_ms);
	if (exit_status != NULL)
		*exit_status = status;
	finish_dir(dir);
	return rc;
}
