/* The schema migrations of schema/NNN_*.sql, compiled into the server by
 * server/embed_schema.sh so the binary needs no files beside it. */
#ifndef BAEDAL_MIGRATIONS_H
#define BAEDAL_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int version;        /* NNN of the file name: PRAGMA user_version after it */
	const char *name;   /* the file name, for messages */
	const char *sql;
};

extern const struct migration migrations[];
extern const size_t migrations_count;

#endif
