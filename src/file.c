/*
 * Whole-file reads and full writes, once for config, users and middle.
 * A file is read to one byte over its cap, so that a file exactly at the
 * cap is told from one above it without trusting st_size, which a file
 * being rewritten may no longer match.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "file.h"

/* Up to max + 1 bytes of fd into buf (max + 1 long); *len how many. */
static int
read_capped(int fd, char *buf, size_t max, size_t *len)
{
	ssize_t n;

	*len = 0;
	while (*len <= max) {
		n = read(fd, buf + *len, max + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FILE_ERR_IO;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return *len > max ? FILE_ERR_BIG : 0;
}

int
file_read(const char *path, int flags, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc = FILE_ERR_IO, saved;

	*out = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO would wait for a writer (a regular
	 * file's reads ignore it). A FIFO or a device may never end. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
	if (fd < 0)
		return FILE_ERR_OPEN;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		rc = FILE_ERR_TYPE;
		goto out;
	}
	/* max + 1 for the byte over the cap, + 1 for the NUL. */
	if (max > SIZE_MAX - 2 || (buf = malloc(max + 2)) == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if ((rc = read_capped(fd, buf, max, &n)) != 0)
		goto out;
	buf[n] = '\0';
	*out = buf;
	*len = n;
out:
	saved = errno;
	if (rc != 0 && buf != NULL) {
		crypto_cleanse(buf, n);
		free(buf);
	}
	close(fd);
	errno = saved;
	return rc;
}

int
file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FILE_ERR_IO;
		if (n == 0) {
			errno = EIO;
			return FILE_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
