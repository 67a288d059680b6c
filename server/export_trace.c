#include "server/export.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>

int export_step_parse(const char *s)
{
	for (int i = 0; i < EXPORT_STEPS; i++) {
		if (strcmp(proto_step_name((enum proto_step)i), s) == 0)
			return i;
	}
	return -1;
}

int64_t export_run_span_us(const struct export_run *r, int64_t latest_us)
{
	return r->elapsed_us >= 0 ? r->elapsed_us : latest_us;
}

void export_stall_span(const struct export_run *r, const struct export_stall *st, int64_t *from,
                       int64_t *to)
{
	int64_t t = st->started_wall_us - r->started_wall_us;
	*to = t + (int64_t)st->duration_us;
	*from = t > 0 ? t : 0;
	if (*to < *from)
		*to = *from;
}

void export_stall_cause(char *buf, size_t cap, const struct export_stall *st)
{
	if (strcmp(st->cause, "cook") == 0)
		snprintf(buf, cap, "a cook of run %" PRIu64 " order %" PRIu32, st->run, st->order);
	else if (strcmp(st->cause, "start") == 0)
		snprintf(buf, cap, "the start of run %" PRIu64, st->run);
	else if (strcmp(st->cause, "line") == 0)
		snprintf(buf, cap, "a client's line");
	else
		snprintf(buf, cap, "%s", st->cause);
}

void export_json_string(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			evbuffer_add_printf(out, "\\%c", ch);
		else if (ch < 0x20)
			evbuffer_add_printf(out, "\\u%04x", ch);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* Thread 0 of a run's process is the event loop; order i is thread i. */
#define TRACE_LOOP_TID 0

static void trace_slice(struct evbuffer *out, uint64_t pid, uint32_t tid, const char *name,
                        int64_t ts, int64_t dur)
{
	evbuffer_add_printf(out, ",\n{\"ph\":\"X\",\"name\":\"%s\",\"pid\":%" PRIu64 ",\"tid\":%"
	                    PRIu32 ",\"ts\":%" PRId64 ",\"dur\":%" PRId64 "}",
	                    name, pid, tid, ts, dur);
}

static void trace_instant(struct evbuffer *out, uint64_t pid, uint32_t tid, const char *name,
                          int64_t ts)
{
	evbuffer_add_printf(out, ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",\"pid\":%" PRIu64
	                    ",\"tid\":%" PRIu32 ",\"ts\":%" PRId64 "}", name, pid, tid, ts);
}

static void trace_thread_name(struct evbuffer *out, uint64_t pid, uint32_t tid, const char *name)
{
	evbuffer_add_printf(out, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%" PRIu64
	                    ",\"tid\":%" PRIu32 ",\"args\":{\"name\":", pid, tid);
	export_json_string(out, name);
	evbuffer_add_printf(out, "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%"
	                    PRIu64 ",\"tid\":%" PRIu32 ",\"args\":{\"sort_index\":%" PRIu32 "}}",
	                    pid, tid, tid);
}

void export_trace_begin(struct evbuffer *out, const struct export_run *r)
{
	evbuffer_add_printf(out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"run\":%" PRIu64
	                    ",\"mode\":\"%s\",\"orders\":%" PRIu32 ",\"status\":\"%s\"},"
	                    "\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%"
	                    PRIu64 ",\"tid\":0,\"args\":{\"name\":\"run %" PRIu64 " %s, %" PRIu32
	                    " orders\"}}",
	                    r->id, proto_mode_name(r->mode), r->orders, proto_status_name(r->status),
	                    r->id, r->id, proto_mode_name(r->mode), r->orders);
	evbuffer_add_printf(out, ",\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%" PRIu64
	                    ",\"tid\":0,\"args\":{\"sort_index\":%" PRIu64 "}}", r->id, r->id);
	trace_thread_name(out, r->id, TRACE_LOOP_TID, "loop");
}

/* Where an order's cook began: its CPU time before the step that ended
 * it, never before the run's start; -1 if it was not cooked. */
static int64_t trace_cook_start(const struct export_order *o)
{
	int64_t k = o->t_us[STEP_COOKED];
	if (o->cook_us == 0 || k < 0)
		return -1;
	return k > (int64_t)o->cook_us ? k - (int64_t)o->cook_us : 0;
}

/* The coroutine's resumes, and the steps that have no slice of their own,
 * as instants on the order's thread. */
static void trace_order_instants(struct evbuffer *out, uint64_t pid, const struct export_order *o,
                                 int64_t first)
{
	if (first >= 0)
		trace_instant(out, pid, o->idx, "resume: start", first);
	if (o->t_us[STEP_COOKED] >= 0)
		trace_instant(out, pid, o->idx, "resume: cook's end", o->t_us[STEP_COOKED]);
	if (o->t_us[STEP_EATEN] >= 0)
		trace_instant(out, pid, o->idx, "resume: meal's end", o->t_us[STEP_EATEN]);
	for (int s = 0; s < EXPORT_STEPS; s++) {
		if (o->t_us[s] >= 0 && s != STEP_COOKED && s != STEP_EATEN)
			trace_instant(out, pid, o->idx, proto_step_name((enum proto_step)s), o->t_us[s]);
	}
}

void export_trace_order(struct evbuffer *out, const struct export_run *r,
                        const struct export_order *o)
{
	int64_t d = o->t_us[STEP_DELIVERED], e = o->t_us[STEP_EATEN];
	int64_t cook = trace_cook_start(o), cook_end = o->t_us[STEP_COOKED];
	int64_t first = cook >= 0 ? cook : d;

	trace_thread_name(out, r->id, o->idx, o->name);
	if (first > 0)
		trace_slice(out, r->id, o->idx, "waiting", 0, first);
	if (cook >= 0) {
		/* A step never comes before the one it follows; clamped all the
		 * same, so that no two slices of a thread overlap. */
		if (d >= 0 && cook_end > d)
			cook_end = d;
		trace_slice(out, r->id, o->idx, "cooking", cook, cook_end - cook);
		if (r->mode == MODE_ASYNC)
			trace_slice(out, r->id, TRACE_LOOP_TID, "cooking (loop blocked)", cook,
			            cook_end - cook);
	}
	if (d >= 0 && e >= d)
		trace_slice(out, r->id, o->idx, "eating", d, e - d);
	trace_order_instants(out, r->id, o, first);
}

void export_trace_inflight(struct evbuffer *out, const struct export_run *r, int64_t t_us,
                           int64_t count)
{
	evbuffer_add_printf(out, ",\n{\"ph\":\"C\",\"name\":\"orders in flight\",\"pid\":%" PRIu64
	                    ",\"tid\":0,\"ts\":%" PRId64 ",\"args\":{\"orders\":%" PRId64 "}}",
	                    r->id, t_us, count);
}

void export_trace_stall(struct evbuffer *out, const struct export_run *r,
                        const struct export_stall *st)
{
	int64_t from, to;
	char cause[96];
	export_stall_span(r, st, &from, &to);
	export_stall_cause(cause, sizeof cause, st);
	evbuffer_add_printf(out, ",\n{\"ph\":\"X\",\"name\":\"stall\",\"pid\":%" PRIu64 ",\"tid\":%d,"
	                    "\"ts\":%" PRId64 ",\"dur\":%" PRId64 ",\"args\":{\"stall\":%" PRIu64
	                    ",\"held_ms\":%.1f,\"cause\":", r->id, TRACE_LOOP_TID, from, to - from,
	                    st->id, (double)st->duration_us / 1e3);
	export_json_string(out, cause);
	evbuffer_add(out, "}}", 2);
}

void export_trace_end(struct evbuffer *out)
{
	evbuffer_add(out, "\n]}\n", 4);
}
