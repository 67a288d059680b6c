/* Unit tests of common/protocol_server.c: every server line kind parsed
 * and formatted, round-trips, and the docs/protocol.md transcript. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"

#define SESSION "9f1c2b7e4d3a5f60718293a4b5c6d7e8"

static struct server_line sl;

/* Parses from a heap copy of exactly len bytes, with no NUL after it, so
 * that AddressSanitizer reports any read past len. Pointers into the
 * line (OK's rest, ERR's text) are checked before the copy goes, so the
 * copy is kept until the next call. */
static char *held;

static int parse_n(const char *line, size_t len)
{
	free(held);
	held = malloc(len ? len : 1);
	assert_non_null(held);
	memcpy(held, line, len);
	int rc = proto_parse_server_line(held, len, &sl);
	assert_true(rc == 0 || rc == -1);
	return rc;
}

static void parse_good(const char *line, enum line_kind kind)
{
	if (parse_n(line, strlen(line)) != 0)
		fail_msg("'%s' should parse", line);
	assert_int_equal(sl.kind, kind);
}

static void parse_bad(const char *line)
{
	if (parse_n(line, strlen(line)) != -1)
		fail_msg("'%s' should not parse", line);
}

static int teardown(void **state)
{
	(void)state;
	free(held);
	held = NULL;
	return 0;
}

static void assert_span_equal(const char *s, size_t n, const char *want)
{
	assert_int_equal(n, strlen(want));
	assert_memory_equal(s, want, n);
}

static void test_find_field(void **state)
{
	const char *v = NULL;
	size_t n = 0;
	const char *f = "lastseq=5 seq=7 x=  empty= seq=9";
	(void)state;
	assert_int_equal(proto_find_field(f, strlen(f), "seq", &v, &n), 0);
	assert_span_equal(v, n, "7");
	assert_int_equal(proto_find_field(f, strlen(f), "lastseq", &v, &n), 0);
	assert_span_equal(v, n, "5");
	assert_int_equal(proto_find_field(f, strlen(f), "x", &v, &n), 0);
	assert_span_equal(v, n, "");
	assert_int_equal(proto_find_field(f, strlen(f), "empty", &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(proto_find_field(f, strlen(f), "se", &v, &n), -1);
	assert_int_equal(proto_find_field(f, strlen(f), "eq", &v, &n), -1);
	assert_int_equal(proto_find_field(f, strlen(f), "", &v, &n), -1);
	assert_int_equal(proto_find_field(f, strlen(f), "missing", &v, &n), -1);
	assert_int_equal(proto_find_field("seq", 3, "seq", &v, &n), -1);
	assert_int_equal(proto_find_field("", 0, "seq", &v, &n), -1);
	/* Only len bytes: "seq=7" cut before its '=' is no field. */
	assert_int_equal(proto_find_field("lastseq=5 seq=7", 13, "seq", &v, &n), -1);
	assert_int_equal(proto_find_field("lastseq=5 seq=7", 14, "seq", &v, &n), 0);
	assert_span_equal(v, n, "");
	assert_int_equal(proto_find_field("a=1 seq=77 b=2", 9, "seq", &v, &n), 0);
	assert_span_equal(v, n, "7");
}

/* The server's lines of docs/protocol.md's transcript, as printed there. */
static const char *const transcript[] = {
	"HELLO proto=baedal/1 session=9f1c2b7e4d3a5f60718293a4b5c6d7e8 server=1.0.0",
	"OK pong",
	"OK run=1 mode=async orders=3",
	"EV seq=1 run=1 order=1 name=A step=delivered t=21",
	"EV seq=2 run=1 order=2 name=B step=delivered t=27",
	"EV seq=3 run=1 order=3 name=C step=delivered t=30",
	"EV seq=4 run=1 order=1 name=A step=eaten t=30102",
	"EV seq=5 run=1 order=1 name=A step=collected t=30110",
	"EV seq=6 run=1 order=2 name=B step=eaten t=30115",
	"EV seq=7 run=1 order=2 name=B step=collected t=30118",
	"EV seq=8 run=1 order=3 name=C step=eaten t=40090",
	"EV seq=9 run=1 order=3 name=C step=collected t=40097",
	"DONE seq=10 run=1 mode=async orders=3 status=done elapsed=40097 ideal=40000 sum=100000 max=40000",
	"ERR bad_duration B:ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m",
	"ERR unknown_command FLY: try HELP",
	"RUNINFO run=1 mode=async orders=3 status=done elapsed=40097 ideal=40000",
	"OK runs=1",
	"OK bye",
	"BYE reason=quit",
};

static const enum line_kind transcript_kinds[] = {
	LINE_HELLO, LINE_OK, LINE_OK, LINE_EV, LINE_EV, LINE_EV, LINE_EV, LINE_EV, LINE_EV,
	LINE_EV, LINE_EV, LINE_EV, LINE_DONE, LINE_ERR, LINE_ERR, LINE_RUNINFO, LINE_OK,
	LINE_OK, LINE_BYE,
};

static void test_transcript(void **state)
{
	uint64_t seq = 0;
	(void)state;
	for (size_t i = 0; i < sizeof transcript / sizeof transcript[0]; i++) {
		parse_good(transcript[i], transcript_kinds[i]);
		if (sl.kind == LINE_EV) {
			assert_int_equal(sl.u.ev.seq, ++seq);
			assert_int_equal(sl.u.ev.run, 1);
		}
	}
	parse_good(transcript[0], LINE_HELLO);
	assert_string_equal(sl.u.hello.session, SESSION);
	assert_string_equal(sl.u.hello.proto, PROTO_NAME);
	parse_good(transcript[8], LINE_EV);
	assert_int_equal(sl.u.ev.order, 2);
	assert_string_equal(sl.u.ev.name, "B");
	assert_int_equal(sl.u.ev.step, STEP_EATEN);
	assert_int_equal(sl.u.ev.t_us, 30115);
	parse_good(transcript[12], LINE_DONE);
	assert_int_equal(sl.u.done.seq, 10);
	assert_int_equal(sl.u.done.mode, MODE_ASYNC);
	assert_int_equal(sl.u.done.orders, 3);
	assert_int_equal(sl.u.done.status, RUN_DONE);
	assert_int_equal(sl.u.done.elapsed_us, 40097);
	assert_int_equal(sl.u.done.ideal_us, 40000);
	assert_int_equal(sl.u.done.sum_us, 100000);
	assert_int_equal(sl.u.done.max_us, 40000);
	parse_good(transcript[13], LINE_ERR);
	assert_string_equal(sl.u.err.code, "bad_duration");
	assert_span_equal(sl.u.err.text, sl.u.err.text_len,
	                  "B:ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m");
	parse_good(transcript[15], LINE_RUNINFO);
	assert_int_equal(sl.u.done.run, 1);
	assert_int_equal(sl.u.done.elapsed_us, 40097);
	assert_int_equal(sl.u.done.sum_us, 0);
	assert_int_equal(sl.u.done.max_us, 0);
	parse_good(transcript[18], LINE_BYE);
	assert_string_equal(sl.u.bye.reason, "quit");
}

static void test_hello(void **state)
{
	(void)state;
	parse_good("HELLO server=2.0 session=9F1C2B7E4D3A5F60718293A4B5C6D7E8 proto=baedal/1 x=y",
	           LINE_HELLO);
	assert_string_equal(sl.u.hello.session, SESSION);
	assert_string_equal(sl.u.hello.proto, "baedal/1");
	parse_good("HELLO proto=baedal/2 session=" SESSION " server=1\r", LINE_HELLO);
	assert_string_equal(sl.u.hello.proto, "baedal/2");
	parse_good("HELLO proto=123456789012345 session=" SESSION " server=1", LINE_HELLO);
	parse_bad("HELLO proto=1234567890123456 session=" SESSION " server=1");
	parse_bad("HELLO proto=baedal/1 server=1.0.0");
	parse_bad("HELLO session=" SESSION " server=1.0.0");
	parse_bad("HELLO proto=baedal/1 session=" SESSION);
	parse_bad("HELLO proto=baedal/1 session=" SESSION " server=");
	parse_bad("HELLO proto= session=" SESSION " server=1");
	parse_bad("HELLO proto=baedal/1 session=9f1c2b7e4d3a5f60718293a4b5c6d7e server=1");
	parse_bad("HELLO proto=baedal/1 session=9f1c2b7e4d3a5f60718293a4b5c6d7ez server=1");
	parse_bad("HELLO");
	parse_bad("hello proto=baedal/1 session=" SESSION " server=1");
}

static void test_ok(void **state)
{
	const char *v;
	size_t n;
	(void)state;
	parse_good("OK", LINE_OK);
	assert_int_equal(sl.u.ok.rest_len, 0);
	parse_good("OK\r", LINE_OK);
	assert_int_equal(sl.u.ok.rest_len, 0);
	parse_good("OK pong", LINE_OK);
	assert_span_equal(sl.u.ok.rest, sl.u.ok.rest_len, "pong");
	parse_good("OK pong\r", LINE_OK);
	assert_span_equal(sl.u.ok.rest, sl.u.ok.rest_len, "pong");
	parse_good("OK attached session=" SESSION " seq=12 active=1,2", LINE_OK);
	assert_int_equal(proto_find_field(sl.u.ok.rest, sl.u.ok.rest_len, "seq", &v, &n), 0);
	assert_span_equal(v, n, "12");
	assert_int_equal(proto_find_field(sl.u.ok.rest, sl.u.ok.rest_len, "active", &v, &n), 0);
	assert_span_equal(v, n, "1,2");
	assert_int_equal(proto_find_field(sl.u.ok.rest, sl.u.ok.rest_len, "attached", &v, &n), -1);
	parse_bad("OKAY");
	parse_bad("ok pong");
	parse_bad(" OK pong");
}

static void test_err(void **state)
{
	(void)state;
	parse_good("ERR busy", LINE_ERR);
	assert_string_equal(sl.u.err.code, "busy");
	assert_int_equal(sl.u.err.text_len, 0);
	parse_good("ERR busy ", LINE_ERR);
	assert_int_equal(sl.u.err.text_len, 0);
	parse_good("ERR bad_args  two  spaces \r", LINE_ERR);
	assert_string_equal(sl.u.err.code, "bad_args");
	assert_span_equal(sl.u.err.text, sl.u.err.text_len, " two  spaces ");
	parse_good("ERR future_code_9 x", LINE_ERR);
	parse_good("ERR a234567890123456789012345678901 x", LINE_ERR);
	parse_bad("ERR a2345678901234567890123456789012 x");
	parse_bad("ERR");
	parse_bad("ERR ");
	parse_bad("ERR  text");
	parse_bad("ERR Bad_args x");
	parse_bad("ERR bad-args x");
}

static void test_ev(void **state)
{
	(void)state;
	parse_good("EV t=5 step=collected name=x.y-z_1 order=4294967295 run=18446744073709551615 "
	           "seq=3 extra=1 more", LINE_EV);
	assert_int_equal(sl.u.ev.seq, 3);
	assert_int_equal(sl.u.ev.run, UINT64_MAX);
	assert_int_equal(sl.u.ev.order, UINT32_MAX);
	assert_string_equal(sl.u.ev.name, "x.y-z_1");
	assert_int_equal(sl.u.ev.step, STEP_COLLECTED);
	assert_int_equal(sl.u.ev.t_us, 5);
	parse_good("EV seq=1 run=1 order=1 name=12345678901234567890123456789012 step=eaten t=0",
	           LINE_EV);
	assert_string_equal(sl.u.ev.name, "12345678901234567890123456789012");
	parse_bad("EV seq=1 run=1 order=1 name=123456789012345678901234567890123 step=eaten t=0");
	parse_bad("EV seq=1 run=1 order=1 name= step=eaten t=0");
	parse_bad("EV seq=1 run=1 order=1 name=a/b step=eaten t=0");
	parse_bad("EV seq=1 run=1 order=4294967296 name=A step=eaten t=0");
	parse_bad("EV seq=18446744073709551616 run=1 order=1 name=A step=eaten t=0");
	parse_bad("EV seq=-1 run=1 order=1 name=A step=eaten t=0");
	parse_bad("EV seq= run=1 order=1 name=A step=eaten t=0");
	parse_bad("EV seq=1x run=1 order=1 name=A step=eaten t=0");
	parse_bad("EV seq=1 run=1 order=1 name=A step=eat t=0");
	parse_bad("EV seq=1 run=1 order=1 name=A step=EATEN t=0");
	parse_bad("EV run=1 order=1 name=A step=eaten t=0");
	parse_bad("EV seq=1 order=1 name=A step=eaten t=0");
	parse_bad("EV seq=1 run=1 name=A step=eaten t=0");
	parse_bad("EV seq=1 run=1 order=1 step=eaten t=0");
	parse_bad("EV seq=1 run=1 order=1 name=A t=0");
	parse_bad("EV seq=1 run=1 order=1 name=A step=eaten");
	parse_bad("EV");
	parse_bad("EVENT seq=1 run=1 order=1 name=A step=eaten t=0");
}

static void test_done_and_runinfo(void **state)
{
	(void)state;
	parse_good("DONE seq=4 run=2 mode=sync orders=1 status=interrupted elapsed=9 ideal=8 "
	           "sum=8 max=8 new=1", LINE_DONE);
	assert_int_equal(sl.u.done.mode, MODE_SYNC);
	assert_int_equal(sl.u.done.status, RUN_INTERRUPTED);
	assert_int_equal(sl.u.done.elapsed_us, 9);
	parse_good("DONE seq=4 run=2 mode=sync orders=1 status=done elapsed=9223372036854775807 "
	           "ideal=8 sum=8 max=8", LINE_DONE);
	assert_int_equal(sl.u.done.elapsed_us, INT64_MAX);
	parse_bad("DONE seq=4 run=2 mode=sync orders=1 status=done elapsed=9223372036854775808 "
	          "ideal=8 sum=8 max=8");
	parse_bad("DONE seq=4 run=2 mode=sync orders=1 status=done elapsed=-1 ideal=8 sum=8 max=8");
	parse_bad("DONE seq=4 run=2 mode=sync orders=1 status=done elapsed=9 ideal=8 sum=8");
	parse_bad("DONE seq=4 run=2 mode=sync orders=1 status=done elapsed=9 ideal=8 max=8");
	parse_bad("DONE run=2 mode=sync orders=1 status=done elapsed=9 ideal=8 sum=8 max=8");
	parse_bad("DONE seq=4 run=2 mode=fast orders=1 status=done elapsed=9 ideal=8 sum=8 max=8");
	parse_bad("DONE seq=4 run=2 mode=sync orders=1 status=ok elapsed=9 ideal=8 sum=8 max=8");
	parse_bad("DONE seq=4 run=2 mode=sync orders=1 status=done ideal=8 sum=8 max=8");

	/* A run with cooking: offload, and three more figures, all or none. */
	parse_good("DONE seq=4 run=2 mode=offload orders=1 status=done elapsed=9 ideal=8 sum=8 max=8 "
	           "cook=5 blocked=0 caused=0", LINE_DONE);
	assert_int_equal(sl.u.done.mode, MODE_OFFLOAD);
	assert_int_equal(sl.u.done.cook_us, 5);
	parse_good("DONE seq=4 run=2 mode=async orders=1 status=done elapsed=9 ideal=8 sum=8 max=8 "
	           "cook=5 blocked=6 caused=7", LINE_DONE);
	assert_int_equal(sl.u.done.blocked_us, 6);
	assert_int_equal(sl.u.done.caused_us, 7);
	parse_good("DONE seq=4 run=2 mode=async orders=1 status=done elapsed=9 ideal=8 sum=8 max=8",
	           LINE_DONE);
	assert_int_equal(sl.u.done.cook_us, 0);
	parse_bad("DONE seq=4 run=2 mode=async orders=1 status=done elapsed=9 ideal=8 sum=8 max=8 "
	          "cook=5 blocked=6");
	parse_good("EV seq=1 run=1 order=1 name=A step=cooked t=200000", LINE_EV);
	assert_int_equal(sl.u.ev.step, STEP_COOKED);

	parse_good("RUNINFO run=7 mode=sync orders=2 status=running elapsed=- ideal=5", LINE_RUNINFO);
	assert_int_equal(sl.u.done.run, 7);
	assert_int_equal(sl.u.done.seq, 0);
	assert_int_equal(sl.u.done.orders, 2);
	assert_int_equal(sl.u.done.status, RUN_RUNNING);
	assert_int_equal(sl.u.done.elapsed_us, -1);
	assert_int_equal(sl.u.done.ideal_us, 5);
	parse_bad("RUNINFO run=7 mode=sync orders=2 status=running elapsed=-- ideal=5");
	parse_bad("RUNINFO run=7 mode=sync orders=2 status=running elapsed= ideal=5");
	parse_bad("RUNINFO run=7 mode=sync orders=2 status=running elapsed=-");
	parse_bad("RUNINFO mode=sync orders=2 status=running elapsed=- ideal=5");
	parse_bad("RUNINFO run=7 mode=sync orders=-2 status=running elapsed=- ideal=5");
}

static void test_lagged_and_bye(void **state)
{
	(void)state;
	parse_good("LAGGED dropped=5", LINE_LAGGED);
	assert_int_equal(sl.u.lagged.dropped, 5);
	assert_int_equal(sl.u.lagged.missed, 0);
	parse_good("LAGGED missed=7\r", LINE_LAGGED);
	assert_int_equal(sl.u.lagged.dropped, 0);
	assert_int_equal(sl.u.lagged.missed, 7);
	parse_bad("LAGGED");
	parse_bad("LAGGED lost=3");
	parse_bad("LAGGED dropped=x");
	parse_bad("LAGGED missed=");

	parse_good("BYE reason=attached-elsewhere", LINE_BYE);
	assert_string_equal(sl.u.bye.reason, "attached-elsewhere");
	parse_good("BYE reason=1234567890123456789012345678901", LINE_BYE);
	parse_bad("BYE reason=12345678901234567890123456789012");
	parse_bad("BYE reason=");
	parse_bad("BYE");
	parse_bad("BYE quit");
}

static void test_unknown_lines(void **state)
{
	(void)state;
	parse_bad("");
	parse_bad("\r");
	parse_bad(" ");
	parse_bad("FOO x=1");
	parse_bad("PING");
	assert_int_equal(parse_n("OK\0pong", 7), -1);
	assert_int_equal(parse_n("BYE reason=quit", 3), -1);
	assert_int_equal(parse_n("BYE reason=quitXX", 15), 0);
	assert_string_equal(sl.u.bye.reason, "quit");
	assert_int_equal(parse_n("LAGGED dropped=12", 16), 0);
	assert_int_equal(sl.u.lagged.dropped, 1);
}

/* Formats into a buffer with a guard after cap, then checks the guard. */
static int format_guarded(int (*fmt)(char *, size_t, const void *), const void *arg, size_t cap,
                          char *out)
{
	char buf[PROTO_MAX_LINE + 8];
	memset(buf, '#', sizeof buf);
	int n = fmt(buf, cap, arg);
	for (size_t i = cap; i < sizeof buf; i++)
		assert_int_equal(buf[i], '#');
	if (n >= 0)
		memcpy(out, buf, (size_t)n);
	return n;
}

/* The formatters behind one signature, for check_format. */
static int fmt_event(char *b, size_t c, const void *a)
{
	return proto_format_event(b, c, a);
}

static int fmt_done(char *b, size_t c, const void *a)
{
	return proto_format_done(b, c, a);
}

static int fmt_runinfo(char *b, size_t c, const void *a)
{
	return proto_format_runinfo(b, c, a);
}

static int fmt_error(char *b, size_t c, const void *a)
{
	return proto_format_error(b, c, a);
}

static int fmt_hello(char *b, size_t c, const void *a)
{
	return proto_format_hello(b, c, a, "1.0.0");
}

/* want must come out exactly, fit a cap of its length, and not fit one less. */
static void check_format(int (*fmt)(char *, size_t, const void *), const void *arg,
                         const char *want)
{
	char out[PROTO_MAX_LINE];
	size_t len = strlen(want);
	assert_int_equal(format_guarded(fmt, arg, PROTO_MAX_LINE, out), (int)len);
	assert_memory_equal(out, want, len);
	assert_int_equal(format_guarded(fmt, arg, len, out), (int)len);
	assert_memory_equal(out, want, len);
	assert_int_equal(format_guarded(fmt, arg, len - 1, out), -1);
	assert_int_equal(format_guarded(fmt, arg, 0, out), -1);
}

static void test_format_transcript(void **state)
{
	const struct proto_event ev = { 1, 1, 1, "A", STEP_DELIVERED, 21 };
	const struct proto_done done = { 10, 1, MODE_ASYNC, 3, RUN_DONE, 40097, 40000, 100000, 40000, 0, 0, 0, 0, 0, 0, 0 };
	struct proto_error e = { "bad_duration", "B:ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m" };
	(void)state;
	check_format(fmt_hello, SESSION,
	             "HELLO proto=baedal/1 session=" SESSION " server=1.0.0\n");
	check_format(fmt_event, &ev, "EV seq=1 run=1 order=1 name=A step=delivered t=21\n");
	check_format(fmt_done, &done, "DONE seq=10 run=1 mode=async orders=3 status=done "
	             "elapsed=40097 ideal=40000 sum=100000 max=40000\n");
	check_format(fmt_runinfo, &done,
	             "RUNINFO run=1 mode=async orders=3 status=done elapsed=40097 ideal=40000\n");
	check_format(fmt_error, &e,
	             "ERR bad_duration B:ten: 'ten' is not a duration like 250ms, 3s, 1.5s, 2m\n");
}

static void test_format_edges(void **state)
{
	const struct proto_done running = { 0, 9, MODE_SYNC, 2, RUN_RUNNING, -1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct proto_error busy = { "busy", "" };
	struct proto_error nl = { "storage", "disk\nfull\r\x7f" };
	struct proto_error nocode = { NULL, "x" };
	struct proto_error spaced = { "bad code", "x" };
	char out[PROTO_MAX_LINE];
	(void)state;
	check_format(fmt_runinfo, &running,
	             "RUNINFO run=9 mode=sync orders=2 status=running elapsed=- ideal=5\n");
	check_format(fmt_error, &busy, "ERR busy\n");
	check_format(fmt_error, &nl, "ERR storage disk?full??\n");
	assert_int_equal(format_guarded(fmt_error, &nocode, sizeof out, out), -1);
	assert_int_equal(format_guarded(fmt_error, &spaced, sizeof out, out), -1);
}

/* Format then parse gives back the same values. */
static void round_trip_event(const struct proto_event *ev)
{
	char buf[PROTO_MAX_LINE];
	int n = proto_format_event(buf, sizeof buf, ev);
	assert_true(n > 0 && buf[n - 1] == '\n');
	assert_int_equal(parse_n(buf, (size_t)n - 1), 0);
	assert_int_equal(sl.kind, LINE_EV);
	assert_int_equal(sl.u.ev.seq, ev->seq);
	assert_int_equal(sl.u.ev.run, ev->run);
	assert_int_equal(sl.u.ev.order, ev->order);
	assert_string_equal(sl.u.ev.name, ev->name);
	assert_int_equal(sl.u.ev.step, ev->step);
	assert_int_equal(sl.u.ev.t_us, ev->t_us);
}

static void round_trip_done(const struct proto_done *d, int runinfo)
{
	char buf[PROTO_MAX_LINE];
	int n = runinfo ? proto_format_runinfo(buf, sizeof buf, d) : proto_format_done(buf, sizeof buf, d);
	assert_true(n > 0 && buf[n - 1] == '\n');
	assert_int_equal(parse_n(buf, (size_t)n - 1), 0);
	assert_int_equal(sl.kind, runinfo ? LINE_RUNINFO : LINE_DONE);
	assert_int_equal(sl.u.done.seq, runinfo ? 0 : d->seq);
	assert_int_equal(sl.u.done.run, d->run);
	assert_int_equal(sl.u.done.mode, d->mode);
	assert_int_equal(sl.u.done.orders, d->orders);
	assert_int_equal(sl.u.done.status, d->status);
	assert_int_equal(sl.u.done.elapsed_us, d->elapsed_us);
	assert_int_equal(sl.u.done.ideal_us, d->ideal_us);
	assert_int_equal(sl.u.done.sum_us, runinfo ? 0 : d->sum_us);
	assert_int_equal(sl.u.done.max_us, runinfo ? 0 : d->max_us);
	if (!runinfo) {
		assert_int_equal(sl.u.done.cook_us, d->cook_us);
		assert_int_equal(sl.u.done.blocked_us, d->blocked_us);
		assert_int_equal(sl.u.done.caused_us, d->caused_us);
	}
}

/* A GEN order's line names it as GEN does, "?" when the prefix and number
 * pass the name limit, and is otherwise the line of the named order. */
static void test_gen_event_names(void **state)
{
	struct proto_event ev = { .seq = 12, .run = 3, .order = 456789, .name = "o",
	                          .step = STEP_EATEN, .t_us = 1000123 };
	char gen[PROTO_EVENT_LINE_MAX], plain[PROTO_EVENT_LINE_MAX], small[80];
	(void)state;
	int n = proto_format_gen_event(gen, sizeof gen, &ev);
	assert_true(n > 0);
	assert_memory_equal(gen, "EV seq=12 run=3 order=456789 name=o456789 step=eaten t=1000123\n",
	                    (size_t)n);
	struct proto_event named = ev;
	assert_true(proto_gen_name(named.name, sizeof named.name, "o", ev.order) > 0);
	assert_int_equal(proto_format_event(plain, sizeof plain, &named), n);
	assert_memory_equal(gen, plain, (size_t)n);
	/* Through the scratch line too: a buffer under the bound. */
	assert_int_equal(proto_format_gen_event(small, sizeof small, &ev), n);
	assert_memory_equal(small, gen, (size_t)n);

	/* 26 letters and 6 digits fit 32; 7 digits do not. */
	snprintf(ev.name, sizeof ev.name, "%s", "abcdefghijklmnopqrstuvwxyz");
	ev.order = 999999;
	n = proto_format_gen_event(gen, sizeof gen, &ev);
	assert_non_null(memmem(gen, (size_t)n, " name=abcdefghijklmnopqrstuvwxyz999999 ", 39));
	ev.order = 1000000;
	n = proto_format_gen_event(gen, sizeof gen, &ev);
	assert_non_null(memmem(gen, (size_t)n, " name=? step=eaten ", 19));
	/* The longest prefix with the largest number: still within the bound. */
	memset(ev.name, 'p', PROTO_NAME_MAX);
	ev.name[PROTO_NAME_MAX] = '\0';
	ev.order = UINT32_MAX;
	ev.seq = ev.run = ev.t_us = UINT64_MAX;
	n = proto_format_gen_event(gen, sizeof gen, &ev);
	assert_true(n > 0 && gen[n - 1] == '\n');
	assert_non_null(memmem(gen, (size_t)n, " name=? ", 8));
	assert_int_equal(parse_n(gen, (size_t)n - 1), -1);   /* "?" is no name to parse */
}

static void test_round_trips(void **state)
{
	static const struct proto_event evs[] = {
		{ 1, 1, 1, "A", STEP_DELIVERED, 0 },
		{ UINT64_MAX, UINT64_MAX, UINT32_MAX, "12345678901234567890123456789012",
		  STEP_COLLECTED, UINT64_MAX },
		{ 42, 7, 3, "a.b-c_D", STEP_EATEN, 30102 },
		{ 43, 7, 3, "a.b-c_D", STEP_COOKED, 200000 },
	};
	static const struct proto_done ds[] = {
		{ 10, 1, MODE_ASYNC, 3, RUN_DONE, 40097, 40000, 100000, 40000, 0, 0, 0, 0, 0, 0, 0 },
		{ UINT64_MAX, UINT64_MAX, MODE_SYNC, UINT32_MAX, RUN_INTERRUPTED, INT64_MAX,
		  UINT64_MAX, UINT64_MAX, UINT64_MAX, 0, 0, 0, 0, 0, 0, 0 },
		{ 0, 0, MODE_SYNC, 0, RUN_RUNNING, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 3, 2, MODE_OFFLOAD, 3, RUN_DONE, 4400100, 4400000, 10000000, 4000000, 600000, 0, 0, 0, 0, 0, 0 },
		{ 3, 2, MODE_ASYNC, 3, RUN_DONE, 4600100, 4600000, 10000000, 4000000, 600000, 600050,
		  200040, 0, 0, 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		round_trip_event(&evs[i]);
	for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
		round_trip_done(&ds[i], 0);
		round_trip_done(&ds[i], 1);
	}
}

/* A parse error's text, sent by the formatter, comes back whole. */
static void test_error_round_trip(void **state)
{
	static const struct proto_limits lim = { 600000000, 1000, 0, 0 };
	static struct cmd cmd;
	static const char *const lines[] = {
		"FLY", "RUN sync A:10ms B:ten", "RUN fast", "RUN sync \xff\x01:1s", "GEN sync 0 1s", "",
	};
	(void)state;
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct proto_error e;
		char buf[PROTO_MAX_LINE];
		assert_int_equal(proto_parse_command(lines[i], strlen(lines[i]), &lim, &cmd, &e), -1);
		int n = proto_format_error(buf, sizeof buf, &e);
		assert_true(n > 0 && buf[n - 1] == '\n');
		assert_int_equal(parse_n(buf, (size_t)n - 1), 0);
		assert_int_equal(sl.kind, LINE_ERR);
		assert_string_equal(sl.u.err.code, e.code);
		assert_span_equal(sl.u.err.text, sl.u.err.text_len, e.text);
	}
}

static void test_hello_round_trip(void **state)
{
	char buf[PROTO_MAX_LINE];
	(void)state;
	int n = proto_format_hello(buf, sizeof buf, SESSION, "1.2.3");
	assert_true(n > 0);
	assert_int_equal(parse_n(buf, (size_t)n - 1), 0);
	assert_int_equal(sl.kind, LINE_HELLO);
	assert_string_equal(sl.u.hello.session, SESSION);
	assert_string_equal(sl.u.hello.proto, PROTO_NAME);
}

/* xorshift64: a fixed seed makes a failure reproducible. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The transcript's lines with bytes flipped, cut and dropped: each gives
 * a clean 0 or -1, and reads only its own bytes. */
static void test_mutated_lines(void **state)
{
	static const char bytes[] = " =-09aZ\r\n\t\0\xff";
	uint64_t seed = 4242;
	char line[256];
	int ok = 0, bad = 0;
	(void)state;
	for (int i = 0; i < 200000; i++) {
		const char *src = transcript[next_random(&seed) % (sizeof transcript / sizeof transcript[0])];
		size_t len = strlen(src);
		memcpy(line, src, len);
		for (uint64_t k = next_random(&seed) % 4; k > 0; k--)
			line[next_random(&seed) % len] = bytes[next_random(&seed) % (sizeof bytes - 1)];
		len -= next_random(&seed) % 3 == 0 ? next_random(&seed) % len : 0;
		if (parse_n(line, len) == 0)
			ok++;
		else
			bad++;
	}
	assert_true(ok > 0 && bad > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_find_field, teardown),
		cmocka_unit_test_teardown(test_transcript, teardown),
		cmocka_unit_test_teardown(test_hello, teardown),
		cmocka_unit_test_teardown(test_ok, teardown),
		cmocka_unit_test_teardown(test_err, teardown),
		cmocka_unit_test_teardown(test_ev, teardown),
		cmocka_unit_test_teardown(test_done_and_runinfo, teardown),
		cmocka_unit_test_teardown(test_lagged_and_bye, teardown),
		cmocka_unit_test_teardown(test_unknown_lines, teardown),
		cmocka_unit_test_teardown(test_format_transcript, teardown),
		cmocka_unit_test_teardown(test_format_edges, teardown),
		cmocka_unit_test_teardown(test_gen_event_names, teardown),
		cmocka_unit_test_teardown(test_round_trips, teardown),
		cmocka_unit_test_teardown(test_error_round_trip, teardown),
		cmocka_unit_test_teardown(test_hello_round_trip, teardown),
		cmocka_unit_test_teardown(test_mutated_lines, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
