/* The run hooks of the real server: orders on libevent timers, cooking on
 * the loop or on the worker pool, events to the session and the store. */
#ifndef BAEDAL_RUN_HOOKS_H
#define BAEDAL_RUN_HOOKS_H

struct server;

/* Sets srv->hooks and starts the worker pool (srv->base must exist).
 * 0, or -1 if the pool cannot start. */
int run_hooks_start(struct server *srv);
/* Shutdown has begun: the pool starts no cook that is not running yet
 * (they are all about to be taken back). */
void run_hooks_hold(struct server *srv);
/* Takes back every cook still on the pool and joins its threads. */
void run_hooks_stop(struct server *srv);

struct run;
/* Starts a committed run once the loop has served what is due: a burst
 * of runs committed together starts in turns, so the first ones' timers
 * are not held up behind the last ones' starts. */
void run_hooks_start_soon(struct server *srv, struct run *r);

#endif
