/* Unit tests of the client's side of cooking: compare --cook and the
 * offload mode on the command line, the '~' of the live view, the cooked
 * events in plain and NDJSON output, and the totals' cook columns. */
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
#include "client/model.h"
#include "client/report.h"
#include "client/strbuf.h"
#include "client/term.h"
#include "client/view.h"
#include "tests/support.h"

#define SESSION "9f1c2b7e4d3a5f60718293a4b5c6d7e8"

/* The example, A:200ms:3s B:200ms:3s C:200ms:4s, as each mode's
 * DONE reports it. */
static const struct proto_done cook_sync = {
	.seq = 20, .run = 1, .mode = MODE_SYNC, .orders = 3, .status = RUN_DONE,
	.elapsed_us = 10601234, .ideal_us = 10600000, .sum_us = 10000000, .max_us = 4000000,
	.cook_us = 600000, .blocked_us = 0, .caused_us = 0,
};
static const struct proto_done cook_async = {
	.seq = 21, .run = 2, .mode = MODE_ASYNC, .orders = 3, .status = RUN_DONE,
	.elapsed_us = 4602345, .ideal_us = 4600000, .sum_us = 10000000, .max_us = 4000000,
	.cook_us = 600000, .blocked_us = 601499, .caused_us = 200500,
};
static const struct proto_done cook_offload = {
	.seq = 22, .run = 3, .mode = MODE_OFFLOAD, .orders = 3, .status = RUN_DONE,
	.elapsed_us = 4401000, .ideal_us = 4400000, .sum_us = 10000000, .max_us = 4000000,
	.cook_us = 600000, .blocked_us = 0, .caused_us = 0,
};

/* ---- command line ---------------------------------------------------- */

static int parse(struct cli_opts *o, char *err, const char *words)
{
	static char store[PROTO_MAX_LINE + 64];
	static char *argv[64];
	int argc = 0;

	snprintf(store, sizeof store, "baedal%s%s", *words ? " " : "", words);
	for (char *p = store; p && argc < 63; argc++) {
		argv[argc] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
	}
	argv[argc] = NULL;
	return cli_parse(argc, argv, NULL, o, err, 256);
}

static void test_cli_compare_cook(void **state)
{
	struct cli_opts o;
	char err[256];
	(void)state;

	assert_int_equal(parse(&o, err, "compare --cook A:200ms:3s B:1s"), 0);
	assert_int_equal(o.command, CLI_COMPARE);
	assert_true(o.cook);
	assert_int_equal(o.nargs, 2);
	assert_string_equal(o.args[0], "A:200ms:3s");
	assert_string_equal(o.args[1], "B:1s");
	/* An option: before the command word too. */
	assert_int_equal(parse(&o, err, "--cook compare A:20ms:30ms"), 0);
	assert_true(o.cook);
	assert_int_equal(parse(&o, err, "compare A:1s B:2s"), 0);
	assert_false(o.cook);
	assert_int_equal(parse(&o, err, "demo --cook"), 0);
	assert_int_equal(o.command, CLI_DEMO);
	assert_true(o.cook);
	assert_int_equal(o.nargs, 3);
	assert_string_equal(o.args[0], "A:10ms:100ms");
	assert_string_equal(o.args[2], "C:450ms:1s");
	assert_int_equal(parse(&o, err, "demo"), 0);
	assert_string_equal(o.args[0], "A:3s");
	assert_int_equal(parse(&o, err, "run offload A:200ms:3s"), 0);
	assert_int_equal(o.command, CLI_RUN);
	assert_int_equal(o.mode, MODE_OFFLOAD);
	assert_int_equal(parse(&o, err, "gen offload 100 1s"), 0);
	assert_int_equal(o.command, CLI_GEN);
	assert_int_equal(o.mode, MODE_OFFLOAD);
}

static void test_cli_compare_cook_errors(void **state)
{
	static const struct { const char *words, *err; } cases[] = {
		{ "compare --cook A:1s B:2s", "compare --cook needs an order with a cook: "
		                              "NAME:COOK:DURATION, such as A:200ms:3s" },
		{ "compare --cook", "no orders: give NAME:DURATION, such as A:3s B:250ms, "
		                    "or NAME:COOK:DURATION, such as A:200ms:3s" },
		{ "run sync --cook A:1ms:1s", "--cook goes with compare and demo only" },
		{ "gen offload 5 1s --cook", "--cook goes with compare and demo only" },
		{ "runs --cook", "--cook goes with compare and demo only" },
		{ "demo --cook A:1ms:1s", "demo takes no arguments" },
		{ "run cook A:1ms:1s", "the mode must be sync, async or offload, not 'cook'" },
	};
	struct cli_opts o;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(parse(&o, err, cases[i].words), -1);
		assert_string_equal(err, cases[i].err);
	}
}

/* ---- following compare --cook ---------------------------------------- */

struct fixture {
	struct cli_opts opts;
	struct follow f;
	char err[256];
};

static int line(struct fixture *fx, const char *s)
{
	return follow_line(&fx->f, s, strlen(s), 1000);
}

static void test_follow_compare_cook(void **state)
{
	struct fixture fx;
	struct strbuf cmd;
	(void)state;

	assert_int_equal(parse(&fx.opts, fx.err, "compare --cook A:20ms:30ms B:40ms"), 0);
	follow_init(&fx.f, &fx.opts, TERM_PLAIN);
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	/* The three runs (the client sends each once the one before ended),
	 * then STATS, for the loop's lag under the totals. */
	assert_true(cmd.len > 6 && strcmp(cmd.data + cmd.len - 6, "STATS\n") == 0);
	cmd.data[cmd.len - 6] = '\0';
	support_expect_grouped(cmd.data, "RUN sync A:20ms:30ms B:40ms\nRUN async A:20ms:30ms B:40ms\n"
	                              "RUN offload A:20ms:30ms B:40ms\n");
	strbuf_free(&cmd);
	assert_int_equal(line(&fx, "OK run=1 mode=sync orders=2"), FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "OK run=2 mode=async orders=2"), FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "OK run=3 mode=offload orders=2"), FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "EV seq=1 run=3 order=1 name=A step=cooked t=20100"),
	                 FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "DONE seq=9 run=3 mode=offload orders=2 status=done "
	                           "elapsed=50200 ideal=50000 sum=70000 max=40000 cook=20000 "
	                           "blocked=0 caused=0"), FOLLOW_CONTINUE);
	assert_false(follow_finished(&fx.f));
	/* Columns as wide as "offload" from the first line on. */
	assert_string_equal(fx.f.buf.data,
		"sync    run=1  started  2 orders\n"
		"async   run=2  started  2 orders\n"
		"offload run=3  started  2 orders\n"
		"offload run=3  A  cooked        20.100 ms\n"
		"offload run=3  done  2 orders  elapsed 50.200 ms  ideal 50.000 ms  overhead +0.200 ms"
		"  speed-up 1.79x  cook 20.000 ms  blocked 0.000 ms  caused 0.000 ms\n");
	strbuf_reset(&fx.f.buf);
	for (int run = 1; run <= 2; run++) {
		char done[256];
		snprintf(done, sizeof done, "DONE seq=%d run=%d mode=%s orders=2 status=done "
		         "elapsed=70200 ideal=70000 sum=70000 max=40000 cook=20000 blocked=0 caused=0",
		         9 + run, run, run == 1 ? "sync" : "async");
		assert_int_equal(line(&fx, done), FOLLOW_CONTINUE);
	}
	assert_false(follow_finished(&fx.f));
	/* STATS's answer: the lag the server measured goes under the totals. */
	assert_int_equal(line(&fx, "STAT loop uptime=6210000 busy=1 iterations=1 stalls=1 "
	                           "stalled=452000 warn_stall=100000"), FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "STAT lag count=90 p50=120 p99=1200 p999=452000 max=452000 "
	                           "recent_count=0 recent_p50=0 recent_p99=0 recent_max=0"),
	                 FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "STALLED id=7 start=1 ago=2 held=452000 cause=cook run=2 "
	                           "order=1"), FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "OK stats"), FOLLOW_CONTINUE);
	assert_true(follow_finished(&fx.f));
	strbuf_reset(&fx.f.buf);
	follow_totals(&fx.f);
	assert_non_null(strstr(fx.f.buf.data, "\nLoop lag since the server started 6.21 s ago: "
	                                      "max 452 ms, p99 1.20 ms.\n"));
	follow_free(&fx.f);

	/* Plain compare is unchanged: two runs, sync and async. */
	assert_int_equal(parse(&fx.opts, fx.err, "compare A:20ms:30ms"), 0);
	follow_init(&fx.f, &fx.opts, TERM_PLAIN);
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	support_expect_grouped(cmd.data, "RUN sync A:20ms:30ms\nRUN async A:20ms:30ms\n");
	strbuf_free(&cmd);
	follow_free(&fx.f);
}

static void test_follow_cooked_json(void **state)
{
	struct fixture fx;
	(void)state;

	assert_int_equal(parse(&fx.opts, fx.err, "--json run async A:20ms:30ms"), 0);
	follow_init(&fx.f, &fx.opts, TERM_JSON);
	fx.f.nexpect = 1;
	fx.f.expect[0].kind = FOLLOW_REPLY_RUN;
	fx.f.expect[0].mode = MODE_ASYNC;
	assert_int_equal(line(&fx, "OK run=4 mode=async orders=1"), FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "EV seq=1 run=4 order=1 name=A step=cooked t=20500"),
	                 FOLLOW_CONTINUE);
	assert_int_equal(line(&fx, "DONE seq=4 run=4 mode=async orders=1 status=done elapsed=50600 "
	                           "ideal=50000 sum=30000 max=30000 cook=20000 blocked=20400 "
	                           "caused=1500"), FOLLOW_CONTINUE);
	assert_true(follow_finished(&fx.f));
	assert_string_equal(fx.f.buf.data,
		"{\"type\":\"run\",\"run\":4,\"mode\":\"async\",\"orders\":1}\n"
		"{\"type\":\"event\",\"seq\":1,\"run\":4,\"mode\":\"async\",\"order\":1,\"name\":\"A\","
		"\"step\":\"cooked\",\"t_us\":20500,\"t_ms\":20.500}\n"
		"{\"type\":\"done\",\"seq\":4,\"run\":4,\"mode\":\"async\",\"orders\":1,"
		"\"status\":\"done\",\"elapsed_us\":50600,\"ideal_us\":50000,\"elapsed_ms\":50.600,"
		"\"ideal_ms\":50.000,\"overhead_ms\":0.600,\"speedup\":0.99,\"sum_ms\":30.000,"
		"\"max_ms\":30.000,\"cook_ms\":20.000,\"blocked_ms\":20.400,\"caused_ms\":1.500}\n");
	follow_free(&fx.f);
}

/* ---- the totals ------------------------------------------------------ */

static void test_report_totals_cook(void **state)
{
	struct proto_done rows[3] = { cook_sync, cook_async, cook_offload };
	struct strbuf b;
	(void)state;

	strbuf_init(&b);
	report_totals(&b, rows, 3);
	/* Whole ms, within 80 columns; sync's elapsed is the baseline. */
	assert_string_equal(b.data,
		"mode     orders  elapsed   ideal     overhead  vs sync  cook    blocked  caused\n"
		"sync     3       10.601 s  10.600 s     +1 ms    1.00x  600 ms     0 ms    0 ms\n"
		"async    3        4.602 s   4.600 s     +2 ms    2.30x  600 ms   601 ms  201 ms\n"
		"offload  3        4.401 s   4.400 s     +1 ms    2.41x  600 ms     0 ms    0 ms\n"
		"vs sync: how many times sooner than the sync run each run ended.\n"
		"async's cooks held the loop 601 ms: meals due then ended up to 201 ms late.\n"
		"offload cooked on worker threads: the loop stayed free, no meal was late.\n");
	for (const char *l = b.data; *l; l += strcspn(l, "\n") + 1)
		assert_true(strcspn(l, "\n") < 80);
	/* A slow machine's figures (seconds late, four-digit overheads) still
	 * fit: the gaps between columns give way. */
	strbuf_reset(&b);
	rows[0].elapsed_us = 12677000;
	rows[1].elapsed_us = 13074000;
	rows[1].blocked_us = 12620000;
	rows[1].caused_us = 11379000;
	report_totals(&b, rows, 3);
	for (const char *l = b.data; *l; l += strcspn(l, "\n") + 1)
		if (strcspn(l, "\n") >= 80)
			fail_msg("wider than 79 columns: %.*s", (int)strcspn(l, "\n"), l);
	assert_non_null(strstr(b.data, " 11379 ms\n"));
	rows[0] = cook_sync;
	rows[1] = cook_async;
	/* Nothing came due while async cooked: it says so; no sync, no baseline. */
	strbuf_reset(&b);
	rows[1].caused_us = 0;
	report_totals(&b, rows + 1, 1);
	assert_non_null(strstr(b.data, "async's cooks held the loop 601 ms, but no meal came due "
	                                "then: none was late.\n"));
	assert_null(strstr(b.data, "vs sync"));
	/* Its heads two spaces apart, "speed-up" as "vs sync" would be; a
	 * row cut short lines up with the others. */
	strbuf_reset(&b);
	rows[0].status = RUN_TIMED_OUT;
	rows[2] = cook_offload;
	report_totals(&b, rows, 3);
	assert_non_null(strstr(b.data, "overhead  speed-up  cook"));
	assert_non_null(strstr(b.data, "\nsync     3       timed_out\n"));
	rows[0] = cook_sync;
	/* Without cooking, the table of before: six columns, no notes. */
	strbuf_reset(&b);
	rows[0].cook_us = rows[1].cook_us = 0;
	report_totals(&b, rows, 2);
	assert_string_equal(b.data,
		"mode   orders  elapsed     ideal       overhead   speed-up\n"
		"sync   3       10.601 s    10.600 s    +1.234 ms  0.94x\n"
		"async  3        4.602 s     4.600 s    +2.345 ms  2.17x\n");
	strbuf_free(&b);
}

/* ---- the model and the live view ------------------------------------- */

static void event(struct model *m, uint64_t run, uint32_t order, enum proto_step step,
                  uint64_t t_us)
{
	struct proto_event ev = { .seq = 1, .run = run, .order = order, .step = step, .t_us = t_us };

	ev.name[0] = (char)('A' + order - 1);
	assert_int_equal(model_apply_event(m, &ev, (int64_t)t_us + 100), 0);
}

static void test_model_cook_orders(void **state)
{
	char *orders[] = { (char *)"A:200ms:3s", (char *)"B:3s", (char *)"C:200ms:4s" };
	struct model m;
	struct model_run *r;
	(void)state;

	model_init(&m, 1);
	r = model_add_run(&m, 1, MODE_SYNC, 3, 0);
	model_set_orders(r, orders, 3);
	assert_int_equal(r->orders[0].cook_us, 200000);
	assert_int_equal(r->orders[0].meal_us, 3000000);
	assert_int_equal(r->orders[1].cook_us, 0);
	assert_int_equal(r->orders[1].meal_us, 3000000);
	assert_int_equal(r->cook_us, 400000);
	assert_string_equal(r->names[2], "C");
	assert_int_equal(r->ideal_us, 10400000);            /* every cook and meal in turn */
	r = model_add_run(&m, 2, MODE_ASYNC, 3, 0);
	model_set_orders(r, orders, 3);
	assert_int_equal(r->ideal_us, 4400000);             /* C's cook waits for A's */
	r = model_add_run(&m, 3, MODE_OFFLOAD, 3, 0);
	model_set_orders(r, orders, 3);
	assert_int_equal(r->ideal_us, 4200000);             /* cooks side by side */
	/* A cooked event is a step like the others. */
	event(&m, 3, 1, STEP_COOKED, 200100);
	assert_true(r->orders[0].seen & (1u << STEP_COOKED));
	assert_int_equal(r->orders[0].t_us[STEP_COOKED], 200100);
	assert_int_equal(r->started, 1);
	model_free(&m);
}

static void render(const struct model *m, int64_t now_us, char *out, size_t cap)
{
	struct view_opts o = { .width = 80, .height = 24, .color = 0 };
	assert_true(support_render_view(m, now_us, &o, out, cap) >= 0);
}

/* compare --cook A:1s:3s B:1s:3s C:1s:4s, 1.5 s in: sync cooked A and
 * waits to cook B; async cooked A on its loop and now cooks B; offload's
 * pool cooked A and B side by side and C after them. */
static void cook_model(struct model *m)
{
	char *orders[] = { (char *)"A:1s:3s", (char *)"B:1s:3s", (char *)"C:1s:4s" };

	model_init(m, 1);
	for (uint64_t run = 1; run <= 3; run++)
		model_set_orders(model_add_run(m, run, (int)run - 1, 3, 0), orders, 3);
	event(m, 1, 1, STEP_COOKED, 1000000);
	event(m, 1, 1, STEP_DELIVERED, 1000000);
	event(m, 2, 1, STEP_COOKED, 1000000);
	event(m, 2, 1, STEP_DELIVERED, 1000000);
	event(m, 3, 1, STEP_COOKED, 1000000);
	event(m, 3, 1, STEP_DELIVERED, 1000000);
	event(m, 3, 2, STEP_COOKED, 1000000);
	event(m, 3, 2, STEP_DELIVERED, 1000000);
}

static void test_view_cooking(void **state)
{
	struct model m;
	char frame[8192];
	(void)state;

	cook_model(&m);
	render(&m, 1500000, frame, sizeof frame);
	/* The axis spans sync's 13 s in 51 cells: a cell is 255 ms. Every row
	 * ends at now's cell; '^' marks async's cooks holding the loop. */
	assert_string_equal(frame,
		"sync     run 1  3 orders  clock 1.500 s\n"
		"  A     1s:3s  [~~~===                                             ]  eating\n"
		"  B     1s:3s  [......                                             ]  waiting\n"
		"  C     1s:4s  [......                                             ]  waiting\n"
		"async    run 2  3 orders  clock 1.500 s\n"
		"  A     1s:3s  [~~~===                                             ]  eating\n"
		"  B     1s:3s  [...~~~                                             ]  cooking\n"
		"  C     1s:4s  [......                                             ]  waiting\n"
		"offload  run 3  3 orders  clock 1.500 s\n"
		"  A     1s:3s  [~~~===                                             ]  eating\n"
		"  B     1s:3s  [~~~===                                             ]  eating\n"
		"  C     1s:4s  [~~~~~~                                             ]  cooking\n"
		"            0 s ^^^^^^                                               13.000 s\n"
		"  . waiting  ~ cooking  = eating  # collected  ^ a cook held the loop\n");
	/* Offload's C was cooked at 2 s: it waited 1 s for a worker, then cooked. */
	event(&m, 3, 3, STEP_COOKED, 2000000);
	event(&m, 3, 3, STEP_DELIVERED, 2000000);
	render(&m, 2000000, frame, sizeof frame);
	assert_non_null(strstr(frame, "  C     1s:4s  [...~~~~=           "));
	model_free(&m);
}

static void test_view_cooking_color(void **state)
{
	struct view_opts o = { .width = 80, .height = 24, .color = 1 };
	struct model m;
	struct strbuf b;
	(void)state;

	cook_model(&m);
	strbuf_init(&b);
	view_render(&m, 1500000, &o, &b);
	assert_non_null(strstr(b.data, "\033[35m~~~~"));     /* cooking has a colour of its own */
	assert_non_null(strstr(b.data, "\033[35mcooking"));
	strbuf_free(&b);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_compare_cook),
		cmocka_unit_test(test_cli_compare_cook_errors),
		cmocka_unit_test(test_follow_compare_cook),
		cmocka_unit_test(test_follow_cooked_json),
		cmocka_unit_test(test_report_totals_cook),
		cmocka_unit_test(test_model_cook_orders),
		cmocka_unit_test(test_view_cooking),
		cmocka_unit_test(test_view_cooking_color),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
