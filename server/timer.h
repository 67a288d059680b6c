/* Order timers on libevent: deadlines from a fresh CLOCK_MONOTONIC, and
 * repeated meal durations on libevent's O(1) common-timeout queues. */
#ifndef BAEDAL_TIMER_H
#define BAEDAL_TIMER_H

#include <stdint.h>

struct event;
struct event_base;
struct timeval;

/* Distinct durations given a common-timeout queue; libevent allows 256 a
 * base and the rest go to its min-heap. Exact meal durations take at most
 * TIMER_EXACT_MAX of them, so that a run of a million different meals
 * still leaves room for the buckets below. */
#define TIMER_COMMON_MAX 192
#define TIMER_EXACT_MAX 64

/* A meal whose exact duration has no queue waits first on the queue of
 * its duration rounded down to TIMER_BUCKET_BITS significant bits (32
 * buckets an octave: 0.5 s to 1.5 s is 47 queues, each up to 32 ms wide),
 * then the rest of the way on the heap. A million meals spread over a
 * second all on the heap fired only ~0.3 M timers/s (a 1M-entry heap); in
 * buckets each costs O(1), and the heap holds only the last few ms worth.
 * Below TIMER_BUCKET_MIN_US the heap is small enough as it is. */
#define TIMER_BUCKET_BITS 6
#define TIMER_BUCKET_MIN_US 16384

struct timer_common {
	uint64_t duration_us;       /* 0: free slot */
	const struct timeval *tv;   /* libevent's magic timeval for it */
};

struct timers {
	struct event_base *base;
	unsigned ncommon;
	uint64_t cache_us;          /* when libevent's cached time was last refreshed */
	struct timer_common common[TIMER_COMMON_MAX * 2];   /* open addressing */
};

void timer_init(struct timers *tw, struct event_base *base);

/* Waking from idle takes this VM ~0.2 ms after a timer's expiry (measured
 * with a bare timerfd: 0.2 ms on average, up to 1.8 ms). So a timer is
 * armed this much before its deadline and timer_wait_out() spends the
 * rest on the CPU: meals end within microseconds of their time. */
#define TIMER_EARLY_US 250

/* Adds ev (already assigned) to fire before deadline_us, a point on
 * CLOCK_MONOTONIC: TIMER_EARLY_US before it at most, or, from a bucket,
 * up to the bucket's width before it (the caller arms again for the
 * rest). duration_us, the meal, is what ev usually waits, used to pick a
 * common-timeout queue; now_us, a CLOCK_MONOTONIC reading the caller has
 * just taken. 0 or -1. */
int timer_arm(struct timers *tw, struct event *ev, uint64_t now_us, uint64_t deadline_us,
              uint64_t duration_us);

/* Called when such a timer fires: if the deadline is at most a little
 * way off, waits for it on the CPU. Returns with the deadline passed, or
 * far enough off that the caller should arm the timer again; either way
 * with the clock as it read it last. */
uint64_t timer_wait_out(uint64_t deadline_us);

#endif
