/* Sessions: the runs of one client, kept across connections under an
 * unguessable id, with the recent lines an ATTACH can replay. */
#ifndef BAEDAL_SESSION_H
#define BAEDAL_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event_struct.h>

#include "common/protocol.h"

struct server;
struct conn;
struct run;
struct http_sse;

#define SESSION_REPLAY_MAX 4096   /* lines kept for ATTACH, per session */
#define SESSION_HISTORY_MAX 64    /* finished runs kept for RUNS */
#define SESSION_LINE_MAX 240      /* the longest EV or DONE line fits */
/* Every session's replay ring together: a ring grows (from 16 lines,
 * doubling, up to SESSION_REPLAY_MAX) only while the sum stays within
 * this; otherwise it keeps its size and drops its oldest line for each new
 * one (or keeps none at all), and an ATTACH says LAGGED missed. With
 * 256 B a line, 1 MiB a session at most, so that many sessions may hold
 * full rings at once. */
#define SESSION_REPLAY_BUDGET ((size_t)256 << 20)

/* A kept line: an event as its fields (len 0), formatted only if it is
 * ever sent, or a DONE line as text. A million-order run whose events
 * nobody watches is then never formatted at all. */
struct replay_line {
	uint64_t seq;
	uint16_t len;
	uint8_t gen_name;             /* the event's name is a GEN prefix */
	union {
		char text[SESSION_LINE_MAX];
		struct proto_event ev;
	} u;
};

struct session {
	char id[PROTO_SESSION_HEX + 1];
	struct server *srv;
	struct conn *conn;            /* attached connection, or NULL */
	struct http_sse *sse;         /* event streams watching it (http_sse.h) */
	uint64_t seq;                 /* last seq given out */
	int stored;                   /* its row is queued in the store */
	uint32_t active;              /* runs not yet closed (run_life.h counts them) */
	struct run **runs;            /* oldest first */
	size_t nruns, runs_cap;
	struct replay_line *replay;   /* ring, grown up to SESSION_REPLAY_MAX and
	                               * within SESSION_REPLAY_BUDGET */
	size_t replay_cap, replay_head, replay_len;
	struct event expiry;
	uint64_t idle_since_us;       /* detached with nothing running since (mono) */
	struct session *next;         /* hash chain */
};

/* A new session with a fresh id from getrandom(); NULL on failure. */
struct session *session_new(struct server *srv);
struct session *session_find(struct server *srv, const char *id);
/* Unlinks and frees the session and all its runs. */
void session_free(struct session *s);

/* With the table full, frees the session detached with nothing running
 * for the longest, to make room for a new one: 0, or -1 if every session
 * is attached or has a run not yet closed. */
int session_evict_idle(struct server *srv);

/* Attach and detach a connection; a detached session with nothing running
 * expires after the server's TTL. */
void session_attach(struct session *s, struct conn *c);
void session_detach(struct session *s);

/* The session's list of runs, oldest first; run_life.c decides when a
 * run joins and leaves it. */
int session_add_run(struct session *s, struct run *r);
void session_remove_run(struct session *s, struct run *r);
int session_unused(const struct session *s);
/* A detached session with nothing running starts its TTL. */
void session_arm_expiry(struct session *s);

/* Gives out the next seq, then publishes the line that carries it: kept
 * for replay and sent to the attached connection. A DONE line is never
 * dropped; an event may be, for a slow reader, and is formatted only for
 * a connection that takes it; with gen_name set,
 * ev->name holds its GEN run's prefix and the order's name (the prefix
 * and the order's index) is made only then too. */
uint64_t session_next_seq(struct session *s);
void session_publish_done(struct session *s, uint64_t seq, const char *line, size_t len);
void session_publish_event(struct session *s, const struct proto_event *ev, int gen_name);

/* Sends the attached connection every kept line with seq > since, after
 * a LAGGED notice if some of those lines are no longer kept. */
void session_replay(struct session *s, uint64_t since);

/* Frees every session (shutdown). */
void session_free_all(struct server *srv);

/* Bytes held by the replay rings of every session (SESSION_REPLAY_BUDGET
 * bounds it). */
size_t session_replay_bytes(const struct server *srv);

#endif
