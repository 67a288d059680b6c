#include "server/timer.h"

#include <stdlib.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "server/clock.h"

/* libevent's cached time may lag this much behind the clock before it is
 * refreshed for an add: a timer then fires at most this much earlier,
 * well inside TIMER_EARLY_US, and a burst of adds reads the clock once an
 * add instead of twice. */
#define TIMER_CACHE_SLACK_US 20

struct timer_queue {
	struct timers *tw;
	uint64_t duration_us;
	uint64_t last_now_us;       /* arms are counted from here at the earliest */
	struct timer_link head;     /* head.next the first to fire, head.prev the last */
	struct event ev;
	uint8_t scheduled;          /* ev is pending or active */
};

static void timer_queue_cb(evutil_socket_t fd, short what, void *arg);

static struct timer_queue *timer_queue_new(struct timers *tw, uint64_t duration_us)
{
	struct timer_queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->tw = tw;
	q->duration_us = duration_us;
	q->head.next = q->head.prev = &q->head;
	event_assign(&q->ev, tw->base, -1, 0, timer_queue_cb, q);
	event_priority_set(&q->ev, tw->priority);
	return q;
}

int timers_init(struct timers *tw, struct event_base *base, int prio, timer_due_fn due,
                timer_due_fn woken, void *ctx)
{
	*tw = (struct timers){ .base = base, .priority = prio, .due = due, .woken = woken,
	                       .ctx = ctx };
	tw->now = timer_queue_new(tw, 0);
	return tw->now ? 0 : -1;
}

static void timer_queue_free(struct timer_queue *q)
{
	/* Whatever is still linked is unlinked, so that its owner's later
	 * timer_disarm() finds it not armed instead of touching freed memory. */
	struct timer_link *t = q->head.next;
	while (t != &q->head) {
		struct timer_link *next = t->next;
		t->next = t->prev = NULL;
		t = next;
	}
	event_del(&q->ev);
	free(q);
}

void timers_free(struct timers *tw)
{
	for (unsigned i = 0; i < TIMER_QUEUE_SLOTS; i++) {
		if (tw->queues[i])
			timer_queue_free(tw->queues[i]);
		tw->queues[i] = NULL;
	}
	if (tw->now)
		timer_queue_free(tw->now);
	tw->now = NULL;
}

/* The queue for duration_us, made if need be (an exact one only while
 * fewer than TIMER_EXACT_MAX exist); NULL when there is none to be had. */
static struct timer_queue *timer_queue_for(struct timers *tw, uint64_t duration_us, int exact)
{
	unsigned i = (unsigned)((duration_us * 0x9E3779B97F4A7C15ull) >> 40) % TIMER_QUEUE_SLOTS;

	for (;;) {
		struct timer_queue *q = tw->queues[i];
		if (!q)
			break;
		if (q->duration_us == duration_us)
			return q;
		i = (i + 1) % TIMER_QUEUE_SLOTS;
	}
	if (exact && tw->nexact >= TIMER_EXACT_MAX)
		return NULL;
	/* Cannot happen (see TIMER_QUEUE_SLOTS); a full table would loop. */
	if (tw->nqueues >= TIMER_QUEUE_SLOTS / 2)
		return NULL;
	struct timer_queue *q = timer_queue_new(tw, duration_us);
	if (!q)
		return NULL;
	tw->queues[i] = q;
	tw->nqueues++;
	tw->nexact += exact ? 1u : 0u;
	return q;
}

/* wait rounded down to TIMER_BUCKET_BITS significant bits. */
static uint64_t timer_bucket(uint64_t wait)
{
	if (wait >> TIMER_BUCKET_BITS == 0)
		return wait;
	int shift = 64 - __builtin_clzll(wait) - TIMER_BUCKET_BITS;
	return wait >> shift << shift;
}

/* libevent measures an add from the time it cached at the start of this
 * loop iteration, which may be long past: refresh it, or the timer fires
 * early by as much. */
static void timer_fresh_cache(struct timers *tw, uint64_t now_us)
{
	if (now_us - tw->cache_us > TIMER_CACHE_SLACK_US) {
		event_base_update_cache_time(tw->base);
		/* Read before the refresh: the cache is no older than this. */
		tw->cache_us = now_us;
	}
}

/* us less TIMER_EARLY_US, not below 0. */
static uint64_t timer_early(uint64_t us)
{
	return us > TIMER_EARLY_US ? us - TIMER_EARLY_US : 0;
}

static int timer_add_event(struct timers *tw, struct event *ev, uint64_t now_us,
                           uint64_t fire_us)
{
	timer_fresh_cache(tw, now_us);
	uint64_t left = fire_us > now_us ? fire_us - now_us : 0;
	struct timeval tv = { .tv_sec = (time_t)(left / 1000000u),
	                      .tv_usec = (suseconds_t)(left % 1000000u) };
	return event_add(ev, &tv);
}

/* Makes q's event fire when its first timer is due, unless it already
 * will: a pending event is never later than the first timer, since
 * timers join a queue in the order they fire. */
static int timer_queue_schedule(struct timer_queue *q, uint64_t now_us)
{
	if (q->scheduled || q->head.next == &q->head)
		return 0;
	q->scheduled = 1;
	if (q == q->tw->now) {   /* hands out at once */
		event_active(&q->ev, EV_TIMEOUT, 0);
		return 0;
	}
	if (timer_add_event(q->tw, &q->ev, now_us, q->head.next->fire_us) == 0)
		return 0;
	q->scheduled = 0;
	return -1;
}

static void timer_queue_push(struct timer_queue *q, struct timer_link *t)
{
	t->prev = q->head.prev;
	t->next = &q->head;
	q->head.prev->next = t;
	q->head.prev = t;
}

static void timer_queue_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timer_queue *q = arg;
	struct timers *tw = q->tw;
	(void)fd;
	(void)what;
	q->scheduled = 0;
	uint64_t now = clock_mono_us();
	unsigned n = 0;
	for (; n < TIMER_BATCH; n++) {
		struct timer_link *t = q->head.next;
		if (t == &q->head)
			return;
		if (t->fire_us > now && (now = clock_mono_us()) < t->fire_us)
			break;
		timer_disarm(t);
		/* May arm t again, here or in any queue, or take others back. */
		(q == tw->now ? tw->woken : tw->due)(t, tw->ctx);
	}
	if (q->scheduled || q->head.next == &q->head)
		return;
	if (n == TIMER_BATCH) {
		/* More may be due: after what else is active, this queue again. */
		q->scheduled = 1;
		event_active(&q->ev, EV_TIMEOUT, 0);
		return;
	}
	/* An add fails only on a broken base; the queue would stall, which is
	 * no worse than the loop it belongs to. */
	(void)timer_queue_schedule(q, clock_mono_us());
}

int timer_arm(struct timers *tw, struct timer_link *t, uint64_t now, uint64_t deadline_us,
              uint64_t duration_us)
{
	uint64_t fire = timer_early(deadline_us);
	uint64_t left = fire > now ? fire - now : 0;
	uint64_t wait = timer_early(duration_us);
	struct timer_queue *q = NULL;

	/* Armed at the start of its meal: the exact queue ends at or after
	 * the deadline less TIMER_EARLY_US, at most a few microseconds late. */
	if (wait >= left && wait - left < 1000)
		q = timer_queue_for(tw, wait, 1);
	/* Otherwise a bucket, which ends at or a little before it. */
	if (!q)
		q = timer_queue_for(tw, timer_bucket(left), 0);
	if (!q)
		return -1;
	/* A queue counts from the latest arm it has seen, so that its timers
	 * stay in the order they fire even if a caller's reading is older. */
	if (now > q->last_now_us)
		q->last_now_us = now;
	t->fire_us = q->last_now_us + q->duration_us;
	timer_queue_push(q, t);
	if (timer_queue_schedule(q, now) == 0)
		return 0;
	timer_disarm(t);
	return -1;
}

void timer_disarm(struct timer_link *t)
{
	if (!t->next)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

void timer_fire_now(struct timers *tw, struct timer_link *t)
{
	t->fire_us = 0;
	timer_queue_push(tw->now, t);
	(void)timer_queue_schedule(tw->now, 0);
}

int timer_arm_event(struct timers *tw, struct event *ev, uint64_t now_us, uint64_t deadline_us)
{
	return timer_add_event(tw, ev, now_us, timer_early(deadline_us));
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
