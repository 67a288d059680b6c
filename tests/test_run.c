/* The order and run coroutines under a fake clock: sync elapsed is the sum
 * of the meals and async the longest, exactly, with the events in order;
 * with cooking, each mode takes exactly its ideal time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "server/run.h"
#include "tests/fake_run.h"

static void test_sync_takes_the_sum(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(1, MODE_SYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	assert_non_null(r);
	run_start(r);
	fake_run_drain();
	assert_int_equal(fake.finished, 1);
	assert_int_equal(r->status, RUN_DONE);
	assert_int_equal(r->elapsed_us, 10000000);
	assert_int_equal(run_ideal_us(r), 10000000);
	assert_int_equal(fake.nevents, 9);
	fake_run_expect_event(0, 1, STEP_DELIVERED, 0);
	fake_run_expect_event(1, 1, STEP_EATEN, 3000000);
	fake_run_expect_event(2, 1, STEP_COLLECTED, 3000000);
	fake_run_expect_event(3, 2, STEP_DELIVERED, 3000000);
	fake_run_expect_event(4, 2, STEP_EATEN, 6000000);
	fake_run_expect_event(5, 2, STEP_COLLECTED, 6000000);
	fake_run_expect_event(6, 3, STEP_DELIVERED, 6000000);
	fake_run_expect_event(7, 3, STEP_EATEN, 10000000);
	fake_run_expect_event(8, 3, STEP_COLLECTED, 10000000);
	run_free(r);
}

static void test_async_takes_the_longest(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(2, MODE_ASYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	assert_non_null(r);
	run_start(r);
	/* All three are delivered at once, before any meal ends. */
	assert_int_equal(fake.nevents, 3);
	assert_int_equal(fake.ntimers, 3);
	fake_run_drain();
	assert_int_equal(r->elapsed_us, 4000000);
	assert_int_equal(run_ideal_us(r), 4000000);
	assert_int_equal(r->sum_us, 10000000);
	fake_run_expect_event(0, 1, STEP_DELIVERED, 0);
	fake_run_expect_event(1, 2, STEP_DELIVERED, 0);
	fake_run_expect_event(2, 3, STEP_DELIVERED, 0);
	fake_run_expect_event(3, 1, STEP_EATEN, 3000000);
	fake_run_expect_event(4, 1, STEP_COLLECTED, 3000000);
	fake_run_expect_event(5, 2, STEP_EATEN, 3000000);
	fake_run_expect_event(6, 2, STEP_COLLECTED, 3000000);
	fake_run_expect_event(7, 3, STEP_EATEN, 4000000);
	fake_run_expect_event(8, 3, STEP_COLLECTED, 4000000);
	assert_int_equal(fake.finished, 1);
	run_free(r);
}

/* A timer that fires early must not end the meal early: the order sleeps
 * again for what is left. */
static void test_early_timer_sleeps_again(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(3, MODE_SYNC, fake_run_lesson, 1, &fake_run_hooks, NULL);
	run_start(r);
	fake.early_us = 2500;
	assert_true(fake_run_step());
	assert_int_equal(fake.nevents, 1);         /* still eating */
	assert_int_equal(fake.ntimers, 1);         /* armed again */
	assert_int_equal(fake.timers[0].deadline_us, 1000000 + 3000000);
	fake_run_drain();
	fake_run_expect_event(1, 1, STEP_EATEN, 3000000);
	run_free(r);
}

/* More orders than one start batch: the run yields to the loop between
 * batches, and every order still eats at least its meal. */
static void test_async_batches_yield(void **state)
{
	(void)state;
	const uint32_t n = RUN_START_BATCH * 2 + 100;
	struct run *r = run_new_generated(4, MODE_ASYNC, n, 1000, 9000, "o", &fake_run_hooks, NULL);
	assert_non_null(r);
	run_start(r);
	assert_int_equal(fake.nyielded, 1);
	assert_int_equal(fake.nevents, RUN_START_BATCH);
	fake_run_drain();
	assert_int_equal(fake.nevents, 3 * (size_t)n);
	assert_int_equal(fake.finished, 1);
	assert_int_equal(r->max_us, 9000);
	assert_int_equal(r->elapsed_us, 9000);
	uint64_t *delivered = calloc(n + 1, sizeof *delivered);
	for (size_t i = 0; i < fake.nevents; i++) {
		const struct fake_event *e = &fake.events[i];
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
	struct run *r = run_new_explicit(5, MODE_ASYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	run_start(r);
	assert_true(fake_run_step());               /* A eats and is collected */
	run_interrupt(r);
	assert_int_equal(r->status, RUN_INTERRUPTED);
	assert_int_equal(fake.disarmed, 2);
	assert_int_equal(fake.ntimers, 0);
	assert_int_equal(fake.finished, 1);
	run_interrupt(r);                       /* twice is harmless */
	assert_int_equal(fake.finished, 1);
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
	for (size_t i = 0; i < fake.nevents; i++)
		if (fake.events[i].idx == idx && fake.events[i].step == step)
			return fake.events[i].t_us;
	fail_msg("no %s event for order %u", proto_step_name(step), idx);
	return 0;
}

static void test_sync_cooks_then_eats_each_in_turn(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(1, MODE_SYNC, cooked, 3, &fake_run_hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_ideal_us(r), 10600000);
	assert_int_equal(r->pool_cooks, 3);
	run_start(r);
	fake_run_drain();
	assert_int_equal(r->elapsed_us, 10600000);
	assert_int_equal(r->blocked_us, 0);
	assert_int_equal(r->cook_us, 600000);
	assert_int_equal(fake.nevents, 12);
	fake_run_expect_event(0, 1, STEP_COOKED, 200000);
	fake_run_expect_event(1, 1, STEP_DELIVERED, 200000);
	fake_run_expect_event(2, 1, STEP_EATEN, 3200000);
	fake_run_expect_event(4, 2, STEP_COOKED, 3400000);
	fake_run_expect_event(8, 3, STEP_COOKED, 6600000);
	fake_run_expect_event(11, 3, STEP_COLLECTED, 10600000);
	run_free(r);
}

static void test_async_cooks_block_in_turn(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(2, MODE_ASYNC, cooked, 3, &fake_run_hooks, NULL);
	assert_non_null(r);
	assert_int_equal(run_ideal_us(r), 4600000);
	assert_int_equal(r->pool_cooks, 0);
	run_start(r);
	/* One cook, then the run pauses so the loop serves what came due. */
	assert_int_equal(fake.nevents, 2);
	assert_int_equal(fake.npaused, 1);
	fake_run_drain();
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
	struct run *r = run_new_explicit(3, MODE_OFFLOAD, cooked, 3, &fake_run_hooks, NULL);
	assert_non_null(r);
	/* Two workers: A and B cook at once, C after them. */
	assert_int_equal(run_ideal_us(r), 4400000);
	run_start(r);
	assert_int_equal(fake.nevents, 0);
	assert_int_equal(fake.ntimers, 3);
	fake_run_drain();
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
	struct run *other = run_new_explicit(4, MODE_ASYNC, quick, 1, &fake_run_hooks, NULL);
	struct run *cook = run_new_explicit(5, MODE_ASYNC, cooked, 3, &fake_run_hooks, NULL);
	run_start(other);
	run_start(cook);
	fake_run_drain();
	assert_int_equal(other->elapsed_us, 200000);   /* due at 100 ms, served at 200 */
	size_t q_eaten = 0, second_cook = 0;
	for (size_t i = 0; i < fake.nevents; i++) {
		if (fake.events[i].run == 4 && fake.events[i].step == STEP_EATEN)
			q_eaten = i;
		if (fake.events[i].run == 5 && fake.events[i].idx == 2 && fake.events[i].step == STEP_COOKED)
			second_cook = i;
	}
	assert_true(q_eaten > 0 && q_eaten < second_cook);
	run_free(other);
	run_free(cook);
}

static void test_interrupt_takes_cooks_back(void **state)
{
	(void)state;
	struct run *r = run_new_explicit(6, MODE_OFFLOAD, cooked, 3, &fake_run_hooks, NULL);
	run_start(r);
	assert_int_equal(fake.ntimers, 3);
	run_interrupt(r);
	assert_int_equal(fake.cancelled, 3);
	assert_int_equal(fake.ntimers, 0);
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
	struct run *r = run_new_explicit(3, MODE_SYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	assert_non_null(r);
	run_start(r);
	assert_true(fake_run_step());          /* A eaten and collected; B delivered */
	assert_int_equal(r->finished, 1);
	assert_int_equal(fake.ntimers, 1);
	size_t events = fake.nevents;
	run_order_wake(&r->orders[0]);     /* A again */
	assert_int_equal(r->finished, 1);
	assert_int_equal(r->started, 2);
	assert_int_equal(fake.ntimers, 1);
	assert_int_equal(fake.nevents, events);
	fake_run_drain();
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
	fake.fail_arm = 2;
	struct run *a = run_new_explicit(4, MODE_ASYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	assert_non_null(a);
	run_start(a);
	assert_int_equal(a->status, RUN_INTERRUPTED);
	assert_int_equal(fake.finished, 1);
	assert_int_equal(fake.ntimers, 0);     /* A's and C's timers taken back */
	run_free(a);

	struct run *s = run_new_explicit(5, MODE_SYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	assert_non_null(s);
	run_start(s);
	assert_int_equal(s->status, RUN_RUNNING);
	assert_true(fake_run_step());          /* A ends; B is delivered, its arm fails */
	assert_int_equal(s->status, RUN_INTERRUPTED);
	assert_int_equal(fake.finished, 2);
	assert_int_equal(fake.ntimers, 0);
	run_free(s);
}

static void test_names(void **state)
{
	(void)state;
	char buf[PROTO_NAME_MAX + 1];
	/* A RUN keeps its orders' names; a GEN keeps the prefix, and order i
	 * is named the prefix and i (made when its event line is). */
	struct run *r = run_new_explicit(6, MODE_SYNC, fake_run_lesson, 3, &fake_run_hooks, NULL);
	assert_string_equal(r->names[2], "C");
	run_free(r);
	r = run_new_generated(7, MODE_SYNC, 12, 5000, 5000, "x", &fake_run_hooks, NULL);
	assert_null(r->names);
	assert_int_equal(proto_gen_name(buf, sizeof buf, r->gen_prefix, 12), 3);
	assert_string_equal(buf, "x12");
	assert_int_equal(r->sum_us, 12 * 5000);
	assert_int_equal(run_ideal_us(r), 12 * 5000);
	run_free(r);
}

/* No run here has a deadline: none may be armed. */
static int run_world_after(void **state)
{
	(void)state;
	assert_int_equal(fake.deadlines_armed, 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_takes_the_sum, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_async_takes_the_longest, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_early_timer_sleeps_again, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_async_batches_yield, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_interrupt_disarms, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_sync_cooks_then_eats_each_in_turn, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_async_cooks_block_in_turn, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_offload_cooks_on_the_workers, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_inline_cooking_delays_other_timers, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_interrupt_takes_cooks_back, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_ended_order_cannot_resume, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_failed_arm_interrupts_the_run, fake_run_reset, run_world_after),
		cmocka_unit_test_setup_teardown(test_names, fake_run_reset, run_world_after),
	};
	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
