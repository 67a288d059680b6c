/* The client's reading of the server's health: STATS's lines into figures,
 * STALL notices into the model, and what top and the totals make of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/model.h"
#include "client/stats.h"
#include "client/strbuf.h"
#include "client/top_view.h"

static const char *const answer[] = {
	"STAT loop uptime=2000000 busy=500000 iterations=40 stalls=2 stalled=902000 warn_stall=100000",
	"STAT lag count=30 p50=120 p99=452000 p999=452000 max=452000 recent_count=20 recent_p50=130 "
	"recent_p99=452000 recent_max=452000",
	"STAT work sync=0 async=1 offload=2 orders=7 queued=1 cooking=2 workers=2 connections=3 "
	"sessions=2",
	"STAT orders sync=0 async=3 offload=4 timer=5 waiting=2",
	"STAT store queue=4 lag=8000 commits=9 rows=50 commit_p50=900 commit_p99=1800 commit_max=2000",
	"STAT later_kind x=1",
	"STALLED id=1 start=1700000000000000 ago=900000 held=450000 cause=cook run=3 order=2",
	"STALLED id=2 start=1700000000450000 ago=450000 held=452000 cause=cook run=3 order=3",
	"OK stats",
};

static void read_answer(struct stats *s)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i + 1 < sizeof answer / sizeof answer[0]; i++)
		assert_int_not_equal(stats_parse_line(s, answer[i], strlen(answer[i])), -1);
	assert_int_equal(stats_parse_line(s, "OK stats", 8), STATS_END);
}

static void test_answer_read_whole(void **state)
{
	struct stats s;
	(void)state;
	read_answer(&s);
	assert_int_equal(s.uptime_us, 2000000);
	assert_int_equal(s.stalls, 2);
	assert_int_equal(s.lag_p999, 452000);
	assert_int_equal(s.recent_max, 452000);
	assert_int_equal(s.runs[2], 2);
	assert_int_equal(s.cooking, 2);
	assert_true(s.has_orders);
	assert_int_equal(s.orders_by_mode[2], 4);
	assert_int_equal(s.on_timer, 5);
	assert_int_equal(s.waiting, 2);
	assert_int_equal(s.commit_max, 2000);
	assert_int_equal(s.nrecent, 2);
	assert_int_equal(s.recent[1].id, 2);
	assert_int_equal(s.recent[1].order, 3);
	assert_string_equal(s.recent[1].cause, "cook");
	assert_int_equal(s.recent[0].start_wall_us, 1700000000000000);
	assert_true(stats_utilisation(&s) > 24.9 && stats_utilisation(&s) < 25.1);
}

static void test_bad_lines(void **state)
{
	static const char *const bad[] = {
		"STAT loop uptime=1 busy=2 iterations=3 stalls=4 stalled=5",     /* no warn_stall */
		"STAT lag count=x p50=1 p99=1 p999=1 max=1 recent_count=1 recent_p50=1 recent_p99=1 "
		"recent_max=1",
		"STALLED id=1 start=1 ago=1 held=1 cause=COOK run=1 order=1",
		"STALLED id=1 start=1 ago=1 held=1 cause=cook run=1 order=99999999999",
		"STALLED id=1 start=1 ago=1 held=1 run=1 order=1",
	};
	struct stats s;
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&s, 0, sizeof s);
		assert_int_equal(stats_parse_line(&s, bad[i], strlen(bad[i])), -1);
	}
	assert_int_equal(stats_parse_line(&s, "OK statsx", 9), STATS_OTHER);
	assert_int_equal(stats_parse_line(&s, "STATSX y=1", 10), STATS_OTHER);
}

/* More STALLED lines than kept: the newest stay, oldest first. */
static void test_stalled_keeps_newest(void **state)
{
	struct stats s;
	char line[128];
	(void)state;
	memset(&s, 0, sizeof s);
	for (int id = 1; id <= STATS_STALLS_MAX + 3; id++) {
		int n = snprintf(line, sizeof line, "STALLED id=%d start=1 ago=1 held=%d cause=line "
		                 "run=0 order=0", id, id * 1000);
		assert_int_equal(stats_parse_line(&s, line, (size_t)n), STATS_STALLED);
	}
	assert_int_equal(s.nrecent, STATS_STALLS_MAX);
	assert_int_equal(s.recent[0].id, 4);
	assert_int_equal(s.recent[STATS_STALLS_MAX - 1].id, STATS_STALLS_MAX + 3);
}

static void test_stall_notice(void **state)
{
	static const char ok[] = "STALL seq=9 id=2 held=452000 cause=cook run=3 order=3";
	struct stats_stall st;
	(void)state;
	assert_int_equal(stats_parse_stall(ok, strlen(ok), &st), 0);
	assert_int_equal(st.seq, 9);
	assert_int_equal(st.held_us, 452000);
	assert_int_equal(st.run, 3);
	assert_int_equal(stats_parse_stall("STALL id=2 held=1 cause=cook run=3 order=3", 42, &st),
	                 -1);
	assert_int_equal(stats_parse_stall("STALLED seq=1 id=2 held=1 cause=cook run=3 order=3", 50,
	                                   &st), -1);
}

/* The totals' line: each stall's time and whose cooks, told once each
 * even when an attach replays them. */
static void test_note_after_totals(void **state)
{
	static char *names[] = { "A:10ms:100ms", "B:450ms:100ms", "C:450ms:1s" };
	struct model m;
	struct strbuf b;
	struct model_run *r;
	struct stats_stall st = { .id = 1, .held_us = 450400, .run = 3, .order = 2, .cause = "cook" };
	(void)state;
	model_init(&m, 1);
	strbuf_init(&b);
	stats_note_stalls(&b, &m);
	assert_int_equal(b.len, 0);
	r = model_add_run(&m, 3, MODE_ASYNC, 3, 0);
	assert_non_null(r);
	model_set_orders(r, names, 3);
	model_add_stall(&m, &st);
	model_add_stall(&m, &st);
	st = (struct stats_stall){ .id = 2, .held_us = 452000, .run = 3, .order = 3, .cause = "cook" };
	model_add_stall(&m, &st);
	stats_note_stalls(&b, &m);
	assert_string_equal(b.data, "The loop stalled 2 times: 450 ms, 452 ms (async's cooks of B "
	                            "and C).\n");
	strbuf_free(&b);
	model_free(&m);
}

/* Many or slow stalls: the note is broken at spaces, every line within
 * 79 columns, the words the same. */
static void test_note_wraps(void **state)
{
	static char *names[] = { "A:10ms:100ms", "B:450ms:100ms", "C:450ms:1s" };
	struct model m;
	struct strbuf b;
	struct model_run *r;
	(void)state;
	model_init(&m, 1);
	strbuf_init(&b);
	r = model_add_run(&m, 3, MODE_ASYNC, 3, 0);
	assert_non_null(r);
	model_set_orders(r, names, 3);
	for (uint64_t id = 1; id <= 3; id++) {
		struct stats_stall st = { .id = id, .held_us = 14070000 + id, .run = 3,
		                          .order = (uint32_t)id, .cause = "cook" };
		model_add_stall(&m, &st);
	}
	strbuf_puts(&b, "before\n");
	stats_note_stalls(&b, &m);
	assert_string_equal(b.data, "before\nThe loop stalled 3 times: 14070 ms, 14070 ms, 14070 "
	                            "ms (async's cooks of A, B\nand C).\n");
	for (uint64_t id = 4; id <= 40; id++) {
		struct stats_stall st = { .id = id, .held_us = 120000, .run = 3, .order = 1,
		                          .cause = "cook" };
		model_add_stall(&m, &st);
	}
	strbuf_reset(&b);
	stats_note_stalls(&b, &m);
	int lines = 0;
	for (char *p = b.data; *p; lines++) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl - p <= 79);
		p = nl + 1;
	}
	assert_true(lines >= 2);
	for (char *p = strchr(b.data, '\n'); p && p[1]; p = strchr(p, '\n'))
		*p = ' ';
	assert_int_equal(strncmp(b.data, "The loop stalled 40 times: 14070 ms, ", 37), 0);
	assert_non_null(strstr(b.data, ", 120 ms, ... (async's cooks of A, B, C, A, A, "));
	strbuf_free(&b);
	model_free(&m);
}

/* top's frame: the stall and the lag, every line within the width, and
 * the held loop said while an answer is late. */
static void test_top_frame(void **state)
{
	struct stats s;
	struct strbuf b;
	struct top_view_opts o = { .width = 80, .height = 30, .server = "127.0.0.1:7878",
	                           .interval_us = 500000, .unanswered_us = 300000 };
	(void)state;
	read_answer(&s);
	strbuf_init(&b);
	int lines = top_view_frame(&s, &o, &b);
	assert_true(lines > 10 && lines < 30);
	assert_non_null(strstr(b.data, "max 452 ms"));
	assert_non_null(strstr(b.data, "HELD: no answer for 300 ms"));
	assert_non_null(strstr(b.data, "#2       452 ms  cook  run 3 order 3"));
	for (char *p = b.data; *p;) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl - p - 3 <= 79);     /* without "\033[K" */
		p = nl + 1;
	}
	strbuf_reset(&b);
	top_view_json(&s, &b);
	assert_non_null(strstr(b.data, "\"recent_stalls\":[{\"id\":1,\"held_us\":450000"));
	assert_non_null(strstr(b.data, "\"lag_10s\":{\"count\":20,\"p50_us\":130,\"p99_us\":452000"));
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_read_whole),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_stalled_keeps_newest),
		cmocka_unit_test(test_stall_notice),
		cmocka_unit_test(test_note_after_totals),
		cmocka_unit_test(test_note_wraps),
		cmocka_unit_test(test_top_frame),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
