/* What ATTACH tells of a session's runs, on the wire and in the client's
 * model, and the run's clock, which never moves back. */
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
#include "common/protocol.h"

#define SESSION "9f1c2b7e4d3a5f60718293a4b5c6d7e8"
#define GO FOLLOW_CONTINUE

static int parse_line(const char *s, struct server_line *sl)
{
	return proto_parse_server_line(s, strlen(s), sl);
}

/* A RUNINFO line with ATTACH's keys, formatted then parsed back. */
static void test_runstate_round_trip(void **state)
{
	struct proto_done d = { .run = 7, .mode = MODE_ASYNC, .orders = 1000000,
	                        .status = RUN_RUNNING, .elapsed_us = -1, .ideal_us = 2000000,
	                        .sum_us = 5, .max_us = 2000000, .cook_us = 3, .blocked_us = 4,
	                        .caused_us = 5 };
	struct proto_runstate st = { .age_us = 1500, .partial = 1, .gen = 1, .gen_lo_us = 500000,
	                             .gen_hi_us = 2000000, .gen_prefix = "p_" };
	char buf[PROTO_MAX_LINE];
	struct server_line sl;
	(void)state;

	int n = proto_format_runstate(buf, sizeof buf - 1, &d, &st);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "RUNINFO run=7 mode=async orders=1000000 status=running elapsed=- "
	                         "ideal=2000000 sum=5 max=2000000 age=1500 history=partial cook=3 "
	                         "blocked=4 caused=5 gen=500000..2000000 prefix=p_\n");
	assert_int_equal(proto_parse_server_line(buf, (size_t)n - 1, &sl), 0);
	assert_int_equal(sl.kind, LINE_RUNINFO);
	assert_true(sl.state.present && sl.state.partial && sl.state.gen);
	assert_int_equal(sl.state.age_us, 1500);
	assert_int_equal(sl.state.gen_lo_us, 500000);
	assert_int_equal(sl.state.gen_hi_us, 2000000);
	assert_string_equal(sl.state.gen_prefix, "p_");
	assert_int_equal(sl.u.done.orders, 1000000);
	assert_int_equal(sl.u.done.caused_us, 5);

	/* Not started yet: no age. A RUN's: no gen. RUNS's RUNINFO: no state. */
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=running elapsed=- "
	                            "ideal=3 sum=3 max=2 age=- history=full", &sl), 0);
	assert_true(sl.state.present && !sl.state.gen && !sl.state.partial);
	assert_int_equal(sl.state.age_us, -1);
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3", &sl), 0);
	assert_false(sl.state.present);

	/* Malformed ATTACH keys are refused, not half read. */
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3 sum=3 max=2 age=x history=full", &sl), -1);
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3 sum=3 max=2 age=1 history=some", &sl), -1);
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3 age=1 history=full", &sl), -1);
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3 sum=3 max=2 age=1 history=full gen=5..x prefix=o", &sl),
	                 -1);
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3 sum=3 max=2 age=1 history=full gen=5..6 prefix=a:b", &sl),
	                 -1);
	assert_int_equal(parse_line("RUNINFO run=1 mode=sync orders=2 status=done elapsed=9 "
	                            "ideal=3 sum=3 max=2 age=1 history=full gen=5.6 prefix=o", &sl),
	                 -1);
}

static void test_order_round_trip(void **state)
{
	struct proto_order o = { .run = 3, .order = 2, .name = "B", .meal_us = 3000000,
	                         .cook_us = 200000 };
	char buf[PROTO_MAX_LINE];
	struct server_line sl;
	(void)state;

	int n = proto_format_order(buf, sizeof buf - 1, &o);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "ORDER run=3 order=2 name=B meal=3000000 cook=200000\n");
	assert_int_equal(proto_parse_server_line(buf, (size_t)n - 1, &sl), 0);
	assert_int_equal(sl.kind, LINE_ORDER);
	assert_int_equal(sl.u.order.run, 3);
	assert_int_equal(sl.u.order.order, 2);
	assert_string_equal(sl.u.order.name, "B");
	assert_int_equal(sl.u.order.meal_us, 3000000);
	assert_int_equal(sl.u.order.cook_us, 200000);
	assert_int_equal(parse_line("ORDER run=3 order=0 name=B meal=1 cook=0", &sl), -1);
	assert_int_equal(parse_line("ORDER run=3 order=1 name=B:C meal=1 cook=0", &sl), -1);
	assert_int_equal(parse_line("ORDER run=3 order=1 name=B meal=1", &sl), -1);
	assert_int_equal(parse_line("ORDER run=3 order=1 name=B meal=-1 cook=0", &sl), -1);
	assert_int_equal(proto_format_order(buf, 10, &o), -1);
}

struct fixture {
	struct cli_opts opts;
	struct follow f;
	char err[256];
};

static void follow_attach(struct fixture *fx, const char *since)
{
	static char *argv[8];
	static char args[4][64];
	int argc = 0;

	snprintf(args[0], sizeof args[0], "baedal");
	snprintf(args[1], sizeof args[1], "attach");
	snprintf(args[2], sizeof args[2], SESSION);
	argv[argc++] = args[0];
	argv[argc++] = args[1];
	argv[argc++] = args[2];
	if (since) {
		snprintf(args[3], sizeof args[3], "--since=%s", since);
		argv[argc++] = args[3];
	}
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, NULL, &fx->opts, fx->err, sizeof fx->err), 0);
	follow_init(&fx->f, &fx->opts, TERM_LIVE);
}

static int line_at(struct fixture *fx, const char *s, int64_t now_us)
{
	return follow_line(&fx->f, s, strlen(s), now_us);
}

/* The live view asks for every line held whatever --since says, and draws
 * every order from the RUNINFO and ORDER lines: name, meal, its start. */
static void test_attach_builds_the_runs(void **state)
{
	struct fixture fx;
	struct strbuf cmd;
	const struct model_run *r;
	(void)state;

	follow_attach(&fx, "3");
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	assert_string_equal(cmd.data, "ATTACH " SESSION " 0\n");
	strbuf_free(&cmd);
	assert_int_equal(line_at(&fx, "RUNINFO run=1 mode=sync orders=2 status=running elapsed=- "
	                              "ideal=4000000 sum=4000000 max=3000000 age=1500000 history=full",
	                         10000000), GO);
	assert_int_equal(line_at(&fx, "ORDER run=1 order=1 name=A meal=1000000 cook=0", 10000000), GO);
	assert_int_equal(line_at(&fx, "ORDER run=1 order=2 name=Bee meal=3000000 cook=0", 10000000),
	                 GO);
	assert_int_equal(line_at(&fx, "RUNINFO run=2 mode=async orders=3 status=done elapsed=2000100 "
	                              "ideal=2000000 sum=3000000 max=2000000 age=9000000 "
	                              "history=partial gen=500000..2000000 prefix=g", 10000000), GO);
	assert_int_equal(line_at(&fx, "OK attached session=" SESSION " seq=9 active=1", 10000000), GO);
	assert_int_equal(line_at(&fx, "EV seq=1 run=1 order=1 name=A step=delivered t=10",
	                         10000100), GO);

	r = model_find_run_const(&fx.f.model, 1);
	assert_non_null(r);
	assert_int_equal(r->mode, MODE_SYNC);
	assert_int_equal(r->norders, 2);
	assert_true(r->anchored && !r->done && !r->partial);
	assert_int_equal(r->start_local_us, 10000000 - 1500000);
	assert_string_equal(r->names[0], "A");
	assert_string_equal(r->names[1], "Bee");
	assert_int_equal(r->orders[1].meal_us, 3000000);
	assert_true(r->orders[0].seen & (1u << STEP_DELIVERED));
	assert_int_equal(r->name_width, 3);
	assert_int_equal(model_run_clock_us(r, 10000000), 1500000);

	r = model_find_run_const(&fx.f.model, 2);
	assert_non_null(r);
	assert_true(r->done && r->partial);
	assert_int_equal(r->final.elapsed_us, 2000100);
	assert_string_equal(r->names[2], "g3");
	assert_int_equal(r->orders[0].meal_us, 500000);
	assert_int_equal(r->orders[2].meal_us, 2000000);
	assert_int_equal(model_run_clock_us(r, 99000000), 2000100);
	assert_int_equal(fx.f.nwaits, 1);
	follow_free(&fx.f);

	/* A printed output asks for what comes after --since only. */
	fx.opts.since = 0;
	follow_attach(&fx, "3");
	fx.f.out = TERM_PLAIN;
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	assert_string_equal(cmd.data, "ATTACH " SESSION " 3\n");
	strbuf_free(&cmd);
	follow_free(&fx.f);
}

/* A client reading lines late (a large run's backlog) runs its local clock
 * ahead of the server: the clock holds at what the run surely took (its
 * ideal, the events seen, a delivered order's meal), never steps back,
 * and ends on the exact elapsed. */
static void test_clock_never_moves_back(void **state)
{
	static const int64_t at[] = { 500000, 1999000, 2145000, 2150000, 2200000, 2300000 };
	struct model m;
	struct model_run *r;
	struct proto_event ev = { .run = 1, .order = 1, .name = "A", .step = STEP_DELIVERED };
	struct proto_done d = { .run = 1, .mode = MODE_ASYNC, .orders = 1, .status = RUN_DONE,
	                        .elapsed_us = 2072000, .ideal_us = 2000000 };
	int64_t shown[6], last = 0;
	(void)state;

	model_init(&m, 1);
	r = model_add_run(&m, 1, MODE_ASYNC, 1, 0);
	assert_non_null(r);
	r->orders[0].meal_us = 2000000;
	r->ideal_us = 2000000;
	r->floor_us = 2000000;
	shown[0] = model_run_clock_us(r, at[0]);
	shown[1] = model_run_clock_us(r, at[1]);
	shown[2] = model_run_clock_us(r, at[2]);          /* past the ideal, nothing new */
	ev.seq = 1;
	ev.t_us = 40000;                                    /* delivered late: eats to 2.04 s */
	assert_int_equal(model_apply_event(&m, &ev, at[3]), 0);
	shown[3] = model_run_clock_us(r, at[3]);
	ev.seq = 2;
	ev.step = STEP_EATEN;
	ev.t_us = 2060000;
	assert_int_equal(model_apply_event(&m, &ev, at[4]), 0);
	shown[4] = model_run_clock_us(r, at[4]);
	assert_int_equal(model_apply_done(&m, &d, at[5]), 0);
	shown[5] = model_run_clock_us(r, at[5]);
	assert_int_equal(shown[0], 500000);
	assert_int_equal(shown[1], 1999000);
	assert_int_equal(shown[2], 2000000);
	assert_int_equal(shown[3], 2040000);
	assert_int_equal(shown[4], 2060000);
	assert_int_equal(shown[5], 2072000);
	for (int i = 0; i < 6; i++) {
		assert_true(shown[i] >= last);
		last = shown[i];
	}
	model_free(&m);
}

/* A replay's run, described by its RUNINFO, starts at its OK; its clock
 * runs at the speed asked (twice local time at 2, half at 0.5), held at
 * what the run surely took, never back, and the DONE ends the command. */
static void replay_at(const char *speed, const int64_t *at, const int64_t *want)
{
	char *argv[] = { "baedal", "replay", "7", "--speed", (char *)speed, NULL };
	struct fixture fx;
	struct strbuf cmd;
	const struct model_run *r;
	int64_t last = 0;

	assert_int_equal(cli_parse(5, argv, NULL, &fx.opts, fx.err, sizeof fx.err), 0);
	follow_init(&fx.f, &fx.opts, TERM_LIVE);
	strbuf_init(&cmd);
	follow_commands(&fx.f, &cmd);
	assert_non_null(strstr(cmd.data, "REPLAY 7 speed="));
	strbuf_free(&cmd);
	assert_int_equal(line_at(&fx, "RUNINFO run=7 mode=async orders=1 status=running elapsed=- "
	                              "ideal=1000000 sum=1000000 max=1000000 age=0 history=full "
	                              "replay=1", 1000), GO);
	assert_int_equal(line_at(&fx, "ORDER run=7 order=1 name=A meal=1000000 cook=0 replay=1",
	                         1000), GO);
	assert_int_equal(line_at(&fx, "OK replay run=7 speed=2.000 events=2", 5000000), GO);
	assert_false(follow_finished(&fx.f));
	r = model_find_run_const(&fx.f.model, 7);
	assert_non_null(r);
	for (int i = 0; i < 3; i++) {
		int64_t shown = model_run_clock_us(r, at[i]);
		assert_int_equal(shown, want[i]);
		assert_true(shown >= last);
		last = shown;
	}
	assert_int_equal(line_at(&fx, "DONE seq=0 run=7 mode=async orders=1 status=done "
	                              "elapsed=1000050 ideal=1000000 sum=1000000 max=1000000 replay=1",
	                         at[2]), GO);
	assert_true(follow_finished(&fx.f));
	assert_int_equal(model_run_clock_us(r, at[2] + 9000000), 1000050);
	follow_free(&fx.f);
}

static void test_replay_clock_at_its_speed(void **state)
{
	static const int64_t fast_at[] = { 5100000, 5400000, 5600000 };
	static const int64_t fast[] = { 200000, 800000, 1000000 };
	static const int64_t slow_at[] = { 5100000, 6000000, 9000000 };
	static const int64_t slow[] = { 50000, 500000, 1000000 };
	(void)state;

	replay_at("2", fast_at, fast);
	replay_at("0.5", slow_at, slow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runstate_round_trip),
		cmocka_unit_test(test_order_round_trip),
		cmocka_unit_test(test_attach_builds_the_runs),
		cmocka_unit_test(test_clock_never_moves_back),
		cmocka_unit_test(test_replay_clock_at_its_speed),
	};
	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
