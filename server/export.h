/* Pictures and traces of stored runs: an SVG timeline and Chrome Trace
 * Event JSON, written from a snapshot of a run, with no I/O of their own. */
#ifndef BAEDAL_EXPORT_H
#define BAEDAL_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"

struct evbuffer;

/* Steps are indexed by their enum proto_step value; a step the protocol
 * adds later has a slot here without any change to this module. */
#define EXPORT_STEPS 8

struct export_run {
	uint64_t id;
	char session[PROTO_SESSION_HEX + 1];
	char group[PROTO_NAME_MAX + 1];     /* empty: none */
	enum proto_mode mode;
	enum run_status status;
	uint32_t orders;
	int64_t elapsed_us;                 /* -1: not finished */
	uint64_t ideal_us, sum_us, max_us, cook_us, blocked_us, caused_us;
	int64_t started_wall_us;
	uint32_t riders;                    /* 0: no limit */
	uint64_t deadline_us;               /* 0: none */
	uint32_t cancelled;                 /* orders cancelled */
};

struct export_order {
	uint32_t idx;                       /* 1-based */
	char name[PROTO_NAME_MAX + 1];
	uint64_t meal_us, cook_us;          /* cook 0: not cooked */
	int64_t t_us[EXPORT_STEPS];         /* -1: the step was not reached */
};

/* A stall of the event loop (schema/004_stalls.sql) that overlapped a
 * run: every timer of the run waited for it. */
#define EXPORT_STALLS_MAX 64        /* stalls read for one run */

struct export_stall {
	uint64_t id;
	int64_t started_wall_us;
	uint64_t duration_us;
	char cause[16];                     /* cook, line, start */
	uint64_t run;                       /* the run it worked on, 0: none */
	uint32_t order;                     /* 0: none */
};

/* Where st lies on r's clock: its start, not before the run's, and its end. */
void export_stall_span(const struct export_run *r, const struct export_stall *st, int64_t *from,
                       int64_t *to);
/* "a cook of run 4 order 2": what held the loop, for a title. */
void export_stall_cause(char *buf, size_t cap, const struct export_stall *st);

/* The step whose name is s (as stored), or -1. */
int export_step_parse(const char *s);
/* A run's clock: its elapsed time when finished, else its latest step. */
int64_t export_run_span_us(const struct export_run *r, int64_t latest_us);

/* ---- Chrome Trace Event Format (Perfetto, chrome://tracing) ---------- */

/* The trace is written in pieces so that a run of any size streams: the
 * opening and the run's process; then the stalls; then each order (and, for async, its
 * inline cook on the loop's thread); then each change of the orders in
 * flight; then the closing. */
void export_trace_begin(struct evbuffer *out, const struct export_run *r);
void export_trace_order(struct evbuffer *out, const struct export_run *r,
                        const struct export_order *o);
void export_trace_inflight(struct evbuffer *out, const struct export_run *r, int64_t t_us,
                           int64_t count);
/* A stall as a slice of the loop's thread. */
void export_trace_stall(struct evbuffer *out, const struct export_run *r,
                        const struct export_stall *st);
void export_trace_end(struct evbuffer *out);

/* ---- SVG timeline ---------------------------------------------------- */

/* At most this many orders are drawn per run; the picture says how many
 * more there are (a trace shows them all). */
#define EXPORT_SVG_ROWS 200

struct export_svg_run {
	const struct export_run *run;
	const struct export_order *orders;  /* the first norders of the run */
	size_t norders;
	const struct export_stall *stalls;  /* drawn on a "loop" row under the orders */
	size_t nstalls;
};

/* One standalone SVG of the runs stacked on one time axis (a compare
 * group, or one run). */
void export_svg(struct evbuffer *out, const struct export_svg_run *runs, size_t nruns);

/* A JSON string of s, quoted and escaped. */
void export_json_string(struct evbuffer *out, const char *s);

#endif
