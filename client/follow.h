/* Follows the server's lines for one command: the replies it awaits, the
 * runs it waits for, the model they feed, and the plain or NDJSON output. */
#ifndef BAEDAL_FOLLOW_H
#define BAEDAL_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

#include "client/cli.h"
#include "client/model.h"
#include "client/report.h"
#include "client/stats.h"
#include "client/strbuf.h"
#include "client/term.h"
#include "common/protocol.h"

#define FOLLOW_CONTINUE (-1)        /* not an exit code: go on reading */
#define FOLLOW_IDLE_US 200000
#define FOLLOW_EXPECT_MAX (2 + CLI_RIDERS_MAX)   /* AUTH, the runs, STATS */
#define FOLLOW_ERR_LEN (REMOTE_LINE_MAX + 200)

enum follow_reply { FOLLOW_REPLY_RUN, FOLLOW_REPLY_GEN, FOLLOW_REPLY_RUNS, FOLLOW_REPLY_ATTACH,
                    FOLLOW_REPLY_AUTH, FOLLOW_REPLY_REPLAY, FOLLOW_REPLY_STATS };

struct follow_expect {
	enum follow_reply kind;
	enum proto_mode mode;
	uint32_t riders;            /* the run's riders=; 0: none */
};

struct follow {
	const struct cli_opts *opt;
	enum term_output out;
	struct model model;
	struct strbuf buf;              /* output not written yet */
	struct report_widths widths;    /* of plain lines */
	char session[PROTO_SESSION_HEX + 1];
	struct follow_expect expect[FOLLOW_EXPECT_MAX];     /* replies awaited, in order */
	int nexpect, nreplied;
	uint64_t *waits;                /* runs whose DONE ends the command */
	size_t nwaits;
	uint64_t last_seq;
	int64_t now_us;                 /* when the line being handled arrived */
	int64_t idle_deadline_us;       /* attach with no active run: > 0 */
	int interrupted;                /* a run awaited ended interrupted */
	int unfinished;                 /* one ended timed_out or cancelled */
	int dirty;                      /* the model changed since the last frame */
	int wrap_notes;                 /* the notes under the totals fit a terminal */
	struct stats stats;             /* compare --cook's STATS, after its runs */
	int has_stats;                  /* its answer came whole */
	char bye[32];
	char err[FOLLOW_ERR_LEN];       /* why the command failed */
};

void follow_init(struct follow *f, const struct cli_opts *o, enum term_output out);
void follow_free(struct follow *f);

/* Sets err; returns 1, the exit code of a failure. */
int follow_fail(struct follow *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True for the commands that start runs (run, gen, compare, demo). */
int follow_creates_runs(const struct follow *f);

/* The greeting: FOLLOW_CONTINUE, or 1 with err set. */
int follow_hello(struct follow *f, const char *line, size_t len);

/* One server line that arrived at now_us: FOLLOW_CONTINUE or an exit code. */
int follow_line(struct follow *f, const char *line, size_t len, int64_t now_us);

/* Every reply in and every run awaited done (attach: see its idle end). */
int follow_finished(const struct follow *f);

/* The connection closed: the exit code, with err set if it is 1. */
int follow_eof(struct follow *f);

/* Appends the totals table of the runs followed to their end, if any. */
void follow_totals(struct follow *f);

#endif
