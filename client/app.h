/* One invocation of baedal: connect, greet, send the command, follow its
 * runs to their end in the chosen output, and report. */
#ifndef BAEDAL_APP_H
#define BAEDAL_APP_H

#include "client/cli.h"

/* Returns the exit code: 0, 1 (connection, server error, interrupted or
 * lost run; one line on stderr), 130 on SIGINT, 143 on SIGTERM. */
int app_execute(const struct cli_opts *o);

#endif
