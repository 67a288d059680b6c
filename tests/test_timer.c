/* Order timers on a real libevent base with a precise clock: they fire
 * shortly before the deadline, timer_wait_out() reaches it, and repeated
 * durations share common-timeout queues. Lower bounds only: never early. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "server/clock.h"
#include "server/timer.h"

struct shot {
	uint64_t deadline_us, fired_us, after_wait_us;
};

static void shot_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shot *s = arg;
	(void)fd;
	(void)what;
	s->fired_us = clock_mono_us();
	timer_wait_out(s->deadline_us);
	s->after_wait_us = clock_mono_us();
}

static struct event_base *precise_base(void)
{
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	struct event_base *base = event_base_new_with_config(ec);
	event_config_free(ec);
	assert_non_null(base);
	return base;
}

static void test_fires_early_then_waits_out(void **state)
{
	(void)state;
	struct event_base *base = precise_base();
	struct timers tw;
	struct event ev[8];
	struct shot shots[8];

	timer_init(&tw, base);
	for (int i = 0; i < 8; i++) {
		/* As the server does: the meal starts now, on a fresh clock. */
		uint64_t meal = 20000 + (uint64_t)(i % 2) * 5000;   /* two durations */
		uint64_t now = clock_mono_us();
		shots[i] = (struct shot){ .deadline_us = now + meal };
		event_assign(&ev[i], base, -1, 0, shot_cb, &shots[i]);
		assert_int_equal(timer_arm(&tw, &ev[i], now, shots[i].deadline_us, meal), 0);
	}
	assert_int_equal(tw.ncommon, 2);   /* one queue per repeated duration */
	assert_int_equal(event_base_dispatch(base), 1);   /* no events left */
	for (int i = 0; i < 8; i++) {
		assert_true(shots[i].fired_us + TIMER_EARLY_US + 100 >= shots[i].deadline_us);
		assert_true(shots[i].after_wait_us >= shots[i].deadline_us);
	}
	event_base_free(base);
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
		cmocka_unit_test(test_fires_early_then_waits_out),
		cmocka_unit_test(test_wait_out_only_the_last_stretch),
	};
	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
