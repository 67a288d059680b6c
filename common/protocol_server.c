/* Lines the server sends (docs/protocol.md): formatted by baedald, parsed
 * by the client and the tests. Keys are looked up by name, so their order
 * does not matter and keys added by later versions are skipped. */
#include "common/protocol.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/protocol_util.h"

int proto_find_field(const char *s, size_t len, const char *key, const char **val, size_t *vlen)
{
	size_t klen = strlen(key), i = 0;

	if (klen == 0)
		return -1;
	while (i < len) {
		size_t end = i;
		while (end < len && s[end] != ' ')
			end++;
		if (end - i > klen && memcmp(s + i, key, klen) == 0 && s[i + klen] == '=') {
			*val = s + i + klen + 1;
			*vlen = end - i - klen - 1;
			return 0;
		}
		i = end + 1;
	}
	return -1;
}

static int field_u64(const char *s, size_t len, const char *key, uint64_t *out)
{
	const char *v;
	size_t n;
	if (proto_find_field(s, len, key, &v, &n) < 0)
		return -1;
	return proto_parse_u64(v, n, out);
}

static int field_u32(const char *s, size_t len, const char *key, uint32_t *out)
{
	uint64_t v;
	if (field_u64(s, len, key, &v) < 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A non-empty value copied NUL-terminated into buf[cap]. */
static int field_word(const char *s, size_t len, const char *key, char *buf, size_t cap)
{
	const char *v;
	size_t n;
	if (proto_find_field(s, len, key, &v, &n) < 0 || n == 0 || n >= cap)
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 0;
}

/* The index in names[] of key's value, which must be one of them. */
static int field_enum(const char *s, size_t len, const char *key, const char *const *names,
                      int count, int *out)
{
	const char *v;
	size_t n;
	if (proto_find_field(s, len, key, &v, &n) < 0)
		return -1;
	for (int i = 0; i < count; i++) {
		if (strlen(names[i]) == n && memcmp(names[i], v, n) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

static int field_mode(const char *s, size_t len, enum proto_mode *out)
{
	static const char *const names[] = { "sync", "async", "offload" };
	static const enum proto_mode values[] = { MODE_SYNC, MODE_ASYNC, MODE_OFFLOAD };
	int i;
	if (field_enum(s, len, "mode", names, 3, &i) < 0)
		return -1;
	*out = values[i];
	return 0;
}

static int field_status(const char *s, size_t len, enum run_status *out)
{
	static const char *const names[] = { "running", "done", "interrupted", "cancelled",
	                                     "timed_out" };
	static const enum run_status values[] = { RUN_RUNNING, RUN_DONE, RUN_INTERRUPTED,
	                                          RUN_CANCELLED, RUN_TIMED_OUT };
	int i;
	if (field_enum(s, len, "status", names, 5, &i) < 0)
		return -1;
	*out = values[i];
	return 0;
}

static int field_step(const char *s, size_t len, enum proto_step *out)
{
	static const char *const names[] = { "delivered", "eaten", "collected", "cooked",
	                                     "cancelled" };
	static const enum proto_step values[] = { STEP_DELIVERED, STEP_EATEN, STEP_COLLECTED,
	                                           STEP_COOKED, STEP_CANCELLED };
	int i;
	if (field_enum(s, len, "step", names, 5, &i) < 0)
		return -1;
	*out = values[i];
	return 0;
}

/* elapsed=<us> or elapsed=- while the run is running. */
static int field_elapsed(const char *s, size_t len, int64_t *out)
{
	const char *v;
	size_t n;
	uint64_t us;
	if (proto_find_field(s, len, "elapsed", &v, &n) < 0)
		return -1;
	if (n == 1 && v[0] == '-') {
		*out = -1;
		return 0;
	}
	if (proto_parse_u64(v, n, &us) < 0 || us > INT64_MAX)
		return -1;
	*out = (int64_t)us;
	return 0;
}

static int parse_hello(const char *s, size_t len, struct server_line *out)
{
	char server[64];
	const char *v;
	size_t n;

	if (field_word(s, len, "proto", out->u.hello.proto, sizeof out->u.hello.proto) < 0 ||
	    field_word(s, len, "server", server, sizeof server) < 0 ||
	    proto_find_field(s, len, "session", &v, &n) < 0 || !proto_session_valid(v, n))
		return -1;
	proto_session_lower(out->u.hello.session, v);
	return 0;
}

static int parse_ok(const char *s, size_t len, struct server_line *out)
{
	out->u.ok.rest = s;
	out->u.ok.rest_len = len;
	return 0;
}

/* ERR <code> <text>: the text is free, and may be empty. */
static int parse_err(const char *s, size_t len, struct server_line *out)
{
	size_t n = 0;
	while (n < len && s[n] != ' ')
		n++;
	if (n == 0 || n >= sizeof out->u.err.code)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return -1;
	memcpy(out->u.err.code, s, n);
	out->u.err.code[n] = '\0';
	out->u.err.text = n < len ? s + n + 1 : s + len;
	out->u.err.text_len = n < len ? len - n - 1 : 0;
	return 0;
}

static int parse_ev(const char *s, size_t len, struct server_line *out)
{
	struct proto_event *ev = &out->u.ev;
	const char *v;
	size_t n;

	if (field_u64(s, len, "seq", &ev->seq) < 0 || field_u64(s, len, "run", &ev->run) < 0 ||
	    field_u32(s, len, "order", &ev->order) < 0 || field_step(s, len, &ev->step) < 0 ||
	    field_u64(s, len, "t", &ev->t_us) < 0 ||
	    proto_find_field(s, len, "name", &v, &n) < 0 || proto_name_problem(v, n))
		return -1;
	memcpy(ev->name, v, n);
	ev->name[n] = '\0';
	return 0;
}

/* riders=, deadline=, collected= and cancelled=: each optional, and
 * well-formed if present. */
static int parse_limits(const char *s, size_t len, struct proto_done *d)
{
	static const char *const keys[] = { "riders", "collected", "cancelled" };
	uint32_t *dest[] = { &d->riders, &d->collected, &d->cancelled };
	const char *v;
	size_t n;
	for (size_t k = 0; k < 3; k++)
		if (proto_find_field(s, len, keys[k], &v, &n) == 0 && field_u32(s, len, keys[k], dest[k]) < 0)
			return -1;
	if (proto_find_field(s, len, "deadline", &v, &n) == 0 &&
	    field_u64(s, len, "deadline", &d->deadline_us) < 0)
		return -1;
	return 0;
}

/* The keys DONE and RUNINFO share. */
static int parse_run_fields(const char *s, size_t len, struct proto_done *d)
{
	d->sum_us = d->max_us = d->seq = 0;
	d->cook_us = d->blocked_us = d->caused_us = 0;
	d->riders = d->collected = d->cancelled = 0;
	d->deadline_us = 0;
	if (field_u64(s, len, "run", &d->run) < 0 || field_mode(s, len, &d->mode) < 0 ||
	    field_u32(s, len, "orders", &d->orders) < 0 || field_status(s, len, &d->status) < 0 ||
	    field_elapsed(s, len, &d->elapsed_us) < 0 || field_u64(s, len, "ideal", &d->ideal_us) < 0)
		return -1;
	return parse_limits(s, len, d);
}

/* cook=, blocked= and caused=: all three, or none (a run without cooks). */
static int parse_cooking(const char *s, size_t len, struct proto_done *d)
{
	const char *v;
	size_t n;
	if (proto_find_field(s, len, "cook", &v, &n) < 0)
		return 0;
	if (field_u64(s, len, "cook", &d->cook_us) < 0 ||
	    field_u64(s, len, "blocked", &d->blocked_us) < 0 ||
	    field_u64(s, len, "caused", &d->caused_us) < 0)
		return -1;
	return 0;
}

static int parse_done(const char *s, size_t len, struct server_line *out)
{
	struct proto_done *d = &out->u.done;
	if (parse_run_fields(s, len, d) < 0 || field_u64(s, len, "seq", &d->seq) < 0 ||
	    field_u64(s, len, "sum", &d->sum_us) < 0 || field_u64(s, len, "max", &d->max_us) < 0)
		return -1;
	return parse_cooking(s, len, d);
}

/* gen=<lo>..<hi> prefix=<name>, when the run was made by GEN. */
static int parse_gen(const char *s, size_t len, struct proto_runstate *st)
{
	const char *v, *dots;
	size_t n;
	if (proto_find_field(s, len, "gen", &v, &n) < 0)
		return 0;
	dots = memchr(v, '.', n);
	if (!dots || (size_t)(dots - v) + 2 > n || dots[1] != '.' ||
	    proto_parse_u64(v, (size_t)(dots - v), &st->gen_lo_us) < 0 ||
	    proto_parse_u64(dots + 2, n - (size_t)(dots - v) - 2, &st->gen_hi_us) < 0 ||
	    proto_find_field(s, len, "prefix", &v, &n) < 0 || n > PROTO_NAME_MAX ||
	    (n > 0 && proto_name_problem(v, n)))
		return -1;
	memcpy(st->gen_prefix, v, n);
	st->gen_prefix[n] = '\0';
	st->gen = 1;
	return 0;
}

/* What ATTACH adds (age= and history=, then the optional keys): absent
 * from the RUNINFO lines of RUNS, which leaves st->present 0. */
static int parse_runstate(const char *s, size_t len, struct server_line *out)
{
	struct proto_runstate *st = &out->state;
	struct proto_done *d = &out->u.done;
	static const char *const history[] = { "full", "partial" };
	const char *v;
	size_t n;
	uint64_t age;

	if (proto_find_field(s, len, "age", &v, &n) < 0)
		return 0;
	if (n == 1 && v[0] == '-')
		st->age_us = -1;
	else if (proto_parse_u64(v, n, &age) < 0 || age > INT64_MAX)
		return -1;
	else
		st->age_us = (int64_t)age;
	if (field_enum(s, len, "history", history, 2, &st->partial) < 0 ||
	    field_u64(s, len, "sum", &d->sum_us) < 0 || field_u64(s, len, "max", &d->max_us) < 0 ||
	    parse_cooking(s, len, d) < 0 || parse_gen(s, len, st) < 0)
		return -1;
	st->present = 1;
	return 0;
}

static int parse_runinfo(const char *s, size_t len, struct server_line *out)
{
	if (parse_run_fields(s, len, &out->u.done) < 0)
		return -1;
	return parse_runstate(s, len, out);
}

static int parse_order(const char *s, size_t len, struct server_line *out)
{
	struct proto_order *o = &out->u.order;
	const char *v;
	size_t n;

	if (field_u64(s, len, "run", &o->run) < 0 || field_u32(s, len, "order", &o->order) < 0 ||
	    o->order == 0 || field_u64(s, len, "meal", &o->meal_us) < 0 ||
	    field_u64(s, len, "cook", &o->cook_us) < 0 ||
	    proto_find_field(s, len, "name", &v, &n) < 0 || proto_name_problem(v, n))
		return -1;
	memcpy(o->name, v, n);
	o->name[n] = '\0';
	return 0;
}

/* One of dropped= and missed= is enough; a missing one stays 0. */
static int parse_lagged(const char *s, size_t len, struct server_line *out)
{
	const char *v;
	size_t n;
	int found = 0;

	if (proto_find_field(s, len, "dropped", &v, &n) == 0) {
		if (proto_parse_u64(v, n, &out->u.lagged.dropped) < 0)
			return -1;
		found = 1;
	}
	if (proto_find_field(s, len, "missed", &v, &n) == 0) {
		if (proto_parse_u64(v, n, &out->u.lagged.missed) < 0)
			return -1;
		found = 1;
	}
	return found ? 0 : -1;
}

static int parse_bye(const char *s, size_t len, struct server_line *out)
{
	return field_word(s, len, "reason", out->u.bye.reason, sizeof out->u.bye.reason);
}

static const struct {
	const char *word;
	enum line_kind kind;
	int (*parse)(const char *s, size_t len, struct server_line *out);
} line_kinds[] = {
	{ "HELLO", LINE_HELLO, parse_hello },
	{ "OK", LINE_OK, parse_ok },
	{ "ERR", LINE_ERR, parse_err },
	{ "EV", LINE_EV, parse_ev },
	{ "DONE", LINE_DONE, parse_done },
	{ "RUNINFO", LINE_RUNINFO, parse_runinfo },
	{ "LAGGED", LINE_LAGGED, parse_lagged },
	{ "BYE", LINE_BYE, parse_bye },
	{ "ORDER", LINE_ORDER, parse_order },
};

int proto_parse_server_line(const char *line, size_t len, struct server_line *out)
{
	size_t word = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	while (word < len && line[word] != ' ')
		word++;
	/* What follows the first word and its one space. */
	const char *rest = word < len ? line + word + 1 : line + len;
	size_t rest_len = word < len ? len - word - 1 : 0;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof line_kinds / sizeof line_kinds[0]; i++) {
		if (strlen(line_kinds[i].word) == word && memcmp(line_kinds[i].word, line, word) == 0) {
			out->kind = line_kinds[i].kind;
			return line_kinds[i].parse(rest, rest_len, out);
		}
	}
	return -1;
}

/* ---- formatters ----------------------------------------------------- */

/* Formats into a scratch line first, so that a line fitting cap exactly,
 * with no room for snprintf's NUL, is still written. */
__attribute__((format(printf, 3, 4)))
static int emit(char *buf, size_t cap, const char *fmt, ...)
{
	char line[PROTO_MAX_LINE + 2];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line || (size_t)n > cap)
		return -1;
	memcpy(buf, line, (size_t)n);
	return n;
}

int proto_format_hello(char *buf, size_t cap, const char *session_hex, const char *version)
{
	return emit(buf, cap, "HELLO proto=%s session=%s server=%s\n", PROTO_NAME, session_hex,
	            version);
}

/* Appends text to an event line being built in line[] (always large
 * enough: see proto_format_event). */
static char *put_text(char *at, const char *text, size_t len)
{
	memcpy(at, text, len);
	return at + len;
}

#define PUT_LITERAL(at, lit) put_text((at), (lit), sizeof(lit) - 1)

/* One line per step of every order: written by hand, as printf took three
 * quarters of the loop's time in a million-order run. With gen, the name
 * is ev->name (a GEN prefix) followed by the order's number, written in
 * place rather than made first. */
static int format_event(char *buf, size_t cap, const struct proto_event *ev, int gen)
{
	/* The longest line: 3 numbers of 20 digits and one of 10, a 32-byte
	 * name, the longest step (9) and the keys: 146 bytes; a prefix of 32
	 * and its 10 digits make it 156 before the name is checked. A buffer
	 * that surely holds it is written in place, a smaller one by way of
	 * line[]. */
	_Static_assert(PROTO_EVENT_LINE_MAX >= 156, "an EV line fits PROTO_EVENT_LINE_MAX");
	char line[PROTO_EVENT_LINE_MAX];
	char *const start = cap >= PROTO_EVENT_LINE_MAX ? buf : line;
	char *at = start;
	const char *step = proto_step_name(ev->step);

	at = PUT_LITERAL(at, "EV seq=");
	at += proto_put_u64(at, ev->seq);
	at = PUT_LITERAL(at, " run=");
	at += proto_put_u64(at, ev->run);
	at = PUT_LITERAL(at, " order=");
	at += proto_put_u64(at, ev->order);
	at = PUT_LITERAL(at, " name=");
	char *name = at;
	at = put_text(at, ev->name, strnlen(ev->name, PROTO_NAME_MAX));
	if (gen) {
		at += proto_put_u64(at, ev->order);
		if (at - name > PROTO_NAME_MAX)   /* GEN refuses such prefixes */
			at = PUT_LITERAL(name, "?");
	}
	at = PUT_LITERAL(at, " step=");
	at = put_text(at, step, strlen(step));
	at = PUT_LITERAL(at, " t=");
	at += proto_put_u64(at, ev->t_us);
	*at++ = '\n';
	size_t n = (size_t)(at - start);
	if (start == buf)
		return (int)n;
	if (n > cap)
		return -1;
	memcpy(buf, line, n);
	return (int)n;
}

int proto_format_event(char *buf, size_t cap, const struct proto_event *ev)
{
	return format_event(buf, cap, ev, 0);
}

int proto_format_gen_event(char *buf, size_t cap, const struct proto_event *ev)
{
	return format_event(buf, cap, ev, 1);
}

/* A time as the wire has it, "-" for none: the elapsed of a run that has
 * not ended, the age of one not started. */
static void elapsed_text(char *buf, size_t cap, int64_t us)
{
	if (us < 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%" PRId64, us);
}

/* The optional keys of a run: riders= and deadline= if it has them, and
 * collected= and cancelled= if it gave up on some of its orders. */
static void limits_text(char *buf, size_t cap, const struct proto_done *d)
{
	int n = 0;
	buf[0] = '\0';
	if (d->riders)
		n += snprintf(buf + n, cap - (size_t)n, " riders=%" PRIu32, d->riders);
	if (d->deadline_us)
		n += snprintf(buf + n, cap - (size_t)n, " deadline=%" PRIu64, d->deadline_us);
	if (d->status == RUN_CANCELLED || d->status == RUN_TIMED_OUT)
		snprintf(buf + n, cap - (size_t)n, " collected=%" PRIu32 " cancelled=%" PRIu32,
		         d->collected, d->cancelled);
}

int proto_format_done(char *buf, size_t cap, const struct proto_done *d)
{
	char elapsed[24], cooking[80] = "", limits[96];
	elapsed_text(elapsed, sizeof elapsed, d->elapsed_us);
	if (d->cook_us || d->blocked_us || d->caused_us)
		snprintf(cooking, sizeof cooking, " cook=%" PRIu64 " blocked=%" PRIu64 " caused=%" PRIu64,
		         d->cook_us, d->blocked_us, d->caused_us);
	limits_text(limits, sizeof limits, d);
	return emit(buf, cap, "DONE seq=%" PRIu64 " run=%" PRIu64 " mode=%s orders=%" PRIu32
	            " status=%s elapsed=%s ideal=%" PRIu64 " sum=%" PRIu64 " max=%" PRIu64 "%s%s\n",
	            d->seq, d->run, proto_mode_name(d->mode), d->orders,
	            proto_status_name(d->status), elapsed, d->ideal_us, d->sum_us, d->max_us, cooking,
	            limits);
}

int proto_format_runinfo(char *buf, size_t cap, const struct proto_done *d)
{
	char elapsed[24];
	elapsed_text(elapsed, sizeof elapsed, d->elapsed_us);
	return emit(buf, cap, "RUNINFO run=%" PRIu64 " mode=%s orders=%" PRIu32
	            " status=%s elapsed=%s ideal=%" PRIu64 "\n",
	            d->run, proto_mode_name(d->mode), d->orders, proto_status_name(d->status),
	            elapsed, d->ideal_us);
}

int proto_format_runstate(char *buf, size_t cap, const struct proto_done *d,
                          const struct proto_runstate *st)
{
	char elapsed[24], age[24], cooking[80] = "", gen[80] = "", limits[96];
	elapsed_text(elapsed, sizeof elapsed, d->elapsed_us);
	elapsed_text(age, sizeof age, st->age_us);
	limits_text(limits, sizeof limits, d);
	if (d->cook_us || d->blocked_us || d->caused_us)
		snprintf(cooking, sizeof cooking, " cook=%" PRIu64 " blocked=%" PRIu64 " caused=%" PRIu64,
		         d->cook_us, d->blocked_us, d->caused_us);
	if (st->gen)
		snprintf(gen, sizeof gen, " gen=%" PRIu64 "..%" PRIu64 " prefix=%.*s", st->gen_lo_us,
		         st->gen_hi_us, PROTO_NAME_MAX, st->gen_prefix);
	return emit(buf, cap, "RUNINFO run=%" PRIu64 " mode=%s orders=%" PRIu32
	            " status=%s elapsed=%s ideal=%" PRIu64 " sum=%" PRIu64 " max=%" PRIu64
	            " age=%s history=%s%s%s%s\n",
	            d->run, proto_mode_name(d->mode), d->orders, proto_status_name(d->status),
	            elapsed, d->ideal_us, d->sum_us, d->max_us, age,
	            st->partial ? "partial" : "full", cooking, gen, limits);
}

int proto_format_order(char *buf, size_t cap, const struct proto_order *o)
{
	return emit(buf, cap, "ORDER run=%" PRIu64 " order=%" PRIu32 " name=%.*s meal=%" PRIu64
	            " cook=%" PRIu64 "\n", o->run, o->order, PROTO_NAME_MAX, o->name, o->meal_us,
	            o->cook_us);
}

/* A newline inside the text would end the line early and turn the rest
 * into a bogus reply, so every control byte becomes '?'. */
int proto_format_error(char *buf, size_t cap, const struct proto_error *err)
{
	char text[PROTO_ERR_TEXT];
	size_t n = strnlen(err->text, sizeof text - 1);

	if (!err->code || !err->code[0] || strpbrk(err->code, " \r\n"))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)err->text[i];
		text[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	text[n] = '\0';
	if (n == 0)
		return emit(buf, cap, "ERR %s\n", err->code);
	return emit(buf, cap, "ERR %s %s\n", err->code, text);
}
