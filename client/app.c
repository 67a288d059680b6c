#include "client/app.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/follow.h"
#include "client/follow_commands.h"
#include "client/remote.h"
#include "client/term.h"
#include "client/view.h"

#define APP_CONNECT_MS 5000
#define APP_GREET_US 5000000
#define APP_FRAME_US 100000         /* at most 10 frames a second */

struct app {
	struct follow f;
	struct remote rem;
	sigset_t waitmask;              /* while waiting: SIGINT and SIGTERM let in */
	struct strbuf frame;
	int color;
	int frame_lines;                /* lines of the frame on the screen */
	int64_t last_frame_us;
	int64_t shown_us;               /* the time the last frame showed */
	struct strbuf pending;          /* commands held back until the runs before end */
	size_t pending_off;
	int sent;                       /* commands sent, each awaiting one reply */
	int told_session;               /* the session id is on stderr */
};

static volatile sig_atomic_t app_signal, app_resized;

static void app_on_signal(int sig)
{
	if (sig == SIGWINCH)
		app_resized = 1;
	else
		app_signal = sig;
}

static int64_t app_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Blocks SIGINT, SIGTERM and SIGWINCH except while waiting in ppoll, so
 * that a signal can never slip in between checking the flag and waiting. */
static void app_signals_install(struct app *a, sigset_t *saved)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = app_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, saved);
	a->waitmask = *saved;
	sigdelset(&a->waitmask, SIGINT);
	sigdelset(&a->waitmask, SIGTERM);
	sigdelset(&a->waitmask, SIGWINCH);
}

/* Until the socket is readable or deadline_us (< 0: none): 1 readable,
 * 0 timed out, -1 interrupted by a signal. */
static int app_wait(struct app *a, int64_t deadline_us)
{
	struct pollfd p = { .fd = a->rem.fd, .events = POLLIN };
	struct timespec ts;
	int64_t left = deadline_us - app_now_us();
	int rc;

	if (left < 0)
		left = 0;
	ts.tv_sec = (time_t)(left / 1000000);
	ts.tv_nsec = (long)(left % 1000000) * 1000;
	rc = ppoll(&p, 1, deadline_us < 0 ? NULL : &ts, &a->waitmask);
	return rc < 0 ? -1 : rc > 0;
}

/* One read: FOLLOW_CONTINUE, or the exit code when the connection ends. */
static int app_read(struct app *a)
{
	switch (remote_read(&a->rem, a->f.err, sizeof a->f.err)) {
	case REMOTE_EOF:
		return follow_eof(&a->f);
	case REMOTE_ERROR:
		return 1;
	case REMOTE_DATA:
		if (a->f.idle_deadline_us > 0)
			a->f.idle_deadline_us = app_now_us() + FOLLOW_IDLE_US;
		break;
	case REMOTE_AGAIN:
		break;
	}
	return FOLLOW_CONTINUE;
}

static int app_flush(struct app *a)
{
	struct strbuf *b = &a->f.buf;
	int rc = 0;

	if (b->failed)
		rc = follow_fail(&a->f, "out of memory");
	else if (b->len > 0 && term_write_all(STDOUT_FILENO, b->data, b->len) < 0)
		rc = follow_fail(&a->f, "cannot write the output: %s", strerror(errno));
	strbuf_reset(b);
	return rc;
}

/* Reads up to the greeting, within APP_GREET_US. */
static int app_greet(struct app *a)
{
	const struct cli_opts *o = a->f.opt;
	int64_t deadline = app_now_us() + APP_GREET_US;
	const char *line;
	size_t len;
	int rc;

	while ((rc = remote_next_line(&a->rem.in, &line, &len)) == 0) {
		rc = app_wait(a, deadline);
		if (app_signal)
			return 128 + app_signal;
		if (rc == 0)
			return follow_fail(&a->f, "no greeting from %s within %d s", o->server,
			                   APP_GREET_US / 1000000);
		if (rc <= 0)
			continue;
		rc = remote_read(&a->rem, a->f.err, sizeof a->f.err);
		if (rc == REMOTE_EOF)
			return follow_fail(&a->f, "%s closed the connection before its greeting",
			                   o->server);
		if (rc == REMOTE_ERROR)
			return 1;
	}
	if (rc < 0)
		return follow_fail(&a->f, "the server sent a line longer than %d bytes", REMOTE_LINE_MAX);
	return follow_hello(&a->f, line, len);
}

/* Once the server accepted a run: the session id, on stderr to keep it
 * out of the output (NDJSON has its own), for attach to find the runs.
 * A command refused (ERR meal_too_long, bad_token) ran nothing to find. */
static void app_tell_session(struct app *a)
{
	const struct cli_opts *o = a->f.opt;

	if (a->told_session || a->f.nwaits == 0 || a->f.out == TERM_JSON ||
	    !follow_creates_runs(&a->f))
		return;
	a->told_session = 1;
	fprintf(stderr, "session %s (reattach: baedal %s%s%sattach %s)\n", a->f.session,
	        o->server_flag ? "--server " : "", o->server_flag ? o->server : "",
	        o->server_flag ? " " : "", a->f.session);
}

static int app_send(struct app *a, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		a->sent += data[i] == '\n';
	return remote_send(&a->rem, data, len, &a->waitmask, a->f.err, sizeof a->f.err) < 0
	       ? 1 : FOLLOW_CONTINUE;
}

/* compare --cook runs its three runs one after another, each alone on the
 * server: at once they would share its cores, and async's cooks would
 * hold the others' timers, so every row would show the others' costs. */
static int app_takes_turns(const struct cli_opts *o)
{
	return o->cook && (o->command == CLI_COMPARE || o->command == CLI_DEMO);
}

static int app_send_commands(struct app *a)
{
	struct strbuf *cmd = &a->pending;
	size_t first;
	int rc;

	follow_commands(&a->f, cmd);
	if (cmd->failed)
		return follow_fail(&a->f, "out of memory");
	first = cmd->len;
	if (app_takes_turns(a->f.opt)) {
		/* AUTH, if any, then the first RUN; the rest wait their turn. */
		const char *run = strstr(cmd->data, "RUN ");
		const char *nl = run ? strchr(run, '\n') : NULL;
		first = nl ? (size_t)(nl + 1 - cmd->data) : cmd->len;
	}
	rc = app_send(a, cmd->data, first);
	a->pending_off = first;
	return rc;
}

/* Every command sent answered and every run awaited ended. */
static int app_turn_over(const struct app *a)
{
	if (a->f.nreplied < a->sent)
		return 0;
	for (size_t i = 0; i < a->f.nwaits; i++) {
		const struct model_run *r = model_find_run_const(&a->f.model, a->f.waits[i]);
		if (!r || !r->done)
			return 0;
	}
	return 1;
}

/* The next held-back command, once the runs before it ended. */
static int app_next_turn(struct app *a)
{
	struct strbuf *cmd = &a->pending;
	const char *line, *nl;

	if (a->pending_off >= cmd->len || !app_turn_over(a))
		return FOLLOW_CONTINUE;
	if (a->f.interrupted)
		return 1;
	line = cmd->data + a->pending_off;
	nl = memchr(line, '\n', cmd->len - a->pending_off);
	a->pending_off = nl ? (size_t)(nl + 1 - cmd->data) : cmd->len;
	return app_send(a, line, (size_t)(cmd->data + a->pending_off - line));
}

/* The time a frame shows: now, except while a cook holds the server's
 * loop, when every clock stops where the hold began (never going back
 * past what a frame already showed) and jumps on once it lets go. */
static int64_t app_frame_now(struct app *a, int64_t now_us)
{
	int64_t held = view_loop_held_since(&a->f.model);

	if (held >= 0 && now_us > held)
		now_us = held > a->shown_us ? held : a->shown_us < now_us ? a->shown_us : now_us;
	a->shown_us = now_us;
	return now_us;
}

/* One frame, written at once: back up over the previous frame, draw over
 * it, clear what is left below. The final frame stays on the screen. */
static void app_draw(struct app *a, int64_t now_us, int final)
{
	struct view_opts vo = { .color = a->color };
	struct strbuf *b = &a->frame;

	if (a->f.model.nruns == 0)
		return;
	if (!final && !app_resized && (now_us - a->last_frame_us < APP_FRAME_US ||
	               (!a->f.dirty && !model_any_running(&a->f.model))))
		return;
	term_size(STDOUT_FILENO, &vo.width, &vo.height);
	strbuf_reset(b);
	if (a->frame_lines > 0 && app_resized)
		/* The terminal may have rewrapped the old frame: its lines are no
		 * longer frame_lines up. Start over on a clear screen. */
		strbuf_puts(b, "\033[H\033[2J");
	else if (a->frame_lines > 0)
		strbuf_printf(b, "\r\033[%dA", a->frame_lines);
	else
		strbuf_puts(b, TERM_HIDE_CURSOR);
	app_resized = 0;
	a->frame_lines = view_render(&a->f.model, app_frame_now(a, now_us), &vo, b);
	strbuf_puts(b, final ? "\033[J" TERM_SHOW_CURSOR : "\033[J");
	if (!b->failed)
		term_write_all(STDOUT_FILENO, b->data, b->len);
	strbuf_reset(b);
	/* Paced from when this frame reached the terminal, not from when it
	 * began: a frame that took long to render must not make the next one
	 * arrive sooner, or a terminal could see 11 in one second. */
	a->last_frame_us = app_now_us();
	a->f.dirty = 0;
}

/* When the loop must wake without input: the next frame, the idle end. */
static int64_t app_deadline(const struct app *a)
{
	int64_t d = -1;

	if (a->f.out == TERM_LIVE && a->f.model.nruns > 0 &&
	    (a->f.dirty || model_any_running(&a->f.model)))
		d = a->last_frame_us + APP_FRAME_US;
	if (a->f.idle_deadline_us > 0 && (d < 0 || a->f.idle_deadline_us < d))
		d = a->f.idle_deadline_us;
	return d;
}

/* Every complete line buffered: FOLLOW_CONTINUE or an exit code. */
static int app_drain(struct app *a)
{
	const char *line;
	size_t len;
	int rc;

	while ((rc = remote_next_line(&a->rem.in, &line, &len)) > 0) {
		rc = follow_line(&a->f, line, len, app_now_us());
		app_tell_session(a);
		if (rc != FOLLOW_CONTINUE)
			return rc;
	}
	if (rc < 0)
		return follow_fail(&a->f, "the server sent a line longer than %d bytes", REMOTE_LINE_MAX);
	return a->f.out == TERM_LIVE || app_flush(a) == 0 ? FOLLOW_CONTINUE : 1;
}

static int app_loop(struct app *a)
{
	for (;;) {
		int rc = app_drain(a);
		if (rc != FOLLOW_CONTINUE || (rc = app_next_turn(a)) != FOLLOW_CONTINUE)
			return rc;
		if (follow_finished(&a->f))
			return a->f.interrupted || a->f.unfinished ? 1 : 0;
		if (a->f.idle_deadline_us > 0 && app_now_us() >= a->f.idle_deadline_us)
			return 0;
		if (a->f.out == TERM_LIVE)
			app_draw(a, app_now_us(), 0);
		rc = app_wait(a, app_deadline(a));
		if (app_signal)
			return 128 + app_signal;
		if (rc > 0 && (rc = app_read(a)) != FOLLOW_CONTINUE)
			return rc;
	}
}

/* Leaves the terminal as it was, then says how it ended: the totals once
 * every run awaited ended (interrupted, timed out or cancelled ones too),
 * else one line on stderr. */
static int app_finish(struct app *a, int rc)
{
	const struct cli_opts *o = a->f.opt;
	int complete = rc == 0 || (rc == 1 && (a->f.interrupted || a->f.unfinished) &&
	                                    follow_finished(&a->f));

	if (a->f.out == TERM_LIVE && a->frame_lines > 0)
		app_draw(a, app_now_us(), 1);
	if (complete && a->f.out != TERM_JSON && o->command != CLI_RUNS)
		follow_totals(&a->f);
	if (complete && a->f.out != TERM_JSON && app_takes_turns(o))
		strbuf_puts(&a->f.buf, "The runs took turns on the server, so that no run's cooking "
		            "slowed another's.\n");
	app_flush(a);
	if (rc == 1)
		fprintf(stderr, "baedal: %s\n", a->f.err);
	else if (rc > 128 && a->f.session[0] && o->command != CLI_RUNS &&
	         o->command != CLI_REPLAY)
		fprintf(stderr, "baedal: stopped; the runs go on (baedal attach %s --since %" PRIu64 ")\n",
		        a->f.session, a->f.last_seq);
	else if (rc > 128)
		fprintf(stderr, "baedal: stopped\n");
	return rc;
}

/* No server answered: say how to start one. */
static void app_hint_start(struct app *a)
{
	size_t n = strlen(a->f.err);

	snprintf(a->f.err + n, sizeof a->f.err - n, "\nbaedal: is a server running? Start one with "
	         "'baedald', or 'docker compose -f docker/compose.yaml up -d'");
}

int app_execute(const struct cli_opts *o)
{
	struct app *a = calloc(1, sizeof *a);
	enum term_output out;
	sigset_t saved;
	int rc;

	if (!a) {
		fprintf(stderr, "baedal: out of memory\n");
		return 1;
	}
	out = term_choose_output(o->json, o->plain, isatty(STDOUT_FILENO), getenv("TERM"));
	follow_init(&a->f, o, out);
	a->f.wrap_notes = isatty(STDOUT_FILENO);
	strbuf_init(&a->frame);
	strbuf_init(&a->pending);
	a->color = term_use_color(o->no_color, getenv("NO_COLOR"), getenv("TERM"));
	remote_init(&a->rem);
	app_signals_install(a, &saved);
	if (remote_connect(&a->rem, &o->addr, o->server, APP_CONNECT_MS, &a->waitmask, a->f.err,
	                   sizeof a->f.err) < 0) {
		rc = app_signal ? 128 + app_signal : 1;
		if (rc == 1 && strncmp(a->f.err, "cannot connect", 14) == 0)
			app_hint_start(a);
	}
	else if ((rc = app_greet(a)) == FOLLOW_CONTINUE &&
	         (rc = app_send_commands(a)) == FOLLOW_CONTINUE)
		rc = app_loop(a);
	rc = app_finish(a, rc);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	remote_close(&a->rem);
	follow_free(&a->f);
	strbuf_free(&a->frame);
	strbuf_free(&a->pending);
	free(a);
	return rc;
}
