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
/* Write both link forms for each user and each allowed mode, with port. */
int users_print_links(const struct config *cfg, uint16_t port, FILE *out);
/* public_host, else the first non-loopback address of the machine. */
int users_link_host(const struct config *cfg, char *out, size_t outlen);

#endif
