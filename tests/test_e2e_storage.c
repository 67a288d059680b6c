/* End to end, when the database is the problem: start-up refuses with one
 * clear line and a non-zero exit; a full disk at run time is reported to
 * the client whose work it hit, and the server keeps serving. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include "tests/support.h"

#define WAIT_MS 20000

struct fixture {
	char dir[4096];
	char db[4200];
	char mnt[4200];     /* a small tmpfs, when the test made one */
	struct test_server srv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || support_e2e_dir(f->dir, sizeof f->dir, f->db, sizeof f->db) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	support_server_kill(&f->srv);
	if (f->mnt[0])
		umount(f->mnt);
	support_rmtree(f->dir);
	free(f);
	return 0;
}

/* The server must not start: it exits non-zero with exactly one line that
 * contains want. */
static void expect_refused(struct fixture *f, const char *db, const char *want)
{
	/* The log goes beside the test's files: db's directory may not exist. */
	snprintf(f->srv.log, sizeof f->srv.log, "%s/refused.log", f->dir);
	assert_int_equal(support_server_start(&f->srv, db, NULL), -1);
	assert_true(WIFEXITED(f->srv.status) && WEXITSTATUS(f->srv.status) != 0);
	char *log = support_read_file(f->srv.log);
	assert_non_null(log);
	if (!strstr(log, want))
		fail_msg("expected '%s' in:\n%s", want, log);
	char *nl = strchr(log, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');   /* one line */
	free(log);
}

static void test_start_refuses_bad_paths(void **state)
{
	struct fixture *f = *state;
	char path[4300];

	snprintf(path, sizeof path, "%s/no/such/dir/b.db", f->dir);
	expect_refused(f, path, path);
	snprintf(path, sizeof path, "%s/adir", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_refused(f, path, path);
	snprintf(path, sizeof path, "%s/junk.db", f->dir);
	FILE *j = fopen(path, "w");
	assert_non_null(j);
	for (int i = 0; i < 4096; i++)
		fputc((i * 7919) & 0xff, j);
	fclose(j);
	expect_refused(f, path, "not a database");
}

static void test_start_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refused(f, f->db, "newer than this baedald");
	/* Before anything changed: a newer baedald's file keeps its journal. */
	assert_int_equal(support_sql_int(f->db, "select count(*) from pragma_journal_mode "
	                                        "where journal_mode = 'delete'"), 1);
}

/* Another program's database is refused and left as it was: its tables
 * alone, and its journal mode (WAL would change its file's header). */
static void test_start_refuses_foreign_database(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes (x); INSERT INTO notes VALUES (1)", NULL,
	                              NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refused(f, f->db, "is not baedal's: it has tables of its own");
	assert_int_equal(support_sql_int(f->db, "select count(*) from sqlite_master"), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from pragma_journal_mode "
	                                        "where journal_mode = 'delete'"), 1);
	/* A schema version of baedal's range, but none of its tables. */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refused(f, f->db, "is not baedal's: it has a schema version but no runs table");
	assert_int_equal(support_sql_int(f->db, "PRAGMA user_version"), 3);
	assert_int_equal(support_sql_int(f->db, "select count(*) from sqlite_master"), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from pragma_journal_mode "
	                                        "where journal_mode = 'delete'"), 1);
}

/* Another process holds the write lock for longer than the server waits. */
static void test_start_refuses_locked_database(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	assert_int_equal(support_server_stop(&f->srv, WAIT_MS), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	expect_refused(f, f->db, "locked");
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	/* and once the lock is gone it starts */
	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	assert_int_equal(support_server_stop(&f->srv, WAIT_MS), 0);
}

static void expect_prefix(struct test_conn *c, const char *prefix, char *line, size_t cap)
{
	if (support_read_line(c, line, cap, WAIT_MS) < 0)
		fail_msg("no line where '%s' was expected", prefix);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		fail_msg("expected '%s...', got '%s'", prefix, line);
}

/* A 1 MB file system for the database at db. Needs root: skips the test
 * otherwise. */
static void mount_small(struct fixture *f, char *db, size_t cap)
{
	snprintf(f->mnt, sizeof f->mnt, "%s/small", f->dir);
	assert_int_equal(mkdir(f->mnt, 0700), 0);
	if (mount("tmpfs", f->mnt, "tmpfs", 0, "size=1m") != 0) {
		f->mnt[0] = '\0';
		skip();   /* not root, or no mount in this sandbox */
	}
	snprintf(db, cap, "%s/baedal.db", f->mnt);
}

/* A full disk: the run that does not fit is refused with ERR storage (it
 * was never acknowledged, so nothing acknowledged is lost); the server and
 * the connection go on. */
static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char line[4096], db[4300];

	mount_small(f, db, sizeof db);
	assert_int_equal(support_server_start(&f->srv, db, NULL), 0);
	assert_int_equal(support_connect(&c, f->srv.port), 0);
	expect_prefix(&c, "HELLO ", line, sizeof line);
	assert_int_equal(support_send(&c, "GEN async 10 1ms\n"), 0);
	expect_prefix(&c, "OK run=1", line, sizeof line);
	/* Run 1 ends, stored, before the disk fills: sent together, a slow
	 * machine lets run 1 end while the big run fills the disk, and its end
	 * would wait for room (test_end_stored_once_disk_frees covers that). */
	do {
		expect_prefix(&c, "", line, sizeof line);
	} while (strncmp(line, "DONE ", 5) != 0);
	if (strstr(line, "stored=no"))
		fail_msg("run 1 ended on an empty disk, yet not stored: '%s'", line);
	assert_int_equal(support_send(&c, "GEN async 100000 1ms\n"), 0);
	expect_prefix(&c, "", line, sizeof line);
	if (strncmp(line, "ERR storage ", 12) != 0)
		fail_msg("expected ERR storage, got '%s'", line);
	assert_int_equal(support_send(&c, "PING\n"), 0);
	expect_prefix(&c, "OK pong", line, sizeof line);
	support_close(&c);
	char *log = support_read_file(f->srv.log);
	assert_non_null(strstr(log, "store: "));
	free(log);
	int status = support_server_stop(&f->srv, WAIT_MS);
	assert_true(WIFEXITED(status));
	/* The acknowledged run is whole; of the refused one, whatever part
	 * reached the disk before it filled never counts as done. */
	assert_int_equal(support_sql_int(db, "select count(*) from orders where run_id = 1"), 10);
	assert_int_equal(support_sql_int(db, "select count(*) from runs where run_id = 1 and "
	                                     "status = 'done'"), 1);
	assert_int_equal(support_sql_int(db, "select count(*) from runs where run_id = 2 and "
	                                     "status = 'done'"), 0);
}

/* Writes path until the file system is full. */
static void fill_up(const char *path)
{
	static char block[65536];
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	setvbuf(fp, NULL, _IONBF, 0);
	while (fwrite(block, 1, sizeof block, fp) == sizeof block)
		;
	fclose(fp);
}

/* A run whose end could not be stored (the disk was full: DONE says
 * stored=no) must not stay 'running' in the database: its end is stored
 * with the first commit once there is room again. */
static void test_end_stored_once_disk_frees(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char line[4096], db[4300], filler[4300];

	mount_small(f, db, sizeof db);
	snprintf(filler, sizeof filler, "%s/filler", f->mnt);
	assert_int_equal(support_server_start(&f->srv, db, NULL), 0);
	assert_int_equal(support_connect(&c, f->srv.port), 0);
	expect_prefix(&c, "HELLO ", line, sizeof line);
	assert_int_equal(support_send(&c, "RUN async A:2s\n"), 0);
	expect_prefix(&c, "OK run=1", line, sizeof line);
	fill_up(filler);
	do {
		expect_prefix(&c, "", line, sizeof line);
	} while (strncmp(line, "DONE ", 5) != 0);
	if (!strstr(line, "stored=no"))
		fail_msg("the disk was full, yet run 1 ended stored: '%s'", line);
	assert_int_equal(unlink(filler), 0);

	assert_int_equal(support_send(&c, "RUN async B:1ms\n"), 0);
	expect_prefix(&c, "OK run=2", line, sizeof line);
	/* committed with run 2, before its OK */
	assert_int_equal(support_sql_int(db, "select count(*) from runs where run_id = 1 and "
	                                     "status = 'done'"), 1);
	do {
		expect_prefix(&c, "", line, sizeof line);
	} while (strncmp(line, "DONE ", 5) != 0);
	support_close(&c);
	assert_int_equal(support_server_stop(&f->srv, WAIT_MS), 0);
	assert_int_equal(support_sql_int(db, "select count(*) from runs where status = 'running'"),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_refuses_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refuses_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refuses_foreign_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refuses_locked_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_stored_once_disk_frees, setup, teardown),
	};
	return cmocka_run_group_tests_name("e2e_storage", tests, NULL, NULL);
}
