#include "server/command.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/event.h>

#include "common/protocol.h"
#include "common/protocol_util.h"
#include "server/clock.h"
#include "server/conn.h"
#include "server/health.h"
#include "server/log.h"
#include "server/replay.h"
#include "server/run.h"
#include "server/run_life.h"
#include "server/server.h"
#include "server/session.h"

/* Parsed commands are large (a line's worth of orders) and the loop runs
 * one at a time: one buffer serves them all. */
static struct cmd parsed;

static void command_reply(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void command_reply(struct conn *c, const char *fmt, ...)
{
	char line[PROTO_MAX_LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	conn_send_reply(c, line, (size_t)n);
}

/* Room for a run of n orders (cooks of them on the pool), or an ERR busy
 * saying which limit. */
static int command_admit(struct conn *c, uint64_t n, uint64_t cooks)
{
	char why[200];
	if (run_life_admit(c->srv, n, cooks, why, sizeof why) == 0)
		return 0;
	command_reply(c, "ERR busy %s", why);
	return -1;
}

/* The OK comes once the run is committed: an acknowledged order is a
 * durable one. */
static void command_submit(struct conn *c, struct run *r)
{
	if (r)
		memcpy(r->group, parsed.group, sizeof r->group);
	if (r && run_set_limits(r, parsed.riders, parsed.deadline_us) < 0) {
		run_free(r);
		r = NULL;
	}
	if (run_life_submit(c, r) < 0)
		command_reply(c, "ERR busy out of memory");
}

static void command_run(struct conn *c)
{
	struct server *srv = c->srv;
	uint32_t cooks = run_pool_cooks(parsed.mode, parsed.orders, parsed.norders);
	if (command_admit(c, parsed.norders, cooks) < 0)
		return;
	command_submit(c, run_new_explicit(srv->next_run_id, parsed.mode, parsed.orders,
	                                   parsed.norders, &srv->hooks, c->session));
}

static void command_gen(struct conn *c)
{
	struct server *srv = c->srv;
	if (command_admit(c, parsed.norders, 0) < 0)
		return;
	command_submit(c, run_new_generated(srv->next_run_id, parsed.mode, parsed.norders,
	                                    parsed.gen_lo_us, parsed.gen_hi_us, parsed.gen_prefix,
	                                    &srv->hooks, c->session));
}

/* "1,4,5" or "-": the runs of s still running. */
static void command_active_list(const struct session *s, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->nruns && used + 24 < cap; i++) {
		if (s->runs[i]->status != RUN_RUNNING)
			continue;
		used += (size_t)snprintf(buf + used, cap - used, "%s%llu", used ? "," : "",
		                         (unsigned long long)s->runs[i]->id);
	}
	if (used == 0)
		snprintf(buf, cap, "-");
}

/* Whether some lines of r are no longer held: its first one left the ring. */
static int command_run_partial(const struct session *s, const struct run *r)
{
	uint64_t oldest = s->replay_len ? s->replay[s->replay_head].seq : s->seq + 1;
	return r->first_seq != 0 && r->first_seq < oldest;
}

/* A RUNINFO line (with what ATTACH adds) for each run the session holds,
 * oldest first, and an ORDER line for each order of a RUN: what a client
 * needs to draw the runs from their start, before the replay of their
 * lines. A GEN run is told by its parameters, its orders are not listed. */
static void command_describe_runs(struct conn *c, const struct session *s)
{
	char line[PROTO_MAX_LINE];
	uint64_t now = clock_mono_us();
	for (size_t i = 0; i < s->nruns; i++) {
		const struct run *r = s->runs[i];
		struct proto_done d;
		run_life_describe(r, &d);
		struct proto_runstate st = {
			.age_us = r->start_us ? (int64_t)(now - r->start_us) : -1,
			.partial = command_run_partial(s, r), .gen = r->names == NULL,
			.gen_lo_us = r->gen_lo_us, .gen_hi_us = r->gen_hi_us,
		};
		memcpy(st.gen_prefix, r->gen_prefix, sizeof st.gen_prefix);
		int n = proto_format_runstate(line, sizeof line, &d, &st);
		if (n > 0)
			conn_send_reply(c, line, (size_t)n);
		for (uint32_t k = 0; r->specs && !c->ends_only && k < r->norders; k++) {
			struct proto_order o = { .run = r->id, .order = k + 1,
			                         .meal_us = r->specs[k].meal_us,
			                         .cook_us = r->specs[k].cook_us };
			memcpy(o.name, r->names[k], sizeof o.name);
			if ((n = proto_format_order(line, sizeof line, &o)) > 0)
				conn_send_reply(c, line, (size_t)n);
		}
	}
}

static void command_attach(struct conn *c)
{
	struct session *target = session_find(c->srv, parsed.session);
	if (!target) {
		command_reply(c, "ERR no_session no session has that id");
		return;
	}
	/* A seq past the last was never given: the client has the wrong
	 * session or a wrong number, and would wait for lines that never come. */
	if (parsed.since_seq > target->seq) {
		command_reply(c, "ERR bad_seq seq %llu is past the session's last line, seq %llu",
		              (unsigned long long)parsed.since_seq, (unsigned long long)target->seq);
		return;
	}
	if (target != c->session) {
		struct conn *old = target->conn;
		if (old) {
			/* Unhook first, or closing it would detach target from c. */
			old->session = NULL;
			conn_close_with(old, "attached-elsewhere");
		}
		struct session *own = c->session;
		c->session = NULL;
		session_detach(own);
		c->session = target;
		session_attach(target, c);
	}
	char active[1024];
	command_describe_runs(c, target);
	command_active_list(target, active, sizeof active);
	command_reply(c, "OK attached session=%s seq=%llu active=%s", target->id,
	              (unsigned long long)target->seq, active);
	session_replay(target, parsed.since_seq);
}

static void command_runs(struct conn *c)
{
	struct session *s = parsed.session[0] ? session_find(c->srv, parsed.session) : c->session;
	if (!s) {
		command_reply(c, "ERR no_session no session has that id");
		return;
	}
	char line[PROTO_MAX_LINE];
	unsigned listed = 0;
	for (size_t i = s->nruns; i-- > 0 && listed < SESSION_HISTORY_MAX; listed++) {
		struct proto_done d;
		run_life_describe(s->runs[i], &d);
		int n = proto_format_runinfo(line, sizeof line, &d);
		if (n > 0)
			conn_send_reply(c, line, (size_t)n);
	}
	command_reply(c, "OK runs=%u", listed);
}

/* CANCEL: answered once the run has ended; its DONE follows when its
 * end is stored. */
static void command_cancel(struct conn *c)
{
	const char *code;
	char why[160];
	if (run_life_cancel(c->srv, c->session, parsed.run_id, &code, why, sizeof why) < 0) {
		command_reply(c, "ERR %s %s", code, why);
		return;
	}
	command_reply(c, "OK cancelled run=%llu", (unsigned long long)parsed.run_id);
}

static void command_auth(struct conn *c)
{
	const char *want = c->srv->cfg->token;
	if (!want || proto_token_equal(parsed.token, want)) {
		c->authed = 1;
		command_reply(c, "OK authenticated");
		return;
	}
	/* One guess per connection: a new one costs a TCP handshake. */
	log_warn("a client sent a wrong token; closing its connection");
	command_reply(c, "ERR bad_token that is not the server's token");
	conn_close_with(c, "bad-token");
}

/* Before AUTH only what tells nothing and changes nothing. */
static int command_allowed(const struct conn *c)
{
	return c->authed || parsed.kind == CMD_AUTH || parsed.kind == CMD_PING ||
	       parsed.kind == CMD_HELP || parsed.kind == CMD_QUIT;
}

static void command_stats_send(void *arg, const char *line, int len)
{
	conn_send_reply(arg, line, (size_t)len);
}

static void command_stats(struct conn *c)
{
	health_write_stats(c->srv, command_stats_send, c);
	command_reply(c, "OK stats");
}

static void command_dispatch(struct conn *c, const char *line, size_t len)
{
	struct proto_error err;
	if (proto_parse_command(line, len, &c->srv->limits, &parsed, &err) < 0) {
		char out[PROTO_MAX_LINE];
		int n = proto_format_error(out, sizeof out, &err);
		if (n > 0)
			conn_send_reply(c, out, (size_t)n);
		return;
	}
	if (!command_allowed(c)) {
		command_reply(c, "ERR auth_required send AUTH <token> first");
		return;
	}
	switch (parsed.kind) {
	case CMD_PING:
		command_reply(c, "OK pong");
		break;
	case CMD_HELP:
		for (size_t i = 0; proto_usage[i]; i++)
			command_reply(c, "USAGE %s", proto_usage[i]);
		command_reply(c, "OK commands=RUN,GEN,CANCEL,REPLAY,ATTACH,RUNS,WATCH,STATS,AUTH,PING,"
		                 "HELP,QUIT "
		                 "doc=docs/protocol.md");
		break;
	case CMD_QUIT:
		command_reply(c, "OK bye");
		conn_close_with(c, "quit");
		break;
	case CMD_RUN:
		command_run(c);
		break;
	case CMD_GEN:
		command_gen(c);
		break;
	case CMD_ATTACH:
		command_attach(c);
		break;
	case CMD_RUNS:
		command_runs(c);
		break;
	case CMD_AUTH:
		command_auth(c);
		break;
	case CMD_CANCEL:
		command_cancel(c);
		break;
	case CMD_WATCH:
		c->ends_only = !parsed.watch_events;
		command_reply(c, parsed.watch_events ? "OK watch=events" : "OK watch=ends");
		break;
	case CMD_STATS:
		command_stats(c);
		break;
	case CMD_REPLAY:
		replay_start(c, parsed.run_id, parsed.speed_milli);
		break;
	}
}

/* A line is one callback's work: one that holds the loop is a stall. */
/* A line of an HTTP request: its request line ("POST / HTTP/1.1") or a
 * Host header. A web page can make a browser send a form to this port,
 * and the lines of its body would be commands (a cross-protocol attack):
 * such a connection is closed at its first line, before its body. */
static int command_is_http(const char *line, size_t len)
{
	static const char *const methods[] = { "GET ", "POST ", "PUT ", "HEAD ", "OPTIONS ",
	                                       "DELETE ", "PATCH ", "CONNECT " };
	if (len >= 5 && strncasecmp(line, "Host:", 5) == 0)
		return 1;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		size_t n = strlen(methods[i]);
		if (len > n && memcmp(line, methods[i], n) == 0 &&
		    memmem(line + n, len - n, " HTTP/", 6))
			return 1;
	}
	return 0;
}

void command_handle_line(struct conn *c, const char *line, size_t len)
{
	uint64_t began = clock_mono_us();
	if (command_is_http(line, len)) {
		log_warn("an HTTP request on the protocol port (a web page's form?): connection "
		         "closed; the web view is on --http");
		conn_close_with(c, "http");
		return;
	}
	command_dispatch(c, line, len);
	health_note_hold(c->srv->health, began, clock_mono_us(), CAUSE_LINE, c->session, 0, 0);
}
