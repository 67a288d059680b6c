#include "server/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/run.h"
#include "server/server.h"
#include "server/session.h"
#include "server/store.h"

static const char *const cause_names[CAUSE_COUNT] = {
	[CAUSE_COOK] = "cook", [CAUSE_LINE] = "line", [CAUSE_START] = "start",
};

const char *health_cause_name(enum health_cause c)
{
	return c < CAUSE_COUNT ? cause_names[c] : "?";
}

/* CPU time of the calling thread: the loop's when called from it. */
static uint64_t health_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void health_record_lag(struct health *h, uint64_t late_us, uint64_t now_us)
{
	histogram_record(&h->lag, late_us);
	uint64_t sec = now_us / 1000000u;
	struct histogram *w = &h->window[sec % HEALTH_WINDOW_S];
	if (h->window_sec[sec % HEALTH_WINDOW_S] != sec) {
		histogram_reset(w);
		h->window_sec[sec % HEALTH_WINDOW_S] = sec;
	}
	histogram_record(w, late_us);
}

static void health_probe_arm(struct health *h, uint64_t now_us)
{
	struct timeval tv = { .tv_usec = HEALTH_PROBE_US };
	h->probe_due_us = now_us + HEALTH_PROBE_US;
	h->probing = event_add(h->probe, &tv) == 0;
}

static void health_mark_store(struct health *h, uint64_t now_us);

static void health_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;
	(void)fd;
	(void)what;
	uint64_t now = clock_mono_us();
	health_record_lag(h, now > h->probe_due_us ? now - h->probe_due_us : 0, now);
	health_mark_store(h, now);
	h->probing = 0;
	if (h->srv->inflight > 0)
		health_probe_arm(h, now);
}

void health_wake(struct health *h)
{
	if (!h->probing)
		health_probe_arm(h, clock_mono_us());
}

struct health *health_new(struct server *srv, uint64_t warn_stall_us)
{
	struct health *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->srv = srv;
	h->warn_stall_us = warn_stall_us;
	h->next_stall_id = store_next_stall_id(srv->store);
	h->start_us = clock_mono_us();
	h->cpu_start_us = health_cpu_us();
	h->probe = evtimer_new(srv->base, health_probe_cb, h);
	if (!h->probe) {
		free(h);
		return NULL;
	}
	/* With the order timers: it measures how late they run, not how
	 * soon client I/O is served. */
	event_priority_set(h->probe, PRIO_TIMER);
	return h;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	event_free(h->probe);
	free(h);
}

void health_run_loop(struct health *h, struct event_base *base)
{
#ifdef BAEDAL_NO_HEALTH
	(void)h;
	event_base_dispatch(base);
#else
	/* One pass at a time, so that passes can be counted: libevent 2.1
	 * has no hook around its poll. */
	while (!event_base_got_break(base) && !event_base_got_exit(base)) {
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;
		h->iterations++;
	}
#endif
}

/* ---- stalls ------------------------------------------------------------- */

const struct health_stall *health_stall_by_id(const struct health *h, uint64_t id)
{
	/* An id of an earlier process lands on a slot of this one's, or an
	 * empty one (id 0): the check says it is not kept. */
	const struct health_stall *st = &h->recent[id % HEALTH_RECENT_STALLS];
	return id && st->id == id ? st : NULL;
}

const struct health_stall *health_last_stall(const struct health *h)
{
	return h->stalls ? health_stall_by_id(h, h->next_stall_id - 1) : NULL;
}

static size_t health_told_slot(const void *p)
{
	uintptr_t v = (uintptr_t)p;
	return (size_t)((v * 0x9E3779B97F4A7C15ull) >> 40) & (HEALTH_TOLD_SLOTS - 1);
}

/* Sends s a STALL line for the last stall, once. Past half the set's
 * slots, sessions are no longer told of this stall (it is still counted,
 * stored and in STATS). */
static void health_tell(struct health *h, struct session *s)
{
	size_t i = health_told_slot(s);
	while (h->told[i]) {
		if (h->told[i] == s)
			return;
		i = (i + 1) & (HEALTH_TOLD_SLOTS - 1);
	}
	if (h->ntold >= HEALTH_TOLD_SLOTS / 2)
		return;
	h->told[i] = s;
	h->ntold++;
	const struct health_stall *st = health_last_stall(h);
	char line[SESSION_LINE_MAX];
	uint64_t seq = session_next_seq(s);
	int n = snprintf(line, sizeof line, "STALL seq=%llu id=%llu held=%llu cause=%s run=%llu "
	                 "order=%u\n", (unsigned long long)seq, (unsigned long long)st->id,
	                 (unsigned long long)(st->end_us - st->start_us), health_cause_name(st->cause),
	                 (unsigned long long)st->run, (unsigned)st->order);
	if (n > 0 && (size_t)n < sizeof line)
		session_publish_done(s, seq, line, (size_t)n);
}

#ifndef BAEDAL_NO_HEALTH
void health_note_timer(struct health *h, struct session *s, uint64_t deadline_us,
                       uint64_t now_us)
{
	/* One record an order: the loop's lag is this and the probe's
	 * histogram merged when it is read. */
	histogram_record(&h->timers, now_us > deadline_us ? now_us - deadline_us : 0);
	/* Due before the last stall ended and run only now: it waited for it. */
	const struct health_stall *last = health_last_stall(h);
	if (last && s && deadline_us < last->end_us)
		health_tell(h, s);
}
#endif

void health_note_hold(struct health *h, uint64_t start_us, uint64_t end_us,
                      enum health_cause cause, struct session *s, uint64_t run, uint32_t order)
{
	if (end_us < start_us)
		return;
	uint64_t held = end_us - start_us;
	/* A stall inside this callback (a cook in a run's start) is the
	 * cause: only what is left of the hold besides it counts. */
	const struct health_stall *last = health_last_stall(h);
	if (last && last->start_us >= start_us && last->end_us <= end_us)
		held -= last->end_us - last->start_us;
	if (held < h->warn_stall_us)
		return;
	uint64_t id = h->next_stall_id++;
	struct health_stall *st = &h->recent[id % HEALTH_RECENT_STALLS];
	*st = (struct health_stall){ .id = id, .start_us = start_us, .end_us = end_us,
	                             .wall_us = clock_wall_at(start_us), .cause = cause,
	                             .run = run, .order = order };
	h->stalls++;
	h->stalled_us += end_us - start_us;
	/* The probe samples every 10 ms: it may have come due up to that long
	 * after the stall began. What came due as it began waited all of it:
	 * one sample of that, so that the lag's max is never below a stall. */
	health_record_lag(h, end_us - start_us, end_us);
	log_warn("stall %llu: the loop was held %.1f ms by a %s (run %llu, order %u); every "
	         "timer and connection waited", (unsigned long long)st->id,
	         (double)(end_us - start_us) / 1000.0, health_cause_name(cause),
	         (unsigned long long)run, (unsigned)order);
	store_add_stall(h->srv->store, &(struct store_stall){
		.id = id, .wall_us = st->wall_us, .duration_us = end_us - start_us,
		.cause = health_cause_name(cause), .run = run, .order = order });
	memset(h->told, 0, sizeof h->told);
	h->ntold = 0;
	/* A run's own cook: its session sees the stall it made. Other causes
	 * are told only where they delayed a timer. */
	if (s && cause == CAUSE_COOK)
		health_tell(h, s);
}

void health_note_run_end(struct health *h, const struct run *r)
{
	if ((unsigned)r->mode < 3 && (unsigned)r->status <= RUN_TIMED_OUT)
		h->runs[r->mode][r->status]++;
}

/* ---- the store's lag ---------------------------------------------------- */

/* Marks how many records were queued by now; drops the marks the store
 * has committed. The oldest mark left bounds the oldest record's age. */
static void health_mark_store(struct health *h, uint64_t now_us)
{
	uint64_t queued, durable;
	store_progress(h->srv->store, &queued, &durable);
	while (h->nmarks && h->marks[h->mark_head].seq <= durable) {
		h->mark_head = (h->mark_head + 1) % HEALTH_MARKS;
		h->nmarks--;
	}
	unsigned last = (h->mark_head + h->nmarks + HEALTH_MARKS - 1) % HEALTH_MARKS;
	/* Full: the older marks matter, the new one is dropped. */
	if (queued > durable && h->nmarks < HEALTH_MARKS &&
	    (h->nmarks == 0 || h->marks[last].seq < queued)) {
		unsigned at = (h->mark_head + h->nmarks) % HEALTH_MARKS;
		h->marks[at].seq = queued;
		h->marks[at].t_us = now_us;
		h->nmarks++;
	}
}

uint64_t health_store_lag_us(struct health *h, uint64_t now_us)
{
	health_mark_store(h, now_us);
	if (h->nmarks == 0)
		return 0;
	return now_us - h->marks[h->mark_head].t_us;
}

uint64_t health_busy_us(const struct health *h)
{
	return health_cpu_us() - h->cpu_start_us;
}
