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
#include <time.h>
#include <unistd.h>

#include "tests/support.h"

#define CLIENTS 1000
#define DEADLINE_MS 120000

struct client {
	struct test_conn conn;
	int oks, dones;
	int leaves_early;       /* closes right after its first OK */
	int finished;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Handles one line; returns 1 when this client is finished. */
static int client_line(struct client *c, const char *line)
{
	if (strncmp(line, "HELLO ", 6) == 0)
		return support_send(&c->conn, "RUN async A:20ms B:30ms C:40ms\nRUN sync A:5ms B:5ms\n") < 0;
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
		assert_true(now_ms() < deadline);
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

/* One wave: every client connects, submits, reads or leaves early; then
 * the runs of those that left end on their own. Returns the runs acked. */
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
	free(cl);
	assert_true(acked >= CLIENTS * 2 - CLIENTS / 10);
	while (support_sql_int(db, "select count(*) from runs where status != 'done'") != 0)
		assert_true(now_ms() < deadline);
	return acked;
}

static void test_thousand_clients(void **state)
{
	(void)state;
	char dir[4096], db[4200];
	struct test_server srv = { 0 };   /* its log path is read: unset */

	raise_fd_limit();
	assert_int_equal(support_tmpdir(dir, sizeof dir), 0);
	snprintf(db, sizeof db, "%s/baedal.db", dir);
	/* Sessions are kept for re-attaching; a short TTL lets them go. */
	assert_int_equal(support_server_start(&srv, db, "--session-ttl", "1s", NULL), 0);
	long long deadline = now_ms() + DEADLINE_MS;
	long rss0 = support_server_rss_kb(&srv);

	int acked = wave(&srv, db, deadline);
	usleep(2500000);   /* the detached sessions expire */
	long rss1 = support_server_rss_kb(&srv);
	acked += wave(&srv, db, deadline);
	usleep(2500000);
	long rss2 = support_server_rss_kb(&srv);
	char detail[256];
	support_server_memory_detail(&srv, detail, sizeof detail);
	print_message("server RSS: %ld kB at start, %ld kB after a wave of %d clients, %ld kB "
	              "after a second (%d runs in all; now %s)\n", rss0, rss1, CLIENTS, rss2, acked,
	              detail);
	/* Freed memory stays with the allocator, so not back to the start;
	 * but a second wave must reuse it, not add to it. */
	if (support_rss_is_meaningful()) {
		assert_true(rss1 < rss0 + 32 * 1024);
		assert_true(rss2 < rss1 + 4 * 1024);
	}
	assert_int_equal(support_server_stop(&srv, 20000), 0);

	assert_true(support_sql_int(db, "select count(*) from runs") >= acked);
	assert_int_equal(support_sql_int(db,
		"select count(*) from (select o.run_id, o.idx, count(e.step) as n from orders o "
		"left join events e on e.run_id = o.run_id and e.idx = o.idx "
		"group by o.run_id, o.idx) where n != 3"), 0);
	assert_int_equal(support_timing_violations(db), 0);
	support_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thousand_clients),
	};
	return cmocka_run_group_tests_name("e2e_load", tests, NULL, NULL);
}
