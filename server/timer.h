/* Order timers: deadlines on CLOCK_MONOTONIC, kept in the server's own
 * first-in first-out queues, one a duration, each driven by one libevent
 * timer. An order carries a 24-byte link instead of a 128-byte libevent
 * event, and a queue's timers cost O(1) each to arm, fire and take back. */
#ifndef BAEDAL_TIMER_H
#define BAEDAL_TIMER_H

#include <stdint.h>

struct event;
struct event_base;
struct timer_queue;

/* Embedded in whatever waits (an order): linked into one queue while
 * armed, next == NULL while not. */
struct timer_link {
	struct timer_link *next, *prev;
	uint64_t fire_us;           /* when its queue hands it out */
};

/* Called from the loop for a link whose time came (due) or that was
 * handed over by timer_fire_now() (woken); it is no longer armed. */
typedef void (*timer_due_fn)(struct timer_link *t, void *ctx);

/* Every queue waits one duration: a timer armed at t fires at t plus it,
 * so a queue's timers fire in the order they were armed and only its
 * first is on libevent's heap. Exact meal durations take at most
 * TIMER_EXACT_MAX queues; any other wait goes to the queue of its
 * duration rounded down to TIMER_BUCKET_BITS significant bits (32 an
 * octave, so at most 64 * 32 of them), fires that much early, and is
 * armed again for the rest, which is at most 1/32 of what it was. */
#define TIMER_EXACT_MAX 64
#define TIMER_BUCKET_BITS 6
#define TIMER_QUEUE_SLOTS 4096      /* open addressing, more than twice the most queues */

/* How many timers one pass of a queue hands out before it lets other
 * queues run; the loop looks at its connections every few passes (see
 * server_new_base()). Larger passes mean fewer, larger writes to a
 * client that watches every event: the writes are most of its cost. */
#define TIMER_BATCH 512

struct timers {
	struct event_base *base;
	int priority;
	timer_due_fn due, woken;
	void *ctx;
	unsigned nexact;            /* queues made for an exact duration */
	unsigned nqueues;
	uint64_t cache_us;          /* when libevent's cached time was last refreshed */
	struct timer_queue *now;    /* timer_fire_now()'s */
	struct timer_queue *queues[TIMER_QUEUE_SLOTS];
};

/* due and woken are called with ctx, at libevent priority prio. 0 or -1. */
int timers_init(struct timers *tw, struct event_base *base, int prio, timer_due_fn due,
                timer_due_fn woken, void *ctx);
void timers_free(struct timers *tw);

/* Waking from idle takes this VM ~0.2 ms after a timer's expiry (measured
 * with a bare timerfd: 0.2 ms on average, up to 1.8 ms). So a timer is
 * armed this much before its deadline and timer_wait_out() spends the
 * rest on the CPU: meals end within microseconds of their time. */
#define TIMER_EARLY_US 250

/* Arms t (not armed) to fire before deadline_us: TIMER_EARLY_US before it
 * at most, or, from a bucket, up to the bucket's width before it (the due
 * callback arms again for the rest). duration_us, the meal, is what t
 * usually waits, used to pick an exact queue; now_us, a CLOCK_MONOTONIC
 * reading the caller has just taken. 0 or -1 (out of memory). */
int timer_arm(struct timers *tw, struct timer_link *t, uint64_t now_us, uint64_t deadline_us,
              uint64_t duration_us);

/* Takes t back if it is armed; nothing otherwise. */
void timer_disarm(struct timer_link *t);

/* Hands t (not armed) to the woken callback from the loop, soon. */
void timer_fire_now(struct timers *tw, struct timer_link *t);

/* A single libevent timer (ev assigned, not pending) to fire before
 * deadline_us as timer_arm() would, for the odd timer that needs no
 * queue (a run's deadline). 0 or -1. */
int timer_arm_event(struct timers *tw, struct event *ev, uint64_t now_us, uint64_t deadline_us);

/* Called when such a timer fires: if the deadline is at most a little
 * way off, waits for it on the CPU. Returns with the deadline passed, or
 * far enough off that the caller should arm the timer again; either way
 * with the clock as it read it last. */
uint64_t timer_wait_out(uint64_t deadline_us);

#endif
