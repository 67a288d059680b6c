/* The live terminal view: every run's orders on a shared time axis, redrawn
 * in place. view_render is pure (model and clock in, bytes out) for tests. */
#ifndef BAEDAL_VIEW_H
#define BAEDAL_VIEW_H

#include <stdint.h>

#include "client/model.h"
#include "client/strbuf.h"

#define VIEW_DETAIL_MAX 20      /* a run with more orders is shown as counts */

struct view_opts {
	int width, height;      /* the terminal's size in cells */
	int color;              /* ANSI colors, else plain ASCII marks only */
};

/* Appends one frame: each line ends with "erase to end of line" and a
 * newline, and fits in width - 1 columns so that it never wraps. Returns
 * the number of lines, which stays below height when height allows. */
int view_render(const struct model *m, int64_t now_us, const struct view_opts *o,
                struct strbuf *out);

/* Since when (the client's monotonic clock) an async run's cook has held
 * the server's event loop, as the events tell: its order's turn came and
 * no cooked event yet. -1 when none does. While it holds, nothing on the
 * server moves, so the view stops its clocks there. */
int64_t view_loop_held_since(const struct model *m);

#endif
