/* A fake world for the run coroutines (server/run.c), shared by
 * tests/test_run.c and tests/test_riders.c: a clock that moves only when
 * a timer fires, the orders' timers and the runs' deadlines, a pool of
 * FAKE_RUN_WORKERS fake workers, yielded and paused runs, and every event
 * the runs emitted. Include after cmocka.h. */
#ifndef BAEDAL_TESTS_FAKE_RUN_H
#define BAEDAL_TESTS_FAKE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "server/run.h"

#define FAKE_RUN_MAX_EVENTS 40000
#define FAKE_RUN_MAX_TIMERS 20000
#define FAKE_RUN_WORKERS 2
#define FAKE_RUN_QUEUE 4

struct fake_event {
	uint64_t run;
	uint32_t idx;
	enum proto_step step;
	uint64_t t_us;
};

/* An order's timer (o set, job NULL), its cook on a fake worker (o and
 * job set) or a run's deadline (r set). */
struct fake_timer {
	struct order *o;
	struct run *r;
	uint64_t deadline_us;
	struct pool_job *job;
};

struct fake_world {
	uint64_t now_us;
	struct fake_timer timers[FAKE_RUN_MAX_TIMERS];
	size_t ntimers;
	struct run *yielded[FAKE_RUN_QUEUE];
	size_t nyielded;
	struct run *paused[FAKE_RUN_QUEUE];
	size_t npaused;
	uint64_t worker_free[FAKE_RUN_WORKERS];   /* when each fake worker is free */
	int cancelled;                            /* cooks taken back */
	struct fake_event events[FAKE_RUN_MAX_EVENTS];
	size_t nevents;
	int finished, disarmed, deadline_disarmed;
	uint32_t in_flight, most_in_flight;       /* delivered, not yet collected */
	int cooks;                                /* on the loop or submitted */
	int deadlines_armed;
	size_t most_yielded;                      /* runs yielded at once */
	int64_t early_us;   /* fire the next timer this much before its deadline */
	uint32_t fail_arm;  /* this order's timer cannot be set (0: none) */
};

/* The one world; fake_run_reset empties it before each test. */
extern struct fake_world fake;
/* Hooks that act on the world (ctx unused). */
extern const struct run_hooks fake_run_hooks;
/* The lesson: A 3 s, B 3 s, C 4 s, no cooking. */
extern const struct order_spec fake_run_lesson[3];

/* A cmocka setup: an empty world whose clock reads 1 s (a run's start
 * need not be 0). */
int fake_run_reset(void **state);
/* Serves one thing, as the server's loop would: a yielded run first,
 * then the earliest timer (the first armed among equals), moving the
 * clock to it; a paused run only when no timer is due. 0 if nothing is
 * left. */
int fake_run_step(void);
void fake_run_drain(void);
/* Event i is order idx's step at t_us (on its run's clock). */
void fake_run_expect_event(size_t i, uint32_t idx, enum proto_step step, uint64_t t_us);

#endif
