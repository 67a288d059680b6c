/* baedal: submits orders to baedald and shows them run, sync or async. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/app.h"
#include "client/cli.h"
#include "client/export.h"
#include "client/top.h"

static const char usage[] =
	"usage: baedal [--server HOST:PORT] [--json] [--plain] [--no-color] COMMAND ...\n";

static const char help[] =
	"\n"
	"Submits orders to a baedald server and shows them cooked, delivered, eaten\n"
	"and collected: one after another (sync), all at once (async), or all at\n"
	"once with their cooking on the server's worker threads (offload).\n"
	"\n"
	"commands:\n"
	"  run MODE ORDER...                one run; MODE is sync, async or offload; ORDER is\n"
	"                                   NAME:DURATION (A:3s) or NAME:COOK:DURATION (A:200ms:3s)\n"
	"  gen MODE COUNT MEAL[..MEAL]      COUNT orders made by the server\n"
	"  compare ORDER...                 the same orders sync and async at once, side by side\n"
	"  compare --cook ORDER...          the same orders sync, async and offload, in turn\n"
	"  compare --riders N,N,...,all ORDER...\n"
	"                                   the same orders async with each number of riders\n"
	"                                   (all: no limit), side by side\n"
	"  demo [--cook]                    compare A:3s B:3s C:4s; with --cook, compare --cook\n"
	"                                   A:10ms:100ms B:450ms:100ms C:450ms:1s\n"
	"  attach SESSION [--since SEQ]     replay a session's events, then follow its runs\n"
	"  runs SESSION                     the session's runs\n"
	"  replay RUN [--speed X]           a stored run drawn again at its pace, X times\n"
	"                                   faster (0.01 to 1000; default 1)\n"
	"  top [--interval DURATION] [--once]\n"
	"                                   the server's health, live: its loop's lag, stalls,\n"
	"                                   runs and orders by state, store (STATS, every 500ms)\n"
	"  export RUN --svg FILE | --trace FILE  a stored run's timeline or Perfetto trace,\n"
	"                                   from the server's HTTP side (--http HOST:PORT,\n"
	"                                   else $BAEDAL_HTTP, else 127.0.0.1:7879)\n"
	"\n"
	"options:\n"
	"  --server HOST:PORT   the server (else $BAEDAL_SERVER, else " CLI_DEFAULT_SERVER ")\n"
	"  --json               NDJSON on stdout, one object per line\n"
	"  --plain              one line per event, even on a terminal\n"
	"  --no-color           no colors in the live view (also NO_COLOR=1)\n"
	"  --token-file PATH    the server's token, for AUTH (else $BAEDAL_TOKEN)\n"
	"  --cook               compare and demo: add an offload run, show the cooking\n"
	"  --riders N           run, gen (async, offload): at most N orders out at once;\n"
	"                       compare: a list such as 1,2,3,all\n"
	"  --deadline DURATION  run, gen, compare: cancel the orders not collected by then\n"
	"  --interval DURATION  top: how often to ask the server (default 500ms)\n"
	"  --once               top: ask once, show the answer, exit\n"
	"  --speed X            replay: X times the original pace, such as 2 or 0.5\n"
	"  --help, --version\n"
	"\n"
	"exit status: 0 done, 1 failed (connection, server error, a run that ended\n"
	"interrupted, timed_out or cancelled), 2 usage error, 130 on Ctrl-C, 143 on SIGTERM.\n";

/* Where the command word is "export" (global options may come first, as
 * a wrapper such as the compose file's client puts --server there): its
 * index, else 0. */
static int export_at(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--server") == 0 || strcmp(argv[i], "--token-file") == 0)
			i++;
		else if (argv[i][0] != '-')
			return strcmp(argv[i], "export") == 0 ? i : 0;
	}
	return 0;
}

/* export speaks HTTP, not the protocol, and takes its own options; the
 * global ones before it go along, for it to take the token and refuse
 * the rest (--server: its address is --http) rather than ignore them. */
static int export_with_globals(int argc, char **argv, int at)
{
	char *args[argc + 1];
	int n = 0;
	for (int i = at; i < argc; i++)
		args[n++] = argv[i];
	for (int i = 1; i < at; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return export_main(n, args);
}

int main(int argc, char **argv)
{
	struct cli_opts opts;
	char err[512];

	int at = export_at(argc, argv);
	if (at > 0)
		return export_with_globals(argc, argv, at);
	if (cli_parse(argc, argv, getenv("BAEDAL_SERVER"), &opts, err, sizeof err) < 0) {
		fprintf(stderr, "baedal: %s\n%sTry 'baedal --help' for the commands.\n", err, usage);
		return 2;
	}
	if (cli_load_token(&opts, getenv("BAEDAL_TOKEN"), err, sizeof err) < 0) {
		fprintf(stderr, "baedal: %s\n", err);
		return 2;
	}
	if (opts.command == CLI_HELP) {
		printf("%s%s", usage, help);
		return 0;
	}
	if (opts.command == CLI_VERSION) {
		printf("baedal %s\n", BAEDAL_VERSION);
		return 0;
	}
	if (opts.command == CLI_TOP)
		return top_main(&opts);
	return app_execute(&opts);
}
