/* The daemon's shared state: the event loop, the store, the listener and
 * the registry of sessions and connections, with start-up and shutdown. */
#ifndef BAEDAL_SERVER_H
#define BAEDAL_SERVER_H

#include <stdint.h>

#include "common/protocol.h"
#include "server/run.h"
#include "server/timer.h"

struct conn;
struct health;
struct session;

struct server_config {
	const char *listen;          /* HOST:PORT */
	const char *http;            /* HOST:PORT of the web side, or "off" */
	int http_is_default;         /* not chosen: if taken, the server goes on without */
	const char *db_path;
	uint64_t max_meal_us;
	uint32_t max_orders;         /* per run */
	uint64_t max_inflight;       /* orders running at once, all sessions */
	uint32_t max_conns;
	uint32_t max_sessions;       /* held at once, attached or not */
	uint32_t session_ttl_s;      /* an idle, detached session lives this long */
	uint64_t idle_timeout_us;    /* a connection with no whole line and nothing running */
	const char *token;           /* AUTH needed first; NULL: no AUTH */
	unsigned workers;            /* cooking threads; 0: one per CPU */
	uint64_t max_cook_us;        /* one order's cook */
	uint64_t max_inline_cook_us; /* an async run's cooking, all on the loop */
	uint64_t warn_stall_us;      /* a callback holding the loop this long is a stall */
};

/* Event priorities: client I/O first, so a million order timers never
 * starve a connection; last, a run that resumes after cooking on the loop,
 * once everything its cook held up has been served. */
enum { PRIO_IO = 0, PRIO_TIMER = 1, PRIO_IDLE = 2, PRIO_COUNT = 3 };

struct server {
	const struct server_config *cfg;
	struct proto_limits limits;
	struct event_base *base;
	struct store *store;
	struct evconnlistener *listener;
	struct http *http;           /* the web side (http.h), or NULL */
	struct event *sig_term, *sig_int, *sig_hup, *accept_retry, *stop_timer, *reaper;
	struct timers timers;
	struct run_hooks hooks;
	struct pool *pool;           /* cooking threads */
	struct health *health;       /* the loop's own measurements (health.h) */
	uint64_t pool_cooks;         /* cooks of accepted runs bound for the pool */
	uint64_t pool_capacity;
	struct run *cooker;          /* the run that last cooked on the loop */
	uint64_t cook_end_us;        /* when that cook ended */
	uint64_t next_run_id;
	uint64_t inflight;           /* orders of running runs */
	uint32_t nconns;
	uint32_t bursting;           /* connections holding a burst slot (conn.h) */
	int stopping;
	int accept_paused;           /* accept failed (no descriptors): retrying */
	struct conn *conns;          /* open connections, doubly linked */
	struct conn *dead;           /* closed, waiting for the reaper */
	struct conn_stage *stage;    /* live event lines on their way out (conn_stage.h) */
	struct session **buckets;    /* session registry, chained hash */
	size_t nbuckets, nsessions;
	size_t replay_bytes;         /* held by every session's replay ring */
	unsigned nreplays;           /* REPLAYs under way (replay.c) */
};

/* Runs the daemon until SIGINT/SIGTERM; returns the exit code. */
int server_main(const struct server_config *cfg);

/* Called when a connection closes during shutdown: the loop ends once
 * none is left. */
void server_conn_gone(struct server *srv);

#endif
