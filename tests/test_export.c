/* Unit tests of the exports (server/export_*.c) on fake runs: the lesson's
 * trace, one named thread per order, no overlapping slices on a thread,
 * durations equal to the stored steps; the SVG draws every order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "server/export.h"

#define S 1000000

/* The lesson: A 3 s, B 3 s, C 4 s; sync one after another, async at once.
 * cook: each order cooked for that long first (0: none). */
static void lesson(enum proto_mode mode, uint64_t cook, struct export_run *r,
                   struct export_order o[3])
{
	static const char *names[] = { "A", "B", "C" };
	static const int64_t meals[] = { 3 * S, 3 * S, 4 * S };
	int64_t t = 0, end = 0;
	memset(r, 0, sizeof *r);
	r->id = mode == MODE_SYNC ? 1 : 2;
	r->mode = mode;
	r->status = RUN_DONE;
	r->orders = 3;
	for (int i = 0; i < 3; i++) {
		memset(&o[i], 0, sizeof o[i]);
		for (int s = 0; s < EXPORT_STEPS; s++)
			o[i].t_us[s] = -1;
		o[i].idx = (uint32_t)i + 1;
		snprintf(o[i].name, sizeof o[i].name, "%s", names[i]);
		o[i].meal_us = (uint64_t)meals[i];
		o[i].cook_us = cook;
		/* Cooks take turns (sync: everything does; async: on the loop). */
		t += (int64_t)cook;
		if (cook)
			o[i].t_us[STEP_COOKED] = t;
		o[i].t_us[STEP_DELIVERED] = t;
		o[i].t_us[STEP_EATEN] = t + meals[i];
		o[i].t_us[STEP_COLLECTED] = t + meals[i];
		if (o[i].t_us[STEP_COLLECTED] > end)
			end = o[i].t_us[STEP_COLLECTED];
		if (mode == MODE_SYNC)
			t += meals[i];
	}
	r->elapsed_us = end;
}

struct slice {
	char ph;
	char name[64];
	uint32_t tid;
	int64_t ts, dur;
};

static int64_t field_int(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* The trace's events, one a line as the generator writes them. */
static size_t trace_parse(struct evbuffer *b, struct slice *out, size_t cap)
{
	size_t n = 0, len = evbuffer_get_length(b);
	char *text = malloc(len + 1);
	assert_non_null(text);
	evbuffer_copyout(b, text, len);
	text[len] = '\0';
	assert_true(strncmp(text, "{\"displayTimeUnit\"", 18) == 0);
	assert_non_null(strstr(text, "\n]}\n"));
	for (char *line = strtok(text, "\n"); line && n < cap; line = strtok(NULL, "\n")) {
		const char *ph = strstr(line, "\"ph\":\"");
		if (!ph)
			continue;
		struct slice *s = &out[n++];
		memset(s, 0, sizeof *s);
		s->ph = ph[6];
		const char *name = strstr(line, "\"name\":\"");
		if (s->ph == 'M')   /* the thread's name is in args */
			name = strstr(line, "\"args\":{\"name\":\"") ? strstr(line, "\"args\":{\"name\":\"") + 8
			                                              : NULL;
		if (name)
			sscanf(name + 8, "%63[^\"]", s->name);
		s->tid = (uint32_t)field_int(line, "\"tid\":");
		s->ts = field_int(line, "\"ts\":");
		s->dur = field_int(line, "\"dur\":");
		if (s->ph == 'M' && !strstr(line, "\"thread_name\""))
			n--;   /* process names and sort indexes: not checked here */
	}
	free(text);
	return n;
}

static size_t trace_of(enum proto_mode mode, uint64_t cook, struct slice *out, size_t cap)
{
	struct export_run r;
	struct export_order o[3];
	lesson(mode, cook, &r, o);
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	export_trace_begin(b, &r);
	for (int i = 0; i < 3; i++)
		export_trace_order(b, &r, &o[i]);
	export_trace_inflight(b, &r, 0, 3);
	export_trace_end(b);
	size_t n = trace_parse(b, out, cap);
	evbuffer_free(b);
	return n;
}

/* Every tid with an event has a name; no two slices of one tid overlap. */
static void check_threads(const struct slice *sl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (sl[i].ph != 'X' && sl[i].ph != 'i')
			continue;
		int named = 0;
		for (size_t k = 0; k < n; k++)
			named |= sl[k].ph == 'M' && sl[k].tid == sl[i].tid && sl[k].name[0];
		assert_true(named);
		if (sl[i].ph != 'X')
			continue;
		assert_true(sl[i].dur >= 0);
		for (size_t k = i + 1; k < n; k++) {
			if (sl[k].ph != 'X' || sl[k].tid != sl[i].tid)
				continue;
			int apart = sl[i].ts + sl[i].dur <= sl[k].ts || sl[k].ts + sl[k].dur <= sl[i].ts;
			if (!apart)
				fail_msg("tid %u: %s [%lld+%lld] overlaps %s [%lld+%lld]", sl[i].tid,
				         sl[i].name, (long long)sl[i].ts, (long long)sl[i].dur, sl[k].name,
				         (long long)sl[k].ts, (long long)sl[k].dur);
		}
	}
}

static int64_t span_of(const struct slice *sl, size_t n)
{
	int64_t lo = INT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		if (sl[i].ph != 'X')
			continue;
		if (sl[i].ts < lo)
			lo = sl[i].ts;
		if (sl[i].ts + sl[i].dur > hi)
			hi = sl[i].ts + sl[i].dur;
	}
	return hi - lo;
}

static const struct slice *find(const struct slice *sl, size_t n, char ph, uint32_t tid,
                                const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (sl[i].ph == ph && sl[i].tid == tid && strcmp(sl[i].name, name) == 0)
			return &sl[i];
	}
	return NULL;
}

static void test_trace_async_lesson(void **state)
{
	struct slice sl[128];
	(void)state;
	size_t n = trace_of(MODE_ASYNC, 0, sl, 128);
	check_threads(sl, n);
	assert_int_equal(span_of(sl, n), 4 * S);
	/* One thread per order, named by it, eating for its meal. */
	assert_non_null(find(sl, n, 'M', 1, "A"));
	assert_non_null(find(sl, n, 'M', 3, "C"));
	assert_int_equal(find(sl, n, 'X', 3, "eating")->dur, 4 * S);
	assert_int_equal(find(sl, n, 'X', 1, "eating")->dur, 3 * S);
	assert_non_null(find(sl, n, 'i', 2, "collected"));
	assert_non_null(find(sl, n, 'i', 2, "resume: meal's end"));
	assert_non_null(find(sl, n, 'C', 0, "orders in flight"));
}

static void test_trace_sync_lesson(void **state)
{
	struct slice sl[128];
	(void)state;
	size_t n = trace_of(MODE_SYNC, 0, sl, 128);
	check_threads(sl, n);
	assert_int_equal(span_of(sl, n), 10 * S);
	/* C waits for A's and B's meals, then eats its own. */
	const struct slice *w = find(sl, n, 'X', 3, "waiting");
	assert_non_null(w);
	assert_int_equal(w->ts, 0);
	assert_int_equal(w->dur, 6 * S);
	assert_int_equal(find(sl, n, 'X', 3, "eating")->ts, 6 * S);
}

/* Async's cooks block the loop: each is a slice of the loop's thread too,
 * one after another, and the order's cook ends where its meal starts. */
static void test_trace_async_cooks_on_loop(void **state)
{
	struct slice sl[160];
	(void)state;
	size_t n = trace_of(MODE_ASYNC, 200000, sl, 160);
	check_threads(sl, n);
	int loop = 0;
	for (size_t i = 0; i < n; i++)
		loop += sl[i].ph == 'X' && sl[i].tid == 0;
	assert_int_equal(loop, 3);
	const struct slice *c = find(sl, n, 'X', 2, "cooking");
	assert_non_null(c);
	assert_int_equal(c->ts, 200000);
	assert_int_equal(c->dur, 200000);
	assert_int_equal(find(sl, n, 'X', 2, "eating")->ts, 400000);
	assert_non_null(find(sl, n, 'i', 2, "resume: cook's end"));
}

/* Another client's 450 ms cook, 2.5 s into the sync lesson: one stall. */
#define WALL0 1700000000000000LL
static const struct export_stall one_stall = {
	.id = 7, .started_wall_us = WALL0 + 2500000, .duration_us = 450000, .cause = "cook",
	.run = 9, .order = 2,
};

/* The stall is one slice of the loop's thread, where and as long as it was. */
static void test_trace_stall_on_loop(void **state)
{
	struct export_run r;
	struct export_order o[3];
	struct slice sl[128];
	(void)state;
	lesson(MODE_SYNC, 0, &r, o);
	r.started_wall_us = WALL0;
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	export_trace_begin(b, &r);
	export_trace_stall(b, &r, &one_stall);
	for (int i = 0; i < 3; i++)
		export_trace_order(b, &r, &o[i]);
	export_trace_end(b);
	size_t n = trace_parse(b, sl, 128);
	evbuffer_free(b);
	check_threads(sl, n);
	int loop = 0;
	for (size_t i = 0; i < n; i++)
		loop += sl[i].ph == 'X' && sl[i].tid == 0;
	assert_int_equal(loop, 1);
	const struct slice *st = find(sl, n, 'X', 0, "stall");
	assert_non_null(st);
	assert_int_equal(st->ts, 2500000);
	assert_int_equal(st->dur, 450000);
	assert_non_null(find(sl, n, 'M', 0, "loop"));
}

/* The SVG draws the stall on a loop row, with its cause in its title. */
static void test_svg_marks_stall(void **state)
{
	struct export_run r;
	struct export_order o[3];
	(void)state;
	lesson(MODE_SYNC, 0, &r, o);
	r.started_wall_us = WALL0;
	struct export_svg_run pic = { .run = &r, .orders = o, .norders = 3, .stalls = &one_stall,
	                              .nstalls = 1 };
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	export_svg(b, &pic, 1);
	size_t len = evbuffer_get_length(b);
	char *text = calloc(1, len + 1);
	assert_non_null(text);
	evbuffer_copyout(b, text, len);
	const char *rect = strstr(text, "<rect class=\"stall\"");
	assert_non_null(rect);
	assert_null(strstr(rect + 1, "<rect class=\"stall\""));
	/* 10 s over 830 units: 2.5 s is x 317.5, 450 ms is 37.4 wide. */
	assert_non_null(strstr(rect, "x=\"317.5\""));
	assert_non_null(strstr(rect, "width=\"37.4\""));
	assert_non_null(strstr(rect, "<title>loop stalled 450.0 ms: a cook of run 9 order 2</title>"));
	free(text);
	evbuffer_free(b);
}

/* A step the exports do not know by name still shows, as an instant. */
static void test_step_names_round_trip(void **state)
{
	(void)state;
	for (int s = 0; s < EXPORT_STEPS; s++) {
		const char *name = proto_step_name((enum proto_step)s);
		if (strcmp(name, "?") != 0)
			assert_int_equal(export_step_parse(name), s);
	}
	assert_int_equal(export_step_parse("teleported"), -1);
}

static void test_svg_draws_every_order(void **state)
{
	struct export_run r[2];
	struct export_order o[2][3];
	(void)state;
	lesson(MODE_SYNC, 0, &r[0], o[0]);
	lesson(MODE_ASYNC, 0, &r[1], o[1]);
	struct export_svg_run pics[2] = { { .run = &r[0], .orders = o[0], .norders = 3 },
	                                  { .run = &r[1], .orders = o[1], .norders = 3 } };
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	export_svg(b, pics, 2);
	size_t len = evbuffer_get_length(b);
	char *text = calloc(1, len + 1);
	assert_non_null(text);
	evbuffer_copyout(b, text, len);
	assert_true(strncmp(text, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
	assert_non_null(strstr(text, "</svg>\n"));
	/* One eating bar per order (each with a row's y; the legend's has none). */
	int eating = 0;
	for (const char *p = text; (p = strstr(p, "<rect class=\"eating\"")); p++) {
		const char *end = strchr(p, '>');
		const char *y = strstr(p, " y=\"");
		eating += y && y < end;
	}
	assert_int_equal(eating, 6);
	assert_non_null(strstr(text, "run 1 · sync · 3 orders · elapsed 10.00 s"));
	assert_non_null(strstr(text, "run 2 · async · 3 orders · elapsed 4.00 s"));
	assert_null(strstr(text, "http://www.w3.org/1999/xlink"));
	free(text);
	evbuffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_async_lesson),
		cmocka_unit_test(test_trace_sync_lesson),
		cmocka_unit_test(test_trace_async_cooks_on_loop),
		cmocka_unit_test(test_step_names_round_trip),
		cmocka_unit_test(test_svg_draws_every_order),
		cmocka_unit_test(test_trace_stall_on_loop),
		cmocka_unit_test(test_svg_marks_stall),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
