/* The parser's riders=, deadline=, CANCEL and REPLAY: good values, each bad one
 * with its error code, and the server lines that carry them back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/protocol.h"

static const struct proto_limits lim = { 600000000, 1000, 10000000, 1000000 };
static struct cmd cmd;

static void parse_ok(const char *line)
{
	struct proto_error err;
	if (proto_parse_command(line, strlen(line), &lim, &cmd, &err) != 0)
		fail_msg("'%s' should parse, got %s: %s", line, err.code, err.text);
}

static void parse_fails(const char *line, const char *code)
{
	struct proto_error err;
	if (proto_parse_command(line, strlen(line), &lim, &cmd, &err) != -1)
		fail_msg("'%s' should fail with %s", line, code);
	assert_string_equal(err.code, code);
	assert_true(err.text[0] != '\0');
}

static void test_riders(void **state)
{
	(void)state;
	parse_ok("RUN async A:3s B:3s C:4s riders=2");
	assert_int_equal(cmd.kind, CMD_RUN);
	assert_int_equal(cmd.norders, 3);
	assert_int_equal(cmd.riders, 2);
	assert_int_equal(cmd.deadline_us, 0);
	parse_ok("RUN offload A:1s deadline=3.5s group=g RIDERS=1");
	assert_int_equal(cmd.riders, 1);
	assert_int_equal(cmd.deadline_us, 3500000);
	assert_string_equal(cmd.group, "g");
	parse_ok("GEN async 100 1ms..9ms riders=7 prefix=x deadline=5ms");
	assert_int_equal(cmd.riders, 7);
	assert_int_equal(cmd.deadline_us, 5000);
	assert_string_equal(cmd.gen_prefix, "x");
	parse_ok("RUN sync A:1s deadline=1s");
	assert_int_equal(cmd.deadline_us, 1000000);
	parse_ok("PING");
	assert_int_equal(cmd.riders, 0);       /* reset by every command */

	parse_fails("RUN async A:1s riders=0", "bad_riders");
	parse_fails("RUN async A:1s riders=-1", "bad_riders");
	parse_fails("RUN async A:1s riders=two", "bad_riders");
	parse_fails("RUN async A:1s riders=4294967296", "bad_riders");
	parse_fails("RUN sync A:1s riders=2", "bad_riders");
	parse_fails("RUN async A:1s deadline=0", "bad_deadline");
	parse_fails("RUN async A:1s deadline=soon", "bad_deadline");
	parse_fails("RUN async A:1s deadline=25h", "bad_deadline");
	parse_fails("RUN async A:1s riders=1 riders=2", "bad_args");
	parse_fails("RUN async A:1s riders=1 B:1s", "bad_args");
	parse_fails("RUN async riders=1", "no_orders");
}

static void test_cancel(void **state)
{
	(void)state;
	parse_ok("CANCEL 12");
	assert_int_equal(cmd.kind, CMD_CANCEL);
	assert_int_equal(cmd.run_id, 12);
	parse_fails("CANCEL", "bad_args");
	parse_fails("CANCEL 0", "bad_args");
	parse_fails("CANCEL x", "bad_args");
	parse_fails("CANCEL 1 2", "bad_args");
}

static void test_replay(void **state)
{
	(void)state;
	parse_ok("REPLAY 7");
	assert_int_equal(cmd.kind, CMD_REPLAY);
	assert_int_equal(cmd.run_id, 7);
	assert_int_equal(cmd.speed_milli, 1000);
	parse_ok("replay 7 SPEED=0.5");
	assert_int_equal(cmd.speed_milli, 500);
	parse_ok("REPLAY 7 speed=0.01");
	assert_int_equal(cmd.speed_milli, 10);
	parse_ok("REPLAY 7 speed=1000");
	assert_int_equal(cmd.speed_milli, 1000000);
	parse_ok("REPLAY 7 speed=1.25");
	assert_int_equal(cmd.speed_milli, 1250);
	parse_fails("REPLAY", "bad_args");
	parse_fails("REPLAY 0", "bad_args");
	parse_fails("REPLAY 7 fast", "bad_args");
	parse_fails("REPLAY 7 speed=2 speed=3", "bad_args");
	parse_fails("REPLAY 7 speed=", "bad_speed");
	parse_fails("REPLAY 7 speed=0", "bad_speed");
	parse_fails("REPLAY 7 speed=0.001", "bad_speed");
	parse_fails("REPLAY 7 speed=1000.001", "bad_speed");
	parse_fails("REPLAY 7 speed=-1", "bad_speed");
	parse_fails("REPLAY 7 speed=1.", "bad_speed");
	parse_fails("REPLAY 7 speed=.5", "bad_speed");
	parse_fails("REPLAY 7 speed=99999999", "bad_speed");
}

/* A DONE with the new keys reads back as it was; without them, zeros. */
static void test_done_keys(void **state)
{
	(void)state;
	const struct proto_done d = {
		.seq = 26, .run = 3, .mode = MODE_ASYNC, .orders = 3, .status = RUN_TIMED_OUT,
		.elapsed_us = 100061, .ideal_us = 430000, .sum_us = 460000, .max_us = 400000,
		.riders = 2, .deadline_us = 100000, .collected = 2, .cancelled = 1,
	};
	char line[PROTO_MAX_LINE];
	struct server_line sl;
	int n = proto_format_done(line, sizeof line, &d);
	assert_true(n > 0 && (size_t)n < sizeof line);
	line[n] = '\0';         /* a formatter writes no NUL of its own */
	assert_string_equal(line, "DONE seq=26 run=3 mode=async orders=3 status=timed_out "
	                          "elapsed=100061 ideal=430000 sum=460000 max=400000 riders=2 "
	                          "deadline=100000 collected=2 cancelled=1\n");
	assert_int_equal(proto_parse_server_line(line, (size_t)n - 1, &sl), 0);
	assert_int_equal(sl.u.done.status, RUN_TIMED_OUT);
	assert_int_equal(sl.u.done.riders, 2);
	assert_int_equal(sl.u.done.deadline_us, 100000);
	assert_int_equal(sl.u.done.collected, 2);
	assert_int_equal(sl.u.done.cancelled, 1);
	const char *ev = "EV seq=9 run=3 order=3 name=C step=cancelled t=100061";
	assert_int_equal(proto_parse_server_line(ev, strlen(ev), &sl), 0);
	assert_int_equal(sl.u.ev.step, STEP_CANCELLED);
	const char *plain = "DONE seq=1 run=1 mode=sync orders=1 status=cancelled elapsed=5 "
	                    "ideal=9 sum=9 max=9 riders=x";
	assert_int_equal(proto_parse_server_line(plain, strlen(plain), &sl), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_riders),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_done_keys),
	};
	return cmocka_run_group_tests_name("protocol_riders", tests, NULL, NULL);
}
