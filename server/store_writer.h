/* The SQL half of the store's writer thread: statements prepared once on
 * the write connection, and one bounded transaction at a time from the queue. */
#ifndef BAEDAL_STORE_WRITER_H
#define BAEDAL_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "server/store.h"
#include "server/store_queue.h"

/* Rows per transaction: large enough for ~1 M rows/s with synchronous=FULL,
 * small enough that a million generated orders do not make one huge
 * transaction or keep earlier waiters waiting. */
#define STORE_TX_ROWS 50000u

/* Events in one multi-row INSERT: a statement per row spent a quarter of
 * the writer's time on the statement rather than the row (1.09 M rows/s
 * against 0.83 M for single rows, measured on the events table). */
#define STORE_EVENT_BATCH 20u

enum store_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SESSION, ST_RUN, ST_ORDER, ST_EVENT, ST_END,
	ST_EVENTS,                  /* STORE_EVENT_BATCH events in one INSERT */
	ST_COUNT
};

struct store_writer {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	uint32_t gen_done;          /* orders of the generated record at the head already written */
};

/* What one transaction did: it finished records (lo, hi]; rows is what
 * they stood for in the queue's accounting. */
struct store_tx {
	uint64_t lo, hi;
	uint64_t rows;
	uint64_t rejected;          /* rows refused by a constraint; the rest committed */
	bool rolled_back;
	bool partial;               /* record hi+1, generated, is only partly written */
	char err[STORE_ERR_LEN];    /* empty when everything was committed */
};

/* 0, or -1 with err filled (nothing left to finalize). */
int store_writer_init(struct store_writer *w, sqlite3 *db, char *err, size_t errlen);
void store_writer_finalize(struct store_writer *w);

/* Writes the records after q->taken, up to seq last and STORE_TX_ROWS rows,
 * in one transaction, and consumes them whatever the outcome. */
void store_writer_tx(struct store_writer *w, struct store_queue *q, uint64_t last,
                     struct store_tx *tx);

#endif
