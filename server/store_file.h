/* The database file, held for the process's life: an exclusive lock, so
 * that a second baedald cannot touch a database a live one is using, and
 * a check that the path still names the file that was opened. */
#ifndef BAEDAL_STORE_FILE_H
#define BAEDAL_STORE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct store_file {
	int fd;                     /* -1: not held */
	dev_t dev;
	ino_t ino;
	char *path;                 /* a copy of the path it was opened by */
};

/* Opens path (creating an empty file if there is none) and takes an
 * exclusive flock on it without waiting. Fails, err filled, when the file
 * cannot be opened or another process holds it: nothing is written then.
 * SQLite's own locks are POSIX record locks on the same file, which
 * closing any descriptor of it drops: f's descriptor stays open until
 * store_file_release(), after the database is closed. */
int store_file_lock(struct store_file *f, const char *path, char *err, size_t errlen);

/* Whether f's path still names f's file, with a link to it: false once
 * the file was deleted, or replaced by another (renamed over, restored
 * from a copy). One stat(), no I/O on the file. */
bool store_file_same(const struct store_file *f);

/* Closes the descriptor, which drops the lock, and frees the path. */
void store_file_release(struct store_file *f);

#endif
