#include "server/http_export.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "server/export.h"
#include "server/http.h"
#include "server/http_api.h"
#include "server/log.h"
#include "server/server.h"
#include "server/store_read.h"

/* ---- SVG ---------------------------------------------------------------- */

/* Up to EXPORT_SVG_ROWS orders of r into o: how many, or -1. */
static int export_read_orders(struct store_read *sr, const struct export_run *r,
                              struct export_order *o)
{
	int n = 0, rc = store_read_orders_begin(sr, r->id);
	while (rc == 0 && n < EXPORT_SVG_ROWS && (rc = store_read_orders_next(sr, &o[n])) == 1) {
		n++;
		rc = 0;
	}
	store_read_orders_end(sr);
	return rc < 0 ? -1 : n;
}

static void export_svg_reply(struct http_req *hr, struct store_read *sr,
                             const struct export_run *runs, int nruns)
{
	struct export_svg_run pics[HTTP_EXPORT_GROUP_MAX];
	struct export_order *orders = calloc((size_t)nruns * EXPORT_SVG_ROWS, sizeof *orders);
	struct export_stall *stalls = calloc((size_t)nruns * EXPORT_STALLS_MAX, sizeof *stalls);
	struct evbuffer *b = evbuffer_new();
	int ok = orders && stalls && b;
	for (int i = 0; ok > 0 && i < nruns; i++) {
		struct export_stall *st = stalls + (size_t)i * EXPORT_STALLS_MAX;
		int n = export_read_orders(sr, &runs[i], orders + (size_t)i * EXPORT_SVG_ROWS);
		int k = n < 0 ? -1 : store_read_stalls(sr, &runs[i], st, EXPORT_STALLS_MAX);
		pics[i] = (struct export_svg_run){ .run = &runs[i],
		                                   .orders = orders + (size_t)i * EXPORT_SVG_ROWS,
		                                   .norders = n > 0 ? (size_t)n : 0,
		                                   .stalls = st, .nstalls = k > 0 ? (size_t)k : 0 };
		if (n < 0 || k < 0) {
			http_reply_error(hr->req, "storage", "%s", store_read_error(sr));
			ok = -1;
		}
	}
	if (ok > 0) {
		export_svg(b, pics, (size_t)nruns);
		http_reply(hr->req, 200, "image/svg+xml", b);
	} else if (ok == 0) {
		http_reply_error(hr->req, "busy", "out of memory");
	}
	evbuffer_free(b);
	free(stalls);
	free(orders);
}

void http_export_svg(struct http_req *hr)
{
	struct store_read *sr = http_api_reader(hr);
	struct export_run r, runs[HTTP_EXPORT_GROUP_MAX];
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
	/* ?group=0 draws the run alone; by default its compare group with it. */
	const char *g = http_query(hr, "group");
	int n = g && strcmp(g, "0") == 0 ? (runs[0] = r, 1)
	      : store_read_group(sr, &r, runs, HTTP_EXPORT_GROUP_MAX);
	if (n < 0)
		http_reply_error(hr->req, "storage", "%s", store_read_error(sr));
	else
		export_svg_reply(hr, sr, runs, n);
}

/* ---- trace -------------------------------------------------------------- */

enum export_phase { PHASE_ORDERS, PHASE_INFLIGHT, PHASE_DONE };

struct http_export {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct store_read *sr;          /* its own: the read sees one snapshot */
	struct export_run run;
	struct export_stall stalls[EXPORT_STALLS_MAX];
	int nstalls;
	enum export_phase phase;
	struct event *step;             /* the next piece, from the loop */
	struct http_export *prev, *next;
};

static void export_free(struct http_export *ex)
{
	struct http *h = ex->srv->http;
	if (ex->prev)
		ex->prev->next = ex->next;
	else
		h->exports = ex->next;
	if (ex->next)
		ex->next->prev = ex->prev;
	h->nexports--;
	if (ex->step)
		event_free(ex->step);
	store_read_close(ex->sr);
	free(ex);
}

/* The client left, or a write failed: the export stops. */
static void export_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_export *ex = arg;
	(void)evcon;
	/* As for an event stream (http_sse.c): a request libevent 2.1 has
	 * detached from its gone connection is left to us. */
	if (!evhttp_request_get_connection(ex->req))
		evhttp_request_free(ex->req);
	export_free(ex);
}

/* The piece just sent is out of the server's buffer: make the next. */
static void export_sent_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_export *ex = arg;
	(void)evcon;
	event_active(ex->step, EV_TIMEOUT, 0);
}

/* One piece of the trace into b: -1 if the database failed. */
static int export_fill(struct http_export *ex, struct evbuffer *b)
{
	struct export_order o;
	int64_t t, count;
	int rc = 1;
	for (int i = 0; ex->phase == PHASE_ORDERS && i < HTTP_EXPORT_CHUNK; i++) {
		if ((rc = store_read_orders_next(ex->sr, &o)) == 1) {
			export_trace_order(b, &ex->run, &o);
			continue;
		}
		store_read_orders_end(ex->sr);
		ex->phase = ex->run.orders <= HTTP_EXPORT_COUNTER_MAX && rc == 0 &&
		            store_read_inflight_begin(ex->sr, ex->run.id) == 0
		          ? PHASE_INFLIGHT : PHASE_DONE;
	}
	for (int i = 0; ex->phase == PHASE_INFLIGHT && i < HTTP_EXPORT_CHUNK * 4; i++) {
		if ((rc = store_read_inflight_next(ex->sr, &t, &count)) == 1) {
			export_trace_inflight(b, &ex->run, t, count);
			continue;
		}
		store_read_inflight_end(ex->sr);
		ex->phase = PHASE_DONE;
	}
	return rc < 0 ? -1 : 0;
}

static void export_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_export *ex = arg;
	(void)fd;
	(void)what;
	struct evbuffer *b = evbuffer_new();
	if (!b || export_fill(ex, b) < 0) {
		/* Mid-stream, no status can change: the trace ends unclosed,
		 * which a trace viewer reports, and the log says why. */
		log_error("trace of run %" PRIu64 ": %s", ex->run.id,
		          b ? store_read_error(ex->sr) : "out of memory");
		ex->phase = PHASE_DONE;
	} else if (ex->phase == PHASE_DONE) {
		export_trace_end(b);
	}
	if (ex->phase == PHASE_DONE) {
		if (b)
			evhttp_send_reply_chunk(ex->req, b);
		evhttp_connection_set_closecb(ex->evcon, NULL, NULL);
		evhttp_send_reply_end(ex->req);
		export_free(ex);
	} else {
		evhttp_send_reply_chunk_with_cb(ex->req, b, export_sent_cb, ex);
	}
	evbuffer_free(b);
}

/* A reader of its own with the run read and its orders' cursor open:
 * NULL after an error reply. */
static struct http_export *export_new(struct http_req *hr)
{
	struct http *h = hr->srv->http;
	char err[256];
	if (h->nexports >= HTTP_EXPORTS_MAX) {
		http_reply_error(hr->req, "busy", "%d traces are being sent; try again",
		                 HTTP_EXPORTS_MAX);
		return NULL;
	}
	struct http_export *ex = calloc(1, sizeof *ex);
	if (!ex || !(ex->step = event_new(hr->srv->base, -1, 0, export_step_cb, ex))) {
		free(ex);
		http_reply_error(hr->req, "busy", "out of memory");
		return NULL;
	}
	ex->srv = hr->srv;
	ex->next = h->exports;
	if (h->exports)
		h->exports->prev = ex;
	h->exports = ex;
	h->nexports++;
	if (!(ex->sr = store_read_open(hr->srv->cfg->db_path, err, sizeof err))) {
		http_reply_error(hr->req, "storage", "%s", err);
		export_free(ex);
		return NULL;
	}
	int found = store_read_run(ex->sr, hr->id, &ex->run);
	if (found > 0)
		ex->nstalls = store_read_stalls(ex->sr, &ex->run, ex->stalls, EXPORT_STALLS_MAX);
	if (found <= 0 || ex->nstalls < 0 || store_read_orders_begin(ex->sr, hr->id) < 0) {
		if (found == 0)
			http_reply_error(hr->req, "no_run", "no run %" PRIu64 " in the database", hr->id);
		else
			http_reply_error(hr->req, "storage", "%s", store_read_error(ex->sr));
		export_free(ex);
		return NULL;
	}
	return ex;
}

void http_export_trace(struct http_req *hr)
{
	struct http_export *ex = export_new(hr);
	if (!ex)
		return;
	if (http_head_only(hr, "application/json")) {
		export_free(ex);
		return;
	}
	ex->req = hr->req;
	ex->evcon = evhttp_request_get_connection(hr->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(hr->req);
	char disp[96];
	snprintf(disp, sizeof disp, "inline; filename=\"baedal-run-%" PRIu64 ".json\"", hr->id);
	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Content-Disposition", disp);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply_start(hr->req, 200, "OK");
	evhttp_connection_set_closecb(ex->evcon, export_close_cb, ex);
	struct evbuffer *b = evbuffer_new();
	if (b) {
		export_trace_begin(b, &ex->run);
		for (int i = 0; i < ex->nstalls; i++)
			export_trace_stall(b, &ex->run, &ex->stalls[i]);
		evhttp_send_reply_chunk_with_cb(hr->req, b, export_sent_cb, ex);
		evbuffer_free(b);
	} else {
		event_active(ex->step, EV_TIMEOUT, 0);
	}
}

void http_export_free_all(struct server *srv)
{
	while (srv->http->exports) {
		struct http_export *ex = srv->http->exports;
		evhttp_connection_set_closecb(ex->evcon, NULL, NULL);
		export_free(ex);
	}
}
