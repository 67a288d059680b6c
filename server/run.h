/* Orders and runs as stackless coroutines: cooked (if it has a cook),
 * delivered, a meal on a timer, eaten, collected; a run awaits its orders
 * one by one (sync) or all (async, offload). */
#ifndef BAEDAL_RUN_H
#define BAEDAL_RUN_H

#include <stdint.h>
#include <event2/event_struct.h>

#include "common/protocol.h"
#include "server/coro.h"
#include "server/pool.h"
#include "server/timer.h"

struct run;
struct order;

/* What a run needs from its world. The server wires these to libevent and
 * the session; the unit tests to a fake clock. */
struct run_hooks {
	uint64_t (*now_us)(void *ctx);                     /* CLOCK_MONOTONIC */
	/* Call run_order_wake(o) at or after deadline_us (never before it);
	 * now_us is the clock as the run just read it. -1 if the timer could
	 * not be set: the run then ends interrupted rather than wait forever. */
	int (*arm)(void *ctx, struct order *o, uint64_t now_us, uint64_t deadline_us);
	void (*disarm)(void *ctx, struct order *o);
	/* Call run_resume(r) soon, after the loop has served other work. */
	void (*yield)(void *ctx, struct run *r);
	/* Call run_resume(r) once every timer and connection that is due has
	 * been served (after a cook held the loop). */
	void (*pause)(void *ctx, struct run *r);
	/* Cook on the calling thread, blocking everything (async's cooking). */
	void (*cook_inline)(void *ctx, struct order *o, uint64_t cook_us);
	/* Cook on a worker (job's work, in_us and arg set; arg is o); call
	 * run_order_wake(o) afterwards, from the loop, never from inside
	 * this call. cook_cancel takes such a job back. */
	void (*cook_submit)(void *ctx, struct order *o, struct pool_job *job);
	void (*cook_cancel)(void *ctx, struct pool_job *job);
	unsigned workers;           /* of the pool, for offload's ideal time */
	/* Call run_deadline(r) at or after deadline_us (never before it);
	 * disarm_run takes it back. -1 if it could not be set. */
	int (*arm_run)(void *ctx, struct run *r, uint64_t now_us, uint64_t deadline_us);
	void (*disarm_run)(void *ctx, struct run *r);
	void (*emit)(void *ctx, struct run *r, uint32_t idx, enum proto_step step, uint64_t t_us);
	/* The run ended (done or interrupted); its orders are already freed. */
	void (*finish)(void *ctx, struct run *r);
	void *ctx;
};

struct order {
	struct coro co;
	uint32_t idx;               /* 1-based */
	struct run *run;
	uint64_t meal_us;
	uint64_t deadline_us;       /* delivered + meal, CLOCK_MONOTONIC; 0: not delivered */
	uint32_t wait_next;         /* the next order waiting for a rider (1-based; 0: none) */
	uint8_t queued;             /* waiting for a rider: no timer, no cook */
	struct timer_link timer;    /* the server's hooks' */
};

/* An order's cooking, kept beside the orders only by runs that cook, so
 * a million-order run without cooks pays nothing for it. */
struct order_cook {
	uint64_t cook_us;           /* 0: this order is not cooked */
	struct pool_job job;
};

/* Where a run is in its life on the server (run_life.h): its records
 * await their commit; it runs; it ended and its end awaits its commit;
 * closed, its DONE sent: only now may it be freed. */
enum run_stage { RUN_SUBMITTED, RUN_LIVE, RUN_ENDING, RUN_CLOSED };

/* How many orders an async run starts before it yields to the loop, so a
 * million-order run never holds the loop for long. */
#define RUN_START_BATCH 4096

struct run {
	struct coro co;
	uint64_t id;
	enum proto_mode mode;
	enum run_status status;
	uint32_t norders;
	uint32_t started;           /* orders delivered so far */
	uint32_t finished;          /* orders collected so far */
	int waiting;                /* parked until orders finish */
	uint64_t sum_us, max_us;    /* of the meals */
	uint64_t ideal_us;          /* what a perfect server would take */
	uint64_t cook_us;           /* the cooks' sum (the ideal counts them all) */
	uint64_t cooked_us;         /* of the cooks that finished: the cooking told */
	uint64_t blocked_us;        /* the loop held by this run's inline cooks */
	uint64_t caused_us;         /* worst lateness of a timer due during them */
	int cooked_inline;          /* an order just cooked on the loop: pause */
	uint32_t pool_cooks;        /* orders it cooks on the pool (sync, offload) */
	struct order_cook *cooks;   /* norders of them, or NULL: nothing to cook */
	uint64_t start_us;          /* CLOCK_MONOTONIC at the run's start */
	int64_t start_wall_us;      /* the wall clock then (0: it never started) */
	uint64_t elapsed_us;        /* start to last collected, once done */
	struct order *orders;       /* norders of them, freed when the run ends */
	char (*names)[PROTO_NAME_MAX + 1];  /* RUN's names; NULL for GEN */
	/* RUN's meals and cooks as given, kept past its end (its orders are
	 * freed then) for ATTACH to describe it; NULL for GEN. */
	struct run_spec { uint64_t meal_us, cook_us; } *specs;
	/* Riders: at most riders orders between delivered and collected at
	 * once (0: no limit); the others wait in a FIFO, in the order they
	 * asked, each handed the rider of the order collected before it. */
	uint32_t riders;
	uint32_t riders_out;
	uint32_t wait_head, wait_tail;      /* 1-based order indexes; 0: none */
	/* Orders not collected by start + deadline are cancelled (0: none). */
	uint64_t deadline_us;
	struct event deadline_timer;        /* the server's hooks' */
	uint64_t first_seq;         /* the seq of its first line; 0: none yet */
	char gen_prefix[PROTO_NAME_MAX + 1];
	char group[PROTO_NAME_MAX + 1];     /* RUN/GEN's group=; empty: none */
	const struct run_hooks *hooks;
	uint64_t gen_lo_us, gen_hi_us;      /* GEN's meal range */
	int arm_failed;             /* an order's timer could not be set */
	/* The server's bookkeeping, all of it in run_life.c. */
	void *owner;                /* the session */
	enum run_stage stage;
	int holds_capacity;         /* counted in the server's in-flight totals */
	int end_queued;             /* its end is queued for the store */
	void *ack_conn;             /* the connection awaiting its OK, if any */
	struct event resume;        /* the server's yield event */
};

/* Allocates a run of explicit orders (RUN) or generated ones (GEN, the
 * meals from proto_gen_meal). NULL if memory runs out. */
struct run *run_new_explicit(uint64_t id, enum proto_mode mode, const struct order_spec *specs,
                             uint32_t n, const struct run_hooks *hooks, void *owner);
struct run *run_new_generated(uint64_t id, enum proto_mode mode, uint32_t n, uint64_t lo_us,
                              uint64_t hi_us, const char *prefix, const struct run_hooks *hooks,
                              void *owner);

/* Gives a new run its riders (0: no limit) and its deadline (0: none),
 * before it starts; its ideal time then counts the riders. 0, or -1 if
 * memory runs out. */
int run_set_limits(struct run *r, uint32_t riders, uint64_t deadline_us);

/* How many of these orders a run of this mode cooks on the worker pool:
 * those with a cook, unless async, which cooks on the loop. The server
 * admits a run by it before making it. */
uint32_t run_pool_cooks(enum proto_mode mode, const struct order_spec *specs, uint32_t n);

/* Starts the run's coroutine; t = 0 is now. */
void run_start(struct run *r);
/* Resumes a run after hooks->yield. */
void run_resume(struct run *r);
/* The timer of order o fired, or its cook ended; _at: with the clock as
 * the caller just read it (a clock read less per order). */
void run_order_wake(struct order *o);
void run_order_wake_at(struct order *o, uint64_t now_us);
/* Ends a running run now: disarms its orders, status interrupted. */
void run_interrupt(struct run *r);
/* Ends a running run now, status cancelled (CANCEL) or timed_out (its
 * deadline): every order not collected yet gets a cancelled step, its
 * timer or cook taken back; it is never eaten or collected. */
void run_cancel(struct run *r, enum run_status status);
/* The run's deadline timer fired. */
void run_deadline(struct run *r);
/* Orders collected, once the run ended. */
uint32_t run_collected(const struct run *r);

/* The ideal elapsed time. With riders, list scheduling: each order, once
 * ready (cooked), to the rider free first. Without cooks: the sum of meals (sync) or the
 * longest (async, offload). With cooks: sync adds them all; async cooks
 * one after another on the loop, each order's meal starting after its
 * own cook; offload cooks on the pool's workers, first come first served. */
uint64_t run_ideal_us(const struct run *r);

void run_free(struct run *r);

#endif
