#include "server/store_queue.h"

#include <stdlib.h>

#include "server/log.h"

_Static_assert(sizeof(struct store_rec) == 2 * STORE_SLOT_BYTES,
               "a record should fill two slots at most");
_Static_assert(offsetof(struct store_rec, u.event) + sizeof(((struct store_rec *)0)->u.event) ==
               STORE_SLOT_BYTES, "an event should fill one slot");

/* len: bytes of recs filled. The producer stores it before it publishes
 * the record (release on appended), so a consumer that has seen a record
 * has seen the len that covers it; past len, the record is in next. */
struct store_chunk {
	struct store_chunk *next;
	_Atomic unsigned len;
	_Alignas(64) unsigned char recs[STORE_CHUNK_SLOTS * STORE_SLOT_BYTES];
};

/* Appends must not fail, or an acknowledged order could go unrecorded:
 * when memory is gone there is nothing sensible left to do but stop. */
static struct store_chunk *store_chunk_new(void)
{
	struct store_chunk *c = malloc(sizeof *c);
	if (!c) {
		log_error("store: out of memory for the record queue");
		abort();
	}
	c->next = NULL;
	atomic_init(&c->len, 0);
	return c;
}

int store_queue_init(struct store_queue *q)
{
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&q->cond, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		return -1;
	}
	atomic_init(&q->appended, 0);
	q->consumer_idle = false;
	q->stop = false;
	q->tail = q->head = store_chunk_new();
	q->tail_len = 0;
	q->slot_len = 0;
	q->head_pos = 0;
	q->pushed_rows = 0;
	q->taken = 0;
	atomic_init(&q->done_rows, 0);
	atomic_init(&q->spare, NULL);
	return 0;
}

void store_queue_destroy(struct store_queue *q)
{
	struct store_chunk *c = q->head;
	while (c) {
		struct store_chunk *next = c->next;
		free(c);
		c = next;
	}
	q->head = q->tail = NULL;
	free(atomic_load(&q->spare));
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
}

struct store_rec *store_queue_slot(struct store_queue *q, enum store_rec_kind kind)
{
	unsigned len = (unsigned)store_rec_bytes(kind);
	/* The consumer reads tail->next only for records published after it
	 * was linked, so linking a fresh chunk needs no lock. A record that
	 * does not fit leaves the chunk's last slot unused. */
	if (q->tail_len + len > sizeof q->tail->recs) {
		struct store_chunk *c = atomic_exchange(&q->spare, NULL);
		if (!c)
			c = store_chunk_new();
		c->next = NULL;
		atomic_store_explicit(&c->len, 0, memory_order_relaxed);
		q->tail->next = c;
		q->tail = c;
		q->tail_len = 0;
	}
	q->slot_len = len;
	struct store_rec *r = (struct store_rec *)(void *)(q->tail->recs + q->tail_len);
	r->kind = (uint8_t)kind;
	return r;
}

uint64_t store_queue_push(struct store_queue *q, uint64_t rows)
{
	q->tail_len += q->slot_len;
	atomic_store_explicit(&q->tail->len, q->tail_len, memory_order_relaxed);
	q->pushed_rows += rows;
	/* Release: the record (and a fresh chunk's link) is visible to a
	 * consumer that reads this seq. A consumer about to sleep is woken by
	 * store_queue_kick(), which takes the mutex it sleeps under. */
	uint64_t seq = atomic_load_explicit(&q->appended, memory_order_relaxed) + 1;
	atomic_store_explicit(&q->appended, seq, memory_order_release);
	return seq;
}

void store_queue_kick(struct store_queue *q)
{
	pthread_mutex_lock(&q->mu);
	/* Signalling only an idle consumer keeps a busy one from paying a
	 * wake-up it does not need. It went idle, under mu, having seen no
	 * record after its last one; anything pushed since is news. */
	if (q->consumer_idle) {
		q->consumer_idle = false;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
}

uint64_t store_queue_last(const struct store_queue *q)
{
	/* Only the producer writes appended, and only the producer asks. */
	return atomic_load_explicit(&q->appended, memory_order_relaxed);
}

uint64_t store_queue_backlog(const struct store_queue *q)
{
	return q->pushed_rows - atomic_load_explicit(&q->done_rows, memory_order_relaxed);
}

uint64_t store_queue_wait(struct store_queue *q)
{
	uint64_t last;
	pthread_mutex_lock(&q->mu);
	while ((last = atomic_load_explicit(&q->appended, memory_order_acquire)) == q->taken &&
	       !q->stop) {
		q->consumer_idle = true;
		pthread_cond_wait(&q->cond, &q->mu);
	}
	q->consumer_idle = false;
	pthread_mutex_unlock(&q->mu);
	return last;
}

const struct store_rec *store_queue_peek(struct store_queue *q)
{
	/* A head chunk read to its len with a record after it is behind the
	 * producer's tail for good, so the consumer may free it alone. */
	if (q->head_pos == atomic_load_explicit(&q->head->len, memory_order_relaxed)) {
		struct store_chunk *old = q->head;
		q->head = old->next;
		q->head_pos = 0;
		free(atomic_exchange(&q->spare, old));
	}
	return (const struct store_rec *)(const void *)(q->head->recs + q->head_pos);
}

void store_queue_advance(struct store_queue *q)
{
	const struct store_rec *r = (const void *)(q->head->recs + q->head_pos);
	q->head_pos += (unsigned)store_rec_bytes((enum store_rec_kind)r->kind);
	q->taken++;
}

void store_queue_done(struct store_queue *q, uint64_t rows)
{
	atomic_fetch_add_explicit(&q->done_rows, rows, memory_order_relaxed);
}

void store_queue_stop(struct store_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
}
