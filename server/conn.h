/* Client connections: one bufferevent each, lines in, replies and events
 * out, with bounded input lines and bounded output for slow readers. */
#ifndef BAEDAL_CONN_H
#define BAEDAL_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event_struct.h>
#include <event2/util.h>

struct server;
struct session;
struct run;

/* Output past this is a slow reader: live events are dropped (and counted
 * in one LAGGED notice) and its input is not read until it drains. */
#define CONN_OUT_HIGH (1u << 20)
#define CONN_OUT_LOW  (256u << 10)
/* A watcher may buffer up to CONN_OUT_BURST instead while it holds one of
 * the server's CONN_BURST_SLOTS, so that the second in which a large run's
 * meals all end reaches a reader that keeps up, and memory stays bounded
 * however many connections lag. The slot goes back once the output has
 * drained to CONN_OUT_LOW. */
#define CONN_OUT_BURST (16u << 20)
#define CONN_BURST_SLOTS 4u
/* Output past this (replies and DONE lines after a burst) closes the
 * connection. */
#define CONN_OUT_CAP  (CONN_OUT_BURST + (16u << 20))

struct conn {
	struct server *srv;
	struct bufferevent *bev;
	struct session *session;
	struct run *pending;          /* a run awaiting its commit; input waits */
	uint64_t dropped;             /* live events not sent since the last LAGGED */
	int discarding;               /* inside an overlong line */
	int eof;                      /* the client will send nothing more */
	int closing;                  /* flush the output, then free */
	int dead;                     /* closed; freed by the server's reaper */
	int authed;                   /* AUTH passed, or no token is set */
	int bursting;                 /* holds one of the server's burst slots */
	int ends_only;                /* WATCH ends: no live events, DONE lines only */
	int web;                      /* the web side's own (http_submit.c), not a client's */
	struct replay *replay;        /* a REPLAY under way (replay.h), or NULL */
	struct event idle;            /* closes a connection that says nothing */
	struct conn *prev, *next;
};

/* Takes a freshly accepted socket: greets it with a new session. */
void conn_accept(struct server *srv, evutil_socket_t fd);
/* The same for the web side's end of a socketpair: a session it holds is
 * not taken to be a terminal client's. */
void conn_accept_web(struct server *srv, evutil_socket_t fd);

/* A reply or notice: always queued (a hard cap closes the connection). */
void conn_send_reply(struct conn *c, const char *line, size_t len);
/* Whether c's unread output is over the base limit (CONN_OUT_HIGH). */
int conn_output_full(const struct conn *c);
/* Unread output of every connection (a walk: for /metrics). */
size_t conn_output_total(const struct server *srv);
/* A run's DONE line: never dropped; the count of the events that were
 * (LAGGED) goes out first. */
void conn_send_done(struct conn *c, const char *line, size_t len);
/* Whether a live event may be sent now: 0 when the connection does not
 * watch events, or reads too slowly (then it is counted for LAGGED). */
int conn_take_event(struct conn *c);

/* The run's commit is done: answer its RUN/GEN and read on. */
void conn_run_acked(struct conn *c, struct run *r, int ok, const char *err);
/* The session has no running run left (a half-closed client may go). */
void conn_session_idle(struct conn *c);

/* The connection sent a whole line: its idle time starts again. */
void conn_touch(struct conn *c);

/* Handles buffered input again (after a commit let the connection go on). */
void conn_resume(struct conn *c);

/* Says BYE with a reason, then closes once the output is flushed. */
void conn_close_with(struct conn *c, const char *reason);
/* Closes now; the memory is freed by conn_reap, outside any callback of c. */
void conn_kill(struct conn *c);
void conn_reap(struct server *srv);

#endif
