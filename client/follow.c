#include "client/follow.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/report.h"
#include "common/duration.h"
#include "common/protocol_util.h"

static void follow_widen_mode(struct follow *f, int mode)
{
	int w = (int)strlen(model_mode_name(mode));

	if (w > f->widths.mode)
		f->widths.mode = w;
}

void follow_init(struct follow *f, const struct cli_opts *o, enum term_output out)
{
	memset(f, 0, sizeof *f);
	f->opt = o;
	f->out = out;
	f->wrap_notes = out == TERM_LIVE;
	f->widths.run = f->widths.name = 1;
	/* Wide enough from the first line for the offload runs to come. */
	if (o->cook || ((o->command == CLI_RUN || o->command == CLI_GEN) && o->mode == MODE_OFFLOAD))
		follow_widen_mode(f, MODE_OFFLOAD);
	model_init(&f->model, out == TERM_LIVE);
	strbuf_init(&f->buf);
}

void follow_free(struct follow *f)
{
	model_free(&f->model);
	strbuf_free(&f->buf);
	free(f->waits);
	f->waits = NULL;
	f->nwaits = 0;
}

int follow_fail(struct follow *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, sizeof f->err, fmt, ap);
	va_end(ap);
	return 1;
}

static int follow_oom(struct follow *f)
{
	return follow_fail(f, "out of memory");
}

/* What the server sent, fit for one line on a terminal. */
static const char *follow_printable(const char *s, size_t len, char *buf, size_t cap)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[n] = '\0';
	return buf;
}

static int follow_add_wait(struct follow *f, uint64_t run)
{
	uint64_t *w = realloc(f->waits, (f->nwaits + 1) * sizeof *w);

	if (!w)
		return -1;
	f->waits = w;
	f->waits[f->nwaits++] = run;
	return 0;
}

int follow_creates_runs(const struct follow *f)
{
	enum cli_command c = f->opt->command;
	return c == CLI_RUN || c == CLI_GEN || c == CLI_COMPARE || c == CLI_DEMO;
}

int follow_hello(struct follow *f, const char *line, size_t len)
{
	struct server_line sl;
	char shown[REMOTE_LINE_MAX + 1];
	const char *v;
	size_t vlen;

	if (proto_parse_server_line(line, len, &sl) == 0 && sl.kind == LINE_ERR)
		return follow_fail(f, "server said: %s", follow_printable(line, len, shown, sizeof shown));
	if (proto_parse_server_line(line, len, &sl) < 0 || sl.kind != LINE_HELLO)
		return follow_fail(f, "%s is not a baedal server (it said: %s)", f->opt->server,
		                   follow_printable(line, len, shown, 80));
	if (strcmp(sl.u.hello.proto, PROTO_NAME) != 0)
		return follow_fail(f, "%s speaks %s; this client speaks %s", f->opt->server,
		                   sl.u.hello.proto, PROTO_NAME);
	if (!f->opt->token[0] && proto_find_field(line, len, "auth", &v, &vlen) == 0)
		return follow_fail(f, "%s needs a token: set BAEDAL_TOKEN or use --token-file PATH",
		                   f->opt->server);
	memcpy(f->session, sl.u.hello.session, sizeof f->session);
	if (f->out == TERM_JSON && follow_creates_runs(f)) {
		if (proto_find_field(line, len, "server", &v, &vlen) < 0)
			vlen = 0;
		report_json_hello(&f->buf, f->session, follow_printable(v, vlen, shown, 64));
	}
	return FOLLOW_CONTINUE;
}

/* A decimal field of an OK line's rest. */
static int follow_field_u64(const char *rest, size_t len, const char *key, uint64_t *out)
{
	const char *v;
	size_t n;

	if (proto_find_field(rest, len, key, &v, &n) < 0)
		return -1;
	return proto_parse_u64(v, n, out);
}

static int follow_digits(uint64_t v)
{
	int n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Plain lines stay aligned: the columns only widen, as runs, RUNINFO
 * lines (a replay's runs before their first line) and names come. */
static void follow_widen(struct follow *f, uint64_t run, int name_width)
{
	const struct model_run *r = model_find_run_const(&f->model, run);

	if (r)
		follow_widen_mode(f, r->mode);
	if (follow_digits(run) > f->widths.run)
		f->widths.run = follow_digits(run);
	if (name_width > f->widths.name)
		f->widths.name = name_width;
}

/* GEN's MEAL or LO..HI as the server will read it; 0 if it will not. */
static void follow_gen_meals(const char *arg, uint64_t *lo, uint64_t *hi)
{
	const char *dots = strstr(arg, "..");
	size_t n = dots ? (size_t)(dots - arg) : strlen(arg);

	if (duration_parse(arg, n, lo) < 0)
		*lo = 0;
	if (!dots)
		*hi = *lo;
	else if (duration_parse(dots + 2, strlen(dots + 2), hi) < 0)
		*hi = 0;
}

/* GEN's prefix=NAME argument, or the server's default. */
static const char *follow_gen_prefix(const struct cli_opts *o)
{
	for (int i = 2; i < o->nargs; i++)
		if (strncmp(o->args[i], "prefix=", 7) == 0)
			return o->args[i] + 7;
	return "o";
}

/* OK run=<id> mode=<mode> orders=<n>: the run starts now on our clock. */
static int follow_on_run_ok(struct follow *f, const struct follow_expect *e, const char *rest,
                            size_t len)
{
	struct model_run *r;
	uint64_t id, n, lo, hi;

	if (follow_field_u64(rest, len, "run", &id) < 0 ||
	    follow_field_u64(rest, len, "orders", &n) < 0 || n > UINT32_MAX)
		return follow_fail(f, "protocol error: the server's reply has no run= and orders=");
	r = model_add_run(&f->model, id, (int)e->mode, (uint32_t)n, f->now_us);
	if (!r || follow_add_wait(f, id) < 0)
		return follow_oom(f);
	r->riders = e->riders;
	if (e->kind == FOLLOW_REPLY_GEN) {
		follow_gen_meals(f->opt->args[1], &lo, &hi);
		model_set_generated(r, lo, hi, follow_gen_prefix(f->opt));
	} else {
		model_set_orders(r, (char *const *)f->opt->args, f->opt->nargs);
	}
	follow_widen(f, id, r->name_width);
	if (f->out == TERM_JSON)
		report_json_run(&f->buf, id, (int)e->mode, (uint32_t)n);
	else if (f->out == TERM_PLAIN)
		report_plain_started(&f->buf, &f->widths, id, (int)e->mode, (uint32_t)n);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

/* OK attached session=<id> seq=<n> active=<ids or ->: wait for the DONE of
 * every active run. With none active, the replay (sent in the same write
 * as this reply) is over once the server stays quiet for FOLLOW_IDLE_US. */
static int follow_on_attach_ok(struct follow *f, const char *rest, size_t len)
{
	const char *v;
	size_t n;
	uint64_t seq = 0;

	if (proto_find_field(rest, len, "active", &v, &n) < 0)
		return follow_fail(f, "protocol error: the server's reply has no active=");
	follow_field_u64(rest, len, "seq", &seq);
	for (size_t i = 0; i < n && !(n == 1 && v[0] == '-');) {
		const char *comma = memchr(v + i, ',', n - i);
		size_t j = comma ? (size_t)(comma - v) : n;
		uint64_t id;
		if (proto_parse_u64(v + i, j - i, &id) < 0)
			return follow_fail(f, "protocol error: the server's reply has a bad active=");
		if (follow_add_wait(f, id) < 0)
			return follow_oom(f);
		i = j + 1;
	}
	if (f->nwaits == 0)
		f->idle_deadline_us = f->now_us + FOLLOW_IDLE_US;
	if (f->out == TERM_JSON)
		report_json_attached(&f->buf, f->session, seq, f->waits, f->nwaits);
	return FOLLOW_CONTINUE;
}

/* OK replay run=<id> ...: the run its RUNINFO described starts now, and
 * its clock runs at the speed asked; the command ends with its DONE. */
static int follow_on_replay_ok(struct follow *f, const char *rest, size_t len)
{
	struct model_run *r;
	uint64_t id;

	if (follow_field_u64(rest, len, "run", &id) < 0 || !(r = model_find_run(&f->model, id)))
		return follow_fail(f, "protocol error: the server's reply names no run it described");
	model_start_replay(r, f->opt->speed_milli, f->now_us);
	if (follow_add_wait(f, id) < 0)
		return follow_oom(f);
	if (f->out == TERM_JSON)
		report_json_replay(&f->buf, id, r->mode, r->norders, f->opt->speed_milli);
	else if (f->out == TERM_PLAIN)
		report_plain_started(&f->buf, &f->widths, id, r->mode, r->norders);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

static int follow_on_ok(struct follow *f, const struct server_line *sl)
{
	struct follow_expect e;

	if (f->nreplied >= f->nexpect)
		return follow_fail(f, "protocol error: a reply to no command");
	e = f->expect[f->nreplied++];
	switch (e.kind) {
	case FOLLOW_REPLY_RUN:
	case FOLLOW_REPLY_GEN:
		return follow_on_run_ok(f, &e, sl->u.ok.rest, sl->u.ok.rest_len);
	case FOLLOW_REPLY_ATTACH:
		return follow_on_attach_ok(f, sl->u.ok.rest, sl->u.ok.rest_len);
	case FOLLOW_REPLY_REPLAY:
		return follow_on_replay_ok(f, sl->u.ok.rest, sl->u.ok.rest_len);
	case FOLLOW_REPLY_RUNS:
		if (f->out == TERM_JSON)
			break;
		if (f->model.nhints == 0)
			strbuf_puts(&f->buf, "no runs in this session\n");
		else
			report_runs_table(&f->buf, f->model.hints, f->model.nhints);
		break;
	case FOLLOW_REPLY_STATS:
		f->has_stats = 1;
		break;
	case FOLLOW_REPLY_AUTH:
		break;
	}
	return FOLLOW_CONTINUE;
}

static int follow_on_event(struct follow *f, const struct proto_event *ev)
{
	const struct model_run *r;

	if (model_apply_event(&f->model, ev, f->now_us) < 0)
		return follow_oom(f);
	f->last_seq = ev->seq > f->last_seq ? ev->seq : f->last_seq;
	r = model_find_run(&f->model, ev->run);
	follow_widen(f, ev->run, r->name_width);
	if (f->out == TERM_JSON)
		report_json_event(&f->buf, r->mode, ev);
	else if (f->out == TERM_PLAIN)
		report_plain_event(&f->buf, &f->widths, r->mode, ev);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

static int follow_waits_for(const struct follow *f, uint64_t run)
{
	for (size_t i = 0; i < f->nwaits; i++)
		if (f->waits[i] == run)
			return 1;
	return 0;
}

/* A run awaited that did not end done fails the command (exit 1): the
 * server's stop cut it short, or its deadline or a CANCEL did. A replay
 * shows a stored run whole, whatever its status. The first such run is
 * the one named; interrupted also stops compare --cook's next turns. */
static void follow_check_status(struct follow *f, const struct proto_done *d)
{
	int first = !f->interrupted && !f->unfinished;

	if (d->status == RUN_DONE || d->status == RUN_RUNNING || f->opt->command == CLI_REPLAY ||
	    !follow_waits_for(f, d->run))
		return;
	if (d->status == RUN_INTERRUPTED && !f->interrupted) {
		f->interrupted = 1;
		follow_fail(f, "run %" PRIu64 " was interrupted: the server stopped before it ended",
		            d->run);
	} else if (d->status != RUN_INTERRUPTED && first) {
		f->unfinished = 1;
		follow_fail(f, "run %" PRIu64 " %s: %" PRIu32 " of its %" PRIu32 " order%s cancelled",
		            d->run, d->status == RUN_TIMED_OUT ? "timed out" : "was cancelled",
		            d->cancelled, d->orders, d->orders == 1 ? "" : "s");
	}
}

static int follow_on_done(struct follow *f, const struct proto_done *d)
{
	if (model_apply_done(&f->model, d, f->now_us) < 0)
		return follow_oom(f);
	f->last_seq = d->seq > f->last_seq ? d->seq : f->last_seq;
	follow_widen(f, d->run, 0);
	if (f->out == TERM_JSON)
		report_json_done(&f->buf, d);
	else if (f->out == TERM_PLAIN)
		report_plain_done(&f->buf, &f->widths, d);
	follow_check_status(f, d);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

static int follow_on_notice(struct follow *f, const struct server_line *sl)
{
	if (sl->kind == LINE_BYE) {
		snprintf(f->bye, sizeof f->bye, "%s", sl->u.bye.reason);
		return FOLLOW_CONTINUE;
	}
	f->model.dropped += sl->u.lagged.dropped;
	f->model.missed += sl->u.lagged.missed;
	if (f->out == TERM_JSON)
		report_json_lagged(&f->buf, sl->u.lagged.dropped, sl->u.lagged.missed);
	else if (f->out == TERM_PLAIN)
		report_plain_lagged(&f->buf, sl->u.lagged.dropped, sl->u.lagged.missed, f->session,
		                    f->last_seq);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

/* A STALL notice: the server's loop was held (docs/protocol.md). */
static int follow_on_stall(struct follow *f, const char *line, size_t len)
{
	struct stats_stall st;
	char shown[96];

	if (stats_parse_stall(line, len, &st) < 0)
		return follow_fail(f, "protocol error: the server sent '%s'",
		                   follow_printable(line, len, shown, sizeof shown));
	f->last_seq = st.seq > f->last_seq ? st.seq : f->last_seq;
	model_add_stall(&f->model, &st);
	if (f->out == TERM_JSON)
		stats_json_stall(&f->buf, &st);
	else if (f->out == TERM_PLAIN)
		stats_plain_stall(&f->buf, &st);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

/* ATTACH's RUNINFO, before its reply: a run of the session, from its start. */
static int follow_on_runstate(struct follow *f, const struct server_line *sl)
{
	const struct model_run *r = model_describe_run(&f->model, &sl->u.done, &sl->state, f->now_us);

	if (!r)
		return follow_oom(f);
	follow_widen(f, r->id, r->name_width);
	f->dirty = 1;
	return FOLLOW_CONTINUE;
}

/* A line that does not parse: an error if its first word is one the
 * protocol knows; else a kind of line from a later version, skipped. */
static int follow_on_unknown(struct follow *f, const char *line, size_t len)
{
	static const char *const known[] = { "HELLO", "OK", "ERR", "EV", "DONE", "RUNINFO",
	                                     "LAGGED", "BYE", "ORDER" };
	const char *sp = memchr(line, ' ', len);
	size_t wlen = sp ? (size_t)(sp - line) : len;
	char shown[96];

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i]) == wlen && memcmp(known[i], line, wlen) == 0)
			return follow_fail(f, "protocol error: the server sent '%s'",
			                   follow_printable(line, len, shown, sizeof shown));
	return FOLLOW_CONTINUE;
}

int follow_line(struct follow *f, const char *line, size_t len, int64_t now_us)
{
	struct server_line sl;
	char text[REMOTE_LINE_MAX + 1];

	f->now_us = now_us;
	if (len > 6 && memcmp(line, "STALL ", 6) == 0)
		return follow_on_stall(f, line, len);
	int k = stats_parse_line(&f->stats, line, len);
	if (k == STATS_STAT || k == STATS_STALLED)
		return FOLLOW_CONTINUE;
	if (k < 0)
		return follow_fail(f, "protocol error: the server sent '%s'",
		                   follow_printable(line, len, text, sizeof text));
	if (proto_parse_server_line(line, len, &sl) < 0)
		return follow_on_unknown(f, line, len);
	switch (sl.kind) {
	case LINE_OK:
		return follow_on_ok(f, &sl);
	case LINE_ERR:
		return follow_fail(f, "server said: %s", follow_printable(line, len, text, sizeof text));
	case LINE_EV:
		return follow_on_event(f, &sl.u.ev);
	case LINE_DONE:
		return follow_on_done(f, &sl.u.done);
	case LINE_RUNINFO:
		if (sl.state.present)
			return follow_on_runstate(f, &sl);
		if (model_add_hint(&f->model, &sl.u.done) < 0)
			return follow_oom(f);
		follow_widen(f, sl.u.done.run, 0);
		follow_widen_mode(f, (int)sl.u.done.mode);    /* a replay's run, before its lines */
		if (f->out == TERM_JSON && f->opt->command == CLI_RUNS)
			report_json_runinfo(&f->buf, &sl.u.done);
		return FOLLOW_CONTINUE;
	case LINE_ORDER:
		if (model_set_order(&f->model, &sl.u.order) < 0)
			return follow_oom(f);
		f->dirty = 1;
		return FOLLOW_CONTINUE;
	case LINE_LAGGED:
	case LINE_BYE:
		return follow_on_notice(f, &sl);
	case LINE_HELLO:
		break;
	}
	return follow_on_unknown(f, line, len);
}

int follow_finished(const struct follow *f)
{
	if (f->nreplied < f->nexpect || f->idle_deadline_us > 0)
		return 0;
	for (size_t i = 0; i < f->nwaits; i++) {
		const struct model_run *r = model_find_run_const(&f->model, f->waits[i]);
		if (!r || !r->done)
			return 0;
	}
	return 1;
}

int follow_eof(struct follow *f)
{
	const char *what = follow_creates_runs(f) || f->nwaits > 0 ? "the run ended"
	                                                             : "the server answered";

	if (f->idle_deadline_us > 0)
		return 0;
	if (f->bye[0])
		return follow_fail(f, "connection closed before %s (server said BYE reason=%s)", what,
		                   f->bye);
	return follow_fail(f, "connection closed before %s", what);
}

static int follow_by_run(const void *x, const void *y)
{
	const struct proto_done *a = x, *b = y;
	return (a->run > b->run) - (a->run < b->run);
}

/* The totals of the runs this command followed to their DONE. */
void follow_totals(struct follow *f)
{
	struct proto_done *rows = calloc(f->model.nruns ? f->model.nruns : 1, sizeof *rows);
	size_t n = 0;

	if (!rows)
		return;
	for (size_t i = 0; i < f->model.nruns; i++) {
		const struct model_run *r = &f->model.runs[i];
		if (r->done && (f->opt->command == CLI_ATTACH || follow_waits_for(f, r->id)))
			rows[n++] = r->final;
	}
	if (f->opt->command == CLI_ATTACH)
		qsort(rows, n, sizeof *rows, follow_by_run);
	if (n > 0) {
		strbuf_addch(&f->buf, '\n', 1);
		report_totals(&f->buf, rows, n);
		/* Broken to fit a terminal; whole lines for a pipe. */
		stats_note_stalls_width(&f->buf, &f->model, f->wrap_notes ? STATS_NOTE_WIDTH : 0);
		if (f->has_stats)
			stats_note_lag_width(&f->buf, &f->stats, f->wrap_notes ? STATS_NOTE_WIDTH : 0);
	}
	free(rows);
}
