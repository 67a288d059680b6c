/* The protocol lines a command sends, and the replies they are owed:
 * the first half of following a command (follow.c reads what comes). */
#include "client/follow_commands.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void follow_expect_reply(struct follow *f, enum follow_reply kind, enum proto_mode mode)
{
	f->expect[f->nexpect].kind = kind;
	f->expect[f->nexpect].mode = mode;
	f->expect[f->nexpect].riders = 0;
	f->nexpect++;
}

/* compare --riders: the same orders async, once per number of riders,
 * raced side by side in one group. */
static void follow_riders_commands(struct follow *f, struct strbuf *cmd, const char *group)
{
	const struct cli_opts *o = f->opt;
	char line[PROTO_MAX_LINE + 2], limits[64];

	for (int i = 0; i < o->nriders; i++) {
		cli_format_limits(limits, sizeof limits, o->riders[i], o->deadline);
		int n = cli_format_run(line, sizeof line - 96, "RUN", MODE_ASYNC, o->args, o->nargs);
		if (n > 0)
			strbuf_printf(cmd, "%.*s group=%s%s\n", n - 1, line, group, limits);
		follow_expect_reply(f, FOLLOW_REPLY_RUN, MODE_ASYNC);
		f->expect[f->nexpect - 1].riders = o->riders[i];
	}
}

/* compare's runs share a group id in the database (runs.group_id, the
 * comparison view): 48 random bits, 12 hex digits. */
static void follow_group_id(char *buf, size_t cap)
{
	unsigned char b[6];
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
		uint64_t v = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
		for (size_t i = 0; i < sizeof b; i++)
			b[i] = (unsigned char)(v >> (8 * i));
	}
	snprintf(buf, cap, "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

/* For compare, the RUNs go at once: the server runs each while the others
 * go on, in the same session, and replies in order. --cook adds offload:
 * async's cooks then freeze all three rows, offload's leave them moving. */
void follow_commands(struct follow *f, struct strbuf *cmd)
{
	const struct cli_opts *o = f->opt;
	char line[PROTO_MAX_LINE + 2];

	if (o->token[0]) {
		strbuf_printf(cmd, "AUTH %s\n", o->token);
		follow_expect_reply(f, FOLLOW_REPLY_AUTH, MODE_SYNC);
	}
	if (o->command == CLI_RUN || o->command == CLI_GEN) {
		int gen = o->command == CLI_GEN;
		char limits[64];
		uint32_t riders = o->nriders ? o->riders[0] : 0;
		cli_format_limits(limits, sizeof limits, riders, o->deadline);
		int n = cli_format_run(line, sizeof line - sizeof limits, gen ? "GEN" : "RUN", o->mode,
		                       o->args, o->nargs);
		if (n > 0)
			strbuf_printf(cmd, "%.*s%s\n", n - 1, line, limits);
		follow_expect_reply(f, gen ? FOLLOW_REPLY_GEN : FOLLOW_REPLY_RUN, o->mode);
		f->expect[f->nexpect - 1].riders = riders;
	} else if (o->command == CLI_COMPARE && o->nriders) {
		char group[16];
		follow_group_id(group, sizeof group);
		follow_riders_commands(f, cmd, group);
	} else if (o->command == CLI_COMPARE || o->command == CLI_DEMO) {
		int last = o->cook ? MODE_OFFLOAD : MODE_ASYNC;
		char group[16], opt[96], limits[64];
		follow_group_id(group, sizeof group);
		cli_format_limits(limits, sizeof limits, 0, o->deadline);
		int room = snprintf(opt, sizeof opt, " group=%s%s", group, limits);
		for (int m = MODE_SYNC; m <= last; m++) {
			int n = cli_format_run(line, sizeof line - (size_t)room, "RUN", (enum proto_mode)m,
			                       o->args, o->nargs);
			if (n > 0)
				strbuf_printf(cmd, "%.*s%s\n", n - 1, line, opt);
			follow_expect_reply(f, FOLLOW_REPLY_RUN, (enum proto_mode)m);
		}
		/* Last, once the runs ended: the loop's lag, told under the totals. */
		if (o->cook && f->out != TERM_JSON) {
			strbuf_puts(cmd, "STATS\n");
			follow_expect_reply(f, FOLLOW_REPLY_STATS, MODE_SYNC);
		}
	} else if (o->command == CLI_ATTACH) {
		/* The live view draws the runs from their start: it asks for every
		 * line held, whatever --since says (which spares the printed
		 * outputs the lines already printed). */
		strbuf_printf(cmd, "ATTACH %s %" PRIu64 "\n", o->session,
		              f->out == TERM_LIVE ? 0 : o->since);
		follow_expect_reply(f, FOLLOW_REPLY_ATTACH, MODE_SYNC);
		snprintf(f->session, sizeof f->session, "%s", o->session);
	} else if (o->command == CLI_REPLAY) {
		strbuf_printf(cmd, "REPLAY %" PRIu64 " speed=%" PRIu32 ".%03" PRIu32 "\n", o->run,
		              o->speed_milli / 1000, o->speed_milli % 1000);
		follow_expect_reply(f, FOLLOW_REPLY_REPLAY, MODE_SYNC);
	} else {
		strbuf_printf(cmd, "RUNS%s%s\n", o->session ? " " : "", o->session ? o->session : "");
		follow_expect_reply(f, FOLLOW_REPLY_RUNS, MODE_SYNC);
	}
}
