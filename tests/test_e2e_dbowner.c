/* End to end, who owns the database: one server at a time (a second one
 * on a live server's database is refused before it touches anything), a
 * database file deleted under a running server (new runs get ERR storage
 * instead of an acknowledgement into a file nobody can open), and limits
 * that the database can always hold (--max-meal at its largest); a bad
 * address refused before anything is touched. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support.h"

#define WAIT_MS 60000

struct fixture {
	char dir[4096];
	char db[4200];
	struct test_server srv, other;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || support_e2e_dir(f->dir, sizeof f->dir, f->db, sizeof f->db) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	support_server_kill(&f->other);
	support_server_kill(&f->srv);
	support_rmtree(f->dir);
	free(f);
	return 0;
}

/* The next line that is not a run's event or DONE starts with prefix. */
static void expect_reply(struct test_conn *c, const char *prefix, char *line, size_t cap)
{
	do {
		if (support_read_line(c, line, cap, WAIT_MS) != 0)
			fail_msg("no line where '%s' was expected", prefix);
	} while (strncmp(line, "EV ", 3) == 0 || strncmp(line, "DONE ", 5) == 0);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		fail_msg("expected '%s...', got '%s'", prefix, line);
}

static void connect_greeted(struct test_conn *c, int port)
{
	char line[512];
	assert_int_equal(support_connect(c, port), 0);
	if (support_read_line(c, line, sizeof line, WAIT_MS) != 0 || strncmp(line, "HELLO ", 6))
		fail_msg("no HELLO from the server");
}

/* Starting srv on db must fail: a non-zero exit with want in its log
 * (<dir>/<name>.log), which is returned (the caller frees it). */
static char *expect_refused(struct fixture *f, struct test_server *srv, const char *name,
                            const char *want, ...)
{
	va_list ap;
	const char *flags[8] = { NULL };
	int n = 0;
	va_start(ap, want);
	while (n < 7 && (flags[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	snprintf(srv->log, sizeof srv->log, "%s/%s.log", f->dir, name);
	assert_int_equal(support_server_start(srv, f->db, flags[0], flags[1], flags[2], flags[3],
	                                      flags[4], flags[5], flags[6], NULL), -1);
	assert_true(WIFEXITED(srv->status) && WEXITSTATUS(srv->status) != 0);
	char *log = support_read_file(srv->log);
	assert_non_null(log);
	if (!strstr(log, want))
		fail_msg("expected '%s' in:\n%s", want, log);
	return log;
}

/* A second server on a live server's database exits with a message that
 * names the path and the first server's pid, and changes nothing: the
 * first one's run is still running and its run ids go on. */
static void test_second_server_refused(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char line[512], want[4400];

	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	connect_greeted(&c, f->srv.port);
	assert_int_equal(support_send(&c, "RUN async X:30s\n"), 0);
	expect_reply(&c, "OK run=1 ", line, sizeof line);

	snprintf(want, sizeof want, "%s is in use by another baedald (pid %ld)", f->db,
	         (long)f->srv.pid);
	char *log = expect_refused(f, &f->other, "second", want, NULL);
	assert_null(strstr(log, "interrupted"));
	free(log);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs"), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where run_id = 1 and "
	                                        "status = 'running'"), 1);

	assert_int_equal(support_send(&c, "RUN async Y:1ms\n"), 0);
	expect_reply(&c, "OK run=2 ", line, sizeof line);
	support_close(&c);
	assert_int_equal(support_server_stop(&f->srv, WAIT_MS), 0);

	/* Once the first one is gone, the database is free again. */
	memset(&f->other, 0, sizeof f->other);
	assert_int_equal(support_server_start(&f->other, f->db, NULL), 0);
	assert_int_equal(support_server_stop(&f->other, WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where run_id = 1 and "
	                                        "status = 'interrupted'"), 1);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

/* The database deleted under a running server: new runs are refused with
 * ERR storage and the reason; the server says so in its log once. */
static void test_deleted_database_refuses_runs(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char line[4600], path[4300];

	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	connect_greeted(&c, f->srv.port);
	assert_int_equal(support_send(&c, "RUN async A:1ms\n"), 0);
	expect_reply(&c, "OK run=1 ", line, sizeof line);

	assert_int_equal(unlink(f->db), 0);
	snprintf(path, sizeof path, "%s-wal", f->db);
	unlink(path);
	snprintf(path, sizeof path, "%s-shm", f->db);
	unlink(path);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(support_send(&c, "RUN async A:10ms\n"), 0);
		expect_reply(&c, "ERR storage ", line, sizeof line);
		if (!strstr(line, "was deleted or replaced; restart baedald") || !strstr(line, f->db))
			fail_msg("ERR storage without the reason: '%s'", line);
	}
	assert_int_equal(support_send(&c, "PING\n"), 0);
	expect_reply(&c, "OK pong", line, sizeof line);
	support_close(&c);
	assert_int_equal(support_server_stop(&f->srv, WAIT_MS), 0);
	char *log = support_read_file(f->srv.log);
	assert_non_null(log);
	/* at the error level, like every store error */
	assert_int_equal(count_of(log, "error: store: the database file "), 1);
	assert_non_null(strstr(log, "was deleted or replaced: nothing more can be stored"));
	free(log);
}

/* "RUN_SPAN": INT64_MAX / 2 microseconds, the longest run the database
 * can hold with room left for the wall clock; with one order and 1 us
 * cooks the longest meal is one microsecond less. */
#define LONGEST_MEAL "4611686018427387902us"
#define TOO_LONG_MEAL "4611686018427387903us"

static void test_max_meal_is_storable(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char line[512];

	char *log = expect_refused(f, &f->other, "too-long", "--max-meal", "--max-orders", "1",
	                           "--max-cook", "1us", "--max-meal", TOO_LONG_MEAL, NULL);
	assert_int_equal(WEXITSTATUS(f->other.status), 2);
	assert_non_null(strstr(log, "longer than the database can record"));
	free(log);
	/* With the default limits a far shorter meal is too long already. */
	log = expect_refused(f, &f->other, "default", "at most", "--max-meal", "100000h", NULL);
	free(log);
	log = expect_refused(f, &f->other, "ttl", "--session-ttl: at most 8760h", "--session-ttl",
	                     "8761h", NULL);
	free(log);

	assert_int_equal(support_server_start(&f->srv, f->db, "--max-orders", "1", "--max-cook",
	                                      "1us", "--max-meal", LONGEST_MEAL, NULL), 0);
	connect_greeted(&c, f->srv.port);
	assert_int_equal(support_send(&c, "RUN async A:" LONGEST_MEAL "\n"), 0);
	expect_reply(&c, "OK run=1 ", line, sizeof line);
	assert_int_equal(support_send(&c, "PING\n"), 0);
	expect_reply(&c, "OK pong", line, sizeof line);
	support_close(&c);
	assert_int_equal(support_server_stop(&f->srv, WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select meal_us = 4611686018427387902 from orders "
	                                        "where run_id = 1"), 1);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs where run_id = 1 and "
	                                        "status = 'interrupted'"), 1);
}

/* baedald with args (its --db the fixture's): its exit status; its
 * stderr in f->dir/usage.log. */
static int run_server(struct fixture *f, const char *args)
{
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "%s/baedald %s --db %s 2>%s/usage.log", support_build_dir(), args,
	         f->db, f->dir);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_usage_log(struct fixture *f, const char *want)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/usage.log", f->dir);
	char *log = support_read_file(path);
	assert_non_null(log);
	if (!strstr(log, want) || strstr(log, "http on") || strstr(log, "listening on"))
		fail_msg("expected '%s' and nothing bound in:\n%s", want, log);
	free(log);
}

/* A malformed address is a usage error (2, which a service manager does
 * not restart), told before the database is made or a port bound. */
static void test_bad_address_touches_nothing(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run_server(f, "--listen 127.0.0.1"), 2);
	expect_usage_log(f, "--listen 127.0.0.1: expected HOST:PORT");
	assert_int_equal(run_server(f, "--listen 127.0.0.1:70000 --http 127.0.0.1:0"), 2);
	expect_usage_log(f, "--listen 127.0.0.1:70000");
	assert_int_equal(run_server(f, "--listen 127.0.0.1:0 --http nonsense"), 2);
	expect_usage_log(f, "--http nonsense: expected HOST:PORT");
	assert_int_equal(access(f->db, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_second_server_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_database_refuses_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_meal_is_storable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_address_touches_nothing, setup, teardown),
	};
	return cmocka_run_group_tests_name("e2e_dbowner", tests, NULL, NULL);
}
