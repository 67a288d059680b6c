/* The protocol's commands on the server: parse a line, check the limits,
 * admit runs through the store, attach sessions, list runs. */
#ifndef BAEDAL_COMMAND_H
#define BAEDAL_COMMAND_H

#include <stddef.h>

struct conn;

/* Handles one command line (without its newline) from c. */
void command_handle_line(struct conn *c, const char *line, size_t len);

#endif
