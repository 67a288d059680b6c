#include "server/run.h"

#include "server/cook.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RUN_HUGE_PAGE (2u << 20)

/* A million orders are ~170 MB, every byte of it touched before the run
 * starts: in 4 KiB pages that is 40,000 page faults, on a VM each a trip
 * through the hypervisor. Asks for 2 MiB pages where the kernel gives
 * them on request (transparent huge pages set to madvise); a hint only. */
static void run_advise_huge(void *p, size_t len)
{
	uintptr_t lo = ((uintptr_t)p + RUN_HUGE_PAGE - 1) & ~(uintptr_t)(RUN_HUGE_PAGE - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(RUN_HUGE_PAGE - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

static struct run *run_alloc(uint64_t id, enum proto_mode mode, uint32_t n,
                             const struct run_hooks *hooks, void *owner)
{
	struct run *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	/* calloc, not malloc: a fresh order's coroutine must start at line 0. */
	r->orders = calloc(n, sizeof *r->orders);
	if (!r->orders) {
		free(r);
		return NULL;
	}
	if ((size_t)n * sizeof *r->orders >= 2 * RUN_HUGE_PAGE)
		run_advise_huge(r->orders, (size_t)n * sizeof *r->orders);
	r->id = id;
	r->mode = mode;
	r->status = RUN_RUNNING;
	r->norders = n;
	r->hooks = hooks;
	r->owner = owner;
	for (uint32_t i = 0; i < n; i++) {
		r->orders[i].idx = i + 1;
		r->orders[i].run = r;
	}
	return r;
}

static void run_add_meal(struct run *r, uint32_t i, uint64_t meal_us)
{
	r->orders[i].meal_us = meal_us;
	r->sum_us += meal_us;
	if (meal_us > r->max_us)
		r->max_us = meal_us;
}

/* When each order is ready for its meal: async cooks one after another
 * on the loop; offload gives each cook, in order, to the worker free
 * first. Without cooks, all at 0. */
static void run_ready_times(const struct run *r, uint64_t *ready)
{
	enum { MAX_WORKERS = 256 };
	uint64_t free_at[MAX_WORKERS] = { 0 }, t = 0;
	unsigned w = r->hooks->workers;
	if (w == 0)
		w = 1;
	if (w > MAX_WORKERS)
		w = MAX_WORKERS;
	for (uint32_t i = 0; i < r->norders; i++) {
		uint64_t cook = r->cooks ? r->cooks[i].cook_us : 0;
		ready[i] = 0;
		if (r->mode == MODE_ASYNC) {
			t += cook;
			ready[i] = t;
		} else if (cook) {
			unsigned first = 0;
			for (unsigned k = 1; k < w; k++)
				if (free_at[k] < free_at[first])
					first = k;
			free_at[first] += cook;
			ready[i] = free_at[first];
		}
	}
}

/* A min-heap of the riders' free times: the root is the rider free first. */
static void heap_sift_down(uint64_t *h, uint32_t n)
{
	uint32_t i = 0;
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		if (l < n && h[l] < h[m])
			m = l;
		if (l + 1 < n && h[l + 1] < h[m])
			m = l + 1;
		if (m == i)
			return;
		uint64_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static const uint64_t *sort_ready;

static int ready_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (sort_ready[x] != sort_ready[y])
		return sort_ready[x] < sort_ready[y] ? -1 : 1;
	return x < y ? -1 : 1;
}

/* List scheduling: each order, in the order it is ready (then in its
 * own order), to the rider free first; its meal starts when both are. */
static int run_ideal_riders(const struct run *r, const uint64_t *ready, uint64_t *ideal)
{
	uint32_t k = r->riders < r->norders ? r->riders : r->norders;
	uint64_t *heap = calloc(k, sizeof *heap);
	uint32_t *by_ready = ready ? malloc(r->norders * sizeof *by_ready) : NULL;
	if (!heap || (ready && !by_ready)) {
		free(heap);
		free(by_ready);
		return -1;
	}
	if (by_ready) {
		for (uint32_t i = 0; i < r->norders; i++)
			by_ready[i] = i;
		sort_ready = ready;
		qsort(by_ready, r->norders, sizeof *by_ready, ready_cmp);
	}
	*ideal = 0;
	for (uint32_t j = 0; j < r->norders; j++) {
		uint32_t i = by_ready ? by_ready[j] : j;
		uint64_t start = ready && ready[i] > heap[0] ? ready[i] : heap[0];
		heap[0] = start + r->orders[i].meal_us;
		if (heap[0] > *ideal)
			*ideal = heap[0];
		heap_sift_down(heap, k);
	}
	free(heap);
	free(by_ready);
	return 0;
}

static int run_compute_ideal(struct run *r)
{
	if (r->mode == MODE_SYNC) {
		r->ideal_us = r->sum_us + r->cook_us;
		return 0;
	}
	/* As many riders as orders never make one wait: no limit at all. A
	 * list schedule of a million orders would sift a million-rider heap
	 * for each, on the loop, while the run waits for its OK. */
	int limited = r->riders && r->riders < r->norders;
	if (!r->cooks && !limited) {
		r->ideal_us = r->max_us;
		return 0;
	}
	uint64_t *ready = NULL;
	if (r->cooks) {
		if (!(ready = malloc(r->norders * sizeof *ready)))
			return -1;
		run_ready_times(r, ready);
	}
	int rc = 0;
	if (limited) {
		rc = run_ideal_riders(r, ready, &r->ideal_us);
	} else {
		r->ideal_us = 0;
		for (uint32_t i = 0; i < r->norders; i++)
			if (ready[i] + r->orders[i].meal_us > r->ideal_us)
				r->ideal_us = ready[i] + r->orders[i].meal_us;
	}
	free(ready);
	return rc;
}

/* The cooks of a run that has any; none, no array. */
uint32_t run_pool_cooks(enum proto_mode mode, const struct order_spec *specs, uint32_t n)
{
	uint32_t cooked = 0;
	if (mode == MODE_ASYNC)     /* it cooks on the loop */
		return 0;
	for (uint32_t i = 0; i < n; i++)
		cooked += specs[i].cook_us > 0;
	return cooked;
}

static int run_add_cooks(struct run *r, const struct order_spec *specs)
{
	uint32_t n = r->norders;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += specs[i].cook_us;
	if (total == 0)
		return 0;
	r->cooks = calloc(n, sizeof *r->cooks);
	if (!r->cooks)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		r->cooks[i].cook_us = specs[i].cook_us;
	r->cook_us = total;
	r->pool_cooks = run_pool_cooks(r->mode, specs, n);
	return 0;
}

struct run *run_new_explicit(uint64_t id, enum proto_mode mode, const struct order_spec *specs,
                             uint32_t n, const struct run_hooks *hooks, void *owner)
{
	struct run *r = run_alloc(id, mode, n, hooks, owner);
	if (!r)
		return NULL;
	r->names = malloc(n * sizeof *r->names);
	r->specs = malloc(n * sizeof *r->specs);
	if (!r->names || !r->specs || run_add_cooks(r, specs) < 0) {
		run_free(r);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		memcpy(r->names[i], specs[i].name, sizeof r->names[i]);
		r->specs[i].meal_us = specs[i].meal_us;
		r->specs[i].cook_us = specs[i].cook_us;
		run_add_meal(r, i, specs[i].meal_us);
	}
	if (run_compute_ideal(r) < 0) {
		run_free(r);
		return NULL;
	}
	return r;
}

struct run *run_new_generated(uint64_t id, enum proto_mode mode, uint32_t n, uint64_t lo_us,
                              uint64_t hi_us, const char *prefix, const struct run_hooks *hooks,
                              void *owner)
{
	struct run *r = run_alloc(id, mode, n, hooks, owner);
	if (!r)
		return NULL;
	snprintf(r->gen_prefix, sizeof r->gen_prefix, "%s", prefix);
	r->gen_lo_us = lo_us;
	r->gen_hi_us = hi_us;
	for (uint32_t i = 0; i < n; i++)
		run_add_meal(r, i, proto_gen_meal(i + 1, n, lo_us, hi_us));
	run_compute_ideal(r);   /* without riders or cooks: no allocation */
	return r;
}

int run_set_limits(struct run *r, uint32_t riders, uint64_t deadline_us)
{
	r->deadline_us = deadline_us;
	r->riders = r->mode == MODE_SYNC ? 0 : riders;   /* sync has one order out anyway */
	return run_compute_ideal(r);
}

uint64_t run_ideal_us(const struct run *r)
{
	return r->ideal_us;
}

static uint64_t run_now(const struct run *r)
{
	return r->hooks->now_us(r->hooks->ctx);
}

/* Emits a step of order o that happened at now, a CLOCK_MONOTONIC reading,
 * as an offset from the run's start. */
static void run_emit(struct run *r, const struct order *o, enum proto_step step, uint64_t now)
{
	r->hooks->emit(r->hooks->ctx, r, o->idx, step, now - r->start_us);
}

static void run_step(struct run *r);

/* Cooking, the CPU-bound half of the lesson: async does it on the loop,
 * which blocks every session's timers and connections while it lasts;
 * sync and offload hand it to the pool and wait for it like for a meal. */
static int order_cook_inline(struct run *r, struct order *o, const struct order_cook *ck)
{
	if (r->mode != MODE_ASYNC)
		return 0;
	uint64_t t0 = run_now(r);
	r->hooks->cook_inline(r->hooks->ctx, o, ck->cook_us);
	r->blocked_us += run_now(r) - t0;
	r->cooked_inline = 1;
	return 1;
}

/* A free rider for o, or o joins the end of the queue: 1 if it has one. */
static int run_take_rider(struct run *r, struct order *o)
{
	if (r->riders_out < r->riders && !r->wait_head) {
		r->riders_out++;
		return 1;
	}
	o->wait_next = 0;
	o->queued = 1;
	if (r->wait_tail)
		r->orders[r->wait_tail - 1].wait_next = o->idx;
	else
		r->wait_head = o->idx;
	r->wait_tail = o->idx;
	return 0;
}

static void order_step(struct order *o, uint64_t now);

/* A collected order's rider goes straight to the order first in the
 * queue, which resumes now: O(1) a hand-over, nothing polls. */
static void run_release_rider(struct run *r, uint64_t now)
{
	if (!r->riders)
		return;
	if (!r->wait_head) {
		r->riders_out--;
		return;
	}
	struct order *next = &r->orders[r->wait_head - 1];
	r->wait_head = next->wait_next;
	if (!r->wait_head)
		r->wait_tail = 0;
	next->queued = 0;
	order_step(next, now);
}

/* The order itself, written the way the lesson reads: cooked, a rider
 * (a wait that yields, like the meal), delivered, then it waits its meal
 * without blocking anything, then eaten and collected, and its rider
 * free for the next. now is the clock at each entry (start, timer,
 * cook's end, a rider handed over): a parameter, so it is fresh after
 * every yield. */
static void order_step(struct order *o, uint64_t now)
{
	struct run *r = o->run;
	struct order_cook *ck = r->cooks ? &r->cooks[o->idx - 1] : NULL;

	CO_BEGIN(&o->co);
	if (ck && ck->cook_us) {
		if (!order_cook_inline(r, o, ck)) {
			ck->job.work = cook_job;
			ck->job.in_us = ck->cook_us;
			ck->job.arg = o;
			r->hooks->cook_submit(r->hooks->ctx, o, &ck->job);
			CO_YIELD(&o->co);
		} else {
			now = run_now(r);   /* the cook took the loop's time */
		}
		/* A cook its run gave up on (a deadline) is not told as done. */
		r->cooked_us += ck->cook_us;
		run_emit(r, o, STEP_COOKED, now);
	}
	if (r->riders && !run_take_rider(r, o))
		CO_YIELD(&o->co);       /* until a collected order hands its rider over */
	run_emit(r, o, STEP_DELIVERED, now);
	o->deadline_us = now + o->meal_us;
	/* A timer may wake us early (a coarse or cached clock); sleep again
	 * for what is left, so no meal ever ends before its time. */
	do {
		if (r->hooks->arm(r->hooks->ctx, o, now, o->deadline_us) < 0)
			r->arm_failed = 1;
		CO_YIELD(&o->co);
	} while (now < o->deadline_us);
	/* Nothing happens between eaten and collected but bookkeeping, well
	 * under the microsecond the wire counts in: one clock reading for both
	 * (a read costs 25-75 ns here: a million of them are 25-75 ms). */
	run_emit(r, o, STEP_EATEN, now);
	run_emit(r, o, STEP_COLLECTED, now);
	r->elapsed_us = now - r->start_us;
	CO_END(&o->co);

	r->finished++;
	run_release_rider(r, now);
	if (r->waiting)
		run_step(r);
}

static void run_start_order(struct run *r)
{
	order_step(&r->orders[r->started++], run_now(r));
}

static void run_end(struct run *r, enum run_status status)
{
	r->status = status;
	if (r->deadline_us)
		r->hooks->disarm_run(r->hooks->ctx, r);
	free(r->orders);
	r->orders = NULL;
	free(r->cooks);
	r->cooks = NULL;
	r->hooks->finish(r->hooks->ctx, r);
}

/* The run: sync awaits each order before the next; async and offload
 * start them all (in batches, yielding to the loop between them, and
 * after each cook async did on the loop) and await them all. */
static void run_step(struct run *r)
{
	CO_BEGIN(&r->co);
	if (r->mode == MODE_SYNC) {
		while (r->started < r->norders) {
			run_start_order(r);
			r->waiting = 1;
			CO_WAIT_UNTIL(&r->co, r->finished == r->started);
			r->waiting = 0;
		}
	} else {
		while (r->started < r->norders) {
			for (uint32_t n = 0; n < RUN_START_BATCH && r->started < r->norders; n++) {
				run_start_order(r);
				if (r->cooked_inline)
					break;
			}
			if (r->started < r->norders && r->cooked_inline) {
				/* What came due while the cook ran goes first. */
				r->cooked_inline = 0;
				r->hooks->pause(r->hooks->ctx, r);
				CO_YIELD(&r->co);
			} else if (r->started < r->norders) {
				r->hooks->yield(r->hooks->ctx, r);
				CO_YIELD(&r->co);
			}
		}
		r->waiting = 1;
		CO_WAIT_UNTIL(&r->co, r->finished == r->norders);
		r->waiting = 0;
	}
	CO_END(&r->co);
	run_end(r, RUN_DONE);
}

/* An order whose timer could not be set would never wake, and its run
 * would wait forever: the run ends interrupted instead, once the call
 * that armed it has returned (nothing of the run is on the stack then). */
static void run_check_armed(struct run *r)
{
	if (r->arm_failed && r->status == RUN_RUNNING)
		run_interrupt(r);
}

void run_start(struct run *r)
{
	r->start_us = run_now(r);
	if (r->deadline_us &&
	    r->hooks->arm_run(r->hooks->ctx, r, r->start_us, r->start_us + r->deadline_us) < 0)
		r->arm_failed = 1;
	run_step(r);
	run_check_armed(r);
}

void run_resume(struct run *r)
{
	if (r->status == RUN_RUNNING)
		run_step(r);
	run_check_armed(r);
}

void run_order_wake(struct order *o)
{
	run_order_wake_at(o, run_now(o->run));
}

void run_order_wake_at(struct order *o, uint64_t now_us)
{
	struct run *r = o->run;
	order_step(o, now_us);
	run_check_armed(r);
}

/* Takes back every order not collected yet: its timer or its cook, none
 * for one still waiting for a rider or not started; with cancel_at, each
 * gets a cancelled step then. Its coroutine ends: it never resumes. */
static void run_stop_orders(struct run *r, const uint64_t *cancel_at)
{
	for (uint32_t i = 0; i < r->norders; i++) {
		struct order *o = &r->orders[i];
		if (CO_ENDED(&o->co))
			continue;
		if (i < r->started && !o->queued) {
			r->hooks->disarm(r->hooks->ctx, o);
			if (r->cooks && r->cooks[i].cook_us)
				r->hooks->cook_cancel(r->hooks->ctx, &r->cooks[i].job);
		}
		if (cancel_at)
			run_emit(r, o, STEP_CANCELLED, *cancel_at);
		o->co.line = -1;
	}
	r->wait_head = r->wait_tail = 0;
	r->co.line = -1;
}

void run_interrupt(struct run *r)
{
	if (r->status != RUN_RUNNING)
		return;
	run_stop_orders(r, NULL);
	run_end(r, RUN_INTERRUPTED);
}

void run_cancel(struct run *r, enum run_status status)
{
	if (r->status != RUN_RUNNING)
		return;
	uint64_t now = run_now(r);
	if (!r->start_us)
		r->start_us = now;      /* cancelled before its start: its t = 0 is now */
	run_stop_orders(r, &now);
	r->elapsed_us = now - r->start_us;
	run_end(r, status);
}

void run_deadline(struct run *r)
{
	if (r->status != RUN_RUNNING)
		return;
	uint64_t now = run_now(r);
	/* Early (a coarse clock): wait again for the rest. */
	if (now < r->start_us + r->deadline_us) {
		if (r->hooks->arm_run(r->hooks->ctx, r, now, r->start_us + r->deadline_us) == 0)
			return;
	}
	run_cancel(r, RUN_TIMED_OUT);
}

uint32_t run_collected(const struct run *r)
{
	return r->finished;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	free(r->orders);
	free(r->cooks);
	free(r->names);
	free(r->specs);
	free(r);
}
