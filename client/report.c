#include "client/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"

#define REPORT_NUM 48           /* one formatted number with its unit */
#define REPORT_VAL 32           /* one number: 20 digits, sign, point, decimals */

void report_format_seconds(char *buf, size_t cap, int64_t us)
{
	uint64_t ms = (uint64_t)(us < 0 ? 0 : us + 500) / 1000;
	snprintf(buf, cap, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
}

void report_format_signed_ms(char *buf, size_t cap, int64_t us)
{
	uint64_t mag = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
	char digits[24];        /* the largest uint64 as ms: 21 characters */

	duration_format_ms(digits, sizeof digits, mag);
	snprintf(buf, cap, "%c%s", us < 0 ? '-' : '+', digits);
}

void report_format_speedup(char *buf, size_t cap, uint64_t sum_us, int64_t elapsed_us)
{
	if (elapsed_us <= 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", (double)sum_us / (double)elapsed_us);
}

void report_format_speed(char *buf, size_t cap, uint32_t milli)
{
	int n = snprintf(buf, cap, "%" PRIu32 ".%03" PRIu32, milli / 1000, milli % 1000);

	while (n > 0 && (size_t)n < cap && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && (size_t)n < cap && buf[n - 1] == '.')
		buf[--n] = '\0';
}

uint64_t report_serial_us(const struct proto_done *d)
{
	return d->sum_us + d->cook_us;
}

static int report_mode_known(int mode)
{
	return mode == MODE_SYNC || mode == MODE_ASYNC || mode == MODE_OFFLOAD;
}

static const char *report_mode(int mode)
{
	return report_mode_known(mode) ? proto_mode_name((enum proto_mode)mode) : "?";
}

/* Plain lines keep their columns: at least "async"'s width, wider once an
 * offload run is among them. */
static int report_mode_width(const struct report_widths *w)
{
	return w->mode > 5 ? w->mode : 5;
}

/* Microseconds as whole milliseconds, rounded ("601"). */
static void report_format_whole_ms(char *buf, size_t cap, uint64_t us)
{
	snprintf(buf, cap, "%" PRIu64, us / 1000 + (us % 1000 >= 500));
}

void report_json_string(struct strbuf *b, const char *s)
{
	strbuf_addch(b, '"', 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			strbuf_printf(b, "\\%c", c);
		else if (c == '\n')
			strbuf_puts(b, "\\n");
		else if (c == '\t')
			strbuf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_printf(b, "\\u%04x", c);
		else
			strbuf_addch(b, (char)c, 1);
	}
	strbuf_addch(b, '"', 1);
}

static void report_json_mode(struct strbuf *b, int mode)
{
	if (report_mode_known(mode))
		strbuf_printf(b, "\"%s\"", report_mode(mode));
	else
		strbuf_puts(b, "null");
}

/* "key":<us as ms with three decimals>, or null when us is negative. */
static void report_json_ms(struct strbuf *b, const char *key, int64_t us)
{
	char ms[REPORT_NUM];

	if (us < 0) {
		strbuf_printf(b, ",\"%s\":null", key);
		return;
	}
	duration_format_ms(ms, sizeof ms, (uint64_t)us);
	strbuf_printf(b, ",\"%s\":%s", key, ms);
}

void report_plain_started(struct strbuf *b, const struct report_widths *w, uint64_t run,
                          int mode, uint32_t orders)
{
	strbuf_printf(b, "%-*s run=%-*" PRIu64 "  started  %" PRIu32 " order%s\n",
	              report_mode_width(w), report_mode(mode), w->run, run, orders,
	              orders == 1 ? "" : "s");
}

void report_plain_event(struct strbuf *b, const struct report_widths *w, int mode,
                        const struct proto_event *ev)
{
	char ms[REPORT_NUM];

	duration_format_ms(ms, sizeof ms, ev->t_us);
	strbuf_printf(b, "%-*s run=%-*" PRIu64 "  %-*s  %-9s %10s ms\n", report_mode_width(w),
	              report_mode(mode), w->run, ev->run, w->name, ev->name,
	              proto_step_name(ev->step), ms);
}

void report_plain_done(struct strbuf *b, const struct report_widths *w, const struct proto_done *d)
{
	char el[REPORT_NUM], id[REPORT_NUM], over[REPORT_NUM], sp[REPORT_NUM];

	strbuf_printf(b, "%-*s run=%-*" PRIu64 "  %s  %" PRIu32 " order%s", report_mode_width(w),
	              report_mode((int)d->mode), w->run, d->run, proto_status_name(d->status),
	              d->orders, d->orders == 1 ? "" : "s");
	duration_format_ms(id, sizeof id, d->ideal_us);
	if (d->elapsed_us >= 0) {
		duration_format_ms(el, sizeof el, (uint64_t)d->elapsed_us);
		strbuf_printf(b, "  elapsed %s ms  ideal %s ms", el, id);
		if (d->status == RUN_DONE) {
			report_format_signed_ms(over, sizeof over, d->elapsed_us - (int64_t)d->ideal_us);
			report_format_speedup(sp, sizeof sp, report_serial_us(d), d->elapsed_us);
			strbuf_printf(b, "  overhead %s ms  speed-up %sx", over, sp);
		} else {
			/* Cut short: its time says nothing of how fast it ran. */
			strbuf_puts(b, "  overhead -  speed-up -");
		}
	} else {
		strbuf_printf(b, "  ideal %s ms", id);
	}
	if (d->cook_us > 0) {
		duration_format_ms(el, sizeof el, d->cook_us);
		duration_format_ms(id, sizeof id, d->blocked_us);
		duration_format_ms(over, sizeof over, d->caused_us);
		strbuf_printf(b, "  cook %s ms  blocked %s ms  caused %s ms", el, id, over);
	}
	strbuf_addch(b, '\n', 1);
}

void report_plain_lagged(struct strbuf *b, uint64_t dropped, uint64_t missed,
                         const char *session, uint64_t last_seq)
{
	if (dropped)
		strbuf_printf(b, "lagged: the server dropped %" PRIu64 " live events", dropped);
	else
		strbuf_printf(b, "lagged: the session no longer holds %" PRIu64 " events", missed);
	strbuf_printf(b, " (the database has them; baedal attach %s --since %" PRIu64 ")\n", session,
	              last_seq);
}

void report_json_hello(struct strbuf *b, const char *session, const char *server)
{
	strbuf_puts(b, "{\"type\":\"hello\",\"session\":");
	report_json_string(b, session);
	strbuf_puts(b, ",\"server\":");
	report_json_string(b, server);
	strbuf_puts(b, "}\n");
}

void report_json_run(struct strbuf *b, uint64_t run, int mode, uint32_t orders)
{
	strbuf_printf(b, "{\"type\":\"run\",\"run\":%" PRIu64 ",\"mode\":", run);
	report_json_mode(b, mode);
	strbuf_printf(b, ",\"orders\":%" PRIu32 "}\n", orders);
}

void report_json_replay(struct strbuf *b, uint64_t run, int mode, uint32_t orders,
                        uint32_t speed_milli)
{
	char speed[32];

	report_format_speed(speed, sizeof speed, speed_milli);
	strbuf_printf(b, "{\"type\":\"replay\",\"run\":%" PRIu64 ",\"mode\":", run);
	report_json_mode(b, mode);
	strbuf_printf(b, ",\"orders\":%" PRIu32 ",\"speed\":%s}\n", orders, speed);
}

void report_json_attached(struct strbuf *b, const char *session, uint64_t seq,
                          const uint64_t *active, size_t nactive)
{
	strbuf_puts(b, "{\"type\":\"attached\",\"session\":");
	report_json_string(b, session);
	strbuf_printf(b, ",\"seq\":%" PRIu64 ",\"active\":[", seq);
	for (size_t i = 0; i < nactive; i++)
		strbuf_printf(b, "%s%" PRIu64, i ? "," : "", active[i]);
	strbuf_puts(b, "]}\n");
}

void report_json_event(struct strbuf *b, int mode, const struct proto_event *ev)
{
	strbuf_printf(b, "{\"type\":\"event\",\"seq\":%" PRIu64 ",\"run\":%" PRIu64 ",\"mode\":",
	              ev->seq, ev->run);
	report_json_mode(b, mode);
	strbuf_printf(b, ",\"order\":%" PRIu32 ",\"name\":", ev->order);
	report_json_string(b, ev->name);
	strbuf_printf(b, ",\"step\":\"%s\",\"t_us\":%" PRIu64, proto_step_name(ev->step), ev->t_us);
	report_json_ms(b, "t_ms", (int64_t)ev->t_us);
	strbuf_puts(b, "}\n");
}

/* The keys a DONE object and a RUNINFO object share. */
static void report_json_run_fields(struct strbuf *b, const struct proto_done *d)
{
	strbuf_printf(b, ",\"run\":%" PRIu64 ",\"mode\":", d->run);
	report_json_mode(b, (int)d->mode);
	strbuf_printf(b, ",\"orders\":%" PRIu32 ",\"status\":\"%s\",\"elapsed_us\":", d->orders,
	              proto_status_name(d->status));
	if (d->elapsed_us >= 0)
		strbuf_printf(b, "%" PRId64, d->elapsed_us);
	else
		strbuf_puts(b, "null");
	strbuf_printf(b, ",\"ideal_us\":%" PRIu64, d->ideal_us);
	report_json_ms(b, "elapsed_ms", d->elapsed_us);
	report_json_ms(b, "ideal_ms", (int64_t)d->ideal_us);
}

void report_json_done(struct strbuf *b, const struct proto_done *d)
{
	char over[REPORT_NUM], sp[REPORT_NUM];

	strbuf_printf(b, "{\"type\":\"done\",\"seq\":%" PRIu64, d->seq);
	report_json_run_fields(b, d);
	if (d->elapsed_us >= 0 && d->status == RUN_DONE) {
		report_format_signed_ms(over, sizeof over, d->elapsed_us - (int64_t)d->ideal_us);
		report_format_speedup(sp, sizeof sp, report_serial_us(d), d->elapsed_us);
		/* JSON numbers take no leading '+'. */
		strbuf_printf(b, ",\"overhead_ms\":%s,\"speedup\":%s", over[0] == '+' ? over + 1 : over,
		              sp[0] == '-' ? "null" : sp);
	} else {
		strbuf_puts(b, ",\"overhead_ms\":null,\"speedup\":null");
	}
	report_json_ms(b, "sum_ms", (int64_t)d->sum_us);
	report_json_ms(b, "max_ms", (int64_t)d->max_us);
	/* Only a run that cooked has these, as only its DONE line does. */
	if (d->cook_us > 0) {
		report_json_ms(b, "cook_ms", (int64_t)d->cook_us);
		report_json_ms(b, "blocked_ms", (int64_t)d->blocked_us);
		report_json_ms(b, "caused_ms", (int64_t)d->caused_us);
	}
	/* Likewise a run with riders or a deadline, and one that was cut
	 * short (cancelled, timed out): how many orders it got through. */
	if (d->riders > 0)
		strbuf_printf(b, ",\"riders\":%" PRIu32, d->riders);
	if (d->deadline_us > 0)
		report_json_ms(b, "deadline_ms", (int64_t)d->deadline_us);
	if (d->status == RUN_CANCELLED || d->status == RUN_TIMED_OUT)
		strbuf_printf(b, ",\"collected\":%" PRIu32 ",\"cancelled\":%" PRIu32, d->collected,
		              d->cancelled);
	strbuf_puts(b, "}\n");
}

void report_json_lagged(struct strbuf *b, uint64_t dropped, uint64_t missed)
{
	strbuf_printf(b, "{\"type\":\"lagged\",\"dropped\":%" PRIu64 ",\"missed\":%" PRIu64 "}\n",
	              dropped, missed);
}

void report_json_runinfo(struct strbuf *b, const struct proto_done *d)
{
	strbuf_puts(b, "{\"type\":\"runinfo\"");
	report_json_run_fields(b, d);
	strbuf_puts(b, "}\n");
}

#define REPORT_COLS 9

struct report_col {
	const char *head;
	int right;              /* values right-aligned (numbers) */
	int min, gap;           /* value width at least; spaces after the column */
};

/* Fills a row's cells; returns how many: fewer than the columns when the
 * last one says something instead of numbers ("interrupted"). */
typedef int (*report_cells_fn)(const struct proto_done *d, int64_t base_us,
                               char cells[][REPORT_NUM]);

/* A table fits an 80-column terminal: wide figures (a slow machine's
 * overheads, seconds of lateness) take their room from the widest gaps
 * between columns, down to one space each; of gaps as wide, first the
 * rightmost after a column wider than its head, so that heads stay two
 * spaces apart as long as they can. */
#define REPORT_FIT 79

static void report_fit_gaps(const struct report_col *cols, int ncols, const int *width, int *gap)
{
	int total = 0;
	for (int c = 0; c < ncols; c++) {
		gap[c] = c + 1 < ncols ? cols[c].gap : 0;
		total += width[c] + gap[c];
	}
	while (total > REPORT_FIT) {
		int best = 0, best_score = -1;
		for (int c = 0; c + 1 < ncols; c++) {
			int score = 2 * gap[c] + (width[c] > (int)strlen(cols[c].head));
			if (score >= best_score) {
				best = c;
				best_score = score;
			}
		}
		if (gap[best] <= 1)
			break;
		gap[best]--;
		total--;
	}
}

/* base_us goes to fill: the sync run's elapsed of a cook table, or 0. */
static void report_table(struct strbuf *b, const struct report_col *cols, int ncols,
                         report_cells_fn fill, int64_t base_us, const struct proto_done *rows,
                         size_t n)
{
	int width[REPORT_COLS], gap[REPORT_COLS];
	char cells[REPORT_COLS][REPORT_NUM];

	/* A column is at least as wide as its head, so that heads stay apart
	 * (the last one's head has nothing after it). */
	for (int c = 0; c < ncols; c++) {
		int head = c + 1 < ncols ? (int)strlen(cols[c].head) : 0;
		width[c] = cols[c].min > head ? cols[c].min : head;
	}
	for (size_t r = 0; r < n; r++) {
		int k = fill(&rows[r], base_us, cells);
		/* A short row's last cell (its status) may run past its column. */
		for (int c = 0; c < k - (k < ncols); c++)
			if ((int)strlen(cells[c]) > width[c])
				width[c] = (int)strlen(cells[c]);
	}
	report_fit_gaps(cols, ncols, width, gap);
	for (int c = 0; c + 1 < ncols; c++)
		strbuf_printf(b, "%-*s", width[c] + gap[c], cols[c].head);
	strbuf_printf(b, "%s\n", cols[ncols - 1].head);
	for (size_t r = 0; r < n; r++) {
		int k = fill(&rows[r], base_us, cells);
		for (int c = 0; c < k; c++) {
			int w = c + 1 < k || k == ncols ? width[c] : 0;
			int pad = c + 1 < k ? gap[c] : 0;
			strbuf_printf(b, cols[c].right ? "%*s%*s" : "%-*s%*s", w, cells[c], pad, "");
		}
		strbuf_addch(b, '\n', 1);
	}
}

static int report_totals_cells(const struct proto_done *d, int64_t base_us,
                               char cells[][REPORT_NUM])
{
	char num[REPORT_VAL];

	(void)base_us;
	if (d->riders)
		snprintf(cells[0], REPORT_NUM, "%s, %" PRIu32 " rider%s", report_mode((int)d->mode),
		         d->riders, d->riders == 1 ? "" : "s");
	else
		snprintf(cells[0], REPORT_NUM, "%s", report_mode((int)d->mode));
	snprintf(cells[1], REPORT_NUM, "%" PRIu32, d->orders);
	if (d->status != RUN_DONE || d->elapsed_us < 0) {
		snprintf(cells[2], REPORT_NUM, "%s", proto_status_name(d->status));
		return 3;
	}
	report_format_seconds(num, sizeof num, d->elapsed_us);
	snprintf(cells[2], REPORT_NUM, "%s s", num);
	report_format_seconds(num, sizeof num, (int64_t)d->ideal_us);
	snprintf(cells[3], REPORT_NUM, "%s s", num);
	report_format_signed_ms(num, sizeof num, d->elapsed_us - (int64_t)d->ideal_us);
	snprintf(cells[4], REPORT_NUM, "%s ms", num);
	report_format_speedup(num, sizeof num, report_serial_us(d), d->elapsed_us);
	snprintf(cells[5], REPORT_NUM, "%sx", num);
	return 6;
}

/* Signed whole milliseconds, rounded ("+28", "-3"). */
static void report_format_signed_whole_ms(char *buf, size_t cap, int64_t us)
{
	uint64_t mag = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
	char digits[24];         /* the largest uint64 in ms: 17 digits */

	report_format_whole_ms(digits, sizeof digits, mag);
	snprintf(buf, cap, "%c%s", us < 0 ? '-' : '+', digits);
}

/* A row of a table of runs that cooked, in whole ms so that it fits 80
 * columns: what cooking cost (the cooks' CPU time, how long they held the
 * server's event loop, how late that made any timer), and the speed-up
 * against the sync run's elapsed when there is one (base_us > 0): that
 * run is the baseline, 1.00x, whatever its own overhead. */
static int report_cook_cells(const struct proto_done *d, int64_t base_us,
                             char cells[][REPORT_NUM])
{
	char num[REPORT_VAL];
	int k = report_totals_cells(d, 0, cells);

	if (k < 6)
		return k;
	report_format_signed_whole_ms(num, sizeof num, d->elapsed_us - (int64_t)d->ideal_us);
	snprintf(cells[4], REPORT_NUM, "%s ms", num);
	if (base_us > 0)
		snprintf(cells[5], REPORT_NUM, "%.2fx", (double)base_us / (double)d->elapsed_us);
	report_format_whole_ms(num, sizeof num, d->cook_us);
	snprintf(cells[6], REPORT_NUM, "%s ms", num);
	report_format_whole_ms(num, sizeof num, d->blocked_us);
	snprintf(cells[7], REPORT_NUM, "%s ms", num);
	report_format_whole_ms(num, sizeof num, d->caused_us);
	snprintf(cells[8], REPORT_NUM, "%s ms", num);
	return 9;
}

/* The elapsed of the table's sync run that cooked and ended, the baseline
 * of the others; 0 when there is none. */
static int64_t report_sync_base(const struct proto_done *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].mode == MODE_SYNC && rows[i].cook_us > 0 && rows[i].status == RUN_DONE &&
		    rows[i].elapsed_us > 0)
			return rows[i].elapsed_us;
	return 0;
}

/* What the table shows, said from its own figures: what async's cooking
 * on the loop cost, and whether offload's did. */
static void report_cook_notes(struct strbuf *b, const struct proto_done *rows, size_t n,
                              int64_t base_us)
{
	char held[REPORT_VAL], late[REPORT_VAL];

	if (base_us > 0)
		strbuf_puts(b, "vs sync: how many times sooner than the sync run each run ended.\n");
	for (size_t i = 0; i < n; i++) {
		const struct proto_done *d = &rows[i];
		if (d->cook_us == 0 || d->status != RUN_DONE || d->mode == MODE_SYNC)
			continue;
		report_format_whole_ms(held, sizeof held, d->blocked_us);
		report_format_whole_ms(late, sizeof late, d->caused_us);
		if (d->blocked_us > 0 && d->caused_us > 0)
			strbuf_printf(b, "%s's cooks held the loop %s ms: meals due then ended up "
			              "to %s ms late.\n", report_mode((int)d->mode), held, late);
		else if (d->blocked_us > 0)
			strbuf_printf(b, "%s's cooks held the loop %s ms, but no meal came due "
			              "then: none was late.\n", report_mode((int)d->mode), held);
		else if (d->caused_us == 0)
			strbuf_printf(b, "%s cooked on worker threads: the loop stayed free, no meal "
			              "was late.\n", report_mode((int)d->mode));
	}
}

void report_totals(struct strbuf *b, const struct proto_done *rows, size_t n)
{
	static const struct report_col cols[] = {
		{ "mode", 0, 5, 2 },    { "orders", 0, 6, 2 },   { "elapsed", 1, 8, 4 },
		{ "ideal", 1, 8, 4 },   { "overhead", 1, 9, 2 }, { "speed-up", 1, 5, 0 },
	};
	static const struct report_col cook_cols[] = {
		{ "mode", 0, 5, 2 },    { "orders", 0, 6, 2 },   { "elapsed", 1, 8, 2 },
		{ "ideal", 1, 8, 2 },   { "overhead", 1, 8, 2 }, { "speed-up", 1, 7, 2 },
		{ "cook", 1, 6, 2 },    { "blocked", 1, 7, 2 },  { "caused", 1, 6, 0 },
	};
	struct report_col vs_cols[9];
	int64_t base;
	int cooked = 0;

	for (size_t i = 0; i < n; i++)
		cooked |= rows[i].cook_us > 0;
	if (!cooked) {
		report_table(b, cols, 6, report_totals_cells, 0, rows, n);
		return;
	}
	base = report_sync_base(rows, n);
	memcpy(vs_cols, cook_cols, sizeof vs_cols);
	if (base > 0)
		vs_cols[5].head = "vs sync";
	report_table(b, vs_cols, 9, report_cook_cells, base, rows, n);
	report_cook_notes(b, rows, n, base);
}

static int report_runs_cells(const struct proto_done *d, int64_t base_us,
                             char cells[][REPORT_NUM])
{
	char num[REPORT_VAL];

	(void)base_us;
	snprintf(cells[0], REPORT_NUM, "%" PRIu64, d->run);
	snprintf(cells[1], REPORT_NUM, "%s", report_mode((int)d->mode));
	snprintf(cells[2], REPORT_NUM, "%" PRIu32, d->orders);
	snprintf(cells[3], REPORT_NUM, "%s", proto_status_name(d->status));
	if (d->elapsed_us >= 0) {
		report_format_seconds(num, sizeof num, d->elapsed_us);
		snprintf(cells[4], REPORT_NUM, "%s s", num);
	} else {
		snprintf(cells[4], REPORT_NUM, "-");
	}
	report_format_seconds(num, sizeof num, (int64_t)d->ideal_us);
	snprintf(cells[5], REPORT_NUM, "%s s", num);
	return 6;
}

void report_runs_table(struct strbuf *b, const struct proto_done *rows, size_t n)
{
	static const struct report_col cols[] = {
		{ "run", 0, 3, 2 },    { "mode", 0, 5, 2 },    { "orders", 0, 6, 2 },
		{ "status", 0, 11, 2 }, { "elapsed", 1, 8, 4 }, { "ideal", 1, 8, 0 },
	};
	report_table(b, cols, 6, report_runs_cells, 0, rows, n);
}
