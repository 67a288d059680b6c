#include "server/export.h"

#include <inttypes.h>
#include <stdio.h>
#include <event2/buffer.h>

/* The picture's geometry, in SVG user units. The colours are the page's
 * (server/web/style.css), so that both show one picture. */
#define SVG_WIDTH 960
#define SVG_LABEL 110
#define SVG_RIGHT 20
#define SVG_ROW 18
#define SVG_BAR 12
#define SVG_HEAD 26
#define SVG_AXIS 28
#define SVG_PLOT (SVG_WIDTH - SVG_LABEL - SVG_RIGHT)

struct svg_scale {
	int64_t span_us;
	int64_t tick_us;
};

static double svg_x(const struct svg_scale *sc, int64_t t_us)
{
	return SVG_LABEL + (double)SVG_PLOT * (double)t_us / (double)sc->span_us;
}

/* A tick every 1, 2 or 5 times a power of ten, about ten of them. */
static int64_t svg_tick(int64_t span_us)
{
	int64_t step = 1;
	while (step * 10 < span_us) {
		if (step * 20 >= span_us)
			return step * 2;
		if (step * 50 >= span_us)
			return step * 5;
		step *= 10;
	}
	return step;
}

static void svg_seconds(char *buf, size_t cap, int64_t us)
{
	if (us >= 1000000 || us == 0)
		snprintf(buf, cap, "%.2f s", (double)us / 1e6);
	else
		snprintf(buf, cap, "%.1f ms", (double)us / 1e3);
}

static void svg_bar(struct evbuffer *out, const struct svg_scale *sc, int y, int64_t from,
                    int64_t to, const char *cls, const char *title)
{
	double x0 = svg_x(sc, from), x1 = svg_x(sc, to);
	evbuffer_add_printf(out, "<rect class=\"%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\">"
	                    "<title>%s</title></rect>\n", cls, x0, y + (SVG_ROW - SVG_BAR) / 2,
	                    x1 - x0 < 1 ? 1 : x1 - x0, SVG_BAR, title);
}

static void svg_order(struct evbuffer *out, const struct svg_scale *sc, int y,
                      const struct export_run *r, const struct export_order *o)
{
	int64_t d = o->t_us[STEP_DELIVERED], e = o->t_us[STEP_EATEN], c = o->t_us[STEP_COLLECTED];
	int64_t k = o->t_us[STEP_COOKED];
	int64_t cook = o->cook_us && k >= 0 ? (k > (int64_t)o->cook_us ? k - (int64_t)o->cook_us : 0)
	                                    : -1;
	int64_t first = cook >= 0 ? cook : d;
	char title[96];

	evbuffer_add_printf(out, "<text class=\"name\" x=\"%d\" y=\"%d\">", SVG_LABEL - 6,
	                    y + SVG_ROW - 5);
	evbuffer_add_printf(out, "%s</text>\n", o->name);
	if (first > 0)
		svg_bar(out, sc, y, 0, first, "waiting", "waiting");
	if (cook >= 0) {
		snprintf(title, sizeof title, "cooking %s", o->name);
		svg_bar(out, sc, y, cook, k, r->mode == MODE_ASYNC ? "cooking blocked" : "cooking",
		        title);
	}
	if (d >= 0 && e >= d) {
		svg_seconds(title, sizeof title, e - d);
		svg_bar(out, sc, y, d, e, "eating", title);
	} else if (d >= 0) {
		svg_bar(out, sc, y, d, sc->span_us, "eating open", "eating");
	}
	if (c >= 0)
		evbuffer_add_printf(out, "<rect class=\"collected\" x=\"%.1f\" y=\"%d\" width=\"2\" "
		                    "height=\"%d\"><title>collected</title></rect>\n", svg_x(sc, c), y + 1,
		                    SVG_ROW - 2);
}

static void svg_run_head(struct evbuffer *out, int y, const struct export_run *r, int64_t span)
{
	char el[32], ideal[32];
	svg_seconds(el, sizeof el, span);
	svg_seconds(ideal, sizeof ideal, (int64_t)r->ideal_us);
	evbuffer_add_printf(out, "<text class=\"run\" x=\"8\" y=\"%d\">run %" PRIu64 " · %s · %"
	                    PRIu32 " order%s · %s %s · ideal %s</text>\n", y + 17, r->id,
	                    proto_mode_name(r->mode), r->orders, r->orders == 1 ? "" : "s",
	                    r->status == RUN_DONE ? "elapsed" : proto_status_name(r->status), el,
	                    ideal);
}

/* The latest step of the drawn orders: an unfinished run's clock. */
static int64_t svg_latest(const struct export_svg_run *sr)
{
	int64_t latest = 0;
	for (size_t i = 0; i < sr->norders; i++) {
		for (int s = 0; s < EXPORT_STEPS; s++) {
			if (sr->orders[i].t_us[s] > latest)
				latest = sr->orders[i].t_us[s];
		}
	}
	return latest;
}

static int svg_run_height(const struct export_svg_run *sr)
{
	size_t rows = sr->norders + (sr->run->orders > sr->norders) + (sr->nstalls > 0);
	return SVG_HEAD + (int)rows * SVG_ROW + 8;
}

/* The loop's row: each stall that held every timer of the run, in red. */
static void svg_stalls(struct evbuffer *out, const struct svg_scale *sc, int y,
                       const struct export_svg_run *sr)
{
	char title[160], cause[96];
	evbuffer_add_printf(out, "<text class=\"name\" x=\"%d\" y=\"%d\">loop</text>\n",
	                    SVG_LABEL - 6, y + SVG_ROW - 5);
	for (size_t i = 0; i < sr->nstalls; i++) {
		int64_t from, to;
		export_stall_span(sr->run, &sr->stalls[i], &from, &to);
		if (from >= sc->span_us)
			continue;
		export_stall_cause(cause, sizeof cause, &sr->stalls[i]);
		snprintf(title, sizeof title, "loop stalled %.1f ms: %s",
		         (double)sr->stalls[i].duration_us / 1e3, cause);
		svg_bar(out, sc, y, from, to > sc->span_us ? sc->span_us : to, "stall", title);
	}
}

static void svg_axis(struct evbuffer *out, const struct svg_scale *sc, int top, int bottom)
{
	char label[32];
	for (int64_t t = 0; t <= sc->span_us; t += sc->tick_us) {
		double x = svg_x(sc, t);
		svg_seconds(label, sizeof label, t);
		evbuffer_add_printf(out, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
		                    "y2=\"%d\"/><text class=\"axis\" x=\"%.1f\" y=\"%d\">%s</text>\n",
		                    x, top, x, bottom, x, bottom + 14, label);
	}
}

static const char svg_style[] =
	"<style>text{font:12px sans-serif;fill:#222}.name{text-anchor:end}.run{font-weight:bold}"
	".axis{text-anchor:middle;fill:#666;font-size:11px}.tick{stroke:#ddd}"
	".waiting{fill:#d9d9d9}.cooking{fill:#f0a030}.blocked{fill:#d9534f}"
	".eating{fill:#4caf50}.open{opacity:.5}.collected{fill:#1f3f7f}.stall{fill:#a00}.more{fill:#666}</style>\n";

void export_svg(struct evbuffer *out, const struct export_svg_run *runs, size_t nruns)
{
	struct svg_scale sc = { .span_us = 1 };
	int rows_bottom = 4;
	for (size_t i = 0; i < nruns; i++) {
		int64_t span = export_run_span_us(runs[i].run, svg_latest(&runs[i]));
		if (span > sc.span_us)
			sc.span_us = span;
		rows_bottom += svg_run_height(&runs[i]);
	}
	int height = rows_bottom + SVG_AXIS + 24;
	sc.tick_us = svg_tick(sc.span_us);
	evbuffer_add_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	                    "height=\"%d\" viewBox=\"0 0 %d %d\">\n%s"
	                    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
	                    SVG_WIDTH, height, SVG_WIDTH, height, svg_style);
	/* The grid first, so that the bars are drawn over it. */
	svg_axis(out, &sc, 4, rows_bottom);
	int y = 4;
	for (size_t i = 0; i < nruns; i++) {
		const struct export_svg_run *sr = &runs[i];
		svg_run_head(out, y, sr->run, export_run_span_us(sr->run, svg_latest(sr)));
		y += SVG_HEAD;
		for (size_t k = 0; k < sr->norders; k++, y += SVG_ROW)
			svg_order(out, &sc, y, sr->run, &sr->orders[k]);
		if (sr->run->orders > sr->norders) {
			evbuffer_add_printf(out, "<text class=\"more\" x=\"%d\" y=\"%d\">and %" PRIu64
			                    " more orders: the trace (trace.json) has them all</text>\n",
			                    SVG_LABEL, y + SVG_ROW - 5,
			                    (uint64_t)(sr->run->orders - sr->norders));
			y += SVG_ROW;
		}
		if (sr->nstalls > 0) {
			svg_stalls(out, &sc, y, sr);
			y += SVG_ROW;
		}
		y += 8;
	}
	evbuffer_add_printf(out, "<g transform=\"translate(%d,%d)\">"
	                    "<rect class=\"waiting\" width=\"12\" height=\"10\"/><text x=\"16\" y=\"9\">waiting</text>"
	                    "<rect class=\"cooking\" x=\"80\" width=\"12\" height=\"10\"/><text x=\"96\" y=\"9\">cooking</text>"
	                    "<rect class=\"blocked\" x=\"160\" width=\"12\" height=\"10\"/><text x=\"176\" y=\"9\">cooking on the loop (blocks everyone)</text>"
	                    "<rect class=\"eating\" x=\"440\" width=\"12\" height=\"10\"/><text x=\"456\" y=\"9\">eating</text>"
	                    "<rect class=\"collected\" x=\"510\" width=\"2\" height=\"10\"/><text x=\"518\" y=\"9\">collected</text>"
	                    "</g>\n</svg>\n", SVG_LABEL, y + 22);
}
