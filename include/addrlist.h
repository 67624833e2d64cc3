/*
 * Address lists ([server] allow_file and block_file): one address or
 * ADDR/BITS per line, IPv4 or IPv6, # comments, blank lines. A list is
 * kept as sorted, disjoint ranges of 128-bit addresses (IPv4 as its
 * ::ffff: mapped form), so a lookup is a binary search however long the
 * list. Pure.
 */
#ifndef MTPROXYD_ADDRLIST_H
#define MTPROXYD_ADDRLIST_H

#include <stddef.h>
#include <sys/socket.h>

#define ADDRLIST_ERR_ARG	(-2)
#define ADDRLIST_ERR_NOMEM	(-3)
#define ADDRLIST_ERR_LINE	(-4)	/* a line is not an address: see bad */

/* The first line that is not an address or a comment. */
struct addrlist_bad {
	size_t line;			/* 1-based */
	size_t off, len;		/* its text in the input, comment and
					   surrounding blanks left out */
};

struct addrlist;

/* The list in text (len bytes, any line ends); on ADDRLIST_ERR_LINE, bad. */
int addrlist_parse(const char *text, size_t len, struct addrlist **out,
    struct addrlist_bad *bad);
/* NULL is a no-op. */
void addrlist_free(struct addrlist *l);
/* 1 when sa (AF_INET or AF_INET6) is in l, else 0. */
int addrlist_match(const struct addrlist *l, const struct sockaddr *sa);
/* The lines that gave an address. */
size_t addrlist_entries(const struct addrlist *l);

#endif
