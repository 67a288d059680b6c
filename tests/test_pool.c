/* The worker pool with real threads and a real event loop: every job comes
 * back once, on the loop's thread; more jobs than threads queue up; a full
 * queue refuses; cancelled jobs never come back; a held pool starts
 * nothing new; shutdown joins. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "server/cook.h"
#include "server/pool.h"

#define NJOBS 64

struct world {
	struct event_base *base;
	struct pool_job jobs[NJOBS];
	int done_count[NJOBS];
	int ndone;
	int expect;                  /* break the loop after this many */
	pthread_t loop_thread;
	int wrong_thread;
	_Atomic int started;         /* until_cancelled jobs that began */
};

static struct world w;

/* Work with a visible result: out = 2 * in, after a little CPU time. */
static void double_it(struct pool_job *job)
{
	cook(200, &job->cancel);
	job->out_us = 2 * job->in_us;
}

/* Runs until the work is cancelled: only pool_cancel/pool_free end it. */
static void until_cancelled(struct pool_job *job)
{
	w.started++;
	while (!pool_job_cancelled(job))
		cook(100, &job->cancel);
	job->out_us = 1;
}

static void on_done(struct pool_job *job, void *ctx)
{
	struct world *wd = ctx;
	if (!pthread_equal(pthread_self(), wd->loop_thread))
		wd->wrong_thread = 1;
	wd->done_count[job - wd->jobs]++;
	if (++wd->ndone == wd->expect)
		event_base_loopbreak(wd->base);
}

static int setup(void **state)
{
	(void)state;
	memset(&w, 0, sizeof w);
	w.base = event_base_new();
	w.loop_thread = pthread_self();
	return w.base ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	event_base_free(w.base);
	return 0;
}

/* Runs the loop until expect jobs came back, or 10 s pass. */
static void run_loop(int expect)
{
	struct timeval limit = { .tv_sec = 10 };
	w.expect = expect;
	event_base_loopexit(w.base, &limit);
	event_base_dispatch(w.base);
}

static void submit(struct pool *p, int i, pool_work_fn fn)
{
	w.jobs[i].work = fn;
	w.jobs[i].in_us = (uint64_t)i;
	w.jobs[i].arg = &w;
	assert_int_equal(pool_submit(p, &w.jobs[i]), 0);
}

static void test_more_jobs_than_threads(void **state)
{
	(void)state;
	struct pool *p = pool_new(w.base, 3, NJOBS, on_done, &w);
	assert_non_null(p);
	assert_int_equal(pool_workers(p), 3);
	for (int i = 0; i < NJOBS; i++)
		submit(p, i, double_it);
	run_loop(NJOBS);
	assert_int_equal(w.ndone, NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(w.done_count[i], 1);
		assert_int_equal(w.jobs[i].out_us, 2 * (uint64_t)i);
		assert_int_equal(w.jobs[i].state, JOB_IDLE);
	}
	assert_false(w.wrong_thread);
	assert_int_equal(pool_in_flight(p), 0);
	pool_free(p);
}

static void test_full_queue_refuses(void **state)
{
	(void)state;
	struct pool *p = pool_new(w.base, 1, 4, on_done, &w);
	assert_non_null(p);
	for (int i = 0; i < 4; i++)
		submit(p, i, double_it);
	w.jobs[4].work = double_it;
	assert_int_equal(pool_submit(p, &w.jobs[4]), -1);
	assert_int_equal(pool_in_flight(p), 4);
	run_loop(4);
	/* Handed back, the slots are free again. */
	assert_int_equal(pool_in_flight(p), 0);
	submit(p, 4, double_it);
	run_loop(5);
	assert_int_equal(w.done_count[4], 1);
	pool_free(p);
}

static void test_cancel_queued_and_running(void **state)
{
	(void)state;
	struct pool *p = pool_new(w.base, 1, NJOBS, on_done, &w);
	assert_non_null(p);
	submit(p, 0, until_cancelled);     /* occupies the only worker */
	submit(p, 1, double_it);           /* waits behind it */
	submit(p, 2, double_it);
	pool_cancel(p, &w.jobs[1]);        /* queued: unlinked */
	assert_int_equal(w.jobs[1].state, JOB_IDLE);
	/* Wait until job 0 really runs, then cancel it: pool_cancel returns
	 * only once the worker has let go of it. */
	struct timespec pause = { 0, 1000000 };
	for (int i = 0; i < 10000 && !w.started; i++)
		nanosleep(&pause, NULL);
	assert_int_equal(w.started, 1);
	pool_cancel(p, &w.jobs[0]);
	assert_int_equal(w.jobs[0].state, JOB_IDLE);
	assert_int_equal(w.jobs[0].out_us, 1);     /* its work saw the cancel */
	run_loop(1);
	assert_int_equal(w.done_count[0], 0);
	assert_int_equal(w.done_count[1], 0);
	assert_int_equal(w.done_count[2], 1);
	assert_int_equal(pool_in_flight(p), 0);
	pool_free(p);
}

/* Held (shutdown begins): the running job finishes when cancelled, and
 * the worker it frees starts nothing that was queued behind it. */
static void test_hold_starts_nothing_new(void **state)
{
	(void)state;
	struct pool *p = pool_new(w.base, 1, NJOBS, on_done, &w);
	assert_non_null(p);
	submit(p, 0, until_cancelled);
	submit(p, 1, double_it);
	submit(p, 2, double_it);
	struct timespec pause = { 0, 1000000 };
	for (int i = 0; i < 10000 && !w.started; i++)
		nanosleep(&pause, NULL);
	assert_int_equal(w.started, 1);
	pool_hold(p);
	pool_cancel(p, &w.jobs[0]);
	/* Unheld, job 1 would take the worker now and be back in well under
	 * these 200 ms (0.2 ms of work). */
	struct timeval wait = { 0, 200000 };
	event_base_loopexit(w.base, &wait);
	event_base_dispatch(w.base);
	assert_int_equal(w.ndone, 0);
	assert_int_equal(pool_in_flight(p), 2);
	pool_cancel(p, &w.jobs[1]);
	pool_cancel(p, &w.jobs[2]);
	assert_int_equal(w.jobs[1].state, JOB_IDLE);
	assert_int_equal(w.jobs[2].state, JOB_IDLE);
	assert_int_equal(pool_in_flight(p), 0);
	pool_free(p);
}

/* Shutdown with work queued and running: no callback, no hang, no leak. */
static void test_free_with_work_left(void **state)
{
	(void)state;
	struct pool *p = pool_new(w.base, 2, NJOBS, on_done, &w);
	assert_non_null(p);
	for (int i = 0; i < 8; i++)
		submit(p, i, until_cancelled);
	pool_free(p);
	struct timeval none = { 0, 0 };
	event_base_loopexit(w.base, &none);
	event_base_dispatch(w.base);
	assert_int_equal(w.ndone, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_more_jobs_than_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_queued_and_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_starts_nothing_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_work_left, setup, teardown),
	};
	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
