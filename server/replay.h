/* REPLAY: a stored run sent again to the one connection that asked, at
 * its original pace scaled by a speed, from the database; nothing stored
 * changes and no session's ring holds its lines. */
#ifndef BAEDAL_REPLAY_H
#define BAEDAL_REPLAY_H

#include <stdint.h>

struct conn;

/* The largest run a replay reads: it is read whole, on the loop, before
 * its first line; a larger run is exported instead. */
#define REPLAY_ORDERS_MAX 10000u

/* Replays under way at once, all connections: each holds its run's
 * steps and up to a full output. */
#define REPLAYS_MAX 64u

/* Answers REPLAY on c: the run's description, OK, then its events paced
 * by one timer, then DONE; or one ERR. */
void replay_start(struct conn *c, uint64_t run_id, uint32_t speed_milli);
/* Ends c's replay, if any, and frees it (its connection is closing). */
void replay_stop(struct conn *c);
/* c's output drained: a replay paused for it goes on. */
void replay_resume(struct conn *c);
/* Whether c's replay waits for its client to read. */
int replay_paused(const struct conn *c);

#endif
