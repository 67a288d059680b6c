#include "server/http_api.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "server/export.h"
#include "server/http.h"
#include "server/log.h"
#include "server/server.h"
#include "server/store_read.h"

struct store_read *http_api_reader(struct http_req *hr)
{
	struct http *h = hr->srv->http;
	char err[256];
	if (!h->reader && !(h->reader = store_read_open(hr->srv->cfg->db_path, err, sizeof err))) {
		log_error("http: %s", err);
		http_reply_error(hr->req, "storage", "%s", err);
	}
	return h->reader;
}

static void api_run_json(struct evbuffer *b, const struct export_run *r)
{
	evbuffer_add_printf(b, "{\"run\":%" PRIu64 ",\"session\":\"%s\",\"group\":", r->id,
	                    r->session);
	if (r->group[0])
		export_json_string(b, r->group);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add_printf(b, ",\"mode\":\"%s\",\"orders\":%" PRIu32 ",\"status\":\"%s\","
	                    "\"elapsed_us\":", proto_mode_name(r->mode), r->orders,
	                    proto_status_name(r->status));
	if (r->elapsed_us >= 0)
		evbuffer_add_printf(b, "%" PRId64, r->elapsed_us);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add_printf(b, ",\"ideal_us\":%" PRIu64 ",\"sum_us\":%" PRIu64 ",\"max_us\":%"
	                    PRIu64 ",\"cook_us\":%" PRIu64 ",\"blocked_us\":%" PRIu64
	                    ",\"caused_us\":%" PRIu64 ",\"started_wall_us\":%" PRId64,
	                    r->ideal_us, r->sum_us, r->max_us, r->cook_us, r->blocked_us,
	                    r->caused_us, r->started_wall_us);
	/* null: none; a run's limits, and the orders it gave up on. */
	if (r->riders)
		evbuffer_add_printf(b, ",\"riders\":%" PRIu32, r->riders);
	else
		evbuffer_add_printf(b, ",\"riders\":null");
	if (r->deadline_us)
		evbuffer_add_printf(b, ",\"deadline_us\":%" PRIu64, r->deadline_us);
	else
		evbuffer_add_printf(b, ",\"deadline_us\":null");
	evbuffer_add_printf(b, ",\"cancelled\":%" PRIu32 "}", r->cancelled);
}

static void api_reply_json(struct http_req *hr, struct evbuffer *b)
{
	http_reply(hr->req, 200, "application/json", b);
}

void http_api_runs(struct http_req *hr)
{
	const char *arg = http_query(hr, "session");
	char id[PROTO_SESSION_HEX + 1];
	const char *session = arg ? id : NULL;
	if (arg && http_session_id(hr, arg, id) < 0)
		return;
	struct store_read *sr = http_api_reader(hr);
	struct export_run runs[HTTP_API_RUNS];
	struct evbuffer *b = evbuffer_new();
	if (!sr || !b) {
		if (sr)
			http_reply_error(hr->req, "busy", "out of memory");
		if (b)
			evbuffer_free(b);
		return;
	}
	int n = store_read_runs(sr, session, runs, HTTP_API_RUNS);
	if (n < 0) {
		http_reply_error(hr->req, "storage", "%s", store_read_error(sr));
		evbuffer_free(b);
		return;
	}
	evbuffer_add(b, "{\"runs\":[", 9);
	for (int i = 0; i < n; i++) {
		if (i)
			evbuffer_add(b, ",\n", 2);
		api_run_json(b, &runs[i]);
	}
	evbuffer_add(b, "]}\n", 3);
	api_reply_json(hr, b);
	evbuffer_free(b);
}

static void api_order_json(struct evbuffer *b, const struct export_order *o)
{
	evbuffer_add_printf(b, "{\"order\":%" PRIu32 ",\"name\":", o->idx);
	export_json_string(b, o->name);
	evbuffer_add_printf(b, ",\"meal_us\":%" PRIu64 ",\"cook_us\":%" PRIu64 ",\"steps\":{",
	                    o->meal_us, o->cook_us);
	int first = 1;
	for (int s = 0; s < EXPORT_STEPS; s++) {
		if (o->t_us[s] < 0)
			continue;
		evbuffer_add_printf(b, "%s\"%s\":%" PRId64, first ? "" : ",",
		                    proto_step_name((enum proto_step)s), o->t_us[s]);
		first = 0;
	}
	evbuffer_add(b, "}}", 2);
}

/* The run's orders, at most HTTP_API_ORDERS_MAX: how many, or -1. */
static int api_orders(struct store_read *sr, uint64_t id, struct evbuffer *b)
{
	struct export_order o;
	int n = 0, rc = store_read_orders_begin(sr, id);
	while (rc == 0 && n < HTTP_API_ORDERS_MAX && (rc = store_read_orders_next(sr, &o)) == 1) {
		if (n++)
			evbuffer_add(b, ",\n", 2);
		api_order_json(b, &o);
		rc = 0;
	}
	store_read_orders_end(sr);
	return rc < 0 ? -1 : n;
}

/* The stalls that held every timer of r: the page draws them on its axis. */
static int api_stalls(struct store_read *sr, const struct export_run *r, struct evbuffer *b)
{
	struct export_stall st[EXPORT_STALLS_MAX];
	int n = store_read_stalls(sr, r, st, EXPORT_STALLS_MAX);
	for (int i = 0; i < n; i++) {
		int64_t from, to;
		export_stall_span(r, &st[i], &from, &to);
		evbuffer_add_printf(b, "%s{\"id\":%" PRIu64 ",\"held_us\":%" PRIu64 ",\"held_ms\":%.1f,"
		                    "\"cause\":", i ? ",\n" : "", st[i].id, st[i].duration_us,
		                    (double)st[i].duration_us / 1e3);
		export_json_string(b, st[i].cause);
		evbuffer_add_printf(b, ",\"run\":%" PRIu64 ",\"order\":%" PRIu32 ",\"wall_us\":%"
		                    PRId64 ",\"t\":%" PRId64 "}", st[i].run, st[i].order,
		                    st[i].started_wall_us, st[i].started_wall_us - r->started_wall_us);
	}
	return n;
}

void http_api_run(struct http_req *hr)
{
	struct store_read *sr = http_api_reader(hr);
	struct export_run r;
	if (!sr)
		return;
	int found = store_read_run(sr, hr->id, &r);
	if (found <= 0) {
		if (found < 0)
			http_reply_error(hr->req, "storage", "%s", store_read_error(sr));
		else
			http_reply_error(hr->req, "no_run", "no run %" PRIu64 " in the database", hr->id);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		http_reply_error(hr->req, "busy", "out of memory");
		return;
	}
	evbuffer_add(b, "{\"run\":", 7);
	api_run_json(b, &r);
	evbuffer_add(b, ",\"stalls\":[", 11);
	int n = api_stalls(sr, &r, b);
	if (n >= 0) {
		evbuffer_add(b, "],\"orders\":[", 12);
		n = api_orders(sr, r.id, b);
	}
	if (n < 0) {
		http_reply_error(hr->req, "storage", "%s", store_read_error(sr));
		evbuffer_free(b);
		return;
	}
	evbuffer_add_printf(b, "],\"orders_listed\":%d}\n", n);
	api_reply_json(hr, b);
	evbuffer_free(b);
}
