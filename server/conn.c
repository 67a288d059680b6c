#include "server/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/protocol.h"
#include "server/command.h"
#include "server/conn_stage.h"
#include "server/log.h"
#include "server/replay.h"
#include "server/run.h"
#include "server/server.h"
#include "server/session.h"

/* The most one write to a client's socket takes from its output. */
#define CONN_WRITE_MAX (1u << 20)

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static void conn_link(struct server *srv, struct conn *c)
{
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
}

static void conn_unlink(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
}

/* The greeting; with a token set it says so, so a client knows to AUTH. */
static void conn_greet(struct conn *c)
{
	char line[PROTO_MAX_LINE];
	int n = proto_format_hello(line, sizeof line, c->session->id, BAEDAL_VERSION);
	if (n > 0 && c->srv->cfg->token) {
		n = snprintf(line + n - 1, sizeof line - (size_t)n + 1, " auth=required\n") + n - 1;
	}
	if (n > 0)
		conn_send_reply(c, line, (size_t)n);
}

/* Says nothing (no whole line: a trickle of bytes counts for nothing, so
 * a slow-loris client is closed too) and nothing of its session runs. */
static void conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	/* Its BYE went unread for a whole idle timeout: the client reads no
	 * more, and nothing more is owed to it. */
	if (c->closing) {
		log_debug("closing a connection whose last lines went unread");
		conn_kill(c);
		return;
	}
	/* A replay its client stopped reading keeps the connection no longer
	 * than an idle one: its progress touches the connection. */
	if ((c->session && c->session->active) || (c->replay && !replay_paused(c))) {
		conn_touch(c);
		return;
	}
	log_debug("closing a connection idle for %llu ms",
	          (unsigned long long)(c->srv->cfg->idle_timeout_us / 1000));
	conn_close_with(c, "idle");
}

void conn_touch(struct conn *c)
{
	uint64_t us = c->srv->cfg->idle_timeout_us;
	struct timeval tv = { .tv_sec = (time_t)(us / 1000000u),
	                      .tv_usec = (suseconds_t)(us % 1000000u) };
	if (!c->dead)
		event_add(&c->idle, &tv);
}

static void conn_accept_as(struct server *srv, evutil_socket_t fd, int web)
{
	struct bufferevent *bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	/* A full table makes room by dropping an idle, detached session (not
	 * for a connection over its own limit); if none is, the connection is
	 * refused below. */
	if (c && srv->nconns < srv->cfg->max_conns && srv->nsessions >= srv->cfg->max_sessions)
		session_evict_idle(srv);
	struct session *s = c ? session_new(srv) : NULL;
	if (!s) {
		free(c);
		bufferevent_free(bev);
		log_warn("out of memory: refused a connection");
		return;
	}
	c->srv = srv;
	c->bev = bev;
	c->session = s;
	c->web = web;
	c->authed = srv->cfg->token == NULL;
	event_assign(&c->idle, srv->base, -1, 0, conn_idle_cb, c);
	event_priority_set(&c->idle, PRIO_IO);
	conn_touch(c);
	session_attach(s, c);
	conn_link(srv, c);
	bufferevent_priority_set(bev, PRIO_IO);
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(bev, EV_WRITE, CONN_OUT_LOW, 0);
	/* A watcher's lines leave in as few system calls as the socket takes:
	 * libevent's own cap is 16 KiB a write, and over loopback every write
	 * also runs the reader's side of TCP on the loop's thread. */
	bufferevent_set_max_single_write(bev, CONN_WRITE_MAX);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (srv->nconns > srv->cfg->max_conns || srv->nsessions > srv->cfg->max_sessions) {
		conn_close_with(c, "busy");
		return;
	}
	conn_greet(c);
}

void conn_accept(struct server *srv, evutil_socket_t fd)
{
	conn_accept_as(srv, fd, 0);
}

void conn_accept_web(struct server *srv, evutil_socket_t fd)
{
	conn_accept_as(srv, fd, 1);
}

/* Gives the connection's burst slot back (conn.h), if it holds one. */
static void conn_burst_end(struct conn *c)
{
	if (c->bursting) {
		c->bursting = 0;
		c->srv->bursting--;
	}
}

/* Closes at once as far as anyone can see (no session, no pending run,
 * no more I/O) but frees later, from the loop: the caller may be deep in
 * a callback that still holds c. */
void conn_kill(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->dead)
		return;
	c->dead = 1;
	conn_burst_end(c);
	replay_stop(c);
	if (c->pending) {
		c->pending->ack_conn = NULL;
		c->pending = NULL;
	}
	if (c->session) {
		struct session *s = c->session;
		c->session = NULL;
		session_detach(s);
	}
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(&c->idle);
	conn_stage_drop(c);
	conn_unlink(c);
	c->next = srv->dead;
	srv->dead = c;
	event_active(srv->reaper, EV_TIMEOUT, 0);
}

void conn_reap(struct server *srv)
{
	while (srv->dead) {
		struct conn *c = srv->dead;
		srv->dead = c->next;
		bufferevent_free(c->bev);
		free(c);
	}
	server_conn_gone(srv);
}

static size_t conn_out_len(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + conn_stage_len(c);
}

int conn_output_full(const struct conn *c)
{
	return conn_out_len(c) > CONN_OUT_HIGH;
}

size_t conn_output_total(const struct server *srv)
{
	size_t total = 0;
	for (const struct conn *c = srv->conns; c; c = c->next)
		total += conn_out_len(c);
	return total;
}

void conn_send_reply(struct conn *c, const char *line, size_t len)
{
	if (c->dead || c->closing)
		return;
	if (conn_out_len(c) + len > CONN_OUT_CAP) {
		log_debug("closing a connection whose unread output passed %u bytes", CONN_OUT_CAP);
		conn_kill(c);
		return;
	}
	conn_stage_flush(c);   /* every line in the order it was made */
	bufferevent_write(c->bev, line, len);
}

/* Tells the client how many live events it did not get since the last
 * notice. */
static void conn_send_lagged(struct conn *c)
{
	char notice[64];
	int n = snprintf(notice, sizeof notice, "LAGGED dropped=%llu\n",
	                 (unsigned long long)c->dropped);
	c->dropped = 0;
	conn_send_reply(c, notice, (size_t)n);
}

/* Whether a live event finds room: within the base limit, or within the
 * burst limit with a slot held or free. */
static int conn_event_fits(struct conn *c)
{
	size_t out = conn_out_len(c);
	if (out <= CONN_OUT_HIGH)
		return 1;
	if (!c->bursting && c->srv->bursting < CONN_BURST_SLOTS) {
		c->bursting = 1;
		c->srv->bursting++;
	}
	return c->bursting && out <= CONN_OUT_BURST;
}

int conn_take_event(struct conn *c)
{
	if (c->dead || c->closing || c->ends_only)
		return 0;
	if (!conn_event_fits(c)) {
		c->dropped++;
		return 0;
	}
	return 1;
}

void conn_send_done(struct conn *c, const char *line, size_t len)
{
	/* A client that reads a run's DONE knows every event of it was
	 * either sent or counted. */
	if (c->dropped)
		conn_send_lagged(c);
	conn_send_reply(c, line, len);
}

void conn_close_with(struct conn *c, const char *reason)
{
	char line[64];
	int n = snprintf(line, sizeof line, "BYE reason=%s\n", reason);
	conn_send_reply(c, line, (size_t)n);
	if (c->dead)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	replay_stop(c);         /* nothing more is sent: its slot is free */
	if (conn_out_len(c) == 0)
		conn_kill(c);
	else
		conn_touch(c);      /* the time its client has to read the rest */
}

static void conn_reply_error(struct conn *c, const struct proto_error *err)
{
	char line[PROTO_MAX_LINE];
	int n = proto_format_error(line, sizeof line, err);
	if (n > 0)
		conn_send_reply(c, line, (size_t)n);
}

enum { LINE_NONE = -1, LINE_TOO_LONG = -2, LINE_SKIPPED = -3 };

/* Takes the next whole line off the input into buf. Returns its length,
 * LINE_NONE when no whole line is buffered yet, LINE_TOO_LONG when a line
 * (or what is buffered of it) passes the limit, LINE_SKIPPED for the tail
 * of such a line. */
static ssize_t conn_take_line(struct conn *c, struct evbuffer *in, char *buf)
{
	size_t eol_len = 0;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

	if (eol.pos < 0) {
		/* evbuffer_readln has no cap of its own: a line that never ends
		 * would grow the buffer forever. */
		if (evbuffer_get_length(in) <= PROTO_MAX_LINE + 1)
			return -1;
		evbuffer_drain(in, evbuffer_get_length(in));
		int was = c->discarding;
		c->discarding = 1;
		return was ? LINE_NONE : LINE_TOO_LONG;
	}
	size_t len = (size_t)eol.pos;
	if (c->discarding || len > PROTO_MAX_LINE + 1) {
		int was = c->discarding;
		evbuffer_drain(in, len + eol_len);
		c->discarding = 0;
		return was ? LINE_SKIPPED : LINE_TOO_LONG;
	}
	evbuffer_remove(in, buf, len);
	evbuffer_drain(in, eol_len);
	/* A CR before the LF is the parser's to drop, once: not also here. */
	if (len - (len > 0 && buf[len - 1] == '\r') > PROTO_MAX_LINE)
		return LINE_TOO_LONG;
	return (ssize_t)len;
}

/* Reads the socket only while its lines are handled: not while a RUN/GEN
 * waits for its commit, nor while the output is full. The input then holds
 * at most what one read brought (libevent reads 16 KiB at a time) and a
 * partial line, whatever the client sends. (A read high watermark would
 * not do: libevent 2.1 calls the read callback again and again while the
 * input stays over it.) After EOF libevent reads no more anyway. */
static void conn_update_reading(struct conn *c)
{
	if (c->closing || c->dead || c->eof)
		return;
	int stalled = c->pending || conn_out_len(c) > CONN_OUT_HIGH;
	int reading = (bufferevent_get_enabled(c->bev) & EV_READ) != 0;
	if (stalled && reading)
		bufferevent_disable(c->bev, EV_READ);
	else if (!stalled && !reading)
		bufferevent_enable(c->bev, EV_READ);
}

/* Handles the buffered lines, in order, until one must wait for its
 * commit (its reply must come before the next command's) or the output is
 * full; conn_resume and conn_write_cb come back for the rest. */
static void conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	static char line[PROTO_MAX_LINE + 2];

	while (!c->pending && !c->closing && !c->dead && conn_out_len(c) <= CONN_OUT_HIGH) {
		ssize_t n = conn_take_line(c, in, line);
		if (n == LINE_NONE)
			break;
		if (n == LINE_SKIPPED)
			continue;
		if (n == LINE_TOO_LONG) {
			struct proto_error err = { .code = "line_too_long" };
			snprintf(err.text, sizeof err.text,
			         "lines are at most %d bytes; the rest of this one is discarded",
			         PROTO_MAX_LINE);
			conn_reply_error(c, &err);
			continue;
		}
		conn_touch(c);
		command_handle_line(c, line, (size_t)n);
	}
	conn_update_reading(c);
	if (c->eof)
		conn_session_idle(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (c->closing) {
		if (conn_out_len(c) == 0)
			conn_kill(c);
		return;
	}
	/* Called once the output is down to CONN_OUT_LOW (the watermark). */
	conn_burst_end(c);
	if (c->dropped)
		conn_send_lagged(c);
	replay_resume(c);
	conn_process(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_EOF) {
		if (c->closing) {
			conn_kill(c);
			return;
		}
		/* A half-close: answer the whole lines already sent; a partial
		 * last line is dropped. The session's runs still report here. */
		c->eof = 1;
		conn_process(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		log_debug("connection error: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_kill(c);
	}
}

void conn_run_acked(struct conn *c, struct run *r, int ok, const char *err)
{
	char line[256];
	int n;
	c->pending = NULL;
	if (c->dead)
		return;
	if (ok)
		n = snprintf(line, sizeof line, "OK run=%llu mode=%s orders=%u\n",
		             (unsigned long long)r->id, proto_mode_name(r->mode), r->norders);
	else
		n = snprintf(line, sizeof line, "ERR storage %s\n", err ? err : "write failed");
	conn_send_reply(c, line, (size_t)n);
}

void conn_resume(struct conn *c)
{
	if (!c->closing && !c->dead)
		conn_process(c);
}

void conn_session_idle(struct conn *c)
{
	/* With the output full, lines may wait unhandled: conn_write_cb comes
	 * back for them once it drains. */
	if (c->eof && !c->pending && !c->replay && !c->closing && !c->dead &&
	    conn_out_len(c) <= CONN_OUT_HIGH && (!c->session || c->session->active == 0))
		conn_close_with(c, "eof");
}
