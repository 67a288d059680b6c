#include "server/run_life.h"

#include <stdio.h>
#include <string.h>

#include "server/clock.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/run.h"
#include "server/run_hooks.h"
#include "server/server.h"
#include "server/session.h"
#include "server/store.h"

int run_life_admit(const struct server *srv, uint64_t n, uint64_t cooks, char *err, size_t cap)
{
	if (srv->stopping) {
		snprintf(err, cap, "the server is shutting down");
		return -1;
	}
	if (store_busy(srv->store)) {
		snprintf(err, cap, "the database is %zu records behind; try again",
		         store_backlog(srv->store));
		return -1;
	}
	if (srv->inflight + n > srv->cfg->max_inflight) {
		snprintf(err, cap, "%llu orders are running (limit %llu); try again",
		         (unsigned long long)srv->inflight, (unsigned long long)srv->cfg->max_inflight);
		return -1;
	}
	if (srv->pool_cooks + cooks > srv->pool_capacity) {
		snprintf(err, cap, "%llu orders wait to be cooked (limit %llu); try again",
		         (unsigned long long)srv->pool_cooks, (unsigned long long)srv->pool_capacity);
		return -1;
	}
	return 0;
}

/* The run's orders count against the server's limits from its submission
 * until it stops running, whichever way: given back exactly once. */
static void run_life_release(struct server *srv, struct run *r)
{
	if (!r->holds_capacity)
		return;
	r->holds_capacity = 0;
	srv->inflight -= r->norders;
	srv->pool_cooks -= r->pool_cooks;
}

int64_t run_life_elapsed(const struct run *r)
{
	if (r->status == RUN_RUNNING || r->status == RUN_INTERRUPTED)
		return -1;
	return (int64_t)r->elapsed_us;
}

void run_life_describe(const struct run *r, struct proto_done *d)
{
	*d = (struct proto_done){
		.run = r->id, .mode = r->mode, .orders = r->norders, .status = r->status,
		.elapsed_us = run_life_elapsed(r), .ideal_us = run_ideal_us(r), .sum_us = r->sum_us,
		/* Running, the cooking it will do; ended, the cooking it did (a
		 * deadline may have given up on some). */
		.max_us = r->max_us, .cook_us = r->status == RUN_RUNNING ? r->cook_us : r->cooked_us,
		.blocked_us = r->blocked_us,
		.caused_us = r->caused_us, .riders = r->riders, .deadline_us = r->deadline_us,
		.collected = run_collected(r), .cancelled = r->norders - run_collected(r),
	};
}

static void run_life_queue_end(struct server *srv, struct run *r)
{
	if (r->end_queued)
		return;
	r->end_queued = 1;
	store_end_run(srv->store, r->id, &(struct store_end){
		.status = r->status, .elapsed_us = run_life_elapsed(r),
		.cook_us = r->cooked_us, .blocked_us = r->blocked_us, .caused_us = r->caused_us,
		.wall_us = clock_wall_us(), .started_wall_us = r->start_wall_us,
		.cancelled = r->status == RUN_CANCELLED || r->status == RUN_TIMED_OUT
		             ? r->norders - run_collected(r) : 0 });
}

/* The run's last line is out (or it never started): the session has one
 * run less to wait for. */
static void run_life_close(struct session *s, struct run *r)
{
	r->stage = RUN_CLOSED;
	s->active--;
	if (s->conn)
		conn_session_idle(s->conn);
	session_arm_expiry(s);
}

/* Frees the oldest closed runs once more are kept than RUNS lists. A run
 * that is not closed may still be reached by a store callback: kept. */
static void run_life_trim(struct session *s)
{
	size_t closed = 0;
	for (size_t i = 0; i < s->nruns; i++)
		closed += s->runs[i]->stage == RUN_CLOSED;
	for (size_t i = 0; i < s->nruns && closed > SESSION_HISTORY_MAX;) {
		struct run *r = s->runs[i];
		if (r->stage != RUN_CLOSED) {
			i++;
			continue;
		}
		session_remove_run(s, r);
		run_free(r);
		closed--;
	}
}

static void run_life_committed(void *arg, int ok, const char *err);

static void run_life_queue_records(struct server *srv, struct session *s, struct run *r)
{
	int64_t wall = clock_wall_us();
	if (!s->stored) {
		store_add_session(srv->store, s->id, wall);
		s->stored = 1;
	}
	store_add_run(srv->store, r->id, s->id, r->mode, r->norders, r->sum_us, r->max_us,
	              run_ideal_us(r), wall);
	if (r->group[0] || r->riders || r->deadline_us)
		store_add_group(srv->store, r->id, r->group, r->riders, r->deadline_us);
	if (r->names) {
		for (uint32_t i = 0; i < r->norders; i++)
			store_add_order(srv->store, r->id, i + 1, r->names[i],
			                r->cooks ? r->cooks[i].cook_us : 0, r->orders[i].meal_us);
	} else {
		store_add_generated_orders(srv->store, r->id, r->norders, r->gen_lo_us, r->gen_hi_us,
		                           r->gen_prefix);
	}
}

int run_life_submit(struct conn *c, struct run *r)
{
	struct server *srv = c->srv;
	struct session *s = c->session;

	if (!r || session_add_run(s, r) < 0) {
		run_free(r);
		return -1;
	}
	srv->next_run_id++;
	r->stage = RUN_SUBMITTED;
	r->holds_capacity = 1;
	srv->inflight += r->norders;
	srv->pool_cooks += r->pool_cooks;
	s->active++;
	run_life_queue_records(srv, s, r);
	r->ack_conn = c;
	c->pending = r;
	store_when_durable(srv->store, run_life_committed, r);
	return 0;
}

/* The run's records are committed (ok), or their batch failed, or
 * shutdown came first: OK and start, or ERR and the run is dropped. */
static void run_life_committed(void *arg, int ok, const char *err)
{
	struct run *r = arg;
	struct session *s = r->owner;
	struct server *srv = s->srv;
	struct conn *c = r->ack_conn;

	r->ack_conn = NULL;
	if (ok && r->status == RUN_RUNNING) {
		r->stage = RUN_LIVE;
		if (c)
			conn_run_acked(c, r, 1, NULL);
		run_hooks_start_soon(srv, r);
	} else {
		if (!ok)
			log_error("run %llu not stored: %s", (unsigned long long)r->id, err);
		else if (r->status == RUN_CANCELLED)
			err = "the run was cancelled before it started";
		else
			err = "the server is shutting down";
		if (c)
			conn_run_acked(c, r, 0, err);
		/* Part of it may have reached the disk: it must not stay
		 * "running" there. */
		if (r->status == RUN_RUNNING)
			r->status = RUN_INTERRUPTED;
		run_life_queue_end(srv, r);
		run_life_release(srv, r);
		session_remove_run(s, r);
		run_life_close(s, r);
		run_free(r);
	}
	if (c)
		conn_resume(c);
}

/* The run's end and all its events are committed: only now its DONE line,
 * so a client that saw DONE finds the whole run in the database. */
static void run_life_end_stored(void *arg, int ok, const char *err)
{
	struct run *r = arg;
	struct session *s = r->owner;
	char line[SESSION_LINE_MAX];
	struct proto_done d;

	if (!ok)
		log_error("run %llu: its end was not stored: %s", (unsigned long long)r->id, err);
	run_life_describe(r, &d);
	d.seq = session_next_seq(s);
	int n = proto_format_done(line, sizeof line, &d);
	/* The client that watches the run hears of the failure on the run's
	 * own closing line (a new key at its end). */
	if (n > 0 && !ok && (size_t)n + 10 < sizeof line)
		n += snprintf(line + n - 1, sizeof line - (size_t)n + 1, " stored=no\n") - 1;
	if (n > 0)
		session_publish_done(s, d.seq, line, (size_t)n);
	run_life_close(s, r);
	run_life_trim(s);
}

void run_life_ended(struct server *srv, struct run *r)
{
	r->stage = RUN_ENDING;
	run_life_release(srv, r);
	run_life_queue_end(srv, r);
	store_when_durable(srv->store, run_life_end_stored, r);
}

/* A run not yet committed is recorded as interrupted after its records;
 * its commit's callback then answers ERR and never starts it. */
static void run_life_interrupt(struct server *srv, struct run *r)
{
	if (r->stage == RUN_LIVE) {
		run_interrupt(r);   /* ends through run_life_ended */
		return;
	}
	if (r->stage == RUN_SUBMITTED && r->status == RUN_RUNNING) {
		r->status = RUN_INTERRUPTED;
		run_life_queue_end(srv, r);
		run_life_release(srv, r);
	}
}

void run_life_interrupt_all(struct server *srv)
{
	for (size_t b = 0; b < srv->nbuckets; b++) {
		for (struct session *s = srv->buckets[b]; s; s = s->next) {
			for (size_t i = 0; i < s->nruns; i++)
				run_life_interrupt(srv, s->runs[i]);
		}
	}
}

int run_life_cancel(struct server *srv, struct session *s, uint64_t run_id, const char **code,
                    char *err, size_t cap)
{
	struct run *r = NULL;
	/* Only the session's own runs are searched: a client's command must
	 * not cost a scan of every session. An id handed out but not held
	 * here is another session's run, or one of this session's long gone
	 * from its history: either way not this session's to cancel. */
	for (size_t i = 0; i < s->nruns && !r; i++)
		if (s->runs[i]->id == run_id)
			r = s->runs[i];
	if (!r) {
		int given = run_id > 0 && run_id < srv->next_run_id;
		*code = given ? "not_your_run" : "no_run";
		snprintf(err, cap, given ? "run %llu is not held by this session (another session's, "
		                           "or one of its own ended long ago)"
		                         : "no run %llu is held by the server",
		         (unsigned long long)run_id);
		return -1;
	}
	if (r->status != RUN_RUNNING) {
		*code = "run_ended";
		snprintf(err, cap, "run %llu has already ended: %s", (unsigned long long)run_id,
		         proto_status_name(r->status));
		return -1;
	}
	if (r->stage == RUN_LIVE) {
		run_cancel(r, RUN_CANCELLED);    /* ends through run_life_ended */
		return 0;
	}
	/* Not committed yet: its commit's callback answers ERR, never starts it. */
	r->status = RUN_CANCELLED;
	run_life_queue_end(srv, r);
	run_life_release(srv, r);
	return 0;
}
