#include "server/store.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/store_file.h"
#include "server/store_queue.h"
#include "server/store_schema.h"
#include "server/store_writer.h"

_Static_assert(STORE_TEXT_MAX == PROTO_NAME_MAX, "a record must hold any order name");
_Static_assert(2 * STORE_ID_BYTES == PROTO_SESSION_HEX, "a record must hold any session id");

struct store_waiter {
	struct store_waiter *next;
	uint64_t target;            /* the last record queued when it was registered */
	uint64_t fail_gen;          /* the loop's failure count then */
	store_durable_cb cb;
	void *arg;
};

struct store {
	struct store_file file;     /* held from before the first read to after the close */
	sqlite3 *db;
	struct store_writer w;
	struct store_queue q;
	bool queue_ready, pub_ready, started;
	uint64_t recovered, next_run_id, next_stall_id;
	int wake_fd;
	struct event *wake_ev;
	struct event *kick_ev;      /* wakes the writer once per burst */
	bool kick_pending;
	pthread_t thread;

	/* What the writer has finished, under pub_mu. Failures not yet seen
	 * by the loop merge into one range: the loop would tell every waiter
	 * in it the same thing anyway. */
	pthread_mutex_t pub_mu;
	uint64_t pub_hi;
	bool fail_pending;
	uint64_t fail_lo, fail_hi;
	char fail_err[STORE_ERR_LEN];
	struct store_commits commits;

	/* The loop's own. */
	uint64_t loop_hi;           /* highest seq whose outcome the loop has seen */
	uint64_t fail_gen;          /* failed batches seen by the loop */
	char last_err[STORE_ERR_LEN];
	struct store_waiter *wait_head, **wait_tail;
};

static int store_init_runtime(struct store *s, const char *path, char *err, size_t errlen)
{
	char why[STORE_ERR_LEN];
	if (store_writer_init(&s->w, s->db, &s->file, why, sizeof why) != 0) {
		store_errf(err, errlen, "database %s: %s", path, why);
		return -1;
	}
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		store_errf(err, errlen, "database %s: cannot create an eventfd: %s", path,
		           strerror(errno));
		return -1;
	}
	if (pthread_mutex_init(&s->pub_mu, NULL) != 0) {
		store_errf(err, errlen, "database %s: cannot create a mutex", path);
		return -1;
	}
	s->pub_ready = true;
	if (store_queue_init(&s->q) != 0) {
		store_errf(err, errlen, "database %s: cannot create the record queue", path);
		return -1;
	}
	s->queue_ready = true;
	return 0;
}

/* Frees what store_open() built, however far it got. */
static void store_destroy(struct store *s)
{
	store_writer_finalize(&s->w);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK) {
		log_error("store: cannot close the database: %s", sqlite3_errmsg(s->db));
		sqlite3_close_v2(s->db);
	}
	/* Only now: closing it earlier would drop SQLite's own locks too. */
	store_file_release(&s->file);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->queue_ready)
		store_queue_destroy(&s->q);
	if (s->pub_ready)
		pthread_mutex_destroy(&s->pub_mu);
	free(s);
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	/* SQLite's memory statistics take a global mutex on every allocation;
	 * nothing here reads them. Only possible before SQLite initialises:
	 * later calls (a test that opened a database first) change nothing. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		store_errf(err, errlen, "database %s: out of memory", path);
		return NULL;
	}
	s->wake_fd = -1;
	s->file.fd = -1;
	s->wait_tail = &s->wait_head;
	/* The lock comes before anything reads or writes the database: a
	 * second server must not migrate it, mark the first one's runs
	 * interrupted or take its run ids. */
	struct store_schema_ids ids;
	if (store_file_lock(&s->file, path, err, errlen) != 0 ||
	    store_schema_open(&s->db, &s->file, path, &ids, err, errlen) != 0 ||
	    store_init_runtime(s, path, err, errlen) != 0) {
		store_destroy(s);
		return NULL;
	}
	s->recovered = ids.recovered;
	s->next_run_id = ids.next_run_id;
	s->next_stall_id = ids.next_stall_id;
	return s;
}

uint64_t store_recovered_runs(const struct store *s)
{
	return s->recovered;
}

uint64_t store_next_run_id(const struct store *s)
{
	return s->next_run_id;
}

uint64_t store_next_stall_id(const struct store *s)
{
	return s->next_stall_id;
}

static void store_wake(struct store *s)
{
	static const uint64_t one = 1;
	/* Only a saturated counter fails the write, and then the loop is
	 * due to wake anyway. */
	ssize_t n = write(s->wake_fd, &one, sizeof one);
	(void)n;
}

static void store_publish(struct store *s, const struct store_tx *tx, uint64_t took_us)
{
	pthread_mutex_lock(&s->pub_mu);
	s->commits.commits++;
	s->commits.rows += tx->rows;
	histogram_record(&s->commits.time, took_us);
	s->pub_hi = tx->hi;
	if (tx->err[0] != '\0') {
		if (!s->fail_pending) {
			s->fail_pending = true;
			s->fail_lo = tx->lo;
			memcpy(s->fail_err, tx->err, sizeof s->fail_err);
		}
		/* A generated record split over transactions has failed as soon
		 * as one of its parts has. */
		s->fail_hi = tx->hi + tx->partial;
	}
	pthread_mutex_unlock(&s->pub_mu);
	/* The writer logged a deleted database file once, when it found it. */
	if (tx->err[0] != '\0' && !tx->file_gone)
		log_error("store: %s", tx->err);
	store_wake(s);
}

/* The writer's work, on its thread or, if none was started, in
 * store_close(): returns once the queue is stopped and empty. */
static void store_drain(struct store *s)
{
	for (;;) {
		uint64_t last = store_queue_wait(&s->q);
		if (last == s->q.taken)
			return;
		/* Group commit: whatever arrives meanwhile is the next batch. */
		while (s->q.taken < last) {
			struct store_tx tx;
			uint64_t began = clock_mono_us();
			store_writer_tx(&s->w, &s->q, last, &tx);
			store_queue_done(&s->q, tx.rows);
			store_publish(s, &tx, clock_mono_us() - began);
		}
	}
}

static void *store_writer_main(void *arg)
{
	/* On a busy machine the loop's timers must win the CPU: the writer
	 * catches up in larger batches. This thread alone (a Linux tid). */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	store_drain(arg);
	return NULL;
}

static void store_fire_upto(struct store *s, uint64_t seq)
{
	while (s->wait_head && s->wait_head->target <= seq) {
		struct store_waiter *w = s->wait_head;
		store_durable_cb cb = w->cb;
		void *arg = w->arg;
		int ok = w->fail_gen == s->fail_gen;
		s->wait_head = w->next;
		if (!s->wait_head)
			s->wait_tail = &s->wait_head;
		free(w);
		cb(arg, ok, ok ? NULL : s->last_err);
	}
}

static void store_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;
	uint64_t count, hi, fail_lo = 0, fail_hi = 0;
	bool failed;
	/* Empty when store_when_durable()'s own wake-up was read already. */
	ssize_t n = read(fd, &count, sizeof count);
	(void)n;
	(void)what;
	pthread_mutex_lock(&s->pub_mu);
	hi = s->pub_hi;
	failed = s->fail_pending;
	if (failed) {
		fail_lo = s->fail_lo;
		fail_hi = s->fail_hi;
		memcpy(s->last_err, s->fail_err, sizeof s->last_err);
		s->fail_pending = false;
	}
	pthread_mutex_unlock(&s->pub_mu);
	if (failed) {
		store_fire_upto(s, fail_lo);
		s->fail_gen++;
		store_fire_upto(s, fail_hi);
	}
	s->loop_hi = hi;
	store_fire_upto(s, hi);
}

static void store_on_kick(evutil_socket_t fd, short what, void *arg);

int store_start(struct store *s, struct event_base *base, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;
	if (s->started) {
		store_errf(err, errlen, "store: already started");
		return -1;
	}
	s->wake_ev = event_new(base, s->wake_fd, EV_READ | EV_PERSIST, store_on_wake, s);
	s->kick_ev = event_new(base, -1, 0, store_on_kick, s);
	if (!s->wake_ev || !s->kick_ev || event_add(s->wake_ev, NULL) != 0) {
		store_errf(err, errlen, "store: cannot register the writer's wake-up with the loop");
		goto fail;
	}
	/* Signals belong to the loop thread, which handles them through
	 * libevent; the writer inherits a mask that blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, store_writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		store_errf(err, errlen, "store: cannot start the writer thread: %s", strerror(rc));
		goto fail;
	}
	s->started = true;
	return 0;
fail:
	if (s->wake_ev)
		event_free(s->wake_ev);
	if (s->kick_ev)
		event_free(s->kick_ev);
	s->wake_ev = NULL;
	s->kick_ev = NULL;
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_queue_stop(&s->q);
	if (s->started)
		pthread_join(s->thread, NULL);
	else
		store_drain(s);
	if (s->wake_ev)
		event_free(s->wake_ev);
	if (s->kick_ev)
		event_free(s->kick_ev);
	while (s->wait_head) {
		struct store_waiter *w = s->wait_head;
		s->wait_head = w->next;
		free(w);
	}
	store_destroy(s);
}

bool store_busy(const struct store *s)
{
	return store_queue_backlog(&s->q) > STORE_QUEUE_LIMIT;
}

size_t store_backlog(const struct store *s)
{
	return (size_t)store_queue_backlog(&s->q);
}

void store_when_durable(struct store *s, store_durable_cb cb, void *arg)
{
	struct store_waiter *w = malloc(sizeof *w);
	if (!w) {
		/* As for records: an acknowledgement must not be lost quietly. */
		log_error("store: out of memory for a durability waiter");
		abort();
	}
	w->next = NULL;
	w->target = store_queue_last(&s->q);
	w->fail_gen = s->fail_gen;
	w->cb = cb;
	w->arg = arg;
	*s->wait_tail = w;
	s->wait_tail = &w->next;
	/* Nothing to wait for: still answer from the loop, never from here. */
	if (w->target <= s->loop_hi)
		store_wake(s);
}

static void store_copy_text(char *dst, size_t cap, const char *src)
{
	size_t len = strnlen(src, cap);
	memcpy(dst, src, len);
	memset(dst + len, 0, cap - len);
}

static int store_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Ids travel as raw bytes to keep a record in 64 bytes; the writer stores
 * them as lower-case hex again. */
static int store_hex_decode(uint8_t id[STORE_ID_BYTES], const char *hex)
{
	if (strnlen(hex, PROTO_SESSION_HEX + 1) != PROTO_SESSION_HEX)
		return -1;
	for (int i = 0; i < STORE_ID_BYTES; i++) {
		int hi = store_hex_value(hex[2 * i]), lo = store_hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static struct store_rec *store_rec_begin(struct store *s, enum store_rec_kind kind,
                                         uint64_t run_id, uint32_t n, uint8_t code)
{
	struct store_rec *r = store_queue_slot(&s->q, kind);
	r->kind = (uint8_t)kind;
	r->code = code;
	r->run_id = run_id;
	r->n = n;
	return r;
}

static void store_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;
	(void)fd;
	(void)what;
	s->kick_pending = false;
	store_queue_kick(&s->q);
}

/* Publishes a record; the writer is woken once, after the loop has
 * finished the callbacks at hand, for all the records they queued. */
static void store_push(struct store *s, uint64_t rows)
{
	store_queue_push(&s->q, rows);
	if (s->kick_ev && !s->kick_pending) {
		s->kick_pending = true;
		event_active(s->kick_ev, EV_TIMEOUT, 0);
	}
}

void store_add_session(struct store *s, const char *session_hex, int64_t wall_us)
{
	struct store_rec *r = store_rec_begin(s, REC_SESSION, 0, 0, 0);
	/* Callers pass ids they made or checked with proto_session_valid(). */
	if (store_hex_decode(r->u.session.id, session_hex) != 0) {
		log_error("store: session id \"%.40s\" is not %d hex digits: not stored", session_hex,
		          PROTO_SESSION_HEX);
		return;
	}
	r->u.session.wall_us = wall_us;
	store_push(s, 1);
}

void store_add_run(struct store *s, uint64_t run_id, const char *session_hex,
                   enum proto_mode mode, uint32_t orders, uint64_t sum_us,
                   uint64_t max_us, uint64_t ideal_us, int64_t wall_us)
{
	struct store_rec *r = store_rec_begin(s, REC_RUN, run_id, orders, (uint8_t)mode);
	if (store_hex_decode(r->u.run.id, session_hex) != 0) {
		log_error("store: run %llu: session id \"%.40s\" is not %d hex digits: not stored",
		          (unsigned long long)run_id, session_hex, PROTO_SESSION_HEX);
		return;
	}
	r->u.run.sum_us = sum_us;
	r->u.run.max_us = max_us;
	r->u.run.ideal_us = ideal_us;
	r->u.run.wall_us = wall_us;
	store_push(s, 1);
}

void store_add_group(struct store *s, uint64_t run_id, const char *group, uint32_t riders,
                     uint64_t deadline_us)
{
	struct store_rec *r = store_rec_begin(s, REC_GROUP, run_id, 0, 0);
	store_copy_text(r->u.group.id, STORE_TEXT_MAX, group);
	r->u.group.riders = riders;
	r->u.group.deadline_us = deadline_us;
	store_push(s, 1);
}

void store_add_order(struct store *s, uint64_t run_id, uint32_t idx, const char *name,
                     uint64_t cook_us, uint64_t meal_us)
{
	struct store_rec *r = store_rec_begin(s, REC_ORDER, run_id, idx, 0);
	r->u.order.cook_us = cook_us;
	r->u.order.meal_us = meal_us;
	store_copy_text(r->u.order.name, STORE_TEXT_MAX, name);
	store_push(s, 1);
}

void store_add_generated_orders(struct store *s, uint64_t run_id, uint32_t count,
                                uint64_t lo_us, uint64_t hi_us, const char *prefix)
{
	struct store_rec *r = store_rec_begin(s, REC_GEN, run_id, count, 0);
	r->u.gen.lo_us = lo_us;
	r->u.gen.hi_us = hi_us;
	store_copy_text(r->u.gen.prefix, STORE_TEXT_MAX, prefix);
	store_push(s, count);
}

void store_add_event(struct store *s, uint64_t run_id, uint32_t idx, enum proto_step step,
                     uint64_t t_us, int64_t wall_us)
{
	struct store_rec *r = store_rec_begin(s, REC_EVENT, run_id, idx, (uint8_t)step);
	r->u.event.t_us = t_us;
	r->u.event.wall_us = wall_us;
	store_push(s, 1);
}

void store_add_stall(struct store *s, const struct store_stall *st)
{
	struct store_rec *r = store_rec_begin(s, REC_STALL, st->run, st->order, 0);
	r->u.stall.id = st->id;
	r->u.stall.wall_us = st->wall_us;
	r->u.stall.duration_us = st->duration_us;
	store_copy_text(r->u.stall.cause, STORE_CAUSE_MAX, st->cause);
	store_push(s, 1);
}

void store_progress(const struct store *s, uint64_t *queued, uint64_t *durable)
{
	*queued = store_queue_last(&s->q);
	*durable = s->loop_hi;
}

void store_read_commits(struct store *s, struct store_commits *out)
{
	pthread_mutex_lock(&s->pub_mu);
	*out = s->commits;
	pthread_mutex_unlock(&s->pub_mu);
}

void store_end_run(struct store *s, uint64_t run_id, const struct store_end *end)
{
	struct store_rec *r = store_rec_begin(s, REC_END, run_id, end->cancelled,
	                                      (uint8_t)end->status);
	r->u.end.elapsed_us = end->elapsed_us;
	r->u.end.wall_us = end->wall_us;
	r->u.end.started_wall_us = end->started_wall_us;
	r->u.end.cook_us = end->cook_us;
	r->u.end.blocked_us = end->blocked_us;
	r->u.end.caused_us = end->caused_us;
	store_push(s, 1);
}

void store_start_run(struct store *s, uint64_t run_id, int64_t wall_us)
{
	struct store_rec *r = store_rec_begin(s, REC_START, run_id, 0, 0);
	r->u.start.wall_us = wall_us;
	store_push(s, 1);
}
