#include "client/top_view.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/report.h"

#define TOP_LINE 160
#define TOP_RED "\033[31m"
#define TOP_BOLD "\033[1m"
#define TOP_RESET "\033[0m"

/* The frame being built: its lines are cut to the width as they are
 * added, and colored whole, so that no escape is ever cut. */
struct top_frame {
	const struct top_view_opts *o;
	struct strbuf *out;
	int lines, max_lines;
};

__attribute__((format(printf, 3, 4)))
static void top_line(struct top_frame *f, const char *color, const char *fmt, ...)
{
	char line[TOP_LINE];
	va_list ap;
	int cols = f->o->width > 1 ? f->o->width - 1 : 1;

	if (f->lines >= f->max_lines)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if ((int)strlen(line) > cols)
		line[cols] = '\0';
	if (color && f->o->color)
		strbuf_printf(f->out, "%s%s" TOP_RESET "\033[K\n", color, line);
	else
		strbuf_printf(f->out, "%s\033[K\n", line);
	f->lines++;
}

/* Orders started and not cooking on a worker: on their meal's timer. */
static uint64_t top_on_timer(const struct stats *s)
{
	uint64_t pool = s->queued + s->cooking;
	return s->on_timer > pool ? s->on_timer - pool : 0;
}

static void top_frame_loop(struct top_frame *f, const struct stats *s)
{
	char a[24], b[24], c[24], d[24];

	stats_format_time(a, sizeof a, s->stalled_us);
	top_line(f, NULL, "loop    busy %5.1f %%   %" PRIu64 " iterations   %" PRIu64
	         " stall%s (%s held)", stats_utilisation(s), s->iterations, s->stalls,
	         s->stalls == 1 ? "" : "s", a);
	stats_format_time(a, sizeof a, s->recent_p50);
	stats_format_time(b, sizeof b, s->recent_p99);
	stats_format_time(c, sizeof c, s->recent_max);
	top_line(f, s->recent_max >= s->warn_stall_us && s->recent_count ? TOP_RED : NULL,
	         "lag     last 10 s: p50 %s  p99 %s  max %s  (%" PRIu64 " samples)", a, b, c,
	         s->recent_count);
	stats_format_time(a, sizeof a, s->lag_p50);
	stats_format_time(b, sizeof b, s->lag_p99);
	stats_format_time(c, sizeof c, s->lag_p999);
	stats_format_time(d, sizeof d, s->lag_max);
	top_line(f, NULL, "        all time:  p50 %s  p99 %s  p999 %s  max %s", a, b, c, d);
	if (f->o->unanswered_us > 0) {
		stats_format_time(a, sizeof a, f->o->unanswered_us);
		top_line(f, TOP_RED, "        HELD: no answer for %s (something cooks on the loop)", a);
	}
}

static void top_frame_work(struct top_frame *f, const struct stats *s)
{
	top_line(f, NULL, "runs    sync %" PRIu64 "  async %" PRIu64 "  offload %" PRIu64
	         "   connections %" PRIu64 "  sessions %" PRIu64, s->runs[0], s->runs[1],
	         s->runs[2], s->connections, s->sessions);
	if (s->has_orders)
		top_line(f, NULL, "orders  %" PRIu64 " in flight: sync %" PRIu64 "  async %" PRIu64
		         "  offload %" PRIu64, s->orders, s->orders_by_mode[0], s->orders_by_mode[1],
		         s->orders_by_mode[2]);
	else
		top_line(f, NULL, "orders  %" PRIu64 " in flight", s->orders);
	top_line(f, NULL, "        on a timer %" PRIu64 "  waiting %" PRIu64 "  on the loop %s"
	         "  queued for a worker %" PRIu64, top_on_timer(s), s->waiting,
	         f->o->unanswered_us > 0 ? "1 (held)" : "0", s->queued);
	top_line(f, NULL, "        cooking on a worker %" PRIu64 " of %" PRIu64 " workers",
	         s->cooking, s->workers);
}

static void top_frame_store(struct top_frame *f, const struct stats *s)
{
	char a[24], b[24];

	stats_format_time(a, sizeof a, s->store_lag_us);
	stats_format_time(b, sizeof b, s->commit_p99);
	top_line(f, NULL, "store   lag %s  queue %" PRIu64 " rows  %" PRIu64 " commits (%"
	         PRIu64 " rows)  commit p99 %s", a, s->store_queue, s->commits, s->rows, b);
}

static void top_frame_stalls(struct top_frame *f, const struct stats *s)
{
	char held[24], ago[24], warn[24];

	stats_format_time(warn, sizeof warn, s->warn_stall_us);
	if (s->nrecent == 0) {
		top_line(f, NULL, "stalls  none (a stall: one callback holding the loop %s or more)",
		         warn);
		return;
	}
	top_line(f, NULL, "stalls  the last %zu, newest first (held %s or more):", s->nrecent,
	         warn);
	for (size_t i = s->nrecent; i-- > 0;) {
		const struct stats_stall *st = &s->recent[i];
		stats_format_time(held, sizeof held, st->held_us);
		stats_format_time(ago, sizeof ago, st->ago_us);
		if (st->run)
			top_line(f, TOP_RED, "  #%-4" PRIu64 " %9s  %-5s run %" PRIu64 " order %" PRIu32
			         "   %s ago", st->id, held, st->cause, st->run, st->order, ago);
		else
			top_line(f, TOP_RED, "  #%-4" PRIu64 " %9s  %-5s   %s ago", st->id, held,
			         st->cause, ago);
	}
}

int top_view_frame(const struct stats *s, const struct top_view_opts *o, struct strbuf *out)
{
	struct top_frame f = { .o = o, .out = out, .max_lines = o->height > 2 ? o->height - 1 : 1 };
	char up[24], every[24];

	stats_format_time(up, sizeof up, s->uptime_us);
	stats_format_time(every, sizeof every, o->interval_us);
	top_line(&f, TOP_BOLD, "baedal top  %s  up %s  every %s  (Ctrl-C quits)", o->server, up,
	         every);
	top_frame_loop(&f, s);
	top_frame_work(&f, s);
	top_frame_store(&f, s);
	top_frame_stalls(&f, s);
	return f.lines;
}

void top_view_plain(const struct stats *s, struct strbuf *out)
{
	strbuf_printf(out, "busy=%.1f%% lag_p50=%" PRIu64 "us lag_p99=%" PRIu64 "us lag_max=%"
	              PRIu64 "us stalls=%" PRIu64 " runs=%" PRIu64 "/%" PRIu64 "/%" PRIu64
	              " orders=%" PRIu64 " timer=%" PRIu64 " waiting=%" PRIu64 " queued=%" PRIu64
	              " cooking=%" PRIu64 " store_lag=%" PRIu64 "us\n", stats_utilisation(s),
	              s->recent_p50, s->recent_p99, s->recent_max, s->stalls, s->runs[0],
	              s->runs[1], s->runs[2], s->orders, top_on_timer(s), s->waiting, s->queued,
	              s->cooking, s->store_lag_us);
}

void top_view_plain_stalls(const struct stats *s, uint64_t after, struct strbuf *out)
{
	for (size_t i = 0; i < s->nrecent; i++)
		if (s->recent[i].id > after)
			strbuf_printf(out, "stall id=%" PRIu64 " held=%" PRIu64 "us cause=%s run=%" PRIu64
			              " order=%" PRIu32 "\n", s->recent[i].id, s->recent[i].held_us,
			              s->recent[i].cause, s->recent[i].run, s->recent[i].order);
}

static void top_json_stalls(const struct stats *s, struct strbuf *out)
{
	strbuf_puts(out, ",\"recent_stalls\":[");
	for (size_t i = 0; i < s->nrecent; i++) {
		const struct stats_stall *st = &s->recent[i];
		strbuf_printf(out, "%s{\"id\":%" PRIu64 ",\"held_us\":%" PRIu64 ",\"cause\":",
		              i ? "," : "", st->id, st->held_us);
		report_json_string(out, st->cause);
		strbuf_printf(out, ",\"run\":%" PRIu64 ",\"order\":%" PRIu32 ",\"ago_us\":%" PRIu64
		              ",\"start_wall_us\":%" PRId64 "}", st->run, st->order, st->ago_us,
		              st->start_wall_us);
	}
	strbuf_puts(out, "]");
}

void top_view_json(const struct stats *s, struct strbuf *out)
{
	strbuf_printf(out, "{\"type\":\"stats\",\"uptime_us\":%" PRIu64 ",\"busy_us\":%" PRIu64
	              ",\"utilisation\":%.4f,\"iterations\":%" PRIu64 ",\"stalls\":%" PRIu64
	              ",\"stalled_us\":%" PRIu64 ",\"warn_stall_us\":%" PRIu64, s->uptime_us,
	              s->busy_us, stats_utilisation(s) / 100.0, s->iterations, s->stalls,
	              s->stalled_us, s->warn_stall_us);
	strbuf_printf(out, ",\"lag\":{\"count\":%" PRIu64 ",\"p50_us\":%" PRIu64 ",\"p99_us\":%"
	              PRIu64 ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64 "}", s->lag_count,
	              s->lag_p50, s->lag_p99, s->lag_p999, s->lag_max);
	strbuf_printf(out, ",\"lag_10s\":{\"count\":%" PRIu64 ",\"p50_us\":%" PRIu64 ",\"p99_us\":%"
	              PRIu64 ",\"max_us\":%" PRIu64 "}", s->recent_count, s->recent_p50,
	              s->recent_p99, s->recent_max);
	strbuf_printf(out, ",\"runs\":{\"sync\":%" PRIu64 ",\"async\":%" PRIu64 ",\"offload\":%"
	              PRIu64 "}", s->runs[0], s->runs[1], s->runs[2]);
	strbuf_printf(out, ",\"orders\":{\"in_flight\":%" PRIu64 ",\"sync\":%" PRIu64 ",\"async\":%"
	              PRIu64 ",\"offload\":%" PRIu64 ",\"on_timer\":%" PRIu64 ",\"waiting\":%" PRIu64
	              ",\"queued\":%" PRIu64 ",\"cooking\":%" PRIu64 "}", s->orders,
	              s->orders_by_mode[0], s->orders_by_mode[1], s->orders_by_mode[2],
	              top_on_timer(s), s->waiting, s->queued, s->cooking);
	strbuf_printf(out, ",\"workers\":%" PRIu64 ",\"connections\":%" PRIu64 ",\"sessions\":%"
	              PRIu64, s->workers, s->connections, s->sessions);
	strbuf_printf(out, ",\"store\":{\"queue\":%" PRIu64 ",\"lag_us\":%" PRIu64 ",\"commits\":%"
	              PRIu64 ",\"rows\":%" PRIu64 ",\"commit_p50_us\":%" PRIu64 ",\"commit_p99_us\":%"
	              PRIu64 ",\"commit_max_us\":%" PRIu64 "}", s->store_queue, s->store_lag_us,
	              s->commits, s->rows, s->commit_p50, s->commit_p99, s->commit_max);
	top_json_stalls(s, out);
	strbuf_puts(out, "}\n");
}
