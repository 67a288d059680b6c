/* libFuzzer target: proto_parse_command on any bytes, under several
 * server limits. A parse either fails with a documented error code and a
 * printable one-line reply the client reads back, or yields a command
 * within every limit that, written back as a line, parses the same. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "common/duration.h"
#include "common/protocol.h"
#include "tests/fuzz/fuzz.h"

/* The server's defaults, the tight limits the tests use, the widest the
 * flags allow and the narrowest: edges of the limit checks. Designated,
 * so that a limit added later starts at 0 rather than failing the build. */
static const struct proto_limits limits[] = {
	{ .max_meal_us = UINT64_C(600000000), .max_orders = 1000000,
	  .max_cook_us = UINT64_C(10000000), .max_inline_cook_us = UINT64_C(1000000) },
	{ .max_meal_us = UINT64_C(1000000), .max_orders = 5, .max_cook_us = 1000,
	  .max_inline_cook_us = 1500 },
	{ .max_meal_us = UINT64_MAX, .max_orders = UINT32_MAX,
	  .max_cook_us = UINT64_C(3600000000), .max_inline_cook_us = UINT64_C(3600000000) },
	{ .max_meal_us = 1, .max_orders = 1 },   /* no cooking at all */
};

/* Every code of docs/protocol.md's "Errors" table, made by fuzz.mk: a
 * parse must fail with one of them, so a new code is documented. */
static const char *const doc_codes[] = {
#include "fuzz_codes.h"
};

/* Documented codes the server sends for reasons no parse can see. */
static const char *const server_codes[] = {
	"line_too_long", "no_session", "auth_required", "bad_token", "busy", "storage",
	"no_run", "not_your_run", "run_ended",
};

static int listed(const char *code, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(code, list[i]) == 0)
			return 1;
	return 0;
}

/* Too big for the stack of a fuzzer thread; one input at a time. */
static struct cmd cmd;

/* Checked here rather than with the parser's own helper, so a bug shared
 * by both cannot hide. */
static int name_ok(const char *s)
{
	size_t n = strnlen(s, PROTO_NAME_MAX + 1);
	if (n == 0 || n > PROTO_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static int session_ok(const char *s)
{
	if (strnlen(s, PROTO_SESSION_HEX + 1) != PROTO_SESSION_HEX)
		return 0;
	for (size_t i = 0; i < PROTO_SESSION_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A mode the protocol names (the round trip then checks it is the same). */
static int mode_ok(void)
{
	return strcmp(proto_mode_name(cmd.mode), "?") != 0;
}

static int digits(uint32_t v)
{
	int d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static void check_run(const struct proto_limits *lim)
{
	uint32_t max = lim->max_orders < PROTO_LINE_ORDERS ? lim->max_orders : PROTO_LINE_ORDERS;
	CHECK(mode_ok());
	CHECK(cmd.norders >= 1 && cmd.norders <= max);
	CHECK(!cmd.group[0] || name_ok(cmd.group));
	uint64_t inline_cook = 0;
	for (uint32_t i = 0; i < cmd.norders; i++) {
		CHECK(name_ok(cmd.orders[i].name));
		CHECK(cmd.orders[i].meal_us > 0 && cmd.orders[i].meal_us <= lim->max_meal_us);
		CHECK(cmd.orders[i].cook_us <= lim->max_cook_us);
		inline_cook += cmd.orders[i].cook_us;
	}
	/* async cooks on the event loop: bounded per run. */
	if (cmd.mode == MODE_ASYNC)
		CHECK(inline_cook <= lim->max_inline_cook_us);
}

static void check_gen(const struct proto_limits *lim)
{
	CHECK(mode_ok());
	CHECK(cmd.norders >= 1 && cmd.norders <= lim->max_orders);
	CHECK(!cmd.group[0] || name_ok(cmd.group));
	CHECK(cmd.gen_lo_us > 0 && cmd.gen_lo_us <= cmd.gen_hi_us);
	CHECK(cmd.gen_hi_us <= lim->max_meal_us);
	CHECK(name_ok(cmd.gen_prefix));
	/* The last generated name must be a valid name too. */
	CHECK(strlen(cmd.gen_prefix) + (size_t)digits(cmd.norders) <= PROTO_NAME_MAX);
	char name[PROTO_NAME_MAX + 1];
	CHECK(proto_gen_name(name, sizeof name, cmd.gen_prefix, cmd.norders) > 0);
	CHECK(name_ok(name));
	/* The spread starts at lo, ends at hi and never goes down. */
	uint32_t n = cmd.norders, mid = n / 2 + 1;
	uint64_t lo = cmd.gen_lo_us, hi = cmd.gen_hi_us;
	uint64_t first = proto_gen_meal(1, n, lo, hi), last = proto_gen_meal(n, n, lo, hi);
	uint64_t m1 = proto_gen_meal(mid, n, lo, hi), m2 = proto_gen_meal(mid + 1, n, lo, hi);
	CHECK(first == lo && last == (n == 1 ? lo : hi));
	CHECK(lo <= m1 && m1 <= m2 && m2 <= hi);
}

static void check_token(void)
{
	size_t n = strnlen(cmd.token, sizeof cmd.token);
	CHECK(n >= 1 && n <= PROTO_TOKEN_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(cmd.token[i] >= 0x21 && cmd.token[i] <= 0x7e);
}

static void check_command(const struct proto_limits *lim)
{
	switch (cmd.kind) {
	case CMD_PING: case CMD_HELP: case CMD_QUIT:
		break;
	case CMD_RUN:
		check_run(lim);
		break;
	case CMD_GEN:
		check_gen(lim);
		break;
	case CMD_ATTACH:
		CHECK(session_ok(cmd.session));
		break;
	case CMD_RUNS:
		CHECK(cmd.session[0] == '\0' || session_ok(cmd.session));
		break;
	case CMD_AUTH:
		check_token();
		break;
	case CMD_WATCH:
		CHECK(cmd.watch_events == 0 || cmd.watch_events == 1);
		break;
	case CMD_STATS:
		break;
	case CMD_CANCEL:
		CHECK(cmd.run_id > 0);
		break;
	case CMD_REPLAY:
		CHECK(cmd.run_id > 0);
		CHECK(cmd.speed_milli >= PROTO_SPEED_MIN_MILLI && cmd.speed_milli <= PROTO_SPEED_MAX_MILLI);
		break;
	default:
		CHECK(!"an unknown command kind");
	}
}

/* The reply the server would send: one printable line that the client's
 * parser reads back as the same code. */
static void check_error(const struct proto_error *err)
{
	CHECK(err->code != NULL);
	CHECK(listed(err->code, doc_codes, sizeof doc_codes / sizeof doc_codes[0]));
	CHECK(!listed(err->code, server_codes, sizeof server_codes / sizeof server_codes[0]));
	size_t n = strnlen(err->text, sizeof err->text);
	CHECK(n < sizeof err->text);
	for (size_t i = 0; i < n; i++)
		CHECK(err->text[i] >= 0x20 && err->text[i] <= 0x7e);

	char line[PROTO_MAX_LINE];
	int len = proto_format_error(line, sizeof line, err);
	CHECK(len > 0 && line[len - 1] == '\n');
	CHECK(memchr(line, '\n', (size_t)len - 1) == NULL);
	struct server_line back;
	CHECK(proto_parse_server_line(line, (size_t)len - 1, &back) == 0);
	CHECK(back.kind == LINE_ERR && strcmp(back.u.err.code, err->code) == 0);
}

/* ---- the command written back as a line ------------------------------ */

/* Room for PROTO_LINE_ORDERS orders of the longest name and meal: the
 * parser itself has no line limit (the server's reader has). */
struct out {
	char buf[PROTO_LINE_ORDERS * 72 + 512];
	size_t len;
	int odd;                /* write the other way: lower case, wide gaps, CR */
};

static struct out out;

__attribute__((format(printf, 1, 2)))
static void put(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out.buf + out.len, sizeof out.buf - out.len, fmt, ap);
	va_end(ap);
	CHECK(n >= 0 && (size_t)n < sizeof out.buf - out.len);
	out.len += (size_t)n;
}

static void put_word(const char *upper, const char *lower)
{
	put("%s", out.odd ? lower : upper);
}

static void put_gap(void)
{
	put("%s", out.odd ? "   " : " ");
}

static void put_meal(uint64_t us)
{
	char d[32];
	CHECK(duration_format(d, sizeof d, us) > 0);
	put("%s", d);
}

/* The arguments that follow a run's orders: group=, riders=, deadline=. */
static void format_group(void)
{
	if (cmd.group[0]) {
		put_gap();
		put("group=%s", cmd.group);
	}
	if (cmd.riders) {
		put_gap();
		put("riders=%" PRIu32, cmd.riders);
	}
	if (cmd.deadline_us) {
		put_gap();
		put("deadline=");
		put_meal(cmd.deadline_us);
	}
}

static void format_orders(void)
{
	if (cmd.kind == CMD_GEN) {
		put_gap();
		put("%" PRIu32, cmd.norders);
		put_gap();
		put_meal(cmd.gen_lo_us);
		if (cmd.gen_hi_us != cmd.gen_lo_us) {
			put("..");
			put_meal(cmd.gen_hi_us);
		}
		put_gap();
		put("prefix=%s", cmd.gen_prefix);
		format_group();
		return;
	}
	for (uint32_t i = 0; i < cmd.norders; i++) {
		put_gap();
		put("%s:", cmd.orders[i].name);
		if (cmd.orders[i].cook_us) {
			put_meal(cmd.orders[i].cook_us);
			put(":");
		}
		put_meal(cmd.orders[i].meal_us);
	}
	format_group();
}

static void format_command(int odd)
{
	out.len = 0;
	out.odd = odd;
	switch (cmd.kind) {
	case CMD_PING: put_word("PING", "ping"); break;
	case CMD_HELP: put_word("HELP", "help"); break;
	case CMD_QUIT: put_word("QUIT", "quit"); break;
	case CMD_RUN: case CMD_GEN:
		put_word(cmd.kind == CMD_RUN ? "RUN" : "GEN", cmd.kind == CMD_RUN ? "run" : "gen");
		put_gap();
		put("%s", proto_mode_name(cmd.mode));
		format_orders();
		break;
	case CMD_ATTACH:
		put_word("ATTACH", "attach");
		put_gap();
		put("%s", cmd.session);
		put_gap();
		put("%" PRIu64, cmd.since_seq);
		break;
	case CMD_RUNS:
		put_word("RUNS", "runs");
		if (cmd.session[0]) {
			put_gap();
			put("%s", cmd.session);
		}
		break;
	case CMD_AUTH:
		put_word("AUTH", "auth");
		put_gap();
		put("%s", cmd.token);
		break;
	case CMD_WATCH:
		put_word("WATCH", "watch");
		put_gap();
		put("%s", cmd.watch_events ? "events" : "ends");
		break;
	case CMD_CANCEL:
		put_word("CANCEL", "cancel");
		put_gap();
		put("%" PRIu64, cmd.run_id);
		break;
	case CMD_STATS:
		put_word("STATS", "stats");
		break;
	case CMD_REPLAY:
		put_word("REPLAY", "replay");
		put_gap();
		put("%" PRIu64, cmd.run_id);
		put_gap();
		put("speed=%" PRIu32 ".%03" PRIu32, cmd.speed_milli / 1000, cmd.speed_milli % 1000);
		break;
	}
	if (odd)
		put("  \r");
}

static struct cmd again;

static void check_same_command(void)
{
	CHECK(again.kind == cmd.kind && again.mode == cmd.mode && again.norders == cmd.norders);
	CHECK(again.gen_lo_us == cmd.gen_lo_us && again.gen_hi_us == cmd.gen_hi_us);
	CHECK(strcmp(again.gen_prefix, cmd.gen_prefix) == 0 && strcmp(again.group, cmd.group) == 0);
	CHECK(strcmp(again.session, cmd.session) == 0 && again.since_seq == cmd.since_seq);
	CHECK(strcmp(again.token, cmd.token) == 0 && again.watch_events == cmd.watch_events);
	CHECK(again.riders == cmd.riders && again.deadline_us == cmd.deadline_us);
	CHECK(again.run_id == cmd.run_id && again.speed_milli == cmd.speed_milli);
	if (cmd.kind != CMD_RUN)
		return;
	for (uint32_t i = 0; i < cmd.norders; i++) {
		CHECK(strcmp(again.orders[i].name, cmd.orders[i].name) == 0);
		CHECK(again.orders[i].meal_us == cmd.orders[i].meal_us);
		CHECK(again.orders[i].cook_us == cmd.orders[i].cook_us);
	}
}

/* What the parser took, written back in either form, parses the same
 * under the same limits. */
static void check_round_trip(const struct proto_limits *lim, int odd)
{
	struct proto_error err;

	format_command(odd);
	CHECK(proto_parse_command(out.buf, out.len, lim, &again, &err) == 0);
	check_same_command();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		struct proto_error err;
		memset(&err, 0, sizeof err);
		int rc = proto_parse_command(line, size, &limits[i], &cmd, &err);
		CHECK(rc == 0 || rc == -1);
		if (rc == 0) {
			check_command(&limits[i]);
			check_round_trip(&limits[i], (int)(size & 1));
		} else {
			check_error(&err);
		}
	}
	return 0;
}
