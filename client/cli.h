/* The command line of baedal: options and a command, checked before any
 * connection is made, and the protocol lines each command sends. */
#ifndef BAEDAL_CLI_H
#define BAEDAL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "client/remote.h"
#include "common/protocol.h"

#define CLI_DEFAULT_SERVER "127.0.0.1:7878"
#define CLI_RIDERS_MAX 8            /* compare --riders: variants raced at once */

enum cli_command { CLI_RUN, CLI_GEN, CLI_COMPARE, CLI_DEMO, CLI_ATTACH, CLI_RUNS, CLI_TOP,
                   CLI_REPLAY, CLI_HELP, CLI_VERSION };

struct cli_opts {
	enum cli_command command;
	const char *server;             /* HOST:PORT as the user gave it */
	int server_flag;                /* it came from --server */
	struct remote_addr addr;
	int json, plain, no_color;
	int cook;                       /* compare, demo: --cook, a third run, offload */
	/* --riders N (run, gen) or N,N,...,all (compare): 0 is all, no limit */
	uint32_t riders[CLI_RIDERS_MAX];
	int nriders;
	const char *deadline;           /* --deadline as given; NULL: none */
	enum proto_mode mode;           /* run, gen */
	const char *const *args;        /* run, compare, demo: orders; gen: COUNT MEAL */
	int nargs;
	const char *session;            /* attach, runs; NULL: the connection's own */
	uint64_t since;                 /* attach --since */
	uint64_t interval_us;           /* top --interval; 0 until parsed */
	int once;                       /* top --once */
	uint64_t run;                   /* replay: the stored run */
	const char *speed;              /* replay --speed as given; NULL: 1 */
	uint32_t speed_milli;           /* replay: the speed in thousandths, checked */
	const char *token_file;         /* --token-file */
	char token[PROTO_TOKEN_MAX + 1];    /* sent with AUTH; empty: none */
};

/* Parses argv (getopt_long; argv may be permuted). env_server is
 * $BAEDAL_SERVER or NULL. 0, or -1 with a usage error's reason in err. */
int cli_parse(int argc, char **argv, const char *env_server, struct cli_opts *o, char *err,
              size_t errlen);

/* The server's token, for AUTH: from the --token-file given, else from
 * env_token ($BAEDAL_TOKEN), never from the command line, where ps would
 * show it. 0, or -1 with the reason in err. */
int cli_load_token(struct cli_opts *o, const char *env_token, char *err, size_t errlen);

/* "RUN <mode> <orders...>\n" (verb GEN for gen): its length, or -1 if the
 * line would pass PROTO_MAX_LINE. */
int cli_format_run(char *buf, size_t cap, const char *verb, enum proto_mode mode,
                   const char *const *args, int nargs);

/* " riders=N" (riders > 0) and " deadline=D" (deadline set), the RUN/GEN
 * options after the orders; empty for neither. */
void cli_format_limits(char *buf, size_t cap, uint32_t riders, const char *deadline);

#endif
