#include "server/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <event2/event.h>

struct job_list {
	struct pool_job *head, *tail;
};

struct worker {
	pthread_t thread;
	struct pool *pool;
	struct pool_job *current;   /* under the lock */
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;        /* a job was queued, or stop */
	pthread_cond_t finished;    /* a job left JOB_RUNNING */
	struct job_list queue, done;
	unsigned in_flight, capacity;
	unsigned queued;            /* jobs in queue */
	int stop;
	int held;                   /* workers take no new job (shutdown) */
	int efd;                    /* written when done goes from empty to not */
	struct event *wake;
	pool_done_fn done_fn;
	void *ctx;
	unsigned nworkers;
	struct worker *workers;
};

static void list_push(struct job_list *l, struct pool_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct pool_job *list_pop(struct job_list *l)
{
	struct pool_job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		j->next = NULL;
	}
	return j;
}

/* O(n), but only for cancellations, which are rare (shutdown). */
static int list_remove(struct job_list *l, struct pool_job *j)
{
	struct pool_job *prev = NULL;
	for (struct pool_job *it = l->head; it; prev = it, it = it->next) {
		if (it != j)
			continue;
		if (prev)
			prev->next = j->next;
		else
			l->head = j->next;
		if (l->tail == j)
			l->tail = prev;
		j->next = NULL;
		return 1;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && (p->held || !p->queue.head))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		struct pool_job *j = list_pop(&p->queue);
		p->queued--;
		j->state = JOB_RUNNING;
		w->current = j;
		pthread_mutex_unlock(&p->mu);

		j->work(j);

		pthread_mutex_lock(&p->mu);
		w->current = NULL;
		j->state = JOB_FINISHED;
		int was_empty = p->done.head == NULL;
		list_push(&p->done, j);
		pthread_cond_broadcast(&p->finished);
		if (was_empty) {
			uint64_t one = 1;
			/* Cannot fail short of a bad descriptor; an overflowing
			 * counter (EAGAIN) already means the loop will wake. */
			ssize_t n = write(p->efd, &one, sizeof one);
			(void)n;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* On the loop: hands finished jobs back one at a time, so a done callback
 * may cancel another finished job. */
static void pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	uint64_t count;
	(void)what;
	if (read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
		return;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		struct pool_job *j = list_pop(&p->done);
		if (j) {
			j->state = JOB_IDLE;
			p->in_flight--;
		}
		pthread_mutex_unlock(&p->mu);
		if (!j)
			break;
		p->done_fn(j, p->ctx);
	}
}

static int pool_start_workers(struct pool *p, unsigned workers)
{
	p->workers = calloc(workers, sizeof *p->workers);
	if (!p->workers)
		return -1;
	for (unsigned i = 0; i < workers; i++) {
		p->workers[i].pool = p;
		if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0)
			return -1;
		p->nworkers++;
	}
	return 0;
}

struct pool *pool_new(struct event_base *base, unsigned workers, unsigned capacity,
                      pool_done_fn done, void *ctx)
{
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->capacity = capacity;
	p->done_fn = done;
	p->ctx = ctx;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->finished, NULL);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd >= 0)
		p->wake = event_new(base, p->efd, EV_READ | EV_PERSIST, pool_wake_cb, p);
	if (!p->wake || event_add(p->wake, NULL) < 0 || workers == 0 ||
	    pool_start_workers(p, workers) < 0) {
		pool_free(p);
		return NULL;
	}
	return p;
}

unsigned pool_workers(const struct pool *p)
{
	return p->nworkers;
}

int pool_submit(struct pool *p, struct pool_job *job)
{
	pthread_mutex_lock(&p->mu);
	if (p->stop || p->in_flight >= p->capacity) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	job->cancel = 0;
	job->state = JOB_QUEUED;
	p->in_flight++;
	p->queued++;
	list_push(&p->queue, job);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void pool_gauges(const struct pool *p, unsigned *queued, unsigned *running)
{
	pthread_mutex_t *mu = (pthread_mutex_t *)&p->mu;
	pthread_mutex_lock(mu);
	*queued = p->queued;
	*running = 0;
	for (unsigned i = 0; i < p->nworkers; i++)
		*running += p->workers[i].current != NULL;
	pthread_mutex_unlock(mu);
}

unsigned pool_in_flight(const struct pool *p)
{
	pthread_mutex_t *mu = (pthread_mutex_t *)&p->mu;
	pthread_mutex_lock(mu);
	unsigned n = p->in_flight;
	pthread_mutex_unlock(mu);
	return n;
}

void pool_hold(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->held = 1;
	pthread_mutex_unlock(&p->mu);
}

void pool_cancel(struct pool *p, struct pool_job *job)
{
	pthread_mutex_lock(&p->mu);
	if (job->state == JOB_RUNNING) {
		job->cancel = 1;
		while (job->state == JOB_RUNNING)
			pthread_cond_wait(&p->finished, &p->mu);
	}
	int queued = job->state == JOB_QUEUED && list_remove(&p->queue, job);
	if (queued || (job->state == JOB_FINISHED && list_remove(&p->done, job))) {
		p->queued -= (unsigned)queued;
		job->state = JOB_IDLE;
		p->in_flight--;
	}
	pthread_mutex_unlock(&p->mu);
}

int pool_job_cancelled(const struct pool_job *job)
{
	return job->cancel;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	for (struct pool_job *j; (j = list_pop(&p->queue));)
		j->state = JOB_IDLE;
	for (unsigned i = 0; i < p->nworkers; i++) {
		if (p->workers[i].current)
			p->workers[i].current->cancel = 1;
	}
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i].thread, NULL);
	for (struct pool_job *j; (j = list_pop(&p->done));)
		j->state = JOB_IDLE;
	free(p->workers);
	if (p->wake)
		event_free(p->wake);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->finished);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
