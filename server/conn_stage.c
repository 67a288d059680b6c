#include "server/conn_stage.h"

#include <stdlib.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/protocol.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/server.h"

/* Written chunks kept for the next lines, so that a large run's lines do
 * not page in fresh memory chunk after chunk. */
#define STAGE_SPARES 8u

struct stage_spare {
	struct stage_spare *next;
};

struct conn_stage {
	char *buf;                    /* NULL until a line needs it */
	size_t len;
	uint64_t lines;               /* in buf: counted as dropped if lost */
	struct conn *owner;           /* whose lines buf holds, while len > 0 */
	struct event flush;
	struct stage_spare *spares;
	unsigned nspares;
};

/* The output is done with a chunk it took by reference. */
static void stage_written(const void *data, size_t len, void *arg)
{
	struct conn_stage *st = arg;
	(void)len;
	if (st->nspares >= STAGE_SPARES) {
		free((void *)data);
		return;
	}
	struct stage_spare *sp = (struct stage_spare *)(void *)data;
	sp->next = st->spares;
	st->spares = sp;
	st->nspares++;
}

static char *stage_chunk(struct conn_stage *st)
{
	struct stage_spare *sp = st->spares;
	if (!sp)
		return malloc(CONN_STAGE_SIZE);
	st->spares = sp->next;
	st->nspares--;
	return (char *)sp;
}

/* Hands the staged lines to their connection's output: a mostly full
 * chunk by reference (no copy; it comes back once written), a smaller
 * part copied, so that a trickle of lines never pins a chunk each. */
static void stage_flush(struct conn_stage *st)
{
	size_t len = st->len;
	struct conn *c = st->owner;
	if (len == 0)
		return;
	st->len = 0;
	st->owner = NULL;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (len >= CONN_STAGE_SIZE / 2 &&
	    evbuffer_add_reference(out, st->buf, len, stage_written, st) == 0) {
		st->buf = NULL;
	} else if (evbuffer_add(out, st->buf, len) < 0) {
		log_warn("out of memory: %zu bytes of event lines not sent", len);
		c->dropped += st->lines;
	}
	st->lines = 0;
}

static void stage_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stage_flush(arg);
}

int conn_stage_init(struct server *srv)
{
	struct conn_stage *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	event_assign(&st->flush, srv->base, -1, 0, stage_flush_cb, st);
	event_priority_set(&st->flush, PRIO_IO);
	srv->stage = st;
	return 0;
}

void conn_stage_free(struct server *srv)
{
	struct conn_stage *st = srv->stage;
	if (!st)
		return;
	while (st->spares) {
		struct stage_spare *sp = st->spares;
		st->spares = sp->next;
		free(sp);
	}
	free(st->buf);
	free(st);
	srv->stage = NULL;
}

char *conn_stage_room(struct conn *c)
{
	struct conn_stage *st = c->srv->stage;
	if (st->len && (st->owner != c || CONN_STAGE_SIZE - st->len < PROTO_EVENT_LINE_MAX))
		stage_flush(st);
	if (!st->buf && !(st->buf = stage_chunk(st)))
		return NULL;
	if (st->len == 0) {
		static const struct timeval wait = { 0, CONN_STAGE_WAIT_US };
		st->owner = c;
		event_add(&st->flush, &wait);
	}
	return st->buf + st->len;
}

void conn_stage_commit(struct conn *c, size_t len)
{
	struct conn_stage *st = c->srv->stage;
	st->len += len;
	st->lines++;
}

void conn_stage_flush(struct conn *c)
{
	struct conn_stage *st = c->srv->stage;
	if (st->owner == c)
		stage_flush(st);
}

size_t conn_stage_len(const struct conn *c)
{
	const struct conn_stage *st = c->srv->stage;
	return st->owner == c ? st->len : 0;
}

void conn_stage_drop(struct conn *c)
{
	struct conn_stage *st = c->srv->stage;
	if (st->owner == c) {
		st->len = 0;
		st->lines = 0;
		st->owner = NULL;
	}
}
