/* What baedal top shows of one STATS answer: a frame for the terminal,
 * one plain line, or one NDJSON object. Pure: stats in, bytes out. */
#ifndef BAEDAL_TOP_VIEW_H
#define BAEDAL_TOP_VIEW_H

#include <stdint.h>

#include "client/stats.h"
#include "client/strbuf.h"

struct top_view_opts {
	int width, height;          /* the terminal's cells */
	int color;
	const char *server;         /* as the user named it */
	uint64_t interval_us;
	/* How long the poll in flight has waited for its answer, when it is
	 * late: the server's loop is held (a cook on it, say); 0 if not. */
	uint64_t unanswered_us;
};

/* Appends one frame; each line ends with "erase to end of line" and a
 * newline and fits in width - 1 columns. Returns its number of lines,
 * below height when height allows. */
int top_view_frame(const struct stats *s, const struct top_view_opts *o, struct strbuf *out);

/* One line of the figures, for a pipe. */
void top_view_plain(const struct stats *s, struct strbuf *out);

/* A line for each stall listed whose id is above after. */
void top_view_plain_stalls(const struct stats *s, uint64_t after, struct strbuf *out);

/* One NDJSON object ("type":"stats"). */
void top_view_json(const struct stats *s, struct strbuf *out);

#endif
