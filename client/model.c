#include "client/model.h"

#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

void model_init(struct model *m, int track_orders)
{
	memset(m, 0, sizeof *m);
	m->track_orders = track_orders;
}

void model_add_stall(struct model *m, const struct stats_stall *st)
{
	size_t kept = m->nstalls < MODEL_STALLS_MAX ? m->nstalls : MODEL_STALLS_MAX;
	for (size_t i = 0; i < kept; i++)
		if (m->stalls[i].id == st->id)
			return;
	if (m->nstalls < MODEL_STALLS_MAX)
		m->stalls[m->nstalls] = *st;
	m->nstalls++;
}

void model_free(struct model *m)
{
	for (size_t i = 0; i < m->nruns; i++) {
		free(m->runs[i].orders);
		free(m->runs[i].names);
	}
	free(m->runs);
	free(m->hints);
	memset(m, 0, sizeof *m);
}

struct model_run *model_find_run(struct model *m, uint64_t id)
{
	for (size_t i = m->nruns; i-- > 0;)
		if (m->runs[i].id == id)
			return &m->runs[i];
	return NULL;
}

const struct model_run *model_find_run_const(const struct model *m, uint64_t id)
{
	return model_find_run((struct model *)m, id);
}

/* Makes slots for orders 1..n, names too while the run is small. A run
 * whose size is not known yet grows geometrically as its events come.
 * Without the live view only a small run gets them, for its names (the
 * stall note names the orders cooked): a large one costs nothing. */
static int model_size_orders(const struct model *m, struct model_run *r, uint32_t n)
{
	uint32_t slots = r->sized || n > MODEL_ORDERS_MAX / 2 ? n : n * 2;
	struct model_order *o;

	if (n <= r->slots)
		return 0;
	if (!m->track_orders && slots > MODEL_NAMED_MAX) {
		free(r->names);
		r->names = NULL;
		return 0;
	}
	if (!(o = realloc(r->orders, (size_t)slots * sizeof *o)))
		return -1;
	memset(o + r->slots, 0, (size_t)(slots - r->slots) * sizeof *o);
	r->orders = o;
	if (slots <= MODEL_NAMED_MAX) {
		char (*names)[PROTO_NAME_MAX + 1] = realloc(r->names, (size_t)slots * sizeof *names);
		if (!names)
			return -1;
		memset(names + r->slots, 0, (size_t)(slots - r->slots) * sizeof *names);
		r->names = names;
	} else {
		free(r->names);
		r->names = NULL;
	}
	r->slots = slots;
	return 0;
}

static struct model_run *model_new_run(struct model *m, uint64_t id)
{
	if (m->nruns == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		struct model_run *runs = realloc(m->runs, cap * sizeof *runs);
		if (!runs)
			return NULL;
		m->runs = runs;
		m->cap = cap;
	}
	struct model_run *r = &m->runs[m->nruns++];
	memset(r, 0, sizeof *r);
	r->id = id;
	r->mode = MODEL_MODE_UNKNOWN;
	return r;
}

/* What the run's elapsed will be at least: it only rises. */
static void model_raise_floor(struct model_run *r, uint64_t us)
{
	if (us <= INT64_MAX && (int64_t)us > r->floor_us)
		r->floor_us = (int64_t)us;
}

/* A run's size once known for certain; order indexes past it are ignored. */
static int model_declare_size(const struct model *m, struct model_run *r, uint32_t n)
{
	if (n > MODEL_ORDERS_MAX)
		n = MODEL_ORDERS_MAX;
	r->sized = 1;
	if (model_size_orders(m, r, n) < 0)
		return -1;
	r->norders = n;
	return 0;
}

struct model_run *model_add_run(struct model *m, uint64_t id, int mode, uint32_t norders,
                                int64_t now_us)
{
	struct model_run *r = model_find_run(m, id);

	if (!r && !(r = model_new_run(m, id)))
		return NULL;
	r->mode = mode;
	r->start_local_us = now_us;
	r->anchored = 1;
	if (model_declare_size(m, r, norders) < 0)
		return NULL;
	return r;
}

/* NAME:MEAL or NAME:COOK:MEAL as the server reads it; an unreadable
 * duration counts as 0 (the server refuses the run anyway). */
static size_t model_parse_order(const char *arg, uint64_t *cook, uint64_t *meal)
{
	const char *colon = strchr(arg, ':');
	const char *second = colon ? strchr(colon + 1, ':') : NULL;
	const char *m = second ? second + 1 : colon ? colon + 1 : NULL;

	*cook = *meal = 0;
	if (second && duration_parse(colon + 1, (size_t)(second - colon - 1), cook) < 0)
		*cook = 0;
	if (m && duration_parse(m, strlen(m), meal) < 0)
		*meal = 0;
	return colon ? (size_t)(colon - arg) : strlen(arg);
}

/* What a perfect server would take, until the DONE says exactly: sync
 * cooks and eats one order after another; async cooks in turn on the
 * loop, each meal after its own cook; offload is taken to have a worker
 * per order (the client does not know how many the server has). */
static uint64_t model_estimate_ideal(int mode, const uint64_t *cook, const uint64_t *meal,
                                     int n)
{
	uint64_t t = 0, ideal = 0, end;

	for (int i = 0; i < n; i++) {
		if (mode == MODE_SYNC) {
			ideal += cook[i] + meal[i];
			continue;
		}
		t += cook[i];
		end = (mode == MODE_ASYNC ? t : cook[i]) + meal[i];
		ideal = end > ideal ? end : ideal;
	}
	return ideal;
}

void model_set_orders(struct model_run *r, char *const *args, int nargs)
{
	uint64_t cook[PROTO_LINE_ORDERS], meal[PROTO_LINE_ORDERS];

	if (nargs > PROTO_LINE_ORDERS)      /* a RUN line holds no more */
		nargs = PROTO_LINE_ORDERS;
	r->cook_us = 0;
	for (int i = 0; i < nargs; i++) {
		size_t nlen = model_parse_order(args[i], &cook[i], &meal[i]);

		r->cook_us += cook[i];
		if (nlen <= PROTO_NAME_MAX && (int)nlen > r->name_width)
			r->name_width = (int)nlen;
		if ((uint32_t)i >= r->slots)
			continue;
		r->orders[i].meal_us = meal[i];
		r->orders[i].cook_us = cook[i];
		if (r->names && nlen <= PROTO_NAME_MAX) {
			memcpy(r->names[i], args[i], nlen);
			r->names[i][nlen] = '\0';
		}
	}
	r->ideal_us = model_estimate_ideal(r->mode, cook, meal, nargs);
	model_raise_floor(r, r->ideal_us);
}

void model_set_generated(struct model_run *r, uint64_t lo_us, uint64_t hi_us,
                         const char *prefix)
{
	uint64_t sum = 0, max = 0;
	char name[PROTO_NAME_MAX + 1];
	int len;

	for (uint32_t i = 1; i <= r->norders; i++) {
		uint64_t meal = proto_gen_meal(i, r->norders, lo_us, hi_us);
		sum += meal;
		max = meal > max ? meal : max;
		if (i <= r->slots)
			r->orders[i - 1].meal_us = meal;
		if (r->names && (len = proto_gen_name(name, sizeof name, prefix, i)) >= 0)
			memcpy(r->names[i - 1], name, (size_t)len + 1);
	}
	len = proto_gen_name(name, sizeof name, prefix, r->norders);
	if (len > r->name_width)
		r->name_width = len;
	r->ideal_us = r->mode == MODE_SYNC ? sum : max;
	model_raise_floor(r, r->ideal_us);
}

struct model_run *model_describe_run(struct model *m, const struct proto_done *d,
                                     const struct proto_runstate *st, int64_t now_us)
{
	struct model_run *r = model_find_run(m, d->run);

	if (!r && !(r = model_new_run(m, d->run)))
		return NULL;
	r->mode = (int)d->mode;
	if (!r->sized && model_declare_size(m, r, d->orders) < 0)
		return NULL;
	if (st->gen)
		model_set_generated(r, st->gen_lo_us, st->gen_hi_us, st->gen_prefix);
	r->ideal_us = d->ideal_us;
	r->riders = d->riders;
	r->cook_us = d->cook_us;
	model_raise_floor(r, d->ideal_us);
	r->partial = st->partial;
	if (st->age_us >= 0) {
		r->start_local_us = now_us - st->age_us;
		r->anchored = 1;
	}
	if (d->status != RUN_RUNNING) {
		r->done = 1;
		r->final = *d;
		r->end_local_us = now_us;
	}
	return r;
}

int model_set_order(struct model *m, const struct proto_order *o)
{
	struct model_run *r = model_find_run(m, o->run);
	size_t nlen = strlen(o->name);

	if (!r || o->order == 0 || o->order > r->norders)
		return 0;
	if ((int)nlen > r->name_width)
		r->name_width = (int)nlen;
	if (o->order > r->slots)
		return 0;
	r->orders[o->order - 1].meal_us = o->meal_us;
	r->orders[o->order - 1].cook_us = o->cook_us;
	if (r->names)
		memcpy(r->names[o->order - 1], o->name, nlen + 1);
	return 0;
}

int model_add_hint(struct model *m, const struct proto_done *info)
{
	struct proto_done *h = realloc(m->hints, (m->nhints + 1) * sizeof *h);

	if (!h)
		return -1;
	m->hints = h;
	m->hints[m->nhints++] = *info;
	return 0;
}

/* A run met through its events or DONE (after ATTACH): what a RUNINFO
 * said of it, if anything; its start is estimated from the events. */
static struct model_run *model_meet_run(struct model *m, uint64_t id, int64_t start_us)
{
	struct model_run *r = model_new_run(m, id);

	if (!r)
		return NULL;
	r->start_local_us = start_us;
	for (size_t i = 0; i < m->nhints; i++) {
		if (m->hints[i].run != id)
			continue;
		r->mode = (int)m->hints[i].mode;
		r->ideal_us = m->hints[i].ideal_us;
		model_raise_floor(r, r->ideal_us);
		if (model_declare_size(m, r, m->hints[i].orders) < 0)
			return NULL;
	}
	return r;
}

/* Lateness shows how far the server fell behind the meal; for an order
 * whose meal the client does not know (met through ATTACH), the time it
 * ate stands in, which still ranks the slowest first within a run. */
static void model_note_eaten(struct model_run *r, const struct model_order *o,
                             const struct proto_event *ev)
{
	int64_t late;

	if (!(o->seen & (1u << STEP_DELIVERED)))
		return;
	late = (int64_t)(o->t_us[STEP_EATEN] - o->t_us[STEP_DELIVERED]) - (int64_t)o->meal_us;
	if (r->slowest_order != 0 && late <= r->slowest_late_us)
		return;
	r->slowest_late_us = late;
	r->slowest_order = ev->order;
	memcpy(r->slowest_name, ev->name, sizeof r->slowest_name);
}

static int model_track_event(const struct model *m, struct model_run *r,
                             const struct proto_event *ev)
{
	struct model_order *o;
	unsigned bit = 1u << ev->step;

	if (ev->order == 0 || ev->order > MODEL_ORDERS_MAX || (r->sized && ev->order > r->norders) ||
	    (unsigned)ev->step > STEP_CANCELLED)
		return 0;
	if (!r->sized && ev->order > r->norders) {
		if (model_size_orders(m, r, ev->order) < 0)
			return -1;
		r->norders = ev->order;
	}
	if (r->names && ev->order <= r->slots && r->names[ev->order - 1][0] == '\0')
		memcpy(r->names[ev->order - 1], ev->name, sizeof ev->name);
	if (!m->track_orders)
		return 0;
	o = &r->orders[ev->order - 1];
	if (o->seen & bit)
		return 0;
	/* Counted by the first event seen: with live events dropped, an
	 * order's delivered line may never come, its collected line may. */
	r->started += o->seen == 0;
	r->collected += ev->step == STEP_COLLECTED;
	r->cancelled += ev->step == STEP_CANCELLED;
	o->seen |= (uint8_t)bit;
	o->t_us[ev->step] = ev->t_us;
	if (ev->step == STEP_DELIVERED)
		model_raise_floor(r, ev->t_us + o->meal_us);
	if (ev->step == STEP_EATEN)
		model_note_eaten(r, o, ev);
	return 0;
}

int model_apply_event(struct model *m, const struct proto_event *ev, int64_t now_us)
{
	struct model_run *r = model_find_run(m, ev->run);
	int64_t start = now_us - (int64_t)ev->t_us;
	int nlen = (int)strlen(ev->name);

	if (!r && !(r = model_meet_run(m, ev->run, start)))
		return -1;
	/* An event arrives after its t: the earliest estimate is the closest. */
	if (!r->anchored && start < r->start_local_us)
		r->start_local_us = start;
	if (nlen > r->name_width)
		r->name_width = nlen;
	model_raise_floor(r, ev->t_us);
	return model_track_event(m, r, ev);
}

int model_apply_done(struct model *m, const struct proto_done *d, int64_t now_us)
{
	struct model_run *r = model_find_run(m, d->run);
	int64_t start = now_us - (d->elapsed_us > 0 ? d->elapsed_us : 0);

	if (!r && !(r = model_meet_run(m, d->run, start)))
		return -1;
	if (!r->sized && model_declare_size(m, r, d->orders) < 0)
		return -1;
	r->mode = (int)d->mode;
	r->ideal_us = d->ideal_us;
	r->riders = d->riders;
	model_raise_floor(r, d->ideal_us);
	r->done = 1;
	r->final = *d;
	r->end_local_us = now_us;
	return 0;
}

void model_start_replay(struct model_run *r, uint32_t speed_milli, int64_t now_us)
{
	r->start_local_us = now_us;
	r->anchored = 1;
	r->speed_milli = speed_milli;
}

int64_t model_run_clock_us(const struct model_run *r, int64_t now_us)
{
	int64_t c;

	if (r->done && r->final.elapsed_us >= 0)
		return r->final.elapsed_us;
	c = (r->done ? r->end_local_us : now_us) - r->start_local_us;
	/* A replay's steps come speed times sooner than they happened: on its
	 * own clock, local time since its start counts speed times over. */
	if (r->speed_milli && c > 0)
		c = c > INT64_MAX / r->speed_milli ? INT64_MAX : c * r->speed_milli / 1000;
	if (!r->done && c > r->floor_us)
		c = r->floor_us;
	return c > 0 ? c : 0;
}

int64_t model_run_local_us(const struct model_run *r, int64_t run_us)
{
	if (r->speed_milli)
		run_us = run_us / r->speed_milli * 1000 + run_us % r->speed_milli * 1000 / r->speed_milli;
	return r->start_local_us + run_us;
}

int model_any_running(const struct model *m)
{
	for (size_t i = 0; i < m->nruns; i++)
		if (!m->runs[i].done)
			return 1;
	return 0;
}

const char *model_mode_name(int mode)
{
	return mode == MODEL_MODE_UNKNOWN ? "?" : proto_mode_name((enum proto_mode)mode);
}
