/* Reading stored runs for the web side: a read-only SQLite connection of
 * its own, so that reads never wait on the writer thread (WAL), and one
 * run's orders read a bounded number at a time. */
#ifndef BAEDAL_STORE_READ_H
#define BAEDAL_STORE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "server/export.h"

struct store_read;

/* Opens path read-only. NULL, err filled, on failure. */
struct store_read *store_read_open(const char *path, char *err, size_t cap);
void store_read_close(struct store_read *sr);
/* The last error's text. */
const char *store_read_error(const struct store_read *sr);

/* The newest runs (of one session, or of all when session is NULL),
 * newest first: how many were written to out, or -1. */
int store_read_runs(struct store_read *sr, const char *session, struct export_run *out,
                    size_t cap);
/* One run: 1 found, 0 no such run, -1 error. */
int store_read_run(struct store_read *sr, uint64_t id, struct export_run *out);
/* The runs of r's group (r alone when it has none), oldest first. */
int store_read_group(struct store_read *sr, const struct export_run *r, struct export_run *out,
                     size_t cap);

/* The stalls that overlapped r (until now if it is running), oldest
 * first: how many were written to out, or -1. */
int store_read_stalls(struct store_read *sr, const struct export_run *r,
                      struct export_stall *out, size_t cap);

/* A run's orders with their steps, in index order: begin, then next until
 * it returns 0 (no more) or -1 (error), then end. One cursor at a time
 * per connection: the read sees the database as it was at begin. */
int store_read_orders_begin(struct store_read *sr, uint64_t run_id);
int store_read_orders_next(struct store_read *sr, struct export_order *o);
void store_read_orders_end(struct store_read *sr);

/* The count of orders in flight, each time it changes: the same cursor
 * rules. 1 with a point, 0 at the end, -1 on error. */
int store_read_inflight_begin(struct store_read *sr, uint64_t run_id);
int store_read_inflight_next(struct store_read *sr, int64_t *t_us, int64_t *count);
void store_read_inflight_end(struct store_read *sr);

#endif
