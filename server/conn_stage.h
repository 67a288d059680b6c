/* The staging chunk for live event lines: a watcher's lines are formatted
 * straight into one chunk and join its output together, once the chunk is
 * full, before any other line to the same client, or CONN_STAGE_WAIT_US
 * after the first of them, whichever comes first. Over loopback every
 * write to a client also runs the client's side of TCP and wakes it up on
 * the loop's thread: a large run's lines leave in a few hundred writes
 * instead of thousands. The server has one chunk, held by one connection
 * at a time: a line for another connection flushes it first, so memory
 * stays one chunk whatever the number of watchers. */
#ifndef BAEDAL_CONN_STAGE_H
#define BAEDAL_CONN_STAGE_H

#include <stddef.h>

struct server;
struct conn;

#define CONN_STAGE_SIZE (256u << 10)
/* The longest a line waits for others to leave with: far below what a
 * person watching can tell; the line's t= is stamped when it happened. */
#define CONN_STAGE_WAIT_US 2000

int conn_stage_init(struct server *srv);
/* After every connection's output is gone (event_base_free), since a
 * written chunk comes back to the server's spares from there. */
void conn_stage_free(struct server *srv);

/* Room for one event line (PROTO_EVENT_LINE_MAX bytes) at the end of c's
 * staged lines, or NULL if memory ran out. conn_stage_commit then says
 * how much of it the line took. */
char *conn_stage_room(struct conn *c);
void conn_stage_commit(struct conn *c, size_t len);
/* Moves c's staged lines, if any, to its output. */
void conn_stage_flush(struct conn *c);
/* c's staged lines, in bytes: part of its output for every limit. */
size_t conn_stage_len(const struct conn *c);
/* Forgets c's staged lines (c is closing for good). */
void conn_stage_drop(struct conn *c);

#endif
