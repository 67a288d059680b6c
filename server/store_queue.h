/* The record queue between the loop thread (the only producer) and the
 * store's writer thread (the only consumer): appends never wait for I/O. */
#ifndef BAEDAL_STORE_QUEUE_H
#define BAEDAL_STORE_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Past this many queued rows (a generated record counts as its orders)
 * the store is busy and the server refuses new work. */
#define STORE_QUEUE_LIMIT 2000000u
/* A record takes one 32-byte slot (an event) or two (any other kind): a
 * million-order run queues three events an order, and a lagging writer
 * leaves them in memory. */
#define STORE_SLOT_BYTES 32u
#define STORE_CHUNK_SLOTS 8192u
#define STORE_ID_BYTES 16      /* a session id, decoded from its 32 hex digits */
#define STORE_TEXT_MAX 32      /* a name or prefix: NUL-padded, unterminated when full */
#define STORE_CAUSE_MAX 24     /* a stall's cause, the same way: room beside its id */

enum store_rec_kind { REC_SESSION, REC_RUN, REC_ORDER, REC_GEN, REC_EVENT, REC_END, REC_GROUP,
                     REC_STALL, REC_START };

/* Two slots (a cache line) at most: names are kept unterminated and
 * session ids as raw bytes so that even a run or a generated batch fits.
 * An event's record ends with u.event, in one slot: only those bytes of
 * it are in the queue. */
struct store_rec {
	uint64_t run_id;
	uint32_t n;                 /* order idx, orders of a run, generated count */
	uint8_t kind;               /* enum store_rec_kind */
	uint8_t code;               /* mode, step or status */
	union {
		struct { int64_t wall_us; uint8_t id[STORE_ID_BYTES]; } session;
		struct {
			uint64_t sum_us, max_us, ideal_us;
			int64_t wall_us;
			uint8_t id[STORE_ID_BYTES];
		} run;
		struct { uint64_t cook_us, meal_us; char name[STORE_TEXT_MAX]; } order;
		struct { uint64_t lo_us, hi_us; char prefix[STORE_TEXT_MAX]; } gen;
		struct { uint64_t t_us; int64_t wall_us; } event;
		struct { char id[STORE_TEXT_MAX]; uint64_t deadline_us; uint32_t riders; } group;
		struct {
			uint64_t id;
			int64_t wall_us;
			uint64_t duration_us;
			char cause[STORE_CAUSE_MAX];
		} stall;
		struct { int64_t wall_us; } start;
		struct {            /* n: the orders given up on */
			int64_t elapsed_us, wall_us, started_wall_us;
			uint64_t cook_us, blocked_us, caused_us;
		} end;
	} u;
};

struct store_chunk;

/* How many bytes of the queue a record of this kind takes. */
static inline size_t store_rec_bytes(enum store_rec_kind kind)
{
	return kind == REC_EVENT ? STORE_SLOT_BYTES : 2 * STORE_SLOT_BYTES;
}

/* The padding keeps what each thread writes for every record off the
 * other thread's cache lines. */
struct store_queue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* Seq of the last record pushed (0: none yet). Written by the producer
	 * alone, with release order, so a push takes no lock: a mutex per
	 * record was a tenth of the loop's time in a million-order run. */
	_Atomic uint64_t appended;
	/* under mu */
	bool consumer_idle, stop;
	/* the producer's own */
	struct store_chunk *tail;
	unsigned tail_len;          /* bytes of tail filled */
	unsigned slot_len;          /* bytes of the record store_queue_slot() gave */
	uint64_t pushed_rows;
	char pad1[64];
	/* the consumer's own */
	struct store_chunk *head;
	unsigned head_pos;          /* bytes of head consumed */
	uint64_t taken;             /* seq of the last record consumed */
	char pad2[64];
	/* written by the consumer, read by the producer */
	_Atomic uint64_t done_rows;
	/* A consumed chunk handed back for reuse: its pages are already
	 * mapped, so a steady queue appends without page faults. */
	struct store_chunk *_Atomic spare;
};

int store_queue_init(struct store_queue *q);
/* Frees every chunk, consumed or not. No thread may use q any more. */
void store_queue_destroy(struct store_queue *q);

/* Producer: fill the record returned by store_queue_slot() (its first
 * store_rec_bytes(kind) bytes; kind is set), then push it with the rows
 * it stands for. Returns the record's seq (1, 2, ...). */
struct store_rec *store_queue_slot(struct store_queue *q, enum store_rec_kind kind);
uint64_t store_queue_push(struct store_queue *q, uint64_t rows);
/* Wakes the consumer if it sleeps while records wait. Pushing does not:
 * waking a thread on another CPU costs tens of microseconds on a VM, so
 * the producer wakes it once per burst of pushes. */
void store_queue_kick(struct store_queue *q);
uint64_t store_queue_last(const struct store_queue *q);
/* Rows pushed and not yet reported done by the consumer. */
uint64_t store_queue_backlog(const struct store_queue *q);

/* Consumer: waits for records (or stop) and returns the seq of the last
 * record it may read; equal to q->taken only when stopped and drained. */
uint64_t store_queue_wait(struct store_queue *q);
/* The record after q->taken (the caller knows one is there): only its
 * first store_rec_bytes(kind) bytes may be read. advance moves past it. */
const struct store_rec *store_queue_peek(struct store_queue *q);
void store_queue_advance(struct store_queue *q);
void store_queue_done(struct store_queue *q, uint64_t rows);

/* Makes store_queue_wait() return once the queue is drained. */
void store_queue_stop(struct store_queue *q);

#endif
