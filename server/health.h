/* The loop's own health, measured all the time: how late it runs what came
 * due, busy versus idle time, stalls with their cause, store and pool gauges. */
#ifndef BAEDAL_HEALTH_H
#define BAEDAL_HEALTH_H

#include <stdint.h>

#include "common/protocol.h"
#include "server/histogram.h"

struct evbuffer;
struct event;
struct event_base;
struct server;
struct session;
struct run;

/* What held the loop: an async run's cook (or one the full pool left to
 * the loop), a client's command line, a run's start or resumption. */
enum health_cause { CAUSE_COOK, CAUSE_LINE, CAUSE_START, CAUSE_COUNT };
const char *health_cause_name(enum health_cause c);

/* The probe's period while anything runs (Node's monitorEventLoopDelay
 * samples every 10 ms too); stopped while idle. */
#define HEALTH_PROBE_US 10000u
/* top's window: lag percentiles over the last this many seconds. */
#define HEALTH_WINDOW_S 10u
#define HEALTH_RECENT_STALLS 16u
#define HEALTH_DEFAULT_WARN_STALL_US 100000u
#define HEALTH_TOLD_SLOTS 1024u
#define HEALTH_MARKS 512u

struct health_stall {
	uint64_t id;                /* the stalls table's stall_id: on from the last stored */
	uint64_t start_us, end_us;  /* CLOCK_MONOTONIC */
	int64_t wall_us;            /* the wall clock at its start */
	enum health_cause cause;
	uint64_t run;               /* 0: no run */
	uint32_t order;             /* 0: no order */
};

/* The measurements; the loop thread alone reads and writes them. */
struct health {
	struct server *srv;
	uint64_t warn_stall_us;
	uint64_t start_us, cpu_start_us;    /* CLOCK_MONOTONIC, the thread's CPU clock */
	uint64_t iterations;
	struct histogram lag;               /* the probe and the stalls */
	struct histogram timers;            /* order timers: the lag is both */
	struct histogram window[HEALTH_WINDOW_S];   /* the probe's, one a second */
	uint64_t window_sec[HEALTH_WINDOW_S];
	struct event *probe;
	int probing;
	uint64_t probe_due_us;
	/* This process's, from 0 (what a Prometheus counter counts); the ids
	 * go on from the database's last, across restarts. */
	uint64_t stalls, stalled_us;
	uint64_t next_stall_id;
	struct health_stall recent[HEALTH_RECENT_STALLS];   /* ring: stall id % size */
	/* The sessions told of the last stall: an open-addressing set of
	 * pointers, compared, never followed. */
	const void *told[HEALTH_TOLD_SLOTS];
	unsigned ntold;
	uint64_t runs[3][RUN_TIMED_OUT + 1];   /* ended, by mode and status */
	/* (records queued, when) marks of the store, oldest first, for the
	 * age of its oldest uncommitted record. */
	struct { uint64_t seq, t_us; } marks[HEALTH_MARKS];
	unsigned mark_head, nmarks;
};

/* Starts measuring on srv's loop (srv->base, srv->store set). The caller
 * owns the result; NULL if memory runs out. */
struct health *health_new(struct server *srv, uint64_t warn_stall_us);
void health_free(struct health *h);

/* Runs srv's loop until it is broken or has nothing left: one pass at a
 * time, counted (event_base_dispatch, without the count, when the
 * measurement is compiled out). */
void health_run_loop(struct health *h, struct event_base *base);
/* Work was given to the loop: the probe runs until nothing is in flight. */
void health_wake(struct health *h);
/* An order's timer, due at deadline_us, ran at now_us; s owns it. The
 * one measurement made per order: -DBAEDAL_NO_HEALTH compiles it out, to
 * measure what it costs (bench/). */
#ifdef BAEDAL_NO_HEALTH
static inline void health_note_timer(struct health *h, struct session *s, uint64_t deadline_us,
                                     uint64_t now_us)
{
	(void)h, (void)s, (void)deadline_us, (void)now_us;
}
#else
void health_note_timer(struct health *h, struct session *s, uint64_t deadline_us,
                       uint64_t now_us);
#endif
/* One callback held the loop from start_us to end_us: a stall if that is
 * --warn-stall or more. s: the session it worked for (told at once), or
 * NULL; run and order: what it worked on, or 0. */
void health_note_hold(struct health *h, uint64_t start_us, uint64_t end_us,
                      enum health_cause cause, struct session *s, uint64_t run, uint32_t order);
void health_note_run_end(struct health *h, const struct run *r);

/* Stall id's record if it is among the last HEALTH_RECENT_STALLS of this
 * process, else NULL; the last stall of this process, or NULL. */
const struct health_stall *health_stall_by_id(const struct health *h, uint64_t id);
const struct health_stall *health_last_stall(const struct health *h);

/* The age of the store's oldest uncommitted record, to within a probe
 * period (0: none); the loop thread's CPU time since the start. */
uint64_t health_store_lag_us(struct health *h, uint64_t now_us);
uint64_t health_busy_us(const struct health *h);

/* Appends the Prometheus text exposition (format 0.0.4) of the server's
 * figures to out: the body of GET /metrics. */
void health_write_metrics(struct evbuffer *out, const struct server *srv);

/* The STATS command's lines (docs/protocol.md), each ending in '\n', given
 * to send one by one. */
void health_write_stats(const struct server *srv, void (*send)(void *arg, const char *line,
                                                              int len), void *arg);

#endif
