#include "client/top.h"

#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/remote.h"
#include "client/stats.h"
#include "client/strbuf.h"
#include "client/term.h"
#include "client/top_view.h"

#define TOP_CONNECT_MS 5000
#define TOP_ERR 512

struct top {
	const struct cli_opts *o;
	enum term_output out;
	struct remote rem;
	sigset_t waitmask;          /* SIGINT, SIGTERM, SIGWINCH let in while waiting */
	struct strbuf buf;
	struct stats cur, last;     /* the answer being read; the last whole one */
	int have_last;
	uint64_t stalls_shown;      /* plain: the last stall id given a line */
	int64_t asked_us;           /* when the STATS in flight went; 0: none */
	int64_t next_us;            /* when the next one goes */
	int frame_lines;
	int color;
	char err[TOP_ERR];
};

static volatile sig_atomic_t top_signal, top_resized;

static void top_on_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_signal = sig;
}

static int64_t top_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The signals wait blocked except in ppoll: none slips in between a
 * check of the flag and the wait. */
static void top_signals_install(struct top *t, sigset_t *saved)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGWINCH };
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = top_on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, saved);
	t->waitmask = *saved;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigdelset(&t->waitmask, sigs[i]);
}

__attribute__((format(printf, 2, 3)))
static int top_fail(struct top *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
	return 1;
}

/* Until the socket is readable or deadline_us: 1 readable, 0 timed out,
 * -1 a signal. */
static int top_wait(struct top *t, int64_t deadline_us)
{
	struct pollfd p = { .fd = t->rem.fd, .events = POLLIN };
	int64_t left = deadline_us - top_now_us();
	struct timespec ts;
	int rc;

	if (left < 0)
		left = 0;
	ts.tv_sec = (time_t)(left / 1000000);
	ts.tv_nsec = (long)(left % 1000000) * 1000;
	rc = ppoll(&p, 1, &ts, &t->waitmask);
	return rc < 0 ? -1 : rc > 0;
}

static int top_send(struct top *t, const char *line)
{
	return remote_send(&t->rem, line, strlen(line), &t->waitmask, t->err, sizeof t->err) < 0;
}

static void top_write(struct top *t)
{
	if (!t->buf.failed && t->buf.len > 0)
		term_write_all(STDOUT_FILENO, t->buf.data, t->buf.len);
	strbuf_reset(&t->buf);
}

/* Draws the last answer: a frame over the one before, a plain line or
 * an NDJSON object (those two once per answer, never for a late one). */
static void top_draw(struct top *t, uint64_t unanswered_us)
{
	struct top_view_opts vo = { .color = t->color, .server = t->o->server,
	                            .interval_us = t->o->interval_us,
	                            .unanswered_us = unanswered_us };

	if (t->out == TERM_JSON)
		top_view_json(&t->last, &t->buf);
	else if (t->out == TERM_PLAIN) {
		top_view_plain(&t->last, &t->buf);
		top_view_plain_stalls(&t->last, t->stalls_shown, &t->buf);
		if (t->last.nrecent > 0)
			t->stalls_shown = t->last.recent[t->last.nrecent - 1].id;
	}
	else {
		term_size(STDOUT_FILENO, &vo.width, &vo.height);
		if (t->frame_lines > 0 && top_resized)
			strbuf_puts(&t->buf, "\033[H\033[2J");
		else if (t->frame_lines > 0)
			strbuf_printf(&t->buf, "\r\033[%dA", t->frame_lines);
		else
			strbuf_puts(&t->buf, TERM_HIDE_CURSOR);
		top_resized = 0;
		t->frame_lines = top_view_frame(&t->last, &vo, &t->buf);
		strbuf_puts(&t->buf, "\033[J");
	}
	top_write(t);
}

/* One line from the server: 0 to go on, 2 when a STATS answer is whole,
 * or an exit code (1). */
static int top_line(struct top *t, const char *line, size_t len)
{
	int kind = stats_parse_line(&t->cur, line, len);

	if (kind < 0)
		return top_fail(t, "protocol error: the server sent '%.*s'", (int)(len > 200 ? 200 : len),
		                line);
	if (kind == STATS_END) {
		t->last = t->cur;
		t->have_last = 1;
		memset(&t->cur, 0, sizeof t->cur);
		t->asked_us = 0;
		return 2;
	}
	if (kind == STATS_OTHER && len >= 4 && memcmp(line, "ERR ", 4) == 0)
		return top_fail(t, "server said: %.*s", (int)(len > 300 ? 300 : len), line);
	if (kind == STATS_OTHER && len >= 3 && memcmp(line, "BYE", 3) == 0)
		return top_fail(t, "the server is going away: %.*s", (int)(len > 200 ? 200 : len), line);
	return 0;
}

/* Reads what arrived; 0, 2 (an answer is whole) or 1. */
static int top_read(struct top *t)
{
	const char *line;
	size_t len;
	int rc, got = 0;

	switch (remote_read(&t->rem, t->err, sizeof t->err)) {
	case REMOTE_EOF:
		return top_fail(t, "%s closed the connection", t->o->server);
	case REMOTE_ERROR:
		return 1;
	default:
		break;
	}
	while ((rc = remote_next_line(&t->rem.in, &line, &len)) > 0) {
		rc = top_line(t, line, len);
		if (rc == 1)
			return 1;
		got |= rc == 2;
	}
	if (rc < 0)
		return top_fail(t, "the server sent a line longer than %d bytes", REMOTE_LINE_MAX);
	return got ? 2 : 0;
}

#define TOP_GREET_US 5000000
#define TOP_ONCE_US 30000000        /* --once: the answer, however held the loop */

/* The greeting (the first line), then AUTH when there is a token. */
static int top_greet(struct top *t)
{
	int64_t deadline = top_now_us() + TOP_GREET_US;
	struct server_line sl;
	const char *line, *v;
	size_t len, vlen;
	int rc;

	while ((rc = remote_next_line(&t->rem.in, &line, &len)) == 0) {
		rc = top_wait(t, deadline);
		if (top_signal)
			return 128 + top_signal;
		if (rc == 0)
			return top_fail(t, "no greeting from %s within %d s", t->o->server,
			                TOP_GREET_US / 1000000);
		if (rc > 0 && (rc = remote_read(&t->rem, t->err, sizeof t->err)) == REMOTE_EOF)
			return top_fail(t, "%s closed the connection before its greeting", t->o->server);
		if (rc == REMOTE_ERROR)
			return 1;
	}
	if (rc < 0 || proto_parse_server_line(line, len, &sl) < 0 || sl.kind != LINE_HELLO)
		return top_fail(t, "%s did not greet as a baedal server", t->o->server);
	if (!t->o->token[0] && proto_find_field(line, len, "auth", &v, &vlen) == 0)
		return top_fail(t, "%s needs a token: set BAEDAL_TOKEN or use --token-file PATH",
		                t->o->server);
	if (t->o->token[0]) {
		char auth[PROTO_TOKEN_MAX + 8];
		snprintf(auth, sizeof auth, "AUTH %s\n", t->o->token);
		if (top_send(t, auth))
			return 1;
	}
	return -1;
}

/* When to wake: the next poll, or, while an answer is late, the next
 * frame that says so (--once: its last chance). */
static int64_t top_deadline(const struct top *t)
{
	if (!t->asked_us)
		return t->next_us;
	if (t->o->once)
		return t->asked_us + TOP_ONCE_US;
	return top_now_us() + (int64_t)t->o->interval_us;
}

static int top_loop(struct top *t)
{
	for (;;) {
		int64_t now = top_now_us();
		int rc;
		if (!t->asked_us && now >= t->next_us) {
			if (top_send(t, "STATS\n"))
				return 1;
			t->asked_us = now;
			t->next_us = now + (int64_t)t->o->interval_us;
		}
		if (t->asked_us && t->o->once && now - t->asked_us >= TOP_ONCE_US)
			return top_fail(t, "no answer to STATS within %d s", TOP_ONCE_US / 1000000);
		/* Late: the loop is held. The live view says so, with the
		 * figures it has. */
		if (t->asked_us && t->out == TERM_LIVE && t->have_last &&
		    now - t->asked_us >= (int64_t)t->o->interval_us)
			top_draw(t, (uint64_t)(now - t->asked_us));
		rc = top_wait(t, top_deadline(t));
		if (top_signal)
			return 128 + top_signal;
		if (rc > 0 && (rc = top_read(t)) == 1)
			return 1;
		if (rc == 2) {
			top_draw(t, 0);
			if (t->o->once)
				return 0;
		}
	}
}

int top_main(const struct cli_opts *o)
{
	struct top *t = calloc(1, sizeof *t);
	sigset_t saved;
	int rc;

	if (!t) {
		fprintf(stderr, "baedal: out of memory\n");
		return 1;
	}
	t->o = o;
	t->out = term_choose_output(o->json, o->plain, isatty(STDOUT_FILENO), getenv("TERM"));
	t->color = term_use_color(o->no_color, getenv("NO_COLOR"), getenv("TERM"));
	strbuf_init(&t->buf);
	remote_init(&t->rem);
	top_signals_install(t, &saved);
	if (remote_connect(&t->rem, &o->addr, o->server, TOP_CONNECT_MS, &t->waitmask, t->err,
	                   sizeof t->err) < 0)
		rc = top_signal ? 128 + top_signal : 1;
	else if ((rc = top_greet(t)) < 0)
		rc = top_loop(t);
	if (t->out == TERM_LIVE && t->frame_lines > 0)
		term_write_all(STDOUT_FILENO, TERM_SHOW_CURSOR, strlen(TERM_SHOW_CURSOR));
	if (rc == 1)
		fprintf(stderr, "baedal: %s\n", t->err);
	else if (rc > 128)
		fprintf(stderr, "\nbaedal: stopped\n");
	sigprocmask(SIG_SETMASK, &saved, NULL);
	remote_close(&t->rem);
	strbuf_free(&t->buf);
	free(t);
	return rc;
}
