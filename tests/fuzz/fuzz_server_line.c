/* libFuzzer target: proto_parse_server_line, the client's reader, on any
 * bytes. What it returns points inside the input, and every line it
 * accepts, written back the way the server writes it, parses to the same
 * thing: the client and the server agree on every line either produces. */
#include <inttypes.h>
#include <string.h>

#include "common/protocol.h"
#include "tests/fuzz/fuzz.h"

static const char *input;
static size_t input_len;

static int within(const char *p, size_t n)
{
	return p >= input && p <= input + input_len && n <= (size_t)(input + input_len - p);
}

/* Parses line[0..n) (its '\n' cut) as a line of the same kind as sl. */
static void reparse(const char *line, int n, const struct server_line *sl,
                    struct server_line *back)
{
	CHECK(n > 0 && line[n - 1] == '\n');
	CHECK(memchr(line, '\n', (size_t)n - 1) == NULL);
	CHECK(proto_parse_server_line(line, (size_t)n - 1, back) == 0);
	CHECK(back->kind == sl->kind);
}

static void check_event(const struct server_line *sl)
{
	const struct proto_event *a = &sl->u.ev, *b;
	char line[PROTO_MAX_LINE];
	struct server_line back;

	reparse(line, proto_format_event(line, sizeof line, a), sl, &back);
	b = &back.u.ev;
	CHECK(a->seq == b->seq && a->run == b->run && a->order == b->order);
	CHECK(strcmp(a->name, b->name) == 0);
	CHECK(a->step == b->step && a->t_us == b->t_us);
}

static void check_done(const struct server_line *sl)
{
	const struct proto_done *a = &sl->u.done, *b;
	char line[PROTO_MAX_LINE];
	struct server_line back;
	int n = sl->kind == LINE_DONE ? proto_format_done(line, sizeof line, a)
	                              : proto_format_runinfo(line, sizeof line, a);

	reparse(line, n, sl, &back);
	b = &back.u.done;
	CHECK(a->seq == b->seq && a->run == b->run && a->mode == b->mode);
	CHECK(a->orders == b->orders && a->status == b->status);
	CHECK(a->elapsed_us == b->elapsed_us && a->ideal_us == b->ideal_us);
	CHECK(a->sum_us == b->sum_us && a->max_us == b->max_us);
	CHECK(a->cook_us == b->cook_us && a->blocked_us == b->blocked_us);
	CHECK(a->caused_us == b->caused_us);
	if (sl->kind == LINE_RUNINFO)    /* it carries none of these */
		CHECK(a->sum_us == 0 && a->max_us == 0 && a->seq == 0 && a->cook_us == 0 &&
		      a->blocked_us == 0 && a->caused_us == 0);
}

static void check_hello(const struct server_line *sl)
{
	const char *s = sl->u.hello.session;
	char line[PROTO_MAX_LINE];
	struct server_line back;

	CHECK(strlen(s) == PROTO_SESSION_HEX);
	for (size_t i = 0; i < PROTO_SESSION_HEX; i++)
		CHECK((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
	CHECK(strnlen(sl->u.hello.proto, sizeof sl->u.hello.proto) < sizeof sl->u.hello.proto);
	reparse(line, proto_format_hello(line, sizeof line, s, "1.0.0"), sl, &back);
	CHECK(strcmp(back.u.hello.session, s) == 0);
	CHECK(strcmp(back.u.hello.proto, PROTO_NAME) == 0);
}

/* A code and a printable text come back as sent; the server writes no
 * other kind (proto_format_error turns control bytes into '?'). */
static void check_err(const struct server_line *sl)
{
	const char *code = sl->u.err.code;
	size_t n = strnlen(code, sizeof sl->u.err.code);
	char line[PROTO_MAX_LINE];
	struct server_line back;
	struct proto_error e = { .code = code };

	CHECK(n > 0 && n < sizeof sl->u.err.code);
	CHECK(within(sl->u.err.text, sl->u.err.text_len));
	if (sl->u.err.text_len >= sizeof e.text)
		return;
	for (size_t i = 0; i < sl->u.err.text_len; i++)
		if (sl->u.err.text[i] < 0x20 || sl->u.err.text[i] > 0x7e)
			return;
	memcpy(e.text, sl->u.err.text, sl->u.err.text_len);
	e.text[sl->u.err.text_len] = '\0';
	/* "ERR code " with an empty text is written back as "ERR code". */
	reparse(line, proto_format_error(line, sizeof line, &e), sl, &back);
	CHECK(strcmp(back.u.err.code, code) == 0);
	CHECK(back.u.err.text_len == sl->u.err.text_len);
	CHECK(memcmp(back.u.err.text, sl->u.err.text, sl->u.err.text_len) == 0);
}

/* The client reads OK lines field by field; a value found lies within
 * the line, right after its key and '='. */
static void check_ok(const struct server_line *sl)
{
	static const char *const keys[] = { "run", "session", "seq", "active", "runs", "o" };
	const char *rest = sl->u.ok.rest, *v;
	size_t len = sl->u.ok.rest_len, vlen;

	CHECK(within(rest, len));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		size_t klen = strlen(keys[i]);
		if (proto_find_field(rest, len, keys[i], &v, &vlen) < 0)
			continue;
		CHECK(v > rest + klen && within(v, vlen) && v + vlen <= rest + len);
		CHECK(v[-1] == '=' && memcmp(v - 1 - klen, keys[i], klen) == 0);
		CHECK(memchr(v, ' ', vlen) == NULL);
	}
}

static void check_lagged(const struct server_line *sl)
{
	char line[128];
	struct server_line back;
	int n = snprintf(line, sizeof line, "LAGGED dropped=%" PRIu64 " missed=%" PRIu64 "\n",
	                 sl->u.lagged.dropped, sl->u.lagged.missed);

	reparse(line, n, sl, &back);
	CHECK(back.u.lagged.dropped == sl->u.lagged.dropped);
	CHECK(back.u.lagged.missed == sl->u.lagged.missed);
}

/* Bytes are copied as sent, NULs too: the reason is what comes before
 * the first, and only the array's end is sure. A reason with a control
 * byte (never sent: the client splits lines at '\n') has no one-line form. */
static void check_bye(const struct server_line *sl)
{
	const char *reason = sl->u.bye.reason;
	char line[128];
	struct server_line back;

	CHECK(strnlen(reason, sizeof sl->u.bye.reason) < sizeof sl->u.bye.reason);
	if (!reason[0])
		return;
	for (const char *p = reason; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return;
	reparse(line, snprintf(line, sizeof line, "BYE reason=%s\n", reason), sl, &back);
	CHECK(strcmp(back.u.bye.reason, reason) == 0);
}

/* An ORDER line (ATTACH's, REPLAY's) written back reads the same. */
static void check_order(const struct server_line *sl)
{
	char line[PROTO_MAX_LINE];
	struct server_line back;
	const struct proto_order *a = &sl->u.order;

	CHECK(strnlen(a->name, sizeof a->name) < sizeof a->name);
	int n = proto_format_order(line, sizeof line, a);
	if (n <= 0)
		return;
	reparse(line, n, sl, &back);
	CHECK(back.u.order.run == a->run && back.u.order.order == a->order);
	CHECK(strcmp(back.u.order.name, a->name) == 0);
	CHECK(back.u.order.meal_us == a->meal_us && back.u.order.cook_us == a->cook_us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_line sl;

	input = (const char *)data;
	input_len = size;
	int rc = proto_parse_server_line(input, size, &sl);
	CHECK(rc == 0 || rc == -1);
	if (rc < 0)
		return 0;
	switch (sl.kind) {
	case LINE_HELLO: check_hello(&sl); break;
	case LINE_OK: check_ok(&sl); break;
	case LINE_ERR: check_err(&sl); break;
	case LINE_EV: check_event(&sl); break;
	case LINE_DONE: case LINE_RUNINFO: check_done(&sl); break;
	case LINE_LAGGED: check_lagged(&sl); break;
	case LINE_BYE: check_bye(&sl); break;
	case LINE_ORDER: check_order(&sl); break;
	default: CHECK(!"an unknown line kind");
	}
	return 0;
}
