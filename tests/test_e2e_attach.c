/* End to end over a raw socket: what ATTACH tells of a session's runs
 * before their replay (RUNINFO with the run's state, ORDER lines of a
 * RUN), a history older than the replay ring, and a seq past the last. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support.h"


static void attach(struct test_conn *c, const char *id, const char *since)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "ATTACH %s %s\n", id, since);
	assert_int_equal(support_send(c, cmd), 0);
}

/* Mid-run: the run, how long ago it started, every order as given (with
 * its cook), then the reply, then the lines after since. */
static void test_attach_describes_a_running_run(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], line[512];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_send(&c1, "RUN sync A:200ms B:20ms:300ms\n"), 0);
	support_expect_prefix(&c1, "OK run=1 mode=sync orders=2", line, sizeof line);
	support_expect_prefix(&c1, "EV seq=1 run=1 order=1 name=A step=delivered", line,
	                      sizeof line);
	support_close(&c1);

	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, line);
	attach(&c2, id, "1");
	support_expect_prefix(&c2, "RUNINFO run=1 mode=sync orders=2 status=running elapsed=- "
	                           "ideal=520000 sum=500000 max=300000 age=", line, sizeof line);
	assert_non_null(strstr(line, " history=full cook=20000 "));
	assert_null(strstr(line, " gen="));
	/* It started before it was acknowledged and the first event was read. */
	assert_true(support_field_u64(line, "age") > 0);
	support_expect_line(&c2, "ORDER run=1 order=1 name=A meal=200000 cook=0");
	support_expect_line(&c2, "ORDER run=1 order=2 name=B meal=300000 cook=20000");
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	assert_non_null(strstr(line, " active=1"));
	support_expect_prefix(&c2, "EV seq=2 run=1 order=1 name=A step=eaten", line, sizeof line);
	support_close(&c2);
}

/* After the end: the RUNINFO carries the totals (the DONE line may have
 * left the ring); a GEN run is told by its parameters, with no ORDER line. */
static void test_attach_describes_ended_runs(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], line[512];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_send(&c1, "WATCH ends\nGEN async 3 5ms..15ms prefix=p_\n"), 0);
	support_expect_prefix(&c1, "OK watch=ends", line, sizeof line);
	support_expect_prefix(&c1, "OK run=1", line, sizeof line);
	support_expect_prefix(&c1, "DONE seq=10 run=1", line, sizeof line);
	support_close(&c1);

	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, line);
	attach(&c2, id, "10");
	support_expect_prefix(&c2, "RUNINFO run=1 mode=async orders=3 status=done elapsed=", line,
	                      sizeof line);
	assert_true(support_field_u64(line, "elapsed") >= 15000);
	assert_non_null(strstr(line, " ideal=15000 sum=30000 max=15000 age="));
	assert_non_null(strstr(line, " history=full gen=5000..15000 prefix=p_"));
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	assert_non_null(strstr(line, " seq=10 active=-"));
	assert_int_equal(support_send(&c2, "PING\n"), 0);
	support_expect_line(&c2, "OK pong");
	support_close(&c2);
}

/* A run whose first lines left the ring is marked partial (the client then
 * draws none of what it cannot know); a later run, whole, is not. */
static void test_attach_marks_a_partial_history(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], line[512];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_send(&c1, "WATCH ends\nGEN async 2000 1ms\n"), 0);
	support_expect_prefix(&c1, "OK watch=ends", line, sizeof line);
	support_expect_prefix(&c1, "OK run=1", line, sizeof line);
	support_expect_prefix(&c1, "DONE seq=6001 run=1", line, sizeof line);
	assert_int_equal(support_send(&c1, "RUN async A:1ms\n"), 0);
	support_expect_prefix(&c1, "OK run=2", line, sizeof line);
	support_expect_prefix(&c1, "DONE seq=6005 run=2", line, sizeof line);
	support_close(&c1);

	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, line);
	assert_int_equal(support_send(&c2, "WATCH ends\n"), 0);
	support_expect_line(&c2, "OK watch=ends");
	attach(&c2, id, "0");
	support_expect_prefix(&c2, "RUNINFO run=1 ", line, sizeof line);
	assert_non_null(strstr(line, " history=partial "));
	/* WATCH ends: no ORDER lines either. */
	support_expect_prefix(&c2, "RUNINFO run=2 ", line, sizeof line);
	assert_non_null(strstr(line, " history=full"));
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	support_expect_prefix(&c2, "LAGGED missed=", line, sizeof line);
	support_close(&c2);
}

/* A seq never given is refused, and the connection keeps its own session. */
static void test_attach_past_the_last_seq(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], own[33], line[512];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_send(&c1, "RUN async A:1ms\n"), 0);
	support_expect_prefix(&c1, "OK run=1", line, sizeof line);
	for (int i = 0; i < 3; i++)
		support_expect_prefix(&c1, "EV ", line, sizeof line);
	support_expect_prefix(&c1, "DONE seq=4 run=1", line, sizeof line);
	support_close(&c1);

	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, own);
	attach(&c2, id, "5");
	support_expect_line(&c2, "ERR bad_seq seq 5 is past the session's last line, seq 4");
	assert_int_equal(support_send(&c2, "RUNS\n"), 0);
	support_expect_line(&c2, "OK runs=0");
	attach(&c2, id, "4");
	support_expect_prefix(&c2, "RUNINFO run=1 ", line, sizeof line);
	support_expect_line(&c2, "ORDER run=1 order=1 name=A meal=1000 cook=0");
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	assert_non_null(strstr(line, " seq=4 active=-"));
	assert_int_equal(support_send(&c2, "PING\n"), 0);
	support_expect_line(&c2, "OK pong");
	support_close(&c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST_STARTED(test_attach_describes_a_running_run),
		SUPPORT_E2E_TEST_STARTED(test_attach_describes_ended_runs),
		SUPPORT_E2E_TEST_STARTED(test_attach_marks_a_partial_history),
		SUPPORT_E2E_TEST_STARTED(test_attach_past_the_last_seq),
	};
	return cmocka_run_group_tests_name("e2e_attach", tests, NULL, NULL);
}
