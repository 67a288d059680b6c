#include "server/http_sse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "server/export.h"
#include "server/health.h"
#include "server/http.h"
#include "server/log.h"
#include "server/server.h"
#include "server/session.h"

struct http_sse {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct session *session;        /* NULL once it is gone */
	uint64_t dropped;               /* live events not sent since the last lagged */
	/* What was published for it since the last flush: a run's steps are
	 * copied here, formatted once for every stream, and go out as one
	 * chunk after the callback that made them, so that a run's own clock
	 * never waits for its watchers. */
	struct evbuffer *pending;
	int dirty;                          /* on the flush list */
	struct http_sse *s_prev, *s_next;   /* the session's streams */
	struct http_sse *prev, *next;       /* every stream */
	struct http_sse *d_prev, *d_next;   /* the flush list */
};

static size_t sse_out_len(const struct http_sse *st)
{
	return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(
		st->evcon))) + evbuffer_get_length(st->pending);
}

static void sse_undirty(struct http_sse *st)
{
	struct http *h = st->srv->http;
	if (!st->dirty)
		return;
	if (st->d_prev)
		st->d_prev->d_next = st->d_next;
	else
		h->sse_dirty = st->d_next;
	if (st->d_next)
		st->d_next->d_prev = st->d_prev;
	st->d_prev = st->d_next = NULL;
	st->dirty = 0;
}

/* Queues len bytes for st; the flush event sends them. */
static void sse_send_bytes(struct http_sse *st, const void *data, size_t len)
{
	struct http *h = st->srv->http;
	if (evbuffer_add(st->pending, data, len) < 0 || st->dirty)
		return;
	st->dirty = 1;
	st->d_prev = NULL;
	st->d_next = h->sse_dirty;
	if (h->sse_dirty)
		h->sse_dirty->d_prev = st;
	h->sse_dirty = st;
	event_active(h->sse_flush, 0, 0);
}


/* What a stream holds goes out as one chunk: flushed as soon as the
 * socket takes it. */
static void sse_flush_one(struct http_sse *st)
{
	sse_undirty(st);
	if (evbuffer_get_length(st->pending))
		evhttp_send_reply_chunk(st->req, st->pending);
}

static void sse_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	while (srv->http->sse_dirty)
		sse_flush_one(srv->http->sse_dirty);
}

static void sse_unlink(struct http_sse *st)
{
	struct http *h = st->srv->http;
	if (st->session) {
		if (st->s_prev)
			st->s_prev->s_next = st->s_next;
		else
			st->session->sse = st->s_next;
		if (st->s_next)
			st->s_next->s_prev = st->s_prev;
		st->session = NULL;
	}
	if (st->prev)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	h->nstreams--;
	sse_undirty(st);
}

static void sse_free(struct http_sse *st)
{
	evbuffer_free(st->pending);
	free(st);
}

/* The connection is going (the client left, or a write failed). */
static void sse_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_sse *st = arg;
	(void)evcon;
	/* A client that left mid-stream: libevent 2.1 detaches the request
	 * it has not seen ended (no connection any more) and leaves it to us;
	 * one still on its connection goes with it. */
	if (!evhttp_request_get_connection(st->req))
		evhttp_request_free(st->req);
	sse_unlink(st);
	sse_free(st);
}

/* Ends the reply (the client may reconnect) and forgets the stream. */
static void sse_end(struct http_sse *st)
{
	evhttp_connection_set_closecb(st->evcon, NULL, NULL);
	sse_flush_one(st);
	evhttp_send_reply_end(st->req);
	sse_unlink(st);
	sse_free(st);
}

/* A reader past the cap holds too much: its connection goes. */
static void sse_kill(struct http_sse *st)
{
	log_debug("closing an event stream whose unread output passed %u bytes", HTTP_SSE_OUT_CAP);
	evhttp_connection_free(st->evcon);   /* calls sse_close_cb */
}

static void sse_send_lagged(struct http_sse *st, const char *key, uint64_t n)
{
	char text[80];
	int len = snprintf(text, sizeof text, "event: lagged\ndata: {\"%s\":%" PRIu64 "}\n\n",
	                   key, n);
	if (len > 0 && (size_t)len < sizeof text)
		sse_send_bytes(st, text, (size_t)len);
}

static void sse_add_event(struct evbuffer *buf, const struct proto_event *ev, int gen_name)
{
	char name[PROTO_NAME_MAX + 1];
	if (!gen_name || proto_gen_name(name, sizeof name, ev->name, ev->order) < 0)
		snprintf(name, sizeof name, "%s", ev->name);
	evbuffer_add_printf(buf, "id: %" PRIu64 "\nevent: ev\ndata: {\"seq\":%" PRIu64 ",\"run\":%"
	                    PRIu64 ",\"order\":%" PRIu32 ",\"name\":", ev->seq, ev->seq, ev->run,
	                    ev->order);
	export_json_string(buf, name);
	evbuffer_add_printf(buf, ",\"step\":\"%s\",\"t\":%" PRIu64 "}\n\n", proto_step_name(ev->step),
	                    ev->t_us);
}

/* A DONE line's key=value pairs as one JSON object, whatever its keys:
 * numbers as numbers, "-" as null, the rest as strings. */
static void sse_add_done(struct evbuffer *buf, const char *line, size_t len)
{
	char text[SESSION_LINE_MAX + 1], *save = NULL;
	const char *seq = "0";
	if (len > SESSION_LINE_MAX)
		len = SESSION_LINE_MAX;
	memcpy(text, line, len);
	text[len] = '\0';
	text[strcspn(text, "\r\n")] = '\0';
	struct evbuffer *data = evbuffer_new();
	if (!data)
		return;
	int first = 1;
	for (char *tok = strtok_r(text, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(tok, "seq") == 0)
			seq = eq;
		evbuffer_add_printf(data, "%s\"%s\":", first ? "{" : ",", tok);
		first = 0;
		if (strcmp(eq, "-") == 0)
			evbuffer_add(data, "null", 4);
		else if (*eq && strspn(eq, "0123456789") == strlen(eq) && strlen(eq) < 19)
			evbuffer_add_printf(data, "%s", eq);
		else
			export_json_string(data, eq);
	}
	evbuffer_add(data, first ? "{}" : "}", first ? 2 : 1);
	evbuffer_add_printf(buf, "id: %s\nevent: done\ndata: ", seq);
	evbuffer_add_buffer(buf, data);
	evbuffer_add(buf, "\n\n", 2);
	evbuffer_free(data);
}

/* A STALL line as a stall event: the page draws it on the axis of the
 * session's runs, placed by the wall clock at its start (null once the
 * stall has left the server's recent ones; the run's JSON has it). */
static void sse_add_stall(struct evbuffer *buf, const struct health *h, const char *line,
                          size_t len)
{
	unsigned long long seq, id, held, run;
	unsigned order;
	char cause[16], text[SESSION_LINE_MAX + 1];
	if (len > SESSION_LINE_MAX)
		len = SESSION_LINE_MAX;
	memcpy(text, line, len);
	text[len] = '\0';
	if (sscanf(text, "STALL seq=%llu id=%llu held=%llu cause=%15s run=%llu order=%u", &seq, &id,
	           &held, cause, &run, &order) != 6)
		return;
	evbuffer_add_printf(buf, "id: %llu\nevent: stall\ndata: {\"seq\":%llu,\"id\":%llu,"
	                    "\"held_us\":%llu,\"held_ms\":%.1f,\"cause\":\"%s\",\"run\":%llu,"
	                    "\"order\":%u,\"wall_us\":", seq, seq, id, held, (double)held / 1e3, cause,
	                    run, order);
	const struct health_stall *st = h ? health_stall_by_id(h, id) : NULL;
	if (st)
		evbuffer_add_printf(buf, "%" PRId64 "}\n\n", st->wall_us);
	else
		evbuffer_add(buf, "null}\n\n", 7);
}

/* Whether a live event may go out now: else it is counted. */
static int sse_take_event(struct http_sse *st)
{
	if (sse_out_len(st) > HTTP_SSE_OUT_HIGH) {
		st->dropped++;
		return 0;
	}
	if (st->dropped) {
		sse_send_lagged(st, "dropped", st->dropped);
		st->dropped = 0;
	}
	return 1;
}

/* text: the event, formatted once for every stream. */
static void sse_event_to(struct http_sse *st, const void *text, size_t len)
{
	if (sse_take_event(st))
		sse_send_bytes(st, text, len);
}

/* A done is never dropped; the count of the events that were goes first,
 * so that a reader knows every event of the run was sent or counted. */
static void sse_done_to(struct http_sse *st, const void *text, size_t len)
{
	if (sse_out_len(st) > HTTP_SSE_OUT_CAP) {
		sse_kill(st);
		return;
	}
	if (st->dropped) {
		sse_send_lagged(st, "dropped", st->dropped);
		st->dropped = 0;
	}
	sse_send_bytes(st, text, len);
}

/* A DONE or STALL line as its event, into buf. */
static void sse_add_line(struct evbuffer *buf, const struct health *h, const char *line,
                         size_t len)
{
	if (len > 6 && memcmp(line, "STALL ", 6) == 0)
		sse_add_stall(buf, h, line, len);
	else
		sse_add_done(buf, line, len);
}

void http_sse_publish_event(struct session *s, const struct proto_event *ev, int gen_name)
{
	struct evbuffer *buf = s->sse->srv->http->sse_scratch;
	sse_add_event(buf, ev, gen_name);
	size_t len = evbuffer_get_length(buf);
	const unsigned char *text = evbuffer_pullup(buf, -1);
	for (struct http_sse *st = s->sse; st && text; st = st->s_next)
		sse_event_to(st, text, len);
	evbuffer_drain(buf, len);
}

void http_sse_publish_done(struct session *s, const char *line, size_t len)
{
	struct server *srv = s->sse->srv;
	struct evbuffer *buf = srv->http->sse_scratch;
	sse_add_line(buf, srv->health, line, len);
	size_t n = evbuffer_get_length(buf);
	const unsigned char *text = evbuffer_pullup(buf, -1);
	struct http_sse *next;
	for (struct http_sse *st = s->sse; st && text; st = next) {
		next = st->s_next;
		sse_done_to(st, text, n);
	}
	evbuffer_drain(buf, n);
}

void http_sse_session_gone(struct session *s)
{
	while (s->sse)
		sse_end(s->sse);
}

/* What the session still holds after since, after a lagged event with
 * the count of what it no longer holds (the database has all of it). */
static void sse_replay(struct http_sse *st, struct session *s, uint64_t since)
{
	uint64_t asked = since < s->seq ? s->seq - since : 0, kept = 0;
	for (size_t i = 0; i < s->replay_len; i++)
		kept += s->replay[(s->replay_head + i) % s->replay_cap].seq > since;
	if (asked > kept)
		sse_send_lagged(st, "missed", asked - kept);
	/* The ring holds less than HTTP_SSE_OUT_CAP: no done here closes st. */
	for (size_t i = 0; i < s->replay_len; i++) {
		const struct replay_line *l = &s->replay[(s->replay_head + i) % s->replay_cap];
		if (l->seq <= since)
			continue;
		struct evbuffer *buf = st->srv->http->sse_scratch;
		if (l->len == 0)
			sse_add_event(buf, &l->u.ev, l->gen_name);
		else
			sse_add_line(buf, st->srv->health, l->u.text, l->len);
		size_t n = evbuffer_get_length(buf);
		const unsigned char *text = evbuffer_pullup(buf, -1);
		if (text && l->len == 0)
			sse_event_to(st, text, n);
		else if (text)
			sse_done_to(st, text, n);
		evbuffer_drain(buf, n);
	}
}

/* Last-Event-ID, the header a browser sends when it reconnects, or
 * ?last_event_id= (a script's): 0 when neither is given, -1 if malformed. */
static int sse_since(const struct http_req *hr, uint64_t *since)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(hr->req),
	                                   "Last-Event-ID");
	if (!v)
		v = http_query(hr, "last_event_id");
	*since = 0;
	if (!v)
		return 0;
	size_t n = strlen(v);
	if (n == 0 || n > 19 || strspn(v, "0123456789") != n)
		return -1;
	*since = strtoull(v, NULL, 10);
	return 0;
}

/* The session named by ?session=, or NULL after an error reply. */
static struct session *sse_session(struct http_req *hr)
{
	char lower[PROTO_SESSION_HEX + 1];
	if (http_session_id(hr, http_query(hr, "session"), lower) < 0)
		return NULL;
	struct session *s = session_find(hr->srv, lower);
	if (!s)
		http_reply_error(hr->req, "no_session", "no session has that id (it may have expired; "
		                 "its runs are still in the database: GET /api/runs?session=)");
	return s;
}

static void sse_link(struct http_sse *st, struct session *s)
{
	struct http *h = st->srv->http;
	st->session = s;
	st->s_next = s->sse;
	if (s->sse)
		s->sse->s_prev = st;
	s->sse = st;
	st->next = h->streams;
	if (h->streams)
		h->streams->prev = st;
	h->streams = st;
	h->nstreams++;
}

void http_sse_handle(struct http_req *hr)
{
	struct http *h = hr->srv->http;
	uint64_t since;
	struct session *s = sse_session(hr);
	if (!s)
		return;
	if (sse_since(hr, &since) < 0 || since > s->seq) {
		http_reply_error(hr->req, "bad_seq", "Last-Event-ID must be a seq the session gave "
		                 "out, at most %" PRIu64, s->seq);
		return;
	}
	if (http_head_only(hr, "text/event-stream"))
		return;
	struct http_sse *st = h->nstreams < HTTP_SSE_MAX ? calloc(1, sizeof *st) : NULL;
	if (st && !(st->pending = evbuffer_new())) {
		free(st);
		st = NULL;
	}
	if (!st) {
		http_reply_error(hr->req, "busy", "%zu event streams are open; try again", h->nstreams);
		return;
	}
	st->srv = hr->srv;
	st->req = hr->req;
	st->evcon = evhttp_request_get_connection(hr->req);
	sse_link(st, s);
	struct evkeyvalq *out = evhttp_request_get_output_headers(hr->req);
	evhttp_add_header(out, "Content-Type", "text/event-stream");
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Accel-Buffering", "no");
	evhttp_add_header(out, "Connection", "close");
	evhttp_send_reply_start(hr->req, 200, "OK");
	evhttp_connection_set_closecb(st->evcon, sse_close_cb, st);
	/* A stream is long and its client says nothing: no read timeout. A
	 * client that stops reading is cut off by the write timeout (the idle
	 * timeout) or by HTTP_SSE_OUT_CAP, whichever comes first. */
	uint64_t us = hr->srv->cfg->idle_timeout_us;
	struct timeval idle = { .tv_sec = (time_t)(us / 1000000u),
	                        .tv_usec = (suseconds_t)(us % 1000000u) };
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(st->evcon), NULL, &idle);
	char opener[128];
	int n = snprintf(opener, sizeof opener, "retry: 2000\n: session %s seq %" PRIu64 "\n\n", s->id,
	                 s->seq);
	if (n > 0 && (size_t)n < sizeof opener)
		sse_send_bytes(st, opener, (size_t)n);
	sse_replay(st, s, since);
}

/* A comment now and then: proxies and browsers keep an idle stream open,
 * and a client that left is found out by the write. */
static void sse_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct http_sse *next;
	(void)fd;
	(void)what;
	for (struct http_sse *st = srv->http->streams; st; st = next) {
		next = st->next;
		if (st->dropped && sse_out_len(st) <= HTTP_SSE_OUT_HIGH) {
			sse_send_lagged(st, "dropped", st->dropped);
			st->dropped = 0;
		}
		sse_send_bytes(st, ": heartbeat\n\n", 13);
	}
}

int http_sse_init(struct server *srv)
{
	struct http *h = srv->http;
	h->heartbeat = event_new(srv->base, -1, EV_PERSIST, sse_heartbeat_cb, srv);
	h->sse_flush = event_new(srv->base, -1, 0, sse_flush_cb, srv);
	h->sse_scratch = evbuffer_new();
	if (!h->heartbeat || !h->sse_flush || !h->sse_scratch)
		return -1;
	/* After the timers that came due with the steps it carries. */
	event_priority_set(h->sse_flush, PRIO_TIMER);
	struct timeval tv = { .tv_sec = HTTP_SSE_HEARTBEAT_S };
	event_add(h->heartbeat, &tv);
	return 0;
}

void http_sse_stop(struct server *srv)
{
	struct http *h = srv->http;
	while (h->streams)
		sse_end(h->streams);
	if (h->heartbeat)
		event_del(h->heartbeat);
}

void http_sse_free_all(struct server *srv)
{
	struct http *h = srv->http;
	while (h->streams) {
		struct http_sse *st = h->streams;
		evhttp_connection_set_closecb(st->evcon, NULL, NULL);
		sse_unlink(st);
		sse_free(st);
	}
	if (h->heartbeat)
		event_free(h->heartbeat);
	h->heartbeat = NULL;
	if (h->sse_flush)
		event_free(h->sse_flush);
	h->sse_flush = NULL;
	if (h->sse_scratch)
		evbuffer_free(h->sse_scratch);
	h->sse_scratch = NULL;
}
