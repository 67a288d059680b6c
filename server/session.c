#include "server/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <event2/event.h>

#include "server/clock.h"
#include "server/conn.h"
#include "server/conn_stage.h"
#include "server/http_sse.h"
#include "server/log.h"
#include "server/run.h"
#include "server/server.h"

/* What the replay rings hold in all: the process's, as a daemon runs one
 * server. */

static size_t session_hash(const char *id, size_t nbuckets)
{
	/* The id is already uniformly random: its first hex digits hash it. */
	size_t h = 0;
	for (int i = 0; i < 12; i++)
		h = h * 16 + (size_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return h & (nbuckets - 1);
}

static int session_registry_grow(struct server *srv)
{
	size_t n = srv->nbuckets ? srv->nbuckets * 2 : 256;
	struct session **b = calloc(n, sizeof *b);
	if (!b)
		return -1;
	for (size_t i = 0; i < srv->nbuckets; i++) {
		struct session *s = srv->buckets[i];
		while (s) {
			struct session *next = s->next;
			size_t h = session_hash(s->id, n);
			s->next = b[h];
			b[h] = s;
			s = next;
		}
	}
	free(srv->buckets);
	srv->buckets = b;
	srv->nbuckets = n;
	return 0;
}

static int session_make_id(char out[PROTO_SESSION_HEX + 1])
{
	unsigned char raw[PROTO_SESSION_HEX / 2];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static void session_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (!s->conn && s->active == 0)
		session_free(s);
}

struct session *session_new(struct server *srv)
{
	if (srv->nsessions >= srv->nbuckets && session_registry_grow(srv) < 0)
		return NULL;
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (session_make_id(s->id) < 0) {
		log_error("getrandom failed: no session id");
		free(s);
		return NULL;
	}
	s->srv = srv;
	event_assign(&s->expiry, srv->base, -1, 0, session_expire_cb, s);
	size_t h = session_hash(s->id, srv->nbuckets);
	s->next = srv->buckets[h];
	srv->buckets[h] = s;
	srv->nsessions++;
	return s;
}

struct session *session_find(struct server *srv, const char *id)
{
	if (srv->nbuckets == 0)
		return NULL;
	for (struct session *s = srv->buckets[session_hash(id, srv->nbuckets)]; s; s = s->next) {
		if (strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

size_t session_replay_bytes(const struct server *srv)
{
	return srv->replay_bytes;
}

/* Moves the ring's lines, oldest first, into a new array of cap lines
 * (cap >= the lines held; 0: no ring). Growth must fit the budget; a
 * failure leaves the ring as it was. */
static void session_ring_move(struct session *s, size_t cap)
{
	size_t size = sizeof *s->replay, old = s->replay_cap * size, bytes = cap * size;
	if (bytes > old && bytes - old > SESSION_REPLAY_BUDGET - s->srv->replay_bytes)
		return;
	struct replay_line *ring = NULL;
	if (cap && !(ring = malloc(bytes)))
		return;
	for (size_t i = 0; i < s->replay_len; i++)
		ring[i] = s->replay[(s->replay_head + i) % s->replay_cap];
	free(s->replay);
	s->srv->replay_bytes = s->srv->replay_bytes - old + bytes;
	s->replay = ring;
	s->replay_cap = cap;
	s->replay_head = 0;
}

void session_free(struct session *s)
{
	struct server *srv = s->srv;
	struct session **pp = &srv->buckets[session_hash(s->id, srv->nbuckets)];
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	srv->nsessions--;
	event_del(&s->expiry);
	http_sse_session_gone(s);
	for (size_t i = 0; i < s->nruns; i++)
		run_free(s->runs[i]);
	free(s->runs);
	srv->replay_bytes -= s->replay_cap * sizeof *s->replay;
	free(s->replay);
	free(s);
}

void session_free_all(struct server *srv)
{
	for (size_t i = 0; i < srv->nbuckets; i++) {
		while (srv->buckets[i])
			session_free(srv->buckets[i]);
	}
	free(srv->buckets);
	srv->buckets = NULL;
	srv->nbuckets = 0;
}

/* Whether nothing of s can still change: no connection, and every run
 * closed (its end stored, its DONE line published). The database then
 * holds all of it. */
static int session_evictable(const struct session *s)
{
	if (s->conn || s->active)
		return 0;
	for (size_t i = 0; i < s->nruns; i++) {
		if (s->runs[i]->stage != RUN_CLOSED)
			return 0;
	}
	return 1;
}

int session_evict_idle(struct server *srv)
{
	/* A scan, made only when the table is full: the sessions' order of
	 * idleness is kept nowhere else. */
	struct session *oldest = NULL;
	for (size_t i = 0; i < srv->nbuckets; i++) {
		for (struct session *s = srv->buckets[i]; s; s = s->next) {
			if (session_evictable(s) && (!oldest || s->idle_since_us < oldest->idle_since_us))
				oldest = s;
		}
	}
	if (!oldest)
		return -1;
	log_debug("session table full (%zu): dropping the session idle for the longest (%llu ms)",
	          srv->nsessions,
	          (unsigned long long)((clock_mono_us() - oldest->idle_since_us) / 1000));
	session_free(oldest);
	return 0;
}

void session_arm_expiry(struct session *s)
{
	if (s->conn || s->active || s->srv->stopping)
		return;
	s->idle_since_us = clock_mono_us();
	/* Nothing more will be kept until a client attaches: the room the
	 * ring grew for and did not use goes back to the budget. */
	if (s->replay_len < s->replay_cap)
		session_ring_move(s, s->replay_len);
	struct timeval tv = { .tv_sec = s->srv->cfg->session_ttl_s };
	event_add(&s->expiry, &tv);
}

void session_attach(struct session *s, struct conn *c)
{
	event_del(&s->expiry);
	s->conn = c;
}

void session_detach(struct session *s)
{
	s->conn = NULL;
	/* A session nobody can reach again holds nothing worth keeping. */
	if (session_unused(s))
		session_free(s);
	else
		session_arm_expiry(s);
}

int session_unused(const struct session *s)
{
	return s->nruns == 0 && s->seq == 0;
}

int session_add_run(struct session *s, struct run *r)
{
	if (s->nruns == s->runs_cap) {
		size_t cap = s->runs_cap ? s->runs_cap * 2 : 4;
		struct run **runs = realloc(s->runs, cap * sizeof *runs);
		if (!runs)
			return -1;
		s->runs = runs;
		s->runs_cap = cap;
	}
	s->runs[s->nruns++] = r;
	event_del(&s->expiry);
	return 0;
}

void session_remove_run(struct session *s, struct run *r)
{
	for (size_t i = 0; i < s->nruns; i++) {
		if (s->runs[i] == r) {
			memmove(&s->runs[i], &s->runs[i + 1], (s->nruns - i - 1) * sizeof *s->runs);
			s->nruns--;
			break;
		}
	}
}

uint64_t session_next_seq(struct session *s)
{
	return ++s->seq;
}

/* The slot for the next kept line: the ring grows up to its limit and
 * within the budget, then the oldest line makes room. NULL when there is
 * no ring at all. */
static struct replay_line *session_keep_slot(struct session *s)
{
	if (s->replay_len == s->replay_cap && s->replay_cap < SESSION_REPLAY_MAX) {
		size_t cap = s->replay_cap ? s->replay_cap * 2 : 16;
		session_ring_move(s, cap < SESSION_REPLAY_MAX ? cap : SESSION_REPLAY_MAX);
	}
	if (s->replay_cap == 0)
		return NULL;
	struct replay_line *slot;
	if (s->replay_len < s->replay_cap) {
		slot = &s->replay[(s->replay_head + s->replay_len) % s->replay_cap];
		s->replay_len++;
	} else {
		slot = &s->replay[s->replay_head];
		s->replay_head = (s->replay_head + 1) % s->replay_cap;
	}
	return slot;
}

void session_publish_done(struct session *s, uint64_t seq, const char *line, size_t len)
{
	struct replay_line *slot = len > 0 && len <= SESSION_LINE_MAX ? session_keep_slot(s) : NULL;
	if (slot) {
		slot->seq = seq;
		slot->len = (uint16_t)len;
		memcpy(slot->u.text, line, len);
	}
	if (s->conn)
		conn_send_done(s->conn, line, len);
	if (s->sse)
		http_sse_publish_done(s, line, len);
}

/* Formats ev for c, if c takes a live event now (conn_take_event). */
static void session_send_event(struct conn *c, const struct proto_event *ev, int gen_name)
{
	if (!conn_take_event(c))
		return;
	char *room = conn_stage_room(c);
	if (!room) {
		c->dropped++;   /* out of memory: told as LAGGED */
		return;
	}
	int n = gen_name ? proto_format_gen_event(room, PROTO_EVENT_LINE_MAX, ev)
	                 : proto_format_event(room, PROTO_EVENT_LINE_MAX, ev);
	if (n > 0)
		conn_stage_commit(c, (size_t)n);
}

void session_publish_event(struct session *s, const struct proto_event *ev, int gen_name)
{
	struct replay_line *slot = session_keep_slot(s);
	if (slot) {
		slot->seq = ev->seq;
		slot->len = 0;
		slot->gen_name = (uint8_t)gen_name;
		slot->u.ev = *ev;
	}
	if (s->conn)
		session_send_event(s->conn, ev, gen_name);
	if (s->sse)
		http_sse_publish_event(s, ev, gen_name);
}

void session_replay(struct session *s, uint64_t since)
{
	/* Every seq in (since, s->seq] was given to a line: those not kept are
	 * missed. No arithmetic on since itself, which may be any number. */
	uint64_t asked = since < s->seq ? s->seq - since : 0, kept = 0;
	for (size_t i = 0; i < s->replay_len; i++)
		kept += s->replay[(s->replay_head + i) % s->replay_cap].seq > since;
	uint64_t missed = asked - kept;

	if (missed && s->conn) {
		char line[64];
		int n = snprintf(line, sizeof line, "LAGGED missed=%llu\n", (unsigned long long)missed);
		conn_send_reply(s->conn, line, (size_t)n);
	}
	for (size_t i = 0; i < s->replay_len && s->conn; i++) {
		const struct replay_line *l = &s->replay[(s->replay_head + i) % s->replay_cap];
		if (l->seq <= since)
			continue;
		if (l->len == 0)
			session_send_event(s->conn, &l->u.ev, l->gen_name);
		else   /* a DONE line: never dropped, replayed or live */
			conn_send_done(s->conn, l->u.text, l->len);
	}
	/* The replay leaves with the reply before it, in one go: a client must
	 * not draw its runs from the reply alone, as if nothing had happened. */
	if (s->conn)
		conn_stage_flush(s->conn);
}
