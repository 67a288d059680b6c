/* A database of schema version 1 (made by the first migration alone, with
 * runs, orders and events in it) upgrades in place to the current schema:
 * every row is kept, old runs get their ideal time, the views work. So
 * does one of version 2: its runs have no group, the new views work. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "server/migrations.h"
#include "server/store.h"
#include "tests/support.h"

static const char v1_rows[] =
	"INSERT INTO sessions VALUES ('0123456789abcdef0123456789abcdef', 1);"
	"INSERT INTO runs VALUES (1, '0123456789abcdef0123456789abcdef', 'sync', 2, 'done',"
	"  5000, 3000, 5100, 10, 20);"
	"INSERT INTO runs VALUES (2, '0123456789abcdef0123456789abcdef', 'async', 2, 'done',"
	"  5000, 3000, 3100, 10, 20);"
	"INSERT INTO orders VALUES (1, 1, 'A', 2000), (1, 2, 'B', 3000),"
	"  (2, 1, 'A', 2000), (2, 2, 'B', 3000);"
	"INSERT INTO events VALUES (2, 1, 'delivered', 0, 1), (2, 1, 'eaten', 2050, 2),"
	"  (2, 1, 'collected', 2060, 3);"
	"PRAGMA user_version = 1;";

static void test_v1_upgrades_in_place(void **state)
{
	(void)state;
	char dir[256], path[300], err[STORE_ERR_LEN] = "";
	assert_int_equal(support_tmpdir(dir, sizeof dir), 0);
	snprintf(path, sizeof path, "%s/old.db", dir);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_string_equal(migrations[0].name, "001_init.sql");
	assert_int_equal(sqlite3_exec(db, migrations[0].sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_rows, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct store *s = store_open(path, err, sizeof err);
	if (!s)
		fail_msg("store_open: %s", err);
	store_close(s);

	assert_int_equal(support_sql_int(path, "PRAGMA user_version"), (long long)migrations_count);
	assert_int_equal(support_sql_int(path, "select count(*) from runs"), 2);
	assert_int_equal(support_sql_int(path, "select count(*) from orders where cook_us = 0"), 4);
	assert_int_equal(support_sql_int(path, "select count(*) from events"), 3);
	/* ideal: the sum of meals for the sync run, the longest for async. */
	assert_int_equal(support_sql_int(path, "select ideal_us from runs where run_id = 1"), 5000);
	assert_int_equal(support_sql_int(path, "select ideal_us from runs where run_id = 2"), 3000);
	assert_int_equal(support_sql_int(path,
		"select cast(overhead_ms * 1000 as integer) from run_summary where run_id = 2"), 100);
	assert_int_equal(support_sql_int(path,
		"select cast(late_ms * 1000 as integer) from order_timeline where run_id = 2 and idx = 1"),
		50);
	/* The new kinds are accepted. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "insert into events values (2, 2, 'cooked', 5, 5);"
	                              "update runs set mode = 'offload' where run_id = 2",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "update runs set mode = 'fast' where run_id = 2",
	                                  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(support_sql_int(path,
		"select count(*) from pragma_integrity_check where integrity_check = 'ok'"), 1);
	support_rmtree(dir);
}

/* Version 2: a sync and an async run of A 20 ms, B 10 ms (times in µs). */
static const char v2_rows[] =
	"INSERT INTO sessions VALUES ('0123456789abcdef0123456789abcdef', 1);"
	"INSERT INTO runs (run_id, session_id, mode, orders, status, sum_meal_us, max_meal_us,"
	"  elapsed_us, started_us, finished_us, ideal_us) VALUES"
	"  (1, '0123456789abcdef0123456789abcdef', 'sync', 2, 'done', 30000, 20000, 30500, 10, 20,"
	"   30000),"
	"  (2, '0123456789abcdef0123456789abcdef', 'async', 2, 'done', 30000, 20000, 20100, 10, 20,"
	"   20000);"
	"INSERT INTO orders (run_id, idx, name, meal_us) VALUES (1, 1, 'A', 20000), (1, 2, 'B', 10000),"
	"  (2, 1, 'A', 20000), (2, 2, 'B', 10000);"
	"INSERT INTO events VALUES (1, 1, 'delivered', 0, 1), (1, 1, 'eaten', 20100, 2),"
	"  (1, 1, 'collected', 20200, 3), (1, 2, 'delivered', 20300, 4),"
	"  (1, 2, 'eaten', 30400, 5), (1, 2, 'collected', 30500, 6),"
	"  (2, 1, 'delivered', 0, 1), (2, 2, 'delivered', 5, 1), (2, 2, 'eaten', 10050, 2),"
	"  (2, 2, 'collected', 10060, 3), (2, 1, 'eaten', 20050, 4), (2, 1, 'collected', 20100, 5);"
	"PRAGMA user_version = 2;";

static void test_v2_upgrades_in_place(void **state)
{
	(void)state;
	char dir[256], path[300], err[STORE_ERR_LEN] = "";
	assert_int_equal(support_tmpdir(dir, sizeof dir), 0);
	snprintf(path, sizeof path, "%s/old.db", dir);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v2_rows, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct store *s = store_open(path, err, sizeof err);
	if (!s)
		fail_msg("store_open: %s", err);
	store_close(s);

	assert_int_equal(support_sql_int(path, "PRAGMA user_version"), (long long)migrations_count);
	assert_int_equal(support_sql_int(path, "select count(*) from runs where group_id is null"), 2);
	assert_int_equal(support_sql_int(path, "select count(*) from events"), 12);
	assert_int_equal(support_sql_int(path, "select count(*) from comparison"), 0);
	/* B waited for A in the sync run, not in the async one. */
	assert_int_equal(support_sql_int(path, "select cast(round(waited_ms * 1000) as integer) "
	                                 "from order_timeline where run_id = 1 and name = 'B'"), 20300);
	assert_int_equal(support_sql_int(path, "select cast(round(waited_ms * 1000) as integer) "
	                                 "from order_timeline where run_id = 2 and name = 'B'"), 5);
	assert_int_equal(support_sql_int(path, "select max(in_flight) from in_flight where run_id = 1"),
	                 1);
	assert_int_equal(support_sql_int(path, "select max(in_flight) from in_flight where run_id = 2"),
	                 2);
	assert_int_equal(support_sql_int(path, "select in_flight from in_flight where run_id = 2 "
	                                 "order by t_ms desc limit 1"), 0);
	/* Grouped afterwards, the two runs make one comparison row. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "update runs set group_id = 'g'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(support_sql_int(path, "select count(*) from comparison"), 1);
	assert_int_equal(support_sql_int(path, "select cast(round(async_speedup * 100) as integer) "
	                                 "from comparison where group_id = 'g'"), 152);
	assert_int_equal(support_sql_int(path, "select offload_ms is null from comparison"), 1);
	support_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_upgrades_in_place),
		cmocka_unit_test(test_v2_upgrades_in_place),
	};
	return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
