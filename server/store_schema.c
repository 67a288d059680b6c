/* A database file made ready for the store: opened in WAL mode with
 * synchronous=FULL, its schema migrated in place, and what a crash left
 * 'running' marked interrupted. */
#include "server/store_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/migrations.h"

#define STORE_BUSY_TIMEOUT_MS 5000

__attribute__((format(printf, 3, 4)))
void store_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void store_fail_db(sqlite3 *db, const char *path, const char *what, char *err,
                          size_t errlen)
{
	int code = sqlite3_errcode(db) & 0xff;
	int sys = sqlite3_system_errno(db);
	/* errno explains why a file would not open or read ("Is a directory",
	 * "Permission denied"); after other errors it is stale. */
	if (sys != 0 && (code == SQLITE_CANTOPEN || code == SQLITE_IOERR))
		store_errf(err, errlen, "database %s: %s: %s (%s)", path, what, sqlite3_errmsg(db),
		           strerror(sys));
	else
		store_errf(err, errlen, "database %s: %s: %s", path, what, sqlite3_errmsg(db));
}

/* Runs one statement that returns at most one row; *text gets a copy of
 * its first column when asked. */
static int store_query(sqlite3 *db, const char *sql, sqlite3_int64 *num, char *text, size_t cap)
{
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && num)
		*num = sqlite3_column_int64(st, 0);
	if (rc == SQLITE_ROW && text) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(text, cap, "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int store_has_runs(sqlite3 *db)
{
	sqlite3_int64 n = 0;
	return store_query(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	                       "name = 'runs'", &n, NULL, 0) == 0 && n == 1;
}

/* A database with tables and no schema version, or a version and none of
 * baedal's tables, is another program's; one of a newer baedald is not
 * this one's to touch. Refused before anything of it changes (the
 * journal mode included). */
static int store_check_ours(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_int64 version = 0, objects = 0;
	if (store_query(db, "PRAGMA user_version", &version, NULL, 0) != 0 ||
	    store_query(db, "SELECT count(*) FROM sqlite_master", &objects, NULL, 0) != 0) {
		store_fail_db(db, path, "cannot read it", err, errlen);
		return -1;
	}
	if (version < 0 || (size_t)version > migrations_count) {
		store_errf(err, errlen,
		           "database %s has schema version %lld, newer than this baedald (%zu); "
		           "use a newer baedald", path, (long long)version, migrations_count);
		return -1;
	}
	if ((version == 0 && objects > 0) || (version > 0 && !store_has_runs(db))) {
		store_errf(err, errlen, "database %s is not baedal's: it has %s; give --db a new file",
		           path, version ? "a schema version but no runs table"
		                         : "tables of its own and no baedal schema version");
		return -1;
	}
	return 0;
}

static int store_configure(sqlite3 **dbp, const struct store_file *file, const char *path,
                           char *err, size_t errlen)
{
	char mode[16] = "";
	int rc = sqlite3_open_v2(path, dbp,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                         NULL);
	if (rc != SQLITE_OK) {
		if (!*dbp) {
			store_errf(err, errlen, "database %s: cannot open: out of memory", path);
			return -1;
		}
		store_fail_db(*dbp, path, "cannot open", err, errlen);
		return -1;
	}
	/* SQLite opened the path anew: the file locked, not one put in its place. */
	if (!store_file_same(file)) {
		store_errf(err, errlen, "database %s: replaced while it was being opened", path);
		return -1;
	}
	sqlite3_busy_timeout(*dbp, STORE_BUSY_TIMEOUT_MS);
	if (store_check_ours(*dbp, path, err, errlen) != 0)
		return -1;
	if (store_query(*dbp, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode) != 0) {
		store_fail_db(*dbp, path, "cannot use WAL", err, errlen);
		return -1;
	}
	/* A file system without shared memory, for one, quietly keeps the old mode. */
	if (strcmp(mode, "wal") != 0) {
		store_errf(err, errlen, "database %s: cannot use WAL: journal mode stays \"%s\"", path,
		           mode);
		return -1;
	}
	if (sqlite3_exec(*dbp, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		store_fail_db(*dbp, path, "cannot set synchronous=FULL", err, errlen);
		return -1;
	}
	return 0;
}

static int store_apply(sqlite3 *db, const struct migration *m, const char *path,
                       char *err, size_t errlen)
{
	char sql[64], what[128];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
	/* The version moves in the same transaction as the schema, so a
	 * crash leaves either both or neither. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_exec(db, m->sql, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(what, sizeof what, "migration %s failed", m->name);
	store_fail_db(db, path, what, err, errlen);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int store_migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_int64 version = 0;
	if (store_query(db, "PRAGMA user_version", &version, NULL, 0) != 0) {
		store_fail_db(db, path, "cannot read the schema version", err, errlen);
		return -1;
	}
	for (size_t i = (size_t)version; i < migrations_count; i++)
		if (store_apply(db, &migrations[i], path, err, errlen) != 0)
			return -1;
	return 0;
}

/* A crash leaves runs 'running' that nothing will finish: say so. */
static int store_recover(sqlite3 *db, const char *path, struct store_schema_ids *ids, char *err,
                         size_t errlen)
{
	sqlite3_int64 next = 1;
	if (sqlite3_exec(db, "UPDATE runs SET status = 'interrupted' WHERE status = 'running'",
	                 NULL, NULL, NULL) != SQLITE_OK) {
		store_fail_db(db, path, "cannot mark unfinished runs interrupted", err, errlen);
		return -1;
	}
	ids->recovered = (uint64_t)sqlite3_changes64(db);
	if (store_query(db, "SELECT coalesce(max(run_id), 0) + 1 FROM runs", &next, NULL, 0)
	    != 0) {
		store_fail_db(db, path, "cannot read the last run id", err, errlen);
		return -1;
	}
	ids->next_run_id = (uint64_t)next;
	next = 1;
	if (store_query(db, "SELECT coalesce(max(stall_id), 0) + 1 FROM stalls", &next, NULL, 0)
	    != 0) {
		store_fail_db(db, path, "cannot read the last stall id", err, errlen);
		return -1;
	}
	ids->next_stall_id = (uint64_t)next;
	return 0;
}

int store_schema_open(sqlite3 **db, const struct store_file *file, const char *path,
                      struct store_schema_ids *ids, char *err, size_t errlen)
{
	*ids = (struct store_schema_ids){ .next_run_id = 1, .next_stall_id = 1 };
	if (store_configure(db, file, path, err, errlen) != 0 ||
	    store_migrate(*db, path, err, errlen) != 0 || store_recover(*db, path, ids, err, errlen) != 0)
		return -1;
	return 0;
}
