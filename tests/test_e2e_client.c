/* End to end with the real client: build/baedal against the real baedald
 * (port 0, temp database), its output read as a user's script would, then
 * the rows checked with SQL. Times are lower bounds and orders: CI
 * machines are slow and noisy, and every client run has a generous
 * deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support.h"

/* ---- reading NDJSON: the few fields the tests need --------------------- */

static int json_str(const char *obj, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *at = strstr(obj, pat);
	if (!at)
		return -1;
	at += strlen(pat);
	size_t n = strcspn(at, "\"");
	if (n >= cap)
		return -1;
	memcpy(out, at, n);
	out[n] = '\0';
	return 0;
}

static double json_num(const char *obj, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *at = strstr(obj, pat);
	if (!at)
		fail_msg("no \"%s\" in %s", key, obj);
	return strtod(at + strlen(pat), NULL);
}

/* What a compare or run printed: per run, the done object; per order, its
 * step times. */
struct seen_done {
	char mode[8];
	char status[16];
	double elapsed_ms, ideal_ms, speedup;
	double cook_ms, blocked_ms, caused_ms;     /* -1 when absent: no cooking */
	int orders;
};

/* Steps by enum proto_step: delivered, eaten, collected, cooked. */
struct seen {
	struct seen_done done[4];
	int ndone;
	long long t_us[4][8][4];   /* [run][order][step], -1 if not seen */
	int nevents;
};

static double json_num_or(const char *obj, const char *key, double absent)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	return strstr(obj, pat) ? json_num(obj, key) : absent;
}

static int step_index(const char *step)
{
	static const char *const steps[] = { "delivered", "eaten", "collected", "cooked" };
	for (int i = 0; i < 4; i++)
		if (strcmp(step, steps[i]) == 0)
			return i;
	fail_msg("unknown step %s", step);
	return -1;
}

static void seen_read(const char *path, struct seen *s)
{
	char *text = support_read_file(path);
	assert_non_null(text);
	memset(s, 0, sizeof *s);
	memset(s->t_us, 0xff, sizeof s->t_us);
	char type[16], step[16], *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(l[0], '{');   /* NDJSON only: nothing else on stdout */
		assert_int_equal(json_str(l, "type", type, sizeof type), 0);
		if (strcmp(type, "event") == 0) {
			int run = (int)json_num(l, "run"), order = (int)json_num(l, "order");
			assert_true(run >= 1 && run < 4 && order >= 1 && order < 8);
			assert_int_equal(json_str(l, "step", step, sizeof step), 0);
			s->t_us[run][order][step_index(step)] = (long long)json_num(l, "t_us");
			s->nevents++;
		} else if (strcmp(type, "done") == 0) {
			assert_true(s->ndone < 4);
			struct seen_done *d = &s->done[s->ndone++];
			assert_int_equal(json_str(l, "mode", d->mode, sizeof d->mode), 0);
			assert_int_equal(json_str(l, "status", d->status, sizeof d->status), 0);
			d->elapsed_ms = json_num(l, "elapsed_ms");
			d->ideal_ms = json_num(l, "ideal_ms");
			d->speedup = json_num(l, "speedup");
			d->orders = (int)json_num(l, "orders");
			d->cook_ms = json_num_or(l, "cook_ms", -1);
			d->blocked_ms = json_num_or(l, "blocked_ms", -1);
			d->caused_ms = json_num_or(l, "caused_ms", -1);
		}
	}
	free(text);
}

static const struct seen_done *seen_find(const struct seen *s, const char *mode)
{
	for (int i = 0; i < s->ndone; i++)
		if (strcmp(s->done[i].mode, mode) == 0)
			return &s->done[i];
	fail_msg("no done object for mode %s", mode);
	return NULL;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_compare_json(void **state)
{
	struct support_e2e *f = *state;
	struct seen s;
	static const long long meal_us[] = { 0, 30000, 30000, 40000 };

	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "--json", "compare", "A:30ms", "B:30ms", "C:40ms",
	                                    NULL), 0);
	seen_read(f->out, &s);
	assert_int_equal(s.nevents, 18);
	assert_int_equal(s.ndone, 2);
	const struct seen_done *sync = seen_find(&s, "sync"), *async = seen_find(&s, "async");
	assert_string_equal(sync->status, "done");
	assert_string_equal(async->status, "done");
	assert_int_equal(sync->orders, 3);
	assert_true(sync->ideal_ms == 100.0 && async->ideal_ms == 40.0);
	/* The lesson: one after another takes the sum, together the longest. */
	assert_true(sync->elapsed_ms >= 100.0);
	assert_true(async->elapsed_ms >= 40.0 && async->elapsed_ms < sync->elapsed_ms);
	assert_true(async->speedup > sync->speedup);
	for (int run = 1; run <= 2; run++) {
		for (int o = 1; o <= 3; o++) {
			long long d = s.t_us[run][o][0], e = s.t_us[run][o][1], c = s.t_us[run][o][2];
			assert_true(d >= 0 && e >= 0 && c >= 0);
			assert_true(e - d >= meal_us[o]);     /* never early */
			assert_true(c >= e);
		}
	}
	/* sync (run 1): each order is delivered once the one before is collected */
	assert_true(s.t_us[1][2][0] >= s.t_us[1][1][2]);
	assert_true(s.t_us[1][3][0] >= s.t_us[1][2][2]);
	/* The same story in SQLite. */
	assert_int_equal(support_sql_int(f->db, "select count(*) from run_summary where "
	                                        "status = 'done' and orders = 3"), 2);
	assert_int_equal(support_sql_int(f->db, "select count(*) from events"), 18);
	assert_int_equal(support_sql_int(f->db, "select count(*) from run_summary where "
	                                        "elapsed_ms < ideal_ms"), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from order_timeline where "
	                                        "late_ms < 0 or late_ms is null"), 0);
	assert_int_equal(support_sql_int(f->db, "select ideal_ms from run_summary where "
	                                        "mode = 'sync'"), 100);
	assert_int_equal(support_sql_int(f->db, "select speedup >= 1.5 from run_summary where "
	                                        "mode = 'async'"), 1);
}

/* compare --cook runs sync, async and offload in turn. A busy machine
 * still stretches the cooks, so only what holds anyway is checked: no run
 * beats its ideal, every cook takes at least its CPU time before its
 * order is delivered, and only async's cooks hold the event loop. */
static void test_compare_cook_json(void **state)
{
	struct support_e2e *f = *state;
	struct seen s;
	static const long long meal_us[] = { 0, 30000, 30000, 40000 };
	const long long cook_us = 20000;

	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "--json", "compare", "--cook", "A:20ms:30ms",
	                                    "B:20ms:30ms", "C:20ms:40ms", NULL), 0);
	seen_read(f->out, &s);
	assert_int_equal(s.ndone, 3);
	assert_int_equal(s.nevents, 3 * 3 * 4);
	const struct seen_done *sync = seen_find(&s, "sync"), *async = seen_find(&s, "async");
	const struct seen_done *offload = seen_find(&s, "offload");
	const struct seen_done *all[] = { sync, async, offload };
	for (int i = 0; i < 3; i++) {
		assert_string_equal(all[i]->status, "done");
		assert_int_equal(all[i]->orders, 3);
		assert_true(all[i]->cook_ms == 60.0);
		assert_true(all[i]->elapsed_ms >= all[i]->ideal_ms);
		assert_true(all[i]->caused_ms >= 0);
	}
	/* sync cooks and eats one order after another; async cooks in turn. */
	assert_true(sync->ideal_ms == 160.0 && sync->elapsed_ms >= 160.0);
	assert_true(async->ideal_ms == 100.0);
	assert_true(offload->ideal_ms >= 60.0 && offload->ideal_ms <= 100.0);
	/* Only async cooked on the loop, for at least its cooks' CPU time. */
	assert_true(async->blocked_ms >= 60.0);
	assert_true(sync->blocked_ms == 0.0 && offload->blocked_ms == 0.0);
	for (int run = 1; run <= 3; run++) {
		for (int o = 1; o <= 3; o++) {
			long long k = s.t_us[run][o][3], d = s.t_us[run][o][0];
			long long e = s.t_us[run][o][1], c = s.t_us[run][o][2];
			assert_true(k >= cook_us && d >= k);    /* cooked, then delivered */
			assert_true(e - d >= meal_us[o] && c >= e);
		}
	}
	for (int o = 2; o <= 3; o++) {
		/* sync (run 1): an order is cooked once the one before is collected */
		assert_true(s.t_us[1][o][3] - s.t_us[1][o - 1][2] >= cook_us);
		/* async (run 2): the loop cooks one order at a time */
		assert_true(s.t_us[2][o][3] - s.t_us[2][o - 1][3] >= cook_us);
	}
	assert_int_equal(support_sql_int(f->db, "select count(*) from run_summary where "
	                                        "elapsed_ms < ideal_ms"), 0);
}

/* Where the first NDJSON line of type type for mode mode starts; -1 if none. */
static long json_line_at(const char *text, const char *type, const char *mode)
{
	char t[48], m[48];
	const char *l = text;

	snprintf(t, sizeof t, "\"type\":\"%s\"", type);
	snprintf(m, sizeof m, "\"mode\":\"%s\"", mode);
	for (; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t n = strcspn(l, "\n");
		char line[1024];
		snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), l);
		if (strstr(line, t) && strstr(line, m))
			return l - text;
	}
	return -1;
}

/* The second act's point: A's meal comes due while async cooks B on the
 * loop, so async reports the lateness it caused; offload, cooking on the
 * workers, causes none. The runs take turns: each starts once the one
 * before it is done, so no run's figures carry another's cooking. */
static void test_cook_caused_json(void **state)
{
	struct support_e2e *f = *state;
	struct seen s;
	char *text;

	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "--json", "compare", "--cook", "A:1ms:5ms",
	                                    "B:100ms:5ms", "C:100ms:10ms", NULL), 0);
	seen_read(f->out, &s);
	assert_int_equal(s.ndone, 3);
	const struct seen_done *async = seen_find(&s, "async");
	const struct seen_done *offload = seen_find(&s, "offload");
	assert_true(async->caused_ms > 0.0);
	assert_true(async->blocked_ms >= 201.0);
	assert_true(offload->caused_ms == 0.0 && offload->blocked_ms == 0.0);
	/* A, due 5 ms after its delivery, was eaten only once B's cook let go. */
	assert_true(s.t_us[2][1][1] >= s.t_us[2][2][3]);
	text = support_read_file(f->out);
	assert_true(json_line_at(text, "done", "sync") < json_line_at(text, "run", "async"));
	assert_true(json_line_at(text, "done", "async") < json_line_at(text, "run", "offload"));
	assert_true(json_line_at(text, "done", "sync") >= 0);
	free(text);
}

/* Whether some line of text matches the extended regex pattern: the
 * totals' columns are as wide as their widest figure, so a slower run
 * (under valgrind, say) widens them. */
static int has_line_matching(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	int found = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return found;
}

static void test_plain_when_piped(void **state)
{
	struct support_e2e *f = *state;
	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "run", "sync", "A:20ms", "B:20ms", NULL), 0);
	char *out = support_read_file(f->out);
	assert_non_null(out);
	assert_null(strchr(out, '\033'));   /* no terminal codes in a pipe */
	assert_non_null(strstr(out, "A  delivered"));
	assert_non_null(strstr(out, "B  collected"));
	int header = has_line_matching(out, "^mode +orders +elapsed +ideal +overhead +speed-up$");
	int row = has_line_matching(out, "^sync +2 +[0-9.]+ s +[0-9.]+ s +[+][0-9.]+ ms +[0-9.]+x$");
	if (!header || !row)
		print_error("the client's output:\n%s\n", out);
	free(out);
	assert_true(header);
	assert_true(row);
	char *err = support_read_file(f->err);
	assert_non_null(strstr(err, "session "));   /* how to reattach */
	free(err);
}

static void test_exit_codes(void **state)
{
	struct support_e2e *f = *state;
	char *err;

	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "run", "sync", "A:10ms", "B:20ms", NULL), 0);
	/* A limit only the server knows is its ERR: exit 1. */
	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "run", "sync", "A:999h", NULL), 1);
	err = support_read_file(f->err);
	assert_non_null(strstr(err, "ERR meal_too_long"));
	free(err);
	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "fly", NULL), 2);
	/* A mode other than sync/async is a usage error, caught before connecting. */
	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "run", "fast", "A:1s", NULL), 2);
	/* A server that is gone: connection refused, then how to start one,
	 * exit 1. */
	struct test_server gone = f->srv;
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_client_run(&gone, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "demo", NULL), 1);
	err = support_read_file(f->err);
	assert_non_null(strstr(err, "cannot connect"));
	assert_non_null(strstr(strchr(err, '\n') + 1, "'baedald'"));
	assert_null(strchr(strchr(strchr(err, '\n') + 1, '\n') + 1, '\n'));    /* two lines */
	free(err);
}

/* A run submitted on one connection, watched from the client's attach. */
static void test_attach_and_runs(void **state)
{
	struct support_e2e *f = *state;
	struct test_conn c;
	char line[512], id[33];

	support_connect_greeted(&c, f->srv.port, line, sizeof line);
	char *at = strstr(line, "session=");
	assert_non_null(at);
	memcpy(id, at + 8, 32);
	id[32] = '\0';
	assert_int_equal(support_send(&c, "RUN sync A:80ms B:80ms\n"), 0);
	support_expect_line(&c, "OK run=1 mode=sync orders=2");
	support_close(&c);

	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "--json", "attach", id, NULL), 0);
	struct seen s;
	seen_read(f->out, &s);
	assert_int_equal(s.ndone, 1);
	assert_string_equal(s.done[0].status, "done");
	assert_true(s.done[0].elapsed_ms >= 160.0);
	assert_int_equal(s.nevents, 6);

	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "--json", "runs", id, NULL), 0);
	char *out = support_read_file(f->out);
	assert_non_null(strstr(out, "\"type\":\"runinfo\""));
	assert_non_null(strstr(out, "\"status\":\"done\""));
	free(out);
}

/* What the client can tell alone it tells without a server: a bad order
 * or a missing id is a usage error (2) with the reason; with no server
 * listening, it says how to start one. */
static void test_no_server(void **state)
{
	struct support_e2e *f = *state;
	struct test_server none = f->srv;
	static const struct { const char *arg, *why; } bad[] = {
		{ "A:0s", "'0s' is zero" },
		{ "A:1.5us", "'1.5us' is finer than 1 us" },
		{ "A:200ms:0.5us", "'0.5us' is finer than 1 us" },
		{ "A:ten", "'ten' is not a number and a unit" },
	};
	char *err;

	none.port = 1;      /* nothing listens there */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(support_client_run(&none, f->out, f->err, SUPPORT_WAIT_MS, "run",
		                                    "async", "B:1s", bad[i].arg, NULL), 2);
		err = support_read_file(f->err);
		if (!strstr(err, bad[i].why) || strstr(err, "session "))
			print_error("%s: %s\n", bad[i].arg, err);
		assert_non_null(strstr(err, bad[i].why));
		assert_null(strstr(err, "session "));
		free(err);
	}
	assert_int_equal(support_client_run(&none, f->out, f->err, SUPPORT_WAIT_MS, "runs", NULL),
	                 2);
	err = support_read_file(f->err);
	assert_non_null(strstr(err, "runs needs a SESSION"));
	free(err);
	assert_int_equal(support_client_run(&none, f->out, f->err, SUPPORT_WAIT_MS, "run", "async",
	                                    "A:1s", NULL), 1);
	err = support_read_file(f->err);
	assert_non_null(strstr(err, "cannot connect"));
	assert_non_null(strstr(err, "'baedald'"));
	assert_non_null(strstr(err, "docker compose -f docker/compose.yaml up -d"));
	free(err);
	/* export after global options (support_client_run puts --server
	 * first, as the compose file's client does): export asks its HTTP
	 * side, and says so. */
	assert_int_equal(support_client_run(&none, f->out, f->err, SUPPORT_WAIT_MS, "export", "1",
	                                    "--svg", "-", "--http", "127.0.0.1:1", NULL), 1);
	err = support_read_file(f->err);
	if (!strstr(err, "export run 1: cannot connect to 127.0.0.1:1"))
		print_error("export: %s\n", err);
	assert_non_null(strstr(err, "export run 1: cannot connect to 127.0.0.1:1"));
	free(err);
}

/* Many orders made by the server: all stored, none early. */
static void test_gen_many(void **state)
{
	struct support_e2e *f = *state;
	assert_int_equal(support_client_run(&f->srv, f->out, f->err, SUPPORT_WAIT_MS,
	                                    "--json", "gen", "async", "5000", "10ms..30ms",
	                                    NULL), 0);
	char *out = support_read_file(f->out);
	assert_non_null(strstr(out, "\"type\":\"done\""));
	assert_non_null(strstr(out, "\"orders\":5000"));
	free(out);
	assert_int_equal(support_server_stop(&f->srv, SUPPORT_WAIT_MS), 0);
	assert_int_equal(support_sql_int(f->db, "select count(*) from orders"), 5000);
	assert_int_equal(support_sql_int(f->db, "select count(*) from events"), 15000);
	assert_int_equal(support_sql_int(f->db, "select count(*) from order_timeline where "
	                                        "late_ms < 0 or collected_ms is null"), 0);
	assert_int_equal(support_sql_int(f->db, "select max(meal_us) - min(meal_us) from orders"),
	                 20000);
	assert_int_equal(support_sql_int(f->db, "select elapsed_ms >= 30 from run_summary"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUPPORT_E2E_TEST_STARTED(test_compare_json),
		SUPPORT_E2E_TEST_STARTED(test_compare_cook_json),
		SUPPORT_E2E_TEST_STARTED(test_cook_caused_json),
		SUPPORT_E2E_TEST_STARTED(test_plain_when_piped),
		SUPPORT_E2E_TEST_STARTED(test_exit_codes),
		SUPPORT_E2E_TEST_STARTED(test_attach_and_runs),
		SUPPORT_E2E_TEST_STARTED(test_gen_many),
		SUPPORT_E2E_TEST_STARTED(test_no_server),
	};
	return cmocka_run_group_tests_name("e2e_client", tests, NULL, NULL);
}
