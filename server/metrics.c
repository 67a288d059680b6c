/* The health figures as the world reads them: GET /metrics (Prometheus
 * text exposition) and the STATS command's lines. */
#include "server/health.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>

#include "server/clock.h"
#include "server/pool.h"
#include "server/run.h"
#include "server/conn.h"
#include "server/server.h"
#include "server/session.h"
#include "server/store.h"

/* What both views show, read once. */
struct metrics_view {
	uint64_t now_us, uptime_us, busy_us;
	uint64_t running[3];        /* runs running, by mode */
	uint64_t orders[3];         /* their orders not collected, by mode */
	uint64_t on_timer, waiting; /* started (cooking or eating); not yet */
	unsigned queued, cooking, workers;
	uint64_t store_rows, store_lag_us;
	struct store_commits commits;
};

/* Histograms too large for the stack of a callback; the loop answers one
 * request at a time. */
static struct histogram recent, lag;

static void metrics_count_run(struct metrics_view *v, const struct run *r)
{
	if (r->status != RUN_RUNNING || (unsigned)r->mode >= 3)
		return;
	v->running[r->mode]++;
	v->orders[r->mode] += r->norders - r->finished;
	/* Started and not collected: cooking, or out with a rider on its
	 * meal's timer, or (riders=) waiting for a rider, with the unstarted. */
	uint64_t out = r->riders ? r->riders_out : r->started - r->finished;
	v->on_timer += out;
	v->waiting += r->norders - r->finished - out;
}

static void metrics_read(const struct server *srv, struct metrics_view *v)
{
	struct health *h = srv->health;
	memset(v, 0, sizeof *v);
	v->now_us = clock_mono_us();
	v->uptime_us = v->now_us - h->start_us;
	v->busy_us = health_busy_us(h);
	lag = h->lag;
	histogram_merge(&lag, &h->timers);
	for (size_t i = 0; i < srv->nbuckets; i++)
		for (const struct session *s = srv->buckets[i]; s; s = s->next)
			for (size_t k = 0; k < s->nruns; k++)
				metrics_count_run(v, s->runs[k]);
	if (srv->pool)
		pool_gauges(srv->pool, &v->queued, &v->cooking);
	v->workers = srv->pool ? pool_workers(srv->pool) : 0;
	v->store_rows = store_backlog(srv->store);
	v->store_lag_us = health_store_lag_us(h, v->now_us);
	store_read_commits(srv->store, &v->commits);
}

/* The lag of the last HEALTH_WINDOW_S seconds, into `recent`. */
static void metrics_recent_lag(const struct health *h, uint64_t now_us)
{
	uint64_t sec = now_us / 1000000u;
	histogram_reset(&recent);
	for (unsigned i = 0; i < HEALTH_WINDOW_S; i++)
		if (h->window_sec[i] + HEALTH_WINDOW_S > sec)
			histogram_merge(&recent, &h->window[i]);
}

/* ---- Prometheus --------------------------------------------------------- */

static void prom_head(struct evbuffer *out, const char *name, const char *type,
                      const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_value(struct evbuffer *out, const char *name, const char *type,
                       const char *help, double value)
{
	prom_head(out, name, type, help);
	evbuffer_add_printf(out, "%s %.15g\n", name, value);
}

static void prom_histogram(struct evbuffer *out, const char *name, const char *help,
                           const struct histogram *hist)
{
	prom_head(out, name, "histogram", help);
	for (unsigned b = 0; b < HISTOGRAM_NBOUNDS; b++)
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
		                    (double)histogram_bounds_us[b] / 1e6, histogram_cumulative(hist, b));
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name,
	                    histogram_cumulative(hist, HISTOGRAM_NBOUNDS));
	evbuffer_add_printf(out, "%s_sum %.15g\n%s_count %" PRIu64 "\n", name,
	                    (double)hist->sum_us / 1e6, name, hist->count);
}

static void prom_loop(struct evbuffer *out, const struct health *h, const struct metrics_view *v)
{
	prom_value(out, "baedal_loop_busy_seconds_total", "counter",
	           "CPU time of the event loop's thread: running callbacks, not waiting.",
	           (double)v->busy_us / 1e6);
	prom_value(out, "baedal_loop_seconds_total", "counter",
	           "Wall time since the loop started; busy / this is the loop's utilisation.",
	           (double)v->uptime_us / 1e6);
	prom_value(out, "baedal_loop_iterations_total", "counter",
	           "Passes of the event loop: a wait for the kernel and the callbacks it woke.",
	           (double)h->iterations);
	prom_value(out, "baedal_loop_stalls_total", "counter",
	           "Callbacks that held the loop for --warn-stall or longer, since the process "
	           "started.", (double)h->stalls);
	prom_value(out, "baedal_loop_stalled_seconds_total", "counter",
	           "Time the loop was held by those stalls.", (double)h->stalled_us / 1e6);
	prom_histogram(out, "baedal_loop_lag_seconds",
	               "How late the loop ran what came due: order timers and a 10 ms probe.",
	               &lag);
	prom_histogram(out, "baedal_timer_lateness_seconds",
	               "How late each order's timer ran after its deadline.", &h->timers);
}

static void prom_work(struct evbuffer *out, const struct server *srv,
                      const struct metrics_view *v)
{
	static const enum run_status ended[] = { RUN_DONE, RUN_INTERRUPTED, RUN_CANCELLED,
	                                         RUN_TIMED_OUT };
	prom_value(out, "baedal_orders_in_flight", "gauge",
	           "Orders of the runs now running.", (double)srv->inflight);
	prom_head(out, "baedal_runs_in_flight", "gauge", "Runs now running, by mode.");
	for (int m = 0; m < 3; m++)
		evbuffer_add_printf(out, "baedal_runs_in_flight{mode=\"%s\"} %" PRIu64 "\n",
		                    proto_mode_name((enum proto_mode)m), v->running[m]);
	prom_head(out, "baedal_runs_total", "counter", "Runs that ended, by mode and status.");
	for (int m = 0; m < 3; m++)
		for (size_t i = 0; i < sizeof ended / sizeof ended[0]; i++)
			evbuffer_add_printf(out, "baedal_runs_total{mode=\"%s\",status=\"%s\"} %" PRIu64
			                    "\n", proto_mode_name((enum proto_mode)m),
			                    proto_status_name(ended[i]), srv->health->runs[m][ended[i]]);
	prom_value(out, "baedal_connections", "gauge", "Open client connections.",
	           (double)srv->nconns);
	prom_value(out, "baedal_sessions", "gauge", "Sessions held, attached or not.",
	           (double)srv->nsessions);
	prom_value(out, "baedal_client_output_bytes", "gauge",
	           "Output held for protocol clients that have not read it yet.",
	           (double)conn_output_total(srv));
	prom_value(out, "baedal_replays", "gauge", "REPLAYs under way.", (double)srv->nreplays);
	prom_value(out, "baedal_worker_queue_depth", "gauge",
	           "Cooks queued for a worker thread, not started.", (double)v->queued);
	prom_value(out, "baedal_workers_busy", "gauge", "Worker threads cooking now.",
	           (double)v->cooking);
	prom_value(out, "baedal_workers", "gauge", "Worker threads.", (double)v->workers);
}

static void prom_store(struct evbuffer *out, const struct metrics_view *v)
{
	prom_value(out, "baedal_store_queue_depth", "gauge",
	           "Rows queued for the database and not yet committed.", (double)v->store_rows);
	prom_value(out, "baedal_store_lag_seconds", "gauge",
	           "Age of the oldest record not yet committed (0: none).",
	           (double)v->store_lag_us / 1e6);
	prom_value(out, "baedal_store_commits_total", "counter", "Transactions the store ran.",
	           (double)v->commits.commits);
	prom_value(out, "baedal_store_rows_total", "counter",
	           "Rows those transactions wrote; / commits is the mean batch.",
	           (double)v->commits.rows);
	prom_histogram(out, "baedal_store_commit_seconds",
	               "Time of one transaction, from its BEGIN to its COMMIT.", &v->commits.time);
}

void health_write_metrics(struct evbuffer *out, const struct server *srv)
{
	static struct metrics_view v;
	metrics_read(srv, &v);
	prom_loop(out, srv->health, &v);
	prom_work(out, srv, &v);
	prom_store(out, &v);
	prom_head(out, "baedal_build_info", "gauge", "The server's version; always 1.");
	evbuffer_add_printf(out, "baedal_build_info{version=\"%s\"} 1\n", BAEDAL_VERSION);
}

/* ---- STATS -------------------------------------------------------------- */

#define STAT_SEND(send, arg, ...)                                             \
	do {                                                                      \
		char line_[PROTO_MAX_LINE];                                           \
		int n_ = snprintf(line_, sizeof line_, __VA_ARGS__);                  \
		if (n_ > 0 && (size_t)n_ < sizeof line_)                              \
			send(arg, line_, n_);                                             \
	} while (0)

static void stats_stalls(const struct health *h, uint64_t now_us,
                         void (*send)(void *, const char *, int), void *arg)
{
	uint64_t kept = h->stalls < HEALTH_RECENT_STALLS ? h->stalls : HEALTH_RECENT_STALLS;
	for (uint64_t id = h->next_stall_id - kept; id < h->next_stall_id; id++) {
		const struct health_stall *st = health_stall_by_id(h, id);
		STAT_SEND(send, arg, "STALLED id=%" PRIu64 " start=%" PRId64 " ago=%" PRIu64
		          " held=%" PRIu64 " cause=%s run=%" PRIu64 " order=%" PRIu32 "\n", st->id,
		          st->wall_us, now_us - st->start_us, st->end_us - st->start_us,
		          health_cause_name(st->cause), st->run, st->order);
	}
}

void health_write_stats(const struct server *srv, void (*send)(void *, const char *, int),
                        void *arg)
{
	static struct metrics_view v;
	const struct health *h = srv->health;
	metrics_read(srv, &v);
	metrics_recent_lag(h, v.now_us);
	STAT_SEND(send, arg, "STAT loop uptime=%" PRIu64 " busy=%" PRIu64 " iterations=%" PRIu64
	          " stalls=%" PRIu64 " stalled=%" PRIu64 " warn_stall=%" PRIu64 "\n", v.uptime_us,
	          v.busy_us, h->iterations, h->stalls, h->stalled_us, h->warn_stall_us);
	STAT_SEND(send, arg, "STAT lag count=%" PRIu64 " p50=%" PRIu64 " p99=%" PRIu64
	          " p999=%" PRIu64 " max=%" PRIu64 " recent_count=%" PRIu64 " recent_p50=%" PRIu64
	          " recent_p99=%" PRIu64 " recent_max=%" PRIu64 "\n", lag.count,
	          histogram_percentile(&lag, 0.5), histogram_percentile(&lag, 0.99),
	          histogram_percentile(&lag, 0.999), lag.max_us, recent.count,
	          histogram_percentile(&recent, 0.5), histogram_percentile(&recent, 0.99),
	          recent.max_us);
	STAT_SEND(send, arg, "STAT work sync=%" PRIu64 " async=%" PRIu64 " offload=%" PRIu64
	          " orders=%" PRIu64 " queued=%u cooking=%u workers=%u connections=%u"
	          " sessions=%zu\n", v.running[0], v.running[1], v.running[2], srv->inflight,
	          v.queued, v.cooking, v.workers, (unsigned)srv->nconns, srv->nsessions);
	STAT_SEND(send, arg, "STAT orders sync=%" PRIu64 " async=%" PRIu64 " offload=%" PRIu64
	          " timer=%" PRIu64 " waiting=%" PRIu64 "\n", v.orders[0], v.orders[1], v.orders[2],
	          v.on_timer, v.waiting);
	STAT_SEND(send, arg, "STAT store queue=%" PRIu64 " lag=%" PRIu64 " commits=%" PRIu64
	          " rows=%" PRIu64 " commit_p50=%" PRIu64 " commit_p99=%" PRIu64
	          " commit_max=%" PRIu64 "\n", v.store_rows, v.store_lag_us, v.commits.commits,
	          v.commits.rows, histogram_percentile(&v.commits.time, 0.5),
	          histogram_percentile(&v.commits.time, 0.99), v.commits.time.max_us);
	stats_stalls(h, v.now_us, send, arg);
}
