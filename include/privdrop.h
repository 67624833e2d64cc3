/*
 * [server] user and group: the daemon binds every socket as root, then
 * becomes that user for good before it reads a client's byte. The state
 * directory is handed to the user first, so that it stays writable.
 */
#ifndef MTPROXYD_PRIVDROP_H
#define MTPROXYD_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

#define PRIVDROP_ERR	(-1)
#define PRIVDROP_NAME_MAX	64

struct privdrop {
	int on;				/* 0: no user configured */
	char user[PRIVDROP_NAME_MAX];
	uid_t uid;
	gid_t gid;			/* the group's, else the user's */
};

/*
 * The ids of user and group (empty: none; a group needs a user). An
 * unknown name is PRIVDROP_ERR with one line in err.
 */
int privdrop_resolve(const char *user, const char *group,
    struct privdrop *out, char *err, size_t errlen);
/*
 * As root with a user: dir (made 0700 if missing) and the entries in it
 * given to the user. Else nothing to do.
 */
int privdrop_own_dir(const struct privdrop *pd, const char *dir, char *err,
    size_t errlen);
/*
 * Become the user for good: its groups, its gid, its uid; then checked:
 * every id re-read is the user's and setuid(0) fails. Without root, only
 * a daemon that already is the user passes. Nothing to do without a user.
 */
int privdrop_apply(const struct privdrop *pd, char *err, size_t errlen);

#endif
