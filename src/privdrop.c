/* Dropping root after the sockets are bound. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "privdrop.h"

int
privdrop_resolve(const char *user, const char *group, struct privdrop *out,
    char *err, size_t errlen)
{
	const struct passwd *pw;
	const struct group *gr;

	memset(out, 0, sizeof(*out));
	if (user[0] == '\0') {
		if (group[0] == '\0')
			return 0;
		errbuf_set(err, errlen, "[server] group = %s needs a [server] "
		    "user", group);
		return PRIVDROP_ERR;
	}
	if (strlen(user) >= sizeof(out->user) ||
	    (pw = getpwnam(user)) == NULL) {
		errbuf_set(err, errlen, "[server] user = %s: no such user",
		    user);
		return PRIVDROP_ERR;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	if (group[0] != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			errbuf_set(err, errlen, "[server] group = %s: no such "
			    "group", group);
			return PRIVDROP_ERR;
		}
		out->gid = gr->gr_gid;
	}
	memcpy(out->user, user, strlen(user) + 1);
	out->on = 1;
	return 0;
}

/* Every entry of the open directory to the user; links are not followed. */
static int
own_entries(const struct privdrop *pd, int dfd, const char *dir, char *err,
    size_t errlen)
{
	const struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		errbuf_set(err, errlen, "state_dir %s: %s", dir,
		    strerror(errno));
		return PRIVDROP_ERR;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fchownat(dfd, e->d_name, pd->uid, pd->gid,
		    AT_SYMLINK_NOFOLLOW) != 0) {
			errbuf_set(err, errlen, "state_dir %s: chown %s: %s",
			    dir, e->d_name, strerror(errno));
			rc = PRIVDROP_ERR;
		}
	}
	closedir(d);
	return rc;
}

int
privdrop_own_dir(const struct privdrop *pd, const char *dir, char *err,
    size_t errlen)
{
	int dfd, rc = PRIVDROP_ERR;

	if (!pd->on || geteuid() != 0)
		return 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		errbuf_set(err, errlen, "state_dir %s: %s", dir,
		    strerror(errno));
		return PRIVDROP_ERR;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		errbuf_set(err, errlen, "state_dir %s: %s", dir,
		    strerror(errno));
		return PRIVDROP_ERR;
	}
	if (fchown(dfd, pd->uid, pd->gid) != 0)
		errbuf_set(err, errlen, "state_dir %s: chown to %s: %s", dir,
		    pd->user, strerror(errno));
	else
		rc = own_entries(pd, dfd, dir, err, errlen);
	close(dfd);
	return rc;
}

/* The ids as the kernel now has them; setuid(0) must fail. */
static int
check_dropped(const struct privdrop *pd, char *err, size_t errlen)
{
	if (getuid() != pd->uid || geteuid() != pd->uid ||
	    getgid() != pd->gid || getegid() != pd->gid) {
		errbuf_set(err, errlen, "[server] user = %s: still uid %u/%u "
		    "gid %u/%u after the switch", pd->user, (unsigned)getuid(),
		    (unsigned)geteuid(), (unsigned)getgid(),
		    (unsigned)getegid());
		return PRIVDROP_ERR;
	}
	if (pd->uid != 0 && setuid(0) == 0) {
		errbuf_set(err, errlen, "[server] user = %s: root could be "
		    "taken back", pd->user);
		return PRIVDROP_ERR;
	}
	return 0;
}

int
privdrop_apply(const struct privdrop *pd, char *err, size_t errlen)
{
	if (!pd->on)
		return 0;
	if (geteuid() != 0) {
		if (check_dropped(pd, err, errlen) == 0)
			return 0;
		errbuf_set(err, errlen, "[server] user = %s: only root can "
		    "switch to it (running as uid %u); start as root or "
		    "remove the key", pd->user, (unsigned)geteuid());
		return PRIVDROP_ERR;
	}
	/* glibc applies each to every thread of the process. */
	if (initgroups(pd->user, pd->gid) != 0 || setgid(pd->gid) != 0 ||
	    setuid(pd->uid) != 0) {
		errbuf_set(err, errlen, "[server] user = %s: cannot switch: "
		    "%s", pd->user, strerror(errno));
		return PRIVDROP_ERR;
	}
	return check_dropped(pd, err, errlen);
}
