/* End to end, REPLAY through the real server with millisecond meals: a
 * stored run comes back with the same steps in the same order, each no
 * sooner than its time divided by the speed after the REPLAY was sent
 * (lower bounds only); it works after a restart; it changes nothing
 * stored; bad requests get an ERR with a code; a client that leaves
 * mid-replay leaves the server fine. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"
#include "common/protocol_util.h"
#include <unistd.h>

#include "tests/support.h"
#include "tests/support_http.h"

#define MAX_STEPS 32

/* One run as a connection saw it: its steps in arrival order, when each
 * arrived, and its DONE. */
struct seen {
	struct proto_event ev[MAX_STEPS];
	long long at_ms[MAX_STEPS];
	size_t n;
	struct proto_done done;
	int replay_keys;            /* lines that carried replay=1 */
};

static int has_replay_key(const char *line)
{
	const char *v;
	size_t n;
	return proto_find_field(line, strlen(line), "replay", &v, &n) == 0 && n == 1 && v[0] == '1';
}

/* Reads until the DONE of run, keeping its EV lines. */
static void follow_run(struct test_conn *c, uint64_t run, struct seen *s)
{
	char line[4096];
	struct server_line sl;
	for (;;) {
		assert_int_equal(support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS), SUPPORT_LINE);
		assert_int_equal(proto_parse_server_line(line, strlen(line), &sl), 0);
		s->replay_keys += has_replay_key(line);
		if (sl.kind == LINE_DONE && sl.u.done.run == run) {
			s->done = sl.u.done;
			return;
		}
		if (sl.kind == LINE_EV && sl.u.ev.run == run) {
			assert_true(s->n < MAX_STEPS);
			s->at_ms[s->n] = support_now_ms();
			s->ev[s->n++] = sl.u.ev;
		}
	}
}

static uint64_t run_live(struct test_conn *c, const char *line, struct seen *s)
{
	uint64_t run = support_submit_run(c, line);
	memset(s, 0, sizeof *s);
	follow_run(c, run, s);
	return run;
}

/* REPLAY run at speed (as written on the wire, its value speed_milli):
 * its description, its OK, then its steps, each checked against its
 * lower bound from the moment REPLAY was sent. */
static void replay(struct test_conn *c, uint64_t run, const char *speed, unsigned speed_milli,
                   struct seen *s)
{
	char line[4096];
	snprintf(line, sizeof line, "REPLAY %llu speed=%s\n", (unsigned long long)run, speed);
	memset(s, 0, sizeof *s);
	long long sent_ms = support_now_ms();
	assert_int_equal(support_send(c, line), 0);
	support_expect_prefix(c, "RUNINFO ", line, sizeof line);
	assert_true(has_replay_key(line));
	do {
		assert_int_equal(support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS), SUPPORT_LINE);
		assert_true(strncmp(line, "ORDER ", 6) == 0 || strncmp(line, "OK replay ", 10) == 0);
		assert_true(strncmp(line, "OK", 2) == 0 || has_replay_key(line));
	} while (strncmp(line, "OK", 2) != 0);
	follow_run(c, run, s);
	for (size_t i = 0; i < s->n; i++)
		assert_true((s->at_ms[i] - sent_ms + 1) * (long long)speed_milli >=
		            (long long)s->ev[i].t_us);   /* +1: the clock reads whole ms */
}

static void expect_same(const struct seen *live, const struct seen *again)
{
	assert_int_equal(again->n, live->n);
	for (size_t i = 0; i < live->n; i++) {
		assert_int_equal(again->ev[i].order, live->ev[i].order);
		assert_int_equal(again->ev[i].step, live->ev[i].step);
		assert_int_equal(again->ev[i].t_us, live->ev[i].t_us);
		assert_string_equal(again->ev[i].name, live->ev[i].name);
		assert_int_equal(again->ev[i].seq, 0);
	}
	assert_int_equal(again->done.status, live->done.status);
	assert_int_equal(again->done.elapsed_us, live->done.elapsed_us);
	assert_int_equal(again->done.riders, live->done.riders);
	assert_int_equal(again->replay_keys, (int)live->n + 1);
}

/* A checksum of everything stored of runs and their steps. */
static long long stored_sum(const char *db)
{
	return support_sql_int(db, "select (select count(*) * 1000003 + total(run_id * 7 + "
	                           "length(status) * 13 + coalesce(elapsed_us, 0) + cancelled) "
	                           "from runs) + (select count(*) * 1009 + total(idx * 31 + t_us + "
	                           "wall_us % 1000000 + length(step)) from events)");
}

/* Same steps, same order, at the pace divided by 2; nothing stored changes. */
static void test_replay_same_steps(void **state)
{
	struct support_e2e *e = *state;
	struct seen live, again;
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = run_live(&e->c, "RUN async A:60ms B:40ms C:80ms riders=2\n", &live);
	assert_int_equal(live.n, 9);
	long long before = stored_sum(e->db);
	assert_true(before > 0);
	replay(&e->c, run, "2", 2000, &again);
	expect_same(&live, &again);
	assert_int_equal(stored_sum(e->db), before);
	support_close(&e->c);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(stored_sum(e->db), before);
}

/* A run of a server that stopped is replayed by the next one. */
static void test_replay_after_restart(void **state)
{
	struct support_e2e *e = *state;
	struct seen live, again;
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = run_live(&e->c, "RUN sync A:30ms B:20ms\n", &live);
	support_close(&e->c);
	assert_int_equal(support_server_stop(&e->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_server_start(&e->srv, e->db, NULL), 0);
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	replay(&e->c, run, "0.5", 500, &again);
	expect_same(&live, &again);
}

static void expect_err(struct test_conn *c, const char *cmd, const char *prefix)
{
	assert_int_equal(support_send(c, cmd), 0);
	support_expect_prefix(c, prefix, NULL, 0);
}

/* Unknown, running and too large runs, and bad speeds: an ERR each. */
static void test_replay_errors(void **state)
{
	struct support_e2e *e = *state;
	struct test_conn other;
	char line[4096];
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	expect_err(&e->c, "REPLAY 999\n", "ERR no_run ");
	expect_err(&e->c, "REPLAY\n", "ERR bad_args ");
	expect_err(&e->c, "REPLAY 1 speed=0\n", "ERR bad_speed ");
	expect_err(&e->c, "REPLAY 1 speed=abc\n", "ERR bad_speed ");
	expect_err(&e->c, "REPLAY 1 speed=2000\n", "ERR bad_speed ");
	expect_err(&e->c, "REPLAY 1 speed=2 more\n", "ERR bad_args ");
	expect_err(&e->c, "RUN async A:60s\n", "OK run=1");
	support_connect_greeted(&other, e->srv.port, NULL, 0);
	expect_err(&other, "REPLAY 1\n", "ERR run_running ");
	expect_err(&e->c, "CANCEL 1\n", "EV ");
	do
		assert_int_equal(support_read_line(&e->c, line, sizeof line, SUPPORT_WAIT_MS),
		                 SUPPORT_LINE);
	while (strncmp(line, "DONE ", 5) != 0);
	expect_err(&e->c, "GEN async 10001 1ms\n", "OK run=2");
	support_close(&e->c);
	/* The run ends while the REPLAY waits: too large or running. */
	for (;;) {
		assert_int_equal(support_send(&other, "REPLAY 2\n"), 0);
		assert_int_equal(support_read_line(&other, line, sizeof line, SUPPORT_WAIT_MS),
		                 SUPPORT_LINE);
		if (strncmp(line, "ERR too_large ", 14) == 0)
			break;
		assert_true(strncmp(line, "ERR run_running ", 16) == 0);
	}
	assert_non_null(strstr(line, "10000"));
	support_close(&other);
}

/* A client that closes mid-replay: the server goes on serving. */
static void test_replay_disconnect(void **state)
{
	struct support_e2e *e = *state;
	struct seen live;
	struct test_conn other;
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = run_live(&e->c, "RUN async A:200ms B:300ms\n", &live);
	support_connect_greeted(&other, e->srv.port, NULL, 0);
	char line[128];
	snprintf(line, sizeof line, "REPLAY %llu speed=0.1\n", (unsigned long long)run);
	assert_int_equal(support_send(&other, line), 0);
	support_expect_prefix(&other, "RUNINFO ", NULL, 0);
	support_close(&other);
	expect_err(&e->c, "PING\n", "OK pong");
	expect_err(&e->c, "RUN async A:10ms\n", "OK run=");
	support_expect_prefix(&e->c, "EV ", NULL, 0);
}

/* A gauge of /metrics, or -1. */
static long long metric(int http, const char *name)
{
	static struct http_reply r;
	char key[128];
	http_do(http, "GET", "/metrics", NULL, NULL, &r);
	snprintf(key, sizeof key, "\n%s ", name);
	const char *at = strstr(r.body, key);
	return at ? atoll(at + strlen(key)) : -1;
}

/* The largest run a replay takes, run to its end on e->c: 10,000
 * orders, 30,000 steps, about 2.6 MB of lines a replay. */
static uint64_t gen_large_run(struct support_e2e *e)
{
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	assert_int_equal(support_send(&e->c, "WATCH ends\n"), 0);
	support_expect_prefix(&e->c, "OK", NULL, 0);
	uint64_t run = support_submit_run(&e->c, "GEN async 10000 1ms..20ms\n");
	support_expect_prefix(&e->c, "DONE ", NULL, 0);
	return run;
}

#define SLOW_READERS 8
#define OUT_BASE (1 << 20)   /* CONN_OUT_HIGH */

/* A replay whose client does not read waits for it: the server holds
 * about a full output for it (the base limit), not the whole run; once
 * it reads, every step comes, none lost. */
static void test_replay_waits_for_reader(void **state)
{
	struct support_e2e *e = *state;
	struct test_conn slow[SLOW_READERS];
	char line[4096];
	assert_int_equal(support_server_start(&e->srv, e->db, "--http", "127.0.0.1:0", NULL), 0);
	int http = http_port(&e->srv);
	uint64_t run = gen_large_run(e);
	for (int i = 0; i < SLOW_READERS; i++) {
		assert_int_equal(support_connect_small(&slow[i], e->srv.port), 0);
		support_expect_prefix(&slow[i], "HELLO ", NULL, 0);
		snprintf(line, sizeof line, "REPLAY %llu speed=1000\n", (unsigned long long)run);
		assert_int_equal(support_send(&slow[i], line), 0);
	}
	/* The kernel's send buffers, which grow on their own, may take a whole
	 * replay: the ones they did not are waiting, each with its output
	 * over a quarter of the base limit (where it would go on). */
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS, waiting;
	while (((waiting = metric(http, "baedal_replays")) < 1 ||
	        metric(http, "baedal_client_output_bytes") < waiting * (OUT_BASE / 4)) &&
	       support_now_ms() < deadline)
		usleep(50000);
	if (waiting < 1)
		fail_msg("no replay waits for its reader: each ended (not paced, or the kernel took it all)");
	for (int i = 0; i < 10; i++) {
		long long held = metric(http, "baedal_client_output_bytes");
		if (held > SLOW_READERS * (OUT_BASE + 4096))
			fail_msg("%lld bytes held for %d replays nobody reads", held, SLOW_READERS);
		usleep(50000);
	}
	for (int i = 0; i < SLOW_READERS; i++) {
		long long events = -1, got = 0;
		for (;;) {
			assert_int_equal(support_read_line(&slow[i], line, sizeof line, SUPPORT_WAIT_MS),
			                 SUPPORT_LINE);
			if (strncmp(line, "OK replay ", 10) == 0)
				events = atoll(strstr(line, "events=") + 7);
			got += strncmp(line, "EV ", 3) == 0;
			if (strncmp(line, "DONE ", 5) == 0)
				break;
		}
		assert_int_equal(events, 30000);
		assert_int_equal(got, events);
		support_close(&slow[i]);
	}
}

/* A replay left unread for the idle timeout: its connection gets its
 * BYE, its slot is free at once, and once the BYE too goes unread for
 * another idle timeout the connection is dropped. */
static void test_unread_replay_times_out(void **state)
{
	struct support_e2e *e = *state;
	struct test_conn slow[SLOW_READERS];
	char line[256];
	assert_int_equal(support_server_start(&e->srv, e->db, "--http", "127.0.0.1:0",
	                                      "--idle-timeout", "1s", NULL), 0);
	int http = http_port(&e->srv);
	uint64_t run = gen_large_run(e);
	snprintf(line, sizeof line, "REPLAY %llu speed=1000\n", (unsigned long long)run);
	for (int i = 0; i < SLOW_READERS; i++) {
		assert_int_equal(support_connect_small(&slow[i], e->srv.port), 0);
		assert_int_equal(support_send(&slow[i], line), 0);
	}
	long long deadline = support_now_ms() + SUPPORT_WAIT_MS;
	long long replays, conns = -1;
	while ((replays = metric(http, "baedal_replays")) != 0 && support_now_ms() < deadline)
		usleep(100000);
	assert_int_equal(replays, 0);
	while ((conns = metric(http, "baedal_connections")) != 0 && support_now_ms() < deadline)
		usleep(100000);
	if (conns != 0)
		fail_msg("%lld connections left that read nothing", conns);
	for (int i = 0; i < SLOW_READERS; i++)
		support_close(&slow[i]);
}

/* Replays under way are capped server-wide: one more gets ERR busy. */
static void test_replays_capped(void **state)
{
	struct support_e2e *e = *state;
	enum { CAP = 64 };
	static struct test_conn held[CAP];
	char line[256];
	support_connect_greeted(&e->c, e->srv.port, NULL, 0);
	uint64_t run = run_live(&e->c, "RUN async A:100ms\n", &(struct seen){ 0 });
	/* At 0.01 a replay of it lasts 10 s: they are all under way at once. */
	snprintf(line, sizeof line, "REPLAY %llu speed=0.01\n", (unsigned long long)run);
	for (int i = 0; i < CAP; i++) {
		support_connect_greeted(&held[i], e->srv.port, NULL, 0);
		assert_int_equal(support_send(&held[i], line), 0);
		support_expect_prefix(&held[i], "RUNINFO ", NULL, 0);
		support_expect_prefix(&held[i], "ORDER ", NULL, 0);
		support_expect_prefix(&held[i], "OK replay ", NULL, 0);
	}
	expect_err(&e->c, line, "ERR busy ");
	for (int i = 0; i < CAP; i++)
		support_close(&held[i]);
}

/* ---- the client: baedal replay ------------------------------------------ */

/* Keeps the event and done objects of an NDJSON output, each without its
 * seq (a replay's lines have seq 0): the steps and the totals. */
static char *json_steps(const char *path)
{
	char *text = support_read_file(path), *out, *o;
	assert_non_null(text);
	out = o = calloc(1, strlen(text) + 1);
	assert_non_null(out);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "{\"type\":\"event\",", 16) != 0 &&
		    strncmp(line, "{\"type\":\"done\",", 15) != 0)
			continue;
		char *seq = strstr(line, "\"seq\":");
		assert_non_null(seq);
		size_t skip = 6 + strspn(seq + 6, "0123456789");
		skip += seq[skip] == ',';
		o += sprintf(o, "%.*s%s\n", (int)(seq - line), line, seq + skip);
	}
	free(text);
	return out;
}

/* The lines of a plain output that tell a stall of the loop. */
static char *stall_lines(const char *path)
{
	char *text = support_read_file(path), *out, *o;
	assert_non_null(text);
	out = o = calloc(1, strlen(text) + 1);
	assert_non_null(out);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "stall ", 6) == 0)
			o += sprintf(o, "%s\n", line);
	free(text);
	return out;
}

/* baedal replay prints what baedal run printed: the same lines, plain,
 * and the same steps and totals as NDJSON, at any speed. */
static void test_client_replay_output(void **state)
{
	struct support_e2e *e = *state;
	char orig[4300], again[4300];
	snprintf(orig, sizeof orig, "%s/orig", e->dir);
	snprintf(again, sizeof again, "%s/again", e->dir);
	assert_int_equal(support_client_run(&e->srv, orig, NULL, SUPPORT_WAIT_MS, "--plain", "run",
	                                    "async", "--riders", "2", "A:60ms", "B:40ms", "C:80ms",
	                                    NULL), 0);
	assert_int_equal(support_client_run(&e->srv, again, NULL, SUPPORT_WAIT_MS, "--plain",
	                                    "replay", "1", "--speed", "2", NULL), 0);
	char *a = support_read_file(orig), *b = support_read_file(again);
	assert_non_null(strstr(a, "C  collected"));
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* A run cut short by its deadline fails the run (exit 1); its replay
	 * shows the stored run whole (exit 0), the same lines. */
	assert_int_equal(support_client_run(&e->srv, orig, NULL, SUPPORT_WAIT_MS, "--plain", "run",
	                                    "async", "--deadline", "50ms", "A:30ms", "B:80ms",
	                                    NULL), 1);
	assert_int_equal(support_client_run(&e->srv, again, NULL, SUPPORT_WAIT_MS, "--plain",
	                                    "replay", "2", NULL), 0);
	a = support_read_file(orig);
	b = support_read_file(again);
	assert_non_null(strstr(a, "B  cancelled"));
	assert_string_equal(a, b);
	free(a);
	free(b);

	assert_int_equal(support_client_run(&e->srv, orig, NULL, SUPPORT_WAIT_MS, "--json", "run",
	                                    "sync", "A:30ms", "B:20ms", NULL), 0);
	assert_int_equal(support_client_run(&e->srv, again, NULL, SUPPORT_WAIT_MS, "--json",
	                                    "replay", "3", "--speed", "0.5", NULL), 0);
	a = json_steps(orig);
	b = json_steps(again);
	assert_non_null(strstr(a, "\"name\":\"B\",\"step\":\"collected\""));
	assert_non_null(strstr(a, "{\"type\":\"done\""));
	assert_string_equal(a, b);
	free(a);
	free(b);
	b = support_read_file(again);
	assert_non_null(strstr(b, "{\"type\":\"replay\",\"run\":3,\"mode\":\"sync\","
	                          "\"orders\":2,\"speed\":0.5}\n"));
	free(b);

	/* A run whose cook stalled the loop: its replay tells the stall too. */
	assert_int_equal(support_client_run(&e->srv, orig, NULL, SUPPORT_WAIT_MS, "--plain", "run",
	                                    "async", "A:10ms", "B:150ms:10ms", NULL), 0);
	assert_int_equal(support_client_run(&e->srv, again, NULL, SUPPORT_WAIT_MS, "--plain",
	                                    "replay", "4", "--speed", "2", NULL), 0);
	a = stall_lines(orig);
	b = stall_lines(again);
	assert_non_null(strstr(a, "stall  the loop was held "));
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/* A bad --speed is a usage error before any connection; an unknown run
 * is the server's error, exit 1, with its words. */
static void test_client_replay_errors(void **state)
{
	struct support_e2e *e = *state;
	struct test_server none = e->srv;
	none.port = 1;      /* nothing listens there: a connection would fail, exit 1 */
	assert_int_equal(support_client_run(&none, e->out, e->err, SUPPORT_WAIT_MS, "replay", "1",
	                                    "--speed", "fast", NULL), 2);
	char *err = support_read_file(e->err);
	assert_non_null(strstr(err, "--speed wants a number"));
	free(err);
	assert_int_equal(support_client_run(&e->srv, e->out, e->err, SUPPORT_WAIT_MS, "replay",
	                                    "77", NULL), 1);
	err = support_read_file(e->err);
	assert_non_null(strstr(err, "ERR no_run"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST_STARTED(test_replay_same_steps),
		SUPPORT_E2E_TEST_STARTED(test_replay_after_restart),
		SUPPORT_E2E_TEST_STARTED(test_replay_errors),
		SUPPORT_E2E_TEST_STARTED(test_replay_disconnect),
		SUPPORT_E2E_TEST(test_replay_waits_for_reader),
		SUPPORT_E2E_TEST_STARTED(test_replays_capped),
		SUPPORT_E2E_TEST(test_unread_replay_times_out),
		SUPPORT_E2E_TEST_STARTED(test_client_replay_output),
		SUPPORT_E2E_TEST_STARTED(test_client_replay_errors),
	};
	return cmocka_run_group_tests_name("e2e_replay", tests, NULL, NULL);
}
