/* The server's health as the client reads it: STATS's STAT and STALLED
 * lines, and the STALL notices a session gets (docs/protocol.md), parsed
 * and told. Pure: no I/O. */
#ifndef BAEDAL_STATS_H
#define BAEDAL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "client/strbuf.h"

struct model;

#define STATS_STALLS_MAX 16         /* STATS lists the last 16 stalls */
#define STATS_CAUSE_MAX 15

/* One stall: a STALLED line of STATS (start, ago) or a STALL notice (seq). */
struct stats_stall {
	uint64_t id, held_us, run;
	uint32_t order;
	char cause[STATS_CAUSE_MAX + 1];    /* cook, line, start */
	uint64_t seq;                       /* STALL: its place among the session's lines */
	int64_t start_wall_us;              /* STALLED: its start on the server's wall clock */
	uint64_t ago_us;                    /* STALLED: how long before the answer it began */
};

/* One STATS answer; times in µs. */
struct stats {
	uint64_t uptime_us, busy_us, iterations, stalls, stalled_us, warn_stall_us;
	uint64_t lag_count, lag_p50, lag_p99, lag_p999, lag_max;
	uint64_t recent_count, recent_p50, recent_p99, recent_max;     /* the last 10 s */
	uint64_t runs[3];                   /* running, by enum proto_mode */
	uint64_t orders, queued, cooking, workers, connections, sessions;
	int has_orders;                     /* the STAT orders line came */
	uint64_t orders_by_mode[3];         /* orders not collected, by mode */
	uint64_t on_timer, waiting;         /* delivered, eating; not delivered yet */
	uint64_t store_queue, store_lag_us, commits, rows, commit_p50, commit_p99, commit_max;
	struct stats_stall recent[STATS_STALLS_MAX];  /* oldest first */
	size_t nrecent;
};

#define STATS_NOTE_WIDTH 79     /* the notes' lines on a terminal, at most */

enum stats_kind { STATS_STAT, STATS_STALLED, STATS_END, STATS_OTHER };

/* One line of a STATS answer into s (zero it first): STATS_STAT and
 * STATS_STALLED when taken in, STATS_END for "OK stats", STATS_OTHER for
 * any other line (left to the caller); -1 for a STAT or STALLED line that
 * lacks a key or has a bad number. */
int stats_parse_line(struct stats *s, const char *line, size_t len);

/* A STALL notice ("STALL seq= id= held= cause= run= order="): 0, or -1
 * if the line is not one. */
int stats_parse_stall(const char *line, size_t len, struct stats_stall *out);

/* A time for people: "0.052 ms", "3.41 ms", "452 ms", "1.25 s". */
void stats_format_time(char *buf, size_t cap, uint64_t us);

/* Loop utilisation in percent: busy CPU time over wall time. */
double stats_utilisation(const struct stats *s);

/* A STALL notice as a plain line and as an NDJSON object. */
void stats_plain_stall(struct strbuf *b, const struct stats_stall *st);
void stats_json_stall(struct strbuf *b, const struct stats_stall *st);

/* After the totals: the stalls the session was told of, each held time
 * and whose cook it was ("The loop stalled 2 times (450 ms, 452 ms:
 * async's cooks of B and C)."); nothing without any. Like the lag's line
 * below, broken at spaces where it would pass 79 columns. */
void stats_note_stalls(struct strbuf *b, const struct model *m);
/* The same broken at width columns; 0: one line whatever its length (for
 * output that is not a terminal, read by programs). */
void stats_note_stalls_width(struct strbuf *b, const struct model *m, int width);

/* After the totals of compare --cook: the loop's lag as the server
 * measured it over its life, from a STATS answer ("Loop lag since the
 * server started 6.21 s ago: max 452 ms, p99 1.20 ms."). */
void stats_note_lag(struct strbuf *b, const struct stats *s);
void stats_note_lag_width(struct strbuf *b, const struct stats *s, int width);

#endif
