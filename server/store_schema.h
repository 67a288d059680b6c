/* Opening the store's database: WAL, synchronous=FULL, the schema's
 * migrations, and recovery from a crash. */
#ifndef BAEDAL_STORE_SCHEMA_H
#define BAEDAL_STORE_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store_file.h"

/* What the database says the store starts from. */
struct store_schema_ids {
	uint64_t recovered;         /* runs a crash left running, now interrupted */
	uint64_t next_run_id, next_stall_id;
};

/* Opens path, which file holds locked, into *db (closed by the caller,
 * also on failure), migrates it and recovers it; -1 with err set. */
int store_schema_open(sqlite3 **db, const struct store_file *file, const char *path,
                      struct store_schema_ids *ids, char *err, size_t errlen);

__attribute__((format(printf, 3, 4)))
void store_errf(char *err, size_t errlen, const char *fmt, ...);

#endif
