/* A run's life on the server, in one place: admission, the commit of its
 * records and its OK, its start, its end and the commit of that, its DONE
 * line, and its removal from its session's history. Only this module
 * changes the server's in-flight counts and a session's active count. */
#ifndef BAEDAL_RUN_LIFE_H
#define BAEDAL_RUN_LIFE_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct run;
struct server;
struct session;

/* Whether a run of n orders (cooks of them bound for the worker pool)
 * may be accepted now: 0, or -1 with the reason in err. */
int run_life_admit(const struct server *srv, uint64_t n, uint64_t cooks, char *err, size_t cap);

/* Takes r (NULL: its allocation failed) for c's session: queues its
 * records and answers c once they are committed, OK and the run starts,
 * or ERR storage and the run is dropped. c reads no further command
 * meanwhile. -1 if r could not be taken (r is freed). */
int run_life_submit(struct conn *c, struct run *r);

/* The run's coroutine ended (done or interrupted): its end is stored,
 * then its DONE line sent. */
void run_life_ended(struct server *srv, struct run *r);

/* CANCEL: s's run run_id, if it runs, is cancelled (its DONE follows
 * once its end is stored). 0, or -1 with an error code (no_run,
 * not_your_run, run_ended) in *code and the reason in err. */
int run_life_cancel(struct server *srv, struct session *s, uint64_t run_id, const char **code,
                    char *err, size_t cap);

struct proto_done;
/* A run as DONE, RUNS and ATTACH describe it (seq left 0). */
void run_life_describe(const struct run *r, struct proto_done *d);
/* Its elapsed time on the wire and in the store: -1 while it runs or if
 * it was interrupted; a cancelled or timed-out run's is up to its end. */
int64_t run_life_elapsed(const struct run *r);

/* Shutdown: every run that runs is interrupted, and one still awaiting
 * its commit will never start. */
void run_life_interrupt_all(struct server *srv);

#endif
