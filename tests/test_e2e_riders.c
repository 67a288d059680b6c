/* End to end, riders, deadlines and cancellation, with millisecond meals
 * through the real server and client: two riders take A 300 ms, B 300 ms,
 * C 400 ms in 700 ms; a 350 ms deadline collects A and B and cancels C,
 * and nothing of C is stored after; CANCEL works from a second connection
 * of the same session, not from another session. Lower bounds only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"
#include "common/protocol_util.h"
#include "tests/support.h"

#define NORDERS 3

/* What one connection saw of one run: each order's step times (-1: not
 * seen) and its DONE. */
struct seen {
	struct proto_done done;
	int64_t t[NORDERS + 1][5];
};

/* Reads until the DONE of run; other lines are skipped (OK of a CANCEL). */
static void follow_run(struct test_conn *c, uint64_t run, struct seen *s)
{
	char line[4096];
	struct server_line sl;
	memset(s, 0, sizeof *s);
	memset(s->t, 0xff, sizeof s->t);
	for (;;) {
		assert_int_equal(support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS), SUPPORT_LINE);
		if (proto_parse_server_line(line, strlen(line), &sl) < 0 || sl.kind == LINE_OK)
			continue;
		if (sl.kind == LINE_DONE && sl.u.done.run == run) {
			s->done = sl.u.done;
			return;
		}
		if (sl.kind == LINE_EV && sl.u.ev.run == run) {
			assert_true(sl.u.ev.order >= 1 && sl.u.ev.order <= NORDERS);
			s->t[sl.u.ev.order][sl.u.ev.step] = (int64_t)sl.u.ev.t_us;
		}
	}
}

static const int64_t meal_ms[NORDERS + 1] = { 0, 300, 300, 400 };

/* Two riders: C waits for A's rider; the run takes at least the ideal,
 * 700 ms, and each meal at least its time. */
static void test_two_riders(void **state)
{
	struct support_e2e *e = *state;
	struct seen s;
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = support_submit_run(&e->c, "RUN async A:300ms B:300ms C:400ms riders=2\n");
	follow_run(&e->c, run, &s);
	assert_int_equal(s.done.status, RUN_DONE);
	assert_int_equal(s.done.riders, 2);
	assert_int_equal(s.done.ideal_us, 700000);
	assert_true(s.done.elapsed_us >= 700000);
	for (int i = 1; i <= NORDERS; i++)
		assert_true(s.t[i][STEP_EATEN] - s.t[i][STEP_DELIVERED] >= meal_ms[i] * 1000);
	/* C is delivered only once A or B is collected. */
	assert_true(s.t[3][STEP_DELIVERED] >= 300000);
	support_close(&e->c);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(e->db, "select riders from runs"), 2);
	assert_int_equal(support_sql_int(e->db, "select cast(ideal_ms as int) from run_summary"), 700);
	assert_int_equal(support_sql_int(e->db, "select cast(waited_ms as int) >= 300 from "
	                                        "order_timeline where name = 'C'"), 1);
}

/* A 350 ms deadline: A and B collected, C cancelled, and nothing of C
 * stored after its cancellation. */
static void test_deadline(void **state)
{
	struct support_e2e *e = *state;
	struct seen s;
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = support_submit_run(&e->c, "RUN async A:300ms B:300ms C:400ms deadline=350ms\n");
	follow_run(&e->c, run, &s);
	assert_int_equal(s.done.status, RUN_TIMED_OUT);
	assert_int_equal(s.done.collected, 2);
	assert_int_equal(s.done.cancelled, 1);
	assert_true(s.done.elapsed_us >= 350000);
	assert_true(s.t[1][STEP_COLLECTED] >= 300000 && s.t[2][STEP_COLLECTED] >= 300000);
	assert_true(s.t[3][STEP_CANCELLED] >= 350000);
	assert_int_equal(s.t[3][STEP_EATEN], -1);
	assert_int_equal(s.t[3][STEP_COLLECTED], -1);
	support_close(&e->c);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(e->db, "select count(*) from events e join orders o "
	                                        "using (run_id, idx) where o.name = 'C' and "
	                                        "e.step in ('eaten', 'collected')"), 0);
	assert_int_equal(support_sql_int(e->db, "select count(*) from events e join orders o using "
	                                        "(run_id, idx) where o.name = 'C' and e.t_us > "
	                                        "(select t_us from events x where x.run_id = e.run_id "
	                                        "and x.idx = e.idx and x.step = 'cancelled')"), 0);
	assert_int_equal(support_sql_int(e->db, "select cancelled from run_summary"), 1);
	assert_int_equal(support_sql_int(e->db, "select status = 'timed_out' from runs"), 1);
}

/* A deadline that gives up on a cook: the run tells only the cooking it
 * did (B's 5 s cook on a worker taken back at 300 ms is not), and a deadline that an async cook made late counts in caused,
 * like any timer due meanwhile. */
static void test_deadline_and_cooks(void **state)
{
	struct support_e2e *e = *state;
	struct seen s;
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = support_submit_run(&e->c, "RUN offload A:1ms:10ms B:5s:10ms deadline=300ms\n");
	follow_run(&e->c, run, &s);
	assert_int_equal(s.done.status, RUN_TIMED_OUT);
	if (s.done.cook_us > 1000)      /* A's, if it was done in time; never B's */
		fail_msg("cook %llu us told for a run that cooked 1 ms at most",
		         (unsigned long long)s.done.cook_us);
	/* The deadline was due at 50 ms; A's cook held the loop for 300 ms. */
	uint64_t late = support_submit_run(&e->c, "RUN async A:300ms:1s deadline=50ms\n");
	follow_run(&e->c, late, &s);
	assert_int_equal(s.done.status, RUN_TIMED_OUT);
	assert_int_equal(s.done.cook_us, 300000);
	if (s.done.caused_us < 200000)
		fail_msg("the deadline came 250 ms late or more; caused says %llu us",
		         (unsigned long long)s.done.caused_us);
	support_close(&e->c);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(e->db, "select count(*) from runs where run_id = 1 and "
	                                        "cook_us <= 1000"), 1);
	assert_int_equal(support_sql_int(e->db, "select caused_us >= 200000 from runs where "
	                                        "run_id = 2"), 1);
}

/* CANCEL from a second connection attached to the session cancels the
 * run; from another session it is refused, and an unknown run too. */
static void test_cancel(void **state)
{
	struct support_e2e *e = *state;
	struct test_conn other, second;
	char hello[256], line[512], session[PROTO_SESSION_HEX + 1];
	struct server_line sl;
	struct seen s;

	support_connect_greeted(&e->c, e->srv.port, hello, sizeof hello);
	assert_int_equal(proto_parse_server_line(hello, strlen(hello), &sl), 0);
	memcpy(session, sl.u.hello.session, sizeof session);
	uint64_t run = support_submit_run(&e->c, "RUN async A:30s B:30s\n");

	support_connect_greeted(&other, e->srv.port, NULL, 0);
	snprintf(line, sizeof line, "CANCEL %llu\n", (unsigned long long)run);
	assert_int_equal(support_send(&other, line), 0);
	support_expect_prefix(&other, "ERR not_your_run ", NULL, 0);
	assert_int_equal(support_send(&other, "CANCEL 999\n"), 0);
	support_expect_prefix(&other, "ERR no_run ", NULL, 0);
	support_close(&other);

	support_connect_greeted(&second, e->srv.port, NULL, 0);
	snprintf(line, sizeof line, "ATTACH %s\n", session);
	assert_int_equal(support_send(&second, line), 0);
	support_expect_prefix(&second, "RUNINFO ", NULL, 0);
	snprintf(line, sizeof line, "CANCEL %llu\n", (unsigned long long)run);
	assert_int_equal(support_send(&second, line), 0);
	follow_run(&second, run, &s);
	assert_int_equal(s.done.status, RUN_CANCELLED);
	assert_int_equal(s.done.cancelled, 2);
	assert_true(s.t[1][STEP_CANCELLED] >= 0 && s.t[2][STEP_CANCELLED] >= 0);
	assert_int_equal(support_send(&second, line), 0);
	support_expect_prefix(&second, "ERR run_ended ", NULL, 0);
	support_close(&second);
	support_close(&e->c);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(e->db, "select count(*) from events where step = "
	                                        "'cancelled'"), 2);
	assert_int_equal(support_sql_int(e->db, "select status = 'cancelled' from runs"), 1);
}

/* The client races riders 1, 2 and all side by side, with totals. */
static void test_compare_riders(void **state)
{
	struct support_e2e *e = *state;
	int rc = support_client_run(&e->srv, e->out, e->err, SUPPORT_WAIT_MS, "--plain", "compare",
	                            "--riders", "1,2,all", "A:30ms", "B:30ms", "C:40ms", NULL);
	assert_int_equal(rc, 0);
	char *out = support_read_file(e->out);
	assert_non_null(out);
	assert_non_null(strstr(out, "async, 1 rider "));
	assert_non_null(strstr(out, "async, 2 riders"));
	free(out);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(e->db, "select count(distinct group_id) from runs"), 1);
	assert_int_equal(support_sql_int(e->db, "select cast(ideal_ms as int) from run_summary "
	                                        "where riders = 1"), 100);
	assert_int_equal(support_sql_int(e->db, "select cast(ideal_ms as int) from run_summary "
	                                        "where riders = 2"), 70);
	assert_int_equal(support_sql_int(e->db, "select cast(ideal_ms as int) from run_summary "
	                                        "where riders is null"), 40);
	assert_int_equal(support_sql_int(e->db, "select count(*) from run_summary where "
	                                        "elapsed_ms >= ideal_ms"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST_STARTED(test_two_riders),
		SUPPORT_E2E_TEST_STARTED(test_deadline),
		SUPPORT_E2E_TEST_STARTED(test_deadline_and_cooks),
		SUPPORT_E2E_TEST_STARTED(test_cancel),
		SUPPORT_E2E_TEST_STARTED(test_compare_riders),
	};
	return cmocka_run_group_tests_name("e2e_riders", tests, NULL, NULL);
}
