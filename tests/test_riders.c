/* Riders, deadlines and cancellation under a fake clock: riders 1, 2, 3
 * and no limit take 10, 7, 4 and 4 s exactly, with the events in order;
 * a deadline cancels exactly the orders not collected by it; so does a
 * cancel mid-run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/run.h"

#define MAX_EVENTS 40000
#define MAX_TIMERS 64

struct fake_event {
	uint32_t idx;
	enum proto_step step;
	uint64_t t_us;
};

/* An order's timer (o set) or a run's deadline (r set). */
struct fake_timer {
	struct order *o;
	struct run *r;
	uint64_t deadline_us;
};

/* The fake world: a clock that moves only when a timer fires. */
static struct fake {
	uint64_t now_us;
	struct fake_timer timers[MAX_TIMERS];
	size_t ntimers;
	struct run *yielded;
	struct fake_event events[MAX_EVENTS];
	size_t nevents;
	int finished, disarmed, deadline_disarmed;
	uint32_t in_flight, most_in_flight;
} w;

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return w.now_us;
}

static void fake_add_timer(struct order *o, struct run *r, uint64_t deadline_us)
{
	assert_true(w.ntimers < MAX_TIMERS);
	w.timers[w.ntimers++] = (struct fake_timer){ o, r, deadline_us };
}

static int fake_arm(void *ctx, struct order *o, uint64_t now_us, uint64_t deadline_us)
{
	(void)ctx;
	assert_int_equal(now_us, w.now_us);
	fake_add_timer(o, NULL, deadline_us);
	return 0;
}

/* Removes the timer of o (or of r's deadline); 1 if there was one. */
static int fake_remove(const struct order *o, const struct run *r)
{
	for (size_t i = 0; i < w.ntimers; i++) {
		if (w.timers[i].o == o && w.timers[i].r == r) {
			memmove(&w.timers[i], &w.timers[i + 1], (w.ntimers - i - 1) * sizeof w.timers[0]);
			w.ntimers--;
			return 1;
		}
	}
	return 0;
}

static void fake_disarm(void *ctx, struct order *o)
{
	(void)ctx;
	/* An order waiting for a rider has no timer: it must not be disarmed. */
	if (!fake_remove(o, NULL))
		fail_msg("disarm of order %u, which has no timer", o->idx);
	w.disarmed++;
}

static int fake_arm_run(void *ctx, struct run *r, uint64_t now_us, uint64_t deadline_us)
{
	(void)ctx;
	assert_int_equal(now_us, w.now_us);
	fake_add_timer(NULL, r, deadline_us);
	return 0;
}

static void fake_disarm_run(void *ctx, struct run *r)
{
	(void)ctx;
	w.deadline_disarmed += fake_remove(NULL, r);
}

static void fake_yield(void *ctx, struct run *r)
{
	(void)ctx;
	assert_null(w.yielded);
	w.yielded = r;
}

static void fake_no_cook(void *ctx, struct order *o, uint64_t cook_us)
{
	(void)ctx;
	(void)o;
	(void)cook_us;
	fail_msg("nothing is cooked here");
}

static void fake_emit(void *ctx, struct run *r, uint32_t idx, enum proto_step step, uint64_t t_us)
{
	(void)ctx;
	(void)r;
	assert_true(w.nevents < MAX_EVENTS);
	w.events[w.nevents++] = (struct fake_event){ idx, step, t_us };
	if (step == STEP_DELIVERED && ++w.in_flight > w.most_in_flight)
		w.most_in_flight = w.in_flight;
	if (step == STEP_COLLECTED)
		w.in_flight--;
}

static void fake_finish(void *ctx, struct run *r)
{
	(void)ctx;
	assert_null(r->orders);
	w.finished++;
}

static const struct run_hooks hooks = {
	.now_us = fake_now, .arm = fake_arm, .disarm = fake_disarm, .yield = fake_yield,
	.cook_inline = fake_no_cook, .arm_run = fake_arm_run, .disarm_run = fake_disarm_run,
	.emit = fake_emit, .finish = fake_finish, .workers = 1,
};

static int reset(void **state)
{
	(void)state;
	memset(&w, 0, sizeof w);
	w.now_us = 1000000;   /* the run's start need not be 0 */
	return 0;
}

/* Serves a yielded run first, then the earliest timer (the first armed
 * among equals), moving the clock to it. */
static int fake_step(void)
{
	if (w.yielded) {
		struct run *r = w.yielded;
		w.yielded = NULL;
		run_resume(r);
		return 1;
	}
	if (w.ntimers == 0)
		return 0;
	size_t best = 0;
	for (size_t i = 1; i < w.ntimers; i++)
		if (w.timers[i].deadline_us < w.timers[best].deadline_us)
			best = i;
	struct fake_timer t = w.timers[best];
	memmove(&w.timers[best], &w.timers[best + 1], (w.ntimers - best - 1) * sizeof t);
	w.ntimers--;
	if (t.deadline_us > w.now_us)
		w.now_us = t.deadline_us;
	if (t.o)
		run_order_wake(t.o);
	else
		run_deadline(t.r);
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

static struct run *lesson_run(uint32_t riders, uint64_t deadline_us)
{
	struct run *r = run_new_explicit(1, MODE_ASYNC, lesson, 3, &hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_set_limits(r, riders, deadline_us), 0);
	return r;
}

/* The lesson's elapsed and ideal times for riders 1, 2, 3, more riders
 * than orders, no limit. */
static void test_riders_take_list_scheduling_time(void **state)
{
	static const struct { uint32_t riders; uint64_t want_us; } cases[] = {
		{ 1, 10000000 }, { 2, 7000000 }, { 3, 4000000 }, { 4, 4000000 }, { 0, 4000000 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		reset(state);
		struct run *r = lesson_run(cases[i].riders, 0);
		assert_int_equal(run_ideal_us(r), cases[i].want_us);
		run_start(r);
		fake_drain();
		assert_int_equal(r->status, RUN_DONE);
		assert_int_equal(r->elapsed_us, cases[i].want_us);
		assert_int_equal(w.nevents, 9);
		assert_true(w.most_in_flight <= (cases[i].riders ? cases[i].riders : 3));
		run_free(r);
	}
}

/* Two riders: A and B go at once; C waits for A's rider, which is handed
 * over the moment A is collected. */
static void test_two_riders_event_order(void **state)
{
	(void)state;
	struct run *r = lesson_run(2, 0);
	run_start(r);
	assert_int_equal(w.nevents, 2);          /* C waits: no delivery, no timer */
	assert_int_equal(w.ntimers, 2);
	fake_drain();
	expect_event(0, 1, STEP_DELIVERED, 0);
	expect_event(1, 2, STEP_DELIVERED, 0);
	expect_event(2, 1, STEP_EATEN, 3000000);
	expect_event(3, 1, STEP_COLLECTED, 3000000);
	expect_event(4, 3, STEP_DELIVERED, 3000000);
	expect_event(5, 2, STEP_EATEN, 3000000);
	expect_event(6, 2, STEP_COLLECTED, 3000000);
	expect_event(7, 3, STEP_EATEN, 7000000);
	expect_event(8, 3, STEP_COLLECTED, 7000000);
	assert_int_equal(w.most_in_flight, 2);
	run_free(r);
}

/* One rider is sync: each order delivered as the one before is collected. */
static void test_one_rider_is_sync(void **state)
{
	(void)state;
	struct run *r = lesson_run(1, 0);
	run_start(r);
	fake_drain();
	expect_event(0, 1, STEP_DELIVERED, 0);
	expect_event(2, 1, STEP_COLLECTED, 3000000);
	expect_event(3, 2, STEP_DELIVERED, 3000000);
	expect_event(5, 2, STEP_COLLECTED, 6000000);
	expect_event(6, 3, STEP_DELIVERED, 6000000);
	expect_event(8, 3, STEP_COLLECTED, 10000000);
	run_free(r);
}

/* Many orders, few riders, starts in batches: never more out than the
 * riders, every meal whole, and the run takes its ideal time exactly. */
static void test_many_orders_few_riders(void **state)
{
	(void)state;
	const uint32_t n = RUN_START_BATCH * 2 + 100;
	struct run *r = run_new_generated(2, MODE_ASYNC, n, 1000, 9000, "o", &hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_set_limits(r, 7, 0), 0);
	run_start(r);
	fake_drain();
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(w.nevents, 3 * (size_t)n);
	assert_int_equal(w.most_in_flight, 7);
	assert_int_equal(r->elapsed_us, run_ideal_us(r));
	run_free(r);
}

static size_t count_steps(uint32_t idx, enum proto_step step)
{
	size_t n = 0;
	for (size_t i = 0; i < w.nevents; i++)
		n += w.events[i].idx == idx && w.events[i].step == step;
	return n;
}

/* A deadline of 3.5 s: A and B are collected at 3 s, C is cancelled at
 * 3.5 s, its timer taken back, and is never eaten. */
static void test_deadline_cancels_what_is_not_collected(void **state)
{
	(void)state;
	struct run *r = lesson_run(0, 3500000);
	run_start(r);
	fake_drain();
	assert_int_equal(r->status, RUN_TIMED_OUT);
	assert_int_equal(w.finished, 1);
	assert_int_equal(r->elapsed_us, 3500000);
	assert_int_equal(run_collected(r), 2);
	assert_int_equal(w.nevents, 8);
	expect_event(7, 3, STEP_CANCELLED, 3500000);
	assert_int_equal(count_steps(1, STEP_COLLECTED) + count_steps(2, STEP_COLLECTED), 2);
	assert_int_equal(count_steps(3, STEP_EATEN) + count_steps(3, STEP_COLLECTED), 0);
	assert_int_equal(w.disarmed, 1);
	assert_int_equal(w.ntimers, 0);
	run_free(r);
}

/* With one rider and a 3.5 s deadline: A collected, B cancelled during
 * its meal, C cancelled while it still waits for a rider (no timer). */
static void test_deadline_cancels_waiting_orders(void **state)
{
	(void)state;
	struct run *r = lesson_run(1, 3500000);
	run_start(r);
	fake_drain();
	assert_int_equal(r->status, RUN_TIMED_OUT);
	assert_int_equal(w.nevents, 6);
	expect_event(2, 1, STEP_COLLECTED, 3000000);
	expect_event(3, 2, STEP_DELIVERED, 3000000);
	expect_event(4, 2, STEP_CANCELLED, 3500000);
	expect_event(5, 3, STEP_CANCELLED, 3500000);
	assert_int_equal(count_steps(3, STEP_DELIVERED), 0);
	assert_int_equal(w.disarmed, 1);
	run_free(r);
}

/* A run done before its deadline takes the deadline's timer back. */
static void test_deadline_not_reached(void **state)
{
	(void)state;
	struct run *r = lesson_run(0, 5000000);
	run_start(r);
	assert_int_equal(w.ntimers, 4);
	fake_drain();
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(r->elapsed_us, 4000000);
	assert_int_equal(w.deadline_disarmed, 1);
	run_free(r);
}

/* A cancel at 3 s, after A and B: C is cancelled then; nothing follows. */
static void test_cancel_mid_run(void **state)
{
	(void)state;
	struct run *r = lesson_run(0, 0);
	run_start(r);
	assert_true(fake_step());                 /* A at 3 s */
	assert_true(fake_step());                 /* B at 3 s */
	run_cancel(r, RUN_CANCELLED);
	assert_int_equal(r->status, RUN_CANCELLED);
	assert_int_equal(w.finished, 1);
	assert_int_equal(r->elapsed_us, 3000000);
	expect_event(w.nevents - 1, 3, STEP_CANCELLED, 3000000);
	assert_int_equal(w.ntimers, 0);
	size_t events = w.nevents;
	fake_drain();
	run_cancel(r, RUN_CANCELLED);             /* twice is harmless */
	assert_int_equal(w.nevents, events);
	assert_int_equal(w.finished, 1);
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_riders_take_list_scheduling_time, reset),
		cmocka_unit_test_setup(test_two_riders_event_order, reset),
		cmocka_unit_test_setup(test_one_rider_is_sync, reset),
		cmocka_unit_test_setup(test_many_orders_few_riders, reset),
		cmocka_unit_test_setup(test_deadline_cancels_what_is_not_collected, reset),
		cmocka_unit_test_setup(test_deadline_cancels_waiting_orders, reset),
		cmocka_unit_test_setup(test_deadline_not_reached, reset),
		cmocka_unit_test_setup(test_cancel_mid_run, reset),
	};
	return cmocka_run_group_tests_name("riders", tests, NULL, NULL);
}
