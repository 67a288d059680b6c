/* The client's text output: plain lines, NDJSON objects and the tables
 * (totals, runs), each formatted into a strbuf. Pure: no I/O. */
#ifndef BAEDAL_REPORT_H
#define BAEDAL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "client/strbuf.h"
#include "common/protocol.h"

/* Column widths of plain event lines, so that they stay aligned. */
struct report_widths {
	int run;                /* digits of the largest run id */
	int name;               /* longest order name */
	int mode;               /* longest mode word; 5 ("async") when smaller */
};

/* Microseconds as seconds with three decimals, rounded to the ms ("10.000"). */
void report_format_seconds(char *buf, size_t cap, int64_t us);
/* A signed difference in ms with three decimals and its sign ("+0.412"). */
void report_format_signed_ms(char *buf, size_t cap, int64_t us);
/* sum / elapsed with two decimals ("2.50"), "-" if elapsed is not positive. */
void report_format_speedup(char *buf, size_t cap, uint64_t sum_us, int64_t elapsed_us);
/* A replay's speed, thousandths as a short decimal ("2", "0.5", "1.25"). */
void report_format_speed(char *buf, size_t cap, uint32_t milli);
/* What a run would take done one thing after another: its meals, plus its
 * cooks when it has any. Speed-ups divide it by the elapsed time. */
uint64_t report_serial_us(const struct proto_done *d);

void report_json_string(struct strbuf *b, const char *s);

/* mode is an enum proto_mode, or MODEL_MODE_UNKNOWN (-1). */
void report_plain_started(struct strbuf *b, const struct report_widths *w, uint64_t run,
                          int mode, uint32_t orders);
void report_plain_event(struct strbuf *b, const struct report_widths *w, int mode,
                        const struct proto_event *ev);
void report_plain_done(struct strbuf *b, const struct report_widths *w, const struct proto_done *d);
void report_plain_lagged(struct strbuf *b, uint64_t dropped, uint64_t missed,
                         const char *session, uint64_t last_seq);

void report_json_hello(struct strbuf *b, const char *session, const char *server);
void report_json_run(struct strbuf *b, uint64_t run, int mode, uint32_t orders);
void report_json_replay(struct strbuf *b, uint64_t run, int mode, uint32_t orders,
                        uint32_t speed_milli);
void report_json_attached(struct strbuf *b, const char *session, uint64_t seq,
                          const uint64_t *active, size_t nactive);
void report_json_event(struct strbuf *b, int mode, const struct proto_event *ev);
void report_json_done(struct strbuf *b, const struct proto_done *d);
void report_json_lagged(struct strbuf *b, uint64_t dropped, uint64_t missed);
void report_json_runinfo(struct strbuf *b, const struct proto_done *d);

/* The totals table of finished runs (DONE lines), one row each. When a run
 * cooked, the table gains cook, blocked and caused columns and is followed
 * by a line per async and offload run saying what the numbers mean. */
void report_totals(struct strbuf *b, const struct proto_done *rows, size_t n);
/* The table of RUNS: run, mode, orders, status, elapsed, ideal. */
void report_runs_table(struct strbuf *b, const struct proto_done *rows, size_t n);

#endif
