/* RUN's and GEN's arguments (docs/protocol.md): the mode, the orders
 * with their names, meals and cooks, GEN's count, meal range and prefix,
 * and the options both take: group=, riders= and deadline=. Each is
 * checked against the server's limits as it is read. */
#include "common/protocol_orders.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"
#include "common/protocol_util.h"

static int parse_mode(struct proto_parser *p)
{
	const char *tok;
	size_t n;
	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "%s needs a mode: sync, async or offload", p->word);
	if (proto_word_equal(tok, n, "sync"))
		p->out->mode = MODE_SYNC;
	else if (proto_word_equal(tok, n, "async"))
		p->out->mode = MODE_ASYNC;
	else if (proto_word_equal(tok, n, "offload"))
		p->out->mode = MODE_OFFLOAD;
	else
		return proto_fail(p->err, "bad_mode", "'%t' is not a mode: use sync, async or offload",
		                  tok, n);
	return 0;
}

/* A duration s[0..n) of at most max_us, found in the client's token
 * ctx[0..ctx_n); what: "meal" or "cook", over the limit: code. */
static int parse_bounded(struct proto_parser *p, const char *ctx, size_t ctx_n, const char *s,
                         size_t n, uint64_t max_us, const char *what, const char *code,
                         uint64_t *us)
{
	char max[32];
	int parsed = duration_parse(s, n, us);
	if (parsed < 0 && !duration_overflows(s, n))
		return proto_fail(p->err, "bad_duration", "%t: '%t' is not a duration like 250ms, 3s, 1.5s, 2m",
		                  ctx, ctx_n, s, n);
	if (parsed < 0 || *us > max_us) {
		duration_format(max, sizeof max, max_us);
		return proto_fail(p->err, code, "%t: '%t' is longer than the longest %s, %s", ctx, ctx_n, s,
		                  n, what, max);
	}
	return 0;
}

static int parse_meal(struct proto_parser *p, const char *ctx, size_t ctx_n, const char *s,
                      size_t n, uint64_t *us)
{
	return parse_bounded(p, ctx, ctx_n, s, n, p->lim->max_meal_us, "meal", "meal_too_long", us);
}

/* The COOK of NAME:COOK:MEAL; a server that allows no cooking says so. */
static int parse_cook(struct proto_parser *p, const char *ctx, size_t ctx_n, const char *s,
                      size_t n, uint64_t *us)
{
	if (p->lim->max_cook_us == 0 && duration_parse(s, n, us) == 0)
		return proto_fail(p->err, "cook_too_long", "%t: this server does no cooking", ctx, ctx_n);
	return parse_bounded(p, ctx, ctx_n, s, n, p->lim->max_cook_us, "cook", "cook_too_long", us);
}

/* NAME:MEAL, or NAME:COOK:MEAL for an order that is cooked first. */
static int parse_order(struct proto_parser *p, const char *tok, size_t n, struct order_spec *o)
{
	const char *colon = memchr(tok, ':', n);
	if (!colon)
		return proto_fail(p->err, "bad_order", "'%t' is not NAME:DURATION or NAME:COOK:DURATION",
		                  tok, n);
	size_t name_n = (size_t)(colon - tok);
	const char *why = proto_name_problem(tok, name_n);
	if (why)
		return proto_fail(p->err, "bad_name", "%t: %s", tok, n, why);
	const char *meal = colon + 1;
	size_t rest = n - name_n - 1;
	const char *second = memchr(meal, ':', rest);
	o->cook_us = 0;
	if (second && memchr(second + 1, ':', rest - (size_t)(second - meal) - 1))
		return proto_fail(p->err, "bad_order", "'%t' is not NAME:DURATION or NAME:COOK:DURATION",
		                  tok, n);
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
static int check_inline_cooking(struct proto_parser *p)
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
	return proto_fail(p->err, "too_much_cooking",
	                  "async cooks on the event loop and blocks the server: %s of cooking, "
	                  "at most %s a run; use offload", got, max);
}

/* group=<id>: the runs a client submits together (compare) share it; it
 * follows the same rules as an order name. */
static int parse_group(struct proto_parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "group=" - 1;
	const char *why = proto_name_problem(tok + key, n - key);
	if (why)
		return proto_fail(p->err, "bad_args", "%t: %s", tok, n, why);
	memcpy(p->out->group, tok + key, n - key);
	p->out->group[n - key] = '\0';
	return 0;
}

/* riders=<n>: at most n orders out at once (async and offload). */
static int parse_riders(struct proto_parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "riders=" - 1;
	uint64_t v;
	if (p->out->mode == MODE_SYNC)
		return proto_fail(p->err, "bad_riders", "%t: sync delivers one order at a time; riders= is for "
		                  "async and offload", tok, n);
	if (proto_parse_u64(tok + key, n - key, &v) < 0 || v == 0 || v > UINT32_MAX)
		return proto_fail(p->err, "bad_riders", "%t: riders= takes a whole number from 1 to "
		                  "4294967295", tok, n);
	p->out->riders = (uint32_t)v;
	return 0;
}

/* deadline=<duration>: orders not collected by then are cancelled. */
static int parse_deadline(struct proto_parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "deadline=" - 1;
	char max[32];
	int parsed = duration_parse(tok + key, n - key, &p->out->deadline_us);
	if (parsed < 0 && !duration_overflows(tok + key, n - key))
		return proto_fail(p->err, "bad_deadline", "%t: a deadline is a duration like 250ms, 3s, 1.5s",
		                  tok, n);
	if (parsed < 0 || p->out->deadline_us > PROTO_DEADLINE_MAX_US) {
		duration_format(max, sizeof max, PROTO_DEADLINE_MAX_US);
		return proto_fail(p->err, "bad_deadline", "%t: a deadline is at most %s", tok, n, max);
	}
	return 0;
}

/* group=, riders= and deadline= after a RUN's orders or GEN's meal, each
 * at most once, in any order. Returns 1 if tok was one of them (0 if not,
 * -1 on an error). */
static int parse_run_option(struct proto_parser *p, const char *tok, size_t n, unsigned *seen)
{
	static const char *const keys[] = { "group=", "riders=", "deadline=" };
	for (unsigned k = 0; k < 3; k++) {
		if (!proto_is_option(tok, n, keys[k]))
			continue;
		if (*seen & (1u << k))
			return proto_fail(p->err, "bad_args", "'%t': %s is given twice", tok, n, keys[k]);
		*seen |= 1u << k;
		int rc = k == 0 ? parse_group(p, tok, n)
		       : k == 1 ? parse_riders(p, tok, n) : parse_deadline(p, tok, n);
		return rc < 0 ? -1 : 1;
	}
	return 0;
}

int proto_parse_run(struct proto_parser *p)
{
	uint32_t max = p->lim->max_orders < PROTO_LINE_ORDERS ? p->lim->max_orders
	                                                      : PROTO_LINE_ORDERS;
	const char *tok;
	size_t n;
	char num[16];

	if (parse_mode(p) < 0)
		return -1;
	unsigned seen = 0;
	while (proto_next_token(p, &tok, &n)) {
		int opt = parse_run_option(p, tok, n, &seen);
		if (opt < 0)
			return -1;
		if (opt > 0 && p->out->norders == 0)
			return proto_fail(p->err, "no_orders", "RUN needs its orders before %t", tok, n);
		if (opt > 0)
			continue;
		if (seen)
			return proto_fail(p->err, "bad_args", "RUN takes no more arguments, got '%t'", tok, n);
		if (p->out->norders >= max) {
			snprintf(num, sizeof num, "%" PRIu32, max);
			return proto_fail(p->err, "too_many_orders",
			                  "'%t' is one order too many: a run takes at most %s", tok, n, num);
		}
		if (parse_order(p, tok, n, &p->out->orders[p->out->norders]) < 0)
			return -1;
		p->out->norders++;
	}
	if (p->out->norders == 0)
		return proto_fail(p->err, "no_orders", "RUN needs at least one NAME:DURATION order");
	return check_inline_cooking(p);
}

static int parse_count(struct proto_parser *p)
{
	const char *tok;
	size_t n;
	uint64_t count;
	char num[16];

	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "GEN needs a count: GEN <mode> <count> <meal>[..<meal>]");
	if (proto_parse_u64(tok, n, &count) < 0)
		return proto_fail(p->err, "bad_args", "'%t' is not a count", tok, n);
	if (count == 0)
		return proto_fail(p->err, "no_orders", "GEN needs a count of at least 1, got '%t'", tok, n);
	if (count > p->lim->max_orders) {
		snprintf(num, sizeof num, "%" PRIu32, p->lim->max_orders);
		return proto_fail(p->err, "too_many_orders", "'%t' orders: a run takes at most %s", tok, n, num);
	}
	p->out->norders = (uint32_t)count;
	return 0;
}

/* <meal> or <lo>..<hi>: no duration contains "..", so the first splits. */
static int parse_meal_range(struct proto_parser *p)
{
	const char *tok;
	size_t n, dots = 0;

	if (!proto_next_token(p, &tok, &n))
		return proto_fail(p->err, "bad_args", "GEN needs a meal: GEN <mode> <count> <meal>[..<meal>]");
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
		return proto_fail(p->err, "bad_args", "'%t' goes down: write <lo>..<hi> with lo <= hi", tok, n);
	return 0;
}

/* Every generated name, up to prefix<count>, must be a valid name. */
static int parse_prefix(struct proto_parser *p, const char *tok, size_t n)
{
	const size_t key = sizeof "prefix=" - 1;
	char num[16];

	if (n < key || !proto_word_equal(tok, key, "prefix="))
		return proto_fail(p->err, "bad_args", "'%t' is not prefix=<name>", tok, n);
	const char *name = tok + key;
	size_t name_n = n - key;
	const char *why = proto_name_problem(name, name_n);
	if (why)
		return proto_fail(p->err, "bad_name", "%t: %s", tok, n, why);
	int digits = snprintf(num, sizeof num, "%" PRIu32, p->out->norders);
	if (name_n + (size_t)digits > PROTO_NAME_MAX)
		return proto_fail(p->err, "bad_name",
		                  "%t: the name of order %s would be longer than 32 characters", tok, n, num);
	memcpy(p->out->gen_prefix, name, name_n);
	p->out->gen_prefix[name_n] = '\0';
	return 0;
}

int proto_parse_gen(struct proto_parser *p)
{
	const char *tok;
	size_t n;
	int prefixed = 0;
	unsigned seen = 0;

	if (parse_mode(p) < 0 || parse_count(p) < 0 || parse_meal_range(p) < 0)
		return -1;
	strcpy(p->out->gen_prefix, "o");
	while (proto_next_token(p, &tok, &n)) {
		int opt = parse_run_option(p, tok, n, &seen);
		if (opt < 0)
			return -1;
		if (opt > 0)
			continue;
		if (!prefixed) {
			if (parse_prefix(p, tok, n) < 0)
				return -1;
			prefixed = 1;
		} else if (proto_is_option(tok, n, "prefix=")) {
			return proto_fail(p->err, "bad_args", "'%t': prefix= is given twice", tok, n);
		} else {
			return proto_fail(p->err, "bad_args", "GEN takes no more arguments, got '%t'", tok, n);
		}
	}
	return 0;
}
