/* Client commands of the baedal wire protocol (docs/protocol.md). Server
 * lines: protocol_server.c; numbers and names both use: protocol_util.c. */
#include "common/protocol.h"

_Static_assert(PROTO_TOKEN_MAX == 256, "parse_auth's message names the limit");

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"
#include "common/protocol_util.h"

/* An echoed token is cut after this many bytes, so that one bad token
 * leaves room for the rest of the message. */
#define ECHO_MAX 40
/* Text kept below PROTO_ERR_TEXT so that "..." and the NUL always fit. */
#define TEXT_LIMIT (PROTO_ERR_TEXT - 4)

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

/* ---- error texts ---------------------------------------------------- */

struct etext {
	char *buf;
	size_t len;
	int cut;
};

/* Appends n bytes whole or not at all: an escape is never split. */
static void etext_put(struct etext *t, const char *s, size_t n)
{
	if (t->cut)
		return;
	if (t->len + n > TEXT_LIMIT) {
		memcpy(t->buf + t->len, "...", 4);
		t->len += 3;
		t->cut = 1;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* A token as the client typed it, kept on one printable line. */
static void etext_token(struct etext *t, const char *tok, size_t n)
{
	size_t shown = n > ECHO_MAX ? ECHO_MAX : n;
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)tok[i];
		char esc[5];
		if (c >= 0x21 && c <= 0x7e) {
			etext_put(t, (const char *)&tok[i], 1);
		} else {
			snprintf(esc, sizeof esc, "\\x%02x", c);
			etext_put(t, esc, 4);
		}
	}
	if (shown < n)
		etext_put(t, "...", 3);
}

/* Fills err and returns -1. fmt knows two conversions: %s, a C string
 * of ours, and %t, a client's token as (const char *, size_t). */
static int fail(struct proto_error *err, const char *code, const char *fmt, ...)
{
	struct etext t = { err->text, 0, 0 };
	va_list ap;

	err->code = code;
	err->text[0] = '\0';
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (f[0] == '%' && f[1] == 't') {
			const char *tok = va_arg(ap, const char *);
			etext_token(&t, tok, va_arg(ap, size_t));
			f++;
		} else if (f[0] == '%' && f[1] == 's') {
			const char *s = va_arg(ap, const char *);
			etext_put(&t, s, strlen(s));
			f++;
		} else {
			etext_put(&t, f, 1);
		}
	}
	va_end(ap);
	return -1;
}

/* ---- commands ------------------------------------------------------- */

struct parser {
	const char *line;
	size_t len, pos;
	const char *word;                 /* the command, upper-case */
	const struct proto_limits *lim;
	struct cmd *out;
	struct proto_error *err;
};

/* Only spaces separate: a tab stays in its token and fails there. */
static int next_token(struct parser *p, const char **tok, size_t *n)
{
	while (p->pos < p->len && p->line[p->pos] == ' ')
		p->pos++;
	if (p->pos == p->len)
		return 0;
	size_t start = p->pos;
	while (p->pos < p->len && p->line[p->pos] != ' ')
		p->pos++;
	*tok = p->line + start;
	*n = p->pos - start;
	return 1;
}

static int ci_equal(const char *tok, size_t n, const char *word)
{
	if (strlen(word) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)tok[i], b = (unsigned char)word[i];
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

static int expect_end(struct parser *p)
{
	const char *tok;
	size_t n;
	if (next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "%s takes no more arguments, got '%t'", p->word, tok, n);
	return 0;
}

static int parse_mode(struct parser *p)
{
	const char *tok;
	size_t n;
	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "%s needs a mode: sync, async or offload", p->word);
	if (ci_equal(tok, n, "sync"))
		p->out->mode = MODE_SYNC;
	else if (ci_equal(tok, n, "async"))
		p->out->mode = MODE_ASYNC;
	else if (ci_equal(tok, n, "offload"))
		p->out->mode = MODE_OFFLOAD;
	else
		return fail(p->err, "bad_mode", "'%t' is not a mode: use sync, async or offload",
		            tok, n);
	return 0;
}

/* A duration s[0..n) of at most max_us, found in the client's token
 * ctx[0..ctx_n); what: "meal" or "cook", over the limit: code. */
static int parse_bounded(struct parser *p, const char *ctx, size_t ctx_n, const char *s,
                         size_t n, uint64_t max_us, const char *what, const char *code,
                         uint64_t *us)
{
	char max[32];
	if (duration_parse(s, n, us) < 0)
		return fail(p->err, "bad_duration", "%t: '%t' is not a duration like 250ms, 3s, 1.5s, 2m",
		            ctx, ctx_n, s, n);
	if (*us > max_us) {
		duration_format(max, sizeof max, max_us);
		return fail(p->err, code, "%t: '%t' is longer than the longest %s, %s", ctx, ctx_n, s,
		            n, what, max);
	}
	return 0;
}

static int parse_meal(struct parser *p, const char *ctx, size_t ctx_n, const char *s, size_t n,
                      uint64_t *us)
{
	return parse_bounded(p, ctx, ctx_n, s, n, p->lim->max_meal_us, "meal", "meal_too_long", us);
}

/* The COOK of NAME:COOK:MEAL; a server that allows no cooking says so. */
static int parse_cook(struct parser *p, const char *ctx, size_t ctx_n, const char *s, size_t n,
                      uint64_t *us)
{
	if (p->lim->max_cook_us == 0 && duration_parse(s, n, us) == 0)
		return fail(p->err, "cook_too_long", "%t: this server does no cooking", ctx, ctx_n);
	return parse_bounded(p, ctx, ctx_n, s, n, p->lim->max_cook_us, "cook", "cook_too_long", us);
}

/* NAME:MEAL, or NAME:COOK:MEAL for an order that is cooked first. */
static int parse_order(struct parser *p, const char *tok, size_t n, struct order_spec *o)
{
	const char *colon = memchr(tok, ':', n);
	if (!colon)
		return fail(p->err, "bad_order", "'%t' is not NAME:DURATION or NAME:COOK:DURATION",
		            tok, n);
	size_t name_n = (size_t)(colon - tok);
	const char *why = proto_name_problem(tok, name_n);
	if (why)
		return fail(p->err, "bad_name", "%t: %s", tok, n, why);
	const char *meal = colon + 1;
	size_t rest = n - name_n - 1;
	const char *second = memchr(meal, ':', rest);
	o->cook_us = 0;
	if (second) {
		size_t cook_n = (size_t)(second - meal);
		if (parse_cook(p, tok, n, meal, cook_n, &o->cook_us) < 0)
			return -1;
		meal = second + 1;
		rest -= cook_n + 1;
	}
	if (parse_meal(p, tok, n, meal, rest, &o->meal_us) < 0)
		return -1;
	memcpy(o->name, tok, name_n);
	o->name[name_n] = '\0';
	return 0;
}

/* async cooks on the event loop, so its cooking is capped per run. */
static int check_inline_cooking(struct parser *p)
{
	uint64_t total = 0;
	char max[32], got[32];
	if (p->out->mode != MODE_ASYNC)
		return 0;
	for (uint32_t i = 0; i < p->out->norders; i++)
		total += p->out->orders[i].cook_us;   /* each <= max_cook_us: no overflow */
	if (total <= p->lim->max_inline_cook_us)
		return 0;
	duration_format(got, sizeof got, total);
	duration_format(max, sizeof max, p->lim->max_inline_cook_us);
	return fail(p->err, "too_much_cooking",
	            "async cooks on the event loop and blocks the server: %s of cooking, at most %s a "
	            "run; use offload", got, max);
}

static int is_option(const char *tok, size_t n, const char *key)
{
	size_t k = strlen(key);
	return n >= k && ci_equal(tok, k, key);
}

/* group=<id>: the runs a client submits together (compare) share it; it
 * follows the same rules as an order name. */
static int parse_group(struct parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "group=" - 1;
	const char *why = proto_name_problem(tok + key, n - key);
	if (why)
		return fail(p->err, "bad_args", "%t: %s", tok, n, why);
	memcpy(p->out->group, tok + key, n - key);
	p->out->group[n - key] = '\0';
	return 0;
}

/* riders=<n>: at most n orders out at once (async and offload). */
static int parse_riders(struct parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "riders=" - 1;
	uint64_t v;
	if (p->out->mode == MODE_SYNC)
		return fail(p->err, "bad_riders", "%t: sync delivers one order at a time; riders= is for "
		            "async and offload", tok, n);
	if (proto_parse_u64(tok + key, n - key, &v) < 0 || v == 0 || v > UINT32_MAX)
		return fail(p->err, "bad_riders", "%t: riders= takes a whole number from 1 up", tok, n);
	p->out->riders = (uint32_t)v;
	return 0;
}

/* deadline=<duration>: orders not collected by then are cancelled. */
static int parse_deadline(struct parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "deadline=" - 1;
	char max[32];
	if (duration_parse(tok + key, n - key, &p->out->deadline_us) < 0)
		return fail(p->err, "bad_deadline", "%t: a deadline is a duration like 250ms, 3s, 1.5s",
		            tok, n);
	if (p->out->deadline_us > PROTO_DEADLINE_MAX_US) {
		duration_format(max, sizeof max, PROTO_DEADLINE_MAX_US);
		return fail(p->err, "bad_deadline", "%t: a deadline is at most %s", tok, n, max);
	}
	return 0;
}

/* group=, riders= and deadline= after a RUN's orders or GEN's meal, each
 * at most once, in any order. Returns 1 if tok was one of them (0 if not,
 * -1 on an error). */
static int parse_run_option(struct parser *p, const char *tok, size_t n, unsigned *seen)
{
	static const char *const keys[] = { "group=", "riders=", "deadline=" };
	for (unsigned k = 0; k < 3; k++) {
		if (!is_option(tok, n, keys[k]))
			continue;
		if (*seen & (1u << k))
			return fail(p->err, "bad_args", "%s takes no more arguments, got '%t'", p->word, tok, n);
		*seen |= 1u << k;
		int rc = k == 0 ? parse_group(p, tok, n)
		       : k == 1 ? parse_riders(p, tok, n) : parse_deadline(p, tok, n);
		return rc < 0 ? -1 : 1;
	}
	return 0;
}

static int parse_run(struct parser *p)
{
	uint32_t max = p->lim->max_orders < PROTO_LINE_ORDERS ? p->lim->max_orders
	                                                      : PROTO_LINE_ORDERS;
	const char *tok;
	size_t n;
	char num[16];

	if (parse_mode(p) < 0)
		return -1;
	unsigned seen = 0;
	while (next_token(p, &tok, &n)) {
		int opt = parse_run_option(p, tok, n, &seen);
		if (opt < 0)
			return -1;
		if (opt > 0 && p->out->norders == 0)
			return fail(p->err, "no_orders", "RUN needs its orders before %t", tok, n);
		if (opt > 0)
			continue;
		if (seen)
			return fail(p->err, "bad_args", "RUN takes no more arguments, got '%t'", tok, n);
		if (p->out->norders >= max) {
			snprintf(num, sizeof num, "%" PRIu32, max);
			return fail(p->err, "too_many_orders", "'%t' is one order too many: a run takes at most %s",
			            tok, n, num);
		}
		if (parse_order(p, tok, n, &p->out->orders[p->out->norders]) < 0)
			return -1;
		p->out->norders++;
	}
	if (p->out->norders == 0)
		return fail(p->err, "no_orders", "RUN needs at least one NAME:DURATION order");
	return check_inline_cooking(p);
}

static int parse_count(struct parser *p)
{
	const char *tok;
	size_t n;
	uint64_t count;
	char num[16];

	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "GEN needs a count: GEN <mode> <count> <meal>[..<meal>]");
	if (proto_parse_u64(tok, n, &count) < 0)
		return fail(p->err, "bad_args", "'%t' is not a count", tok, n);
	if (count == 0)
		return fail(p->err, "no_orders", "GEN needs a count of at least 1, got '%t'", tok, n);
	if (count > p->lim->max_orders) {
		snprintf(num, sizeof num, "%" PRIu32, p->lim->max_orders);
		return fail(p->err, "too_many_orders", "'%t' orders: a run takes at most %s", tok, n, num);
	}
	p->out->norders = (uint32_t)count;
	return 0;
}

/* <meal> or <lo>..<hi>: no duration contains "..", so the first splits. */
static int parse_meal_range(struct parser *p)
{
	const char *tok;
	size_t n, dots = 0;

	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "GEN needs a meal: GEN <mode> <count> <meal>[..<meal>]");
	while (dots + 1 < n && !(tok[dots] == '.' && tok[dots + 1] == '.'))
		dots++;
	if (dots + 1 >= n) {
		if (parse_meal(p, tok, n, tok, n, &p->out->gen_lo_us) < 0)
			return -1;
		p->out->gen_hi_us = p->out->gen_lo_us;
		return 0;
	}
	if (parse_meal(p, tok, n, tok, dots, &p->out->gen_lo_us) < 0 ||
	    parse_meal(p, tok, n, tok + dots + 2, n - dots - 2, &p->out->gen_hi_us) < 0)
		return -1;
	if (p->out->gen_lo_us > p->out->gen_hi_us)
		return fail(p->err, "bad_args", "'%t' goes down: write <lo>..<hi> with lo <= hi", tok, n);
	return 0;
}

/* Every generated name, up to prefix<count>, must be a valid name. */
static int parse_prefix(struct parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "prefix=" - 1;
	char num[16];

	if (n < key || !ci_equal(tok, key, "prefix="))
		return fail(p->err, "bad_args", "'%t' is not prefix=<name>", tok, n);
	const char *name = tok + key;
	size_t name_n = n - key;
	const char *why = proto_name_problem(name, name_n);
	if (why)
		return fail(p->err, "bad_name", "%t: %s", tok, n, why);
	int digits = snprintf(num, sizeof num, "%" PRIu32, p->out->norders);
	if (name_n + (size_t)digits > PROTO_NAME_MAX)
		return fail(p->err, "bad_name", "%t: the name of order %s would be longer than 32 characters",
		            tok, n, num);
	memcpy(p->out->gen_prefix, name, name_n);
	p->out->gen_prefix[name_n] = '\0';
	return 0;
}

/* prefix=, group=, riders= and deadline=, each at most once, in any order. */
static int parse_gen(struct parser *p)
{
	const char *tok;
	size_t n;
	int prefixed = 0;
	unsigned seen = 0;

	if (parse_mode(p) < 0 || parse_count(p) < 0 || parse_meal_range(p) < 0)
		return -1;
	strcpy(p->out->gen_prefix, "o");
	while (next_token(p, &tok, &n)) {
		int opt = parse_run_option(p, tok, n, &seen);
		if (opt < 0)
			return -1;
		if (opt > 0)
			continue;
		if (!prefixed) {
			if (parse_prefix(p, tok, n) < 0)
				return -1;
			prefixed = 1;
		} else {
			return fail(p->err, "bad_args", "GEN takes no more arguments, got '%t'", tok, n);
		}
	}
	return 0;
}

static int parse_session(struct parser *p, const char *tok, size_t n)
{
	if (!proto_session_valid(tok, n))
		return fail(p->err, "bad_session", "'%t' is not a session id of 32 hex digits", tok, n);
	for (size_t i = 0; i < n; i++) {
		char c = tok[i];
		p->out->session[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
	}
	p->out->session[n] = '\0';
	return 0;
}

static int parse_attach(struct parser *p)
{
	const char *tok;
	size_t n;

	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "ATTACH needs a session id: ATTACH <session> [<seq>]");
	if (parse_session(p, tok, n) < 0)
		return -1;
	if (next_token(p, &tok, &n) && proto_parse_u64(tok, n, &p->out->since_seq) < 0)
		return fail(p->err, "bad_args", "'%t' is not a seq number", tok, n);
	return expect_end(p);
}

static int parse_runs(struct parser *p)
{
	const char *tok;
	size_t n;

	if (next_token(p, &tok, &n) && parse_session(p, tok, n) < 0)
		return -1;
	return expect_end(p);
}

/* AUTH <token>: 1 to PROTO_TOKEN_MAX printable bytes, no spaces. */
static int parse_auth(struct parser *p)
{
	const char *tok;
	size_t n;

	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "AUTH needs the server's token: AUTH <token>");
	/* The token is a secret: errors never echo it. */
	if (n > PROTO_TOKEN_MAX)
		return fail(p->err, "bad_args", "a token is at most 256 bytes");
	for (size_t i = 0; i < n; i++) {
		if (tok[i] < 0x21 || tok[i] > 0x7e)
			return fail(p->err, "bad_args", "a token is printable ASCII without spaces");
	}
	memcpy(p->out->token, tok, n);
	p->out->token[n] = '\0';
	return expect_end(p);
}

/* WATCH events|ends: whether this connection is sent events live, or
 * only its runs' ends (a client that wants a large run's totals). */
static int parse_watch(struct parser *p)
{
	const char *tok;
	size_t n;

	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "WATCH needs what to send: WATCH events|ends");
	if (ci_equal(tok, n, "events"))
		p->out->watch_events = 1;
	else if (ci_equal(tok, n, "ends"))
		p->out->watch_events = 0;
	else
		return fail(p->err, "bad_args", "'%t' is neither events nor ends", tok, n);
	return expect_end(p);
}

static int parse_run_id(struct parser *p, const char *usage)
{
	const char *tok;
	size_t n;
	if (!next_token(p, &tok, &n))
		return fail(p->err, "bad_args", "%s needs a run id: %s", p->word, usage);
	if (proto_parse_u64(tok, n, &p->out->run_id) < 0 || p->out->run_id == 0)
		return fail(p->err, "bad_args", "'%t' is not a run id", tok, n);
	return 0;
}

/* CANCEL <run>: one of the session's own runs. */
static int parse_cancel(struct parser *p)
{
	if (parse_run_id(p, "CANCEL <run>") < 0)
		return -1;
	return expect_end(p);
}

/* speed=X: a decimal with up to three places, e.g. 2, 0.5, 1.25. */
static int parse_speed(struct parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "speed=" - 1;
	if (n < key || !ci_equal(tok, key, "speed="))
		return fail(p->err, "bad_args", "REPLAY takes no more arguments, got '%t'", tok, n);
	const char *v = tok + key, *dot = memchr(v, '.', n - key);
	size_t whole = dot ? (size_t)(dot - v) : n - key, frac = dot ? n - key - whole - 1 : 0;
	uint64_t w = 0, f = 0;
	if (whole == 0 || whole > 7 || frac > 3 || (dot && frac == 0) ||
	    proto_parse_u64(v, whole, &w) < 0 ||
	    (frac && proto_parse_u64(dot + 1, frac, &f) < 0))
		return fail(p->err, "bad_speed", "'%t' is not speed=X, a number like 2 or 0.5", tok, n);
	for (size_t i = frac; i < 3; i++)
		f *= 10;
	uint64_t milli = w * 1000 + f;
	if (milli < PROTO_SPEED_MIN_MILLI || milli > PROTO_SPEED_MAX_MILLI)
		return fail(p->err, "bad_speed", "%t: the speed goes from 0.01 to 1000", tok, n);
	p->out->speed_milli = (uint32_t)milli;
	return 0;
}

/* REPLAY <run> [speed=X]: a stored run sent again at its pace. */
static int parse_replay(struct parser *p)
{
	const char *tok;
	size_t n;
	if (parse_run_id(p, "REPLAY <run> [speed=<x>]") < 0)
		return -1;
	if (next_token(p, &tok, &n) && parse_speed(p, tok, n) < 0)
		return -1;
	return expect_end(p);
}

static const struct {
	const char *word;
	enum cmd_kind kind;
	int (*parse)(struct parser *p);
} commands[] = {
	{ "PING", CMD_PING, expect_end },
	{ "HELP", CMD_HELP, expect_end },
	{ "QUIT", CMD_QUIT, expect_end },
	{ "RUN", CMD_RUN, parse_run },
	{ "GEN", CMD_GEN, parse_gen },
	{ "ATTACH", CMD_ATTACH, parse_attach },
	{ "RUNS", CMD_RUNS, parse_runs },
	{ "AUTH", CMD_AUTH, parse_auth },
	{ "WATCH", CMD_WATCH, parse_watch },
	{ "CANCEL", CMD_CANCEL, parse_cancel },
	{ "STATS", CMD_STATS, expect_end },
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
	struct parser p = { line, len, 0, NULL, lim, out, err };
	const char *tok;
	size_t n;

	if (p.len > 0 && line[p.len - 1] == '\r')
		p.len--;
	if (!next_token(&p, &tok, &n))
		return fail(err, "unknown_command", "empty line");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (ci_equal(tok, n, commands[i].word)) {
			p.word = commands[i].word;
			cmd_reset(out, commands[i].kind);
			return commands[i].parse(&p);
		}
	}
	return fail(err, "unknown_command", "%t: try HELP", tok, n);
}
