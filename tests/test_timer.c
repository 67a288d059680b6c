/* Order timers on a real libevent base with a precise clock: they fire
 * shortly before the deadline, timer_wait_out() reaches it, repeated
 * durations share a queue, taken-back timers never fire. Lower bounds and
 * order only: never early, never out of turn. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "server/clock.h"
#include "server/timer.h"

/* Every timer test's world: a precise base and the timers on it, made
 * afresh by timers_up and freed by timers_down. */
static struct event_base *base;
static struct timers tw;

struct shot {
	struct timer_link link;
	uint64_t deadline_us, meal_us, fired_us, after_wait_us;
	unsigned hops;
};

/* What the tests saw, in the order they saw it. */
#define SEEN_MAX (3 * TIMER_BATCH)
static struct {
	struct shot *fired[SEEN_MAX];
	unsigned nfired, nwoken;
	struct event *marker;       /* made active by the first timer */
	int marker_at;              /* how many had fired when it ran; -1: not yet */
} seen;

static struct shot *shot_of(struct timer_link *t)
{
	return (struct shot *)((char *)t - offsetof(struct shot, link));
}

/* As the server does: wait out the last stretch, or arm again. */
static void shot_due(struct timer_link *t, void *ctx)
{
	struct shot *s = shot_of(t);
	(void)ctx;
	s->hops++;
	s->fired_us = clock_mono_us();
	uint64_t now = timer_wait_out(s->deadline_us);
	if (now < s->deadline_us) {
		assert_int_equal(timer_arm(&tw, &s->link, now, s->deadline_us, s->meal_us), 0);
		return;
	}
	s->after_wait_us = now;
	assert_true(seen.nfired < SEEN_MAX);
	seen.fired[seen.nfired++] = s;
	if (seen.marker && seen.nfired == 1)
		event_active(seen.marker, EV_TIMEOUT, 0);
}

static void shot_woken(struct timer_link *t, void *ctx)
{
	(void)ctx;
	assert_true(seen.nfired < SEEN_MAX);
	seen.fired[seen.nfired++] = shot_of(t);
	seen.nwoken++;
}

static void marker_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	seen.marker_at = (int)seen.nfired;
}

static struct event_base *precise_base(void)
{
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	struct event_base *b = event_base_new_with_config(ec);
	event_config_free(ec);
	assert_non_null(b);
	return b;
}

static int timers_up(void **state)
{
	(void)state;
	base = precise_base();
	seen = (__typeof__(seen)){ .marker_at = -1 };
	assert_int_equal(timers_init(&tw, base, 0, shot_due, shot_woken, NULL), 0);
	return 0;
}

/* timers_free may have been called by the test already: it is idempotent. */
static int timers_down(void **state)
{
	(void)state;
	timers_free(&tw);
	event_base_free(base);
	base = NULL;
	return 0;
}

/* Arms shot s for a meal starting now, on a fresh clock. */
static void shot_arm(struct shot *s, uint64_t meal)
{
	uint64_t now = clock_mono_us();
	*s = (struct shot){ .deadline_us = now + meal, .meal_us = meal };
	assert_int_equal(timer_arm(&tw, &s->link, now, s->deadline_us, meal), 0);
}

static void test_fires_early_then_waits_out(void **state)
{
	(void)state;
	struct shot shots[8];

	for (int i = 0; i < 8; i++)
		shot_arm(&shots[i], 20000 + (uint64_t)(i % 2) * 5000);   /* two durations */
	assert_int_equal(tw.nqueues, 2);   /* one queue per repeated duration */
	assert_int_equal(tw.nexact, 2);
	assert_int_equal(event_base_dispatch(base), 1);   /* no events left */
	assert_int_equal(seen.nfired, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(shots[i].hops, 1);
		assert_true(shots[i].fired_us + TIMER_EARLY_US + 100 >= shots[i].deadline_us);
		assert_true(shots[i].after_wait_us >= shots[i].deadline_us);
	}
	/* Each queue in the order it was armed (between the two queues the
	 * order is the deadlines', which a paused test may bring together). */
	int next[2] = { 0, 1 };
	for (unsigned i = 0; i < 8; i++) {
		int k = (int)(seen.fired[i] - shots);
		assert_int_equal(k, next[k % 2]);
		next[k % 2] += 2;
	}
}

/* A timer taken back never fires, wherever it was in its queue (first,
 * middle, last), and the rest fire in the order they were armed. */
static void test_disarm_takes_back(void **state)
{
	(void)state;
	struct shot shots[30];

	for (int i = 0; i < 30; i++)
		shot_arm(&shots[i], 5000);
	for (int i = 0; i < 30; i += 3)
		timer_disarm(&shots[i].link);
	timer_disarm(&shots[29].link);
	timer_disarm(&shots[0].link);   /* twice: nothing */
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(seen.nfired, 19);
	unsigned k = 0;
	for (int i = 0; i < 30; i++) {
		if (i % 3 == 0 || i == 29) {
			assert_int_equal(shots[i].hops, 0);
			continue;
		}
		assert_ptr_equal(seen.fired[k++], &shots[i]);
	}
}

/* Meals of many different lengths: past the exact queues they wait in
 * buckets and are armed again for the rest, never firing after their
 * deadline is passed unseen, in a few hops, on a bounded set of queues. */
static void test_buckets_converge(void **state)
{
	(void)state;
	struct shot shots[200];
	uint32_t lcg = 12345;

	for (int i = 0; i < 200; i++) {
		lcg = lcg * 1103515245u + 12345u;
		shot_arm(&shots[i], 2000 + (lcg >> 8) % 60000);   /* 2-62 ms */
	}
	assert_int_equal(tw.nexact, TIMER_EXACT_MAX);
	assert_true(tw.nqueues > TIMER_EXACT_MAX);
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(seen.nfired, 200);
	for (int i = 0; i < 200; i++) {
		assert_true(shots[i].after_wait_us >= shots[i].deadline_us);
		assert_true(shots[i].hops >= 1 && shots[i].hops <= 4);
	}
}

/* A thousand different meals of 10.0 to 11.0 ms need the exact queues
 * and a handful of buckets (256 us wide at that length), not a queue
 * each: the queues a server makes stay few whatever its clients send. */
static void test_queues_are_few(void **state)
{
	(void)state;
	static struct shot shots[1000];

	for (int i = 0; i < 1000; i++)
		shot_arm(&shots[i], 10000 + (uint64_t)i);
	assert_int_equal(tw.nexact, TIMER_EXACT_MAX);
	assert_true(tw.nqueues <= TIMER_EXACT_MAX + 8);
	for (int i = 0; i < 1000; i++)
		timer_disarm(&shots[i].link);
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(seen.nfired, 0);
}

/* One pass of a queue hands out TIMER_BATCH timers, then lets what else
 * is active run: a marker made active by the first timer runs after
 * exactly that many. */
static void test_queue_yields_after_a_batch(void **state)
{
	(void)state;
	static struct shot shots[3 * TIMER_BATCH];

	seen.marker = event_new(base, -1, 0, marker_cb, NULL);
	uint64_t now = clock_mono_us();
	for (int i = 0; i < 3 * TIMER_BATCH; i++) {
		/* All due at once: armed with the same reading. */
		shots[i] = (struct shot){ .deadline_us = now + 1000, .meal_us = 1000 };
		assert_int_equal(timer_arm(&tw, &shots[i].link, now, now + 1000, 1000), 0);
	}
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(seen.nfired, 3 * TIMER_BATCH);
	assert_int_equal(seen.marker_at, TIMER_BATCH);
	for (unsigned i = 0; i < 3 * TIMER_BATCH; i++)
		assert_ptr_equal(seen.fired[i], &shots[i]);
	event_free(seen.marker);
}

/* timer_fire_now() hands timers to the woken callback, in order, from
 * the loop and not from inside the call. */
static void test_fire_now(void **state)
{
	(void)state;
	struct shot shots[3] = { 0 };

	for (int i = 0; i < 3; i++)
		timer_fire_now(&tw, &shots[i].link);
	timer_disarm(&shots[1].link);
	assert_int_equal(seen.nwoken, 0);
	assert_int_equal(event_base_dispatch(base), 1);
	assert_int_equal(seen.nwoken, 2);
	assert_ptr_equal(seen.fired[0], &shots[0]);
	assert_ptr_equal(seen.fired[1], &shots[2]);
}

/* Freeing the timers unlinks what is still armed: its owner's later
 * disarm is a no-op, not a write into a freed queue (ASan, valgrind). */
static void test_free_unlinks_armed(void **state)
{
	(void)state;
	struct shot shots[4] = { 0 };

	for (int i = 0; i < 3; i++)
		shot_arm(&shots[i], 60000000);
	timer_fire_now(&tw, &shots[3].link);
	timers_free(&tw);
	for (int i = 0; i < 4; i++) {
		assert_null(shots[i].link.next);
		timer_disarm(&shots[i].link);
	}
}

/* A deadline far away is not waited out on the CPU: the caller re-arms.
 * Returning before that deadline is the whole check; a minute away, no
 * pause of a loaded machine makes it pass by. */
static void test_wait_out_only_the_last_stretch(void **state)
{
	(void)state;
	uint64_t t0 = clock_mono_us();
	uint64_t now = timer_wait_out(t0 + 60000000);
	assert_true(now >= t0 && now < t0 + 60000000);
	now = timer_wait_out(t0 + 300);
	assert_true(now >= t0 + 300);   /* what it returns is the clock after the wait */
	assert_true(clock_mono_us() >= now);
}

/* The wall clock derived from the monotonic one agrees with a direct read,
 * and moves with the monotonic reading it is given. The offset is read
 * inside a bracket of two monotonic readings, so a direct read in the
 * same bracket is at most the bracket's length (and the microsecond
 * rounding of four reads) after the derived time, however the thread was
 * paused. A bracket longer than CLOCK_WALL_REFRESH_US could hold a second
 * offset reading: it is taken again. */
static void test_wall_clock_from_monotonic(void **state)
{
	(void)state;
	for (int tries = 0;; tries++) {
		uint64_t m0 = clock_mono_us();
		clock_wall_at(m0 + 2 * CLOCK_WALL_REFRESH_US);   /* a fresh offset, read after m0 */
		int64_t derived = clock_wall_at(m0);
		int64_t later = clock_wall_at(m0 + 1000);
		int64_t direct = clock_wall_us();
		uint64_t m1 = clock_mono_us();
		if (m1 - m0 >= CLOCK_WALL_REFRESH_US / 2) {
			assert_true(tries < 100);
			continue;
		}
		assert_true(direct >= derived);
		assert_true(direct - derived <= (int64_t)(m1 - m0) + 4);
		assert_int_equal(later - derived, 1000);
		assert_true(clock_wall_at(m0 + 2 * CLOCK_WALL_REFRESH_US) > derived);
		return;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_clock_from_monotonic),
		cmocka_unit_test_setup_teardown(test_fires_early_then_waits_out, timers_up, timers_down),
		cmocka_unit_test_setup_teardown(test_disarm_takes_back, timers_up, timers_down),
		cmocka_unit_test_setup_teardown(test_buckets_converge, timers_up, timers_down),
		cmocka_unit_test_setup_teardown(test_queues_are_few, timers_up, timers_down),
		cmocka_unit_test_setup_teardown(test_queue_yields_after_a_batch, timers_up, timers_down),
		cmocka_unit_test_setup_teardown(test_fire_now, timers_up, timers_down),
		cmocka_unit_test_setup_teardown(test_free_unlinks_armed, timers_up, timers_down),
		cmocka_unit_test(test_wait_out_only_the_last_stretch),
	};
	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
