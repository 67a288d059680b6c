/* The SQL half of the store's writer thread: statements prepared once on
 * the write connection, and one bounded transaction at a time from the queue. */
#ifndef BAEDAL_STORE_WRITER_H
#define BAEDAL_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "server/store.h"
#include "server/store_file.h"
#include "server/store_queue.h"

/* Rows per transaction: large enough for ~1 M rows/s with synchronous=FULL,
 * small enough that a million generated orders do not make one huge
 * transaction or keep earlier waiters waiting. */
#define STORE_TX_ROWS 50000u

/* Events in one multi-row INSERT: a statement per row spent a quarter of
 * the writer's time on the statement rather than the row (1.09 M rows/s
 * against 0.83 M for single rows, measured on the events table). */
#define STORE_EVENT_BATCH 20u
/* Generated orders in one multi-row INSERT, for the same reason: a
 * GEN's OK waits for all its orders' rows. */
#define STORE_ORDER_BATCH 20u

enum store_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SESSION, ST_RUN, ST_GROUP, ST_ORDER, ST_EVENT, ST_END, ST_STALL, ST_START,
	ST_EVENTS,                  /* STORE_EVENT_BATCH events in one INSERT */
	ST_ORDERS,                  /* STORE_ORDER_BATCH generated orders in one INSERT */
	ST_COUNT
};

/* Run ends kept for a retry at most: 4 MiB of records. Past it (a disk
 * full for long while clients keep submitting) an end is given up, and
 * the next start marks its run interrupted. */
#define STORE_KEPT_ENDS_MAX 65536u

struct store_writer {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	uint32_t gen_done;          /* orders of the generated record at the head already written */
	/* Every run end since the last commit that succeeded: a run whose end
	 * is lost would stay 'running' in the database, so each transaction
	 * writes the ends of the failed ones before its own records. */
	struct store_rec *ends;
	uint32_t nends, ends_cap;
	uint64_t ends_given_up;     /* since the last commit */
	const struct store_file *file;  /* checked before each transaction */
	bool file_gone;
};

/* What one transaction did: it finished records (lo, hi]; rows is what
 * they stood for in the queue's accounting. */
struct store_tx {
	uint64_t lo, hi;
	uint64_t rows;
	uint64_t rejected;          /* rows refused by a constraint; the rest committed */
	bool rolled_back;
	bool partial;               /* record hi+1, generated, is only partly written */
	bool file_gone;             /* failed for a deleted database file, logged once */
	char err[STORE_ERR_LEN];    /* empty when everything was committed */
};

/* 0, or -1 with err filled (nothing left to finalize). file is the
 * database's, held open. */
int store_writer_init(struct store_writer *w, sqlite3 *db, const struct store_file *file,
                      char *err, size_t errlen);
void store_writer_finalize(struct store_writer *w);

/* Writes the records after q->taken, up to seq last and STORE_TX_ROWS rows,
 * in one transaction, and consumes them whatever the outcome; the run ends
 * among them are kept until a transaction commits them. Once the database
 * file is found deleted or replaced, every transaction fails. */
void store_writer_tx(struct store_writer *w, struct store_queue *q, uint64_t last,
                     struct store_tx *tx);

#endif
