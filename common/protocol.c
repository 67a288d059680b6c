/* Client commands of the baedal wire protocol (docs/protocol.md): the
 * command table and the commands about sessions, runs and the connection.
 * RUN's and GEN's arguments: protocol_orders.c; a line's tokens and error
 * texts: protocol_tokens.c; server lines: protocol_server.c; numbers and
 * names all use: protocol_util.c. */
#include "common/protocol.h"

_Static_assert(PROTO_TOKEN_MAX == 256, "parse_auth's message names the limit");

#include <string.h>

#include "common/protocol_orders.h"
#include "common/protocol_tokens.h"
#include "common/protocol_util.h"

const char *proto_mode_name(enum proto_mode m)
{
	switch (m) {
	case MODE_SYNC: return "sync";
	case MODE_ASYNC: return "async";
	case MODE_OFFLOAD: return "offload";
	}
	return "?";
}

const char *proto_step_name(enum proto_step s)
{
	switch (s) {
	case STEP_DELIVERED: return "delivered";
	case STEP_EATEN: return "eaten";
	case STEP_COLLECTED: return "collected";
	case STEP_COOKED: return "cooked";
	case STEP_CANCELLED: return "cancelled";
	}
	return "?";
}

const char *proto_status_name(enum run_status s)
{
	switch (s) {
	case RUN_RUNNING: return "running";
	case RUN_DONE: return "done";
	case RUN_INTERRUPTED: return "interrupted";
	case RUN_CANCELLED: return "cancelled";
	case RUN_TIMED_OUT: return "timed_out";
	}
	return "?";
}

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int proto_session_valid(const char *s, size_t len)
{
	if (!s || len != PROTO_SESSION_HEX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_hex((unsigned char)s[i]))
			return 0;
	return 1;
}

static int parse_session(struct proto_parser *p, const char *tok, size_t n)
{
	if (!proto_session_valid(tok, n))
		return proto_fail(p->err, "bad_session", "'%t' is not a session id of 32 hex digits", tok, n);
	proto_session_lower(p->out->session, tok);
	return 0;
}

void proto_session_lower(char out[PROTO_SESSION_HEX + 1], const char *id)
{
	for (size_t i = 0; i < PROTO_SESSION_HEX; i++)
		out[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	out[PROTO_SESSION_HEX] = '\0';
}

static int parse_attach(struct proto_parser *p)
{
	const char *tok;
	size_t n;

	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "ATTACH needs a session id: ATTACH <session> [<seq>]");
	if (parse_session(p, tok, n) < 0)
		return -1;
	if (proto_next_token(p, &tok, &n) && proto_parse_u64(tok, n, &p->out->since_seq) < 0)
		return proto_fail(p->err, "bad_args", "'%t' is not a seq number", tok, n);
	return proto_expect_end(p);
}

static int parse_runs(struct proto_parser *p)
{
	const char *tok;
	size_t n;

	if (proto_next_token(p, &tok, &n) && parse_session(p, tok, n) < 0)
		return -1;
	return proto_expect_end(p);
}

/* AUTH <token>: 1 to PROTO_TOKEN_MAX printable bytes, no spaces. */
static int parse_auth(struct proto_parser *p)
{
	const char *tok;
	size_t n;

	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "AUTH needs the server's token: AUTH <token>");
	/* The token is a secret: errors never echo it. */
	if (n > PROTO_TOKEN_MAX)
		return proto_fail(p->err, "bad_args", "a token is at most 256 bytes");
	for (size_t i = 0; i < n; i++) {
		if (tok[i] < 0x21 || tok[i] > 0x7e)
			return proto_fail(p->err, "bad_args", "a token is printable ASCII without spaces");
	}
	memcpy(p->out->token, tok, n);
	p->out->token[n] = '\0';
	return proto_expect_end(p);
}

/* WATCH events|ends: whether this connection is sent events live, or
 * only its runs' ends (a client that wants a large run's totals). */
static int parse_watch(struct proto_parser *p)
{
	const char *tok;
	size_t n;

	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "WATCH needs what to send: WATCH events|ends");
	if (proto_word_equal(tok, n, "events"))
		p->out->watch_events = 1;
	else if (proto_word_equal(tok, n, "ends"))
		p->out->watch_events = 0;
	else
		return proto_fail(p->err, "bad_args", "'%t' is neither events nor ends", tok, n);
	return proto_expect_end(p);
}

static int parse_run_id(struct proto_parser *p, const char *usage)
{
	const char *tok;
	size_t n;
	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "%s needs a run id: %s", p->word, usage);
	if (proto_parse_u64(tok, n, &p->out->run_id) < 0 || p->out->run_id == 0)
		return proto_fail(p->err, "bad_args", "'%t' is not a run id", tok, n);
	return 0;
}

/* CANCEL <run>: one of the session's own runs. */
static int parse_cancel(struct proto_parser *p)
{
	if (parse_run_id(p, "CANCEL <run>") < 0)
		return -1;
	return proto_expect_end(p);
}

/* speed=X: a decimal with up to three places, e.g. 2, 0.5, 1.25. */
static int parse_speed(struct proto_parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "speed=" - 1;
	if (n < key || !proto_word_equal(tok, key, "speed="))
		return proto_fail(p->err, "bad_args", "REPLAY takes no more arguments, got '%t'", tok, n);
	const char *v = tok + key, *dot = memchr(v, '.', n - key);
	size_t whole = dot ? (size_t)(dot - v) : n - key, frac = dot ? n - key - whole - 1 : 0;
	uint64_t w = 0, f = 0;
	if (whole == 0 || whole > 7 || frac > 3 || (dot && frac == 0) ||
	    proto_parse_u64(v, whole, &w) < 0 ||
	    (frac && proto_parse_u64(dot + 1, frac, &f) < 0))
		return proto_fail(p->err, "bad_speed", "'%t' is not speed=X, a number like 2 or 0.5", tok, n);
	for (size_t i = frac; i < 3; i++)
		f *= 10;
	uint64_t milli = w * 1000 + f;
	if (milli < PROTO_SPEED_MIN_MILLI || milli > PROTO_SPEED_MAX_MILLI)
		return proto_fail(p->err, "bad_speed", "%t: the speed goes from 0.01 to 1000", tok, n);
	p->out->speed_milli = (uint32_t)milli;
	return 0;
}

/* REPLAY <run> [speed=X]: a stored run sent again at its pace. */
static int parse_replay(struct proto_parser *p)
{
	const char *tok;
	size_t n;
	if (parse_run_id(p, "REPLAY <run> [speed=<x>]") < 0)
		return -1;
	if (proto_next_token(p, &tok, &n) && parse_speed(p, tok, n) < 0)
		return -1;
	return proto_expect_end(p);
}

static const struct {
	const char *word;
	enum cmd_kind kind;
	int (*parse)(struct proto_parser *p);
} commands[] = {
	{ "PING", CMD_PING, proto_expect_end },
	{ "HELP", CMD_HELP, proto_expect_end },
	{ "QUIT", CMD_QUIT, proto_expect_end },
	{ "RUN", CMD_RUN, proto_parse_run },
	{ "GEN", CMD_GEN, proto_parse_gen },
	{ "ATTACH", CMD_ATTACH, parse_attach },
	{ "RUNS", CMD_RUNS, parse_runs },
	{ "AUTH", CMD_AUTH, parse_auth },
	{ "WATCH", CMD_WATCH, parse_watch },
	{ "CANCEL", CMD_CANCEL, parse_cancel },
	{ "STATS", CMD_STATS, proto_expect_end },
	{ "REPLAY", CMD_REPLAY, parse_replay },
};

const char *const proto_usage[] = {
	"RUN <mode> <name>:[<cook>:]<meal>... [group=<id>] [riders=<n>] [deadline=<d>]",
	"GEN <mode> <count> <meal>[..<meal>] [prefix=<name>] [RUN's options]",
	"CANCEL <run>",
	"REPLAY <run> [speed=<x>]",
	"ATTACH <session> [<seq>]",
	"RUNS [<session>]",
	"WATCH events|ends",
	"STATS",
	"AUTH <token>",
	"PING",
	"HELP",
	"QUIT",
	NULL,
};

/* Every field but orders[] is reset; norders says how much of orders[]
 * counts, and zeroing its 40 KiB for every PING would be wasted. */
static void cmd_reset(struct cmd *out, enum cmd_kind kind)
{
	out->kind = kind;
	out->mode = MODE_SYNC;
	out->norders = 0;
	out->gen_lo_us = out->gen_hi_us = 0;
	out->gen_prefix[0] = '\0';
	out->group[0] = '\0';
	out->session[0] = '\0';
	out->since_seq = 0;
	out->token[0] = '\0';
	out->watch_events = 1;
	out->riders = 0;
	out->deadline_us = 0;
	out->run_id = 0;
	out->speed_milli = 1000;
}

int proto_parse_command(const char *line, size_t len, const struct proto_limits *lim,
                        struct cmd *out, struct proto_error *err)
{
	struct proto_parser p = { line, len, 0, NULL, lim, out, err };
	const char *tok;
	size_t n;

	if (p.len > 0 && line[p.len - 1] == '\r')
		p.len--;
	if (!proto_next_token(&p, &tok, &n))
		return proto_fail(err, "unknown_command", "empty line");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (proto_word_equal(tok, n, commands[i].word)) {
			p.word = commands[i].word;
			cmd_reset(out, commands[i].kind);
			return commands[i].parse(&p);
		}
	}
	return proto_fail(err, "unknown_command", "%t: try HELP", tok, n);
}
