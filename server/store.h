/* The SQLite store: opens and migrates the database, then a writer thread
 * commits fixed-size records in batches and tells the loop when they are durable. */
#ifndef BAEDAL_STORE_H
#define BAEDAL_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "../common/protocol.h"
#include "server/histogram.h"

struct event_base;
struct store;

#define STORE_ERR_LEN 256

/* Opens (creating if needed) the database at path: locked first, for the
 * store's life, so that a file another process holds is refused before it
 * is read; then WAL, synchronous=FULL, migrations from schema/ applied by
 * PRAGMA user_version (a newer database is refused), runs left 'running'
 * marked 'interrupted'. Returns NULL and fills err on failure. No thread
 * runs yet. */
struct store *store_open(const char *path, char *err, size_t errlen);

/* Runs marked interrupted by store_open(); the first free run id; the
 * first free stall id (the server numbers its stalls on from there, so
 * that an id names one stall across restarts). */
uint64_t store_recovered_runs(const struct store *s);
uint64_t store_next_run_id(const struct store *s);
uint64_t store_next_stall_id(const struct store *s);

/* Starts the writer thread and registers its wake-up with base, so that
 * store_when_durable() callbacks run on base's loop. 0 or -1 (err filled). */
int store_start(struct store *s, struct event_base *base, char *err, size_t errlen);

/* Commits everything queued, stops the writer, closes the database and
 * frees s. Callbacks still waiting are not called. */
void store_close(struct store *s);

/* Admission control: true when the queue holds more records than its
 * limit; the caller answers new work with ERR busy. Appends never block. */
bool store_busy(const struct store *s);
size_t store_backlog(const struct store *s);

/* Records, queued in call order and committed in that order. Wall-clock
 * times are microseconds since the Unix epoch. */
void store_add_session(struct store *s, const char *session_hex, int64_t wall_us);
/* ideal_us: what a perfect server would take (run_ideal_us). */
void store_add_run(struct store *s, uint64_t run_id, const char *session_hex,
                   enum proto_mode mode, uint32_t orders, uint64_t sum_us,
                   uint64_t max_us, uint64_t ideal_us, int64_t wall_us);
/* What the client gave the run besides its orders (RUN/GEN group=, empty
 * for none; riders=, deadline=, 0 for none): a record of its own, so that
 * a run's record still fits one cache line. */
void store_add_group(struct store *s, uint64_t run_id, const char *group, uint32_t riders,
                     uint64_t deadline_us);
/* cook_us 0: an order that is not cooked. */
void store_add_order(struct store *s, uint64_t run_id, uint32_t idx, const char *name,
                     uint64_t cook_us, uint64_t meal_us);
/* GEN's orders as one record: the writer expands it with proto_gen_*(). */
void store_add_generated_orders(struct store *s, uint64_t run_id, uint32_t count,
                                uint64_t lo_us, uint64_t hi_us, const char *prefix);
void store_add_event(struct store *s, uint64_t run_id, uint32_t idx, enum proto_step step,
                     uint64_t t_us, int64_t wall_us);
/* How a run ended. elapsed_us < 0: it did not finish (interrupted). The
 * cooking figures are those of struct run (0 for a run without cooks). */
struct store_end {
	enum run_status status;
	int64_t elapsed_us;
	uint64_t cook_us, blocked_us, caused_us;
	int64_t wall_us;
	int64_t started_wall_us;    /* the wall clock at its t = 0 (0: it never started) */
	uint32_t cancelled;         /* orders given up on (cancelled, timed_out) */
};
void store_end_run(struct store *s, uint64_t run_id, const struct store_end *end);
/* The run started: the wall clock at its t = 0, which its stalls and
 * events are placed against (the run's row was made at its submission,
 * a commit earlier). */
void store_start_run(struct store *s, uint64_t run_id, int64_t wall_us);

/* A stall of the event loop (health.h): its id (stored as stall_id: the
 * one its STALL line and STATS gave), when it began (wall clock), how
 * long it held the loop, its cause, and the run and order it worked on
 * (0: none). */
struct store_stall {
	uint64_t id;
	int64_t wall_us;
	uint64_t duration_us;
	const char *cause;
	uint64_t run;
	uint32_t order;
};
void store_add_stall(struct store *s, const struct store_stall *st);

/* The last record queued and the last one known committed (or failed):
 * records are numbered 1, 2, ... in the order they were queued. */
void store_progress(const struct store *s, uint64_t *queued, uint64_t *durable);

/* The writer's transactions so far: how many, the rows they wrote, and
 * their times from BEGIN to COMMIT. */
struct store_commits {
	uint64_t commits, rows;
	struct histogram time;
};
void store_read_commits(struct store *s, struct store_commits *out);

/* Calls cb(arg, ok, err) on the loop once every record queued before this
 * call is committed (ok = 1), or its batch failed (ok = 0, err says why). */
typedef void (*store_durable_cb)(void *arg, int ok, const char *err);
void store_when_durable(struct store *s, store_durable_cb cb, void *arg);

#endif
