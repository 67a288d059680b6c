/* What the client knows of the session's runs: each run's orders and their
 * steps as the server reported them (t from EV lines, never local time). */
#ifndef BAEDAL_MODEL_H
#define BAEDAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "client/stats.h"
#include "common/protocol.h"

#define MODEL_MODE_UNKNOWN (-1)
#define MODEL_NAMED_MAX 64          /* runs up to this size keep their names */
#define MODEL_ORDERS_MAX (1u << 24) /* order indexes past this are ignored */
#define MODEL_STALLS_MAX 16         /* STALL notices kept; the rest counted */

struct model_order {
	uint64_t t_us[5];           /* per enum proto_step, valid when its bit is in seen */
	uint64_t meal_us;           /* 0 when unknown (a run met through ATTACH) */
	uint64_t cook_us;           /* from NAME:COOK:MEAL; 0: none, or unknown */
	uint8_t seen;
};

struct model_run {
	uint64_t id;
	int mode;                   /* enum proto_mode or MODEL_MODE_UNKNOWN */
	uint32_t norders;           /* declared, or the highest index seen */
	int sized;                  /* norders came from the server: it is final */
	struct model_order *orders; /* slots for orders 1..slots, when tracked */
	char (*names)[PROTO_NAME_MAX + 1];  /* small runs only, else NULL */
	uint32_t slots;
	uint32_t started;           /* orders with an event: delivered, or later */
	uint32_t collected;         /* orders collected */
	uint64_t ideal_us;          /* 0 until known */
	uint32_t riders;            /* its riders=: orders not delivered wait for one; 0: none */
	uint32_t cancelled;         /* orders its run gave up on */
	uint64_t cook_us;           /* the cooks of the orders given, summed */
	int64_t start_local_us;     /* monotonic clock at the run's start */
	int64_t end_local_us;       /* monotonic clock at its DONE */
	int anchored;               /* start_local_us came from the run's OK or ATTACH */
	uint32_t speed_milli;       /* a replay's speed in thousandths; 0: the run live */
	int partial;                /* the server no longer holds some of its lines */
	int64_t floor_us;           /* its elapsed is at least this: ideal, events seen */
	int done;
	struct proto_done final;    /* the DONE line, once done */
	int64_t slowest_late_us;    /* largest eaten - delivered - meal */
	uint32_t slowest_order;     /* 0: none yet */
	char slowest_name[PROTO_NAME_MAX + 1];
	int name_width;             /* longest name known, for aligned output */
};

struct model {
	struct model_run *runs;     /* in the order they became known */
	size_t nruns, cap;
	int track_orders;           /* the live view needs every order's steps */
	struct proto_done *hints;   /* RUNINFO lines: modes and sizes of runs */
	size_t nhints;
	uint64_t dropped, missed;   /* from LAGGED notices */
	/* STALL notices: the first MODEL_STALLS_MAX, and how many came. */
	struct stats_stall stalls[MODEL_STALLS_MAX];
	size_t nstalls;
};

void model_init(struct model *m, int track_orders);
void model_free(struct model *m);

struct model_run *model_find_run(struct model *m, uint64_t id);
const struct model_run *model_find_run_const(const struct model *m, uint64_t id);

/* A run the client started (its OK arrived at now_us); NULL without memory.
 * The orders get their names and meals from the RUN arguments or from GEN. */
struct model_run *model_add_run(struct model *m, uint64_t id, int mode, uint32_t norders,
                                int64_t now_us);
void model_set_orders(struct model_run *r, char *const *args, int nargs);
void model_set_generated(struct model_run *r, uint64_t lo_us, uint64_t hi_us,
                         const char *prefix);

/* A run as ATTACH describes it (RUNINFO with its state) at now_us: mode,
 * size, start, and its end if it ended; then its orders, one ORDER line
 * each (a RUN), or made from the GEN parameters. NULL without memory. */
struct model_run *model_describe_run(struct model *m, const struct proto_done *d,
                                     const struct proto_runstate *st, int64_t now_us);
int model_set_order(struct model *m, const struct proto_order *o);

/* Remembers a RUNINFO line so that a run met later through its events
 * gets its mode, size and ideal. 0, or -1 without memory. */
int model_add_hint(struct model *m, const struct proto_done *info);

/* Applies an EV or DONE line; a run not known yet is added. 0, or -1
 * without memory. */
int model_apply_event(struct model *m, const struct proto_event *ev, int64_t now_us);
int model_apply_done(struct model *m, const struct proto_done *d, int64_t now_us);

/* A STALL notice: kept if there is room, always counted; one told twice
 * (an attach's replay) counts once. */
void model_add_stall(struct model *m, const struct stats_stall *st);

/* A replay of r (described by its RUNINFO) begins at now_us: the server
 * paces its steps from there, speed_milli / 1000 times the original. */
void model_start_replay(struct model_run *r, uint32_t speed_milli, int64_t now_us);

/* The run's clock: the exact elapsed once done, else local time since its
 * start (times a replay's speed), held at floor_us: a client reading lines
 * late (a large run's backlog) would otherwise run ahead of the server and
 * step back at DONE. It never goes back while the run goes on. */
int64_t model_run_clock_us(const struct model_run *r, int64_t now_us);

/* The local time at which r's clock reaches run_us, floor aside. */
int64_t model_run_local_us(const struct model_run *r, int64_t run_us);
int model_any_running(const struct model *m);
const char *model_mode_name(int mode);

#endif
