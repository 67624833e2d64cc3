/*
 * Users: their secrets for the handshake, their counters, the default user
 * kept in state_dir, and the links printed for them.
 */
#ifndef MTPROXYD_USERS_H
#define MTPROXYD_USERS_H

#include <stdatomic.h>
#include <stdio.h>
#include "config.h"

#define USERS_ERR		(-2)

/*
 * With no [users], load the default user's secret from state_dir, or create
 * it (random, mode 0600) and add it to cfg as user "default".
 */
int users_ensure_default(struct config *cfg, char *err, size_t errlen);
#define USERS_ERR_NOUSER	(-3)	/* no user of that name */

/*
 * Called with both link forms (tme 0: tg://, 1: https://t.me) of each
 * allowed mode of each user; a non-zero return stops the walk.
 */
typedef int (*users_link_fn)(void *arg, const char *user, const char *mode,
    int tme, const char *link);
/*
 * The links of user (NULL: every user) for clients reaching port, or
 * [server] public_port when set (a NAT or container mapping the port).
 */
int users_each_link(const struct config *cfg, const char *user, uint16_t port,
    users_link_fn fn, void *arg);
/* Write both link forms for each user and each allowed mode, with port. */
int users_print_links(const struct config *cfg, uint16_t port, FILE *out);
/*
 * *retired: [users] is set while state_dir still holds the generated
 * default user's secret, under no user: links to it no longer work.
 */
int users_default_retired(const struct config *cfg, int *retired);
/* public_host, else the first non-loopback address of the machine. */
int users_link_host(const struct config *cfg, char *out, size_t outlen);

#endif
