/* End-to-end tests of the web side against a real baedald, with raw HTTP
 * from the test: the JSON API and its errors, the token, the event
 * stream's order and resume, a stream that never reads, and a stall of
 * the loop on the stream and in the run's JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support.h"
#include "tests/support_http.h"

static int start(struct support_e2e *e, const char *flag1, const char *flag2)
{
	return support_server_start(&e->srv, e->db, "--http", "127.0.0.1:0", flag1, flag2, NULL);
}

/* A run's steps arrive in order, ids strictly increasing, its done last;
 * a second stream resuming after id 5 gets exactly the ones after it. */
static void test_sse_order_and_resume(void **state)
{
	struct support_e2e *e = *state;
	struct test_conn c, c2;
	struct sse_event ev;
	char sid[64], path[128], form[256];
	assert_int_equal(start(e, NULL, NULL), 0);
	int port = http_port(&e->srv);
	new_session(port, sid, sizeof sid);
	snprintf(path, sizeof path, "/events?session=%s", sid);
	sse_open(&c, port, path, NULL);
	snprintf(form, sizeof form, "session=%s&mode=async&orders=A:30ms+B:30ms+C:40ms", sid);
	post_run(port, form, 201, NULL, 0);
	long long last = 0;
	int steps[4] = { 0 };   /* per order: delivered, eaten, collected seen */
	for (;;) {
		if (sse_next(&c, &ev, SUPPORT_WAIT_MS) != SUPPORT_LINE)
			fail_msg("the stream ended before the run's done");
		if (strcmp(ev.event, "ev") != 0)
			break;
		assert_true(ev.id == last + 1);
		last = ev.id;
		const char *o = strstr(ev.data, "\"order\":");
		assert_non_null(o);
		int order = atoi(o + 8);
		assert_true(order >= 1 && order <= 3);
		const char *want[] = { "\"step\":\"delivered\"", "\"step\":\"eaten\"",
		                       "\"step\":\"collected\"" };
		assert_true(steps[order] < 3);
		if (!strstr(ev.data, want[steps[order]]))
			fail_msg("order %d: %s out of order", order, ev.data);
		steps[order]++;
	}
	assert_string_equal(ev.event, "done");
	assert_int_equal(ev.id, 10);
	assert_non_null(strstr(ev.data, "\"status\":\"done\""));
	assert_int_equal(steps[1] + steps[2] + steps[3], 9);

	sse_open(&c2, port, path, "Last-Event-ID: 5\r\n");
	for (long long want = 6; want <= 10; want++) {
		assert_int_equal(sse_next(&c2, &ev, SUPPORT_WAIT_MS), SUPPORT_LINE);
		assert_int_equal(ev.id, want);
	}
	assert_string_equal(ev.event, "done");
	/* Nothing more: no event repeated, none made up. */
	assert_int_equal(sse_next(&c2, &ev, 300), SUPPORT_TIMEOUT);
	support_close(&c);
	support_close(&c2);
}

/* Every error has its status and a JSON body with the protocol's code. */
static void test_error_statuses(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	static char big[40000];
	char sid[64], form[256], body[4096], hello[256];
	assert_int_equal(start(e, "--max-inflight", "3"), 0);
	int port = http_port(&e->srv);

	post_run(port, "mode=async&orders=A:3x", 400, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"bad_duration\""));
	post_run(port, "mode=fast&orders=A:3s", 400, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"bad_mode\""));
	post_run(port, "mode=async&orders=A:1ms%0APING", 400, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"bad_args\""));
	post_run(port, "mode=async&orders=A:10ms+B:10ms+C:10ms+D:10ms", 503, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"busy\""));
	http_do(port, "GET", "/nowhere", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "\"error\":\"not_found\""));
	http_do(port, "GET", "/api/runs/999", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	http_do(port, "GET", "/api/runs/999/trace.json", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	http_do(port, "DELETE", "/api/runs", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.body, "\"error\":\"method\""));
	memset(big, 'A', sizeof big - 1);
	memcpy(big, "orders=", 7);
	http_do(port, "POST", "/api/runs", NULL, big, &r);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "\"error\":\"too_large\""));
	http_do(port, "GET", "/events?session=nothex", NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	http_do(port, "GET", "/events?session=0123456789abcdef0123456789abcdef", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	/* A session a terminal holds is not taken from it. */
	support_connect_greeted(&e->c, e->srv.port, hello, sizeof hello);
	const char *at = strstr(hello, "session=");
	assert_non_null(at);
	snprintf(sid, sizeof sid, "%.32s", at + 8);
	snprintf(form, sizeof form, "session=%s&mode=async&orders=A:1ms", sid);
	post_run(port, form, 409, body, sizeof body);
	assert_non_null(strstr(body, "\"error\":\"session_attached\""));
	snprintf(form, sizeof form, "/events?session=%s&last_event_id=5", sid);
	http_do(port, "GET", form, NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"error\":\"bad_seq\""));
}

/* A JSON error with its status and code, as every error of the web side. */
static void assert_json_error(const struct http_reply *r, int status, const char *code)
{
	char want[64];
	snprintf(want, sizeof want, "{\"error\":\"%s\",\"message\":\"", code);
	if (r->status != status || strcmp(r->type, "application/json") != 0 ||
	    strncmp(r->body, want, strlen(want)) != 0)
		fail_msg("wanted %d %s in JSON, got %d (%s): %.200s", status, code, r->status, r->type,
		         r->body);
}

#define FLOOD_BYTES (64u << 20)

/* Past the body and header limits the reply is JSON too, the server stops
 * reading (a client sending 64 MiB gets its answer long before), and it
 * goes on serving. */
static void test_limits_answer_json(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	static char big[100 << 10], headers[12 << 10];
	const char *post = "POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                   "Content-Type: application/x-www-form-urlencoded\r\n";
	char head[512];
	assert_int_equal(start(e, NULL, NULL), 0);
	int port = http_port(&e->srv);

	memset(big, 'A', sizeof big - 1);
	memcpy(big, "orders=", 7);
	http_do(port, "POST", "/api/runs", NULL, big, &r);
	assert_json_error(&r, 413, "too_large");
	/* A declared length over the limit is answered before any body. */
	snprintf(head, sizeof head, "%sContent-Length: %u\r\n\r\norders=A", post, 10u << 20);
	http_exchange(port, head, strlen(head), &r);
	assert_json_error(&r, 413, "too_large");
	snprintf(head, sizeof head, "%sContent-Length: %u\r\n\r\n", post, FLOOD_BYTES);
	size_t in = http_flood(port, head, 0, FLOOD_BYTES, &r);
	if (in >= FLOOD_BYTES)
		fail_msg("the server read all %zu bytes of a body over its limit", in);
	assert_json_error(&r, 413, "too_large");
	snprintf(head, sizeof head, "%sTransfer-Encoding: chunked\r\n\r\n", post);
	in = http_flood(port, head, 1, FLOOD_BYTES, &r);
	if (in >= FLOOD_BYTES)
		fail_msg("the server read all %zu bytes of a chunked body over its limit", in);
	assert_json_error(&r, 413, "too_large");

	memset(headers, 'h', sizeof headers - 3);
	memcpy(headers, "X-Pad: ", 7);
	memcpy(headers + sizeof headers - 3, "\r\n", 3);
	http_do(port, "GET", "/api/runs", headers, NULL, &r);
	assert_json_error(&r, 400, "bad_request");
	http_exchange(port, "BREW /api/runs HTTP/1.1\r\n\r\n", 27, &r);
	assert_json_error(&r, 405, "method");

	http_do(port, "GET", "/api/runs", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(kill(e->srv.pid, 0), 0);
}

/* With a token, every request but the page's static files needs it; a
 * wrong one gets 401 and nothing else. */
static void test_token(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	assert_int_equal(start(e, "--token", "s3cret"), 0);
	int port = http_port(&e->srv);
	http_do(port, "GET", "/api/runs", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "\"error\":\"auth_required\""));
	assert_null(strstr(r.body, "\"runs\""));
	http_do(port, "GET", "/api/runs", "Authorization: Bearer wrong\r\n", NULL, &r);
	assert_int_equal(r.status, 401);
	http_do(port, "GET", "/", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	http_do(port, "GET", "/api/runs", "Authorization: Bearer s3cret\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	http_do(port, "GET", "/api/runs?token=s3cret", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	http_do(port, "GET", "/static/app.js", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	/* A run submitted through the web side passes the protocol's AUTH. */
	http_do(port, "POST", "/api/runs", "Authorization: Bearer s3cret\r\n",
	        "mode=sync&orders=A:1ms", &r);
	assert_int_equal(r.status, 201);
}

static void test_no_token(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	assert_int_equal(start(e, NULL, NULL), 0);
	int port = http_port(&e->srv);
	http_do(port, "GET", "/api/runs", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	http_do(port, "GET", "/", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<!doctype html>"));
}

/* A stream whose client never reads: the server drops its live events
 * past its budget instead of buffering a large run's lines, and once
 * read it says how many with a lagged event before the run's done. */
static void test_sse_never_read_is_bounded(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	struct test_conn c;
	char sid[64], path[128], form[256], line[4096];
	assert_int_equal(start(e, NULL, NULL), 0);
	int port = http_port(&e->srv);
	new_session(port, sid, sizeof sid);
	snprintf(path, sizeof path, "/events?session=%s", sid);
	sse_open(&c, port, path, NULL);
	int small = 4096;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	/* 300 000 events of about 110 bytes: 33 MB if all were kept. */
	snprintf(form, sizeof form, "session=%s&kind=gen&mode=async&count=100000&meal=1ms..20ms",
	         sid);
	post_run(port, form, 201, NULL, 0);
	snprintf(path, sizeof path, "/api/runs?session=%s", sid);
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS * 3;
	do {
		usleep(100000);
		http_do(port, "GET", path, NULL, NULL, &r);
	} while (!strstr(r.body, "\"status\":\"done\"") && support_now_ms() < deadline);
	assert_non_null(strstr(r.body, "\"status\":\"done\""));
	size_t bytes = 0;
	int lagged = 0, done = 0;
	while (!done && support_read_line(&c, line, sizeof line, SUPPORT_WAIT_MS) == SUPPORT_LINE) {
		bytes += strlen(line) + 1;
		lagged |= strncmp(line, "event: lagged", 13) == 0 && !done;
		done = strncmp(line, "event: done", 11) == 0;
	}
	assert_true(done);
	assert_true(lagged);
	if (bytes > (12u << 20))
		fail_msg("the stream held %zu bytes for a client that did not read", bytes);
	support_close(&c);
}

/* A JSON number field's value, or -1. */
static long long json_num(const char *body, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(body, pat);
	return p ? atoll(p + strlen(pat)) : -1;
}

/* The STALL line of a's run (its own 300 ms cook), after its DONE. */
static void cook_on_loop(int port, char *stall, size_t cap)
{
	struct test_conn a;
	char line[4096];
	support_connect_greeted(&a, port, NULL, 0);
	support_see_stalls = 1;
	assert_int_equal(support_send(&a, "RUN async K:300ms:10ms\n"), 0);
	for (;;) {
		int rc = support_read_line(&a, line, sizeof line, SUPPORT_WAIT_MS);
		if (rc != SUPPORT_LINE)
			fail_msg("waiting for DONE: %s", support_read_outcome(rc));
		if (strncmp(line, "STALL ", 6) == 0)
			snprintf(stall, cap, "%.*s", (int)cap - 1, line);
		if (strncmp(line, "DONE ", 5) == 0)
			break;
	}
	support_see_stalls = 0;
	support_close(&a);
}

/* Another client's 300 ms cook on the loop delays a web session's timers:
 * its event stream gets the stall (the STALL line's id and hold), and the
 * run's JSON lists it from the database. */
static void test_sse_stall_of_another_cook(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	struct test_conn c;
	struct sse_event ev;
	char sid[64], path[128], form[256], body[512], stall[512] = "";
	assert_int_equal(start(e, NULL, NULL), 0);
	int port = http_port(&e->srv);
	new_session(port, sid, sizeof sid);
	snprintf(path, sizeof path, "/events?session=%s", sid);
	sse_open(&c, port, path, NULL);
	/* Timers due all through the cook that follows. */
	snprintf(form, sizeof form, "session=%s&kind=gen&mode=async&count=40&meal=200ms..700ms",
	         sid);
	post_run(port, form, 201, body, sizeof body);
	long long run = json_num(body, "run");
	cook_on_loop(e->srv.port, stall, sizeof stall);
	assert_true(stall[0]);
	long long id = atoll(strstr(stall, " id=") + 4), held = atoll(strstr(stall, " held=") + 6);
	assert_true(held >= 300000);
	/* Heartbeats keep the stream open: a deadline of its own. */
	int seen = 0;
	long long until = support_now_ms() + SUPPORT_WAIT_MS;
	while (!seen && support_now_ms() < until) {
		int rc = sse_next(&c, &ev, 1000);
		if (rc != SUPPORT_LINE && rc != SUPPORT_TIMEOUT)
			break;
		seen = rc == SUPPORT_LINE && strcmp(ev.event, "stall") == 0;
	}
	if (!seen)
		fail_msg("no stall event on the stream; the STALL line: %s", stall);
	assert_int_equal(json_num(ev.data, "id"), id);
	assert_int_equal(json_num(ev.data, "held_us"), held);
	assert_true(json_num(ev.data, "held_ms") >= 300);
	assert_true(json_num(ev.data, "wall_us") > 0);
	support_close(&c);
	/* The store commits on its own thread: wait for the row. */
	snprintf(path, sizeof path, "/api/runs/%lld", run);
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	do {
		http_do(port, "GET", path, NULL, NULL, &r);
	} while (!strstr(r.body, "\"stalls\":[{") && support_now_ms() < deadline &&
	         usleep(100000) == 0);
	const char *listed = strstr(r.body, "\"stalls\":[{");
	if (!listed)
		fail_msg("GET %s lists no stall: %.300s", path, r.body);
	assert_int_equal(json_num(listed, "id"), id);
	assert_int_equal(json_num(listed, "held_us"), held);
}

/* A run's started_wall_us is the wall clock at its t = 0, which its steps
 * and stalls are placed against: not its submission, a commit earlier (a
 * GEN of 20,000 orders commits for tens of ms). Each step stored has its
 * t and the wall clock when it happened: the two agree. */
static void test_start_is_the_runs_t0(void **state)
{
	struct support_e2e *e = *state;
	static struct http_reply r;
	char body[4096], sql[256];
	assert_int_equal(start(e, NULL, NULL), 0);
	int port = http_port(&e->srv);
	post_run(port, "kind=gen&mode=async&count=20000&meal=1ms..5ms", 201, body, sizeof body);
	long long run = json_num(body, "run");
	char path[64];
	snprintf(path, sizeof path, "/api/runs/%lld", run);
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	do {
		http_do(port, "GET", path, NULL, NULL, &r);
	} while (!strstr(r.body, "\"status\":\"done\"") && support_now_ms() < deadline &&
	         usleep(100000) == 0);
	long long started = json_num(r.body, "started_wall_us");
	snprintf(sql, sizeof sql, "select min(wall_us - t_us) from events where run_id = %lld", run);
	long long t0 = support_sql_int(e->db, sql);
	if (started <= 0 || llabs(started - t0) > 2000)
		fail_msg("started_wall_us %lld, the steps' t = 0 %lld: %lld us apart", started, t0,
		         started - t0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST(test_sse_order_and_resume),
		SUPPORT_E2E_TEST(test_error_statuses),
		SUPPORT_E2E_TEST(test_limits_answer_json),
		SUPPORT_E2E_TEST(test_token),
		SUPPORT_E2E_TEST(test_no_token),
		SUPPORT_E2E_TEST(test_sse_never_read_is_bounded),
		SUPPORT_E2E_TEST(test_sse_stall_of_another_cook),
		SUPPORT_E2E_TEST(test_start_is_the_runs_t0),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
