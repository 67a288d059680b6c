/* End-to-end tests of the web side against requests that misuse it: HEAD
 * on its streams, sessions asked for and left, NUL bytes and repeated
 * keys, session ids in upper case, methods a route does not take, pages
 * of other sites. Each
 * once held a slot, cut a value short unseen or answered wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support.h"
#include "tests/support_http.h"

static int start(struct support_e2e *e)
{
	return support_server_start(&e->srv, e->db, "--http", "127.0.0.1:0", NULL);
}

/* Waits for run 1 to be stored with status (the store commits on its own
 * thread). */
static void wait_run_status(int port, const char *status)
{
	static struct http_reply r;
	char want[64];
	snprintf(want, sizeof want, "\"status\":\"%s\"", status);
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	do {
		http_do(port, "GET", "/api/runs/1", NULL, NULL, &r);
	} while (!strstr(r.body, want) && support_now_ms() < deadline && usleep(50000) == 0);
	if (!strstr(r.body, want))
		fail_msg("run 1 was not stored as %s: %.300s", status, r.body);
}

static void wait_run_done(int port)
{
	wait_run_status(port, "done");
}

/* The status line and headers of the next reply on c. */
static void read_head(struct test_conn *c, char *status, size_t cap)
{
	char line[4096];
	support_expect_prefix(c, "HTTP/1.1 ", status, cap);
	do {
		if (support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS) != SUPPORT_LINE)
			fail_msg("the reply's headers did not end");
	} while (strcmp(line, "\r") != 0);
}

/* HEAD on a stream (a trace, the events) gets its headers and the
 * connection goes on: it holds no export slot and no stream. More HEADs
 * than there are trace slots, each left open, and a trace still comes.
 * HEAD on any route sends no body: the next reply follows the headers. */
static void test_head_on_streams(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	struct test_conn heads[20];
	char sid[64], path[128], status[256], line[4096];
	assert_int_equal(start(e), 0);
	int port = http_port(&e->srv);
	new_session(port, sid, sizeof sid);
	snprintf(path, sizeof path, "session=%s&mode=async&orders=A:10ms+B:10ms", sid);
	post_run(port, path, 201, NULL, 0);
	wait_run_done(port);

	for (int i = 0; i < 20; i++) {
		if (support_connect(&heads[i], port) < 0)
			fail_msg("cannot connect to port %d", port);
		if (i % 4 == 3)   /* not a stream: its length, and no body */
			snprintf(path, sizeof path, "HEAD /api/runs/1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
		else if (i % 2)
			snprintf(path, sizeof path, "HEAD /api/runs/1/trace.json HTTP/1.1\r\n"
			         "Host: localhost\r\n\r\n");
		else
			snprintf(path, sizeof path, "HEAD /events?session=%s HTTP/1.1\r\n"
			         "Host: 127.0.0.1\r\n\r\n", sid);
		assert_int_equal(support_send(&heads[i], path), 0);
		read_head(&heads[i], status, sizeof status);
		if (strncmp(status, "HTTP/1.1 200", 12) != 0)
			fail_msg("HEAD %d: %s", i, status);
	}
	http_do(port, "GET", "/api/runs/1/trace.json", NULL, NULL, &r);
	if (r.status != 200 || !strstr(r.body, "\"traceEvents\""))
		fail_msg("a trace after the HEADs: %d %.200s", r.status, r.body);
	assert_non_null(strstr(r.head, "X-Content-Type-Options: nosniff"));
	/* The connections of the HEADs still answer. */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(support_send(&heads[i], "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
		                 0);
		read_head(&heads[i], status, sizeof status);
		if (strncmp(status, "HTTP/1.1 200", 12) != 0)
			fail_msg("after HEAD %d: %s", i, status);
		assert_int_equal(support_read_line(&heads[i], line, sizeof line, SUPPORT_WAIT_MS),
		                 SUPPORT_LINE);
		support_close(&heads[i]);
	}
	/* Traces left before their first piece: nothing of them stays (the
	 * sanitizers' leak check at the server's exit). */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(support_connect(&heads[0], port), 0);
		assert_int_equal(support_send(&heads[0], "GET /api/runs/1/trace.json HTTP/1.1\r\n"
		                              "Host: localhost\r\n\r\n"), 0);
		support_close(&heads[0]);
	}
	/* Their slots come back once the server sees them gone. */
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	do {
		http_do(port, "GET", "/api/runs/1/trace.json", NULL, NULL, &r);
	} while (r.status == 503 && support_now_ms() < deadline && usleep(100000) == 0);
	assert_int_equal(r.status, 200);
}

/* Sessions asked for and left do not use the web side up: past its limit
 * the connection used longest ago makes room, and a session with runs
 * stays the server's, so a request naming it still works. */
static void test_sessions_do_not_run_out(void **state)
{
	struct support_e2e *e = *state;
	char first[64], sid[64], form[256], body[4096];
	assert_int_equal(start(e), 0);
	int port = http_port(&e->srv);
	/* Its run still going when its connection is let go: the session is
	 * taken back, not refused as a terminal client's. */
	post_run(port, "mode=async&orders=LONG:10m", 201, body, sizeof body);
	json_str(body, "session", first, sizeof first);
	for (int i = 0; i < 300; i++)
		new_session(port, sid, sizeof sid);
	post_run(port, "mode=async&orders=A:1ms", 201, NULL, 0);
	snprintf(form, sizeof form, "session=%s&mode=async&orders=A:1ms", first);
	post_run(port, form, 201, body, sizeof body);
	assert_non_null(strstr(body, "\"run\":3,"));
	/* A failed submit leaves no more behind than a good one. */
	for (int i = 0; i < 300; i++)
		post_run(port, "mode=bogus&orders=A:1ms", 400, NULL, 0);
	post_run(port, "mode=sync&orders=A:1ms", 201, NULL, 0);
}

/* A %00 would end a value early once decoded; a key given twice would be
 * half ignored: both are refused, not cut short. */
static void test_nul_and_repeated_keys(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	char sid[64], path[160], body[4096];
	assert_int_equal(start(e), 0);
	int port = http_port(&e->srv);
	new_session(port, sid, sizeof sid);
	post_run(port, "mode=async&orders=A:10ms%00B:1ms", 400, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"bad_args\""));
	post_run(port, "mode=async&orders=A:10ms&orders=B:10ms", 400, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"bad_args\""));
	assert_non_null(strstr(body, "orders= is given 2 times"));
	snprintf(path, sizeof path, "/events?session=%s%%00", sid);
	http_do(port, "GET", path, NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"error\":\"bad_args\""));
	http_do(port, "GET", "/api/runs?session=%00", NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	snprintf(path, sizeof path, "/events?session=%s&session=%s", sid, sid);
	http_do(port, "GET", path, NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "session= is given twice in the URL"));
	/* A field the form does not take is refused, not dropped. */
	post_run(port, "mode=async&orders=A:1ms&dedline=1s", 400, body, sizeof body);
	assert_non_null(strstr(body, "the form takes no field 'dedline'"));
	/* Nothing was run. */
	http_do(port, "GET", "/api/runs", NULL, NULL, &r);
	assert_string_equal(r.body, "{\"runs\":[]}\n");
	/* The ones it takes reach the run. */
	post_run(port, "mode=async&orders=A:1ms+B:10m&riders=1&deadline=50ms", 201, NULL, 0);
	wait_run_status(port, "timed_out");
	http_do(port, "GET", "/api/runs/1", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "\"riders\":1,\"deadline_us\":50000,\"cancelled\":1}"));
}

/* A session id in upper case is the same session everywhere. */
static void test_session_id_case(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	char sid[64], path[160];
	assert_int_equal(start(e), 0);
	int port = http_port(&e->srv);
	new_session(port, sid, sizeof sid);
	for (char *p = sid; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(path, sizeof path, "session=%s&mode=async&orders=A:5ms", sid);
	post_run(port, path, 201, NULL, 0);
	wait_run_done(port);
	snprintf(path, sizeof path, "/api/runs?session=%s", sid);
	http_do(port, "GET", path, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	if (!strstr(r.body, "\"run\":1,"))
		fail_msg("GET %s: %.300s", path, r.body);
}

/* A method a route does not take: 405 and the methods it does take. */
static void test_method_allow(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	assert_int_equal(start(e), 0);
	int port = http_port(&e->srv);
	http_do(port, "DELETE", "/api/runs", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "\r\nAllow: GET, HEAD, POST"));
	http_do(port, "PUT", "/api/sessions", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "\r\nAllow: POST"));
	http_do(port, "POST", "/metrics", NULL, "", &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "\r\nAllow: GET, HEAD"));
}

/* Without a token, a page of another site could drive the browser of
 * someone on this machine: a request naming another host (DNS rebinding)
 * gets 403 bad_host, a POST from another origin 403 cross_origin, and
 * nothing runs. The server's own names and pages go through. */
static void test_other_sites_refused(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	char raw[512];
	assert_int_equal(start(e), 0);
	int port = http_port(&e->srv);
	snprintf(raw, sizeof raw, "GET /api/runs HTTP/1.1\r\nHost: evil.example:%d\r\n"
	         "Connection: close\r\n\r\n", port);
	http_exchange(port, raw, strlen(raw), &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "\"error\":\"bad_host\""));
	char hosts[4][64];
	snprintf(hosts[0], sizeof hosts[0], "localhost");
	snprintf(hosts[1], sizeof hosts[1], "LOCALHOST:%d", port);
	snprintf(hosts[2], sizeof hosts[2], "[::1]:%d", port);
	snprintf(hosts[3], sizeof hosts[3], "127.0.0.1:%d", port);
	for (int i = 0; i < 4; i++) {
		const char *host = hosts[i];
		snprintf(raw, sizeof raw, "GET /api/runs HTTP/1.1\r\nHost: %s\r\nConnection: close"
		         "\r\n\r\n", host);
		http_exchange(port, raw, strlen(raw), &r);
		if (r.status != 200)
			fail_msg("Host: %s: %d %s", host, r.status, r.body);
	}
	http_do(port, "POST", "/api/runs", "Origin: http://evil.example\r\n", "mode=async&orders=A:1ms",
	        &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "\"error\":\"cross_origin\""));
	http_do(port, "POST", "/api/runs", "Sec-Fetch-Site: cross-site\r\n", "mode=async&orders=A:1ms",
	        &r);
	assert_int_equal(r.status, 403);
	snprintf(raw, sizeof raw, "Origin: http://localhost:%d\r\n", port);
	http_do(port, "POST", "/api/runs", raw, "mode=async&orders=A:1ms", &r);
	assert_int_equal(r.status, 403);     /* Host 127.0.0.1: another origin */
	http_do(port, "GET", "/api/runs", NULL, NULL, &r);
	assert_string_equal(r.body, "{\"runs\":[]}\n");
	snprintf(raw, sizeof raw, "Origin: http://127.0.0.1:%d\r\n", port);
	http_do(port, "POST", "/api/runs", raw, "mode=async&orders=A:1ms", &r);
	assert_int_equal(r.status, 201);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST(test_head_on_streams),
		SUPPORT_E2E_TEST(test_sessions_do_not_run_out),
		SUPPORT_E2E_TEST(test_nul_and_repeated_keys),
		SUPPORT_E2E_TEST(test_session_id_case),
		SUPPORT_E2E_TEST(test_method_allow),
		SUPPORT_E2E_TEST(test_other_sites_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
