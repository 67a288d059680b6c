/* A bounded load test on loopback: a thousand clients at once, each two
 * runs, some leaving early. Every acknowledged order ends with exactly its
 * three events in the database, and the server's memory comes back down.
 * It stops by itself: every wait has a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support.h"

#define CLIENTS 1000
#define DEADLINE_MS 120000

struct client {
	struct test_conn conn;
	char session[33];
	int oks, dones;
	int leaves_early;       /* closes right after its first OK */
	int finished;
};

/* Handles one line; returns 1 when this client is finished. */
static int client_line(struct client *c, const char *line)
{
	if (strncmp(line, "HELLO ", 6) == 0) {
		const char *id = strstr(line, " session=");
		assert_non_null(id);
		snprintf(c->session, sizeof c->session, "%.32s", id + 9);
		return support_send(&c->conn, "RUN async A:20ms B:30ms C:40ms\nRUN sync A:5ms B:5ms\n") < 0;
	}
	if (strncmp(line, "OK run=", 7) == 0) {
		c->oks++;
		return c->leaves_early;
	}
	if (strncmp(line, "DONE ", 5) == 0) {
		assert_non_null(strstr(line, "status=done"));
		return ++c->dones == 2;
	}
	if (strncmp(line, "EV ", 3) == 0)
		return 0;
	fail_msg("unexpected line: %s", line);
	return 1;
}

static int client_pump(struct client *c)
{
	char line[4096];
	int got = support_recv(&c->conn);
	while (support_take_line(&c->conn, line, sizeof line) == 0) {
		if (client_line(c, line))
			return 1;
	}
	if (got <= 0)
		fail_msg("a connection closed before its runs ended");
	return 0;
}

static void drive(struct client *cl, int n, long long deadline)
{
	struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
	int left = n;
	assert_non_null(pfd);
	while (left > 0) {
		assert_true(support_now_ms() < deadline);
		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = cl[i].finished ? -1 : cl[i].conn.fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, 1000) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) || cl[i].finished)
				continue;
			if (client_pump(&cl[i])) {
				cl[i].finished = 1;
				support_close(&cl[i].conn);
				left--;
			}
		}
	}
	free(pfd);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur > CLIENTS + 64);
}

/* Whether the server still keeps session id: RUNS about it answers
 * something other than no_session. */
static int session_kept(struct test_conn *probe, const char *id)
{
	char cmd[64], line[4096];
	snprintf(cmd, sizeof cmd, "RUNS %s\n", id);
	assert_int_equal(support_send(probe, cmd), 0);
	do {
		assert_int_equal(support_read_line(probe, line, sizeof line, SUPPORT_WAIT_MS),
		                 SUPPORT_LINE);
	} while (strncmp(line, "RUNINFO ", 8) == 0);
	if (strncmp(line, "ERR no_session ", 15) == 0)
		return 0;
	assert_memory_equal(line, "OK runs=", 8);
	return 1;
}

/* Waits until every client's session has expired (--session-ttl). */
static void wait_sessions_gone(const struct test_server *srv, const struct client *cl, int n,
                               long long deadline)
{
	struct test_conn probe;
	support_connect_greeted(&probe, srv->port, NULL, 0);
	for (int i = 0; i < n; i++) {
		while (session_kept(&probe, cl[i].session)) {
			assert_true(support_now_ms() < deadline);
			usleep(50000);
		}
	}
	support_close(&probe);
}

/* One wave: every client connects, submits, reads or leaves early; then
 * the runs of those that left end on their own, and every session
 * expires. Returns the runs acked. */
static int wave(const struct test_server *srv, const char *db, long long deadline)
{
	struct client *cl = calloc(CLIENTS, sizeof *cl);
	int acked = 0;

	assert_non_null(cl);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i].leaves_early = i % 10 == 0;
		assert_int_equal(support_connect(&cl[i].conn, srv->port), 0);
	}
	drive(cl, CLIENTS, deadline);
	for (int i = 0; i < CLIENTS; i++) {
		acked += cl[i].oks;
		if (!cl[i].leaves_early)
			assert_int_equal(cl[i].dones, 2);
	}
	assert_true(acked >= CLIENTS * 2 - CLIENTS / 10);
	while (support_sql_int(db, "select count(*) from runs where status != 'done'") != 0) {
		assert_true(support_now_ms() < deadline);
		usleep(50000);
	}
	wait_sessions_gone(srv, cl, CLIENTS, deadline);
	free(cl);
	return acked;
}

/* The server keeps sessions for re-attaching; a short TTL lets them go. */
static int setup(void **state)
{
	if (support_e2e_setup(state) < 0)
		return -1;
	struct support_e2e *f = *state;
	if (support_server_start(&f->srv, f->db, "--session-ttl", "1s", NULL) < 0) {
		fprintf(stderr, "baedald did not start\n");
		support_e2e_teardown(state);
		return -1;
	}
	return 0;
}

static void test_thousand_clients(void **state)
{
	struct support_e2e *f = *state;

	raise_fd_limit();
	long long deadline = support_now_ms() + DEADLINE_MS;
	long rss0 = support_server_rss_kb(&f->srv);

	int acked = wave(&f->srv, f->db, deadline);
	long rss1 = support_server_rss_kb(&f->srv);
	acked += wave(&f->srv, f->db, deadline);
	long rss2 = support_server_rss_kb(&f->srv);
	char detail[256];
	support_server_memory_detail(&f->srv, detail, sizeof detail);
	print_message("server RSS: %ld kB at start, %ld kB after a wave of %d clients, %ld kB "
	              "after a second (%d runs in all; now %s)\n", rss0, rss1, CLIENTS, rss2, acked,
	              detail);
	/* Freed memory stays with the allocator, so not back to the start;
	 * but a second wave must reuse it, not add to it. */
	if (support_rss_is_meaningful()) {
		assert_true(rss1 < rss0 + 32 * 1024);
		assert_true(rss2 < rss1 + 4 * 1024);
	}
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);

	assert_true(support_sql_int(f->db, "select count(*) from runs") >= acked);
	assert_int_equal(support_sql_int(f->db,
		"select count(*) from (select o.run_id, o.idx, count(e.step) as n from orders o "
		"left join events e on e.run_id = o.run_id and e.idx = o.idx "
		"group by o.run_id, o.idx) where n != 3"), 0);
	assert_int_equal(support_timing_violations(f->db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thousand_clients, setup, support_e2e_teardown),
	};
	return cmocka_run_group_tests_name("e2e_load", tests, NULL, NULL);
}
