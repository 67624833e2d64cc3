/*
 * Test files and directories. See tfile.h.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "file.h"
#include "tfile.h"

int
tfile_write(const char *path, const void *p, size_t len)
{
	int fd, rc;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return -1;
	rc = file_write_all(fd, p, len) == 0 ? 0 : -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

int
tfile_rm_tree(const char *dir)
{
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
