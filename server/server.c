#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "server/clock.h"
#include "server/conn.h"
#include "server/conn_stage.h"
#include "server/http.h"
#include "server/health.h"
#include "server/listen_addr.h"
#include "server/log.h"
#include "server/run_life.h"
#include "server/session.h"
#include "server/run_hooks.h"
#include "server/store.h"

/* How long shutdown waits for the interrupted runs' ends to be stored and
 * every client's last lines to be read: a hung disk must not hold the
 * server, and Docker's stop sends SIGKILL after 10 s. */
#define STOP_GRACE_S 2

/* ---- listening ---------------------------------------------------------- */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
	struct server *srv = arg;
	(void)l;
	(void)sa;
	(void)socklen;
	if (srv->accept_paused) {
		srv->accept_paused = 0;
		log_warn("accepting connections again");
	}
	conn_accept(srv, fd);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	if (!srv->stopping)
		evconnlistener_enable(srv->listener);
}

/* Out of descriptors (or another accept failure): pause the listener for a
 * moment instead of spinning on a socket that stays readable. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval pause = { .tv_usec = 100000 };

	/* Once per episode, not every 100 ms while it lasts. */
	if (!srv->accept_paused)
		log_warn("accept: %s; pausing new connections, retrying every 100 ms",
		         evutil_socket_error_to_string(err));
	srv->accept_paused = 1;
	evconnlistener_disable(l);
	event_add(srv->accept_retry, &pause);
}

static int server_listen(struct server *srv)
{
	struct listen_addr la;
	char err[256];

	if (listen_addr_parse(srv->cfg->listen, &la, err, sizeof err) < 0) {
		log_error("--listen %s: %s", srv->cfg->listen, err);
		return -1;
	}
	srv->listener = evconnlistener_new_bind(
		srv->base, accept_cb, srv,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
		(struct sockaddr *)&la.addr, (int)la.len);
	if (!srv->listener) {
		log_error("cannot listen on %s: %s", srv->cfg->listen, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	if (listen_addr_bound(evconnlistener_get_fd(srv->listener), &la) < 0)
		return -1;
	if (!la.loopback && !srv->cfg->token)
		log_warn("%s is not a loopback address and no token is set: anyone who reaches "
		         "it can submit orders (see --token-file)", la.text);
	log_info("listening on %s", la.text);
	return 0;
}

/* ---- start-up and shutdown ---------------------------------------------- */

void server_conn_gone(struct server *srv)
{
	if (srv->stopping && srv->nconns == 0)
		event_base_loopbreak(srv->base);
}

static void server_say_bye(void *arg, int ok, const char *err)
{
	struct server *srv = arg;
	struct conn *next;
	(void)ok;
	(void)err;
	for (struct conn *c = srv->conns; c; c = next) {
		next = c->next;
		conn_close_with(c, "shutdown");
	}
	server_conn_gone(srv);
}

/* Ends every running run as interrupted, then says BYE to every client;
 * the loop goes on until their output is flushed (or 2 s pass). */
static void server_stop(struct server *srv)
{
	srv->stopping = 1;
	evconnlistener_disable(srv->listener);
	http_stop(srv);
	run_hooks_hold(srv);
	run_life_interrupt_all(srv);
	/* BYE once the interrupted runs' ends are stored and their DONE lines
	 * sent; the grace timer ends the loop even if the disk hangs. */
	store_when_durable(srv->store, server_say_bye, srv);
	struct timeval grace = { .tv_sec = STOP_GRACE_S };
	event_add(srv->stop_timer, &grace);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	(void)what;
	if (srv->stopping) {
		log_warn("second signal: stopping now");
		event_base_loopbreak(srv->base);
		return;
	}
	log_info("%s: shutting down",
	         sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
	server_stop(srv);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	/* Said, so that a client that missed its DONE or BYE lines can be
	 * explained: storage or the client's reading was that slow. */
	log_warn("shutdown: %u connection%s still open after %d s (the database or the "
	         "clients were slow); closing %s", (unsigned)srv->nconns, srv->nconns == 1 ? "" : "s",
	         STOP_GRACE_S, srv->nconns == 1 ? "it" : "them");
	event_base_loopbreak(srv->base);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_reap(arg);
}

/* A thousand clients need a thousand descriptors: take the hard limit. */
static void server_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("could not raise the descriptor limit: %s", strerror(errno));
	}
}

static struct event_base *server_new_base(void)
{
	struct event_config *ec = event_config_new();
	if (!ec)
		return NULL;
	/* The default clock here is CLOCK_MONOTONIC_COARSE, which ticks every
	 * 4 ms: timers would fire milliseconds off. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	/* A million timers can come due in one pass; after 4096 of them (a
	 * timer queue hands out TIMER_BATCH a callback) the loop looks at its
	 * connections again, so that event lines are written out as they are
	 * made (conn_stage.h) instead of piling up past a client's output
	 * limit (conn.h). */
	event_config_set_max_dispatch_interval(ec, NULL, 4096 / TIMER_BATCH, PRIO_TIMER);
	struct event_base *base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (base && event_base_priority_init(base, PRIO_COUNT) < 0) {
		event_base_free(base);
		return NULL;
	}
	return base;
}

static int server_setup_events(struct server *srv)
{
	srv->sig_term = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	/* A closed terminal or a habit of "reload" must not kill it with its
	 * runs left running: the server has nothing to reload, so it stops. */
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, signal_cb, srv);
	srv->accept_retry = evtimer_new(srv->base, accept_retry_cb, srv);
	srv->stop_timer = evtimer_new(srv->base, stop_timer_cb, srv);
	srv->reaper = event_new(srv->base, -1, 0, reaper_cb, srv);
	if (!srv->sig_term || !srv->sig_int || !srv->sig_hup || !srv->accept_retry ||
	    !srv->stop_timer || !srv->reaper)
		return -1;
	event_priority_set(srv->reaper, PRIO_IO);
	if (conn_stage_init(srv) < 0)
		return -1;
	event_add(srv->sig_term, NULL);
	event_add(srv->sig_int, NULL);
	event_add(srv->sig_hup, NULL);
	return 0;
}

static void server_teardown(struct server *srv)
{
	run_hooks_stop(srv);
	if (srv->store)
		store_close(srv->store);
	while (srv->conns)
		conn_kill(srv->conns);
	if (srv->reaper)
		conn_reap(srv);
	http_free(srv);
	session_free_all(srv);
	if (srv->listener)
		evconnlistener_free(srv->listener);
	health_free(srv->health);
	struct event *evs[] = { srv->sig_term, srv->sig_int, srv->sig_hup, srv->accept_retry,
	                        srv->stop_timer, srv->reaper };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		if (evs[i])
			event_free(evs[i]);
	}
	if (srv->base)
		event_base_free(srv->base);
	conn_stage_free(srv);   /* after the outputs, which hand chunks back */
}

static int server_start(struct server *srv)
{
	char err[STORE_ERR_LEN];

	srv->store = store_open(srv->cfg->db_path, err, sizeof err);
	if (!srv->store) {
		log_error("%s", err);
		return -1;
	}
	if (store_recovered_runs(srv->store))
		log_warn("%llu runs of an earlier server were left running: marked interrupted",
		         (unsigned long long)store_recovered_runs(srv->store));
	srv->next_run_id = store_next_run_id(srv->store);
	srv->base = server_new_base();
	if (!srv->base || server_setup_events(srv) < 0) {
		log_error("cannot set up the event loop");
		return -1;
	}
	if (run_hooks_start(srv) < 0) {
		log_error("cannot start the timers and the cooking threads");
		return -1;
	}
	if (store_start(srv->store, srv->base, err, sizeof err) < 0) {
		log_error("%s", err);
		return -1;
	}
	srv->health = health_new(srv, srv->cfg->warn_stall_us);
	if (!srv->health) {
		log_error("cannot start measuring the event loop: out of memory");
		return -1;
	}
	if (http_start(srv) < 0)
		return -1;
	return server_listen(srv);
}

int server_main(const struct server_config *cfg)
{
	struct server srv = {
		.cfg = cfg,
		.limits = { .max_meal_us = cfg->max_meal_us, .max_orders = cfg->max_orders,
		            .max_cook_us = cfg->max_cook_us,
		            .max_inline_cook_us = cfg->max_inline_cook_us },
	};
	signal(SIGPIPE, SIG_IGN);
	server_raise_fd_limit();
	int rc = server_start(&srv);
	if (rc == 0)
		health_run_loop(srv.health, srv.base);
	server_teardown(&srv);
	if (rc == 0)
		log_info("stopped; the database is flushed");
	return rc == 0 ? 0 : 1;
}
