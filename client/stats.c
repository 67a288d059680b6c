#include "client/stats.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client/model.h"
#include "client/report.h"

#include "common/protocol.h"
#include "common/protocol_util.h"

/* A key of a line and where its number goes in struct stats. */
struct stats_key {
	const char *key;
	size_t off;
};

#define K(name, field) { name, offsetof(struct stats, field) }

static const struct stats_key loop_keys[] = {
	K("uptime", uptime_us), K("busy", busy_us), K("iterations", iterations),
	K("stalls", stalls), K("stalled", stalled_us), K("warn_stall", warn_stall_us),
	{ NULL, 0 },
};
static const struct stats_key lag_keys[] = {
	K("count", lag_count), K("p50", lag_p50), K("p99", lag_p99), K("p999", lag_p999),
	K("max", lag_max), K("recent_count", recent_count), K("recent_p50", recent_p50),
	K("recent_p99", recent_p99), K("recent_max", recent_max),
	{ NULL, 0 },
};
static const struct stats_key work_keys[] = {
	K("sync", runs[0]), K("async", runs[1]), K("offload", runs[2]), K("orders", orders),
	K("queued", queued), K("cooking", cooking), K("workers", workers),
	K("connections", connections), K("sessions", sessions),
	{ NULL, 0 },
};
static const struct stats_key orders_keys[] = {
	K("sync", orders_by_mode[0]), K("async", orders_by_mode[1]),
	K("offload", orders_by_mode[2]), K("timer", on_timer), K("waiting", waiting),
	{ NULL, 0 },
};
static const struct stats_key store_keys[] = {
	K("queue", store_queue), K("lag", store_lag_us), K("commits", commits), K("rows", rows),
	K("commit_p50", commit_p50), K("commit_p99", commit_p99), K("commit_max", commit_max),
	{ NULL, 0 },
};

#undef K

static int stats_u64(const char *s, size_t len, const char *key, uint64_t *out)
{
	const char *v;
	size_t vlen;
	return proto_find_field(s, len, key, &v, &vlen) == 0 && proto_parse_u64(v, vlen, out) == 0
	       ? 0 : -1;
}

static int stats_fields(struct stats *s, const struct stats_key *keys, const char *rest,
                        size_t len)
{
	for (; keys->key; keys++)
		if (stats_u64(rest, len, keys->key, (uint64_t *)((char *)s + keys->off)) < 0)
			return -1;
	return 0;
}

static int stats_word(const char *line, size_t len, const char *word, const char **rest,
                      size_t *rlen)
{
	size_t n = strlen(word);
	if (len < n || memcmp(line, word, n) != 0 || (len > n && line[n] != ' '))
		return 0;
	*rest = line + n;
	*rlen = len - n;
	return 1;
}

static int stats_cause(const char *rest, size_t len, char *cause)
{
	const char *v;
	size_t vlen;
	if (proto_find_field(rest, len, "cause", &v, &vlen) < 0 || vlen == 0 ||
	    vlen > STATS_CAUSE_MAX)
		return -1;
	for (size_t i = 0; i < vlen; i++)
		if (v[i] < 'a' || v[i] > 'z')
			return -1;
	memcpy(cause, v, vlen);
	cause[vlen] = '\0';
	return 0;
}

/* The keys a STALL and a STALLED line share. */
static int stats_stall_common(const char *rest, size_t len, struct stats_stall *st)
{
	uint64_t order;
	if (stats_u64(rest, len, "id", &st->id) < 0 || stats_u64(rest, len, "held", &st->held_us) < 0 ||
	    stats_u64(rest, len, "run", &st->run) < 0 || stats_u64(rest, len, "order", &order) < 0 ||
	    order > UINT32_MAX || stats_cause(rest, len, st->cause) < 0)
		return -1;
	st->order = (uint32_t)order;
	return 0;
}

static int stats_stalled(struct stats *s, const char *rest, size_t len)
{
	struct stats_stall st;
	uint64_t start;
	memset(&st, 0, sizeof st);
	if (stats_stall_common(rest, len, &st) < 0 || stats_u64(rest, len, "ago", &st.ago_us) < 0 ||
	    stats_u64(rest, len, "start", &start) < 0 || start > INT64_MAX)
		return -1;
	st.start_wall_us = (int64_t)start;
	/* More than the server keeps: the oldest gives way. */
	if (s->nrecent == STATS_STALLS_MAX) {
		memmove(s->recent, s->recent + 1, (STATS_STALLS_MAX - 1) * sizeof s->recent[0]);
		s->nrecent--;
	}
	s->recent[s->nrecent++] = st;
	return STATS_STALLED;
}

int stats_parse_line(struct stats *s, const char *line, size_t len)
{
	static const struct { const char *word; const struct stats_key *keys; } kinds[] = {
		{ "STAT loop", loop_keys }, { "STAT lag", lag_keys }, { "STAT work", work_keys },
		{ "STAT orders", orders_keys }, { "STAT store", store_keys },
	};
	const char *rest;
	size_t rlen;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 8 && memcmp(line, "OK stats", 8) == 0)
		return STATS_END;
	if (stats_word(line, len, "STALLED", &rest, &rlen))
		return stats_stalled(s, rest, rlen);
	if (!stats_word(line, len, "STAT", &rest, &rlen))
		return STATS_OTHER;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (!stats_word(line, len, kinds[i].word, &rest, &rlen))
			continue;
		if (stats_fields(s, kinds[i].keys, rest, rlen) < 0)
			return -1;
		s->has_orders |= kinds[i].keys == orders_keys;
		return STATS_STAT;
	}
	/* A STAT line of a later server: taken in, and skipped. */
	return STATS_STAT;
}

int stats_parse_stall(const char *line, size_t len, struct stats_stall *out)
{
	const char *rest;
	size_t rlen;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	memset(out, 0, sizeof *out);
	if (!stats_word(line, len, "STALL", &rest, &rlen) ||
	    stats_u64(rest, rlen, "seq", &out->seq) < 0)
		return -1;
	return stats_stall_common(rest, rlen, out);
}

void stats_format_time(char *buf, size_t cap, uint64_t us)
{
	if (us < 1000)
		snprintf(buf, cap, "%.3f ms", (double)us / 1000.0);
	else if (us < 10000)
		snprintf(buf, cap, "%.2f ms", (double)us / 1000.0);
	else if (us < 1000000)
		snprintf(buf, cap, "%" PRIu64 " ms", (us + 500) / 1000);
	else
		snprintf(buf, cap, "%.2f s", (double)us / 1e6);
}

double stats_utilisation(const struct stats *s)
{
	return s->uptime_us ? 100.0 * (double)s->busy_us / (double)s->uptime_us : 0.0;
}

void stats_plain_stall(struct strbuf *b, const struct stats_stall *st)
{
	strbuf_printf(b, "stall  the loop was held %.3f ms by a %s", (double)st->held_us / 1000.0,
	              st->cause);
	if (st->run)
		strbuf_printf(b, ", run=%" PRIu64 " order=%" PRIu32, st->run, st->order);
	strbuf_puts(b, "\n");
}

void stats_json_stall(struct strbuf *b, const struct stats_stall *st)
{
	strbuf_printf(b, "{\"type\":\"stall\",\"seq\":%" PRIu64 ",\"id\":%" PRIu64 ",\"held_us\":%"
	              PRIu64 ",\"cause\":", st->seq, st->id, st->held_us);
	report_json_string(b, st->cause);
	strbuf_printf(b, ",\"run\":%" PRIu64 ",\"order\":%" PRIu32 "}\n", st->run, st->order);
}

/* The run all the kept stalls were cooks of, or NULL. */
static const struct model_run *stats_one_run(const struct model *m, size_t kept)
{
	for (size_t i = 0; i < kept; i++)
		if (strcmp(m->stalls[i].cause, "cook") != 0 || m->stalls[i].run != m->stalls[0].run)
			return NULL;
	return model_find_run_const(m, m->stalls[0].run);
}

static void stats_order_name(struct strbuf *b, const struct model_run *r, uint32_t order)
{
	if (r->names && order >= 1 && order <= r->slots && r->names[order - 1][0])
		strbuf_puts(b, r->names[order - 1]);
	else
		strbuf_printf(b, "order %" PRIu32, order);
}

/* Breaks what b holds from `from` on at spaces, so that no line of it
 * is wider than width (0: left whole): a note with many stalls, or slow
 * ones, still fits an 80-column terminal. */
static void stats_wrap(struct strbuf *b, size_t from, int width)
{
	size_t line = from, space = 0;
	int has_space = 0;

	for (size_t i = from; width > 0 && i < b->len && b->data; i++) {
		if (b->data[i] == '\n') {
			line = i + 1;
			has_space = 0;
		} else if (i - line >= (size_t)width && has_space) {
			b->data[space] = '\n';
			line = space + 1;
			has_space = b->data[i] == ' ';
			space = i;
		} else if (b->data[i] == ' ') {
			has_space = 1;
			space = i;
		}
	}
}

void stats_note_stalls_width(struct strbuf *b, const struct model *m, int width)
{
	size_t kept = m->nstalls < MODEL_STALLS_MAX ? m->nstalls : MODEL_STALLS_MAX;
	size_t from = b->len;
	const struct model_run *r;

	if (m->nstalls == 0)
		return;
	strbuf_printf(b, "The loop stalled %zu time%s: ", m->nstalls, m->nstalls == 1 ? "" : "s");
	for (size_t i = 0; i < kept; i++)
		strbuf_printf(b, "%s%" PRIu64 " ms", i ? ", " : "", (m->stalls[i].held_us + 500) / 1000);
	if (kept < m->nstalls)
		strbuf_puts(b, ", ...");
	r = stats_one_run(m, kept);
	if (r) {
		strbuf_printf(b, " (%s's cook%s of ", model_mode_name(r->mode), kept == 1 ? "" : "s");
		for (size_t i = 0; i < kept; i++) {
			strbuf_puts(b, i == 0 ? "" : i + 1 == kept ? " and " : ", ");
			stats_order_name(b, r, m->stalls[i].order);
		}
		strbuf_puts(b, ")");
	}
	strbuf_puts(b, ".\n");
	stats_wrap(b, from, width);
}

void stats_note_stalls(struct strbuf *b, const struct model *m)
{
	stats_note_stalls_width(b, m, STATS_NOTE_WIDTH);
}

void stats_note_lag_width(struct strbuf *b, const struct stats *s, int width)
{
	char up[24], max[24], p99[24];
	size_t from = b->len;

	stats_format_time(up, sizeof up, s->uptime_us);
	stats_format_time(max, sizeof max, s->lag_max);
	stats_format_time(p99, sizeof p99, s->lag_p99);
	strbuf_printf(b, "Loop lag since the server started %s ago: max %s, p99 %s.\n", up, max,
	              p99);
	stats_wrap(b, from, width);
}

void stats_note_lag(struct strbuf *b, const struct stats *s)
{
	stats_note_lag_width(b, s, STATS_NOTE_WIDTH);
}
