/* The protocol's commands on the server: parse a line, check the limits,
 * admit runs through the store, attach sessions, list runs. */
#ifndef BAEDAL_COMMAND_H
#define BAEDAL_COMMAND_H

#include <stddef.h>

struct conn;
struct run;

/* Handles one command line (without its newline) from c. */
void command_handle_line(struct conn *c, const char *line, size_t len);

/* The store's callback once a submitted run is committed (or failed). */
void command_run_durable(void *arg, int ok, const char *err);

#endif
