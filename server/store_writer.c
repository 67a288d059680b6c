#include "server/store_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"
#include "server/log.h"

static const char *const store_sql[ST_COUNT] = {
	/* IMMEDIATE: wait for a rival writer here, under busy_timeout, rather
	 * than fail at the first insert. */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* A session is recorded once, but a duplicate must not cost a batch. */
	[ST_SESSION] = "INSERT OR IGNORE INTO sessions (session_id, created_us) VALUES (?1, ?2)",
	[ST_RUN] = "INSERT INTO runs (run_id, session_id, mode, orders, status, sum_meal_us,"
	           " max_meal_us, started_us, ideal_us)"
	           " VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8)",
	[ST_GROUP] = "UPDATE runs SET group_id = ?2, riders = ?3, deadline_us = ?4 WHERE run_id = ?1",
	[ST_ORDER] = "INSERT INTO orders (run_id, idx, name, meal_us, cook_us)"
	             " VALUES (?1, ?2, ?3, ?4, ?5)",
	/* Unnumbered parameters: ST_EVENTS repeats the row of values. */
	[ST_EVENT] = "INSERT INTO events (run_id, idx, step, t_us, wall_us)"
	             " VALUES (?, ?, ?, ?, ?)",
	[ST_END] = "UPDATE runs SET status = ?2, elapsed_us = ?3, finished_us = ?4, cook_us = ?5,"
	           " blocked_us = ?6, caused_us = ?7, cancelled = ?8,"
	           " started_us = coalesce(?9, started_us) WHERE run_id = ?1",
	[ST_START] = "UPDATE runs SET started_us = ?2 WHERE run_id = ?1",
	[ST_STALL] = "INSERT INTO stalls (stall_id, started_us, duration_us, cause, run_id, idx)"
	             " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

/* ST_ORDERS's first row; the rest repeat its unnumbered parameters. */
static const char store_orders_sql[] = "INSERT INTO orders (run_id, idx, name, meal_us, cook_us)"
                                       " VALUES (?, ?, ?, ?, ?)";

/* first's statement with rows rows of five values. */
static void store_batch_sql(char *sql, size_t cap, const char *first, unsigned rows)
{
	size_t len = (size_t)snprintf(sql, cap, "%s", first);
	for (unsigned i = 1; i < rows && len < cap; i++)
		len += (size_t)snprintf(sql + len, cap - len, ", (?, ?, ?, ?, ?)");
}

int store_writer_init(struct store_writer *w, sqlite3 *db, const struct store_file *file,
                      char *err, size_t errlen)
{
	char events_sql[128 + 20 * STORE_EVENT_BATCH], orders_sql[128 + 20 * STORE_ORDER_BATCH];

	*w = (struct store_writer){ .db = db, .file = file };
	store_batch_sql(events_sql, sizeof events_sql, store_sql[ST_EVENT], STORE_EVENT_BATCH);
	store_batch_sql(orders_sql, sizeof orders_sql, store_orders_sql, STORE_ORDER_BATCH);
	for (int i = 0; i < ST_COUNT; i++) {
		const char *sql = i == ST_EVENTS ? events_sql : i == ST_ORDERS ? orders_sql
		                : store_sql[i];
		if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &w->st[i],
		                       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare \"%.60s\": %s", sql,
			         sqlite3_errmsg(db));
			store_writer_finalize(w);
			return -1;
		}
	}
	return 0;
}

void store_writer_finalize(struct store_writer *w)
{
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(w->st[i]);
		w->st[i] = NULL;
	}
	free(w->ends);
	w->ends = NULL;
	w->nends = w->ends_cap = 0;
}

static void store_hex_encode(char out[2 * STORE_ID_BYTES + 1], const uint8_t id[STORE_ID_BYTES])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < STORE_ID_BYTES; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * STORE_ID_BYTES] = '\0';
}

/* Records the failure rc of statement which. A constraint refuses only
 * that row (SQLite undoes just the statement), so the batch goes on;
 * anything else (disk full, I/O error, busy) fails the whole transaction. */
static int store_step_failed(struct store_writer *w, enum store_stmt which, uint64_t run_id,
                             struct store_tx *tx, int rc)
{
	bool fatal = (rc & 0xff) != SQLITE_CONSTRAINT;
	/* The error that sank the transaction outranks a refused row before it. */
	if (tx->err[0] == '\0' || (fatal && !tx->rolled_back)) {
		if (which == ST_SESSION)
			snprintf(tx->err, sizeof tx->err, "session: %s", sqlite3_errmsg(w->db));
		else if (which < ST_SESSION)
			snprintf(tx->err, sizeof tx->err, "%s", sqlite3_errmsg(w->db));
		else
			snprintf(tx->err, sizeof tx->err, "run %llu: %s", (unsigned long long)run_id,
			         sqlite3_errmsg(w->db));
	}
	if (fatal) {
		tx->rolled_back = true;
		return -1;
	}
	tx->rejected++;
	return 0;
}

/* Steps a bound statement; 0, or -1 when the transaction is lost. */
static int store_step(struct store_writer *w, enum store_stmt which, uint64_t run_id,
                      struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[which];
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? 0 : store_step_failed(w, which, run_id, tx, rc);
	/* Every parameter is bound again before the next use, so a reset
	 * without clearing the bindings is enough. */
	sqlite3_reset(st);
	return ret;
}

static int store_write_session(struct store_writer *w, const struct store_rec *r,
                               struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_SESSION];
	char hex[2 * STORE_ID_BYTES + 1];
	store_hex_encode(hex, r->u.session.id);
	sqlite3_bind_text(st, 1, hex, 2 * STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->u.session.wall_us);
	return store_step(w, ST_SESSION, 0, tx);
}

static int store_write_run(struct store_writer *w, const struct store_rec *r, struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_RUN];
	char hex[2 * STORE_ID_BYTES + 1];
	store_hex_encode(hex, r->u.run.id);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->run_id);
	sqlite3_bind_text(st, 2, hex, 2 * STORE_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, proto_mode_name((enum proto_mode)r->code), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->n);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->u.run.sum_us);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)r->u.run.max_us);
	sqlite3_bind_int64(st, 7, r->u.run.wall_us);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->u.run.ideal_us);
	return store_step(w, ST_RUN, r->run_id, tx);
}

static int store_write_group(struct store_writer *w, const struct store_rec *r,
                             struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_GROUP];
	size_t glen = strnlen(r->u.group.id, STORE_TEXT_MAX);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->run_id);
	if (glen)
		sqlite3_bind_text(st, 2, r->u.group.id, (int)glen, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	/* NULL: no limit, no deadline */
	if (r->u.group.riders)
		sqlite3_bind_int64(st, 3, r->u.group.riders);
	else
		sqlite3_bind_null(st, 3);
	if (r->u.group.deadline_us)
		sqlite3_bind_int64(st, 4, (sqlite3_int64)r->u.group.deadline_us);
	else
		sqlite3_bind_null(st, 4);
	return store_step(w, ST_GROUP, r->run_id, tx);
}

static int store_write_order(struct store_writer *w, uint64_t run_id, uint32_t idx,
                             const char *name, int name_len, uint64_t cook_us,
                             uint64_t meal_us, struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_ORDER];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)run_id);
	sqlite3_bind_int64(st, 2, idx);
	sqlite3_bind_text(st, 3, name, name_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)meal_us);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)cook_us);
	return store_step(w, ST_ORDER, run_id, tx);
}

/* The prefix and up to 10 digits always fit. */
typedef char store_gen_name[STORE_TEXT_MAX + 16];

/* Writes generated orders first .. first+STORE_ORDER_BATCH-1 of r in one
 * statement. If it fails, SQLite has undone it alone, and the rows go
 * again one by one, as events do (store_write_events). */
static int store_write_gen_batch(struct store_writer *w, const struct store_rec *r,
                                 const char *prefix, uint32_t first, struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_ORDERS];
	store_gen_name names[STORE_ORDER_BATCH];
	int lens[STORE_ORDER_BATCH];
	for (unsigned k = 0; k < STORE_ORDER_BATCH; k++) {
		uint32_t i = first + k;
		int p = (int)(5 * k + 1);
		lens[k] = proto_gen_name(names[k], sizeof names[k], prefix, i);
		sqlite3_bind_int64(st, p, (sqlite3_int64)r->run_id);
		sqlite3_bind_int64(st, p + 1, i);
		sqlite3_bind_text(st, p + 2, names[k], lens[k], SQLITE_STATIC);
		sqlite3_bind_int64(st, p + 3,
		                   (sqlite3_int64)proto_gen_meal(i, r->n, r->u.gen.lo_us, r->u.gen.hi_us));
		sqlite3_bind_int64(st, p + 4, 0);
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	/* A failure that ended the transaction leaves nothing to retry. */
	if (sqlite3_get_autocommit(w->db)) {
		store_step_failed(w, ST_ORDERS, r->run_id, tx, rc);
		tx->rolled_back = true;
		return -1;
	}
	for (unsigned k = 0; k < STORE_ORDER_BATCH; k++) {
		uint32_t i = first + k;
		uint64_t meal = proto_gen_meal(i, r->n, r->u.gen.lo_us, r->u.gen.hi_us);
		if (store_write_order(w, r->run_id, i, names[k], lens[k], 0, meal, tx) != 0)
			return -1;
	}
	return 0;
}

/* Writes orders gen_done+1 .. gen_done+n of a generated record. */
static int store_write_generated(struct store_writer *w, const struct store_rec *r, uint32_t n,
                                 struct store_tx *tx)
{
	char prefix[STORE_TEXT_MAX + 1];
	store_gen_name name;
	size_t plen = strnlen(r->u.gen.prefix, STORE_TEXT_MAX);
	memcpy(prefix, r->u.gen.prefix, plen);
	prefix[plen] = '\0';
	uint32_t i = w->gen_done + 1, last = w->gen_done + n;
	for (; i <= last && last - i + 1 >= STORE_ORDER_BATCH; i += STORE_ORDER_BATCH)
		if (store_write_gen_batch(w, r, prefix, i, tx) != 0)
			return -1;
	for (; i <= last; i++) {
		int len = proto_gen_name(name, sizeof name, prefix, i);
		uint64_t meal = proto_gen_meal(i, r->n, r->u.gen.lo_us, r->u.gen.hi_us);
		if (store_write_order(w, r->run_id, i, name, len, 0, meal, tx) != 0)
			return -1;
	}
	return 0;
}

/* Binds event r as the row of values that starts at parameter first. */
static void store_bind_event(sqlite3_stmt *st, int first, const struct store_rec *r)
{
	sqlite3_bind_int64(st, first, (sqlite3_int64)r->run_id);
	sqlite3_bind_int64(st, first + 1, r->n);
	sqlite3_bind_text(st, first + 2, proto_step_name((enum proto_step)r->code), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, first + 3, (sqlite3_int64)r->u.event.t_us);
	sqlite3_bind_int64(st, first + 4, r->u.event.wall_us);
}

static int store_write_event(struct store_writer *w, const struct store_rec *r,
                             struct store_tx *tx)
{
	store_bind_event(w->st[ST_EVENT], 1, r);
	return store_step(w, ST_EVENT, r->run_id, tx);
}

/* Takes the event records at the head of the queue, up to
 * STORE_EVENT_BATCH and budget rows, and writes them: a full batch in one
 * statement. If that statement fails, SQLite has undone it alone, and the
 * rows go again one by one, so that a refused row costs only itself and
 * a failure is reported as for a single row. Returns the records taken. */
static unsigned store_write_events(struct store_writer *w, struct store_queue *q,
                                   uint64_t last, uint64_t budget, struct store_tx *tx)
{
	struct store_rec batch[STORE_EVENT_BATCH];
	unsigned n = 0;

	while (n < STORE_EVENT_BATCH && n < budget && q->taken < last) {
		const struct store_rec *r = store_queue_peek(q);
		if (r->kind != REC_EVENT)
			break;
		memcpy(&batch[n++], r, store_rec_bytes(REC_EVENT));   /* all an event has */
		store_queue_advance(q);
	}
	if (tx->rolled_back)
		return n;
	if (n == STORE_EVENT_BATCH) {
		sqlite3_stmt *st = w->st[ST_EVENTS];
		for (unsigned i = 0; i < n; i++)
			store_bind_event(st, (int)(5 * i + 1), &batch[i]);
		int rc = sqlite3_step(st);
		/* A failure that ended the transaction leaves nothing to retry. */
		if (rc != SQLITE_DONE && sqlite3_get_autocommit(w->db)) {
			store_step_failed(w, ST_EVENTS, batch[0].run_id, tx, rc);
			tx->rolled_back = true;
		}
		sqlite3_reset(st);
		if (rc == SQLITE_DONE || tx->rolled_back)
			return n;
	}
	for (unsigned i = 0; i < n && !tx->rolled_back; i++)
		store_write_event(w, &batch[i], tx);
	return n;
}

static int store_write_end(struct store_writer *w, const struct store_rec *r, struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_END];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->run_id);
	sqlite3_bind_text(st, 2, proto_status_name((enum run_status)r->code), -1, SQLITE_STATIC);
	if (r->u.end.elapsed_us < 0)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int64(st, 3, r->u.end.elapsed_us);
	sqlite3_bind_int64(st, 4, r->u.end.wall_us);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->u.end.cook_us);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)r->u.end.blocked_us);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)r->u.end.caused_us);
	sqlite3_bind_int64(st, 8, r->n);
	if (r->u.end.started_wall_us)
		sqlite3_bind_int64(st, 9, r->u.end.started_wall_us);
	else
		sqlite3_bind_null(st, 9);
	return store_step(w, ST_END, r->run_id, tx);
}

static int store_write_start(struct store_writer *w, const struct store_rec *r,
                             struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_START];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->run_id);
	sqlite3_bind_int64(st, 2, r->u.start.wall_us);
	return store_step(w, ST_START, r->run_id, tx);
}

static int store_write_stall(struct store_writer *w, const struct store_rec *r,
                             struct store_tx *tx)
{
	sqlite3_stmt *st = w->st[ST_STALL];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->u.stall.id);
	sqlite3_bind_int64(st, 2, r->u.stall.wall_us);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->u.stall.duration_us);
	sqlite3_bind_text(st, 4, r->u.stall.cause, (int)strnlen(r->u.stall.cause, STORE_CAUSE_MAX),
	                  SQLITE_STATIC);
	if (r->run_id)
		sqlite3_bind_int64(st, 5, (sqlite3_int64)r->run_id);
	else
		sqlite3_bind_null(st, 5);
	if (r->n)
		sqlite3_bind_int64(st, 6, r->n);
	else
		sqlite3_bind_null(st, 6);
	return store_step(w, ST_STALL, r->run_id, tx);
}

/* n: how many of a generated record's orders fit this transaction. */
static int store_write_rec(struct store_writer *w, const struct store_rec *r, uint32_t n,
                           struct store_tx *tx)
{
	switch ((enum store_rec_kind)r->kind) {
	case REC_SESSION:
		return store_write_session(w, r, tx);
	case REC_RUN:
		return store_write_run(w, r, tx);
	case REC_ORDER:
		return store_write_order(w, r->run_id, r->n, r->u.order.name,
		                         (int)strnlen(r->u.order.name, STORE_TEXT_MAX),
		                         r->u.order.cook_us, r->u.order.meal_us, tx);
	case REC_GEN:
		return store_write_generated(w, r, n, tx);
	case REC_EVENT:
		return store_write_event(w, r, tx);
	case REC_END:
		return store_write_end(w, r, tx);
	case REC_GROUP:
		return store_write_group(w, r, tx);
	case REC_STALL:
		return store_write_stall(w, r, tx);
	case REC_START:
		return store_write_start(w, r, tx);
	}
	return 0;
}

/* Keeps a copy of run end r until a transaction commits it. */
static void store_keep_end(struct store_writer *w, const struct store_rec *r)
{
	if (w->nends == w->ends_cap) {
		uint32_t cap = w->ends_cap ? 2 * w->ends_cap : 64;
		struct store_rec *grown = NULL;
		if (cap <= STORE_KEPT_ENDS_MAX)
			grown = realloc(w->ends, cap * sizeof *grown);
		if (!grown) {
			w->ends_given_up++;
			return;
		}
		w->ends = grown;
		w->ends_cap = cap;
	}
	w->ends[w->nends++] = *r;
}

/* A deleted database file takes writes without complaint, into a file
 * nobody can open any more: found once, every transaction fails. */
static void store_check_file(struct store_writer *w, struct store_tx *tx)
{
	if (!w->file_gone && store_file_same(w->file))
		return;
	if (!w->file_gone)
		log_error("store: the database file %s was deleted or replaced: nothing more can be "
		          "stored and new runs are refused until baedald is restarted", w->file->path);
	w->file_gone = true;
	tx->file_gone = true;
	tx->rolled_back = true;
	snprintf(tx->err, sizeof tx->err,
	         "the database file %s was deleted or replaced; restart baedald", w->file->path);
}

/* Starts the transaction with the ends that earlier ones failed to store. */
static void store_tx_begin(struct store_writer *w, struct store_tx *tx)
{
	store_check_file(w, tx);
	if (!tx->rolled_back)
		store_step(w, ST_BEGIN, 0, tx);
	for (uint32_t i = 0; i < w->nends && !tx->rolled_back; i++)
		store_write_end(w, &w->ends[i], tx);
}

/* A commit stored every end kept; a rollback keeps them for the next. */
static void store_tx_settle_ends(struct store_writer *w, const struct store_tx *tx)
{
	if (!tx->rolled_back) {
		w->nends = 0;
	} else if (w->ends_given_up > 0) {
		log_error("store: %llu run end(s) could not be kept for a retry: those runs stay "
		          "'running' in the database until the next start marks them interrupted",
		          (unsigned long long)w->ends_given_up);
	}
	w->ends_given_up = 0;
}

/* Turns the first error into the text waiters get and the log shows. */
static void store_tx_describe(struct store_tx *tx)
{
	char first[STORE_ERR_LEN];
	if (tx->err[0] == '\0')
		return;
	memcpy(first, tx->err, sizeof first);
	if (tx->rolled_back)
		snprintf(tx->err, sizeof tx->err, "records %llu..%llu not stored: %.180s",
		         (unsigned long long)tx->lo + 1, (unsigned long long)tx->hi, first);
	else
		snprintf(tx->err, sizeof tx->err,
		         "%llu row(s) refused in records %llu..%llu, first: %.160s",
		         (unsigned long long)tx->rejected, (unsigned long long)tx->lo + 1,
		         (unsigned long long)tx->hi, first);
}

void store_writer_tx(struct store_writer *w, struct store_queue *q, uint64_t last,
                     struct store_tx *tx)
{
	uint64_t budget = STORE_TX_ROWS;

	tx->lo = q->taken;
	tx->rows = 0;
	tx->rejected = 0;
	tx->rolled_back = false;
	tx->file_gone = false;
	tx->err[0] = '\0';
	store_tx_begin(w, tx);
	/* After a failure the records are still consumed, without SQL, so the
	 * queue moves on and waiters hear about it. */
	while (q->taken < last && budget > 0) {
		const struct store_rec *r = store_queue_peek(q);
		if (r->kind == REC_EVENT) {
			unsigned n = store_write_events(w, q, last, budget, tx);
			budget -= n;
			tx->rows += n;
			continue;
		}
		uint32_t n = 1;
		if (r->kind == REC_GEN)
			n = r->n - w->gen_done < budget ? r->n - w->gen_done : (uint32_t)budget;
		if (r->kind == REC_END)
			store_keep_end(w, r);
		if (!tx->rolled_back)
			store_write_rec(w, r, n, tx);
		budget -= n;
		tx->rows += n;
		if (r->kind == REC_GEN && (w->gen_done += n) < r->n)
			break;
		w->gen_done = 0;
		store_queue_advance(q);
	}
	tx->hi = q->taken;
	tx->partial = w->gen_done > 0;
	if (!tx->rolled_back)
		store_step(w, ST_COMMIT, 0, tx);
	/* An I/O error or a full disk may already have rolled SQLite back. */
	if (tx->rolled_back && !sqlite3_get_autocommit(w->db))
		store_step(w, ST_ROLLBACK, 0, tx);
	store_tx_settle_ends(w, tx);
	store_tx_describe(tx);
}
