#include "server/run_hooks.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "server/clock.h"
#include "server/cook.h"
#include "server/health.h"
#include "server/log.h"
#include "server/run_life.h"
#include "server/server.h"
#include "server/session.h"
#include "server/store.h"

/* ---- orders on the server's timers ------------------------------------- */

static uint64_t hook_now(void *ctx)
{
	(void)ctx;
	return clock_mono_us();
}

/* A timer that came due while a cook held the loop is late because of
 * it: the worst such lateness is the cost the cooking run reports. Every
 * timer counts: an order's meal and a run's deadline. */
static void note_lateness(struct server *srv, uint64_t due_us, uint64_t now)
{
	if (!srv->cooker || due_us >= srv->cook_end_us)
		return;
	if (now > due_us && now - due_us > srv->cooker->caused_us)
		srv->cooker->caused_us = now - due_us;
}

static struct order *order_of(struct timer_link *t)
{
	return (struct order *)((char *)t - offsetof(struct order, timer));
}

static void order_due(struct timer_link *t, void *ctx)
{
	struct server *srv = ctx;
	struct order *o = order_of(t);
	uint64_t now = timer_wait_out(o->deadline_us);
	if (now >= o->deadline_us)
		health_note_timer(srv->health, o->run->owner, o->deadline_us, now);
	note_lateness(srv, o->deadline_us, now);
	run_order_wake_at(o, now);
}

/* An order handed back to the loop by timer_fire_now(). */
static void order_woken(struct timer_link *t, void *ctx)
{
	(void)ctx;
	run_order_wake(order_of(t));
}

static int hook_arm(void *ctx, struct order *o, uint64_t now_us, uint64_t deadline_us)
{
	struct server *srv = ctx;
	if (timer_arm(&srv->timers, &o->timer, now_us, deadline_us, o->meal_us) == 0)
		return 0;
	log_error("run %llu: could not set the timer of order %u: the run is interrupted",
	          (unsigned long long)o->run->id, o->idx);
	return -1;
}

static void hook_disarm(void *ctx, struct order *o)
{
	(void)ctx;
	timer_disarm(&o->timer);
}

static void run_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_resume(arg);
}

static void run_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct server *srv = r->hooks->ctx;
	(void)fd;
	(void)what;
	uint64_t began = clock_mono_us();
	/* The run may end in its start: read what the stall names first. */
	struct session *owner = r->owner;
	uint64_t id = r->id;
	r->start_wall_us = clock_wall_us();
	store_start_run(srv->store, id, r->start_wall_us);
	run_start(r);
	health_note_hold(srv->health, began, clock_mono_us(), CAUSE_START, owner, id, 0);
}

/* Calls cb(r) from the loop at priority prio, on the run's resume event:
 * free until the run starts, used by one yield or pause at a time after,
 * deleted by the run's end. */
static void run_call_later(struct server *srv, struct run *r, event_callback_fn cb, int prio)
{
	event_assign(&r->resume, srv->base, -1, 0, cb, r);
	event_priority_set(&r->resume, prio);
	event_active(&r->resume, EV_TIMEOUT, 0);
}

static void hook_yield(void *ctx, struct run *r)
{
	run_call_later(ctx, r, run_resume_cb, PRIO_TIMER);
}

void run_hooks_start_soon(struct server *srv, struct run *r)
{
	/* The idle priority runs only when no timer and no connection is
	 * active; libevent takes at most its dispatch limit of these in one
	 * pass, then serves I/O and the timers that came due meanwhile. */
	run_call_later(srv, r, run_start_cb, PRIO_IDLE);
	health_wake(srv->health);
}

static void hook_pause(void *ctx, struct run *r)
{
	/* Below timers and I/O: libevent serves a lower priority only when
	 * nothing above it is active, so whatever came due during the cook
	 * (this run's timers and everyone else's) goes first. */
	run_call_later(ctx, r, run_resume_cb, PRIO_IDLE);
}

/* ---- a run's deadline --------------------------------------------------- */

static void run_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)fd;
	(void)what;
	uint64_t due = r->start_us + r->deadline_us;
	note_lateness(r->hooks->ctx, due, timer_wait_out(due));
	run_deadline(r);
}

/* One timer a run, not one an order: when it fires, the run cancels
 * whatever is not collected. */
static int hook_arm_run(void *ctx, struct run *r, uint64_t now_us, uint64_t deadline_us)
{
	struct server *srv = ctx;
	event_assign(&r->deadline_timer, srv->base, -1, 0, run_deadline_cb, r);
	event_priority_set(&r->deadline_timer, PRIO_TIMER);
	return timer_arm_event(&srv->timers, &r->deadline_timer, now_us, deadline_us);
}

static void hook_disarm_run(void *ctx, struct run *r)
{
	(void)ctx;
	if (event_initialized(&r->deadline_timer))
		event_del(&r->deadline_timer);
}

/* ---- cooking ------------------------------------------------------------ */

static void hook_cook_inline(void *ctx, struct order *o, uint64_t cook_us)
{
	struct server *srv = ctx;
	uint64_t began = clock_mono_us();
	cook(cook_us, NULL);
	srv->cooker = o->run;
	srv->cook_end_us = clock_mono_us();
	health_note_hold(srv->health, began, srv->cook_end_us, CAUSE_COOK, o->run->owner,
	                 o->run->id, o->idx);
}

static void hook_cook_submit(void *ctx, struct order *o, struct pool_job *job)
{
	struct server *srv = ctx;
	if (pool_submit(srv->pool, job) == 0)
		return;
	/* Admission keeps the queue from filling (command.c); should it fill
	 * anyway, the order is cooked here rather than lost. */
	log_warn("the worker pool is full: order %u of run %llu is cooked on the loop", o->idx,
	         (unsigned long long)o->run->id);
	uint64_t began = clock_mono_us();
	cook(job->in_us, NULL);
	health_note_hold(srv->health, began, clock_mono_us(), CAUSE_COOK, o->run->owner,
	                 o->run->id, o->idx);
	timer_fire_now(&srv->timers, &o->timer);
}

static void cook_done_cb(struct pool_job *job, void *ctx)
{
	(void)ctx;
	run_order_wake(job->arg);
}

static void hook_cook_cancel(void *ctx, struct pool_job *job)
{
	struct server *srv = ctx;
	pool_cancel(srv->pool, job);
}

/* ---- events and the run's end ------------------------------------------- */

static void hook_emit(void *ctx, struct run *r, uint32_t idx, enum proto_step step, uint64_t t_us)
{
	struct server *srv = ctx;
	struct session *s = r->owner;

	store_add_event(srv->store, r->id, idx, step, t_us, clock_wall_at(r->start_us + t_us));
	struct proto_event ev = { .seq = session_next_seq(s), .run = r->id, .order = idx,
	                          .step = step, .t_us = t_us };
	if (r->first_seq == 0)
		r->first_seq = ev.seq;
	/* A RUN's names are kept NUL-padded; a GEN's is its prefix and index,
	 * made by the session only if the line is ever formatted. */
	memcpy(ev.name, r->names ? r->names[idx - 1] : r->gen_prefix, sizeof ev.name);
	session_publish_event(s, &ev, r->names == NULL);
}

static void hook_finish(void *ctx, struct run *r)
{
	struct server *srv = ctx;

	if (event_initialized(&r->resume))
		event_del(&r->resume);
	if (srv->cooker == r)
		srv->cooker = NULL;
	health_note_run_end(srv->health, r);
	run_life_ended(srv, r);
}

/* Queued or running cooks at once, all runs; command.c keeps the runs it
 * accepts within it. */
#define POOL_CAPACITY 65536

int run_hooks_start(struct server *srv)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = srv->cfg->workers ? srv->cfg->workers : (cpus > 0 ? (unsigned)cpus : 1);

	srv->hooks = (struct run_hooks){
		.now_us = hook_now, .arm = hook_arm, .disarm = hook_disarm, .yield = hook_yield,
		.pause = hook_pause, .cook_inline = hook_cook_inline, .cook_submit = hook_cook_submit,
		.cook_cancel = hook_cook_cancel, .arm_run = hook_arm_run, .disarm_run = hook_disarm_run,
		.emit = hook_emit, .finish = hook_finish,
		.workers = workers, .ctx = srv,
	};
	if (timers_init(&srv->timers, srv->base, PRIO_TIMER, order_due, order_woken, srv) < 0)
		return -1;
	srv->pool_capacity = POOL_CAPACITY;
	srv->pool = pool_new(srv->base, workers, POOL_CAPACITY, cook_done_cb, srv);
	if (!srv->pool)
		return -1;
	log_debug("cooking on %u worker threads", workers);
	return 0;
}

void run_hooks_hold(struct server *srv)
{
	pool_hold(srv->pool);
}

void run_hooks_stop(struct server *srv)
{
	pool_free(srv->pool);
	srv->pool = NULL;
	/* Orders still armed are unlinked: their runs are freed after this. */
	timers_free(&srv->timers);
}
