/*
 * Small files read whole (the config, secrets, the middle proxy's items
 * and their kept copies) and buffers written whole to a descriptor.
 */
#ifndef MTPROXYD_FILE_H
#define MTPROXYD_FILE_H

#include <stddef.h>

#define FILE_ERR_OPEN	(-1)	/* open failed: errno says why */
#define FILE_ERR_IO	(-2)	/* a read, a write or memory failed: errno */
#define FILE_ERR_TYPE	(-3)	/* not a regular file */
#define FILE_ERR_BIG	(-4)	/* longer than the cap */

/*
 * The whole of the regular file at path, opened with O_RDONLY, O_CLOEXEC
 * and flags (say O_NOFOLLOW), if it holds at most max bytes. *out is
 * malloc'd with a NUL after its *len bytes; the caller frees it (and
 * cleanses it first if it held a secret). On failure *out is NULL and
 * whatever was read is cleansed. 0 or a FILE_ERR_ code.
 */
int file_read(const char *path, int flags, size_t max, char **out,
    size_t *len);

/*
 * All len bytes of buf to fd, through short writes and EINTR. A write
 * that takes nothing is FILE_ERR_IO with errno EIO, not a retry forever.
 */
int file_write_all(int fd, const void *buf, size_t len);

#endif
