#include "client/view.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/report.h"
#include "common/duration.h"

#define VIEW_BAR_MIN 10
#define VIEW_STEP_W 9           /* "collected" */
#define VIEW_NAME_MIN 4
#define VIEW_BAR_MAX 1000

#define SGR_DIM "2"
#define SGR_BOLD "1"
#define SGR_EATING "33"
#define SGR_COLLECTED "32"
#define SGR_COOKING "35"
#define SGR_BAD "31"

/* One line being written: visible columns are counted so that the line can
 * be cut at its limit; escape sequences take no column. */
struct view_line {
	struct strbuf *out;
	int col, limit, color;
};

struct view_layout {
	size_t first;           /* the first run shown: the newest ones fit */
	int rows;               /* order rows a run may take */
	int name_w, meal_w;
	int mode_w;             /* the longest mode word shown, at least 5 */
	int bar_x, bar_w;       /* column of the bar's first cell, its cells */
	uint64_t axis_us;       /* the time the bar's width stands for */
};

static void view_line_start(struct view_line *l, struct strbuf *out, const struct view_opts *o)
{
	l->out = out;
	l->col = 0;
	l->limit = o->width - 1;
	l->color = o->color;
}

static void view_text(struct view_line *l, const char *s, size_t n)
{
	if (l->col + (int)n > l->limit)
		n = l->limit > l->col ? (size_t)(l->limit - l->col) : 0;
	strbuf_add(l->out, s, n);
	l->col += (int)n;
}

static void view_puts(struct view_line *l, const char *s)
{
	view_text(l, s, strlen(s));
}

static void view_pad_to(struct view_line *l, int col)
{
	static const char spaces[] = "                                ";
	while (l->col < col && l->col < l->limit) {
		int n = col - l->col < (int)sizeof spaces - 1 ? col - l->col : (int)sizeof spaces - 1;
		view_text(l, spaces, (size_t)n);
	}
}

static void view_style(struct view_line *l, const char *sgr)
{
	if (l->color)
		strbuf_printf(l->out, "\033[%sm", sgr);
}

static void view_line_end(struct view_line *l)
{
	view_style(l, "0");
	strbuf_puts(l->out, "\033[K\n");
}

static int view_detailed(const struct model_run *r, const struct view_layout *lay)
{
	int max = lay->rows < VIEW_DETAIL_MAX ? lay->rows : VIEW_DETAIL_MAX;
	return r->orders && r->norders > 0 && r->norders <= (uint32_t)max;
}

static const char *view_order_name(const struct model_run *r, uint32_t i, char *buf, size_t cap)
{
	if (r->names && r->names[i][0])
		return r->names[i];
	snprintf(buf, cap, "#%" PRIu32, i + 1);
	return buf;
}

/* The meal, or COOK:MEAL as the order was given when it has a cook. */
static const char *view_order_meal(const struct model_order *o, char *buf, size_t cap)
{
	int n = 0;

	if (o->cook_us && (n = duration_format(buf, cap, o->cook_us)) >= 0 && (size_t)n + 1 < cap)
		buf[n++] = ':';
	else
		n = 0;
	if (o->meal_us == 0 || duration_format(buf + n, cap - (size_t)n, o->meal_us) < 0)
		return "-";
	return buf;
}

/* The column widths of the detailed runs' names and meals. */
static void view_measure_rows(const struct model *m, struct view_layout *lay)
{
	char buf[PROTO_NAME_MAX + 16];

	lay->name_w = lay->meal_w = VIEW_NAME_MIN;
	lay->mode_w = 5;
	for (size_t i = lay->first; i < m->nruns; i++) {
		const struct model_run *r = &m->runs[i];
		int w = (int)strlen(model_mode_name(r->mode));
		lay->mode_w = w > lay->mode_w ? w : lay->mode_w;
		if (!view_detailed(r, lay))
			continue;
		for (uint32_t k = 0; k < r->norders; k++) {
			int nw = (int)strlen(view_order_name(r, k, buf, sizeof buf));
			int mw = (int)strlen(view_order_meal(&r->orders[k], buf, sizeof buf));
			lay->name_w = nw > lay->name_w ? nw : lay->name_w;
			lay->meal_w = mw > lay->meal_w ? mw : lay->meal_w;
		}
	}
}

/* Which runs fit the height and how many rows each gets; the axis spans
 * the largest ideal (or clock, once a run takes longer) of the runs shown. */
static void view_layout(const struct model *m, int64_t now_us, const struct view_opts *o,
                        struct view_layout *lay)
{
	int budget = o->height - 3 - (m->dropped || m->missed ? 1 : 0);
	size_t k = m->nruns;

	/* A run takes a header and at least two rows; the rest is shared. */
	if ((int)k * 3 > budget)
		budget--;
	while (k > 1 && (int)k * 3 > budget)
		k--;
	lay->first = m->nruns - k;
	lay->rows = k && budget > (int)k ? (budget - (int)k) / (int)k : 0;
	view_measure_rows(m, lay);
	lay->bar_x = 2 + lay->name_w + 2 + lay->meal_w + 2 + 1;
	lay->bar_w = o->width - 1 - lay->bar_x - 1 - 2 - VIEW_STEP_W;
	if (lay->bar_w < VIEW_BAR_MIN)
		lay->bar_w = VIEW_BAR_MIN;
	if (lay->bar_w > VIEW_BAR_MAX)
		lay->bar_w = VIEW_BAR_MAX;
	lay->axis_us = 1;
	for (size_t i = lay->first; i < m->nruns; i++) {
		const struct model_run *r = &m->runs[i];
		uint64_t clock = (uint64_t)model_run_clock_us(r, now_us);
		uint64_t span = r->ideal_us > clock ? r->ideal_us : clock;
		lay->axis_us = span > lay->axis_us ? span : lay->axis_us;
	}
}

static int view_cell(const struct view_layout *lay, uint64_t t_us)
{
	uint64_t c = (uint64_t)((unsigned __int128)t_us * (unsigned)lay->bar_w / lay->axis_us);
	return c >= (uint64_t)lay->bar_w ? lay->bar_w - 1 : (int)c;
}

/* When order i began cooking, as far as the client can tell, or -1 (no
 * cook, or not begun). No event says so: sync cooks an order once the one
 * before it is collected; async cooks them in turn on its loop, each once
 * the one before it was delivered; offload hands them all to the pool at
 * the start. Once cooked, a start earlier than cooked - cook was time in
 * the queue for a free worker (sync, offload), which shows as waiting. */
static int64_t view_cook_start(const struct model_run *r, uint32_t i)
{
	const struct model_order *o = &r->orders[i];
	int cooked = (o->seen & (1u << STEP_COOKED)) != 0;
	uint64_t start = 0;

	if (!o->cook_us && !cooked)
		return -1;
	if (i > 0 && (r->mode == MODE_SYNC || r->mode == MODE_ASYNC)) {
		const struct model_order *p = &r->orders[i - 1];
		enum proto_step s = r->mode == MODE_SYNC ? STEP_COLLECTED : STEP_DELIVERED;
		if (p->seen & (1u << s))
			start = p->t_us[s];
		else if (!cooked)
			return -1;
	}
	/* async's loop waits for no worker: its cook began on its turn. */
	if (cooked && o->cook_us && r->mode != MODE_ASYNC &&
	    o->t_us[STEP_COOKED] > start + o->cook_us)
		start = o->t_us[STEP_COOKED] - o->cook_us;
	if (cooked && start > o->t_us[STEP_COOKED])
		start = o->t_us[STEP_COOKED];
	return (int64_t)start;
}

/* '.' until its cooking begins, '~' while it cooks, up to its cooked time
 * (or now); at least one cell, so that a short cook still shows. Returns
 * the cell where what follows may begin. */
static int view_cook_cells(const struct model_order *o, int64_t start_us, uint64_t clock_us,
                           const struct view_layout *lay, char *cells)
{
	int cooked = (o->seen & (1u << STEP_COOKED)) != 0;
	uint64_t end = cooked ? o->t_us[STEP_COOKED] : clock_us;
	int c = view_cell(lay, (uint64_t)start_us), e = view_cell(lay, end);

	/* A cook in progress reaches now's cell, as an eating bar does. */
	if (!cooked && e < lay->bar_w)
		e++;

	if (e <= c)
		e = c + 1 < lay->bar_w ? c + 1 : c;
	memset(cells, '.', (size_t)c);
	memset(cells + c, '~', (size_t)(e - c > 0 ? e - c : 1));
	return e;
}

/* '.' while waiting, '~' cooking, '=' eating from its delivered time to
 * its eaten time (or now), '#' where it was collected. */
static void view_order_cells(const struct model_run *r, uint32_t i, uint64_t clock_us,
                             const struct view_layout *lay, char *cells)
{
	const struct model_order *o = &r->orders[i];
	int64_t cook = view_cook_start(r, i);
	int d, e, from = 0;

	memset(cells, ' ', (size_t)lay->bar_w);
	if (r->partial && o->seen == 0)
		return;     /* its lines are no longer held: nothing true to draw */
	if (o->seen & (1u << STEP_COLLECTED) && !(o->seen & (1u << STEP_DELIVERED))) {
		/* Its delivered line was dropped: only the end is known. */
		cells[view_cell(lay, o->t_us[STEP_COLLECTED])] = '#';
		return;
	}
	if (o->seen & (1u << STEP_CANCELLED)) {
		/* Given up on: its bar stops where it was cancelled, an 'x'. */
		uint64_t x = o->t_us[STEP_CANCELLED];
		clock_us = x < clock_us ? x : clock_us;
	}
	if (!(o->seen & (1u << STEP_DELIVERED))) {
		if (cook >= 0 && (!r->done || o->seen & (1u << STEP_COOKED)))
			view_cook_cells(o, cook, clock_us, lay, cells);
		else if (!r->done || o->seen & (1u << STEP_CANCELLED))
			/* up to now's cell, the edge every row shares */
			memset(cells, '.', (size_t)view_cell(lay, clock_us) + 1);
		if (o->seen & (1u << STEP_CANCELLED))
			cells[view_cell(lay, o->t_us[STEP_CANCELLED])] = 'x';
		return;
	}
	if (cook >= 0)
		from = view_cook_cells(o, cook, o->t_us[STEP_DELIVERED], lay, cells);
	d = view_cell(lay, o->t_us[STEP_DELIVERED]);
	d = d > from ? d : from;
	memset(cells + from, '.', (size_t)(d - from));
	if (o->seen & (1u << STEP_EATEN))
		e = view_cell(lay, o->t_us[STEP_EATEN]);
	else
		e = view_cell(lay, clock_us > o->t_us[STEP_DELIVERED] ? clock_us : o->t_us[STEP_DELIVERED]);
	if (e < d)
		e = d;
	memset(cells + d, '=', (size_t)(e - d + 1));
	if (o->seen & (1u << STEP_COLLECTED))
		cells[view_cell(lay, o->t_us[STEP_COLLECTED])] = '#';
	if (o->seen & (1u << STEP_CANCELLED))
		cells[view_cell(lay, o->t_us[STEP_CANCELLED])] = 'x';
}

static const char *view_mark_style(char c)
{
	return c == '.' ? SGR_DIM : c == '=' ? SGR_EATING : c == '#' ? SGR_COLLECTED :
	       c == '~' ? SGR_COOKING : c == 'x' ? SGR_BAD : "0";
}

/* The bar between brackets, one style change per run of equal marks. */
static void view_bar(struct view_line *l, const char *cells, int n)
{
	view_puts(l, "[");
	for (int i = 0; i < n;) {
		int j = i;
		while (j < n && cells[j] == cells[i])
			j++;
		view_style(l, view_mark_style(cells[i]));
		view_text(l, cells + i, (size_t)(j - i));
		view_style(l, "0");
		i = j;
	}
	view_puts(l, "]");
}

static void view_header(struct view_line *l, const struct model_run *r,
                        const struct view_layout *lay, int64_t now_us)
{
	char buf[96], secs[32];

	report_format_seconds(secs, sizeof secs, model_run_clock_us(r, now_us));
	view_style(l, SGR_BOLD);
	snprintf(buf, sizeof buf, "%-*s", lay->mode_w, model_mode_name(r->mode));
	view_puts(l, buf);
	view_style(l, "0");
	snprintf(buf, sizeof buf, "  run %" PRIu64 "  %" PRIu32 " order%s  clock %s s", r->id,
	         r->norders, r->norders == 1 ? "" : "s", secs);
	view_puts(l, buf);
	if (r->riders) {
		snprintf(buf, sizeof buf, "  %" PRIu32 " rider%s", r->riders, r->riders == 1 ? "" : "s");
		view_puts(l, buf);
	}
	if (r->speed_milli) {
		report_format_speed(secs, sizeof secs, r->speed_milli);
		snprintf(buf, sizeof buf, "  replay %sx", secs);
		view_puts(l, buf);
	}
	if (r->done) {
		int ok = r->final.status == RUN_DONE;
		view_puts(l, "  ");
		view_style(l, ok ? SGR_COLLECTED : SGR_BAD);
		view_puts(l, proto_status_name(r->final.status));
		view_style(l, "0");
	}
}

static const char *view_step_word(const struct model_run *r, uint32_t i, const char **sgr)
{
	const struct model_order *o = &r->orders[i];

	*sgr = SGR_DIM;
	if (r->partial && o->seen == 0)
		return "not held";
	*sgr = SGR_COLLECTED;
	if (o->seen & (1u << STEP_COLLECTED))
		return "collected";
	*sgr = SGR_BAD;
	if (o->seen & (1u << STEP_CANCELLED))
		return "cancelled";
	*sgr = SGR_EATING;
	if (o->seen & (1u << STEP_DELIVERED))
		return "eating";
	*sgr = SGR_COOKING;
	if (o->seen & (1u << STEP_COOKED))
		return "cooked";
	if (!r->done && view_cook_start(r, i) >= 0)
		return "cooking";
	*sgr = SGR_DIM;
	if (!r->done && r->riders)
		return "no rider";      /* all of them are out: it waits for one */
	if (!r->done)
		return "waiting";
	/* Done without this order's events: dropped, or the run was cut short. */
	return r->final.status == RUN_INTERRUPTED ? "stopped" : "unseen";
}

static void view_order_row(struct view_line *l, const struct model_run *r, uint32_t i,
                           const struct view_layout *lay, int64_t now_us)
{
	char buf[PROTO_NAME_MAX + 16], cells[VIEW_BAR_MAX];
	const struct model_order *o = &r->orders[i];
	const char *word, *sgr;

	view_pad_to(l, 2);
	view_puts(l, view_order_name(r, i, buf, sizeof buf));
	view_pad_to(l, 2 + lay->name_w + 2);
	view_puts(l, view_order_meal(o, buf, sizeof buf));
	view_pad_to(l, lay->bar_x - 1);
	view_order_cells(r, i, (uint64_t)model_run_clock_us(r, now_us), lay, cells);
	view_bar(l, cells, lay->bar_w);
	view_puts(l, "  ");
	word = view_step_word(r, i, &sgr);
	view_style(l, sgr);
	view_puts(l, word);
}

/* A run too large for a row per order: its clock on the axis, then how
 * many orders are at each step and which one was the latest to eat. */
static void view_summary_bar(struct view_line *l, const struct model_run *r,
                             const struct view_layout *lay, int64_t now_us)
{
	char cells[VIEW_BAR_MAX];
	int end = view_cell(lay, (uint64_t)model_run_clock_us(r, now_us));

	view_pad_to(l, 2);
	view_puts(l, "all orders");
	view_pad_to(l, lay->bar_x - 1);
	memset(cells, ' ', (size_t)lay->bar_w);
	memset(cells, '=', (size_t)end + 1);
	if (r->done)
		cells[end] = '#';
	view_bar(l, cells, lay->bar_w);
}

static void view_summary_counts(struct view_line *l, const struct model_run *r)
{
	char buf[160], late[32];
	uint32_t started = r->started, collected = r->collected;

	/* A run done in full collected every order, seen or dropped. */
	if (r->done && r->final.status == RUN_DONE)
		started = collected = r->norders;
	snprintf(buf, sizeof buf, "  waiting %" PRIu32 "  eating %" PRIu32 "  collected %" PRIu32,
	         r->norders > started ? r->norders - started : 0,
	         started > collected ? started - collected : 0, collected);
	view_puts(l, buf);
	if (r->slowest_order) {
		report_format_signed_ms(late, sizeof late, r->slowest_late_us);
		snprintf(buf, sizeof buf, "  slowest %s %s ms late", r->slowest_name, late);
		view_puts(l, buf);
	}
}

/* Marks '^' where an async run's cooks held the server's event loop:
 * from each cook's start to its cooked time (or now, for the one under
 * way). Returns whether it marked any. */
static int view_mark_held(const struct model *m, const struct view_layout *lay, int64_t now_us,
                          char *cells)
{
	int any = 0;

	memset(cells, ' ', (size_t)lay->bar_w);
	for (size_t i = lay->first; i < m->nruns; i++) {
		const struct model_run *r = &m->runs[i];
		uint64_t clock = (uint64_t)model_run_clock_us(r, now_us);
		for (uint32_t k = 0; r->mode == MODE_ASYNC && r->orders && k < r->norders; k++) {
			const struct model_order *o = &r->orders[k];
			int64_t start = view_cook_start(r, k);
			int cooked = (o->seen & (1u << STEP_COOKED)) != 0;
			if (start < 0 || !o->cook_us || (!cooked && r->done))
				continue;
			int e = view_cell(lay, cooked ? o->t_us[STEP_COOKED] : clock);
			memset(cells + view_cell(lay, (uint64_t)start), '^',
			       (size_t)(e - view_cell(lay, (uint64_t)start) + 1));
			any = 1;
		}
	}
	return any;
}

/* The ruler under the runs: "0 s" just before the bars' start, the axis's
 * span just after their end, and between them the spans when a cook held
 * the loop (every run on the server stood still then). */
static int view_axis(struct view_line *l, const struct model *m, const struct view_layout *lay,
                     int64_t now_us)
{
	char label[48], secs[32], cells[VIEW_BAR_MAX];
	int held = view_mark_held(m, lay, now_us, cells);

	report_format_seconds(secs, sizeof secs, (int64_t)lay->axis_us);
	snprintf(label, sizeof label, "%s s", secs);
	view_pad_to(l, lay->bar_x - 4);
	view_style(l, SGR_DIM);
	view_puts(l, "0 s");
	view_style(l, "0");
	view_pad_to(l, lay->bar_x);
	view_style(l, SGR_BAD);
	view_text(l, cells, (size_t)lay->bar_w);
	view_style(l, "0");
	view_pad_to(l, lay->bar_x + lay->bar_w + 2);
	view_style(l, SGR_DIM);
	view_puts(l, label);
	return held;
}

/* Whether an order drawn from lay.first on was cancelled: its bar ends
 * in an 'x', which the key then explains. */
static int view_any_cancelled(const struct model *m, const struct view_layout *lay)
{
	for (size_t i = lay->first; i < m->nruns; i++) {
		const struct model_run *r = &m->runs[i];
		for (uint32_t k = 0; r->orders && k < r->slots; k++)
			if (r->orders[k].seen & (1u << STEP_CANCELLED))
				return 1;
	}
	return 0;
}

/* What the marks mean, in one line. */
static void view_key(struct view_line *l, int held, int cancelled)
{
	view_pad_to(l, 2);
	view_style(l, SGR_DIM);
	view_puts(l, ". waiting  ~ cooking  = eating  # collected");
	if (cancelled)
		view_puts(l, "  x cancelled");
	if (held)
		view_puts(l, "  ^ a cook held the loop");
}

/* A run's lines: its header, then a row per order or two summary rows. */
static int view_run(struct strbuf *out, const struct view_opts *o, const struct model_run *r,
                    const struct view_layout *lay, int64_t now_us)
{
	struct view_line l;
	int lines = 1;

	view_line_start(&l, out, o);
	view_header(&l, r, lay, now_us);
	view_line_end(&l);
	if (!view_detailed(r, lay)) {
		view_line_start(&l, out, o);
		view_summary_bar(&l, r, lay, now_us);
		view_line_end(&l);
		view_line_start(&l, out, o);
		view_summary_counts(&l, r);
		view_line_end(&l);
		return lines + 2;
	}
	for (uint32_t k = 0; k < r->norders; k++, lines++) {
		view_line_start(&l, out, o);
		view_order_row(&l, r, k, lay, now_us);
		view_line_end(&l);
	}
	return lines;
}

int view_render(const struct model *m, int64_t now_us, const struct view_opts *o,
                struct strbuf *out)
{
	struct view_layout lay;
	struct view_line l;
	char note[160];
	int lines = 1, held;

	view_layout(m, now_us, o, &lay);
	for (size_t i = lay.first; i < m->nruns; i++)
		lines += view_run(out, o, &m->runs[i], &lay, now_us);
	view_line_start(&l, out, o);
	held = view_axis(&l, m, &lay, now_us);
	view_line_end(&l);
	view_line_start(&l, out, o);
	view_key(&l, held, view_any_cancelled(m, &lay));
	view_line_end(&l);
	lines++;
	if (m->dropped || m->missed)
		snprintf(note, sizeof note, "note: %" PRIu64 " events not shown (dropped by the server, "
		         "or no longer held); the database has them", m->dropped + m->missed);
	else if (lay.first > 0)
		snprintf(note, sizeof note, "(%zu earlier runs not shown)", lay.first);
	else
		return lines;
	view_line_start(&l, out, o);
	view_puts(&l, note);
	view_line_end(&l);
	return lines + 1;
}

int64_t view_loop_held_since(const struct model *m)
{
	int64_t since = -1;

	for (size_t i = 0; i < m->nruns; i++) {
		const struct model_run *r = &m->runs[i];
		for (uint32_t k = 0; r->mode == MODE_ASYNC && !r->done && r->orders && k < r->norders;
		     k++) {
			int64_t start = view_cook_start(r, k);
			if (r->orders[k].cook_us && start >= 0 &&
			    !(r->orders[k].seen & (1u << STEP_COOKED)) &&
			    (since < 0 || model_run_local_us(r, start) < since))
				since = model_run_local_us(r, start);
		}
	}
	return since;
}
