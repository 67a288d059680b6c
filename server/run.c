#include "server/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct run *run_new_explicit(uint64_t id, enum proto_mode mode, const struct order_spec *specs,
                             uint32_t n, const struct run_hooks *hooks, void *owner)
{
	struct run *r = run_alloc(id, mode, n, hooks, owner);
	if (!r)
		return NULL;
	r->names = malloc(n * sizeof *r->names);
	if (!r->names) {
		run_free(r);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		memcpy(r->names[i], specs[i].name, sizeof r->names[i]);
		run_add_meal(r, i, specs[i].meal_us);
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
	for (uint32_t i = 0; i < n; i++)
		run_add_meal(r, i, proto_gen_meal(i + 1, n, lo_us, hi_us));
	return r;
}

const char *run_order_name(const struct run *r, uint32_t idx, char *buf, size_t cap)
{
	if (r->names)
		return r->names[idx - 1];
	if (proto_gen_name(buf, cap, r->gen_prefix, idx) < 0)
		return "?";
	return buf;
}

uint64_t run_ideal_us(const struct run *r)
{
	return r->mode == MODE_SYNC ? r->sum_us : r->max_us;
}

static uint64_t run_now(const struct run *r)
{
	return r->hooks->now_us(r->hooks->ctx);
}

/* Emits a step of order o at the present moment, as an offset from the
 * run's start. */
static uint64_t run_emit_now(struct run *r, const struct order *o, enum proto_step step)
{
	uint64_t now = run_now(r);
	r->hooks->emit(r->hooks->ctx, r, o->idx, step, now - r->start_us);
	return now;
}

static void run_step(struct run *r);

/* The order itself, written the way the lesson reads: delivered, then it
 * waits its meal without blocking anything, then eaten and collected. */
static void order_step(struct order *o)
{
	struct run *r = o->run;

	CO_BEGIN(&o->co);
	o->deadline_us = run_emit_now(r, o, STEP_DELIVERED) + o->meal_us;
	/* A timer may wake us early (a coarse or cached clock); sleep again
	 * for what is left, so no meal ever ends before its time. */
	do {
		r->hooks->arm(r->hooks->ctx, o, o->deadline_us);
		CO_YIELD(&o->co);
	} while (run_now(r) < o->deadline_us);
	r->elapsed_us = run_emit_now(r, o, STEP_EATEN) - r->start_us;
	r->elapsed_us = run_emit_now(r, o, STEP_COLLECTED) - r->start_us;
	CO_END(&o->co);

	r->finished++;
	if (r->waiting)
		run_step(r);
}

static void run_start_order(struct run *r)
{
	order_step(&r->orders[r->started++]);
}

static void run_end(struct run *r, enum run_status status)
{
	r->status = status;
	free(r->orders);
	r->orders = NULL;
	r->hooks->finish(r->hooks->ctx, r);
}

/* The run: sync awaits each order before the next; async starts them all
 * (in batches, yielding to the loop between them) and awaits them all. */
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
			for (uint32_t n = 0; n < RUN_START_BATCH && r->started < r->norders; n++)
				run_start_order(r);
			if (r->started < r->norders) {
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

void run_start(struct run *r)
{
	r->start_us = run_now(r);
	run_step(r);
}

void run_resume(struct run *r)
{
	if (r->status == RUN_RUNNING)
		run_step(r);
}

void run_order_wake(struct order *o)
{
	order_step(o);
}

void run_interrupt(struct run *r)
{
	if (r->status != RUN_RUNNING)
		return;
	for (uint32_t i = 0; i < r->started; i++) {
		if (!CO_ENDED(&r->orders[i].co))
			r->hooks->disarm(r->hooks->ctx, &r->orders[i]);
	}
	r->co.line = -1;
	run_end(r, RUN_INTERRUPTED);
}

void run_free(struct run *r)
{
	if (!r)
		return;
	free(r->orders);
	free(r->names);
	free(r);
}
