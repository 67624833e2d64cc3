/*
 * Files the tests write (configs, secrets, scripts) and the temporary
 * directories that hold them. Without Check: the harness uses them too.
 * 0 or -1 with errno set.
 */
#ifndef MTPROXYD_TFILE_H
#define MTPROXYD_TFILE_H

#include <stddef.h>

/* len bytes of p as the whole of path, created 0600 or truncated. */
int tfile_write(const char *path, const void *p, size_t len);
/* dir and everything below it, links not followed. */
int tfile_rm_tree(const char *dir);

#endif
