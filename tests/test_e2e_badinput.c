/* End to end, every class of bad input a client can send, against the real
 * baedald: each gets its exact ERR code (docs/protocol.md, "Errors") or the
 * documented close, the same connection works afterwards, and the server
 * stays up for others. The classes, and where a part lives elsewhere:
 *   overlong lines        here: the limit's edges; test_e2e_protocol.c: a
 *                         line far past it, sent in pieces
 *   empty lines           here
 *   binary and NUL bytes  here
 *   invalid UTF-8 names   here
 *   unknown commands      here; the transcript (test_e2e_protocol.c): FLY
 *   missing/extra args    here
 *   bad durations         here; the transcript: B:ten
 *   too many orders       here (--max-orders)
 *   meal too long         here (--max-meal)
 *   RUN with no orders    here
 *   ATTACH to a bad id    here: malformed ids; test_e2e_protocol.c: zzz, an
 *                         unknown id
 *   commands after QUIT   here
 *   half-close mid-line   here: with nothing running; test_e2e_protocol.c:
 *                         while a run is going on
 * The parser's every error text is unit-tested in test_protocol.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/support.h"

/* How long a reply that must not come is waited for. */
#define QUIET_MS 300
/* Small limits, so that going past them takes a short line. */
#define MAX_ORDERS "3"
#define MAX_MEAL "2s"

static int setup(void **state)
{
	if (support_e2e_setup(state) < 0)
		return -1;
	struct support_e2e *f = *state;
	if (support_server_start(&f->srv, f->db, "--max-orders", MAX_ORDERS, "--max-meal", MAX_MEAL,
	                         NULL) < 0) {
		fprintf(stderr, "baedald did not start\n");
		support_e2e_teardown(state);
		return -1;
	}
	return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static void send_bytes(struct test_conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* The next reply (OK or ERR): the events and DONE of runs started on the
 * way are skipped, as a client tells them apart by their first word. */
static void read_reply(struct test_conn *c, char *line, size_t cap)
{
	do {
		int rc = support_read_line(c, line, cap, SUPPORT_WAIT_MS);
		if (rc != SUPPORT_LINE)
			fail_msg("no reply from the server: %s", support_read_outcome(rc));
	} while (strncmp(line, "EV ", 3) == 0 || strncmp(line, "DONE ", 5) == 0);
}

/* One line, escaped or not, fit for a terminal and a log. */
static void assert_printable(const char *line)
{
	for (const char *p = line; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("a reply with byte 0x%02x: '%s'", (unsigned char)*p, line);
}

/* The next reply is "ERR <code> <text>" with exactly this code. */
static void expect_err(struct test_conn *c, const char *code)
{
	char line[4200], want[64];
	read_reply(c, line, sizeof line);
	snprintf(want, sizeof want, "ERR %s ", code);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("expected '%s...', got '%s'", want, line);
	assert_printable(line);
}

/* The next reply is exactly want. */
static void expect_reply(struct test_conn *c, const char *want)
{
	char line[4200];
	read_reply(c, line, sizeof line);
	assert_string_equal(line, want);
}

static void expect_ping(struct test_conn *c)
{
	send_bytes(c, "PING\n", 5);
	expect_reply(c, "OK pong");
}

/* Sends line[0..len) and its newline; the reply must be ERR code, and
 * the connection must still answer after it. */
static void bad_line_n(struct test_conn *c, const char *line, size_t len, const char *code)
{
	send_bytes(c, line, len);
	send_bytes(c, "\n", 1);
	expect_err(c, code);
	expect_ping(c);
}

static void bad_line(struct test_conn *c, const char *line, const char *code)
{
	bad_line_n(c, line, strlen(line), code);
}

/* Nothing arrives for a while, not even part of a line, and the
 * connection stays open. */
static void expect_quiet(struct test_conn *c)
{
	char line[512];
	assert_int_equal(support_read_line(c, line, sizeof line, QUIET_MS), SUPPORT_TIMEOUT);
	assert_int_equal(support_recv(c), 1);
	assert_int_equal(c->len, 0);
}

/* Another client is served as usual. */
static void expect_server_up(struct support_e2e *f)
{
	struct test_conn other;
	support_connect_greeted(&other, f->srv.port, NULL, 0);
	expect_ping(&other);
	support_close(&other);
}

/* ---- the classes ---------------------------------------------------------- */

/* 4096 bytes is a line, a '\r' before the '\n' does not count, 4097 is
 * too long; past 4097 bytes with no newline the error comes at once and
 * the rest of the line, when its newline comes, is dropped unanswered. */
static void test_overlong_lines(void **state)
{
	struct support_e2e *f = *state;
	char *big = malloc(4200);
	assert_non_null(big);
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);

	memcpy(big, "PING", 4);
	memset(big + 4, ' ', 4092);
	memcpy(big + 4096, "\n", 1);
	send_bytes(&f->c, big, 4097);
	expect_reply(&f->c, "OK pong");
	memcpy(big + 4096, "\r\n", 2);
	send_bytes(&f->c, big, 4098);
	expect_reply(&f->c, "OK pong");
	big[4096] = ' ';
	bad_line_n(&f->c, big, 4097, "line_too_long");   /* PING and 4093 spaces */

	memset(big, 'x', 4097);
	send_bytes(&f->c, big, 4097);       /* may yet be 4096 and a '\r' */
	expect_quiet(&f->c);
	send_bytes(&f->c, "x", 1);
	expect_reply(&f->c, "ERR line_too_long lines are at most 4096 bytes; the rest of this one "
	                   "is discarded");
	send_bytes(&f->c, big, 4097);
	send_bytes(&f->c, "PING\nPING\n", 10);   /* the first ends the long line */
	expect_ping(&f->c);
	expect_reply(&f->c, "OK pong");
	/* Two pongs, not three: the next reply is RUNS's. */
	send_bytes(&f->c, "RUNS\n", 5);
	expect_reply(&f->c, "OK runs=0");
	free(big);
	expect_server_up(f);
}

/* An empty line is answered like any other line, so replies still pair
 * with lines one to one. */
static void test_empty_lines(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "\n", 1);
	expect_reply(&f->c, "ERR unknown_command empty line");
	bad_line(&f->c, "\r", "unknown_command");
	bad_line(&f->c, "      ", "unknown_command");
	bad_line(&f->c, "  \r", "unknown_command");
	/* One CR before the LF is dropped, not two: PING then a CR is no command. */
	bad_line(&f->c, "PING\r\r", "unknown_command");
	expect_server_up(f);
}

/* Every byte but the newline, NULs among them: an error whose text shows
 * the client's bytes escaped, on one printable line. */
static void test_binary_and_nul(void **state)
{
	struct support_e2e *f = *state;
	char bytes[512];
	size_t n = 0;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);

	for (int round = 0; round < 2; round++)
		for (int b = 255; b >= 0; b--)
			if (b != '\n')
				bytes[n++] = (char)b;
	bad_line_n(&f->c, bytes, n, "unknown_command");
	send_bytes(&f->c, "\0\n", 2);
	expect_reply(&f->c, "ERR unknown_command \\x00: try HELP");
	send_bytes(&f->c, "PING\0\n", 6);    /* a NUL is part of its word */
	expect_reply(&f->c, "ERR unknown_command PING\\x00: try HELP");
	send_bytes(&f->c, "PING \0\n", 7);
	expect_reply(&f->c, "ERR bad_args PING takes no more arguments, got '\\x00'");
	bad_line_n(&f->c, "RUN sync A\0B:1s", 15, "bad_name");
	bad_line_n(&f->c, "RUN sync A:1\0s", 14, "bad_duration");
	bad_line_n(&f->c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, "unknown_command");
	expect_server_up(f);
}

static void test_invalid_utf8_names(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "RUN sync \xff\xfe:1s\n", 15);
	expect_reply(&f->c, "ERR bad_name \\xff\\xfe:1s: the name has a character outside "
	                   "A-Z a-z 0-9 _ . -");
	bad_line(&f->c, "RUN sync A\xc3:1s", "bad_name");          /* cut short */
	bad_line(&f->c, "RUN sync \xc0\xaf:1s", "bad_name");        /* overlong '/' */
	bad_line(&f->c, "RUN sync \xed\xa0\x80:1s", "bad_name");    /* a surrogate */
	bad_line(&f->c, "RUN sync caf\xc3\xa9:1s", "bad_name");     /* valid, not ASCII */
	bad_line(&f->c, "GEN sync 2 1ms prefix=\xff", "bad_name");
	expect_server_up(f);
}

static void test_unknown_commands(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "launch\n", 7);
	expect_reply(&f->c, "ERR unknown_command launch: try HELP");
	bad_line(&f->c, "PINGPING", "unknown_command");
	bad_line(&f->c, "PING\t", "unknown_command");     /* only spaces separate */
	bad_line(&f->c, "RUNS:", "unknown_command");
	bad_line(&f->c, "GET /", "unknown_command");   /* a request line: test_http_request_refused */
	send_bytes(&f->c, "ping\n", 5);                    /* words are case-insensitive */
	expect_reply(&f->c, "OK pong");
	expect_server_up(f);
}

static void test_missing_and_extra_arguments(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	bad_line(&f->c, "RUN", "bad_args");
	bad_line(&f->c, "GEN", "bad_args");
	bad_line(&f->c, "GEN sync", "bad_args");
	bad_line(&f->c, "GEN sync 2", "bad_args");
	bad_line(&f->c, "GEN sync two 1s", "bad_args");
	bad_line(&f->c, "GEN sync 2 1s size=2", "bad_args");
	bad_line(&f->c, "GEN sync 2 1s prefix=a extra", "bad_args");
	bad_line(&f->c, "ATTACH", "bad_args");
	bad_line(&f->c, "ATTACH 0123456789abcdef0123456789abcdef x", "bad_args");
	bad_line(&f->c, "ATTACH 0123456789abcdef0123456789abcdef 1 2", "bad_args");
	bad_line(&f->c, "AUTH", "bad_args");
	bad_line(&f->c, "AUTH a b", "bad_args");
	bad_line(&f->c, "PING now", "bad_args");
	bad_line(&f->c, "HELP me", "bad_args");
	bad_line(&f->c, "RUNS 0123456789abcdef0123456789abcdef more", "bad_args");
	bad_line(&f->c, "RUN fast A:1s", "bad_mode");
	bad_line(&f->c, "GEN 1 2 1s", "bad_mode");
	bad_line(&f->c, "RUN sync A", "bad_order");
	bad_line(&f->c, "RUN sync A:1ms B", "bad_order");
	/* QUIT with an argument is refused, and so does not close. */
	bad_line(&f->c, "QUIT now", "bad_args");
	expect_server_up(f);
}

static void test_bad_durations(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "RUN sync A:-1s\n", 15);
	expect_reply(&f->c, "ERR bad_duration A:-1s: '-1s' is not a duration like 250ms, 3s, "
	                   "1.5s, 2m");
	bad_line(&f->c, "RUN sync A:0", "bad_duration");
	bad_line(&f->c, "RUN sync A:0s", "bad_duration");
	bad_line(&f->c, "RUN sync A:1e309s", "bad_duration");
	/* Past 2^64 microseconds: well formed, so over the limit, however far. */
	bad_line(&f->c, "RUN sync A:99999999999h", "meal_too_long");
	bad_line(&f->c, "RUN sync A:3 s", "bad_duration");
	bad_line(&f->c, "RUN sync A:3x", "bad_duration");
	bad_line(&f->c, "RUN sync A:0.5us", "bad_duration");
	bad_line(&f->c, "GEN sync 2 3x", "bad_duration");
	bad_line(&f->c, "GEN sync 2 1ms..-1s", "bad_duration");
	expect_server_up(f);
}

/* The server runs with --max-orders 3: RUN and GEN take 3, not 4. */
static void test_too_many_orders(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "RUN sync A:1ms B:1ms C:1ms D:1ms\n", 33);
	expect_reply(&f->c, "ERR too_many_orders 'D:1ms' is one order too many: a run takes at "
	                   "most 3");
	bad_line(&f->c, "GEN async 4 1ms", "too_many_orders");
	bad_line(&f->c, "GEN async 99999999999 1ms", "too_many_orders");
	send_bytes(&f->c, "RUN sync A:1ms B:1ms C:1ms\n", 27);
	expect_reply(&f->c, "OK run=1 mode=sync orders=3");
	send_bytes(&f->c, "GEN async 3 1ms\n", 16);
	expect_reply(&f->c, "OK run=2 mode=async orders=3");
	expect_ping(&f->c);
	expect_server_up(f);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from orders"), 6);
}

/* The server runs with --max-meal 2s. */
static void test_meal_too_long(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "RUN sync A:1ms B:2.000001s\n", 27);
	expect_reply(&f->c, "ERR meal_too_long B:2.000001s: '2.000001s' is longer than the "
	                   "longest meal, 2s");
	bad_line(&f->c, "RUN async A:1h", "meal_too_long");
	bad_line(&f->c, "GEN async 2 1ms..3s", "meal_too_long");
	bad_line(&f->c, "GEN async 2 3s", "meal_too_long");
	send_bytes(&f->c, "RUN async A:1ms B:2s\n", 21);   /* the limit itself is a meal */
	expect_reply(&f->c, "OK run=1 mode=async orders=2");
	expect_server_up(f);
}

static void test_no_orders(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "RUN sync\n", 9);
	expect_reply(&f->c, "ERR no_orders RUN needs at least one NAME:DURATION order");
	bad_line(&f->c, "RUN async    ", "no_orders");
	bad_line(&f->c, "run ASYNC \r", "no_orders");
	bad_line(&f->c, "GEN sync 0 1s", "no_orders");
	expect_server_up(f);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs"), 0);
}

/* Malformed ids; the connection keeps its own session. */
static void test_attach_bad_ids(void **state)
{
	struct support_e2e *f = *state;
	char line[512];

	support_connect_greeted(&f->c, f->srv.port, line, sizeof line);
	const char *own = strstr(line, "session=");
	assert_non_null(own);
	send_bytes(&f->c, "ATTACH 0123456789abcdef0123456789abcde\n", 39);   /* 31 digits */
	expect_reply(&f->c, "ERR bad_session '0123456789abcdef0123456789abcde' is not a session "
	                   "id of 32 hex digits");
	bad_line(&f->c, "ATTACH 0123456789abcdef0123456789abcdef0", "bad_session");
	bad_line(&f->c, "ATTACH 0123456789abcdef0123456789abcdeg", "bad_session");
	bad_line(&f->c, "ATTACH -123456789abcdef0123456789abcdef", "bad_session");
	bad_line(&f->c, "ATTACH 0x23456789abcdef0123456789abcdef", "bad_session");
	bad_line(&f->c, "RUNS zzz", "bad_session");
	bad_line(&f->c, "ATTACH ffffffffffffffffffffffffffffffff", "no_session");
	bad_line(&f->c, "RUNS FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "no_session");
	/* Still its own session: a run shows up in its RUNS. */
	send_bytes(&f->c, "RUN sync A:1ms\nRUNS\n", 20);
	expect_reply(&f->c, "OK run=1 mode=sync orders=1");
	read_reply(&f->c, line, sizeof line);
	assert_memory_equal(line, "RUNINFO run=1 ", 14);
	expect_reply(&f->c, "OK runs=1");
	expect_server_up(f);
}

/* QUIT's reply and BYE, then the close: what follows is not answered,
 * even when it came in the same packet. */
static void test_commands_after_quit(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "QUIT\nPING\nRUN sync A:1ms\n", 25);
	expect_reply(&f->c, "OK bye");
	expect_reply(&f->c, "BYE reason=quit");
	support_expect_closed(&f->c);
	expect_server_up(f);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs"), 0);
}

/* shutdown(SHUT_WR) after a partial line: the whole lines before it are
 * answered, the partial one is dropped, never run (docs/protocol.md, BYE
 * reason eof), and the server closes at once. */
static void test_half_close_mid_line(void **state)
{
	struct support_e2e *f = *state;
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "PING\nRUN sync A:1ms", 19);
	assert_int_equal(shutdown(f->c.fd, SHUT_WR), 0);
	expect_reply(&f->c, "OK pong");
	expect_reply(&f->c, "BYE reason=eof");
	support_expect_closed(&f->c);
	support_close(&f->c);

	/* Only a partial line, and one cut inside an overlong line. */
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "QUI", 3);
	assert_int_equal(shutdown(f->c.fd, SHUT_WR), 0);
	expect_reply(&f->c, "BYE reason=eof");
	support_expect_closed(&f->c);
	support_close(&f->c);
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	char *big = malloc(5000);
	assert_non_null(big);
	memset(big, 'x', 5000);
	send_bytes(&f->c, big, 5000);
	free(big);
	assert_int_equal(shutdown(f->c.fd, SHUT_WR), 0);
	expect_err(&f->c, "line_too_long");
	expect_reply(&f->c, "BYE reason=eof");
	support_expect_closed(&f->c);

	expect_server_up(f);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs"), 0);
}

/* A browser's form sent to the protocol port (what a web page can make
 * it do): the connection ends at the request line, and the command in the
 * form's body never runs. */
static void test_http_request_refused(void **state)
{
	struct support_e2e *f = *state;
	static const char form[] = "POST / HTTP/1.1\r\nHost: 127.0.0.1:7878\r\n"
	                           "Content-Type: text/plain\r\nContent-Length: 22\r\n\r\n"
	                           "x=\nRUN async A:1ms\r\n";
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, form, sizeof form - 1);
	expect_reply(&f->c, "BYE reason=http");
	support_expect_closed(&f->c);
	support_close(&f->c);
	/* A Host header first (a request line cut off) does the same. */
	support_connect_greeted(&f->c, f->srv.port, NULL, 0);
	send_bytes(&f->c, "Host: x\nRUN async A:1ms\n", 25);
	expect_reply(&f->c, "BYE reason=http");
	support_expect_closed(&f->c);
	expect_server_up(f);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from runs"), 0);
}

#define TEST(t) cmocka_unit_test_setup_teardown(t, setup, support_e2e_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_overlong_lines),
		TEST(test_empty_lines),
		TEST(test_binary_and_nul),
		TEST(test_invalid_utf8_names),
		TEST(test_unknown_commands),
		TEST(test_missing_and_extra_arguments),
		TEST(test_bad_durations),
		TEST(test_too_many_orders),
		TEST(test_meal_too_long),
		TEST(test_no_orders),
		TEST(test_attach_bad_ids),
		TEST(test_commands_after_quit),
		TEST(test_half_close_mid_line),
		TEST(test_http_request_refused),
	};
	return cmocka_run_group_tests_name("e2e_badinput", tests, NULL, NULL);
}
