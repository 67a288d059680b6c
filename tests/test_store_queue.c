/* The store's record queue: events in one slot, other records in two,
 * across chunk boundaries, in order, on one thread and between two. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "server/store_queue.h"

/* Enough records to cross many chunks, with a two-slot record landing on
 * a chunk's last slot (an odd number of events before it). */
#define NRECS (3u * STORE_CHUNK_SLOTS + 7u)

/* Record i: an event unless i is a multiple of 5 (a run), so runs come
 * after four, then five... events and meet both parities of slot. */
static enum store_rec_kind kind_of(uint32_t i)
{
	return i % 5 == 0 ? REC_RUN : REC_EVENT;
}

static void push_one(struct store_queue *q, uint32_t i)
{
	enum store_rec_kind kind = kind_of(i);
	struct store_rec *r = store_queue_slot(q, kind);
	assert_int_equal(r->kind, kind);
	r->run_id = 1000u + i;
	r->n = i;
	r->code = (uint8_t)i;
	if (kind == REC_EVENT) {
		r->u.event.t_us = 7u * i;
		r->u.event.wall_us = -(int64_t)i;
	} else {
		r->u.run.sum_us = i;
		r->u.run.max_us = 2u * i;
		r->u.run.ideal_us = 3u * i;
		r->u.run.wall_us = 4 * (int64_t)i;
		memset(r->u.run.id, (int)(i & 0xff), sizeof r->u.run.id);
	}
	assert_int_equal(store_queue_push(q, 1), i + 1);
}

static void check_one(struct store_queue *q, uint32_t i)
{
	const struct store_rec *r = store_queue_peek(q);
	assert_int_equal(r->kind, kind_of(i));
	assert_int_equal(r->run_id, 1000u + i);
	assert_int_equal(r->n, i);
	assert_int_equal(r->code, (uint8_t)i);
	if (r->kind == REC_EVENT) {
		assert_int_equal(r->u.event.t_us, 7u * i);
		assert_int_equal(r->u.event.wall_us, -(int64_t)i);
	} else {
		assert_int_equal(r->u.run.ideal_us, 3u * i);
		assert_int_equal(r->u.run.wall_us, 4 * (int64_t)i);
		assert_int_equal(r->u.run.id[STORE_ID_BYTES - 1], i & 0xff);
	}
	store_queue_advance(q);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(store_rec_bytes(REC_EVENT), 32);
	assert_int_equal(store_rec_bytes(REC_RUN), 64);
	assert_int_equal(store_rec_bytes(REC_GEN), 64);
	assert_true(offsetof(struct store_rec, u.event.wall_us) + sizeof(int64_t) <=
	            store_rec_bytes(REC_EVENT));
}

/* Pushed all, then read all: every chunk is full before the first read. */
static void test_in_order_across_chunks(void **state)
{
	(void)state;
	struct store_queue q;
	assert_int_equal(store_queue_init(&q), 0);
	for (uint32_t i = 0; i < NRECS; i++)
		push_one(&q, i);
	assert_int_equal(store_queue_backlog(&q), NRECS);
	assert_int_equal(store_queue_wait(&q), NRECS);
	for (uint32_t i = 0; i < NRECS; i++)
		check_one(&q, i);
	assert_int_equal(q.taken, NRECS);
	store_queue_done(&q, NRECS);
	assert_int_equal(store_queue_backlog(&q), 0);
	store_queue_destroy(&q);
}

/* Read as pushed: the reader meets the producer's chunk while it fills,
 * then takes it back as the spare. */
static void test_interleaved(void **state)
{
	(void)state;
	struct store_queue q;
	assert_int_equal(store_queue_init(&q), 0);
	for (uint32_t i = 0; i < NRECS; i++) {
		push_one(&q, i);
		if (i % 3 == 2) {
			uint64_t last = store_queue_wait(&q);
			for (uint32_t k = (uint32_t)q.taken; k < last; k++)
				check_one(&q, k);
		}
	}
	uint64_t last = store_queue_wait(&q);
	for (uint32_t k = (uint32_t)q.taken; k < last; k++)
		check_one(&q, k);
	assert_int_equal(q.taken, NRECS);
	store_queue_destroy(&q);
}

static void *consume(void *arg)
{
	struct store_queue *q = arg;
	uint64_t last;
	while ((last = store_queue_wait(q)) > q->taken) {
		while (q->taken < last)
			check_one(q, (uint32_t)q->taken);
	}
	return NULL;
}

/* The writer's thread reads while the loop's pushes. */
static void test_two_threads(void **state)
{
	(void)state;
	enum { ROUNDS = 20 };
	struct store_queue q;
	pthread_t t;
	assert_int_equal(store_queue_init(&q), 0);
	assert_int_equal(pthread_create(&t, NULL, consume, &q), 0);
	for (uint32_t i = 0; i < ROUNDS * NRECS; i++) {
		push_one(&q, i);
		if (i % 1000 == 999)
			store_queue_kick(&q);
	}
	store_queue_stop(&q);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(q.taken, ROUNDS * NRECS);
	store_queue_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_in_order_across_chunks),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_two_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
