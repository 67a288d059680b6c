/* End to end over a raw socket: the real baedald on port 0 with a temp
 * database. The protocol doc's transcript, attach, bad lines, shutdown and
 * crash recovery, each checked on the wire and then in SQLite. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/protocol.h"
#include "tests/support.h"


/* ---- the transcript of docs/protocol.md -------------------------------- */

static int is_time_key(const char *key, size_t len)
{
	return (len == 1 && key[0] == 't') || (len == 7 && memcmp(key, "elapsed", 7) == 0);
}

/* One token of a server line against the doc's: times are lower bounds at
 * millisecond precision (with a generous upper bound), the session id and
 * server version any value of their form, the rest exact. */
static int token_matches(const char *exp, size_t elen, const char *act, size_t alen)
{
	const char *eq = memchr(exp, '=', elen);
	if (!eq)
		return elen == alen && memcmp(exp, act, elen) == 0;
	size_t klen = (size_t)(eq - exp) + 1;
	if (alen < klen || memcmp(exp, act, klen) != 0)
		return 0;
	const char *ev = exp + klen, *av = act + klen;
	size_t evl = elen - klen, avl = alen - klen;
	if (klen == 8 && memcmp(exp, "session=", 8) == 0) {
		for (size_t i = 0; i < avl; i++)
			if (!isxdigit((unsigned char)av[i]))
				return 0;
		return avl == 32;
	}
	if (klen == 7 && memcmp(exp, "server=", 7) == 0)
		return avl > 0;
	if (is_time_key(exp, klen - 1)) {
		unsigned long long e = strtoull(ev, NULL, 10), a = strtoull(av, NULL, 10);
		return a >= e / 1000 * 1000 && a < e + 1000000;
	}
	return evl == avl && memcmp(ev, av, evl) == 0;
}

static void expect_line_matches(const char *exp, const char *act)
{
	if (strncmp(exp, "ERR ", 4) == 0) {
		assert_string_equal(act, exp);
		return;
	}
	const char *e = exp, *a = act;
	while (*e || *a) {
		size_t el = strcspn(e, " "), al = strcspn(a, " ");
		if (!token_matches(e, el, a, al))
			fail_msg("server said\n  %s\nthe doc shows\n  %s", act, exp);
		e += el + (e[el] == ' ');
		a += al + (a[al] == ' ');
	}
}

static void test_transcript(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char *doc = support_read_file("docs/protocol.md");
	assert_non_null(doc);
	char *begin = strstr(doc, "<!-- transcript -->");
	char *end = strstr(doc, "<!-- /transcript -->");
	assert_non_null(begin);
	assert_non_null(end);
	*end = '\0';
	assert_int_equal(support_connect(&c, f->srv.port), 0);

	int checked = 0;
	char line[4096], *save = NULL;
	for (char *l = strtok_r(begin, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ')
			l++;
		if (strncmp(l, "> ", 2) == 0) {
			snprintf(line, sizeof line, "%s\n", l + 2);
			assert_int_equal(support_send(&c, line), 0);
		} else if (strncmp(l, "< ", 2) == 0) {
			int rc = support_read_line(&c, line, sizeof line, SUPPORT_WAIT_MS);
			if (rc != SUPPORT_LINE)
				fail_msg("no line from the server where the doc shows '%s'", l + 2);
			expect_line_matches(l + 2, line);
			checked++;
		}
	}
	assert_int_equal(checked, 26);   /* every server line the doc shows */
	support_expect_closed(&c);   /* QUIT: the server closes */
	support_close(&c);
	free(doc);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from events where run_id = 1"), 9);
	/* WATCH ends sent none of run 2's events; they are stored all the same. */
	assert_int_equal(support_sql_int(f->db, "select count(*) from events where run_id = 2"), 6);
}

/* ---- sessions: disconnect, attach, replay ------------------------------ */

static void test_attach_replays_then_goes_on_live(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], line[512], cmd[128];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_send(&c1, "RUN sync A:60ms B:60ms\n"), 0);
	support_expect_prefix(&c1, "OK run=1 mode=sync orders=2", line, sizeof line);
	support_expect_prefix(&c1, "EV seq=1 run=1 order=1 name=A step=delivered", line,
	                      sizeof line);
	support_close(&c1);   /* the run goes on without us */

	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, line);
	snprintf(cmd, sizeof cmd, "ATTACH %s 1\n", id);
	assert_int_equal(support_send(&c2, cmd), 0);
	/* First what the session holds: the run, its orders; then the reply. */
	support_expect_prefix(&c2, "RUNINFO run=1 mode=sync orders=2 status=running", line,
	                      sizeof line);
	support_expect_line(&c2, "ORDER run=1 order=1 name=A meal=60000 cook=0");
	support_expect_line(&c2, "ORDER run=1 order=2 name=B meal=60000 cook=0");
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	assert_non_null(strstr(line, " active=1"));
	/* Everything after seq 1, replayed then live, in order, then DONE. */
	for (unsigned long long seq = 2; seq <= 6; seq++) {
		support_expect_prefix(&c2, "EV ", line, sizeof line);
		assert_int_equal(support_field_u64(line, "seq"), seq);
	}
	support_expect_prefix(&c2, "DONE seq=7 run=1 mode=sync orders=2 status=done", line,
	                      sizeof line);
	assert_true(support_field_u64(line, "elapsed") >= 120000);
	support_close(&c2);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from events"), 6);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where status = 'done'"),
	                 1);
}

/* A GEN order's name is its prefix and index, live and in a replay, and
 * WATCH ends keeps the replay to DONE lines. */
static void test_gen_names_live_and_replayed(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], line[512], cmd[128], want[64];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_send(&c1, "GEN async 3 5ms prefix=p_\n"), 0);
	support_expect_prefix(&c1, "OK run=1 mode=async orders=3", line, sizeof line);
	for (int i = 0; i < 9; i++) {
		support_expect_prefix(&c1, "EV ", line, sizeof line);
		snprintf(want, sizeof want, " name=p_%llu ", support_field_u64(line, "order"));
		assert_non_null(strstr(line, want));
	}
	support_expect_prefix(&c1, "DONE seq=10 run=1", line, sizeof line);
	support_close(&c1);

	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, line);
	snprintf(cmd, sizeof cmd, "ATTACH %s 0\n", id);
	assert_int_equal(support_send(&c2, cmd), 0);
	support_expect_prefix(&c2, "RUNINFO run=1 mode=async orders=3 status=done", line,
	                      sizeof line);
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	for (unsigned long long seq = 1; seq <= 9; seq++) {
		support_expect_prefix(&c2, "EV ", line, sizeof line);
		assert_int_equal(support_field_u64(line, "seq"), seq);
		snprintf(want, sizeof want, " name=p_%llu ", support_field_u64(line, "order"));
		assert_non_null(strstr(line, want));
	}
	support_expect_prefix(&c2, "DONE seq=10 run=1", line, sizeof line);
	/* Asked for ends only, the same replay is the DONE line alone. */
	assert_int_equal(support_send(&c2, "WATCH ends\n"), 0);
	support_expect_prefix(&c2, "OK watch=ends", line, sizeof line);
	snprintf(cmd, sizeof cmd, "ATTACH %s 0\n", id);
	assert_int_equal(support_send(&c2, cmd), 0);
	support_expect_prefix(&c2, "RUNINFO run=1 mode=async orders=3 status=done", line,
	                      sizeof line);
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	support_expect_prefix(&c2, "DONE seq=10 run=1", line, sizeof line);
	assert_int_equal(support_send(&c2, "PING\n"), 0);
	support_expect_prefix(&c2, "OK pong", line, sizeof line);
	support_close(&c2);
}

static void test_attach_takes_the_session_over(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c1, c2;
	char id[33], line[512], cmd[128];

	assert_int_equal(support_connect(&c1, f->srv.port), 0);
	support_read_session_id(&c1, id);
	assert_int_equal(support_connect(&c2, f->srv.port), 0);
	support_read_session_id(&c2, line);
	snprintf(cmd, sizeof cmd, "ATTACH %s\n", id);
	assert_int_equal(support_send(&c2, cmd), 0);
	support_expect_prefix(&c2, "OK attached session=", line, sizeof line);
	assert_non_null(strstr(line, " seq=0 active=-"));
	support_expect_prefix(&c1, "BYE reason=attached-elsewhere", line, sizeof line);
	support_expect_closed(&c1);
	/* The new holder can use it. */
	assert_int_equal(support_send(&c2, "RUNS\n"), 0);
	support_expect_prefix(&c2, "OK runs=0", line, sizeof line);
	support_close(&c1);
	support_close(&c2);
}

static void test_attach_needs_a_real_id(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512];

	assert_int_equal(support_connect(&c, f->srv.port), 0);
	support_read_session_id(&c, line);
	assert_int_equal(support_send(&c, "ATTACH zzz\n"), 0);
	support_expect_prefix(&c, "ERR bad_session ", line, sizeof line);
	assert_int_equal(support_send(&c, "ATTACH 0123456789abcdef0123456789abcdef\n"), 0);
	support_expect_prefix(&c, "ERR no_session ", line, sizeof line);
	assert_int_equal(support_send(&c, "RUNS 0123456789abcdef0123456789abcdef\n"), 0);
	support_expect_prefix(&c, "ERR no_session ", line, sizeof line);
	support_close(&c);
}

/* HELP: a USAGE line per command, its syntax, then one OK; a run with
 * group= is stored in that group. */
static void test_help_gives_syntax_and_group_is_stored(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512];

	assert_int_equal(support_connect(&c, f->srv.port), 0);
	support_read_session_id(&c, line);
	assert_int_equal(support_send(&c, "HELP\nPING\n"), 0);
	for (size_t i = 0; proto_usage[i]; i++) {
		snprintf(line, sizeof line, "USAGE %s", proto_usage[i]);
		support_expect_line(&c, line);
	}
	support_expect_prefix(&c, "OK commands=RUN,GEN,", NULL, 0);
	support_expect_line(&c, "OK pong");
	assert_int_equal(support_send(&c, "RUN sync A:1ms group=g7\n"), 0);
	support_expect_prefix(&c, "OK run=", NULL, 0);
	support_close(&c);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where group_id = 'g7'"), 1);
}

/* ---- bad input ------------------------------------------------------------ */

static void test_overlong_line_is_refused_and_skipped(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512];
	char *big = malloc(10001);

	assert_int_equal(support_connect(&c, f->srv.port), 0);
	support_read_session_id(&c, line);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	/* Sent in pieces with no newline, then the newline, then a command. */
	assert_int_equal(support_send(&c, big), 0);
	assert_int_equal(support_send(&c, big), 0);
	support_expect_prefix(&c, "ERR line_too_long ", line, sizeof line);
	assert_int_equal(support_send(&c, "tail\nPING\n"), 0);
	support_expect_prefix(&c, "OK pong", line, sizeof line);
	/* Exactly one error for the one long line. */
	memset(big, 'y', 5000);
	big[5000] = '\n';
	big[5001] = '\0';
	assert_int_equal(support_send(&c, big), 0);
	assert_int_equal(support_send(&c, "PING\n"), 0);
	support_expect_prefix(&c, "ERR line_too_long ", line, sizeof line);
	support_expect_prefix(&c, "OK pong", line, sizeof line);
	free(big);
	support_close(&c);
}

static void test_half_close_still_reports(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512];

	assert_int_equal(support_connect(&c, f->srv.port), 0);
	support_read_session_id(&c, line);
	assert_int_equal(support_send(&c, "RUN async A:20ms B:30ms\nPING"), 0);
	shutdown(c.fd, SHUT_WR);   /* a partial last line is dropped */
	support_expect_prefix(&c, "OK run=1", line, sizeof line);
	for (int i = 0; i < 6; i++)
		support_expect_prefix(&c, "EV ", line, sizeof line);
	support_expect_prefix(&c, "DONE ", line, sizeof line);
	support_expect_prefix(&c, "BYE reason=eof", line, sizeof line);
	support_expect_closed(&c);
	support_close(&c);
}

/* ---- shutdown and crashes ------------------------------------------------- */

static void test_sigterm_interrupts_and_flushes(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512];

	assert_int_equal(support_connect(&c, f->srv.port), 0);
	support_read_session_id(&c, line);
	assert_int_equal(support_send(&c, "RUN sync A:20ms B:1m\n"), 0);
	support_expect_prefix(&c, "OK run=1", line, sizeof line);
	for (int i = 0; i < 4; i++)   /* A's three events, B delivered */
		support_expect_prefix(&c, "EV ", line, sizeof line);
	assert_non_null(strstr(line, "name=B step=delivered"));
	int status = support_server_stop(&f->srv, SUPPORT_WAIT_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	support_expect_prefix(&c, "DONE seq=5 run=1 mode=sync orders=2 status=interrupted elapsed=-",
	                   line, sizeof line);
	support_expect_prefix(&c, "BYE reason=shutdown", line, sizeof line);
	support_expect_closed(&c);
	support_close(&c);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where status = "
	                                        "'interrupted' and elapsed_us is null"), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from events"), 4);
	assert_int_equal(support_sql_int(f->db, "select count(*) from orders"), 2);
}

static void test_crash_leaves_acknowledged_orders(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512];

	assert_int_equal(support_connect(&c, f->srv.port), 0);
	support_read_session_id(&c, line);
	assert_int_equal(support_send(&c, "GEN async 300 1m\n"), 0);
	support_expect_prefix(&c, "OK run=1 mode=async orders=300", line, sizeof line);
	support_server_kill(&f->srv);   /* kill -9 with 300 orders in flight */
	support_close(&c);
	/* Acknowledged means committed: the orders are there after a crash. */
	assert_int_equal(support_sql_int(f->db, "select count(*) from orders where run_id = 1"), 300);
	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	char *log = support_read_file(f->srv.log);
	assert_non_null(log);
	if (!strstr(log, "1 runs of an earlier server were left running"))
		fail_msg("the restarted server did not report the interrupted run:\n%s", log);
	free(log);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where status = "
	                                        "'interrupted'"), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from pragma_integrity_check "
	                                        "where integrity_check = 'ok'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST_STARTED(test_transcript),
		SUPPORT_E2E_TEST_STARTED(test_attach_replays_then_goes_on_live),
		SUPPORT_E2E_TEST_STARTED(test_gen_names_live_and_replayed),
		SUPPORT_E2E_TEST_STARTED(test_attach_takes_the_session_over),
		SUPPORT_E2E_TEST_STARTED(test_attach_needs_a_real_id),
		SUPPORT_E2E_TEST_STARTED(test_help_gives_syntax_and_group_is_stored),
		SUPPORT_E2E_TEST_STARTED(test_overlong_line_is_refused_and_skipped),
		SUPPORT_E2E_TEST_STARTED(test_half_close_still_reports),
		SUPPORT_E2E_TEST_STARTED(test_sigterm_interrupts_and_flushes),
		SUPPORT_E2E_TEST_STARTED(test_crash_leaves_acknowledged_orders),
	};
	return cmocka_run_group_tests_name("e2e_protocol", tests, NULL, NULL);
}
