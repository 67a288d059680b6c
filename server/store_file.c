#include "server/store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The process holding a flock on (dev, ino), from /proc/locks; 0 when it
 * cannot be told (no /proc, or a file system whose device numbers differ
 * there from stat's). Only for the message: the lock decides. */
static long store_file_holder(dev_t dev, ino_t ino)
{
	FILE *p = fopen("/proc/locks", "r");
	char line[256], kind[16];
	unsigned maj, min;
	unsigned long long inode;
	long pid, found = 0;

	if (!p)
		return 0;
	while (!found && fgets(line, sizeof line, p)) {
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &pid, &maj, &min,
		           &inode) == 5 &&
		    strcmp(kind, "FLOCK") == 0 && maj == major(dev) && min == minor(dev) &&
		    inode == (unsigned long long)ino)
			found = pid;
	}
	fclose(p);
	return found;
}

int store_file_lock(struct store_file *f, const char *path, char *err, size_t errlen)
{
	struct stat st;

	*f = (struct store_file){ .fd = -1, .path = strdup(path) };
	if (!f->path) {
		snprintf(err, errlen, "database %s: out of memory", path);
		return -1;
	}
	f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (f->fd < 0) {
		snprintf(err, errlen, "database %s: cannot open: %s", path, strerror(errno));
		store_file_release(f);
		return -1;
	}
	if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "database %s: cannot open: not a regular file", path);
		store_file_release(f);
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (flock(f->fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK) {
		long pid = store_file_holder(f->dev, f->ino);
		if (pid > 0)
			snprintf(err, errlen, "%s is in use by another baedald (pid %ld)", path, pid);
		else
			snprintf(err, errlen, "%s is in use by another baedald", path);
	} else {
		snprintf(err, errlen, "database %s: cannot lock: %s", path, strerror(errno));
	}
	store_file_release(f);
	return -1;
}

bool store_file_same(const struct store_file *f)
{
	struct stat st;

	if (stat(f->path, &st) != 0)
		/* A path that names nothing is a deleted file; an error that says
		 * nothing about the file (EACCES, EIO) is not proof of one. */
		return errno != ENOENT && errno != ENOTDIR;
	/* No links left: removed after the path was looked up. */
	return st.st_dev == f->dev && st.st_ino == f->ino && st.st_nlink > 0;
}

void store_file_release(struct store_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
}
