#include "client/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/top.h"
#include "common/duration.h"

enum { OPT_SERVER = 256, OPT_JSON, OPT_PLAIN, OPT_NO_COLOR, OPT_SINCE, OPT_TOKEN_FILE,
       OPT_COOK, OPT_RIDERS, OPT_DEADLINE, OPT_INTERVAL, OPT_ONCE, OPT_SPEED };

static const char *const cli_demo_orders[] = { "A:3s", "B:3s", "C:4s" };
/* The second act: short meals after short cooks first, long cooks after,
 * so that async's later cooks hold the loop while A's and B's meals come
 * due, and they end late; 910 ms of cooking, within the server's 1 s a run. */
static const char *const cli_cook_orders[] = { "A:10ms:100ms", "B:450ms:100ms", "C:450ms:1s" };

__attribute__((format(printf, 3, 4)))
static int cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int cli_format_run(char *buf, size_t cap, const char *verb, enum proto_mode mode,
                   const char *const *args, int nargs)
{
	size_t len = (size_t)snprintf(buf, cap, "%s %s", verb, proto_mode_name(mode));

	for (int i = 0; i < nargs && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, " %s", args[i]);
	if (len > PROTO_MAX_LINE || len + 2 > cap)
		return -1;
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

void cli_format_limits(char *buf, size_t cap, uint32_t riders, const char *deadline)
{
	int n = 0;
	buf[0] = '\0';
	if (riders)
		n = snprintf(buf, cap, " riders=%" PRIu32, riders);
	if (deadline && n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, " deadline=%s", deadline);
}

/* --riders: N, or for compare a list such as 1,2,3,all (all: no limit). */
static int cli_riders(struct cli_opts *o, const char *s, char *err, size_t errlen)
{
	o->nriders = 0;
	for (const char *p = s;; p++) {
		size_t n = strcspn(p, ",");
		char *end;
		unsigned long long v = 0;
		if (o->nriders == CLI_RIDERS_MAX)
			return cli_fail(err, errlen, "--riders: at most %d variants", CLI_RIDERS_MAX);
		if (n == 3 && strncmp(p, "all", 3) == 0) {
			v = 0;
		} else {
			errno = 0;
			v = strtoull(p, &end, 10);
			if (*p < '1' || *p > '9' || end != p + n || errno || v > UINT32_MAX)
				return cli_fail(err, errlen, "--riders wants whole numbers from 1 up or 'all', "
				                "such as 2 or 1,2,3,all, not '%s'", s);
		}
		o->riders[o->nriders++] = (uint32_t)v;
		p += n;
		if (!*p)
			return 0;
	}
}

/* --riders and --deadline go with async and offload runs: a usage error
 * here says so before any connection. */
static int cli_limits_check(const struct cli_opts *o, const char *cmd, char *err, size_t errlen)
{
	int runs = o->command == CLI_RUN || o->command == CLI_GEN;
	if ((o->nriders || o->deadline) && !runs && o->command != CLI_COMPARE)
		return cli_fail(err, errlen, "--riders and --deadline go with run, gen and compare only");
	if (o->nriders > 1 && runs)
		return cli_fail(err, errlen, "%s takes one --riders value; compare races several", cmd);
	if (o->nriders && runs && o->mode == MODE_SYNC)
		return cli_fail(err, errlen, "sync delivers one order at a time: --riders is for async "
		                "and offload");
	if (o->nriders && o->cook)
		return cli_fail(err, errlen, "compare --riders and --cook go separately");
	return 0;
}

static int cli_bad_byte(char c)
{
	return (unsigned char)c <= ' ' || c == 0x7f;
}

/* An argument goes into a protocol line as one word: no space, no control
 * character (a newline would smuggle in another command). */
static int cli_word_ok(const char *s, const char *what, char *err, size_t errlen)
{
	char shown[64];
	size_t n, bad = 0;

	if (!*s)
		return cli_fail(err, errlen, "%s is empty", what);
	for (n = 0; s[n]; n++)
		bad += (size_t)cli_bad_byte(s[n]);
	if (!bad)
		return 0;
	/* Shown on one line, with '?' for each offending byte. */
	for (n = 0; s[n] && n + 1 < sizeof shown; n++)
		shown[n] = cli_bad_byte(s[n]) ? '?' : s[n];
	shown[n] = '\0';
	return cli_fail(err, errlen, "%s '%s' has a space or a control character", what, shown);
}

static int cli_mode(const char *s, enum proto_mode *out, char *err, size_t errlen)
{
	if (s && strcmp(s, "sync") == 0)
		*out = MODE_SYNC;
	else if (s && strcmp(s, "async") == 0)
		*out = MODE_ASYNC;
	else if (s && strcmp(s, "offload") == 0)
		*out = MODE_OFFLOAD;
	else
		return cli_fail(err, errlen, "the mode must be sync, async or offload, not '%s'",
		                s ? s : "");
	return 0;
}

/* The first duration among an order's COOK and MEAL (or GEN's LO..HI)
 * that does not parse, with why; 0 if every one does. */
static int cli_duration_reason(const char *arg, char *err, size_t errlen)
{
	const char *p = strchr(arg, ':') ? strchr(arg, ':') + 1 : arg;

	while (*p) {
		size_t n = strcspn(p, ":");
		const char *dots = strstr(p, "..");
		const char *why;
		if (!strchr(arg, ':') && dots)
			n = (size_t)(dots - p);
		why = duration_problem(p, n);
		if (why)
			return cli_fail(err, errlen, "'%s': '%.*s' is %s", arg, (int)n, p, why);
		p += n;
		p += *p == ':' ? 1 : *p == '.' ? 2 : 0;
	}
	return 0;
}

/* The line is parsed here by the server's own grammar (common/), so that
 * a mistake is a usage error before any connection. Limits (the longest
 * meal, the cooking a run may do) are the server's: it checks them. */
static int cli_check_line(const char *line, const char *const *args, int n, char *err,
                          size_t errlen)
{
	static const struct proto_limits open = {
		.max_meal_us = UINT64_MAX, .max_orders = UINT32_MAX,
		.max_cook_us = UINT64_MAX, .max_inline_cook_us = UINT64_MAX,
	};
	struct cmd *c = malloc(sizeof *c);
	struct proto_error pe;
	int rc;

	if (!c)
		return cli_fail(err, errlen, "out of memory");
	rc = proto_parse_command(line, strcspn(line, "\n"), &open, c, &pe);
	free(c);
	if (rc == 0)
		return 0;
	for (int i = 0; strcmp(pe.code, "bad_duration") == 0 && i < n; i++)
		if (cli_duration_reason(args[i], err, errlen) < 0)
			return -1;
	return cli_fail(err, errlen, "%s", pe.text);
}

static int cli_orders(struct cli_opts *o, const char *const *args, int n, char *err, size_t errlen)
{
	char line[PROTO_MAX_LINE + 2];

	if (n == 0)
		return cli_fail(err, errlen, "no orders: give NAME:DURATION, such as A:3s B:250ms, "
		                "or NAME:COOK:DURATION, such as A:200ms:3s");
	for (int i = 0; i < n; i++)
		if (cli_word_ok(args[i], "the order", err, errlen) < 0)
			return -1;
	/* offload is the longest mode word: if it fits, every mode does. */
	if (cli_format_run(line, sizeof line, "RUN", MODE_OFFLOAD, args, n) < 0)
		return cli_fail(err, errlen, "the orders make a line longer than %d bytes; "
		                "use gen for many orders", PROTO_MAX_LINE);
	if (cli_check_line(line, args, n, err, errlen) < 0)
		return -1;
	o->args = args;
	o->nargs = n;
	return 0;
}

/* compare --cook is about cooking: without a NAME:COOK:MEAL order its
 * three rows would only repeat plain compare's lesson. */
static int cli_cook_check(const struct cli_opts *o, char *err, size_t errlen)
{
	for (int i = 0; i < o->nargs; i++) {
		const char *colon = strchr(o->args[i], ':');
		if (colon && strchr(colon + 1, ':'))
			return 0;
	}
	return cli_fail(err, errlen, "compare --cook needs an order with a cook: NAME:COOK:DURATION, "
	                "such as A:200ms:3s");
}

static int cli_session(struct cli_opts *o, const char *s, char *err, size_t errlen)
{
	if (!proto_session_valid(s, strlen(s)))
		return cli_fail(err, errlen, "'%s' is not a session id (32 hex digits)", s);
	o->session = s;
	return 0;
}

/* replay RUN [--speed X]: the line is read by the server's grammar, so
 * that a bad run id or speed is a usage error before any connection. */
static int cli_replay(struct cli_opts *o, const char *const *pos, int n, char *err,
                      size_t errlen)
{
	char line[PROTO_MAX_LINE + 2];
	struct proto_error pe;
	struct cmd *c;
	int rc;

	o->command = CLI_REPLAY;
	if (n != 2)
		return cli_fail(err, errlen, "replay expects RUN [--speed X]");
	if (cli_word_ok(pos[1], "the run", err, errlen) < 0 ||
	    (o->speed && cli_word_ok(o->speed, "--speed", err, errlen) < 0))
		return -1;
	if (snprintf(line, sizeof line, "REPLAY %s speed=%s", pos[1], o->speed ? o->speed : "1") >=
	    (int)sizeof line)
		return cli_fail(err, errlen, "'%.32s...' is not a run id", pos[1]);
	if (!(c = malloc(sizeof *c)))
		return cli_fail(err, errlen, "out of memory");
	rc = proto_parse_command(line, strlen(line), NULL, c, &pe);
	o->run = c->run_id;
	o->speed_milli = c->speed_milli;
	free(c);
	if (rc == 0)
		return 0;
	if (strcmp(pe.code, "bad_speed") == 0)
		return cli_fail(err, errlen, "--speed wants a number from 0.01 to 1000 with at most "
		                "three decimals, such as 2 or 0.5, not '%s'", o->speed);
	return cli_fail(err, errlen, "%s", pe.text);
}

static int cli_gen(struct cli_opts *o, const char *const *pos, int n, char *err, size_t errlen)
{
	char line[PROTO_MAX_LINE + 2];

	o->command = CLI_GEN;
	if (n != 4)
		return cli_fail(err, errlen, "gen expects sync|async|offload COUNT MEAL[..MEAL]");
	if (cli_mode(pos[1], &o->mode, err, errlen) < 0 ||
	    cli_word_ok(pos[2], "the count", err, errlen) < 0 ||
	    cli_word_ok(pos[3], "the meal", err, errlen) < 0)
		return -1;
	if (cli_format_run(line, sizeof line, "GEN", MODE_OFFLOAD, pos + 2, 2) < 0)
		return cli_fail(err, errlen, "gen's arguments make a line longer than %d bytes",
		                PROTO_MAX_LINE);
	if (cli_check_line(line, pos + 3, 1, err, errlen) < 0)
		return -1;
	o->args = pos + 2;
	o->nargs = 2;
	return 0;
}

/* The command word and its arguments, once the options are taken out. */
static int cli_command(struct cli_opts *o, const char *const *pos, int n, int since_given,
                       char *err, size_t errlen)
{
	const char *cmd = pos[0];

	if (since_given && strcmp(cmd, "attach") != 0)
		return cli_fail(err, errlen, "--since goes with attach only");
	if ((o->interval_us || o->once) && strcmp(cmd, "top") != 0)
		return cli_fail(err, errlen, "--interval and --once go with top only");
	if (o->cook && strcmp(cmd, "compare") != 0 && strcmp(cmd, "demo") != 0)
		return cli_fail(err, errlen, "--cook goes with compare and demo only");
	if (o->speed && strcmp(cmd, "replay") != 0)
		return cli_fail(err, errlen, "--speed goes with replay only");
	if (strcmp(cmd, "run") == 0) {
		o->command = CLI_RUN;
		if (cli_mode(n > 1 ? pos[1] : NULL, &o->mode, err, errlen) < 0)
			return -1;
		return cli_orders(o, pos + 2, n > 2 ? n - 2 : 0, err, errlen);
	}
	if (strcmp(cmd, "gen") == 0)
		return cli_gen(o, pos, n, err, errlen);
	if (strcmp(cmd, "compare") == 0) {
		o->command = CLI_COMPARE;
		if (cli_orders(o, pos + 1, n - 1, err, errlen) < 0)
			return -1;
		return o->cook ? cli_cook_check(o, err, errlen) : 0;
	}
	if (strcmp(cmd, "demo") == 0) {
		o->command = CLI_DEMO;
		if (n != 1)
			return cli_fail(err, errlen, "demo takes no arguments");
		return cli_orders(o, o->cook ? cli_cook_orders : cli_demo_orders, 3, err, errlen);
	}
	if (strcmp(cmd, "attach") == 0) {
		o->command = CLI_ATTACH;
		if (n != 2)
			return cli_fail(err, errlen, "attach expects SESSION [--since SEQ]");
		return cli_session(o, pos[1], err, errlen);
	}
	if (strcmp(cmd, "replay") == 0)
		return cli_replay(o, pos, n, err, errlen);
	if (strcmp(cmd, "top") == 0) {
		o->command = CLI_TOP;
		return n == 1 ? 0 : cli_fail(err, errlen, "top takes no arguments");
	}
	if (strcmp(cmd, "runs") == 0) {
		o->command = CLI_RUNS;
		/* Without an id the server would list this new connection's
		 * session, always empty. */
		if (n != 2)
			return cli_fail(err, errlen, "runs needs a SESSION: the id baedal printed as "
			                "'session <id>' when it started the runs");
		return cli_session(o, pos[1], err, errlen);
	}
	return cli_fail(err, errlen, "unknown command '%s'", cmd);
}

static int cli_since(const char *s, uint64_t *out, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno) {
		return cli_fail(err, errlen, "--since wants a sequence number, not '%s'", s);
	}
	return 0;
}

/* top --interval: a duration, not so short that frames would flicker. */
static int cli_interval(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char *why = duration_problem(s, strlen(s));
	if (why || duration_parse(s, strlen(s), out) < 0)
		return cli_fail(err, errlen, "--interval '%s' is %s", s, why ? why : "not a duration");
	if (*out < TOP_MIN_INTERVAL_US || *out > 3600ULL * 1000000ULL)
		return cli_fail(err, errlen, "--interval must be from 100ms to 1h, not '%s'", s);
	return 0;
}

/* The options; 1 when --help or --version ends the parse early. */
static int cli_options(int argc, char **argv, struct cli_opts *o, int *since_given, char *err,
                       size_t errlen)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "plain", no_argument, NULL, OPT_PLAIN },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "cook", no_argument, NULL, OPT_COOK },
		{ "riders", required_argument, NULL, OPT_RIDERS },
		{ "deadline", required_argument, NULL, OPT_DEADLINE },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "speed", required_argument, NULL, OPT_SPEED },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;     /* glibc: start over, so that a test may parse again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER: o->server = optarg; o->server_flag = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_PLAIN: o->plain = 1; break;
		case OPT_NO_COLOR: o->no_color = 1; break;
		case OPT_TOKEN_FILE: o->token_file = optarg; break;
		case OPT_COOK: o->cook = 1; break;
		case OPT_RIDERS:
			if (cli_riders(o, optarg, err, errlen) < 0)
				return -1;
			break;
		case OPT_DEADLINE: {
			uint64_t us;
			const char *why = duration_problem(optarg, strlen(optarg));
			if (why || duration_parse(optarg, strlen(optarg), &us) < 0 ||
			    us > PROTO_DEADLINE_MAX_US || cli_word_ok(optarg, "--deadline", err, errlen) < 0)
				return cli_fail(err, errlen, "--deadline '%s' is %s", optarg,
				                why ? why : "not a duration of at most 24h");
			o->deadline = optarg;
			break;
		}
		case OPT_INTERVAL:
			if (cli_interval(optarg, &o->interval_us, err, errlen) < 0)
				return -1;
			break;
		case OPT_ONCE: o->once = 1; break;
		case OPT_SPEED: o->speed = optarg; break;
		case OPT_SINCE:
			if (cli_since(optarg, &o->since, err, errlen) < 0)
				return -1;
			*since_given = 1;
			break;
		case 'h': o->command = CLI_HELP; return 1;
		case 'V': o->command = CLI_VERSION; return 1;
		case ':':
			return cli_fail(err, errlen, "%s needs a value", argv[optind - 1]);
		default:
			return cli_fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

static int cli_check_token(const char *t, const char *from, char *err, size_t errlen)
{
	size_t n = strlen(t);
	int ok = n > 0 && n <= PROTO_TOKEN_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = t[i] >= 0x21 && t[i] <= 0x7e;
	return ok ? 0 : cli_fail(err, errlen, "the token in %s must be 1 to 256 printable "
	                                      "characters without spaces", from);
}

int cli_load_token(struct cli_opts *o, const char *env_token, char *err, size_t errlen)
{
	if (!o->token_file) {
		if (!env_token || !*env_token)
			return 0;
		if (cli_check_token(env_token, "BAEDAL_TOKEN", err, errlen) < 0)
			return -1;
		snprintf(o->token, sizeof o->token, "%s", env_token);
		return 0;
	}
	char line[PROTO_TOKEN_MAX + 2] = "";
	FILE *f = fopen(o->token_file, "r");
	if (!f)
		return cli_fail(err, errlen, "--token-file %s: %s", o->token_file, strerror(errno));
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (cli_check_token(line, o->token_file, err, errlen) < 0)
		return -1;
	memcpy(o->token, line, strlen(line) + 1);
	return 0;
}

int cli_parse(int argc, char **argv, const char *env_server, struct cli_opts *o, char *err,
              size_t errlen)
{
	int since_given = 0, rc;
	char why[160];

	memset(o, 0, sizeof *o);
	rc = cli_options(argc, argv, o, &since_given, err, errlen);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (o->json && o->plain)
		return cli_fail(err, errlen, "--json and --plain exclude each other");
	if (optind >= argc)
		return cli_fail(err, errlen, "no command given");
	if (cli_command(o, (const char *const *)argv + optind, argc - optind, since_given, err,
	                errlen) < 0 ||
	    cli_limits_check(o, argv[optind], err, errlen) < 0)
		return -1;
	if (o->command == CLI_TOP && !o->interval_us)
		o->interval_us = TOP_DEFAULT_INTERVAL_US;
	if (!o->server)
		o->server = env_server && *env_server ? env_server : CLI_DEFAULT_SERVER;
	if (remote_parse_addr(o->server, &o->addr, why, sizeof why) < 0) {
		return cli_fail(err, errlen, "%s: %s", o->server_flag ? "--server" : "BAEDAL_SERVER", why);
	}
	return 0;
}
