/* baedal top: a live view of the server's health, from STATS polled on
 * its own connection; redrawn in place, or plain lines, or NDJSON. */
#ifndef BAEDAL_TOP_H
#define BAEDAL_TOP_H

#include "client/cli.h"

#define TOP_DEFAULT_INTERVAL_US 500000u
#define TOP_MIN_INTERVAL_US 100000u     /* at most 10 frames a second */

/* Returns the exit code: 0 (--once answered, or the server said BYE), 1
 * (connection or server error; one line on stderr), 130 on SIGINT, 143
 * on SIGTERM; the cursor is shown again in every case. */
int top_main(const struct cli_opts *o);

#endif
