#include "server/store_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

/* A reader waits this long for the writer's checkpoint, at worst; reads
 * in WAL mode otherwise never wait. */
#define STORE_READ_BUSY_MS 200

struct store_read {
	sqlite3 *db;
	sqlite3_stmt *cursor;       /* orders or in-flight, while one is open */
	int pending;                /* cursor holds a row not yet returned */
	int done;                   /* the cursor ran out (stepping on would restart it) */
	int64_t sum;                /* the in-flight count so far */
	char err[256];
};

#define RUN_COLUMNS "run_id, session_id, mode, orders, status, elapsed_us, ideal_us, " \
	"sum_meal_us, max_meal_us, cook_us, blocked_us, caused_us, coalesce(group_id, ''), " \
	"started_us, coalesce(riders, 0), coalesce(deadline_us, 0), cancelled"

static int store_read_fail(struct store_read *sr)
{
	snprintf(sr->err, sizeof sr->err, "database: %s", sqlite3_errmsg(sr->db));
	return -1;
}

struct store_read *store_read_open(const char *path, char *err, size_t cap)
{
	struct store_read *sr = calloc(1, sizeof *sr);
	if (!sr) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &sr->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL)
	    != SQLITE_OK) {
		snprintf(err, cap, "cannot read %s: %s", path,
		         sr->db ? sqlite3_errmsg(sr->db) : "out of memory");
		sqlite3_close(sr->db);
		free(sr);
		return NULL;
	}
	sqlite3_busy_timeout(sr->db, STORE_READ_BUSY_MS);
	return sr;
}

void store_read_close(struct store_read *sr)
{
	if (!sr)
		return;
	sqlite3_finalize(sr->cursor);
	sqlite3_close(sr->db);
	free(sr);
}

const char *store_read_error(const struct store_read *sr)
{
	return sr->err;
}

static void store_read_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void store_read_row(sqlite3_stmt *st, struct export_run *r)
{
	char text[16];
	memset(r, 0, sizeof *r);
	r->id = (uint64_t)sqlite3_column_int64(st, 0);
	store_read_text(r->session, sizeof r->session, st, 1);
	store_read_text(text, sizeof text, st, 2);
	r->mode = strcmp(text, "sync") == 0 ? MODE_SYNC
	        : strcmp(text, "async") == 0 ? MODE_ASYNC : MODE_OFFLOAD;
	r->orders = (uint32_t)sqlite3_column_int64(st, 3);
	store_read_text(text, sizeof text, st, 4);
	r->status = strcmp(text, "done") == 0 ? RUN_DONE
	          : strcmp(text, "running") == 0 ? RUN_RUNNING
	          : strcmp(text, "cancelled") == 0 ? RUN_CANCELLED
	          : strcmp(text, "timed_out") == 0 ? RUN_TIMED_OUT : RUN_INTERRUPTED;
	r->elapsed_us = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5);
	r->ideal_us = (uint64_t)sqlite3_column_int64(st, 6);
	r->sum_us = (uint64_t)sqlite3_column_int64(st, 7);
	r->max_us = (uint64_t)sqlite3_column_int64(st, 8);
	r->cook_us = (uint64_t)sqlite3_column_int64(st, 9);
	r->blocked_us = (uint64_t)sqlite3_column_int64(st, 10);
	r->caused_us = (uint64_t)sqlite3_column_int64(st, 11);
	store_read_text(r->group, sizeof r->group, st, 12);
	r->started_wall_us = sqlite3_column_int64(st, 13);
	r->riders = (uint32_t)sqlite3_column_int64(st, 14);
	r->deadline_us = (uint64_t)sqlite3_column_int64(st, 15);
	r->cancelled = (uint32_t)sqlite3_column_int64(st, 16);
}

/* Runs a query whose rows are runs: how many went to out, or -1. */
static int store_read_run_rows(struct store_read *sr, sqlite3_stmt *st, struct export_run *out,
                               size_t cap)
{
	size_t n = 0;
	int rc;
	while (n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW)
		store_read_row(st, &out[n++]);
	if (n < cap && rc != SQLITE_DONE)
		n = (size_t)store_read_fail(sr);
	sqlite3_finalize(st);
	return (int)n;
}

static sqlite3_stmt *store_read_prepare(struct store_read *sr, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(sr->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_read_fail(sr);
		return NULL;
	}
	return st;
}

int store_read_runs(struct store_read *sr, const char *session, struct export_run *out,
                    size_t cap)
{
	sqlite3_stmt *st = store_read_prepare(sr, session
		? "SELECT " RUN_COLUMNS " FROM runs WHERE session_id = ?1 ORDER BY run_id DESC LIMIT ?2"
		: "SELECT " RUN_COLUMNS " FROM runs ORDER BY run_id DESC LIMIT ?2");
	if (!st)
		return -1;
	if (session)
		sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
	return store_read_run_rows(sr, st, out, cap);
}

int store_read_run(struct store_read *sr, uint64_t id, struct export_run *out)
{
	sqlite3_stmt *st = store_read_prepare(sr, "SELECT " RUN_COLUMNS " FROM runs WHERE run_id = ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return store_read_run_rows(sr, st, out, 1);
}

int store_read_group(struct store_read *sr, const struct export_run *r, struct export_run *out,
                     size_t cap)
{
	if (!r->group[0]) {
		if (cap == 0)
			return 0;
		out[0] = *r;
		return 1;
	}
	sqlite3_stmt *st = store_read_prepare(sr, "SELECT " RUN_COLUMNS " FROM runs WHERE "
	                                      "session_id = ?1 AND group_id = ?2 ORDER BY run_id "
	                                      "LIMIT ?3");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, r->session, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->group, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)cap);
	return store_read_run_rows(sr, st, out, cap);
}

int store_read_stalls(struct store_read *sr, const struct export_run *r,
                      struct export_stall *out, size_t cap)
{
	sqlite3_stmt *st = store_read_prepare(sr,
		"SELECT stall_id, started_us, duration_us, cause, coalesce(run_id, 0), "
		"coalesce(idx, 0) FROM stalls WHERE started_us + duration_us > ?1 AND "
		"(?2 < 0 OR started_us < ?1 + ?2) ORDER BY started_us LIMIT ?3");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, r->started_wall_us);
	sqlite3_bind_int64(st, 2, r->elapsed_us);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)cap);
	size_t n = 0;
	int rc;
	while (n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct export_stall *s = &out[n++];
		s->id = (uint64_t)sqlite3_column_int64(st, 0);
		s->started_wall_us = sqlite3_column_int64(st, 1);
		s->duration_us = (uint64_t)sqlite3_column_int64(st, 2);
		store_read_text(s->cause, sizeof s->cause, st, 3);
		s->run = (uint64_t)sqlite3_column_int64(st, 4);
		s->order = (uint32_t)sqlite3_column_int64(st, 5);
	}
	if (n < cap && rc != SQLITE_DONE)
		n = (size_t)store_read_fail(sr);
	sqlite3_finalize(st);
	return (int)n;
}

int store_read_orders_begin(struct store_read *sr, uint64_t run_id)
{
	store_read_orders_end(sr);
	/* One row per step (and one for an order with none yet), in index
	 * order: the primary keys of both tables give that order for free. */
	sr->cursor = store_read_prepare(sr,
		"SELECT o.idx, o.name, o.meal_us, o.cook_us, e.step, e.t_us FROM orders AS o "
		"LEFT JOIN events AS e ON e.run_id = o.run_id AND e.idx = o.idx "
		"WHERE o.run_id = ?1 ORDER BY o.idx");
	if (!sr->cursor)
		return -1;
	sqlite3_bind_int64(sr->cursor, 1, (sqlite3_int64)run_id);
	sr->pending = 0;
	return 0;
}

/* Adds the cursor's current row (a step of o, or none) to o. */
static void store_read_step(sqlite3_stmt *st, struct export_order *o)
{
	const unsigned char *step = sqlite3_column_text(st, 4);
	int s = step ? export_step_parse((const char *)step) : -1;
	if (s >= 0)
		o->t_us[s] = sqlite3_column_int64(st, 5);
}

int store_read_orders_next(struct store_read *sr, struct export_order *o)
{
	sqlite3_stmt *st = sr->cursor;
	if (sr->done)
		return 0;
	int rc = sr->pending ? SQLITE_ROW : sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sr->done = 1;
		return rc == SQLITE_DONE ? 0 : store_read_fail(sr);
	}
	memset(o, 0, sizeof *o);
	for (int s = 0; s < EXPORT_STEPS; s++)
		o->t_us[s] = -1;
	o->idx = (uint32_t)sqlite3_column_int64(st, 0);
	store_read_text(o->name, sizeof o->name, st, 1);
	o->meal_us = (uint64_t)sqlite3_column_int64(st, 2);
	o->cook_us = (uint64_t)sqlite3_column_int64(st, 3);
	do {
		store_read_step(st, o);
	} while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	         (uint32_t)sqlite3_column_int64(st, 0) == o->idx);
	sr->pending = rc == SQLITE_ROW;
	sr->done = rc != SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_read_fail(sr);
	return 1;
}

void store_read_orders_end(struct store_read *sr)
{
	sqlite3_finalize(sr->cursor);
	sr->cursor = NULL;
	sr->pending = 0;
	sr->done = 0;
}

int store_read_inflight_begin(struct store_read *sr, uint64_t run_id)
{
	store_read_orders_end(sr);
	sr->cursor = store_read_prepare(sr,
		"SELECT t_us, sum(CASE step WHEN 'delivered' THEN 1 ELSE -1 END) FROM events "
		"WHERE run_id = ?1 AND (step = 'delivered' OR step = 'collected') "
		"GROUP BY t_us ORDER BY t_us");
	if (!sr->cursor)
		return -1;
	sqlite3_bind_int64(sr->cursor, 1, (sqlite3_int64)run_id);
	sr->sum = 0;
	return 0;
}

int store_read_inflight_next(struct store_read *sr, int64_t *t_us, int64_t *count)
{
	if (sr->done)
		return 0;
	int rc = sqlite3_step(sr->cursor);
	if (rc != SQLITE_ROW) {
		sr->done = 1;
		return rc == SQLITE_DONE ? 0 : store_read_fail(sr);
	}
	sr->sum += sqlite3_column_int64(sr->cursor, 1);
	*t_us = sqlite3_column_int64(sr->cursor, 0);
	*count = sr->sum;
	return 1;
}

void store_read_inflight_end(struct store_read *sr)
{
	store_read_orders_end(sr);
}
