/* Riders, deadlines and cancellation under a fake clock: riders 1, 2, 3
 * and no limit take 10, 7, 4 and 4 s exactly, with the events in order;
 * a deadline cancels exactly the orders not collected by it; so does a
 * cancel mid-run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/run.h"
#include "tests/fake_run.h"

static struct run *lesson_run(uint32_t riders, uint64_t deadline_us)
{
	struct run *r = run_new_explicit(1, MODE_ASYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
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
		fake_run_reset(state);
		struct run *r = lesson_run(cases[i].riders, 0);
		assert_int_equal(run_ideal_us(r), cases[i].want_us);
		run_start(r);
		fake_run_drain();
		assert_int_equal(r->status, RUN_DONE);
		assert_int_equal(r->elapsed_us, cases[i].want_us);
		assert_int_equal(fake.nevents, 9);
		assert_true(fake.most_in_flight <= (cases[i].riders ? cases[i].riders : 3));
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
	assert_int_equal(fake.nevents, 2);          /* C waits: no delivery, no timer */
	assert_int_equal(fake.ntimers, 2);
	fake_run_drain();
	fake_run_expect_event(0, 1, STEP_DELIVERED, 0);
	fake_run_expect_event(1, 2, STEP_DELIVERED, 0);
	fake_run_expect_event(2, 1, STEP_EATEN, 3000000);
	fake_run_expect_event(3, 1, STEP_COLLECTED, 3000000);
	fake_run_expect_event(4, 3, STEP_DELIVERED, 3000000);
	fake_run_expect_event(5, 2, STEP_EATEN, 3000000);
	fake_run_expect_event(6, 2, STEP_COLLECTED, 3000000);
	fake_run_expect_event(7, 3, STEP_EATEN, 7000000);
	fake_run_expect_event(8, 3, STEP_COLLECTED, 7000000);
	assert_int_equal(fake.most_in_flight, 2);
	run_free(r);
}

/* One rider is sync: each order delivered as the one before is collected. */
static void test_one_rider_is_sync(void **state)
{
	(void)state;
	struct run *r = lesson_run(1, 0);
	run_start(r);
	fake_run_drain();
	fake_run_expect_event(0, 1, STEP_DELIVERED, 0);
	fake_run_expect_event(2, 1, STEP_COLLECTED, 3000000);
	fake_run_expect_event(3, 2, STEP_DELIVERED, 3000000);
	fake_run_expect_event(5, 2, STEP_COLLECTED, 6000000);
	fake_run_expect_event(6, 3, STEP_DELIVERED, 6000000);
	fake_run_expect_event(8, 3, STEP_COLLECTED, 10000000);
	run_free(r);
}

/* Many orders, few riders, starts in batches: never more out than the
 * riders, every meal whole, and the run takes its ideal time exactly. */
static void test_many_orders_few_riders(void **state)
{
	(void)state;
	const uint32_t n = RUN_START_BATCH * 2 + 100;
	struct run *r = run_new_generated(2, MODE_ASYNC, n, 1000, 9000, "o", &fake_run_hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_set_limits(r, 7, 0), 0);
	run_start(r);
	fake_run_drain();
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(fake.nevents, 3 * (size_t)n);
	assert_int_equal(fake.most_in_flight, 7);
	assert_int_equal(r->elapsed_us, run_ideal_us(r));
	run_free(r);
}

static size_t count_steps(uint32_t idx, enum proto_step step)
{
	size_t n = 0;
	for (size_t i = 0; i < fake.nevents; i++)
		n += fake.events[i].idx == idx && fake.events[i].step == step;
	return n;
}

/* A deadline of 3.5 s: A and B are collected at 3 s, C is cancelled at
 * 3.5 s, its timer taken back, and is never eaten. */
static void test_deadline_cancels_what_is_not_collected(void **state)
{
	(void)state;
	struct run *r = lesson_run(0, 3500000);
	run_start(r);
	fake_run_drain();
	assert_int_equal(r->status, RUN_TIMED_OUT);
	assert_int_equal(fake.finished, 1);
	assert_int_equal(r->elapsed_us, 3500000);
	assert_int_equal(run_collected(r), 2);
	assert_int_equal(fake.nevents, 8);
	fake_run_expect_event(7, 3, STEP_CANCELLED, 3500000);
	assert_int_equal(count_steps(1, STEP_COLLECTED) + count_steps(2, STEP_COLLECTED), 2);
	assert_int_equal(count_steps(3, STEP_EATEN) + count_steps(3, STEP_COLLECTED), 0);
	assert_int_equal(fake.disarmed, 1);
	assert_int_equal(fake.ntimers, 0);
	run_free(r);
}

/* With one rider and a 3.5 s deadline: A collected, B cancelled during
 * its meal, C cancelled while it still waits for a rider (no timer). */
static void test_deadline_cancels_waiting_orders(void **state)
{
	(void)state;
	struct run *r = lesson_run(1, 3500000);
	run_start(r);
	fake_run_drain();
	assert_int_equal(r->status, RUN_TIMED_OUT);
	assert_int_equal(fake.nevents, 6);
	fake_run_expect_event(2, 1, STEP_COLLECTED, 3000000);
	fake_run_expect_event(3, 2, STEP_DELIVERED, 3000000);
	fake_run_expect_event(4, 2, STEP_CANCELLED, 3500000);
	fake_run_expect_event(5, 3, STEP_CANCELLED, 3500000);
	assert_int_equal(count_steps(3, STEP_DELIVERED), 0);
	assert_int_equal(fake.disarmed, 1);
	run_free(r);
}

/* A run done before its deadline takes the deadline's timer back. */
static void test_deadline_not_reached(void **state)
{
	(void)state;
	struct run *r = lesson_run(0, 5000000);
	run_start(r);
	assert_int_equal(fake.ntimers, 4);
	fake_run_drain();
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(r->elapsed_us, 4000000);
	assert_int_equal(fake.deadline_disarmed, 1);
	run_free(r);
}

/* A cancel at 3 s, after A and B: C is cancelled then; nothing follows. */
static void test_cancel_mid_run(void **state)
{
	(void)state;
	struct run *r = lesson_run(0, 0);
	run_start(r);
	assert_true(fake_run_step());                 /* A at 3 s */
	assert_true(fake_run_step());                 /* B at 3 s */
	run_cancel(r, RUN_CANCELLED);
	assert_int_equal(r->status, RUN_CANCELLED);
	assert_int_equal(fake.finished, 1);
	assert_int_equal(r->elapsed_us, 3000000);
	fake_run_expect_event(fake.nevents - 1, 3, STEP_CANCELLED, 3000000);
	assert_int_equal(fake.ntimers, 0);
	size_t events = fake.nevents;
	fake_run_drain();
	run_cancel(r, RUN_CANCELLED);             /* twice is harmless */
	assert_int_equal(fake.nevents, events);
	assert_int_equal(fake.finished, 1);
	run_free(r);
}

/* Riders' runs cook nothing here, and one run yields one batch at a time. */
static int riders_world_after(void **state)
{
	(void)state;
	assert_int_equal(fake.cooks, 0);
	assert_true(fake.most_yielded <= 1);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_riders_take_list_scheduling_time, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_two_riders_event_order, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_one_rider_is_sync, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_many_orders_few_riders, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_deadline_cancels_what_is_not_collected, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_deadline_cancels_waiting_orders, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_deadline_not_reached, fake_run_reset, riders_world_after),
		cmocka_unit_test_setup_teardown(test_cancel_mid_run, fake_run_reset, riders_world_after),
	};
	return cmocka_run_group_tests_name("riders", tests, NULL, NULL);
}
