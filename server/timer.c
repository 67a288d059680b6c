#include "server/timer.h"

#include <event2/event.h>

#include "server/clock.h"

/* libevent's cached time may lag this much behind the clock before
 * timer_arm() refreshes it: a timer then fires at most this much earlier,
 * well inside TIMER_EARLY_US, and a burst of arms (4096 orders started in
 * one callback) reads the clock once per arm instead of twice. */
#define TIMER_CACHE_SLACK_US 20

void timer_init(struct timers *tw, struct event_base *base)
{
	*tw = (struct timers){ .base = base };
}

/* The queue for exactly duration_us, made if fewer than limit exist;
 * NULL when there is none to be had. */
static const struct timeval *timer_common_for(struct timers *tw, uint64_t duration_us,
                                              unsigned limit)
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
	if (tw->ncommon >= limit)
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

/* wait rounded down to TIMER_BUCKET_BITS significant bits. */
static uint64_t timer_bucket(uint64_t wait)
{
	int shift = 64 - __builtin_clzll(wait) - TIMER_BUCKET_BITS;
	return shift > 0 ? wait >> shift << shift : wait;
}

/* A common queue ending at or a little before now + left, for a timer
 * armed at the start of its meal (wait: the meal less TIMER_EARLY_US). */
static const struct timeval *timer_queue(struct timers *tw, uint64_t wait, uint64_t left)
{
	/* The exact queue ends at or after the deadline (now is at or after
	 * the start of the meal), at most a few microseconds late. */
	if (wait >= left && wait - left < 1000) {
		const struct timeval *q = timer_common_for(tw, wait, TIMER_EXACT_MAX);
		if (q)
			return q;
	}
	/* A bucket ends before it: a common queue's timers all wait the same,
	 * so the queue stays in deadline order as libevent requires. */
	if (left >= TIMER_BUCKET_MIN_US && wait >= left && wait - left < 1000)
		return timer_common_for(tw, timer_bucket(left), TIMER_COMMON_MAX);
	return NULL;
}

int timer_arm(struct timers *tw, struct event *ev, uint64_t now, uint64_t deadline_us,
              uint64_t duration_us)
{
	/* libevent measures timeouts from the time it cached at the start of
	 * this loop iteration, which may be long past: refresh it, or the
	 * timer fires early by as much. */
	if (now - tw->cache_us > TIMER_CACHE_SLACK_US) {
		event_base_update_cache_time(tw->base);
		/* Read before the refresh: the cache is no older than this. */
		tw->cache_us = now;
	}
	uint64_t fire = deadline_us > TIMER_EARLY_US ? deadline_us - TIMER_EARLY_US : 0;
	uint64_t left = fire > now ? fire - now : 0;
	uint64_t wait = duration_us > TIMER_EARLY_US ? duration_us - TIMER_EARLY_US : 0;

	const struct timeval *common = timer_queue(tw, wait, left);
	if (common)
		return event_add(ev, common);
	struct timeval tv = { .tv_sec = (time_t)(left / 1000000u),
	                      .tv_usec = (suseconds_t)(left % 1000000u) };
	return event_add(ev, &tv);
}

uint64_t timer_wait_out(uint64_t deadline_us)
{
	uint64_t now = clock_mono_us();
	if (now >= deadline_us || deadline_us - now > 2 * TIMER_EARLY_US)
		return now;
	while ((now = clock_mono_us()) < deadline_us)
		;
	return now;
}
