/* End to end, a run's lifetime on the server: a run is kept until its end
 * is committed and its DONE line sent, however many younger runs of its
 * session end meanwhile; SIGHUP ends runs as SIGTERM does. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support.h"

/* Reads lines until one starts with prefix and contains want (NULL: any);
 * it is left in line. Fails the test on EOF or after SUPPORT_WAIT_MS. */
static void read_until(struct test_conn *c, const char *prefix, const char *want, char *line,
                       size_t cap)
{
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	while (support_now_ms() < deadline) {
		int rc = support_read_line(c, line, cap, 1000);
		if (rc == SUPPORT_TIMEOUT)
			continue;
		if (rc != SUPPORT_LINE)
			fail_msg("waiting for '%s...%s': %s", prefix, want ? want : "",
			         support_read_outcome(rc));
		if (strncmp(line, prefix, strlen(prefix)) == 0 && (!want || strstr(line, want)))
			return;
	}
	fail_msg("no line '%s...%s' within %d ms", prefix, want ? want : "", SUPPORT_WAIT_MS);
}

/* The run id from an "OK run=N ..." line. */
static unsigned long long ok_run_id(struct test_conn *c)
{
	char line[512];
	unsigned long long id = 0;
	read_until(c, "OK run=", NULL, line, sizeof line);
	assert_int_equal(sscanf(line, "OK run=%llu", &id), 1);
	return id;
}

/* X, the session's oldest run, ends while its end awaits the store, and a
 * younger run Y of the same session ends just before it: Y's commit once
 * trimmed the history down to 64 finished runs by freeing X, whose own
 * commit then read freed memory (ASan: heap-use-after-free; else a DONE
 * with a garbage run id). A second client's inline cook holds the loop
 * over both deadlines, so both come due in one pass after it. */
static void test_history_keeps_a_run_until_its_end_is_stored(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn a, b;
	char line[512], want[64];
	const long long x_meal = 3000;

	assert_int_equal(support_server_start(&f->srv, f->db, "--max-inline-cook", "5s", NULL), 0);
	support_connect_greeted(&a, f->srv.port, NULL, 0);
	support_connect_greeted(&b, f->srv.port, NULL, 0);

	assert_int_equal(support_send(&a, "RUN async X:3s\n"), 0);
	unsigned long long x = ok_run_id(&a);
	long long x_ok = support_now_ms();
	for (int i = 0; i < 64; i++)
		assert_int_equal(support_send(&a, "RUN async F:1ms\n"), 0);
	for (int i = 0; i < 64; i++)
		read_until(&a, "DONE ", "status=done", line, sizeof line);

	long long left = x_meal - (support_now_ms() - x_ok);
	if (left < 600)
		fail_msg("64 runs of 1 ms took %lld ms: too slow to set the test up",
		         x_meal - left);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "RUN async Y:%lldms\n", left - 300);
	assert_int_equal(support_send(&a, cmd), 0);
	unsigned long long y = ok_run_id(&a);
	snprintf(cmd, sizeof cmd, "RUN async K:%lldms:1ms\n", left + 500);
	assert_int_equal(support_send(&b, cmd), 0);
	ok_run_id(&b);

	snprintf(want, sizeof want, " run=%llu ", y);
	read_until(&a, "DONE ", want, line, sizeof line);
	assert_non_null(strstr(line, "status=done"));
	snprintf(want, sizeof want, " run=%llu ", x);
	read_until(&a, "DONE ", want, line, sizeof line);
	assert_non_null(strstr(line, "status=done"));
	assert_null(strstr(line, "stored=no"));
	read_until(&b, "DONE ", "status=done", line, sizeof line);

	/* RUNS lists the 64 newest closed runs: X and the oldest F went. */
	assert_int_equal(support_send(&a, "RUNS\n"), 0);
	read_until(&a, "OK runs=", NULL, line, sizeof line);
	assert_string_equal(line, "OK runs=64");
	support_close(&a);
	support_close(&b);
}

/* SIGHUP (a closed terminal, a reload by habit) stops the server the way
 * SIGTERM does: running runs end interrupted and stored, exit 0. */
static void test_sighup_stops_gracefully(void **state)
{
	struct support_e2e *f = *state;
	char line[512];

	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	assert_int_equal(support_send(&f->c, "RUN async A:30s\n"), 0);
	ok_run_id(&f->c);
	assert_int_equal(kill(f->srv.pid, SIGHUP), 0);
	read_until(&f->c, "DONE ", "status=interrupted", line, sizeof line);
	support_expect_line(&f->c, "BYE reason=shutdown");
	support_expect_closed(&f->c);
	/* It exits by itself: a SIGTERM now could land after its handler is
	 * gone, and would say nothing of SIGHUP. */
	int status = 0;
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	while (waitpid(f->srv.pid, &status, WNOHANG) == 0 && support_now_ms() < deadline)
		usleep(10000);
	assert_true(support_now_ms() < deadline);
	f->srv.pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where status = 'running'"),
	                 0);
	assert_int_equal(
		support_sql_int(f->db, "select count(*) from runs where status = 'interrupted'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST(test_history_keeps_a_run_until_its_end_is_stored),
		SUPPORT_E2E_TEST_STARTED(test_sighup_stops_gracefully),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
