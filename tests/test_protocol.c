/* Unit tests of common/protocol.c: client commands, their errors, and the
 * GEN helpers. Server lines: test_protocol_server.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"

#define TEN_MINUTES UINT64_C(600000000)
#define SESSION "9f1c2b7e4d3a5f60718293a4b5c6d7e8"
#define SESSION_UPPER "9F1C2B7E4D3A5F60718293A4B5C6D7E8"

static const struct proto_limits default_lim = { TEN_MINUTES, 1000, 10000000, 1000000 };

/* Big enough that the stack should not hold it. */
static struct cmd cmd;
static struct proto_error err;

static const char *const error_codes[] = {
	"unknown_command", "bad_args", "bad_mode", "bad_order", "bad_name", "bad_duration",
	"meal_too_long", "no_orders", "too_many_orders", "line_too_long", "bad_session",
	"no_session", "busy", "storage", "cook_too_long", "too_much_cooking", "bad_riders",
	"bad_deadline", "bad_speed",
};

/* The text must be one printable line, NUL-terminated inside its array. */
static void check_error_text(const struct proto_error *e)
{
	size_t n = strnlen(e->text, sizeof e->text);
	assert_true(n < sizeof e->text);
	for (size_t i = 0; i < n; i++)
		assert_true(e->text[i] >= 0x20 && e->text[i] <= 0x7e);
	int known = 0;
	for (size_t i = 0; i < sizeof error_codes / sizeof error_codes[0]; i++)
		known |= strcmp(e->code, error_codes[i]) == 0;
	assert_true(known);
}

/* Parses from a heap copy of exactly len bytes, with no NUL after it, so
 * that AddressSanitizer reports any read past len. */
static int parse_lim_n(const char *line, size_t len, const struct proto_limits *lim)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, line, len);
	memset(&err, 0, sizeof err);
	int rc = proto_parse_command(copy, len, lim, &cmd, &err);
	free(copy);
	assert_true(rc == 0 || rc == -1);
	if (rc < 0)
		check_error_text(&err);
	return rc;
}

static int parse_n(const char *line, size_t len)
{
	return parse_lim_n(line, len, &default_lim);
}

static void parse_ok(const char *line, enum cmd_kind kind)
{
	if (parse_n(line, strlen(line)) != 0)
		fail_msg("'%s' should parse, got %s: %s", line, err.code, err.text);
	assert_int_equal(cmd.kind, kind);
}

static void parse_fails_lim_n(const char *line, size_t len, const struct proto_limits *lim,
                              const char *code, const char *text)
{
	if (parse_lim_n(line, len, lim) != -1)
		fail_msg("'%.*s' should fail with %s", (int)len, line, code);
	assert_string_equal(err.code, code);
	if (text)
		assert_string_equal(err.text, text);
}

/* text NULL: any text, but it must be there. */
static void parse_fails(const char *line, const char *code, const char *text)
{
	parse_fails_lim_n(line, strlen(line), &default_lim, code, text);
	assert_true(err.text[0] != '\0');
}

/* NAME:COOK:MEAL, the offload mode, and the two limits on cooking. */
static void test_cooking(void **state)
{
	(void)state;
	static const struct proto_limits no_cooking = { TEN_MINUTES, 1000, 0, 0 };
	parse_ok("RUN sync A:200ms:3s B:3s C:1.5s:4s", CMD_RUN);
	assert_int_equal(cmd.norders, 3);
	assert_int_equal(cmd.orders[0].cook_us, 200000);
	assert_int_equal(cmd.orders[0].meal_us, 3000000);
	assert_int_equal(cmd.orders[1].cook_us, 0);
	assert_int_equal(cmd.orders[2].cook_us, 1500000);
	assert_int_equal(cmd.orders[2].meal_us, 4000000);
	parse_ok("RUN offload A:200ms:3s", CMD_RUN);
	assert_int_equal(cmd.mode, MODE_OFFLOAD);
	parse_ok("GEN OFFLOAD 5 1s", CMD_GEN);
	assert_int_equal(cmd.mode, MODE_OFFLOAD);
	parse_fails("RUN sync A:11s:1s", "cook_too_long",
	            "A:11s:1s: '11s' is longer than the longest cook, 10s");
	parse_fails("RUN sync A:0:1s", "bad_duration", NULL);
	parse_fails("RUN sync A::1s", "bad_duration", NULL);
	parse_fails("RUN sync A:1s:", "bad_duration", NULL);
	parse_fails("RUN sync A:1s:2s:3s", "bad_order", NULL);
	parse_fails_lim_n("RUN offload A:1ms:1s", 20, &no_cooking, "cook_too_long",
	                  "A:1ms:1s: this server does no cooking");
	/* async cooks on the loop: at most 1 s a run here; the others may
	 * cook more, on the pool. */
	parse_ok("RUN async A:500ms:1s B:500ms:1s", CMD_RUN);
	parse_fails("RUN async A:500ms:1s B:500ms:1s C:1us:1s", "too_much_cooking",
	            "async cooks on the event loop and blocks the server: 1.000001s of cooking, "
	            "at most 1s a run; use offload");
	parse_ok("RUN offload A:600ms:1s B:600ms:1s", CMD_RUN);
	parse_ok("RUN sync A:600ms:1s B:600ms:1s", CMD_RUN);
}

/* AUTH carries a secret: it parses, it is bounded, and a refusal never
 * echoes it. */
static void test_auth(void **state)
{
	(void)state;
	char line[300];
	parse_ok("AUTH s3cret", CMD_AUTH);
	assert_string_equal(cmd.token, "s3cret");
	parse_ok("auth s3cret", CMD_AUTH);
	parse_fails("AUTH", "bad_args", NULL);
	parse_fails("AUTH a b", "bad_args", NULL);
	snprintf(line, sizeof line, "AUTH %0256d", 7);
	parse_ok(line, CMD_AUTH);
	assert_int_equal(strlen(cmd.token), 256);
	snprintf(line, sizeof line, "AUTH x%0256d", 7);
	parse_fails(line, "bad_args", NULL);
	assert_null(strstr(err.text, "x000"));
	parse_fails("AUTH qzq\x01qzq", "bad_args", NULL);
	assert_null(strstr(err.text, "qzq"));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(proto_mode_name(MODE_SYNC), "sync");
	assert_string_equal(proto_mode_name(MODE_ASYNC), "async");
	assert_string_equal(proto_step_name(STEP_DELIVERED), "delivered");
	assert_string_equal(proto_step_name(STEP_EATEN), "eaten");
	assert_string_equal(proto_step_name(STEP_COLLECTED), "collected");
	assert_string_equal(proto_status_name(RUN_RUNNING), "running");
	assert_string_equal(proto_status_name(RUN_DONE), "done");
	assert_string_equal(proto_status_name(RUN_INTERRUPTED), "interrupted");
}

static void test_session_valid(void **state)
{
	(void)state;
	assert_int_equal(proto_session_valid(SESSION, 32), 1);
	assert_int_equal(proto_session_valid(SESSION_UPPER, 32), 1);
	assert_int_equal(proto_session_valid("0123456789abcdefABCDEF0123456789", 32), 1);
	assert_int_equal(proto_session_valid(SESSION, 31), 0);
	assert_int_equal(proto_session_valid(SESSION "0", 33), 0);
	assert_int_equal(proto_session_valid("9f1c2b7e4d3a5f60718293a4b5c6d7eg", 32), 0);
	assert_int_equal(proto_session_valid("9f1c2b7e4d3a5f60718293a4b5c6d7e\0", 32), 0);
	assert_int_equal(proto_session_valid(" 9f1c2b7e4d3a5f60718293a4b5c6d7e", 32), 0);
	assert_int_equal(proto_session_valid("", 0), 0);
	assert_int_equal(proto_session_valid(NULL, 32), 0);
	/* Only len bytes count: a longer valid string cut to 32. */
	assert_int_equal(proto_session_valid(SESSION "ffff", 32), 1);
}

static void test_ping_help_quit(void **state)
{
	(void)state;
	parse_ok("PING", CMD_PING);
	parse_ok("ping", CMD_PING);
	parse_ok("PiNg", CMD_PING);
	parse_ok("   PING   ", CMD_PING);
	parse_ok("PING\r", CMD_PING);
	parse_ok("HELP", CMD_HELP);
	parse_ok("help", CMD_HELP);
	parse_ok("QUIT", CMD_QUIT);
	parse_ok("quit ", CMD_QUIT);
	parse_fails("PING x", "bad_args", "PING takes no more arguments, got 'x'");
	parse_fails("help me", "bad_args", "HELP takes no more arguments, got 'me'");
	parse_fails("QUIT now please", "bad_args", "QUIT takes no more arguments, got 'now'");
}

/* WATCH events|ends: one word, either case; anything else is bad_args. */
static void test_watch(void **state)
{
	(void)state;
	parse_ok("WATCH ends", CMD_WATCH);
	assert_int_equal(cmd.watch_events, 0);
	parse_ok("watch EVENTS", CMD_WATCH);
	assert_int_equal(cmd.watch_events, 1);
	parse_ok("PING", CMD_PING);
	assert_int_equal(cmd.watch_events, 1);   /* reset for every command */
	parse_fails("WATCH", "bad_args", "WATCH needs what to send: WATCH events|ends");
	parse_fails("WATCH all", "bad_args", "'all' is neither events nor ends");
	parse_fails("WATCH ends now", "bad_args", "WATCH takes no more arguments, got 'now'");
}

static void test_empty_and_unknown(void **state)
{
	(void)state;
	parse_fails("", "unknown_command", "empty line");
	parse_fails("    ", "unknown_command", "empty line");
	parse_fails("\r", "unknown_command", "empty line");
	parse_fails("  \r", "unknown_command", "empty line");
	parse_fails("FLY", "unknown_command", "FLY: try HELP");
	parse_fails("fly away", "unknown_command", "fly: try HELP");
	parse_fails("PINGX", "unknown_command", "PINGX: try HELP");
	parse_fails("PIN", "unknown_command", "PIN: try HELP");
	parse_fails("PING\tx", "unknown_command", "PING\\x09x: try HELP");
	parse_fails("\tPING", "unknown_command", "\\x09PING: try HELP");
	parse_fails("PING\r\r", "unknown_command", "PING\\x0d: try HELP");
	parse_fails("\xff\xfe", "unknown_command", "\\xff\\xfe: try HELP");
	parse_fails("caf\xc3\xa9", "unknown_command", "caf\\xc3\\xa9: try HELP");
	parse_fails_lim_n("PI\0NG", 5, &default_lim, "unknown_command", "PI\\x00NG: try HELP");
	parse_fails_lim_n("\0", 1, &default_lim, "unknown_command", "\\x00: try HELP");
}

/* A long token is cut visibly, and the whole text stays in bounds. */
static void test_error_text_cut(void **state)
{
	static char line[4200];
	(void)state;
	memset(line, 'A', sizeof line);
	parse_fails_lim_n(line, sizeof line, &default_lim, "unknown_command",
	                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...: try HELP");

	memset(line, '\x01', sizeof line);
	parse_fails_lim_n(line, sizeof line, &default_lim, "unknown_command", NULL);
	assert_non_null(strstr(err.text, "\\x01\\x01..."));
	assert_true(strlen(err.text) < PROTO_ERR_TEXT);

	/* Both tokens cut: 'name:' and then the duration, each at its own limit. */
	size_t n = (size_t)snprintf(line, sizeof line, "RUN sync A:");
	memset(line + n, '\x7f', 3000);
	parse_fails_lim_n(line, n + 3000, &default_lim, "bad_duration", NULL);
	assert_true(strlen(err.text) < PROTO_ERR_TEXT);
	assert_int_equal(strncmp(err.text, "A:\\x7f", 6), 0);
	assert_non_null(strstr(err.text, "..."));
	assert_int_equal(strcmp(err.text + strlen(err.text) - 3, "..."), 0);
}

static void test_run_good(void **state)
{
	(void)state;
	parse_ok("RUN async A:30ms B:30ms C:40ms", CMD_RUN);
	assert_int_equal(cmd.mode, MODE_ASYNC);
	assert_int_equal(cmd.norders, 3);
	assert_string_equal(cmd.orders[0].name, "A");
	assert_int_equal(cmd.orders[0].meal_us, 30000);
	assert_string_equal(cmd.orders[1].name, "B");
	assert_int_equal(cmd.orders[1].meal_us, 30000);
	assert_string_equal(cmd.orders[2].name, "C");
	assert_int_equal(cmd.orders[2].meal_us, 40000);

	parse_ok("run SYNC   x_1.a-Z:1.5s\r", CMD_RUN);
	assert_int_equal(cmd.mode, MODE_SYNC);
	assert_int_equal(cmd.norders, 1);
	assert_string_equal(cmd.orders[0].name, "x_1.a-Z");
	assert_int_equal(cmd.orders[0].meal_us, 1500000);

	parse_ok("Run Async dup:1s dup:2s", CMD_RUN);
	assert_int_equal(cmd.mode, MODE_ASYNC);
	assert_int_equal(cmd.norders, 2);
	assert_string_equal(cmd.orders[1].name, "dup");
	assert_int_equal(cmd.orders[1].meal_us, 2000000);

	parse_ok("RUN sync 12345678901234567890123456789012:1us", CMD_RUN);
	assert_string_equal(cmd.orders[0].name, "12345678901234567890123456789012");
	assert_int_equal(cmd.orders[0].meal_us, 1);
}

static void test_run_mode(void **state)
{
	(void)state;
	parse_fails("RUN", "bad_args", NULL);
	parse_fails("RUN   ", "bad_args", NULL);
	parse_fails("RUN fast A:1s", "bad_mode", "'fast' is not a mode: use sync, async or offload");
	parse_fails("RUN A:1s", "bad_mode", "'A:1s' is not a mode: use sync, async or offload");
	parse_fails("RUN syncc A:1s", "bad_mode", NULL);
	parse_fails("RUN sync\tA:1s", "bad_mode", "'sync\\x09A:1s' is not a mode: use sync, async or offload");
}

static void test_run_no_orders(void **state)
{
	(void)state;
	parse_fails("RUN sync", "no_orders", NULL);
	parse_fails("RUN async    ", "no_orders", NULL);
	parse_fails("RUN async\r", "no_orders", NULL);
}

static void test_run_bad_order(void **state)
{
	(void)state;
	parse_fails("RUN sync A", "bad_order", "'A' is not NAME:DURATION or NAME:COOK:DURATION");
	parse_fails("RUN sync A:1s B=2s", "bad_order", "'B=2s' is not NAME:DURATION or NAME:COOK:DURATION");
	parse_fails("RUN sync 3s", "bad_order", NULL);
}

static void test_run_bad_name(void **state)
{
	(void)state;
	parse_fails("RUN sync :1s", "bad_name", ":1s: the name is empty");
	parse_fails("RUN sync 123456789012345678901234567890123:1s", "bad_name",
	            "123456789012345678901234567890123:1s: the name is longer than 32 characters");
	parse_fails("RUN sync a/b:1s", "bad_name",
	            "a/b:1s: the name has a character outside A-Z a-z 0-9 _ . -");
	parse_fails("RUN sync a\tb:1s", "bad_name", NULL);
	assert_non_null(strstr(err.text, "a\\x09b:1s"));
	parse_fails("RUN sync caf\xc3\xa9:1s", "bad_name", NULL);
	parse_fails("RUN sync A:1s ok:2s b@d:3s", "bad_name", NULL);
	assert_non_null(strstr(err.text, "b@d:3s"));
	parse_fails_lim_n("RUN sync A\0B:1s", 15, &default_lim, "bad_name", NULL);
	assert_non_null(strstr(err.text, "A\\x00B:1s"));
}

static void test_run_bad_duration(void **state)
{
	(void)state;
	/* The transcript's line. */
	parse_fails("RUN sync A:10ms B:ten", "bad_duration",
	            "B:ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m");
	parse_fails("RUN sync A:", "bad_duration", "A:: '' is not a duration like 250ms, 3s, 1.5s, 2m");
	parse_fails("RUN sync A:0s", "bad_duration", NULL);
	parse_fails("RUN sync A:0.5us", "bad_duration", NULL);
	parse_fails("RUN sync A:1.0000001s", "bad_duration", NULL);
	parse_fails("RUN sync A:1:2s", "bad_duration", "A:1:2s: '1' is not a duration like 250ms, 3s, 1.5s, 2m");
	parse_fails("RUN sync A:-1s", "bad_duration", NULL);
	parse_fails("RUN sync A:1S", "bad_duration", NULL);
	parse_fails("RUN sync A:1s\t", "bad_duration", NULL);
	/* Well-formed but past what microseconds can count: over the limit. */
	parse_fails("RUN sync A:99999999999999999h", "meal_too_long", NULL);
	parse_fails("RUN sync A:18446744073709551616us", "meal_too_long", NULL);
	parse_fails("RUN sync A:18446744073709551615us", "meal_too_long", NULL);
	parse_fails("RUN async A:1s deadline=99999999999999999999h", "bad_deadline",
	            "deadline=99999999999999999999h: a deadline is at most 24h");
	parse_fails("RUN sync A:1ms:1ms:1ms", "bad_order",
	            "'A:1ms:1ms:1ms' is not NAME:DURATION or NAME:COOK:DURATION");
}

static void test_run_meal_limit(void **state)
{
	(void)state;
	parse_ok("RUN sync A:10m", CMD_RUN);
	assert_int_equal(cmd.orders[0].meal_us, TEN_MINUTES);
	parse_ok("RUN sync A:600000000us", CMD_RUN);
	parse_fails("RUN sync A:600000001us", "meal_too_long",
	            "A:600000001us: '600000001us' is longer than the longest meal, 10m");
	parse_fails("RUN sync A:1s B:10.000001m", "meal_too_long", NULL);
	parse_fails("RUN sync A:1h", "meal_too_long", NULL);
}

static void test_run_order_limit(void **state)
{
	static const struct proto_limits three = { TEN_MINUTES, 3, 0, 0 };
	const char *ok = "RUN sync a:1s b:1s c:1s";
	const char *over = "RUN sync a:1s b:1s c:1s d:1s";
	(void)state;
	assert_int_equal(parse_lim_n(ok, strlen(ok), &three), 0);
	assert_int_equal(cmd.norders, 3);
	parse_fails_lim_n(over, strlen(over), &three, "too_many_orders",
	                  "'d:1s' is one order too many: a run takes at most 3");
}

/* A line can hold PROTO_LINE_ORDERS orders whatever the limit says. */
static void test_run_line_orders(void **state)
{
	static const struct proto_limits many = { TEN_MINUTES, 1000000, 0, 0 };
	static char line[16 + (PROTO_LINE_ORDERS + 1) * 10];
	size_t n = (size_t)snprintf(line, sizeof line, "RUN async");
	(void)state;
	for (int i = 0; i < PROTO_LINE_ORDERS; i++)
		n += (size_t)snprintf(line + n, sizeof line - n, " o%d:1ms", i % 1000);
	assert_int_equal(parse_lim_n(line, n, &many), 0);
	assert_int_equal(cmd.norders, PROTO_LINE_ORDERS);
	assert_string_equal(cmd.orders[PROTO_LINE_ORDERS - 1].name, "o23");
	assert_int_equal(cmd.orders[PROTO_LINE_ORDERS - 1].meal_us, 1000);
	n += (size_t)snprintf(line + n, sizeof line - n, " x:1ms");
	parse_fails_lim_n(line, n, &many, "too_many_orders",
	                  "'x:1ms' is one order too many: a run takes at most 1024");
}

static void test_gen_good(void **state)
{
	(void)state;
	parse_ok("GEN sync 3 1s", CMD_GEN);
	assert_int_equal(cmd.mode, MODE_SYNC);
	assert_int_equal(cmd.norders, 3);
	assert_int_equal(cmd.gen_lo_us, 1000000);
	assert_int_equal(cmd.gen_hi_us, 1000000);
	assert_string_equal(cmd.gen_prefix, "o");

	parse_ok("gen ASYNC 1000 10ms..20ms prefix=x_", CMD_GEN);
	assert_int_equal(cmd.mode, MODE_ASYNC);
	assert_int_equal(cmd.norders, 1000);
	assert_int_equal(cmd.gen_lo_us, 10000);
	assert_int_equal(cmd.gen_hi_us, 20000);
	assert_string_equal(cmd.gen_prefix, "x_");

	parse_ok("GEN sync 007 1.5s..1.5s  PREFIX=a.b \r", CMD_GEN);
	assert_int_equal(cmd.norders, 7);
	assert_int_equal(cmd.gen_lo_us, 1500000);
	assert_int_equal(cmd.gen_hi_us, 1500000);
	assert_string_equal(cmd.gen_prefix, "a.b");

	parse_ok("GEN async 1000 10m", CMD_GEN);
	assert_int_equal(cmd.gen_hi_us, TEN_MINUTES);
}

static void test_gen_args(void **state)
{
	(void)state;
	parse_fails("GEN", "bad_args", NULL);
	parse_fails("GEN fast 3 1s", "bad_mode", "'fast' is not a mode: use sync, async or offload");
	parse_fails("GEN sync", "bad_args", NULL);
	parse_fails("GEN sync abc 1s", "bad_args", "'abc' is not a count");
	parse_fails("GEN sync +3 1s", "bad_args", NULL);
	parse_fails("GEN sync -3 1s", "bad_args", NULL);
	parse_fails("GEN sync 3.0 1s", "bad_args", NULL);
	parse_fails("GEN sync 18446744073709551616 1s", "bad_args", NULL);
	parse_fails("GEN sync 3", "bad_args", NULL);
	parse_fails("GEN sync 3 2s..1s", "bad_args", "'2s..1s' goes down: write <lo>..<hi> with lo <= hi");
	parse_fails("GEN sync 3 1s foo", "bad_args", "'foo' is not prefix=<name>");
	parse_fails("GEN sync 3 1s prefix", "bad_args", NULL);
	parse_fails("GEN sync 3 1s prefix=x extra", "bad_args",
	            "GEN takes no more arguments, got 'extra'");
}

/* group=<id>: after RUN's orders, anywhere among GEN's options; an id
 * follows the rules of a name. */
static void test_group(void **state)
{
	(void)state;
	parse_ok("RUN sync A:1s", CMD_RUN);
	assert_string_equal(cmd.group, "");
	parse_ok("RUN async A:1s B:2s group=3f9a0c12d4e5", CMD_RUN);
	assert_int_equal(cmd.norders, 2);
	assert_string_equal(cmd.group, "3f9a0c12d4e5");
	parse_ok("run SYNC A:1s GROUP=g.1", CMD_RUN);
	assert_string_equal(cmd.group, "g.1");
	parse_ok("GEN async 3 1s group=g prefix=p", CMD_GEN);
	assert_string_equal(cmd.group, "g");
	assert_string_equal(cmd.gen_prefix, "p");
	parse_ok("GEN async 3 1s prefix=p group=h", CMD_GEN);
	assert_string_equal(cmd.group, "h");
	parse_ok("GEN async 3 1s", CMD_GEN);
	assert_string_equal(cmd.group, "");
	parse_fails("RUN sync group=g A:1s", "no_orders", "RUN needs its orders before group=g");
	parse_fails("RUN sync A:1s group=g B:1s", "bad_args", "RUN takes no more arguments, got 'B:1s'");
	parse_fails("RUN sync A:1s group=", "bad_args", "group=: the name is empty");
	parse_fails("RUN sync A:1s group=a/b", "bad_args", NULL);
	parse_fails("RUN sync A:1s group=123456789012345678901234567890123", "bad_args", NULL);
	parse_fails("GEN sync 3 1s group=a group=b", "bad_args", "'group=b': group= is given twice");
	parse_fails("GEN sync 3 1s prefix=a prefix=b", "bad_args", "'prefix=b': prefix= is given twice");
	parse_fails("GEN sync 3 1s prefix=a x", "bad_args", "GEN takes no more arguments, got 'x'");
	parse_fails("RUN async A:1s riders=1 riders=2", "bad_args", "'riders=2': riders= is given twice");
}

static void test_usage(void **state)
{
	(void)state;
	size_t n = 0;
	for (; proto_usage[n]; n++)
		assert_true(strlen(proto_usage[n]) < 80);
	assert_int_equal(n, 12);
	assert_string_equal(proto_usage[0],
	                    "RUN <mode> <name>:[<cook>:]<meal>... [group=<id>] [riders=<n>] [deadline=<d>]");
}

static void test_gen_count(void **state)
{
	static const struct proto_limits max32 = { TEN_MINUTES, UINT32_MAX, 0, 0 };
	const char *top = "GEN sync 4294967295 1s prefix=p";
	const char *over = "GEN sync 4294967296 1s";
	(void)state;
	parse_fails("GEN sync 0 1s", "no_orders", NULL);
	parse_fails("GEN sync 000 1s", "no_orders", NULL);
	parse_ok("GEN sync 1000 1s", CMD_GEN);
	assert_int_equal(cmd.norders, 1000);
	parse_fails("GEN sync 1001 1s", "too_many_orders", "'1001' orders: a run takes at most 1000");
	parse_fails("GEN sync 99999999999 1s", "too_many_orders", NULL);
	assert_int_equal(parse_lim_n(top, strlen(top), &max32), 0);
	assert_int_equal(cmd.norders, UINT32_MAX);
	parse_fails_lim_n(over, strlen(over), &max32, "too_many_orders", NULL);
}

static void test_gen_meals(void **state)
{
	(void)state;
	parse_fails("GEN sync 3 ten", "bad_duration", "ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m");
	parse_fails("GEN sync 3 1s..ten", "bad_duration", "1s..ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m");
	parse_fails("GEN sync 3 1s..", "bad_duration", NULL);
	parse_fails("GEN sync 3 ..1s", "bad_duration", NULL);
	parse_fails("GEN sync 3 1s...2s", "bad_duration", NULL);
	parse_fails("GEN sync 3 0s..1s", "bad_duration", NULL);
	parse_fails("GEN sync 3 11m", "meal_too_long", NULL);
	parse_fails("GEN sync 3 1s..11m", "meal_too_long", "1s..11m: '11m' is longer than the longest meal, 10m");
	parse_fails("GEN sync 3 11m..12m", "meal_too_long", NULL);
	parse_ok("GEN sync 3 0.5s..10m", CMD_GEN);
	assert_int_equal(cmd.gen_lo_us, 500000);
	assert_int_equal(cmd.gen_hi_us, TEN_MINUTES);
}

static void test_gen_prefix(void **state)
{
	static const struct proto_limits many = { TEN_MINUTES, 100000, 0, 0 };
	const char *p31_9 = "GEN sync 9 1s prefix=1234567890123456789012345678901";
	const char *p31_10 = "GEN sync 10 1s prefix=1234567890123456789012345678901";
	const char *p27_10k = "GEN sync 10000 1s prefix=123456789012345678901234567";
	const char *p28_10k = "GEN sync 10000 1s prefix=1234567890123456789012345678";
	(void)state;
	parse_fails("GEN sync 3 1s prefix=", "bad_name", "prefix=: the name is empty");
	parse_fails("GEN sync 3 1s prefix=a/b", "bad_name", NULL);
	parse_fails("GEN sync 3 1s prefix=a:b", "bad_name", NULL);
	assert_int_equal(parse_lim_n(p31_9, strlen(p31_9), &many), 0);
	assert_string_equal(cmd.gen_prefix, "1234567890123456789012345678901");
	parse_fails_lim_n(p31_10, strlen(p31_10), &many, "bad_name",
	                  "prefix=1234567890123456789012345678901: the name of order 10 would be "
	                  "longer than 32 characters");
	assert_int_equal(parse_lim_n(p27_10k, strlen(p27_10k), &many), 0);
	parse_fails_lim_n(p28_10k, strlen(p28_10k), &many, "bad_name", NULL);
	parse_fails("GEN sync 1 1s prefix=12345678901234567890123456789012", "bad_name", NULL);
	parse_fails("GEN sync 1 1s prefix=123456789012345678901234567890123", "bad_name",
	            "prefix=123456789012345678901234567890123: the name is longer than 32 characters");
}

static void test_attach(void **state)
{
	(void)state;
	parse_ok("ATTACH " SESSION, CMD_ATTACH);
	assert_string_equal(cmd.session, SESSION);
	assert_int_equal(cmd.since_seq, 0);
	parse_ok("attach " SESSION_UPPER " 42", CMD_ATTACH);
	assert_string_equal(cmd.session, SESSION);
	assert_int_equal(cmd.since_seq, 42);
	parse_ok("ATTACH  " SESSION "  18446744073709551615 \r", CMD_ATTACH);
	assert_int_equal(cmd.since_seq, UINT64_MAX);
	parse_fails("ATTACH", "bad_args", NULL);
	parse_fails("ATTACH xyz", "bad_session", "'xyz' is not a session id of 32 hex digits");
	parse_fails("ATTACH 9f1c2b7e4d3a5f60718293a4b5c6d7e", "bad_session", NULL);
	parse_fails("ATTACH " SESSION "0", "bad_session", NULL);
	parse_fails("ATTACH 9f1c2b7e4d3a5f60718293a4b5c6d7eg", "bad_session", NULL);
	parse_fails("ATTACH " SESSION " -1", "bad_args", "'-1' is not a seq number");
	parse_fails("ATTACH " SESSION " x", "bad_args", NULL);
	parse_fails("ATTACH " SESSION " 18446744073709551616", "bad_args", NULL);
	parse_fails("ATTACH " SESSION " 1 2", "bad_args", "ATTACH takes no more arguments, got '2'");
}

static void test_runs(void **state)
{
	(void)state;
	parse_ok("RUNS", CMD_RUNS);
	assert_string_equal(cmd.session, "");
	parse_ok("runs " SESSION_UPPER, CMD_RUNS);
	assert_string_equal(cmd.session, SESSION);
	/* A RUNS after an ATTACH must not keep the ATTACH's session. */
	parse_ok("RUNS  ", CMD_RUNS);
	assert_string_equal(cmd.session, "");
	parse_fails("RUNS bad", "bad_session", "'bad' is not a session id of 32 hex digits");
	parse_fails("RUNS " SESSION " x", "bad_args", NULL);
}

/* Only len bytes are the line: what follows in the buffer is not read. */
static void test_prefix_of_buffer(void **state)
{
	const char *run = "RUN sync A:1s B:2s";
	const char *attach = "ATTACH " SESSION " 7";
	(void)state;
	assert_int_equal(parse_n("PING x", 4), 0);
	assert_int_equal(cmd.kind, CMD_PING);
	assert_int_equal(parse_n(run, 13), 0);
	assert_int_equal(cmd.norders, 1);
	assert_int_equal(cmd.orders[0].meal_us, 1000000);
	assert_int_equal(parse_n(run, 12), -1);
	assert_string_equal(err.code, "bad_duration");
	assert_int_equal(parse_n(attach, 39), 0);
	assert_int_equal(cmd.since_seq, 0);
	assert_int_equal(parse_n(attach, strlen(attach)), 0);
	assert_int_equal(cmd.since_seq, 7);
	assert_int_equal(parse_n("PING", 0), -1);
	assert_string_equal(err.text, "empty line");
}

/* xorshift64: a fixed seed makes a failure reproducible. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Lines stitched from the protocol's own words and hostile bytes: every
 * result is a clean success or a well-formed error. */
static void test_random_lines(void **state)
{
	static const char *const words[] = {
		"RUN", "gen", "ATTACH", "RUNS", "PING", "sync", "async", " ", "  ", "A:", ":",
		"1s", "250ms", "..", ".", "0", "7", "1000", "prefix=", "x", SESSION, "\t", "\r",
		"\0", "\xff", "10m", "11m", "99999999999999999999", "-", "A:1s ",
	};
	static char line[PROTO_MAX_LINE];
	uint64_t seed = 77;
	int ok = 0;
	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t n = 0, parts = next_random(&seed) % 12;
		for (size_t k = 0; k < parts; k++) {
			const char *w = words[next_random(&seed) % (sizeof words / sizeof words[0])];
			size_t wl = w[0] ? strlen(w) : 1;
			memcpy(line + n, w, wl);
			n += wl;
		}
		if (parse_n(line, n) == 0) {
			assert_true(cmd.kind <= CMD_RUNS);
			ok++;
		}
	}
	assert_true(ok > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_session_valid),
		cmocka_unit_test(test_ping_help_quit),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_cooking),
		cmocka_unit_test(test_empty_and_unknown),
		cmocka_unit_test(test_error_text_cut),
		cmocka_unit_test(test_run_good),
		cmocka_unit_test(test_run_mode),
		cmocka_unit_test(test_run_no_orders),
		cmocka_unit_test(test_run_bad_order),
		cmocka_unit_test(test_run_bad_name),
		cmocka_unit_test(test_run_bad_duration),
		cmocka_unit_test(test_run_meal_limit),
		cmocka_unit_test(test_run_order_limit),
		cmocka_unit_test(test_run_line_orders),
		cmocka_unit_test(test_gen_good),
		cmocka_unit_test(test_gen_args),
		cmocka_unit_test(test_gen_count),
		cmocka_unit_test(test_gen_meals),
		cmocka_unit_test(test_gen_prefix),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_prefix_of_buffer),
		cmocka_unit_test(test_random_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
