/* A worker thread pool for CPU-bound work (cooking): a bounded FIFO of
 * jobs, N pthreads, and completions handed back to the event loop through
 * one eventfd, so the loop itself never runs or waits for the work. */
#ifndef BAEDAL_POOL_H
#define BAEDAL_POOL_H

#include <stdint.h>

struct event_base;
struct pool;
struct pool_job;

/* Runs on a worker thread. It should look at pool_job_cancelled() now and
 * then and return early when it says so. */
typedef void (*pool_work_fn)(struct pool_job *job);
/* Runs on the loop's thread once the work is done (never for a cancelled
 * job). */
typedef void (*pool_done_fn)(struct pool_job *job, void *ctx);

enum pool_job_state { JOB_IDLE = 0, JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

/* Owned by the caller (embedded in what it works for): the pool only
 * links it. Zero it before its first use. */
struct pool_job {
	struct pool_job *next;
	pool_work_fn work;
	void *arg;
	uint64_t in_us, out_us;     /* for the work function: what to do, what it did */
	int state;                  /* enum pool_job_state, under the pool's lock */
	_Atomic int cancel;
};

/* workers threads, at most capacity jobs queued or running at once. done
 * is called on base's loop. NULL on failure. */
struct pool *pool_new(struct event_base *base, unsigned workers, unsigned capacity,
                      pool_done_fn done, void *ctx);
unsigned pool_workers(const struct pool *p);

/* Queues job (its work and arg set). 0, or -1 when the queue is full. */
int pool_submit(struct pool *p, struct pool_job *job);
/* Jobs queued and not started, and workers running one now. */
void pool_gauges(const struct pool *p, unsigned *queued, unsigned *running);
/* Jobs submitted and not yet handed back (queued, running or finished). */
unsigned pool_in_flight(const struct pool *p);

/* From now on the workers finish what they run and start nothing new:
 * what is queued stays queued until cancelled or freed. For shutdown,
 * where each queued job would otherwise start only to be cancelled, one
 * hand-over between the threads at a time. */
void pool_hold(struct pool *p);

/* Takes job back: unqueued if it has not started, stopped (the work sees
 * pool_job_cancelled) and waited for if it is running, dropped if it is
 * finished but not yet handed back. done is not called for it. */
void pool_cancel(struct pool *p, struct pool_job *job);
int pool_job_cancelled(const struct pool_job *job);

/* Cancels what is queued, waits for the running jobs, joins the threads
 * and frees p. No done callback runs after this. */
void pool_free(struct pool *p);

#endif
