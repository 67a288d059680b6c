/* Unit tests of the client's pure parts: the command line, addresses, line
 * splitting, the plain and NDJSON output, the tables, and following a
 * session's lines to its end. The live view has tests/test_client_view.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/cli.h"
#include "client/follow.h"
#include "client/follow_commands.h"
#include "client/remote.h"
#include "client/report.h"
#include "client/strbuf.h"
#include "client/term.h"
#include "tests/support.h"

#define SESSION "9f1c2b7e4d3a5f60718293a4b5c6d7e8"

static const struct proto_done done_sync = {
	.seq = 10, .run = 1, .mode = MODE_SYNC, .orders = 3, .status = RUN_DONE,
	.elapsed_us = 10000412, .ideal_us = 10000000, .sum_us = 10000000, .max_us = 4000000,
};
static const struct proto_done done_async = {
	.seq = 11, .run = 2, .mode = MODE_ASYNC, .orders = 3, .status = RUN_DONE,
	.elapsed_us = 4000297, .ideal_us = 4000000, .sum_us = 10000000, .max_us = 4000000,
};

/* ---- command line ---------------------------------------------------- */

/* argv from words separated by single spaces, after "baedal". */
static int split(char **argv, int max, const char *words)
{
	static char store[PROTO_MAX_LINE + 64];
	int argc = 0;

	snprintf(store, sizeof store, "baedal%s%s", *words ? " " : "", words);
	for (char *p = store; p && argc < max - 1; argc++) {
		argv[argc] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
	}
	argv[argc] = NULL;
	return argc;
}

static int parse(struct cli_opts *o, const char *env, char *err, const char *words)
{
	static char *argv[64];
	int argc = split(argv, 64, words);

	return cli_parse(argc, argv, env, o, err, 256);
}

static void test_cli_commands(void **state)
{
	struct cli_opts o;
	char err[256];
	(void)state;

	assert_int_equal(parse(&o, NULL, err, "run sync A:3s B:250ms"), 0);
	assert_int_equal(o.command, CLI_RUN);
	assert_int_equal(o.mode, MODE_SYNC);
	assert_int_equal(o.nargs, 2);
	assert_string_equal(o.args[1], "B:250ms");
	assert_string_equal(o.server, CLI_DEFAULT_SERVER);
	assert_string_equal(o.addr.host, "127.0.0.1");
	assert_string_equal(o.addr.port, "7878");
	assert_int_equal(parse(&o, NULL, err, "--json gen async 1000 1ms..5ms"), 0);
	assert_true(o.command == CLI_GEN && o.json && o.mode == MODE_ASYNC);
	assert_string_equal(o.args[0], "1000");
	assert_string_equal(o.args[1], "1ms..5ms");
	assert_int_equal(parse(&o, NULL, err, "demo"), 0);
	assert_true(o.command == CLI_DEMO && o.nargs == 3);
	assert_string_equal(o.args[2], "C:4s");
	assert_int_equal(parse(&o, NULL, err, "--plain --no-color compare A:1s -- -B:2s"), 0);
	assert_true(o.command == CLI_COMPARE && o.plain && o.no_color && o.nargs == 2);
	assert_string_equal(o.args[1], "-B:2s");
	assert_int_equal(parse(&o, NULL, err, "attach " SESSION " --since 42"), 0);
	assert_true(o.command == CLI_ATTACH && o.since == 42);
	assert_string_equal(o.session, SESSION);
	/* Orders are checked with the server's grammar before connecting. */
	assert_int_equal(parse(&o, NULL, err, "run async A:0s"), -1);
	assert_string_equal(err, "'A:0s': '0s' is zero: a duration is at least 1us");
	assert_int_equal(parse(&o, NULL, err, "compare B:1s A:1.5us"), -1);
	assert_string_equal(err, "'A:1.5us': '1.5us' is finer than 1 us, the smallest step");
	assert_int_equal(parse(&o, NULL, err, "gen sync 5 1s..0.5us"), -1);
	assert_non_null(strstr(err, "'0.5us' is finer than 1 us"));
	assert_int_equal(parse(&o, NULL, err, "run sync A:B:C:1s"), -1);
	assert_int_equal(parse(&o, NULL, err, "gen sync 5000000 10ms"), 0);
	/* Without an id, RUNS would list the new connection's empty session. */
	assert_int_equal(parse(&o, NULL, err, "runs"), -1);
	assert_non_null(strstr(err, "runs needs a SESSION"));
	assert_int_equal(parse(&o, NULL, err, "runs " SESSION), 0);
	assert_string_equal(o.session, SESSION);
	assert_int_equal(parse(&o, NULL, err, "--plain replay 12 --speed 0.5"), 0);
	assert_true(o.command == CLI_REPLAY && o.plain && o.run == 12 && o.speed_milli == 500);
	assert_int_equal(parse(&o, NULL, err, "replay 12"), 0);
	assert_true(o.command == CLI_REPLAY && o.run == 12 && o.speed_milli == 1000);
	assert_int_equal(parse(&o, NULL, err, "--version bogus"), 0);
	assert_int_equal(o.command, CLI_VERSION);
	assert_int_equal(parse(&o, NULL, err, "run --help"), 0);
	assert_int_equal(o.command, CLI_HELP);
}

static void test_cli_server(void **state)
{
	struct cli_opts o;
	char err[256];
	(void)state;

	assert_int_equal(parse(&o, "example.org:9000", err, "demo"), 0);
	assert_string_equal(o.addr.host, "example.org");
	assert_string_equal(o.addr.port, "9000");
	assert_false(o.server_flag);
	assert_int_equal(parse(&o, "example.org:9000", err, "--server [::1]:7000 demo"), 0);
	assert_string_equal(o.addr.host, "::1");
	assert_string_equal(o.addr.port, "7000");
	assert_true(o.server_flag);
	assert_int_equal(parse(&o, "", err, "--server=h:1 demo"), 0);
	assert_string_equal(o.addr.host, "h");
	assert_int_equal(parse(&o, "nope", err, "demo"), -1);
	assert_non_null(strstr(err, "BAEDAL_SERVER"));
	assert_int_equal(parse(&o, NULL, err, "--server ::1:7878 demo"), -1);
	assert_non_null(strstr(err, "--server"));
}

static void test_cli_usage_errors(void **state)
{
	static const struct { const char *words, *err; } cases[] = {
		{ "", "no command given" },
		{ "fly", "unknown command 'fly'" },
		{ "run fast A:1s", "the mode must be sync, async or offload, not 'fast'" },
		{ "run sync", "no orders: give NAME:DURATION, such as A:3s B:250ms, "
		              "or NAME:COOK:DURATION, such as A:200ms:3s" },
		{ "run sync A:1s\nQUIT", "the order 'A:1s?QUIT' has a space or a control character" },
		{ "gen sync 5", "gen expects sync|async|offload COUNT MEAL[..MEAL]" },
		{ "demo A:1s", "demo takes no arguments" },
		{ "attach xyz", "'xyz' is not a session id (32 hex digits)" },
		{ "attach " SESSION " --since -1", "--since wants a sequence number, not '-1'" },
		{ "runs --since 3", "--since goes with attach only" },
		{ "--json --plain demo", "--json and --plain exclude each other" },
		{ "--bogus demo", "unknown option '--bogus'" },
		{ "demo --server", "--server needs a value" },
		{ "replay", "replay expects RUN [--speed X]" },
		{ "replay 0", "'0' is not a run id" },
		{ "replay 3 --speed 0", "--speed wants a number from 0.01 to 1000 with at most three "
		                        "decimals, such as 2 or 0.5, not '0'" },
		{ "replay 3 --speed 1001", "--speed wants a number from 0.01 to 1000 with at most three "
		                           "decimals, such as 2 or 0.5, not '1001'" },
		{ "replay 3 --speed 1.2345", "--speed wants a number from 0.01 to 1000 with at most "
		                             "three decimals, such as 2 or 0.5, not '1.2345'" },
		{ "run async A:1s --speed 2", "--speed goes with replay only" },
		{ "replay 3 --riders 2", "--riders and --deadline go with run, gen and compare only" },
	};
	static char words[PROTO_MAX_LINE + 16] = "run sync ";
	struct cli_opts o;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(parse(&o, NULL, err, cases[i].words), -1);
		assert_string_equal(err, cases[i].err);
	}
	memset(words + 9, 'A', PROTO_MAX_LINE);
	words[10] = ':';
	assert_int_equal(parse(&o, NULL, err, words), -1);
	assert_non_null(strstr(err, "longer than 4096 bytes"));
}

static void test_cli_format_run(void **state)
{
	const char *const orders[] = { "A:3s", "B:3s" };
	char line[PROTO_MAX_LINE + 2];
	(void)state;

	assert_int_equal(cli_format_run(line, sizeof line, "RUN", MODE_ASYNC, orders, 2), 20);
	assert_string_equal(line, "RUN async A:3s B:3s\n");
	assert_int_equal(cli_format_run(line, 10, "RUN", MODE_SYNC, orders, 2), -1);
}

/* ---- connection --------------------------------------------------------- */

static void test_remote_parse_addr(void **state)
{
	static const struct { const char *in, *host, *port; } cases[] = {
		{ "localhost:7878", "localhost", "7878" }, { "[fe80::1]:1", "fe80::1", "1" },
		{ "host", NULL, NULL }, { ":7878", NULL, NULL }, { "h:0", NULL, NULL },
		{ "h:65536", NULL, NULL }, { "h:12x", NULL, NULL }, { "h:-1", NULL, NULL },
		{ "[::1]7878", NULL, NULL }, { "::1:7878", NULL, NULL }, { "h:", NULL, NULL },
	};
	struct remote_addr a;
	char err[128];
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = remote_parse_addr(cases[i].in, &a, err, sizeof err);
		assert_int_equal(rc, cases[i].host ? 0 : -1);
		if (cases[i].host) {
			assert_string_equal(a.host, cases[i].host);
			assert_string_equal(a.port, cases[i].port);
		}
	}
}

static void feed(struct remote_lines *in, const char *s, size_t n)
{
	size_t room;
	char *p = remote_lines_space(in, &room);

	assert_true(n <= room);
	memcpy(p, s, n);
	in->end += n;
}

static void test_remote_lines(void **state)
{
	static struct remote_lines in;
	const char *line;
	size_t len;
	(void)state;

	feed(&in, "OK po", 5);
	assert_int_equal(remote_next_line(&in, &line, &len), 0);
	feed(&in, "ng\r\nEV a\nDO", 11);
	assert_int_equal(remote_next_line(&in, &line, &len), 1);
	assert_int_equal(len, 7);
	assert_memory_equal(line, "OK pong", 7);
	assert_int_equal(remote_next_line(&in, &line, &len), 1);
	assert_memory_equal(line, "EV a", len);
	assert_int_equal(remote_next_line(&in, &line, &len), 0);
	feed(&in, "NE\n\n", 4);
	assert_int_equal(remote_next_line(&in, &line, &len), 1);
	assert_memory_equal(line, "DONE", len);
	assert_int_equal(remote_next_line(&in, &line, &len), 1);
	assert_int_equal(len, 0);

	/* A line past the limit is an error, whole or still arriving. */
	static char big[REMOTE_LINE_MAX + 2];
	memset(big, 'x', sizeof big);
	feed(&in, big, REMOTE_LINE_MAX);
	assert_int_equal(remote_next_line(&in, &line, &len), 0);
	feed(&in, "\n", 1);
	assert_int_equal(remote_next_line(&in, &line, &len), 1);
	assert_int_equal(len, REMOTE_LINE_MAX);
	feed(&in, big, sizeof big);
	assert_int_equal(remote_next_line(&in, &line, &len), -1);
}

/* ---- tables and lines ------------------------------------------------- */

static void test_report_totals(void **state)
{
	struct proto_done rows[2] = { done_sync, done_async };
	struct strbuf b;
	(void)state;

	strbuf_init(&b);
	report_totals(&b, rows, 2);
	assert_string_equal(b.data,
		"mode   orders  elapsed     ideal       overhead   speed-up\n"
		"sync   3       10.000 s    10.000 s    +0.412 ms  1.00x\n"
		"async  3        4.000 s     4.000 s    +0.297 ms  2.50x\n");
	strbuf_reset(&b);
	rows[0].status = RUN_INTERRUPTED;
	rows[0].elapsed_us = -1;
	rows[1].elapsed_us = 123456789;
	report_totals(&b, rows, 2);
	assert_string_equal(b.data,
		"mode   orders  elapsed      ideal       overhead        speed-up\n"
		"sync   3       interrupted\n"
		"async  3       123.457 s     4.000 s    +119456.789 ms  0.08x\n");
	strbuf_free(&b);
}

static void test_report_runs_table(void **state)
{
	struct proto_done rows[2] = { done_async, done_sync };
	struct strbuf b;
	(void)state;

	rows[0].status = RUN_RUNNING;
	rows[0].elapsed_us = -1;
	strbuf_init(&b);
	report_runs_table(&b, rows, 2);
	assert_string_equal(b.data,
		"run  mode   orders  status       elapsed     ideal\n"
		"2    async  3       running             -     4.000 s\n"
		"1    sync   3       done         10.000 s    10.000 s\n");
	strbuf_free(&b);
}

static void test_report_numbers(void **state)
{
	char buf[48];
	(void)state;

	report_format_seconds(buf, sizeof buf, 4213499);
	assert_string_equal(buf, "4.213");
	report_format_seconds(buf, sizeof buf, 4213500);
	assert_string_equal(buf, "4.214");
	report_format_seconds(buf, sizeof buf, 0);
	assert_string_equal(buf, "0.000");
	report_format_signed_ms(buf, sizeof buf, -1500);
	assert_string_equal(buf, "-1.500");
	report_format_signed_ms(buf, sizeof buf, 0);
	assert_string_equal(buf, "+0.000");
	report_format_speedup(buf, sizeof buf, 100, 0);
	assert_string_equal(buf, "-");
}

static void test_report_plain(void **state)
{
	struct proto_event ev = { .seq = 1, .run = 1, .order = 1, .name = "A",
	                          .step = STEP_DELIVERED, .t_us = 21 };
	struct report_widths w = { .run = 1, .name = 2 };
	struct strbuf b;
	(void)state;

	strbuf_init(&b);
	report_plain_started(&b, &w, 1, MODE_SYNC, 3);
	report_plain_event(&b, &w, MODE_SYNC, &ev);
	ev.step = STEP_COLLECTED;
	ev.t_us = 10000412;
	report_plain_event(&b, &w, MODE_ASYNC, &ev);
	report_plain_done(&b, &w, &done_sync);
	report_plain_lagged(&b, 3, 0, SESSION, 17);
	assert_string_equal(b.data,
		"sync  run=1  started  3 orders\n"
		"sync  run=1  A   delivered      0.021 ms\n"
		"async run=1  A   collected  10000.412 ms\n"
		"sync  run=1  done  3 orders  elapsed 10000.412 ms  ideal 10000.000 ms"
		"  overhead +0.412 ms  speed-up 1.00x\n"
		"lagged: the server dropped 3 live events (the database has them; "
		"baedal attach " SESSION " --since 17)\n");
	assert_null(strchr(b.data, '\033'));
	strbuf_free(&b);
}

static void test_report_json(void **state)
{
	struct proto_event ev = { .seq = 4, .run = 1, .order = 1, .name = "A",
	                          .step = STEP_EATEN, .t_us = 30102 };
	struct proto_done d = done_async;
	uint64_t active[] = { 3, 5 };
	struct strbuf b;
	(void)state;

	strbuf_init(&b);
	report_json_event(&b, MODE_ASYNC, &ev);
	report_json_event(&b, MODEL_MODE_UNKNOWN, &ev);
	report_json_done(&b, &done_sync);
	d.status = RUN_INTERRUPTED;
	d.elapsed_us = -1;
	report_json_done(&b, &d);
	report_json_run(&b, 2, MODE_ASYNC, 3);
	report_json_lagged(&b, 5, 0);
	report_json_attached(&b, SESSION, 9, active, 2);
	report_json_runinfo(&b, &d);
	assert_string_equal(b.data,
		"{\"type\":\"event\",\"seq\":4,\"run\":1,\"mode\":\"async\",\"order\":1,\"name\":\"A\","
		"\"step\":\"eaten\",\"t_us\":30102,\"t_ms\":30.102}\n"
		"{\"type\":\"event\",\"seq\":4,\"run\":1,\"mode\":null,\"order\":1,\"name\":\"A\","
		"\"step\":\"eaten\",\"t_us\":30102,\"t_ms\":30.102}\n"
		"{\"type\":\"done\",\"seq\":10,\"run\":1,\"mode\":\"sync\",\"orders\":3,"
		"\"status\":\"done\","
		"\"elapsed_us\":10000412,\"ideal_us\":10000000,\"elapsed_ms\":10000.412,"
		"\"ideal_ms\":10000.000,\"overhead_ms\":0.412,\"speedup\":1.00,\"sum_ms\":10000.000,"
		"\"max_ms\":4000.000}\n"
		"{\"type\":\"done\",\"seq\":11,\"run\":2,\"mode\":\"async\",\"orders\":3,"
		"\"status\":\"interrupted\",\"elapsed_us\":null,\"ideal_us\":4000000,\"elapsed_ms\":null,"
		"\"ideal_ms\":4000.000,\"overhead_ms\":null,\"speedup\":null,\"sum_ms\":10000.000,"
		"\"max_ms\":4000.000}\n"
		"{\"type\":\"run\",\"run\":2,\"mode\":\"async\",\"orders\":3}\n"
		"{\"type\":\"lagged\",\"dropped\":5,\"missed\":0}\n"
		"{\"type\":\"attached\",\"session\":\"" SESSION "\",\"seq\":9,\"active\":[3,5]}\n"
		"{\"type\":\"runinfo\",\"run\":2,\"mode\":\"async\",\"orders\":3,"
		"\"status\":\"interrupted\","
		"\"elapsed_us\":null,\"ideal_us\":4000000,\"elapsed_ms\":null,\"ideal_ms\":4000.000}\n");
	strbuf_reset(&b);
	report_json_string(&b, "a\"b\\c\nd\x01");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
	/* A run with riders that its deadline cut short says so in JSON too. */
	strbuf_reset(&b);
	d = done_async;
	d.status = RUN_TIMED_OUT;
	d.riders = 2;
	d.deadline_us = 3500000;
	d.collected = 2;
	d.cancelled = 1;
	report_json_done(&b, &d);
	assert_non_null(strstr(b.data, ",\"riders\":2,\"deadline_ms\":3500.000,\"collected\":2,"
	                               "\"cancelled\":1}\n"));
	strbuf_free(&b);
}

/* ---- following a session --------------------------------------------- */

struct fixture {
	struct cli_opts opts;
	struct follow f;
	char err[256];
};

static void follow_start(struct fixture *fx, enum term_output out, const char *words)
{
	assert_int_equal(parse(&fx->opts, NULL, fx->err, words), 0);
	follow_init(&fx->f, &fx->opts, out);
}

#define GO FOLLOW_CONTINUE

static int line(struct fixture *fx, const char *s)
{
	return follow_line(&fx->f, s, strlen(s), 1000);
}

static void test_follow_transcript_json(void **state)
{
	struct fixture fx;
	struct strbuf cmd;
	const char *hello = "HELLO proto=baedal/1 session=" SESSION " server=1.0.0";
	(void)state;

	follow_start(&fx, TERM_JSON, "run async A:30ms B:30ms C:40ms");
	assert_int_equal(follow_hello(&fx.f, hello, strlen(hello)), GO);
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	assert_string_equal(cmd.data, "RUN async A:30ms B:30ms C:40ms\n");
	strbuf_free(&cmd);
	assert_int_equal(line(&fx, "OK run=1 mode=async orders=3"), GO);
	assert_int_equal(line(&fx, "EV seq=1 run=1 order=1 name=A step=delivered t=21"), GO);
	assert_int_equal(line(&fx, "LAGGED dropped=2"), GO);
	assert_int_equal(line(&fx, "NEWKIND x=1"), GO);
	assert_false(follow_finished(&fx.f));
	assert_int_equal(line(&fx, "DONE seq=10 run=1 mode=async orders=3 status=done elapsed=40097 "
	                           "ideal=40000 sum=100000 max=40000"), GO);
	assert_true(follow_finished(&fx.f));
	assert_string_equal(fx.f.buf.data,
		"{\"type\":\"hello\",\"session\":\"" SESSION "\",\"server\":\"1.0.0\"}\n"
		"{\"type\":\"run\",\"run\":1,\"mode\":\"async\",\"orders\":3}\n"
		"{\"type\":\"event\",\"seq\":1,\"run\":1,\"mode\":\"async\",\"order\":1,\"name\":\"A\","
		"\"step\":\"delivered\",\"t_us\":21,\"t_ms\":0.021}\n"
		"{\"type\":\"lagged\",\"dropped\":2,\"missed\":0}\n"
		"{\"type\":\"done\",\"seq\":10,\"run\":1,\"mode\":\"async\",\"orders\":3,"
		"\"status\":\"done\","
		"\"elapsed_us\":40097,\"ideal_us\":40000,\"elapsed_ms\":40.097,\"ideal_ms\":40.000,"
		"\"overhead_ms\":0.097,\"speedup\":2.49,\"sum_ms\":100.000,\"max_ms\":40.000}\n");
	follow_free(&fx.f);
}

static void test_follow_compare_plain(void **state)
{
	struct fixture fx;
	struct strbuf cmd;
	(void)state;

	follow_start(&fx, TERM_PLAIN, "compare A:10ms");
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	support_expect_grouped(cmd.data, "RUN sync A:10ms\nRUN async A:10ms\n");
	strbuf_free(&cmd);
	assert_int_equal(line(&fx, "OK run=8 mode=sync orders=1"), GO);
	assert_int_equal(line(&fx, "OK run=9 mode=async orders=1"), GO);
	assert_int_equal(line(&fx, "DONE seq=3 run=9 mode=async orders=1 status=done elapsed=10100 "
	                           "ideal=10000 sum=10000 max=10000"), GO);
	assert_false(follow_finished(&fx.f));
	assert_int_equal(line(&fx, "DONE seq=4 run=8 mode=sync orders=1 status=interrupted elapsed=- "
	                           "ideal=10000 sum=10000 max=10000"), GO);
	assert_true(follow_finished(&fx.f));
	assert_true(fx.f.interrupted);
	assert_string_equal(fx.f.err, "run 8 was interrupted: the server stopped before it ended");
	strbuf_reset(&fx.f.buf);
	follow_totals(&fx.f);
	assert_string_equal(fx.f.buf.data,
		"\nmode   orders  elapsed     ideal       overhead   speed-up\n"
		"sync   1       interrupted\n"
		"async  1        0.010 s     0.010 s    +0.100 ms  0.99x\n");
	follow_free(&fx.f);
}

static void test_follow_errors(void **state)
{
	struct fixture fx;
	const char *ssh = "SSH-2.0-OpenSSH";
	(void)state;

	follow_start(&fx, TERM_PLAIN, "run sync A:10ms B:10s");
	assert_int_equal(follow_hello(&fx.f, ssh, strlen(ssh)), 1);
	assert_string_equal(fx.f.err,
	                    "127.0.0.1:7878 is not a baedal server (it said: SSH-2.0-OpenSSH)");
	assert_int_equal(line(&fx, "ERR bad_duration B:ten: 'ten' is not a duration"), 1);
	assert_string_equal(fx.f.err, "server said: ERR bad_duration B:ten: 'ten' is not a duration");
	assert_int_equal(line(&fx, "EV seq=1 run=1"), 1);
	assert_non_null(strstr(fx.f.err, "protocol error"));
	assert_int_equal(line(&fx, "BYE reason=shutdown"), GO);
	assert_int_equal(follow_eof(&fx.f), 1);
	assert_string_equal(fx.f.err,
		"connection closed before the run ended (server said BYE reason=shutdown)");
	follow_free(&fx.f);
}

static void test_follow_attach(void **state)
{
	struct fixture fx;
	struct strbuf cmd;
	(void)state;

	follow_start(&fx, TERM_PLAIN, "attach " SESSION " --since 7");
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	assert_string_equal(cmd.data, "ATTACH " SESSION " 7\n");
	strbuf_free(&cmd);
	assert_int_equal(line(&fx, "RUNINFO run=4 mode=sync orders=2 status=running elapsed=- "
	                           "ideal=20000 sum=20000 max=10000 age=30 history=full"), GO);
	assert_int_equal(line(&fx, "OK attached session=" SESSION " seq=9 active=4,5"), GO);
	assert_int_equal(fx.f.nwaits, 2);
	assert_int_equal(line(&fx, "EV seq=8 run=4 order=1 name=A step=delivered t=5"), GO);
	assert_string_equal(fx.f.buf.data, "sync  run=4  A  delivered      0.005 ms\n");
	assert_int_equal(line(&fx, "DONE seq=10 run=4 mode=sync orders=2 status=done elapsed=20100 "
	                           "ideal=20000 sum=20000 max=10000"), GO);
	assert_false(follow_finished(&fx.f));
	assert_int_equal(line(&fx, "DONE seq=11 run=5 mode=async orders=1 status=done elapsed=10100 "
	                           "ideal=10000 sum=10000 max=10000"), GO);
	assert_true(follow_finished(&fx.f));
	follow_free(&fx.f);

	/* Nothing active: done once the replay is over, which the idle end tells. */
	follow_start(&fx, TERM_JSON, "attach " SESSION);
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	strbuf_free(&cmd);
	assert_int_equal(line(&fx, "OK attached session=" SESSION " seq=0 active=-"), GO);
	assert_true(fx.f.idle_deadline_us > 0);
	assert_false(follow_finished(&fx.f));
	assert_int_equal(follow_eof(&fx.f), 0);
	assert_string_equal(fx.f.buf.data,
		"{\"type\":\"attached\",\"session\":\"" SESSION "\",\"seq\":0,\"active\":[]}\n");
	follow_free(&fx.f);
}

static void test_follow_runs(void **state)
{
	struct fixture fx;
	(void)state;

	follow_start(&fx, TERM_PLAIN, "runs " SESSION);
	assert_int_equal(follow_eof(&fx.f), 1);
	assert_string_equal(fx.f.err, "connection closed before the server answered");
	follow_free(&fx.f);
	follow_start(&fx, TERM_PLAIN, "runs " SESSION);
	{
		struct strbuf cmd;
		strbuf_init(&cmd);
		follow_commands(&fx.f, &cmd);
		assert_string_equal(cmd.data, "RUNS " SESSION "\n");
		strbuf_free(&cmd);
	}
	assert_int_equal(line(&fx, "RUNINFO run=1 mode=async orders=3 status=done elapsed=40097 "
	                           "ideal=40000"), GO);
	assert_int_equal(line(&fx, "OK runs=1"), GO);
	assert_true(follow_finished(&fx.f));
	assert_string_equal(fx.f.buf.data,
		"run  mode   orders  status       elapsed     ideal\n"
		"1    async  3       done          0.040 s     0.040 s\n");
	follow_free(&fx.f);
}

static void test_term_choices(void **state)
{
	(void)state;
	assert_int_equal(term_choose_output(0, 0, 1, "xterm"), TERM_LIVE);
	assert_int_equal(term_choose_output(0, 0, 1, NULL), TERM_LIVE);
	assert_int_equal(term_choose_output(0, 0, 0, "xterm"), TERM_PLAIN);
	assert_int_equal(term_choose_output(0, 1, 1, "xterm"), TERM_PLAIN);
	assert_int_equal(term_choose_output(0, 0, 1, "dumb"), TERM_PLAIN);
	assert_int_equal(term_choose_output(1, 0, 1, "xterm"), TERM_JSON);
	assert_true(term_use_color(0, NULL, "xterm"));
	assert_true(term_use_color(0, "", "xterm"));
	assert_false(term_use_color(0, "1", "xterm"));
	assert_false(term_use_color(1, NULL, "xterm"));
	assert_false(term_use_color(0, NULL, "dumb"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_commands),
		cmocka_unit_test(test_cli_server),
		cmocka_unit_test(test_cli_usage_errors),
		cmocka_unit_test(test_cli_format_run),
		cmocka_unit_test(test_remote_parse_addr),
		cmocka_unit_test(test_remote_lines),
		cmocka_unit_test(test_report_totals),
		cmocka_unit_test(test_report_runs_table),
		cmocka_unit_test(test_report_numbers),
		cmocka_unit_test(test_report_plain),
		cmocka_unit_test(test_report_json),
		cmocka_unit_test(test_follow_transcript_json),
		cmocka_unit_test(test_follow_compare_plain),
		cmocka_unit_test(test_follow_errors),
		cmocka_unit_test(test_follow_attach),
		cmocka_unit_test(test_follow_runs),
		cmocka_unit_test(test_term_choices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
