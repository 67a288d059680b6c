#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "tests/fake_run.h"

struct fake_world fake;

const struct order_spec fake_run_lesson[3] = {
	{ .name = "A", .meal_us = 3000000 }, { .name = "B", .meal_us = 3000000 },
	{ .name = "C", .meal_us = 4000000 },
};

static uint64_t fake_run_now(void *ctx)
{
	(void)ctx;
	return fake.now_us;
}

static void fake_run_add_timer(struct fake_timer t)
{
	assert_true(fake.ntimers < FAKE_RUN_MAX_TIMERS);
	fake.timers[fake.ntimers++] = t;
}

/* Takes timer i out, keeping the others in the order they were armed. */
static struct fake_timer fake_run_take_timer(size_t i)
{
	struct fake_timer t = fake.timers[i];
	memmove(&fake.timers[i], &fake.timers[i + 1], (fake.ntimers - i - 1) * sizeof t);
	fake.ntimers--;
	return t;
}

static int fake_run_arm(void *ctx, struct order *o, uint64_t now_us, uint64_t deadline_us)
{
	(void)ctx;
	assert_int_equal(now_us, fake.now_us);   /* the run passes the clock it read */
	if (o->idx == fake.fail_arm)
		return -1;
	fake_run_add_timer((struct fake_timer){ .o = o, .deadline_us = deadline_us });
	return 0;
}

static void fake_run_disarm(void *ctx, struct order *o)
{
	(void)ctx;
	int cooking = 0;
	for (size_t i = 0; i < fake.ntimers; i++) {
		cooking |= fake.timers[i].o == o && fake.timers[i].job;
		if (fake.timers[i].o == o && !fake.timers[i].job) {
			fake_run_take_timer(i);
			fake.disarmed++;
			return;
		}
	}
	/* An order on a worker has no timer yet: cook_cancel takes it back;
	 * one whose arm failed has none either, nor one waiting for a rider.
	 * Those must not be disarmed. */
	if (!cooking && o->idx != fake.fail_arm)
		fail_msg("disarm of order %u, which has no timer", o->idx);
}

static int fake_run_arm_run(void *ctx, struct run *r, uint64_t now_us, uint64_t deadline_us)
{
	(void)ctx;
	assert_int_equal(now_us, fake.now_us);
	fake.deadlines_armed++;
	fake_run_add_timer((struct fake_timer){ .r = r, .deadline_us = deadline_us });
	return 0;
}

static void fake_run_disarm_run(void *ctx, struct run *r)
{
	(void)ctx;
	for (size_t i = 0; i < fake.ntimers; i++) {
		if (fake.timers[i].r == r) {
			fake_run_take_timer(i);
			fake.deadline_disarmed++;
			return;
		}
	}
}

static void fake_run_yield(void *ctx, struct run *r)
{
	(void)ctx;
	assert_true(fake.nyielded < FAKE_RUN_QUEUE);
	fake.yielded[fake.nyielded++] = r;
	if (fake.nyielded > fake.most_yielded)
		fake.most_yielded = fake.nyielded;
}

static void fake_run_pause(void *ctx, struct run *r)
{
	(void)ctx;
	assert_true(fake.npaused < FAKE_RUN_QUEUE);
	fake.paused[fake.npaused++] = r;
}

/* Cooking on the loop takes exactly its time on the clock. */
static void fake_run_cook_inline(void *ctx, struct order *o, uint64_t cook_us)
{
	(void)ctx;
	(void)o;
	fake.cooks++;
	fake.now_us += cook_us;
}

/* The fake pool: the job goes to the worker free first and ends cook_us
 * after it starts, as a timer. */
static void fake_run_cook_submit(void *ctx, struct order *o, struct pool_job *job)
{
	(void)ctx;
	fake.cooks++;
	unsigned k = 0;
	for (unsigned i = 1; i < FAKE_RUN_WORKERS; i++)
		if (fake.worker_free[i] < fake.worker_free[k])
			k = i;
	uint64_t start = fake.worker_free[k] > fake.now_us ? fake.worker_free[k] : fake.now_us;
	fake.worker_free[k] = start + job->in_us;
	assert_ptr_equal(job->arg, o);
	fake_run_add_timer((struct fake_timer){ .o = o, .deadline_us = fake.worker_free[k], .job = job });
}

static void fake_run_cook_cancel(void *ctx, struct pool_job *job)
{
	(void)ctx;
	for (size_t i = 0; i < fake.ntimers; i++) {
		if (fake.timers[i].job == job) {
			fake_run_take_timer(i);
			fake.cancelled++;
			return;
		}
	}
}

static void fake_run_emit(void *ctx, struct run *r, uint32_t idx, enum proto_step step,
                          uint64_t t_us)
{
	(void)ctx;
	assert_true(fake.nevents < FAKE_RUN_MAX_EVENTS);
	fake.events[fake.nevents++] = (struct fake_event){ r->id, idx, step, t_us };
	if (step == STEP_DELIVERED && ++fake.in_flight > fake.most_in_flight)
		fake.most_in_flight = fake.in_flight;
	if (step == STEP_COLLECTED)
		fake.in_flight--;
}

static void fake_run_finish(void *ctx, struct run *r)
{
	(void)ctx;
	assert_null(r->orders);
	fake.finished++;
}

const struct run_hooks fake_run_hooks = {
	.now_us = fake_run_now, .arm = fake_run_arm, .disarm = fake_run_disarm,
	.yield = fake_run_yield, .pause = fake_run_pause, .cook_inline = fake_run_cook_inline,
	.cook_submit = fake_run_cook_submit, .cook_cancel = fake_run_cook_cancel,
	.arm_run = fake_run_arm_run, .disarm_run = fake_run_disarm_run, .emit = fake_run_emit,
	.finish = fake_run_finish, .workers = FAKE_RUN_WORKERS,
};

int fake_run_reset(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof fake);
	fake.now_us = 1000000;
	return 0;
}

static struct run *fake_run_take(struct run **list, size_t *n)
{
	struct run *r = list[0];
	memmove(list, list + 1, --*n * sizeof *list);
	return r;
}

int fake_run_step(void)
{
	if (fake.nyielded) {
		run_resume(fake_run_take(fake.yielded, &fake.nyielded));
		return 1;
	}
	size_t best = 0;
	for (size_t i = 1; i < fake.ntimers; i++) {
		if (fake.timers[i].deadline_us < fake.timers[best].deadline_us)
			best = i;
	}
	if (fake.npaused && (fake.ntimers == 0 || fake.timers[best].deadline_us > fake.now_us)) {
		run_resume(fake_run_take(fake.paused, &fake.npaused));
		return 1;
	}
	if (fake.ntimers == 0)
		return 0;
	struct fake_timer t = fake_run_take_timer(best);
	uint64_t fire = t.deadline_us - (uint64_t)fake.early_us;
	if (fire > fake.now_us)
		fake.now_us = fire;
	fake.early_us = 0;
	if (t.o)
		run_order_wake(t.o);
	else
		run_deadline(t.r);
	return 1;
}

void fake_run_drain(void)
{
	while (fake_run_step())
		;
}

void fake_run_expect_event(size_t i, uint32_t idx, enum proto_step step, uint64_t t_us)
{
	assert_true(i < fake.nevents);
	assert_int_equal(fake.events[i].idx, idx);
	assert_int_equal(fake.events[i].step, step);
	assert_int_equal(fake.events[i].t_us, t_us);
}
