#include "server/replay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "common/protocol.h"
#include "server/clock.h"
#include "server/conn.h"
#include "server/export.h"
#include "server/server.h"
#include "server/store_read.h"

/* Due events sent by one timer callback at most: a fast replay of a large
 * run yields to the loop between batches. */
#define REPLAY_BATCH 512
/* Every line of a replay ends with this key: a client that also follows
 * live runs on the same connection tells the two apart by it. */
#define REPLAY_KEY " replay=1\n"

struct replay_ev {
	int64_t t_us;
	uint32_t idx;               /* 1-based; of a stall: its index in stalls */
	uint8_t step;               /* enum proto_step, or REPLAY_STALL */
};

/* A replay_ev that is a stall of the loop: its STALL line, told when the
 * stall ended, as it was live. */
#define REPLAY_STALL (STEP_CANCELLED + 1)

struct replay {
	struct conn *c;
	struct event *timer;        /* one per replay, armed for the next event */
	struct replay_ev *evs;
	size_t nevs, next;
	char (*names)[PROTO_NAME_MAX + 1];
	struct export_stall stalls[EXPORT_STALLS_MAX];
	size_t nstalls;
	uint32_t norders;
	uint32_t speed_milli;
	uint64_t start_us;          /* CLOCK_MONOTONIC at the OK */
	int paused;                 /* waits for its client to read (replay_resume) */
	struct proto_done done;     /* the stored totals, for the DONE line */
};

/* Sends one formatted line (n from a proto_format_*) with the replay key. */
static void replay_send(struct conn *c, char *line, int n)
{
	if (n <= 0 || (size_t)n + sizeof REPLAY_KEY > PROTO_MAX_LINE + 16)
		return;
	memcpy(line + n - 1, REPLAY_KEY, sizeof REPLAY_KEY);
	conn_send_reply(c, line, (size_t)n - 1 + sizeof REPLAY_KEY - 1);
}

static void replay_error(struct conn *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void replay_error(struct conn *c, const char *code, const char *fmt, ...)
{
	struct proto_error err = { .code = code };
	char line[PROTO_MAX_LINE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.text, sizeof err.text, fmt, ap);
	va_end(ap);
	int n = proto_format_error(line, sizeof line, &err);
	if (n > 0)
		conn_send_reply(c, line, (size_t)n);
}

static void replay_free(struct replay *rp)
{
	if (!rp)
		return;
	if (rp->timer)
		event_free(rp->timer);
	free(rp->evs);
	free(rp->names);
	free(rp);
}

void replay_stop(struct conn *c)
{
	if (c->replay)
		c->srv->nreplays--;
	replay_free(c->replay);
	c->replay = NULL;
}

void replay_resume(struct conn *c)
{
	struct replay *rp = c->replay;
	if (rp && rp->paused) {
		rp->paused = 0;
		conn_touch(c);
		event_active(rp->timer, EV_TIMEOUT, 0);
	}
}

int replay_paused(const struct conn *c)
{
	return c->replay && c->replay->paused;
}

/* Steps at one time come in the order the run made them: an order's own
 * steps in their sequence, and a rider or a sync run hands over to a
 * later order, so the lower index goes first. */
static int replay_ev_cmp(const void *x, const void *y)
{
	static const int rank[] = { [STEP_COOKED] = 0, [STEP_DELIVERED] = 1, [STEP_EATEN] = 2,
	                            [STEP_COLLECTED] = 3, [STEP_CANCELLED] = 4 };
	const struct replay_ev *a = x, *b = y;
	if (a->t_us != b->t_us)
		return (a->t_us > b->t_us) - (a->t_us < b->t_us);
	/* A stall is told after the steps of its time: live, its line came
	 * once the callback that made them had returned. */
	if ((a->step == REPLAY_STALL) != (b->step == REPLAY_STALL))
		return a->step == REPLAY_STALL ? 1 : -1;
	if (a->idx != b->idx)
		return (a->idx > b->idx) - (a->idx < b->idx);
	return rank[a->step] - rank[b->step];
}

/* The run's totals as its DONE line said them when it ended. */
static void replay_describe(const struct export_run *r, struct proto_done *d)
{
	*d = (struct proto_done){
		.run = r->id, .mode = r->mode, .orders = r->orders, .status = r->status,
		.elapsed_us = r->elapsed_us, .ideal_us = r->ideal_us, .sum_us = r->sum_us,
		.max_us = r->max_us, .cook_us = r->cook_us, .blocked_us = r->blocked_us,
		.caused_us = r->caused_us, .riders = r->riders, .deadline_us = r->deadline_us,
		.collected = r->orders - r->cancelled, .cancelled = r->cancelled,
	};
}

/* Appends o's steps to the events and sends its ORDER line. */
static void replay_add_order(struct replay *rp, const struct export_order *o, uint64_t run)
{
	char line[PROTO_MAX_LINE + 16];
	struct proto_order po = { .run = run, .order = o->idx, .meal_us = o->meal_us,
	                          .cook_us = o->cook_us };
	memcpy(po.name, o->name, sizeof po.name);
	memcpy(rp->names[o->idx - 1], o->name, sizeof rp->names[0]);
	replay_send(rp->c, line, proto_format_order(line, sizeof line - 16, &po));
	for (int s = 0; s <= STEP_CANCELLED; s++)
		if (o->t_us[s] >= 0)
			rp->evs[rp->nevs++] = (struct replay_ev){ o->t_us[s], o->idx, (uint8_t)s };
}

/* The orders and their steps, in one read: 0, or -1 with an ERR sent. */
static int replay_read_orders(struct replay *rp, struct store_read *sr, uint64_t run)
{
	struct export_order o;
	int rc = store_read_orders_begin(sr, run);
	while (rc == 0 && (rc = store_read_orders_next(sr, &o)) == 1) {
		rc = o.idx >= 1 && o.idx <= rp->norders ? 0 : -1;
		if (rc == 0)
			replay_add_order(rp, &o, run);
	}
	store_read_orders_end(sr);
	if (rc < 0) {
		replay_error(rp->c, "storage", "%s", store_read_error(sr));
		return -1;
	}
	qsort(rp->evs, rp->nevs, sizeof *rp->evs, replay_ev_cmp);
	return 0;
}

/* The loop's stalls during the run, each at its end on the run's clock
 * (the run's own span: one that began before it is told at its end). */
static int replay_read_stalls(struct replay *rp, struct store_read *sr, const struct export_run *r)
{
	int n = store_read_stalls(sr, r, rp->stalls, EXPORT_STALLS_MAX);
	if (n < 0) {
		replay_error(rp->c, "storage", "%s", store_read_error(sr));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int64_t from, to;
		export_stall_span(r, &rp->stalls[i], &from, &to);
		rp->evs[rp->nevs++] = (struct replay_ev){ to, (uint32_t)i, REPLAY_STALL };
	}
	rp->nstalls = (size_t)n;
	return 0;
}

static void replay_timer_cb(evutil_socket_t fd, short what, void *arg);

/* A stored run fit for a replay: 0, or -1 with an ERR sent. */
static int replay_check(struct conn *c, const struct export_run *r, int found, uint64_t id,
                        struct store_read *sr)
{
	if (found < 0) {
		replay_error(c, "storage", "%s", store_read_error(sr));
	} else if (found == 0) {
		replay_error(c, "no_run", "no run %llu in the database", (unsigned long long)id);
	} else if (r->status == RUN_RUNNING) {
		replay_error(c, "run_running", "run %llu is still running: follow it with baedal attach "
		             "%s", (unsigned long long)id, r->session);
	} else if (r->orders > REPLAY_ORDERS_MAX) {
		replay_error(c, "too_large", "run %llu has %u orders, a replay takes at most %u: export "
		             "it instead (baedal export %llu --trace FILE)", (unsigned long long)id,
		             r->orders, REPLAY_ORDERS_MAX, (unsigned long long)id);
	} else {
		return 0;
	}
	return -1;
}

/* Reads the run and sends its description: the replay, or NULL. */
static struct replay *replay_load(struct conn *c, struct store_read *sr, uint64_t id,
                                  uint32_t speed_milli)
{
	struct export_run r;
	char line[PROTO_MAX_LINE + 16];
	if (replay_check(c, &r, store_read_run(sr, id, &r), id, sr) < 0)
		return NULL;
	struct replay *rp = calloc(1, sizeof *rp);
	if (rp) {
		rp->c = c;
		rp->norders = r.orders;
		rp->speed_milli = speed_milli;
		rp->evs = calloc((size_t)r.orders * (STEP_CANCELLED + 1) + EXPORT_STALLS_MAX,
		                 sizeof *rp->evs);
		rp->names = calloc(r.orders, sizeof *rp->names);
		rp->timer = event_new(c->srv->base, -1, 0, replay_timer_cb, rp);
	}
	if (!rp || !rp->evs || !rp->names || !rp->timer) {
		replay_free(rp);
		replay_error(c, "busy", "out of memory");
		return NULL;
	}
	event_priority_set(rp->timer, PRIO_TIMER);
	replay_describe(&r, &rp->done);
	/* Told as a run that starts now: the client draws it as it drew it live. */
	struct proto_done d = rp->done;
	d.status = RUN_RUNNING;
	d.elapsed_us = -1;
	struct proto_runstate st = { .age_us = 0 };
	replay_send(c, line, proto_format_runstate(line, sizeof line - 16, &d, &st));
	if (replay_read_stalls(rp, sr, &r) < 0 || replay_read_orders(rp, sr, id) < 0) {
		replay_free(rp);
		return NULL;
	}
	return rp;
}

void replay_start(struct conn *c, uint64_t run_id, uint32_t speed_milli)
{
	char err[256];
	if (c->replay) {
		replay_error(c, "busy", "this connection is replaying run %llu: wait for its DONE",
		             (unsigned long long)c->replay->done.run);
		return;
	}
	if (c->srv->nreplays >= REPLAYS_MAX) {
		replay_error(c, "busy", "%u replays are under way; try again", REPLAYS_MAX);
		return;
	}
	/* A connection of its own, opened for this read and closed after:
	 * nothing is left open between replays, and it reads only. */
	struct store_read *sr = store_read_open(c->srv->cfg->db_path, err, sizeof err);
	if (!sr) {
		replay_error(c, "storage", "%s", err);
		return;
	}
	struct replay *rp = replay_load(c, sr, run_id, speed_milli);
	store_read_close(sr);
	if (!rp)
		return;
	c->replay = rp;
	c->srv->nreplays++;
	rp->start_us = clock_mono_us();
	char ok[96];
	int n = snprintf(ok, sizeof ok, "OK replay run=%llu speed=%u.%03u events=%zu\n",
	                 (unsigned long long)run_id, speed_milli / 1000, speed_milli % 1000,
	                 rp->nevs - rp->nstalls);
	conn_send_reply(c, ok, (size_t)n);
	event_active(rp->timer, EV_TIMEOUT, 0);
}

/* When event i is due on the loop's clock. */
static uint64_t replay_due_us(const struct replay *rp, size_t i)
{
	uint64_t t = rp->evs[i].t_us > 0 ? (uint64_t)rp->evs[i].t_us : 0;
	return rp->start_us + (uint64_t)((unsigned __int128)t * 1000u / rp->speed_milli);
}

static void replay_send_stall(struct replay *rp, const struct export_stall *st)
{
	char line[PROTO_MAX_LINE + 16];
	int n = snprintf(line, sizeof line - 16, "STALL seq=0 id=%llu held=%llu cause=%s run=%llu "
	                 "order=%u\n", (unsigned long long)st->id,
	                 (unsigned long long)st->duration_us, st->cause,
	                 (unsigned long long)st->run, (unsigned)st->order);
	if (n > 0 && (size_t)n < sizeof line - 16)
		replay_send(rp->c, line, n);
}

static void replay_send_event(struct replay *rp, const struct replay_ev *e)
{
	char line[PROTO_MAX_LINE + 16];
	if (e->step == REPLAY_STALL) {
		replay_send_stall(rp, &rp->stalls[e->idx]);
		return;
	}
	struct proto_event ev = { .seq = 0, .run = rp->done.run, .order = e->idx,
	                          .step = (enum proto_step)e->step, .t_us = (uint64_t)e->t_us };
	memcpy(ev.name, rp->names[e->idx - 1], sizeof ev.name);
	replay_send(rp->c, line, proto_format_event(line, sizeof line - 16, &ev));
}

/* The stored totals end the replay; the connection may go if it is done. */
static void replay_finish(struct replay *rp)
{
	char line[PROTO_MAX_LINE + 16];
	struct conn *c = rp->c;
	replay_send(c, line, proto_format_done(line, sizeof line - 16, &rp->done));
	replay_stop(c);
	conn_session_idle(c);
}

/* Sends what is due (never before its time), then sleeps until the next. */
static void replay_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct replay *rp = arg;
	(void)fd;
	(void)what;
	uint64_t now = clock_mono_us();
	int sent = 0;
	for (; rp->next < rp->nevs && sent < REPLAY_BATCH; sent++) {
		if (replay_due_us(rp, rp->next) > now)
			break;
		/* A client that does not read holds a full output, no more:
		 * the rest waits, late but never early, until it drains. */
		if (conn_output_full(rp->c)) {
			rp->paused = 1;
			return;
		}
		replay_send_event(rp, &rp->evs[rp->next++]);
	}
	if (sent)
		conn_touch(rp->c);
	if (rp->next == rp->nevs) {
		replay_finish(rp);
		return;
	}
	uint64_t due = replay_due_us(rp, rp->next);
	uint64_t wait = due > now ? due - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(wait / 1000000u),
	                      .tv_usec = (suseconds_t)(wait % 1000000u) };
	event_add(rp->timer, &tv);
}
