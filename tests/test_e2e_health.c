/* End to end, the loop's health: an async run's 500 ms cook on the loop is
 * one stall, stored, told to its session and to the one whose timers it
 * delayed and to no other; the same order offloaded is none, and the
 * loop's lag is far smaller. A stall's id goes on across a restart. The
 * /metrics text passes a strict parser (and promtool, where installed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/protocol.h"
#include "tests/support.h"

/* What one session saw until its run's DONE. */
struct watched {
	unsigned stalls;            /* STALL lines */
	char stall[256];            /* the first */
	uint64_t run;
};

static void watch_until_done(struct test_conn *c, struct watched *w)
{
	char line[4096];
	for (;;) {
		int rc = support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS);
		if (rc != SUPPORT_LINE)
			fail_msg("waiting for DONE: %s", support_read_outcome(rc));
		if (strncmp(line, "STALL ", 6) == 0 && w->stalls++ == 0)
			snprintf(w->stall, sizeof w->stall, "%.255s", line);
		if (strncmp(line, "DONE ", 5) == 0)
			return;
	}
}

/* STATS on c: the value of key on the line that starts with prefix. */
static uint64_t stat_of(struct test_conn *c, const char *prefix, const char *key,
                        char *stalled, size_t cap)
{
	char line[4096];
	uint64_t v = UINT64_MAX;
	assert_int_equal(support_send(c, "STATS\n"), 0);
	for (;;) {
		int rc = support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS);
		if (rc != SUPPORT_LINE)
			fail_msg("waiting for STATS: %s", support_read_outcome(rc));
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			v = support_field_u64(line, key);
		if (stalled && strncmp(line, "STALLED ", 8) == 0)
			snprintf(stalled, cap, "%.500s", line);
		if (strcmp(line, "OK stats") == 0)
			break;
		assert_true(strncmp(line, "STALL ", 6) != 0);
	}
	assert_int_not_equal(v, UINT64_MAX);
	return v;
}

/* Another session's run whose timers come due while mode's 500 ms cook
 * runs, then the cook; a third session runs nothing. Returns the loop's
 * worst lag; *stalls: the server's count. */
static uint64_t cook_beside_others(struct support_e2e *f, const char *mode, struct watched *cooker,
                                   struct watched *other, uint64_t *stalls, char *stalled,
                                   size_t cap)
{
	struct test_conn a, b, idle;
	char run_line[64];
	support_connect_greeted(&a, f->srv.port, NULL, 0);
	support_connect_greeted(&b, f->srv.port, NULL, 0);
	support_connect_greeted(&idle, f->srv.port, NULL, 0);
	assert_int_equal(support_send(&b, "GEN async 20 200ms..300ms\n"), 0);
	support_expect_prefix(&b, "OK run=", NULL, 0);
	snprintf(run_line, sizeof run_line, "RUN %s A:500ms:10ms\n", mode);
	memset(cooker, 0, sizeof *cooker);
	memset(other, 0, sizeof *other);
	cooker->run = support_submit_run(&a, run_line);
	watch_until_done(&a, cooker);
	watch_until_done(&b, other);
	*stalls = stat_of(&idle, "STAT loop ", "stalls", stalled, cap);
	uint64_t lag = stat_of(&idle, "STAT lag ", "max", NULL, 0);
	support_close(&a);
	support_close(&b);
	support_close(&idle);
	return lag;
}

static void test_inline_cook_is_one_stall(void **state)
{
	struct support_e2e *f = *state;
	struct watched cooker, other;
	char stalled[512] = "";
	uint64_t stalls;

	assert_int_equal(support_server_start(&f->srv, f->db, "--workers", "1", NULL), 0);
	uint64_t lag = cook_beside_others(f, "async", &cooker, &other, &stalls, stalled,
	                                  sizeof stalled);
	print_message("inline: lag max %" PRIu64 " us; %s\n", lag, cooker.stall);
	assert_int_equal(stalls, 1);
	assert_true(lag >= 500000);
	assert_int_equal(cooker.stalls, 1);
	assert_true(support_field_u64(cooker.stall, "held") >= 500000);
	assert_non_null(strstr(cooker.stall, " cause=cook "));
	assert_int_equal(support_field_u64(cooker.stall, "run"), cooker.run);
	assert_int_equal(support_field_u64(cooker.stall, "order"), 1);
	/* The other session's timers waited for it: told once, the same stall. */
	assert_int_equal(other.stalls, 1);
	assert_int_equal(support_field_u64(other.stall, "id"), support_field_u64(cooker.stall, "id"));
	assert_int_equal(support_field_u64(stalled, "run"), cooker.run);
	assert_true(support_field_u64(stalled, "held") >= 500000);

	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	char sql[160];
	snprintf(sql, sizeof sql, "select count(*) from stalls where run_id = %" PRIu64
	         " and idx = 1 and cause = 'cook' and duration_us >= 500000", cooker.run);
	assert_int_equal(support_sql_int(f->db, sql), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from stalls"), 1);
}

static void test_offloaded_cook_is_no_stall(void **state)
{
	struct support_e2e *f = *state;
	struct watched cooker, other;
	uint64_t stalls_inline, stalls_pool;

	assert_int_equal(support_server_start(&f->srv, f->db, "--workers", "1", NULL), 0);
	uint64_t lag_inline = cook_beside_others(f, "async", &cooker, &other, &stalls_inline,
	                                         NULL, 0);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_server_start(&f->srv, f->db, "--workers", "1", NULL), 0);
	uint64_t lag_pool = cook_beside_others(f, "offload", &cooker, &other, &stalls_pool,
	                                       NULL, 0);
	print_message("lag max: %" PRIu64 " us inline, %" PRIu64 " us offloaded\n", lag_inline,
	              lag_pool);
	assert_int_equal(stalls_inline, 1);
	assert_int_equal(stalls_pool, 0);
	assert_int_equal(cooker.stalls, 0);
	assert_int_equal(other.stalls, 0);
	assert_true(lag_pool < lag_inline);
	/* Far smaller, where the loop and the worker each get a CPU. */
	if (!getenv("BAEDAL_WRAP"))
		assert_true(4 * lag_pool < lag_inline);
}

/* One async run whose 100 ms cook is a stall (--warn-stall 50ms): its
 * STALL line's id, which STATS lists too; *count: STATS's stalls=. */
static uint64_t cook_one_stall(struct support_e2e *f, uint64_t *run, uint64_t *count)
{
	struct test_conn c;
	struct watched w;
	char stalled[512] = "";
	support_connect_greeted(&c, f->srv.port, NULL, 0);
	memset(&w, 0, sizeof w);
	*run = support_submit_run(&c, "RUN async A:100ms:1ms\n");
	watch_until_done(&c, &w);
	assert_int_equal(w.stalls, 1);
	*count = stat_of(&c, "STAT loop ", "stalls", stalled, sizeof stalled);
	assert_int_equal(support_field_u64(stalled, "id"), support_field_u64(w.stall, "id"));
	support_close(&c);
	return support_field_u64(w.stall, "id");
}

/* A stall's id names one stall everywhere, across a restart on the same
 * database: the second server's STALL line, STATS and the stored row all
 * give the same id, above the first server's; STATS's count (like
 * /metrics's counter) is the process's own and starts again. */
static void test_stall_ids_go_on_after_restart(void **state)
{
	struct support_e2e *f = *state;
	uint64_t run1, run2, count1, count2;
	char sql[160];

	assert_int_equal(support_server_start(&f->srv, f->db, "--warn-stall", "50ms", NULL), 0);
	uint64_t id1 = cook_one_stall(f, &run1, &count1);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_server_start(&f->srv, f->db, "--warn-stall", "50ms", NULL), 0);
	uint64_t id2 = cook_one_stall(f, &run2, &count2);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	print_message("stall ids %" PRIu64 " then %" PRIu64 "\n", id1, id2);
	assert_int_equal(count1, 1);
	assert_int_equal(count2, 1);
	assert_true(id2 > id1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from stalls"), 2);
	/* The second row stored is the second server's stall, under its id. */
	assert_int_equal(support_sql_int(f->db, "select stall_id from stalls order by started_us "
	                                        "limit 1 offset 1"), (long long)id2);
	snprintf(sql, sizeof sql, "select count(*) from stalls where stall_id = %" PRIu64
	         " and run_id = %" PRIu64 " and cause = 'cook'", id1, run1);
	assert_int_equal(support_sql_int(f->db, sql), 1);
	snprintf(sql, sizeof sql, "select count(*) from stalls where stall_id = %" PRIu64
	         " and run_id = %" PRIu64 " and cause = 'cook'", id2, run2);
	assert_int_equal(support_sql_int(f->db, sql), 1);
}

int main(void)
{
	support_see_stalls = 1;
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST(test_inline_cook_is_one_stall),
		SUPPORT_E2E_TEST(test_offloaded_cook_is_no_stall),
		SUPPORT_E2E_TEST(test_stall_ids_go_on_after_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
