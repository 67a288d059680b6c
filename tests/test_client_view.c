/* Unit tests of the client's model and live view: the frames view_render
 * draws from what the server reported, at a given time and size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/model.h"
#include "client/view.h"
#include "tests/support.h"

static void event(struct model *m, uint64_t run, uint32_t order, enum proto_step step,
                  uint64_t t_us, int64_t now_us)
{
	struct proto_event ev = { .seq = 1, .run = run, .order = order, .step = step, .t_us = t_us };

	ev.name[0] = (char)('A' + order - 1);
	assert_int_equal(model_apply_event(m, &ev, now_us), 0);
}

/* The lesson 4.213 s in: sync has A collected and B eating; async has A
 * and B collected and C eating. Both runs' OKs arrived at time 0. */
static void demo_model(struct model *m)
{
	char *orders[] = { (char *)"A:3s", (char *)"B:3s", (char *)"C:4s" };

	model_init(m, 1);
	model_set_orders(model_add_run(m, 1, MODE_SYNC, 3, 0), orders, 3);
	model_set_orders(model_add_run(m, 2, MODE_ASYNC, 3, 0), orders, 3);
	event(m, 1, 1, STEP_DELIVERED, 21, 100);
	event(m, 1, 1, STEP_EATEN, 3000102, 3000200);
	event(m, 1, 1, STEP_COLLECTED, 3000110, 3000200);
	event(m, 1, 2, STEP_DELIVERED, 3000120, 3000200);
	for (uint32_t i = 1; i <= 3; i++)
		event(m, 2, i, STEP_DELIVERED, 20 + i, 100);
	for (uint32_t i = 1; i <= 2; i++) {
		event(m, 2, i, STEP_EATEN, 3000100 + i, 3000200);
		event(m, 2, i, STEP_COLLECTED, 3000105 + i, 3000200);
	}
}

/* The frame without its "erase to end of line" sequences. */
static void render(const struct model *m, int64_t now_us, int width, int height, int color,
                   char *out, size_t cap, int *lines)
{
	struct view_opts o = { .width = width, .height = height, .color = color };
	*lines = support_render_view(m, now_us, &o, out, cap);
	assert_true(*lines >= 0);
}

/* The last cell of the first row starting with prefix that is not blank. */
static long bar_end(const char *frame, const char *prefix)
{
	const char *row = strstr(frame, prefix);
	const char *close = row ? strchr(row, ']') : NULL;

	assert_non_null(close);
	while (close[-1] == ' ')
		close--;
	return close - row;
}

static void test_view_frame(void **state)
{
	struct model m;
	char frame[8192];
	int lines;
	(void)state;

	demo_model(&m);
	render(&m, 4213000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_int_equal(lines, 10);
	assert_non_null(strstr(frame,
		"sync   run 1  3 orders  clock 4.213 s\n"
		"  A     3s    [===============#                                    ]  collected\n"
		"  B     3s    [...............=======                              ]  eating\n"
		"  C     4s    [......................                              ]  waiting\n"
		"async  run 2  3 orders  clock "));
	assert_non_null(strstr(frame,
		"           0 s                                                       10.000 s\n"
		"  . waiting  ~ cooking  = eating  # collected\n"));
	/* One edge for now: the waiting row ends where the eating one does. */
	assert_int_equal(bar_end(frame, "  C     4s"), bar_end(frame, "  B     3s"));
	assert_null(strstr(frame, "x cancelled"));
	/* A cancelled order: its bar ends in an 'x', and the key says so. */
	event(&m, 2, 3, STEP_CANCELLED, 4100000, 4100100);
	render(&m, 4213000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "  . waiting  ~ cooking  = eating  # collected  x cancelled\n"));
	render(&m, 4213000, 80, 24, 1, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "\033[33m"));
	model_free(&m);
}

static void test_view_done_and_narrow(void **state)
{
	struct proto_done d = { .run = 2, .mode = MODE_ASYNC, .orders = 3, .status = RUN_DONE,
	                        .elapsed_us = 4000297, .ideal_us = 4000000, .sum_us = 10000000 };
	struct model m;
	char frame[8192];
	int lines;
	(void)state;

	demo_model(&m);
	event(&m, 2, 3, STEP_EATEN, 4000290, 4000300);
	event(&m, 2, 3, STEP_COLLECTED, 4000297, 4000300);
	assert_int_equal(model_apply_done(&m, &d, 4000400), 0);
	render(&m, 9000000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "async  run 2  3 orders  clock 4.000 s  done\n"));
	assert_non_null(strstr(frame, "  C     4s    [====================#"));
	/* Narrow: every line is cut before the last column, so none wraps. */
	render(&m, 9000000, 30, 24, 0, frame, sizeof frame, &lines);
	for (char *line = frame, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		assert_true(nl - line <= 29);
	model_free(&m);
}

static void test_view_summary(void **state)
{
	struct model m;
	char frame[8192];
	int lines;
	(void)state;

	model_init(&m, 1);
	model_set_generated(model_add_run(&m, 7, MODE_ASYNC, 1000, 0), 1000000, 3000000, "o");
	event(&m, 7, 1, STEP_DELIVERED, 10, 100);
	event(&m, 7, 2, STEP_DELIVERED, 12, 100);
	event(&m, 7, 1, STEP_EATEN, 1000510, 1000600);
	event(&m, 7, 1, STEP_COLLECTED, 1000515, 1000600);
	render(&m, 1500000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_int_equal(lines, 5);
	assert_non_null(strstr(frame, "async  run 7  1000 orders  clock 1.500 s\n  all orders"));
	assert_non_null(strstr(frame,
	                       "  waiting 998  eating 1  collected 1  slowest A +0.500 ms late\n"));
	assert_non_null(strstr(frame, "3.000 s\n"));
	/* Events dropped: a collected line alone still counts, and DONE says all. */
	event(&m, 7, 3, STEP_COLLECTED, 1000700, 1000800);
	render(&m, 1500000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "  waiting 997  eating 1  collected 2  slowest"));
	{
		struct proto_done d = { .run = 7, .mode = MODE_ASYNC, .orders = 1000,
		                        .status = RUN_DONE, .elapsed_us = 3000400, .ideal_us = 3000000 };
		assert_int_equal(model_apply_done(&m, &d, 3000500), 0);
	}
	render(&m, 3500000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "  waiting 0  eating 0  collected 1000  slowest"));
	model_free(&m);

	/* Three orders, but too few rows on the screen for them. */
	demo_model(&m);
	render(&m, 4213000, 80, 9, 0, frame, sizeof frame, &lines);
	assert_true(lines <= 8);
	assert_non_null(strstr(frame, "waiting 1  eating 1  collected 1"));
	render(&m, 4213000, 80, 2, 0, frame, sizeof frame, &lines);
	assert_int_equal(lines, 6);
	assert_non_null(strstr(frame, "(1 earlier runs not shown)"));
	model_free(&m);
}

/* async cooks on the loop: while B cooks, the loop is held since A was
 * delivered, the axis marks it, the key says what '^' is; once B is
 * cooked, nothing holds it and the mark stays for the span it held. */
static void test_view_loop_held(void **state)
{
	struct model m;
	char frame[8192];
	int lines;
	char *orders[] = { (char *)"A:10ms:100ms", (char *)"B:450ms:100ms" };
	(void)state;

	model_init(&m, 1);
	model_set_orders(model_add_run(&m, 3, MODE_ASYNC, 2, 5000), orders, 2);
	assert_int_equal(view_loop_held_since(&m), 5000);       /* A cooks from the start */
	event(&m, 3, 1, STEP_COOKED, 10000, 15000);
	event(&m, 3, 1, STEP_DELIVERED, 10000, 15000);
	assert_int_equal(view_loop_held_since(&m), 15000);      /* then B, from A's delivery */
	render(&m, 305000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "^^^"));
	assert_non_null(strstr(frame, "# collected  ^ a cook held the loop\n"));
	event(&m, 3, 2, STEP_COOKED, 460000, 465000);
	event(&m, 3, 2, STEP_DELIVERED, 460000, 465000);
	assert_int_equal(view_loop_held_since(&m), -1);
	render(&m, 600000, 80, 24, 0, frame, sizeof frame, &lines);
	assert_non_null(strstr(frame, "^^^"));
	model_free(&m);
}

static void test_model_attached_run(void **state)
{
	struct proto_done hint = { .run = 1, .mode = MODE_SYNC, .orders = 3,
	                           .status = RUN_RUNNING, .elapsed_us = -1, .ideal_us = 10000000 };
	struct model m;
	const struct model_run *r;
	(void)state;

	model_init(&m, 1);
	assert_int_equal(model_add_hint(&m, &hint), 0);
	/* Replayed late, then live: the start is the earliest estimate. */
	event(&m, 1, 1, STEP_DELIVERED, 20, 5000000);
	event(&m, 1, 1, STEP_EATEN, 3000100, 5000000);
	event(&m, 1, 2, STEP_DELIVERED, 3000200, 3000300);
	r = model_find_run_const(&m, 1);
	assert_int_equal(r->mode, MODE_SYNC);
	assert_int_equal(r->norders, 3);
	assert_int_equal(r->ideal_us, 10000000);
	assert_int_equal(model_run_clock_us(r, 4000000), 3999900);
	assert_int_equal(r->slowest_late_us, 3000080);
	event(&m, 1, 9, STEP_DELIVERED, 1, 5000000);
	assert_int_equal(r->started, 2);
	assert_int_equal(r->collected, 0);

	/* Without a hint the run grows with the indexes it sees. */
	event(&m, 5, 40, STEP_DELIVERED, 1, 10);
	r = model_find_run_const(&m, 5);
	assert_int_equal(r->mode, MODEL_MODE_UNKNOWN);
	assert_int_equal(r->norders, 40);
	assert_true(model_any_running(&m));
	model_free(&m);
}

static void test_model_generated(void **state)
{
	struct model m;
	struct model_run *r;
	(void)state;

	model_init(&m, 1);
	r = model_add_run(&m, 3, MODE_SYNC, 3, 0);
	model_set_generated(r, 10000, 30000, "o");
	assert_int_equal(r->ideal_us, 60000);
	assert_int_equal(r->orders[1].meal_us, 20000);
	assert_string_equal(r->names[2], "o3");
	assert_int_equal(r->name_width, 2);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_frame),
		cmocka_unit_test(test_view_done_and_narrow),
		cmocka_unit_test(test_view_summary),
		cmocka_unit_test(test_view_loop_held),
		cmocka_unit_test(test_model_attached_run),
		cmocka_unit_test(test_model_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
