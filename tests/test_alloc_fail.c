/* Every allocation of the session, run and connection code fails in turn:
 * the Nth malloc/calloc/realloc returns NULL, for N = 1, 2, ... until a
 * pass sees no failure. No crash, and (under ASan or valgrind) no leak.
 * The binary is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
 * (see the Makefile), which reroutes our objects' calls, not libevent's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "server/conn.h"
#include "server/conn_stage.h"
#include "server/run.h"
#include "server/server.h"
#include "server/session.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static long alloc_count, fail_at, failures;

static int alloc_fails(void)
{
	if (++alloc_count == fail_at) {
		failures++;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_reap(arg);
}

static const struct order_spec orders[] = { { .name = "A", .meal_us = 1000 },
                                            { .name = "B", .meal_us = 2000 } };

/* Sessions with runs and enough lines to grow every array they own. */
static void exercise_sessions(struct server *srv)
{
	struct session *s[3];
	char line[64];

	for (int i = 0; i < 3; i++)
		s[i] = session_new(srv);
	for (int i = 0; i < 3; i++) {
		if (!s[i])
			continue;
		assert_ptr_equal(session_find(srv, s[i]->id), s[i]);
		for (int r = 0; r < 6; r++) {
			struct run *run = run_new_explicit((uint64_t)r + 1, MODE_ASYNC, orders, 2,
			                                   &srv->hooks, s[i]);
			if (run && session_add_run(s[i], run) < 0)
				run_free(run);
		}
		for (int l = 0; l < 40; l++) {
			struct proto_event ev = { .seq = session_next_seq(s[i]), .run = 1, .order = 1,
			                          .step = STEP_DELIVERED, .t_us = (uint64_t)l, .name = "A" };
			session_publish_event(s[i], &ev, 0);
		}
		int n = snprintf(line, sizeof line, "DONE seq=%d\n", 41);
		session_publish_done(s[i], session_next_seq(s[i]), line, (size_t)n);
		session_free(s[i]);
	}
}

/* A connection through its greeting: accept, loop, close. */
static void exercise_conn(struct server *srv)
{
	int sv[2];
	char buf[512];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn_accept(srv, sv[0]);   /* takes sv[0], even when it fails */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	ssize_t n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
	/* greeted, or (an allocation failed) nothing or a closed socket */
	if (n > 0) {
		buf[n] = '\0';
		assert_non_null(strstr(buf, "HELLO "));
	}
	/* Live event lines through the stage, then a DONE that flushes it. */
	if (srv->conns && srv->conns->session) {
		struct session *s = srv->conns->session;
		for (int l = 0; l < 3; l++) {
			struct proto_event ev = { .seq = session_next_seq(s), .run = 1, .order = 1,
			                          .step = STEP_EATEN, .t_us = (uint64_t)l, .name = "A" };
			session_publish_event(s, &ev, 0);
		}
		char line[64];
		int len = snprintf(line, sizeof line, "DONE seq=%d\n", 4);
		session_publish_done(s, session_next_seq(s), line, (size_t)len);
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
	}
	while (srv->conns)
		conn_kill(srv->conns);
	conn_reap(srv);
	close(sv[1]);
}

static void scenario(void)
{
	struct server_config cfg = { .max_conns = 10, .max_sessions = 10, .session_ttl_s = 60,
	                             .idle_timeout_us = 60000000 };
	struct server srv = { .cfg = &cfg };
	srv.base = event_base_new();
	assert_non_null(srv.base);
	event_base_priority_init(srv.base, PRIO_COUNT);
	srv.reaper = event_new(srv.base, -1, 0, reaper_cb, &srv);
	srv.stop_timer = event_new(srv.base, -1, 0, noop_cb, NULL);
	assert_non_null(srv.reaper);
	exercise_sessions(&srv);
	if (conn_stage_init(&srv) == 0)   /* the server does not start without it */
		exercise_conn(&srv);
	session_free_all(&srv);
	event_free(srv.reaper);
	event_free(srv.stop_timer);
	event_base_free(srv.base);
	conn_stage_free(&srv);
}

static void test_every_allocation_fails_once(void **state)
{
	(void)state;
	fail_at = 0;
	alloc_count = 0;
	scenario();
	long total = alloc_count;
	assert_true(total >= 20);   /* the scenario does allocate, a lot */
	for (fail_at = 1; fail_at <= total; fail_at++) {
		alloc_count = 0;
		failures = 0;
		scenario();
		assert_int_equal(failures, 1);
	}
	print_message("%ld allocations, each failed once: no crash\n", total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_allocation_fails_once),
	};
	return cmocka_run_group_tests_name("alloc_fail", tests, NULL, NULL);
}
