/* The baedal wire protocol (docs/protocol.md): parse client commands and
 * server lines, format server lines. Pure functions: no I/O, no malloc. */
#ifndef BAEDAL_PROTOCOL_H
#define BAEDAL_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_NAME "baedal/1"
#define PROTO_MAX_LINE 4096          /* bytes, without the newline */
#define PROTO_NAME_MAX 32            /* order name length */
#define PROTO_SESSION_HEX 32         /* 128-bit id as lower-case hex */
#define PROTO_LINE_ORDERS 1024       /* RUN orders that fit one line */
#define PROTO_ERR_TEXT 200           /* bytes of an error's text */
#define PROTO_TOKEN_MAX 256          /* AUTH token length */

/* offload: async, with cooking on the server's worker threads instead of
 * on its event loop. */
enum proto_mode { MODE_SYNC = 0, MODE_ASYNC = 1, MODE_OFFLOAD = 2 };
/* cooked comes first, and only for orders that have a cook; cancelled
 * comes instead of eaten and collected, for an order its run gave up on
 * (its deadline passed, or CANCEL). */
enum proto_step { STEP_DELIVERED = 0, STEP_EATEN = 1, STEP_COLLECTED = 2, STEP_COOKED = 3,
                  STEP_CANCELLED = 4 };
/* cancelled: by CANCEL; timed_out: its deadline passed first. */
enum run_status { RUN_RUNNING = 0, RUN_DONE = 1, RUN_INTERRUPTED = 2, RUN_CANCELLED = 3,
                  RUN_TIMED_OUT = 4 };

const char *proto_mode_name(enum proto_mode m);     /* "sync", "async", "offload" */
const char *proto_step_name(enum proto_step s);     /* "delivered", ... */
const char *proto_status_name(enum run_status s);   /* "running", ... */

/* ---- client -> server ---------------------------------------------- */

enum cmd_kind {
	CMD_PING, CMD_HELP, CMD_QUIT, CMD_RUN, CMD_GEN, CMD_ATTACH, CMD_RUNS, CMD_AUTH, CMD_WATCH,
	CMD_CANCEL, CMD_STATS, CMD_REPLAY
};

/* A run's deadline is at most a day. */
#define PROTO_DEADLINE_MAX_US (86400ULL * 1000000ULL)
/* REPLAY's speed=, in thousandths: from 0.01 to 1000 times the original. */
#define PROTO_SPEED_MIN_MILLI 10u
#define PROTO_SPEED_MAX_MILLI 1000000u

struct order_spec {
	char name[PROTO_NAME_MAX + 1];
	uint64_t cook_us;           /* CPU time to cook it; 0: nothing to cook */
	uint64_t meal_us;
};

struct proto_limits {
	uint64_t max_meal_us;   /* longest meal accepted */
	uint32_t max_orders;    /* orders per run (RUN and GEN) */
	uint64_t max_cook_us;   /* longest cook of one order; 0: no cooking */
	/* Cooking on the loop (async) blocks the whole server: the most of it
	 * one run may ask for. */
	uint64_t max_inline_cook_us;
};

struct cmd {
	enum cmd_kind kind;
	enum proto_mode mode;                       /* RUN, GEN */
	uint32_t norders;                           /* RUN: orders[]; GEN: count */
	struct order_spec orders[PROTO_LINE_ORDERS];/* RUN */
	uint64_t gen_lo_us, gen_hi_us;              /* GEN: lo == hi for one meal */
	char gen_prefix[PROTO_NAME_MAX + 1];        /* GEN: "o" by default */
	char group[PROTO_NAME_MAX + 1];             /* RUN, GEN: group=; empty: none */
	uint32_t riders;                            /* RUN, GEN: riders=; 0: no limit */
	uint64_t deadline_us;                       /* RUN, GEN: deadline=; 0: none */
	uint64_t run_id;                            /* CANCEL, REPLAY */
	uint32_t speed_milli;                       /* REPLAY: speed= in thousandths */
	char session[PROTO_SESSION_HEX + 1];        /* ATTACH, RUNS (empty: own) */
	uint64_t since_seq;                         /* ATTACH */
	char token[PROTO_TOKEN_MAX + 1];            /* AUTH */
	int watch_events;                           /* WATCH: 1 events, 0 ends only */
};

/* A failed parse: code is one of the error codes of docs/protocol.md. */
struct proto_error {
	const char *code;
	char text[PROTO_ERR_TEXT];
};

/* Parses one command line (without its newline; a trailing '\r' is
 * ignored). Returns 0 and fills *out, or -1 and fills *err. Never reads
 * past len; the line need not be NUL-terminated. */
int proto_parse_command(const char *line, size_t len, const struct proto_limits *lim,
                        struct cmd *out, struct proto_error *err);

/* HELP's syntax lines, one per command, NULL-terminated: what the
 * server sends as "USAGE <line>" before HELP's OK. */
extern const char *const proto_usage[];

/* Whether s is a session id: exactly 32 lower- or upper-case hex digits.
 * Returns 1 if it is, else 0 (a predicate, unlike the 0/-1 functions). */
int proto_session_valid(const char *s, size_t len);
/* A valid session id (its 32 hex digits) in the lower case the server
 * keeps, NUL-terminated. */
void proto_session_lower(char out[PROTO_SESSION_HEX + 1], const char *id);

/* GEN's orders, shared by the server's scheduler and its store so both
 * agree without storing a million names: the meal of order i (1-based)
 * of n, and its name. */
uint64_t proto_gen_meal(uint32_t i, uint32_t n, uint64_t lo_us, uint64_t hi_us);
int proto_gen_name(char *buf, size_t cap, const char *prefix, uint32_t i);

/* ---- server -> client ---------------------------------------------- */

enum line_kind { LINE_HELLO, LINE_OK, LINE_ERR, LINE_EV, LINE_DONE, LINE_RUNINFO,
                 LINE_LAGGED, LINE_BYE, LINE_ORDER };

struct proto_event {            /* an EV line */
	uint64_t seq, run;
	uint32_t order;             /* 1-based index in the run */
	char name[PROTO_NAME_MAX + 1];
	enum proto_step step;
	uint64_t t_us;
};

struct proto_done {             /* a DONE line (seq unused) or a RUNINFO line */
	uint64_t seq, run;
	enum proto_mode mode;
	uint32_t orders;
	enum run_status status;
	int64_t elapsed_us;         /* -1 while running ("-" on the wire) */
	uint64_t ideal_us, sum_us, max_us;   /* RUNINFO carries no sum/max: 0 */
	/* DONE of a run with cooking (cook > 0; else all 0 and not sent): the
	 * cooks' CPU time, how long its cooks held the event loop, and the
	 * worst lateness of any timer that came due while they did. */
	uint64_t cook_us, blocked_us, caused_us;
	/* riders= and deadline= as the run was given them (0: none, not
	 * sent); a run that ended cancelled or timed out also tells how many
	 * of its orders were collected and how many cancelled. */
	uint32_t riders;
	uint64_t deadline_us;
	uint32_t collected, cancelled;
};

/* What ATTACH adds to a run's RUNINFO line, so that a client can draw the
 * run from its start: how long ago it started, whether the session still
 * holds all its lines, and a GEN run's parameters (its orders are not
 * sent one by one). */
struct proto_runstate {
	int present;                /* the line had these keys (ATTACH's RUNINFO) */
	int64_t age_us;             /* since its start on the server; -1: not started */
	int partial;                /* some of its lines are no longer held */
	int gen;                    /* made by GEN: the three below are set */
	uint64_t gen_lo_us, gen_hi_us;
	char gen_prefix[PROTO_NAME_MAX + 1];
};

struct proto_order {            /* an ORDER line: a RUN's order as given */
	uint64_t run;
	uint32_t order;             /* 1-based */
	char name[PROTO_NAME_MAX + 1];
	uint64_t meal_us, cook_us;  /* cook 0: none */
};

struct server_line {
	enum line_kind kind;
	union {
		struct { char session[PROTO_SESSION_HEX + 1]; char proto[16]; } hello;
		struct { const char *rest; size_t rest_len; } ok;          /* after "OK " */
		struct { char code[32]; const char *text; size_t text_len; } err;
		struct proto_event ev;
		struct proto_done done;    /* DONE and RUNINFO */
		struct { uint64_t dropped, missed; } lagged;
		struct { char reason[32]; } bye;
		struct proto_order order;
	} u;
	struct proto_runstate state;   /* RUNINFO: what ATTACH adds, if present */
};

/* Parses one line the server sent. Returns 0, or -1 if the line is not a
 * well-formed line of a known kind (unknown trailing keys are allowed). */
int proto_parse_server_line(const char *line, size_t len, struct server_line *out);

/* Finds key=value in a space-separated field list (such as an OK line's
 * rest); sets *val and *vlen to the value. Returns 0, or -1 if absent. */
int proto_find_field(const char *s, size_t len, const char *key, const char **val, size_t *vlen);

/* Formatters: write one line WITH its trailing '\n' (no NUL guaranteed
 * beyond it), return its length, or -1 if cap is too small. A buffer of
 * PROTO_MAX_LINE bytes always suffices. */
int proto_format_hello(char *buf, size_t cap, const char *session_hex, const char *version);
int proto_format_event(char *buf, size_t cap, const struct proto_event *ev);
/* The same for an order of GEN: ev->name holds the run's prefix, and the
 * line names the order as GEN does (prefix and number; "?" if that passes
 * PROTO_NAME_MAX). */
int proto_format_gen_event(char *buf, size_t cap, const struct proto_event *ev);
/* A buffer this large holds any EV line and is written in place. */
#define PROTO_EVENT_LINE_MAX 160
int proto_format_done(char *buf, size_t cap, const struct proto_done *d);
int proto_format_runinfo(char *buf, size_t cap, const struct proto_done *d);
/* ATTACH's RUNINFO: d's keys (with sum, max and the cooking keys), then st's. */
int proto_format_runstate(char *buf, size_t cap, const struct proto_done *d,
                          const struct proto_runstate *st);
int proto_format_order(char *buf, size_t cap, const struct proto_order *o);
int proto_format_error(char *buf, size_t cap, const struct proto_error *err);

#endif
