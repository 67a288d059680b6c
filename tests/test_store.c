/* The SQLite store against real files and a real libevent loop: schema and
 * migrations, recovery, records landing after their durable callback,
 * generated orders, waiters, shutdown, and the errors a user can meet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/migrations.h"
#include "server/store.h"
#include "server/store_writer.h"
#include "tests/support.h"

/* Long enough for valgrind on a slow machine; only a bug waits this long. */
#define SAFETY_TIMEOUT_S 300

static const char SESSION[] = "0123456789abcdef0123456789abcdef";

struct fixture {
	char dir[256];
	char path[300];
	struct event_base *base;
};

struct waiter {
	int fired, ok;
	char err[STORE_ERR_LEN];
	int *order, *norder, id;    /* where to log the firing order, if set */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || support_tmpdir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/baedal.db", f->dir);
	f->base = event_base_new();
	*state = f;
	return f->base ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	event_base_free(f->base);
	support_rmtree(f->dir);
	free(f);
	return 0;
}

static struct store *open_ok(const char *path)
{
	char err[STORE_ERR_LEN] = "";
	struct store *s = store_open(path, err, sizeof err);
	if (!s)
		fail_msg("store_open: %s", err);
	return s;
}

static struct store *start_ok(struct fixture *f)
{
	char err[STORE_ERR_LEN] = "";
	struct store *s = open_ok(f->path);
	if (store_start(s, f->base, err, sizeof err) != 0)
		fail_msg("store_start: %s", err);
	return s;
}

static void on_durable(void *arg, int ok, const char *err)
{
	struct waiter *w = arg;
	w->fired++;
	w->ok = ok;
	snprintf(w->err, sizeof w->err, "%s", ok ? "" : err);
	if (w->order)
		w->order[(*w->norder)++] = w->id;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Runs the loop until w has fired; a timer turns a hang into a failure. */
static void loop_until(struct event_base *base, const struct waiter *w)
{
	int timed_out = 0;
	struct timeval tv = { SAFETY_TIMEOUT_S, 0 };
	struct event *t = evtimer_new(base, on_timeout, &timed_out);
	evtimer_add(t, &tv);
	while (!w->fired && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	assert_false(timed_out);
}

static void wait_durable(struct store *s, struct event_base *base, struct waiter *w)
{
	memset(w, 0, sizeof *w);
	store_when_durable(s, on_durable, w);
	loop_until(base, w);
	assert_int_equal(w->fired, 1);
}

/* ---- a second, independent connection to check what reached the disk ---- */

static sqlite3 *db_open(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open_v2 %s: %s", path, db ? sqlite3_errmsg(db) : "?");
	return db;
}

static sqlite3_stmt *db_row(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) != SQLITE_ROW)
		fail_msg("%s: no row", sql);
	return st;
}

static int64_t db_int(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *st = db_row(db, sql);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static double db_real(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *st = db_row(db, sql);
	double v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void db_text(const char *path, const char *sql, char *buf, size_t cap)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *st = db_row(db, sql);
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(buf, cap, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

#define assert_text(path, sql, want) do { \
		char got_[256]; \
		db_text((path), (sql), got_, sizeof got_); \
		assert_string_equal(got_, (want)); \
	} while (0)

/* ---- schema and migrations ---------------------------------------------- */

static void test_fresh_db(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path);
	assert_int_equal(store_recovered_runs(s), 0);
	assert_int_equal(store_next_run_id(s), 1);
	assert_int_equal(store_backlog(s), 0);
	assert_false(store_busy(s));
	store_close(s);

	assert_int_equal(db_int(f->path, "PRAGMA user_version"), (int64_t)migrations_count);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                                 " AND name IN ('sessions', 'runs', 'orders', 'events')"), 4);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'view'"
	                                 " AND name IN ('run_summary', 'order_timeline')"), 2);
	assert_text(f->path, "PRAGMA journal_mode", "wal");
}

static void test_reopen_is_idempotent(void **state)
{
	struct fixture *f = *state;
	const char *objects = "SELECT count(*) FROM sqlite_master";
	int64_t before;
	store_close(open_ok(f->path));
	before = db_int(f->path, objects);
	store_close(open_ok(f->path));
	assert_int_equal(db_int(f->path, objects), before);
	assert_int_equal(db_int(f->path, "PRAGMA user_version"), (int64_t)migrations_count);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	char sql[64], err[STORE_ERR_LEN] = "";
	snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", migrations_count + 1);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_null(store_open(f->path, err, sizeof err));
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, f->path));
	assert_int_equal(db_int(f->path, "PRAGMA user_version"), (int64_t)migrations_count + 1);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM sqlite_master"), 0);
}

/* ---- recovery ------------------------------------------------------------ */

static void test_recovery_marks_interrupted(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path);
	store_add_session(s, SESSION, 1000);
	store_add_run(s, 3, SESSION, MODE_SYNC, 1, 100, 100, 100, 1000);
	store_add_run(s, 5, SESSION, MODE_SYNC, 1, 100, 100, 100, 1000);
	store_end_run(s, 5, &(struct store_end){ .status = RUN_DONE, .elapsed_us = 150,
	                                         .wall_us = 2000 });
	store_add_run(s, 7, SESSION, MODE_ASYNC, 1, 100, 100, 100, 1000);
	store_close(s);       /* as if crashed: runs 3 and 7 never ended */

	s = open_ok(f->path);
	assert_int_equal(store_recovered_runs(s), 2);
	assert_int_equal(store_next_run_id(s), 8);
	store_close(s);
	assert_text(f->path, "SELECT group_concat(run_id || ':' || status, ' ')"
	                     " FROM (SELECT * FROM runs ORDER BY run_id)",
	            "3:interrupted 5:done 7:interrupted");

	s = open_ok(f->path);
	assert_int_equal(store_recovered_runs(s), 0);
	assert_int_equal(store_next_run_id(s), 8);
	store_close(s);
}

/* ---- records ------------------------------------------------------------- */

/* The lesson: A 3 s, B 3 s, C 4 s; offsets in us from the run's start. */
static void add_lesson_run(struct store *s, uint64_t run, enum proto_mode mode,
                           const uint64_t delivered[3], int64_t elapsed_us)
{
	static const char *const names[3] = { "A", "B", "C" };
	static const uint64_t meals[3] = { 3000000, 3000000, 4000000 };
	int64_t wall = 1700000000000000 + (int64_t)run;
	store_add_run(s, run, SESSION, mode, 3, 10000000, 4000000,
	              mode == MODE_SYNC ? 10000000 : 4000000, wall);
	for (uint32_t i = 0; i < 3; i++)
		store_add_order(s, run, i + 1, names[i], 0, meals[i]);
	for (uint32_t i = 0; i < 3; i++) {
		uint64_t eaten = delivered[i] + meals[i] + 500 * (i + 1);
		store_add_event(s, run, i + 1, STEP_DELIVERED, delivered[i], wall);
		store_add_event(s, run, i + 1, STEP_EATEN, eaten, wall);
		store_add_event(s, run, i + 1, STEP_COLLECTED, eaten + 10, wall);
	}
	store_end_run(s, run, &(struct store_end){ .status = RUN_DONE, .elapsed_us = elapsed_us,
	                                           .wall_us = wall + elapsed_us });
}

static void test_records_land(void **state)
{
	struct fixture *f = *state;
	static const uint64_t sync_at[3] = { 0, 3000510, 6001020 };
	static const uint64_t async_at[3] = { 0, 100, 200 };
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_session(s, SESSION, 1700000000000000);
	add_lesson_run(s, 1, MODE_SYNC, sync_at, 10012345);
	add_lesson_run(s, 2, MODE_ASYNC, async_at, 4001000);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_int_equal(store_backlog(s), 0);

	assert_text(f->path, "SELECT session_id || ' ' || created_us FROM sessions",
	            "0123456789abcdef0123456789abcdef 1700000000000000");
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 18);
	assert_text(f->path, "SELECT group_concat(name || '=' || meal_us, ' ') FROM (SELECT * FROM"
	                     " orders WHERE run_id = 1 ORDER BY idx)", "A=3000000 B=3000000 C=4000000");
	assert_text(f->path, "SELECT mode || ' ' || orders || ' ' || status || ' ' || started_us"
	                     " || ' ' || finished_us FROM runs WHERE run_id = 1",
	            "sync 3 done 1700000000000001 1700000010012346");
	assert_true(db_real(f->path, "SELECT ideal_ms FROM run_summary WHERE run_id = 1") == 10000.0);
	assert_true(db_real(f->path, "SELECT elapsed_ms FROM run_summary WHERE run_id = 1")
	            == 10012.345);
	assert_true(db_real(f->path, "SELECT overhead_ms FROM run_summary WHERE run_id = 1")
	            == 12.345);
	assert_true(db_real(f->path, "SELECT speedup FROM run_summary WHERE run_id = 1") == 1.0);
	assert_true(db_real(f->path, "SELECT ideal_ms FROM run_summary WHERE run_id = 2") == 4000.0);
	assert_true(db_real(f->path, "SELECT overhead_ms FROM run_summary WHERE run_id = 2") == 1.0);
	assert_true(db_real(f->path, "SELECT speedup FROM run_summary WHERE run_id = 2") == 2.5);
	assert_text(f->path, "SELECT group_concat(late_ms, ' ') FROM (SELECT late_ms FROM"
	                     " order_timeline WHERE run_id = 1 ORDER BY idx)", "0.5 1.0 1.5");
	assert_true(db_real(f->path, "SELECT collected_ms FROM order_timeline"
	                             " WHERE run_id = 2 AND idx = 3") == 4001.71);
	store_close(s);
}

static void test_session_ids_stored_lower_case(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_session(s, "ABCDEF0123456789ABCDEF0123456789", 1);
	store_add_session(s, "not-an-id", 2);   /* refused, and no harm to the rest */
	store_add_event(s, 1, 1, STEP_DELIVERED, 0, 3);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_text(f->path, "SELECT group_concat(session_id) FROM sessions",
	            "abcdef0123456789abcdef0123456789");
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 1);
	store_close(s);
}

static void test_unfinished_run_has_null_elapsed(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_run(s, 4, SESSION, MODE_ASYNC, 2, 10, 6, 6, 5);
	store_end_run(s, 4, &(struct store_end){ .status = RUN_INTERRUPTED, .elapsed_us = -1,
	                                         .wall_us = 9 });
	wait_durable(s, f->base, &w);
	assert_text(f->path, "SELECT status || ' ' || coalesce(elapsed_us, 'null') || ' '"
	                     " || finished_us FROM runs", "interrupted null 9");
	store_close(s);
}

/* ---- generated orders ---------------------------------------------------- */

static void test_generated_small(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_generated_orders(s, 1, 3, 1000000, 3000000, "o");
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_text(f->path, "SELECT group_concat(idx || ':' || name || '=' || meal_us, ' ')"
	                     " FROM (SELECT * FROM orders ORDER BY idx)",
	            "1:o1=1000000 2:o2=2000000 3:o3=3000000");
	store_close(s);
}

static void test_generated_large_spans_transactions(void **state)
{
	struct fixture *f = *state;
	const uint32_t n = 120000;
	struct waiter w;
	struct store *s = open_ok(f->path);
	store_add_generated_orders(s, 9, n, 250000, 2000000, "g");
	store_add_event(s, 9, n, STEP_DELIVERED, 1, 1);
	/* Not started yet: everything is still queued, counted by rows. */
	assert_int_equal(store_backlog(s), n + 1);
	assert_false(store_busy(s));
	char err[STORE_ERR_LEN];
	assert_int_equal(store_start(s, f->base, err, sizeof err), 0);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_int_equal(store_backlog(s), 0);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM orders WHERE run_id = 9"), n);
	assert_int_equal(db_int(f->path, "SELECT count(DISTINCT name) FROM orders"), n);
	assert_text(f->path, "SELECT name || '=' || meal_us FROM orders WHERE idx = 120000",
	            "g120000=2000000");
	assert_text(f->path, "SELECT name || '=' || meal_us FROM orders WHERE idx = 1",
	            "g1=250000");
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 1);
	store_close(s);
}

/* ---- volume -------------------------------------------------------------- */

static void test_many_events(void **state)
{
	struct fixture *f = *state;
	const uint32_t n = 200000;
	struct waiter w;
	struct store *s = start_ok(f);
	for (uint32_t i = 0; i < n; i++)
		store_add_event(s, 1 + i / 60000, 1 + i / 3, (enum proto_step)(i % 3), i, i);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), n);
	assert_int_equal(db_int(f->path, "SELECT sum(t_us) FROM events"),
	                 (int64_t)n * (n - 1) / 2);
	store_close(s);
}

/* ---- waiters ------------------------------------------------------------- */

static void test_waiters_fire_in_order(void **state)
{
	struct fixture *f = *state;
	int order[3], norder = 0;
	struct waiter w[3];
	struct store *s = start_ok(f);
	memset(w, 0, sizeof w);
	for (int i = 0; i < 3; i++) {
		w[i].order = order;
		w[i].norder = &norder;
		w[i].id = i;
	}
	for (uint32_t i = 1; i <= 1000; i++)
		store_add_event(s, 1, i, STEP_DELIVERED, i, i);
	store_when_durable(s, on_durable, &w[0]);
	for (uint32_t i = 1; i <= 60000; i++)
		store_add_event(s, 2, i, STEP_DELIVERED, i, i);
	store_when_durable(s, on_durable, &w[1]);
	store_when_durable(s, on_durable, &w[2]);
	loop_until(f->base, &w[2]);
	assert_int_equal(norder, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(w[i].fired, 1);
		assert_int_equal(w[i].ok, 1);
	}
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 61000);
	store_close(s);
}

static void test_waiter_with_nothing_pending(void **state)
{
	struct fixture *f = *state;
	struct waiter w, again;
	struct store *s = start_ok(f);
	memset(&w, 0, sizeof w);
	store_when_durable(s, on_durable, &w);
	assert_int_equal(w.fired, 0);     /* never from inside the call */
	loop_until(f->base, &w);
	assert_int_equal(w.ok, 1);

	store_add_event(s, 1, 1, STEP_DELIVERED, 1, 1);
	wait_durable(s, f->base, &w);
	memset(&again, 0, sizeof again);
	store_when_durable(s, on_durable, &again);
	assert_int_equal(again.fired, 0);
	loop_until(f->base, &again);
	assert_int_equal(again.fired, 1);
	assert_int_equal(again.ok, 1);
	store_close(s);
}

static void test_refused_row_reported(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_event(s, 1, 1, STEP_DELIVERED, 1, 1);
	store_add_event(s, 1, 1, STEP_DELIVERED, 2, 2);   /* the same row again */
	store_add_event(s, 1, 2, STEP_DELIVERED, 3, 3);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 0);
	assert_non_null(strstr(w.err, "UNIQUE"));
	assert_non_null(strstr(w.err, "run 1"));
	/* Only the bad row is lost. */
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 2);

	store_add_event(s, 1, 3, STEP_DELIVERED, 4, 4);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	store_close(s);
}

/* Generated orders go in batches of rows: a refused row in one (an order
 * already there) costs only itself; the batch's other rows, the batches
 * after it and the odd orders at the end are stored. */
static void test_refused_generated_order_costs_itself(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_order(s, 5, 7, "taken", 0, 42);
	store_add_generated_orders(s, 5, 2 * STORE_ORDER_BATCH + 5, 1000, 2000, "g");
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 0);
	assert_non_null(strstr(w.err, "UNIQUE"));
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM orders WHERE run_id = 5"),
	                 2 * STORE_ORDER_BATCH + 5);
	assert_text(f->path, "SELECT name || '=' || meal_us FROM orders WHERE idx = 7", "taken=42");
	assert_text(f->path, "SELECT name FROM orders WHERE idx = 8", "g8");
	assert_text(f->path, "SELECT name || '=' || meal_us FROM orders WHERE idx = 45",
	            "g45=2000");
	store_close(s);
}

/* Another writer holds the database past the busy timeout: the batch is
 * rolled back and reported, and the store carries on afterwards. */
static void test_locked_batch_reported(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	sqlite3 *rival = db_open(f->path);
	assert_int_equal(sqlite3_exec(rival, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	store_add_event(s, 1, 1, STEP_DELIVERED, 1, 1);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 0);
	assert_non_null(strstr(w.err, "locked"));
	assert_int_equal(sqlite3_exec(rival, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(rival);

	store_add_event(s, 1, 2, STEP_DELIVERED, 2, 2);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_int_equal(db_int(f->path, "SELECT group_concat(idx) FROM events"), 2);
	store_close(s);
}

/* A run's end in a batch that failed is written again with the next one:
 * the run must not stay 'running' once writes succeed. */
static void test_failed_end_stored_later(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	struct store *s = start_ok(f);
	store_add_session(s, SESSION, 1000);
	store_add_run(s, 1, SESSION, MODE_ASYNC, 1, 100, 100, 100, 1000);
	store_add_order(s, 1, 1, "A", 0, 100);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);

	sqlite3 *rival = db_open(f->path);
	assert_int_equal(sqlite3_exec(rival, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	store_end_run(s, 1, &(struct store_end){ .status = RUN_DONE, .elapsed_us = 150,
	                                         .wall_us = 2000 });
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 0);
	assert_int_equal(sqlite3_exec(rival, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(rival);
	assert_text(f->path, "SELECT status FROM runs WHERE run_id = 1", "running");

	store_add_event(s, 1, 1, STEP_DELIVERED, 1, 1);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);
	assert_text(f->path, "SELECT status || ' ' || elapsed_us FROM runs WHERE run_id = 1",
	            "done 150");
	store_close(s);
}

/* The database file deleted, or another put in its place: nothing is
 * written into a file nobody can open any more, and waiters hear why. */
static void test_deleted_file_fails_batches(void **state)
{
	struct fixture *f = *state;
	struct waiter w;
	char side[400];
	struct store *s = start_ok(f);
	store_add_session(s, SESSION, 1000);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 1);

	snprintf(side, sizeof side, "%s/other.db", f->dir);
	FILE *fp = fopen(side, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(rename(side, f->path), 0);
	store_add_event(s, 1, 1, STEP_DELIVERED, 1, 1);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 0);
	assert_non_null(strstr(w.err, "was deleted or replaced; restart baedald"));
	assert_non_null(strstr(w.err, f->path));

	assert_int_equal(unlink(f->path), 0);
	store_add_event(s, 1, 2, STEP_DELIVERED, 2, 2);
	wait_durable(s, f->base, &w);
	assert_int_equal(w.ok, 0);
	store_close(s);
}

/* One process at a time: a second open of a database in use is refused
 * and names the holder; closing the first frees it. */
static void test_second_open_refused(void **state)
{
	struct fixture *f = *state;
	char err[STORE_ERR_LEN] = "", want[64];
	struct store *s = open_ok(f->path);
	assert_null(store_open(f->path, err, sizeof err));
	assert_non_null(strstr(err, f->path));
	snprintf(want, sizeof want, "in use by another baedald (pid %ld)", (long)getpid());
	assert_non_null(strstr(err, want));
	store_close(s);
	store_close(open_ok(f->path));
}

/* ---- shutdown ------------------------------------------------------------ */

static void test_close_commits_queued(void **state)
{
	struct fixture *f = *state;
	struct waiter w = { 0 };
	struct store *s = start_ok(f);
	for (uint32_t i = 1; i <= 10000; i++)
		store_add_event(s, 1, i, STEP_EATEN, i, i);
	store_add_generated_orders(s, 1, 70000, 1, 2, "c");
	store_when_durable(s, on_durable, &w);   /* freed, never called */
	store_close(s);
	assert_int_equal(w.fired, 0);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 10000);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM orders"), 70000);
}

static void test_close_without_start_commits(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path);
	store_add_session(s, SESSION, 7);
	store_add_event(s, 1, 1, STEP_EATEN, 1, 1);
	store_close(s);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM sessions"), 1);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM events"), 1);
}

/* ---- errors a user can meet ---------------------------------------------- */

static void assert_refused(const char *path, const char *also)
{
	char err[STORE_ERR_LEN] = "";
	assert_null(store_open(path, err, sizeof err));
	assert_non_null(strstr(err, path));
	if (also)
		assert_non_null(strstr(err, also));
	assert_null(strchr(err, '\n'));
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char path[400];
	static const char junk[] = "this is a text file, not an SQLite database, long enough "
	                           "to fill a header of one hundred bytes, and then some more.\n";
	snprintf(path, sizeof path, "%s/missing/baedal.db", f->dir);
	assert_refused(path, NULL);

	snprintf(path, sizeof path, "%s/adir", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_refused(path, NULL);

	snprintf(path, sizeof path, "%s/junk.db", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(junk, fp);
	fclose(fp);
	assert_refused(path, "not a database");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)strlen(junk));   /* left as it was */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_fresh_db),
		T(test_reopen_is_idempotent),
		T(test_newer_schema_refused),
		T(test_recovery_marks_interrupted),
		T(test_records_land),
		T(test_session_ids_stored_lower_case),
		T(test_unfinished_run_has_null_elapsed),
		T(test_generated_small),
		T(test_generated_large_spans_transactions),
		T(test_refused_generated_order_costs_itself),
		T(test_many_events),
		T(test_waiters_fire_in_order),
		T(test_waiter_with_nothing_pending),
		T(test_refused_row_reported),
		T(test_locked_batch_reported),
		T(test_failed_end_stored_later),
		T(test_deleted_file_fails_batches),
		T(test_second_open_refused),
		T(test_close_commits_queued),
		T(test_close_without_start_commits),
		T(test_open_errors),
	};
#undef T
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
