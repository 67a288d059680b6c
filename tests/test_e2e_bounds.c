/* What a client cannot make the server hold without bound: the input of a
 * connection whose command waits for its commit, the sessions' replay
 * rings (in process), a full session table, and a client's number that
 * would wrap (end to end). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "server/conn.h"
#include "server/conn_stage.h"
#include "server/server.h"
#include "server/session.h"
#include "tests/support.h"

#define WAIT_MS 30000

struct fixture {
	char dir[4096];
	char db[4200];
	struct test_server srv;
};

static int fixture_new(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || support_e2e_dir(f->dir, sizeof f->dir, f->db, sizeof f->db) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = support_e2e_end(&f->srv, f->db, f->dir, WAIT_MS);
	free(f);
	return rc;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_line(struct test_conn *c, const char *prefix)
{
	char line[4096];
	if (support_read_line(c, line, sizeof line, WAIT_MS) < 0)
		fail_msg("no line where '%s' was expected", prefix);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		fail_msg("expected '%s...', got '%s'", prefix, line);
}

/* ---- input while a command waits for its commit --------------------------- */

#define PING_CHUNK_PINGS 13107               /* 64 KiB of "PING\n" */
#define PING_SEND_MAX (64ll << 20)
#define PING_SEND_MS 10000
#define PING_STALL_MS 2000

/* Sends "PING\n" lines without reading, as fast as the server takes them,
 * until PING_SEND_MAX bytes are sent, PING_SEND_MS have passed, or the
 * server took nothing for PING_STALL_MS. Returns the bytes sent; the last
 * line may be cut short. */
static long long stream_pings(struct test_conn *c)
{
	static char chunk[PING_CHUNK_PINGS * 5];
	for (size_t i = 0; i < sizeof chunk; i += 5)
		memcpy(chunk + i, "PING\n", 5);
	long long sent = 0, start = now_ms(), last_progress = start;
	while (sent < PING_SEND_MAX && now_ms() - start < PING_SEND_MS &&
	       now_ms() - last_progress < PING_STALL_MS) {
		size_t off = (size_t)(sent % (long long)sizeof chunk);
		ssize_t n = send(c->fd, chunk + off, sizeof chunk - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			sent += n;
			last_progress = now_ms();
			continue;
		}
		assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		poll(&pfd, 1, 100);
	}
	return sent;
}

/* Reads the replies to the GEN and to the pings of the sent bytes: the
 * GEN's OK first, then every pong; DONE and LAGGED lines may come between.
 * The rest of a line cut short is sent as the server makes room for it
 * (sending it blocking could wait on a server that waits on this reader).
 * Reads in bulk: a line at a time through a small buffer would take
 * minutes. */
static void expect_ok_then_pongs(struct test_conn *c, long long sent)
{
	static char buf[1 << 16];
	size_t len = 0;
	long long pongs = 0, pings = (sent + 4) / 5;
	const char *tail = "PING\n" + sent % 5;
	size_t tail_len = sent % 5 ? strlen(tail) : 0;
	int got_ok = 0;
	long long end = now_ms() + 2 * WAIT_MS;
	while (pongs < pings) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (tail_len ? POLLOUT : 0) };
		if (now_ms() > end)
			fail_msg("%lld of %lld pongs read (GEN's OK %s)", pongs, pings,
			         got_ok ? "read" : "not read");
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if (pfd.revents & POLLOUT) {
			ssize_t w = send(c->fd, tail, tail_len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0) {
				tail += w;
				tail_len -= (size_t)w;
			}
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = recv(c->fd, buf + len, sizeof buf - len, 0);
		if (n <= 0)
			fail_msg("connection closed after %lld of %lld pongs", pongs, pings);
		len += (size_t)n;
		char *p = buf, *nl;
		while ((nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL) {
			*nl = '\0';
			if (strncmp(p, "OK run=", 7) == 0 && !got_ok)
				got_ok = 1;
			else if (strcmp(p, "OK pong") == 0 && got_ok)
				pongs++;
			else if (strncmp(p, "DONE ", 5) != 0 && strncmp(p, "LAGGED ", 7) != 0)
				fail_msg("unexpected line '%s' after %lld pongs", p, pongs);
			p = nl + 1;
		}
		len -= (size_t)(p - buf);
		memmove(buf, p, len);
	}
}

/* A client streams PING lines while its large GEN waits for its commit and
 * reads nothing: the server must stop reading it rather than buffer all it
 * sends, and answer everything in order once it goes on. */
static void test_input_waits_for_commit(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char detail[256];
	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	assert_int_equal(support_connect(&c, f->srv.port), 0);
	expect_line(&c, "HELLO ");
	assert_int_equal(support_send(&c, "WATCH ends\n"), 0);
	expect_line(&c, "OK watch=ends");
	long rss0 = support_server_rss_kb(&f->srv);

	assert_int_equal(support_send(&c, "GEN async 200000 1s\n"), 0);
	long long sent = stream_pings(&c);
	long rss1 = support_server_rss_kb(&f->srv);
	support_server_memory_detail(&f->srv, detail, sizeof detail);
	print_message("%lld kB of PING lines sent; server RSS %ld kB before the GEN, %ld kB after "
	              "(%s)\n", sent / 1024, rss0, rss1, detail);
	/* The run's own memory is some 25 MB; the input the server would
	 * buffer were it to read on is the 64 MiB sent. */
	if (support_rss_is_meaningful())
		assert_true(rss1 - rss0 < 48 * 1024);
	expect_ok_then_pongs(&c, sent);
	support_close(&c);
}

/* ---- the replay rings (in process) ---------------------------------------- */

static void publish_events(struct session *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct proto_event ev = { .seq = session_next_seq(s), .run = 1, .order = 1,
		                          .step = STEP_DELIVERED, .name = "A" };
		session_publish_event(s, &ev, 0);
	}
}

/* More sessions than the budget has full rings for: the rings together
 * stay within it, the first grow to their limit, the last cannot; a
 * session left idle gives back what its ring did not use. */
static void test_replay_rings_within_budget(void **state)
{
	(void)state;
	struct server_config cfg = { .max_sessions = 100000, .session_ttl_s = 60 };
	struct server srv = { .cfg = &cfg };
	size_t full = SESSION_REPLAY_MAX * sizeof(struct replay_line);
	size_t n = SESSION_REPLAY_BUDGET / full + 8, held = 0;
	struct session **s = calloc(n, sizeof *s);
	assert_non_null(s);
	srv.base = event_base_new();
	assert_non_null(srv.base);
	for (size_t i = 0; i < n; i++) {
		s[i] = session_new(&srv);
		assert_non_null(s[i]);
		publish_events(s[i], SESSION_REPLAY_MAX + 10);
		held += s[i]->replay_cap * sizeof(struct replay_line);
	}
	print_message("%zu sessions: replay rings hold %zu kB (budget %zu kB)\n", n,
	              session_replay_bytes(&srv) / 1024, (size_t)SESSION_REPLAY_BUDGET / 1024);
	assert_int_equal(session_replay_bytes(&srv), held);
	assert_true(held <= SESSION_REPLAY_BUDGET);
	assert_int_equal(s[0]->replay_cap, SESSION_REPLAY_MAX);
	assert_true(s[n - 1]->replay_cap < SESSION_REPLAY_MAX);

	/* Room again: a new session's ring grows by doubling (16, 32), and
	 * shrinks to its 20 lines once detached with nothing running. */
	session_free(s[0]);
	s[0] = session_new(&srv);
	assert_non_null(s[0]);
	publish_events(s[0], 20);
	assert_int_equal(s[0]->replay_cap, 32);
	session_detach(s[0]);
	assert_int_equal(s[0]->replay_cap, 20);
	assert_int_equal(s[0]->replay_len, 20);
	publish_events(s[0], 1);
	assert_int_equal(s[0]->replay_cap, 40);
	assert_int_equal(s[0]->replay_len, 21);

	session_free_all(&srv);
	assert_int_equal(session_replay_bytes(&srv), 0);
	event_base_free(srv.base);
	free(s);
}

/* ---- a full session table ------------------------------------------------ */

/* Connects; the session's id from the HELLO goes to id. */
static void connect_session(struct test_conn *c, int port, char id[64])
{
	char line[4096];
	assert_int_equal(support_connect(c, port), 0);
	assert_int_equal(support_read_line(c, line, sizeof line, WAIT_MS), 0);
	if (sscanf(line, "HELLO proto=%*s session=%63s", id) != 1)
		fail_msg("expected a HELLO, got '%s'", line);
}

/* Runs one short order to its DONE, then QUITs and waits for the server
 * to close: the session is detached with nothing running. */
static void run_one_and_leave(struct test_conn *c)
{
	char line[4096];
	assert_int_equal(support_send(c, "WATCH ends\nRUN async A:1ms\n"), 0);
	expect_line(c, "OK watch=ends");
	expect_line(c, "OK run=");
	expect_line(c, "DONE ");
	assert_int_equal(support_send(c, "QUIT\n"), 0);
	expect_line(c, "OK bye");
	expect_line(c, "BYE reason=quit");
	assert_int_equal(support_read_line(c, line, sizeof line, WAIT_MS), -1);
	support_close(c);
}

/* With the table full, a new client takes the place of the session idle
 * the longest; it is refused only while every session is attached or
 * has something running. */
static void test_full_table_evicts_idle(void **state)
{
	struct fixture *f = *state;
	struct test_conn c[4], extra[4], late;
	char id[4][64], extra_id[4][64], cmd[160], line[4096];
	assert_int_equal(support_server_start(&f->srv, f->db, "--max-sessions", "4", NULL), 0);
	for (int i = 0; i < 4; i++) {
		connect_session(&c[i], f->srv.port, id[i]);
		run_one_and_leave(&c[i]);
	}
	/* The table holds four idle sessions: each newcomer drops the oldest. */
	connect_session(&extra[0], f->srv.port, extra_id[0]);
	snprintf(cmd, sizeof cmd, "ATTACH %s\n", id[0]);
	assert_int_equal(support_send(&extra[0], cmd), 0);
	expect_line(&extra[0], "ERR no_session");
	snprintf(cmd, sizeof cmd, "RUNS %s\n", id[1]);
	assert_int_equal(support_send(&extra[0], cmd), 0);
	expect_line(&extra[0], "RUNINFO ");
	expect_line(&extra[0], "OK runs=1");
	for (int i = 1; i < 4; i++)
		connect_session(&extra[i], f->srv.port, extra_id[i]);
	snprintf(cmd, sizeof cmd, "RUNS %s\n", id[3]);
	assert_int_equal(support_send(&extra[0], cmd), 0);
	expect_line(&extra[0], "ERR no_session");

	/* Four attached sessions: nothing may go. */
	assert_int_equal(support_connect(&late, f->srv.port), 0);
	assert_int_equal(support_read_line(&late, line, sizeof line, WAIT_MS), 0);
	assert_string_equal(line, "BYE reason=busy");
	support_close(&late);

	/* One leaves with an order still running: its session stays too. */
	assert_int_equal(support_send(&extra[1], "WATCH ends\nRUN async A:1m\nQUIT\n"), 0);
	expect_line(&extra[1], "OK watch=ends");
	expect_line(&extra[1], "OK run=");
	expect_line(&extra[1], "OK bye");
	expect_line(&extra[1], "BYE reason=quit");
	assert_int_equal(support_read_line(&extra[1], line, sizeof line, WAIT_MS), -1);
	support_close(&extra[1]);
	assert_int_equal(support_connect(&late, f->srv.port), 0);
	assert_int_equal(support_read_line(&late, line, sizeof line, WAIT_MS), 0);
	assert_string_equal(line, "BYE reason=busy");
	support_close(&late);
	snprintf(cmd, sizeof cmd, "RUNS %s\n", extra_id[1]);
	assert_int_equal(support_send(&extra[0], cmd), 0);
	expect_line(&extra[0], "RUNINFO ");
	for (int i = 0; i < 4; i++) {
		if (i != 1)
			support_close(&extra[i]);
	}
}

/* ---- a client's number --------------------------------------------------- */

/* ATTACH with the largest seq asks for nothing: no LAGGED notice (since + 1
 * would wrap to 0 and claim a line missed), and nothing before the pong.
 * The reply is OK, or the refusal of a seq past the session's last; the
 * runs described before it are skipped. */
static void test_attach_largest_seq(void **state)
{
	struct fixture *f = *state;
	struct test_conn c;
	char line[4096], session[64], cmd[160];
	assert_int_equal(support_server_start(&f->srv, f->db, NULL), 0);
	assert_int_equal(support_connect(&c, f->srv.port), 0);
	assert_int_equal(support_read_line(&c, line, sizeof line, WAIT_MS), 0);
	assert_int_equal(sscanf(line, "HELLO proto=%*s session=%63s", session), 1);
	assert_int_equal(support_send(&c, "RUN async A:1ms\n"), 0);
	expect_line(&c, "OK run=");
	expect_line(&c, "EV ");
	expect_line(&c, "EV ");
	expect_line(&c, "EV ");
	expect_line(&c, "DONE ");
	snprintf(cmd, sizeof cmd, "ATTACH %s 18446744073709551615\nPING\n", session);
	assert_int_equal(support_send(&c, cmd), 0);
	do
		assert_int_equal(support_read_line(&c, line, sizeof line, WAIT_MS), 0);
	while (strncmp(line, "RUNINFO ", 8) == 0 || strncmp(line, "ORDER ", 6) == 0);
	if (strncmp(line, "OK attached ", 12) != 0 && strncmp(line, "ERR bad_seq ", 12) != 0)
		fail_msg("expected the ATTACH's reply, got '%s'", line);
	expect_line(&c, "OK pong");
	support_close(&c);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_reap(arg);
}

/* Turns the loop until the client's end has bytes (event lines leave up to
 * CONN_STAGE_WAIT_US after they are made), with a generous deadline. */
static ssize_t recv_once_sent(struct event_base *base, int fd, char *buf, size_t cap)
{
	for (int i = 0; i < 2000; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n > 0)
			return n;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 5);
	}
	return -1;
}

/* Bytes the server holds for the connection: its output and staged lines. */
static size_t unsent(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + conn_stage_len(c);
}

/* The same in process, whatever ATTACH lets through: a replay after the
 * largest seq sends nothing at all, and one after 0 announces no miss. */
static void test_replay_after_largest_seq(void **state)
{
	(void)state;
	struct server_config cfg = { .max_conns = 4, .max_sessions = 4, .session_ttl_s = 60,
	                             .idle_timeout_us = 60000000 };
	struct server srv = { .cfg = &cfg };
	char buf[4096];
	int sv[2];
	srv.base = event_base_new();
	assert_non_null(srv.base);
	event_base_priority_init(srv.base, PRIO_COUNT);
	srv.reaper = event_new(srv.base, -1, 0, reaper_cb, &srv);
	assert_non_null(srv.reaper);
	assert_int_equal(conn_stage_init(&srv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn_accept(&srv, sv[0]);
	assert_non_null(srv.conns);
	struct session *s = srv.conns->session;
	ssize_t n = recv_once_sent(srv.base, sv[1], buf, sizeof buf - 1);
	assert_true(n > 0 && strncmp(buf, "HELLO ", 6) == 0);

	publish_events(s, 3);
	n = recv_once_sent(srv.base, sv[1], buf, sizeof buf - 1);
	assert_true(n > 0);
	assert_int_equal(unsent(srv.conns), 0);
	session_replay(s, UINT64_MAX);
	/* Nothing sent, staged or queued: a line would be one of these. */
	assert_int_equal(unsent(srv.conns), 0);
	session_replay(s, 0);
	/* A replay goes to the output whole, at once: none of it waits staged
	 * for a later write than the reply it follows. */
	assert_int_equal(conn_stage_len(srv.conns), 0);
	assert_true(unsent(srv.conns) > 0);
	n = recv_once_sent(srv.base, sv[1], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_null(strstr(buf, "LAGGED"));
	assert_non_null(strstr(buf, "EV seq=3 "));

	while (srv.conns)
		conn_kill(srv.conns);
	conn_reap(&srv);
	close(sv[1]);
	session_free_all(&srv);
	event_free(srv.reaper);
	event_base_free(srv.base);
	conn_stage_free(&srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_input_waits_for_commit, fixture_new, teardown),
		cmocka_unit_test(test_replay_rings_within_budget),
		cmocka_unit_test_setup_teardown(test_full_table_evicts_idle, fixture_new, teardown),
		cmocka_unit_test_setup_teardown(test_attach_largest_seq, fixture_new, teardown),
		cmocka_unit_test(test_replay_after_largest_seq),
	};
	return cmocka_run_group_tests_name("e2e_bounds", tests, NULL, NULL);
}
