/*
 * Users: the default user whose secret lives in state_dir, so a fresh
 * install works without editing the config, and the links handed to
 * clients. Links are the one place a secret is shown on purpose.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "errbuf.h"
#include "file.h"
#include "crypto.h"
#include "log.h"
#include "secret.h"
#include "users.h"

#define DEFAULT_USER	"default"
#define SECRET_FILE	"secret"
#define SECRET_HEX	(2 * SECRET_LEN)
#define LINK_MAX	1024
#define FALLBACK_HOST	"127.0.0.1"

/* mkdir -p, new directories 0700: the secret file will live there. */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		errbuf_set(err, errlen, "[server] state_dir = '%s': expected a "
		    "path of 1..%d bytes", dir, PATH_MAX - 1);
		return USERS_ERR;
	}
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST &&
		    !(stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
			errbuf_set(err, errlen, "[server] state_dir = '%s': cannot "
			    "create %s: %s", dir, path, strerror(errno));
			return USERS_ERR;
		}
		path[i] = dir[i];
	}
	if (stat(dir, &st) != 0) {
		errbuf_set(err, errlen, "[server] state_dir = '%s': cannot use "
		    "%s: %s", dir, dir, strerror(errno));
		return USERS_ERR;
	}
	if (!S_ISDIR(st.st_mode)) {
		errbuf_set(err, errlen, "[server] state_dir = '%s': cannot use "
		    "%s: %s", dir, dir, strerror(ENOTDIR));
		return USERS_ERR;
	}
	return 0;
}

/* 1: read a valid secret; 0: no file; <0: unreadable or not a secret. */
static int
read_secret(const char *path, uint8_t key[SECRET_LEN], char *err,
    size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	/* One byte over the hex and its newline is enough to refuse. */
	rc = file_read(path, O_NOFOLLOW, SECRET_HEX + 1, &text, &len);
	if (rc == FILE_ERR_OPEN && errno == ENOENT)
		return 0;
	if (rc == FILE_ERR_OPEN || rc == FILE_ERR_IO) {
		errbuf_set(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return USERS_ERR;
	}
	if (rc == FILE_ERR_TYPE) {
		errbuf_set(err, errlen, "cannot read %s: not a regular file",
		    path);
		return USERS_ERR;
	}
	if (rc == 0 && len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	rc = rc == 0 && len == SECRET_HEX && secret_parse_key(text, key) == 0 ?
	    1 : USERS_ERR;
	if (rc != 1)
		errbuf_set(err, errlen, "%s: expected 32 hex digits and a "
		    "newline; fix the file or remove it for a new secret", path);
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	return rc;
}

/* 1: created; 0: someone else created it first; <0: error. */
static int
create_secret(const char *path, uint8_t key[SECRET_LEN], char *err,
    size_t errlen)
{
	struct secret s = { .kind = SECRET_CLASSIC };
	char text[SECRET_HEX + 2];
	size_t len;
	int fd, rc = USERS_ERR;

	if (crypto_random(s.key, SECRET_LEN) != 0 ||
	    secret_format(&s, text, sizeof(text)) != 0) {
		errbuf_set(err, errlen, "cannot make a secret for %s: random "
		    "source failed", path);
		goto out;
	}
	len = strlen(text);
	text[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		if (errno == EEXIST)
			rc = 0;
		else
			errbuf_set(err, errlen, "cannot create %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (file_write_all(fd, text, len) != 0 || fsync(fd) != 0) {
		errbuf_set(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	memcpy(key, s.key, SECRET_LEN);
	rc = 1;
out:
	OPENSSL_cleanse(&s, sizeof(s));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

int
users_ensure_default(struct config *cfg, char *err, size_t errlen)
{
	char path[PATH_MAX], hex[2 * SECRET_LEN + 1];
	uint8_t key[SECRET_LEN];
	int n, rc, tries;

	if (cfg->nusers > 0)
		return 0;
	if ((rc = make_dirs(cfg->state_dir, err, errlen)) != 0)
		return rc;
	n = snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, SECRET_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errbuf_set(err, errlen, "[server] state_dir = '%s': expected a "
		    "shorter path", cfg->state_dir);
		return USERS_ERR;
	}
	/* Read, else create; a concurrent creator makes us read again. */
	rc = 0;
	for (tries = 0; tries < 2 && rc == 0; tries++) {
		rc = read_secret(path, key, err, errlen);
		if (rc == 0)
			rc = create_secret(path, key, err, errlen);
	}
	if (rc <= 0) {
		if (rc == 0)
			errbuf_set(err, errlen, "%s: appeared and vanished while "
			    "being created", path);
		rc = USERS_ERR;
		goto out;
	}
	for (n = 0; n < SECRET_LEN; n++)
		snprintf(hex + 2 * n, 3, "%02x", key[n]);
	rc = config_set(cfg, "users", DEFAULT_USER, hex, err, errlen) == 0 ?
	    0 : USERS_ERR;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

static int
usable_ifaddr(const struct ifaddrs *ifa, int family)
{
	const struct sockaddr_in6 *sin6;

	if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != family ||
	    !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
		return 0;
	if (family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ifa->ifa_addr;
		/* Link-local addresses need a zone a link cannot carry. */
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 0;
	}
	return 1;
}

/* The first usable address of family; 1 if found. No DNS. */
static int
ifaddr_host(const struct ifaddrs *list, int family, char *out, size_t outlen)
{
	const struct ifaddrs *ifa;
	const void *addr;

	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
		if (!usable_ifaddr(ifa, family))
			continue;
		addr = family == AF_INET ?
		    (const void *)&((const struct sockaddr_in *)
		    ifa->ifa_addr)->sin_addr :
		    (const void *)&((const struct sockaddr_in6 *)
		    ifa->ifa_addr)->sin6_addr;
		if (inet_ntop(family, addr, out, (socklen_t)outlen) != NULL)
			return 1;
	}
	return 0;
}

int
users_link_host(const struct config *cfg, char *out, size_t outlen)
{
	struct ifaddrs *list;
	int found = 0;

	if (cfg->public_host[0] != '\0') {
		if ((size_t)snprintf(out, outlen, "%s", cfg->public_host) >=
		    outlen)
			return USERS_ERR;
		return 0;
	}
	if (getifaddrs(&list) == 0) {
		found = ifaddr_host(list, AF_INET, out, outlen) ||
		    ifaddr_host(list, AF_INET6, out, outlen);
		freeifaddrs(list);
	}
	if (found)
		return 0;
	if ((size_t)snprintf(out, outlen, "%s", FALLBACK_HOST) >= outlen)
		return USERS_ERR;
	return 1;
}

/* The links of each allowed mode, in this order. */
static const struct {
	unsigned mode;
	enum secret_kind kind;
	const char *label;
} link_modes[] = {
	{ CONFIG_MODES_CLASSIC, SECRET_CLASSIC, "classic" },
	{ CONFIG_MODES_SECURE, SECRET_SECURE, "secure" },
	{ CONFIG_MODES_TLS, SECRET_TLS, "tls" },
};

#define NLINK_MODES	(sizeof(link_modes) / sizeof(link_modes[0]))

/* domain: the SNI a fake-TLS client sends, the first [tls] domain. */
static int
user_links(const struct config_user *u, size_t m, const char *domain,
    const char *host, uint16_t port, users_link_fn fn, void *arg)
{
	struct secret s = { .kind = link_modes[m].kind };
	char link[LINK_MAX];
	int tme, rc = 0;

	memcpy(s.key, u->secret, SECRET_LEN);
	if (s.kind == SECRET_TLS)
		snprintf(s.domain, sizeof(s.domain), "%s", domain);
	for (tme = 0; tme <= 1 && rc == 0; tme++) {
		rc = secret_link(&s, host, port, tme, link, sizeof(link));
		if (rc == 0)
			rc = fn(arg, u->name, link_modes[m].label, tme, link);
	}
	OPENSSL_cleanse(&s, sizeof(s));
	OPENSSL_cleanse(link, sizeof(link));
	return rc == 0 ? 0 : USERS_ERR;
}

int
users_each_link(const struct config *cfg, const char *user, uint16_t port,
    users_link_fn fn, void *arg)
{
	char host[256];
	size_t i, m;
	int hostrc, rc = 0;

	if (user != NULL && config_find_user(cfg, user) == NULL)
		return USERS_ERR_NOUSER;
	if ((hostrc = users_link_host(cfg, host, sizeof(host))) < 0)
		return hostrc;
	if (cfg->public_port != 0)
		port = cfg->public_port;
	for (i = 0; i < cfg->nusers && rc == 0; i++) {
		if (user != NULL && strcasecmp(cfg->users[i].name, user) != 0)
			continue;
		for (m = 0; m < NLINK_MODES && rc == 0; m++)
			if (cfg->modes & link_modes[m].mode)
				rc = user_links(&cfg->users[i], m,
				    cfg->domains[0], host, port, fn, arg);
	}
	if (rc == 0 && hostrc == 1)
		log_warn("no public_host and no address but loopback: the "
		    "links say %s; set [server] public_host", host);
	return rc;
}

static int
print_link(void *arg, const char *user, const char *mode, int tme,
    const char *link)
{
	(void)tme;
	return fprintf(arg, "user %s (%s): %s\n", user, mode, link) < 0 ?
	    USERS_ERR : 0;
}

int
users_print_links(const struct config *cfg, uint16_t port, FILE *out)
{
	int rc = users_each_link(cfg, NULL, port, print_link, out);

	if (rc == 0 && fflush(out) != 0)
		rc = USERS_ERR;
	return rc;
}

int
users_default_retired(const struct config *cfg, int *retired)
{
	char path[PATH_MAX], err[256];
	uint8_t key[SECRET_LEN];
	size_t i;
	int n, rc;

	*retired = 0;
	if (cfg->nusers == 0)
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, SECRET_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		return USERS_ERR;
	if ((rc = read_secret(path, key, err, sizeof(err))) <= 0)
		return rc;
	/* Kept under [users] with its old secret, its links still work. */
	*retired = 1;
	for (i = 0; i < cfg->nusers; i++)
		if (crypto_memeq(cfg->users[i].secret, key, SECRET_LEN))
			*retired = 0;
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}
