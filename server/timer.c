#include "server/timer.h"

#include <event2/event.h>

#include "server/clock.h"

void timer_init(struct timers *tw, struct event_base *base)
{
	*tw = (struct timers){ .base = base };
}

static const struct timeval *timer_common_for(struct timers *tw, uint64_t duration_us)
{
	const unsigned nslots = TIMER_COMMON_MAX * 2;
	unsigned i = (unsigned)((duration_us * 0x9E3779B97F4A7C15ull) >> 40) % nslots;

	for (;;) {
		struct timer_common *slot = &tw->common[i];
		if (slot->duration_us == duration_us)
			return slot->tv;
		if (slot->duration_us == 0)
			break;
		i = (i + 1) % nslots;
	}
	if (tw->ncommon == TIMER_COMMON_MAX)
		return NULL;
	struct timeval tv = { .tv_sec = (time_t)(duration_us / 1000000u),
	                      .tv_usec = (suseconds_t)(duration_us % 1000000u) };
	const struct timeval *common = event_base_init_common_timeout(tw->base, &tv);
	if (!common)
		return NULL;
	tw->common[i] = (struct timer_common){ .duration_us = duration_us, .tv = common };
	tw->ncommon++;
	return common;
}

int timer_arm(struct timers *tw, struct event *ev, uint64_t deadline_us,
              uint64_t duration_us)
{
	/* libevent measures timeouts from the time it cached at the start of
	 * this loop iteration, which may be long past: refresh it, or the
	 * timer fires early by as much. */
	event_base_update_cache_time(tw->base);
	uint64_t now = clock_mono_us();
	uint64_t fire = deadline_us > TIMER_EARLY_US ? deadline_us - TIMER_EARLY_US : 0;
	uint64_t left = fire > now ? fire - now : 0;
	uint64_t wait = duration_us > TIMER_EARLY_US ? duration_us - TIMER_EARLY_US : 0;

	/* The common queue for the full meal ends at or after the deadline
	 * (now is at or after the start of the meal), at most a few
	 * microseconds late, and costs O(1) instead of a heap insertion. */
	if (wait >= left && wait - left < 1000) {
		const struct timeval *common = timer_common_for(tw, wait);
		if (common)
			return event_add(ev, common);
	}
	struct timeval tv = { .tv_sec = (time_t)(left / 1000000u),
	                      .tv_usec = (suseconds_t)(left % 1000000u) };
	return event_add(ev, &tv);
}

void timer_wait_out(uint64_t deadline_us)
{
	uint64_t now = clock_mono_us();
	if (now >= deadline_us || deadline_us - now > 2 * TIMER_EARLY_US)
		return;
	while (clock_mono_us() < deadline_us)
		;
}
