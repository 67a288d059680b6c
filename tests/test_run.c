/* The order and run coroutines under a fake clock: sync elapsed is the sum
 * of the meals and async the longest, exactly, with the events in order;
 * with cooking, each mode takes exactly its ideal time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/run.h"

#define MAX_EVENTS 40000
#define MAX_TIMERS 20000

struct fake_event {
	uint64_t run;
	uint32_t idx;
	enum proto_step step;
	uint64_t t_us;
};

struct fake_timer {
	struct order *o;
	uint64_t deadline_us;
	struct pool_job *job;       /* a cook on a fake worker, else NULL */
};

#define FAKE_WORKERS 2

/* The fake world: a clock that moves only when a timer fires, pending
 * timers, yielded runs, and everything the runs emitted. */
static struct fake {
	uint64_t now_us;
	struct fake_timer timers[MAX_TIMERS];
	size_t ntimers;
	struct run *yielded[4];
	size_t nyielded;
	struct run *paused[4];
	size_t npaused;
	uint64_t worker_free[FAKE_WORKERS];   /* when each fake worker is free */
	int cancelled;
	struct fake_event events[MAX_EVENTS];
	size_t nevents;
	int finished, disarmed;
	int64_t early_us;   /* fire timers this much before their deadline */
	uint32_t fail_arm;  /* this order's timer cannot be set (0: none) */
} w;

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return w.now_us;
}

static int fake_arm(void *ctx, struct order *o, uint64_t now_us, uint64_t deadline_us)
{
	(void)ctx;
	assert_int_equal(now_us, w.now_us);   /* the run passes the clock it read */
	if (o->idx == w.fail_arm)
		return -1;
	assert_true(w.ntimers < MAX_TIMERS);
	w.timers[w.ntimers++] = (struct fake_timer){ o, deadline_us, NULL };
	return 0;
}

static void fake_disarm(void *ctx, struct order *o)
{
	(void)ctx;
	int cooking = 0;
	for (size_t i = 0; i < w.ntimers; i++) {
		cooking |= w.timers[i].o == o && w.timers[i].job;
		if (w.timers[i].o == o && !w.timers[i].job) {
			w.timers[i] = w.timers[--w.ntimers];
			w.disarmed++;
			return;
		}
	}
	/* An order on a worker has no timer yet: cook_cancel takes it back;
	 * one whose arm failed has none either. */
	if (!cooking && o->idx != w.fail_arm)
		fail_msg("disarm of an order with no timer");
}

static void fake_yield(void *ctx, struct run *r)
{
	(void)ctx;
	assert_true(w.nyielded < 4);
	w.yielded[w.nyielded++] = r;
}

static void fake_pause(void *ctx, struct run *r)
{
	(void)ctx;
	assert_true(w.npaused < 4);
	w.paused[w.npaused++] = r;
}

/* Cooking on the loop takes exactly its time on the clock. */
static void fake_cook_inline(void *ctx, struct order *o, uint64_t cook_us)
{
	(void)ctx;
	(void)o;
	w.now_us += cook_us;
}

/* The fake pool: the job goes to the worker free first and ends cook_us
 * after it starts, as a timer. */
static void fake_cook_submit(void *ctx, struct order *o, struct pool_job *job)
{
	(void)ctx;
	unsigned k = 0;
	for (unsigned i = 1; i < FAKE_WORKERS; i++)
		if (w.worker_free[i] < w.worker_free[k])
			k = i;
	uint64_t start = w.worker_free[k] > w.now_us ? w.worker_free[k] : w.now_us;
	w.worker_free[k] = start + job->in_us;
	assert_ptr_equal(job->arg, o);
	assert_true(w.ntimers < MAX_TIMERS);
	w.timers[w.ntimers++] = (struct fake_timer){ o, w.worker_free[k], job };
}

static void fake_cook_cancel(void *ctx, struct pool_job *job)
{
	(void)ctx;
	for (size_t i = 0; i < w.ntimers; i++) {
		if (w.timers[i].job == job) {
			w.timers[i] = w.timers[--w.ntimers];
			w.cancelled++;
			return;
		}
	}
}

static void fake_emit(void *ctx, struct run *r, uint32_t idx, enum proto_step step, uint64_t t_us)
{
	(void)ctx;
	assert_true(w.nevents < MAX_EVENTS);
	w.events[w.nevents++] = (struct fake_event){ r->id, idx, step, t_us };
}

static void fake_finish(void *ctx, struct run *r)
{
	(void)ctx;
	assert_null(r->orders);
	w.finished++;
}

/* No run here has a deadline (tests/test_riders.c has). */
static int fake_arm_run(void *ctx, struct run *r, uint64_t now_us, uint64_t deadline_us)
{
	(void)ctx;
	(void)r;
	(void)now_us;
	(void)deadline_us;
	fail_msg("a deadline armed in a run without one");
	return -1;
}

static void fake_disarm_run(void *ctx, struct run *r)
{
	(void)ctx;
	(void)r;
	fail_msg("a deadline disarmed in a run without one");
}

static const struct run_hooks hooks = {
	.now_us = fake_now, .arm = fake_arm, .disarm = fake_disarm, .yield = fake_yield,
	.pause = fake_pause, .cook_inline = fake_cook_inline, .cook_submit = fake_cook_submit,
	.cook_cancel = fake_cook_cancel, .arm_run = fake_arm_run, .disarm_run = fake_disarm_run,
	.emit = fake_emit, .finish = fake_finish, .workers = FAKE_WORKERS,
};

static int reset(void **state)
{
	(void)state;
	memset(&w, 0, sizeof w);
	w.now_us = 1000000;   /* the run's start need not be 0 */
	return 0;
}

static struct run *fake_take(struct run **list, size_t *n)
{
	struct run *r = list[0];
	memmove(list, list + 1, --*n * sizeof *list);
	return r;
}

/* Serves yielded runs first (the loop's other work), then the earliest
 * timer (the first armed among equals), moving the clock to it; a paused
 * run only when no timer is due. */
static int fake_step(void)
{
	if (w.nyielded) {
		run_resume(fake_take(w.yielded, &w.nyielded));
		return 1;
	}
	size_t best = 0;
	for (size_t i = 1; i < w.ntimers; i++) {
		if (w.timers[i].deadline_us < w.timers[best].deadline_us)
			best = i;
	}
	if (w.npaused && (w.ntimers == 0 || w.timers[best].deadline_us > w.now_us)) {
		run_resume(fake_take(w.paused, &w.npaused));
		return 1;
	}
	if (w.ntimers == 0)
		return 0;
	struct fake_timer t = w.timers[best];
	memmove(&w.timers[best], &w.timers[best + 1], (w.ntimers - best - 1) * sizeof t);
	w.ntimers--;
	uint64_t fire = t.deadline_us - (uint64_t)w.early_us;
	if (fire > w.now_us)
		w.now_us = fire;
	w.early_us = 0;
	run_order_wake(t.o);
	return 1;
}

static void fake_drain(void)
{
	while (fake_step())
		;
}

static const struct order_spec lesson[] = {
	{ .name = "A", .meal_us = 3000000 }, { .name = "B", .meal_us = 3000000 },
	{ .name = "C", .meal_us = 4000000 },
};

static void expect_event(size_t i, uint32_t idx, enum proto_step step, uint64_t t_us)
{
	assert_true(i < w.nevents);
	assert_int_equal(w.events[i].idx, idx);
	assert_int_equal(w.events[i].step, step);
	assert_int_equal(w.events[i].t_us, t_us);
}

static void test_sync_takes_the_sum(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(1, MODE_SYNC, lesson, 3, &hooks, NULL);
	assert_non_null(r);
	run_start(r);
	fake_drain();
	assert_int_equal(w.finished, 1);
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(r->elapsed_us, 10000000);
	assert_int_equal(run_ideal_us(r), 10000000);
	assert_int_equal(w.nevents, 9);
	expect_event(0, 1, STEP_DELIVERED, 0);
	expect_event(1, 1, STEP_EATEN, 3000000);
	expect_event(2, 1, STEP_COLLECTED, 3000000);
	expect_event(3, 2, STEP_DELIVERED, 3000000);
	expect_event(4, 2, STEP_EATEN, 6000000);
	expect_event(5, 2, STEP_COLLECTED, 6000000);
	expect_event(6, 3, STEP_DELIVERED, 6000000);
	expect_event(7, 3, STEP_EATEN, 10000000);
	expect_event(8, 3, STEP_COLLECTED, 10000000);
	run_free(r);
}

static void test_async_takes_the_longest(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(2, MODE_ASYNC, lesson, 3, &hooks, NULL);
	assert_non_null(r);
	run_start(r);
	/* All three are delivered at once, before any meal ends. */
	assert_int_equal(w.nevents, 3);
	assert_int_equal(w.ntimers, 3);
	fake_drain();
	assert_int_equal(r->elapsed_us, 4000000);
	assert_int_equal(run_ideal_us(r), 4000000);
	assert_int_equal(r->sum_us, 10000000);
	expect_event(0, 1, STEP_DELIVERED, 0);
	expect_event(1, 2, STEP_DELIVERED, 0);
	expect_event(2, 3, STEP_DELIVERED, 0);
	expect_event(3, 1, STEP_EATEN, 3000000);
	expect_event(4, 1, STEP_COLLECTED, 3000000);
	expect_event(5, 2, STEP_EATEN, 3000000);
	expect_event(6, 2, STEP_COLLECTED, 3000000);
	expect_event(7, 3, STEP_EATEN, 4000000);
	expect_event(8, 3, STEP_COLLECTED, 4000000);
	assert_int_equal(w.finished, 1);
	run_free(r);
}

/* A timer that fires early must not end the meal early: the order sleeps
 * again for what is left. */
static void test_early_timer_sleeps_again(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(3, MODE_SYNC, lesson, 1, &hooks, NULL);
	run_start(r);
	w.early_us = 2500;
	assert_true(fake_step());
	assert_int_equal(w.nevents, 1);         /* still eating */
	assert_int_equal(w.ntimers, 1);         /* armed again */
	assert_int_equal(w.timers[0].deadline_us, 1000000 + 3000000);
	fake_drain();
	expect_event(1, 1, STEP_EATEN, 3000000);
	run_free(r);
}

/* More orders than one start batch: the run yields to the loop between
 * batches, and every order still eats at least its meal. */
static void test_async_batches_yield(void **state)
{
	(void)state;
	const uint32_t n = RUN_START_BATCH * 2 + 100;
	struct run *r = run_new_generated(4, MODE_ASYNC, n, 1000, 9000, "o", &hooks, NULL);
	assert_non_null(r);
	run_start(r);
	assert_int_equal(w.nyielded, 1);
	assert_int_equal(w.nevents, RUN_START_BATCH);
	fake_drain();
	assert_int_equal(w.nevents, 3 * (size_t)n);
	assert_int_equal(w.finished, 1);
	assert_int_equal(r->max_us, 9000);
	assert_int_equal(r->elapsed_us, 9000);
	uint64_t *delivered = calloc(n + 1, sizeof *delivered);
	for (size_t i = 0; i < w.nevents; i++) {
		const struct fake_event *e = &w.events[i];
		if (e->step == STEP_DELIVERED)
			delivered[e->idx] = e->t_us;
		else if (e->step == STEP_EATEN)
			assert_true(e->t_us - delivered[e->idx] >= proto_gen_meal(e->idx, n, 1000, 9000));
	}
	free(delivered);
	run_free(r);
}

static void test_interrupt_disarms(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(5, MODE_ASYNC, lesson, 3, &hooks, NULL);
	run_start(r);
	assert_true(fake_step());               /* A eats and is collected */
	run_interrupt(r);
	assert_int_equal(r->status, RUN_INTERRUPTED);
	assert_int_equal(w.disarmed, 2);
	assert_int_equal(w.ntimers, 0);
	assert_int_equal(w.finished, 1);
	run_interrupt(r);                       /* twice is harmless */
	assert_int_equal(w.finished, 1);
	run_free(r);
}

/* The example: A, B and C each cook 200 ms, then eat 3 s, 3 s, 4 s. */
static const struct order_spec cooked[] = {
	{ .name = "A", .cook_us = 200000, .meal_us = 3000000 },
	{ .name = "B", .cook_us = 200000, .meal_us = 3000000 },
	{ .name = "C", .cook_us = 200000, .meal_us = 4000000 },
};

/* The first event of order idx with this step; fails if there is none. */
static uint64_t event_time(uint32_t idx, enum proto_step step)
{
	for (size_t i = 0; i < w.nevents; i++)
		if (w.events[i].idx == idx && w.events[i].step == step)
			return w.events[i].t_us;
	fail_msg("no %s event for order %u", proto_step_name(step), idx);
	return 0;
}

static void test_sync_cooks_then_eats_each_in_turn(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(1, MODE_SYNC, cooked, 3, &hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_ideal_us(r), 10600000);
	assert_int_equal(r->pool_cooks, 3);
	run_start(r);
	fake_drain();
	assert_int_equal(r->elapsed_us, 10600000);
	assert_int_equal(r->blocked_us, 0);
	assert_int_equal(r->cook_us, 600000);
	assert_int_equal(w.nevents, 12);
	expect_event(0, 1, STEP_COOKED, 200000);
	expect_event(1, 1, STEP_DELIVERED, 200000);
	expect_event(2, 1, STEP_EATEN, 3200000);
	expect_event(4, 2, STEP_COOKED, 3400000);
	expect_event(8, 3, STEP_COOKED, 6600000);
	expect_event(11, 3, STEP_COLLECTED, 10600000);
	run_free(r);
}

static void test_async_cooks_block_in_turn(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(2, MODE_ASYNC, cooked, 3, &hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_ideal_us(r), 4600000);
	assert_int_equal(r->pool_cooks, 0);
	run_start(r);
	/* One cook, then the run pauses so the loop serves what came due. */
	assert_int_equal(w.nevents, 2);
	assert_int_equal(w.npaused, 1);
	fake_drain();
	assert_int_equal(r->elapsed_us, 4600000);
	assert_int_equal(r->blocked_us, 600000);
	assert_int_equal(event_time(1, STEP_COOKED), 200000);
	assert_int_equal(event_time(2, STEP_COOKED), 400000);
	assert_int_equal(event_time(3, STEP_DELIVERED), 600000);
	assert_int_equal(event_time(1, STEP_EATEN), 3200000);
	assert_int_equal(event_time(3, STEP_COLLECTED), 4600000);
	run_free(r);
}

static void test_offload_cooks_on_the_workers(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(3, MODE_OFFLOAD, cooked, 3, &hooks, NULL);
	assert_non_null(r);
	/* Two workers: A and B cook at once, C after them. */
	assert_int_equal(run_ideal_us(r), 4400000);
	run_start(r);
	assert_int_equal(w.nevents, 0);
	assert_int_equal(w.ntimers, 3);
	fake_drain();
	assert_int_equal(r->elapsed_us, 4400000);
	assert_int_equal(r->blocked_us, 0);
	assert_int_equal(event_time(1, STEP_DELIVERED), 200000);
	assert_int_equal(event_time(2, STEP_DELIVERED), 200000);
	assert_int_equal(event_time(3, STEP_COOKED), 400000);
	assert_int_equal(event_time(3, STEP_EATEN), 4400000);
	run_free(r);
}

/* A timer that comes due while async cooks on the loop fires late, but
 * before the next cook: the run pauses for it. */
static void test_inline_cooking_delays_other_timers(void **state)
{
	(void)state;
	static const struct order_spec quick[] = { { .name = "Q", .meal_us = 100000 } };
	struct run *other = run_new_explicit(4, MODE_ASYNC, quick, 1, &hooks, NULL);
	struct run *cook = run_new_explicit(5, MODE_ASYNC, cooked, 3, &hooks, NULL);
	run_start(other);
	run_start(cook);
	fake_drain();
	assert_int_equal(other->elapsed_us, 200000);   /* due at 100 ms, served at 200 */
	size_t q_eaten = 0, second_cook = 0;
	for (size_t i = 0; i < w.nevents; i++) {
		if (w.events[i].run == 4 && w.events[i].step == STEP_EATEN)
			q_eaten = i;
		if (w.events[i].run == 5 && w.events[i].idx == 2 && w.events[i].step == STEP_COOKED)
			second_cook = i;
	}
	assert_true(q_eaten > 0 && q_eaten < second_cook);
	run_free(other);
	run_free(cook);
}

static void test_interrupt_takes_cooks_back(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(6, MODE_OFFLOAD, cooked, 3, &hooks, NULL);
	run_start(r);
	assert_int_equal(w.ntimers, 3);
	run_interrupt(r);
	assert_int_equal(w.cancelled, 3);
	assert_int_equal(w.ntimers, 0);
	assert_int_equal(r->status, RUN_INTERRUPTED);
	assert_null(r->cooks);
	run_free(r);
}

/* A stray wake of an order that has ended changes nothing: without the
 * guard it counted the order twice and started a sync run's next order
 * beside the one eating. */
static void test_ended_order_cannot_resume(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(3, MODE_SYNC, lesson, 3, &hooks, NULL);
	assert_non_null(r);
	run_start(r);
	assert_true(fake_step());          /* A eaten and collected; B delivered */
	assert_int_equal(r->finished, 1);
	assert_int_equal(w.ntimers, 1);
	size_t events = w.nevents;
	run_order_wake(&r->orders[0]);     /* A again */
	assert_int_equal(r->finished, 1);
	assert_int_equal(r->started, 2);
	assert_int_equal(w.ntimers, 1);
	assert_int_equal(w.nevents, events);
	fake_drain();
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(r->elapsed_us, 10000000);
	run_free(r);
}

/* An order whose timer cannot be set ends its run interrupted, whether
 * it was armed as the run started (async) or from a timer (sync), instead
 * of leaving the run waiting forever. */
static void test_failed_arm_interrupts_the_run(void **state)
{
	(void)state;
	w.fail_arm = 2;
	struct run *a = run_new_explicit(4, MODE_ASYNC, lesson, 3, &hooks, NULL);
	assert_non_null(a);
	run_start(a);
	assert_int_equal(a->status, RUN_INTERRUPTED);
	assert_int_equal(w.finished, 1);
	assert_int_equal(w.ntimers, 0);     /* A's and C's timers taken back */
	run_free(a);

	struct run *s = run_new_explicit(5, MODE_SYNC, lesson, 3, &hooks, NULL);
	assert_non_null(s);
	run_start(s);
	assert_int_equal(s->status, RUN_RUNNING);
	assert_true(fake_step());          /* A ends; B is delivered, its arm fails */
	assert_int_equal(s->status, RUN_INTERRUPTED);
	assert_int_equal(w.finished, 2);
	assert_int_equal(w.ntimers, 0);
	run_free(s);
}

static void test_names(void **state)
{
	(void)state;
	char buf[PROTO_NAME_MAX + 1];
	/* A RUN keeps its orders' names; a GEN keeps the prefix, and order i
	 * is named the prefix and i (made when its event line is). */
	struct run *r = run_new_explicit(6, MODE_SYNC, lesson, 3, &hooks, NULL);
	assert_string_equal(r->names[2], "C");
	run_free(r);
	r = run_new_generated(7, MODE_SYNC, 12, 5000, 5000, "x", &hooks, NULL);
	assert_null(r->names);
	assert_int_equal(proto_gen_name(buf, sizeof buf, r->gen_prefix, 12), 3);
	assert_string_equal(buf, "x12");
	assert_int_equal(r->sum_us, 12 * 5000);
	assert_int_equal(run_ideal_us(r), 12 * 5000);
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sync_takes_the_sum, reset),
		cmocka_unit_test_setup(test_async_takes_the_longest, reset),
		cmocka_unit_test_setup(test_early_timer_sleeps_again, reset),
		cmocka_unit_test_setup(test_async_batches_yield, reset),
		cmocka_unit_test_setup(test_interrupt_disarms, reset),
		cmocka_unit_test_setup(test_sync_cooks_then_eats_each_in_turn, reset),
		cmocka_unit_test_setup(test_async_cooks_block_in_turn, reset),
		cmocka_unit_test_setup(test_offload_cooks_on_the_workers, reset),
		cmocka_unit_test_setup(test_inline_cooking_delays_other_timers, reset),
		cmocka_unit_test_setup(test_interrupt_takes_cooks_back, reset),
		cmocka_unit_test_setup(test_ended_order_cannot_resume, reset),
		cmocka_unit_test_setup(test_failed_arm_interrupts_the_run, reset),
		cmocka_unit_test_setup(test_names, reset),
	};
	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
